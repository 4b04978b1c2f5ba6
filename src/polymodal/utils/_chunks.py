"""The size of a chunk of rows in a computation done a chunk at a time."""

__all__ = ["chunk_rows"]


def chunk_rows(n_columns, elements):
    """Rows per chunk, so that a chunk of them holds about ``elements`` entries.

    At least one row, also for a chunk wider than ``elements``.
    """
    return max(1, elements // max(n_columns, 1))
