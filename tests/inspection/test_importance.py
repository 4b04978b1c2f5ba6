import sys

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from sklearn.compose import make_column_selector
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion, LateFusionClassifier
from polymodal.inspection import ModalityImportance, modality_importance
from polymodal.inspection._common import make_splits, subset_pipeline

FOLDS = StratifiedKFold(3, shuffle=True, random_state=0)


def test_shapley_credits_the_informative_modality(cohort, make_pipe):
    X, y = cohort
    result = modality_importance(
        make_pipe(), X, y, scoring="roc_auc", cv=3, random_state=0
    )
    assert isinstance(result, ModalityImportance)
    assert result.method == "shapley"
    assert result.modalities == ["signal", "noise"]
    signal, noise = result.importances_mean
    assert signal > 0.3
    assert abs(noise) < 0.05
    assert result.importances.shape == (2, 3)
    assert result.to_frame().index.tolist() == ["signal", "noise"]


def test_shapley_values_add_up_to_full_minus_chance(cohort, make_pipe):
    X, y = cohort
    result = modality_importance(
        make_pipe(("signal", "weak", "noise")), X, y, scoring="roc_auc", cv=FOLDS
    )
    assert result.chance_score == 0.5
    assert result.importances_mean.sum() == pytest.approx(
        result.full_score - result.chance_score, abs=1e-12
    )
    # Per fold too: each fold's values share out that fold's gain.
    full, chance = (
        result.subset_scores[("signal", "weak", "noise")],
        result.subset_scores[()],
    )
    np.testing.assert_allclose(
        result.importances.sum(axis=0), full - chance, atol=1e-12
    )


def test_exact_shapley_of_three_modalities_by_hand(cohort, make_pipe):
    X, y = cohort
    pipe = make_pipe(("signal", "weak", "noise"))
    result = modality_importance(pipe, X, y, scoring="roc_auc", cv=FOLDS)
    v = {frozenset(k): s.mean() for k, s in result.subset_scores.items()}
    assert len(v) == 8

    def value(*names):
        return v[frozenset(names)]

    def shapley(a, b, c):
        return (
            (value(a) - value()) / 3
            + (value(a, b) - value(b)) / 6
            + (value(a, c) - value(c)) / 6
            + (value(a, b, c) - value(b, c)) / 3
        )

    expected = [
        shapley("signal", "weak", "noise"),
        shapley("weak", "signal", "noise"),
        shapley("noise", "signal", "weak"),
    ]
    np.testing.assert_allclose(result.importances_mean, expected, atol=1e-12)
    # A subset's value is the cross-validated score of the pipeline without
    # the other modalities, on the same folds.
    alone = cross_val_score(make_pipe(("signal",)), X, y, cv=FOLDS, scoring="roc_auc")
    np.testing.assert_allclose(result.subset_scores[("signal",)], alone)
    order = result.to_frame().index.tolist()
    assert order[0] == "signal" and order[-1] == "noise"


class CountingScaler(StandardScaler):
    """A scaler that records every fit (class-level, so clones count too)."""

    fits = []

    def fit(self, X, y=None, sample_weight=None):
        CountingScaler.fits.append(len(X))
        return super().fit(X, y, sample_weight)


def test_each_subset_is_fitted_once_per_fold(cohort):
    X, y = cohort
    union = MultimodalUnion(
        [
            ("signal", CountingScaler(), ["s1", "s2"]),
            ("weak", StandardScaler(), ["w1"]),
            ("noise", StandardScaler(), ["n1", "n2"]),
        ]
    )
    pipe = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", LogisticRegression())]
    )
    CountingScaler.fits.clear()
    modality_importance(pipe, X, y, cv=FOLDS)
    # 4 of the 8 subsets hold "signal"; 3 folds each.
    assert len(CountingScaler.fits) == 4 * 3


def test_sampled_shapley_beyond_max_exact(cohort, make_pipe):
    X, y = cohort
    pipe = make_pipe(("signal", "weak", "noise"))
    sampled = modality_importance(
        pipe,
        X,
        y,
        scoring="roc_auc",
        cv=FOLDS,
        max_exact=2,
        n_samples=30,
        random_state=0,
    )
    exact = modality_importance(pipe, X, y, scoring="roc_auc", cv=FOLDS)
    assert sampled.importances_mean.sum() == pytest.approx(
        sampled.full_score - sampled.chance_score, abs=1e-12
    )
    assert sampled.to_frame().index[0] == "signal"
    np.testing.assert_allclose(
        sampled.importances_mean, exact.importances_mean, atol=0.05
    )


