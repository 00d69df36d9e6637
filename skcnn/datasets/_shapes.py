"""Coloured shapes: a synthetic colour task that needs colour *and* position."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state

from skcnn.datasets._base import check_bool, image_bunch

__all__ = ["make_colour_shapes"]

#: ITU-R BT.601 luma weights of red, green and blue (PIL's ``convert("L")``,
#: OpenCV's ``cvtColor(..., COLOR_RGB2GRAY)``): the greyscale copy in which the
#: colours of the shapes all look the same.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

#: The colours, in the order ``n_colours`` takes them: each is a primary or
#: secondary colour moved to the same luma (see :func:`_palette`).
COLOUR_NAMES = ("red", "green", "blue", "yellow", "cyan", "magenta")

HALVES = ("top", "bottom")

_SHAPE_LUMA = (0.45, 0.55)  # the luma of a shape, drawn per image
_CHROMA = 0.3  # the largest change of a channel from the luma, for a shape
_BACKGROUND_LUMA = ((0.1, 0.25), (0.75, 0.9))  # dark or light, never the shapes'
_BACKGROUND_CHROMA = 0.08  # the largest tint of a background channel
_MIN_SIZE = 12
_CHUNK_VALUES = 2**22  # pixel values drawn at once: 32 MB of float64

DESCR_TEMPLATE = """\
Coloured shapes (synthetic)
---------------------------

{n_samples} colour images of {size}x{size} pixels, each showing one shape (a
square, a disc or a triangle pointing up or down, of random size and
horizontal position) on a background tinted at random, dark or light, with
Gaussian pixel noise of standard deviation {noise} (on the 0-1 scale).

The class is the shape's colour ({colours}) and the half of the image it lies
in (top or bottom): ``target = 2 * colour + half``, {n_classes} classes, as
balanced as {n_samples} samples allow. Nothing else depends on the class:

- every colour has the same ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B)
  as the others in each image, so a greyscale copy of an image has the same
  distribution whatever its colour (only the half can be told from it);
- a shape in the bottom half is a shape of the top half moved down to the
  mirrored rows (the shape itself is not mirrored), so anything computed from
  the pixels without their position (their mean, as global average pooling
  gives, or their histogram) has the same distribution for both halves;
- the halves are top and bottom, not left and right, so that a left-right
  flip of the training images (the usual augmentation of natural images)
  keeps every label; a gap of {gap} pixel(s) on each side of the middle also
  keeps the shapes in their half under small shifts.

