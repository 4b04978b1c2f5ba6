"""Statistics on cross-validated fold scores: Nadeau and Bengio's correction.

The k fold scores of one candidate are not independent samples: every two
training sets share most of their rows. The naive variance of their mean,
``s² / k``, is therefore too small, and intervals and t-tests built on it are
too confident. Nadeau and Bengio (2003, "Inference for the generalization
error", Machine Learning 52) correct it to

    σ²_corrected = (1 / k + n_test / n_train) · s²

where ``s²`` is the sample variance (``ddof=1``) of the k fold values and
``n_test / n_train`` the ratio of test to training rows per fold. With
repeated cross-validation k counts every fold of every repetition.

The t-interval is symmetric about the mean and knows nothing of the metric,
so near a bound it can reach past it (an AUROC interval [0.742, 1.158]).
Intervals are clipped to the range the metric can take (:func:`metric_range`),
and intervals of differences to the range a difference of two scores can
take (:func:`difference_range`).
"""

import numpy as np
from scipy import stats

__all__ = [
    "corrected_interval",
    "corrected_ttest",
    "corrected_variance",
    "difference_range",
    "metric_range",
]

_UNBOUNDED = (-np.inf, np.inf)

#: Scorer names (as in :func:`sklearn.metrics.get_scorer_names`) by range.
#: A name is looked up exactly, then by the family it starts with
#: (``"f1_macro"`` is an ``"f1"``).
_RANGES = {
    (0.0, 1.0): (
        "accuracy",
        "balanced_accuracy",
        "top_k_accuracy",
        "average_precision",
        "roc_auc",
        "f1",
        "precision",
        "recall",
        "jaccard",
        "rand_score",
        "normalized_mutual_info_score",
        "homogeneity_score",
        "completeness_score",
        "v_measure_score",
        "fowlkes_mallows_score",
    ),
    (-1.0, 1.0): ("matthews_corrcoef",),
    # The adjusted Rand index is bounded below by -1/2 (Chacón and Rastrojo,
    # 2023, "Minimum adjusted Rand index for two clusterings of a given size").
    (-0.5, 1.0): ("adjusted_rand_score",),
    (-np.inf, 1.0): (
        "r2",
        "explained_variance",
        "d2_absolute_error_score",
        "d2_brier_score",
        "d2_log_loss_score",
        "d2_pinball_score",
        "d2_tweedie_score",
        "adjusted_mutual_info_score",
    ),
    (0.0, np.inf): ("mutual_info_score", "positive_likelihood_ratio"),
}


def metric_range(metric):
    """The values a scikit-learn scorer can take: ``(low, high)``.

    Probabilities of being right (accuracy, balanced accuracy, ROC AUC,
    average precision, F1, precision, recall, ...) lie in [0, 1]; the
    Matthews correlation in [-1, 1]; R², explained variance and the D²
    scores at most 1; every ``neg_*`` loss at most 0. An unbounded side is
    infinite, and so are both sides of a name not known here.

    Parameters
    ----------
    metric : str
        A scorer name, as in :func:`sklearn.metrics.get_scorer_names`.

    Returns
    -------
    low, high : float

    Examples
    --------
    >>> from polymodal.model_selection._statistics import metric_range
    >>> metric_range("roc_auc_ovr"), metric_range("neg_mean_squared_error")
    ((0.0, 1.0), (-inf, 0.0))
    >>> metric_range("r2")
    (-inf, 1.0)
    """
    if not isinstance(metric, str):
        return _UNBOUNDED
    if metric.startswith("neg_"):
        return (-np.inf, 0.0)
    for bounds, names in _RANGES.items():
        if metric in names:
            return bounds
    for bounds, names in _RANGES.items():
        if any(metric.startswith(f"{name}_") for name in names):
            return bounds
    return _UNBOUNDED


def difference_range(bounds):
    """The values a difference of two scores in ``bounds`` can take.

    Parameters
    ----------
    bounds : tuple of float
        ``(low, high)`` of the scores, as from :func:`metric_range`.

    Returns
    -------
    low, high : float
        ``(low - high, high - low)``: [-1, 1] for scores in [0, 1],
        unbounded on both sides when the scores are unbounded on either.

    Examples
    --------
    >>> from polymodal.model_selection._statistics import difference_range
    >>> difference_range((0.0, 1.0)), difference_range((-float("inf"), 1.0))
    ((-1.0, 1.0), (-inf, inf))
    """
    low, high = bounds
    width = high - low
    return -width, width


