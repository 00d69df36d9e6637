"""read_idx on small IDX files written here, byte by byte, with struct."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from skcnn.datasets import DataFileError
from skcnn.datasets._idx import read_idx

# IDX type code -> (struct format letter of one big-endian value, numpy dtype).
IDX_TYPES = {
    0x08: ("B", np.uint8),
    0x09: ("b", np.int8),
    0x0B: ("h", np.int16),
    0x0C: ("i", np.int32),
    0x0D: ("f", np.float32),
    0x0E: ("d", np.float64),
}


def idx_bytes(values: np.ndarray, type_code: int) -> bytes:
    """Encode ``values`` as an IDX file, one struct.pack call per value."""
    letter, _ = IDX_TYPES[type_code]
    header = struct.pack(">BBBB", 0, 0, type_code, values.ndim)
    header += struct.pack(f">{values.ndim}I", *values.shape)
    flat = values.ravel().tolist()
    return header + struct.pack(f">{len(flat)}{letter}", *flat)


def write(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path``, gzip-compressed if the name ends with .gz."""
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


def random_values(rng: np.random.Generator, type_code: int, shape) -> np.ndarray:
    dtype = IDX_TYPES[type_code][1]
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("type_code", sorted(IDX_TYPES))
def test_round_trip(tmp_path, type_code, suffix):
    rng = np.random.default_rng(type_code)
    values = random_values(rng, type_code, (4, 3, 5))
    path = write(tmp_path / f"values{suffix}", idx_bytes(values, type_code))
    result = read_idx(path)
    assert result.shape == (4, 3, 5)
    assert result.dtype == IDX_TYPES[type_code][1]
    assert result.dtype.isnative
    assert result.flags.writeable
    np.testing.assert_array_equal(result, values)


def test_one_dimensional_labels_and_str_path(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, size=37, dtype=np.uint8)
    path = write(tmp_path / "labels-idx1-ubyte", idx_bytes(labels, 0x08))
    result = read_idx(str(path))
    assert result.shape == (37,)
    np.testing.assert_array_equal(result, labels)


def test_header_fixes_the_shape(tmp_path):
    # 24 bytes of data read as (2, 3, 4) from a header written by hand.
    header = struct.pack(">4B3I", 0, 0, 0x08, 3, 2, 3, 4)
    path = write(tmp_path / "hand-made", header + bytes(range(24)))
    result = read_idx(path)
    assert result.shape == (2, 3, 4)
    assert result[1, 2, 3] == 23
    assert result[1, 0, 0] == 12


def test_empty_dimension(tmp_path):
    header = struct.pack(">4B2I", 0, 0, 0x08, 2, 0, 28)
    assert read_idx(write(tmp_path / "empty", header)).shape == (0, 28)


def valid_file(tmp_path: Path, name: str = "images-idx3-ubyte") -> tuple[Path, bytes]:
    rng = np.random.default_rng(7)
    content = idx_bytes(random_values(rng, 0x08, (3, 4, 4)), 0x08)
    return tmp_path / name, content


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_data(tmp_path, suffix):
    path, content = valid_file(tmp_path, "images" + suffix)
    write(path, content[:-1])
    with pytest.raises(DataFileError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "Delete it" in str(info.value)


def test_truncated_header(tmp_path):
    path, content = valid_file(tmp_path)
    write(path, content[:10])  # magic + 1.5 of the 3 dimension sizes
    with pytest.raises(DataFileError, match="truncated header") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_shorter_than_magic(tmp_path):
    path = write(tmp_path / "tiny", b"\x00\x00")
    with pytest.raises(DataFileError, match="4-byte magic") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_trailing_bytes(tmp_path, suffix):
    path, content = valid_file(tmp_path, "images" + suffix)
    write(path, content + b"\x00")
    with pytest.raises(DataFileError, match="trailing bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_wrong_magic(tmp_path):
    path, content = valid_file(tmp_path)
    write(path, b"\x01" + content[1:])
    with pytest.raises(DataFileError, match="magic number") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_gzip_content_under_a_raw_name_is_explained(tmp_path):
    path, content = valid_file(tmp_path)
    path.write_bytes(gzip.compress(content))
    with pytest.raises(DataFileError, match=r"should end with \.gz"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path, content = valid_file(tmp_path)
    write(path, content[:2] + b"\x0a" + content[3:])
    with pytest.raises(DataFileError, match="type code 0x0A") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_zero_dimensions(tmp_path):
    path = write(tmp_path / "scalar", struct.pack(">4B", 0, 0, 0x08, 0) + b"\x05")
    with pytest.raises(DataFileError, match="zero dimensions"):
        read_idx(path)


def test_corrupt_gzip_stream(tmp_path):
    path, content = valid_file(tmp_path, "images.gz")
    compressed = bytearray(gzip.compress(content))
    middle = len(compressed) // 2
    compressed[middle : middle + 8] = bytes(b ^ 0xFF for b in compressed[middle:][:8])
    path.write_bytes(bytes(compressed))
    with pytest.raises(DataFileError, match="not a valid gzip file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path):
    path, content = valid_file(tmp_path, "images.gz")
    path.write_bytes(gzip.compress(content)[:-12])
    with pytest.raises(DataFileError, match="not a valid gzip file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_not_gzip_at_all(tmp_path):
    path, content = valid_file(tmp_path, "images.gz")
    path.write_bytes(content)  # raw IDX under a .gz name
    with pytest.raises(DataFileError, match="not a valid gzip file"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nothing-here")
