"""Memory that fit and predict add on a memory-mapped uint8 data set.

Builds on disk a uint8 ``np.memmap`` of ``--n-images`` 28x28 images (default
1,000,000, 748 MB; float32 it would take 2,991 MB), shape (n, 784): image i is
MNIST training image i % 60,000 shifted by (dy, dx), one of the 25 shifts in
[-2, 2]^2 (zero-filled), chosen by i // 60,000 (the first 60,000 are MNIST's
unshifted), with that image's label. It is written 60,000 rows at a time, so
building never holds the whole array in memory, then reopened read-only for:

- ``fit`` of one epoch (``max_iter=1``) of ``LeNet5Classifier(random_state=0)``
  and ``MLPClassifier(random_state=0)`` on all of it;
- ``predict`` on all of it by the four estimators: KNNImageClassifier fitted
  on its first 2,000 rows (k-NN keeps a memory-mapped X mapped),
  LinearSoftmaxClassifier and MLPClassifier on its first 10,000 rows
  (``max_iter=2``), and LeNet5Classifier the one-epoch model fitted above.

skcnn converts uint8 input one minibatch (fit) or one chunk (predict) at a
time, so what a call allocates should stay bounded whatever the number of
images. Plain resident memory would not show it: the pages of the mapped file
that the process reads count in it (``RssFile``), up to the file's size. The
figure that says whether skcnn copies or converts the data is the anonymous
resident memory, ``RssAnon`` in /proc/self/status: each call's peak RssAnon
above its level at entry, sampled every 2 ms (target: <= 300 MB for every
call). The peak RssFile is printed for information, with each call's seconds
and the load average (the seconds are no speed benchmark: other work on the
machine slows them down). The numba kernels are compiled (or loaded from their
cache) first by ``skcnn.warm_up``, on clones, that time printed on its own line
and counted in no figure.

The file goes to a temporary folder, deleted at the end, or to ``--folder``,
kept (the file is rebuilt on every run); either needs the file's size free on
its disk. Run::

    python benchmarks/bench_memory.py [--data-home DIR] [--n-images 1000000] \\
        [--folder DIR]
"""

import argparse
import gc
import itertools
import os
import sys
import tempfile
import time
import warnings

import numpy as np
from _common import load_note, mb, measure_status, status_bytes
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
    warm_up,
)
from skcnn.datasets import load_mnist

SIDE = 28
BLOCK = 60_000  # rows written at a time: one shifted copy of MNIST's training set
SHIFTS = [(0, 0)] + [s for s in itertools.product(range(-2, 3), repeat=2) if any(s)]
TARGET = 300 * 2**20  # largest RssAnon a call may add, bytes


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` (n, H, W) moved down by dy and right by dx, zero-filled."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = images[
        :, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def build(path: str, n: int, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Write the n shifted images to ``path``, BLOCK rows at a time; their labels."""
    images = X.reshape(-1, SIDE, SIDE)
    out = np.memmap(path, dtype=np.uint8, mode="w+", shape=(n, SIDE * SIDE))
    for block, lo in enumerate(range(0, n, BLOCK)):
        rows = min(BLOCK, n - lo)
        dy, dx = SHIFTS[block % len(SHIFTS)]
        out[lo : lo + rows] = shifted(images[:rows], dy, dx).reshape(rows, -1)
        out.flush()
    del out  # unmapped: the measurements map it again, read-only
    return y[np.arange(n) % len(y)].astype(np.int64)


def measured(call):
    """``call()``'s result and its figures from ``measure_status``."""
    gc.collect()
    with measure_status() as result:
        value = call()
    return value, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-images", type=int, default=1_000_000)
    parser.add_argument("--folder", default=None, help="keep the file there")
    args = parser.parse_args(argv)
    if args.folder is None:
        with tempfile.TemporaryDirectory(prefix="skcnn-bench-memory-") as folder:
            return run(args, folder)
    os.makedirs(args.folder, exist_ok=True)
    return run(args, args.folder)


def run(args, folder: str) -> int:
    warnings.simplefilter("ignore", ConvergenceWarning)
    n = args.n_images
    path = os.path.join(folder, f"shifted_mnist_{n}x784.uint8")
    X_train, y_train = load_mnist(args.data_home, return_X_y=True)
    start = time.perf_counter()
    y = build(path, n, X_train, y_train)
    built = time.perf_counter() - start
    del X_train
    X = np.memmap(path, dtype=np.uint8, mode="r", shape=(n, SIDE * SIDE))
    float32_bytes = X.size * 4
    print(f"{n:,} images 28x28 uint8, memory-mapped: {mb(X.nbytes)} in {path} "
          f"(built in {built:.1f} s); as float32 they would take "
          f"{mb(float32_bytes)}; labels int64 in memory: {mb(y.nbytes)}")  # fmt: skip

    lenet = LeNet5Classifier(max_iter=1, random_state=0)
    mlp_epoch = MLPClassifier(max_iter=1, random_state=0)
    predictors = {
        "KNNImageClassifier (fit on 2,000)": (KNNImageClassifier(), 2_000),
        "LinearSoftmaxClassifier (10,000)": (
            LinearSoftmaxClassifier(max_iter=2, random_state=0),
            10_000,
        ),
        "MLPClassifier (10,000, 2 epochs)": (
            MLPClassifier(max_iter=2, random_state=0),
            10_000,
        ),
    }
    # Compile (or load) every kernel first, on clones and uint8 rows of the
    # memmap: neither that time nor numba's memory counts in the figures below.
    estimators = [lenet, mlp_epoch] + [est for est, _ in predictors.values()]
    report = sum(warm_up(estimator, X, y) for estimator in estimators)
    print(f"{report} (not included in the figures below)")
    for estimator, n_fit in predictors.values():
        estimator.fit(X[:n_fit], y[:n_fit])
    predictors["LeNet5Classifier (the 1-epoch fit)"] = (lenet, n)

    base = status_bytes("RssAnon", "RssFile")
    print(f"baseline after imports, building and warm-up: RssAnon "
          f"{mb(base['RssAnon'])}, RssFile {mb(base['RssFile'])}")  # fmt: skip
    print(f"{'call':<48} {'seconds':>8}  {'RssAnon added':>13}  "
          f"{'RssFile peak':>12}  accuracy on all")  # fmt: skip
    worst = 0

    def show(name, result, accuracy=None):
        nonlocal worst
        added = result["extra_RssAnon"]
        worst = max(worst, added)
        shown = "" if accuracy is None else f"{accuracy:15.2%}"
        flag = "" if added <= TARGET else "  over the target"
        print(f"{name:<48} {result['seconds']:8.1f}  {mb(added):>13}  "
              f"{mb(result['peak_RssFile']):>12}{shown}{flag}")  # fmt: skip

    for name, estimator in [("LeNet5Classifier", lenet), ("MLPClassifier", mlp_epoch)]:
        _, result = measured(lambda est=estimator: est.fit(X, y))
        show(f"{name} fit, 1 epoch on all", result)
    for name, (estimator, _) in predictors.items():
        predicted, result = measured(lambda est=estimator: est.predict(X))
        assert len(predicted) == n
        show(f"{name} predict all", result, float(np.mean(predicted == y)))
        del predicted
    threads = len(os.sched_getaffinity(0))
    print(load_note(threads, own=threads))
    ok = worst <= TARGET
    print(f"largest RssAnon added: {mb(worst)} (target <= {mb(TARGET)}), "
          f"{worst / float32_bytes:.1%} of a float32 copy")  # fmt: skip
    print("all targets met" if ok else "some target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
