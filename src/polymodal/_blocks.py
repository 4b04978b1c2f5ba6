"""ModalityBlocks: the row-aligned container that passes between union and fusion."""

from collections import Counter
from numbers import Integral, Real
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import sparse

from .utils._optional import import_optional

__all__ = ["ModalityBlocks", "prefixed_feature_names"]

#: How the step that turns blocks into columns names them by default.
DEFAULT_NAME_FORMAT = "{transformer_name}__{feature_name}"


def prefixed_feature_names(per_modality, name_format=True):
    """Output column names from each modality's unprefixed feature names.

    Parameters
    ----------
    per_modality : list of (str, array-like of str)
        Modality names with their feature names, in output order.
    name_format : bool, str or callable, default=True
        What :class:`~sklearn.compose.ColumnTransformer`'s
        ``verbose_feature_names_out`` takes: True for
        ``<modality>__<feature>``; a format string with the fields
        ``{transformer_name}`` and ``{feature_name}``; a callable
        ``(modality, feature) -> str``; or False for the bare feature names,
        which must then be unique.

    Returns
    -------
    ndarray of str

    Examples
    --------
    >>> from polymodal._blocks import prefixed_feature_names
    >>> prefixed_feature_names([("note", ["cough"]), ("lab", ["crp"])])
    array(['note__cough', 'lab__crp'], dtype=object)
    >>> prefixed_feature_names([("note", ["cough"])], "{feature_name}@{transformer_name}")
    array(['cough@note'], dtype=object)
    """
    if isinstance(name_format, bool | np.bool_):
        name_format = DEFAULT_NAME_FORMAT if name_format else None
    if name_format is None:
        names = [name for _, features in per_modality for name in features]
        counts = Counter(names)
        repeated = sorted(name for name, count in counts.most_common(6) if count > 1)
        if repeated:
            shown = (
                str(repeated[:5])[:-1] + ", ...]"
                if len(repeated) == 6
                else str(repeated)
            )
            raise ValueError(
                f"Output feature names: {shown} are not unique. Please set "
                "verbose_feature_names_out=True to add prefixes to feature names"
            )
        return np.asarray(names, dtype=object)
    if isinstance(name_format, str):
        rename = lambda modality, feature: name_format.format(  # noqa: E731
            transformer_name=modality, feature_name=feature
        )
    else:
        rename = name_format
    return np.asarray(
        [
            rename(modality, name)
            for modality, features in per_modality
            for name in features
        ],
        dtype=object,
    )


def _n_rows(block):
    return block.shape[0]


def _default_feature_names(block):
    width = int(np.prod(block.shape[1:], dtype=np.int64))
    return np.asarray([f"x{i}" for i in range(width)], dtype=object)


def _as_block(name, block):
    if sparse.issparse(block):
        if block.ndim != 2:
            raise ValueError(f"Modality {name!r}: a sparse block must be 2-D.")
        return block if block.format in ("csr", "csc") else block.tocsr()
    block = np.asarray(block)
    if block.ndim < 2:
        raise ValueError(
            f"Modality {name!r}: a block must have at least 2 dimensions "
            f"(n_samples, n_features); got shape {block.shape}. Reshape a single "
            "feature with block.reshape(-1, 1)."
        )
    return block


def _as_mask(name, mask):
    """A presence mask as bool; 0/1 numbers are accepted, anything else is an error.

    ``np.asarray(mask, dtype=bool)`` would turn ``"no"`` or ``2`` or ``None``
    into a presence flag silently, deciding which patients hold a modality.
    """
    values = np.asarray(mask)
    if values.dtype == bool:
        return values
    if values.dtype.kind in "iuf" and np.isin(values, (0, 1)).all():
        return values.astype(bool)
    flags = [
        isinstance(v, bool | np.bool_) or (isinstance(v, Real) and v in (0, 1))
        for v in values.ravel().tolist()
    ]
    if all(flags):
        return values.astype(bool)
    bad = [v for v, ok in zip(values.ravel().tolist(), flags) if not ok][:3]
    raise TypeError(
        f"Modality {name!r}: the presence mask must hold booleans (or 0/1); got "
        f"values such as {bad!r}. Build the mask with the rows where the modality "
        "is present as True."
    )


