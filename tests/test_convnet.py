"""ConvNetClassifier: declared stacks, block parameters, the engine's features."""

import pickle
import warnings

import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_sample_images
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from skcnn import ConvNetClassifier, LeNet5Classifier
from skcnn._training import TrainingDivergedError
from skcnn.datasets import load_digits_images, load_mnist
from skcnn.layers import (
    Activation,
    AvgPool2D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPool2D,
)
from tests.test_layers import numeric_gradient
from tests.test_lenet import _Recorder


def quiet(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:1200], y[:1200], X[1200:], y[1200:]


SMALL = {"conv_filters": (6, 12), "kernel_size": 3, "hidden_layer_sizes": (32,)}


def small_stack():
    return [
        Conv2D(8, 3, padding="same"), Activation("relu"), MaxPool2D(2),
        Conv2D(12, 3, padding=1), Activation("relu"), AvgPool2D(2),
        Flatten(), Dense(24), Activation("tanh"), Dropout(0.2),
    ]  # fmt: skip


def test_block_parameters_declare_the_network(digits):
    X, y, X_test, y_test = digits
    clf = quiet(ConvNetClassifier(**SMALL, max_iter=8, random_state=0), X, y)
    assert clf.score(X_test, y_test) > 0.8
    names = [n for n in clf._layer_names() if n]
    assert names == ["input", "conv1", "pool1", "conv2", "pool2", "dense1", "output"]
    assert [p[0].shape for p in clf.params_ if p] == [
        (6, 1, 3, 3), (12, 6, 3, 3), (2 * 2 * 12, 32), (32, 10),
    ]  # fmt: skip
    table = clf.summary()
    assert "Conv2D(6, size=3, padding='same')" in table and "(8, 8, 6)" in table
    assert "MaxPool2D(2, stride=2)" in table and "(2, 2, 12)" in table
    assert table.splitlines()[-1].endswith(f"{sum(p.size for p in clf._packed):,}")
    assert clf.transform(X_test[:5]).shape == (5, 32)


def test_declared_layers_take_precedence_and_are_not_modified(digits):
    X, y, X_test, y_test = digits
    stack = small_stack()
    before = [repr(layer) for layer in stack]
    clf = ConvNetClassifier(conv_filters=(99,), layers=stack, max_iter=6,
                            random_state=0)  # fmt: skip
    quiet(clf, X, y)
    assert [repr(layer) for layer in stack] == before and clf.layers is stack
    assert clf.layers_[1:-1] == stack and clf.layers_[1] is not stack[0]
    assert clf.params_[1][0].shape == (8, 1, 3, 3)
    assert clf.score(X_test, y_test) > 0.5  # 6 epochs on 8x8 digits
    stack[0].set_params(filters=4)  # editing the list later cannot reach the fit
    assert clf.params_[1][0].shape == (8, 1, 3, 3)
    assert clf.predict(X_test[:3]).shape == (3,)


def test_a_stack_ending_with_maps_gets_a_flatten_and_transform_gives_them(digits):
    X, y, _, _ = digits
    stack = [Conv2D(4, 3), Activation("relu"), MaxPool2D(2)]
    clf = quiet(ConvNetClassifier(layers=stack, max_iter=2, random_state=0), X, y)
    assert isinstance(clf.layers_[-2], Flatten) and clf.transform(X[:3]).shape == (
        3, 3 * 3 * 4,
    )  # fmt: skip


def test_grid_search_over_architectures(digits):
    X, y, _, _ = digits
    grid = {"conv_filters": [(16,), (32, 64)], "kernel_size": [3, 5]}
    search = GridSearchCV(
        ConvNetClassifier(max_iter=4, random_state=0, hidden_layer_sizes=(32,)),
        grid, cv=2,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[:400], y[:400])
    assert len(search.cv_results_["params"]) == 4
    assert np.all(search.cv_results_["mean_test_score"] > 0.2)  # chance: 0.1
    best = search.best_estimator_
    assert best.conv_filters in grid["conv_filters"] and hasattr(best, "params_")


def test_grid_search_over_declared_stacks(digits):
    X, y, _, _ = digits
    stacks = [small_stack(), [Flatten(), Dense(32), Activation("relu")]]
    search = GridSearchCV(ConvNetClassifier(max_iter=2, random_state=0),
                          {"layers": stacks}, cv=2)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X[:400], y[:400])
    assert search.best_params_["layers"] in stacks


