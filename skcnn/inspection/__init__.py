"""Displays: pictures of fitted models, following scikit-learn's ``Display`` API.

Needs matplotlib (``pip install 'skcnn[plot]'``).
"""

from skcnn.inspection._displays import (
    FeatureMapsDisplay,
    FiltersDisplay,
    MistakesDisplay,
    NeighborsDisplay,
    TemplatesDisplay,
    TrainingCurveDisplay,
)

__all__ = [
    "FeatureMapsDisplay",
    "FiltersDisplay",
    "MistakesDisplay",
    "NeighborsDisplay",
    "TemplatesDisplay",
    "TrainingCurveDisplay",
]
