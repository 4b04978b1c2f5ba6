"""Which cell made a modality's transformer fail, told by modality, column and row.

Third-party transformers fail on a bad cell with a message that names neither
the column nor the row; the union hands their exception here to find the cell.
"""

import ast
import re
import reprlib
from collections import Counter
from functools import partial
from numbers import Real

import numpy as np
import pandas as pd

from .utils._sklearn_compat import _num_samples, _safe_indexing
from .utils._table import cells_frame
from .utils.validation import describe_row, describe_rows

__all__ = ["failure_note", "locate_bad_cells"]


def locate_bad_cells(exc, X, rows, labels, name, stage):
    """An error naming modality, column, rows and value for a cell-level failure.

    Third-party transformers (StandardScaler, OneHotEncoder, TfidfVectorizer,
    ...) fail on a non-numeric string, an infinite value, a NaN, an unseen
    category or a cell of another type than its column's (an int among
    notes) with a message that names neither the column nor the rows. When
    the cells that caused ``exc`` can be found in ``X`` (the rows ``rows`` of
    the modality's input, whose labels are ``labels``), return the clearer
    error; else None.
    """
    if not isinstance(exc, ValueError | TypeError):
        return _locate_odd_type(exc, X, rows, labels, name, stage)
    text = str(exc)
    if "y contains" in text:
        # The target's fault, not the modality's cells.
        return None
    labelled = isinstance(X, pd.Series | pd.DataFrame)
    if not labelled and not (isinstance(X, np.ndarray) and X.ndim in (1, 2)):
        return None
    frame = cells_frame(X)
    categories = re.search(r"unknown categories (\[.*\]) in column (\d+)", text)
    if any(
        phrase in text
        for phrase in (
            "could not convert",
            "must be a string or a real number",
            "could not be promoted",
        )
    ):
        what, test = "non-numeric values such as {}", _not_a_number
        advice = "convert the column to numbers or give the modality an encoder"
    elif "infinity" in text:
        what, test = "infinite values such as {}", _is_infinite
        advice = "replace infinite values before the modality's transformer"
    elif "contains NaN" in text:
        what, test = "NaN values", _is_nan_cell
        advice = "add an imputer (sklearn.impute.SimpleImputer) to its pipeline"
    elif categories is not None and int(categories.group(2)) < frame.shape[1]:
        try:
            unseen = set(ast.literal_eval(categories.group(1)))
        except (ValueError, SyntaxError, TypeError):
            return None
        frame = frame.iloc[:, [int(categories.group(2))]]
        what = "categories not seen in fit such as {}"
        test = partial(_in_set, values=unseen)
        advice = "set handle_unknown='ignore' on the encoder, or fix the values"
    else:
        return _locate_odd_type(exc, X, rows, labels, name, stage)
    for column, values in frame.items():
        bad = np.fromiter((test(v) for v in values), dtype=bool, count=len(values))
        if bad.any():
            positions = np.flatnonzero(bad)
            example = values.iloc[positions[0]]
            if isinstance(example, np.generic):
                example = example.item()
            column = repr(column) if labelled else f"{column} (of its own columns)"
            return ValueError(
                f"Modality {name!r}, column {column}, rows "
                f"{describe_rows(np.asarray(rows)[positions], index=labels)}: "
                + what.format(reprlib.repr(example))
                + f" made its transformer fail during {stage}: {advice}."
            )
    return None


def _locate_odd_type(exc, X, rows, labels, name, stage):
    """A TypeError for a cell whose type differs from the rest of its column.

    An int among strings is what makes a text vectorizer fail with an
    AttributeError that names no row: the cell is found from the types alone.
    polymodal's own transformers name their bad cells themselves.
    """
    if _raised_by_polymodal(exc) or not isinstance(
        X, pd.Series | pd.DataFrame | np.ndarray
    ):
        return None
    frame = cells_frame(X)
    for column, values in frame.items():
        if values.dtype != object:
            continue
        kinds = np.asarray([_cell_kind(v) for v in values], dtype=object)
        filled = kinds != "missing"
        counts = Counter(kinds[filled])
        if len(counts) < 2:
            continue
        usual = counts.most_common(1)[0][0]
        positions = np.flatnonzero(filled & (kinds != usual))
        example = values.iloc[positions[0]]
        column = (
            repr(column)
            if isinstance(X, pd.Series | pd.DataFrame)
            else f"{column} (of its own columns)"
        )
        return TypeError(
            f"Modality {name!r}, column {column}, rows "
            f"{describe_rows(np.asarray(rows)[positions], index=labels)}: the value "
            f"{reprlib.repr(example)} ({type(example).__name__}) among {usual} "
            f"values made its transformer fail during {stage} "
            f"({type(exc).__name__}: {exc}). Make the column's cells one type "
            "(for text, df[column].astype('string')), or mark the cell missing."
        )
    return None


def _positions_as_labels(exc, rows, labels):
    """The table's labels of the row positions an error message names.

    Steps after a loader (image features, a CNN) see arrays, so they name rows
    by position among the rows they were given: the modality's present rows.
    """
    if labels is None:
        return ""
    mentioned = re.findall(r"\brows \[([\d, ]+)\]", str(exc))
    positions = [int(p) for group in mentioned for p in group.split(",") if p.strip()]
    positions = [p for p in dict.fromkeys(positions) if p < len(rows)]
    if not positions:
        return ""
    return (
        f"; row positions in the message count the {len(rows)} rows given to "
        "the transformer, which are the rows labelled "
        + ", ".join(
            f"{p} -> {describe_row(np.asarray(rows)[p], index=labels)}"
            for p in positions
        )
    )


def _raised_by_polymodal(exc):
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    return frame.tb_frame.f_globals.get("__name__", "").startswith("polymodal.")


def _cell_kind(value):
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "missing"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, Real):
        return "numeric"
    return type(value).__name__


def failure_note(exc, trans, X, rows, labels, name, stage, params):
    """Where a transformer failure arose: modality, columns and, if found, the row.

    At transform, the rows are retried one by one (the batch failed anyway) to
    name the first row that fails alone and its value.
    """
    columns = (
        [str(c) for c in cells_frame(X).columns]
        if isinstance(X, pd.Series | pd.DataFrame)
        else None
    )
    where = f", columns {columns}" if columns else ""
    note = (
        f"polymodal: raised by the transformer of modality {name!r}{where} "
        f"({type(trans).__name__}) during {stage}"
    ) + _positions_as_labels(exc, rows, labels)
    if stage != "transform" or _num_samples(X) < 2:
        return note + "."
    transform_params = params.get("transform", {})
    for i in range(_num_samples(X)):
        try:
            trans.transform(_safe_indexing(X, [i]), **transform_params)
        except Exception:
            cells = cells_frame(X).iloc[i].tolist()
            value = cells[0] if len(cells) == 1 else cells
            return (
                f"{note}; the first row that fails alone is "
                f"{describe_row(np.asarray(rows)[i], index=labels)} "
                f"(value {reprlib.repr(value)})."
            )
    return note + "; no single row fails alone."


def _not_a_number(value):
    if isinstance(value, str | bytes):
        try:
            float(value)
        except ValueError:
            return True
        return False
    return not (pd.api.types.is_scalar(value) and (value is None or _is_real(value)))


def _is_real(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_infinite(value):
    return _is_real(value) and not isinstance(value, str) and np.isinf(float(value))


def _is_nan_cell(value):
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


def _in_set(value, values):
    try:
        return value in values
    except TypeError:
        return False
