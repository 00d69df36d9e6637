"""Convolution and pooling kernels against plain numpy loops.

Forward passes are compared with ``tests/_reference.py``; backward passes with
the reference's adjoint, built column by column from the forward reference
(the kernels are linear in each argument, so this is exact, not a finite
difference). Finite differences of whole layers are in ``test_layers.py``.
"""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from skcnn._kernels._conv import (
    _channel_block,
    _is_product,
    _is_wide,
    conv_backward_input,
    conv_backward_weight,
    conv_forward,
)
from skcnn._kernels._pool import pool_backward, pool_forward
from tests._reference import conv2d, pool2d, pool2d_backward


def _out(n, size, stride):
    return (n - size) // stride + 1


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _conv_case(rng, in_c, in_h, in_w, n, n_filters, size, stride, dtype=np.float64):
    x = rng.standard_normal((in_c, in_h, in_w, n)).astype(dtype)
    weight = rng.standard_normal((n_filters, in_c, size, size)).astype(dtype)
    bias = rng.standard_normal(n_filters).astype(dtype)
    shape = (n_filters, _out(in_h, size, stride), _out(in_w, size, stride), n)
    return x, weight, bias, shape


def _run_conv(x, weight, bias, stride, shape):
    out = np.empty(shape, x.dtype)
    conv_forward(x, weight, bias, stride, out)
    return out


def _adjoints(x, weight, stride, dout):
    """Reference gradients of sum(conv(x, weight) * dout) by linearity."""
    zero = np.zeros(len(weight))
    dweight = np.zeros_like(weight)
    for index in np.ndindex(weight.shape):
        unit = np.zeros_like(weight)
        unit[index] = 1
        dweight[index] = np.sum(conv2d(x, unit, zero, stride) * dout)
    dx = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        unit = np.zeros_like(x)
        unit[index] = 1
        dx[index] = np.sum(conv2d(unit, weight, zero, stride) * dout)
    return dweight, dx


@pytest.mark.parametrize(
    "in_c, in_h, in_w, n, n_filters, size, stride",
    [
        (1, 8, 8, 3, 6, 5, 1),  # C1-like: one channel, five-tap groups
        (3, 7, 9, 2, 7, 3, 2),  # stride 2, non-square, 27 taps (remainder 2)
        (2, 6, 6, 5, 11, 2, 3),  # more filters than a block, 8 taps
        (4, 5, 5, 4, 3, 5, 1),  # C5-like: 1x1 output (one matrix product)
        (2, 3, 3, 3, 4, 3, 2),  # the filter covers the input, stride 2
        (1, 4, 4, 1, 1, 1, 1),  # 1x1 filter, one sample
        (5, 6, 7, 3, 9, 1, 1),  # 1x1 filter: one matrix product over all pixels
        (4, 7, 7, 2, 6, 1, 2),  # 1x1 filter with stride 2: direct
    ],
)
def test_conv_kernels_match_reference(in_c, in_h, in_w, n, n_filters, size, stride):
    rng = np.random.default_rng(in_c * 100 + size)
    x, weight, bias, shape = _conv_case(
        rng, in_c, in_h, in_w, n, n_filters, size, stride
    )
    x, weight, bias = _readonly(x, weight, bias)
    out = _run_conv(x, weight, bias, stride, shape)
    np.testing.assert_allclose(out, conv2d(x, weight, bias, stride), rtol=1e-12)
    direct = np.empty(shape)
    conv_forward(x, weight, bias, stride, direct, blas=False)
    np.testing.assert_allclose(direct, out, rtol=1e-12)

    dout = _readonly(rng.standard_normal(shape))[0]
    dweight, dbias = np.empty_like(weight), np.empty_like(bias)
    conv_backward_weight(x, dout, stride, dweight, dbias)
    dx = np.full_like(x, np.nan)  # every element must be written
    conv_backward_input(dout, weight, stride, dx)
    ref_dweight, ref_dx = _adjoints(x, weight, stride, dout)
    np.testing.assert_allclose(dweight, ref_dweight, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dbias, dout.sum(axis=(1, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    in_c=st.integers(1, 4),
    n=st.integers(1, 9),
    n_filters=st.integers(1, 13),
    size=st.integers(1, 5),
    stride=st.integers(1, 3),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 2**16),
)
def test_conv_forward_any_geometry(in_c, n, n_filters, size, stride, extra, seed):
    rng = np.random.default_rng(seed)
    in_h, in_w = size + stride * extra[0], size + stride * extra[1]
    x, weight, bias, shape = _conv_case(
        rng, in_c, in_h, in_w, n, n_filters, size, stride
    )
    np.testing.assert_allclose(
        _run_conv(x, weight, bias, stride, shape),
        conv2d(x, weight, bias, stride),
        rtol=1e-11,
        atol=1e-12,
    )


def test_float32_kernels_are_close_to_float64():
    rng = np.random.default_rng(5)
    x, weight, bias, shape = _conv_case(rng, 6, 14, 14, 64, 16, 5, 1, np.float32)
    out = _run_conv(x, weight, bias, 1, shape)
    reference = conv2d(x.astype(float), weight.astype(float), bias.astype(float))
    np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-4)


