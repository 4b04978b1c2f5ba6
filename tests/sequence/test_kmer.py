import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from polymodal import MultimodalUnion
from polymodal.sequence import KmerVectorizer


def random_dna(n_sequences, seed=0, low=1, high=40):
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    return [
        "".join(rng.choice(letters, size=rng.integers(low, high)))
        for _ in range(n_sequences)
    ]


def dense(matrix):
    assert sparse.issparse(matrix) and matrix.format == "csr"
    return matrix.toarray()


@pytest.mark.parametrize("chunk_residues", [None, 1, 50])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_counts_match_count_vectorizer(k, chunk_residues, monkeypatch):
    if chunk_residues is not None:
        # Small chunks: several vectorised passes, and the sorting path that
        # wide spectra take instead of a dense histogram.
        monkeypatch.setattr("polymodal.sequence._kmer._CHUNK_RESIDUES", chunk_residues)
    sequences = random_dna(60, seed=k)
    kmers = KmerVectorizer(k=k)
    counts = dense(kmers.fit_transform(sequences))
    names = list(kmers.get_feature_names_out())
    reference = CountVectorizer(analyzer="char", ngram_range=(k, k), lowercase=False)
    expected = reference.fit_transform(sequences).toarray()
    columns = [names.index(name) for name in reference.get_feature_names_out()]
    np.testing.assert_array_equal(counts[:, columns], expected)
    # k-mers the reference never saw are zero columns here.
    assert counts.sum() == expected.sum()
    assert counts.shape == (60, 4**k)


def test_feature_names_are_lexicographic_kmers():
    names = KmerVectorizer(k=2).fit(["ACGT"]).get_feature_names_out()
    assert names.dtype == object
    assert list(names) == [a + b for a in "ACGT" for b in "ACGT"]
    assert KmerVectorizer(k=3).fit(["A"]).get_feature_names_out()[27] == "CGT"


def test_canonical_merges_reverse_complements():
    kmers = KmerVectorizer(k=2, canonical=True)
    counts = dense(kmers.fit_transform(["ACGT", "TTT"]))
    names = list(kmers.get_feature_names_out())
    # 16 dimers: 4 palindromes plus 6 merged pairs.
    assert len(names) == 10 == counts.shape[1]
    assert "TT" not in names and "AA" in names
    # ACGT holds AC, CG, GT; GT is the reverse complement of AC.
    assert counts[0, names.index("AC")] == 2
    assert counts[0, names.index("CG")] == 1
    assert counts[1, names.index("AA")] == 2
    assert counts.sum() == 5


def test_canonical_rejects_protein():
    with pytest.raises(ValueError, match="reverse complements"):
        KmerVectorizer(k=2, alphabet="protein", canonical=True).fit(["ACD"])


def test_case_insensitive_and_fasta_header():
    kmers = KmerVectorizer(k=3).fit(["ACGT"])
    plain = dense(kmers.transform(["ACGTTGCA"]))
    np.testing.assert_array_equal(dense(kmers.transform(["acgTTgca"])), plain)
    record = ">chr1:100-108 sample 7 ACGT\r\nACGT\r\nTGCA\r\n"
    np.testing.assert_array_equal(dense(kmers.transform([record])), plain)


def test_ambiguous_skip_and_error():
    kmers = KmerVectorizer(k=2).fit(["ACGT"])
    counts = dense(kmers.transform(["ACNGTR"]))
    names = list(kmers.get_feature_names_out())
    assert counts.sum() == 2
    assert counts[0, names.index("AC")] == counts[0, names.index("GT")] == 1
    strict = KmerVectorizer(k=2, ambiguous="error").fit(["ACGT"])
    with pytest.raises(ValueError, match=r"row 1 .*ambiguous.* position 3"):
        strict.transform(["ACGT", "ACNGT"])


def test_bad_character_names_row_character_and_position():
    kmers = KmerVectorizer(k=2).fit(["ACGT"])
    with pytest.raises(ValueError, match=r"row 'p2' .*'Z' at position 4"):
        kmers.transform(pd.Series(["ACGT", "AC\nGZ"], index=["p1", "p2"]))
    with pytest.raises(ValueError, match=r"row 0 .*'é' at position 2"):
        kmers.transform(["Aé"])
    with pytest.raises(ValueError, match="'U' at position 1"):
        kmers.transform(["UUU"])


@pytest.mark.parametrize("cell", [None, np.nan, 42])
def test_non_string_cell_names_the_row(cell):
    with pytest.raises(ValueError, match=r"row 1 holds .*not a sequence string"):
        KmerVectorizer().fit(["ACGT", cell])


