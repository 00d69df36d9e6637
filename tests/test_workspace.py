"""The training step's workspace: arrays reused from one step to the next."""

import threading

import numpy as np
import pytest

from skcnn import ConvNetClassifier, LeNet5Classifier, MLPClassifier, _training
from skcnn._workspace import Workspace, empty, empty_like
from skcnn.datasets import load_mnist_sample
from skcnn.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPool2D


def test_outside_a_step_every_array_is_new():
    a, b = empty((3, 4), np.float32), empty((3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32
    assert not np.shares_memory(a, b)
    assert empty_like(a).shape == (3, 4)


def test_a_step_gets_the_previous_steps_arrays_back():
    workspace = Workspace()
    with workspace.step():
        first = [empty((5, 6), np.float32), empty((5, 6), np.float32)]
        other = empty((5, 6), np.float64)
        assert not np.shares_memory(first[0], first[1])  # never twice in a step
    with workspace.step():
        again = [empty((5, 6), np.float32), empty((5, 6), np.float32)]
        assert {id(a) for a in again} == {id(a) for a in first}
        fresh = empty((5, 7), np.float32)  # another shape: a new array
        assert all(not np.shares_memory(fresh, a) for a in first)
    with workspace.step():
        # the float64 array of the first step was not asked for in the second:
        # it was dropped, so a workspace holds at most one step's arrays
        assert empty((5, 6), np.float64) is not other
    assert empty((5, 6), np.float32) is not again[0]  # after the step: np.empty


def test_steps_nest_and_threads_do_not_share_arrays():
    outer, inner = Workspace(), Workspace()
    with outer.step():
        a = empty(4, np.float32)
        with inner.step():
            empty(4, np.float32)
        a2 = empty(4, np.float32)
        assert a2 is not a
    seen = []

    def other_thread():
        seen.append(empty(4, np.float32))

    with outer.step():
        b = empty(4, np.float32)
        assert b is a or b is a2
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert not np.shares_memory(seen[0], a) and not np.shares_memory(seen[0], a2)


class PoisonedWorkspace(Workspace):
    """Fills every array it hands out with NaN: a layer that read an array's
    old contents (or relied on fresh zero pages) would train on NaN."""

    def empty(self, shape, dtype):
        array = super().empty(shape, dtype)
        array.fill(np.nan)
        return array


CUSTOM = [
    Conv2D(4, 3, padding="same"), Activation("relu"), MaxPool2D(2),
    Conv2D(6, 3, padding=1), Activation("relu"), MaxPool2D(2),
    Flatten(), Dense(16), Activation("relu"), Dropout(0.25),
]  # fmt: skip


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConvNetClassifier(layers=CUSTOM, max_iter=2, batch_size=50),
        lambda: ConvNetClassifier(conv_filters=(4,), pooling="avg", max_iter=2),
        lambda: LeNet5Classifier(max_iter=2, batch_size=50),
        lambda: MLPClassifier(max_iter=2, batch_size=50),
        lambda: MLPClassifier(solver="lbfgs", max_iter=5),
    ],
    ids=["custom-convnet", "convnet-avg", "lenet5", "mlp", "mlp-lbfgs"],
)
def test_training_never_reads_a_reused_arrays_old_contents(make, monkeypatch):
    X, y = load_mnist_sample(return_X_y=True, scale=True)
    X, y = X[:230], y[:230]  # a last, smaller batch: other shapes in its step
    plain = make().set_params(random_state=0, tol=0.0).fit(X, y)
    monkeypatch.setattr(_training, "Workspace", PoisonedWorkspace)
    poisoned = make().set_params(random_state=0, tol=0.0).fit(X, y)
    weights = [[w for params in m.params_ for w in params] for m in (plain, poisoned)]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain.loss_curve_, poisoned.loss_curve_)
    np.testing.assert_array_equal(plain.predict_proba(X), poisoned.predict_proba(X))
