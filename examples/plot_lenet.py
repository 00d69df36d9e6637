"""LeNet-5 on MNIST: its layers, training, filters, feature maps and mistakes.

Prints the network's summary (the parameter counts of LeCun et al., 1998),
trains it with early stopping and the adaptive learning rate, then draws the
training curves, the filters of C1 and C3, the feature maps of a test image
after each convolution and pooling layer, the most confident mistakes and the
confusion matrix. Figures go to ``--out`` (default ``figures/lenet``). Run::

    python examples/plot_lenet.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

from skcnn import LeNet5Classifier
from skcnn.datasets import load_mnist
from skcnn.inspection import (
    FeatureMapsDisplay,
    FiltersDisplay,
    MistakesDisplay,
    TrainingCurveDisplay,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--fast", action="store_true", help="3,000 images, 2 epochs")
    parser.add_argument("--out", default="figures/lenet")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True,
                                scale=True)  # fmt: skip
    max_iter = 2 if args.fast else 20
    if args.fast:
        X, y = X[:3_000], y[:3_000]

    clf = LeNet5Classifier(max_iter=max_iter, learning_rate="adaptive",
                           early_stopping=True, n_iter_no_change=2, random_state=0,
                           verbose=1)  # fmt: skip
    clf.fit(X, y)
    print(clf.summary())
    print(f"test error {1 - clf.score(X_test, y_test):.2%}")

    def save(display, name):
        display.figure_.savefig(out / name, dpi=100, bbox_inches="tight")

    save(TrainingCurveDisplay.from_estimators([clf], names=["LeNet-5"]),
         "lenet_training_curve.png")  # fmt: skip
    save(FiltersDisplay.from_estimator(clf, layer="C1"), "lenet_filters_c1.png")
    save(FiltersDisplay.from_estimator(clf, layer="C3"), "lenet_filters_c3.png")
    save(FeatureMapsDisplay.from_estimator(clf, X_test[0]), "lenet_feature_maps.png")
    save(MistakesDisplay.from_estimator(clf, X_test, y_test), "lenet_mistakes.png")
    save(ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test),
         "lenet_confusion_matrix.png")  # fmt: skip
    plt.close("all")


if __name__ == "__main__":
    main()
