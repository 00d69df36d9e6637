"""GridSearchCV over LeNet-5 with n_jobs=2 against n_jobs=1, on an MNIST subset.

4 candidates x 3 folds. With ``n_jobs=1`` each fit uses every core through
numba's threads; with ``n_jobs=2`` joblib's workers run two fits at once, each
on ``cores // 2`` numba threads (joblib sets the thread variables of its
workers, and skcnn follows them), so the cores are never oversubscribed.
Target: n_jobs=2 faster than n_jobs=1. Run::

    python benchmarks/bench_search.py [--n-train 30000] [--epochs 2]
"""

import argparse
import os
import sys
import time
import warnings

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, ParameterGrid

from skcnn import LeNet5Classifier, warm_up
from skcnn.datasets import load_mnist

GRID = {"activation": ["tanh", "relu"], "pooling": ["avg", "max"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=30_000)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X, y = X[: args.n_train], y[: args.n_train]
    warnings.simplefilter("ignore", ConvergenceWarning)
    estimator = LeNet5Classifier(max_iter=args.epochs, random_state=0)
    # Compile (or load) the kernels of every candidate first, on clones; the
    # workers of n_jobs=2 then load them from numba's cache.
    reports = [warm_up(clone(estimator).set_params(**params), X, y)
               for params in ParameterGrid(GRID)]  # fmt: skip
    print(f"{sum(reports)} (not included in the times below)")
    seconds, scores = {}, {}
    for n_jobs in (1, 2):
        search = GridSearchCV(estimator, GRID, cv=3, n_jobs=n_jobs)
        start = time.perf_counter()
        search.fit(X, y)
        seconds[n_jobs] = time.perf_counter() - start
        scores[n_jobs] = search.cv_results_["mean_test_score"]
        print(f"n_jobs={n_jobs}: {seconds[n_jobs]:6.1f} s, best {search.best_params_}")
    ratio = seconds[2] / seconds[1]
    print(f"{os.cpu_count()} cores; n_jobs=2 / n_jobs=1 = {ratio:.2f} (target < 1); "
          f"same scores: {bool((scores[1] == scores[2]).all())}")  # fmt: skip
    return 0 if ratio < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
