"""load_mnist on the real files, and downloads from a real local HTTP server."""

import gzip
import hashlib
import logging
import shutil
from pathlib import Path

import numpy as np
import pooch
import pytest

from skcnn.datasets import DataFileError, load_mnist
from skcnn.datasets._base import download_from_mirrors

NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_NAMES = NAMES["train"] + NAMES["test"]

# Published per-class counts of the official split.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def gz_path(home: Path, name: str) -> Path:
    return home / "mnist" / f"{name}.gz"


def uncompressed(home: Path, name: str) -> bytes:
    return gzip.decompress(gz_path(home, name).read_bytes())


def files_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.fixture(scope="module")
def train(mnist_home):
    return load_mnist(mnist_home, subset="train", download=False, verbose=False)


@pytest.fixture(scope="module")
def test(mnist_home):
    return load_mnist(mnist_home, subset="test", download=False, verbose=False)


# -- the real files -------------------------------------------------------------


@pytest.mark.mnist
def test_train_shapes_and_dtypes(train, mnist_home):
    assert train.data.shape == (60000, 784)
    assert train.data.dtype == np.uint8
    assert train.images.shape == (60000, 28, 28)
    assert train.images.dtype == np.uint8
    assert train.target.shape == (60000,)
    assert train.target.dtype == np.int64
    np.testing.assert_array_equal(train.target_names, np.arange(10))
    assert len(train.feature_names) == 784
    assert len(set(train.feature_names)) == 784
    assert train.feature_names[0] == "pixel_0_0"
    assert train.feature_names[28] == "pixel_1_0"
    assert train.feature_names[-1] == "pixel_27_27"
    assert "LeCun" in train.DESCR
    assert "1998" in train.DESCR
    assert "60,000" in train.DESCR
    assert train.filenames == [
        str(gz_path(mnist_home, name)) for name in NAMES["train"]
    ]


@pytest.mark.mnist
def test_test_shapes(test):
    assert test.data.shape == (10000, 784)
    assert test.images.shape == (10000, 28, 28)
    assert test.target.shape == (10000,)


