"""ImageFeatures' optional pyradiomics backend: pyradiomics' own extractor on each image."""

import logging
import os

import numpy as np

__all__ = ["extract", "is_shape", "make_extractor"]

_INSTALL = (
    "ImageFeatures(backend='pyradiomics') needs pyradiomics, which ships only a "
    "source distribution: pip install setuptools wheel versioneer numpy, then "
    "pip install --no-build-isolation pyradiomics. The default "
    "backend='polymodal' computes the same features without it."
)


def make_extractor(params, classes, ndim, bin_width, bin_count):
    """A ``RadiomicsFeatureExtractor`` for ``ndim``-D images.

    ``params`` is a path to a pyradiomics parameter file, which then decides
    the feature classes, image types and settings, or a dict of pyradiomics
    settings (or None) on top of ``binWidth``/``binCount`` from ``bin_width``
    and ``bin_count``, with the feature ``classes`` of the original image.
    """
    try:
        from radiomics import featureextractor
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    # pyradiomics warns on every image that a symmetric GLCM's Sum Average is
    # twice its Joint Average; that is the definition, not news.
    logging.getLogger("radiomics.glcm").setLevel(logging.ERROR)
    if isinstance(params, (str, os.PathLike)):
        extractor = featureextractor.RadiomicsFeatureExtractor(os.fspath(params))
    else:
        settings = (
            {"binWidth": bin_width} if bin_count is None else {"binCount": bin_count}
        )
        settings.update(params or {})
        extractor = featureextractor.RadiomicsFeatureExtractor(**settings)
        extractor.disableAllFeatures()
        for name in classes:
            extractor.enableFeatureClassByName(
                "shape2D" if name == "shape" and ndim == 2 else name
            )
    if ndim == 2:
        # A 2-D image goes in as a one-slice volume, computed in its plane.
        extractor.settings.update(force2D=True, force2Ddimension=0)
    return extractor


def extract(extractor, image, mask, spacing):
    """The extractor's features of ``image`` inside ``mask``: {name: float}.

    ``image`` and ``mask`` are (D, H, W) or (H, W) arrays and ``spacing`` the
    voxel size in their axis order; SimpleITK's spacing is the reverse.
    Diagnostics are left out.
    """
    import SimpleITK as sitk

    if image.ndim == 2:
        image, mask, spacing = image[None], mask[None], (1.0, *spacing)
    sitk_image = sitk.GetImageFromArray(np.asarray(image, dtype=np.float64))
    sitk_image.SetSpacing(tuple(float(step) for step in spacing[::-1]))
    sitk_mask = sitk.GetImageFromArray(np.asarray(mask, dtype=np.uint8))
    sitk_mask.CopyInformation(sitk_image)
    result = extractor.execute(sitk_image, sitk_mask, label=1)
    return {
        name: float(value)
        for name, value in result.items()
        if not name.startswith("diagnostics_")
    }


def is_shape(name):
    """Whether a pyradiomics feature name is a shape feature (one per region)."""
    return "_shape_" in name or "_shape2D_" in name
