"""Layers as stateless descriptions: shapes, parameters, forward and backward.

A layer holds only its hyperparameters. Its weights are plain arrays owned by
the estimator and passed in, so ``predict`` writes nowhere and a fitted model
pickles as arrays. Each layer has:

- ``output_shape(in_shape)``: the shape of one sample's output;
- ``n_params(in_shape)``: the number of trainable values;
- ``init_params(in_shape, rng, dtype)``: a list of new parameter arrays;
- ``forward(x, params, training=True, rng=None)``: ``(out, cache)``; ``rng``
  (a numpy Generator) feeds the layers that are random while training;
- ``backward(dout, cache, params, need_dx)``: ``(dx, grads)`` with ``grads``
  in the order of ``params`` (``dx`` is None when ``need_dx`` is False).

Shapes exclude the batch axis and follow the package's one image convention:
feature maps are ``(height, width, channels)``, flat samples ``(n_features,)``.
In memory, dense layers take rows ``(n_samples, n_features)``; convolution and
pooling take batch-last maps ``(channels, height, width, n_samples)``, so that
every kernel's innermost loop runs over contiguous samples. :class:`ImageInput`
turns image rows into maps, :class:`Flatten` maps back into rows.
"""

import inspect
import math
from math import prod, sqrt
from numbers import Integral, Real

import numpy as np
from scipy import sparse

from skcnn._kernels._augment import affine_sample
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
    relu_forward,
    tanh_backward,
    tanh_float32,
)
from skcnn._kernels._norm import batch_norm_backward, batch_norm_forward, scale_shift
from skcnn._kernels._pool import pool_backward, pool_forward
from skcnn._kernels._winograd import (
    winograd_backward_input,
    winograd_backward_weight,
    winograd_fits,
    winograd_forward,
)
from skcnn._workspace import empty, empty_like


def _tanh(x):
    if x.dtype == np.float32 and x.flags.c_contiguous:
        tanh_float32(x.reshape(-1))  # one shape: one compiled kernel
    else:
        np.tanh(x, out=x)


def _relu(x):
    if x.flags.c_contiguous and x.dtype in (np.float32, np.float64):
        relu_forward(x.reshape(len(x), -1))  # (samples or channels, rest)
    else:
        np.maximum(x, 0, out=x)


def _logistic(x):
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1
    np.reciprocal(x, out=x)


def _identity(x):
    pass


def _identity_backward(dout, out):
    pass


ACTIVATIONS = {
    "identity": (_identity, _identity_backward),
    "tanh": (_tanh, tanh_backward),
    "relu": (_relu, relu_backward),
    "logistic": (_logistic, logistic_backward),
    "sigmoid": (_logistic, logistic_backward),
}
"""Activation name -> (in-place forward with numpy's SIMD ufuncs, in-place
backward kernel working from the forward's output)."""


def _check_int(layer, name, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(
            f"{layer.__class__.__name__}: {name} must be an integer >= {low}; "
            f"got {value!r}."
        )


def _describe(shape) -> str:
    if len(shape) == 3:
        return f"feature maps of shape {tuple(shape)} (height, width, channels)"
    return f"flat samples of shape {tuple(shape)}"


class Layer:
    """Base class of the layers: parameters, ``repr``, equality, checks.

    Subclasses list their hyperparameters in ``__init__`` (scikit-learn's
    convention: stored as given, under the same names), override what differs
    from a parameter-free layer that keeps the shape of its input, and declare
    ``accepts``: ``"maps"``, ``"flat"`` or ``"any"`` input. A layer of your own
    implements ``forward(x, params, training=True, rng=None)`` (plus a
    ``state`` keyword if it has :meth:`init_state`) and
    ``backward(dout, cache, params, need_dx=True)`` on the estimator's memory
    layout: rows ``(n_samples, n_features)`` for flat samples, batch-last
    arrays ``(channels, height, width, n_samples)`` for feature maps.

    Examples
    --------
    >>> from sklearn.base import clone
    >>> from skcnn.layers import Conv2D
    >>> layer = Conv2D(32, 3, padding="same")
    >>> layer.get_params()["filters"], clone(layer, safe=False) == layer
    (32, True)
    >>> layer.set_params(filters=64)
    Conv2D(64, size=3, padding='same')
    """

    accepts = "any"

    @classmethod
    def _param_names(cls):
        if cls.__init__ is object.__init__:
            return []
        parameters = inspect.signature(cls.__init__).parameters.values()
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return [p.name for p in parameters if p.name != "self" and p.kind not in kinds]

    def get_params(self, deep=True):
        """The layer's hyperparameters, by name.

        Parameters
        ----------
        deep : bool, default=True
            Ignored (layers hold no sub-objects); for scikit-learn's ``clone``.

        Returns
        -------
        params : dict
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set hyperparameters by name (checked as the constructor checks them).

        Parameters
        ----------
        **params : dict
            New values.

        Returns
        -------
        self : Layer
        """
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no parameter {sorted(unknown)}; it has "
                f"{self._param_names()}."
            )
        for name, value in params.items():
            setattr(self, name, value)
        self._validate()
        return self

    def __repr__(self) -> str:
        names = self._param_names()
        signature = inspect.signature(type(self).__init__) if names else None
        parts = []
        for i, name in enumerate(names):
            value, default = getattr(self, name), signature.parameters[name].default
            if i == 0 and default is inspect.Parameter.empty:
                parts.append(repr(value))
            elif default is inspect.Parameter.empty or value != default:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self)))

    def _validate(self) -> None:
        """Raise a ValueError when a hyperparameter is out of range."""

    def check_input(self, in_shape: tuple) -> None:
        """Raise a ValueError when the layer cannot take samples of ``in_shape``.

        Parameters
        ----------
        in_shape : tuple of int
            ``(height, width, channels)`` for feature maps, ``(n_features,)``
            for flat samples.
        """
        if self.accepts == "maps" and len(in_shape) != 3:
            raise ValueError(
                f"needs feature maps (height, width, channels); it gets "
                f"{_describe(in_shape)}. Convolution and pooling go before "
                "Flatten and Dense, not after."
            )
        if self.accepts == "flat" and len(in_shape) != 1:
            raise ValueError(
                f"needs flat samples; it gets {_describe(in_shape)}. Put "
                "Flatten() before it."
            )

    def decays(self, index: int, shape: tuple) -> bool:
        """Whether parameter ``index`` (of ``shape``) is under the L2 penalty.

        By default a layer's kernels and matrices (two or more dimensions)
        decay with the estimator's ``alpha`` and its biases do not; a layer
        overrides this where it differs (a normalisation's scale and shift, for
        instance, never decay).

        Parameters
        ----------
        index : int
            Position of the parameter in the layer's ``init_params`` list.
        shape : tuple of int
            Its shape.

        Returns
        -------
        decayed : bool
        """
        return len(shape) > 1

    def init_state(self, in_shape: tuple, dtype) -> list:
        """The layer's state that is not trained, for an input of ``in_shape``.

        Arrays the layer updates itself in ``forward`` while training (running
        statistics, for instance) and reads at inference: they are saved with
        the model and in checkpoints, and neither the optimizer nor the L2
        penalty touches them. The estimators pass them to ``forward`` as the
        keyword ``state`` (to layers that have some only). Layers have none by
        default.

        Parameters
        ----------
        in_shape : tuple of int
            ``(height, width, channels)`` or ``(n_features,)``.
        dtype : numpy.dtype
            The compute dtype.

        Returns
        -------
        state : list of ndarray
        """
        return []

    def output_shape(self, in_shape: tuple) -> tuple:
        """Shape of one sample's output for one sample's input of ``in_shape``.

        Parameters
        ----------
        in_shape : tuple of int
            ``(height, width, channels)`` or ``(n_features,)``.

        Returns
        -------
        shape : tuple of int
        """
        return tuple(in_shape)

    def n_params(self, in_shape: tuple) -> int:
        """Number of trainable values for an input of ``in_shape``.

        Parameters
        ----------
        in_shape : tuple of int
            ``(height, width, channels)`` or ``(n_features,)``.

        Returns
        -------
        n_params : int
        """
        return 0

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        """New parameter arrays (weights first, then biases); none by default."""
        return []

    def backward(self, dout, cache, params, need_dx=True):
        """Gradients ``(dx, grads)``; a layer without parameters passes dout."""
        return (dout if need_dx else None), []


