"""predict on 200,000 MNIST images: in this process, and on a dask cluster.

The images: MNIST's 60,000 training images rolled 0, 1, 2 and 3 pixels to the
right, ``--n-images`` rows (default 200,000) of uint8 in blocks of ``--chunk``
(default 20,000). Each model is trained briefly on the first 10,000 unshifted
images (2,000 for the ConvNet; the time of predict does not depend on how well
a model learned):

- local: ``model.predict(X)`` on the numpy array in this process, numba's
  threads on every core;
- cluster: ``dask_ml.wrappers.ParallelPostFit(model).predict(X).compute()`` on
  a ``LocalCluster`` of ``--n-workers`` worker processes with one thread each
  (dask sets ``OMP_NUM_THREADS=1`` in them, and skcnn's kernels follow it: one
  core per worker), the blocks built on the workers and held in their memory
  beforehand (``persist``); the time includes shipping the model, scheduling and
  gathering the labels here.

dask's nannies also set ``MALLOC_TRIM_THRESHOLD_=65536`` in the workers, so
that glibc hands freed memory back to the system at once; every large array
(a batch's feature maps) is then mapped afresh and page-faulted on each use.
``--no-malloc-trim`` starts the workers without it, to measure what it costs.

The numba kernels are compiled or loaded from their cache first, by a predict
on 256 images here and in every worker, that time printed apart and counted in
no figure; each figure is the best of ``--repeats`` runs. The cluster's labels
must equal the local ones.
Run::

    python benchmarks/bench_dask.py [--data-home DIR] [--n-images 200000] \\
        [--chunk 20000] [--n-workers 2] [--repeats 2] [--no-malloc-trim] \\
        [--models knn,linear,mlp,lenet,convnet]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from _common import cpu_description, load_note
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_mnist
from skcnn.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPool2D

MODELS = {
    "knn": (KNNImageClassifier(n_neighbors=3), 10_000),
    "linear": (LinearSoftmaxClassifier(max_iter=5, random_state=0), 10_000),
    "mlp": (MLPClassifier(max_iter=5, random_state=0), 10_000),
    "lenet": (LeNet5Classifier(max_iter=2, random_state=0), 10_000),
    "convnet": (  # the network of the README's "Build your own CNN"
        ConvNetClassifier(
            layers=[
                Conv2D(32, 5, padding="same"), Activation("relu"), MaxPool2D(2),
                Conv2D(64, 5, padding="same"), Activation("relu"), MaxPool2D(2),
                Flatten(), Dense(128), Activation("relu"), Dropout(0.5),
            ],
            max_iter=1,
            random_state=0,
        ),
        2_000,
    ),
}  # fmt: skip


def shifted_block(data_home, start, stop):
    """Rows [start, stop) of the shifted set: image i is MNIST training image
    i % 60,000 rolled (i // 60,000) % 4 pixels to the right (uint8)."""
    X, _ = load_mnist(data_home, return_X_y=True)
    rows = np.arange(start, stop)
    images = X[rows % len(X)].reshape(-1, 28, 28)
    shifts = (rows // len(X)) % 4
    for shift in np.unique(shifts):
        chosen = shifts == shift
        images[chosen] = np.roll(images[chosen], shift, axis=2)
    return images.reshape(len(rows), -1)


def _predict_sample(model, X):
    """Run in every worker: loads the kernels ``model.predict`` needs there."""
    start = time.perf_counter()
    model.predict(X)
    return time.perf_counter() - start


def _best(function, repeats):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--n-images", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--n-workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="knn,linear,mlp,lenet,convnet")
    parser.add_argument(
        "--no-malloc-trim",
        action="store_true",
        help="start the workers without dask's MALLOC_TRIM_THRESHOLD_=65536",
    )
    args = parser.parse_args(argv)
    import dask
    import dask.array as da
    import distributed
    from dask_ml.wrappers import ParallelPostFit

    names = args.models.split(",")
    warnings.simplefilter("ignore", ConvergenceWarning)
    X_train, y_train = load_mnist(args.data_home, return_X_y=True)
    n, chunk = args.n_images, args.chunk
    X_local = shifted_block(args.data_home, 0, n)
    y_local = y_train[np.arange(n) % len(y_train)]
    models = {}
    for name in names:
        estimator, n_train = MODELS[name]
        models[name] = estimator.fit(X_train[:n_train], y_train[:n_train])
    print(cpu_description())
    print(f"{n:,} uint8 images in blocks of {chunk:,}; {args.n_workers} workers "
          f"x 1 thread against this process on {os.cpu_count()} cores")  # fmt: skip
    ok = True
    if args.no_malloc_trim:  # None unsets a variable of the nanny's environment
        trim = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
        dask.config.set({trim: None})
    with (
        distributed.LocalCluster(
            n_workers=args.n_workers, threads_per_worker=1, processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        blocks = [
            da.from_delayed(
                dask.delayed(shifted_block)(args.data_home, lo, min(lo + chunk, n)),
                (min(lo + chunk, n) - lo, 784),
                dtype=np.uint8,
            )
            for lo in range(0, n, chunk)
        ]
        X = client.persist(da.concatenate(blocks))
        distributed.wait(X)
        held = [len(keys) for keys in client.has_what().values()]
        print(f"blocks held by each worker: {held}")
        print(f"\n{'model':<8} {'local s':>9} {'cluster s':>10} {'cluster/local':>14} "
              f"{'images/s on the cluster':>24}  same labels  accuracy  "
              "first call, 256 images (local; slowest worker)")  # fmt: skip
        for name in names:
            model = models[name]
            sample = X_local[:256]
            start = time.perf_counter()
            model.predict(sample)
            warm_local = time.perf_counter() - start
            warm_workers = max(client.run(_predict_sample, model, sample).values())
            local_s, local = _best(lambda m=model: m.predict(X_local), args.repeats)
            wrapped = ParallelPostFit(model)
            cluster_s, remote = _best(
                lambda w=wrapped: w.predict(X).compute(), args.repeats
            )
            same = np.array_equal(local, remote)
            ok &= same
            accuracy = np.mean(local == y_local)
            print(f"{name:<8} {local_s:9.2f} {cluster_s:10.2f} "
                  f"{cluster_s / local_s:14.2f} {n / cluster_s:24,.0f}  "
                  f"{same!s:<11}  {accuracy:8.4f}  "
                  f"{warm_local:.1f} s; {warm_workers:.1f} s")  # fmt: skip
    print(load_note(os.cpu_count() or 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
