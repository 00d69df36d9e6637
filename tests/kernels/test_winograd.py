"""The Winograd F(2x2, 3x3) and F(2x2, 5x5) kernels against numpy loops and float64.

Forward passes are compared with ``tests/_reference.py`` in float64 (where the
transforms are exact up to rounding), the two gradients with the reference's
adjoint; float32 results are bounded by the error analysis of the transforms;
a Conv2D layer that trains by Winograd is checked against finite differences.
"""

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skcnn._kernels._winograd import (
    TRANSFORMS,
    transform_filters,
    winograd_backward_input,
    winograd_backward_weight,
    winograd_fits,
    winograd_forward,
)
from skcnn.layers import Conv2D
from tests._reference import conv2d
from tests.kernels.test_conv import _stride1_adjoints
from tests.test_layers import numeric_gradient


def _case(rng, in_c, size, n, n_filters, dtype=np.float64, filter_size=3):
    x = rng.standard_normal((in_c, size, size, n)).astype(dtype)
    shape = (n_filters, in_c, filter_size, filter_size)
    weight = rng.standard_normal(shape).astype(dtype)
    bias = rng.standard_normal(n_filters).astype(dtype)
    return x, weight, bias


def _forward(x, weight, bias, pad):
    out_size = x.shape[1] + 2 * pad - weight.shape[2] + 1
    out = np.full((len(weight), out_size, out_size, x.shape[3]), np.nan, x.dtype)
    winograd_forward(x, weight, bias, pad, out)
    return out


