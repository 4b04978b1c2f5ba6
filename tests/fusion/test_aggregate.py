import io

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy import sparse
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning, PolymodalWarning
from polymodal.fusion import AverageFusion, ProductFusion, TensorFusion

S = np.sqrt(1.5)  # |z| of 1 and 3 standardised over [1, 2, 3]
T = 1 / np.sqrt(2)  # |z| of 5 standardised over [5, 5, 8]

# The standardised blocks of `known_blocks`, present rows only, by hand.
Z_A = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
Z_B = np.array([[-S, -T], [0.0, -T], [S, 2 * T]])


def known_blocks():
    """Two blocks of width 2: with n_components=2 they are only standardised.

    Modality a is present in rows 0-3, b in rows 0-2; row 4 has neither. The
    values in absent rows are garbage that must not leak into the output.
    """
    return ModalityBlocks(
        {
            "a": np.array([[2.0, 0], [4, 0], [2, 10], [4, 10], [999, 999]]),
            "b": np.array([[1.0, 5], [2, 5], [3, 8], [np.nan, np.nan], [-7, 7]]),
        },
        masks={
            "a": [True, True, True, True, False],
            "b": [True, True, True, False, False],
        },
    )


KNOWN_Y = np.array([0, 1, 0, 1, 1])


def random_blocks(n=30, seed=0, sparse_note=True):
    rng = np.random.default_rng(seed)
    note = rng.random((n, 12)) * (rng.random((n, 12)) < 0.4)
    note_mask = np.arange(n) % 5 != 0
    note[~note_mask] = 0.0
    ct = rng.normal(size=(n, 6))
    ct_mask = np.arange(n) % 4 != 1
    ct[~ct_mask] = np.nan
    return ModalityBlocks(
        {
            "ct": ct,
            "note": sparse.csr_matrix(note) if sparse_note else note,
            "clinical": rng.normal(size=(n, 5)),
        },
        masks={"ct": ct_mask, "note": note_mask},
    )


# --- known answers -----------------------------------------------------------


