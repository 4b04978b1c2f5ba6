"""The TOML file that tells polymodal compare what the columns of a table hold.

A configuration names the target column, optionally a column of group labels
(patient IDs), and one [modalities.<name>] table per modality:

    target = "diagnosis"
    groups = "patient_id"            # optional: a patient's rows stay in one fold

    [modalities.ct]
    columns = "ct"                   # a column name, or a list of them
    transformer = "image"            # a recipe, see below
    loader = { on_error = "missing", size = [128, 128] }   # image only
    params = { features = ["first_order", "glcm", "lbp"] }

    [modalities.note]
    columns = "note"
    transformer = "text"
    params = { language = "en", ngram_range = [1, 2], min_df = 2 }

    [modalities.genes]
    columns = { pattern = "gene_*" }           # every column the glob matches
    transformer = "tabular"

    [modalities.clinical]
    columns = { remaining = "numeric" }        # the numeric columns left over
    transformer = "tabular"
    params = { impute = "mean" }

columns takes, alone or mixed in a list:

    "age"                       one column, by its exact name
    { pattern = "gene_*" }      the columns a glob matches (*, ?, [abc];
                                case-sensitive), in the table's order
    { regex = 'lab_\\d+' }       the columns a Python regular expression
                                matches as a whole (re.fullmatch)
    { remaining = "numeric" }   the columns no other modality reads, of a kind:
                                "numeric", "categorical" (every other dtype)
                                or "any"; never the target, the groups column
                                or patient_id (the rows' names)

A pattern or regex that matches no column is an error. Every name looked up
(target, groups, columns, recipes, keys, parameters) that does not exist is
an error naming the closest existing ones ("did you mean ...").

Recipes (params are the keyword arguments of the transformer named):

    image     ImageLoader -> ImageFeatures -> StandardScaler; loader holds
              ImageLoader's parameters (dicom_window, size, on_error, ...),
              params ImageFeatures'. One column of file paths.
    text      ClinicalTextVectorizer (TF-IDF, negation marked). One column.
    sentence  SentenceEmbedder (offline sentence embeddings). One column.
    kmer      KmerVectorizer (k-mer counts of DNA, RNA or protein). One column.
    molecule  MorganFingerprint (of SMILES strings). One column.
    tabular   numeric columns: imputation and StandardScaler; the others:
              most-frequent imputation and one-hot encoding (unknown
              categories ignored). params: impute = "median" (default),
              "mean" or "most_frequent" for the numeric columns; scale =
              true (default) or false.

TOML arrays become tuples, the form scikit-learn-style parameters such as
ngram_range and size take.
"""

import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    LabelEncoder,
    OneHotEncoder,
    StandardScaler,
)
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .image import ImageFeatures, ImageLoader
from .molecule import MorganFingerprint
from .sequence import KmerVectorizer
from .text import ClinicalTextVectorizer, SentenceEmbedder
from .union import MultimodalUnion
from .utils._sklearn_compat import validate_params

__all__ = [
    "Config",
    "ConfigError",
    "EncodedLabelsClassifier",
    "did_you_mean",
    "read_config",
    "to_dense",
]

_TOP_KEYS = ("target", "groups", "modalities")
_MODALITY_KEYS = ("columns", "transformer", "params", "loader")

#: recipe name -> the transformer that ``params`` configure (None: no params).
#: Every recipe but "tabular" reads exactly one column.
_RECIPES = {
    "image": ImageFeatures,
    "text": ClinicalTextVectorizer,
    "sentence": SentenceEmbedder,
    "kmer": KmerVectorizer,
    "molecule": MorganFingerprint,
    "tabular": None,
}


class ConfigError(ValueError):
    """A configuration file that cannot describe a union; the message is one line.

    :func:`read_config` raises it for a file it cannot read or parse, or one
    with an unknown key, recipe or parameter, and :meth:`Config.make_union`
    for columns that the table lacks. The message names the file, the
    modality and the key, and the closest accepted names. It is a
    ``ValueError``, so ``except ValueError`` catches it too.
    """


