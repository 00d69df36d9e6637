"""Nearest-neighbour kernels: L1/L2 distance blocks fused with top-k selection.

The Python side (``skcnn._knn``) walks the training set in tiles and the queries
in chunks; these kernels never validate and never hold more than a thread's
block of distances.

Layout: ``queries`` is ``(n_queries, n_features)`` with ``n_queries`` a multiple
of 8 (the caller pads); ``train`` is a ``(n_tile, n_features)`` tile whose first
row has global index ``offset``: centred float32 rows for L2 and float32 L1,
the stored uint8 rows themselves for uint8 L1. ``best_dist`` / ``best_index``
``(n_queries, k)`` hold each query's k smallest distances so far in ascending
order (``inf`` / ``-1`` when empty); each thread owns whole query rows.

Ties keep the earlier training index: tiles arrive in index order and a
candidate replaces a kept neighbour only if strictly closer.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit
from skcnn._kernels._simd import sad_tile

_RUN = 256
"""Training rows multiplied by one sgemm before their distances are merged."""


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


@jit(parallel=True)
def l2_neighbors(
    queries, query_sq_norms, train, train_sq_norms, offset, block, best_dist, best_index
):
    """Merge squared L2 distances ``|q|² + |t|² - 2 q·t`` into the top-k lists.

    Each thread takes ``block`` queries at a time and multiplies them with
    ``_RUN`` training rows by one single-threaded sgemm (numba's ``np.dot``: BLAS
    must be held to one thread around the call), then merges those distances
    into its queries' lists while they are still in cache: no
    ``(n_queries, n_train)`` matrix, and no second thread pool beside numba's.
    The dot products are float32 (callers centre the data first, so the
    cancellation error stays near float32 epsilon times |q|·|t|); the squared
    norms and the sums are float64.
    """
    n_queries, n_train = queries.shape[0], train.shape[0]
    last = best_dist.shape[1] - 1
    for task in prange(-(-n_queries // block)):
        lo = task * block
        hi = min(lo + block, n_queries)
        own = queries[lo:hi]
        for start in range(0, n_train, _RUN):
            stop = min(start + _RUN, n_train)
            dots = np.dot(own, train[start:stop].T)
            norms = train_sq_norms[start:stop]
            for r in range(hi - lo):
                row = lo + r
                worst, base = best_dist[row, last], query_sq_norms[row]
                lowest = np.inf  # a vectorised look first: most runs bring nothing
                for j in range(stop - start):
                    lowest = min(lowest, norms[j] - 2.0 * np.float64(dots[r, j]))
                if not base + lowest < worst:
                    continue
                for j in range(stop - start):
                    dist = (
                        base + train_sq_norms[start + j] - 2.0 * np.float64(dots[r, j])
                    )
                    if dist < worst:
                        _push(best_dist, best_index, row, dist, offset + start + j)
                        worst = best_dist[row, last]


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


@jit(parallel=True)
def l1_neighbors_uint8(queries, train, offset, best_dist, best_index):
    """Merge exact L1 distances of uint8 rows (integer sums) into the top-k lists.

    Eight queries against one training row at a time, summed 32 bytes per
    instruction by ``psadbw`` (:func:`skcnn._kernels._simd.sad_tile`; the last
    ``n_features % 16`` bytes are added here). The sums of a run of ``_RUN``
    training rows are stored first, then merged, which keeps the merging
    branches out of the summing loop. Only for x86-64 (``HAS_SAD``).
    """
    n_train, n_features = train.shape
    tail, last = n_features - n_features % 16, best_dist.shape[1] - 1
    for group in prange(queries.shape[0] // 8):
        i = 8 * group
        rows = _eight_rows(queries, i)
        sums = np.empty((_RUN, 8), dtype=np.int64)
        for start in range(0, n_train, _RUN):
            stop = min(start + _RUN, n_train)
            for j in range(start, stop):
                t, out = train[j], sums[j - start]
                (out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7]) = (
                    sad_tile(rows, (t,))
                )
                for k in range(tail, n_features):
                    for r in range(8):
                        out[r] += abs(np.int64(queries[i + r, k]) - np.int64(t[k]))
            for r in range(8):
                worst = best_dist[i + r, last]
                for j in range(start, stop):
                    dist = np.float64(sums[j - start, r])
                    if dist < worst:
                        _push(best_dist, best_index, i + r, dist, offset + j)
                        worst = best_dist[i + r, last]


@jit(parallel=True)
def candidate_distances(queries, train, index, squared, out):
    """float64 distances of each query to its candidates, summed in order.

    ``out[i, c] = sum_k (q_ik - t_jk)²`` (``squared``) or ``sum_k |q_ik - t_jk|``
    with ``j = index[i, c]``, every term in float64: exact for uint8 pixels. A
    pair's distance does not depend on the other pairs.
    queries : (n, d); train : (n_train, d); index : (n, m) int; out : (n, m).
    """
    for i in prange(index.shape[0]):
        q = queries[i]
        for c in range(index.shape[1]):
            t = train[index[i, c]]
            total = 0.0
            for k in range(q.shape[0]):
                diff = np.float64(q[k]) - np.float64(t[k])
                total += diff * diff if squared else abs(diff)
            out[i, c] = total
