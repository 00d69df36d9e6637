"""ONNX graphs of skcnn's estimators: skl2onnx shape calculators and converters.

Every converter reproduces the estimator's own inference, step by step:

- **input** as skcnn's validation reads it: flat rows or image arrays
  ``(n, H, W[, C])`` reshaped to rows; integer and boolean input via float64
  (as scikit-learn's validation converts it), then the compute dtype: float32
  for k-NN; for a network, the dtype it was fitted in (``compute_dtype_``,
  that of its weights): its ``dtype`` parameter, or with
  ``dtype=None`` (the default of the MLP and the linear model) float64 after
  float64 training data and float32 after float32 or uint8;
- **networks** (``layers_`` with ``params_``): the image input layer (rows in
  ``(H, W, C)`` order to NCHW maps, centred and zero-padded in the field, then
  ``(v - offset) * scale``), Conv2D (its ``(filters, channels, size, size)``
  weights are ONNX's OIHW layout), MaxPool2D / AvgPool2D, Activation
  ('identity' adds no node), Flatten (NCHW order, as skcnn flattens its
  ``(C, H, W, n)`` maps), Dense as Gemm; Dropout and the augmentation are
  identities at inference. The output head is the estimator's
  ``out_activation_``: with 'softmax', the label is the first largest logit
  (``predict``) and the probabilities a float64 softmax of the logits
  (``predict_proba``); with 'logistic' and one output (a two-class
  MLPClassifier, as scikit-learn's MLP), the label is ``classes_[1]`` where
  the logit z is > 0, else ``classes_[0]``, and the probabilities the float64
  sigmoids ``[sigmoid(-z), sigmoid(z)]``. Multilabel networks (several
  logistic outputs) are refused: skl2onnx's classifier outputs hold one label
  per row. onnxruntime has no float64 Conv or AveragePool, so networks that
  compute in float64 convolve and average by slicing the windows and one
  MatMul or ReduceSum, in float64 throughout;
- **k-NN** (:func:`knn_graph`): skcnn's exact search and vote, see there.

A layer or setting without a faithful conversion raises an error naming it.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.common.utils_classifier import get_label_classes

from skcnn._heads import SoftmaxHead, head_of
from skcnn._knn import CANDIDATE_MARGIN
from skcnn._layers import (
    Activation,
    AvgPool2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    ImageInput,
    MaxPool2D,
    RandomAffine,
    Residual,
    walk_shapes,
)

MIN_OPSET = 13
"""Lowest ONNX opset the graphs are written for (ReduceSum with its axes as an
input, Softmax over one axis)."""

_DOUBLE = TensorProto.DOUBLE
_FLOAT = TensorProto.FLOAT
_INT64 = TensorProto.INT64
_ONNX_DTYPE = {np.dtype(np.float32): _FLOAT, np.dtype(np.float64): _DOUBLE}

_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "logistic": "Sigmoid",
                "sigmoid": "Sigmoid", "identity": None}  # fmt: skip
"""skcnn's activation names -> ONNX operators (None: no node, the input as is)."""