class Dense(Layer):
    """Fully connected layer ``out = x @ weight + bias`` on flat samples.

    Parameters
    ----------
    units : int
        Number of outputs.
    init_gain : float, default=6.0
        Glorot's factor: weights and biases are drawn uniformly in
        ``±sqrt(init_gain / (n_in + units))`` (scikit-learn uses 2 before a
        logistic activation).

    Examples
    --------
    >>> from skcnn.layers import Dense
    >>> layer = Dense(84)
    >>> layer.output_shape((120,)), layer.n_params((120,))
    ((84,), 10164)
    """

    accepts = "flat"

    def __init__(self, units, init_gain=6.0):
        self.units = units
        self.init_gain = init_gain
        self._validate()

    def _validate(self):
        _check_int(self, "units", self.units, 1)

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

    def forward(self, x, params, training=True, rng=None):
        weight, bias = params
        if sparse.issparse(x):  # rows of a CSR matrix: scipy's product, by row
            out = np.asarray(x @ weight)
            out += bias
            return out, x
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
        x2 = x if sparse.issparse(x) else x.reshape(len(x), -1)
        grads = [np.asarray(x2.T @ dout), dout.sum(axis=0)]
        dx = (dout @ weight.T).reshape(x.shape) if need_dx else None
        return dx, grads


class Activation(Layer):
    """Elementwise nonlinearity, applied in place.

    Parameters
    ----------
    name : {'tanh', 'relu', 'logistic', 'sigmoid', 'identity'}
        The function ('sigmoid' is another name for 'logistic'; 'identity'
        passes its input on, for a linear bottleneck).

    Examples
    --------
    >>> from skcnn.layers import Activation
    >>> Activation("relu").output_shape((28, 28, 32))
    (28, 28, 32)
    """

    def __init__(self, name):
        self.name = name
        self._validate()

    def _validate(self):
        if self.name not in ACTIVATIONS:
            raise ValueError(
                f"Activation: unknown activation {self.name!r}; expected one of "
                f"{sorted(ACTIVATIONS)}."
            )

    def forward(self, x, params, training=True, rng=None):
        x = _writable(x)
        ACTIVATIONS[self.name][0](x)
        return x, x

    def backward(self, dout, cache, params, need_dx=True):
        # in place on (samples or channels, rest) views: one compiled kernel
        # serves dense rows and feature maps alike
        dout, out = _writable(dout, order="C"), np.ascontiguousarray(cache)
        backward = ACTIVATIONS[self.name][1]
        backward(dout.reshape(len(dout), -1), out.reshape(len(out), -1))
        return dout, []


def _padded_maps(x, p):
    """Feature maps x (channels, height, width, n) with ``p`` zeros around
    each map, C-contiguous (x itself when ``p`` is 0 and x is C-contiguous)."""
    if not p:
        return np.ascontiguousarray(x)
    channels, height, width, n = x.shape
    out = empty((channels, height + 2 * p, width + 2 * p, n), x.dtype)
    out[:, :p] = 0
    out[:, height + p :] = 0
    out[:, p : height + p, :p] = 0
    out[:, p : height + p, width + p :] = 0
    out[:, p : height + p, p : width + p] = x
    return out


def _writable(x, order="K"):
    """x itself, or a copy where x is read-only (or not in ``order``): what an
    in-place kernel may write into without touching a caller's read-only array."""
    contiguous = order == "K" or x.flags.c_contiguous
    return x if x.flags.writeable and contiguous else np.array(x, order=order)


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


class ImageInput(Layer):
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

    accepts = "flat"

    def __init__(self, image_shape, field, offset=0.0, scale=1.0):
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
        return (*self.field, channels)

    @property
    def background(self) -> float:
        """What a padded zero becomes: ``-offset * scale``."""
        return -self.offset * self.scale

    def _window(self):
        height, width, _ = self.image_shape
        top, left = (self.field[0] - height) // 2, (self.field[1] - width) // 2
        return slice(top, top + height), slice(left, left + width)

    def forward(self, x, params, training=True, rng=None):
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


