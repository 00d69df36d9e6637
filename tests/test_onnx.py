"""ONNX export (skcnn.onnx): onnxruntime against skcnn on the MNIST test set."""

import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

skl2onnx = pytest.importorskip("skl2onnx")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

import skcnn.onnx  # noqa: E402, F401  (registers the converters)
from skcnn import (  # noqa: E402
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_digits_images, load_mnist  # noqa: E402
from skcnn.layers import (  # noqa: E402
    Activation,
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Layer,
    MaxPool2D,
)

NO_ZIPMAP = {"zipmap": False}


@pytest.fixture(scope="module")
def mnist(mnist_home):
    """uint8 pixels: the first 3,000 training images and all 10,000 test images."""
    X, y = load_mnist(mnist_home, return_X_y=True)
    X_test, y_test = load_mnist(mnist_home, subset="test", return_X_y=True)
    return X[:3000], y[:3000], X_test, y_test


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:300], y[:300], X[300:400]


def fit_quietly(model, X, y, **fit_params):
    """Fit for a few epochs (conversion does not need a converged model) on one
    numba thread (the tests share two cores; results do not depend on it)."""
    model.set_params(**{name: 1 for name in model.get_params() if "n_jobs" in name})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def run_onnx(onx, X, chunk=2500):
    """Labels and probabilities from onnxruntime, ``chunk`` queries at a time
    (the k-NN L2 pass holds a chunk x n_train matrix), on one thread: the
    k-NN Scan's small per-query steps lose more to a thread pool than they
    gain, and the tests share two cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name
    parts = [
        session.run(None, {name: X[i : i + chunk]}) for i in range(0, len(X), chunk)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def assert_same_as_skcnn(model, X_test, y_test, min_accuracy):
    """Convert with ``X_test[:1]`` as the example input, then compare on all of
    X_test: equal labels, probabilities within 1e-5, and a model that is not
    degenerate (so that equal labels mean something)."""
    onx = skl2onnx.to_onnx(model, X_test[:1], options={id(model): NO_ZIPMAP})
    onnx.checker.check_model(onx, full_check=True)
    label, proba = run_onnx(onx, X_test)
    expected = model.predict(X_test)
    assert np.mean(expected == y_test) > min_accuracy
    assert label.dtype == (np.int64 if expected.dtype.kind in "biu" else object)
    np.testing.assert_array_equal(label, expected)
    float_type = np.float64 if X_test.dtype == np.float64 else np.float32
    assert proba.dtype == float_type
    np.testing.assert_allclose(proba, model.predict_proba(X_test), rtol=0, atol=1e-5)
    return onx


def _scaled(X, dtype=np.float32):
    return (X / 255).astype(dtype)


def _knn_l2():
    return KNNImageClassifier(5)


def _knn_l1_distance_after_minmax():
    knn = KNNImageClassifier(4, metric="l1", weights="distance")
    return make_pipeline(MinMaxScaler(), knn)


def _linear():
    return LinearSoftmaxClassifier(max_iter=2, random_state=0)


def _linear_after_minmax():
    return make_pipeline(MinMaxScaler(), _linear())


def _mlp_relu():
    return MLPClassifier((32,), "relu", max_iter=2, random_state=0)


def _mlp_tanh_after_standard():
    mlp = MLPClassifier((32, 16), max_iter=2, random_state=0)
    return make_pipeline(StandardScaler(), mlp)


def _lenet():
    return LeNet5Classifier(max_iter=1, random_state=0)


def _lenet_max_relu_after_minmax():
    lenet = LeNet5Classifier(activation="relu", pooling="max", max_iter=1,
                             random_state=0)  # fmt: skip
    return make_pipeline(MinMaxScaler(), lenet)


def _convnet_blocks_dropout_augment():
    return ConvNetClassifier(
        conv_filters=(4, 8), kernel_size=3, hidden_layer_sizes=(32,), dropout=0.2,
        augment=True, learning_rate_init=3e-3, max_iter=2, random_state=0,
    )  # fmt: skip


def _convnet_float64_stack_after_standard():
    stack = [
        Conv2D(6, 4, stride=2, padding=1), Activation("tanh"), AvgPool2D(2),
        Conv2D(8, 3, padding="same"), Activation("relu"), MaxPool2D(3, stride=2),
        Flatten(), Dense(24), Activation("logistic"), Dropout(0.1),
    ]  # fmt: skip
    convnet = ConvNetClassifier(layers=stack, dtype="float64", learning_rate_init=1e-2,
                                max_iter=2, random_state=0)  # fmt: skip
    return make_pipeline(StandardScaler(), convnet)


# Each estimator alone (uint8, image arrays or float32) and after a scaler in a
# Pipeline (float32 or float64 input): the model, its training images, the input.
CASES = [
    pytest.param(_knn_l2, 1500, "uint8", id="knn-l2-uint8"),
    pytest.param(_knn_l1_distance_after_minmax, 300, "float64",
                 id="knn-l1-distance-minmax-float64"),
    pytest.param(_linear, 2000, "float32", id="linear-float32"),
    pytest.param(_linear_after_minmax, 2000, "float32", id="linear-minmax-float32"),
    pytest.param(_mlp_relu, 2000, "float32", id="mlp-relu-float32"),
    pytest.param(_mlp_tanh_after_standard, 2000, "float64",
                 id="mlp-tanh-standard-float64"),
    pytest.param(_lenet, 600, "uint8-images", id="lenet-uint8-images"),
    pytest.param(_lenet_max_relu_after_minmax, 600, "float32",
                 id="lenet-max-relu-minmax-float32"),
    pytest.param(_convnet_blocks_dropout_augment, 1500, "float32",
                 id="convnet-blocks-dropout-augment-float32"),
    pytest.param(_convnet_float64_stack_after_standard, 1500, "float64",
                 id="convnet-float64-stack-standard-float64"),
]  # fmt: skip


def _as_input(X, kind):
    if kind == "uint8":
        return X
    if kind == "uint8-images":
        return X.reshape(-1, 28, 28)
    return _scaled(X, np.dtype(kind))


@pytest.mark.mnist
@pytest.mark.parametrize(("build", "n_train", "kind"), CASES)
def test_onnxruntime_agrees_with_skcnn_on_mnist(mnist, build, n_train, kind):
    X, y, X_test, y_test = mnist
    model = fit_quietly(build(), _as_input(X[:n_train], kind), y[:n_train])
    assert_same_as_skcnn(model, _as_input(X_test, kind), y_test, min_accuracy=0.5)


@pytest.mark.mnist
@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_knn_ties_sample_weights_and_exact_matches(mnist, metric):
    """Duplicated images with other labels tie exactly (uint8 distances are
    integers): the earlier image is the nearer, the first class wins equal
    votes; weights 0, 0.5 and 2.5 share the k units as skcnn's vote does; a
    query that is a training image takes all the 'distance' weight."""
    X, y, X_test, y_test = mnist
    X_train = np.concatenate([X[:300], X[:300]])
    y_train = np.concatenate([y[:300], (y[:300] + 1) % 10])
    queries = np.concatenate([X_test[:1000], X_train[:200]])
    for k in (2, 3):
        knn = KNNImageClassifier(k, metric=metric).fit(X_train, y_train)
        assert_same_as_skcnn(knn, queries, np.r_[y_test[:1000], y_train[:200]], 0.3)
    weight = np.random.default_rng(0).choice([0.0, 0.5, 1.0, 2.5], len(X_train))
    knn = KNNImageClassifier(4, metric=metric, weights="distance")
    knn.fit(X_train, y_train, sample_weight=weight)
    assert_same_as_skcnn(knn, queries, np.r_[y_test[:1000], y_train[:200]], 0.3)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "sigmoid"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_activation_and_dtype(digits, activation, dtype):
    X, y, X_new = digits
    model = ConvNetClassifier(
        conv_filters=(4,), kernel_size=3, padding=1, pooling="avg",
        hidden_layer_sizes=(8,), activation=activation, dtype=dtype,
        max_iter=1, random_state=0,
    )  # fmt: skip
    model = fit_quietly(model, X, y)
    onx = skl2onnx.to_onnx(model, X_new[:1], options={type(model): NO_ZIPMAP})
    label, proba = run_onnx(onx, X_new)
    np.testing.assert_array_equal(label, model.predict(X_new))
    np.testing.assert_allclose(proba, model.predict_proba(X_new), atol=1e-5)


@pytest.mark.parametrize("target_opset", [13, None])
def test_valid_graphs_from_opset_13(digits, target_opset):
    X, y, X_new = digits
    weight = np.random.default_rng(0).choice([0.0, 0.5, 1.0, 2.5], len(X))
    models = [
        KNNImageClassifier(3).fit(X, y),
        KNNImageClassifier(3, metric="l1", weights="distance").fit(
            X, y, sample_weight=weight
        ),
        fit_quietly(MLPClassifier((8,), max_iter=1, random_state=0), X, y),
        fit_quietly(LeNet5Classifier(max_iter=1, random_state=0), X, y),
    ]
    for model in models:
        onx = skl2onnx.to_onnx(
            model, X_new[:1], options={id(model): NO_ZIPMAP}, target_opset=target_opset
        )
        onnx.checker.check_model(onx, full_check=True)
        label, proba = run_onnx(onx, X_new)
        np.testing.assert_array_equal(label, model.predict(X_new))
        np.testing.assert_allclose(proba, model.predict_proba(X_new), atol=1e-5)


def test_zipmap_by_default_also_for_double_input(digits):
    X, y, X_new = digits
    X, X_new = X.astype(np.float64), X_new.astype(np.float64)
    model = KNNImageClassifier(3, weights="distance").fit(X, y)
    onx = skl2onnx.to_onnx(model, X_new[:1])  # ZipMap takes float probabilities
    session = ort.InferenceSession(onx.SerializeToString())
    label, maps = session.run(None, {"X": X_new})
    np.testing.assert_array_equal(label, model.predict(X_new))
    proba = np.array([[row[c] for c in model.classes_] for row in maps])
    np.testing.assert_allclose(proba, model.predict_proba(X_new), atol=1e-6)


def test_classifier_options_as_for_sklearn_classifiers(digits):
    X, y, X_new = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six",
                      "seven", "eight", "nine"])  # fmt: skip
    model = LinearSoftmaxClassifier(random_state=0).fit(X, names[y])
    expected = model.predict(X_new)

    def outputs(options):
        onx = skl2onnx.to_onnx(model, X_new[:1], options={type(model): options})
        session = ort.InferenceSession(onx.SerializeToString())
        names_out = [o.name for o in session.get_outputs()]
        return names_out, session.run(None, {"X": X_new})

    names_out, (label, maps) = outputs({"zipmap": True})
    assert names_out == ["output_label", "output_probability"]
    np.testing.assert_array_equal(label, expected)
    assert sorted(maps[0]) == sorted(names)
    names_out, (label, *columns) = outputs({"zipmap": "columns"})
    assert len(columns) == 10
    names_out, (label, proba) = outputs({"zipmap": False, "nocl": True})
    np.testing.assert_array_equal(model.classes_[label], expected)
    names_out, (label, proba, classes) = outputs(
        {"zipmap": False, "output_class_labels": True}
    )
    assert names_out == ["label", "probabilities", "class_labels"]
    np.testing.assert_array_equal(classes, model.classes_)
    np.testing.assert_allclose(proba, model.predict_proba(X_new), atol=1e-5)


def _fitted_dtype(model):
    """The dtype the (last step of the) fitted model computes in: its weights'."""
    network = model[-1] if hasattr(model, "steps") else model
    dtypes = {p.dtype for params in network.params_ for p in params}
    assert len(dtypes) == 1
    return dtypes.pop()


