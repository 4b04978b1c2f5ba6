"""compare_fusions computes the steps that learn nothing from rows once.

Every test compares against the same call with the sharing switched off,
which is what compare_fusions did before: per fold, the union refitted on
the training rows. Scores are compared as exact floats.
"""

import sys
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import MultimodalUnion
from polymodal.datasets import make_patients
from polymodal.exceptions import RowFailureWarning
from polymodal.fusion import AverageFusion, ConcatFusion
from polymodal.image import ImageFeatures, ImageLoader, ImagePreprocessor
from polymodal.model_selection import _compare, compare_fusions
from polymodal.molecule import MorganFingerprint
from polymodal.sequence import KmerVectorizer, OneHotSequenceEncoder
from polymodal.union import _row_independent as union_module
from polymodal.union._row_independent import (
    RowIndependentSteps,
    _row_independent_steps,
)
from polymodal.utils._sparse import as_dense

pytest.importorskip("PIL")


class CountingFeatures(ImageFeatures):
    """ImageFeatures that counts the images it featurises (class-level)."""

    rows = []

    def _output(self, read):
        CountingFeatures.rows.append(len(read[1]))
        return super()._output(read)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct")
    X, y = make_patients(
        90, image_size=16, missing={"ct": 0.2}, as_files=folder, random_state=0
    )
    return X, y


def make_union(*tail, features=ImageFeatures, intensity_range=(0.0, 1.0), **loader):
    ct = make_pipeline(
        ImageLoader(**loader),
        features(features=("first_order", "glcm"), intensity_range=intensity_range),
        *tail,
    )
    return MultimodalUnion(
        [("ct", ct, "ct"), ("clinical", StandardScaler(), ["age", "pack_years"])]
    )


def run(union, X, y, *, shared=True, **kwargs):
    kwargs = {
        "fusions": {
            "concat": ConcatFusion(),
            "average": AverageFusion(n_components=2, random_state=0),
        },
        "heads": {"lr": LogisticRegression(max_iter=2000)},
        "cv": 3,
        "random_state": 0,
        **kwargs,
    }
    if shared:
        return compare_fusions(union, X, y, **kwargs)
    original = _compare.row_independent_steps
    _compare.row_independent_steps = lambda union, X, n_jobs=None: None
    try:
        return compare_fusions(union, X, y, **kwargs)
    finally:
        _compare.row_independent_steps = original


def assert_same(shared, plain, X):
    assert shared.scores_.equals(plain.scores_)
    np.testing.assert_array_equal(
        shared.best_estimator_.predict_proba(X), plain.best_estimator_.predict_proba(X)
    )
    union_shared = shared.best_estimator_.steps[0][1]
    union_plain = plain.best_estimator_.steps[0][1]
    np.testing.assert_array_equal(
        union_shared.get_feature_names_out(), union_plain.get_feature_names_out()
    )
    blocks_shared, blocks_plain = union_shared.transform(X), union_plain.transform(X)
    for name in blocks_plain.names:
        np.testing.assert_array_equal(blocks_shared[name], blocks_plain[name])
        np.testing.assert_array_equal(
            blocks_shared.masks[name], blocks_plain.masks[name]
        )


@pytest.mark.parametrize(
    "tail",
    [(), (StandardScaler(),), (StandardScaler(), PCA(3, random_state=0))],
    ids=["whole pipeline", "scaler after", "scaler and PCA after"],
)
def test_fold_scores_are_those_of_refitting_every_fold(cohort, tail):
    X, y = cohort
    shared = run(make_union(*tail), X, y)
    plain = run(make_union(*tail), X, y, shared=False)
    assert_same(shared, plain, X)


def test_image_features_are_computed_once_for_all_rows(cohort):
    X, y = cohort
    present = int(X["ct"].notna().sum())
    CountingFeatures.rows.clear()
    run(make_union(StandardScaler(), features=CountingFeatures), X, y)
    assert sum(CountingFeatures.rows) == present
    CountingFeatures.rows.clear()
    run(make_union(StandardScaler(), features=CountingFeatures), X, y, shared=False)
    # Three folds (train and test) and the refit: every image four times.
    assert sum(CountingFeatures.rows) == 4 * present


def test_a_fitted_range_is_learnt_per_fold(cohort):
    X, y = cohort
    CountingFeatures.rows.clear()
    shared = run(make_union(features=CountingFeatures, intensity_range="fit"), X, y)
    assert sum(CountingFeatures.rows) == 4 * int(X["ct"].notna().sum())
    plain = run(make_union(intensity_range="fit"), X, y, shared=False)
    assert_same(shared, plain, X)


def test_groups_give_the_same_scores(cohort):
    X, y = cohort
    groups = np.arange(len(y)) // 3
    kwargs = {"cv": GroupKFold(3), "groups": groups}
    shared = run(make_union(StandardScaler()), X, y, **kwargs)
    plain = run(make_union(StandardScaler()), X, y, shared=False, **kwargs)
    assert_same(shared, plain, X)


