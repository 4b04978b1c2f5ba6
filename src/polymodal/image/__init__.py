"""Image transformers: from image files or arrays to features."""

from ._cnn import CNNEmbedder
from ._features import ImageFeatures
from ._loader import ImageLoader
from ._preprocessor import ImagePreprocessor

__all__ = ["CNNEmbedder", "ImageFeatures", "ImageLoader", "ImagePreprocessor"]
