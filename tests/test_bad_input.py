"""A catalogue of bad inputs a user can produce, one case per row.

polymodal holds clinical data: it must never silently drop or alter a patient's
row, and never crash with an internal traceback on input a user can produce.

``ERROR_CASES`` lists inputs that must raise a clear error: each row is
``(trigger, exception type, pattern)``, where ``trigger(tmp_path)`` provokes the
error and the pattern says the message names the modality, column, row or
parameter at fault. ``POLICY_CASES`` lists inputs that a documented policy
handles (an empty note is an absent modality, an invalid SMILES under
``on_error="missing"`` an absent row, ...): each trigger asserts the policy's
result itself.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning, RowFailureWarning
from polymodal.fusion import (
    AverageFusion,
    ConcatFusion,
    FactorizationFusion,
    KernelFusion,
    LateFusionClassifier,
    LateFusionRegressor,
    ProductFusion,
    StackingFusionClassifier,
    SubspaceFusion,
    TensorFusion,
)
from polymodal.image import ImageFeatures, ImageLoader, ImagePreprocessor
from polymodal.sequence import KmerVectorizer, OneHotSequenceEncoder
from polymodal.text import ClinicalTextVectorizer

# -- small inputs ---------------------------------------------------------------

Y8 = np.array([0, 1, 0, 1, 0, 1, 0, 1])


def _blocks(nan_row=None, inf_row=None, mask_lab=None):
    """Eight rows, two modalities: 'lab' (3 named columns) and 'gene' (2)."""
    rng = np.random.default_rng(0)
    lab = rng.normal(size=(8, 3))
    gene = rng.normal(size=(8, 2))
    if nan_row is not None:
        lab[nan_row, 1] = np.nan
    if inf_row is not None:
        lab[inf_row, 2] = np.inf
    return ModalityBlocks(
        {"lab": lab, "gene": gene},
        masks=None if mask_lab is None else {"lab": mask_lab},
        feature_names={"lab": ["crp", "wbc", "ldh"]},
    )


def _table():
    return pd.DataFrame(
        {
            "note": ["cough", "fever", "no cough", "fatigue", "cough", "fever"],
            "age": [61.0, 54, 70, 45, 66, 58],
            "pack_years": [20.0, 35, 0, 5, 40, 12],
        }
    )


def _union(**kwargs):
    return MultimodalUnion(
        [
            ("note", TfidfVectorizer(), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ],
        **kwargs,
    )


def _png(path, pixels=None):
    Image = pytest.importorskip("PIL.Image")

    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) if pixels is None else pixels
    Image.fromarray(pixels).save(path, format="PNG")
    return str(path)


def _truncated_png(tmp_path):
    path = tmp_path / "truncated.png"
    full = _png(
        tmp_path / "full.png",
        np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8),
    )
    data = Path(full).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def _noise_png(tmp_path):
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(0).bytes(256))
    return str(path)


def _text_dcm(tmp_path):
    path = tmp_path / "report.dcm"
    path.write_text("Findings: no nodule.\n")
    return str(path)


def _png_as_dcm(tmp_path):
    path = tmp_path / "scan.dcm"
    path.write_bytes(Path(_png(tmp_path / "scan.png")).read_bytes())
    return str(path)


def _rgb_dcm(tmp_path, name="photo.dcm", pixels=True):
    """A valid DICOM whose pixel data are RGB (a secondary-capture photo)."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        SecondaryCaptureImageStorage,
        generate_uid,
    )

    path = tmp_path / name
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = 4, 4
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if pixels:
        ds.PixelData = np.zeros((4, 4, 3), dtype=np.uint8).tobytes()
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return str(path)


def _good_png(tmp_path):
    return _png(tmp_path / "good.png")


def _load(path_of):
    """ImageLoader on a good image then the bad one: the error names row 1."""

    def trigger(tmp_path):
        ImageLoader().fit_transform([_good_png(tmp_path), path_of(tmp_path)])

    return trigger


def _fitted(estimator, X=None, y=Y8):
    return estimator.fit(_blocks() if X is None else X, y)


def _mlp(**kwargs):
    pytest.importorskip("skorch")
    from polymodal.deep import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(4,), max_epochs=1, random_state=0, **kwargs
    )


def _deep_fusion(**kwargs):
    pytest.importorskip("skorch")
    from polymodal.deep import DeepFusionClassifier

    return DeepFusionClassifier(
        embedding_dim=4, hidden_layer_sizes=(4,), max_epochs=1, random_state=0, **kwargs
    )


def _morgan(**kwargs):
    pytest.importorskip("rdkit")
    from polymodal.molecule import MorganFingerprint

    kwargs.setdefault("n_bits", 16)
    return MorganFingerprint(**kwargs)


def _duplicate_columns(tmp_path):
    X = _table()
    X.insert(2, "age_dup", X["age"])
    X.columns = ["note", "age", "age", "pack_years"]
    _union().fit(X)


def _missing_column_at_predict(tmp_path):
    union = _union().fit(_table())
    union.transform(_table().drop(columns=["age"]))


def _wrong_width_at_predict(tmp_path):
    fusion = ConcatFusion().fit(_blocks())
    narrower = ModalityBlocks({"lab": np.zeros((2, 2)), "gene": np.zeros((2, 2))})
    fusion.transform(narrower)


def _modality_missing_at_predict(tmp_path):
    fusion = ConcatFusion().fit(_blocks())
    fusion.transform(_blocks().select(["lab"]))


def _array_to_blocks_estimator(tmp_path):
    fusion = ConcatFusion().fit(_blocks())
    fusion.transform(np.zeros((2, 5)))


def _string_in_numeric_column(tmp_path):
    X = _table()
    X["age"] = X["age"].astype(object)
    X.loc[3, "age"] = "forty-five"
    _union().fit(X)


def _note_holds_number(tmp_path):
    X = _table()
    X["note"] = X["note"].astype(object)
    X.loc[2, "note"] = 42
    MultimodalUnion([("note", ClinicalTextVectorizer(), "note")]).fit(X)


def _absent_everywhere(tmp_path):
    X = _table()
    X["note"] = [None, "", "  ", np.nan, None, pd.NA]
    _union().fit(X)


def _image_column(tmp_path, bad):
    good = _good_png(tmp_path)
    return pd.DataFrame(
        {"ct": [good, good, bad(tmp_path), good], "age": [1.0, 2, 3, 4]}
    )


def _corrupt_image_in_union(tmp_path):
    X = _image_column(tmp_path, _noise_png)
    MultimodalUnion([("ct", ImageLoader(), "ct")]).fit(X)


