"""One modality through its transformer: present rows, batches, failed rows, its block."""

import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn import config_context
from sklearn.pipeline import Pipeline

from .._bad_cells import failure_note, locate_bad_cells
from ..exceptions import RowFailureWarning
from ..utils._sklearn_compat import (
    _check_method_params,
    _print_elapsed_time,
    _safe_indexing,
)
from ..utils._sparse import row_of_entries, zero_rows
from ..utils._table import missing_rows
from ..utils.validation import absent_everywhere_message, describe_rows


class _ModalityResult:
    """What processing one modality produces: its block and how to read it."""

    def __init__(self, transformer, block, mask, feature_names, names_declared):
        self.transformer = transformer
        self.block = block
        self.mask = mask
        self.feature_names = feature_names
        # False when the transformer gave no names and x0, x1, ... stand in.
        self.names_declared = names_declared


def _process_modality(
    trans,
    X_m,
    y,
    *,
    name,
    fit,
    params,
    weight,
    on_error,
    message,
    batch_size=None,
    template=None,
    input_names=None,
    shared=None,
):
    if shared is not None:
        return shared.process(
            trans,
            X_m,
            y,
            fit=fit,
            weight=weight,
            template=template,
            input_names=input_names,
            message=message,
        )
    present, rows, output, errors = _modality_output(
        trans,
        X_m,
        y,
        name=name,
        fit=fit,
        params=params,
        on_error=on_error,
        message=message,
        batch_size=batch_size,
        template=template,
    )
    return _modality_result(
        trans,
        output,
        present,
        rows,
        _labels_of(X_m),
        name=name,
        fit=fit,
        weight=weight,
        errors=errors,
        input_names=input_names,
    )


def _labels_of(X_m):
    return X_m.index if isinstance(X_m, pd.Series | pd.DataFrame) else None


def _modality_output(
    trans,
    X_m,
    y,
    *,
    name,
    fit,
    params,
    on_error,
    message,
    batch_size=None,
    template=None,
):
    """Fit and/or apply ``trans`` on the present rows of one modality's input.

    Returns the presence of each row's input, the present rows' positions,
    the transformer's output for them (as it returned it, or batch by batch
    as blocks) and the errors of guarded batches that were retried row by row.
    """
    labels = _labels_of(X_m)
    present = ~missing_rows(X_m)
    rows = np.flatnonzero(present)
    if fit and rows.size == 0:
        raise ValueError(absent_everywhere_message(name))
    if present.all():
        subset, y_subset = X_m, y
    else:
        subset = _safe_indexing(X_m, rows)
        y_subset = None if y is None else _safe_indexing(y, rows)
        params = {
            method: _check_method_params(X_m, method_params, indices=rows)
            for method, method_params in params.items()
        }
    guarded = on_error == "missing" and "on_error" not in trans.get_params(deep=False)
    errors = []
    with (
        _print_elapsed_time("MultimodalUnion", message),
        config_context(transform_output="default"),
    ):
        batches = None if params else batch_size

        def transform(part):
            return _transform(trans, part, params, guarded, name, errors)

        try:
            if fit and batches and not _learns_from_rows(trans):
                first = np.arange(min(batches, rows.size))
                trans.fit(
                    _safe_indexing(subset, first),
                    None if y_subset is None else _safe_indexing(y_subset, first),
                )
                output = _in_batches(transform, subset, batches, name)
            elif fit:
                output = _fit_transform(
                    trans, subset, y_subset, params, guarded, name, errors
                )
            elif rows.size:
                output = _in_batches(transform, subset, batches, name)
            else:
                output = _empty_output(*template)
        except Exception as exc:
            stage = "fit" if fit else "transform"
            if "Expected 2D array, got 1D array instead" in str(exc):
                raise ValueError(
                    f"Modality {name!r}: 1D data passed to a transformer that "
                    "expects 2D data. Try to specify the column selection as a "
                    "list of one item instead of a scalar."
                ) from exc
            located = locate_bad_cells(exc, subset, rows, labels, name, stage)
            if located is not None:
                raise located from exc
            exc.add_note(
                failure_note(exc, trans, subset, rows, labels, name, stage, params)
            )
            raise
    return present, rows, output, errors


