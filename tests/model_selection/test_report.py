import json
import sys

import numpy as np
import pandas as pd
import pytest
import sklearn

import polymodal
from polymodal.model_selection import FusionComparison
from polymodal.model_selection._comparison import _Candidate
from polymodal.model_selection._report import report_text
from polymodal.model_selection._statistics import corrected_interval, corrected_ttest
from polymodal.utils._files import write_atomic

N_TRAIN, N_TEST = 80, 20


def comparison(fold_scores, skipped=()):
    """A FusionComparison of fixed AUROC fold scores, as compare_fusions makes.

    Candidates named "<modality> only + lr" are single-modality baselines.
    """
    candidates, records = [], []
    for name, scores in fold_scores.items():
        modalities = (name.split(" only")[0],) if " only" in name else ()
        fusion = "concat (one modality)" if modalities else name.split(" + ")[0]
        candidate = _Candidate(name, fusion, "lr", modalities)
        candidates.append(candidate)
        records += [
            {
                "candidate": name,
                "fusion": fusion,
                "head": "lr",
                "modalities": ", ".join(modalities) or "all",
                "fold": fold,
                "n_train": N_TRAIN,
                "n_test": N_TEST,
                "metric": "roc_auc",
                "score": score,
            }
            for fold, score in enumerate(scores)
        ]
    n_folds = len(next(iter(fold_scores.values())))
    chance = pd.DataFrame({"roc_auc": np.full(n_folds, 0.5)})
    return FusionComparison(
        pd.DataFrame.from_records(records),
        ["roc_auc"],
        candidates,
        list(skipped),
        chance,
    )


FUSION_WINS = {
    "concat + lr": [0.90, 0.92, 0.91, 0.93, 0.89],
    "ct only + lr": [0.80, 0.83, 0.79, 0.82, 0.81],
    "note only + lr": [0.70, 0.74, 0.69, 0.73, 0.72],
}
CLOSE_CALL = {
    "concat + lr": [0.84, 0.80, 0.86, 0.78, 0.85],
    "ct only + lr": [0.81, 0.82, 0.80, 0.80, 0.81],
}
ONE_MODALITY_WINS = {
    "concat + lr": [0.78, 0.75, 0.80, 0.77, 0.79],
    "ct only + lr": [0.83, 0.81, 0.84, 0.80, 0.82],
}


def test_report_states_the_winner_its_gain_and_its_certainty():
    result = comparison(FUSION_WINS, skipped=["kernel + lr"])
    assert result.best_candidate_ == "concat + lr"
    assert result.best_baseline_ == "ct only + lr"
    differences = np.subtract(FUSION_WINS["concat + lr"], FUSION_WINS["ct only + lr"])
    low, high = corrected_interval(differences, N_TRAIN, N_TEST)
    _, p = corrected_ttest(
        FUSION_WINS["concat + lr"], FUSION_WINS["ct only + lr"], N_TRAIN, N_TEST
    )
    assert p < 0.001
    text = report_text(result, "scores.png")
    assert "**concat + lr** ranks first: roc_auc 0.910" in text
    assert (
        "It beats the best single modality, **ct only + lr** (0.810), by 0.100 "
        f"(95% CI of the difference {low:.3f} to {high:.3f}; p < 0.001)."
    ) in text
    assert "not significant" not in text
    assert "Every other candidate scores significantly below concat + lr." in text
    assert "![roc_auc per candidate, mean and 95% CI](scores.png)" in text
    assert "Nadeau and Bengio" in text
    assert "kernel + lr" in text
    assert result.to_markdown() in text


def test_report_says_when_the_gain_is_not_significant():
    result = comparison(CLOSE_CALL)
    text = report_text(result, "scores.png")
    p = result.to_frame().loc["concat + lr", "p_vs_baseline"]
    assert p >= 0.05
    assert "The difference is not significant at the 5% level" in text
    assert "do not show that concat + lr does better than ct only + lr" in text
    assert "Not significantly different from concat + lr (p ≥ 0.05): ct only" in text


