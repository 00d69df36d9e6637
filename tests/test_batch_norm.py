"""BatchNormalization: the formula, its gradient, PyTorch, and inside a network."""

import pickle

import numpy as np
import pytest

from skcnn import ConvNetClassifier
from skcnn.datasets import load_digits_images
from skcnn.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    MaxPool2D,
)
from tests.test_layer_state import _fit
from tests.test_layers import numeric_gradient

SHAPES = {"maps": (3, 4, 5, 6), "flat": (7, 4)}  # (C, H, W, n) and (n, units)


def _reference(x, gamma, beta, eps):
    axes = (1, 2, 3) if x.ndim == 4 else (0,)
    shaped = (-1, 1, 1, 1) if x.ndim == 4 else (1, -1)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    out = (x - mean.reshape(shaped)) / np.sqrt(var.reshape(shaped) + eps)
    return out * gamma.reshape(shaped) + beta.reshape(shaped), mean, var


@pytest.mark.parametrize("kind", SHAPES)
def test_training_forward_running_statistics_and_inference(kind):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPES[kind]) * 3 + 1
    units = x.shape[0] if kind == "maps" else x.shape[1]
    layer = BatchNormalization(momentum=0.2, epsilon=1e-3)
    gamma, beta = rng.standard_normal(units), rng.standard_normal(units)
    state = layer.init_state((units,), np.float64)
    out, _ = layer.forward(x, [gamma, beta], training=True, state=state)
    expected, mean, var = _reference(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    count = x.size // units
    np.testing.assert_allclose(state[0], 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(state[1], 0.8 + 0.2 * var * count / (count - 1))
    predicted, _ = layer.forward(x, [gamma, beta], training=False, state=state)
    shaped = (-1, 1, 1, 1) if kind == "maps" else (1, -1)
    manual = (x - state[0].reshape(shaped)) / np.sqrt(state[1].reshape(shaped) + 1e-3)
    manual = manual * gamma.reshape(shaped) + beta.reshape(shaped)
    np.testing.assert_allclose(predicted, manual, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", SHAPES)
def test_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SHAPES[kind])
    units = x.shape[0] if kind == "maps" else x.shape[1]
    layer = BatchNormalization()
    params = [rng.standard_normal(units), rng.standard_normal(units)]
    upstream = rng.standard_normal(x.shape)

    def objective():
        state = layer.init_state((units,), np.float64)
        return float(np.sum(layer.forward(x, params, state=state)[0] * upstream))

    state = layer.init_state((units,), np.float64)
    _, cache = layer.forward(x, params, state=state)
    dx, (dgamma, dbeta) = layer.backward(upstream.copy(), cache, params)
    for got, wrt in ((dx, x), (dgamma, params[0]), (dbeta, params[1])):
        np.testing.assert_allclose(got, numeric_gradient(objective, wrt), atol=1e-7)


@pytest.mark.parametrize("kind", SHAPES)
def test_forward_and_running_statistics_equal_pytorch(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SHAPES[kind])
    units = x.shape[0] if kind == "maps" else x.shape[1]
    layer = BatchNormalization(momentum=0.1, epsilon=1e-5)
    params = [rng.standard_normal(units), rng.standard_normal(units)]
    state = layer.init_state((units,), np.float64)
    theirs = (torch.nn.BatchNorm2d if kind == "maps" else torch.nn.BatchNorm1d)(
        units, momentum=0.1, eps=1e-5
    ).double()
    with torch.no_grad():
        theirs.weight[...] = torch.from_numpy(params[0])
        theirs.bias[...] = torch.from_numpy(params[1])
    as_torch = x.transpose(3, 0, 1, 2) if kind == "maps" else x  # NCHW or (n, C)
    for training in (True, False):
        theirs.train(training)
        with torch.no_grad():
            expected = theirs(torch.from_numpy(np.ascontiguousarray(as_torch)))
        ours, _ = layer.forward(x, params, training=training, state=state)
        ours = ours.transpose(3, 0, 1, 2) if kind == "maps" else ours
        np.testing.assert_allclose(ours, expected.numpy(), atol=1e-12)
        np.testing.assert_allclose(state[0], theirs.running_mean.numpy(), atol=1e-14)
        np.testing.assert_allclose(state[1], theirs.running_var.numpy(), atol=1e-14)


@pytest.fixture(scope="module")
def bn_net():
    X, y = load_digits_images(return_X_y=True, scale=True)
    stack = [
        Conv2D(16, 3, padding="same"), BatchNormalization(), Activation("relu"),
        MaxPool2D(2), Conv2D(32, 3, padding="same"), BatchNormalization(),
        Activation("relu"), GlobalAveragePooling2D(), Dense(32),
        BatchNormalization(), Activation("relu"),
    ]  # fmt: skip
    clf = _fit(ConvNetClassifier(layers=stack, max_iter=6, random_state=0), X[:1200],
               y[:1200])  # fmt: skip
    return clf, X[1200:], y[1200:]


def test_in_a_network_trains_saves_and_predicts_each_sample_alone(bn_net):
    clf, X, y = bn_net
    assert clf.score(X, y) > 0.8
    norms = [i for i, layer in enumerate(clf.layers_)
             if isinstance(layer, BatchNormalization)]  # fmt: skip
    assert len(norms) == 3
    for i in norms:
        mean, var = clf.states_[i]
        assert np.abs(mean).sum() > 0 and not np.allclose(var, 1)
        assert clf._decays[i] == [False, False]  # gamma, beta: never decayed
    proba = clf.predict_proba(X[:50])
    for i in (0, 31):
        np.testing.assert_array_equal(clf.predict_proba(X[i][None]), proba[[i]])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X[:50]), proba)
    assert "BatchNormalization()" in clf.summary()


def test_onnx_export_agrees(bn_net):
    pytest.importorskip("onnxruntime")
    from tests.test_onnx import assert_same_as_skcnn

    clf, X, y = bn_net
    assert_same_as_skcnn(clf, X, y, min_accuracy=0.8)


def test_lbfgs_is_refused_with_batch_statistics():
    X, y = load_digits_images(return_X_y=True, scale=True)
    stack = [Flatten(), Dense(8), BatchNormalization()]
    with pytest.raises(ValueError, match="batch statistics"):
        ConvNetClassifier(layers=stack, solver="lbfgs").fit(X[:100], y[:100])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="momentum must be in"):
        BatchNormalization(momentum=0)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        BatchNormalization(epsilon=-1)
