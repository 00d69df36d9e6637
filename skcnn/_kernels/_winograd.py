"""3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3).

Each 2x2 block of output pixels (a *tile*) is computed from the 4x4 input patch
under it with 16 multiplications per (filter, channel) pair instead of 36
(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)::

    out_tile = A^T [ (G w G^T) * (B^T d B) ] A        (* elementwise, 4x4)

With the 16 positions ``e`` of the 4x4 transformed tile, the sum over input
channels becomes 16 independent matrix products per tile,
``M[e] = U[e] (n_filters, in_c) @ V[e] (in_c, lanes)``, where ``U = G w G^T``
(the filters, transformed once per call) and ``V = B^T d B`` (the input patches,
transformed tile by tile). That is 2.25x fewer multiply-adds than the direct
sum; the transforms themselves are additions only.

Batch-last maps ``(channels, height, width, n)`` make every transform an
elementwise loop over the ``n`` samples of a pixel, and every ``V[e]`` a
``(in_c, n)`` matrix whose columns are the samples. Each parallel task owns one
row of tiles: it transforms the four input rows under it once (the row pass of
``B^T d``, over the whole padded width), then per tile the columns (``... B``),
runs the 16 products and the output transform. Zero padding is applied while
transforming (the input is never copied padded).

The products run in BLAS (numba's ``np.dot``: hold BLAS to one thread around
these kernels). BLAS may round a column differently by its place in the
matrix, so these kernels serve training only: at inference a sample's output
must not depend on its batch, and the direct kernels guarantee it. (A numba
register tile for the products, measured at 60-110 GFLOP/s on one core against
BLAS's 220-250, made the Winograd forward pass slower than the direct one.)

The two gradients are Winograd convolutions too. The input gradient is the
forward pass of the output gradient, zero-padded by ``2 - pad``, with the
filters flipped and their channel axes swapped. The weight gradient is the
transpose of the forward map ``w -> out``:
``dw = G^T [ sum over tiles and samples of (A dout A^T) * (B^T d B) ] G``, i.e.
16 products ``dU[e] = Mt[e] (n_filters, lanes) @ V[e]^T (lanes, in_c)`` per
tile, summed per task and then over tasks in order.

Rounding differs from the direct sum: F(2x2, 3x3)'s transforms only add and
halve, and the measured error against a float64 reference is of the same order
as the direct kernels' (``tests/test_winograd.py`` bounds it). Every task owns
whole rows of the result and every sum runs in a fixed order, so results do not
depend on the number of threads.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
"""The filter transform of F(2x2, 3x3): a 3-tap filter to its 4 products."""


def winograd_fits(in_c, n_filters, size, stride, pad, out_h, out_w):
    """Whether a layer runs the Winograd kernels.

    3x3 filters with stride 1 and at most 2 pixels of padding, an even output
    (whole tiles), and enough channels and filters for the 16 products to pay
    for the transforms (below that, the direct kernels are faster:
    ``benchmarks/bench_conv.py`` measures both).
    """
    return (
        size == 3
        and stride == 1
        and pad <= 2
        and out_h % 2 == 0
        and out_w % 2 == 0
        and out_h >= 4
        and in_c >= 8
        and n_filters >= 8
    )


def transform_filters(weight):
    """``U[e] = (G w G^T)[e]`` as a (16, n_filters, in_c) array of weight's dtype.

    One matrix product: ``vec(G w G^T) = (G kron G) vec(w)`` for every filter
    and channel at once.
    """
    n_filters, in_c = weight.shape[:2]
    taps = weight.reshape(n_filters * in_c, 9)
    u = _kron_g(weight.dtype) @ taps.T  # (16, n_filters * in_c)
    return u.reshape(16, n_filters, in_c)


_KRON_G = np.kron(_G, _G)
"""``G kron G`` (16, 9): a 3x3 filter (row-major) to its 4x4 transform."""


def _kron_g(dtype):
    return _KRON_G.astype(dtype, copy=False)


def _flipped(weight):
    """The filters of the input gradient: flipped, channel axes swapped."""
    return np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


@jit
def _rows_pass(x, pad, y0, zero, T):
    """``T[c, q] = (B^T d)[q]``: the four (zero-padded) input rows from ``y0``.

    x : (in_c, in_h, in_w, n); zero : (in_w, n) zeros; T : (in_c, 4, in_w +
    2 * pad, n), overwritten. Row ``y0`` is row ``y0 - pad`` of x.
    """
    in_c, in_h, in_w = x.shape[:3]
    for c in range(in_c):
        rows = []
        for i in range(4):
            y = y0 + i - pad
            rows.append(x[c, y] if 0 <= y < in_h else zero)
        r0, r1 = rows[0].reshape(-1), rows[1].reshape(-1)
        r2, r3 = rows[2].reshape(-1), rows[3].reshape(-1)
        for q in range(4):
            T[c, q, :pad] = 0
            T[c, q, pad + in_w :] = 0
        t0, t1 = T[c, 0, pad : pad + in_w], T[c, 1, pad : pad + in_w]
        t2, t3 = T[c, 2, pad : pad + in_w], T[c, 3, pad : pad + in_w]
        t0, t1, t2, t3 = t0.reshape(-1), t1.reshape(-1), t2.reshape(-1), t3.reshape(-1)
        # one output per loop: each vectorises without aliasing checks
        for i in range(r0.shape[0]):
            t0[i] = r0[i] - r2[i]
        for i in range(r0.shape[0]):
            t1[i] = r1[i] + r2[i]
        for i in range(r0.shape[0]):
            t2[i] = r2[i] - r1[i]
        for i in range(r0.shape[0]):
            t3[i] = r1[i] - r3[i]


@jit
def _columns_pass(T, x0, V, lane0):
    """``V[4q + j, c, lane0:][:n] = (T[c, q] B)[j]``: the tile whose patch is at x0."""
    in_c, n = T.shape[0], T.shape[3]
    for q in range(4):
        for c in range(in_c):
            a, b = T[c, q, x0], T[c, q, x0 + 1]
            m, d = T[c, q, x0 + 2], T[c, q, x0 + 3]
            v0, v1 = V[4 * q, c, lane0 : lane0 + n], V[4 * q + 1, c, lane0 : lane0 + n]
            v2, v3 = (
                V[4 * q + 2, c, lane0 : lane0 + n],
                V[4 * q + 3, c, lane0 : lane0 + n],
            )
            for i in range(n):
                v0[i] = a[i] - m[i]
            for i in range(n):
                v1[i] = b[i] + m[i]
            for i in range(n):
                v2[i] = m[i] - b[i]
            for i in range(n):
                v3[i] = b[i] - d[i]


@jit
def _output_pass(M, S, bias, out, y0, x0):
    """``out[:, y0:y0+2, x0:x0+2] = bias + A^T M A`` (S: (8, n_filters, n) scratch)."""
    n_filters, n = M.shape[1], M.shape[2]
    m, s = M.reshape(16, -1), S.reshape(8, -1)
    width = m.shape[1]
    for j in range(4):
        a, b, c, d = m[j], m[4 + j], m[8 + j], m[12 + j]
        s0, s1 = s[j], s[4 + j]
        for i in range(width):
            s0[i] = a[i] + b[i] + c[i]
        for i in range(width):
            s1[i] = b[i] - c[i] - d[i]
    for r in range(2):
        p0, p1, p2, p3 = S[4 * r], S[4 * r + 1], S[4 * r + 2], S[4 * r + 3]
        for f in range(n_filters):
            o0, o1 = out[f, y0 + r, x0], out[f, y0 + r, x0 + 1]
            bf = bias[f]
            for i in range(n):
                o0[i] = bf + (p0[f, i] + p1[f, i] + p2[f, i])
            for i in range(n):
                o1[i] = bf + (p1[f, i] - p2[f, i] - p3[f, i])


@jit(parallel=True)
def _forward(x, U, bias, pad, out):
    """:func:`winograd_forward` with the filters already transformed."""
    in_c, _, in_w, n = x.shape
    n_filters = U.shape[1]
    tiles_h, tiles_w = out.shape[1] // 2, out.shape[2] // 2
    zero = np.zeros((in_w, n), x.dtype)
    for ty in prange(tiles_h):
        T = np.empty((in_c, 4, in_w + 2 * pad, n), x.dtype)
        V = np.empty((16, in_c, n), x.dtype)
        M = np.empty((16, n_filters, n), x.dtype)
        S = np.empty((8, n_filters, n), x.dtype)
        _rows_pass(x, pad, 2 * ty, zero, T)
        for tx in range(tiles_w):
            _columns_pass(T, 2 * tx, V, 0)
            for e in range(16):
                np.dot(U[e], V[e], M[e])
            _output_pass(M, S, bias, out, 2 * ty, 2 * tx)


def winograd_forward(x, weight, bias, pad, out):
    """``out = bias + conv(x zero-padded by pad, weight)`` for 3x3 stride-1 filters.

    x : (in_c, in_h, in_w, n), C-contiguous, not padded; weight : (n_filters,
    in_c, 3, 3); bias : (n_filters,); out : (n_filters, out_h, out_w, n) with
    even ``out_h``, ``out_w``, overwritten.
    """
    _forward(x, transform_filters(weight), bias, pad, out)


def winograd_backward_input(dout, weight, pad, dx):
    """The gradient of the (unpadded) input: ``dx`` (in_c, in_h, in_w, n), overwritten.

    The forward pass of dout zero-padded by ``2 - pad`` with the filters
    flipped and transposed (see the module's docstring).
    """
    no_bias = np.zeros(weight.shape[1], dx.dtype)
    _forward(dout, transform_filters(_flipped(weight)), no_bias, 2 - pad, dx)


_PAIRS = np.array([[0, 2, -1], [1, 2, 1], [2, 1, -1], [1, 3, -1]])
"""Row ``q`` of ``B^T`` as (first index, second index, sign of the second): its
only two non-zero entries (the first is +1)."""

_A_ROWS = np.array([[1, 0], [1, 1], [1, -1], [0, -1]])
"""``A`` (4, 2): row ``q`` of ``A dout`` combines the tile's two rows so."""


@jit
def _row_combination(x, pad, y0, q, zero, Tq):
    """``Tq[c] = (B^T d)[q]``: row ``q`` of the transform of the four rows from y0.

    x : (in_c, in_h, in_w, n); Tq : (in_c, in_w + 2 * pad, n), overwritten,
    zero-padded. Row ``y0`` is row ``y0 - pad`` of x; zero : (in_w, n) zeros.
    """
    in_c, in_h, in_w = x.shape[:3]
    a, b = y0 + _PAIRS[q, 0] - pad, y0 + _PAIRS[q, 1] - pad
    sign = x.dtype.type(_PAIRS[q, 2])
    for c in range(in_c):
        ra = (x[c, a] if 0 <= a < in_h else zero).reshape(-1)
        rb = (x[c, b] if 0 <= b < in_h else zero).reshape(-1)
        Tq[c, :pad] = 0
        Tq[c, pad + in_w :] = 0
        t = Tq[c, pad : pad + in_w].reshape(-1)
        for i in range(t.shape[0]):
            t[i] = ra[i] + sign * rb[i]


@jit
def _column_combination(Tq, x0, j, Ve, lane0):
    """``Ve[c, lane0:][:n] = (Tq[c] B)[j]`` for the tile whose patch is at x0."""
    in_c, n = Tq.shape[0], Tq.shape[2]
    a, b = x0 + _PAIRS[j, 0], x0 + _PAIRS[j, 1]
    sign = Tq.dtype.type(_PAIRS[j, 2])
    for c in range(in_c):
        ta, tb, v = Tq[c, a], Tq[c, b], Ve[c, lane0 : lane0 + n]
        for i in range(n):
            v[i] = ta[i] + sign * tb[i]


@jit
def _gradient_combination(dout, y0, x0, q, j, Me, lane0):
    """``Me[:, lane0:][:, :n] = (A dout A^T)[q, j]`` for the output tile at (y0, x0).

    Coefficients are 0 and +-1, so every value is exact sums of dout's.
    """
    n_filters, n = dout.shape[0], dout.shape[3]
    one = dout.dtype.type(1)
    top, bottom = one * _A_ROWS[q, 0], one * _A_ROWS[q, 1]
    left, right = one * _A_ROWS[j, 0], one * _A_ROWS[j, 1]
    for f in range(n_filters):
        p, s = dout[f, y0, x0], dout[f, y0, x0 + 1]
        r, t = dout[f, y0 + 1, x0], dout[f, y0 + 1, x0 + 1]
        m = Me[f, lane0 : lane0 + n]
        for i in range(n):
            m[i] = left * (top * p[i] + bottom * r[i]) + right * (
                top * s[i] + bottom * t[i]
            )


@jit(parallel=True)
def _backward_filters(x, dout, pad, chunk, dU):
    """``dU[ty, e] = sum over row ty's tiles of Me @ Ve^T``, ``chunk`` tiles a product.

    One transform position ``e`` at a time, so that its two operands (lanes:
    ``chunk`` tiles, a divisor of a row's tiles, x the samples) stay in cache;
    each product sums over all their lanes in BLAS, and the chunks' products
    are added in order.
    """
    in_c, _, in_w, n = x.shape
    n_filters = dout.shape[0]
    tiles_h, tiles_w = dout.shape[1] // 2, dout.shape[2] // 2
    zero = np.zeros((in_w, n), x.dtype)
    for ty in prange(tiles_h):
        Tq = np.empty((in_c, in_w + 2 * pad, n), x.dtype)
        Ve = np.empty((in_c, chunk * n), x.dtype)
        Me = np.empty((n_filters, chunk * n), x.dtype)
        part = np.empty((n_filters, in_c), x.dtype)
        for q in range(4):
            _row_combination(x, pad, 2 * ty, q, zero, Tq)
            for j in range(4):
                total = dU[ty, 4 * q + j]
                for t0 in range(0, tiles_w, chunk):
                    for t in range(chunk):
                        x0 = 2 * (t0 + t)
                        _column_combination(Tq, x0, j, Ve, t * n)
                        _gradient_combination(dout, 2 * ty, x0, q, j, Me, t * n)
                    if t0 == 0:
                        np.dot(Me, Ve.T, total)
                    else:
                        np.dot(Me, Ve.T, part)
                        total += part


_LANES = 512
"""Lanes (tiles x samples) summed by one product of the weight gradient."""


def winograd_backward_weight(x, dout, pad, dweight, dbias):
    """The weight and bias gradients of a Winograd layer, overwritten.

    x : the layer's unpadded input; dout : (n_filters, out_h, out_w, n);
    dweight : (n_filters, in_c, 3, 3); dbias : (n_filters,).
    """
    tiles_h = dout.shape[1] // 2
    dU = np.empty((tiles_h, 16, *dweight.shape[:2]), dweight.dtype)
    tiles_w = dout.shape[2] // 2
    chunk = max(
        c
        for c in range(1, tiles_w + 1)
        if tiles_w % c == 0 and (c == 1 or c * dout.shape[3] <= _LANES)
    )
    _backward_filters(x, dout, pad, chunk, dU)
    total = dU[0].copy()
    for part in dU[1:]:  # in order: the same bits for any thread count
        total += part
    # dw = G^T dU G for every filter and channel: vec(dw) = (G kron G)^T vec(dU)
    n_filters, in_c = dweight.shape[:2]
    dw = _kron_g(dweight.dtype).T @ total.reshape(16, n_filters * in_c)  # (9, f*c)
    dweight.reshape(n_filters * in_c, 9)[...] = dw.T
    dbias[...] = dout.reshape(dout.shape[0], -1).sum(axis=1)
