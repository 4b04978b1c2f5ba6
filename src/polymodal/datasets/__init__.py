"""Data sets: the built-in synthetic cohort."""

from ._patients import make_patients
from ._patients_union import make_patients_union

__all__ = ["make_patients", "make_patients_union"]
