"""
============================================================
Hyperband on a dask cluster: ConvNets trained by partial_fit
============================================================

When the images outgrow one machine's memory, or the search its cores, dask
spreads both over a cluster. dask-ml's ``HyperbandSearchCV`` searches the
parameters of an estimator that has ``partial_fit``: it samples candidates,
trains each with ``partial_fit`` calls (one epoch on one block of a dask
array each) and keeps training only the best, in brackets that trade many
candidates trained briefly against few trained long. Every call runs on a
worker, the network travelling between them with its optimizer's state.

This example searches the learning rate and batch normalisation of a small
:class:`~skcnn.ConvNetClassifier` on MNIST with a ``LocalCluster`` (two worker
processes of one thread each; give ``Client`` a scheduler's address to use a
real cluster), draws each candidate's validation accuracy against its
``partial_fit`` calls and writes a table of the candidates. ``--fast`` searches
4,000 training images with a budget of 9 calls per candidate; without it,
60,000 images in 12 blocks, 27 calls and a deeper network. Run::

    python examples/dask_hyperband.py [--data-home DIR] [--fast] [--out DIR]

dask-ml 2025.1 (its newest release) runs its searches with dask and
distributed older than 2025.3 only (https://github.com/dask/dask-ml/issues/1016):
``pip install "skcnn[dask]"`` installs such a pair.
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import dask
import dask.array as da
import dask_ml
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster
from dask_ml.model_selection import HyperbandSearchCV
from packaging.version import Version
from scipy.stats import loguniform

from skcnn import ConvNetClassifier
from skcnn.datasets import load_mnist

parser = argparse.ArgumentParser(
    description="Hyperband over ConvNets with partial_fit on a dask cluster."
)
parser.add_argument("--data-home", default=None, help="folder holding mnist/")
parser.add_argument("--fast", action="store_true", help="4,000 images, 9 calls")
parser.add_argument(
    "--out", default="figures/dask_hyperband", help="folder for the figure and table"
)
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# %%
# The data, in blocks of rows
# ---------------------------
# dask-ml takes 2-D dask arrays blocked along the rows (the uint8 pixels as
# stored: the network normalises them). Here they come from memory; a
# collection larger than memory would be read from disk block by block (e.g.
# ``da.from_zarr``). Each bracket of the search holds out part of every block
# (``test_size``, by default one block's worth) to score the candidates.

n_train, chunk, max_iter = (4_000, 500, 9) if args.fast else (60_000, 5_000, 27)


def training_blocks():
    X, y = load_mnist(args.data_home, return_X_y=True)
    X_dask = da.from_array(X[:n_train], chunks=(chunk, X.shape[1]))
    return X_dask, da.from_array(y[:n_train], chunks=chunk)


# %%
# The candidates and the budget
# -----------------------------
# ``max_iter`` is the most ``partial_fit`` calls a candidate gets; Hyperband
# derives from it how many candidates each bracket samples (``metadata``).

conv_filters, hidden = ((4,), (16,)) if args.fast else ((8, 16), (32,))
convnet = ConvNetClassifier(
    conv_filters=conv_filters, hidden_layer_sizes=hidden, random_state=0
)
parameters = {
    "learning_rate_init": loguniform(1e-4, 3e-2),
    "batch_norm": [False, True],
}
search = HyperbandSearchCV(convnet, parameters, max_iter=max_iter, random_state=0)
plan = search.metadata
print(f"{plan['n_models']} candidates, {plan['partial_fit_calls']} partial_fit calls")


# %%
# Reading the search
# ------------------
# ``model_history_`` holds each candidate's validation accuracy after each
# round of calls; ``cv_results_`` the last of them, with the parameters and
# the bracket. A plot of the first (one line per candidate, one colour per
# bracket: the most aggressive bracket stops most of its candidates after one
# call, the least trains its few for the whole budget), a table of the second.


def plot_scores(search, path):
    fig, ax = plt.subplots(figsize=(6, 4))
    brackets = search.metadata_["brackets"]
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(brackets)))
    for records in search.model_history_.values():
        calls = [record["partial_fit_calls"] for record in records]
        scores = [record["score"] for record in records]
        colour = colours[records[0]["bracket"]]
        ax.plot(calls, scores, marker="o", color=colour, alpha=0.8)
    for bracket, colour in enumerate(colours):
        ax.plot([], [], color=colour, label=f"bracket {bracket}")
    ax.set(xlabel="partial_fit calls", ylabel="validation accuracy", xscale="log")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")


def candidates_table(search):
    results = search.cv_results_
    rows = [
        "| bracket | learning_rate_init | batch_norm | partial_fit calls "
        "| validation accuracy |",
        "|---|---|---|---|---|",
    ]
    for i in np.argsort(-results["test_score"], kind="stable"):
        rows.append(
            f"| {results['bracket'][i]} "
            f"| {results['param_learning_rate_init'][i]:.2e} "
            f"| {results['param_batch_norm'][i]} "
            f"| {results['partial_fit_calls'][i]} "
            f"| {results['test_score'][i]:.4f} |"
        )
    return "\n".join(rows) + "\n"


def searches_run() -> bool:
    """Whether dask-ml's searches run with the dask installed (dask-ml#1016)."""
    too_new = Version(dask.__version__) >= Version("2025.3.0")
    return not too_new or Version(dask_ml.__version__) > Version("2025.1.0")


# %%
# The search on the cluster
# -------------------------
# ``classes`` goes to every ``partial_fit`` call (a block need not hold every
# digit). The worker processes import this script again (they need none of
# it): the data are read, and the cluster started, only in the main program.

if __name__ == "__main__" and not searches_run():
    print(
        f"dask-ml {dask_ml.__version__}'s searches do not run on dask "
        f"{dask.__version__}: install dask and distributed older than 2025.3."
    )
elif __name__ == "__main__":
    with (
        LocalCluster(n_workers=2, threads_per_worker=1) as cluster,
        Client(cluster),
    ):
        X_dask, y_dask = training_blocks()
        start = time.perf_counter()
        search.fit(X_dask, y_dask, classes=np.arange(10))
        seconds = time.perf_counter() - start
    best = search.best_estimator_
    X_test, y_test = load_mnist(args.data_home, subset="test", return_X_y=True)
    print(f"search: {seconds:.0f} s; best {search.best_params_}")
    print(
        f"validation accuracy {search.best_score_:.4f} after {best.n_iter_} "
        f"partial_fit calls; test accuracy {best.score(X_test, y_test):.4f}"
    )
    plot_scores(search, out / "dask_hyperband_scores.png")
    table = candidates_table(search)
    print(table)
    (out / "dask_hyperband.md").write_text(table)
