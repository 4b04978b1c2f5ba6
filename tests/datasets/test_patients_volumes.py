"""make_patients(volumes=True): CT volumes with lesion masks, as DICOM series or NIfTI."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from polymodal.datasets import make_patients, make_patients_union
from polymodal.image import ImageLoader

pytest.importorskip("SimpleITK")
pydicom = pytest.importorskip("pydicom")
nibabel = pytest.importorskip("nibabel")

FORMATS = ["dicom-series", "nifti"]
SHAPE = (24, 32, 32)
SPACING = (4.0, 3.0, 3.0)  # (dz, dy, dx) in mm
HU_RANGE = (-1024.0, 3071.0)


def read(X, **loader_parameters):
    loader = ImageLoader(volume=True, **loader_parameters)
    return loader.fit_transform(X[["ct", "lesion"]])


@pytest.fixture(scope="module", params=FORMATS)
def cohort(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    X, y = make_patients(
        8, volumes=True, as_files=folder, image_format=request.param, random_state=0
    )
    return request.param, X, y


def test_columns_and_file_layout(cohort):
    image_format, X, _ = cohort

    assert list(X.columns) == [
        "patient_id", "ct", "lesion", "note", "dna", "age", "sex", "pack_years"
    ]  # fmt: skip
    assert X["ct"].dtype == X["lesion"].dtype == object
    for patient_id, image, mask in zip(X["patient_id"], X["ct"], X["lesion"]):
        assert Path(mask).name == "lesion.nii.gz"
        assert Path(image).parent == Path(mask).parent
        assert Path(image).parent.name == patient_id
        if image_format == "dicom-series":
            assert Path(image).is_dir()
            assert sorted(p.name for p in Path(image).iterdir())[:2] == [
                "CT0001.dcm",
                "CT0002.dcm",
            ]
            assert len(list(Path(image).iterdir())) == SHAPE[0]
        else:
            assert Path(image).name == "ct.nii.gz" and Path(image).is_file()


def test_volumes_read_back_in_hounsfield_units_with_the_lesion_in_the_mask(cohort):
    _, X, _ = cohort

    block = read(X)

    assert block.shape == (8, 2, *SHAPE)
    images, masks = block[:, 0], block[:, 1]
    assert HU_RANGE[0] <= images.min() and images.max() <= HU_RANGE[1]
    np.testing.assert_array_equal(images, np.round(images))  # whole HU
    assert np.percentile(images, 50) < -700  # mostly lung
    assert set(np.unique(masks)) == {0.0, 1.0}
    for image, mask in zip(images, masks > 0):
        assert 1 <= mask.sum() < 0.2 * mask.size
        # The nodule is denser than the lung around it.
        around = image[~mask & (image < -500)]
        assert np.median(image[mask]) > np.median(around) + 100


def test_both_formats_read_to_the_same_volumes(tmp_path):
    blocks = [
        read(
            make_patients(
                4, volumes=True, as_files=tmp_path / fmt, image_format=fmt,
                random_state=3,
            )[0]
        )
        for fmt in FORMATS
    ]  # fmt: skip

    np.testing.assert_array_equal(blocks[0], blocks[1])


def test_geometry_is_read_back(cohort):
    image_format, X, _ = cohort

    # Resampled to isotropic 4 mm voxels: the 96 mm cube becomes 24 voxels.
    assert read(X.iloc[:2], spacing=4.0).shape == (2, 2, 24, 24, 24)
    # The volume's own spacing, as SimpleITK reads it (x, y, z).
    import SimpleITK as sitk

    if image_format == "dicom-series":
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(X["ct"][0]))
        image = reader.Execute()
    else:
        image = sitk.ReadImage(X["ct"][0])
    mask = sitk.ReadImage(X["lesion"][0])
    for volume in (image, mask):
        np.testing.assert_allclose(volume.GetSpacing(), SPACING[::-1], atol=1e-4)
        assert volume.GetSize() == SHAPE[::-1]
    np.testing.assert_allclose(image.GetOrigin(), mask.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(image.GetDirection(), np.eye(3).ravel(), atol=1e-6)


def test_dicom_slices_carry_the_geometry_tags(tmp_path):
    X, _ = make_patients(
        2, volumes=True, as_files=tmp_path, image_format="dicom-series", random_state=0
    )

    series = [
        [pydicom.dcmread(path) for path in sorted(Path(folder).iterdir())]
        for folder in X["ct"]
    ]
    assert series[0][0].SeriesInstanceUID != series[1][0].SeriesInstanceUID
    slices = series[0]
    assert len({ds.SeriesInstanceUID for ds in slices}) == 1
    assert len({ds.SOPInstanceUID for ds in slices}) == len(slices) == SHAPE[0]
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in slices])
    np.testing.assert_allclose(np.diff(positions[:, 2]), SPACING[0])
    np.testing.assert_allclose(np.diff(positions[:, :2], axis=0), 0.0)
    for ds in slices:
        assert ds.Modality == "CT"
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.PixelSpacing] == list(SPACING[1:])
        assert float(ds.SliceThickness) == float(ds.SpacingBetweenSlices) == 4.0
        assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, -1024.0)
        assert (ds.Rows, ds.Columns) == SHAPE[1:]
    # The NIfTI mask has the series' geometry: its first voxel sits at the
    # first slice's position (RAS negates x and y).
    affine = nibabel.load(X["lesion"][0]).affine
    np.testing.assert_allclose(affine[:3, 3] * [-1, -1, 1], positions[0], atol=1e-4)
    np.testing.assert_allclose(np.abs(np.diag(affine)[:3]), SPACING[::-1])


def test_same_seed_same_files_and_other_columns_as_2d(tmp_path):
    first, y_first = make_patients(
        6, volumes=True, as_files=tmp_path / "a", image_format="nifti", random_state=5
    )
    second, y_second = make_patients(
        6, volumes=True, as_files=tmp_path / "b", image_format="nifti", random_state=5
    )
    flat, y_flat = make_patients(6, random_state=5)

    np.testing.assert_array_equal(read(first), read(second))
    pd.testing.assert_series_equal(y_first, y_second)
    pd.testing.assert_series_equal(y_first, y_flat)
    pd.testing.assert_frame_equal(
        first.drop(columns=["ct", "lesion"]), flat.drop(columns="ct")
    )
    other, _ = make_patients(
        6, volumes=True, as_files=tmp_path / "c", image_format="nifti", random_state=6
    )
    assert not np.array_equal(read(first), read(other))


def test_missing_volumes_are_not_written_and_keep_the_others(tmp_path):
    full, _ = make_patients(
        20, volumes=True, as_files=tmp_path / "full", random_state=0
    )
    gappy, _ = make_patients(
        20,
        volumes=True,
        as_files=tmp_path / "gappy",
        missing={"ct": 0.4},
        random_state=0,
    )

    absent = gappy["ct"].isna()
    assert absent.any() and not absent.all()
    assert gappy["lesion"].isna().equals(absent)
    written = {path.name for path in (tmp_path / "gappy").iterdir()}
    assert written == set(gappy.loc[~absent, "patient_id"])
    np.testing.assert_array_equal(read(gappy[~absent]), read(full[~absent]))


def test_image_size_changes_only_the_resolution(tmp_path):
    X_small, _ = make_patients(
        6, volumes=True, as_files=tmp_path / "s", image_size=16, random_state=0
    )
    X_large, _ = make_patients(6, volumes=True, as_files=tmp_path / "l", random_state=0)

    small, large = read(X_small), read(X_large)

    assert small.shape == (6, 2, 12, 16, 16)
    # The lesions have the same volume in mm^3, up to the coarser voxels.
    small_volume = small[:, 1].sum(axis=(1, 2, 3)) * (8.0 * 6.0 * 6.0)
    large_volume = large[:, 1].sum(axis=(1, 2, 3)) * np.prod(SPACING)
    assert np.corrcoef(small_volume, large_volume)[0, 1] > 0.9


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"volumes": True}, "volumes=True writes files: pass as_files"),
        (
            {"volumes": True, "as_files": "x", "image_format": "png"},
            r"image_format must be one of \('dicom-series', 'nifti'\) with "
            "volumes=True; got 'png'",
        ),
        (
            {"image_format": "dicom-series"},
            "image_format must be one of .* with volumes=False; got 'dicom-series'",
        ),
    ],
)
def test_invalid_volume_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        make_patients(5, **arguments)


def test_union_reads_volumes_and_masks(cohort):
    _, X, y = cohort

    blocks = make_patients_union(volumes=True).fit_transform(X, y)

    assert blocks.names == ("ct", "note", "dna", "clinical")
    assert blocks["ct"].shape == (8, 56)
    names = list(blocks.feature_names["ct"])
    assert "original_shape_MeshVolume" in names
    assert "original_glcm_Contrast" in names
    deep = make_patients_union(deep=True, volumes=True).fit_transform(X, y)
    # The volume (3 mm isotropic voxels over the 96 mm field) and its mask.
    assert deep["ct"].shape == (8, 2, 32, 32, 32)


@pytest.mark.slow
def test_ct_alone_is_weak_but_fusion_is_strong(tmp_path):
    X, y = make_patients(
        600, volumes=True, as_files=tmp_path, image_format="nifti", random_state=0
    )
    slots = make_patients_union(volumes=True).transformers
    folds = StratifiedKFold(5, shuffle=True, random_state=0)

    def auroc(transformers):
        model = make_pipeline(
            ColumnTransformer(transformers), RandomForestClassifier(random_state=0)
        )
        return cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean()

    assert 0.55 < auroc([slots[0]]) <= 0.80
    assert auroc(slots) >= 0.88
