"""Determinism: the same inputs and seeds give the same results, however run.

The matrix: the union's blocks and compare_fusions' fold scores with one job
against two jobs on each joblib backend (loky processes, threads, a dask
cluster); every seeded estimator refitted, refitted after the global random
generators moved, and refitted in another process; the command line run
twice. Every cell is compared with exact equality.
"""

import os
import zipfile
from contextlib import ExitStack, redirect_stdout
from io import StringIO

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler

from polymodal import io
from polymodal.cli import main
from polymodal.datasets import make_patients, make_patients_union
from polymodal.fusion import AverageFusion, ConcatFusion, LateFusionClassifier
from polymodal.model_selection import compare_fusions
from polymodal.utils import all_estimators

from .estimator_inputs import data_for, output_of

# -- one job against two, on each backend ---------------------------------------

BACKENDS = [
    pytest.param("threading", id="threading"),
    # Worker processes start by importing polymodal: seconds, not a fold's work.
    pytest.param("loky", id="loky", marks=pytest.mark.slow),
    # An in-process cluster starts in about as long.
    pytest.param("dask", id="dask", marks=pytest.mark.slow),
]


def _backend(stack, backend):
    """Enter a joblib backend for two jobs; with "dask", a client on a cluster.

    Returns the dask task stream, which lists the tasks that ran on the
    cluster once the stack is closed (None for the other backends).
    """
    tasks = None
    if backend == "dask":
        distributed = pytest.importorskip("distributed")
        client = stack.enter_context(
            distributed.Client(
                processes=False,
                n_workers=1,
                threads_per_worker=2,
                dashboard_address=None,
            )
        )
        tasks = stack.enter_context(distributed.get_task_stream(client))
    stack.enter_context(joblib.parallel_config(backend=backend))
    return tasks


def _ran_on_dask(tasks):
    """The work went to the cluster: joblib did not fall back to one job."""
    return tasks is None or len(tasks.data) > 0


@pytest.fixture(scope="module")
def patients():
    """The built-in cohort's columns, with every modality sometimes absent."""
    missing = dict.fromkeys(("ct", "note", "dna", "clinical"), 0.2)
    return make_patients(n_samples=45, missing=missing, random_state=0)


def _union(n_jobs):
    return make_patients_union().set_params(n_jobs=n_jobs)


def _dense(block):
    return block.toarray() if sparse.issparse(block) else block


def assert_blocks_equal(actual, expected):
    assert actual.names == expected.names
    for name in expected.names:
        assert sparse.issparse(actual[name]) == sparse.issparse(expected[name])
        # NaN (absent rows) compares equal to NaN.
        np.testing.assert_array_equal(_dense(actual[name]), _dense(expected[name]))
        np.testing.assert_array_equal(actual.masks[name], expected.masks[name])
        np.testing.assert_array_equal(
            actual.feature_names[name], expected.feature_names[name]
        )


@pytest.fixture(scope="module")
def serial_blocks(patients):
    X, y = patients
    union = _union(n_jobs=1)
    train = union.fit_transform(X[:30], y[:30])
    return train, union.transform(X[30:])


@pytest.mark.parametrize("backend", BACKENDS)
def test_union_blocks_do_not_depend_on_the_jobs(backend, patients, serial_blocks):
    X, y = patients
    with ExitStack() as stack:
        tasks = _backend(stack, backend)
        union = _union(n_jobs=2)
        train = union.fit_transform(X[:30], y[:30])
        test = union.transform(X[30:])
    assert _ran_on_dask(tasks)
    assert_blocks_equal(train, serial_blocks[0])
    assert_blocks_equal(test, serial_blocks[1])
    assert not all(train.masks[name].all() for name in train.names)


def _logistic():
    # Scaled and regularised, it converges in a few iterations.
    return make_pipeline(MaxAbsScaler(), LogisticRegression(C=0.1, max_iter=2000))


