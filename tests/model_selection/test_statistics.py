import math

import numpy as np
import pytest
from scipy import stats

from polymodal.model_selection._statistics import (
    corrected_interval,
    corrected_ttest,
    corrected_variance,
    difference_range,
    metric_range,
)

# Five folds of 100 rows: 80 training and 20 test rows each.
N_TRAIN, N_TEST = 80, 20
BEST = [0.81, 0.77, 0.85, 0.79, 0.83]
OTHER = [0.78, 0.76, 0.80, 0.79, 0.79]


def test_corrected_variance_by_hand():
    # BEST: mean 0.81, squared deviations 0 + 0.0016 + 0.0016 + 0.0004 +
    # 0.0004 = 0.004, s² = 0.004 / 4 = 0.001; factor 1/5 + 20/80 = 0.45.
    assert corrected_variance(BEST, N_TRAIN, N_TEST) == pytest.approx(0.00045)
    # The naive variance of the mean, s² / k = 0.0002, is less than half of it.
    assert corrected_variance(BEST, N_TRAIN, N_TEST) > 2 * np.var(BEST, ddof=1) / 5


def test_corrected_interval_by_hand():
    low, high = corrected_interval(BEST, N_TRAIN, N_TEST)
    # t(0.975, 4 degrees of freedom) = 2.776445; sqrt(0.00045) = 0.0212132.
    half_width = 2.776445 * 0.0212132
    assert low == pytest.approx(0.81 - half_width, abs=1e-6)
    assert high == pytest.approx(0.81 + half_width, abs=1e-6)
    assert (low, high) == pytest.approx((0.751103, 0.868897), abs=1e-6)
    low90, high90 = corrected_interval(BEST, N_TRAIN, N_TEST, confidence=0.9)
    assert low < low90 < high90 < high


def _former_interval(values, n_train, n_test, confidence):
    """The interval as polymodal computed it by hand: mean ± t-quantile · σ."""
    values = np.asarray(values, dtype=float)
    quantile = stats.t.ppf((1 + confidence) / 2, values.size - 1)
    half_width = float(quantile * np.sqrt(corrected_variance(values, n_train, n_test)))
    return float(values.mean()) - half_width, float(values.mean()) + half_width


def test_corrected_interval_equals_the_former_hand_formula():
    # scipy.stats.t.interval puts the lower end at the lower quantile, where
    # the hand formula mirrored the upper one. At the 95% that
    # compare_fusions uses the two quantiles mirror exactly, so the intervals
    # are equal to the bit; at other levels they differ in the last bits.
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(2, 26))
        values = rng.uniform(0.4, 1.0, size=k)
        assert corrected_interval(values, N_TRAIN, N_TEST) == _former_interval(
            values, N_TRAIN, N_TEST, 0.95
        )
        for confidence in (0.8, 0.9, 0.99):
            assert corrected_interval(
                values, N_TRAIN, N_TEST, confidence=confidence
            ) == pytest.approx(
                _former_interval(values, N_TRAIN, N_TEST, confidence),
                rel=0,
                abs=1e-13,
            )


def test_corrected_ttest_by_hand():
    # d = (0.03, 0.01, 0.05, 0.00, 0.04): mean 0.026, squared deviations sum
    # to 0.00172, s² = 0.00043, corrected variance 0.45 * 0.00043.
    t, p = corrected_ttest(BEST, OTHER, N_TRAIN, N_TEST)
    expected_t = 0.026 / math.sqrt(0.45 * 0.00043)
    assert t == pytest.approx(expected_t)
    assert t == pytest.approx(1.869101, abs=1e-6)
    assert p == pytest.approx(2 * stats.t.sf(expected_t, df=4))
    assert p == pytest.approx(0.134971, abs=1e-6)
    # The naive paired t-test, which ignores the overlap of training sets,
    # claims more confidence than the data give.
    assert stats.ttest_rel(BEST, OTHER).pvalue < p
    reverse_t, reverse_p = corrected_ttest(OTHER, BEST, N_TRAIN, N_TEST)
    assert reverse_t == pytest.approx(-t)
    assert reverse_p == pytest.approx(p)


