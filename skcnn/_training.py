r"""The training loop, and what a fit carries from one epoch to the next.

:class:`TrainingLoop` is the part of
:class:`~skcnn._network.BaseNetworkClassifier` that trains: the minibatch
epochs of the stochastic solvers and full-batch L-BFGS, which share one
end-of-epoch step (:meth:`TrainingLoop._finish_epoch`: count, record, report,
callbacks); the loss and its gradient over a minibatch; early stopping,
divergence, Ctrl-C and checkpoints. A fit runs::

    fit / partial_fit -> _fit -> _fit_loop -> _run_epoch -> _train_step
                              \-> _fit_lbfgs -> _full_batch_loss_grad

:class:`TrainingState` holds the training loop's own state, apart from the
weights and the public fitted attributes (``n_iter_``, ``t_``,
``loss_curve_``, ...): the random generators, the optimizer, the minibatch
order, early stopping's best weights and the stopping counter. It saves and
restores itself for checkpoints (:meth:`TrainingState.checkpoint`,
:meth:`TrainingState.restore`), in the format :mod:`skcnn._checkpoint` writes.
"""

import hashlib
import os
import time
import warnings
from contextlib import contextmanager
from functools import partial

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from skcnn import _checkpoint
from skcnn._buffer import n_decayed, views
from skcnn._layers import is_random, run_forward
from skcnn._optim import make_optimizer
from skcnn._workspace import Workspace


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
    ema, ema_states : ndarray, list of ndarray or None
        With ``ema_decay``, while a run trains: the moving averages of the
        flat weights and of the layers' state arrays (``ema_steps`` steps so
        far).
    trained, trained_states : ndarray, list of ndarray or None
        With ``ema_decay``, between runs: the trained weights and states,
        while the model holds their averages.
    """

    # the weight average (``ema_decay``); class attributes, so that states
    # saved before it existed load
    ema = None
    ema_states = None
    ema_steps = 0
    trained = None
    trained_states = None
    trained_digest = None

    def __init__(self, random_state, layer_rng):
        self.random_state = random_state
        self.layer_rng = layer_rng
        self.optimizer = None
        self.order = None
        self.best_params = None
        self.no_improvement_count = 0

    # -- the moving average of the weights ----------------------------------

    def begin_averaging(self, weights, states) -> None:
        """A run with weight averaging starts: ``weights`` and ``states`` (the
        model's flat weights and its layers' state arrays, the averages at
        rest) become the averages, and the trained ones kept aside go back
        into training, unless the model's weights changed since (assigned by
        the user, or early stopping's best ones): then training goes on from
        those and the averages restart at them."""
        self.ema = weights.copy()
        self.ema_states = [a.copy() for a in states]
        if self.trained is not None and _digest(weights) == self.trained_digest:
            weights[...] = self.trained
            for array, trained in zip(states, self.trained_states, strict=True):
                array[...] = trained
        self.trained = self.trained_digest = self.trained_states = None

    def average(self, weights, states, decay: float) -> None:
        """One step of the moving averages towards ``weights`` and ``states``
        (running statistics too, as timm's ``ModelEmaV2``: the averaged
        weights then predict with statistics of the same window)."""
        self.ema_steps += 1
        d = min(decay, (1 + self.ema_steps) / (10 + self.ema_steps))
        for average, current in zip([self.ema, *self.ema_states], [weights, *states],
                                    strict=True):  # fmt: skip
            average *= d
            average += current * (1 - d)

    def end_averaging(self, weights, states) -> None:
        """The run ends: the trained weights and states go aside, the model
        keeps the averages."""
        self.trained = weights.copy()
        self.trained_states = [a.copy() for a in states]
        weights[...] = self.ema
        for array, average in zip(states, self.ema_states, strict=True):
            array[...] = average
        self.trained_digest = _digest(weights)
        self.ema = self.ema_states = None

    @contextmanager
    def averaged(self, weights, states):
        """``weights`` and ``states`` hold the averages within the block (to
        score them)."""
        if self.ema is None:
            yield
            return
        kept = [a.copy() for a in (weights, *states)]
        for array, average in zip([weights, *states], [self.ema, *self.ema_states],
                                  strict=True):  # fmt: skip
            array[...] = average
        try:
            yield
        finally:
            for array, value in zip([weights, *states], kept, strict=True):
                array[...] = value

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
        if self.ema is not None:
            arrays["ema"] = self.ema
            meta["ema_steps"] = self.ema_steps
            meta["ema_states"] = len(self.ema_states)
            for i, array in enumerate(self.ema_states):
                arrays[f"ema_state.{i}"] = array
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
        if "ema" in arrays:
            self.ema = np.array(arrays["ema"])
            self.ema_steps = meta["ema_steps"]
            self.ema_states = [
                np.array(arrays[f"ema_state.{i}"]) for i in range(meta["ema_states"])
            ]
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


_PROGRESS = (
    "n_iter_",
    "t_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)
"""The fitted attributes a checkpoint saves beside the weights and the state."""


def _digest(weights) -> str:
    """A fingerprint of the weights' bits."""
    return hashlib.blake2b(np.ascontiguousarray(weights).view(np.uint8)).hexdigest()


