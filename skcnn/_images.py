"""One place that turns X into an image batch and back.

Estimators accept X as flat rows ``(n_samples, n_features)`` (what Pipelines and
scalers produce) or as image arrays ``(n_samples, height, width)`` /
``(n_samples, height, width, channels)`` (channel-last, the ``(I, H, W, C)``
convention). A 4-D array that looks channels-first, ``(n, C, H, W)`` as
PyTorch holds images, is refused with the transpose that converts it (see
:func:`looks_channels_first`), never silently read as ``C x H`` images. Flat
rows are images read in ``(H, W, C)`` order, i.e. exactly
``images.reshape(n_samples, -1)``.

The geometry of a flat row is the ``image_shape`` parameter when given, else the
shape of the image array, else inferred from ``n_features``:

1. ``n_features = s * s``: a square gray image ``(s, s, 1)``;
2. ``n_features = 3 * s * s``: a square RGB image ``(s, s, 3)``;
3. otherwise a one-row gray image ``(1, n_features, 1)``.
"""

from math import isqrt

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data

ImageShape = tuple[int, int, int]


def normalize_image_shape(image_shape) -> ImageShape | None:
    """Return ``image_shape`` as ``(height, width, channels)``, or None.

    Raises
    ------
    ValueError
        If ``image_shape`` is not 2 or 3 positive integers.
    """
    if image_shape is None:
        return None
    values = tuple(image_shape)
    valid = len(values) in (2, 3) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v > 0
        for v in values
    )
    if not valid:
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels) "
            f"with positive integers; got {image_shape!r}."
        )
    values = tuple(int(v) for v in values)
    return values if len(values) == 3 else (*values, 1)


