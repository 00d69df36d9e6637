"""skcnn: scikit-learn-compatible image classifiers, from nearest neighbours to CNNs."""

from skcnn._checkpoint import CheckpointError
from skcnn._convnet import ConvNetClassifier
from skcnn._knn import KNNImageClassifier
from skcnn._lenet import LeNet5Classifier
from skcnn._linear import LinearSoftmaxClassifier
from skcnn._mlp import MLPClassifier
from skcnn._warm_up import WarmUpReport, warm_up

__version__ = "0.1.0.dev0"

__all__ = [
    "CheckpointError",
    "ConvNetClassifier",
    "KNNImageClassifier",
    "LeNet5Classifier",
    "LinearSoftmaxClassifier",
    "MLPClassifier",
    "WarmUpReport",
    "__version__",
    "warm_up",
]
