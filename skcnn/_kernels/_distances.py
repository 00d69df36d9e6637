"""Nearest-neighbour kernels: centred float32 tiles, L1/L2 blocks fused with top-k.

The Python side (``skcnn._knn``) walks the training set in tiles and the queries
in chunks; these kernels never validate and never allocate per pair.

Layout: ``queries`` is ``(n_queries, n_features)`` float32 with ``n_queries`` a
multiple of 8 (the caller pads); ``train`` is a ``(n_tile, n_features)`` float32
tile whose first row has global index ``offset``. ``best_dist`` /
``best_index`` ``(n_queries, k)`` hold each query's k smallest distances so far in
ascending order (``inf`` / ``-1`` when empty); each thread owns whole query rows.

Ties keep the earlier training index: tiles arrive in index order and a
candidate replaces a kept neighbour only if strictly closer.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit

_RUN = 64
"""Training rows whose dot products are computed before they are merged."""


@jit(parallel=True)
def center_rows(rows, center, out, out_sq_norms):
    """``out[i] = rows[i] - center`` as float32 and ``out_sq_norms[i] = |out[i]|²``.

    rows : (n, d) uint8 or float32; center : (d,) float32;
    out : (>= n, d) float32; out_sq_norms : (>= n,) float64.
    """
    for i in prange(rows.shape[0]):
        total = 0.0
        for k in range(rows.shape[1]):
            value = np.float32(rows[i, k]) - center[k]
            out[i, k] = value
            total += np.float64(value) * np.float64(value)
        out_sq_norms[i] = total


@jit
def _push(best_dist, best_index, row, dist, index):
    """Insert (dist, index) into row ``row`` of the ascending top-k lists."""
    k = best_dist.shape[1]
    if not dist < best_dist[row, k - 1]:
        return
    pos = k - 1
    while pos > 0 and best_dist[row, pos - 1] > dist:
        best_dist[row, pos] = best_dist[row, pos - 1]
        best_index[row, pos] = best_index[row, pos - 1]
        pos -= 1
    best_dist[row, pos] = dist
    best_index[row, pos] = index


@jit
def _eight_rows(x, i):
    """The rows ``x[i:i+8]`` as a tuple of eight 1-D views."""
    return (x[i], x[i + 1], x[i + 2], x[i + 3], x[i + 4], x[i + 5], x[i + 6], x[i + 7])


@jit
def _dot_8x2(rows, t, u):
    """Dot products of eight query rows with the vectors ``t`` and ``u``.

    Eight queries against two training rows share every load: the register tile
    that lets LLVM keep 16 vector accumulators busy.
    """
    q0, q1, q2, q3, q4, q5, q6, q7 = rows
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.float32(0.0)
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = np.float32(0.0)
    for k in range(t.shape[0]):
        x, y = t[k], u[k]
        # fmt: off
        a0 += q0[k] * x; a1 += q1[k] * x; a2 += q2[k] * x; a3 += q3[k] * x  # noqa: E702
        a4 += q4[k] * x; a5 += q5[k] * x; a6 += q6[k] * x; a7 += q7[k] * x  # noqa: E702
        b0 += q0[k] * y; b1 += q1[k] * y; b2 += q2[k] * y; b3 += q3[k] * y  # noqa: E702
        b4 += q4[k] * y; b5 += q5[k] * y; b6 += q6[k] * y; b7 += q7[k] * y  # noqa: E702
        # fmt: on
    return (a0, a1, a2, a3, a4, a5, a6, a7), (b0, b1, b2, b3, b4, b5, b6, b7)


@jit(parallel=True)
def l2_neighbors(
    queries, query_sq_norms, train, train_sq_norms, offset, best_dist, best_index
):
    """Merge squared L2 distances ``|q|² + |t|² - 2 q·t`` into the top-k lists.

    The dot products accumulate in float32 (callers centre the data first, so the
    cancellation error stays near float32 epsilon times |q|·|t|); the squared
    norms are float64. Per-query arithmetic does not depend on the batch.
    Dot products of a run of ``_RUN`` training rows are computed first, then
    merged, which keeps the merging branches out of the vectorised loop.
    """
    n_train, last = train.shape[0], best_dist.shape[1] - 1
    for group in prange(queries.shape[0] // 8):
        i = 8 * group
        rows = _eight_rows(queries, i)
        dots = np.empty((_RUN, 8), dtype=np.float32)
        for start in range(0, n_train, _RUN):
            stop = min(start + _RUN, n_train)
            for j in range(start, stop, 2):
                j2 = min(j + 1, stop - 1)
                dots[j - start], dots[j2 - start] = _dot_8x2(rows, train[j], train[j2])
            for r in range(8):
                worst, base = best_dist[i + r, last], query_sq_norms[i + r]
                for j in range(start, stop):
                    dist = (
                        base + train_sq_norms[j] - 2.0 * np.float64(dots[j - start, r])
                    )
                    if dist < worst:
                        _push(best_dist, best_index, i + r, dist, offset + j)
                        worst = best_dist[i + r, last]


@jit
def _l1_8x1(rows, t):
    """L1 distances of eight query rows to the vector ``t`` (float32 sums)."""
    q0, q1, q2, q3, q4, q5, q6, q7 = rows
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.float32(0.0)
    for k in range(t.shape[0]):
        x = t[k]
        # fmt: off
        a0 += abs(q0[k] - x); a1 += abs(q1[k] - x)  # noqa: E702
        a2 += abs(q2[k] - x); a3 += abs(q3[k] - x)  # noqa: E702
        a4 += abs(q4[k] - x); a5 += abs(q5[k] - x)  # noqa: E702
        a6 += abs(q6[k] - x); a7 += abs(q7[k] - x)  # noqa: E702
        # fmt: on
    return (a0, a1, a2, a3, a4, a5, a6, a7)


@jit(parallel=True)
def l1_neighbors(queries, train, offset, best_dist, best_index):
    """Merge L1 distances ``sum_k |q_k - t_k|`` (float32 sums) into the top-k lists.

    Exact for uint8 images: every partial sum is an integer below 2**24.
    """
    for group in prange(queries.shape[0] // 8):
        i = 8 * group
        rows = _eight_rows(queries, i)
        for j in range(train.shape[0]):
            dists = _l1_8x1(rows, train[j])
            for r in range(8):
                _push(best_dist, best_index, i + r, np.float64(dists[r]), offset + j)
