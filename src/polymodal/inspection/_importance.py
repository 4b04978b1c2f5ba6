"""How much each modality contributes to a multimodal pipeline's score."""

from itertools import combinations
from math import factorial
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ..utils._chance import chance_estimator
from ..utils._optional import plot_axes
from ..utils._parallel import parallel_tasks, task
from ..utils._sklearn_compat import validate_params
from ._common import (
    check_data,
    check_multimodal_pipeline,
    check_positive_int,
    check_single_scoring,
    fit_and_score,
    fit_fold,
    make_splits,
    modality_columns,
    permute_rows,
    scoring_label,
    shared_steps,
    subset_pipeline,
)

__all__ = ["ModalityImportance", "modality_importance"]

_METHODS = ("shapley", "ablation", "permutation")


@validate_params(
    {
        # The estimator, method, scoring and the counts are checked in the
        # body, whose messages say what each must be.
        "estimator": "no_validation",
        "X": ["array-like", dict],
        "y": ["array-like"],
        "method": "no_validation",
        "cv": ["cv_object"],
        "scoring": "no_validation",
        "groups": ["array-like", None],
        "n_repeats": "no_validation",
        "max_exact": "no_validation",
        "n_samples": "no_validation",
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def modality_importance(
    estimator,
    X,
    y,
    *,
    method="shapley",
    cv=5,
    scoring=None,
    groups=None,
    n_repeats=5,
    max_exact=6,
    n_samples=100,
    n_jobs=None,
    random_state=None,
):
    r"""Cross-validated importance of each modality of a multimodal pipeline.

    The value :math:`v(S)` of a set :math:`S` of modalities is the mean
    test-fold score of the pipeline refitted with the modalities of :math:`S`
    only: the others are set to ``"drop"`` in the union, and the entries that
    name them are removed from the fusion steps' ``weights``, ``encoders`` and
    ``estimators``. Every set is scored on the same folds, and each set is
    fitted once per fold, however many formulas use it.

    The empty set has no features, so its value is the chance level: the score
    of a :class:`~sklearn.dummy.DummyClassifier` predicting the training prior
    (a :class:`~sklearn.dummy.DummyRegressor` predicting the training mean for
    regressors), under the same folds and scorer. It is 0.5 for ROC AUC, the
    positive rate for average precision and the majority-class rate for
    accuracy.

    Parameters
    ----------
    estimator : Pipeline
        An unfitted pipeline whose first step is a
        :class:`~polymodal.MultimodalUnion`: a fusion transformer and a head,
        or ``"passthrough"`` and a final-step fusion such as
        :class:`~polymodal.fusion.LateFusionClassifier`. Its modalities are
        the union's modality names, except those set to ``"drop"``. It is
        cloned, never fitted.
    X : DataFrame, dict of columns or 2-D array
        The patient table.
    y : array-like of shape (n_samples,)
        The target.
    method : {"shapley", "ablation", "permutation"}, default="shapley"
        - ``"shapley"``: the Shapley value of each modality in the game
          :math:`v` (see Notes); the values add up to
          :math:`v(\text{all}) - v(\varnothing)`.
        - ``"ablation"``: the drop-one loss
          :math:`v(\text{all}) - v(\text{all} \setminus \{m\})`.
        - ``"permutation"``: grouped permutation importance. The full
          pipeline is fitted once per training fold; on the test fold the rows
          of all of a modality's input columns are shuffled together, so a
          modality's presence pattern moves with its values, and the loss of
          score is averaged over ``n_repeats`` shuffles.
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled folds (seeded by ``random_state``), stratified
        for classifiers; with ``groups`` they are grouped, so a patient's rows
        never sit on both sides of a split.
    scoring : str, callable or None, default=None
        One metric, as in :func:`sklearn.metrics.check_scoring`; None uses the
        estimator's ``score`` (accuracy or R²).
    groups : array-like of shape (n_samples,), default=None
        Group labels (patient IDs) for the splitter.
    n_repeats : int, default=5
        Shuffles per modality and fold, for ``method="permutation"``.
    max_exact : int, default=6
        Largest number of modalities for which Shapley values are exact
        (:math:`2^M - 1` refits per fold). Beyond it they are estimated from
        ``n_samples`` random orderings of the modalities.
    n_samples : int, default=100
        Number of random orderings of the modalities that estimate Shapley
        values when there are more than ``max_exact`` modalities.
    n_jobs : int, default=None
        Refits run in parallel with joblib. The result does not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds (when ``cv`` is an int), the sampled orderings and the
        shuffles.

    Returns
    -------
    ModalityImportance
        Importances per modality and fold (and shuffle), their mean and
        standard deviation, the full-model score and the chance level, with
        :meth:`~ModalityImportance.to_frame` and
        :meth:`~ModalityImportance.plot`.

    See Also
    --------
    missing_modality_curve : Score as a modality goes missing in more rows.
    sklearn.inspection.permutation_importance : Importance of single columns.

    Notes
    -----
    With :math:`M` modalities, the Shapley value of modality :math:`m` is

    .. math::

        \phi_m = \sum_{S \subseteq N \setminus \{m\}}
        \frac{|S|!\,(M - |S| - 1)!}{M!}\,\bigl(v(S \cup \{m\}) - v(S)\bigr),

    computed per fold from that fold's scores. With more than ``max_exact``
    modalities, :math:`\phi_m` is the mean marginal contribution of :math:`m`
    over ``n_samples`` random orderings; each ordering's contributions add up
    to :math:`v(\text{all}) - v(\varnothing)`, so the estimates keep that
    property exactly. Shapley values over modalities, each player a whole
    modality, follow HAIM (Soenksen et al., *npj Digital Medicine*, 2022).

    Shapley values and ablation measure what refitting without a modality
    loses: a modality whose information another one duplicates scores low in
    ablation and shares the credit in Shapley values. Permutation importance
    measures what one fitted model relies on, at the cost of one fit per fold.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from polymodal import MultimodalUnion
    >>> from polymodal.datasets import make_patients
    >>> from polymodal.fusion import ConcatFusion
    >>> from polymodal.inspection import modality_importance
    >>> X, y = make_patients(n_samples=80, random_state=0)
    >>> pipe = Pipeline([
    ...     ("union", MultimodalUnion([("age", StandardScaler(), ["age"]),
    ...                                ("smoking", StandardScaler(), ["pack_years"])])),
    ...     ("fusion", ConcatFusion()),
    ...     ("head", LogisticRegression()),
    ... ])
    >>> result = modality_importance(pipe, X, y, scoring="roc_auc", cv=3,
    ...                              random_state=0)
    >>> result.modalities, result.chance_score
    (['age', 'smoking'], 0.5)
    >>> total = result.importances_mean.sum()
    >>> bool(abs(total - (result.full_score - result.chance_score)) < 1e-12)
    True
    >>> list(result.to_frame().columns)
    ['importance_mean', 'importance_std']
    """
    caller = "modality_importance"
    union_name = check_multimodal_pipeline(estimator, caller)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}; got {method!r}.")
    check_positive_int("n_repeats", n_repeats)
    check_positive_int("max_exact", max_exact)
    check_positive_int("n_samples", n_samples)
    X, y = check_data(X, y, groups)
    columns = modality_columns(estimator, union_name, X, caller)
    modalities = list(columns)
    scorer = check_single_scoring(estimator, scoring, caller)
    rng = check_random_state(random_state)
    splits = make_splits(estimator, X, y, cv, groups, rng)
    shared = shared_steps(estimator, union_name, X, n_jobs=n_jobs)
    everything = tuple(modalities)

    if method == "permutation":
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(splits))
        folds = parallel_tasks(
            n_jobs,
            (
                task(
                    _permutation_fold,
                    estimator,
                    X,
                    y,
                    train,
                    test,
                    scorer,
                    columns,
                    n_repeats,
                    seed,
                    shared,
                )
                for (train, test), seed in zip(splits, seeds, strict=True)
            ),
            stacklevel=3,
            shared=(X, y, shared),
        )
        chance = _score_subsets(
            estimator, union_name, modalities, [()], X, y, splits, scorer, n_jobs
        )
        subset_scores = {(): chance[()], everything: np.array([f[0] for f in folds])}
        importances = np.concatenate([f[1] for f in folds], axis=1)
        return ModalityImportance(
            modalities, method, importances, subset_scores, scoring
        )

    if method == "ablation":
        wanted = [everything, *(_without(modalities, m) for m in modalities)]
        orderings = None
    elif len(modalities) <= max_exact:
        wanted = [
            subset
            for size in range(len(modalities) + 1)
            for subset in combinations(modalities, size)
        ]
        orderings = None
    else:
        orderings = [rng.permutation(len(modalities)) for _ in range(n_samples)]
        wanted = {
            _subset(modalities, order[:size])
            for order in orderings
            for size in range(len(modalities) + 1)
        }
    wanted = sorted(set(wanted) | {()}, key=lambda s: (len(s), s))
    scores = _score_subsets(
        estimator, union_name, modalities, wanted, X, y, splits, scorer, n_jobs, shared
    )
    if method == "ablation":
        importances = np.array(
            [scores[everything] - scores[_without(modalities, m)] for m in modalities]
        )
    elif orderings is None:
        importances = _exact_shapley(modalities, scores)
    else:
        importances = _sampled_shapley(modalities, scores, orderings)
    return ModalityImportance(modalities, method, importances, scores, scoring)