class _Graph:
    """Adds nodes and constants to a model under construction, with unique names.

    ``nodes=None`` adds nodes to the skl2onnx container; a list collects them
    for a subgraph (a Scan body), whose constants still go to the container
    (a subgraph may read the outer graph's values).
    """

    def __init__(self, scope, container, prefix, nodes=None, constants=None):
        self.scope, self.container, self.prefix = scope, container, prefix
        self.nodes = nodes
        # one initializer per value: onnxruntime merges equal initializers and
        # cannot rename those a Scan body reads (it warns, at every load)
        self.constants = {} if constants is None else constants

    def subgraph(self, nodes):
        """A graph for a subgraph's ``nodes``, sharing names and constants."""
        return _Graph(self.scope, self.container, self.prefix, nodes, self.constants)

    def name(self, hint):
        return self.scope.get_unique_variable_name(f"{self.prefix}_{hint}")

    def const(self, value, hint="const"):
        """An initializer holding ``value`` (a numpy array or scalar); its name."""
        array = np.asarray(value)
        content = tuple(array.ravel()) if array.dtype == object else array.tobytes()
        key = (array.dtype.str, array.shape, content)
        if key not in self.constants:
            name = self.name(hint)
            if array.dtype == object:  # strings (bytes), stored as a list
                tensor, data_type = list(array.ravel()), TensorProto.STRING
            else:
                tensor = numpy_helper.from_array(array, name)
                data_type = tensor.data_type
            self.container.add_initializer(name, data_type, list(array.shape), tensor)
            self.constants[key] = name
        return self.constants[key]

    def ints(self, *values):
        """A constant int64 vector (shapes, axes, K of TopK)."""
        return self.const(np.array(values, dtype=np.int64), "ints")

    def op(self, op_type, *inputs, n_out=1, out=None, **attrs):
        """Add one node; return its output name (a list when ``n_out`` > 1)."""
        outputs = [out] if out is not None else []
        outputs += [self.name(op_type.lower()) for _ in range(n_out - len(outputs))]
        node_name = self.scope.get_unique_operator_name(f"{self.prefix}_{op_type}")
        if self.nodes is None:
            self.container.add_node(
                op_type, list(inputs), outputs, name=node_name, **attrs
            )
        else:
            node = helper.make_node(op_type, list(inputs), outputs, name=node_name,
                                    **attrs)  # fmt: skip
            self.nodes.append(node)
        return outputs[0] if n_out == 1 else outputs

    def reduce_sum(self, x, axis, keepdims):
        return self.op("ReduceSum", x, self.ints(axis), keepdims=int(keepdims))


# -- shapes, types, labels -------------------------------------------------------


def _estimator_name(model) -> str:
    return type(model).__name__


def check_opset(container, model) -> None:
    """Refuse a target opset below :data:`MIN_OPSET`, naming the estimator."""
    opset = container.target_opset
    if opset is not None and opset < MIN_OPSET:
        raise RuntimeError(
            f"{_estimator_name(model)}: skcnn's ONNX converters need "
            f"target_opset >= {MIN_OPSET}; got target_opset={opset}."
        )


def label_values(model, classes):
    """The class labels as an ONNX tensor: ``(values, TensorProto type)``.

    Integers and booleans become int64, strings stay strings, and floats that
    are whole numbers become int64, as in skl2onnx's own classifiers.
    """
    classes = np.asarray(classes)
    if classes.dtype == np.bool_ or np.issubdtype(classes.dtype, np.integer):
        return classes.astype(np.int64), _INT64
    if np.issubdtype(classes.dtype, np.floating):
        if not np.all(np.isfinite(classes) & (classes == np.round(classes))):
            raise ValueError(
                f"{_estimator_name(model)} has class labels {classes!r}: ONNX "
                "classifiers return int64 or string labels, so float labels "
                "must be whole numbers. Encode the classes as integers or "
                "strings (e.g. with a LabelEncoder) before fitting."
            )
        return classes.astype(np.int64), _INT64
    strings = np.array([str(c).encode("utf-8") for c in classes], dtype=object)
    return strings, TensorProto.STRING


def _check_input(model, variable) -> None:
    """The input must be numeric, with one image's worth of values per row."""
    kind = type(variable.type).__name__
    if isinstance(variable.type, StringTensorType) or not hasattr(
        variable.type, "shape"
    ):
        raise TypeError(
            f"{_estimator_name(model)} takes numeric images (float, double, uint8 "
            f"or other integers); the ONNX input {variable.raw_name!r} is {kind}."
        )
    shape = list(variable.type.shape or [])
    per_sample = shape[1:]
    if per_sample and all(isinstance(d, int | np.integer) for d in per_sample):
        n_values = int(np.prod(per_sample))
        if len(shape) not in (2, 3, 4) or n_values != model.n_features_in_:
            raise ValueError(
                f"{_estimator_name(model)} was fitted on {model.n_features_in_} "
                f"values per image (image_shape_={model.image_shape_}); the ONNX "
                f"input {variable.raw_name!r} has shape {shape}. Declare the input "
                f"as [None, {model.n_features_in_}] or [None, *image_shape_]."
            )


