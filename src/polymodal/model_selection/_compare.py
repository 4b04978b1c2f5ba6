"""Cross-validate fusion × head candidates, extracting features once per fold."""

import time
import warnings
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_consistent_length

from ..exceptions import GroupLeakageWarning, MissingModalityWarning
from ..fusion import ConcatFusion, KernelFusion
from ..union import MultimodalUnion, dict_to_frame
from ..utils._sklearn_compat import StrOptions, _safe_indexing, validate_params
from ..utils.validation import check_target_present
from ._report import (
    draw_scores,
    dump_json,
    import_matplotlib,
    markdown_table,
    report_text,
    write_atomic,
)
from ._statistics import (
    corrected_interval,
    corrected_ttest,
    difference_range,
    metric_range,
)

__all__ = ["FusionComparison", "compare_fusions"]


@dataclass(frozen=True)
class _Candidate:
    """One pipeline to score: which modalities, which fusion, which head."""

    name: str
    fusion_name: str
    head_name: str
    modalities: tuple  # empty: every modality of the union


_BASELINE_FUSION = "concat (one modality)"
_FINAL_STEP = "final step"


def _named(estimators, kind):
    if isinstance(estimators, dict):
        named = dict(estimators)
    else:
        named = {}
        for estimator in estimators:
            name = type(estimator).__name__.lower()
            if name in named:
                raise ValueError(
                    f"Two {kind} share the name {name!r}; pass a dict to name them."
                )
            named[name] = estimator
    if not named:
        raise ValueError(f"compare_fusions needs at least one of the {kind}.")
    for name, estimator in named.items():
        if not hasattr(estimator, "fit"):
            raise TypeError(
                f"compare_fusions: the {kind} entry {name!r} is {estimator!r} (a "
                f"{type(estimator).__name__}), not an estimator with fit."
            )
    return named


def _fits(fusion, head):
    """A kernel output suits only heads that take a precomputed kernel, and back."""
    return isinstance(fusion, KernelFusion) == get_tags(head).input_tags.pairwise


def _candidates(fusions, heads, modality_names, baselines):
    candidates = [
        _Candidate(f"{fusion} + {head}", fusion, head, ())
        for fusion in fusions
        for head in heads
        if _fits(fusions[fusion], heads[head])
    ]
    if baselines == "unimodal":
        candidates += [
            _Candidate(f"{modality} only + {head}", _BASELINE_FUSION, head, (modality,))
            for modality in modality_names
            for head in heads
            if _fits(ConcatFusion(), heads[head])
        ]
    return candidates


