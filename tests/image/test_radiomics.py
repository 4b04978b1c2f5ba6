"""Radiomics features of ImageFeatures: volumes, masks, names and analytic shapes."""

import joblib
import numpy as np
import pytest

from polymodal.image import ImageFeatures
from polymodal.image._radiomics import CLASSES, feature_names, radiomics_features

pytest.importorskip("skimage")


def _sphere(radius, spacing=(1.0, 1.0, 1.0), supersample=1):
    """A sphere's mask: binary, or each voxel's fraction inside (supersampled)."""
    side = [int(np.ceil(2 * radius / step)) + 4 for step in spacing]
    fine = [n * supersample for n in side]
    grid = np.indices(fine, dtype=np.float64)
    distance = sum(
        (((axis + 0.5) / supersample - n / 2) * step) ** 2
        for axis, n, step in zip(grid, side, spacing)
    )
    inside = (distance <= radius**2).astype(np.float64)
    return inside.reshape(
        side[0], supersample, side[1], supersample, side[2], supersample
    ).mean(axis=(1, 3, 5))


def _shape(mask, spacing=(1.0, 1.0, 1.0)):
    values = radiomics_features(np.zeros(mask.shape), mask, spacing, ["shape"])
    return dict(zip(feature_names(["shape"], 3), values))


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 0.8, 0.8)])
def test_sphere_volume_matches_the_analytic_volume(spacing):
    radius = 10.0
    shape = _shape(_sphere(radius, spacing) >= 0.5, spacing)
    volume = 4 / 3 * np.pi * radius**3

    assert shape["original_shape_MeshVolume"] == pytest.approx(volume, rel=0.02)
    assert shape["original_shape_VoxelVolume"] == pytest.approx(volume, rel=0.02)
    # The mesh's vertices lie half a voxel from the voxel centres.
    diameter = shape["original_shape_Maximum3DDiameter"]
    assert abs(diameter - 2 * radius) <= max(spacing)
    assert shape["original_shape_Elongation"] == pytest.approx(1.0, abs=0.02)


def test_sphere_surface_matches_the_analytic_surface_with_a_partial_volume_mask():
    radius = 10.0
    partial = _sphere(radius, supersample=4)
    smooth = _shape(partial)
    staircase = _shape(partial >= 0.5)
    surface, volume = 4 * np.pi * radius**2, 4 / 3 * np.pi * radius**3

    assert smooth["original_shape_SurfaceArea"] == pytest.approx(surface, rel=0.02)
    assert smooth["original_shape_MeshVolume"] == pytest.approx(volume, rel=0.02)
    assert smooth["original_shape_Sphericity"] == pytest.approx(1.0, rel=0.02)
    # The binary mask's staircase mesh (pyradiomics' mesh) overestimates the
    # surface of a sphere by about 9%, at any resolution: a property of the
    # mesh, documented, not of the implementation.
    ratio = staircase["original_shape_SurfaceArea"] / surface
    assert 1.05 < ratio < 1.12


def test_circle_area_and_perimeter_in_2d():
    radius = 15.0
    mask = _sphere(radius, supersample=4)[int(np.ceil(radius)) + 2]
    values = radiomics_features(np.zeros(mask.shape), mask, (1.0, 1.0), ["shape"])
    shape = dict(zip(feature_names(["shape"], 2), values))

    assert shape["original_shape2D_MeshSurface"] == pytest.approx(
        np.pi * radius**2, rel=0.02
    )
    assert shape["original_shape2D_Perimeter"] == pytest.approx(
        2 * np.pi * radius, rel=0.02
    )


def _block(n=3, seed=0, side=(10, 14, 12)):
    rng = np.random.default_rng(seed)
    block = np.zeros((n, 2, *side))
    block[:, 0] = rng.normal(100, 30, size=(n, *side))
    grid = np.indices(side)
    centre = (np.array(side) - 1) / 2
    for row in range(n):
        radius = 3 + row
        block[row, 1] = sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2
    return block


def test_mask_channel_computes_inside_the_mask_from_the_other_channel():
    block = _block()
    transformer = ImageFeatures(mask_channel=-1, spacing=(2.0, 1.0, 1.0))

    out = transformer.fit_transform(block)
    names = list(transformer.get_feature_names_out())

    assert names == feature_names(CLASSES, 3)
    for row in range(len(block)):
        expected = radiomics_features(block[row, 0], block[row, 1] > 0, (2.0, 1.0, 1.0))
        np.testing.assert_allclose(out[row], expected)
    # The mean is the region's, not the whole volume's.
    mean = out[:, names.index("original_firstorder_Mean")]
    np.testing.assert_allclose(
        mean, [block[r, 0][block[r, 1] > 0].mean() for r in range(len(block))]
    )


def test_mask_channel_may_be_any_channel():
    block = _block()
    moved = block[:, ::-1]

    last = ImageFeatures(mask_channel=-1).fit_transform(block)
    first = ImageFeatures(mask_channel=0).fit_transform(moved)

    np.testing.assert_array_equal(first, last)


