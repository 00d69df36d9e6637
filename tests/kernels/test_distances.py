"""The L1/L2 top-k kernels against the plain numpy reference."""

import numba
import numpy as np
import pytest

from skcnn._kernels._distances import center_rows, l1_neighbors, l2_neighbors
from tests._reference import k_nearest, pairwise_distances


def _readonly(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _run(metric, queries, train, k, tile_rows=None):
    """Drive a kernel the way the estimator does: centred tiles in index order."""
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
            l2_neighbors(q, q_norms, tile, norms, offset, best_dist, best_ind)
        else:
            l1_neighbors(q, tile, offset, best_dist, best_ind)
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


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize(
    ("n_queries", "n_train", "n_features", "k", "tile_rows"),
    [
        (8, 1, 1, 1, None),
        (16, 37, 5, 3, 7),
        (24, 100, 64, 10, 33),
        (8, 51, 300, 51, 16),
    ],
)
def test_kernels_match_reference_on_floats(
    metric, n_queries, n_train, n_features, k, tile_rows
):
    rng = np.random.default_rng(n_train)
    queries = rng.standard_normal((n_queries, n_features)).astype(np.float32)
    train = rng.standard_normal((n_train, n_features)).astype(np.float32)
    queries, train = _readonly(queries, train)
    best_dist, best_ind = _run(metric, queries, train, k, tile_rows)
    ref_dist, ref_ind = k_nearest(queries, train, k, metric)
    np.testing.assert_array_equal(best_ind, ref_ind)
    if metric == "l2":  # the kernel keeps squared distances
        best_dist = np.sqrt(np.maximum(best_dist, 0))
    np.testing.assert_allclose(best_dist, ref_dist, rtol=1e-5, atol=1e-4)


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


def test_tiles_do_not_change_the_answer():
    rng = np.random.default_rng(2)
    queries = rng.integers(0, 256, (16, 49), dtype=np.uint8)
    train = rng.integers(0, 256, (200, 49), dtype=np.uint8)
    whole = _run("l2", queries, train, 5)
    tiled = _run("l2", queries, train, 5, tile_rows=9)
    np.testing.assert_array_equal(whole[1], tiled[1])
    np.testing.assert_array_equal(whole[0], tiled[0])


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


def test_each_query_row_is_computed_alone():
    """A query's distances do not depend on which other queries share its group."""
    rng = np.random.default_rng(4)
    queries = rng.standard_normal((16, 50)).astype(np.float32)
    train = rng.standard_normal((40, 50)).astype(np.float32)
    together = _run("l2", queries, train, 3)
    permuted = _run("l2", queries[::-1].copy(), train, 3)
    np.testing.assert_array_equal(together[0], permuted[0][::-1])


def test_reference_distances_agree_with_scikit_learn():
    from sklearn.metrics import pairwise_distances as sk_pairwise

    rng = np.random.default_rng(5)
    a, b = rng.random((4, 6)), rng.random((5, 6))
    for metric, sk_metric in [("l1", "manhattan"), ("l2", "euclidean")]:
        np.testing.assert_allclose(
            pairwise_distances(a, b, metric), sk_pairwise(a, b, metric=sk_metric)
        )
