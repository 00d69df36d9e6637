"""The four estimators inside scikit-learn's model-selection tools, on real data."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
    learning_curve,
    validation_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

from skcnn import (
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn._kernels._jit import resolve_n_threads
from skcnn.datasets import load_digits_images, load_mnist

_LENET = LeNet5Classifier(
    c5_channels=32,
    f6_units=24,
    max_iter=10,
    batch_size=32,
    learning_rate_init=3e-3,
    random_state=0,
)
_LENET_GRID = {
    "activation": ["tanh", "relu"],
    "pooling": ["avg", "max"],
    "c1_channels": [4, 6],
    "c3_channels": [8, 16],
    "learning_rate_init": [1e-3, 3e-3],
    "batch_size": [32, 64],
}

# Each estimator, small enough for a test, with a grid over its hyperparameters.
CASES = {
    "knn": (KNNImageClassifier(), {"n_neighbors": [1, 3], "metric": ["l1", "l2"]}),
    "linear": (
        LinearSoftmaxClassifier(max_iter=20, random_state=0),
        {"learning_rate_init": [0.01, 0.1], "alpha": [1e-4, 1e-2]},
    ),
    "mlp": (
        MLPClassifier(max_iter=30, learning_rate_init=0.01, random_state=0),
        {"hidden_layer_sizes": [(20,), (40,)], "activation": ["tanh", "relu"]},
    ),
    "lenet": (_LENET, _LENET_GRID),
}

# the models are trained briefly on purpose
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:600], y[:600], X[600:900], y[600:900]


def _step(estimator):
    return type(estimator).__name__.lower()


@pytest.mark.parametrize("kind", ["grid", "randomized"])
@pytest.mark.parametrize("name", list(CASES))
def test_search_over_a_pipeline(name, kind, digits):
    X, y, X_test, y_test = digits
    estimator, grid = CASES[name]
    pipe = make_pipeline(MinMaxScaler(), clone(estimator))
    grid = {f"{_step(estimator)}__{key}": values for key, values in grid.items()}
    if kind == "randomized":
        search = RandomizedSearchCV(pipe, grid, n_iter=3, cv=3, random_state=0)
    else:  # LeNet-5's grid has 64 points: search two of its axes
        grid = dict(list(grid.items())[:2])
        search = GridSearchCV(pipe, grid, cv=3)
    search.fit(X, y)
    assert set(search.best_params_) == set(grid)
    assert search.best_score_ == max(search.cv_results_["mean_test_score"])
    floor = 0.6 if name == "lenet" else 0.85  # LeNet-5: 10 epochs, 8x8 digits
    assert search.best_score_ > floor
    assert search.score(X_test, y_test) > floor
    assert search.best_estimator_[-1].n_features_in_ == 64


@pytest.mark.parametrize("name", list(CASES))
def test_cross_validation_clone_and_nested_set_params(name, digits):
    X, y, _, _ = digits
    estimator, grid = CASES[name]
    pipe = make_pipeline(StandardScaler(), clone(estimator))
    key, values = next(iter(grid.items()))
    pipe.set_params(**{f"{_step(estimator)}__{key}": values[-1]})
    assert getattr(pipe[-1], key) == values[-1]
    twin = clone(pipe)
    assert twin.get_params()[f"{_step(estimator)}__{key}"] == values[-1]
    assert twin[-1] is not pipe[-1]
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    result = cross_validate(pipe, X, y, cv=3, return_estimator=True)
    fitted = [p[-1] for p in result["estimator"]]
    assert len({id(p) for p in fitted}) == 3
    assert all(hasattr(p, "classes_") for p in fitted)


@pytest.mark.parametrize("name", list(CASES))
def test_learning_and_validation_curves(name, digits):
    X, y, _, _ = digits
    estimator, grid = CASES[name]
    sizes, train, test = learning_curve(
        clone(estimator), X, y, train_sizes=[0.4, 1.0], cv=3
    )
    assert list(sizes) == [160, 400] and train.shape == test.shape == (2, 3)
    key, values = next(iter(grid.items()))
    train, test = validation_curve(
        clone(estimator), X, y, param_name=key, param_range=values, cv=3
    )
    assert train.shape == test.shape == (len(values), 3)
    assert np.all(test > 0.3)


def _numba_threads(estimator, X, y):
    """A 'scorer' reporting, from the worker, the threads skcnn's kernels would
    use there (``1000 *``) plus BLAS's threads."""
    from threadpoolctl import threadpool_info

    blas = max([p["num_threads"] for p in threadpool_info()
                if p["user_api"] == "blas"], default=1)  # fmt: skip
    return resolve_n_threads(estimator.n_jobs) * 1000 + blas


