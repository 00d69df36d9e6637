"""
==============================================
The multilayer perceptron on MNIST, its curves
==============================================

Fits two :class:`~skcnn.MLPClassifier` networks (100 tanh units and 100 relu
units) with early stopping, prints their test accuracy and draws their
training loss and validation accuracy per epoch.

Figures go to ``--out`` (default ``figures/mlp``); ``--fast`` uses 3,000
images and at most 5 epochs. Run::

    python examples/plot_mlp.py [--data-home DIR] [--fast] [--out DIR]
"""

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from skcnn import MLPClassifier
from skcnn.datasets import load_mnist
from skcnn.inspection import TrainingCurveDisplay

parser = argparse.ArgumentParser(
    description="The multilayer perceptron on MNIST, and its learning curves."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="3,000 images, 5 epochs")
parser.add_argument("--out", default="figures/mlp", help="folder for the figures")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
max_iter = 5 if args.fast else 50
if args.fast:
    X, y = X[:3_000], y[:3_000]
    # so few epochs end before convergence, as expected: no warning for it
    warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# Two activations
# ---------------
# One hidden layer of 100 units. Early stopping holds out 10% of the training
# images, stops when their accuracy stops improving and restores the best
# epoch's weights.

models = {}
for activation in ("tanh", "relu"):
    mlp = MLPClassifier(
        (100,),
        activation=activation,
        early_stopping=True,
        max_iter=max_iter,
        random_state=0,
    )
    models[f"100 {activation}"] = mlp.fit(X, y)
    print(
        f"100 {activation} units: {mlp.n_iter_} epochs, test accuracy "
        f"{mlp.score(X_test, y_test):.4f}"
    )

# %%
# Learning curves
# ---------------
# ``loss_curve_`` (training loss) and ``validation_scores_`` (accuracy on the
# held-out images) after each epoch.

display = TrainingCurveDisplay.from_estimators(
    list(models.values()), names=list(models)
)
display.figure_.savefig(out / "mlp_training_curves.png", dpi=100, bbox_inches="tight")

# %%
# The figure above is also in ``--out``, as a PNG file.

print(sorted(path.name for path in out.glob("mlp_*.png")))
plt.close("all")
