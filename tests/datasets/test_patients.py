import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from polymodal.datasets import make_patients
from polymodal.image import ImageFeatures, ImageLoader

COLUMNS = ["patient_id", "ct", "note", "dna", "age", "sex", "pack_years"]
MODALITY_COLUMNS = {
    "ct": ["ct"],
    "note": ["note"],
    "dna": ["dna"],
    "clinical": ["age", "sex", "pack_years"],
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def present_modalities(X):
    """Bool frame (rows x modalities): True where any cell of the modality is set."""
    return pd.DataFrame(
        {
            modality: X[columns].notna().any(axis=1)
            for modality, columns in MODALITY_COLUMNS.items()
        }
    )


def assert_same_cohort(left, right):
    pd.testing.assert_frame_equal(left.drop(columns="ct"), right.drop(columns="ct"))
    for left_image, right_image in zip(left["ct"], right["ct"]):
        np.testing.assert_array_equal(left_image, right_image)


def test_columns_dtypes_and_shapes():
    X, y = make_patients(30, random_state=0)

    assert list(X.columns) == COLUMNS
    assert X.shape == (30, 7)
    assert list(X["patient_id"]) == [f"P{index:04d}" for index in range(1, 31)]
    for column in ["patient_id", "ct", "note", "dna", "sex"]:
        assert X[column].dtype == object
    assert X["age"].dtype == X["pack_years"].dtype == np.float64
    for image in X["ct"]:
        assert isinstance(image, np.ndarray)
        assert image.shape == (32, 32)
        assert image.dtype == np.float64
    assert all(isinstance(note, str) and note for note in X["note"])
    assert all(set(sequence) <= set("ACGTN") for sequence in X["dna"])
    assert set(X["sex"]) <= {"F", "M"}
    assert (X["pack_years"] >= 0).all()
    assert X["age"].between(30, 95).all()
    assert y.name == "diagnosis"
    assert y.dtype == np.int64
    assert set(y) <= {0, 1}
    assert X.index.equals(y.index)


def test_values_look_like_the_documented_cohort():
    X, y = make_patients(600, random_state=0)

    assert 0.4 <= y.mean() <= 0.6
    lengths = X["dna"].str.len()
    assert lengths.between(120, 260).all()
    assert lengths.median() <= 200
    assert 0.0 < X["dna"].str.contains("N").mean() < 0.1
    images = np.stack(X["ct"])
    assert images.min() >= -1024
    assert np.percentile(images, 1) < -900  # air and lung dominate the slice
    assert images.max() < 1000  # calcified nodules are the densest tissue
    assert 0.2 < (X["pack_years"] == 0).mean() < 0.8


def test_same_seed_same_cohort():
    X_first, y_first = make_patients(40, random_state=3)
    X_second, y_second = make_patients(40, random_state=np.random.RandomState(3))

    assert_same_cohort(X_first, X_second)
    pd.testing.assert_series_equal(y_first, y_second)


def test_other_seed_other_cohort():
    X_first, y_first = make_patients(40, random_state=0)
    X_second, y_second = make_patients(40, random_state=1)

    assert not X_first["dna"].equals(X_second["dna"])
    assert not np.array_equal(X_first["ct"][0], X_second["ct"][0])
    assert not y_first.equals(y_second)


def test_language_changes_only_the_notes():
    X_en, y_en = make_patients(40, language="en", random_state=0)
    X_zh, y_zh = make_patients(40, language="zh", random_state=0)

    assert_same_cohort(X_en.drop(columns="note"), X_zh.drop(columns="note"))
    pd.testing.assert_series_equal(y_en, y_zh)
    assert not X_en["note"].str.contains(CJK).any()


def test_image_size_changes_only_the_images():
    X_small, y_small = make_patients(20, image_size=16, random_state=0)
    X_large, y_large = make_patients(20, random_state=0)
    X_other, _ = make_patients(20, random_state=1)

    assert X_small["ct"][0].shape == (16, 16)
    pd.testing.assert_frame_equal(
        X_small.drop(columns="ct"), X_large.drop(columns="ct")
    )
    pd.testing.assert_series_equal(y_small, y_large)
    # The same anatomy at another resolution: the 8 x 8 summaries of the same
    # patients differ far less than those of other patients.
    loader = ImageLoader(size=8)
    small, large, other = (
        loader.fit_transform(X["ct"]) for X in (X_small, X_large, X_other)
    )
    assert np.abs(small - large).mean() < 0.6 * np.abs(other - large).mean()


def test_english_notes_carry_the_signal_on_negation():
    X, y = make_patients(300, random_state=0)
    notes = X["note"]

    # The symptom words appear in both classes, asserted or negated.
    assert notes[y == 1].str.contains("cough").all()
    assert notes[y == 0].str.contains("cough").all()
    negated_cough = notes.str.contains("No cough.", regex=False)
    assert negated_cough[y == 0].mean() > negated_cough[y == 1].mean() + 0.2
    assert notes.str.contains("Denies haemoptysis.", regex=False).any()
    assert notes.str.contains("Reports cough", regex=False).any()


def test_chinese_notes_carry_chinese_negation_cues():
    X, y = make_patients(300, language="zh", random_state=0)
    notes = X["note"]

    assert notes.str.contains(CJK).all()
    assert not notes.str.contains(r"[A-Za-z]").any()
    assert notes.str.contains("无").any()
    assert notes.str.contains("否认").any()
    negated_cough = notes.str.contains("无咳嗽", regex=False)
    assert negated_cough[y == 0].mean() > negated_cough[y == 1].mean() + 0.2
    assert notes.str.contains("否认咯血", regex=False).any()
    assert notes.str.contains("咳嗽三周", regex=False).any()


def test_dna_motifs_follow_the_label():
    X, y = make_patients(300, random_state=0)
    risk_copies = X["dna"].str.count("TATAAT")
    protective_copies = X["dna"].str.count("GGCGCC")

    assert risk_copies[y == 1].mean() > risk_copies[y == 0].mean()
    assert protective_copies[y == 1].mean() < protective_copies[y == 0].mean()


def test_missing_rates_are_roughly_honoured():
    rates = {"ct": 0.3, "note": 0.2, "dna": 0.1, "clinical": 0.25, "age": 0.1}

    X, _ = make_patients(2000, missing=rates, random_state=0)

    observed = X.isna().mean()
    assert observed["patient_id"] == 0
    assert observed["ct"] == pytest.approx(0.3, abs=0.04)
    assert observed["note"] == pytest.approx(0.2, abs=0.04)
    assert observed["dna"] == pytest.approx(0.1, abs=0.04)
    assert observed["sex"] == pytest.approx(0.25, abs=0.04)
    assert observed["pack_years"] == pytest.approx(0.25, abs=0.04)
    # age goes with "clinical" or on its own: 1 - 0.75 * 0.9.
    assert observed["age"] == pytest.approx(0.325, abs=0.04)


def test_missing_cells_are_none_or_nan():
    X, _ = make_patients(
        200,
        missing={"ct": 0.5, "note": 0.5, "dna": 0.5, "clinical": 0.5},
        random_state=0,
    )

    for column in ["ct", "note", "dna", "sex"]:
        absent = X[column][X[column].isna()]
        assert len(absent) > 0
        assert all(cell is None for cell in absent)
    assert X["age"].isna().any()
    assert X["pack_years"].isna().any()


def test_clinical_shorthand_removes_the_same_rows():
    X, _ = make_patients(200, missing={"clinical": 0.4}, random_state=0)

    absent = X[["age", "sex", "pack_years"]].isna()
    assert absent.any(axis=None)
    assert (absent.nunique(axis=1) == 1).all()
    assert X[["ct", "note", "dna"]].notna().all(axis=None)


@pytest.mark.parametrize("rate", [0.9, 1.0])
def test_a_row_never_loses_every_modality(rate):
    missing = dict.fromkeys(["ct", "note", "dna", "clinical"], rate)

    X, _ = make_patients(300, missing=missing, random_state=0)

    present = present_modalities(X)
    assert present.any(axis=1).all()
    if rate == 1.0:
        assert (present.sum(axis=1) == 1).all()


def test_missingness_keeps_the_present_cells():
    X_full, y_full = make_patients(100, random_state=0)
    X_missing, y_missing = make_patients(
        100, missing={"ct": 0.3, "note": 0.3, "sex": 0.3}, random_state=0
    )

    pd.testing.assert_series_equal(y_full, y_missing)
    for column in COLUMNS:
        for full, partial in zip(X_full[column], X_missing[column]):
            if column == "ct" and partial is not None:
                np.testing.assert_array_equal(full, partial)
            elif column != "ct" and not pd.isna(partial):
                assert full == partial


def test_missingness_is_deterministic():
    missing = {"ct": 0.3, "clinical": 0.3}

    X_first, _ = make_patients(100, missing=missing, random_state=5)
    X_second, _ = make_patients(100, missing=missing, random_state=5)

    pd.testing.assert_frame_equal(X_first.isna(), X_second.isna())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_samples": 0}, "n_samples must be an int >= 1; got 0"),
        ({"n_samples": 2.5}, "n_samples must be an int >= 1; got 2.5"),
        ({"n_samples": True}, "n_samples must be an int >= 1; got True"),
        ({"language": "fr"}, "language must be one of .*'fr'"),
        ({"image_format": "jpeg"}, "image_format must be one of .*'jpeg'"),
        ({"image_size": 4}, "image_size must be an int >= 8; got 4"),
        ({"missing": {"scan": 0.1}}, "unknown key 'scan'"),
        ({"missing": {"ct": 1.5}}, r"missing\['ct'\] must be a rate in \[0, 1\]"),
        ({"missing": {"age": -0.1}}, r"missing\['age'\] must be a rate"),
        ({"missing": {"note": float("nan")}}, r"missing\['note'\] must be a rate"),
        ({"missing": {"dna": "0.5"}}, r"missing\['dna'\] must be a rate"),
        ({"missing": [("ct", 0.1)]}, "missing must be None or a dict"),
    ],
)
def test_invalid_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        make_patients(**{"n_samples": 10, **arguments})