def _check_single_label(model) -> None:
    """Refuse a multilabel network (several logistic outputs, a 0/1 y matrix)."""
    if hasattr(model, "out_activation_") and head_of(model).multilabel:
        raise NotImplementedError(
            f"{_estimator_name(model)} fitted on a multilabel y "
            f"({model.n_outputs_} labels, one sigmoid output each) has no ONNX "
            "conversion: multilabel networks are not converted, since skl2onnx's "
            "classifier outputs hold one label per row. skcnn.onnx converts "
            "networks fitted on one class label per sample."
        )


def calculate_output_types(operator) -> None:
    """Shape calculator: the label and probability types of any skcnn classifier.

    ``label`` is int64 (or string, for string classes) of shape ``[N]``;
    ``probabilities`` is ``[N, n_classes]``, double for double input (unless a
    ZipMap follows, which takes float only), else float.
    """
    model = operator.raw_operator
    if len(operator.inputs) != 1 or len(operator.outputs) != 2:
        raise RuntimeError(
            f"{_estimator_name(model)} converts with one input and two outputs "
            f"(label, probabilities); got {len(operator.inputs)} and "
            f"{len(operator.outputs)}."
        )
    if getattr(model, "outputs_2d_", False):
        raise NotImplementedError(
            f"{_estimator_name(model)} fitted on {len(model.classes_)} outputs "
            "(a 2-D y, multi-output or multilabel) has no ONNX conversion; "
            "skcnn.onnx converts single-output classifiers."
        )
    _check_single_label(model)
    variable = operator.inputs[0]
    _check_input(model, variable)
    classes = get_label_classes(operator.scope_inst, model)
    _, label_type = label_values(model, classes)
    n = variable.get_first_dimension()
    labels = Int64TensorType if label_type == _INT64 else StringTensorType
    operator.outputs[0].set_type(labels([n]))
    # ONNX's ZipMap takes float only: with it (zipmap=True, skl2onnx's
    # default) the probabilities are float whatever the input
    zipmap = operator.scope_inst.get_options(model, {"zipmap": True})["zipmap"]
    double = isinstance(variable.type, DoubleTensorType) and zipmap is not True
    floats = DoubleTensorType if double else FloatTensorType
    operator.outputs[1].set_type(floats([n, len(classes)]))


def input_rows(g, variable, n_features, dtype):
    """The input as ``(n, n_features)`` rows of ``dtype`` (float32 or float64).

    Integer and boolean input goes through float64 first, as scikit-learn's
    validation converts it before skcnn casts to its compute dtype.
    """
    x = variable.full_name
    if len(variable.type.shape or []) != 2:
        x = g.op("Reshape", x, g.ints(-1, n_features))
    target = _ONNX_DTYPE[np.dtype(dtype)]
    if isinstance(variable.type, DoubleTensorType | FloatTensorType):
        source = _DOUBLE if isinstance(variable.type, DoubleTensorType) else _FLOAT
    else:
        x, source = g.op("Cast", x, to=_DOUBLE), _DOUBLE
    return x if source == target else g.op("Cast", x, to=target)


def write_outputs(g, operator, label_index, proba):
    """Write the two outputs: labels from ``label_index``, ``proba`` cast.

    label_index : int64 ``(n,)`` positions in ``classes_``; proba : float64
    ``(n, n_classes)``.
    """
    model = operator.raw_operator
    classes = get_label_classes(operator.scope_inst, model)
    values, _ = label_values(model, classes)
    label, probabilities = operator.outputs
    g.op("Gather", g.const(values, "classes"), label_index, axis=0,
         out=label.full_name)  # fmt: skip
    if isinstance(probabilities.type, DoubleTensorType):
        g.op("Identity", proba, out=probabilities.full_name)
    else:
        g.op("Cast", proba, to=_FLOAT, out=probabilities.full_name)


# -- networks --------------------------------------------------------------------


