"""MLPClassifier as scikit-learn's: the same training, weights and behaviours.

scikit-learn's own test file runs against skcnn's class in
``test_sklearn_mlp_suite.py``; these tests go further where that one stops: the
full-batch loss and gradient against finite differences (what its excepted
``test_gradient`` checks through a private method), epoch-for-epoch agreement
with scikit-learn's MLP, and the new behaviours on real digits.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import load_digits, make_blobs, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.fixes import parse_version

from skcnn import ConvNetClassifier, LeNet5Classifier, MLPClassifier
from skcnn._heads import head_of
from skcnn._layers import ACTIVATIONS
from skcnn._targets import encode_targets

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = MinMaxScaler().fit_transform(X_DIGITS)  # float64 in [0, 1]


def quiet_fit(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y, **kwargs)


def _targets(clf, y):
    """The loss's encoding of y for a model fitted on it."""
    return encode_targets(np.asarray(y), clf.classes_, head_of(clf))


# -- the loss and its gradient -------------------------------------------------


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("problem", ["binary", "multiclass", "multilabel"])
def test_full_batch_gradient_matches_finite_differences(activation, problem):
    """What lbfgs minimises: the loss over all rows (chunked) and its gradient,
    for every activation and both outputs (one sigmoid, softmax, sigmoids per
    label), with sample weights and the L2 term."""
    rng = np.random.RandomState(42)
    X = rng.rand(9, 6)
    y = {
        "binary": np.arange(9) % 2,
        "multiclass": np.arange(9) % 3,
        "multilabel": (rng.rand(9, 4) > 0.5).astype(int),
    }[problem]
    clf = MLPClassifier(
        (5, 4), activation=activation, solver="lbfgs", alpha=0.3, max_iter=1,
        random_state=1,
    )  # fmt: skip
    quiet_fit(clf, X, y)
    assert clf.out_activation_ == ("softmax" if problem == "multiclass" else "logistic")
    assert clf.coefs_[0].dtype == np.float64
    target, weight = _targets(clf, y), rng.uniform(0.5, 2.0, size=9)
    theta = clf._packed.copy()

    def loss(flat):
        clf._packed[...] = flat
        return clf._full_batch_loss_grad(X, target, weight)[0]

    _, grad = clf._full_batch_loss_grad(X, target, weight)
    step, numeric = 1e-6, np.empty_like(theta)
    for i in range(theta.size):
        shift = np.zeros_like(theta)
        shift[i] = step
        numeric[i] = (loss(theta + shift) - loss(theta - shift)) / (2 * step)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_full_batch_loss_is_the_mean_weighted_cross_entropy_plus_l2():
    rng = np.random.RandomState(0)
    X, y = rng.rand(7000, 5), rng.randint(0, 3, 7000)  # two chunks of rows
    clf = quiet_fit(MLPClassifier((4,), solver="lbfgs", max_iter=2, alpha=0.5), X, y)
    weight = rng.uniform(0.1, 1.0, 7000)
    loss, _ = clf._full_batch_loss_grad(X, _targets(clf, y), weight)
    logits = clf.predict_log_proba(X)[np.arange(7000), y]
    penalty = 0.5 * 0.5 * sum(np.sum(w**2) for w in clf.coefs_)
    expected = (-(weight * logits).sum() + penalty) / weight.sum()
    assert loss == pytest.approx(expected, rel=1e-10)


# -- agreement with scikit-learn's MLP, step for step ---------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_same_training_as_scikit_learns_mlp(solver, n_classes):
    """float64 X: the same initial weights, minibatches, updates and stopping as
    scikit-learn's MLPClassifier (the default tanh set on both)."""
    keep = np.less(Y_DIGITS, n_classes)
    X, y = X_DIGITS[keep][:300], Y_DIGITS[keep][:300]
    params = {
        "hidden_layer_sizes": (15,), "activation": "tanh", "solver": solver,
        "max_iter": 30, "random_state": 3, "alpha": 1e-3, "tol": 1e-6,
    }  # fmt: skip
    ours = quiet_fit(MLPClassifier(**params), X, y)
    theirs = quiet_fit(SklearnMLP(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    weights = zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    )
    for mine, sklearns in weights:
        np.testing.assert_allclose(mine, sklearns, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-7
    )
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-8)


