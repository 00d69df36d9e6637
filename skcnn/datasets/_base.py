"""Shared machinery of the data set loaders: data home, reading, hashing, download."""

import contextlib
import gzip
import hashlib
import logging
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pooch
from sklearn.utils import Bunch

__all__ = ["DataFileError", "get_data_home"]

#: Environment variable that overrides the default data home.
DATA_HOME_ENV = "SKCNN_DATA"

#: URL schemes accepted for ``base_url`` (those pooch can download from).
_URL_SCHEMES = ("http://", "https://", "ftp://")

#: Errors about the local destination, which another mirror cannot fix.
_LOCAL_ERRORS = (
    PermissionError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
)


class DataFileError(ValueError):
    """A data file exists but its content is wrong (corrupt, truncated, altered).

    The message names the file, says what is wrong with it and what to do about
    it, usually to delete it so that the loader downloads it again.

    Examples
    --------
    >>> from skcnn.datasets import DataFileError
    >>> issubclass(DataFileError, ValueError)
    True
    """


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds the downloaded data sets.

    The folder is ``data_home`` if given, else the value of the environment
    variable ``SKCNN_DATA`` (if set and not empty), else ``~/skcnn_data``. A
    leading ``~`` is expanded.
    Nothing is created: the folder may not exist yet, or may be a read-only
    shared folder. The loaders create sub-folders only when they have to
    download something.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        The folder to use. ``None`` means ``SKCNN_DATA`` or ``~/skcnn_data``.

    Returns
    -------
    data_home : pathlib.Path
        The data home folder (not necessarily existing).

    Examples
    --------
    >>> from skcnn.datasets import get_data_home
    >>> from pathlib import Path
    >>> get_data_home("~/my_data") == Path.home() / "my_data"
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or "~/skcnn_data"
    elif not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            "data_home must be None, a str or a path-like object, "
            f"got {type(data_home).__name__}: {data_home!r}."
        )
    return Path(data_home).expanduser()


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a boolean, else raise a ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError``."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}.")
    return value


def check_base_url(base_url: object) -> str | None:
    """Return ``base_url`` ending with ``/`` (or ``None``), else raise an error."""
    if base_url is None:
        return None
    if not isinstance(base_url, str) or not base_url.startswith(_URL_SCHEMES):
        raise ValueError(
            "base_url must be None or a URL starting with "
            f"{' or '.join(_URL_SCHEMES)}, got {base_url!r}."
        )
    return base_url if base_url.endswith("/") else base_url + "/"


def read_file_bytes(path: Path) -> bytes:
    """Return the content of ``path``, decompressed if its name ends with ``.gz``.

    A missing or unreadable file raises the usual ``OSError``; a corrupt gzip
    stream raises :class:`DataFileError`.
    """
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise DataFileError(
            f"{path} is not a valid gzip file ({type(exc).__name__}: {exc}). "
            "It is corrupt or truncated, for example by an interrupted download: "
            "delete it so that it is downloaded again, or replace it with a good "
            "copy."
        ) from exc


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def quiet_pooch() -> Iterator[None]:
    """Silence pooch's informational log messages for the duration of a block.

    Pooch logs the SHA-256 of every file downloaded without a known hash and
    suggests passing it; the loaders check hashes themselves, so this is noise.
    The previous logger level is restored on exit.
    """
    logger = pooch.get_logger()
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


def say(verbose: bool, message: str) -> None:
    """Write ``message`` to standard error if ``verbose``."""
    if verbose:
        print(message, file=sys.stderr, flush=True)


def download_from_mirrors(
    fname: str,
    base_urls: Sequence[str],
    folder: Path,
    *,
    known_hash: str | None = None,
    verbose: bool = True,
) -> tuple[Path, str]:
    """Download ``fname`` into ``folder`` from the first base URL that answers.

    Each URL in ``base_urls`` (ending with ``/``) is tried in order; a network
    or HTTP error moves on to the next one, an error writing into ``folder``
    (permissions, a file in the way) is raised at once. ``folder`` is created if
    needed.
    A hash mismatch (only possible with ``known_hash``) raises pooch's
    ``ValueError`` at once: a mirror serving other content is not a network
    problem.

    Returns
    -------
    path, base_url : pathlib.Path, str
        The downloaded file and the base URL it came from.

    Raises
    ------
    OSError
        If every base URL failed; the message lists each URL and its error.
    """
    failures = []
    for base_url in base_urls:
        url = base_url + fname
        say(verbose, f"Downloading {url} to {folder}")
        try:
            with quiet_pooch():
                path = pooch.retrieve(
                    url,
                    known_hash=known_hash,
                    fname=fname,
                    path=folder,
                    progressbar=verbose,
                )
        except OSError as exc:  # requests' errors are OSError subclasses
            if isinstance(exc, _LOCAL_ERRORS) or exc.filename is not None:
                raise
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
            continue
        return Path(path), base_url
    tried = "\n".join(failures)
    raise OSError(
        f"Could not download {fname} into {folder}; tried:\n{tried}\n"
        "Check the network connection (or pass base_url= with a reachable "
        f"mirror), or put the file into {folder} yourself."
    )


def image_bunch(
    images: np.ndarray,
    target: np.ndarray,
    *,
    max_value: float,
    scale: bool,
    return_X_y: bool,
    as_images: bool,
    **fields,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """What every loader returns: flat ``data`` and its ``images`` view.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width[, channels])
        Pixels as read.
    target : ndarray of shape (n_samples,)
        Labels.
    max_value : float
        The largest possible pixel value; ``scale`` divides by it.
    scale : bool
        Return float32 pixels in [0, 1] instead of the values as read.
    return_X_y : bool
        Return ``(X, y)`` instead of a Bunch.
    as_images : bool
        With ``return_X_y``: X is the image array, not the flat rows.
    **fields : dict
        Further Bunch fields (``target_names``, ``DESCR``, ...).

    Returns
    -------
    Bunch or (X, y)
        ``data`` is ``(n_samples, n_pixels)``; ``images`` is a view of it.
    """
    data = images.reshape(len(images), -1)
    if scale:
        data = data.astype(np.float32)
        data /= max_value
    images = data.reshape(images.shape)
    if return_X_y:
        return (images if as_images else data), target
    return Bunch(data=data, images=images, target=target, **fields)
