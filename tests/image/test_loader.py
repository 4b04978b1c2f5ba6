import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.exceptions import RowFailureWarning
from polymodal.image import ImageLoader

from .image_files import write_dicom, write_nifti, write_png


@pytest.fixture
def pngs(tmp_path):
    rng = np.random.RandomState(0)
    return [
        write_png(tmp_path / f"{i}.png", rng.randint(0, 256, (6, 5), dtype=np.uint8))
        for i in range(3)
    ]


def test_png_column_gives_gray_block(pngs):
    from PIL import Image

    images = ImageLoader().fit_transform(pd.Series(pngs))

    assert images.shape == (3, 1, 6, 5)
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images[1, 0], np.asarray(Image.open(pngs[1])))


def test_rgb_gives_three_channels(tmp_path, pngs):
    color = np.zeros((4, 4, 3), dtype=np.uint8)
    color[..., 0] = 200
    path = write_png(tmp_path / "color.png", color)

    images = ImageLoader(color="rgb").fit_transform([path])
    gray_as_rgb = ImageLoader(color="rgb").fit_transform(pngs[:1])

    assert images.shape == (1, 3, 4, 4)
    np.testing.assert_array_equal(images[0, :, 0, 0], [200, 0, 0])
    assert gray_as_rgb.shape == (1, 3, 6, 5)
    np.testing.assert_array_equal(gray_as_rgb[0, 0], gray_as_rgb[0, 2])


def test_dicom_rescales_to_hounsfield_units(tmp_path):
    stored = np.array([[0, 1000], [1024, 2048]])
    path = write_dicom(tmp_path / "ct.dcm", stored, slope=1.0, intercept=-1024.0)

    images = ImageLoader().fit_transform([path])

    np.testing.assert_array_equal(images[0, 0], [[-1024, -24], [0, 1024]])