def test_report_when_one_modality_alone_wins():
    result = comparison(ONE_MODALITY_WINS)
    text = report_text(result, "scores.png")
    assert result.best_candidate_ == result.best_baseline_ == "ct only + lr"
    assert "The winner uses one modality only." in text
    assert (
        "**concat + lr** (0.778), trails it by 0.042 (95% CI of the difference "
        "0.018 to 0.066; p = 0.009)."
    ) in text


def test_save_writes_report_figure_and_results(tmp_path):
    pytest.importorskip("matplotlib")
    result = comparison(FUSION_WINS, skipped=["kernel + lr"])
    report = result.save(tmp_path / "out")
    assert report == tmp_path / "out" / "report.md"
    assert sorted(path.name for path in report.parent.iterdir()) == [
        "report.md",
        "results.json",
        "scores.png",
    ]
    assert report.read_text().startswith("# Fusion comparison\n")
    assert (report.parent / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((report.parent / "results.json").read_text())
    assert data["fold_scores"] == {
        name: {"roc_auc": scores} for name, scores in FUSION_WINS.items()
    }
    assert data["metrics"] == ["roc_auc"]
    assert data["ranking_metric"] == "roc_auc"
    assert data["best_candidate"] == "concat + lr"
    assert data["best_single_modality"] == "ct only + lr"
    assert data["skipped"] == ["kernel + lr"]
    assert data["candidates"][1] == {
        "name": "ct only + lr",
        "fusion": "concat (one modality)",
        "head": "lr",
        "modalities": ["ct"],
    }
    assert data["folds"][0] == {"fold": 0, "n_train": N_TRAIN, "n_test": N_TEST}
    assert data["versions"]["polymodal"] == polymodal.__version__
    assert data["versions"]["scikit-learn"] == sklearn.__version__
    statistics = {row["candidate"]: row for row in data["statistics"]}
    frame = result.to_frame()
    assert statistics["note only + lr"]["p_vs_best"] == pytest.approx(
        frame.loc["note only + lr", "p_vs_best"]
    )
    # NaN (the best candidate against itself) is not JSON: it is written null.
    assert statistics["concat + lr"]["p_vs_best"] is None
    assert statistics["concat + lr"]["rank"] == 1
    assert "Nadeau" in data["method"]


def test_save_replaces_files_whole_or_not_at_all(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    result = comparison(FUSION_WINS)
    result.save(tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}

    def interrupted(self, file, **kwargs):
        file.write(b"\x89PNG half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        comparison(CLOSE_CALL).save(tmp_path)
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    # No temporary file is left behind and the figure is the old one, whole;
    # results.json, written before the interruption, is the new one, whole.
    assert sorted(after) == ["report.md", "results.json", "scores.png"]
    assert after["scores.png"] == before["scores.png"]
    assert after["report.md"] == before["report.md"]
    assert json.loads(after["results.json"])["fold_scores"]["concat + lr"] == {
        "roc_auc": CLOSE_CALL["concat + lr"]
    }


def test_write_atomic(tmp_path):
    path = tmp_path / "report.md"
    write_atomic(path, lambda file: file.write(b"first"))
    assert path.read_bytes() == b"first"
    assert path.stat().st_mode & 0o777 == 0o644

    def fails(file):
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, fails)
    assert path.read_bytes() == b"first"
    assert [entry.name for entry in tmp_path.iterdir()] == ["report.md"]


def test_plot_ranks_candidates_with_their_intervals():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    result = comparison(FUSION_WINS)
    ax = result.plot()
    try:
        labels = [label.get_text() for label in ax.get_yticklabels()]
        assert labels == ["concat + lr", "ct only + lr", "note only + lr"]
        points = {}
        for container in ax.containers:
            line = container.lines[0]
            points.update(zip(line.get_ydata(), line.get_xdata(), strict=True))
        means = [points[position] for position in sorted(points)]
        np.testing.assert_allclose(means, [0.91, 0.81, 0.716])
        frame = result.to_frame()
        low, high = ax.get_xlim()
        assert low < frame["roc_auc_ci_low"].min()
        assert high > frame["roc_auc_ci_high"].max()
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == ["all modalities", "one modality"]
        assert ax.get_xlabel() == "roc_auc (mean and 95% CI over folds)"
    finally:
        plt.close(ax.figure)
    with pytest.raises(ValueError, match="metric 'accuracy' was not scored"):
        result.plot(metric="accuracy")


def test_plot_without_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = comparison(FUSION_WINS)
    with pytest.raises(ImportError, match="plot needs matplotlib.*pip install"):
        result.plot()
    with pytest.raises(ImportError, match="save needs matplotlib"):
        result.save("unused")


def test_printed_intervals_stay_inside_the_metric_range():
    # Unclipped, the winner's 95% interval would be [0.890, 1.054]: an AUROC
    # above 1 that no model can reach.
    near_one = [1.0, 0.96, 1.0, 0.90, 1.0]
    result = comparison(
        {"concat + lr": near_one, "ct only + lr": [0.80, 0.83, 0.79, 0.82, 0.81]}
    )
    low, high = corrected_interval(near_one, N_TRAIN, N_TEST)
    assert high > 1
    row = result.to_frame().loc["concat + lr"]
    assert (row["roc_auc_ci_low"], row["roc_auc_ci_high"]) == (
        pytest.approx((low, 1.0))
    )
    assert f"[{low:.3f}, 1.000]" in result.to_markdown()
    text = report_text(result, "scores.png")
    assert f"(95% CI {low:.3f} to 1.000)" in text
    assert "clipped to the range the metric can take" in text
    frame = result.to_frame()
    assert (frame["roc_auc_ci_high"] <= 1).all() and (
        frame["roc_auc_ci_low"] >= 0
    ).all()


ANTI_LEARNING = {
    "concat + lr": [0.80, 0.84, 0.78, 0.82, 0.81],
    "product + lr": [0.40, 0.36, 0.42, 0.38, 0.41],
    "age only + lr": [0.55, 0.45, 0.52, 0.47, 0.51],
}


def test_candidates_are_tested_against_chance_and_anti_learning_is_flagged():
    result = comparison(ANTI_LEARNING)
    frame = result.to_frame()
    assert dict(frame["vs_chance"]) == {
        "concat + lr": "above",
        "age only + lr": "not significant",
        "product + lr": "below",
    }
    t, p = corrected_ttest(ANTI_LEARNING["product + lr"], [0.5] * 5, N_TRAIN, N_TEST)
    assert frame.loc["product + lr", "t_vs_chance"] == pytest.approx(t)
    assert frame.loc["product + lr", "p_vs_chance"] == pytest.approx(p)
    report = report_text(result, "scores.png")
    assert "Below chance: anti-learning, not evidence" in report
    assert "product + lr." in report
    assert "Not shown to beat chance" in report
    assert "| below (p " in result.to_markdown()


def test_estimator_code_builds_the_estimator_again():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from polymodal._recipes import to_dense
    from polymodal.fusion import LateFusionClassifier
    from polymodal.model_selection._report import estimator_code

    estimator = LateFusionClassifier(
        make_pipeline(
            FunctionTransformer(to_dense),
            HistGradientBoostingClassifier(max_iter=7, random_state=3),
        )
    )
    source, imports = estimator_code(estimator)
    assert "\n" not in source and "..." not in source
    namespace = {}
    exec("\n".join(sorted(imports)), namespace)
    rebuilt = eval(source, namespace)
    assert repr(rebuilt) == repr(estimator)
    assert rebuilt.estimator[0].func is to_dense
    assert "from polymodal.fusion import LateFusionClassifier" in imports


def test_the_setup_ends_the_report_with_its_code():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from polymodal.fusion import ConcatFusion
    from polymodal.model_selection._report import setup_text

    result = comparison(FUSION_WINS)
    setup = setup_text(
        result,
        fusions={"concat": ConcatFusion()},
        heads={"lr": LogisticRegression(C=0.5)},
        cv="5-fold cross-validation",
        splitter=StratifiedKFold(5, shuffle=True, random_state=0),
        seeds="0 everywhere",
        code="print('again')\n",
    )
    assert "| lr | `LogisticRegression(C=0.5)` |" in setup
    assert "| concat | `ConcatFusion()` |" in setup
    assert f"scikit-learn {sklearn.__version__}" in setup
    assert "`StratifiedKFold(n_splits=5, random_state=0, shuffle=True)`" in setup
    text = report_text(result, "scores.png", setup)
    assert text.endswith("```python\nprint('again')\n```\n")
    assert "k counts every fold of every repeat" in text
