"""test_time_augmentation: predictions from the mean logits of shifted/mirrored
copies, against copies built by hand; never in training; ONNX alike."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skcnn import ConvNetClassifier, LeNet5Classifier
from skcnn.datasets import load_digits_images


@pytest.fixture(scope="module")
def data():
    X, y = load_digits_images(return_X_y=True, scale=True)
    X = X.reshape(-1, 8, 8)  # image arrays, to mirror and shift by hand
    return X[:800], y[:800], X[800:1000]


@pytest.fixture(scope="module")
def model(data):
    X, y, _ = data
    clf = ConvNetClassifier(conv_filters=(6,), hidden_layer_sizes=(24,),
                            max_iter=4, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def _shifted_by_hand(images, dy, dx):
    out = np.zeros_like(images)
    _, height, width = images.shape
    for r in range(height):
        for q in range(width):
            if 0 <= r - dy < height and 0 <= q - dx < width:
                out[:, r, q] = images[:, r - dy, q - dx]
    return out


@pytest.mark.parametrize(
    "options, copies",
    [
        ({"shift": 1}, [(False, 0, 0), (False, 1, 1), (False, -1, -1)]),
        ({"flip": True}, [(False, 0, 0), (True, 0, 0)]),
        ({"flip": True, "shift": 2}, [(False, 0, 0), (True, 0, 0), (False, 2, 2),
                                      (True, 2, 2), (False, -2, -2), (True, -2, -2)]),
    ],
)  # fmt: skip
def test_logits_are_the_mean_over_copies_built_by_hand(model, data, options, copies):
    _, _, X_new = data
    plain = pickle.loads(pickle.dumps(model))
    model = pickle.loads(pickle.dumps(model)).set_params(test_time_augmentation=options)
    assert model.test_time_views_ == copies
    total = 0
    for mirrored, dy, dx in copies:
        images = X_new[:, :, ::-1] if mirrored else X_new
        total = total + plain.decision_function(_shifted_by_hand(images, dy, dx))
    expected = total / np.float32(len(copies))
    np.testing.assert_allclose(model.decision_function(X_new), expected, rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    assert not np.allclose(model.decision_function(X_new), plain.decision_function(
        X_new), atol=1e-3)  # fmt: skip
    proba = model.predict_proba(X_new)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(model.predict(X_new), model.classes_[
        proba.argmax(axis=1)])  # fmt: skip
    for i in (0, 57):  # a sample's prediction does not depend on its batch
        np.testing.assert_array_equal(model.predict_proba(X_new[i][None]), proba[[i]])


def test_training_never_sees_the_copies(data):
    X, y, _ = data
    settings = {"conv_filters": (4,), "hidden_layer_sizes": (16,), "max_iter": 3,
                "random_state": 0, "early_stopping": True}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = ConvNetClassifier(**settings).fit(X, y)
        tta = ConvNetClassifier(
            **settings, test_time_augmentation={"shift": 1, "flip": True}
        ).fit(X, y)
    assert tta.loss_curve_ == plain.loss_curve_
    assert tta.validation_scores_ == plain.validation_scores_
    np.testing.assert_array_equal(tta._packed, plain._packed)


def test_lenet5_takes_it_too(data):
    X, y, X_new = data
    clf = LeNet5Classifier(max_iter=1, random_state=0,
                           test_time_augmentation={"shift": 1})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:200], y[:200])
    assert len(clf.test_time_views_) == 3
    assert clf.predict(X_new).shape == (len(X_new),)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"mirror": True}, "expected a dict with 'flip'"),
        ({"shift": 8}, "0 to 7"),
        ({"shift": 0.5}, "whole pixels"),
        ({"flip": "yes"}, "True or False"),
    ],
)
def test_bad_options_are_refused_at_fit(data, options, match):
    X, y, _ = data
    clf = ConvNetClassifier(max_iter=1, test_time_augmentation=options)
    with pytest.raises(ValueError, match=match):
        clf.fit(X[:50], y[:50])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export_averages_the_same_copies(model, data, dtype):
    skl2onnx = pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    import skcnn.onnx  # noqa: F401  (registers the converters)

    X, y, X_new = data
    clf = pickle.loads(pickle.dumps(model)).set_params(
        dtype=dtype, test_time_augmentation={"flip": True, "shift": 1}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    onx = skl2onnx.to_onnx(clf, X_new[:1], options={id(clf): {"zipmap": False}})
    session = ort.InferenceSession(onx.SerializeToString())
    label, proba = session.run(None, {session.get_inputs()[0].name: X_new})
    np.testing.assert_array_equal(label, clf.predict(X_new))
    np.testing.assert_allclose(proba, clf.predict_proba(X_new), atol=1e-5)
