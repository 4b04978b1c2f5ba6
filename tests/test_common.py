"""scikit-learn's estimator checks, and polymodal's own checks on multimodal blocks.

scikit-learn's checks only see plain arrays (one modality). The checks below
run every public estimator on blocks with absent rows, which is where the
multimodal code paths live.
"""

import pickle

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.utils import all_estimators, expected_failed_checks

ESTIMATORS = all_estimators()


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _table_with_absent_rows(n_samples=40, seed=0):
    """Two numeric modalities; some rows lack one of them (all-NaN cells)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    y = (X[:, 0] + X[:, 3] > 0).astype(int)
    X[rng.choice(n_samples, 8, replace=False)[:4], :3] = np.nan
    X[rng.choice(n_samples, 8, replace=False)[4:], 3:] = np.nan
    return X, y


def _object_column(cells):
    column = np.empty(len(cells), dtype=object)
    column[:] = cells
    return column


def _sequences(rng):
    """DNA strings of varied lengths, with an occasional ambiguous base."""
    sequences = [
        "".join(rng.choice(list("ACGT"), rng.integers(3, 12))) for _ in range(40)
    ]
    sequences[5] += "N"
    return _object_column(sequences)


def _notes(rng):
    findings = ["cough", "fever", "weight loss", "chest pain", "haemoptysis"]
    return _object_column(
        [
            f"{rng.choice(['no', 'denies', 'reports'])} {rng.choice(findings)}, "
            f"{rng.choice(findings)}."
            for _ in range(40)
        ]
    )


def _smiles(rng):
    molecules = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](C(=O)O)N", "CCN"]
    return _object_column(list(rng.choice(molecules, 40)))


def _image_cells(rng):
    """Gray images of varied shapes, one per cell (the loader resizes them)."""
    return _object_column(
        [rng.normal(size=(rng.integers(6, 12), rng.integers(6, 12))) for _ in range(40)]
    )


def _image_block(rng):
    return rng.normal(size=(40, 1, 8, 8))


def _fused_table(rng):
    return rng.normal(size=(40, 5))


# Estimators that do not take blocks read their own kind of input.
_RAW_INPUTS = {
    "KmerVectorizer": _sequences,
    "OneHotSequenceEncoder": _sequences,
    "ClinicalTextVectorizer": _notes,
    "SentenceEmbedder": _notes,
    "MorganFingerprint": _smiles,
    "ImageLoader": _image_cells,
    "ImagePreprocessor": _image_block,
    "CNNEmbedder": _image_block,
    "ImageFeatures": _image_block,
    # Heads that follow a fusion step take its plain table.
    "MLPClassifier": _fused_table,
    "MLPRegressor": _fused_table,
}


def _data_for(estimator):
    rng = np.random.default_rng(0)
    make_input = _RAW_INPUTS.get(type(estimator).__name__)
    if make_input is not None:
        return make_input(rng), rng.integers(0, 2, 40)
    X, y = _table_with_absent_rows()
    if isinstance(estimator, MultimodalUnion):
        return X, y
    union = MultimodalUnion(
        [("a", StandardScaler(), [0, 1, 2]), ("b", StandardScaler(), [3, 4])]
    )
    blocks = union.fit_transform(X)
    assert not blocks.masks["a"].all()
    assert not blocks.masks["b"].all()
    return blocks, (y.astype(float) if is_regressor(estimator) else y)


def _output(estimator, X):
    if is_classifier(estimator):
        return estimator.predict_proba(X)
    if is_regressor(estimator):
        return estimator.predict(X)
    return _comparable(estimator.transform(X))


def _comparable(output):
    if isinstance(output, ModalityBlocks):
        parts = []
        for name, block in output.items():
            block = block.toarray() if sparse.issparse(block) else block
            parts += [block.reshape(len(output), -1), output.masks[name][:, None]]
        return np.hstack(parts).astype(float)
    output = output.toarray() if sparse.issparse(output) else np.asarray(output)
    return output.reshape(len(output), -1)


def _seeded(estimator):
    estimator = clone(estimator)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=0)
    return estimator


def _ids(estimators):
    return [type(est).__name__ for est in estimators]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_twice_gives_the_same_result(estimator):
    X, y = _data_for(estimator)
    first = _output(_seeded(estimator).fit(X, y), X)
    second = _output(_seeded(estimator).fit(X, y), X)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_transform_equals_fit_then_transform(estimator):
    if not hasattr(estimator, "fit_transform"):
        pytest.skip("not a transformer")
    X, y = _data_for(estimator)
    together = _comparable(_seeded(estimator).fit_transform(X, y))
    separate = _output(_seeded(estimator).fit(X, y), X)
    np.testing.assert_allclose(together, separate, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_pickle_round_trip_keeps_outputs(estimator):
    X, y = _data_for(estimator)
    fitted = _seeded(estimator).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(_output(restored, X), _output(fitted, X))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_outputs_follow_row_order(estimator):
    X, y = _data_for(estimator)
    fitted = _seeded(estimator).fit(X, y)
    order = np.random.default_rng(1).permutation(len(y))
    # Networks compute in float32, and a row's batch mates change the order of
    # the summations inside the matrix products.
    in_float32 = type(estimator).__module__.startswith("polymodal.deep")
    np.testing.assert_allclose(
        _output(fitted, X[order]),
        _output(fitted, X)[order],
        rtol=1e-6 if in_float32 else 1e-9,
        atol=1e-9 if in_float32 else 1e-12,
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_clone_keeps_parameters_and_drops_fitted_state(estimator):
    X, y = _data_for(estimator)
    fitted = _seeded(estimator).fit(X, y)
    copy = clone(fitted)
    assert copy.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    assert not any(
        name.endswith("_") and not name.startswith("_") for name in vars(copy)
    )
