"""Deterministic per-image preprocessing of (n, C, H, W) blocks."""

from numbers import Integral, Real

import numpy as np

from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ImageBlockMixin, ModalityTransformer
from ..utils.validation import describe_rows
from ._io import checked_pair, resize

__all__ = ["ImagePreprocessor"]


class ImagePreprocessor(
    ImageBlockMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """Crop, resize, clip and normalise each image of an (n, C, H, W) block.

    Every step works on one image at a time and learns nothing from the other
    images, so ``fit`` only checks the parameters and the input and
    ``transform`` gives the same result for an image whatever the rest of the
    batch holds. The steps run in this order: crop, resize, clip, normalise.
    Random augmentation belongs to the deep heads, not here.

    Parameters
    ----------
    size : int, tuple of (int, int) or None, default=None
        Resize every image to ``(size, size)`` or ``(H, W)`` with Pillow's
        bilinear filter on the float values; None keeps the shape.
    crop : {"center"} or None, default="center"
        ``"center"`` first cuts the largest centered region with the aspect
        ratio of ``size`` (a square for an int), so that resizing does not
        distort the anatomy; None resizes the whole image. Ignored when
        ``size`` is None.
    normalize : {"zscore", "minmax", "percentile"} or None, default="zscore"
        Intensity normalisation of each image over all its channels and
        pixels: ``"zscore"`` subtracts the mean and divides by the standard
        deviation; ``"minmax"`` maps the minimum to 0 and the maximum to 1;
        ``"percentile"`` maps the 1st percentile to 0 and the 99th to 1 and
        clips outside, robust to a few extreme pixels. A constant image
        becomes all zeros. None keeps the intensities.
    clip : tuple of (low, high) or None, default=None
        Clip intensities to ``[low, high]`` before normalising, for example
        Hounsfield units ``(-1000, 1000)``.

    Attributes
    ----------
    n_features_in_ : int
        Number of channels ``C`` of the images seen in ``fit``.

    See Also
    --------
    ImageLoader : Reads image files or arrays into the (n, C, H, W) blocks
        this transformer takes.

    Notes
    -----
    An all-NaN image, the absent-row protocol of
    :class:`polymodal.MultimodalUnion`, stays all-NaN. The output is float32,
    like :class:`ImageLoader`'s. Resizing needs Pillow (``pip install
    "polymodal[image]"``).

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal.image import ImagePreprocessor
    >>> images = np.arange(2 * 1 * 4 * 6, dtype=float).reshape(2, 1, 4, 6)
    >>> out = ImagePreprocessor(size=2, normalize="minmax").fit_transform(images)
    >>> out.shape
    (2, 1, 2, 2)
    >>> float(out[0].min()), float(out[0].max())
    (0.0, 1.0)
    """

    # Each step works on one image alone: a union may fit it on any rows.
    _learns_from_rows = False

    _parameter_constraints = {
        "size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "crop": [StrOptions({"center"}), None],
        "normalize": [StrOptions({"zscore", "minmax", "percentile"}), None],
        "clip": [tuple, None],
    }

    def __init__(self, size=None, *, crop="center", normalize="zscore", clip=None):
        self.size = size
        self.crop = crop
        self.normalize = normalize
        self.clip = clip

    def _fit(self, X):
        size, clip = self._checked_size_and_clip()
        images = _images(X)
        self.n_features_in_ = images.shape[1]
        return size, clip, images

    def _read(self, X):
        """The checked ``size`` and ``clip``, then the images, as in ``fit``."""
        size, clip = self._checked_size_and_clip()
        images = _images(X)
        if images.shape[1] != self.n_features_in_:
            raise ValueError(
                f"ImagePreprocessor was fitted on images with {self.n_features_in_} "
                f"channel(s); got {images.shape[1]}."
            )
        return size, clip, images

    def _output(self, read):
        """Preprocess every image of the block."""
        size, clip, images = read
        pixels = images.reshape(len(images), -1)
        damaged = ~np.isfinite(pixels).all(axis=1) & ~np.isnan(pixels).all(axis=1)
        if damaged.any():
            # Normalising would spread one bad pixel over the whole image, which
            # the union would then take for an absent (all-NaN) row.
            raise ValueError(
                f"ImagePreprocessor: rows {describe_rows(np.flatnonzero(damaged))} "
                "hold NaN or infinite pixels in an otherwise present image. Only "
                "an all-NaN image marks an absent row; fill or clip those pixels "
                "first."
            )
        out_shape = images.shape[2:] if size is None else size
        output = np.empty((len(images), images.shape[1], *out_shape), np.float32)
        for row, image in enumerate(images):
            if np.isnan(image).all():
                output[row] = np.nan
                continue
            if size is not None:
                if self.crop == "center":
                    image = _center_crop(image, size)
                image = resize(image, size)
            if clip is not None:
                image = np.clip(image, *clip)
            output[row] = _normalized(image, self.normalize)
        return output

    def _checked_size_and_clip(self):
        """Check ``size`` and ``clip``; return them as tuples or None."""
        size = checked_pair(self.size, "size", "ImagePreprocessor", optional=True)
        clip = self.clip
        if clip is not None and not (
            len(clip) == 2
            and all(isinstance(value, Real) for value in clip)
            and clip[0] < clip[1]
        ):
            raise ValueError(
                "The 'clip' parameter of ImagePreprocessor must be a tuple "
                f"(low, high) of numbers with low < high, or None; got {clip!r}."
            )
        return size, clip


def _images(X):
    images = np.asarray(X, dtype=np.float64)
    if images.ndim != 4 or 0 in images.shape:
        raise ValueError(
            "ImagePreprocessor takes a non-empty block of images of shape "
            f"(n_samples, C, H, W); got an array of shape {images.shape}. "
            "ImageLoader reads files and arrays into such a block."
        )
    return images


def _center_crop(image, size):
    """The largest centered region of ``image`` with the aspect ratio of ``size``."""
    height, width = image.shape[1:]
    target = size[0] / size[1]
    if height / width > target:
        keep = round(width * target)
        top = (height - keep) // 2
        return image[:, top : top + keep, :]
    keep = round(height / target)
    left = (width - keep) // 2
    return image[:, :, left : left + keep]


def _normalized(image, method):
    if method is None:
        return image
    if method == "zscore":
        center, scale = image.mean(), image.std()
    elif method == "minmax":
        center, scale = image.min(), np.ptp(image)
    else:
        low, high = np.percentile(image, [1, 99])
        center, scale = low, high - low
    if scale == 0:
        return np.zeros_like(image)
    image = (image - center) / scale
    return np.clip(image, 0.0, 1.0) if method == "percentile" else image
