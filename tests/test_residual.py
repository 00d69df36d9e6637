"""Residual blocks: the sum, the projection, gradients, PyTorch, and in a network."""

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
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    MaxPool2D,
    Residual,
)
from tests.test_layer_state import _fit
from tests.test_layers import numeric_gradient

# (block, input shape): a projection that crops (8x8 maps read up to row 7 by
# a 1x1 stride-2 convolution), an identity shortcut around an in-place first and
# last activation, and a dense projection
CASES = {
    "strided_projection": (
        [Conv2D(3, 3, padding=1), BatchNormalization(), Activation("tanh"),
         MaxPool2D(2), Conv2D(4, 3, padding=1)],
        (8, 8, 2),
    ),
    "identity": (
        [Activation("tanh"), Conv2D(2, 3, padding=1), Activation("tanh")],
        (5, 5, 2),
    ),
    "dense_projection": ([Dense(6), Activation("tanh"), Dense(3)], (4,)),
}  # fmt: skip


def _setup(case, n=3, seed=0):
    layers, in_shape = CASES[case]
    block = Residual(layers)
    rng = np.random.default_rng(seed)
    params = block.init_params(in_shape, np.random.RandomState(seed), np.float64)
    state = block.init_state(in_shape, np.float64)
    memory = (in_shape[2], in_shape[0], in_shape[1], n) if len(in_shape) == 3 else (
        n, *in_shape)  # fmt: skip
    return block, params, state, rng.standard_normal(memory)


def _reference_forward(block, params, state, x, training):
    """The block's layers one after the other on a copy, plus the shortcut:
    the input, or a 1x1 convolution / dense layer computed by plain loops."""
    in_shape = (x.shape[1], x.shape[2], x.shape[0]) if x.ndim == 4 else x.shape[1:]
    parts = block.unpack(params, state, in_shape)
    out = x.copy()
    for layer, _, p, s in parts[: len(block.layers)]:
        extra = {"state": [a.copy() for a in s]} if s else {}
        out, _ = layer.forward(out, p, training=training, **extra)
    if len(parts) == len(block.layers):
        return out + x
    _, _, (weight, bias), _ = parts[-1]
    if x.ndim == 2:
        return out + x @ weight + bias
    stride = block.projection(in_shape).stride
    picked = x[:, ::stride, ::stride]  # the 1x1 windows that exist
    shortcut = np.zeros(out.shape)
    for k in range(weight.shape[0]):
        for c in range(weight.shape[1]):
            shortcut[k] += weight[k, c, 0, 0] * picked[c]
        shortcut[k] += bias[k]
    return out + shortcut


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("training", [True, False])
def test_forward_is_the_block_plus_its_shortcut(case, training):
    block, params, state, x = _setup(case)
    keep = x.copy()
    expected = _reference_forward(block, params, state, x, training)
    out, _ = block.forward(x, params, training=training, state=state)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(x, keep)  # in-place layers got a copy


@pytest.mark.parametrize("case", CASES)
def test_gradients_match_finite_differences(case):
    block, params, state, x = _setup(case, seed=1)
    upstream = np.random.default_rng(2).standard_normal(
        block.forward(x, params, state=[a.copy() for a in state])[0].shape
    )

    def objective():
        out, _ = block.forward(x, params, state=[a.copy() for a in state])
        return float(np.sum(out * upstream))

    _, cache = block.forward(x, params, state=[a.copy() for a in state])
    dx, grads = block.backward(upstream.copy(), cache, params)
    assert len(grads) == len(params)
    np.testing.assert_allclose(dx, numeric_gradient(objective, x), atol=1e-7)
    for got, wrt in zip(grads, params, strict=True):
        np.testing.assert_allclose(got, numeric_gradient(objective, wrt), atol=1e-7)
    no_dx, same = block.backward(upstream.copy(), cache, params, need_dx=False)
    assert no_dx is None
    for a, b in zip(same, grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_forward_equals_pytorch_with_the_weights_copied_in():
    torch = pytest.importorskip("torch")
    block, params, state, x = _setup("strided_projection", n=4, seed=3)
    (w1, b1, gamma, beta, w2, b2, wp, bp) = (torch.from_numpy(p) for p in params)
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 0, 1, 2)))  # NCHW
    f = torch.nn.functional
    with torch.no_grad():
        inner = f.conv2d(t, w1, b1, padding=1)
        inner = f.batch_norm(inner, None, None, gamma, beta, training=True, eps=1e-5)
        inner = f.max_pool2d(torch.tanh(inner), 2)
        inner = f.conv2d(inner, w2, b2, padding=1)
        expected = inner + f.conv2d(t, wp, bp, stride=2)  # PyTorch floors: 8 -> 4
    out, _ = block.forward(x, params, training=True, state=state)
    np.testing.assert_allclose(out.transpose(3, 0, 1, 2), expected.numpy(), atol=1e-12)


