"""Every layer's backward pass against finite differences, forward against numpy."""

import numpy as np
import pytest

from skcnn._kernels._dense import dense_rows, softmax_cross_entropy, softmax_rows
from skcnn._layers import ACTIVATIONS, Activation, Dense


def numeric_gradient(f, x, eps=1e-6):
    """Central differences of the scalar function f at x (float64)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        plus = f()
        flat[i] = keep - eps
        minus = f()
        flat[i] = keep
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def test_dense_forward_backward_match_finite_differences():
    rng = np.random.default_rng(0)
    layer = Dense(4)
    x = rng.standard_normal((5, 3))
    params = layer.init_params((3,), np.random.RandomState(0), np.float64)
    upstream = rng.standard_normal((5, 4))

    def objective():
        return float(np.sum(layer.forward(x, params)[0] * upstream))

    out, cache = layer.forward(x, params)
    np.testing.assert_allclose(out, x @ params[0] + params[1])
    dx, (dweight, dbias) = layer.backward(upstream, cache, params)
    np.testing.assert_allclose(dx, numeric_gradient(objective, x), rtol=1e-6)
    np.testing.assert_allclose(
        dweight, numeric_gradient(objective, params[0]), rtol=1e-6
    )
    np.testing.assert_allclose(dbias, numeric_gradient(objective, params[1]), rtol=1e-6)
    assert layer.backward(upstream, cache, params, need_dx=False)[0] is None
    assert layer.n_params((3,)) == 16 and layer.output_shape((3,)) == (4,)


def test_dense_inference_rows_match_blas_and_are_batch_independent():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((33, 20)).astype(np.float32)
    x[x < 0.3] = 0  # sparse rows take the skip-zero path
    weight = rng.standard_normal((20, 7)).astype(np.float32)
    bias = rng.standard_normal(7).astype(np.float32)
    out = np.empty((33, 7), np.float32)
    dense_rows(x, weight, bias, out)
    np.testing.assert_allclose(
        out, x.astype(np.float64) @ weight + bias, rtol=1e-5, atol=1e-5
    )
    one = np.empty((1, 7), np.float32)
    dense_rows(x[5:6], weight, bias, one)
    np.testing.assert_array_equal(one[0], out[5])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 0.05] = 0.1  # keep relu's kink away from the differences
    upstream = rng.standard_normal((4, 6))
    layer = Activation(name)
    reference = {
        "tanh": np.tanh,
        "relu": lambda v: np.maximum(v, 0),
        "logistic": lambda v: 1 / (1 + np.exp(-v)),
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
    }[name]

    def objective():
        return float(np.sum(layer.forward(x.copy(), [])[0] * upstream))

    out, cache = layer.forward(x.copy(), [])
    np.testing.assert_allclose(out, reference(x), rtol=1e-12)
    dx, grads = layer.backward(upstream.copy(), cache, [])
    assert grads == []
    np.testing.assert_allclose(dx, numeric_gradient(objective, x), rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_value_gradient_and_stability():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 4)) * 3
    target = rng.integers(0, 4, 6)
    weight = rng.random(6) + 0.5
    scale = 1 / weight.sum()

    def loss_of(z):
        dz, losses = np.empty_like(z), np.empty(len(z))
        softmax_cross_entropy(z, target, weight, scale, dz, losses)
        return losses.sum() * scale, dz

    loss, dz = loss_of(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    expected = -(weight * log_p[np.arange(6), target]).sum() * scale
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    np.testing.assert_allclose(
        dz, numeric_gradient(lambda: loss_of(logits)[0], logits), rtol=1e-6, atol=1e-9
    )
    huge = np.array([[1000.0, -1000.0, 0.0]])
    dz, losses = np.empty((1, 3)), np.empty(1)
    softmax_cross_entropy(huge, np.array([1]), np.ones(1), 1.0, dz, losses)
    assert losses[0] == pytest.approx(2000.0)
    np.testing.assert_allclose(dz, [[1.0, -1.0, 0.0]], atol=1e-300)


def test_softmax_rows_sums_to_one_in_float64():
    logits = np.array([[1.0, 2.0, 3.0], [800.0, 0.0, -800.0]], dtype=np.float32)
    out = np.empty((2, 3))
    softmax_rows(logits, out)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-15)
    z = np.exp(np.array([1.0, 2.0, 3.0]) - 3)
    np.testing.assert_allclose(out[0], z / z.sum())
    np.testing.assert_array_equal(out[1], [1.0, 0.0, 0.0])
