"""Saving fitted models: skops (no code runs at load), pickle and joblib."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_digits_images
from skcnn.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPool2D

sio = pytest.importorskip("skops.io")

ESTIMATORS = [
    KNNImageClassifier(n_neighbors=3),
    LinearSoftmaxClassifier(max_iter=5, random_state=0),
    MLPClassifier((20,), max_iter=5, warm_start=True, random_state=0),
    LeNet5Classifier(max_iter=1, pooling="max", random_state=0),
    ConvNetClassifier(
        layers=[
            Conv2D(4, 3, padding="same"),
            Activation("relu"),
            MaxPool2D(2),
            Flatten(),
            Dense(16),
            Activation("relu"),
            Dropout(0.2),
        ],
        augment=True,
        max_iter=1,
        warm_start=True,
        random_state=0,
    ),
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
    if getattr(fitted, "warm_start", False):  # training goes on identically
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


def test_skcnn_io_round_trip_and_clear_errors_for_bad_files(digits, tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from skcnn.io import ModelFileError, load, save

    X, y, X_test = digits
    pipe = _fit(make_pipeline(MinMaxScaler(), LeNet5Classifier(max_iter=1)), X, y)
    path = save(pipe, tmp_path / "pipe.skops")
    np.testing.assert_array_equal(load(path).predict_proba(X_test),
                                  pipe.predict_proba(X_test))  # fmt: skip
    convnet = _fit(clone(ESTIMATORS[-1]), X, y)  # a declared stack of layers
    loaded = load(save(convnet, tmp_path / "convnet.skops"))
    assert loaded.layers == convnet.layers
    np.testing.assert_array_equal(loaded.predict(X_test), convnet.predict(X_test))

    truncated = tmp_path / "truncated.skops"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    garbage = tmp_path / "garbage.skops"
    garbage.write_bytes(b"not a model" * 100)
    for bad in (truncated, garbage, tmp_path / "missing.skops"):
        with pytest.raises(ModelFileError, match=str(bad.name)):
            load(bad)

    foreign = tmp_path / "foreign.skops"
    sio.dump({"model": pipe, "extra": _Foreign()}, foreign)
    with pytest.raises(ModelFileError, match=r"foreign.skops.*_Foreign"):
        load(foreign)


class _Foreign:
    """A type no loader should trust unasked."""


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_pickles_of_the_previous_layout_still_predict(name, digits):
    """Before scikit-learn's weight attributes, the MLP and the linear model
    kept their weights as ``params_`` and had no output attributes; such a
    state, as pickle hands it over, loads and predicts as before."""
    X, y, _ = digits
    estimator = {"linear": ESTIMATORS[1], "mlp": ESTIMATORS[2]}[name]
    fitted = _fit(clone(estimator), X, y)
    state = fitted.__getstate__()
    state["params_"] = [[p.copy() for p in params] for params in fitted.params_]
    for key in ("coefs_", "intercepts_", "coef_", "intercept_", "n_layers_",
                "out_activation_", "n_outputs_"):  # fmt: skip
        state.pop(key, None)
    old = type(fitted).__new__(type(fitted))
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_proba(X), fitted.predict_proba(X))
    assert old.out_activation_ == "softmax" and old.n_outputs_ == 10
