"""get_data_home: argument, then SKCNN_DATA, then ~/skcnn_data; creates nothing."""

from pathlib import Path

import pytest

from skcnn.datasets import DataFileError, get_data_home


def test_argument_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKCNN_DATA", str(tmp_path / "from_env"))
    assert get_data_home(tmp_path / "given") == tmp_path / "given"
    assert get_data_home(str(tmp_path / "given")) == tmp_path / "given"
    assert isinstance(get_data_home(str(tmp_path)), Path)


def test_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SKCNN_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == tmp_path / "from_env"


def test_default_is_skcnn_data_in_home_and_nothing_is_created(tmp_path, monkeypatch):
    monkeypatch.delenv("SKCNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == tmp_path / "skcnn_data"
    assert not (tmp_path / "skcnn_data").exists()


def test_tilde_is_expanded_and_nothing_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/elsewhere/data") == tmp_path / "elsewhere" / "data"
    assert list(tmp_path.iterdir()) == []


def test_wrong_type_is_rejected():
    with pytest.raises(TypeError, match="data_home"):
        get_data_home(42)


def test_data_file_error_is_a_value_error():
    assert issubclass(DataFileError, ValueError)
