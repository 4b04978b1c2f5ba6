"""Reading 3-D images with their geometry: DICOM series, multi-frame DICOM, NIfTI.

Which library, and why
----------------------
pydicom reads the DICOM headers and pixels, SimpleITK does the geometry.

- pydicom parses every file of a series folder, so that each problem is named
  with the file that has it: a file that is not DICOM, a truncated slice, two
  series in one folder, a missing slice (uneven ImagePositionPatient steps).
  It decodes the pixels and applies the DICOM Modality LUT (RescaleSlope and
  RescaleIntercept, or a Modality LUT Sequence) slice by slice, and the VOI LUT
  window, exactly as :class:`~polymodal.image.ImageLoader` does for 2-D DICOM
  files, so that a slice reads to the same values in both.
- SimpleITK (the library pyradiomics reads and resamples with) holds the
  volume with its spacing, origin and direction, reads NIfTI (and NRRD, MHA)
  into the same LPS physical space as DICOM, reorients (``DICOMOrient``) and
  resamples (``Resample``, linear for images and nearest neighbour for masks).
  Resampling as pyradiomics does keeps the radiomics features of a volume
  consistent with that reference.

Every volume leaves this module as a SimpleITK image in LPS orientation with
an identity direction: ``GetArrayFromImage`` then indexes it [z, y, x], with z
running inferior to superior, y anterior to posterior and x right to left.
"""

import os
from pathlib import Path

import numpy as np

from ..utils._optional import import_optional
from ._io import ImageReadError, _dicom_lut_functions, _voi_dataset

__all__ = [
    "VOLUME_SUFFIXES",
    "binary_mask",
    "check_same_geometry",
    "crop_to_box",
    "oriented",
    "read_volume",
    "resample_to_size",
    "resample_to_spacing",
    "volume_array",
]

_DICOM_SUFFIXES = (".dcm", ".dicom")
_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
VOLUME_SUFFIXES = (*_DICOM_SUFFIXES, *_NIFTI_SUFFIXES, *_ITK_SUFFIXES)
_PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif")
# A gap between neighbouring slices may differ from the series' median spacing
# by this fraction of it: enough for positions rounded to 0.1 mm, far below the
# doubling that a missing slice makes.
SPACING_TOLERANCE = 0.1
# Image and mask geometry agree when spacing and origin are within this many mm
# and direction cosines within GEOMETRY_DIRECTION_TOLERANCE (NIfTI stores them
# as float32, DICOM as decimal strings).
GEOMETRY_TOLERANCE_MM = 1e-3
GEOMETRY_DIRECTION_TOLERANCE = 1e-4


def _sitk():
    return import_optional(
        "SimpleITK",
        extra="image",
        needed_for="Reading volumes",
        package="SimpleITK",
    )


def _pydicom():
    return import_optional("pydicom", extra="image", needed_for="Reading DICOM files")


def read_volume(cell, *, window=None, series=None, nifti_volume=None):
    """Read one cell as a 3-D SimpleITK image (float64, scalar or vector).

    Parameters
    ----------
    cell : str, path-like or ndarray
        A DICOM series folder, a multi-frame DICOM file, a NIfTI (or NRRD,
        MHA) file, or an array of shape (D, H, W) or (C, D, H, W).
    window : tuple of (center, width) or None
        VOI window for DICOM volumes (ignored for other sources).
    series : str, int or None
        Which series of a folder holding several: a SeriesInstanceUID or an
        index into the UIDs sorted as text.
    nifti_volume : int, "mean" or None
        Which volume of a 4-D file: an index, the mean, or None (an error).

    Returns
    -------
    image : SimpleITK.Image
        Not yet reoriented: its geometry is the file's own.

    Raises
    ------
    ImageReadError
        With the reason; the caller adds the row, column and path.
    """
    sitk = _sitk()
    if not isinstance(cell, (str, os.PathLike)):
        return _array_volume(sitk, cell)
    path = Path(cell)
    if path.is_dir():
        return _read_series(sitk, path, window, series)
    lowered = path.name.lower()
    if not path.exists():
        raise ImageReadError("no such file or folder")
    if lowered.endswith(_NIFTI_SUFFIXES + _ITK_SUFFIXES):
        return _read_itk_file(sitk, path, nifti_volume)
    if lowered.endswith(_PILLOW_SUFFIXES):
        raise ImageReadError(
            "a 2-D image file in a column of volumes (volume=True reads DICOM "
            "series folders, multi-frame DICOM, NIfTI files and 3-D arrays)"
        )
    return _read_dicom_file(sitk, path, window)