@pytest.mark.parametrize("projection", ["pca", "pls", "random"])
def test_average_known_answer(projection):
    fusion = AverageFusion(n_components=2, projection=projection, sign_alignment=None)
    with pytest.warns(MissingModalityWarning, match=r"Rows \[4\]"):
        out = fusion.fit_transform(known_blocks(), KNOWN_Y)
    expected = np.vstack([(Z_A[:3] + Z_B) / 2, Z_A[3], [0.0, 0.0]])
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_weighted_average_renormalises_over_present_modalities():
    fusion = AverageFusion(n_components=2, weights={"a": 2.0})
    with pytest.warns(MissingModalityWarning):
        out = fusion.fit_transform(known_blocks())
    assert fusion.weights_ == {"a": 2.0, "b": 1.0}
    expected = np.vstack(
        [
            (2 * Z_A[:3] + Z_B) / 3,
            Z_A[3],  # only a present: its weight is re-normalised to 1
            [0.0, 0.0],
        ]
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_modality_absent_only_at_transform_time_uses_the_others():
    blocks = known_blocks()
    fusion = AverageFusion(n_components=2, weights={"a": 5.0})
    fusion.fit(blocks)
    no_a = ModalityBlocks(
        {"a": blocks["a"][:3], "b": blocks["b"][:3]},
        masks={"a": [False, True, True]},
    )
    out = fusion.transform(no_a)
    np.testing.assert_allclose(out[0], Z_B[0], atol=1e-12)
    np.testing.assert_allclose(out[1:], (5 * Z_A[1:3] + Z_B[1:]) / 6, atol=1e-12)


def test_zero_weight_rows_get_the_mean_with_a_warning():
    fusion = AverageFusion(n_components=2, weights={"a": 0.0})
    with pytest.warns(MissingModalityWarning, match=r"Rows \[3, 4\]"):
        out = fusion.fit_transform(known_blocks())
    np.testing.assert_allclose(out[:3], Z_B, atol=1e-12)
    np.testing.assert_allclose(out[3:], 0.0)


def test_product_known_answer():
    with pytest.warns(MissingModalityWarning, match=r"Rows \[4\]"):
        out = ProductFusion(
            n_components=2, main_effects=False, sign_alignment=None
        ).fit_transform(known_blocks())
    # An absent modality contributes the identity 1.
    expected = np.vstack([Z_A[:3] * Z_B, Z_A[3], [0.0, 0.0]])
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_tensor_known_answer_and_names():
    fusion = TensorFusion(n_components=2)
    with pytest.warns(MissingModalityWarning, match=r"Rows \[4\]"):
        out = fusion.fit_transform(known_blocks())

    def tensor_row(a, b):
        (a0, a1), (b0, b1) = a, b
        return [1, b0, b1, a0, a0 * b0, a0 * b1, a1, a1 * b0, a1 * b1]

    expected = np.array(
        [tensor_row(Z_A[i], Z_B[i]) for i in range(3)]
        + [tensor_row(Z_A[3], [0.0, 0.0]), tensor_row([0.0, 0.0], [0.0, 0.0])]
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert list(fusion.get_feature_names_out()) == [
        "1", "b0", "b1", "a0", "a0*b0", "a0*b1", "a1", "a1*b0", "a1*b1",
    ]  # fmt: skip


def test_standardisation_uses_present_training_rows_only():
    fusion = ProductFusion(n_components=2).fit(known_blocks())
    scaler = fusion.projections_["b"].scaler_
    np.testing.assert_allclose(scaler.mean_, [2.0, 6.0])
    np.testing.assert_allclose(scaler.scale_, [np.sqrt(2 / 3), np.sqrt(2)])


# --- projections -------------------------------------------------------------


def test_sparse_pca_is_truncated_svd_then_standardised():
    blocks = random_blocks()
    fusion = AverageFusion(n_components=3, random_state=0).fit(blocks)
    projection = fusion.projections_["note"]
    assert isinstance(projection.projector_, TruncatedSVD)
    present = blocks["note"][blocks.masks["note"]]
    svd = TruncatedSVD(3, random_state=projection.projector_.random_state)
    expected = StandardScaler().fit_transform(svd.fit_transform(present))
    np.testing.assert_allclose(
        projection.transform(present), expected, rtol=1e-6, atol=1e-8
    )


def test_pls_components_agree_in_sign_with_the_target():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 20)
    signal = (2 * y - 1)[:, None]
    blocks = ModalityBlocks(
        {
            "up": np.hstack([signal, rng.normal(size=(40, 4))]),
            "down": np.hstack([rng.normal(size=(40, 4)), -signal]),
        }
    )
    for name, other in [("up", "down"), ("down", "up")]:
        fusion = AverageFusion(1, projection="pls", weights={other: 0.0})
        out = fusion.fit_transform(blocks, y)
        assert isinstance(fusion.projections_[name].projector_, PLSRegression)
        assert np.corrcoef(out[:, 0], y)[0, 1] > 0.8


def test_random_projection_is_seeded():
    blocks = random_blocks()
    first = ProductFusion(3, projection="random", random_state=0).fit_transform(blocks)
    again = ProductFusion(3, projection="random", random_state=0).fit_transform(blocks)
    other = ProductFusion(3, projection="random", random_state=1).fit_transform(blocks)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


# --- narrow blocks and component counts ----------------------------------------


def narrow_blocks():
    blocks = known_blocks()
    return ModalityBlocks(
        {"a": blocks["a"], "b": blocks["b"][:, :1]}, masks=dict(blocks.masks)
    )


def test_narrow_block_is_zero_padded_for_average():
    fusion = AverageFusion(n_components=2)
    with pytest.warns(PolymodalWarning, match="Modality 'b' has 1 features.*zero"):
        fusion.fit(narrow_blocks())
    with pytest.warns(MissingModalityWarning):
        out = fusion.transform(narrow_blocks())
    np.testing.assert_allclose(out[:3, 0], (Z_A[:3, 0] + Z_B[:, 0]) / 2, atol=1e-12)
    np.testing.assert_allclose(out[:3, 1], Z_A[:3, 1] / 2, atol=1e-12)


def test_narrow_block_is_padded_with_ones_for_product():
    with (
        pytest.warns(MissingModalityWarning),
        pytest.warns(PolymodalWarning, match="Modality 'b'.*ones"),
    ):
        out = ProductFusion(
            n_components=2, main_effects=False, sign_alignment=None
        ).fit_transform(narrow_blocks())
    np.testing.assert_allclose(out[:3, 0], Z_A[:3, 0] * Z_B[:, 0], atol=1e-12)
    np.testing.assert_allclose(out[:3, 1], Z_A[:3, 1], atol=1e-12)


def test_narrow_block_is_padded_with_zeros_among_product_main_effects():
    with (
        pytest.warns(MissingModalityWarning),
        pytest.warns(PolymodalWarning, match="Modality 'b'.*ones"),
    ):
        out = ProductFusion(n_components=2, sign_alignment=None).fit_transform(
            narrow_blocks()
        )
    # Columns: a0, a1, b0, b's padding, then the two products.
    np.testing.assert_allclose(out[:4, :2], Z_A, atol=1e-12)
    np.testing.assert_allclose(out[:3, 2], Z_B[:, 0], atol=1e-12)
    np.testing.assert_allclose(out[:, 3], 0.0)
    np.testing.assert_allclose(out[:3, 4], Z_A[:3, 0] * Z_B[:, 0], atol=1e-12)
    np.testing.assert_allclose(out[:3, 5], Z_A[:3, 1], atol=1e-12)
    np.testing.assert_allclose(out[3:, 4:], 0.0)  # b absent, or nothing present


def test_narrow_block_keeps_its_width_in_the_tensor():
    fusion = TensorFusion(n_components=2)
    with (
        pytest.warns(MissingModalityWarning),
        pytest.warns(PolymodalWarning, match="Modality 'b'.*fewer components"),
    ):
        out = fusion.fit_transform(narrow_blocks())
    assert out.shape == (5, 3 * 2)
    assert list(fusion.get_feature_names_out()) == [
        "1", "b0", "a0", "a0*b0", "a1", "a1*b0",
    ]  # fmt: skip


@pytest.mark.parametrize("fusion_class", [AverageFusion, ProductFusion, TensorFusion])
def test_more_components_than_present_rows_is_an_error(fusion_class):
    rng = np.random.default_rng(0)
    blocks = ModalityBlocks(
        {"a": rng.normal(size=(6, 8)), "b": rng.normal(size=(6, 8))},
        masks={"b": [True, True, True, False, False, False]},
    )
    with pytest.raises(ValueError, match=r"n_components=4 .*3 present .*'b'"):
        fusion_class(n_components=4).fit(blocks)


def test_tensor_size_limit_names_size_and_modalities():
    blocks = ModalityBlocks({name: np.eye(6) for name in ("ct", "note", "dna")})
    with pytest.raises(ValueError, match=r"125 features.*'ct': 5.*'dna': 5"):
        TensorFusion(n_components=4, max_features=100).fit(blocks)
    assert TensorFusion(n_components=4, max_features=125).fit(blocks).transform(
        blocks
    ).shape == (6, 125)


# --- bad input ---------------------------------------------------------------

ALL_FUSIONS = [AverageFusion(2), ProductFusion(2), TensorFusion(2)]


@pytest.mark.parametrize("fusion", ALL_FUSIONS)
def test_nd_block_is_rejected(fusion):
    blocks = ModalityBlocks({"ct": np.zeros((4, 1, 2, 2)), "age": np.ones((4, 1))})
    with pytest.raises(ValueError, match="Modality 'ct' is 4-D.*embedder"):
        fusion.fit(blocks)


def test_mismatched_rows_are_rejected():
    with pytest.raises(ValueError, match="Modality 'b' has 3 rows"):
        ModalityBlocks({"a": np.ones((4, 2)), "b": np.ones((3, 2))})
    with pytest.raises(ValueError, match="5 rows but y has 4"):
        AverageFusion(2).fit(known_blocks(), [0, 1, 0, 1])


@pytest.mark.parametrize("fusion", ALL_FUSIONS)
def test_transform_with_other_width_names_the_modality(fusion):
    fusion.fit(known_blocks())
    wider = ModalityBlocks({"a": np.ones((2, 3)), "b": np.ones((2, 2))}, masks=None)
    with pytest.raises(ValueError, match="Modality 'a' has 3 features"):
        fusion.transform(wider)


@pytest.mark.parametrize("fusion", ALL_FUSIONS)
def test_nan_inside_a_present_row_is_an_error(fusion):
    blocks = known_blocks()
    b = blocks["b"].copy()
    b[1, 1] = np.nan
    with pytest.raises(ValueError, match="modality 'b', column 'x1', present rows"):
        fusion.fit(ModalityBlocks({"a": blocks["a"], "b": b}, dict(blocks.masks)))


def test_weights_for_unknown_modality_are_an_error():
    with pytest.raises(ValueError, match="zzz"):
        AverageFusion(2, weights={"zzz": 1.0}).fit(known_blocks())


def test_all_zero_weights_are_an_error():
    with pytest.raises(ValueError, match="positive weight"):
        AverageFusion(2, weights={"a": 0.0, "b": 0.0}).fit(known_blocks())


@pytest.mark.parametrize(
    "fusion",
    [AverageFusion(2, weights="learn"), ProductFusion(2, projection="pls")],
)
def test_options_that_need_y_say_so(fusion):
    blocks = ModalityBlocks({"a": np.eye(5)})
    with pytest.raises(ValueError, match="requires y to be passed"):
        fusion.fit(blocks)


def test_pls_on_a_single_class_is_an_error():
    with pytest.raises(ValueError, match="'a'.*only 1 class"):
        ProductFusion(2, projection="pls").fit(
            ModalityBlocks({"a": np.eye(5)}), np.ones(5)
        )


def test_modality_absent_in_every_training_row_is_an_error():
    blocks = ModalityBlocks(
        {"a": np.ones((3, 2)), "b": np.ones((3, 2))}, masks={"b": [False] * 3}
    )
    with pytest.raises(ValueError, match="Modality 'b' is absent in every"):
        ProductFusion(2).fit(blocks)


# --- learned weights ---------------------------------------------------------


def learnable_blocks():
    y = np.tile([0, 1], 10)
    signal = (y + 0.1 * np.arange(20) / 20)[:, None]
    noise_mask = np.arange(20) % 5 != 0
    return (
        ModalityBlocks(
            {"signal": signal, "noise": np.ones((20, 1))},
            masks={"noise": noise_mask},
        ),
        y,
    )


def test_learned_weights_follow_cross_validated_skill():
    blocks, y = learnable_blocks()
    fusion = AverageFusion(1, weights="learn", cv=4).fit(blocks, y)
    # signal ranks the classes perfectly (ROC AUC 1); a constant block gives
    # every row the same probability (0.5, chance).
    assert fusion.modality_scores_ == {"signal": 1.0, "noise": 0.5}
    assert fusion.weights_ == {"signal": 1.0, "noise": 0.0}
    out = fusion.transform(blocks)
    np.testing.assert_allclose(out, StandardScaler().fit_transform(blocks["signal"]))


def test_learned_weights_without_skill_are_equal():
    blocks = ModalityBlocks({"a": np.ones((12, 1)), "b": np.ones((12, 1))})
    with pytest.warns(PolymodalWarning, match="no modality scored above chance"):
        fusion = AverageFusion(1, weights="learn", cv=3).fit(blocks, np.tile([0, 1], 6))
    assert fusion.weights_ == {"a": 0.5, "b": 0.5}


class RecordingGroupKFold(GroupKFold):
    """GroupKFold that remembers the groups of every split call."""

    def __init__(self, n_splits=2):
        super().__init__(n_splits=n_splits)
        self.seen_groups = []

    def split(self, X, y=None, groups=None):
        self.seen_groups.append(None if groups is None else np.asarray(groups))
        return super().split(X, y, groups)


def test_inner_cv_receives_each_modalitys_groups():
    blocks, y = learnable_blocks()
    groups = np.arange(20) // 2
    cv = RecordingGroupKFold(2)
    AverageFusion(1, weights="learn", cv=cv).fit(blocks, y, groups=groups)
    signal_groups, noise_groups = cv.seen_groups
    np.testing.assert_array_equal(signal_groups, groups)
    np.testing.assert_array_equal(noise_groups, groups[blocks.masks["noise"]])
    with pytest.raises(ValueError, match="modality 'signal'.*'groups'"):
        AverageFusion(1, weights="learn", cv=GroupKFold(2)).fit(blocks, y)


# --- in a pipeline -----------------------------------------------------------


@pytest.fixture
def patients():
    words = ["cough", "fever", "weight loss", "chest pain", "fatigue", "nodule"]
    rng = np.random.default_rng(0)
    n = 24
    y = np.tile([0, 1], n // 2)
    notes = [
        f"{words[i % 6]} and {words[(i + 2 * y[i]) % 6]}" if i % 5 else None
        for i in range(n)
    ]
    frame = pd.DataFrame(
        {
            "note": notes,
            "age": 50 + 10 * y + rng.normal(size=n),
            "pack_years": rng.normal(20, 5, size=n),
        }
    )
    return frame, y, np.arange(n) // 2


def pipeline(fusion):
    return Pipeline(
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
            ("fusion", fusion),
            ("head", LogisticRegression()),
        ]
    )


def test_nested_params_are_searchable(patients):
    frame, y, _ = patients
    search = GridSearchCV(
        pipeline(AverageFusion(2, random_state=0)),
        {
            "fusion__n_components": [1, 2],
            "fusion__projection": ["pca", "random"],
            "head__C": [0.1, 1.0],
        },
        cv=3,
        error_score="raise",
    ).fit(frame, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    fusion = search.best_estimator_["fusion"]
    assert fusion.n_components == search.best_params_["fusion__n_components"]
    assert list(fusion.modality_names_in_) == ["note", "clinical"]


def test_fusion_method_is_searchable(patients):
    frame, y, _ = patients
    search = GridSearchCV(
        pipeline(AverageFusion(1)),
        {"fusion": [AverageFusion(1), ProductFusion(1), TensorFusion(1)]},
        cv=3,
        error_score="raise",
    ).fit(frame, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_["fusion"].n_features_in_ > 0


def test_groups_are_routed_to_learned_weights(patients):
    frame, y, groups = patients
    with sklearn.config_context(enable_metadata_routing=True):
        cv = RecordingGroupKFold(2)
        pipe = pipeline(
            AverageFusion(1, weights="learn", cv=cv).set_fit_request(groups=True)
        )
        pipe.fit(frame, y, groups=groups)
        note_mask = frame["note"].notna().to_numpy()
        np.testing.assert_array_equal(cv.seen_groups[0], groups[note_mask])
        np.testing.assert_array_equal(cv.seen_groups[1], groups)
        assert set(pipe["fusion"].weights_) == {"note", "clinical"}

        search = GridSearchCV(
            pipe, {"fusion__n_components": [1, 2]}, cv=GroupKFold(2)
        ).fit(frame, y, groups=groups)
        assert np.isfinite(search.cv_results_["mean_test_score"]).all()


# --- persistence, output formats ---------------------------------------------


@pytest.mark.parametrize(
    "fusion",
    [
        AverageFusion(3, weights="learn", cv=2, random_state=0),
        ProductFusion(3, projection="pls", random_state=0),
        TensorFusion(2, projection="random", random_state=0),
    ],
)
def test_joblib_round_trip_and_refit_are_identical(fusion):
    blocks = random_blocks()
    y = np.tile([0, 1], 15)
    out = fusion.fit(blocks, y).transform(blocks)
    buffer = io.BytesIO()
    joblib.dump(fusion, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).transform(blocks), out)
    np.testing.assert_array_equal(fusion.fit(blocks, y).transform(blocks), out)


def test_pandas_output_uses_feature_names():
    blocks = random_blocks(sparse_note=False)
    frame = AverageFusion(2).set_output(transform="pandas").fit_transform(blocks)
    assert list(frame.columns) == ["averagefusion0", "averagefusion1"]
    frame = TensorFusion(1).set_output(transform="pandas").fit_transform(blocks)
    assert list(frame.columns) == [
        "1", "clinical0", "note0", "note0*clinical0", "ct0", "ct0*clinical0",
        "ct0*note0", "ct0*note0*clinical0",
    ]  # fmt: skip
