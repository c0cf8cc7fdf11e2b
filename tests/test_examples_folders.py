"""examples/folders_from_fashion_mnist.py: a quick run in a subprocess; its folders, files, labels,
printed figures and model file."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("safetensors")
Image = pytest.importorskip("PIL.Image")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "folders_from_fashion_mnist.py")
FOLDERS = [
    "T-shirt_top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fm") / "folders"
    done = subprocess.run([sys.executable, SCRIPT, "--samples", "120", "--epochs", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def test_it_writes_class_folders_of_pngs_with_safe_names(run):
    from convolve.datasets import fashion_mnist

    out, stdout = run
    assert sorted(os.listdir(out)) == ["model.safetensors", "test", "train"]
    assert sorted(os.listdir(out / "train")) == sorted(FOLDERS)
    (x, y), (xt, yt) = fashion_mnist.load_subset()
    for part, images, labels, n in (("train", x, y, 120), ("test", xt, yt, 40)):
        files = sorted((folder, name) for folder in FOLDERS for name in os.listdir(out / part / folder))
        assert len(files) == n
        for folder, name in files[:: max(n // 10, 1)]:
            index = int(name[:-4])
            assert FOLDERS[labels[index]] == folder
            with Image.open(out / part / folder / name) as picture:
                assert picture.mode == "L" and np.array_equal(np.asarray(picture), images[index])
    assert (
        "class folders: T-shirt_top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot "
        "(renamed: 'T-shirt/top' -> 'T-shirt_top')"
    ) in stdout
    assert re.search(rf"wrote 160 PNG files \(120 training, 40 test\) into {re.escape(str(out))} in ", stdout)


def test_it_reads_the_labels_back_and_prints_the_accuracy(run):
    out, stdout = run
    assert f"read back from {out / 'test'}: 40 of 40 labels are Fashion-MNIST's, pixels exact: True" in stdout
    assert "Epoch 1/1" in stdout and "trained 1 epoch(s) on 120 images from the folders" in stdout
    accuracy = float(re.search(r"test accuracy: (\d\.\d{4}) \(loss \d+\.\d{4}\) on 40 test images "
                               r"\(10 classes, chance 0\.10\)", stdout).group(1))
    assert 0.0 <= accuracy <= 1.0


def test_the_model_keeps_the_original_class_names(run):
    from convolve.datasets import fashion_mnist
    from convolve.models import load_model

    out, stdout = run
    model = load_model(str(out / "model.safetensors"))
    assert model.class_names == list(fashion_mnist.CLASS_NAMES)  # "T-shirt/top", with its slash
    assert type(model.layers[0]).__name__ == "Rescaling" and model.input_shape == (None, 28, 28, 1)
    assert f"next: convolve predict {out / 'model.safetensors'} {out / 'test'} --top 2" in stdout


def test_it_refuses_bad_arguments_and_a_used_folder(run, tmp_path):
    out, _ = run
    for argv, needle in ((["--samples", "0"], "--samples in 3..3000"),
                         (["--out", str(out)], "already holds files")):
        done = subprocess.run([sys.executable, SCRIPT, *argv], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        assert done.returncode == 2 and needle in done.stderr and "Traceback" not in done.stderr
