"""examples/trained_filters.py runs end to end (one short epoch) and writes four valid PNGs."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

SCRIPT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "trained_filters.py"
)


def test_trained_filters_example_writes_its_pictures(tmp_path):
    out = tmp_path / "pictures"
    run = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--epochs",
            "1",
            "--samples",
            "200",
            "--batch-size",
            "50",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "test accuracy:" in run.stdout
    accuracy = float(run.stdout.split("test accuracy:")[1].split()[0])
    assert 0.0 <= accuracy <= 1.0
    names = ["filters.png", "feature_maps.png", "history.png", "confusion_matrix.png"]
    assert sorted(os.listdir(out)) == sorted(names)  # nothing else (no temporary files)
    sizes = {}
    for name in names:
        assert str(out / name) in run.stdout
        with Image.open(out / name) as im:
            assert im.format == "PNG"
            im.load()
            sizes[name] = im.size
    width, height = sizes["filters.png"]
    assert width > 3 * height  # the 8 first-layer filters in one row
    width, height = sizes["feature_maps.png"]
    assert height > width  # five blocks (input, conv1, pool1, conv2, pool2) stacked


def test_trained_filters_example_rejects_bad_arguments(tmp_path):
    run = subprocess.run([sys.executable, SCRIPT, "--samples", "0", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "--samples" in run.stderr and "Traceback" not in run.stderr
