"""Load a column of images (or volumes, with masks) into one block."""

import os
from numbers import Integral, Real
from typing import NamedTuple

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
    """Load a column of images into a block (n, C, H, W), or volumes (n, C, D, H, W).

    Each cell is the path of an image file or an image array; with
    ``volume=True``, a 3-D image: a DICOM series folder, a multi-frame DICOM
    file, a NIfTI file or a 3-D array (see "Volumes" below). A second column
    of masks adds the region of interest as the last channel (see "Masks"). Files are read
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
        and then they must all have one shape. With ``volume=True``, an int or
        a tuple (D, H, W), applied by linear resampling after ``spacing`` and
        ``crop_to_mask``.
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
    volume : bool, default=False
        Read each cell as a 3-D image and return (n, C, D, H, W) blocks.
    series : str, int or None, default=None
        With ``volume=True``, which series of a DICOM folder that holds
        several: a SeriesInstanceUID, or an index into the folder's UIDs sorted
        as text (the order the error for such a folder lists them in). None
        reads folders of one series only.
    nifti_volume : int, "mean" or None, default=None
        With ``volume=True``, which volume of a 4-D NIfTI file (an fMRI or
        dynamic series) to read: an index along the fourth axis, or ``"mean"``
        for the voxel-wise mean of all. None makes a 4-D file a read error.
    spacing : float, tuple of (float, float, float) or None, default=None
        With ``volume=True``, resample every volume to this voxel spacing in
        mm, ``(dz, dy, dx)`` or one number for all three (linear interpolation
        for images, nearest neighbour for masks), before cropping and
        ``size``. None keeps each volume's own spacing.
    mask_label : number or None, default=None
        With a mask column, the label that marks the region of interest; None
        takes every value > 0.
    crop_to_mask : bool or float, default=False
        With a mask column, crop each image to the mask's bounding box plus
        this margin in mm (in pixels for 2-D images, which carry no spacing);
        True is a margin of 0. The crops differ in shape, so set ``size``.
    on_error : {"raise", "missing"}, default="raise"
        What to do with a file that cannot be read (missing, truncated or
        corrupt, a DICOM without pixel data, a volume without a slice policy) or
        an array of the wrong shape: ``"raise"`` raises a ValueError naming the
        row, the path and the reason; ``"missing"`` returns that row all-NaN,
        which :class:`polymodal.MultimodalUnion` marks absent for the modality.

    Attributes
    ----------
    n_features_in_ : int
        1 for a column of images, 2 for images and masks.

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

    **Volumes.** With ``volume=True`` a cell is a DICOM series folder (the
    slice files of one series), a multi-frame DICOM file (Enhanced CT/MR with
    per-frame positions, RT Dose), a 3-D NIfTI file (``.nii``, ``.nii.gz``;
    NRRD and MHA too), or an array (D, H, W) or (C, D, H, W) with C = 1, 3 or
    4, taken as 1 mm voxels in LPS order. Reading follows the geometry:

    - slices are ordered by ImagePositionPatient along the slice normal, not
      by file name; a gap that differs from the median spacing by more than
      10% (a missing slice), two slices at one position, a file that is not
      DICOM, a slice without pixel data and a truncated slice are read errors
      naming the file;
    - values are physical units through the DICOM Modality LUT (RescaleSlope
      and RescaleIntercept per slice, so Hounsfield units for CT; RT Dose in
      Gy), and ``dicom_window`` windows them as for 2-D DICOM files;
    - the orientation is normalised to LPS with an identity direction, the
      array indexed [z, y, x]: D runs inferior to superior, H anterior to
      posterior, W right to left (SimpleITK's ``DICOMOrient(image, "LPS")``).
      An oblique volume is resampled onto the axis-aligned grid holding it.

    A 2-D image (a PNG, a single-frame DICOM file, a 2-D array) in a column
    of volumes is a read error. DICOM is parsed with pydicom; orientation,
    resampling and NIfTI reading use SimpleITK, as pyradiomics does.

    **Masks.** Given two columns (a DataFrame or an (n, 2) array), the
    second holds masks read like the images (masks of volumes must have the
    image's size, and spacing, origin and direction within 1e-3 mm and 1e-4;
    masks of 2-D images its height and width). A mask is binarised (value >
    0, or ``== mask_label``), resampled by nearest neighbour and appended as
    the **last channel** of the output: C image channels + 1. So
    ``ImageFeatures(mask_channel=-1)`` and :class:`CNNEmbedder` can find the
    region of interest. A mask that differs in geometry, an empty mask (also
    after resampling) and a row with an image but no mask (or a mask but no
    image) are read errors of that row, subject to ``on_error``.

    Read errors name the row label, the column and the path. Reading files
    needs the ``image`` extra (``pip install
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

    Volumes, with a mask column whose region is appended as the last channel:

    >>> import pandas as pd
    >>> ct = np.arange(4 * 6 * 6, dtype=float).reshape(4, 6, 6)
    >>> lesion = np.zeros((4, 6, 6))
    >>> lesion[1:3, 2:4, 2:4] = 1
    >>> table = pd.DataFrame({"ct": [ct, ct], "lesion": [lesion, lesion]})
    >>> ImageLoader(volume=True).fit_transform(table).shape
    (2, 2, 4, 6, 6)
    >>> cropped = ImageLoader(volume=True, crop_to_mask=1.0, size=(4, 8, 8))
    >>> cropped.fit_transform(table).shape
    (2, 2, 4, 8, 8)
    >>> ImageLoader(volume=True, spacing=2.0).fit_transform(table).shape
    (2, 2, 2, 3, 3)
    """

    # Reads only the rows' shape at fit: a union may fit it on one batch.
    _learns_from_rows = False

    _parameter_constraints = {
        "color": [StrOptions({"gray", "rgb"})],
        "size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "dicom_window": [StrOptions(set(_WINDOWS)), tuple, None],
        "nifti_slice": [
            StrOptions({"middle"}),
            Interval(Integral, 0, None, closed="left"),
            None,
        ],
        "volume": ["boolean"],
        "series": [str, Interval(Integral, 0, None, closed="left"), None],
        "nifti_volume": [
            StrOptions({"mean"}),
            Interval(Integral, 0, None, closed="left"),
            None,
        ],
        "spacing": [Interval(Real, 0, None, closed="neither"), tuple, None],
        "mask_label": [Real, None],
        "crop_to_mask": ["boolean", Interval(Real, 0, None, closed="left")],
        "on_error": [StrOptions({"raise", "missing"})],
    }

    def __init__(
        self,
        *,
        color="gray",
        size=None,
        dicom_window=None,
        nifti_slice="middle",
        volume=False,
        series=None,
        nifti_volume=None,
        spacing=None,
        mask_label=None,
        crop_to_mask=False,
        on_error="raise",
    ):
        self.color = color
        self.size = size
        self.dicom_window = dicom_window
        self.nifti_slice = nifti_slice
        self.volume = volume
        self.series = series
        self.nifti_volume = nifti_volume
        self.spacing = spacing
        self.mask_label = mask_label
        self.crop_to_mask = crop_to_mask
        self.on_error = on_error

    def _fit(self, X):
        settings = self._settings()
        column = _image_cells(X)
        self._check_n_samples(len(column.labels))
        if self._margin() is not None and column.masks is None:
            raise ValueError(
                "ImageLoader: crop_to_mask needs a second column of masks; got "
                "one column of images."
            )
        self.n_features_in_ = 1 if column.masks is None else 2
        return settings, column

    def _read(self, X):
        """The checked settings, then the labels and cells."""
        settings = self._settings()
        column = _image_cells(X)
        n_columns = 1 if column.masks is None else 2
        if n_columns != self.n_features_in_:
            raise ValueError(
                f"X has {n_columns} columns, but ImageLoader is expecting "
                f"{self.n_features_in_} columns as input (images"
                f"{', masks' if self.n_features_in_ == 2 else ''})."
            )
        return settings, column

    def _output(self, read):
        """Read every image of the column into one block."""
        settings, column = read
        size = settings["size"]
        channels = (1 if self.color == "gray" else 3) + (column.masks is not None)
        output = None
        failed = []
        for row, label in enumerate(column.labels):
            try:
                image = self._read_row(column, row, settings)
            except ImageReadError:
                if self.on_error == "raise":
                    raise
                failed.append(row)
                continue
            if output is None:
                output = np.empty((len(column.labels), *image.shape), dtype=np.float32)
                first = label
            elif image.shape != output.shape[1:]:
                sides = "(depth, height, width)" if self.volume else "(height, width)"
                raise ValueError(
                    f"ImageLoader: row {label!r} holds an image of shape "
                    f"{image.shape[1:]}, but row {first!r} had shape "
                    f"{output.shape[2:]}. Set size={sides} to resize all "
                    "images to one shape."
                )
            output[row] = image
        if output is None:
            if size is None:
                raise ValueError(
                    "ImageLoader: no image of the column could be read, so the "
                    "output shape is unknown; set size to get all-NaN rows "
                    "instead."
                )
            output = np.empty((len(column.labels), channels, *size), dtype=np.float32)
        output[failed] = np.nan
        return output

    def _margin(self):
        """The crop margin in mm (pixels for 2-D images), or None for no crop."""
        if self.crop_to_mask is False or self.crop_to_mask is None:
            return None
        return 0.0 if self.crop_to_mask is True else float(self.crop_to_mask)

    def _settings(self):
        """Check ``size``, ``dicom_window`` and ``spacing``; return them as tuples."""
        if self.volume:
            size = _checked_sides(self.size, "size", 3, optional=True)
        else:
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
        spacing = None
        if self.spacing is not None:
            if not self.volume:
                raise ValueError(
                    "The 'spacing' parameter of ImageLoader applies to volumes; "
                    "set volume=True, or spacing=None for 2-D images."
                )
            spacing = _checked_sides(self.spacing, "spacing", 3, real=True)
        return {"size": size, "window": window, "spacing": spacing}

    def _read_row(self, column, row, settings):
        """One row as a float array (C, H, W) or (C, D, H, W), mask channel last."""
        label = column.labels[row]
        cell = column.images[row]
        mask = None if column.masks is None else column.masks[row]
        if _is_absent(cell) or (column.masks is not None and _is_absent(mask)):
            which = 0 if _is_absent(cell) else 1
            raise ImageReadError(
                f"ImageLoader: row {label!r}, column {column.names[which]} holds "
                f"no {'image' if which == 0 else 'mask'} while column "
                f"{column.names[1 - which]} holds one."
            )
        if self.volume:
            return self._read_volume_row(column, row, settings)
        image = self._read_cell(cell, label, settings["window"], column.names[0])
        if mask is not None:
            image = self._with_mask_2d(image, column, row)
        if settings["size"] is not None and image.shape[1:] != settings["size"]:
            if mask is None:
                image = resize(image, settings["size"])
            else:
                image = np.concatenate(
                    [
                        resize(image[:-1], settings["size"]),
                        resize(image[-1:], settings["size"], nearest=True),
                    ]
                )
        return image

    def _read_cell(self, cell, label, window, column=None):
        """One cell as a float array of shape (C, H, W)."""
        if isinstance(cell, (str, os.PathLike)):
            image = read_image_file(
                cell,
                label,
                color=self.color,
                window=window,
                nifti_slice=self.nifti_slice,
                column=column,
            )
            return image[None] if image.ndim == 2 else np.moveaxis(image, 2, 0)
        return _array_image(cell, label, self.color)

    def _with_mask_2d(self, image, column, row):
        """A 2-D image with its binary mask as the last channel, cropped if asked."""
        label, names = column.labels[row], column.names
        mask_cell = column.masks[row]
        if isinstance(mask_cell, (str, os.PathLike)):
            mask = read_image_file(
                mask_cell, label, nifti_slice=self.nifti_slice, column=names[1]
            )[None]
        else:
            mask = _array_image(mask_cell, label, "gray")
        if mask.shape[1:] != image.shape[1:]:
            raise ImageReadError(
                f"ImageLoader: row {label!r}, column {names[1]}: the mask "
                f"{_shown(mask_cell)} of shape {mask.shape[1:]} does not match the "
                f"image {_shown(column.images[row])} of column {names[0]}, of "
                f"shape {image.shape[1:]}."
            )
        binary = mask[0] > 0 if self.mask_label is None else mask[0] == self.mask_label
        if not binary.any():
            raise ImageReadError(
                f"ImageLoader: row {label!r}, column {names[1]}: the mask "
                f"{_shown(mask_cell)} is empty ({self._mask_rule()})."
            )
        image = np.concatenate([image, binary[None].astype(np.float64)])
        margin = self._margin()
        if margin is not None:
            rows, cols = np.nonzero(binary)
            pad = int(np.ceil(margin))
            image = image[
                :,
                max(rows.min() - pad, 0) : rows.max() + 1 + pad,
                max(cols.min() - pad, 0) : cols.max() + 1 + pad,
            ]
        return image

    def _mask_rule(self):
        if self.mask_label is None:
            return "no value > 0"
        return f"no value == mask_label={self.mask_label!r}"

    def _read_volume_row(self, column, row, settings):
        """One row as (C, D, H, W): read, check, orient, resample, crop, resize."""
        from . import _volumes

        sitk = _volumes._sitk()
        label, names = column.labels[row], column.names
        cell = column.images[row]
        image = self._read_volume_cell(
            cell,
            label,
            names[0],
            window=settings["window"],
            series=self.series,
            nifti_volume=self.nifti_volume,
        )
        mask = None
        if column.masks is not None:
            mask_cell = column.masks[row]
            mask = self._read_volume_cell(mask_cell, label, names[1])
            reason = _volumes.check_same_geometry(image, mask)
            if reason is not None:
                raise ImageReadError(
                    f"ImageLoader: row {label!r}, column {names[1]}: the mask "
                    f"{_shown(mask_cell)} does not have the geometry of the image "
                    f"{_shown(cell)} of column {names[0]}: {reason}."
                )
            try:
                mask = _volumes.binary_mask(sitk, mask, self.mask_label)
            except ImageReadError as exc:
                raise ImageReadError(
                    f"ImageLoader: row {label!r}, column {names[1]}: the mask "
                    f"{_shown(mask_cell)}: {exc}."
                ) from None
            self._check_not_empty(mask, label, names[1], mask_cell, "")
        image = _volumes.oriented(image, nearest=False)
        if mask is not None:
            mask = _volumes.oriented(mask, nearest=True)
        if settings["spacing"] is not None:
            image = _volumes.resample_to_spacing(
                image, settings["spacing"], nearest=False
            )
            if mask is not None:
                mask = _volumes.resample_to_spacing(
                    mask, settings["spacing"], nearest=True
                )
                self._check_not_empty(
                    mask,
                    label,
                    names[1],
                    column.masks[row],
                    f" after resampling to spacing={settings['spacing']}",
                )
        if mask is not None and self._margin() is not None:
            image, mask = _volumes.crop_to_box(image, mask, self._margin())
        if settings["size"] is not None:
            image = _volumes.resample_to_size(image, settings["size"], nearest=False)
            if mask is not None:
                mask = _volumes.resample_to_size(mask, settings["size"], nearest=True)
        array = _to_color(_volumes.volume_array(image), self.color)
        if mask is not None:
            array = np.concatenate([array, _volumes.volume_array(mask)])
        return array

    def _read_volume_cell(
        self, cell, label, column, *, window=None, series=None, nifti_volume=None
    ):
        """Read one volume cell, naming row, column and path in any error."""
        from . import _volumes

        try:
            return _volumes.read_volume(
                cell, window=window, series=series, nifti_volume=nifti_volume
            )
        except ImageReadError as exc:
            raise ImageReadError(
                f"ImageLoader: row {label!r}, column {column}: cannot read the "
                f"volume {_shown(cell)} ({exc})."
            ) from None
        except Exception as exc:
            raise ImageReadError(
                f"ImageLoader: row {label!r}, column {column}: cannot read the "
                f"volume {_shown(cell)} ({type(exc).__name__}: {exc})."
            ) from exc

    def _check_not_empty(self, mask, label, column, cell, after):
        from . import _volumes

        if not _volumes._sitk().GetArrayViewFromImage(mask).any():
            raise ImageReadError(
                f"ImageLoader: row {label!r}, column {column}: the mask "
                f"{_shown(cell)} is empty{after} ({self._mask_rule()})."
            )


