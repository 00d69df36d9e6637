"""The displays, drawn with the Agg backend, checked for what they show."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn._cli import MODELS
from skcnn.datasets import load_digits_images, load_mnist_sample
from skcnn.inspection import (
    FeatureMapsDisplay,
    FiltersDisplay,
    MistakesDisplay,
    NeighborsDisplay,
    TemplatesDisplay,
    TrainingCurveDisplay,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:1000], y[:1000], X[1000:], y[1000:]


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _images(ax):
    return [image.get_array().shape for image in ax.get_images()]


def test_neighbors_display_shows_each_query_and_its_neighbours(digits):
    X, y, X_test, y_test = digits
    knn = KNNImageClassifier(n_neighbors=4, metric="l1").fit(X, y)
    display = NeighborsDisplay.from_estimator(knn, X_test[:3], y_test[:3])
    assert display.axes_.shape == (3, 5)
    assert all(_images(ax) == [(8, 8)] for ax in display.axes_.ravel())
    distances, indices = knn.kneighbors(X_test[:3])
    np.testing.assert_array_equal(display.distances, distances)
    np.testing.assert_array_equal(display.neighbors[1, 0], X[indices[1, 0]])
    assert display.axes_[0, 0].get_title() == f"query: {y_test[0]}"
    label, distance = y[indices[2, 3]], distances[2, 3]
    assert display.axes_[2, 4].get_title() == f"{label} ({distance:.4g})"


def test_templates_display_draws_one_image_per_class(digits):
    X, y, _, _ = digits
    clf = _fit(LinearSoftmaxClassifier(random_state=0), X, y)
    display = TemplatesDisplay.from_estimator(clf)
    assert display.axes_.shape == (2, 5)
    titles = [ax.get_title() for ax in display.axes_.ravel()]
    assert titles == [str(c) for c in clf.classes_]
    np.testing.assert_allclose(
        display.axes_[0, 3].get_images()[0].get_array(), clf.coef_[3].reshape(8, 8)
    )
    low, high = display.axes_[0, 3].get_images()[0].get_clim()
    assert low == -high == -np.abs(clf.coef_[3]).max()  # white means 0


def test_templates_shown_look_like_their_digits():
    """The linear model compare draws: each template correlates >= 0.5 with
    its class's mean image (centred), on the MNIST sample."""
    X, y = load_mnist_sample(return_X_y=True, scale=True)
    clf = MODELS["linear"]().fit(X, y)
    centred = np.stack([X[y == c].mean(0) for c in range(10)]) - X.mean(0)
    for template, mean_image in zip(clf.coef_, centred, strict=True):
        assert np.corrcoef(template, mean_image)[0, 1] >= 0.5
    default = LinearSoftmaxClassifier(random_state=0).fit(X, y)  # little penalty:
    pairs = zip(default.coef_, centred, strict=True)
    noisy = [np.corrcoef(t, m)[0, 1] for t, m in pairs]
    assert min(noisy) < 0.5  # its templates fit pixel noise


def test_templates_of_rgb_images_are_colour_images():
    rng = np.random.default_rng(0)
    X = rng.random((60, 4 * 4 * 3), dtype=np.float32)
    clf = _fit(LinearSoftmaxClassifier(max_iter=2, image_shape=(4, 4, 3)), X,
               np.arange(60) % 3)  # fmt: skip
    display = TemplatesDisplay.from_estimator(clf)
    shapes = [shape for ax in display.axes_.ravel() for shape in _images(ax)]
    assert shapes == [(4, 4, 3)] * 3


def test_filters_and_feature_maps_of_lenet(digits):
    X, y, X_test, _ = digits
    clf = _fit(LeNet5Classifier(max_iter=1, random_state=0), X[:300], y[:300])
    c1 = FiltersDisplay.from_estimator(clf)
    assert c1.axes_.shape == (1, 6)
    assert all(_images(ax) == [(5, 5)] for ax in c1.axes_.ravel())
    assert c1.figure_.texts[0].get_text() == "C1: 6 filters of 1x5x5"
    c3 = FiltersDisplay.from_estimator(clf, layer="C3")
    assert c3.axes_.shape == (16, 6)
    with pytest.raises(ValueError, match=r"\['C1', 'C3', 'C5'\]"):
        FiltersDisplay.from_estimator(clf, layer="F6")

    maps = FeatureMapsDisplay.from_estimator(clf, X_test[0].reshape(8, 8))
    assert list(maps.maps) == ["C1", "S2", "C3", "S4"]
    assert maps.axes_.shape == (5, 16)
    assert _images(maps.axes_[0, 0]) == [(8, 8)]
    assert _images(maps.axes_[2, 5]) == [(14, 14)] and _images(maps.axes_[2, 6]) == []
    assert [maps.axes_[r, 0].get_ylabel() for r in range(1, 5)] == list(maps.maps)
    # the drawn maps are the network's own: C1's maps are tanh outputs
    assert np.abs(maps.maps["C1"]).max() <= 1


