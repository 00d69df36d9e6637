"""The MNIST handwritten digits, read from the four official IDX files."""

import os
from importlib.resources import files
from pathlib import Path

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
    read_file_bytes,
    sha256_hex,
)
from skcnn.datasets._idx import parse_idx

__all__ = ["load_mnist", "load_mnist_sample"]

#: Base URLs tried in order when no ``base_url`` is given.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: SHA-256 of the *uncompressed* files, so that any gzip of them passes.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train-labels-idx1-ubyte": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "t10k-images-idx3-ubyte": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "t10k-labels-idx1-ubyte": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}

#: SHA-256 of the uncompressed files of the sample shipped in the package: the
#: first 10,000 training and the first 2,000 test images of the official files.
SAMPLE_SHA256 = {
    "train-images-idx3-ubyte": (
        "2889698e6bc3614913e76901316712919d1998fc2b44512451bfe65bc1e668b1"
    ),
    "train-labels-idx1-ubyte": (
        "651e38e2ac0632f5113ec18f1df4977117f953197819034009971a6675a0df78"
    ),
    "t10k-images-idx3-ubyte": (
        "3f6bd66dee48df299584c67669bceee490faa25f931496bd7473b42106d7daed"
    ),
    "t10k-labels-idx1-ubyte": (
        "7b098e5f6a3065807cebeabf36fb1724a8aff19f2673ac08b4923e0e8c715bce"
    ),
}
SAMPLE_SIZES = {"train": 10_000, "test": 2_000}

#: (images file, labels file) of each official part.
_PART_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_SUBSET_PARTS = {"train": ("train",), "test": ("test",), "all": ("train", "test")}

_SIDE = 28
_FEATURE_NAMES = [f"pixel_{row}_{col}" for row in range(_SIDE) for col in range(_SIDE)]

MNIST_DESCR = """\
MNIST handwritten digits
------------------------

70,000 grey-level images of handwritten digits 0-9, 28x28 pixels each. The
digits were size-normalised to fit a 20x20 box and centred by their centre of
mass in the 28x28 image. Pixel values go from 0 (background) to 255 (ink).

Official split (kept as is by ``subset``):

- train: 60,000 images, written by about 250 writers;
- test: 10,000 images, by writers disjoint from those of the training set;
- all: the 60,000 training images followed by the 10,000 test images.

Classes: 10 (the digits 0-9), about 6,000 training images each.
Features: 784 pixels, named ``pixel_<row>_<col>``, rows from the top, columns
from the left.

Reference: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based
learning applied to document recognition. Proceedings of the IEEE,
86(11):2278-2324, November 1998.
"""


def _find_local(folder: Path, name: str) -> Path | None:
    """Return ``folder/name.gz`` or ``folder/name``, whichever exists first."""
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _load_verified(path: Path, name: str, source: str | None) -> np.ndarray:
    """Read ``path``, check the SHA-256 of its uncompressed bytes, parse them.

    ``source`` is the URL the file was just downloaded from, or ``None`` for a
    file that was already there. A freshly downloaded file that fails the checks
    is deleted; an existing one is left alone (its folder may be read-only or
    shared) and the message says to delete it.
    """
    try:
        data = read_file_bytes(path)
    except DataFileError as exc:
        if source is None:
            raise
        path.unlink(missing_ok=True)
        raise DataFileError(
            f"The file downloaded from {source} to {path} is not a valid gzip "
            f"file ({exc.__cause__}). It has been deleted. Try again later or "
            "pass base_url= with another mirror."
        ) from exc
    expected = MNIST_SHA256[name]
    actual = sha256_hex(data)
    if actual != expected:
        if source is not None:
            path.unlink(missing_ok=True)
            raise DataFileError(
                f"The file downloaded from {source} to {path} is not the original "
                f"MNIST {name}: the SHA-256 of its uncompressed content is "
                f"{actual}, expected {expected}. It has been deleted. Try again "
                "later or pass base_url= with another mirror."
            )
        raise DataFileError(
            f"{path} is not the original MNIST {name}: the SHA-256 of its "
            f"uncompressed content is {actual}, expected {expected}. It is "
            "corrupt, truncated or altered: delete it so that load_mnist "
            "downloads it again, or replace it with a good copy."
        )
    return parse_idx(data, path)


def _missing_message(folder: Path, missing: list[str], base_urls: list[str]) -> str:
    listed = ", ".join(f"{name}(.gz)" for name in missing)
    urls = "\n".join(f"  {base_urls[0]}{name}.gz" for name in missing)
    return (
        f"MNIST files not found in {folder}: missing {listed}. Call "
        f"load_mnist(data_home={str(folder.parent)!r}, download=True) to download "
        f"them, or download\n{urls}\nand put them (gzip-compressed or not) into "
        f"{folder}."
    )