def test_parallel_search_does_not_oversubscribe(digits):
    X, y, _, _ = digits
    estimator, _ = CASES["lenet"]
    search = GridSearchCV(
        clone(estimator), {"c1_channels": [4, 6]}, cv=2, n_jobs=2,
        scoring=_numba_threads,
    )  # fmt: skip
    search.fit(X[:200], y[:200])
    threads = search.cv_results_["mean_test_score"]
    numba_threads, blas_threads = threads // 1000, threads % 1000
    cores = os.cpu_count()
    assert np.all(numba_threads * 2 <= max(cores, 2))
    assert np.all(blas_threads * 2 <= max(cores, 2))


def test_mnist_features_feed_a_second_estimator(mnist_home):
    X, y = load_mnist(mnist_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(mnist_home, subset="test", return_X_y=True, scale=True)
    X, y, X_test, y_test = X[:3000], y[:3000], X_test[:1000], y_test[:1000]
    lenet = make_pipeline(LeNet5Classifier(max_iter=8, random_state=0), SVC())
    assert lenet.fit(X, y).score(X_test, y_test) > 0.93
    mlp = make_pipeline(
        MLPClassifier((64,), max_iter=30, random_state=0),
        LogisticRegression(max_iter=1000),
    )
    assert mlp.fit(X, y).score(X_test, y_test) > 0.88
    assert mlp[0].transform(X_test).shape == (1000, 64)


@pytest.mark.parametrize("name", list(CASES))
def test_pickles_hold_the_weights_once_and_no_compiled_code(name, digits):
    X, y, X_test, _ = digits
    estimator = clone(CASES[name][0]).fit(X, y)
    data = pickle.dumps(estimator)
    assert b"numba" not in data and b"Dispatcher" not in data
    if name == "knn":
        fitted = (estimator.X_fit_, estimator.y_fit_, estimator.sample_weight_)
        payload = sum(a.nbytes for a in fitted)  # the training set, once
    else:
        payload = sum(p.nbytes for params in estimator.params_ for p in params)
    assert len(data) < payload * 1.1 + 20_000
    restored = pickle.loads(data)
    expected = estimator.predict_proba(X_test)
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)


@pytest.mark.slow
def test_a_fresh_process_loads_and_predicts_from_the_numba_cache(tmp_path, digits):
    X, y, X_test, _ = digits
    clf = LeNet5Classifier(max_iter=1, random_state=0).fit(X, y)
    clf.predict_proba(X_test)  # the kernels it uses are now in numba's cache
    model, data = tmp_path / "model.pkl", tmp_path / "x.npy"
    model.write_bytes(pickle.dumps(clf))
    np.save(data, X_test)
    code = (
        "import pickle, numpy as np\n"
        "from skcnn._kernels._jit import cache_stats\n"
        f"clf = pickle.loads(open({str(model)!r}, 'rb').read())\n"
        f"clf.predict_proba(np.load({str(data)!r}))\n"
        "misses, hits, _ = cache_stats()\n"
        "print(misses, hits)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, check=True)  # fmt: skip
    misses, hits = map(int, result.stdout.split())
    assert misses == 0 and hits >= 6


@pytest.mark.slow
def test_search_on_a_dask_cluster_equals_the_local_search(digits):
    """A real LocalCluster (2 worker processes) through joblib's dask backend."""
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    X, y, _, _ = digits
    estimator, grid = CASES["lenet"]
    grid = {"activation": grid["activation"], "pooling": grid["pooling"]}

    def search():
        return GridSearchCV(clone(estimator), grid, cv=2).fit(X[:300], y[:300])

    local = search()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        parallel_backend("dask"),
    ):  # fmt: skip
        remote = search()
        threads = GridSearchCV(
            clone(estimator), {"c1_channels": [4, 6]}, cv=2, scoring=_numba_threads
        ).fit(X[:100], y[:100])
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    # dask's workers set OMP_NUM_THREADS=1, which skcnn's kernels follow
    assert np.all(threads.cv_results_["mean_test_score"] // 1000 == 1)
