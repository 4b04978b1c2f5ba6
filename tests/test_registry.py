"""The one registry of public estimators, and what is derived from it."""

import importlib
import re
from pathlib import Path

from sklearn.base import BaseEstimator

from polymodal.utils import _estimators, all_estimators
from polymodal.utils._registry import PUBLIC_PACKAGES, public_estimators

API_REFERENCE = Path(__file__).parents[1] / "docs" / "api" / "index.rst"


def _documented():
    """The public paths that the API reference's autosummary tables list."""
    documented, module, in_table = [], None, False
    for line in API_REFERENCE.read_text().splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module, in_table = match[1], False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and (match := re.fullmatch(r" {3}(\w+)", line)):
            documented.append(f"{module}.{match[1]}")
        elif line and not line.startswith(" "):
            in_table = False
    return documented


def test_the_registry_holds_the_estimators_of_each_public_package():
    registry = dict(public_estimators())
    assert len(registry) == len(public_estimators()) >= 24
    for package_name in PUBLIC_PACKAGES:
        package = importlib.import_module(package_name)
        for name in package.__all__:
            obj = getattr(package, name)
            if isinstance(obj, type) and issubclass(obj, BaseEstimator):
                assert registry[f"{package_name}.{name}"] is obj
    assert "polymodal.fusion.StackingFusionClassifier" in registry
    assert "polymodal.deep.MLPClassifier" in registry


def test_all_estimators_gives_one_instance_of_each_registered_estimator():
    assert [type(estimator) for estimator in all_estimators()] == [
        cls for _, cls in public_estimators()
    ]
    # Fresh instances every call: no step is shared between two of them.
    first, second = all_estimators(), all_estimators()
    assert all(a is not b for a, b in zip(first, second, strict=True))
    union = next(e for e in first if type(e).__name__ == "MultimodalUnion")
    other = next(e for e in second if type(e).__name__ == "MultimodalUnion")
    assert union.transformers[0][1] is not other.transformers[0][1]


def test_test_settings_name_registered_estimators_only():
    names = {cls.__name__ for _, cls in public_estimators()}
    assert set(_estimators._TEST_PARAMS) <= names
    assert set(_estimators._EXPECTED_FAILED_CHECKS) <= names


def test_the_api_reference_lists_every_public_estimator():
    documented = _documented()
    assert len(documented) == len(set(documented))
    missing = [path for path, _ in public_estimators() if path not in documented]
    assert not missing, f"docs/api/index.rst does not list {missing}"


def test_the_api_reference_lists_public_names_only():
    not_public = []
    for path in _documented():
        module_name, _, name = path.rpartition(".")
        module = importlib.import_module(module_name)
        if name not in getattr(module, "__all__", ()):
            not_public.append(path)
    assert not not_public, f"docs/api/index.rst lists non-public {not_public}"


def test_the_api_reference_is_read_whole():
    # The parser must see every table, or the two tests above prove little.
    documented = _documented()
    assert "polymodal.MultimodalUnion" in documented
    assert "polymodal.utils.expected_failed_checks" in documented
    assert "polymodal.io.UntrustedModelError" in documented
