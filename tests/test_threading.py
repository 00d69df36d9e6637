"""numba's threading layer: the one skcnn ships is loaded, and it never changes a bit.

Each check runs in a fresh interpreter, because numba picks its threading layer
once per process, at the first parallel call, from ``NUMBA_THREADING_LAYER`` and
``NUMBA_NUM_THREADS``.
"""

import json
import os
import platform
import subprocess
import sys
from importlib import metadata

import pytest

from skcnn._kernels import _jit

# Train every estimator briefly on the bundled MNIST sample and print, as JSON,
# the layer numba loaded and a hash of each model's outputs and learning curve.
CHILD = """
import hashlib, json
import numba
import numpy as np
from skcnn import (ConvNetClassifier, KNNImageClassifier, LeNet5Classifier,
                   LinearSoftmaxClassifier, MLPClassifier)
from skcnn.datasets import load_mnist_sample

X, y = load_mnist_sample(return_X_y=True, scale=True)
X, y, queries = X[:320], y[:320], X[320:400]
def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()
nets = {
    "lenet5": LeNet5Classifier(max_iter=2, batch_size=32),
    "convnet": ConvNetClassifier(conv_filters=(4, 8), kernel_size=3,
                                 hidden_layer_sizes=(16,), dropout=0.25,
                                 max_iter=2, batch_size=32),
    "mlp": MLPClassifier(max_iter=3, batch_size=32),
    "linear": LinearSoftmaxClassifier(max_iter=3, batch_size=32),
}
out = {}
for name, model in nets.items():
    model.set_params(random_state=0, tol=0.0).fit(X, y)
    out[name] = digest(model.predict_proba(queries), model.loss_curve_)
for metric in ("l1", "l2"):
    for Xt, q in ((X, queries), ((X * 255).astype(np.uint8),
                                 (queries * 255).astype(np.uint8))):
        dist, ind = KNNImageClassifier(3, metric=metric).fit(Xt, y).kneighbors(q)
        out[f"knn-{metric}-{Xt.dtype}"] = digest(dist, ind)
out["layer"] = numba.threading_layer()
out["threads"] = numba.get_num_threads()
print(json.dumps(out))
"""


def _layer_available(layer):
    """Whether numba can load ``layer`` here (tbb, omp or workqueue)."""
    try:
        if layer == "tbb":
            from numba.np.ufunc import tbbpool  # noqa: F401
        elif layer == "omp":
            from numba.np.ufunc import omppool  # noqa: F401
    except ImportError:
        return False
    return True


def _run_child(**numba_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_THREADING")}
    # skcnn's n_jobs=None follows OMP_NUM_THREADS (CI sets it to 1 beside the
    # main tests): drop it so that NUMBA_NUM_THREADS alone sets the threads.
    for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(name, None)
    env.update(numba_env)
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def _tbb_wheel_installed():
    try:
        metadata.distribution(_jit._TBB_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_a_plain_install_loads_the_layer_skcnn_ships():
    # No NUMBA_THREADING_LAYER: numba's own default order decides, as for a user.
    run = _run_child()
    if platform.machine() in {"x86_64", "AMD64"}:
        # The tbb wheel is a dependency there; its library must be found even
        # in a virtual environment, where the loader does not search <prefix>/lib.
        assert _tbb_wheel_installed(), "the tbb dependency is not installed"
        assert run["layer"] == "tbb"
    else:
        assert run["layer"] in {"tbb", "omp", "workqueue"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layer", "threads"),
    [("tbb", "1"), ("tbb", "3"), ("omp", "1"), ("omp", "2"), ("workqueue", "2")],
)
def test_results_are_bit_identical_for_any_layer_and_thread_count(layer, threads):
    if not _layer_available(layer):
        pytest.skip(f"numba cannot load its {layer} layer here")
    reference = _reference_run()
    run = _run_child(NUMBA_THREADING_LAYER=layer, NUMBA_NUM_THREADS=threads)
    assert run.pop("layer") == layer and run.pop("threads") == int(threads)
    assert run == reference


_REFERENCE = {}


def _reference_run():
    """Outputs with the default layer and two threads, computed once."""
    if not _REFERENCE:
        run = _run_child(NUMBA_NUM_THREADS="2")
        run.pop("layer"), run.pop("threads")
        _REFERENCE.update(run)
    return _REFERENCE


def test_results_are_bit_identical_across_layers_and_thread_counts():
    # The fast form of the test above: the two layers users get (tbb where its
    # wheel exists, else omp), on one thread and on two.
    layers = [layer for layer in ("tbb", "omp") if _layer_available(layer)]
    runs = [
        _run_child(NUMBA_THREADING_LAYER=layer, NUMBA_NUM_THREADS=threads)
        for layer, threads in ((layers[0], "2"), (layers[-1], "1"))
    ]
    for run in runs:
        run.pop("layer"), run.pop("threads")
    assert runs[0] == runs[1]
    assert len(runs[0]) == 8


def test_a_missing_tbb_is_not_an_error(monkeypatch):
    # No such distribution: nothing to load, numba picks its next layer.
    monkeypatch.setattr(_jit, "_TBB_LIBRARY", "libskcnn-no-such-tbb.so.0")
    monkeypatch.setattr(_jit, "_TBB_DISTRIBUTION", "skcnn-no-such-distribution")
    assert _jit._make_tbb_loadable() is None


def test_a_tbb_distribution_without_the_library_is_not_an_error(monkeypatch):
    # The distribution is there but holds no file of that name (another
    # platform's wheel, or a broken install): nothing is loaded, no error.
    monkeypatch.setattr(_jit, "_TBB_LIBRARY", "libskcnn-no-such-tbb.so.0")
    monkeypatch.setattr(_jit, "_TBB_DISTRIBUTION", "numba")
    assert _jit._make_tbb_loadable() is None
