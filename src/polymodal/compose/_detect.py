"""What each column of a patient table holds, and the modalities they make.

One function, :func:`suggest_modalities`, looks at a sample of each column's
cells and decides its kind; the kinds then group into modalities, each with a
recipe of the command line's configuration format (:mod:`polymodal._recipes`),
so a suggestion becomes a union or a configuration file without a second table
of transformers.
"""

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..sequence._encoding import ALPHABETS, AMBIGUOUS
from ..utils._sklearn_compat import validate_params

__all__ = [
    "KINDS",
    "ColumnSuggestion",
    "ModalitySuggestion",
    "ModalitySuggestions",
    "suggest_modalities",
]

#: kind -> (recipe, what the kind means). A recipe of None: the column is not a
#: feature (an identifier becomes ``groups``; the others are left out).
KINDS = {
    "image": ("image", "paths of image files (PNG, JPEG, TIFF, DICOM) or arrays"),
    "dicom_series": ("image", "folders of DICOM files, one series (scan) each"),
    "nifti": ("image", "paths of NIfTI files"),
    "smiles": ("molecule", "SMILES strings of molecules"),
    "dna": ("kmer", "DNA sequences"),
    "rna": ("kmer", "RNA sequences"),
    "protein": ("kmer", "protein sequences"),
    "text": ("text", "free text (English or Chinese)"),
    "numeric": ("tabular", "numbers"),
    "categorical": ("tabular", "categories"),
    "identifier": (
        None,
        "codes naming each row, or an entity with several rows (a patient, a "
        "compound): proposed as groups, never a feature",
    ),
    "date": (None, "dates: left out (derive numbers, e.g. days since, by hand)"),
    "nested": (None, "lists or mappings in cells: left out (flatten them first)"),
    "empty": (None, "every cell missing: left out"),
    "drop": (None, "left out on request"),
}

#: The sample sizes: detection stays cheap on large tables.
_SAMPLE = 200
_FILE_SAMPLE = 20
_SMILES_SAMPLE = 100
#: The share of sampled cells that must support a kind.
_SHARE = 0.9

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm")
_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_ID_NAME = re.compile(
    r"(^|[_\W])(id|ids|mrn|uuid|patient|subject|record|sample)($|[_\W])|id$",
    re.IGNORECASE,
)
#: Names that hint at a repeated identifier (the entity several rows describe):
#: an id token (``patient_id``, ``subjectID``, ``mrn``) or the entity alone
#: (``patient``, ``compound``, ``case_no``); not ``id$`` words such as "steroid".
_GROUP_NAME = re.compile(
    r"(^|[_\W])(ids?|mrn|uuid)($|[_\W])|(?-i:[a-z](ID|Id))$"
    r"|^(patient|subject|case|compound|donor|animal)s?([_\W]?(id|no|num|number|code|key))?$",
    re.IGNORECASE,
)
#: A repeated identifier: at least this many levels, and this share of the rows.
_GROUP_LEVELS = 20
_GROUP_SHARE = 0.05
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]{2,}")
_STEM = re.compile(r"^([A-Za-z]+)(?=[_.\-\s]|\d)")
_AFFYMETRIX = re.compile(r"^X?\d+(_[a-z])?_at$")
#: Numeric panels: a shared name stem over this many adjacent columns, or
#: this many adjacent float columns on one scale (a panel of one measurement
#: kind, such as expression values named by gene symbol).
_PREFIX_PANEL = 4
_SCALE_PANEL = 8


@dataclass(frozen=True)
class ColumnSuggestion:
    """The kind detected for one column, with the evidence for it.

    Attributes
    ----------
    column : str
        The column's name.
    kind : str
        One of :data:`KINDS` (``"image"``, ``"text"``, ``"numeric"``, ...), or
        ``"target"`` for the target column.
    role : {"feature", "target", "groups", "unused"}
        What the column is used for.
    modality : str or None
        The modality it feeds, for a feature.
    share : float
        The share of sampled non-missing cells that support the kind.
    n_sampled : int
        How many non-missing cells were examined.
    examples : tuple of str
        Up to three example values, shortened.
    evidence : str
        Why the kind was chosen, in one line.
    overridden : bool
        True when the kind was given in ``overrides``.
    """

    column: str
    kind: str
    role: str
    modality: str | None
    share: float
    n_sampled: int
    examples: tuple
    evidence: str
    overridden: bool = False


@dataclass(frozen=True)
class ModalitySuggestion:
    """One proposed modality: its columns and the recipe that reads them.

    Attributes
    ----------
    name : str
        The modality's name in the union.
    recipe : str
        A recipe of the configuration format: ``"image"``, ``"text"``,
        ``"kmer"``, ``"molecule"`` or ``"tabular"``.
    columns : tuple of str
        The columns it reads (one, except for ``"tabular"``).
    params : dict
        The parameters of the recipe's transformer.
    loader : dict
        The image loader's parameters (image recipe only).
    evidence : str
        Why these columns make this modality, in one line.
    alternatives : tuple of str
        Other reasonable choices, for the user to weigh.
    """

    name: str
    recipe: str
    columns: tuple
    params: dict = field(default_factory=dict)
    loader: dict = field(default_factory=dict)
    evidence: str = ""
    alternatives: tuple = ()


