"""Morgan (ECFP-like) fingerprints of molecules given as SMILES."""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..utils._columns import OneStringColumnMixin, string_cells
from ..utils._optional import import_optional
from ..utils._sklearn_compat import Interval, StrOptions
from ..utils._transformers import ModalityTransformer

__all__ = ["MorganFingerprint"]


class MorganFingerprint(
    OneStringColumnMixin, ModalityTransformer, auto_wrap_output_keys=None
):
    """Hash each molecule's circular substructures into a Morgan fingerprint.

    Each SMILES string is parsed with RDKit and every atom environment up to
    ``radius`` bonds is hashed into one of ``n_bits`` columns (an ECFP-like
    fingerprint: ``radius=2`` corresponds to ECFP4). The width is fixed by
    ``n_bits``; ``fit`` learns nothing from the data.

    Parameters
    ----------
    radius : int, default=2
        Largest radius, in bonds, of the atom environments hashed.
    n_bits : int, default=2048
        Width of the fingerprint.
    counts : bool, default=False
        Count how often each bit's environments occur instead of marking
        their presence with 1.
    chirality : bool, default=False
        Include the chirality of atoms (``@``/``@@``) in the environments, so
        that enantiomers get different fingerprints.
    on_error : {"raise", "missing"}, default="raise"
        What to do with a SMILES that RDKit cannot turn into a molecule (a
        syntax error, an impossible valence, an empty string): ``"raise"``
        raises a ValueError naming the row, the SMILES and the reason;
        ``"missing"`` returns that row as all-NaN, which
        :class:`polymodal.MultimodalUnion` marks absent for the modality.

    Attributes
    ----------
    n_features_in_ : int
        Always 1: the input is one column of SMILES.
    n_features_out_ : int
        Width of the output, ``n_bits``.

    See Also
    --------
    polymodal.MultimodalUnion : Marks the all-NaN rows of ``on_error="missing"``
        absent, with a :class:`~polymodal.exceptions.RowFailureWarning`.

    Notes
    -----
    The input is one column of strings: a pandas Series, a list, a 1-D object
    array, or a one-column DataFrame or 2-D array. Leading and trailing
    whitespace is ignored; as in RDKit, text after a blank inside the SMILES is
    a name and ignored. A cell that is not a string (``None``, a number) is a
    ValueError naming the row whatever ``on_error`` says:
    :class:`polymodal.MultimodalUnion` passes only the rows where the modality
    is present, so such a cell means the transformer was called directly on
    unfiltered data. Rows are named by their index label for pandas input and
    by position otherwise.

    With ``on_error="missing"`` the transformer itself does not warn: inside a
    union, the union reports the failed rows once, with a
    :class:`~polymodal.exceptions.RowFailureWarning`; called directly, the
    all-NaN rows are the documented signal. RDKit's own parser messages are
    silenced while parsing and its logging state is restored afterwards.

    The output is dense, as RDKit's NumPy getters return it: 2048 float64
    columns take 16 kB per molecule, so lower ``n_bits`` for very large
    cohorts.

    Requires RDKit (``pip install "polymodal[molecule]"``), imported when the
    transformer is first fitted.

    Examples
    --------
    >>> from polymodal.molecule import MorganFingerprint
    >>> fingerprint = MorganFingerprint(n_bits=64)
    >>> bits = fingerprint.fit_transform(["CCO", "c1ccccc1"])
    >>> bits.shape
    (2, 64)
    >>> bits.sum(axis=1)  # bits set: ethanol, benzene
    array([6., 3.])
    >>> fingerprint.get_feature_names_out()[:3]
    array(['morgan0', 'morgan1', 'morgan2'], dtype=object)
    >>> MorganFingerprint(n_bits=8, on_error="missing").fit_transform(["C1CC"])
    array([[nan, nan, nan, nan, nan, nan, nan, nan]])
    """

    # Each fingerprint depends on its molecule alone: nothing is learnt.
    _learns_from_rows = False

    _parameter_constraints = {
        "radius": [Interval(Integral, 0, None, closed="left")],
        "n_bits": [Interval(Integral, 1, None, closed="left")],
        "counts": ["boolean"],
        "chirality": ["boolean"],
        "on_error": [StrOptions({"raise", "missing"})],
    }

    def __init__(
        self, *, radius=2, n_bits=2048, counts=False, chirality=False, on_error="raise"
    ):
        self.radius = radius
        self.n_bits = n_bits
        self.counts = counts
        self.chirality = chirality
        self.on_error = on_error

    def get_feature_names_out(self, input_features=None):
        """Name the output columns ``"morgan0"`` to ``"morgan{n_bits - 1}"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; the names depend on ``n_bits`` only.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The bit names in the order of the output columns.
        """
        check_is_fitted(self)
        return np.asarray([f"morgan{bit}" for bit in range(self.n_bits)], dtype=object)

    def _fit(self, X):
        _import_rdkit()
        labels, cells = self._read(X)
        self._check_n_samples(len(cells))
        self.n_features_in_ = 1
        self.n_features_out_ = self.n_bits
        return labels, cells

    def _read(self, X):
        """Row labels and cells of the input, every cell checked to be a string."""
        return string_cells(X, "MorganFingerprint", "SMILES strings", "SMILES string")

    def _output(self, read):
        labels, cells = read
        Chem, rdBase, rdFingerprintGenerator = _import_rdkit()
        # Generators do not pickle, so one is built per call rather than stored.
        generator = rdFingerprintGenerator.GetMorganGenerator(
            radius=self.radius, fpSize=self.n_bits, includeChirality=self.chirality
        )
        fingerprint_of = (
            generator.GetCountFingerprintAsNumPy
            if self.counts
            else generator.GetFingerprintAsNumPy
        )
        output = np.empty((len(cells), self.n_bits), dtype=np.float64)
        # BlockLogs restores RDKit's previous logging state when deleted.
        blocked = rdBase.BlockLogs()
        try:
            for row, (label, smiles) in enumerate(zip(labels, cells)):
                text = smiles.strip()
                # RDKit reads "" as a molecule without atoms: never a real entry.
                molecule = Chem.MolFromSmiles(text) if text else None
                if molecule is not None:
                    output[row] = fingerprint_of(molecule)
                elif self.on_error == "missing":
                    output[row] = np.nan
                else:
                    raise ValueError(
                        f"MorganFingerprint: row {label!r} holds the SMILES "
                        f"{smiles!r}, which is not a valid molecule "
                        f"({_parse_problem(Chem, text)}). Fix or drop the row, or "
                        "use on_error='missing' to mark it absent."
                    )
        finally:
            del blocked
        return output


def _import_rdkit():
    import_optional(
        "rdkit", extra="molecule", needed_for="MorganFingerprint", package="RDKit"
    )
    from rdkit import Chem, rdBase
    from rdkit.Chem import rdFingerprintGenerator

    return Chem, rdBase, rdFingerprintGenerator


def _parse_problem(Chem, text):
    """Why RDKit rejects a stripped SMILES, in words, since its log is silenced."""
    if not text:
        return "an empty string"
    unsanitized = Chem.MolFromSmiles(text, sanitize=False)
    if unsanitized is None:
        return "a SMILES syntax error"
    problems = Chem.DetectChemistryProblems(unsanitized)
    if problems:
        return problems[0].Message()
    return "RDKit could not sanitize it"
