"""CIFAR-10 with a batch-normalised 3x3 ConvNet: test accuracy against fitting time.

The net is the airbench recipe cut to two CPU cores: three blocks of a 3x3
"same" convolution, batch normalisation, relu and 2x2 max pooling (32, 64 and
128 filters), global average pooling, a dense softmax layer; Adam whose rate
warms up linearly over the first 20% of the steps and then falls linearly to 0
at the last epoch (``learning_rate="warmup_linear"``), label smoothing 0.2,
and random left-right flips and shifts of up to 2 pixels (1/16 of the side)
of the training images. It trains one epoch at a time (``partial_fit``; the
schedule spans ``--epochs``) and prints after each epoch the fitting seconds
so far and the test accuracy, then a markdown table of the curve and the CPU.
``--budget`` stops after the epoch that brings the fitting time to it; the
schedule still spans ``--epochs`` (so the rate has not reached 0 yet): choose
``--epochs`` to fit the budget.
skcnn's kernels are compiled (or loaded from numba's cache) beforehand by
``skcnn.warm_up``, on a clone and a few hundred images; that time is printed
on its own line and not counted.

Data (``--data``):

- ``cifar10`` (default): the official split, read by
  ``skcnn.datasets.load_cifar10`` from ``--data-home`` (``cifar10/`` in it).
  Nothing is downloaded unless ``--download`` is given: without the files the
  script says where they should be and exits with status 2.
- ``shapes``: ``skcnn.datasets.make_colour_shapes``, a synthetic task in
  CIFAR-10's layout (32x32 RGB, uint8) whose class is a shape's colour (red,
  green or blue, all of the same luma) and the half of the image it lies in
  (top or bottom). Training and test images are drawn with different seeds.
  This is what the test suite runs, at a small size.

``--grey`` trains and tests on greyscale copies (the BT.601 luma in all three
channels): on the shapes the colour is then invisible, and accuracy falls to
about 1/3 (the half alone). ``--min-accuracy`` makes the exit status 1 when
the last epoch's test accuracy is below it.

Run::

    python benchmarks/bench_cifar.py --data-home DIR --epochs 10
    python benchmarks/bench_cifar.py --data shapes --n-train 2000 --epochs 4 \\
        --min-accuracy 0.9
"""

import argparse
import sys
import time

import numpy as np
from _common import add_threads_argument, cpu_description, load_note

from skcnn import ConvNetClassifier, warm_up
from skcnn.datasets import DataFileError, load_cifar10, make_colour_shapes
from skcnn.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    GlobalAveragePooling2D,
    MaxPool2D,
)

WIDTHS = (32, 64, 128)
"""Filters of the three conv blocks."""

