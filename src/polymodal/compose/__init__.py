"""From a patient table to modalities: what each column holds, and the union.

:func:`suggest_modalities` decides, from a sample of its cells, what each column
of a table holds (image paths, DICOM series, NIfTI files, SMILES, DNA, RNA or
protein sequences, free text, numbers, categories, identifiers, dates) and
groups the columns into modalities, each read by a recipe of the command
line's configuration format. The result shows its evidence, converts to a
:class:`~polymodal.MultimodalUnion` (also
:meth:`polymodal.MultimodalUnion.from_frame`) and, through
:func:`render_config`, to the commented file that ``polymodal init`` writes.
:func:`read_config` reads such a file back, as ``polymodal compare --config``
does, into a :class:`Config` that builds the union for a table.
"""

from .._recipes import Config, ConfigError, read_config
from ._config import render_config
from ._detect import (
    KINDS,
    ColumnSuggestion,
    ModalitySuggestion,
    ModalitySuggestions,
    suggest_modalities,
)

__all__ = [
    "KINDS",
    "ColumnSuggestion",
    "Config",
    "ConfigError",
    "ModalitySuggestion",
    "ModalitySuggestions",
    "read_config",
    "render_config",
    "suggest_modalities",
]
