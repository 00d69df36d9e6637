"""The estimators on a real dask cluster through dask-ml's wrappers, on MNIST.

``ParallelPostFit`` predicts a dask array block by block on the workers and
``Incremental`` trains with ``partial_fit`` over its blocks, one after the other.
Both run on one ``LocalCluster`` (two worker processes, one thread each) and
must give what the same calls give locally. The dask arrays are built on the
workers from the MNIST files, as a user's would be loaded there, not shipped
inside the task graph.
"""

import functools
import os

import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_info, threadpool_limits

import skcnn._knn
from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn._network import BaseNetworkClassifier
from skcnn.datasets import load_mnist

wrappers = pytest.importorskip("dask_ml.wrappers")
distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

pytestmark = [
    pytest.mark.slow,  # a cluster
    pytest.mark.mnist,
    # the models are trained briefly on purpose
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

CLASSES = np.arange(10)

# Each estimator with the pixels it is trained on: raw uint8 for the models that
# take any scale (k-NN's distances, the CNNs' normalisation), [0, 1] floats for
# the dense nets. Small and briefly trained: the tests compare, not compete.
ESTIMATORS = {
    "knn": (KNNImageClassifier(n_neighbors=3, metric="l1"), "uint8"),
    "linear": (LinearSoftmaxClassifier(max_iter=2, random_state=0), "float32"),
    "mlp": (
        MLPClassifier((32,), max_iter=2, learning_rate_init=0.01, random_state=0),
        "float32",
    ),
    "lenet": (LeNet5Classifier(max_iter=1, random_state=0), "uint8"),
    "convnet": (
        ConvNetClassifier(
            conv_filters=(8,), hidden_layer_sizes=(32,), max_iter=1, random_state=0
        ),
        "uint8",
    ),
}
N_TRAIN, N_QUERIES, CHUNK = 2000, 2000, 500


# -- data, read on whichever process runs these (a worker, or the test) --------


@functools.cache
def _mnist(home: str, subset: str):
    return load_mnist(home, subset=subset, return_X_y=True)


def _pixels(home, subset, start, stop, dtype, shift=0, images=False):
    """MNIST images [start, stop) of ``subset``, rolled ``shift`` pixels to the
    right; uint8 as stored or float32 in [0, 1]; rows or (n, 28, 28)."""
    X = _mnist(home, subset)[0][start:stop].reshape(-1, 28, 28)
    X = np.roll(X, shift, axis=2) if shift else X
    X = X if dtype == "uint8" else X.astype(np.float32) / 255
    return X if images else X.reshape(len(X), -1)


def _labels(home, subset, start, stop):
    return _mnist(home, subset)[1][start:stop]


def _blocks(home, subset, spans, dtype, images=False):
    """A dask array made of one block per ``(start, stop, shift)`` in ``spans``,
    each read on a worker, and the same array read here."""
    home = str(home)
    parts, local = [], []
    for start, stop, shift in spans:
        args = (home, subset, start, stop, dtype, shift, images)
        shape = (stop - start, 28, 28) if images else (stop - start, 784)
        block = dask.delayed(_pixels, pure=True)(*args)
        parts.append(da.from_delayed(block, shape, dtype=np.dtype(dtype)))
        local.append(_pixels(*args))
    return da.concatenate(parts), np.concatenate(local)


def _label_blocks(home, subset, spans):
    home = str(home)
    parts = [
        da.from_delayed(
            dask.delayed(_labels, pure=True)(home, subset, start, stop),
            (stop - start,),
            dtype=np.int64,
        )
        for start, stop, _ in spans
    ]
    return da.concatenate(parts)


def _spans(n, chunk):
    return [(lo, min(lo + chunk, n), 0) for lo in range(0, n, chunk)]


# -- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    """One cluster for the module: two worker processes with one thread each."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        yield client


@pytest.fixture(scope="module")
def fitted(mnist_home):
    """Each estimator trained locally on the first 2,000 MNIST training images."""
    home, models = str(mnist_home), {}
    for name, (estimator, dtype) in ESTIMATORS.items():
        X = _pixels(home, "train", 0, N_TRAIN, dtype)
        models[name] = clone(estimator).fit(X, _labels(home, "train", 0, N_TRAIN))
    return models


def _same_weights(a, b):
    for params_a, params_b in zip(a.params_, b.params_, strict=True):
        for x, y in zip(params_a, params_b, strict=True):
            np.testing.assert_array_equal(x, y)


# -- ParallelPostFit -----------------------------------------------------------


@pytest.mark.parametrize("layout", ["rows", "images"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_parallel_post_fit_predicts_what_the_local_predict_does(
    name, layout, fitted, client, mnist_home
):
    estimator, dtype = fitted[name], ESTIMATORS[name][1]
    spans = _spans(N_QUERIES, CHUNK)
    X, X_local = _blocks(mnist_home, "test", spans, dtype, images=layout == "images")
    if layout == "images":
        # dask-ml's wrappers take 2-D arrays (rows blocked along the samples):
        # an (n, 28, 28) dask array blocked along n reshapes to rows block by
        # block, without moving data; the local estimator takes the images as is
        assert X.ndim == 3
        X = X.reshape(len(X), -1)
        assert X.chunks == ((CHUNK,) * 4, (784,))
    clf = wrappers.ParallelPostFit(estimator)
    labels, proba = clf.predict(X), clf.predict_proba(X)
    expected_labels = estimator.predict(X_local)
    expected_proba = estimator.predict_proba(X_local)
    assert labels.dtype == expected_labels.dtype
    assert proba.dtype == expected_proba.dtype
    assert labels.chunks == ((CHUNK,) * 4,)
    assert proba.chunks == ((CHUNK,) * 4, (10,))
    labels, proba = dask.compute(labels, proba)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(proba, expected_proba, rtol=1e-6, atol=1e-9)
    y_test = _labels(str(mnist_home), "test", 0, N_QUERIES)
    assert np.mean(labels == y_test) > 0.5  # real models on real images


def test_parallel_post_fit_on_200000_images(client, mnist_home):
    """200,000 uint8 images (MNIST's 60,000 training images, rolled 0 to 3 pixels
    to the right) in blocks of 20,000, through the cheapest model."""
    home = str(mnist_home)
    clf = LinearSoftmaxClassifier(max_iter=2, random_state=0)  # on test images
    clf.fit(
        _pixels(home, "test", 0, N_TRAIN, "uint8"), _labels(home, "test", 0, N_TRAIN)
    )
    spans = [((b % 3) * 20_000, (b % 3 + 1) * 20_000, b // 3) for b in range(10)]
    X, X_local = _blocks(mnist_home, "train", spans, "uint8")
    assert X.shape == (200_000, 784) and X.numblocks == (10, 1)
    labels = wrappers.ParallelPostFit(clf).predict(X).compute()
    np.testing.assert_array_equal(labels, clf.predict(X_local))
    y = _labels(home, "train", 0, 60_000)
    assert np.mean(labels[:60_000] == y) > 0.75  # the unshifted third


# -- Incremental ---------------------------------------------------------------

INCREMENTAL = {
    "linear": LinearSoftmaxClassifier(random_state=0),
    "mlp": MLPClassifier((32,), learning_rate_init=0.01, random_state=0),
    "lenet": LeNet5Classifier(random_state=0),
    "convnet": ConvNetClassifier(
        conv_filters=(8,), hidden_layer_sizes=(32,), random_state=0
    ),
}
N_INCREMENTAL, INCREMENTAL_CHUNK = 6000, 1000


def _partial_fits(local, blocks, order):
    """partial_fit on the numpy blocks in ``order``, BLAS on one thread as in
    the workers (see the test below)."""
    with threadpool_limits(1, "blas"):
        for i in order:
            local.partial_fit(*blocks[i], classes=CLASSES)
    return local


@pytest.mark.parametrize(
    ("name", "shuffle_blocks"),
    [("linear", False), ("linear", True), ("mlp", False), ("mlp", True),
     ("lenet", False), ("convnet", True)],
)  # fmt: skip
def test_incremental_trains_as_the_same_partial_fits_do_locally(
    name, shuffle_blocks, client, mnist_home
):
    """The weights are those of the same partial_fit calls, on the same blocks in
    the same order, made here: bit for bit.

    Between calls the estimator moves to whichever worker dask picks (pickled),
    and it comes back pickled: with its optimizer's state (Adam's moments), so
    the chain, and a second pass, continue as local calls do. skcnn's numba
    kernels give the same bits for any number of threads (a worker has one,
    this process all cores); BLAS's multi-threaded sgemm does not, so the local
    calls hold BLAS to one thread as the workers' ``OMP_NUM_THREADS=1`` does
    (the CNNs hold it to one thread in training anyway).
    """
    estimator, spans = INCREMENTAL[name], _spans(N_INCREMENTAL, INCREMENTAL_CHUNK)
    dtype = "float32" if name in ("linear", "mlp") else "uint8"
    X, X_local = _blocks(mnist_home, "train", spans, dtype)
    y = _label_blocks(mnist_home, "train", spans)
    y_local = _labels(str(mnist_home), "train", 0, N_INCREMENTAL)
    blocks = [(X_local[a:b], y_local[a:b]) for a, b, _ in spans]
    inc = wrappers.Incremental(estimator, shuffle_blocks=shuffle_blocks, random_state=0)
    inc.fit(X, y, classes=CLASSES)
    order = list(range(len(spans)))
    if shuffle_blocks:  # the order dask-ml draws from random_state
        check_random_state(0).shuffle(order)
    local = _partial_fits(clone(estimator), blocks, order)
    _same_weights(inc.estimator_, local)
    assert inc.estimator_.n_iter_ == local.n_iter_ == len(spans)
    assert inc.estimator_.loss_curve_ == local.loss_curve_
    X_test, y_test = _mnist(str(mnist_home), "test")
    X_test = X_test[:2000] if dtype == "uint8" else X_test[:2000] / 255
    assert inc.score(X_test, y_test[:2000]) > 0.8
    if name == "mlp":  # a second pass continues the first
        inc.partial_fit(X, y, classes=CLASSES)
        _same_weights(inc.estimator_, _partial_fits(local, blocks, order))
        assert inc.estimator_.t_ == 2 * N_INCREMENTAL


def test_incremental_needs_classes(client, mnist_home):
    spans = _spans(2000, 1000)
    X, _ = _blocks(mnist_home, "train", spans, "float32")
    y = _label_blocks(mnist_home, "train", spans)
    inc = wrappers.Incremental(LinearSoftmaxClassifier(random_state=0))
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.fit(X, y)  # a block need not hold every class: say them up front


# -- threads -------------------------------------------------------------------

_SEEN: list = []
"""(call, numba threads, BLAS threads) seen inside skcnn's calls in a process."""

_PROBED = {
    (BaseNetworkClassifier, "_forward"): "predict",
    (BaseNetworkClassifier, "_run_epoch"): "train",
    (skcnn._knn, "exact_neighbors"): "knn",
}


def _install_probe():
    """Record the threads each of these functions runs with, in this process.

    Each is called by skcnn after it has applied its thread policy
    (``parallel_section``; BLAS limits) and runs the kernels from this thread,
    and numba's thread count is per calling thread: what they see is what the
    kernels get.
    """

    def probe(call, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            blas = [p["num_threads"] for p in threadpool_info()
                    if p["user_api"] == "blas"]  # fmt: skip
            _SEEN.append((call, numba.get_num_threads(), max(blas, default=1)))
            return function(*args, **kwargs)

        wrapper.original = function
        return wrapper

    for (owner, attribute), call in _PROBED.items():
        setattr(owner, attribute, probe(call, getattr(owner, attribute)))
    _SEEN.clear()


def _remove_probe():
    for owner, attribute in _PROBED:
        setattr(owner, attribute, getattr(owner, attribute).original)
    seen = list(_SEEN)
    _SEEN.clear()
    return seen


def _worker_threads():
    return os.environ.get("OMP_NUM_THREADS"), numba.config.NUMBA_NUM_THREADS


def test_workers_run_the_kernels_on_one_thread_each(fitted, client, mnist_home):
    """dask's nannies set OMP_NUM_THREADS=1 in the workers and skcnn's calls
    follow it, though numba itself starts as many threads there as here (a
    thread per core): 2 workers x 1 thread, never 2 x cores."""
    for omp, numba_default in client.run(_worker_threads).values():
        assert omp == "1" and numba_default == numba.config.NUMBA_NUM_THREADS
    spans = _spans(1000, 500)
    client.run(_install_probe)
    try:
        for name in ("knn", "linear", "lenet"):
            dtype = ESTIMATORS[name][1]
            X, _ = _blocks(mnist_home, "test", spans, dtype)
            wrappers.ParallelPostFit(fitted[name]).predict(X).compute()
        y = _label_blocks(mnist_home, "train", spans)
        for name, dtype in (("mlp", "float32"), ("lenet", "uint8")):
            X, _ = _blocks(mnist_home, "train", spans, dtype)
            wrappers.Incremental(INCREMENTAL[name]).fit(X, y, classes=CLASSES)
    finally:
        seen = [row for rows in client.run(_remove_probe).values() for row in rows]
    assert {call for call, _, _ in seen} == {"predict", "train", "knn"}
    assert {(numba_threads, blas) for _, numba_threads, blas in seen} == {(1, 1)}
