"""The one house decorator for numba kernels, and the threading policy around them.

Every kernel in :mod:`skcnn._kernels` is compiled through :func:`jit`, so caching,
the fastmath policy and the parallel flag are decided in one place:

- ``cache=True`` by default. numba writes its cache beside the source file, else
  in the user's cache folder (``NUMBA_CACHE_DIR`` sets it). When neither can be
  written (a read-only install with no home directory), numba refuses at
  decoration time; we then compile without a cache instead of failing at import.
  ``SKCNN_NO_JIT_CACHE=1`` switches caching off altogether.
- One fastmath policy for every kernel: reassociation and contraction (so loops
  vectorise) but *not* ``nnan``/``ninf``, so NaN and inf still propagate and the
  Python side can see them. The one exception, ``fastmath=False``, is for
  elementwise kernels (no reductions, so they vectorise without it) whose every
  element must round the same in LLVM's vector body and in its scalar
  remainder, so that a sample's bits do not depend on its place in the batch.
- Compilation is lazy (no eager signatures): each kernel compiles on first call for
  the dtypes the estimators normalise to (uint8 or float32, C-contiguous).

Threading layer. numba's default order is ``tbb``, then ``omp``, then
``workqueue``. TBB's work stealing keeps both cores busy when one of them is
shared with another process: a thread the OS has descheduled gives its work to
the other, where OpenMP's static schedule waits for it at every barrier (a
LeNet-5 epoch ran 2-20x slower with one core busy under ``omp``, and at
``n_jobs=1`` speed under ``tbb``). skcnn therefore depends on the ``tbb`` wheel
where one exists (x86-64 Linux, Windows and macOS). pip installs its library
in ``<prefix>/lib``, which the loader does not search in a virtual environment,
so numba would silently fall back to ``omp``: :func:`_make_tbb_loadable` loads
the wheel's library once, at import, by its full path, so that numba's own
default choice finds it. It changes no numba setting: ``NUMBA_THREADING_LAYER``
still decides, and where TBB is missing numba falls back as it always does.
"""

import ctypes
import os
import sys
import threading
from contextlib import contextmanager, nullcontext
from importlib import metadata

import numba
import scipy.linalg.cython_blas  # noqa: F401  (see below)
from numba import njit, prange

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
"""LLVM fast-math flags used by every kernel (no ``nnan``, no ``ninf``)."""

_CACHE_ENV = "SKCNN_NO_JIT_CACHE"

# Kernels that call numba's np.dot (conv's input gradient, k-NN's L2 blocks) run
# scipy's BLAS inside numba's threads, so it must be held to one thread around
# them (threadpool_limits(1, "blas")). numba loads that BLAS lazily on the first
# call; importing it here lets threadpoolctl see, and limit, it from the start.


_TBB_LIBRARY = {"win32": "tbb12.dll", "darwin": "libtbb.12.dylib"}.get(
    sys.platform, "libtbb.so.12"
)
"""The TBB library numba's ``tbb`` layer opens, by its name on this platform."""

_TBB_DISTRIBUTION = "tbb"
"""The distribution (PyPI's ``tbb`` wheel) that ships that library."""


