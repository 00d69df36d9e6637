"""Stochastic optimizers of the training loop: SGD with (Nesterov) momentum, Adam.

The names and semantics follow scikit-learn's ``_stochastic_optimizers``
(``update_params``, ``iteration_ends``, ``trigger_stopping``), with three
differences:

- updates run in place through numba kernels, and the state (velocities,
  moments) is allocated once in ``__init__``: a step allocates no array;
- every learning-rate schedule works for both solvers. For Adam the schedule
  sets the base ``learning_rate`` and the bias correction applies on top of it
  (scikit-learn's Adam ignores the schedule and overwrites ``learning_rate``
  with the bias-corrected rate);
- the objects hold only numbers and numpy arrays, so they pickle with their
  state and a warm-started fit continues exactly where it stopped.
"""

import math

import numpy as np

from skcnn._kernels._optim import adam_step, sgd_step

STEP_SCHEDULES = ("warmup_linear", "warmup_cosine")
"""Schedules set by step: a linear warm-up from 0 over ``warmup_fraction`` of the
planned steps (:meth:`_BaseOptimizer.plan`), then a linear or cosine decay to 0
at the last one (the one-cycle shape of recent small-CNN records)."""

LR_SCHEDULES = ("constant", "invscaling", "adaptive", *STEP_SCHEDULES)
"""The learning-rate schedules: scikit-learn's ``learning_rate`` names, and
:data:`STEP_SCHEDULES`."""


def _flat(array):
    """A 1-D view of a C-contiguous array, for the elementwise kernels."""
    return array.reshape(-1)


def _flat_param(param):
    """A 1-D view of a parameter; refuses arrays that would be copied instead.

    ``reshape`` silently copies a non-contiguous array, and an update written
    into that copy would be lost.
    """
    if not param.flags.c_contiguous:
        raise ValueError(
            f"Parameters must be C-contiguous to be updated in place; got an array "
            f"of shape {param.shape} with strides {param.strides}."
        )
    return param.reshape(-1)


def _zeros_like(params):
    """C-contiguous zero state arrays, one per parameter, of its shape and dtype."""
    return [np.zeros(param.shape, dtype=param.dtype) for param in params]