class ModalitySuggestions:
    """The result of :func:`suggest_modalities`: columns, modalities, target, groups.

    It prints as a table of the columns with their kind, modality and evidence;
    :meth:`to_frame` gives that table as a DataFrame, :meth:`to_union` the
    :class:`~polymodal.MultimodalUnion` and :meth:`to_toml` the configuration
    file that ``polymodal init`` writes.

    Attributes
    ----------
    columns : list of ColumnSuggestion
        One per column, in the table's order.
    modalities : list of ModalitySuggestion
        The proposed modalities, in the order of their first column.
    target : str or None
        The target column, which no modality reads.
    groups : str or None
        The identifier column proposed as group labels (patient IDs).
    """

    def __init__(self, columns, modalities, *, target=None, groups=None):
        self.columns = list(columns)
        self.modalities = list(modalities)
        self.target = target
        self.groups = groups

    def __len__(self):
        return len(self.columns)

    def __iter__(self):
        return iter(self.columns)

    def __getitem__(self, column):
        """The :class:`ColumnSuggestion` of a column, by name."""
        for suggestion in self.columns:
            if suggestion.column == column:
                return suggestion
        raise KeyError(_unknown_name(column, [s.column for s in self.columns]))

    def to_frame(self):
        """The suggestions as a DataFrame, one row per column.

        Returns
        -------
        pandas.DataFrame
            Columns ``column``, ``kind``, ``role``, ``modality``, ``share``,
            ``evidence``.
        """
        return pd.DataFrame(
            [
                {
                    "column": s.column,
                    "kind": s.kind,
                    "role": s.role,
                    "modality": s.modality,
                    "share": round(s.share, 3),
                    "evidence": s.evidence,
                }
                for s in self.columns
            ],
            columns=["column", "kind", "role", "modality", "share", "evidence"],
        )

    def __repr__(self):
        lines = [
            f"ModalitySuggestions: {len(self.modalities)} modalities from "
            f"{len(self.columns)} columns"
            + (f", target {self.target!r}" if self.target is not None else "")
            + (f", groups {self.groups!r}" if self.groups is not None else "")
        ]
        for modality in self.modalities:
            columns = _shorten_list(modality.columns)
            lines.append(f"  {modality.name} ({modality.recipe}): {columns}")
        unused = [s.column for s in self.columns if s.role == "unused"]
        if unused:
            lines.append(f"  not used: {_shorten_list(unused)}")
        width = max(len(str(s.column)) for s in self.columns)
        lines.append("Columns:")
        for s in self.columns:
            where = s.modality or s.role
            lines.append(
                f"  {s.column!s:<{width}}  {s.kind:<12} -> {where:<12} {s.evidence}"
            )
        return "\n".join(lines)

    def to_config(self):
        """The suggestions as a configuration document (the TOML file's content).

        Returns
        -------
        dict
            With ``target`` and ``groups`` where known and one table per
            modality under ``modalities``, as :func:`tomllib.loads` returns the
            file that :meth:`to_toml` writes.
        """
        document = {}
        if self.target is not None:
            document["target"] = self.target
        if self.groups is not None:
            document["groups"] = self.groups
        document["modalities"] = {
            modality.name: _modality_table(modality) for modality in self.modalities
        }
        return document

    def to_toml(self, *, source=None):
        """The commented configuration file for ``polymodal compare``.

        Parameters
        ----------
        source : str or None, default=None
            How to name the data in the file's header (its path).

        Returns
        -------
        str
            See :func:`polymodal.compose.render_config`.
        """
        from ._config import render_config

        return render_config(self, source=source)

    def to_union(self, **params):
        """The :class:`~polymodal.MultimodalUnion` of the suggested modalities.

        Each modality's transformer is built by the recipe of the command
        line's configuration format, so the union is the one that the file
        :meth:`to_toml` writes describes.

        Parameters
        ----------
        **params : dict
            Parameters of the union (``n_jobs``, ``on_error``, ...).

        Returns
        -------
        MultimodalUnion
            Unfitted.

        Raises
        ------
        ValueError
            When no column was suggested as a feature.
        """
        from ._config import build_union

        return build_union(self).set_params(**params)


def _modality_table(modality):
    table = {
        "columns": (
            list(modality.columns)
            if modality.recipe == "tabular"
            else modality.columns[0]
        ),
        "transformer": modality.recipe,
    }
    if modality.params:
        table["params"] = dict(modality.params)
    if modality.loader:
        table["loader"] = dict(modality.loader)
    return table


def _shorten_list(names, limit=6):
    names = [str(name) for name in names]
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:3])}, ... {names[-1]} ({len(names)} columns)"


def _unknown_name(name, known, what="column"):
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{name!r} is not a {what}{hint}"


def _example(value, width=40):
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    text = str(value).replace("\n", " ").replace("\r", " ")
    if len(text) <= width:
        return text
    if "/" in text or "\\" in text:
        # A path: its end (the file name) says more than its start.
        return text[:8] + "..." + text[-(width - 11) :]
    return text[: width - 3] + "..."


def _present(series):
    """The non-missing cells: not None/NaN/NA, and for text not blank."""
    values = series[series.notna()]
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        keep = [not (isinstance(v, str) and not v.strip()) for v in values]
        values = values[np.asarray(keep, dtype=bool)]
    return values


