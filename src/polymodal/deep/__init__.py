"""Deep heads: skorch estimators and the torch modules they train.

They need the ``deep`` extra (``pip install "polymodal[deep]"``); importing this
package does not import torch or skorch, fitting does.
"""

from ._deep_fusion import DeepFusionClassifier, DeepFusionRegressor
from ._mlp import MLPClassifier, MLPRegressor

__all__ = [
    "DeepFusionClassifier",
    "DeepFusionRegressor",
    "MLPClassifier",
    "MLPRegressor",
]
