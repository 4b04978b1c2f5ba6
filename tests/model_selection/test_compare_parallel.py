"""compare_fusions gives the same scores and warnings whatever runs its folds.

The folds run through joblib: in this process (``n_jobs=1``), in loky worker
processes (``n_jobs=2``) or on a dask cluster. Scores are compared as exact
floats; warnings raised inside a fold reach the caller in every case.
"""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from joblib.parallel import get_active_backend
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.fusion import AverageFusion, ConcatFusion
from polymodal.model_selection import compare_fusions


class FoldWarning(UserWarning):
    """What the warning transformer raises."""


class WarningScaler(TransformerMixin, BaseEstimator):
    """StandardScaler that warns on fit: once per fold with the fold's size,
    and once with a text that is the same in every fold."""

    def fit(self, X, y=None):
        self.scaler_ = StandardScaler().fit(X)
        warnings.warn(f"fitted on {len(X)} rows", FoldWarning, stacklevel=2)
        warnings.warn("same in every fold", FoldWarning, stacklevel=2)
        return self

    def transform(self, X):
        return self.scaler_.transform(X)


class BackendScaler(StandardScaler):
    """StandardScaler that warns which joblib backend a nested call would use."""

    def fit(self, X, y=None):
        backend, _ = get_active_backend()
        warnings.warn(
            f"nested backend {type(backend).__name__}", FoldWarning, stacklevel=2
        )
        return super().fit(X, y)


@pytest.fixture(scope="module")
def data():
    X, y = make_patients(120, random_state=0)
    return X[["age", "pack_years", "sex"]], y


def union(clinical=StandardScaler):
    return MultimodalUnion(
        [
            ("age", clinical(), ["age"]),
            ("smoking", StandardScaler(), ["pack_years"]),
        ]
    )


def compare(X, y, n_jobs, clinical=StandardScaler):
    return compare_fusions(
        union(clinical),
        X,
        y,
        fusions={
            "concat": ConcatFusion(),
            "average": AverageFusion(n_components=1, random_state=0),
        },
        heads={
            "lr": make_pipeline(StandardScaler(), LogisticRegression()),
            "forest": RandomForestClassifier(n_estimators=20, random_state=0),
        },
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )


def scores(result):
    frame = result.scores_.sort_values(["candidate", "fold", "metric"])
    return frame["score"].to_numpy()


def caught(X, y, n_jobs):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        compare(X, y, n_jobs, clinical=WarningScaler)
    return [str(r.message) for r in records if r.category is FoldWarning]


def test_loky_workers_give_the_serial_scores(data):
    X, y = data
    np.testing.assert_array_equal(scores(compare(X, y, 2)), scores(compare(X, y, 1)))


def test_warnings_of_the_folds_are_the_same_with_one_or_two_jobs(data):
    X, y = data
    serial = caught(X, y, 1)
    # The folds' warnings, each text once, in fold order; then the refit's.
    assert serial == [
        "fitted on 80 rows",
        "same in every fold",
        "fitted on 120 rows",
        "same in every fold",
    ]
    assert caught(X, y, 2) == serial


def test_pytest_warns_sees_a_warning_raised_in_a_worker(data):
    X, y = data
    with pytest.warns(FoldWarning, match="fitted on 80 rows"):
        compare(X, y, 2, clinical=WarningScaler)


def test_a_warning_of_the_folds_points_at_the_caller(data):
    X, y = data
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        compare(X, y, 2, clinical=WarningScaler)
    fold_warnings = [r for r in records if r.category is FoldWarning]
    assert fold_warnings[0].filename == __file__


def test_a_dask_cluster_gives_the_serial_scores_and_warnings(data):
    distributed = pytest.importorskip("distributed")
    X, y = data
    serial_scores = scores(compare(X, y, 1))
    serial_warnings = caught(X, y, 1)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        parallel_config(backend="dask"),
    ):
        np.testing.assert_array_equal(scores(compare(X, y, -1)), serial_scores)
        # The folds' warnings only: the client's threads enter and leave
        # warnings.catch_warnings too, which is not thread-safe, and can undo
        # this test's "always" filter before the refit warns in this process.
        assert caught(X, y, -1)[:2] == serial_warnings[:2]
        # A joblib call inside a fold runs on the fold's worker, not as new
        # tasks on the cluster (which took every core whatever its n_jobs).
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            compare(X, y, -1, clinical=BackendScaler)
    nested = {str(r.message) for r in records if r.category is FoldWarning}
    assert "nested backend DaskDistributedBackend" not in nested
    assert "nested backend ThreadingBackend" in nested


@pytest.mark.parametrize("winner", ["concat + lr", "age only + lr"])
def test_the_refit_is_that_of_one_process_whoever_wins(data, winner, monkeypatch):
    # With two jobs the union is fitted on every row beside the folds; a
    # one-modality baseline, whose union drops the other modality, is refitted
    # after them. Either way the refit is the one-process refit.
    from polymodal.model_selection import _compare

    class Winner(_compare.FusionComparison):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.best_candidate_ = winner

    monkeypatch.setattr(_compare, "FusionComparison", Winner)
    X, y = data
    kwargs = {
        "fusions": {"concat": ConcatFusion()},
        "heads": {"lr": make_pipeline(StandardScaler(), LogisticRegression())},
        "cv": StratifiedKFold(3, shuffle=True, random_state=0),
    }
    serial = compare_fusions(union(), X, y, n_jobs=1, **kwargs).best_estimator_
    parallel = compare_fusions(union(), X, y, n_jobs=2, **kwargs).best_estimator_
    np.testing.assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))
    kept = [name for name, trans, _ in parallel[0].transformers if trans != "drop"]
    assert kept == (["age"] if winner.startswith("age") else ["age", "smoking"])
