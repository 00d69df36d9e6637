"""Build your own CNN: a ConvNet declared in a few lines, trained on MNIST.

Declares a network with :mod:`skcnn.layers` (two conv blocks of 32 and 64
filters, 5x5, 'same' padding, max pooling, a dense hidden layer with dropout),
trains it with random shifts, rotations and scalings of the training images,
prints its summary and test error, then draws the training curve, the filters
of both convolutions, the feature maps of a test image and the most confident
mistakes. Figures go to ``--out`` (default ``figures/convnet``). Run::

    python examples/plot_convnet.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from skcnn import ConvNetClassifier
from skcnn.datasets import load_mnist
from skcnn.inspection import (
    FeatureMapsDisplay,
    FiltersDisplay,
    MistakesDisplay,
    TrainingCurveDisplay,
)
from skcnn.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPool2D


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--fast", action="store_true", help="2,000 images, 2 epochs")
    parser.add_argument("--out", default="figures/convnet")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True,
                                scale=True)  # fmt: skip
    if args.fast:
        X, y, X_test, y_test = X[:2_000], y[:2_000], X_test[:1_000], y_test[:1_000]

    layers = [
        Conv2D(32, 5, padding="same"), Activation("relu"), MaxPool2D(2),
        Conv2D(64, 5, padding="same"), Activation("relu"), MaxPool2D(2),
        Flatten(), Dense(128), Activation("relu"), Dropout(0.5),
    ]  # fmt: skip
    clf = ConvNetClassifier(
        layers=layers, augment=True, learning_rate="adaptive", early_stopping=True,
        n_iter_no_change=2, max_iter=2 if args.fast else 20, random_state=0,
        verbose=1,
    )  # fmt: skip
    clf.fit(X, y)
    print(clf.summary())
    print(f"test error {1 - clf.score(X_test, y_test):.2%}")

    def save(display, name):
        display.figure_.savefig(out / name, dpi=100, bbox_inches="tight")

    save(TrainingCurveDisplay.from_estimators([clf], names=["ConvNet"]),
         "convnet_training_curve.png")  # fmt: skip
    save(FiltersDisplay.from_estimator(clf, layer="conv1"), "convnet_filters_1.png")
    conv2 = FiltersDisplay.from_estimator(clf, layer="conv2", max_filters=16)
    save(conv2, "convnet_filters_2.png")
    save(FeatureMapsDisplay.from_estimator(clf, X_test[0]), "convnet_feature_maps.png")
    save(MistakesDisplay.from_estimator(clf, X_test, y_test), "convnet_mistakes.png")
    plt.close("all")


if __name__ == "__main__":
    main()