def _dicom_without_pixels(tmp_path):
    return _rgb_dcm(tmp_path, name="empty.dcm", pixels=False)


def _string_at_predict(tmp_path):
    union = _union().fit(_table())
    X = _table()
    X["pack_years"] = X["pack_years"].astype(object)
    X.loc[4, "pack_years"] = "n/a"
    union.transform(X)


def _inf_in_union(tmp_path):
    X = _table()
    X.loc[1, "pack_years"] = np.inf
    _union().fit(X)


def _nan_into_pca(tmp_path):
    from sklearn.decomposition import PCA

    X = _table()
    X.loc[2, "age"] = np.nan
    MultimodalUnion([("clinical", PCA(n_components=1), ["age", "pack_years"])]).fit(X)


def _datetime_column(tmp_path):
    X = _table()
    X["age"] = pd.date_range("1960-01-01", periods=6)
    _union().fit(X)


def _unseen_category(tmp_path):
    from sklearn.preprocessing import OneHotEncoder

    union = MultimodalUnion([("sex", OneHotEncoder(), ["sex"])])
    union.fit(pd.DataFrame({"sex": ["F", "M", "F"]}))
    union.transform(pd.DataFrame({"sex": ["F", "M", "X"]}))


def _misaligned_dict_series(tmp_path):
    _union().fit(
        {
            "age": pd.Series([61.0, 54, 70], index=[0, 1, 2]),
            "note": pd.Series(["cough", "fever", "fatigue"], index=[10, 11, 12]),
            "pack_years": [20.0, 35, 0],
        }
    )


def _cnn():
    pytest.importorskip("torch")
    from polymodal.image import CNNEmbedder

    return CNNEmbedder(random_state=0)


def _compare(y, X=None, heads=None):
    from polymodal.model_selection import compare_fusions

    return compare_fusions(
        MultimodalUnion([("clinical", StandardScaler(), ["age", "pack_years"])]),
        _table() if X is None else X,
        y,
        fusions=[ConcatFusion()],
        heads=heads or [LogisticRegression()],
        cv=2,
    )


def _read_fasta(content):
    def trigger(tmp_path):
        from polymodal.sequence import read_fasta

        path = tmp_path / "reads.fa"
        path.write_bytes(content)
        read_fasta(path)

    return trigger


def _images_with_nan_pixel():
    images = np.random.default_rng(0).random((3, 1, 16, 16)).astype(np.float32)
    images[1, 0, 3, 3] = np.nan
    return images


def _make_patients(**kwargs):
    from polymodal.datasets import make_patients

    return make_patients(n_samples=10, random_state=0, **kwargs)


def _importance(estimator):
    from polymodal.inspection import modality_importance

    return modality_importance(estimator, _blocks(), Y8, cv=2)


def _fit_late(y, X=None, estimator=None):
    def trigger(tmp_path):
        est = LateFusionClassifier(estimator or LogisticRegression(), cv=2)
        est.fit(_blocks() if X is None else X, y)

    return trigger


