"""Doctests whose examples need an extra that a test install may lack are skipped."""

import importlib.util

import pytest

# Doctest module → the module its examples import. scikit-survival is not part of
# the `test` extra because it pins scikit-learn narrowly (see the Makefile).
_DOCTEST_REQUIREMENTS = {"polymodal.datasets._breast_cancer": "sksurv"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        for prefix, module in _DOCTEST_REQUIREMENTS.items():
            if (
                item.name.startswith(prefix)
                and importlib.util.find_spec(module) is None
            ):
                item.add_marker(pytest.mark.skip(reason=f"needs {module}"))
