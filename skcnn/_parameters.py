"""The parameters the estimators share: constraints, defaults, docs, constructor.

Every trained estimator takes its own parameters and then the 26 of the
training engine (:data:`TRAINING_DEFAULTS`), keyword-only. Rather than write
that constructor out in each class, :func:`training_estimator` generates it,
as :mod:`dataclasses` does, with an explicit signature (which scikit-learn's
``get_params`` reads) whose body stores each argument as given; it also fills
the shared parameter and attribute sections of the class docstring with the
class's own defaults.
"""

from numbers import Integral
from string import Template

from sklearn.utils._param_validation import Interval

N_JOBS_CONSTRAINT = [
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
    None,
]
"""The ``n_jobs`` parameter constraint of every estimator (0 is refused): the
numba threads :func:`skcnn._kernels._jit.resolve_n_threads` gives them."""


TRAINING_DEFAULTS = {
    "solver": "adam",
    "alpha": 1e-4,
    "batch_size": "auto",
    "learning_rate": "constant",
    "learning_rate_init": 0.01,
    "power_t": 0.5,
    "warmup_fraction": 0.1,
    "max_iter": 200,
    "shuffle": True,
    "random_state": None,
    "tol": 1e-3,
    "verbose": 0,
    "warm_start": False,
    "momentum": 0.9,
    "nesterovs_momentum": True,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
    "n_iter_no_change": 2,
    "max_fun": 15000,
    "class_weight": None,
    "label_smoothing": 0.0,
    "ema_decay": None,
    "dtype": None,
    "n_jobs": None,
    "image_shape": None,
    "checkpoint": None,
}
"""The training engine's parameters, in their order, with the defaults of
LinearSoftmaxClassifier (the one estimator that adds none): a convex model
takes a larger step and stops sooner than a network."""


def _constructor(cls, own: dict, training: dict):
    """``__init__(self, <own>, *, <training>)`` storing every argument as given."""
    names = [*own, *training]
    defaults = {
        f"_default_{i}": value
        for i, value in enumerate([*own.values(), *training.values()])
    }
    signature = [f"{name}=_default_{i}" for i, name in enumerate(names)]
    signature.insert(len(own), "*")
    body = "".join(f"    self.{name} = {name}\n" for name in names)
    source = f"def __init__(self, {', '.join(signature)}):\n{body}"
    namespace = dict(defaults)
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = f"Store every parameter of {cls.__name__} as given."
    return init


def training_estimator(own: dict | None = None, **defaults):
    """Class decorator: the constructor and the shared docstring sections.

    Parameters
    ----------
    own : dict, default=None
        The class's own parameters, name -> default, in order (positional or
        keyword), before the training parameters (keyword-only).
    **defaults
        Training parameters whose default differs from
        :data:`TRAINING_DEFAULTS` for this class.

    The docstring's ``    <training parameters>`` and ``    <trained
    attributes>`` lines are replaced by the shared sections, their defaults
    the class's.
    """
    unknown = set(defaults) - set(TRAINING_DEFAULTS)
    if unknown:
        raise TypeError(f"not training parameters: {sorted(unknown)}")
    training = {**TRAINING_DEFAULTS, **defaults}

    def decorate(cls):
        cls.__init__ = _constructor(cls, dict(own or {}), training)
        if cls.__doc__:
            filled = Template(TRAINING_DOCS).substitute(
                {name: repr(value) for name, value in training.items()}
            )
            cls.__doc__ = cls.__doc__.replace(
                "    <training parameters>", filled
            ).replace("    <trained attributes>", TRAINED_ATTRIBUTES)
        return cls

    return decorate


