"""Inspection: how much each modality contributes, and what losing one costs."""

from ._curve import MissingModalityCurve, missing_modality_curve
from ._importance import ModalityImportance, modality_importance

__all__ = [
    "MissingModalityCurve",
    "ModalityImportance",
    "missing_modality_curve",
    "modality_importance",
]