@pytest.mark.mnist
def test_label_facts(train, test):
    assert np.bincount(train.target, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(test.target, minlength=10).tolist() == TEST_COUNTS
    assert sum(TRAIN_COUNTS) == 60000
    assert sum(TEST_COUNTS) == 10000
    assert train.target[:5].tolist() == [5, 0, 4, 1, 9]
    assert test.target[:5].tolist() == [7, 2, 1, 0, 4]


@pytest.mark.mnist
def test_pixel_facts(train):
    assert train.data.min() == 0
    assert train.data.max() == 255
    # The usual normalisation constants of MNIST: mean 0.1307, std 0.3081.
    scaled = train.data / 255.0
    assert scaled.mean() == pytest.approx(0.1307, abs=1e-4)
    assert scaled.std() == pytest.approx(0.3081, abs=1e-4)
    # The digits are centred: ink on the border is rare, common in the middle.
    assert (train.images[:, 0, :] > 0).mean() < 1e-3
    assert (train.images[:, :, 0] > 0).mean() < 1e-3
    assert train.images[:, 14, 14].mean() > 100


@pytest.mark.mnist
def test_pixels_match_the_file_bytes(train, mnist_home):
    raw = uncompressed(mnist_home, "train-images-idx3-ubyte")
    assert raw[:4] == b"\x00\x00\x08\x03"
    rng = np.random.default_rng(0)
    for index in rng.integers(0, 60000, size=20):
        row, col = rng.integers(0, 28, size=2)
        offset = 16 + int(index) * 784 + int(row) * 28 + int(col)
        assert train.images[index, row, col] == raw[offset]
        assert train.data[index, row * 28 + col] == raw[offset]
    labels = uncompressed(mnist_home, "train-labels-idx1-ubyte")
    assert train.target[-1] == labels[-1]


@pytest.mark.mnist
def test_images_is_a_view_of_data(mnist_home):
    mnist = load_mnist(mnist_home, subset="test", download=False, verbose=False)
    assert np.shares_memory(mnist.images, mnist.data)
    assert mnist.data.flags.writeable
    mnist.data[3, 28 * 5 + 7] = 201
    assert mnist.images[3, 5, 7] == 201


@pytest.mark.mnist
def test_scale(mnist_home, test):
    scaled = load_mnist(
        mnist_home, subset="test", download=False, scale=True, verbose=False
    )
    assert scaled.data.dtype == np.float32
    assert scaled.images.dtype == np.float32
    assert scaled.data.min() == 0.0
    assert scaled.data.max() == 1.0
    np.testing.assert_allclose(scaled.data, test.data / 255.0, rtol=1e-6)
    assert np.shares_memory(scaled.images, scaled.data)
    np.testing.assert_array_equal(scaled.target, test.target)


@pytest.mark.mnist
def test_all_is_train_then_test(mnist_home, train, test):
    everything = load_mnist(mnist_home, subset="all", download=False, verbose=False)
    assert everything.data.shape == (70000, 784)
    assert everything.images.shape == (70000, 28, 28)
    np.testing.assert_array_equal(everything.data[:60000], train.data)
    np.testing.assert_array_equal(everything.data[60000:], test.data)
    np.testing.assert_array_equal(everything.target[:60000], train.target)
    np.testing.assert_array_equal(everything.target[60000:], test.target)
    assert np.shares_memory(everything.images, everything.data)
    assert everything.filenames == [
        str(gz_path(mnist_home, name)) for name in ALL_NAMES
    ]


@pytest.mark.mnist
def test_return_X_y(mnist_home, test):
    X, y = load_mnist(mnist_home, subset="test", return_X_y=True, verbose=False)
    assert X.shape == (10000, 784)
    np.testing.assert_array_equal(X, test.data)
    np.testing.assert_array_equal(y, test.target)
    X, y = load_mnist(
        mnist_home, subset="test", return_X_y=True, as_images=True, verbose=False
    )
    assert X.shape == (10000, 28, 28)
    np.testing.assert_array_equal(X, test.images)
    np.testing.assert_array_equal(y, test.target)


@pytest.mark.mnist
def test_environment_variable_is_the_default_home(mnist_home, monkeypatch, test):
    monkeypatch.setenv("SKCNN_DATA", str(mnist_home))
    X, _ = load_mnist(subset="test", download=False, return_X_y=True)
    np.testing.assert_array_equal(X, test.data)


@pytest.mark.mnist
def test_raw_files_give_identical_arrays(mnist_home, tmp_path, test):
    folder = tmp_path / "home" / "mnist"
    folder.mkdir(parents=True)
    for name in NAMES["test"]:
        (folder / name).write_bytes(uncompressed(mnist_home, name))
    raw = load_mnist(tmp_path / "home", subset="test", download=False)
    np.testing.assert_array_equal(raw.data, test.data)
    np.testing.assert_array_equal(raw.target, test.target)
    assert raw.filenames == [str(folder / name) for name in NAMES["test"]]


@pytest.mark.mnist
def test_gz_is_preferred_over_raw(mnist_home, tmp_path, test):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in NAMES["test"]:
        shutil.copy(gz_path(mnist_home, name), folder)
        (folder / name).write_bytes(b"not read")
    mnist = load_mnist(tmp_path, subset="test", download=False)
    assert mnist.filenames == [str(folder / f"{name}.gz") for name in NAMES["test"]]
    np.testing.assert_array_equal(mnist.data, test.data)


@pytest.mark.mnist
def test_altered_local_file_is_reported_and_kept(mnist_home, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    labels = bytearray(uncompressed(mnist_home, "t10k-labels-idx1-ubyte"))
    labels[8 + 123] = (labels[8 + 123] + 1) % 10  # one wrong label, valid IDX
    bad = folder / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(bytes(labels)))
    shutil.copy(gz_path(mnist_home, "t10k-images-idx3-ubyte"), folder)
    with pytest.raises(DataFileError) as info:
        load_mnist(tmp_path, subset="test", download=False)
    message = str(info.value)
    assert str(bad) in message
    assert hashlib.sha256(bytes(labels)).hexdigest() in message
    original = uncompressed(mnist_home, "t10k-labels-idx1-ubyte")
    assert hashlib.sha256(original).hexdigest() in message
    assert "delete it" in message
    assert bad.exists()  # a local file is never deleted behind the user's back


def test_truncated_local_gzip_is_reported(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in NAMES["test"]:
        (folder / f"{name}.gz").write_bytes(gzip.compress(b"\x00" * 64)[:-5])
    with pytest.raises(DataFileError, match="not a valid gzip file") as info:
        load_mnist(tmp_path, subset="test", download=False)
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)


# -- missing files and arguments --------------------------------------------------


def test_offline_and_missing(tmp_path):
    home = tmp_path / "empty-home"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(home, download=False)
    message = str(info.value)
    assert str(home / "mnist") in message
    assert "train-images-idx3-ubyte" in message
    assert "train-labels-idx1-ubyte" in message
    assert "t10k" not in message  # only the files of the subset are needed
    assert "https://" in message
    assert "download=True" in message
    assert not home.exists()


def test_offline_lists_only_the_missing_files(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(b"present")
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, subset="test", download=False)
    assert "t10k-labels-idx1-ubyte" in str(info.value)
    assert "t10k-images" not in str(info.value)


@pytest.mark.parametrize("subset", ["training", "TRAIN", "", None, 1])
def test_bad_subset(tmp_path, subset):
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(tmp_path, subset=subset, download=False)


@pytest.mark.parametrize(
    "flag", ["download", "return_X_y", "as_images", "scale", "verbose"]
)
def test_flags_must_be_booleans(tmp_path, flag):
    with pytest.raises(TypeError, match=flag):
        load_mnist(tmp_path, download=False, **{flag: "yes"})


@pytest.mark.parametrize("base_url", ["", "file:///tmp/", "mirror.example/mnist/", 3])
def test_bad_base_url(tmp_path, base_url):
    with pytest.raises(ValueError, match="base_url"):
        load_mnist(tmp_path, base_url=base_url)
    assert list(tmp_path.iterdir()) == []


# -- downloads from a real HTTP server ---------------------------------------------


@pytest.mark.mnist
def test_download(mnist_home, http_folder, tmp_path, train, test):
    served, base_url = http_folder
    for name in ALL_NAMES:
        shutil.copy(gz_path(mnist_home, name), served)
    home = tmp_path / "home"
    level = pooch.get_logger().level
    everything = load_mnist(home, subset="all", base_url=base_url, verbose=False)
    assert pooch.get_logger().level == level
    assert files_in(home / "mnist") == {f"{name}.gz" for name in ALL_NAMES}
    np.testing.assert_array_equal(everything.data[:60000], train.data)
    np.testing.assert_array_equal(everything.data[60000:], test.data)
    np.testing.assert_array_equal(everything.target[:60000], train.target)
    np.testing.assert_array_equal(everything.target[60000:], test.target)
    # Now everything is local: no server needed.
    for path in served.iterdir():
        path.unlink()
    X, _ = load_mnist(home, subset="test", download=False, return_X_y=True)
    np.testing.assert_array_equal(X, test.data)


@pytest.mark.mnist
def test_download_only_what_is_missing(mnist_home, http_folder, tmp_path, test, capfd):
    served, base_url = http_folder
    for name in NAMES["test"]:
        shutil.copy(gz_path(mnist_home, name), served)
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(
        uncompressed(mnist_home, "t10k-images-idx3-ubyte")
    )
    capfd.readouterr()
    mnist = load_mnist(tmp_path, subset="test", base_url=base_url.rstrip("/"))
    err = capfd.readouterr().err
    assert f"Downloading {base_url}t10k-labels-idx1-ubyte.gz" in err
    assert "t10k-images" not in err
    assert "known_hash" not in err  # pooch's advice is silenced
    assert files_in(folder) == {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"}
    np.testing.assert_array_equal(mnist.data, test.data)
    np.testing.assert_array_equal(mnist.target, test.target)


@pytest.mark.mnist
def test_download_of_altered_file(mnist_home, http_folder, tmp_path):
    served, base_url = http_folder
    shutil.copy(gz_path(mnist_home, "t10k-images-idx3-ubyte"), served)
    labels = bytearray(uncompressed(mnist_home, "t10k-labels-idx1-ubyte"))
    labels[8:18] = bytes(10)  # ten labels set to zero: a well-formed IDX file
    (served / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    home = tmp_path / "home"
    with pytest.raises(DataFileError) as info:
        load_mnist(home, subset="test", base_url=base_url, verbose=False)
    message = str(info.value)
    assert f"{base_url}t10k-labels-idx1-ubyte.gz" in message
    assert hashlib.sha256(bytes(labels)).hexdigest() in message
    assert "deleted" in message
    # The bad file is gone, the good one stays, and no temporary file is left.
    assert files_in(home / "mnist") == {"t10k-images-idx3-ubyte.gz"}


def test_download_of_corrupt_gzip(http_folder, tmp_path):
    served, base_url = http_folder
    for name in NAMES["test"]:
        (served / f"{name}.gz").write_bytes(gzip.compress(b"\x00" * 1000)[:-20])
    home = tmp_path / "home"
    with pytest.raises(DataFileError, match="not a valid gzip file") as info:
        load_mnist(home, subset="test", base_url=base_url, verbose=False)
    assert "deleted" in str(info.value)
    assert files_in(home / "mnist") == set()


def test_download_from_a_server_without_the_files(http_folder, tmp_path):
    _, base_url = http_folder
    home = tmp_path / "home"
    level = pooch.get_logger().level
    with pytest.raises(OSError, match="404") as info:
        load_mnist(home, subset="test", base_url=base_url, verbose=False)
    assert f"{base_url}t10k-images-idx3-ubyte.gz" in str(info.value)
    assert not isinstance(info.value, FileNotFoundError)
    assert pooch.get_logger().level == level
    assert not (home / "mnist").exists() or files_in(home / "mnist") == set()


def test_unwritable_destination_is_not_blamed_on_the_mirrors(http_folder, tmp_path):
    served, base_url = http_folder
    (served / "t10k-images-idx3-ubyte.gz").write_bytes(b"anything")
    (tmp_path / "mnist").write_bytes(b"a file where the folder should be")
    with pytest.raises(NotADirectoryError):
        load_mnist(tmp_path, subset="test", base_url=base_url, verbose=False)


def test_mirrors_are_tried_in_order(http_folder, tmp_path):
    served, base_url = http_folder
    (served / "good").mkdir()
    (served / "good" / "file.bin").write_bytes(b"payload")
    mirrors = [f"{base_url}missing/", f"{base_url}good/"]
    path, used = download_from_mirrors(
        "file.bin", mirrors, tmp_path / "dest", verbose=False
    )
    assert used == f"{base_url}good/"
    assert path == (tmp_path / "dest" / "file.bin").resolve()
    assert path.read_bytes() == b"payload"
    assert files_in(tmp_path / "dest") == {"file.bin"}


def test_all_mirrors_failing_lists_what_was_tried(http_folder, tmp_path):
    _, base_url = http_folder
    mirrors = [f"{base_url}one/", f"{base_url}two/"]
    with pytest.raises(OSError) as info:
        download_from_mirrors("file.bin", mirrors, tmp_path / "dest", verbose=False)
    message = str(info.value)
    assert f"{base_url}one/file.bin" in message
    assert f"{base_url}two/file.bin" in message
    assert str(tmp_path / "dest") in message


def test_pooch_logger_level_is_restored_after_a_failure(http_folder, tmp_path):
    _, base_url = http_folder
    logger = pooch.get_logger()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with pytest.raises(OSError):
            download_from_mirrors("x", [base_url], tmp_path, verbose=False)
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(previous)
