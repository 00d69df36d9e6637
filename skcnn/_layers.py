"""Layers as stateless descriptions: shapes, parameters, forward and backward.

A layer holds only its hyperparameters. Its weights are plain arrays owned by
the estimator and passed in, so ``predict`` writes nowhere and a fitted model
pickles as arrays. Each layer has:

- ``output_shape(in_shape)``: the shape of one sample's output;
- ``n_params(in_shape)``: the number of trainable values;
- ``init_params(in_shape, rng, dtype)``: a list of new parameter arrays;
- ``forward(x, params, training)``: ``(out, cache)``;
- ``backward(dout, cache, params, need_dx)``: ``(dx, grads)`` with ``grads``
  in the order of ``params`` (``dx`` is None when ``need_dx`` is False).

Shapes exclude the batch axis: a dense layer maps ``(n_in,)`` to ``(units,)``.
"""

from math import prod, sqrt

import numpy as np

from skcnn._kernels._dense import (
    dense_rows,
    logistic_backward,
    relu_backward,
    tanh_backward,
)


def _tanh(x):
    np.tanh(x, out=x)


def _relu(x):
    np.maximum(x, 0, out=x)


def _logistic(x):
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    np.reciprocal(x, out=x)


ACTIVATIONS = {
    "tanh": (_tanh, tanh_backward),
    "relu": (_relu, relu_backward),
    "logistic": (_logistic, logistic_backward),
    "sigmoid": (_logistic, logistic_backward),
}
"""Activation name -> (in-place forward with numpy's SIMD ufuncs, in-place
backward kernel working from the forward's output)."""


class Dense:
    """Fully connected layer ``out = x @ weight + bias`` on flat samples.

    Parameters
    ----------
    units : int
        Number of outputs.
    init_gain : float, default=6.0
        Glorot's factor: weights and biases are drawn uniformly in
        ``±sqrt(init_gain / (n_in + units))`` (scikit-learn uses 2 before a
        logistic activation).
    """

    def __init__(self, units: int, init_gain: float = 6.0):
        self.units = units
        self.init_gain = init_gain

    def __repr__(self) -> str:
        return f"Dense({self.units})"

    def output_shape(self, in_shape: tuple) -> tuple:
        return (self.units,)

    def n_params(self, in_shape: tuple) -> int:
        return (prod(in_shape) + 1) * self.units

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        n_in = prod(in_shape)
        bound = sqrt(self.init_gain / (n_in + self.units))
        weight = rng.uniform(-bound, bound, (n_in, self.units)).astype(dtype)
        bias = rng.uniform(-bound, bound, self.units).astype(dtype)
        return [weight, bias]

    def forward(self, x, params, training=True):
        weight, bias = params
        x2 = x.reshape(len(x), -1)
        if training:  # BLAS on the whole batch
            out = x2 @ weight
            out += bias
        else:  # row-independent arithmetic for inference
            out = np.empty((len(x2), self.units), dtype=weight.dtype)
            dense_rows(x2, weight, bias, out)
        return out, x

    def backward(self, dout, cache, params, need_dx=True):
        weight, _ = params
        x = cache
        x2 = x.reshape(len(x), -1)
        grads = [x2.T @ dout, dout.sum(axis=0)]
        dx = (dout @ weight.T).reshape(x.shape) if need_dx else None
        return dx, grads


class Activation:
    """Elementwise nonlinearity, applied in place.

    Parameters
    ----------
    name : {'tanh', 'relu', 'logistic', 'sigmoid'}
        The function ('sigmoid' is another name for 'logistic').
    """

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    def output_shape(self, in_shape: tuple) -> tuple:
        return in_shape

    def n_params(self, in_shape: tuple) -> int:
        return 0

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        return []

    def forward(self, x, params, training=True):
        ACTIVATIONS[self.name][0](x)
        return x, x

    def backward(self, dout, cache, params, need_dx=True):
        ACTIVATIONS[self.name][1](dout, cache)
        return dout, []
