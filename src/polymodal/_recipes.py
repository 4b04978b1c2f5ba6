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

    [modalities.clinical]
    columns = ["age", "sex", "pack_years"]
    transformer = "tabular"

Recipes (params are the keyword arguments of the transformer named):

    image     ImageLoader -> ImageFeatures -> StandardScaler; loader holds
              ImageLoader's parameters (dicom_window, size, on_error, ...),
              params ImageFeatures'. One column of file paths.
    text      ClinicalTextVectorizer (TF-IDF, negation marked). One column.
    sentence  SentenceEmbedder (offline sentence embeddings). One column.
    kmer      KmerVectorizer (k-mer counts of DNA, RNA or protein). One column.
    molecule  MorganFingerprint (of SMILES strings). One column.
    tabular   numeric columns: median imputation and StandardScaler; the
              others: most-frequent imputation and one-hot encoding (unknown
              categories ignored). No params.

TOML arrays become tuples, the form scikit-learn-style parameters such as
ngram_range and size take.
"""

import tomllib
from dataclasses import dataclass
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

__all__ = [
    "Config",
    "ConfigError",
    "EncodedLabelsClassifier",
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
    """A configuration file that cannot describe a union; the message is one line."""


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


def _tabular():
    # The selectors run on the modality's own columns at fit, so a column's
    # dtype in the table decides whether it is scaled or one-hot encoded.
    return make_column_transformer(
        (
            make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
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
        return _tabular()
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
            f"{cls.__name__} has no parameter {unknown[0]!r}; its parameters are "
            f"{', '.join(sorted(accepted))}",
        )
    return cls(**{name: _from_toml(value) for name, value in params.items()})


def _from_toml(value):
    if isinstance(value, list):
        return tuple(_from_toml(item) for item in value)
    return value


@dataclass(frozen=True)
class _Modality:
    name: str
    recipe: str
    # A str gives one-column transformers a 1-D column; a list gives the
    # tabular recipe's column selectors a DataFrame, even for a single column.
    columns: str | list
    transformer: object


@dataclass(frozen=True)
class Config:
    """A parsed configuration file.

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
        ``name``, ``recipe``, ``columns`` and an unfitted ``transformer``.
    """

    path: Path
    target: str | None
    groups: str | None
    modalities: tuple

    def make_union(self, columns, *, target, data="the data"):
        """The union of the modalities, after checking their columns exist.

        Parameters
        ----------
        columns : sequence of str
            The columns of the table the union will be fitted on.
        target : str
            The target column, which no modality may read.
        data : str, default="the data"
            How to name the table in messages (usually its path).

        Returns
        -------
        MultimodalUnion

        Raises
        ------
        ConfigError
            When a modality names a column the table lacks, or the target.
        """
        available = set(columns)
        for modality in self.modalities:
            names = (
                [modality.columns]
                if isinstance(modality.columns, str)
                else modality.columns
            )
            for name in names:
                if name == target:
                    raise self._error(
                        modality.name,
                        "columns",
                        f"{name!r} is the target column; a modality that reads the "
                        "target makes every score meaningless",
                    )
                if name not in available:
                    raise self._error(
                        modality.name,
                        "columns",
                        f"{name!r} is not a column of {data}; its columns are "
                        f"{', '.join(map(str, columns))}",
                    )
        return MultimodalUnion(
            [
                (modality.name, modality.transformer, modality.columns)
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


def _read_modality(name, table, path):
    def error(key, message):
        return ConfigError(f"{path}: [modalities.{name}] {key}: {message}.")

    if not isinstance(table, dict):
        raise ConfigError(
            f"{path}: modalities.{name}: expected a table with columns and transformer."
        )
    for key in table:
        if key not in _MODALITY_KEYS:
            raise error(key, f"unknown key; the keys are {', '.join(_MODALITY_KEYS)}")
    for key in ("columns", "transformer"):
        if key not in table:
            raise error(key, "missing")
    recipe = table["transformer"]
    if recipe not in _RECIPES:
        raise error(
            "transformer",
            f"unknown recipe {recipe!r}; the recipes are {', '.join(_RECIPES)}",
        )
    one_column = recipe != "tabular"
    sub_tables = {"image": ("params", "loader"), "tabular": ()}.get(recipe, ("params",))
    for key in ("params", "loader"):
        if key in table and key not in sub_tables:
            raise error(key, f"the {recipe} recipe takes no {key}")
        if not isinstance(table.get(key, {}), dict):
            raise error(key, f"expected a table of parameters; got {table[key]!r}")
    columns = table["columns"]
    if isinstance(columns, str):
        columns = [columns]
    if (
        not isinstance(columns, list)
        or not columns
        or not all(isinstance(column, str) for column in columns)
    ):
        raise error(
            "columns", f"expected a column name or a list of them; got {columns!r}"
        )
    if one_column and len(columns) != 1:
        raise error(
            "columns",
            f"the {recipe} recipe reads one column; got {len(columns)}",
        )
    return _Modality(
        name,
        recipe,
        columns[0] if one_column else columns,
        _build(recipe, table, error),
    )


def read_config(path):
    """Read and check a configuration file (the format is in the module docstring).

    Parameters
    ----------
    path : str or path-like
        A TOML file.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        With a one-line message naming the file, the modality and the key,
        when the file cannot be read or does not describe a union.
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
                f"{path}: {key}: unknown key; the top-level keys are "
                f"{', '.join(_TOP_KEYS)}."
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
