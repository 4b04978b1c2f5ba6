"""The one place where polymodal imports private scikit-learn APIs.

Private names move between scikit-learn releases; keeping every import here
means a release that moves one breaks one file, which states the supported
range (scikit-learn >= 1.7, the floor `make test-minimums` runs against).
"""

from sklearn.base import _fit_context
from sklearn.pipeline import _name_estimators
from sklearn.utils import _safe_indexing
from sklearn.utils._indexing import _get_column_indices
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    StrOptions,
)
from sklearn.utils._repr_html.estimator import _VisualBlock
from sklearn.utils._set_output import _get_output_config
from sklearn.utils._user_interface import _print_elapsed_time
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import (
    _check_feature_names,
    _check_feature_names_in,
    _check_method_params,
    _check_n_features,
    _check_sample_weight,
    _num_samples,
)

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
    "_check_sample_weight",
    "_fit_context",
    "_get_column_indices",
    "_get_output_config",
    "_name_estimators",
    "_num_samples",
    "_print_elapsed_time",
    "_raise_for_params",
    "_routing_enabled",
    "_safe_indexing",
]