@pytest.mark.mnist
@pytest.mark.parametrize(
    ("kind", "dtype", "strings"),
    [
        pytest.param("float32", None, False, id="float32-int-labels"),
        pytest.param("float64", None, True, id="float64-string-labels"),
        pytest.param("uint8", "float64", True, id="uint8-dtype-float64-strings"),
    ],
)
def test_binary_mlp_has_one_logistic_output(mnist, kind, dtype, strings):
    """A two-class MLP has one sigmoid output, as scikit-learn's: the label is
    classes_[1] where its logit is > 0 and the probabilities are float64
    [sigmoid(-z), sigmoid(z)], in float32 or float64 (after float64 X with
    dtype=None, or dtype='float64')."""
    X, y, X_test, y_test = mnist
    train, test = np.isin(y, [3, 5]), np.isin(y_test, [3, 5])
    names = np.array(["three" if v == 3 else "five" for v in range(10)])
    y_bin, y_test_bin = (names[y], names[y_test]) if strings else (y, y_test)
    mlp = MLPClassifier((32,), "relu", dtype=dtype, max_iter=3, random_state=0)
    model = fit_quietly(mlp, _as_input(X[train], kind), y_bin[train])
    assert model.out_activation_ == "logistic" and model.coefs_[-1].shape == (32, 1)
    assert _fitted_dtype(model) == ("float32" if kind == "float32" else "float64")
    queries = _as_input(X_test[test], kind)
    assert_same_as_skcnn(model, queries, y_test_bin[test], min_accuracy=0.75)
    if strings:  # skl2onnx's default ZipMap, keyed by the class names
        onx = skl2onnx.to_onnx(model, queries[:1])
        session = ort.InferenceSession(onx.SerializeToString())
        label, maps = session.run(None, {"X": queries[:200]})
        np.testing.assert_array_equal(label, model.predict(queries[:200]))
        proba = np.array([[row[c] for c in model.classes_] for row in maps])
        np.testing.assert_allclose(
            proba, model.predict_proba(queries[:200]), rtol=0, atol=1e-5
        )


