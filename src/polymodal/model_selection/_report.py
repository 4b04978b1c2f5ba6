"""Reports of a fusion comparison: markdown, a figure, JSON, atomic files."""

import json
import math

import numpy as np

from ..utils._versions import installed_versions

__all__ = [
    "draw_scores",
    "dump_json",
    "markdown_table",
    "report_text",
]

SIGNIFICANCE = 0.05
METHOD = (
    "Intervals are 95% t-intervals over the folds (k - 1 degrees of freedom) "
    "with Nadeau and Bengio's corrected variance (1/k + n_test/n_train) s², "
    "clipped to the range the metric can take; "
    "p-values are two-sided, from their corrected resampled t-test on the "
    "fold-paired differences of the ranking metric, not adjusted for "
    "multiple comparisons. Chance is the score of the model without "
    "information (training class prior or mean) on the same folds."
)


def _number(value):
    return "–" if math.isnan(value) else f"{value:.3f}"


def _p_value(value):
    if math.isnan(value):
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _p_text(value):
    """'p = 0.021', or 'p < 0.001' where three decimals would show zero."""
    return "p < 0.001" if value < 0.001 else f"p = {_p_value(value)}"


def markdown_table(frame, metrics, with_baseline):
    """Rank, candidate, mean ± sd per metric, the ranking metric's interval, p."""
    ranking = metrics[0]
    header = ["rank", "candidate", *metrics, f"{ranking} 95% CI", "p vs best"]
    if with_baseline:
        header.append("p vs best single modality")
    header.append("vs chance")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for candidate, row in frame.iterrows():
        cells = [str(row["rank"]), candidate]
        cells += [
            f"{_number(row[f'{metric}_mean'])} ± {_number(row[f'{metric}_sd'])}"
            for metric in metrics
        ]
        low, high = row[f"{ranking}_ci_low"], row[f"{ranking}_ci_high"]
        cells.append(f"[{_number(low)}, {_number(high)}]")
        cells.append(_p_value(row["p_vs_best"]))
        if with_baseline:
            cells.append(_p_value(row["p_vs_baseline"]))
        cells.append(f"{row['vs_chance']} ({_p_text(row['p_vs_chance'])})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _difference(comparison, candidate, reference):
    """'0.052 (95% CI of the difference 0.011 to 0.093; p = 0.021)', p < 0.05."""
    difference = comparison.difference(candidate, reference)
    significant = difference["p"] < SIGNIFICANCE
    text = (
        f"{abs(difference['mean']):.3f} (95% CI of the difference "
        f"{_number(difference['ci_low'])} to {_number(difference['ci_high'])}; "
        f"{_p_text(difference['p'])})"
    )
    return text, significant


def report_text(comparison, figure_name):
    """The markdown report: who won, by how much, how sure, then the table."""
    frame = comparison.to_frame()
    metric = comparison.metrics_[0]
    best = comparison.best_candidate_
    baseline = comparison.best_baseline_
    n_folds = comparison.scores_["fold"].nunique()
    row = frame.loc[best]
    lines = [
        "# Fusion comparison",
        "",
        f"{len(frame)} candidates, {n_folds}-fold cross-validation, ranked by "
        f"the mean {metric} over the folds.",
        "",
        f"**{best}** ranks first: {metric} {row[f'{metric}_mean']:.3f} "
        f"(95% CI {_number(row[f'{metric}_ci_low'])} to "
        f"{_number(row[f'{metric}_ci_high'])}).",
    ]
    if baseline is None:
        lines.append("No single-modality baseline was scored (`baselines=None`).")
    elif baseline != best:
        text, significant = _difference(comparison, best, baseline)
        lines.append(
            f"It beats the best single modality, **{baseline}** "
            f"({frame.loc[baseline, f'{metric}_mean']:.3f}), by {text}."
        )
        if not significant:
            lines.append(
                f"The difference is not significant at the 5% level: these folds "
                f"do not show that {best} does better than {baseline}."
            )
    else:
        multimodal = [name for name in frame.index if name not in comparison.baselines_]
        lines.append("The winner uses one modality only.")
        if multimodal:
            text, significant = _difference(comparison, best, multimodal[0])
            lines.append(
                f"The best candidate using more than one modality, "
                f"**{multimodal[0]}** "
                f"({frame.loc[multimodal[0], f'{metric}_mean']:.3f}), trails it "
                f"by {text}."
            )
            if not significant:
                lines.append("The difference is not significant at the 5% level.")
    for verdict, text in (
        ("below", "Below chance: anti-learning, not evidence (p < 0.05"),
        ("not significant", "Not shown to beat chance (p ≥ 0.05"),
    ):
        names = list(frame.index[frame["vs_chance"] == verdict])
        if names:
            lines.append(
                f"{text} against the no-information model on the same folds): "
                + ", ".join(names)
                + "."
            )
    close = [
        name
        for name in frame.index
        if name != best and not frame.loc[name, "p_vs_best"] < SIGNIFICANCE
    ]
    if close:
        lines.append(
            f"Not significantly different from {best} (p ≥ 0.05): "
            + ", ".join(close)
            + "."
        )
    elif len(frame) > 1:
        lines.append(f"Every other candidate scores significantly below {best}.")
    lines += [
        "",
        "## Scores",
        "",
        markdown_table(frame, comparison.metrics_, baseline is not None),
        f"![{metric} per candidate, mean and 95% CI]({figure_name})",
        "",
        METHOD,
    ]
    if comparison.skipped_:
        lines += [
            "",
            "Pairs not run because fusion output and head input do not fit "
            "together: " + ", ".join(comparison.skipped_) + ".",
        ]
    return "\n".join(lines) + "\n"


def draw_scores(ax, frame, metric, baselines):
    """Ranked means as points with interval bars; single modalities in grey.

    Points, not bars: the axis is zoomed on the intervals, where bar lengths
    would no longer be proportional to the scores.
    """
    mean = frame[f"{metric}_mean"].to_numpy()
    errors = np.nan_to_num(
        [
            mean - frame[f"{metric}_ci_low"].to_numpy(),
            frame[f"{metric}_ci_high"].to_numpy() - mean,
        ]
    )
    positions = np.arange(len(frame))
    single = np.array([name in baselines for name in frame.index])
    for rows, colour, label in (
        (~single, "C0", "all modalities"),
        (single, "0.5", "one modality"),
    ):
        if rows.any():
            ax.errorbar(
                mean[rows],
                positions[rows],
                xerr=errors[:, rows],
                fmt="o",
                color=colour,
                capsize=3,
                label=label,
            )
    ax.set_yticks(positions, labels=list(frame.index))
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"{metric} (mean and 95% CI over folds)")
    ax.set_title(f"Candidates ranked by {metric}")
    if single.any():
        ax.legend(loc="best")
    return ax


