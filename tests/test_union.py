import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn import config_context
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from polymodal import ModalityBlocks, MultimodalUnion, make_multimodal_union
from polymodal.exceptions import MissingModalityWarning, RowFailureWarning
from polymodal.fusion import ConcatFusion


def make_union(**kwargs):
    return MultimodalUnion(
        [
            ("note", TfidfVectorizer(), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ],
        **kwargs,
    )


class RowRecorder(TransformerMixin, BaseEstimator):
    """Records the rows it sees; returns the input as floats."""

    def fit(self, X, y=None, sample_weight=None):
        self.fit_rows_ = np.asarray(X).shape[0]
        self.fit_y_ = None if y is None else np.asarray(y)
        self.sample_weight_ = sample_weight
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float).reshape(len(X), -1)


class FailsOnNegative(TransformerMixin, BaseEstimator):
    """A third-party-like transformer that raises on any negative value."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        if (X < 0).any():
            raise ValueError("negative value")
        return X


class NaNOnNegative(TransformerMixin, BaseEstimator):
    """A polymodal-style transformer: rows it cannot read come back all-NaN."""

    def __init__(self, on_error="missing"):
        self.on_error = on_error

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float).copy()
        X[(X < 0).any(axis=1)] = np.nan
        return X


def test_output_is_blocks_with_masks_and_names(frame):
    blocks = make_union().fit_transform(frame)
    assert isinstance(blocks, ModalityBlocks)
    assert blocks.names == ("note", "clinical")
    # None, whitespace-only and NaN notes are absent.
    assert np.flatnonzero(~blocks.masks["note"]).tolist() == [2, 5, 9]
    assert blocks.masks["clinical"].all()
    assert sparse.issparse(blocks["note"])
    assert blocks["note"][[2, 5, 9]].nnz == 0
    assert "cough" in list(blocks.feature_names["note"])
    assert list(blocks.feature_names["clinical"]) == ["age", "pack_years"]


def test_transformer_sees_present_rows_only(frame, target):
    union = MultimodalUnion([("note", RowRecorder(), ["pack_years"])])
    blocks = union.fit_transform(frame, target)
    recorder = union.named_transformers_["note"]
    assert recorder.fit_rows_ == 11
    np.testing.assert_array_equal(recorder.fit_y_, np.delete(target, 9))
    assert np.isnan(blocks["note"][9]).all()
    assert not blocks.masks["note"][9]


def test_nan_inside_a_present_row_is_kept(frame):
    union = MultimodalUnion([("clinical", "passthrough", ["age", "pack_years"])])
    blocks = union.fit_transform(frame)
    assert blocks.masks["clinical"].all()
    assert np.isnan(blocks["clinical"][9, 1])
    assert blocks["clinical"][9, 0] == 55


def test_parity_with_column_transformer(frame):
    complete = frame.dropna().loc[lambda df: df["note"].str.strip() != ""]
    transformers = [
        ("note", TfidfVectorizer(), "note"),
        ("clinical", StandardScaler(), ["age", "pack_years"]),
        ("sex", OneHotEncoder(), ["sex"]),
    ]
    expected = ColumnTransformer(transformers).fit(complete)
    pipe = make_pipeline(
        MultimodalUnion(transformers), ConcatFusion(indicators=False)
    ).fit(complete)
    ours = pipe.transform(complete)
    theirs = expected.transform(complete)
    assert sparse.issparse(ours) == sparse.issparse(theirs)
    np.testing.assert_allclose(
        ours.toarray() if sparse.issparse(ours) else ours,
        theirs.toarray() if sparse.issparse(theirs) else theirs,
    )
    np.testing.assert_array_equal(
        pipe.get_feature_names_out(), expected.get_feature_names_out()
    )


def test_grid_search_over_nested_params_and_fusion_step(frame, target):
    pipe = make_pipeline(make_union(), ConcatFusion(), LogisticRegression(max_iter=200))
    search = GridSearchCV(
        pipe,
        {
            "multimodalunion__note__min_df": [1, 2],
            "concatfusion__indicators": [True, False],
        },
        cv=KFold(3),
    ).fit(frame, target)
    assert len(search.cv_results_["params"]) == 4
    named = Pipeline(
        [
            ("union", make_union()),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression()),
        ]
    )
    search = GridSearchCV(
        named,
        {
            "fusion": [ConcatFusion(), ConcatFusion(scale_blocks=True)],
            "union__note__min_df": [1],
        },
        cv=KFold(3),
    ).fit(frame, target)
    assert isinstance(search.best_estimator_.named_steps["fusion"], ConcatFusion)


def test_nested_get_and_set_params():
    union = make_union()
    assert union.get_params()["note__min_df"] == 1
    union.set_params(note__min_df=2, clinical="drop")
    assert union.transformers[0][1].min_df == 2
    assert union.transformers[1][1] == "drop"
    assert union.transformers[1][2] == ["age", "pack_years"]


def test_joblib_round_trip_gives_identical_predictions(frame, target, tmp_path):
    pipe = make_pipeline(
        make_union(),
        ConcatFusion(),
        RandomForestClassifier(n_estimators=10, random_state=0),
    ).fit(frame, target)
    joblib.dump(pipe, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), pipe.predict_proba(frame)
    )


def test_absent_at_predict_time_only(frame, target):
    union = MultimodalUnion([("clinical", StandardScaler(), ["pack_years"])])
    union.fit(frame.drop(index=9), np.delete(target, 9))
    blocks = union.transform(frame.iloc[[9, 9]])
    assert not blocks.masks["clinical"].any()
    assert np.isnan(blocks["clinical"]).all()
    pipe = make_pipeline(
        MultimodalUnion([("clinical", StandardScaler(), ["pack_years"])]),
        ConcatFusion(),
        LogisticRegression(),
    ).fit(frame.drop(index=9), np.delete(target, 9))
    assert pipe.predict_proba(frame.iloc[[9]]).shape == (1, 2)


def test_every_row_absent_at_predict_keeps_the_fitted_width(frame):
    union = make_union().fit(frame)
    blocks = union.transform(frame.iloc[[2, 5]])
    assert blocks["note"].shape == (
        2,
        len(union.named_transformers_["note"].vocabulary_),
    )
    assert not blocks.masks["note"].any()


class NaNRowsScaler(StandardScaler):
    """StandardScaler that warns on fit and cannot read row 1 at transform."""

    def fit(self, X, y=None):
        warnings.warn("fitted by a worker", UserWarning, stacklevel=2)
        return super().fit(X, y)

    def transform(self, X):
        out = super().transform(X)
        out[1] = np.nan
        return out


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_warnings_of_modalities_processed_in_workers_reach_the_caller(n_jobs):
    X = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) ** 2})
    union = MultimodalUnion(
        [("a", NaNRowsScaler(), ["a"]), ("b", StandardScaler(), ["b"])], n_jobs=n_jobs
    )
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        blocks = union.fit_transform(X)
    messages = [str(record.message) for record in records]
    assert "fitted by a worker" in messages
    failures = [r for r in records if r.category is RowFailureWarning]
    assert len(failures) == 1 and "rows [1]" in str(failures[0].message)
    # Both point at this test's call, not at a line of the library.
    assert {r.filename for r in records} == {__file__}
    assert not blocks.masks["a"][1]


def test_n_jobs_gives_identical_blocks(frame, target):
    one = make_union(n_jobs=1).fit_transform(frame, target)
    two = make_union(n_jobs=2).fit_transform(frame, target)
    np.testing.assert_array_equal(one["note"].toarray(), two["note"].toarray())
    np.testing.assert_array_equal(one["clinical"], two["clinical"])
    np.testing.assert_array_equal(one.masks["note"], two.masks["note"])


def test_feature_names_and_output_indices(frame):
    union = make_union().fit(frame)
    names = union.get_feature_names_out()
    assert names[-2:].tolist() == ["clinical__age", "clinical__pack_years"]
    assert all(n.startswith("note__") for n in names[:-2])
    indices = union.output_indices_
    assert names[indices["clinical"]].tolist() == [
        "clinical__age",
        "clinical__pack_years",
    ]
    bare = make_union(verbose_feature_names_out=False).fit(frame)
    assert bare.get_feature_names_out()[-1] == "pack_years"
    assert union.named_transformers_["clinical"].n_features_in_ == 2
    assert union["clinical"] is union.named_transformers_["clinical"]


def test_column_selectors(frame):
    by_dtype = MultimodalUnion(
        [("numbers", StandardScaler(), make_column_selector(dtype_include="number"))]
    ).fit(frame)
    assert list(by_dtype.transform(frame).feature_names["numbers"]) == [
        "age",
        "pack_years",
    ]
    by_mask = MultimodalUnion([("m", "passthrough", [False, True, True, False])])
    assert by_mask.fit_transform(frame)["m"].shape == (12, 2)
    by_slice = MultimodalUnion([("m", "passthrough", slice("age", "pack_years"))])
    assert by_slice.fit_transform(frame)["m"].shape == (12, 2)


def test_array_input_with_int_columns():
    X = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, np.nan], [7.0, 8.0, 9.0]])
    union = MultimodalUnion([("a", "passthrough", 0), ("b", StandardScaler(), [1, 2])])
    blocks = union.fit_transform(X)
    assert blocks["a"].shape == (3, 1)
    assert blocks.masks["b"].tolist() == [True, False, True]
    assert not hasattr(union, "feature_names_in_")
    with pytest.raises(ValueError, match="3 features"):
        union.transform(X[:, :2])


def test_dict_input(frame):
    columns = {"note": list(frame["note"]), "age": frame["age"].to_numpy()}
    union = MultimodalUnion(
        [("note", TfidfVectorizer(), "note"), ("age", StandardScaler(), ["age"])]
    )
    blocks = union.fit_transform(columns)
    expected = union.fit_transform(frame)
    np.testing.assert_allclose(blocks["note"].toarray(), expected["note"].toarray())
    with pytest.raises(ValueError, match="different lengths"):
        union.transform({"note": ["a"], "age": [1.0, 2.0]})


def test_dict_input_keeps_image_cells_whole():
    images = [np.full((2, 2), i, dtype=float) for i in range(4)]
    flatten = FunctionTransformer(lambda col: np.stack(list(col)).reshape(len(col), -1))
    union = MultimodalUnion([("ct", flatten, "ct")])
    blocks = union.fit_transform({"ct": images})
    np.testing.assert_array_equal(blocks["ct"][:, 0], [0, 1, 2, 3])


def test_remainder_and_drop(frame):
    union = MultimodalUnion(
        [("note", "drop", "note"), ("sex", OneHotEncoder(), ["sex"])],
        remainder=StandardScaler(),
    )
    blocks = union.fit_transform(frame)
    assert blocks.names == ("sex", "remainder")
    assert list(blocks.feature_names["remainder"]) == ["age", "pack_years"]
    assert union.transformers_[-1][0] == "remainder"
    assert union.named_transformers_["note"] == "drop"
    passthrough = MultimodalUnion(
        [("sex", OneHotEncoder(), ["sex"])], remainder="passthrough"
    )
    with pytest.raises(ValueError, match="not numeric"):
        passthrough.fit(frame)


def test_transformer_weights(frame):
    plain = make_union().fit_transform(frame)
    weighted = make_union(transformer_weights={"clinical": 2.0}).fit_transform(frame)
    np.testing.assert_allclose(weighted["clinical"], 2 * plain["clinical"])
    with pytest.raises(ValueError, match=r"\['genes'\]"):
        make_union(transformer_weights={"genes": 2.0}).fit(frame)


def test_third_party_row_failures_become_absent_with_on_error_missing():
    X = pd.DataFrame({"v": [1.0, -1.0, 2.0, 3.0, -5.0]})
    union = MultimodalUnion([("v", FailsOnNegative(), ["v"])], on_error="missing")
    with pytest.warns(
        RowFailureWarning, match=r"'v': rows \[1, 4\].*ValueError: negative value"
    ):
        blocks = union.fit_transform(X)
    assert blocks.masks["v"].tolist() == [True, False, True, True, False]
    np.testing.assert_array_equal(blocks["v"][[0, 2, 3], 0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="negative value") as info:
        MultimodalUnion([("v", FailsOnNegative(), ["v"])]).fit(X)
    assert "modality 'v'" in "".join(info.value.__notes__)


def test_own_on_error_rows_are_marked_absent():
    X = pd.DataFrame({"v": [1.0, -1.0, 2.0]})
    union = MultimodalUnion([("v", NaNOnNegative(), ["v"])], on_error="raise")
    with pytest.warns(RowFailureWarning, match=r"rows \[1\]"):
        blocks = union.fit_transform(X)
    assert blocks.masks["v"].tolist() == [True, False, True]


def test_sparse_all_nan_rows_are_marked_absent_and_emptied():
    class SparseNaN(NaNOnNegative):
        def transform(self, X):
            return sparse.csr_matrix(super().transform(X))

    X = pd.DataFrame({"v": [1.0, -1.0, 2.0]})
    with pytest.warns(RowFailureWarning):
        blocks = MultimodalUnion([("v", SparseNaN(), ["v"])]).fit_transform(X)
    assert blocks.masks["v"].tolist() == [True, False, True]
    assert blocks["v"][1].nnz == 0


def test_metadata_routing_slices_sample_weight_to_present_rows(frame, target):
    weights = np.arange(12, dtype=float)
    with config_context(enable_metadata_routing=True):
        recorder = RowRecorder().set_fit_request(sample_weight=True)
        union = MultimodalUnion([("pack", recorder, ["pack_years"])])
        union.fit(frame, target, sample_weight=weights)
        seen = union.named_transformers_["pack"].sample_weight_
    np.testing.assert_array_equal(seen, np.delete(weights, 9))
    with pytest.raises(ValueError, match="enable_metadata_routing"):
        MultimodalUnion([("pack", RowRecorder(), ["pack_years"])]).fit(
            frame, sample_weight=weights
        )


def test_supervised_transformer_gets_matching_targets(frame, target):
    union = MultimodalUnion(
        [("note", make_pipeline(TfidfVectorizer(), SelectKBest(k=3)), "note")]
    )
    blocks = union.fit_transform(frame, target)
    assert blocks["note"].shape == (12, 3)


def test_pandas_output_of_the_pipeline(frame):
    pipe = make_pipeline(
        MultimodalUnion([("clinical", StandardScaler(), ["age", "pack_years"])]),
        ConcatFusion(),
    ).set_output(transform="pandas")
    out = pipe.fit_transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [
        "clinical__age",
        "clinical__pack_years",
        "presence__clinical",
    ]
    with config_context(transform_output="pandas"):
        blocks = make_union().fit_transform(frame)
    assert isinstance(blocks, ModalityBlocks)


def logged_to_float(X, log_path):
    with open(log_path, "a") as log:
        log.write("call\n")
    return np.asarray(X, dtype=float)


def test_pipeline_memory_caches_the_union(frame, target, tmp_path):
    log_path = tmp_path / "calls.log"
    union = MultimodalUnion(
        [
            (
                "clinical",
                FunctionTransformer(logged_to_float, kw_args={"log_path": log_path}),
                ["age"],
            )
        ]
    )
    pipe = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", LogisticRegression())],
        memory=str(tmp_path / "cache"),
    )
    pipe.fit(frame, target)
    pipe.set_params(head__C=0.5).fit(frame, target)
    # One fit_transform call for the first fit; the second fit is a cache hit.
    assert log_path.read_text().count("call") == 1


def test_verbose_reports_each_modality(frame, capsys):
    make_union(verbose=True).fit(frame)
    out = capsys.readouterr().out
    assert "(1 of 2) Processing note" in out
    assert "(2 of 2) Processing clinical" in out


def test_html_repr_has_one_box_per_modality(frame):
    html = make_union()._repr_html_()
    assert "TfidfVectorizer" in html and "StandardScaler" in html
    assert "note" in html and "clinical" in html


def test_make_multimodal_union_names_modalities():
    union = make_multimodal_union(
        (TfidfVectorizer(), "note"),
        (StandardScaler(), ["age"]),
        (StandardScaler(), ["pack_years"]),
    )
    assert [name for name, _, _ in union.transformers] == [
        "note",
        "standardscaler-1",
        "standardscaler-2",
    ]


def test_make_multimodal_union_parts_names_that_meet():
    # A class name keeps the suffix make_column_transformer gives it; a column
    # that names two modalities, or that meets a class name, is suffixed too.
    union = make_multimodal_union(
        (StandardScaler(), "age"),
        (StandardScaler(), ["pack_years"]),
        (TfidfVectorizer(), "note"),
        (TfidfVectorizer(), "note"),
        ("passthrough", "standardscaler-2"),
    )
    assert [name for name, _, _ in union.transformers] == [
        "age",
        "standardscaler-2-1",
        "note-1",
        "note-2",
        "standardscaler-2-2",
    ]


# -- bad input -----------------------------------------------------------------


def test_unknown_column_names_modality_and_column(frame):
    union = MultimodalUnion([("ct", "passthrough", ["ct_path"])])
    with pytest.raises(ValueError, match=r"Modality 'ct'.*ct_path"):
        union.fit(frame)


def test_missing_columns_at_predict_are_named(frame):
    union = make_union().fit(frame)
    with pytest.raises(ValueError, match=r"\['pack_years'\].*\['clinical'\]"):
        union.transform(frame.drop(columns="pack_years"))
    # Extra or reordered columns are fine when columns were selected by name.
    union.transform(frame[["pack_years", "age", "note", "sex"]].assign(extra=1))


def test_non_transformer_in_a_slot(frame):
    union = MultimodalUnion([("note", LogisticRegression(), "note")])
    with pytest.raises(TypeError, match="Modality 'note'.*not a transformer"):
        union.fit(frame)
    with pytest.raises(ValueError, match="'drop' or 'passthrough'"):
        MultimodalUnion([("note", "scale", "note")]).fit(frame)


def test_duplicate_modality_names(frame):
    union = MultimodalUnion(
        [("a", "passthrough", ["age"]), ("a", "passthrough", ["pack_years"])]
    )
    with pytest.raises(ValueError, match=re.escape("['a'] appear more than once")):
        union.fit(frame)


def test_rows_of_x_and_y_differ(frame, target):
    with pytest.raises(ValueError, match="X has 12 rows but y has 11"):
        make_union().fit(frame, target[:-1])


def test_modality_absent_in_every_training_row(frame):
    frame = frame.assign(ct=None)
    union = MultimodalUnion(
        [("ct", "passthrough", ["ct"]), ("age", "passthrough", ["age"])]
    )
    with pytest.raises(
        ValueError, match="'ct' is absent in every training row.*stratify"
    ):
        union.fit(frame)


def test_unknown_on_error(frame):
    with pytest.raises(InvalidParameterError, match="on_error"):
        make_union(on_error="skip").fit(frame)


def test_blocks_are_not_a_table(frame):
    blocks = make_union().fit_transform(frame)
    with pytest.raises(TypeError, match="not ModalityBlocks"):
        make_union().fit(blocks)


def test_no_warning_on_a_clean_fit(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_union().fit_transform(frame)


# -- rows are named by the input's labels ------------------------------------


def labelled_table():
    return pd.DataFrame(
        {
            "note": [
                "cough and fever",
                "no cough",
                "fever",
                None,
                "mild fever",
                "cough",
            ],
            "lab": [1.0, 2.0, -3.0, 4.0, 5.0, 6.0],
        },
        index=[2, 4, 8, 10, 12, 14],
    )


def test_blocks_carry_the_tables_index():
    X = labelled_table().assign(lab=lambda t: t["lab"].abs())
    blocks = make_union_of_lab_and_note().fit_transform(X)
    assert blocks.index.tolist() == X.index.tolist()
    assert blocks[[1, 3]].index.tolist() == [4, 10]
    assert blocks[
        np.array([False, True, True, False, False, False])
    ].index.tolist() == [
        4,
        8,
    ]
    assert blocks.select(["lab"]).index.tolist() == X.index.tolist()
    # Arrays and dicts have no labels: positions.
    assert isinstance(ModalityBlocks({"x": np.zeros((3, 1))}).index, pd.RangeIndex)


def make_union_of_lab_and_note(**kwargs):
    return MultimodalUnion(
        [("note", TfidfVectorizer(), "note"), ("lab", FailsOnNegative(), ["lab"])],
        **kwargs,
    )


def test_row_failure_warning_names_labels_in_every_fold():
    X = labelled_table()
    union = make_union_of_lab_and_note(on_error="missing")
    messages = []
    for train, test in KFold(3).split(X):
        rows = np.sort(np.r_[train, test])[: len(X) - 1]
        with pytest.warns(RowFailureWarning) as record:
            blocks = union.fit(X.iloc[train[train != 2]]).transform(X.iloc[rows])
        messages.extend(str(w.message) for w in record)
        assert not blocks.masks["lab"][list(X.index[rows]).index(8)]
    # The failing row is label 8 whichever fold and position it lands in.
    assert messages and all("rows [8]" in message for message in messages)


def test_non_string_cell_in_a_third_party_text_transformer_names_its_cell():
    X = labelled_table().astype({"note": object})
    X.loc[12, "note"] = 42
    union = MultimodalUnion([("note", TfidfVectorizer(), "note")])
    expected = (
        r"Modality 'note', column 'note', rows \[12\]: the value 42 \(int\) among "
        r"str values made its transformer fail during fit \(AttributeError"
    )
    with pytest.raises(TypeError, match=expected):
        union.fit(X)
    union.fit(labelled_table())
    with pytest.raises(
        TypeError, match=expected.replace("during fit", "during transform")
    ):
        union.transform(X)


class FailsOnLarge(TransformerMixin, BaseEstimator):
    """Raises a non-ValueError on a value above 4, as a buggy plug-in would."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        if (X > 4).any():
            raise RuntimeError("overflow in plug-in")
        return X