def _modality_result(
    trans,
    output,
    present,
    rows,
    labels,
    *,
    name,
    fit,
    weight,
    errors=(),
    input_names=None,
    reported=None,
):
    """The block of one modality from its present rows' output.

    Rows that come back all-NaN are marked absent, with a RowFailureWarning
    naming those not in ``reported`` (rows already named once).
    """
    n_samples = present.size
    output_columns = output.columns if isinstance(output, pd.DataFrame) else None
    output = _as_block_output(output, name, len(rows))
    block = _scatter(output, rows, n_samples)
    failed = _all_nan_rows(block) & present
    news = failed if reported is None else failed & ~reported
    if news.any():
        _warn_failed_rows(name, np.flatnonzero(news), labels, errors)
    if failed.any():
        present &= ~failed
        if sparse.issparse(block):
            block = zero_rows(block, failed)
    if weight is not None:
        block = block * weight
    width = 0 if output is None else int(np.prod(output.shape[1:]))
    names, declared = (
        _feature_names(trans, width, input_names, output_columns)
        if fit
        else (None, True)
    )
    return _ModalityResult(trans, block, present, names, declared)


def _warn_failed_rows(name, failed, labels, errors):
    cause = (
        f"its transformer raised {errors[0]} on the batch, and on these rows alone"
        if errors
        else "they came back all-NaN from its transformer"
    )
    warnings.warn(
        f"Modality {name!r}: rows {describe_rows(failed, index=labels)} could not "
        f"be read ({cause}) and are marked absent.",
        RowFailureWarning,
        stacklevel=4,
    )


def _learns_from_rows(trans):
    """Whether fitting ``trans`` reads anything from its rows beyond their shape."""
    steps = (
        [step for _, step in trans.steps] if isinstance(trans, Pipeline) else [trans]
    )
    return any(
        getattr(step, "_learns_from_rows", True)
        for step in steps
        if not (isinstance(step, str) or step is None)
    )


def _in_batches(transform, X, batch_size, name):
    """``transform(X)``, computed batch by batch when ``batch_size`` is set."""
    n_rows = X.shape[0]
    if batch_size is None or n_rows <= batch_size:
        return transform(X)
    parts = [
        _as_block_output(
            transform(
                _safe_indexing(X, np.arange(start, min(start + batch_size, n_rows)))
            ),
            name,
            min(batch_size, n_rows - start),
        )
        for start in range(0, n_rows, batch_size)
    ]
    if sparse.issparse(parts[0]):
        return sparse.vstack(parts, format="csr")
    return np.concatenate(parts, axis=0)


def _fit_transform(trans, X, y, params, guarded, name, errors):
    if not guarded:
        if "fit_transform" in params:
            return trans.fit_transform(X, y, **params["fit_transform"])
        if not params and hasattr(trans, "fit_transform"):
            return trans.fit_transform(X, y)
    fit_params = params.get("fit", params.get("fit_transform", {}))
    trans.fit(X, y, **fit_params)
    return _transform(trans, X, params, guarded, name, errors)


def _transform(trans, X, params, guarded, name, errors):
    transform_params = params.get("transform", {})
    if not guarded:
        return trans.transform(X, **transform_params)
    return _transform_row_by_row_on_failure(trans, X, transform_params, name, errors)


def _empty_output(feature_shape, is_sparse):
    if is_sparse:
        return sparse.csr_matrix((0, *feature_shape))
    return np.empty((0, *feature_shape))


def _transform_row_by_row_on_failure(trans, X, params, name, errors):
    """Transform X; if the batch fails, retry each row and NaN-fill the failures.

    The batch's error is appended to ``errors`` so that the warning about the
    rows marked absent can say why.
    """
    try:
        return trans.transform(X, **params)
    except Exception as batch_error:
        outputs, failed = [], []
        for i in range(X.shape[0]):
            try:
                out = trans.transform(_safe_indexing(X, [i]), **params)
                outputs.append(_as_block_output(out, name, 1))
            except Exception:
                outputs.append(None)
                failed.append(i)
        done = [out for out in outputs if out is not None]
        if not done:
            raise batch_error
        errors.append(f"{type(batch_error).__name__}: {batch_error}")
        template = done[0]
        filler = _nan_row(template)
        outputs = [filler if out is None else out for out in outputs]
        if sparse.issparse(template):
            return sparse.vstack(outputs, format="csr")
        return np.concatenate(outputs, axis=0)


