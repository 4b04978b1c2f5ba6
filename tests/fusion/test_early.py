import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from polymodal import ModalityBlocks
from polymodal.exceptions import MissingModalityWarning, PolymodalWarning
from polymodal.fusion import ConcatFusion


@pytest.fixture
def blocks():
    return ModalityBlocks(
        {
            "clinical": np.array(
                [[1.0, 10.0], [3.0, np.nan], [5.0, 30.0], [7.0, 40.0]]
            ),
            "note": np.array([[2.0], [np.nan], [4.0], [np.nan]]),
        },
        masks={"note": [True, False, True, False]},
        feature_names={"clinical": ["age", "pack_years"], "note": ["cough"]},
    )


def test_mean_imputation_and_indicators(blocks):
    out = ConcatFusion().fit_transform(blocks)
    expected = np.array(
        [
            # pack_years mean over present values: (10 + 30 + 40) / 3
            [1.0, 10.0, 2.0, 1.0, 1.0],
            [3.0, 80 / 3, 3.0, 1.0, 0.0],
            [5.0, 30.0, 4.0, 1.0, 1.0],
            [7.0, 40.0, 3.0, 1.0, 0.0],
        ]
    )
    np.testing.assert_allclose(out, expected)


def test_absent_rows_use_the_present_rows_mean_not_their_values():
    garbage = ModalityBlocks(
        {"a": np.array([[1.0], [999.0], [3.0]])}, masks={"a": [True, False, True]}
    )
    # Row 1 has no modality at all, which ConcatFusion says.
    with pytest.warns(MissingModalityWarning, match=r"Rows \[1\]"):
        out = ConcatFusion(indicators=False).fit_transform(garbage)
    np.testing.assert_allclose(out.ravel(), [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("impute", "absent_value"), [("zero", 0.0), ("none", np.nan), ("mean", 3.0)]
)
def test_impute_options(blocks, impute, absent_value):
    out = ConcatFusion(impute=impute, indicators=False).fit_transform(blocks)
    np.testing.assert_allclose(out[[1, 3], 2], [absent_value, absent_value])


def test_weights_and_block_scaling(blocks):
    weighted = ConcatFusion(weights={"note": 2.0}, indicators=False).fit_transform(
        blocks
    )
    np.testing.assert_allclose(weighted[:, 2], [4.0, 6.0, 8.0, 6.0])
    scaled = ConcatFusion(scale_blocks=True, indicators=False).fit(blocks)
    # Each block is divided by the square root of its total variance.
    note_variance = np.var([2.0, 4.0])
    clinical_variance = np.var([1.0, 3.0, 5.0, 7.0]) + np.var([10.0, 30.0, 40.0])
    np.testing.assert_allclose(scaled.scales_["note"], 1 / np.sqrt(note_variance))
    np.testing.assert_allclose(
        scaled.scales_["clinical"], 1 / np.sqrt(clinical_variance)
    )


def test_block_scaling_balances_wide_and_narrow_blocks():
    rng = np.random.default_rng(0)
    wide = ModalityBlocks(
        {"tfidf": rng.normal(size=(50, 500)), "clinical": rng.normal(size=(50, 3))}
    )
    out = ConcatFusion(scale_blocks=True, indicators=False).fit_transform(wide)
    np.testing.assert_allclose(out[:, :500].var(axis=0).sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out[:, 500:].var(axis=0).sum(), 1.0, rtol=1e-6)


def test_sparse_blocks_stay_sparse_and_impute_the_mean():
    note = sparse.csr_matrix(
        np.array([[1.0, 0, 0, 0], [0, 0, 0, 0], [3.0, 0, 0, 1.0], [0, 0, 0, 0]])
    )
    sparse_blocks = ModalityBlocks(
        {"note": note}, masks={"note": [True, False, True, True]}
    )
    fusion = ConcatFusion(indicators=False).fit(sparse_blocks)
    with pytest.warns(MissingModalityWarning, match=r"Rows \[1\]"):
        out = fusion.transform(sparse_blocks)
    assert fusion.sparse_output_ and sparse.issparse(out)
    np.testing.assert_allclose(out.toarray()[1], np.array([4.0, 0, 0, 1.0]) / 3)
    np.testing.assert_allclose(out.toarray()[[0, 2, 3]], note.toarray()[[0, 2, 3]])
    with pytest.warns(MissingModalityWarning):
        dense = ConcatFusion(indicators=False, sparse_threshold=0).fit_transform(
            sparse_blocks
        )
    assert isinstance(dense, np.ndarray)
    with pytest.warns(MissingModalityWarning, match="NaN in every block"):
        none = ConcatFusion(impute="none", indicators=False).fit_transform(
            sparse_blocks
        )
    assert np.isnan(none.toarray()[1]).all()


def test_nan_inside_present_sparse_row_is_imputed():
    note = sparse.csr_matrix(np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, 0.0]]))
    out = ConcatFusion(indicators=False, sparse_threshold=1.0).fit_transform(
        ModalityBlocks({"note": note})
    )
    # Mean of column 0 over its non-NaN values in present rows: (1 + 3) / 2.
    np.testing.assert_allclose(out.toarray()[1], [2.0, 4.0])


