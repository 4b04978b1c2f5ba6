"""Cross-validate fusion × head candidates, extracting features once per fold."""

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_consistent_length

from ..fusion import ConcatFusion, KernelFusion
from ..union import MultimodalUnion, dict_to_frame
from ..utils._sklearn_compat import _safe_indexing

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
    scoring="roc_auc",
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
        An int gives stratified folds for classifiers, shuffled with
        ``random_state``; with ``groups`` it gives
        :class:`~sklearn.model_selection.StratifiedGroupKFold`, so a patient's
        rows never sit on both sides of a split.
    groups : array-like of shape (n_samples,), default=None
        Group labels (patient IDs) passed to the splitter.
    scoring : str or list of str, default="roc_auc"
        Metric names as in :func:`sklearn.metrics.get_scorer`; the first one
        ranks the candidates.
    baselines : {"unimodal", None}, default="unimodal"
        Also score each modality alone (its block through
        :class:`~polymodal.fusion.ConcatFusion`) with every head.
    n_jobs : int, default=None
        Folds run in parallel with joblib.
    verbose : int, default=0
        Print progress per fold.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int.

    Returns
    -------
    FusionComparison
        Fold scores, a ranked summary and the best pipeline refitted on all
        rows.

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
    """
    if not isinstance(union, MultimodalUnion):
        raise TypeError(
            f"compare_fusions takes a MultimodalUnion; got {type(union).__name__}."
        )
    if baselines not in ("unimodal", None):
        raise ValueError(f"baselines must be 'unimodal' or None; got {baselines!r}.")
    if isinstance(X, dict):
        # sklearn's splitters count a dict's keys as rows; a frame splits by row.
        X = dict_to_frame(X)
    check_consistent_length(X, y)
    fusions = _named(fusions, "fusions")
    heads = _named(heads, "heads")
    finals = _named(final_fusions, "final fusions") if final_fusions else {}
    overlap = sorted(set(finals) & set(heads))
    if overlap:
        raise ValueError(f"Final fusions and heads share the names {overlap}.")
    metrics = [scoring] if isinstance(scoring, str) else list(scoring)
    first_head = next(iter(heads.values()))
    classifier = is_classifier(first_head)
    if isinstance(cv, int) and groups is not None and classifier:
        cv = StratifiedGroupKFold(cv, shuffle=True, random_state=random_state)
    elif isinstance(cv, int) and classifier:
        cv = StratifiedKFold(cv, shuffle=True, random_state=random_state)
    cv = check_cv(cv, y, classifier=classifier)
    y = np.asarray(y)
    splits = list(cv.split(X, y, groups))
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
            records += _records(candidate, fold, scorers, final, blocks_test, y_test)
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
            Z_train = fusion.fit_transform(train_blocks, y_train)
            fused[key] = (Z_train, fusion.transform(test_blocks))
        Z_train, Z_test = fused[key]
        head = clone(heads[candidate.head_name]).fit(Z_train, y_train)
        records += _records(candidate, fold, scorers, head, Z_test, y_test)
    if verbose:
        print(
            f"[compare_fusions] fold {fold + 1}/{n_folds}: features extracted in "
            f"{extraction:.1f} s, {len(candidates)} candidates scored in "
            f"{time.perf_counter() - start - extraction:.1f} s",
            flush=True,
        )
    return records


def _records(candidate, fold, scorers, estimator, X_test, y_test):
    return [
        {
            "candidate": candidate.name,
            "fusion": candidate.fusion_name,
            "head": candidate.head_name,
            "modalities": ", ".join(candidate.modalities) or "all",
            "fold": fold,
            "metric": metric,
            "score": float(scorer(estimator, X_test, y_test)),
        }
        for metric, scorer in scorers.items()
    ]


class FusionComparison:
    """The result of :func:`compare_fusions`.

    Attributes
    ----------
    scores_ : DataFrame
        One row per candidate, fold and metric: ``candidate``, ``fusion``,
        ``head``, ``modalities``, ``fold``, ``metric``, ``score``.
    metrics_ : list of str
        The metrics; the first ranks the candidates.
    best_candidate_ : str
        The candidate with the highest mean score on the first metric.
    best_estimator_ : Pipeline
        That candidate's pipeline (union, fusion, head) refitted on all rows.
    skipped_ : list of str
        Fusion + head pairs that were not run because they do not fit
        together: a kernel output (:class:`~polymodal.fusion.KernelFusion`)
        with a head that takes features, or features with a head that takes a
        precomputed kernel.
    """

    def __init__(self, scores, metrics, candidates, skipped):
        self.scores_ = scores
        self.metrics_ = metrics
        self.candidates_ = candidates
        self.skipped_ = skipped
        self.best_candidate_ = self.to_frame().index[0]

    def to_frame(self):
        """Mean and standard deviation per candidate and metric, best first.

        Returns
        -------
        DataFrame
            Indexed by candidate, with ``<metric>_mean`` and ``<metric>_sd``
            columns, sorted by the first metric's mean (descending).
        """
        summary = self.scores_.pivot_table(
            index="candidate", columns="metric", values="score", aggfunc=["mean", "std"]
        )
        frame = pd.DataFrame(index=summary.index)
        for metric in self.metrics_:
            frame[f"{metric}_mean"] = summary[("mean", metric)]
            frame[f"{metric}_sd"] = summary[("std", metric)]
        details = self.scores_.drop_duplicates("candidate").set_index("candidate")
        frame.insert(0, "modalities", details["modalities"])
        frame.insert(0, "head", details["head"])
        frame.insert(0, "fusion", details["fusion"])
        frame = frame.sort_values(
            f"{self.metrics_[0]}_mean", ascending=False, kind="stable"
        )
        frame.index.name = "candidate"
        return frame

    def to_markdown(self):
        """A ranked markdown table: mean ± sd of every metric per candidate.

        Returns
        -------
        str
        """
        frame = self.to_frame()
        header = ["rank", "candidate", *self.metrics_]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for rank, (candidate, row) in enumerate(frame.iterrows(), start=1):
            cells = [
                f"{row[f'{metric}_mean']:.3f} ± {row[f'{metric}_sd']:.3f}"
                for metric in self.metrics_
            ]
            lines.append("| " + " | ".join([str(rank), candidate, *cells]) + " |")
        return "\n".join(lines) + "\n"

    def __repr__(self):
        n_folds = self.scores_["fold"].nunique()
        return (
            f"FusionComparison({len(self.candidates_)} candidates, {n_folds} folds, "
            f"best: {self.best_candidate_!r})"
        )
