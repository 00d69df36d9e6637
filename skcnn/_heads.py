"""Output heads: how a network's scores become a loss, probabilities and predictions.

A trained estimator's last layer gives one score (logit) per output. Its *head*
says what they mean, and everything that depends on it lives here: the loss and
its gradient, ``predict_proba``, ``predict_log_proba``, ``decision_function``,
the predicted targets, and the stratification of the validation split.

- :class:`SoftmaxHead`: one logit per class, a softmax over them,
  cross-entropy against class indices.
- :class:`LogisticHead`: one sigmoid per output, cross-entropy against 0/1
  columns: either one output for two classes (scikit-learn's MLP does so), or
  one per label of a multilabel y.

The head is chosen at the first fit (:func:`head_for_targets`) and stored as
the estimator's ``out_activation_`` and ``n_outputs_``; :func:`head_of` gives
a fitted estimator's head, for the estimator and for the ONNX converters
(:mod:`skcnn._onnx` picks the graph's outputs by the head's class). A new loss
is a new head class here, its entry in :data:`HEADS`, and its ONNX outputs.
"""

import numpy as np
from scipy.special import expit, log_expit

from skcnn._kernels._dense import (
    logistic_cross_entropy,
    softmax_cross_entropy,
    softmax_rows,
)


class SoftmaxHead:
    """One logit per class; probabilities by a softmax; class-index targets."""

    name = "softmax"
    multilabel = False

    def __init__(self, n_outputs: int, smoothing: float = 0.0):
        self.n_outputs = n_outputs
        self.smoothing = smoothing

    def loss_gradient(self, logits, target, weight, scale, dout, losses):
        """Write ``dout`` (the loss's gradient, times ``scale``) and each row's
        weighted loss; ``target`` holds class indices. With label smoothing
        eps the target distribution is ``(1 - eps) onehot + eps / n_classes``."""
        softmax_cross_entropy(logits, target, weight, scale, dout, losses)
        if self.smoothing:
            eps, n_classes = self.smoothing, logits.shape[1]
            z = logits.astype(np.float64)
            shifted = z - z.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            losses *= 1 - eps
            losses += eps * weight * -log_p.mean(axis=1)
            shift = np.full(z.shape, -eps / n_classes)  # q - onehot, negated
            shift[np.arange(len(target)), target] += eps
            dout += (shift * (scale * weight)[:, None]).astype(dout.dtype)

    def proba(self, logits):
        """float64 probabilities, rows summing to 1."""
        proba = np.empty(logits.shape)
        softmax_rows(logits, proba)
        return proba

    def log_proba(self, logits):
        """float64 log-probabilities, by a shifted log-sum-exp."""
        z = logits.astype(np.float64)
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def decision(self, logits):
        """Scores; for two classes one per sample, positive for the second."""
        z = logits.astype(np.float64)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def decide(self, logits):
        """Predicted class indices: the first largest logit."""
        return np.argmax(logits, axis=1)

    def stratify(self, target):
        """What the validation split is stratified on: the classes."""
        return target


class LogisticHead:
    """One sigmoid per output: a binary model's single output, or one per label."""

    name = "logistic"

    def __init__(self, n_outputs: int, smoothing: float = 0.0):
        self.n_outputs = n_outputs
        self.multilabel = n_outputs > 1
        self.smoothing = smoothing

    def _columns(self, target):
        """The 0/1 columns the sigmoids learn: the label matrix of a multilabel
        y, or whether each sample is of the second class."""
        return target if target.ndim == 2 else (target == 1)[:, None]

    def loss_gradient(self, logits, target, weight, scale, dout, losses):
        """Write ``dout`` and each row's weighted loss; ``target`` holds class
        indices (one output) or the 0/1 label matrix."""
        columns = self._columns(target).astype(logits.dtype)
        if self.smoothing:  # each 0/1 target moves eps / 2 towards the other
            columns = columns * (1 - self.smoothing) + self.smoothing / 2
        logistic_cross_entropy(logits, columns, weight, scale, dout, losses)

    def _probability_inputs(self, logits):
        """float64 sigmoid inputs of the probability columns: ``[-z, z]`` for
        one output, the logits of a multilabel model."""
        z = logits.astype(np.float64)
        return z if self.multilabel else np.hstack([-z, z])

    def proba(self, logits):
        """float64 probabilities: of each class (one output) or each label."""
        return expit(self._probability_inputs(logits))

    def log_proba(self, logits):
        """``log(proba)`` exactly, as scikit-learn's; where a probability
        underflows to 0, the finite log-sigmoid instead of -inf."""
        inputs = self._probability_inputs(logits)
        proba = expit(inputs)
        with np.errstate(divide="ignore"):
            log_proba = np.log(proba)
        underflow = proba == 0
        log_proba[underflow] = log_expit(inputs[underflow])
        return log_proba

    def decision(self, logits):
        """The logits (float64); one output: one score per sample."""
        z = logits.astype(np.float64)
        return z if self.multilabel else z[:, 0]

    def decide(self, logits):
        """Predicted targets: 0/1 label columns, or the class index (one output)."""
        positive = (logits > 0).astype(np.intp)
        return positive if self.multilabel else positive[:, 0]

    def stratify(self, target):
        """The 0/1 column a binary output learns (as scikit-learn, whose error
        messages then read the same); nothing for multilabel y."""
        return None if self.multilabel else self._columns(target)


HEADS = {head.name: head for head in (SoftmaxHead, LogisticHead)}
"""Head classes by their ``out_activation_``."""


def head_of(estimator):
    """A fitted network's head, from its ``out_activation_`` and ``n_outputs_``
    (and its ``label_smoothing``, which only training reads)."""
    smoothing = getattr(estimator, "label_smoothing", 0.0)
    return HEADS[estimator.out_activation_](estimator.n_outputs_, smoothing)


def head_for_targets(y, n_classes: int, binary_output: str):
    """The head a first fit chooses: one sigmoid per column of a multilabel y
    (2-D), one sigmoid for two classes where ``binary_output`` is 'logistic',
    else a softmax over the classes."""
    if y.ndim == 2:
        return LogisticHead(y.shape[1])
    if n_classes == 2 and binary_output == "logistic":
        return LogisticHead(1)
    return SoftmaxHead(n_classes)
