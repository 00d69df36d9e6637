"""The base of every trained estimator: its parameters, ``fit``, ``partial_fit``.

An estimator that trains is a declaration: its ``_build_layers`` returns a list of
layers (see :mod:`skcnn._layers`) and :func:`~skcnn._parameters.training_estimator`
gives it the shared constructor. :class:`BaseNetworkClassifier` is assembled
from rooms that each hold one thing:

- here: the parameters and their validation, ``fit``/``partial_fit`` (checks,
  the first fit's network and weights), pickling across layouts;
- :mod:`skcnn._training`: the training loop (minibatch epochs and L-BFGS,
  early stopping, divergence, Ctrl-C, checkpoints) and its ``TrainingState``;
- :mod:`skcnn._inference`: predictions, probabilities, the summary;
- :mod:`skcnn._heads` (loss and probabilities of the output), :mod:`skcnn._targets`
  (y and the weights), :mod:`skcnn._buffer` (the flat weights),
  :mod:`skcnn._optim` (the optimizers by name).

See the documentation's architecture page for how a fit flows through them.
"""

import copy
import inspect
import os
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if

from skcnn._buffer import decay_flags, pack
from skcnn._callbacks import CallbackSupportMixin
from skcnn._heads import head_for_targets
from skcnn._images import check_compute_range, validate_images
from skcnn._inference import INPUT_DTYPES, NetworkInference
from skcnn._kernels._jit import parallel_section
from skcnn._layers import is_random, walk_shapes
from skcnn._optim import LR_SCHEDULES, OPTIMIZERS
from skcnn._parameters import N_JOBS_CONSTRAINT, training_estimator
from skcnn._targets import check_targets, encode_targets, fitted_classes, row_weights
from skcnn._training import TrainingLoop, TrainingState

_STOCHASTIC_SOLVERS = sorted(OPTIMIZERS)


def positive_ints(name: str, value) -> list:
    """``value`` (an int or a sequence of ints) as a list, or a ValueError."""
    values = [value] if isinstance(value, Integral) else list(value)
    if any(isinstance(v, bool) or not isinstance(v, Integral) or v < 1 for v in values):
        raise ValueError(f"{name} must hold positive integers; got {value!r}.")
    return values


def _training_state_of_old_files(attributes: dict) -> TrainingState:
    """The TrainingState of an estimator pickled before it had one: its
    generators, optimizer and stopping counter were attributes of their own
    (files from before dropout and augmentation had no layer generator)."""
    training = TrainingState(
        attributes.pop("_random_state", None), attributes.pop("_layer_rng", None)
    )
    training.optimizer = attributes.pop("_optimizer", None)
    training.no_improvement_count = attributes.pop("_no_improvement_count", 0)
    return training


