"""Every layer's backward pass against finite differences, forward against numpy;
the public API of skcnn.layers."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from skcnn import layers
from skcnn._kernels._dense import (
    dense_rows,
    logistic_cross_entropy,
    softmax_cross_entropy,
    softmax_rows,
)
from skcnn._layers import (
    ACTIVATIONS,
    POOLING,
    Activation,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    ImageInput,
    RandomAffine,
    output_size,
    walk_shapes,
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
    np.testing.assert_allclose(dx, numeric_gradient(objective, x), rtol=1e-6, atol=1e-8)
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
        "identity": lambda v: v,
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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_cross_entropy_value_gradient_and_stability(dtype):
    """One sigmoid per column: the reference is plain numpy with logaddexp."""
    rng = np.random.default_rng(4)
    logits = (rng.standard_normal((6, 3)) * 3).astype(dtype)
    target = (rng.random((6, 3)) > 0.5).astype(dtype)
    weight = rng.random(6) + 0.5
    scale = 1 / weight.sum()

    def loss_of(z):
        dz, losses = np.empty_like(z), np.empty(len(z))
        logistic_cross_entropy(z, target, weight, scale, dz, losses)
        return losses.sum() * scale, dz

    loss, dz = loss_of(logits)
    z = logits.astype(np.float64)
    per_label = np.logaddexp(0, z) - target * z  # -log p(t | z)
    expected = (weight * per_label.sum(axis=1)).sum() * scale
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    sigmoid = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(
        dz, scale * weight[:, None] * (sigmoid - target), rtol=1e-6, atol=1e-9
    )
    if dtype == np.float64:
        np.testing.assert_allclose(
            dz, numeric_gradient(lambda: loss_of(logits)[0], logits), rtol=1e-6,
            atol=1e-9,
        )  # fmt: skip
    huge = np.array([[1000.0, -1000.0]])
    dz, losses = np.empty((1, 2)), np.empty(1)
    logistic_cross_entropy(huge, np.array([[0.0, 0.0]]), np.ones(1), 1.0, dz, losses)
    assert losses[0] == pytest.approx(1000.0)
    np.testing.assert_allclose(dz, [[1.0, 0.0]], atol=1e-300)


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
    [
        (3, 3, 1, 0, (6, 6, 2)),
        (4, 3, 2, 1, (7, 7, 3)),
        (2, 5, 1, 2, (5, 5, 1)),
        (3, 3, 1, "same", (5, 4, 2)),
        (2, 3, 2, "valid", (7, 5, 2)),
    ],
)
def test_conv2d_layer_gradients_and_shape(n_filters, size, stride, padding, in_shape):
    layer = Conv2D(n_filters, size, stride=stride, padding=padding)
    params = layer.init_params(in_shape, np.random.RandomState(0), np.float64)
    height, width, channels = in_shape
    x = np.random.default_rng(1).standard_normal((channels, height, width, 3))
    out = _check_layer_gradients(layer, x, params)
    out_h, out_w, filters = layer.output_shape(in_shape)
    assert out.shape == (filters, out_h, out_w, 3)
    assert layer.n_params(in_shape) == sum(p.size for p in params)
    p = layer.pad
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    np.testing.assert_allclose(out, conv2d(padded, *params, stride), rtol=1e-12)


@pytest.mark.parametrize("mode", POOLING)
@pytest.mark.parametrize("size, stride", [(2, None), (3, 2)])
def test_pool2d_layer_gradients(mode, size, stride):
    layer = POOLING[mode](size, stride=stride)
    x = np.random.default_rng(2).standard_normal((3, 7, 5, 2))
    if size == 2:
        x = x[:, :6, :4].copy()
    out = _check_layer_gradients(layer, x, [])
    np.testing.assert_allclose(out, pool2d(x, size, stride or size, mode))
    assert layer.output_shape((*x.shape[1:3], 3)) == (*out.shape[1:3], 3)
    assert layer.mode == mode


def test_max_pool_backward_survives_an_in_place_activation_after_it():
    layer, activation = POOLING["max"](2), Activation("tanh")
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
    assert maps.shape == (2, 8, 7, 3)
    assert layer.output_shape((40,)) == (8, 7, 2)
    top, left = (8 - 5) // 2, (7 - 4) // 2
    inside = maps[:, top : top + 5, left : left + 4]
    np.testing.assert_allclose(inside.transpose(3, 1, 2, 0), (images - 0.5) * 2.0)
    border = np.ones(maps.shape, bool)
    border[:, top : top + 5, left : left + 4] = False
    np.testing.assert_array_equal(maps[border], -1.0)  # a padded zero, standardised
    flat = _check_layer_gradients(Flatten(), maps, [])
    np.testing.assert_array_equal(flat, maps.reshape(-1, 3).T)
    with pytest.raises(ValueError, match="do not fit the input field 4x4"):
        ImageInput((5, 4, 1), field=(4, 4)).output_shape((20,))


def test_geometry_errors_show_the_formula():
    with pytest.raises(ValueError, match=r"\(28 - 5 \+ 2\*0\) / 2 \+ 1 = 12.5"):
        Conv2D(6, 5, stride=2).output_shape((28, 28, 1))
    with pytest.raises(ValueError, match=r"does not fit .* = -3 < 1"):
        Conv2D(6, 7).output_shape((3, 3, 1))
    with pytest.raises(ValueError, match="not a whole number"):
        POOLING["avg"](2).output_shape((7, 8, 6))
    assert output_size("C1", 32, 5, 1, 0) == 28


# -- the public API: skcnn.layers ----------------------------------------------


def test_the_lectures_numbers_come_out_of_the_api():
    conv = layers.Conv2D(10, 5, stride=1, padding=2)
    assert conv.output_shape((32, 32, 3)) == (32, 32, 10)
    assert conv.n_params((32, 32, 3)) == 760  # (5 * 5 * 3 + 1) * 10
    with pytest.raises(ValueError, match=r"\(7 - 3 \+ 2\*0\) / 3 \+ 1 = 2.33333"):
        layers.Conv2D(1, 3, stride=3).output_shape((7, 7, 1))
    # the "common settings": K filters with (F, S, P)
    for filters in (32, 64, 128, 512):
        for size, stride, padding, side in [(3, 1, 1, 33), (5, 1, 2, 33),
                                            (5, 2, 0, 15), (1, 1, 0, 33)]:  # fmt: skip
            layer = layers.Conv2D(filters, size, stride=stride, padding=padding)
            assert layer.output_shape((33, 33, 16)) == (side, side, filters)
            assert layer.n_params((33, 33, 16)) == (size * size * 16 + 1) * filters
    assert layers.MaxPool2D(2).output_shape((32, 32, 64)) == (16, 16, 64)
    assert layers.MaxPool2D(3, stride=2).output_shape((33, 33, 64)) == (16, 16, 64)
    assert layers.Conv2D(8, 3, padding="same").output_shape((9, 7, 3)) == (9, 7, 8)
    assert layers.Conv2D(8, 3, padding="valid").output_shape((9, 7, 3)) == (7, 5, 8)
    assert layers.Flatten().output_shape((7, 7, 64)) == (3136,)
    assert layers.Dense(10).n_params((84,)) == 850
    assert layers.Dropout(0.5).output_shape((128,)) == (128,)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Conv2D(0, 3), "filters must be an integer >= 1; got 0"),
        (lambda: layers.Conv2D(8, 2.5), "size must be an integer"),
        (lambda: layers.Conv2D(8, 4, padding="same"), "needs an odd size"),
        (lambda: layers.Conv2D(8, 3, stride=2, padding="same"), "stride 1"),
        (lambda: layers.Conv2D(8, 3, padding="full"), "'valid' or 'same'"),
        (lambda: layers.Conv2D(8, 3, padding=-1), "padding must be an integer >= 0"),
        (lambda: layers.MaxPool2D(0), "size must be an integer >= 1"),
        (lambda: layers.AvgPool2D(2, stride=0), "stride must be an integer >= 1"),
        (lambda: layers.Dense(0), "units must be an integer >= 1"),
        (lambda: layers.Activation("softplus"), "unknown activation 'softplus'"),
        (lambda: layers.Dropout(1.0), r"rate must be in \[0, 1\); got 1.0"),
        (lambda: layers.Dropout(-0.1), r"rate must be in \[0, 1\)"),
    ],
)
def test_bad_hyperparameters_are_refused_at_once(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_layers_are_plain_parameters_for_clone_repr_and_equality():
    conv = layers.Conv2D(32, 5, padding="same")
    assert repr(conv) == "Conv2D(32, size=5, padding='same')"
    assert conv.get_params() == {"filters": 32, "size": 5, "stride": 1,
                                 "padding": "same", "init_gain": 6.0}  # fmt: skip
    copy = clone(conv, safe=False)
    assert copy == conv and copy is not conv and hash(copy) == hash(conv)
    assert copy.set_params(filters=16) != conv and conv.filters == 32
    with pytest.raises(ValueError, match="no parameter"):
        conv.set_params(kernel=3)
    with pytest.raises(ValueError, match="filters must be"):
        layers.Conv2D(4, 3).set_params(filters=-1)
    assert repr(layers.Flatten()) == "Flatten()" and layers.Flatten().get_params() == {}
    assert repr(layers.MaxPool2D(3, stride=2)) == "MaxPool2D(3, stride=2)"
    assert layers.MaxPool2D(2) != layers.AvgPool2D(2)
    assert pickle.loads(pickle.dumps(conv)) == conv


def test_flatten_passes_flat_input_through():
    x = np.arange(6.0).reshape(2, 3)
    out, cache = layers.Flatten().forward(x, [])
    assert out is x
    assert layers.Flatten().backward(x, cache, [])[0] is x


def test_dropout_is_inverted_random_only_in_training_and_seeded():
    layer = layers.Dropout(0.25)
    x = np.ones((4000, 50), dtype=np.float32)
    out, mask = layer.forward(x, [], training=True, rng=np.random.default_rng(0))
    assert out.dtype == np.float32 and set(np.unique(out)) == {0.0, np.float32(4 / 3)}
    assert abs((out == 0).mean() - 0.25) < 0.01
    assert abs(out.mean() - 1) < 0.01  # the expected output is the input
    again, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)  # the same seed drops the same values
    other, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(1))
    assert not np.array_equal(out, other)
    assert layer.forward(x, [], training=False)[0] is x  # inference: identity
    dx, grads = layer.backward(np.full_like(x, 2.0), mask, [])
    np.testing.assert_array_equal(dx, 2 * mask) and grads == []
    with pytest.raises(ValueError, match="random generator"):
        layer.forward(x, [], training=True)


def test_dropout_gradient_matches_finite_differences_for_a_fixed_mask():
    rng = np.random.default_rng(5)
    layer, x = layers.Dropout(0.4), rng.standard_normal((3, 2, 4, 5))
    upstream = rng.standard_normal(x.shape)

    def objective():
        out, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(9))
        return float(np.sum(out * upstream))

    _, mask = layer.forward(x, [], training=True, rng=np.random.default_rng(9))
    dx, _ = layer.backward(upstream, mask, [])
    np.testing.assert_allclose(dx, numeric_gradient(objective, x), rtol=1e-6, atol=1e-8)


def test_random_affine_is_identity_at_inference_and_seeded_in_training():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 12, 10, 8)).astype(np.float32)
    layer = RandomAffine(shift=0.2, rotation=15, scale=0.1, fill=-1.0)
    assert layer.forward(x, [], training=False)[0] is x
    a, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(3))
    b, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and not np.allclose(a, x)
    still = RandomAffine(shift=0, rotation=0, scale=0)
    same, _ = still.forward(x, [], training=True, rng=np.random.default_rng(3))
    np.testing.assert_allclose(same, x, atol=1e-5)  # no distortion: the identity
    m = layer.matrices(np.random.default_rng(0), 500, 12, 10, np.float64)
    zoom = 1 / np.hypot(m[:, 0], m[:, 1])  # the inverse map's rows shrink by 1/s
    assert zoom.min() >= 0.9 - 1e-9 and zoom.max() <= 1.1 + 1e-9
    with pytest.raises(ValueError, match=r"rotation must be a number in \[0, 180\)"):
        RandomAffine(rotation=200)


@pytest.mark.parametrize(
    "stack, in_shape, message",
    [
        ([layers.Flatten(), layers.Dense(8), layers.Conv2D(4, 3)], (8, 8, 1),
         r"layers\[2\] = Conv2D\(4, size=3\): .*needs feature maps .* gets flat "
         r"samples of shape \(8,\)"),
        ([layers.Conv2D(4, 3), layers.Dense(8)], (8, 8, 1),
         r"layers\[1\] = Dense\(8\): needs flat samples; it gets feature maps of "
         r"shape \(6, 6, 4\) .*Put Flatten\(\) before it"),
        ([layers.MaxPool2D(2)] * 4, (8, 8, 1),
         r"layers\[3\] = MaxPool2D\(2, stride=2\): a window of 2 does not fit an "
         r"input of 1 .*\(1 - 2 \+ 2\*0\) / 2 \+ 1 = 0.5 < 1"),
        ([layers.Activation("relu"), layers.Activation("tanh")], (8, 8, 1),
         r"layers\[1\] = Activation\('tanh'\): directly follows another"),
    ],
)  # fmt: skip
def test_walk_shapes_names_the_layer_that_does_not_fit(stack, in_shape, message):
    with pytest.raises(ValueError, match=message):
        walk_shapes(stack, in_shape)


def test_walk_shapes_returns_every_shape():
    stack = [layers.Conv2D(6, 5), layers.Activation("tanh"), layers.AvgPool2D(2),
             layers.Flatten(), layers.Dense(10)]  # fmt: skip
    assert walk_shapes(stack, (32, 32, 1)) == [
        (32, 32, 1), (28, 28, 6), (28, 28, 6), (14, 14, 6), (1176,), (10,),
    ]  # fmt: skip


@pytest.mark.parametrize("layer", [GlobalAveragePooling2D(), GlobalMaxPooling2D()])
def test_global_pooling_values_gradients_and_batch_independence(layer):
    x = np.random.default_rng(3).standard_normal((3, 5, 4, 6))
    out = _check_layer_gradients(layer, x, [])
    reduce = np.mean if layer.mode == "avg" else np.max
    np.testing.assert_allclose(out, reduce(x, axis=(1, 2)).T, rtol=1e-13)
    assert out.shape == (6, 3) and layer.output_shape((5, 4, 3)) == (3,)
    x32 = np.random.default_rng(4).standard_normal((8, 6, 6, 64)).astype(np.float32)
    whole = layer.forward(x32, [], training=False)[0]
    for lo, hi in [(0, 1), (5, 9), (63, 64)]:
        part = layer.forward(np.ascontiguousarray(x32[..., lo:hi]), [])[0]
        np.testing.assert_array_equal(part, whole[lo:hi])


def test_global_max_pooling_gives_a_tie_to_its_first_value():
    x = np.zeros((1, 2, 2, 1))
    out, cache = GlobalMaxPooling2D().forward(x, [])
    dx, _ = GlobalMaxPooling2D().backward(np.ones_like(out), cache, [])
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0], [0, 0]])


def test_random_affine_flip_mirrors_about_half_of_the_images():
    x = np.random.default_rng(5).standard_normal((2, 6, 7, 400))
    layer = RandomAffine(shift=0, rotation=0, scale=0, flip=True)
    out, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(0))
    same = np.isclose(out, x, atol=1e-12).all(axis=(0, 1, 2))
    mirrored = np.isclose(out, x[:, :, ::-1], atol=1e-12).all(axis=(0, 1, 2))
    assert (same ^ mirrored).all()  # each image whole, one way or the other
    assert 150 < mirrored.sum() < 250
    assert "flip=True" in repr(layer)
    plain = RandomAffine(shift=0, rotation=0, scale=0)
    np.testing.assert_allclose(plain.forward(x, [], rng=np.random.default_rng(0))[0],
                               x, atol=1e-12)  # fmt: skip
