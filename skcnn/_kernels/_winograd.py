"""Stride-1 convolutions by Winograd's minimal filtering: F(2x2, 3x3), F(2x2, 5x5).

Each 2x2 block of output pixels (a *tile*) is computed from the ``a x a`` input
patch under it (``a = r + 1`` for ``r x r`` filters) with ``a**2``
multiplications per (filter, channel) pair instead of ``4 r**2`` (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2016)::

    out_tile = A^T [ (G w G^T) * (B^T d B) ] A        (* elementwise, a x a)

With the ``a**2`` positions ``e`` of the transformed tile, the sum over input
channels becomes independent matrix products,
``M[e] = U[e] (n_filters, in_c) @ V[e] (in_c, lanes)``, where ``U = G w G^T``
(the filters, transformed once per call as one product with ``G kron G``) and
``V = B^T d B`` (the input patches): 2.25x fewer multiply-adds than the direct
sum for 3x3 filters (16 for 36), 2.78x for 5x5 (36 for 100). The transforms
are sums with small integer coefficients (:data:`TRANSFORMS`).

Batch-last maps ``(channels, height, width, n)`` make every transform an
elementwise loop over the ``n`` samples of a pixel, and every ``V[e]`` a
``(in_c, lanes)`` matrix whose columns are samples. Each parallel task owns one
row of tiles and transforms the input rows under it once (the row pass,
``B^T d``, over the whole padded width), then the columns (``... B``). Zero
padding is applied while transforming (the input is never copied padded).
3x3 layers run kernels written for their matrices, per tile: all 16 positions,
16 products, the output transform. 5x5 layers go one position at a time
(:func:`_forward_by_position`): its transform for the whole row of tiles, one
product, and its share of every tile's four outputs, so that the 36
transformed patches are never held at once.

The products run in BLAS (numba's ``np.dot``: hold BLAS to one thread around
these kernels). BLAS may round a column differently by its place in the
matrix, so these kernels serve training only: at inference a sample's output
must not depend on its batch, and the direct kernels guarantee it. (A numba
register tile for the products, measured at 60-110 GFLOP/s on one core against
BLAS's 220-250, made the Winograd forward pass slower than the direct one.)

The two gradients are Winograd convolutions too. The input gradient is the
forward pass of the output gradient, zero-padded by ``r - 1 - pad``, with the
filters flipped and their channel axes swapped. The weight gradient is the
transpose of the forward map ``w -> out``:
``dw = G^T [ sum over tiles and samples of (A dout A^T) * (B^T d B) ] G``: per
row of tiles and position ``e``, products ``Me (n_filters, lanes) @ Ve^T
(lanes, in_c)``, one position at a time so that both operands stay in cache,
summed per task and then over tasks in order.

Rounding differs from the direct sum. F(2x2, 3x3)'s transforms only add and
halve: its error against a float64 reference is of the direct kernels' order
(measured up to 9 eps x sum |w||x| on log-normal inputs, direct 6);
F(2x2, 5x5)'s coefficients (up to 5 in ``B``, 1/24 in ``G``) make it larger
(up to 125 eps x sum |w||x|, direct 9). ``tests/kernels/test_winograd.py``
bounds both by the transforms' magnitudes. Every task owns whole rows of the
result and every sum runs in a fixed order, so results do not depend on the
number of threads.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit

TRANSFORMS = {
    3: (
        np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], float),
        np.array([[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], float),
    ),
    5: (
        np.array(
            [
                [4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1],
            ],
            float,
        ),
        np.array(
            [
                [1 / 4, 0, 0, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
                [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
                [0, 0, 0, 0, 1],
            ]
        ),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]], float),
    ),
}
"""``(B^T, G, A^T)`` of F(2x2, r x r) by filter size ``r``: interpolation at
0, 1, -1 (and 2, -2 for r = 5) and infinity. The 3x3 forward pass has its own
kernels written for these matrices (:func:`_rows_pass` and the next two)."""


def winograd_fits(in_c, n_filters, size, stride, pad, out_h, out_w):
    """Whether a layer trains by the Winograd kernels.

    3x3 or 5x5 filters with stride 1 and less padding than the filter's size,
    an even output (whole tiles), and enough channels and filters for the
    products to pay for the transforms (below that, e.g. a first layer of 1 or
    3 channels, the direct kernels are faster: ``benchmarks/bench_conv.py``
    measures both).
    """
    return (
        size in TRANSFORMS
        and stride == 1
        and pad < size
        and out_h % 2 == 0
        and out_w % 2 == 0
        and out_h >= 4
        and in_c >= 8
        and n_filters >= 8
    )


def transform_filters(weight):
    """``U[e] = (G w G^T)[e]`` as an (a**2, n_filters, in_c) array of weight's dtype.

    One matrix product: ``vec(G w G^T) = (G kron G) vec(w)`` for every filter
    and channel at once.
    """
    n_filters, in_c, size, _ = weight.shape
    taps = weight.reshape(n_filters * in_c, size * size)
    u = _kron_g(size, weight.dtype) @ taps.T  # (a**2, n_filters * in_c)
    return u.reshape(-1, n_filters, in_c)


_KRON_G = {size: np.kron(g, g) for size, (_, g, _) in TRANSFORMS.items()}
"""``G kron G`` (a**2, r**2) by filter size: a filter (row-major) to its
transform."""


def _kron_g(size, dtype):
    return _KRON_G[size].astype(dtype, copy=False)


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
    y = y0 - pad
    for c in range(in_c):
        r0 = (x[c, y] if 0 <= y < in_h else zero).reshape(-1)
        r1 = (x[c, y + 1] if 0 <= y + 1 < in_h else zero).reshape(-1)
        r2 = (x[c, y + 2] if 0 <= y + 2 < in_h else zero).reshape(-1)
        r3 = (x[c, y + 3] if 0 <= y + 3 < in_h else zero).reshape(-1)
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
    """``out = bias + conv(x zero-padded by pad, weight)`` for stride-1 filters.

    x : (in_c, in_h, in_w, n), C-contiguous, not padded; weight : (n_filters,
    in_c, r, r) with r = 3 or 5; bias : (n_filters,); out : (n_filters, out_h,
    out_w, n) with even ``out_h``, ``out_w``, overwritten.
    """
    size = weight.shape[2]
    U = transform_filters(weight)
    if size == 3:
        _forward(x, U, bias, pad, out)
    else:
        index, weights = _terms(TRANSFORMS[size][0])
        at = TRANSFORMS[size][2].astype(x.dtype)
        _forward_by_position(x, U, bias, pad, index, weights, at, out)


def winograd_backward_input(dout, weight, pad, dx):
    """The gradient of the (unpadded) input: ``dx`` (in_c, in_h, in_w, n), overwritten.

    The forward pass of dout zero-padded by ``r - 1 - pad`` with the filters
    flipped and transposed (see the module's docstring).
    """
    no_bias = np.zeros(weight.shape[1], dx.dtype)
    size = weight.shape[2]
    winograd_forward(dout, _flipped(weight), no_bias, size - 1 - pad, dx)


def _terms(matrix):
    """Each row's non-zero entries, four per row: (indices, weights), each (rows, 4).

    Rows with fewer repeat their first index with a zero weight."""
    rows = matrix.shape[0]
    indices, weights = np.zeros((rows, 4), np.int64), np.zeros((rows, 4))
    for r in range(rows):
        (nonzero,) = np.nonzero(matrix[r])
        indices[r] = nonzero[0]
        indices[r, : len(nonzero)] = nonzero
        weights[r, : len(nonzero)] = matrix[r, nonzero]
    return indices, weights


@jit
def _row_terms(x, pad, y0, index, weight, zero, Tq):
    """``Tq[c] = (B^T d)[q]``: a row of B^T (its ``index`` and ``weight``, four
    terms) applied to the input rows from ``y0``.

    x : (in_c, in_h, in_w, n); Tq : (in_c, in_w + 2 * pad, n), overwritten,
    zero-padded. Row ``y0`` is row ``y0 - pad`` of x; zero : (in_w, n) zeros.
    """
    in_c, in_h, in_w = x.shape[:3]
    y = y0 - pad + index
    w0, w1 = x.dtype.type(weight[0]), x.dtype.type(weight[1])
    w2, w3 = x.dtype.type(weight[2]), x.dtype.type(weight[3])
    for c in range(in_c):
        r0 = (x[c, y[0]] if 0 <= y[0] < in_h else zero).reshape(-1)
        r1 = (x[c, y[1]] if 0 <= y[1] < in_h else zero).reshape(-1)
        r2 = (x[c, y[2]] if 0 <= y[2] < in_h else zero).reshape(-1)
        r3 = (x[c, y[3]] if 0 <= y[3] < in_h else zero).reshape(-1)
        Tq[c, :pad] = 0
        Tq[c, pad + in_w :] = 0
        t = Tq[c, pad : pad + in_w].reshape(-1)
        for i in range(t.shape[0]):
            t[i] = (w0 * r0[i] + w1 * r1[i]) + (w2 * r2[i] + w3 * r3[i])


@jit
def _column_terms(Tq, x0, index, weight, Ve, lane0):
    """``Ve[c, lane0:][:n] = (Tq[c] B)[j]`` for the tile whose patch is at x0
    (column j of B: its ``index`` and ``weight``, four terms)."""
    in_c, n = Tq.shape[0], Tq.shape[2]
    col = x0 + index
    w0, w1 = Tq.dtype.type(weight[0]), Tq.dtype.type(weight[1])
    w2, w3 = Tq.dtype.type(weight[2]), Tq.dtype.type(weight[3])
    for c in range(in_c):
        t0, t1 = Tq[c, col[0]], Tq[c, col[1]]
        t2, t3 = Tq[c, col[2]], Tq[c, col[3]]
        v = Ve[c, lane0 : lane0 + n]
        for i in range(n):
            v[i] = (w0 * t0[i] + w1 * t1[i]) + (w2 * t2[i] + w3 * t3[i])


@jit
def _gradient_combination(dout, y0, x0, at, q, j, Me, lane0):
    """``Me[:, lane0:][:, :n] = (A dout A^T)[q, j]`` for the output tile at (y0, x0).

    at : A^T (2, a); its entries are small integers.
    """
    n_filters, n = dout.shape[0], dout.shape[3]
    top, bottom, left, right = at[0, q], at[1, q], at[0, j], at[1, j]
    for f in range(n_filters):
        p, s = dout[f, y0, x0], dout[f, y0, x0 + 1]
        r, t = dout[f, y0 + 1, x0], dout[f, y0 + 1, x0 + 1]
        m = Me[f, lane0 : lane0 + n]
        for i in range(n):
            m[i] = left * (top * p[i] + bottom * r[i]) + right * (
                top * s[i] + bottom * t[i]
            )


@jit
def _accumulate_outputs(Me, coefficients, Y):
    """``Y[k] += coefficients[k] * Me`` for the four outputs of a tile row."""
    m = Me.reshape(-1)
    for k in range(4):
        w = coefficients[k]
        if w == 0:
            continue
        o = Y[k].reshape(-1)
        for i in range(m.shape[0]):
            o[i] += w * m[i]


@jit(parallel=True)
def _forward_by_position(x, U, bias, pad, index, weight, at, out):
    """The forward pass one transform position at a time (for 5x5 filters).

    Per row of tiles, each position ``e = q * a + j``: the input patches'
    transform ``Ve`` (in_c, tiles x samples), one product ``U[e] @ Ve``, and its
    share of the four outputs of every tile (``A^T[:, q] A^T[:, j]``), so
    that the a**2 transformed patches are never held at once.
    """
    in_c, _, in_w, n = x.shape
    size, n_filters = index.shape[0], U.shape[1]
    tiles_h, tiles_w = out.shape[1] // 2, out.shape[2] // 2
    lanes = tiles_w * n
    zero = np.zeros((in_w, n), x.dtype)
    for ty in prange(tiles_h):
        Tq = np.empty((in_c, in_w + 2 * pad, n), x.dtype)
        Ve = np.empty((in_c, lanes), x.dtype)
        Me = np.empty((n_filters, lanes), x.dtype)
        Y = np.zeros((4, n_filters, lanes), x.dtype)
        coefficients = np.empty(4, x.dtype)
        for q in range(size):
            _row_terms(x, pad, 2 * ty, index[q], weight[q], zero, Tq)
            for j in range(size):
                for tx in range(tiles_w):
                    _column_terms(Tq, 2 * tx, index[j], weight[j], Ve, tx * n)
                np.dot(U[q * size + j], Ve, Me)
                for a in range(2):
                    for b in range(2):
                        coefficients[2 * a + b] = at[a, q] * at[b, j]
                _accumulate_outputs(Me, coefficients, Y)
        for a in range(2):
            for b in range(2):
                for f in range(n_filters):
                    bf = bias[f]
                    row = Y[2 * a + b, f]
                    for tx in range(tiles_w):
                        o = out[f, 2 * ty + a, 2 * tx + b]
                        for i in range(n):
                            o[i] = bf + row[tx * n + i]


@jit(parallel=True)
def _backward_filters(x, dout, pad, index, weight, at, chunk, dU):
    """``dU[ty, e] = sum over row ty's tiles of Me @ Ve^T``, ``chunk`` tiles a product.

    One transform position ``e`` at a time, so that its two operands (lanes:
    ``chunk`` tiles, a divisor of a row's tiles, x the samples) stay in cache;
    each product sums over all their lanes in BLAS, and the chunks' products
    are added in order.
    """
    in_c, _, in_w, n = x.shape
    size, n_filters = index.shape[0], dout.shape[0]
    tiles_h, tiles_w = dout.shape[1] // 2, dout.shape[2] // 2
    zero = np.zeros((in_w, n), x.dtype)
    for ty in prange(tiles_h):
        Tq = np.empty((in_c, in_w + 2 * pad, n), x.dtype)
        Ve = np.empty((in_c, chunk * n), x.dtype)
        Me = np.empty((n_filters, chunk * n), x.dtype)
        part = np.empty((n_filters, in_c), x.dtype)
        for q in range(size):
            _row_terms(x, pad, 2 * ty, index[q], weight[q], zero, Tq)
            for j in range(size):
                total = dU[ty, size * q + j]
                for t0 in range(0, tiles_w, chunk):
                    for t in range(chunk):
                        x0 = 2 * (t0 + t)
                        _column_terms(Tq, x0, index[j], weight[j], Ve, t * n)
                        _gradient_combination(dout, 2 * ty, x0, at, q, j, Me, t * n)
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
    dweight : (n_filters, in_c, r, r); dbias : (n_filters,).
    """
    n_filters, in_c, size, _ = dweight.shape
    tiles_h, tiles_w = dout.shape[1] // 2, dout.shape[2] // 2
    chunk = max(
        c
        for c in range(1, tiles_w + 1)
        if tiles_w % c == 0 and (c == 1 or c * dout.shape[3] <= _LANES)
    )
    b_t, _, a_t = TRANSFORMS[size]
    index, weight = _terms(b_t)
    dU = np.empty((tiles_h, (size + 1) ** 2, n_filters, in_c), dweight.dtype)
    _backward_filters(x, dout, pad, index, weight, a_t.astype(x.dtype), chunk, dU)
    total = dU[0].copy()
    for part in dU[1:]:  # in order: the same bits for any thread count
        total += part
    # dw = G^T dU G for every filter and channel: vec(dw) = (G kron G)^T vec(dU)
    dw = _kron_g(size, dweight.dtype).T @ total.reshape(-1, n_filters * in_c)
    dweight.reshape(n_filters * in_c, size * size)[...] = dw.T
    dbias[...] = dout.reshape(n_filters, -1).sum(axis=1)
