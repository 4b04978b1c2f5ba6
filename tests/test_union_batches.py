"""MultimodalUnion(batch_size=...): the same blocks, never more than one batch of inputs."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from polymodal import MultimodalUnion
from polymodal.exceptions import RowFailureWarning
from polymodal.image import CNNEmbedder, ImageLoader

# Rows seen by each fit and transform, by log name: the union works on clones.
LOGS = {}


class Recording(TransformerMixin, BaseEstimator):
    """Doubles its input and records how many rows each fit and transform saw."""

    _learns_from_rows = False

    def __init__(self, log="default"):
        self.log = log

    def fit(self, X, y=None):
        LOGS.setdefault(self.log, []).append(("fit", len(X)))
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        LOGS.setdefault(self.log, []).append(("transform", len(X)))
        values = np.asarray(X, dtype=float)
        if np.any(values == -1.0):
            raise ValueError("unreadable value -1")
        return 2 * values


class Learning(Recording):
    _learns_from_rows = True


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n = 23
    notes = [f"note {'cough' if i % 2 else 'fever'} {i % 5}" for i in range(n)]
    notes[4] = None
    frame = pd.DataFrame(
        {
            "lab": rng.random(n),
            "age": rng.normal(60, 9, size=n),
            "note": notes,
        },
        index=[f"P{i:02d}" for i in range(n)],
    )
    frame.loc["P07", "lab"] = np.nan
    return frame


def union(log, learning_log, batch_size):
    return MultimodalUnion(
        [
            ("lab", Recording(log), ["lab"]),
            ("age", make_pipeline(StandardScaler(), Learning(learning_log)), ["age"]),
            ("note", TfidfVectorizer(), "note"),
        ],
        batch_size=batch_size,
    )


@pytest.mark.parametrize("batch_size", [1, 4, 22, 23, 100])
def test_batches_give_the_blocks_of_one_pass(table, batch_size):
    whole = union("a", "b", None).fit_transform(table)
    batched_union = union("a", "b", batch_size)
    batched = batched_union.fit_transform(table)
    for name in whole.names:
        assert_array_equal(batched.masks[name], whole.masks[name])
        got, expected = batched[name], whole[name]
        if sparse.issparse(expected):
            got, expected = got.toarray(), expected.toarray()
        assert_allclose(got, expected)
    again = batched_union.transform(table)
    assert_allclose(again["lab"], whole["lab"])
    assert list(batched.index) == list(table.index)


def test_a_transformer_that_learns_nothing_is_fitted_on_one_batch(table):
    LOGS.clear()
    fitted = union("stateless", "learning", 5)
    fitted.fit_transform(table)
    log, learning_log = LOGS["stateless"], LOGS["learning"]
    present_lab = int(table["lab"].notna().sum())
    assert log[0] == ("fit", 5)
    assert [n for step, n in log if step == "transform"] == [
        5,
        5,
        5,
        5,
        present_lab - 20,
    ]
    # The scaler learns from its rows: the pipeline is fitted on all of them,
    # then transformed in batches.
    assert learning_log[0] == ("fit", len(table))
    log.clear()
    fitted.transform(table)
    assert max(n for _, n in log) <= 5


def test_failed_rows_in_a_later_batch_are_marked_absent(table):
    table.loc["P19", "lab"] = -1.0
    with pytest.warns(RowFailureWarning, match=r"Modality 'lab': rows \['P19'\]"):
        blocks = MultimodalUnion(
            [("lab", Recording(), ["lab"])], on_error="missing", batch_size=4
        ).fit_transform(table.drop(index="P02"))
    assert not blocks.masks["lab"][list(blocks.index).index("P19")]
    assert blocks.masks["lab"].sum() == table["lab"].notna().sum() - 2


def test_image_loader_and_embedder_stream_through_the_union(tmp_path):
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    images = [rng.normal(size=(16, 16)).astype(np.float32) for _ in range(7)]
    frame = pd.DataFrame({"ct": pd.Series(images, dtype=object)})
    slot = make_pipeline(ImageLoader(), CNNEmbedder(random_state=0))
    whole = MultimodalUnion([("ct", slot, "ct")]).fit_transform(frame)
    streamed = MultimodalUnion([("ct", slot, "ct")], batch_size=3).fit_transform(frame)
    assert_allclose(streamed["ct"], whole["ct"], rtol=1e-5, atol=1e-6)


def test_batch_size_must_be_positive(table):
    with pytest.raises(InvalidParameterError, match="batch_size"):
        MultimodalUnion([("lab", StandardScaler(), ["lab"])], batch_size=0).fit(table)
