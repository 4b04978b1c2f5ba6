"""Steps that learn nothing from rows, run once on a whole table and sliced per fold."""

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from scipy import sparse
from sklearn import config_context
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel

from ..utils._parallel import (
    AlignedOnArrival,
    reissue_warnings,
    task,
    worker_calls,
)
from ..utils._sklearn_compat import (
    _num_samples,
    _print_elapsed_time,
    _safe_indexing,
)
from ..utils._table import missing_rows
from ..utils.validation import absent_everywhere_message
from ._modality import (
    _all_nan_rows,
    _as_block_output,
    _empty_output,
    _in_batches,
    _labels_of,
    _learns_from_rows,
    _modality_output,
    _modality_result,
    _warn_failed_rows,
)

__all__ = [
    "RowIndependentSteps",
    "fit_after_union",
    "fit_pipeline",
    "fit_union",
    "row_independent_steps",
]


def row_independent_steps(union, X, *, n_jobs=None):
    """The union's row-independent steps run once on all of ``X``, or None.

    Each modality whose transformer learns nothing from its rows (its
    ``_learns_from_rows`` is False, for a pipeline that of its leading steps)
    is fitted and applied once to every row; each fold's union and the final
    refit slice that output and fit only the steps that learn from rows. An
    image's features do not depend on which other rows share its fold, so
    the blocks, the fitted steps, and therefore every score, are those of
    refitting every step per fold. None when no modality qualifies. With
    ``n_jobs``, each modality's rows are split into that many chunks computed
    in parallel.
    """
    shared = RowIndependentSteps(union, X, n_jobs=n_jobs)
    return shared if shared.modalities else None


def fit_pipeline(pipe, X, y, shared, rows=None):
    """``pipe.fit(X, y)`` for a Pipeline whose first step is the union.

    With ``shared`` (from :func:`row_independent_steps` on a table whose
    rows ``rows``, all by default, are ``X``) the union's row-independent
    steps are not run again; the later steps are fitted as ``Pipeline.fit``
    fits them.
    """
    if shared is None:
        return pipe.fit(X, y)
    _, union = pipe.steps[0]
    return fit_after_union(pipe, union, fit_union(union, X, y, shared, rows), y)


def fit_union(union, X, y, shared, rows=None):
    """``union.fit_transform(X, y)``, sparing the steps ``shared`` holds, if any."""
    if shared is None:
        return union.fit_transform(X, y)
    if rows is None:
        rows = np.arange(_num_samples(X))
    return shared.fit_transform(union, X, y, rows)


def fit_after_union(pipe, union, blocks, y):
    """``pipe`` with the fitted ``union`` first and its later steps fitted on ``blocks``.

    ``blocks`` is what ``union`` gave when it was fitted; the later steps are
    fitted as ``Pipeline.fit`` fits them.
    """
    name, _ = pipe.steps[0]
    pipe.steps[0] = (name, union)
    Xt = blocks
    for _, step in pipe.steps[1:-1]:
        if step is not None and not (isinstance(step, str) and step == "passthrough"):
            Xt = step.fit_transform(Xt, y)
    _, final = pipe.steps[-1]
    if final is not None and not (isinstance(final, str) and final == "passthrough"):
        final.fit(Xt, y)
    return pipe