class ModalityBlocks:
    """Row-aligned feature blocks, one per modality, with presence masks.

    ``ModalityBlocks`` is what :class:`~polymodal.MultimodalUnion` returns and
    what every fusion step takes. It behaves like a sample-indexed container
    (as skorch's ``SliceDict``): ``len(blocks)`` and ``blocks.shape[0]`` are the
    number of rows and ``blocks[rows]`` selects rows, so scikit-learn's
    cross-validation and meta-estimators can split it. A string key selects a
    modality.

    Parameters
    ----------
    blocks : dict of str to array-like or sparse matrix
        One block per modality, all with the same number of rows. A block is a
        2-D array ``(n_samples, n_features)``, a scipy sparse matrix, or an N-D
        array for the deep heads (images as ``(n, C, H, W)``, one-hot sequences
        as ``(n, alphabet, L)``).
    masks : dict of str to array-like of bool, default=None
        ``masks[name][i]`` is True when modality ``name`` is present for row
        ``i``. The masks are authoritative: the values in absent rows
        (NaN for dense blocks, empty rows for sparse blocks) carry no meaning.
        A modality without a mask is present in every row.
    feature_names : dict of str to array-like of str, default=None
        Unprefixed names of each block's columns; ``x0, x1, ...`` where not
        given. Modality prefixes are added by the step that turns blocks into
        columns.
    index : array-like of shape (n_samples,), default=None
        The row labels of the table the blocks come from (the DataFrame's
        index). Messages name rows by these labels, and fusion steps with
        pandas output use them as the output's index. None means positions
        ``0 .. n_samples - 1``. Blocks that hold no modality (every modality
        of a union dropped) need it to know their number of rows.
    feature_name_format : bool, str or callable, default=True
        How the step that turns the blocks into columns names them (see
        :func:`prefixed_feature_names`): the union's
        ``verbose_feature_names_out``.

    Attributes
    ----------
    names : tuple of str
        The modality names, in the order they were given.
    masks : mapping of str to ndarray of bool
        Read-only view of the presence masks.
    feature_names : mapping of str to ndarray of str
        Read-only view of the feature names.
    shape : tuple of int
        ``(n_samples,)``.
    index : pandas.Index
        The row labels (a RangeIndex when none were given).
    feature_name_format : bool, str or callable
        As given.

    See Also
    --------
    polymodal.MultimodalUnion : Produces ModalityBlocks from a patient table.

    Examples
    --------
    >>> import numpy as np
    >>> from polymodal import ModalityBlocks
    >>> blocks = ModalityBlocks(
    ...     {"clinical": np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
    ...      "note": np.array([[0.1], [np.nan], [0.3]])},
    ...     masks={"note": [True, False, True]},
    ... )
    >>> len(blocks), blocks.names
    (3, ('clinical', 'note'))
    >>> blocks["note"].ravel()
    array([0.1, nan, 0.3])
    >>> blocks[[0, 2]].masks["note"]
    array([ True,  True])
    """

    def __init__(
        self,
        blocks,
        masks=None,
        feature_names=None,
        index=None,
        feature_name_format=True,
    ):
        if not isinstance(blocks, dict) or (not blocks and index is None):
            raise TypeError(
                "ModalityBlocks takes a dict mapping modality names to blocks "
                "(an empty dict only with an index, which gives the number of "
                f"rows); got {type(blocks).__name__}."
            )
        masks = {} if masks is None else dict(masks)
        feature_names = {} if feature_names is None else dict(feature_names)
        unknown = (set(masks) | set(feature_names)) - set(blocks)
        if unknown:
            raise ValueError(
                f"Masks or feature names given for modalities {sorted(unknown)} "
                f"that have no block; the blocks are {list(blocks)}."
            )
        self._blocks = {}
        self._masks = {}
        self._feature_names = {}
        n_samples = None
        for name, block in blocks.items():
            if not isinstance(name, str):
                raise TypeError(f"Modality names must be str; got {name!r}.")
            block = _as_block(name, block)
            if n_samples is None:
                n_samples = _n_rows(block)
            elif _n_rows(block) != n_samples:
                raise ValueError(
                    f"Modality {name!r} has {_n_rows(block)} rows but modality "
                    f"{next(iter(blocks))!r} has {n_samples}; all blocks must be "
                    "row-aligned."
                )
            mask = masks.get(name)
            mask = (
                np.ones(n_samples, dtype=bool) if mask is None else _as_mask(name, mask)
            )
            if mask.shape != (n_samples,):
                raise ValueError(
                    f"Modality {name!r}: mask has shape {mask.shape}, expected "
                    f"({n_samples},)."
                )
            names = feature_names.get(name)
            names = (
                _default_feature_names(block)
                if names is None
                else np.asarray(names, dtype=object)
            )
            width = int(np.prod(block.shape[1:], dtype=np.int64))
            if names.shape != (width,):
                raise ValueError(
                    f"Modality {name!r}: {names.shape[0]} feature names for "
                    f"{width} features."
                )
            self._blocks[name] = block
            self._masks[name] = mask
            self._feature_names[name] = names
        if n_samples is None:
            n_samples = len(index)
        self._n_samples = n_samples
        self.feature_name_format = feature_name_format
        self._index = None
        if index is not None:
            index = pd.Index(index)
            if len(index) != n_samples:
                raise ValueError(
                    f"The index has {len(index)} labels for {n_samples} rows."
                )
            if not (
                isinstance(index, pd.RangeIndex)
                and index.equals(pd.RangeIndex(n_samples))
            ):
                self._index = index

    @classmethod
    def _from_parts(cls, blocks, masks, feature_names, n_samples, index, name_format):
        # Row selection reuses validated parts without re-checking them.
        new = cls.__new__(cls)
        new.feature_name_format = name_format
        new._blocks = blocks
        new._masks = masks
        new._feature_names = feature_names
        new._n_samples = n_samples
        new._index = index
        return new

    @property
    def names(self):
        """Modality names, in order."""
        return tuple(self._blocks)

    @property
    def masks(self):
        """Presence masks by modality (read-only mapping)."""
        return MappingProxyType(self._masks)

    @property
    def feature_names(self):
        """Unprefixed feature names by modality (read-only mapping)."""
        return MappingProxyType(self._feature_names)

    @property
    def index(self):
        """Row labels (a :class:`pandas.Index`; positions when none were given)."""
        if self._index is None:
            return pd.RangeIndex(self._n_samples)
        return self._index

    @property
    def shape(self):
        """``(n_samples,)``, so that scikit-learn counts rows correctly."""
        return (self._n_samples,)

    def __len__(self):
        return self._n_samples

    def __contains__(self, name):
        return name in self._blocks

    def items(self):
        """Iterate over ``(name, block)`` pairs in modality order."""
        return self._blocks.items()

    def __iter__(self):
        raise TypeError(
            "ModalityBlocks is not iterable: iterate over blocks.names or "
            "blocks.items(), and select rows with blocks[rows]."
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "ModalityBlocks cannot be converted to one array: add a fusion step "
            "(for example polymodal.fusion.ConcatFusion()) after the "
            "MultimodalUnion, or use a final-step fusion estimator."
        )

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return self._blocks[key]
            except KeyError:
                raise KeyError(
                    f"No modality {key!r}; the modalities are {list(self.names)}."
                ) from None
        if isinstance(key, tuple):
            # sklearn's _safe_indexing passes (rows, Ellipsis).
            if len(key) == 2 and key[1] is Ellipsis:
                key = key[0]
            else:
                raise TypeError(
                    "ModalityBlocks selects rows only: use blocks[rows] or "
                    "blocks[rows, ...]."
                )
        rows = self._normalize_rows(key)
        n_samples = (
            len(range(self._n_samples)[rows]) if isinstance(rows, slice) else len(rows)
        )
        return self._from_parts(
            {name: block[rows] for name, block in self._blocks.items()},
            {name: mask[rows] for name, mask in self._masks.items()},
            self._feature_names,
            n_samples,
            None if self._index is None else self._index[rows],
            self.feature_name_format,
        )

    def select(self, names):
        """Return ModalityBlocks holding only the named modalities, in that order.

        Parameters
        ----------
        names : sequence of str
            Modalities to keep.

        Returns
        -------
        ModalityBlocks
            The same blocks (not copies) for the kept modalities.
        """
        unknown = [name for name in names if name not in self._blocks]
        if unknown:
            raise KeyError(
                f"No modalities {unknown}; the modalities are {list(self.names)}."
            )
        return self._from_parts(
            {name: self._blocks[name] for name in names},
            {name: self._masks[name] for name in names},
            {name: self._feature_names[name] for name in names},
            self._n_samples,
            self._index,
            self.feature_name_format,
        )

    def to_slicedict(self):
        """Return the blocks as a skorch ``SliceDict`` for a network's ``forward``.

        skorch unpacks only real mappings into ``forward(**X)``, which is why
        ModalityBlocks (not a mapping) is converted. Each block becomes a dense
        float32 CPU tensor of its full shape (sparse blocks are densified), with
        its absent rows filled with zeros so that no NaN reaches the network; the
        key ``mask__<name>`` holds the presence mask as a bool tensor, which the
        network must use to keep those zeros out of its fusion. Needs skorch
        (``pip install "polymodal[deep]"``).

        Returns
        -------
        skorch.helper.SliceDict
            Keys ``<name>`` and ``mask__<name>`` for every modality, in order.

        Examples
        --------
        >>> import numpy as np
        >>> from polymodal import ModalityBlocks
        >>> blocks = ModalityBlocks(
        ...     {"note": np.array([[0.5], [np.nan]])}, masks={"note": [True, False]}
        ... )
        >>> data = blocks.to_slicedict()
        >>> data["note"].tolist(), data["mask__note"].tolist()
        ([[0.5], [0.0]], [True, False])
        """
        helper = import_optional(
            "skorch.helper", extra="deep", needed_for="ModalityBlocks.to_slicedict"
        )
        # Tensors, not arrays: skorch then slices whole batches instead of
        # turning every row into a tensor on its own.
        torch = import_optional(
            "torch", extra="deep", needed_for="ModalityBlocks.to_slicedict"
        )
        arrays = {}
        for name, block in self._blocks.items():
            mask = self._masks[name]
            dense = block.toarray() if sparse.issparse(block) else block
            values = np.array(dense, dtype=np.float32)
            values[~mask] = 0.0
            arrays[name] = torch.from_numpy(values)
            arrays[f"mask__{name}"] = torch.from_numpy(mask.copy())
        return helper.SliceDict(**arrays)

    def _normalize_rows(self, key):
        if isinstance(key, slice):
            return key
        if isinstance(key, (Integral, np.integer)):
            raise TypeError(
                "ModalityBlocks does not return a single row: select one row "
                "with blocks[[i]]."
            )
        rows = np.asarray(key)
        if rows.dtype == bool:
            if rows.shape != (self._n_samples,):
                raise IndexError(
                    f"Boolean row mask has shape {rows.shape}; expected "
                    f"({self._n_samples},)."
                )
            return np.flatnonzero(rows)
        if rows.size == 0:
            return np.zeros(0, dtype=np.intp)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise TypeError(
                "Rows must be selected with an int array, a slice or a boolean "
                f"mask; got an array of dtype {rows.dtype} and shape {rows.shape}."
            )
        outside = (rows >= self._n_samples) | (rows < -self._n_samples)
        if outside.any():
            raise IndexError(
                f"Rows {rows[outside][:5].tolist()} are out of range: the blocks "
                f"hold {self._n_samples} rows."
            )
        return rows

    def __repr__(self):
        parts = []
        for name, block in self._blocks.items():
            kind = "sparse" if sparse.issparse(block) else "dense"
            present = int(self._masks[name].sum())
            parts.append(f"{name}: {kind} {tuple(block.shape)}, {present} present")
        return f"ModalityBlocks(n_samples={self._n_samples}; " + "; ".join(parts) + ")"
