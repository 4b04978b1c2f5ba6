"""Clinical notes: TF-IDF features with negated findings marked."""

from ._clinical import ClinicalTextVectorizer

__all__ = ["ClinicalTextVectorizer"]
