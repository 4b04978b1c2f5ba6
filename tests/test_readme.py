"""Every Python snippet of the README runs as a new user would paste it."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
# A snippet that imports one of these needs that optional package installed.
_OPTIONAL = {"load_breast_cancer_multiomics": "sksurv"}


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize(
    "snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))]
)
def test_readme_snippet_runs(snippet, capsys, monkeypatch, tmp_path):
    for name, module in _OPTIONAL.items():
        if name in snippet:
            pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, str(README), "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    if "print(" in snippet:
        assert printed.strip()
    if "best_params_" in snippet:
        assert "'concatfusion__indicators'" in printed