Shapes, sizes, horizontal positions, backgrounds and noise are drawn
independently of the class. Pixels are integers 0-255 as in CIFAR-10
(``scale=True``: floats 0-1).
"""


def _palette(n_colours: int) -> np.ndarray:
    """The RGB colours (n_colours, 3) of the shapes, all at luma 0.5.

    A colour is ``luma + chroma``: the chroma of a primary colour is its unit
    vector minus its luma (so the luma of the chroma is 0), scaled so that its
    largest channel is ``_CHROMA``; a secondary colour is the opposite of the
    primary it lacks (yellow of blue, cyan of red, magenta of green).
    """
    primaries = np.eye(3) - LUMA_WEIGHTS[:, None]  # rows: red, green, blue chroma
    primaries *= _CHROMA / np.abs(primaries).max(axis=1, keepdims=True)
    chroma = np.concatenate([primaries, -primaries[[2, 0, 1]]])
    return 0.5 + chroma[:n_colours]


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an integer in [low, high], else raise."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}.")
    return int(value)


def _geometry(size: int) -> tuple[int, int, int]:
    """``(smallest side, largest side, gap)`` of the shapes in ``size`` pixels.

    A shape's box lies in rows ``[1, size // 2 - gap)`` of the top half, so its
    side is at most ``size // 2 - gap - 1``.
    """
    gap = max(1, size // 16)
    largest = min(round(0.35 * size), size // 2 - gap - 1)
    smallest = min(max(3, round(0.2 * size)), largest)
    return smallest, largest, gap


def _draw_parameters(rng, n_samples, size, n_colours):
    """Everything about each image but its pixel noise, drawn in a fixed order."""
    n_classes = 2 * n_colours
    target = rng.permutation(np.arange(n_samples) % n_classes)
    colour, half = np.divmod(target, 2)
    smallest, largest, gap = _geometry(size)
    side = rng.randint(smallest, largest + 1, n_samples)
    kind = rng.randint(0, 4, n_samples)  # square, disc, triangle up, down
    top = 1 + (rng.random_sample(n_samples) * (size // 2 - gap - side)).astype(int)
    top = np.where(half == 1, size - side - top, top)  # the mirrored rows
    left = 1 + (rng.random_sample(n_samples) * (size - 1 - side)).astype(int)
    shape_luma = rng.uniform(*_SHAPE_LUMA, n_samples)
    dark = rng.random_sample(n_samples) < 0.5
    low, high = np.where(dark[:, None], _BACKGROUND_LUMA[0], _BACKGROUND_LUMA[1]).T
    background_luma = rng.uniform(low, high)
    tint = rng.standard_normal((n_samples, 3))
    tint -= (tint @ LUMA_WEIGHTS)[:, None]  # no luma: the tint changes hue only
    tint *= (
        rng.uniform(0, _BACKGROUND_CHROMA, n_samples)
        / np.abs(tint).max(axis=1)
    )[:, None]  # fmt: skip
    chroma = _palette(n_colours) - 0.5
    return {
        "target": target,
        "kind": kind,
        "side": side,
        "top": top,
        "left": left,
        "shape_rgb": shape_luma[:, None] + chroma[colour],
        "background_rgb": background_luma[:, None] + tint,
    }


def _masks(kind, side, top, left, size):
    """Boolean masks (n, size, size) of the shapes, tested at pixel centres."""
    centres = np.arange(size) + 0.5
    v = (centres[None, :, None] - top[:, None, None]) / side[:, None, None]
    u = (centres[None, None, :] - left[:, None, None]) / side[:, None, None]
    box = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    across = np.abs(u - 0.5)
    inside = np.select(
        [kind[:, None, None] == k for k in range(4)],
        [
            box,
            (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25,
            across <= v / 2,
            across <= (1 - v) / 2,
        ],
    )
    return box & inside


def make_colour_shapes(
    n_samples: int = 1000,
    *,
    image_size: int = 32,
    n_colours: int = 3,
    noise: float = 0.05,
    random_state: int | np.random.RandomState | None = None,
    return_X_y: bool = False,
    as_images: bool = False,
    scale: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Generate coloured shapes whose class is their colour and their half.

    Each RGB image shows one shape (a square, a disc or a triangle, of random
    size and horizontal position) on a randomly tinted, dark or light, noisy
    background. The class is the shape's colour and whether it lies in the
    top or the bottom half of the image: ``target = 2 * colour + half``. The
    task is built so that only a model that uses both colour and position
    solves it:

    - all colours have the same luma (ITU-R BT.601: ``0.299 R + 0.587 G +
      0.114 B``), so a greyscale copy tells the half but not the colour (at
      best ``1 / n_colours`` accuracy);
    - a bottom shape is a top shape moved down to the mirrored rows, so the
      pixels' mean (global average pooling) or histogram tells the colour but
      not the half (at best 1/2 accuracy).

    The halves are top and bottom, so a left-right flip of the images keeps
    the labels, and shapes keep a gap from the middle row, so small shifts
    do too. The images have CIFAR-10's layout (:func:`load_cifar10`): uint8
    pixels, channels last.

    =================  ============================================
    Classes            ``2 * n_colours`` (6 by default)
    Samples            ``n_samples``, balanced across the classes
    Dimensionality     ``image_size * image_size * 3``
    Features           integers 0-255 (``scale=True``: floats 0-1)
    =================  ============================================

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images. The classes take turns, so their counts differ by
        at most one.
    image_size : int, default=32
        Height and width of the images, at least 12.
    n_colours : int, default=3
        Number of shape colours, from 2 to 6: red, green, blue, then yellow,
        cyan and magenta (all at the same luma, so they are duller than the
        named colours).
    noise : float, default=0.05
        Standard deviation of the Gaussian noise added to every channel of
        every pixel, on the 0-1 scale, before clipping to [0, 1] and rounding
        to integers. Up to about 0.05, clipping almost never reaches a shape's
        pixels; more noise makes the task harder. Without noise, the rounding
        to integers gives each colour's luma its own fine pattern of values,
        which a model reading exact grey levels can use: keep some noise
        (0.01 or more) for greyscale copies without any colour.
    random_state : int, RandomState instance or None, default=None
        Determines everything drawn. Pass an int for reproducible output.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_images : bool, default=False
        With ``return_X_y=True``, return ``X`` with shape (n_samples,
        image_size, image_size, 3) instead of flat rows. Without
        ``return_X_y`` it changes nothing: the Bunch holds both ``data`` and
        ``images``.
    scale : bool, default=False
        Return float32 pixels in [0, 1] (divided by 255) instead of uint8
        pixels in 0-255.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : ndarray of shape (n_samples, image_size * image_size * 3)
            The images flattened in (row, column, channel) order; uint8 (or
            float32 if ``scale``).
        images : ndarray of shape (n_samples, image_size, image_size, 3)
            The same pixels, channels last: a reshaped view of ``data``.
        target : ndarray of shape (n_samples,), dtype int64
            ``2 * colour + half``, ``half`` being 0 for top, 1 for bottom.
        target_names : ndarray of shape (2 * n_colours,), dtype str
            ``"<colour> <half>"``: ``"red top"``, ``"red bottom"``,
            ``"green top"``, ...
        feature_names : list of str
            ``"pixel_<row>_<col>_<channel>"`` for each column of ``data``, the
            channel being ``red``, ``green`` or ``blue``.
        palette : ndarray of shape (n_colours, 3)
            The RGB of each colour (0-1) at luma 0.5; in an image, all three
            channels of a shape move by the same random amount (its luma,
            drawn from [0.45, 0.55]), before the noise.
        DESCR : str
            Description of the data set and of how the class is hidden.

    (X, y) : tuple of ndarray
        If ``return_X_y``: ``data`` (or ``images`` if ``as_images``) and
        ``target``.

    Raises
    ------
    TypeError
        If an argument has the wrong type (e.g. a float ``n_samples``).
    ValueError
        If an argument is out of its range.

    See Also
    --------
    load_cifar10 : Colour images of ten object classes, in the same layout.

    Notes
    -----
    A colour is its luma plus a chroma, a vector of luma 0: for a primary
    colour, its unit vector ``e`` minus ``(w . e) (1, 1, 1)``, ``w`` being the
    luma weights, scaled so that its largest channel is 0.3; for a secondary
    colour, the opposite of the primary it lacks. Only three distinct colours
    can share a luma under one set of weights: the colours are grey alike
    under BT.601 (PIL's ``convert("L")``, OpenCV's ``COLOR_RGB2GRAY``,
    torchvision's ``Grayscale``), not under the plain mean of the channels or
    BT.709's weights (``0.2126 R + 0.7152 G + 0.0722 B``, scikit-image's
    ``rgb2gray``), which still tell them apart.

    Examples
    --------
    >>> import numpy as np
    >>> from skcnn.datasets import make_colour_shapes
    >>> shapes = make_colour_shapes(n_samples=600, random_state=0)
    >>> shapes.images.shape, shapes.data.shape, shapes.data.dtype
    ((600, 32, 32, 3), (600, 3072), dtype('uint8'))
    >>> shapes.target_names[:4].tolist()
    ['red top', 'red bottom', 'green top', 'green bottom']
    >>> np.bincount(shapes.target)
    array([100, 100, 100, 100, 100, 100])
    >>> shapes.palette @ [0.299, 0.587, 0.114]  # the same luma: grey alike
    array([0.5, 0.5, 0.5])
    >>> X, y = make_colour_shapes(
    ...     8, image_size=16, scale=True, return_X_y=True, as_images=True,
    ...     random_state=0)
    >>> X.shape, X.dtype, bool(X.min() >= 0 and X.max() <= 1)
    ((8, 16, 16, 3), dtype('float32'), True)
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    image_size = _check_int("image_size", image_size, _MIN_SIZE)
    n_colours = _check_int("n_colours", n_colours, 2, len(COLOUR_NAMES))
    if isinstance(noise, bool | np.bool_) or not isinstance(noise, Real):
        raise TypeError(f"noise must be a number, got {noise!r}.")
    if not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}.")
    return_X_y = check_bool("return_X_y", return_X_y)
    as_images = check_bool("as_images", as_images)
    scale = check_bool("scale", scale)
    rng = check_random_state(random_state)

    drawn = _draw_parameters(rng, n_samples, image_size, n_colours)
    images = np.empty((n_samples, image_size, image_size, 3), dtype=np.uint8)
    chunk = max(1, _CHUNK_VALUES // (3 * image_size**2))
    for start in range(0, n_samples, chunk):
        rows = slice(start, start + chunk)
        mask = _masks(
            drawn["kind"][rows], drawn["side"][rows], drawn["top"][rows],
            drawn["left"][rows], image_size,
        )  # fmt: skip
        pixels = np.where(
            mask[..., None],
            drawn["shape_rgb"][rows, None, None, :],
            drawn["background_rgb"][rows, None, None, :],
        )
        pixels += noise * rng.standard_normal(pixels.shape)
        np.clip(pixels, 0.0, 1.0, out=pixels)
        images[rows] = np.rint(pixels * 255)

    names = COLOUR_NAMES[:n_colours]
    channels = ("red", "green", "blue")
    _, _, gap = _geometry(image_size)
    return image_bunch(
        images,
        drawn["target"].astype(np.int64),
        max_value=255,
        scale=scale,
        return_X_y=return_X_y,
        as_images=as_images,
        target_names=np.array([f"{name} {half}" for name in names for half in HALVES]),
        feature_names=[
            f"pixel_{row}_{col}_{channel}"
            for row in range(image_size)
            for col in range(image_size)
            for channel in channels
        ],
        palette=_palette(n_colours),
        DESCR=DESCR_TEMPLATE.format(
            n_samples=n_samples,
            size=image_size,
            noise=noise,
            colours=", ".join(names),
            n_classes=2 * n_colours,
            gap=gap,
        ),
    )
