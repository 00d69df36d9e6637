"""make_colour_shapes, and benchmarks/bench_cifar.py's pipeline on it.

The generator's promise is that only a model using both colour and position
solves the task. The probes below check it with a flexible classifier on
features that keep everything but the colour (a greyscale copy) or everything
but the position (the pixels' mean and histogram), each next to a control that
shows the same probe finding the label when it is there.
"""

import contextlib
import importlib.util
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score

from skcnn.datasets import make_colour_shapes
from skcnn.datasets._shapes import LUMA_WEIGHTS, _geometry

BENCH_CIFAR = Path(__file__).parents[1] / "benchmarks" / "bench_cifar.py"
QUANTILES = np.linspace(0, 100, 21)


@pytest.fixture(scope="module")
def bench():
    """benchmarks/bench_cifar.py as a module (its folder on sys.path meanwhile,
    for ``_common``)."""
    had_common = "_common" in sys.modules
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH_CIFAR.parent))
        spec = importlib.util.spec_from_file_location("bench_cifar", BENCH_CIFAR)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    if not had_common:  # a name too plain to leave behind
        sys.modules.pop("_common", None)
    return module


@pytest.fixture(scope="module")
def probe_set():
    """3,000 images: pixels (n, h * w, 3) in [0, 1], colour and half of each."""
    shapes = make_colour_shapes(3000, scale=True, random_state=0)
    pixels = shapes.images.reshape(3000, -1, 3).astype(np.float64)
    colour, half = np.divmod(shapes.target, 2)
    return shapes.images.astype(np.float64), pixels, colour, half


def quantiles(pixels):
    """The histogram of each channel as 21 quantiles: (n, pixels, c) -> (n, 21 c)."""
    values = np.percentile(pixels, QUANTILES, axis=1)
    return values.transpose(1, 0, 2).reshape(len(pixels), -1)


def probe_accuracy(features, labels):
    """3-fold cross-validated accuracy of gradient-boosted trees."""
    model = HistGradientBoostingClassifier(random_state=0)
    return cross_val_score(model, features, labels, cv=3).mean()


# -- the generator ----------------------------------------------------------------


def test_bunch_shapes_dtypes_and_names():
    shapes = make_colour_shapes(50, random_state=0)
    assert shapes.data.shape == (50, 32 * 32 * 3)
    assert shapes.data.dtype == np.uint8
    assert shapes.images.shape == (50, 32, 32, 3)
    assert np.shares_memory(shapes.images, shapes.data)
    assert shapes.target.shape == (50,)
    assert shapes.target.dtype == np.int64
    assert shapes.target_names.tolist() == [
        "red top",
        "red bottom",
        "green top",
        "green bottom",
        "blue top",
        "blue bottom",
    ]
    assert len(shapes.feature_names) == 3072
    assert shapes.feature_names[:4] == [
        "pixel_0_0_red",
        "pixel_0_0_green",
        "pixel_0_0_blue",
        "pixel_0_1_red",
    ]
    assert shapes.palette.shape == (3, 3)
    assert "colour" in shapes.DESCR and "half" in shapes.DESCR
    # the whole 0-255 range is used (dark and light backgrounds, noise)
    assert shapes.data.min() == 0 and shapes.data.max() == 255


def test_scale_and_return_X_y():
    raw = make_colour_shapes(40, image_size=20, random_state=1)
    X, y = make_colour_shapes(
        40, image_size=20, scale=True, return_X_y=True, random_state=1
    )
    assert X.shape == (40, 20 * 20 * 3)
    assert X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_allclose(X, raw.data / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, raw.target)
    images, _ = make_colour_shapes(
        40, image_size=20, return_X_y=True, as_images=True, random_state=1
    )
    np.testing.assert_array_equal(images, raw.images)


