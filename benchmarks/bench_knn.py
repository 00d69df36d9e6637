"""KNNImageClassifier against scikit-learn and faiss, exact k-NN on full MNIST.

Full MNIST (60,000 train, 10,000 test, k=3), every library in this one process,
on the same number of threads, L2 then L1. Each peer runs in its fastest
documented setup: scikit-learn's brute-force ``KNeighborsClassifier`` given
float32 arrays (uint8 would be converted to float64), and faiss's exact
``IndexFlatL2`` / ``IndexFlat(d, METRIC_L1)`` (search, then the same majority
vote). skcnn is fitted on uint8 pixels, as users do, and again on float32.

Prints the CPU, the machine's sgemm bound (numpy float32 matmul on the same
threads), predict seconds, the rate each library reaches (L2: GFLOP/s of the
dot-product form, 2 * n_test * n_train * d FLOP, and its fraction of the sgemm
bound; L1: G byte-pairs/s, n_test * n_train * d pixel pairs per second), the
ratios skcnn / faiss and skcnn / scikit-learn float32, the number of test images
on which skcnn's predictions differ from scikit-learn's and faiss's, and the
peak memory added by skcnn's predict against the target of 2x the stored
training set + 300 MB. Compiling skcnn's kernels (or loading them from numba's
cache) is done apart by ``skcnn.warm_up``, for each metric and dtype, and its
time printed on its own line, not included in the predict times.

Run (OpenBLAS variables unset so that every BLAS runs at full speed)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python benchmarks/bench_knn.py --data-home DIR

``--n-test 2000`` measures on the first 2,000 test images only (a quick look).
"""

import argparse
import os
import sys

import faiss
import numba
import numpy as np
from _common import (
    add_threads_argument,
    cpu_description,
    load_note,
    mb,
    measure,
    sgemm_gflops,
)
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

from skcnn import KNNImageClassifier, warm_up
from skcnn.datasets import load_mnist

TARGETS = {"l2": 1.0, "l1": 0.15}
"""Target of predict time skcnn (uint8) / faiss-cpu's exact search on float32."""

SKLEARN_METRIC = {"l2": "euclidean", "l1": "manhattan"}


def faiss_index(metric: str, d: int):
    if metric == "l2":
        return faiss.IndexFlatL2(d)
    return faiss.IndexFlat(d, faiss.METRIC_L1)