def _subset(modalities, indices):
    """A set of modalities as a tuple in the union's order: one key per set."""
    return tuple(modalities[i] for i in sorted(indices))


def _without(modalities, dropped):
    return tuple(name for name in modalities if name != dropped)


def _score_subsets(
    estimator,
    union_name,
    modalities,
    subsets,
    X,
    y,
    splits,
    scorer,
    n_jobs,
    shared=None,
):
    """Fold scores of every subset, each fitted once per fold: {subset: scores}."""
    models = {
        subset: subset_pipeline(estimator, union_name, modalities, subset)
        if subset
        else chance_estimator(estimator)
        for subset in subsets
    }
    flat = parallel_tasks(
        n_jobs,
        (
            task(
                fit_and_score,
                models[subset],
                X,
                y,
                train,
                test,
                scorer,
                shared if subset else None,
            )
            for subset in subsets
            for train, test in splits
        ),
        # Past this helper, modality_importance and its parameter check.
        stacklevel=4,
        shared=(X, y, shared),
    )
    flat = np.asarray(flat).reshape(len(subsets), len(splits))
    return dict(zip(subsets, flat, strict=True))


def _exact_shapley(modalities, scores):
    n_modalities = len(modalities)
    values = np.zeros((n_modalities, len(scores[()])))
    for i in range(n_modalities):
        others = [j for j in range(n_modalities) if j != i]
        for size in range(n_modalities):
            weight = (
                factorial(size)
                * factorial(n_modalities - size - 1)
                / factorial(n_modalities)
            )
            for rest in combinations(others, size):
                with_m = scores[_subset(modalities, (*rest, i))]
                values[i] += weight * (with_m - scores[_subset(modalities, rest)])
    return values


