import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from polymodal import MultimodalUnion
from polymodal.exceptions import GroupLeakageWarning
from polymodal.fusion import ConcatFusion, KernelFusion, LateFusionClassifier
from polymodal.model_selection import FusionComparison, compare_fusions
from polymodal.model_selection._statistics import corrected_interval, corrected_ttest


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
        final_fusions={"late": LateFusionClassifier(LogisticRegression())},
        cv=3,
        random_state=0,
    )
    # 2 fusions x 2 heads + 2 modalities x 2 heads + 1 final-step fusion.
    assert len(result.candidates_) == 9
    # One fit per fold, on that fold's training rows, then one refit of the
    # best pipeline on all rows: not one per candidate and fold (27).
    train_sizes = result.scores_.drop_duplicates("fold")["n_train"].tolist()
    assert CountingScaler.fits == [*train_sizes, len(X)]
    assert set(result.scores_["fold"]) == {0, 1, 2}


def test_pipeline_memory_spares_grid_search_the_union_refits(data, tmp_path):
    X, y = data
    CountingScaler.fits.clear()
    pipe = Pipeline(
        [
            ("union", make_union()),
            ("fusion", ConcatFusion()),
            ("head", LogisticRegression()),
        ],
        memory=joblib.Memory(tmp_path, verbose=0),
    )
    search = GridSearchCV(
        pipe,
        {"head__C": [0.1, 1.0, 10.0], "fusion__indicators": [True, False]},
        cv=3,
        refit=False,
    )
    search.fit(X, y)
    # The union comes before the searched steps: one fit per fold, the other
    # five candidates of the fold load it from the cache.
    assert len(CountingScaler.fits) == 3
    search.fit(X, y)
    assert len(CountingScaler.fits) == 3
    without_memory = GridSearchCV(pipe.set_params(memory=None), search.param_grid, cv=3)
    np.testing.assert_allclose(
        without_memory.fit(X, y).cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
    )


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
    assert result.metrics_ == ["roc_auc", "average_precision", "balanced_accuracy"]
    pipe = Pipeline(
        [
            ("union", make_union()),
            ("fusion", ConcatFusion()),
            ("head", RandomForestClassifier(n_estimators=20, random_state=0)),
        ]
    )
    expected = cross_validate(
        pipe,
        X,
        y,
        cv=StratifiedKFold(4, shuffle=True, random_state=3),
        scoring=result.metrics_,
    )
    for metric in result.metrics_:
        ours = result.scores_.query("metric == @metric")["score"].to_numpy()
        np.testing.assert_allclose(ours, expected[f"test_{metric}"])


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
    assert frame["rank"].tolist() == [1, 2, 3]
    assert set(frame.index) == {
        "concatfusion + logisticregression",
        "age only + logisticregression",
        "smoking only + logisticregression",
    }
    assert {"roc_auc_sd", "accuracy_mean", "accuracy_ci_high"} <= set(frame.columns)
    markdown = result.to_markdown()
    assert markdown.splitlines()[0] == (
        "| rank | candidate | roc_auc | accuracy | roc_auc 95% CI | p vs best "
        "| p vs best single modality | vs chance |"
    )
    assert len(markdown.splitlines()) == 2 + 3
    assert " ± " in markdown
    assert result.best_estimator_.predict_proba(X).shape == (len(X), 2)


def test_statistics_follow_the_fold_scores(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={
            "lr": LogisticRegression(),
            "rf": RandomForestClassifier(20, random_state=0),
        },
        cv=4,
        random_state=0,
    )
    frame = result.to_frame()
    folds = result.scores_.drop_duplicates("fold")
    assert folds["n_train"].tolist() == [36] * 4
    assert folds["n_test"].tolist() == [12] * 4
    table = result.scores_.pivot_table(
        index=["metric", "candidate"], columns="fold", values="score"
    )
    for metric in result.metrics_:
        for candidate in frame.index:
            scores = table.loc[(metric, candidate)].to_numpy()
            low, high = corrected_interval(scores, 36, 12)
            row = frame.loc[candidate]
            assert row[f"{metric}_mean"] == pytest.approx(scores.mean())
            assert row[f"{metric}_sd"] == pytest.approx(np.std(scores, ddof=1))
            # Every default metric lies in [0, 1], and so does its interval.
            assert (row[f"{metric}_ci_low"], row[f"{metric}_ci_high"]) == (
                pytest.approx((max(low, 0.0), min(high, 1.0)))
            )
    auc = table.loc["roc_auc"]
    best, baseline = result.best_candidate_, result.best_baseline_
    assert baseline in result.baselines_
    assert baseline == frame.loc[result.baselines_, "roc_auc_mean"].idxmax()
    for candidate in frame.index:
        row = frame.loc[candidate]
        for reference, suffix in ((best, "best"), (baseline, "baseline")):
            if candidate == reference:
                assert np.isnan(row[f"t_vs_{suffix}"])
                assert np.isnan(row[f"p_vs_{suffix}"])
                continue
            t, p = corrected_ttest(auc.loc[candidate], auc.loc[reference], 36, 12)
            assert row[f"t_vs_{suffix}"] == pytest.approx(t)
            assert row[f"p_vs_{suffix}"] == pytest.approx(p)
    assert (frame["t_vs_best"].dropna() <= 0).all()
    difference = result.difference("concat + lr", baseline)
    row = frame.loc["concat + lr"]
    assert difference["mean"] == pytest.approx(
        row["roc_auc_mean"] - frame.loc[baseline, "roc_auc_mean"]
    )
    assert difference["t"] == pytest.approx(row["t_vs_baseline"])
    assert difference["p"] == pytest.approx(row["p_vs_baseline"])
    assert difference["ci_low"] <= difference["mean"] <= difference["ci_high"]
    reverse = result.difference(baseline, "concat + lr")
    assert reverse["t"] == pytest.approx(-difference["t"])
    assert reverse["ci_low"] == pytest.approx(-difference["ci_high"])
    accuracy = result.difference("concat + lr", baseline, metric="balanced_accuracy")
    assert accuracy["mean"] == pytest.approx(
        row["balanced_accuracy_mean"] - frame.loc[baseline, "balanced_accuracy_mean"]
    )
    with pytest.raises(ValueError, match="No candidate named 'nope'"):
        result.difference(best, "nope")
    with pytest.raises(ValueError, match="metric 'r2' was not scored"):
        result.difference(best, baseline, metric="r2")


