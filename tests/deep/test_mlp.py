"""MLPClassifier and MLPRegressor: skorch-trained heads behind a scikit-learn API."""

import subprocess
import sys
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_class_weight

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

from polymodal.datasets import make_patients, make_patients_union  # noqa: E402
from polymodal.deep import MLPClassifier, MLPRegressor  # noqa: E402
from polymodal.deep._mlp_module import MLPModule  # noqa: E402
from polymodal.fusion import ConcatFusion  # noqa: E402

FAST = {"hidden_layer_sizes": (16,), "lr": 1e-2, "max_epochs": 20, "random_state": 0}


@pytest.fixture
def blobs():
    X, y = make_classification(
        n_samples=120,
        n_features=6,
        n_informative=4,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=0,
    )
    return X, y


def test_importing_the_estimators_does_not_import_torch():
    code = (
        "import sys, polymodal.deep._mlp; "
        "assert 'torch' not in sys.modules and 'skorch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_predicts_string_labels_and_probabilities(n_classes):
    X, y = make_classification(
        n_samples=120,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=0,
    )
    labels = np.array(["tumour", "benign", "normal"])[:n_classes][y]
    clf = MLPClassifier(**FAST).fit(X, labels)

    assert list(clf.classes_) == sorted(set(labels))
    proba = clf.predict_proba(X)
    assert proba.shape == (120, n_classes)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    predicted = clf.predict(X)
    assert set(predicted) <= set(labels)
    np.testing.assert_array_equal(predicted, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.9
    assert clf.n_iter_ == len(clf.net_.history) == 20


def test_sparse_input_gives_the_dense_predictions(blobs):
    X, y = blobs
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    dense = MLPClassifier(**FAST).fit(X, y).predict_proba(X)
    for to_sparse in (sparse.csr_matrix, sparse.csc_array, sparse.csr_array):
        clf = MLPClassifier(**FAST).fit(to_sparse(X), y)
        np.testing.assert_array_equal(clf.predict_proba(to_sparse(X)), dense)
        np.testing.assert_array_equal(clf.predict_proba(X), dense)


def test_float64_and_float32_inputs_give_the_same_model(blobs):
    X, y = blobs
    from_float64 = MLPClassifier(**FAST).fit(X, y).predict_proba(X)
    X32 = X.astype(np.float32)
    from_float32 = MLPClassifier(**FAST).fit(X32, y).predict_proba(X32)
    np.testing.assert_array_equal(from_float64, from_float32)


def test_a_seed_fixes_the_model_and_leaves_global_rngs_alone(blobs):
    X, y = blobs
    params = {**FAST, "dropout": 0.2, "early_stopping": True, "n_iter_no_change": 3}
    torch.manual_seed(123)
    # The legacy global RandomState is what random_state=None would draw from.
    np.random.seed(123)  # noqa: NPY002
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002

    first = MLPClassifier(**params).fit(X, y)
    first_proba = first.predict_proba(X)
    second = MLPClassifier(**params).fit(X, y)

    np.testing.assert_array_equal(second.predict_proba(X), first_proba)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    other = MLPClassifier(**{**params, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), first_proba)


def test_early_stopping_stops_and_restores_the_best_epoch():
    # Noisy labels and a wide network overfit quickly, so the validation loss
    # turns back up long before max_epochs.
    X, y = make_classification(n_samples=150, n_features=8, flip_y=0.4, random_state=0)
    clf = MLPClassifier(
        hidden_layer_sizes=(64, 64),
        lr=3e-2,
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, y)

    history = clf.net_.history
    valid_losses = history[:, "valid_loss"]
    best = int(np.argmin(valid_losses))
    assert len(history) < 200
    assert len(history) == best + 1 + 5
    assert min(valid_losses[best + 1 :]) > valid_losses[best]

    # The restored weights give back the best epoch's validation loss, on the
    # validation rows that the net's seeded split picks again.
    net = clf.net_
    _, valid = net.get_split_datasets(X.astype(np.float32), y)
    assert len(valid.indices) == 30
    logits = net.forward(X[valid.indices].astype(np.float32))
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[valid.indices]))
    np.testing.assert_allclose(loss.item(), valid_losses[best], rtol=1e-5)


