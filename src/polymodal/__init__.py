"""polymodal: scikit-learn-compatible multimodal learning for medicine.

One transformer per modality (:class:`MultimodalUnion`), a fusion step chosen
like any other hyperparameter (:mod:`polymodal.fusion`), and any head.
"""

from ._blocks import ModalityBlocks
from .union import MultimodalUnion, make_multimodal_union

__version__ = "0.1.0.dev0"

__all__ = ["ModalityBlocks", "MultimodalUnion", "__version__", "make_multimodal_union"]