class RandomAffine(Layer):
    """Random shifts, rotations and scalings of each image, while training only.

    Every sample of a minibatch gets its own affine map about the centre of
    the maps, drawn uniformly: a shift of up to ``shift`` times the height
    (width) vertically (horizontally), a rotation of up to ``rotation``
    degrees either way, a scaling by a factor in ``[1 - scale, 1 + scale]``.
    Maps are resampled bilinearly; what comes from outside reads ``fill``.
    At inference the layer passes its input through.

    Parameters
    ----------
    shift : float, default=0.1
        Largest shift, as a fraction of the image's side.
    rotation : float, default=10.0
        Largest rotation, in degrees.
    scale : float, default=0.1
        Largest relative change of size.
    fill : float, default=0.0
        Value of the pixels that come from outside the maps.
    extent : tuple of int, default=None
        ``(height, width)`` of the image inside the maps, for the shifts; None
        means the maps' own size.
    flip : bool, default=False
        Also mirror each image left to right with probability 1/2 (for natural
        images; digits are not mirror-symmetric).
    """

    accepts = "maps"
    flip = False  # layers pickled before the option

    def __init__(
        self, shift=0.1, rotation=10.0, scale=0.1, fill=0.0, extent=None, flip=False
    ):
        self.shift = shift
        self.rotation = rotation
        self.scale = scale
        self.fill = fill
        self.extent = extent
        self.flip = flip
        self._validate()

    def __repr__(self) -> str:
        flip = ", flip=True" if self.flip else ""
        return (
            f"RandomAffine(shift={self.shift}, rotation={self.rotation}, "
            f"scale={self.scale}{flip})"
        )

    def _validate(self):
        for name, high in (("shift", 1), ("rotation", 180), ("scale", 1)):
            value = getattr(self, name)
            if not isinstance(value, Real) or not 0 <= value < high:
                raise ValueError(
                    f"RandomAffine: {name} must be a number in [0, {high}); got "
                    f"{value!r}."
                )

    def matrices(self, rng, n, height, width, dtype):
        """``n`` random maps from output to input coordinates, as rows of 6.

        Row ``(a, b, c, d, e, f)`` reads output pixel ``(r, q)`` from input
        ``(a r + b q + c, d r + e q + f)``: the inverse of a scaling by ``s``
        and a rotation by ``theta`` about the centre, after a shift ``t``.
        """
        extent = self.extent or (height, width)
        turn = np.deg2rad(rng.uniform(-self.rotation, self.rotation, n))
        zoom = rng.uniform(1 - self.scale, 1 + self.scale, n)
        shift_r = rng.uniform(-self.shift, self.shift, n) * extent[0]
        shift_q = rng.uniform(-self.shift, self.shift, n) * extent[1]
        cos, sin = np.cos(turn) / zoom, np.sin(turn) / zoom
        centre_r, centre_q = (height - 1) / 2, (width - 1) / 2
        from_r, from_q = centre_r + shift_r, centre_q + shift_q
        rows = [cos, sin, centre_r - cos * from_r - sin * from_q,
                -sin, cos, centre_q + sin * from_r - cos * from_q]  # fmt: skip
        matrices = np.stack(rows, axis=1)
        if self.flip:  # read column q' of the mirrored image: width - 1 - q'
            mirrored = rng.random(n) < 0.5
            matrices[mirrored, 3:5] *= -1
            matrices[mirrored, 5] = width - 1 - matrices[mirrored, 5]
        return np.ascontiguousarray(matrices, dtype=dtype)

    def forward(self, x, params, training=True, rng=None):
        if not training:
            return x, None
        if rng is None:
            raise ValueError("RandomAffine needs a random generator while training.")
        _, height, width, n = x.shape
        matrices = self.matrices(rng, n, height, width, x.dtype)
        out = np.empty(x.shape, x.dtype)
        affine_sample(np.ascontiguousarray(x), matrices, x.dtype.type(self.fill), out)
        return out, None

    def backward(self, dout, cache, params, need_dx=True):
        if need_dx:
            raise ValueError(
                "RandomAffine has no input gradient: it augments the input images "
                "and must come before every layer with parameters."
            )
        return None, []


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as deep-learning frameworks compute it).

    ``filters`` filters of ``size`` x ``size`` pixels, each spanning all the
    input's channels, slide over the zero-padded input with step ``stride``:
    an input of ``(height, width, channels)`` gives ``(out_h, out_w,
    filters)`` with ``out_h = (height - size + 2 * padding) / stride + 1``,
    which must be a whole number, and ``size * size * channels * filters``
    weights plus ``filters`` biases.

    Parameters
    ----------
    filters : int
        Number of filters (output channels), K.
    size : int
        Height and width of each filter, F.
    stride : int, default=1
        Step between windows, S.
    padding : int or {'valid', 'same'}, default=0
        Zeros added on every side of the input, P. 'valid' is 0; 'same' keeps
        the height and width (``(size - 1) / 2``: odd sizes, stride 1 only).
    init_gain : float, default=6.0
        Glorot's factor: weights and biases uniform in ``±sqrt(init_gain /
        (fan_in + fan_out))``, with ``fan_in = channels * size**2`` and
        ``fan_out = filters * size**2``.

    Examples
    --------
    >>> from skcnn.layers import Conv2D
    >>> conv = Conv2D(10, 5, stride=1, padding=2)
    >>> conv.output_shape((32, 32, 3)), conv.n_params((32, 32, 3))
    ((32, 32, 10), 760)
    >>> Conv2D(32, 3, padding="same").output_shape((28, 28, 1))
    (28, 28, 32)
    >>> Conv2D(1, 3, stride=3).output_shape((7, 7, 1))
    Traceback (most recent call last):
    ...
    ValueError: Conv2D(1, size=3, stride=3): the output size (7 - 3 + 2*0) / 3 + 1 = 2.33333 is not a whole number; change the stride, the padding or the input size.
    """  # noqa: E501

    accepts = "maps"

    def __init__(self, filters, size, stride=1, padding=0, init_gain=6.0):
        self.filters = filters
        self.size = size
        self.stride = stride
        self.padding = padding
        self.init_gain = init_gain
        self._validate()

    def _validate(self):
        _check_int(self, "filters", self.filters, 1)
        _check_int(self, "size", self.size, 1)
        _check_int(self, "stride", self.stride, 1)
        if isinstance(self.padding, str):
            if self.padding not in {"valid", "same"}:
                raise ValueError(
                    f"Conv2D: padding must be an integer >= 0, 'valid' or 'same'; "
                    f"got {self.padding!r}."
                )
            if self.padding == "same" and (self.size % 2 == 0 or self.stride != 1):
                raise ValueError(
                    f"Conv2D: padding='same' needs an odd size and stride 1 (it pads "
                    f"(size - 1) / 2 on each side); got size={self.size}, "
                    f"stride={self.stride}."
                )
        else:
            _check_int(self, "padding", self.padding, 0)

    @property
    def pad(self) -> int:
        """The zero padding P on each side, in pixels."""
        if self.padding == "same":
            return (self.size - 1) // 2
        return 0 if self.padding == "valid" else self.padding

    def output_shape(self, in_shape: tuple) -> tuple:
        height, width, _ = in_shape
        geometry = self.size, self.stride, self.pad
        return (
            output_size(self, height, *geometry),
            output_size(self, width, *geometry),
            self.filters,
        )

    def n_params(self, in_shape: tuple) -> int:
        return self.filters * (in_shape[-1] * self.size**2 + 1)

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        channels, area = in_shape[-1], self.size**2
        bound = sqrt(self.init_gain / ((channels + self.filters) * area))
        shape = (self.filters, channels, self.size, self.size)
        weight = rng.uniform(-bound, bound, shape).astype(dtype)
        bias = rng.uniform(-bound, bound, self.filters).astype(dtype)
        return [weight, bias]

    def forward(self, x, params, training=True, rng=None):
        weight, bias = params
        out_h, out_w, _ = self.output_shape((x.shape[1], x.shape[2], x.shape[0]))
        out = empty((self.filters, out_h, out_w, x.shape[3]), x.dtype)
        # Training runs 3x3 and 5x5 layers by Winograd's algorithm, whose
        # products use BLAS; inference keeps the direct kernels, where a
        # sample's result cannot depend on its batch (skcnn/_kernels/_winograd.py).
        shape = (x.shape[0], self.filters, self.size, self.stride, self.pad)
        if training and winograd_fits(*shape, out_h, out_w):
            x = np.ascontiguousarray(x)
            winograd_forward(x, weight, bias, self.pad, out)
            return out, (x, True)
        x = _padded_maps(x, self.pad)
        conv_forward(x, weight, bias, self.stride, out, blas=training)
        return out, (x, False)

    def backward(self, dout, cache, params, need_dx=True):
        weight, bias = params
        (x, winograd), p = cache, self.pad
        dout = np.ascontiguousarray(dout)
        dweight, dbias = empty_like(weight), empty_like(bias)
        if winograd:
            winograd_backward_weight(x, dout, p, dweight, dbias)
            dx = None
            if need_dx:
                dx = empty_like(x)
                winograd_backward_input(dout, weight, p, dx)
            return dx, [dweight, dbias]
        conv_backward_weight(x, dout, self.stride, dweight, dbias)
        if not need_dx:
            return None, [dweight, dbias]
        dx = empty_like(x)
        conv_backward_input(dout, weight, self.stride, dx)
        if p:
            inner = empty_like(dx[:, p:-p, p:-p])
            inner[...] = dx[:, p:-p, p:-p]
            dx = inner
        return dx, [dweight, dbias]


class Pool2D(Layer):
    """Pooling over ``size`` x ``size`` windows (base of the two kinds).

    Subclasses set ``mode``: 'avg' (the mean of the window) or 'max'.
    """

    accepts = "maps"
    mode = "avg"

    def __init__(self, size=2, stride=None):
        self.size = size
        self.stride = stride
        self._validate()

    def _validate(self):
        _check_int(self, "size", self.size, 1)
        if self.stride is not None:
            _check_int(self, "stride", self.stride, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size}, stride={self.effective_stride})"

    @property
    def effective_stride(self) -> int:
        """The step S between windows: ``stride``, or ``size`` when it is None."""
        return self.size if self.stride is None else self.stride

    def output_shape(self, in_shape: tuple) -> tuple:
        height, width, channels = in_shape
        geometry = self.size, self.effective_stride, 0
        return (
            output_size(self, height, *geometry),
            output_size(self, width, *geometry),
            channels,
        )

    def forward(self, x, params, training=True, rng=None):
        x = np.ascontiguousarray(x)
        out_h, out_w, _ = self.output_shape((x.shape[1], x.shape[2], x.shape[0]))
        out = empty((x.shape[0], out_h, out_w, x.shape[3]), x.dtype)
        use_max = self.mode == "max"
        pool_forward(x, self.size, self.effective_stride, use_max, out)
        # max pooling's backward compares the input with the output: keep a copy
        # that an in-place activation downstream cannot change
        top = None
        if use_max and training:
            top = empty_like(out)
            top[...] = out
        return out, (x, top)

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        x, out = cache
        dx = empty_like(x)
        use_max = self.mode == "max"
        dout = np.ascontiguousarray(dout)
        top = dout if out is None else out  # average pooling does not read it
        pool_backward(x, top, dout, self.size, self.effective_stride, use_max, dx)
        return dx, []


class MaxPool2D(Pool2D):
    """Max pooling: the largest value of each ``size`` x ``size`` window.

    Parameters
    ----------
    size : int, default=2
        Height and width of a window, F.
    stride : int, default=None
        Step between windows, S; None means ``size`` (windows side by side).

    Examples
    --------
    >>> from skcnn.layers import MaxPool2D
    >>> MaxPool2D(2).output_shape((28, 28, 32))
    (14, 14, 32)
    >>> MaxPool2D(3, stride=2).output_shape((13, 13, 64))
    (6, 6, 64)
    """

    mode = "max"


class AvgPool2D(Pool2D):
    """Average pooling: the mean of each ``size`` x ``size`` window.

    LeNet-5's subsampling, without its trainable coefficient and bias.

    Parameters
    ----------
    size : int, default=2
        Height and width of a window, F.
    stride : int, default=None
        Step between windows, S; None means ``size`` (windows side by side).

    Examples
    --------
    >>> from skcnn.layers import AvgPool2D
    >>> AvgPool2D(2).output_shape((28, 28, 6))
    (14, 14, 6)
    """

    mode = "avg"


POOLING = {"avg": AvgPool2D, "max": MaxPool2D}
"""Pooling name -> layer class."""


class GlobalPool2D(Layer):
    """Pooling over each whole feature map (base of the two kinds): maps of
    ``(height, width, channels)`` become flat samples of ``(channels,)``.

    Subclasses set ``mode``: 'avg' (the mean of each map) or 'max'.
    """

    accepts = "maps"
    mode = "avg"

    def output_shape(self, in_shape: tuple) -> tuple:
        return (in_shape[2],)

    def forward(self, x, params, training=True, rng=None):
        channels, height, width, n = x.shape
        area = np.ascontiguousarray(x).reshape(channels, height * width, n)
        if self.mode == "avg":
            total = area[:, 0].copy()
            for k in range(1, height * width):  # in pixel order, for any batch
                total += area[:, k]
            pooled, cache = total / x.dtype.type(height * width), x.shape
        else:  # the first largest value of each map
            index = area.argmax(axis=1)
            pooled = np.take_along_axis(area, index[:, None, :], axis=1)[:, 0]
            cache = x.shape, index
        rows = empty((n, channels), x.dtype)
        rows[...] = pooled.T
        return rows, cache

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        shape, index = (cache, None) if self.mode == "avg" else cache
        channels, height, width, n = shape
        dx = empty(shape, dout.dtype)
        area = dx.reshape(channels, height * width, n)
        if self.mode == "avg":
            area[...] = (dout.T / dout.dtype.type(height * width))[:, None, :]
        else:  # all to the value that was taken
            area.fill(0)
            np.put_along_axis(area, index[:, None, :], dout.T[:, None, :], axis=1)
        return dx, []


class GlobalAveragePooling2D(GlobalPool2D):
    """The mean of each feature map: ``(height, width, channels)`` to ``(channels,)``.

    The head of modern small CNNs (a global average instead of Flatten and a
    large dense layer); a Dense layer follows it directly.

    Examples
    --------
    >>> from skcnn.layers import GlobalAveragePooling2D
    >>> GlobalAveragePooling2D().output_shape((8, 8, 64))
    (64,)
    """

    mode = "avg"


class GlobalMaxPooling2D(GlobalPool2D):
    """The largest value of each feature map: ``(height, width, channels)`` to
    ``(channels,)``. Its gradient goes to the first largest value of a map
    (in row-major order), as PyTorch's and Keras's.

    Examples
    --------
    >>> from skcnn.layers import GlobalMaxPooling2D
    >>> GlobalMaxPooling2D().output_shape((8, 8, 64))
    (64,)
    """

    mode = "max"


class Flatten(Layer):
    """Feature maps to flat samples: ``(height, width, channels)`` to one vector.

    Flat input passes through unchanged.

    Examples
    --------
    >>> from skcnn.layers import Flatten
    >>> Flatten().output_shape((7, 7, 64))
    (3136,)
    """

    def output_shape(self, in_shape: tuple) -> tuple:
        return (prod(in_shape),)

    def forward(self, x, params, training=True, rng=None):
        if x.ndim == 2:  # already rows
            return x, None
        rows = empty((x.shape[-1], x.size // x.shape[-1]), x.dtype)
        rows[...] = x.reshape(-1, x.shape[-1]).T
        return rows, x.shape

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        if cache is None:
            return dout, []
        maps = empty((dout.shape[1], dout.shape[0]), dout.dtype)
        maps[...] = dout.T
        return maps.reshape(cache), []


class BatchNormalization(Layer):
    """Batch normalisation (Ioffe & Szegedy, 2015), per channel or per unit.

    After a convolution it normalises each channel over the batch and the
    pixels; after a dense layer, each unit over the batch. While training:
    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the
    minibatch's mean and (biased) variance, and the running statistics move
    towards them: ``running = (1 - momentum) * running + momentum * batch``
    (the variance unbiased), PyTorch's convention. At predict, the running
    statistics take their place, so a sample's output does not depend on its
    batch. ``gamma`` (ones) and ``beta`` (zeros) are trained and never under
    the L2 penalty; the running mean and variance are state that is not
    trained (saved with the model and in checkpoints, exported to ONNX).

    Parameters
    ----------
    momentum : float, default=0.1
        Weight of each minibatch in the running statistics, in (0, 1].
    epsilon : float, default=1e-5
        Added to the variance before its square root.

    Examples
    --------
    >>> from skcnn.layers import BatchNormalization
    >>> layer = BatchNormalization()
    >>> layer.output_shape((16, 16, 32)), layer.n_params((16, 16, 32))
    ((16, 16, 32), 64)
    """

    def __init__(self, momentum=0.1, epsilon=1e-5):
        self.momentum = momentum
        self.epsilon = epsilon
        self._validate()

    def _validate(self):
        if not (isinstance(self.momentum, Real) and 0 < self.momentum <= 1):
            raise ValueError(
                f"BatchNormalization: momentum must be in (0, 1]; got "
                f"{self.momentum!r}."
            )
        if not (isinstance(self.epsilon, Real) and self.epsilon > 0):
            raise ValueError(
                f"BatchNormalization: epsilon must be > 0; got {self.epsilon!r}."
            )

    def n_params(self, in_shape: tuple) -> int:
        return 2 * in_shape[-1]

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        units = in_shape[-1]
        return [np.ones(units, dtype), np.zeros(units, dtype)]

    def decays(self, index: int, shape: tuple) -> bool:
        return False  # a scale and a shift: never under the L2 penalty

    def init_state(self, in_shape: tuple, dtype) -> list:
        units = in_shape[-1]
        return [np.zeros(units, dtype), np.ones(units, dtype)]

    @staticmethod
    def _columns(x):
        """``x`` as (units, values): a channel's pixels and samples, or a
        unit's samples."""
        return x.reshape(x.shape[0], -1) if x.ndim == 4 else x.T

    @staticmethod
    def _shaped(v, x):
        """A per-unit vector broadcast against ``x``."""
        return v[:, None, None, None] if x.ndim == 4 else v[None, :]

    def inference_affine(self, params, state):
        """``(scale, shift)`` per unit: at predict the layer is ``x * scale +
        shift``, from the running statistics (the ONNX export uses the same)."""
        gamma, beta = params
        running_mean, running_var = state
        scale = gamma / np.sqrt(running_var + gamma.dtype.type(self.epsilon))
        return scale, beta - running_mean * scale

    def forward(self, x, params, training=True, rng=None, state=None):
        gamma, beta = params
        running_mean, running_var = state
        dtype = x.dtype.type
        maps = x.ndim == 4  # numba kernels, one thread per channel
        if maps:
            x = np.ascontiguousarray(x)
        out = empty(x.shape, x.dtype)
        if not training:
            scale, shift = self.inference_affine(params, state)
            if maps:
                scale_shift(self._columns(x), scale, shift, self._columns(out))
            else:
                np.multiply(x, self._shaped(scale, x), out=out)
                out += self._shaped(shift, x)
            return out, None
        count = self._columns(x).shape[1]
        if maps:
            xhat = empty(x.shape, x.dtype)
            units = x.shape[0]
            mean, var = np.empty(units), np.empty(units)
            inv_std = np.empty(units, x.dtype)
            batch_norm_forward(
                self._columns(x), gamma, beta, float(self.epsilon),
                self._columns(out), self._columns(xhat), mean, var, inv_std,
            )  # fmt: skip
            mean, var = mean.astype(x.dtype), var.astype(x.dtype)
        else:
            mean = self._columns(x).mean(axis=1)
            centred = x - self._shaped(mean, x)
            var = np.square(self._columns(centred)).mean(axis=1)
            inv_std = 1 / np.sqrt(var + dtype(self.epsilon))
            xhat = centred * self._shaped(inv_std, x)
            np.multiply(xhat, self._shaped(gamma, x), out=out)
            out += self._shaped(beta, x)
        momentum = dtype(self.momentum)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        unbiased = var * dtype(count / max(count - 1, 1))
        running_var *= 1 - momentum
        running_var += momentum * unbiased
        return out, (xhat, inv_std)

    def backward(self, dout, cache, params, need_dx=True):
        gamma, _ = params
        xhat, inv_std = cache
        if dout.ndim == 4:
            dout = np.ascontiguousarray(dout)
            units = dout.shape[0]
            dgamma, dbeta = np.empty(units, dout.dtype), np.empty(units, dout.dtype)
            dx = empty(dout.shape, dout.dtype) if need_dx else None
            rows = self._columns(dx) if need_dx else np.empty((0, 0), dout.dtype)
            batch_norm_backward(
                self._columns(dout), self._columns(xhat), gamma, inv_std, rows,
                dgamma, dbeta,
            )  # fmt: skip
            return dx, [dgamma, dbeta]
        d = self._columns(dout)
        dbeta = d.sum(axis=1)
        dgamma = (d * self._columns(xhat)).sum(axis=1)
        if not need_dx:
            return None, [dgamma, dbeta]
        count = d.shape[1]
        dtype = dout.dtype.type
        # dx = gamma / std * (dout - mean(dout) - xhat * mean(dout * xhat))
        dx = dout - self._shaped(dbeta / dtype(count), dout)
        dx -= xhat * self._shaped(dgamma / dtype(count), dout)
        dx *= self._shaped(gamma * inv_std, dout)
        return dx, [dgamma, dbeta]


