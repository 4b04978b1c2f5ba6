"""Alphabets and the vectorised reading of sequence columns."""

import numpy as np

from ..utils._columns import string_cells

#: Unambiguous letters of each alphabet, in the (lexicographic) order of the
#: output columns.
ALPHABETS = {
    "dna": "ACGT",
    "rna": "ACGU",
    "protein": "ACDEFGHIKLMNPQRSTVWY",
}

#: Letters accepted but not counted: the IUPAC nucleotide ambiguity codes, and
#: for proteins B (D/N), Z (E/Q), J (I/L), X (unknown), U (selenocysteine),
#: O (pyrrolysine) and ``*`` (stop).
AMBIGUOUS = {
    "dna": "NRYSWKMBDHV",
    "rna": "NRYSWKMBDHV",
    "protein": "BZJXUO*",
}

# Byte codes after the look-up: the alphabet takes 0 .. size - 1.
AMBIGUOUS_CODE = 253
WHITESPACE_CODE = 254
INVALID_CODE = 255


def lookup_table(alphabet):
    """A 256-entry table mapping ASCII bytes to letter codes, case-insensitively."""
    table = np.full(256, INVALID_CODE, dtype=np.uint8)
    for code, letter in enumerate(ALPHABETS[alphabet]):
        table[ord(letter)] = table[ord(letter.lower())] = code
    for letter in AMBIGUOUS[alphabet]:
        table[ord(letter)] = table[ord(letter.lower())] = AMBIGUOUS_CODE
    for letter in " \t\r\n\v\f":
        table[ord(letter)] = WHITESPACE_CODE
    return table


def sequence_bodies(X, owner):
    """Row labels and sequence text of a one-column input, checked to be strings.

    A FASTA header line at the start of a cell, if any, is dropped.
    """
    labels, cells = string_cells(X, owner, "sequences", "sequence string")
    bodies = []
    for cell in cells:
        text = cell.lstrip()
        if text.startswith(">"):
            _, _, text = text.partition("\n")
        bodies.append(text)
    return labels, bodies


def encode(bodies, labels, table, owner):
    """Encode sequences to letter codes, all rows concatenated.

    Returns the codes (uint8, whitespace removed) and the start offset of each
    row in them (length ``n_rows + 1``). Characters outside the alphabet and
    its ambiguity codes are a ValueError naming the row, character and its
    1-based position in the sequence.
    """
    joined = "".join(bodies)
    lengths = np.fromiter(map(len, bodies), dtype=np.int64, count=len(bodies))
    offsets = np.zeros(len(bodies) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    try:
        raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as exc:
        _raise_bad_character(
            exc.start, joined[exc.start], offsets, bodies, labels, owner
        )
    codes = table[raw]
    spaces = np.flatnonzero(codes == WHITESPACE_CODE)
    if spaces.size:
        # Line breaks and blanks (multi-line FASTA records) are not residues.
        rows = np.searchsorted(offsets, spaces, side="right") - 1
        offsets = offsets - np.concatenate(
            ([0], np.cumsum(np.bincount(rows, minlength=len(bodies))))
        )
        keep = np.ones(codes.size, dtype=bool)
        keep[spaces] = False
        codes, raw = codes[keep], raw[keep]
    invalid = np.flatnonzero(codes == INVALID_CODE)
    if invalid.size:
        position = int(invalid[0])
        _raise_bad_character(position, chr(raw[position]), offsets, None, labels, owner)
    return codes, offsets


def raise_ambiguous(codes, offsets, labels, owner):
    """Raise a ValueError naming the first ambiguous residue, if any."""
    ambiguous = np.flatnonzero(codes == AMBIGUOUS_CODE)
    if ambiguous.size:
        position = int(ambiguous[0])
        row = int(np.searchsorted(offsets, position, side="right") - 1)
        raise ValueError(
            f"{owner}: row {labels[row]!r} has an ambiguous residue at position "
            f"{position - offsets[row] + 1}; use ambiguous='skip' (or 'zeros') to "
            "accept ambiguity codes."
        )


def _raise_bad_character(position, character, offsets, bodies, labels, owner):
    row = int(np.searchsorted(offsets, position, side="right") - 1)
    within = position - int(offsets[row])
    if bodies is not None:
        # Report the residue number, not counting line breaks before it.
        within -= sum(c.isspace() for c in bodies[row][:within])
    raise ValueError(
        f"{owner}: row {labels[row]!r} has the character {character!r} at position "
        f"{within + 1}, which is not in the alphabet nor one of its ambiguity codes."
    )
