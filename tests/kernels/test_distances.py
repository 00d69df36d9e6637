"""The L1/L2 top-k kernels against the plain numpy reference."""

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from numba import njit
from threadpoolctl import threadpool_limits

from skcnn._kernels._distances import (
    center_rows,
    l1_neighbors,
    l1_neighbors_uint8,
    l2_neighbors,
)
from skcnn._kernels._simd import HAS_SAD, sad_tile
from tests._reference import k_nearest, pairwise_distances

needs_sad = pytest.mark.skipif(not HAS_SAD, reason="psadbw is an x86-64 instruction")


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _run(metric, queries, train, k, tile_rows=None, block=8):
    """Drive a kernel the way the estimator does: centred tiles in index order.

    uint8 L1 runs the psadbw kernel on the rows themselves; the rest runs on
    centred float32 tiles (the L2 kernel with ``block`` queries per sgemm).
    """
    if metric == "l1" and queries.dtype == train.dtype == np.uint8 and HAS_SAD:
        return _run_uint8(queries, train, k, tile_rows)
    center = (
        train.mean(axis=0).astype(np.float32)
        if metric == "l2"
        else np.zeros(train.shape[1], np.float32)
    )
    q = np.zeros((len(queries), train.shape[1]), np.float32)
    q_norms = np.zeros(len(queries))
    center_rows(queries, center, q, q_norms)
    best_dist = np.full((len(queries), k), np.inf)
    best_ind = np.full((len(queries), k), -1, dtype=np.intp)
    tile_rows = tile_rows or len(train)
    for offset in range(0, len(train), tile_rows):
        rows = train[offset : offset + tile_rows]
        tile = np.empty((len(rows), train.shape[1]), np.float32)
        norms = np.empty(len(rows))
        center_rows(rows, center, tile, norms)
        tile, norms = _readonly(tile, norms)
        if metric == "l2":
            with threadpool_limits(1, "blas"):
                l2_neighbors(
                    q, q_norms, tile, norms, offset, block, best_dist, best_ind
                )
        else:
            l1_neighbors(q, tile, offset, best_dist, best_ind)
    return best_dist, best_ind


def _run_uint8(queries, train, k, tile_rows=None):
    best_dist = np.full((len(queries), k), np.inf)
    best_ind = np.full((len(queries), k), -1, dtype=np.intp)
    tile_rows = tile_rows or len(train)
    for offset in range(0, len(train), tile_rows):
        rows = train[offset : offset + tile_rows]
        l1_neighbors_uint8(queries, rows, offset, best_dist, best_ind)
    return best_dist, best_ind


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_center_rows_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    rows = (rng.random((13, 37)) * 255).astype(dtype)
    center = rng.random(37).astype(np.float32)
    (rows,) = _readonly(rows)
    out = np.empty((13, 37), np.float32)
    norms = np.empty(13)
    center_rows(rows, center, out, norms)
    expected = rows.astype(np.float32) - center
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(norms, (expected.astype(np.float64) ** 2).sum(1))


@pytest.mark.parametrize(
    ("metric", "dtype"),
    [("l1", np.float32), ("l2", np.float32), ("l1", np.uint8), ("l2", np.uint8)],
)
@pytest.mark.parametrize(
    ("n_queries", "n_train", "n_features", "k", "tile_rows"),
    [
        (8, 1, 1, 1, None),
        (16, 37, 17, 3, 7),  # a tail of 1 byte after psadbw's 16
        (24, 300, 784, 10, 64),  # MNIST rows: 24 steps of 32 bytes and one of 16
        (8, 51, 47, 51, 16),
    ],
)
def test_kernels_match_reference(
    metric, dtype, n_queries, n_train, n_features, k, tile_rows
):
    """uint8 L1 (the psadbw kernel where there is one) is exact; the rest agree
    with the float64 reference to float32 rounding, on the same neighbours."""
    rng = np.random.default_rng(n_train)
    if dtype == np.uint8:
        queries = rng.integers(0, 256, (n_queries, n_features), dtype=np.uint8)
        train = rng.integers(0, 256, (n_train, n_features), dtype=np.uint8)
    else:
        queries = rng.standard_normal((n_queries, n_features)).astype(np.float32)
        train = rng.standard_normal((n_train, n_features)).astype(np.float32)
    queries, train = _readonly(queries, train)
    best_dist, best_ind = _run(metric, queries, train, k, tile_rows)
    ref_dist, ref_ind = k_nearest(queries, train, k, metric)
    np.testing.assert_array_equal(best_ind, ref_ind)
    if metric == "l2":  # the kernel keeps squared distances
        best_dist = np.sqrt(np.maximum(best_dist, 0))
    if metric == "l1" and dtype == np.uint8:
        np.testing.assert_array_equal(best_dist, ref_dist)
    else:
        np.testing.assert_allclose(best_dist, ref_dist, rtol=1e-5, atol=1e-3)


