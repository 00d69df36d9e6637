"""What layers declare beyond their trained parameters: state that is not
trained (running statistics), and which parameters the L2 penalty covers."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skcnn import ConvNetClassifier, _checkpoint
from skcnn._network import BaseNetworkClassifier
from skcnn.datasets import load_digits_images
from skcnn.layers import Activation, Dense, Flatten, Layer


class RunningMean(Layer):
    """Subtracts a running mean of its input, kept as state that is not trained
    (a minimal stand-in for batch normalisation's running statistics)."""

    accepts = "flat"

    def __init__(self, momentum=0.5):
        self.momentum = momentum

    def init_state(self, in_shape, dtype):
        return [np.zeros(in_shape, dtype)]

    def forward(self, x, params, training=True, rng=None, state=None):
        (mean,) = state
        if training:
            mean *= 1 - self.momentum
            mean += self.momentum * x.mean(axis=0)
        return x - mean, None


class UndecayedDense(Dense):
    """A dense layer whose weight matrix is outside the L2 penalty."""

    def decays(self, index, shape):
        return False


def _stack():
    return [Flatten(), RunningMean(), UndecayedDense(16), Activation("tanh")]


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:600], y[:600]


def test_state_is_updated_by_training_saved_and_used_at_predict(digits):
    X, y = digits
    clf = _fit(ConvNetClassifier(layers=_stack(), max_iter=2, random_state=0), X, y)
    index = [type(layer) for layer in clf.layers_].index(RunningMean)
    (mean,) = clf.states_[index]
    assert mean.shape == (64,) and np.abs(mean).sum() > 0  # trained batches moved it
    assert all(not s for i, s in enumerate(clf.states_) if i != index)
    # not a trained parameter: the optimizer's buffer does not hold it
    assert clf._packed.size == sum(p.size for ps in clf.params_ for p in ps)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.states_[index][0], mean)
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    mean[...] = 0  # prediction reads the state
    assert not np.array_equal(restored.predict_proba(X), clf.predict_proba(X))


def crashed_and_resumed(make, X, y, folder, monkeypatch):
    """``(reference, resumed)``: ``make()`` fitted on 600 rows in batches of
    200 without a break, and fitted with checkpoints in ``folder``, crashed in
    its third epoch and fitted again (resuming from epoch 2)."""
    reference = _fit(make(), X, y)
    original, count = BaseNetworkClassifier._train_step, [0]

    def crash_in_epoch_3(self, *args):
        count[0] += 1
        if count[0] == 2 * 3 + 2:  # 600 rows: 3 minibatches of 200 an epoch
            raise RuntimeError("crash")
        return original(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(BaseNetworkClassifier, "_train_step", crash_in_epoch_3)
        with pytest.raises(RuntimeError, match="crash"):
            _fit(make().set_params(checkpoint=folder), X, y)
    assert [p.name for p in _checkpoint.generations(folder)][-1] == ("epoch-000002.npz")
    return reference, _fit(make().set_params(checkpoint=folder), X, y)


def test_state_is_checkpointed_and_a_resumed_fit_equals_the_uninterrupted_one(
    digits, tmp_path, monkeypatch
):
    X, y = digits

    def make():
        return ConvNetClassifier(
            layers=_stack(), max_iter=3, batch_size=200, random_state=0
        )

    reference, resumed = crashed_and_resumed(make, X, y, tmp_path, monkeypatch)
    np.testing.assert_array_equal(resumed._packed, reference._packed)
    for mine, theirs in zip(resumed.states_, reference.states_, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_layer_decides_which_of_its_parameters_decay(digits):
    X, y = digits
    alpha = 10.0
    decayed = _fit(
        ConvNetClassifier(
            layers=[Flatten(), Dense(16), Activation("tanh")], alpha=alpha,
            max_iter=1, random_state=0,
        ),
        X, y,
    )  # fmt: skip
    undecayed = _fit(
        ConvNetClassifier(layers=_stack(), alpha=alpha, max_iter=1, random_state=0),
        X,
        y,
    )
    for clf, hidden_decays in ((decayed, True), (undecayed, False)):
        hidden = next(i for i, ps in enumerate(clf.params_) if ps)
        weights = [
            p
            for i, ps in enumerate(clf.params_)
            for p in ps
            if p.ndim > 1 and (hidden_decays or i != hidden)
        ]
        grad = np.empty_like(clf._packed)
        term = clf._start_gradient(1.0, grad)
        expected = 0.5 * alpha * sum(float(np.vdot(w, w)) for w in weights)
        assert term == pytest.approx(expected, rel=1e-6)
        assert clf._decays[hidden] == [hidden_decays, False]