@pytest.mark.skipif(
    parse_version(sklearn.__version__) < parse_version("1.7"),
    reason="scikit-learn's MLPClassifier takes sample_weight from 1.7",
)
def test_class_weight_check_fails_for_scikit_learns_tanh_mlp_the_same_way():
    """Why test_common expects check_class_weight_classifiers to fail for the
    tanh default: scikit-learn's MLP with tanh stops at the same epoch with the
    same predictions (86% in the heavy class, 87% asked), and relu passes."""
    X, y = make_blobs(centers=3, random_state=0, cluster_std=20)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.5, random_state=0)
    weights = {0: 1000, 1: 0.0001, 2: 0.0001}
    params = {"max_iter": 1000, "n_iter_no_change": 20, "random_state": 0}
    ours = MLPClassifier(class_weight=weights, **params).fit(X_train, y_train)
    theirs = SklearnMLP(activation="tanh", **params).fit(
        X_train, y_train, sample_weight=np.vectorize(weights.get)(y_train)
    )
    assert ours.n_iter_ == theirs.n_iter_ == 304
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
    assert np.mean(ours.predict(X_test) == 0) == 0.86
    relu = MLPClassifier(activation="relu", class_weight=weights, **params)
    assert np.mean(relu.fit(X_train, y_train).predict(X_test) == 0) > 0.87


def test_weights_loaded_from_scikit_learn_predict_the_same():
    """coefs_ and intercepts_ are assignable: a fitted skcnn MLP given
    scikit-learn's weights predicts scikit-learn's probabilities."""
    for n_classes in (2, 10):
        keep = np.less(Y_DIGITS, n_classes)
        X, y = X_DIGITS[keep], Y_DIGITS[keep]
        theirs = quiet_fit(SklearnMLP((20,), activation="tanh", max_iter=20,
                                      random_state=0), X, y)  # fmt: skip
        ours = quiet_fit(MLPClassifier((20,), max_iter=1, random_state=5), X, y)
        assert not np.allclose(ours.predict_proba(X), theirs.predict_proba(X))
        ours.coefs_, ours.intercepts_ = theirs.coefs_, theirs.intercepts_
        np.testing.assert_allclose(
            ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-12, atol=1e-15
        )
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_assigned_weights_of_the_wrong_shape_are_refused():
    clf = quiet_fit(MLPClassifier((8,), max_iter=1), X_DIGITS, Y_DIGITS)
    clf.coefs_[0] = np.zeros((64, 9))
    match = r"coefs_\[0\] and intercepts_\[0\] .* shapes \[\(64, 8\), \(8,\)\]"
    with pytest.raises(ValueError, match=match):
        clf.predict(X_DIGITS)
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(X_DIGITS, Y_DIGITS)


def test_partial_fit_trains_in_place_until_weights_are_assigned():
    clf = MLPClassifier((8,), random_state=0)
    clf.partial_fit(X_DIGITS, Y_DIGITS, classes=np.arange(10))
    buffer = clf._packed
    clf.partial_fit(X_DIGITS, Y_DIGITS)
    assert clf._packed is buffer  # no copy of the weights per call
    assert clf.coefs_[0].base is buffer
    clf.coefs_[1] = clf.coefs_[1] * 0.5  # a new array: adopted, in a new buffer
    clf.partial_fit(X_DIGITS, Y_DIGITS)
    assert clf._packed is not buffer and clf.coefs_[1].base is clf._packed


def test_assigned_weights_train_on_from_partial_fit_and_warm_start():
    rng = np.random.RandomState(0)
    coefs = [rng.uniform(-0.1, 0.1, (64, 10)), rng.uniform(-0.1, 0.1, (10, 10))]
    intercepts = [np.zeros(10), np.zeros(10)]
    for warm_start in (False, True):
        clf = MLPClassifier((10,), solver="sgd", momentum=0, max_iter=1,
                            learning_rate_init=0.1, warm_start=warm_start)  # fmt: skip
        clf.coefs_ = [c.copy() for c in coefs]
        clf.intercepts_ = [b.copy() for b in intercepts]
        if warm_start:
            quiet_fit(clf, X_DIGITS, Y_DIGITS)
        else:
            clf.partial_fit(X_DIGITS, Y_DIGITS, classes=np.arange(10))
        # one epoch from the assigned weights: near them, not a fresh draw
        assert 0 < np.abs(clf.coefs_[1] - coefs[1]).max() < 0.5
    cold = quiet_fit(
        MLPClassifier((10,), max_iter=1, random_state=0), X_DIGITS, Y_DIGITS
    )
    cold.coefs_ = [np.zeros((3, 3))]  # a plain fit draws new weights
    quiet_fit(cold, X_DIGITS, Y_DIGITS)
    assert cold.coefs_[0].shape == (64, 10)


