"""KNNImageClassifier on real data, against scikit-learn's brute-force k-NN."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from skcnn import KNNImageClassifier
from skcnn.datasets import load_digits_images, load_mnist
from tests._reference import k_nearest

SKLEARN_METRIC = {"l1": "manhattan", "l2": "euclidean"}


def _tie_at_kth(dist_sorted, k):
    """Rows whose k-th and (k+1)-th distances are equal: the k set is ambiguous."""
    return np.isclose(dist_sorted[:, k - 1], dist_sorted[:, k], rtol=1e-9, atol=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True)
    return X[:1400], y[:1400], X[1400:], y[1400:]


@pytest.fixture(scope="module")
def mnist_subset(mnist_home):
    X, y = load_mnist(mnist_home, return_X_y=True)
    X_test, y_test = load_mnist(mnist_home, subset="test", return_X_y=True)
    return X[:12000], y[:12000], X_test[:1000], y_test[:1000]


@pytest.mark.parametrize("metric", ["l1", "l2", "manhattan", "euclidean"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_same_predictions_as_sklearn_on_digits(digits, metric, weights):
    X, y, X_test, _ = digits
    k = 4
    ours = KNNImageClassifier(k, metric=metric, weights=weights).fit(X, y)
    peer = KNeighborsClassifier(
        k, algorithm="brute", metric=SKLEARN_METRIC.get(metric, metric), weights=weights
    ).fit(X, y)
    # Digits pixels are small integers: many exact ties. Compare where the
    # k-neighbourhood is unambiguous.
    dist_all, _ = peer.kneighbors(X_test, k + 1)
    clear = ~_tie_at_kth(dist_all, k)
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(
        ours.predict(X_test)[clear], peer.predict(X_test)[clear]
    )
    np.testing.assert_allclose(
        ours.predict_proba(X_test)[clear], peer.predict_proba(X_test)[clear], atol=1e-9
    )
    ours_dist, _ = ours.kneighbors(X_test)
    np.testing.assert_allclose(ours_dist, dist_all[:, :k], rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_same_predictions_as_sklearn_on_mnist(mnist_subset, metric):
    X, y, X_test, y_test = mnist_subset
    ours = KNNImageClassifier(3, metric=metric).fit(X, y)
    assert ours.X_fit_.dtype == np.uint8  # stored compactly
    peer = KNeighborsClassifier(
        3, algorithm="brute", metric=SKLEARN_METRIC[metric]
    ).fit(X, y)
    ours_dist, ours_ind = ours.kneighbors(X_test)
    peer_dist, peer_ind = peer.kneighbors(X_test, 4)
    clear = ~_tie_at_kth(peer_dist, 3)
    assert clear.mean() > 0.95
    np.testing.assert_allclose(ours_dist, peer_dist[:, :3], rtol=1e-12)
    np.testing.assert_array_equal(
        np.sort(ours_ind[clear], axis=1), np.sort(peer_ind[clear, :3], axis=1)
    )
    np.testing.assert_array_equal(
        ours.predict(X_test)[clear], peer.predict(X_test)[clear]
    )
    assert np.mean(ours.predict(X_test) == y_test) > 0.9


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_kneighbors_equals_stable_exact_search_on_tie_heavy_digits(digits, metric):
    """Digits are small integers: hundreds of exact ties. float32 ranking plus
    certification must still give the float64 answer with ties in index order."""
    X, y, X_test, _ = digits
    clf = KNNImageClassifier(6, metric=metric, batch_size=64).fit(X, y)
    dist, ind = clf.kneighbors(X_test[:120])
    ref_dist, ref_ind = k_nearest(X_test[:120], X, 6, metric)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)


def test_kneighbors_matches_reference_with_exact_ties():
    rng = np.random.default_rng(0)
    distinct = rng.integers(0, 256, (6, 30), dtype=np.uint8)
    X = distinct[rng.integers(0, 6, 80)]
    queries = distinct[rng.integers(0, 6, 11)]
    clf = KNNImageClassifier(7, metric="l1", batch_size=5).fit(X, np.arange(80) % 3)
    dist, ind = clf.kneighbors(queries)
    ref_dist, ref_ind = k_nearest(queries, X, 7, "l1")
    np.testing.assert_array_equal(ind, ref_ind)  # ties: lower training index first
    np.testing.assert_array_equal(dist, ref_dist)


def test_kneighbors_without_X_leaves_each_point_out(digits):
    X, y, _, _ = digits
    ours = KNNImageClassifier(3).fit(X[:300], y[:300])
    peer = KNeighborsClassifier(3, algorithm="brute").fit(X[:300], y[:300])
    ours_dist, ours_ind = ours.kneighbors()
    peer_dist, _ = peer.kneighbors()
    assert not (ours_ind == np.arange(300)[:, None]).any()
    np.testing.assert_allclose(ours_dist, peer_dist)
    assert ours.kneighbors(n_neighbors=2, return_distance=False).shape == (300, 2)


@pytest.mark.parametrize(
    ("metric", "scale"), [("l2", 16), ("l1", 16), ("l1", None), ("l2", None)]
)
def test_results_do_not_depend_on_batch_threads_or_order(digits, metric, scale):
    """The same bits (neighbours, float64 distances, probabilities) however the
    queries are batched, ordered or threaded: float32 pixels, or uint8 ones
    (L1 on uint8 takes the exact integer kernel)."""
    X, y, X_test, _ = digits
    if scale is None:
        X, X_test = X.astype(np.uint8), X_test.astype(np.uint8)
    else:
        X, X_test = X.astype(np.float32) / scale, X_test.astype(np.float32) / scale
    base = KNNImageClassifier(5, metric=metric).fit(X, y)
    proba = base.predict_proba(X_test)
    dist, ind = base.kneighbors(X_test)
    for params in [{"batch_size": 7}, {"n_jobs": 1}, {"n_jobs": -1}]:
        other = KNNImageClassifier(5, metric=metric, **params).fit(X, y)
        np.testing.assert_array_equal(other.predict_proba(X_test), proba)
        other_dist, other_ind = other.kneighbors(X_test)
        np.testing.assert_array_equal(other_dist, dist)
        np.testing.assert_array_equal(other_ind, ind)
    order = np.random.default_rng(1).permutation(len(X_test))
    np.testing.assert_array_equal(base.predict_proba(X_test[order]), proba[order])
    np.testing.assert_array_equal(base.kneighbors(X_test[order])[0], dist[order])
    one = [base.kneighbors(X_test[i : i + 1]) for i in range(20)]
    np.testing.assert_array_equal(np.vstack([d for d, _ in one]), dist[:20])
    np.testing.assert_array_equal(np.vstack([i for _, i in one]), ind[:20])


def test_predict_writes_nothing_to_the_estimator(digits):
    X, y, X_test, _ = digits
    clf = KNNImageClassifier().fit(X, y)
    before = {
        k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items()
    }
    clf.X_fit_.flags.writeable = False  # kernels must only read the stored images
    clf.predict(X_test)
    clf.kneighbors()
    assert vars(clf).keys() == before.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(getattr(clf, key), value)


def test_string_labels_and_multi_output(digits):
    X, y, X_test, _ = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])  # fmt: skip
    clf = KNNImageClassifier(3).fit(X, names[y])
    assert set(clf.predict(X_test)) <= set(names)
    Y = np.column_stack([names[y], y % 2])
    multi = KNNImageClassifier(3).fit(X, Y)
    pred = multi.predict(X_test)
    assert pred.shape == (len(X_test), 2) and len(multi.predict_proba(X_test)) == 2
    np.testing.assert_array_equal(pred[:, 0], clf.predict(X_test))


def test_sample_weight_counts_as_copies(digits):
    X, y, X_test, _ = digits
    rng = np.random.default_rng(2)
    weight = rng.integers(0, 3, len(X))
    weighted = KNNImageClassifier(5).fit(X / 16, y, sample_weight=weight)
    repeated = KNNImageClassifier(5).fit(
        np.repeat(X / 16, weight, axis=0), np.repeat(y, weight)
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X_test / 16), repeated.predict_proba(X_test / 16)
    )
    with pytest.raises(ValueError, match="non-zero"):
        KNNImageClassifier().fit(X, y, sample_weight=np.zeros(len(X)))


def test_float_queries_on_uint8_fit_and_images():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
    y = np.arange(50) % 5
    clf = KNNImageClassifier(1).fit(X, y)
    assert clf.X_fit_.dtype == np.uint8 and clf.image_shape_ == (4, 4, 1)
    np.testing.assert_array_equal(clf.predict(X.astype(np.float64)), y)
    np.testing.assert_array_equal(clf.predict(X.reshape(50, 16)), y)


def test_errors_are_clear(digits):
    X, y, _, _ = digits
    clf = KNNImageClassifier(n_neighbors=10).fit(X[:5], y[:5])
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        clf.predict(X[:2])
    with pytest.raises(ValueError, match="positive integer"):
        clf.kneighbors(X[:2], n_neighbors=0)
    with pytest.raises(ValueError, match="metric"):
        KNNImageClassifier(metric="cosine").fit(X, y)
    with pytest.raises(ValueError, match="n_jobs"):
        KNNImageClassifier(n_jobs=0).fit(X, y)
    bad = X[:20].copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KNNImageClassifier().fit(bad, y[:20])
    with pytest.raises(ValueError, match="float32, which holds at most"):
        KNNImageClassifier().fit(np.full((20, 64), 1e300), y[:20])