def test_any_exception_type_gets_modality_column_and_row_note():
    X = labelled_table().assign(lab=lambda t: t["lab"].abs())
    union = MultimodalUnion([("lab", FailsOnLarge(), ["lab"])]).fit(X.iloc[:4])
    with pytest.raises(RuntimeError, match="overflow in plug-in") as info:
        union.transform(X)
    (note,) = info.value.__notes__
    assert note == (
        "polymodal: raised by the transformer of modality 'lab', columns ['lab'] "
        "(FailsOnLarge) during transform; the first row that fails alone is 12 "
        "(value 5.0)."
    )


# -- ColumnTransformer's behaviours (the parity suite runs scikit-learn's own) --


def frame_abc():
    return pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 7.0], "c": [0.5, 0.1, 0.2]},
        index=[20, 21, 22],
    )


def test_every_modality_dropped_gives_no_block_and_no_column():
    union = MultimodalUnion([("lab", "drop", ["a"])])
    blocks = union.fit_transform(frame_abc())
    assert blocks.names == () and len(blocks) == 3
    assert blocks.index.tolist() == [20, 21, 22]
    with pytest.warns(MissingModalityWarning, match=r"Rows \[20, 21, 22\]"):
        fused = ConcatFusion(indicators=False).fit_transform(blocks)
    assert fused.shape == (3, 0)
    assert union.transformers_ == [
        ("lab", "drop", ["a"]),
        ("remainder", "drop", ["b", "c"]),
    ]
    assert union.output_indices_ == {"lab": slice(0, 0), "remainder": slice(0, 0)}