def _compare(X, y, n_jobs):
    return compare_fusions(
        make_patients_union(),
        X,
        y,
        fusions={
            "concat": ConcatFusion(),
            "average": AverageFusion(n_components=2, random_state=0),
        },
        heads={
            "rf": RandomForestClassifier(n_estimators=5, random_state=0),
            "lr": _logistic(),
        },
        final_fusions={"late": LateFusionClassifier(_logistic())},
        cv=3,
        n_jobs=n_jobs,
        random_state=0,
    )


@pytest.fixture(scope="module")
def serial_comparison(patients):
    return _compare(*patients, n_jobs=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fold_scores_do_not_depend_on_the_jobs(backend, patients, serial_comparison):
    X, y = patients
    with ExitStack() as stack:
        tasks = _backend(stack, backend)
        parallel = _compare(X, y, n_jobs=2)
    assert _ran_on_dask(tasks)
    pd.testing.assert_frame_equal(parallel.scores_, serial_comparison.scores_)
    assert parallel.best_candidate_ == serial_comparison.best_candidate_
    np.testing.assert_array_equal(
        parallel.best_estimator_.predict_proba(X),
        serial_comparison.best_estimator_.predict_proba(X),
    )


# -- seeded estimators ------------------------------------------------------------

SEEDED = [
    estimator
    for estimator in all_estimators()
    if "random_state" in estimator.get_params()
]
SEED = 12345


def _seeded_output(estimator, X, y):
    """Fit a clone seeded with SEED; return its outputs and the process id."""
    fitted = clone(estimator).set_params(random_state=SEED).fit(X, y)
    return output_of(fitted, X), os.getpid()


def _disturb_global_random_state(seed):
    """Move every global generator a seeded estimator must not read."""
    import random

    random.seed(seed)
    # The legacy global generator is the one a careless estimator would read.
    np.random.seed(seed)  # noqa: NPY002
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)


@pytest.mark.parametrize(
    "where",
    [
        "refit",
        "global generators moved",
        pytest.param("another process", marks=pytest.mark.slow),
    ],
)
@pytest.mark.parametrize("estimator", SEEDED, ids=lambda est: type(est).__name__)
def test_a_seeded_estimator_refits_identically(estimator, where):
    X, y = data_for(estimator)
    if where == "global generators moved":
        _disturb_global_random_state(1)
    first, _ = _seeded_output(estimator, X, y)
    if where == "refit":
        second, _ = _seeded_output(estimator, X, y)
    elif where == "global generators moved":
        _disturb_global_random_state(2)
        second, _ = _seeded_output(estimator, X, y)
    else:
        # A fresh interpreter: another hash seed, fresh torch and numpy state.
        second, pid = joblib.Parallel(n_jobs=2, backend="loky")(
            [joblib.delayed(_seeded_output)(estimator, X, y)]
        )[0]
        assert pid != os.getpid()
    np.testing.assert_array_equal(second, first)


# -- the command line -------------------------------------------------------------


def _run_compare(out, *extra):
    argv = ["compare", "--n-samples", "40", "--cv", "2", "--missing", "0.1"]
    argv += ["--fusions", "concat", "average", "late", "--heads", "logistic"]
    argv += ["--out", str(out), *extra]
    with redirect_stdout(StringIO()):
        assert main(argv) == 0


def _model_output(out):
    table = pd.read_csv(out / "cohort" / "cohort.csv").drop(columns="diagnosis")
    return io.load(out / "model.polymodal").predict_proba(table)


@pytest.mark.parametrize(
    "second_run",
    [
        pytest.param((), id="rerun"),
        pytest.param(("--jobs", "2"), id="two jobs", marks=pytest.mark.slow),
    ],
)
def test_the_compare_command_writes_the_same_results_twice(tmp_path, second_run):
    first, second = tmp_path / "first", tmp_path / "second"
    _run_compare(first)
    _run_compare(second, *second_run)
    for name in ("results.json", "report.md", "scores.png"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    np.testing.assert_array_equal(_model_output(first), _model_output(second))
    # The model archive records when it was written: its bytes differ, its
    # members name the same parts.
    with (
        zipfile.ZipFile(first / "model.polymodal") as one,
        zipfile.ZipFile(second / "model.polymodal") as other,
    ):
        assert one.namelist() == other.namelist()
