"""The shared training engine, through LinearSoftmaxClassifier and MLPClassifier."""

import pickle
import warnings

import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from threadpoolctl import threadpool_limits

from skcnn import LinearSoftmaxClassifier, MLPClassifier
from skcnn._training import TrainingDivergedError
from skcnn.datasets import load_digits_images, load_mnist
from tests.test_layers import numeric_gradient


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:1400], y[:1400], X[1400:], y[1400:]


def quiet(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("hidden", [(), (30,)])
def test_float64_training_follows_sklearn_mlp(digits, solver, hidden):
    """Same architecture, solver and seed as scikit-learn's MLP: same loss curve."""
    X, y, X_test, _ = digits
    X, X_test = X.astype(np.float64), X_test.astype(np.float64)  # both in float64
    params = {"solver": solver, "random_state": 0, "max_iter": 15, "shuffle": False}
    ours = quiet(
        MLPClassifier(
            hidden, dtype="float64", tol=1e-4, learning_rate_init=1e-3, **params
        ),
        X,
        y,
    )
    peer = quiet(SklearnMLP(hidden, activation="tanh", **params), X, y)
    if hidden:  # with a hidden layer scikit-learn draws the same initial weights
        np.testing.assert_allclose(ours.loss_curve_, peer.loss_curve_, rtol=1e-9)
    assert np.mean(ours.predict(X_test) == peer.predict(X_test)) > 0.95


def test_whole_network_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 5))
    y = rng.integers(0, 3, 7)
    weight = rng.random(7) + 0.2
    clf = MLPClassifier((4, 3), dtype="float64", alpha=0.1, max_iter=1, random_state=0)
    quiet(clf, X, y)
    target = np.searchsorted(clf.classes_, y)

    def loss():
        state = clf._training.optimizer
        clf._training.optimizer = _Recorder()
        value = clf._train_step(X, target, weight)
        clf._training.optimizer = state
        return value

    recorder = _Recorder()
    clf._training.optimizer, saved = recorder, clf._training.optimizer
    clf._train_step(X, target, weight)
    clf._training.optimizer = saved
    (grad,) = recorder.grads  # one flat array: every parameter of the net
    np.testing.assert_allclose(
        grad, numeric_gradient(loss, clf._packed), rtol=1e-5, atol=1e-8
    )


class _Recorder:
    """An optimizer that records the gradients instead of stepping."""

    def update_params(self, params, grads):
        self.grads = [g.copy() for g in grads]


def test_same_seed_same_weights_for_any_thread_count(digits):
    X, y, _, _ = digits
    runs = []
    for numba_threads, blas_threads in [(1, 1), (2, 2), (2, 1)]:
        numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            with threadpool_limits(blas_threads, user_api="blas"):
                clf = quiet(MLPClassifier((20,), max_iter=3, random_state=3), X, y)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        runs.append(clf._packed)
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0], other)


def test_predictions_do_not_depend_on_the_batch(digits):
    X, y, X_test, _ = digits
    clf = quiet(MLPClassifier((25,), max_iter=5, random_state=0), X, y)
    proba = clf.predict_proba(X_test)
    one_by_one = np.vstack([clf.predict_proba(X_test[i : i + 1]) for i in range(40)])
    np.testing.assert_allclose(one_by_one, proba[:40], rtol=0, atol=1e-12)
    order = np.random.default_rng(0).permutation(len(X_test))
    np.testing.assert_allclose(
        clf.predict_proba(X_test[order]), proba[order], atol=1e-12
    )
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba, rtol=1e-9)


def test_early_stopping_restores_the_best_weights(digits):
    X, y, X_test, y_test = digits
    clf = quiet(
        MLPClassifier((30,), early_stopping=True, n_iter_no_change=3, random_state=0),
        X, y,
    )  # fmt: skip
    assert clf.best_loss_ is None and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    best = int(np.argmax(clf.validation_scores_))  # the first best epoch
    assert best < clf.n_iter_ - 1 < 199  # stopped early, past its best epoch
    # the same run cut after its best epoch ends with the weights kept
    cut = quiet(clone(clf).set_params(max_iter=best + 1), X, y)
    assert cut.validation_scores_ == clf.validation_scores_[: best + 1]
    np.testing.assert_array_equal(cut._packed, clf._packed)
    assert clf.score(X_test, y_test) > 0.8


