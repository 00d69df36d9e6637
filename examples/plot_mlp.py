"""The multilayer perceptron on MNIST, and its learning curves.

Fits two ``MLPClassifier``s (100 tanh units and 100 relu units) with early
stopping, prints their test accuracy and draws their training loss and
validation accuracy per epoch. Figures go to ``--out`` (default
``figures/mlp``). Run::

    python examples/plot_mlp.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from skcnn import MLPClassifier
from skcnn.datasets import load_mnist
from skcnn.inspection import TrainingCurveDisplay


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--fast", action="store_true", help="3,000 images, 5 epochs")
    parser.add_argument("--out", default="figures/mlp")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True,
                                scale=True)  # fmt: skip
    max_iter = 5 if args.fast else 50
    if args.fast:
        X, y = X[:3_000], y[:3_000]

    models = {}
    for activation in ("tanh", "relu"):
        mlp = MLPClassifier((100,), activation=activation, early_stopping=True,
                            max_iter=max_iter, random_state=0)  # fmt: skip
        models[f"100 {activation}"] = mlp.fit(X, y)
        print(f"100 {activation} units: {mlp.n_iter_} epochs, test accuracy "
              f"{mlp.score(X_test, y_test):.4f}")  # fmt: skip
    display = TrainingCurveDisplay.from_estimators(list(models.values()),
                                                   names=list(models))  # fmt: skip
    display.figure_.savefig(out / "mlp_training_curves.png", dpi=100,
                            bbox_inches="tight")  # fmt: skip
    plt.close("all")


if __name__ == "__main__":
    main()
