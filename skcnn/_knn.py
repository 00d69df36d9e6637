"""k nearest neighbours on whole images, with numba-parallel L1/L2 kernels."""

import warnings
from numbers import Integral

import numba
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted
from threadpoolctl import threadpool_limits

from skcnn._images import as_float32, validate_images
from skcnn._kernels._distances import (
    candidate_distances,
    center_rows,
    l1_neighbors,
    l1_neighbors_uint8,
    l2_neighbors,
)
from skcnn._kernels._jit import parallel_section
from skcnn._kernels._simd import HAS_SAD
from skcnn._parameters import N_JOBS_CONSTRAINT

METRICS = {"l1": "l1", "manhattan": "l1", "l2": "l2", "euclidean": "l2"}
"""Accepted ``metric`` names and the distance each one means."""

_TILE_BYTES = 8 * 2**20
"""Size of one float32 tile of training rows scanned per kernel call."""

_UINT8_TILE_BYTES = 2**18
"""Size of one tile of uint8 rows (L1 sums): small enough to stay in L2 cache."""

_DTYPES = [np.float32, np.uint8, np.float64]
"""Kept as given by validation; float64 is then cast to float32 with a range check."""

_AS_ROWS = {"dtype": _DTYPES, "order": "C"}
"""How training and query images are validated: C-contiguous rows (a Fortran-
ordered or strided array is copied once; a C-ordered memory map, read-only or
not, is used as it is), so that the kernels see one layout."""

_VOTE_CHUNK = 65_536
"""Queries voted at a time by ``predict`` and ``predict_proba``: their memory
beyond the output stays bounded (about 25 MB of neighbour lists and shares)
whatever the number of queries."""

CANDIDATE_MARGIN = 8
"""Extra candidates the kernels keep for the exact float64 re-ranking (the
ONNX graph of :mod:`skcnn.onnx` keeps as many)."""

_QUERY_BLOCK = 256
"""Queries a thread multiplies by one sgemm in the L2 kernel (at most)."""