def test_filters_and_feature_maps_of_a_convnet(digits):
    X, y, X_test, _ = digits
    clf = _fit(ConvNetClassifier((4, 40), kernel_size=3, max_iter=1, random_state=0),
               X[:300], y[:300])  # fmt: skip
    first = FiltersDisplay.from_estimator(clf)  # the first convolution
    assert first.figure_.texts[0].get_text() == "conv1: 4 filters of 1x3x3"
    conv2 = FiltersDisplay.from_estimator(clf, layer="conv2", max_filters=5)
    assert conv2.axes_.shape == (5, 4)
    np.testing.assert_array_equal(conv2.filters, clf.params_[4][0][:5])
    assert conv2.figure_.texts[0].get_text() == (
        "conv2: 40 filters of 4x3x3 (first 5 x 4 shown)"
    )
    maps = FeatureMapsDisplay.from_estimator(clf, X_test[0], max_maps=16)
    assert list(maps.maps) == ["conv1", "pool1", "conv2", "pool2"]
    assert maps.maps["conv2"].shape == (16, 4, 4) and maps.axes_.shape == (5, 16)
    assert maps.maps["conv1"].min() >= 0  # relu outputs


def test_displays_of_a_modern_network(digits):
    from skcnn.layers import (
        Activation,
        BatchNormalization,
        Conv2D,
        GlobalAveragePooling2D,
        Residual,
    )

    X, y, X_test, y_test = digits
    stack = [
        Conv2D(4, 3, padding="same"), BatchNormalization(), Activation("relu"),
        Residual([Conv2D(4, 3, padding="same"), BatchNormalization()]),
        Activation("relu"), GlobalAveragePooling2D(),
    ]  # fmt: skip
    clf = _fit(ConvNetClassifier(layers=stack, max_iter=2, ema_decay=0.9,
                                 test_time_augmentation={"shift": 1},
                                 random_state=0), X, y)  # fmt: skip
    assert FiltersDisplay.from_estimator(clf).axes_.shape == (1, 4)
    maps = FeatureMapsDisplay.from_estimator(clf, X_test[0])
    assert list(maps.maps) == ["conv1", "res1"]  # each after its activation
    assert maps.maps["res1"].min() >= 0
    mistakes = MistakesDisplay.from_estimator(clf, X_test, y_test, n_images=4)
    wrong = clf.predict(X_test) != y_test  # with the test-time copies
    top = np.sort(clf.predict_proba(X_test).max(axis=1)[wrong])[::-1][:4]
    np.testing.assert_allclose(mistakes.confidence, top)
    curve = TrainingCurveDisplay.from_estimators([clf])
    np.testing.assert_array_equal(curve.axes_[0].get_lines()[0].get_ydata(),
                                  clf.loss_curve_)  # fmt: skip


def test_filters_of_rgb_images_are_colour_images():
    rng = np.random.default_rng(0)
    images, y = rng.random((40, 8, 8, 3), dtype=np.float32), np.arange(40) % 2
    clf = _fit(ConvNetClassifier((5,), kernel_size=3, max_iter=1), images, y)
    display = FiltersDisplay.from_estimator(clf)
    assert display.axes_.shape == (1, 5)
    assert all(_images(ax) == [(3, 3, 3)] for ax in display.axes_.ravel())


def test_training_curves_of_several_estimators(digits):
    X, y, _, _ = digits
    mlp = _fit(MLPClassifier((20,), max_iter=8, early_stopping=True, random_state=0),
               X, y)  # fmt: skip
    linear = _fit(LinearSoftmaxClassifier(max_iter=5, random_state=0), X, y)
    display = TrainingCurveDisplay.from_estimators([mlp, linear], names=["mlp", "lin"])
    loss_ax, score_ax = display.axes_
    assert [line.get_label() for line in loss_ax.get_lines()] == ["mlp", "lin"]
    assert [line.get_label() for line in score_ax.get_lines()] == ["mlp"]
    drawn = loss_ax.get_lines()[1].get_ydata()
    np.testing.assert_array_equal(drawn, linear.loss_curve_)
    assert len(score_ax.get_lines()[0].get_xdata()) == mlp.n_iter_


def test_mistakes_are_the_most_confident_wrong_predictions(digits):
    X, y, X_test, y_test = digits
    clf = _fit(LinearSoftmaxClassifier(max_iter=3, random_state=0), X, y)
    display = MistakesDisplay.from_estimator(clf, X_test, y_test, n_images=7)
    proba = clf.predict_proba(X_test)
    wrong = clf.predict(X_test) != y_test
    top = np.sort(proba.max(axis=1)[wrong])[::-1][:7]
    np.testing.assert_allclose(display.confidence, top)
    assert display.axes_.shape == (2, 5) and len(display.images) == 7
    assert (
        display.axes_[0, 0]
        .get_title()
        .startswith(f"true {display.y_true[0]} / pred {display.y_pred[0]}")
    )
    assert not display.axes_[1, 4].axison  # the unused panel is hidden


def test_displays_draw_into_a_given_axes(digits):
    X, y, _, _ = digits
    clf = _fit(LinearSoftmaxClassifier(max_iter=3, random_state=0), X, y)
    figure, (_, right) = plt.subplots(1, 2)
    display = TemplatesDisplay.from_estimator(clf, ax=right)
    assert display.figure_ is figure and not right.axison
    assert len(figure.axes) == 2 + 10
