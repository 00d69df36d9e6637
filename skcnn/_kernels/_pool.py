"""Average and max pooling forward and backward, batch-last.

Feature maps are ``(channels, height, width, n_samples)`` arrays (see
:mod:`skcnn._kernels._conv`); the innermost loops run over the samples of one
pixel. Windows are ``size`` x ``size`` with step ``stride`` and never leave the
input (the layer checks the geometry). Average and max pooling are separate
kernels, so a net compiles only the kind it uses (LeNet-5's average pooling
compiles in about 1.3 s less than with both kinds in one kernel). In the
backward pass each thread owns whole channels, so overlapping windows
(stride < size) add their gradients in a fixed order.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit


@jit(parallel=True)
def _avg_forward(x, size, stride, out):
    """:func:`pool_forward` with ``use_max=False``."""
    channels, out_h, out_w, n = out.shape
    scale = out.dtype.type(1.0 / (size * size))
    for task in prange(channels * out_h):
        c = task // out_h
        y = task - c * out_h
        for col in range(out_w):
            o = out[c, y, col]
            first = x[c, y * stride, col * stride]
            for i in range(n):
                o[i] = first[i]
            for k in range(1, size * size):
                ky = k // size
                v = x[c, y * stride + ky, col * stride + k - ky * size]
                for i in range(n):
                    o[i] += v[i]
            for i in range(n):
                o[i] *= scale


@jit(parallel=True)
def _max_forward(x, size, stride, out):
    """:func:`pool_forward` with ``use_max=True``."""
    channels, out_h, out_w, n = out.shape
    for task in prange(channels * out_h):
        c = task // out_h
        y = task - c * out_h
        for col in range(out_w):
            o = out[c, y, col]
            first = x[c, y * stride, col * stride]
            for i in range(n):
                o[i] = first[i]
            for k in range(1, size * size):
                ky = k // size
                v = x[c, y * stride + ky, col * stride + k - ky * size]
                for i in range(n):
                    o[i] = max(o[i], v[i])


def pool_forward(x, size, stride, use_max, out):
    """``out[c, y, x]`` = mean (or max) of ``x[c, y*s : y*s+size, x*s : x*s+size]``.

    x : (channels, in_h, in_w, n); out : (channels, out_h, out_w, n), overwritten.
    Each thread owns whole output rows of a channel.
    """
    (_max_forward if use_max else _avg_forward)(x, size, stride, out)


@jit(parallel=True)
def _avg_backward(size, stride, dout, dx):
    """:func:`pool_backward` with ``use_max=False``: ``dout / size**2`` spread
    over each window."""
    channels, out_h, out_w, n = dout.shape
    scale = dx.dtype.type(1.0 / (size * size))
    for c in prange(channels):
        plane = dx[c].reshape(-1)
        for i in range(plane.shape[0]):
            plane[i] = 0
        for y in range(out_h):
            for col in range(out_w):
                g = dout[c, y, col]
                for k in range(size * size):
                    ky = k // size
                    d = dx[c, y * stride + ky, col * stride + k - ky * size]
                    for i in range(n):
                        d[i] += g[i] * scale


@jit(parallel=True)
def _max_backward(x, out, dout, size, stride, dx):
    """:func:`pool_backward` with ``use_max=True``: ``dout`` goes to the first
    element of the window (row by row) equal to the maximum."""
    channels, out_h, out_w, n = out.shape
    zero = dx.dtype.type(0)
    # windows that tile the map exactly write each element of dx once
    tiled = (
        stride == size and out_h * size == dx.shape[1] and out_w * size == dx.shape[2]
    )
    for c in prange(channels):
        if not tiled:
            plane = dx[c].reshape(-1)
            for i in range(plane.shape[0]):
                plane[i] = 0
        free = np.empty(n, np.bool_)  # samples whose maximum is still unclaimed
        for y in range(out_h):
            for col in range(out_w):
                g, top = dout[c, y, col], out[c, y, col]
                for i in range(n):
                    free[i] = True
                for k in range(size * size):
                    ky = k // size
                    kx = k - ky * size
                    d = dx[c, y * stride + ky, col * stride + kx]
                    v = x[c, y * stride + ky, col * stride + kx]
                    for i in range(n):  # branch-free over contiguous samples
                        hit = free[i] and v[i] == top[i]
                        before = zero if tiled else d[i]
                        d[i] = before + (g[i] if hit else zero)
                        free[i] = free[i] and not hit


def pool_backward(x, out, dout, size, stride, use_max, dx):
    """Gradient of :func:`pool_forward` with respect to ``x``, into ``dx``.

    Average pooling spreads ``dout / size**2`` over each window; max pooling
    gives ``dout`` to the first element of the window (row by row) equal to the
    maximum. x, dx : (channels, in_h, in_w, n); out, dout : (channels, out_h,
    out_w, n). ``dx`` is overwritten. Each thread owns whole channels.
    """
    if use_max:
        _max_backward(x, out, dout, size, stride, dx)
    else:
        _avg_backward(size, stride, dout, dx)