@training_estimator()
class BaseNetworkClassifier(
    NetworkInference, TrainingLoop, CallbackSupportMixin, ClassifierMixin, BaseEstimator
):
    """Base class of the trained classifiers: parameters, fit, partial_fit.

    Subclasses declare their own parameters with ``@training_estimator`` and
    define ``_build_layers(in_shape, n_classes)``. Not for direct use.
    """

    _predict_batch = 4096
    """Rows per forward pass at inference: bounds the memory of ``predict``."""

    _lanes = 1
    """Inference pads each forward pass to a multiple of this many rows, so that
    every sample takes the same vectorised code path wherever it sits."""

    _accept_sparse = ("csr", "csc")
    """Sparse X the first layer takes (dense layers multiply it as it is)."""

    _binary_output = "softmax"
    """Output of a two-class model: 'softmax' (two logits) or 'logistic' (one
    sigmoid output, as scikit-learn's MLP)."""

    _parameter_constraints: dict = {
        "solver": [StrOptions({*OPTIMIZERS, "lbfgs"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions(set(LR_SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "warmup_fraction": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="neither"), None],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "n_jobs": N_JOBS_CONSTRAINT,
        "image_shape": [tuple, None],
        "checkpoint": [str, os.PathLike, None],
    }

    # -- the public API ---------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for up to ``max_iter`` epochs (L-BFGS iterations).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                array-like of shape (n_samples, H, W[, C])
            Training images, flat or as an image array (sparse CSR/CSC rows
            where the first layer is dense).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multilabel
            classification (one sigmoid output per label).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss; integer weights act as repeated
            rows would in the loss (not in the order of the minibatches).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for the stochastic solvers "
                f"{_STOCHASTIC_SOLVERS}; solver={self.solver!r} is not stochastic."
            )
        return True

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on (X, y), continuing from the current weights.

        Only with the stochastic solvers ('adam', 'sgd'), and without early
        stopping (a ``ValueError`` says so).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                array-like of shape (n_samples, H, W[, C])
            Training images.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multilabel indicator matrix.
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear (for multilabel y, the label
            columns ``0 .. n_labels - 1``); required on the first call,
            ignored (but checked) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    @property
    def _optimizer(self):
        training = self.__dict__.get("_training")
        if training is None or training.optimizer is None:
            raise AttributeError(f"{type(self).__name__} has no optimizer yet.")
        return training.optimizer

    @property
    def _no_improvement_count(self):
        if "_training" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} is not fitted.")
        return self._training.no_improvement_count

    @_no_improvement_count.setter
    def _no_improvement_count(self, value):  # its tests set it before fitting
        if "_training" in self.__dict__:
            self._training.no_improvement_count = value

    def _fit_input(self, X):
        """Learn what the layers need from the first training set (nothing here)."""

    def _layer_names(self) -> list:
        """Short names of the layers for :meth:`summary` (empty by default)."""
        return [""] * len(self.layers_)

    def _layer_label(self, index: int) -> str:
        """How an error message names layer ``index`` of the built network."""
        return f"layer {index}"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.sparse = bool(self._accept_sparse)
        tags.classifier_tags.multi_label = True
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object's may be __dict__
        # optimizer state only serves to continue training: a warm-started fit,
        # or the next partial_fit (dask-ml's Incremental moves the estimator
        # between worker processes from one partial_fit call to the next)
        training = state.get("_training")
        keep = self.warm_start or state.get("_partial_fitted", False)
        if training is not None and training.optimizer is not None and not keep:
            state["_training"] = training = copy.copy(training)
            training.optimizer = None
            # ema_decay's trained weights: for training on only
            training.trained = training.trained_states = None
            training.trained_digest = None
        # the weights are views of one flat buffer: pickle them once, as arrays
        state.pop("_packed", None)
        state.pop("_param_shapes", None)
        state.pop("_decays", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        # files from before the MLP's and the linear model's weights became
        # coefs_/intercepts_ and coef_/intercept_ hold them as params_
        params = state.pop("params_", None)
        super().__setstate__(state)
        # files from before a parameter existed: it takes its default
        for name, parameter in inspect.signature(type(self)).parameters.items():
            self.__dict__.setdefault(name, parameter.default)
        if params is not None:
            self.params_ = params
        if "layers_" in state:
            self._set_packed(self.params_)
            # files from before multilabel y and sigmoid outputs always a softmax
            self.__dict__.setdefault("out_activation_", "softmax")
            self.__dict__.setdefault("n_outputs_", len(self.classes_))
            # files from before layers had state that is not trained
            self.__dict__.setdefault("_state", [[] for _ in self.layers_])
            if "_training" not in state:  # files from before the TrainingState
                self._training = _training_state_of_old_files(self.__dict__)

    # -- fit: checks, the first fit's network, then the loop -----------------

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        continuing = incremental or self.warm_start
        first = not continuing or not hasattr(self, "layers_")
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: there is no "
                "held-out set to stop on. Use fit, or set early_stopping=False."
            )
        # uint8 and float32 stay as given (a memory-mapped X is not read whole):
        # each minibatch or chunk is converted to the compute dtype when used
        X, y = validate_images(
            self, X, y, reset=first, dtype=INPUT_DTYPES, multi_output=True,
            accept_sparse=self._accept_sparse,
        )  # fmt: skip
        if sparse.issparse(X):
            X = X.tocsr()  # minibatches are row slices
        y = check_targets(y)
        check_compute_range(X, self._resolve_dtype(X, first))
        if first:
            if incremental and classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit."
                )
            self._initialize(X, y, classes if incremental else None, continuing)
        else:
            self._adopt_assigned_params()
        target = encode_targets(
            y, self.classes_, self._head, classes=classes, first=first,
            warm_fit=self.warm_start and not incremental and not first,
        )  # fmt: skip
        weight = row_weights(
            target, sample_weight, X, self.classes_, self.class_weight, self._head
        )
        run = self._checkpoint_run(X, target, weight, incremental, first)
        if self.solver in _STOCHASTIC_SOLVERS and self._training.optimizer is None:
            self._training.optimizer = self._make_optimizer()
        self._partial_fitted = incremental  # pickles then keep the optimizer
        with self._training_threads():
            root = self._init_callback_context(
                task_name="partial_fit" if incremental else "fit",
                max_subtasks=1 if incremental else self.max_iter,
            )
            root.call_on_fit_task_begin(estimator=self, X=X, y=y)
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, target, weight, root, y, first)
            else:
                self._fit_loop(X, target, weight, incremental, root, y, run, first)
            root.call_on_fit_task_end(
                estimator=self, X=X, y=y, reconstruction_attributes={}
            )
        return self

    def _resolve_dtype(self, X, first):
        """The compute dtype: the fitted one, the ``dtype`` parameter, or X's
        (float64 stays float64; float32 and uint8 compute in float32)."""
        if not first:
            return self._packed.dtype
        if self.dtype is not None:
            return np.dtype(self.dtype)
        return np.dtype(np.float64 if X.dtype == np.float64 else np.float32)

    def _training_threads(self):
        """Thread policy of the training loop, as a context manager.

        Dense nets spend their time in BLAS products, which use every core;
        numba's OpenMP threads would spin-wait against BLAS's between kernels, so
        the elementwise kernels run on the calling thread.
        """
        return parallel_section(1)

    def _initialize(self, X, y, classes, keep_assigned=False):
        """Build the network for this X and y: classes, output, layers, weights.

        With ``keep_assigned`` (``partial_fit`` or ``warm_start``), weights
        the user assigned to the unfitted estimator are kept, once checked
        against the network's shapes.
        """
        self.classes_ = fitted_classes(y, classes)
        head = head_for_targets(y, len(self.classes_), self._binary_output)
        self.out_activation_, self.n_outputs_ = head.name, head.n_outputs
        random_state = check_random_state(self.random_state)
        self._fit_input(X)
        layers = self._build_layers(self.image_shape_, self.n_outputs_)
        shapes = walk_shapes(layers, (X.shape[1],), self._layer_label)
        dtype = self._resolve_dtype(X, first=True)
        params = [
            layer.init_params(shape, random_state, dtype)
            for layer, shape in zip(layers, shapes, strict=False)
        ]
        self._state = [
            layer.init_state(shape, dtype)
            for layer, shape in zip(layers, shapes, strict=False)
        ]
        self.layers_ = layers
        self._param_shapes = [[p.shape for p in arrays] for arrays in params]
        assigned = keep_assigned and self._has_assigned_params()
        self._set_packed(self._checked_params(dtype) if assigned else params)
        # dropout and augmentation draw from their own generator, seeded from
        # random_state only when the network has such a layer
        layer_rng = (
            np.random.default_rng(random_state.randint(2**31))
            if any(is_random(layer) for layer in layers)
            else None
        )
        self._training = TrainingState(random_state, layer_rng)
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None

    def _has_assigned_params(self) -> bool:
        return hasattr(self, "params_")  # MLP and linear: their own attributes

    def _adopt_assigned_params(self):
        """Weights a user assigned since the last training call join the
        training buffer, checked; otherwise nothing is copied."""
        if any(p.base is not self._packed for arrays in self.params_ for p in arrays):
            self._set_packed(self._checked_params())

    def _set_packed(self, params):
        """Copy ``params`` into one flat buffer; ``params_`` become its views."""
        self._param_shapes = [[np.shape(p) for p in arrays] for arrays in params]
        self._decays = decay_flags(self.layers_, params)
        self._packed, self.params_ = pack(params, self._decays)

    def _checked_params(self, dtype=None):
        """``params_`` checked against the network's shapes, in the compute dtype
        (C-contiguous; the training buffer's views are returned as they are)."""
        dtype = self._packed.dtype if dtype is None else dtype
        params = self.params_
        if len(params) != len(self._param_shapes):
            raise ValueError(
                f"The network has {len(self._param_shapes)} layers; the assigned "
                f"weights describe {len(params)}."
            )
        checked = []
        for index, (arrays, shapes) in enumerate(
            zip(params, self._param_shapes, strict=True)
        ):
            got = [np.shape(a) for a in arrays]
            if got != shapes:
                raise ValueError(
                    f"{self._layer_label(index)} ({self.layers_[index]!r}) needs "
                    f"parameters of shapes {shapes}; the assigned weights have "
                    f"shapes {got}."
                )
            checked.append([np.ascontiguousarray(a, dtype=dtype) for a in arrays])
        return checked

    # -- parameters and inference -----------------------------------------------

    def _reconstruction_attributes(self):
        """What a copy needs to predict as this model does now (for callbacks)."""
        return {
            "params_": [[p.copy() for p in params] for params in self.params_],
            "n_iter_": self.n_iter_,
        }


class HiddenFeaturesMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """``transform``: the activations of the last hidden layer, as features.

    For a network whose last layer is the dense output layer; subclasses say
    how many features that gives in ``_n_features_out``. The features are in the
    estimator's ``dtype``, which the transformer tags declare.
    """

    @property
    def _n_features_out(self):
        return self.params_[-1][0].shape[0]  # the output layer's inputs

    def transform(self, X):
        """The activations of the last hidden layer, as features for another model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or image array
            Images.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            In the fitted compute dtype (see ``dtype``); one column per
            unit of the last hidden layer, named by ``get_feature_names_out``.
        """
        return self._logits(X, n_layers=-1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"]
            if self.dtype is None
            else [np.dtype(self.dtype).name]
        )
        return tags
