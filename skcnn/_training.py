"""What a fit carries from one epoch, and one ``partial_fit`` call, to the next.

:class:`TrainingState` holds the training loop's own state, apart from the
weights and the public fitted attributes (``n_iter_``, ``t_``,
``loss_curve_``, ...): the random generators, the optimizer, the minibatch
order, early stopping's best weights and the stopping counter. It saves and
restores itself for checkpoints (:meth:`TrainingState.checkpoint`,
:meth:`TrainingState.restore`), in the format :mod:`skcnn._checkpoint` writes.
"""


def _rng_parts(prefix: str, state: tuple, arrays: dict, meta: dict) -> None:
    name, keys, pos, has_gauss, cached = state
    arrays[f"{prefix}.keys"] = keys
    meta[prefix] = [name, int(pos), int(has_gauss), float(cached)]


def _rng_state(prefix: str, arrays: dict, meta: dict) -> tuple:
    name, pos, has_gauss, cached = meta[prefix]
    return (name, arrays[f"{prefix}.keys"], pos, has_gauss, cached)


class TrainingState:
    """The training loop's state between epochs.

    Parameters
    ----------
    random_state : numpy.random.RandomState
        Draws the initial weights, the validation split and each epoch's
        shuffle.
    layer_rng : numpy.random.Generator or None
        Drives dropout and augmentation (None: the network has neither).

    Attributes
    ----------
    optimizer : SGD or Adam or None
        The stochastic solver's optimizer, with its moments; None until the
        first stochastic fit (and for L-BFGS).
    order : ndarray or None
        The minibatch order of the last epoch; the next one shuffles it.
    best_params : ndarray or None
        Early stopping's best weights so far (a copy of the flat buffer).
    no_improvement_count : int
        Epochs in a row without improvement of the stopping metric.
    """

    def __init__(self, random_state, layer_rng):
        self.random_state = random_state
        self.layer_rng = layer_rng
        self.optimizer = None
        self.order = None
        self.best_params = None
        self.no_improvement_count = 0

    def checkpoint(self, rng_start: tuple) -> tuple[dict, dict]:
        """Arrays and JSON scalars of this state, for a checkpoint.

        ``rng_start`` is the RandomState's state when the fit started (the
        validation split is drawn from it again on resuming).
        """
        rng_bits = None if self.layer_rng is None else self.layer_rng.bit_generator
        arrays = {"order": self.order}
        meta = {
            "no_improvement_count": self.no_improvement_count,
            "layer_rng": None if rng_bits is None else rng_bits.state,
            "optimizer": {},
        }
        if self.best_params is not None:
            arrays["best_params"] = self.best_params
        _rng_parts("rng", self.random_state.get_state(), arrays, meta)
        _rng_parts("rng_start", rng_start, arrays, meta)
        states, scalars = self.optimizer.state()
        for name, values in states.items():
            for i, array in enumerate(values):
                arrays[f"optimizer.{name}.{i}"] = array
            meta["optimizer"][name] = {"arrays": len(values)}
        meta["optimizer"].update(scalars)
        return arrays, meta

    def restore(self, arrays: dict, meta: dict, optimizer) -> tuple:
        """Take back a :meth:`checkpoint` into this state, with ``optimizer``
        (a fresh one, of the saved kind) receiving its saved state; return the
        RandomState's state at the start of the saved fit."""
        self.no_improvement_count = meta["no_improvement_count"]
        if meta["layer_rng"] is not None:
            self.layer_rng.bit_generator.state = meta["layer_rng"]
        self.best_params = arrays.get("best_params")
        self.order = arrays["order"]
        self.random_state.set_state(_rng_state("rng", arrays, meta))
        states, scalars = {}, {}
        for name, value in meta["optimizer"].items():
            if isinstance(value, dict) and "arrays" in value:
                states[name] = [
                    arrays[f"optimizer.{name}.{i}"] for i in range(value["arrays"])
                ]
            else:
                scalars[name] = value
        optimizer.load_state(states, scalars)
        self.optimizer = optimizer
        return _rng_state("rng_start", arrays, meta)
