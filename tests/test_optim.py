"""SGD and Adam: closed-form steps, scikit-learn's optimizers, schedules, state."""

import inspect
import pickle
import tracemalloc
import warnings

import joblib
import numba
import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from skcnn import MLPClassifier
from skcnn._kernels._optim import BLOCK, adam_step, sgd_step
from skcnn._optim import OPTIMIZERS, SGD, Adam, make_optimizer

SHAPES = [(6, 5), (5,), (2, 3, 4, 4)]
"""A dense weight, a bias and a conv weight: one kernel serves every shape."""

TOL = {
    np.float32: {"rtol": 2e-5, "atol": 1e-6},
    np.float64: {"rtol": 1e-12, "atol": 1e-14},
}
"""Float32 vs a float64 reference; float64 allows the last bits of fastmath."""


def _params(rng, dtype, shapes=SHAPES):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


def _grad_stream(seed, dtype, n_steps, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [_params(rng, dtype, shapes) for _ in range(n_steps)]


def _copy(arrays):
    return [a.copy() for a in arrays]


# -- closed form ---------------------------------------------------------------


def _sgd_reference(params, grad_stream, learning_rate, momentum, nesterov):
    """Plain numpy, float64: the update written out as in the docstring."""
    params = [p.astype(np.float64) for p in params]
    velocities = [np.zeros_like(p) for p in params]
    for grads in grad_stream:
        for param, grad, velocity in zip(params, grads, velocities, strict=True):
            velocity[...] = momentum * velocity - learning_rate * grad
            if nesterov:
                param += momentum * velocity - learning_rate * grad
            else:
                param += velocity
    return params, velocities


def _adam_reference(params, grad_stream, learning_rate, beta_1, beta_2, epsilon):
    params = [p.astype(np.float64) for p in params]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    for t, grads in enumerate(grad_stream, start=1):
        m_hat_scale = 1 / (1 - beta_1**t)
        v_hat_scale = 1 / (1 - beta_2**t)
        for param, grad, m, v in zip(params, grads, ms, vs, strict=True):
            m[...] = beta_1 * m + (1 - beta_1) * grad
            v[...] = beta_2 * v + (1 - beta_2) * grad**2
            # the textbook form, with ε scaled to match the folded-in correction
            param -= (
                learning_rate
                * (m * m_hat_scale)
                / (np.sqrt(v * v_hat_scale) + epsilon * np.sqrt(v_hat_scale))
            )
    return params, ms, vs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_steps", [1, 7])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_matches_closed_form(dtype, n_steps, momentum, nesterov):
    rng = np.random.default_rng(0)
    params = _params(rng, dtype)
    grad_stream = _grad_stream(1, dtype, n_steps)
    expected, velocities = _sgd_reference(params, grad_stream, 0.05, momentum, nesterov)
    optimizer = SGD(
        params, learning_rate_init=0.05, momentum=momentum, nesterov=nesterov
    )
    for grads in grad_stream:
        optimizer.update_params(params, grads)
    for param, want, velocity, want_velocity in zip(
        params, expected, optimizer.velocities, velocities, strict=True
    ):
        assert param.dtype == dtype and velocity.dtype == dtype
        np.testing.assert_allclose(param, want, **TOL[dtype])
        np.testing.assert_allclose(velocity, want_velocity, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_without_momentum_is_plain_gradient_descent(dtype):
    rng = np.random.default_rng(2)
    params = _params(rng, dtype)
    grads = _params(rng, dtype)
    expected = [p - dtype(0.1) * g for p, g in zip(params, grads, strict=True)]
    SGD(params, momentum=0.0).update_params(params, grads)
    for param, want in zip(params, expected, strict=True):
        np.testing.assert_array_equal(param, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_steps", [1, 7])
def test_adam_matches_closed_form(dtype, n_steps):
    rng = np.random.default_rng(3)
    params = _params(rng, dtype)
    grad_stream = _grad_stream(4, dtype, n_steps)
    expected, ms, vs = _adam_reference(params, grad_stream, 0.01, 0.8, 0.99, 1e-7)
    optimizer = Adam(
        params, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-7
    )
    for grads in grad_stream:
        optimizer.update_params(params, grads)
    assert optimizer.t == n_steps
    assert optimizer.learning_rate == 0.01  # the bias correction is not stored
    for got, want in zip(
        [*params, *optimizer.ms, *optimizer.vs], [*expected, *ms, *vs], strict=True
    ):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **TOL[dtype])


def test_first_adam_step_moves_each_weight_by_the_learning_rate():
    # m̂ = g and v̂ = g² at t = 1: the step is η · sign(g) up to ε.
    params = [np.array([1.0, -2.0, 3.0])]
    Adam(params, learning_rate_init=0.1, epsilon=0.0).update_params(
        params, [np.array([0.5, -4.0, 1e-3])]
    )
    np.testing.assert_allclose(params[0], [0.9, -1.9, 2.9], rtol=1e-14)


# -- scikit-learn's optimizers ----------------------------------------------------


@pytest.mark.parametrize("lr_schedule", ["constant", "invscaling", "adaptive"])
@pytest.mark.parametrize(
    ("momentum", "nesterov"), [(0.0, True), (0.9, False), (0.9, True), (0.5, True)]
)
def test_sgd_matches_scikit_learn(lr_schedule, momentum, nesterov, capsys):
    rng = np.random.default_rng(5)
    params = _params(rng, np.float64)
    theirs_params = _copy(params)
    kwargs = {
        "learning_rate_init": 0.2,
        "lr_schedule": lr_schedule,
        "momentum": momentum,
        "nesterov": nesterov,
        "power_t": 0.3,
    }
    ours, theirs = SGD(params, **kwargs), SGDOptimizer(theirs_params, **kwargs)
    n_seen = 0
    for step, grads in enumerate(_grad_stream(6, np.float64, 20)):
        ours.update_params(params, grads)
        theirs.update_params(theirs_params, _copy(grads))
        n_seen += 16
        if step % 5 == 4:  # an epoch ends
            ours.iteration_ends(n_seen)
            theirs.iteration_ends(n_seen)
            assert ours.trigger_stopping("No improvement.", True) == (
                theirs.trigger_stopping("No improvement.", True)
            )
            assert ours.learning_rate == theirs.learning_rate
    for got, want in zip(
        [*params, *ours.velocities], [*theirs_params, *theirs.velocities], strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 8 and printed[::2] == printed[1::2]


def test_adam_matches_scikit_learn():
    rng = np.random.default_rng(7)
    params = _params(rng, np.float64)
    theirs_params = _copy(params)
    kwargs = {
        "learning_rate_init": 0.003,
        "beta_1": 0.85,
        "beta_2": 0.995,
        "epsilon": 1e-6,
    }
    ours, theirs = Adam(params, **kwargs), AdamOptimizer(theirs_params, **kwargs)
    for grads in _grad_stream(8, np.float64, 20):
        ours.update_params(params, grads)
        theirs.update_params(theirs_params, _copy(grads))
    assert ours.t == theirs.t == 20
    for got, want in zip(
        [*params, *ours.ms, *ours.vs],
        [*theirs_params, *theirs.ms, *theirs.vs],
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# -- schedules --------------------------------------------------------------------


@pytest.mark.parametrize("make", [SGD, Adam])
def test_invscaling(make):
    optimizer = make([np.zeros(3)], learning_rate_init=0.5, lr_schedule="invscaling",
                     power_t=0.25)  # fmt: skip
    assert optimizer.learning_rate == 0.5
    optimizer.iteration_ends(0)
    assert optimizer.learning_rate == 0.5
    optimizer.iteration_ends(15)
    assert optimizer.learning_rate == pytest.approx(0.25, rel=1e-15)
    optimizer.iteration_ends(9999)
    assert optimizer.learning_rate == pytest.approx(0.05, rel=1e-15)


@pytest.mark.parametrize("make", [SGD, Adam])
@pytest.mark.parametrize("lr_schedule", ["constant", "adaptive"])
def test_constant_and_adaptive_ignore_iteration_ends(make, lr_schedule):
    optimizer = make([np.zeros(3)], learning_rate_init=0.5, lr_schedule=lr_schedule)
    optimizer.iteration_ends(99)
    assert optimizer.learning_rate == 0.5


@pytest.mark.parametrize("make", [SGD, Adam])
def test_adaptive_divides_by_five_then_stops(make, capsys):
    optimizer = make([np.zeros(3)], learning_rate_init=0.1, lr_schedule="adaptive")
    rates = []
    while not optimizer.trigger_stopping("No improvement.", verbose=True):
        rates.append(optimizer.learning_rate)
    # 0.1 / 5**8 = 2.56e-7 is the first rate at or below 1e-6
    np.testing.assert_allclose(rates, [0.1 / 5**k for k in range(1, 9)], rtol=1e-14)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "No improvement. Setting learning rate to 0.020000"
    assert printed[-1] == "No improvement. Learning rate too small. Stopping."
    assert len(printed) == 9
    assert optimizer.trigger_stopping("Again.", verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("make", [SGD, Adam])
@pytest.mark.parametrize("lr_schedule", ["constant", "invscaling"])
def test_other_schedules_stop_at_once(make, lr_schedule, capsys):
    optimizer = make([np.zeros(3)], learning_rate_init=0.1, lr_schedule=lr_schedule)
    assert optimizer.trigger_stopping("Loss flat.", verbose=True)
    assert optimizer.learning_rate == 0.1
    assert capsys.readouterr().out == "Loss flat. Stopping.\n"
    assert optimizer.trigger_stopping("Loss flat.", verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("lr_schedule", ["invscaling", "adaptive"])
def test_adam_schedule_scales_its_steps(lr_schedule):
    rng = np.random.default_rng(9)
    grad_stream = _grad_stream(10, np.float64, 3)
    start = _params(rng, np.float64)
    moves = {}
    for schedule in ("constant", lr_schedule):
        params = _copy(start)
        optimizer = Adam(params, learning_rate_init=0.01, lr_schedule=schedule)
        optimizer.iteration_ends(24)  # invscaling: 0.01 / 25**0.5 = 0.002
        optimizer.trigger_stopping("", verbose=False)  # adaptive: 0.01 / 5
        for grads in grad_stream:
            optimizer.update_params(params, grads)
        moves[schedule] = [p - s for p, s in zip(params, start, strict=True)]
    for scaled, constant in zip(moves[lr_schedule], moves["constant"], strict=True):
        np.testing.assert_allclose(scaled, constant / 5, rtol=1e-10)


@pytest.mark.parametrize("make", [SGD, Adam])
def test_unknown_schedule_raises(make):
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        make([np.zeros(3)], lr_schedule="cosine")


# -- in place, no allocation ---------------------------------------------------------


def _state(optimizer):
    if isinstance(optimizer, SGD):
        return optimizer.velocities
    return [*optimizer.ms, *optimizer.vs]


@pytest.mark.parametrize("make", [SGD, Adam])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_in_place_without_allocating(make, dtype):
    rng = np.random.default_rng(11)
    shapes = [(100, 1000), (1000,)]
    params = _params(rng, dtype, shapes)
    grads = _params(rng, dtype, shapes)
    optimizer = make(params)
    optimizer.update_params(params, grads)  # compile, warm up
    ids = [id(a) for a in [*params, *_state(optimizer)]]
    before = _copy(params)
    tracemalloc.start()
    try:
        for _ in range(5):
            optimizer.update_params(params, grads)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < params[0].nbytes / 50, peak  # views and scalars, no array
    assert [id(a) for a in [*params, *_state(optimizer)]] == ids
    assert all(p.dtype == dtype for p in [*params, *_state(optimizer)])
    assert not any(np.array_equal(p, b) for p, b in zip(params, before, strict=True))


@pytest.mark.parametrize("make", [SGD, Adam])
def test_non_contiguous_params_are_refused(make):
    weight = np.zeros((4, 6)).T  # an update into a reshaped copy would be lost
    optimizer = make([weight])
    with pytest.raises(ValueError, match="C-contiguous"):
        optimizer.update_params([weight], [np.ones((6, 4))])


def test_state_is_c_contiguous_for_fortran_params():
    optimizer = Adam([np.asfortranarray(np.zeros((4, 6)))])
    assert all(a.flags.c_contiguous for a in [*optimizer.ms, *optimizer.vs])


# -- pickles --------------------------------------------------------------------------


def _make_scheduled(make, params):
    if make is SGD:
        return SGD(params, learning_rate_init=0.05, lr_schedule="invscaling")
    return Adam(params, learning_rate_init=0.01, lr_schedule="adaptive")


def _train(optimizer, params, grad_stream):
    for step, grads in enumerate(grad_stream):
        optimizer.update_params(params, grads)
        if step % 3 == 2:
            optimizer.iteration_ends(10 * step)
            optimizer.trigger_stopping("", verbose=False)


@pytest.mark.parametrize("make", [SGD, Adam])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pickle_mid_training_continues_exactly(make, dtype):
    rng = np.random.default_rng(12)
    params = _params(rng, dtype)
    grad_stream = _grad_stream(13, dtype, 12)
    optimizer = _make_scheduled(make, params)
    _train(optimizer, params, grad_stream[:6])
    restored, restored_params = pickle.loads(pickle.dumps((optimizer, params)))
    _train(optimizer, params, grad_stream[6:])
    _train(restored, restored_params, grad_stream[6:])
    assert vars(restored).keys() == vars(optimizer).keys()
    assert restored.learning_rate == optimizer.learning_rate
    assert getattr(restored, "t", None) == getattr(optimizer, "t", None)
    for got, want in zip(
        [*restored_params, *_state(restored)],
        [*params, *_state(optimizer)],
        strict=True,
    ):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("make", [SGD, Adam])
def test_memory_mapped_state_is_made_writable(make, tmp_path):
    rng = np.random.default_rng(14)
    params = _params(rng, np.float64, [(200, 300)])
    grad_stream = _grad_stream(15, np.float64, 4, [(200, 300)])
    optimizer = make(params)
    _train(optimizer, params, grad_stream[:2])
    joblib.dump(optimizer, tmp_path / "optimizer.joblib")
    restored = joblib.load(tmp_path / "optimizer.joblib", mmap_mode="r")
    restored_params = _copy(params)
    _train(optimizer, params, grad_stream[2:])
    _train(restored, restored_params, grad_stream[2:])
    np.testing.assert_array_equal(restored_params[0], params[0])


# -- kernels: block edges, empty arrays, NaN ----------------------------------------


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK + 1, 3 * BLOCK + 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_at_block_edges(size, dtype):
    rng = np.random.default_rng(size)
    param, grad, state = (rng.standard_normal(size).astype(dtype) for _ in range(3))
    v = np.abs(state)
    want_velocity = 0.9 * state - 0.1 * grad
    want_param = param + 0.9 * want_velocity - 0.1 * grad
    got_param, got_velocity = param.copy(), state.copy()
    sgd_step(got_param, grad, got_velocity, dtype(0.1), dtype(0.9), True)
    np.testing.assert_allclose(got_velocity, want_velocity, **TOL[dtype])
    np.testing.assert_allclose(got_param, want_param, **TOL[dtype])
    want_m = 0.9 * state + 0.1 * grad
    want_v = 0.99 * v + 0.01 * grad**2
    want_param = param - 0.01 * want_m / (np.sqrt(want_v) + 1e-8)
    got_param, got_m, got_v = param.copy(), state.copy(), v.copy()
    adam_step(got_param, grad, got_m, got_v, *map(dtype, (0.01, 0.9, 0.99, 1e-8)))
    for got, want in [(got_m, want_m), (got_v, want_v), (got_param, want_param)]:
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("make", [SGD, Adam])
def test_non_finite_gradients_propagate(make):
    params = [np.zeros(BLOCK + 3, dtype=np.float32)]
    grads = [np.zeros_like(params[0])]
    grads[0][[0, 5, BLOCK + 1]] = [np.nan, np.inf, -np.inf]
    make(params).update_params(params, grads)
    assert np.isnan(params[0][0]) and not np.isfinite(params[0][[5, BLOCK + 1]]).any()
    assert np.isfinite(np.delete(params[0], [0, 5, BLOCK + 1])).all()


# -- compilation and threads ---------------------------------------------------


def test_each_kernel_compiles_once_per_dtype():
    for dtype in (np.float32, np.float64):
        for shapes in (SHAPES, [(7,)], [(3, 2, 2)]):
            rng = np.random.default_rng(16)
            params = _params(rng, dtype, shapes)
            for make, kwargs in [
                (SGD, {"nesterov": True}),
                (SGD, {"nesterov": 0}),
                (Adam, {}),
            ]:
                grads = _params(rng, dtype, shapes)
                make(params, **kwargs).update_params(params, grads)
            assert all(p.dtype == dtype for p in params)
    for kernel in (sgd_step, adam_step):
        dtypes = sorted(str(signature[0].dtype) for signature in kernel.signatures)
        assert dtypes == ["float32", "float64"], kernel.signatures


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 threads")
@pytest.mark.parametrize("make", [SGD, Adam])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_for_any_thread_count(make, dtype):
    rng = np.random.default_rng(17)
    shapes = [(100_003,)]  # odd: threads split it unevenly, with scalar tails
    start = _params(rng, dtype, shapes)
    grad_stream = _grad_stream(18, dtype, 3, shapes)
    results = []
    previous = numba.get_num_threads()
    try:
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            params = _copy(start)
            optimizer = make(params)
            _train(optimizer, params, grad_stream)
            results.append([*params, *_state(optimizer)])
    finally:
        numba.set_num_threads(previous)
    for one_thread, two_threads in zip(*results, strict=True):
        np.testing.assert_array_equal(one_thread, two_threads)


@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_each_optimizer_is_built_from_the_estimator_parameters_it_names(solver):
    """The registry's keywords are the constructor's, set by parameters every
    trained estimator has (a new optimizer needs only its class and entry)."""
    optimizer = OPTIMIZERS[solver]
    keywords = set(inspect.signature(optimizer).parameters) - {"params"}
    assert set(optimizer.parameters) == keywords
    settings = MLPClassifier(
        learning_rate_init=0.02, learning_rate="invscaling", power_t=0.25,
        momentum=0.7, nesterovs_momentum=False, beta_1=0.8, beta_2=0.9, epsilon=1e-6,
    ).get_params()  # fmt: skip
    built = make_optimizer(solver, [np.zeros(3)], settings)
    assert type(built) is optimizer
    assert built.learning_rate_init == 0.02 and built.lr_schedule == "invscaling"
    for keyword, name in optimizer.parameters.items():
        if keyword != "lr_schedule":
            assert getattr(built, keyword) == settings[name]


@pytest.mark.parametrize("schedule", ["warmup_linear", "warmup_cosine"])
@pytest.mark.parametrize("solver", sorted(OPTIMIZERS))
def test_step_schedules_warm_up_then_decay_to_zero(schedule, solver):
    optimizer = OPTIMIZERS[solver](
        [np.zeros(2)], learning_rate_init=0.5, lr_schedule=schedule,
        warmup_fraction=0.2,
    )  # fmt: skip
    optimizer.plan(20)
    rates = []
    for _ in range(20):
        optimizer.update_params([np.zeros(2)], [np.ones(2)])
        rates.append(optimizer.learning_rate)
    np.testing.assert_allclose(rates[:4], 0.5 * np.arange(1, 5) / 4)  # 4 warm-up steps
    done = np.arange(1, 17) / 16
    decay = (
        1 - done if schedule == "warmup_linear" else 0.5 * (1 + np.cos(np.pi * done))
    )
    np.testing.assert_allclose(rates[4:], 0.5 * decay, atol=1e-15)
    assert optimizer.trigger_stopping("no progress", False)  # as 'constant'


def test_a_step_schedule_resumes_from_a_checkpoint_where_it_stopped(
    tmp_path, monkeypatch
):
    from skcnn._network import BaseNetworkClassifier
    from skcnn.datasets import load_digits_images

    X, y = load_digits_images(return_X_y=True, scale=True)
    X, y = X[:600], y[:600]

    def make():
        return MLPClassifier(
            (16,), learning_rate="warmup_cosine", warmup_fraction=0.3, max_iter=4,
            batch_size=200, random_state=0, tol=0,
        )  # fmt: skip

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = make().fit(X, y)
        assert (
            reference._optimizer.step == 12 and reference._optimizer.learning_rate == 0
        )
        original, count = BaseNetworkClassifier._train_step, [0]

        def crash(self, *args):
            count[0] += 1
            if count[0] == 8:  # in epoch 3 of 4
                raise RuntimeError("crash")
            return original(self, *args)

        with monkeypatch.context() as patch:
            patch.setattr(BaseNetworkClassifier, "_train_step", crash)
            with pytest.raises(RuntimeError, match="crash"):
                make().set_params(checkpoint=tmp_path).fit(X, y)
        resumed = make().set_params(checkpoint=tmp_path).fit(X, y)
    np.testing.assert_array_equal(resumed._packed, reference._packed)
