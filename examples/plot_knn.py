"""
=====================================================================
Nearest neighbours on MNIST: L1 against L2, k from 1 to 10, a shift
=====================================================================

The first model of the lecture compares whole images pixel by pixel:

1. test accuracy of the k-NN vote for k = 1..10 with L1 and L2 distances (one
   ``kneighbors`` search per metric, then the vote of the first k neighbours);
2. a few test images and their nearest training images;
3. why k-NN on raw pixels fails: an image shifted by two pixels is, by L2
   distance, farther from itself than many training images of its class are.

Figures go to ``--out`` (default ``figures/knn``); ``--fast`` uses 3,000
training and 300 test images. Run::

    python examples/plot_knn.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from skcnn import KNNImageClassifier
from skcnn.datasets import load_mnist
from skcnn.inspection import NeighborsDisplay

parser = argparse.ArgumentParser(
    description="Nearest neighbours on MNIST: L1 against L2, k from 1 to 10."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="3,000 training images")
parser.add_argument("--out", default="figures/knn", help="folder for the figures")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The data
# --------
# MNIST's images as uint8 pixels. The k-NN estimator keeps them as they are
# (the 60,000 training images take 47 MB), and its L1 kernel compares them
# byte by byte.

X, y = load_mnist(args.data_home, return_X_y=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True)
n_train, n_test = (3_000, 300) if args.fast else (60_000, 2_000)
X, y, X_test, y_test = X[:n_train], y[:n_train], X_test[:n_test], y_test[:n_test]
print(f"{n_train} training images, {n_test} test images, {X.dtype} pixels")


# %%
# Accuracy against k, for both metrics
# ------------------------------------
# One search for the 10 nearest neighbours per metric gives every k from 1 to
# 10: the vote of the first k of them.


def vote(labels, n_classes):
    """Majority label of each row (ties to the smaller label, as the estimator)."""
    counts = np.apply_along_axis(np.bincount, 1, labels, minlength=n_classes)
    return np.argmax(counts, axis=1)


ks = np.arange(1, 11)
figure, ax = plt.subplots(figsize=(5, 3.5))
for metric in ("l1", "l2"):
    knn = KNNImageClassifier(n_neighbors=10, metric=metric).fit(X, y)
    _, indices = knn.kneighbors(X_test)
    labels = y[indices]
    accuracy = [np.mean(vote(labels[:, :k], 10) == y_test) for k in ks]
    ax.plot(ks, accuracy, marker="o", label=metric.upper())
    best = int(ks[np.argmax(accuracy)])
    print(f"{metric.upper()}: best k = {best}, accuracy {max(accuracy):.4f}")
ax.set(xlabel="k", ylabel="test accuracy", title=f"k-NN on {n_train} MNIST images")
ax.legend()
figure.savefig(out / "knn_accuracy_vs_k.png", dpi=100, bbox_inches="tight")

# %%
# Neighbours of a few test images
# -------------------------------
# Each row: a test image, then its five nearest training images with their
# labels and L2 distances.

knn = KNNImageClassifier(n_neighbors=5, metric="l2").fit(X, y)
display = NeighborsDisplay.from_estimator(knn, X_test[:5], y_test[:5])
display.figure_.savefig(out / "knn_neighbors.png", dpi=100, bbox_inches="tight")

# %%
# A two-pixel shift
# -----------------
# The same digit moved two pixels to the right: to a human the same image, to
# the L2 distance a different one, farther from the original than many
# training images of its class.

image = X_test[0].reshape(28, 28).astype(np.float64)
shifted = np.zeros_like(image)
shifted[:, 2:] = image[:, :-2]
to_shifted = np.linalg.norm(image - shifted)
same_class = X[y == y_test[0]].astype(np.float64)
to_class = np.linalg.norm(same_class - image.ravel(), axis=1)
share = np.mean(to_class < to_shifted)
digit = y_test[0]
print(
    f"L2 distance of a test '{digit}' to itself shifted by 2 pixels: "
    f"{to_shifted:.0f}; {share:.0%} of the training '{digit}'s are closer"
)
display = NeighborsDisplay.from_estimator(
    knn, shifted.reshape(1, -1).astype(np.uint8), y_test[:1]
)
display.figure_.suptitle(
    f"shifted by 2 pixels: L2 distance {to_shifted:.0f} to the original", y=1.1
)
display.figure_.savefig(out / "knn_shift.png", dpi=100, bbox_inches="tight")

# %%
# The figures above are also in ``--out``, as PNG files.

print(sorted(path.name for path in out.glob("knn_*.png")))
plt.close("all")