class _Column(NamedTuple):
    """The cells of the input: row labels, images, masks (or None), column names."""

    labels: list
    images: list
    masks: list
    names: tuple


def _shown(cell):
    """A cell as error messages name it: its path, or the kind of array."""
    if isinstance(cell, (str, os.PathLike)):
        return repr(os.fspath(cell))
    shape = getattr(cell, "shape", None)
    return "(an array)" if shape is None else f"(an array of shape {shape})"


def _is_absent(cell):
    return cell is None or (
        pd.api.types.is_scalar(cell) and not isinstance(cell, str) and pd.isna(cell)
    )


def _column_name(name, position):
    return f"{position}" if name is None else repr(name)


def _image_cells(X):
    """Row labels and cells of the input: one column of images, or two with masks."""
    if isinstance(X, os.PathLike):
        raise TypeError(
            "ImageLoader takes a column of images (a Series, list or 1-D array); "
            f"got a single {type(X).__name__}. Wrap it in a list."
        )
    masks = None
    if isinstance(X, pd.DataFrame) and X.shape[1] == 2:
        labels = list(X.index)
        images, masks = list(X.iloc[:, 0]), list(X.iloc[:, 1])
        names = (repr(X.columns[0]), repr(X.columns[1]))
    elif (
        not isinstance(X, (pd.DataFrame, pd.Series, str, bytes))
        and hasattr(X, "__array__")
        and np.ndim(X) == 2
        and np.shape(X)[1] == 2
    ):
        X = np.asarray(X, dtype=object)
        labels = list(range(X.shape[0]))
        images, masks = list(X[:, 0]), list(X[:, 1])
        names = ("0", "1")
    else:
        name = X.name if isinstance(X, pd.Series) else None
        if isinstance(X, pd.DataFrame) and X.shape[1] == 1:
            name = X.columns[0]
        labels, images = column_cells(X, "ImageLoader", "images")
        names = (_column_name(name, 0), "1")
    for label, *cells in zip(labels, images, *([masks] if masks else [])):
        if all(_is_absent(cell) for cell in cells):
            raise ValueError(
                f"ImageLoader: row {label!r} holds no image ({cells[0]!r}). "
                "MultimodalUnion passes only the rows where a modality is present, "
                "so a missing value here means the loader was called directly; "
                "drop or fill those rows first."
            )
        for cell in cells:
            if _is_absent(cell) or isinstance(
                cell, (str, os.PathLike, np.ndarray, list, tuple)
            ):
                continue
            raise TypeError(
                f"ImageLoader: row {label!r} holds a {type(cell).__name__}; expected "
                "the path of an image file or an image array."
            )
    return _Column(labels, images, masks, names)


def _checked_sides(value, parameter, n, *, optional=False, real=False):
    """An int (or positive number) or a tuple of ``n`` of them, as a tuple."""
    if optional and value is None:
        return None
    kind = Real if real else Integral
    sides = (value,) * n if isinstance(value, kind) else value
    if not (
        isinstance(sides, (tuple, list))
        and len(sides) == n
        and all(
            isinstance(side, kind)
            and not isinstance(side, bool)
            and (side > 0 if real else side >= 1)
            for side in sides
        )
    ):
        what = "a number > 0" if real else "an int >= 1"
        raise ValueError(
            f"The '{parameter}' parameter of ImageLoader must be {what} or a "
            f"tuple of {n} of them (depth, height, width) with volume=True"
            f"{', or None' if optional else ''}; got {value!r}."
        )
    return tuple(float(side) if real else int(side) for side in sides)


def _to_color(image, color):
    """A (C, ...) image with C = 1, 3 or 4 as the channels ``color`` asks for."""
    if image.shape[0] == 4:
        image = image[:3]
    if color == "gray" and image.shape[0] == 3:
        image = np.tensordot(_LUMA, image, axes=1)[None]
    elif color == "rgb" and image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    return image


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
    return _to_color(image, color)
