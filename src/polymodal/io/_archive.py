"""Zip archives written reproducibly, and skops' archive read and rewritten.

Saving one model twice writes the same bytes: members carry a fixed date and
mode, and the object ids and file names that skops draws at random are
numbered in order of use. The type names of skops' schema can be rewritten
before skops reads it (:func:`rename_types`), which is how a file that names
a class's former module still loads.
"""

import importlib
import io
import json
import zipfile
from pathlib import Path

__all__ = ["rename_types", "reproducible_skops", "skops_io", "write_members"]

_ARCHIVE_DATE = (1980, 1, 1, 0, 0, 0)
_SCHEMA = "schema.json"


def skops_io():
    """``skops.io``, imported when first needed.

    skops.io imports most of scikit-learn (seconds); only saving and loading
    need it, not every process that imports polymodal.
    """
    return importlib.import_module("skops.io")


def write_members(target, members, compress):
    """Write a zip archive of ``{name: bytes}`` to ``target``, reproducibly."""
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            # A fixed date: saving one model twice writes the same bytes.
            info = zipfile.ZipInfo(name, date_time=_ARCHIVE_DATE)
            info.compress_type = (
                zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            )
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=compress or None)


def _read_skops(data):
    """skops' bytes as ``(schema, {member: bytes})``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop(_SCHEMA)), files


def _write_skops(schema, files, compress):
    buffer = io.BytesIO()
    members = {_SCHEMA: json.dumps(schema, indent=2).encode(), **files}
    write_members(buffer, members, compress)
    return buffer.getvalue()


def reproducible_skops(data, compress):
    """skops' bytes with object ids and file names numbered in order of use.

    skops names the objects of its schema and the array files of its archive
    after ``id()`` or random UUIDs, which change from run to run; numbering
    them in the order the schema first mentions them keeps their links intact.
    """
    schema, files = _read_skops(data)
    ids, renamed = {}, {}

    def renumber(node):
        if isinstance(node, list):
            return [renumber(item) for item in node]
        if not isinstance(node, dict):
            return node
        result = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                value = ids.setdefault(value, len(ids))
            elif key == "file" and isinstance(value, str) and value in files:
                suffix = Path(value).suffix
                value = renamed.setdefault(value, f"{len(renamed)}{suffix}")
            else:
                value = renumber(value)
            result[key] = value
        return result

    schema = renumber(schema)
    return _write_skops(
        schema, {new: files[old] for old, new in renamed.items()}, compress
    )


def rename_types(data, rename):
    """skops' bytes with the type names of its schema passed through ``rename``.

    Every node of skops' schema names a type, function or class by its
    ``__module__`` and ``__class__``; ``rename("module.Name")`` returns the
    name to write instead (or the same name). The bytes come back unchanged
    when nothing is renamed.

    Parameters
    ----------
    data : bytes
        An archive that :func:`skops.io.dumps` wrote.
    rename : callable
        From ``"module.Name"`` to ``"module.Name"``.

    Returns
    -------
    bytes
    """
    schema, files = _read_skops(data)
    changed = False

    def visit(node):
        nonlocal changed
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            module, name = node.get("__module__"), node.get("__class__")
            if isinstance(module, str) and isinstance(name, str):
                new = rename(f"{module}.{name}")
                if new != f"{module}.{name}":
                    node["__module__"], _, node["__class__"] = new.rpartition(".")
                    changed = True
            for value in node.values():
                visit(value)

    visit(schema)
    # Stored uncompressed: the bytes are read back at once, never saved.
    return _write_skops(schema, files, 0) if changed else data