def test_class_weight_weighs_the_loss(blobs):
    X, y = blobs
    labels = np.array(["a", "b", "c"])[y]
    keep = (y != 2) | (np.arange(len(y)) % 4 == 0)
    X, labels = X[keep], labels[keep]

    plain = MLPClassifier(**FAST).fit(X, labels)
    balanced = MLPClassifier(**FAST, class_weight="balanced").fit(X, labels)
    by_label = MLPClassifier(**FAST, class_weight={"c": 5.0}).fit(X, labels)

    assert plain.net_.criterion_.weight is None
    np.testing.assert_allclose(
        balanced.net_.criterion_.weight.numpy(),
        compute_class_weight("balanced", classes=balanced.classes_, y=labels),
    )
    np.testing.assert_array_equal(by_label.net_.criterion_.weight.numpy(), [1, 1, 5])
    first_losses = {
        clf.net_.history[0, "train_loss"] for clf in (plain, balanced, by_label)
    }
    assert len(first_losses) == 3


def test_joblib_round_trip_keeps_predictions(blobs, tmp_path):
    X, y = blobs
    clf = MLPClassifier(**FAST, batch_norm=True, dropout=0.1).fit(X, y)
    reg = MLPRegressor(**FAST).fit(X, X[:, 0])
    for estimator, output in ((clf, clf.predict_proba), (reg, reg.predict)):
        path = tmp_path / "model.joblib"
        joblib.dump(estimator, path)
        restored = joblib.load(path)
        np.testing.assert_array_equal(getattr(restored, output.__name__)(X), output(X))


def test_a_net_trained_off_the_cpu_pickles_its_tensors_for_the_cpu(blobs, tmp_path):
    X, y = blobs
    clf = MLPClassifier(**FAST).fit(X, y)
    expected = clf.predict_proba(X)
    # Stands for a GPU fit on a machine without one: the pickle must not ask
    # skorch to map tensors onto a device the loading machine may lack.
    clf.net_.device = "cuda"
    path = tmp_path / "model.joblib"
    joblib.dump(clf, path)
    assert clf.net_.device == "cuda"

    with warnings.catch_warnings():
        warnings.simplefilter("error", skorch.exceptions.DeviceWarning)
        restored = joblib.load(path)
    assert restored.net_.device == "cpu"
    assert all(p.device.type == "cpu" for p in restored.net_.module_.parameters())
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_head_of_a_multimodal_pipeline_in_a_grid_search():
    X, y = make_patients(n_samples=80, random_state=0)
    pipe = Pipeline(
        [
            ("union", make_patients_union()),
            ("fusion", ConcatFusion(scale_blocks=True)),
            ("head", MLPClassifier(max_epochs=10, lr=1e-2, random_state=0)),
        ]
    )
    search = GridSearchCV(
        pipe,
        {"head__hidden_layer_sizes": [(8,), (16, 8)]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="roc_auc",
    ).fit(X, y)

    assert search.best_params_["head__hidden_layer_sizes"] in [(8,), (16, 8)]
    head = search.best_estimator_.named_steps["head"]
    assert head.n_features_in_ == search.best_estimator_[:-1].transform(X).shape[1]
    proba = search.predict_proba(X)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_regressor_fits_an_easy_problem_with_one_or_more_targets():
    X, y = make_regression(
        n_samples=150, n_features=5, noise=1.0, bias=50.0, random_state=0
    )
    reg = MLPRegressor(**{**FAST, "max_epochs": 40}).fit(X, y)
    assert reg.predict(X).shape == (150,)
    assert reg.score(X, y) > 0.95

    Y = np.column_stack([y, -2 * y + 7])
    multi = MLPRegressor(**{**FAST, "max_epochs": 40}).fit(X, Y)
    assert multi.n_outputs_ == 2
    assert multi.predict(X).shape == (150, 2)
    assert multi.score(X, Y) > 0.95

    column = MLPRegressor(**FAST).fit(X, y[:, None])
    assert column.predict(X).shape == (150,)


def test_regressor_with_a_constant_target_predicts_it():
    X = np.random.default_rng(0).normal(size=(30, 3))
    reg = MLPRegressor(**FAST).fit(X, np.full(30, 4.0))
    assert np.isfinite(reg.predict(X)).all()
    np.testing.assert_allclose(reg.predict(X), 4.0, atol=0.5)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_input_is_rejected(blobs, value):
    X, y = blobs
    X = X.copy()
    X[3, 2] = value
    with pytest.raises(ValueError, match="Input X contains"):
        MLPClassifier(**FAST).fit(X, y)


def test_feature_names_are_recorded_and_checked(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"lab_{i}" for i in range(6)])
    clf = MLPClassifier(**FAST).fit(frame, y)
    assert clf.n_features_in_ == 6
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[frame.columns[::-1]])
    with (
        pytest.warns(UserWarning, match="valid feature names"),
        pytest.raises(ValueError, match="features"),
    ):
        clf.predict(X[:, :5])