def test_whole_image_is_the_region_without_a_mask_channel():
    block = _block()[:, :1]

    out = ImageFeatures("radiomics").fit_transform(block)

    expected = radiomics_features(block[0, 0], np.ones(block.shape[2:]), (1, 1, 1))
    np.testing.assert_allclose(out[0], expected)


def test_several_image_channels_get_channel_prefixes_and_one_shape():
    block = _block()
    two = np.concatenate([block[:, :1], 2 * block[:, :1], block[:, 1:]], axis=1)
    transformer = ImageFeatures(
        ["original_shape", "original_firstorder"], mask_channel=-1
    )

    out = transformer.fit_transform(two)
    names = list(transformer.get_feature_names_out())

    assert names[:14] == feature_names(["shape"], 3)
    assert names[14] == "c0_original_firstorder_10Percentile"
    assert names[14 + 18] == "c1_original_firstorder_10Percentile"
    np.testing.assert_allclose(out[:, 14 + 18], 2 * out[:, 14])


def test_classes_select_columns_and_bin_count_changes_only_discretised_ones():
    block = _block()
    every = ImageFeatures(mask_channel=-1).fit(block)
    glcm = ImageFeatures(["original_glcm"], mask_channel=-1).fit(block)
    every_names = list(every.get_feature_names_out())

    columns = [every_names.index(name) for name in glcm.get_feature_names_out()]
    np.testing.assert_array_equal(
        glcm.transform(block), every.transform(block)[:, columns]
    )

    counted = ImageFeatures(mask_channel=-1, bin_count=8).fit_transform(block)
    changed = {
        every_names[i]
        for i in np.flatnonzero(~np.isclose(counted, every.transform(block)).all(0))
    }
    assert "original_firstorder_Entropy" in changed
    assert not any(name.startswith("original_shape") for name in changed)
    assert "original_firstorder_Mean" not in changed


def test_2d_block_with_a_mask_gets_shape2d_features():
    block = _block()[:, :, 5]

    transformer = ImageFeatures(mask_channel=-1, spacing=0.5).fit(block)
    names = transformer.get_feature_names_out()

    assert names[0] == "original_shape2D_Elongation"
    out = transformer.transform(block)
    area = out[:, list(names).index("original_shape2D_PixelSurface")]
    np.testing.assert_allclose(area, block[:, 1].sum(axis=(1, 2)) * 0.25)


def test_default_features_follow_the_block():
    images = np.random.default_rng(0).random((2, 1, 16, 16))
    volumes = np.random.default_rng(0).random((2, 1, 6, 8, 8))

    flat = ImageFeatures(pixels_per_cell=8, cells_per_block=2).fit(images)
    deep = ImageFeatures().fit(volumes)

    assert flat.get_feature_names_out()[0] == "first_order_mean"
    assert deep.get_feature_names_out()[0] == "original_shape_Elongation"


def test_absent_rows_give_nan_rows():
    block = _block()
    block[1] = np.nan

    out = ImageFeatures(mask_channel=-1).fit_transform(block)

    assert np.isnan(out[1]).all()
    assert np.isfinite(out[[0, 2]]).all()


def test_empty_mask_names_the_rows():
    block = _block()
    block[2, 1] = 0

    with pytest.raises(ValueError, match=r"rows \[?2\]?.*empty mask"):
        ImageFeatures(mask_channel=-1).fit(block)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"features": ["glcm"], "mask_channel": -1}, "whole 2-D image"),
        ({"features": "hog"}, "whole 2-D image"),
        ({"mask_channel": 2}, "mask_channel"),
        ({"spacing": (1.0, 2.0)}, "spacing"),
        ({"spacing": (1.0, -2.0, 1.0)}, "spacing"),
        ({"bin_width": 0}, "bin_width"),
        ({"bin_count": 0}, "bin_count"),
        ({"features": ["original_wavelet"]}, "features"),
    ],
)
def test_invalid_parameters_for_volumes(params, message):
    with pytest.raises(ValueError, match=message):
        ImageFeatures(**params).fit(_block())


def test_fitted_on_volumes_refuses_slices():
    transformer = ImageFeatures(mask_channel=-1).fit(_block())

    with pytest.raises(ValueError, match="3-D images"):
        transformer.transform(_block()[:, :, 0])


def test_parallel_rows_equal_serial_and_joblib_round_trip(tmp_path):
    block = _block(4)
    serial = ImageFeatures(mask_channel=-1).fit(block)
    parallel = ImageFeatures(mask_channel=-1, n_jobs=2).fit(block)

    np.testing.assert_array_equal(parallel.transform(block), serial.transform(block))
    joblib.dump(serial, tmp_path / "features.joblib")
    loaded = joblib.load(tmp_path / "features.joblib")
    np.testing.assert_array_equal(loaded.transform(block), serial.transform(block))


def test_pyradiomics_backend_computes_pyradiomics_classes_only():
    with pytest.raises(ValueError, match="pyradiomics' classes only"):
        ImageFeatures(["first_order"], backend="pyradiomics").fit(_block()[:, :1, 0])


def test_pyradiomics_backend_without_pyradiomics_says_how_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "radiomics", None)

    with pytest.raises(ImportError, match="no-build-isolation pyradiomics"):
        ImageFeatures(mask_channel=-1, backend="pyradiomics").fit(_block())
