"""Fusion steps: turn ModalityBlocks into one feature matrix, or predictions.

Every fusion estimator documents its math and what it does with rows where a
modality is absent; each also accepts a plain 2-D array as a single modality.
"""

from ._aggregate import AverageFusion, ProductFusion, TensorFusion
from ._early import ConcatFusion
from ._factorization import FactorizationFusion
from ._kernel import KernelFusion, NystroemKernelFusion
from ._late import LateFusionClassifier, LateFusionRegressor
from ._stacking import StackingFusionClassifier
from ._subspace import SubspaceFusion

__all__ = [
    "AverageFusion",
    "ConcatFusion",
    "FactorizationFusion",
    "KernelFusion",
    "LateFusionClassifier",
    "LateFusionRegressor",
    "NystroemKernelFusion",
    "ProductFusion",
    "StackingFusionClassifier",
    "SubspaceFusion",
    "TensorFusion",
]
