"""Reading image files (Pillow, DICOM, NIfTI) into float arrays, shared by loaders."""

import os
from numbers import Integral
from pathlib import Path

import numpy as np

from ..utils._optional import import_optional

__all__ = ["ImageReadError", "checked_pair", "read_image_file", "resize"]
_DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
_NIFTI_SUFFIXES = (".nii", ".nii.gz")
# Pillow modes that already hold one grayscale channel; anything else (RGB, palette,
# alpha) is converted to 8-bit grayscale "L".
_GRAYSCALE_MODES = frozenset({"L", "I", "I;16", "I;16B", "I;16L", "F"})


class ImageReadError(ValueError):
    """A file that cannot serve as an image: the row's failure, not the caller's."""


def read_image_file(
    path, label, *, color="gray", window=None, nifti_slice="middle", column=None
):
    """Read one image file as float64 pixel values.

    Parameters
    ----------
    path : str or path-like
        A DICOM file (``.dcm``, ``.dicom``), a NIfTI file (``.nii``, ``.nii.gz``)
        or anything Pillow opens (PNG, JPEG, TIFF, ...).
    label : object
        The row, for error messages.
    color : {"gray", "rgb"}, default="gray"
        ``"gray"`` returns an array of shape (H, W); ``"rgb"`` one of shape
        (H, W, 3), grayscale images repeated over the three channels.
    window : tuple of (center, width) or None, default=None
        For DICOM files, apply this window to the modality values (Hounsfield
        units for CT) by the DICOM VOI LUT Function the file names (LINEAR when
        it names none; PS3.3 C.11.2.1.2), scaled onto [0, 1]. With LINEAR,
        values at or below ``center - 0.5 - (width - 1) / 2`` map to 0, values
        above ``center - 0.5 + (width - 1) / 2`` to 1, and values between
        linearly; ``width`` must then be at least 1.
    nifti_slice : "middle", int or None, default="middle"
        Which index of the third voxel axis to take from a 3-D NIfTI volume;
        None accepts 2-D NIfTI images only.
    column : str or None, default=None
        The column, for error messages.

    Returns
    -------
    image : ndarray of float64

    Raises
    ------
    ImageReadError
        When the file is missing, corrupt, without pixel data or of a shape that
        the options cannot turn into one 2-D image; the message names the row,
        the path and the reason.
    ImportError
        When the library that reads the format is not installed.
    """
    name = os.fspath(path)
    lowered = name.lower()
    if Path(lowered).suffix in _DICOM_SUFFIXES:
        reader, module = _read_dicom, "pydicom"
    elif lowered.endswith(_NIFTI_SUFFIXES):
        reader, module = _read_nifti, "nibabel"
    else:
        reader, module = _read_pillow, "PIL"
    library = _import(module)
    # Any library exception below means this file cannot serve as an image:
    # missing, corrupt, not an image, or without pixel data. Report the row and
    # the path whatever the library's own exception type is.
    where = "" if column is None else f" in column {column}"
    try:
        image = reader(library, name, color, window, nifti_slice)
    except ImageReadError as exc:
        raise ImageReadError(
            f"Row {label}: cannot read the image file {name!r}{where} ({exc})."
        ) from None
    except Exception as exc:
        raise ImageReadError(
            f"Row {label}: cannot read the image file {name!r}{where} "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    if color == "rgb" and image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif color == "gray" and image.ndim == 3:
        # ITU-R 601 luma weights, as Pillow's "L" conversion.
        image = image @ np.array([0.299, 0.587, 0.114])
    return image


def checked_pair(value, parameter, owner, *, optional=False):
    """A (height, width) parameter of ``owner`` as a tuple of two ints.

    An int is a square side. With ``optional``, None is accepted and returned;
    anything but an int >= 1 or a pair of them is a ValueError.
    """
    if optional and value is None:
        return None
    pair = (value, value) if isinstance(value, Integral) else value
    if not (
        len(pair) == 2
        and all(
            isinstance(side, Integral) and not isinstance(side, bool) and side >= 1
            for side in pair
        )
    ):
        accepted = (
            "an int >= 1, a tuple of two ints >= 1 (height, width) or None"
            if optional
            else "an int >= 1 or a tuple of two ints >= 1"
        )
        raise ValueError(
            f"The '{parameter}' parameter of {owner} must be {accepted}; got {value!r}."
        )
    return tuple(int(side) for side in pair)


def resize(image, size, *, nearest=False):
    """Resize a (C, H, W) float array to (C, *size) by Pillow's bilinear filter.

    ``nearest=True`` takes the nearest pixel instead (for masks).
    """
    Image = _import("PIL")
    height, width = size
    method = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32)).resize(
                (width, height), method
            )
        )
        for channel in image
    ]
    return np.stack(channels)


