"""Dense layers, activations and the softmax cross-entropy loss, row by row.

Training multiplies whole minibatches with BLAS and applies activations with
numpy's SIMD ufuncs; these kernels do the rest: activation derivatives in place,
the fused softmax cross-entropy and its
gradient, and an inference-time dense product whose result for a row does not
depend on the other rows of the batch (BLAS may take another code path for one
row than for many). Every kernel owns whole rows per thread.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit


@jit(parallel=True)
def dense_rows(x, weight, bias, out):
    """``out[i] = x[i] @ weight + bias``, each row summed over k in order.

    x : (n, n_in); weight : (n_in, n_out); bias : (n_out,); out : (n, n_out).
    """
    n_in, n_out = weight.shape
    for i in prange(x.shape[0]):
        for j in range(n_out):
            out[i, j] = bias[j]
        for k in range(n_in):
            value = x[i, k]
            if value != 0:
                for j in range(n_out):
                    out[i, j] += value * weight[k, j]


@jit(parallel=True)
def tanh_backward(dout, out):
    """``dout *= 1 - out**2`` in place, ``out`` being tanh's output."""
    d, o = dout.reshape(dout.shape[0], -1), out.reshape(out.shape[0], -1)
    for i in prange(d.shape[0]):
        for j in range(d.shape[1]):
            d[i, j] *= 1 - o[i, j] * o[i, j]


@jit(parallel=True)
def relu_backward(dout, out):
    """``dout *= (out > 0)`` in place, ``out`` being relu's output."""
    d, o = dout.reshape(dout.shape[0], -1), out.reshape(out.shape[0], -1)
    for i in prange(d.shape[0]):
        for j in range(d.shape[1]):
            if not o[i, j] > 0:
                d[i, j] = 0


@jit(parallel=True)
def logistic_backward(dout, out):
    """``dout *= out * (1 - out)`` in place, ``out`` being the logistic output."""
    d, o = dout.reshape(dout.shape[0], -1), out.reshape(out.shape[0], -1)
    for i in prange(d.shape[0]):
        for j in range(d.shape[1]):
            d[i, j] *= o[i, j] * (1 - o[i, j])


@jit(parallel=True)
def softmax_cross_entropy(logits, target, weight, scale, dlogits, losses):
    """Stable softmax cross-entropy of each row and its gradient.

    ``losses[i] = weight[i] * (logsumexp(logits[i]) - logits[i, target[i]])``
    and ``dlogits[i] = scale * weight[i] * (softmax(logits[i]) - onehot)``.
    logits, dlogits : (n, n_classes); target : (n,) int; weight, losses : (n,).
    The row maximum is subtracted before ``exp``, so nothing overflows.
    """
    n_classes = logits.shape[1]
    for i in prange(logits.shape[0]):
        top = logits[i, 0]
        for c in range(1, n_classes):
            top = max(top, logits[i, c])
        total = 0.0
        for c in range(n_classes):  # exp once: kept in dlogits until normalised
            e = np.exp(np.float64(logits[i, c] - top))
            dlogits[i, c] = e
            total += e
        losses[i] = weight[i] * (np.log(total) - (logits[i, target[i]] - top))
        factor = scale * weight[i]
        for c in range(n_classes):
            p = dlogits[i, c] / total
            dlogits[i, c] = factor * (p - (1.0 if c == target[i] else 0.0))


@jit(parallel=True)
def softmax_rows(logits, out):
    """``out[i] = softmax(logits[i])`` computed in float64 (out is float64)."""
    n_classes = logits.shape[1]
    for i in prange(logits.shape[0]):
        top = np.float64(logits[i, 0])
        for c in range(1, n_classes):
            top = max(top, np.float64(logits[i, c]))
        total = 0.0
        for c in range(n_classes):
            out[i, c] = np.exp(np.float64(logits[i, c]) - top)
            total += out[i, c]
        for c in range(n_classes):
            out[i, c] /= total
