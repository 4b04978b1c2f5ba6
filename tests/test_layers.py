"""Which layer may import which, checked on the source.

Every module under ``src/polymodal`` is parsed with :mod:`ast` (nothing is
imported), its imports of polymodal are resolved (relative imports, and names
that a package's ``__init__`` re-exports are followed to the module that
defines them) and held against two sets of rules:

- the layer rules of the design ("Which layer may import which" in DESIGN.md,
  and the architecture page of the docs);
- no module uses a private name (``_name``) of another package: a helper that
  two packages share lives under ``utils/`` (or in a private module of the
  package that owns it) under a public name. The private scikit-learn names
  that ``utils/_sklearn_compat.py`` re-exports are the one exception.

A package here is a subpackage (``fusion/``, ``image/``, ``io/``, ...) or a
module at the top of ``polymodal`` (``union/``, ``cli.py``, ``_blocks.py``,
...): each is one layer of the design.

The imports that break a rule today are listed in ``KNOWN_VIOLATIONS``, and the
list must match exactly: a new violation fails the test, and so does a listed
one that has been removed (delete it from the list), so the list only shrinks.
"""

import ast
from collections import Counter
from pathlib import Path
from typing import NamedTuple

SRC = Path(__file__).resolve().parents[1] / "src" / "polymodal"

MODALITIES = frozenset({"image", "text", "sequence", "molecule"})

MODALITY_RULE = "modality packages never import the union, fusion or deep/"
FUSION_RULE = "fusion never imports modality packages, deep/ or model selection"
IO_RULE = "model selection and inspection never import polymodal.io"
CONTRACT_RULE = "the contract (_blocks.py) imports only optional-import helpers"
CLI_RULE = "nothing in the library imports the command line"
PRIVATE_RULE = "no module uses a private name of another package"

# (rule, importing module, what it imports). For a layer rule, what it imports
# is the module that defines the imported name; for the private-name rule, it
# is that module and the name.
KNOWN_VIOLATIONS = []

# The contract may import these modules of polymodal and nothing else.
_CONTRACT_MAY_IMPORT = frozenset({"polymodal.utils._optional"})
_SKLEARN_COMPAT = "polymodal.utils._sklearn_compat"


class Module(NamedTuple):
    name: str
    path: Path
    tree: ast.Module
    is_package: bool


class Import(NamedTuple):
    """One polymodal name (or module, when ``name`` is None) that a module uses.

    ``module`` defines the name; ``written`` is the module the import statement
    names (a package that re-exports it, say).
    """

    importer: str
    module: str
    name: str | None
    line: int
    written: str


def parse_modules(src=SRC):
    """{dotted name: Module} for every module under ``src``."""
    modules = {}
    for path in sorted(src.rglob("*.py")):
        parts = list(path.relative_to(src.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(
            name, path, ast.parse(path.read_text(), path), is_package
        )
    return modules


def owner(module):
    """The layer a module belongs to: its subpackage, or itself at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _absolute(module, node):
    """The absolute module an ``ImportFrom`` node imports from."""
    if not node.level:
        return node.module
    parts = module.name.split(".")
    if not module.is_package:
        parts.pop()
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _reexports(modules):
    """{(package, name): (module, name)} for the names a package's __init__ imports."""
    table = {}
    for module in modules.values():
        if not module.is_package:
            continue
        for node in module.tree.body:
            if isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                for alias in node.names:
                    table[module.name, alias.asname or alias.name] = (
                        source,
                        alias.name,
                    )
    return table


def _resolve(modules, reexports, source, name):
    """(module, name) where ``name`` imported from ``source`` is defined.

    A submodule comes back as (submodule, None).
    """
    for _ in range(len(modules)):
        if f"{source}.{name}" in modules:
            return f"{source}.{name}", None
        if (source, name) not in reexports:
            break
        source, name = reexports[source, name]
    return source, name


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def imports(modules=None):
    """Every use of polymodal by a module of polymodal, as Import tuples."""
    modules = parse_modules() if modules is None else modules
    reexports = _reexports(modules)
    found = []
    for module in modules.values():
        # Local names bound to polymodal modules, to follow ``module._name``.
        bound = {}
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                if not source or source.split(".")[0] != "polymodal":
                    continue
                for alias in node.names:
                    target, name = _resolve(modules, reexports, source, alias.name)
                    found.append(Import(module.name, target, name, node.lineno, source))
                    if name is None:
                        bound[alias.asname or alias.name] = target
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] != "polymodal":
                        continue
                    found.append(
                        Import(module.name, alias.name, None, node.lineno, alias.name)
                    )
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
            elif (
                isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.startswith("polymodal.")
                and _dotted(node.func) in {"import_module", "importlib.import_module"}
            ):
                value = node.args[0].value
                found.append(Import(module.name, value, None, node.lineno, value))
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Attribute) or not isinstance(
                node.ctx, ast.Load
            ):
                continue
            dotted = _dotted(node.value)
            if dotted is None:
                continue
            head, _, rest = dotted.partition(".")
            if head not in bound:
                continue
            written = ".".join(filter(None, [bound[head], rest]))
            if written not in modules:
                continue
            target, name = _resolve(modules, reexports, written, node.attr)
            if name is not None:
                found.append(Import(module.name, target, name, node.lineno, written))
    return found


