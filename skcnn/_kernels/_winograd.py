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
    """``U[e] = (G w G^T)[e]`` as a (16, n_filters, in_c) array of weight's dtype."""
    g = _G.astype(weight.dtype)
    u = g @ weight @ g.T  # (n_filters, in_c, 4, 4)
    return np.ascontiguousarray(u.transpose(2, 3, 0, 1)).reshape(16, *weight.shape[:2])


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
def _columns_pass(T, x0, V):
    """``V[4q + j, c] = (T[c, q] B)[j]`` for the tile whose patch starts at ``x0``."""
    in_c, n = T.shape[0], T.shape[3]
    for q in range(4):
        for c in range(in_c):
            a, b = T[c, q, x0], T[c, q, x0 + 1]
            m, d = T[c, q, x0 + 2], T[c, q, x0 + 3]
            v0, v1 = V[4 * q, c], V[4 * q + 1, c]
            v2, v3 = V[4 * q + 2, c], V[4 * q + 3, c]
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
            _columns_pass(T, 2 * tx, V)
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


@jit
def _gradient_tiles(dout, y0, x0, Mt):
    """``Mt[e] = (A dout A^T)[e]`` for the 2x2 output tile at (y0, x0), every filter."""
    n_filters, n = dout.shape[0], dout.shape[3]
    for f in range(n_filters):
        p, q = dout[f, y0, x0], dout[f, y0, x0 + 1]
        r, s = dout[f, y0 + 1, x0], dout[f, y0 + 1, x0 + 1]
        # rows of A dout: (p, q), (p + r, q + s), (p - r, q - s), (-r, -s);
        # then each times A^T along the columns: (a, a + b, a - b, -b)
        for i in range(n):
            Mt[0, f, i] = p[i]
            Mt[1, f, i] = p[i] + q[i]
            Mt[2, f, i] = p[i] - q[i]
            Mt[3, f, i] = -q[i]
        for i in range(n):
            a, b = p[i] + r[i], q[i] + s[i]
            Mt[4, f, i] = a
            Mt[5, f, i] = a + b
            Mt[6, f, i] = a - b
            Mt[7, f, i] = -b
        for i in range(n):
            a, b = p[i] - r[i], q[i] - s[i]
            Mt[8, f, i] = a
            Mt[9, f, i] = a + b
            Mt[10, f, i] = a - b
            Mt[11, f, i] = -b
        for i in range(n):
            Mt[12, f, i] = -r[i]
            Mt[13, f, i] = -(r[i] + s[i])
            Mt[14, f, i] = s[i] - r[i]
            Mt[15, f, i] = s[i]


@jit(parallel=True)
def _backward_filters(x, dout, pad, dU):
    """``dU[ty] = sum over the tiles of row ty of Mt[e] @ V[e]^T`` (BLAS)."""
    in_c, _, in_w, n = x.shape
    n_filters = dout.shape[0]
    tiles_h, tiles_w = dout.shape[1] // 2, dout.shape[2] // 2
    zero = np.zeros((in_w, n), x.dtype)
    for ty in prange(tiles_h):
        T = np.empty((in_c, 4, in_w + 2 * pad, n), x.dtype)
        V = np.empty((16, in_c, n), x.dtype)
        Mt = np.empty((16, n_filters, n), x.dtype)
        part = np.empty((n_filters, in_c), x.dtype)
        total = dU[ty]
        total[:] = 0
        _rows_pass(x, pad, 2 * ty, zero, T)
        for tx in range(tiles_w):
            _columns_pass(T, 2 * tx, V)
            _gradient_tiles(dout, 2 * ty, 2 * tx, Mt)
            for e in range(16):
                np.dot(Mt[e], V[e].T, part)
                total[e] += part


def winograd_backward_weight(x, dout, pad, dweight, dbias):
    """The weight and bias gradients of a Winograd layer, overwritten.

    x : the layer's unpadded input; dout : (n_filters, out_h, out_w, n);
    dweight : (n_filters, in_c, 3, 3); dbias : (n_filters,).
    """
    tiles_h = dout.shape[1] // 2
    dU = np.empty((tiles_h, 16, *dweight.shape[:2]), dweight.dtype)
    _backward_filters(x, dout, pad, dU)
    total = dU[0].copy()
    for part in dU[1:]:  # in order: the same bits for any thread count
        total += part
    g = _G.astype(dweight.dtype)
    u = total.reshape(4, 4, *dweight.shape[:2]).transpose(2, 3, 0, 1)
    dweight[...] = g.T @ u @ g
    dbias[...] = dout.reshape(dout.shape[0], -1).sum(axis=1)