def test_shapes_parameters_and_decay():
    block = Residual(CASES["strided_projection"][0])
    assert block.output_shape((8, 8, 2)) == (4, 4, 4)
    assert block.projection((8, 8, 2)) == Conv2D(4, 1, stride=2)
    parts = block.parts((8, 8, 2))
    assert parts[-1][1] == (7, 7, 2)  # the rows and columns the projection reads
    n_inner = 2 * 9 * 3 + 3 + 6 + 3 * 9 * 4 + 4
    assert block.n_params((8, 8, 2)) == n_inner + 2 * 4 + 4
    params = block.init_params((8, 8, 2), np.random.RandomState(0), np.float32)
    flags = [block.decays(i, p.shape) for i, p in enumerate(params)]
    # kernels decay; biases, BN's scale and shift do not
    assert flags == [True, False, False, False, True, False, True, False]
    assert len(block.init_state((8, 8, 2), np.float32)) == 2  # BN's statistics


def test_bad_blocks_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="non-empty list"):
        Residual([])
    with pytest.raises(ValueError, match="cannot be in a block"):
        Residual([Conv2D(2, 3), "relu"])
    with pytest.raises(ValueError, match="same kind as its input"):
        Residual([Flatten()]).check_input((4, 4, 2))
    with pytest.raises(ValueError, match=r"Residual.layers\[1\]"):
        Residual([Dense(3), Conv2D(2, 3)]).check_input((4,))
    X, y = load_digits_images(return_X_y=True, scale=True)
    clf = ConvNetClassifier(layers=[Residual([Flatten(), Dense(4)])], max_iter=1)
    with pytest.raises(ValueError, match="same kind as its input"):
        clf.fit(X[:50], y[:50])
    stack = [Flatten(), Residual([Dense(8), Dropout(0.5)])]
    with pytest.raises(ValueError, match="deterministic loss"):
        ConvNetClassifier(layers=stack, solver="lbfgs").fit(X[:50], y[:50])


@pytest.fixture(scope="module")
def res_net():
    X, y = load_digits_images(return_X_y=True, scale=True)
    stack = [
        Conv2D(8, 3, padding="same"), BatchNormalization(), Activation("relu"),
        Residual([Conv2D(8, 3, padding=1), BatchNormalization(), Activation("relu"),
                  Conv2D(8, 3, padding=1), BatchNormalization()]),
        Activation("relu"),
        Residual([Conv2D(16, 3, padding=1), BatchNormalization(), Activation("relu"),
                  MaxPool2D(2), Conv2D(16, 3, padding=1), BatchNormalization()]),
        Activation("relu"), GlobalAveragePooling2D(),
        Residual([Dense(16), Activation("relu"), Dense(16)]),
    ]  # fmt: skip
    clf = _fit(ConvNetClassifier(layers=stack, max_iter=6, random_state=0),
               X[:1200], y[:1200])  # fmt: skip
    return clf, X[1200:], y[1200:]


def test_in_a_network_trains_saves_and_predicts_each_sample_alone(res_net, tmp_path):
    clf, X, y = res_net
    assert clf.score(X, y) > 0.85
    assert [n for n in clf.layer_names_ if n.startswith("res")] == ["res1", "res2",
                                                                    "res3"]  # fmt: skip
    summary = clf.summary()
    assert "shortcut: Conv2D(16, size=1, stride=2)" in summary
    assert sum(len(s) for s in clf.states_) == 2 * 5  # five BN layers' statistics
    proba = clf.predict_proba(X[:40])
    for i in (0, 17):
        np.testing.assert_array_equal(clf.predict_proba(X[i][None]), proba[[i]])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X[:40]), proba)
    assert restored._decays == clf._decays
    skops_io = pytest.importorskip("skcnn.io")
    skops_io.save(clf, tmp_path / "res.skops")
    loaded = skops_io.load(tmp_path / "res.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X[:40]), proba)
    assert loaded._decays == clf._decays


def test_onnx_export_agrees(res_net):
    pytest.importorskip("onnxruntime")
    from tests.test_onnx import assert_same_as_skcnn

    clf, X, y = res_net
    assert_same_as_skcnn(clf, X, y, min_accuracy=0.8)
