"""Radiomics features of each image of an (n, C, H, W) or (n, C, D, H, W) block."""

import os
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy import stats
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils._optional import import_optional
from ..utils._parallel import parallel_tasks, task
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ImageBlockMixin, ModalityTransformer
from ..utils.validation import describe_rows
from . import _pyradiomics, _radiomics
from ._io import checked_pair

__all__ = ["ImageFeatures"]

_FAMILIES = ("first_order", "glcm", "hog", "lbp")
#: pyradiomics' feature classes, named as the prefix of their features' names.
_CLASSES = tuple(f"original_{name}" for name in _radiomics.CLASSES)
_GLCM_PROPERTIES = (
    "contrast",
    "dissimilarity",
    "homogeneity",
    "energy",
    "correlation",
    "ASM",
)
_MOMENTS = ("mean", "sd", "skewness", "kurtosis", "entropy", "min", "max")


@dataclass(frozen=True)
class _Plan:
    """The checked parameters, all that a worker needs to featurize a row."""

    families: tuple
    percentiles: tuple
    levels: int
    distances: tuple
    angles: tuple
    orientations: int
    pixels_per_cell: tuple
    cells_per_block: tuple
    lbp_points: int
    lbp_radius: float
    classes: tuple = ()
    bin_width: float = 25.0
    bin_count: int = None
    spacing: tuple = None
    mask_channel: int = None
    backend: str = "polymodal"
    pyradiomics_params: object = None
    pyradiomics_names: tuple = ()


