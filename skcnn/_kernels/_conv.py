"""2-D convolution (cross-correlation) forward and backward, batch-last.

Feature maps are ``(channels, height, width, n_samples)`` arrays: the samples of a
minibatch sit side by side in memory, so every kernel's innermost loop runs over
a contiguous *span* of samples and vectorises the same way for every layer, be it
C1 with one input channel or C5 with a 1x1 output. With stride 1 the span covers
a whole output row (``out_w * n_samples`` values); with a larger stride, one
output pixel (``n_samples`` values).

The three kernels share one inner step: five products summed into the span at a
time (five taps of a filter — for two filters at once in the forward pass — or
five filters for the input gradient). One load and one store of the
accumulator per five fused multiply-adds keeps the loop bound by arithmetic
instead of by stores; taps left over (the tap count modulo five) are added one
by one.

For wide layers (stride 1, many filters, a deep ``in_c * size**2`` reduction,
e.g. 32 -> 64 filters 5x5) the two backward functions pick other kernels, in
plain Python (:func:`_is_wide`). A filter as large as its (padded) input, such
as LeNet-5's C5, is a dense layer in disguise: batch-last, the input is already
the ``(in_c * size**2, n)`` matrix of its taps, and all three passes are one
matrix product each; so is a 1x1 filter with stride 1, whose input is the
``(in_c, height * width * n)`` matrix of its pixels (:func:`_is_product`). The
weight gradient becomes a register tile of two filters x five taps, dot
products over whole output rows. The input gradient becomes, per output row and
chunk of lanes, one small single-threaded sgemm (numba's ``np.dot``: BLAS must
be held to one thread around it, e.g. ``threadpool_limits(1, "blas")``) whose
columns are added back tap by tap: with stride 1 each tap of an output row is a
contiguous slice of the input.

Inputs arrive zero-padded by the caller (the layer), C-contiguous, in one float
dtype; nothing is validated here. Each thread owns whole rows of the output, and
every sum runs in a fixed order, so results do not depend on the thread count;
and each sample's arithmetic is the same wherever it sits in the batch.
"""

import numpy as np
from numba import prange

from skcnn._kernels._jit import jit


@jit
def _tap_offsets(in_c, in_h, in_w, size, n):
    """Flat offset, within a (in_c, in_h, in_w, n) array, of each filter tap.

    Tap ``t = (c * size + ky) * size + kx`` reads the input at channel ``c``,
    row ``ky`` and column ``kx`` of the window of output pixel (0, 0).
    """
    offsets = np.empty(in_c * size * size, np.int64)
    for t in range(offsets.shape[0]):
        c, k = divmod(t, size * size)
        ky, kx = divmod(k, size)
        offsets[t] = ((c * in_h + ky) * in_w + kx) * n
    return offsets


@jit
def _span(stride, out_w, n):
    """(values per span, spans per output row): a whole row when stride is 1."""
    return (out_w * n, 1) if stride == 1 else (n, out_w)