def _import(module):
    """Import a reader library, or say which extra installs it."""
    what = {"pydicom": "DICOM files", "nibabel": "NIfTI files", "PIL": "image files"}
    return import_optional(
        "PIL.Image" if module == "PIL" else module,
        extra="image",
        needed_for=f"Reading {what[module]}",
        package={"PIL": "Pillow"}.get(module),
    )


def _read_pillow(library, path, color, window, nifti_slice):
    with library.open(path) as image:
        if color == "rgb":
            if image.mode != "RGB":
                image = image.convert("RGB")
        elif image.mode not in _GRAYSCALE_MODES:
            image = image.convert("L")
        return np.asarray(image, dtype=np.float64)


def _read_dicom(pydicom, path, color, window, nifti_slice):
    dataset = pydicom.dcmread(path)
    if "PixelData" not in dataset:
        raise ImageReadError("the DICOM file holds no pixel data")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageReadError(
            f"the DICOM file holds {frames} frames, a volume; read it with "
            "ImageLoader(volume=True)"
        )
    pixels = dataset.pixel_array
    if pixels.ndim == 3 and pixels.shape[-1] == 3:
        # Colour (RGB, or YBR that pydicom converts to RGB): stored values,
        # no Modality or VOI LUT applies.
        return np.asarray(pixels, dtype=np.float64)
    if pixels.ndim != 2:
        raise ImageReadError(
            f"the DICOM pixel data has shape {pixels.shape}; expected one "
            "grayscale or RGB frame"
        )
    apply_modality_lut, apply_voi_lut = _dicom_lut_functions()
    # The Modality LUT: Rescale Slope and Intercept (CT values to Hounsfield
    # units) or a Modality LUT Sequence.
    values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
    if window is None:
        return values
    return apply_voi_lut(
        values, _voi_dataset(pydicom, window, dataset.get("VOILUTFunction"))
    )


def _dicom_lut_functions():
    """pydicom's Modality and VOI LUT functions, wherever its version keeps them."""
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:  # pydicom < 3
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    return apply_modality_lut, apply_voi_lut


def _voi_dataset(pydicom, window, function):
    """A VOI LUT module holding the caller's window, for ``apply_voi_lut``.

    The caller's window replaces the file's own Window Center and Width (and
    any VOI LUT Sequence); the file's VOI LUT Function still says how a window
    is applied. pydicom scales the windowed values to the range of an unsigned
    stored value of ``BitsStored`` bits when no rescale is named: one bit
    makes that range [0, 1].
    """
    center, width = window
    voi = pydicom.Dataset()
    voi.PhotometricInterpretation = "MONOCHROME2"
    voi.WindowCenter = float(center)
    voi.WindowWidth = float(width)
    voi.VOILUTFunction = str(function or "LINEAR")
    voi.PixelRepresentation = 0
    voi.BitsStored = 1
    return voi


def _read_nifti(nibabel, path, color, window, nifti_slice):
    volume = nibabel.load(path)
    shape = volume.shape
    # A trailing axis of length 1 (one time point) does not change the image.
    while len(shape) > 2 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) == 2:
        return np.asarray(volume.get_fdata(), dtype=np.float64).reshape(shape)
    if len(shape) != 3:
        raise ImageReadError(
            f"the NIfTI image has shape {volume.shape}; ImageLoader reads 2-D images "
            "and slices of 3-D volumes, so select a volume of the series first"
        )
    if nifti_slice is None:
        raise ImageReadError(
            f"the NIfTI image is a volume of shape {shape} and nifti_slice=None; "
            "choose a slice with nifti_slice='middle' or an index"
        )
    index = shape[2] // 2 if nifti_slice == "middle" else nifti_slice
    if index >= shape[2]:
        raise ImageReadError(
            f"nifti_slice={index} is out of range for a volume with {shape[2]} slices"
        )
    # Slicing the data proxy reads one slice (scaled by scl_slope and scl_inter),
    # not the whole volume.
    data = volume.dataobj[:, :, index, ...]
    return np.asarray(data, dtype=np.float64).reshape(shape[:2])