def test_png_files_round_trip(tmp_path):
    pytest.importorskip("PIL")
    X_arrays, _ = make_patients(12, random_state=0)
    X_files, _ = make_patients(12, as_files=tmp_path / "scans", random_state=0)

    paths = X_files["ct"]
    assert all(isinstance(path, str) and Path(path).is_file() for path in paths)
    assert [Path(path).name for path in paths] == [
        f"{patient_id}.png" for patient_id in X_files["patient_id"]
    ]
    pd.testing.assert_frame_equal(
        X_files.drop(columns="ct"), X_arrays.drop(columns="ct")
    )
    # PNG files hold the lung window in 8 bits: compare with the arrays put
    # through the same window, before rounding.
    windowed = [
        np.clip((image + 1000.0) / 1400.0, 0.0, 1.0) * 255.0 for image in X_arrays["ct"]
    ]
    loader = ImageLoader(size=8)
    np.testing.assert_allclose(
        loader.fit_transform(paths), loader.fit_transform(windowed), atol=0.5
    )


@pytest.mark.parametrize(
    ("image_format", "suffix", "tolerance"),
    # DICOM stores whole HU as integers; NIfTI stores float32 HU.
    [("dicom", ".dcm", 0.5), ("nifti", ".nii.gz", 1e-3)],
)
def test_volume_files_round_trip_in_hounsfield_units(
    tmp_path, image_format, suffix, tolerance
):
    pytest.importorskip("pydicom" if image_format == "dicom" else "nibabel")
    X_arrays, _ = make_patients(12, random_state=0)
    X_files, _ = make_patients(
        12, as_files=str(tmp_path), image_format=image_format, random_state=0
    )

    paths = X_files["ct"]
    assert all(path.endswith(suffix) and Path(path).is_file() for path in paths)
    expected = np.stack(X_arrays["ct"].to_list())[:, np.newaxis]
    np.testing.assert_allclose(
        ImageLoader().fit_transform(paths), expected, atol=tolerance
    )


