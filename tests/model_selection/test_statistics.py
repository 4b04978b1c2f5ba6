import math

import numpy as np
import pytest
from scipy import stats

from polymodal.model_selection._statistics import (
    corrected_interval,
    corrected_ttest,
    corrected_variance,
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