@jit(parallel=True)
def _forward_direct(x, weight, bias, stride, out):
    """:func:`conv_forward` as a numba kernel, for every geometry.

    Each task owns one output row of two filters: every five input values
    loaded feed ten products, summed in a local buffer (a lone last filter is
    computed twice, into the same row).
    """
    in_c, in_h, in_w, n = x.shape
    n_filters, _, size, _ = weight.shape
    out_h, out_w = out.shape[1], out.shape[2]
    offsets = _tap_offsets(in_c, in_h, in_w, size, n)
    taps, whole = offsets.shape[0], offsets.shape[0] - offsets.shape[0] % 5
    flat, w = x.reshape(-1), weight.reshape(n_filters, taps)
    span, n_spans = _span(stride, out_w, n)
    n_pairs = (n_filters + 1) // 2
    for task in prange(out_h * n_pairs):
        y = task // n_pairs
        f = 2 * (task - y * n_pairs)
        g = min(f + 1, n_filters - 1)
        for s in range(n_spans):
            base = (y * in_w + s) * stride * n
            acc_f = np.full(span, bias[f], out.dtype)
            acc_g = np.full(span, bias[g], out.dtype)
            for t in range(0, whole, 5):
                x0 = flat[base + offsets[t] :]
                x1, x2 = flat[base + offsets[t + 1] :], flat[base + offsets[t + 2] :]
                x3, x4 = flat[base + offsets[t + 3] :], flat[base + offsets[t + 4] :]
                a0, a1, a2 = w[f, t], w[f, t + 1], w[f, t + 2]
                a3, a4 = w[f, t + 3], w[f, t + 4]
                b0, b1, b2 = w[g, t], w[g, t + 1], w[g, t + 2]
                b3, b4 = w[g, t + 3], w[g, t + 4]
                for i in range(span):
                    v0, v1, v2, v3, v4 = x0[i], x1[i], x2[i], x3[i], x4[i]
                    acc_f[i] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3 + a4 * v4
                    acc_g[i] += b0 * v0 + b1 * v1 + b2 * v2 + b3 * v3 + b4 * v4
            for t in range(whole, taps):
                x0, a0, b0 = flat[base + offsets[t] :], w[f, t], w[g, t]
                for i in range(span):
                    acc_f[i] += a0 * x0[i]
                    acc_g[i] += b0 * x0[i]
            out[f, y].reshape(-1)[s * span : (s + 1) * span] = acc_f
            out[g, y].reshape(-1)[s * span : (s + 1) * span] = acc_g


@jit(parallel=True)
def _backward_weight_direct(x, dout, stride, dweight, dbias):
    """``dweight[f,c,ky,kx] = sum_{y,x,n} dout[f,y,x] x[c,y*s+ky,x*s+kx]``, ``dbias``.

    x : (in_c, in_h, in_w, n), padded as in the forward pass;
    dout : (n_filters, out_h, out_w, n); dweight : (n_filters, in_c, size, size)
    and dbias : (n_filters,) = ``sum_{y,x,n} dout[f,y,x]``, overwritten. Each task
    owns one filter; a row of dout meets every tap while it is in L1.
    """
    in_c, in_h, in_w, n = x.shape
    n_filters, _, size, _ = dweight.shape
    out_h, out_w = dout.shape[1], dout.shape[2]
    offsets = _tap_offsets(in_c, in_h, in_w, size, n)
    taps = offsets.shape[0]
    flat, dw = x.reshape(-1), dweight.reshape(n_filters, taps)
    span, n_spans = _span(stride, out_w, n)
    zero = dweight.dtype.type(0)
    for f in prange(n_filters):
        dw[f] = 0
        total = zero
        for y in range(out_h):
            row = dout[f, y].reshape(-1)
            for s in range(n_spans):
                d = row[s * span : (s + 1) * span]
                base = (y * in_w + s) * stride * n
                for i in range(span):
                    total += d[i]
                for t in range(0, taps, 5):
                    # a short last group repeats its last tap, never stored
                    o1, o2 = min(t + 1, taps - 1), min(t + 2, taps - 1)
                    o3, o4 = min(t + 3, taps - 1), min(t + 4, taps - 1)
                    x0, x1 = flat[base + offsets[t] :], flat[base + offsets[o1] :]
                    x2, x3 = flat[base + offsets[o2] :], flat[base + offsets[o3] :]
                    x4 = flat[base + offsets[o4] :]
                    a0 = a1 = a2 = a3 = a4 = zero
                    for i in range(span):
                        g = d[i]
                        a0 += g * x0[i]
                        a1 += g * x1[i]
                        a2 += g * x2[i]
                        a3 += g * x3[i]
                        a4 += g * x4[i]
                    dw[f, t] += a0
                    for k, a in ((1, a1), (2, a2), (3, a3), (4, a4)):
                        if t + k < taps:
                            dw[f, t + k] += a
        dbias[f] = total


