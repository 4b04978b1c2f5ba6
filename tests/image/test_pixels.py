import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from image_files import write_dicom, write_png
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from polymodal.image._pixels import DownsampledPixels


@pytest.fixture
def images():
    rng = np.random.RandomState(0)
    return [rng.normal(size=(32, 32)) for _ in range(5)]


def object_array(cells):
    """A 1-D object array holding one image per cell."""
    column = np.empty(len(cells), dtype=object)
    for index, cell in enumerate(cells):
        column[index] = cell
    return column


def test_block_average_of_divisible_image():
    image = np.arange(32 * 32, dtype=float).reshape(32, 32)
    expected = image.reshape(8, 4, 8, 4).mean(axis=(1, 3)).ravel()

    pixels = DownsampledPixels().fit_transform([image])

    np.testing.assert_allclose(pixels[0], expected)


def test_area_average_of_non_divisible_image():
    image = np.array([[0.0, 3.0, 6.0], [0.0, 3.0, 6.0], [0.0, 3.0, 6.0]])

    pixels = DownsampledPixels(size=2).fit_transform([image])

    # Output column 0 covers input columns 0 and half of 1: (0 + 0.5 * 3) / 1.5.
    np.testing.assert_allclose(pixels[0], [1.0, 5.0, 1.0, 5.0])


def test_small_image_is_enlarged_by_replication():
    image = np.array([[1.0, 2.0], [3.0, 4.0]])

    pixels = DownsampledPixels(size=4).fit_transform([image])

    expected = np.kron(image, np.ones((2, 2))).ravel()
    np.testing.assert_allclose(pixels[0], expected)


def test_images_of_different_shapes_share_the_output_width():
    column = [np.ones((32, 32)), np.full((20, 28), 2.0), np.full((5, 9), 3.0)]

    pixels = DownsampledPixels(size=4).fit_transform(column)

    assert pixels.shape == (3, 16)
    np.testing.assert_allclose(pixels, [[1.0] * 16, [2.0] * 16, [3.0] * 16])


def test_output_type_shape_and_names(images):
    featurizer = DownsampledPixels(size=6).fit(images)
    pixels = featurizer.transform(images)

    assert pixels.dtype == np.float64
    assert pixels.shape == (5, 36)
    assert featurizer.n_features_in_ == 1
    names = featurizer.get_feature_names_out()
    assert list(names) == [f"pixel_{index}" for index in range(36)]
    assert names.dtype == object


@pytest.mark.parametrize(
    "make_column",
    [
        list,
        lambda cells: pd.Series(cells, index=range(10, 10 + len(cells))),
        lambda cells: object_array(cells),
        lambda cells: pd.DataFrame({"ct": cells}),
        lambda cells: object_array(cells).reshape(-1, 1),
    ],
    ids=["list", "series", "object-array", "frame", "object-column"],
)
def test_column_containers_give_the_same_features(images, make_column):
    expected = DownsampledPixels().fit_transform(images)

    pixels = DownsampledPixels().fit_transform(make_column(images))

    np.testing.assert_array_equal(pixels, expected)


def test_singleton_channel_axis_is_dropped(images):
    with_channel = [image[np.newaxis] for image in images]

    np.testing.assert_array_equal(
        DownsampledPixels().fit_transform(with_channel),
        DownsampledPixels().fit_transform(images),
    )