@validate_params(
    {
        # The union, fusions, heads and scoring are checked in the body, whose
        # messages say what each must hold.
        "union": "no_validation",
        "X": ["array-like", dict],
        "y": ["array-like"],
        "fusions": "no_validation",
        "heads": "no_validation",
        "final_fusions": "no_validation",
        "cv": ["cv_object"],
        "groups": ["array-like", None],
        "scoring": "no_validation",
        "baselines": [StrOptions({"unimodal"}), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def compare_fusions(
    union,
    X,
    y,
    *,
    fusions,
    heads,
    final_fusions=(),
    cv=5,
    groups=None,
    scoring=None,
    baselines="unimodal",
    n_jobs=None,
    verbose=0,
    random_state=None,
):
    """Cross-validate every fusion × head pair, and each modality alone.

    Per outer fold the union is fitted once on the training rows and its
    blocks are kept in memory; each fusion is fitted once per fold and its
    fused matrices are shared by every head. The expensive per-modality
    feature extraction therefore runs once per fold, however many candidates
    are compared. Nothing is shared across folds, so the scores are honest.

    Parameters
    ----------
    union : MultimodalUnion
        The per-modality transformers (unfitted; cloned per fold).
    X : DataFrame or dict of columns
        The patient table.
    y : array-like of shape (n_samples,)
        The target.
    fusions : dict of str to estimator, or list of estimators
        Fusion transformers to compare (named by class when a list).
    heads : dict of str to estimator, or list of estimators
        Classifiers or regressors that read the fused matrix. A
        :class:`~polymodal.fusion.KernelFusion` is paired only with heads that
        take a precomputed kernel (scikit-learn's ``pairwise`` tag, e.g.
        ``SVC(kernel="precomputed")``), and those heads only with it; the pairs
        left out are listed in the result's ``skipped_``.
    final_fusions : dict of str to estimator, or list of estimators, default=()
        Final-step fusion estimators (late fusion, stacking) that take the
        blocks and predict; each is a candidate of its own, in a pipeline whose
        fusion slot is ``"passthrough"``.
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled folds (seeded by ``random_state``): stratified
        for classifiers; with ``groups``,
        :class:`~sklearn.model_selection.StratifiedGroupKFold` (classifiers)
        or :class:`~sklearn.model_selection.GroupKFold` (regressors), so a
        patient's rows never sit on both sides of a split.
    groups : array-like of shape (n_samples,), default=None
        Group labels (patient IDs) passed to the splitter. A
        :class:`~polymodal.exceptions.GroupLeakageWarning` names the folds,
        and their first groups, where a given splitter puts rows of one
        group in both the training and the test rows.
    scoring : str or list of str, default=None
        Metric names as in :func:`sklearn.metrics.get_scorer`; the first one
        ranks the candidates and is the one the tests are run on. None means
        ``("roc_auc", "average_precision", "balanced_accuracy")`` for
        classifiers (``"roc_auc_ovr"`` first for a multiclass target; without
        ``"average_precision"`` for two classes other than 0/1 or -1/1, since
        its scorer takes the class 1 as the positive one) and
        ``("r2", "neg_mean_absolute_error")`` for regressors.
    baselines : {"unimodal", None}, default="unimodal"
        Also score each modality alone (its block through
        :class:`~polymodal.fusion.ConcatFusion`) with every head; the best of
        them is the reference that tells whether fusing modalities helps.
        Rows that lack a baseline's modality are fused as ConcatFusion does
        (imputed, presence indicator 0), without its
        :class:`~polymodal.exceptions.MissingModalityWarning`, which would
        only repeat per fold what the baseline means.
    n_jobs : int, default=None
        Folds run in parallel through joblib, so they follow
        :func:`joblib.parallel_config`: with
        ``joblib.parallel_config(backend="dask")`` and a
        ``dask.distributed.Client``, the folds run on the dask cluster.
    verbose : int, default=0
        Print progress per fold.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int.

    Returns
    -------
    FusionComparison
        Fold scores, a ranked summary with intervals and tests, the best
        pipeline refitted on all rows, and reports (``to_markdown``, ``plot``,
        ``save``).

    See Also
    --------
    FusionComparison.difference : Test any two candidates against each other.

    Notes
    -----
    With :class:`~sklearn.model_selection.GridSearchCV` over a
    :class:`~sklearn.pipeline.Pipeline` instead, each candidate refits the
    union in every fold. ``Pipeline(steps, memory=joblib.Memory(directory))``
    avoids the refits: the fitted union and its blocks are cached on disk,
    keyed by the union's parameters and the fold's rows, and every candidate
    of that fold after the first loads them instead. Each hit still hashes
    the input table and unpickles the blocks, and the cache takes disk space
    of the order of the blocks per fold, so it pays only when feature
    extraction is slow; ``compare_fusions`` keeps the blocks in memory
    instead.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> from polymodal import MultimodalUnion
    >>> from polymodal.datasets import make_patients
    >>> from polymodal.fusion import ConcatFusion
    >>> from polymodal.model_selection import compare_fusions
    >>> X, y = make_patients(n_samples=60, random_state=0)
    >>> union = MultimodalUnion([("age", StandardScaler(), ["age"]),
    ...                          ("smoking", StandardScaler(), ["pack_years"])])
    >>> result = compare_fusions(union, X, y, fusions={"concat": ConcatFusion()},
    ...                          heads={"lr": LogisticRegression()}, cv=3,
    ...                          random_state=0)
    >>> sorted(result.to_frame().index)
    ['age only + lr', 'concat + lr', 'smoking only + lr']
    >>> result.metrics_
    ['roc_auc', 'average_precision', 'balanced_accuracy']
    >>> list(result.to_frame().columns[-5:])
    ['rank', 't_vs_best', 'p_vs_best', 't_vs_baseline', 'p_vs_baseline']
    """
    if not isinstance(union, MultimodalUnion):
        raise TypeError(
            f"compare_fusions takes a MultimodalUnion; got {type(union).__name__}."
        )
    if isinstance(X, dict):
        # sklearn's splitters count a dict's keys as rows; a frame splits by row.
        X = dict_to_frame(X)
    if (X.ndim if hasattr(X, "ndim") else np.ndim(X)) != 2:
        raise ValueError(
            "compare_fusions takes the patient table as a DataFrame, a dict of "
            f"equal-length columns or a 2-D array; got shape {np.shape(X)}."
        )
    check_consistent_length(X, y)
    check_target_present("compare_fusions", y)
    fusions = _named(fusions, "fusions")
    heads = _named(heads, "heads")
    finals = _named(final_fusions, "final fusions") if final_fusions else {}
    overlap = sorted(set(finals) & set(heads))
    if overlap:
        raise ValueError(f"Final fusions and heads share the names {overlap}.")
    first_head = next(iter(heads.values()))
    classifier = is_classifier(first_head)
    y = np.asarray(y)
    metrics = _metrics(scoring, classifier, y)
    cv = _splitter(cv, classifier, groups, random_state)
    cv = check_cv(cv, y, classifier=classifier)
    splits = list(cv.split(X, y, groups))
    if groups is not None:
        _warn_group_leakage(splits, np.asarray(groups))
    modality_names = [
        name
        for name, trans, _ in union.transformers
        if not isinstance(trans, str) or trans != "drop"
    ]
    candidates = _candidates(fusions, heads, modality_names, baselines) + [
        _Candidate(name, _FINAL_STEP, name, ()) for name in finals
    ]
    skipped = [
        f"{fusion} + {head}"
        for fusion in fusions
        for head in heads
        if not _fits(fusions[fusion], heads[head])
    ]
    if not candidates:
        raise ValueError(
            f"No fusion × head pair fits together: {skipped}. KernelFusion needs a "
            "head that takes a precomputed kernel, such as SVC(kernel='precomputed'); "
            "the other fusion steps need heads that take features."
        )
    scorers = {metric: check_scoring(first_head, scoring=metric) for metric in metrics}
    fold_results = Parallel(n_jobs=n_jobs)(
        delayed(_score_fold)(
            union,
            X,
            y,
            train,
            test,
            fusions,
            {**heads, **finals},
            candidates,
            scorers,
            fold,
            len(splits),
            verbose,
        )
        for fold, (train, test) in enumerate(splits)
    )
    records = [record for fold_records in fold_results for record in fold_records]
    scores = pd.DataFrame.from_records(records)
    comparison = FusionComparison(scores, metrics, candidates, skipped)
    best = comparison.best_candidate_
    best_candidate = next(c for c in candidates if c.name == best)
    comparison.best_estimator_ = _pipeline(
        union, fusions, {**heads, **finals}, best_candidate
    ).fit(X, y)
    return comparison


def _metrics(scoring, classifier, y):
    if scoring is None:
        if not classifier:
            return ["r2", "neg_mean_absolute_error"]
        if type_of_target(y) == "multiclass":
            # roc_auc takes two classes; its one-vs-rest variant takes more.
            return ["roc_auc_ovr", "average_precision", "balanced_accuracy"]
        if np.unique(y)[-1] != 1:
            # The average_precision scorer takes the class 1 as the positive
            # one, where roc_auc takes the greater label: they would disagree
            # (or, for string labels, average_precision would fail).
            return ["roc_auc", "balanced_accuracy"]
        return ["roc_auc", "average_precision", "balanced_accuracy"]
    metrics = [scoring] if isinstance(scoring, str) else list(scoring)
    if not metrics or not all(isinstance(metric, str) for metric in metrics):
        raise ValueError(
            "scoring must be a metric name or a non-empty list of metric names, "
            f"as in sklearn.metrics.get_scorer_names(); got {scoring!r}."
        )
    return metrics


def _splitter(cv, classifier, groups, random_state):
    """An int becomes shuffled folds that respect the groups and the classes."""
    if not isinstance(cv, int):
        return cv
    if groups is not None:
        splitter = StratifiedGroupKFold if classifier else GroupKFold
    else:
        splitter = StratifiedKFold if classifier else KFold
    return splitter(cv, shuffle=True, random_state=random_state)


def _warn_group_leakage(splits, groups):
    leaks = []
    for fold, (train, test) in enumerate(splits):
        shared = np.intersect1d(groups[train], groups[test])
        if shared.size:
            named = ", ".join(map(repr, shared[:3].tolist()))
            more = f" and {shared.size - 3} more" if shared.size > 3 else ""
            leaks.append(f"fold {fold} (groups {named}{more})")
    if leaks:
        warnings.warn(
            f"The splitter puts rows of the same group in both the training and "
            f"the test rows of {len(leaks)} of {len(splits)} folds: "
            f"{'; '.join(leaks)}. Scores then overrate the candidates; use a "
            "group-aware splitter such as StratifiedGroupKFold or GroupKFold, or "
            "pass an int cv. Folds are numbered from 0, as in scores_.",
            GroupLeakageWarning,
            stacklevel=3,
        )


def _pipeline(union, fusions, heads, candidate):
    union = clone(union)
    if candidate.fusion_name == _FINAL_STEP:
        fusion = "passthrough"
    elif candidate.modalities:
        fusion = ConcatFusion()
    else:
        fusion = clone(fusions[candidate.fusion_name])
    if candidate.modalities:
        union.set_params(
            **{
                name: "drop"
                for name, _, _ in union.transformers
                if name not in candidate.modalities
            }
        )
    return Pipeline(
        [
            ("union", union),
            ("fusion", fusion),
            ("head", clone(heads[candidate.head_name])),
        ]
    )


def _score_fold(
    union,
    X,
    y,
    train,
    test,
    fusions,
    heads,
    candidates,
    scorers,
    fold,
    n_folds,
    verbose,
):
    start = time.perf_counter()
    X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
    y_train, y_test = y[train], y[test]
    fold_union = clone(union)
    blocks_train = fold_union.fit_transform(X_train, y_train)
    blocks_test = fold_union.transform(X_test)
    extraction = time.perf_counter() - start
    fused = {}
    records = []
    for candidate in candidates:
        if candidate.fusion_name == _FINAL_STEP:
            final = clone(heads[candidate.head_name]).fit(blocks_train, y_train)
            records += _records(
                candidate, fold, len(train), scorers, final, blocks_test, y_test
            )
            continue
        key = (candidate.fusion_name, candidate.modalities)
        if key not in fused:
            if candidate.modalities:
                fusion = ConcatFusion()
                train_blocks = blocks_train.select(candidate.modalities)
                test_blocks = blocks_test.select(candidate.modalities)
            else:
                fusion = clone(fusions[candidate.fusion_name])
                train_blocks, test_blocks = blocks_train, blocks_test
            with warnings.catch_warnings():
                if candidate.modalities:
                    # A one-modality baseline lacks its modality wherever the
                    # cohort does; that is what "this modality alone" means,
                    # not news about the user's rows, in every fold again.
                    warnings.simplefilter("ignore", MissingModalityWarning)
                Z_train = fusion.fit_transform(train_blocks, y_train)
                fused[key] = (Z_train, fusion.transform(test_blocks))
        Z_train, Z_test = fused[key]
        head = clone(heads[candidate.head_name]).fit(Z_train, y_train)
        records += _records(candidate, fold, len(train), scorers, head, Z_test, y_test)
    if verbose:
        print(
            f"[compare_fusions] fold {fold + 1}/{n_folds}: features extracted in "
            f"{extraction:.1f} s, {len(candidates)} candidates scored in "
            f"{time.perf_counter() - start - extraction:.1f} s",
            flush=True,
        )
    return records


def _records(candidate, fold, n_train, scorers, estimator, X_test, y_test):
    return [
        {
            "candidate": candidate.name,
            "fusion": candidate.fusion_name,
            "head": candidate.head_name,
            "modalities": ", ".join(candidate.modalities) or "all",
            "fold": fold,
            "n_train": n_train,
            "n_test": len(y_test),
            "metric": metric,
            "score": float(scorer(estimator, X_test, y_test)),
        }
        for metric, scorer in scorers.items()
    ]


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
    >>> result.to_frame()[["roc_auc_mean", "rank", "p_vs_baseline"]].round(2)
                   roc_auc_mean  rank  p_vs_baseline
    candidate
    concat + lr            0.86     1           0.88
    lab only + lr          0.85     2            NaN
    age only + lr          0.63     3           0.09

    Fusing the age in gains nothing that these folds can show:

    >>> gain = result.difference("concat + lr", "lab only + lr")
    >>> {key: round(value, 2) for key, value in gain.items()}
    {'mean': 0.0, 'ci_low': -0.04, 'ci_high': 0.04, 't': 0.16, 'p': 0.88}
    """

    def __init__(self, scores, metrics, candidates, skipped):
        self.scores_ = scores
        self.metrics_ = metrics
        self.candidates_ = candidates
        self.skipped_ = skipped
        self.baselines_ = [
            candidate.name for candidate in candidates if candidate.modalities
        ]
        ranked = self._ranked_means(metrics[0]).index
        self.best_candidate_ = ranked[0]
        self.best_baseline_ = next(
            (name for name in ranked if name in self.baselines_), None
        )

    def _fold_scores(self, metric):
        """Candidates × folds: one metric's scores, candidates sorted by name."""
        rows = self.scores_[self.scores_["metric"] == metric]
        return rows.pivot(index="candidate", columns="fold", values="score")

    def _ranked_means(self, metric):
        # A stable sort of the name-sorted table breaks ties by name.
        means = self._fold_scores(metric).mean(axis=1)
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
        table = self._fold_scores(metric)
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
            (``t_vs_best``, ``p_vs_best``) and against the best
            single-modality candidate (``t_vs_baseline``, ``p_vs_baseline``;
            NaN without baselines). A candidate's test against itself is NaN.
            Sorted by the first metric's mean, descending.
        """
        n_train, n_test = self._fold_sizes()
        details = self.scores_.drop_duplicates("candidate").set_index("candidate")
        frame = details[["fusion", "head", "modalities"]].sort_index()
        for metric in self.metrics_:
            table = self._fold_scores(metric)
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
        table = self._fold_scores(ranking)
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
        import_matplotlib("FusionComparison.plot")
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

    def save(self, directory):
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

        Returns
        -------
        pathlib.Path
            The path of ``report.md``.
        """
        import_matplotlib("FusionComparison.save")
        from matplotlib.figure import Figure

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # Everything is computed before the first file is replaced.
        report = report_text(self, "scores.png").encode()
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
