"""Cross-validating fusion choices: which fusion, which head, which modalities."""

from ._compare import FusionComparison, compare_fusions

__all__ = ["FusionComparison", "compare_fusions"]
