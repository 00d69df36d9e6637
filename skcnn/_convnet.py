"""Convolutional networks: the shared base, and ConvNetClassifier for any stack."""

import copy
from collections import Counter
from contextlib import ExitStack
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from skcnn._kernels._jit import parallel_section
from skcnn._layers import (
    ACTIVATIONS,
    POOLING,
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    GlobalPool2D,
    ImageInput,
    Layer,
    Pool2D,
    RandomAffine,
    Residual,
    walk_shapes,
)
from skcnn._network import (
    BaseNetworkClassifier,
    HiddenFeaturesMixin,
    positive_ints,
)
from skcnn._parameters import training_estimator

AUGMENT_DEFAULTS = {"shift": 0.1, "rotation": 10.0, "scale": 0.1}
"""The distortions of ``augment=True``."""


CONVNET_TRAINING = {
    "batch_size": 64,
    "learning_rate_init": 1e-3,
    "max_iter": 20,
    "tol": 1e-4,
    "n_iter_no_change": 10,
    "dtype": "float32",
}
"""The convolutional networks' training defaults (``@training_estimator``)."""


TEST_TIME_DOC = """\
    test_time_augmentation : dict or None, default=None
        Predict from the mean of the logits of several copies of each image
        (``predict``, ``predict_proba``, ``decision_function``, ``score`` and
        the ONNX export; never in training or early stopping): ``{'flip':
        True}`` adds the image mirrored left to right (for natural images),
        ``{'shift': s}`` adds each copy shifted by ``s`` pixels down and right
        and by ``s`` up and left (zeros coming in), as the CIFAR-10 speed
        records do; both together make six copies. Each copy costs a forward
        pass. None predicts from the image alone."""
"""The ``test_time_augmentation`` parameter's documentation (both CNNs)."""


def _overlap(n: int, d: int) -> tuple:
    """The slices ``(to, from)`` of an axis of ``n`` pixels shifted by ``d``."""
    return slice(max(d, 0), n + min(d, 0)), slice(max(-d, 0), n - max(d, 0))


MAP_HEADS = {
    "flatten": Flatten,
    "global_avg": GlobalAveragePooling2D,
    "global_max": GlobalMaxPooling2D,
}
"""ConvNetClassifier's ``head``: what turns the last maps into a vector."""


