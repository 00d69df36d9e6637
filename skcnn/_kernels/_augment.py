"""Random affine distortions of batch-last feature maps, for training augmentation.

Every sample of a minibatch is read through its own affine map, bilinearly. The
maps are ``(channels, height, width, n_samples)`` arrays (see
:mod:`skcnn._kernels._conv`), so the samples of one pixel sit side by side while
each reads its neighbours somewhere else: the kernel gathers.

It works in two steps. First a copy of the input framed by a ring of ``fill``
(one pixel before, two after), so that no neighbour read needs a bounds check;
source positions are clamped to ``[-1, height] x [-1, width]``, where every
neighbour beyond already reads ``fill`` (so the clamp changes nothing; a NaN
position reads ``fill``). Then, for each output row, each pixel: the source
positions, fractions and neighbour indices of all samples in one vectorised
loop, then the gather and the blend, one sample at a time. Each task owns one
output row and its scratch row; a sample's arithmetic does not depend on the
thread count nor on the other samples of the batch.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit


@jit(parallel=True)
def affine_sample(x, matrices, fill, out):
    """``out[c, r, q, i]`` = ``x[c, :, :, i]`` read bilinearly at ``(sr, sq)``.

    With ``m = matrices[i]``, ``sr = m[0] r + m[1] q + m[2]`` and
    ``sq = m[3] r + m[4] q + m[5]``; with ``r0 = floor(sr)``, ``fr = sr - r0``,
    ``q0 = floor(sq)``, ``fq = sq - q0`` and ``v[a, b] = x[c, r0 + a, q0 + b, i]``
    (``fill`` when outside the maps)::

        top = v[0, 0] + fq (v[0, 1] - v[0, 0])
        bottom = v[1, 0] + fq (v[1, 1] - v[1, 0])
        out = top + fr (bottom - top)

    that is ``(1-fr)(1-fq) v[0,0] + (1-fr) fq v[0,1] + fr (1-fq) v[1,0] +
    fr fq v[1,1]``. The identity ``[1, 0, 0, 0, 1, 0]`` and integer shifts return
    finite ``x`` and ``fill`` exactly (a -0.0 may come back as +0.0: fastmath nsz).

    x : (channels, height, width, n), C-contiguous; matrices : (n, 6);
    fill : scalar; out : (channels, height, width, n), overwritten. One float
    dtype throughout.
    """
    channels, height, width, n = x.shape
    pad_h, pad_w = height + 3, width + 3
    padded = np.empty((channels, pad_h, pad_w, n), x.dtype)
    for task in prange(channels * pad_h):
        c = task // pad_h
        p = task - c * pad_h
        line = padded[c, p].reshape(-1)
        line[:] = fill
        if 1 <= p <= height:
            line[n : (width + 1) * n] = x[c, p - 1].reshape(-1)
    m = np.ascontiguousarray(matrices.T)
    lo, hi_r, hi_q = x.dtype.type(-1), x.dtype.type(height), x.dtype.type(width)
    wide, right, down = x.dtype.type(pad_w), np.uint64(n), np.uint64(pad_w * n)
    frac = np.empty((channels * height, 2, n), x.dtype)
    pixel = np.empty((channels * height, n), np.int32)
    for task in prange(channels * height):
        c = task // height
        row = task - c * height
        fr, fq, pix = frac[task, 0], frac[task, 1], pixel[task]
        flat, r = padded[c].reshape(-1), x.dtype.type(row)
        for q in range(width):
            qq = x.dtype.type(q)
            for i in range(n):  # vectorised: clamped positions, fractions, pixels
                sr = m[0, i] * r + m[1, i] * qq + m[2, i]
                sq = m[3, i] * r + m[4, i] * qq + m[5, i]
                sr = min(sr if sr >= lo else lo, hi_r)
                sq = min(sq if sq >= lo else lo, hi_q)
                r0, q0 = np.floor(sr), np.floor(sq)
                fr[i], fq[i] = sr - r0, sq - q0
                pix[i] = np.int32(r0 * wide + q0)
            o = out[c, row, q]
            for i in range(n):  # gather the four neighbours and blend
                k = np.uint64((pix[i] + pad_w + 1) * n + i)
                a, b = flat[k], flat[k + right]
                cc, d = flat[k + down], flat[k + down + right]
                top = a + fq[i] * (b - a)
                o[i] = top + fr[i] * (cc + fq[i] * (d - cc) - top)
