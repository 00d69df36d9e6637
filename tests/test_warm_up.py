"""``skcnn.warm_up``: numba's compilation done before timings, reported apart."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skcnn import MLPClassifier, WarmUpReport, warm_up
from skcnn.datasets import load_digits_images

# A fresh process with an empty numba cache: warm up three models, then count
# the compilations their real fit and predict still trigger (numba's events).
CHILD = """
import json, sys
import numpy as np
from numba.core import event
from skcnn import KNNImageClassifier, LinearSoftmaxClassifier, MLPClassifier, warm_up
from skcnn.datasets import load_mnist_sample

X, y = load_mnist_sample(return_X_y=True, scale=True)
X, y = X[:600], y[:600]
models = [KNNImageClassifier(3), LinearSoftmaxClassifier(max_iter=5),
          MLPClassifier(max_iter=5)]
report = warm_up(models[0], X, y)
for model in models[1:]:
    report = report + warm_up(model, X, y)
compiled_later = []
class Count(event.Listener):
    def on_start(self, ev):
        compiled_later.append(ev.data["dispatcher"].py_func.__name__)
    def on_end(self, ev):
        pass
with event.install_listener("numba:compile", Count()):
    for model in models:
        model.fit(X, y).predict(X[:300])
print(json.dumps({"line": str(report), "compiled": report.compiled,
                  "loaded": report.loaded, "later": compiled_later}))
"""


def _run_child(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    env.pop("SKCNN_NO_JIT_CACHE", None)
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD],
        env=env, capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_real_fit_compiles_nothing_and_the_second_run_loads_the_cache(tmp_path):
    first = _run_child(tmp_path)
    assert first["compiled"] > 0 and first["later"] == []
    assert first["line"].startswith("compiled the numba kernels in ")
    assert f"first run only, cached in {tmp_path}" in first["line"]
    second = _run_child(tmp_path)
    assert second["compiled"] == 0 and second["loaded"] > 0
    assert second["later"] == []
    assert second["line"].startswith("loaded the numba kernels from the cache in ")


def test_warm_up_leaves_the_estimator_alone_and_caps_the_epochs():
    X, y = load_digits_images(return_X_y=True, scale=True)
    pipe = make_pipeline(MinMaxScaler(), MLPClassifier(max_iter=300, random_state=0))
    report = warm_up(pipe, X, y, n_images=100)
    assert isinstance(report, WarmUpReport) and report.seconds > 0
    with pytest.raises(NotFittedError):
        pipe.predict(X[:1])
    assert pipe.get_params()["mlpclassifier__max_iter"] == 300
    assert str(report).split()[0] in {"compiled", "loaded", "the"}


def test_reports_add_up_and_read_as_one_line():
    a = WarmUpReport(1.25, 3, 0, "/cache")
    b = WarmUpReport(0.5, 0, 2, None)
    total = a + b
    assert total == WarmUpReport(1.75, 3, 2, "/cache") == sum([a, b])
    assert (
        str(total)
        == "compiled the numba kernels in 1.8 s: first run only, cached in /cache"
    )
    assert str(b + WarmUpReport(0.25, 0, 1, "/c")) == (
        "loaded the numba kernels from the cache in 0.8 s (/c)"
    )
    assert "cache is off" in str(WarmUpReport(2.0, 4, 0, None))
    assert str(WarmUpReport(0.01, 0, 0, "/c")).startswith(
        "the numba kernels were ready"
    )
    assert np.isclose(total.seconds, 1.75)
