"""Helpers shared by the benchmark scripts: timing and peak-memory sampling."""

import os
import re
import threading
import time
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def status_bytes(*fields: str) -> dict:
    """Fields of /proc/self/status given in kB (e.g. ``RssAnon``), in bytes.

    ``RssAnon`` is the anonymous memory resident now (the heap, numpy's arrays,
    thread stacks): what the process allocated. ``RssFile`` is the file pages
    it maps and has touched (shared libraries, memory-mapped files): they grow
    by merely reading a memory-mapped array and the kernel can drop them at any
    time. Plain RSS (``rss_bytes``) is their sum plus ``RssShmem``.
    """
    values = dict.fromkeys(fields, 0)
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in values:
                values[key] = int(value.split()[0]) * 1024
    return values


@contextmanager
def measure_status(
    interval: float = 0.002, fields: tuple = ("RssAnon", "RssFile"), read=None
):
    """Time a block and sample ``fields`` of /proc/self/status (see status_bytes).

    Sampled every ``interval`` seconds from a thread, each field apart (``read``,
    when given, returns the dict of fields instead). Yields a dict that gets
    ``seconds`` and, per field (e.g. ``RssAnon``), ``start_RssAnon``,
    ``peak_RssAnon`` and ``extra_RssAnon`` (peak above the value at entry), in
    bytes.
    """
    if read is None:

        def read():
            return status_bytes(*fields)

    result: dict = {}
    start_values = read()
    peak = dict(start_values)
    done = threading.Event()

    def update():
        for key, value in read().items():
            peak[key] = max(peak[key], value)

    def sample():
        while not done.is_set():
            update()
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
        update()
        for key in fields:
            result[f"start_{key}"] = start_values[key]
            result[f"peak_{key}"] = peak[key]
            result[f"extra_{key}"] = peak[key] - start_values[key]


@contextmanager
def measure(interval: float = 0.002):
    """Time a block and sample its peak RSS above the RSS at entry.

    Yields a dict that gets ``seconds``, ``peak_rss`` and ``extra_rss`` (bytes).
    """
    with measure_status(interval, ("rss",), lambda: {"rss": rss_bytes()}) as result:
        yield result


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
    numba = f"numba emits {numba_vector_width()}"
    return f"{model}, {vector}, {numba}, {len(os.sched_getaffinity(0))} usable cores"


def numba_vector_width() -> str:
    """The widest float32 vectors numba's LLVM emits here, read from the asm of a
    vectorisable loop: on Intel CPUs with AVX-512, LLVM's tuning prefers 256-bit
    vectors unless ``NUMBA_CPU_FEATURES`` ends in ``,-prefer-256-bit`` (see the
    documentation's speed page)."""
    import numpy as np
    from numba import njit

    @njit(fastmath=True)
    def axpy(a, x, y):
        for i in range(x.shape[0]):
            y[i] += a * x[i]

    x = np.ones(64, np.float32)
    axpy(np.float32(2), x, x.copy())
    asm = next(iter(axpy.inspect_asm().values()))
    for register, width in (("zmm", "512-bit vectors"), ("ymm", "256-bit vectors")):
        if re.search(rf"%{register}\d", asm):
            return width
    return "128-bit or narrower vectors"


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


def machine_header(threads: int, data: str) -> float:
    """Measure the sgemm bound on ``threads`` and print the CPU and threads lines.

    ``data`` describes the arrays (e.g. ``X float32 (60000, 784)``). Returns the
    bound in GFLOP/s.
    """
    bound = sgemm_gflops(threads)
    print(f"CPU: {cpu_description()}")
    print(
        f"threads: {threads}; numpy float32 matmul on {threads} threads: "
        f"{bound:.1f} GFLOP/s (the sgemm bound); {data}; {load_note(threads)}"
    )
    return bound


def add_threads_argument(parser, what: str = "threads of both libraries") -> None:
    """``--threads``: how many threads the compared libraries get (default: all
    the cores this process may run on)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help=f"{what} (default: all cores)",
    )
