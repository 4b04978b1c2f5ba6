"""The result of compare_fusions: fold scores, statistics and reports."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils._files import write_atomic
from ..utils._optional import import_plotting
from ._report import (
    SIGNIFICANCE,
    draw_scores,
    dump_json,
    markdown_table,
    report_text,
)
from ._statistics import (
    corrected_interval,
    corrected_ttest,
    difference_range,
    metric_range,
)

__all__ = ["FusionComparison"]


@dataclass(frozen=True)
class _Candidate:
    """One pipeline to score: which modalities, which fusion, which head."""

    name: str
    fusion_name: str
    head_name: str
    modalities: tuple  # empty: every modality of the union


class FusionComparison:
    """The result of :func:`compare_fusions`: scores, statistics, reports.

    The statistics treat the fold scores as k paired measurements: every
    candidate is scored on the same folds. Fold scores are correlated (the
    training sets overlap), so the 95% intervals are t-intervals over the
    folds (k - 1 degrees of freedom) with Nadeau and Bengio's corrected
    variance ``(1/k + n_test/n_train) s²`` instead of ``s²/k``, clipped to
    the range the metric can take (an AUROC interval never passes 1; a
    ``neg_*`` loss's never passes 0), and candidates are compared with their
    corrected resampled t-test (two-sided) on the fold-paired differences of
    the ranking metric. p-values are not adjusted for multiple comparisons.

    **Against chance.** The model without information (the training class
    prior, :class:`~sklearn.dummy.DummyClassifier`, or the training mean,
    :class:`~sklearn.dummy.DummyRegressor`) is scored on the same folds; its
    fold scores are the chance level of any metric (0.5 for ROC AUC every
    fold). Every candidate is tested against them with the same corrected
    t-test: ``vs_chance`` is ``"above"`` or ``"below"`` where the difference
    is significant at the 5% level, ``"not significant"`` otherwise. A
    candidate below chance is anti-learning (on small cohorts, a model that
    fits noise can rank held-out rows worse than a coin), not evidence of a
    reversed effect, and one not above chance is no evidence of skill.

    Attributes
    ----------
    scores_ : DataFrame
        One row per candidate, fold and metric: ``candidate``, ``fusion``,
        ``head``, ``modalities``, ``fold``, ``n_train``, ``n_test``,
        ``metric``, ``score``.
    metrics_ : list of str
        The metrics; the first ranks the candidates.
    candidates_ : list
        The candidates scored, each with ``name``, ``fusion_name``,
        ``head_name`` and ``modalities`` (empty for all of the union's).
    baselines_ : list of str
        The single-modality candidates.
    best_candidate_ : str
        The candidate with the highest mean score on the first metric.
    best_baseline_ : str or None
        The single-modality candidate with the highest mean score on the first
        metric; None without baselines.
    best_estimator_ : Pipeline
        The best candidate's pipeline (union, fusion, head) refitted on all
        rows.
    skipped_ : list of str
        Fusion + head pairs that were not run because they do not fit
        together: a kernel output (:class:`~polymodal.fusion.KernelFusion`)
        with a head that takes features, or features with a head that takes a
        precomputed kernel.
    chance_scores_ : DataFrame
        The model without information's score on every fold (rows) for every
        metric (columns).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from polymodal import MultimodalUnion
    >>> from polymodal.fusion import ConcatFusion
    >>> from polymodal.model_selection import compare_fusions
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 90)
    >>> X = pd.DataFrame({"lab": y + rng.normal(0, 0.6, 90),
    ...                   "age": rng.normal(60, 9, 90)})
    >>> union = MultimodalUnion([("lab", StandardScaler(), ["lab"]),
    ...                          ("age", StandardScaler(), ["age"])])
    >>> result = compare_fusions(union, X, y, fusions={"concat": ConcatFusion()},
    ...                          heads={"lr": LogisticRegression()}, cv=5,
    ...                          random_state=0)
    >>> result.best_baseline_
    'lab only + lr'
    >>> result.to_frame()[["roc_auc_mean", "p_vs_baseline", "vs_chance"]].round(2)
                   roc_auc_mean  p_vs_baseline        vs_chance
    candidate
    concat + lr            0.86           0.88            above
    lab only + lr          0.85            NaN            above
    age only + lr          0.63           0.09  not significant

    Fusing the age in gains nothing that these folds can show:

    >>> gain = result.difference("concat + lr", "lab only + lr")
    >>> {key: round(value, 2) for key, value in gain.items()}
    {'mean': 0.0, 'ci_low': -0.04, 'ci_high': 0.04, 't': 0.16, 'p': 0.88}
    """

    def __init__(self, scores, metrics, candidates, skipped, chance_scores):
        self.scores_ = scores
        self.metrics_ = metrics
        self.candidates_ = candidates
        self.skipped_ = skipped
        self.chance_scores_ = chance_scores
        self.baselines_ = [
            candidate.name for candidate in candidates if candidate.modalities
        ]
        ranked = self._ranked_means(metrics[0]).index
        self.best_candidate_ = ranked[0]
        self.best_baseline_ = next(
            (name for name in ranked if name in self.baselines_), None
        )

    def fold_scores(self, metric=None):
        """One metric's scores, candidates × folds.

        Parameters
        ----------
        metric : str, default=None
            One of ``metrics_``; None means the ranking metric.

        Returns
        -------
        DataFrame
            One row per candidate (sorted by name), one column per fold.
        """
        metric = self._metric(metric)
        rows = self.scores_[self.scores_["metric"] == metric]
        return rows.pivot(index="candidate", columns="fold", values="score")

    def _ranked_means(self, metric):
        # A stable sort of the name-sorted table breaks ties by name.
        means = self.fold_scores(metric).mean(axis=1)
        return means.sort_values(ascending=False, kind="stable")

    def _fold_sizes(self):
        """Mean training and test rows per fold, for the variance correction."""
        folds = self.scores_.drop_duplicates("fold")
        return folds["n_train"].mean(), folds["n_test"].mean()

    def _metric(self, metric):
        if metric is None:
            return self.metrics_[0]
        if metric not in self.metrics_:
            raise ValueError(
                f"metric {metric!r} was not scored; the metrics are {self.metrics_}."
            )
        return metric

    def difference(self, candidate, reference, metric=None):
        """How much better one candidate scores than another, and how sure.

        Fold by fold, ``candidate``'s score minus ``reference``'s: the mean
        difference, its 95% interval (t over the folds, Nadeau and Bengio's
        corrected variance, clipped to the range a difference of two scores
        can take: [-1, 1] for a metric in [0, 1]) and their corrected
        resampled t-test, two-sided.

        Parameters
        ----------
        candidate, reference : str
            Candidate names, as in the index of :meth:`to_frame`.
        metric : str, default=None
            One of ``metrics_``; None means the ranking metric.

        Returns
        -------
        dict
            ``mean``, ``ci_low``, ``ci_high``, ``t`` and ``p``; ``t`` is
            positive where ``candidate`` scores higher.
        """
        metric = self._metric(metric)
        table = self.fold_scores(metric)
        unknown = [name for name in (candidate, reference) if name not in table.index]
        if unknown:
            raise ValueError(
                f"No candidate named {unknown[0]!r}; the candidates are "
                f"{list(table.index)}."
            )
        n_train, n_test = self._fold_sizes()
        scores, other = table.loc[candidate].to_numpy(), table.loc[reference].to_numpy()
        low, high = corrected_interval(
            scores - other,
            n_train,
            n_test,
            bounds=difference_range(metric_range(metric)),
        )
        t, p = corrected_ttest(scores, other, n_train, n_test)
        mean = float(np.mean(scores - other))
        return {"mean": mean, "ci_low": low, "ci_high": high, "t": t, "p": p}

    def to_frame(self):
        """Per candidate: scores, 95% intervals, rank and tests, best first.

        Returns
        -------
        DataFrame
            Indexed by candidate: ``fusion``, ``head``, ``modalities``; per
            metric ``<metric>_mean``, ``<metric>_sd`` (sample standard
            deviation over folds), ``<metric>_ci_low`` and
            ``<metric>_ci_high`` (clipped to the metric's range: [0, 1] for
            ROC AUC, at most 0 for a ``neg_*`` loss); then, on the first
            metric, ``rank`` (1 is best, ties share the lower rank) and the
            corrected t statistic and two-sided p-value of each candidate
            against the best candidate
            (``t_vs_best``, ``p_vs_best``), against the best
            single-modality candidate (``t_vs_baseline``, ``p_vs_baseline``;
            NaN without baselines) and against chance (``t_vs_chance``,
            ``p_vs_chance``, and ``vs_chance``: ``"above"``, ``"below"`` or
            ``"not significant"`` at the 5% level). A candidate's test against
            itself is NaN. Sorted by the first metric's mean, descending.
        """
        n_train, n_test = self._fold_sizes()
        details = self.scores_.drop_duplicates("candidate").set_index("candidate")
        frame = details[["fusion", "head", "modalities"]].sort_index()
        for metric in self.metrics_:
            table = self.fold_scores(metric)
            frame[f"{metric}_mean"] = table.mean(axis=1)
            frame[f"{metric}_sd"] = table.std(axis=1)
            intervals = [
                corrected_interval(row, n_train, n_test, bounds=metric_range(metric))
                for row in table.to_numpy()
            ]
            frame[f"{metric}_ci_low"] = [low for low, _ in intervals]
            frame[f"{metric}_ci_high"] = [high for _, high in intervals]
        ranking = self.metrics_[0]
        frame = frame.loc[self._ranked_means(ranking).index]
        frame["rank"] = (
            frame[f"{ranking}_mean"]
            .rank(method="min", ascending=False, na_option="bottom")
            .astype(int)
        )
        table = self.fold_scores(ranking)
        for reference, suffix in (
            (self.best_candidate_, "best"),
            (self.best_baseline_, "baseline"),
        ):
            tests = [
                (np.nan, np.nan)
                if reference is None or name == reference
                else corrected_ttest(
                    table.loc[name], table.loc[reference], n_train, n_test
                )
                for name in frame.index
            ]
            frame[f"t_vs_{suffix}"] = [t for t, _ in tests]
            frame[f"p_vs_{suffix}"] = [p for _, p in tests]
        chance = self.chance_scores_[ranking].to_numpy()
        tests = [
            corrected_ttest(table.loc[name], chance, n_train, n_test)
            for name in frame.index
        ]
        frame["t_vs_chance"] = [t for t, _ in tests]
        frame["p_vs_chance"] = [p for _, p in tests]
        frame["vs_chance"] = [
            ("above" if t > 0 else "below") if p < SIGNIFICANCE else "not significant"
            for t, p in tests
        ]
        frame.index.name = "candidate"
        return frame

    def to_markdown(self):
        """A ranked markdown table of the scores, intervals and p-values.

        One row per candidate, best first: rank, mean ± sd of every metric,
        the ranking metric's 95% interval, and the p-values of the tests
        against the best candidate and (with baselines) against the best
        single modality.

        Returns
        -------
        str
        """
        return markdown_table(
            self.to_frame(), self.metrics_, self.best_baseline_ is not None
        )

    def plot(self, ax=None, metric=None):
        """Plot the candidates' mean scores, ranked, with 95% intervals.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure when None.
        metric : str, default=None
            One of ``metrics_``; None means the ranking metric. Candidates
            are ranked by it.

        Returns
        -------
        matplotlib Axes
        """
        import_plotting("matplotlib", "FusionComparison.plot")
        metric = self._metric(metric)
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=self._figure_size())
        frame = self.to_frame().sort_values(
            f"{metric}_mean", ascending=False, kind="stable"
        )
        return draw_scores(ax, frame, metric, self.baselines_)

    def _figure_size(self):
        return 7.0, 1.2 + 0.3 * len(self.candidates_)

    def save(self, directory, *, setup=None):
        """Write ``report.md``, ``scores.png`` and ``results.json`` to a folder.

        ``report.md`` says which candidate won, by how much over the best
        single modality (with the interval of the difference and its p-value,
        and whether it is significant), then holds the ranked table and links
        the figure. ``scores.png`` is :meth:`plot`. ``results.json`` holds
        every fold score, the metrics, candidates, fold sizes, statistics,
        skipped pairs and the versions of polymodal, scikit-learn and numpy.
        Each file is written to a temporary file in the folder and renamed
        into place, so an interrupted run never leaves a part-written file.

        Parameters
        ----------
        directory : str or path-like
            The folder; created with its parents if needed. Files of these
            names in it are replaced.
        setup : str, default=None
            Markdown that ends ``report.md``: how the comparison was run
            (the estimators in full, the folds, the seeds, the versions) and
            the code that reproduces the best score, as ``polymodal compare``
            writes it.

        Returns
        -------
        pathlib.Path
            The path of ``report.md``.
        """
        import_plotting("matplotlib", "FusionComparison.save")
        from matplotlib.figure import Figure

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # Everything is computed before the first file is replaced.
        report = report_text(self, "scores.png", setup).encode()
        data = dump_json(self)
        # A Figure outside pyplot: no global figure state, nothing to close.
        figure = Figure(figsize=self._figure_size(), layout="constrained")
        self.plot(ax=figure.subplots())
        write_atomic(directory / "results.json", lambda file: file.write(data))
        write_atomic(
            directory / "scores.png",
            lambda file: figure.savefig(file, format="png", dpi=150),
        )
        write_atomic(directory / "report.md", lambda file: file.write(report))
        return directory / "report.md"

    def __repr__(self):
        n_folds = self.scores_["fold"].nunique()
        return (
            f"FusionComparison({len(self.candidates_)} candidates, {n_folds} folds, "
            f"best: {self.best_candidate_!r})"
        )