def test_modality_absent_at_predict_where_training_saw_none(blocks):
    fusion = ConcatFusion().fit(blocks[[0, 2]])
    out = fusion.transform(blocks[[1]])
    np.testing.assert_allclose(out, [[3.0, 20.0, 3.0, 1.0, 0.0]])


def test_feature_names_are_prefixed_once(blocks):
    fusion = ConcatFusion().fit(blocks)
    assert fusion.get_feature_names_out().tolist() == [
        "clinical__age",
        "clinical__pack_years",
        "note__cough",
        "presence__clinical",
        "presence__note",
    ]


def test_pandas_output(blocks):
    out = ConcatFusion().set_output(transform="pandas").fit_transform(blocks)
    assert isinstance(out, pd.DataFrame)
    assert out.columns[0] == "clinical__age"


def test_plain_array_is_one_modality():
    X = np.array([[1.0, np.nan], [3.0, 4.0]])
    fusion = ConcatFusion().fit(X)
    assert fusion.modality_names_in_.tolist() == ["x"]
    np.testing.assert_allclose(fusion.transform(X), [[1.0, 4.0, 1.0], [3.0, 4.0, 1.0]])
    assert fusion.get_feature_names_out().tolist() == ["x__x0", "x__x1", "presence__x"]
    frame = pd.DataFrame({"age": [1.0, 2.0]})
    assert ConcatFusion(indicators=False).fit(
        frame
    ).get_feature_names_out().tolist() == ["x__age"]


def test_column_without_values_warns_and_imputes_zero():
    X = ModalityBlocks({"lab": np.array([[1.0, np.nan], [2.0, np.nan]])})
    with pytest.warns(PolymodalWarning, match=r"'lab'.*\['x1'\]"):
        out = ConcatFusion(indicators=False).fit_transform(X)
    np.testing.assert_allclose(out[:, 1], [0.0, 0.0])


def test_joblib_round_trip(blocks, tmp_path):
    fusion = ConcatFusion(scale_blocks=True).fit(blocks)
    joblib.dump(fusion, tmp_path / "fusion.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "fusion.joblib").transform(blocks),
        fusion.transform(blocks),
    )


# -- bad input -----------------------------------------------------------------


def test_images_need_an_embedder():
    images = ModalityBlocks({"ct": np.zeros((3, 1, 4, 4))})
    with pytest.raises(ValueError, match="'ct' is 4-D.*embedder"):
        ConcatFusion().fit(images)


