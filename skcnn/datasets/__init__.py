"""Image data sets: MNIST, CIFAR-10, a sample of MNIST and scikit-learn's digits.

MNIST and CIFAR-10 are read from their original files in a data home folder
(see :func:`get_data_home`) and downloaded there when missing; every file is
checked before use. A 12,000-image sample of MNIST ships with skcnn and the
8x8 digits with scikit-learn: neither needs a download.
:func:`make_colour_shapes` generates a colour task that needs colour and
position, in CIFAR-10's layout.
"""

from skcnn.datasets._base import DataFileError, get_data_home
from skcnn.datasets._cifar import load_cifar10
from skcnn.datasets._digits import load_digits_images
from skcnn.datasets._mnist import load_mnist, load_mnist_sample
from skcnn.datasets._shapes import make_colour_shapes

__all__ = [
    "DataFileError",
    "get_data_home",
    "load_cifar10",
    "load_digits_images",
    "load_mnist",
    "load_mnist_sample",
    "make_colour_shapes",
]