class ImageFeatures(ImageBlockMixin, ModalityTransformer):
    """Radiomics features of each image or volume, inside a region of interest.

    Takes the (n, C, H, W) images or (n, C, D, H, W) volumes of
    :class:`ImageLoader` or :class:`ImagePreprocessor` and computes one row of
    features per image. Two kinds of features are offered.

    **pyradiomics' feature classes**, with pyradiomics' (3.0.1) formulas,
    discretisation and names, for 2-D images and volumes, inside a mask:

    - ``"original_shape"``: the region's volume (mesh and voxels), surface
      area, surface-to-volume ratio, sphericity, maximum 3-D and 2-D
      diameters, principal axis lengths, elongation and flatness (for 2-D
      images pyradiomics' ``shape2D``: area, perimeter, sphericity, maximum
      diameter, axes, elongation);
    - ``"original_firstorder"``: energy, entropy, percentiles, mean, median,
      range, deviations, skewness, kurtosis, variance, uniformity;
    - ``"original_glcm"``, ``"original_glrlm"``, ``"original_glszm"``: the 24
      grey-level co-occurrence, 16 run-length and 16 size-zone features, over
      the 13 directions of a volume (4 in a plane) averaged, zones
      26-connected (8 in a plane).

    ``"radiomics"`` names all five. They are computed with numpy, scipy and
    scikit-image, checked against pyradiomics itself (see Notes).

    **Handcrafted 2-D features** over the whole of a 2-D image, with
    scikit-image:

    - ``"first_order"``: mean, standard deviation, skewness, excess kurtosis,
      entropy, minimum, maximum and ``percentiles`` of the intensities;
    - ``"glcm"``: grey-level co-occurrence texture (contrast, dissimilarity,
      homogeneity, energy, correlation, ASM) with
      :func:`skimage.feature.graycomatrix` and
      :func:`skimage.feature.graycoprops`;
    - ``"hog"``: the histogram of oriented gradients of
      :func:`skimage.feature.hog`;
    - ``"lbp"``: the histogram of uniform rotation-invariant local binary
      patterns of :func:`skimage.feature.local_binary_pattern`.

    Parameters
    ----------
    features : "auto", "radiomics", str or sequence of str, default="auto"
        The feature classes and families to compute: among
        ``"original_shape"``, ``"original_firstorder"``, ``"original_glcm"``,
        ``"original_glrlm"``, ``"original_glszm"`` (``"radiomics"`` for all
        five) and the 2-D families ``"first_order"``, ``"glcm"``, ``"hog"``,
        ``"lbp"``. ``"auto"`` is the four 2-D families for 2-D images without
        ``mask_channel``, and ``"radiomics"`` for volumes or with a mask. The
        columns come in a fixed order whatever the order given: the region's
        shape, then for each channel the 2-D families (first_order, glcm, hog,
        lbp) and pyradiomics' classes (firstorder, glcm, glrlm, glszm).
    percentiles : sequence of float, default=(10, 25, 50, 75, 90)
        Percentiles (between 0 and 100) of the intensities among the
        first-order features.
    levels : int, default=32
        Number of grey levels (2 to 256) that the image is quantised to for
        the GLCM, the LBP and the first-order entropy.
    intensity_range : {"fit", "image"} or tuple of (low, high), default="fit"
        The intensities that map onto the ``levels`` grey levels, per channel.
        ``"fit"`` learns each channel's minimum and maximum over the training
        images, so that a grey level means the same intensity in every image
        (suited to calibrated units such as Hounsfield units); ``"image"``
        uses each image's own minimum and maximum, which makes the texture
        features insensitive to brightness and contrast; a tuple fixes the
        range, e.g. ``(-1000, 400)`` for CT. Intensities outside the range
        are clipped to it.
    distances : sequence of int, default=(1,)
        Pixel offsets of the co-occurrence pairs of the GLCM.
    angles : sequence of float, default=(0, pi/4, pi/2, 3*pi/4)
        Directions of the co-occurrence pairs, in radians. Each GLCM property
        is averaged over the angles (one value per distance), which makes it
        insensitive to the image's orientation.
    orientations : int, default=9
        Number of orientation bins of the HOG.
    pixels_per_cell : int or tuple of (int, int), default=(8, 8)
        Size of a HOG cell, in pixels.
    cells_per_block : int or tuple of (int, int), default=(3, 3)
        Number of cells in each HOG normalisation block.
    lbp_points : int, default=8
        Number of circularly symmetric neighbours of the LBP; the histogram
        has ``lbp_points + 2`` bins.
    lbp_radius : float, default=1.0
        Radius of the LBP circle, in pixels.
    bin_width : float, default=25.0
        pyradiomics' ``binWidth``: the width of the grey-level bins of the
        texture classes and of the first-order entropy and uniformity, with
        edges at multiples of it (25 suits Hounsfield units; choose it for the
        intensities at hand, e.g. after normalising MR images).
    bin_count : int or None, default=None
        pyradiomics' ``binCount``: that many equal bins between each region's
        minimum and maximum, instead of ``bin_width``.
    spacing : float, tuple of float or None, default=None
        The voxel size in mm, ``(dz, dy, dx)`` for volumes and ``(dy, dx)``
        for 2-D images (the order of :class:`ImageLoader`'s ``spacing``), or
        one number for every axis; None means 1 mm. Blocks carry no geometry,
        so give the spacing the loader resampled to. Used by the shape
        features and the first-order total energy.
    mask_channel : int or None, default=None
        The channel that holds the region of interest, e.g. -1 for the mask
        that :class:`ImageLoader` appends as the last channel when given a
        mask column. The region is where that channel is at least 0.5; the
        features are computed inside it from the other channel(s). None makes
        the whole image the region.
    backend : {"polymodal", "pyradiomics"}, default="polymodal"
        What computes pyradiomics' classes: polymodal's own implementation
        (numpy, scipy, scikit-image; no pyradiomics needed), or pyradiomics'
        ``RadiomicsFeatureExtractor`` on each image, for what only pyradiomics
        offers: its parameter files, filtered image types (wavelet, LoG, ...),
        its resampling, normalisation and resegmentation. pyradiomics must be
        installed (it ships only a source distribution: ``pip install
        setuptools wheel versioneer numpy``, then ``pip install
        --no-build-isolation pyradiomics``).
    pyradiomics_params : dict, path or None, default=None
        With ``backend="pyradiomics"``: a dict of pyradiomics settings (e.g.
        ``{"normalize": True, "binWidth": 0.5}``) applied on top of
        ``bin_width``/``bin_count``, with the classes of ``features`` of the
        original image; or the path of a pyradiomics parameter file (YAML or
        JSON), which then decides the classes, image types and settings. The
        columns are the features the extractor returns for the first training
        image (``pyradiomics_names_``), diagnostics left out.
    n_jobs : int or None, default=None
        Number of jobs that compute the rows in parallel (joblib). None means
        1 unless in a :func:`joblib.parallel_config` context; -1 means all
        processors. The result does not depend on it.

    Attributes
    ----------
    n_features_in_ : int
        Number of channels ``C`` of the images seen in ``fit``.
    image_shape_ : tuple of int
        Shape ``(C, H, W)`` or ``(C, D, H, W)`` of the images seen in
        ``fit``. With ``"hog"`` among the features, ``transform`` needs images
        of this shape, as the number of HOG features depends on it.
    pyradiomics_names_ : tuple of str
        With ``backend="pyradiomics"`` only: the features the extractor
        returned for the first present training image, in its order.
    intensity_range_ : ndarray of shape (C, 2) or None
        The ``(low, high)`` intensities of each channel mapped onto the grey
        levels, or None for ``intensity_range="image"``.

    See Also
    --------
    ImageLoader : Reads image files or arrays into the (n, C, H, W) blocks
        this transformer takes.
    ImagePreprocessor : Crops, resizes and normalises the images first.

    Notes
    -----
    pyradiomics' classes are named as pyradiomics names them:
    ``original_shape_MeshVolume``, ``original_firstorder_Mean``,
    ``original_glcm_Contrast`` (``original_shape2D_Perimeter`` for 2-D
    images), with the ``c0_``, ``c1_`` prefixes below for several image
    channels; the shape columns come once, as the region is one. They are
    pyradiomics' non-deprecated features with its default settings (distance
    1, symmetric GLCM, no resampling, no filters, ``voxelArrayShift`` 0).
    Checked against pyradiomics 3.0.1 on 23 volumes with masks (synthetic
    lesions of several sizes, spacings and textures, irregular blobs, both
    discretisations, and a real MR volume) and six slices, every feature agrees within 1e-6
    relative (the mesh's float32 vertices; the rest within 1e-11): none
    differs by design. The mesh is pyradiomics' marching-cubes mesh of the
    mask; on a binary mask its staircase overestimates a smooth lesion's
    surface (a sphere's by about 9%), while a partial-volume mask channel
    (each voxel's fraction inside the lesion) gives a smooth mesh within 1%
    of a sphere's true surface. A one-voxel region gives NaN where pyradiomics
    has nothing to divide by.

    The 2-D families' names are ``first_order_mean``, ``first_order_p10``,
    ``glcm_contrast`` (``glcm_contrast_d2`` and so on when there are several
    ``distances``), ``hog_17`` and ``lbp_3``. An image of several channels
    (RGB) gets every feature for each channel, as colour carries information
    in pathology stains; the columns are channel after channel, named with a
    ``c0_``, ``c1_``, ... prefix.

    The standard deviation, skewness and kurtosis are population moments
    (those of :func:`numpy.std` and :func:`scipy.stats.skew` and
    :func:`scipy.stats.kurtosis` with their defaults); a constant image has
    skewness and kurtosis 0. The entropy is in bits, over the histogram of
    the ``levels`` grey levels. The GLCM is symmetric and normalised. The LBP
    is computed on the quantised image too, so that noise below one grey
    level does not flip a pattern; its histogram sums to 1. The HOG uses
    L2-Hys block normalisation on the unquantised image.

    The output is a float64 array with one column per name of
    :meth:`get_feature_names_out`, in that order. Every feature of a row
    depends on that image alone (and on ``intensity_range_``), so
    transforming one image gives the same row as transforming it in a batch.

    A present row whose mask channel is empty is a ValueError naming the
    rows. An all-NaN image, the absent-row protocol of
    :class:`polymodal.MultimodalUnion`, gives an all-NaN row, and ``fit``
    ignores it; a NaN or infinite pixel in an otherwise present image is a
    ValueError naming the rows. The input must be a 4-D or 5-D block: a 2-D table
    is a ValueError, so scikit-learn's common checks, which feed 2-D tables,
    skip this transformer as they skip :class:`ImagePreprocessor`. Computing
    the features needs scikit-image (``pip install "polymodal[image]"``).

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal.image import ImageFeatures
    >>> images = np.random.default_rng(0).random((3, 1, 16, 16))
    >>> features = ImageFeatures(pixels_per_cell=8, cells_per_block=2)
    >>> features.fit_transform(images).shape
    (3, 64)
    >>> features.get_feature_names_out()[[0, 1, 12, 18, 54]]
    array(['first_order_mean', 'first_order_sd', 'glcm_contrast', 'hog_0',
           'lbp_0'], dtype=object)

    Radiomics of lesions: volumes with their lesion mask as the last channel,
    2 mm slices of 0.8 mm pixels, the lesion a sphere of radius 8 mm
    (4/3 pi 8^3 = 2144.7 mm^3):

    >>> rng = np.random.default_rng(0)
    >>> volumes = np.zeros((2, 2, 12, 24, 24))
    >>> volumes[:, 0] = rng.normal(40, 20, size=(2, 12, 24, 24))
    >>> z, y, x = np.indices((12, 24, 24))
    >>> volumes[:, 1] = (z - 6) ** 2 * 4 + ((y - 12) ** 2 + (x - 12) ** 2) * 0.64 <= 64
    >>> radiomics = ImageFeatures(mask_channel=-1, spacing=(2.0, 0.8, 0.8))
    >>> table = radiomics.set_output(transform="pandas").fit_transform(volumes)
    >>> table.shape
    (2, 88)
    >>> table[["original_shape_MeshVolume", "original_glcm_Contrast"]].round(1)
       original_shape_MeshVolume  original_glcm_Contrast
    0                     2103.7                     1.5
    1                     2103.7                     1.4
    """

    @property
    def _learns_from_rows(self):
        # intensity_range="fit" learns the range from the training images; a
        # fixed or per-image range leaves fit nothing to learn from the rows.
        return isinstance(self.intensity_range, str) and self.intensity_range == "fit"

    _parameter_constraints = {
        "features": [
            StrOptions({"auto", "radiomics", *_FAMILIES, *_CLASSES}),
            list,
            tuple,
        ],
        "percentiles": ["array-like"],
        "levels": [Interval(Integral, 2, 256, closed="both")],
        "intensity_range": [StrOptions({"fit", "image"}), tuple],
        "distances": ["array-like"],
        "angles": ["array-like"],
        "orientations": [Interval(Integral, 1, None, closed="left")],
        "pixels_per_cell": [Interval(Integral, 1, None, closed="left"), tuple],
        "cells_per_block": [Interval(Integral, 1, None, closed="left"), tuple],
        "lbp_points": [Interval(Integral, 1, None, closed="left")],
        "lbp_radius": [Interval(Real, 0, None, closed="neither")],
        "bin_width": [Interval(Real, 0, None, closed="neither")],
        "bin_count": [Interval(Integral, 1, None, closed="left"), None],
        "spacing": [Interval(Real, 0, None, closed="neither"), tuple, None],
        "mask_channel": [Integral, None],
        "backend": [StrOptions({"polymodal", "pyradiomics"})],
        "pyradiomics_params": [dict, str, os.PathLike, None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        features="auto",
        *,
        percentiles=(10, 25, 50, 75, 90),
        levels=32,
        intensity_range="fit",
        distances=(1,),
        angles=(0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4),
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(3, 3),
        lbp_points=8,
        lbp_radius=1.0,
        bin_width=25.0,
        bin_count=None,
        spacing=None,
        mask_channel=None,
        backend="polymodal",
        pyradiomics_params=None,
        n_jobs=None,
    ):
        self.features = features
        self.percentiles = percentiles
        self.levels = levels
        self.intensity_range = intensity_range
        self.distances = distances
        self.angles = angles
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.lbp_points = lbp_points
        self.lbp_radius = lbp_radius
        self.bin_width = bin_width
        self.bin_count = bin_count
        self.spacing = spacing
        self.mask_channel = mask_channel
        self.backend = backend
        self.pyradiomics_params = pyradiomics_params
        self.n_jobs = n_jobs

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns, e.g. ``first_order_mean`` or ``hog_17``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the names depend on the parameters and the image shape.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per output column, without the modality prefix that
            :class:`polymodal.MultimodalUnion` adds.
        """
        check_is_fitted(self)
        plan = self._plan(len(self.image_shape_) - 1)
        channels = self.image_shape_[0] - (plan.mask_channel is not None)
        height, width = self.image_shape_[-2:]
        names = []
        if "first_order" in plan.families:
            names += [f"first_order_{name}" for name in _MOMENTS]
            names += [f"first_order_p{q:g}" for q in plan.percentiles]
        if "glcm" in plan.families:
            several = len(plan.distances) > 1
            names += [
                f"glcm_{prop}" + (f"_d{distance}" if several else "")
                for prop in _GLCM_PROPERTIES
                for distance in plan.distances
            ]
        if "hog" in plan.families:
            names += [f"hog_{i}" for i in range(_hog_width((height, width), plan))]
        if "lbp" in plan.families:
            names += [f"lbp_{i}" for i in range(plan.lbp_points + 2)]
        ndim = len(self.image_shape_) - 1
        if plan.backend == "pyradiomics":
            learned = self.pyradiomics_names_
            shape = [name for name in learned if _pyradiomics.is_shape(name)]
            names += [name for name in learned if not _pyradiomics.is_shape(name)]
        else:
            intensity = [name for name in plan.classes if name != "shape"]
            names += _radiomics.feature_names(intensity, ndim)
            shape = _radiomics.feature_names(
                ["shape"] if "shape" in plan.classes else [], ndim
            )
        if channels > 1:
            names = [
                f"c{channel}_{name}" for channel in range(channels) for name in names
            ]
        # The shape is the region's, one set of columns whatever the channels.
        return np.asarray(shape + names, dtype=object)

    def _fit(self, X):
        """Check the parameters and images; learn the intensity range."""
        images = self._images(X, reset=True)
        plan = self._plan(images.ndim - 2, images.shape[1])
        present = ~_absent_rows(images)
        if not present.any():
            raise ValueError(
                "ImageFeatures: every training image is all-NaN (absent), so "
                "there is nothing to fit; give it at least one present image."
            )
        _check_image_size(images.shape[2:], plan)
        _check_masks(images, present, plan)
        channels = images.shape[1]
        if self.intensity_range == "fit":
            low = np.full(channels, np.inf)
            high = np.full(channels, -np.inf)
            for row in np.flatnonzero(present):
                image = images[row]
                spatial = tuple(range(1, image.ndim))
                low = np.minimum(low, image.min(axis=spatial))
                high = np.maximum(high, image.max(axis=spatial))
            self.intensity_range_ = np.column_stack([low, high])
        elif self.intensity_range == "image":
            self.intensity_range_ = None
        else:
            self.intensity_range_ = np.tile(self._fixed_range(), (channels, 1))
        self.image_shape_ = tuple(int(side) for side in images.shape[1:])
        if plan.backend == "pyradiomics":
            # The features a parameter file enables are known once computed:
            # learn their names from the first present image.
            first = np.flatnonzero(present)[:1]
            extractor = _extractor(plan)
            image, mask = _image_and_mask(images[first[0]].astype(np.float64), plan)
            self.pyradiomics_names_ = tuple(
                _pyradiomics.extract(extractor, image[0], mask, plan.spacing)
            )
        return plan, images

    def _read(self, X):
        images = self._images(X, reset=False)
        return self._plan(images.ndim - 2, images.shape[1]), images

    def _output(self, read):
        """The features of every image of the block."""
        plan, images = read
        if "hog" in plan.families and images.shape[1:] != self.image_shape_:
            raise ValueError(
                "ImageFeatures was fitted on images of shape (C, H, W) = "
                f"{self.image_shape_}; got {images.shape[1:]}. The number of HOG "
                "features depends on the image size: resize the images to one "
                "size, e.g. ImageLoader(size=...) or ImagePreprocessor(size=...)."
            )
        _check_image_size(images.shape[2:], plan)
        if plan.backend == "pyradiomics":
            plan = replace(plan, pyradiomics_names=self.pyradiomics_names_)
        width = len(self.get_feature_names_out())
        output = np.full((len(images), width), np.nan)
        present = ~_absent_rows(images)
        _check_masks(images, present, plan)
        rows = np.flatnonzero(present)
        if len(rows) == 0:
            return output
        n_chunks = min(effective_n_jobs(self.n_jobs), len(rows))
        if n_chunks <= 1:
            # Each row's features go straight into the output: no list of
            # rows and no stacked copy of the whole table besides it.
            _fill_rows(output, images, rows, rows, self.intensity_range_, plan)
        else:
            chunks = np.array_split(rows, n_chunks)
            values = parallel_tasks(
                self.n_jobs,
                [
                    task(
                        _rows_features,
                        images,
                        chunk,
                        self.intensity_range_,
                        plan,
                        width,
                    )
                    for chunk in chunks
                ],
                stacklevel=1,
                shared=(images,),
            )
            for chunk, value in zip(chunks, values):
                output[chunk] = value
        return output

    def _images(self, X, *, reset):
        """``X`` as a float (n, C, H, W) array, checked against the fit."""
        try:
            shape = (X if isinstance(X, np.ndarray) else np.asarray(X)).shape
        except ValueError:
            shape = "ragged"
        if len(shape) not in (4, 5) or 0 in shape[1:]:
            raise ValueError(
                "ImageFeatures takes a block of images of shape (n_samples, C, H, "
                f"W) or volumes (n_samples, C, D, H, W); got an input of shape "
                f"{shape}. Put an ImageLoader before it, e.g. "
                "make_pipeline(ImageLoader(size=64), ImageFeatures()), to read "
                "image files or arrays into such a block."
            )
        if not reset and len(shape) != len(self.image_shape_) + 1:
            raise ValueError(
                f"ImageFeatures was fitted on {len(self.image_shape_) - 1}-D images; "
                f"got a block of shape {shape}."
            )
        if not reset and shape[1] != self.n_features_in_:
            raise ValueError(
                f"ImageFeatures was fitted on images with {self.n_features_in_} "
                f"channel(s); got {shape[1]}."
            )
        return validate_data(
            self,
            X,
            reset=reset,
            allow_nd=True,
            ensure_all_finite=False,
            dtype=(np.float64, np.float32),
        )

    def _fixed_range(self):
        interval = self.intensity_range
        if not (
            len(interval) == 2
            and all(
                isinstance(value, Real) and not isinstance(value, bool)
                for value in interval
            )
            and interval[0] < interval[1]
        ):
            raise ValueError(
                "The 'intensity_range' parameter of ImageFeatures must be 'fit', "
                "'image' or a tuple (low, high) of numbers with low < high; got "
                f"{interval!r}."
            )
        return np.asarray(interval, dtype=np.float64)

    def _plan(self, ndim=2, channels=None):
        """Check the parameters that the constraints cannot; return them.

        ``ndim`` is the images' dimension (2 or 3), ``channels`` their number
        of channels where known.
        """
        mask_channel = self.mask_channel
        if mask_channel is not None and channels is not None:
            if not -channels <= mask_channel < channels or channels < 2:
                raise ValueError(
                    "The 'mask_channel' parameter of ImageFeatures must index a "
                    f"channel of images that hold one more besides it; got "
                    f"{mask_channel!r} for images of {channels} channel(s)."
                )
            mask_channel %= channels
        features = self.features
        if isinstance(features, str) and features == "auto":
            two_d = ndim == 2 and self.mask_channel is None
            features = _FAMILIES if two_d else "radiomics"
        if isinstance(features, str) and features == "radiomics":
            features = _CLASSES
        families = {features} if isinstance(features, str) else set(features)
        if not families or not families <= {*_FAMILIES, *_CLASSES}:
            raise ValueError(
                "The 'features' parameter of ImageFeatures must be 'auto', "
                "'radiomics' or name one or more of "
                f"{list(_FAMILIES) + list(_CLASSES)}; got {self.features!r}."
            )
        handcrafted = families & set(_FAMILIES)
        if handcrafted and self.backend == "pyradiomics":
            raise ValueError(
                "ImageFeatures(backend='pyradiomics') computes pyradiomics' "
                f"classes only; got the 2-D families {sorted(handcrafted)} in "
                "'features'."
            )
        if handcrafted and (ndim != 2 or self.mask_channel is not None):
            raise ValueError(
                f"ImageFeatures: the features {sorted(handcrafted)} are computed "
                "over a whole 2-D image; for volumes or a region of interest "
                "(mask_channel) choose pyradiomics' classes, e.g. "
                "features='radiomics' or ['original_firstorder', 'original_glcm']."
            )
        spacing = self.spacing
        if spacing is None:
            spacing = (1.0,) * ndim
        elif isinstance(spacing, Real):
            spacing = (float(spacing),) * ndim
        else:
            spacing = _numbers(spacing, "spacing", float)
            if len(spacing) != ndim or min(spacing) <= 0:
                raise ValueError(
                    "The 'spacing' parameter of ImageFeatures must be a number or "
                    f"{ndim} positive numbers (the voxel size in mm along "
                    f"{'(D, H, W)' if ndim == 3 else '(H, W)'}); got {self.spacing!r}."
                )
        percentiles = _numbers(self.percentiles, "percentiles", float)
        if any(not 0 <= q <= 100 for q in percentiles):
            raise ValueError(
                "The 'percentiles' parameter of ImageFeatures must hold numbers "
                f"between 0 and 100; got {self.percentiles!r}."
            )
        distances = _numbers(self.distances, "distances", int)
        if not distances or min(distances) < 1:
            raise ValueError(
                "The 'distances' parameter of ImageFeatures must hold one or more "
                f"ints >= 1; got {self.distances!r}."
            )
        angles = _numbers(self.angles, "angles", float)
        if not angles:
            raise ValueError("The 'angles' parameter of ImageFeatures is empty.")
        if not isinstance(self.intensity_range, str):
            self._fixed_range()
        return _Plan(
            families=tuple(family for family in _FAMILIES if family in families),
            percentiles=percentiles,
            levels=int(self.levels),
            distances=distances,
            angles=angles,
            orientations=int(self.orientations),
            pixels_per_cell=checked_pair(
                self.pixels_per_cell, "pixels_per_cell", "ImageFeatures"
            ),
            cells_per_block=checked_pair(
                self.cells_per_block, "cells_per_block", "ImageFeatures"
            ),
            lbp_points=int(self.lbp_points),
            lbp_radius=float(self.lbp_radius),
            classes=tuple(
                name for name in _radiomics.CLASSES if f"original_{name}" in families
            ),
            bin_width=float(self.bin_width),
            bin_count=None if self.bin_count is None else int(self.bin_count),
            spacing=tuple(spacing),
            mask_channel=mask_channel,
            backend=self.backend,
            pyradiomics_params=self.pyradiomics_params,
        )


def _numbers(values, parameter, kind):
    """A 1-D sequence parameter as a tuple of ``kind``, or a ValueError."""
    array = np.asarray(values)
    if array.ndim != 1 or not (
        np.issubdtype(array.dtype, np.integer)
        or (kind is float and np.issubdtype(array.dtype, np.floating))
    ):
        expected = "ints" if kind is int else "numbers"
        raise ValueError(
            f"The '{parameter}' parameter of ImageFeatures must be a sequence of "
            f"{expected}; got {values!r}."
        )
    return tuple(kind(value) for value in array)


def _absent_rows(images):
    """True for all-NaN images; a ValueError for NaN or inf in a present one."""
    absent = np.zeros(len(images), dtype=bool)
    damaged = []
    for row, image in enumerate(images):
        if np.isfinite(image).all():
            continue
        if np.isnan(image).all():
            absent[row] = True
        else:
            damaged.append(row)
    if damaged:
        raise ValueError(
            f"ImageFeatures: rows {describe_rows(damaged)} hold NaN or infinite "
            "pixels in an otherwise present image. Only an all-NaN image marks an "
            "absent row; fill or clip those pixels first."
        )
    return absent


def _hog_width(shape, plan):
    blocks = [
        side // cell - block + 1
        for side, cell, block in zip(shape, plan.pixels_per_cell, plan.cells_per_block)
    ]
    if min(blocks) < 1:
        return 0
    return (
        blocks[0] * blocks[1] * int(np.prod(plan.cells_per_block)) * (plan.orientations)
    )


def _check_image_size(shape, plan):
    if "hog" in plan.families and _hog_width(shape, plan) == 0:
        needed = tuple(
            cell * block
            for cell, block in zip(plan.pixels_per_cell, plan.cells_per_block)
        )
        raise ValueError(
            f"ImageFeatures: images of {shape[0]} x {shape[1]} pixels are too "
            f"small for a HOG block of {plan.cells_per_block} cells of "
            f"{plan.pixels_per_cell} pixels, which needs at least {needed[0]} x "
            f"{needed[1]}. Load larger images (ImageLoader(size=...)) or lower "
            "pixels_per_cell or cells_per_block."
        )
    if "glcm" in plan.families and min(shape) <= max(plan.distances):
        raise ValueError(
            f"ImageFeatures: images of {shape[0]} x {shape[1]} pixels hold no "
            f"co-occurring pair at GLCM distance {max(plan.distances)}; use "
            "distances smaller than the image side or larger images."
        )


def _rows_features(images, rows, ranges, plan, width):
    """Feature rows of ``images[rows]``, each image on its own (a worker's chunk)."""
    output = np.empty((len(rows), width))
    _fill_rows(output, images, rows, range(len(rows)), ranges, plan)
    return output


def _fill_rows(output, images, rows, targets, ranges, plan):
    """Write the features of ``images[rows]`` into ``output[targets]``."""
    compute = _row_computer(ranges, plan)
    for row, target in zip(rows, targets):
        output[target] = compute(images[row])


def _row_computer(ranges, plan):
    """A function from one (C, ...) image view to its feature row."""
    feature = import_optional(
        "skimage.feature",
        extra="image",
        needed_for="ImageFeatures",
        package="scikit-image",
    )
    if plan.backend == "pyradiomics":
        extractor = _extractor(plan)
        return lambda image: _pyradiomics_row(extractor, image, plan)
    return lambda image: _row_features(feature, image, ranges, plan)


def _extractor(plan):
    return _pyradiomics.make_extractor(
        plan.pyradiomics_params,
        plan.classes,
        len(plan.spacing),
        plan.bin_width,
        plan.bin_count,
    )


def _image_and_mask(image, plan):
    """The image channels and the mask of one (C, ...) image.

    The mask is the mask channel's values (the region is where they are at
    least 0.5), or all ones without a mask channel.
    """
    if plan.mask_channel is None:
        return image, np.ones(image.shape[1:])
    keep = np.arange(len(image)) != plan.mask_channel
    return image[keep], image[plan.mask_channel]


def _pyradiomics_row(extractor, image, plan):
    """One image's features from pyradiomics' extractor, in the learned order."""
    channels, weights = _image_and_mask(image.astype(np.float64), plan)
    mask = weights >= 0.5
    shape = [name for name in plan.pyradiomics_names if _pyradiomics.is_shape(name)]
    others = [
        name for name in plan.pyradiomics_names if not _pyradiomics.is_shape(name)
    ]
    parts = []
    for index, channel in enumerate(channels):
        values = _pyradiomics.extract(extractor, channel, mask, plan.spacing)
        wanted = (shape if index == 0 else []) + others
        parts.append([values.get(name, np.nan) for name in wanted])
    return np.concatenate(parts)


def _row_features(feature, image, ranges, plan):
    """One image's features: the region's shape, then channel after channel."""
    image = image.astype(np.float64)
    if ranges is None:
        ranges = _own_ranges(image)
    if plan.mask_channel is not None:
        ranges = ranges[np.arange(len(image)) != plan.mask_channel]
    image, mask = _image_and_mask(image, plan)
    options = {"bin_width": plan.bin_width, "bin_count": plan.bin_count}
    parts = []
    if "shape" in plan.classes:
        parts.append(
            _radiomics.radiomics_features(image[0], mask, plan.spacing, ["shape"])
        )
    intensity = [name for name in plan.classes if name != "shape"]
    for channel, limits in zip(image, ranges):
        if plan.families:
            parts.append(_channel_features(feature, channel, limits, plan))
        if intensity:
            parts.append(
                _radiomics.radiomics_features(
                    channel, mask, plan.spacing, intensity, **options
                )
            )
    return np.concatenate(parts)


def _own_ranges(image):
    spatial = tuple(range(1, image.ndim))
    return np.column_stack([image.min(axis=spatial), image.max(axis=spatial)])


def _check_masks(images, present, plan):
    """A ValueError naming the present rows whose mask channel is empty."""
    if plan.mask_channel is None:
        return
    # Row by row: a boolean copy of the whole mask channel would outweigh the
    # feature table many times over for volumes.
    empty = np.zeros(len(images), dtype=bool)
    for row in np.flatnonzero(present):
        empty[row] = not (images[row, plan.mask_channel] >= 0.5).any()
    if empty.any():
        raise ValueError(
            f"ImageFeatures: rows {describe_rows(np.flatnonzero(empty))} have an "
            f"empty mask (channel {plan.mask_channel} holds no value >= 0.5), so "
            "they have no region of interest to compute features in."
        )


def _quantized(channel, low, high, levels):
    """Grey levels 0 .. levels - 1 of ``channel``, [low, high] split evenly."""
    if high <= low:
        return np.zeros(channel.shape, dtype=np.uint8)
    scaled = (np.clip(channel, low, high) - low) * (levels / (high - low))
    return np.minimum(scaled.astype(np.intp), levels - 1).astype(np.uint8)


def _channel_features(feature, channel, limits, plan):
    grey = _quantized(channel, *limits, plan.levels)
    parts = []
    if "first_order" in plan.families:
        parts.append(_first_order(channel, grey, plan))
    if "glcm" in plan.families:
        matrix = feature.graycomatrix(
            grey,
            plan.distances,
            plan.angles,
            levels=plan.levels,
            symmetric=True,
            normed=True,
        )
        parts.append(
            np.concatenate(
                [
                    feature.graycoprops(matrix, prop).mean(axis=1)
                    for prop in _GLCM_PROPERTIES
                ]
            )
        )
    if "hog" in plan.families:
        parts.append(
            feature.hog(
                channel,
                orientations=plan.orientations,
                pixels_per_cell=plan.pixels_per_cell,
                cells_per_block=plan.cells_per_block,
                block_norm="L2-Hys",
                feature_vector=True,
                channel_axis=None,
            )
        )
    if "lbp" in plan.families:
        codes = feature.local_binary_pattern(
            grey, plan.lbp_points, plan.lbp_radius, method="uniform"
        )
        counts = np.bincount(
            codes.astype(np.intp).ravel(), minlength=plan.lbp_points + 2
        )
        parts.append(counts / codes.size)
    return np.concatenate(parts)


def _first_order(channel, grey, plan):
    low, high = channel.min(), channel.max()
    values = channel.ravel()
    if high == low:
        # scipy calls a constant sample's moments undefined (NaN, with a
        # warning); a constant image is neither skewed nor tailed.
        skewness = kurtosis = 0.0
    else:
        # Population moments: the biased skewness and the excess (Fisher)
        # kurtosis, scipy's defaults. scipy returns NaN where the variance is
        # zero to machine precision, an image constant but for rounding.
        skewness = np.nan_to_num(stats.skew(values, bias=True))
        kurtosis = np.nan_to_num(stats.kurtosis(values, fisher=True, bias=True))
    counts = np.bincount(grey.ravel(), minlength=plan.levels)
    entropy = stats.entropy(counts, base=2)
    moments = [values.mean(), values.std(), skewness, kurtosis, entropy, low, high]
    return np.concatenate([moments, np.percentile(channel, plan.percentiles)])
