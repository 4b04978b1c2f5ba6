"""Load a column of image files or arrays into one (n, C, H, W) block."""

import os
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ..utils._columns import OneStringColumnMixin, column_cells
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ModalityTransformer
from ._io import ImageReadError, checked_pair, read_image_file, resize

__all__ = ["ImageLoader"]

# Common CT windows as (center, width) in Hounsfield units.
_WINDOWS = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (300.0, 1500.0),
}
# ITU-R 601 luma weights, the ones Pillow's "L" conversion uses, so that an RGB
# array and the same image read from a PNG become the same grayscale image.
_LUMA = np.array([0.299, 0.587, 0.114])
_CHANNEL_COUNTS = (1, 3, 4)


class ImageLoader(
    OneStringColumnMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """Load a column of image files or arrays into a block of shape (n, C, H, W).

    Each cell is the path of an image file or an image array. Files are read
    with Pillow (PNG, JPEG, TIFF and the other formats it opens), pydicom
    (``.dcm``, ``.dicom``) or nibabel (``.nii``, ``.nii.gz``); the output is a
    float32 block with one channel for ``color="gray"`` and three for
    ``color="rgb"``. ``fit`` learns nothing from the data.

    Parameters
    ----------
    color : {"gray", "rgb"}, default="gray"
        Number of output channels: 1 (``"gray"``) or 3 (``"rgb"``). Color
        images become gray with the ITU-R 601 luma weights (as Pillow's ``"L"``
        mode), gray images become RGB by repeating their channel, and an alpha
        channel is dropped.
    size : int, tuple of (int, int) or None, default=None
        Resize every image to ``(size, size)`` or ``(H, W)`` with Pillow's
        bilinear filter on the float values. None keeps the images as they are,
        and then they must all have one shape.
    dicom_window : {"lung", "mediastinum", "bone"}, tuple of (center, width) \
            or None, default=None
        Window applied to DICOM files after rescaling to Hounsfield units, by
        the DICOM VOI LUT Function (PS3.3 C.11.2.1.2; pydicom's
        ``apply_voi_lut``) scaled onto [0, 1]: for the default LINEAR
        function, values up to ``center - 0.5 - (width - 1) / 2`` map to 0,
        values above ``center - 0.5 + (width - 1) / 2`` to 1, and values
        between linearly (the center maps to ``0.5 + 0.5 / (width - 1)``). A
        file that names another VOI LUT Function (LINEAR_EXACT, SIGMOID) is
        windowed by it. The named windows are lung (-600, 1500), mediastinum
        (40, 400) and bone (300, 1500); a width is at least 1. None returns
        Hounsfield units. Other files and arrays are not windowed.
    nifti_slice : "middle", int or None, default="middle"
        Which slice of a 3-D NIfTI volume to return: an index along the third
        voxel axis (axial for the usual RAS or LPS orientation), or ``"middle"``
        for the middle one. None reads 2-D NIfTI images only and makes a volume
        a read error. A 4-D series (more than one volume) is always a read error.
    on_error : {"raise", "missing"}, default="raise"
        What to do with a file that cannot be read (missing, truncated or
        corrupt, a DICOM without pixel data, a volume without a slice policy) or
        an array of the wrong shape: ``"raise"`` raises a ValueError naming the
        row, the path and the reason; ``"missing"`` returns that row all-NaN,
        which :class:`polymodal.MultimodalUnion` marks absent for the modality.

    Attributes
    ----------
    n_features_in_ : int
        Always 1: the input is one column of images.

    See Also
    --------
    polymodal.MultimodalUnion : Marks the all-NaN rows of ``on_error="missing"``
        absent, with a :class:`~polymodal.exceptions.RowFailureWarning`.

    Notes
    -----
    The input is one column: a pandas Series, a list, a 1-D object array, or a
    one-column DataFrame or 2-D object array. Each cell holds a path (str or
    path-like) or an array: 2-D (H, W) is one gray image; 3-D is channels-last
    (H, W, C) when its last axis has 1, 3 or 4 entries and otherwise
    channels-first (C, H, W) when its first axis has; any other channel count
    is a read error. DICOM files are rescaled with ``RescaleSlope`` and
    ``RescaleIntercept``, so CT values come back in Hounsfield units; Pillow
    files keep their stored values (0-255 for 8-bit PNG or JPEG); NIfTI files
    are scaled by their ``scl_slope`` and ``scl_inter`` and returned with their
    first two voxel axes as rows and columns, without reorientation.

    An absent cell (``None``, NaN) is a ValueError naming the row whatever
    ``on_error`` says: :class:`polymodal.MultimodalUnion` passes only the rows
    where a modality is present. Rows are named by their index label for
    pandas input and by position otherwise.

    Images are read one at a time into the output, which is allocated once
    the first image's shape is known, so memory holds the output plus one
    image. Without ``size``, a row whose shape differs from the first image's
    is a ValueError (whatever ``on_error`` says) that names the row and
    suggests ``size``; and when no row can be read at all there is no shape to
    return, which is a ValueError too.

    With ``on_error="missing"`` the loader itself does not warn: inside a
    union, the union reports the failed rows once; called directly, the
    all-NaN rows are the documented signal.

    Reading files needs the ``image`` extra (``pip install
    "polymodal[image]"``); each library is imported when the first file of its
    format is read. The output is an N-D block without column names, so the
    loader does not define ``get_feature_names_out``.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal.image import ImageLoader
    >>> images = [np.zeros((4, 6)), np.ones((4, 6))]
    >>> ImageLoader().fit_transform(images).shape
    (2, 1, 4, 6)
    >>> ImageLoader(color="rgb", size=2).fit_transform(images).shape
    (2, 3, 2, 2)
    >>> loader = ImageLoader(on_error="missing").fit(["scan.png"])
    >>> bool(np.isnan(loader.transform(["missing.png", images[0]])[0]).all())
    True
    """

    _parameter_constraints = {
        "color": [StrOptions({"gray", "rgb"})],
        "size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "dicom_window": [StrOptions(set(_WINDOWS)), tuple, None],
        "nifti_slice": [
            StrOptions({"middle"}),
            Interval(Integral, 0, None, closed="left"),
            None,
        ],
        "on_error": [StrOptions({"raise", "missing"})],
    }

    def __init__(
        self,
        *,
        color="gray",
        size=None,
        dicom_window=None,
        nifti_slice="middle",
        on_error="raise",
    ):
        self.color = color
        self.size = size
        self.dicom_window = dicom_window
        self.nifti_slice = nifti_slice
        self.on_error = on_error

    def _fit(self, X):
        size, window, labels, cells = self._read(X)
        self._check_n_samples(len(cells))
        self.n_features_in_ = 1
        return size, window, labels, cells

    def _read(self, X):
        """The checked ``size`` and ``dicom_window``, then the labels and cells."""
        return (*self._shape_and_window(), *_image_cells(X))

    def _output(self, read):
        """Read every image of the column into one block."""
        size, window, labels, cells = read
        channels = 1 if self.color == "gray" else 3
        output = None
        failed = []
        for row, (label, cell) in enumerate(zip(labels, cells)):
            try:
                image = self._read_cell(cell, label, window)
            except ImageReadError:
                if self.on_error == "raise":
                    raise
                failed.append(row)
                continue
            if size is not None and image.shape[1:] != size:
                image = resize(image, size)
            if output is None:
                output = np.empty((len(cells), *image.shape), dtype=np.float32)
                first = label
            elif image.shape != output.shape[1:]:
                raise ValueError(
                    f"ImageLoader: row {label!r} holds an image of shape "
                    f"{image.shape[1:]}, but row {first!r} had shape "
                    f"{output.shape[2:]}. Set size=(height, width) to resize all "
                    "images to one shape."
                )
            output[row] = image
        if output is None:
            if size is None:
                raise ValueError(
                    "ImageLoader: no image of the column could be read, so the "
                    "output shape is unknown; set size=(height, width) to get "
                    "all-NaN rows instead."
                )
            output = np.empty((len(cells), channels, *size), dtype=np.float32)
        output[failed] = np.nan
        return output

    def _shape_and_window(self):
        """Check ``size`` and ``dicom_window``; return them as tuples or None."""
        size = checked_pair(self.size, "size", "ImageLoader", optional=True)
        window = _WINDOWS.get(self.dicom_window, self.dicom_window)
        if window is not None and not (
            len(window) == 2
            and all(
                isinstance(value, Real) and not isinstance(value, bool)
                for value in window
            )
            and window[1] >= 1
        ):
            raise ValueError(
                "The 'dicom_window' parameter of ImageLoader must be 'lung', "
                "'mediastinum', 'bone', a tuple (center, width) of numbers with "
                f"width >= 1, or None; got {self.dicom_window!r}."
            )
        return size, window

    def _read_cell(self, cell, label, window):
        """One cell as a float array of shape (C, H, W)."""
        if isinstance(cell, (str, os.PathLike)):
            image = read_image_file(
                cell,
                label,
                color=self.color,
                window=window,
                nifti_slice=self.nifti_slice,
            )
            return image[None] if image.ndim == 2 else np.moveaxis(image, 2, 0)
        return _array_image(cell, label, self.color)


def _image_cells(X):
    """Row labels and cells of the input, every cell a path or an array."""
    if isinstance(X, os.PathLike):
        raise TypeError(
            "ImageLoader takes a column of images (a Series, list or 1-D array); "
            f"got a single {type(X).__name__}. Wrap it in a list."
        )
    labels, cells = column_cells(X, "ImageLoader", "images")
    for label, cell in zip(labels, cells):
        if isinstance(cell, (str, os.PathLike, np.ndarray, list, tuple)):
            continue
        if pd.api.types.is_scalar(cell) and pd.isna(cell):
            raise ValueError(
                f"ImageLoader: row {label!r} holds no image ({cell!r}). "
                "MultimodalUnion passes only the rows where a modality is present, "
                "so a missing value here means the loader was called directly; "
                "drop or fill those rows first."
            )
        raise TypeError(
            f"ImageLoader: row {label!r} holds a {type(cell).__name__}; expected "
            "the path of an image file or an image array."
        )
    return labels, cells


def _array_image(cell, label, color):
    """An image array cell as float64 of shape (C, H, W), C matching ``color``."""
    try:
        image = np.asarray(cell, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImageReadError(
            f"ImageLoader: row {label!r} holds an array that is not numeric: {exc}"
        ) from exc
    if image.ndim == 2:
        image = image[None]
    elif image.ndim == 3 and image.shape[2] in _CHANNEL_COUNTS:
        image = np.moveaxis(image, 2, 0)
    elif not (image.ndim == 3 and image.shape[0] in _CHANNEL_COUNTS):
        raise ImageReadError(
            f"ImageLoader: row {label!r} holds an array of shape {image.shape}; "
            "expected (H, W), or (H, W, C) or (C, H, W) with C = 1, 3 or 4 "
            "channels."
        )
    if 0 in image.shape:
        raise ImageReadError(
            f"ImageLoader: row {label!r} holds an empty image of shape {image.shape}."
        )
    if image.shape[0] == 4:
        image = image[:3]
    if color == "gray" and image.shape[0] == 3:
        image = np.tensordot(_LUMA, image, axes=1)[None]
    elif color == "rgb" and image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    return image