@pytest.mark.parametrize(
    ("hidden_layer_sizes", "widths"),
    [(8, [8]), ((), []), ([8, 4], [8, 4])],
)
def test_hidden_layer_sizes_shape_the_network(blobs, hidden_layer_sizes, widths):
    X, y = blobs
    clf = MLPClassifier(**{**FAST, "hidden_layer_sizes": hidden_layer_sizes})
    clf.fit(X, y)
    linears = [m for m in clf.net_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert [layer.out_features for layer in linears] == [*widths, 3]


@pytest.mark.parametrize("hidden_layer_sizes", [(8, 0), (8.0,), (True,)])
def test_invalid_hidden_layer_sizes_are_rejected(blobs, hidden_layer_sizes):
    X, y = blobs
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=hidden_layer_sizes).fit(X, y)


@pytest.mark.parametrize(
    ("optimizer", "optimizer_class"),
    [("adam", "Adam"), ("adamw", "AdamW"), ("sgd", "SGD")],
)
def test_optimizer_choice(blobs, optimizer, optimizer_class):
    X, y = blobs
    clf = MLPClassifier(**FAST, optimizer=optimizer).fit(X, y)
    assert type(clf.net_.optimizer_).__name__ == optimizer_class
    assert clf.score(X, y) > 0.9


def test_batch_norm_trains_when_the_last_batch_holds_one_row(blobs):
    X, y = blobs
    # 33 rows in batches of 16 leave a last batch of one row, which batch
    # normalisation cannot train on.
    clf = MLPClassifier(**FAST, batch_norm=True, batch_size=16).fit(X[:33], y[:33])
    assert clf.predict(X).shape == (120,)
    with pytest.raises(ValueError, match="n_samples = 1"):
        MLPRegressor(**FAST, batch_norm=True).fit(X[:1], [1.0])
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier(**FAST).fit(X[:1], y[:1])


def test_early_stopping_needs_a_validation_row_per_class(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPClassifier(**FAST, early_stopping=True).fit(X[:20], y[:20])


def test_verbose_prints_skorchs_epoch_table(blobs, capsys):
    X, y = blobs
    MLPClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert capsys.readouterr().out == ""
    MLPClassifier(**{**FAST, "max_epochs": 2, "verbose": 1}).fit(X, y)
    assert "train_loss" in capsys.readouterr().out


def test_device_cpu_and_unavailable_cuda(blobs):
    X, y = blobs
    clf = MLPClassifier(**{**FAST, "max_epochs": 1}, device="cpu").fit(X, y)
    assert clf.net_.device == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            MLPClassifier(device="cuda").fit(X, y)


def test_mlp_module_layers():
    module = MLPModule(5, hidden_layer_sizes=(8, 4), n_outputs=2, dropout=0.5)
    kinds = [type(layer).__name__ for layer in module.layers]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    normalised = MLPModule(5, hidden_layer_sizes=(8,), n_outputs=2, batch_norm=True)
    kinds = [type(layer).__name__ for layer in normalised.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert module(torch.zeros(3, 5)).shape == (3, 2)
