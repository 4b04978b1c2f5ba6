"""Data sets: the built-in synthetic cohort and real samples that work offline."""

from ._breast_cancer import load_breast_cancer_multiomics
from ._dicom_samples import load_dicom_samples
from ._patients import make_patients
from ._patients_union import make_patients_union

__all__ = [
    "load_breast_cancer_multiomics",
    "load_dicom_samples",
    "make_patients",
    "make_patients_union",
]
