"""skcnn's ``solver="lbfgs"`` against scikit-learn's L-BFGS fits, on MNIST.

Both libraries run in this one process on the same float32 pixels in [0, 1]
(the first ``--n-train`` training images, default all 60,000; the 10,000 test
images), with the same number of BLAS threads:

1. ``mlp``: one hidden layer (``--hidden``, default 100 units; ``--activation``,
   default tanh), skcnn's ``MLPClassifier(solver="lbfgs")`` against
   ``sklearn.neural_network.MLPClassifier(solver="lbfgs")``;
2. ``linear``: softmax regression, skcnn's
   ``LinearSoftmaxClassifier(solver="lbfgs")`` against scikit-learn's
   ``MLPClassifier(hidden_layer_sizes=(), solver="lbfgs")`` (scikit-learn's MLP
   accepts no hidden layer: a linear softmax), and, for reference (unless
   ``--no-logistic``), ``LogisticRegression(solver="lbfgs")``.

What is measured
----------------
For each library: the wall-clock seconds of ``fit`` (``time.perf_counter``,
best of ``--repeats``, the libraries taking turns), the L-BFGS iterations it
ran (``n_iter_``) and the seconds per iteration, the loss and gradient
evaluations scipy made (``nfev`` of the result of ``scipy.optimize.minimize``,
which the script records while a fit runs, since neither estimator exposes
it) and the seconds per evaluation, the final training loss (``loss_``), the
test accuracy and why L-BFGS stopped. Speed is given as the ratio
scikit-learn / skcnn of those times (> 1: skcnn is faster) per fit, per
iteration and per evaluation. Iteration counts can differ (a stop on ``tol``,
a failed line search), and an iteration can cost more than one evaluation,
so the per-evaluation ratio is the one that compares the cost of the same
work. The dense products of one evaluation (forward ``x @ W`` and weight
gradient ``x.T @ d`` of every layer, input gradient ``d @ W.T`` of every layer
but the first, which no library computes; a multiply-add counts 2 FLOP) are
given as GFLOP/s and as the fraction of the machine's sgemm bound (numpy
float32 matmul, same threads), which is measured first.

Why the comparison is fair
--------------------------
- The same objective: mean softmax cross-entropy over the training rows plus
  ``alpha / 2 * ||W||**2 / n_samples`` on the weights (not the biases), the
  definition of both libraries' ``loss_``. ``LogisticRegression(C)`` minimises
  ``C * sum(cross-entropy) + ||W||**2 / 2`` (intercept not penalised), which it
  evaluates divided by ``C * n_samples``: the mean cross-entropy plus
  ``||W||**2 / (2 * C * n_samples)``, so ``C = 1 / alpha`` is the same
  objective (``C = inf`` for ``alpha = 0``). Its ``loss_`` does not exist:
  the table recomputes that objective for every linear model (test of the
  equivalence: the three values agree at a common optimum).
- The same optimiser: each library calls scipy's L-BFGS-B with the same
  ``maxiter`` (``--max-iter``), ``maxfun`` (``--max-fun``; LogisticRegression
  has no such parameter and keeps scipy's default, 15000) and ``gtol``
  (``--tol``, the projected-gradient stop; LogisticRegression's ``tol`` is
  also scipy's ``gtol`` on the same mean-loss scale, so the same value stops
  at the same gradient). LogisticRegression fixes two options of its own that
  cannot be set: ``ftol = 64 * eps`` (scipy's default, which both MLPs use,
  is 2.2e-9) and up to 50 line-search steps (scipy's default: 20); it also
  starts from zero weights.
- The same starting point: skcnn draws its Glorot-uniform initial weights
  from ``random_state`` in scikit-learn's order, so with the same
  ``random_state`` the two MLPs start from the same weights, and so do
  skcnn's linear model and scikit-learn's MLP without a hidden layer.
- The same precision: float32 X. skcnn's ``dtype=None`` follows X (float32
  weights, activations and gradients; BLAS for the products, numba for the
  activations and the loss; the rows summed in chunks of 4096).
  scikit-learn's MLP keeps float32 too (its weights start in X's dtype and
  scipy hands its loss function weights in that dtype): its fastest setup,
  and LogisticRegression's loss takes float32 X as such.
- skcnn's numba kernels are compiled (or loaded from numba's cache) before
  the timings by ``skcnn.warm_up`` on a clone (L-BFGS, 2 iterations, 200
  images); that time is printed on its own line and is not counted.

The script has no targets: it reports and exits with 0.

Run (OpenBLAS variables unset so that both libraries' BLAS runs at full
speed; the data home is the folder that holds ``mnist/``)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_lbfgs.py \\
        --data-home /work/shared/data

A quick check: ``--n-train 3000 --max-iter 10``.
"""

import argparse
import sys
import time
import warnings
from contextlib import contextmanager
from itertools import pairwise

import numba
import numpy as np
import scipy.optimize
from _common import add_threads_argument, load_note, machine_header
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier as SklearnMLP
from threadpoolctl import threadpool_limits

