"""Reports of a fusion comparison: markdown, a figure, JSON, atomic files."""

import importlib
import inspect
import json
import math
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from ..utils._versions import installed_versions

__all__ = [
    "draw_scores",
    "dump_json",
    "estimator_code",
    "markdown_table",
    "report_text",
    "reproduction_code",
    "setup_text",
]

SIGNIFICANCE = 0.05
METHOD = (
    "Intervals are 95% t-intervals over the k folds (k - 1 degrees of freedom; "
    "with repeated cross-validation k counts every fold of every repeat) "
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


def report_text(comparison, figure_name, setup=None):
    """The markdown report: who won, by how much, how sure, then the table.

    ``setup``, markdown that states how the comparison was run (see
    :func:`setup_text`), ends the report when given.
    """
    frame = comparison.to_frame()
    metric = comparison.metrics_[0]
    best = comparison.best_candidate_
    baseline = comparison.best_baseline_
    n_folds = comparison.scores_["fold"].nunique()
    row = frame.loc[best]
    lines = [
        "# Fusion comparison",
        "",
        f"{len(frame)} candidates scored on the same {n_folds} cross-validation "
        f"folds, ranked by the mean {metric} over the folds.",
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
    if setup:
        lines += ["", setup.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _public_module(cls_or_function):
    """The shortest importable module path that exposes the object by name."""
    name = cls_or_function.__name__
    parts = cls_or_function.__module__.split(".")
    for end in range(1, len(parts) + 1):
        module = ".".join(parts[:end])
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:  # pragma: no cover - a parent that fails to import
            continue
        if found is cls_or_function:
            return module
    return cls_or_function.__module__


def _is_default(value, default):
    if value is default:
        return True
    if isinstance(value, float) and isinstance(default, float):
        return value == default or (math.isnan(value) and math.isnan(default))
    return type(value) is type(default) and repr(value) == repr(default)


def _changed_params(estimator):
    """The parameters that differ from the signature's defaults, by name.

    A parameter the signature does not name (xgboost passes most of its
    parameters through ``**kwargs``) counts as changed unless it is None,
    the value such libraries take for "their default".
    """
    signature = inspect.signature(type(estimator).__init__).parameters
    changed = {}
    for name, value in estimator.get_params(deep=False).items():
        parameter = signature.get(name)
        if parameter is None or parameter.kind is parameter.VAR_KEYWORD:
            if value is None:
                continue
        elif parameter.default is not parameter.empty and _is_default(
            value, parameter.default
        ):
            continue
        changed[name] = value
    return changed


def _source(value, imports):
    """Python source for ``value``, adding the imports it needs to ``imports``."""
    if isinstance(value, BaseEstimator):
        cls = type(value)
        imports.add(f"from {_public_module(cls)} import {cls.__name__}")
        arguments = ", ".join(
            f"{name}={_source(item, imports)}"
            for name, item in _changed_params(value).items()
        )
        return f"{cls.__name__}({arguments})"
    if isinstance(value, list | tuple):
        items = [_source(item, imports) for item in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        items = (
            f"{_source(key, imports)}: {_source(item, imports)}"
            for key, item in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, float) and not math.isfinite(value):
        imports.add("from numpy import inf, nan")
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, np.generic):
        return repr(value.item())
    if (inspect.isfunction(value) or inspect.isclass(value)) and (
        value.__qualname__ == value.__name__
    ):
        imports.add(f"from {_public_module(value)} import {value.__name__}")
        return value.__name__
    return repr(value)


def estimator_code(estimator):
    """Python source that builds ``estimator``, and the imports it needs.

    Every parameter that differs from its default is written, at any depth
    and never elided (scikit-learn's repr shows 30 at most, which drops most
    of an ``XGBClassifier``'s); functions and classes are named as imported.

    Parameters
    ----------
    estimator : estimator
        A scikit-learn-style estimator.

    Returns
    -------
    source : str
        An expression on one line.
    imports : set of str
        ``from module import name`` lines.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from polymodal.model_selection._report import estimator_code
    >>> estimator_code(LogisticRegression(C=0.1))
    ('LogisticRegression(C=0.1)', {'from sklearn.linear_model import LogisticRegression'})
    """
    imports = set()
    return _source(estimator, imports), imports


def setup_text(comparison, *, fusions, heads, cv, splitter, seeds, code=None):
    """Markdown stating each candidate in full, the folds, seeds and versions.

    Parameters
    ----------
    comparison : FusionComparison
        The comparison the report is about.
    fusions : dict of str to estimator
        The fusion steps and final steps by name, as the candidates name them.
    heads : dict of str to estimator
        The heads by name.
    cv : str
        The cross-validation scheme in words.
    splitter : cross-validation splitter
        The splitter of one repeat, stated by its repr.
    seeds : str
        Which seeds were used where, in words.
    code : str, default=None
        Python code that reproduces the best candidate's score (see
        :func:`reproduction_code`); it ends the text when given.

    Returns
    -------
    str
    """
    used = {c.fusion_name for c in comparison.candidates_} | {
        c.head_name for c in comparison.candidates_
    }
    lines = [
        "## How it was run",
        "",
        f"Cross-validation: {cv}; the folds of each repeat are drawn by "
        f"`{splitter!r}`. Seeds: {seeds}.",
        "",
        "Each candidate is `<fusion> + <head>` (a final step predicts itself, "
        "and `<modality> only + <head>` concatenates that one modality). The "
        "estimators, in full:",
        "",
        "| name | estimator |",
        "|---|---|",
    ]
    for name, estimator in {**fusions, **heads}.items():
        if name in used:
            source, _ = estimator_code(estimator)
            lines.append(f"| {name} | `{source}` |")
    versions = ", ".join(
        f"{package} {version}"
        for package, version in installed_versions().items()
        if version is not None
    )
    lines += ["", f"Versions: {versions}."]
    if code:
        lines += [
            "",
            "## Reproduce the best candidate",
            "",
            f"This code scores **{comparison.best_candidate_}** again on the same "
            "folds with `compare_fusions`, and prints the scores above:",
            "",
            "```python",
            code.rstrip("\n"),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _dict_code(named, imports):
    if not named:
        return "{}"
    items = []
    for name, estimator in named.items():
        source, needed = estimator_code(estimator)
        imports |= needed
        items.append(f"        {name!r}: {source},")
    return "{\n" + "\n".join(items) + "\n    }"


def reproduction_code(
    comparison,
    *,
    data,
    target,
    groups,
    index,
    union,
    fusions,
    final_fusions,
    heads,
    splitter,
    repeats,
    seed,
    scoring,
    coded_heads=(),
    functions=None,
):
    """Python code that scores the best candidate again with compare_fusions.

    It reads the table, builds the union, draws the same folds (repeat r with
    ``random_state = seed + r``) and runs :func:`compare_fusions` on the best
    candidate's fusion and head only, then prints its mean scores; the
    scores of a candidate do not depend on which others run beside it.

    Parameters
    ----------
    comparison : FusionComparison
        The comparison whose best candidate to reproduce.
    data : path-like
        The table (CSV or Parquet); a relative path is taken from the folder
        of the report, and the code says so.
    target, groups : str or None
        The target column and the groups column (None: no groups).
    index : str
        The column that indexes the rows when the table has it.
    union : tuple of (str, str, str)
        The name to import, its module, and the expression that builds the
        union from ``table``.
    fusions, final_fusions, heads : dict of str to estimator
        Those of the comparison.
    splitter : cross-validation splitter
        The splitter of one repeat; its ``random_state`` becomes
        ``seed + repeat``.
    repeats : int
        The number of repeats.
    seed : int
        The seed of the first repeat, also passed as ``random_state``.
    scoring : list of str or None
        The metrics, as compare_fusions was given them.
    coded_heads : collection of str, default=()
        The heads, by name, that take classes coded 0 to n_classes - 1 only
        (xgboost's ``XGBClassifier``), given here as they take them. When the
        code uses one, it codes the target with ``LabelEncoder`` first and
        names the metrics: the codes keep the classes' sorted order, so every
        score is the same as on the labels.
    functions : dict of str to (str, set of str), default=None
        Functions that the estimators use and the code defines rather than
        imports (from a private module, say), by name: the source of the
        definition, and the import lines it needs.

    Returns
    -------
    str
    """
    best = next(
        c for c in comparison.candidates_ if c.name == comparison.best_candidate_
    )
    baseline = bool(best.modalities)
    if best.head_name in final_fusions:
        # A final step is named as its own head.
        finals = {best.head_name: final_fusions[best.head_name]}
        chosen_fusions = {}
        chosen_heads = {}
    else:
        finals = {}
        chosen_fusions = (
            {} if baseline else {best.fusion_name: fusions[best.fusion_name]}
        )
        chosen_heads = {best.head_name: heads[best.head_name]}
    if not chosen_fusions:
        # compare_fusions needs a fusion step; this one only adds a candidate.
        concat = [n for n, f in fusions.items() if type(f).__name__ == "ConcatFusion"]
        name = (concat or list(fusions))[0]
        chosen_fusions = {name: fusions[name]}
    if not chosen_heads:
        name, head = next(iter(heads.items()))
        chosen_heads = {name: head}
    imports = {
        "import pandas as pd",
        f"from {_public_module(type(splitter))} import {type(splitter).__name__}",
        "from polymodal.model_selection import compare_fusions",
        f"from {union[1]} import {union[0]}",
    }
    fusion_code = _dict_code(chosen_fusions, imports)
    head_code = _dict_code(chosen_heads, imports)
    final_code = _dict_code(finals, imports)
    definitions = []
    for name, (source, needed) in (functions or {}).items():
        imported = {line for line in imports if line.endswith(f" import {name}")}
        if imported:
            imports = (imports - imported) | set(needed)
            definitions += ["", source.rstrip("\n"), ""]
    if definitions:
        definitions.append("")  # Two blank lines around each definition.
    coded = any(name in coded_heads for name in chosen_heads)
    if coded:
        imports.add("from sklearn.preprocessing import LabelEncoder")
        # compare_fusions' default metrics depend on the labels; the codes'
        # would add average_precision where the labels' leave it out.
        scoring = list(comparison.metrics_) if scoring is None else scoring
        target_code = [
            f"# {', '.join(n for n in chosen_heads if n in coded_heads)} takes "
            "classes coded 0 to n - 1 only; LabelEncoder",
            "# keeps their sorted order, so the scores are those of the labels.",
            f"y = LabelEncoder().fit_transform(table[{target!r}].to_numpy())",
        ]
    else:
        target_code = [f"y = table[{target!r}].to_numpy()"]
    read = "read_csv" if str(data).lower().endswith(".csv") else "read_parquet"
    splitter_code = (
        f"{type(splitter).__name__}(n_splits={splitter.get_n_splits()}, shuffle=True, "
        "random_state=SEED + repeat)"
    )
    metrics = comparison.metrics_
    lines = [
        *sorted(imports, key=lambda line: (not line.startswith("import"), line)),
        "",
        *definitions,
        f"SEED = {seed!r}",
        *(
            []
            if Path(data).is_absolute()
            else ["# Run from the folder of report.md: the table's path is relative."]
        ),
        f"table = pd.{read}({str(data)!r})",
        f"if {index!r} in table.columns:",
        f"    table.index = pd.Index(table[{index!r}].to_numpy())",
        *target_code,
        f"X = table.drop(columns=[{target!r}])",
        "groups = None" if groups is None else f"groups = table[{groups!r}].to_numpy()",
        f"union = {union[2]}",
        "folds = [",
        "    split",
        f"    for repeat in range({repeats})",
        f"    for split in {splitter_code}.split(X, y, groups)",
        "]",
        "result = compare_fusions(",
        "    union,",
        "    X,",
        "    y,",
        f"    fusions={fusion_code},",
        f"    heads={head_code},",
        f"    final_fusions={final_code},",
        "    cv=folds,",
        "    groups=groups,",
        f"    scoring={scoring!r},",
        f"    baselines={'unimodal' if baseline else None!r},",
        "    random_state=SEED,",
        ")",
        f"scores = result.to_frame().loc[{best.name!r}]",
        f"print({{metric: float(round(scores[metric + '_mean'], 3)) for metric in {metrics!r}}})",
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