def test_weights_for_unknown_modality(blocks):
    with pytest.raises(ValueError, match=r"\['genes'\].*clinical"):
        ConcatFusion(weights={"genes": 1.0}).fit(blocks)
    with pytest.raises(ValueError, match="'note' must be a finite number >= 0"):
        ConcatFusion(weights={"note": -1.0}).fit(blocks)


def test_infinity_names_modality_column_and_rows(blocks):
    bad = ModalityBlocks(
        {"lab": np.array([[1.0, 2.0], [np.inf, 0.0], [3.0, np.inf]])},
        feature_names={"lab": ["crp", "wbc"]},
    )
    with pytest.raises(ValueError, match=r"'lab', column 'crp', present rows \[1, 2\]"):
        ConcatFusion().fit(bad)


def test_modalities_must_match_fit(blocks):
    fusion = ConcatFusion().fit(blocks)
    only_note = ModalityBlocks(
        {"note": blocks["note"]}, masks={"note": blocks.masks["note"]}
    )
    with pytest.raises(ValueError, match=r"missing: \['clinical'\]"):
        fusion.transform(only_note)
    narrower = ModalityBlocks(
        {"clinical": blocks["clinical"][:, :1], "note": blocks["note"]}
    )
    with pytest.raises(ValueError, match="'clinical' has 1 features.*expecting 2"):
        fusion.transform(narrower)
    with pytest.raises(TypeError, match="pass ModalityBlocks"):
        fusion.transform(np.ones((2, 3)))


def test_reordered_modalities_are_matched_by_name(blocks):
    fusion = ConcatFusion().fit(blocks)
    swapped = ModalityBlocks(
        {"note": blocks["note"], "clinical": blocks["clinical"]},
        masks=dict(blocks.masks),
        feature_names=dict(blocks.feature_names),
    )
    np.testing.assert_array_equal(fusion.transform(swapped), fusion.transform(blocks))


def _mixed_blocks(n, sparse_note=False, seed=0):
    rng = np.random.default_rng(seed)
    clinical = rng.normal(size=(n, 5))
    clinical[rng.random(clinical.shape) < 0.1] = np.nan
    omics = rng.normal(size=(n, 30))
    absent = rng.random(n) < 0.3
    omics[absent] = np.nan
    note = rng.random((n, 12))
    note[note < 0.6] = 0.0
    note[3, 2] = np.nan
    masks = {
        "clinical": np.ones(n, bool),
        "omics": ~absent,
        "note": rng.random(n) > 0.2,
    }
    return ModalityBlocks(
        {
            "clinical": clinical,
            "omics": omics,
            "note": sparse.csr_matrix(note) if sparse_note else note,
        },
        masks=masks,
    )


def _hstacked(fusion, blocks):
    """The output as per-modality filled copies, hstacked."""
    from polymodal.fusion._early import _fill

    parts = [
        _fill(block, blocks.masks[name], fusion.fill_values_[name])
        * fusion.scales_[name]
        for name, block in blocks.items()
    ]
    parts = [p.toarray() if sparse.issparse(p) else p for p in parts]
    if fusion.indicators:
        parts.append(np.column_stack([blocks.masks[n] for n in blocks.names]))
    return np.hstack(parts)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"scale_blocks": True, "weights": {"omics": 2.5, "note": 0.0}},
        {"impute": "none", "indicators": False},
        {"impute": "zero", "scale_blocks": True},
    ],
)
@pytest.mark.parametrize("sparse_note", [False, True])
def test_dense_output_written_in_place_equals_the_stacked_blocks(params, sparse_note):
    blocks = _mixed_blocks(200, sparse_note)
    fusion = ConcatFusion(sparse_threshold=0, **params).fit(blocks[:150])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingModalityWarning)
        out = fusion.transform(blocks)
    np.testing.assert_array_equal(out, _hstacked(fusion, blocks))
    table = fusion.set_output(transform="pandas").transform(blocks)
    np.testing.assert_array_equal(table.to_numpy(), out)