def test_clone_params_and_pickle_with_both_kinds_of_declaration(digits):
    X, y, X_test, _ = digits
    blocks = ConvNetClassifier(**SMALL, max_iter=2, random_state=1)
    declared = ConvNetClassifier(layers=small_stack(), max_iter=2, random_state=1)
    for clf in (blocks, declared):
        copy = clone(clf)
        assert copy.get_params()["layers"] == clf.layers
        if clf.layers is not None:
            assert copy.layers is not clf.layers and copy.layers[0] is not clf.layers[0]
        copy.set_params(dropout=0.3, kernel_size=3)
        assert clf.dropout == 0.0
        quiet(clf, X, y)
        again = pickle.loads(pickle.dumps(clf))
        np.testing.assert_array_equal(again.predict_proba(X_test),
                                      clf.predict_proba(X_test))  # fmt: skip
        assert b"numba" not in pickle.dumps(clf)
        refit = quiet(clone(clf), X, y)  # the same seed: the same weights
        np.testing.assert_array_equal(refit._packed, clf._packed)


def test_same_seed_same_weights_for_any_thread_count_with_dropout_and_augment(digits):
    X, y, _, _ = digits
    runs = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        clf = ConvNetClassifier(**SMALL, dropout=0.3, augment=True, max_iter=2,
                                random_state=4, n_jobs=threads)  # fmt: skip
        runs.append(quiet(clf, X[:500], y[:500])._packed)
    np.testing.assert_array_equal(runs[0], runs[1])
    other = ConvNetClassifier(**SMALL, dropout=0.3, augment=True, max_iter=2,
                              random_state=5)  # fmt: skip
    assert not np.array_equal(quiet(other, X[:500], y[:500])._packed, runs[0])


def test_predictions_do_not_depend_on_the_batch(digits):
    X, y, X_test, _ = digits
    clf = quiet(ConvNetClassifier(**SMALL, dropout=0.5, augment=True, max_iter=2,
                                  random_state=0), X, y)  # fmt: skip
    proba = clf.predict_proba(X_test[:150])
    np.testing.assert_array_equal(clf.predict_proba(X_test[:150]), proba)
    one = np.vstack([clf.predict_proba(X_test[i : i + 1]) for i in range(0, 150, 37)])
    np.testing.assert_array_equal(one, proba[::37])
    order = np.random.default_rng(0).permutation(150)
    np.testing.assert_array_equal(clf.predict_proba(X_test[:150][order]), proba[order])


def test_augmentation_changes_training_but_never_predictions(digits):
    X, y, X_test, _ = digits
    plain = quiet(ConvNetClassifier(**SMALL, max_iter=2, random_state=0), X, y)
    augmented = ConvNetClassifier(**SMALL, max_iter=2, random_state=0,
                                  augment={"shift": 0.15, "rotation": 12})  # fmt: skip
    quiet(augmented, X, y)
    names = augmented._layer_names()
    assert names[:2] == ["input", "augment"]
    assert augmented.layers_[1].shift == 0.15 and augmented.layers_[1].scale == 0.0
    assert not np.array_equal(plain._packed, augmented._packed)
    # at inference the augmentation layer is the identity: the same weights
    # without it predict the same bits
    plain._packed[...] = augmented._packed
    np.testing.assert_array_equal(plain.predict_proba(X_test),
                                  augmented.predict_proba(X_test))  # fmt: skip
    assert augmented.score(X_test, plain.predict(X_test)) == 1.0


def test_lenet5_is_a_declaration_on_the_same_machinery():
    """On 32x32 images LeNet-5's field adds no border: the same stack declared
    with skcnn.layers trains to the same bits."""
    rng = np.random.default_rng(0)
    X, y = rng.random((130, 32 * 32), dtype=np.float32), np.arange(130) % 3
    lenet = quiet(LeNet5Classifier(max_iter=2, random_state=0), X, y)
    stack = [
        Conv2D(6, 5), Activation("tanh"), AvgPool2D(2),
        Conv2D(16, 5), Activation("tanh"), AvgPool2D(2),
        Conv2D(120, 5), Activation("tanh"), Flatten(),
        Dense(84), Activation("tanh"),
    ]  # fmt: skip
    convnet = quiet(ConvNetClassifier(layers=stack, max_iter=2, random_state=0), X, y)
    np.testing.assert_array_equal(lenet._packed, convnet._packed)
    np.testing.assert_array_equal(lenet.predict_proba(X), convnet.predict_proba(X))
    augmented = quiet(LeNet5Classifier(max_iter=1, augment=True, random_state=0), X, y)
    assert augmented._layer_names()[:3] == ["input", "augment", "C1"]