def test_short_sequence_gives_zero_row_and_boundaries_are_respected():
    counts = dense(KmerVectorizer(k=3).fit_transform(["AC", "", "GTA", "CG"]))
    assert list(counts.sum(axis=1)) == [0, 0, 1, 0]


def test_frequency_and_tfidf():
    sequences = random_dna(20, seed=3, low=5)
    counts = dense(KmerVectorizer(k=2).fit_transform(sequences))
    frequency = dense(
        KmerVectorizer(k=2, normalize="frequency").fit_transform([*sequences, "A"])
    )
    np.testing.assert_allclose(
        frequency[:20], counts / counts.sum(axis=1, keepdims=True)
    )
    assert frequency[20].sum() == 0
    kmers = KmerVectorizer(k=2, normalize="tfidf").fit(sequences[:10])
    expected = TfidfTransformer().fit(counts[:10]).transform(counts[10:]).toarray()
    np.testing.assert_allclose(dense(kmers.transform(sequences[10:])), expected)


def test_protein_alphabet():
    kmers = KmerVectorizer(k=1, alphabet="protein")
    counts = dense(kmers.fit_transform(["MKWVTFISLL", "mkx*"]))
    assert counts.shape == (2, 20)
    names = list(kmers.get_feature_names_out())
    assert counts[0, names.index("L")] == 2
    assert counts[1].sum() == 2


def test_input_containers_agree():
    sequences = ["ACGT", "GGTA"]
    expected = dense(KmerVectorizer(k=2).fit_transform(sequences))
    for column in (
        pd.Series(sequences),
        np.array(sequences, dtype=object),
        np.array(sequences, dtype=object).reshape(-1, 1),
        pd.DataFrame({"dna": sequences}),
    ):
        np.testing.assert_array_equal(
            dense(KmerVectorizer(k=2).fit_transform(column)), expected
        )
    with pytest.raises(TypeError, match="Wrap it in a list"):
        KmerVectorizer().fit("ACGT")


def test_too_many_features_suggests_smaller_k():
    with pytest.raises(ValueError, match="use k <= 12"):
        KmerVectorizer(k=13).fit(["ACGT"])
    with pytest.raises(ValueError, match="use k <= 5"):
        KmerVectorizer(k=6, alphabet="protein").fit(["ACD"])


def test_invalid_parameter():
    with pytest.raises(ValueError, match="'alphabet' parameter"):
        KmerVectorizer(alphabet="amino").fit(["ACGT"])


def test_inside_union_with_absent_rows():
    frame = pd.DataFrame(
        {
            "dna": ["ACGTAC", None, "ggtt", np.nan, "ACGN"],
            "age": [50.0, 60, 70, 80, 90],
        }
    )
    union = MultimodalUnion(
        [("dna", KmerVectorizer(k=2), "dna"), ("age", "passthrough", ["age"])]
    )
    blocks = union.fit_transform(frame)
    np.testing.assert_array_equal(blocks.masks["dna"], [True, False, True, False, True])
    block = blocks["dna"]
    assert block.shape == (5, 16)
    present = KmerVectorizer(k=2).fit_transform(["ACGTAC", "ggtt", "ACGN"])
    np.testing.assert_array_equal(
        sparse.csr_matrix(block)[[0, 2, 4]].toarray(), present.toarray()
    )
    assert "dna__AC" in union.get_feature_names_out()


def test_joblib_round_trip(tmp_path):
    kmers = KmerVectorizer(k=3, canonical=True, normalize="tfidf").fit(random_dna(10))
    joblib.dump(kmers, tmp_path / "kmers.joblib")
    loaded = joblib.load(tmp_path / "kmers.joblib")
    sequences = random_dna(5, seed=1)
    np.testing.assert_array_equal(
        dense(loaded.transform(sequences)), dense(kmers.transform(sequences))
    )
    np.testing.assert_array_equal(
        loaded.get_feature_names_out(), kmers.get_feature_names_out()
    )


@pytest.mark.parametrize(
    "kmers",
    [KmerVectorizer(k=3), KmerVectorizer(k=2, canonical=True, normalize="tfidf")],
)
def test_fit_transform_equals_fit_then_transform_and_row_order(kmers):
    sequences = random_dna(30, seed=5)
    combined = dense(clone(kmers).fit_transform(sequences))
    fitted = clone(kmers).fit(sequences)
    np.testing.assert_allclose(dense(fitted.transform(sequences)), combined)
    order = np.random.default_rng(0).permutation(30)
    shuffled = dense(fitted.transform([sequences[i] for i in order]))
    np.testing.assert_allclose(shuffled, combined[order])
