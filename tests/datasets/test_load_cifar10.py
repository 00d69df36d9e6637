"""load_cifar10 on small fake files in the real binary format, and its download."""

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from skcnn.datasets import DataFileError, load_cifar10
from skcnn.datasets._cifar import _download_and_extract, _extract_batches

TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
DEFAULT_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CHANNELS = ["red", "green", "blue"]


def make_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random labels (n,) and pixel rows (n, 3072) in the file's channel-first order."""
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return labels, pixels


def batch_bytes(labels: np.ndarray, pixels: np.ndarray) -> bytes:
    return b"".join(
        bytes([label]) + row.tobytes()
        for label, row in zip(labels, pixels, strict=True)
    )


def expected_images(pixels: np.ndarray) -> np.ndarray:
    """(n, 32, 32, 3) from the file rows, by explicit index arithmetic."""
    row, col, channel = np.meshgrid(
        np.arange(32), np.arange(32), np.arange(3), indexing="ij"
    )
    return pixels[:, channel * 1024 + row * 32 + col]


@pytest.fixture
def fake_cifar(tmp_path):
    """A data home with 5 training batches of 20 records and a test batch of 10."""
    rng = np.random.default_rng(2009)
    batches = tmp_path / "home" / "cifar10" / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    content = {}
    for name, n in [(name, 20) for name in TRAIN_FILES] + [(TEST_FILE, 10)]:
        content[name] = make_batch(rng, n)
        (batches / name).write_bytes(batch_bytes(*content[name]))
    return tmp_path / "home", batches, content


def test_train_subset(fake_cifar):
    home, batches, content = fake_cifar
    cifar = load_cifar10(home, download=False)
    assert cifar.images.shape == (100, 32, 32, 3)
    assert cifar.images.dtype == np.uint8
    assert cifar.data.shape == (100, 3072)
    assert cifar.data.dtype == np.uint8
    assert cifar.target.dtype == np.int64
    labels = np.concatenate([content[name][0] for name in TRAIN_FILES])
    pixels = np.concatenate([content[name][1] for name in TRAIN_FILES])
    np.testing.assert_array_equal(cifar.target, labels)
    np.testing.assert_array_equal(cifar.images, expected_images(pixels))
    np.testing.assert_array_equal(cifar.data, cifar.images.reshape(100, -1))
    assert np.shares_memory(cifar.images, cifar.data)
    assert cifar.filenames == [str(batches / name) for name in TRAIN_FILES]
    assert list(cifar.target_names) == DEFAULT_NAMES
    assert "Krizhevsky" in cifar.DESCR


def test_pixels_land_in_row_col_channel(fake_cifar):
    home, _, content = fake_cifar
    cifar = load_cifar10(home, subset="test", download=False)
    _, pixels = content[TEST_FILE]
    rng = np.random.default_rng(5)
    for _ in range(50):
        image = int(rng.integers(10))
        row, col, channel = (int(v) for v in rng.integers(0, [32, 32, 3]))
        value = pixels[image, 1024 * channel + 32 * row + col]
        assert cifar.images[image, row, col, channel] == value
        feature = (row * 32 + col) * 3 + channel
        assert cifar.data[image, feature] == value
        assert cifar.feature_names[feature] == f"pixel_{row}_{col}_{CHANNELS[channel]}"
    assert len(set(cifar.feature_names)) == 3072


def test_a_red_image_is_red(tmp_path):
    batches = tmp_path / "cifar10" / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    record = bytes([4]) + bytes([255] * 1024 + [0] * 1024 + [7] * 1024)
    (batches / TEST_FILE).write_bytes(record)
    cifar = load_cifar10(tmp_path, subset="test", download=False)
    assert cifar.target.tolist() == [4]
    assert (cifar.images[0, :, :, 0] == 255).all()
    assert (cifar.images[0, :, :, 1] == 0).all()
    assert (cifar.images[0, :, :, 2] == 7).all()


def test_all_is_train_then_test(fake_cifar):
    home, batches, content = fake_cifar
    everything = load_cifar10(home, subset="all", download=False)
    train = load_cifar10(home, subset="train", download=False)
    test = load_cifar10(home, subset="test", download=False)
    assert everything.images.shape == (110, 32, 32, 3)
    np.testing.assert_array_equal(everything.data[:100], train.data)
    np.testing.assert_array_equal(everything.data[100:], test.data)
    np.testing.assert_array_equal(everything.target[100:], content[TEST_FILE][0])
    assert everything.filenames == [
        str(batches / name) for name in [*TRAIN_FILES, TEST_FILE]
    ]


