"""Image transformers: from image files or arrays to features."""

from ._cnn import CNNEmbedder
from ._loader import ImageLoader
from ._preprocessor import ImagePreprocessor

__all__ = ["CNNEmbedder", "ImageLoader", "ImagePreprocessor"]