from skcnn import LinearSoftmaxClassifier, MLPClassifier, warm_up
from skcnn.datasets import load_mnist

MODELS = ("mlp", "linear")

# scipy's L-BFGS-B messages -> the stop criterion
STOPS = {
    "PROJECTED GRADIENT": "gtol",
    "REL_REDUCTION_OF_F": "ftol",
    "ITERATIONS REACHED LIMIT": "max_iter",
    "EVALUATIONS EXCEEDS LIMIT": "max_fun",
    "ABNORMAL": "line search",
}


@contextmanager
def recording_minimize():
    """Collect the result of every ``scipy.optimize.minimize`` call in the block.

    Both libraries call it as ``scipy.optimize.minimize`` (a module attribute
    looked up at each call), so wrapping that attribute sees their results,
    ``nfev`` included; a call made otherwise is simply not recorded.
    """
    results = []
    original = scipy.optimize.minimize

    def minimize(*args, **kwargs):
        result = original(*args, **kwargs)
        results.append(result)
        return result

    scipy.optimize.minimize = minimize
    try:
        yield results
    finally:
        scipy.optimize.minimize = original


def stop_reason(result) -> str:
    if result is None:
        return "n/a"
    message = result.message
    message = message.decode() if isinstance(message, bytes) else str(message)
    return next((stop for key, stop in STOPS.items() if key in message), message)


def timed_fit(estimator, X, y):
    """Fit ``estimator``; return (seconds, scipy's result or None)."""
    with warnings.catch_warnings(), recording_minimize() as results:
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - start
    return seconds, (results[-1] if results else None)


def race(estimators, X, y, repeats):
    """Fit each estimator ``repeats`` times, taking turns; keep the fastest.

    Returns, per estimator, (best seconds, the fitted clone, scipy's result).
    """
    best = [(np.inf, None, None)] * len(estimators)
    for _ in range(repeats):
        for index, estimator in enumerate(estimators):
            fitted = clone(estimator)
            seconds, result = timed_fit(fitted, X, y)
            if seconds < best[index][0]:
                best[index] = (seconds, fitted, result)
    return best


def dense_flop(n_samples, sizes):
    """FLOP of the dense products of one loss-and-gradient evaluation.

    Per layer (n_in -> n_out): forward ``x @ W`` and weight gradient ``x.T @ d``,
    plus the input gradient ``d @ W.T`` for every layer but the first.
    """
    return sum(
        2 * n_samples * n_in * n_out * (2 if index == 0 else 3)
        for index, (n_in, n_out) in enumerate(pairwise(sizes))
    )


def n_iterations(estimator) -> int:
    n_iter = estimator.n_iter_
    return int(np.max(n_iter)) if np.ndim(n_iter) else int(n_iter)


def softmax_objective(estimator, weights, X, y, alpha) -> float:
    """Mean cross-entropy on (X, y) + alpha / 2 * ||weights||**2 / n_samples."""
    proba = estimator.predict_proba(X)
    squares = sum(float(np.sum(np.square(w, dtype=np.float64))) for w in weights)
    penalty = 0.5 * alpha * squares / len(X)
    return log_loss(y, proba, labels=estimator.classes_) + penalty


