"""Position-wise one-hot encoding of sequences for the deep heads."""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..utils._columns import OneStringColumnMixin
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ModalityTransformer
from ._encoding import (
    ALPHABETS,
    encode,
    lookup_table,
    raise_ambiguous,
    sequence_bodies,
)

__all__ = ["OneHotSequenceEncoder"]


class OneHotSequenceEncoder(
    OneStringColumnMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """One-hot encode each sequence as an (alphabet, length) array.

    Residue ``j`` of a sequence sets entry ``(letter, j)`` to 1. Every
    sequence is padded with zero columns or truncated to the common length
    ``L``, so the float32 output has shape ``(n_samples, alphabet_size, L)``: the
    layout polymodal's deep heads recognise as a sequence (images are 4-D).

    Parameters
    ----------
    max_length : int or None, default=None
        The common length ``L``; None learns the longest training sequence.
    alphabet : {"dna", "rna", "protein"}, default="dna"
        The encoded letters, in the order of the output channels: ``ACGT``,
        ``ACGU`` or ``ACDEFGHIKLMNPQRSTVWY``.
    padding : {"right", "left"}, default="right"
        Side where shorter sequences get their zero columns.
    truncate : {"right", "left"}, default="right"
        Side where longer sequences lose residues: ``"right"`` keeps the first
        ``L``, ``"left"`` the last ``L``.
    flatten : bool, default=False
        Return ``(n_samples, alphabet_size * L)``, the 3-D output reshaped in
        C order (all positions of the first letter, then the second, ...), for
        heads that take a table.
    ambiguous : {"zeros", "error"}, default="zeros"
        Ambiguity codes (IUPAC ``NRYSWKMBDHV`` for DNA/RNA, ``BZJXUO*`` for
        proteins) become an all-zero column, like padding, so "unknown" is
        never mistaken for a letter; ``"error"`` raises a ValueError naming
        the row and position.

    Attributes
    ----------
    max_length_ : int
        The length ``L`` of the output.
    n_features_in_ : int
        Always 1: the input is one column of sequences.

    See Also
    --------
    KmerVectorizer : Order-free k-mer spectra for linear and tree heads.

    Notes
    -----
    Input is read as by :class:`KmerVectorizer`: one column of strings, case
    ignored, whitespace ignored, a leading FASTA header line dropped, and a
    ValueError naming row, character and position for anything outside the
    alphabet and its ambiguity codes, or naming the row for a non-string cell.

    Examples
    --------
    >>> from polymodal.sequence import OneHotSequenceEncoder
    >>> encoder = OneHotSequenceEncoder()
    >>> onehot = encoder.fit_transform(["ACGT", "GGN"])
    >>> onehot.shape
    (2, 4, 4)
    >>> onehot[1]
    array([[0., 0., 0., 0.],
           [0., 0., 0., 0.],
           [1., 1., 0., 0.],
           [0., 0., 0., 0.]], dtype=float32)
    >>> OneHotSequenceEncoder(flatten=True).fit(["AC"]).get_feature_names_out()
    array(['A_0', 'A_1', 'C_0', 'C_1', 'G_0', 'G_1', 'T_0', 'T_1'], dtype=object)
    """

    @property
    def _learns_from_rows(self):
        # Without max_length, fit learns the longest training sequence.
        return self.max_length is None

    _parameter_constraints = {
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "alphabet": [StrOptions(set(ALPHABETS))],
        "padding": [StrOptions({"right", "left"})],
        "truncate": [StrOptions({"right", "left"})],
        "flatten": ["boolean"],
        "ambiguous": [StrOptions({"zeros", "error"})],
    }

    def __init__(
        self,
        max_length=None,
        *,
        alphabet="dna",
        padding="right",
        truncate="right",
        flatten=False,
        ambiguous="zeros",
    ):
        self.max_length = max_length
        self.alphabet = alphabet
        self.padding = padding
        self.truncate = truncate
        self.flatten = flatten
        self.ambiguous = ambiguous

    def get_feature_names_out(self, input_features=None):
        """Name the columns of the flattened output ``"<letter>_<position>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``alphabet_size * max_length_`` names in C order of the 3-D output:
            ``A_0, A_1, ..., C_0, ...``.
        """
        check_is_fitted(self)
        return np.asarray(
            [
                f"{letter}_{position}"
                for letter in ALPHABETS[self.alphabet]
                for position in range(self.max_length_)
            ],
            dtype=object,
        )

    def _fit(self, X):
        codes, offsets = self._read(X)
        self._check_n_samples(len(offsets) - 1)
        longest = int(np.diff(offsets).max())
        self.max_length_ = self.max_length or max(longest, 1)
        self.n_features_in_ = 1
        return codes, offsets

    def _read(self, X):
        """The letter codes of all sequences and the offset of each in them."""
        labels, bodies = sequence_bodies(X, "OneHotSequenceEncoder")
        codes, offsets = encode(
            bodies, labels, lookup_table(self.alphabet), "OneHotSequenceEncoder"
        )
        if self.ambiguous == "error":
            raise_ambiguous(codes, offsets, labels, "OneHotSequenceEncoder")
        return codes, offsets

    def _output(self, read):
        codes, offsets = read
        size, length = len(ALPHABETS[self.alphabet]), self.max_length_
        n_rows = len(offsets) - 1
        lengths = np.diff(offsets)
        kept = np.minimum(lengths, length)
        # Source residues: the first (truncate right) or last `kept` of each row.
        first = offsets[:-1] if self.truncate == "right" else offsets[1:] - kept
        # Target columns: from 0 (pad right) or from length - kept (pad left).
        target = np.zeros(n_rows, dtype=np.int64)
        if self.padding == "left":
            target = length - kept
        rows = np.repeat(np.arange(n_rows), kept)
        step = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
        letters = codes[np.repeat(first, kept) + step]
        positions = np.repeat(target, kept) + step
        letter = letters < size
        onehot = np.zeros((n_rows, size, length), dtype=np.float32)
        onehot[rows[letter], letters[letter], positions[letter]] = 1.0
        if self.flatten:
            return onehot.reshape(n_rows, size * length)
        return onehot
