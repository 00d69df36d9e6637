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
