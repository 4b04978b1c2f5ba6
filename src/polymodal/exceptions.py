"""Warning classes raised by polymodal."""

__all__ = [
    "GroupLeakageWarning",
    "MissingModalityWarning",
    "PolymodalWarning",
    "RowFailureWarning",
    "VersionMismatchWarning",
]


class PolymodalWarning(UserWarning):
    """Base class of polymodal's warnings."""


class GroupLeakageWarning(PolymodalWarning):
    """A cross-validation fold has rows of one group on both sides of its split."""


class MissingModalityWarning(PolymodalWarning):
    """Rows lack a modality, or every modality, where a method needs them."""


class RowFailureWarning(PolymodalWarning):
    """A transformer could not read some rows, which were marked absent."""


class VersionMismatchWarning(PolymodalWarning):
    """A saved model was written under other versions of polymodal or its libraries."""
