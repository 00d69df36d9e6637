"""scikit-learn 1.9's callback API on the trained estimators."""

import warnings

import numpy as np
import pytest

from skcnn import ConvNetClassifier, LinearSoftmaxClassifier, MLPClassifier
from skcnn.datasets import load_digits_images

callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")


@pytest.fixture(scope="module")
def digits():
    return load_digits_images(return_X_y=True, scale=True)


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, y)


def _small_convnet(**params):
    return ConvNetClassifier((4, 8), kernel_size=3, hidden_layer_sizes=(32,), **params)


@pytest.mark.parametrize(
    "cls", [LinearSoftmaxClassifier, MLPClassifier, _small_convnet]
)
def test_scoring_monitor_scores_every_epoch(cls, digits):
    X, y = digits
    monitor = callback.ScoringMonitor(scoring=["accuracy"])
    clf = _fit(cls(max_iter=4, random_state=0).set_callbacks(monitor), X, y)
    log = monitor.get_logs().data_as_pandas
    epochs = log[log["task_name"] == "epoch"]
    assert len(epochs) == clf.n_iter_ == 4
    final = log[log["task_name"] == "fit"]["accuracy"].iloc[0]
    assert final == pytest.approx(clf.score(X, y))
    assert epochs["accuracy"].iloc[-1] == pytest.approx(final)
    assert epochs["accuracy"].iloc[-1] > epochs["accuracy"].iloc[0]


def test_progress_bar_runs(digits, capsys):
    pytest.importorskip("rich")
    X, y = digits
    clf = _fit(
        MLPClassifier((10,), max_iter=2).set_callbacks(callback.ProgressBar()), X, y
    )
    assert clf.n_iter_ == 2
    assert "MLPClassifier - fit" in capsys.readouterr().out


class StopAfter:
    """A callback that asks the loop to stop after a number of epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        return context.task_name == "epoch" and estimator.n_iter_ >= self.epochs


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_callback_can_stop_training(digits, solver):
    X, y = digits
    clf = MLPClassifier((10,), solver=solver, max_iter=50).set_callbacks(StopAfter(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stopped on request: no ConvergenceWarning
        clf.fit(X, y)
    assert clf.n_iter_ == 3 == len(clf.loss_curve_)
    assert np.all(np.isfinite(clf.predict_proba(X[:5])))


def test_scoring_monitor_scores_every_lbfgs_iteration(digits):
    X, y = digits
    monitor = callback.ScoringMonitor(scoring=["accuracy"])
    clf = MLPClassifier((10,), solver="lbfgs", max_iter=4, random_state=0)
    _fit(clf.set_callbacks(monitor), X, y)
    log = monitor.get_logs().data_as_pandas
    assert (log["task_name"] == "epoch").sum() == clf.n_iter_ == 4
    final = log[log["task_name"] == "fit"]["accuracy"].iloc[0]
    assert final == pytest.approx(clf.score(X, y))