def test_random_state_determines_everything():
    first = make_colour_shapes(30, random_state=7)
    again = make_colour_shapes(30, random_state=np.random.RandomState(7))
    other = make_colour_shapes(30, random_state=8)
    np.testing.assert_array_equal(first.data, again.data)
    np.testing.assert_array_equal(first.target, again.target)
    assert not np.array_equal(first.data, other.data)


def test_more_images_than_a_chunk():
    # 64x64 images are drawn 341 at a time: three chunks
    X, y = make_colour_shapes(
        700,
        image_size=64,
        n_colours=2,
        return_X_y=True,
        as_images=True,
        random_state=0,
    )
    assert X.shape == (700, 64, 64, 3)
    assert np.bincount(y).tolist() == [175, 175, 175, 175]
    corners = X[:, 0, 0].astype(int)  # background: noise differs image to image
    assert len(np.unique(corners, axis=0)) > 600


@pytest.mark.parametrize(("n_samples", "n_colours"), [(601, 3), (37, 6), (10, 2)])
def test_classes_are_balanced(n_samples, n_colours):
    y = make_colour_shapes(
        n_samples, n_colours=n_colours, image_size=12, return_X_y=True, random_state=0
    )[1]
    counts = np.bincount(y, minlength=2 * n_colours)
    assert len(counts) == 2 * n_colours
    assert counts.max() - counts.min() <= 1
    assert counts.sum() == n_samples


def test_palette_has_one_luma_and_distinct_colours():
    palette = make_colour_shapes(1, n_colours=6, random_state=0).palette
    np.testing.assert_allclose(palette @ LUMA_WEIGHTS, 0.5, atol=1e-12)
    distances = np.linalg.norm(palette[:, None] - palette[None], axis=-1)
    assert distances[~np.eye(6, dtype=bool)].min() > 0.2
    assert palette.min() >= 0.15 and palette.max() <= 0.85  # room for the luma


@pytest.mark.parametrize("image_size", [12, 17, 32, 48])
def test_each_shape_lies_in_its_half_in_its_colour(image_size):
    """Without noise, the shape is every pixel that differs from the corner."""
    shapes = make_colour_shapes(
        120, image_size=image_size, n_colours=6, noise=0.0, scale=True, random_state=2
    )
    colour, half = np.divmod(shapes.target, 2)
    smallest, largest, gap = _geometry(image_size)
    for image, c, h in zip(shapes.images, colour, half, strict=True):
        mask = np.any(image != image[0, 0], axis=-1)
        rows, cols = np.nonzero(mask)
        assert smallest // 2 <= rows.max() - rows.min() + 1 <= largest
        if h == 0:
            assert rows.min() >= 1 and rows.max() < image_size // 2 - gap
        else:
            assert rows.min() >= image_size - (image_size // 2 - gap)
            assert rows.max() <= image_size - 2
        assert cols.min() >= 1 and cols.max() <= image_size - 2
        shape_rgb = image[mask].mean(axis=0)
        luma = shape_rgb @ LUMA_WEIGHTS
        assert 0.45 - 2 / 255 <= luma <= 0.55 + 2 / 255
        # its colour: the palette's, moved by its luma
        expected = shapes.palette[c] + (luma - 0.5)
        np.testing.assert_allclose(shape_rgb, expected, atol=2 / 255)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be an integer >= 1"),
        ({"n_samples": 10.0}, TypeError, "n_samples must be an integer"),
        ({"n_samples": True}, TypeError, "n_samples must be an integer"),
        ({"image_size": 11}, ValueError, "image_size must be an integer >= 12"),
        ({"n_colours": 1}, ValueError, "n_colours must be an integer from 2 to 6"),
        ({"n_colours": 7}, ValueError, "n_colours must be an integer from 2 to 6"),
        ({"noise": -0.1}, ValueError, "noise must be a finite number >= 0"),
        ({"noise": np.inf}, ValueError, "noise must be a finite number >= 0"),
        ({"noise": np.nan}, ValueError, "noise must be a finite number >= 0"),
        ({"noise": "0.1"}, TypeError, "noise must be a number"),
        ({"scale": 1}, TypeError, "scale must be True or False"),
        ({"return_X_y": "yes"}, TypeError, "return_X_y must be True or False"),
        ({"random_state": "seed"}, ValueError, "cannot be used to seed"),
    ],
)
def test_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_colour_shapes(**{"n_samples": 10, **kwargs})