RECIPE = {
    "solver": "adam",
    "learning_rate": "warmup_linear",
    "learning_rate_init": 2e-3,
    "warmup_fraction": 0.2,
    "label_smoothing": 0.2,
    "augment": {"flip": True, "shift": 1 / 16},
    "batch_size": 64,
}
"""The training recipe: one-cycle schedule, label smoothing, flips and shifts."""

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R BT.601 luma, the greyscale of ``--grey``."""

WARMUP_IMAGES = 256
EXIT_NO_DATA = 2


# -- the net and the loop (the test suite runs these) ---------------------------


def bn_layers(widths=WIDTHS) -> list:
    """The hidden stack: per block conv 3x3 "same", BN, relu, 2x2 max pool; then
    global average pooling (the estimator adds the dense softmax layer)."""
    stack = []
    for filters in widths:
        stack += [
            Conv2D(filters, 3, padding="same"),
            BatchNormalization(),
            Activation("relu"),
            MaxPool2D(2),
        ]
    return [*stack, GlobalAveragePooling2D()]


def make_model(
    epochs: int, threads: int | None = None, random_state: int = 0, **params
) -> ConvNetClassifier:
    """The BN 3x3 ConvNet with the recipe; its schedule spans ``epochs`` epochs."""
    return ConvNetClassifier(
        layers=bn_layers(),
        **{**RECIPE, **params},
        max_iter=epochs,
        n_jobs=threads,
        random_state=random_state,
    )


def train_epochs(
    model, X, y, X_test, y_test, *, epochs: int, budget: float = np.inf, report=None
) -> list[dict]:
    """Train ``model`` one epoch at a time (``partial_fit``) and test it after each.

    Stops after ``epochs`` epochs, or after the first epoch that brings the
    fitting time to ``budget`` seconds or more. ``report``, if given, is called
    with each epoch's row as it comes.

    Returns
    -------
    curve : list of dict
        One row per epoch: ``epoch``, ``fit_seconds`` (fitting time so far, not
        counting the tests), ``epoch_seconds``, ``loss`` (training loss of the
        epoch), ``test_accuracy`` and ``test_seconds``.
    """
    classes = np.unique(y)
    curve, fit_seconds = [], 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.partial_fit(X, y, classes=classes)
        epoch_seconds = time.perf_counter() - start
        fit_seconds += epoch_seconds
        start = time.perf_counter()
        accuracy = model.score(X_test, y_test)
        row = {
            "epoch": epoch,
            "fit_seconds": fit_seconds,
            "epoch_seconds": epoch_seconds,
            "loss": model.loss_curve_[-1],
            "test_accuracy": accuracy,
            "test_seconds": time.perf_counter() - start,
        }
        curve.append(row)
        if report is not None:
            report(row)
        if fit_seconds >= budget:
            break
    return curve


def greyscale(X: np.ndarray) -> np.ndarray:
    """Colour images (n, height, width, 3) or their rows, with each pixel's BT.601
    luma in all three channels: the same shapes and dtype, no colour."""
    images = X.reshape(len(X), -1, 3)
    luma = images @ LUMA_WEIGHTS.astype(images.dtype, copy=False)
    grey = np.repeat(luma[..., None], 3, axis=-1)
    return grey.astype(X.dtype, copy=False).reshape(X.shape)


# -- data -------------------------------------------------------------------------


def load_data(args) -> tuple:
    """``(X, y, X_test, y_test, description)``: float32 rows in [0, 1]."""
    if args.data == "shapes":
        X, y = make_colour_shapes(
            args.n_train, return_X_y=True, scale=True, random_state=args.seed
        )
        X_test, y_test = make_colour_shapes(
            args.n_test, return_X_y=True, scale=True, random_state=args.seed + 1
        )
        description = "make_colour_shapes (6 classes: colour x half)"
    else:
        common = {"return_X_y": True, "scale": True, "download": args.download}
        X, y = load_cifar10(args.data_home, subset="train", **common)
        X_test, y_test = load_cifar10(args.data_home, subset="test", **common)
        X, y = X[: args.n_train], y[: args.n_train]
        X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
        description = "CIFAR-10"
    if args.grey:
        X, X_test = greyscale(X), greyscale(X_test)
        description += ", greyscale copies"
    return X, y, X_test, y_test, description


# -- output -----------------------------------------------------------------------


def print_row(row: dict) -> None:
    print(
        f"  {row['epoch']:5d}{row['fit_seconds']:9.1f}{row['epoch_seconds']:9.1f}"
        f"{row['loss']:9.4f}{row['test_accuracy']:15.2%}",
        flush=True,
    )


def markdown_table(curve: list[dict]) -> str:
    lines = [
        "| epoch | fit seconds | seconds per epoch | training loss | test accuracy |",
        "|---|---|---|---|---|",
    ]
    for row in curve:
        lines.append(
            f"| {row['epoch']} | {row['fit_seconds']:.1f} | "
            f"{row['epoch_seconds']:.1f} | {row['loss']:.4f} | "
            f"{row['test_accuracy']:.2%} |"
        )
    return "\n".join(lines)


# -- main -------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("cifar10", "shapes"), default="cifar10")
    parser.add_argument("--data-home", default=None, help="folder holding cifar10/")
    parser.add_argument(
        "--download", action="store_true", help="cifar10: download missing files"
    )
    add_threads_argument(parser, "numba threads of the kernels")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    parser.add_argument(
        "--budget",
        type=float,
        default=np.inf,
        help="stop once fitting took this many seconds (default: no limit)",
    )
    parser.add_argument(
        "--n-train",
        type=int,
        default=None,
        help="training images (default: cifar10 all 50,000; shapes 5,000)",
    )
    parser.add_argument(
        "--n-test",
        type=int,
        default=None,
        help="test images (default: cifar10 all 10,000; shapes 2,000)",
    )
    parser.add_argument(
        "--grey", action="store_true", help="greyscale copies of the images"
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state (0)")
    parser.add_argument(
        "--min-accuracy",
        type=float,
        default=None,
        help="exit with status 1 if the last test accuracy is below this",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.data == "shapes":
        args.n_train = 5000 if args.n_train is None else args.n_train
        args.n_test = 2000 if args.n_test is None else args.n_test
    for name in ("n_train", "n_test"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")

    try:
        X, y, X_test, y_test, description = load_data(args)
    except (FileNotFoundError, DataFileError, OSError) as exc:
        print(
            f"bench_cifar: CIFAR-10 is not available: {exc}\n"
            "Put the binary batches there (or pass --download), or run the "
            "synthetic task with --data shapes.",
            file=sys.stderr,
        )
        return EXIT_NO_DATA

    model = make_model(args.epochs, args.threads, random_state=args.seed)
    cpu = cpu_description()
    print(f"CPU: {cpu}")
    print(f"threads: {args.threads}; {load_note(args.threads)}")
    print(
        f"data: {description}; training images {X.shape[0]:,}, test images "
        f"{X_test.shape[0]:,}, {X.dtype} rows of {X.shape[1]:,} values"
    )
    print(f"model: {model!r}")
    print(f"{warm_up(model, X, y, n_images=WARMUP_IMAGES)} (not counted below)")
    print(f"  {'epoch':>5}{'fit s':>9}{'epoch s':>9}{'loss':>9}{'test accuracy':>15}")
    curve = train_epochs(
        model, X, y, X_test, y_test,
        epochs=args.epochs, budget=args.budget, report=print_row,
    )  # fmt: skip
    last = curve[-1]
    if last["fit_seconds"] >= args.budget and last["epoch"] < args.epochs:
        print(f"stopped: {last['fit_seconds']:.1f} s of fitting >= --budget")
    print()
    print(markdown_table(curve))
    print()
    print(
        f"{description}: test accuracy {last['test_accuracy']:.2%} after "
        f"{last['epoch']} epoch(s), {last['fit_seconds']:.1f} s of fitting on "
        f"{args.threads} thread(s); {load_note(args.threads, own=args.threads)}"
    )
    print(f"CPU: {cpu}")
    if args.min_accuracy is not None and last["test_accuracy"] < args.min_accuracy:
        print(
            f"test accuracy {last['test_accuracy']:.2%} is below --min-accuracy "
            f"{args.min_accuracy:.2%}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