# -- dtype, sparse X, multilabel ------------------------------------------------


@pytest.mark.parametrize(
    "given, weights", [(np.float64, np.float64), (np.float32, np.float32),
                       (np.uint8, np.float32), (np.int64, np.float64)],
)  # fmt: skip
def test_weights_follow_the_dtype_of_x_by_default(given, weights):
    X = (X_DIGITS * 16).astype(given)
    clf = quiet_fit(MLPClassifier((8,), max_iter=2), X[:300], Y_DIGITS[:300])
    assert {a.dtype for a in clf.coefs_ + clf.intercepts_} == {np.dtype(weights)}
    assert clf.transform(X[:5]).dtype == weights
    assert clf.predict_proba(X[:5]).dtype == np.float64
    fixed = MLPClassifier((8,), max_iter=2, dtype="float32")
    assert quiet_fit(fixed, X[:300], Y_DIGITS[:300]).coefs_[0].dtype == np.float32


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_x_trains_as_dense_x(solver, fmt):
    X = X_DIGITS.copy()
    X[X < 0.3] = 0  # about half zeros
    params = {
        "hidden_layer_sizes": (20,),
        "solver": solver,
        "max_iter": 15,
        "random_state": 0,
    }
    dense = quiet_fit(MLPClassifier(**params), X, Y_DIGITS)
    sparse = quiet_fit(
        MLPClassifier(**params), sp.csr_matrix(X).asformat(fmt), Y_DIGITS
    )
    for a, b in zip(dense.coefs_, sparse.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(
        dense.predict(X), sparse.predict(sp.csr_matrix(X).asformat(fmt))
    )
    np.testing.assert_allclose(
        dense.predict_proba(X), sparse.predict_proba(sp.csc_matrix(X)), atol=1e-12
    )
    assert dense.transform(X).shape == sparse.transform(sp.csr_matrix(X)).shape


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_multilabel_indicator_y(solver):
    X, Y = make_multilabel_classification(
        n_samples=300, n_features=20, n_classes=5, random_state=0
    )
    # lbfgs: 50 iterations, before the loss nears 0, where scikit-learn's
    # loss (clipped probabilities) and ours (exact) part ways
    max_iter = {"lbfgs": 50, "adam": 300}[solver]
    clf = MLPClassifier((50,), solver=solver, max_iter=max_iter, random_state=0)
    quiet_fit(clf, X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 5
    np.testing.assert_array_equal(clf.classes_, np.arange(5))
    predicted, proba = clf.predict(X), clf.predict_proba(X)
    assert predicted.shape == Y.shape and predicted.dtype == Y.dtype
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert not np.allclose(proba.sum(axis=1), 1)  # independent labels
    assert clf.decision_function(X).shape == (300, 5)
    assert np.mean(predicted == Y) > 0.85  # of the labels
    theirs = quiet_fit(
        SklearnMLP((50,), activation="tanh", solver=solver, max_iter=max_iter,
                   random_state=0), X, Y,
    )  # fmt: skip
    np.testing.assert_allclose(proba, theirs.predict_proba(X), rtol=1e-6, atol=1e-9)
    assert clf.score(X, Y) == theirs.score(X, Y)  # subset accuracy
    with pytest.raises(ValueError, match=r"fitted on 5 labels .* y holds class labels"):
        clf.set_params(warm_start=True).fit(X, Y[:, 0])


def test_multilabel_partial_fit_and_early_stopping():
    X, Y = make_multilabel_classification(n_samples=200, random_state=1)
    clf = MLPClassifier((30,), random_state=0)
    with pytest.raises(ValueError, match="a multilabel y of 5 columns"):
        clf.partial_fit(X, Y, classes=[0, 1, 2])
    for _ in range(3):
        clf.partial_fit(X, Y, classes=np.arange(5))
    assert clf.n_iter_ == 3 and clf.predict(X).shape == Y.shape
    stopped = quiet_fit(
        MLPClassifier((30,), early_stopping=True, random_state=0), X, Y
    )  # fmt: skip
    assert len(stopped.validation_scores_) == stopped.n_iter_
    with pytest.raises(ValueError, match="class_weight is not supported"):
        MLPClassifier(class_weight="balanced").fit(X, Y)


def test_multiclass_multioutput_y_is_refused():
    y = np.column_stack([Y_DIGITS, Y_DIGITS % 3])
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        MLPClassifier().fit(X_DIGITS, y)


# -- lbfgs, warm start and the stopping rules ------------------------------------


def test_lbfgs_learns_digits_and_reports_like_the_stochastic_solvers(capsys):
    X_train, X_test, y_train, y_test = train_test_split(
        X_DIGITS, Y_DIGITS, random_state=0
    )  # fmt: skip
    clf = MLPClassifier((40,), solver="lbfgs", max_iter=60, random_state=0, verbose=1)
    quiet_fit(clf, X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95
    assert len(clf.loss_curve_) == clf.n_iter_ <= 60
    assert clf.loss_ == pytest.approx(clf.loss_curve_[-1], rel=1e-12)
    assert np.all(np.diff(clf.loss_curve_) <= 1e-12)  # monotone line searches
    out = capsys.readouterr().out
    assert out.count("Iteration ") == clf.n_iter_
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")


def test_lbfgs_max_fun_and_max_iter_warn():
    for params in ({"max_fun": 5}, {"max_iter": 3}):
        clf = MLPClassifier((20,), solver="lbfgs", random_state=0, **params)
        with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
            clf.fit(X_DIGITS, Y_DIGITS)
        assert clf.n_iter_ <= 5


def test_lbfgs_refuses_random_layers_and_checkpoints(tmp_path):
    X, y = X_DIGITS[:100].reshape(-1, 8, 8), Y_DIGITS[:100]
    with pytest.raises(ValueError, match="deterministic loss"):
        ConvNetClassifier((4,), dropout=0.5, solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="checkpoint is supported by the stochastic"):
        MLPClassifier(solver="lbfgs", checkpoint=tmp_path).fit(X_DIGITS, Y_DIGITS)
    lenet = LeNet5Classifier(4, 8, 16, 12, solver="lbfgs", max_iter=5, random_state=0)
    assert quiet_fit(lenet, X, y).n_iter_ == 5  # any network without random layers


def test_lbfgs_keyboard_interrupt_keeps_the_last_accepted_weights():
    clf = MLPClassifier((10,), solver="lbfgs", max_iter=50, random_state=0)
    calls = {"n": 0}
    original = clf._full_batch_loss_grad

    def interrupt(*args):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return original(*args)

    clf._full_batch_loss_grad = interrupt
    with pytest.warns(RuntimeWarning, match="interrupted"):
        clf.fit(X_DIGITS, Y_DIGITS)
    assert 0 < clf.n_iter_ < 8 and np.isfinite(clf.predict_proba(X_DIGITS)).all()
    del clf._full_batch_loss_grad
    np.testing.assert_allclose(
        clf.loss_curve_[-1],
        clf._full_batch_loss_grad(X_DIGITS, _targets(clf, Y_DIGITS),
                                  np.ones(len(Y_DIGITS)))[0], rtol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_warm_start_fits_count_their_own_iterations(solver):
    clf = MLPClassifier((10,), solver=solver, warm_start=True, max_iter=5,
                        n_iter_no_change=np.inf, tol=0, random_state=0)  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        clf.fit(X_DIGITS, Y_DIGITS)
    first = [w.copy() for w in clf.coefs_]
    with pytest.warns(ConvergenceWarning):
        clf.set_params(max_iter=7).fit(X_DIGITS, Y_DIGITS)
    assert clf.n_iter_ == 7 and len(clf.loss_curve_) == 12
    assert not np.array_equal(first[0], clf.coefs_[0])
    if solver != "lbfgs":
        assert clf.t_ == 12 * len(X_DIGITS)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has"):
        clf.fit(X_DIGITS, Y_DIGITS % 5)


def test_n_iter_no_change_inf_runs_every_epoch():
    clf = MLPClassifier((5,), max_iter=30, tol=1e9, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X_DIGITS[:200], Y_DIGITS[:200])
    assert clf.n_iter_ == 30


def test_partial_fit_refuses_early_stopping():
    clf = MLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopp"):
        clf.partial_fit(X_DIGITS, Y_DIGITS, classes=np.arange(10))


def test_identity_activation_is_a_linear_bottleneck():
    clf = quiet_fit(
        MLPClassifier((30,), activation="identity", solver="lbfgs", max_iter=100,
                      random_state=0), X_DIGITS, Y_DIGITS,
    )  # fmt: skip
    hidden = clf.transform(X_DIGITS)
    np.testing.assert_allclose(
        hidden, X_DIGITS @ clf.coefs_[0] + clf.intercepts_[0], rtol=1e-12, atol=1e-14
    )
    assert clf.score(X_DIGITS, Y_DIGITS) > 0.97