def did_you_mean(name, choices):
    """``"; did you mean 'a' or 'b'?"`` for the choices close to ``name``, or "".

    Parameters
    ----------
    name : str
        The name that was not found.
    choices : iterable of str
        The names that exist.

    Returns
    -------
    str
        Empty when no choice is close (difflib's ratio below 0.6).

    Examples
    --------
    >>> from polymodal._recipes import did_you_mean
    >>> did_you_mean("diagnosys", ["age", "diagnosis", "sex"])
    "; did you mean 'diagnosis'?"
    >>> did_you_mean("zzz", ["age"])
    ''
    """
    close = get_close_matches(str(name), [str(choice) for choice in choices], n=3)
    if not close:
        return ""
    return "; did you mean " + " or ".join(map(repr, close)) + "?"


def unknown_name(lead, name, choices, plural, *, list_all=20):
    """``lead``, the close choices, then the choices (or their count when many).

    Parameters
    ----------
    lead : str
        What went wrong, such as ``"unknown recipe 'imag'"``.
    name : str
        The name that was not found.
    choices : iterable of str
        The names that exist.
    plural : str
        What the choices are, such as ``"recipes"``.
    list_all : int, default=20
        Up to this many choices are listed; more are counted, so that a
        table of 77 columns does not fill the terminal.

    Returns
    -------
    str
        One sentence, without its final full stop.

    Examples
    --------
    >>> from polymodal._recipes import unknown_name
    >>> unknown_name("unknown recipe 'imag'", "imag", ["image", "text"], "recipes")
    "unknown recipe 'imag'; did you mean 'image'? The recipes are image, text"
    >>> unknown_name("'gene_x' is not a column", "gene_x",
    ...              [f"gene_{i}" for i in range(77)], "columns")
    "'gene_x' is not a column; did you mean 'gene_9' or 'gene_8' or 'gene_7'? There are 77 columns"
    """
    choices = [str(choice) for choice in choices]
    close = did_you_mean(name, choices)
    if len(choices) <= list_all:
        listing = f"the {plural} are {', '.join(choices)}"
    else:
        listing = f"there are {len(choices)} {plural}"
    if close:
        return f"{lead}{close} {listing[0].upper()}{listing[1:]}"
    return f"{lead}; {listing}"


def none_as_nan(X):
    """The cells that pandas counts as missing (None, NaN, pd.NA) as NaN.

    SimpleImputer recognises one missing marker; an object column read by
    pandas 2 keeps None, which would otherwise become a category of its own.

    Examples
    --------
    >>> import pandas as pd
    >>> from polymodal._recipes import none_as_nan
    >>> none_as_nan(pd.DataFrame({"sex": pd.Series(["F", None], dtype=object)}))
       sex
    0    F
    1  NaN
    """
    frame = pd.DataFrame(X).astype(object)
    return frame.where(frame.notna(), np.nan)


def to_dense(X):
    """``X`` as a dense array when it is a sparse matrix, else unchanged.

    For heads that take dense features only (HistGradientBoosting), behind a
    fusion step whose output may be sparse.

    Examples
    --------
    >>> from scipy import sparse
    >>> from polymodal._recipes import to_dense
    >>> to_dense(sparse.eye(2, format="csr"))
    array([[1., 0.],
           [0., 1.]])
    """
    return X.toarray() if sparse.issparse(X) else X


def _estimator_has(method):
    def check(self):
        getattr(self.estimator, method)
        return True

    return check


class EncodedLabelsClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier fitted on labels coded 0 to n_classes - 1, answering in the labels.

    xgboost's ``XGBClassifier`` takes only classes coded 0 to n_classes - 1,
    where scikit-learn's classifiers take any labels (strings included). The
    command line wraps it in this, so that every head it offers takes the
    target column as it is: ``classes_`` are the original labels, ``predict``
    returns them, and the columns of ``predict_proba`` follow ``classes_``.

    Parameters
    ----------
    estimator : classifier
        The classifier to fit on the coded labels; it is cloned.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone.
    classes_ : ndarray of shape (n_classes,)
        The original labels, sorted.
    n_features_in_ : int
        Number of features seen during fit, when the estimator records it.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from polymodal._recipes import EncodedLabelsClassifier
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> model = EncodedLabelsClassifier(LogisticRegression())
    >>> model.fit(X, ["benign", "benign", "malignant", "malignant"]).predict([[3.0]])
    array(['malignant'], dtype='<U9')
    >>> model.estimator_.classes_
    array([0, 1])
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        """Fit the estimator on the labels coded 0 to n_classes - 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features.
        y : array-like of shape (n_samples,)
            Class labels of any kind.
        **fit_params : dict
            Passed on to the estimator's ``fit`` (``sample_weight``, say).

        Returns
        -------
        self : EncodedLabelsClassifier
        """
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        self.estimator_ = clone(self.estimator).fit(
            X, encoder.transform(y), **fit_params
        )
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features.

        Returns
        -------
        ndarray of shape (n_samples,)
            One of ``classes_`` per row.
        """
        check_is_fitted(self)
        return self.classes_[np.asarray(self.estimator_.predict(X), dtype=int)]

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, one column per class of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """The estimator's decision function, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @property
    def feature_importances_(self):
        """The estimator's feature importances."""
        return self.estimator_.feature_importances_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.pairwise = inner.input_tags.pairwise
        return tags