def test_columns_of_a_dropped_modality_are_not_needed_at_transform():
    union = MultimodalUnion(
        [("lab", StandardScaler(), ["a"]), ("old", "drop", ["c"])]
    ).fit(frame_abc())
    blocks = union.transform(frame_abc().drop(columns="c"))
    assert blocks.names == ("lab",)
    with pytest.raises(ValueError, match=r"columns are missing: \{'a'\}.*\['lab'\]"):
        union.transform(frame_abc().drop(columns="a"))


def test_an_array_after_fitting_named_columns_is_refused():
    union = MultimodalUnion([("lab", StandardScaler(), ["a", "b"])]).fit(frame_abc())
    with pytest.raises(ValueError, match="Specifying the columns using strings"):
        union.transform(frame_abc().to_numpy())


def test_feature_names_ask_the_transformer_with_the_input_columns():
    X = pd.DataFrame({"age": [1.0, 2.0, 3.0], "sex": ["f", "m", "f"]})
    union = MultimodalUnion(
        [("sex", OneHotEncoder(), ["sex"])], remainder="passthrough"
    ).fit(X)
    assert union.get_feature_names_out().tolist() == [
        "sex__sex_f",
        "sex__sex_m",
        "remainder__age",
    ]
    # Without column names, positions in the whole table: x1, not x0.
    array_union = MultimodalUnion([("sex", OneHotEncoder(), [1])]).fit(X.to_numpy())
    assert array_union.get_feature_names_out().tolist() == ["sex__x1_f", "sex__x1_m"]
    assert array_union.get_feature_names_out(["age", "gender"]).tolist() == [
        "sex__gender_f",
        "sex__gender_m",
    ]