def _nan_row(template):
    if sparse.issparse(template):
        width = template.shape[1]
        return sparse.csr_matrix(
            (np.full(width, np.nan), (np.zeros(width, int), np.arange(width))),
            shape=(1, width),
        )
    return np.full((1, *template.shape[1:]), np.nan)


def _as_block_output(output, name, n_rows):
    if output is None:
        return None
    if isinstance(output, pd.DataFrame | pd.Series):
        output = output.to_numpy()
    if sparse.issparse(output):
        output = output.tocsr()
        if output.dtype.kind != "f":
            output = output.astype(np.float64)
    else:
        output = np.asarray(output)
        if output.ndim < 2:
            raise ValueError(
                f"The output of the {name!r} transformer should be 2D (numpy "
                "array, scipy sparse array, dataframe), or N-D such as images; "
                f"it returned a {output.ndim}-D output of shape {output.shape}."
            )
        if output.dtype.kind != "f":
            try:
                output = output.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Modality {name!r}: the transformer output is not numeric "
                    f"(dtype {output.dtype}). A block holds numbers, whatever the "
                    "output format: For a sparse output, all columns should be a "
                    "numeric or convertible to a numeric, and so should a dense "
                    "one. Give the modality a transformer that turns it into "
                    "numbers."
                ) from exc
    if output.shape[0] != n_rows:
        raise ValueError(
            f"Modality {name!r}: the transformer returned {output.shape[0]} rows "
            f"for {n_rows} input rows."
        )
    return output


def _scatter(output, rows, n_samples):
    if output is None:
        return np.full((n_samples, 0), np.nan)
    if len(rows) == n_samples:
        return output
    if sparse.issparse(output):
        selector = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, np.arange(len(rows)))),
            shape=(n_samples, len(rows)),
        )
        return (selector @ output).tocsr()
    full = np.full((n_samples, *output.shape[1:]), np.nan, dtype=output.dtype)
    full[rows] = output
    return full


def _all_nan_rows(block):
    n_samples = block.shape[0]
    if sparse.issparse(block):
        stored = np.diff(block.indptr)
        nan_entries = np.isnan(block.data)
        nan_per_row = np.bincount(
            row_of_entries(block)[nan_entries], minlength=n_samples
        )
        return (stored > 0) & (nan_per_row == stored)
    if block.size == 0:
        return np.zeros(n_samples, dtype=bool)
    return np.isnan(block.reshape(n_samples, -1)).all(axis=1)


def _feature_names(trans, width, input_names=None, output_columns=None):
    """A block's feature names, and whether they came from the transformer.

    The transformer is asked with the modality's input column names, as
    ColumnTransformer asks it; a DataFrame output's columns serve when it
    has no ``get_feature_names_out``; otherwise ``x0, x1, ...`` stand in.
    """
    names = _declared_feature_names(trans, input_names)
    if isinstance(trans, Pipeline):
        # A pipeline that starts with steps without names (an ImageLoader's
        # N-D output) names its columns from the first step that can: its
        # tail pipeline passes the names on (ImageFeatures -> StandardScaler).
        for start in range(1, len(trans)):
            if names is not None and names.shape == (width,):
                break
            names = _declared_feature_names(trans[start:])
    if (names is None or names.shape != (width,)) and output_columns is not None:
        names = np.asarray([str(c) for c in output_columns], dtype=object)
    if names is None or names.shape != (width,):
        return np.asarray([f"x{i}" for i in range(width)], dtype=object), False
    return names, True


def _declared_feature_names(trans, input_names=None):
    if input_names is not None:
        try:
            return np.asarray(trans.get_feature_names_out(input_names), dtype=object)
        except (AttributeError, TypeError, ValueError):
            pass
    try:
        return np.asarray(trans.get_feature_names_out(), dtype=object)
    except (AttributeError, TypeError, ValueError):
        return None