_TABULAR_PARAMS = {"impute": ("median", "mean", "most_frequent"), "scale": None}


def _tabular(params, error):
    for key in params:
        if key not in _TABULAR_PARAMS:
            raise error(
                f"params.{key}",
                unknown_name(
                    f"the tabular recipe has no parameter {key!r}",
                    key,
                    _TABULAR_PARAMS,
                    "parameters",
                ),
            )
    impute = params.get("impute", "median")
    if impute not in _TABULAR_PARAMS["impute"]:
        raise error(
            "params.impute",
            unknown_name(
                f"unknown imputation {impute!r}",
                impute,
                _TABULAR_PARAMS["impute"],
                "imputations",
            ),
        )
    scale = params.get("scale", True)
    if not isinstance(scale, bool):
        raise error("params.scale", f"expected true or false; got {scale!r}")
    numeric = [SimpleImputer(strategy=impute)]
    if scale:
        numeric.append(StandardScaler())
    # The selectors run on the modality's own columns at fit, so a column's
    # dtype in the table decides whether it is scaled or one-hot encoded.
    return make_column_transformer(
        (
            make_pipeline(*numeric),
            make_column_selector(dtype_include="number"),
        ),
        (
            make_pipeline(
                FunctionTransformer(none_as_nan, feature_names_out="one-to-one"),
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore"),
            ),
            make_column_selector(dtype_exclude="number"),
        ),
        verbose_feature_names_out=False,
    )


def _build(recipe, table, error):
    if recipe == "tabular":
        return _tabular(table.get("params", {}), error)
    transformer = _make(_RECIPES[recipe], table.get("params", {}), "params", error)
    if recipe == "image":
        return make_pipeline(
            _make(ImageLoader, table.get("loader", {}), "loader", error),
            transformer,
            StandardScaler(),
        )
    return transformer


def _make(cls, params, key, error):
    accepted = cls().get_params(deep=False)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise error(
            f"{key}.{unknown[0]}",
            unknown_name(
                f"{cls.__name__} has no parameter {unknown[0]!r}",
                unknown[0],
                sorted(accepted),
                "parameters",
            ),
        )
    return cls(**{name: _from_toml(value) for name, value in params.items()})


def _from_toml(value):
    if isinstance(value, list):
        return tuple(_from_toml(item) for item in value)
    return value


_KINDS = ("numeric", "categorical", "any")
#: The column that names patients in the command line: never a feature.
_PATIENT_ID = "patient_id"
_SELECTORS = ("pattern", "regex", "remaining")


@dataclass(frozen=True)
class _Modality:
    name: str
    recipe: str
    # Column names (str) and selector tables ({"pattern": ...}, {"regex": ...},
    # {"remaining": ...}), resolved against a table's columns by make_union.
    columns: tuple
    transformer: object

    @property
    def one_column(self):
        # A str gives one-column transformers a 1-D column; a list gives the
        # tabular recipe's column selectors a DataFrame, even for one column.
        return self.recipe != "tabular"


def _is_kind(dtype, kind):
    numeric = pd.api.types.is_numeric_dtype(dtype) and not (
        pd.api.types.is_bool_dtype(dtype)
    )
    return kind == "any" or (kind == "numeric") == numeric


