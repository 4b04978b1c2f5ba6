"""Tests of SubspaceFusion: CCA, PLS, generalised CCA and whitened PCA."""

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.cross_decomposition import CCA, PLSCanonical
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning, PolymodalWarning
from polymodal.fusion import SubspaceFusion


def _views(n_samples=80, widths=(4, 3, 5), noise=0.3, seed=0):
    """Blocks that share one planted signal, each with its own loadings and noise."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=n_samples)
    blocks = {
        f"v{index}": np.outer(shared, rng.normal(size=width))
        + noise * rng.normal(size=(n_samples, width))
        for index, width in enumerate(widths)
    }
    return shared, blocks


def _absent(blocks, name, rows):
    """Copy of ``blocks`` where modality ``name`` is absent in ``rows``."""
    masks = {key: np.ones(len(block), dtype=bool) for key, block in blocks.items()}
    masks[name][rows] = False
    values = dict(blocks)
    values[name] = blocks[name].copy()
    values[name][rows] = np.nan
    return ModalityBlocks(values, masks=masks)


def _unit(scores):
    return scores / scores.std(axis=0, ddof=1)


def _match_signs(actual, expected):
    return actual * np.sign(np.sum(actual * expected, axis=0))


def _correlation(a, b):
    return abs(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize(("method", "model"), [("cca", CCA), ("pls", PLSCanonical)])
def test_two_blocks_match_sklearn_up_to_sign(method, model):
    _, views = _views(n_samples=40, widths=(4, 3))
    x, y = views["v0"], views["v1"]
    x_scores, y_scores = model(n_components=2).fit(x, y).transform(x, y)
    fusion = SubspaceFusion(2, method=method).fit(ModalityBlocks(views))
    assert fusion.method_ == method

    only_x = fusion.transform(_absent(views, "v1", slice(None)))
    only_y = fusion.transform(_absent(views, "v0", slice(None)))
    both = fusion.transform(ModalityBlocks(views))

    expected_x, expected_y = _unit(x_scores), _unit(y_scores)
    np.testing.assert_allclose(_match_signs(only_x, expected_x), expected_x, atol=1e-6)
    np.testing.assert_allclose(_match_signs(only_y, expected_y), expected_y, atol=1e-6)
    expected_both = (expected_x + expected_y) / 2
    np.testing.assert_allclose(
        _match_signs(both, expected_both), expected_both, atol=1e-6
    )


def test_gcca_without_ridge_spans_the_cca_subspace_on_two_complete_blocks():
    _, views = _views(n_samples=60, widths=(3, 4), noise=1.0)
    blocks = ModalityBlocks(views)
    gcca = SubspaceFusion(1, method="gcca", reg=0.0).fit_transform(blocks)
    cca = SubspaceFusion(1, method="cca", tol=1e-12).fit_transform(blocks)
    assert _correlation(gcca[:, 0], cca[:, 0]) > 1 - 1e-8


@pytest.mark.parametrize("method", ["cca", "gcca"])
def test_three_views_recover_the_planted_signal(method):
    shared, views = _views(n_samples=100, noise=0.5)
    fusion = SubspaceFusion(1, method=method).fit(ModalityBlocks(views))
    assert fusion.method_ == "gcca"
    embedding = fusion.transform(ModalityBlocks(views))
    assert _correlation(embedding[:, 0], shared) > 0.9
    # Unit variance of the shared coordinates, shrunk a little by the ridge.
    assert 0.7 < embedding[:, 0].std() < 1.0


def test_gcca_fits_on_rows_with_missing_views():
    shared, views = _views(n_samples=90, noise=0.5, seed=1)
    masks = {name: np.ones(90, dtype=bool) for name in views}
    masks["v0"][:20] = False
    masks["v1"][20:40] = False
    masks["v2"][40:55] = False
    for name, mask in masks.items():
        views[name][~mask] = np.nan
    blocks = ModalityBlocks(views, masks=masks)
    embedding = SubspaceFusion(1, method="gcca").fit_transform(blocks)
    assert _correlation(embedding[:, 0], shared) > 0.9
    for name, mask in masks.items():
        assert _correlation(embedding[~mask, 0], shared[~mask]) > 0.85, name


@pytest.mark.parametrize(
    ("method", "widths"), [("cca", (4, 3)), ("gcca", (4, 3, 5)), ("pls", (4, 3))]
)
def test_rows_missing_a_modality_embed_close_to_complete_rows(method, widths):
    _, views = _views(n_samples=80, widths=widths, noise=0.2, seed=2)
    fusion = SubspaceFusion(1, method=method).fit(ModalityBlocks(views))
    complete = fusion.transform(ModalityBlocks(views))[:, 0]
    for name in views:
        partial = fusion.transform(_absent(views, name, slice(None)))[:, 0]
        assert _correlation(partial, complete) > 0.95, name
        assert np.abs(partial - complete).mean() < 0.25 * np.abs(complete).mean()


def test_a_single_modality_is_whitened_pca():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 4)) @ rng.normal(size=(4, 4))
    fusion = SubspaceFusion(2, method="gcca").fit(x)
    assert fusion.method_ == "pca"
    expected = PCA(2, whiten=True).fit_transform(StandardScaler().fit_transform(x))
    embedding = fusion.transform(x)
    np.testing.assert_allclose(_match_signs(embedding, expected), expected, atol=1e-10)


def test_single_modality_with_absent_rows_fits_on_its_present_rows():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(12, 3))
    x[[2, 5]] = np.nan
    present = np.ones(12, dtype=bool)
    present[[2, 5]] = False
    blocks = ModalityBlocks({"note": x}, masks={"note": present})
    fusion = SubspaceFusion(2).fit(blocks)
    expected = SubspaceFusion(2).fit(x[present]).transform(x[present])
    with pytest.warns(MissingModalityWarning, match=r"Rows \[2, 5\]"):
        embedding = fusion.transform(blocks)
    np.testing.assert_allclose(embedding[present], expected)
    np.testing.assert_array_equal(embedding[~present], 0.0)


def test_row_with_no_modality_is_zero_with_a_warning():
    _, views = _views(n_samples=20, widths=(3, 2))
    views["v0"][7] = np.nan
    views["v1"][7] = np.nan
    masks = {name: np.arange(20) != 7 for name in views}
    blocks = ModalityBlocks(views, masks=masks)
    fusion = SubspaceFusion(2).fit(blocks)
    with pytest.warns(MissingModalityWarning, match=r"Rows \[7\] have no modality"):
        embedding = fusion.transform(blocks)
    np.testing.assert_array_equal(embedding[7], 0.0)
    assert np.all(np.abs(embedding[np.arange(20) != 7]).sum(axis=1) > 0)


def test_block_narrower_than_n_components_is_zero_padded_with_a_warning():
    _, views = _views(n_samples=30, widths=(4, 1))
    with pytest.warns(
        PolymodalWarning, match="Modality 'v1' has 1 feature, fewer than n_components=3"
    ):
        fusion = SubspaceFusion(3).fit(ModalityBlocks(views))
    embedding = fusion.transform(ModalityBlocks(views))
    assert embedding.shape == (30, 3)
    np.testing.assert_array_equal(embedding[:, 1:], 0.0)
    assert np.all(embedding[:, 0] != 0)
    assert list(fusion.get_feature_names_out()) == [
        "subspacefusion0",
        "subspacefusion1",
        "subspacefusion2",
    ]


def test_gcca_pads_beyond_the_total_width_of_the_blocks():
    _, views = _views(n_samples=30, widths=(1, 1, 1))
    with pytest.warns(
        PolymodalWarning,
        match=r"The modalities \['v0', 'v1', 'v2'\] have 3 features together",
    ):
        embedding = SubspaceFusion(4).fit_transform(ModalityBlocks(views))
    assert embedding.shape == (30, 4)
    np.testing.assert_array_equal(embedding[:, 3], 0.0)
    assert np.all(np.abs(embedding[:, :3]).sum(axis=0) > 0)


def test_cca_needs_enough_complete_rows():
    _, views = _views(n_samples=10, widths=(3, 3))
    blocks = _absent(views, "v1", np.arange(8))
    with pytest.raises(
        ValueError,
        match=r"modalities \['v0', 'v1'\] are all present; n_components=2 needs "
        r"at least 3 such samples, got 2 samples",
    ):
        SubspaceFusion(2).fit(blocks)
    # Generalised CCA uses the rows with any modality.
    assert SubspaceFusion(2, method="gcca").fit(blocks).method_ == "gcca"


def test_more_components_than_rows_is_an_error():
    with pytest.raises(ValueError, match="needs at least 6 such samples, got 5"):
        SubspaceFusion(5).fit(np.random.default_rng(0).normal(size=(5, 8)))


def test_pls_takes_exactly_two_modalities():
    _, views = _views(n_samples=20)
    with pytest.raises(ValueError, match=r"method='pls'.*got 3: \['v0', 'v1', 'v2'\]"):
        SubspaceFusion(1, method="pls").fit(ModalityBlocks(views))


def test_sparse_block_gives_the_dense_result():
    _, views = _views(n_samples=20, widths=(3, 3))
    dense = SubspaceFusion(1).fit_transform(ModalityBlocks(views))
    views["v1"] = sparse.csr_matrix(views["v1"])
    np.testing.assert_allclose(
        SubspaceFusion(1).fit_transform(ModalityBlocks(views)), dense
    )


def test_nd_block_is_rejected_naming_it():
    rng = np.random.default_rng(0)
    blocks = ModalityBlocks(
        {"ct": rng.normal(size=(6, 1, 2, 2)), "age": rng.normal(size=(6, 1))}
    )
    with pytest.raises(ValueError, match="Modality 'ct' is 4-D"):
        SubspaceFusion(1).fit(blocks)


def test_modality_absent_in_every_training_row_is_an_error():
    _, views = _views(n_samples=10, widths=(2, 2))
    blocks = _absent(views, "v1", slice(None))
    with pytest.raises(ValueError, match="Modality 'v1' is absent in every training"):
        SubspaceFusion(1).fit(blocks)


def test_nan_in_a_present_row_names_modality_column_and_row():
    _, views = _views(n_samples=10, widths=(2, 2))
    views["v0"][4, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"modality 'v0', column 'x1', present rows \[4\]"
    ):
        SubspaceFusion(1).fit(ModalityBlocks(views))


def test_transform_rejects_other_modalities():
    _, views = _views(n_samples=20)
    fusion = SubspaceFusion(1).fit(ModalityBlocks(views))
    with pytest.raises(ValueError, match=r"missing: \['v2'\]"):
        fusion.transform(ModalityBlocks({"v0": views["v0"], "v1": views["v1"]}))


def test_fit_transform_equals_fit_then_transform_and_is_deterministic():
    _, views = _views(n_samples=40, noise=0.5)
    blocks = _absent(views, "v2", np.arange(0, 40, 4))
    first = SubspaceFusion(2, method="gcca").fit_transform(blocks)
    second = SubspaceFusion(2, method="gcca").fit(blocks).transform(blocks)
    np.testing.assert_array_equal(first, second)


def test_joblib_round_trip(tmp_path):
    _, views = _views(n_samples=30, widths=(3, 2))
    blocks = _absent(views, "v1", [0, 3])
    fusion = SubspaceFusion(2).fit(blocks)
    joblib.dump(fusion, tmp_path / "fusion.joblib")
    loaded = joblib.load(tmp_path / "fusion.joblib")
    np.testing.assert_array_equal(loaded.transform(blocks), fusion.transform(blocks))


def test_pandas_output_names_the_components():
    _, views = _views(n_samples=20, widths=(3, 2))
    fusion = SubspaceFusion(2).set_output(transform="pandas")
    frame = fusion.fit_transform(ModalityBlocks(views))
    assert list(frame.columns) == ["subspacefusion0", "subspacefusion1"]


def test_nested_params_searchable_in_a_pipeline():
    shared, views = _views(n_samples=60, widths=(2, 2), noise=0.3, seed=5)
    frame = pd.DataFrame(np.hstack([views["v0"], views["v1"]]), columns=list("abcd"))
    frame.loc[::5, ["c", "d"]] = np.nan
    y = (shared > 0).astype(int)
    pipe = Pipeline(
        [
            (
                "union",
                MultimodalUnion(
                    [
                        ("lab", StandardScaler(), ["a", "b"]),
                        ("omics", StandardScaler(), ["c", "d"]),
                    ]
                ),
            ),
            ("fusion", SubspaceFusion()),
            ("head", LogisticRegression()),
        ]
    )
    search = GridSearchCV(
        pipe,
        {"fusion__n_components": [1, 2], "fusion__method": ["cca", "gcca"]},
        cv=3,
    ).fit(frame, y)
    assert set(search.best_params_) == {"fusion__n_components", "fusion__method"}
    assert search.best_score_ > 0.8


def _dense_maxvar_projections(fusion, blocks):
    """The maps of MAXVAR generalised CCA from its n x n eigenproblem.

    The reference the low-rank computation must reproduce: every hat matrix
    placed among the fit rows, scaled by the counts of modalities per row, and
    the top eigenvectors of the sum; the sign rule makes each column's entry of
    largest magnitude positive.
    """
    from scipy import linalg

    names = list(blocks.names)
    masks = np.column_stack([blocks.masks[name] for name in names])
    fit_rows = masks.any(axis=1)
    n_rows = int(fit_rows.sum())
    combined, counts, ridges = np.zeros((n_rows, n_rows)), np.zeros(n_rows), {}
    for name in names:
        present = blocks.masks[name][fit_rows]
        values = blocks[name][fit_rows & blocks.masks[name]]
        design = (values - fusion.means_[name]) / fusion.scales_[name]
        left, singular, right = linalg.svd(design, full_matrices=False)
        keep = singular > singular.max() * max(design.shape) * np.finfo(float).eps
        left, singular, right = left[:, keep], singular[keep], right[keep]
        alpha = fusion.reg * int(present.sum())
        rows = np.flatnonzero(present)
        combined[np.ix_(rows, rows)] += (
            left * (singular**2 / (singular**2 + alpha))
        ) @ left.T
        counts[rows] += 1
        ridges[name] = (present, left, singular / (singular**2 + alpha), right)
    inverse_sqrt = 1.0 / np.sqrt(counts)
    combined *= np.outer(inverse_sqrt, inverse_sqrt)
    k = fusion.n_components
    _, vectors = linalg.eigh(combined, subset_by_index=[n_rows - k, n_rows - 1])
    shared = vectors[:, ::-1] * inverse_sqrt[:, None] * np.sqrt(counts.sum())
    shared *= np.sign(shared[np.argmax(np.abs(shared), axis=0), np.arange(k)])
    return {
        name: right.T @ (gain[:, None] * (left.T @ shared[present]))
        for name, (present, left, gain, right) in ridges.items()
    }


@pytest.mark.parametrize(
    ("widths", "n_components", "reg", "absent"),
    [
        ((4, 3, 5), 3, 0.1, False),
        ((4, 3, 5), 4, 0.1, True),
        ((6, 40, 3, 5), 5, 0.01, True),
        ((4, 3, 5), 2, 0.0, True),
        ((30, 90, 5), 3, 1.0, True),
    ],
)
def test_gcca_equals_the_dense_eigenproblem(widths, n_components, reg, absent):
    _, values = _views(n_samples=70, widths=widths, noise=1.0, seed=4)
    if absent:
        rng = np.random.default_rng(5)
        present = rng.random((70, len(widths))) >= 0.3
        present[~present.any(axis=1), 0] = True
        masks = {name: present[:, i] for i, name in enumerate(values)}
        values = {
            name: np.where(masks[name][:, None], block, np.nan)
            for name, block in values.items()
        }
        blocks = ModalityBlocks(values, masks=masks)
    else:
        blocks = ModalityBlocks(values)
    fusion = SubspaceFusion(n_components, method="gcca", reg=reg).fit(blocks)
    expected = _dense_maxvar_projections(fusion, blocks)
    for name, projection in fusion.projections_.items():
        np.testing.assert_allclose(projection, expected[name], rtol=0, atol=1e-8)