ERROR_CASES = [
    # -- image files ---------------------------------------------------------
    pytest.param(
        _load(_truncated_png),
        ValueError,
        r"Row 1\b.*truncated\.png",
        id="image-truncated-png",
    ),
    pytest.param(
        _load(_noise_png),
        ValueError,
        r"Row 1\b.*noise\.png",
        id="image-random-bytes-named-png",
    ),
    pytest.param(
        _load(_text_dcm),
        ValueError,
        r"Row 1\b.*report\.dcm",
        id="image-text-file-named-dcm",
    ),
    pytest.param(
        _load(_png_as_dcm),
        ValueError,
        r"Row 1\b.*scan\.dcm",
        id="image-png-where-dicom-expected",
    ),
    pytest.param(
        _load(lambda p: str(p / "nowhere.png")),
        ValueError,
        r"Row 1\b.*nowhere\.png",
        id="image-missing-file",
    ),
    pytest.param(
        _load(lambda p: ""),
        ValueError,
        r"Row 1\b.*''",
        id="image-empty-path-called-directly",
    ),
    pytest.param(
        _load(lambda p: str(p)),
        ValueError,
        r"Row 1\b.*[Dd]irectory",
        id="image-directory-as-path",
    ),
    pytest.param(
        _load(_dicom_without_pixels),
        ValueError,
        r"Row 1\b.*empty\.dcm.*no pixel data",
        id="image-dicom-without-pixel-data",
    ),
    pytest.param(
        lambda p: ImageLoader().fit_transform([np.zeros((4, 4)), np.zeros((5, 5))]),
        ValueError,
        r"row 1\b.*shape.*size=",
        id="image-arrays-of-different-shapes",
    ),
    pytest.param(
        lambda p: ImageLoader().fit_transform(
            [np.zeros((4, 4)), np.zeros((4, 4, 5, 2))]
        ),
        ValueError,
        r"row 1\b.*shape \(4, 4, 5, 2\)",
        id="image-array-wrong-channels",
    ),
    pytest.param(
        lambda p: ImageLoader().fit_transform([np.zeros((4, 4)), np.full((4, 4), "x")]),
        ValueError,
        r"row 1\b.*not numeric",
        id="image-array-of-strings",
    ),
    pytest.param(
        lambda p: ImageLoader().fit_transform([np.zeros((4, 4)), 3.5]),
        TypeError,
        r"row 1\b.*float",
        id="image-number-instead-of-path",
    ),
    pytest.param(
        _corrupt_image_in_union,
        ValueError,
        r"Row 2\b.*noise\.png",
        id="union-corrupt-image-row",
    ),
    pytest.param(
        lambda p: ImagePreprocessor(size=4).fit_transform(np.zeros((2, 8, 8))),
        ValueError,
        r"ImagePreprocessor.*\(n_samples, C, H, W\).*\(2, 8, 8\)",
        id="preprocessor-3d-input",
    ),
    pytest.param(
        lambda p: ImageFeatures(features="first_order").fit_transform(
            np.zeros((2, 8, 8))
        ),
        ValueError,
        r"ImageFeatures.*\(n_samples, C, H, W\).*\(2, 8, 8\)",
        id="image-features-3d-input",
    ),
    pytest.param(
        lambda p: ConcatFusion().fit(ModalityBlocks({"ct": np.zeros((3, 1, 4, 4))})),
        ValueError,
        r"Modality 'ct' is 4-D.*embedder",
        id="concat-image-block-without-embedder",
    ),
    # -- numeric blocks ------------------------------------------------------
    pytest.param(
        lambda p: ConcatFusion().fit(_blocks(inf_row=5)),
        ValueError,
        r"infinity in modality 'lab', column 'ldh', present rows \[5\]",
        id="concat-inf-in-present-row",
    ),
    pytest.param(
        lambda p: AverageFusion(n_components=2).fit(_blocks(nan_row=4)),
        ValueError,
        r"modality 'lab', column 'wbc', present rows \[4\].*imputer",
        id="average-nan-in-present-row",
    ),
    pytest.param(
        lambda p: KernelFusion().fit(_blocks(nan_row=6)),
        ValueError,
        r"modality 'lab', column 'wbc', present rows \[6\]",
        id="kernel-nan-in-present-row",
    ),
    pytest.param(
        lambda p: FactorizationFusion(n_factors=2).fit(_blocks(nan_row=1)),
        ValueError,
        r"modality 'lab', column 'wbc', present rows \[1\]",
        id="factorization-nan-in-present-row",
    ),
    pytest.param(
        lambda p: _fit_late(Y8, X=_blocks(nan_row=3))(p),
        ValueError,
        r"modality 'lab', column 'wbc', present rows \[3\]",
        id="late-nan-in-present-row",
    ),
    pytest.param(
        lambda p: AverageFusion(n_components=2).fit(
            _blocks(nan_row=2, mask_lab=[True] * 8)
        ),
        ValueError,
        r"modality 'lab'.*present rows \[2\]",
        id="mask-true-on-nan-row",
    ),
    pytest.param(
        lambda p: ConcatFusion().fit(
            ModalityBlocks({"note": np.array([["a"], ["b"]], dtype=object)})
        ),
        ValueError,
        r"Modality 'note' holds non-numeric",
        id="blocks-non-numeric-dtype",
    ),
    pytest.param(
        _string_in_numeric_column,
        ValueError,
        r"Modality 'clinical', column 'age', rows \[3\].*'forty-five'",
        id="union-string-in-numeric-column",
    ),
    pytest.param(
        _string_at_predict,
        ValueError,
        r"Modality 'clinical', column 'pack_years', rows \[4\].*'n/a'.*transform",
        id="union-string-in-numeric-column-at-predict",
    ),
    pytest.param(
        _inf_in_union,
        ValueError,
        r"Modality 'clinical', column 'pack_years', rows \[1\]: infinite",
        id="union-inf-in-numeric-column",
    ),
    pytest.param(
        _nan_into_pca,
        ValueError,
        r"Modality 'clinical', column 'age', rows \[2\]: NaN.*imputer",
        id="union-nan-into-transformer-without-nan-support",
    ),
    pytest.param(
        _datetime_column,
        ValueError,
        r"Modality 'clinical', column 'age', rows \[0, 1, 2, 3, 4\] \.\.\.: non-numeric",
        id="union-datetime-in-numeric-column",
    ),
    pytest.param(
        _unseen_category,
        ValueError,
        r"Modality 'sex', column 'sex', rows \[2\].*'X'",
        id="union-unseen-category-at-predict",
    ),
    pytest.param(
        _misaligned_dict_series,
        ValueError,
        r"'age' and 'note'.*different indexes",
        id="union-dict-of-series-with-different-indexes",
    ),
    pytest.param(
        lambda p: ConcatFusion().fit(
            ModalityBlocks({"lab": np.array([[1 + 2j], [3 + 0j]])})
        ),
        ValueError,
        r"Modality 'lab' holds non-numeric.*complex",
        id="blocks-complex-values",
    ),
    # -- text ------------------------------------------------------------------
    pytest.param(
        _note_holds_number, ValueError, r"row 2\b.*42", id="union-number-in-note-column"
    ),
    pytest.param(
        lambda p: ClinicalTextVectorizer().fit(["cough", "", "fever"]),
        ValueError,
        r"row 1\b.*empty",
        id="text-empty-note-called-directly",
    ),
    pytest.param(
        lambda p: MultimodalUnion([("note", ClinicalTextVectorizer(), "note")]).fit(
            pd.DataFrame({"note": ["...", "!!", "?"]})
        ),
        ValueError,
        r"ClinicalTextVectorizer learned no term from the 3 notes",
        id="text-notes-without-any-word",
    ),
    pytest.param(
        lambda p: ClinicalTextVectorizer().fit("no cough"),
        TypeError,
        r"single str",
        id="text-single-string-not-column",
    ),
    # -- molecules -------------------------------------------------------------
    pytest.param(
        lambda p: _morgan().fit_transform(["CCO", "C1CC", "c1ccccc1"]),
        ValueError,
        r"row 1\b.*C1CC",
        id="smiles-invalid-raises-naming-row",
    ),
    pytest.param(
        lambda p: _morgan().fit_transform(["CCO", "C(C)(C)(C)(C)C"]),
        ValueError,
        r"row 1\b.*'C\(C\)\(C\)\(C\)\(C\)C'.*valence",
        id="smiles-impossible-valence",
    ),
    pytest.param(
        lambda p: _morgan(on_error="missing").fit_transform(["CCO", None]),
        ValueError,
        r"row 1\b.*None",
        id="smiles-none-called-directly",
    ),
    # -- sequences -------------------------------------------------------------
    pytest.param(
        lambda p: KmerVectorizer(k=2).fit_transform(["ACGT", "ACGZT"]),
        ValueError,
        r"row 1\b.*'Z'.*position 4",
        id="kmer-non-alphabet-character",
    ),
    pytest.param(
        lambda p: OneHotSequenceEncoder().fit_transform(["ACGT", "AC-GT", "A"]),
        ValueError,
        r"row 1\b.*'-'.*position 3",
        id="onehot-non-alphabet-character",
    ),
    pytest.param(
        lambda p: KmerVectorizer(k=2, ambiguous="error").fit_transform(
            ["ACGT", "ACNT"]
        ),
        ValueError,
        r"row 1\b.*position 3",
        id="kmer-ambiguous-base-error",
    ),
    pytest.param(
        lambda p: KmerVectorizer(k=2).fit_transform(
            pd.Series(["ACGT", 7], index=["p1", "p2"])
        ),
        ValueError,
        r"row 'p2'",
        id="kmer-number-instead-of-sequence",
    ),
    pytest.param(
        lambda p: KmerVectorizer(k=2, alphabet="protein").fit_transform(["MKV1L"]),
        ValueError,
        r"row 0\b.*'1'",
        id="protein-digit-in-sequence",
    ),
    # -- ModalityBlocks --------------------------------------------------------
    pytest.param(
        lambda p: ModalityBlocks({"a": np.zeros((3, 2)), "b": np.zeros((4, 2))}),
        ValueError,
        r"Modality 'b' has 4 rows",
        id="blocks-different-row-counts",
    ),
    pytest.param(
        lambda p: ModalityBlocks({"a": np.zeros((3, 2))}, masks={"a": [True, False]}),
        ValueError,
        r"Modality 'a': mask has shape \(2,\)",
        id="blocks-mask-wrong-length",
    ),
    pytest.param(
        lambda p: ModalityBlocks(
            {"a": np.zeros((3, 2))}, masks={"a": ["yes", "no", "no"]}
        ),
        TypeError,
        r"Modality 'a'.*mask",
        id="blocks-mask-of-strings",
    ),
    pytest.param(
        lambda p: ModalityBlocks({"a": np.zeros((3, 2))}, masks={"a": [0, 1, 2]}),
        TypeError,
        r"Modality 'a'.*mask",
        id="blocks-mask-of-counts",
    ),
    pytest.param(
        lambda p: ModalityBlocks(
            {"a": np.zeros((3, 2))}, masks={"a": [True, None, True]}
        ),
        TypeError,
        r"Modality 'a'.*mask",
        id="blocks-mask-with-none",
    ),
    pytest.param(
        lambda p: ModalityBlocks({"a": np.zeros((3, 2))}, masks={"z": [True] * 3}),
        ValueError,
        r"modalities \['z'\]",
        id="blocks-mask-for-unknown-modality",
    ),
    pytest.param(
        lambda p: ModalityBlocks({"a": np.zeros(3)}),
        ValueError,
        r"Modality 'a'.*2 dimensions",
        id="blocks-1d-block",
    ),
    pytest.param(
        lambda p: ModalityBlocks({"a": np.zeros((3, 2))}, feature_names={"a": ["u"]}),
        ValueError,
        r"Modality 'a': 1 feature names for 2",
        id="blocks-feature-names-wrong-length",
    ),
    pytest.param(
        lambda p: _blocks()[3],
        TypeError,
        r"blocks\[\[i\]\]",
        id="blocks-single-int-row",
    ),
    pytest.param(
        lambda p: np.asarray(_blocks()), TypeError, r"fusion step", id="blocks-to-array"
    ),
    pytest.param(
        lambda p: ModalityBlocks([np.zeros((3, 2))]),
        TypeError,
        r"dict",
        id="blocks-list-not-dict",
    ),
    # -- the union and its table -------------------------------------------------
    pytest.param(
        _duplicate_columns,
        ValueError,
        # Which check fires first depends on the scikit-learn version; both name the columns.
        r"(?s)unique column names.*'age' 2 times|columns \['age', 'pack_years'\].*not unique",
        id="union-duplicate-columns",
    ),
    pytest.param(
        lambda p: MultimodalUnion(
            [("clinical", StandardScaler(), ["age", "weight"])]
        ).fit(_table()),
        ValueError,
        r"Modality 'clinical'.*weight",
        id="union-missing-column-at-fit",
    ),
    pytest.param(
        _missing_column_at_predict,
        ValueError,
        r"\['age'\].*missing.*\['clinical'\]",
        id="union-missing-column-at-predict",
    ),
    pytest.param(
        _absent_everywhere,
        ValueError,
        r"Modality 'note' is absent in every training row",
        id="union-modality-absent-everywhere",
    ),
    pytest.param(
        lambda p: _union().fit(["cough", "fever"]),
        ValueError,
        r"DataFrame.*shape \(2,\)",
        id="union-list-of-strings",
    ),
    pytest.param(
        lambda p: _union().fit(np.arange(5.0)),
        ValueError,
        r"DataFrame.*shape \(5,\)",
        id="union-1d-array",
    ),
    pytest.param(
        lambda p: _union().fit(_blocks()),
        TypeError,
        r"not ModalityBlocks",
        id="union-given-blocks",
    ),
    pytest.param(
        lambda p: _union().fit(
            {"note": ["a", "b"], "age": [1.0], "pack_years": [1.0, 2.0]}
        ),
        ValueError,
        r"different lengths.*'age': 1",
        id="union-dict-of-unequal-columns",
    ),
    pytest.param(
        lambda p: _union().fit(_table(), [0, 1, 0]),
        ValueError,
        r"X has 6 rows but y has 3",
        id="union-y-length-mismatch",
    ),
    pytest.param(
        lambda p: MultimodalUnion(
            [("a", StandardScaler(), ["age"]), ("a", StandardScaler(), ["pack_years"])]
        ).fit(_table()),
        ValueError,
        r"\['a'\] appear more than once",
        id="union-duplicate-modality-names",
    ),
    pytest.param(
        lambda p: MultimodalUnion([("clinical", LogisticRegression(), ["age"])]).fit(
            _table()
        ),
        TypeError,
        r"Modality 'clinical'.*not a transformer",
        id="union-head-as-transformer",
    ),
    # -- fusion inputs at predict ------------------------------------------------
    pytest.param(
        _wrong_width_at_predict,
        ValueError,
        r"Modality 'lab' has 2 features.*expecting 3",
        id="fusion-wrong-width-at-predict",
    ),
    pytest.param(
        _modality_missing_at_predict,
        ValueError,
        r"missing: \['gene'\]",
        id="fusion-modality-missing-at-predict",
    ),
    pytest.param(
        _array_to_blocks_estimator,
        TypeError,
        r"fitted on the modalities \['lab', 'gene'\]",
        id="fusion-array-after-blocks-fit",
    ),
    pytest.param(
        lambda p: ConcatFusion(weights={"scan": 2.0}).fit(_blocks()),
        ValueError,
        r"weights names modalities \['scan'\] that the blocks do not hold",
        id="concat-weights-unknown-modality",
    ),
    # -- parameters --------------------------------------------------------------
    pytest.param(
        lambda p: ConcatFusion(impute="median").fit(_blocks()),
        InvalidParameterError,
        r"'impute' parameter of ConcatFusion",
        id="param-concat-impute",
    ),
    pytest.param(
        lambda p: AverageFusion(n_components=0).fit(_blocks()),
        InvalidParameterError,
        r"'n_components' parameter of AverageFusion",
        id="param-average-n-components",
    ),
    pytest.param(
        lambda p: KernelFusion(kernels="banana").fit(_blocks()),
        InvalidParameterError,
        r"'kernels' parameter of KernelFusion",
        id="param-kernel-kernels",
    ),
    pytest.param(
        lambda p: SubspaceFusion(method="svd").fit(_blocks()),
        InvalidParameterError,
        r"'method' parameter of SubspaceFusion",
        id="param-subspace-method",
    ),
    pytest.param(
        lambda p: TensorFusion(max_features=0).fit(_blocks()),
        InvalidParameterError,
        r"'max_features' parameter of TensorFusion",
        id="param-tensor-max-features",
    ),
    pytest.param(
        lambda p: ProductFusion(projection="ica").fit(_blocks()),
        InvalidParameterError,
        r"'projection' parameter of ProductFusion",
        id="param-product-projection",
    ),
    pytest.param(
        lambda p: LateFusionClassifier(LogisticRegression(), combine="median").fit(
            _blocks(), Y8
        ),
        InvalidParameterError,
        r"'combine' parameter of LateFusionClassifier",
        id="param-late-combine",
    ),
    pytest.param(
        lambda p: ImageLoader(color="cmyk").fit(["a.png"]),
        InvalidParameterError,
        r"'color' parameter of ImageLoader",
        id="param-loader-color",
    ),
    pytest.param(
        lambda p: ImageLoader(size=(4, 0)).fit(["a.png"]),
        ValueError,
        r"'size' parameter of ImageLoader",
        id="param-loader-size-zero",
    ),
    pytest.param(
        lambda p: KmerVectorizer(k=0).fit(["ACGT"]),
        InvalidParameterError,
        r"'k' parameter of KmerVectorizer",
        id="param-kmer-k",
    ),
    pytest.param(
        lambda p: _morgan(n_bits=0).fit(["CCO"]),
        InvalidParameterError,
        r"'n_bits' parameter of MorganFingerprint",
        id="param-morgan-n-bits",
    ),
    pytest.param(
        lambda p: _union(on_error="ignore").fit(_table()),
        InvalidParameterError,
        r"'on_error' parameter of MultimodalUnion",
        id="param-union-on-error",
    ),
    pytest.param(
        lambda p: _mlp(dropout=1.5).fit(np.zeros((8, 2)), Y8),
        InvalidParameterError,
        r"'dropout' parameter of MLPClassifier",
        id="param-mlp-dropout",
    ),
    pytest.param(
        lambda p: _deep_fusion(fusion="sum").fit(_blocks(), Y8),
        InvalidParameterError,
        r"'fusion' parameter of DeepFusionClassifier",
        id="param-deep-fusion-fusion",
    ),
    # -- unfitted use ------------------------------------------------------------
    pytest.param(
        lambda p: ConcatFusion().transform(_blocks()),
        NotFittedError,
        r"ConcatFusion.*not fitted",
        id="unfitted-concat",
    ),
    pytest.param(
        lambda p: _union().transform(_table()),
        NotFittedError,
        r"MultimodalUnion.*not fitted",
        id="unfitted-union",
    ),
    pytest.param(
        lambda p: LateFusionClassifier(LogisticRegression()).predict(_blocks()),
        NotFittedError,
        r"LateFusionClassifier.*not fitted",
        id="unfitted-late",
    ),
    pytest.param(
        lambda p: _mlp().predict(np.zeros((2, 2))),
        NotFittedError,
        r"MLPClassifier.*not fitted",
        id="unfitted-mlp",
    ),
    pytest.param(
        lambda p: _deep_fusion().predict(_blocks()),
        NotFittedError,
        r"DeepFusionClassifier.*not fitted",
        id="unfitted-deep-fusion",
    ),
    # -- targets -----------------------------------------------------------------
    pytest.param(
        _fit_late(np.zeros(8, dtype=int)),
        ValueError,
        r"one class: 0",
        id="late-single-class-y",
    ),
    pytest.param(
        lambda p: StackingFusionClassifier(LogisticRegression(), cv=2).fit(
            _blocks(), np.ones(8, dtype=int)
        ),
        ValueError,
        r"one class: 1",
        id="stacking-single-class-y",
    ),
    pytest.param(
        lambda p: _mlp().fit(np.zeros((8, 2)), np.zeros(8, dtype=int)),
        ValueError,
        r"MLPClassifier needs samples of at least 2 classes.*got 1 class: \[0\]",
        id="mlp-single-class-y",
    ),
    pytest.param(
        lambda p: _deep_fusion().fit(_blocks(), np.ones(8, dtype=int)),
        ValueError,
        r"DeepFusionClassifier needs samples of at least 2 classes.*got 1 class: \[1\]",
        id="deep-fusion-single-class-y",
    ),
    pytest.param(
        _fit_late(np.array([0, 1, 0, 1, np.nan, 1, 0, 1])),
        ValueError,
        r"LateFusionClassifier: y is missing.*rows \[4\]",
        id="late-y-with-nan",
    ),
    pytest.param(
        _fit_late(np.array(["a", "b", None, "a", "b", "a", "b", "a"], dtype=object)),
        ValueError,
        r"LateFusionClassifier: y is missing.*rows \[2\]",
        id="late-y-with-none-label",
    ),
    pytest.param(
        lambda p: _deep_fusion().fit(
            _blocks(),
            np.array(["a", "b", None, "a", "b", "a", "b", None], dtype=object),
        ),
        ValueError,
        r"DeepFusionClassifier: y is missing.*rows \[2, 7\]",
        id="deep-fusion-y-with-none-label",
    ),
    pytest.param(
        lambda p: _mlp().fit(
            np.zeros((8, 2)),
            np.array(["a", "b", None, "a", "b", "a", "b", "a"], dtype=object),
        ),
        ValueError,
        r"MLPClassifier: y is missing.*rows \[2\]",
        id="mlp-y-with-none-label",
    ),
    pytest.param(
        lambda p: LateFusionRegressor(LinearRegression(), cv=2).fit(
            _blocks(), np.array([0.1, 1, 2, np.nan, 0, 1, 2, 3])
        ),
        ValueError,
        r"LateFusionRegressor: y is missing.*rows \[3\]",
        id="late-regressor-y-with-nan",
    ),
    pytest.param(
        _fit_late(Y8[:5]),
        ValueError,
        r"X has 8 rows but y has 5",
        id="late-y-length-mismatch",
    ),
    pytest.param(
        lambda p: AverageFusion(n_components=2, projection="pls").fit(
            _blocks(), Y8[:6]
        ),
        ValueError,
        r"X has 8 rows but y has 6",
        id="average-pls-y-length-mismatch",
    ),
    pytest.param(
        lambda p: _mlp().fit(np.zeros((8, 2)), Y8[:6]),
        ValueError,
        r"inconsistent numbers of samples: \[8, 6\]",
        id="mlp-y-length-mismatch",
    ),
    pytest.param(
        lambda p: _deep_fusion().fit(_blocks(), Y8[:6]),
        ValueError,
        r"inconsistent numbers of samples: \[8, 6\]",
        id="deep-fusion-y-length-mismatch",
    ),
    # -- more containers, files and parameters --------------------------------------
    pytest.param(
        lambda p: _blocks()[[2, 10]],
        IndexError,
        r"Rows \[10\] are out of range: the blocks hold 8 rows",
        id="blocks-row-index-out-of-range",
    ),
    pytest.param(
        _read_fasta(b"\x80\x81 not text \xff"),
        ValueError,
        r"reads\.fa: the file is not UTF-8 text",
        id="fasta-binary-file",
    ),
    pytest.param(
        _read_fasta(b"ACGT\n>r1\nACGT\n"),
        ValueError,
        r"reads\.fa, line 1: sequence data before the first '>' header",
        id="fasta-sequence-before-header",
    ),
    pytest.param(
        lambda p: ImagePreprocessor().fit_transform(_images_with_nan_pixel()),
        ValueError,
        r"ImagePreprocessor: rows \[1\] hold NaN or infinite pixels",
        id="preprocessor-nan-pixel-in-present-image",
    ),
    pytest.param(
        lambda p: ImageFeatures(features="first_order").fit_transform(
            _images_with_nan_pixel()
        ),
        ValueError,
        r"ImageFeatures: rows \[1\] hold NaN or infinite pixels",
        id="image-features-nan-pixel-in-present-image",
    ),
    pytest.param(
        lambda p: _cnn().fit_transform(_images_with_nan_pixel()),
        ValueError,
        r"CNNEmbedder: rows \[1\] hold NaN or infinite pixels",
        id="cnn-nan-pixel-in-present-image",
    ),
    pytest.param(
        lambda p: KernelFusion(weights={"lab": -1.0, "gene": 1.0}).fit(_blocks()),
        ValueError,
        r"weight of modality 'lab' must be a finite number >= 0; got -1\.0",
        id="kernel-negative-weight",
    ),
    pytest.param(
        lambda p: ConcatFusion(weights={"lab": float("nan")}).fit(_blocks()),
        ValueError,
        r"weight of modality 'lab' must be a finite number >= 0; got nan",
        id="concat-nan-weight",
    ),
    pytest.param(
        lambda p: AverageFusion(n_components=20).fit(_blocks()),
        ValueError,
        r"n_components=20 is more than the 8 present training rows of modality 'lab'",
        id="average-more-components-than-rows",
    ),
    pytest.param(
        lambda p: KmerVectorizer(canonical=True, alphabet="protein").fit(["MKV"]),
        ValueError,
        r"canonical=True.*'dna' or 'rna' only",
        id="kmer-canonical-protein",
    ),
    pytest.param(
        lambda p: _make_patients(missing={"mri": 0.2}),
        ValueError,
        r"missing has an unknown key 'mri'",
        id="make-patients-unknown-modality",
    ),
    pytest.param(
        lambda p: _importance(LateFusionClassifier(LogisticRegression(), cv=2)),
        TypeError,
        r"modality_importance takes a Pipeline whose first step is a MultimodalUnion",
        id="importance-without-union",
    ),
    pytest.param(
        lambda p: make_pipeline(_union(), LogisticRegression()).fit(_table(), Y8[:6]),
        TypeError,
        r"ModalityBlocks cannot be converted to one array: add a fusion step",
        id="pipeline-without-fusion-step",
    ),
    pytest.param(
        lambda p: _mlp().fit(_blocks(), Y8),
        TypeError,
        r"ModalityBlocks cannot be converted to one array: add a fusion step",
        id="mlp-head-given-blocks",
    ),
    pytest.param(
        lambda p: TensorFusion(n_components=4, max_features=10).fit(_blocks()),
        ValueError,
        r"TensorFusion would output 12 features.*max_features=10",
        id="tensor-too-many-features",
    ),
    pytest.param(
        lambda p: _deep_fusion(encoders={"mri": None}).fit(_blocks(), Y8),
        ValueError,
        r"encoders names modalities \['mri'\] that the blocks do not hold",
        id="deep-fusion-encoder-for-unknown-modality",
    ),
    pytest.param(
        lambda p: LateFusionClassifier(
            estimators=[("mri", LogisticRegression())], cv=2
        ).fit(_blocks(), Y8),
        ValueError,
        r"estimators names modalities \['mri'\] that the blocks do not hold",
        id="late-estimator-for-unknown-modality",
    ),
    pytest.param(
        lambda p: LateFusionClassifier(SVC(), cv=2).fit(_blocks(), Y8),
        ValueError,
        r"Modality 'lab': SVC has no predict_proba.*CalibratedClassifierCV",
        id="late-estimator-without-predict-proba",
    ),
    pytest.param(
        lambda p: KernelFusion(kernels={"lab": "banana"}).fit(_blocks()),
        ValueError,
        r"Unknown kernel 'banana' for modality 'lab'",
        id="kernel-unknown-kernel-for-modality",
    ),
    pytest.param(
        lambda p: _union(transformer_weights={"mri": 2.0}).fit(_table()),
        ValueError,
        r"transformer_weights names modalities \['mri'\]",
        id="union-weights-for-unknown-modality",
    ),
    pytest.param(
        lambda p: MultimodalUnion([("lab", "passthrough", [7])]).fit(_table()),
        ValueError,
        r"Modality 'lab': cannot select columns \[7\]",
        id="union-column-index-out-of-range",
    ),
    # -- deep heads and cross-validation -----------------------------------------
    pytest.param(
        lambda p: _deep_fusion().fit(_blocks(nan_row=5), Y8),
        ValueError,
        r"modality 'lab', column 'wbc', present rows \[5\]",
        id="deep-fusion-nan-in-present-row",
    ),
    pytest.param(
        lambda p: _deep_fusion().fit(
            ModalityBlocks({"ct": np.zeros((8, 1, 2, 2, 4, 4))}), Y8
        ),
        ValueError,
        r"Modality 'ct' has blocks of shape \(n, 1, 2, 2, 4, 4\), 6-D",
        id="deep-fusion-6d-block",
    ),
    pytest.param(
        lambda p: _cnn().fit_transform(np.zeros((2, 8, 8), dtype=np.float32)),
        ValueError,
        r"CNNEmbedder takes a block of images of shape \(n_samples, C, H, W\) or of "
        r"volumes \(n_samples, C, D, H, W\); got shape \(2, 8, 8\)",
        id="cnn-3d-input",
    ),
    pytest.param(
        lambda p: _compare(np.array([0, 1, 0, 1, 0, np.nan])),
        ValueError,
        r"compare_fusions: y is missing.*rows \[5\]",
        id="compare-fusions-y-with-nan",
    ),
    pytest.param(
        lambda p: _compare(np.array([0, 1, 0, 1, 0, 1]), heads=["logistic"]),
        TypeError,
        r"heads entry 'str' is 'logistic'",
        id="compare-fusions-head-as-string",
    ),
    pytest.param(
        lambda p: _compare(np.array([0, 1, 0, 1, 0, 1]), X=np.arange(6.0)),
        ValueError,
        r"compare_fusions takes the patient table.*shape \(6,\)",
        id="compare-fusions-1d-x",
    ),
]


