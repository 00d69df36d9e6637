"""Slow, obviously correct numpy versions of the kernels: the reference in tests."""

import numpy as np


def pairwise_distances(queries, train, metric):
    """Full (n_queries, n_train) L1 or L2 distance matrix in float64, by loops."""
    queries = np.asarray(queries, dtype=np.float64)
    train = np.asarray(train, dtype=np.float64)
    out = np.empty((len(queries), len(train)))
    for i, q in enumerate(queries):
        for j, t in enumerate(train):
            diff = q - t
            out[i, j] = np.abs(diff).sum() if metric == "l1" else np.sqrt(diff @ diff)
    return out


def k_nearest(queries, train, k, metric):
    """Indices and distances of the k nearest rows; ties go to the lower index."""
    dist = pairwise_distances(queries, train, metric)
    ind = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, ind, axis=1), ind
