"""Training fetches whole mini-batches, and the models stay those of row-by-row loading."""

import math
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import make_classification, make_regression

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from polymodal import ModalityBlocks  # noqa: E402
from polymodal.deep import (  # noqa: E402
    DeepFusionClassifier,
    DeepFusionRegressor,
    MLPClassifier,
    MLPRegressor,
    _batches,
)
from polymodal.exceptions import MissingModalityWarning  # noqa: E402


def _tabular():
    X, y = make_classification(n_samples=150, n_features=6, random_state=0)
    return X, y


def _sparse():
    X = sparse.random(150, 20, density=0.2, random_state=0, format="csr")
    return X, _tabular()[1]


def _two_targets():
    return make_regression(n_samples=120, n_features=5, n_targets=2, random_state=0)


def _blocks(n=90):
    """A table, an image absent in some rows and a sparse block; three classes."""
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], n // 3)
    lab = rng.normal(size=(n, 3)) + y[:, None]
    ct = rng.normal(size=(n, 1, 8, 8)) + y[:, None, None, None]
    present = rng.random(n) < 0.7
    ct[~present] = np.nan
    note = sparse.random(n, 12, density=0.3, random_state=1, format="csr")
    blocks = ModalityBlocks({"lab": lab, "ct": ct, "note": note}, masks={"ct": present})
    return blocks, y


def _blocks_regression():
    blocks, y = _blocks()
    return blocks, blocks["lab"][:, 0] + y


MLP = {
    "hidden_layer_sizes": (8,),
    "lr": 1e-2,
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}
DEEP = {
    "embedding_dim": 8,
    "lr": 1e-2,
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}

# Each case: (estimator, data, the method whose output is compared).
CASES = {
    "mlp-dense": (
        lambda: MLPClassifier(**MLP, max_epochs=4),
        _tabular,
        "predict_proba",
    ),
    "mlp-sparse": (
        lambda: MLPClassifier(**MLP, max_epochs=4),
        _sparse,
        "predict_proba",
    ),
    # 33 rows in batches of 16 leave a last batch of one row, which batch
    # normalisation drops: the loader's drop_last.
    "mlp-batch-norm-drop-last": (
        lambda: MLPClassifier(**MLP, max_epochs=4, batch_norm=True, dropout=0.2),
        lambda: tuple(part[:33] for part in _tabular()),
        "predict_proba",
    ),
    # Early stopping trains on a Subset of the dataset and validates on another.
    "mlp-regressor-early-stopping": (
        lambda: MLPRegressor(**MLP, max_epochs=6, early_stopping=True),
        _two_targets,
        "predict",
    ),
    "deep-fusion-early-stopping": (
        lambda: DeepFusionClassifier(
            **DEEP,
            max_epochs=6,
            dropout=0.1,
            modality_dropout=0.3,
            augment=True,
            early_stopping=True,
            n_iter_no_change=3,
        ),
        _blocks,
        "predict_proba",
    ),
    "deep-fusion-regressor": (
        lambda: DeepFusionRegressor(**DEEP, max_epochs=4, fusion="gated"),
        _blocks_regression,
        "predict",
    ),
}


# What each case predicted for its first two rows, on the CPU, when training
# still fetched one row at a time through skorch's default DataLoader.
EXPECTED = {
    "mlp-dense": [
        [0.861144581190254, 0.138855418809746],
        [0.903023242950439, 0.096976757049561],
    ],
    "mlp-sparse": [
        [0.536132840148637, 0.463867159851363],
        [0.449008242815487, 0.550991757184513],
    ],
    "mlp-batch-norm-drop-last": [
        [0.529890195426053, 0.470109804573947],
        [0.424182661549687, 0.575817338450313],
    ],
    "mlp-regressor-early-stopping": [
        [-89.93060657923512, -62.94916277308975],
        [0.686600983510907, 2.747245781280714],
    ],
    "deep-fusion-early-stopping": [
        [0.650008797645569, 0.30164635181427, 0.048344850540161],
        [0.306717315516392, 0.330765048586281, 0.362517635897328],
    ],
    "deep-fusion-regressor": [0.244880731464085, 2.671568093188246],
}