def test_without_baselines_the_baseline_tests_are_empty(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        cv=3,
        random_state=0,
        baselines=None,
    )
    assert result.best_baseline_ is None
    assert result.baselines_ == []
    assert result.to_frame()[["t_vs_baseline", "p_vs_baseline"]].isna().all().all()
    assert "single modality" not in result.to_markdown()


def test_default_metrics_for_regressors_and_multiclass_targets(data):
    X, y = data
    groups = np.arange(len(y)) // 4
    outcome = X["age"].to_numpy() * 0.1 + y
    with warnings.catch_warnings():
        warnings.simplefilter("error", GroupLeakageWarning)
        result = compare_fusions(
            make_union(),
            X,
            outcome,
            fusions={"concat": ConcatFusion()},
            heads={"ridge": Ridge()},
            cv=3,
            groups=groups,
            random_state=0,
        )
    assert result.metrics_ == ["r2", "neg_mean_absolute_error"]
    assert result.best_candidate_ == "concat + ridge"
    three_classes = np.arange(len(y)) % 3
    result = compare_fusions(
        make_union(),
        X,
        three_classes,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        cv=3,
        random_state=0,
        baselines=None,
    )
    assert result.metrics_[0] == "roc_auc_ovr"
    assert result.scores_["score"].notna().all()
    words = np.where(y == 1, "cancer", "benign")
    result = compare_fusions(
        make_union(),
        X,
        words,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        cv=3,
        random_state=0,
        baselines=None,
    )
    assert result.metrics_ == ["roc_auc", "balanced_accuracy"]


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
    with pytest.raises(ValueError, match="non-empty list of metric names"):
        compare_fusions(
            make_union(), X, y, fusions=[ConcatFusion()], heads=heads, scoring=[]
        )


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored:UserWarning")
def test_a_splitter_that_mixes_groups_is_named_in_a_warning(data):
    X, y = data
    groups = np.array([f"P{row // 4:02d}" for row in range(len(y))])
    with pytest.warns(GroupLeakageWarning, match=r"of 3 of 3 folds: fold 0 \(groups '"):
        compare_fusions(
            make_union(),
            X,
            y,
            fusions={"concat": ConcatFusion()},
            heads={"lr": LogisticRegression()},
            cv=KFold(3, shuffle=True, random_state=0),
            groups=groups,
            baselines=None,
        )
    # KFold without shuffling keeps each patient's four consecutive rows
    # together here: no fold mixes a group.
    with warnings.catch_warnings():
        warnings.simplefilter("error", GroupLeakageWarning)
        compare_fusions(
            make_union(),
            X,
            y,
            fusions={"concat": ConcatFusion()},
            heads={"lr": LogisticRegression()},
            cv=KFold(3),
            groups=groups,
            baselines=None,
        )


def test_parallel_folds_give_the_serial_scores(data):
    X, y = data
    arguments = {
        "fusions": {"concat": ConcatFusion()},
        "heads": {"rf": RandomForestClassifier(10, random_state=0)},
        "cv": 3,
        "random_state": 0,
    }
    serial = compare_fusions(make_union(), X, y, **arguments)
    with joblib.parallel_config(backend="threading"):
        threads = compare_fusions(make_union(), X, y, n_jobs=2, **arguments)
    pd.testing.assert_frame_equal(serial.scores_, threads.scores_)


@pytest.mark.slow
def test_dask_backend_gives_the_serial_scores(data):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    X, y = data
    arguments = {
        "fusions": {"concat": ConcatFusion()},
        "heads": {"rf": RandomForestClassifier(10, random_state=0)},
        "cv": 3,
        "random_state": 0,
    }
    serial = compare_fusions(make_union(), X, y, **arguments)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = compare_fusions(make_union(), X, y, n_jobs=2, **arguments)
    pd.testing.assert_frame_equal(serial.scores_, on_dask.scores_)


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
    late_scores = result.scores_.query("candidate == 'late' and metric == 'roc_auc'")[
        "score"
    ]
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


def test_chance_is_the_no_information_model_on_the_same_folds(data):
    X, y = data
    result = compare_fusions(
        make_union(),
        X,
        y,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression()},
        scoring=["roc_auc", "accuracy"],
        cv=4,
        random_state=0,
    )
    np.testing.assert_array_equal(result.chance_scores_["roc_auc"], 0.5)
    splits = StratifiedKFold(4, shuffle=True, random_state=0).split(X, y)
    majority = [
        np.mean(y[test] == np.bincount(y[train]).argmax()) for train, test in splits
    ]
    np.testing.assert_allclose(result.chance_scores_["accuracy"], majority)
    frame = result.to_frame()
    expected = [
        corrected_ttest(
            result.fold_scores().loc[name], [0.5] * 4, *result._fold_sizes()
        )[1]
        for name in frame.index
    ]
    np.testing.assert_allclose(frame["p_vs_chance"], expected)
