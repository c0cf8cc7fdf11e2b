"""convolve.dask stays light: importing it (or convolve) loads no Dask, and calling it without Dask
installed says which extra installs it. These run without Dask."""
from __future__ import annotations

import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_convolve_dask_loads_no_dask():
    done = run("import convolve, convolve.dask, sys; print(sorted(m for m in sys.modules if m.split('.')[0] "
               "in ('dask', 'distributed', 'pandas')))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("call", [
    "convolve.dask.predict(model, None)",
    "convolve.dask.predict_files(model, '.')",
    "convolve.dask.local_cluster()",
])
def test_without_dask_a_call_names_the_extra(call):
    done = run(
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "import convolve.dask\nfrom convolve import layers as L\nfrom convolve.models import Sequential\n"
        "model = Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(2)])\n"
        f"try:\n    {call}\nexcept ImportError as error:\n    print(error)\n"
    )
    assert done.returncode == 0, done.stderr
    assert 'pip install "convolve[dask]"' in done.stdout
