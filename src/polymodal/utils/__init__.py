"""Utilities: estimator inventory for testing, validation helpers."""

from ._estimators import all_estimators, expected_failed_checks

__all__ = ["all_estimators", "expected_failed_checks"]