@pytest.mark.parametrize(
    ("verbose", "expected"),
    [
        (True, ["lab__a", "lab__b", "remainder__c"]),
        (False, ["a", "b", "c"]),
        ("{feature_name}@{transformer_name}", ["a@lab", "b@lab", "c@remainder"]),
        (lambda modality, feature: feature.upper(), ["A", "B", "C"]),
    ],
    ids=["prefix", "bare", "format", "callable"],
)
def test_verbose_feature_names_out_names_the_fused_columns_too(verbose, expected):
    union = MultimodalUnion(
        [("lab", StandardScaler(), ["a", "b"])],
        remainder="passthrough",
        verbose_feature_names_out=verbose,
    )
    pipe = make_pipeline(union, ConcatFusion(indicators=False)).set_output(
        transform="pandas"
    )
    fused = pipe.fit_transform(frame_abc())
    assert union.get_feature_names_out().tolist() == expected
    assert fused.columns.tolist() == expected
    # The fused table keeps the patients' row labels.
    assert fused.index.tolist() == [20, 21, 22]


def test_bare_names_that_collide_are_an_error():
    union = MultimodalUnion(
        [("one", "passthrough", ["a"]), ("two", "passthrough", ["a"])],
        verbose_feature_names_out=False,
    ).fit(frame_abc())
    with pytest.raises(ValueError, match=r"Output feature names: \['a'\] are not"):
        union.get_feature_names_out()


