"""Clinical notes: TF-IDF features with negated findings marked, and sentence embeddings."""

from ._clinical import ClinicalTextVectorizer
from ._embedder import SentenceEmbedder

__all__ = ["ClinicalTextVectorizer", "SentenceEmbedder"]
