"""The README's examples print exactly what the README says they print; its pictures exist."""
import contextlib
import io
import re
from pathlib import Path

from convolve.layers import clear_session

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_outputs_are_real():
    text = README.read_text()
    # a code block directly followed by "prints" and its output (never reaching over another block)
    blocks = re.findall(r"```python\n((?:(?!```).)*?)```\s*prints\s*```\n(.*?)```", text, re.S)
    assert len(blocks) >= 2  # the ten lines and viz.explain
    for code, shown in blocks:
        clear_session()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
        assert out.getvalue() == shown


def test_readme_pictures_exist_and_open():
    from PIL import Image

    paths = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    assert len(paths) >= 5
    for path in paths:
        with Image.open(README.parent / path) as picture:
            picture.verify()


def test_readme_names_the_test_command_ci_runs():
    line = next(item for item in README.read_text().splitlines() if "# the tests" in item)
    assert "python -m pytest" in line
