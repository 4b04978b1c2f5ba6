"""Volumes written by the tests: CT DICOM series with pydicom, NIfTI with nibabel."""

import numpy as np
import pytest

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def write_series(
    folder,
    stored,
    *,
    spacing=(2.5, 0.7, 0.8),
    origin=(-40.0, -60.0, 100.0),
    orientation=AXIAL,
    slope=1.0,
    intercept=-1024.0,
    uid=None,
    skip=(),
    seed=0,
    prefix="IM",
):
    """Write ``stored`` (D, H, W) as one DICOM slice file per z, names shuffled.

    Slice k lies at ``origin + k * dz * normal``; ``skip`` leaves slices out
    (a missing slice). Returns the folder and the SeriesInstanceUID.
    """
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    uid = uid or generate_uid()
    dz, dy, dx = spacing
    row, column = np.array(orientation[:3]), np.array(orientation[3:])
    normal = np.cross(row, column)
    names = np.random.RandomState(seed).permutation(len(stored))
    for k, pixels in enumerate(stored):
        if k in skip:
            continue
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"{prefix}{names[k]:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.SeriesInstanceUID = uid
        ds.StudyInstanceUID = "1.2.3"
        ds.InstanceNumber = int(names[k]) + 1
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelSpacing = [dy, dx]
        ds.SliceThickness = dz
        ds.ImageOrientationPatient = list(orientation)
        ds.ImagePositionPatient = list(np.asarray(origin) + k * dz * normal)
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.PixelData = pixels.astype("<u2").tobytes()
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return str(folder), uid


def lps_affine(spacing, origin, orientation=AXIAL):
    """The voxel-to-LPS matrix of a series written by :func:`write_series`."""
    dz, dy, dx = spacing
    row, column = np.array(orientation[:3]), np.array(orientation[3:])
    affine = np.eye(4)
    affine[:3, 0] = row * dx
    affine[:3, 1] = column * dy
    affine[:3, 2] = np.cross(row, column) * dz
    affine[:3, 3] = origin
    return affine


def write_nifti_volume(path, zyx, affine_lps):
    """Write a [z, y, x] array as NIfTI, whose voxel axes are x, y, z in RAS."""
    nibabel = pytest.importorskip("nibabel")
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_lps
    data = np.ascontiguousarray(np.transpose(zyx, (2, 1, 0)), dtype=np.float32)
    nibabel.save(nibabel.Nifti1Image(data, ras), str(path))
    return str(path)


def ct_volume(shape=(8, 16, 16), seed=0):
    """Stored CT values: a distinct value per slice plus noise (uint16)."""
    rng = np.random.RandomState(seed)
    base = 1024 + 40 * np.arange(shape[0])[:, None, None]
    return (base + rng.randint(0, 30, shape)).astype(np.uint16)