def test_warm_start_keeps_the_optimizer_and_equals_one_long_fit(digits):
    X, y, _, _ = digits
    params = {"max_iter": 4, "random_state": 0, "shuffle": False, "tol": 0}
    long = quiet(MLPClassifier((20,), **{**params, "max_iter": 8}), X, y)
    warm = MLPClassifier((20,), warm_start=True, **params)
    quiet(warm, X, y)
    assert (
        warm._training.optimizer.t == 4 * 7
    )  # Adam's step count after 4 epochs of 7 batches
    quiet(warm, X, y)
    np.testing.assert_array_equal(long._packed, warm._packed)
    # n_iter_ counts the epochs of the last fit, as scikit-learn's; the curve
    # and the optimizer's sample count go on
    assert warm.n_iter_ == 4 and len(warm.loss_curve_) == 8 and warm.t_ == 8 * len(X)


def test_partial_fit(digits):
    X, y, X_test, y_test = digits
    clf = MLPClassifier((30,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:50], y[:50])
    clf.partial_fit(X, y, classes=np.arange(10))
    first = clf.score(X_test, y_test)
    for _ in range(29):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == 30
    assert clf.score(X_test, y_test) > max(first, 0.8)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:5], y[:5] + 20)


def test_pickle_drops_optimizer_state_unless_warm_start(digits):
    X, y, X_test, _ = digits
    cold = quiet(MLPClassifier((10,), max_iter=2, random_state=0), X, y)
    warm = quiet(
        MLPClassifier((10,), max_iter=2, warm_start=True, random_state=0), X, y
    )
    cold_copy = pickle.loads(pickle.dumps(cold))
    assert cold_copy._training.optimizer is None
    assert cold._training.optimizer is not None  # pickling leaves the original alone
    assert len(pickle.dumps(cold)) < len(pickle.dumps(warm))
    np.testing.assert_array_equal(
        cold_copy.predict_proba(X_test), cold.predict_proba(X_test)
    )
    assert pickle.loads(pickle.dumps(warm))._training.optimizer is not None
    cold_copy.partial_fit(X, y)  # a fresh optimizer is made when needed


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_pickle_between_partial_fits_keeps_the_optimizer(digits, solver):
    """dask-ml's Incremental pickles the estimator between partial_fit calls."""
    X, y, _, _ = digits
    blocks = [(X[i : i + 350], y[i : i + 350]) for i in range(0, 1400, 350)]
    here = MLPClassifier((10,), solver=solver, random_state=0)
    moved = MLPClassifier((10,), solver=solver, random_state=0)
    for X_block, y_block in blocks:
        here.partial_fit(X_block, y_block, classes=np.arange(10))
        moved = pickle.loads(pickle.dumps(moved))
        moved.partial_fit(X_block, y_block, classes=np.arange(10))
    np.testing.assert_array_equal(moved._packed, here._packed)
    quiet(moved, X, y)  # after fit, pickles drop it again
    assert pickle.loads(pickle.dumps(moved))._training.optimizer is None


def test_sample_weight_equals_repeated_rows_in_float64():
    rng = np.random.RandomState(0)
    X, y, weight = rng.rand(15, 30), rng.randint(0, 3, 15), rng.randint(0, 5, 15)
    for cls in (LinearSoftmaxClassifier, MLPClassifier):
        weighted = quiet(
            cls(dtype="float64", random_state=0), X, y, sample_weight=weight
        )
        repeated = quiet(
            cls(dtype="float64", random_state=0), X.repeat(weight, 0), y.repeat(weight)
        )
        np.testing.assert_allclose(
            weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9
        )


def test_class_weight_shifts_predictions_to_the_heavy_class():
    X, y = make_blobs(centers=3, random_state=0, cluster_std=20)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.5, random_state=0)
    heavy = {0: 1000, 1: 1e-4, 2: 1e-4}
    for params in [{"activation": "relu"}, {"tol": 0, "max_iter": 1000}]:
        clf = quiet(
            MLPClassifier(class_weight=heavy, random_state=0, **params),
            X_train,
            y_train,
        )
        assert np.mean(clf.predict(X_test) == 0) > 0.87
    balanced = quiet(
        LinearSoftmaxClassifier(class_weight="balanced", random_state=0),
        X_train[:60],
        y_train[:60],
    )
    assert balanced.n_iter_ > 0