def _progress_to_json(value):
    """A progress attribute as JSON holds it: floats as Python floats."""
    if isinstance(value, list):
        return [float(v) for v in value]
    return value if value is None or isinstance(value, int) else float(value)


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite before any epoch completed."""


class CheckpointedRuns:
    """The checkpoint side of the training loop (a mixin of :class:`TrainingLoop`):
    which run a fit resumes, and its state written after each epoch."""

    def _checkpoint_run(self, X, target, weight, incremental, first):
        """The checkpoint folder of this fit and what it resumes, or None.

        With ``checkpoint`` set, ``fit`` (not ``partial_fit``) resumes from the
        newest complete checkpoint there, if one exists and was written by the
        same training run (estimator, hyperparameters, data), and refuses it
        with a CheckpointError saying what differs otherwise.
        """
        if incremental or self.checkpoint is None:
            return None
        folder = os.fspath(self.checkpoint)
        found = _checkpoint.load(folder)
        if found is not None and not first:  # warm start: the checkpoint wins
            self._initialize(X, self.classes_[target], None)
        run = {"folder": folder, "rng_start": None, "fit_epochs": 0}
        run["fingerprint"] = _checkpoint.fingerprint(self, X, target, weight)
        if found is not None:
            arrays, meta, path = found
            _checkpoint.compare_fingerprints(
                meta["fingerprint"], run["fingerprint"], path,
                _checkpoint.default_settings(self),
            )  # fmt: skip
            run["rng_start"] = self._restore_checkpoint(arrays, meta)
            run["fit_epochs"] = meta["fit_epochs"]
        return run

    def _save_checkpoint(self, run, rng_start, fit_epochs):
        arrays, meta = self._training.checkpoint(rng_start)
        arrays["params"] = self._packed
        for i, state in enumerate(self._state):
            for j, array in enumerate(state):
                arrays[f"state.{i}.{j}"] = array
        meta.update(
            {name: _progress_to_json(getattr(self, name)) for name in _PROGRESS},
            fingerprint=run["fingerprint"],
            fit_epochs=fit_epochs,
        )
        try:
            _checkpoint.save(run["folder"], self.n_iter_, arrays, meta)
        except OSError as exc:
            warnings.warn(
                f"Could not write the checkpoint of epoch {self.n_iter_} in "
                f"{run['folder']} ({exc}); training goes on, and the previous "
                "checkpoint, if any, is kept.",
                RuntimeWarning,
                stacklevel=6,
            )

    def _restore_checkpoint(self, arrays, meta):
        """Take back a checkpoint's weights, progress and training state; return
        the RandomState's state at the start of the saved fit."""
        self._packed[...] = arrays["params"]
        for i, state in enumerate(self._state):
            for j, array in enumerate(state):
                array[...] = arrays[f"state.{i}.{j}"]
        for name in _PROGRESS:
            setattr(self, name, meta[name])
        self.loss_curve_ = list(self.loss_curve_)
        return self._training.restore(arrays, meta, self._make_optimizer())


