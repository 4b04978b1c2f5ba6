"""Tests of FactorizationFusion: the masked low-rank model of all modalities."""

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from polymodal import ModalityBlocks, MultimodalUnion
from polymodal.exceptions import MissingModalityWarning
from polymodal.fusion import FactorizationFusion


def planted_blocks(seed=0, n_samples=300, widths=(10, 15, 20), rank=3, missing=0.3):
    """Blocks of a rank-``rank`` matrix plus small noise, with whole blocks absent.

    Each (row, modality) is absent with probability ``missing``, never all of
    a row. Returns the blocks and the complete matrices they were cut from.
    """
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_samples, rank))
    present = rng.random((n_samples, len(widths))) >= missing
    empty = ~present.any(axis=1)
    present[empty, rng.integers(len(widths), size=empty.sum())] = True
    complete, blocks, masks = {}, {}, {}
    for index, width in enumerate(widths):
        name = f"m{index}"
        loadings = rng.normal(size=(rank, width))
        offsets = rng.normal(size=width)
        complete[name] = (
            offsets + factors @ loadings + 0.01 * rng.normal(size=(n_samples, width))
        )
        masks[name] = present[:, index]
        blocks[name] = np.where(masks[name][:, None], complete[name], np.nan)
    return ModalityBlocks(blocks, masks=masks), complete


def small_blocks():
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(12, 2))
    clinical = factors @ rng.normal(size=(2, 3)) + 5.0
    note = factors @ rng.normal(size=(2, 4))
    note_mask = np.ones(12, dtype=bool)
    note_mask[[2, 7]] = False
    note[~note_mask] = np.nan
    return ModalityBlocks(
        {"clinical": clinical, "note": note}, masks={"note": note_mask}
    )


def relative_error_on_absent(blocks, completed, truth):
    error = truth_norm = 0.0
    for name in blocks.names:
        absent = ~blocks.masks[name]
        error += np.sum((completed[name][absent] - truth[name][absent]) ** 2)
        truth_norm += np.sum(truth[name][absent] ** 2)
    return np.sqrt(error / truth_norm)


def test_complete_recovers_planted_rank_3_matrix_with_absent_blocks():
    blocks, truth = planted_blocks()
    absent_share = np.mean([~blocks.masks[name] for name in blocks.names])
    assert 0.25 < absent_share < 0.35

    fusion = FactorizationFusion(n_factors=3, alpha=0.1, random_state=0).fit(blocks)
    completed = fusion.complete(blocks)

    assert relative_error_on_absent(blocks, completed, truth) < 0.1
    # Filling with the column means, what ignoring the other modalities gives,
    # is far off: the low-rank structure carries the recovery.
    means = ModalityBlocks(
        {
            name: np.where(
                blocks.masks[name][:, None],
                blocks[name],
                np.nanmean(blocks[name], axis=0),
            )
            for name in blocks.names
        }
    )
    assert relative_error_on_absent(blocks, means, truth) > 0.5


def test_complete_keeps_present_values_and_marks_everything_present():
    blocks = small_blocks()
    fusion = FactorizationFusion(n_factors=2, alpha=0.1, random_state=0).fit(blocks)
    completed = fusion.complete(blocks)
    assert completed.names == blocks.names
    for name in blocks.names:
        mask = blocks.masks[name]
        assert completed.masks[name].all()
        assert_array_equal(completed[name][mask], blocks[name][mask])
        assert np.isfinite(completed[name]).all()
        assert_array_equal(completed.feature_names[name], blocks.feature_names[name])


def test_transform_is_the_ridge_solution_over_present_blocks():
    blocks = small_blocks()
    alpha = 0.5
    fusion = FactorizationFusion(n_factors=2, alpha=alpha, random_state=0).fit(blocks)
    columns = {"clinical": slice(0, 3), "note": slice(3, 7)}

    expected = []
    for row in range(len(blocks)):
        gram = alpha * np.eye(2)
        rhs = np.zeros(2)
        for name, cols in columns.items():
            if not blocks.masks[name][row]:
                continue
            weight = 1 / np.sqrt(cols.stop - cols.start)
            z = (
                (blocks[name][row] - fusion.intercept_[cols])
                / fusion.scale_[cols]
                * weight
            )
            loadings = fusion.components_[:, cols].T
            gram += loadings.T @ loadings
            rhs += loadings.T @ z
        expected.append(np.linalg.solve(gram, rhs))

    assert_allclose(fusion.transform(blocks), expected, rtol=1e-10, atol=1e-12)
    assert fusion.block_weights_ == pytest.approx(
        {"clinical": 1 / np.sqrt(3), "note": 1 / np.sqrt(4)}
    )


