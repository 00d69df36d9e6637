"""
=======================================================================
LeNet-5 on MNIST: its layers, training, filters, feature maps, mistakes
=======================================================================

Trains :class:`~skcnn.LeNet5Classifier` with early stopping and the adaptive
learning rate, prints the network's summary (the parameter counts of LeCun et
al., 1998), then draws the training curves, the filters of C1 and C3, the
feature maps of a test image after each convolution and pooling layer, the
most confident mistakes and the confusion matrix.

Figures go to ``--out`` (default ``figures/lenet``); ``--fast`` uses 3,000
training images and 2 epochs. Run::

    python examples/plot_lenet.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay

from skcnn import LeNet5Classifier
from skcnn.datasets import load_mnist
from skcnn.inspection import (
    FeatureMapsDisplay,
    FiltersDisplay,
    MistakesDisplay,
    TrainingCurveDisplay,
)

parser = argparse.ArgumentParser(
    description="LeNet-5 on MNIST: its layers, training, filters and mistakes."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="3,000 images, 2 epochs")
parser.add_argument("--out", default="figures/lenet", help="folder for the figures")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)


def save(display, name):
    """Write a display's figure to ``--out``."""
    display.figure_.savefig(out / name, dpi=100, bbox_inches="tight")


X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
max_iter = 2 if args.fast else 20
if args.fast:
    X, y = X[:3_000], y[:3_000]
    # so few epochs end before convergence, as expected: no warning for it
    warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# Training
# --------
# ``learning_rate="adaptive"`` divides the learning rate by 5 whenever the
# validation accuracy stalls for ``n_iter_no_change`` epochs; early stopping
# keeps the best epoch's weights. ``verbose=1`` prints one line per epoch.

clf = LeNet5Classifier(
    max_iter=max_iter,
    learning_rate="adaptive",
    early_stopping=True,
    n_iter_no_change=2,
    random_state=0,
    verbose=1,
)
clf.fit(X, y)
print(f"test error {1 - clf.score(X_test, y_test):.2%}")

# %%
# The layers
# ----------
# Each layer's output shape (height, width, channels) and parameter count:
# 61,706 parameters in all, the paper's counts layer by layer except C3,
# which here connects every map of S2.

print(clf.summary())

# %%
# Training curve
# --------------

save(
    TrainingCurveDisplay.from_estimators([clf], names=["LeNet-5"]),
    "lenet_training_curve.png",
)

# %%
# Filters
# -------
# C1's six 5x5 filters, then C3's sixteen, one column per input map of S2.

save(FiltersDisplay.from_estimator(clf, layer="C1"), "lenet_filters_c1.png")
save(FiltersDisplay.from_estimator(clf, layer="C3"), "lenet_filters_c3.png")

# %%
# Feature maps
# ------------
# What a test image becomes after each convolution and pooling layer.

save(FeatureMapsDisplay.from_estimator(clf, X_test[0]), "lenet_feature_maps.png")

# %%
# Mistakes and confusion matrix
# -----------------------------
# The confusion matrix is scikit-learn's display: LeNet-5 is an ordinary
# classifier.

save(MistakesDisplay.from_estimator(clf, X_test, y_test), "lenet_mistakes.png")
save(
    ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test),
    "lenet_confusion_matrix.png",
)

# %%
# The figures above are also in ``--out``, as PNG files.

print(sorted(path.name for path in out.glob("lenet_*.png")))
plt.close("all")