class RowIndependentSteps:
    """Each modality's steps that learn nothing from rows, run once on a table.

    A transformer whose ``fit`` reads nothing from its rows but their shape
    and validity declares ``_learns_from_rows = False`` (see
    :class:`~polymodal.utils._transformers.ModalityTransformer`); its output
    for a row is then the same whichever rows it was fitted on and whichever
    rows share its batch. Such a transformer, or the leading steps of a
    pipeline that are all such (``ImageLoader -> ImageFeatures`` with a fixed
    intensity range, then a ``StandardScaler`` that does learn), is fitted
    once and applied once to every row of ``X``; a union fitted on a subset
    of those rows (a cross-validation fold, the final refit) then slices
    their output and fits only the steps that follow, through
    :meth:`fit_transform` and :meth:`transform`. Its blocks, masks, feature
    names and fitted steps are those a union fitted on the subset gives.

    Rows whose row-independent output is all-NaN (unreadable) are named once,
    here, by a RowFailureWarning, instead of once per fold.

    Not shared: a modality whose first step learns from rows, one guarded by
    the union's ``on_error="missing"`` (its row-by-row retries depend on the
    batch), and "passthrough".

    Parameters
    ----------
    union : MultimodalUnion
        Unfitted; its transformers are cloned, not fitted.
    X : DataFrame or array-like of shape (n_samples, n_columns)
        The whole table; later unions see subsets of its rows.
    n_jobs : int, default=None
        Each modality's rows are computed in this many chunks in parallel.
    """

    def __init__(self, union, X, *, n_jobs=None):
        resolver = clone(union)
        resolver._validate_transformers()
        X = resolver._check_input(X, reset=True)
        resolver._input_columns, resolver._columns = resolver._resolve_columns(X)
        self.modalities = {}
        for name, trans in resolver._processed_specs():
            if isinstance(trans, str):
                continue
            if union.on_error == "missing" and "on_error" not in trans.get_params(
                deep=False
            ):
                continue
            n_steps = _row_independent_steps(trans)
            if not n_steps:
                continue
            prefix = clone(trans)
            if isinstance(trans, Pipeline) and n_steps < len(trans.steps):
                prefix = prefix[:n_steps]
            X_m = resolver._select(X, *resolver._input_columns[name])
            self.modalities[name] = _SharedModality(
                prefix, n_steps, X_m, name, resolver.batch_size, n_jobs
            )

    def __contains__(self, name):
        return name in self.modalities

    def fit_transform(self, union, X, y, rows):
        """``union.fit_transform(X, y)``, where ``X`` is the rows ``rows`` of the table.

        The modalities held here are sliced, and only their steps that learn
        from rows are fitted; the union's fitted state and blocks are those
        of ``fit_transform`` on ``X``.
        """
        return union._fit_transform_sharing(X, y, self, rows)

    def transform(self, union, X, rows):
        """``union.transform(X)`` for a union fitted by :meth:`fit_transform`."""
        return union._transform_sharing(X, self, rows)

    def part(self, name, rows):
        """The modality ``name`` bound to the rows ``rows``, or None if not held."""
        if name not in self.modalities:
            return None
        return _BoundShared(self.modalities[name], rows)

    def __sizeof__(self):
        # What dask's ``sizeof`` reads: over 1 kB, joblib's dask backend
        # scatters the record once per call instead of sending it with every
        # fold's task.
        return object.__sizeof__(self) + sum(
            modality.nbytes for modality in self.modalities.values()
        )


class _SharedModality:
    """One modality's row-independent steps, fitted and applied on every row."""

    def __init__(self, prefix, n_steps, X_m, name, batch_size, n_jobs):
        present = ~missing_rows(X_m)
        rows = np.flatnonzero(present)
        n_chunks = min(effective_n_jobs(n_jobs), rows.size)
        output = None
        if n_chunks > 1:
            output = _output_in_chunks(prefix, X_m, rows, n_chunks, name, batch_size)
        if output is None:
            present, rows, output, _ = _modality_output(
                prefix,
                X_m,
                None,
                name=name,
                fit=True,
                params={},
                on_error="raise",
                message=None,
                batch_size=batch_size,
            )
        failed_rows = _all_nan_rows(_as_block_output(output, name, rows.size))
        labels = _labels_of(X_m)
        if failed_rows.any():
            _warn_failed_rows(name, rows[failed_rows], labels, ())
        self.name = name
        self.prefix = prefix
        self.n_steps = n_steps
        self.present = present
        self.failed = np.zeros(present.size, dtype=bool)
        self.failed[rows[failed_rows]] = True
        # Where each present row's output lies in ``output``.
        self.position = np.cumsum(present) - 1
        self.output = output
        self.labels = labels

    @property
    def nbytes(self):
        """Bytes of the output (dense, sparse or a table), for dask's sizeof."""
        if sparse.issparse(self.output):
            return sum(
                part.nbytes
                for part in (self.output.data, self.output.indices, self.output.indptr)
            )
        if isinstance(self.output, pd.DataFrame):
            return int(self.output.memory_usage(deep=True).sum())
        return int(getattr(self.output, "nbytes", 0))

    def process(
        self, trans, X_m, y, rows, *, fit, weight, template, input_names, message
    ):
        """What ``_process_modality`` gives for the rows ``rows`` of the table."""
        rows_in = np.asarray(rows)
        # A cell removed since (a modality-removal curve) makes its row absent.
        present = ~missing_rows(X_m)
        if (present & ~self.present[rows_in]).any():
            raise ValueError(
                f"Modality {self.name!r}: rows are present that were absent when "
                "its row-independent steps were computed."
            )
        kept = np.flatnonzero(present)
        if fit and kept.size == 0:
            raise ValueError(absent_everywhere_message(self.name))
        whole = not isinstance(trans, Pipeline) or self.n_steps == len(trans.steps)
        if fit:
            if whole:
                trans = self.prefix
            else:
                trans.steps = [*self.prefix.steps, *trans.steps[self.n_steps :]]
        with (
            _print_elapsed_time("MultimodalUnion", message),
            config_context(transform_output="default"),
        ):
            if not kept.size:
                output = _empty_output(*template)
            else:
                output = _safe_indexing(self.output, self.position[rows_in[kept]])
                if not whole:
                    tail = trans[self.n_steps :]
                    if fit:
                        y_kept = None if y is None else _safe_indexing(y, kept)
                        output = tail.fit_transform(output, y_kept)
                    else:
                        output = tail.transform(output)
        labels = None if self.labels is None else self.labels[rows_in]
        return _modality_result(
            trans,
            output,
            present,
            kept,
            labels,
            name=self.name,
            fit=fit,
            weight=weight,
            input_names=input_names,
            reported=self.failed[rows_in],
        )


