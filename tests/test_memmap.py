"""Data larger than memory: a memory-mapped X is read per minibatch or chunk."""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_mnist_sample

NETS = {
    "linear": lambda: LinearSoftmaxClassifier(max_iter=3, random_state=0),
    "mlp": lambda: MLPClassifier(
        (32,), max_iter=3, early_stopping=True, random_state=0
    ),
    "lenet": lambda: LeNet5Classifier(max_iter=1, random_state=0),
    "convnet": lambda: ConvNetClassifier(
        conv_filters=(4,), hidden_layer_sizes=(16,), max_iter=1, random_state=0
    ),
}


@pytest.fixture(scope="module", params=["uint8", "float32"])
def mapped(request, tmp_path_factory):
    """(memmap, the same data in memory, labels): 1,200 MNIST images."""
    X, y = load_mnist_sample(return_X_y=True)
    X, y = X[:1200].astype(request.param), y[:1200]
    path = tmp_path_factory.mktemp("data") / f"x-{request.param}.dat"
    writer = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    writer[:] = X
    writer.flush()
    del writer
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape), X, y


def _fit(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **kwargs)


@pytest.mark.parametrize("name", NETS)
def test_nets_on_a_memmap_equal_the_nets_in_memory(name, mapped):
    mm, X, y = mapped
    on_disk, in_memory = _fit(NETS[name](), mm, y), _fit(NETS[name](), X, y)
    np.testing.assert_array_equal(on_disk._packed, in_memory._packed)
    for method in ("predict", "predict_proba"):
        np.testing.assert_array_equal(
            getattr(on_disk, method)(mm), getattr(in_memory, method)(X)
        )
    if hasattr(on_disk, "transform"):
        np.testing.assert_array_equal(on_disk.transform(mm), in_memory.transform(X))
    classes = np.unique(y)
    a = NETS[name]().set_params(early_stopping=False)
    b = NETS[name]().set_params(early_stopping=False)
    for lo in range(0, len(y), 400):  # partial_fit over blocks of the memmap
        a.partial_fit(mm[lo : lo + 400], y[lo : lo + 400], classes=classes)
        b.partial_fit(X[lo : lo + 400], y[lo : lo + 400], classes=classes)
    np.testing.assert_array_equal(a._packed, b._packed)


def test_knn_keeps_the_memmap_mapped_and_answers_as_in_memory(mapped):
    mm, X, y = mapped
    on_disk = KNNImageClassifier(3).fit(mm, y)
    assert np.shares_memory(on_disk.X_fit_, mm)  # no copy of the training set
    in_memory = KNNImageClassifier(3).fit(X, y)
    np.testing.assert_array_equal(on_disk.predict(mm[:300]), in_memory.predict(X[:300]))
    near_disk, near_memory = on_disk.kneighbors(mm[:300]), in_memory.kneighbors(X[:300])
    np.testing.assert_array_equal(near_disk[0], near_memory[0])
    np.testing.assert_array_equal(near_disk[1], near_memory[1])
    np.testing.assert_array_equal(on_disk.kneighbors()[1], in_memory.kneighbors()[1])


def _peak_bytes(function):
    """Peak memory numpy and Python allocate while ``function`` runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["mlp", "lenet"])
def test_no_whole_array_conversion(name, tmp_path):
    """Fit and predict on 40,000 uint8 images allocate far less than the
    float32 copy of them (125 MB) that converting X whole would take (a
    4,096-row chunk of the MLP's predict is 13 MB)."""
    X, y = load_mnist_sample(return_X_y=True)
    n = 40_000
    mm = np.memmap(tmp_path / "x.dat", dtype=np.uint8, mode="w+", shape=(n, 784))
    for lo in range(0, n, len(X)):
        mm[lo : lo + len(X)] = X[: n - lo]
    labels = np.resize(y, n)
    copy = n * 784 * 4
    estimator = NETS[name]()
    _fit(estimator, mm[:500], labels[:500])  # compile outside the measurement
    fit_peak = _peak_bytes(lambda: _fit(estimator, mm, labels))
    predict_peak = _peak_bytes(lambda: estimator.predict(mm))
    assert fit_peak < copy / 4 and predict_peak < copy / 4, (fit_peak, predict_peak)