def test_return_X_y_and_scale(fake_cifar):
    home, _, content = fake_cifar
    bunch = load_cifar10(home, subset="test", download=False)
    X, y = load_cifar10(home, subset="test", download=False, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, content[TEST_FILE][0])
    X, _ = load_cifar10(
        home, subset="test", download=False, return_X_y=True, as_images=True
    )
    assert X.shape == (10, 32, 32, 3)
    scaled = load_cifar10(home, subset="test", download=False, scale=True)
    assert scaled.data.dtype == np.float32
    assert scaled.images.dtype == np.float32
    assert scaled.data.min() >= 0.0
    assert scaled.data.max() <= 1.0
    np.testing.assert_allclose(scaled.images, bunch.images / 255.0, rtol=1e-6)
    assert np.shares_memory(scaled.images, scaled.data)


def test_class_names_from_meta_file(fake_cifar):
    home, batches, _ = fake_cifar
    names = [f"class-{i}" for i in range(9, -1, -1)]
    (batches / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    cifar = load_cifar10(home, subset="test", download=False)
    assert list(cifar.target_names) == names
    assert cifar.target_names[cifar.target[0]] == names[cifar.target[0]]


def test_meta_file_with_wrong_number_of_names(fake_cifar):
    home, batches, _ = fake_cifar
    meta = batches / "batches.meta.txt"
    meta.write_text("\n".join(DEFAULT_NAMES[:9]) + "\n")
    with pytest.raises(DataFileError, match="lists 9") as info:
        load_cifar10(home, subset="test", download=False)
    assert str(meta) in str(info.value)


@pytest.mark.parametrize("change", ["drop last byte", "extra byte", "empty"])
def test_wrong_size(fake_cifar, change):
    home, batches, _ = fake_cifar
    path = batches / "data_batch_3.bin"
    content = path.read_bytes()
    content = {
        "drop last byte": content[:-1],
        "extra byte": content + b"\x00",
        "empty": b"",
    }[change]
    path.write_bytes(content)
    with pytest.raises(DataFileError, match="truncated or corrupt") as info:
        load_cifar10(home, download=False)
    assert str(path) in str(info.value)
    assert f"{len(content)} bytes" in str(info.value)
    # The test subset does not read that file.
    assert load_cifar10(home, subset="test", download=False).data.shape == (10, 3072)


def test_bad_label(fake_cifar):
    home, batches, _ = fake_cifar
    path = batches / TEST_FILE
    content = bytearray(path.read_bytes())
    content[7 * 3073] = 10
    path.write_bytes(bytes(content))
    with pytest.raises(DataFileError, match="record 7") as info:
        load_cifar10(home, subset="test", download=False)
    assert str(path) in str(info.value)
    assert "label 10" in str(info.value)


def test_offline_and_missing(tmp_path):
    home = tmp_path / "home"
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(home, subset="test", download=False)
    message = str(info.value)
    assert str(home / "cifar10" / "cifar-10-batches-bin") in message
    assert "test_batch.bin" in message
    assert "cifar-10-binary.tar.gz" in message
    assert not home.exists()


def test_offline_lists_only_missing_batches(fake_cifar):
    home, batches, _ = fake_cifar
    (batches / "data_batch_4.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_4\.bin") as info:
        load_cifar10(home, download=False)
    assert "data_batch_1.bin" not in str(info.value)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(tmp_path, subset="validation", download=False)
    with pytest.raises(TypeError, match="scale"):
        load_cifar10(tmp_path, scale=1, download=False)
    with pytest.raises(ValueError, match="base_url"):
        load_cifar10(tmp_path, base_url="www.cs.toronto.edu/~kriz/")


# -- archives --------------------------------------------------------------------


def add_file(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def build_archive(path: Path, content: dict, extra: bool = False) -> Path:
    """A cifar-10-binary.tar.gz holding the fake batches (and hostile members)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, (labels, pixels) in content.items():
            add_file(tar, f"cifar-10-batches-bin/{name}", batch_bytes(labels, pixels))
        meta = "\n".join("abcdefghij").encode()
        add_file(tar, "cifar-10-batches-bin/batches.meta.txt", meta)
        if extra:
            add_file(tar, "../escaped.bin", b"outside")
            add_file(tar, "cifar-10-batches-bin/../../escaped2.bin", b"outside")
            add_file(tar, "/tmp/absolute-escaped.bin", b"outside")
            add_file(tar, "readme.html", b"not a batch")
            add_file(tar, "cifar-10-batches-bin/sub/deep.bin", b"not a batch")
            link = tarfile.TarInfo("cifar-10-batches-bin/link.bin")
            link.type = tarfile.SYMTYPE
            link.linkname = "/etc/passwd"
            tar.addfile(link)
    return path


def test_download_with_checksum_mismatch(fake_cifar, http_folder, tmp_path):
    _, _, content = fake_cifar
    served, base_url = http_folder
    build_archive(served / "cifar-10-binary.tar.gz", content)
    home = tmp_path / "download-home"
    with pytest.raises(DataFileError, match="checksum") as info:
        load_cifar10(home, subset="test", base_url=base_url, verbose=False)
    assert f"{base_url}cifar-10-binary.tar.gz" in str(info.value)
    assert "deleted" in str(info.value)
    # Neither the archive nor pooch's temporary file nor any batch is left.
    folder = home / "cifar10"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_stale_bad_archive_is_removed_too(fake_cifar, http_folder, tmp_path):
    _, _, content = fake_cifar
    served, base_url = http_folder
    build_archive(served / "cifar-10-binary.tar.gz", content)
    folder = tmp_path / "download-home" / "cifar10"
    folder.mkdir(parents=True)
    (folder / "cifar-10-binary.tar.gz").write_bytes(b"left over by a failed run")
    with pytest.raises(DataFileError, match="checksum"):
        load_cifar10(folder.parent, subset="test", base_url=base_url, verbose=False)
    assert list(folder.iterdir()) == []


def test_download_of_missing_archive(http_folder, tmp_path):
    _, base_url = http_folder
    with pytest.raises(OSError, match="404"):
        load_cifar10(tmp_path, subset="test", base_url=base_url, verbose=False)
    folder = tmp_path / "cifar10"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_and_extract_with_the_right_checksum(
    fake_cifar, http_folder, tmp_path
):
    _, _, content = fake_cifar
    served, base_url = http_folder
    archive = build_archive(served / "cifar-10-binary.tar.gz", content, extra=True)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    folder = tmp_path / "sandbox" / "home" / "cifar10"
    _download_and_extract(folder, base_url, f"md5:{md5}", verbose=False)
    batches = folder / "cifar-10-batches-bin"
    assert {path.name for path in folder.iterdir()} == {"cifar-10-batches-bin"}
    assert {path.name for path in batches.iterdir()} == {
        *TRAIN_FILES,
        TEST_FILE,
        "batches.meta.txt",
    }
    # Nothing escaped the destination.
    sandbox = tmp_path / "sandbox"
    assert not list(sandbox.rglob("*escaped*"))
    assert not list(tmp_path.glob("escaped*"))
    assert not Path("/tmp/absolute-escaped.bin").exists()
    cifar = load_cifar10(folder.parent, subset="all", download=False)
    np.testing.assert_array_equal(
        cifar.target, np.concatenate([content[name][0] for name in content])
    )
    np.testing.assert_array_equal(
        cifar.images[:20], expected_images(content[TRAIN_FILES[0]][1])
    )
    assert list(cifar.target_names) == list("abcdefghij")


def test_corrupt_archive(tmp_path, fake_cifar):
    _, _, content = fake_cifar
    archive = build_archive(tmp_path / "cifar-10-binary.tar.gz", content)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    destination = tmp_path / "dest"
    destination.mkdir()
    with pytest.raises(DataFileError, match=r"not a valid tar\.gz") as info:
        _extract_batches(archive, destination)
    assert str(archive) in str(info.value)
    batches = destination / "cifar-10-batches-bin"
    assert list(batches.iterdir()) == []  # nothing half-written
    assert [path.name for path in destination.iterdir()] == ["cifar-10-batches-bin"]