def corrected_variance(values, n_train, n_test):
    """Nadeau and Bengio's corrected variance of the mean of fold values.

    Parameters
    ----------
    values : array-like of shape (k,)
        One value per fold: scores, or paired differences of scores.
    n_train, n_test : float
        Training and test rows per fold (the mean when folds differ).

    Returns
    -------
    float
        ``(1 / k + n_test / n_train) * s²``; NaN with fewer than two folds.

    Examples
    --------
    >>> from polymodal.model_selection._statistics import corrected_variance
    >>> round(corrected_variance([0.8, 0.7, 0.9], n_train=80, n_test=40), 6)
    0.008333
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan")
    return float((1 / values.size + n_test / n_train) * np.var(values, ddof=1))


def corrected_interval(values, n_train, n_test, *, confidence=0.95, bounds=None):
    """Confidence interval of the mean of fold values, corrected variance.

    The interval is ``mean ± t_{(1 + confidence) / 2, k - 1} · σ_corrected``:
    Student's t with k - 1 degrees of freedom over the k folds
    (:func:`scipy.stats.t.interval`), scaled by the square root of
    :func:`corrected_variance`, then clipped to ``bounds``:
    the true mean of a metric in [0, 1] is in [0, 1], so the part of the
    interval outside is a value it cannot take.

    Parameters
    ----------
    values : array-like of shape (k,)
        One value per fold: scores, or paired differences of scores.
    n_train, n_test : float
        Training and test rows per fold (the mean when folds differ).
    confidence : float, default=0.95
        Coverage of the interval.
    bounds : tuple of float, default=None
        ``(low, high)`` the values can take (:func:`metric_range` of a
        score, :func:`difference_range` of a difference); the interval is
        clipped to it. None does not clip.

    Returns
    -------
    low, high : float
        NaN with fewer than two folds.

    Examples
    --------
    >>> from polymodal.model_selection._statistics import corrected_interval
    >>> low, high = corrected_interval([0.8, 0.7, 0.9], n_train=80, n_test=40)
    >>> round(low, 3), round(high, 3)
    (0.407, 1.193)
    >>> low, high = corrected_interval([0.8, 0.7, 0.9], n_train=80, n_test=40,
    ...                                bounds=(0.0, 1.0))
    >>> round(low, 3), round(high, 3)
    (0.407, 1.0)
    """
    values = np.asarray(values, dtype=float)
    variance = corrected_variance(values, n_train, n_test)
    if np.isnan(variance):
        return float("nan"), float("nan")
    mean = float(values.mean())
    if variance == 0:
        # Equal fold values: a point, where scipy (scale 0) would give NaN.
        low = high = mean
    else:
        low, high = (
            float(bound)
            for bound in stats.t.interval(
                confidence, values.size - 1, loc=mean, scale=np.sqrt(variance)
            )
        )
    if bounds is not None:
        low, high = (float(np.clip(value, *bounds)) for value in (low, high))
    return low, high


def corrected_ttest(scores, reference, n_train, n_test):
    """Nadeau and Bengio's corrected resampled t-test of paired fold scores.

    ``t = mean(d) / sqrt(σ²_corrected(d))`` with ``d = scores - reference``
    per fold, and a two-sided p-value from Student's t with k - 1 degrees of
    freedom. Both candidates must have been scored on the same folds.

    Parameters
    ----------
    scores, reference : array-like of shape (k,)
        Fold scores of the candidate and of the one it is compared with,
        fold by fold.
    n_train, n_test : float
        Training and test rows per fold (the mean when folds differ).

    Returns
    -------
    t, p : float
        t is positive where ``scores`` are higher. Identical scores give
        ``(0.0, 1.0)``; a constant nonzero difference gives an infinite t and
        ``p = 0``; fewer than two folds give NaN.

    Examples
    --------
    >>> from polymodal.model_selection._statistics import corrected_ttest
    >>> t, p = corrected_ttest([0.8, 0.7, 0.9], [0.7, 0.65, 0.75],
    ...                        n_train=80, n_test=40)
    >>> round(t, 3), round(p, 3)
    (2.191, 0.16)
    """
    differences = np.asarray(scores, dtype=float) - np.asarray(reference, dtype=float)
    variance = corrected_variance(differences, n_train, n_test)
    if np.isnan(variance):
        return float("nan"), float("nan")
    mean = float(differences.mean())
    # Equal fold differences leave no spread to weigh the mean against; the
    # tolerance keeps rounding noise (0.9 - 0.8 != 0.8 - 0.7) from posing as
    # a spread and turning the t statistic into a huge number.
    if np.ptp(differences) <= 1e-12 * max(1.0, float(np.abs(differences).max())):
        return (0.0, 1.0) if mean == 0 else (float(np.sign(mean) * np.inf), 0.0)
    t = mean / np.sqrt(variance)
    p = 2 * stats.t.sf(abs(t), differences.size - 1)
    return float(t), float(p)
