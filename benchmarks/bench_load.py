"""Speed when other processes share the cores: skcnn and PyTorch, idle and loaded.

Users' machines are never idle. This script times, in one run, one training
epoch of LeNet-5 and of the MNIST ConvNet (``bench_convnet``'s: 32/64 filters
5x5, max pooling, dense 128, dropout) on ``--n-train`` MNIST images, and a
k-NN prediction (L2, 5 neighbours, 60,000 training images, ``--n-queries``
queries), with 0, 1 and 2 cores kept busy by other processes (each spins
``while True: pass``). Each is run by skcnn with its default threads, by skcnn
with ``n_jobs=1``, and by PyTorch with 2 threads and with 1 thread (its faster
memory format for each net, chosen idle; k-NN as a PyTorch user writes it:
``torch.cdist`` and ``topk`` on query chunks).

With ``--layers tbb,omp`` the skcnn default-threads figures are measured again
in a child process per extra numba threading layer (``NUMBA_THREADING_LAYER``),
under the same load, to compare the layers side by side.

Targets (issue 23): with one core busy, skcnn's default fit takes <= 1.3x its
``n_jobs=1`` fit of the same run and is faster than PyTorch under the same
load; idle, no slower than the previous default layer (``omp``), <= 1.05x.

Each figure is the median of ``--repeats`` runs after a warm-up. Needs the
``bench`` extra (torch, CPU build). Run with the OpenBLAS variables unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_load.py \\
        --data-home DIR --layers tbb,omp
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import warnings

import numba
import numpy as np
import torch
from _common import cpu_description, load_note
from bench_convnet import FORMATS, TorchRun, skcnn_model
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skcnn import KNNImageClassifier
from skcnn.datasets import load_mnist

NETS = ("lenet", "convnet")


def spin():  # pragma: no cover - runs in the busy processes
    while True:
        pass


class BusyCores:
    """``n`` processes, each keeping one core busy, while the block runs."""

    def __init__(self, n):
        self.n, self.processes = n, []

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self.processes = [
            context.Process(target=spin, daemon=True) for _ in range(self.n)
        ]
        for process in self.processes:
            process.start()
        time.sleep(0.5 if self.n else 0)  # the spinners are running
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
            process.join()


def median_time(run, repeats):
    """Median seconds of ``repeats`` calls of ``run`` after one untimed call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) if times else float("nan")


def skcnn_runs(data, n_jobs):
    """name -> a callable running one epoch (nets) or one prediction (k-NN)."""
    X, y, X_train_knn, y_train_knn, queries = data

    def epoch(name):
        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                skcnn_model(name, n_jobs, max_iter=1, tol=0).fit(X, y)

        return run

    knn = KNNImageClassifier(5, n_jobs=n_jobs).fit(X_train_knn, y_train_knn)
    runs = {name: epoch(name) for name in NETS}
    runs["knn"] = lambda: knn.predict(queries)
    return runs


def torch_runs(data, threads):
    """The same work in PyTorch on ``threads`` threads (faster format per net)."""
    X, y, X_train_knn, _, queries = data
    torch.set_num_threads(threads)
    tX, ty = torch.from_numpy(X.reshape(-1, 1, 28, 28)), torch.from_numpy(y)
    runs = {}
    for name in NETS:
        candidates = {k: TorchRun(name, v, tX, ty) for k, v in FORMATS.items()}
        every = torch.arange(len(X))
        timed = {
            k: median_time(lambda r=r, rows=every: r.train(rows), 1)
            for k, r in candidates.items()
        }
        best = min(timed, key=timed.get)
        runs[name] = lambda r=candidates[best]: r.train(torch.randperm(len(X)))
        runs[name].format = best
    train = torch.from_numpy(X_train_knn.astype(np.float32))
    tq = torch.from_numpy(queries.astype(np.float32))

    def knn():
        with torch.inference_mode():
            for lo in range(0, len(tq), 1024):
                torch.cdist(tq[lo : lo + 1024], train).topk(5, largest=False)

    runs["knn"] = knn
    return runs


