"""Shared fixtures: where the real data sets live, and how their absence is handled."""

import os
from pathlib import Path

import pytest

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

HOW_TO_GET_MNIST = (
    "MNIST not found under {where}. Set SKCNN_DATA to a folder holding mnist/ with "
    "the four IDX files (gzip or raw), or download them once with "
    "`python -c 'from skcnn.datasets import load_mnist; load_mnist()'`."
)


def _has_mnist(home: Path) -> bool:
    folder = home / "mnist"
    return all(
        (folder / name).is_file() or (folder / f"{name}.gz").is_file()
        for name in MNIST_FILES
    )


@pytest.fixture(scope="session")
def mnist_home() -> Path:
    """The data home that holds ``mnist/``: skipped offline, a failure under CI."""
    home = Path(os.environ.get("SKCNN_DATA", Path.home() / "skcnn_data")).resolve()
    if not _has_mnist(home):
        message = HOW_TO_GET_MNIST.format(where=home)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, so missing data is a failure: {message}")
        pytest.skip(message)
    return home
