"""Any array a user holds gives the answer of a plain writable C array.

Every estimator and every method that takes images (fit, partial_fit, predict,
predict_proba, score, kneighbors, transform) is called with X and queries in
each memory layout a user may hold: read-only (``setflags``, ``np.frombuffer``),
Fortran-ordered, row- and column-strided views, memory maps opened ``r``,
``r+`` and ``c``, and byte-swapped (big-endian) values; as uint8, float32 and
float64 pixels, as flat rows and as image arrays, and mixed between fit and
predict. Each call must equal the same call on a writable C-contiguous array,
bit for bit. An error, numba's or any other, fails the test: none of these
inputs is wrong.
"""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.datasets import load_digits_images

ESTIMATORS = {
    "knn-l1": KNNImageClassifier(3, metric="l1"),
    "knn-l2": KNNImageClassifier(3),
    "linear": LinearSoftmaxClassifier(max_iter=2, random_state=0),
    "mlp": MLPClassifier((8,), max_iter=2, random_state=0),
    "lenet": LeNet5Classifier(max_iter=1, random_state=0),
    "convnet": ConvNetClassifier(
        conv_filters=(3,), hidden_layer_sizes=(8,), max_iter=1, random_state=0
    ),
}

DTYPES = [np.uint8, np.float32, np.float64]

LAYOUTS = [
    "read-only",
    "frombuffer",
    "fortran",
    "row-strided",
    "column-strided",
    "memmap-r",
    "memmap-r+",
    "memmap-c",
    "big-endian",
]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    """120 digits as integer pixel values 0-255 (exact in every dtype)."""
    X, y = load_digits_images(return_X_y=True)
    return np.round(X[:120] * (255 / 16)).astype(np.uint8), y[:120]


def in_layout(X, layout, folder):
    """The values of C-contiguous X, held in ``layout``."""
    if layout == "read-only":
        out = X.copy()
        out.setflags(write=False)
        return out
    if layout == "frombuffer":  # as MNIST read from bytes: read-only
        return np.frombuffer(X.tobytes(), dtype=X.dtype).reshape(X.shape)
    if layout == "fortran":
        return np.asfortranarray(X)
    if layout == "row-strided":
        every_other = np.zeros((2 * len(X), *X.shape[1:]), X.dtype)
        every_other[::2] = X
        return every_other[::2]
    if layout == "column-strided":
        wide = np.zeros((*X.shape[:-1], 2 * X.shape[-1]), X.dtype)
        wide[..., ::2] = X
        return wide[..., ::2]
    if layout == "big-endian":
        return X.astype(X.dtype.newbyteorder(">"))
    path = folder / f"x-{X.dtype}-{X.ndim}d.npy"
    if not path.exists():
        np.save(path, X)
    return np.load(path, mmap_mode=layout.removeprefix("memmap-"))


def answers(estimator, X):
    """Everything the fitted estimator says about the queries X."""
    out = {"predict_proba": estimator.predict_proba(X)}
    out["predict"] = estimator.predict(X)
    if hasattr(estimator, "kneighbors"):
        out["kneighbors"] = estimator.kneighbors(X, return_distance=True)
        out["kneighbors-self"] = estimator.kneighbors()
    if hasattr(estimator, "transform"):
        out["transform"] = estimator.transform(X)
    return out


def assert_same_answers(got, expected, where=""):
    assert got.keys() == expected.keys()
    for method in expected:
        np.testing.assert_array_equal(
            got[method], expected[method], err_msg=f"{method} {where}"
        )


def cases():
    for name in ESTIMATORS:
        for dtype in DTYPES:
            yield pytest.param(name, dtype, "flat", id=f"{name}-{dtype.__name__}")
        yield pytest.param(name, np.uint8, "images", id=f"{name}-uint8-images")


@pytest.mark.parametrize(("name", "dtype", "form"), list(cases()))
def test_every_layout_gives_the_answer_of_a_c_array(
    name, dtype, form, digits, tmp_path
):
    pixels, y = digits
    X = pixels.astype(dtype)
    X = X.reshape(-1, 8, 8) if form == "images" else X
    reference = clone(ESTIMATORS[name]).fit(X, y)
    expected = answers(reference, X)
    score = reference.score(X, y)
    classes = np.unique(y)
    incremental = hasattr(reference, "partial_fit")
    if incremental:
        stepped = clone(ESTIMATORS[name]).partial_fit(X[:60], y[:60], classes=classes)
        expected_steps = stepped.predict_proba(X)
    for layout in LAYOUTS:
        held = in_layout(X, layout, tmp_path)
        # the layout as queries of an estimator fitted on a C array
        assert_same_answers(answers(reference, held), expected, f"{layout} queries")
        assert reference.score(held, y) == score
        # the layout as training data, queried with a C array
        fitted = clone(ESTIMATORS[name]).fit(held, y)
        assert_same_answers(answers(fitted, X), expected, f"fit on {layout}")
        if incremental:
            step = clone(ESTIMATORS[name]).partial_fit(
                held[:60], y[:60], classes=classes
            )
            np.testing.assert_array_equal(
                step.predict_proba(held), expected_steps, f"partial_fit on {layout}"
            )


@pytest.mark.parametrize("name", ESTIMATORS)
def test_dtypes_mixed_between_fit_and_predict(name, digits):
    """Fitted on one dtype, queried with the same values in another."""
    pixels, y = digits
    for fit_dtype in DTYPES:
        fitted = clone(ESTIMATORS[name]).fit(pixels.astype(fit_dtype), y)
        expected = answers(fitted, pixels.astype(fit_dtype))
        for query_dtype in DTYPES:
            got = answers(fitted, pixels.astype(query_dtype))
            assert_same_answers(got, expected)


@pytest.mark.parametrize("mode", ["r", "r+", "c"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_model_loaded_as_memory_maps_predicts_and_trains_on(
    name, mode, digits, tmp_path
):
    """joblib.load(mmap_mode=...) hands back fitted arrays that may be read-only."""
    pixels, y = digits
    fitted = clone(ESTIMATORS[name]).fit(pixels, y)
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path, mmap_mode=mode)
    in_memory = joblib.load(path)
    assert_same_answers(answers(loaded, pixels), answers(fitted, pixels))
    if hasattr(fitted, "partial_fit"):
        in_memory.partial_fit(pixels, y)
        loaded.partial_fit(pixels, y)
        np.testing.assert_array_equal(
            loaded.predict_proba(pixels), in_memory.predict_proba(pixels)
        )


@pytest.mark.parametrize("name", ESTIMATORS)
@pytest.mark.parametrize(
    ("values", "match"),
    [
        (lambda X: X.astype(np.complex64), "[Cc]omplex"),
        (lambda X: np.full(X.shape, "pixel"), "could not convert string"),
        (lambda X: np.where(X > 128, np.nan, X), "NaN"),
    ],
    ids=["complex", "strings", "nan"],
)
def test_wrong_values_get_a_clear_error_in_any_layout(
    name, values, match, digits, tmp_path
):
    pixels, y = digits
    X = values(pixels.astype(np.float32))
    for layout in ["read-only", "fortran", "row-strided"]:
        held = in_layout(X, layout, tmp_path)
        with pytest.raises(ValueError, match=match):
            clone(ESTIMATORS[name]).fit(held, y)
