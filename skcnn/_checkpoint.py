"""Training checkpoints: written atomically after each epoch, read back to resume.

A checkpoint folder holds ``epoch-NNNNNN.npz`` files, one per generation. Each is
a numpy ``.npz`` archive of plain arrays (read with ``allow_pickle=False``: no
code runs when loading) plus two byte arrays: ``__meta__``, JSON of the scalars
and the run's fingerprint, and ``__sha256__``, a digest over all the rest. A new
generation is written to a temporary file, flushed and fsynced, renamed into
place (atomic) and the folder fsynced; only then is the generation before the
previous one removed, so a crash at any point leaves at least one complete
checkpoint.
"""

import hashlib
import inspect
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

FORMAT = 1
_PREFIX, _SUFFIX = "epoch-", ".npz"
_META, _DIGEST = "__meta__", "__sha256__"
_KEEP = 2
"""Generations kept: the newest and the one before it."""


class CheckpointError(ValueError):
    """A training checkpoint cannot be used: damaged, or written by another run.

    Raised by ``fit`` when the ``checkpoint`` folder holds no readable
    generation, or one written by another estimator, other hyperparameters or
    other data; the message names the files and what differs.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from skcnn import CheckpointError, MLPClassifier
    >>> folder = tempfile.mkdtemp()
    >>> open(f"{folder}/epoch-000001.npz", "wb").write(b"not a checkpoint")
    16
    >>> X, y = np.random.default_rng(0).random((20, 4)), np.arange(20) % 2
    >>> try:
    ...     MLPClassifier(checkpoint=folder).fit(X, y)
    ... except CheckpointError as exc:
    ...     print(str(exc).startswith("No usable checkpoint in"))
    True
    """


def _digest(arrays: dict, meta: dict) -> str:
    sha = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        sha.update(f"{name}|{array.dtype.str}|{array.shape}".encode())
        sha.update(array.tobytes())
    return sha.hexdigest()


def generations(folder) -> list[Path]:
    """The checkpoint files in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.name.startswith(_PREFIX)]
    return sorted(p for p in files if p.name.endswith(_SUFFIX))


def _write_file(path: Path, payload: dict) -> None:
    """Write ``payload`` as an .npz at ``path`` and fsync it (the data reached
    the disk before the rename that publishes it)."""
    with open(path, "wb") as f:
        np.savez(f, **payload)
        f.flush()
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(folder, epoch: int, arrays: dict, meta: dict) -> Path:
    """Write generation ``epoch`` atomically; return its path.

    Raises OSError (disk full, ...) with the previous generations untouched.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "format": FORMAT, "epoch": int(epoch)}
    payload = dict(arrays)
    payload[_META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    payload[_DIGEST] = np.frombuffer(_digest(arrays, meta).encode(), np.uint8)
    final = folder / f"{_PREFIX}{epoch:06d}{_SUFFIX}"
    temporary = folder / f".{final.name}.{os.getpid()}.tmp"
    try:
        _write_file(temporary, payload)
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    for old in generations(folder)[:-_KEEP]:
        old.unlink(missing_ok=True)
    return final


def _read(path: Path) -> tuple[dict, dict]:
    """Arrays and metadata of one checkpoint file; CheckpointError if damaged."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta_bytes = arrays.pop(_META).tobytes()
        digest = arrays.pop(_DIGEST).tobytes().decode()
        meta = json.loads(meta_bytes)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path} is unreadable ({exc})") from None
    if _digest(arrays, meta) != digest:
        raise CheckpointError(f"{path} is damaged: its SHA-256 does not match")
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} has format {meta.get('format')}; this skcnn reads {FORMAT}"
        )
    return arrays, meta


def load(folder) -> tuple[dict, dict, Path] | None:
    """The newest complete checkpoint in ``folder``, or None when there is none.

    A damaged newest generation falls back to the previous one, with a
    warning; when every generation is damaged, CheckpointError names them.
    """
    files = generations(folder)
    problems = []
    for path in reversed(files):
        try:
            arrays, meta = _read(path)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        if problems:
            warnings.warn(
                f"{'; '.join(problems)}. Resuming from the previous checkpoint, "
                f"{path}.",
                RuntimeWarning,
                stacklevel=3,
            )
        return arrays, meta, path
    if problems:
        raise CheckpointError(
            f"No usable checkpoint in {folder}: {'; '.join(problems)}. Delete the "
            "folder to train from scratch."
        )
    return None


def clear(folder) -> None:
    """Remove every checkpoint generation (and stray temporary files)."""
    folder = Path(folder)
    for path in generations(folder):
        path.unlink(missing_ok=True)
    if folder.is_dir():
        for path in folder.glob(f".{_PREFIX}*.tmp"):
            path.unlink(missing_ok=True)


def compare_fingerprints(saved: dict, current: dict, path, defaults=None) -> None:
    """Raise CheckpointError listing what differs between two run fingerprints.

    A parameter the checkpoint does not know (one added to skcnn since it was
    written) matches when it has its default value (``defaults``, by name).
    """
    defaults = defaults or {}
    differences = [
        f"{key}: checkpoint {saved.get(key)!r}, now {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
        and not (key not in saved and current.get(key) == defaults.get(key))
    ]
    if differences:
        raise CheckpointError(
            f"{path} was written by another training run; refusing to resume from "
            f"it. Differences: {'; '.join(differences)}. Use another checkpoint "
            "folder, or delete this one to train from scratch."
        )


# -- what must match to resume ---------------------------------------------------


def default_settings(estimator) -> dict:
    """The estimator's parameters at their defaults, as fingerprints hold them."""
    return {
        name: repr(parameter.default)
        for name, parameter in inspect.signature(type(estimator)).parameters.items()
    }


def fingerprint(estimator, X, y, weight) -> dict:
    """What must match for a checkpoint to be resumed: the estimator, its
    training hyperparameters (not ``max_iter``, ``n_jobs``, ``verbose``), the
    classes, the data's shape and dtype, and SHA-256 digests of the labels, the
    sample weights and 64 rows of X spread over it."""
    params = estimator.get_params(deep=False)
    for name in ("checkpoint", "max_iter", "n_jobs", "verbose", "warm_start"):
        params.pop(name, None)
    rows = np.unique(np.linspace(0, len(X) - 1, num=min(len(X), 64)).astype(int))

    def sha(array):
        return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()

    return {
        "estimator": type(estimator).__name__,
        **{name: repr(value) for name, value in sorted(params.items())},
        "classes": repr(estimator.classes_.tolist()),
        "X shape": repr(tuple(X.shape)),
        "X dtype": str(X.dtype),
        "X rows sha256": sha(X[rows]),
        "y sha256": sha(np.asarray(y)),
        "sample_weight sha256": sha(weight),
    }
