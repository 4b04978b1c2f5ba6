"""Suggestions as a commented configuration file, and as the union it describes."""

import json
import tempfile
from pathlib import Path

from .._recipes import read_config
from ..utils._sklearn_compat import validate_params
from ._detect import KINDS, ModalitySuggestions

__all__ = ["build_union", "render_config"]


def _toml_value(value):
    """A TOML literal for a str, number, bool, list/tuple or dict of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string (the same escapes).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot write {value!r} in a configuration file")


def _key(name):
    bare = name and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in name)
    return name if bare else _toml_value(name)


def _comment(text):
    return "# " + " ".join(str(text).split())


def _check_names(suggestions):
    for suggestion in suggestions.columns:
        if not isinstance(suggestion.column, str):
            raise ValueError(
                f"Column {suggestion.column!r} is not named by a string; a "
                "configuration names columns by strings: rename it "
                "(df.columns = df.columns.astype(str))."
            )


@validate_params(
    {"suggestions": [ModalitySuggestions], "source": [str, None]},
    prefer_skip_nested_validation=True,
)
def render_config(suggestions, *, source=None):
    """Write the suggestions as the commented TOML file that ``polymodal compare`` reads.

    One ``[modalities.<name>]`` table per suggested modality, with its columns,
    recipe and parameters, and as comments the evidence for each column and
    the alternatives; the target and the groups column at the top; the columns
    left out, and why, at the end. The file is meant to be edited: every
    decision in it is a line to change.

    Parameters
    ----------
    suggestions : ModalitySuggestions
        What :func:`~polymodal.compose.suggest_modalities` returned.
    source : str or None, default=None
        How to name the data in the header comment (its path).

    Returns
    -------
    str
        The file's text. :func:`tomllib.loads` reads it back as
        ``suggestions.to_config()``.

    Raises
    ------
    ValueError
        When a column name is not a string.

    Examples
    --------
    >>> import tomllib
    >>> import pandas as pd
    >>> from polymodal.compose import render_config, suggest_modalities
    >>> df = pd.DataFrame({"age": [61.0, 54.0, 70.0], "sex": ["F", "M", "M"],
    ...                    "y": [1, 0, 1]})
    >>> text = render_config(suggest_modalities(df, target="y"))
    >>> print(text)  # doctest: +NORMALIZE_WHITESPACE
    # polymodal configuration, written from the detected column kinds.
    # Edit it: every decision below is a line to change. Recipes: image, text,
    # sentence, kmer, molecule, tabular (see `polymodal compare --help`).
    <BLANKLINE>
    target = "y"
    <BLANKLINE>
    [modalities.clinical]
    # the other numeric and categorical columns (1 numeric, 1 categorical)
    #   age: numeric (share 1.00) numbers, 3 distinct values in 3 cells; e.g. 61.0, 54.0
    #   sex: categorical (share 1.00) short strings, 2 levels (most common 'M'); e.g. M, F
    # alternatives: move columns between tabular modalities, or merge them into one
    columns = ["age", "sex"]
    transformer = "tabular"
    >>> tomllib.loads(text)["modalities"]["clinical"]["columns"]
    ['age', 'sex']
    """
    _check_names(suggestions)
    by_column = {s.column: s for s in suggestions.columns}
    lines = [
        "# polymodal configuration, written from the detected column kinds"
        + (f" of {source}." if source else "."),
        "# Edit it: every decision below is a line to change. Recipes: image, text,",
        "# sentence, kmer, molecule, tabular (see `polymodal compare --help`).",
        "",
    ]
    if suggestions.target is not None:
        lines.append(f"target = {_toml_value(suggestions.target)}")
    if suggestions.groups is not None:
        lines.append(_comment(by_column[suggestions.groups].evidence))
        lines.append(f"groups = {_toml_value(suggestions.groups)}")
    for modality in suggestions.modalities:
        lines += ["", f"[modalities.{_key(modality.name)}]"]
        if modality.evidence:
            lines.append(_comment(modality.evidence))
        many = modality.recipe == "tabular"
        shown = modality.columns if len(modality.columns) <= 12 else ()
        for column in shown if many else ():
            s = by_column[column]
            examples = ", ".join(s.examples[:2])
            lines.append(
                "#   "
                + _comment(
                    f"{column}: {s.kind} (share {s.share:.2f}) {s.evidence}; "
                    f"e.g. {examples}"
                )[2:]
            )
        if not many:
            s = by_column[modality.columns[0]]
            lines.append(_comment(f"e.g. {', '.join(s.examples[:2])}"))
        if modality.alternatives:
            lines.append(_comment("alternatives: " + "; ".join(modality.alternatives)))
        if many:
            if len(modality.columns) > 6:
                lines.append("columns = [")
                lines += [f"    {_toml_value(c)}," for c in modality.columns]
                lines.append("]")
            else:
                lines.append(f"columns = {_toml_value(list(modality.columns))}")
        else:
            lines.append(f"columns = {_toml_value(modality.columns[0])}")
        lines.append(f"transformer = {_toml_value(modality.recipe)}")
        if modality.params:
            lines.append(f"params = {_toml_value(modality.params)}")
        if modality.loader:
            lines.append(f"loader = {_toml_value(modality.loader)}")
    unused = [
        s
        for s in suggestions.columns
        if s.role == "unused" and s.column != suggestions.groups
    ]
    if unused:
        lines += ["", "# Columns left out (add them to a modality to use them):"]
        for s in unused:
            lines.append("#   " + _comment(f"{s.column}: {s.kind}: {s.evidence}")[2:])
    if not suggestions.modalities:
        lines += ["", "# No column was detected as a feature: add a modality table."]
    return "\n".join(lines) + "\n"


def build_union(suggestions):
    """The union that the rendered configuration describes.

    The file is written and read back with the command line's own reader, so
    the transformers are built by its recipes, and the union is exactly the
    one ``polymodal compare`` would fit from the file.

    Parameters
    ----------
    suggestions : ModalitySuggestions
        What :func:`~polymodal.compose.suggest_modalities` returned.

    Returns
    -------
    MultimodalUnion
        Unfitted.

    Raises
    ------
    ValueError
        When no column was suggested as a feature.
    """
    if not suggestions.modalities:
        kinds = ", ".join(f"{s.column}: {s.kind}" for s in suggestions.columns)
        raise ValueError(
            f"No column of the table was detected as a feature ({kinds}); "
            f"give a kind in overrides, one of {', '.join(k for k in KINDS)}."
        )
    text = render_config(suggestions)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "polymodal.toml"
        path.write_text(text, encoding="utf-8")
        config = read_config(path)
    columns = [s.column for s in suggestions.columns]
    return config.make_union(columns, target=suggestions.target)
