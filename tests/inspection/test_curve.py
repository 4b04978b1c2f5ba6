import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from polymodal.inspection import MissingModalityCurve, missing_modality_curve
from polymodal.inspection._common import permute_rows, remove_cells

FOLDS = StratifiedKFold(3, shuffle=True, random_state=0)


def test_informative_modality_curve_falls_noise_curve_stays_flat(cohort, make_pipe):
    X, y = cohort
    signal, noise = (
        missing_modality_curve(
            make_pipe(), X, y, name, scoring="roc_auc", cv=FOLDS, random_state=0
        )
        for name in ("signal", "noise")
    )
    assert isinstance(signal, MissingModalityCurve)
    np.testing.assert_array_equal(signal.rates, [0.0, 0.1, 0.3, 0.5, 0.7])
    assert signal.scores.shape == (5, 3)
    assert np.all(np.diff(signal.scores_mean) < 0)
    assert signal.scores_mean[0] - signal.scores_mean[-1] > 0.2
    assert np.ptp(noise.scores_mean) < 0.03
    # Nothing removed: both curves start at the full model's score.
    assert signal.scores_mean[0] == noise.scores_mean[0]
    assert signal.chance_score == 0.5


def test_all_rows_removed_with_repeats(cohort, make_pipe):
    X, y = cohort
    curve = missing_modality_curve(
        make_pipe(), X, y, "signal", rates=[0, 1], n_repeats=2, cv=FOLDS, random_state=0
    )
    assert curve.scores.shape == (2, 6)
    assert curve.scores_mean[1] < curve.scores_mean[0]


def test_unknown_modality_names_the_modalities(cohort, make_pipe):
    X, y = cohort
    with pytest.raises(ValueError, match=r"'ct'.*\['signal', 'noise'\]"):
        missing_modality_curve(make_pipe(), X, y, "ct")


def test_invalid_arguments(cohort, make_pipe):
    X, y = cohort
    with pytest.raises(ValueError, match="between 0 and 1"):
        missing_modality_curve(make_pipe(), X, y, "signal", rates=[0, 1.5])
    with pytest.raises(ValueError, match="n_repeats must be an int >= 1"):
        missing_modality_curve(make_pipe(), X, y, "signal", n_repeats=0)
    with pytest.raises(TypeError, match="MultimodalUnion"):
        missing_modality_curve(LogisticRegression(), X, y, "signal")


def test_deterministic_and_leaves_data_alone(cohort, make_pipe):
    X, y = cohort
    X_before = X.copy()
    first, second = (
        missing_modality_curve(make_pipe(), X, y, "signal", cv=3, random_state=3)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.scores, second.scores)
    pd.testing.assert_frame_equal(X, X_before)


def test_to_frame_and_plot(cohort, make_pipe):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = cohort
    curve = missing_modality_curve(
        make_pipe(), X, y, "signal", rates=[0, 0.5], cv=FOLDS, random_state=0
    )
    frame = curve.to_frame()
    assert frame.index.tolist() == [0.0, 0.5]
    assert list(frame.columns) == ["score_mean", "score_std"]
    ax = curve.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_ylabel() == "score"
    plt.close("all")
    assert "signal" in repr(curve)


def test_remove_cells_uses_the_unions_missing_values():
    X = pd.DataFrame(
        {
            "note": pd.Series(["a", "b", "c"], dtype=object),
            "text": ["a", "b", "c"],
            "age": [60.0, 70.0, 80.0],
            "count": [1, 2, 3],
            "other": ["x", "y", "z"],
        }
    )
    out = remove_cells(X, [0, 1, 2, 3], [0, 2])
    assert out["note"].tolist() == [None, "b", None]
    # A string column gets its dtype's missing value (pandas 3: NaN).
    assert out["text"].isna().tolist() == [True, False, True]
    assert out["age"].isna().tolist() == [True, False, True]
    assert out["count"].isna().tolist() == [True, False, True]
    assert out["other"].tolist() == ["x", "y", "z"]
    assert X["note"].tolist() == ["a", "b", "c"]
    array = remove_cells(np.arange(6).reshape(3, 2), [1], [1])
    assert np.isnan(array[1, 1]) and array[1, 0] == 2
    objects = remove_cells(np.array([["a", 1], ["b", 2]], dtype=object), [0], [0])
    assert objects[0, 0] is None


def test_permute_rows_moves_whole_rows_of_a_modality():
    X = pd.DataFrame(
        {"note": ["a", None, "c"], "age": [1.0, np.nan, 3.0], "other": [7, 8, 9]},
        index=[10, 11, 12],
    )
    out = permute_rows(X, [0, 1], np.array([1, 2, 0]))
    assert out["note"].isna().tolist() == [True, False, False]
    assert out["note"].tolist()[1:] == ["c", "a"]
    assert out["age"].tolist()[1:] == [3.0, 1.0] and np.isnan(out["age"].iloc[0])
    assert out["other"].tolist() == [7, 8, 9]
    assert out.index.tolist() == [10, 11, 12]
    array = permute_rows(np.arange(6).reshape(3, 2), [0], np.array([2, 0, 1]))
    np.testing.assert_array_equal(array, [[4, 1], [0, 3], [2, 5]])
    with pytest.raises(TypeError, match="DataFrame"):
        permute_rows([[1, 2]], [0], np.array([0]))


def test_curve_of_a_text_modality_with_absent_rows():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from polymodal import MultimodalUnion
    from polymodal.datasets import make_patients
    from polymodal.fusion import ConcatFusion

    X, y = make_patients(n_samples=120, missing={"note": 0.2}, random_state=0)
    union = MultimodalUnion(
        [
            ("note", TfidfVectorizer(min_df=2), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )
    pipe = Pipeline(
        [("union", union), ("fusion", ConcatFusion()), ("head", LogisticRegression())]
    )
    curve = missing_modality_curve(
        pipe, X, y, "note", rates=[0, 1], scoring="roc_auc", cv=3, random_state=0
    )
    assert np.isfinite(curve.scores).all()