def test_same_bits_for_any_thread_count_and_batch_position():
    rng = np.random.default_rng(6)
    x, weight, bias, shape = _conv_case(rng, 6, 14, 14, 128, 16, 5, 1, np.float32)
    dout = rng.standard_normal(shape).astype(np.float32)
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        try:
            dweight, dbias = np.empty_like(weight), np.empty_like(bias)
            conv_backward_weight(x, dout, 1, dweight, dbias)
            dx = np.empty_like(x)
            conv_backward_input(dout, weight, 1, dx)
            results.append((_run_conv(x, weight, bias, 1, shape), dweight, dx))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    # the second half of the samples alone (a multiple of 64 lanes): same bits
    half = np.ascontiguousarray(x[..., 64:])
    out = _run_conv(half, weight, bias, 1, (*shape[:3], 64))
    np.testing.assert_array_equal(out, results[0][0][..., 64:])


def _stride1_adjoints(x, weight, dout):
    """Reference gradients for stride 1, one tap (ky, kx) at a time by einsum."""
    size, (_, out_h, out_w, _) = weight.shape[2], dout.shape
    dweight, dx = np.zeros_like(weight), np.zeros_like(x)
    for ky in range(size):
        for kx in range(size):
            window = (slice(None), slice(ky, ky + out_h), slice(kx, kx + out_w))
            dweight[:, :, ky, kx] = np.einsum("fyxn,cyxn->fc", dout, x[window])
            dx[window] += np.einsum("fc,fyxn->cyxn", weight[:, :, ky, kx], dout)
    return dweight, dx


def test_layer_geometry_picks_the_kernels():
    """LeNet-5's layers and a first layer stay direct; a wide conv2 does not;
    C5 (a 1x1 output) and 1x1 filters with stride 1 are matrix products."""
    assert _is_product((16, 5, 5, 64), 5, 1) and _is_product((32, 8, 8, 64), 1, 1)
    assert not _is_product((32, 8, 8, 64), 1, 2)
    assert not _is_product((32, 8, 8, 64), 3, 1)
    for in_c, n_filters, out_h in [(1, 6, 28), (6, 16, 10), (16, 120, 1), (1, 32, 28)]:
        assert not _is_wide(in_c, n_filters, 5, 1, out_h)
    assert _is_wide(32, 64, 5, 1, 14) and _channel_block(32) == 16
    assert not _is_wide(32, 64, 5, 2, 7)
    assert _channel_block(12) == 4 and _channel_block(10) == 0


@pytest.mark.parametrize(
    "in_c, in_h, in_w, n, n_filters, size",
    [
        (16, 9, 9, 3, 32, 5),  # conv2-like: two blocks of 8 channels
        (12, 8, 10, 2, 33, 5),  # blocks of 4, a lone last filter, non-square
        (10, 8, 8, 1, 40, 5),  # no channel block: direct input gradient
        (24, 6, 7, 2, 32, 3),  # 216 taps: a short last group of five
    ],
)
def test_wide_kernels_match_reference(in_c, in_h, in_w, n, n_filters, size):
    assert _is_wide(in_c, n_filters, size, 1, in_h - size + 1)
    rng = np.random.default_rng(in_c + n_filters)
    x, weight, bias, shape = _conv_case(rng, in_c, in_h, in_w, n, n_filters, size, 1)
    dout = rng.standard_normal(shape)
    x, weight, bias, dout = _readonly(x, weight, bias, dout)
    with threadpool_limits(1, "blas"):
        out = _run_conv(x, weight, bias, 1, shape)
        dweight, dbias = np.full_like(weight, np.nan), np.full_like(bias, np.nan)
        conv_backward_weight(x, dout, 1, dweight, dbias)
        dx = np.full_like(x, np.nan)  # every element must be written
        conv_backward_input(dout, weight, 1, dx)
    np.testing.assert_allclose(out, conv2d(x, weight, bias), rtol=1e-11, atol=1e-12)
    ref_dweight, ref_dx = _stride1_adjoints(x, weight, dout)
    np.testing.assert_allclose(dweight, ref_dweight, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dbias, dout.sum(axis=(1, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)


def test_wide_kernels_same_bits_for_any_thread_count_and_batch_position():
    """conv2 of the benchmark net (32 -> 64 filters on 18x18), float32, n=64."""
    rng = np.random.default_rng(7)
    x, weight, bias, shape = _conv_case(rng, 32, 18, 18, 64, 64, 5, 1, np.float32)
    dout = rng.standard_normal(shape).astype(np.float32)
    results = []
    with threadpool_limits(1, "blas"):
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            try:
                dweight, dbias = np.empty_like(weight), np.empty_like(bias)
                conv_backward_weight(x, dout, 1, dweight, dbias)
                dx = np.empty_like(x)
                conv_backward_input(dout, weight, 1, dx)
                out = _run_conv(x, weight, bias, 1, shape)
                results.append((out, dweight, dbias, dx))
            finally:
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        # sample 5 alone in a batch padded with zeros to 64: the same bits
        alone = np.zeros_like(x)
        alone[..., 0] = x[..., 5]
        out_alone = _run_conv(alone, weight, bias, 1, shape)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out_alone[..., 0], results[0][0][..., 5])
    reference = conv2d(x[..., :2].astype(float), weight.astype(float), bias)
    np.testing.assert_allclose(results[0][0][..., :2], reference, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize(
    "channels, in_h, in_w, n, size, stride",
    [(3, 8, 8, 4, 2, 2), (2, 7, 5, 3, 3, 2), (1, 6, 6, 2, 3, 1), (2, 5, 5, 1, 5, 1)],
)
def test_pool_kernels_match_reference(mode, channels, in_h, in_w, n, size, stride):
    rng = np.random.default_rng(size * 10 + stride)
    x = _readonly(rng.standard_normal((channels, in_h, in_w, n)))[0]
    shape = (channels, _out(in_h, size, stride), _out(in_w, size, stride), n)
    out = np.empty(shape)
    pool_forward(x, size, stride, mode == "max", out)
    np.testing.assert_allclose(out, pool2d(x, size, stride, mode), rtol=1e-13)

    dout = rng.standard_normal(shape)
    dx = np.full_like(x, np.nan)
    pool_backward(x, out, dout, size, stride, mode == "max", dx)
    # reference: the gradient of sum(pool(x) * dout), by perturbing each input
    eps, expected = 1e-6, np.zeros_like(x)
    for index in np.ndindex(x.shape):
        bumped = x.copy()
        bumped[index] += eps
        expected[index] = (
            np.sum((pool2d(bumped, size, stride, mode) - out) * dout) / eps
        )
    np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-6)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = np.ones((1, 2, 2, 1))
    out = np.empty((1, 1, 1, 1))
    pool_forward(x, 2, 2, True, out)
    dx = np.empty_like(x)
    pool_backward(x, out, np.full((1, 1, 1, 1), 3.0), 2, 2, True, dx)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[3.0, 0.0], [0.0, 0.0]])


