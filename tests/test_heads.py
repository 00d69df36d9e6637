"""Output heads (skcnn._heads): label smoothing's loss and gradient."""

import numpy as np
import pytest

from skcnn import MLPClassifier
from skcnn._heads import LogisticHead, SoftmaxHead
from skcnn.datasets import load_digits_images
from tests.test_layers import numeric_gradient


@pytest.mark.parametrize(
    "head, target",
    [
        (SoftmaxHead(4, smoothing=0.2), np.array([0, 3, 1, 1, 2])),
        (LogisticHead(1, smoothing=0.2), np.array([0, 1, 1, 0, 1])),
        (LogisticHead(3, smoothing=0.1), np.eye(3, dtype=int)[[0, 2, 1, 1, 0]]),
    ],
)
def test_smoothed_loss_is_the_cross_entropy_to_smoothed_targets(head, target):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, head.n_outputs)) * 3
    weight = rng.random(5) + 0.5
    scale = 1 / weight.sum()
    dout, losses = np.empty_like(logits), np.empty(5)
    head.loss_gradient(logits, target, weight, scale, dout, losses)
    eps = head.smoothing
    if isinstance(head, SoftmaxHead):
        q = (1 - eps) * np.eye(4)[target] + eps / 4
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        expected = -(q * log_p).sum(axis=1)
    else:
        t = (target if target.ndim == 2 else target[:, None]) * (1 - eps) + eps / 2
        expected = (np.logaddexp(0, logits) - t * logits).sum(axis=1)
    np.testing.assert_allclose(losses, weight * expected, rtol=1e-12)

    def total():
        d, out = np.empty_like(logits), np.empty(5)
        head.loss_gradient(logits, target, weight, scale, d, out)
        return out.sum() * scale

    np.testing.assert_allclose(dout, numeric_gradient(total, logits), atol=1e-8)


def test_label_smoothing_trains_and_is_validated():
    X, y = load_digits_images(return_X_y=True, scale=True)
    clf = MLPClassifier((32,), label_smoothing=0.2, max_iter=30, random_state=0)
    clf.fit(X[:1200], y[:1200])
    # as accurate as a plain model, and less sure of its labels
    plain = MLPClassifier((32,), max_iter=30, random_state=0).fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > plain.score(X[1200:], y[1200:]) - 0.03
    assert clf.predict_proba(X[:200]).max(axis=1).mean() < plain.predict_proba(
        X[:200]).max(axis=1).mean()  # fmt: skip
    with pytest.raises(ValueError, match="label_smoothing"):
        MLPClassifier(label_smoothing=1.0).fit(X[:50], y[:50])
