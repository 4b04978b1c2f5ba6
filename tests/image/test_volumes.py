"""ImageLoader(volume=True): DICOM series, multi-frame DICOM, NIfTI, masks."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from polymodal import MultimodalUnion
from polymodal.exceptions import RowFailureWarning
from polymodal.image import ImageLoader

from .image_files import write_dicom, write_png
from .volume_files import (
    ct_volume,
    lps_affine,
    write_nifti_volume,
    write_series,
)

pytest.importorskip("SimpleITK")
pydicom = pytest.importorskip("pydicom")
nibabel = pytest.importorskip("nibabel")

SPACING = (2.5, 0.7, 0.8)
ORIGIN = (-40.0, -60.0, 100.0)


@pytest.fixture
def series(tmp_path):
    stored = ct_volume()
    folder, _ = write_series(tmp_path / "ct", stored)
    return folder, stored.astype(np.float64) - 1024.0


def test_series_is_ordered_by_position_in_hounsfield_units(series):
    folder, hounsfield = series

    block = ImageLoader(volume=True).fit_transform([folder])

    assert block.shape == (1, 1, 8, 16, 16) and block.dtype == np.float32
    # File names are shuffled: slice k (at z = 100 + 2.5 k) comes k-th.
    np.testing.assert_array_equal(block[0, 0], hounsfield)


def test_rescale_slope_and_intercept(tmp_path):
    stored = ct_volume((4, 6, 6))
    folder, _ = write_series(tmp_path / "ct", stored, slope=2.0, intercept=-1000.0)

    block = ImageLoader(volume=True).fit_transform([folder])

    np.testing.assert_array_equal(block[0, 0], stored * 2.0 - 1000.0)


def test_orientation_is_normalised_to_lps(tmp_path):
    # Rows run to the patient's right (-x), so the slice normal points down
    # (-z): in LPS the columns and the slices both come back reversed.
    stored = ct_volume()
    flipped = (-1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    folder, _ = write_series(tmp_path / "ct", stored, orientation=flipped)

    block = ImageLoader(volume=True).fit_transform([folder])

    np.testing.assert_array_equal(block[0, 0], stored[::-1, :, ::-1] - 1024.0)


@pytest.mark.parametrize("orientation", [(1, 0, 0, 0, 1, 0), (-1, 0, 0, 0, -1, 0)])
def test_series_and_same_volume_as_nifti_read_the_same(tmp_path, orientation):
    stored = ct_volume()
    folder, _ = write_series(tmp_path / "ct", stored, orientation=orientation)
    affine = lps_affine(SPACING, ORIGIN, orientation)
    nifti = write_nifti_volume(tmp_path / "ct.nii.gz", stored - 1024.0, affine)

    block = ImageLoader(volume=True).fit_transform([folder, nifti])

    np.testing.assert_allclose(block[0], block[1], atol=1e-4)


def test_nifti_reference_volume_in_lps():
    from nibabel.testing import data_path

    path = f"{data_path}/anatomical.nii"
    data = nibabel.load(path).get_fdata()  # voxel axes x, y, z; y runs anterior

    block = ImageLoader(volume=True).fit_transform([path])

    assert block.shape == (1, 1, *data.shape[::-1])
    expected = np.transpose(data, (2, 1, 0))[:, ::-1, :]
    np.testing.assert_allclose(block[0, 0], expected, rtol=1e-6)


def test_4d_nifti_needs_a_policy():
    from nibabel.testing import data_path

    path = f"{data_path}/example4d.nii.gz"

    first = ImageLoader(volume=True, nifti_volume=0).fit_transform([path])
    second = ImageLoader(volume=True, nifti_volume=1).fit_transform([path])
    mean = ImageLoader(volume=True, nifti_volume="mean").fit_transform([path])

    # The file is oblique (tilted 9 degrees about x): it is resampled onto the
    # axis-aligned LPS grid that holds its 128 x 96 x 24 voxels.
    assert second.shape == mean.shape == (1, 1, 37, 98, 128)
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(mean, (first + second) / 2, rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError, match="out of range"):
        ImageLoader(volume=True, nifti_volume=2).fit_transform([path])


def test_multiframe_rt_dose():
    path = pydicom.data.get_testdata_file("rtdose.dcm")
    dataset = pydicom.dcmread(path)
    dose = dataset.pixel_array * float(dataset.DoseGridScaling)

    block = ImageLoader(volume=True).fit_transform([path])

    assert block.shape == (1, 1, 15, 10, 10)
    np.testing.assert_allclose(block[0, 0], dose, rtol=1e-6)


def test_multiframe_with_per_frame_positions_is_ordered(tmp_path):
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    stored = ct_volume((5, 4, 6))
    order = [3, 0, 4, 1, 2]  # frame f holds slice order[f]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = tmp_path / "enhanced.dcm"
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 6, 5
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    shared = Dataset()
    measures, plane, transform = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing = [0.5, 0.5]
    measures.SliceThickness = 2.0
    plane.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    transform.RescaleSlope, transform.RescaleIntercept = 1, -1024
    shared.PixelMeasuresSequence = [measures]
    shared.PlaneOrientationSequence = [plane]
    shared.PixelValueTransformationSequence = [transform]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for k in order:
        group, position = Dataset(), Dataset()
        position.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        group.PlanePositionSequence = [position]
        frames.append(group)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.PixelData = stored[order].astype("<u2").tobytes()
    pydicom.dcmwrite(path, ds, enforce_file_format=True)

    block = ImageLoader(volume=True).fit_transform([str(path)])

    np.testing.assert_array_equal(block[0, 0], stored - 1024.0)


def test_dicom_window_as_for_2d_slices(series, tmp_path):
    folder, _ = series
    files = sorted(
        (pydicom.dcmread(f"{folder}/{name}").ImagePositionPatient[2], name)
        for name in __import__("os").listdir(folder)
    )
    slices = [f"{folder}/{name}" for _, name in files]

    volume = ImageLoader(volume=True, dicom_window="lung").fit_transform([folder])
    flat = ImageLoader(dicom_window="lung").fit_transform(slices)

    np.testing.assert_allclose(volume[0, 0], flat[:, 0], atol=1e-6)


def test_spacing_then_size(series):
    folder, _ = series

    one_mm = ImageLoader(volume=True, spacing=1.0).fit_transform([folder])
    sized = ImageLoader(volume=True, spacing=(2.5, 1.4, 1.6), size=(4, 6, 6))
    block = sized.fit_transform([folder])

    # Extent 8 x 2.5 = 20 mm, 16 x 0.7 = 11.2 mm, 16 x 0.8 = 12.8 mm.
    assert one_mm.shape == (1, 1, 20, 11, 13)
    assert block.shape == (1, 1, 4, 6, 6)
    # Slices differ by 40 HU per 2.5 mm: linear resampling keeps the ramp.
    means = one_mm[0, 0].mean(axis=(1, 2))
    assert np.all(np.diff(means) > 0)


def test_arrays_and_channels():
    volume = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    rgb = np.stack([volume, volume * 0, volume * 0])

    gray = ImageLoader(volume=True).fit_transform([volume])
    colour = ImageLoader(volume=True, color="rgb").fit_transform([rgb, volume])

    np.testing.assert_array_equal(gray[0, 0], volume)
    assert colour.shape == (2, 3, 2, 3, 4)
    np.testing.assert_array_equal(colour[0], rgb)
    np.testing.assert_array_equal(colour[1, 2], volume)


def test_volumes_of_different_shapes_need_size():
    column = pd.Series([np.zeros((2, 3, 4)), np.zeros((3, 3, 4))], index=["a", "b"])

    with pytest.raises(ValueError, match=r"row 'b' .*\(3, 3, 4\).*size="):
        ImageLoader(volume=True).fit_transform(column)
    block = ImageLoader(volume=True, size=(2, 2, 2)).fit_transform(column)
    assert block.shape == (2, 1, 2, 2, 2)


def test_two_series_choose_by_uid_or_index(tmp_path):
    first, _ = write_series(tmp_path / "ct", ct_volume(), uid="1.2.3.4")
    write_series(tmp_path / "ct", ct_volume(seed=1)[:5], uid="1.2.3.5", prefix="SE")

    with pytest.raises(ValueError, match=r"2 series: 1\.2\.3\.4 \(8 slices\); "):
        ImageLoader(volume=True).fit_transform([first])
    by_uid = ImageLoader(volume=True, series="1.2.3.5").fit_transform([first])
    by_index = ImageLoader(volume=True, series=0).fit_transform([first])
    assert by_uid.shape == (1, 1, 5, 16, 16)
    assert by_index.shape == (1, 1, 8, 16, 16)


# ---------------------------------------------------------------- RGB (2-D)


def test_rgb_dicom_and_tiff(tmp_path):
    from PIL import Image

    path = pydicom.data.get_testdata_file("SC_rgb_small_odd.dcm")
    pixels = pydicom.dcmread(path).pixel_array
    tiff = tmp_path / "tile.tif"
    tile = np.random.RandomState(0).randint(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(tile).save(tiff)

    rgb = ImageLoader(color="rgb").fit_transform([path])
    gray = ImageLoader().fit_transform([path])
    tile_block = ImageLoader(color="rgb").fit_transform([str(tiff)])

    assert rgb.shape == (1, 3, *pixels.shape[:2])
    np.testing.assert_array_equal(rgb[0], np.moveaxis(pixels, 2, 0))
    np.testing.assert_allclose(gray[0, 0], pixels @ [0.299, 0.587, 0.114], rtol=1e-6)
    np.testing.assert_array_equal(tile_block[0], np.moveaxis(tile, 2, 0))


# -------------------------------------------------------------------- masks


def _lesion(shape=(8, 16, 16)):
    mask = np.zeros(shape, dtype=np.uint8)
    mask[2:5, 6:10, 4:8] = 2
    return mask


def test_mask_is_the_last_channel(series, tmp_path):
    folder, hounsfield = series
    affine = lps_affine(SPACING, ORIGIN)
    mask = write_nifti_volume(tmp_path / "mask.nii.gz", _lesion(), affine)
    frame = pd.DataFrame({"ct": [folder], "mask": [mask]}, index=["p1"])

    block = ImageLoader(volume=True).fit_transform(frame)

    assert block.shape == (1, 2, 8, 16, 16)
    np.testing.assert_array_equal(block[0, 0], hounsfield)
    np.testing.assert_array_equal(block[0, 1], _lesion() > 0)


def test_mask_label_crop_and_resampling(tmp_path):
    image = np.arange(8 * 16 * 16, dtype=float).reshape(8, 16, 16)
    labels = _lesion()
    labels[6, 1, 1] = 1  # another structure, not the lesion
    frame = pd.DataFrame({"ct": [image], "mask": [labels]})

    cropped = ImageLoader(volume=True, mask_label=2, crop_to_mask=1.0)
    block = cropped.fit_transform(frame)
    sized = ImageLoader(volume=True, crop_to_mask=0.0, mask_label=2, size=4)
    resized = sized.fit_transform(frame)
    spaced = ImageLoader(volume=True, spacing=2.0).fit_transform(frame)

    # Arrays have 1 mm voxels: the box 3 x 4 x 4 plus 1 voxel on each side.
    assert block.shape == (1, 2, 5, 6, 6)
    np.testing.assert_array_equal(block[0, 0], image[1:6, 5:11, 3:9])
    assert block[0, 1].sum() == 3 * 4 * 4
    assert resized.shape == (1, 2, 4, 4, 4)
    assert set(np.unique(resized[0, 1])) == {1.0}
    assert spaced.shape == (1, 2, 4, 8, 8)
    assert set(np.unique(spaced[0, 1])) == {0.0, 1.0}


def test_2d_mask(tmp_path):
    image = np.arange(36, dtype=float).reshape(6, 6)
    mask = np.zeros((6, 6))
    mask[2:4, 1:3] = 1

    block = ImageLoader(crop_to_mask=True).fit_transform(
        pd.DataFrame({"img": [image], "roi": [mask]})
    )

    np.testing.assert_array_equal(block[0], [image[2:4, 1:3], np.ones((2, 2))])


def test_crop_needs_a_mask_and_columns_must_match():
    with pytest.raises(ValueError, match="crop_to_mask needs a second column"):
        ImageLoader(crop_to_mask=2.0).fit([np.zeros((3, 3))])
    frame = pd.DataFrame({"ct": [np.ones((2, 2))], "mask": [np.ones((2, 2))]})
    loader = ImageLoader().fit(frame)
    with pytest.raises(ValueError, match="expecting 2 columns"):
        loader.transform(frame["ct"])


# -------------------------------------------------------------- bad input


def _bad_cells(tmp_path):
    """(image, mask, what the message names) for row p2, each a bad input."""
    volume, lesion = np.zeros((8, 16, 16)), _lesion()
    good, _ = write_series(tmp_path / "good", ct_volume())
    gap, _ = write_series(tmp_path / "gap", ct_volume(), skip=(4,))
    two, _ = write_series(tmp_path / "two", ct_volume(), uid="1.2.3.4")
    write_series(tmp_path / "two", ct_volume()[:3], uid="1.2.3.5", prefix="SE")
    truncated, _ = write_series(tmp_path / "truncated", ct_volume())
    slice_file = sorted((tmp_path / "truncated").iterdir())[3]
    slice_file.write_bytes(slice_file.read_bytes()[:700])
    (tmp_path / "pngs").mkdir()
    write_png(tmp_path / "pngs" / "a.png", np.zeros((4, 4), dtype=np.uint8))
    stray, _ = write_series(tmp_path / "stray", ct_volume())
    (tmp_path / "stray" / "notes.txt").write_text("scanned on Monday")
    four_d = str(tmp_path / "4d.nii")
    nibabel.save(
        nibabel.Nifti1Image(np.zeros((4, 4, 4, 3), np.float32), np.eye(4)), four_d
    )
    png = write_png(tmp_path / "slice.png", np.zeros((16, 16), dtype=np.uint8))
    single = write_dicom(tmp_path / "one.dcm", np.zeros((16, 16)))
    return {
        "missing slice": (gap, lesion, r"column 'ct'.*gap.*uneven slice spacing"),
        "two series": (
            two,
            lesion,
            r"column 'ct'.*two.*2 series: 1\.2\.3\.4 \(8 slices\)",
        ),
        "mask geometry": (good, lesion, r"column 'mask'.*geometry.*spacing"),
        "empty mask": (volume, np.zeros((8, 16, 16)), r"column 'mask'.*is empty"),
        "2-D PNG": (png, lesion, r"column 'ct'.*slice\.png.*2-D image"),
        "2-D DICOM": (single, lesion, r"column 'ct'.*one\.dcm.*2-D image"),
        "2-D array": (np.zeros((16, 16)), lesion, r"column 'ct'.*2-D array"),
        "4-D NIfTI": (four_d, lesion, r"column 'ct'.*4d\.nii.*nifti_volume"),
        "truncated slice": (truncated, lesion, r"column 'ct'.*truncated.*IM\d+"),
        "no DICOM": (
            str(tmp_path / "pngs"),
            lesion,
            r"column 'ct'.*pngs.*no DICOM files",
        ),
        "stray file": (
            stray,
            lesion,
            r"column 'ct'.*stray.*not DICOM: \['notes\.txt'\]",
        ),
        "missing mask": (volume, None, r"column 'mask' holds no mask"),
    }


@pytest.mark.parametrize("on_error", ["raise", "missing"])
def test_bad_input_names_row_column_and_path(tmp_path, on_error):
    loader = ImageLoader(volume=True, size=(8, 16, 16), on_error=on_error)
    for what, (image, mask, message) in _bad_cells(tmp_path).items():
        frame = pd.DataFrame(
            {"ct": [np.zeros((8, 16, 16)), image], "mask": [_lesion(), mask]},
            index=["p1", "p2"],
        )
        if on_error == "raise":
            with pytest.raises(ValueError, match=rf"row 'p2', {message}"):
                loader.fit_transform(frame)
        else:
            block = loader.fit_transform(frame)
            assert block.shape == (2, 2, 8, 16, 16), what
            assert np.isnan(block[1]).all(), what
            assert not np.isnan(block[0]).any(), what


def test_union_with_image_and_mask_columns(tmp_path):
    affine = lps_affine(SPACING, ORIGIN)
    image = write_nifti_volume(tmp_path / "ct.nii.gz", ct_volume() - 1024.0, affine)
    mask = write_nifti_volume(tmp_path / "m.nii.gz", _lesion(), affine)
    empty = write_nifti_volume(tmp_path / "e.nii.gz", 0 * _lesion(), affine)
    frame = pd.DataFrame(
        {"ct": [image, None, image], "mask": [mask, None, empty], "age": 1.0}
    )
    union = MultimodalUnion(
        [("ct", ImageLoader(volume=True, size=4, on_error="missing"), ["ct", "mask"])],
        remainder="drop",
    )

    with pytest.warns(RowFailureWarning, match="ct"):
        blocks = union.fit_transform(frame)

    assert blocks["ct"].shape == (3, 2, 4, 4, 4)
    np.testing.assert_array_equal(blocks.masks["ct"], [True, False, False])


def test_joblib_round_trip_and_clone(tmp_path, series):
    folder, _ = series
    loader = ImageLoader(volume=True, spacing=(2.5, 1.0, 1.0), size=4).fit([folder])
    joblib.dump(loader, tmp_path / "loader.joblib")
    restored = joblib.load(tmp_path / "loader.joblib")

    np.testing.assert_array_equal(
        restored.transform([folder]), loader.transform([folder])
    )
    assert clone(loader).get_params() == loader.get_params()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"volume": True, "size": (3, 4)}, "'size' parameter"),
        ({"volume": True, "spacing": (1.0, 0.0, 1.0)}, "'spacing' parameter"),
        ({"spacing": 1.0}, "applies to volumes"),
        ({"nifti_volume": "max"}, "'nifti_volume' parameter"),
        ({"series": -1}, "'series' parameter"),
        ({"crop_to_mask": -1.0}, "'crop_to_mask' parameter"),
    ],
)
def test_invalid_volume_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        ImageLoader(**params).fit([np.zeros((2, 2, 2))])


def test_series_reads_as_simpleitk_series_reader_does(tmp_path):
    # pyradiomics' reference reading: GDCM orders the files, ITK rescales.
    sitk = pytest.importorskip("SimpleITK")
    stored = ct_volume()
    flipped = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    folder, _ = write_series(tmp_path / "ct", stored, orientation=flipped)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    reference = sitk.DICOMOrient(reader.Execute(), "LPS")

    block = ImageLoader(volume=True).fit_transform([folder])

    np.testing.assert_array_equal(block[0, 0], sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(reference.GetDirection(), np.eye(3).ravel())
