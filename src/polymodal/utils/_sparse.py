"""Row operations on CSR matrices that keep them sparse."""

import numpy as np

__all__ = ["row_of_entries", "zero_rows"]


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