def test_ablation_is_drop_one_loss(cohort, make_pipe):
    X, y = cohort
    result = modality_importance(
        make_pipe(("signal", "weak", "noise")),
        X,
        y,
        method="ablation",
        scoring="roc_auc",
        cv=FOLDS,
    )
    assert result.method == "ablation"
    assert result.to_frame().index[0] == "signal"
    full = result.subset_scores[("signal", "weak", "noise")]
    np.testing.assert_allclose(
        result.importances[0], full - result.subset_scores[("weak", "noise")]
    )
    assert abs(result.importances_mean[2]) < 0.05


def test_permutation_ranks_and_leaves_estimator_and_data_alone(cohort, make_pipe):
    X, y = cohort
    pipe = make_pipe()
    params = repr(pipe.get_params(deep=True))
    X_before = X.copy()
    result = modality_importance(
        pipe,
        X,
        y,
        method="permutation",
        n_repeats=3,
        scoring="roc_auc",
        cv=FOLDS,
        random_state=0,
    )
    assert result.importances.shape == (2, 3 * 3)
    signal, noise = result.importances_mean
    assert signal > 0.3
    assert abs(noise) < 0.05
    assert result.chance_score == 0.5
    assert repr(pipe.get_params(deep=True)) == params
    assert not hasattr(pipe.named_steps["head"], "coef_")
    pd.testing.assert_frame_equal(X, X_before)


def test_permutation_on_an_array_with_positional_columns(cohort):
    X, y = cohort
    union = MultimodalUnion(
        [("signal", StandardScaler(), [0, 1]), ("noise", StandardScaler(), [3, 4])]
    )
    pipe = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", LogisticRegression())]
    )
    result = modality_importance(
        pipe,
        X.to_numpy(),
        y,
        method="permutation",
        scoring="roc_auc",
        cv=FOLDS,
        random_state=0,
    )
    assert result.to_frame().index[0] == "signal"


def test_chance_level_is_the_dummy_score_under_the_same_folds(cohort, make_pipe):
    X, y = cohort
    result = modality_importance(
        make_pipe(), X, y, method="ablation", scoring="accuracy", cv=FOLDS
    )
    dummy = cross_val_score(DummyClassifier(), X, y, cv=FOLDS, scoring="accuracy")
    np.testing.assert_allclose(result.subset_scores[()], dummy)


def test_regressor_uses_the_training_mean_as_chance(cohort):
    X, _ = cohort
    target = X["s1"] * 2 + X["s2"]
    union = MultimodalUnion(
        [
            ("signal", StandardScaler(), ["s1", "s2"]),
            ("noise", StandardScaler(), ["n1", "n2"]),
        ]
    )
    pipe = Pipeline([("union", union), ("fusion", ConcatFusion()), ("head", Ridge())])
    result = modality_importance(pipe, X, target, cv=3, random_state=0)
    assert result.chance_score < 0.0 < result.full_score
    assert result.importances_mean.sum() == pytest.approx(
        result.full_score - result.chance_score
    )
    assert result.to_frame().index[0] == "signal"


def test_fusion_weights_naming_a_dropped_modality_are_dropped(cohort, make_pipe):
    X, y = cohort
    pipe = make_pipe(fusion=ConcatFusion(weights={"signal": 2.0, "noise": 0.5}))
    result = modality_importance(pipe, X, y, scoring="roc_auc", cv=FOLDS)
    assert result.importances_mean.sum() == pytest.approx(result.full_score - 0.5)
    alone = subset_pipeline(pipe, "union", ["signal", "noise"], ("signal",))
    assert alone.named_steps["fusion"].weights == {"signal": 2.0}
    assert pipe.named_steps["fusion"].weights == {"signal": 2.0, "noise": 0.5}


def test_late_fusion_estimators_and_weights_of_dropped_modalities(cohort, make_pipe):
    X, y = cohort
    late = LateFusionClassifier(
        LogisticRegression(),
        estimators=[("noise", LogisticRegression(C=0.1))],
        weights={"signal": 1.0, "noise": 0.5},
    )
    pipe = make_pipe(fusion="passthrough", head=late)
    result = modality_importance(
        pipe, X, y, method="ablation", scoring="roc_auc", cv=FOLDS
    )
    assert result.to_frame().index[0] == "signal"
    alone = subset_pipeline(pipe, "union", ["signal", "noise"], ("signal",))
    assert alone.named_steps["head"].estimators == []
    assert alone.named_steps["head"].weights == {"signal": 1.0}


def test_remainder_is_a_modality(cohort):
    X, y = cohort
    union = MultimodalUnion(
        [("signal", StandardScaler(), ["s1", "s2"])], remainder="passthrough"
    )
    pipe = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", LogisticRegression())]
    )
    result = modality_importance(pipe, X, y, method="ablation", cv=FOLDS)
    assert result.modalities == ["signal", "remainder"]
    assert result.subset_scores[("signal",)].shape == (3,)