@pytest.mark.parametrize(("trigger", "exception", "pattern"), ERROR_CASES)
def test_bad_input_raises_clear_error(tmp_path, trigger, exception, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exception, match=pattern):
            trigger(tmp_path)


# -- documented policies ----------------------------------------------------------


def _policy_blank_notes(tmp_path):
    X = _table()
    X.loc[1, "note"] = ""
    X.loc[4, "note"] = " \t\n"
    blocks = _union().fit_transform(X)
    assert blocks.masks["note"].tolist() == [True, False, True, True, False, True]
    assert blocks.masks["clinical"].all()
    assert blocks["note"][[1, 4]].nnz == 0  # sparse: absent rows are empty


def _policy_invalid_smiles_missing(tmp_path):
    _morgan()  # skip without RDKit
    X = pd.DataFrame(
        {"smiles": ["CCO", "C1CC", "c1ccccc1", "CC(=O)O"], "age": [1.0, 2, 3, 4]}
    )
    union = MultimodalUnion([("drug", _morgan(on_error="missing"), "smiles")])
    with pytest.warns(RowFailureWarning, match=r"Modality 'drug': rows \[1\]"):
        blocks = union.fit_transform(X)
    assert blocks.masks["drug"].tolist() == [True, False, True, True]
    assert len(blocks) == 4