class KNNImageClassifier(ClassifierMixin, BaseEstimator):
    """Classify images by a vote of their k nearest training images.

    The distance between two images is the L1 (sum of absolute pixel differences)
    or L2 (Euclidean) distance between their pixel vectors, as in the first lecture
    of every image-classification course. Distances and the top-k selection run in
    numba-parallel kernels that scan the training set in tiles, so memory stays
    bounded: no ``(n_queries, n_train)`` matrix is ever built.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    metric : {'l2', 'l1', 'euclidean', 'manhattan'}, default='l2'
        Distance between images; 'euclidean' and 'manhattan' are aliases.
    weights : {'uniform', 'distance'}, default='uniform'
        'uniform': each neighbour has one vote. 'distance': votes weigh
        ``1 / distance``; neighbours at distance 0, if any, take all the weight.
    batch_size : int, default=2048
        Number of query images processed together; bounds the memory of a
        prediction (about ``batch_size * n_features * 4`` bytes plus an 8 MB tile
        of training rows).
    n_jobs : int, default=None
        Number of numba threads for the kernels. ``None`` keeps numba's setting
        (every core unless ``NUMBA_NUM_THREADS`` or a joblib worker says
        otherwise); ``-1`` means all cores, ``-2`` all but one.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of flat input rows.
        None infers it (square gray, square RGB, else one row); image arrays
        ``(n, H, W[, C])`` carry their own shape.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of such arrays
        Class labels, sorted; one array per output when y has several columns.
    X_fit_ : ndarray of shape (n_samples_fit, n_features)
        The training images as flat rows: uint8 when fitted on uint8, else float32.
    sample_weight_ : ndarray of shape (n_samples_fit,)
        Weight of each training image (ones when fitted without weights).
    y_fit_ : ndarray of shape (n_samples_fit, n_outputs)
        Index into ``classes_`` (of each output) of each training image's label.
    outputs_2d_ : bool
        Whether y had several columns (multi-output / multilabel).
    n_samples_fit_ : int
        Number of training images.
    effective_metric_ : {'l1', 'l2'}
        The distance in use.
    image_shape_ : tuple of (height, width, channels)
        Geometry of one image.
    n_features_in_ : int
        Number of features (pixels times channels) seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.neighbors.KNeighborsClassifier : the general-purpose version.

    Notes
    -----
    For query ``q`` and training image ``t``, ``l1`` is ``sum_k |q_k - t_k|`` and
    ``l2`` is ``sqrt(sum_k (q_k - t_k)**2)``. L2 is computed as
    ``|q|² + |t|² - 2 q·t`` on data centred by the training mean: each thread
    multiplies its block of queries with a tile of training images by one
    single-threaded float32 sgemm and merges the tile into its top-k lists while
    it is in cache. L1 on uint8 images sums exact integers with x86's ``psadbw``
    instruction (32 pixel pairs per instruction with AVX2); other inputs and
    other CPUs use float32 tiles. The distances returned by :meth:`kneighbors`
    are recomputed in float64 for the selected neighbours.

    Ties: among training images at the same distance, the one that comes first in
    the training set is the nearer. Among classes with the same vote, the first
    in ``classes_`` wins (as in scikit-learn).

    Examples
    --------
    >>> from skcnn import KNNImageClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> clf = KNNImageClassifier(n_neighbors=3, metric="l1").fit(X[:1500], y[:1500])
    >>> clf.image_shape_
    (8, 8, 1)
    >>> print(f"{clf.score(X[1500:], y[1500:]):.3f}")
    0.943
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions(set(METRICS))],
        "weights": [StrOptions({"uniform", "distance"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
        "image_shape": [tuple, None],
    }

    def __init__(
        self,
        n_neighbors=5,
        *,
        metric="l2",
        weights="uniform",
        batch_size=2048,
        n_jobs=None,
        image_shape=None,
    ):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.weights = weights
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.image_shape = image_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Store the training images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, H, W[, C])
            Training images. uint8 input is kept as uint8; anything else is
            stored as float32.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels; several columns for multi-output (each output is voted
            on separately, as in scikit-learn's ``KNeighborsClassifier``).
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights: an image of weight ``w`` counts as ``w`` copies of
            itself, filling ``w`` of the ``n_neighbors`` votes (the last
            neighbour taken may fill a fraction). Weight 0 is the same as leaving
            the image out. None gives every image weight 1.

        Returns
        -------
        self : KNNImageClassifier
            The fitted classifier.
        """
        X, y = validate_images(self, X, y, reset=True, multi_output=True, **_AS_ROWS)
        X = as_float32(X)
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please "
                "change the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=2,
            )
        self.outputs_2d_ = y.ndim == 2 and y.shape[1] > 1
        columns = [
            np.unique(col, return_inverse=True) for col in y.reshape(len(y), -1).T
        ]
        classes = [col_classes for col_classes, _ in columns]
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        self.y_fit_ = np.stack([codes.ravel() for _, codes in columns], axis=1)
        sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if not sample_weight.any():
            raise ValueError(
                "Sample weights must contain at least one non-zero number."
            )
        self.X_fit_ = X
        self.sample_weight_ = sample_weight
        self.n_samples_fit_ = X.shape[0]
        self.effective_metric_ = METRICS[self.metric]
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest training images of each query image.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or image array, \
                default=None
            Query images. None queries the training images themselves, each
            not counted as its own neighbour.
        n_neighbors : int, default=None
            Number of neighbours; ``self.n_neighbors`` when None.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances to the neighbours, ascending (float64). Only when
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours in the training set.
        """
        check_is_fitted(self)
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer; got {k!r}.")
        query_is_train = X is None
        if query_is_train:
            X, k = self.X_fit_, k + 1
        else:
            X = as_float32(validate_images(self, X, reset=False, **_AS_ROWS))
        self._check_n_neighbors(k, len(X))
        dist, ind = self._search(X, k)
        if query_is_train:
            dist, ind = _drop_self(dist, ind)
        return (dist, ind) if return_distance else ind

    def predict_proba(self, X):
        """Class probabilities: the (weighted) share of votes of each class.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or image array
            Query images.

        Returns
        -------
        proba : ndarray of shape (n_queries, n_classes), or a list of them
            Columns in the order of ``classes_``; one array per output when
            fitted on several outputs.
        """
        outputs = None
        for lo, n, part in self._votes(X):
            if outputs is None:
                outputs = [np.empty((n, p.shape[1])) for p in part]
            for out, p in zip(outputs, part, strict=True):
                out[lo : lo + len(p)] = p
        return outputs if self.outputs_2d_ else outputs[0]

    def _votes(self, X):
        """Validate the queries, then yield ``(start, n_queries, shares)`` for
        each chunk of ``_VOTE_CHUNK`` queries (shares: one array per output)."""
        check_is_fitted(self)
        X = as_float32(validate_images(self, X, reset=False, **_AS_ROWS))
        for lo in range(0, len(X), _VOTE_CHUNK):
            yield lo, len(X), self._vote(X[lo : lo + _VOTE_CHUNK])

    def _vote(self, X):
        """The class shares of validated query rows X, one array per output."""
        k, n_search = self.n_neighbors, self.n_neighbors
        while True:  # enough neighbours to fill k units of sample weight
            self._check_n_neighbors(n_search, len(X))
            dist, ind = self._search(X, n_search)
            units = self.sample_weight_[ind]
            share = np.clip(k - (np.cumsum(units, axis=1) - units), 0.0, units)
            filled = np.isclose(share.sum(axis=1), k) | (share.sum(axis=1) > k)
            if filled.all() or n_search == self.n_samples_fit_:
                break
            n_search = min(2 * n_search, self.n_samples_fit_)
        if self.weights == "uniform":
            weight = share
        else:
            exact = (dist == 0) & (share > 0)
            has_exact = exact.any(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                weight = np.where(share > 0, share / dist, 0.0)
            weight[has_exact] = np.where(exact, share, 0.0)[has_exact]
        rows = np.arange(len(ind))[:, None]
        all_proba = []
        for output, classes in enumerate(self._classes_per_output()):
            proba = np.zeros((len(ind), len(classes)))
            np.add.at(proba, (rows, self.y_fit_[ind, output]), weight)
            proba /= proba.sum(axis=1, keepdims=True)
            all_proba.append(proba)
        return all_proba

    def predict(self, X):
        """Predict the class of each image by the vote of its neighbours.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features) or image array
            Query images.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            Predicted labels.
        """
        labels = []
        for _, _, part in self._votes(X):
            columns = zip(self._classes_per_output(), part, strict=True)
            labels.append(np.stack([c[np.argmax(p, axis=1)] for c, p in columns], 1))
        y_pred = np.concatenate(labels)
        return y_pred if self.outputs_2d_ else y_pred[:, 0]

    def _classes_per_output(self):
        return self.classes_ if self.outputs_2d_ else [self.classes_]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags

    def _check_n_neighbors(self, k, n_queries):
        if k > self.n_samples_fit_:
            raise ValueError(
                "Expected n_neighbors <= n_samples_fit, but n_neighbors = "
                f"{k}, n_samples_fit = {self.n_samples_fit_}, n_samples = {n_queries}"
            )

    def _search(self, X, k):
        with parallel_section(self.n_jobs), threadpool_limits(1, "blas"):
            return exact_neighbors(
                X, self.X_fit_, k, self.effective_metric_, self.batch_size
            )


def exact_neighbors(X, train, k, metric, batch_size):
    """The k nearest rows of ``train`` for each row of X, exactly, ties by index.

    The kernels rank in float32 (uint8 L1: in exact integers) and keep
    ``k + CANDIDATE_MARGIN`` candidates; those are re-ranked with float64 distances. A
    query is then *certified*: no training row left out can be nearer than its
    k-th neighbour, because its kernel distance exceeded the last candidate's
    by more than the rounding envelope. The rare query that is not certified
    (many near-ties) is searched again by plain float64 brute force. The result
    equals an exact float64 search with a stable sort.

    Returns
    -------
    dist : ndarray of shape (n_queries, k)
        float64 distances, ascending.
    ind : ndarray of shape (n_queries, k)
        Training indices; equal distances in training order.
    """
    n_fit = len(train)
    k_keep = min(k + CANDIDATE_MARGIN, n_fit)
    if metric == "l1" and HAS_SAD and X.dtype == train.dtype == np.uint8:
        scan = _scan_uint8_l1
    else:
        scan = _FloatScan(train, metric)
    dist = np.empty((len(X), k))
    ind = np.empty((len(X), k), dtype=np.intp)
    for start in range(0, len(X), batch_size):
        block = X[start : start + batch_size]
        best_dist, best_ind, envelope = scan(block, train, k_keep)
        cand_dist, cand_ind = _rerank(block, train, best_ind, metric)
        if k_keep < n_fit:
            kth = cand_dist[:, k - 1] ** 2 if metric == "l2" else cand_dist[:, k - 1]
            for row in np.flatnonzero(~(best_dist[:, -1] - envelope > kth)):
                found = _brute_force(block[row], train, k, metric)
                cand_dist[row, :k], cand_ind[row, :k] = found
        stop = start + len(block)
        dist[start:stop], ind[start:stop] = cand_dist[:, :k], cand_ind[:, :k]
    return dist, ind


def _empty_lists(n_queries, k_keep):
    """Top-k lists of ``n_queries`` padded to a multiple of 8: inf / -1."""
    n_padded = -(-n_queries // 8) * 8
    best_dist = np.full((n_padded, k_keep), np.inf)
    return best_dist, np.full((n_padded, k_keep), -1, dtype=np.intp)


def _scan_uint8_l1(block, train, k_keep):
    """Top-k lists of uint8 queries by exact integer L1 sums (psadbw); envelope 0.

    The kernel reads the stored rows in tiles that stay in the L2 cache.
    """
    best_dist, best_ind = _empty_lists(len(block), k_keep)
    queries = np.zeros((len(best_dist), train.shape[1]), dtype=np.uint8)
    queries[: len(block)] = block
    tile_rows = max(8, _UINT8_TILE_BYTES // train.shape[1])
    for offset in range(0, len(train), tile_rows):
        rows = train[offset : offset + tile_rows]
        l1_neighbors_uint8(queries, rows, offset, best_dist, best_ind)
    m = len(block)
    return best_dist[:m], best_ind[:m], 0.0


class _FloatScan:
    """Top-k lists from float32 tiles of centred rows, and the rounding envelope.

    Holds the centre (the training mean for L2, zero for L1) and one tile
    buffer for all the batches of a search.
    """

    def __init__(self, train, metric):
        n_fit, n_features = train.shape
        self.metric = metric
        if metric == "l2":  # centring keeps |q|² + |t|² - 2 q·t well conditioned
            mean = np.mean(train, axis=0, dtype=np.float64)
            self.center = mean.astype(np.float32)
        else:  # uncentred uint8 keeps the float32 L1 sums exact integers
            self.center = np.zeros(n_features, dtype=np.float32)
        self.tile_rows = max(8, _TILE_BYTES // (4 * n_features))
        self.tile = np.empty((min(self.tile_rows, n_fit), n_features), np.float32)
        self.tile_sq_norms = np.empty(len(self.tile))

    def __call__(self, block, train, k_keep):
        best_dist, best_ind = _empty_lists(len(block), k_keep)
        n_padded, n_features = len(best_dist), train.shape[1]
        queries = np.zeros((n_padded, n_features), dtype=np.float32)
        query_sq_norms = np.zeros(n_padded)
        center_rows(block, self.center, queries, query_sq_norms)
        tile, norms, max_train_sq_norm = self.tile, self.tile_sq_norms, 0.0
        for offset in range(0, len(train), self.tile_rows):
            rows = train[offset : offset + self.tile_rows]
            n = len(rows)
            center_rows(rows, self.center, tile, norms)
            max_train_sq_norm = max(max_train_sq_norm, norms[:n].max())
            if self.metric == "l2":
                l2_neighbors(
                    queries, query_sq_norms, tile[:n], norms[:n], offset,
                    _query_block(n_padded), best_dist, best_ind,
                )  # fmt: skip
            else:
                l1_neighbors(queries, tile[:n], offset, best_dist, best_ind)
        m = len(block)
        envelope = _rounding_envelope(
            query_sq_norms[:m], max_train_sq_norm, n_features, self.metric
        )
        return best_dist[:m], best_ind[:m], envelope


def _query_block(n_queries):
    """Queries per task of the L2 kernel: at most ``_QUERY_BLOCK``, a multiple of
    8, and at least one task per thread so that every core has work."""
    threads = numba.get_num_threads()
    tasks = max(threads, -(-n_queries // _QUERY_BLOCK))
    tasks = -(-tasks // threads) * threads
    per_task = -(-n_queries // tasks)
    return -(-per_task // 8) * 8


def _rounding_envelope(query_sq_norms, max_train_sq_norm, n_features, metric):
    """Upper bound on |float32 kernel distance - exact distance| for each query.

    With ``gamma = n u / (1 - n u)`` (n features, u = 2**-24), a float32 dot
    product errs by at most ``gamma |q| |t|``; the centring and the float64 norms
    add less than the same again. For L1 the error is at most ``gamma`` times
    the L1 norms, themselves at most ``sqrt(n)`` times the L2 norms. Generous
    factors keep the bound safe.
    """
    unit = 2.0**-24
    gamma = n_features * unit / (1.0 - n_features * unit)
    norms = np.sqrt(query_sq_norms) + np.sqrt(max_train_sq_norm)
    if metric == "l2":
        return 8.0 * gamma * norms**2
    return 4.0 * gamma * np.sqrt(n_features) * norms


def _rerank(queries, train, ind, metric):
    """float64 distances to the candidates, sorted by (distance, index)."""
    dist = _exact_distances(queries, train, ind, metric)
    order = np.lexsort((ind, dist), axis=-1)
    return np.take_along_axis(dist, order, -1), np.take_along_axis(ind, order, -1)


def _brute_force(query, train, k, metric):
    """Exact float64 k nearest rows of ``train`` for one query (stable ties)."""
    everyone = np.arange(len(train))[None]
    dist = _exact_distances(query[None], train, everyone, metric)[0]
    ind = np.argsort(dist, kind="stable")[:k]
    return dist[ind], ind


def _exact_distances(queries, train, ind, metric):
    """float64 L1 or L2 distances of each query to the training rows ``ind``.

    One kernel for the re-ranking and the brute force, so that a pair's
    distance has the same bits whichever path computed it.
    """
    dist = np.empty(ind.shape)
    candidate_distances(queries, train, ind, metric == "l2", dist)
    return np.sqrt(dist) if metric == "l2" else dist


def _drop_self(dist, ind):
    """Remove each training point from its own neighbour list (k+1 -> k)."""
    n_queries, k_plus_one = ind.shape
    is_self = ind == np.arange(n_queries)[:, None]
    # Rows where the point itself is not among its k+1 neighbours (duplicates at
    # distance 0 came first) lose their farthest neighbour instead.
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    shape = (n_queries, k_plus_one - 1)
    return dist[keep].reshape(shape), ind[keep].reshape(shape)