def test_divergence_is_a_clear_error_and_leaves_the_estimator_unfitted(digits):
    X, y, _, _ = digits
    clf = MLPClassifier(
        (20,), solver="sgd", learning_rate_init=1e30, momentum=0.9, random_state=0
    )
    with pytest.raises(
        TrainingDivergedError, match="learning rate is probably too large"
    ):
        clf.fit(X * 1e3, y)
    assert not hasattr(clf, "params_")
    with pytest.raises(Exception, match="not fitted"):
        clf.predict(X)


def test_divergence_after_good_epochs_keeps_the_last_good_weights(digits):
    X, y, X_test, _ = digits
    clf = quiet(MLPClassifier((20,), max_iter=2, warm_start=True, random_state=0), X, y)
    good = clf.predict_proba(X_test)
    clf._training.optimizer.learning_rate = 1e38  # Adam steps about this far: overflow
    with pytest.warns(ConvergenceWarning, match="weights this fit started from"):
        clf.fit(X * 1e3, y)
    np.testing.assert_array_equal(clf.predict_proba(X_test), good)


def test_keyboard_interrupt_keeps_a_usable_model(digits):
    X, y, X_test, _ = digits
    clf = MLPClassifier((20,), max_iter=50, random_state=0)
    calls = {"n": 0}
    original = clf._run_epoch

    def interrupt_third_epoch(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args)

    clf._run_epoch = interrupt_third_epoch
    with pytest.warns(RuntimeWarning, match="interrupted.*after 2 completed epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2
    assert np.all(np.isfinite(clf.predict_proba(X_test)))


def test_verbose_output(digits, capsys):
    X, y, _, _ = digits
    quiet(
        MLPClassifier(
            (10,), max_iter=3, verbose=1, early_stopping=True, random_state=0
        ),
        X,
        y,
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert (
        lines[0].startswith("Iteration 1, loss = ") and "validation score" in lines[0]
    )
    quiet(MLPClassifier((10,), max_iter=2, random_state=0), X, y)
    assert capsys.readouterr().out == ""
    quiet(MLPClassifier((10,), max_iter=1, verbose=2, random_state=0), X, y)
    captured = capsys.readouterr()
    assert "epoch 1" in captured.err  # the progress bar over batches
    assert captured.out.startswith("Iteration 1")


def test_max_iter_warns_and_adaptive_schedule_lowers_the_rate(digits, capsys):
    X, y, _, _ = digits
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        MLPClassifier((10,), max_iter=2, random_state=0).fit(X, y)
    clf = quiet(
        MLPClassifier((10,), learning_rate="adaptive", n_iter_no_change=1, tol=0.5,
                      max_iter=50, verbose=1, random_state=0),
        X, y,
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Setting learning rate to" in out
    assert clf._training.optimizer.learning_rate < clf.learning_rate_init


def test_linear_model_attributes_and_templates(digits):
    X, y, X_test, _ = digits
    clf = quiet(LinearSoftmaxClassifier(random_state=0), X.reshape(-1, 8, 8), y)
    assert clf.coef_.shape == (10, 64) and clf.intercept_.shape == (10,)
    assert clf.image_shape_ == (8, 8, 1)
    templates = clf.coef_.reshape(10, *clf.image_shape_)
    assert templates.shape == (10, 8, 8, 1)
    scores = clf.decision_function(X_test)
    np.testing.assert_allclose(
        scores, X_test @ clf.coef_.T + clf.intercept_, rtol=1e-4, atol=1e-4
    )
    binary = quiet(
        LinearSoftmaxClassifier(random_state=0), X[y < 2], np.where(y[y < 2], "b", "a")
    )
    decision = binary.decision_function(X_test)
    assert decision.shape == (len(X_test),)
    np.testing.assert_array_equal(
        binary.predict(X_test), np.where(decision > 0, "b", "a")
    )
    assert "Dense(10)" in clf.summary() and "650" in clf.summary()


def test_mlp_on_mnist_subset(mnist_home):
    X, y = load_mnist(mnist_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(mnist_home, subset="test", return_X_y=True, scale=True)
    clf = quiet(MLPClassifier(max_iter=10, random_state=0), X[:10000], y[:10000])
    assert clf.coefs_[0].dtype == np.float32
    assert clf.score(X_test[:2000], y_test[:2000]) > 0.9
