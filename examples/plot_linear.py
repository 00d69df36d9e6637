"""
===============================================================
The linear softmax classifier on MNIST, and its class templates
===============================================================

Fits :class:`~skcnn.LinearSoftmaxClassifier` (f(x) = Wx + b, softmax), prints
its test accuracy, and draws each class's weights as an image (the "templates"
a linear classifier matches) and its most confident mistakes.

Figures go to ``--out`` (default ``figures/linear``); ``--fast`` uses 3,000
training images. Run::

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

parser = argparse.ArgumentParser(
    description="The linear softmax classifier on MNIST, and its class templates."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="3,000 training images")
parser.add_argument("--out", default="figures/linear", help="folder for the figures")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# Training
# --------
# Pixels scaled to [0, 1]. ``alpha=1.0``: enough L2 penalty for the templates
# to look like their digits (the default 1e-4 lets them fit pixel noise), at
# about the same accuracy.

X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
if args.fast:
    X, y = X[:3_000], y[:3_000]

clf = LinearSoftmaxClassifier(alpha=1.0, random_state=0).fit(X, y)
print(f"{clf.n_iter_} epochs, test accuracy {clf.score(X_test, y_test):.4f}")

# %%
# The templates
# -------------
# Row ``c`` of ``coef_`` reshaped to 28x28: red pixels vote for class ``c``,
# blue ones against it.

templates = TemplatesDisplay.from_estimator(clf)
templates.figure_.suptitle("LinearSoftmaxClassifier: coef_ of each class")
templates.figure_.savefig(out / "linear_templates.png", dpi=100, bbox_inches="tight")

# %%
# The most confident mistakes
# ---------------------------
# Test images the model gets wrong with the highest predicted probability.

mistakes = MistakesDisplay.from_estimator(clf, X_test, y_test)
mistakes.figure_.savefig(out / "linear_mistakes.png", dpi=100, bbox_inches="tight")

# %%
# The figures above are also in ``--out``, as PNG files.

print(sorted(path.name for path in out.glob("linear_*.png")))
plt.close("all")
