"""Training checkpoints: resume after a kill, bit for bit; damage and mismatches."""

import errno
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skcnn import (
    CheckpointError,
    ConvNetClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
    _checkpoint,
)
from skcnn._network import BaseNetworkClassifier
from skcnn.datasets import load_digits_images, load_mnist_sample

# (name, estimator): each resumes with every kind of state it carries.
MODELS = {
    "mlp-early-stopping": lambda: MLPClassifier(
        (32,),
        max_iter=6,
        early_stopping=True,
        learning_rate="adaptive",
        n_iter_no_change=1,
        tol=0.2,
        random_state=0,
    ),
    "linear-sgd": lambda: LinearSoftmaxClassifier(
        solver="sgd", learning_rate="invscaling", max_iter=5, tol=0, random_state=0
    ),
    "lenet-augment": lambda: LeNet5Classifier(max_iter=3, augment=True, random_state=0),
    "convnet-dropout": lambda: ConvNetClassifier(
        conv_filters=(4,),
        hidden_layer_sizes=(16,),
        dropout=0.3,
        max_iter=3,
        random_state=0,
    ),
}


@pytest.fixture(scope="module")
def digits():
    return load_digits_images(return_X_y=True, scale=True)


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _steps(estimator, n):
    """Minibatches in one epoch of ``estimator`` on ``n`` samples."""
    if estimator.early_stopping:
        n -= -(-n * estimator.validation_fraction // 1)  # train_test_split's ceil
    batch = min(200, n) if estimator.batch_size == "auto" else estimator.batch_size
    return int(-(-n // batch))


def _crash_at_step(monkeypatch, step, exception=RuntimeError):
    """Make the ``step``-th training step raise (an in-process stand-in for a
    crash: the exception leaves the checkpoints as a killed process would)."""
    original, count = BaseNetworkClassifier._train_step, [0]

    def train_step(self, *args):
        count[0] += 1
        if count[0] == step:
            raise exception("crash")
        return original(self, *args)

    monkeypatch.setattr(BaseNetworkClassifier, "_train_step", train_step)


@pytest.mark.parametrize("name", MODELS)
def test_resumed_fit_equals_the_uninterrupted_one(name, digits, tmp_path, monkeypatch):
    X, y = digits
    reference = _fit(MODELS[name](), X, y)
    same = _fit(MODELS[name]().set_params(checkpoint=tmp_path), X, y)
    np.testing.assert_array_equal(same._packed, reference._packed)
    assert _checkpoint.generations(tmp_path) == []  # a finished fit clears them

    steps = _steps(MODELS[name](), len(X))
    with monkeypatch.context() as patch:
        _crash_at_step(patch, 2 * steps + steps // 2)  # in the middle of epoch 3
        with pytest.raises(RuntimeError, match="crash"):
            _fit(MODELS[name]().set_params(checkpoint=tmp_path), X, y)
    kept = [p.name for p in _checkpoint.generations(tmp_path)]
    assert kept == ["epoch-000001.npz", "epoch-000002.npz"]
    resumed = _fit(MODELS[name]().set_params(checkpoint=tmp_path), X, y)
    np.testing.assert_array_equal(resumed._packed, reference._packed)
    assert resumed.n_iter_ == reference.n_iter_
    assert resumed.loss_curve_ == reference.loss_curve_
    if reference.validation_scores_ is not None:
        assert resumed.validation_scores_ == reference.validation_scores_


def test_a_damaged_newest_generation_falls_back_then_all_damaged_is_an_error(
    digits, tmp_path, monkeypatch
):
    X, y = digits
    make = MODELS["linear-sgd"]
    reference, steps = _fit(make(), X, y), _steps(make(), len(X))
    with monkeypatch.context() as patch:
        _crash_at_step(patch, 3 * steps + 2)  # epoch 4: generations 2 and 3 kept
        with pytest.raises(RuntimeError):
            _fit(make().set_params(checkpoint=tmp_path), X, y)
    older, newest = _checkpoint.generations(tmp_path)
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    newest.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match=f"{newest}.*Resuming from .*{older.name}"):
        resumed = _fit(make().set_params(checkpoint=tmp_path), X, y)
    np.testing.assert_array_equal(resumed._packed, reference._packed)

    with monkeypatch.context() as patch:
        _crash_at_step(patch, 3 * steps + 2)
        with pytest.raises(RuntimeError):
            _fit(make().set_params(checkpoint=tmp_path), X, y)
    older, newest = _checkpoint.generations(tmp_path)
    newest.write_bytes(newest.read_bytes()[:100])  # truncated
    older.write_bytes(b"")  # emptied
    with pytest.raises(CheckpointError) as exc:
        _fit(make().set_params(checkpoint=tmp_path), X, y)
    assert str(newest) in str(exc.value) and str(older) in str(exc.value)


def test_a_checkpoint_of_another_run_is_refused_saying_what_differs(
    digits, tmp_path, monkeypatch
):
    X, y = digits
    make = MODELS["linear-sgd"]
    with monkeypatch.context() as patch:
        _crash_at_step(patch, _steps(make(), len(X)) + 1)  # epoch 2
        with pytest.raises(RuntimeError):
            _fit(make().set_params(checkpoint=tmp_path), X, y)
    cases = [
        (make().set_params(alpha=0.01), X, y, "alpha: checkpoint '0.0001', now '0.01'"),
        (MLPClassifier(), X, y, "estimator: checkpoint 'LinearSoftmaxClassifier'"),
        (make(), X[:-7], y[:-7], "X shape: checkpoint '(1797, 64)', now '(1790, 64)'"),
        (make(), X, (y + 1) % 10, "y sha256"),
        (make(), X[:, ::-1], y, "X rows sha256"),
    ]
    for estimator, X_other, y_other, expected in cases:
        with pytest.raises(CheckpointError, match="another training run") as exc:
            _fit(estimator.set_params(checkpoint=tmp_path), X_other, y_other)
        assert expected in str(exc.value)
    # nothing was overwritten: the right run still resumes
    _fit(make().set_params(checkpoint=tmp_path), X, y)
    assert _checkpoint.generations(tmp_path) == []


def test_ctrl_c_keeps_the_checkpoints_and_the_next_fit_resumes(
    digits, tmp_path, monkeypatch
):
    X, y = digits
    make = MODELS["mlp-early-stopping"]
    reference = _fit(make(), X, y)
    with monkeypatch.context() as patch:
        _crash_at_step(patch, 2 * _steps(make(), len(X)) + 3, KeyboardInterrupt)
        with pytest.warns(RuntimeWarning, match="interrupted"):
            interrupted = _fit(make().set_params(checkpoint=tmp_path), X, y)
    assert interrupted.n_iter_ == 2
    assert len(_checkpoint.generations(tmp_path)) == 2
    resumed = _fit(interrupted, X, y)  # the same object, fitted again
    np.testing.assert_array_equal(resumed._packed, reference._packed)
    assert resumed.validation_scores_ == reference.validation_scores_


def test_checkpoints_load_without_pickle(tmp_path, digits):
    X, y = digits
    np.savez(tmp_path / "epoch-000001.npz", params=np.array([object()], dtype=object))
    with pytest.raises(CheckpointError, match="unreadable"):
        _fit(MODELS["linear-sgd"]().set_params(checkpoint=tmp_path), X, y)


def test_disk_full_keeps_the_previous_checkpoint_and_training_goes_on(
    digits, tmp_path, monkeypatch
):
    X, y = digits
    make = MODELS["linear-sgd"]
    reference, steps = _fit(make(), X, y), _steps(make(), len(X))
    original, calls, seen = _checkpoint._write_file, [0], []

    def write_file(path, payload):
        calls[0] += 1
        if calls[0] >= 2:  # the disk is full from the second checkpoint on
            path.write_bytes(b"partial")
            seen.append(sorted(p.name for p in tmp_path.iterdir()))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        original(path, payload)

    with monkeypatch.context() as patch:
        patch.setattr(_checkpoint, "_write_file", write_file)
        _crash_at_step(patch, 3 * steps + 2)  # epoch 4
        full = pytest.warns(RuntimeWarning, match="No space left on device")
        with full as record, pytest.raises(RuntimeError):
            _fit(make().set_params(checkpoint=tmp_path), X, y)
    assert "checkpoint of epoch 2 " in str(record[0].message)
    assert "epoch-000001.npz" in seen[0]  # published before the failure
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-000001.npz"]  # no debris
    resumed = _fit(make().set_params(checkpoint=tmp_path), X, y)
    np.testing.assert_array_equal(resumed._packed, reference._packed)


def test_checkpoint_parameter_is_validated():
    with pytest.raises(InvalidParameterError, match="checkpoint"):
        MLPClassifier(checkpoint=3).fit(np.zeros((4, 2)), [0, 1, 0, 1])


# -- real processes, killed with SIGKILL --------------------------------------------

CHILD = """
import os, signal, sys, warnings
import numpy as np
from skcnn import LeNet5Classifier, _checkpoint
from skcnn._network import BaseNetworkClassifier
from skcnn.datasets import load_mnist_sample

warnings.simplefilter("ignore")
folder, out, kill = sys.argv[1], sys.argv[2], sys.argv[3]
X, y = load_mnist_sample(return_X_y=True)
X, y = X[:640], y[:640]
if kill.startswith("step="):  # SIGKILL in the middle of an epoch
    step, original, count = int(kill[5:]), BaseNetworkClassifier._train_step, [0]
    def train_step(self, *args):
        count[0] += 1
        if count[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args)
    BaseNetworkClassifier._train_step = train_step
elif kill.startswith("write="):  # SIGKILL half-way through writing a checkpoint
    nth, original, count = int(kill[6:]), _checkpoint._write_file, [0]
    def write_file(path, payload):
        count[0] += 1
        if count[0] == nth:
            original(path, payload)
            data = open(path, "rb").read()
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        original(path, payload)
    _checkpoint._write_file = write_file
clf = LeNet5Classifier(max_iter=4, early_stopping=True, augment=True, random_state=0,
                       checkpoint=None if folder == "-" else folder)
np.save(out, clf.fit(X, y)._packed)
"""


def _child(*args):
    return subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, args)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """LeNet-5's weights after an uninterrupted fit in a fresh process.

    The kernels are compiled in this process first, so every child loads them
    from numba's cache (a freshly compiled parallel kernel may differ from its
    cached copy in the last bit)."""
    X, y = load_mnist_sample(return_X_y=True)
    _fit(
        LeNet5Classifier(max_iter=1, augment=True, early_stopping=True),
        X[:200],
        y[:200],
    )
    out = tmp_path_factory.mktemp("reference") / "weights.npy"
    result = _child("-", out, "none")
    assert result.returncode == 0, result.stderr
    return np.load(out)


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["step=15", "write=2"])
def test_a_process_killed_with_sigkill_resumes_bit_for_bit(
    kill, uninterrupted, tmp_path
):
    folder, out = tmp_path / "checkpoints", tmp_path / "weights.npy"
    killed = _child(folder, out, kill)  # 9 steps an epoch: 15 is in epoch 2
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == ["epoch-000001.npz"]
    debris = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    if kill.startswith("write"):  # the half-written generation never went public
        assert len(debris) == 1 and debris[0].startswith(".epoch-000002.npz.")
    resumed = _child(folder, out, "none")
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(out), uninterrupted)
    assert list(folder.iterdir()) == []  # finished: checkpoints and debris removed
