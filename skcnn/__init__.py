"""skcnn: scikit-learn-compatible image classifiers, from nearest neighbours to CNNs."""

from skcnn._knn import KNNImageClassifier

__version__ = "0.1.0.dev0"

__all__ = ["KNNImageClassifier", "__version__"]
