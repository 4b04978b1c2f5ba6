"""DICOM pixel values against pydicom's own Modality and VOI LUT functions.

polymodal reads DICOM files through ``pydicom.pixels.apply_modality_lut`` and
``apply_voi_lut``; these tests hold the values it returns to what pydicom
computes from the same file, on the real CT and MR files that pydicom ships
(:func:`polymodal.datasets.load_dicom_samples`) and on written files that
exercise the other VOI LUT functions and a Modality LUT Sequence.
"""

import numpy as np
import pytest

from polymodal.image import ImageLoader
from polymodal.image._io import read_image_file
from polymodal.image._loader import _WINDOWS

from .image_files import write_dicom

pydicom = pytest.importorskip("pydicom")
try:
    import pydicom.pixels as pixels
except ImportError:  # pydicom < 3
    import pydicom.pixel_data_handlers.util as pixels


def _sample_paths():
    from polymodal.datasets import load_dicom_samples

    return list(load_dicom_samples().frame["image"])


SAMPLES = _sample_paths()
SAMPLE_IDS = [path.rsplit("/", 1)[-1] for path in SAMPLES]


def _pydicom_values(path):
    dataset = pydicom.dcmread(path)
    return pixels.apply_modality_lut(dataset.pixel_array, dataset)


def _pydicom_windowed(path, center, width):
    """pydicom's VOI LUT of the file with the window put in, scaled to [0, 1].

    pydicom maps a window onto the range of the file's stored values (after
    its rescale); windowing a value far below and one far above the window
    gives that range's ends.
    """
    dataset = pydicom.dcmread(path)
    dataset.WindowCenter, dataset.WindowWidth = center, width
    if "VOILUTSequence" in dataset:
        del dataset.VOILUTSequence
    values = pixels.apply_modality_lut(dataset.pixel_array, dataset)
    windowed = pixels.apply_voi_lut(values, dataset)
    with np.errstate(over="ignore"):  # SIGMOID: exp(4e9 / width) is inf, y is 0
        low, high = pixels.apply_voi_lut(np.array([-1e9, 1e9]), dataset)
    return (windowed - low) / (high - low)


def _windows(path):
    """The named windows, and the file's own first window where it has one."""
    windows = dict(_WINDOWS)
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    if "WindowCenter" in dataset:
        first = [
            value[0] if dataset[keyword].VM > 1 else value
            for keyword, value in (
                ("WindowCenter", dataset.WindowCenter),
                ("WindowWidth", dataset.WindowWidth),
            )
        ]
        windows["file"] = tuple(float(value) for value in first)
    return windows


@pytest.mark.parametrize("path", SAMPLES, ids=SAMPLE_IDS)
def test_sample_values_are_pydicoms_modality_lut(path):
    # CT_small.dcm: slope 1, intercept -1024 to Hounsfield units; the MR files
    # have no rescale and keep their stored values.
    expected = _pydicom_values(path)

    values = read_image_file(path, label=0)
    loaded = ImageLoader().fit_transform([path])

    assert values.dtype == np.float64
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(loaded[0, 0], expected.astype(np.float32))


@pytest.mark.parametrize("path", SAMPLES, ids=SAMPLE_IDS)
def test_sample_windows_are_pydicoms_voi_lut(path):
    for name, (center, width) in _windows(path).items():
        expected = _pydicom_windowed(path, center, width)

        windowed = read_image_file(path, label=0, window=(center, width))
        loaded = ImageLoader(dicom_window=(center, width)).fit_transform([path])

        np.testing.assert_allclose(windowed, expected, rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(loaded[0, 0], expected, rtol=0, atol=1e-7)
        if name in _WINDOWS:
            named = ImageLoader(dicom_window=name).fit_transform([path])
            np.testing.assert_array_equal(named, loaded)


def test_ct_sample_window_is_dicom_linear_not_the_former_exact_formula():
    # Before pydicom did the windowing, it was (x - (c - w/2)) / w, clipped: DICOM's
    # LINEAR_EXACT, where a file that names no VOI LUT Function is LINEAR.
    # The two differ by at most 1 / w (0.0025 for the mediastinum window).
    path = SAMPLES[SAMPLE_IDS.index("CT_small.dcm")]
    center, width = _WINDOWS["mediastinum"]
    hounsfield = read_image_file(path, label=0)
    former = np.clip((hounsfield - (center - width / 2)) / width, 0.0, 1.0)

    windowed = read_image_file(path, label=0, window=(center, width))

    difference = np.abs(windowed - former)
    assert 0 < difference.max() <= 1 / width + 1e-12


@pytest.mark.parametrize("function", [None, "LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_window_follows_the_files_voi_lut_function(tmp_path, function):
    # Stored 0 .. 4095 with intercept -1024: -1024 .. 3071 HU.
    stored = np.arange(4096).reshape(64, 64)
    extra = {} if function is None else {"VOILUTFunction": function}
    path = write_dicom(tmp_path / "ct.dcm", stored, intercept=-1024.0, **extra)

    for center, width in [(40.0, 400.0), (-600.0, 1500.0), (0.0, 1.0)]:
        if function == "SIGMOID" and width == 1.0:
            continue  # overflows exp in pydicom too; not a useful window
        expected = _pydicom_windowed(path, center, width)
        windowed = read_image_file(path, label=0, window=(center, width))
        np.testing.assert_allclose(windowed, expected, rtol=0, atol=1e-12)
        assert windowed.min() >= 0 and windowed.max() <= 1


def test_linear_window_edges_by_hand(tmp_path):
    # LINEAR (PS3.3 C.11.2.1.2.1) for c = 40, w = 400: x <= c - 0.5 - (w-1)/2
    # = -160 gives 0, x > c - 0.5 + (w-1)/2 = 239 gives 1, and between
    # ((x - (c - 0.5)) / (w - 1) + 0.5).
    hounsfield = np.array([[-161, -160, -159], [40, 239, 240]])
    path = write_dicom(tmp_path / "ct.dcm", hounsfield + 1024, intercept=-1024.0)

    windowed = read_image_file(path, label=0, window=(40, 400))

    between = (np.array([-159.0, 40.0]) - 39.5) / 399 + 0.5
    np.testing.assert_allclose(
        windowed, [[0, 0, between[0]], [between[1], 1, 1]], rtol=0, atol=1e-15
    )


def test_modality_lut_sequence_is_applied(tmp_path):
    # A Modality LUT Sequence instead of a rescale: stored values index a
    # table (first mapped value 2), values below map to its first entry and
    # values past its end to its last.
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor = [4, 2, 16]
    item.ModalityLUTType = "HU"
    item.LUTData = np.array([100, 200, 300, 400], dtype="<u2").tobytes()
    stored = np.array([[0, 2, 3], [4, 5, 9]])
    path = write_dicom(
        tmp_path / "lut.dcm", stored, slope=None, ModalityLUTSequence=[item]
    )

    values = read_image_file(path, label=0)

    np.testing.assert_array_equal(values, [[100, 100, 200], [300, 400, 400]])
    np.testing.assert_array_equal(values, _pydicom_values(path))