def _image_input(g, layer, params, x, in_shape, dtype, state=()):
    """Rows ``(H, W, C)`` -> NCHW maps centred in the field, ``(v - o) * s``."""
    height, width, channels = layer.image_shape
    field_h, field_w = layer.field
    x = g.op("Reshape", x, g.ints(-1, height, width, channels))
    x = g.op("Transpose", x, perm=[0, 3, 1, 2])
    if (field_h, field_w) != (height, width):
        top, left = (field_h - height) // 2, (field_w - width) // 2
        pads = g.ints(0, 0, top, left, 0, 0, field_h - height - top,
                      field_w - width - left)  # fmt: skip
        x = g.op("Pad", x, pads)  # zeros, which become -offset * scale below
    if layer.offset != 0:
        x = g.op("Sub", x, g.const(dtype.type(layer.offset), "offset"))
    if layer.scale != 1:
        x = g.op("Mul", x, g.const(dtype.type(layer.scale), "scale"))
    return x


def _windows(g, x, in_shape, size, stride):
    """The ``size`` x ``size`` windows of NCHW maps as ``(n, C, size**2, oh, ow)``.

    Tap ``ky * size + kx`` of output pixel ``(y, x)`` is input pixel
    ``(y * stride + ky, x * stride + kx)``; the geometry is whole (checked by
    skcnn's layers).
    """
    height, width, _ = in_shape
    out_h, out_w = (height - size) // stride + 1, (width - size) // stride + 1
    axes, steps = g.ints(2, 3), g.ints(stride, stride)
    taps = []
    for ky in range(size):
        for kx in range(size):
            ends = g.ints(ky + stride * (out_h - 1) + 1, kx + stride * (out_w - 1) + 1)
            tap = g.op("Slice", x, g.ints(ky, kx), ends, axes, steps)
            taps.append(g.op("Unsqueeze", tap, g.ints(2)))
    return g.op("Concat", *taps, axis=2) if len(taps) > 1 else taps[0]


def _conv2d(g, layer, params, x, in_shape, dtype, state=()):
    weight, bias = params
    pad, size, stride = layer.pad, layer.size, layer.stride
    if dtype == np.float32:
        return g.op(
            "Conv", x, g.const(weight, "weight"), g.const(bias, "bias"),
            kernel_shape=[size, size], strides=[stride, stride], pads=[pad] * 4,
        )  # fmt: skip
    # float64: onnxruntime has no double Conv; one MatMul over the windows
    height, width, channels = in_shape
    if pad:
        x = g.op("Pad", x, g.ints(0, 0, pad, pad, 0, 0, pad, pad))
    padded = (height + 2 * pad, width + 2 * pad, channels)
    out_h, out_w, filters = layer.output_shape(in_shape)
    taps = _windows(g, x, padded, size, stride)
    taps = g.op("Reshape", taps, g.ints(0, channels * size * size, out_h * out_w))
    matrix = g.const(weight.reshape(filters, -1), "weight")
    out = g.op("MatMul", matrix, taps)
    out = g.op("Add", out, g.const(bias.reshape(filters, 1), "bias"))
    return g.op("Reshape", out, g.ints(0, filters, out_h, out_w))


def _pool2d(g, layer, params, x, in_shape, dtype, state=()):
    size, stride = layer.size, layer.effective_stride
    if isinstance(layer, MaxPool2D) or dtype == np.float32:
        op_type = "MaxPool" if isinstance(layer, MaxPool2D) else "AveragePool"
        return g.op(op_type, x, kernel_shape=[size, size], strides=[stride, stride])
    # float64 average: onnxruntime has no double AveragePool; skcnn's sum * 1/F²
    total = g.reduce_sum(_windows(g, x, in_shape, size, stride), 2, keepdims=False)
    return g.op("Mul", total, g.const(dtype.type(1.0 / (size * size)), "scale"))


def _activation(g, layer, params, x, in_shape, dtype, state=()):
    if layer.name not in _ACTIVATIONS:
        raise NotImplementedError(
            f"Activation({layer.name!r}) has no ONNX conversion; skcnn.onnx "
            f"converts {sorted(_ACTIVATIONS)}."
        )
    op_type = _ACTIVATIONS[layer.name]
    return x if op_type is None else g.op(op_type, x)  # None: 'identity'


