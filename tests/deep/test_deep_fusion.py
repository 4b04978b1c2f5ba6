"""DeepFusionClassifier: an end-to-end network over ModalityBlocks."""

import copy

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from polymodal import ModalityBlocks, MultimodalUnion  # noqa: E402
from polymodal.datasets import make_patients, make_patients_union  # noqa: E402
from polymodal.deep import DeepFusionClassifier, DeepFusionRegressor  # noqa: E402
from polymodal.deep._fusion_layers import FUSION_LAYERS  # noqa: E402
from polymodal.deep._network import drop_modalities  # noqa: E402
from polymodal.exceptions import MissingModalityWarning  # noqa: E402

FAST = {"embedding_dim": 8, "lr": 1e-2, "max_epochs": 15, "random_state": 0}


def held_out_auroc(missing, **params):
    X, y = make_patients(600, image_size=16, missing=missing, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    union = make_patients_union(deep=True)
    train = union.fit_transform(X_train, y_train)
    test = union.transform(X_test)
    assert train["ct"].ndim == 4 and train["dna"].ndim == 3
    assert sparse.issparse(train["note"])
    model = DeepFusionClassifier(
        embedding_dim=16, lr=3e-3, max_epochs=12, random_state=0, **params
    ).fit(train, y_train)
    return roc_auc_score(y_test, model.predict_proba(test)[:, 1]), model, test


@pytest.fixture
def blocks():
    """A table, an image and a sequence modality, with absent rows; y follows all."""
    rng = np.random.default_rng(0)
    n = 60
    y = np.tile([0, 1], n // 2)
    lab = rng.normal(size=(n, 3)) + y[:, None]
    ct = rng.normal(size=(n, 1, 8, 8)) + 0.5 * y[:, None, None, None]
    dna = np.zeros((n, 4, 12))
    dna[np.arange(n), rng.integers(0, 4, n), :] = 1.0
    masks = {"ct": rng.random(n) < 0.7, "dna": rng.random(n) < 0.7}
    masks["ct"][:2] = False
    masks["dna"][:2] = False
    ct[~masks["ct"]] = np.nan
    dna[~masks["dna"]] = np.nan
    return ModalityBlocks({"lab": lab, "ct": ct, "dna": dna}, masks=masks), y


@pytest.mark.slow
def test_learns_the_cohort_from_all_four_kinds_of_block():
    auroc, _, _ = held_out_auroc(None)
    assert auroc >= 0.85


@pytest.mark.slow
def test_keeps_working_when_each_modality_lacks_30_percent_of_rows():
    missing = {"ct": 0.3, "note": 0.3, "dna": 0.3, "clinical": 0.3}
    auroc, model, test = held_out_auroc(missing, modality_dropout=0.3)
    # The generator's Bayes limit drops from 0.99 to about 0.92 at this rate.
    assert auroc >= 0.75
    weights = model.attention_weights(test)
    present = np.column_stack([test.masks[name] for name in test.names])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert (weights[~present] == 0).all()


def test_fusion_is_searchable_in_a_pipeline():
    X, y = make_patients(80, image_size=8, random_state=0)
    pipeline = Pipeline(
        [
            ("union", make_patients_union(deep=True)),
            ("fusion", "passthrough"),
            ("head", DeepFusionClassifier(**{**FAST, "max_epochs": 2})),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"head__fusion": ["concat", "attention", "gated", "lowrank_tensor"]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="roc_auc",
        error_score="raise",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.predict_proba(X).shape == (80, 2)


@pytest.mark.parametrize("fusion", sorted(FUSION_LAYERS))
def test_weights_cover_present_modalities_only(blocks, fusion):
    X, y = blocks
    model = DeepFusionClassifier(fusion=fusion, **FAST).fit(X, y)
    weights = model.attention_weights(X)
    present = np.column_stack([X.masks[name] for name in X.names])
    assert weights.shape == (len(y), 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert (weights[~present] == 0).all()
    assert (weights[present] > 0).all()


@pytest.mark.parametrize("fusion", sorted(FUSION_LAYERS))
def test_values_in_absent_rows_do_not_matter(blocks, fusion):
    X, y = blocks
    model = DeepFusionClassifier(fusion=fusion, **FAST).fit(X, y)
    garbage = {}
    for name, block in X.items():
        block = block.copy()
        block[~X.masks[name]] = 1e6
        garbage[name] = block
    refilled = ModalityBlocks(garbage, masks=dict(X.masks))
    np.testing.assert_array_equal(model.predict_proba(refilled), model.predict_proba(X))


@pytest.mark.parametrize("fusion", sorted(FUSION_LAYERS))
def test_fusion_layers_ignore_absent_embeddings(fusion):
    layer = FUSION_LAYERS[fusion](3, 4)
    embeddings = torch.randn(5, 3, 4)
    mask = torch.tensor(
        [[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=torch.bool
    )
    fused, weights = layer(embeddings, mask)
    changed = embeddings.clone()
    changed[~mask] = 100.0
    fused_changed, _ = layer(changed, mask)
    assert fused.shape == (5, layer.out_features)
    assert torch.allclose(fused, fused_changed)
    assert torch.isfinite(fused).all()
    np.testing.assert_allclose(weights.sum(1).detach(), [1, 1, 1, 0, 1], rtol=1e-6)


def test_modality_dropout_hides_present_modalities_and_keeps_one():
    mask = torch.tensor([[1, 1, 1], [0, 1, 0], [1, 0, 1], [0, 0, 0]], dtype=torch.bool)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        kept = torch.stack([drop_modalities(mask, 0.9) for _ in range(200)])
    assert not (kept & ~mask).any()
    assert kept[:, :3].any(dim=2).all()
    assert not kept[:, 3].any()
    assert (kept.float().mean(0)[0] < 0.6).all()


def test_same_seed_same_model_and_global_rng_untouched(blocks):
    X, y = blocks
    before = torch.get_rng_state()
    params = {**FAST, "modality_dropout": 0.2, "augment": True, "dropout": 0.1}
    first = DeepFusionClassifier(**params).fit(X, y).predict_proba(X)
    second = DeepFusionClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(torch.get_rng_state(), before)


def test_prediction_never_augments_or_drops(blocks):
    X, y = blocks
    model = DeepFusionClassifier(augment=True, modality_dropout=0.5, **FAST).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X))


def test_joblib_round_trip(blocks, tmp_path):
    X, y = blocks
    model = DeepFusionClassifier(fusion="gated", **FAST).fit(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(
        restored.attention_weights(X), model.attention_weights(X)
    )


def test_rows_without_modality_get_the_prior(blocks):
    X, y = blocks
    y = np.where(np.arange(len(y)) % 3 == 0, "cancer", "benign")
    model = DeepFusionClassifier(**FAST).fit(X, y)
    masks = {name: X.masks[name].copy() for name in X.names}
    for mask in masks.values():
        mask[[4, 7]] = False
    emptied = ModalityBlocks({name: X[name] for name in X.names}, masks=masks)
    with pytest.warns(MissingModalityWarning, match=r"Rows \[4, 7\]"):
        proba = model.predict_proba(emptied)
    np.testing.assert_allclose(proba[[4, 7]], [[2 / 3, 1 / 3]] * 2)
    assert set(model.predict(X)) <= {"benign", "cancer"}
    assert (model.attention_weights(emptied)[[4, 7]] == 0).all()


def test_custom_encoder_is_copied_and_used(blocks):
    X, y = blocks
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8))
    original = copy.deepcopy(encoder.state_dict())
    model = DeepFusionClassifier(encoders={"ct": encoder}, **FAST).fit(X, y)
    used = model.net_.module_.encoders["ct"]
    assert used is not encoder
    assert isinstance(used, torch.nn.Sequential)
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, original[key])
    assert not all(
        torch.equal(value, original[key]) for key, value in used.state_dict().items()
    )


def test_encoder_errors_name_the_modality(blocks):
    X, y = blocks
    wide = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 5))
    with pytest.raises(ValueError, match=r"encoders\['ct'\] maps 2 rows .* \(2, 5\)"):
        DeepFusionClassifier(encoders={"ct": wide}, **FAST).fit(X, y)
    broken = torch.nn.Linear(3, 8)
    with pytest.raises(ValueError, match=r"encoders\['ct'\] fails on a batch"):
        DeepFusionClassifier(encoders={"ct": broken}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"\['pet'\] that the blocks do not hold"):
        DeepFusionClassifier(encoders={"pet": wide}, **FAST).fit(X, y)
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        DeepFusionClassifier(encoders={"ct": "resnet"}, **FAST).fit(X, y)


def test_nan_inside_a_present_image_names_the_modality(blocks):
    X, y = blocks
    ct = X["ct"].copy()
    row = int(np.flatnonzero(X.masks["ct"])[0])
    ct[row, 0, 3, 3] = np.nan
    broken = ModalityBlocks({**{n: X[n] for n in X.names}, "ct": ct}, dict(X.masks))
    with pytest.raises(ValueError, match=rf"modality 'ct'.*present rows \[{row}\]"):
        DeepFusionClassifier(**FAST).fit(broken, y)


def test_sparse_blocks_and_frames_of_plain_tables():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 30)
    note = sparse.random(60, 20, density=0.2, random_state=0, format="csr")
    note = note + sparse.csr_matrix(np.outer(y, np.ones(20)) * 0.5)
    blocks = ModalityBlocks({"note": note, "lab": rng.normal(size=(60, 2))})
    dense = ModalityBlocks({"note": note.toarray(), "lab": blocks["lab"]})
    from_sparse = DeepFusionClassifier(**FAST).fit(blocks, y).predict_proba(blocks)
    from_dense = DeepFusionClassifier(**FAST).fit(dense, y).predict_proba(dense)
    np.testing.assert_allclose(from_sparse, from_dense, rtol=1e-5)
    frame = pd.DataFrame(rng.normal(size=(60, 3)) + y[:, None], columns=list("abc"))
    model = DeepFusionClassifier(**FAST).fit(frame, y)
    assert list(model.modality_names_in_) == ["x"]
    assert model.score(frame, y) >= 0.75


