"""Input validation shared by every estimator that takes ModalityBlocks."""

import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.validation import validate_data

from .._blocks import ModalityBlocks
from ..exceptions import MissingModalityWarning

__all__ = [
    "check_present_finite",
    "check_target_present",
    "describe_row",
    "describe_rows",
    "validate_blocks",
    "warn_rows_without_modality",
]

#: Name given to a plain 2-D array when it is treated as one modality.
SINGLE_MODALITY = "x"


def describe_rows(rows, limit=5, *, index=None):
    """The first ``limit`` rows by label, with " ..." when there are more.

    Parameters
    ----------
    rows : array-like of int
        Row positions, or row labels when ``index`` is None.
    limit : int, default=5
        How many rows to name.
    index : array-like, default=None
        The input's row labels: ``rows`` are then positions in it, and the
        message names the labels (a DataFrame's index, a patient id), never
        positions inside a subset or a fold.

    Examples
    --------
    >>> import pandas as pd
    >>> from polymodal.utils.validation import describe_rows
    >>> describe_rows([3, 7])
    '[3, 7]'
    >>> describe_rows(range(5)), describe_rows(range(9))
    ('[0, 1, 2, 3, 4]', '[0, 1, 2, 3, 4] ...')
    >>> describe_rows([0, 2], index=pd.Index(["p1", "p2", "p3"]))
    "['p1', 'p3']"
    """
    rows = list(rows)
    shown = rows[:limit]
    if index is not None:
        shown = list(pd.Index(index)[np.asarray(shown, dtype=np.intp)])
    labels = [_plain(label) for label in shown]
    return f"{labels}{' ...' if len(rows) > limit else ''}"


def describe_row(row, *, index=None):
    """One row by label, as :func:`describe_rows` names each of its rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from polymodal.utils.validation import describe_row
    >>> describe_row(2, index=pd.Index(["p1", "p2", "p3"])), describe_row(4)
    ("'p3'", '4')
    """
    return repr(_plain(row if index is None else pd.Index(index)[int(row)]))


def _plain(label):
    """A numpy scalar label as the Python value it prints as."""
    return label.item() if isinstance(label, np.generic) else label


def _as_float(block):
    if block.dtype.kind == "c":
        # Casting would drop the imaginary part silently.
        return None
    if sparse.issparse(block):
        return block if block.dtype.kind == "f" else block.astype(np.float64)
    if block.dtype.kind == "f":
        return block
    try:
        return block.astype(np.float64)
    except (TypeError, ValueError):
        return None


def warn_rows_without_modality(
    empty, consequence, *, which="present", index=None, stacklevel=2
):
    """Warn, naming the rows, when some rows hold no modality a method can use.

    Parameters
    ----------
    empty : ndarray of bool
        True for the rows without a usable modality; no warning if none is.
    consequence : str
        What the method gives those rows instead ("they are predicted the
        training mean").
    which : str, default="present"
        Which modalities count, for the message ("of positive weight present").
    index : array-like, default=None
        Row labels (``blocks.index``) by which the rows are named.
    stacklevel : int, default=2
        As in :func:`warnings.warn`, counted from the caller.
    """
    if empty.any():
        warnings.warn(
            f"Rows {describe_rows(np.flatnonzero(empty), index=index)} have no "
            f"modality {which}; "
            f"{consequence}.",
            MissingModalityWarning,
            stacklevel=stacklevel + 1,
        )


def absent_everywhere_message(name):
    """The error for a modality absent in every training row."""
    return (
        f"Modality {name!r} is absent in every training row (no input cell is "
        "filled, or the transformer could not read any). Drop it from the "
        "union, or stratify the folds on its presence so that every training "
        "fold holds some of its rows."
    )


