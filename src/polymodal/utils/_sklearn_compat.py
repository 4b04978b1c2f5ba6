"""The one place where polymodal imports private scikit-learn APIs.

Private names move between scikit-learn releases; keeping every import here
means a release that moves one breaks one file, which states the supported
range (scikit-learn >= 1.6).
"""

from sklearn.base import _fit_context
from sklearn.utils._indexing import _determine_key_type, _get_column_indices
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
)
from sklearn.utils._user_interface import _print_elapsed_time
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import (
    _check_feature_names,
    _check_feature_names_in,
    _check_method_params,
    _check_n_features,
)

try:  # scikit-learn >= 1.7
    from sklearn.utils._repr_html.estimator import _VisualBlock
except ImportError:  # scikit-learn 1.6
    from sklearn.utils._estimator_html_repr import _VisualBlock

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "StrOptions",
    "_BaseComposition",
    "_VisualBlock",
    "_check_feature_names",
    "_check_feature_names_in",
    "_check_method_params",
    "_check_n_features",
    "_determine_key_type",
    "_fit_context",
    "_get_column_indices",
    "_print_elapsed_time",
]
