"""Bad input, faults and concurrency, for all four estimators.

Each bad input must give a clear error (saying what was wrong and what is
expected) or documented handling — never a numba traceback, never NaN.
"""
# ruff: noqa: E501  (the table of inputs reads best one case per line)

import threading
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_digits_images

FACTORIES = {
    "knn": lambda: KNNImageClassifier(n_neighbors=3),
    "linear": lambda: LinearSoftmaxClassifier(max_iter=3, random_state=0),
    "mlp": lambda: MLPClassifier((16,), max_iter=3, random_state=0),
    "lenet": lambda: LeNet5Classifier(4, 8, 16, 12, max_iter=1, random_state=0),
    "convnet": lambda: ConvNetClassifier(
        (4, 8), kernel_size=3, dropout=0.2, max_iter=1, random_state=0
    ),
}

X_DIGITS, Y_DIGITS = load_digits_images(return_X_y=True, scale=True)
X, Y = X_DIGITS[:200], Y_DIGITS[:200]


def _with(values, index, value):
    out = values.astype(np.float64, copy=True)
    out[index] = value
    return out


def _float32(estimator):
    """The estimator computing in float32 (MLP and linear follow X by default)."""
    if "dtype" in estimator.get_params():
        estimator.set_params(dtype="float32")
    return estimator


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _fit_predict(estimator, X_fit, y_fit, X_predict):
    """Fit, check the probabilities on X_predict are finite, return predictions."""
    _fit(estimator, X_fit, y_fit)
    assert np.all(np.isfinite(estimator.predict_proba(X_predict)))
    return estimator.predict(X_predict)


# (what, call(estimator), error or None, the message must match)
BAD_INPUT = [
    ("NaN in X at fit", lambda e: _fit(e, _with(X, (3, 5), np.nan), Y),
     ValueError, "Input X contains NaN"),
    ("inf in X at fit", lambda e: _fit(e, _with(X, (3, 5), np.inf), Y),
     ValueError, "Input X contains infinity"),
    ("NaN in X at predict", lambda e: _fit_predict(e, X, Y, _with(X[:5], (0, 0), np.nan)),
     ValueError, "Input X contains NaN"),
    ("value beyond float32", lambda e: _fit(_float32(e), _with(X, (0, 0), 1e300), Y),
     ValueError, "computes in float32, which holds at most 3.4e"),
    ("wrong number of features", lambda e: _fit_predict(e, X, Y, X[:5, :50]),
     ValueError, "X has 50 features, but .* is expecting 64 features"),
    ("images of another shape", lambda e: _fit_predict(e, X, Y, np.zeros((2, 7, 7))),
     ValueError, r"images of shape .* = \(7, 7, 1\), but the expected image shape is \(8, 8, 1\)"),
    ("1-D X", lambda e: _fit(e, X[0], Y[:1]), ValueError, "Expected 2D array, got 1D"),
    ("5-D X", lambda e: _fit(e, np.zeros((2, 3, 3, 1, 1)), [0, 1]),
     ValueError, "got an array with 5 dimensions"),
    ("empty X", lambda e: _fit(e, X[:0], Y[:0]), ValueError, "0 sample\\(s\\)"),
    ("one sample", lambda e: _fit_predict(e, X[:1], Y[:1], X[:3]), None, None),
    ("one class", lambda e: _fit_predict(e, X[:20], np.zeros(20, int), X[:3]), None, None),
    ("string labels", lambda e: _fit_predict(e, X, np.array(list("abcdefghij"))[Y], X[:3]),
     None, None),
    ("bool labels", lambda e: _fit_predict(e, X, Y > 4, X[:3]), None, None),
    ("continuous labels", lambda e: _fit(e, X, Y + 0.5), ValueError, "Unknown label type"),
    ("mixed str/int labels", lambda e: _fit(e, X, np.array([1, "a"] * 100, dtype=object)),
     ValueError, "Unknown label type"),
    ("NaN in y", lambda e: _fit(e, X, np.where(np.arange(200) == 3, np.nan, Y)),
     ValueError, "Input y contains NaN"),
    ("y of another length", lambda e: _fit(e, X, Y[:150]), ValueError, "inconsistent numbers"),
    ("sparse X", lambda e: _fit_predict(e, sp.csr_matrix(X), Y, sp.csc_matrix(X[:3])),
     None, None),
    ("float16 X", lambda e: _fit_predict(e, X.astype(np.float16), Y, X[:3].astype(np.float16)),
     None, None),
    ("int X", lambda e: _fit_predict(e, (X * 16).astype(int), Y, (X[:3] * 16).astype(int)),
     None, None),
    ("uint8 X", lambda e: _fit_predict(e, (X * 16).astype(np.uint8), Y,
                                       (X[:3] * 16).astype(np.uint8)), None, None),
    ("bool X", lambda e: _fit_predict(e, X > 0.5, Y, X[:3] > 0.5), None, None),
    ("object X of numbers", lambda e: _fit_predict(e, X.astype(object), Y, X[:3].astype(object)),
     None, None),
    ("object X of strings", lambda e: _fit(e, np.full(X.shape, "a", dtype=object), Y),
     ValueError, "could not convert string to float"),
    ("Fortran-ordered X", lambda e: _fit_predict(e, np.asfortranarray(X), Y,
                                                 np.asfortranarray(X[:3])), None, None),
    ("non-contiguous X", lambda e: _fit_predict(e, np.hstack([X, X])[:, ::2], Y,
                                                np.hstack([X, X])[:3, ::2]), None, None),
    ("DataFrame", lambda e: _fit_predict(e, pd.DataFrame(X).add_prefix("p"), Y,
                                         pd.DataFrame(X[:3]).add_prefix("p")), None, None),
    ("DataFrame, other column names", lambda e: _fit_predict(
        e, pd.DataFrame(X).add_prefix("p"), Y, pd.DataFrame(X[:3]).add_prefix("q")),
     ValueError, "feature names should match"),
    ("image_shape contradicts X", lambda e: _fit(e.set_params(image_shape=(7, 7)), X, Y),
     ValueError, r"7 \* 7 \* 1 = 49 values, but X has 64 features"),
    ("image_shape contradicts the image array",
     lambda e: _fit(e.set_params(image_shape=(4, 16)), X.reshape(-1, 8, 8), Y),
     ValueError, r"= \(8, 8, 1\), but the expected image shape is \(4, 16, 1\)"),
]  # fmt: skip


