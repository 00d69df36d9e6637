"""Pictures of fitted models, following scikit-learn's ``Display`` convention.

Each display stores what it shows as arrays (``__init__``), draws it with
``plot(ax=None)`` (one ``Axes`` to draw into, split into a grid when the picture
has several panels, or None for a new figure) and is usually built with
``from_estimator``. After ``plot``, ``figure_`` is the figure and ``axes_`` the
array of axes. matplotlib is imported only when something is drawn.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skcnn._images import as_compute_dtype, validate_images
from skcnn._layers import Activation, Conv2D, Pool2D, Residual, run_forward


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skcnn's displays need matplotlib: pip install 'skcnn[plot]'."
        ) from exc
    return plt


def _axes_grid(ax, n_rows, n_cols, cell=1.3):
    """A (n_rows, n_cols) array of axes: a new figure, or a grid inside ``ax``."""
    plt = _pyplot()
    if ax is None:
        figure, axes = plt.subplots(
            n_rows, n_cols, figsize=(cell * n_cols + 0.5, cell * n_rows + 0.5),
            squeeze=False,
        )  # fmt: skip
        return figure, axes
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    figure = ax.figure
    ax.set_axis_off()
    grid = GridSpecFromSubplotSpec(n_rows, n_cols, subplot_spec=ax.get_subplotspec())
    axes = np.array(
        [[figure.add_subplot(grid[r, c]) for c in range(n_cols)] for r in range(n_rows)]
    )
    return figure, axes


def _show(ax, values, image_shape, title=None, cmap="gray", symmetric=False):
    """Draw one flat image (gray, or RGB rescaled to [0, 1]) without ticks.

    ``symmetric``: a gray image's colour scale is centred on 0 (``-m`` to
    ``m``, m its largest magnitude), so that the middle colour means zero.
    """
    height, width, channels = image_shape
    image = np.asarray(values, dtype=float).reshape(height, width, channels)
    if channels == 1:
        limit = float(np.abs(image).max()) or 1.0
        scale = {"vmin": -limit, "vmax": limit} if symmetric else {}
        ax.imshow(image[:, :, 0], cmap=cmap, **scale)
    else:
        low, high = image.min(), image.max()
        ax.imshow((image - low) / (high - low) if high > low else image * 0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)


def _hide_unused(axes, used):
    for ax in axes.ravel()[used:]:
        ax.set_axis_off()


class NeighborsDisplay:
    """Query images and their nearest training images, with distances and labels.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_features)
        The query images, flat.
    neighbors : ndarray of shape (n_queries, n_neighbors, n_features)
        Each query's nearest training images, nearest first.
    distances : ndarray of shape (n_queries, n_neighbors)
        Their distances.
    neighbor_labels : ndarray of shape (n_queries, n_neighbors)
        Their labels.
    image_shape : tuple of (height, width, channels)
        Geometry of the images.
    query_labels : ndarray of shape (n_queries,), default=None
        True labels of the queries, shown when given.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_queries, 1 + n_neighbors)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcnn import KNNImageClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.inspection import NeighborsDisplay
    >>> X, y = load_digits_images(return_X_y=True)
    >>> knn = KNNImageClassifier(n_neighbors=3).fit(X[:1000], y[:1000])
    >>> display = NeighborsDisplay.from_estimator(knn, X[1000:1004], y[1000:1004])
    >>> display.axes_.shape
    (4, 4)
    """

    def __init__(self, queries, neighbors, distances, neighbor_labels, image_shape,
                 query_labels=None):  # fmt: skip
        self.queries = queries
        self.neighbors = neighbors
        self.distances = distances
        self.neighbor_labels = neighbor_labels
        self.image_shape = image_shape
        self.query_labels = query_labels

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, n_neighbors=None, ax=None):
        """Find and draw the nearest training images of each image of X.

        Parameters
        ----------
        estimator : fitted KNNImageClassifier
            Keeps its training images in ``X_fit_``.
        X : array-like of shape (n_queries, n_features) or image array
            The query images (a handful: one row each).
        y : array-like of shape (n_queries,), default=None
            Their true labels, for the titles.
        n_neighbors : int, default=None
            Neighbours per query; the estimator's ``n_neighbors`` when None.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : NeighborsDisplay
        """
        check_is_fitted(estimator, "X_fit_")
        queries = validate_images(estimator, X, reset=False, dtype=None)
        distances, indices = estimator.kneighbors(X, n_neighbors)
        labels = estimator.classes_[estimator.y_fit_[indices, 0]]
        display = cls(
            np.asarray(queries), estimator.X_fit_[indices], distances, labels,
            estimator.image_shape_, None if y is None else np.asarray(y),
        )  # fmt: skip
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw one row per query: the query, then its neighbours.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : NeighborsDisplay
        """
        n_queries, n_neighbors = self.distances.shape
        self.figure_, self.axes_ = _axes_grid(ax, n_queries, 1 + n_neighbors)
        for i in range(n_queries):
            title = "query" if self.query_labels is None else (
                f"query: {self.query_labels[i]}"
            )  # fmt: skip
            _show(self.axes_[i, 0], self.queries[i], self.image_shape, title)
            for j in range(n_neighbors):
                _show(
                    self.axes_[i, j + 1], self.neighbors[i, j], self.image_shape,
                    f"{self.neighbor_labels[i, j]} ({self.distances[i, j]:.4g})",
                )  # fmt: skip
        return self


