"""Sequence modalities: k-mer spectra and one-hot encodings of DNA, RNA, protein."""

from ._fasta import read_fasta
from ._kmer import KmerVectorizer
from ._onehot import OneHotSequenceEncoder

__all__ = ["KmerVectorizer", "OneHotSequenceEncoder", "read_fasta"]
