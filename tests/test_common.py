"""scikit-learn's own estimator checks, with default parameters and no exemptions."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcnn import KNNImageClassifier

ESTIMATORS = [KNNImageClassifier()]

MIN_CHECKS = 60


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_enough_checks_run(estimator):
    """A wrong tag (e.g. two_d_array=False) silently runs almost no check."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(estimator, on_fail=None)
    ran = [r for r in results if r["status"] == "passed"]
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed
    assert len(ran) >= MIN_CHECKS, f"only {len(ran)} checks ran"