def _sample(values, n, seed=0):
    if len(values) <= n:
        return list(values)
    rows = np.random.default_rng(seed).choice(len(values), size=n, replace=False)
    return [values.iloc[i] for i in np.sort(rows)]


class _Decision:
    """A kind with its evidence, before roles and modalities are assigned."""

    def __init__(self, kind, share, n, examples, evidence, **extra):
        self.kind = kind
        self.share = share
        self.n = n
        self.examples = tuple(_example(v) for v in examples[:3])
        self.evidence = evidence
        self.extra = extra


# ----------------------------------------------------------------------------
# Kinds of one column


def _detect(series):
    present = _present(series)
    n = len(present)
    if n == 0:
        return _Decision("empty", 1.0, 0, [], "every cell is missing; left out")
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return _categorical(
            present,
            "categorical dtype"
            if isinstance(dtype, pd.CategoricalDtype)
            else "boolean dtype",
        )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _Decision("date", 1.0, n, list(present[:3]), "datetime dtype")
    if pd.api.types.is_numeric_dtype(dtype):
        return _numeric(series, present)
    sample = _sample(present, _SAMPLE)
    arrays = sum(isinstance(v, np.ndarray) and v.ndim in (2, 3, 4) for v in sample)
    if arrays:
        share = arrays / len(sample)
        if share >= _SHARE:
            return _Decision(
                "image",
                share,
                len(sample),
                sample,
                f"{arrays} of {len(sample)} sampled cells are image arrays",
            )
    strings = [v for v in sample if isinstance(v, str)]
    numbers = [
        v
        for v in sample
        if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
    ]
    if numbers and len(numbers) + len(strings) == len(sample) and strings:
        return _mixed(present, sample, numbers, strings)
    nested = [v for v in sample if isinstance(v, (list, tuple, dict, np.ndarray))]
    if nested:
        return _Decision(
            "nested",
            len(nested) / len(sample),
            len(sample),
            nested,
            f"{len(nested)} of {len(sample)} sampled cells hold a "
            f"{type(nested[0]).__name__} (a nested column); left out: flatten "
            "it into columns of their own",
        )
    if len(strings) < len(sample):
        other = next(v for v in sample if not isinstance(v, str))
        return _categorical(
            present,
            f"cells of Python type {type(other).__name__}, read as categories",
        )
    as_numbers = pd.to_numeric(pd.Series(strings), errors="coerce").notna()
    if 0.5 <= as_numbers.mean() < _SHARE and not _ID_NAME.search(str(series.name)):
        # As many numbers as polymodal compare counts as a numeric column
        # with text in it, which it refuses.
        return _text_among_numbers(strings, as_numbers)
    if as_numbers.mean() >= _SHARE:
        identifier = _identifier(series, present, strings)
        if identifier is not None and _ID_NAME.search(str(series.name)):
            return identifier
        if _group_name(series.name):
            repeated = _repeated_identifier(series, present, strings)
            if repeated is not None:
                return repeated
        if not as_numbers.all():
            return _text_among_numbers(strings, as_numbers)
        return _Decision(
            "categorical",
            float(as_numbers.mean()),
            len(strings),
            strings,
            f"numbers stored as text ({int(as_numbers.sum())} of {len(strings)} "
            "sampled cells); read as categories: convert the column with "
            "pd.to_numeric to use it as numbers",
        )
    for detector in (
        _files,
        _sequence,
        _smiles,
        _date,
        _identifier,
        _repeated_identifier,
        _text,
    ):
        decision = detector(series, present, strings)
        if decision is not None:
            return decision
    return _categorical(present, "short strings")


def _numeric(series, present):
    n = len(present)
    unique = present.nunique()
    if (
        pd.api.types.is_integer_dtype(series.dtype)
        and unique == len(series)
        and _ID_NAME.search(str(series.name))
    ):
        return _Decision(
            "identifier",
            1.0,
            n,
            list(present[:3].astype(str)),
            f"integers, one per row ({unique} of {len(series)}), and an id-like name",
        )
    if pd.api.types.is_integer_dtype(series.dtype) and _group_name(series.name):
        repeated = _repeated_identifier(series, present, list(present.astype(str)))
        if repeated is not None:
            return repeated
    kind = "integers" if pd.api.types.is_integer_dtype(series.dtype) else "numbers"
    return _Decision(
        "numeric",
        1.0,
        n,
        list(present.drop_duplicates()[:3]),
        f"{kind}, {unique} distinct values in {n} cells",
        median=float(np.nanmedian(present.astype(float))),
        spread=float(np.subtract(*np.nanpercentile(present.astype(float), [75, 25]))),
        integer=pd.api.types.is_integer_dtype(series.dtype),
    )


def _categorical(present, why):
    levels = present.astype(str).value_counts()
    return _Decision(
        "categorical",
        1.0,
        len(present),
        list(levels.index[:3]),
        f"{why}, {len(levels)} levels (most common {_example(levels.index[0])!r})",
    )


def _text_among_numbers(strings, as_numbers):
    """Strings mostly numbers, some text (a typo, a unit written in)."""
    text = [
        cell for cell, number in zip(strings, as_numbers, strict=True) if not number
    ]
    return _Decision(
        "categorical",
        float(as_numbers.mean()),
        len(strings),
        strings,
        f"numbers mixed with text: {int(as_numbers.sum())} of {len(strings)} "
        f"sampled cells are numbers, the others text (e.g. {_example(text[0])!r}); "
        f"{_MIXED_FIX}",
    )


