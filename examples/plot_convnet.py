"""
=============================================================
Build your own CNN: a ConvNet declared in a few lines, MNIST
=============================================================

Declares a network with :mod:`skcnn.layers` (two conv blocks of 32 and 64
filters, 5x5, 'same' padding, max pooling, a dense hidden layer with dropout),
trains it with random shifts, rotations and scalings of the training images,
prints its summary and test error, then draws the training curve, the filters
of both convolutions, the feature maps of a test image and the most confident
mistakes.

Figures go to ``--out`` (default ``figures/convnet``); ``--fast`` uses 2,000
training images, 1,000 test images and 2 epochs. Run::

    python examples/plot_convnet.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from skcnn import ConvNetClassifier
from skcnn.datasets import load_mnist
from skcnn.inspection import (
    FeatureMapsDisplay,
    FiltersDisplay,
    MistakesDisplay,
    TrainingCurveDisplay,
)
from skcnn.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPool2D

parser = argparse.ArgumentParser(
    description="Build your own CNN: a ConvNet declared in a few lines, on MNIST."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="2,000 images, 2 epochs")
parser.add_argument("--out", default="figures/convnet", help="folder for the figures")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)


def save(display, name):
    """Write a display's figure to ``--out``."""
    display.figure_.savefig(out / name, dpi=100, bbox_inches="tight")


X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
if args.fast:
    X, y, X_test, y_test = X[:2_000], y[:2_000], X_test[:1_000], y_test[:1_000]
    # so few epochs end before convergence, as expected: no warning for it
    warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The network
# -----------
# The stack between the image input and the softmax output, layer by layer.
# The estimator adds the image input in front and ``Dense(10)`` behind; every
# layer is checked against its input's shape before any training.

layers = [
    Conv2D(32, 5, padding="same"),
    Activation("relu"),
    MaxPool2D(2),
    Conv2D(64, 5, padding="same"),
    Activation("relu"),
    MaxPool2D(2),
    Flatten(),
    Dense(128),
    Activation("relu"),
    Dropout(0.5),
]

# %%
# Training
# --------
# ``augment=True`` draws a random shift, rotation and scaling of every training
# image in every minibatch (never at predict).

clf = ConvNetClassifier(
    layers=layers,
    augment=True,
    learning_rate="adaptive",
    early_stopping=True,
    n_iter_no_change=2,
    max_iter=2 if args.fast else 20,
    random_state=0,
    verbose=1,
)
clf.fit(X, y)
print(clf.summary())
print(f"test error {1 - clf.score(X_test, y_test):.2%}")

# %%
# Training curve
# --------------

save(
    TrainingCurveDisplay.from_estimators([clf], names=["ConvNet"]),
    "convnet_training_curve.png",
)

# %%
# Filters
# -------
# The 32 filters of the first convolution, then the first 16 of the second
# (each spanning the 32 maps of the first block; 16 of those shown).

save(FiltersDisplay.from_estimator(clf, layer="conv1"), "convnet_filters_1.png")
conv2 = FiltersDisplay.from_estimator(clf, layer="conv2", max_filters=16)
save(conv2, "convnet_filters_2.png")

# %%
# Feature maps and mistakes
# -------------------------

save(FeatureMapsDisplay.from_estimator(clf, X_test[0]), "convnet_feature_maps.png")
save(MistakesDisplay.from_estimator(clf, X_test, y_test), "convnet_mistakes.png")

# %%
# The figures above are also in ``--out``, as PNG files.

print(sorted(path.name for path in out.glob("convnet_*.png")))
plt.close("all")
