"""CIFAR-10, read from its binary batch files (never from the pickled version)."""

import gzip
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch

from skcnn.datasets._base import (
    DataFileError,
    check_base_url,
    check_bool,
    check_choice,
    download_from_mirrors,
    get_data_home,
    image_bunch,
    say,
)

__all__ = ["load_cifar10"]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
#: The published checksum of the archive, in pooch's ``known_hash`` form.
CIFAR10_ARCHIVE_HASH = "md5:c32a1d4ab5d03f1284b67883e8d87530"
#: The folder of the archive that holds the batches (and ``batches.meta.txt``).
BATCHES_DIR = "cifar-10-batches-bin"

CLASS_NAMES = (
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
)

_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_TEST_FILES = ("test_batch.bin",)
_SUBSET_FILES = {
    "train": _TRAIN_FILES,
    "test": _TEST_FILES,
    "all": _TRAIN_FILES + _TEST_FILES,
}

_SIDE = 32
_CHANNELS = ("red", "green", "blue")
_PIXELS = _SIDE * _SIDE * len(_CHANNELS)
_RECORD_SIZE = 1 + _PIXELS
_FEATURE_NAMES = [
    f"pixel_{row}_{col}_{channel}"
    for row in range(_SIDE)
    for col in range(_SIDE)
    for channel in _CHANNELS
]

_WHAT_TO_DO = (
    "Delete it (or the whole {folder} folder) so that load_cifar10 downloads it "
    "again, or replace it with a good copy."
)

CIFAR10_DESCR = """\
CIFAR-10
--------

60,000 colour images of 32x32 pixels in 10 mutually exclusive classes
(airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck),
6,000 images per class. Pixel values go from 0 to 255 in each of the red,
green and blue channels.

Official split (kept as is by ``subset``):

- train: 50,000 images, the five training batches in order (5,000 per class
  in total, in random order; a single batch need not be balanced);
- test: 10,000 images, 1,000 per class;
- all: the training images followed by the test images.

``images`` has shape (n, 32, 32, 3), channels last; ``data`` holds the same
pixels flattened, features named ``pixel_<row>_<col>_<channel>``.

Reference: A. Krizhevsky. Learning Multiple Layers of Features from Tiny
Images. Technical report, University of Toronto, 2009.
"""


def _count_records(path: Path) -> int:
    """Return the number of records of a batch file, checking its size."""
    size = path.stat().st_size
    if size == 0 or size % _RECORD_SIZE:
        raise DataFileError(
            f"{path} is not a valid CIFAR-10 binary batch: its size, {size} "
            f"bytes, is not a positive multiple of {_RECORD_SIZE} (1 label byte "
            f"and {_PIXELS} pixel bytes per image). It is truncated or corrupt. "
            + _WHAT_TO_DO.format(folder=path.parent)
        )
    return size // _RECORD_SIZE


def _read_batch(path: Path, n_records: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the labels (n,) and the channel-first pixels (n, 3, 32, 32)."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size != n_records * _RECORD_SIZE:
        raise DataFileError(
            f"{path} changed while it was being read ({raw.size} bytes instead of "
            f"{n_records * _RECORD_SIZE}). Load it again."
        )
    records = raw.reshape(n_records, _RECORD_SIZE)
    labels = records[:, 0]
    bad = np.flatnonzero(labels >= len(CLASS_NAMES))
    if bad.size:
        first = int(bad[0])
        raise DataFileError(
            f"{path} is corrupt: record {first} (byte offset "
            f"{first * _RECORD_SIZE}) has the label {int(labels[first])}, not a "
            f"class 0-9 ({bad.size} such records in all). "
            + _WHAT_TO_DO.format(folder=path.parent)
        )
    pixels = records[:, 1:].reshape(n_records, len(_CHANNELS), _SIDE, _SIDE)
    return labels, pixels


def _read_class_names(batches: Path) -> list[str]:
    """Return the class names of ``batches.meta.txt`` if present, else the default."""
    meta = batches / "batches.meta.txt"
    if not meta.is_file():
        return list(CLASS_NAMES)
    try:
        text = meta.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{meta} is corrupt: it is not plain ASCII text ({exc}). "
            + _WHAT_TO_DO.format(folder=batches)
        ) from exc
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != len(CLASS_NAMES):
        raise DataFileError(
            f"{meta} is corrupt: it should list {len(CLASS_NAMES)} class names, one "
            f"per line, but lists {len(names)}. " + _WHAT_TO_DO.format(folder=batches)
        )
    return names