def test_binary_logit_of_zero_is_the_first_class(digits):
    """predict takes classes_[1] for a logit > 0 strictly: a zero output layer
    (every logit 0) predicts classes_[0] with probabilities 0.5, in ONNX too."""
    X, y, X_new = digits
    labels = np.array(["even", "odd"])[y % 2]
    model = fit_quietly(MLPClassifier((8,), max_iter=1, random_state=0), X, labels)
    model.coefs_[-1] = np.zeros_like(model.coefs_[-1])
    model.intercepts_[-1] = np.zeros_like(model.intercepts_[-1])
    options = {id(model): {"zipmap": False, "output_class_labels": True}}
    onx = skl2onnx.to_onnx(model, X_new[:1], options=options)
    session = ort.InferenceSession(onx.SerializeToString())
    label, proba, classes = session.run(None, {"X": X_new})
    np.testing.assert_array_equal(classes, ["even", "odd"])
    np.testing.assert_array_equal(label, model.predict(X_new))
    assert set(label) == {"even"}
    np.testing.assert_array_equal(proba, np.full((len(X_new), 2), 0.5))
    label, proba, _ = session.run(None, {"X": X_new[:0]})  # no rows
    assert label.shape == (0,) and proba.shape == (0, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identity_activation_adds_no_node(digits, dtype):
    X, y, X_new = digits
    X, X_new = X.astype(dtype), X_new.astype(dtype)
    model = MLPClassifier((16, 8), "identity", max_iter=2, random_state=0)
    model = fit_quietly(model, X, y)
    assert _fitted_dtype(model) == dtype
    onx = skl2onnx.to_onnx(model, X_new[:1], options={id(model): NO_ZIPMAP})
    onnx.checker.check_model(onx, full_check=True)
    op_types = [n.op_type for n in onx.graph.node]
    assert op_types.count("Gemm") == 3
    assert not {"Tanh", "Relu", "Sigmoid"} & set(op_types)
    identities = [n.output[0] for n in onx.graph.node if n.op_type == "Identity"]
    assert set(identities) <= {o.name for o in onx.graph.output}  # float64 proba
    label, proba = run_onnx(onx, X_new)
    np.testing.assert_array_equal(label, model.predict(X_new))
    np.testing.assert_allclose(proba, model.predict_proba(X_new), rtol=0, atol=1e-5)


@pytest.mark.mnist
@pytest.mark.parametrize("build", [_linear, _mlp_relu], ids=["linear", "mlp-relu"])
def test_float64_training_data_gives_a_float64_graph(mnist, build):
    """dtype=None follows X: float64 images train float64 weights, and the
    graph computes in float64, for float64 and for float32 queries."""
    X, y, X_test, y_test = mnist
    model = fit_quietly(build(), _scaled(X[:2000], np.float64), y[:2000])
    assert model.dtype is None and _fitted_dtype(model) == np.float64
    onx = assert_same_as_skcnn(model, _scaled(X_test, np.float64), y_test, 0.5)
    weights = [t for t in onx.graph.initializer if t.dims and len(t.dims) == 2]
    assert weights and all(t.data_type == onnx.TensorProto.DOUBLE for t in weights)
    assert_same_as_skcnn(model, _scaled(X_test, np.float32), y_test, 0.5)


class Doubling(Layer):
    """A layer of one's own: no ONNX conversion."""

    def forward(self, x, params, training=True, rng=None):
        return 2 * x, None

    def backward(self, dout, cache, params, need_dx=True):
        return (2 * dout if need_dx else None), []


class WiderConv(Conv2D):
    """A subclass of a skcnn layer: it may compute otherwise, so not converted."""


def test_layers_without_conversion_are_named(digits):
    X, y, _ = digits
    for stack, named in [
        ([Conv2D(4, 3), Doubling(), Flatten()], r"layers_\[2\] = Doubling\(\)"),
        ([WiderConv(4, 3), Activation("relu")], r"layers_\[1\] = WiderConv\(4"),
    ]:
        model = fit_quietly(ConvNetClassifier(layers=stack, max_iter=1), X, y)
        with pytest.raises(NotImplementedError, match=named + r".*no ONNX conversion"):
            skl2onnx.to_onnx(model, X[:1])


def test_settings_without_conversion_raise_clear_errors(digits):
    X, y, _ = digits
    multi = KNNImageClassifier(3).fit(X, np.c_[y, y % 2])
    with pytest.raises(NotImplementedError, match="fitted on 2 outputs"):
        skl2onnx.to_onnx(multi, X[:1])
    knn = KNNImageClassifier(3).fit(X, y)
    with pytest.raises(RuntimeError, match="target_opset >= 13; got target_opset=12"):
        skl2onnx.to_onnx(knn, X[:1], target_opset=12)
    with pytest.raises(ValueError, match=r"fitted on 64 values.*shape \[None, 10\]"):
        skl2onnx.to_onnx(knn, X[:1, :10])
    with pytest.raises(TypeError, match="takes numeric images"):
        skl2onnx.to_onnx(knn, X[:1].astype(str))
    for network in (MLPClassifier((8,), max_iter=1), LinearSoftmaxClassifier()):
        multilabel = fit_quietly(network, X, np.c_[y % 2, y > 4, y == 0].astype(int))
        assert multilabel.out_activation_ == "logistic"
        with pytest.raises(
            NotImplementedError,
            match=r"multilabel y \(3 labels.*multilabel networks are not converted",
        ):
            skl2onnx.to_onnx(multilabel, X[:1], options={id(multilabel): NO_ZIPMAP})
    too_many = KNNImageClassifier(400).fit(X, y)
    with pytest.raises(ValueError, match=r"n_neighbors=400\) was fitted on 300"):
        skl2onnx.to_onnx(too_many, X[:1])


def test_an_unregistered_estimator_is_named(digits):
    X, y, _ = digits

    class OwnMLP(MLPClassifier):
        pass

    model = fit_quietly(OwnMLP((8,), max_iter=1), X, y)
    with pytest.raises(RuntimeError, match="OwnMLP"):
        skl2onnx.to_onnx(model, X[:1])


def test_colour_and_oblong_images_keep_their_layout(digits):
    """RGB images (channels last in the rows, first in ONNX's maps), and
    oblong images centred in a larger field: LeNet's 32x32 for 4x16 images,
    a 2x64 field for 1x64 rows (the extra row goes below)."""
    X, y, X_new = digits
    rgb = np.stack([X, X**2, 1 - X], axis=-1).reshape(len(X), -1)  # (8, 8, 3)
    rgb_new = np.stack([X_new, X_new**2, 1 - X_new], axis=-1).reshape(len(X_new), -1)
    models = [
        (LeNet5Classifier(max_iter=1, random_state=0), rgb, rgb_new),
        (LeNet5Classifier(max_iter=1, image_shape=(4, 16), random_state=0), X, X_new),
        (ConvNetClassifier((4,), 3, image_shape=(1, 64), max_iter=1), X, X_new),
    ]
    for model, train, queries in models:
        model = fit_quietly(model, train, y)
        onx = skl2onnx.to_onnx(model, queries[:1], options={id(model): NO_ZIPMAP})
        label, proba = run_onnx(onx, queries)
        np.testing.assert_array_equal(label, model.predict(queries))
        np.testing.assert_allclose(proba, model.predict_proba(queries), atol=1e-5)


def test_integer_input_is_read_as_skcnn_reads_it(digits):
    X, y, X_new = digits
    pixels = np.rint(X * 16).astype(np.int64)  # the original 0-16 digits
    model = LeNet5Classifier(max_iter=1, random_state=0)
    model = fit_quietly(model, pixels, y)
    onx = skl2onnx.to_onnx(model, pixels[:1], options={type(model): NO_ZIPMAP})
    queries = np.rint(X_new * 16).astype(np.int64)
    label, proba = run_onnx(onx, queries)
    np.testing.assert_array_equal(label, model.predict(queries))
    np.testing.assert_allclose(proba, model.predict_proba(queries), atol=1e-5)


def test_import_skcnn_leaves_skl2onnx_out():
    code = "import sys, skcnn; print('skl2onnx' in sys.modules, 'onnx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_import_without_skl2onnx_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "skcnn.onnx")
    with pytest.raises(ImportError, match=r"pip install skcnn\[onnx\]"):
        importlib.import_module("skcnn.onnx")


def test_a_layers_state_that_is_not_trained_is_exported(digits, monkeypatch):
    """A layer's ``init_state`` arrays reach its converter as graph constants:
    here the running mean of tests/test_layer_state.py, subtracted in ONNX."""
    from skcnn import _onnx
    from tests.test_layer_state import RunningMean

    def running_mean(g, layer, params, x, in_shape, dtype, state=()):
        return g.op("Sub", x, g.const(state[0].reshape(1, -1), "mean"))

    monkeypatch.setitem(_onnx.LAYER_CONVERTERS, RunningMean, running_mean)
    X, y, X_test = digits
    stack = [Flatten(), RunningMean(), Dense(16), Activation("tanh")]
    model = fit_quietly(ConvNetClassifier(layers=stack, max_iter=2), X, y)
    assert np.abs(model.states_[2][0]).sum() > 0
    onx = skl2onnx.to_onnx(model, X_test[:1], options={id(model): NO_ZIPMAP})
    label, proba = run_onnx(onx, X_test)
    np.testing.assert_array_equal(label, model.predict(X_test))
    np.testing.assert_allclose(proba, model.predict_proba(X_test), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_pooling_heads(digits, dtype):
    X, y, X_test = digits
    for pool in (GlobalAveragePooling2D(), GlobalMaxPooling2D()):
        stack = [Conv2D(8, 3, padding="same"), Activation("relu"), pool, Dense(10)]
        model = fit_quietly(
            ConvNetClassifier(layers=stack, max_iter=3, dtype=np.dtype(dtype).name),
            X.astype(dtype), y,
        )  # fmt: skip
        onx = skl2onnx.to_onnx(model, X_test[:1].astype(dtype),
                               options={id(model): NO_ZIPMAP})  # fmt: skip
        label, proba = run_onnx(onx, X_test.astype(dtype))
        np.testing.assert_array_equal(label, model.predict(X_test.astype(dtype)))
        expected = model.predict_proba(X_test.astype(dtype))
        np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-5)
