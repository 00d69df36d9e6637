"""load_mnist_sample: the MNIST sample shipped inside the package."""

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from skcnn.datasets import DataFileError, load_mnist, load_mnist_sample
from skcnn.datasets._mnist import SAMPLE_SHA256, _sample_bunch, _sample_folder


def test_shapes_dtypes_and_subsets():
    train = load_mnist_sample()
    assert train.data.shape == (10_000, 784) and train.data.dtype == np.uint8
    assert train.images.shape == (10_000, 28, 28)
    assert np.shares_memory(train.images, train.data)
    assert train.target.dtype == np.int64 and set(train.target) == set(range(10))
    assert train.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert "CC BY-SA 3.0" in train.DESCR
    test = load_mnist_sample(subset="test")
    assert test.data.shape == (2_000, 784)
    both = load_mnist_sample(subset="all")
    np.testing.assert_array_equal(both.data, np.vstack([train.data, test.data]))
    np.testing.assert_array_equal(both.target, np.r_[train.target, test.target])
    # every class is well represented in both parts
    assert np.bincount(train.target).min() > 800
    assert np.bincount(test.target).min() > 150


def test_return_X_y_as_images_and_scale():
    X, y = load_mnist_sample(subset="test", return_X_y=True, as_images=True, scale=True)
    assert X.shape == (2_000, 28, 28) and X.dtype == np.float32
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    raw = load_mnist_sample(subset="test").images
    np.testing.assert_array_equal(X, raw.astype(np.float32) / 255)
    assert y.shape == (2_000,)


def test_files_are_small_and_match_their_hashes():
    folder = _sample_folder()
    sizes = {p.name: p.stat().st_size for p in folder.glob("*.gz")}
    assert len(sizes) == 4 and sum(sizes.values()) <= 2.5e6
    for name, expected in SAMPLE_SHA256.items():
        data = gzip.decompress((folder / f"{name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == expected


@pytest.mark.mnist
def test_sample_is_the_start_of_the_official_split(mnist_home):
    for subset, n in [("train", 10_000), ("test", 2_000)]:
        full = load_mnist(mnist_home, subset=subset, download=False, verbose=False)
        sample = load_mnist_sample(subset=subset)
        np.testing.assert_array_equal(sample.data, full.data[:n])
        np.testing.assert_array_equal(sample.target, full.target[:n])


def test_a_damaged_installation_is_named(tmp_path):
    for name in SAMPLE_SHA256:
        shutil.copy(_sample_folder() / f"{name}.gz", tmp_path)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(labels.read_bytes()))
    data[-1] = (data[-1] + 1) % 10  # one label changed
    labels.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(DataFileError, match=r"not the MNIST sample file.*reinstall"):
        _sample_bunch(tmp_path, "test", False, False, False)
    labels.unlink()
    with pytest.raises(DataFileError, match="missing from this installation"):
        _sample_bunch(tmp_path, "test", False, False, False)
    # the training files are intact
    assert _sample_bunch(tmp_path, "train", True, False, False)[0].shape[0] == 10_000


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subset": "validation"}, "subset"),
        ({"return_X_y": "yes"}, "return_X_y"),
        ({"scale": 1}, "scale"),
        ({"as_images": None}, "as_images"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        load_mnist_sample(**kwargs)