@settings(max_examples=25, deadline=None)
@given(
    channels=st.integers(1, 3),
    n=st.integers(1, 6),
    size=st.integers(1, 4),
    stride=st.integers(1, 3),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    use_max=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_pool_kernels_any_geometry(channels, n, size, stride, extra, use_max, seed):
    rng = np.random.default_rng(seed)
    in_h, in_w = size + stride * extra[0], size + stride * extra[1]
    x = rng.standard_normal((channels, in_h, in_w, n))
    shape = (channels, extra[0] + 1, extra[1] + 1, n)
    out = np.empty(shape)
    pool_forward(x, size, stride, use_max, out)
    mode = "max" if use_max else "avg"
    # an average can cancel to near zero: its rounding is relative to the inputs
    atol = 1e-15 * np.abs(x).max()
    np.testing.assert_allclose(
        out, pool2d(x, size, stride, mode), rtol=1e-13, atol=atol
    )
    dout = rng.standard_normal(shape)
    dx = np.full_like(x, np.nan)
    pool_backward(x, out, dout, size, stride, use_max, dx)
    expected = pool2d_backward(x, dout, size, stride, mode)
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-14)


@settings(max_examples=15, deadline=None)
@given(
    in_c=st.integers(1, 3),
    n=st.integers(1, 4),
    n_filters=st.integers(1, 7),
    size=st.integers(1, 3),
    stride=st.integers(1, 2),
    extra=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_conv_backward_any_geometry(in_c, n, n_filters, size, stride, extra, seed):
    rng = np.random.default_rng(seed)
    side = size + stride * extra
    x, weight, bias, shape = _conv_case(rng, in_c, side, side, n, n_filters, size,
                                        stride)  # fmt: skip
    dout = rng.standard_normal(shape)
    dweight, dbias = np.empty_like(weight), np.empty_like(bias)
    conv_backward_weight(x, dout, stride, dweight, dbias)
    dx = np.full_like(x, np.nan)
    conv_backward_input(dout, weight, stride, dx)
    ref_dweight, ref_dx = _adjoints(x, weight, stride, dout)
    np.testing.assert_allclose(dweight, ref_dweight, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (3, 1)])
def test_max_pool_ties_in_every_sample_match_the_reference(size, stride):
    """Many ties (values 0..2): each sample's window gives its gradient to its own
    first maximum, whatever the other samples hold."""
    rng = np.random.default_rng(size + stride)
    x = rng.integers(0, 3, (2, 7, 7, 37)).astype(np.float32)
    shape = (2, _out(7, size, stride), _out(7, size, stride), 37)
    out, dx = np.empty(shape, np.float32), np.empty_like(x)
    pool_forward(x, size, stride, True, out)
    dout = rng.standard_normal(shape).astype(np.float32)
    pool_backward(x, out, dout, size, stride, True, dx)
    expected = pool2d_backward(x, dout.astype(np.float64), size, stride, "max")
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-6)