def _fit(case):
    make_estimator, data, _ = CASES[case]
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingModalityWarning)
        return make_estimator().fit(X, y), X


def _fit_and_predict(case):
    estimator, X = _fit(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingModalityWarning)
        return estimator, getattr(estimator, CASES[case][2])(X)


@pytest.mark.parametrize("case", CASES)
def test_training_fetches_whole_mini_batches(case, monkeypatch):
    """One dataset fetch per mini-batch, of all its rows; never a fetch per row."""
    fetched = []

    def spy(original):
        def getitem(self, rows):
            fetched.append(rows)
            return original(self, rows)

        return getitem

    for dataset in (skorch.dataset.Dataset, _batches.BatchDataset):
        monkeypatch.setattr(dataset, "__getitem__", spy(dataset.__getitem__))
    estimator, X = _fit(case)

    net = estimator.net_
    n_epochs, batch_size = len(net.history), net.batch_size
    n_rows = X.shape[0]
    n_valid = math.ceil(0.1 * n_rows) if estimator.early_stopping else 0
    n_train = n_rows - n_valid
    if net.iterator_train__drop_last:
        n_train -= n_train % batch_size
    n_batches = math.ceil(n_train / batch_size) + math.ceil(n_valid / batch_size)
    assert len(fetched) == n_epochs * n_batches
    assert all(isinstance(rows, list) for rows in fetched)
    assert sum(len(rows) for rows in fetched) == n_epochs * (n_train + n_valid)
    assert max(len(rows) for rows in fetched) == batch_size


@pytest.mark.parametrize("case", CASES)
def test_models_equal_those_of_skorchs_row_by_row_loading(case, monkeypatch):
    """The same rows in the same order: the same model, to the last bit."""
    _, batched = _fit_and_predict(case)
    monkeypatch.setattr(_batches, "BatchDataset", skorch.dataset.Dataset)
    monkeypatch.setattr(_batches, "batch_loader", torch.utils.data.DataLoader)
    _, row_by_row = _fit_and_predict(case)
    np.testing.assert_array_equal(batched, row_by_row)


def test_a_seeded_fit_predicts_what_it_predicted_with_row_by_row_loading():
    # Float32 noise is allowed, for other CPUs.
    for case, values in EXPECTED.items():
        _, output = _fit_and_predict(case)
        np.testing.assert_allclose(output[:2], values, rtol=1e-4, atol=1e-6)


def test_the_fitted_net_keeps_skorchs_default_loaders():
    """Model files name only skorch's defaults, and predict takes its usual path."""
    for case in ("mlp-dense", "deep-fusion-early-stopping"):
        estimator, _ = _fit_and_predict(case)
        assert estimator.net_.iterator_train is torch.utils.data.DataLoader
        assert estimator.net_.iterator_valid is torch.utils.data.DataLoader


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [True, False])
def test_the_loader_gives_the_rows_of_skorchs_default_loader(shuffle, drop_last):
    n_rows, batch_size = 37, 8
    rows = np.arange(n_rows)
    data = {"x": torch.arange(n_rows) * 10, "mask": rows % 2 == 0}
    ours = torch.Generator().manual_seed(0)
    theirs = torch.Generator().manual_seed(0)
    kwargs = {"batch_size": batch_size, "shuffle": shuffle, "drop_last": drop_last}
    batched = list(
        _batches.batch_loader(
            _batches.BatchDataset(data, rows), generator=ours, **kwargs
        )
    )
    row_by_row = list(
        torch.utils.data.DataLoader(
            skorch.dataset.Dataset(data, rows), generator=theirs, **kwargs
        )
    )
    assert len(batched) == len(row_by_row) == (4 if drop_last else 5)
    for (X, y), (X_rows, y_rows) in zip(batched, row_by_row, strict=True):
        assert X.keys() == X_rows.keys()
        for key in X:
            assert X[key].dtype == X_rows[key].dtype
            assert torch.equal(X[key], X_rows[key])
        assert y.dtype == y_rows.dtype and torch.equal(y, y_rows)
    # Both drew the same numbers from their generators.
    assert torch.equal(ours.get_state(), theirs.get_state())
