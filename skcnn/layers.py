"""The layers of skcnn's networks, to declare your own with ConvNetClassifier.

The lecture's convolution layer is :class:`Conv2D`: K filters of F x F pixels
spanning the input's depth, stride S, zero padding P, an output of
``(W - F + 2P) / S + 1`` per side, ``F * F * D * K`` weights and K biases.
Pooling (:class:`MaxPool2D`, :class:`AvgPool2D`, and over whole maps
:class:`GlobalAveragePooling2D`, :class:`GlobalMaxPooling2D`), :class:`Dense`,
:class:`BatchNormalization`,
:class:`Activation`, :class:`Flatten` and :class:`Dropout` complete a CNN: a
sequence of convolutional layers interspersed with activation functions.
:class:`Residual` wraps layers into a block whose input is added to its output.

Layers are descriptions: they hold their hyperparameters, answer
``output_shape(in_shape)`` and ``n_params(in_shape)`` without any training,
and never hold weights (the estimator does). Shapes exclude the sample axis
and follow the package's image convention: ``(height, width, channels)`` for
feature maps, ``(n_features,)`` for flat samples.

Examples
--------
>>> from skcnn.layers import Conv2D, MaxPool2D
>>> shape = (32, 32, 3)
>>> for layer in [Conv2D(10, 5, stride=1, padding=2), MaxPool2D(2)]:
...     print(layer, layer.n_params(shape), shape := layer.output_shape(shape))
Conv2D(10, size=5, padding=2) 760 (32, 32, 10)
MaxPool2D(2, stride=2) 0 (16, 16, 10)
"""

from skcnn._layers import (
    Activation,
    AvgPool2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Layer,
    MaxPool2D,
    Residual,
)

__all__ = [
    "Activation",
    "AvgPool2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "Layer",
    "MaxPool2D",
    "Residual",
]