def measure_skcnn(data, n_jobs, repeats):
    """Median seconds of skcnn's runs with ``n_jobs`` (BLAS on one thread)."""
    with threadpool_limits(1, "blas"):
        return {k: median_time(r, repeats) for k, r in skcnn_runs(data, n_jobs).items()}


def load_data(args):
    X, y = load_mnist(args.data_home, return_X_y=True)
    X_test, _ = load_mnist(args.data_home, subset="test", return_X_y=True)
    X32 = (X[: args.n_train] / np.float32(255)).astype(np.float32)
    return X32, y[: args.n_train], X, y, X_test[: args.n_queries]


def child(args):
    """Measure skcnn's default threads in this process's threading layer."""
    data = load_data(args)
    figures = measure_skcnn(data, None, args.repeats)
    print(json.dumps({"layer": numba.threading_layer(), "figures": figures}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-queries", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loads", default="0,1,2", help="busy cores, e.g. 0,1,2")
    parser.add_argument(
        "--layers", default="", help="extra numba layers to measure, e.g. tbb,omp"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    threads = len(os.sched_getaffinity(0))
    data = load_data(args)
    print(f"CPU: {cpu_description()}")
    # skcnn's kernels compile before anything is timed
    measure_skcnn(data, None, 0)
    measure_skcnn(data, 1, 0)
    torch_by_threads = {t: torch_runs(data, t) for t in (threads, 1)}
    layer = numba.threading_layer()
    formats = {name: torch_by_threads[threads][name].format for name in NETS}
    print(
        f"numba {numba.__version__}, threading layer {layer}, {threads} threads; "
        f"torch {torch.__version__} ({formats}); {args.n_train} training images, "
        f"k-NN: 60000 x {args.n_queries} queries; median of {args.repeats}"
    )
    extra = [name for name in args.layers.split(",") if name and name != layer]
    header = (
        f"{'busy':>4} {'work':<8} {'skcnn':>8} {'n_jobs=1':>9} {'ratio':>6} "
        f"{'torch ' + str(threads):>8} {'torch 1':>8} {'vs torch':>8}"
        + "".join(f" {'skcnn ' + name:>11}" for name in extra)
    )
    print(header)
    for busy in [int(n) for n in args.loads.split(",")]:
        with BusyCores(busy):
            default = measure_skcnn(data, None, args.repeats)
            one = measure_skcnn(data, 1, args.repeats)
            peers = {}
            for t, runs in torch_by_threads.items():
                torch.set_num_threads(t)
                peers[t] = {k: median_time(r, args.repeats) for k, r in runs.items()}
            others = {}
            for name in extra:
                command = [sys.executable, __file__, "--child", *argv_of(args)]
                env = dict(os.environ, NUMBA_THREADING_LAYER=name)
                output = subprocess.run(
                    command, env=env, capture_output=True, text=True
                )
                others[name] = json.loads(output.stdout.strip().splitlines()[-1])
            note = load_note(threads)
        for work in default:
            row = (
                f"{busy:>4} {work:<8} {default[work]:>7.3f}s {one[work]:>8.3f}s "
                f"{default[work] / one[work]:>6.2f} {peers[threads][work]:>7.3f}s "
                f"{peers[1][work]:>7.3f}s "
                f"{default[work] / min(peers[threads][work], peers[1][work]):>8.2f}"
            )
            for name in extra:
                row += f" {others[name]['figures'][work]:>10.3f}s"
            print(row)
        print(f"     ({note})")
    print(
        "ratio: skcnn default / skcnn n_jobs=1 (target <= 1.3 with one core busy); "
        "vs torch: skcnn default / PyTorch's faster thread count (< 1 is faster)"
    )
    return 0


def argv_of(args):
    """The options a child process needs to load the same data."""
    out = ["--n-train", str(args.n_train), "--n-queries", str(args.n_queries)]
    out += ["--repeats", str(args.repeats)]
    return out + (["--data-home", args.data_home] if args.data_home else [])


if __name__ == "__main__":
    sys.exit(main())
