import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.exceptions import PolymodalWarning
from polymodal.fusion import ConcatFusion
from polymodal.text import ClinicalTextVectorizer


def features(note, **params):
    vectorizer = ClinicalTextVectorizer(**params).fit([note])
    return set(vectorizer.get_feature_names_out())


def test_negated_and_asserted_findings_are_different_features():
    assert "NEG_cough" in features("no cough")
    assert "cough" not in features("no cough")
    assert "cough" in features("cough")
    assert "NEG_cough" not in features("cough")
    assert features("no cough", negation=False) == {"no", "cough"}


@pytest.mark.parametrize(
    ("note", "negated", "plain"),
    [
        ("no fever, cough", {"NEG_fever"}, {"cough"}),
        ("denies chest pain", {"NEG_chest", "NEG_pain"}, set()),
        ("No fever but cough", {"NEG_fever"}, {"cough"}),
        ("without rash; however itching", {"NEG_rash"}, {"itching"}),
        ("Negative for  PE. Dyspnoea", {"NEG_pe"}, {"dyspnoea"}),
        ("absence of oedema: ankles warm", {"NEG_oedema"}, {"ankles", "warm"}),
        ("ruled out infarction", {"NEG_infarction"}, set()),
    ],
)
def test_english_scope_runs_to_the_end_of_the_clause(note, negated, plain):
    found = features(note)
    assert negated <= found
    assert plain <= found
    assert not {f"NEG_{token}" for token in plain} & found


def test_chinese_scope_with_jieba():
    pytest.importorskip("jieba")
    found = features("无咳嗽，发热")
    assert {"NEG_咳嗽", "发热"} <= found
    assert not {"咳嗽", "NEG_发热"} & found
    # The cue is cut off before segmentation: jieba alone reads 无咽痛 as 无咽 + 痛.
    assert "NEG_咽痛" in features("患者否认咯血，无咽痛。")
    assert {"NEG_咯血", "NEG_咽痛", "患者"} <= features("患者否认咯血，无咽痛。")


def test_language_detection():
    english = ClinicalTextVectorizer().fit(["Denies chest pain.", "Cough 3 weeks."])
    chinese = ClinicalTextVectorizer().fit(["患者无咳嗽，CT 正常。", "发热三天"])
    assert english.language_ == "en"
    assert chinese.language_ == "zh"
    forced = ClinicalTextVectorizer(language="en").fit(["无咳嗽"])
    assert forced.language_ == "en"


def test_without_jieba_chinese_falls_back_to_characters(monkeypatch):
    # None in sys.modules makes `import jieba` raise ImportError.
    monkeypatch.setitem(sys.modules, "jieba", None)
    vectorizer = ClinicalTextVectorizer()
    with pytest.warns(PolymodalWarning, match=r'pip install "polymodal\[text\]"'):
        vectorizer.fit(["无咳嗽，发热"])
    assert (vectorizer.analyzer_, vectorizer.ngram_range_) == ("char", (1, 2))
    names = set(vectorizer.get_feature_names_out())
    assert {"NEG_咳", "NEG_咳嗽", "发热", "无"} <= names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ClinicalTextVectorizer().fit(["no cough"])


def test_char_analyzer_keeps_scopes_apart():
    names = features("no fever, cough", analyzer="char", ngram_range=(3, 3))
    assert {"NEG_fev", "cou"} <= names
    assert "NEG_cou" not in names
    assert not any(name.startswith("NEG_") and "," in name for name in names)


def test_parameters_reach_the_tfidf():
    notes = ["no cough, weight loss", "weight loss", "cough and fever"]
    bigrams = ClinicalTextVectorizer(ngram_range=(1, 2)).fit(notes)
    assert "weight loss" in bigrams.get_feature_names_out()
    common = ClinicalTextVectorizer(min_df=2).fit(notes)
    assert set(common.get_feature_names_out()) == {"loss", "weight"}
    top = ClinicalTextVectorizer(max_features=2).fit(notes)
    assert len(top.get_feature_names_out()) == 2
    sublinear = ClinicalTextVectorizer(sublinear_tf=True).fit_transform(
        ["cough cough fever"]
    )
    # Columns: cough, fever; tf 2:1 becomes (1 + log 2):1.
    ratio = sublinear[0, 0] / sublinear[0, 1]
    assert ratio == pytest.approx(1 + np.log(2))
    cased = ClinicalTextVectorizer(lowercase=False).fit(["No Cough"])
    assert set(cased.get_feature_names_out()) == {"No", "NEG_Cough"}