OVERRIDES = {  # (case, estimator): what happens instead
    ("one sample", "knn"): (ValueError, "Expected n_neighbors <= n_samples_fit"),
    # dense layers multiply sparse rows; k-NN and convolutions need dense images
    **{("sparse X", name): (TypeError, "dense data is required")
       for name in ("knn", "lenet", "convnet")},
}  # fmt: skip


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(
    "what, call, error, match", BAD_INPUT, ids=[case[0] for case in BAD_INPUT]
)
def test_bad_input(name, what, call, error, match):
    estimator = FACTORIES[name]()
    error, match = OVERRIDES.get((what, name), (error, match))
    if error is None:
        predicted = call(estimator)  # probabilities checked finite on the way
        assert len(predicted) == 3 and set(predicted) <= set(estimator.classes_)
    else:
        with pytest.raises(error, match=match):
            call(estimator)


ABSURD = {
    "knn": [{"n_neighbors": 0}, {"metric": "cosine"}, {"batch_size": 0},
            {"n_jobs": 0}, {"weights": "heavy"}],
    "linear": [{"learning_rate_init": -0.1}, {"batch_size": 0}, {"max_iter": 0},
               {"alpha": -1.0}, {"solver": "newton"}, {"dtype": "float16"},
               {"max_fun": 0}, {"n_iter_no_change": 0}],
    "mlp": [{"hidden_layer_sizes": (0,)}, {"activation": "elu"},
            {"momentum": 1.5}, {"validation_fraction": 1.0}],
    "lenet": [{"c1_channels": 0}, {"f6_units": -3}, {"pooling": "min"},
              {"learning_rate_init": 0.0}, {"batch_size": 0}, {"augment": "yes"}],
    "convnet": [{"conv_filters": (0,)}, {"kernel_size": 0}, {"dropout": 1.0},
                {"padding": "full"}, {"pool_size": 0}, {"layers": "conv"},
                {"hidden_layer_sizes": (-2,)}, {"augment": {"zoom": 2}}],
}  # fmt: skip


@pytest.mark.parametrize(
    "name, params",
    [(name, params) for name, cases in ABSURD.items() for params in cases],
    ids=lambda value: str(value),
)
def test_absurd_hyperparameters_are_rejected(name, params):
    estimator = FACTORIES[name]().set_params(**params)
    with pytest.raises((InvalidParameterError, ValueError), match=next(iter(params))):
        estimator.fit(X, Y)


@pytest.mark.parametrize("name", ["linear", "mlp", "lenet", "convnet"])
def test_keyboard_interrupt_in_an_epoch_keeps_the_last_complete_one(name):
    estimator = FACTORIES[name]().set_params(max_iter=5, batch_size=50)
    steps = {"n": 0}
    original = estimator._train_step

    def interrupt_in_the_third_epoch(*args):
        steps["n"] += 1
        if steps["n"] == 10:  # 4 minibatches per epoch: the 2nd of epoch 3
            raise KeyboardInterrupt
        return original(*args)

    estimator._train_step = interrupt_in_the_third_epoch
    with pytest.warns(RuntimeWarning, match="after 2 completed epochs"):
        estimator.fit(X, Y)
    assert estimator.n_iter_ == 2 and len(estimator.loss_curve_) == 2
    assert np.all(np.isfinite(estimator.predict_proba(X_DIGITS[200:260])))


