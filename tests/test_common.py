"""scikit-learn's estimator checks, and polymodal's own checks on multimodal blocks.

scikit-learn's checks only see plain arrays (one modality). The checks below
run every public estimator on blocks with absent rows, which is where the
multimodal code paths live.
"""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from polymodal.utils import all_estimators, expected_failed_checks

from .estimator_inputs import comparable, data_for, output_of

ESTIMATORS = all_estimators()


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _seeded(estimator):
    estimator = clone(estimator)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    return estimator


def _ids(estimators):
    return [type(est).__name__ for est in estimators]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_twice_gives_the_same_result(estimator):
    X, y = data_for(estimator)
    first = output_of(_seeded(estimator).fit(X, y), X)
    second = output_of(_seeded(estimator).fit(X, y), X)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_transform_equals_fit_then_transform(estimator):
    if not hasattr(estimator, "fit_transform"):
        pytest.skip("not a transformer")
    X, y = data_for(estimator)
    together = comparable(_seeded(estimator).fit_transform(X, y))
    separate = output_of(_seeded(estimator).fit(X, y), X)
    np.testing.assert_allclose(together, separate, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_pickle_round_trip_keeps_outputs(estimator):
    X, y = data_for(estimator)
    fitted = _seeded(estimator).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(output_of(restored, X), output_of(fitted, X))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_outputs_follow_row_order(estimator):
    X, y = data_for(estimator)
    fitted = _seeded(estimator).fit(X, y)
    order = np.random.default_rng(1).permutation(len(y))
    # Networks compute in float32, and a row's batch mates change the order of
    # the summations inside the matrix products.
    in_float32 = type(estimator).__module__.startswith("polymodal.deep")
    np.testing.assert_allclose(
        output_of(fitted, X[order]),
        output_of(fitted, X)[order],
        rtol=1e-6 if in_float32 else 1e-9,
        atol=1e-9 if in_float32 else 1e-12,
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_clone_keeps_parameters_and_drops_fitted_state(estimator):
    X, y = data_for(estimator)
    fitted = _seeded(estimator).fit(X, y)
    copy = clone(fitted)
    assert copy.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    assert not any(
        name.endswith("_") and not name.startswith("_") for name in vars(copy)
    )
