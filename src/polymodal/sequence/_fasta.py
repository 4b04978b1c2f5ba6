"""Reading FASTA files into a table of sequences."""

import pandas as pd

__all__ = ["read_fasta"]


def read_fasta(path):
    """Read a FASTA file into a DataFrame with one row per record.

    Parameters
    ----------
    path : str or path-like
        The FASTA file. Sequences may span several lines; blank lines, lines
        starting with ``;`` (comments) and Windows or old Mac line endings are
        accepted.

    Returns
    -------
    records : DataFrame
        Columns ``id`` (the header up to the first whitespace),
        ``description`` (the rest of the header, "" when absent) and
        ``sequence`` (the record's lines joined, whitespace removed, case
        kept), one row per record, in file order.

    Raises
    ------
    ValueError
        Naming the file and line, for a sequence line before the first header
        or a header without an id.

    See Also
    --------
    KmerVectorizer : Counts the k-mers of the ``sequence`` column.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from polymodal.sequence import read_fasta
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "reads.fa"
    >>> _ = path.write_text(">r1 tumour biopsy\\nACGT\\nAC\\n>r2\\nGGT\\n")
    >>> read_fasta(path)
       id    description sequence
    0  r1  tumour biopsy   ACGTAC
    1  r2                     GGT
    """
    records = []
    with open(path, encoding="utf-8", newline=None) as handle:
        for number, line in _numbered_lines(handle, path):
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith(">"):
                fields = line[1:].split(maxsplit=1)
                if not fields:
                    raise ValueError(
                        f"{path}, line {number}: the header has no sequence id."
                    )
                records.append([fields[0], "".join(fields[1:]), []])
            elif not records:
                raise ValueError(
                    f"{path}, line {number}: sequence data before the first "
                    "'>' header line; is this a FASTA file?"
                )
            else:
                records[-1][2].append("".join(line.split()))
    return pd.DataFrame(
        [
            (identifier, description, "".join(lines))
            for identifier, description, lines in records
        ],
        columns=["id", "description", "sequence"],
    )


def _numbered_lines(handle, path):
    """Number the lines of ``handle``; a file that is not text names the file."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):
            yield number, line
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path}: the file is not UTF-8 text ({exc.reason}, after line "
            f"{number} was read); is this a FASTA file?"
        ) from exc