def vote(neighbors: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Majority vote of the neighbours' labels; ties go to the smallest label."""
    classes, codes = np.unique(y_train, return_inverse=True)
    votes = np.zeros((len(neighbors), len(classes)), np.int64)
    rows = np.arange(len(neighbors))
    for column in neighbors.T:
        votes[rows, codes[column]] += 1
    return classes[votes.argmax(axis=1)]


def rate(metric: str, seconds: float, work: float, bound: float) -> str:
    """Work per second: GFLOP/s and sgemm fraction (L2), G byte-pairs/s (L1)."""
    if metric == "l2":
        gflops = 2 * work / seconds / 1e9
        return f"{gflops:7.1f} GFLOP/s = {gflops / bound:5.1%} of sgemm"
    return f"{work / seconds / 1e9:7.2f} G byte-pairs/s"


def run_skcnn(metric, k, X_train, y_train, X_test):
    """Compile (or load) the kernels, fit, then time predict; and the warm-up."""
    clf = KNNImageClassifier(k, metric=metric)
    report = warm_up(clf, X_train, y_train)  # on a clone, X_train's dtype
    clf.fit(X_train, y_train)
    with measure() as run:
        pred = clf.predict(X_test)
    return clf, pred, run, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--metrics", nargs="+", default=["l2", "l1"])
    parser.add_argument("--scale", action="store_true", help="float32 pixels in [0, 1]")
    add_threads_argument(parser, "threads of every library")
    args = parser.parse_args(argv)
    threads = args.threads
    numba.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)

    X_train, y_train = load_mnist(args.data_home, return_X_y=True, scale=args.scale)
    X_test, y_test = load_mnist(
        args.data_home, subset="test", return_X_y=True, scale=args.scale
    )
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    X_train32 = np.ascontiguousarray(X_train, dtype=np.float32)
    X_test32 = np.ascontiguousarray(X_test, dtype=np.float32)
    n_test, (n_train, d) = len(X_test), X_train.shape
    work = float(n_test) * n_train * d  # multiply-adds (L2) or byte-pairs (L1)

    bound = sgemm_gflops(threads)
    print(f"CPU: {cpu_description()}")
    print(
        f"threads: {threads} (numba, faiss OpenMP, BLAS and scikit-learn's OpenMP); "
        f"numpy float32 matmul on {threads} threads: {bound:.1f} GFLOP/s "
        "(the sgemm bound)"
    )
    print(
        f"MNIST {n_train} train / {n_test} test, d={d}, {X_train.dtype} pixels, "
        f"k={args.k}; faiss {faiss.__version__}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}; "
        f"{load_note(threads)}"
    )

    ok = True
    for metric in args.metrics:
        print(f"\n[{metric}]")
        with threadpool_limits(limits=threads):
            ours, ours_pred, ours_run, ours_warm = run_skcnn(
                metric, args.k, X_train, y_train, X_test
            )
            _, ours32_pred, ours32_run, ours32_warm = run_skcnn(
                metric, args.k, X_train32, y_train, X_test32
            )
            peer = KNeighborsClassifier(
                n_neighbors=args.k, algorithm="brute", metric=SKLEARN_METRIC[metric]
            ).fit(X_train32, y_train)
            with measure() as sk_run:
                sk_pred = peer.predict(X_test32)
            index = faiss_index(metric, d)
            index.add(X_train32)
            with measure() as faiss_run:
                _, neighbors = index.search(X_test32, args.k)
                faiss_pred = vote(neighbors, y_train)
        rows = [
            (f"skcnn ({X_train.dtype})", ours_run, ours_pred),
            ("skcnn (float32)", ours32_run, ours32_pred),
            ("scikit-learn (float32)", sk_run, sk_pred),
            ("faiss (float32)", faiss_run, faiss_pred),
        ]
        for name, run, pred in rows:
            print(
                f"  {name:<24}{run['seconds']:8.2f} s  "
                f"{rate(metric, run['seconds'], work, bound)}  accuracy "
                f"{np.mean(pred == y_test):.4f}  memory added {mb(run['extra_rss'])}"
            )
        for name, report in ((f"skcnn ({X_train.dtype})", ours_warm),
                             ("skcnn (float32)", ours32_warm)):  # fmt: skip
            print(f"  {name}: {report} (not included in the times above)")
        sk_s, faiss_s = sk_run["seconds"], faiss_run["seconds"]
        for name, run, pred in rows[:2]:
            print(
                f"  {name}: / faiss {run['seconds'] / faiss_s:.3f}, / scikit-learn "
                f"float32 {run['seconds'] / sk_s:.3f}; predictions differ from "
                f"scikit-learn's on {int(np.sum(pred != sk_pred))} and from "
                f"faiss's on {int(np.sum(pred != faiss_pred))} of {n_test} images"
            )
        ratio = ours_run["seconds"] / faiss_s
        stored = ours.X_fit_.nbytes
        limit = 2 * stored + 300 * 2**20
        differ = int(np.sum(ours_pred != sk_pred))
        print(
            f"  target: skcnn ({X_train.dtype}) / faiss {ratio:.3f} "
            f"<= {TARGETS[metric]}, predictions as scikit-learn's ({differ} differ); "
            f"memory added by predict {mb(ours_run['extra_rss'])}"
            f" < 2 x {mb(stored)} + 300 MB = {mb(limit)} (process peak RSS "
            f"{mb(ours_run['peak_rss'])})"
        )
        ok &= ratio <= TARGETS[metric] and differ == 0
        ok &= ours_run["extra_rss"] < limit
    print(f"\n{load_note(threads, own=threads)} at the end")
    print("all targets met" if ok else "some target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
