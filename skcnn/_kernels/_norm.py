"""Batch normalisation of feature maps, forward and backward, per channel.

Maps are ``(channels, height, width, n_samples)`` arrays, seen here as rows
``(channels, values)``: a channel's pixels of every sample. Each thread owns
whole channels and sums a channel's values in one fixed order, in float64, so
the statistics do not depend on the number of threads and are not those of a
float32 running sum over 10^5 values. Each pass reads a row once or twice
where numpy's expressions would make a temporary array per operation.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit


@jit(parallel=True)
def batch_norm_forward(x, gamma, beta, epsilon, out, xhat, mean, var, inv_std):
    """Training forward pass on rows ``x`` ``(channels, m)``.

    Writes the batch ``mean`` and biased ``var`` of each row (float64),
    ``inv_std = 1 / sqrt(var + epsilon)`` (x's dtype), the normalised rows
    ``xhat`` and ``out = gamma * xhat + beta``.
    """
    channels, m = x.shape
    for c in prange(channels):
        row = x[c]
        total = 0.0
        for i in range(m):
            total += row[i]
        mu = total / m
        squares = 0.0
        for i in range(m):
            d = row[i] - mu
            squares += d * d
        mean[c] = mu
        var[c] = squares / m
        scale = 1.0 / np.sqrt(squares / m + epsilon)
        inv_std[c] = scale
        g, b = gamma[c], beta[c]
        s = xhat.dtype.type(scale)
        shift = xhat.dtype.type(-mu * scale)
        h, o = xhat[c], out[c]
        for i in range(m):
            v = row[i] * s + shift
            h[i] = v
            o[i] = v * g + b


@jit(parallel=True)
def batch_norm_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta):
    """Backward pass on rows ``(channels, m)``: ``dgamma``, ``dbeta`` and (when
    ``dx`` has rows) ``dx = gamma * inv_std * (dout - mean(dout) - xhat *
    mean(dout * xhat))``."""
    channels, m = dout.shape
    for c in prange(channels):
        d, h = dout[c], xhat[c]
        total = 0.0
        weighted = 0.0
        for i in range(m):
            total += d[i]
            weighted += d[i] * h[i]
        dbeta[c] = total
        dgamma[c] = weighted
        if dx.shape[0] == 0:
            continue
        scale = gamma[c] * inv_std[c]
        a = dx.dtype.type(scale)
        b = dx.dtype.type(-scale * total / m)
        k = dx.dtype.type(-scale * weighted / m)
        g = dx[c]
        for i in range(m):
            g[i] = a * d[i] + b + k * h[i]


@jit(parallel=True)
def scale_shift(x, scale, shift, out):
    """Inference: ``out[c] = x[c] * scale[c] + shift[c]`` on rows
    ``(channels, m)``; each value on its own, so any batch gives the same
    bits for a sample."""
    channels, m = x.shape
    for c in prange(channels):
        row, o = x[c], out[c]
        s, t = scale[c], shift[c]
        for i in range(m):
            o[i] = row[i] * s + t