def _policy_corrupt_image_missing(tmp_path):
    X = _image_column(tmp_path, _truncated_png)
    union = MultimodalUnion([("ct", ImageLoader(on_error="missing"), "ct")])
    with pytest.warns(RowFailureWarning, match=r"Modality 'ct': rows \[2\]"):
        blocks = union.fit_transform(X)
    assert blocks.masks["ct"].tolist() == [True, True, False, True]
    assert blocks["ct"].shape == (4, 1, 8, 8)


def _policy_union_on_error_missing(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    def fails_on_negative(X):
        X = np.asarray(X, dtype=float)
        if (X < 0).any():
            raise ValueError("negative value")
        return X

    union = MultimodalUnion(
        [("lab", FunctionTransformer(fails_on_negative), ["age"])], on_error="missing"
    )
    union.fit(_table())
    X = _table()
    X.loc[3, "age"] = -1.0
    with pytest.warns(RowFailureWarning, match=r"Modality 'lab': rows \[3\]"):
        blocks = union.transform(X)
    assert blocks.masks["lab"].tolist() == [True, True, True, False, True, True]


def _policy_extra_and_reordered_columns(tmp_path):
    union = _union().fit(_table())
    expected = union.transform(_table())
    X = _table()[["pack_years", "note", "age"]].assign(unseen=np.arange(6))
    got = union.transform(X)
    np.testing.assert_allclose(got["clinical"], expected["clinical"])
    np.testing.assert_allclose(got["note"].toarray(), expected["note"].toarray())


def _policy_concat_imputes_nan(tmp_path):
    fused = ConcatFusion().fit_transform(_blocks(nan_row=4))
    assert np.isfinite(fused).all()
    assert fused.shape[0] == 8


def _policy_concat_absent_at_predict(tmp_path):
    fusion = ConcatFusion().fit(_blocks())
    mask = np.array([True, False, True, True, True, True, True, True])
    fused = fusion.transform(_blocks(nan_row=1, mask_lab=mask))
    assert np.isfinite(fused).all() and fused.shape[0] == 8
    names = list(fusion.get_feature_names_out())
    assert fused[1, names.index("presence__lab")] == 0
    assert fused[0, names.index("presence__lab")] == 1


def _policy_no_modality_predicts_prior(tmp_path):
    late = LateFusionClassifier(LogisticRegression(), cv=2).fit(_blocks(), Y8)
    blocks = _blocks()
    none = np.array([False, False, True] + [False] * 5)
    lab = blocks["lab"].copy()
    gene = blocks["gene"].copy()
    lab[2] = gene[2] = np.nan
    empty_row = ModalityBlocks(
        {"lab": lab, "gene": gene},
        masks={"lab": ~none, "gene": ~none},
        feature_names={"lab": ["crp", "wbc", "ldh"]},
    )
    with pytest.warns(MissingModalityWarning, match=r"Rows \[2\]"):
        proba = late.predict_proba(empty_row)
    np.testing.assert_allclose(proba[2], [0.5, 0.5])


def _policy_ambiguous_bases_skipped(tmp_path):
    counts = KmerVectorizer(k=2).fit_transform(["ACNGT", "ACGT"]).toarray()
    assert counts[0].sum() == 2 and counts[1].sum() == 3


def _policy_all_nan_tabular_row_absent(tmp_path):
    X = _table()
    X.loc[2, ["age", "pack_years"]] = np.nan
    blocks = _union().fit_transform(X)
    assert blocks.masks["clinical"].tolist() == [True, True, False, True, True, True]
    assert blocks.masks["note"].all()


def _policy_partial_nan_tabular_row_kept(tmp_path):
    X = _table()
    X.loc[2, "age"] = np.nan
    blocks = _union().fit_transform(X)
    assert blocks.masks["clinical"].all()
    assert np.isnan(blocks["clinical"][2, 0]) and np.isfinite(blocks["clinical"][2, 1])


def _policy_blank_image_stays_present(tmp_path):
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"ct": [np.zeros((8, 8)), rng.random((8, 8)), rng.random((8, 8))]})
    union = MultimodalUnion(
        [("ct", make_pipeline(ImageLoader(), ImagePreprocessor()), "ct")]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RowFailureWarning)
        blocks = union.fit_transform(X)
    assert blocks.masks["ct"].all()
    assert (blocks["ct"][0] == 0).all()