def load_mnist(
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
    """Load the MNIST handwritten digits, downloading them if needed.

    The four official IDX files are read from ``get_data_home(data_home) /
    "mnist"``, gzip-compressed (``.gz``, preferred when both exist) or raw:
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``. Every file is
    checked against the SHA-256 of the original uncompressed file before use.

    =================  ============================================
    Classes            10 (digits 0-9)
    Samples            60,000 train, 10,000 test
    Dimensionality     784 (28x28 pixels)
    Features           integers 0-255 (``scale=True``: floats 0-1)
    =================  ============================================

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        The data home; see :func:`get_data_home`. The files live in its
        ``mnist`` sub-folder.
    subset : {"train", "test", "all"}, default="train"
        The official split: 60,000 training images, 10,000 test images, or
        all 70,000 (training images first, then test images).
    download : bool, default=True
        Download the missing files (``.gz``) into the ``mnist`` folder. If
        False, missing files raise ``FileNotFoundError``.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_images : bool, default=False
        With ``return_X_y=True``, return ``X`` with shape (n, 28, 28) instead of
        (n, 784). Without ``return_X_y`` it changes nothing: the Bunch always
        holds both ``data`` and ``images``.
    scale : bool, default=False
        Return float32 pixels in [0, 1] (divided by 255) instead of uint8
        pixels in 0-255.
    base_url : str, default=None
        Download from this URL (the file names are appended to it) instead of
        the default mirrors, https://ossci-datasets.s3.amazonaws.com/mnist/ and
        then https://storage.googleapis.com/cvdf-datasets/mnist/.
    verbose : bool, default=True
        Report downloads and show a progress bar on standard error.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n, 784)
            The images flattened row by row, uint8 (or float32 if ``scale``).
        images : ndarray of shape (n, 28, 28)
            The same pixels as ``data``: a reshaped view of it, not a copy.
        target : ndarray of shape (n,), dtype int64
            The digit of each image.
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        feature_names : list of str
            ``"pixel_<row>_<col>"`` for each column of ``data``.
        DESCR : str
            Description of the data set, its split and its reference.
        filenames : list of str
            The files read: images then labels, for each part of the subset.

    (X, y) : tuple of ndarray
        If ``return_X_y``: ``data`` (or ``images`` if ``as_images``) and
        ``target``.

    Raises
    ------
    FileNotFoundError
        If files are missing and ``download=False``.
    DataFileError
        If a file is not the original one (corrupt, truncated or altered).
    OSError
        If a download failed on every mirror.

    See Also
    --------
    load_digits_images : Small 8x8 digits bundled with scikit-learn.
    load_cifar10 : Colour images of ten object classes.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. "Gradient-based
       learning applied to document recognition." Proceedings of the IEEE,
       86(11):2278-2324, 1998.

    Examples
    --------
    >>> from skcnn.datasets import load_mnist
    >>> mnist = load_mnist(subset="test")  # doctest: +SKIP
    >>> mnist.data.shape, mnist.images.shape  # doctest: +SKIP
    ((10000, 784), (10000, 28, 28))
    >>> X, y = load_mnist(return_X_y=True, scale=True)  # doctest: +SKIP
    >>> X.dtype, float(X.max()), y[:5]  # doctest: +SKIP
    (dtype('float32'), 1.0, array([5, 0, 4, 1, 9]))
    """
    subset = check_choice("subset", subset, tuple(_SUBSET_PARTS))
    download = check_bool("download", download)
    return_X_y = check_bool("return_X_y", return_X_y)
    as_images = check_bool("as_images", as_images)
    scale = check_bool("scale", scale)
    verbose = check_bool("verbose", verbose)
    base_url = check_base_url(base_url)

    folder = get_data_home(data_home) / "mnist"
    needed = [name for part in _SUBSET_PARTS[subset] for name in _PART_FILES[part]]
    found = {name: _find_local(folder, name) for name in needed}
    missing = [name for name, path in found.items() if path is None]
    mirrors = [base_url] if base_url is not None else list(MNIST_MIRRORS)
    if missing and not download:
        raise FileNotFoundError(_missing_message(folder, missing, mirrors))

    arrays = {}
    filenames = []
    for name in needed:
        path = found[name]
        source = None
        if path is None:
            path, used = download_from_mirrors(
                f"{name}.gz", mirrors, folder, verbose=verbose
            )
            source = used + path.name
            # Later files come first from the mirror that just worked.
            mirrors = [used] + [mirror for mirror in mirrors if mirror != used]
        arrays[name] = _load_verified(path, name, source)
        filenames.append(str(path))

    return _bunch(arrays, subset, scale, return_X_y, as_images, MNIST_DESCR,
                  filenames)  # fmt: skip


SAMPLE_DESCR = """\
MNIST sample (shipped with skcnn)
---------------------------------

The first 10,000 training images and the first 2,000 test images of MNIST, in
the official files' order, as uint8 IDX files compressed with gzip (1.9 MB) in
the package: nothing is downloaded. Training and test images come from
disjoint writers, as in the full set. About 1,000 training images per class
(863 to 1,127) and 175 to 234 test images per class.

Source: the official MNIST files of Y. LeCun, C. Cortes and C. J. C. Burges
(the same files, checked by SHA-256, that :func:`load_mnist` reads), made
available under the Creative Commons Attribution-Share Alike 3.0 licence
(CC BY-SA 3.0); this sample is distributed under the same licence.

Reference: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based
learning applied to document recognition. Proceedings of the IEEE,
86(11):2278-2324, November 1998.
"""


def _sample_folder() -> Path:
    return Path(str(files("skcnn.datasets") / "data" / "mnist_sample"))


def _read_sample(folder: Path, name: str) -> np.ndarray:
    """Read one packaged sample file and check its uncompressed SHA-256."""
    path = folder / f"{name}.gz"
    if not path.is_file():
        raise DataFileError(
            f"The MNIST sample file {path} is missing from this installation of "
            "skcnn. Reinstall skcnn (pip install --force-reinstall skcnn)."
        )
    data = read_file_bytes(path)
    actual, expected = sha256_hex(data), SAMPLE_SHA256[name]
    if actual != expected:
        raise DataFileError(
            f"{path} is not the MNIST sample file skcnn ships: the SHA-256 of its "
            f"uncompressed content is {actual}, expected {expected}. The "
            "installation is damaged: reinstall skcnn."
        )
    return parse_idx(data, path)


def load_mnist_sample(
    *,
    subset: str = "train",
    return_X_y: bool = False,
    as_images: bool = False,
    scale: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load a sample of MNIST shipped with skcnn: no download, no data home.

    The first 10,000 images of the official training set and the first 2,000
    of the official test set (so training and test writers are disjoint), as
    the package's four gzip-compressed IDX files (1.9 MB), each checked
    against its SHA-256 before use. Enough for a CNN to beat an MLP, an MLP
    to beat k-NN and k-NN a linear model, in seconds. MNIST is available
    under the Creative Commons Attribution-Share Alike 3.0 licence; so is this
    sample.

    =================  ============================================
    Classes            10 (digits 0-9)
    Samples            10,000 train, 2,000 test
    Dimensionality     784 (28x28 pixels)
    Features           integers 0-255 (``scale=True``: floats 0-1)
    =================  ============================================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The 10,000 training images, the 2,000 test images, or all 12,000
        (training images first).
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_images : bool, default=False
        With ``return_X_y=True``, return ``X`` with shape (n, 28, 28) instead of
        (n, 784).
    scale : bool, default=False
        Return float32 pixels in [0, 1] (divided by 255) instead of uint8
        pixels in 0-255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_mnist` returns it: ``data``, ``images`` (a view of
        ``data``), ``target``, ``target_names``, ``feature_names``, ``DESCR``
        and ``filenames``.

    (X, y) : tuple of ndarray
        If ``return_X_y``: ``data`` (or ``images`` if ``as_images``) and
        ``target``.

    Raises
    ------
    DataFileError
        If a packaged file is missing or altered (a damaged installation).

    See Also
    --------
    load_mnist : All 70,000 images, downloaded once into the data home.
    load_digits_images : scikit-learn's 8x8 digits.

    Examples
    --------
    >>> from skcnn.datasets import load_mnist_sample
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> X.shape, X.dtype, y[:5]
    ((10000, 784), dtype('uint8'), array([5, 0, 4, 1, 9]))
    >>> load_mnist_sample(subset="test").images.shape
    (2000, 28, 28)
    """
    subset = check_choice("subset", subset, tuple(_SUBSET_PARTS))
    return_X_y = check_bool("return_X_y", return_X_y)
    as_images = check_bool("as_images", as_images)
    scale = check_bool("scale", scale)
    return _sample_bunch(_sample_folder(), subset, return_X_y, as_images, scale)


def _sample_bunch(folder, subset, return_X_y, as_images, scale):
    names = [name for part in _SUBSET_PARTS[subset] for name in _PART_FILES[part]]
    arrays = {name: _read_sample(folder, name) for name in names}
    filenames = [str(folder / f"{name}.gz") for name in names]
    return _bunch(arrays, subset, scale, return_X_y, as_images, SAMPLE_DESCR,
                  filenames)  # fmt: skip


def _bunch(arrays, subset, scale, return_X_y, as_images, descr, filenames):
    """The loaders' result from the parsed files ``arrays`` (name -> array)."""
    parts = _SUBSET_PARTS[subset]
    images = [arrays[_PART_FILES[part][0]] for part in parts]
    images = images[0] if len(images) == 1 else np.concatenate(images)  # no copy
    target = np.concatenate([arrays[_PART_FILES[part][1]] for part in parts])
    return image_bunch(
        images,
        target.astype(np.int64),
        max_value=255,
        scale=scale,
        return_X_y=return_X_y,
        as_images=as_images,
        target_names=np.arange(10),
        feature_names=list(_FEATURE_NAMES),
        DESCR=descr,
        filenames=filenames,
    )