def report(rows, X_test, y_test, flop, bound, objective=None):
    """Print one line per library and the speed ratios to the first row.

    ``rows``: (name, seconds, fitted estimator, scipy's result); ``objective``:
    a function of the fitted estimator, printed as its own column when given.
    """
    header = (
        f"   {'':<31}{'fit s':>8}{'iters':>6}{'s/iter':>8}{'evals':>6}{'s/eval':>8}"
        f"{'GFLOP/s':>9}{'sgemm':>7}{'loss_':>9}"
    )
    header += f"{'objective':>10}" if objective else ""
    print(header + f"{'test acc':>9}  stop")
    per = {}
    for name, seconds, estimator, result in rows:
        n_iter = n_iterations(estimator)
        n_fev = result.nfev if result is not None else None
        per[name] = (seconds, seconds / max(n_iter, 1),
                     seconds / n_fev if n_fev else None)  # fmt: skip
        line = f"   {name:<31}{seconds:8.2f}{n_iter:6d}{per[name][1]:8.3f}"
        if n_fev:
            rate = flop * n_fev / seconds / 1e9
            line += f"{n_fev:6d}{per[name][2]:8.3f}{rate:9.1f}{rate / bound:7.1%}"
        else:
            line += f"{'n/a':>6}{'n/a':>8}{'n/a':>9}{'n/a':>7}"
        loss = getattr(estimator, "loss_", None)
        line += f"{loss:9.5f}" if loss is not None else f"{'n/a':>9}"
        line += f"{objective(estimator):10.5f}" if objective else ""
        line += f"{estimator.score(X_test, y_test):9.4f}  {stop_reason(result)}"
        print(line)
    (first, first_times), *others = per.items()
    for name, times in others:
        ratios = [
            f"{kind} {t / t0:.2f}" if t and t0 else f"{kind} n/a"
            for kind, t, t0 in zip(("per fit", "per iteration", "per evaluation"),
                                   times, first_times, strict=True)
        ]  # fmt: skip
        print(f"   time {name} / {first}: {', '.join(ratios)} (> 1: skcnn faster)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--hidden", type=int, default=100, help="MLP hidden units")
    parser.add_argument("--activation", default="tanh",
                        choices=["tanh", "relu", "logistic"])  # fmt: skip
    parser.add_argument("--max-iter", type=int, default=100, help="L-BFGS iterations")
    parser.add_argument("--max-fun", type=int, default=15000)
    parser.add_argument("--tol", type=float, default=1e-4, help="scipy's gtol")
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="best of, per fit")
    parser.add_argument(
        "--logistic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="LogisticRegression as a reference",
    )
    add_threads_argument(parser, "BLAS and numba threads of both libraries")
    args = parser.parse_args(argv)
    threads = args.threads
    numba.set_num_threads(threads)
    X, y = load_mnist(args.data_home, return_X_y=True, scale=True)
    X, y = X[: args.n_train], y[: args.n_train]
    X_test, y_test = load_mnist(
        args.data_home, subset="test", return_X_y=True, scale=True
    )
    bound = machine_header(threads, f"X {X.dtype} {X.shape}, test {X_test.shape}")
    print(
        f"L-BFGS-B: max_iter={args.max_iter}, max_fun={args.max_fun}, "
        f"tol (gtol)={args.tol:g}, alpha={args.alpha:g}, "
        f"random_state={args.random_state}; best of {args.repeats} fit(s)"
    )
    with threadpool_limits(limits=threads, user_api="blas"):
        if "mlp" in args.models:
            compare_mlp(X, y, X_test, y_test, args, bound)
        if "linear" in args.models:
            compare_linear(X, y, X_test, y_test, args, bound)
    print(f"{load_note(threads, own=threads)} at the end")
    return 0


def shared_settings(args):
    return {"solver": "lbfgs", "max_iter": args.max_iter, "max_fun": args.max_fun,
            "tol": args.tol, "alpha": args.alpha,
            "random_state": args.random_state}  # fmt: skip


def compare_mlp(X, y, X_test, y_test, args, bound):
    hidden = (args.hidden,)
    print(f"1. MLP {X.shape[1]}-{args.hidden}-10 {args.activation}, lbfgs")
    settings = {"hidden_layer_sizes": hidden, "activation": args.activation,
                **shared_settings(args)}  # fmt: skip
    ours = MLPClassifier(**settings)
    warm = warm_up(ours, X, y)
    (ours_s, ours, ours_r), (peer_s, peer, peer_r) = race(
        [ours, SklearnMLP(**settings)], X, y, args.repeats
    )
    flop = dense_flop(len(X), (X.shape[1], *hidden, len(ours.classes_)))
    report([("skcnn MLPClassifier", ours_s, ours, ours_r),
            ("scikit-learn MLPClassifier", peer_s, peer, peer_r)],
           X_test, y_test, flop, bound)  # fmt: skip
    print(f"   ({flop / 1e9:.2f} GFLOP of dense products per evaluation; weights "
          f"{ours.coefs_[0].dtype} in skcnn)")  # fmt: skip
    print(f"   {warm} (not included in the times above)")


def compare_linear(X, y, X_test, y_test, args, bound):
    print(f"2. linear softmax {X.shape[1]}-10, lbfgs")
    settings = shared_settings(args)
    C = 1 / args.alpha if args.alpha else np.inf
    ours = LinearSoftmaxClassifier(**settings)
    warm = warm_up(ours, X, y)
    estimators = [ours, SklearnMLP(hidden_layer_sizes=(), **settings)]
    names = ["skcnn LinearSoftmaxClassifier", "scikit-learn MLP, no hidden"]
    if args.logistic:
        estimators.append(LogisticRegression(C=C, max_iter=args.max_iter, tol=args.tol))
        names.append("LogisticRegression (C=1/a)")
    fits = race(estimators, X, y, args.repeats)

    def objective(est):
        # scikit-learn's MLP: coefs_ (n_features, n_classes); the others: coef_
        weights = est.coefs_ if hasattr(est, "coefs_") else [est.coef_]
        return softmax_objective(est, weights, X, y, args.alpha)

    flop = dense_flop(len(X), (X.shape[1], len(fits[0][1].classes_)))
    rows = [(name, *fit) for name, fit in zip(names, fits, strict=True)]
    report(rows, X_test, y_test, flop, bound, objective)
    print(f"   objective: mean cross-entropy + alpha/2 ||W||^2 / n, recomputed "
          f"from the fitted weights (C = 1/alpha = {C:g})")  # fmt: skip
    print(f"   ({flop / 1e9:.3f} GFLOP of dense products per evaluation)")
    print(f"   {warm} (not included in the times above)")


if __name__ == "__main__":
    sys.exit(main())
