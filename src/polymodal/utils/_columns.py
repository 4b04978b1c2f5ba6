"""Reading one column of text cells (sequences, notes, SMILES) with row labels."""

import numpy as np
import pandas as pd

__all__ = ["OneStringColumnMixin", "column_cells"]


def column_cells(X, owner, what):
    """Return the row labels and the cells of a one-column input.

    Row labels are the index of a pandas input and positions otherwise, so that
    error messages point at the row the user knows.

    Parameters
    ----------
    X : Series, list, 1-D array, or one-column DataFrame or 2-D array
        The column.
    owner : str
        The estimator's name, for error messages.
    what : str
        What the cells hold ("sequences", "notes", "SMILES strings"), for error
        messages.

    Returns
    -------
    labels, cells : list, list
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{owner} takes a column of {what} (a Series, list or 1-D array); "
            f"got a single {type(X).__name__}. Wrap it in a list."
        )
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"{owner} takes one column of {what}; got a DataFrame with "
                f"{X.shape[1]} columns."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        return list(X.index), list(X)
    if hasattr(X, "__array__"):
        X = np.asarray(X, dtype=object)
        if X.ndim > 2 or (X.ndim == 2 and X.shape[1] != 1):
            raise ValueError(
                f"{owner} takes one column of {what}; got an array of shape {X.shape}."
            )
        cells = list(X.ravel())
    else:
        cells = list(X)
    return list(range(len(cells))), cells


class OneStringColumnMixin:
    """Tags of a transformer that reads one column of strings.

    Like scikit-learn's text vectorizers: 1-D string input, not a 2-D numeric
    table, so scikit-learn's numeric checks do not apply to it.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