def _sklearn_reexports(modules):
    """The names utils/_sklearn_compat.py imports from outside polymodal."""
    compat = modules.get(_SKLEARN_COMPAT)
    if compat is None:
        return frozenset()
    return frozenset(
        alias.asname or alias.name
        for node in ast.walk(compat.tree)
        if isinstance(node, ast.ImportFrom)
        and not node.level
        and node.module.split(".")[0] != "polymodal"
        for alias in node.names
    )


def layer_rule(importer, imported):
    """The layer rule that importing module ``imported`` breaks, or None."""
    source, target = owner(importer), owner(imported)
    if source == target:
        return None
    if source in MODALITIES and target in {"union", "fusion", "deep"}:
        return MODALITY_RULE
    if source == "fusion" and (
        target in MODALITIES or target in {"deep", "model_selection"}
    ):
        return FUSION_RULE
    if source in {"model_selection", "inspection"} and target == "io":
        return IO_RULE
    if source == "_blocks" and imported not in _CONTRACT_MAY_IMPORT:
        return CONTRACT_RULE
    if target == "cli":
        return CLI_RULE
    return None


def violations(modules=None):
    """{(rule, importer, imported): [Import, ...]} for every rule broken."""
    modules = parse_modules() if modules is None else modules
    sklearn_names = _sklearn_reexports(modules)
    found = {}
    for use in imports(modules):
        rule = layer_rule(use.importer, use.module)
        if rule is not None:
            found.setdefault((rule, use.importer, use.module), []).append(use)
        if (
            use.name is not None
            and _is_private(use.name)
            and owner(use.importer) != owner(use.module)
            and not (use.module == _SKLEARN_COMPAT and use.name in sklearn_names)
        ):
            key = (PRIVATE_RULE, use.importer, f"{use.module}.{use.name}")
            found.setdefault(key, []).append(use)
    return found


def public_names_of_private_modules(modules=None):
    """Counter of (importer, module) for public names taken from another
    package's private module: allowed, but each is a coupling to look at."""
    modules = parse_modules() if modules is None else modules
    counts = Counter()
    for use in imports(modules):
        if (
            use.name is not None
            and not _is_private(use.name)
            and owner(use.importer) != owner(use.module)
            and any(_is_private(part) for part in use.written.split(".")[1:])
        ):
            counts[use.importer, use.written] += 1
    return counts


def _describe(found, keys, modules):
    lines = []
    for key in sorted(keys):
        where = ", ".join(
            f"{modules[use.importer].path.relative_to(SRC.parents[1])}:{use.line}"
            for use in found.get(key, [])
        )
        lines.append(f"  {key!r},  {where}".rstrip(", "))
    return "\n".join(lines)


def test_the_parser_sees_the_whole_library():
    modules = parse_modules()
    assert {
        "polymodal",
        "polymodal.union",
        "polymodal._blocks",
        "polymodal.cli",
    } <= set(modules)
    assert {owner(name) for name in modules} >= MODALITIES | {"fusion", "deep"}
    # Relative imports are resolved, and re-exports followed to the defining module.
    assert ("polymodal.union._union", "MultimodalUnion") in {
        (use.module, use.name)
        for use in imports(modules)
        if use.importer == "polymodal"
    }