class _BaseOptimizer:
    """Learning-rate schedule shared by the optimizers.

    Parameters
    ----------
    learning_rate_init : float
        The initial learning rate.

    lr_schedule : {'constant', 'invscaling', 'adaptive'}
        How ``learning_rate`` evolves; see :class:`SGD`.

    power_t : float
        Exponent of the 'invscaling' schedule.

    Attributes
    ----------
    learning_rate : float
        The current (base) learning rate.
    """

    def __init__(self, learning_rate_init, lr_schedule, power_t, warmup_fraction=0.1):
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {LR_SCHEDULES}; got {lr_schedule!r}."
            )
        self.learning_rate_init = learning_rate_init
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.warmup_fraction = warmup_fraction
        self.learning_rate = float(learning_rate_init)
        self.step = 0  # steps taken under a step schedule
        self.total_steps = 1  # the steps it spans (plan)

    def plan(self, total_steps):
        """The number of steps a step schedule spans (epochs x minibatches)."""
        self.total_steps = max(int(total_steps), 1)

    def _next_step(self):
        """Under a step schedule, the base learning rate of the next step."""
        if self.lr_schedule not in STEP_SCHEDULES:
            return
        self.step += 1
        warmup = max(round(self.warmup_fraction * self.total_steps), 0)
        if self.step <= warmup:
            fraction = self.step / warmup
        else:
            done = min((self.step - warmup) / max(self.total_steps - warmup, 1), 1)
            if self.lr_schedule == "warmup_linear":
                fraction = 1 - done
            else:
                fraction = 0.5 * (1 + math.cos(math.pi * done))
        self.learning_rate = float(self.learning_rate_init) * fraction

    def __setstate__(self, state):
        # joblib.load(..., mmap_mode="r") hands back read-only state arrays,
        # which the kernels could not update: take writable copies of those.
        for name, value in state.items():
            if isinstance(value, list):
                state[name] = [
                    a.copy() if isinstance(a, np.ndarray) and not a.flags.writeable
                    else a
                    for a in value
                ]  # fmt: skip
        self.__dict__.update(state)
        # optimizers pickled before the step schedules
        self.__dict__.setdefault("warmup_fraction", 0.1)
        self.__dict__.setdefault("step", 0)
        self.__dict__.setdefault("total_steps", 1)

    def state(self) -> tuple[dict, dict]:
        """The whole state, to save: ``(arrays, scalars)``, the per-parameter
        state arrays (velocities, moments) as lists by name, and every other
        setting and counter (numbers and strings) by name."""
        arrays, scalars = {}, {}
        for name, value in vars(self).items():
            if isinstance(value, list):
                arrays[name] = value
            else:
                scalars[name] = value.item() if hasattr(value, "item") else value
        return arrays, scalars

    def load_state(self, arrays: dict, scalars: dict) -> None:
        """Take back a :meth:`state`: arrays copied into this optimizer's own
        (same shapes), scalars set."""
        for name, values in arrays.items():
            for mine, saved in zip(getattr(self, name), values, strict=True):
                mine[...] = saved
        for name, value in scalars.items():
            setattr(self, name, value)

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch.

        Parameters
        ----------
        time_step : int
            Number of training samples seen so far (the estimator's ``t_``).
            With 'invscaling', ``learning_rate = learning_rate_init /
            (time_step + 1) ** power_t``; the other schedules ignore it.
        """
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss no longer improves.

        With 'adaptive', the learning rate is divided by 5 and training goes on,
        until it falls to 1e-6 or below. Any other schedule stops at once.

        Parameters
        ----------
        msg : str
            The reason, printed before the decision when ``verbose``.

        verbose : bool
            Print ``msg`` and the decision.

        Returns
        -------
        is_stopping : bool
            True if training should stop.
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class SGD(_BaseOptimizer):
    """Stochastic gradient descent with momentum, optionally Nesterov's.

    Parameters
    ----------
    params : list of ndarray
        The parameters to train, used only for the shapes and dtypes of the
        velocities. The arrays later passed to :meth:`update_params` must be
        C-contiguous and have these shapes and dtypes.

    learning_rate_init : float, default=0.1
        The initial learning rate.

    lr_schedule : {'constant', 'invscaling', 'adaptive'}, default='constant'
        How the learning rate evolves.

        - 'constant': ``learning_rate_init`` throughout.
        - 'invscaling': ``learning_rate_init / (t + 1) ** power_t`` after each
          epoch, ``t`` being the number of samples seen (:meth:`iteration_ends`).
        - 'adaptive': constant until the loss stops improving, then divided by 5
          each time it does (:meth:`trigger_stopping`).

    momentum : float, default=0.9
        Momentum, in [0, 1]; 0 gives plain gradient descent.

    nesterov : bool, default=True
        Use Nesterov's momentum.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    Attributes
    ----------
    learning_rate : float
        The current learning rate.

    velocities : list of ndarray
        One velocity per parameter, of its shape and dtype, updated in place.

    See Also
    --------
    Adam : Adaptive moment estimation.

    Notes
    -----
    Each step, with ``η`` the learning rate, ``μ`` the momentum and ``g`` the
    gradient (the same update as scikit-learn's ``SGDOptimizer``)::

        velocity ← μ · velocity − η · g
        param    ← param + μ · velocity − η · g    (nesterov=True)
        param    ← param + velocity                (nesterov=False)

    Float32 parameters are updated in float32 arithmetic.

    References
    ----------
    Sutskever, Martens, Dahl and Hinton (2013), "On the importance of
    initialization and momentum in deep learning", ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from skcnn._optim import SGD
    >>> params = [np.array([1.0, -2.0])]
    >>> optimizer = SGD(params, learning_rate_init=0.1, momentum=0.0)
    >>> optimizer.update_params(params, [np.array([0.5, -0.5])])
    >>> params[0]
    array([ 0.95, -1.95])
    """

    parameters = {
        "learning_rate_init": "learning_rate_init",
        "lr_schedule": "learning_rate",
        "power_t": "power_t",
        "warmup_fraction": "warmup_fraction",
        "momentum": "momentum",
        "nesterov": "nesterovs_momentum",
    }
    """Each keyword of the constructor, and the estimator parameter that sets it."""

    def __init__(
        self,
        params,
        *,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
        warmup_fraction=0.1,
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t, warmup_fraction)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = _zeros_like(params)

    def update_params(self, params, grads):
        """Update the parameters in place with one step of their gradients.

        Parameters
        ----------
        params : list of ndarray
            The parameters, C-contiguous, updated in place.

        grads : list of ndarray
            The gradients of the loss, one per parameter, of its shape and dtype.
        """
        self._next_step()
        nesterov = bool(self.nesterov)
        for param, grad, velocity in zip(params, grads, self.velocities, strict=True):
            cast = param.dtype.type
            sgd_step(
                _flat_param(param), _flat(grad), _flat(velocity),
                cast(self.learning_rate), cast(self.momentum), nesterov,
            )  # fmt: skip


class Adam(_BaseOptimizer):
    """Adam: stochastic gradient descent with adaptive moment estimation.

    Parameters
    ----------
    params : list of ndarray
        The parameters to train, used only for the shapes and dtypes of the
        moments. The arrays later passed to :meth:`update_params` must be
        C-contiguous and have these shapes and dtypes.

    learning_rate_init : float, default=0.001
        The initial (base) learning rate.

    lr_schedule : {'constant', 'invscaling', 'adaptive'}, default='constant'
        How the base learning rate evolves, as for :class:`SGD`; the bias
        correction applies on top of it.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    beta_1 : float, default=0.9
        Decay rate of the first-moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of the second-moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Added to the denominator for numerical stability.

    Attributes
    ----------
    learning_rate : float
        The current base learning rate (set by the schedule, never by the bias
        correction).

    t : int
        Number of steps taken.

    ms : list of ndarray
        First-moment estimates, one per parameter, updated in place.

    vs : list of ndarray
        Second-moment estimates, one per parameter, updated in place.

    See Also
    --------
    SGD : Stochastic gradient descent with momentum.

    Notes
    -----
    At step ``t`` (counted from 1), with ``η`` the learning rate and ``g`` the
    gradient (the same update as scikit-learn's ``AdamOptimizer``)::

        η_t   = η · √(1 − β₂ᵗ) / (1 − β₁ᵗ)
        m     ← β₁ · m + (1 − β₁) · g
        v     ← β₂ · v + (1 − β₂) · g²
        param ← param − η_t · m / (√v + ε)

    Float32 parameters are updated in float32 arithmetic; ``η_t`` is computed in
    float64.

    References
    ----------
    Kingma and Ba (2015), "Adam: A method for stochastic optimization", ICLR,
    :arxiv:`1412.6980`.

    Examples
    --------
    >>> import numpy as np
    >>> from skcnn._optim import Adam
    >>> params = [np.array([1.0, -2.0])]
    >>> optimizer = Adam(params, learning_rate_init=0.1)
    >>> optimizer.update_params(params, [np.array([0.5, -0.5])])
    >>> optimizer.t, params[0].round(6)
    (1, array([ 0.9, -1.9]))
    """

    parameters = {
        "learning_rate_init": "learning_rate_init",
        "lr_schedule": "learning_rate",
        "power_t": "power_t",
        "warmup_fraction": "warmup_fraction",
        "beta_1": "beta_1",
        "beta_2": "beta_2",
        "epsilon": "epsilon",
    }
    """Each keyword of the constructor, and the estimator parameter that sets it."""

    def __init__(
        self,
        params,
        *,
        learning_rate_init=0.001,
        lr_schedule="constant",
        power_t=0.5,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warmup_fraction=0.1,
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t, warmup_fraction)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = _zeros_like(params)
        self.vs = _zeros_like(params)

    def update_params(self, params, grads):
        """Update the parameters in place with one Adam step.

        Increments ``t`` and applies the bias-corrected rate ``η_t``.

        Parameters
        ----------
        params : list of ndarray
            The parameters, C-contiguous, updated in place.

        grads : list of ndarray
            The gradients of the loss, one per parameter, of its shape and dtype.
        """
        self._next_step()
        self.t += 1
        learning_rate_t = (
            self.learning_rate
            * math.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        for param, grad, m, v in zip(params, grads, self.ms, self.vs, strict=True):
            cast = param.dtype.type
            adam_step(
                _flat_param(param), _flat(grad), _flat(m), _flat(v),
                cast(learning_rate_t), cast(self.beta_1), cast(self.beta_2),
                cast(self.epsilon),
            )  # fmt: skip


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
"""The stochastic solvers by name (an estimator's ``solver``): a new optimizer
is a class with ``parameters``, ``update_params``, ``iteration_ends`` and
``trigger_stopping``, and its entry here."""


def make_optimizer(solver, params, settings):
    """The optimizer ``solver`` over ``params``, its keywords read from
    ``settings`` (an estimator's parameters, by the names in ``parameters``)."""
    optimizer = OPTIMIZERS[solver]
    keywords = {key: settings[name] for key, name in optimizer.parameters.items()}
    return optimizer(params, **keywords)
