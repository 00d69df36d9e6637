"""Save and load fitted estimators safely: skops files, no pickle, no code run.

:func:`save` writes a fitted skcnn estimator (or a Pipeline of scikit-learn and
skcnn steps) with ``skops.io``; :func:`load` reads it back trusting skcnn's own
types and the types skops trusts by default (numpy, scikit-learn), and nothing
else. A file that is not a skops file, is truncated, or asks for other types
raises :class:`ModelFileError` naming the file. Needs ``pip install
'skcnn[skops]'``.
"""

import zipfile
from pathlib import Path

__all__ = ["ModelFileError", "load", "save"]


class ModelFileError(ValueError):
    """A model file that cannot be loaded safely: corrupt, truncated or foreign."""


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("skcnn.io needs skops: pip install 'skcnn[skops]'.") from exc
    return sio


def save(estimator, path) -> Path:
    """Write a fitted estimator to a skops file.

    Parameters
    ----------
    estimator : estimator
        A fitted skcnn estimator, or a Pipeline holding some.
    path : str or path-like
        The file to write (conventionally ``*.skops``).

    Returns
    -------
    path : Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skcnn import KNNImageClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.io import load, save
    >>> X, y = load_digits_images(return_X_y=True)
    >>> knn = KNNImageClassifier().fit(X, y)
    >>> path = save(knn, Path(tempfile.mkdtemp()) / "knn.skops")
    >>> (load(path).predict(X[:5]) == knn.predict(X[:5])).all()
    np.True_
    """
    path = Path(path)
    _skops().dump(estimator, path)
    return path


def load(path, *, trusted=()):
    """Read an estimator written by :func:`save`, running no code from the file.

    Parameters
    ----------
    path : str or path-like
        The skops file.
    trusted : sequence of str, default=()
        Further type names to trust (``module.Class``) beyond skcnn's own and
        those skops trusts by default; for pipelines with third-party steps.

    Returns
    -------
    estimator : estimator
        The fitted estimator.

    Raises
    ------
    ModelFileError
        If the file is missing, not a skops file, truncated or corrupt, or needs
        types that are neither skcnn's nor in ``trusted`` (they are listed).
    """
    sio, path = _skops(), Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file.")
    try:
        needed = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelFileError(
            f"{path}: not a readable skops model file ({type(exc).__name__}: {exc})."
        ) from exc
    foreign = [name for name in needed
               if not name.startswith("skcnn.") and name not in trusted]  # fmt: skip
    if foreign:
        raise ModelFileError(
            f"{path}: the file asks for types that are not skcnn's: {foreign}. "
            "Pass them in trusted=[...] only if you trust where the file comes from."
        )
    try:
        return sio.load(path, trusted=needed)
    except Exception as exc:  # skops raises many kinds on damaged content
        raise ModelFileError(
            f"{path}: the model could not be rebuilt ({type(exc).__name__}: {exc})."
        ) from exc