# -- the task needs colour and position -------------------------------------------


def test_greyscale_copy_tells_no_colour(probe_set):
    _, pixels, colour, _ = probe_set
    grey = pixels @ LUMA_WEIGHTS
    # the grey histogram: everything but the colour and the position
    assert probe_accuracy(quantiles(grey[..., None]), colour) < 1 / 3 + 0.05
    # controls: the same probe reads the colour off the colour histograms, and
    # off a greyscale copy whose weights do not give the colours one luma
    assert probe_accuracy(quantiles(pixels), colour) > 0.95
    channel_mean = pixels.mean(axis=-1, keepdims=True)
    assert probe_accuracy(quantiles(channel_mean), colour) > 0.6


def test_greyscale_copy_still_tells_the_half(probe_set):
    images, _, _, half = probe_set
    grey = images @ LUMA_WEIGHTS
    middle = grey.shape[1] // 2
    spread = np.column_stack(
        [
            grey[:, :middle].reshape(len(grey), -1).std(axis=1),
            grey[:, middle:].reshape(len(grey), -1).std(axis=1),
        ]
    )
    assert probe_accuracy(spread, half) > 0.95


def test_position_free_features_tell_no_half(probe_set):
    images, pixels, _, half = probe_set
    # the pixels' mean (global average pooling), spread and histogram
    pooled = np.hstack([pixels.mean(axis=1), pixels.std(axis=1), quantiles(pixels)])
    assert probe_accuracy(pooled, half) < 0.5 + 0.05
    # control: the same statistics of each half apart tell it
    middle = images.shape[1] // 2
    halves = [images[:, :middle], images[:, middle:]]
    per_half = np.hstack(
        [part.reshape(len(part), -1, 3).std(axis=1) for part in halves]
    )
    assert probe_accuracy(per_half, half) > 0.95


def test_mean_pooled_features_have_the_same_mean_in_both_halves(probe_set):
    """Per colour, the class means of the pooled pixels differ by sampling noise."""
    _, pixels, colour, half = probe_set
    pooled = pixels.mean(axis=1)
    for c in range(3):
        top, bottom = (
            pooled[(colour == c) & (half == 0)],
            pooled[(colour == c) & (half == 1)],
        )
        error = np.sqrt(top.var(axis=0) / len(top) + bottom.var(axis=0) / len(bottom))
        assert np.all(np.abs(top.mean(axis=0) - bottom.mean(axis=0)) < 4 * error)


# -- the benchmark's pipeline -----------------------------------------------------

SMALL_RUN = [
    "--data",
    "shapes",
    "--n-train",
    "2000",
    "--n-test",
    "1000",
    "--epochs",
    "4",
]
"""About 4 s of fitting on 2 cores: 99.1% test accuracy in colour, 31.3% grey."""


def final_accuracy(output: str) -> float:
    found = re.search(r"test accuracy ([\d.]+)% after 4 epoch", output)
    assert found, output
    return float(found.group(1)) / 100


def run_bench(bench, argv) -> tuple[int, str]:
    """bench_cifar's main on ``argv``: its exit status and standard output."""
    with contextlib.redirect_stdout(io.StringIO()) as output:
        status = bench.main(argv)
    return status, output.getvalue()


@pytest.fixture(scope="module")
def shapes_run(bench):
    return run_bench(bench, [*SMALL_RUN, "--min-accuracy", "0.9"])