class TrainingLoop(CheckpointedRuns):
    """The training half of the networks' estimator base class (a mixin).

    It reads the estimator's parameters and fitted attributes, and keeps its
    own state in ``_training`` (a :class:`TrainingState`).
    """

    # -- minibatch epochs (adam, sgd) -------------------------------------------

    def _fit_loop(self, X, target, weight, incremental, root, y, run, first):
        """Minibatch epochs: ``max_iter`` of them (one for ``partial_fit``),
        fewer when training stops early, is interrupted or diverges."""
        early_stopping = self.early_stopping and not incremental
        resumed = run is not None and run["rng_start"] is not None
        if not (incremental or resumed):
            self.n_iter_ = 0  # epochs of this fit, as scikit-learn counts them
        rng_start, (index, target, weight, held_out) = self._split_validation(
            X, target, weight, early_stopping, run if resumed else None
        )
        batch_size = self._minibatch_size(len(target))
        steps = -(-len(target) // batch_size)  # a step schedule spans max_iter epochs
        self._training.optimizer.plan(steps * self.max_iter)
        if self.ema_decay is not None and not resumed:
            self._training.begin_averaging(self._packed, self._state_arrays())
        good = self._copy_params()
        if not resumed:
            self._start_run(len(target), good, early_stopping)
        fit_epochs = run["fit_epochs"] if resumed else 0
        interrupted = False
        for _ in range(1 if incremental else self.max_iter - fit_epochs):
            start = time.perf_counter()
            epoch = root.subcontext(task_name="epoch")
            epoch.call_on_fit_task_begin(estimator=self, X=X, y=y)
            try:
                loss = self._run_epoch(X, index, target, weight, batch_size)
            except KeyboardInterrupt:
                self._stop_interrupted(good, early_stopping)
                interrupted = True
                break
            if not np.isfinite(loss):
                self._stop_diverged(good, loss, fresh=first and self.n_iter_ == 0)
                break
            good = self._copy_params()
            record = partial(self._record_epoch, loss, X, held_out)
            if self._finish_epoch(epoch, X, y, loss, start, record) or self._stops():
                break  # a callback asked to stop, or no more improvement
            fit_epochs += 1
            if run is not None:
                self._save_checkpoint(run, rng_start, fit_epochs)
        else:
            if not incremental:
                warnings.warn(
                    f"Stochastic optimizer: maximum iterations ({self.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        self._end_run(early_stopping, run, interrupted)

    def _split_validation(self, X, target, weight, early_stopping, resumed_run):
        """``(rng_start, (index, target, weight, held_out))``: the RandomState's
        state before the split, and the training rows (``index``: None for all
        of X) with their targets and weights; with early stopping, the held-out
        ``(rows, y, weights)``. A resumed run draws the same split again."""
        random_state = self._training.random_state
        if resumed_run is not None:  # the same split, then on from the saved state
            now = random_state.get_state()
            random_state.set_state(resumed_run["rng_start"])
        rng_start = random_state.get_state()
        index = held_out = None
        if early_stopping:
            index, val_index, target, y_val, weight, w_val = train_test_split(
                np.arange(X.shape[0]), target, weight,
                test_size=self.validation_fraction, random_state=random_state,
                stratify=self._head.stratify(target),
            )  # fmt: skip
            held_out = val_index, y_val, w_val
        if resumed_run is not None:
            random_state.set_state(now)
        return rng_start, (index, target, weight, held_out)

    def _minibatch_size(self, n_train):
        size = min(200, n_train) if self.batch_size == "auto" else self.batch_size
        return min(size, n_train)

    def _start_run(self, n_train, good, early_stopping):
        """A new run (not resumed): the best weights so far, and the order each
        epoch shuffles (the previous epoch's, as scikit-learn)."""
        self._training.best_params = good if early_stopping else None
        if early_stopping:
            self.best_loss_ = None  # scikit-learn's convention
        self._training.order = np.arange(n_train)

    def _record_epoch(self, loss, X, held_out):
        """A minibatch epoch's bookkeeping: its loss, the stopping metric, the
        learning-rate schedule."""
        self.loss_ = loss
        if held_out is not None:
            # the weights (and statistics) predict uses
            with self._training.averaged(self._packed, self._state_arrays()):
                self._record_validation(X, *held_out)
        else:
            self._record_loss(loss)
        self._training.optimizer.iteration_ends(self.t_)

    def _finish_epoch(self, epoch, X, y, loss, start, record=None) -> bool:
        """The end of an epoch (an L-BFGS iteration) for both drivers: count it,
        keep its loss, ``record`` the rest, report, tell the callbacks; whether
        a callback asked to stop."""
        self.n_iter_ += 1
        self.loss_curve_.append(loss)
        if record is not None:
            record()
        self._report_epoch(time.perf_counter() - start)
        return epoch.call_on_fit_task_end(
            estimator=self, X=X, y=y,
            reconstruction_attributes=self._reconstruction_attributes,
        )  # fmt: skip

    def _stops(self) -> bool:
        """Whether the stopping metric has not improved for too long: the
        optimizer stops, or (schedule 'adaptive') lowers its rate and goes on."""
        if self._training.no_improvement_count <= self.n_iter_no_change:
            return False
        metric = "validation score" if self.early_stopping else "training loss"
        message = (
            f"{metric.capitalize()} did not improve more than tol={self.tol} "
            f"for {self.n_iter_no_change} consecutive epochs."
        )
        if self._training.optimizer.trigger_stopping(message, self.verbose):
            return True
        self._training.no_improvement_count = 0
        return False

    def _end_run(self, early_stopping, run, interrupted):
        if self._training.ema is not None:
            self._training.end_averaging(self._packed, self._state_arrays())
        if early_stopping:
            self._set_params(self._training.best_params)
        self._training.best_params = self._training.order = None
        if run is not None and not interrupted:  # done: the next fit starts afresh
            _checkpoint.clear(run["folder"])

    # -- one epoch, one step ----------------------------------------------------

    def _run_epoch(self, X, index, target, weight, batch_size):
        """One pass over the rows ``index`` of X (None: all of them); returns the
        mean training loss. Each minibatch is converted to the compute dtype."""
        n = len(target)
        if self.shuffle:
            self._training.order = self._training.random_state.permutation(
                self._training.order
            )
        order = self._training.order
        total = 0.0
        batches = range(0, n, batch_size)
        bar = tqdm(batches, desc=f"epoch {self.n_iter_ + 1}", leave=False,
                   disable=self.verbose < 2)  # fmt: skip
        workspace = Workspace()  # each step reuses the previous step's arrays
        for lo in bar:
            rows = order[lo : lo + batch_size]
            batch = X[rows if index is None else index[rows]]
            with workspace.step():
                loss = self._train_step(
                    batch.astype(self._packed.dtype, copy=False), target[rows],
                    weight[rows],
                )  # fmt: skip
            if not np.isfinite(loss):
                return loss
            if self._training.ema is not None:
                self._training.average(
                    self._packed, self._state_arrays(), self.ema_decay
                )
            total += loss * len(rows)
        return total / n

    def _train_step(self, X, target, weight):
        """Forward, loss, backward and one optimizer update on one minibatch."""
        weight_sum = float(weight.sum())
        if weight_sum == 0:
            return 0.0
        grad = np.empty_like(self._packed)
        loss = self._start_gradient(weight_sum, grad)
        loss += self._add_gradient(X, target, weight, weight_sum, grad)
        self._training.optimizer.update_params([self._packed], [grad])
        self.t_ += X.shape[0]
        return loss

    def _add_gradient(self, X, target, weight, weight_sum, grad):
        """Add to ``grad`` the gradient of ``sum_i weight_i loss_i / weight_sum``
        over the batch X (in the compute dtype); return that sum."""
        out, caches, rng, layer_params = X, [], self._training.layer_rng, self.params_
        for layer, params, state in zip(
            self.layers_, layer_params, self._state, strict=True
        ):
            out, cache = run_forward(layer, out, params, True, rng, state)
            caches.append(cache)
        dout = np.empty_like(out)
        losses = np.empty(out.shape[0])
        scale = 1.0 / weight_sum
        self._head.loss_gradient(out, target, weight, scale, dout, losses)
        grad_views = views(grad, layer_params, self._decays)
        # no layer before the first trainable one needs a gradient
        first = next(i for i, params in enumerate(layer_params) if params)
        for index in range(len(self.layers_) - 1, first - 1, -1):
            layer, params = self.layers_[index], layer_params[index]
            dout, layer_grads = layer.backward(
                dout, caches[index], params, index > first
            )
            for view, layer_grad in zip(grad_views[index], layer_grads, strict=True):
                view += layer_grad
        return losses.sum() / weight_sum

    def _start_gradient(self, weight_sum, grad):
        """Write the L2 term's gradient ``alpha / weight_sum * w`` into ``grad``
        (zeros for the biases), before the data's gradient is added; return
        the term ``alpha / 2 * ||w||^2 / weight_sum``."""
        n_decay = n_decayed(self.params_, self._decays)
        decayed = self._packed[:n_decay]
        decay = self.alpha / weight_sum  # a Python float: products keep the dtype
        np.multiply(decayed, decay, out=grad[:n_decay])
        grad[n_decay:] = 0
        return 0.5 * self.alpha * float(np.vdot(decayed, decayed)) / weight_sum

    def _full_batch_loss_grad(self, X, target, weight):
        """The loss over all rows of X (with the L2 term) and its gradient at
        the current weights, summed over chunks of 4096 rows in order."""
        weight_sum = float(weight.sum())
        chunk = max(self._predict_batch, 4096)
        grad = np.empty_like(self._packed)
        loss = self._start_gradient(weight_sum, grad)
        workspace = Workspace()
        for lo in range(0, X.shape[0], chunk):
            rows = slice(lo, lo + chunk)
            batch = X[rows].astype(self._packed.dtype, copy=False)
            with workspace.step():
                loss += self._add_gradient(
                    batch, target[rows], weight[rows], weight_sum, grad
                )
        return loss, grad

    # -- full-batch L-BFGS --------------------------------------------------------

    def _fit_lbfgs(self, X, target, weight, root, y, first):
        """Full-batch L-BFGS-B (scipy) on the loss and gradient over all of X,
        summed in fixed chunks of rows; one L-BFGS iteration counts as one
        ``n_iter_`` and one entry of ``loss_curve_``."""
        self._check_lbfgs()
        last = {}  # the latest evaluation, whose loss the callback records
        stopped = []  # a callback asked to stop

        def loss_grad(flat):
            self._packed[...] = flat
            loss, grad = self._full_batch_loss_grad(X, target, weight)
            last.update(x=flat.copy(), loss=loss)
            return loss, grad.astype(np.float64)

        accepted = self._packed.astype(np.float64)
        self.n_iter_ = 0

        def callback(flat):  # after each iteration, at its accepted point
            nonlocal accepted
            start = time.perf_counter()
            epoch = root.subcontext(task_name="epoch")
            epoch.call_on_fit_task_begin(estimator=self, X=X, y=y)
            accepted = flat.copy()
            loss = last["loss"] if np.array_equal(last["x"], flat) else None
            loss = loss_grad(flat)[0] if loss is None else loss
            self._packed[...] = flat
            if self._finish_epoch(epoch, X, y, loss, start):
                stopped.append(self.n_iter_)
                raise StopIteration  # scipy stops at this point

        try:
            result = scipy.optimize.minimize(
                loss_grad, accepted, method="L-BFGS-B", jac=True, callback=callback,
                options={"maxiter": self.max_iter, "maxfun": self.max_fun,
                         "gtol": self.tol},
            )  # fmt: skip
        except KeyboardInterrupt:
            self._stop_interrupted(accepted.astype(self._packed.dtype), False)
            return
        self._packed[...] = result.x
        self.loss_ = float(result.fun)
        self.best_loss_ = min(self.loss_curve_, default=self.loss_)
        if not np.isfinite(self._packed).all():
            self._stop_diverged(accepted, self.loss_, fresh=first and self.n_iter_ == 0)
        elif result.status != 0 and not stopped:
            message = result.message
            message = message.decode() if isinstance(message, bytes) else message
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}): {message}. Increase max_iter "
                f"(={self.max_iter}) or max_fun (={self.max_fun}), or scale X.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _check_lbfgs(self):
        if any(is_random(layer) for layer in self.layers_):
            raise ValueError(
                "solver='lbfgs' needs a deterministic loss: the network has "
                "dropout or augmentation layers. Use solver='adam' or 'sgd'."
            )
        if any(self._state):
            raise ValueError(
                "solver='lbfgs' evaluates the loss over the whole data set in "
                "chunks, which batch statistics (BatchNormalization) would depend "
                "on. Use solver='adam' or 'sgd'."
            )
        if self.ema_decay is not None:
            raise ValueError(
                "ema_decay averages the weights over minibatch steps, which "
                "solver='lbfgs' does not take; use solver='adam' or 'sgd', or "
                "ema_decay=None."
            )
        if self.checkpoint is not None:
            raise ValueError(
                "checkpoint is supported by the stochastic solvers ('adam', "
                "'sgd'), which train in epochs; set checkpoint=None for lbfgs."
            )

    # -- bookkeeping and stops ---------------------------------------------------

    def _record_loss(self, loss):
        if self.best_loss_ is None:  # after a fit with early stopping
            self.best_loss_ = np.inf
        if loss > self.best_loss_ - self.tol:
            self._training.no_improvement_count += 1
        else:
            self._training.no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, loss)

    def _record_validation(self, X, val_index, y_val, w_val):
        correct = self._head.decide(self._forward(X, rows=val_index)) == y_val
        if correct.ndim == 2:  # multilabel: every label right (subset accuracy)
            correct = correct.all(axis=1)
        score = float(np.average(correct, weights=w_val))
        self.validation_scores_.append(score)
        if score < self.best_validation_score_ + self.tol:
            self._training.no_improvement_count += 1
        else:
            self._training.no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._training.best_params = self._copy_params()

    def _report_epoch(self, seconds):
        if not self.verbose:
            return
        line = f"Iteration {self.n_iter_}, loss = {self.loss_curve_[-1]:.8f}"
        if self.validation_scores_:
            line += f", validation score = {self.validation_scores_[-1]:.6f}"
        print(f"{line}, {seconds:.2f} s")

    def _stop_interrupted(self, good, early_stopping):
        kept = "the best validation score" if early_stopping else "the last epoch"
        self._set_params(good)
        warnings.warn(
            f"Training interrupted (KeyboardInterrupt) after {self.n_iter_} "
            f"completed epochs; the model keeps the weights of {kept} and can "
            "predict.",
            RuntimeWarning,
            stacklevel=4,
        )

    def _stop_diverged(self, good, loss, fresh):
        self._set_params(good)
        cause = (
            f"The training loss became {loss} in epoch {self.n_iter_ + 1}: the "
            f"learning rate is probably too large (learning_rate_init="
            f"{self.learning_rate_init}, solver={self.solver!r}); lower it, or "
            "scale X (e.g. StandardScaler or pixels / 255)."
        )
        if fresh:  # nothing worth keeping: back to an unfitted estimator
            state = {"_training", "_packed", "_param_shapes", "_decays", "_state"}
            for name in [k for k in vars(self) if k.endswith("_") or k in state]:
                delattr(self, name)
            raise TrainingDivergedError(cause + " No epoch completed: not fitted.")
        kept = (
            f"of epoch {self.n_iter_} are kept"
            if self.n_iter_
            else "this fit started from are kept"
        )
        warnings.warn(
            cause + f" The weights {kept}.",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _copy_params(self):
        return self._packed.copy()

    def _state_arrays(self) -> list:
        """The layers' state arrays (running statistics), one flat list."""
        return [array for state in self._state for array in state]

    def _set_params(self, values):
        self._packed[...] = values

    def _make_optimizer(self):
        return make_optimizer(self.solver, [self._packed], self.get_params())
