"""Slow, obviously correct numpy versions of the kernels: the reference in tests."""

import numpy as np


def pairwise_distances(queries, train, metric):
    """Full (n_queries, n_train) L1 or L2 distance matrix in float64, by loops."""
    queries = np.asarray(queries, dtype=np.float64)
    train = np.asarray(train, dtype=np.float64)
    out = np.empty((len(queries), len(train)))
    for i, q in enumerate(queries):
        for j, t in enumerate(train):
            diff = q - t
            out[i, j] = np.abs(diff).sum() if metric == "l1" else np.sqrt(diff @ diff)
    return out


def k_nearest(queries, train, k, metric):
    """Indices and distances of the k nearest rows; ties go to the lower index."""
    dist = pairwise_distances(queries, train, metric)
    ind = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, ind, axis=1), ind


def conv2d(x, weight, bias, stride=1, padding=0):
    """Cross-correlation of (in_c, h, w, n) maps with (f, in_c, k, k) filters."""
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    _, in_h, in_w, n = x.shape
    n_filters, _, size, _ = weight.shape
    out_h, out_w = (in_h - size) // stride + 1, (in_w - size) // stride + 1
    out = np.empty((n_filters, out_h, out_w, n))
    for f in range(n_filters):
        for y in range(out_h):
            for col in range(out_w):
                window = x[:, y * stride : y * stride + size,
                           col * stride : col * stride + size]  # fmt: skip
                out[f, y, col] = bias[f] + np.einsum("cijn,cij->n", window, weight[f])
    return out


def pool2d(x, size, stride, mode):
    """Average or max pooling of (c, h, w, n) maps."""
    channels, in_h, in_w, n = x.shape
    out_h, out_w = (in_h - size) // stride + 1, (in_w - size) // stride + 1
    out = np.empty((channels, out_h, out_w, n))
    reduce = np.max if mode == "max" else np.mean
    for y in range(out_h):
        for col in range(out_w):
            window = x[:, y * stride : y * stride + size,
                       col * stride : col * stride + size]  # fmt: skip
            out[:, y, col] = reduce(window, axis=(1, 2))
    return out


def pool2d_backward(x, dout, size, stride, mode):
    """Gradient of sum(pool2d(x) * dout) with respect to x, by loops.

    Max pooling sends each window's gradient to its first maximum (row by row).
    """
    dx = np.zeros(x.shape)
    channels, out_h, out_w, n = dout.shape
    for c in range(channels):
        for y in range(out_h):
            for col in range(out_w):
                for i in range(n):
                    rows = slice(y * stride, y * stride + size)
                    cols = slice(col * stride, col * stride + size)
                    window = x[c, rows, cols, i]
                    grad = dout[c, y, col, i]
                    if mode == "max":
                        ky, kx = divmod(int(np.argmax(window)), size)
                        dx[c, y * stride + ky, col * stride + kx, i] += grad
                    else:
                        dx[c, rows, cols, i] += grad / size**2
    return dx


def affine_sample(x, matrices, fill):
    """Bilinear resampling of (c, h, w, n) maps, sample i through matrices[i].

    ``out[c, r, q, i]`` reads ``x[c, :, :, i]`` at ``sr = m0 r + m1 q + m2``,
    ``sq = m3 r + m4 q + m5``: the four neighbours weighted by the products of
    ``1 - fr, fr`` and ``1 - fq, fq``; neighbours outside the maps read ``fill``.
    """
    x = np.asarray(x, dtype=np.float64)
    matrices = np.asarray(matrices, dtype=np.float64)
    channels, height, width, n = x.shape
    out = np.empty(x.shape)

    def value(c, row, col, i):
        inside = 0 <= row < height and 0 <= col < width
        return x[c, row, col, i] if inside else float(fill)

    for i in range(n):
        m = matrices[i]
        for r in range(height):
            for q in range(width):
                sr = m[0] * r + m[1] * q + m[2]
                sq = m[3] * r + m[4] * q + m[5]
                r0, q0 = int(np.floor(sr)), int(np.floor(sq))
                fr, fq = sr - r0, sq - q0
                for c in range(channels):
                    out[c, r, q, i] = (
                        (1 - fr) * (1 - fq) * value(c, r0, q0, i)
                        + (1 - fr) * fq * value(c, r0, q0 + 1, i)
                        + fr * (1 - fq) * value(c, r0 + 1, q0, i)
                        + fr * fq * value(c, r0 + 1, q0 + 1, i)
                    )
    return out