def _mixed(present, sample, numbers, strings):
    share = len(numbers) / len(sample)
    return _Decision(
        "categorical",
        1 - share,
        len(sample),
        strings[:2] + numbers[:1],
        f"mixed types: {len(numbers)} numbers and {len(strings)} strings in "
        f"{len(sample)} sampled cells (e.g. {_example(strings[0])!r}); "
        f"{_MIXED_FIX}",
    )


#: What to do with a column of numbers and some text, which polymodal compare
#: refuses (a typo or a unit written in would otherwise become a category).
_MIXED_FIX = (
    "read as categories, but polymodal compare refuses the column until the "
    "text cells are fixed or emptied (pd.to_numeric(..., errors='coerce'))"
)


def _suffix(path):
    name = path.lower()
    for suffix in _NIFTI_SUFFIXES:
        if name.endswith(suffix):
            return "nifti"
    if name.endswith(_IMAGE_SUFFIXES):
        return "image"
    return None


def _is_dicom(path):
    try:
        with open(path, "rb") as file:
            return file.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def _file_kind(value):
    """The kind of one path that exists, or None."""
    path = Path(value)
    if path.is_dir():
        files = [p for p in sorted(path.iterdir())[:5] if p.is_file()]
        if files and all(_is_dicom(p) for p in files):
            return "dicom_series"
        return None
    if path.is_file():
        return _suffix(value) or ("image" if _is_dicom(path) else None)
    return None


def _image_shape(path, kind):
    """(height, width) of one image file, read from its header; None if unknown."""
    try:
        if kind == "nifti":
            import nibabel

            return tuple(int(n) for n in nibabel.load(path).shape[:2])
        if _is_dicom(path):
            import pydicom

            header = pydicom.dcmread(path, stop_before_pixels=True)
            return int(header.Rows), int(header.Columns)
        from PIL import Image

        with Image.open(path) as image:
            return image.size[1], image.size[0]
    except Exception:
        return None


def _is_color(path):
    """Whether an image file holds colour (three samples per pixel)."""
    try:
        if _is_dicom(path):
            import pydicom

            header = pydicom.dcmread(path, stop_before_pixels=True)
            return int(getattr(header, "SamplesPerPixel", 1)) == 3
        from PIL import Image

        with Image.open(path) as image:
            return image.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr")
    except Exception:
        return False


def _common_shape(paths, kind):
    """The loader's ``size`` when the sampled images differ in shape, else None."""
    if kind == "dicom_series":
        return None
    shapes = [_image_shape(p, kind) for p in paths[:5]]
    shapes = [shape for shape in shapes if shape is not None]
    if len(set(shapes)) <= 1:
        return None
    common = pd.Series(shapes).value_counts()
    if common.iloc[0] > 1:
        return list(common.index[0])
    return list(min(shapes, key=lambda shape: shape[0] * shape[1]))


def _files(series, present, strings):
    if any("\n" in v or len(v) > 4096 for v in strings[:_FILE_SAMPLE]):
        return None
    sample = strings[:_FILE_SAMPLE]
    by_suffix = [_suffix(v) for v in sample]
    looks = sum(kind is not None for kind in by_suffix)
    kinds = []
    for value in sample:
        try:
            kinds.append(_file_kind(value))
        except OSError:
            kinds.append(None)
    found = [kind for kind in kinds if kind is not None]
    if len(found) >= _SHARE * len(sample):
        kind = max(set(found), key=found.count)
        what = {
            "image": "image files",
            "nifti": "NIfTI files",
            "dicom_series": "folders of DICOM files",
        }[kind]
        existing = [v for v, k in zip(sample, kinds, strict=True) if k == kind]
        size = _common_shape(existing, kind)
        resized = (
            f"; their shapes differ, so each is resized to {size[0]} x {size[1]}"
            if size
            else ""
        )
        # Colour tiles (pathology) keep their three channels; a gray scan does not
        # gain any.
        color = kind == "image" and (
            sum(_is_color(p) for p in existing[:5]) * 2 > len(existing[:5])
        )
        if color:
            resized += "; they are colour images, read as 3 channels (RGB)"
        return _Decision(
            kind,
            len(found) / len(sample),
            len(sample),
            sample,
            f"{len(found)} of {len(sample)} sampled paths are {what} that exist"
            + resized,
            missing_files=len(found) < len(sample),
            size=size,
            color=color,
        )
    if looks >= _SHARE * len(sample):
        kind = max(set(k for k in by_suffix if k), key=by_suffix.count)
        exist = sum(Path(v).exists() for v in sample)
        if exist == 0:
            return _Decision(
                kind,
                0.0,
                len(sample),
                sample,
                f"paths with image suffixes, but none of the {len(sample)} sampled "
                f"files exist (first: {_example(sample[0])!r}); left out: check "
                "the working directory, or override",
                unusable=True,
            )
        return _Decision(
            kind,
            exist / len(sample),
            len(sample),
            sample,
            f"paths with image suffixes; only {exist} of {len(sample)} sampled "
            "files exist, so unreadable files count as a missing image",
            missing_files=True,
        )
    return None