def test_bad_input_names_the_problem(blocks):
    X, y = blocks
    with pytest.raises(ValueError, match=r"at least 2 classes.*got 1 class: \[1\]"):
        DeepFusionClassifier(**FAST).fit(X, np.ones(len(y), dtype=int))
    model = DeepFusionClassifier(**FAST).fit(X, y)
    renamed = ModalityBlocks(
        {"lab": X["lab"], "pet": X["ct"], "dna": X["dna"]},
        masks={"pet": X.masks["ct"], "dna": X.masks["dna"]},
    )
    with pytest.raises(ValueError, match=r"missing: \['ct'\], unexpected: \['pet'\]"):
        model.predict_proba(renamed)
    cropped = ModalityBlocks(
        {**{n: X[n] for n in X.names}, "ct": X["ct"][:, :, :4]}, masks=dict(X.masks)
    )
    with pytest.raises(ValueError, match="Modality 'ct' has"):
        model.predict(cropped)


def test_regressor_fits_blocks_and_predicts_the_mean_without_modalities(
    blocks, tmp_path
):
    X, _ = blocks
    y = X["lab"][:, 0] + 0.5 * X["lab"][:, 1]
    model = DeepFusionRegressor(**{**FAST, "max_epochs": 40}).fit(X, y)
    assert model.score(X, y) > 0.8
    masks = {name: X.masks[name].copy() for name in X.names}
    for mask in masks.values():
        mask[3] = False
    emptied = ModalityBlocks({name: X[name] for name in X.names}, masks=masks)
    with pytest.warns(MissingModalityWarning, match=r"Rows \[3\]"):
        predicted = model.predict(emptied)
    assert predicted[3] == pytest.approx(y.mean())
    two_targets = DeepFusionRegressor(**FAST).fit(X, np.column_stack([y, -y]))
    assert two_targets.predict(X).shape == (len(y), 2)
    joblib.dump(model, tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "model.joblib").predict(X), model.predict(X)
    )


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_rows_without_modality_are_named_by_label_through_a_union(estimator):
    # Through a union over a labelled table, the warning names "p8" and
    # "p21", not their positions 1 and 2 among the rows predicted on.
    rng = np.random.default_rng(0)
    n = 60
    y = np.tile([0, 1, 1], n // 3)
    X = pd.DataFrame(
        {
            "glucose": y + rng.normal(0, 0.7, n),
            "insulin": rng.normal(0, 1, n),
            "heart_rate": 0.5 * y + rng.normal(0, 1, n),
        },
        index=[f"p{i}" for i in range(n)],
    )
    empty = ["p8", "p21"]
    X.loc[empty] = np.nan
    X.loc[["p5", "p30"], ["glucose", "insulin"]] = np.nan
    union = MultimodalUnion(
        [
            ("labs", StandardScaler(), ["glucose", "insulin"]),
            ("vitals", StandardScaler(), ["heart_rate"]),
        ]
    )
    train = X.index.difference(empty, sort=False)
    if estimator == "classifier":
        head, target = DeepFusionClassifier(**{**FAST, "max_epochs": 5}), y
    else:
        head = DeepFusionRegressor(**{**FAST, "max_epochs": 5})
        target = y * 10.0 + np.arange(n)
    target = pd.Series(target, index=X.index)
    pipe = Pipeline([("union", union), ("fusion", "passthrough"), ("head", head)])
    pipe.fit(X.loc[train], target.loc[train])
    named = r"Rows \['p8', 'p21'\] have no modality present"
    if estimator == "classifier":
        with pytest.warns(MissingModalityWarning, match=named) as record:
            proba = pipe.predict_proba(X.loc[["p3", "p8", "p21"]])
        assert "training class prior" in str(record[0].message)
        # 58 training rows: 19 of class 0, 39 of class 1.
        np.testing.assert_allclose(proba[1:], [[19 / 58, 39 / 58]] * 2)
    else:
        with pytest.warns(MissingModalityWarning, match=named) as record:
            predicted = pipe.predict(X.loc[["p3", "p8", "p21"]])
        assert "training mean" in str(record[0].message)
        np.testing.assert_allclose(predicted[1:], [target.loc[train].mean()] * 2)
