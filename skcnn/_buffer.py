"""The weights of a network as one flat buffer, and each layer's views of it.

A network's parameters (``params_``: a list of arrays per layer) live in one
contiguous array, so that the optimizer updates them all in one kernel call
and the L2 term covers one slice. Each layer says which of its parameters
decay (:meth:`skcnn.layers.Layer.decays`: by default its kernels and matrices,
not its biases); the layout puts every decayed parameter first, in layer
order, then the others, so that the L2 penalty covers the prefix
``flat[:n_decayed(layer_params, flags)]``.
"""

import numpy as np


def decay_flags(layers, layer_params) -> list:
    """For each layer, whether each of its parameters is under L2 decay."""
    return [
        [layer.decays(index, np.shape(p)) for index, p in enumerate(params)]
        for layer, params in zip(layers, layer_params, strict=True)
    ]


def n_decayed(layer_params, flags) -> int:
    """Number of values under L2 decay: the length of the layout's prefix."""
    return sum(
        np.size(p)
        for params, decays in zip(layer_params, flags, strict=True)
        for p, decayed in zip(params, decays, strict=True)
        if decayed
    )


def views(flat, layer_params, flags):
    """Views of ``flat`` shaped like ``layer_params`` (a list per layer)."""
    offset = {True: 0, False: n_decayed(layer_params, flags)}
    result = []
    for params, decays in zip(layer_params, flags, strict=True):
        result.append([])
        for p, decayed in zip(params, decays, strict=True):
            start = offset[decayed]
            result[-1].append(flat[start : start + np.size(p)].reshape(np.shape(p)))
            offset[decayed] = start + np.size(p)
    return result


def pack(layer_params, flags):
    """Copy ``layer_params`` into one flat buffer; return it and views of it."""
    arrays = [p for params in layer_params for p in params]
    dtype = arrays[0].dtype if arrays else np.float64
    flat = np.empty(sum(p.size for p in arrays), dtype=dtype)
    packed = views(flat, layer_params, flags)
    for params, layer_views in zip(layer_params, packed, strict=True):
        for param, view in zip(params, layer_views, strict=True):
            view[...] = param
    return flat, packed