def test_reads_grayscale_and_colour_png(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 3
    paths = [
        write_png(tmp_path / "gray.png", gray),
        write_png(tmp_path / "colour.png", gray, mode="RGB"),
    ]

    pixels = DownsampledPixels(size=8).fit_transform(paths)

    np.testing.assert_array_equal(pixels[0], gray.ravel().astype(float))
    np.testing.assert_array_equal(pixels[1], gray.ravel().astype(float))


def test_reads_dicom_applying_rescale(tmp_path):
    stored = np.arange(64).reshape(8, 8) * 10
    path = write_dicom(tmp_path / "slice.dcm", stored, slope=2, intercept=-100)

    pixels = DownsampledPixels(size=8).fit_transform([path])

    np.testing.assert_allclose(pixels[0], stored.ravel() * 2.0 - 100.0)


def test_accepts_path_objects(tmp_path):
    path = tmp_path / "gray.png"
    write_png(path, np.full((8, 8), 7, dtype=np.uint8))

    pixels = DownsampledPixels(size=2).fit_transform([path])

    np.testing.assert_array_equal(pixels, np.full((1, 4), 7.0))


def test_unreadable_file_names_row_and_path(tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not an image")
    column = pd.Series([np.ones((8, 8)), str(corrupt)], index=["a", "b"])

    with pytest.raises(ValueError, match=r"Row b: cannot read .*corrupt\.png"):
        DownsampledPixels().fit_transform(column)


@pytest.mark.parametrize("name", ["missing.png", "missing.dcm"])
def test_missing_file_names_row_and_path(tmp_path, name):
    path = str(tmp_path / name)

    with pytest.raises(ValueError, match=rf"Row 1: cannot read .*{name}"):
        DownsampledPixels().fit_transform([np.ones((8, 8)), path])


@pytest.mark.parametrize("absent", [None, np.nan, pd.NA])
def test_absent_image_is_an_error(absent):
    with pytest.raises(ValueError, match="Row 1 holds no image"):
        DownsampledPixels().fit_transform([np.ones((8, 8)), absent])


def test_image_that_is_not_2d_is_an_error():
    with pytest.raises(ValueError, match=r"Row 0 holds an image of shape \(3, 8, 8\)"):
        DownsampledPixels().fit_transform([np.ones((3, 8, 8))])


def test_non_numeric_array_is_an_error():
    with pytest.raises(ValueError, match="Row 0 holds an array that is not numeric"):
        DownsampledPixels().fit_transform([np.array([["a", "b"], ["c", "d"]])])


def test_cell_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="Row 0 holds a int"):
        DownsampledPixels().fit_transform([3])


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pd.DataFrame({"a": [1], "b": [2]}), "one column of images"),
        (np.zeros((4, 8, 8)), "1-D column"),
        (np.zeros((4, 2), dtype=object), "1-D column"),
    ],
)
def test_input_that_is_not_one_column_is_an_error(column, message):
    with pytest.raises(ValueError, match=message):
        DownsampledPixels().fit(column)


def test_single_path_is_a_type_error():
    with pytest.raises(TypeError, match="Wrap it in a list"):
        DownsampledPixels().fit("scan.png")


def test_empty_column_is_an_error():
    with pytest.raises(ValueError, match="0 sample"):
        DownsampledPixels().fit([])


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "8"])
def test_invalid_size_is_an_error(images, size):
    with pytest.raises(ValueError, match="'size' parameter"):
        DownsampledPixels(size=size).fit(images)


def test_not_fitted(images):
    featurizer = DownsampledPixels()

    with pytest.raises(NotFittedError):
        featurizer.transform(images)
    with pytest.raises(NotFittedError):
        featurizer.get_feature_names_out()


def test_missing_pillow_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)

    with pytest.raises(ImportError, match=r"polymodal\[image\]"):
        DownsampledPixels().fit_transform([str(tmp_path / "scan.png")])


def test_missing_pydicom_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pydicom", None)

    with pytest.raises(ImportError, match=r"polymodal\[image\]"):
        DownsampledPixels().fit_transform([str(tmp_path / "scan.dcm")])


def test_pandas_output(images):
    featurizer = DownsampledPixels(size=2).set_output(transform="pandas")

    frame = featurizer.fit_transform(pd.Series(images, index=range(5, 10)))

    assert list(frame.columns) == ["pixel_0", "pixel_1", "pixel_2", "pixel_3"]


def test_clone_pickle_and_pipeline(images):
    pipeline = make_pipeline(DownsampledPixels(size=4), PCA(n_components=2))
    expected = pipeline.fit_transform(images)

    restored = pickle.loads(pickle.dumps(pipeline))

    np.testing.assert_allclose(restored.transform(images), expected)
    assert clone(pipeline).get_params()["downsampledpixels__size"] == 4