def test_unreadable_images_are_named_once(cohort):
    X, y = cohort
    X = X.copy()
    X.loc[X.index[[3, 40]], "ct"] = "/nonexistent/scan.png"
    union = make_union(StandardScaler(), on_error="missing")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shared = run(union, X, y)
    failures = [w for w in caught if issubclass(w.category, RowFailureWarning)]
    assert len(failures) == 1
    assert "[3, 40]" in str(failures[0].message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain = run(union, X, y, shared=False)
    per_fold = [w for w in caught if issubclass(w.category, RowFailureWarning)]
    assert len(per_fold) > 1
    assert_same(shared, plain, X)
    assert (
        not shared.best_estimator_.steps[0][1].transform(X).masks["ct"][[3, 40]].any()
    )


def test_a_modality_absent_from_a_training_fold_fails_as_before(cohort):
    X, y = cohort
    X = X.copy()
    order = np.argsort(y, kind="stable")
    X.loc[X.index[order[: np.sum(y == 0)]], "ct"] = None
    # Train on the rows of class 0 only, where the CT is missing everywhere.
    train = order[: np.sum(y == 0)]
    test = order[np.sum(y == 0) :]
    folds = [(train, test), (test, train)]
    messages = []
    for shared in (True, False):
        with pytest.raises(ValueError, match="ct") as error:
            run(make_union(), X, y, shared=shared, cv=folds)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "ct" in messages[0]


def test_which_steps_learn_from_rows():
    assert _row_independent_steps(make_pipeline(ImageLoader(), ImageFeatures())) == 1
    fixed = make_pipeline(
        ImageLoader(), ImageFeatures(intensity_range="image"), StandardScaler()
    )
    assert _row_independent_steps(fixed) == 2
    assert _row_independent_steps(make_pipeline(StandardScaler(), ImageLoader())) == 0
    assert _row_independent_steps(make_pipeline("passthrough", StandardScaler())) == 0
    assert _row_independent_steps(ImagePreprocessor()) == 1
    assert _row_independent_steps(MorganFingerprint()) == 1
    assert _row_independent_steps(KmerVectorizer()) == 1
    assert _row_independent_steps(KmerVectorizer(normalize="frequency")) == 1
    assert _row_independent_steps(KmerVectorizer(normalize="tfidf")) == 0
    assert _row_independent_steps(OneHotSequenceEncoder()) == 0
    assert _row_independent_steps(OneHotSequenceEncoder(max_length=50)) == 1
    assert _row_independent_steps(ImageFeatures(intensity_range=(0, 1))) == 1
    assert _row_independent_steps(ImageFeatures()) == 0


def test_parallel_folds_give_the_serial_scores(cohort):
    X, y = cohort
    serial = run(make_union(StandardScaler()), X, y)
    parallel = run(make_union(StandardScaler()), X, y, n_jobs=2)
    assert_same(parallel, serial, X)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_rows_computed_in_parallel_chunks_equal_the_serial_computation(
    cohort, batch_size, monkeypatch
):
    X, _ = cohort
    computed = []
    in_chunks = union_module._output_in_chunks
    monkeypatch.setattr(
        union_module,
        "_output_in_chunks",
        lambda *args: computed.append(in_chunks(*args)) or computed[-1],
    )
    X = X.assign(dna=X["dna"].where(np.arange(len(X)) % 5 != 0))
    union = MultimodalUnion(
        [
            ("ct", make_union().transformers[0][1], "ct"),
            ("dna", KmerVectorizer(k=3), "dna"),
        ],
        batch_size=batch_size,
    )
    serial = RowIndependentSteps(union, X)
    assert not computed
    parallel = RowIndependentSteps(union, X, n_jobs=2)
    # Both modalities were computed in chunks, not by the serial fallback.
    assert len(computed) == 2 and all(output is not None for output in computed)
    for name in ("ct", "dna"):
        expected, got = serial.modalities[name], parallel.modalities[name]
        np.testing.assert_array_equal(got.present, expected.present)
        np.testing.assert_array_equal(got.failed, expected.failed)
        if name == "dna":
            assert got.output.format == expected.output.format == "csr"
        np.testing.assert_array_equal(as_dense(got.output), as_dense(expected.output))
    # Large enough for dask's sizeof to scatter it once rather than per task.
    assert sys.getsizeof(parallel) > parallel.modalities["ct"].output.nbytes


def test_a_failing_chunk_raises_the_serial_error_naming_its_row(cohort):
    X, _ = cohort
    X = X.copy()
    X.loc[X.index[60], "ct"] = "/nonexistent/scan.png"
    messages = []
    for n_jobs in (None, 2):
        with pytest.raises(ValueError, match="Row 60: cannot read") as error:
            RowIndependentSteps(make_union(), X, n_jobs=n_jobs)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "scan.png" in messages[0]


def test_unreadable_rows_found_in_parallel_chunks_are_named_once(cohort):
    X, _ = cohort
    X = X.copy()
    X.loc[X.index[[3, 80]], "ct"] = "/nonexistent/scan.png"
    union = make_union(on_error="missing")
    for n_jobs in (None, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shared = RowIndependentSteps(union, X, n_jobs=n_jobs)
        failures = [w for w in caught if issubclass(w.category, RowFailureWarning)]
        assert len(failures) == 1
        assert "[3, 80]" in str(failures[0].message)
        assert shared.modalities["ct"].failed[[3, 80]].all()
