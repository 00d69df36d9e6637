"""The shared constructor of the trained estimators (skcnn._parameters)."""

import inspect

import pytest

from skcnn import (
    ConvNetClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn._parameters import TRAINING_DEFAULTS, training_estimator

ESTIMATORS = [
    MLPClassifier,
    LinearSoftmaxClassifier,
    ConvNetClassifier,
    LeNet5Classifier,
]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_own_parameters_then_the_training_ones_keyword_only(cls):
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    keyword_only = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == list(TRAINING_DEFAULTS)
    own = [p for p in parameters if p.kind is not p.KEYWORD_ONLY]
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in own)
    estimator = cls(**{name: object() for name in keyword_only[:3]})
    assert all(type(getattr(estimator, n)) is object for n in keyword_only[:3])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_the_docstring_states_the_class_defaults(cls):
    defaults = cls().get_params()
    for name in ("batch_size", "learning_rate_init", "max_iter", "tol", "dtype"):
        assert f"{name} : " in cls.__doc__
        line = next(ln for ln in cls.__doc__.splitlines() if f"    {name} : " in ln)
        assert line.endswith(f"default={defaults[name]!r}"), line


def test_a_default_must_name_a_training_parameter():
    with pytest.raises(
        TypeError, match="not training parameters: \\['learning_rte'\\]"
    ):
        training_estimator(learning_rte=0.1)
