"""The weights of a network as one flat buffer, and each layer's views of it.

A network's parameters (``params_``: a list of arrays per layer) live in one
contiguous array, so that the optimizer updates them all in one kernel call
and the L2 term covers one slice. The layout puts every decayed weight (arrays
of ndim > 1: kernels and matrices) first, in layer order, then every bias:
the L2 penalty covers the prefix ``flat[:n_decayed(layer_params)]``.
"""

import numpy as np


def n_decayed(layer_params) -> int:
    """Number of weights under L2 decay (arrays of ndim > 1) in the layout."""
    return sum(p.size for params in layer_params for p in params if p.ndim > 1)


def views(flat, layer_params):
    """Views of ``flat`` shaped like ``layer_params`` (a list per layer)."""
    offset = {True: 0, False: n_decayed(layer_params)}
    result = []
    for params in layer_params:
        result.append([])
        for p in params:
            start = offset[p.ndim > 1]
            result[-1].append(flat[start : start + p.size].reshape(p.shape))
            offset[p.ndim > 1] = start + p.size
    return result


def pack(layer_params):
    """Copy ``layer_params`` into one flat buffer; return it and views of it."""
    arrays = [p for params in layer_params for p in params]
    dtype = arrays[0].dtype if arrays else np.float64
    flat = np.empty(sum(p.size for p in arrays), dtype=dtype)
    packed = views(flat, layer_params)
    for params, layer_views in zip(layer_params, packed, strict=True):
        for param, view in zip(params, layer_views, strict=True):
            view[...] = param
    return flat, packed
