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


def test_readme_first_command_installs_the_extras_the_tour_needs():
    """The first command a reader runs: the demo, with the extras for its pictures and model file
    (viz, io) and for the explorer it suggests next (web), each an extra pyproject.toml declares."""
    lines = README.read_text().splitlines()
    first = next(line.strip() for line in lines if line.startswith("    pip install"))
    assert first.startswith('pip install -e ".[viz,io,web]" && convolve demo')
    pyproject = (README.parent / "pyproject.toml").read_text()
    extras = pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0]
    for extra in ("viz", "io", "web"):
        assert re.search(rf"^{extra} = \[", extras, re.M), extra
    assert "convolve explore convolve-demo/model.safetensors" in README.read_text()
