"""Tests of KernelFusion: the fused kernel, its weights and absent modalities."""

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.metrics.pairwise import cosine_similarity, laplacian_kernel, rbf_kernel
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import get_tags

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning, PolymodalWarning
from polymodal.fusion import KernelFusion


def _hand_blocks():
    """Three rows: 'a' is absent in row 2, 'b' in row 1."""
    return ModalityBlocks(
        {
            "a": np.array([[1.0], [2.0], [np.nan]]),
            "b": np.array([[1.0], [np.nan], [3.0]]),
        },
        masks={"a": [True, True, False], "b": [True, False, True]},
    )


def _random_blocks(n_samples=30, seed=0, absent_rate=0.3):
    rng = np.random.default_rng(seed)
    values = {
        "a": rng.normal(size=(n_samples, 3)),
        "b": rng.normal(size=(n_samples, 2)),
        "c": rng.normal(size=(n_samples, 4)),
    }
    masks = {name: rng.random(n_samples) > absent_rate for name in values}
    masks["a"][~(masks["b"] | masks["c"])] = True
    for name, mask in masks.items():
        values[name][~mask] = np.nan
    return ModalityBlocks(values, masks=masks)


def test_hand_computed_kernel_excludes_absent_pairs_and_renormalises():
    # Linear kernels, weights a: 1, b: 3 (normalised 1/4, 3/4):
    # W = (1, 1/4, 3/4); K_ij = sum_m w_m p_im p_jm a_i a_j / sqrt(W_i W_j).
    fusion = KernelFusion("linear", weights={"a": 1.0, "b": 3.0})
    kernel = fusion.fit_transform(_hand_blocks())
    expected = np.array(
        [
            [1.0, (0.25 * 2) / np.sqrt(0.25), (0.75 * 3) / np.sqrt(0.75)],
            [(0.25 * 2) / np.sqrt(0.25), 4.0, 0.0],
            [(0.75 * 3) / np.sqrt(0.75), 0.0, 9.0],
        ]
    )
    np.testing.assert_allclose(kernel, expected)
    np.testing.assert_allclose(kernel[0, 2], 9 / np.sqrt(12))
    assert fusion.weights_ == {"a": 0.25, "b": 0.75}
    np.testing.assert_allclose(fusion.fit_row_weights_, [1.0, 0.25, 0.75])

    # A new row with only b = 2: W = 3/4, compared with the training rows on b.
    new = ModalityBlocks(
        {"a": np.array([[np.nan]]), "b": np.array([[2.0]])}, masks={"a": [False]}
    )
    np.testing.assert_allclose(fusion.transform(new), [[np.sqrt(3), 0.0, 6.0]])


def test_weights_one_zero_give_the_single_modality_svc():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 3))
    y = (a[:, 0] + 0.3 * rng.normal(size=60) > 0).astype(int)
    b = rng.normal(size=(60, 2))
    b[::4] = np.nan
    blocks = ModalityBlocks({"a": a, "b": b}, masks={"b": np.arange(60) % 4 != 0})
    train, test = np.arange(40), np.arange(40, 60)

    fusion = KernelFusion(weights={"a": 1.0, "b": 0.0})
    fused_train = fusion.fit_transform(blocks[train])
    fused_test = fusion.transform(blocks[test])
    own_train = rbf_kernel(a[train], gamma=1 / 3)
    own_test = rbf_kernel(a[test], a[train], gamma=1 / 3)
    np.testing.assert_array_equal(fused_train, own_train)
    np.testing.assert_array_equal(fused_test, own_test)

    fused_svc = SVC(kernel="precomputed").fit(fused_train, y[train])
    own_svc = SVC(kernel="precomputed").fit(own_train, y[train])
    np.testing.assert_array_equal(
        fused_svc.predict(fused_test), own_svc.predict(own_test)
    )
    np.testing.assert_allclose(
        fused_svc.decision_function(fused_test), own_svc.decision_function(own_test)
    )


@pytest.mark.parametrize("kernels", ["rbf", "linear", "cosine"])
def test_fused_training_kernel_is_positive_semidefinite_with_absent_rows(kernels):
    blocks = _random_blocks(n_samples=40, absent_rate=0.4)
    kernel = KernelFusion(kernels, weights={"a": 0.5, "b": 2.0}).fit_transform(blocks)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-12)
    assert np.linalg.eigvalsh(kernel).min() >= -1e-10


def test_rbf_diagonal_is_one_whatever_modalities_a_row_has():
    kernel = KernelFusion().fit_transform(_random_blocks(absent_rate=0.5))
    np.testing.assert_allclose(np.diag(kernel), 1.0)


def test_default_gamma_is_one_over_n_features_per_block():
    blocks = _random_blocks(n_samples=10, absent_rate=0.0)
    fusion = KernelFusion(gamma={"b": 0.7}).fit(blocks)
    assert fusion.gammas_ == {"a": 1 / 3, "b": 0.7, "c": 1 / 4}
    expected = (
        rbf_kernel(blocks["a"], gamma=1 / 3)
        + rbf_kernel(blocks["b"], gamma=0.7)
        + rbf_kernel(blocks["c"], gamma=1 / 4)
    ) / 3
    np.testing.assert_allclose(fusion.transform(blocks), expected)