def results(comparison):
    """Everything a later reader needs, as JSON-ready Python objects."""
    frame = comparison.to_frame()
    scores = comparison.scores_
    folds = scores.drop_duplicates("fold").sort_values("fold")
    tables = {metric: comparison.fold_scores(metric) for metric in comparison.metrics_}
    fold_scores = {
        candidate.name: {
            metric: table.loc[candidate.name].tolist()
            for metric, table in tables.items()
        }
        for candidate in comparison.candidates_
    }
    return _json_ready(
        {
            "metrics": comparison.metrics_,
            "ranking_metric": comparison.metrics_[0],
            "best_candidate": comparison.best_candidate_,
            "best_single_modality": comparison.best_baseline_,
            "candidates": [
                {
                    "name": candidate.name,
                    "fusion": candidate.fusion_name,
                    "head": candidate.head_name,
                    "modalities": list(candidate.modalities) or "all",
                }
                for candidate in comparison.candidates_
            ],
            "folds": folds[["fold", "n_train", "n_test"]].to_dict("records"),
            "fold_scores": fold_scores,
            "statistics": frame.reset_index().to_dict("records"),
            "method": METHOD,
            "skipped": comparison.skipped_,
            "versions": installed_versions(),
        }
    )


def _json_ready(value):
    """Plain Python types, with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, dict):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dump_json(comparison):
    """The results as UTF-8 JSON bytes."""
    return json.dumps(results(comparison), indent=2, allow_nan=False).encode()