def _array_volume(sitk, cell):
    try:
        array = np.asarray(cell, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImageReadError(f"the array is not numeric: {exc}") from exc
    if array.ndim == 2:
        raise ImageReadError(
            f"a 2-D array of shape {array.shape} in a column of volumes; expected "
            "(D, H, W) or (C, D, H, W)"
        )
    if array.ndim not in (3, 4) or 0 in array.shape:
        raise ImageReadError(
            f"an array of shape {array.shape}; expected (D, H, W) or (C, D, H, W)"
        )
    if array.ndim == 4:
        if array.shape[0] not in (1, 3, 4):
            raise ImageReadError(
                f"an array of shape {array.shape}; expected (C, D, H, W) with "
                "C = 1, 3 or 4 channels"
            )
        return sitk.GetImageFromArray(np.moveaxis(array, 0, -1), isVector=True)
    return sitk.GetImageFromArray(array)


def _read_itk_file(sitk, path, nifti_volume):
    try:
        image = sitk.ReadImage(str(path), sitk.sitkFloat64)
    except RuntimeError as exc:
        raise ImageReadError(_itk_reason(exc)) from None
    size = list(image.GetSize())
    while len(size) > 3 and size[-1] == 1:
        size.pop()
    if len(size) < 3 or (len(size) == 3 and size[2] == 1):
        raise ImageReadError(
            f"a 2-D image of size {tuple(size)} in a column of volumes"
        )
    if len(size) > 4:
        raise ImageReadError(f"an image of {len(size)} dimensions; expected 3 or 4")
    if image.GetDimension() == 3:
        return image
    if len(size) == 3:
        return sitk.Extract(image, [*size, 0], [0, 0, 0, 0])
    if nifti_volume is None:
        raise ImageReadError(
            f"a 4-D image of {size[3]} volumes (size {tuple(size)}); set "
            "nifti_volume to an index or 'mean' to choose one"
        )
    if nifti_volume == "mean":
        first = sitk.Extract(image, [*size[:3], 0], [0, 0, 0, 0])
        mean = sitk.GetImageFromArray(sitk.GetArrayViewFromImage(image).mean(axis=0))
        mean.CopyInformation(first)
        return mean
    if nifti_volume >= size[3]:
        raise ImageReadError(
            f"nifti_volume={nifti_volume} is out of range for a 4-D image of "
            f"{size[3]} volumes"
        )
    return sitk.Extract(image, [*size[:3], 0], [0, 0, 0, int(nifti_volume)])


def _itk_reason(exc):
    """The informative last line of an ITK exception."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


# --------------------------------------------------------------------- DICOM


def _read_series(sitk, folder, window, series):
    pydicom = _pydicom()
    files = sorted(
        entry
        for entry in folder.iterdir()
        if entry.is_file()
        and not entry.name.startswith(".")
        and entry.name.upper() != "DICOMDIR"
    )
    headers, others = [], []
    for file in files:
        try:
            header = pydicom.dcmread(file, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            others.append(file.name)
            continue
        except Exception as exc:
            raise ImageReadError(
                f"cannot read the DICOM file {file.name!r} of the series folder "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        headers.append((file, header))
    if not headers:
        found = f" (it holds {len(files)} other files)" if files else ""
        raise ImageReadError(f"the folder holds no DICOM files{found}")
    if others:
        raise ImageReadError(
            f"the series folder holds files that are not DICOM: {others[:5]}; a "
            "series folder holds the slices of one scan only"
        )
    groups = {}
    for file, header in headers:
        groups.setdefault(str(header.get("SeriesInstanceUID", "")), []).append(
            (file, header)
        )
    uids = sorted(groups)
    if series is not None:
        if isinstance(series, str):
            if series not in groups:
                raise ImageReadError(
                    f"series={series!r} is not in the folder; it holds "
                    f"{_describe_series(groups, uids)}"
                )
            uid = series
        elif series >= len(uids):
            raise ImageReadError(
                f"series={series} is out of range; the folder holds "
                f"{_describe_series(groups, uids)}"
            )
        else:
            uid = uids[series]
    elif len(uids) > 1:
        raise ImageReadError(
            f"the folder holds {len(uids)} series: {_describe_series(groups, uids)}; "
            "set series= to a SeriesInstanceUID or an index into that list"
        )
    else:
        uid = uids[0]
    slices = groups[uid]
    if len(slices) < 2:
        raise ImageReadError(
            "the series holds one slice, a 2-D image in a column of volumes"
        )
    geometry = [_slice_geometry(file, header) for file, header in slices]
    orientation = geometry[0][1]
    for (file, _), (_, other, _, _) in zip(slices, geometry):
        if not np.allclose(other, orientation, atol=GEOMETRY_DIRECTION_TOLERANCE):
            raise ImageReadError(
                f"the slice {file.name!r} has ImageOrientationPatient "
                f"{list(other)}, others {list(orientation)}"
            )
    normal = np.cross(orientation[:3], orientation[3:])
    heights = np.array([np.dot(position, normal) for position, *_ in geometry])
    order = np.argsort(heights, kind="stable")
    names = [slices[i][0].name for i in order]
    spacing = _even_spacing(heights[order], names)
    arrays = []
    for i in order:
        file, header = slices[i]
        try:
            dataset = pydicom.dcmread(file)
            if "PixelData" not in dataset:
                raise ImageReadError("it holds no pixel data")
            pixels = dataset.pixel_array
        except ImageReadError as exc:
            raise ImageReadError(f"the slice {file.name!r}: {exc}") from None
        except Exception as exc:
            raise ImageReadError(
                f"cannot read the pixels of the slice {file.name!r} "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        arrays.append(_physical(pydicom, pixels, dataset, window, frame=None))
    shapes = {array.shape for array in arrays}
    if len(shapes) > 1:
        raise ImageReadError(f"the slices have different shapes: {sorted(shapes)}")
    first = slices[order[0]]
    return _image(
        sitk,
        np.stack(arrays),
        origin=geometry[order[0]][0],
        orientation=orientation,
        pixel_spacing=_pixel_spacing(first[1]),
        slice_spacing=spacing,
    )


def _describe_series(groups, uids):
    return "; ".join(f"{uid or '(no UID)'} ({len(groups[uid])} slices)" for uid in uids)


def _slice_geometry(file, header):
    try:
        position = np.array(header.ImagePositionPatient, dtype=float)
        orientation = np.array(header.ImageOrientationPatient, dtype=float)
    except (AttributeError, TypeError, ValueError):
        raise ImageReadError(
            f"the slice {file.name!r} has no ImagePositionPatient or "
            "ImageOrientationPatient, so the slices cannot be ordered in space"
        ) from None
    if position.shape != (3,) or orientation.shape != (6,):
        raise ImageReadError(
            f"the slice {file.name!r} has a malformed ImagePositionPatient or "
            "ImageOrientationPatient"
        )
    return position, orientation, None, None


def _pixel_spacing(header):
    spacing = header.get("PixelSpacing")
    if spacing is None:
        for sequence in ("SharedFunctionalGroupsSequence",):
            group = header.get(sequence)
            if group and "PixelMeasuresSequence" in group[0]:
                spacing = group[0].PixelMeasuresSequence[0].get("PixelSpacing")
    if spacing is None:
        raise ImageReadError("the DICOM data have no PixelSpacing")
    row, column = (float(value) for value in spacing)
    return row, column


def _even_spacing(heights, names):
    """The spacing of sorted slice heights, or an error naming an uneven gap."""
    gaps = np.diff(heights)
    duplicate = np.flatnonzero(gaps < 1e-6)
    if duplicate.size:
        i = int(duplicate[0])
        raise ImageReadError(
            f"the slices {names[i]!r} and {names[i + 1]!r} lie at the same "
            f"position ({heights[i]:g} mm along the slice normal)"
        )
    spacing = float(np.median(gaps))
    uneven = np.flatnonzero(np.abs(gaps - spacing) > SPACING_TOLERANCE * spacing)
    if uneven.size:
        i = int(uneven[0])
        raise ImageReadError(
            f"uneven slice spacing: the slices {names[i]!r} and {names[i + 1]!r} "
            f"at {heights[i]:g} and {heights[i + 1]:g} mm along the slice normal "
            f"are {gaps[i]:g} mm apart, the others {spacing:g} mm (a missing "
            "slice?)"
        )
    return spacing


def _physical(pydicom, pixels, dataset, window, frame):
    """Pixels in physical units (Modality LUT), then windowed by the VOI LUT."""
    apply_modality_lut, apply_voi_lut = _dicom_lut_functions()
    if pixels.ndim == 3 and pixels.shape[-1] == 3:  # RGB: no LUTs apply
        return np.moveaxis(np.asarray(pixels, dtype=np.float64), -1, 0)
    rescaled = _frame_rescale(dataset, frame)
    if rescaled is not None:
        slope, intercept = rescaled
        values = pixels * slope + intercept
    else:
        values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
    if "DoseGridScaling" in dataset:  # RT Dose: stored values times Gy per unit
        values = values * float(dataset.DoseGridScaling)
    if window is not None:
        values = apply_voi_lut(
            values, _voi_dataset(pydicom, window, dataset.get("VOILUTFunction"))
        )
    return np.asarray(values, dtype=np.float64)[None]


def _frame_rescale(dataset, frame):
    """A frame's slope and intercept from the functional groups, or None."""
    if frame is None:
        return None
    for name in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        groups = dataset.get(name)
        if not groups:
            continue
        group = groups[frame] if name.startswith("PerFrame") else groups[0]
        transform = group.get("PixelValueTransformationSequence")
        if transform:
            item = transform[0]
            return float(item.get("RescaleSlope", 1)), float(
                item.get("RescaleIntercept", 0)
            )
    return None


def _read_dicom_file(sitk, path, window):
    pydicom = _pydicom()
    try:
        dataset = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError:
        raise ImageReadError(
            "not a DICOM file (volume=True reads DICOM series folders, "
            "multi-frame DICOM, NIfTI files and 3-D arrays)"
        ) from None
    if "PixelData" not in dataset:
        raise ImageReadError("the DICOM file holds no pixel data")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames < 2:
        raise ImageReadError(
            "a single-frame DICOM file, a 2-D image in a column of volumes; pass "
            "the folder of its series"
        )
    pixels = dataset.pixel_array
    positions, orientation = _frame_geometry(dataset, frames)
    normal = np.cross(orientation[:3], orientation[3:])
    heights = np.array([np.dot(position, normal) for position in positions])
    order = np.argsort(heights, kind="stable")
    spacing = _even_spacing(heights[order], [f"frame {i + 1}" for i in order])
    arrays = [
        _physical(pydicom, pixels[i], dataset, window, frame=int(i)) for i in order
    ]
    return _image(
        sitk,
        np.stack(arrays),
        origin=positions[order[0]],
        orientation=orientation,
        pixel_spacing=_pixel_spacing(dataset),
        slice_spacing=spacing,
    )


def _frame_geometry(dataset, frames):
    """Each frame's ImagePositionPatient and the common ImageOrientationPatient."""
    shared = dataset.get("SharedFunctionalGroupsSequence")
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    orientation = dataset.get("ImageOrientationPatient")
    if orientation is None and shared and "PlaneOrientationSequence" in shared[0]:
        orientation = shared[0].PlaneOrientationSequence[0].ImageOrientationPatient
    if orientation is None and per_frame:
        first = per_frame[0]
        if "PlaneOrientationSequence" in first:
            orientation = first.PlaneOrientationSequence[0].ImageOrientationPatient
    if per_frame and all("PlanePositionSequence" in group for group in per_frame):
        positions = [
            group.PlanePositionSequence[0].ImagePositionPatient for group in per_frame
        ]
    elif "ImagePositionPatient" in dataset and orientation is not None:
        start = np.array(dataset.ImagePositionPatient, dtype=float)
        normal = np.cross(
            np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
        )
        if "GridFrameOffsetVector" in dataset:  # RT Dose
            offsets = np.array(dataset.GridFrameOffsetVector, dtype=float)
        else:
            step = dataset.get("SpacingBetweenSlices") or dataset.get("SliceThickness")
            if step is None:
                raise ImageReadError(
                    "the multi-frame DICOM file has no per-frame positions, "
                    "GridFrameOffsetVector or SpacingBetweenSlices"
                )
            offsets = np.arange(frames) * float(step)
        positions = [start + offset * normal for offset in offsets]
    else:
        positions = None
    if positions is None or orientation is None or len(positions) != frames:
        raise ImageReadError(
            "the multi-frame DICOM file has no plane geometry (ImagePositionPatient "
            "and ImageOrientationPatient per frame), so its frames cannot be placed "
            "in space"
        )
    return (
        [np.array(position, dtype=float) for position in positions],
        np.array(orientation, dtype=float),
    )


def _image(sitk, array, *, origin, orientation, pixel_spacing, slice_spacing):
    """A SimpleITK image from (D, C, H, W) slices and DICOM geometry."""
    channels = array.shape[1]
    if channels == 1:
        image = sitk.GetImageFromArray(array[:, 0])
    else:
        image = sitk.GetImageFromArray(np.moveaxis(array, 1, -1), isVector=True)
    row, column = orientation[:3], orientation[3:]
    # DICOM's first cosine is the direction of increasing column index (x),
    # the second that of increasing row index (y); SimpleITK's direction
    # matrix holds the axes' directions as its columns.
    direction = np.column_stack([row, column, np.cross(row, column)])
    row_spacing, column_spacing = pixel_spacing
    image.SetSpacing((column_spacing, row_spacing, float(slice_spacing)))
    image.SetOrigin(tuple(float(value) for value in origin))
    image.SetDirection(tuple(direction.ravel()))
    return image


# ------------------------------------------------------------------ geometry


def check_same_geometry(image, mask):
    """None when ``mask`` has ``image``'s grid, else the reason it does not."""
    checks = [
        ("size", image.GetSize(), mask.GetSize(), 0),
        ("spacing", image.GetSpacing(), mask.GetSpacing(), GEOMETRY_TOLERANCE_MM),
        ("origin", image.GetOrigin(), mask.GetOrigin(), GEOMETRY_TOLERANCE_MM),
        (
            "direction",
            image.GetDirection(),
            mask.GetDirection(),
            GEOMETRY_DIRECTION_TOLERANCE,
        ),
    ]
    for name, ours, theirs, tolerance in checks:
        if len(ours) != len(theirs) or not np.allclose(ours, theirs, atol=tolerance):
            return (
                f"the mask's {name} {_rounded(theirs)} differs from the image's "
                f"{_rounded(ours)}"
            )
    return None


def _rounded(values):
    return tuple(round(float(value), 4) for value in values)


def binary_mask(sitk, mask, label):
    """A UInt8 mask: 1 where the label is (any value > 0 when ``label`` is None)."""
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise ImageReadError("the mask has several channels; a mask holds labels")
    values = sitk.GetArrayViewFromImage(mask)
    binary = values > 0 if label is None else values == label
    out = sitk.GetImageFromArray(binary.astype(np.uint8))
    out.CopyInformation(mask)
    return out


def oriented(image, *, nearest):
    """``image`` in LPS orientation with an identity direction.

    ``DICOMOrient`` permutes and flips the axes without interpolation; an
    oblique volume (gantry tilt, oblique MR) is then resampled onto the
    axis-aligned grid that holds it.
    """
    sitk = _sitk()
    image = sitk.DICOMOrient(image, "LPS")
    direction = np.array(image.GetDirection()).reshape(3, 3)
    if np.allclose(direction, np.eye(3), atol=1e-6):
        image.SetDirection(tuple(np.eye(3).ravel()))
        return image
    size = np.array(image.GetSize())
    spacing = np.array(image.GetSpacing())
    corners = np.array(
        [
            image.TransformContinuousIndexToPhysicalPoint(
                [float(c) for c in corner * (size - 1)]
            )
            for corner in np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T
        ]
    )
    low, high = corners.min(axis=0), corners.max(axis=0)
    new_size = [int(n) for n in np.floor((high - low) / spacing + 1e-6) + 1]
    return _resample(image, new_size, tuple(low), tuple(spacing), nearest)


def resample_to_spacing(image, spacing, *, nearest):
    """Resample an identity-direction image to ``spacing`` (dz, dy, dx) mm."""
    new_spacing = np.array(spacing[::-1], dtype=float)  # SimpleITK order: x, y, z
    extent = np.array(image.GetSize()) * np.array(image.GetSpacing())
    size = np.maximum(np.round(extent / new_spacing), 1).astype(int)
    return _resample_extent(image, size, new_spacing, nearest)


def resample_to_size(image, size, *, nearest):
    """Resample an identity-direction image onto ``size`` (D, H, W) voxels."""
    size = np.array(size[::-1], dtype=int)
    extent = np.array(image.GetSize()) * np.array(image.GetSpacing())
    return _resample_extent(image, size, extent / size, nearest)


def _resample_extent(image, size, spacing, nearest):
    """Resample keeping the physical extent: voxel edges stay where they were."""
    origin = np.array(image.GetOrigin()) + 0.5 * (
        spacing - np.array(image.GetSpacing())
    )
    return _resample(
        image,
        [int(n) for n in size],
        tuple(float(v) for v in origin),
        tuple(float(v) for v in spacing),
        nearest,
    )


def _resample(image, size, origin, spacing, nearest):
    sitk = _sitk()
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    return sitk.Resample(
        image,
        size,
        sitk.Transform(),
        interpolator,
        origin,
        spacing,
        tuple(np.eye(3).ravel()),
        0.0,
        image.GetPixelID(),
        True,  # extrapolate edges by nearest neighbour, not with zeros
    )


def crop_to_box(image, mask, margin_mm):
    """Crop ``image`` and ``mask`` to the mask's bounding box plus a margin in mm."""
    sitk = _sitk()
    values = sitk.GetArrayViewFromImage(mask)
    where = np.nonzero(values)
    spacing = np.array(image.GetSpacing())[::-1]  # z, y, x
    pad = np.ceil(float(margin_mm) / spacing - 1e-9).astype(int)
    low = [max(int(axis.min()) - p, 0) for axis, p in zip(where, pad)]
    high = [
        min(int(axis.max()) + 1 + p, n) for axis, p, n in zip(where, pad, values.shape)
    ]
    # SimpleITK slices index x, y, z.
    box = tuple(slice(lo, hi) for lo, hi in zip(low[::-1], high[::-1]))
    return image[box], mask[box]


def volume_array(image):
    """A SimpleITK image as a float64 array (C, D, H, W)."""
    sitk = _sitk()
    array = sitk.GetArrayFromImage(image).astype(np.float64, copy=False)
    if image.GetNumberOfComponentsPerPixel() == 1:
        return array[None]
    return np.moveaxis(array, -1, 0)
