"""KNNImageClassifier against scikit-learn's brute-force KNeighborsClassifier.

Full MNIST (60,000 train, 10,000 test, k=3), both estimators in this one process
on the same uint8 pixels, L2 then L1. Prints predict times, their ratio
skcnn / scikit-learn, test accuracies, and the peak memory added by skcnn's
predict against the target of 2x the stored training set + 300 MB.

Run (OpenBLAS variables unset so that scikit-learn's BLAS runs at full speed)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_knn.py

``--n-test 2000`` measures on the first 2,000 test images only (a quick look).
"""

import argparse
import os
import sys

import numpy as np
from _common import mb, measure
from sklearn.neighbors import KNeighborsClassifier

from skcnn import KNNImageClassifier
from skcnn.datasets import load_mnist

TARGETS = {"l2": 0.5, "l1": 0.1}
SKLEARN_METRIC = {"l2": "euclidean", "l1": "manhattan"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--metrics", nargs="+", default=["l2", "l1"])
    parser.add_argument("--scale", action="store_true", help="float32 pixels in [0, 1]")
    args = parser.parse_args(argv)

    X_train, y_train = load_mnist(args.data_home, return_X_y=True, scale=args.scale)
    X_test, y_test = load_mnist(
        args.data_home, subset="test", return_X_y=True, scale=args.scale
    )
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    print(
        f"MNIST {len(X_train)} train / {len(X_test)} test, {X_train.dtype}, "
        f"k={args.k}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
    )

    ok = True
    for metric in args.metrics:
        ours = KNNImageClassifier(args.k, metric=metric).fit(X_train, y_train)
        ours.predict(X_test[:8])  # compile (or load the cache) outside the timing
        with measure() as ours_run:
            ours_pred = ours.predict(X_test)
        peer = KNeighborsClassifier(
            args.k, algorithm="brute", metric=SKLEARN_METRIC[metric]
        ).fit(X_train, y_train)
        with measure() as peer_run:
            peer_pred = peer.predict(X_test)
        ratio = ours_run["seconds"] / peer_run["seconds"]
        stored = ours.X_fit_.nbytes
        bound = 2 * stored + 300 * 2**20
        print(
            f"\n[{metric}] skcnn {ours_run['seconds']:.2f} s, scikit-learn "
            f"{peer_run['seconds']:.2f} s, ratio {ratio:.3f} (target <= "
            f"{TARGETS[metric]})\n  accuracy skcnn {np.mean(ours_pred == y_test):.4f}, "
            f"scikit-learn {np.mean(peer_pred == y_test):.4f}, predictions differ "
            f"on {int(np.sum(ours_pred != peer_pred))} images\n  memory added by "
            f"predict: skcnn {mb(ours_run['extra_rss'])} (target < 2 x "
            f"{mb(stored)} + 300 MB = {mb(bound)}), scikit-learn "
            f"{mb(peer_run['extra_rss'])}; process peak RSS with skcnn "
            f"{mb(ours_run['peak_rss'])}"
        )
        ok &= ratio <= TARGETS[metric] and ours_run["extra_rss"] < bound
    print("\nall targets met" if ok else "\nsome target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
