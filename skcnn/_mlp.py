"""The multilayer perceptron."""

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from skcnn._layers import ACTIVATIONS, Activation, Dense
from skcnn._network import (
    BaseNetworkClassifier,
    HiddenFeaturesMixin,
    document_training,
    positive_ints,
)


@document_training(lr="1e-3", max_iter="200", tol="1e-4", n_iter_no_change="10")
class MLPClassifier(HiddenFeaturesMixin, BaseNetworkClassifier):
    """Multilayer perceptron: dense layers with a nonlinearity, softmax output.

    The same parameters as scikit-learn's ``MLPClassifier`` where they apply,
    trained by skcnn's shared engine (float32 by default, numba kernels for the
    activations and the loss, BLAS for the products). :meth:`transform` returns
    the last hidden layer's activations (the input itself without hidden
    layers), so the network can feed another estimator in a Pipeline.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of each hidden layer; ``()`` is a linear softmax classifier.
    activation : {'tanh', 'relu', 'logistic', 'sigmoid'}, default='tanh'
        Nonlinearity after each hidden layer ('sigmoid' is 'logistic').
    <training parameters>

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrix of each dense layer, shape ``(n_in, n_out)``.
    intercepts_ : list of ndarray
        Bias vector of each dense layer.
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

    _parameter_constraints: dict = {
        **BaseNetworkClassifier._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="tanh",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        class_weight=None,
        dtype="float32",
        n_jobs=None,
        image_shape=None,
        checkpoint=None,
    ):
        super().__init__(
            solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            class_weight=class_weight, dtype=dtype, n_jobs=n_jobs,
            image_shape=image_shape,
            checkpoint=checkpoint,
        )  # fmt: skip
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation

    def _build_layers(self, in_shape, n_classes):
        sizes = positive_ints("hidden_layer_sizes", self.hidden_layer_sizes)
        gain = 2.0 if self.activation in {"logistic", "sigmoid"} else 6.0
        layers = []
        for units in sizes:
            layers += [Dense(units, init_gain=gain), Activation(self.activation)]
        return [*layers, Dense(n_classes, init_gain=gain)]

    @property
    def coefs_(self):
        return [params[0] for params in self.params_ if params]

    @property
    def intercepts_(self):
        return [params[1] for params in self.params_ if params]
