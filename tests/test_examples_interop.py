"""examples/interop.py: Keras files both ways, ONNX to ONNX Runtime, PyTorch in through ONNX."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import requires

ROOT = Path(__file__).resolve().parents[1]


@requires("keras", "h5py", "torch", "onnx", "onnxruntime")
def test_interop_example_agrees_with_every_framework(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-W", "ignore", str(ROOT / "examples" / "interop.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    differences = [float(d) for d in re.findall(r"largest difference ([0-9.e+-]+)", out)]
    assert len(differences) == 4 and max(differences) < 1e-5, out
    assert "optimizer Adam after 1 step(s)" in out
    assert "Receptive field" in out and "(None, 1, 28, 28)" in out  # the PyTorch model's NCHW summary
