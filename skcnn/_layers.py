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
Dense layers take ``(n_samples, n_features)`` rows; convolution and pooling take
batch-last feature maps ``(channels, height, width, n_samples)``, whose shape is
``(channels, height, width)``. :class:`ImageInput` turns image rows into maps,
:class:`Flatten` maps back into rows.
"""

from math import prod, sqrt

import numpy as np

from skcnn._kernels._conv import (
    conv_backward_input,
    conv_backward_weight,
    conv_forward,
    images_to_maps,
)
from skcnn._kernels._dense import (
    dense_rows,
    logistic_backward,
    relu_backward,
    tanh_backward,
)
from skcnn._kernels._pool import pool_backward, pool_forward


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


def output_size(layer, n: int, size: int, stride: int, padding: int) -> int:
    """``(n - size + 2 * padding) / stride + 1``, or a ValueError showing why not.

    Parameters
    ----------
    layer : object
        The layer (or its name), named in the message; formatted only on error,
        since every forward pass computes its output size.
    n, size, stride, padding : int
        Input size, window size, step and zero padding along one axis.

    Returns
    -------
    size : int
        The output size along that axis.
    """
    span = n - size + 2 * padding
    if span >= 0 and span % stride == 0:
        return span // stride + 1
    formula = f"({n} - {size} + 2*{padding}) / {stride} + 1 = {span / stride + 1:g}"
    if span < 0:
        raise ValueError(
            f"{layer}: a window of {size} does not fit an input of {n} with "
            f"padding {padding}: {formula} < 1."
        )
    raise ValueError(
        f"{layer}: the output size {formula} is not a whole number; change the "
        "stride, the padding or the input size."
    )


class ImageInput:
    """Image rows in, zero-padded, standardised batch-last feature maps out.

    Each image is centred in the field, zero-padded, then every value ``v`` of
    the field becomes ``(v - offset) * scale``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width, channels)`` of the images, as rows of
        ``height * width * channels`` values (channels last).
    field : tuple of int
        ``(height, width)`` of the maps; an odd margin puts the extra row or
        column at the bottom or right.
    offset : float, default=0.0
        Subtracted from every value.
    scale : float, default=1.0
        Multiplies every value after the offset.
    """

    def __init__(self, image_shape: tuple, field: tuple, offset=0.0, scale=1.0):
        self.image_shape = tuple(image_shape)
        self.field = tuple(field)
        self.offset = offset
        self.scale = scale

    def __repr__(self) -> str:
        return f"ImageInput(image_shape={self.image_shape}, field={self.field})"

    def output_shape(self, in_shape: tuple) -> tuple:
        height, width, channels = self.image_shape
        if height > self.field[0] or width > self.field[1]:
            raise ValueError(
                f"Images of {height}x{width} do not fit the input field "
                f"{self.field[0]}x{self.field[1]}."
            )
        return (channels, *self.field)

    def n_params(self, in_shape: tuple) -> int:
        return 0

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        return []

    def _window(self):
        height, width, _ = self.image_shape
        top, left = (self.field[0] - height) // 2, (self.field[1] - width) // 2
        return slice(top, top + height), slice(left, left + width)

    def forward(self, x, params, training=True):
        height, width, channels = self.image_shape
        x = np.ascontiguousarray(x.reshape(len(x), -1))
        out = np.empty((channels, *self.field, len(x)), x.dtype)
        cast = x.dtype.type
        images_to_maps(x, height, width, cast(self.offset), cast(self.scale), out)
        return out, None

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        rows, cols = self._window()
        dx = np.ascontiguousarray(dout[:, rows, cols].transpose(3, 1, 2, 0))
        return dx.reshape(dout.shape[-1], -1) * self.scale, []


class Conv2D:
    """2-D convolution (cross-correlation, as deep-learning frameworks compute it).

    Each of ``n_filters`` filters spans all input channels; the output size
    along each axis is ``(n - size + 2 * padding) / stride + 1``.

    Parameters
    ----------
    n_filters : int
        Number of filters (output channels).
    size : int
        Height and width of each filter.
    stride : int, default=1
        Step between windows.
    padding : int, default=0
        Zeros added on every side of the input.
    init_gain : float, default=6.0
        Glorot's factor: weights and biases uniform in ``±sqrt(init_gain /
        (fan_in + fan_out))``, with ``fan_in = channels * size**2`` and
        ``fan_out = n_filters * size**2``.
    """

    def __init__(self, n_filters, size, stride=1, padding=0, init_gain=6.0):
        self.n_filters = n_filters
        self.size = size
        self.stride = stride
        self.padding = padding
        self.init_gain = init_gain

    def __repr__(self) -> str:
        return (
            f"Conv2D({self.n_filters}, size={self.size}, stride={self.stride}, "
            f"padding={self.padding})"
        )

    def output_shape(self, in_shape: tuple) -> tuple:
        _, height, width = in_shape
        geometry = self.size, self.stride, self.padding
        return (
            self.n_filters,
            output_size(self, height, *geometry),
            output_size(self, width, *geometry),
        )

    def n_params(self, in_shape: tuple) -> int:
        return self.n_filters * (in_shape[0] * self.size**2 + 1)

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        channels, area = in_shape[0], self.size**2
        bound = sqrt(self.init_gain / ((channels + self.n_filters) * area))
        shape = (self.n_filters, channels, self.size, self.size)
        weight = rng.uniform(-bound, bound, shape).astype(dtype)
        bias = rng.uniform(-bound, bound, self.n_filters).astype(dtype)
        return [weight, bias]

    def forward(self, x, params, training=True):
        weight, bias = params
        _, out_h, out_w = self.output_shape(x.shape[:3])
        p = self.padding
        if p:
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        x = np.ascontiguousarray(x)
        out = np.empty((self.n_filters, out_h, out_w, x.shape[3]), dtype=x.dtype)
        conv_forward(x, weight, bias, self.stride, out)
        return out, x

    def backward(self, dout, cache, params, need_dx=True):
        weight, bias = params
        x, p = cache, self.padding
        dout = np.ascontiguousarray(dout)
        dweight, dbias = np.empty_like(weight), np.empty_like(bias)
        conv_backward_weight(x, dout, self.stride, dweight, dbias)
        if not need_dx:
            return None, [dweight, dbias]
        dx = np.empty_like(x)
        conv_backward_input(dout, weight, self.stride, dx)
        if p:
            dx = np.ascontiguousarray(dx[:, p:-p, p:-p])
        return dx, [dweight, dbias]


POOLING = ("avg", "max")
"""The pooling modes of :class:`Pool2D`."""


class Pool2D:
    """Average or max pooling over ``size`` x ``size`` windows.

    Parameters
    ----------
    size : int, default=2
        Height and width of a window.
    stride : int, default=None
        Step between windows; None means ``size`` (windows side by side).
    mode : {'avg', 'max'}, default='avg'
        Mean of the window (LeNet-5's subsampling, without its trainable
        coefficient) or its maximum.
    """

    def __init__(self, size=2, stride=None, mode="avg"):
        self.size = size
        self.stride = stride
        self.mode = mode

    def __repr__(self) -> str:
        return f"Pool2D({self.size}, stride={self._stride}, mode={self.mode!r})"

    @property
    def _stride(self):
        return self.size if self.stride is None else self.stride

    def output_shape(self, in_shape: tuple) -> tuple:
        channels, height, width = in_shape
        geometry = self.size, self._stride, 0
        return (
            channels,
            output_size(self, height, *geometry),
            output_size(self, width, *geometry),
        )

    def n_params(self, in_shape: tuple) -> int:
        return 0

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        return []

    def forward(self, x, params, training=True):
        x = np.ascontiguousarray(x)
        _, out_h, out_w = self.output_shape(x.shape[:3])
        out = np.empty((x.shape[0], out_h, out_w, x.shape[3]), dtype=x.dtype)
        use_max = self.mode == "max"
        pool_forward(x, self.size, self._stride, use_max, out)
        # max pooling's backward compares the input with the output: keep a copy
        # that an in-place activation downstream cannot change
        return out, (x, out.copy() if use_max and training else None)

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        x, out = cache
        dx = np.empty_like(x)
        use_max = self.mode == "max"
        dout = np.ascontiguousarray(dout)
        top = dout if out is None else out  # average pooling does not read it
        pool_backward(x, top, dout, self.size, self._stride, use_max, dx)
        return dx, []


class Flatten:
    """Batch-last feature maps ``(c, h, w, n)`` to rows ``(n, c * h * w)``."""

    def __repr__(self) -> str:
        return "Flatten()"

    def output_shape(self, in_shape: tuple) -> tuple:
        return (prod(in_shape),)

    def n_params(self, in_shape: tuple) -> int:
        return 0

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        return []

    def forward(self, x, params, training=True):
        return np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T), x.shape

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        return np.ascontiguousarray(dout.T).reshape(cache), []