def test_rgb_images_from_photographs():
    """Colour patches of scikit-learn's two sample photographs: which photo?"""
    rng = np.random.default_rng(0)
    patches, labels = [], []
    for label, photo in enumerate(load_sample_images().images):
        rows = rng.integers(0, photo.shape[0] - 16, 150)
        cols = rng.integers(0, photo.shape[1] - 16, 150)
        patches += [
            photo[r : r + 16, c : c + 16] for r, c in zip(rows, cols, strict=True)
        ]
        labels += [label] * 150
    images, labels = np.stack(patches).astype(np.float32) / 255, np.array(labels)
    order = rng.permutation(len(labels))
    images, labels = images[order], labels[order]
    clf = ConvNetClassifier(conv_filters=(8, 16), kernel_size=3, max_iter=10,
                            random_state=0)  # fmt: skip
    quiet(clf, images[:200], labels[:200])
    assert clf.image_shape_ == (16, 16, 3) and clf.params_[1][0].shape == (8, 3, 3, 3)
    assert clf.score(images[200:], labels[200:]) > 0.8
    flat = clf.predict_proba(images[200:].reshape(100, -1))
    np.testing.assert_array_equal(flat, clf.predict_proba(images[200:]))


def test_small_images_are_centred_in_a_field_the_poolings_fit():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((60, 2)), np.arange(60) % 2  # one row of 2 pixels
    clf = quiet(ConvNetClassifier(max_iter=2, random_state=0), X, y)
    assert clf.image_shape_ == (1, 2, 1) and clf.layers_[0].field == (4, 4)
    stack = [Conv2D(4, 3), Activation("relu"), MaxPool2D(2)]
    clf = ConvNetClassifier(layers=stack, image_shape=(30, 30))
    quiet(clf, rng.random((20, 900)), np.arange(20) % 2)
    assert clf.layers_[0].field == (30, 30)  # a declared stack: as given


@pytest.mark.parametrize(
    "params, message",
    [
        ({"layers": ["relu"]},
         r"layers\[0\] is 'relu' \(a str\), not a layer"),
        ({"layers": [Conv2D(4, 3), Dense(8), Conv2D(4, 3)]},
         r"layers\[1\] = Dense\(8\): needs flat samples; it gets feature maps of "
         r"shape \(6, 6, 4\)"),
        ({"layers": [Flatten(), Dense(8), Conv2D(4, 3)]},
         r"layers\[2\] = Conv2D\(4, size=3\): needs feature maps"),
        ({"layers": [MaxPool2D(2), MaxPool2D(2), MaxPool2D(2), MaxPool2D(2)]},
         r"layers\[3\] = MaxPool2D\(2, stride=2\): a window of 2 does not fit an "
         r"input of 1"),
        ({"layers": [Conv2D(4, 9)]},
         r"layers\[0\] = Conv2D\(4, size=9\): a window of 9 does not fit an input "
         r"of 8"),
        ({"augment": {"shift": 0.1, "mirror": True}},
         r"augment has unknown keys \['mirror'\]"),
        ({"augment": {"rotation": 400}},
         r"augment=\{'rotation': 400\}: rotation must be a number in \[0, 180\)"),
        ({"kernel_size": 4}, "padding='same' needs an odd size"),
        ({"conv_filters": (8, -1)}, "conv_filters must hold positive integers"),
    ],
)  # fmt: skip
def test_bad_declarations_are_refused_before_training(digits, params, message):
    X, y, _, _ = digits
    clf = ConvNetClassifier(**params, verbose=1)
    with pytest.raises(ValueError, match=message):
        clf.fit(X[:50], y[:50])
    assert not hasattr(clf, "params_")


