"""Early fusion: concatenate the modality blocks into one feature matrix."""

import warnings
from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from .._blocks import prefixed_feature_names
from ..exceptions import PolymodalWarning
from ..utils._missing import warn_fused_rows_without_modality
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
)
from ..utils._sparse import row_of_entries, zero_rows
from ..utils._subset import ModalitySubsetMixin
from ..utils.validation import SINGLE_MODALITY
from ._base import _BlockFusion
from ._weights import check_weights

__all__ = ["ConcatFusion"]


class ConcatFusion(ModalitySubsetMixin, _BlockFusion):
    """Early fusion: concatenate the blocks, imputing absent modalities.

    For each row :math:`i` the output is

    .. math::

        z_i = [\\, w_1 s_1 \\tilde x_{i1},\\; \\dots,\\; w_M s_M \\tilde x_{iM},\\;
              p_{i1}, \\dots, p_{iM} \\,]

    where :math:`\\tilde x_{im}` is modality :math:`m`'s block row with absent
    rows and NaN cells imputed, :math:`w_m` its weight, :math:`s_m` its block
    scale and :math:`p_{im} \\in \\{0, 1\\}` its presence indicator.

    **Absent modalities.** A row where a modality is absent (mask False) gets
    that block's imputed value: the column means over the training rows where
    the modality is present (``impute="mean"``), zeros (``"zero"``), or NaN
    left for heads that handle it natively such as XGBoost and
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (``"none"``).
    NaN cells inside a present row (one missing lab value) are imputed the
    same way. With ``indicators=True`` one 0/1 column per modality tells the
    head which modalities were observed, so "absent" is never mistaken for
    "average". Any head therefore works out of the box.

    **Rows with no modality present.** Such a row is all imputed values (and
    all-zero indicators): whatever the head predicts for it rests on no
    observed data, and ConcatFusion cannot choose the head's output, so
    ``transform`` (and ``fit_transform``) emits a
    :class:`~polymodal.exceptions.MissingModalityWarning` naming those rows
    by the input's index labels. A final-step fusion such as
    :class:`~polymodal.fusion.LateFusionClassifier` predicts the training
    prior (or mean) for them instead.

    **Block scaling.** With ``scale_blocks=True``, each block is divided by
    :math:`\\sqrt{\\sum_j \\operatorname{Var}(x_{\\cdot j})}`, the square root of
    its total variance over the present training rows, so each modality enters
    with unit total variance: a 5,000-column TF-IDF block does not drown three
    clinical columns in a distance- or margin-based head. Trees are indifferent
    to it.

    Parameters
    ----------
    weights : dict of str to float, default=None
        Multiplier per modality (after scaling); modalities not named get 1.
        Naming a modality the blocks do not hold is an error.
    scale_blocks : bool, default=False
        Divide each block by the square root of its total variance (see above).
    impute : {"mean", "zero", "none"}, default="mean"
        Value written into absent rows and NaN cells.
    indicators : bool, default=True
        Append one presence indicator column per modality.
    sparse_threshold : float, default=0.3
        As in :class:`~sklearn.compose.ColumnTransformer`: when any block is
        sparse and the overall density of the output is below this value the
        output is a CSR matrix, otherwise dense. 0 always gives dense output.

    Attributes
    ----------
    fill_values_ : dict of str to ndarray
        The values imputed per modality (empty dict entries hold NaN for
        ``impute="none"``).
    scales_ : dict of str to float
        The factor applied to each block (weight times block scale).
    sparse_output_ : bool
        Whether ``transform`` returns a sparse matrix.
    n_features_in_ : int
        Total number of input features over the modalities.
    modality_names_in_ : ndarray of str
        Modality names seen during fit.
    feature_names_in_ : ndarray of str
        Column names, when fitted on a DataFrame (a plain table is one modality
        named ``"x"``).

    See Also
    --------
    polymodal.MultimodalUnion : Produces the blocks this step fuses.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> from polymodal.fusion import ConcatFusion
    >>> blocks = ModalityBlocks(
    ...     {"clinical": np.array([[1.0], [3.0], [5.0]]),
    ...      "note": np.array([[2.0, 0.0], [np.nan, np.nan], [4.0, 1.0]])},
    ...     masks={"note": [True, False, True]},
    ... )
    >>> fusion = ConcatFusion().fit(blocks)
    >>> fusion.transform(blocks)
    array([[1. , 2. , 0. , 1. , 1. ],
           [3. , 3. , 0.5, 1. , 0. ],
           [5. , 4. , 1. , 1. , 1. ]])
    >>> fusion.get_feature_names_out()
    array(['clinical__x0', 'note__x0', 'note__x1', 'presence__clinical',
           'presence__note'], dtype=object)
    """

    _parameter_constraints = {
        "weights": [dict, None],
        "scale_blocks": ["boolean"],
        "impute": [StrOptions({"mean", "zero", "none"})],
        "indicators": ["boolean"],
        "sparse_threshold": [Interval(Real, 0, 1, closed="both")],
    }

    _modality_keyed_params = ("weights",)
    _allow_nan = True

    def __init__(
        self,
        *,
        weights=None,
        scale_blocks=False,
        impute="mean",
        indicators=True,
        sparse_threshold=0.3,
    ):
        self.weights = weights
        self.scale_blocks = scale_blocks
        self.impute = impute
        self.indicators = indicators
        self.sparse_threshold = sparse_threshold

    def _fit(self, blocks, y):
        weights = check_weights(self.weights, blocks.names)
        self._feature_name_format = blocks.feature_name_format
        self.fill_values_ = {}
        self.scales_ = {}
        for name, block in blocks.items():
            present = block[blocks.masks[name]]
            means = _column_means(present)
            empty = np.isnan(means)
            if empty.any():
                warnings.warn(
                    f"Modality {name!r}: columns "
                    f"{list(blocks.feature_names[name][empty][:5])} have no value in "
                    "any present training row; they are imputed with 0.",
                    PolymodalWarning,
                    stacklevel=3,
                )
                means[empty] = 0.0
            if self.impute == "mean":
                self.fill_values_[name] = means
            elif self.impute == "zero":
                self.fill_values_[name] = np.zeros_like(means)
            else:
                self.fill_values_[name] = np.full_like(means, np.nan)
            scale = 1.0
            if self.scale_blocks:
                total_variance = _total_variance(present, means)
                scale = 1.0 / np.sqrt(total_variance) if total_variance > 0 else 1.0
            self.scales_[name] = scale * weights.get(name, 1.0)
        n_samples = len(blocks)
        any_sparse = any(sparse.issparse(b) for _, b in blocks.items())
        if any_sparse:
            nnz = sum(
                b.nnz if sparse.issparse(b) else b.size for _, b in blocks.items()
            )
            total = sum(b.shape[0] * b.shape[1] for _, b in blocks.items())
            if self.indicators:
                nnz += n_samples * len(blocks.names)
                total += n_samples * len(blocks.names)
            self.sparse_output_ = bool(total and nnz / total < self.sparse_threshold)
        else:
            self.sparse_output_ = False

    def _transform(self, blocks):
        warn_fused_rows_without_modality(
            self, blocks, self._given_to_empty_rows(), stacklevel=4
        )
        if self.sparse_output_:
            parts = [
                (block, blocks.masks[name], self.fill_values_[name], self.scales_[name])
                for name, block in blocks.items()
            ]
            if self.indicators:
                indicators = np.column_stack(
                    [blocks.masks[name] for name in blocks.names]
                )
                parts.append(
                    (
                        indicators,
                        np.ones(len(blocks), bool),
                        np.zeros(len(blocks.names)),
                        1.0,
                    )
                )
            return _stack_csr(parts, len(blocks))
        # Dense: each block is written, imputed and scaled in its own columns
        # of the output, so that no per-modality copy and no concatenated copy
        # live beside the output.
        widths = [block.shape[1] for _, block in blocks.items()]
        n_indicators = len(blocks.names) if self.indicators else 0
        output = np.empty((len(blocks), sum(widths) + n_indicators))
        start = 0
        for (name, block), width in zip(blocks.items(), widths):
            view = output[:, start : start + width]
            start += width
            mask = blocks.masks[name]
            fill_values = self.fill_values_[name]
            if sparse.issparse(block):
                filled = _fill(block, mask, fill_values) * self.scales_[name]
                _write_sparse(view, filled)
            else:
                _fill_into(view, block, mask, fill_values)
                view *= self.scales_[name]
        for column, name in enumerate(blocks.names[:n_indicators], start):
            output[:, column] = blocks.masks[name]
        return output

    def _given_to_empty_rows(self):
        given = {
            "mean": "the training means of every block",
            "zero": "zeros in every block",
            "none": "NaN in every block",
        }[self.impute]
        return given + (" and every presence indicator 0" if self.indicators else "")

    def get_feature_names_out(self, input_features=None):
        """Output feature names, prefixed by modality.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only used for a plain-array input (one modality): its column
            names, which must match ``feature_names_in_`` when that is set.
            Blocks carry their own feature names.

        Returns
        -------
        feature_names_out : ndarray of str
            ``<modality>__<feature>`` for each block column (or as the union's
            ``verbose_feature_names_out`` says), then ``presence__<modality>``
            for each indicator.
        """
        check_is_fitted(self)
        names = _prefixed_names(self, input_features)
        if self.indicators:
            names += [f"presence__{name}" for name in self.modality_names_in_]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags


def _prefixed_names(estimator, input_features):
    by_modality = dict(estimator._modality_feature_names_in)
    # Blocks carry their own names; input_features (which a Pipeline passes on
    # from the union) only names the columns of a plain-array input.
    if list(by_modality) == [SINGLE_MODALITY]:
        by_modality[SINGLE_MODALITY] = _check_feature_names_in(
            estimator, input_features
        )
    return list(
        prefixed_feature_names(
            list(by_modality.items()), estimator._feature_name_format
        )
    )


def _column_means(block):
    if sparse.issparse(block):
        block = block.tocsr()
        nan = np.isnan(block.data)
        totals = np.bincount(
            block.indices[~nan], weights=block.data[~nan], minlength=block.shape[1]
        )
        nan_counts = np.bincount(block.indices[nan], minlength=block.shape[1])
        counts = block.shape[0] - nan_counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    counts = (~np.isnan(block)).sum(axis=0)
    totals = np.nansum(block, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


def _total_variance(block, means):
    if sparse.issparse(block):
        block = block.tocsr()
        data = np.nan_to_num(block.data, nan=0.0)
        squares = np.bincount(block.indices, weights=data**2, minlength=block.shape[1])
        variances = squares / block.shape[0] - means**2
    else:
        variances = np.nanvar(block, axis=0) if block.shape[0] else means * 0
    return float(np.nansum(np.clip(variances, 0, None)))


def _fill(block, mask, fill_values):
    absent = ~mask
    if sparse.issparse(block):
        filled = zero_rows(block, absent).astype(np.float64, copy=False)
        nan = np.isnan(filled.data)
        if nan.any() and not np.isnan(fill_values).all():
            filled.data[nan] = fill_values[filled.indices[nan]]
        if absent.any() and (np.isnan(fill_values).any() or fill_values.any()):
            filler = sparse.csr_matrix(absent[:, None].astype(np.float64)) @ (
                sparse.csr_matrix(np.nan_to_num(fill_values, nan=1.0)[None, :])
            )
            if np.isnan(fill_values).all():
                filler.data[:] = np.nan
            filled = filled + filler
        return filled.tocsr()
    filled = np.array(block, dtype=np.float64)
    filled[absent] = fill_values
    nan = np.isnan(filled)
    if nan.any():
        filled[nan] = np.broadcast_to(fill_values, filled.shape)[nan]
    return filled


#: Rows imputed at a time in a dense block, bounding the NaN mask's size.
_CHUNK_ROWS = 4096
#: Entries of a sparse output written at a time (their temporaries: ~4 MiB).
_CHUNK_ENTRIES = 2**16


def _fill_into(out, block, mask, fill_values):
    """Write ``block``, imputed as :func:`_fill` does, into the view ``out``."""
    out[...] = block
    out[~mask] = fill_values
    for start in range(0, len(out), _CHUNK_ROWS):
        rows = out[start : start + _CHUNK_ROWS]
        nan = np.isnan(rows)
        if nan.any():
            np.copyto(rows, np.broadcast_to(fill_values, rows.shape), where=nan)


def _stack_csr(parts, n_rows):
    """The CSR matrix of the filled and scaled ``parts`` side by side.

    Each part is ``(block, mask, fill_values, scale)``: a dense or sparse
    block, imputed as :func:`_fill` does and multiplied by ``scale``. The
    result equals ``sparse.hstack`` of the filled parts, zeros left out, but
    is written straight into its arrays, a chunk of about
    ``_CHUNK_ENTRIES`` entries of one part at a time: no filled copy of a
    block and no intermediate format live beside it, so peak memory stays
    near the output's own size.
    """
    parts = [_SparsePart(*part) for part in parts]
    counts = np.zeros(n_rows, dtype=np.int64)
    for part in parts:
        for start, stop in part.chunks(n_rows):
            counts[start:stop] += part.entries(start, stop)[0]
    nnz = int(counts.sum())
    n_columns = sum(part.width for part in parts)
    index_dtype = (
        np.int32 if max(nnz, n_columns) <= np.iinfo(np.int32).max else np.int64
    )
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(counts, out=indptr[1:])
    del counts
    data = np.empty(nnz)
    indices = np.empty(nnz, dtype=index_dtype)
    # The next free position of each row, as the parts fill it left to right.
    cursor = indptr[:-1].astype(np.int64)
    offset = 0
    for part in parts:
        for start, stop in part.chunks(n_rows):
            row_counts, columns, values = part.entries(start, stop)
            firsts = np.cumsum(row_counts) - row_counts
            rank = np.arange(len(values)) - np.repeat(firsts, row_counts)
            positions = np.repeat(cursor[start:stop], row_counts) + rank
            data[positions] = values
            indices[positions] = columns + offset
            cursor[start:stop] += row_counts
        offset += part.width
    matrix_type = (
        sparse.csr_array
        if any(isinstance(part.block, sparse.sparray) for part in parts)
        else sparse.csr_matrix
    )
    output = matrix_type((data, indices, indptr), shape=(n_rows, n_columns))
    if not all(part.sorted_indices for part in parts):
        output.sort_indices()
    return output


class _SparsePart:
    """One block of a sparse concatenation: its entries, imputed and scaled."""

    def __init__(self, block, mask, fill_values, scale):
        if sparse.issparse(block):
            # Duplicate entries, if any, stay duplicates of the output's row:
            # they sum as they did in the block.
            block = block.tocsr()
        self.block = block
        self.mask = np.asarray(mask, dtype=bool)
        self.fill_values = np.asarray(fill_values, dtype=np.float64)
        self.scale = scale
        self.width = block.shape[1]
        self.sorted_indices = not sparse.issparse(block) or block.has_sorted_indices
        # An absent row holds the fill values that are not zero (NaN included).
        self.fill_columns = np.flatnonzero(self.fill_values != 0)

    def chunks(self, n_rows):
        """``(start, stop)`` runs of rows holding about ``_CHUNK_ENTRIES`` entries."""
        if sparse.issparse(self.block):
            per_row = max(self.block.nnz / max(n_rows, 1), self.fill_columns.size)
        else:
            per_row = self.width
        size = int(np.clip(_CHUNK_ENTRIES // max(per_row, 1), 1, _CHUNK_ROWS))
        return [(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]

    def entries(self, start, stop):
        """Per-row counts, then the columns and values, row by row, of ``start:stop``.

        Zeros are left out (NaN is kept), as ``sparse.hstack`` of the dense
        filled block would leave them out.
        """
        present = self.mask[start:stop]
        if not sparse.issparse(self.block):
            rows = np.array(self.block[start:stop], dtype=np.float64)
            _fill_into(rows, rows, present, self.fill_values)
            rows *= self.scale
            row_index, columns = np.nonzero(rows != 0)
            values = rows[row_index, columns]
        else:
            chunk = self.block[start:stop]
            row_index = row_of_entries(chunk)
            kept = present[row_index]
            row_index, columns = row_index[kept], chunk.indices[kept]
            values = chunk.data[kept]
            nan = np.isnan(values)
            values[nan] = self.fill_values[columns[nan]]
            absent = np.flatnonzero(~present)
            if absent.size and self.fill_columns.size:
                # Absent rows lie between present ones: merge the two by row.
                row_index = np.concatenate(
                    [row_index, np.repeat(absent, self.fill_columns.size)]
                )
                order = np.argsort(row_index, kind="stable")
                row_index = row_index[order]
                columns = np.concatenate(
                    [columns, np.tile(self.fill_columns, absent.size)]
                )[order]
                values = np.concatenate(
                    [values, np.tile(self.fill_values[self.fill_columns], absent.size)]
                )[order]
            values *= self.scale
            nonzero = values != 0
            row_index, columns, values = (
                row_index[nonzero],
                columns[nonzero],
                values[nonzero],
            )
        return np.bincount(row_index, minlength=stop - start), columns, values


def _write_sparse(out, block):
    """Write a sparse block into the zero-filled view ``out``, as toarray would."""
    out[...] = 0.0
    coo = block.tocoo()
    coo.sum_duplicates()
    out[coo.row, coo.col] = coo.data