def test_deterministic_with_random_state(cohort, make_pipe):
    X, y = cohort
    for method in ("shapley", "permutation"):
        first, second = (
            modality_importance(
                make_pipe(), X, y, method=method, n_repeats=2, random_state=7
            )
            for _ in range(2)
        )
        np.testing.assert_array_equal(first.importances, second.importances)


def test_grouped_folds_keep_groups_apart(cohort, make_pipe):
    X, y = cohort
    groups = np.arange(len(y)) // 3
    splits = make_splits(make_pipe(), X, y, 4, groups, np.random.RandomState(0))
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    modality_importance(make_pipe(), X, y, groups=groups, cv=4, random_state=0)


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (LogisticRegression(), "got a LogisticRegression"),
        (
            Pipeline([("scale", StandardScaler()), ("head", LogisticRegression())]),
            "first step is a StandardScaler",
        ),
    ],
)
def test_estimator_must_be_a_pipeline_with_a_union(cohort, estimator, message):
    X, y = cohort
    with pytest.raises(TypeError, match=message):
        modality_importance(estimator, X, y)


def test_invalid_arguments(cohort, make_pipe):
    X, y = cohort
    with pytest.raises(ValueError, match="method must be one of"):
        modality_importance(make_pipe(), X, y, method="loco")
    with pytest.raises(ValueError, match="one metric"):
        modality_importance(make_pipe(), X, y, scoring=["roc_auc", "accuracy"])
    with pytest.raises(ValueError, match="n_repeats must be an int >= 1"):
        modality_importance(make_pipe(), X, y, method="permutation", n_repeats=0)
    pipe = make_pipe()
    pipe.set_params(union__signal="drop", union__noise="drop")
    with pytest.raises(ValueError, match="the union produces no modality"):
        modality_importance(pipe, X, y)


def test_to_frame_and_plot(cohort, make_pipe):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = cohort
    result = modality_importance(make_pipe(), X, y, method="ablation", cv=FOLDS)
    frame = result.to_frame()
    assert list(frame.columns) == ["importance_mean", "importance_std"]
    assert frame.index.name == "modality"
    ax = result.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["noise", "signal"]
    _, given = plt.subplots()
    assert result.plot(ax=given) is given
    plt.close("all")
    assert "ablation" in repr(result)


def test_a_fitted_estimator_is_not_refitted_in_place(cohort, make_pipe):
    X, y = cohort
    pipe = make_pipe().fit(X, y)
    coef = pipe.named_steps["head"].coef_.copy()
    modality_importance(pipe, X, y, method="permutation", cv=FOLDS, n_repeats=1)
    np.testing.assert_array_equal(pipe.named_steps["head"].coef_, coef)


def test_result_does_not_depend_on_n_jobs(cohort, make_pipe):
    X, y = cohort
    serial = modality_importance(make_pipe(), X, y, cv=FOLDS)
    # Threads exercise the same task split as processes, without their start-up.
    with parallel_config(backend="threading"):
        parallel = modality_importance(make_pipe(), X, y, cv=FOLDS, n_jobs=2)
    np.testing.assert_array_equal(serial.importances, parallel.importances)


def test_dict_input_and_modalities_without_columns(cohort, make_pipe):
    X, y = cohort
    pipe = make_pipe()
    pipe.set_params(
        union__transformers=[
            *pipe.named_steps["union"].transformers,
            ("images", StandardScaler(), make_column_selector(pattern="^img_")),
        ]
    )
    result = modality_importance(
        pipe, X.to_dict("list"), y, method="ablation", cv=FOLDS
    )
    # The union makes no block of a modality that selects no column.
    assert result.modalities == ["signal", "noise"]


def test_cohort_with_text_and_absent_rows():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from polymodal.datasets import make_patients

    X, y = make_patients(
        n_samples=120, missing={"note": 0.3, "clinical": 0.2}, random_state=0
    )
    union = MultimodalUnion(
        [
            ("note", TfidfVectorizer(min_df=2), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )
    pipe = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", LogisticRegression())]
    )
    for method in ("shapley", "permutation"):
        result = modality_importance(
            pipe,
            X,
            y,
            method=method,
            scoring="roc_auc",
            cv=3,
            n_repeats=2,
            random_state=0,
        )
        assert result.modalities == ["note", "clinical"]
        assert np.isfinite(result.importances).all()


def test_plot_without_matplotlib_names_it(monkeypatch):
    result = ModalityImportance(
        ["note"],
        "ablation",
        np.zeros((1, 2)),
        {(): np.full(2, 0.5), ("note",): np.full(2, 0.7)},
        "roc_auc",
    )
    # A None entry in sys.modules makes the import fail as if not installed.
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="ModalityImportance.plot needs matplotlib"):
        result.plot()
