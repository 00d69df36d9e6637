"""Image geometry: inference, validation, flattening."""

import warnings

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
from skcnn._images import (
    flatten_images,
    infer_image_shape,
    looks_channels_first,
    normalize_image_shape,
    resolve_image_shape,
    to_images,
)


@pytest.mark.parametrize(
    ("n_features", "expected"),
    [
        (784, (28, 28, 1)),
        (64, (8, 8, 1)),
        (1, (1, 1, 1)),
        (3072, (32, 32, 3)),
        (12, (2, 2, 3)),
        (3, (1, 1, 3)),
        (10, (1, 10, 1)),
        (7, (1, 7, 1)),
    ],
)
def test_infer_image_shape(n_features, expected):
    assert infer_image_shape(n_features) == expected


def test_normalize_image_shape():
    assert normalize_image_shape((28, 28)) == (28, 28, 1)
    assert normalize_image_shape([32, 32, np.int64(3)]) == (32, 32, 3)
    assert normalize_image_shape(None) is None
    for bad in [(0, 28), (28,), (2, 2, 2, 2), (2.5, 2), (True, 4)]:
        with pytest.raises(ValueError, match="positive integers"):
            normalize_image_shape(bad)


def test_resolve_image_shape_states_the_rule():
    assert resolve_image_shape(784, (14, 56)) == (14, 56, 1)
    with pytest.raises(ValueError, match=r"28 \* 28 \* 3 = 2352 values.*784"):
        resolve_image_shape(784, (28, 28, 3))


def test_flatten_images_round_trip():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 4, 6, 3), dtype=np.uint8)
    flat, shape = flatten_images(images)
    assert flat.shape == (5, 72) and shape == (4, 6, 3)
    np.testing.assert_array_equal(to_images(flat, shape), images)
    gray, shape = flatten_images(images[..., 0].tolist())
    assert gray.shape == (5, 24) and shape == (4, 6, 1)


def test_flatten_images_leaves_2d_input_alone():
    X = [[1, 2], [3, 4]]
    out, shape = flatten_images(X, (1, 2))
    assert out is X and shape == (1, 2, 1)


def test_flatten_images_rejects_conflicts_and_5d():
    with pytest.raises(ValueError, match=r"\(4, 4, 1\).*\(2, 8, 1\)"):
        flatten_images(np.zeros((2, 4, 4)), (2, 8))
    with pytest.raises(ValueError, match="5 dimensions"):
        flatten_images(np.zeros((1, 2, 2, 2, 2)))


def test_estimator_learns_geometry_and_checks_it_at_predict():
    rng = np.random.default_rng(1)
    images = rng.random((20, 6, 6))
    y = np.arange(20) % 2
    clf = KNNImageClassifier(n_neighbors=1).fit(images, y)
    assert clf.image_shape_ == (6, 6, 1) and clf.n_features_in_ == 36
    np.testing.assert_array_equal(
        clf.predict(images), clf.predict(images.reshape(20, -1))
    )
    with pytest.raises(ValueError, match="expected image shape"):
        clf.predict(rng.random((3, 4, 9)))
    with pytest.raises(ValueError, match="36 features"):
        clf.predict(rng.random((3, 35)))
    clf = KNNImageClassifier(n_neighbors=1, image_shape=(4, 9)).fit(
        images.reshape(20, -1), y
    )
    assert clf.image_shape_ == (4, 9, 1)
    with pytest.raises(ValueError, match="the two must be equal"):
        KNNImageClassifier(image_shape=(5, 5)).fit(images.reshape(20, -1), y)


@pytest.mark.parametrize(
    ("shape", "channels_first"),
    [
        ((2, 3, 32, 32), True),  # PyTorch's RGB batch
        ((2, 1, 28, 28), True),  # PyTorch's gray MNIST
        ((2, 4, 8, 9), True),  # RGBA
        ((2, 32, 32, 3), False),
        ((2, 28, 28, 1), False),
        ((2, 4, 4, 16), False),  # 4x4 maps of 16 channels: too small to tell
        ((2, 3, 32, 3), False),
        ((2, 28, 28), False),
    ],
)
def test_looks_channels_first(shape, channels_first):
    assert looks_channels_first(shape) is channels_first


@pytest.mark.parametrize(
    "estimator",
    [
        KNNImageClassifier(1),
        LinearSoftmaxClassifier(max_iter=1),
        MLPClassifier((4,), max_iter=1),
        LeNet5Classifier(max_iter=1),
        ConvNetClassifier(conv_filters=(2,), hidden_layer_sizes=(4,), max_iter=1),
    ],
    ids=lambda est: type(est).__name__,
)
def test_channels_first_images_are_refused_with_the_transpose(estimator):
    rng = np.random.default_rng(0)
    nchw = rng.random((6, 3, 10, 10), dtype=np.float32)
    y = np.arange(6) % 2
    with pytest.raises(ValueError, match=r"channels-first.*X\.transpose\(0, 2, 3, 1\)"):
        clone(estimator).fit(nchw, y)
    nhwc = nchw.transpose(0, 2, 3, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = clone(estimator).fit(nhwc, y)
        assert fitted.image_shape_ == (10, 10, 3)
        # at predict too: the fitted geometry, and the hint
        with pytest.raises(ValueError, match=r"\(10, 10, 3\).*X\.transpose"):
            fitted.predict(nchw)
        # a user who means 3x10 images of 10 channels says so
        declared = clone(estimator).set_params(image_shape=(3, 10, 10)).fit(nchw, y)
    assert declared.image_shape_ == (3, 10, 10)
    assert declared.predict(nchw).shape == (6,)
