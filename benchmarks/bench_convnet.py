"""ConvNetClassifier (and LeNet5Classifier) against the same nets in PyTorch (CPU).

Speed (default): both libraries run in this one process, on the same float32
MNIST pixels in [0, 1], with the same number of threads, and train the same
net with Adam (learning rate 1e-3), minibatches of 64 and softmax
cross-entropy, no augmentation:

- ``convnet``: conv 32@5x5 "same", relu, 2x2 max pool, conv 64@5x5 "same",
  relu, 2x2 max pool, flatten, dense 128, relu, dropout 0.5, dense 10;
- ``lenet``: LeNet-5 as in ``bench_lenet.py`` (28x28 padded to 32x32, tanh,
  average pooling, 6/16/120 maps, dense 84, dense 10);
- ``vgg``: the step after LeNet-5 on colour images, 3x3 "same" convolutions:
  conv 32, relu, conv 32, relu, 2x2 max pool, conv 64, relu, conv 64, relu,
  2x2 max pool, flatten, dense 256, relu, dense 10, on 32x32x3 images
  (``--n-train-vgg``, default 5,000, and 2,000 test images). They are MNIST
  digits padded to 32x32 and coloured, a colour per image for the digit and
  another for the background (seeded), so that the net has something to learn
  without a download; ``--cifar10`` uses CIFAR-10 instead (downloaded into the
  data home when missing).

It prints the seconds of one training epoch on the 60,000 training images and
of predicting the 10,000 test images, for each library, the ratio
skcnn / PyTorch, and the GFLOP/s each reaches as a fraction of this machine's
measured float32 matmul (sgemm) rate on the same threads. FLOP: 2 per
multiply-add of the convolution and dense layers (pooling, activations and the
optimizer are not counted); training counts 3x the forward pass (neither
library computes the first layer's input gradient, so both do a little less).

Other work on the machine only ever slows a run down, so the figures are
minima over ``--epochs`` repeats (default 2). Each epoch runs as slices of 100
minibatches, every slice timed in each library in turn (the same shuffled
order, the same load on the machine); the epoch figure is the sum over the
slices of each slice's fastest repeat, and the fastest whole epoch is printed
too. skcnn's kernels are compiled (or loaded from numba's cache) beforehand by
``skcnn.warm_up`` on a clone and a few hundred images, that time printed on its
own line and not counted; both libraries then train untimed on those images
first. skcnn also standardises its input (``normalize=True``, a scalar per
pixel), which the PyTorch net does not. PyTorch gets its fastest setup:
tensors built once, a seeded generator for the shuffle, a warm-up, and both
memory formats (NCHW and channels_last) timed, each eager and under
``torch.compile`` (TorchInductor; its compilation, like numba's, done in the
warm-up and not counted; ``--no-torch-compile`` skips it), the fastest of the
four setups used for each ratio; predict runs under ``torch.inference_mode``
at the faster of two large batches.

Accuracy (``--accuracy``): trains each model with random affine distortions
(``augment=True``) one epoch at a time (``partial_fit``) and prints the test
error after each epoch, until ``--epochs`` epochs (default 30) or ``--budget``
seconds of fitting (default 1200). A model with a step schedule ("modern":
batch normalisation, one-cycle rate, label smoothing) runs its ``max_iter``
epochs, the schedule's length. Targets: ConvNet <= 0.5% within 20 minutes of
fitting, LeNet-5 <= 0.8% within 30 epochs, modern <= 0.35% within 15 minutes
of fitting, and at 0.5% at least twice as soon as ConvNet (the error of the
last epoch inside the limit, not the best one: the test set picks nothing).

Needs the ``bench`` extra (``pip install -e ".[bench]"``: torch, CPU build).
Run with the OpenBLAS variables unset, so both libraries' BLAS runs at full
speed::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/bench_convnet.py --data-home DIR
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/bench_convnet.py --data-home DIR --accuracy
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import torch
from _common import add_threads_argument, cpu_description, sgemm_gflops
from _torch_nets import INPUT_SHAPES, forward_flop, torch_model
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from skcnn import ConvNetClassifier, LeNet5Classifier, warm_up
from skcnn.datasets import load_cifar10, load_mnist
from skcnn.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
)

MODELS = ("convnet", "lenet", "vgg")
ACCURACY_MODELS = ("convnet", "lenet", "modern")
# Accuracy mode: (test error, within seconds of fitting, within epochs).
TARGETS = {
    "convnet": (0.005, 1200, None),
    "lenet": (0.008, None, 30),
    "modern": (0.0035, 900, None),
}
# "modern" reaches this error at least this many times sooner than "convnet"
SOONER = (0.005, 2.0)
WARMUP_IMAGES = 672  # ten batches of 64 and a partial one of 32, as an epoch ends


# -- the nets -----------------------------------------------------------------


def skcnn_model(name, threads, **params):
    """The skcnn estimator for ``name``, Adam 1e-3, batches of 64."""
    common = {
        "solver": "adam",
        "learning_rate_init": 1e-3,
        "batch_size": 64,
        "random_state": 0,
        "n_jobs": threads,
    }
    if name == "lenet":
        return LeNet5Classifier(**common, **params)
    if name == "vgg":
        return ConvNetClassifier(layers=vgg_layers(), **common, **params)
    if name == "modern":
        return ConvNetClassifier(layers=modern_layers(), **{**common, **params})
    return ConvNetClassifier(
        conv_filters=(32, 64), kernel_size=5, padding="same", pooling="max",
        pool_size=2, hidden_layer_sizes=(128,), activation="relu", dropout=0.5,
        **common, **params,
    )  # fmt: skip


def vgg_layers():
    """The VGG-style stack of 3x3 convolutions, as skcnn layers."""
    return [
        Conv2D(32, 3, padding="same"), Activation("relu"),
        Conv2D(32, 3, padding="same"), Activation("relu"), MaxPool2D(2),
        Conv2D(64, 3, padding="same"), Activation("relu"),
        Conv2D(64, 3, padding="same"), Activation("relu"), MaxPool2D(2),
        Flatten(), Dense(256), Activation("relu"),
    ]  # fmt: skip


def modern_layers():
    """The modern small CNN: 3x3 convolutions with batch normalisation."""

    def block(k):
        return [Conv2D(k, 3, padding="same"), BatchNormalization(), Activation("relu")]

    return [
        *block(32), MaxPool2D(2), *block(64), MaxPool2D(2),
        Flatten(), Dense(128), BatchNormalization(), Activation("relu"),
    ]  # fmt: skip


def colour_digits(X, seed):
    """MNIST rows (n, 784) in [0, 1] as 32x32x3 colour images, flat (n, 3072):
    the digit padded by 2 pixels, in a random colour on a random background."""
    rng = np.random.default_rng(seed)
    digits = np.pad(X.reshape(-1, 28, 28), ((0, 0), (2, 2), (2, 2)))[..., None]
    front = rng.uniform(0.4, 1.0, (len(X), 1, 1, 3)).astype(np.float32)
    back = rng.uniform(0.0, 0.4, (len(X), 1, 1, 3)).astype(np.float32)
    return (back + (front - back) * digits).reshape(len(X), -1)


# Accuracy mode: the schedule of each model on top of skcnn_model's settings.
# partial_fit has no validation split, so "adaptive" watches the training loss:
# the rate is divided by 5 once it has not dropped by tol for 3 epochs in a row.
SCHEDULE = {"learning_rate": "adaptive", "tol": 1e-3, "n_iter_no_change": 2}
ACCURACY_PARAMS = {
    "convnet": {"augment": True, **SCHEDULE},
    "lenet": {"augment": True, **SCHEDULE},
    # one cycle: linear warm-up over the first 10% of the steps of max_iter
    # epochs, then linear decay to 0 at the last one (the run's length); the
    # test error is that of the moving average of the weights
    "modern": {
        "augment": True, "batch_size": 128, "learning_rate": "warmup_linear",
        "learning_rate_init": 3e-3, "warmup_fraction": 0.1, "label_smoothing": 0.1,
        "ema_decay": 0.999, "max_iter": 80,
    },
}  # fmt: skip


# -- PyTorch, the way a PyTorch user writes it ------------------------------------


class TorchRun:
    """One PyTorch net in one memory format, its optimizer and its data."""

    def __init__(self, name, memory_format, X, y, compiled=False, seed=0):
        torch.manual_seed(seed)
        self.memory_format = memory_format
        self.model = torch_model(name).to(memory_format=memory_format)
        # torch.compile (TorchInductor: fused C++ kernels) traces on first call
        self.net = torch.compile(self.model) if compiled else self.model
        # two memory formats x training and predict shapes share one frame's
        # cache of graphs: past the default limit of 8 it would run eagerly
        torch._dynamo.config.recompile_limit = 64
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()
        self.X = X.contiguous(memory_format=memory_format)
        self.y = y

    def train(self, rows, batch_size=64) -> float:
        """Train on the images ``rows`` (indices, in that order); its seconds."""
        X, y, net = self.X, self.y, self.net
        optimizer, loss_fn = self.optimizer, self.loss_fn
        self.model.train()
        start = time.perf_counter()
        for lo in range(0, len(rows), batch_size):
            batch = rows[lo : lo + batch_size]
            optimizer.zero_grad()
            loss_fn(net(X[batch]), y[batch]).backward()
            optimizer.step()
        return time.perf_counter() - start

    def predict(self, X, batch_size) -> tuple[np.ndarray, float]:
        """Predicted classes of X, and the seconds it took."""
        X = X.contiguous(memory_format=self.memory_format)
        self.model.eval()
        start = time.perf_counter()
        with torch.inference_mode():
            pred = torch.cat(
                [
                    self.net(X[lo : lo + batch_size]).argmax(1)
                    for lo in range(0, len(X), batch_size)
                ]
            )
        return pred.numpy(), time.perf_counter() - start


FORMATS = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}
PREDICT_BATCHES = (1000, 2500)
SLICE = 6400  # images per timed slice of an epoch: 100 minibatches of 64


# -- speed ----------------------------------------------------------------------


def speed(name, data, args, bound) -> dict:
    """Time training epochs and predictions of both libraries, interleaved."""
    X, y, X_test, y_test = data
    channels, height, width = INPUT_SHAPES[name]

    def as_nchw(rows):  # skcnn's flat rows are (height, width, channels) images
        images = rows.reshape(-1, height, width, channels).transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(images))

    tX, tX_test = as_nchw(X), as_nchw(X_test)
    flop = forward_flop(torch_model(name), INPUT_SHAPES[name])
    runs = {
        f"PyTorch {k}{' compiled' * compiled}": TorchRun(
            name, v, tX, torch.from_numpy(y), compiled
        )
        for compiled in (False, True)[: 1 + args.torch_compile]
        for k, v in FORMATS.items()
    }
    for run in runs.values():  # oneDNN builds its primitives for each shape,
        # torch.compile traces, also for a partial batch (then for any size)
        run.train(torch.arange(min(WARMUP_IMAGES, len(X))))
        for batch_size in PREDICT_BATCHES:
            run.predict(tX_test[: batch_size + batch_size // 2], batch_size)
    clf = None
    if not args.torch_only:
        clf = skcnn_model(name, args.threads, max_iter=1, tol=0)
        report = warm_up(clf, X, y, n_images=WARMUP_IMAGES)
        print(f"  skcnn: {report} (not included in the times below)")
        # Untimed, as PyTorch's runs: one pass over the first images.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X[:WARMUP_IMAGES], y[:WARMUP_IMAGES])

    # An epoch runs as slices of 100 minibatches, each slice timed in every
    # library in turn: the load of other processes falls on both alike, and the
    # sum over slices of each slice's fastest repeat is an epoch with the
    # least disturbance this run saw.
    generator = torch.Generator().manual_seed(0)
    who = [*runs, "skcnn"] if clf is not None else [*runs]
    n_slices = -(-len(X) // SLICE)
    train = {k: np.zeros((args.epochs, n_slices)) for k in who}
    predict = {k: np.full(args.epochs, np.inf) for k in who}
    predict_setup, errors = {}, {}
    for repeat in range(args.epochs):
        order = torch.randperm(len(X), generator=generator)
        for index, lo in enumerate(range(0, len(X), SLICE)):
            rows = order[lo : lo + SLICE]
            for key, run in runs.items():
                train[key][repeat, index] = run.train(rows)
            if clf is not None:
                X_slice, y_slice = X[rows.numpy()], y[rows.numpy()]
                start = time.perf_counter()
                clf.partial_fit(X_slice, y_slice)
                train["skcnn"][repeat, index] = time.perf_counter() - start
        for key, run in runs.items():
            for batch_size in PREDICT_BATCHES:
                pred, seconds = run.predict(tX_test, batch_size)
                if seconds < predict[key].min():
                    predict_setup[key] = batch_size
                predict[key][repeat] = min(predict[key][repeat], seconds)
            errors[key] = float(np.mean(pred != y_test))
        if clf is not None:
            start = time.perf_counter()
            pred = clf.predict(X_test)
            predict["skcnn"][repeat] = time.perf_counter() - start
            errors["skcnn"] = float(np.mean(pred != y_test))
        print(
            f"  repeat {repeat + 1} (load average {os.getloadavg()[0]:.1f}): "
            "epoch / predict seconds: "
            + ", ".join(
                f"{k} {train[k][repeat].sum():.1f} / {predict[k][repeat]:.2f}"
                for k in who
            ),
            flush=True,
        )

    result = {
        "model": name,
        "train_flop": 3 * flop * len(X),
        "predict_flop": flop * len(X_test),
        "epoch": {k: train[k].sum(axis=1).min() for k in who},
        "epoch_slices": {k: train[k].min(axis=0).sum() for k in who},
        "predict": {k: predict[k].min() for k in who},
    }
    torch_train = min(runs, key=result["epoch_slices"].get)
    torch_predict = min(runs, key=result["predict"].get)
    result["torch_train"], result["torch_predict"] = torch_train, torch_predict
    result["torch_batch"] = predict_setup[torch_predict]
    print(f"  {'':<32}{'task':<26}{'seconds':>9}{'GFLOP/s':>9}{'of sgemm':>10}")
    for k in who:
        for task, key, n_flop in (
            ("epoch, min of runs", "epoch", result["train_flop"]),
            ("epoch, sum of slice mins", "epoch_slices", result["train_flop"]),
            ("predict", "predict", result["predict_flop"]),
        ):
            seconds = result[key][k]
            rate = n_flop / seconds / 1e9
            if task == "predict" and k != "skcnn":
                task = f"predict, batch {predict_setup[k]}"
            print(f"  {k:<32}{task:<26}{seconds:9.2f}{rate:9.1f}{rate / bound:10.1%}")
    if clf is not None:
        ours, theirs = result["epoch_slices"]["skcnn"], result["epoch_slices"]
        whole = result["epoch"]["skcnn"] / min(result["epoch"][k] for k in runs)
        predict_ratio = result["predict"]["skcnn"] / result["predict"][torch_predict]
        print(
            f"  skcnn / PyTorch: epoch {ours:.1f} / {theirs[torch_train]:.1f} s = "
            f"{ours / theirs[torch_train]:.2f} (min of whole epochs: {whole:.2f}); "
            f"predict {predict_ratio:.2f}"
        )
    print(
        f"  test error after {args.epochs} epoch(s): "
        + ", ".join(f"{k} {v:.2%}" for k, v in errors.items())
    )
    return result


def speed_table(results, bound) -> str:
    def cell(seconds, n_flop):
        return f"{seconds:.2f} s ({n_flop / seconds / 1e9 / bound:.0%})"

    lines = [
        "| model | task | skcnn | PyTorch | PyTorch setup | skcnn / PyTorch |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        tasks = (
            ("epoch", "epoch_slices", r["train_flop"], r["torch_train"][8:]),
            ("predict", "predict", r["predict_flop"],
             f"{r['torch_predict'][8:]}, batch {r['torch_batch']}"),
        )  # fmt: skip
        for task, key, n_flop, setup in tasks:
            torch_key = r["torch_train"] if key != "predict" else r["torch_predict"]
            theirs = r[key][torch_key]
            ours = r[key].get("skcnn")
            lines.append(
                f"| {r['model']} | {task} "
                f"| {'-' if ours is None else cell(ours, n_flop)} "
                f"| {cell(theirs, n_flop)} | {setup} "
                f"| {'-' if ours is None else f'{ours / theirs:.2f}'} |"
            )
    return "\n".join(lines)


# -- accuracy -------------------------------------------------------------------


def accuracy(name, data, args) -> dict:
    X, y, X_test, y_test = data
    clf = skcnn_model(name, args.threads, **ACCURACY_PARAMS[name])
    print(f"  {clf!r}")
    report = warm_up(clf, X, y, n_images=WARMUP_IMAGES)  # on a throwaway clone
    print(f"  {report} (not included in the times below)")
    classes, fit_seconds, curve = np.unique(y), 0.0, []
    print(f"  {'epoch':>5}{'fit s':>9}{'loss':>9}{'lr':>9}{'test error':>12}")
    # a step schedule spans max_iter epochs: the run's length
    n_epochs = clf.max_iter if clf.learning_rate.startswith("warmup") else args.epochs
    for epoch in range(1, n_epochs + 1):
        start = time.perf_counter()
        clf.partial_fit(X, y, classes=classes)
        fit_seconds += time.perf_counter() - start
        error = 1.0 - clf.score(X_test, y_test)
        curve.append((epoch, fit_seconds, error))
        # the rate is the optimizer's (private, printed only to follow "adaptive")
        rate = getattr(getattr(clf, "_optimizer", None), "learning_rate", np.nan)
        print(
            f"  {epoch:5d}{fit_seconds:9.0f}{clf.loss_curve_[-1]:9.4f}"
            f"{rate:9.1e}{error:12.2%}",
            flush=True,
        )
        if fit_seconds > args.budget:
            print(f"  stopped: {fit_seconds:.0f} s of fitting > budget {args.budget} s")
            break
    return {"model": name, "curve": curve}


def at_limit(result) -> tuple:
    """(epoch, fit seconds, test error) of the last epoch within the target's limit."""
    _, seconds, epochs = TARGETS[result["model"]]
    within = [
        row
        for row in result["curve"]
        if (seconds is None or row[1] <= seconds)
        and (epochs is None or row[0] <= epochs)
    ]
    return within[-1] if within else None


