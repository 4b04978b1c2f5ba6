"""The one place where polymodal imports private scikit-learn APIs.

Private names move between scikit-learn releases; keeping every import here
means a release that moves one breaks one file, which states the supported
range (scikit-learn >= 1.7, the floor `make test-minimums` runs against).
"""

import functools
import inspect

from sklearn import config_context
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
from sklearn.utils._param_validation import validate_params as _validate_params
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
    "validate_params",
]


def validate_params(parameter_constraints, *, prefer_skip_nested_validation):
    """scikit-learn's ``validate_params``, leaving nested errors as they are.

    The arguments are checked by scikit-learn's decorator, with its messages
    (``The 'cv' parameter of compare_fusions must be ...``) and its
    :class:`~sklearn.utils._param_validation.InvalidParameterError`, a
    ValueError and a TypeError at once; the constraints are kept as the
    function's ``_skl_parameter_constraints``, where scikit-learn's tools look.

    What differs: scikit-learn's wrapper renames every estimator named in an
    InvalidParameterError raised *inside* the function after the function,
    which fits a function that wraps one estimator with the same parameters
    (``k_means``) but not polymodal's, whose estimators' parameters are not
    theirs: ``LogisticRegression(C=-1)`` as a head of ``compare_fusions``
    must stay "The 'C' parameter of LogisticRegression", not become "The 'C'
    parameter of compare_fusions". So the decorator checks a stand-in with
    the function's signature, then calls the function itself, with nested
    validation skipped when ``prefer_skip_nested_validation`` is true.
    """

    def decorator(func):
        def arguments(*args, **kwargs):
            """Stand-in for ``func``: scikit-learn's wrapper checks the arguments."""

        arguments.__signature__ = inspect.signature(func)
        arguments.__qualname__ = func.__qualname__
        check = _validate_params(
            parameter_constraints,
            prefer_skip_nested_validation=prefer_skip_nested_validation,
        )(arguments)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            check(*args, **kwargs)
            if not prefer_skip_nested_validation:
                return func(*args, **kwargs)
            with config_context(skip_parameter_validation=True):
                return func(*args, **kwargs)

        wrapper._skl_parameter_constraints = parameter_constraints
        return wrapper

    return decorator
