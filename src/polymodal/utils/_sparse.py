"""Operations on blocks that may be sparse: densify, or keep CSR rows sparse."""

import numpy as np
from scipy import sparse

__all__ = ["as_dense", "row_of_entries", "zero_rows"]


def as_dense(block):
    """``block`` as a dense array (sparse matrices densified)."""
    return block.toarray() if sparse.issparse(block) else np.asarray(block)


def row_of_entries(matrix):
    """The row index of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def zero_rows(matrix, rows_mask):
    """Return a CSR copy of ``matrix`` with the rows in ``rows_mask`` emptied.

    Multiplying by a diagonal would keep NaN entries (0 * NaN is NaN); this
    removes the stored entries instead.
    """
    matrix = matrix.tocsr(copy=True)
    matrix.data[rows_mask[row_of_entries(matrix)]] = 0.0
    matrix.eliminate_zeros()
    return matrix
