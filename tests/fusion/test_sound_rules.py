"""Planted cases for the seed rules: where the former rule failed, and where it was right.

Each rule is checked twice: on data built so that the former behaviour cancels
or loses the signal (the new rule must recover it), and on data where the former
behaviour was already right (the new rule must not lose).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logit
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import ModalityBlocks
from polymodal.fusion import (
    AverageFusion,
    ProductFusion,
    StackingFusionClassifier,
    TensorFusion,
)


def two_views(latent_a, latent_b, seed=0, noise=0.3):
    """Two 3-column modalities, each its latent value in every column plus noise."""
    rng = np.random.default_rng(seed)
    n = len(latent_a)
    return ModalityBlocks(
        {
            "clinical": latent_a[:, None] + noise * rng.normal(size=(n, 3)),
            "genes": latent_b[:, None] + noise * rng.normal(size=(n, 3)),
        }
    )


def auroc_of_column(fused, y):
    return roc_auc_score(y, fused[:, 0])


# --- sign alignment ----------------------------------------------------------


@pytest.fixture
def opposed():
    """Both modalities carry the risk, the second with the opposite sign.

    PCA signs its components by their loadings, not by the risk, so both
    first components come out pointing the same way in feature space: the
    clinical one grows with the risk, the genes one falls with it.
    """
    risk = np.random.default_rng(1).normal(size=200)
    return two_views(risk, -risk), (risk > 0).astype(int), risk


@pytest.mark.parametrize("fusion_class", [AverageFusion, ProductFusion])
def test_projection_signs_disagree_without_alignment(opposed, fusion_class):
    blocks, y, _ = opposed
    fusion = fusion_class(n_components=1, sign_alignment=None, random_state=0)
    fused = fusion.fit_transform(blocks, y)
    if fusion_class is AverageFusion:
        # The average cancels: what is left is noise.
        assert 0.3 < auroc_of_column(fused, y) < 0.7
    else:
        # The main effects point opposite ways.
        assert roc_auc_score(y, fused[:, 0]) > 0.95
        assert roc_auc_score(y, fused[:, 1]) < 0.05


def test_average_aligned_to_the_target_recovers_the_signal(opposed):
    blocks, y, _ = opposed
    fusion = AverageFusion(n_components=1, random_state=0).fit(blocks, y)
    signs = {name: float(s[0]) for name, s in fusion.component_signs_.items()}
    assert signs["clinical"] != signs["genes"]
    assert auroc_of_column(fusion.transform(blocks), y) > 0.97


def test_alignment_without_y_follows_the_reference_modality(opposed):
    blocks, _, risk = opposed
    masks = {"genes": np.arange(200) % 4 != 0}  # clinical, in every row, leads
    blocks = ModalityBlocks(dict(blocks.items()), masks=masks)
    fused = AverageFusion(n_components=1, random_state=0).fit_transform(blocks)
    assert_array_equal(
        [
            s[0]
            for s in AverageFusion(n_components=1, random_state=0)
            .fit(blocks)
            .component_signs_.values()
        ],
        [1.0, -1.0],
    )
    # Unsupervised, the direction is the clinical component's; the genes
    # component now agrees with it instead of cancelling it.
    assert abs(np.corrcoef(fused[:, 0], risk)[0, 1]) > 0.95


def test_alignment_to_the_target_is_fixed_at_fit_and_needs_no_y_to_transform(opposed):
    blocks, y, _ = opposed
    fusion = AverageFusion(n_components=1, sign_alignment="target").fit(blocks, y)
    first = fusion.transform(blocks)
    assert_allclose(fusion.transform(blocks[::-1]), first[::-1])
    with pytest.raises(ValueError, match="sign_alignment='target' requires y"):
        AverageFusion(n_components=1, sign_alignment="target").fit(blocks)


@pytest.mark.parametrize("fusion_class", [AverageFusion, ProductFusion, TensorFusion])
def test_alignment_changes_nothing_where_the_signs_already_agree(fusion_class):
    risk = np.random.default_rng(2).normal(size=150)
    blocks, y = two_views(risk, risk, seed=3), (risk > 0).astype(int)
    aligned = fusion_class(n_components=1, random_state=0).fit(blocks, y)
    assert all(s[0] == 1.0 for s in aligned.component_signs_.values())
    unaligned = fusion_class(n_components=1, sign_alignment=None, random_state=0)
    assert_allclose(
        aligned.transform(blocks), unaligned.fit(blocks, y).transform(blocks)
    )
    if fusion_class is AverageFusion:
        assert auroc_of_column(aligned.transform(blocks), y) > 0.97


# --- product with main effects -------------------------------------------------


def cross_validated_auroc(fusion, blocks, y):
    model = make_pipeline(fusion, LogisticRegression())
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(model, blocks, y, cv=cv, scoring="roc_auc").mean()


@pytest.fixture
def independent_risks():
    rng = np.random.default_rng(4)
    return rng.normal(size=300), rng.normal(size=300)


def test_product_keeps_main_effects_where_the_modalities_add_up(independent_risks):
    a, b = independent_risks
    blocks, y = two_views(a, b, seed=5), (a + b > 0).astype(int)
    hadamard = ProductFusion(n_components=1, main_effects=False, random_state=0)
    with_main = ProductFusion(n_components=1, random_state=0)
    # z_a * z_b is symmetric in the sign of each risk: it holds no additive signal.
    assert cross_validated_auroc(hadamard, blocks, y) < 0.65
    assert cross_validated_auroc(with_main, blocks, y) > 0.95


def test_product_with_main_effects_keeps_a_true_interaction(independent_risks):
    a, b = independent_risks
    blocks, y = two_views(a, b, seed=6), (a * b > 0).astype(int)
    hadamard = ProductFusion(n_components=1, main_effects=False, random_state=0)
    with_main = ProductFusion(n_components=1, random_state=0)
    pure = cross_validated_auroc(hadamard, blocks, y)
    assert pure > 0.9
    assert cross_validated_auroc(with_main, blocks, y) > pure - 0.01


def test_product_with_main_effects_layout_names_and_absent_rows():
    blocks = ModalityBlocks(
        {
            "ct": np.array([[2.0], [4.0], [2.0], [4.0], [3.0]]),
            "note": np.array([[1.0], [3.0], [np.nan], [5.0], [np.nan]]),
        },
        masks={"note": [True, True, False, True, False]},
    )
    fusion = ProductFusion(n_components=1, sign_alignment=None).fit(blocks)
    assert list(fusion.get_feature_names_out()) == ["ct0", "note0", "ct0*note0"]
    out = fusion.transform(blocks)
    z_ct = (blocks["ct"][:, 0] - 3.0) / np.std([2.0, 4, 2, 4, 3])
    z_note = np.array([-1.0, 0.0, 0.0, 1.0, 0.0]) * np.sqrt(1.5)
    assert_allclose(out[:, 0], z_ct)
    assert_allclose(out[:, 1], z_note)
    # The product is 0 wherever a modality is absent (its mean is 0).
    assert_allclose(out[:, 2], z_ct * z_note)
    hadamard = ProductFusion(n_components=1, main_effects=False, sign_alignment=None)
    # The product alone runs over the present modalities.
    assert_allclose(
        hadamard.fit(blocks).transform(blocks)[:, 0],
        np.where(blocks.masks["note"], z_ct * z_note, z_ct),
    )


def test_product_of_one_modality_is_not_repeated():
    X = np.random.default_rng(0).normal(size=(20, 4))
    fusion = ProductFusion(n_components=2).fit(X)
    assert fusion.transform(X).shape == (20, 2)
    assert list(fusion.get_feature_names_out()) == ["x0", "x1"]


# --- learned weights from a ranking score ----------------------------------------


@pytest.fixture
def rare_outcome():
    """A weak but real modality on a rare outcome, and a noise modality."""
    rng = np.random.default_rng(7)
    n = 300
    y = (rng.random(n) < 0.1).astype(int)
    weak = 0.6 * y[:, None] + rng.normal(size=(n, 3))
    noise = rng.normal(size=(n, 3))
    return ModalityBlocks({"weak": weak, "noise": noise}), y


def test_learned_weights_credit_a_modality_that_ranks_but_never_crosses_one_half(
    rare_outcome,
):
    blocks, y = rare_outcome
    inner = make_pipeline(PCA(1), StandardScaler(), LogisticRegression(max_iter=1000))
    predicted = cross_val_predict(inner, blocks["weak"], y, cv=StratifiedKFold(5))
    # A thresholded score sees no skill: the modality's inner model predicts
    # the majority class for every row, and both modalities would weigh alike.
    assert predicted.sum() == 0
    assert balanced_accuracy_score(y, predicted, adjusted=True) == 0
    fusion = AverageFusion(n_components=1, weights="learn", random_state=0)
    fusion.fit(blocks, y)
    assert fusion.modality_scores_["weak"] > 0.65
    assert fusion.modality_scores_["noise"] < 0.5
    assert fusion.weights_ == {"weak": 1.0, "noise": 0.0}


def test_learned_weights_still_drop_a_modality_without_skill():
    rng = np.random.default_rng(8)
    y = np.tile([0, 1], 60)
    blocks = ModalityBlocks(
        {
            "strong": y[:, None] + 0.3 * rng.normal(size=(120, 3)),
            "noise": rng.normal(size=(120, 3)),
        }
    )
    fusion = AverageFusion(n_components=1, weights="learn", random_state=0)
    fusion.fit(blocks, y)
    assert fusion.modality_scores_["strong"] > 0.95
    assert fusion.weights_["strong"] > 0.85


# --- stacking on log-odds, presence columns by a test ------------------------------


@pytest.fixture
def missing_at_random():
    rng = np.random.default_rng(9)
    n = 200
    y = np.tile([0, 1], n // 2)
    present = rng.random(n) < 0.7
    genes = y[:, None] + rng.normal(size=(n, 3))
    genes[~present] = np.nan
    blocks = ModalityBlocks(
        {"clinical": y[:, None] + 1.5 * rng.normal(size=(n, 2)), "genes": genes},
        masks={"genes": present},
    )
    return blocks, y


def test_stacking_meta_features_are_log_odds(missing_at_random):
    blocks, y = missing_at_random
    clf = StackingFusionClassifier(cv=3).fit(blocks, y)
    assert list(clf.meta_feature_names_) == [
        "clinical__log_odds_1",
        "genes__log_odds_1",
    ]
    assert clf.stack_method_ == {"clinical": "log_odds", "genes": "log_odds"}
    assert_allclose(clf.fill_values_["genes"], [logit(0.5)])
    # The meta-learner reads the log-odds of each modality's probabilities.
    both = blocks.masks["genes"]
    log_odds = np.column_stack(
        [
            logit(
                np.clip(
                    clf.named_estimators_[name].predict_proba(blocks[name][both])[:, 1],
                    1e-3,
                    1 - 1e-3,
                )
            )
            for name in ("clinical", "genes")
        ]
    )
    assert_allclose(
        clf.predict_proba(blocks[both]), clf.final_estimator_.predict_proba(log_odds)
    )


def test_presence_columns_stay_out_when_modalities_are_missing_at_random(
    missing_at_random,
):
    blocks, y = missing_at_random
    assert StackingFusionClassifier(cv=3).fit(blocks, y).presence_modalities_ == []
    every = StackingFusionClassifier(cv=3, presence=True).fit(blocks, y)
    assert every.presence_modalities_ == ["clinical", "genes"]
    assert list(every.meta_feature_names_[-2:]) == [
        "presence__clinical",
        "presence__genes",
    ]


def test_presence_column_enters_when_absence_tells_the_class():
    rng = np.random.default_rng(10)
    n = 200
    y = np.tile([0, 1], n // 2)
    # The test is ordered for most sick patients and few healthy ones; its
    # values say nothing more.
    present = rng.random(n) < np.where(y == 1, 0.85, 0.15)
    test = rng.normal(size=(n, 2))
    blocks = ModalityBlocks(
        {"clinical": rng.normal(size=(n, 2)), "test": test},
        masks={"test": present},
    )
    auto = StackingFusionClassifier(cv=3)
    assert auto.fit(blocks, y).presence_modalities_ == ["test"]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    with_presence = cross_val_score(auto, blocks, y, cv=cv, scoring="roc_auc").mean()
    without = cross_val_score(
        StackingFusionClassifier(cv=3, presence=False),
        blocks,
        y,
        cv=cv,
        scoring="roc_auc",
    ).mean()
    # Without the column, the fill value carries some of the absence; the
    # column does not lose against it.
    assert with_presence > 0.8
    assert with_presence > without - 0.01


def test_stacking_log_odds_falls_back_to_decision_values():
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(11)
    y = np.tile([0, 1], 30)
    blocks = ModalityBlocks({"a": y[:, None] + rng.normal(size=(60, 2))})
    clf = StackingFusionClassifier(LinearSVC(), cv=3).fit(blocks, y)
    assert clf.stack_method_ == {"a": "decision_function"}
    assert list(clf.meta_feature_names_) == ["a__decision"]
