"""The ``compare`` command: train and evaluate the estimators on one data set.

``python -m skcnn compare`` fits each model on the training split, times
``fit`` and ``predict``, and prints one table row per model; ``--plots DIR``
also writes each model's figures and the table (CSV and Markdown) to DIR.
"""

import argparse
import csv
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from skcnn._knn import KNNImageClassifier
from skcnn._lenet import LeNet5Classifier
from skcnn._linear import LinearSoftmaxClassifier
from skcnn._mlp import MLPClassifier
from skcnn._warm_up import warm_up
from skcnn.datasets import (
    load_cifar10,
    load_digits_images,
    load_mnist,
    load_mnist_sample,
)

TEMPLATE_ALPHA = 1.0
"""L2 penalty of the linear model that ``compare`` fits and draws. Its class
templates look like their digits (on MNIST each correlates >= 0.5 with its
class's mean image, centred; with the estimator's default ``alpha=1e-4``,
0.1-0.3), at the same test accuracy within half a point."""

COMPARE_MLP = {
    "hidden_layer_sizes": (512,),
    "activation": "relu",
    "tol": 1e-3,
    "n_iter_no_change": 3,
}
"""The MLP of ``compare``: 512 relu units, trained until the training loss
improves by less than 0.001 for three epochs (about 25 epochs on the sample,
within the default ``max_iter=200``)."""

COMPARE_LENET = {
    "learning_rate_init": 2e-3,
    "tol": 1e-3,
    "n_iter_no_change": 2,
    "max_iter": 50,
}
"""LeNet-5 in ``compare``: Adam at a rate of 0.002, trained until the training
loss improves by less than 0.001 for two epochs (14-19 epochs on the sample)."""

MODELS: dict[str, Callable[[], BaseEstimator]] = {
    "knn": lambda: KNNImageClassifier(n_neighbors=3),
    "linear": lambda: LinearSoftmaxClassifier(alpha=TEMPLATE_ALPHA, random_state=0),
    "mlp": lambda: MLPClassifier(**COMPARE_MLP, random_state=0),
    "lenet": lambda: LeNet5Classifier(**COMPARE_LENET, random_state=0),
}
"""Model name on the command line -> a fresh estimator with the compared settings."""

DATASETS = ("mnist-sample", "digits", "mnist", "cifar10")
"""``mnist-sample`` is the MNIST sample shipped in the package (no download)."""

_WARM_UP_IMAGES = 200

_PREDICT_CHUNK = 1000


def load_split(dataset: str, data_home=None, download: bool = True):
    """Train and test images of ``dataset`` as float32 in [0, 1], flat rows.

    MNIST and CIFAR-10 use their official splits, the MNIST sample its 10,000
    training and 2,000 test images; the 1,797 digits are split 75/25,
    stratified, with ``random_state=0``.
    """
    if dataset == "mnist-sample":
        X_train, y_train = load_mnist_sample(return_X_y=True, scale=True)
        X_test, y_test = load_mnist_sample(subset="test", return_X_y=True, scale=True)
        return X_train, X_test, y_train, y_test
    if dataset == "digits":
        X, y = load_digits_images(return_X_y=True, scale=True)
        return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    loader = load_mnist if dataset == "mnist" else load_cifar10
    kwargs = {"return_X_y": True, "scale": True, "download": download}
    X_train, y_train = loader(data_home, subset="train", **kwargs)
    X_test, y_test = loader(data_home, subset="test", **kwargs)
    return X_train, X_test, y_train, y_test


def compare(
    dataset: str = "mnist-sample",
    models: Sequence[str] = tuple(MODELS),
    *,
    data_home=None,
    n_train: int | None = None,
    n_test: int | None = None,
    download: bool = True,
    progress: bool = True,
    plots=None,
) -> list[dict]:
    """Fit and score each model; return one result dict per model.

    Each dict has ``model``, ``accuracy``, ``fit_seconds`` and
    ``predict_seconds``, and ``warm_up``: the :class:`~skcnn.WarmUpReport` of
    a first fit and predict on a few images, run before the timed ones so that
    numba's compilation (or its loading from the cache) stays out of them. With
    ``plots`` (a folder), each model's figures are written there (see
    :func:`save_figures`).
    """
    X_train, X_test, y_train, y_test = load_split(dataset, data_home, download)
    X_train, y_train = X_train[:n_train], y_train[:n_train]
    X_test, y_test = X_test[:n_test], y_test[:n_test]
    results = []
    for name in models:
        estimator = MODELS[name]()
        if progress:
            tqdm.write(f"{name}: compiling the kernels", file=sys.stderr)
        report = warm_up(estimator, X_train, y_train, n_images=_WARM_UP_IMAGES)
        start = time.perf_counter()
        if progress:
            tqdm.write(f"{name}: fitting on {len(X_train)} images", file=sys.stderr)
        estimator.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        chunks = range(0, len(X_test), _PREDICT_CHUNK)
        bar = tqdm(
            total=len(X_test), desc=f"{name}: predicting", unit="img",
            disable=not progress, file=sys.stderr, leave=False,
        )  # fmt: skip
        predictions = []
        with bar:
            for lo in chunks:
                predictions.append(estimator.predict(X_test[lo : lo + _PREDICT_CHUNK]))
                bar.update(len(predictions[-1]))
        predict_seconds = time.perf_counter() - start
        accuracy = float(np.mean(np.concatenate(predictions) == y_test))
        if plots is not None:
            save_figures(name, estimator, X_test, y_test, plots)
        results.append(
            {
                "model": name,
                "accuracy": accuracy,
                "fit_seconds": fit_seconds,
                "predict_seconds": predict_seconds,
                "warm_up": report,
            }
        )
    return results


