"""Small inputs that every public estimator accepts, and its outputs as arrays.

Shared by the common checks, the determinism matrix and other tests that run
every estimator of ``polymodal.utils.all_estimators()``.
"""

import numpy as np
from scipy import sparse
from sklearn.base import is_classifier, is_regressor
from sklearn.preprocessing import StandardScaler

from polymodal import ModalityBlocks, MultimodalUnion


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


def data_for(estimator):
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


def output_of(estimator, X):
    if is_classifier(estimator):
        return estimator.predict_proba(X)
    if is_regressor(estimator):
        return estimator.predict(X)
    return comparable(estimator.transform(X))


def comparable(output):
    if isinstance(output, ModalityBlocks):
        parts = []
        for name, block in output.items():
            block = block.toarray() if sparse.issparse(block) else block
            parts += [block.reshape(len(output), -1), output.masks[name][:, None]]
        return np.hstack(parts).astype(float)
    output = output.toarray() if sparse.issparse(output) else np.asarray(output)
    return output.reshape(len(output), -1)
