"""scikit-learn's own estimator checks, with default parameters.

The few expected failures are listed below with the reason each cannot pass;
everything else must pass, and each estimator must get at least 60 checks (a
wrong tag, e.g. two_d_array=False, silently generates almost none).
"""

import pytest
from sklearn.utils.estimator_checks import (
    estimator_checks_generator,
    parametrize_with_checks,
)

from skcnn import (
    ConvNetClassifier,
    KNNImageClassifier,
    LeNet5Classifier,
    LinearSoftmaxClassifier,
    MLPClassifier,
)
from skcnn.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Residual,
)

ESTIMATORS = [
    KNNImageClassifier(),
    LinearSoftmaxClassifier(),
    MLPClassifier(),
    LeNet5Classifier(),
    ConvNetClassifier(),
    # the modern blocks: batch normalisation, residual blocks (one around the
    # input, one with a projection), a step schedule, label smoothing and weight
    # averaging (the checks' data are rows of features, not images: no global
    # pooling or test-time copies, which assume pixels)
    ConvNetClassifier(
        layers=[
            Conv2D(4, 3, padding="same"), BatchNormalization(), Activation("relu"),
            Residual([Conv2D(4, 3, padding="same"), BatchNormalization()]),
            Residual([Conv2D(8, 3, padding="same"), Activation("relu")]),
            Flatten(), Dense(16), BatchNormalization(), Activation("relu"),
        ],
        # a step schedule's mean rate is about half its peak: a higher peak
        # for the checks' 20 epochs of 5 minibatches
        learning_rate="warmup_cosine", learning_rate_init=0.01,
        label_smoothing=0.1, ema_decay=0.9,
    ),
]  # fmt: skip

MIN_CHECKS = 60

_MINIBATCH_WEIGHTS = (
    "Minibatch training in float32: a row of weight 3 and three copies of the row "
    "give the same loss, but float32 rounds the two sums differently and the "
    "difference grows over the epochs; the check asks for rtol=1e-7. "
    "tests/test_network.py checks the equivalence at float64 precision."
)


def expected_failed_checks(estimator):
    failures = {}
    if isinstance(estimator, LeNet5Classifier | ConvNetClassifier):
        # float32 by default; MLP and linear follow X's dtype (float64 here)
        failures["check_sample_weight_equivalence_on_dense_data"] = _MINIBATCH_WEIGHTS
    if isinstance(estimator, MLPClassifier):
        failures["check_class_weight_classifiers"] = (
            "The default tanh units saturate on these unscaled blobs "
            "(cluster_std=20): training stops after 304 epochs with 86% of the "
            "predictions in the heavy class, short of 87%. scikit-learn's own "
            "MLPClassifier(activation='tanh') fails this check the same way, "
            "epoch for epoch (tests/test_mlp.py); its default relu passes, and so "
            "does ours with activation='relu'."
        )
    return failures


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _name(check):
    return getattr(check, "func", check).__name__


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_enough_checks_run(estimator):
    """Count the checks generated for each estimator (the test above runs them).

    A wrong tag (two_d_array=False) makes scikit-learn generate almost no check,
    and the suite would still be green.
    """
    expected = expected_failed_checks(estimator)
    checks = [
        _name(check)
        for _, check in estimator_checks_generator(
            estimator, expected_failed_checks=expected
        )
    ]
    assert len(checks) >= MIN_CHECKS, f"only {len(checks)} checks"
    assert set(expected) <= set(checks)  # each listed failure names a real check