@pytest.mark.parametrize("image_format", ["png", "dicom", "nifti"])
def test_written_files_are_reproducible(tmp_path, image_format):
    pytest.importorskip(
        {"png": "PIL", "dicom": "pydicom", "nifti": "nibabel"}[image_format]
    )
    X_first, _ = make_patients(
        3, as_files=tmp_path / "a", image_format=image_format, random_state=0
    )
    X_second, _ = make_patients(
        3, as_files=tmp_path / "b", image_format=image_format, random_state=0
    )

    for first, second in zip(X_first["ct"], X_second["ct"]):
        assert Path(first).read_bytes() == Path(second).read_bytes()


def test_absent_images_are_not_written(tmp_path):
    pytest.importorskip("PIL")
    X, _ = make_patients(40, missing={"ct": 0.5}, as_files=tmp_path, random_state=0)

    absent = X["ct"].isna()
    assert absent.any()
    assert all(cell is None for cell in X["ct"][absent])
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(Path(path).name for path in X["ct"][~absent])


@pytest.mark.parametrize(
    ("image_format", "modules"),
    [("png", ["PIL", "PIL.Image"]), ("dicom", ["pydicom"]), ("nifti", ["nibabel"])],
)
def test_missing_image_library_names_the_extra(
    monkeypatch, tmp_path, image_format, modules
):
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)

    with pytest.raises(ImportError, match=r'pip install "polymodal\[image\]"'):
        make_patients(5, as_files=tmp_path, image_format=image_format)


def cross_validated_auroc(X, y, transformers):
    model = make_pipeline(
        ColumnTransformer(transformers), RandomForestClassifier(random_state=0)
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean()


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_modality_alone_but_all_together_predict_the_diagnosis(language):
    X, y = make_patients(600, language=language, random_state=0)
    if language == "en":
        note_vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2)
    else:
        note_vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2)
    transformers = [
        (
            "ct",
            make_pipeline(ImageLoader(), ImageFeatures(("first_order", "glcm", "lbp"))),
            "ct",
        ),
        ("note", note_vectorizer, "note"),
        (
            "dna",
            CountVectorizer(analyzer="char", ngram_range=(4, 4), lowercase=False),
            "dna",
        ),
        (
            "clinical",
            ColumnTransformer(
                [
                    ("numbers", "passthrough", ["age", "pack_years"]),
                    ("sex", OneHotEncoder(), ["sex"]),
                ]
            ),
            ["age", "sex", "pack_years"],
        ),
    ]

    for transformer in transformers:
        assert 0.55 < cross_validated_auroc(X, y, [transformer]) <= 0.80
    assert cross_validated_auroc(X, y, transformers) >= 0.88
