"""The linear softmax classifier on MNIST, and its class templates.

Fits ``LinearSoftmaxClassifier`` (f(x) = Wx + b, softmax), prints its test
accuracy, and draws each class's weights as an image (the "templates" a linear
classifier matches) and its most confident mistakes. Figures go to ``--out``
(default ``figures/linear``). Run::

    python examples/plot_linear.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from skcnn import LinearSoftmaxClassifier
from skcnn.datasets import load_mnist
from skcnn.inspection import MistakesDisplay, TemplatesDisplay


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--fast", action="store_true", help="3,000 training images")
    parser.add_argument("--out", default="figures/linear")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True,
                                scale=True)  # fmt: skip
    if args.fast:
        X, y = X[:3_000], y[:3_000]

    # alpha=1.0: enough L2 penalty for the templates to look like their digits
    # (the default 1e-4 lets them fit pixel noise), at about the same accuracy.
    clf = LinearSoftmaxClassifier(alpha=1.0, random_state=0).fit(X, y)
    print(f"{clf.n_iter_} epochs, test accuracy {clf.score(X_test, y_test):.4f}")
    templates = TemplatesDisplay.from_estimator(clf)
    templates.figure_.suptitle("LinearSoftmaxClassifier: coef_ of each class")
    templates.figure_.savefig(out / "linear_templates.png", dpi=100,
                              bbox_inches="tight")  # fmt: skip
    mistakes = MistakesDisplay.from_estimator(clf, X_test, y_test)
    mistakes.figure_.savefig(out / "linear_mistakes.png", dpi=100,
                             bbox_inches="tight")  # fmt: skip
    plt.close("all")


if __name__ == "__main__":
    main()
