"""Cold and warm start: what numba compilation costs a user.

For each model, runs a fresh Python process that imports skcnn and fits +
predicts on a few small images — ``knn``: KNNImageClassifier (L1 and L2, uint8
and float32 input), 200 images; ``lenet``: LeNet5Classifier, one epoch on 256
images, then ``predict_proba`` and ``transform``; ``vgg``: ConvNetClassifier
with the VGG-style stack of 3x3 convolutions of ``bench_convnet.py``, one epoch
on 128 images of 32x32x3, then ``predict_proba`` — first with an empty numba
cache of its own (cold: every kernel that model needs compiles, as on a user's
first run), then again with the cache filled (warm), and once with caching
disabled. The figure to read is what each adds to
importing numpy, scikit-learn and numba (the work itself takes milliseconds).
Target for LeNet-5: a warm start adds < 2 s. Run::

    python benchmarks/bench_startup.py [--models knn lenet]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

WORKLOADS = {
    "knn": """
import numpy as np
from skcnn import KNNImageClassifier
rng = np.random.default_rng(0)
X = rng.integers(0, 256, (200, 784), dtype=np.uint8)
y = rng.integers(0, 10, 200)
for metric in ("l1", "l2"):
    for data in (X, X.astype(np.float32) / 255):
        KNNImageClassifier(3, metric=metric).fit(data, y).predict(data[:20])
""",
    "lenet": """
import warnings
import numpy as np
from skcnn import LeNet5Classifier
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.random((256, 784), dtype=np.float32)
y = rng.integers(0, 10, 256)
clf = LeNet5Classifier(max_iter=1).fit(X, y)
clf.predict_proba(X[:10]), clf.transform(X[:10])
""",
    "vgg": """
import warnings
import numpy as np
from skcnn import ConvNetClassifier
from skcnn.layers import Activation, Conv2D, Dense, Flatten, MaxPool2D
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.random((128, 32 * 32 * 3), dtype=np.float32)
y = rng.integers(0, 10, 128)
layers = [
    Conv2D(32, 3, padding="same"), Activation("relu"),
    Conv2D(32, 3, padding="same"), Activation("relu"), MaxPool2D(2),
    Conv2D(64, 3, padding="same"), Activation("relu"),
    Conv2D(64, 3, padding="same"), Activation("relu"), MaxPool2D(2),
    Flatten(), Dense(256), Activation("relu"),
]
clf = ConvNetClassifier(layers=layers, max_iter=1).fit(X, y)
clf.predict_proba(X[:10])
""",
}

BASELINE = "import numpy, sklearn, numba"


def run(code: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(WORKLOADS),
                        default=list(WORKLOADS))  # fmt: skip
    args = parser.parse_args(argv)
    base = min(run(BASELINE, dict(os.environ)) for _ in range(3))
    print(f"import numpy+sklearn+numba alone:  {base:6.2f} s")
    for name in args.models:
        with tempfile.TemporaryDirectory() as cache:  # each model starts cold
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            workload = WORKLOADS[name]
            cold = run(workload, env)
            warm = min(run(workload, env) for _ in range(3))
            nocache = run(workload, dict(env, SKCNN_NO_JIT_CACHE="1"))
            print(f"{name}: cold start (empty numba cache): {cold:6.2f} s  "
                  f"(+{cold - base:.2f} s)")  # fmt: skip
            print(f"{name}: warm start (cache filled):      {warm:6.2f} s  "
                  f"(+{warm - base:.2f} s)")  # fmt: skip
            print(f"{name}: caching disabled:               {nocache:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