def _flatten(g, layer, params, x, in_shape, dtype, state=()):
    # maps (n, C, H, W) flatten in (C, H, W) order, as skcnn's Flatten does
    return g.op("Flatten", x, axis=1) if len(in_shape) == 3 else x


def _dense(g, layer, params, x, in_shape, dtype, state=()):
    weight, bias = params
    return g.op("Gemm", x, g.const(weight, "weight"), g.const(bias, "bias"))


def _identity(g, layer, params, x, in_shape, dtype, state=()):
    return x  # Dropout and RandomAffine act while training only


def _global_pool(g, layer, params, x, in_shape, dtype, state=()):
    """Mean (sum, then divided, as skcnn) or max of each NCHW map, to (N, C)."""
    height, width, channels = in_shape
    maps = g.op("Reshape", x, g.ints(0, channels, height * width))
    if isinstance(layer, GlobalMaxPooling2D):  # TopK: float and double alike
        largest, _ = g.op("TopK", maps, g.ints(1), axis=2, n_out=2)
        return g.op("Reshape", largest, g.ints(0, channels))
    total = g.reduce_sum(maps, 2, keepdims=False)
    return g.op("Div", total, g.const(dtype.type(height * width), "area"))


def _batch_norm(g, layer, params, x, in_shape, dtype, state=()):
    """Inference: ``x * scale + shift`` per channel (unit), from the running
    statistics, computed as skcnn computes them."""
    scale, shift = layer.inference_affine(params, state)
    shape = (1, -1, 1, 1) if len(in_shape) == 3 else (1, -1)
    x = g.op("Mul", x, g.const(scale.reshape(shape), "bn_scale"))
    return g.op("Add", x, g.const(shift.reshape(shape), "bn_shift"))


def _residual(g, layer, params, x, in_shape, dtype, state=()):
    """The block's layers, then their output plus the input or its 1x1
    projection (ONNX's strided Conv reads the windows that exist, as skcnn's)."""
    parts = layer.unpack(params, list(state), in_shape)
    n_block = len(layer.layers)
    out = x
    for part, part_shape, part_params, part_state in parts[:n_block]:
        out = _convert_layer(g, part, part_params, out, part_shape, dtype, part_state)
    if len(parts) > n_block:
        projection, part_shape, part_params, _ = parts[-1]
        x = _convert_layer(g, projection, part_params, x, part_shape, dtype, [])
    return g.op("Add", out, x)


LAYER_CONVERTERS = {
    ImageInput: _image_input,
    RandomAffine: _identity,
    Conv2D: _conv2d,
    MaxPool2D: _pool2d,
    AvgPool2D: _pool2d,
    BatchNormalization: _batch_norm,
    GlobalAveragePooling2D: _global_pool,
    GlobalMaxPooling2D: _global_pool,
    Activation: _activation,
    Flatten: _flatten,
    Dense: _dense,
    Dropout: _identity,
    Residual: _residual,
}
"""Layer class (exactly: a subclass may compute otherwise) -> graph builder
``(g, layer, params, x, in_shape, dtype, state=())``: ``state`` is the layer's
state that is not trained (:meth:`skcnn.layers.Layer.init_state`), passed to
layers that have some."""


def _convert_layer(g, layer, params, x, in_shape, dtype, state):
    """``layer``'s graph on ``x``, its state passed to layers that have some."""
    convert = LAYER_CONVERTERS.get(type(layer))
    if convert is None:  # in a residual block (the network's are checked first)
        raise NotImplementedError(
            f"{layer!r} (class {type(layer).__module__}.{type(layer).__qualname__}) "
            "in a residual block has no ONNX conversion."
        )
    extra = {"state": state} if state else {}
    return convert(g, layer, params, x, in_shape, dtype, **extra)


def _unsupported_layer(model, index, layer) -> NotImplementedError:
    public = (
        "Conv2D, MaxPool2D, AvgPool2D, GlobalAveragePooling2D, GlobalMaxPooling2D, "
        "BatchNormalization, Dense, Activation, Flatten, Dropout, Residual"
    )
    return NotImplementedError(
        f"{_estimator_name(model)}: layers_[{index}] = {layer!r} (class "
        f"{type(layer).__module__}.{type(layer).__qualname__}) has no ONNX "
        f"conversion. skcnn.onnx converts skcnn's own layers ({public}) and "
        "the image input the estimator adds, not subclasses or layers of your "
        "own."
    )