class TemplatesDisplay:
    """Each class's weights of a linear classifier, drawn as an image.

    Red is a positive weight, blue a negative one, white zero (each template's
    colour scale is symmetric around 0). Weights look like their classes when
    the model is regularised enough (``alpha`` around 1 for
    :class:`~skcnn.LinearSoftmaxClassifier` on MNIST); with little penalty
    they fit pixel noise.

    Parameters
    ----------
    templates : ndarray of shape (n_classes, n_features)
        One weight row per class (``coef_``).
    classes : ndarray of shape (n_classes,)
        The class labels, for the titles.
    image_shape : tuple of (height, width, channels)
        Geometry of the images.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcnn import LinearSoftmaxClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.inspection import TemplatesDisplay
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = LinearSoftmaxClassifier(random_state=0).fit(X, y)
    >>> TemplatesDisplay.from_estimator(clf).axes_.size
    10
    """

    def __init__(self, templates, classes, image_shape):
        self.templates = templates
        self.classes = classes
        self.image_shape = image_shape

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """Draw the templates of a fitted linear classifier.

        Parameters
        ----------
        estimator : fitted LinearSoftmaxClassifier
            Or any fitted estimator with ``coef_`` of shape (n_classes,
            n_features), ``classes_`` and ``image_shape_``.
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : TemplatesDisplay
        """
        check_is_fitted(estimator, "coef_")
        display = cls(
            np.asarray(estimator.coef_), estimator.classes_, estimator.image_shape_
        )
        return display.plot(ax=ax)

    def plot(self, ax=None, *, n_cols=5):
        """Draw the templates in rows of ``n_cols``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        n_cols : int, default=5
            Templates per row.

        Returns
        -------
        display : TemplatesDisplay
        """
        n = len(self.templates)
        n_cols = min(n_cols, n)
        self.figure_, self.axes_ = _axes_grid(ax, -(-n // n_cols), n_cols)
        for ax_, template, label in zip(self.axes_.ravel(), self.templates,
                                        self.classes, strict=False):  # fmt: skip
            _show(ax_, template, self.image_shape, str(label), cmap="RdBu_r",
                  symmetric=True)  # fmt: skip
        _hide_unused(self.axes_, n)
        return self


class FiltersDisplay:
    """The filters of one convolution layer: a row per filter, a column per input
    channel (a single row for a one-channel input; colour images for an RGB one).

    Parameters
    ----------
    filters : ndarray of shape (n_filters, in_channels, size, size)
        The filters shown.
    layer_name : str
        Shown in the figure's title.
    n_filters : int, default=None
        How many filters the layer has (None: as many as shown).
    n_channels : int, default=None
        How many input channels each filter spans (None: as many as shown).

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcnn import LeNet5Classifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.inspection import FiltersDisplay
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = LeNet5Classifier(max_iter=1).fit(X[:200], y[:200])
    >>> FiltersDisplay.from_estimator(clf, layer="C3").axes_.shape
    (16, 6)
    """

    def __init__(self, filters, layer_name, n_filters=None, n_channels=None):
        self.filters = filters
        self.layer_name = layer_name
        self.n_filters = n_filters
        self.n_channels = n_channels

    @classmethod
    def from_estimator(
        cls, estimator, *, layer=None, max_filters=32, max_channels=16, ax=None
    ):
        """Draw the filters of a fitted network's convolution layer.

        Parameters
        ----------
        estimator : fitted LeNet5Classifier or ConvNetClassifier
            Or another network of skcnn with named convolution layers.
        layer : str, default=None
            The layer's name in the estimator's ``summary()`` ('C1', 'C3' or
            'C5' for LeNet-5; 'conv1', 'conv2', ... for ConvNetClassifier);
            None for the first convolution.
        max_filters : int, default=32
            Show at most this many filters (the first ones).
        max_channels : int, default=16
            Show at most this many input channels of each (the first ones).
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : FiltersDisplay
        """
        check_is_fitted(estimator, "layers_")
        names = estimator.layer_names_
        convs = [n for n, lay in zip(names, estimator.layers_, strict=True)
                 if isinstance(lay, Conv2D)]  # fmt: skip
        layer = convs[0] if layer is None and convs else layer
        if layer not in convs:
            raise ValueError(f"layer must be one of {convs}; got {layer!r}.")
        weight = np.asarray(estimator.params_[names.index(layer)][0])
        n_filters, n_channels = weight.shape[:2]
        if n_channels != 3:  # an RGB filter is shown whole, as a colour image
            weight = weight[:, :max_channels]
        return cls(weight[:max_filters], layer, n_filters, n_channels).plot(ax=ax)

    def plot(self, ax=None):
        """Draw each filter as a small image (blue-white-red scale; RGB in colour).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : FiltersDisplay
        """
        shown, channels, size, _ = self.filters.shape
        colour = channels == 3
        rows, cols = (1, shown) if channels == 1 or colour else (shown, channels)
        self.figure_, self.axes_ = _axes_grid(ax, rows, cols, cell=0.7)
        limit = float(np.abs(self.filters).max()) or 1.0
        for f in range(shown):
            for c in range(1 if colour else channels):
                ax_ = self.axes_[0, f] if rows == 1 else self.axes_[f, c]
                if colour:  # -limit..limit to 0..1, channels last
                    rgb = (self.filters[f].transpose(1, 2, 0) / limit + 1) / 2
                    ax_.imshow(rgb)
                else:
                    ax_.imshow(self.filters[f, c], cmap="RdBu_r", vmin=-limit,
                               vmax=limit)  # fmt: skip
                ax_.set_xticks([])
                ax_.set_yticks([])
        n_filters = self.n_filters or shown
        n_channels = self.n_channels or channels
        title = f"{self.layer_name}: {n_filters} filters of {n_channels}x{size}x{size}"
        if shown < n_filters or (not colour and channels < n_channels):
            title += f" (first {shown} x {channels} shown)"
        self.figure_.suptitle(title)
        return self


class FeatureMapsDisplay:
    """One image and the feature maps it produces after each convolution (with its
    activation) and pooling layer of a convolutional network: a row per layer.
    A residual block counts as one layer, shown after the activation that follows
    it (the layers inside it are not shown).

    Parameters
    ----------
    image : ndarray of shape (n_features,)
        The input image, flat.
    image_shape : tuple of (height, width, channels)
        Its geometry.
    maps : dict of str to ndarray of shape (channels, height, width)
        The maps of each layer, by layer name, in network order.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (1 + len(maps), max channels)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcnn import LeNet5Classifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.inspection import FeatureMapsDisplay
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = LeNet5Classifier(max_iter=1).fit(X[:200], y[:200])
    >>> display = FeatureMapsDisplay.from_estimator(clf, X[0])
    >>> {name: maps.shape for name, maps in display.maps.items()}
    {'C1': (6, 28, 28), 'S2': (6, 14, 14), 'C3': (16, 10, 10), 'S4': (16, 5, 5)}
    """

    def __init__(self, image, image_shape, maps):
        self.image = image
        self.image_shape = image_shape
        self.maps = maps

    @classmethod
    def from_estimator(cls, estimator, image, *, max_maps=16, ax=None):
        """Run one image through a fitted network and draw its feature maps.

        Parameters
        ----------
        estimator : fitted LeNet5Classifier or ConvNetClassifier
        image : array-like of shape (n_features,) or (height, width[, channels])
            One image.
        max_maps : int, default=16
            Show at most this many maps of each layer (the first ones).
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : FeatureMapsDisplay
        """
        check_is_fitted(estimator, "layers_")
        X = validate_images(estimator, np.asarray(image)[None], reset=False,
                            dtype=[np.float64, np.float32])  # fmt: skip
        out, maps, conv = as_compute_dtype(X, estimator.compute_dtype_), {}, None
        names = estimator.layer_names_
        stack = zip(names, estimator.layers_, estimator.params_, estimator.states_,
                    strict=True)  # fmt: skip
        for name, layer, params, state in stack:
            out, _ = run_forward(layer, out, params, False, state=state)
            if out.ndim != 4:  # past the feature maps
                break
            if isinstance(layer, (Conv2D, Residual)):
                conv = name  # shown after its activation
            elif isinstance(layer, Activation) and conv is not None:
                maps[conv], conv = out[:max_maps, ..., 0].copy(), None
            elif isinstance(layer, Pool2D):
                maps[name] = out[:max_maps, ..., 0].copy()
        maps = {name: m for name, m in maps.items() if m.shape[1] * m.shape[2] > 1}
        return cls(X[0], estimator.image_shape_, maps).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the image, then a row of maps per layer.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : FeatureMapsDisplay
        """
        n_cols = max(len(m) for m in self.maps.values())
        self.figure_, self.axes_ = _axes_grid(ax, 1 + len(self.maps), n_cols, cell=0.8)
        _show(self.axes_[0, 0], self.image, self.image_shape, "input")
        _hide_unused(self.axes_[:1], 1)
        for row, (name, maps) in enumerate(self.maps.items(), start=1):
            for c, feature_map in enumerate(maps):
                ax_ = self.axes_[row, c]
                ax_.imshow(feature_map, cmap="viridis")
                ax_.set_xticks([])
                ax_.set_yticks([])
            self.axes_[row, 0].set_ylabel(name)
            _hide_unused(self.axes_[row : row + 1], len(maps))
        return self


class TrainingCurveDisplay:
    """Training loss and validation accuracy against epochs, for one or more nets.

    Parameters
    ----------
    loss_curves : list of list of float
        Each estimator's ``loss_curve_``.
    validation_curves : list of list of float or None
        Each estimator's ``validation_scores_`` (None without early stopping).
    names : list of str
        The legend's names.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of 2 matplotlib Axes (loss, validation accuracy)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcnn import MLPClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.inspection import TrainingCurveDisplay
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> mlp = MLPClassifier(early_stopping=True, random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimators([mlp])
    >>> len(display.axes_[0].get_lines()) == len(display.axes_[1].get_lines()) == 1
    True
    """

    def __init__(self, loss_curves, validation_curves, names):
        self.loss_curves = loss_curves
        self.validation_curves = validation_curves
        self.names = names

    @classmethod
    def from_estimators(cls, estimators, *, names=None, ax=None):
        """Draw the curves of fitted networks of skcnn.

        Parameters
        ----------
        estimators : list of fitted estimators
            Each with ``loss_curve_`` and ``validation_scores_``.
        names : list of str, default=None
            Legend names; the class names when None.
        ax : matplotlib Axes, default=None
            Where to draw (split in two); None makes a new figure.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        for estimator in estimators:
            check_is_fitted(estimator, "loss_curve_")
        names = names or [type(e).__name__ for e in estimators]
        losses = [list(e.loss_curve_) for e in estimators]
        scores = [e.validation_scores_ for e in estimators]
        display = cls(losses, scores, list(names))
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the loss (left) and the validation accuracy (right) per epoch.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : TrainingCurveDisplay
        """
        figure, axes = _axes_grid(ax, 1, 2, cell=3.2)
        self.figure_, self.axes_ = figure, axes[0]
        loss_ax, score_ax = self.axes_
        curves = zip(self.names, self.loss_curves, self.validation_curves, strict=True)
        for name, losses, scores in curves:
            epochs = np.arange(1, len(losses) + 1)
            loss_ax.plot(epochs, losses, marker=".", label=name)
            if scores:
                score_ax.plot(epochs, scores, marker=".", label=name)
        loss_ax.set(xlabel="epoch", ylabel="training loss", yscale="log",
                    title="loss_curve_")  # fmt: skip
        score_ax.set(xlabel="epoch", ylabel="validation accuracy",
                     title="validation_scores_")  # fmt: skip
        loss_ax.legend(fontsize=8)
        if score_ax.get_lines():
            score_ax.legend(fontsize=8)
        return self


class MistakesDisplay:
    """The test images a classifier gets wrong with the most confidence.

    Parameters
    ----------
    images : ndarray of shape (n_images, n_features)
        The misclassified images, most confident first.
    y_true, y_pred : ndarray of shape (n_images,)
        Their true and predicted labels.
    confidence : ndarray of shape (n_images,)
        The predicted probability of the wrong class.
    image_shape : tuple of (height, width, channels)
        Geometry of the images.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcnn import LinearSoftmaxClassifier
    >>> from skcnn.datasets import load_digits_images
    >>> from skcnn.inspection import MistakesDisplay
    >>> X, y = load_digits_images(return_X_y=True, scale=True)
    >>> clf = LinearSoftmaxClassifier(random_state=0).fit(X[:1000], y[:1000])
    >>> display = MistakesDisplay.from_estimator(clf, X[1000:], y[1000:], n_images=6)
    >>> len(display.images), bool((display.y_true != display.y_pred).all())
    (6, True)
    """

    def __init__(self, images, y_true, y_pred, confidence, image_shape):
        self.images = images
        self.y_true = y_true
        self.y_pred = y_pred
        self.confidence = confidence
        self.image_shape = image_shape

    @classmethod
    def from_estimator(cls, estimator, X, y, *, n_images=10, ax=None):
        """Find and draw the most confidently wrong predictions on (X, y).

        Parameters
        ----------
        estimator : fitted classifier of skcnn
            With ``predict_proba`` and ``image_shape_``.
        X : array-like of shape (n_samples, n_features) or image array
            Test images.
        y : array-like of shape (n_samples,)
            Their true labels.
        n_images : int, default=10
            How many mistakes to show (fewer if there are fewer).
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.

        Returns
        -------
        display : MistakesDisplay
        """
        check_is_fitted(estimator)
        rows = np.asarray(validate_images(estimator, X, reset=False, dtype=None))
        proba = estimator.predict_proba(X)
        y_pred = estimator.classes_[np.argmax(proba, axis=1)]
        y = np.asarray(y)
        wrong = np.flatnonzero(y_pred != y)
        confidence = proba.max(axis=1)[wrong]
        order = wrong[np.argsort(-confidence, kind="stable")][:n_images]
        display = cls(rows[order], y[order], y_pred[order], proba.max(axis=1)[order],
                      estimator.image_shape_)  # fmt: skip
        return display.plot(ax=ax)

    def plot(self, ax=None, *, n_cols=5):
        """Draw the images with 'true / predicted (confidence)' titles.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        n_cols : int, default=5
            Images per row.

        Returns
        -------
        display : MistakesDisplay
        """
        n = max(len(self.images), 1)
        n_cols = min(n_cols, n)
        self.figure_, self.axes_ = _axes_grid(ax, -(-n // n_cols), n_cols, cell=1.5)
        for ax_, image, true, pred, conf in zip(
            self.axes_.ravel(), self.images, self.y_true, self.y_pred,
            self.confidence, strict=False,
        ):  # fmt: skip
            _show(
                ax_, image, self.image_shape, f"true {true} / pred {pred}\n({conf:.0%})"
            )
        _hide_unused(self.axes_, len(self.images))
        return self
