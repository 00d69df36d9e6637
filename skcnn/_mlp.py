"""The multilayer perceptron."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from skcnn._layers import ACTIVATIONS, Activation, Dense
from skcnn._network import (
    BaseNetworkClassifier,
    HiddenFeaturesMixin,
    positive_ints,
)
from skcnn._parameters import training_estimator


@training_estimator(
    {"hidden_layer_sizes": (100,), "activation": "tanh"},
    learning_rate_init=1e-3,
    tol=1e-4,
    n_iter_no_change=10,
)
class MLPClassifier(HiddenFeaturesMixin, BaseNetworkClassifier):
    """Multilayer perceptron: dense layers with a nonlinearity, scikit-learn's MLP.

    A drop-in for scikit-learn's ``MLPClassifier``: the same parameters (plus
    skcnn's), the same fitted attributes, and the same behaviour, checked by
    running scikit-learn's own test suite of its classifier against this class
    (``tests/test_sklearn_mlp_suite.py``). Trained by skcnn's shared engine:
    numba kernels for the activations and the loss, BLAS for the products, in
    X's precision by default (float32 pixels train in float32). Sparse X (CSR
    or CSC) is multiplied as it is. Two classes get one sigmoid output, several
    a softmax; a 0/1 indicator matrix y trains one sigmoid per label
    (multilabel). :meth:`transform` returns the last hidden layer's activations
    (the input itself without hidden layers), so the network can feed another
    estimator in a Pipeline.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(100,)
        Units of each hidden layer; ``()`` is a linear softmax classifier.
    activation : {'tanh', 'relu', 'logistic', 'sigmoid', 'identity'}, \
            default='tanh'
        Nonlinearity after each hidden layer ('sigmoid' is 'logistic';
        'identity' makes a linear bottleneck).
    <training parameters>

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrix of each dense layer, shape ``(n_in, n_out)``. Assignable,
        as in scikit-learn: assign ``coefs_`` and ``intercepts_`` (whole lists,
        or item by item) to load weights into a fitted model, or into an
        unfitted one before ``partial_fit`` or a warm-started ``fit``; their
        shapes are checked against the network.
    intercepts_ : list of ndarray
        Bias vector of each dense layer.
    n_layers_ : int
        Number of layers: input, hidden layers and output.
    <trained attributes>

    See Also
    --------
    sklearn.neural_network.MLPClassifier : scikit-learn's version.
    LinearSoftmaxClassifier : no hidden layer.

    Examples
    --------
    >>> from skcnn import MLPClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(50,), random_state=0)
    >>> clf = clf.fit(X[:1500], y[:1500])
    >>> [w.shape for w in clf.coefs_]
    [(64, 50), (50, 10)]
    >>> print(f"{clf.score(X[1500:], y[1500:]):.2f}")
    0.92
    """

    _binary_output = "logistic"  # one sigmoid output, as scikit-learn's

    _parameter_constraints: dict = {
        **BaseNetworkClassifier._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
    }

    def _build_layers(self, in_shape, n_classes):
        sizes = positive_ints("hidden_layer_sizes", self.hidden_layer_sizes)
        gain = 2.0 if self.activation in {"logistic", "sigmoid"} else 6.0
        layers = []
        for units in sizes:
            layers += [Dense(units, init_gain=gain), Activation(self.activation)]
        return [*layers, Dense(n_classes, init_gain=gain)]

    # The weights live in scikit-learn's attributes, coefs_ and intercepts_:
    # lists a user may assign (or fill item by item) to load weights; the
    # training loop and inference read them through params_.
    @property
    def params_(self):
        pairs = [[c, b] for c, b in zip(self.coefs_, self.intercepts_, strict=True)]
        return [item for pair in pairs for item in (pair, [])][:-1]

    @params_.setter
    def params_(self, params):
        self.coefs_ = [arrays[0] for arrays in params if arrays]
        self.intercepts_ = [arrays[1] for arrays in params if arrays]

    def _initialize(self, *args, **kwargs):
        super()._initialize(*args, **kwargs)
        self.n_layers_ = len(self.coefs_) + 1

    def _layer_label(self, index: int) -> str:
        return f"coefs_[{index // 2}] and intercepts_[{index // 2}]"