@jit(parallel=True)
def _backward_input_direct(dout, weight, stride, dx):
    """``dx[c, y*s+ky, x*s+kx] += sum_f weight[f,c,ky,kx] * dout[f, y, x]``.

    dout : (n_filters, out_h, out_w, n); weight : (n_filters, in_c, size, size);
    dx : (in_c, in_h, in_w, n), the padded input's gradient, overwritten. Each
    task owns one input channel; filters are summed five at a time, in order.
    """
    in_c, _, in_w, n = dx.shape
    n_filters, _, size, _ = weight.shape
    out_h, out_w = dout.shape[1], dout.shape[2]
    span, n_spans = _span(stride, out_w, n)
    plane = out_h * out_w * n
    flat = dout.reshape(-1)
    for c in prange(in_c):
        dxc = dx[c].reshape(-1)
        dxc[:] = 0
        # five rows of dout (one per filter) meet every tap while in L1
        for y in range(out_h):
            for s in range(n_spans):
                src = y * out_w * n + s * span
                for f in range(0, n_filters, 5):
                    d0 = flat[f * plane + src :]
                    if f + 5 > n_filters:  # the last filters, one at a time
                        for ky in range(size):
                            for kx in range(size):
                                start = ((y * stride + ky) * in_w + s * stride + kx) * n
                                o = dxc[start : start + span]
                                for g in range(n_filters - f):
                                    w0, dg = weight[f + g, c, ky, kx], d0[g * plane :]
                                    for i in range(span):
                                        o[i] += w0 * dg[i]
                        continue
                    d1, d2 = d0[plane:], d0[2 * plane :]
                    d3, d4 = d0[3 * plane :], d0[4 * plane :]
                    for ky in range(size):
                        for kx in range(size):
                            start = ((y * stride + ky) * in_w + s * stride + kx) * n
                            o = dxc[start : start + span]
                            w0, w1 = weight[f, c, ky, kx], weight[f + 1, c, ky, kx]
                            w2, w3 = weight[f + 2, c, ky, kx], weight[f + 3, c, ky, kx]
                            w4 = weight[f + 4, c, ky, kx]
                            for i in range(span):
                                o[i] += (
                                    w0 * d0[i]
                                    + w1 * d1[i]
                                    + w2 * d2[i]
                                    + w3 * d3[i]
                                    + w4 * d4[i]
                                )


@jit
def _scatter_add(columns, base, offsets, flat):
    """``flat[base + offsets[t] :][:width] += columns[t]``, tap by tap in order.

    columns : (taps, width); flat : a flattened batch-last gradient, updated.
    """
    width = columns.shape[1]
    for t in range(columns.shape[0]):
        target = flat[base + offsets[t] : base + offsets[t] + width]
        for i in range(width):
            target[i] += columns[t, i]


@jit
def _rows(dout, y, start, rows):
    """``rows[f] = dout[f, y].reshape(-1)[start:][:width]``: one span per filter."""
    for f in range(rows.shape[0]):
        rows[f] = dout[f, y].reshape(-1)[start : start + rows.shape[1]]


@jit
def _dots_2x5(d0, d1, flat, base, offsets, t):
    """Dot products of two dout spans with the input spans of taps ``t..t+4``.

    Tap ``t+k`` reads ``flat[base + offsets[t+k]:]`` (past the last tap, the
    last tap again). Ten accumulators share every load: the register tile.
    """
    last = offsets.shape[0] - 1
    x0 = flat[base + offsets[t] :]
    x1 = flat[base + offsets[min(t + 1, last)] :]
    x2 = flat[base + offsets[min(t + 2, last)] :]
    x3 = flat[base + offsets[min(t + 3, last)] :]
    x4 = flat[base + offsets[min(t + 4, last)] :]
    zero = d0.dtype.type(0)
    a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = zero
    for i in range(d0.shape[0]):
        g, h = d0[i], d1[i]
        v0, v1, v2, v3, v4 = x0[i], x1[i], x2[i], x3[i], x4[i]
        a0 += g * v0
        a1 += g * v1
        a2 += g * v2
        a3 += g * v3
        a4 += g * v4
        b0 += h * v0
        b1 += h * v1
        b2 += h * v2
        b3 += h * v3
        b4 += h * v4
    return (a0, a1, a2, a3, a4), (b0, b1, b2, b3, b4)


