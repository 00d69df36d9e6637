"""Draws docs/_static/architecture.svg, the picture of the architecture page.

Run ``python docs/make_architecture_figure.py`` after moving a room.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

plt.rcParams["svg.fonttype"] = "none"
W, H = 900, 640
fig = plt.figure(figsize=(W / 100, H / 100), dpi=100)
ax = fig.add_axes([0, 0, 1, 1])
ax.set_xlim(0, W)
ax.set_ylim(H, 0)
ax.axis("off")


def box(x, y, w, h, title, lines=(), fill="#eef3fb", edge="#4a6fa5"):
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=6",
            fc=fill,
            ec=edge,
            lw=1.4,
        )
    )
    ax.text(x + 8, y + 16, title, fontsize=9.5, fontweight="bold", va="baseline")
    for i, line in enumerate(lines):
        ax.text(
            x + 8,
            y + 34 + 15 * i,
            line,
            fontsize=8.6,
            va="baseline",
            family="monospace" if line.startswith(" ") else None,
        )


def arrow(x1, y1, x2, y2, label="", dashed=False):
    ax.annotate(
        "",
        xy=(x2, y2),
        xytext=(x1, y1),
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#444",
            "lw": 1.2,
            "ls": "--" if dashed else "-",
        },
    )
    if label:
        ax.text((x1 + x2) / 2 + 5, (y1 + y2) / 2 - 3, label, fontsize=8.2, color="#333")


box(
    20,
    12,
    860,
    56,
    "Estimators: declarations",
    [
        "_mlp.py, _linear.py, _convnet.py, _lenet.py: their own parameters"
        " (@training_estimator) and _build_layers()"
    ],
    "#f4f4f4",
    "#888",
)
box(
    20,
    92,
    860,
    262,
    "BaseNetworkClassifier = _network.py + TrainingLoop + NetworkInference",
    [],
    "#fbfbf2",
    "#a08a3a",
)
box(
    36,
    120,
    262,
    222,
    "_network.py",
    [
        "fit / partial_fit -> _fit:",
        "  validate X (_images.py)",
        "  _initialize: classes, head,",
        "    layers' params and state,",
        "    flat weights (_buffer.py)",
        "  y, weights (_targets.py)",
        "  -> _fit_loop | _fit_lbfgs",
        "parameters, constraints,",
        "pickles of every layout",
    ],
)
box(
    312,
    120,
    310,
    222,
    "_training.py: TrainingLoop",
    [
        "_fit_loop -> _run_epoch -> _train_step",
        "  _add_gradient: layers' forward,",
        "  head.loss_gradient, backward;",
        "  optimizer.update_params",
        "_fit_lbfgs -> _full_batch_loss_grad",
        "_finish_epoch (both): count, record,",
        "  report, callbacks; then _stops",
        "checkpoints; TrainingState: rngs,",
        "  optimizer, order, best weights",
    ],
)
box(
    636,
    120,
    230,
    222,
    "_inference.py",
    [
        "NetworkInference:",
        "predict, predict_proba,",
        "predict_log_proba,",
        "decision_function, summary",
        "_forward: in batches, each",
        "  sample computed alike",
        "accessors: layer_names_,",
        "  states_, compute_dtype_",
    ],
)
box(
    20,
    378,
    205,
    94,
    "_heads.py",
    ["SoftmaxHead, LogisticHead:", "loss and gradient, proba,", "decisions, stratify"],
)
box(
    237,
    378,
    205,
    94,
    "_optim.py",
    [
        "OPTIMIZERS: SGD, Adam;",
        "make_optimizer(solver, ...);",
        "state() / load_state()",
    ],
)
box(
    454,
    378,
    205,
    94,
    "_checkpoint.py",
    ["atomic .npz generations,", "fingerprints; reads no", "estimator internals"],
)
box(
    671,
    378,
    209,
    94,
    "_onnx.py, inspection/",
    ["export and displays:", "public or documented", "accessors only"],
    "#f4f4f4",
    "#888",
)
box(
    20,
    494,
    430,
    66,
    "_layers.py (public as skcnn.layers)",
    [
        "Conv2D, pools, Dense, Dropout, ...: forward, backward,",
        "init_params, init_state (not trained), decays (L2)",
    ],
    "#eef7ee",
    "#4a8a4a",
)
box(
    462,
    494,
    418,
    66,
    "_targets.py, _buffer.py, _parameters.py",
    [
        "y and weights; the flat weights and their views;",
        "the shared constructor, constraints and docs",
    ],
)
box(
    20,
    580,
    860,
    48,
    "_kernels/ (numba; import no scikit-learn)",
    [
        "_conv.py  _winograd.py  _pool.py  _dense.py  _optim.py  _distances.py"
        "  _augment.py  _jit.py"
    ],
    "#f7eeee",
    "#a54a4a",
)
arrow(450, 68, 450, 92, "fit(X, y)")
arrow(298, 232, 312, 232)
arrow(440, 342, 122, 378, "head")
arrow(460, 342, 340, 378, "optimizer")
arrow(500, 342, 556, 378, "checkpoints")
arrow(448, 342, 448, 494, "")
ax.text(300, 488, "forward, backward: layers", fontsize=8.2, color="#333")
arrow(235, 560, 235, 580, "kernels")
fig.savefig(
    Path(__file__).with_name("_static") / "architecture.svg", metadata={"Date": None}
)
