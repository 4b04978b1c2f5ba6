"""Public functions validate their arguments as scikit-learn's do.

Modelled on scikit-learn's ``sklearn/tests/test_public_functions.py``: every
public function declares a constraint (or ``"no_validation"``, where its body
checks the argument with a message of its own) for each parameter, and a value
of the wrong type or range is an ``InvalidParameterError`` that names the
parameter and the function.
"""

from importlib import import_module
from inspect import signature

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import (
    InvalidParameterError,
    generate_invalid_param_val,
    generate_valid_param,
    make_constraint,
)

from polymodal import MultimodalUnion
from polymodal.fusion import ConcatFusion

PUBLIC_FUNCTIONS = [
    "polymodal.compose.read_config",
    "polymodal.datasets.load_breast_cancer_multiomics",
    "polymodal.datasets.load_dicom_samples",
    "polymodal.datasets.make_patients",
    "polymodal.datasets.make_patients_union",
    "polymodal.inspection.missing_modality_curve",
    "polymodal.inspection.modality_importance",
    "polymodal.io.load",
    "polymodal.io.save",
    "polymodal.model_selection.compare_fusions",
]


def _function(path):
    module, name = path.rsplit(".", 1)
    return getattr(import_module(module), name)


@pytest.mark.parametrize("path", PUBLIC_FUNCTIONS)
def test_function_param_validation(path):
    func = _function(path)
    name = path.rsplit(".", 1)[1]
    constraints = func._skl_parameter_constraints
    parameters = signature(func).parameters
    assert set(constraints) == set(parameters), (
        f"{name}: constraints {sorted(constraints)} != parameters {sorted(parameters)}"
    )
    required = {
        parameter: 1
        if constraints[parameter] == "no_validation"
        else generate_valid_param(make_constraint(constraints[parameter][0]))
        for parameter, spec in parameters.items()
        if spec.default is spec.empty
    }
    bad_type = type("BadType", (), {})()
    for parameter, constraint in constraints.items():
        if constraint == "no_validation":
            continue
        match = rf"The '{parameter}' parameter of {name} must be .* Got .* instead."
        with pytest.raises(InvalidParameterError, match=match):
            func(**{**required, parameter: bad_type})
        for one in map(make_constraint, constraint):
            try:
                bad_value = generate_invalid_param_val(one)
            except NotImplementedError:
                continue
            with pytest.raises(InvalidParameterError, match=match):
                func(**{**required, parameter: bad_value})


def test_function_without_parameters_takes_no_argument():
    from polymodal.datasets import load_dicom_samples

    with pytest.raises(TypeError, match="too many positional arguments"):
        load_dicom_samples(1)


def _cohort():
    rng = np.random.RandomState(0)
    X = {"a": rng.normal(size=40), "b": rng.normal(size=40)}
    y = np.tile([0, 1], 20)
    union = MultimodalUnion(
        [("a", StandardScaler(), ["a"]), ("b", "passthrough", ["b"])]
    )
    return union, X, y


def test_a_nested_estimators_error_keeps_the_estimators_name():
    # scikit-learn's own decorator would rename LogisticRegression after the
    # function ("The 'C' parameter of compare_fusions"), a parameter that
    # compare_fusions does not have.
    from polymodal.inspection import modality_importance
    from polymodal.model_selection import compare_fusions

    union, X, y = _cohort()
    bad_head = LogisticRegression(C=-1.0)
    match = "The 'C' parameter of LogisticRegression must be"

    with pytest.raises(InvalidParameterError, match=match):
        compare_fusions(union, X, y, fusions=[ConcatFusion()], heads=[bad_head], cv=2)
    pipe = Pipeline([("union", union), ("fusion", ConcatFusion()), ("head", bad_head)])
    with pytest.raises(InvalidParameterError, match=match):
        modality_importance(pipe, X, y, cv=2)


def test_skip_parameter_validation_skips_the_check():
    import sklearn

    from polymodal.datasets import make_patients_union

    with sklearn.config_context(skip_parameter_validation=True):
        # The language is checked by the decorator alone, which the
        # configuration turns off as it does scikit-learn's.
        union = make_patients_union(language="fr")
    assert isinstance(union, MultimodalUnion)
    with pytest.raises(InvalidParameterError, match="'language' parameter"):
        make_patients_union(language="fr")