def test_pipeline_solves_the_shapes(shapes_run):
    status, output = shapes_run
    assert status == 0, output
    assert final_accuracy(output) >= 0.9
    assert "| epoch | fit seconds |" in output and "\n| 4 | " in output
    assert output.startswith("CPU: ") and "\nCPU: " in output


def test_cifar10_path_reads_the_same_pixels(bench, shapes_run, tmp_path):
    """The shapes written as CIFAR-10 binary batches train to the same bits."""
    batches = tmp_path / "cifar10" / "cifar-10-batches-bin"
    batches.mkdir(parents=True)
    train = make_colour_shapes(2000, return_X_y=True, as_images=True, random_state=0)
    test = make_colour_shapes(1000, return_X_y=True, as_images=True, random_state=1)
    files = [
        (f"data_batch_{i}.bin", train, slice(400 * i - 400, 400 * i))
        for i in range(1, 6)
    ] + [("test_batch.bin", test, slice(None))]
    for name, (images, labels), part in files:
        channels_first = images[part].transpose(0, 3, 1, 2).reshape(-1, 3072)
        records = np.column_stack([labels[part].astype(np.uint8), channels_first])
        (batches / name).write_bytes(records.tobytes())
    status, output = run_bench(
        bench, [*SMALL_RUN[2:], "--data-home", str(tmp_path), "--min-accuracy", "0.9"]
    )
    assert status == 0, output
    assert "data: CIFAR-10; training images 2,000, test images 1,000" in output
    assert final_accuracy(output) == final_accuracy(shapes_run[1])


def test_pipeline_on_greyscale_copies_only_finds_the_half(bench):
    status, output = run_bench(bench, [*SMALL_RUN, "--grey", "--min-accuracy", "0.9"])
    assert status == 1, output
    assert "below --min-accuracy" in output
    # the half alone: at most 1/3 (6 classes, the colour a guess among 3)
    assert final_accuracy(output) < 0.45


def test_pipeline_functions_run_the_declared_net(bench):
    X, y = make_colour_shapes(
        300, image_size=16, scale=True, return_X_y=True, random_state=0
    )
    model = bench.make_model(epochs=2, threads=1)
    rows = []
    curve = bench.train_epochs(
        model, X[:200], y[:200], X[200:], y[200:], epochs=2, report=rows.append
    )
    assert curve == rows
    assert [row["epoch"] for row in curve] == [1, 2]
    assert curve[1]["fit_seconds"] >= curve[0]["fit_seconds"] > 0
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    names = [type(layer).__name__ for layer in model.layers_]
    assert names.count("BatchNormalization") == 3
    assert names[-2:] == ["GlobalAveragePooling2D", "Dense"]
    # a budget stops after the epoch that reaches it
    model = bench.make_model(epochs=3, threads=1)
    short = bench.train_epochs(
        model, X[:200], y[:200], X[200:], y[200:], epochs=3, budget=0.0
    )
    assert len(short) == 1


def test_greyscale_helper_keeps_layout_and_luma(bench):
    X, _ = make_colour_shapes(5, scale=True, return_X_y=True, random_state=0)
    grey = bench.greyscale(X)
    assert grey.shape == X.shape and grey.dtype == X.dtype
    channels = grey.reshape(5, -1, 3)
    np.testing.assert_array_equal(channels[..., 0], channels[..., 2])
    np.testing.assert_allclose(
        channels[..., 0], X.reshape(5, -1, 3) @ LUMA_WEIGHTS, rtol=1e-5
    )


def test_missing_cifar10_exits_with_a_message(bench, tmp_path, capsys):
    status = bench.main(["--data-home", str(tmp_path), "--epochs", "1"])
    captured = capsys.readouterr()
    assert status == 2
    assert "CIFAR-10 files not found" in captured.err
    assert str(tmp_path / "cifar10") in captured.err
    assert "--data shapes" in captured.err
    assert not (tmp_path / "cifar10").exists()  # nothing downloaded
