"""MultimodalUnion: one transformer per modality, output as ModalityBlocks.

Modules:

- ``_union``: the union itself (columns, fit, transform, feature names) and
  :func:`make_multimodal_union`;
- ``_modality``: what the union does for one modality: its present rows,
  batches, rows that fail, and the block it gives;
- ``_row_independent``: the steps that learn nothing from rows, computed once
  on a whole table and sliced per fold by ``compare_fusions`` and the
  inspection tools.
"""

from ._union import REMAINDER, MultimodalUnion, make_multimodal_union

__all__ = ["REMAINDER", "MultimodalUnion", "make_multimodal_union"]