def test_l1_is_exact_on_uint8_and_ties_keep_lower_index():
    rng = np.random.default_rng(1)
    # Few distinct rows, so many exact ties at every rank.
    distinct = rng.integers(0, 256, (5, 200), dtype=np.uint8)
    train = distinct[rng.integers(0, 5, 300)]
    queries = np.ascontiguousarray(distinct[rng.integers(0, 5, 16)])
    best_dist, best_ind = _run("l1", queries, train, 9, tile_rows=64)
    ref_dist, ref_ind = k_nearest(queries, train, 9, "l1")
    np.testing.assert_array_equal(best_dist, ref_dist)  # exact integers
    np.testing.assert_array_equal(best_ind, ref_ind)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_tiles_do_not_change_the_answer(metric):
    """The same neighbours for any tiling; uint8 L1 sums are the same integers.

    L2 dot products come from sgemm, whose rounding may depend on the tile's
    width: the distances agree to float32 rounding (the estimator re-ranks the
    candidates in float64, so its answer does not depend on it).
    """
    rng = np.random.default_rng(2)
    queries = rng.integers(0, 256, (16, 49), dtype=np.uint8)
    train = rng.integers(0, 256, (200, 49), dtype=np.uint8)
    whole = _run(metric, queries, train, 5)
    tiled = _run(metric, queries, train, 5, tile_rows=9)
    np.testing.assert_array_equal(whole[1], tiled[1])
    if metric == "l1":
        np.testing.assert_array_equal(whole[0], tiled[0])
    else:
        np.testing.assert_allclose(whole[0], tiled[0], rtol=1e-6)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_same_bits_for_one_and_two_threads(metric):
    rng = np.random.default_rng(3)
    queries = rng.standard_normal((64, 81)).astype(np.float32)
    train = rng.standard_normal((301, 81)).astype(np.float32)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _run(metric, queries, train, 4)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = _run(metric, queries, train, 4)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("block", [8, 16, 48])
def test_each_query_gets_its_neighbours_in_any_block(block):
    """A query's neighbours do not depend on which queries share its sgemm.

    Its float32 distances may differ in the last bits (sgemm rounds by position);
    the estimator's float64 re-ranking makes its answer independent of the
    batch, which tests/test_knn.py checks bit for bit.
    """
    rng = np.random.default_rng(4)
    queries = rng.standard_normal((48, 50)).astype(np.float32)
    train = rng.standard_normal((300, 50)).astype(np.float32)
    alone = [_run("l2", queries[i : i + 8], train, 3) for i in range(0, 48, 8)]
    permuted = _run("l2", queries[::-1].copy(), train, 3, block=block)
    np.testing.assert_array_equal(
        np.concatenate([ind for _, ind in alone]), permuted[1][::-1]
    )
    np.testing.assert_allclose(
        np.concatenate([dist for dist, _ in alone]), permuted[0][::-1], rtol=1e-6
    )


def test_reference_distances_agree_with_scikit_learn():
    from sklearn.metrics import pairwise_distances as sk_pairwise

    rng = np.random.default_rng(5)
    a, b = rng.random((4, 6)), rng.random((5, 6))
    for metric, sk_metric in [("l1", "manhattan"), ("l2", "euclidean")]:
        np.testing.assert_allclose(
            pairwise_distances(a, b, metric), sk_pairwise(a, b, metric=sk_metric)
        )


@njit
def _sad_2x3(q, t):
    return sad_tile((q[0], q[1]), (t[0], t[1], t[2]))


@needs_sad
@pytest.mark.parametrize("n_features", [1, 15, 16, 17, 31, 32, 33, 48, 100, 784])
def test_sad_tile_sums_every_whole_16_bytes(n_features):
    rng = np.random.default_rng(n_features)
    q = rng.integers(0, 256, (2, n_features), dtype=np.uint8)
    t = rng.integers(0, 256, (3, n_features), dtype=np.uint8)
    t[0] = 255 - q[0]  # the largest differences, |0 - 255| included
    summed = n_features - n_features % 16
    diff = np.abs(q[:, None, :summed].astype(np.int64) - t[None, :, :summed])
    assert _sad_2x3(q, t) == tuple(diff.sum(-1).ravel())


_SSE2_SCRIPT = """
import numpy as np
from numba import njit
from skcnn._kernels._simd import sad_tile

@njit
def sad(q, t):
    return sad_tile((q,), (t,))

rng = np.random.default_rng(0)
q, t = rng.integers(0, 256, (2, 784), dtype=np.uint8)
assert sad(q, t)[0] == np.abs(q.astype(int) - t).sum()
asm = next(iter(sad.inspect_asm().values()))
assert "psadbw" in asm and "ymm" not in asm, asm
print("ok")
"""


@needs_sad
def test_sad_tile_without_avx2_uses_sse2():
    """Compiled for a CPU without AVX2, the tile sums 16 bytes per instruction."""
    env = dict(os.environ, NUMBA_CPU_NAME="x86-64", NUMBA_CPU_FEATURES="+64bit,+sse2")
    env["SKCNN_NO_JIT_CACHE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _SSE2_SCRIPT], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


@needs_sad
def test_sad_tile_compiles_to_psadbw():
    asm = next(iter(_sad_2x3.inspect_asm().values()))
    assert "psadbw" in asm
