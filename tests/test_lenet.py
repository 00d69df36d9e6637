"""LeNet5Classifier on real data: architecture, geometry, features, training."""

import warnings

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skcnn import LeNet5Classifier
from skcnn._lenet import input_field
from skcnn._training import TrainingDivergedError
from skcnn.datasets import load_digits_images, load_mnist
from tests.test_layers import numeric_gradient

PAPER_PARAMETERS = {"C1": 156, "C3": 2_416, "C5": 48_120, "F6": 10_164, "output": 850}


def quiet(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def mnist(mnist_home):
    X, y = load_mnist(mnist_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(mnist_home, subset="test", return_X_y=True, scale=True)
    return X[:6000], y[:6000], X_test[:2000], y_test[:2000]


@pytest.fixture(scope="module")
def fitted(mnist):
    X, y, _, _ = mnist
    return quiet(LeNet5Classifier(max_iter=8, random_state=0), X, y)


def test_learns_mnist_and_matches_the_papers_table(fitted, mnist):
    _, _, X_test, y_test = mnist
    assert fitted.score(X_test, y_test) > 0.95  # 6,000 images, 8 epochs
    counts = [
        layer.n_params(shape)
        for layer, shape in zip(fitted.layers_, _shapes(fitted), strict=True)
        if layer.n_params(shape)
    ]
    assert counts == list(PAPER_PARAMETERS.values())
    table = fitted.summary()
    for name, count in PAPER_PARAMETERS.items():
        assert any(
            line.startswith(name) and line.endswith(f"{count:,}")
            for line in table.splitlines()
        ), (name, table)
    assert "(28, 28, 6)" in table and "(10, 10, 16)" in table
    assert "(1, 1, 120)" in table and table.splitlines()[-1].endswith("61,706")


def _shapes(clf):
    shape, shapes = (clf.n_features_in_,), []
    for layer in clf.layers_:
        shapes.append(shape)
        shape = layer.output_shape(shape)
    return shapes


def test_transform_gives_f6_features_for_a_pipeline(fitted, mnist):
    X, y, X_test, y_test = mnist
    features = fitted.transform(X_test[:100])
    assert features.shape == (100, 84) and features.dtype == np.float32
    assert np.all(np.abs(features) <= 1)  # tanh outputs
    names = fitted.get_feature_names_out()
    assert names[0] == "lenet5classifier0" and len(names) == 84
    pipe = make_pipeline(fitted, LogisticRegression(max_iter=500))
    pipe.fit(X[:3000], y[:3000])  # refits LeNet-5, then the logistic regression
    assert pipe.score(X_test, y_test) > 0.92


def test_output_does_not_depend_on_the_batch(fitted, mnist):
    _, _, X_test, _ = mnist
    proba = fitted.predict_proba(X_test[:150])
    one_by_one = np.vstack([fitted.predict_proba(X_test[i : i + 1]) for i in range(20)])
    np.testing.assert_array_equal(one_by_one, proba[:20])
    order = np.random.default_rng(0).permutation(150)
    np.testing.assert_array_equal(
        fitted.predict_proba(X_test[:150][order]), proba[order]
    )


@pytest.mark.parametrize(
    "image_shape, field, c5",
    [((8, 8, 1), 32, 5), ((28, 28, 1), 32, 5), ((33, 30, 3), 36, 6),
     ((1, 10, 1), 32, 5), ((20, 41, 1), 44, 8)],
)  # fmt: skip
def test_any_image_size_and_channels(image_shape, field, c5):
    assert input_field(*image_shape[:2]) == field
    rng = np.random.default_rng(0)
    X = rng.random((40, int(np.prod(image_shape))), dtype=np.float32)
    y = np.arange(40) % 3
    clf = quiet(LeNet5Classifier(4, 5, 6, 7, max_iter=2, image_shape=image_shape), X, y)
    conv5 = clf.layers_[7]
    assert conv5.size == c5 and clf.params_[7][0].shape == (6, 5, c5, c5)
    assert clf.predict_proba(X).shape == (40, 3)
    assert clf.transform(X).shape == (40, 7)


def test_rgb_images_from_an_image_array():
    rng = np.random.default_rng(1)
    images = rng.random((30, 32, 32, 3), dtype=np.float32)
    y = np.arange(30) % 2
    clf = quiet(LeNet5Classifier(max_iter=1), images, y)
    assert clf.image_shape_ == (32, 32, 3) and clf.n_features_in_ == 32 * 32 * 3
    assert clf.params_[1][0].shape == (6, 3, 5, 5)  # C1 spans the three channels
    assert clf.decision_function(images).shape == (30,)


@pytest.mark.parametrize("activation, pooling", [("relu", "max"), ("tanh", "max")])
def test_hyperparameters_change_the_network(activation, pooling):
    X, y = load_digits_images(return_X_y=True, scale=True)
    clf = LeNet5Classifier(
        8, 12, 32, 20, activation=activation, pooling=pooling, max_iter=6,
        random_state=0,
    )  # fmt: skip
    quiet(clf, X[:1000], y[:1000])
    assert repr(clf.layers_[2]) == f"Activation({activation!r})"
    assert clf.layers_[3].mode == pooling
    assert [p[0].shape for p in clf.params_ if p] == [
        (8, 1, 5, 5), (12, 8, 5, 5), (32, 12, 5, 5), (32, 20), (20, 10),
    ]  # fmt: skip
    assert clf.score(X[1000:], y[1000:]) > 0.7


class _Recorder:
    """An optimizer that records the gradients instead of stepping."""

    def update_params(self, params, grads):
        self.grads = [g.copy() for g in grads]


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_whole_network_gradient_matches_finite_differences(pooling):
    rng = np.random.default_rng(2)
    X, y = rng.random((5, 144)), rng.integers(0, 3, 5)
    clf = LeNet5Classifier(
        2, 3, 4, 5, pooling=pooling, dtype="float64", alpha=0.1, max_iter=1,
        random_state=0,
    )  # fmt: skip
    quiet(clf, X, y)
    target, weight = np.searchsorted(clf.classes_, y), np.ones(5)

    def loss():
        clf._training.optimizer = _Recorder()
        return clf._train_step(X, target, weight)

    clf._training.optimizer = recorder = _Recorder()
    clf._train_step(X, target, weight)
    expected = numeric_gradient(loss, clf._packed)
    np.testing.assert_allclose(recorder.grads[0], expected, rtol=1e-5, atol=1e-8)


def test_same_seed_same_weights_for_any_thread_count():
    X, y = load_digits_images(return_X_y=True, scale=True)
    runs = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        clf = LeNet5Classifier(max_iter=2, random_state=4, n_jobs=threads)
        runs.append(quiet(clf, X[:500], y[:500])._packed)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_engine_features_work_for_lenet():
    X, y = load_digits_images(return_X_y=True, scale=True)
    clf = LeNet5Classifier(max_iter=30, early_stopping=True, n_iter_no_change=2,
                           random_state=0)  # fmt: skip
    quiet(clf, X, y)
    assert clf.n_iter_ < 30 and len(clf.validation_scores_) == clf.n_iter_
    part = LeNet5Classifier(random_state=0)
    part.partial_fit(X[:300], y[:300], classes=np.unique(y))
    part.partial_fit(X[300:600], y[300:600])
    assert part.n_iter_ == 2 and part.t_ == 600


def test_invalid_hyperparameters_are_rejected():
    X, y = load_digits_images(return_X_y=True, scale=True)
    for params in ({"c1_channels": 0}, {"pooling": "min"}, {"activation": "elu"},
                   {"batch_size": 0}, {"learning_rate_init": -1.0}):  # fmt: skip
        with pytest.raises(InvalidParameterError):
            LeNet5Classifier(**params).fit(X[:20], y[:20])


def test_warm_start_verbose_and_divergence_guard(capsys):
    X, y = load_digits_images(return_X_y=True, scale=True)
    X, y = X[:320], y[:320]
    params = {"random_state": 0, "shuffle": False, "tol": 0, "c5_channels": 20}
    long = quiet(LeNet5Classifier(max_iter=4, **params), X, y)
    warm = LeNet5Classifier(max_iter=2, warm_start=True, verbose=1, **params)
    quiet(warm, X, y)
    quiet(warm, X, y)
    np.testing.assert_array_equal(long._packed, warm._packed)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].startswith("Iteration 1, loss = ")
    # relu units overflow (tanh units saturate, and the loss only grows)
    diverging = LeNet5Classifier(
        activation="relu", learning_rate_init=1e3, solver="sgd", random_state=0
    )
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="lear"):
        diverging.fit(X, y)
    assert not hasattr(diverging, "params_")