class Dropout(Layer):
    """Inverted dropout: while training, zero each value with probability ``rate``.

    The values kept are divided by ``1 - rate``, so the expected output equals
    the input and inference (where the layer passes its input through) needs
    no rescaling. The masks come from the estimator's random generator: the
    same ``random_state`` drops the same values.

    Parameters
    ----------
    rate : float
        Probability of dropping each value, in [0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from skcnn.layers import Dropout
    >>> layer = Dropout(0.5)
    >>> x = np.ones((2, 4), dtype=np.float32)
    >>> out, _ = layer.forward(x, [], training=True, rng=np.random.default_rng(0))
    >>> sorted(set(out.ravel().tolist()))
    [0.0, 2.0]
    >>> layer.forward(x, [], training=False)[0] is x
    True
    """

    def __init__(self, rate):
        self.rate = rate
        self._validate()

    def _validate(self):
        rate = self.rate
        if isinstance(rate, bool) or not isinstance(rate, Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1); got {rate!r}.")

    def forward(self, x, params, training=True, rng=None):
        if not training or self.rate == 0:
            return x, None
        if rng is None:
            raise ValueError("Dropout needs a random generator while training.")
        keep = rng.random(x.shape, dtype=x.dtype) >= self.rate
        mask = keep * x.dtype.type(1 / (1 - self.rate))
        return x * mask, mask

    def backward(self, dout, cache, params, need_dx=True):
        if not need_dx:
            return None, []
        return dout if cache is None else dout * cache, []