TRAINING_DOCS = """\
    solver : {'adam', 'sgd', 'lbfgs'}, default='adam'
        'adam': Kingma and Ba's Adam; 'sgd': stochastic gradient descent with
        momentum; 'lbfgs': scipy's L-BFGS-B on the loss and gradient of the
        whole training set (computed by the same layers, in chunks of rows),
        often the best choice for small data sets, as in scikit-learn. lbfgs
        has no minibatches, learning rate, early stopping, checkpoints or
        ``partial_fit``, and refuses networks with dropout or augmentation.
    alpha : float, default=1e-4
        Strength of the L2 penalty ``alpha / 2 * sum(w**2) / batch_weight`` on
        the weights (not the biases), ``batch_weight`` being the minibatch's sum
        of sample weights (its size without weights), as in scikit-learn's MLP.
    batch_size : int or 'auto', default=${batch_size}
        Minibatch size; 'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'warmup_linear', \
            'warmup_cosine'}, default='constant'
        Schedule of the base learning rate, for both solvers (scikit-learn's MLP
        applies it to 'sgd' only). 'invscaling': ``learning_rate_init / (t + 1)
        ** power_t`` with t the number of samples seen; 'adaptive': divide by 5
        each time the loss (or validation score) stops improving, stop below
        1e-6. Set by minibatch step: 'warmup_linear' rises linearly from 0 to
        ``learning_rate_init`` over the first ``warmup_fraction`` of the
        ``max_iter`` epochs' steps, then falls linearly to 0 at the last one
        (the one-cycle shape); 'warmup_cosine' falls along a half cosine.
    learning_rate_init : float, default=${learning_rate_init}
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    warmup_fraction : float, default=0.1
        Share of the steps that 'warmup_linear' and 'warmup_cosine' spend
        warming up, in [0, 1) (airbench's CIFAR-10 records warm up over about
        0.23).
    max_iter : int, default=${max_iter}
        Maximum number of epochs (of L-BFGS iterations for 'lbfgs') of each
        ``fit``, a warm-started one included.
    shuffle : bool, default=True
        Shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split. The
        same seed on the same data gives the same weights, bit for bit, for any
        number of numba threads.
    tol : float, default=${tol}
        Minimum improvement of the training loss (or validation score) that
        counts as progress; for 'lbfgs', scipy's ``gtol`` (the largest
        gradient component at which it stops).
    verbose : int, default=0
        0 silent; 1 one line per epoch (loss, validation score, seconds); 2 adds
        a progress bar over the minibatches.
    warm_start : bool, default=False
        Continue from the previous weights *and optimizer state* (Adam's moments,
        SGD's velocities) on the next ``fit``, which runs up to ``max_iter`` more
        epochs (``n_iter_`` counts them; ``loss_curve_`` and ``t_`` go on) and
        needs the same classes. Weights assigned to an unfitted estimator (see
        the weight attributes) are trained on from by a warm-started ``fit`` or
        by ``partial_fit``.
    momentum : float, default=0.9
        Momentum of 'sgd'.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for 'sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), stop when its
        accuracy stops improving, and restore the best weights.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or np.inf, default=${n_iter_no_change}
        Epochs without improvement larger than ``tol`` before stopping (or, with
        'adaptive', before lowering the learning rate); ``np.inf`` never stops
        early.
    max_fun : int, default=15000
        'lbfgs' only: the most loss-and-gradient evaluations of a ``fit``.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss; 'balanced' uses
        ``n_samples / (n_classes * count)``. Multiplies ``sample_weight``. Not
        for multilabel y.
    label_smoothing : float, default=0.0
        Label smoothing eps in [0, 1): the loss's target puts 1 - eps on the
        true class and spreads eps over all classes (each sigmoid's 0/1 target
        moves eps / 2 towards the other); 0.1-0.2 in recent small-CNN records.
    ema_decay : float or None, default=None
        Predict with an exponential moving average of the weights (Polyak
        averaging, as ``timm``'s ``ModelEma`` and Keras' ``use_ema``): after
        each minibatch step ``average = d * average + (1 - d) * weights``, with
        ``d = min(ema_decay, (1 + steps) / (10 + steps))`` so that the first
        steps do not hold on to the initial weights; e.g. 0.999. Early
        stopping scores the average. Once a fit (or ``partial_fit``) returns,
        ``params_`` (and predict, ONNX, saved files) hold the average; the
        trained weights are kept aside, and the next ``partial_fit`` or
        warm-started fit trains on from them. Normalisation statistics are
        running averages already and are not averaged again. None trains and
        predicts with the weights themselves. Not for 'lbfgs'.
    dtype : {'float32', 'float64'} or None, default=${dtype}
        Precision of the weights, gradients and activations. None follows the
        training X, as scikit-learn's MLP does: float64 X trains float64
        weights, float32 X (and uint8 pixels) float32 weights, at about twice
        the speed. Later input is cast to the fitted precision.
    n_jobs : int, default=None
        Number of numba threads for the kernels; None keeps numba's setting.
    image_shape : tuple of int, default=None
        ``(height, width[, channels])`` of flat input rows; None infers it
        (square gray, square RGB, else one row).
    checkpoint : str or path-like, default=None
        A folder for training checkpoints (as Keras' ``BackupAndRestore``).
        After each epoch of ``fit`` the whole training state (weights,
        optimizer moments, random generators, epoch counter, curves, early
        stopping and schedule state) is written there atomically, keeping the
        previous generation until the new one is complete. A ``fit`` that finds
        a checkpoint there resumes after its epoch and ends with the weights an
        uninterrupted fit would have (same ``random_state``, an int or None);
        a fit that completes removes its checkpoints. A damaged checkpoint
        falls back to the previous generation; one written by another
        estimator, other hyperparameters or other data is refused with a
        ``CheckpointError`` saying what differs (so give each model of a search
        its own folder, or none). Checkpoints are ``.npz`` files read without
        pickle. ``partial_fit`` neither reads nor writes them."""

TRAINED_ATTRIBUTES = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels (for a multilabel y, its column indices).
    layers_ : list of layers
        The network, first layer first (see :meth:`summary`).
    params_ : list of lists of ndarray
        Each layer's parameters (weights then biases).
    layer_names_ : list of str
        A short name for each of ``layers_`` (``C1``, ``conv2``, ...; empty
        where the model names none), as :meth:`summary` and the displays show
        them.
    states_ : list of lists of ndarray
        Each layer's state that is not trained (see
        :meth:`skcnn.layers.Layer.init_state`; empty for most layers).
    compute_dtype_ : numpy.dtype
        The dtype the network computes in: its weights', from the ``dtype``
        parameter or X's at the first fit.
    loss_curve_ : list of float
        Mean training loss of each epoch or L-BFGS iteration (with the L2
        penalty), across warm-started fits.
    best_loss_ : float or None
        Smallest training loss (None with early stopping).
    validation_scores_ : list of float or None
        Validation accuracy after each epoch (None without early stopping).
    best_validation_score_ : float or None
        Best validation accuracy (None without early stopping).
    n_iter_ : int
        Epochs (L-BFGS iterations) of the last ``fit``; each ``partial_fit``
        call adds one.
    loss_ : float
        Training loss of the last epoch (of the solution, for 'lbfgs').
    out_activation_ : {'softmax', 'logistic'}
        The output: a softmax over the classes, or independent sigmoids (a
        multilabel y, or the one output of a two-class MLP).
    n_outputs_ : int
        Units of the output layer.
    t_ : int
        Number of training samples seen (the optimizer's time step).
    image_shape_ : tuple of (height, width, channels)
        Geometry of one image.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names."""