def test_kernels_per_modality_including_a_callable():
    blocks = _random_blocks(n_samples=12, absent_rate=0.0)
    fusion = KernelFusion(
        {"a": "cosine", "b": laplacian_kernel}, gamma=0.5, weights={"c": 2.0}
    ).fit(blocks)
    assert fusion.kernels_ == {"a": "cosine", "b": laplacian_kernel, "c": "rbf"}
    expected = (
        cosine_similarity(blocks["a"])
        + laplacian_kernel(blocks["b"])
        + 2 * rbf_kernel(blocks["c"], gamma=0.5)
    ) / 4
    np.testing.assert_allclose(fusion.transform(blocks), expected)


@pytest.mark.parametrize("kernels", ["rbf", "linear", "cosine"])
def test_sparse_blocks_give_the_dense_result(kernels):
    blocks = _random_blocks(n_samples=15)
    dense = KernelFusion(kernels).fit_transform(blocks)
    sparse_blocks = ModalityBlocks(
        {
            name: sparse.csr_matrix(np.nan_to_num(block))
            for name, block in blocks.items()
        },
        masks=dict(blocks.masks),
    )
    np.testing.assert_allclose(
        KernelFusion(kernels).fit_transform(sparse_blocks), dense
    )


def test_align_prefers_the_informative_modality():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=80)
    informative = y[:, None] + 0.5 * rng.normal(size=(80, 3))
    noise = rng.normal(size=(80, 3))
    informative[:10] = np.nan
    blocks = ModalityBlocks(
        {"signal": informative, "noise": noise}, masks={"signal": np.arange(80) >= 10}
    )
    fusion = KernelFusion("linear", weights="align").fit(blocks, y)
    assert fusion.alignments_["signal"] > 0.3
    assert abs(fusion.alignments_["noise"]) < 0.1
    assert fusion.weights_["signal"] > 0.9
    np.testing.assert_allclose(sum(fusion.weights_.values()), 1.0)


def test_align_matches_hand_computed_centred_alignment():
    x = np.array([[0.0], [1.0], [3.0]])
    # Linear kernel x x^T and a numeric target's kernel y y^T: the centred
    # alignment is the squared correlation of x and y.
    y = np.array([0.0, 1.0, 2.5])
    fusion = KernelFusion("linear", weights="align").fit(x, y)
    np.testing.assert_allclose(
        fusion.alignments_["x"], np.corrcoef(x[:, 0], y)[0, 1] ** 2
    )
    # Three classes of one row each: one-hot Y Y^T = I, centred H, so the
    # alignment is trace(K^c) / (||K^c|| ||H||) = 1 / sqrt(2) for rank-1 K.
    fusion = KernelFusion("linear", weights="align").fit(x, ["a", "b", "c"])
    np.testing.assert_allclose(fusion.alignments_["x"], 1 / np.sqrt(2))


def test_align_falls_back_to_equal_weights_with_a_warning():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # Labels uncorrelated with the only modality: alignment 0.
    y = np.array([0, 0, 1, 1])
    with pytest.warns(PolymodalWarning, match="falls back to equal weights"):
        fusion = KernelFusion("linear", weights="align").fit(x, y)
    assert fusion.weights_ == {"x": 1.0}


def test_row_without_a_weighted_modality_is_zero_with_a_warning():
    fusion = KernelFusion("linear", weights={"a": 1.0, "b": 0.0})
    with pytest.warns(MissingModalityWarning, match=r"Rows \[2\] have no modality"):
        kernel = fusion.fit_transform(_hand_blocks())
    np.testing.assert_array_equal(kernel[2], 0.0)
    np.testing.assert_array_equal(kernel[:, 2], 0.0)
    np.testing.assert_array_equal(kernel[:2, :2], [[1.0, 2.0], [2.0, 4.0]])


def test_pairwise_tag_is_false_so_cv_splits_rows_only():
    assert get_tags(KernelFusion()).input_tags.pairwise is False
    assert get_tags(SVC(kernel="precomputed")).input_tags.pairwise is True


def test_grid_search_over_nested_params_with_a_precomputed_svc():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=60)
    frame = pd.DataFrame(
        {
            "age": y + 0.4 * rng.normal(size=60),
            "bmi": rng.normal(size=60),
            "gene1": rng.normal(size=60),
            "gene2": rng.normal(size=60),
        }
    )
    frame.loc[::3, ["gene1", "gene2"]] = np.nan
    pipe = Pipeline(
        [
            (
                "union",
                MultimodalUnion(
                    [
                        ("clinical", StandardScaler(), ["age", "bmi"]),
                        ("omics", StandardScaler(), ["gene1", "gene2"]),
                    ]
                ),
            ),
            ("fusion", KernelFusion()),
            ("head", SVC(kernel="precomputed")),
        ]
    )
    search = GridSearchCV(
        pipe,
        {
            "fusion__weights": [None, {"clinical": 1.0, "omics": 0.0}, "align"],
            "fusion__kernels": ["rbf", "linear"],
            "head__C": [1.0],
        },
        cv=3,
    ).fit(frame, y)
    assert search.best_params_["fusion__weights"] in (
        "align",
        {"clinical": 1.0, "omics": 0.0},
    )
    assert search.best_score_ > 0.8
    assert search.predict(frame.iloc[:5]).shape == (5,)