def _traced(call, *args):
    """``call(*args)`` and the peak bytes it allocated beyond its start."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        out = call(*args)
        return out, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def test_dense_transform_peak_memory_is_close_to_its_output():
    blocks = _mixed_blocks(4000)
    fusion = ConcatFusion(scale_blocks=True).fit(blocks[:500])
    fusion.transform(blocks[:10])
    out, peak = _traced(fusion.transform, blocks)
    assert peak <= 1.5 * out.nbytes


def _unsorted_with_stored_zeros(matrix):
    """``matrix`` with its rows' entries reversed and one stored zero per row."""
    matrix = matrix.tocsr()
    rows = [
        (matrix.indices[a:b][::-1], matrix.data[a:b][::-1])
        for a, b in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)
    ]
    indices, data, indptr = [], [], [0]
    for row_indices, row_data in rows:
        zero_at = np.setdiff1d(np.arange(matrix.shape[1]), row_indices)[:1]
        indices += [*row_indices, *zero_at]
        data += [*row_data, *np.zeros(zero_at.size)]
        indptr.append(len(indices))
    out = sparse.csr_matrix((data, indices, indptr), shape=matrix.shape)
    out.has_sorted_indices = False
    return out


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"scale_blocks": True, "weights": {"omics": 2.5, "note": 0.0}},
        {"impute": "none", "indicators": False},
        {"impute": "zero", "scale_blocks": True},
    ],
)
@pytest.mark.parametrize("chunk_entries", [7, 2**16], ids=["small chunks", "default"])
def test_sparse_output_equals_the_dense_output(params, chunk_entries, monkeypatch):
    from polymodal.fusion import _early

    monkeypatch.setattr(_early, "_CHUNK_ENTRIES", chunk_entries)
    blocks = _mixed_blocks(200, sparse_note=True)
    blocks = ModalityBlocks(
        {**dict(blocks.items()), "note": _unsorted_with_stored_zeros(blocks["note"])},
        masks=dict(blocks.masks),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingModalityWarning)
        dense = ConcatFusion(sparse_threshold=0, **params).fit(blocks[:150])
        expected = dense.transform(blocks)
        step = ConcatFusion(sparse_threshold=1.0, **params).fit(blocks[:150])
        out = step.transform(blocks)
    assert step.sparse_output_ and isinstance(out, sparse.csr_matrix)
    np.testing.assert_array_equal(out.toarray(), expected)
    # A canonical CSR matrix: sorted, and no zero stored.
    assert out.has_sorted_indices
    assert not np.any(out.data == 0)
    assert out.indptr[-1] == out.nnz == np.count_nonzero(expected)


def test_sparse_transform_peak_memory_is_close_to_its_output():
    rng = np.random.default_rng(0)
    # Large enough for the fixed chunk temporaries (about 5 MiB) not to count.
    n = 40000
    note_mask = rng.random(n) > 0.2
    # 50 entries in each present row, one in each run of 100 columns (1% dense).
    per_row = 50 * note_mask
    columns = np.arange(50) * 100 + rng.integers(0, 100, size=(n, 50))
    note = sparse.csr_matrix(
        (
            rng.random(per_row.sum()),
            columns[note_mask].ravel(),
            np.concatenate([[0], np.cumsum(per_row)]),
        ),
        shape=(n, 5000),
    )
    blocks = ModalityBlocks(
        {"clinical": rng.normal(size=(n, 10)), "note": note},
        masks={"clinical": np.ones(n, bool), "note": note_mask},
    )
    fusion = ConcatFusion(impute="zero", sparse_threshold=1.0).fit(blocks[:500])
    fusion.transform(blocks[:10])
    out, peak = _traced(fusion.transform, blocks)
    output_bytes = out.data.nbytes + out.indices.nbytes + out.indptr.nbytes
    assert peak <= 1.5 * output_bytes
