import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
def test_readme_example_runs(capsys):
    first_example = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    exec(compile(first_example, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "'concatfusion__indicators'" in printed
