"""Export skcnn's estimators to ONNX with skl2onnx.

Importing this module registers a shape calculator and a converter with
skl2onnx for each estimator: :class:`~skcnn.KNNImageClassifier`,
:class:`~skcnn.LinearSoftmaxClassifier`, :class:`~skcnn.MLPClassifier`,
:class:`~skcnn.LeNet5Classifier` and :class:`~skcnn.ConvNetClassifier`. Then
``skl2onnx.to_onnx`` converts them alone or inside a ``Pipeline`` (after a
scaler, for instance) as it converts scikit-learn's classifiers: the graph's
outputs are ``label`` and ``probabilities``, and skl2onnx's classifier
options apply (``zipmap`` — True, False or ``'columns'`` —, ``nocl``,
``output_class_labels``), given per estimator type or per ``id(estimator)``.
``pip install skcnn[onnx]`` installs skl2onnx, onnx and onnxruntime.

The graphs compute what the estimator's ``predict`` and ``predict_proba``
compute:

- The input is what ``predict`` takes: flat rows of ``n_features_in_`` values
  or image arrays of ``image_shape_``, float, double, uint8 or other integers,
  converted as skcnn converts them: to float32 for k-NN; for a network, to
  the dtype its weights were fitted in, whatever the input's dtype: its
  ``dtype`` parameter, or with ``dtype=None`` (the default of
  ``MLPClassifier`` and ``LinearSoftmaxClassifier``) float64 after float64
  training data and float32 after float32 or uint8. ``label`` is int64, or
  string for string classes; ``probabilities`` are double for double input
  with ``zipmap=False``, float otherwise (ONNX's ZipMap takes float only).
- The networks: the image input (LeNet-5 centres the image in its field) and
  its standardisation, then the layers of ``layers_`` (``Conv2D``,
  ``MaxPool2D``, ``AvgPool2D``, ``Dense``, ``Activation``, ``Flatten``;
  ``Dropout`` and the ``augment`` distortions are identities at inference);
  the label of the first largest logit and a softmax in float64; a
  two-class ``MLPClassifier`` has one sigmoid output, as scikit-learn's MLP:
  the label is ``classes_[1]`` where its logit z is positive, else
  ``classes_[0]``, and the probabilities are ``[sigmoid(-z), sigmoid(z)]`` in
  float64. ``Activation('identity')`` adds no node. onnxruntime has no
  float64 convolution, so a network that computes in float64 convolves by
  slicing the windows and one MatMul, in float64.
- k nearest neighbours: the training images are in the graph (uint8 stays
  uint8). A float32 pass ranks them all, by one Gemm for L2 or, for L1, in a
  Scan over the queries (never an ``(n_queries, n_train, n_features)``
  tensor), and TopK keeps ``n_neighbors + 8`` candidates (more with sample
  weights); these are re-ranked by exact float64 distances, equal distances
  in training order, and vote as in skcnn (``weights`` 'uniform' or
  'distance', shares of ``sample_weight``, equal votes to the first class).
  The L2 pass holds an ``(n_queries, n_train)`` float32 matrix: run large
  batches in chunks. The L1 Scan takes many small steps per query; a session
  with ``intra_op_num_threads=1`` may run it faster than the default.

Not converted, with an error that names it: a layer other than skcnn's own
(a ``Layer`` of your own or a subclass of one of skcnn's), a k-NN fitted on
several outputs, a multilabel network (fitted on a 0/1 indicator y: one
sigmoid per label, while skl2onnx's classifier outputs hold one label per
row), float class labels that are not whole numbers, and
``target_opset`` below 13. A subclass of an estimator is converted once
registered (see :func:`convert_network_classifier`).

Labels agree with skcnn's, except where two classes' scores tie (or a
binary MLP's one logit is 0) within the rounding of the compute dtype;
probabilities agree to about 1e-6 on inputs of order 1 (float32 sums in
another order; larger logits, as from raw 0-255 pixels in a linear model,
differ more). k-NN ranks exactly, except for a query whose
float32 pass puts more than 8 images within its rounding of the last
neighbour (skcnn's search then falls back to float64; the graph does not).

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> from skl2onnx import to_onnx
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import MinMaxScaler
>>> import skcnn.onnx  # registers the converters
>>> from skcnn import KNNImageClassifier
>>> from skcnn.datasets import load_digits_images
>>> X, y = load_digits_images(return_X_y=True)
>>> X = X.astype(np.float32)
>>> pipe = make_pipeline(MinMaxScaler(), KNNImageClassifier(n_neighbors=3))
>>> pipe = pipe.fit(X[:1500], y[:1500])
>>> onx = to_onnx(pipe, X[:1], options={"zipmap": False})
>>> [output.name for output in onx.graph.output]
['label', 'probabilities']
>>> session = ort.InferenceSession(onx.SerializeToString())
>>> label, proba = session.run(None, {"X": X[1500:]})
>>> bool((label == pipe.predict(X[1500:])).all())
True
>>> bool(np.allclose(proba, pipe.predict_proba(X[1500:]), atol=1e-5))
True
"""