def test_fit_transform_equals_fit_then_transform_exactly():
    blocks = small_blocks()
    fused = FactorizationFusion(n_factors=2, random_state=3).fit_transform(blocks)
    refitted = FactorizationFusion(n_factors=2, random_state=3).fit(blocks)
    assert_array_equal(fused, refitted.transform(blocks))
    assert fused.shape == (12, 2)


def test_rows_are_inferred_independently():
    blocks = small_blocks()
    fusion = FactorizationFusion(n_factors=2, random_state=0).fit(blocks)
    rows = [7, 0, 2, 11]
    assert_allclose(
        fusion.transform(blocks[rows]), fusion.transform(blocks)[rows], rtol=1e-12
    )


def test_row_without_any_modality_gets_zero_factors_and_mean_completion():
    blocks = small_blocks()
    fusion = FactorizationFusion(n_factors=2, random_state=0).fit(blocks)
    masks = {name: blocks.masks[name].copy() for name in blocks.names}
    masks["clinical"][2] = False  # row 2 already lacks the note
    values = {name: blocks[name].copy() for name in blocks.names}
    values["clinical"][2] = np.nan
    nothing_present = ModalityBlocks(values, masks=masks)

    with pytest.warns(MissingModalityWarning, match=r"Rows \[2\] have no modality"):
        fused = fusion.transform(nothing_present)
    assert_array_equal(fused[2], [0.0, 0.0])
    assert_allclose(fused[[0, 1]], fusion.transform(blocks)[[0, 1]])

    with pytest.warns(MissingModalityWarning, match=r"Rows \[2\]"):
        completed = fusion.complete(nothing_present)
    assert_allclose(completed["clinical"][2], fusion.intercept_[:3])
    assert_allclose(completed["note"][2], fusion.intercept_[3:])


def test_same_random_state_gives_identical_fits():
    blocks, _ = planted_blocks(n_samples=60)
    first = FactorizationFusion(n_factors=3, random_state=7).fit(blocks)
    second = FactorizationFusion(n_factors=3, random_state=7).fit(blocks)
    assert_array_equal(first.components_, second.components_)
    assert_array_equal(first.transform(blocks), second.transform(blocks))
    assert first.n_iter_ == second.n_iter_


def test_sparse_block_gives_the_dense_result():
    blocks = small_blocks()
    sparse_note = sparse.csr_matrix(np.nan_to_num(blocks["note"], nan=0.0))
    sparse_blocks = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": sparse_note},
        masks={"note": blocks.masks["note"]},
    )
    dense_fit = FactorizationFusion(n_factors=2, random_state=0).fit(blocks)
    sparse_fit = FactorizationFusion(n_factors=2, random_state=0).fit(sparse_blocks)
    assert_allclose(sparse_fit.transform(sparse_blocks), dense_fit.transform(blocks))
    completed = sparse_fit.complete(sparse_blocks)
    assert isinstance(completed["note"], np.ndarray)
    assert_allclose(completed["note"], dense_fit.complete(blocks)["note"])