def test_a_transformer_class_instead_of_an_instance_is_named():
    union = MultimodalUnion([("lab", StandardScaler, ["a"])])
    with pytest.raises(TypeError, match=r"Expected an estimator instance \(Standard"):
        union.fit(frame_abc())


def test_transformers_layout_keeps_the_users_column_format():
    union = MultimodalUnion(
        [("lab", StandardScaler(), lambda X: ["a"])], remainder="passthrough"
    ).fit(frame_abc())
    (name, _, columns), (rest, passthrough, rest_columns) = union.transformers_
    assert (name, columns) == ("lab", ["a"])
    assert (rest, rest_columns) == ("remainder", ["b", "c"])
    assert isinstance(passthrough, FunctionTransformer)


class NamesRowsByPosition(TransformerMixin, BaseEstimator):
    """Names its bad rows by position, as steps after an image loader must."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        bad = np.flatnonzero(X[:, 0] > 4)
        if bad.size:
            raise ValueError(f"rows {bad.tolist()} are too large")
        return X


def test_row_positions_in_a_transformers_message_are_given_their_labels():
    X = labelled_table().assign(lab=lambda t: t["lab"].abs())
    X.loc[4, "lab"] = np.nan  # absent: positions inside the transformer shift
    union = MultimodalUnion([("lab", NamesRowsByPosition(), ["lab"])]).fit(X.iloc[:3])
    with pytest.raises(ValueError, match=r"rows \[3, 4\] are too large") as info:
        union.transform(X)
    (note,) = info.value.__notes__
    assert note.startswith(
        "polymodal: raised by the transformer of modality 'lab', columns ['lab'] "
        "(NamesRowsByPosition) during transform; row positions in the message count "
        "the 5 rows given to the transformer, which are the rows labelled "
        "3 -> 12, 4 -> 14"
    )
