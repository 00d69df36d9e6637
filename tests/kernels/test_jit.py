"""The house jit decorator: cache fallback, thread settings, concurrent launches."""

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numba
import numpy as np
import pytest

import skcnn
from skcnn import KNNImageClassifier
from skcnn._kernels._distances import l1_neighbors
from skcnn._kernels._jit import parallel_section, resolve_n_threads, threading_layer

PROBE = textwrap.dedent(
    """
    import numpy as np
    import skcnn
    from skcnn import KNNImageClassifier
    from skcnn._kernels._distances import l1_neighbors
    assert skcnn.__file__.startswith({site!r}), skcnn.__file__
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (40, 16), dtype=np.uint8)
    clf = KNNImageClassifier(1, metric="l1").fit(X, np.arange(40) % 2)
    net = skcnn.{net}.fit(X / 255, np.arange(40) % 2)
    assert net.predict(X / 255).shape == (40,)
    print(type(l1_neighbors._cache).__name__, clf.score(X, np.arange(40) % 2))
    """
)


def _copy_package(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(
        Path(skcnn.__file__).parent, site / "skcnn",
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    return site


def _run_probe(site: Path, env: dict, read_only: bool, net: str) -> str:
    code = PROBE.format(site=str(site), net=net)
    command = [sys.executable, "-c", code]
    if read_only and os.geteuid() == 0:  # root writes through permission bits
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare(1): cannot make a read-only mount")
        mount = f"mount --bind {site} {site} && mount -o remount,bind,ro {site}"
        command = ["unshare", "-m", "sh", "-c", f'{mount} && exec "$@"', "sh", *command]
    elif read_only:
        for path in site.rglob("*"):
            path.chmod(0o555 if path.is_dir() else 0o444)
        site.chmod(0o555)
    result = subprocess.run(
        command, env=env, cwd=site, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def _clean_env(site: Path) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "SKCNN_"))
    }
    env["PYTHONPATH"] = str(site)
    return env


@pytest.mark.slow
def test_read_only_install_without_home_falls_back_to_no_cache(tmp_path):
    site = _copy_package(tmp_path)
    env = _clean_env(site)
    env.pop("HOME", None)
    env["XDG_CACHE_HOME"] = str(site / "no-cache-here")  # inside the read-only tree
    # every kind of kernel (LeNet-5's convolutions call BLAS) runs without a cache
    net = "LeNet5Classifier(2, 2, 2, 2, max_iter=1)"
    cache_kind, score = _run_probe(site, env, read_only=True, net=net)
    assert cache_kind == "NullCache"  # numba alone would raise at import
    assert float(score) == 1.0


@pytest.mark.slow
def test_writable_install_caches_and_env_switch_disables_it(tmp_path):
    site = _copy_package(tmp_path)
    env = _clean_env(site)
    net = "MLPClassifier((4,), max_iter=1)"  # compiles in seconds, twice
    cache_kind, _ = _run_probe(site, env, read_only=False, net=net)
    assert cache_kind == "FunctionCache"
    assert list((site / "skcnn" / "_kernels" / "__pycache__").glob("*.nbi"))
    env["SKCNN_NO_JIT_CACHE"] = "1"
    cache_kind, _ = _run_probe(site, env, read_only=False, net=net)
    assert cache_kind == "NullCache"


def test_resolve_n_threads_follows_sklearn_conventions(monkeypatch):
    available = numba.config.NUMBA_NUM_THREADS
    assert resolve_n_threads(1) == 1
    assert resolve_n_threads(-1) == available
    assert resolve_n_threads(-2) == max(1, available - 1)
    assert resolve_n_threads(10 * available) == available
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_n_threads(None) == numba.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as dask's workers have it
    assert resolve_n_threads(None) == 1
    assert resolve_n_threads(-1) == available  # an explicit request wins
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert resolve_n_threads(None) == numba.get_num_threads()


def test_parallel_section_sets_and_restores_threads():
    before = numba.get_num_threads()
    with parallel_section(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError), parallel_section(1):
        raise RuntimeError("restored even on error")
    assert numba.get_num_threads() == before
    assert threading_layer() in {"omp", "tbb", "workqueue"}


def test_concurrent_predict_from_threads_matches_serial():
    rng = np.random.default_rng(0)
    X = rng.random((500, 64)).astype(np.float32)
    y = rng.integers(0, 4, 500)
    queries = rng.random((64, 64))
    clf = KNNImageClassifier(5, n_jobs=2).fit(X, y)
    expected = clf.predict_proba(queries)
    results = [None] * 8

    def work(slot):
        results[slot] = clf.predict_proba(queries)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_kernel_accepts_read_only_inputs():
    queries = np.zeros((8, 4), np.float32)
    train = np.ones((3, 4), np.float32)
    queries.flags.writeable = False
    train.flags.writeable = False
    best_dist = np.full((8, 2), np.inf)
    best_ind = np.full((8, 2), -1, dtype=np.intp)
    l1_neighbors(queries, train, 0, best_dist, best_ind)
    np.testing.assert_array_equal(best_dist, 4.0)
    np.testing.assert_array_equal(best_ind, [[0, 1]] * 8)
