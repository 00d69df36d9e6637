"""LinearSoftmaxClassifier: lbfgs, sparse X, multilabel y, assignable weights.

The same model as scikit-learn's multinomial ``LogisticRegression`` with
``C = 1 / alpha``: fitted to convergence by L-BFGS, both reach the same
optimum.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MinMaxScaler

from skcnn import LinearSoftmaxClassifier

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = MinMaxScaler().fit_transform(X_DIGITS)


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _objective(proba, Y, coef, alpha):
    """Mean cross-entropy (summed over the labels of a multilabel Y) plus
    ``alpha / 2 * ||coef||^2 / n``: skcnn's loss, LogisticRegression's with
    ``C = 1 / alpha`` (divided by ``C * n``)."""
    n = len(proba)
    if Y.ndim == 1:
        data = -np.log(proba[np.arange(n), Y]).sum()
    else:
        data = -(Y * np.log(proba) + (1 - Y) * np.log1p(-proba)).sum()
    return (data + 0.5 * alpha * np.sum(coef**2)) / n


def test_lbfgs_reaches_logistic_regressions_optimum():
    alpha = 0.5
    ours = LinearSoftmaxClassifier(solver="lbfgs", alpha=alpha, tol=1e-10,
                                   max_iter=1000, random_state=0)  # fmt: skip
    ours.fit(X_DIGITS, Y_DIGITS)
    theirs = LogisticRegression(C=1 / alpha, tol=1e-10, max_iter=1000)
    theirs.fit(X_DIGITS, Y_DIGITS)
    mine = _objective(ours.predict_proba(X_DIGITS), Y_DIGITS, ours.coef_, alpha)
    assert mine == pytest.approx(ours.loss_, rel=1e-10)
    sklearns = _objective(theirs.predict_proba(X_DIGITS), Y_DIGITS, theirs.coef_, alpha)
    # within 4e-7: scipy's default ftol (2.2e-9 per iteration, as for
    # scikit-learn's MLP) stops ours; LogisticRegression asks for 64 eps
    assert mine == pytest.approx(sklearns, rel=1e-6)
    np.testing.assert_allclose(
        ours.predict_proba(X_DIGITS), theirs.predict_proba(X_DIGITS), atol=2e-3
    )
    assert ours.coef_.dtype == np.float64 and ours.n_iter_ < 1000


def test_assigned_coef_and_intercept_predict_as_logistic_regression():
    theirs = LogisticRegression(C=10, max_iter=500).fit(X_DIGITS, Y_DIGITS)
    ours = quiet_fit(LinearSoftmaxClassifier(max_iter=1), X_DIGITS, Y_DIGITS)
    ours.coef_, ours.intercept_ = theirs.coef_, theirs.intercept_
    np.testing.assert_allclose(
        ours.predict_proba(X_DIGITS), theirs.predict_proba(X_DIGITS), rtol=1e-10
    )
    ours.coef_ = theirs.coef_[:, :10]
    with pytest.raises(ValueError, match=r"coef_.T and intercept_ .*\(64, 10\)"):
        ours.predict(X_DIGITS)


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_sparse_x_trains_as_dense_x(solver):
    X = np.where(X_DIGITS < 0.3, 0, X_DIGITS)
    params = {"solver": solver, "max_iter": 20, "random_state": 0}
    dense = quiet_fit(LinearSoftmaxClassifier(**params), X, Y_DIGITS)
    sparse = quiet_fit(LinearSoftmaxClassifier(**params), sp.csc_array(X), Y_DIGITS)
    np.testing.assert_allclose(dense.coef_, sparse.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(dense.predict(X), sparse.predict(sp.csr_matrix(X)))


def test_multilabel_is_one_logistic_regression_per_label():
    X, Y = make_multilabel_classification(n_samples=200, n_classes=4, random_state=0)
    X = X / X.max()
    alpha = 1.0
    ours = LinearSoftmaxClassifier(solver="lbfgs", alpha=alpha, tol=1e-10,
                                   max_iter=2000, random_state=0)  # fmt: skip
    ours.fit(X, Y)
    assert ours.out_activation_ == "logistic" and ours.coef_.shape == (4, X.shape[1])
    # the labels' losses are summed: each label is a logistic regression
    theirs = OneVsRestClassifier(
        LogisticRegression(C=1 / alpha, tol=1e-10, max_iter=2000)
    ).fit(X, Y)
    mine = _objective(ours.predict_proba(X), Y, ours.coef_, alpha)
    assert mine == pytest.approx(ours.loss_, rel=1e-10)
    coef = np.vstack([e.coef_ for e in theirs.estimators_])
    sklearns = _objective(theirs.predict_proba(X), Y, coef, alpha)
    assert mine == pytest.approx(sklearns, rel=1e-7)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-3
    )
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_warm_start_counts_the_iterations_of_each_fit():
    clf = LinearSoftmaxClassifier(warm_start=True, max_iter=3, tol=0,
                                  n_iter_no_change=np.inf, random_state=0)  # fmt: skip
    for _ in range(2):
        with pytest.warns(ConvergenceWarning):
            clf.fit(X_DIGITS, Y_DIGITS)
        assert clf.n_iter_ == 3
    assert len(clf.loss_curve_) == 6
