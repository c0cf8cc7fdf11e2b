"""``convolve export``: a saved model written as ONNX, .keras, .h5 or .safetensors
(convolve/cli/export.py), and the other commands reading what it wrote."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import layers as L
from convolve.cli import main
from convolve.models import Sequential, load_model
from tests.helpers import relative_error, requires

pytest.importorskip("safetensors")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def saved(tmp_path):
    model = Sequential([L.Input((8, 8, 1)), L.Conv2D(3, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                        L.Dense(4, activation="softmax")])
    path = tmp_path / "small.safetensors"
    model.save(path)
    return path, model


def images():
    return np.random.default_rng(0).random((5, 8, 8, 1)).astype("float32")


@requires("onnx")
@pytest.mark.parametrize("opset", [None, 18])
def test_export_to_onnx_and_read_it_back(capsys, tmp_path, saved, opset):
    path, model = saved
    target = tmp_path / "small.onnx"
    code, out, err = run(capsys, "export", path, "-o", target, *(["--opset", opset] if opset else []))
    assert code == 0 and err == "" and out == f"Wrote {path} as {target}.\n"
    import onnx

    graph = onnx.load(str(target))
    assert graph.opset_import[0].version == (opset or 17)
    again = load_model(target)
    assert relative_error(again.predict(images(), verbose=0), model.predict(images(), verbose=0)) < 1e-5


@requires("h5py")
@pytest.mark.parametrize("suffix", [".keras", ".h5", ".safetensors"])
def test_export_to_the_other_formats(capsys, tmp_path, saved, suffix):
    path, model = saved
    target = tmp_path / f"copy{suffix}"
    code, _, _ = run(capsys, "export", path, "-o", target)
    assert code == 0
    code, out, _ = run(capsys, "summary", target)
    assert code == 0 and "conv2d" in out
    np.testing.assert_allclose(load_model(target).predict(images(), verbose=0),
                               model.predict(images(), verbose=0), rtol=1e-6)


def test_export_errors(capsys, tmp_path, saved):
    path, _ = saved
    code, _, err = run(capsys, "export", path, "-o", tmp_path / "x.pt")
    assert code == 1
    assert "convolve export: error: -o must name a .onnx or .keras or .h5 or .safetensors file. " \
           f"Received: -o {tmp_path / 'x.pt'}" in err
    code, _, err = run(capsys, "export", path, "-o", tmp_path / "x.keras", "--opset", 17)
    assert code == 1
    assert f"--opset is for .onnx output. Received: --opset 17 with -o {tmp_path / 'x.keras'}" in err
    code, _, err = run(capsys, "export", tmp_path / "missing.safetensors", "-o", tmp_path / "x.onnx")
    assert code == 1 and "missing.safetensors" in err


def test_predict_gives_a_channels_first_model_nchw_images(capsys, tmp_path):
    from PIL import Image

    pixels = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).astype(np.uint8)
    Image.fromarray(pixels, mode="L").save(tmp_path / "ramp.png")
    model = Sequential([L.Input((1, 8, 8)), L.Conv2D(2, 3, data_format="channels_first"), L.Flatten(),
                        L.Dense(3, activation="softmax")])
    model.save(tmp_path / "nchw.safetensors")
    code, out, err = run(capsys, "predict", tmp_path / "nchw.safetensors", tmp_path / "ramp.png", "--top", 3)
    assert code == 0, err
    expected = model.predict((pixels / 255.0).astype("float32")[None, None], verbose=0)[0]
    row = out.strip().splitlines()[1].split(",")
    got = {row[i]: float(row[i + 1]) for i in range(1, 7, 2)}
    assert got == pytest.approx({f"class {k}": float(expected[k]) for k in range(3)}, abs=1e-6)