@jit(parallel=True)
def _backward_weight_tiles(x, dout, dweight, dbias):
    """:func:`conv_backward_weight` with stride 1, two filters x five taps a tile.

    Each task owns two filters (a lone last one is computed twice); for each
    group of five taps, ``dweight[f, t] = sum_y dot(dout[f, y], x_y[t])`` with
    the dot products over whole output rows, summed over ``y`` in order.
    """
    in_c, in_h, in_w, n = x.shape
    n_filters, _, size, _ = dweight.shape
    out_h, span = dout.shape[1], dout.shape[2] * n
    offsets = _tap_offsets(in_c, in_h, in_w, size, n)
    taps, flat = offsets.shape[0], x.reshape(-1)
    dw = dweight.reshape(n_filters, taps)
    for task in prange((n_filters + 1) // 2):
        f, g = 2 * task, min(2 * task + 1, n_filters - 1)
        df, dg = dout[f].reshape(out_h, span), dout[g].reshape(out_h, span)
        for t in range(0, taps, 5):
            sum_f, sum_g = np.zeros(5, dweight.dtype), np.zeros(5, dweight.dtype)
            for y in range(out_h):
                a, b = _dots_2x5(df[y], dg[y], flat, y * in_w * n, offsets, t)
                for k in range(5):
                    sum_f[k] += a[k]
                    sum_g[k] += b[k]
            for k in range(min(5, taps - t)):
                dw[f, t + k], dw[g, t + k] = sum_f[k], sum_g[k]
        for h in (f, g):
            total = dbias.dtype.type(0)
            for value in dout[h].reshape(-1):
                total += value
            dbias[h] = total


@jit(parallel=True)
def _backward_input_gemm(dout, weight, block, chunk, dx):
    """:func:`conv_backward_input` with stride 1 as sgemm and col2im.

    Each task owns ``block`` input channels (``block`` divides ``in_c``): for
    each output row and chunk of lanes, ``columns = weight[:, own].T (taps,
    n_filters) @ dout[:, y, chunk]`` and ``dx[tap slices] += columns``, in order.
    """
    in_c, in_h, in_w, n = dx.shape
    n_filters, _, size, _ = weight.shape
    out_h, span = dout.shape[1], dout.shape[2] * n
    offsets = _tap_offsets(block, in_h, in_w, size, n)
    own = offsets.shape[0]
    w = weight.reshape(n_filters, in_c * size * size).T.copy()
    w_blocks = w.reshape(in_c // block, own, n_filters)
    dx_blocks = dx.reshape(in_c // block, block * in_h * in_w * n)
    for b in prange(in_c // block):
        target = dx_blocks[b]
        target[:] = 0
        for y in range(out_h):
            for start in range(0, span, chunk):
                rows = np.empty((n_filters, min(chunk, span - start)), dx.dtype)
                _rows(dout, y, start, rows)
                columns = np.dot(w_blocks[b], rows)
                _scatter_add(columns, y * in_w * n + start, offsets, target)


@jit(parallel=True)
def images_to_maps(x, height, width, offset, scale, out):
    """Image rows into batch-last maps: ``out[c, top+i, left+j, n] = (x[n, (i, j, c)]
    - offset) * scale`` with the image centred, ``-offset * scale`` elsewhere.

    x : (n, height * width * channels), channels last; out : (channels, field_h,
    field_w, n), overwritten; offset, scale : scalars of out's dtype.
    """
    channels, field_h, field_w, n = out.shape
    top, left = (field_h - height) // 2, (field_w - width) // 2
    background = -offset * scale
    for task in prange(channels * field_h):
        c = task // field_h
        row = task - c * field_h
        out[c, row] = background
        i = row - top
        if 0 <= i < height:
            for j in range(width):
                o = out[c, row, left + j]
                column = (i * width + j) * channels + c
                for k in range(n):
                    o[k] = (x[k, column] - offset) * scale


def _is_product(x_shape, size, stride):
    """Whether a layer is one matrix product: the filter spans the whole padded
    input (a 1x1 output), or it is 1x1 with stride 1."""
    covers = x_shape[1] == size and x_shape[2] == size
    return covers or (size == 1 and stride == 1)


def _as_matrices(x, weight, out):
    """The batch-last arrays of a matrix-product layer as matrices (views):
    ``x`` (taps, pixels x n), ``weight`` (n_filters, taps), ``out`` (n_filters,
    pixels x n), with one pixel (a 1x1 output) or taps = in_c (a 1x1 filter)."""
    w2 = weight.reshape(weight.shape[0], -1)
    return x.reshape(w2.shape[1], -1), w2, out.reshape(w2.shape[0], -1)


def conv_forward(x, weight, bias, stride, out, blas=True):
    """``out[f,y,x] = bias[f] + sum_{c,ky,kx} weight[f,c,ky,kx] x[c,y*s+ky,x*s+kx]``.

    x : (in_c, in_h, in_w, n), padded; weight : (n_filters, in_c, size, size);
    bias : (n_filters,); out : (n_filters, out_h, out_w, n), overwritten.
    :func:`_forward_direct`, or one matrix product (:func:`_is_product`) when
    ``blas`` allows it. (BLAS may round a sample differently by its
    place among the columns; inference passes ``blas=False`` so that it never
    does.)
    """
    if blas and _is_product(x.shape, weight.shape[2], stride):
        x2, w2, out2 = _as_matrices(x, weight, out)
        np.dot(w2, x2, out=out2)
        out2 += bias[:, None]
    else:
        _forward_direct(x, weight, bias, stride, out)


def _is_wide(in_c, n_filters, size, stride, out_h):
    """Whether a layer is wide enough for the sgemm and tile kernels.

    They need stride 1, a deep reduction (``in_c * size**2`` taps) and many
    filters to pay for their copies, and several output rows to share between
    threads; the direct kernels are faster for LeNet-5's narrow layers
    (``benchmarks/bench_conv.py`` measures both).
    """
    return stride == 1 and n_filters >= 32 and in_c * size * size >= 200 and out_h >= 4


def _channel_block(in_c):
    """Input channels per task of the sgemm input gradient (0: use the direct one)."""
    for block in (16, 8, 4):
        if in_c % block == 0 and in_c // block >= 2:
            return block
    return 0


_CHUNK = 448
"""Lanes per sgemm of the input gradient (7 output pixels x 64 samples)."""


def conv_backward_weight(x, dout, stride, dweight, dbias):
    """``dweight[f,c,ky,kx] = sum_{y,x,n} dout[f,y,x] x[c,y*s+ky,x*s+kx]``, ``dbias``.

    Shapes as in :func:`_backward_weight_direct`; wide layers run
    :func:`_backward_weight_tiles`.
    """
    n_filters, in_c, size, _ = dweight.shape
    if _is_product(x.shape, size, stride):
        x2, dw2, dout2 = _as_matrices(x, dweight, dout)
        np.dot(dout2, x2.T, out=dw2)
        np.sum(dout2, axis=1, out=dbias)
    elif _is_wide(in_c, n_filters, size, stride, dout.shape[1]):
        _backward_weight_tiles(x, dout, dweight, dbias)
    else:
        _backward_weight_direct(x, dout, stride, dweight, dbias)


def conv_backward_input(dout, weight, stride, dx):
    """``dx[c, y*s+ky, x*s+kx] += sum_f weight[f,c,ky,kx] * dout[f, y, x]``.

    Shapes as in :func:`_backward_input_direct`; wide layers whose channels
    split into blocks run :func:`_backward_input_gemm` (BLAS held to one thread).
    """
    n_filters, in_c, size, _ = weight.shape
    block = _channel_block(in_c)
    if _is_product(dx.shape, size, stride):
        dx2, w2, dout2 = _as_matrices(dx, weight, dout)
        np.dot(w2.T, dout2, out=dx2)
    elif block and _is_wide(in_c, n_filters, size, stride, dout.shape[1]):
        _backward_input_gemm(dout, weight, block, _CHUNK, dx)
    else:
        _backward_input_direct(dout, weight, stride, dx)
