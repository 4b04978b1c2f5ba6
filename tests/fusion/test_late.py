import io

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning, PolymodalWarning
from polymodal.fusion import (
    LateFusionClassifier,
    LateFusionRegressor,
    StackingFusionClassifier,
)


def make_blocks(n=60, seed=0, note_every=4):
    """A binary task: clinical (weak signal) and note (stronger, absent every 4th row).

    Absent note rows hold garbage, not NaN: the mask alone must decide.
    """
    rng = np.random.RandomState(seed)
    y = np.tile([0, 1], n // 2)
    clinical = 0.8 * y[:, None] + rng.normal(size=(n, 2))
    note = 1.5 * y[:, None] + rng.normal(size=(n, 3))
    note_mask = np.arange(n) % note_every != 0
    note[~note_mask] = 1e6
    blocks = ModalityBlocks(
        {"clinical": clinical, "note": note}, masks={"note": note_mask}
    )
    return blocks, y


class ProbaEcho(ClassifierMixin, BaseEstimator):
    """A classifier whose input is its predicted probabilities (for hand checks)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.asarray(X)


# Per-modality probabilities of 3 rows over classes ("a", "b", "c"); modality
# q is absent in row 2.
P = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]])
Q = np.array([[0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [np.nan, np.nan, np.nan]])


def echo_fit(**params):
    train = ModalityBlocks({"p": np.full((3, 3), 1 / 3), "q": np.full((3, 3), 1 / 3)})
    clf = LateFusionClassifier(ProbaEcho(), **params)
    return clf.fit(train, ["a", "b", "c"])


ECHO_TEST = ModalityBlocks({"p": P, "q": Q}, masks={"q": [True, True, False]})


# --- the math, by hand ----------------------------------------------------------


@pytest.mark.parametrize(
    ("combine", "weights", "expected"),
    [
        ("mean", None, [[0.4, 0.5, 0.1], [0.25, 0.4, 0.35], P[2]]),
        (
            "mean",
            {"p": 3.0, "q": 1.0},
            [[0.5, 0.4, 0.1], [0.225, 0.45, 0.325], P[2]],
        ),
        (
            "product",
            None,
            [
                np.sqrt([0.12, 0.21, 0.01]) / np.sqrt([0.12, 0.21, 0.01]).sum(),
                np.sqrt([0.06, 0.15, 0.12]) / np.sqrt([0.06, 0.15, 0.12]).sum(),
                P[2],
            ],
        ),
        ("vote", None, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]]),
        (
            "vote",
            {"p": 3.0, "q": 1.0},
            [[0.75, 0.25, 0.0], [0.0, 0.75, 0.25], [0, 0, 1]],
        ),
        (
            "max",
            None,
            [[0.6 / 1.4, 0.5, 0.1 / 1.4], [0.25, 0.5 / 1.2, 0.4 / 1.2], P[2]],
        ),
    ],
)
def test_combine_rules_known_answers(combine, weights, expected):
    clf = echo_fit(combine=combine, weights=weights)
    assert_allclose(clf.predict_proba(ECHO_TEST), expected, atol=1e-12)


def test_product_weights_are_exponents():
    clf = echo_fit(combine="product", weights={"p": 3.0, "q": 1.0})
    unnormalised = P[0] ** 0.75 * Q[0] ** 0.25
    assert_allclose(
        clf.predict_proba(ECHO_TEST)[0], unnormalised / unnormalised.sum(), atol=1e-12
    )


def test_vote_ties_are_broken_by_the_mean_probability():
    clf = echo_fit(combine="vote")
    # Rows 0 and 1 tie at one vote each; the mean probabilities are
    # [0.4, 0.5, 0.1] and [0.25, 0.4, 0.35], so class "b" wins both.
    assert_array_equal(clf.predict(ECHO_TEST), ["b", "b", "c"])
    weighted = echo_fit(combine="vote", weights={"p": 3.0, "q": 1.0})
    assert_array_equal(weighted.predict(ECHO_TEST), ["a", "b", "c"])


def test_mean_equals_manual_average_of_modality_probabilities():
    blocks, y = make_blocks()
    clf = LateFusionClassifier(LogisticRegression(C=0.5)).fit(blocks, y)
    mask = blocks.masks["note"]
    clinical = LogisticRegression(C=0.5).fit(blocks["clinical"], y)
    note = LogisticRegression(C=0.5).fit(blocks["note"][mask], y[mask])
    expected = clinical.predict_proba(blocks["clinical"])
    expected[mask] = (expected[mask] + note.predict_proba(blocks["note"][mask])) / 2
    assert_allclose(clf.predict_proba(blocks), expected, atol=1e-10)


def test_row_missing_a_modality_uses_the_others_only():
    blocks, y = make_blocks()
    clf = LateFusionClassifier().fit(blocks, y)
    absent = ~blocks.masks["note"]
    clinical_alone = clf.named_estimators_["clinical"].predict_proba(
        blocks["clinical"][absent]
    )
    assert_allclose(clf.predict_proba(blocks)[absent], clinical_alone)
    # The values written into absent rows do not matter, only the mask does.
    other_garbage = blocks["note"].copy()
    other_garbage[absent] = -42.0
    relabelled = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": other_garbage},
        masks={"note": blocks.masks["note"]},
    )
    assert_array_equal(clf.predict_proba(relabelled), clf.predict_proba(blocks))


def test_decision_function_is_the_log_odds():
    blocks, y = make_blocks()
    clf = LateFusionClassifier(combine="product").fit(blocks, y)
    assert_allclose(
        clf.decision_function(blocks), logit(clf.predict_proba(blocks)[:, 1])
    )
    three = echo_fit()
    scores = three.decision_function(ECHO_TEST)
    assert scores.shape == (3, 3)
    assert_allclose(scores.sum(axis=1), 0.0, atol=1e-12)
    assert_array_equal(three.classes_[scores.argmax(axis=1)], three.predict(ECHO_TEST))


# --- classes and labels ---------------------------------------------------------


def test_probabilities_align_to_global_classes_when_a_modality_lacks_one():
    rng = np.random.RandomState(0)
    y = np.repeat(["cold", "covid", "flu"], 10)
    clinical = rng.normal(size=(30, 2)) + (np.arange(30) // 10)[:, None]
    lab = rng.normal(size=(30, 2))
    lab_mask = y != "flu"  # the lab is never taken for flu
    lab[~lab_mask] = np.nan
    blocks = ModalityBlocks({"clinical": clinical, "lab": lab}, masks={"lab": lab_mask})
    clf = LateFusionClassifier().fit(blocks, y)
    assert_array_equal(clf.classes_, ["cold", "covid", "flu"])
    assert_array_equal(clf.modality_classes_["lab"], ["cold", "covid"])
    # The lab's estimator learns label indices 0..1, so any classifier accepts it.
    assert_array_equal(clf.named_estimators_["lab"].classes_, [0, 1])
    only_lab = ModalityBlocks(
        {"clinical": np.full((2, 2), np.nan), "lab": lab[:2]},
        masks={"clinical": [False, False]},
    )
    proba = clf.predict_proba(only_lab)
    assert_array_equal(proba[:, 2], 0.0)
    assert_allclose(
        proba[:, :2], clf.named_estimators_["lab"].predict_proba(lab[:2]), atol=1e-12
    )


def test_string_labels_give_the_same_model_as_integers():
    blocks, y = make_blocks()
    labels = np.array(["benign", "malignant"])[y]
    for cls in (LateFusionClassifier, StackingFusionClassifier):
        as_int = cls().fit(blocks, y)
        as_str = cls().fit(blocks, labels)
        assert_array_equal(as_str.classes_, ["benign", "malignant"])
        assert_array_equal(as_str.predict(blocks), labels[as_int.predict(blocks)])
        assert_allclose(as_str.predict_proba(blocks), as_int.predict_proba(blocks))


def test_modality_with_one_class_is_an_error_naming_it():
    blocks, y = make_blocks()
    mask = y == 1
    note = np.where(mask[:, None], blocks["note"], np.nan)
    one_class = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": note}, masks={"note": mask}
    )
    with pytest.raises(ValueError, match="Modality 'note' has only one class"):
        LateFusionClassifier().fit(one_class, y)


# --- absent modalities ----------------------------------------------------------


def test_row_without_any_modality_predicts_the_prior_with_a_warning():
    blocks, y = make_blocks()
    y = y.copy()
    y[:20] = 1  # 40 of 60 rows in class 1
    nothing = ModalityBlocks(
        {"clinical": np.full((2, 2), np.nan), "note": np.full((2, 3), np.nan)},
        masks={"clinical": [False, False], "note": [False, False]},
    )
    for clf in (LateFusionClassifier(), StackingFusionClassifier(cv=3)):
        clf.fit(blocks, y)
        assert_allclose(clf.class_prior_, [1 / 3, 2 / 3])
        with pytest.warns(MissingModalityWarning, match=r"Rows \[0, 1\]"):
            assert_allclose(clf.predict_proba(nothing), [[1 / 3, 2 / 3]] * 2)
    reg = LateFusionRegressor().fit(blocks, y * 10.0)
    with pytest.warns(MissingModalityWarning, match="training mean"):
        assert_allclose(reg.predict(nothing), [y.mean() * 10] * 2)


def test_modality_of_weight_zero_counts_as_absent():
    clf = echo_fit(weights={"p": 0.0})
    with pytest.warns(MissingModalityWarning, match=r"Rows \[2\]"):
        proba = clf.predict_proba(ECHO_TEST)
    assert_allclose(proba[:2], Q[:2])
    assert_allclose(proba[2], [1 / 3] * 3)


def test_sample_weight_is_sliced_to_present_rows():
    blocks, y = make_blocks()
    weight = np.linspace(0.5, 2.0, len(y))
    clf = LateFusionClassifier().fit(blocks, y, sample_weight=weight)
    mask = blocks.masks["note"]
    note = LogisticRegression().fit(
        blocks["note"][mask], y[mask], sample_weight=weight[mask]
    )
    assert_allclose(
        clf.named_estimators_["note"].coef_, note.coef_, rtol=1e-6, atol=1e-8
    )
    assert_allclose(clf.class_prior_[1], weight[y == 1].sum() / weight.sum())


def test_sample_weight_through_metadata_routing():
    blocks, y = make_blocks()
    weight = np.linspace(0.5, 2.0, len(y))
    expected = LateFusionClassifier().fit(blocks, y, sample_weight=weight)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = LateFusionClassifier(
            LogisticRegression().set_fit_request(sample_weight=True)
        ).fit(blocks, y, sample_weight=weight)
        proba = routed.predict_proba(blocks)
    assert_allclose(proba, expected.predict_proba(blocks))


# --- learned weights and weak modalities ----------------------------------------


class RecordingGroupKFold(GroupKFold):
    """GroupKFold that remembers the groups it was given."""

    def __init__(self, n_splits=3):
        super().__init__(n_splits=n_splits)
        self.seen = []

    def split(self, X, y=None, groups=None):
        self.seen.append(np.asarray(groups))
        return super().split(X, y, groups)


def noise_and_signal(n=200, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    blocks = ModalityBlocks(
        {
            "noise": rng.normal(size=(n, 5)),
            "signal": 2.0 * y[:, None] + rng.normal(size=(n, 2)),
        }
    )
    return blocks, y


def test_learned_weights_favour_the_informative_modality_and_use_groups():
    blocks, y = noise_and_signal()
    groups = np.arange(len(y)) // 2
    cv = RecordingGroupKFold(3)
    clf = LateFusionClassifier(weights="learn", cv=cv).fit(blocks, y, groups=groups)
    assert clf.modality_scores_["signal"] > 0.9
    assert clf.weights_["noise"] < 0.15
    assert sum(clf.weights_.values()) == pytest.approx(1.0)
    assert len(cv.seen) == 2
    assert_array_equal(cv.seen[0], groups)
    with pytest.raises(ValueError, match="groups"):
        LateFusionClassifier(weights="learn", cv=GroupKFold(3)).fit(blocks, y)


def test_groups_reach_the_inner_cv_sliced_to_present_rows():
    blocks, y = make_blocks()
    groups = np.arange(len(y)) // 3
    cv = RecordingGroupKFold(3)
    LateFusionClassifier(combine="weighted", cv=cv).fit(blocks, y, groups=groups)
    assert_array_equal(cv.seen[1], groups[blocks.masks["note"]])


def test_no_modality_above_chance_gives_equal_weights_with_a_warning():
    # Constant blocks: constant probabilities, an AUC of exactly 0.5.
    blocks = ModalityBlocks({"a": np.zeros((40, 1)), "b": np.ones((40, 2))})
    y = np.tile([0, 1], 20)
    clf = LateFusionClassifier(weights="learn", cv=2)
    with pytest.warns(PolymodalWarning, match="no modality scored above chance"):
        clf.fit(blocks, y)
    assert clf.modality_scores_ == {"a": 0.5, "b": 0.5}
    assert clf.weights_ == {"a": 0.5, "b": 0.5}


def test_weak_modality_does_not_invert_the_ranking():
    """Calibrated SVMs on a noise-only block plus a strong block (ANCHORS.md)."""
    blocks, y = noise_and_signal(n=240, seed=1)
    train, test = np.arange(160), np.arange(160, 240)
    svm = CalibratedClassifierCV(SVC(), ensemble=False)
    strong_alone = svm.fit(blocks["signal"][train], y[train])
    strong_auc = roc_auc_score(
        y[test], strong_alone.predict_proba(blocks["signal"][test])[:, 1]
    )
    for weights in (None, "learn"):
        fused = LateFusionClassifier(svm, weights=weights, cv=3).fit(
            blocks[train], y[train]
        )
        fused_auc = roc_auc_score(y[test], fused.decision_function(blocks[test]))
        assert fused_auc > 0.85
        assert fused_auc >= strong_auc - (0.03 if weights is None else 0.01)
    # One modality: the fusion ranks rows exactly as the calibrated model does.
    single = LateFusionClassifier(svm).fit(blocks["noise"][train], y[train])
    base = single.named_estimators_["x"].predict_proba(blocks["noise"][test])[:, 1]
    assert_array_equal(
        np.argsort(single.decision_function(blocks["noise"][test]), kind="stable"),
        np.argsort(base, kind="stable"),
    )


def test_estimator_without_predict_proba_is_an_error_suggesting_calibration():
    blocks, y = make_blocks()
    for clf in (
        LateFusionClassifier(SVC()),
        StackingFusionClassifier(SVC(), stack_method="predict_proba"),
        StackingFusionClassifier(final_estimator=SVC()),
    ):
        with pytest.raises(ValueError, match="CalibratedClassifierCV") as error:
            clf.fit(blocks, y)
        assert "deprecated in scikit-learn 1.9" in str(error.value)
    # Stacking can learn from raw decision values instead.
    stacked = StackingFusionClassifier(SVC(), stack_method="decision_function", cv=3)
    stacked.fit(blocks, y)
    assert list(stacked.meta_feature_names_[:2]) == [
        "clinical__decision",
        "note__decision",
    ]


# --- stacking -------------------------------------------------------------------


def test_stacking_meta_learner_is_trained_on_out_of_fold_predictions():
    blocks, y = make_blocks()
    full = blocks[blocks.masks["note"]]
    y_full = y[blocks.masks["note"]]
    clf = StackingFusionClassifier(cv=4).fit(full, y_full)
    folds = StratifiedKFold(4)
    meta = np.column_stack(
        [
            cross_val_predict(
                LogisticRegression(),
                full[name],
                y_full,
                cv=folds,
                method="predict_proba",
            )[:, 1]
            for name in ("clinical", "note")
        ]
    )
    # Log-odds of the out-of-fold probabilities; every row has every
    # modality, so no presence column enters.
    meta = logit(np.clip(meta, 1e-3, 1 - 1e-3))
    expected = LogisticRegression(C=0.1).fit(meta, y_full)
    assert_allclose(clf.final_estimator_.coef_, expected.coef_, rtol=1e-6)
    assert_allclose(clf.final_estimator_.intercept_, expected.intercept_, rtol=1e-6)


def test_stacking_fills_absent_modalities_with_the_class_prior_log_odds():
    blocks, y = make_blocks()
    clf = StackingFusionClassifier(cv=3).fit(blocks, y)
    # The note is absent in every 4th row, all of class 0: its absence tells
    # the class, so its presence column enters.
    assert clf.presence_modalities_ == ["note"]
    assert_allclose(clf.fill_values_["note"], [0.0])
    absent = np.flatnonzero(~blocks.masks["note"])
    clinical = clf.named_estimators_["clinical"].predict_proba(
        blocks["clinical"][absent]
    )
    meta = np.column_stack(
        [
            logit(np.clip(clinical[:, 1], 1e-3, 1 - 1e-3)),
            np.zeros(len(absent)),  # the prior's log-odds
            np.zeros(len(absent)),  # presence__note
        ]
    )
    assert_allclose(
        clf.predict_proba(blocks)[absent], clf.final_estimator_.predict_proba(meta)
    )


def test_stacking_fills_absent_modalities_with_the_class_prior():
    blocks, y = make_blocks()
    clf = StackingFusionClassifier(cv=3, stack_method="predict_proba", presence=True)
    clf.fit(blocks, y)
    assert_allclose(clf.fill_values_["note"], [0.5])
    absent = np.flatnonzero(~blocks.masks["note"])
    clinical = clf.named_estimators_["clinical"].predict_proba(
        blocks["clinical"][absent]
    )
    meta = np.column_stack(
        [
            clinical[:, 1],
            np.full(len(absent), 0.5),
            np.ones(len(absent)),
            np.zeros(len(absent)),
        ]
    )
    assert_allclose(
        clf.predict_proba(blocks)[absent], clf.final_estimator_.predict_proba(meta)
    )


def test_stacking_does_not_trust_a_memorising_modality():
    """A 1-NN on a patient-id column is perfect in sample and useless out of it."""
    rng = np.random.RandomState(0)
    n = 240
    y = rng.randint(0, 2, n)
    blocks = ModalityBlocks(
        {
            "id": rng.permutation(n)[:, None].astype(float),
            "signal": 0.8 * y[:, None] + rng.normal(size=(n, 2)),
        }
    )
    train, test = np.arange(160), np.arange(160, n)
    clf = StackingFusionClassifier(
        estimators=[("id", KNeighborsClassifier(n_neighbors=1))], cv=5
    ).fit(blocks[train], y[train])
    names = list(clf.meta_feature_names_)
    coef = clf.final_estimator_.coef_[0]
    id_coef = coef[names.index("id__log_odds_1")]
    signal_coef = coef[names.index("signal__log_odds_1")]
    assert abs(id_coef) < 0.25 * signal_coef

    # A leaky meta-learner, trained on in-sample predictions, trusts the memoriser.
    in_sample = np.column_stack(
        [
            clf.named_estimators_[name].predict_proba(blocks[train][name])[:, 1]
            for name in ("id", "signal")
        ]
    )
    leaky = LogisticRegression().fit(in_sample, y[train])
    assert leaky.coef_[0, 0] > leaky.coef_[0, 1]

    signal_alone = LogisticRegression().fit(blocks["signal"][train], y[train])
    alone_score = signal_alone.score(blocks["signal"][test], y[test])
    assert clf.score(blocks[test], y[test]) >= alone_score - 0.05


def test_stacking_multiclass_meta_features():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 20)
    blocks = ModalityBlocks(
        {
            "a": y[:, None] + rng.normal(size=(60, 2)),
            "b": y[:, None] + rng.normal(size=(60, 2)),
        }
    )
    clf = StackingFusionClassifier(cv=3).fit(blocks, y)
    assert list(clf.meta_feature_names_) == [
        "a__log_odds_0",
        "a__log_odds_1",
        "a__log_odds_2",
        "b__log_odds_0",
        "b__log_odds_1",
        "b__log_odds_2",
    ]
    assert clf.predict_proba(blocks).shape == (60, 3)
    assert clf.score(blocks, y) > 0.8


# --- regression -----------------------------------------------------------------


def test_regressor_known_answer():
    a = np.array([[0.0], [1.0], [2.0], [3.0]])
    b = np.array([[0.0], [2.0], [np.nan], [6.0]])
    blocks = ModalityBlocks({"a": a, "b": b}, masks={"b": [True, True, False, True]})
    y = np.array([0.0, 1.0, 2.0, 3.0])
    reg = LateFusionRegressor(weights={"a": 3.0, "b": 1.0}).fit(blocks, y)
    fa = Ridge().fit(a, y).predict(a)
    present = [0, 1, 3]
    fb = Ridge().fit(b[present], y[present]).predict(b[present])
    expected = fa.copy()
    expected[present] = 0.75 * fa[present] + 0.25 * fb
    assert_allclose(reg.predict(blocks), expected)
    # Ridge(alpha=1): a gives 0.25 + 5/6 x, so row 2 (a only) is 1.91666...
    assert reg.predict(blocks)[2] == pytest.approx(0.25 + 2 * 5 / 6)


def test_regressor_learns_to_ignore_noise():
    rng = np.random.RandomState(0)
    y = rng.normal(size=120)
    blocks = ModalityBlocks(
        {
            "noise": rng.normal(size=(120, 4)),
            "signal": np.c_[y + 0.1 * rng.normal(size=120)],
        }
    )
    reg = LateFusionRegressor(weights="learn", cv=3).fit(blocks, y)
    assert reg.modality_scores_["signal"] > 0.9
    assert reg.weights_["noise"] < 0.05


# --- parameters, errors, persistence --------------------------------------------


def test_estimators_entries_are_nested_parameters():
    clf = LateFusionClassifier(
        LogisticRegression(C=1.0), estimators=[("note", LogisticRegression(C=2.0))]
    )
    params = clf.get_params()
    assert params["estimators__note__C"] == 2.0
    assert params["estimator__C"] == 1.0
    clf.set_params(estimators__note__C=5.0, estimator__C=0.5)
    blocks, y = make_blocks()
    clf.fit(blocks, y)
    assert clf.named_estimators_["note"].C == 5.0
    assert clf.named_estimators_["clinical"].C == 0.5
    clf.set_params(estimators__note=LogisticRegression(C=7.0))
    assert clf.estimators[0][1].C == 7.0
    with pytest.raises(ValueError, match="no entry for modality 'ct'"):
        clf.set_params(estimators__ct__C=1.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"estimators": [("ct", LogisticRegression())]}, r"modalities \['ct'\]"),
        (
            {"estimators": [("note", LogisticRegression())] * 2},
            "more than once",
        ),
        ({"estimators": [("note",)]}, "pairs"),
        ({"weights": {"ct": 1.0}}, r"weights names modalities \['ct'\]"),
        ({"weights": {"clinical": 0.0, "note": 0.0}}, "weight 0"),
        ({"weights": {"note": -1.0}}, ">= 0"),
    ],
)
def test_bad_parameters_are_clear_errors(params, message):
    blocks, y = make_blocks()
    with pytest.raises(ValueError, match=message):
        LateFusionClassifier(**params).fit(blocks, y)


def test_bad_input_is_a_clear_error():
    blocks, y = make_blocks()
    note = blocks["note"].copy()
    note[5, 1] = np.nan
    nan_inside = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": note},
        masks={"note": blocks.masks["note"]},
    )
    with pytest.raises(ValueError, match="modality 'note'.*rows \\[5\\]"):
        LateFusionClassifier().fit(nan_inside, y)
    never = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": np.full((60, 3), np.nan)},
        masks={"note": np.zeros(60, bool)},
    )
    with pytest.raises(ValueError, match="'note' is absent in every training row"):
        StackingFusionClassifier().fit(never, y)
    images = ModalityBlocks({"ct": np.zeros((60, 1, 4, 4))})
    with pytest.raises(ValueError, match="Modality 'ct' is 4-D"):
        LateFusionRegressor().fit(images, y)
    with pytest.raises(ValueError, match="requires y"):
        LateFusionClassifier().fit(blocks, None)


@pytest.mark.parametrize(
    "estimator",
    [
        LateFusionClassifier(combine="product", weights="learn", cv=3),
        LateFusionRegressor(weights="learn", cv=3),
        StackingFusionClassifier(cv=3),
    ],
)
def test_joblib_round_trip_and_determinism(estimator):
    blocks, y = make_blocks()
    estimator.fit(blocks, y)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    method = (
        "predict" if isinstance(estimator, LateFusionRegressor) else "predict_proba"
    )
    assert_array_equal(
        getattr(loaded, method)(blocks), getattr(estimator, method)(blocks)
    )
    refitted = sklearn.clone(estimator).fit(blocks, y)
    assert_array_equal(
        getattr(refitted, method)(blocks), getattr(estimator, method)(blocks)
    )


def patient_table(n=48, seed=0):
    rng = np.random.RandomState(seed)
    y = np.tile([0, 1], n // 2)
    words = np.array(
        [["no complaints", "routine visit"], ["persistent cough", "fever and cough"]]
    )
    notes = [words[label, rng.randint(2)] for label in y]
    for row in range(0, n, 6):
        notes[row] = None
    frame = pd.DataFrame(
        {
            "note": notes,
            "age": 50 + 10 * y + rng.normal(scale=8, size=n),
            "pack_years": rng.gamma(2.0, 5.0, size=n),
        }
    )
    return frame, y


def test_nested_params_are_searchable_in_a_pipeline():
    frame, y = patient_table()
    pipe = Pipeline(
        [
            (
                "union",
                MultimodalUnion(
                    [
                        ("note", TfidfVectorizer(), "note"),
                        ("clinical", StandardScaler(), ["age", "pack_years"]),
                    ]
                ),
            ),
            ("fusion", "passthrough"),
            (
                "clf",
                LateFusionClassifier(estimators=[("note", LogisticRegression())]),
            ),
        ]
    )
    search = GridSearchCV(
        pipe,
        {
            "clf__estimators__note__C": [0.01, 10.0],
            "clf__combine": ["mean", "product"],
        },
        cv=3,
        error_score="raise",
    ).fit(frame, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_["clf"]
    assert (
        search.best_params_["clf__estimators__note__C"]
        == best.named_estimators_["note"].C
    )
    assert list(best.modality_names_in_) == ["note", "clinical"]
    assert search.predict_proba(frame.iloc[:6]).shape == (6, 2)


def test_late_fusion_is_searchable_against_stacking():
    frame, y = patient_table()
    union = MultimodalUnion(
        [
            ("note", TfidfVectorizer(), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )
    pipe = Pipeline(
        [("union", union), ("fusion", "passthrough"), ("clf", LateFusionClassifier())]
    )
    search = GridSearchCV(
        pipe,
        {"clf": [LateFusionClassifier(), StackingFusionClassifier(cv=3)]},
        cv=3,
        error_score="raise",
    ).fit(frame, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_groups_reach_the_inner_cv_through_a_pipeline_with_metadata_routing():
    frame, y = patient_table()
    groups = np.arange(len(y)) // 2
    union = MultimodalUnion(
        [
            ("note", TfidfVectorizer(), "note"),
            ("clinical", StandardScaler(), ["age", "pack_years"]),
        ]
    )
    clf = LateFusionClassifier(weights="learn", cv=GroupKFold(3))
    pipe = Pipeline([("union", union), ("fusion", "passthrough"), ("clf", clf)])
    search = GridSearchCV(
        pipe, {"clf__combine": ["mean", "max"]}, cv=GroupKFold(3), error_score="raise"
    )
    with sklearn.config_context(enable_metadata_routing=True):
        search.fit(frame, y, groups=groups)
        assert search.score(frame, y) > 0.8
        # The inner GroupKFold cannot split without the groups.
        with pytest.raises(ValueError, match="groups"):
            pipe.fit(frame, y)
    assert set(search.best_estimator_["clf"].weights_) == {"note", "clinical"}


# Two jobs start loky's worker processes, which import polymodal: seconds.
@pytest.mark.slow
def test_parallel_fits_give_the_same_model():
    blocks, y = make_blocks()
    serial = StackingFusionClassifier(cv=3).fit(blocks, y)
    parallel = StackingFusionClassifier(cv=3, n_jobs=2).fit(blocks, y)
    assert_allclose(parallel.predict_proba(blocks), serial.predict_proba(blocks))


def test_estimator_classes_instead_of_instances_are_named():
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.arange(20) % 2
    with pytest.raises(TypeError, match=r"estimator is the class LogisticRegression"):
        LateFusionClassifier(LogisticRegression).fit(X, y)
    with pytest.raises(TypeError, match=r"estimators\['x'\] is the class"):
        LateFusionClassifier(estimators=[("x", LogisticRegression)]).fit(X, y)
