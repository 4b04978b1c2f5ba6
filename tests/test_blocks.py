import numpy as np
import pytest
from scipy import sparse
from sklearn.model_selection import KFold, cross_val_score
from sklearn.utils import _safe_indexing

from polymodal import ModalityBlocks


@pytest.fixture
def blocks():
    return ModalityBlocks(
        {
            "clinical": np.arange(12, dtype=float).reshape(6, 2),
            "note": sparse.csr_matrix(np.eye(6, 4)),
            "ct": np.zeros((6, 1, 3, 3)),
        },
        masks={"note": [True, True, False, True, False, True]},
        feature_names={"clinical": ["age", "pack_years"]},
    )


def test_access_by_name(blocks):
    assert blocks.names == ("clinical", "note", "ct")
    assert blocks["clinical"].shape == (6, 2)
    assert sparse.issparse(blocks["note"])
    assert blocks["ct"].shape == (6, 1, 3, 3)
    assert list(blocks.feature_names["clinical"]) == ["age", "pack_years"]
    assert list(blocks.feature_names["note"]) == ["x0", "x1", "x2", "x3"]
    assert len(blocks.feature_names["ct"]) == 9
    assert blocks.masks["clinical"].all()
    assert blocks.masks["note"].tolist() == [True, True, False, True, False, True]
    assert "note" in blocks
    assert [name for name, _ in blocks.items()] == list(blocks.names)


def test_len_and_shape_count_rows(blocks):
    assert len(blocks) == 6
    assert blocks.shape == (6,)


@pytest.mark.parametrize(
    "rows",
    [
        np.array([4, 1]),
        [4, 1],
        slice(1, 5, 3),
        np.array([False, True, False, False, True, False]),
        (np.array([1, 4]), Ellipsis),
    ],
)
def test_row_selection(blocks, rows):
    subset = blocks[rows]
    assert isinstance(subset, ModalityBlocks)
    expected = np.arange(6)[rows[0] if isinstance(rows, tuple) else rows]
    assert len(subset) == len(expected)
    np.testing.assert_array_equal(subset["clinical"], blocks["clinical"][expected])
    np.testing.assert_array_equal(
        subset["note"].toarray(), blocks["note"].toarray()[expected]
    )
    np.testing.assert_array_equal(subset.masks["note"], blocks.masks["note"][expected])
    assert subset.feature_names["clinical"] is blocks.feature_names["clinical"]


def test_slice_does_not_copy_dense_blocks(blocks):
    subset = blocks[1:4]
    assert np.shares_memory(subset["clinical"], blocks["clinical"])


def test_safe_indexing_and_cross_validation_split_blocks(blocks):
    subset = _safe_indexing(blocks, [0, 5])
    assert isinstance(subset, ModalityBlocks)
    np.testing.assert_array_equal(subset["clinical"][:, 0], [0.0, 10.0])

    from sklearn.base import BaseEstimator, ClassifierMixin

    class FirstClinicalColumn(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            assert isinstance(X, ModalityBlocks)
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return (X["clinical"][:, 0] > 4).astype(int)

    y = np.array([0, 0, 0, 1, 1, 1])
    scores = cross_val_score(FirstClinicalColumn(), blocks, y, cv=KFold(3))
    np.testing.assert_allclose(scores, [1.0, 1.0, 1.0])


def test_single_int_is_a_type_error(blocks):
    with pytest.raises(TypeError, match=r"blocks\[\[i\]\]"):
        blocks[0]


def test_unknown_modality_names_the_known_ones(blocks):
    with pytest.raises(KeyError, match="'genes'.*clinical"):
        blocks["genes"]


def test_array_conversion_asks_for_a_fusion_step(blocks):
    with pytest.raises(TypeError, match="add a fusion step"):
        np.asarray(blocks)


def test_not_iterable(blocks):
    with pytest.raises(TypeError, match="blocks.names"):
        list(blocks)


def test_masks_are_read_only(blocks):
    with pytest.raises(TypeError):
        blocks.masks["note"] = np.ones(6, bool)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"blocks": {"a": np.ones((3, 2)), "b": np.ones((4, 2))}}, "'b' has 4 rows"),
        ({"blocks": {"a": np.ones(3)}}, "at least 2 dimensions"),
        ({"blocks": {"a": np.ones((3, 2))}, "masks": {"a": [True]}}, "mask has shape"),
        ({"blocks": {"a": np.ones((3, 2))}, "masks": {"b": [True] * 3}}, "'b'"),
        (
            {"blocks": {"a": np.ones((3, 2))}, "feature_names": {"a": ["f"]}},
            "1 feature names for 2 features",
        ),
    ],
)
def test_invalid_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModalityBlocks(**kwargs)


def test_empty_dict_needs_an_index_for_its_rows():
    with pytest.raises(TypeError, match="an empty dict only with an index"):
        ModalityBlocks({})
    empty = ModalityBlocks({}, index=["p1", "p2", "p3"])
    assert len(empty) == 3 and empty.names == ()
    assert empty[[0, 2]].index.tolist() == ["p1", "p3"]


def test_repr_summarises_blocks(blocks):
    text = repr(blocks)
    assert "n_samples=6" in text
    assert "note: sparse (6, 4), 4 present" in text


def test_select_keeps_named_modalities_without_copying(blocks):
    subset = blocks.select(["note", "clinical"])
    assert subset.names == ("note", "clinical")
    assert subset["clinical"] is blocks["clinical"]
    assert subset.masks["note"] is blocks.masks["note"]
    with pytest.raises(KeyError, match="genes"):
        blocks.select(["genes"])


def test_to_slicedict_zero_fills_absent_rows_and_carries_masks():
    pytest.importorskip("skorch")
    blocks = ModalityBlocks(
        {
            "ct": np.arange(2 * 1 * 2 * 2, dtype=float).reshape(2, 1, 2, 2),
            "note": sparse.csr_matrix([[0.0, 2.0], [1.0, 0.0]]),
            "lab": np.array([[1.5], [np.nan]]),
        },
        masks={"lab": [True, False]},
    )
    data = blocks.to_slicedict()
    assert list(data) == ["ct", "mask__ct", "note", "mask__note", "lab", "mask__lab"]
    assert str(data["ct"].dtype) == "torch.float32"
    assert tuple(data["ct"].shape) == (2, 1, 2, 2)
    np.testing.assert_array_equal(data["note"].numpy(), [[0.0, 2.0], [1.0, 0.0]])
    np.testing.assert_array_equal(data["lab"].numpy(), [[1.5], [0.0]])
    np.testing.assert_array_equal(data["mask__lab"].numpy(), [True, False])
    # Row slicing works as skorch's batching and validation splits need.
    assert data[[1]]["mask__lab"].tolist() == [False]
    # The blocks themselves are not changed.
    assert np.isnan(blocks["lab"][1, 0])