def _output_in_chunks(prefix, X_m, rows, n_chunks, name, batch_size):
    """The row-independent ``prefix`` on the present rows, chunks in parallel.

    ``prefix`` is fitted on the first row (it learns nothing from rows), then
    each of ``n_chunks`` runs of ``rows`` is transformed by its own task, in
    batches of ``batch_size``. The result is the output of
    ``prefix.fit_transform`` on those rows, row for row. None when a chunk
    fails, or when the output is of a kind that cannot be stacked: the serial
    computation then runs instead, and raises the error naming the bad rows.
    """
    chunks = np.array_split(rows, n_chunks)
    try:
        with config_context(transform_output="default"):
            prefix.fit(_safe_indexing(X_m, rows[:1]))
        results = Parallel(n_jobs=n_chunks)(
            worker_calls(
                task(
                    _chunk_output, prefix, _safe_indexing(X_m, chunk), name, batch_size
                )
                for chunk in chunks
            )
        )
    except Exception:
        return None
    outputs = [AlignedOnArrival.unwrap(output) for output, _ in results]
    if all(isinstance(output, np.ndarray) for output in outputs):
        output = np.concatenate(outputs, axis=0)
    elif all(sparse.issparse(output) for output in outputs):
        output = sparse.vstack(outputs, format=outputs[0].format)
    elif all(isinstance(output, pd.DataFrame) for output in outputs):
        output = pd.concat(outputs)
    else:
        return None
    # Past this helper and the constructors of the record and its modality.
    reissue_warnings((caught for _, caught in results), stacklevel=4)
    return output


def _chunk_output(prefix, X_chunk, name, batch_size):
    with config_context(transform_output="default"):
        return _in_batches(prefix.transform, X_chunk, batch_size, name)


class _BoundShared:
    """One held modality and the rows of the table a union is fitted on."""

    def __init__(self, modality, rows):
        self.modality = modality
        self.rows = rows

    def process(self, trans, X_m, y, **kwargs):
        return self.modality.process(trans, X_m, y, self.rows, **kwargs)


def _row_independent_steps(trans):
    """How many leading steps of ``trans`` learn nothing from rows (0 or 1 if not a pipeline)."""
    if not isinstance(trans, Pipeline):
        return 0 if _learns_from_rows(trans) else 1
    count = 0
    for _, step in trans.steps:
        if not (isinstance(step, str) or step is None) and getattr(
            step, "_learns_from_rows", True
        ):
            break
        count += 1
    # Leading "passthrough" steps alone share nothing worth computing once.
    steps = [s for _, s in trans.steps[:count] if not (isinstance(s, str) or s is None)]
    return count if steps else 0