def _make_tbb_loadable() -> str | None:
    """Load the ``tbb`` wheel's library so that numba's ``tbb`` layer can start.

    Returns the path loaded, or None when there is nothing to do: the library
    is already found by name (a system TBB, or a conda or pyenv prefix on the
    loader's path), the ``tbb`` distribution is not installed, or its library
    cannot be loaded (numba then picks its next layer, as without skcnn).
    """
    try:
        ctypes.CDLL(_TBB_LIBRARY)
        return None
    except OSError:
        pass
    try:
        files = metadata.distribution(_TBB_DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == _TBB_LIBRARY:
            path = str(file.locate())
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            except OSError:
                return None
            return path
    return None


_make_tbb_loadable()


def _cache_enabled() -> bool:
    return os.environ.get(_CACHE_ENV, "").strip().lower() not in {"1", "true", "yes"}


def jit(function=None, *, parallel: bool = False, fastmath: bool = True):
    """Compile ``function`` with the house policy; usable bare or with arguments.

    Parameters
    ----------
    function : callable, optional
        The kernel to compile.
    parallel : bool, default=False
        Compile with ``parallel=True`` so that ``prange`` loops run on threads.
    fastmath : bool, default=True
        Use the house fast-math flags; False compiles strict IEEE arithmetic.

    Returns
    -------
    dispatcher : numba dispatcher, or a decorator when ``function`` is None.
    """

    def decorate(func):
        flags = set(FASTMATH) if fastmath else False
        options = {"parallel": parallel, "fastmath": flags, "nogil": True}
        if _cache_enabled():
            try:
                return njit(cache=True, **options)(func)
            except RuntimeError as exc:
                # numba: "cannot cache function ...: no locator available for file"
                if "no locator available" not in str(exc):
                    raise
        return njit(cache=False, **options)(func)

    return decorate if function is None else decorate(function)


@jit(parallel=True)
def _touch_threading_layer(n):  # pragma: no cover - trivially small kernel
    total = 0
    for i in prange(n):
        total += i
    return total


_LAYER_LOCK = threading.Lock()
_KERNEL_LOCK = threading.RLock()
_layer = None


def threading_layer() -> str:
    """Name of numba's active threading layer ("omp", "tbb" or "workqueue")."""
    global _layer
    if _layer is None:
        with _LAYER_LOCK:
            if _layer is None:
                _touch_threading_layer(2)
                _layer = numba.threading_layer()
    return _layer


def resolve_n_threads(n_jobs) -> int:
    """Translate scikit-learn's ``n_jobs`` into a number of numba threads.

    ``None`` keeps numba's current setting for this thread (all cores unless
    ``NUMBA_NUM_THREADS`` or a joblib worker says otherwise), capped by
    ``OMP_NUM_THREADS`` when the environment sets it: dask's workers set it to 1,
    as do joblib's, so that parallel searches do not oversubscribe the cores. A
    positive number is capped at the threads numba started with; ``-1`` means all
    of them, ``-2`` all but one, and so on.
    """
    available = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        threads = numba.get_num_threads()
        budget = os.environ.get("OMP_NUM_THREADS", "").strip()
        if budget.isdigit() and int(budget) > 0:
            threads = min(threads, int(budget))
        return threads
    if n_jobs < 0:
        return max(1, available + 1 + n_jobs)
    return max(1, min(int(n_jobs), available))


@contextmanager
def parallel_section(n_jobs=None):
    """Run kernels with ``n_jobs`` numba threads, restoring the setting afterwards.

    ``numba.set_num_threads`` acts on the calling thread only, so concurrent callers
    do not disturb each other. numba's ``workqueue`` layer aborts the process when
    two Python threads launch parallel kernels at once; when it is the active layer,
    kernel launches are serialised by a lock. The ``omp`` and ``tbb`` layers are
    safe for concurrent launches and run unlocked.
    """
    lock = _KERNEL_LOCK if threading_layer() == "workqueue" else nullcontext()
    previous = numba.get_num_threads()
    with lock:
        numba.set_num_threads(resolve_n_threads(n_jobs))
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def cache_stats() -> tuple[int, int, str | None]:
    """Compilations and cache loads of skcnn's kernels so far, and the cache folder.

    Returns ``(misses, hits, folder)``: how many kernel specialisations this
    process compiled and how many it loaded from numba's cache, and the folder
    of that cache (None when caching is off).
    """

    misses = hits = 0
    folder = None
    for name, module in list(sys.modules.items()):
        if not name.startswith("skcnn._kernels.") or module is None:
            continue
        for value in vars(module).values():
            stats = getattr(value, "stats", None)
            if not isinstance(value, numba.core.registry.CPUDispatcher) or not stats:
                continue
            misses += sum(stats.cache_misses.values())
            hits += sum(stats.cache_hits.values())
            cache = getattr(value, "_cache", None)
            folder = folder or getattr(cache, "_cache_path", None)
    return misses, hits, folder