try:
    import onnx  # noqa: F401
    import skl2onnx
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "skcnn.onnx needs skl2onnx and onnx, which are not installed: install "
        "them with `pip install skcnn[onnx]` (onnxruntime, also in that extra, "
        f"runs the exported models). The import failed with: {exc}"
    ) from exc

from skcnn._convnet import ConvNetClassifier
from skcnn._knn import KNNImageClassifier
from skcnn._lenet import LeNet5Classifier
from skcnn._linear import LinearSoftmaxClassifier
from skcnn._mlp import MLPClassifier
from skcnn._onnx import calculate_output_types, convert_knn, convert_network

__all__ = [
    "CLASSIFIER_OPTIONS",
    "calculate_classifier_output_types",
    "convert_knn_image_classifier",
    "convert_network_classifier",
]

CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [False, True],
    "output_class_labels": [False, True],
}
"""skl2onnx's classifier options that the converters take, with their values:
the ``options`` to register a subclass of an estimator with (see
:func:`convert_network_classifier`)."""


def calculate_classifier_output_types(operator):
    """skl2onnx shape calculator shared by skcnn's classifiers.

    Declares the two outputs of the converted estimator: ``label``, int64 (or
    string for string classes) of shape ``[N]``, and ``probabilities``,
    ``[N, n_classes]``: double for double input unless a ZipMap follows (it
    takes float only), else float. Checks the input on the way: numeric, with
    ``n_features_in_`` values per sample.

    Parameters
    ----------
    operator : skl2onnx.common._topology.Operator
        The operator of the estimator being converted (``raw_operator``).

    Raises
    ------
    TypeError
        If the input is not numeric (strings, for instance).
    ValueError
        If the input's shape does not hold ``n_features_in_`` values per
        sample, or float class labels are not whole numbers.
    NotImplementedError
        If the estimator was fitted on a 2-D y: a k-NN on several outputs, or a
        multilabel network.

    See Also
    --------
    convert_network_classifier : the converter it goes with, for networks.
    convert_knn_image_classifier : the converter it goes with, for k-NN.

    Examples
    --------
    >>> import numpy as np
    >>> from skl2onnx import to_onnx
    >>> import skcnn.onnx
    >>> from skcnn import KNNImageClassifier
    >>> X = np.arange(40, dtype=np.float32).reshape(10, 4)
    >>> y = np.array(["odd", "even"] * 5)
    >>> knn = KNNImageClassifier(n_neighbors=1).fit(X, y)
    >>> onx = to_onnx(knn, X[:1], options={"zipmap": False})
    >>> [(o.name, o.type.tensor_type.elem_type) for o in onx.graph.output]
    [('label', 8), ('probabilities', 1)]
    """
    calculate_output_types(operator)