@pytest.mark.parametrize("name", ["linear", "mlp", "lenet", "convnet"])
def test_a_learning_rate_that_blows_up_never_gives_nan_predictions(name):
    estimator = FACTORIES[name]().set_params(
        solver="sgd", learning_rate_init=1e8, max_iter=3
    )
    if name != "linear":
        estimator.set_params(activation="relu")  # tanh saturates instead
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            estimator.fit(X * 100, Y)
        except ValueError as exc:
            assert "learning rate is probably too large" in str(exc)
            assert not hasattr(estimator, "params_")  # unfitted
            return
    assert np.all(np.isfinite(estimator.predict_proba(X)))


@pytest.mark.parametrize("name", list(FACTORIES))
def test_a_failing_candidate_does_not_kill_the_search(name):
    estimator = FACTORIES[name]()
    key, bad = next(iter(ABSURD[name][0].items()))
    good = estimator.get_params()[key]
    search = GridSearchCV(estimator, {key: [bad, good]}, cv=2, error_score=np.nan)
    with pytest.warns(FitFailedWarning):
        search.fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[0]) and np.isfinite(scores[1])
    assert search.best_params_ == {key: good}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_predict_from_eight_threads_matches_serial(name):
    estimator = _fit(FACTORIES[name](), X, Y)
    queries = X_DIGITS[200:400]
    expected = estimator.predict_proba(queries)
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(slot):
        barrier.wait()
        results[slot] = estimator.predict_proba(queries)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        np.testing.assert_array_equal(result, expected)


def _fit_in_worker(name, X_shared, y_shared):
    assert not X_shared.flags.writeable  # joblib handed us a read-only memmap
    estimator = _fit(FACTORIES[name](), X_shared, y_shared)
    return estimator.predict_proba(X_shared[:20])


def test_fit_in_joblib_workers_on_read_only_memmapped_data():
    big_X = np.repeat(X, 3, axis=0)  # > max_nbytes: memmapped for the workers
    big_y = np.repeat(Y, 3)
    results = joblib.Parallel(n_jobs=2, max_nbytes="1K")(
        joblib.delayed(_fit_in_worker)(name, big_X, big_y) for name in FACTORIES
    )
    for name, proba in zip(FACTORIES, results, strict=True):
        local = _fit(FACTORIES[name](), big_X, big_y).predict_proba(big_X[:20])
        np.testing.assert_allclose(proba, local, rtol=1e-6, atol=1e-7)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    name=st.sampled_from(list(FACTORIES)),
    n_samples=st.integers(1, 12),
    n_features=st.integers(1, 40),
    n_classes=st.integers(1, 4),
    dtype=st.sampled_from(["float64", "float32", "uint8", "int64", "bool"]),
    corrupt=st.sampled_from([None, "nan", "inf", "few features"]),
    seed=st.integers(0, 2**16),
)
def test_random_inputs_give_predictions_or_a_clear_error(
    name, n_samples, n_features, n_classes, dtype, corrupt, seed
):
    rng = np.random.default_rng(seed)
    X_fit = (rng.random((n_samples, n_features)) * 4).astype(dtype)
    y_fit = rng.integers(0, n_classes, n_samples)
    X_new = (rng.random((5, n_features)) * 4).astype(dtype)
    if corrupt in {"nan", "inf"}:
        X_new = X_new.astype(np.float64)
        X_new[0, 0] = np.nan if corrupt == "nan" else np.inf
    elif corrupt == "few features":
        X_new = X_new[:, : n_features - 1] if n_features > 1 else X_new[:, :0]
    estimator = _fit(FACTORIES[name](), X_fit, y_fit)
    if name == "knn" and n_samples < estimator.n_neighbors:
        with pytest.raises(
            ValueError, match=r"n_neighbors <= n_samples_fit|NaN|inf|feature"
        ):
            estimator.predict(X_new)
        return
    if corrupt is None:
        proba = estimator.predict_proba(X_new)
        assert proba.shape == (5, len(np.unique(y_fit))) and np.all(np.isfinite(proba))
        assert set(estimator.predict(X_new)) <= set(y_fit)
    else:
        with pytest.raises(ValueError, match=r"NaN|infinity|feature"):
            estimator.predict(X_new)