def compute_dtype(model) -> np.dtype:
    """The dtype a fitted network computes in: that of its weights.

    Not the ``dtype`` parameter, which may be None ("follow X": float64 X
    trains float64 weights, float32 or uint8 X float32 ones).
    """
    return np.dtype(model.compute_dtype_)


def _output_head(g, model, logits, dtype):
    """``(label_index, proba)`` from the logits, as ``predict`` and
    ``predict_proba`` read them: int64 ``(n,)`` positions in ``classes_`` and
    float64 ``(n, n_classes)`` probabilities.

    A softmax head: the first largest logit, a float64 softmax. One logistic
    output z (a two-class MLPClassifier): ``classes_[1]`` where z > 0 (strictly),
    probabilities ``[sigmoid(-z), sigmoid(z)]`` of the float64 logit.
    """
    z = logits if dtype == np.float64 else g.op("Cast", logits, to=_DOUBLE)
    if isinstance(head_of(model), SoftmaxHead):
        label_index = g.op("ArgMax", logits, axis=1, keepdims=0)
        return label_index, g.op("Softmax", z, axis=1)
    positive = g.op("Greater", logits, g.const(dtype.type(0), "zero"))
    label_index = g.op("Cast", g.op("Reshape", positive, g.ints(-1)), to=_INT64)
    proba = g.op("Sigmoid", g.op("Concat", g.op("Neg", z), z, axis=1))
    return label_index, proba


def convert_network(scope, operator, container) -> None:
    """Converter of the networks: their ``layers_`` and ``params_`` as a graph."""
    model = operator.raw_operator
    check_opset(container, model)
    _check_single_label(model)
    g = _Graph(scope, container, "skcnn")
    dtype = compute_dtype(model)
    for index, layer in enumerate(model.layers_):  # refuse before building
        if type(layer) not in LAYER_CONVERTERS:
            raise _unsupported_layer(model, index, layer)
    x = input_rows(g, operator.inputs[0], model.n_features_in_, dtype)
    views = getattr(model, "test_time_views_", [(False, 0, 0)])
    if len(views) > 1:  # the copies one after the other, as one batch
        x = _test_time_copies(g, x, model.image_shape_, views)
    shapes = walk_shapes(model.layers_, (model.n_features_in_,))
    for layer, params, state, in_shape in zip(
        model.layers_, model.params_, model.states_, shapes, strict=False
    ):
        # in the compute dtype, as skcnn casts weights a user assigned
        params = [np.ascontiguousarray(p, dtype=dtype) for p in params]
        # a layer's state that is not trained: constants of the graph
        state = [np.ascontiguousarray(a, dtype=dtype) for a in state]
        x = _convert_layer(g, layer, params, x, in_shape, dtype, state)
    if len(views) > 1:  # the mean of each sample's logits over its copies
        x = g.op("Reshape", x, g.ints(len(views), -1, model.n_outputs_))
        x = g.reduce_sum(x, 0, keepdims=False)
        x = g.op("Div", x, g.const(dtype.type(len(views)), "n_views"))
    label_index, proba = _output_head(g, model, x, dtype)
    write_outputs(g, operator, label_index, proba)


def _test_time_copies(g, x, image_shape, views):
    """Rows ``(n, F)`` -> ``(len(views) * n, F)``: each view's copies (mirrored
    left to right, then shifted with zeros coming in), view after view."""
    height, width, channels = image_shape
    images = g.op("Reshape", x, g.ints(-1, height, width, channels))
    copies = []
    for mirrored, dy, dx in views:
        image = images
        if mirrored:
            image = g.op("Slice", image, g.ints(width - 1), g.ints(-width - 1),
                         g.ints(2), g.ints(-1))  # fmt: skip
        if dy or dx:  # pad on the side the image moves to, cut the other
            top, left, bottom, right = max(dy, 0), max(dx, 0), max(-dy, 0), max(-dx, 0)
            image = g.op("Pad", image, g.ints(0, top, left, 0, 0, bottom, right, 0))
            starts = g.ints(bottom, right)
            image = g.op("Slice", image, starts, g.ints(bottom + height, right + width),
                         g.ints(1, 2))  # fmt: skip
        copies.append(g.op("Reshape", image, g.ints(-1, height * width * channels)))
    return g.op("Concat", *copies, axis=0)


