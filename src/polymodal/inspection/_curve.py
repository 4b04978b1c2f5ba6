"""How a fitted pipeline's score degrades as one modality goes missing."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.model_selection import cross_validate
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
    fit_fold,
    make_splits,
    modality_columns,
    remove_cells,
    scoring_label,
    shared_steps,
)

__all__ = ["MissingModalityCurve", "missing_modality_curve"]


@validate_params(
    {
        # The estimator, modality, rates, scoring and n_repeats are checked in
        # the body, whose messages say what each must be.
        "estimator": "no_validation",
        "X": ["array-like", dict],
        "y": ["array-like"],
        "modality": "no_validation",
        "rates": "no_validation",
        "cv": ["cv_object"],
        "scoring": "no_validation",
        "groups": ["array-like", None],
        "n_repeats": "no_validation",
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def missing_modality_curve(
    estimator,
    X,
    y,
    modality,
    *,
    rates=(0.0, 0.1, 0.3, 0.5, 0.7),
    cv=5,
    scoring=None,
    groups=None,
    n_repeats=1,
    n_jobs=None,
    random_state=None,
):
    """Cross-validated score as a modality goes missing in more test rows.

    The pipeline is fitted on each training fold as it is. In the test fold,
    the modality is then removed from a random share ``rate`` of the rows:
    all of its input cells are set to missing (None in object columns, NaN in
    the others), which :class:`~polymodal.MultimodalUnion` reads as an absent
    modality, and the pipeline is scored. The removed rows are nested: within
    one fold and repeat, the rows removed at a rate are also removed at every
    higher rate, so the curve's steps come from the rate, not from which rows
    were drawn. Rows where the modality was already absent count among the
    rows of the share but change nothing.

    Parameters
    ----------
    estimator : Pipeline
        An unfitted pipeline whose first step is a
        :class:`~polymodal.MultimodalUnion` (cloned, never fitted).
    X : DataFrame, dict of columns or 2-D array
        The patient table.
    y : array-like of shape (n_samples,)
        The target.
    modality : str
        The modality to remove: one of the union's modality names.
    rates : sequence of float, default=(0.0, 0.1, 0.3, 0.5, 0.7)
        Shares of test rows, each in [0, 1], from which the modality is
        removed.
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled folds (seeded by ``random_state``), stratified
        for classifiers and grouped when ``groups`` is given.
    scoring : str, callable or None, default=None
        One metric, as in :func:`sklearn.metrics.check_scoring`; None uses the
        estimator's ``score``.
    groups : array-like of shape (n_samples,), default=None
        Group labels (patient IDs) for the splitter.
    n_repeats : int, default=1
        Random draws of the removed rows per fold.
    n_jobs : int, default=None
        Folds run in parallel with joblib. The result does not depend on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds (when ``cv`` is an int) and the removed rows.

    Returns
    -------
    MissingModalityCurve
        The score at each rate per fold and repeat, its mean and standard
        deviation, with :meth:`~MissingModalityCurve.to_frame` and
        :meth:`~MissingModalityCurve.plot`.

    See Also
    --------
    modality_importance : How much each modality contributes.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from polymodal import MultimodalUnion
    >>> from polymodal.datasets import make_patients
    >>> from polymodal.fusion import ConcatFusion
    >>> from polymodal.inspection import missing_modality_curve
    >>> X, y = make_patients(n_samples=80, random_state=0)
    >>> pipe = Pipeline([
    ...     ("union", MultimodalUnion([("age", StandardScaler(), ["age"]),
    ...                                ("smoking", StandardScaler(), ["pack_years"])])),
    ...     ("fusion", ConcatFusion()),
    ...     ("head", LogisticRegression()),
    ... ])
    >>> curve = missing_modality_curve(pipe, X, y, "smoking", rates=[0, 0.5, 1],
    ...                                scoring="roc_auc", cv=3, random_state=0)
    >>> curve.to_frame().index.tolist()
    [0.0, 0.5, 1.0]
    >>> curve.scores.shape
    (3, 3)
    """
    caller = "missing_modality_curve"
    union_name = check_multimodal_pipeline(estimator, caller)
    rates = np.asarray(rates, dtype=float).reshape(-1)
    if rates.size == 0 or not np.all((rates >= 0) & (rates <= 1)):
        raise ValueError(
            f"rates must be shares of rows between 0 and 1; got {rates.tolist()}."
        )
    check_positive_int("n_repeats", n_repeats)
    X, y = check_data(X, y, groups)
    columns = modality_columns(estimator, union_name, X, caller)
    if modality not in columns:
        raise ValueError(
            f"{modality!r} is not a modality of the pipeline's union; its "
            f"modalities are {list(columns)}."
        )
    scorer = check_single_scoring(estimator, scoring, caller)
    rng = check_random_state(random_state)
    splits = make_splits(estimator, X, y, cv, groups, rng)
    shared = shared_steps(estimator, union_name, X, n_jobs=n_jobs)
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(splits))
    folds = parallel_tasks(
        n_jobs,
        (
            task(
                _curve_fold,
                estimator,
                X,
                y,
                train,
                test,
                scorer,
                columns[modality],
                rates,
                n_repeats,
                seed,
                shared,
            )
            for (train, test), seed in zip(splits, seeds, strict=True)
        ),
        stacklevel=3,
        shared=(X, y, shared),
    )
    chance = cross_validate(
        chance_estimator(estimator), X, y, cv=splits, scoring=scorer, n_jobs=n_jobs
    )["test_score"]
    return MissingModalityCurve(
        modality, rates, np.concatenate(folds, axis=1), float(np.mean(chance)), scoring
    )


def _curve_fold(
    estimator, X, y, train, test, scorer, columns, rates, n_repeats, seed, shared=None
):
    """Scores of one fitted fold at each rate (rows) and repeat (columns)."""
    fitted, X_test, y_test = fit_fold(estimator, X, y, train, test, shared)
    rng = np.random.RandomState(seed)
    scores = np.empty((len(rates), n_repeats))
    for repeat in range(n_repeats):
        order = rng.permutation(len(test))
        for i, rate in enumerate(rates):
            rows = order[: round(rate * len(test))]
            scores[i, repeat] = scorer(
                fitted, remove_cells(X_test, columns, rows), y_test
            )
    return scores


class MissingModalityCurve:
    """The result of :func:`missing_modality_curve`.

    Attributes
    ----------
    modality : str
        The modality removed.
    rates : ndarray of shape (n_rates,)
        Shares of test rows without the modality.
    scores : ndarray of shape (n_rates, n_folds * n_repeats)
        The score at each rate per fold and repeat (folds outermost).
    scores_mean : ndarray of shape (n_rates,)
        Mean of ``scores`` at each rate.
    scores_std : ndarray of shape (n_rates,)
        Standard deviation of ``scores`` at each rate (numpy's, ``ddof=0``).
    chance_score : float
        Mean fold score of the training prior (classifiers) or mean
        (regressors): the level a model that learnt nothing reaches.
    scoring : str, callable or None
        The metric.
    """

    def __init__(self, modality, rates, scores, chance_score, scoring):
        self.modality = modality
        self.rates = rates
        self.scores = scores
        self.scores_mean = scores.mean(axis=1)
        self.scores_std = scores.std(axis=1)
        self.chance_score = chance_score
        self.scoring = scoring

    def __repr__(self):
        return (
            f"MissingModalityCurve(modality={self.modality!r}, "
            f"scoring={scoring_label(self.scoring)!r}, rates={self.rates.tolist()})"
        )

    def to_frame(self):
        """Mean and standard deviation of the score at each rate.

        Returns
        -------
        DataFrame
            Indexed by rate, with ``score_mean`` and ``score_std`` columns.
        """
        return pd.DataFrame(
            {"score_mean": self.scores_mean, "score_std": self.scores_std},
            index=pd.Index(self.rates, name="rate"),
        )

    def plot(self, ax=None):
        """The score against the rate, with standard-deviation bars and chance level.

        Needs matplotlib.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure's Axes when None.

        Returns
        -------
        matplotlib Axes
        """
        ax = plot_axes(ax, "MissingModalityCurve.plot")
        ax.errorbar(
            self.rates,
            self.scores_mean,
            yerr=self.scores_std,
            marker="o",
            capsize=3,
            label=f"without {self.modality}",
        )
        ax.axhline(self.chance_score, color="grey", linestyle="--", label="chance")
        ax.set_xlabel(f"share of test rows without {self.modality!r}")
        ax.set_ylabel(scoring_label(self.scoring))
        ax.legend()
        return ax