def _policy_all_nan_image_is_absent(tmp_path):
    X = pd.DataFrame(
        {"ct": [np.full((4, 4), np.nan), np.ones((4, 4)), np.zeros((4, 4))]}
    )
    with pytest.warns(RowFailureWarning, match=r"Modality 'ct': rows \[0\]"):
        blocks = MultimodalUnion([("ct", ImageLoader(), "ct")]).fit_transform(X)
    assert blocks.masks["ct"].tolist() == [False, True, True]


def _policy_mask_of_zeros_and_ones(tmp_path):
    blocks = ModalityBlocks({"a": np.zeros((3, 2))}, masks={"a": [1, 0, 1]})
    assert blocks.masks["a"].dtype == bool
    assert blocks.masks["a"].tolist() == [True, False, True]


POLICY_CASES = [
    pytest.param(_policy_blank_image_stays_present, id="blank-image-stays-present"),
    pytest.param(_policy_all_nan_image_is_absent, id="all-nan-image-array-is-absent"),
    pytest.param(_policy_mask_of_zeros_and_ones, id="mask-of-zeros-and-ones-is-bool"),
    pytest.param(_policy_blank_notes, id="empty-and-whitespace-notes-are-absent"),
    pytest.param(
        _policy_invalid_smiles_missing, id="invalid-smiles-on-error-missing-is-absent"
    ),
    pytest.param(
        _policy_corrupt_image_missing, id="corrupt-image-on-error-missing-is-absent"
    ),
    pytest.param(
        _policy_union_on_error_missing, id="union-on-error-missing-wraps-third-party"
    ),
    pytest.param(
        _policy_extra_and_reordered_columns, id="extra-and-reordered-columns-at-predict"
    ),
    pytest.param(_policy_concat_imputes_nan, id="concat-imputes-nan-in-present-row"),
    pytest.param(
        _policy_concat_absent_at_predict, id="concat-modality-absent-only-at-predict"
    ),
    pytest.param(
        _policy_no_modality_predicts_prior, id="row-without-modality-predicts-prior"
    ),
    pytest.param(_policy_ambiguous_bases_skipped, id="ambiguous-bases-skipped"),
    pytest.param(
        _policy_all_nan_tabular_row_absent, id="all-nan-tabular-row-is-absent"
    ),
    pytest.param(
        _policy_partial_nan_tabular_row_kept, id="partial-nan-tabular-row-kept"
    ),
]