def test_dicom_window_is_the_dicom_linear_voi_lut(tmp_path):
    # Stored 1064 with intercept -1024 is 40 HU, the mediastinum center; 1263
    # is 239 HU, the window's last value below 1. DICOM's LINEAR function
    # maps x to (x - (c - 0.5)) / (w - 1) + 0.5, so the center maps to
    # 0.5 + 0.5 / 399, not 0.5.
    stored = np.array([[1064, 0], [3000, 1263]])
    path = write_dicom(tmp_path / "ct.dcm", stored, intercept=-1024.0)

    named = ImageLoader(dicom_window="mediastinum").fit_transform([path])
    explicit = ImageLoader(dicom_window=(40, 400)).fit_transform([path])

    np.testing.assert_allclose(named[0, 0], [[0.5 + 0.5 / 399, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(named, explicit)


def test_pydicom_sample_file_loads():
    pydicom = pytest.importorskip("pydicom")
    path = pydicom.data.get_testdata_file("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    expected = dataset.pixel_array * float(dataset.RescaleSlope) + float(
        dataset.RescaleIntercept
    )

    images = ImageLoader(dicom_window="lung").fit_transform([path])
    hounsfield = ImageLoader().fit_transform([path])

    assert images.shape == (1, 1, 128, 128)
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_allclose(hounsfield[0, 0], expected)


def test_nifti_slices(tmp_path):
    volume = np.arange(4 * 3 * 5, dtype=np.float32).reshape(4, 3, 5)
    path = write_nifti(tmp_path / "ct.nii.gz", volume)

    middle = ImageLoader().fit_transform([path])
    first = ImageLoader(nifti_slice=0).fit_transform([path])

    assert middle.shape == (1, 1, 4, 3)
    np.testing.assert_array_equal(middle[0, 0], volume[:, :, 2])
    np.testing.assert_array_equal(first[0, 0], volume[:, :, 0])


def test_size_resizes_every_image(tmp_path, pngs):
    other = write_png(tmp_path / "big.png", np.full((20, 12), 7, dtype=np.uint8))

    square = ImageLoader(size=8).fit_transform([*pngs, other])
    rectangle = ImageLoader(size=(3, 4)).fit_transform([np.ones((10, 10))])

    assert square.shape == (4, 1, 8, 8)
    np.testing.assert_allclose(square[3], 7)
    assert rectangle.shape == (1, 1, 3, 4)


def test_mixed_shapes_without_size_name_the_row():
    column = pd.Series(
        [np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((5, 4))], index=["a", "b", "c"]
    )

    with pytest.raises(ValueError, match=r"row 'c' .*\(5, 4\).*size="):
        ImageLoader().fit_transform(column)


def test_arrays_channels_last_and_first():
    rgb_last = np.zeros((4, 5, 3))
    rgb_last[..., 1] = 100.0
    rgb_first = np.moveaxis(rgb_last, 2, 0)

    gray = ImageLoader().fit_transform([rgb_last, rgb_first])

    assert gray.shape == (2, 1, 4, 5)
    np.testing.assert_allclose(gray[:, 0], 58.7, rtol=1e-6)


@pytest.mark.parametrize("on_error", ["raise", "missing"])
def test_bad_inputs(tmp_path, on_error):
    good = np.zeros((6, 5))
    truncated = tmp_path / "truncated.png"
    write_png(truncated, np.zeros((64, 64), dtype=np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:60])
    series = np.zeros((4, 3, 5, 2), dtype=np.float32)
    bad = {
        "missing file": (str(tmp_path / "absent.png"), "absent.png"),
        "truncated PNG": (str(truncated), "truncated.png"),
        "DICOM without pixel data": (
            write_dicom(tmp_path / "empty.dcm", good, pixel_data=False),
            "no pixel data",
        ),
        "4-D NIfTI": (write_nifti(tmp_path / "series.nii", series), "4-D|series"),
        "wrong channels": (np.zeros((6, 5, 2)), r"C = 1, 3 or 4"),
    }
    loader = ImageLoader(on_error=on_error)
    for what, (cell, reason) in bad.items():
        column = pd.Series([good, cell], index=["p1", "p2"])
        if on_error == "raise":
            with pytest.raises(ValueError, match=rf"[Rr]ow '?p2'?.*({reason})") as info:
                loader.fit_transform(column)
            assert info.type.__module__.startswith(("polymodal", "builtins")), what
        else:
            images = loader.fit_transform(column)
            assert images.shape == (2, 1, 6, 5), what
            assert np.isnan(images[1]).all() and not np.isnan(images[0]).any(), what


def test_nifti_volume_without_slice_policy(tmp_path):
    path = write_nifti(tmp_path / "ct.nii", np.zeros((4, 4, 3)))

    with pytest.raises(ValueError, match=r"Row 0: .*ct\.nii.*nifti_slice=None"):
        ImageLoader(nifti_slice=None).fit_transform([path])
    with pytest.raises(ValueError, match="out of range"):
        ImageLoader(nifti_slice=3).fit_transform([path])


def test_missing_rows_with_size_and_all_failed(tmp_path):
    absent = str(tmp_path / "absent.png")

    images = ImageLoader(size=(2, 3), on_error="missing").fit_transform([absent])

    assert images.shape == (1, 1, 2, 3) and np.isnan(images).all()
    with pytest.raises(ValueError, match="no image of the column could be read"):
        ImageLoader(on_error="missing").fit_transform([absent])


def test_absent_cell_is_an_error_whatever_on_error():
    with pytest.raises(ValueError, match=r"row 1 holds no image"):
        ImageLoader(on_error="missing").fit_transform([np.zeros((2, 2)), None])
    with pytest.raises(TypeError, match=r"row 0 holds a int"):
        ImageLoader().fit_transform([3])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": (3, 0)}, "'size' parameter"),
        ({"size": (3, 4, 5)}, "'size' parameter"),
        ({"dicom_window": (40, -1)}, "'dicom_window' parameter"),
        ({"dicom_window": (40, 0.5)}, "'dicom_window' parameter"),
        ({"dicom_window": "brain"}, "'dicom_window' parameter"),
        ({"color": "cmyk"}, "'color' parameter"),
        ({"nifti_slice": -1}, "'nifti_slice' parameter"),
    ],
)
def test_invalid_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        ImageLoader(**params).fit([np.zeros((2, 2))])


def test_missing_nibabel_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nibabel", None)

    with pytest.raises(ImportError, match=r"nibabel.*polymodal\[image\]"):
        ImageLoader().fit_transform([str(tmp_path / "ct.nii.gz")])


def test_union_marks_none_and_missing_file_absent(tmp_path, pngs):
    frame = pd.DataFrame(
        {"ct": [pngs[0], None, str(tmp_path / "absent.png"), pngs[1]], "age": 1.0}
    )
    union = MultimodalUnion(
        [("ct", ImageLoader(size=8, on_error="missing"), "ct")], remainder="drop"
    )

    with pytest.warns(RowFailureWarning):
        blocks = union.fit_transform(frame)

    assert blocks["ct"].shape == (4, 1, 8, 8)
    np.testing.assert_array_equal(blocks.masks["ct"], [True, False, False, True])


def test_joblib_round_trip(tmp_path, pngs):
    loader = ImageLoader(size=4, dicom_window="lung").fit(pngs)
    joblib.dump(loader, tmp_path / "loader.joblib")
    restored = joblib.load(tmp_path / "loader.joblib")

    np.testing.assert_array_equal(restored.transform(pngs), loader.transform(pngs))
    assert clone(loader).get_params() == loader.get_params()


@pytest.mark.parametrize("image_format", ["png", "dicom"])
def test_make_patients_files_load(tmp_path, image_format):
    table, _ = make_patients(n_samples=10, as_files=tmp_path, image_format=image_format)
    paths = table["ct"].dropna()

    images = ImageLoader(size=8).fit_transform(paths)

    assert images.shape == (len(paths), 1, 8, 8)
    assert np.isfinite(images).all()
