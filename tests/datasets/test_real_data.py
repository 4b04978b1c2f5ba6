import sys

import numpy as np
import pandas as pd
import pytest

from polymodal import MultimodalUnion
from polymodal.datasets import load_breast_cancer_multiomics, load_dicom_samples
from polymodal.image import ImageLoader


@pytest.fixture(scope="module")
def cohort():
    pytest.importorskip("sksurv")
    return load_breast_cancer_multiomics()


def test_breast_cancer_bunch_splits_clinical_and_genes(cohort):
    assert cohort.data.shape == (198, 80)
    assert cohort.modalities["clinical"] == ["age", "er", "grade", "size"]
    assert len(cohort.modalities["genes"]) == 76
    assert (
        cohort.feature_names
        == cohort.modalities["clinical"] + cohort.modalities["genes"]
    )
    assert list(cohort.data.columns) == cohort.feature_names
    assert not cohort.data.isna().any().any()
    assert "GSE7390" in cohort.DESCR and "Licence" in cohort.DESCR


def test_breast_cancer_targets_agree(cohort):
    # 51 of 198 patients (25.8%) had a distant metastasis: binary and survival agree.
    assert cohort.target.name == "metastasis"
    assert cohort.target.sum() == 51
    np.testing.assert_array_equal(cohort.target.to_numpy(), cohort.survival["event"])
    assert cohort.survival.dtype.names == ("event", "time")
    assert (cohort.survival["time"] > 0).all()
    np.testing.assert_array_equal(cohort.frame["metastasis"], cohort.target)
    np.testing.assert_array_equal(cohort.frame["time"], cohort.survival["time"])
    assert list(cohort.target_names) == ["no metastasis", "metastasis"]


def test_breast_cancer_categories_are_kept_and_unknown_grade_named(cohort):
    assert cohort.data["er"].value_counts().to_dict() == {
        "positive": 134,
        "negative": 64,
    }
    grades = cohort.data["grade"].value_counts()
    assert grades["unknown"] == 2
    assert grades.sum() == 198


def test_breast_cancer_arrays_code_categories():
    pytest.importorskip("sksurv")
    frame_cohort = load_breast_cancer_multiomics()
    data, target = load_breast_cancer_multiomics(return_X_y=True, as_frame=False)
    assert data.dtype == float and data.shape == (198, 80)
    assert isinstance(target, np.ndarray) and target.sum() == 51
    er = np.where(frame_cohort.data["er"] == "positive", 1.0, 0.0)
    np.testing.assert_array_equal(data[:, 1], er)
    unknown = (frame_cohort.data["grade"] == "unknown").to_numpy()
    assert np.isnan(data[unknown, 2]).all()
    assert set(data[~unknown, 2]) == {1.0, 2.0, 3.0}
    np.testing.assert_array_equal(data[:, 4:], frame_cohort.data.iloc[:, 4:].to_numpy())
    assert load_breast_cancer_multiomics(as_frame=False).frame is None


def test_breast_cancer_return_X_y_frames(cohort):
    data, target = load_breast_cancer_multiomics(return_X_y=True)
    pd.testing.assert_frame_equal(data, cohort.data)
    pd.testing.assert_series_equal(target, cohort.target)


def test_breast_cancer_without_scikit_survival_names_the_extra(monkeypatch):
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "sksurv.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "polymodal\[survival\]"'):
        load_breast_cancer_multiomics()


def test_dicom_samples_are_read_by_the_image_loader():
    pytest.importorskip("pydicom")
    samples = load_dicom_samples()
    assert list(samples.frame["modality"]) == ["CT", "MR", "MR"]
    images = ImageLoader().fit_transform(samples.frame["image"].iloc[[0]])
    assert images.shape == (1, 1, 128, 128)
    # CT_small stores raw values with a rescale to Hounsfield units: air is far below 0.
    assert images.min() < -500
    union = MultimodalUnion(
        [("scan", ImageLoader(size=16, dicom_window="lung"), "image")]
    )
    blocks = union.fit_transform(samples.frame)
    assert blocks["scan"].shape == (3, 1, 16, 16)
    assert blocks.masks["scan"].all()
    assert blocks["scan"].min() >= 0.0 and blocks["scan"].max() <= 1.0


def test_dicom_samples_waveform():
    pytest.importorskip("pydicom")
    samples = load_dicom_samples()
    assert samples.waveform.shape == (10000, 12)
    assert samples.sampling_frequency == 1000.0
    assert samples.waveform_channels[1] == "Lead II"
    assert np.isfinite(samples.waveform).all()
    # Millivolt-range ECG deflections, stored in microvolts.
    assert 100 < np.abs(samples.waveform).max() < 10_000