def infer_image_shape(n_features: int) -> ImageShape:
    """Infer ``(height, width, channels)`` for flat rows of ``n_features`` values.

    Square gray if ``n_features`` is a perfect square, square RGB if it is three
    times one, else a single row ``(1, n_features, 1)``.
    """
    side = isqrt(n_features)
    if side * side == n_features:
        return (side, side, 1)
    if n_features % 3 == 0:
        side = isqrt(n_features // 3)
        if 3 * side * side == n_features:
            return (side, side, 3)
    return (1, n_features, 1)


def resolve_image_shape(n_features: int, image_shape=None) -> ImageShape:
    """The image geometry of flat rows: ``image_shape`` checked, or inferred.

    Raises
    ------
    ValueError
        If ``height * width * channels`` differs from ``n_features``.
    """
    shape = normalize_image_shape(image_shape)
    if shape is None:
        return infer_image_shape(n_features)
    height, width, channels = shape
    if height * width * channels != n_features:
        raise ValueError(
            f"image_shape={shape} holds height * width * channels = {height} * "
            f"{width} * {channels} = {height * width * channels} values, but X has "
            f"{n_features} features per sample; the two must be equal."
        )
    return shape


def flatten_images(X, image_shape=None):
    """Turn image arrays into flat rows; leave 2-D input to ``validate_data``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), (n_samples, height, width) \
            or (n_samples, height, width, channels)
        Input samples. 2-D input (arrays, DataFrames, sparse matrices, lists) is
        returned untouched so that scikit-learn's validation sees it as given.
    image_shape : tuple of int, optional
        The expected image geometry; image arrays must agree with it.

    Returns
    -------
    X_flat : array-like of shape (n_samples, n_features)
        The samples as rows.
    image_shape : tuple of (height, width, channels), or None
        The geometry carried by an image array, else ``image_shape`` normalised.
    """
    expected = normalize_image_shape(image_shape)
    ndim = getattr(X, "ndim", None)
    if ndim is None and isinstance(X, list | tuple):
        ndim = np.ndim(X)
    if ndim not in (3, 4):
        if ndim is not None and ndim > 4:
            raise ValueError(
                "X must be 2-D (n_samples, n_features) or an image array of shape "
                "(n_samples, height, width) or (n_samples, height, width, channels);"
                f" got an array with {ndim} dimensions of shape {np.shape(X)}."
            )
        return X, expected
    X = np.asarray(X)
    shape = X.shape[1:] if X.ndim == 4 else (*X.shape[1:], 1)
    if expected is not None and shape != expected:
        hint = ""
        if looks_channels_first(X.shape) and _channels_last(X.shape) == expected:
            hint = _TRANSPOSE_HINT
        raise ValueError(
            f"X holds images of shape (height, width, channels) = {shape}, but "
            f"the expected image shape is {expected}.{hint}"
        )
    if expected is None and looks_channels_first(X.shape):
        raise ValueError(
            f"X has shape {X.shape}, which looks channels-first (n_samples, "
            f"channels, height, width), PyTorch's layout: {X.shape[1]} channels of "
            f"{X.shape[2]}x{X.shape[3]} pixels. skcnn reads image arrays "
            "channels-last, (n_samples, height, width, channels), and would see "
            f"{X.shape[1]}x{X.shape[2]} images with {X.shape[3]} channels."
            f"{_TRANSPOSE_HINT} If these really are {X.shape[1]}x{X.shape[2]} images "
            f"with {X.shape[3]} channels, say so with image_shape={shape}."
        )
    return X.reshape(X.shape[0], -1), shape


_TRANSPOSE_HINT = (
    " Convert channels-first images with X.transpose(0, 2, 3, 1) (a PyTorch "
    "tensor: tensor.permute(0, 2, 3, 1).numpy())."
)


def looks_channels_first(shape: tuple) -> bool:
    """Whether a 4-D image array's ``shape`` looks channels-first.

    ``(n, c, h, w)`` with at most 4 values on axis 1 (gray, RGB, RGBA) and more
    than 4 on each of the last two axes: as channels-last, it would be images
    at most 4 pixels high holding more channels than any photograph has.
    Channels-last arrays of images over 4 pixels high never match.
    """
    return len(shape) == 4 and shape[1] <= 4 < min(shape[2], shape[3])


def _channels_last(shape: tuple) -> ImageShape:
    """The ``(height, width, channels)`` of a channels-first 4-D shape."""
    return (shape[2], shape[3], shape[1])


def to_images(X, image_shape) -> np.ndarray:
    """View flat rows as an image batch ``(n_samples, height, width, channels)``."""
    return np.asarray(X).reshape(-1, *image_shape)


def validate_images(estimator, X, y="no_validation", *, reset: bool, **check_params):
    """``validate_data`` for image input; sets ``image_shape_`` when ``reset``.

    Image arrays are flattened *before* scikit-learn's validation, so that
    ``n_features_in_`` counts pixels, not rows. At fit (``reset=True``) the
    geometry comes from the ``image_shape`` parameter, the image array, or the
    inference rule; afterwards image input must have the fitted geometry and flat
    input the fitted number of features.

    Parameters
    ----------
    estimator : estimator instance
        Has an ``image_shape`` parameter; gets ``image_shape_`` when ``reset``.
    X : array-like
        Flat rows or an image array.
    y : array-like or "no_validation", default="no_validation"
        Targets, validated with X when given.
    reset : bool
        True in ``fit``; False in ``predict`` and friends.
    **check_params : dict
        Passed on to :func:`sklearn.utils.validation.validate_data`.

    Returns
    -------
    X or (X, y)
        As :func:`~sklearn.utils.validation.validate_data` returns them.
    """
    expected = estimator.image_shape if reset else estimator.image_shape_
    X, shape = flatten_images(X, expected)
    out = validate_data(estimator, native_byte_order(X), y, reset=reset, **check_params)
    if reset:
        only_X = isinstance(y, str) and y == "no_validation"
        X_valid = out if only_X else out[0]
        estimator.image_shape_ = resolve_image_shape(X_valid.shape[1], shape)
    return out


def native_byte_order(X):
    """X with its values in this machine's byte order (a copy only if swapped).

    A big-endian float32 array is float32 data: converted here, it keeps its
    dtype through validation, where a list of accepted dtypes would otherwise
    turn it into the first of them.
    """
    dtype = getattr(X, "dtype", None)
    if isinstance(X, np.ndarray) and not dtype.isnative:
        return X.astype(dtype.newbyteorder("="))
    return X


def as_float32(X: np.ndarray) -> np.ndarray:
    """Cast validated float64 X to float32, refusing values float32 cannot hold.

    Other dtypes (uint8, float32) are returned as they are.

    Raises
    ------
    ValueError
        If a value's magnitude exceeds float32's maximum (about 3.4e38).
    """
    if X.dtype != np.float64:
        return X
    limit = np.finfo(np.float32).max
    if X.size and np.abs(X).max() > limit:
        raise ValueError(
            f"X holds values up to {np.abs(X).max():.3g} in magnitude; skcnn "
            f"computes in float32, which holds at most {limit:.3g}. Rescale X "
            "(e.g. with a StandardScaler) first."
        )
    return X.astype(np.float32)


def check_compute_range(X: np.ndarray, dtype) -> None:
    """Refuse float64 X holding values the float32 compute dtype cannot hold.

    Reads X once without a temporary copy (a memory-mapped X stays on disk).

    Raises
    ------
    ValueError
        If a value's magnitude exceeds float32's maximum (about 3.4e38).
    """
    values = getattr(X, "data", X) if sp.issparse(X) else X  # stored values
    if np.dtype(dtype) != np.float32 or X.dtype != np.float64 or not values.size:
        return
    limit = np.finfo(np.float32).max
    largest = max(abs(float(values.max())), abs(float(values.min())))
    if largest > limit:
        raise ValueError(
            f"X holds values up to {largest:.3g} in magnitude; skcnn computes in "
            f"float32, which holds at most {limit:.3g}. Rescale X (e.g. with a "
            "StandardScaler) first."
        )


def as_compute_dtype(X: np.ndarray, dtype) -> np.ndarray:
    """Cast validated float X to the computing dtype ('float32' or 'float64').

    float32 refuses values it cannot hold (see :func:`as_float32`) instead of
    turning them into infinities.
    """
    if np.dtype(dtype) == np.float32:
        return as_float32(X).astype(np.float32, copy=False)
    return X.astype(np.float64, copy=False)
