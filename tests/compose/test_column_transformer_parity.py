"""ColumnTransformer parity, measured by scikit-learn's own test file.

At test time, ``sklearn/compose/tests/test_column_transformer.py`` is copied from
the installed scikit-learn and changed mechanically only:

- the import of ``ColumnTransformer`` and ``make_column_transformer`` points at
  ``column_transformer_adapter`` (MultimodalUnion, then a ConcatFusion that
  only concatenates; see that module);
- inside string literals, "ColumnTransformer" becomes "MultimodalUnion" and
  "make_column_transformer" becomes "make_multimodal_union" (the class and
  function names in expected messages);
- the cases that need polars are deselected.

No assertion is edited. The copy runs in a pytest process of its own; its
per-case results come back through JUnit XML. A case that fails must be listed
in ``DIFFERENCES`` (a deliberate difference, documented on the docs page
"Differences from ColumnTransformer") as a strict xfail: a listed case that
starts passing fails the test, so the list only shrinks.

To run the copied suite by hand (``-k``, ``--pdb``, ...)::

    .venv/bin/python tests/compose/test_column_transformer_parity.py DIR
    .venv/bin/python -m pytest DIR -p no:cacheprovider
"""

import ast
import io
import json
import os
import shutil
import subprocess
import sys
import tokenize
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import sklearn

HERE = Path(__file__).resolve().parent
ADAPTER = HERE / "column_transformer_adapter.py"
SOURCE = (
    Path(sklearn.__file__).parent / "compose" / "tests" / "test_column_transformer.py"
)

# The scikit-learn release whose test file the numbers below were measured on,
# and how many of its cases run here (240, less the 5 that need polars).
MEASURED_ON = "1.9"
EXPECTED_CASES = 235
# Cases that pass through the adapter today (the target was 215).
# Raise this number as MultimodalUnion closes the gap, never lower it.
MIN_PASSED = 219

_NUMERIC_BLOCKS = (
    "blocks hold numbers: a non-numeric passthrough column is refused and pandas "
    "output does not keep per-column dtypes (docs: Differences from "
    "ColumnTransformer, 'Blocks hold numbers')"
)
_DATAFRAME_NAMES = (
    "a transformer's DataFrame output names its block's columns whatever the "
    "output configuration, so get_feature_names_out does not raise "
    "AttributeError (docs: 'Names from DataFrame outputs')"
)
_ON_ERROR = (
    "MultimodalUnion has one parameter more, on_error, so get_params() is a "
    "larger dict (docs: 'Parameters')"
)

# Test id -> reason, applied as strict xfails: a listed case that starts passing
# fails this test until it is taken off the list, so the list only shrinks.
# Every entry is a deliberate difference, documented on the docs page
# "Differences from ColumnTransformer" (docs/user_guide/column_transformer.rst).
DIFFERENCES = {
    "test_make_column_transformer": (
        "make_multimodal_union names a one-column modality after its column, "
        "not after its transformer's class (docs: 'Modality names')"
    ),
    "test_column_transformer_get_set_params": _ON_ERROR,
    "test_column_transformer_get_set_params_with_remainder": _ON_ERROR,
    "test_sk_visual_block_remainder_col_names_pandas": _NUMERIC_BLOCKS,
    "test_column_transform_set_output_mixed[True-drop]": _NUMERIC_BLOCKS,
    "test_column_transform_set_output_mixed[True-passthrough]": _NUMERIC_BLOCKS,
    "test_column_transform_set_output_mixed[False-drop]": _NUMERIC_BLOCKS,
    "test_column_transform_set_output_mixed[False-passthrough]": _NUMERIC_BLOCKS,
    "test_column_transform_set_output_after_fitting[drop]": _NUMERIC_BLOCKS,
    "test_column_transform_set_output_after_fitting[passthrough]": _NUMERIC_BLOCKS,
    "test_remainder_set_output": _NUMERIC_BLOCKS,
    "test_transformers_with_pandas_out_but_not_feature_names_out"
    "[trans_10-expected_verbose_names0-expected_non_verbose_names0]": _DATAFRAME_NAMES,
    "test_transformers_with_pandas_out_but_not_feature_names_out"
    "[drop-expected_verbose_names1-expected_non_verbose_names1]": _DATAFRAME_NAMES,
    "test_transformers_with_pandas_out_but_not_feature_names_out"
    "[passthrough-expected_verbose_names2-expected_non_verbose_names2]": (
        _DATAFRAME_NAMES
    ),
    "test_raise_error_if_index_not_aligned": (
        "blocks are stacked by position, so a transformer that resets its "
        "output's index cannot misalign rows and nothing is raised (docs: "
        "'Row alignment')"
    ),
    "test_transform_pd_na": (
        "a row whose every cell of a modality is missing is an absent modality, "
        "and the fusion step warns about rows with no modality present (docs: "
        "'Missing modalities')"
    ),
}

