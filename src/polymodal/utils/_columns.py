"""Reading one column of text cells (sequences, notes, SMILES) with row labels."""

import numpy as np
import pandas as pd

__all__ = ["OneStringColumnMixin", "column_cells", "string_cells"]


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


def string_cells(X, owner, what, item, *, reject_blank=False):
    """Like :func:`column_cells`, with every cell checked to be a string.

    A missing value here means the transformer was called directly:
    MultimodalUnion passes only the rows where a modality is present.

    Parameters
    ----------
    X, owner, what
        As for :func:`column_cells`.
    item : str
        What one cell should be ("note", "SMILES string"), for error messages.
    reject_blank : bool, default=False
        Whether an empty or all-whitespace string is an error too (the union
        treats such a cell as absent).

    Returns
    -------
    labels, cells : list, list
    """
    labels, cells = column_cells(X, owner, what)
    for label, cell in zip(labels, cells):
        if not isinstance(cell, str):
            raise ValueError(
                f"{owner}: row {label!r} holds {cell!r} of type "
                f"{type(cell).__name__}, not a {item}. MultimodalUnion passes only "
                "the rows where a modality is present, so a missing value here "
                "means the transformer was called directly; drop or fill those "
                "rows first."
            )
        if reject_blank and not cell.strip():
            raise ValueError(
                f"{owner}: row {label!r} holds an empty {item} ({cell!r}). "
                f"MultimodalUnion treats an empty or blank {item} as an absent one "
                "and skips its row; called directly, drop such rows first."
            )
    return labels, cells


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
