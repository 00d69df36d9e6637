"""scikit-learn's bundled 8x8 digits, as images: the data set that needs no download."""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch

from skcnn.datasets._base import check_bool, image_bunch

__all__ = ["load_digits_images"]

_SIDE = 8
_FEATURE_NAMES = [f"pixel_{row}_{col}" for row in range(_SIDE) for col in range(_SIDE)]


def load_digits_images(
    *, return_X_y: bool = False, as_images: bool = False, scale: bool = False
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load scikit-learn's 8x8 handwritten digits as images.

    This is :func:`sklearn.datasets.load_digits` (1,797 images bundled with
    scikit-learn, so nothing is downloaded) with the images laid out as for
    :func:`load_mnist`: ``data`` is C-contiguous and ``images`` is a reshaped
    view of it.

    =================  ============================================
    Classes            10 (digits 0-9)
    Samples            1797
    Dimensionality     64 (8x8 pixels)
    Features           integers 0-16 (``scale=True``: floats 0-1)
    =================  ============================================

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_images : bool, default=False
        With ``return_X_y=True``, return ``X`` with shape (1797, 8, 8) instead of
        (1797, 64). Without ``return_X_y`` it changes nothing: the Bunch always
        holds both ``data`` and ``images``.
    scale : bool, default=False
        Return float32 pixels in [0, 1] (divided by 16) instead of the float64
        pixels 0-16 that scikit-learn gives.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (1797, 64)
            The images flattened row by row, float64 (float32 if ``scale``).
        images : ndarray of shape (1797, 8, 8)
            The same pixels as ``data``: a reshaped view of it, not a copy.
        target : ndarray of shape (1797,), dtype int64
            The digit of each image.
        target_names : ndarray of shape (10,)
            The digits 0 to 9.
        feature_names : list of str
            ``"pixel_<row>_<col>"`` for each column of ``data``.
        DESCR : str
            scikit-learn's description of the data set.

    (X, y) : tuple of ndarray
        If ``return_X_y``: ``data`` (or ``images`` if ``as_images``) and
        ``target``.

    See Also
    --------
    load_mnist : The 28x28 MNIST digits, 70,000 images.

    Examples
    --------
    >>> from skcnn.datasets import load_digits_images
    >>> digits = load_digits_images()
    >>> digits.data.shape, digits.images.shape, digits.data.dtype
    ((1797, 64), (1797, 8, 8), dtype('float64'))
    >>> X, y = load_digits_images(return_X_y=True, as_images=True, scale=True)
    >>> X.shape, X.dtype, float(X.min()), float(X.max()), y[:5]
    ((1797, 8, 8), dtype('float32'), 0.0, 1.0, array([0, 1, 2, 3, 4]))
    """
    return_X_y = check_bool("return_X_y", return_X_y)
    as_images = check_bool("as_images", as_images)
    scale = check_bool("scale", scale)

    digits = load_digits()
    images = np.ascontiguousarray(digits.images, dtype=np.float64)
    return image_bunch(
        images,
        np.asarray(digits.target, dtype=np.int64),
        max_value=16,
        scale=scale,
        return_X_y=return_X_y,
        as_images=as_images,
        target_names=np.arange(10),
        feature_names=[
            f"pixel_{row}_{col}" for row in range(_SIDE) for col in range(_SIDE)
        ],
        DESCR=digits.DESCR,
    )
