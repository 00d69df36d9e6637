"""Compile (or load) the numba kernels of estimators before timing them."""

import time
import warnings
from dataclasses import dataclass

from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skcnn._kernels import _jit


@dataclass(frozen=True)
class WarmUpReport:
    """What :func:`warm_up` did: its time and numba's compilations and cache loads.

    Reports add up: ``report_a + report_b`` or ``sum(reports)``.

    Attributes
    ----------
    seconds : float
        Wall time of the warm-up fits and predictions.
    compiled : int
        Kernel specialisations numba compiled meanwhile (0 when the cache had
        them all, or when this process had already compiled them).
    loaded : int
        Kernel specialisations loaded from numba's cache meanwhile.
    cache_dir : str or None
        The folder of numba's cache for skcnn's kernels, None when caching is
        off.

    Examples
    --------
    >>> from skcnn import WarmUpReport
    >>> print(WarmUpReport(seconds=12.3, compiled=20, loaded=0, cache_dir="/tmp/c"))
    compiled the numba kernels in 12.3 s: first run only, cached in /tmp/c
    """

    seconds: float
    compiled: int
    loaded: int
    cache_dir: str | None

    @classmethod
    def measure(cls, function, *args) -> "WarmUpReport":
        """Call ``function(*args)``; report its time and numba's work meanwhile."""
        misses, hits, _ = _jit.cache_stats()
        start = time.perf_counter()
        function(*args)
        seconds = time.perf_counter() - start
        misses_after, hits_after, folder = _jit.cache_stats()
        return cls(seconds, misses_after - misses, hits_after - hits, folder)

    def __add__(self, other: "WarmUpReport") -> "WarmUpReport":
        return WarmUpReport(
            self.seconds + other.seconds,
            self.compiled + other.compiled,
            self.loaded + other.loaded,
            self.cache_dir or other.cache_dir,
        )

    def __radd__(self, other):
        # sum(reports) starts from 0
        return self if other == 0 else NotImplemented

    def __str__(self) -> str:
        if self.compiled and self.cache_dir:
            return (
                f"compiled the numba kernels in {self.seconds:.1f} s: first run "
                f"only, cached in {self.cache_dir}"
            )
        if self.compiled:
            return (
                f"compiled the numba kernels in {self.seconds:.1f} s (numba's "
                "cache is off: every new process compiles them again)"
            )
        if self.loaded:
            return (
                f"loaded the numba kernels from the cache in {self.seconds:.1f} s "
                f"({self.cache_dir})"
            )
        return (
            f"the numba kernels were ready in this process ({self.seconds:.1f} s "
            "of warm-up)"
        )


def warm_up(estimator, X, y=None, *, n_images=200) -> WarmUpReport:
    """Compile the numba kernels that fitting and predicting ``estimator`` need.

    numba compiles each kernel on its first call in a process (or loads it from
    its cache on disk, after the first run), and that time would otherwise land
    in the first ``fit`` or ``predict`` you time. ``warm_up`` fits a clone of
    ``estimator`` on the first ``n_images`` rows of ``X`` (two epochs at most)
    and predicts ten, so the kernels for X's dtype and the estimator's settings
    are ready; the estimator itself is left untouched. Works on a Pipeline that
    ends in an skcnn estimator too.

    Parameters
    ----------
    estimator : estimator
        An skcnn estimator or a Pipeline, fitted or not; it is cloned.
    X : array-like of shape (n_samples, n_features) or images
        Data of the kind the real fit will get (same dtype, same image size).
    y : array-like of shape (n_samples,)
        Its labels; at least two classes should occur in the first rows.
    n_images : int, default=200
        Rows used by the warm-up fit.

    Returns
    -------
    report : WarmUpReport
        The seconds taken and the kernels compiled or loaded from the cache;
        ``str(report)`` is one line to print beside the timings.

    Examples
    --------
    >>> from skcnn import KNNImageClassifier, warm_up
    >>> from skcnn.datasets import load_mnist_sample
    >>> X, y = load_mnist_sample(return_X_y=True)
    >>> report = warm_up(KNNImageClassifier(), X, y)
    >>> str(report).split()[0] in {"compiled", "loaded", "the"}
    True
    """
    copy = clone(estimator)
    params = copy.get_params()
    for name in [key for key in params if key.split("__")[-1] == "max_iter"]:
        copy.set_params(**{name: min(2, params[name])})
    n = min(n_images, len(X))

    def fit_and_predict():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            copy.fit(X[:n], None if y is None else y[:n])
        copy.predict(X[: min(10, n)])

    return WarmUpReport.measure(fit_and_predict)