def _is_batch_member(member: tarfile.TarInfo) -> bool:
    """Whether ``member`` is a regular file directly inside ``BATCHES_DIR``."""
    parts = PurePosixPath(member.name).parts
    return (
        member.isfile()
        and len(parts) == 2
        and parts[0] == BATCHES_DIR
        and parts[1] not in {".", ".."}
    )


def _extract_batches(archive: Path, folder: Path) -> list[Path]:
    """Extract the ``BATCHES_DIR`` files of ``archive`` into ``folder``.

    Only regular files directly inside ``cifar-10-batches-bin/`` are extracted,
    with tarfile's ``"data"`` filter. They are first extracted into a temporary
    folder next to the destination and then moved into place, so that an
    interrupted extraction never leaves a half-written batch behind.

    Returns
    -------
    paths : list of pathlib.Path
        The extracted files.
    """
    destination = folder / BATCHES_DIR
    destination.mkdir(parents=True, exist_ok=True)
    moved = []
    with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as scratch:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = [member for member in tar if _is_batch_member(member)]
                # The "data" filter exists from Python 3.10.12; the members are
                # plain files checked by _is_batch_member either way.
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(scratch, members=members, **safe)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DataFileError(
                f"{archive} is not a valid tar.gz archive ({type(exc).__name__}: "
                f"{exc}): the download is corrupt. Call load_cifar10 again to "
                "download it again."
            ) from exc
        for member in members:
            target = folder / member.name
            shutil.move(os.path.join(scratch, member.name), target)
            moved.append(target)
    return moved


def _download_and_extract(
    folder: Path, base_url: str, known_hash: str, verbose: bool
) -> None:
    """Download the binary archive into ``folder``, check it, extract, delete it."""
    url = base_url + CIFAR10_ARCHIVE
    archive = folder / CIFAR10_ARCHIVE
    try:
        archive, _ = download_from_mirrors(
            CIFAR10_ARCHIVE, [base_url], folder, known_hash=known_hash, verbose=verbose
        )
    except ValueError as exc:
        # pooch has already deleted its temporary download; make sure that no
        # file of that name survives either.
        archive.unlink(missing_ok=True)
        raise DataFileError(
            f"The archive downloaded from {url} does not have the published "
            f"checksum ({known_hash}): it is corrupt or not the CIFAR-10 binary "
            "version, and it has been deleted. Try again later, or pass base_url= "
            f"with a mirror serving the original {CIFAR10_ARCHIVE}. ({exc})"
        ) from exc
    say(verbose, f"Extracting {archive} into {folder / BATCHES_DIR}")
    try:
        _extract_batches(archive, folder)
    finally:
        # The batches hold everything needed: the archive would only waste space.
        archive.unlink(missing_ok=True)