def test_a_layer_changed_after_construction_is_checked_with_its_index(digits):
    X, y, _, _ = digits
    act, drop = Activation("relu"), Dropout(0.2)
    act.name, drop.rate = "swish", 1.5  # past the constructors' checks
    for layers, message in (
        ([Flatten(), Dense(8), act], r"layers\[2\] = Activation\('swish'\): unknown"),
        ([Flatten(), drop], r"layers\[1\] = Dropout\(1.5\): rate must be in \[0, 1\)"),
    ):
        with pytest.raises(ValueError, match=message):
            ConvNetClassifier(layers=layers).fit(X[:50], y[:50])


@pytest.mark.parametrize(
    "params",
    [{"dropout": 1.0}, {"dropout": -0.1}, {"activation": "elu"}, {"pooling": "min"},
     {"padding": "full"}, {"pool_size": 0}, {"layers": "conv"}, {"augment": "yes"},
     {"kernel_size": 0}],
)  # fmt: skip
def test_invalid_parameters_are_rejected(digits, params):
    X, y, _, _ = digits
    with pytest.raises(InvalidParameterError):
        ConvNetClassifier(**params).fit(X[:20], y[:20])


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_whole_network_gradient_matches_finite_differences(pooling):
    rng = np.random.default_rng(2)
    X, y = rng.random((5, 64)), rng.integers(0, 3, 5)
    clf = ConvNetClassifier(
        (2, 3), kernel_size=3, pooling=pooling, hidden_layer_sizes=(4,),
        activation="tanh", dropout=0.3, dtype="float64", alpha=0.1, max_iter=1,
        random_state=0,
    )  # fmt: skip
    quiet(clf, X, y)
    target, weight = np.searchsorted(clf.classes_, y), np.ones(5)
    state = clf._training.layer_rng.bit_generator.state

    def loss():  # the same dropout masks on every call
        clf._training.layer_rng.bit_generator.state = state
        clf._training.optimizer = _Recorder()
        return clf._train_step(X, target, weight)

    clf._training.layer_rng.bit_generator.state = state
    clf._training.optimizer = recorder = _Recorder()
    clf._train_step(X, target, weight)
    expected = numeric_gradient(loss, clf._packed)
    np.testing.assert_allclose(recorder.grads[0], expected, rtol=1e-5, atol=1e-8)


def test_engine_features(digits, capsys):
    X, y, X_test, y_test = digits
    # early stopping with the adaptive schedule, sgd with momentum
    clf = ConvNetClassifier(**SMALL, solver="sgd", learning_rate="adaptive",
                            learning_rate_init=0.05, max_iter=30, early_stopping=True,
                            n_iter_no_change=2, tol=0.02, random_state=0)  # fmt: skip
    quiet(clf, X, y)
    assert clf.n_iter_ < 30 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.score(X_test, y_test) > 0.6
    # partial_fit
    part = ConvNetClassifier(**SMALL, random_state=0)
    part.partial_fit(X[:300], y[:300], classes=np.unique(y))
    part.partial_fit(X[300:600], y[300:600])
    assert part.n_iter_ == 2 and part.t_ == 600
    # warm start continues the optimizer: two fits of 2 epochs == one of 4
    params = {**SMALL, "random_state": 0, "shuffle": False, "tol": 0}
    long = quiet(ConvNetClassifier(max_iter=4, **params), X[:300], y[:300])
    warm = ConvNetClassifier(max_iter=2, warm_start=True, verbose=1, **params)
    quiet(warm, X[:300], y[:300])
    quiet(warm, X[:300], y[:300])
    np.testing.assert_array_equal(long._packed, warm._packed)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].startswith("Iteration 1, loss = ")
    # sample and class weights: a heavy class takes over the predictions
    weights = np.where(y[:300] == 3, 50.0, 1.0)
    heavy = quiet(ConvNetClassifier(**SMALL, max_iter=3, random_state=0),
                  X[:300], y[:300], sample_weight=weights)  # fmt: skip
    weighted = ConvNetClassifier(**SMALL, max_iter=3, random_state=0,
                                 class_weight={3: 50.0})  # fmt: skip
    balanced = quiet(weighted, X[:300], y[:300])
    for model in (heavy, balanced):
        assert (model.predict(X_test) == 3).mean() > (y_test == 3).mean()
    # the divergence guard
    diverging = ConvNetClassifier(**SMALL, learning_rate_init=1e4, solver="sgd",
                                  random_state=0)  # fmt: skip
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError, match="lear"):
        diverging.fit(X[:200], y[:200])
    assert not hasattr(diverging, "params_")