# Layers whose forward writes a new output (and keeps no reference to it) and
# whose backward leaves ``dout`` as it is: a residual block may add into their
# output and read its input and ``dout`` after them.
_FRESH_OUTPUT = (Conv2D, Dense, BatchNormalization, Pool2D, GlobalPool2D)


class Residual(Layer):
    """A residual block: ``out = block(x) + shortcut(x)`` (He et al., 2016).

    The input goes through ``layers`` in order and is added to their output.
    Where the block keeps the input's shape, the shortcut is the input itself;
    where it changes it (more channels, or a stride that halves the maps), the
    shortcut is a projection: a 1x1 :class:`Conv2D` with the stride that gives
    the block's output size, or a :class:`Dense` layer for flat samples (its
    weights trained with the block's and under the L2 penalty). Put the
    activation that follows the sum (ResNet's ReLU) after the block.

    Parameters
    ----------
    layers : list of Layer
        The block, first layer first; its output must be of the same kind as
        its input (feature maps or flat samples). Input layers (augmentation,
        image input) do not belong in a block; a block may hold another.

    Examples
    --------
    >>> from skcnn.layers import (
    ...     Activation, BatchNormalization, Conv2D, MaxPool2D, Residual)
    >>> block = Residual([
    ...     Conv2D(64, 3, padding=1), BatchNormalization(), Activation("relu"),
    ...     MaxPool2D(2), Conv2D(64, 3, padding=1), BatchNormalization(),
    ... ])
    >>> block.output_shape((32, 32, 32))
    (16, 16, 64)
    >>> block.projection((32, 32, 32))  # 1x1, stride 2: 32 to 64 channels
    Conv2D(64, size=1, stride=2)
    >>> block.n_params((32, 32, 32)) - sum(  # the projection's 32 * 64 + 64
    ...     layer.n_params(shape) for layer, shape in block.parts((32, 32, 32))[:-1])
    2112
    """

    def __init__(self, layers):
        self.layers = layers
        self._validate()

    def _validate(self):
        if not isinstance(self.layers, (list, tuple)) or not self.layers:
            raise ValueError(
                f"Residual: layers must be a non-empty list of skcnn.layers "
                f"instances; got {self.layers!r}."
            )
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Layer) or isinstance(
                layer, (ImageInput, RandomAffine)
            ):
                raise ValueError(
                    f"Residual: layers[{index}] = {layer!r} cannot be in a block: "
                    "expected a layer of skcnn.layers other than the input layers."
                )

    def __repr__(self) -> str:
        return f"Residual([{', '.join(map(repr, self.layers))}])"

    def _label(self, index):
        return f"Residual.layers[{index}]"

    def check_input(self, in_shape: tuple) -> None:
        shapes = walk_shapes(self.layers, in_shape, self._label)
        if len(shapes[-1]) != len(in_shape):
            raise ValueError(
                f"the block turns {_describe(in_shape)} into "
                f"{_describe(shapes[-1])}; its output must be of the same kind "
                "as its input, to be added to it."
            )
        self.projection(in_shape)  # raises when no 1x1 stride fits

    def output_shape(self, in_shape: tuple) -> tuple:
        return walk_shapes(self.layers, in_shape, self._label)[-1]

    def projection(self, in_shape: tuple):
        """The shortcut's layer for an input of ``in_shape``: None (the input
        itself) where the block keeps the shape, else a 1x1 Conv2D or a Dense.

        Parameters
        ----------
        in_shape : tuple of int
            ``(height, width, channels)`` or ``(n_features,)``.

        Returns
        -------
        layer : Conv2D, Dense or None
        """
        in_shape = tuple(in_shape)
        out_shape = self.output_shape(in_shape)
        if out_shape == in_shape:
            return None
        if len(in_shape) == 1:
            return Dense(out_shape[0])
        (height, width, _), (out_h, out_w, filters) = in_shape, out_shape
        for stride in range(1, max(height, width) + 1):
            # the 1x1 windows that exist, as PyTorch's and ONNX's convolutions
            # take them: (n - 1) // stride + 1 outputs
            if (height - 1) // stride + 1 == out_h and (width - 1) // stride + 1 == (
                out_w
            ):
                return Conv2D(filters, 1, stride=stride)
        raise ValueError(
            f"the block turns maps of {height}x{width} into {out_h}x{out_w}, which "
            "no 1x1 convolution's stride does for the shortcut; use strides that "
            "divide the maps evenly."
        )

    @staticmethod
    def _cropped(projection, in_shape):
        """The part of ``in_shape`` a strided 1x1 projection reads: up to its
        last window, so that its output size is whole."""
        if len(in_shape) == 1 or projection.stride == 1:
            return tuple(in_shape)
        height, width, channels = in_shape
        stride = projection.stride
        return (
            (height - 1) // stride * stride + 1,
            (width - 1) // stride * stride + 1,
            channels,
        )

    def parts(self, in_shape: tuple) -> list:
        """``(layer, in_shape)`` of each layer of the block, then of the
        projection (when the shortcut has one), in the order of the block's
        parameters.

        Parameters
        ----------
        in_shape : tuple of int
            ``(height, width, channels)`` or ``(n_features,)``.

        Returns
        -------
        parts : list of (Layer, tuple)
        """
        in_shape = tuple(in_shape)
        shapes = walk_shapes(self.layers, in_shape, self._label)
        parts = list(zip(self.layers, shapes, strict=False))
        projection = self.projection(in_shape)
        if projection is not None:
            parts.append((projection, self._cropped(projection, in_shape)))
        return parts

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_layouts", None)  # a cache (with tuple keys, which skops refuses)
        return state

    def _layout(self, in_shape):
        """Per part: ``(layer, in_shape, param shapes, number of state arrays)``,
        cached by input shape (a layer holds no weights, only their layout);
        the input shapes seen are kept, saved with the layer, for :meth:`decays`."""
        layouts = self.__dict__.setdefault("_layouts", {})
        key = tuple(int(n) for n in in_shape)
        if key not in layouts:
            seen = self.__dict__.setdefault("_in_shapes", [])
            if key not in seen:
                seen.append(key)
            rng = np.random.RandomState(0)
            layouts[key] = [
                (
                    layer, shape,
                    [p.shape for p in layer.init_params(shape, rng, np.float32)],
                    len(layer.init_state(shape, np.float32)),
                )
                for layer, shape in self.parts(key)
            ]  # fmt: skip
        return layouts[key]

    def unpack(self, params, state, in_shape) -> list:
        """Each part's parameters and state, from the block's flat lists.

        Parameters
        ----------
        params, state : list of ndarray
            The block's parameters and its state that is not trained, in the
            order of :meth:`parts`.
        in_shape : tuple of int
            The block's input shape.

        Returns
        -------
        parts : list of (Layer, tuple, list, list)
            ``(layer, in_shape, params, state)`` of each part.
        """
        parts, n_params, n_state = [], 0, 0
        for layer, shape, shapes, count in self._layout(in_shape):
            parts.append((
                layer, shape, params[n_params : n_params + len(shapes)],
                state[n_state : n_state + count],
            ))  # fmt: skip
            n_params, n_state = n_params + len(shapes), n_state + count
        return parts

    def _sample_shape(self, x):
        return (x.shape[1], x.shape[2], x.shape[0]) if x.ndim == 4 else x.shape[1:]

    def n_params(self, in_shape: tuple) -> int:
        return sum(layer.n_params(shape) for layer, shape in self.parts(in_shape))

    def init_params(self, in_shape: tuple, rng, dtype) -> list:
        self._layout(in_shape)  # for decays, which sees one parameter at a time
        return [
            p
            for layer, shape in self.parts(in_shape)
            for p in layer.init_params(shape, rng, dtype)
        ]

    def init_state(self, in_shape: tuple, dtype) -> list:
        return [
            a
            for layer, shape in self.parts(in_shape)
            for a in layer.init_state(shape, dtype)
        ]

    def decays(self, index: int, shape: tuple) -> bool:
        # the part that owns parameter ``index`` decides; the layouts computed
        # so far tell which part that is (a block may serve several shapes)
        for in_shape in self.__dict__.get("_in_shapes", []):
            layout = self._layout(in_shape)
            owners = [(layer, i, s) for layer, _, shapes, _ in layout
                      for i, s in enumerate(shapes)]  # fmt: skip
            if index < len(owners) and tuple(owners[index][2]) == tuple(shape):
                layer, local, _ = owners[index]
                return layer.decays(local, shape)
        return super().decays(index, shape)

    def forward(self, x, params, training=True, rng=None, state=()):
        in_shape = self._sample_shape(x)
        parts = self.unpack(params, list(state), in_shape)
        # the first layer may work in place: give it a copy when the
        # shortcut reads x afterwards
        inner = x if isinstance(self.layers[0], _FRESH_OUTPUT) else x.copy()
        caches = []
        for layer, _, p, s in parts[: len(self.layers)]:
            inner, cache = run_forward(layer, inner, p, training, rng, s)
            caches.append(cache)
        shortcut = x
        if len(parts) > len(self.layers):  # the projection, on the maps it reads
            projection, read_shape, p, _ = parts[-1]
            read = x if x.ndim == 2 else x[:, : read_shape[0], : read_shape[1]]
            shortcut, cache = projection.forward(read, p, training)
            caches.append(cache)
        if isinstance(self.layers[-1], _FRESH_OUTPUT):
            inner += shortcut  # a new array that nothing else holds
            return inner, (in_shape, caches)
        out = empty(inner.shape, inner.dtype)
        np.add(inner, shortcut, out=out)
        return out, (in_shape, caches)

    def backward(self, dout, cache, params, need_dx=True):
        in_shape, caches = cache
        parts = self.unpack(params, [], in_shape)
        grads = [[] for _ in parts]
        n_block = len(self.layers)
        if len(parts) > n_block:  # the projection's gradients, and its dx
            projection, _, p, _ = parts[-1]
            dshort, grads[-1] = projection.backward(dout, caches[-1], p, need_dx)
        elif isinstance(self.layers[-1], _FRESH_OUTPUT) or not need_dx:
            dshort = dout
        else:
            dshort = dout.copy()  # the block's last layer may change dout
        dinner = dout
        for index in range(n_block - 1, -1, -1):
            layer, _, p, _ = parts[index]
            dinner, grads[index] = layer.backward(
                dinner, caches[index], p, need_dx or index > 0
            )
        grads = [g for part in grads for g in part]
        if not need_dx:
            return None, grads
        dx = empty(dinner.shape, dinner.dtype)
        if dshort.shape == dx.shape:
            np.add(dinner, dshort, out=dx)
        else:  # a strided projection read the maps up to its last window
            dx[...] = dinner
            dx[:, : dshort.shape[1], : dshort.shape[2]] += dshort
        return dx, grads