def test_not_converging_warns():
    blocks, _ = planted_blocks(n_samples=60)
    fusion = FactorizationFusion(n_factors=3, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=1 "):
        fusion.fit(blocks)
    assert fusion.n_iter_ == 1


def test_converged_fit_stops_before_max_iter_without_warning():
    blocks, _ = planted_blocks(n_samples=60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fusion = FactorizationFusion(n_factors=3, max_iter=500, random_state=0)
        fusion.fit(blocks)
    assert fusion.n_iter_ < 500


@pytest.mark.parametrize(
    ("n_factors", "n_samples", "limit"),
    [(8, 5, "= 5 \\(n_samples = 5"), (8, 12, "= 7 \\(n_samples = 12, n_features = 7")],
)
def test_too_many_factors_is_an_error(n_factors, n_samples, limit):
    blocks = small_blocks()[:n_samples]
    with pytest.raises(
        ValueError, match=f"n_factors={n_factors} must be at most.*{limit}"
    ):
        FactorizationFusion(n_factors=n_factors).fit(blocks)


def test_n_dimensional_block_is_an_error():
    blocks = ModalityBlocks({"ct": np.zeros((4, 1, 3, 3)), "clinical": np.ones((4, 2))})
    with pytest.raises(ValueError, match="Modality 'ct' is 4-D.*embedder"):
        FactorizationFusion(n_factors=1).fit(blocks)


def test_nan_inside_a_present_row_is_an_error():
    blocks = small_blocks()
    note = blocks["note"].copy()
    note[4, 1] = np.nan
    bad = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": note},
        masks={"note": blocks.masks["note"]},
    )
    with pytest.raises(ValueError, match=r"modality 'note', column 'x1'.*\[4\]"):
        FactorizationFusion(n_factors=2).fit(bad)
    fusion = FactorizationFusion(n_factors=2, random_state=0).fit(blocks)
    with pytest.raises(ValueError, match="modality 'note'"):
        fusion.transform(bad)


def test_modality_absent_in_every_training_row_is_an_error():
    blocks = small_blocks()
    absent = ModalityBlocks(
        {"clinical": blocks["clinical"], "note": np.full((12, 4), np.nan)},
        masks={"note": np.zeros(12, dtype=bool)},
    )
    with pytest.raises(ValueError, match="Modality 'note' is absent in every"):
        FactorizationFusion(n_factors=2).fit(absent)


def test_other_modalities_at_transform_is_an_error():
    blocks = small_blocks()
    fusion = FactorizationFusion(n_factors=2, random_state=0).fit(blocks)
    with pytest.raises(ValueError, match=r"missing: \['note'\]"):
        fusion.transform(ModalityBlocks({"clinical": blocks["clinical"]}))


def test_alpha_must_be_positive():
    with pytest.raises(ValueError, match="alpha"):
        FactorizationFusion(alpha=0.0).fit(small_blocks())


def test_joblib_round_trip(tmp_path):
    blocks = small_blocks()
    fusion = FactorizationFusion(n_factors=2, random_state=0).fit(blocks)
    path = tmp_path / "fusion.joblib"
    joblib.dump(fusion, path)
    loaded = joblib.load(path)
    assert_array_equal(loaded.transform(blocks), fusion.transform(blocks))
    assert_array_equal(loaded.complete(blocks)["note"], fusion.complete(blocks)["note"])


def test_pandas_output_names_the_factors():
    blocks = small_blocks()
    fusion = FactorizationFusion(n_factors=2, random_state=0).set_output(
        transform="pandas"
    )
    fused = fusion.fit_transform(blocks)
    assert isinstance(fused, pd.DataFrame)
    assert list(fused.columns) == ["factorizationfusion0", "factorizationfusion1"]


def test_nested_params_are_searchable_in_a_pipeline():
    rng = np.random.default_rng(0)
    n_samples = 40
    latent = rng.normal(size=n_samples)
    frame = pd.DataFrame(
        {
            "a1": latent + 0.1 * rng.normal(size=n_samples),
            "a2": -latent + 0.1 * rng.normal(size=n_samples),
            "b1": 2 * latent + 0.1 * rng.normal(size=n_samples),
            "b2": rng.normal(size=n_samples),
        }
    )
    frame.loc[::5, ["b1", "b2"]] = np.nan
    y = (latent > 0).astype(int)
    pipe = Pipeline(
        [
            (
                "union",
                MultimodalUnion(
                    [
                        ("lab", StandardScaler(), ["a1", "a2"]),
                        ("vitals", StandardScaler(), ["b1", "b2"]),
                    ]
                ),
            ),
            ("fusion", FactorizationFusion(n_factors=1, random_state=0)),
            ("head", LogisticRegression()),
        ]
    )
    search = GridSearchCV(
        pipe, {"fusion__n_factors": [1, 2], "fusion__alpha": [0.1, 1.0]}, cv=3
    )
    search.fit(frame, y)
    assert set(search.best_params_) == {"fusion__n_factors", "fusion__alpha"}
    assert search.best_score_ > 0.8


def test_rebalancing_keeps_every_product_and_equalises_the_grams():
    from polymodal.fusion._factorization import _balance

    rng = np.random.default_rng(3)
    factors = rng.normal(size=(50, 3)) * [5.0, 1.0, 0.2]
    loadings = [rng.normal(size=(4, 3)), 0.01 * rng.normal(size=(6, 3))]
    transform, balanced_loadings = _balance(factors.T @ factors, loadings)
    balanced_factors = factors @ transform
    for before, after in zip(loadings, balanced_loadings, strict=True):
        assert_allclose(balanced_factors @ after.T, factors @ before.T, atol=1e-12)
    stacked = np.vstack(balanced_loadings)
    assert_allclose(
        balanced_factors.T @ balanced_factors, stacked.T @ stacked, atol=1e-10
    )
    penalty_before = np.sum(factors**2) + sum(np.sum(v**2) for v in loadings)
    penalty_after = np.sum(balanced_factors**2) + np.sum(stacked**2)
    assert penalty_after < penalty_before


def test_iterations_do_not_grow_with_the_number_of_rows():
    counts = [
        FactorizationFusion(n_factors=3, random_state=0)
        .fit(planted_blocks(n_samples=n_samples, widths=(5, 8, 6))[0])
        .n_iter_
        for n_samples in (500, 4000)
    ]
    assert counts[1] <= max(2 * counts[0], 15)


def test_residual_of_the_loading_step_equals_the_direct_sum_of_squares():
    from polymodal.fusion._factorization import _solve_loadings

    rng = np.random.default_rng(3)
    masks = [rng.random(40) > 0.3, rng.random(40) > 0.5]
    blocks = [rng.normal(size=(40, 5)) * m[:, None] for m in masks]
    factors = rng.normal(size=(40, 3))
    design = np.column_stack([factors, np.ones(40)])
    grams = np.stack([(design * m[:, None]).T @ design for m in masks])
    crosses = [design.T @ b for b in blocks]
    loadings, offsets, residual = _solve_loadings(
        grams, crosses, [np.sum(b**2) for b in blocks], 0.7
    )
    direct = sum(
        np.sum((b - (factors @ v.T + o) * m[:, None]) ** 2)
        for b, m, v, o in zip(blocks, masks, loadings, offsets, strict=True)
    )
    assert_allclose(residual, direct, rtol=1e-12)


@pytest.mark.parametrize("n_modalities", [3, 8, 25])
def test_presence_groups_hold_every_row_with_a_modality_once(n_modalities):
    # 3 modalities: a pass per pattern; 8: over 64 patterns, sorted by code;
    # 25: too many bits for a code.
    from polymodal.fusion._factorization import _presence_groups

    rng = np.random.default_rng(n_modalities)
    masks = [rng.random(400) > 0.3 for _ in range(n_modalities)]
    stacked = np.column_stack(masks)
    groups = _presence_groups(masks)
    for pattern, rows in groups:
        assert pattern.any()
        assert (stacked[rows] == pattern).all()
    assert len({tuple(pattern) for pattern, _ in groups}) == len(groups)
    members = np.sort(np.concatenate([rows for _, rows in groups]))
    assert_array_equal(members, np.flatnonzero(stacked.any(axis=1)))


def test_fit_in_chunks_of_a_few_rows_equals_the_fit_in_one_chunk(monkeypatch):
    # Statistics merged over chunks and Gram matrices summed over them give
    # the fit of one chunk, and the column scales are the standard deviations
    # over the present rows.
    import polymodal.fusion._factorization as factorization

    blocks, _ = planted_blocks(seed=4, n_samples=200)
    whole = FactorizationFusion(n_factors=3, random_state=0).fit(blocks)
    monkeypatch.setattr(factorization, "_CHUNK_ELEMENTS", 7 * 45)
    chunked = FactorizationFusion(n_factors=3, random_state=0).fit(blocks)
    assert chunked.n_iter_ == whole.n_iter_
    assert_allclose(chunked.components_, whole.components_, rtol=1e-9, atol=1e-12)
    assert_allclose(chunked.intercept_, whole.intercept_, rtol=1e-12)
    assert_allclose(chunked.objective_, whole.objective_, rtol=1e-12)
    assert_allclose(
        chunked.transform(blocks), whole.transform(blocks), rtol=1e-9, atol=1e-12
    )
    scales = [
        np.std(block[blocks.masks[name]], axis=0) for name, block in blocks.items()
    ]
    assert_allclose(chunked.scale_, np.concatenate(scales), rtol=1e-12)
