"""Average and max pooling forward and backward, batch-last.

Feature maps are ``(channels, height, width, n_samples)`` arrays (see
:mod:`skcnn._kernels._conv`); the innermost loops run over the samples of one
pixel. Windows are ``size`` x ``size`` with step ``stride`` and never leave the
input (the layer checks the geometry). Each thread owns whole channels, so
overlapping windows (stride < size) add their gradients in a fixed order.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit


@jit(parallel=True)
def pool_forward(x, size, stride, use_max, out):
    """``out[c, y, x]`` = mean (or max) of ``x[c, y*s : y*s+size, x*s : x*s+size]``.

    x : (channels, in_h, in_w, n); out : (channels, out_h, out_w, n), overwritten.
    """
    channels, out_h, out_w, n = out.shape
    scale = out.dtype.type(1.0 / (size * size))
    for task in prange(channels * out_h):
        c = task // out_h
        y = task - c * out_h
        for col in range(out_w):
            o = out[c, y, col]
            o[:] = x[c, y * stride, col * stride]
            for k in range(1, size * size):
                ky, kx = divmod(k, size)
                v = x[c, y * stride + ky, col * stride + kx]
                if use_max:
                    for i in range(n):
                        o[i] = max(o[i], v[i])
                else:
                    for i in range(n):
                        o[i] += v[i]
            if not use_max:
                for i in range(n):
                    o[i] *= scale


@jit(parallel=True)
def pool_backward(x, out, dout, size, stride, use_max, dx):
    """Gradient of :func:`pool_forward` with respect to ``x``, into ``dx``.

    Average pooling spreads ``dout / size**2`` over each window; max pooling
    gives ``dout`` to the first element of the window (row by row) equal to the
    maximum. x, dx : (channels, in_h, in_w, n); out, dout : (channels, out_h,
    out_w, n). ``dx`` is overwritten.
    """
    channels, out_h, out_w, n = out.shape
    scale = dx.dtype.type(1.0 / (size * size))
    zero = dx.dtype.type(0)
    for c in prange(channels):
        dx[c] = 0
        free = np.empty(n, np.bool_)  # samples whose maximum is still unclaimed
        for y in range(out_h):
            for col in range(out_w):
                g, top = dout[c, y, col], out[c, y, col]
                free[:] = True
                for k in range(size * size):
                    ky, kx = divmod(k, size)
                    d = dx[c, y * stride + ky, col * stride + kx]
                    if not use_max:
                        for i in range(n):
                            d[i] += g[i] * scale
                        continue
                    v = x[c, y * stride + ky, col * stride + kx]
                    for i in range(n):  # branch-free over contiguous samples
                        hit = free[i] and v[i] == top[i]
                        d[i] += g[i] if hit else zero
                        free[i] = free[i] and not hit
