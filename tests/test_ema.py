"""ema_decay: predict with a moving average of the weights, train on the weights."""

import pickle

import numpy as np
import pytest

from skcnn import ConvNetClassifier, MLPClassifier
from skcnn.datasets import load_digits_images
from tests.test_layer_state import _fit, crashed_and_resumed


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True, scale=True)
    return X[:600].reshape(600, -1), y[:600]


def _mlp(**params):
    # float64 and one minibatch an epoch: one step per partial_fit call
    settings = {"hidden_layer_sizes": (16,), "batch_size": 600, "random_state": 0,
                "learning_rate_init": 0.01}  # fmt: skip
    return MLPClassifier(**{**settings, **params})


def test_the_average_follows_its_formula_and_training_is_unchanged(digits):
    X, y = digits
    classes = np.unique(y)
    plain, averaged = _mlp(), _mlp(ema_decay=0.9)
    previous = None
    for step in range(1, 7):
        plain.partial_fit(X, y, classes=classes)
        averaged.partial_fit(X, y, classes=classes)
        if step == 3:  # a saved and reloaded model trains on alike
            averaged = pickle.loads(pickle.dumps(averaged))
        weights = plain._packed  # the trained weights, step after step
        assert averaged.loss_curve_ == plain.loss_curve_
        if previous is not None:
            d = min(0.9, (1 + step) / (10 + step))
            expected = d * previous + (1 - d) * weights
            np.testing.assert_allclose(averaged._packed, expected, rtol=1e-12)
            assert not np.allclose(averaged._packed, weights)
        previous = averaged._packed.copy()
    # the model predicts with the average
    assert not np.array_equal(averaged.predict_proba(X), plain.predict_proba(X))


def test_weights_assigned_between_runs_are_trained_on(digits):
    X, y = digits
    classes = np.unique(y)
    plain, averaged = _mlp(), _mlp(ema_decay=0.9)
    for model in (plain, averaged):
        for _ in range(3):
            model.partial_fit(X, y, classes=classes)
        for i, array in enumerate(model.coefs_ + model.intercepts_):
            array[...] = 0.01 * i  # in place, into the weights the model holds
    plain.partial_fit(X, y)
    averaged.partial_fit(X, y)
    # the kept trained weights were dropped for the assigned ones; the plain
    # model had its own trained weights overwritten alike (the optimizers' moments
    # are equal: both trained the same steps)
    np.testing.assert_allclose(averaged.loss_curve_[-1], plain.loss_curve_[-1],
                               rtol=0, atol=0)  # fmt: skip


def test_early_stopping_scores_the_average(digits):
    X, y = digits
    plain = _fit(_mlp(early_stopping=True, max_iter=8, batch_size=50), X, y)
    averaged = _fit(
        _mlp(early_stopping=True, max_iter=8, batch_size=50, ema_decay=0.95), X, y
    )
    n = min(len(plain.loss_curve_), len(averaged.loss_curve_))
    assert averaged.loss_curve_[:n] == plain.loss_curve_[:n]
    assert averaged.validation_scores_[:n] != plain.validation_scores_[:n]
    assert averaged.best_validation_score_ == max(averaged.validation_scores_)


def test_checkpointed_fit_resumes_to_the_same_bits(digits, tmp_path, monkeypatch):
    X, y = digits

    def make():
        return ConvNetClassifier(conv_filters=(4,), hidden_layer_sizes=(16,),
                                 batch_norm=True, max_iter=3, batch_size=200,
                                 random_state=0, ema_decay=0.9)  # fmt: skip

    reference, resumed = crashed_and_resumed(make, X, y, tmp_path, monkeypatch)
    np.testing.assert_array_equal(resumed._packed, reference._packed)
    np.testing.assert_array_equal(
        resumed._training.trained, reference._training.trained
    )
    for mine, theirs in zip(resumed.states_, reference.states_, strict=True):
        for a, b in zip(mine, theirs, strict=True):  # the averaged statistics
            np.testing.assert_array_equal(a, b)
    # without the average the same fit ends elsewhere: the test can tell
    plain = _fit(make().set_params(ema_decay=None), X, y)
    assert not np.array_equal(plain._packed, reference._packed)
    np.testing.assert_array_equal(plain._packed, reference._training.trained)


def test_bad_settings_are_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match="ema_decay"):
        _mlp(ema_decay=1.0).fit(X, y)
    with pytest.raises(ValueError, match="ema_decay averages the weights"):
        _mlp(ema_decay=0.9, solver="lbfgs").fit(X, y)


def test_running_statistics_are_averaged_with_the_weights(digits):
    from skcnn.layers import BatchNormalization, Dense, Flatten

    X, y = digits
    classes = np.unique(y)

    def make(**params):
        stack = [Flatten(), Dense(12), BatchNormalization()]
        return ConvNetClassifier(layers=stack, batch_size=600, random_state=0,
                                 dtype="float64", **params)  # fmt: skip

    plain, averaged = make(), make(ema_decay=0.8)
    previous = None
    for step in range(1, 5):
        plain.partial_fit(X, y, classes=classes)
        averaged.partial_fit(X, y, classes=classes)
        assert averaged.loss_curve_ == plain.loss_curve_  # trained on the raw ones
        mean, var = averaged.states_[3]  # input, flatten, dense, norm
        if previous is not None:
            d = min(0.8, (1 + step) / (10 + step))
            for got, last, raw in zip((mean, var), previous, plain.states_[3],
                                      strict=True):  # fmt: skip
                np.testing.assert_allclose(got, d * last + (1 - d) * raw, rtol=1e-12)
            assert not np.allclose(mean, plain.states_[3][0])
        previous = (mean.copy(), var.copy())
