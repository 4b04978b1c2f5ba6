"""Molecule modalities: Morgan fingerprints of SMILES strings (needs RDKit)."""

from ._morgan import MorganFingerprint

__all__ = ["MorganFingerprint"]