@dataclass(frozen=True)
class Config:
    """A configuration file, read and checked: what :func:`read_config` returns.

    It holds the file's target, groups and modalities, with each modality's
    transformer already built by its recipe; the columns are resolved against
    a table only by :meth:`resolve_columns` and :meth:`make_union`, so one
    configuration (``{ pattern = "gene_*" }``, say) fits any table whose
    columns it matches.

    Attributes
    ----------
    path : pathlib.Path
        The file it was read from, for messages.
    target : str or None
        The target column, when the file names one.
    groups : str or None
        The column of group labels, when the file names one.
    modalities : tuple
        One entry per ``[modalities.<name>]`` table, in file order, each with
        ``name``, ``recipe``, ``columns`` (names and selector tables, as
        written) and an unfitted ``transformer``.

    See Also
    --------
    read_config : Read a configuration file.
    render_config : Write suggested modalities as a configuration file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from polymodal.compose import read_config
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "polymodal.toml"
    >>> _ = path.write_text('''
    ... target = "y"
    ... [modalities.note]
    ... columns = "note"
    ... transformer = "text"
    ... ''')
    >>> config = read_config(path)
    >>> config.target, [modality.name for modality in config.modalities]
    ('y', ['note'])
    >>> config.modalities[0].transformer
    ClinicalTextVectorizer()
    """

    path: Path
    target: str | None
    groups: str | None
    modalities: tuple

    def resolve_columns(self, columns, *, target, groups=None, dtypes=None, data=None):
        """Each modality's column names, with patterns and ``remaining`` resolved.

        Parameters
        ----------
        columns : sequence of str
            The columns of the table, in its order.
        target : str
            The target column, which no modality may read.
        groups : str, default=None
            The column of group labels, which ``remaining`` leaves out, as
            it leaves out the target and ``patient_id``.
        dtypes : mapping of str to dtype, default=None
            The columns' dtypes (``DataFrame.dtypes``), for ``remaining``;
            without them every column counts as numeric.
        data : str, default=None
            How to name the table in messages (usually its path).

        Returns
        -------
        dict of str to list of str
            Modality name -> its columns, in the order the selectors name them.

        Raises
        ------
        ConfigError
            When a name is not a column (with the closest ones), a selector
            matches nothing, or a modality reads the target.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import pandas as pd
        >>> from polymodal.compose import read_config
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "polymodal.toml"
        >>> _ = path.write_text('''
        ... [modalities.genes]
        ... columns = { pattern = "gene_*" }
        ... transformer = "tabular"
        ... [modalities.labs]
        ... columns = { remaining = "numeric" }
        ... transformer = "tabular"
        ... ''')
        >>> table = pd.DataFrame({"patient_id": ["a", "b"], "gene_1": [0.1, 0.2],
        ...                       "gene_2": [1.0, 0.5], "crp": [3.0, 9.0],
        ...                       "sex": ["F", "M"], "y": [0, 1]})
        >>> read_config(path).resolve_columns(
        ...     table.columns, target="y", dtypes=table.dtypes)
        {'genes': ['gene_1', 'gene_2'], 'labs': ['crp']}
        """
        data = data or "the data"
        columns = [str(column) for column in columns]
        available = set(columns)
        resolved, remaining = {}, []
        for modality in self.modalities:
            names = []
            for spec in modality.columns:
                if isinstance(spec, str):
                    if spec not in available:
                        raise self._error(
                            modality.name,
                            "columns",
                            unknown_name(
                                f"{spec!r} is not a column of {data}",
                                spec,
                                columns,
                                "columns",
                            ),
                        )
                    names.append(spec)
                elif "remaining" in spec:
                    remaining.append((modality, spec["remaining"]))
                else:
                    names += self._matching(modality, spec, columns, data)
            resolved[modality.name] = names
        taken = {column for names in resolved.values() for column in names}
        left = [
            column
            for column in columns
            if column not in taken and column not in (target, groups, _PATIENT_ID)
        ]
        for modality, kind in remaining:
            names = [
                column
                for column in left
                if dtypes is None or _is_kind(dtypes[column], kind)
            ]
            if not names:
                raise self._error(
                    modality.name,
                    "columns",
                    f"no {kind} column of {data} is left for remaining = {kind!r}",
                )
            resolved[modality.name] += names
            left = [column for column in left if column not in names]
        for modality in self.modalities:
            names = list(dict.fromkeys(resolved[modality.name]))
            if target in names:
                raise self._error(
                    modality.name,
                    "columns",
                    f"{target!r} is the target column; a modality that reads the "
                    "target makes every score meaningless",
                )
            if modality.one_column and len(names) != 1:
                raise self._error(
                    modality.name,
                    "columns",
                    f"the {modality.recipe} recipe reads one column; the selectors "
                    f"give {len(names)}",
                )
            resolved[modality.name] = names
        return resolved

    def _matching(self, modality, spec, columns, data):
        ((kind, pattern),) = spec.items()
        if kind == "pattern":
            names = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
        else:
            compiled = re.compile(pattern)
            names = [c for c in columns if compiled.fullmatch(c)]
        if not names:
            raise self._error(
                modality.name,
                f"columns.{kind}",
                f"{pattern!r} matches none of the {len(columns)} columns of "
                f"{data}{did_you_mean(pattern, columns)}",
            )
        return names

    def make_union(self, columns, *, target, groups=None, dtypes=None, data=None):
        """The union of the modalities, after resolving and checking their columns.

        Parameters
        ----------
        columns : sequence of str
            The columns of the table the union will be fitted on.
        target : str
            The target column, which no modality may read.
        groups : str, default=None
            The column of group labels, which ``remaining`` leaves out.
        dtypes : mapping of str to dtype, default=None
            The columns' dtypes, for ``remaining = "numeric"`` and
            ``"categorical"``.
        data : str, default=None
            How to name the table in messages (usually its path).

        Returns
        -------
        MultimodalUnion
            Its column lists are plain names, so a saved model needs the same
            columns whatever the patterns would match in a later table.

        Raises
        ------
        ConfigError
            When a modality names a column the table lacks, or the target.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> from polymodal.compose import read_config
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "polymodal.toml"
        >>> _ = path.write_text('''
        ... [modalities.genes]
        ... columns = { pattern = "gene_*" }
        ... transformer = "tabular"
        ... [modalities.clinical]
        ... columns = { remaining = "any" }
        ... transformer = "tabular"
        ... ''')
        >>> union = read_config(path).make_union(
        ...     ["id", "gene_a", "gene_b", "age", "y"], target="y", groups="id")
        >>> [(name, columns) for name, _, columns in union.transformers]
        [('genes', ['gene_a', 'gene_b']), ('clinical', ['age'])]
        """
        resolved = self.resolve_columns(
            columns, target=target, groups=groups, dtypes=dtypes, data=data
        )
        return MultimodalUnion(
            [
                (
                    modality.name,
                    modality.transformer,
                    resolved[modality.name][0]
                    if modality.one_column
                    else resolved[modality.name],
                )
                for modality in self.modalities
            ]
        )

    def _error(self, modality, key, message):
        return ConfigError(f"{self.path}: [modalities.{modality}] {key}: {message}.")