class BaseConvNetClassifier(HiddenFeaturesMixin, BaseNetworkClassifier):
    """What every convolutional network shares: input layers, threads, inference.

    Subclasses declare their layers in ``_build_layers``, starting with
    :meth:`_input_layers`. Not for direct use.
    """

    _parameter_constraints: dict = {
        **BaseNetworkClassifier._parameter_constraints,
        "normalize": ["boolean"],
        "augment": [None, "boolean", dict],
        "test_time_augmentation": [None, dict],
    }

    _predict_batch = 128  # the maps of a batch stay in the cores' caches
    _accept_sparse = False  # convolutions take dense images
    _lanes = 64

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__doc__:
            cls.__doc__ = cls.__doc__.replace(
                "    <test-time augmentation>", TEST_TIME_DOC
            )

    def _fit_input(self, X):
        self.input_mean_, self.input_scale_ = 0.0, 1.0
        if self.normalize:  # from at most 2,000 evenly spaced rows: plenty
            sample = X[:: max(1, len(X) // 2000)].astype(np.float64)
            std = float(sample.std())
            self.input_mean_ = float(sample.mean())
            self.input_scale_ = 1.0 / std if std > 0 else 1.0

    def _augment_options(self) -> dict | None:
        """The distortions asked for by ``augment``, or None."""
        if self.augment is None or self.augment is False:
            return None
        if self.augment is True:
            return dict(AUGMENT_DEFAULTS)
        known = [*AUGMENT_DEFAULTS, "flip"]
        unknown = set(self.augment) - set(known)
        if unknown:
            raise ValueError(
                f"augment has unknown keys {sorted(unknown)}; expected some of "
                f"{sorted(known)} (e.g. augment={AUGMENT_DEFAULTS})."
            )
        return {"shift": 0.0, "rotation": 0.0, "scale": 0.0, **self.augment}

    @property
    def test_time_views_(self) -> list:
        """The copies predictions average (``test_time_augmentation``), each
        ``(mirrored, down, right)``: whether the image is mirrored left to
        right, then shifted by that many pixels; ``[(False, 0, 0)]`` without."""
        check_is_fitted(self)
        options = self.test_time_augmentation or {}
        unknown = set(options) - {"flip", "shift"}
        shift = options.get("shift", 0)
        side = min(self.image_shape_[:2])
        if unknown or not isinstance(options.get("flip", False), bool) or not (
            isinstance(shift, Integral) and 0 <= shift < side
        ):  # fmt: skip
            raise ValueError(
                f"test_time_augmentation={self.test_time_augmentation!r}: expected "
                "a dict with 'flip' (True or False) and/or 'shift' (whole pixels, "
                f"0 to {side - 1}), e.g. {{'flip': True, 'shift': 1}}."
            )
        flips = [False, True] if options.get("flip", False) else [False]
        shifts = [(0, 0), (shift, shift), (-shift, -shift)] if shift else [(0, 0)]
        return [(flip, dy, dx) for dy, dx in shifts for flip in flips]

    def _test_time_views(self, rows) -> list:
        views = self.test_time_views_
        if len(views) == 1:
            return [rows]
        height, width, channels = self.image_shape_
        images = rows.reshape(len(rows), height, width, channels)
        copies = []
        for mirrored, dy, dx in views:
            if not (mirrored or dy or dx):  # the image itself: no copy
                copies.append(rows)
                continue
            image = images[:, :, ::-1] if mirrored else images
            # pixel (r, q) of the copy is pixel (r - dy, q - dx) of the image;
            # what comes in is 0, as the padding
            rows_to, rows_from = _overlap(height, dy)
            cols_to, cols_from = _overlap(width, dx)
            copy = np.zeros_like(images)
            copy[:, rows_to, cols_to] = image[:, rows_from, cols_from]
            copies.append(copy.reshape(len(rows), -1))
        return copies

    def _input_layers(self, image_shape, field) -> list:
        """Image rows to standardised maps in ``field``, then augmentation if any."""
        self.test_time_views_  # noqa: B018  (checks test_time_augmentation at fit)
        image = ImageInput(image_shape, field, self.input_mean_, self.input_scale_)
        options = self._augment_options()
        if options is None:
            return [image]
        try:
            augment = RandomAffine(
                **options, fill=image.background, extent=tuple(image_shape[:2])
            )
        except ValueError as exc:
            message = str(exc).removeprefix("RandomAffine: ")
            raise ValueError(f"augment={self.augment!r}: {message}") from None
        return [image, augment]

    def _layer_names(self) -> list:
        """``input``, ``augment``, ``conv1``, ``pool1``, ``dense1``, ..., ``output``."""
        counts, names = Counter(), []
        kinds = ((Conv2D, "conv"), ((Pool2D, GlobalPool2D), "pool"),
                 (Dense, "dense"), (Dropout, "dropout"),
                 (Residual, "res"))  # fmt: skip
        for index, layer in enumerate(self.layers_):
            if isinstance(layer, ImageInput):
                names.append("input")
            elif isinstance(layer, RandomAffine):
                names.append("augment")
            elif index == len(self.layers_) - 1:
                names.append("output")
            else:
                kind = next((k for cls, k in kinds if isinstance(layer, cls)), None)
                if kind is None:
                    names.append("")
                else:
                    counts[kind] += 1
                    names.append(f"{kind}{counts[kind]}")
        return names

    def _training_threads(self):
        # The convolutions and pooling run in numba kernels: give them the
        # cores, and keep BLAS (the dense layers) on the calling thread, so that
        # the two thread pools never compete.
        stack = ExitStack()
        stack.enter_context(parallel_section(self.n_jobs))
        stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        return stack


def _smallest_side(n: int, layers: list) -> int:
    """The smallest side >= n along which every layer's geometry works out."""
    for side in range(max(n, 1), max(n, 1) + 4096):
        try:
            walk_shapes(layers, (side, side, 1))
        except ValueError:
            continue
        return side
    raise ValueError(f"No input size from {n} up fits the layers {layers}.")


@training_estimator(
    {
        "conv_filters": (32, 64),
        "kernel_size": 5,
        "padding": "same",
        "pooling": "max",
        "pool_size": 2,
        "hidden_layer_sizes": (128,),
        "activation": "relu",
        "dropout": 0.0,
        "augment": None,
        "test_time_augmentation": None,
        "layers": None,
        "normalize": True,
        "batch_norm": False,
        "head": "flatten",
    },
    **CONVNET_TRAINING,
)
class ConvNetClassifier(BaseConvNetClassifier):
    """Convolutional network of any shape: conv blocks, dense layers, softmax.

    By default the network is a stack of *conv blocks*, one per entry of
    ``conv_filters`` (a convolution of ``kernel_size`` with ``padding``, then
    ``activation``, then ``pooling``), the maps flattened, one dense layer per
    entry of ``hidden_layer_sizes`` (each followed by ``activation`` and, if
    ``dropout`` > 0, by :class:`~skcnn.layers.Dropout`), and a dense output
    layer with a softmax. Every one of these is a plain parameter, so
    ``GridSearchCV`` searches over architectures. Images are standardised
    (``normalize``) and, if they are too small for the blocks' poolings,
    centred in the smallest zero-padded field that fits them.

    Any other stack is declared with ``layers``: a list of layers from
    :mod:`skcnn.layers`, which takes precedence over the block parameters. The
    estimator puts the image input in front (standardised, augmented when
    ``augment`` says so, never padded) and the output layer behind (a Flatten
    first when the stack ends with feature maps); the stack is checked, layer
    by layer, before any training.

    Parameters
    ----------
    conv_filters : tuple of int, default=(32, 64)
        Filters of each conv block, in order; ``()`` for no convolution.
    kernel_size : int, default=5
        Height and width of every filter of the blocks.
    padding : int or {'same', 'valid'}, default='same'
        Zero padding of the blocks' convolutions ('same' keeps the size; it
        needs an odd ``kernel_size``).
    pooling : {'max', 'avg'} or None, default='max'
        Pooling at the end of each block; None for none.
    pool_size : int, default=2
        Window and step of the pooling.
    hidden_layer_sizes : tuple of int, default=(128,)
        Units of each dense hidden layer after the blocks.
    activation : {'relu', 'tanh', 'logistic', 'sigmoid'}, default='relu'
        Nonlinearity after every convolution and hidden dense layer.
    dropout : float, default=0.0
        Dropout rate after each hidden dense layer (0 for none).
    augment : bool, dict or None, default=None
        Random affine distortions of each training image in every minibatch
        (never at predict): True for ``{'shift': 0.1, 'rotation': 10,
        'scale': 0.1}`` (shift as a fraction of the image's side, rotation in
        degrees, relative scaling), a dict for other amounts (missing keys
        mean no such distortion; ``'flip': True`` also mirrors half the images
        left to right, for natural images, never for digits), None or False
        for none.
    <test-time augmentation>
    layers : list of layers, default=None
        The hidden stack, from :mod:`skcnn.layers`; overrides the block
        parameters above.
    normalize : bool, default=True
        Standardise the input (one mean and one standard deviation over all
        pixels, learned from the first training set).
    batch_norm : bool, default=False
        A :class:`~skcnn.layers.BatchNormalization` after each convolution and
        each hidden dense layer, before the activation.
    head : {'flatten', 'global_avg', 'global_max'}, default='flatten'
        How the last maps become a vector for the dense layers: flattened, or
        one mean (max) per channel (:class:`~skcnn.layers.GlobalAveragePooling2D`,
        fewer weights and any image size).
    <training parameters>

    Attributes
    ----------
    input_mean_ : float
        Mean of the training pixels (0 when ``normalize=False``).
    input_scale_ : float
        One over their standard deviation (1 when ``normalize=False``).
    <trained attributes>

    See Also
    --------
    LeNet5Classifier : the network of LeCun et al. (1998), declared the same way.
    skcnn.layers : the layers of a declared stack.

    Examples
    --------
    >>> from skcnn import ConvNetClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.layers import Activation, Conv2D, Dense, Flatten, MaxPool2D
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = ConvNetClassifier(conv_filters=(8, 16), kernel_size=3, random_state=0)
    >>> print(f"{clf.fit(X[:1500], y[:1500]).score(X[1500:], y[1500:]):.2f}")
    0.92
    >>> stack = [Conv2D(16, 3, padding="same"), Activation("relu"), MaxPool2D(2),
    ...          Flatten(), Dense(32), Activation("relu")]
    >>> clf = ConvNetClassifier(layers=stack, random_state=0).fit(X[:1500], y[:1500])
    >>> print(clf.summary())
            layer                                            output shape  parameters
    input   ImageInput(image_shape=(8, 8, 1), field=(8, 8))  (8, 8, 1)              0
    conv1   Conv2D(16, size=3, padding='same')               (8, 8, 16)           160
            Activation('relu')                               (8, 8, 16)             0
    pool1   MaxPool2D(2, stride=2)                           (4, 4, 16)             0
            Flatten()                                        (256,)                 0
    dense1  Dense(32)                                        (32,)              8,224
            Activation('relu')                               (32,)                  0
    output  Dense(10)                                        (10,)                330
    total                                                                       8,714
    """

    _parameter_constraints: dict = {
        **BaseConvNetClassifier._parameter_constraints,
        "conv_filters": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "padding": [
            StrOptions({"same", "valid"}),
            Interval(Integral, 0, None, closed="left"),
        ],
        "pooling": [StrOptions(set(POOLING)), None],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "layers": [list, tuple, None],
        "batch_norm": ["boolean"],
        "head": [StrOptions(set(MAP_HEADS))],
    }

    def _blocks(self) -> list:
        """The conv blocks that the parameters declare."""
        blocks = []
        for filters in positive_ints("conv_filters", self.conv_filters):
            try:
                conv = Conv2D(filters, self.kernel_size, padding=self.padding)
            except ValueError as exc:
                raise ValueError(f"kernel_size and padding: {exc}") from None
            norm = [BatchNormalization()] if self.batch_norm else []
            blocks += [conv, *norm, Activation(self.activation)]
            if self.pooling is not None:
                blocks.append(POOLING[self.pooling](self.pool_size))
        return blocks

    def _dense(self) -> list:
        """The hidden dense layers that the parameters declare."""
        layers = []
        for units in positive_ints("hidden_layer_sizes", self.hidden_layer_sizes):
            norm = [BatchNormalization()] if self.batch_norm else []
            layers += [Dense(units), *norm, Activation(self.activation)]
            if self.dropout:
                layers.append(Dropout(self.dropout))
        return layers

    def _declared_stack(self) -> list:
        """The user's ``layers``, checked to be layers (a shallow copy)."""
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise ValueError(
                    f"layers[{index}] is {layer!r} (a {type(layer).__name__}), not a "
                    "layer; build the stack from skcnn.layers, e.g. [Conv2D(32, 3, "
                    "padding='same'), Activation('relu'), MaxPool2D(2)]."
                )
        return copy.deepcopy(list(self.layers))  # later edits cannot reach the fit

    def _build_layers(self, in_shape, n_classes):
        height, width, channels = in_shape
        if self.layers is not None:
            hidden, field = self._declared_stack(), (height, width)
            label = None  # layers[index]
        else:
            blocks = self._blocks()
            field = (_smallest_side(height, blocks), _smallest_side(width, blocks))
            hidden = [*blocks, MAP_HEADS[self.head](), *self._dense()]
            label = "layer {} of the declared network".format
        inputs = self._input_layers(in_shape, field)
        # checked here, so that errors name the index in the user's list
        shape = walk_shapes(hidden, (*field, channels), label)[-1]
        flatten = [Flatten()] if len(shape) == 3 else []
        return [*inputs, *hidden, *flatten, Dense(n_classes)]
