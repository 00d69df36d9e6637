"""Helpers shared by the benchmark scripts: timing and peak-memory sampling."""

import os
import threading
import time
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


@contextmanager
def measure(interval: float = 0.002):
    """Time a block and sample its peak RSS above the RSS at entry.

    Yields a dict that gets ``seconds``, ``peak_rss`` and ``extra_rss`` (bytes).
    """
    result: dict = {}
    start_rss = rss_bytes()
    peak = [start_rss]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["seconds"] = time.perf_counter() - start
        done.set()
        thread.join()
        peak[0] = max(peak[0], rss_bytes())
        result["peak_rss"] = peak[0]
        result["extra_rss"] = peak[0] - start_rss


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MB"


def cpu_description() -> str:
    """CPU model, widest vector extension and usable cores, from /proc/cpuinfo."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    if "avx512f" in flags:
        vector = "avx512f (512-bit vectors)"
    elif "avx2" in flags:
        vector = "avx2" + (" + fma" if "fma" in flags else "") + " (256-bit vectors)"
    else:
        vector = "no avx2 (128-bit vectors)"
    return f"{model}, {vector}, {len(os.sched_getaffinity(0))} usable cores"


def sgemm_gflops(threads: int, sizes: tuple = (1024, 2048), repeats: int = 10) -> float:
    """Best GFLOP/s of numpy's float32 matmul (square, C = A @ B) on ``threads``.

    The machine's measured bound for dense float32 work: a figure divided by it
    says how much of the cores' FMA throughput a kernel reaches. The best of many
    short runs, so that a moment without other load on the machine counts.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    best = 0.0
    with threadpool_limits(limits=threads, user_api="blas"):
        for n in sizes:
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            out = np.empty((n, n), np.float32)
            np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
            for _ in range(repeats):
                start = time.perf_counter()
                np.matmul(a, b, out=out)
                best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def load_note(threads: int, own: int = 0) -> str:
    """The 1-minute load average, flagged when other work shares the cores.

    ``own``: runnable threads of this process counted in the average (after a
    run on ``threads`` threads, about ``threads``); the flag is raised above
    ``threads + own``.
    """
    load = os.getloadavg()[0]
    busy = " (other processes share the cores)" if load > threads + own else ""
    mine = f" (about {own} from this run itself)" if own else ""
    return f"load average (1 min) {load:.2f}{mine}{busy}"
