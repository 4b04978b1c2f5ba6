"""Cross-validate fusion × head candidates, extracting features once per fold."""

import time
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    check_cv,
    cross_validate,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length

from ..exceptions import GroupLeakageWarning, MissingModalityWarning
from ..fusion import ConcatFusion, KernelFusion
from ..union import MultimodalUnion
from ..union._row_independent import (
    fit_after_union,
    fit_pipeline,
    fit_union,
    row_independent_steps,
)
from ..utils._chance import chance_estimator
from ..utils._parallel import WorkerTask, parallel_tasks, reissue_warnings, task
from ..utils._sklearn_compat import (
    StrOptions,
    _safe_indexing,
    validate_params,
)
from ..utils._splits import shuffled_splitter
from ..utils._table import dict_to_frame
from ..utils.validation import check_target_present
from ._comparison import FusionComparison, _Candidate

__all__ = ["compare_fusions"]


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
    are compared. Nothing learnt from rows is shared across folds, so the
    scores are honest. A modality whose transformer learns nothing from the
    rows (it declares ``_learns_from_rows = False``: polymodal's image loader
    and preprocessor, :class:`~polymodal.image.ImageFeatures` with a fixed or
    per-image ``intensity_range``, the CNN embedder, Morgan fingerprints,
    k-mer counts without idf, one-hot sequences with ``max_length``; a
    pipeline through its leading such steps) is even computed once for all
    rows, not once per fold and again for the refit: each fold slices it and
    fits only the steps that follow (a scaler, a PCA). The blocks, and so
    the scores, are the same to the last digit; rows that such a modality
    cannot read are named in one RowFailureWarning rather than one per fold.

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
        ``dask.distributed.Client``, the folds run on the dask cluster. The
        row-independent blocks are computed first, each modality's rows split
        into ``n_jobs`` chunks computed in parallel; then one task per fold
        carries the table, the target and those blocks. loky memory-maps numpy
        arrays over 1 MB rather than pickling them per task; on a dask
        cluster they are sent to every worker once. With more than one job,
        the union is also fitted on every row beside the folds, so that the
        refit of the best candidate fits only its fusion step and head.
        Warnings raised in a task are recorded there and issued in this
        process afterwards, in task order and once per category and message,
        so they are the same whatever ``n_jobs`` and the backend. Scores and
        the refitted pipeline do not depend on ``n_jobs`` or the backend.
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
    >>> list(result.to_frame().columns[-8:])  # doctest: +NORMALIZE_WHITESPACE
    ['rank', 't_vs_best', 'p_vs_best', 't_vs_baseline', 'p_vs_baseline',
     't_vs_chance', 'p_vs_chance', 'vs_chance']
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
    cv = shuffled_splitter(
        cv, classifier=classifier, groups=groups, random_state=random_state
    )
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
    shared = row_independent_steps(union, X, n_jobs=n_jobs)
    tasks = [
        task(
            _score_fold,
            union,
            shared,
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
    ]
    # With workers to spare, the union is also fitted on every row while the
    # folds run (five folds on two workers leave the last round half idle):
    # the refit of the winner then fits only its fusion and head.
    fit_union_now = effective_n_jobs(n_jobs) > 1
    if fit_union_now:
        # Its warnings are kept apart: they belong to the refit, after the
        # folds', and only if the refit uses this union.
        tasks.append(task(WorkerTask(_fitted_union), union, shared, X, y))
    results = parallel_tasks(
        n_jobs,
        tasks,
        # Past compare_fusions and its parameter check, at the caller's line.
        stacklevel=3,
        shared=(X, y, shared),
    )
    fold_records = results[: len(splits)]
    records = [record for records in fold_records for record in records]
    scores = pd.DataFrame.from_records(records)
    chance = cross_validate(
        chance_estimator(first_head), X, y, cv=splits, scoring=scorers
    )
    chance_scores = pd.DataFrame(
        {metric: chance[f"test_{metric}"] for metric in metrics}
    )
    comparison = FusionComparison(scores, metrics, candidates, skipped, chance_scores)
    best = comparison.best_candidate_
    best_candidate = next(c for c in candidates if c.name == best)
    pipe = _pipeline(union, fusions, {**heads, **finals}, best_candidate)
    if fit_union_now and not best_candidate.modalities:
        (fitted_union, blocks), refit_warnings = results[-1]
        reissue_warnings([refit_warnings], stacklevel=3)
        comparison.best_estimator_ = fit_after_union(pipe, fitted_union, blocks, y)
    else:
        # A one-modality baseline won: its union drops the other modalities.
        comparison.best_estimator_ = fit_pipeline(pipe, X, y, shared)
    return comparison


def _fitted_union(union, shared, X, y):
    """A clone of ``union`` fitted on every row, and the blocks it gives."""
    union = clone(union)
    return union, fit_union(union, X, y, shared)


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
    shared,
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
    if shared is None:
        blocks_train = fold_union.fit_transform(X_train, y_train)
        blocks_test = fold_union.transform(X_test)
    else:
        blocks_train = shared.fit_transform(fold_union, X_train, y_train, train)
        blocks_test = shared.transform(fold_union, X_test, test)
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