def _sampled_shapley(modalities, scores, orderings):
    values = np.zeros((len(modalities), len(scores[()])))
    for order in orderings:
        before = scores[()]
        for size, index in enumerate(order, start=1):
            after = scores[_subset(modalities, order[:size])]
            values[index] += after - before
            before = after
    return values / len(orderings)


def _permutation_fold(
    estimator, X, y, train, test, scorer, columns, n_repeats, seed, shared=None
):
    """One fit on the training rows; score losses of shuffling each modality."""
    fitted, X_test, y_test = fit_fold(estimator, X, y, train, test, shared)
    baseline = float(scorer(fitted, X_test, y_test))
    rng = np.random.RandomState(seed)
    losses = np.empty((len(columns), n_repeats))
    for i, positions in enumerate(columns.values()):
        for repeat in range(n_repeats):
            order = rng.permutation(len(test))
            shuffled = permute_rows(X_test, positions, order)
            losses[i, repeat] = baseline - scorer(fitted, shuffled, y_test)
    return baseline, losses


class ModalityImportance:
    """The result of :func:`modality_importance`.

    Attributes
    ----------
    modalities : list of str
        The modalities, in the union's order.
    method : str
        "shapley", "ablation" or "permutation".
    importances : ndarray of shape (n_modalities, n_estimates)
        The importance of each modality per fold, or per fold and shuffle
        for ``method="permutation"`` (``n_folds * n_repeats`` columns, folds
        outermost).
    importances_mean : ndarray of shape (n_modalities,)
        Mean of ``importances`` per modality.
    importances_std : ndarray of shape (n_modalities,)
        Standard deviation of ``importances`` per modality, across folds
        (and shuffles): numpy's, with ``ddof=0``, as in
        :func:`sklearn.inspection.permutation_importance`.
    subset_scores : dict of tuple to ndarray of shape (n_folds,)
        Fold scores of each scored set of modalities, keyed by the modality
        names in the union's order: ``()`` is the chance level, the tuple of
        all modalities the full model.
    full_score : float
        Mean fold score of the pipeline with every modality.
    chance_score : float
        Mean fold score with no modality: the training prior or mean.
    scoring : str, callable or None
        The metric.
    """

    def __init__(self, modalities, method, importances, subset_scores, scoring):
        self.modalities = list(modalities)
        self.method = method
        self.importances = importances
        self.importances_mean = importances.mean(axis=1)
        self.importances_std = importances.std(axis=1)
        self.subset_scores = subset_scores
        self.full_score = float(subset_scores[tuple(self.modalities)].mean())
        self.chance_score = float(subset_scores[()].mean())
        self.scoring = scoring

    def __repr__(self):
        return (
            f"ModalityImportance(method={self.method!r}, "
            f"scoring={scoring_label(self.scoring)!r}, "
            f"full_score={self.full_score:.3f}, chance_score={self.chance_score:.3f})"
        )

    def to_frame(self):
        """Mean and standard deviation of each modality's importance, largest first.

        Returns
        -------
        DataFrame
            Indexed by modality, with ``importance_mean`` and
            ``importance_std`` columns.
        """
        frame = pd.DataFrame(
            {
                "importance_mean": self.importances_mean,
                "importance_std": self.importances_std,
            },
            index=pd.Index(self.modalities, name="modality"),
        )
        return frame.sort_values("importance_mean", ascending=False, kind="stable")

    def plot(self, ax=None):
        """Horizontal bars of the mean importances, with standard-deviation whiskers.

        Needs matplotlib.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure's Axes when None.

        Returns
        -------
        matplotlib Axes
        """
        ax = plot_axes(ax, "ModalityImportance.plot")
        # Largest at the top: barh draws the first row at the bottom.
        frame = self.to_frame().iloc[::-1]
        ax.barh(
            frame.index,
            frame["importance_mean"],
            xerr=frame["importance_std"],
            capsize=3,
        )
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel(f"{self.method} importance ({scoring_label(self.scoring)})")
        ax.set_ylabel("modality")
        return ax
