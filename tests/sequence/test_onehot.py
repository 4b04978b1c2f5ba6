import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

from polymodal import MultimodalUnion
from polymodal.sequence import OneHotSequenceEncoder


def letters_of(onehot, alphabet="ACGT"):
    """Decode one (alphabet, L) array back to letters, '.' for zero columns."""
    return "".join(
        alphabet[column.argmax()] if column.any() else "." for column in onehot.T
    )


def test_shape_dtype_and_learned_length():
    encoder = OneHotSequenceEncoder().fit(["ACG", "ACGTA", "T"])
    assert encoder.max_length_ == 5
    onehot = encoder.transform(["ACG", "ACGTA", "t"])
    assert onehot.shape == (3, 4, 5)
    assert onehot.dtype == np.float32
    assert [letters_of(row) for row in onehot] == ["ACG..", "ACGTA", "T...."]
    assert set(np.unique(onehot)) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("padding", "truncate", "expected"),
    [
        ("right", "right", ["AC...", "ACGTA"]),
        ("left", "right", ["...AC", "ACGTA"]),
        ("right", "left", ["AC...", "CGTAC"]),
        ("left", "left", ["...AC", "CGTAC"]),
    ],
)
def test_padding_and_truncation_sides(padding, truncate, expected):
    encoder = OneHotSequenceEncoder(5, padding=padding, truncate=truncate)
    onehot = encoder.fit_transform(["AC", "ACGTAC"])
    assert [letters_of(row) for row in onehot] == expected


def test_flatten_matches_reshape_and_names():
    sequences = ["ACGT", "GG"]
    cube = OneHotSequenceEncoder().fit_transform(sequences)
    encoder = OneHotSequenceEncoder(flatten=True).fit(sequences)
    table = encoder.transform(sequences)
    assert table.shape == (2, 16)
    np.testing.assert_array_equal(table, cube.reshape(2, -1))
    names = list(encoder.get_feature_names_out())
    assert names[:5] == ["A_0", "A_1", "A_2", "A_3", "C_0"]
    assert table[1, names.index("G_1")] == 1


def test_ambiguous_zeros_and_error():
    onehot = OneHotSequenceEncoder().fit_transform(["ANGR"])
    assert letters_of(onehot[0]) == "A.G."
    with pytest.raises(ValueError, match=r"row 'b' .*ambiguous.* position 2"):
        OneHotSequenceEncoder(ambiguous="error").fit(
            pd.Series(["ACGT", "AN"], index=["a", "b"])
        )


def test_rna_and_protein_alphabets():
    rna = OneHotSequenceEncoder(alphabet="rna").fit_transform(["ACGU"])
    assert letters_of(rna[0], "ACGU") == "ACGU"
    onehot = OneHotSequenceEncoder(alphabet="protein").fit_transform([">p\nMKW"])
    assert onehot.shape == (1, 20, 3)
    assert letters_of(onehot[0], "ACDEFGHIKLMNPQRSTVWY") == "MKW"


def test_bad_input():
    encoder = OneHotSequenceEncoder().fit(["ACGT"])
    with pytest.raises(ValueError, match=r"row 0 .*'U' at position 3"):
        encoder.transform(["ACU"])
    with pytest.raises(ValueError, match="row 1 holds None"):
        encoder.transform(["ACGT", None])


def test_joblib_round_trip(tmp_path):
    encoder = OneHotSequenceEncoder(6, padding="left").fit(["ACGT"])
    joblib.dump(encoder, tmp_path / "onehot.joblib")
    loaded = joblib.load(tmp_path / "onehot.joblib")
    np.testing.assert_array_equal(
        loaded.transform(["ACG", "TTTTTTTT"]), encoder.transform(["ACG", "TTTTTTTT"])
    )


def test_inside_union_under_pandas_output():
    frame = pd.DataFrame({"dna": ["ACGT", None, "GGT"]})
    union = MultimodalUnion([("dna", OneHotSequenceEncoder(), "dna")])
    with sklearn.config_context(transform_output="pandas"):
        blocks = union.fit_transform(frame)
    np.testing.assert_array_equal(blocks.masks["dna"], [True, False, True])
    block = blocks["dna"]
    assert isinstance(block, np.ndarray) and block.shape == (3, 4, 4)
    assert letters_of(block[2]) == "GGT."