def _optional_column(document, key, path):
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: {key}: expected a column name; got {value!r}.")
    return value


def _column_spec(spec, error):
    """A column name, or a one-key selector table, checked."""
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, dict):
        raise error(
            "columns",
            'expected a column name, a table such as { pattern = "gene_*" }, or '
            f"a list of them; got {spec!r}",
        )
    if len(spec) != 1:
        raise error(
            "columns",
            f"a selector table has one key, one of {', '.join(_SELECTORS)}; got "
            f"{', '.join(spec) or 'none'}",
        )
    ((key, value),) = spec.items()
    if key not in _SELECTORS:
        raise error(
            "columns",
            unknown_name(f"unknown selector {key!r}", key, _SELECTORS, "selectors"),
        )
    if not isinstance(value, str):
        raise error(f"columns.{key}", f"expected a string; got {value!r}")
    if key == "remaining" and value not in _KINDS:
        raise error(
            "columns.remaining",
            unknown_name(f"unknown kind {value!r}", value, _KINDS, "kinds"),
        )
    if key == "regex":
        try:
            re.compile(value)
        except re.error as problem:
            raise error(
                "columns.regex", f"{value!r} is not a regular expression: {problem}"
            ) from None
    return dict(spec)


def _read_modality(name, table, path):
    def error(key, message):
        return ConfigError(f"{path}: [modalities.{name}] {key}: {message}.")

    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: modalities.{name}: expected a table with columns and transformer."
        )
    for key in table:
        if key not in _MODALITY_KEYS:
            raise error(key, unknown_name("unknown key", key, _MODALITY_KEYS, "keys"))
    for key in ("columns", "transformer"):
        if key not in table:
            raise error(key, "missing")
    recipe = table["transformer"]
    if recipe not in _RECIPES:
        raise error(
            "transformer",
            unknown_name(f"unknown recipe {recipe!r}", recipe, _RECIPES, "recipes"),
        )
    sub_tables = {"image": ("params", "loader")}.get(recipe, ("params",))
    for key in ("params", "loader"):
        if key in table and key not in sub_tables:
            raise error(key, f"the {recipe} recipe takes no {key}")
        if not isinstance(table.get(key, {}), dict):
            raise error(key, f"expected a table of parameters; got {table[key]!r}")
    columns = table["columns"]
    if not isinstance(columns, list):
        columns = [columns]
    if not columns:
        raise error("columns", "expected a column name or a list of them; got []")
    specs = tuple(_column_spec(spec, error) for spec in columns)
    plain = [spec for spec in specs if isinstance(spec, str)]
    if recipe != "tabular" and len(plain) > 1:
        raise error(
            "columns",
            f"the {recipe} recipe reads one column; got {len(plain)}",
        )
    return _Modality(name, recipe, specs, _build(recipe, table, error))


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def read_config(path):
    """Read and check a configuration file, as ``polymodal compare --config`` does.

    The file is the one that ``polymodal init`` and :func:`render_config`
    write: the target column, optionally a column of group labels, and one
    ``[modalities.<name>]`` table per modality with its ``columns`` (names,
    ``{ pattern = ... }``, ``{ regex = ... }`` or ``{ remaining = ... }``), a
    ``transformer`` recipe (image, text, sentence, kmer, molecule, tabular)
    and the recipe's ``params`` (and ``loader`` for images); the format is
    described in full in the command line's documentation and in
    ``polymodal compare --help``. Every key, recipe and parameter is checked
    here; the columns are checked against a table by
    :meth:`Config.make_union`.

    Parameters
    ----------
    path : str or path-like
        A TOML file.

    Returns
    -------
    Config
        The target, the groups and the modalities, each with an unfitted
        transformer; :meth:`Config.make_union` builds the
        :class:`~polymodal.MultimodalUnion` for a table's columns.

    Raises
    ------
    ConfigError
        A ``ValueError`` with a one-line message naming the file, the modality
        and the key (and the closest accepted names), when the file cannot be
        read or does not describe a union.

    See Also
    --------
    render_config : Write suggested modalities as such a file.
    polymodal.MultimodalUnion : The union that :meth:`Config.make_union` builds.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> from polymodal.compose import read_config
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "polymodal.toml"
    >>> _ = path.write_text('''
    ... target = "diagnosis"
    ... [modalities.note]
    ... columns = "note"
    ... transformer = "text"
    ... params = { ngram_range = [1, 2] }
    ... [modalities.clinical]
    ... columns = ["age", "sex"]
    ... transformer = "tabular"
    ... ''')
    >>> config = read_config(path)
    >>> config.target
    'diagnosis'
    >>> table = pd.DataFrame({"note": ["cough", "no cough"], "age": [61, 54],
    ...                       "sex": ["F", "M"], "diagnosis": [1, 0]})
    >>> union = config.make_union(table.columns, target=config.target)
    >>> [(name, columns) for name, _, columns in union.transformers]
    [('note', 'note'), ('clinical', ['age', 'sex'])]
    >>> union.transformers[0][1]
    ClinicalTextVectorizer(ngram_range=(1, 2))

    A mistake is one line that names the file, the modality and the key:

    >>> _ = path.write_text('''
    ... [modalities.note]
    ... columns = "note"
    ... transformer = "txt"
    ... ''')
    >>> from polymodal.compose import ConfigError
    >>> try:
    ...     read_config(path)
    ... except ConfigError as error:
    ...     print(error)
    /.../polymodal.toml: [modalities.note] transformer: unknown recipe 'txt'; did you mean 'text'? The recipes are image, text, sentence, kmer, molecule, tabular.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        reason = error.strerror or error
        raise ConfigError(f"cannot read the config file {path}: {reason}.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}.") from None
    for key in document:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"{path}: {key}: "
                f"{unknown_name('unknown key', key, _TOP_KEYS, 'top-level keys')}."
            )
    target = _optional_column(document, "target", path)
    groups = _optional_column(document, "groups", path)
    modalities = document.get("modalities")
    if not isinstance(modalities, dict) or not modalities:
        raise ConfigError(
            f"{path}: modalities: add at least one [modalities.<name>] table."
        )
    return Config(
        path=path,
        target=target,
        groups=groups,
        modalities=tuple(
            _read_modality(name, table, path) for name, table in modalities.items()
        ),
    )
