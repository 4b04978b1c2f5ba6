"""A row with no modality present, whichever step fuses (DESIGN.md, "Missing values").

Final-step fusions predict the training prior (classifiers) or mean
(regressors); transformer fusions cannot choose the head's output, so they
warn. Either way a MissingModalityWarning names the rows by the input table's
index labels, never by positions inside the rows predicted on.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning
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
from polymodal.model_selection import compare_fusions

#: The rows predicted on: "p8" and "p21" have no modality, "p3" has both.
#: Inside this selection they sit at positions 1 and 2, so a message that
#: named positions would read "[1, 2]".
PREDICTED = ["p3", "p8", "p21"]
EMPTY = ["p8", "p21"]
NAMED = re.escape("Rows ['p8', 'p21'] have no modality")


def patients(n=60, seed=0):
    """Two modalities of two columns each, rows labelled "p0".."p59".

    "p8" and "p21" hold no value at all; a few other rows lack one modality.
    """
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1, 1], n // 3)
    X = pd.DataFrame(
        {
            "glucose": y + rng.normal(0, 0.7, n),
            "insulin": rng.normal(0, 1, n),
            "heart_rate": 0.5 * y + rng.normal(0, 1, n),
            "spo2": rng.normal(0, 1, n),
        },
        index=[f"p{i}" for i in range(n)],
    )
    X.loc[["p5", "p30"], ["glucose", "insulin"]] = np.nan
    X.loc[["p12", "p40"], ["heart_rate", "spo2"]] = np.nan
    X.loc[EMPTY] = np.nan
    return X, pd.Series(y, index=X.index)


def union():
    return MultimodalUnion(
        [
            ("labs", StandardScaler(), ["glucose", "insulin"]),
            ("vitals", StandardScaler(), ["heart_rate", "spo2"]),
        ]
    )


TRANSFORMER_FUSIONS = {
    "concat": (ConcatFusion(), LogisticRegression()),
    "average": (AverageFusion(n_components=2), LogisticRegression()),
    "product": (ProductFusion(n_components=2), LogisticRegression()),
    "tensor": (TensorFusion(n_components=2), LogisticRegression()),
    "kernel": (KernelFusion(), SVC(kernel="precomputed")),
    "subspace": (SubspaceFusion(n_components=2), LogisticRegression()),
    "factorization": (FactorizationFusion(n_factors=2, random_state=0), Ridge()),
}


@pytest.mark.parametrize("name", TRANSFORMER_FUSIONS)
def test_transformer_fusion_warns_naming_rows_by_label(name):
    fusion, head = TRANSFORMER_FUSIONS[name]
    X, y = patients()
    training = X.drop(index=EMPTY)
    pipe = Pipeline([("union", union()), ("fusion", fusion), ("head", head)])
    with warnings.catch_warnings():
        # Training rows all hold some modality: fitting says nothing.
        warnings.simplefilter("error", MissingModalityWarning)
        pipe.fit(training, y.drop(index=EMPTY))
    with pytest.warns(MissingModalityWarning, match=NAMED) as record:
        pipe.predict(X.loc[PREDICTED])
    messages = [
        str(w.message) for w in record if issubclass(w.category, MissingModalityWarning)
    ]
    assert len(messages) == 1
    message = messages[0]
    assert type(fusion).__name__ in message
    # The fusion cannot choose what the head predicts, and says so.
    assert "the head's predictions for them rest on no observed data" in message
    # A row with some modality is never named.
    assert "'p3'" not in message


def test_concat_fusion_with_a_forest_warns_at_fit_and_predict_by_label():
    # The reported case: union -> ConcatFusion -> random forest.
    X, y = patients()
    pipe = Pipeline(
        [
            ("union", union()),
            ("fusion", ConcatFusion()),
            ("head", RandomForestClassifier(50, random_state=0)),
        ]
    )
    with pytest.warns(MissingModalityWarning, match=NAMED):
        pipe.fit(X, y)
    with pytest.warns(MissingModalityWarning, match=NAMED) as record:
        pipe.predict_proba(X.loc[PREDICTED])
    assert (
        "ConcatFusion gives them the training means of every block and every "
        "presence indicator 0" in str(record[0].message)
    )


def _final_step_pipeline(final):
    return Pipeline([("union", union()), ("fusion", "passthrough"), ("head", final)])


@pytest.mark.parametrize(
    "final",
    [LateFusionClassifier(), StackingFusionClassifier(cv=3)],
    ids=["late", "stacking"],
)
def test_final_step_classifier_predicts_the_prior_naming_rows_by_label(final):
    X, y = patients()
    pipe = _final_step_pipeline(final).fit(X.drop(index=EMPTY), y.drop(index=EMPTY))
    prior = pipe[-1].class_prior_
    # 58 training rows: 20 of class 0 minus p21, 40 of class 1 minus p8.
    assert_allclose(prior, [19 / 58, 39 / 58])
    with pytest.warns(MissingModalityWarning, match=NAMED) as record:
        proba = pipe.predict_proba(X.loc[PREDICTED])
    assert "they are predicted the training class prior" in str(record[0].message)
    assert_allclose(proba[1:], [prior, prior])
    assert not np.allclose(proba[0], prior)
    with pytest.warns(MissingModalityWarning, match=NAMED):
        labels = pipe.predict(X.loc[PREDICTED])
    assert (labels[1:] == 1).all()


def test_late_fusion_regressor_predicts_the_mean_naming_rows_by_label():
    X, y = patients()
    target = y.astype(float) * 10 + np.arange(len(y))
    train = X.index.difference(EMPTY, sort=False)
    pipe = _final_step_pipeline(LateFusionRegressor(Ridge())).fit(
        X.loc[train], target.loc[train]
    )
    assert pipe[-1].target_mean_ == pytest.approx(target.loc[train].mean())
    with pytest.warns(MissingModalityWarning, match=NAMED) as record:
        predicted = pipe.predict(X.loc[PREDICTED])
    assert "they are predicted the training mean" in str(record[0].message)
    assert_allclose(predicted[1:], [target.loc[train].mean()] * 2)


def test_blocks_without_an_index_are_named_by_position():
    blocks = ModalityBlocks(
        {"a": np.array([[1.0], [np.nan], [3.0]])}, masks={"a": [True, False, True]}
    )
    fusion = ConcatFusion().fit(blocks[[0, 2]])
    with pytest.warns(MissingModalityWarning, match=r"Rows \[1\] have no modality"):
        fusion.transform(blocks)


def test_compare_fusions_baselines_do_not_warn_about_their_absent_modality():
    # Every row holds some modality; rows lacking one modality are what a
    # single-modality baseline means, not news about the cohort.
    X, y = patients()
    X, y = X.drop(index=EMPTY), y.drop(index=EMPTY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingModalityWarning)
        result = compare_fusions(
            union(),
            X,
            y,
            fusions={"concat": ConcatFusion()},
            heads={"lr": LogisticRegression()},
            cv=3,
            random_state=0,
        )
    assert len(result.baselines_) == 2


@pytest.mark.parametrize("name", TRANSFORMER_FUSIONS)
def test_transformer_fusion_pandas_output_keeps_the_row_labels(name):
    fusion, _ = TRANSFORMER_FUSIONS[name]
    X, _ = patients()
    training = X.drop(index=EMPTY)
    pipe = Pipeline([("union", union()), ("fusion", fusion)]).set_output(
        transform="pandas"
    )
    fused = pipe.fit(training).transform(training.loc[["p3", "p40", "p5"]])
    assert fused.index.tolist() == ["p3", "p40", "p5"]
    assert fused.columns.tolist() == pipe[-1].get_feature_names_out().tolist()