def test_output_is_csr_and_fit_transform_matches_transform():
    notes = pd.Series(["no cough, fever", "cough", "denies fever"], index=[5, 7, 9])
    vectorizer = ClinicalTextVectorizer(ngram_range=(1, 2))
    fitted = vectorizer.fit_transform(notes)
    assert sparse.issparse(fitted) and fitted.format == "csr"
    assert fitted.shape == (3, len(vectorizer.get_feature_names_out()))
    np.testing.assert_allclose(fitted.toarray(), vectorizer.transform(notes).toarray())
    column = np.array(notes, dtype=object).reshape(-1, 1)
    np.testing.assert_allclose(vectorizer.transform(column).toarray(), fitted.toarray())


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (None, r"row 8 holds None of type NoneType, not a note string"),
        (3.5, r"row 8 holds 3.5 of type float"),
        ("", r"row 8 holds an empty note"),
        ("  \n", r"row 8 holds an empty note"),
    ],
)
def test_bad_notes_name_their_row(cell, message):
    notes = pd.Series(["cough", cell], index=[7, 8], dtype=object)
    with pytest.raises(ValueError, match=message):
        ClinicalTextVectorizer().fit(notes)
    fitted = ClinicalTextVectorizer().fit(["cough"])
    with pytest.raises(ValueError, match=message):
        fitted.transform(notes)


def test_bad_parameters_and_shapes():
    with pytest.raises(ValueError, match="ngram_range"):
        ClinicalTextVectorizer(ngram_range=(2, 1)).fit(["cough"])
    with pytest.raises(ValueError, match="language"):
        ClinicalTextVectorizer(language="fr").fit(["cough"])
    with pytest.raises(TypeError, match="Wrap it in a list"):
        ClinicalTextVectorizer().fit("cough")
    with pytest.raises(ValueError, match="0 sample"):
        ClinicalTextVectorizer().fit([])
    with pytest.raises(ValueError, match="one column"):
        ClinicalTextVectorizer().fit(pd.DataFrame({"a": ["x"], "b": ["y"]}))


def test_inside_a_union_with_absent_notes_and_grid_search(frame):
    target = np.array([0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0])
    union = MultimodalUnion(
        [
            ("note", ClinicalTextVectorizer(), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )
    blocks = union.fit_transform(frame)
    assert isinstance(blocks, ModalityBlocks)
    np.testing.assert_array_equal(
        blocks.masks["note"],
        frame["note"].map(lambda v: isinstance(v, str) and v.strip() != ""),
    )
    assert "NEG_cough" in union.named_transformers_["note"].get_feature_names_out()
    pipe = Pipeline(
        [
            ("union", union),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression()),
        ]
    )
    search = GridSearchCV(
        pipe, {"union__note__ngram_range": [(1, 1), (1, 2)]}, cv=KFold(3)
    ).fit(frame, target)
    assert len(search.cv_results_["params"]) == 2
    names = search.best_estimator_[:-1].get_feature_names_out()
    assert any(name.startswith("note__NEG_") for name in names)
    assert search.predict(frame).shape == (12,)


def test_joblib_round_trip(tmp_path):
    notes = ["no cough, fever", "cough", "患者无咳嗽"]
    vectorizer = ClinicalTextVectorizer(ngram_range=(1, 2)).fit(notes)
    joblib.dump(vectorizer, tmp_path / "vectorizer.joblib")
    loaded = joblib.load(tmp_path / "vectorizer.joblib")
    np.testing.assert_array_equal(
        loaded.get_feature_names_out(), vectorizer.get_feature_names_out()
    )
    np.testing.assert_allclose(
        loaded.transform(notes).toarray(), vectorizer.transform(notes).toarray()
    )
    assert clone(vectorizer).get_params() == vectorizer.get_params()


def cross_validated_auroc(notes, y, negation):
    pipe = make_pipeline(
        ClinicalTextVectorizer(negation=negation), LogisticRegression()
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(pipe, notes, y, cv=cv, scoring="roc_auc").mean()


def test_negation_helps_on_the_english_cohort():
    X, y = make_patients(n_samples=200, random_state=0)
    marked = cross_validated_auroc(X["note"], y, negation=True)
    plain = cross_validated_auroc(X["note"], y, negation=False)
    assert marked > plain + 0.05


def test_negation_marks_the_chinese_cohort():
    # Without negation marks jieba already fuses some cues with their
    # symptoms (无咽痛 -> 无咽), so the gain over negation=False is not robust
    # across cohorts; only the marks are asserted.
    pytest.importorskip("jieba")
    X, _ = make_patients(n_samples=200, random_state=0, language="zh")
    vectorizer = ClinicalTextVectorizer().fit(X["note"])
    assert vectorizer.language_ == "zh"
    names = set(vectorizer.get_feature_names_out())
    assert {"NEG_咳嗽", "NEG_咯血", "咳嗽", "咯血"} <= names
