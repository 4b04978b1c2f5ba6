"""K-mer spectra of DNA, RNA and protein sequences."""

from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.utils.validation import check_is_fitted

from ..utils._columns import OneStringColumnMixin
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ModalityTransformer
from ._encoding import (
    ALPHABETS,
    AMBIGUOUS_CODE,
    encode,
    lookup_table,
    raise_ambiguous,
    sequence_bodies,
)

__all__ = ["KmerVectorizer"]

# The widest spectrum accepted: 4**12 DNA k-mers or 20**5 peptides.
MAX_FEATURES = 2**24
# Residues encoded per vectorised pass; bounds the temporary index arrays.
_CHUNK_RESIDUES = 2**22


class KmerVectorizer(
    OneStringColumnMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """Count the k-mers of each sequence into a sparse spectrum.

    Each sequence becomes a row of counts over every possible k-mer of the
    alphabet, in lexicographic order, so the width is fixed
    (``alphabet_size ** k``, or about half with ``canonical=True``) and does
    not depend on the training data. The output is a CSR matrix of float64
    counts (or normalised counts) with ``n_features_out_`` columns.

    Parameters
    ----------
    k : int, default=4
        Length of the counted words. ``alphabet_size ** k`` may not exceed
        2**24 (k <= 12 for DNA/RNA, k <= 5 for proteins).
    alphabet : {"dna", "rna", "protein"}, default="dna"
        Letters counted: ``ACGT``, ``ACGU`` or the 20 standard amino acids
        ``ACDEFGHIKLMNPQRSTVWY``.
    canonical : bool, default=False
        Merge each k-mer with its reverse complement (``dna`` and ``rna``
        only), as for reads whose strand is unknown; the column is named by
        the lexicographically smaller of the two.
    normalize : {"frequency", "tfidf"} or None, default=None
        None keeps the counts; ``"frequency"`` divides each row by its number
        of counted k-mers; ``"tfidf"`` applies
        :class:`~sklearn.feature_extraction.text.TfidfTransformer` (default
        settings) with the inverse document frequencies learned in ``fit``.
    ambiguous : {"skip", "error"}, default="skip"
        What to do with ambiguity codes: IUPAC ``NRYSWKMBDHV`` for DNA/RNA,
        ``BZJXUO*`` for proteins. ``"skip"`` does not count the k-mers that
        contain one; ``"error"`` raises a ValueError naming the row and
        position.

    Attributes
    ----------
    n_features_in_ : int
        Always 1: the input is one column of sequences.
    n_features_out_ : int
        Width of the output.
    tfidf_ : TfidfTransformer
        The fitted weighting, with ``normalize="tfidf"`` only.

    See Also
    --------
    OneHotSequenceEncoder : Position-wise one-hot encoding for the deep heads.
    read_fasta : Read a FASTA file into a column of sequences.

    Notes
    -----
    The input is one column of strings: a pandas Series, a list, a 1-D object
    array, or a one-column DataFrame or 2-D array. Letters are read
    case-insensitively and whitespace (line breaks) is ignored; a cell that
    starts with a FASTA header line (``">id description"``) has that line
    dropped. Any other character is a ValueError naming the row, character
    and 1-based position. A cell that is not a string (``None``, a number) is
    a ValueError naming the row: :class:`polymodal.MultimodalUnion` passes
    only the rows where the modality is present. A sequence shorter than
    ``k`` gives a row of zeros. Rows are named by their index label for
    pandas input and by position otherwise.

    All sequences are encoded to integer codes at once and each k-mer's column
    is computed by base-``alphabet_size`` arithmetic over sliding windows, so
    the cost is a few numpy passes over the residues, whatever ``k``.

    Examples
    --------
    >>> from polymodal.sequence import KmerVectorizer
    >>> kmers = KmerVectorizer(k=2)
    >>> counts = kmers.fit_transform(["ACGTAC", ">read7 forward\\nacgn"])
    >>> counts.shape
    (2, 16)
    >>> kmers.get_feature_names_out()[:4]
    array(['AA', 'AC', 'AG', 'AT'], dtype=object)
    >>> counts[:, [1, 6]].toarray()
    array([[2., 1.],
           [1., 1.]])
    >>> KmerVectorizer(k=2, canonical=True).fit_transform(["ACGT"]).shape
    (1, 10)
    """

    @property
    def _learns_from_rows(self):
        # Counts and frequencies are per sequence; the idf of "tfidf" is learnt.
        return self.normalize == "tfidf"

    _parameter_constraints = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "alphabet": [StrOptions(set(ALPHABETS))],
        "canonical": ["boolean"],
        "normalize": [StrOptions({"frequency", "tfidf"}), None],
        "ambiguous": [StrOptions({"skip", "error"})],
    }

    def __init__(
        self, k=4, *, alphabet="dna", canonical=False, normalize=None, ambiguous="skip"
    ):
        self.k = k
        self.alphabet = alphabet
        self.canonical = canonical
        self.normalize = normalize
        self.ambiguous = ambiguous

    def get_feature_names_out(self, input_features=None):
        """Name the output columns by their k-mer, e.g. ``"ACGT"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the names depend on ``k``, ``alphabet`` and ``canonical``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The k-mers in the order of the output columns.
        """
        check_is_fitted(self)
        letters = np.frombuffer(ALPHABETS[self.alphabet].encode(), dtype="S1")
        kmers = letters[_digits(self._columns, len(letters), self.k)]
        return kmers.view(f"S{self.k}").ravel().astype(str).astype(object)

    def _fit(self, X):
        size = len(ALPHABETS[self.alphabet])
        if size**self.k > MAX_FEATURES:
            largest = int(np.log(MAX_FEATURES) / np.log(size))
            raise ValueError(
                f"k={self.k} gives {size}**{self.k} = {size**self.k:,} possible "
                f"{self.alphabet} k-mers, more than the {MAX_FEATURES:,} columns "
                f"KmerVectorizer accepts; use k <= {largest}."
            )
        if self.canonical and self.alphabet == "protein":
            raise ValueError(
                "canonical=True merges reverse complements, which exist for "
                "alphabet='dna' or 'rna' only."
            )
        if self.canonical:
            canonical = np.minimum(
                np.arange(size**self.k), _reverse_complements(size, self.k)
            )
            # Lexicographic order of k-mers is the order of their indices.
            self._columns = np.unique(canonical)
            self._column_of = np.searchsorted(self._columns, canonical)
        else:
            self._columns = np.arange(size**self.k)
            self._column_of = None
        self._table = lookup_table(self.alphabet)
        self.n_features_in_ = 1
        self.n_features_out_ = len(self._columns)
        counts = self._read(X)
        self._check_n_samples(counts.shape[0])
        if self.normalize == "tfidf":
            self.tfidf_ = TfidfTransformer().fit(counts)
        return counts

    def _read(self, X):
        """The k-mer counts of each sequence, as a CSR matrix."""
        labels, bodies = sequence_bodies(X, "KmerVectorizer")
        chunks, start, used = [], 0, 0
        for stop, body in enumerate(bodies, start=1):
            used += len(body)
            if used >= _CHUNK_RESIDUES or stop == len(bodies):
                chunks.append(
                    self._chunk_counts(bodies[start:stop], labels[start:stop])
                )
                start, used = stop, 0
        if not chunks:
            return sparse.csr_matrix((0, self.n_features_out_))
        return sparse.vstack(chunks, format="csr")

    def _chunk_counts(self, bodies, labels):
        codes, offsets = encode(bodies, labels, self._table, "KmerVectorizer")
        if self.ambiguous == "error":
            raise_ambiguous(codes, offsets, labels, "KmerVectorizer")
        k, size = self.k, len(ALPHABETS[self.alphabet])
        n_rows, n_windows = len(bodies), max(codes.size - k + 1, 0)
        blocked = codes == AMBIGUOUS_CODE
        digits = np.where(blocked, 0, codes)
        index = np.zeros(n_windows, dtype=np.int64)
        for shift in range(k):
            index *= size
            index += digits[shift : shift + n_windows]
        # A window is counted when it holds no ambiguity code and does not run
        # into the next sequence.
        valid = np.ones(n_windows, dtype=bool)
        if blocked.any():
            blocked_before = np.zeros(codes.size + 1, dtype=np.int64)
            np.cumsum(blocked, out=blocked_before[1:])
            valid &= blocked_before[k:] == blocked_before[:n_windows]
        crossing = (offsets[1:-1, None] - np.arange(1, k)).ravel()
        valid[crossing[(crossing >= 0) & (crossing < n_windows)]] = False
        valid_before = np.zeros(n_windows + 1, dtype=np.int64)
        np.cumsum(valid, out=valid_before[1:])
        indptr = valid_before[np.minimum(offsets, n_windows)]
        indptr -= indptr[0]
        columns = index[valid]
        if self._column_of is not None:
            columns = self._column_of[columns]
        width = self.n_features_out_
        if n_rows * width <= 4 * _CHUNK_RESIDUES:
            # A dense per-row histogram is cheaper than sorting the entries.
            rows = np.repeat(np.arange(n_rows), np.diff(indptr))
            histogram = np.bincount(rows * width + columns, minlength=n_rows * width)
            return sparse.csr_matrix(histogram.reshape(n_rows, width), dtype=np.float64)
        counts = sparse.csr_matrix(
            (np.ones(columns.size), columns, indptr), shape=(n_rows, width)
        )
        counts.sum_duplicates()
        return counts

    def _output(self, counts):
        if self.normalize == "frequency":
            totals = np.asarray(counts.sum(axis=1)).ravel()
            totals[totals == 0] = 1
            return sparse.csr_matrix(sparse.diags(1 / totals) @ counts)
        if self.normalize == "tfidf":
            return self.tfidf_.transform(counts)
        return counts


def _digits(indices, size, k):
    """The base-``size`` digits of each index, most significant first."""
    powers = size ** np.arange(k - 1, -1, -1)
    return (np.asarray(indices)[:, None] // powers) % size


def _reverse_complements(size, k):
    """Index of the reverse complement of every k-mer.

    In ``ACGT`` and ``ACGU`` the complement of code ``c`` is ``3 - c``.
    """
    digits = _digits(np.arange(size**k), size, k)
    complement = (size - 1 - digits)[:, ::-1]
    return complement @ (size ** np.arange(k - 1, -1, -1))