def test_joblib_round_trip_and_repeatable_fit(tmp_path):
    blocks = _random_blocks(n_samples=20)
    fusion = KernelFusion(weights={"a": 2.0}).fit(blocks)
    joblib.dump(fusion, tmp_path / "fusion.joblib")
    loaded = joblib.load(tmp_path / "fusion.joblib")
    np.testing.assert_array_equal(loaded.transform(blocks), fusion.transform(blocks))
    refit = KernelFusion(weights={"a": 2.0}).fit(blocks)
    np.testing.assert_array_equal(refit.transform(blocks), fusion.transform(blocks))


def test_fit_transform_matches_fit_then_transform():
    blocks = _random_blocks(n_samples=25)
    y = np.arange(25) % 3
    for weights in (None, "align"):
        fused = KernelFusion(weights=weights).fit_transform(blocks, y)
        refit = KernelFusion(weights=weights).fit(blocks, y).transform(blocks)
        np.testing.assert_allclose(fused, refit, atol=1e-12)


def test_pandas_output_names_one_column_per_training_row():
    frame = KernelFusion().set_output(transform="pandas").fit_transform(np.eye(3))
    assert list(frame.columns) == ["kernelfusion0", "kernelfusion1", "kernelfusion2"]


def test_refit_without_align_drops_the_alignments():
    x, y = np.array([[0.0], [1.0], [3.0]]), np.array([0, 1, 1])
    fusion = KernelFusion(weights="align").fit(x, y)
    fusion.set_params(weights=None).fit(x)
    assert not hasattr(fusion, "alignments_")


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (
            {"kernels": "poly"},
            ValueError,
            r"(?=.*'cosine')(?=.*'linear')(?=.*'rbf')'kernels' parameter.*Got 'poly'",
        ),
        (
            {"kernels": {"a": "poly"}},
            ValueError,
            r"Unknown kernel 'poly' for modality 'a'; use one of \['cosine', 'linear', 'rbf'\]",
        ),
        ({"kernels": {"ct": "rbf"}}, ValueError, r"kernels names modalities \['ct'\]"),
        ({"weights": {"ct": 1.0}}, ValueError, r"weights names modalities \['ct'\]"),
        ({"weights": {"a": -1.0}}, ValueError, "modality 'a' must be a finite number"),
        ({"weights": {"a": 0, "b": 0, "c": 0}}, ValueError, "weight of 0"),
        ({"weights": "learn"}, ValueError, "'weights' parameter"),
        ({"weights": "align"}, ValueError, "pass y to fit"),
        ({"gamma": {"ct": 1.0}}, ValueError, r"gamma names modalities \['ct'\]"),
        (
            {"gamma": {"a": 0.0}},
            ValueError,
            "gamma of modality 'a' must be a number > 0",
        ),
        ({"gamma": -1.0}, ValueError, "'gamma' parameter"),
        (
            {"kernels": {"b": lambda a, b: np.ones((2, 2))}},
            ValueError,
            r"kernel callable of modality 'b' returned shape \(2, 2\)",
        ),
    ],
)
def test_bad_parameters_are_errors_naming_the_problem(params, error, match):
    with pytest.raises(error, match=match):
        KernelFusion(**params).fit_transform(_random_blocks(n_samples=10))


def test_bad_blocks_are_errors_naming_the_modality():
    rng = np.random.default_rng(0)
    images = ModalityBlocks(
        {"ct": rng.normal(size=(4, 1, 2, 2)), "age": np.ones((4, 1))}
    )
    with pytest.raises(ValueError, match="Modality 'ct' is 4-D"):
        KernelFusion().fit(images)
    never = ModalityBlocks(
        {"a": np.ones((3, 1)), "b": np.full((3, 1), np.nan)}, masks={"b": [False] * 3}
    )
    with pytest.raises(
        ValueError, match="Modality 'b' is absent in every training row"
    ):
        KernelFusion().fit(never)
    holes = ModalityBlocks({"a": np.array([[1.0], [np.nan]]), "b": np.ones((2, 1))})
    with pytest.raises(
        ValueError, match=r"modality 'a', column 'x0', present rows \[1\]"
    ):
        KernelFusion().fit(holes)
    fitted = KernelFusion().fit(_random_blocks(n_samples=10))
    with pytest.raises(ValueError, match="Modality 'b' has 5 features"):
        fitted.transform(
            ModalityBlocks(
                {"a": np.ones((2, 3)), "b": np.ones((2, 5)), "c": np.ones((2, 4))}
            )
        )