XFAIL = dict(DIFFERENCES)

# Names swapped inside string literals (expected messages).
RENAMED_IN_STRINGS = {
    "ColumnTransformer": "MultimodalUnion",
    "make_column_transformer": "make_multimodal_union",
}
SWAPPED_IMPORTS = ("ColumnTransformer", "make_column_transformer")

_CONFTEST = '''\
"""Generated by polymodal's test_column_transformer_parity.py."""

import inspect

import pytest

XFAIL = {xfail}


def pytest_configure(config):
    # Markers that scikit-learn's own conftest registers.
    config.addinivalue_line("markers", "thread_unsafe: single-threaded test")


def pytest_generate_tests(metafunc):
    # scikit-learn's default for its global_random_seed fixture.
    if "global_random_seed" in metafunc.fixturenames:
        metafunc.parametrize("global_random_seed", [42])


def _needs_polars(item):
    if "polars" in item.name:
        return True
    # An unparametrized test that imports polars itself.
    return not hasattr(item, "callspec") and 'importorskip("polars")' in (
        inspect.getsource(item.function)
    )


def pytest_collection_modifyitems(config, items):
    deselected = [item for item in items if _needs_polars(item)]
    items[:] = [item for item in items if item not in deselected]
    config.hook.pytest_deselected(items=deselected)
    for item in items:
        if item.name in XFAIL:
            item.add_marker(pytest.mark.xfail(reason=XFAIL[item.name], strict=True))
'''

# Anchors the inner run's rootdir here, away from polymodal's own configuration.
_PYTEST_INI = "[pytest]\n"


def rewrite(source):
    """scikit-learn's test file, with the mechanical changes made."""
    source = _rename_in_strings(source)
    tree = ast.parse(source)
    imports = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "sklearn.compose"
        and any(alias.name in SWAPPED_IMPORTS for alias in node.names)
    ]
    if len(imports) != 1 or imports[0] not in tree.body:
        raise RuntimeError(
            f"expected one top-level 'from sklearn.compose import ...' importing "
            f"{SWAPPED_IMPORTS}; found {len(imports)}: update the parity harness"
        )
    (node,) = imports
    kept = [alias.name for alias in node.names if alias.name not in SWAPPED_IMPORTS]
    swapped = [alias.name for alias in node.names if alias.name in SWAPPED_IMPORTS]
    if any(alias.asname for alias in node.names):
        raise RuntimeError("the sklearn.compose import renames a name")
    replacement = [f"from column_transformer_adapter import {', '.join(swapped)}"]
    if kept:
        replacement.insert(0, f"from sklearn.compose import {', '.join(kept)}")
    lines = source.splitlines(keepends=True)
    start, end = node.lineno - 1, node.end_lineno
    # Pad with blank lines so line numbers match scikit-learn's file.
    replacement += [""] * (end - start - len(replacement))
    if len(replacement) > end - start:
        raise RuntimeError("the import replacement is longer than the import")
    lines[start:end] = [line + "\n" for line in replacement]
    return "".join(lines)


def _rename_in_strings(source):
    line_starts = [0]
    for line in source.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(position):
        row, column = position
        return line_starts[row - 1] + column

    # Python 3.12 splits an f-string into FSTRING_START ... FSTRING_END; the
    # whole f-string is one span, like a STRING token before 3.12.
    fstring_start = getattr(tokenize, "FSTRING_START", None)
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    spans, open_fstrings = [], []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and not open_fstrings:
            spans.append((offset(tok.start), offset(tok.end)))
        elif tok.type == fstring_start and fstring_start is not None:
            open_fstrings.append(offset(tok.start))
        elif tok.type == fstring_end and fstring_end is not None:
            begin = open_fstrings.pop()
            if not open_fstrings:
                spans.append((begin, offset(tok.end)))
    for begin, end in reversed(spans):
        text = source[begin:end]
        for old, new in RENAMED_IN_STRINGS.items():
            text = text.replace(old, new)
        source = source[:begin] + text + source[end:]
    return source