# -- k nearest neighbours --------------------------------------------------------


def neighbours_needed(units, k) -> int:
    """How many neighbours can be needed to gather ``k`` units of sample weight.

    The smallest m such that *any* m training images fill the vote (as
    skcnn's vote tests it, with ``isclose``), i.e. the m smallest weights do;
    every training image when the weights never add up to k.
    """
    filled_at = np.cumsum(np.sort(units))
    filled = np.isclose(filled_at, k) | (filled_at > k)
    return int(np.argmax(filled)) + 1 if filled.any() else len(units)


def _rerank(g, stored, query, candidates, n_candidates, n_vote, squared):
    """Exact float64 distances to the candidates; the first ``n_vote`` by
    (distance, training index): skcnn's re-ranking, for one query."""
    rows = g.op("Cast", g.op("Gather", stored, candidates, axis=0), to=_DOUBLE)
    diff = g.op("Sub", rows, g.op("Cast", query, to=_DOUBLE))
    terms = g.op("Mul", diff, diff) if squared else g.op("Abs", diff)
    exact = g.reduce_sum(terms, 1, keepdims=False)
    # candidates in index order, so that TopK's tie rule (lower position
    # first) orders equal distances by training index
    by_index, order = g.op("TopK", candidates, g.ints(n_candidates), n_out=2,
                           largest=0, sorted=1)  # fmt: skip
    dist, position = g.op("TopK", g.op("Gather", exact, order, axis=0),
                          g.ints(n_vote), n_out=2, largest=0, sorted=1)  # fmt: skip
    index = g.op("Gather", by_index, position, axis=0)
    return (g.op("Sqrt", dist) if squared else dist), index


def _scan(g, inputs, build_body):
    """A Scan over the rows of ``inputs`` ((name, elem_type, row_shape) each);
    ``build_body(body_graph, *row_names)`` returns the (dist, index) rows."""
    nodes = []
    body = g.subgraph(nodes)
    rows = [(body.name("row"), elem_type, shape) for _, elem_type, shape in inputs]
    dist, index = build_body(body, *(name for name, _, _ in rows))
    graph = helper.make_graph(
        nodes,
        g.scope.get_unique_operator_name(f"{g.prefix}_search"),
        [helper.make_tensor_value_info(*row) for row in rows],
        [helper.make_tensor_value_info(dist, _DOUBLE, None),
         helper.make_tensor_value_info(index, _INT64, None)],
    )  # fmt: skip
    return g.op("Scan", *(name for name, _, _ in inputs), n_out=2, body=graph,
                num_scan_inputs=len(inputs))  # fmt: skip