def test_degenerate_fold_scores():
    assert corrected_ttest(BEST, BEST, N_TRAIN, N_TEST) == (0.0, 1.0)
    shifted = [score - 0.1 for score in BEST]
    assert corrected_ttest(BEST, shifted, N_TRAIN, N_TEST) == (math.inf, 0.0)
    assert corrected_ttest(shifted, BEST, N_TRAIN, N_TEST) == (-math.inf, 0.0)
    assert all(math.isnan(value) for value in corrected_ttest([0.8], [0.7], 8, 2))
    assert all(math.isnan(value) for value in corrected_interval([0.8], 8, 2))
    assert math.isnan(corrected_variance([0.8], 8, 2))
    assert corrected_interval([0.7, 0.7, 0.7], 8, 2) == pytest.approx((0.7, 0.7))


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("roc_auc", (0.0, 1.0)),
        ("roc_auc_ovr_weighted", (0.0, 1.0)),
        ("accuracy", (0.0, 1.0)),
        ("balanced_accuracy", (0.0, 1.0)),
        ("average_precision", (0.0, 1.0)),
        ("f1_macro", (0.0, 1.0)),
        ("precision", (0.0, 1.0)),
        ("recall_weighted", (0.0, 1.0)),
        ("top_k_accuracy", (0.0, 1.0)),
        ("matthews_corrcoef", (-1.0, 1.0)),
        ("adjusted_rand_score", (-0.5, 1.0)),
        ("r2", (-math.inf, 1.0)),
        ("explained_variance", (-math.inf, 1.0)),
        ("d2_absolute_error_score", (-math.inf, 1.0)),
        ("neg_mean_squared_error", (-math.inf, 0.0)),
        ("neg_log_loss", (-math.inf, 0.0)),
        ("neg_brier_score", (-math.inf, 0.0)),
        ("positive_likelihood_ratio", (0.0, math.inf)),
        ("a_metric_of_my_own", (-math.inf, math.inf)),
    ],
)
def test_metric_range(metric, expected):
    assert metric_range(metric) == expected


def test_every_scikit_learn_scorer_has_a_known_range():
    from sklearn.metrics import get_scorer_names

    unknown = [
        name
        for name in get_scorer_names()
        if metric_range(name) == (-math.inf, math.inf)
    ]
    assert unknown == []


# Fold AUROCs near the ceiling: mean 0.972, s² = 0.00192, corrected variance
# 0.45 s² = 0.000864, half-width 2.776445 * 0.029394 = 0.081611.
NEAR_ONE = [1.0, 0.96, 1.0, 0.90, 1.0]


def test_interval_is_clipped_to_the_metric_range():
    low, high = corrected_interval(NEAR_ONE, N_TRAIN, N_TEST)
    assert (low, high) == pytest.approx((0.890389, 1.053611), abs=1e-6)
    clipped = corrected_interval(
        NEAR_ONE, N_TRAIN, N_TEST, bounds=metric_range("roc_auc")
    )
    assert clipped == pytest.approx((0.890389, 1.0), abs=1e-6)
    # Clipping touches only the side that passes the bound.
    assert clipped[0] == low


def test_unbounded_metric_is_clipped_on_its_bounded_side_only():
    # Negated squared errors near 0: the interval would claim a negative
    # error; its lower side has no bound.
    values = [-0.01, -0.30, -0.02, -0.05]
    low, high = corrected_interval(values, N_TRAIN, N_TEST)
    assert high > 0
    clipped = corrected_interval(
        values, N_TRAIN, N_TEST, bounds=metric_range("neg_mean_squared_error")
    )
    assert clipped == (low, 0.0)


def test_difference_range_and_clipped_difference_interval():
    assert difference_range((0.0, 1.0)) == (-1.0, 1.0)
    assert difference_range((-1.0, 1.0)) == (-2.0, 2.0)
    assert difference_range((-math.inf, 0.0)) == (-math.inf, math.inf)
    differences = [0.95, 0.10, 0.90, 0.85]
    low, high = corrected_interval(differences, N_TRAIN, N_TEST)
    assert high > 1
    clipped = corrected_interval(
        differences,
        N_TRAIN,
        N_TEST,
        bounds=difference_range(metric_range("accuracy")),
    )
    assert clipped == (low, 1.0)