def write_suite(directory, *, swap=True):
    """Write the rewritten test file, the adapter and a conftest to ``directory``.

    With ``swap=False`` the test file is copied unchanged (scikit-learn's own
    ColumnTransformer), which checks the harness itself.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = SOURCE.read_text()
    (directory / SOURCE.name).write_text(rewrite(source) if swap else source)
    shutil.copyfile(ADAPTER, directory / ADAPTER.name)
    (directory / "conftest.py").write_text(
        _CONFTEST.format(
            xfail=json.dumps(XFAIL if swap else {}, indent=4, sort_keys=True)
        )
    )
    (directory / "pytest.ini").write_text(_PYTEST_INI)
    return directory / SOURCE.name


def run_suite(directory, *pytest_args, swap=True):
    """Run the suite in a process of its own; return {test id: (outcome, message)}."""
    test_file = write_suite(directory, swap=swap)
    report = Path(directory) / "junit.xml"
    # The inner run is an ordinary pytest session, not a worker of this one.
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-q",
            "-rfExX",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            *pytest_args,
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if not report.exists():
        raise RuntimeError(
            f"the parity suite did not run (exit {completed.returncode}):\n"
            f"{completed.stdout[-5000:]}\n{completed.stderr[-5000:]}"
        )
    return parse_junit(report), completed


def parse_junit(path):
    """{test id: (outcome, first line of the message)} from pytest's JUnit XML.

    Outcomes: passed, failed, error, skipped, xfailed (xfail shows up as a skip
    of type pytest.xfail; a strict XPASS as a failure).
    """
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                message = (child.get("message") or child.text or "").strip()
                message = message.splitlines()[0] if message else ""
                if child.tag == "skipped":
                    outcome = (
                        "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                    )
                elif child.tag == "failure":
                    outcome = "failed"
                elif outcome != "failed":
                    outcome = "error"
        results[case.get("name")] = (outcome, message)
    return results


def _skip_unless_measured_version():
    version = ".".join(sklearn.__version__.split(".")[:2])
    if version != MEASURED_ON:
        pytest.skip(
            f"parity was measured on scikit-learn {MEASURED_ON}.x; "
            f"{sklearn.__version__}'s test file has other cases: measure it and "
            "update MEASURED_ON, EXPECTED_CASES, MIN_PASSED and the xfail lists"
        )


def _counts(results):
    counts = {}
    for outcome, _ in results.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return dict(sorted(counts.items()))


@pytest.mark.slow
def test_harness_passes_with_scikit_learn_column_transformer(tmp_path):
    """The unchanged file, against ColumnTransformer itself: every case passes.

    This checks the harness (the copy, the conftest, the polars deselection),
    so that a failure of the parity test below is polymodal's.
    """
    _skip_unless_measured_version()
    results, completed = run_suite(tmp_path, swap=False)
    assert _counts(results) == {"passed": EXPECTED_CASES}, completed.stdout[-5000:]


@pytest.mark.slow
def test_column_transformer_parity(tmp_path):
    """scikit-learn's ColumnTransformer tests, run against MultimodalUnion."""
    _skip_unless_measured_version()
    results, completed = run_suite(tmp_path)
    counts = _counts(results)
    stale = sorted(set(XFAIL) - set(results))
    assert not stale, f"DIFFERENCES names cases that do not exist: {stale}"
    assert len(results) == EXPECTED_CASES, (counts, completed.stdout[-5000:])
    now_passing = sorted(
        case
        for case, (outcome, message) in results.items()
        if outcome == "failed" and message.startswith("[XPASS(strict)]")
    )
    failing = {
        case: f"{outcome}: {message}"
        for case, (outcome, message) in sorted(results.items())
        if outcome in ("failed", "error") and case not in now_passing
    }
    assert not failing and not now_passing, (
        f"{counts}\n"
        + "".join(
            f"failing and not listed: {case}\n    {why}\n"
            for case, why in failing.items()
        )
        + "".join(
            f"passing now, take it off DIFFERENCES: {case}\n" for case in now_passing
        )
    )
    assert counts.get("passed", 0) >= MIN_PASSED, counts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIRECTORY")
    print(write_suite(sys.argv[1]))
