"""Image transformers: from image files or arrays to features."""

__all__ = []
