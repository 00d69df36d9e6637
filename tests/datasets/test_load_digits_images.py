"""load_digits_images: scikit-learn's 8x8 digits laid out as images."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skcnn.datasets import load_digits_images


def test_shapes_and_dtypes():
    digits = load_digits_images()
    assert digits.data.shape == (1797, 64)
    assert digits.data.dtype == np.float64
    assert digits.data.flags.c_contiguous
    assert digits.images.shape == (1797, 8, 8)
    assert digits.target.shape == (1797,)
    assert digits.target.dtype == np.int64
    np.testing.assert_array_equal(digits.target_names, np.arange(10))
    assert digits.feature_names[9] == "pixel_1_1"
    assert len(digits.feature_names) == 64
    assert "digits" in digits.DESCR.lower()
    assert digits.data.min() == 0
    assert digits.data.max() == 16
    assert np.array_equal(digits.data, np.round(digits.data))
    assert np.bincount(digits.target).sum() == 1797


def test_same_as_scikit_learn():
    digits = load_digits_images()
    reference = load_digits()
    np.testing.assert_array_equal(digits.data, reference.data)
    np.testing.assert_array_equal(digits.images, reference.images)
    np.testing.assert_array_equal(digits.target, reference.target)


def test_images_is_a_view_of_data():
    digits = load_digits_images()
    assert np.shares_memory(digits.images, digits.data)
    rng = np.random.default_rng(3)
    index, row, col = rng.integers(1797), rng.integers(8), rng.integers(8)
    digits.data[index, row * 8 + col] = -5.0
    assert digits.images[index, row, col] == -5.0


def test_scale():
    digits = load_digits_images()
    scaled = load_digits_images(scale=True)
    assert scaled.data.dtype == np.float32
    assert scaled.images.dtype == np.float32
    assert scaled.data.min() == 0.0
    assert scaled.data.max() == 1.0
    np.testing.assert_allclose(scaled.data, digits.data / 16.0, rtol=1e-7)
    np.testing.assert_array_equal(scaled.target, digits.target)


def test_return_X_y():
    digits = load_digits_images()
    X, y = load_digits_images(return_X_y=True)
    assert X.shape == (1797, 64)
    np.testing.assert_array_equal(X, digits.data)
    np.testing.assert_array_equal(y, digits.target)
    X, y = load_digits_images(return_X_y=True, as_images=True, scale=True)
    assert X.shape == (1797, 8, 8)
    assert X.dtype == np.float32


def test_flags_must_be_booleans():
    with pytest.raises(TypeError, match="as_images"):
        load_digits_images(as_images="no")