def compile_note(results: list[dict]) -> str:
    """One line on numba's compilation (or cache load) for the whole run."""
    report = sum(result["warm_up"] for result in results)
    return f"{report} (not included in the times above)"


def save_figures(name: str, estimator, X_test, y_test, folder) -> list[Path]:
    """Write the pictures of one fitted model to ``folder``; return the paths.

    Every model: its most confident mistakes and its confusion matrix. Then
    ``knn``: the neighbours of five test images; ``linear``: the class
    templates; ``linear``, ``mlp``, ``lenet``: the training curves; ``lenet``:
    the filters of C1 and C3 and the feature maps of the first test image.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    from skcnn import inspection

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "mistakes": inspection.MistakesDisplay.from_estimator(
            estimator, X_test, y_test
        ),
        "confusion_matrix": ConfusionMatrixDisplay.from_estimator(
            estimator, X_test, y_test
        ),
    }
    if name == "knn":
        figures["neighbors"] = inspection.NeighborsDisplay.from_estimator(
            estimator, X_test[:5], y_test[:5]
        )
    if name == "linear":
        figures["templates"] = inspection.TemplatesDisplay.from_estimator(estimator)
    if hasattr(estimator, "loss_curve_"):
        figures["training_curve"] = inspection.TrainingCurveDisplay.from_estimators(
            [estimator], names=[name]
        )
    if name == "lenet":
        for layer in ("C1", "C3"):
            figures[f"filters_{layer.lower()}"] = (
                inspection.FiltersDisplay.from_estimator(estimator, layer=layer)
            )
        figures["feature_maps"] = inspection.FeatureMapsDisplay.from_estimator(
            estimator, X_test[0]
        )
    paths = []
    for kind, display in figures.items():
        paths.append(folder / f"{name}_{kind}.png")
        display.figure_.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(display.figure_)
    return paths


def write_tables(results: list[dict], folder) -> None:
    """Write the results as ``results.csv`` and ``results.md`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["model", "accuracy", "fit_seconds", "predict_seconds"]
    with open(folder / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results)
    lines = ["| model | test accuracy | fit (s) | predict (s) |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['accuracy']:.4f} | {r['fit_seconds']:.2f} "
                     f"| {r['predict_seconds']:.2f} |")  # fmt: skip
    (folder / "results.md").write_text("\n".join(lines) + "\n")


def format_table(results: list[dict]) -> str:
    """Plain-text table: model, test accuracy, fit and predict seconds."""
    header = f"{'model':<10} {'test accuracy':>14} {'fit s':>9} {'predict s':>10}"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r['model']:<10} {r['accuracy']:>14.4f} {r['fit_seconds']:>9.2f} "
            f"{r['predict_seconds']:>10.2f}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m skcnn", description="scikit-learn image classifiers."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmp = commands.add_parser(
        "compare",
        help="train and evaluate the estimators on a data set",
        description="Train each model, then print test accuracy, fit and "
        "predict seconds as a table.",
    )
    cmp.add_argument(
        "--dataset", choices=DATASETS, default="mnist-sample",
        help="mnist-sample (default): the MNIST sample shipped with skcnn",
    )  # fmt: skip
    cmp.add_argument(
        "--data-home",
        default=None,
        help="folder holding mnist/ and cifar10/ (default: $SKCNN_DATA or "
        "~/skcnn_data); files missing there are downloaded",
    )
    cmp.add_argument(
        "--models", nargs="+", choices=list(MODELS), default=list(MODELS),
        help="models to compare (default: all)",
    )  # fmt: skip
    cmp.add_argument("--n-train", type=_positive_int, default=None, metavar="N")
    cmp.add_argument("--n-test", type=_positive_int, default=None, metavar="N")
    cmp.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading"
    )
    cmp.add_argument("--quiet", action="store_true", help="no progress output")
    cmp.add_argument(
        "--plots", default=None, metavar="DIR",
        help="write each model's figures and the table (CSV, Markdown) to DIR "
        "(needs matplotlib)",
    )  # fmt: skip
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m skcnn``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        results = compare(
            args.dataset,
            args.models,
            data_home=args.data_home,
            n_train=args.n_train,
            n_test=args.n_test,
            download=not args.no_download,
            progress=not args.quiet,
            plots=args.plots,
        )
    except (FileNotFoundError, ValueError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dataset: {args.dataset}")
    print(format_table(results))
    print(compile_note(results))
    if args.plots is not None:
        write_tables(results, args.plots)
    return 0