PUBLIC_LAYERS = (Conv2D, MaxPool2D, AvgPool2D, Dense, Activation, Flatten, Dropout)
"""The layers a user declares a network with (see :mod:`skcnn.layers`)."""


def run_forward(layer, x, params, training, rng=None, state=()):
    """``layer.forward``, with its state that is not trained as the keyword
    ``state`` for layers that have some (others keep the plain signature)."""
    extra = {"state": state} if state else {}
    return layer.forward(x, params, training=training, rng=rng, **extra)


def is_random(layer) -> bool:
    """Whether ``layer`` draws random numbers while training."""
    if isinstance(layer, Residual):
        return any(map(is_random, layer.layers))
    return isinstance(layer, (Dropout, RandomAffine))


def walk_shapes(layers, in_shape, label=None):
    """Check that ``layers`` fit together from ``in_shape``; return each input shape.

    Parameters
    ----------
    layers : list of Layer
        The stack, first layer first.
    in_shape : tuple of int
        Shape of one sample at the input of the first layer.
    label : callable, default=None
        ``label(index)`` names layer ``index`` in error messages (default:
        ``layers[index]``).

    Returns
    -------
    shapes : list of tuple
        The input shape of each layer, then the output shape of the last.
    """
    label = label or (lambda index: f"layers[{index}]")
    shapes, shape = [], tuple(in_shape)
    for index, layer in enumerate(layers):
        shapes.append(shape)
        try:
            layer._validate()
            layer.check_input(shape)
            if (
                isinstance(layer, Activation)
                and index
                and isinstance(layers[index - 1], Activation)
            ):
                raise ValueError(
                    "directly follows another activation; use one "
                    "activation between two layers with weights."
                )
            shape = tuple(layer.output_shape(shape))
        except ValueError as exc:
            message = str(exc)
            for prefix in (f"{layer!r}: ", f"{type(layer).__name__}: "):
                message = message.removeprefix(prefix)
            raise ValueError(f"{label(index)} = {layer!r}: {message}") from None
        if math.prod(shape) < 1:
            raise ValueError(
                f"{label(index)} = {layer!r} leaves an empty output {shape}."
            )
    shapes.append(shape)
    return shapes
