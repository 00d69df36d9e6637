"""Every layer's backward pass against finite differences, forward against numpy."""

import numpy as np
import pytest

from skcnn._kernels._dense import dense_rows, softmax_cross_entropy, softmax_rows
from skcnn._layers import (
    ACTIVATIONS,
    POOLING,
    Activation,
    Conv2D,
    Dense,
    Flatten,
    ImageInput,
    Pool2D,
    output_size,
)
from tests._reference import conv2d, pool2d


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


def _check_layer_gradients(layer, x, params, need_dx=True, rtol=1e-6):
    """Forward once, backward once, and compare with central differences."""
    rng = np.random.default_rng(7)
    out, cache = layer.forward(x.copy(), params)
    upstream = rng.standard_normal(out.shape)

    def objective():
        return float(np.sum(layer.forward(x.copy(), params)[0] * upstream))

    dx, grads = layer.backward(upstream.copy(), cache, params, need_dx)
    for param, grad in zip(params, grads, strict=True):
        np.testing.assert_allclose(
            grad, numeric_gradient(objective, param), rtol=rtol, atol=1e-8
        )
    if need_dx:
        np.testing.assert_allclose(
            dx, numeric_gradient(objective, x), rtol=rtol, atol=1e-8
        )
    return out


@pytest.mark.parametrize(
    "n_filters, size, stride, padding, in_shape",
    [(3, 3, 1, 0, (2, 6, 6)), (4, 3, 2, 1, (3, 7, 7)), (2, 5, 1, 2, (1, 5, 5))],
)
def test_conv2d_layer_gradients_and_shape(n_filters, size, stride, padding, in_shape):
    layer = Conv2D(n_filters, size, stride=stride, padding=padding)
    params = layer.init_params(in_shape, np.random.RandomState(0), np.float64)
    x = np.random.default_rng(1).standard_normal((*in_shape, 3))
    out = _check_layer_gradients(layer, x, params)
    assert out.shape == (*layer.output_shape(in_shape), 3)
    assert layer.n_params(in_shape) == sum(p.size for p in params)
    p = padding
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    np.testing.assert_allclose(out, conv2d(padded, *params, stride), rtol=1e-12)


@pytest.mark.parametrize("mode", POOLING)
def test_pool2d_layer_gradients(mode):
    layer = Pool2D(2, mode=mode)
    x = np.random.default_rng(2).standard_normal((3, 6, 4, 2))
    out = _check_layer_gradients(layer, x, [])
    np.testing.assert_allclose(out, pool2d(x, 2, 2, mode))
    assert layer.output_shape((3, 6, 4)) == (3, 3, 2)


def test_max_pool_backward_survives_an_in_place_activation_after_it():
    layer, activation = Pool2D(2, mode="max"), Activation("tanh")
    x = np.random.default_rng(3).standard_normal((1, 4, 4, 2))
    out, cache = layer.forward(x, [])
    activation.forward(out, [])  # tanh in place on the pooled maps
    dx, _ = layer.backward(np.ones_like(out), cache, [])
    assert np.count_nonzero(dx) == out.size  # one maximum per window


def test_flatten_and_image_input_round_trip_and_gradients():
    rng = np.random.default_rng(4)
    images = rng.standard_normal((3, 5, 4, 2))  # (n, h, w, c)
    layer = ImageInput((5, 4, 2), field=(8, 7), offset=0.5, scale=2.0)
    maps = _check_layer_gradients(layer, images.reshape(3, -1), [])
    assert maps.shape == (2, 8, 7, 3) == (*layer.output_shape(None), 3)
    top, left = (8 - 5) // 2, (7 - 4) // 2
    inside = maps[:, top : top + 5, left : left + 4]
    np.testing.assert_allclose(inside.transpose(3, 1, 2, 0), (images - 0.5) * 2.0)
    border = np.ones(maps.shape, bool)
    border[:, top : top + 5, left : left + 4] = False
    np.testing.assert_array_equal(maps[border], -1.0)  # a padded zero, standardised
    flat = _check_layer_gradients(Flatten(), maps, [])
    np.testing.assert_array_equal(flat, maps.reshape(-1, 3).T)
    with pytest.raises(ValueError, match="do not fit the input field 4x4"):
        ImageInput((5, 4, 1), field=(4, 4)).output_shape(None)


def test_geometry_errors_show_the_formula():
    with pytest.raises(ValueError, match=r"\(28 - 5 \+ 2\*0\) / 2 \+ 1 = 12.5"):
        Conv2D(6, 5, stride=2).output_shape((1, 28, 28))
    with pytest.raises(ValueError, match=r"does not fit .* = -3 < 1"):
        Conv2D(6, 7).output_shape((1, 3, 3))
    with pytest.raises(ValueError, match="not a whole number"):
        Pool2D(2).output_shape((6, 7, 8))
    assert output_size("C1", 32, 5, 1, 0) == 28