@pytest.mark.parametrize("check", POLICY_CASES)
def test_bad_input_follows_documented_policy(tmp_path, check):
    check(tmp_path)


def test_catalogue_size():
    assert len(ERROR_CASES) + len(POLICY_CASES) >= 40
    ids = [case.id for case in ERROR_CASES + POLICY_CASES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


# -- the command line: model files, tables and folds ------------------------------


def _cli_fails(argv, capsys):
    """Run the command line, expecting a user error; return its one-line message."""
    from polymodal.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("polymodal: ") and err.count("\n") == 1, err
    return err


def _cli_model(tmp_path, capsys):
    """`polymodal compare` on a small two-modality table: (model path, table)."""
    from polymodal.cli import main
    from polymodal.datasets import make_patients

    X, y = make_patients(n_samples=40, random_state=0)
    table = X[["patient_id", "age", "sex", "pack_years"]].assign(diagnosis=y)
    data = tmp_path / "cohort.csv"
    table.to_csv(data, index=False)
    config = tmp_path / "cohort.toml"
    config.write_text(
        'target = "diagnosis"\n'
        '[modalities.clinical]\ncolumns = ["age", "sex"]\ntransformer = "tabular"\n'
        '[modalities.smoking]\ncolumns = ["pack_years"]\ntransformer = "tabular"\n'
    )
    argv = ["compare", str(data), "--config", str(config), "-o", str(tmp_path)]
    assert main([*argv, "--cv", "2", "--fusions", "concat", "--heads", "logistic"]) == 0
    capsys.readouterr()
    return tmp_path / "model.polymodal", table


@pytest.mark.parametrize("named", ["builtins.eval", "os.system"])
def test_cli_refuses_a_model_file_whose_types_were_tampered_with(
    tmp_path, capsys, named
):
    import io as bytes_io
    import json
    import zipfile

    model, _ = _cli_model(tmp_path, capsys)
    with zipfile.ZipFile(model) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(bytes_io.BytesIO(members["estimator.skops"])) as payload:
        inner = {name: payload.read(name) for name in payload.namelist()}
    schema = json.loads(inner["schema.json"])
    # The file named the pipeline a trusted type; it now names a callable.
    assert (schema["__module__"], schema["__class__"]) == (
        "sklearn.pipeline",
        "Pipeline",
    )
    schema["__module__"], schema["__class__"] = named.rsplit(".", 1)
    inner["schema.json"] = json.dumps(schema).encode()
    buffer = bytes_io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as payload:
        for name, data in inner.items():
            payload.writestr(name, data)
    members["estimator.skops"] = buffer.getvalue()
    with zipfile.ZipFile(model, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = tmp_path / "cohort.csv"
    err = _cli_fails(["predict", str(model), str(data)], capsys)
    assert (
        f"refusing to load the model file: {model} holds types that polymodal does "
        f"not trust: {named}. Pass --trust"
    ) in err
    assert not (tmp_path / "cohort_predictions.csv").exists()


def test_cli_predict_on_a_table_without_a_modality_names_it(tmp_path, capsys):
    from polymodal import io

    model, table = _cli_model(tmp_path, capsys)
    # A modality that the saved pipeline reads (the best may be one alone).
    name, columns = next(
        (name, columns)
        for name, transformer, columns in io.load(model)[0].transformers_
        if not isinstance(transformer, str)
    )
    data = tmp_path / "new.csv"
    table.drop(columns=[*columns, "diagnosis"]).to_csv(data, index=False)
    err = _cli_fails(["predict", str(model), str(data)], capsys)
    assert (
        f"{data} lacks the columns {', '.join(columns)}, which the model reads for "
        f"the modalities {name}."
    ) in err


def test_cli_compare_with_a_training_fold_of_one_class(tmp_path, capsys):
    from polymodal.datasets import make_patients

    X, y = make_patients(n_samples=30, random_state=0)
    # Every class-0 patient belongs to one hospital, so the fold that tests on
    # that hospital trains on class 1 alone.
    hospital = np.where(y == 0, "north", [f"h{i % 4}" for i in range(len(y))])
    table = X[["age", "sex", "pack_years"]].assign(diagnosis=y, hospital=hospital)
    data = tmp_path / "cohort.csv"
    table.to_csv(data, index=False)
    config = tmp_path / "cohort.toml"
    config.write_text(
        'target = "diagnosis"\ngroups = "hospital"\n'
        '[modalities.clinical]\ncolumns = ["age", "sex"]\ntransformer = "tabular"\n'
    )
    argv = ["compare", str(data), "--config", str(config), "-o", str(tmp_path)]
    err = _cli_fails([*argv, "--cv", "2", "--heads", "logistic"], capsys)
    assert re.search(
        r"fold \d of 2 has no row of class 0 of 'diagnosis' to train on \(its "
        r"training rows hold only 1\): --groups hospital keeps each group's rows "
        r"in one fold\. Lower --cv, or check that the groups mix the classes\.",
        err,
    ), err
    assert not (tmp_path / "model.polymodal").exists()
