"""Saving fitted models: skops (no code runs at load), pickle and joblib."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_digits_images

sio = pytest.importorskip("skops.io")

ESTIMATORS = [
    KNNImageClassifier(n_neighbors=3),
    LinearSoftmaxClassifier(max_iter=5, random_state=0),
    MLPClassifier((20,), max_iter=5, warm_start=True, random_state=0),
    LeNet5Classifier(max_iter=1, pooling="max", random_state=0),
]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:400], y[:400], X[400:600]


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_skops_round_trip_trusting_only_skcnn_types(estimator, digits, tmp_path):
    X, y, X_test = digits
    fitted = _fit(estimator, X, y)
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted and all(name.startswith("skcnn.") for name in untrusted)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path)  # nothing is trusted unless the caller says so
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(
        loaded.predict_proba(X_test), fitted.predict_proba(X_test)
    )
    if isinstance(fitted, MLPClassifier):  # warm_start: training goes on
        _fit(loaded, X, y)
        _fit(fitted, X, y)
        np.testing.assert_array_equal(loaded._packed, fitted._packed)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_joblib_round_trip_with_memory_mapping(estimator, digits, tmp_path):
    X, y, X_test = digits
    fitted = _fit(estimator, X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path, mmap_mode="r")  # read-only arrays come back
    np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
    if hasattr(loaded, "partial_fit"):  # and training can continue from them
        loaded.partial_fit(X, y)
        assert loaded.n_iter_ == fitted.n_iter_ + 1