def reaches(error, target) -> bool:
    """Whether a test error is at most ``target`` (50 mistakes in 10,000 is
    0.5%, not 1 - 0.995 in floating point)."""
    return error <= target + 1e-9


def target_met(result) -> bool:
    row = at_limit(result)
    return row is not None and reaches(row[2], TARGETS[result["model"]][0])


def accuracy_table(results) -> str:
    lines = [
        "| model | epochs | fit seconds | final test error | best (epoch) | "
        "target | at the limit (epoch) | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        epoch, seconds, error = r["curve"][-1]
        best = min(r["curve"], key=lambda row: row[2])
        target, max_seconds, max_epochs = TARGETS[r["model"]]
        limit = (
            f"{max_seconds} s of fit"
            if max_seconds is not None
            else f"{max_epochs} epochs"
        )
        row = at_limit(r)
        reached = "-" if row is None else f"{row[2]:.2%} ({row[0]})"
        lines.append(
            f"| {r['model']} | {epoch} | {seconds:.0f} | {error:.2%} | "
            f"{best[2]:.2%} ({best[0]}) | <= {target:.2%} within {limit} | "
            f"{reached} | {'yes' if target_met(r) else 'no'} |"
        )
    per_epoch = [
        "",
        "| epoch | " + " | ".join(r["model"] for r in results) + " |",
        "|---" * (len(results) + 1) + "|",
    ]
    for i in range(max(len(r["curve"]) for r in results)):
        cells = [
            f"{r['curve'][i][2]:.2%} ({r['curve'][i][1]:.0f} s)"
            if i < len(r["curve"])
            else ""
            for r in results
        ]
        per_epoch.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    models = {r["model"]: r for r in results}
    if {"modern", "convnet"} <= set(models):
        error, factor = SOONER
        first = {
            name: next(
                (row for row in models[name]["curve"] if reaches(row[2], error)), None
            )
            for name in ("modern", "convnet")
        }
        if None in first.values():
            reached = {k: v is not None for k, v in first.items()}
            summary = f"not both reach it: {reached}"
        else:
            ratio = first["convnet"][1] / first["modern"][1]
            summary = (
                f"modern {first['modern'][1]:.0f} s (epoch {first['modern'][0]}), "
                f"convnet {first['convnet'][1]:.0f} s (epoch {first['convnet'][0]}): "
                f"{ratio:.1f}x sooner (target >= {factor:g}x: "
                f"{'met' if ratio >= factor else 'missed'})"
            )
        lines.insert(0, f"first epoch at <= {error:.1%} test error: {summary}\n")
    return "\n".join(lines + per_epoch)


# -- main -----------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    add_threads_argument(parser)
    parser.add_argument(
        "--models", nargs="+", choices=(*MODELS, "modern"), default=None
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="speed: timed epochs per library, the minimum is "
        "reported (default 2); accuracy: most epochs (default 30)",
    )
    parser.add_argument(
        "--accuracy",
        action="store_true",
        help="train with augmentation, test error per epoch",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=1200.0,
        help="accuracy: stop once fitting took this many seconds",
    )
    parser.add_argument(
        "--n-train", type=int, default=None, help="use only the first N training images"
    )
    parser.add_argument(
        "--n-train-vgg", type=int, default=5000, help="training images of the vgg net"
    )
    parser.add_argument(
        "--cifar10", action="store_true", help="vgg: CIFAR-10 instead of coloured MNIST"
    )
    parser.add_argument(
        "--torch-only", action="store_true", help="speed: time PyTorch alone"
    )
    parser.add_argument(
        "--no-torch-compile",
        dest="torch_compile",
        action="store_false",
        help="speed: PyTorch eager only (torch.compile needs a C++ compiler)",
    )
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 30 if args.accuracy else 2
    if args.models is None:
        args.models = list(ACCURACY_MODELS if args.accuracy else MODELS)
    if "modern" in args.models and not args.accuracy:
        parser.error("modern is an accuracy target: add --accuracy")
    torch.set_num_threads(args.threads)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(
        args.data_home, subset="test", return_X_y=True, scale=True
    )
    X, y = X[: args.n_train], y[: args.n_train]
    data = dict.fromkeys(("convnet", "lenet", "modern"), (X, y, X_test, y_test))
    if "vgg" in args.models:
        if args.accuracy:
            parser.error("--accuracy runs the MNIST nets only: drop vgg from --models")
        n_vgg, n_test = args.n_train_vgg, 2000
        if args.cifar10:
            Xc, yc = load_cifar10(args.data_home, return_X_y=True, scale=True)
            Xc_test, yc_test = load_cifar10(
                args.data_home, subset="test", return_X_y=True, scale=True
            )
            data["vgg"] = (Xc[:n_vgg], yc[:n_vgg], Xc_test[:n_test], yc_test[:n_test])
        else:
            data["vgg"] = (
                colour_digits(X[:n_vgg], 0), y[:n_vgg],
                colour_digits(X_test[:n_test], 1), y_test[:n_test],
            )  # fmt: skip

    bound = sgemm_gflops(args.threads)
    print(f"CPU: {cpu_description()}")
    print(
        f"threads: {args.threads}; torch {torch.__version__} "
        f"(oneDNN {torch.backends.mkldnn.is_available()}); numpy float32 matmul "
        f"on {args.threads} threads: {bound:.1f} GFLOP/s (the sgemm bound)"
    )
    load = os.getloadavg()[0]
    print(
        f"training images: {len(X):,}; test images: {len(X_test):,}; load average "
        f"(1 min) {load:.1f}"
        + (" > threads: other processes share the cores" if load > args.threads else "")
    )
    results = []
    for name in args.models:
        print(f"\n{name}")
        if args.accuracy:
            results.append(accuracy(name, data[name], args))
        else:
            results.append(speed(name, data[name], args, bound))
    print()
    if args.accuracy:
        print(accuracy_table(results))
        met = all(target_met(r) for r in results)
        print("all targets met" if met else "some target missed")
        return 0 if met else 1
    print(
        f"epoch: sum over its {SLICE}-image slices of each slice's fastest of "
        f"{args.epochs} runs; predict: fastest of {args.epochs}; in brackets the "
        f"fraction of the sgemm bound ({bound:.0f} GFLOP/s) reached, training "
        "counted as 3x the forward FLOP"
    )
    print(speed_table(results, bound))
    return 0


if __name__ == "__main__":
    sys.exit(main())