def _alphabet_share(value, letters):
    return sum(ch in letters for ch in value) / len(value) if value else 0.0


def _sequence(series, present, strings):
    if any(not v.isalpha() and not v.rstrip("*").isalpha() for v in strings):
        return None
    lengths = [len(v) for v in strings]
    if np.median(lengths) < 20:
        return None
    upper = [v.upper() for v in strings]
    for kind in ("dna", "rna", "protein"):
        core = ALPHABETS[kind]
        allowed = set(core + AMBIGUOUS.get(kind, "") + "*")
        fits = [
            _alphabet_share(v, core) >= 0.9 and _alphabet_share(v, allowed) == 1.0
            for v in upper
        ]
        share = sum(fits) / len(upper)
        if share >= _SHARE:
            core_share = np.mean([_alphabet_share(v, core) for v in upper])
            return _Decision(
                kind,
                share,
                len(upper),
                strings,
                f"{sum(fits)} of {len(upper)} sampled cells are {kind.upper() if kind != 'protein' else 'protein'} "
                f"({core_share:.0%} of letters in {core}), median length "
                f"{int(np.median(lengths))}",
            )
    return None


def _smiles(series, present, strings):
    if any(" " in v for v in strings):
        return None
    distinct = len(set(strings))
    if (
        distinct < max(3, 0.2 * len(strings))
        or np.median([len(v) for v in strings]) < 3
    ):
        return None
    try:
        from rdkit import Chem, RDLogger
    except ImportError:
        return None
    sample = strings[:_SMILES_SAMPLE]
    RDLogger.DisableLog("rdApp.*")
    try:
        parsed = sum(Chem.MolFromSmiles(v) is not None for v in sample)
    finally:
        RDLogger.EnableLog("rdApp.*")
    share = parsed / len(sample)
    if share < _SHARE:
        return None
    return _Decision(
        "smiles",
        share,
        len(sample),
        sample,
        f"RDKit parses {parsed} of {len(sample)} sampled cells as SMILES",
    )


def _shape(value):
    return re.sub(r"[A-Za-z]+", "A", re.sub(r"\d+", "9", value))


def _identifier(series, present, strings):
    if len(present) < len(series) or present.nunique() < len(series):
        return None
    if any(any(ch.isspace() for ch in v) or len(v) > 64 for v in strings):
        return None
    shapes = pd.Series([_shape(v) for v in strings]).value_counts()
    uniform = shapes.iloc[0] >= _SHARE * len(strings)
    if not (uniform or _ID_NAME.search(str(series.name))):
        return None
    why = "one pattern" if uniform else "an id-like name"
    return _Decision(
        "identifier",
        1.0,
        len(strings),
        strings,
        f"one distinct value per row ({len(series)} rows), {why}: proposed as "
        "groups, never a feature",
    )


def _group_name(name):
    return bool(_GROUP_NAME.search(str(name)))


def _repeated_identifier(series, present, strings):
    """Codes naming an entity with several rows: a patient's visits, a compound's
    assays. Such a column is the group labels; as a feature it would let a model
    recognise the entity across folds."""
    if len(present) < len(series):
        return None
    counts = present.astype(str).value_counts()
    levels = len(counts)
    if levels == len(series) or levels < max(_GROUP_LEVELS, _GROUP_SHARE * len(series)):
        return None
    if any(any(ch.isspace() for ch in v) or len(v) > 64 for v in strings):
        return None
    repeated = int((counts >= 2).sum())
    if repeated < _SHARE * levels:
        return None
    # Entities have comparable numbers of rows; a category's levels (diagnosis
    # codes, say) are skewed, a few of them common.
    if counts.iloc[0] > 10 * counts.median():
        return None
    shapes = pd.Series([_shape(v) for v in strings]).value_counts()
    uniform = shapes.iloc[0] >= _SHARE * len(strings) and bool(
        re.search(r"\d", shapes.index[0])
    )
    named = _group_name(series.name)
    if not (uniform or named):
        return None
    why = (
        f"one pattern of letters and digits ({_example(strings[0])!r})"
        if uniform
        else "an id-like name"
    )
    if uniform and named:
        why += " and an id-like name"
    return _Decision(
        "identifier",
        1.0,
        len(strings),
        list(counts.index),
        f"a repeated identifier: {levels} codes over {len(series)} rows, "
        f"{repeated} of them on several rows (median {counts.median():g}), {why}: "
        "group labels, never a feature",
        repeated=True,
    )


def _date(series, present, strings):
    if not all(re.search(r"\d", v) and re.search(r"[-/.:]", v) for v in strings):
        return None
    if any(len(v) > 40 for v in strings):
        return None
    parsed = pd.to_datetime(pd.Series(strings), errors="coerce", format="mixed")
    share = float(parsed.notna().mean())
    if share < _SHARE:
        return None
    return _Decision(
        "date",
        share,
        len(strings),
        strings,
        f"{parsed.notna().sum()} of {len(strings)} sampled cells parse as dates; "
        "left out (derive numbers such as days since diagnosis by hand)",
    )


