"""`convolve predict --scheduler` and `convolve features --scheduler`: the same rows as without a
scheduler, Parquet and .npz outputs, Dask's progress bar on standard error, one-line errors.
Most tests use one local cluster started for this module (--scheduler ADDRESS); one starts its
own with --scheduler local."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from convolve import layers as L
from convolve.cli import main
from convolve.models import Sequential

pytestmark = pytest.mark.dask

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def address():
    from distributed import Client

    from convolve.dask import local_cluster

    with local_cluster(n_workers=2) as cluster, Client(cluster):
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A model file with class names, and a folder of 30 grey PNGs in two subfolders."""
    root = tmp_path_factory.mktemp("cli_dask")
    model = Sequential([
        L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv"), L.MaxPooling2D(name="pool"),
        L.Flatten(), L.Dense(3, name="dense"),
    ])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.class_names = ["boot", "bag", "shirt, long"]  # a comma: the CSV quotes it
    model.save(root / "m.safetensors")
    for i in range(30):
        (root / "photos" / f"s{i % 2}").mkdir(parents=True, exist_ok=True)
        PIL.fromarray(rng.integers(0, 256, (10, 9), dtype=np.uint8)).save(
            root / "photos" / f"s{i % 2}" / f"{i}.png"
        )
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_on_a_scheduler_writes_the_csv_of_predict(capsys, files, address):
    model, photos = files / "m.safetensors", files / "photos"
    code, plain, _ = run(capsys, "predict", model, photos, "--top", "2")
    assert code == 0
    code, out, err = run(capsys, "predict", model, photos, "--top", "2", "--scheduler", address)
    assert code == 0, err
    assert out == plain  # the same bytes: order, quoting, 6 decimals
    assert "100% Completed" in err and "100% Completed" not in out  # Dask's bar, on standard error
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["path", "class_1", "prob_1", "class_2", "prob_2"] and len(rows) == 31


def test_a_quoted_glob_pattern_and_parquet(capsys, files, address, tmp_path):
    import pandas as pd

    model = files / "m.safetensors"
    pattern = str(files / "photos" / "**" / "1*.png")
    code, plain, _ = run(capsys, "predict", model, pattern)
    assert code == 0
    expected = list(csv.reader(io.StringIO(plain)))[1:]
    assert [r[0] for r in expected] == sorted(r[0] for r in expected) and len(expected) == 11  # 1, 10-19
    out = tmp_path / "p.parquet"
    code, printed, err = run(capsys, "predict", model, pattern, "--scheduler", address, "-o", out)
    assert code == 0, err
    assert printed == f"Wrote the top 1 class(es) of 11 image(s) to {out}.\n"
    table = pd.read_parquet(out)
    assert list(table.columns) == ["path", "class_1", "prob_1"]
    assert table[["path", "class_1"]].values.tolist() == [r[:2] for r in expected]
    np.testing.assert_allclose(table["prob_1"], [float(r[2]) for r in expected], atol=5e-7)


def test_features_on_a_scheduler_writes_every_images_maps(capsys, files, address, tmp_path):
    from convolve.data.model_inputs import image_paths, input_spec, read_batch
    from convolve.saving import load_model
    from convolve.viz.plots import feature_maps

    out = tmp_path / "maps.npz"
    code, printed, err = run(
        capsys,
        "features",
        files / "m.safetensors",
        files / "photos",
        "--layers",
        "conv",
        "pool",
        "--scheduler",
        address,
        "-o",
        out,
    )
    assert code == 0, err
    assert (
        printed
        == f"Saved the feature maps of 30 image(s) to {out}: conv (30, 6, 6, 4), pool (30, 3, 3, 4).\n"
    )
    assert "100% Completed" in err
    saved = np.load(out)
    paths = image_paths(str(files / "photos"))
    assert list(saved["paths"]) == paths
    model = load_model(files / "m.safetensors")
    expected = feature_maps(model, read_batch(paths, input_spec(model)), ["conv", "pool"])
    for name in ("conv", "pool"):
        np.testing.assert_allclose(saved[name], expected[name], rtol=1e-6, atol=1e-6)


def test_the_outputs_each_mode_takes(capsys, files, address):
    model, photos = files / "m.safetensors", files / "photos"
    code, _, err = run(capsys, "predict", model, photos, "-o", "x.parquet")
    assert code == 1 and "-o FILE.parquet needs --scheduler" in err and "Received: -o x.parquet" in err
    code, _, err = run(capsys, "features", model, photos, "--scheduler", address, "-o", "maps.png")
    assert code == 1 and "-o must name a .npz file. Received: -o maps.png" in err
    two = [photos / "s0" / "0.png", photos / "s1" / "1.png"]
    code, _, err = run(capsys, "features", model, *two, "-o", "maps.png")
    assert code == 1 and "for several, use --scheduler" in err and "Received: 2 images" in err


def test_an_image_the_workers_cannot_read_is_named(capsys, files, address, tmp_path):
    import shutil

    shutil.copytree(files / "photos" / "s0", tmp_path / "p")
    (tmp_path / "p" / "7.png").write_bytes(b"not a png")
    code, out, err = run(capsys, "predict", files / "m.safetensors", tmp_path / "p", "--scheduler", address)
    assert code == 1 and out == ""
    last = err.rstrip("\n").split("\n")[-1]  # after Dask's progress bar, the one line of the error
    broken = tmp_path / "p" / "7.png"
    assert last.startswith(f"convolve predict: error: convolve.dask: cannot read the image '{broken}' on the "
                           "worker tcp://")
    assert "not an image Pillow can read" in last


def test_a_scheduler_that_is_not_there_is_one_line(capsys, files):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, _, err = run(capsys, "predict", files / "m.safetensors", files / "photos",
                           "--scheduler", "tcp://127.0.0.1:9")
    assert code == 1
    assert err.startswith("convolve predict: error: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9' (")
    assert err.strip().endswith("Received: --scheduler tcp://127.0.0.1:9")


def test_scheduler_local_starts_its_own_cluster(capsys, files):
    model, photos = files / "m.safetensors", files / "photos" / "s1"
    code, plain, _ = run(capsys, "predict", model, photos, "--top", "3", "--invert")
    code, out, err = run(capsys, "predict", model, photos, "--top", "3", "--invert", "--scheduler", "local")
    assert code == 0, err
    assert out == plain
