"""examples/colour_folders_augmented.py: a short run on generated shapes in a subprocess (it must beat
chance), and its CIFAR-10 branch in-process on a few stand-in images."""
import csv
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")
pytest.importorskip("scipy")
Image = pytest.importorskip("PIL.Image")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "colour_folders_augmented.py")


def load_example():
    spec = importlib.util.spec_from_file_location("colour_folders_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("colour") / "shapes"
    done = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--data",
            "shapes",
            "--per-class",
            "200",
            "--epochs",
            "6",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_shapes_are_written_as_colour_class_folders(run):
    out, stdout = run
    assert "data: generated shapes; classes: circle, square, triangle" in stdout
    assert f"wrote 600 training and 198 test PNG files (32x32 RGB) into {out}" in stdout
    for part, n in (("train", 200), ("test", 66)):
        assert sorted(os.listdir(out / part)) == ["circle", "square", "triangle"]
        for shape in ("circle", "square", "triangle"):
            names = sorted(os.listdir(out / part / shape))
            assert len(names) == n
            with Image.open(out / part / shape / names[0]) as picture:
                assert picture.mode == "RGB" and picture.size == (32, 32)
                pixels = np.asarray(picture).astype(int)
            assert pixels.max() >= 200 and np.median(pixels) < 90  # a bright shape on a dark background


def test_it_learns_well_above_chance(run):
    out, stdout = run
    assert "Epoch 6/6" in stdout and "trained 6 epoch(s) on 480 images (120 kept for validation)" in stdout
    accuracy = float(re.search(r"test accuracy: (\d\.\d{4}) \(loss \d+\.\d{4}\) on 198 test images "
                               r"\(3 classes, chance 0\.33\)", stdout).group(1))
    assert accuracy > 0.45  # chance is 0.33; this short run reaches about 0.6


def test_predict_csv_agrees_with_the_folders(run):
    from convolve.models import load_model

    out, stdout = run
    with open(out / "predictions.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["path", "class_1", "prob_1", "class_2", "prob_2"] and len(rows) == 199
    right = sum(row[1] == os.path.basename(os.path.dirname(row[0])) for row in rows[1:])
    assert f"its top class is the image's folder for {right} of 198 images ({right / 198:.4f})" in stdout
    accuracy = float(re.search(r"test accuracy: (\d\.\d{4})", stdout).group(1))
    assert right / 198 == pytest.approx(accuracy, abs=1e-4)  # predict reads the images as training did
    model = load_model(str(out / "model.safetensors"))
    assert model.class_names == ["circle", "square", "triangle"]
    assert [type(layer).__name__ for layer in model.layers][:4] == [
        "RandomFlip", "RandomRotation", "RandomZoom", "Rescaling"]
    with Image.open(out / "augmentations.png") as picture:
        assert picture.format == "PNG" and picture.size[0] > 200


def test_the_cifar10_branch(tmp_path, monkeypatch, capsys):
    example = load_example()
    rng = np.random.default_rng(0)
    fake = ((rng.integers(0, 256, (60, 32, 32, 3), dtype=np.uint8), np.arange(60)[:, None] % 10),
            (rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8), np.arange(30)[:, None] % 10))
    places = []

    def load_data(path=None):
        places.append(path)
        if path != "data":
            raise FileNotFoundError(path)
        return fake

    monkeypatch.setattr(example.cifar10, "load_data", load_data)
    monkeypatch.delenv("CONVOLVE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    example.main(["--per-class", "5", "--epochs", "1", "--out", "c10"])
    stdout = capsys.readouterr().out
    assert places[:2] == [os.path.expanduser("~/.keras/datasets"), "data"]  # never load_data() itself
    assert "data: CIFAR-10; classes: airplane, automobile, bird, cat" in stdout
    assert "wrote 50 training and 10 test PNG files" in stdout
    assert sorted(os.listdir(tmp_path / "c10" / "train")) == sorted(example.cifar10.CLASS_NAMES)
    with Image.open(tmp_path / "c10" / "train" / "airplane" / "00000.png") as picture:
        assert np.array_equal(np.asarray(picture), fake[0][0][0])


def test_cifar10_asked_for_but_absent(tmp_path, monkeypatch):
    example = load_example()
    monkeypatch.setattr(example, "find_cifar10", lambda: None)
    with pytest.raises(SystemExit, match="CIFAR-10 is not on this machine"):
        example.main(["--data", "cifar10", "--out", str(tmp_path / "x")])