def test_resolution_on_a_made_up_library(tmp_path):
    src = tmp_path / "polymodal"
    files = {
        "__init__.py": "from .union import MultimodalUnion\n",
        "union.py": "class MultimodalUnion: pass\n",
        "cli.py": "",
        "_blocks.py": (
            "import numpy\n"
            "from .utils._optional import import_optional\n"
            "from . import union\n"
        ),
        "io/__init__.py": "from ._persistence import _installed_versions, save\n",
        "io/_persistence.py": "def _installed_versions(): pass\ndef save(): pass\n",
        "utils/__init__.py": "",
        "utils/_optional.py": "def import_optional(): pass\n",
        "utils/_sklearn_compat.py": (
            "from sklearn.utils import _safe_indexing\ndef _own(): pass\n"
        ),
        "fusion/__init__.py": "from ._late import _Ensemble, Late\n",
        "fusion/_late.py": (
            "from ..utils._sklearn_compat import _safe_indexing, _own\n"
            "from ..image import _cnn\n"
            "class _Ensemble: pass\nclass Late: pass\n"
        ),
        "fusion/_stack.py": (
            "from ._late import _Ensemble\nfrom polymodal import MultimodalUnion\n"
        ),
        "image/__init__.py": "",
        "image/_cnn.py": (
            "def embed():\n"
            "    from polymodal.deep import _encoders\n"
            "    return _encoders._Conv\n"
        ),
        "deep/__init__.py": "",
        "deep/_encoders.py": "class _Conv: pass\n",
        "inspection/__init__.py": "",
        "inspection/_common.py": (
            "import polymodal.io as pio\n"
            "import polymodal.fusion._late\n"
            "from polymodal.fusion import _Ensemble, Late\n"
            "from .. import cli\n"
            "pio._installed_versions()\n"
            "polymodal.fusion._late._Ensemble\n"
        ),
    }
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    modules = parse_modules(src)
    assert set(violations(modules)) == {
        (CONTRACT_RULE, "polymodal._blocks", "polymodal.union"),
        (FUSION_RULE, "polymodal.fusion._late", "polymodal.image._cnn"),
        (MODALITY_RULE, "polymodal.image._cnn", "polymodal.deep._encoders"),
        (PRIVATE_RULE, "polymodal.image._cnn", "polymodal.deep._encoders._Conv"),
        (
            PRIVATE_RULE,
            "polymodal.fusion._late",
            "polymodal.utils._sklearn_compat._own",
        ),
        (IO_RULE, "polymodal.inspection._common", "polymodal.io"),
        (IO_RULE, "polymodal.inspection._common", "polymodal.io._persistence"),
        (
            PRIVATE_RULE,
            "polymodal.inspection._common",
            "polymodal.io._persistence._installed_versions",
        ),
        (
            PRIVATE_RULE,
            "polymodal.inspection._common",
            "polymodal.fusion._late._Ensemble",
        ),
        (CLI_RULE, "polymodal.inspection._common", "polymodal.cli"),
    }
    # Public names of a private module are counted when the import names that
    # module (import_optional), not when it names a package that re-exports
    # them (Late).
    assert public_names_of_private_modules(modules) == Counter(
        {("polymodal._blocks", "polymodal.utils._optional"): 1}
    )


def test_layer_rules_and_private_names():
    modules = parse_modules()
    found = violations(modules)
    known = set(KNOWN_VIOLATIONS)
    assert len(known) == len(KNOWN_VIOLATIONS), "KNOWN_VIOLATIONS repeats an entry"
    new, gone = set(found) - known, known - set(found)
    message = []
    if new:
        message.append(
            "Imports that break the design's layer rules (DESIGN.md, 'Which layer "
            "may import which') or use another package's private name:\n"
            + _describe(found, new, modules)
        )
    if gone:
        message.append(
            "Fixed, so delete them from KNOWN_VIOLATIONS:\n"
            + _describe(found, gone, modules)
        )
    assert not message, "\n\n".join(message)