def validate_blocks(
    estimator,
    X,
    *,
    reset,
    accept_sparse=True,
    allow_nd=False,
    allow_nan=False,
):
    """Turn ``X`` into float ModalityBlocks and check it against the fit.

    ``X`` is either ModalityBlocks or a plain 2-D array-like, which becomes one
    modality named ``"x"`` present in every row (so scikit-learn's common
    checks, which know only arrays, exercise the same code). With
    ``reset=True`` this sets ``n_features_in_`` (the total width over
    modalities) and ``modality_names_in_`` on ``estimator``; otherwise it checks
    that the modalities and their widths match those seen in ``fit``.

    Parameters
    ----------
    estimator : estimator instance
        The estimator whose attributes are set or checked.
    X : ModalityBlocks or array-like of shape (n_samples, n_features)
        The input.
    reset : bool
        True in ``fit``, False in ``transform``/``predict``.
    accept_sparse : bool, default=True
        Whether sparse blocks are accepted.
    allow_nd : bool, default=False
        Whether blocks of more than two dimensions (images, one-hot sequences)
        are accepted; classic fusion rejects them and asks for an embedder.
    allow_nan : bool, default=False
        Whether NaN may appear inside present rows. Infinity never may.

    Returns
    -------
    ModalityBlocks
        Blocks in the modality order seen at fit, with float dtypes.
    """
    if not isinstance(X, ModalityBlocks):
        X = _wrap_array(estimator, X, reset, accept_sparse, allow_nan)
    elif reset and hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    blocks = {}
    for name, block in X.items():
        converted = _as_float(block)
        if converted is None:
            raise ValueError(
                f"Modality {name!r} holds non-numeric values (dtype "
                f"{block.dtype}); give it a transformer that outputs numbers."
            )
        if converted.ndim > 2 and not allow_nd:
            raise ValueError(
                f"Modality {name!r} is {converted.ndim}-D with shape "
                f"{converted.shape}; {type(estimator).__name__} needs 2-D "
                "blocks. Add an embedder to that modality's pipeline (for "
                "example image features or a CNN embedder) or use a deep head."
            )
        if sparse.issparse(converted) and not accept_sparse:
            raise TypeError(
                f"Modality {name!r} is sparse, which {type(estimator).__name__} "
                "does not accept; densify it in the modality's pipeline."
            )
        blocks[name] = converted
    X = ModalityBlocks(
        blocks,
        dict(X.masks),
        dict(X.feature_names),
        index=X.index,
        feature_name_format=X.feature_name_format,
    )
    check_present_finite(X, allow_nan=allow_nan)
    shapes = {name: block.shape[1:] for name, block in X.items()}
    if reset:
        estimator.modality_names_in_ = np.asarray(X.names, dtype=object)
        estimator.n_features_in_ = int(
            sum(np.prod(shape, dtype=np.int64) for shape in shapes.values())
        )
        estimator._modality_shapes_in = shapes
        estimator._modality_feature_names_in = dict(X.feature_names)
        for name in X.names:
            if X.shape[0] and not X.masks[name].any():
                raise ValueError(absent_everywhere_message(name))
        return X
    return _check_against_fit(estimator, X, shapes)


def _wrap_array(estimator, X, reset, accept_sparse, allow_nan):
    fitted_names = getattr(estimator, "modality_names_in_", None)
    if (
        not reset
        and fitted_names is not None
        and list(fitted_names) != [SINGLE_MODALITY]
    ):
        raise TypeError(
            f"{type(estimator).__name__} was fitted on the modalities "
            f"{list(fitted_names)}; pass ModalityBlocks (the output of a "
            "MultimodalUnion), not a plain array."
        )
    array = validate_data(
        estimator,
        X,
        reset=reset,
        accept_sparse=["csr", "csc"] if accept_sparse else False,
        dtype=[np.float64, np.float32],
        ensure_all_finite="allow-nan" if allow_nan else True,
    )
    names = getattr(estimator, "feature_names_in_", None)
    return ModalityBlocks(
        {SINGLE_MODALITY: array},
        feature_names=None if names is None else {SINGLE_MODALITY: names},
    )


