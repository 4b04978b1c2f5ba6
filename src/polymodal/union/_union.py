"""MultimodalUnion: one transformer per modality, output as ModalityBlocks."""

from collections import Counter
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import TransformerMixin, clone
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch, get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted

from .._blocks import ModalityBlocks, prefixed_feature_names
from ..utils._parallel import parallel_tasks, task
from ..utils._sklearn_compat import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
    _BaseComposition,
    _check_feature_names,
    _check_feature_names_in,
    _check_n_features,
    _fit_context,
    _get_column_indices,
    _name_estimators,
    _num_samples,
    _raise_for_params,
    _routing_enabled,
    _safe_indexing,
    _VisualBlock,
)
from ..utils._table import as_table_array, dict_to_frame
from ..utils.validation import absent_everywhere_message
from ._modality import _declared_feature_names, _process_modality

REMAINDER = "remainder"


class MultimodalUnion(TransformerMixin, _BaseComposition, auto_wrap_output_keys=None):
    """Apply one transformer per modality and return row-aligned blocks.

    The multimodal counterpart of :class:`~sklearn.compose.ColumnTransformer`:
    each modality (a CT image column, a clinical note, a DNA sequence, a group
    of clinical values) gets its own transformer, and the result is
    :class:`~polymodal.ModalityBlocks` rather than one concatenated matrix, so
    that a fusion step chosen by cross-validation decides how the modalities
    are combined.

    **Missing modalities are normal.** A row lacks a modality when every input
    cell of that modality is missing (None, NaN, ``pd.NA``; for text also an
    empty or whitespace-only string). Each transformer is fitted and applied on
    the rows where its modality is present only; in the output block, absent
    rows are NaN (dense) or empty (sparse) and ``blocks.masks[name]`` is False
    for them. A row that a transformer returns as all-NaN (the protocol of
    polymodal transformers for a row they could not read) is marked absent too,
    with a :class:`~polymodal.exceptions.RowFailureWarning` naming the rows.

    Parameters
    ----------
    transformers : list of tuples
        ``(name, transformer, columns)`` tuples, one per modality.

        name : str
            The modality name: the key in the output blocks and the prefix of
            nested parameters (``union__note__min_df``).
        transformer : {"drop", "passthrough"} or estimator
            An estimator with ``fit`` and ``transform``; "passthrough" hands the
            columns on unchanged; "drop" leaves the modality out.
        columns : str, int, array-like of str or int, slice, bool mask or callable
            The input columns of the modality. A single string or int gives
            the transformer a 1-D column (what text vectorizers need); a list
            gives it a 2-D table. A callable (such as
            :class:`~sklearn.compose.make_column_selector`) is called on the
            input and returns any of the above.
    remainder : {"drop", "passthrough"} or estimator, default="drop"
        What to do with the columns no modality names: drop them, pass them
        on, or transform them, as a modality named ``"remainder"``.
    n_jobs : int, default=None
        Number of modalities processed in parallel with joblib (``-1``: all
        cores). The result does not depend on it, nor do the warnings: those
        raised while a worker processes a modality are recorded there and
        issued in the calling process, once per category and message,
        pointing at the line that called ``fit``, ``fit_transform`` or
        ``transform``.
    transformer_weights : dict, default=None
        Multiplier applied to each modality's block, keyed by modality name.
    verbose : bool, default=False
        Print the time spent on each modality.
    verbose_feature_names_out : bool, str or callable, default=True
        How :meth:`get_feature_names_out` (and the fusion step that turns the
        blocks into columns, such as :class:`~polymodal.fusion.ConcatFusion`)
        names each output column, as in
        :class:`~sklearn.compose.ColumnTransformer`: True gives
        ``<modality>__<feature>``; False the bare feature names, which must
        then be unique; a format string with the fields ``{transformer_name}``
        and ``{feature_name}``; or a callable ``(modality, feature) -> str``.
        Block feature names are always stored unprefixed.
    on_error : {"raise", "missing"}, default="raise"
        What to do when a transformer fails on some rows at transform time:
        raise, or retry the batch row by row and mark the rows that fail as
        absent (with a warning naming them). It applies to transformers without
        an ``on_error`` parameter of their own; polymodal's transformers
        handle their rows themselves. ``fit`` itself must succeed on the
        present rows.
    batch_size : int, default=None
        Transform each modality's present rows in batches of this many rows,
        so that a modality whose transformer reads large inputs into a small
        output (a pipeline of :class:`~polymodal.image.ImageLoader` and
        :class:`~polymodal.image.CNNEmbedder` or
        :class:`~polymodal.image.ImageFeatures` over image volumes) never holds
        more than one batch of its inputs: peak memory is the output plus one
        batch. A transformer that learns nothing from its rows (every step of it
        declares ``_learns_from_rows = False``, as polymodal's image loader and
        embedder do, and its image features with a fixed or per-image
        intensity range) is also fitted on the first batch only; any other is
        fitted on all its present rows, as without batches. The same
        declaration lets ``compare_fusions`` and the inspection tools compute
        such steps once for all rows rather than once per fold.
        Batches are used only where no metadata is routed to the modality.
        None transforms all rows at once. The result does not depend on it.

    Attributes
    ----------
    transformers_ : list of tuples
        ``(name, fitted_transformer, columns)`` for every modality, the
        remainder included when it is not dropped.
    named_transformers_ : :class:`~sklearn.utils.Bunch`
        The fitted transformers by modality name.
    output_indices_ : dict of str to slice
        Where each modality's features lie in :meth:`get_feature_names_out`.
    n_features_in_ : int
        Number of input columns seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Input column names, when the input had string column names.

    See Also
    --------
    make_multimodal_union : Build a union without naming every modality.
    polymodal.fusion.ConcatFusion : Early fusion of the blocks for any head.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from polymodal import MultimodalUnion
    >>> X = pd.DataFrame({
    ...     "note": ["no cough", "cough and fever", None, "fever"],
    ...     "age": [61.0, 54.0, 70.0, None],
    ... })
    >>> union = MultimodalUnion([
    ...     ("note", TfidfVectorizer(), "note"),
    ...     ("clinical", StandardScaler(), ["age"]),
    ... ])
    >>> blocks = union.fit_transform(X)
    >>> blocks.names
    ('note', 'clinical')
    >>> blocks.masks["note"], blocks.masks["clinical"]
    (array([ True,  True, False,  True]), array([ True,  True,  True, False]))
    >>> union.get_feature_names_out()[:3]
    array(['note__and', 'note__cough', 'note__fever'], dtype=object)
    """

    _parameter_constraints = {
        "transformers": [list, Hidden(tuple)],
        "remainder": [
            StrOptions({"drop", "passthrough"}),
            HasMethods(["fit", "transform"]),
            HasMethods(["fit_transform", "transform"]),
        ],
        "n_jobs": [Integral, None],
        "transformer_weights": [dict, None],
        "verbose": ["verbose"],
        "verbose_feature_names_out": ["boolean", str, callable],
        "on_error": [StrOptions({"raise", "missing"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        transformers,
        *,
        remainder="drop",
        n_jobs=None,
        transformer_weights=None,
        verbose=False,
        verbose_feature_names_out=True,
        on_error="raise",
        batch_size=None,
    ):
        self.transformers = transformers
        self.remainder = remainder
        self.n_jobs = n_jobs
        self.transformer_weights = transformer_weights
        self.verbose = verbose
        self.verbose_feature_names_out = verbose_feature_names_out
        self.on_error = on_error
        self.batch_size = batch_size

    @classmethod
    def from_frame(cls, X, *, target=None, groups=None, overrides=None, **params):
        """Build the union from what the columns of a table hold.

        The modalities are those :func:`polymodal.compose.suggest_modalities`
        detects (see it for the rules and the evidence it keeps), each read by
        the command line's recipe for its kind. To see or edit the decisions
        first, call ``suggest_modalities`` and its ``to_union``.

        Parameters
        ----------
        X : pandas.DataFrame
            The table, one row per sample.
        target : str or None, default=None
            The target column, which no modality reads.
        groups : str or None, default=None
            The column of group labels (patient IDs), which no modality reads;
            by default an identifier column is taken as such.
        overrides : dict or None, default=None
            ``{column: kind}`` for columns whose detected kind is wrong
            (``"drop"`` leaves a column out).
        **params : dict
            Other parameters of the union (``n_jobs``, ``on_error``, ...).

        Returns
        -------
        MultimodalUnion
            Unfitted.

        Examples
        --------
        >>> import pandas as pd
        >>> from polymodal import MultimodalUnion
        >>> df = pd.DataFrame({"age": [61.0, 54.0, 70.0], "sex": ["F", "M", "M"],
        ...                    "y": [1, 0, 1]})
        >>> union = MultimodalUnion.from_frame(df, target="y")
        >>> [(name, columns) for name, _, columns in union.transformers]
        [('clinical', ['age', 'sex'])]
        >>> union.fit_transform(df)["clinical"].shape
        (3, 3)
        """
        from ..compose import suggest_modalities

        suggestions = suggest_modalities(
            X, target=target, groups=groups, overrides=overrides
        )
        union = suggestions.to_union()
        return cls(union.transformers, **params)

    # -- parameters ---------------------------------------------------------
    @property
    def _transformers(self):
        try:
            return [(name, trans) for name, trans, _ in self.transformers]
        except (TypeError, ValueError):
            return self.transformers

    @_transformers.setter
    def _transformers(self, value):
        try:
            self.transformers = [
                (name, trans, col)
                for ((name, trans), (_, _, col)) in zip(
                    value, self.transformers, strict=True
                )
            ]
        except (TypeError, ValueError):
            self.transformers = value

    def get_params(self, deep=True):
        """Get parameters, including those of each modality's transformer.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the transformers, as
            ``<modality>__<parameter>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("_transformers", deep=deep)

    def set_params(self, **params):
        """Set parameters, including ``<modality>__<parameter>`` ones.

        A whole modality transformer is replaced with ``<modality>=estimator``.

        Parameters
        ----------
        **params : dict
            Parameters to set.

        Returns
        -------
        self : MultimodalUnion
        """
        self._set_params("_transformers", **params)
        return self

    def set_output(self, *, transform=None):
        """Accept an output configuration without changing the output.

        The union always returns :class:`~polymodal.ModalityBlocks`: blocks
        are not one table. Pandas output belongs to the fusion step, which
        turns blocks into columns. The method exists so that
        ``Pipeline.set_output`` works on pipelines that hold a union.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            Ignored.

        Returns
        -------
        self : MultimodalUnion
        """
        return self

    # -- validation ---------------------------------------------------------
    def _validate_transformers(self):
        for entry in self.transformers:
            if not isinstance(entry, tuple | list) or len(entry) != 3:
                raise ValueError(
                    "Each modality is a (name, transformer, columns) tuple; got "
                    f"{entry!r}."
                )
        names = [name for name, _, _ in self.transformers]
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"Modality names must be str; got {name!r}.")
        duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
        if duplicates:
            raise ValueError(
                f"Modality names must be unique; {duplicates} appear more than once."
            )
        if self.remainder != "drop" and REMAINDER in names:
            raise ValueError(
                f"{REMAINDER!r} is the name of the remainder modality; rename "
                "the modality that uses it."
            )
        if names:
            self._validate_names(names)
        for name, trans, _ in self.transformers:
            if isinstance(trans, type):
                raise TypeError(
                    f"Modality {name!r}: Expected an estimator instance "
                    f"({trans.__name__}()), got estimator class instead "
                    f"({trans.__name__})."
                )
            if isinstance(trans, str):
                if trans not in ("drop", "passthrough"):
                    raise ValueError(
                        f"Modality {name!r}: the transformer is {trans!r}; a "
                        "string transformer must be 'drop' or 'passthrough'."
                    )
            elif not (
                hasattr(trans, "fit") or hasattr(trans, "fit_transform")
            ) or not hasattr(trans, "transform"):
                raise TypeError(
                    f"Modality {name!r}: {trans!r} (type {type(trans).__name__}) "
                    "is not a transformer. All estimators should implement fit "
                    "and transform, or can be 'drop' or 'passthrough' specifiers."
                )
        if self.transformer_weights:
            unknown = set(self.transformer_weights) - set(names) - {REMAINDER}
            if unknown:
                raise ValueError(
                    f"transformer_weights names modalities {sorted(unknown)} that "
                    f"the union does not have; the modalities are {names}."
                )

    def _check_input(self, X, *, reset):
        if isinstance(X, ModalityBlocks):
            raise TypeError(
                "MultimodalUnion takes the patient table (a DataFrame, a dict of "
                "columns or a 2-D array), not ModalityBlocks."
            )
        if sparse.issparse(X):
            X = X.tocsr()
        elif isinstance(X, dict):
            X = dict_to_frame(X)
        elif not isinstance(X, pd.DataFrame):
            X = as_table_array(X)
            if X.ndim != 2:
                raise ValueError(
                    "MultimodalUnion expects a DataFrame, a dict of equal-length "
                    f"columns or a 2-D array; got an array of shape {X.shape}. "
                    "Reshape your data either using array.reshape(-1, 1) if your "
                    "data has a single feature or array.reshape(1, -1) if it "
                    "contains a single sample."
                )
        for axis, what in ((0, "sample(s)"), (1, "feature(s)")):
            if X.shape[axis] == 0:
                raise ValueError(
                    f"Found array with 0 {what} (shape={X.shape}) while a minimum "
                    "of 1 is required by MultimodalUnion."
                )
        if reset:
            _check_feature_names(self, X, reset=True)
            _check_n_features(self, X, reset=True)
        elif hasattr(self, "feature_names_in_") and isinstance(X, pd.DataFrame):
            used = {
                self.feature_names_in_[index]
                for name in self._block_feature_names
                for index in self._input_columns[name][0]
            }
            missing = sorted(used - set(X.columns), key=str)
            if missing:
                raise ValueError(
                    f"Columns {missing} are missing from X (columns are missing: "
                    + "{"
                    + ", ".join(map(repr, missing))
                    + "}); they were used in fit and feed the modalities "
                    f"{self._modalities_of(missing)}."
                )
        else:
            if self._columns_are_names:
                raise ValueError(
                    "Specifying the columns using strings is only supported for "
                    "dataframes: the union was fitted on a DataFrame with columns "
                    f"named by strings and got a {type(X).__name__} to transform. "
                    "Pass a DataFrame with those columns."
                )
            _check_feature_names(self, X, reset=False)
            _check_n_features(self, X, reset=False)
        return X

    def _modalities_of(self, column_names):
        names = set(column_names)
        return [
            modality
            for modality in self._block_feature_names
            if names
            & {self.feature_names_in_[i] for i in self._input_columns[modality][0]}
        ]

    def _resolve_columns(self, X):
        """Map each modality to (input column indices, whether a scalar key).

        Every modality is resolved, "drop" ones included; the remainder is
        included when columns remain, whatever ``remainder`` says. Also
        returns each modality's column key as ``transformers_`` shows it
        (callables called, the remainder's in the format of the others).
        """
        resolved = {}
        keys = {}
        used = set()
        for name, _, columns in self.transformers:
            key = columns(X) if callable(columns) else columns
            try:
                if isinstance(key, slice) and key.start is None and key.stop is None:
                    indices = list(range(X.shape[1]))[key]
                else:
                    indices = _get_column_indices(X, key)
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ValueError(
                    f"Modality {name!r}: cannot select columns {key!r} from X: {exc}"
                ) from exc
            scalar = isinstance(key, str | Integral) and not isinstance(key, bool)
            resolved[name] = (np.asarray(indices, dtype=int), scalar)
            keys[name] = key
            used.update(indices)
        rest = [i for i in range(X.shape[1]) if i not in used]
        if rest:
            resolved[REMAINDER] = (np.asarray(rest, dtype=int), False)
            keys[REMAINDER] = _remainder_columns(X, rest, keys.values())
        return resolved, keys

    def _select(self, X, indices, scalar):
        if hasattr(self, "feature_names_in_") and isinstance(X, pd.DataFrame):
            labels = list(self.feature_names_in_[indices])
            return X[labels[0]] if scalar else X[labels]
        key = int(indices[0]) if scalar else indices
        return _safe_indexing(X, key, axis=1)

    def modality_columns(self, X):
        """The input columns each modality reads from ``X``, as positions.

        The union's own resolution of every column spec it accepts (names,
        positions, slices, masks, selectors), so that tools which permute or
        remove a modality's cells (modality importance) mean the same columns.
        The union need not be fitted.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            The patient table.

        Returns
        -------
        columns : dict of str to ndarray of int
            For each modality that produces a block (not "drop", at least one
            column), in the union's order with ``"remainder"`` last.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn.preprocessing import StandardScaler
        >>> from polymodal import MultimodalUnion
        >>> X = pd.DataFrame({"age": [61.0], "note": ["cough"], "crp": [4.0]})
        >>> union = MultimodalUnion([("labs", StandardScaler(), ["age", "crp"])])
        >>> union.modality_columns(X)
        {'labs': array([0, 2])}
        """
        resolved, _ = self._resolve_columns(X)
        steps = {name: trans for name, trans, _ in self.transformers}
        steps[REMAINDER] = self.remainder
        return {
            name: indices
            for name, (indices, _) in resolved.items()
            if _produces_block(steps[name], indices)
        }

    def _input_names(self, name):
        """The modality's input column names, as ColumnTransformer gives them."""
        indices, _ = self._input_columns[name]
        if hasattr(self, "feature_names_in_"):
            return np.asarray(self.feature_names_in_[indices], dtype=object)
        return np.asarray([f"x{i}" for i in indices], dtype=object)

    def _modality_specs(self):
        """(name, transformer, columns) for every modality, then the remainder."""
        specs = [
            (name, trans, self._columns[name]) for name, trans, _ in self.transformers
        ]
        if REMAINDER in self._input_columns:
            specs.append((REMAINDER, self.remainder, self._columns[REMAINDER]))
        return specs

    def _processed_specs(self):
        """The modalities that produce a block: not dropped, some column."""
        return [
            (name, trans)
            for name, trans, _ in self._modality_specs()
            if _produces_block(trans, self._input_columns[name][0])
        ]

    # -- fit and transform --------------------------------------------------
    def fit(self, X, y=None, **params):
        """Fit each modality's transformer on the rows where it is present.

        Parameters
        ----------
        X : DataFrame, dict of columns or array-like of shape (n_samples, n_columns)
            The patient table.
        y : array-like of shape (n_samples,), default=None
            Targets, passed to supervised transformers (present rows only).
        **params : dict
            Metadata routed to the transformers (requires
            ``sklearn.set_config(enable_metadata_routing=True)``). Per-sample
            metadata is sliced to each modality's present rows.

        Returns
        -------
        self : MultimodalUnion
        """
        self.fit_transform(X, y, **params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, **params):
        """Fit every modality's transformer and return the blocks.

        Parameters
        ----------
        X : DataFrame, dict of columns or array-like of shape (n_samples, n_columns)
            The patient table.
        y : array-like of shape (n_samples,), default=None
            Targets, passed to supervised transformers (present rows only).
        **params : dict
            Metadata routed to the transformers.

        Returns
        -------
        blocks : ModalityBlocks
            One block per modality, with presence masks and feature names.
            When every modality is dropped or selects no column, the blocks
            hold no modality (and a fusion step gives ``(n_samples, 0)``).
        """
        _raise_for_params(params, self, "fit_transform")
        return self._fit_transform(X, y, params)

    @_fit_context(prefer_skip_nested_validation=False)
    def _fit_transform_sharing(self, X, y, shared, rows):
        """``fit_transform`` on rows of the table ``shared`` was computed on.

        ``X`` is those rows (``rows``: their positions in that table); the
        modalities that ``shared`` holds (``RowIndependentSteps``) are
        not recomputed but sliced, and only their steps that learn from rows
        are fitted. The union's own clone, its blocks and its fitted state are
        then exactly those of ``fit_transform(X, y)``.
        """
        return self._fit_transform(X, y, {}, shared, rows)

    def _fit_transform(self, X, y, params, shared=None, rows=None):
        self._validate_transformers()
        X = self._check_input(X, reset=True)
        n_samples = X.shape[0]
        if y is not None and _num_samples(y) != n_samples:
            raise ValueError(
                f"X has {n_samples} rows but y has {_num_samples(y)}; they must "
                "describe the same samples."
            )
        self._input_columns, self._columns = self._resolve_columns(X)
        self._columns_are_names = isinstance(X, pd.DataFrame) and any(
            _key_kind(self._columns[name]) == "str" for name, _, _ in self.transformers
        )
        routed = self._route(params, "fit_transform")
        specs = self._processed_specs()
        results = parallel_tasks(
            self.n_jobs,
            (
                task(
                    _process_modality,
                    _prepare(trans),
                    self._select(X, *self._input_columns[name]),
                    y,
                    name=name,
                    fit=True,
                    params=routed[name],
                    weight=(self.transformer_weights or {}).get(name),
                    on_error=self.on_error,
                    batch_size=self.batch_size,
                    message=self._log_message(name, i, len(specs)),
                    input_names=self._input_names(name),
                    shared=None if shared is None else shared.part(name, rows),
                )
                for i, (name, trans) in enumerate(specs, start=1)
            ),
            # Past _fit_transform, fit_transform and its fit context, at the
            # caller's line.
            stacklevel=4,
        )
        fitted = dict(zip([name for name, _ in specs], results, strict=True))
        self.transformers_ = [
            (name, fitted[name].transformer if name in fitted else trans, columns)
            for name, trans, columns in self._modality_specs()
        ]
        for name, result in fitted.items():
            if not result.mask.any():
                raise ValueError(absent_everywhere_message(name))
        self._block_feature_names = {
            name: result.feature_names for name, result in fitted.items()
        }
        self._named_by_transformer = {
            name: result.names_declared for name, result in fitted.items()
        }
        self._block_templates = {
            name: (result.block.shape[1:], sparse.issparse(result.block))
            for name, result in fitted.items()
        }
        return _assemble(
            fitted, n_samples, _row_labels(X), self.verbose_feature_names_out
        )

    def transform(self, X, **params):
        """Transform each modality's present rows with its fitted transformer.

        Parameters
        ----------
        X : DataFrame, dict of columns or array-like of shape (n_samples, n_columns)
            The patient table, with the columns used in fit (those of dropped
            modalities may be left out).

        **params : dict
            Metadata routed to the transformers' ``transform``.

        Returns
        -------
        blocks : ModalityBlocks
            One block per fitted modality, absent rows masked.
        """
        check_is_fitted(self)
        _raise_for_params(params, self, "transform")
        return self._transform(X, params)

    def _transform_sharing(self, X, shared, rows):
        """``transform`` on rows of the table ``shared`` was computed on.

        As :meth:`_fit_transform_sharing`: the modalities ``shared`` holds are
        sliced from it and passed through their fitted steps that learn from
        rows only.
        """
        check_is_fitted(self)
        return self._transform(X, {}, shared, rows)

    def _transform(self, X, params, shared=None, rows=None):
        X = self._check_input(X, reset=False)
        routed = self._route(params, "transform")
        specs = [
            (name, trans)
            for name, trans, _ in self.transformers_
            if name in self._block_feature_names
        ]
        results = parallel_tasks(
            self.n_jobs,
            (
                task(
                    _process_modality,
                    trans,
                    self._select(X, *self._input_columns[name]),
                    None,
                    name=name,
                    fit=False,
                    params=routed[name],
                    weight=(self.transformer_weights or {}).get(name),
                    on_error=self.on_error,
                    batch_size=self.batch_size,
                    message=self._log_message(name, i, len(specs)),
                    template=self._block_templates[name],
                    shared=None if shared is None else shared.part(name, rows),
                )
                for i, (name, trans) in enumerate(specs, start=1)
            ),
            # Past _transform and transform, at the caller's line.
            stacklevel=3,
        )
        transformed = dict(zip([name for name, _ in specs], results, strict=True))
        for name, result in transformed.items():
            result.feature_names = self._block_feature_names[name]
        return _assemble(
            transformed, X.shape[0], _row_labels(X), self.verbose_feature_names_out
        )

    def _route(self, params, method):
        names = [name for name, _ in self._processed_specs()]
        if _routing_enabled():
            routed = process_routing(self, method, **params)
            return {name: _method_params(routed[name], method) for name in names}
        return {name: {} for name in names}

    def _log_message(self, name, index, total):
        if not self.verbose:
            return None
        return f"({index} of {total}) Processing {name}"

    # -- fitted information -------------------------------------------------
    @property
    def named_transformers_(self):
        """Fitted transformers by modality name (a :class:`~sklearn.utils.Bunch`)."""
        return Bunch(**{name: trans for name, trans, _ in self.transformers_})

    def __getitem__(self, name):
        try:
            return self.named_transformers_[name]
        except AttributeError as exc:
            raise TypeError(
                "MultimodalUnion is subscriptable after it is fitted"
            ) from exc
        except KeyError as exc:
            raise KeyError(
                f"{name!r} is not a valid transformer name: the modalities are "
                f"{[n for n, _, _ in self.transformers_]}."
            ) from exc

    @property
    def output_indices_(self):
        """Slices of :meth:`get_feature_names_out` that hold each modality.

        A modality that produces no column (dropped, or selecting no column),
        and the remainder when nothing remains, get ``slice(0, 0)``.
        """
        check_is_fitted(self)
        indices, start = {}, 0
        for name, features in self._block_feature_names.items():
            indices[name] = slice(start, start + len(features))
            start += len(features)
        for name in [name for name, _, _ in self.transformers] + [REMAINDER]:
            indices.setdefault(name, slice(0, 0))
        return indices

    def get_feature_names_out(self, input_features=None):
        """Feature names of all blocks, in modality order.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input column names: ``feature_names_in_`` (which they must then
            match) or, for an input without column names, ``x0, x1, ...``
            when None.

        Returns
        -------
        feature_names_out : ndarray of str
            Named as ``verbose_feature_names_out`` says.

        Raises
        ------
        AttributeError
            When a modality's transformer provides no feature names (its
            block columns are then named ``x0, x1, ...`` internally).
        """
        check_is_fitted(self)
        input_features = _check_feature_names_in(self, input_features)
        per_modality = []
        for name, trans, _ in self.transformers_:
            if name not in self._block_feature_names:
                continue
            # What the transformer says, as ColumnTransformer reports it even
            # when its length differs from the block's width.
            names = _declared_feature_names(
                trans, input_features[self._input_columns[name][0]]
            )
            if names is None:
                if not self._named_by_transformer[name]:
                    raise AttributeError(
                        f"Transformer {name} (type {type(trans).__name__}) does "
                        "not provide get_feature_names_out: modality "
                        f"{name!r} has no feature names."
                    )
                names = self._block_feature_names[name]
            per_modality.append((name, names))
        return prefixed_feature_names(per_modality, self.verbose_feature_names_out)

    def get_metadata_routing(self):
        """Route metadata to each modality's transformer.

        Returns
        -------
        routing : MetadataRouter
        """
        router = MetadataRouter(owner=self)
        specs = list(self.transformers)
        if self.remainder != "drop":
            specs.append((REMAINDER, self.remainder, None))
        for name, step, _ in specs:
            mapping = MethodMapping()
            if hasattr(step, "fit_transform"):
                mapping.add(caller="fit", callee="fit_transform").add(
                    caller="fit_transform", callee="fit_transform"
                )
            else:
                mapping.add(caller="fit", callee="fit").add(
                    caller="fit", callee="transform"
                ).add(caller="fit_transform", callee="fit").add(
                    caller="fit_transform", callee="transform"
                )
            mapping.add(caller="transform", callee="transform")
            router.add(method_mapping=mapping, **{name: step})
        return router

    def _sk_visual_block_(self):
        if hasattr(self, "transformers_"):
            specs = [
                (name, trans, columns)
                for name, trans, columns in self.transformers_
                if name != REMAINDER or self.remainder != "drop"
            ]
            if (
                specs
                and specs[-1][0] == REMAINDER
                and hasattr(self, "feature_names_in_")
            ):
                name, trans, columns = specs[-1]
                if not all(isinstance(c, str) for c in columns):
                    columns = self.feature_names_in_[
                        self._input_columns[REMAINDER][0]
                    ].tolist()
                specs[-1] = (name, trans, columns)
        elif self.remainder != "drop":
            specs = [*self.transformers, (REMAINDER, self.remainder, [])]
        else:
            specs = list(self.transformers)
        names, transformers, columns = zip(*specs, strict=True)
        return _VisualBlock("parallel", transformers, names=names, name_details=columns)

    def __setstate__(self, state):
        # A union saved before batch_size existed transformed every row at once.
        super().__setstate__({"batch_size": None, **state})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []
        try:
            tags.input_tags.sparse = all(
                get_tags(trans).input_tags.sparse
                for _, trans, _ in self.transformers
                if not isinstance(trans, str)
            )
        except (TypeError, ValueError):
            # A malformed transformers list is reported by fit, not by tags.
            tags.input_tags.sparse = False
        return tags


def _method_params(routed_step, method):
    if method == "fit_transform" and "fit_transform" in routed_step:
        return {"fit_transform": routed_step.fit_transform}
    if method == "fit_transform":
        return {"fit": routed_step.fit, "transform": routed_step.transform}
    return {"transform": routed_step.transform}


def _prepare(trans):
    if isinstance(trans, str) and trans == "passthrough":
        return FunctionTransformer(
            _two_dimensional,
            accept_sparse=True,
            check_inverse=False,
            feature_names_out=_passthrough_names,
        )
    return clone(trans)


def _two_dimensional(X):
    """Passthrough of a single selected column still gives a 2-D block."""
    if isinstance(X, pd.Series) or (hasattr(X, "ndim") and X.ndim == 1):
        return np.asarray(X).reshape(-1, 1)
    return X


def _passthrough_names(transformer, input_features):
    return np.asarray(input_features, dtype=object)


def _produces_block(trans, indices):
    """Whether a modality is turned into a block: not "drop", some column."""
    return bool(indices.size) and not (isinstance(trans, str) and trans == "drop")


def _remainder_columns(X, indices, keys):
    """The remainder's columns in the format the user gave the others."""
    kinds = {_key_kind(key) for key in keys}
    if kinds == {"str"} and isinstance(X, pd.DataFrame):
        return list(X.columns[indices])
    if kinds == {"bool"}:
        return [i in indices for i in range(X.shape[1])]
    return list(indices)


def _key_kind(key):
    """ "str", "bool" or "int": how a column key names columns, as scikit-learn reads it."""
    if isinstance(key, str):
        return "str"
    if isinstance(key, bool | np.bool_):
        return "bool"
    if isinstance(key, slice):
        return (
            "str" if isinstance(key.start, str) or isinstance(key.stop, str) else "int"
        )
    if isinstance(key, Integral):
        return "int"
    values = np.asarray(key)
    if values.dtype == bool:
        return "bool"
    if (
        values.dtype.kind in "OUS"
        and values.size
        and all(isinstance(v, str) for v in values.ravel())
    ):
        return "str"
    return "int"


def _assemble(results, n_samples, index, name_format):
    if index is None:
        index = pd.RangeIndex(n_samples)
    return ModalityBlocks(
        {name: r.block for name, r in results.items()},
        masks={name: r.mask for name, r in results.items()},
        feature_names={name: r.feature_names for name, r in results.items()},
        index=index,
        feature_name_format=name_format,
    )


def _row_labels(X):
    return X.index if isinstance(X, pd.DataFrame) else None


def make_multimodal_union(
    *transformers,
    remainder="drop",
    n_jobs=None,
    verbose=False,
    verbose_feature_names_out=True,
    on_error="raise",
):
    """Build a :class:`MultimodalUnion` from ``(transformer, columns)`` pairs.

    Each modality is named after its column when ``columns`` is one string,
    otherwise after the transformer's class (lowercase, with a numeric suffix
    when names repeat), as :func:`~sklearn.compose.make_column_transformer`
    does.

    Parameters
    ----------
    *transformers : tuples
        ``(transformer, columns)`` pairs, as in :class:`MultimodalUnion`.
    remainder, n_jobs, verbose, verbose_feature_names_out, on_error
        As in :class:`MultimodalUnion`.

    Returns
    -------
    MultimodalUnion

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from polymodal import make_multimodal_union
    >>> union = make_multimodal_union(
    ...     (TfidfVectorizer(), "note"), (StandardScaler(), ["age", "pack_years"])
    ... )
    >>> [name for name, _, _ in union.transformers]
    ['note', 'standardscaler']
    """
    pairs = list(transformers)
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(
                f"make_multimodal_union takes (transformer, columns) pairs; got {pair!r}."
            )
    # The class names make_column_transformer would give (suffixed among all
    # the pairs), then a one-column modality's own column in place of its
    # class name. Those names may meet one another, so the same suffixes part
    # them: _name_estimators names a string after itself.
    class_names = [name for name, _ in _name_estimators([t for t, _ in pairs])]
    names = [
        columns if isinstance(columns, str) else class_name
        for class_name, (_, columns) in zip(class_names, pairs, strict=True)
    ]
    unique = [name for name, _ in _name_estimators(names)]
    return MultimodalUnion(
        [
            (name, trans, cols)
            for name, (trans, cols) in zip(unique, pairs, strict=True)
        ],
        remainder=remainder,
        n_jobs=n_jobs,
        verbose=verbose,
        verbose_feature_names_out=verbose_feature_names_out,
        on_error=on_error,
    )