def test_learns_mnist(mnist_home):
    X, y = load_mnist(mnist_home, return_X_y=True, scale=True)
    X_test, y_test = load_mnist(mnist_home, subset="test", return_X_y=True, scale=True)
    clf = ConvNetClassifier((8, 16), dropout=0.25, augment=True, max_iter=3,
                            random_state=0)  # fmt: skip
    quiet(clf, X[:5000], y[:5000])
    assert clf.score(X_test[:2000], y_test[:2000]) > 0.93


@pytest.mark.parametrize("pool", [GlobalAveragePooling2D(), GlobalMaxPooling2D()])
def test_a_global_pooling_head_trains_names_pickles_and_predicts_per_sample(pool):
    X, y = load_digits_images(return_X_y=True, scale=True)
    stack = [Conv2D(16, 3, padding="same"), Activation("relu"), MaxPool2D(2),
             Conv2D(32, 3, padding="same"), Activation("relu"), pool]  # fmt: skip
    clf = ConvNetClassifier(layers=stack, max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.5
    assert "pool2" in clf.layer_names_ and "(32,)" in clf.summary()
    proba = clf.predict_proba(X[1200:1300])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(
        X[1200:1300]), proba)  # fmt: skip
    for i in (0, 37):  # alone, the same bits as in its batch
        np.testing.assert_array_equal(clf.predict_proba(X[1200 + i][None]), proba[[i]])


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_global_pooling_forward_equals_pytorch_with_the_same_weights(pool):
    torch = pytest.importorskip("torch")
    X, y = load_digits_images(return_X_y=True, scale=True)
    layer = GlobalAveragePooling2D() if pool == "avg" else GlobalMaxPooling2D()
    stack = [Conv2D(6, 3, padding="same"), Activation("relu"), layer]
    clf = ConvNetClassifier(layers=stack, max_iter=1, normalize=False, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:300], y[:300])
    (w_conv, b_conv), (w_dense, b_dense) = (p for p in clf.params_ if p)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1) if pool == "avg"
        else torch.nn.AdaptiveMaxPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(6, 10),
    ).double()  # fmt: skip
    with torch.no_grad():
        net[0].weight[...] = torch.from_numpy(w_conv)
        net[0].bias[...] = torch.from_numpy(b_conv)
        net[4].weight[...] = torch.from_numpy(w_dense.T.copy())
        net[4].bias[...] = torch.from_numpy(b_dense)
        images = torch.from_numpy(X[300:400].reshape(-1, 1, 8, 8).astype(np.float64))
        theirs = net(images).numpy()
    np.testing.assert_allclose(clf.decision_function(X[300:400]), theirs, atol=1e-10)


def test_augment_can_mirror_natural_images():
    X, y = load_digits_images(return_X_y=True, scale=True)
    clf = ConvNetClassifier((4,), kernel_size=3, augment={"shift": 0.1, "flip": True},
                            max_iter=1, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:200], y[:200])
    assert "flip=True" in clf.summary()
    assert clf.layers_[1].flip and not clf.layers_[1].rotation


@pytest.mark.parametrize("head", ["flatten", "global_avg", "global_max"])
def test_batch_norm_and_head_are_plain_parameters(head):
    X, y = load_digits_images(return_X_y=True, scale=True)
    clf = ConvNetClassifier(
        (8, 16), kernel_size=3, batch_norm=True, head=head,
        hidden_layer_sizes=(32,), max_iter=12, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[:1200], y[:1200])
    kinds = [type(layer).__name__ for layer in clf.layers_]
    assert kinds.count("BatchNormalization") == 3  # two conv blocks, one dense
    expected = {"flatten": "Flatten", "global_avg": "GlobalAveragePooling2D",
                "global_max": "GlobalMaxPooling2D"}[head]  # fmt: skip
    assert expected in kinds
    assert clf.score(X[1200:], y[1200:]) > 0.7
    assert clone(clf).set_params(batch_norm=False).get_params()["head"] == head
