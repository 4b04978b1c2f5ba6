import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion, KernelFusion, LateFusionClassifier
from polymodal.model_selection import FusionComparison, compare_fusions


class CountingScaler(StandardScaler):
    """A scaler that counts its fits across clones (class-level counter)."""

    fits = []

    def fit(self, X, y=None, sample_weight=None):
        CountingScaler.fits.append(len(X))
        return super().fit(X, y, sample_weight)


@pytest.fixture
def data(frame, target):
    rng = np.random.default_rng(0)
    X = frame.loc[frame.index.repeat(4)].reset_index(drop=True)
    X["age"] = X["age"] + rng.normal(0, 1, len(X))
    return X, np.repeat(target, 4)


def make_union():
    return MultimodalUnion(
        [
            ("age", CountingScaler(), ["age"]),
            ("smoking", StandardScaler(), ["pack_years"]),
        ]
    )


def test_union_is_fitted_once_per_fold_whatever_the_candidates(data):
    X, y = data
    CountingScaler.fits.clear()
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={
            "concat": ConcatFusion(),
            "concat-noind": ConcatFusion(indicators=False),
        },
        heads={"lr": LogisticRegression(), "lr-weak": LogisticRegression(C=0.01)},
        cv=3,
        random_state=0,
    )
    # 3 folds + 1 refit of the best pipeline on all rows.
    assert len(CountingScaler.fits) == 4
    # 2 fusions x 2 heads + 2 modalities x 2 heads.
    assert len(result.candidates_) == 8
    assert set(result.scores_["fold"]) == {0, 1, 2}


def test_scores_equal_a_hand_written_cross_validation(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"rf": RandomForestClassifier(n_estimators=20, random_state=0)},
        cv=4,
        random_state=3,
        baselines=None,
    )
    pipe = Pipeline(
        [
            ("union", make_union()),
            ("fusion", ConcatFusion()),
            ("head", RandomForestClassifier(n_estimators=20, random_state=0)),
        ]
    )
    expected = cross_val_score(
        pipe,
        X,
        y,
        cv=StratifiedKFold(4, shuffle=True, random_state=3),
        scoring="roc_auc",
    )
    ours = result.scores_.query("candidate == 'concat + rf'")["score"].to_numpy()
    np.testing.assert_allclose(ours, expected)


def test_summary_ranking_and_best_estimator(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions=[ConcatFusion()],
        heads=[LogisticRegression()],
        scoring=["roc_auc", "accuracy"],
        cv=3,
        random_state=0,
    )
    assert isinstance(result, FusionComparison)
    frame = result.to_frame()
    assert frame.index[0] == result.best_candidate_
    assert frame["roc_auc_mean"].is_monotonic_decreasing
    assert set(frame.index) == {
        "concatfusion + logisticregression",
        "age only + logisticregression",
        "smoking only + logisticregression",
    }
    assert {"roc_auc_sd", "accuracy_mean"} <= set(frame.columns)
    markdown = result.to_markdown()
    assert markdown.splitlines()[0] == "| rank | candidate | roc_auc | accuracy |"
    assert " ± " in markdown
    assert result.best_estimator_.predict_proba(X).shape == (len(X), 2)


def test_single_modality_baseline_pipeline_drops_the_others(data):
    X, y = data
    X = X.assign(age=0.0)  # no signal in age: a pack-years-only candidate wins
    X["pack_years"] = y * 10.0 + np.random.default_rng(0).normal(0, 1, len(y))
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        cv=3,
        random_state=0,
    )
    scores = result.to_frame()["roc_auc_mean"]
    assert scores["smoking only + lr"] > 0.95
    assert scores["age only + lr"] == pytest.approx(0.5)
    if result.best_candidate_ == "smoking only + lr":
        union = result.best_estimator_.named_steps["union"]
        assert union.named_transformers_["age"] == "drop"


def test_groups_keep_patients_on_one_side(data):
    X, y = data
    groups = np.arange(len(y)) // 4  # each patient has four rows

    class RecordsRows(TransformerMixin, BaseEstimator):
        seen = []

        def fit(self, X, y=None):
            RecordsRows.seen.append(set(X.index))
            return self

        def transform(self, X):
            return np.asarray(X, dtype=float)

    union = MultimodalUnion([("age", RecordsRows(), ["age"])])
    RecordsRows.seen.clear()
    compare_fusions(
        union,
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        cv=3,
        groups=groups,
        random_state=0,
        baselines=None,
    )
    for train_rows in RecordsRows.seen[:-1]:
        train_groups = set(groups[list(train_rows)])
        test_groups = set(groups) - train_groups
        assert not train_groups & test_groups
        assert test_groups


def test_bad_arguments(data):
    X, y = data
    heads = {"lr": LogisticRegression()}
    with pytest.raises(TypeError, match="takes a MultimodalUnion"):
        compare_fusions(StandardScaler(), X, y, fusions=[ConcatFusion()], heads=heads)
    with pytest.raises(ValueError, match="share the name 'concatfusion'"):
        compare_fusions(
            make_union(), X, y, fusions=[ConcatFusion(), ConcatFusion()], heads=heads
        )
    with pytest.raises(ValueError, match="at least one of the heads"):
        compare_fusions(make_union(), X, y, fusions=[ConcatFusion()], heads={})
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        compare_fusions(make_union(), X, y[:-1], fusions=[ConcatFusion()], heads=heads)


def test_kernel_fusion_pairs_only_with_precomputed_kernel_heads(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion(), "kernel": KernelFusion()},
        heads={"lr": LogisticRegression(), "svm": SVC(kernel="precomputed")},
        cv=3,
        random_state=0,
    )
    names = {candidate.name for candidate in result.candidates_}
    assert {"concat + lr", "kernel + svm"} <= names
    assert "age only + svm" not in names
    assert sorted(result.skipped_) == ["concat + svm", "kernel + lr"]
    with pytest.raises(ValueError, match="No fusion × head pair fits"):
        compare_fusions(
            make_union(),
            X,
            y,
            fusions={"kernel": KernelFusion()},
            heads={"lr": LogisticRegression()},
            baselines=None,
        )


def test_final_step_fusions_are_candidates(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        final_fusions={"late": LateFusionClassifier(LogisticRegression())},
        cv=3,
        random_state=0,
        baselines=None,
    )
    assert set(result.to_frame().index) == {"concat + lr", "late"}
    late_scores = result.scores_.query("candidate == 'late'")["score"]
    assert late_scores.between(0, 1).all()
    assert len(late_scores) == 3
    with pytest.raises(ValueError, match=r"share the names \['lr'\]"):
        compare_fusions(
            make_union(),
            X,
            y,
            fusions={"concat": ConcatFusion()},
            heads={"lr": LogisticRegression()},
            final_fusions={"lr": LateFusionClassifier()},
        )


def test_best_final_step_pipeline_passes_blocks_through(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"chance": DummyClassifier()},
        final_fusions={"late": LateFusionClassifier(LogisticRegression())},
        cv=3,
        random_state=0,
        baselines=None,
    )
    assert result.best_candidate_ == "late"
    assert result.best_estimator_.named_steps["fusion"] == "passthrough"
    assert result.best_estimator_.predict(X).shape == (len(X),)
