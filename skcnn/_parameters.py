"""Parameter constraints shared by the estimators (scikit-learn's validation)."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

N_JOBS_CONSTRAINT = [
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
    None,
]
"""The ``n_jobs`` parameter constraint of every estimator (0 is refused): the
numba threads :func:`skcnn._kernels._jit.resolve_n_threads` gives them."""
