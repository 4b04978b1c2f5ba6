"""The patient table as the union reads it: cells, missing rows, dict input."""

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["as_table_array", "cells_frame", "dict_to_frame", "missing_rows"]


def missing_rows(X_m):
    """True where every input cell of the modality is missing."""
    if sparse.issparse(X_m):
        return np.zeros(X_m.shape[0], dtype=bool)
    frame = cells_frame(X_m)
    missing = np.ones(frame.shape[0], dtype=bool)
    for _, column in frame.items():
        missing &= _missing_cells(column)
        if not missing.any():
            break
    return missing


def cells_frame(X_m):
    """A modality's input as a DataFrame with one column per input column.

    A 1-D (or N-D) array is one column whose cells are its rows.
    """
    if isinstance(X_m, pd.Series):
        return X_m.to_frame()
    if isinstance(X_m, pd.DataFrame):
        return X_m
    array = np.asarray(X_m)
    return pd.DataFrame(array if array.ndim == 2 else _object_column(array))


def _object_column(values):
    column = np.empty((len(values), 1), dtype=object)
    for i, value in enumerate(values):
        column[i, 0] = value
    return column


def _missing_cells(column):
    missing = column.isna().to_numpy(dtype=bool, copy=True)
    if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
        blank = np.fromiter(
            (isinstance(v, str) and not v.strip() for v in column),
            dtype=bool,
            count=len(column),
        )
        missing |= blank
    return missing


def as_table_array(X):
    """The input as an array; rows of unequal cells (images) stay object cells."""
    try:
        return np.asarray(X)
    except ValueError:
        return np.asarray(X, dtype=object)


def dict_to_frame(X):
    """A DataFrame from a dict of equal-length columns; image cells stay whole."""
    lengths = {}
    for key, values in X.items():
        try:
            lengths[key] = len(values)
        except TypeError:
            raise TypeError(
                f"Column {key!r} of the input dict is a {type(values).__name__}, "
                "not a sequence of values."
            ) from None
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"The columns of the input dict have different lengths: {lengths}."
        )
    indexed = [
        (key, values) for key, values in X.items() if isinstance(values, pd.Series)
    ]
    for key, values in indexed[1:]:
        # pandas would align Series on their index labels, turning one patient
        # into several half-empty rows; the columns of a dict are positional.
        if not values.index.equals(indexed[0][1].index):
            raise ValueError(
                f"The columns {indexed[0][0]!r} and {key!r} of the input dict are "
                "Series with different indexes, so their rows would be matched "
                "by index label, not by position. Pass a DataFrame, or reset "
                "the indexes (series.reset_index(drop=True)) so rows match."
            )
    return pd.DataFrame({key: _as_column(values) for key, values in X.items()})


def _as_column(values):
    """A 1-D column; cells that are arrays (images) stay whole objects."""
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values
    if any(np.ndim(value) > 0 for value in values):
        return _object_column(values)[:, 0]
    return values
