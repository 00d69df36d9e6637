"""
=====================================================================
Grid-search LeNet-5, then compare the four models in pipelines
=====================================================================

1. ``GridSearchCV`` over LeNet-5's activation, pooling and C1 channels (3-fold
   cross-validation on a training subset), in a Pipeline after a
   ``MinMaxScaler``;
2. the four estimators, each in a Pipeline with that scaler (LeNet-5 with the
   best parameters found), fitted on the training set and scored on the test
   set;
3. a table of test accuracy and fit/predict seconds (Markdown), printed and
   written to ``--out`` (default ``figures/compare``) as ``results.md``.

numba compiles skcnn's kernels on their first call in a process (or loads them
from its cache on disk, after the first run). :func:`skcnn.warm_up` does that
on a clone of each estimator before it is timed, and its time is printed on its
own line, so the times of the search and of the table never include it.

Run (``--fast`` uses 3,000 training images and few epochs, for a quick
check)::

    python examples/search_and_compare.py [--data-home DIR] [--fast] [--n-jobs 2]
                                          [--out DIR]
"""

import argparse
import time
import warnings
from pathlib import Path

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skcnn import (
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
    warm_up,
)
from skcnn.datasets import load_mnist

parser = argparse.ArgumentParser(
    description="Grid-search LeNet-5, then compare the four models on MNIST."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="small and quick")
parser.add_argument("--n-jobs", type=int, default=1, help="search processes")
parser.add_argument("--out", default="figures/compare", help="folder for the table")
args = parser.parse_args()
warnings.simplefilter("ignore", ConvergenceWarning)

X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True, scale=True)
n_train, n_search, epochs = (3_000, 1_500, 2) if args.fast else (60_000, 10_000, 20)
X, y = X[:n_train], y[:n_train]
if args.fast:
    X_test, y_test = X_test[:1_000], y_test[:1_000]

# %%
# The search
# ----------
# On a subset, a few epochs per candidate. Every candidate's kernels are
# compiled (or loaded) first: joblib's workers then load them from numba's
# cache.

lenet = make_pipeline(MinMaxScaler(), LeNet5Classifier(random_state=0))
grid = {
    "lenet5classifier__activation": ["tanh", "relu"],
    "lenet5classifier__pooling": ["avg", "max"],
    "lenet5classifier__c1_channels": [6, 8],
}
lenet.set_params(lenet5classifier__max_iter=max(1, epochs // 5))
search = GridSearchCV(lenet, grid, cv=3, n_jobs=args.n_jobs)
report = sum(
    warm_up(clone(lenet).set_params(**params), X[:n_search], y[:n_search])
    for params in ParameterGrid(grid)
)
print(f"grid search: {report} (not included in the time below)")
start = time.perf_counter()
search.fit(X[:n_search], y[:n_search])
print(
    f"grid search: {len(search.cv_results_['params'])} candidates x 3 folds "
    f"in {time.perf_counter() - start:.0f} s; best {search.best_params_} "
    f"(cv accuracy {search.best_score_:.4f})"
)

# %%
# The four models
# ---------------
# LeNet-5 with the best parameters and full training; every model after the
# same scaler.

best = {key.split("__")[1]: value for key, value in search.best_params_.items()}
recipe = {"learning_rate": "adaptive", "early_stopping": True}
recipe["n_iter_no_change"] = 2  # divide the rate by 5 when validation stalls
models = {
    "KNNImageClassifier": KNNImageClassifier(n_neighbors=3),
    "LinearSoftmaxClassifier": LinearSoftmaxClassifier(random_state=0),
    "MLPClassifier": MLPClassifier(
        early_stopping=True, max_iter=epochs * 2, random_state=0
    ),
    "LeNet5Classifier": LeNet5Classifier(
        **best, **recipe, max_iter=epochs, random_state=0
    ),
}
pipes = {name: make_pipeline(MinMaxScaler(), model) for name, model in models.items()}
report = sum(warm_up(pipe, X, y) for pipe in pipes.values())
print(f"the four models: {report} (not included in the table's times)")
rows = []
for name, pipe in pipes.items():
    start = time.perf_counter()
    pipe.fit(X, y)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = pipe.score(X_test, y_test)
    predict_s = time.perf_counter() - start
    rows.append(
        {"model": name, "accuracy": accuracy, "fit_s": fit_s, "predict_s": predict_s}
    )

# %%
# The table
# ---------

lines = [
    "| model | test accuracy | test error | fit (s) | predict (s) |",
    "|---|---|---|---|---|",
]
for row in rows:
    lines.append(
        f"| {row['model']} | {row['accuracy']:.4f} | {1 - row['accuracy']:.2%} | "
        f"{row['fit_s']:.1f} | {row['predict_s']:.2f} |"
    )
print("\n".join(lines))
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "results.md").write_text("\n".join(lines) + "\n")
print(f"table written to {out.name}/results.md")
