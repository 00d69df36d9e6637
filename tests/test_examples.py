"""Every example runs, in its fast mode, on the real data."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_fast(path, mnist_home, monkeypatch, capsys):
    argv = [str(path), "--fast", "--data-home", str(mnist_home)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert "| model |" in out
    for name in ("KNNImageClassifier", "LinearSoftmaxClassifier", "MLPClassifier",
                 "LeNet5Classifier"):  # fmt: skip
        assert f"| {name} | 0." in out