def _padded(a, pad):
    return np.pad(a, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


@pytest.mark.parametrize(
    "in_c, size, n, n_filters, pad, r",
    [
        (8, 6, 3, 8, 1, 3),  # "same" padding, three tiles a row
        (9, 8, 5, 10, 1, 3),  # channel and filter counts off any block size
        (16, 6, 2, 11, 0, 3),  # no padding: 4x4 output
        (8, 4, 4, 8, 2, 3),  # two pixels of padding
        (12, 10, 1, 16, 1, 3),  # one sample
        (8, 6, 3, 9, 2, 5),  # 5x5 "same"
        (10, 10, 2, 8, 1, 5),  # 5x5 with one pixel of padding: 8x8 output
        (8, 8, 4, 8, 0, 5),  # 5x5 without padding: 4x4 output
        (9, 4, 3, 8, 4, 5),  # 5x5 with four pixels of padding
    ],
)
def test_winograd_matches_reference(in_c, size, n, n_filters, pad, r):
    rng = np.random.default_rng(in_c * 10 + pad + r)
    x, weight, bias = _case(rng, in_c, size, n, n_filters, filter_size=r)
    reference = conv2d(x, weight, bias, 1, pad)
    dout = rng.standard_normal(reference.shape)
    with threadpool_limits(1, "blas"):
        out = _forward(x, weight, bias, pad)
        dweight = np.full_like(weight, np.nan)
        dbias = np.full_like(bias, np.nan)
        winograd_backward_weight(x, dout, pad, dweight, dbias)
        dx = np.full_like(x, np.nan)  # every element must be written
        winograd_backward_input(dout, weight, pad, dx)
    np.testing.assert_allclose(out, reference, rtol=1e-11, atol=1e-11)
    ref_dweight, ref_dx = _stride1_adjoints(_padded(x, pad), weight, dout)
    np.testing.assert_allclose(dweight, ref_dweight, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dbias, dout.sum(axis=(1, 2, 3)), rtol=1e-12)
    interior = (slice(None), slice(pad, pad + size), slice(pad, pad + size))
    np.testing.assert_allclose(dx, ref_dx[interior], rtol=1e-10, atol=1e-10)


def _winograd_magnitude(x, weight, pad):
    """``A^T [sum_c |G||w||G^T| * |B^T||d||B|] A``: what rounding scales with."""
    size = weight.shape[2]
    b_t, g, a_t = (np.abs(m) for m in TRANSFORMS[size])
    d = _padded(np.abs(x), pad)
    u = g @ np.abs(weight) @ g.T  # (f, c, a, a)
    tiles_h, tiles_w = (d.shape[1] - size + 1) // 2, (d.shape[2] - size + 1) // 2
    out = np.empty((len(weight), 2 * tiles_h, 2 * tiles_w, x.shape[3]))
    for ty in range(tiles_h):
        for tx in range(tiles_w):
            patch = d[:, 2 * ty : 2 * ty + size + 1, 2 * tx : 2 * tx + size + 1]
            v = np.einsum("ai,cijn,bj->cabn", b_t, patch, b_t)
            m = np.einsum("fcab,cabn->fabn", u, v)
            y = np.einsum("pa,fabn,qb->fpqn", a_t, m, a_t)
            out[:, 2 * ty : 2 * ty + 2, 2 * tx : 2 * tx + 2] = y
    return out


@pytest.mark.parametrize("r, direct_factor", [(3, 32), (5, 256)])
@pytest.mark.parametrize("spread", [0.0, 2.0])
def test_float32_error_is_within_the_transforms_bound(spread, r, direct_factor):
    """|float32 - exact| <= (in_c + a**2) eps x the transforms' magnitude.

    Inputs with log-normal magnitudes (``spread``) make cancellation likely.
    The error is also compared with the direct sum's scale, ``eps sum |w||x|``.
    """
    rng = np.random.default_rng(7)
    x, weight, bias = _case(rng, 32, 8, 6, 16, np.float32, filter_size=r)
    x *= np.exp(spread * rng.standard_normal(x.shape)).astype(np.float32)
    pad = (r - 1) // 2
    with threadpool_limits(1, "blas"):
        out = _forward(x, weight, bias, pad)
    x64, w64, b64 = x.astype(float), weight.astype(float), bias.astype(float)
    exact = conv2d(x64, w64, b64, 1, pad)
    eps = np.finfo(np.float32).eps
    magnitude = _winograd_magnitude(x64, w64, pad) + np.abs(b64)[:, None, None, None]
    assert np.all(np.abs(out - exact) <= (32 + (r + 1) ** 2) * eps * magnitude)
    direct_scale = conv2d(np.abs(x64), np.abs(w64), np.abs(b64), 1, pad)
    assert np.max(np.abs(out - exact) / (eps * direct_scale)) < direct_factor


@pytest.mark.parametrize("r", [3, 5])
def test_filter_transform_is_G_w_G_transposed(r):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((5, 4, r, r))
    g = TRANSFORMS[r][1]
    expected = np.einsum("ai,fcij,bj->abfc", g, weight, g).reshape(-1, 5, 4)
    np.testing.assert_allclose(transform_filters(weight), expected, atol=1e-14)


@pytest.mark.parametrize("r", [3, 5])
def test_one_dimensional_identity(r):
    """``A^T [(G g) * (B^T d)]`` is the correlation of d with g, exactly in float64."""
    b_t, g, a_t = TRANSFORMS[r]
    rng = np.random.default_rng(r)
    taps, signal = rng.standard_normal(r), rng.standard_normal(r + 1)
    expected = [taps @ signal[i : i + r] for i in range(2)]
    np.testing.assert_allclose(
        a_t @ ((g @ taps) * (b_t @ signal)), expected, rtol=1e-13
    )


def test_same_bits_for_any_thread_count():
    rng = np.random.default_rng(4)
    x, weight, bias = _case(rng, 16, 12, 64, 32, np.float32)
    dout = rng.standard_normal((32, 12, 12, 64)).astype(np.float32)
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        try:
            with threadpool_limits(1, "blas"):
                dweight, dbias = np.empty_like(weight), np.empty_like(bias)
                winograd_backward_weight(x, dout, 1, dweight, dbias)
                dx = np.empty_like(x)
                winograd_backward_input(dout, weight, 1, dx)
                results.append((_forward(x, weight, bias, 1), dweight, dbias, dx))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_which_layers_run_winograd():
    """3x3 and 5x5 stride-1 layers with 8+ channels and filters, an even output."""
    assert winograd_fits(32, 32, 3, 1, 1, 32, 32)  # the VGG-style 3x3 layers
    assert winograd_fits(32, 64, 5, 1, 2, 14, 14)  # the MNIST ConvNet's conv2
    assert not winograd_fits(3, 32, 3, 1, 1, 32, 32)  # an RGB first layer
    assert not winograd_fits(1, 32, 5, 1, 2, 28, 28)  # a grey first layer
    assert not winograd_fits(6, 16, 5, 1, 0, 10, 10)  # LeNet-5's C3
    assert not winograd_fits(32, 32, 7, 1, 3, 16, 16)  # 7x7
    assert not winograd_fits(32, 32, 3, 2, 1, 16, 16)  # stride 2
    assert not winograd_fits(32, 32, 3, 1, 1, 7, 7)  # an odd output
    assert not winograd_fits(32, 32, 3, 1, 3, 36, 36)  # padding beyond 2


def test_conv2d_trains_by_winograd_and_predicts_directly():
    """The layer's training pass (Winograd) matches finite differences, and its
    inference pass (direct kernels) agrees with the training pass."""
    rng = np.random.default_rng(8)
    layer = Conv2D(8, 3, padding="same")
    params = layer.init_params((4, 4, 8), np.random.RandomState(0), np.float64)
    x = rng.standard_normal((8, 4, 4, 2))
    upstream = rng.standard_normal((8, 4, 4, 2))
    out, cache = layer.forward(x, params, training=True)
    assert cache[1], "the training pass should run the Winograd kernels"
    inference, _ = layer.forward(x, params, training=False)
    np.testing.assert_allclose(out, inference, rtol=1e-12, atol=1e-12)
    dx, (dweight, dbias) = layer.backward(upstream, cache, params)

    def objective():
        return float(np.sum(layer.forward(x, params, training=True)[0] * upstream))

    np.testing.assert_allclose(dx, numeric_gradient(objective, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        dweight, numeric_gradient(objective, params[0]), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(
        dbias, numeric_gradient(objective, params[1]), rtol=1e-6, atol=1e-8
    )
