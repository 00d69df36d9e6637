"""The targets and weights a network trains on: checks and encoding.

``y`` arrives as class labels (1-D) or a 0/1 multilabel indicator matrix. The
first fit fixes ``classes_`` (:func:`fitted_classes`); every fit then checks y
against them and encodes it as the loss reads it (:func:`encode_targets`):
class indices, or the label matrix as it is. Sample weights and ``class_weight``
become one weight per row (:func:`row_weights`).
"""

import numpy as np
from sklearn.utils import compute_class_weight
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import _check_sample_weight, column_or_1d


def check_targets(y):
    """Validated y: 1-D class labels, or a 0/1 multilabel indicator matrix (a
    one-column y becomes 1-D, with scikit-learn's DataConversionWarning)."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if y.ndim == 2 and type_of_target(y) != "multilabel-indicator":
        raise ValueError(
            "y must be 1-D class labels or a 0/1 multilabel indicator matrix; "
            f"got a 2-D y of type {type_of_target(y)!r} (multiclass-multioutput "
            "targets are not supported)."
        )
    return y


def fitted_classes(y, classes):
    """``classes_`` of a first fit: the label columns of a multilabel y, else
    the sorted classes (``partial_fit``'s ``classes``, or those of y)."""
    if y.ndim == 1:
        return np.unique(y if classes is None else np.asarray(classes))
    labels = np.arange(y.shape[1])
    if classes is not None and not np.array_equal(np.unique(classes), labels):
        raise ValueError(
            f"classes={classes!r}: a multilabel y of {y.shape[1]} columns "
            f"has the labels {labels!r}."
        )
    return labels


def encode_targets(y, fitted, head, *, classes=None, first=True, warm_fit=False):
    """y as the loss reads it: class indices (n,), or the 0/1 label matrix
    (n, n_labels) of a multilabel model; checked against the ``fitted``
    classes and the model's ``head``.

    ``classes`` is ``partial_fit``'s argument (checked after its first call);
    a ``warm_fit`` (warm start) needs exactly the classes of the previous fit.
    """

    def kind(multilabel, n_labels):
        return f"{n_labels} labels (multilabel)" if multilabel else "class labels"

    given, wanted = (
        kind(y.ndim == 2, y.shape[-1]),
        kind(head.multilabel, head.n_outputs),
    )
    if given != wanted:
        raise ValueError(
            f"The model was fitted on {wanted}; y holds {given}. Training goes "
            "on only with the same kind of target."
        )
    if y.ndim == 2:
        return y
    changed = classes is not None and not np.array_equal(np.unique(classes), fitted)
    if changed and not first:
        raise ValueError(
            f"classes={classes!r} differs from the classes of the first call "
            f"to partial_fit, {fitted!r}."
        )
    seen = unique_labels(y)
    if warm_fit and set(seen) != set(fitted):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes "
            f"as in the previous call to fit. Previously got "
            f"{fitted}, `y` has {seen}"
        )
    unknown = np.setdiff1d(seen, fitted)
    if unknown.size:
        raise ValueError(f"y holds labels {unknown!r} not in classes {fitted!r}.")
    return np.searchsorted(fitted, y)


def row_weights(target, sample_weight, X, fitted, class_weight, head):
    """float64 weight of each row in the loss: ``sample_weight`` (checked:
    non-negative, not all zero) times its class's ``class_weight``."""
    if class_weight is not None and head.multilabel:
        raise ValueError(
            "class_weight is not supported with a multilabel y; weight the "
            "samples with sample_weight instead."
        )
    weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    if np.any(weight < 0):
        raise ValueError("sample_weight must be non-negative.")
    if not weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if class_weight is None:
        return weight
    if class_weight == "balanced":
        per_class = compute_class_weight(class_weight, classes=fitted, y=fitted[target])
    else:
        per_class = np.array([class_weight.get(c, 1.0) for c in fitted], dtype=float)
    return weight * per_class[target]