def _check_against_fit(estimator, X, shapes):
    fitted = estimator._modality_shapes_in
    missing = [name for name in fitted if name not in shapes]
    extra = [name for name in shapes if name not in fitted]
    if missing or extra:
        raise ValueError(
            f"{type(estimator).__name__} was fitted on the modalities "
            f"{list(fitted)}; got {list(shapes)} (missing: {missing}, "
            f"unexpected: {extra})."
        )
    for name, shape in fitted.items():
        if shapes[name] != shape:
            raise ValueError(
                f"Modality {name!r} has {_describe(shapes[name])}, but "
                f"{type(estimator).__name__} is expecting {_describe(shape)} "
                "as input, as in fit."
            )
    if list(shapes) != list(fitted):
        X = ModalityBlocks(
            {name: X[name] for name in fitted},
            {name: X.masks[name] for name in fitted},
            {name: X.feature_names[name] for name in fitted},
            index=X.index,
            feature_name_format=X.feature_name_format,
        )
    return X


def _describe(shape):
    if len(shape) == 1:
        return f"{shape[0]} features"
    return f"feature shape {shape}"


def check_target_present(estimator, y):
    """Raise a ValueError naming the rows where the target ``y`` is missing.

    A missing label (None, NaN, ``pd.NA``) would otherwise surface as a bare
    sorting TypeError inside numpy or as scikit-learn's "Input y contains NaN",
    neither of which says which patients lack a label. Rows are named by the
    index labels of a pandas ``y``.

    Parameters
    ----------
    estimator : estimator instance or str
        The estimator being fitted (or the function's name), for the message.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        The target.
    """
    owner = estimator if isinstance(estimator, str) else type(estimator).__name__
    labels = y.index if isinstance(y, pd.Series | pd.DataFrame) else None
    values = np.asarray(y)
    if values.ndim == 0 or (values.dtype.kind not in "fcOSUmM"):
        return
    missing = np.asarray(pd.isna(values), dtype=bool).reshape(len(values), -1)
    rows = np.flatnonzero(missing.any(axis=1))
    if rows.size:
        raise ValueError(
            f"{owner}: y is missing (None or NaN) in rows "
            f"{describe_rows(rows, index=labels)} ({rows.size} of {len(values)}). "
            "Drop those rows or fill in their targets before fitting."
        )


def check_present_finite(blocks, *, allow_nan):
    """Raise a ValueError for infinite values, or NaN, inside present rows.

    The message names the modality, the first offending column and the first
    offending rows. Absent rows are not looked at: their values carry no
    meaning.

    Parameters
    ----------
    blocks : ModalityBlocks
        Blocks to check.
    allow_nan : bool
        Whether NaN inside a present row is accepted (it is for estimators that
        impute, such as ConcatFusion).
    """
    for name, block in blocks.items():
        bad = _non_finite(block, blocks.masks[name], allow_nan)
        if bad is None:
            continue
        rows, columns = bad
        column = (
            blocks.feature_names[name][columns[0]]
            if block.ndim == 2
            else (f"flat position {columns[0]}")
        )
        kind = "NaN or infinity" if not allow_nan else "infinity"
        advice = (
            "Add an imputer (for example sklearn.impute.SimpleImputer) to that "
            "modality's pipeline, or use ConcatFusion, which imputes."
            if not allow_nan
            else "Replace infinite values in that modality's pipeline."
        )
        raise ValueError(
            f"Input X contains {kind} in modality {name!r}, column {column!r}, "
            f"present rows {describe_rows(np.unique(rows), index=blocks.index)}. "
            f"{advice}"
        )


def _non_finite(block, mask, allow_nan):
    """Rows and columns of the bad values inside present rows, or None.

    One pass over the block, without copying its present rows.
    """
    if sparse.issparse(block):
        if np.isfinite(block.data).all():
            return None
        coo = block.tocoo()
        bad = np.isinf(coo.data) if allow_nan else ~np.isfinite(coo.data)
        bad &= mask[coo.row]
        if not bad.any():
            return None
        return coo.row[bad], coo.col[bad]
    bad = np.isinf(block) if allow_nan else ~np.isfinite(block)
    # The new boolean array, not the block, is flattened: a view, where a
    # block that is not contiguous would be copied.
    bad = bad.reshape(block.shape[0], int(np.prod(block.shape[1:])))
    bad_rows = np.flatnonzero(bad.any(axis=1) & mask)
    if not bad_rows.size:
        return None
    rows_in_bad, columns = np.nonzero(bad[bad_rows])
    return bad_rows[rows_in_bad], columns
