"""Image geometry: inference, validation, flattening."""

import numpy as np
import pytest

from skcnn import KNNImageClassifier
from skcnn._images import (
    flatten_images,
    infer_image_shape,
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
