"""Peak memory of predict on 100,000 images, for the four estimators.

Each estimator is fitted on an MNIST subset, then predicts 100,000 images (the
70,000 MNIST images, tiled; float32, 314 MB). ``predict`` works in chunks
(``batch_size`` query images for k-NN, 4,096 rows for the dense nets, 128 for
LeNet-5), so the memory it adds stays bounded whatever the number of images:
the printed figure is the peak resident memory above the level before the call,
sampled every 2 ms. Run::

    python benchmarks/bench_memory.py [--data-home DIR] [--n-images 100000]
"""

import argparse
import sys
import warnings

import numpy as np
from _common import mb, measure
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
    warm_up,
)
from skcnn.datasets import load_mnist


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-images", type=int, default=100_000)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X_test, _ = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
    pool = np.concatenate([X, X_test])
    queries = np.ascontiguousarray(np.resize(pool, (args.n_images, pool.shape[1])))
    print(f"{args.n_images:,} query images: {mb(queries.nbytes)} of float32")
    models = {
        "KNNImageClassifier (fit on 2,000)": (KNNImageClassifier(), 2_000),
        "LinearSoftmaxClassifier": (LinearSoftmaxClassifier(max_iter=2), 10_000),
        "MLPClassifier": (MLPClassifier(max_iter=2), 10_000),
        "LeNet5Classifier": (LeNet5Classifier(max_iter=1), 5_000),
    }
    # Compile (or load) every kernel first, on clones: neither that time nor
    # numba's memory counts in the figures below.
    reports = [warm_up(estimator, X, y) for estimator, _ in models.values()]
    print(f"{sum(reports)} (not included in the figures below)")
    worst = 0
    for name, (estimator, n_fit) in models.items():
        estimator.fit(X[:n_fit], y[:n_fit])
        with measure() as result:
            predicted = estimator.predict(queries)
        assert len(predicted) == args.n_images
        worst = max(worst, result["extra_rss"])
        added = mb(result["extra_rss"])
        print(f"{name:<36} {result['seconds']:7.1f} s, predict added {added} "
              f"(output: {mb(predicted.nbytes)})")  # fmt: skip
    print(f"largest addition: {mb(worst)}, {worst / queries.nbytes:.1%} of the input")
    return 0


if __name__ == "__main__":
    sys.exit(main())