def knn_graph(g, model, x):
    """The vote of a fitted KNNImageClassifier for float32 query rows x.

    As skcnn's ``predict_proba``: images of weight 0 are left out (they never
    vote); a first pass ranks every training image in float32 and keeps
    ``m + 8`` candidates per query (``m``: :func:`neighbours_needed`), where
    L2 ranks ``|t - c|² - 2 (q - c)·(t - c)`` (c the training mean) by one
    Gemm over the batch and L1 sums ``|q - t|`` in a Scan over the queries
    (never an ``(n_queries, n_train, n_features)`` tensor); the candidates are
    re-ranked by exact float64 distances, equal distances in training order,
    and the first m vote with skcnn's shares of sample weight, uniform or
    ``1 / distance`` (all to the neighbours at distance 0 when there are
    some). Returns ``(label_index, proba)``: the first class of largest vote,
    and the float64 shares.
    """
    keep = model.sample_weight_ > 0
    stored = np.ascontiguousarray(model.X_fit_[keep])  # uint8 or float32
    units = model.sample_weight_[keep].astype(np.float64)
    codes = model.y_fit_[keep, 0]
    k = model.n_neighbors
    if k > model.n_samples_fit_:
        raise ValueError(
            f"KNNImageClassifier(n_neighbors={k}) was fitted on "
            f"{model.n_samples_fit_} images: it cannot predict (n_neighbors <= "
            "n_samples_fit is needed), so it has no ONNX conversion."
        )
    n_stored, n_features = stored.shape
    n_vote = neighbours_needed(units, k)
    n_candidates = min(n_vote + CANDIDATE_MARGIN, n_stored)
    squared = model.effective_metric_ == "l2"
    train = g.const(stored, "train")
    train32 = train if stored.dtype == np.float32 else g.op("Cast", train, to=_FLOAT)

    def rerank(body, query, candidates):
        return _rerank(body, train, query, candidates, n_candidates, n_vote, squared)

    def search_l1(body, query):
        total = body.reduce_sum(
            body.op("Abs", body.op("Sub", train32, query)), 1, keepdims=False
        )
        _, candidates = body.op("TopK", total, body.ints(n_candidates), n_out=2,
                                largest=0, sorted=1)  # fmt: skip
        return rerank(body, query, candidates)

    row = (x, _FLOAT, [n_features])
    if squared:
        mean = np.mean(stored, axis=0, dtype=np.float64).astype(np.float32)
        center = g.const(mean, "center")
        train_c = g.op("Sub", train32, center)
        norms = g.reduce_sum(g.op("Mul", train_c, train_c), 1, keepdims=False)
        scores = g.op("Gemm", g.op("Sub", x, center), train_c, norms, alpha=-2.0,
                      beta=1.0, transB=1)  # fmt: skip
        _, candidates = g.op("TopK", scores, g.ints(n_candidates), n_out=2, axis=1,
                             largest=0, sorted=1)  # fmt: skip
        dist, index = _scan(g, [row, (candidates, _INT64, [n_candidates])], rerank)
    else:
        dist, index = _scan(g, [row], search_l1)
    weight = _vote_weights(g, model, g.const(units, "units"), k, dist, index)
    n_classes = len(model.classes_)
    onehot = np.eye(n_classes)[codes]
    votes = g.op("Mul", g.op("Gather", g.const(onehot, "onehot"), index, axis=0),
                 g.op("Unsqueeze", weight, g.ints(2)))  # fmt: skip
    votes = g.reduce_sum(votes, 1, keepdims=False)
    proba = g.op("Div", votes, g.reduce_sum(votes, 1, keepdims=True))
    return g.op("ArgMax", proba, axis=1, keepdims=0), proba


def _vote_weights(g, model, units, k, dist, index):
    """skcnn's vote weights of the sorted neighbours ``(n, m)``, float64.

    ``share = clip(k - (cumsum(units) - units), 0, units)``; 'distance' divides
    it by the distance, or keeps only the neighbours at distance 0 if any.
    """
    zero = g.const(np.float64(0.0), "zero")
    units = g.op("Gather", units, index, axis=0)
    before = g.op("Sub", g.op("CumSum", units, g.const(np.int64(1), "axis")), units)
    share = g.op("Sub", g.const(np.float64(k), "k"), before)
    share = g.op("Min", g.op("Max", share, zero), units)
    if model.weights == "uniform":
        return share
    positive = g.op("Greater", share, zero)
    exact = g.op("Cast", g.op("And", g.op("Equal", dist, zero), positive), to=_DOUBLE)
    has_exact = g.op("Greater", g.reduce_sum(exact, 1, keepdims=True), zero)
    inverse = g.op("Where", positive, g.op("Div", share, dist), zero)
    return g.op("Where", has_exact, g.op("Mul", exact, share), inverse)


def convert_knn(scope, operator, container) -> None:
    """Converter of KNNImageClassifier: its training set, TopK and the vote."""
    model = operator.raw_operator
    check_opset(container, model)
    g = _Graph(scope, container, "knn")
    x = input_rows(g, operator.inputs[0], model.n_features_in_, np.float32)
    label_index, proba = knn_graph(g, model, x)
    write_outputs(g, operator, label_index, proba)
