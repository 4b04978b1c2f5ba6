import pytest

from polymodal.sequence import KmerVectorizer, read_fasta


def test_three_records_multiline_blank_lines_crlf(tmp_path):
    path = tmp_path / "cohort.fasta"
    path.write_bytes(
        b">p1 BRCA1 exon 11\r\nACGTAC\r\nGGTT\r\n\r\n"
        b">p2\r\nacgt\r\n"
        b"; a comment line\r\n"
        b">p3\tplasma cfDNA\r\nAAAA\r\nCC GG\r\nT\r\n"
    )
    records = read_fasta(path)
    assert list(records.columns) == ["id", "description", "sequence"]
    assert list(records["id"]) == ["p1", "p2", "p3"]
    assert list(records["description"]) == ["BRCA1 exon 11", "", "plasma cfDNA"]
    assert list(records["sequence"]) == ["ACGTACGGTT", "acgt", "AAAACCGGT"]
    counts = KmerVectorizer(k=2).fit_transform(records["sequence"])
    assert counts.shape == (3, 16)


def test_empty_file_gives_empty_table(tmp_path):
    path = tmp_path / "empty.fa"
    path.write_text("")
    records = read_fasta(path)
    assert records.shape == (0, 3)


def test_sequence_before_header_names_file_and_line(tmp_path):
    path = tmp_path / "broken.fa"
    path.write_text("\nACGT\n>p1\nACGT\n")
    with pytest.raises(ValueError, match=r"broken\.fa, line 2: sequence data before"):
        read_fasta(path)


def test_header_without_id(tmp_path):
    path = tmp_path / "noid.fa"
    path.write_text(">p1\nACGT\n>\nACGT\n")
    with pytest.raises(ValueError, match=r"noid\.fa, line 3: the header has no"):
        read_fasta(path)
