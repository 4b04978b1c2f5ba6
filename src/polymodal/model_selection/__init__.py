"""Cross-validating fusion choices: which fusion, which head, which modalities."""

from ._compare import compare_fusions
from ._comparison import FusionComparison

__all__ = ["FusionComparison", "compare_fusions"]
