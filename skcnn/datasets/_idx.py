"""Reader for the IDX format of the MNIST files.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), then one big-endian unsigned 32-bit size per dimension, then the
values in C order, big-endian.
"""

import math
import os
import struct
from pathlib import Path

import numpy as np

from skcnn.datasets._base import DataFileError, read_file_bytes

__all__ = ["IDX_DTYPES", "parse_idx", "read_idx"]

#: Type code of the magic number -> big-endian numpy dtype of the values.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_WHAT_TO_DO = (
    "Delete it so that it is downloaded again, or replace it with a good copy."
)


def _fail(path: Path | str, problem: str) -> DataFileError:
    return DataFileError(f"{path} is not a valid IDX file: {problem}. {_WHAT_TO_DO}")


def parse_idx(data: bytes, path: Path | str = "<bytes>") -> np.ndarray:
    """Parse the (uncompressed) bytes of an IDX file into an array.

    Parameters
    ----------
    data : bytes
        The whole content of the file, already decompressed.
    path : pathlib.Path or str, default="<bytes>"
        Where ``data`` came from; only used in error messages.

    Returns
    -------
    array : numpy.ndarray
        A new, writable array in native byte order whose shape is given by the
        header.

    Raises
    ------
    DataFileError
        If the magic number, the type code, the number of dimensions or the
        amount of data is wrong.

    Examples
    --------
    >>> import struct
    >>> from skcnn.datasets._idx import parse_idx
    >>> header = struct.pack(">BBBB2I", 0, 0, 0x08, 2, 2, 3)
    >>> parse_idx(header + bytes(range(6)))
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    n_bytes = len(data)
    if n_bytes < 4:
        raise _fail(path, f"only {n_bytes} bytes, shorter than the 4-byte magic")
    zero_1, zero_2, type_code, ndim = data[:4]
    if zero_1 != 0 or zero_2 != 0:
        hint = ""
        if data[:2] == b"\x1f\x8b":
            hint = " (it looks gzip-compressed: its name should end with .gz)"
        raise _fail(
            path,
            f"the magic number {data[:4].hex()} does not start with two zero "
            f"bytes{hint}",
        )
    if type_code not in IDX_DTYPES:
        supported = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise _fail(
            path, f"unknown type code 0x{type_code:02X} (supported: {supported})"
        )
    if ndim == 0:
        raise _fail(path, "the header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if n_bytes < header_size:
        raise _fail(
            path,
            f"truncated header: {ndim} dimensions need {header_size} header bytes "
            f"but the file has {n_bytes} bytes",
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = IDX_DTYPES[type_code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    actual = n_bytes - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "trailing bytes after the data"
        raise _fail(
            path,
            f"{problem}: the header declares shape {shape} of {dtype.name} "
            f"({expected} bytes of data) but the file holds {actual} bytes of data",
        )
    values = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    # astype copies: the result is writable, owns its memory, native byte order.
    return values.reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzip-compressed (name ending with ``.gz``) or raw.

    All IDX types are supported: unsigned byte (0x08), signed byte (0x09),
    16-bit and 32-bit integers (0x0B, 0x0C), single and double precision floats
    (0x0D, 0x0E). The big-endian values are returned in native byte order.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read. It is decompressed if its name ends with ``.gz``.

    Returns
    -------
    array : numpy.ndarray
        A writable array whose shape and dtype are given by the header.

    Raises
    ------
    DataFileError
        If the file is not a valid IDX file: corrupt gzip stream, wrong magic
        number, unknown type code, truncated or with trailing bytes. The message
        names the file and what is wrong with it.
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import struct, tempfile
    >>> from pathlib import Path
    >>> from skcnn.datasets._idx import read_idx
    >>> header = struct.pack(">BBBBI", 0, 0, 0x0B, 1, 3)  # three int16
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "values-idx1-short"
    ...     _ = path.write_bytes(header + struct.pack(">3h", -1, 2, 300))
    ...     read_idx(path)
    array([ -1,   2, 300], dtype=int16)
    """
    path = Path(path)
    return parse_idx(read_file_bytes(path), path)
