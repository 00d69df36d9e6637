"""
================================================================
A modern small CNN: batch normalisation and a one-cycle schedule
================================================================

The step after LeNet-5 uses the blocks of today's small-CNN records: batch
normalisation after each convolution and hidden dense layer, a learning rate
that warms up and then decays to zero by step (``learning_rate=
"warmup_cosine"``), label smoothing, random affine distortions of the
training images and a moving average of the weights at predict
(``ema_decay``). This example trains that network and the same one without
those blocks (a constant Adam rate, no normalisation, no smoothing, no
average) epoch by epoch with ``partial_fit`` on MNIST, and draws the test
error of each after every epoch.

Both are plain parameters of :class:`~skcnn.ConvNetClassifier`, so a grid
search can compare them too (``batch_norm``, ``head``, ``learning_rate``,
``label_smoothing``, ``augment``). Figures go to ``--out`` (default
``figures/modern_cnn``); ``--fast`` uses 2,000 training images, 1,000 test
images and 2 epochs. Run::

    python examples/plot_modern_cnn.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from skcnn import ConvNetClassifier
from skcnn.datasets import load_mnist

parser = argparse.ArgumentParser(
    description="A modern small CNN against a classic one, epoch by epoch, on MNIST."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="2,000 images, 2 epochs")
parser.add_argument(
    "--out", default="figures/modern_cnn", help="folder for the figures"
)
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
epochs = 12
if args.fast:
    X, y, X_test, y_test = X[:2_000], y[:2_000], X_test[:1_000], y_test[:1_000]
    epochs = 2

# %%
# The two networks
# ----------------
# The same conv blocks (32 and 64 filters of 3x3, max pooling) and dense layer;
# the modern one normalises each block, warms its rate up over the first 15% of
# the steps of ``max_iter`` epochs and then decays it along a half cosine,
# smooths the labels, distorts the training images and predicts with a moving
# average of its weights (and normalisation statistics).

common = {"conv_filters": (32, 64), "kernel_size": 3, "max_iter": epochs}
models = {
    "classic": ConvNetClassifier(**common, random_state=0),
    "modern": ConvNetClassifier(
        **common,
        batch_norm=True,
        learning_rate="warmup_cosine",
        learning_rate_init=3e-3,
        warmup_fraction=0.15,
        label_smoothing=0.1,
        ema_decay=0.999,
        augment={"shift": 0.1, "rotation": 10, "scale": 0.1},
        random_state=0,
    ),
}

# %%
# Training, epoch by epoch
# ------------------------
# Each ``partial_fit`` call is one epoch; the schedule spans ``max_iter`` of
# them.

classes = np.unique(y)
errors = {name: [] for name in models}
for name, model in models.items():
    start = time.perf_counter()
    for _ in range(epochs):
        model.partial_fit(X, y, classes=classes)
        errors[name].append(1 - model.score(X_test, y_test))
    seconds = time.perf_counter() - start
    print(f"{name}: test error {errors[name][-1]:.2%} after {epochs} epochs, "
          f"{seconds:.0f} s of training and testing")  # fmt: skip
print(models["modern"].summary())

# %%
# Test error after each epoch
# ---------------------------

fig, ax = plt.subplots(figsize=(6, 4))
for name, curve in errors.items():
    ax.plot(range(1, epochs + 1), 100 * np.asarray(curve), marker="o", label=name)
ax.set(xlabel="epoch", ylabel="test error (%)", yscale="log")
ax.legend()
fig.savefig(out / "modern_cnn_test_error.png", dpi=100, bbox_inches="tight")
plt.close("all")
