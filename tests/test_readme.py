"""The README's ten-line example prints exactly what the README says it prints."""
import contextlib
import io
import re
from pathlib import Path

from convolve.layers import clear_session

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_output_is_real():
    text = README.read_text()
    code, shown = re.search(r"```python\n(.*?)```\s*prints\s*```\n(.*?)```", text, re.S).groups()
    clear_session()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == shown


def test_readme_names_the_test_command_ci_runs():
    line = next(l for l in README.read_text().splitlines() if "# the tests" in l)
    assert "python -m pytest" in line