def _text(series, present, strings):
    cjk = [len(_CJK.findall(v)) for v in strings]
    letters = [sum(not ch.isspace() for ch in v) or 1 for v in strings]
    words = [len(_WORD.findall(v)) for v in strings]
    zh = [c / n >= 0.3 and c >= 4 for c, n in zip(cjk, letters, strict=True)]
    en = [w >= 3 for w in words]
    is_text = [a or b for a, b in zip(zh, en, strict=True)]
    share = sum(is_text) / len(strings)
    distinct = len(set(strings))
    if share < _SHARE or (distinct <= 20 and distinct <= 0.2 * len(strings)):
        return None
    n_zh, n_en = sum(zh), sum(e and not z for e, z in zip(en, zh, strict=True))
    if n_zh >= _SHARE * len(strings):
        language = "zh"
    elif n_en >= _SHARE * len(strings):
        language = "en"
    else:
        language = "auto"
    return _Decision(
        "text",
        share,
        len(strings),
        strings,
        f"{sum(is_text)} of {len(strings)} sampled cells are prose ({n_en} "
        f"English, {n_zh} Chinese; median {int(np.median(words))} words, "
        f"{int(np.median(cjk))} Chinese characters)",
        language=language,
    )


# ----------------------------------------------------------------------------
# From kinds to modalities


def _stem(name):
    match = _STEM.match(str(name))
    return match[1] if match else None


def _panels(columns, decisions):
    """[(columns, name, evidence)] for adjacent numeric columns that make one panel."""
    runs, run = [], []
    for column in columns:
        decision = decisions.get(column)
        if decision is not None and decision.kind == "numeric":
            run.append(column)
        else:
            runs.append(run)
            run = []
    runs.append(run)
    panels = []
    for run in runs:
        start = 0
        while start < len(run):
            stem = _stem(run[start])
            end = start + 1
            while end < len(run) and stem is not None and _stem(run[end]) == stem:
                end += 1
            if stem is not None and end - start >= _PREFIX_PANEL:
                members = run[start:end]
                if all(_AFFYMETRIX.match(str(c)) for c in members):
                    name, how = "genes", "Affymetrix probe sets"
                else:
                    name, how = stem.lower(), f"named {stem}..."
                panels.append(
                    (
                        members,
                        name,
                        f"{len(members)} adjacent numeric columns {how} "
                        f"({members[0]} ... {members[-1]})",
                    )
                )
                start = end
                continue
            start = end if stem is not None else start + 1
        scaled = [c for c in run if not any(c in panel[0] for panel in panels)]
        panels.extend(_scale_panels(run, scaled, decisions))
    return panels


def _scale_panels(run, free, decisions):
    """Adjacent float columns on one scale: a panel of one measurement kind."""
    panels, block = [], []
    free = set(free)

    def close(block):
        if len(block) >= _SCALE_PANEL:
            medians = np.array([decisions[c].extra["median"] for c in block])
            spreads = np.array([decisions[c].extra["spread"] for c in block])
            if (
                (medians > 0).all()
                and medians.max() / medians.min() <= 10
                and (spreads.max() <= max(medians.max(), 1e-12))
            ):
                panels.append(
                    (
                        list(block),
                        "panel",
                        f"{len(block)} adjacent numeric columns on one scale "
                        f"(medians {medians.min():.3g} to {medians.max():.3g})",
                    )
                )

    for column in run:
        if column in free and not decisions[column].extra.get("integer"):
            block.append(column)
        else:
            close(block)
            block = []
    close(block)
    return panels


def _name(column, taken):
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", str(column)).strip("_") or "modality"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


_ALTERNATIVES = {
    "image": (
        'params = { features = ["first_order", "glcm", "lbp", "hog"] } chooses '
        "the image features",
        "loader = { size = [128, 128] } resizes every image first",
    ),
    "text": (
        'transformer = "sentence": offline sentence embeddings (English only)',
        "params = { ngram_range = [1, 2], min_df = 2 }: word pairs, rare words out",
    ),
    "dna": ("params = { k = 3 } or { k = 5 }: shorter or longer k-mers",),
    "rna": ('params = { alphabet = "rna", k = 3 }: shorter k-mers',),
    "protein": ('params = { alphabet = "protein", k = 1 }: amino-acid composition',),
    "smiles": ("params = { radius = 3, n_bits = 1024 }: larger, shorter fingerprints",),
    "tabular": ("move columns between tabular modalities, or merge them into one",),
}


def _modality(name, kind, columns, decision):
    recipe = KINDS[kind][0]
    params, loader = {}, {}
    if kind == "dicom_series":
        loader["volume"] = True
    if decision is not None and decision.extra.get("missing_files"):
        loader["on_error"] = "missing"
    if decision is not None and decision.extra.get("size"):
        loader["size"] = decision.extra["size"]
    if decision is not None and decision.extra.get("color"):
        loader["color"] = "rgb"
    if kind == "text" and decision is not None:
        params["language"] = decision.extra.get("language", "auto")
    if kind in ("rna", "protein"):
        params["alphabet"] = kind
        params["k"] = 3 if kind == "rna" else 2
    evidence = decision.evidence if decision is not None else ""
    return ModalitySuggestion(
        name=name,
        recipe=recipe,
        columns=tuple(columns),
        params=params,
        loader=loader,
        evidence=evidence,
        alternatives=_ALTERNATIVES.get(kind, _ALTERNATIVES.get(recipe, ())),
    )