def load_cifar10(
    data_home: str | os.PathLike[str] | None = None,
    *,
    subset: str = "train",
    download: bool = True,
    return_X_y: bool = False,
    as_images: bool = False,
    scale: bool = False,
    base_url: str | None = None,
    verbose: bool = True,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load the CIFAR-10 colour images, downloading them if needed.

    The binary batch files are read from ``get_data_home(data_home) /
    "cifar10" / "cifar-10-batches-bin"``: ``data_batch_1.bin`` to
    ``data_batch_5.bin`` and ``test_batch.bin``. Each record is one label byte
    followed by 3072 pixel bytes: the 1024 red, then green, then blue values of
    the 32x32 image, row by row. The pickled Python version is never used.

    =================  ============================================
    Classes            10
    Samples            50,000 train, 10,000 test
    Dimensionality     3072 (32x32 pixels, 3 channels)
    Features           integers 0-255 (``scale=True``: floats 0-1)
    =================  ============================================

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        The data home; see :func:`get_data_home`. The files live in its
        ``cifar10/cifar-10-batches-bin`` sub-folder.
    subset : {"train", "test", "all"}, default="train"
        The official split: the five training batches in order (50,000
        images), the test batch (10,000 images), or both (training first).
    download : bool, default=True
        If files are missing, download ``cifar-10-binary.tar.gz`` (about
        160 MB), check its published MD5, extract the batches and delete the
        archive. If False, missing files raise ``FileNotFoundError``.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_images : bool, default=False
        With ``return_X_y=True``, return ``X`` with shape (n, 32, 32, 3) instead
        of (n, 3072). Without ``return_X_y`` it changes nothing: the Bunch
        always holds both ``data`` and ``images``.
    scale : bool, default=False
        Return float32 pixels in [0, 1] (divided by 255) instead of uint8
        pixels in 0-255.
    base_url : str, default=None
        Download the archive from this URL (the file name is appended to it)
        instead of https://www.cs.toronto.edu/~kriz/.
    verbose : bool, default=True
        Report the download and show a progress bar on standard error.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n, 3072)
            The images flattened in (row, column, channel) order, that is
            ``images.reshape(n, -1)``; uint8 (or float32 if ``scale``).
        images : ndarray of shape (n, 32, 32, 3)
            The same pixels, channels last: a reshaped view of ``data``.
        target : ndarray of shape (n,), dtype int64
            The class index of each image.
        target_names : ndarray of shape (10,), dtype str
            The ten class names, from ``batches.meta.txt`` if present, else
            airplane, automobile, bird, cat, deer, dog, frog, horse, ship,
            truck.
        feature_names : list of str
            ``"pixel_<row>_<col>_<channel>"`` for each column of ``data``, the
            channel being ``red``, ``green`` or ``blue``.
        DESCR : str
            Description of the data set, its split and its reference.
        filenames : list of str
            The batch files read, in order.

    (X, y) : tuple of ndarray
        If ``return_X_y``: ``data`` (or ``images`` if ``as_images``) and
        ``target``.

    Raises
    ------
    FileNotFoundError
        If files are missing and ``download=False``.
    DataFileError
        If a batch file is truncated or holds a label above 9, or if the
        downloaded archive fails its checksum (it is then deleted).
    OSError
        If the download failed.

    See Also
    --------
    load_mnist : Grey-level handwritten digits.

    References
    ----------
    .. [1] A. Krizhevsky. "Learning Multiple Layers of Features from Tiny
       Images." Technical report, University of Toronto, 2009.

    Examples
    --------
    >>> from skcnn.datasets import load_cifar10
    >>> cifar = load_cifar10(subset="test")  # doctest: +SKIP
    >>> cifar.images.shape, cifar.data.shape  # doctest: +SKIP
    ((10000, 32, 32, 3), (10000, 3072))
    >>> list(cifar.target_names[cifar.target[:3]])  # doctest: +SKIP
    ['cat', 'ship', 'ship']
    """
    subset = check_choice("subset", subset, tuple(_SUBSET_FILES))
    download = check_bool("download", download)
    return_X_y = check_bool("return_X_y", return_X_y)
    as_images = check_bool("as_images", as_images)
    scale = check_bool("scale", scale)
    verbose = check_bool("verbose", verbose)
    base_url = check_base_url(base_url)

    folder = get_data_home(data_home) / "cifar10"
    batches = folder / BATCHES_DIR
    names = _SUBSET_FILES[subset]
    missing = [name for name in names if not (batches / name).is_file()]
    if missing and not download:
        raise FileNotFoundError(
            f"CIFAR-10 files not found in {batches}: missing {', '.join(missing)}. "
            f"Call load_cifar10(data_home={str(folder.parent)!r}, download=True) "
            f"to download them, or download {CIFAR10_URL}{CIFAR10_ARCHIVE} (the "
            f"binary version), extract it into {folder} so that the batch files "
            f"are in {batches}."
        )
    if missing:
        _download_and_extract(
            folder, base_url or CIFAR10_URL, CIFAR10_ARCHIVE_HASH, verbose
        )
        still_missing = [name for name in names if not (batches / name).is_file()]
        if still_missing:
            raise DataFileError(
                f"The downloaded {CIFAR10_ARCHIVE} did not contain "
                f"{', '.join(still_missing)} under {BATCHES_DIR}/."
            )

    target_names = _read_class_names(batches)
    paths = [batches / name for name in names]
    counts = [_count_records(path) for path in paths]
    n_samples = sum(counts)
    images = np.empty((n_samples, _SIDE, _SIDE, len(_CHANNELS)), dtype=np.uint8)
    target = np.empty(n_samples, dtype=np.int64)
    start = 0
    for path, count in zip(paths, counts, strict=True):
        labels, pixels = _read_batch(path, count)
        images[start : start + count] = pixels.transpose(0, 2, 3, 1)
        target[start : start + count] = labels
        start += count

    return image_bunch(
        images,
        target,
        max_value=255,
        scale=scale,
        return_X_y=return_X_y,
        as_images=as_images,
        target_names=np.asarray(target_names),
        feature_names=list(_FEATURE_NAMES),
        DESCR=CIFAR10_DESCR,
        filenames=[str(path) for path in paths],
    )
