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
"""

import numpy as np
from scipy import stats

__all__ = ["corrected_interval", "corrected_ttest", "corrected_variance"]


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


def corrected_interval(values, n_train, n_test, *, confidence=0.95):
    """Confidence interval of the mean of fold values, corrected variance.

    The interval is ``mean ± t_{(1 + confidence) / 2, k - 1} · σ_corrected``:
    Student's t with k - 1 degrees of freedom over the k folds, scaled by the
    square root of :func:`corrected_variance`.

    Parameters
    ----------
    values : array-like of shape (k,)
        One value per fold: scores, or paired differences of scores.
    n_train, n_test : float
        Training and test rows per fold (the mean when folds differ).
    confidence : float, default=0.95
        Coverage of the interval.

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
    """
    values = np.asarray(values, dtype=float)
    variance = corrected_variance(values, n_train, n_test)
    if np.isnan(variance):
        return float("nan"), float("nan")
    quantile = stats.t.ppf((1 + confidence) / 2, values.size - 1)
    half_width = float(quantile * np.sqrt(variance))
    mean = float(values.mean())
    return mean - half_width, mean + half_width


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
