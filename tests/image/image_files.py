"""Image files written by the tests: PNG with Pillow, CT DICOM with pydicom, NIfTI."""

import numpy as np
import pytest


def write_png(path, pixels, mode=None):
    from PIL import Image

    image = Image.fromarray(pixels)
    if mode is not None:
        image = image.convert(mode)
    image.save(path)
    return str(path)


def write_dicom(path, stored, slope=1.0, intercept=0.0, pixel_data=True, **attributes):
    """A minimal uncompressed 16-bit CT DICOM file holding ``stored``.

    ``slope=None`` leaves the rescale out; ``attributes`` are set on the data
    set as they are (``VOILUTFunction="SIGMOID"``, a ``ModalityLUTSequence``).
    """
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ImplicitVRLittleEndian, generate_uid

    file_meta = FileMetaDataset()
    file_meta.MediaStorageSOPClassUID = CTImageStorage
    file_meta.MediaStorageSOPInstanceUID = generate_uid()
    file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=file_meta, preamble=b"\0" * 128)
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = file_meta.MediaStorageSOPInstanceUID
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    if slope is not None:
        dataset.RescaleSlope = slope
        dataset.RescaleIntercept = intercept
    for name, value in attributes.items():
        setattr(dataset, name, value)
    if pixel_data:
        dataset.PixelData = stored.astype("<u2").tobytes()
    pydicom.dcmwrite(path, dataset, enforce_file_format=True)
    return str(path)


def write_nifti(path, volume):
    nibabel = pytest.importorskip("nibabel")
    nibabel.save(nibabel.Nifti1Image(volume.astype(np.float32), np.eye(4)), path)
    return str(path)