@validate_params(
    {
        "X": [pd.DataFrame],
        "target": [str, None],
        "groups": [str, None],
        "overrides": [dict, None],
    },
    prefer_skip_nested_validation=True,
)
def suggest_modalities(X, *, target=None, groups=None, overrides=None):
    """Suggest the modalities of a patient table from what its columns hold.

    Each column gets one kind, decided on a sample of its non-missing cells
    (at most 200; 20 for file checks, 100 for RDKit):

    - ``image``, ``nifti``, ``dicom_series``: paths that exist, of image files
      by suffix (``.png``, ``.jpg``, ``.tif``, ``.dcm``, ...) or by the DICOM
      magic ``DICM`` at byte 128, of NIfTI files, or of folders of DICOM files
      (read with ``ImageLoader(volume=True)``); cells holding image arrays;
    - ``dna``, ``rna``, ``protein``: letters only, median length at least 20,
      and at least 90% of each cell's letters in the alphabet;
    - ``smiles``: RDKit parses at least 90% of the sampled cells;
    - ``text``: at least 3 English words, or mostly Chinese characters, in at
      least 90% of the cells;
    - ``identifier``: one distinct value per row with one pattern (``P0001``)
      or an id-like name; or a repeated identifier: codes of one pattern of
      letters and digits (``C017``, ``MRN-2231``) or under an id-like name
      (``patient``, ``subject``, ``case``, ``compound``, ``..._id``), at least
      20 levels and 5% of the rows, 90% of them on several rows and none
      dominant (a patient's visits, a compound's assays); integers need the
      name. Proposed as ``groups`` (a unique one first), never a feature;
    - ``date``: dates (dtype, or strings that parse as dates); left out;
    - ``numeric`` and ``categorical``: the rest, by dtype;
    - ``nested``: lists or mappings in cells (a nested Parquet column); left
      out;
    - ``empty``: every cell missing; left out.

    At least 90% of the sampled cells must support a kind. Single-column kinds
    become one modality each. Adjacent numeric columns that share a name stem
    (4 or more: ``lab_glucose``, ``lab_sodium``, ...; ``X200726_at``, ... is
    named ``genes``) or hold floats on one scale (8 or more) become one panel
    modality; the other numeric and categorical columns make ``clinical``.

    Parameters
    ----------
    X : pandas.DataFrame
        The table, one row per sample, at least two rows.
    target : str or None, default=None
        The target column: never a feature.
    groups : str or None, default=None
        The column of group labels (patient IDs): never a feature. By
        default the first identifier column, preferring one unique per row,
        then an id-like name; a repeated identifier when none is unique.
    overrides : dict or None, default=None
        ``{column: kind}`` for columns whose detected kind is wrong; a kind of
        :data:`~polymodal.compose.KINDS`, ``"drop"`` to leave a column out.

    Returns
    -------
    ModalitySuggestions
        The kind of each column with its evidence, and the modalities.

    Raises
    ------
    ValueError
        When the table has fewer than two rows, repeats a column name, or the
        target or an override names a column it lacks or an unknown kind.

    Notes
    -----
    Decisions on awkward columns:

    - an all-missing column is ``empty`` and left out;
    - a column mixing numbers and strings is ``categorical``, and its evidence
      says so: the tabular recipe reads a column by its dtype, so clean the
      strings (``pd.to_numeric(..., errors="coerce")``) to use it as numbers;
    - paths with image suffixes whose files do not exist are left out; if some
      exist, unreadable files count as a missing image (``on_error="missing"``);
    - a one-row table cannot tell an identifier from a feature: an error.

    Examples
    --------
    >>> import pandas as pd
    >>> from polymodal.compose import suggest_modalities
    >>> df = pd.DataFrame({
    ...     "patient_id": ["P01", "P02", "P03", "P04"],
    ...     "note": ["No cough, mild fever today.", "Reports cough for a week.",
    ...              "Denies chest pain or cough.", "Complains of weight loss."],
    ...     "age": [61, 54, 70, 48],
    ...     "sex": ["F", "M", "M", "F"],
    ...     "diagnosis": [1, 0, 1, 0],
    ... })
    >>> suggestions = suggest_modalities(df, target="diagnosis")
    >>> [(m.name, m.recipe, m.columns) for m in suggestions.modalities]
    [('note', 'text', ('note',)), ('clinical', 'tabular', ('age', 'sex'))]
    >>> suggestions.groups
    'patient_id'
    >>> suggestions["note"].kind, suggestions["note"].share
    ('text', 1.0)
    >>> suggest_modalities(df, target="diagnosis", overrides={"note": "drop"})[
    ...     "note"].role
    'unused'
    """
    columns = list(X.columns)
    repeated = pd.Index(columns)[pd.Index(columns).duplicated()]
    if len(repeated):
        raise ValueError(
            f"Column {repeated[0]!r} appears more than once in the table; "
            "rename the repeats before detecting modalities."
        )
    if len(X) < 2:
        raise ValueError(
            f"The table has {len(X)} row(s); detecting modalities needs at least 2 "
            "(with one row every column is unique, identifier or feature alike)."
        )
    if target is not None and target not in columns:
        raise ValueError(f"target: {_unknown_name(target, columns)}.")
    if groups is not None and groups not in columns:
        raise ValueError(f"groups: {_unknown_name(groups, columns)}.")
    if groups is not None and groups == target:
        raise ValueError(f"groups: {groups!r} is the target column.")
    overrides = dict(overrides or {})
    for column, kind in overrides.items():
        if column not in columns:
            raise ValueError(f"overrides: {_unknown_name(column, columns)}.")
        if kind not in KINDS or kind in ("empty", "nested"):
            names = [k for k in KINDS if k not in ("empty", "nested")]
            raise ValueError(
                f"overrides[{column!r}]: {_unknown_name(kind, names, 'kind')}; "
                f"the kinds are {', '.join(names)}."
            )

    decisions = {}
    for column in columns:
        if column == target:
            continue
        if column == groups:
            decisions[column] = _override(X[column], "identifier")
            decisions[column].evidence = "the groups column, as given"
        elif column in overrides:
            decisions[column] = _override(X[column], overrides[column])
        else:
            decisions[column] = _detect(X[column])

    # Without groups given: the first identifier, preferring one unique per row
    # (it names the samples), then an id-like name; a repeated identifier is
    # proposed when no column is unique, and named as an alternative otherwise.
    identifiers = [c for c, d in decisions.items() if d.kind == "identifier"]
    if groups is None and identifiers:
        groups = max(
            identifiers,
            key=lambda c: (
                not decisions[c].extra.get("repeated"),
                bool(_ID_NAME.search(str(c))),
            ),
        )
        decision = decisions[groups]
        if decision.extra.get("repeated"):
            decision.evidence = decision.evidence.replace(
                "group labels, never a feature",
                "proposed as groups (no column is unique per row), never a feature",
            )
    others = [
        c for c in identifiers if c != groups and decisions[c].extra.get("repeated")
    ]
    if groups is not None and others:
        decisions[groups].evidence += (
            "; alternative groups: "
            + ", ".join(repr(c) for c in others)
            + " (repeated identifier: one group per entity rather than per row)"
        )

    taken = set()
    feature_of = {}
    single = []
    for column in columns:
        decision = decisions.get(column)
        if decision is None or KINDS[decision.kind][0] in (None, "tabular"):
            continue
        if decision.extra.get("unusable"):
            continue
        single.append(column)
    panels = _panels(columns, decisions)
    panel_of = {c: i for i, panel in enumerate(panels) for c in panel[0]}
    clinical = [
        c
        for c in columns
        if c in decisions
        and KINDS[decisions[c].kind][0] == "tabular"
        and c not in panel_of
    ]

    # Modalities in the order of their first column.
    modalities, placed = [], set()
    clinical_name = None
    for column in columns:
        if column in single:
            decision = decisions[column]
            name = _name(column, taken)
            modalities.append(_modality(name, decision.kind, [column], decision))
            feature_of[column] = name
        elif column in panel_of and panel_of[column] not in placed:
            members, base, evidence = panels[panel_of[column]]
            placed.add(panel_of[column])
            name = _name(base, taken)
            modalities.append(
                ModalitySuggestion(
                    name,
                    "tabular",
                    tuple(members),
                    evidence=evidence,
                    alternatives=_ALTERNATIVES["tabular"],
                )
            )
            feature_of.update(dict.fromkeys(members, name))
        elif column in clinical and clinical_name is None:
            clinical_name = _name("clinical", taken)
            kinds = pd.Series([decisions[c].kind for c in clinical]).value_counts()
            modalities.append(
                ModalitySuggestion(
                    clinical_name,
                    "tabular",
                    tuple(clinical),
                    evidence="the other numeric and categorical columns ("
                    + ", ".join(f"{n} {k}" for k, n in kinds.items())
                    + ")",
                    alternatives=_ALTERNATIVES["tabular"],
                )
            )
            feature_of.update(dict.fromkeys(clinical, clinical_name))

    suggestions = []
    for column in columns:
        if column == target:
            suggestions.append(
                ColumnSuggestion(
                    column,
                    "target",
                    "target",
                    None,
                    1.0,
                    0,
                    (),
                    "the target column: never a feature",
                )
            )
            continue
        decision = decisions[column]
        if column in feature_of:
            role = "feature"
        elif column == groups:
            role = "groups"
        else:
            role = "unused"
        evidence = decision.evidence
        if decision.kind == "identifier" and column != groups:
            evidence += f"; not used ({groups!r} is the groups column"
            if decision.extra.get("repeated"):
                evidence += f"; give groups={column!r} to group by it instead"
            evidence += ")"
        suggestions.append(
            ColumnSuggestion(
                column=column,
                kind=decision.kind,
                role=role,
                modality=feature_of.get(column),
                share=float(decision.share),
                n_sampled=decision.n,
                examples=decision.examples,
                evidence=evidence,
                overridden=column in overrides,
            )
        )
    return ModalitySuggestions(suggestions, modalities, target=target, groups=groups)


def _override(series, kind):
    present = _present(series)
    sample = _sample(present, 3)
    extra = {}
    if kind == "text":
        extra["language"] = "auto"
    if kind == "numeric":
        values = pd.to_numeric(present, errors="coerce")
        extra.update(
            median=float(np.nanmedian(values)) if values.notna().any() else 0.0,
            spread=0.0,
            integer=False,
        )
    return _Decision(
        kind, 1.0, len(present), sample, f"{kind}, as given in overrides", **extra
    )
