"""Cold and warm start: what numba compilation costs a user.

Runs a fresh Python process that imports skcnn and fits + predicts a
KNNImageClassifier (L1 and L2, uint8 and float32 input) on 200 small images,
first with an empty numba cache (cold: every kernel compiles), then again with
the cache filled (warm), and once with caching disabled. Run::

    python benchmarks/bench_startup.py
"""

import os
import subprocess
import sys
import tempfile
import time

WORKLOAD = """
import numpy as np
from skcnn import KNNImageClassifier
rng = np.random.default_rng(0)
X = rng.integers(0, 256, (200, 784), dtype=np.uint8)
y = rng.integers(0, 10, 200)
for metric in ("l1", "l2"):
    for data in (X, X.astype(np.float32) / 255):
        KNNImageClassifier(3, metric=metric).fit(data, y).predict(data[:20])
"""

BASELINE = "import numpy, sklearn, numba"


def run(code: str, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        base = min(run(BASELINE, env) for _ in range(3))
        cold = run(WORKLOAD, env)
        warm = min(run(WORKLOAD, env) for _ in range(3))
        nocache = run(WORKLOAD, dict(env, SKCNN_NO_JIT_CACHE="1"))
    print(f"import numpy+sklearn+numba alone:  {base:6.2f} s")
    print(f"cold start (empty numba cache):    {cold:6.2f} s  (+{cold - base:.2f} s)")
    print(f"warm start (cache filled):         {warm:6.2f} s  (+{warm - base:.2f} s)")
    print(f"caching disabled (every process):  {nocache:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