def convert_network_classifier(scope, operator, container):
    """skl2onnx converter of the networks: their ``layers_`` as an ONNX graph.

    Serves :class:`~skcnn.LinearSoftmaxClassifier`,
    :class:`~skcnn.MLPClassifier`, :class:`~skcnn.LeNet5Classifier` and
    :class:`~skcnn.ConvNetClassifier`, whose fitted ``layers_`` and
    ``params_`` say everything inference does; so it also converts a subclass
    of them that declares other layers, once registered (see the example).

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        Names the graph's variables.
    operator : skl2onnx.common._topology.Operator
        The fitted estimator (``raw_operator``), its input and two outputs.
    container : skl2onnx.common._container.ModelComponentContainer
        Receives the nodes and the weights.

    Raises
    ------
    NotImplementedError
        If ``layers_`` holds a layer that is not one of skcnn's own (a
        ``Layer`` subclass of your own, or a subclass of one of skcnn's
        layers); the message names it. If the network is multilabel.
    RuntimeError
        If the target opset is below 13.

    See Also
    --------
    calculate_classifier_output_types : the shape calculator it goes with.

    Examples
    --------
    A subclass is registered with the functions and options of its parent:

    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx, update_registered_converter
    >>> from skcnn import LinearSoftmaxClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.onnx import (
    ...     CLASSIFIER_OPTIONS,
    ...     calculate_classifier_output_types,
    ...     convert_network_classifier,
    ... )
    >>> class Templates(LinearSoftmaxClassifier):
    ...     pass
    >>> update_registered_converter(
    ...     Templates, "Templates", calculate_classifier_output_types,
    ...     convert_network_classifier, options=CLASSIFIER_OPTIONS,
    ... )
    >>> X, y = load_digits_images(return_X_y=True, scale=True)  # float32
    >>> clf = Templates(random_state=0).fit(X[:1500], y[:1500])
    >>> onx = to_onnx(clf, X[:1], options={Templates: {"zipmap": False}})
    >>> session = ort.InferenceSession(onx.SerializeToString())
    >>> label, proba = session.run(None, {"X": X[1500:]})
    >>> bool((label == clf.predict(X[1500:])).all())
    True
    >>> float(np.abs(proba - clf.predict_proba(X[1500:])).max()) < 1e-5
    True
    """
    convert_network(scope, operator, container)


def convert_knn_image_classifier(scope, operator, container):
    """skl2onnx converter of :class:`~skcnn.KNNImageClassifier`.

    Puts the training images (without those of sample weight 0), their
    labels and weights in the graph; ranks them for each query with a float32
    pass (a Gemm for L2, a Scan over the queries for L1) and TopK, re-ranks
    ``m + 8`` candidates by exact float64 distances (ties by training index),
    and votes over the first ``m`` as skcnn does (``weights``, sample-weight
    shares, ties to the first class), where ``m`` is ``n_neighbors`` or, with
    sample weights, the most neighbours that ``n_neighbors`` units of weight
    can take.

    Parameters
    ----------
    scope : skl2onnx.common._topology.Scope
        Names the graph's variables.
    operator : skl2onnx.common._topology.Operator
        The fitted estimator (``raw_operator``), its input and two outputs.
    container : skl2onnx.common._container.ModelComponentContainer
        Receives the nodes and the training set.

    Raises
    ------
    ValueError
        If ``n_neighbors`` exceeds the number of training images (the
        estimator itself cannot predict then).
    RuntimeError
        If the target opset is below 13.

    See Also
    --------
    calculate_classifier_output_types : the shape calculator it goes with.

    Examples
    --------
    uint8 images stay uint8 in the graph and in its input:

    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> import skcnn.onnx
    >>> from skcnn import KNNImageClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> X = X.astype(np.uint8)  # pixels 0-16
    >>> knn = KNNImageClassifier(n_neighbors=4, metric="l1", weights="distance")
    >>> knn = knn.fit(X[:1500], y[:1500])
    >>> onx = to_onnx(knn, X[:1], options={"zipmap": False})
    >>> session = ort.InferenceSession(onx.SerializeToString())
    >>> label, proba = session.run(None, {"X": X[1500:]})
    >>> bool((label == knn.predict(X[1500:])).all())
    True
    """
    convert_knn(scope, operator, container)


def _register():
    """Register the shape calculator and the converters of the five estimators."""
    networks = (LinearSoftmaxClassifier, MLPClassifier, LeNet5Classifier,
                ConvNetClassifier)  # fmt: skip
    converters = [(KNNImageClassifier, convert_knn_image_classifier)]
    converters += [(network, convert_network_classifier) for network in networks]
    for estimator, converter in converters:
        skl2onnx.update_registered_converter(
            estimator,
            f"Skcnn{estimator.__name__}",
            calculate_classifier_output_types,
            converter,
            options=CLASSIFIER_OPTIONS,
        )


_register()
