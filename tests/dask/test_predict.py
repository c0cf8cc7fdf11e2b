"""convolve.dask on Dask's local schedulers (threaded, synchronous): predict, features,
predict_files, read_images and to_npz against the same work done in one process."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import layers as L
from convolve.dask import _transport
from convolve.models import Model, Sequential
from convolve.viz.plots import feature_maps

pytestmark = pytest.mark.dask


def cnn(seed=0, softmax=True):
    model = Sequential([
        L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv"), L.MaxPooling2D(name="pool"),
        L.Flatten(name="flat"), L.Dense(3, activation="softmax" if softmax else None, name="dense"),
    ])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


X = np.random.default_rng(1).random((50, 8, 8, 1)).astype("float32")


def chunked(x=X, rows=16):
    import dask.array as da

    return da.from_array(x, chunks=(rows, 4, 8, 1))  # the spatial axes split: predict makes them whole


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_predict_equals_model_predict_chunk_by_chunk(scheduler):
    from convolve.dask import predict

    model = cnn()
    y = predict(model, chunked(), batch_size=8)
    assert y.shape == (50, 3) and y.chunks == ((16, 16, 16, 2), (3,)) and y.dtype == np.float32
    np.testing.assert_array_equal(y.compute(scheduler=scheduler), model.predict(X, batch_size=8, verbose=0))


def test_threads_share_one_model_loaded_once_per_process():
    from convolve.dask import predict

    model = cnn(seed=2)
    x = np.concatenate([X] * 4)
    y = predict(model, chunked(x, rows=8), batch_size=8)  # the batches model.predict makes below
    got = y.compute(scheduler="threads", num_workers=4)
    np.testing.assert_array_equal(got, model.predict(x, batch_size=8, verbose=0))
    digest = _transport.payload(model, "test").digest
    assert _transport.loads[digest] == 1  # 25 tasks on 4 threads, one load
    y2 = predict(model, chunked())  # a second call with the same weights finds the cached model
    y2.compute(scheduler="threads")
    assert _transport.loads[digest] == 1


def test_the_model_is_one_key_of_the_graph_and_may_be_a_file_or_bytes(tmp_path):
    from convolve.dask import predict
    from convolve.saving.native import model_bytes

    model = cnn(seed=3)
    y = predict(model, chunked())
    model_keys = [key for key in dict(y.__dask_graph__()) if str(key).startswith("convolve-model-")]
    assert len(model_keys) == 1
    model.save(tmp_path / "m.safetensors")
    expected = model.predict(X, verbose=0)
    for source in (tmp_path / "m.safetensors", str(tmp_path / "m.safetensors"), model_bytes(model)):
        np.testing.assert_array_equal(predict(source, chunked()).compute(scheduler="sync"), expected)


def test_a_model_with_two_outputs_gives_a_list():
    from convolve.dask import predict

    x = L.Input((8, 8, 1))
    h = L.Conv2D(2, 3)(x)
    model = Model(x, [L.Dense(2)(L.Flatten()(h)), L.GlobalAveragePooling2D()(h)])
    outputs = predict(model, chunked())
    import dask

    for got, expected in zip(dask.compute(*outputs, scheduler="threads"), model.predict(X, verbose=0)):
        np.testing.assert_array_equal(got, expected)


def test_features_equal_feature_maps_and_share_one_pass_a_block():
    import dask
    from dask.callbacks import Callback

    from convolve.dask import features

    model = cnn(seed=4)
    maps = features(model, chunked(), layers=[0, "pool"])
    assert list(maps) == ["conv", "pool"]
    assert maps["conv"].shape == (50, 6, 6, 4) and maps["conv"].chunks[0] == (16, 16, 16, 2)
    passes = []

    class Count(Callback):
        def _pretask(self, key, dsk, state):
            if "_features_block" in str(key):
                passes.append(key)

    with Count():
        got = dask.compute(*maps.values(), scheduler="threads")
    assert len(passes) == 4  # one forward pass per row block, for both layers
    expected = feature_maps(model, X, ["conv", "pool"])
    for name, array in zip(maps, got):
        np.testing.assert_array_equal(array, expected[name])
    assert list(features(model, chunked(), layers=model.layers[1])) == ["pool"]
    assert list(features(model, chunked())) == ["conv", "pool"]


def test_arguments_are_checked_before_anything_runs():
    from convolve.dask import features, predict

    model = cnn()
    with pytest.raises(TypeError, match=r"x must be a Dask array .*Received: ndarray"):
        predict(model, X)
    with pytest.raises(TypeError, match=r"expected a convolve model .*Received: dict"):
        predict({}, chunked())
    with pytest.raises(TypeError, match=r"client must be a distributed.Client or None.*Received: client='x'"):
        predict(model, chunked(), client="x")
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, chunked(), batch_size=0)
    with pytest.raises(ValueError, match=r"(?i)expected.*8, 8, 1|shape"):
        predict(model, chunked(np.zeros((4, 9, 9, 1), "float32")))
    with pytest.raises(ValueError, match=r"layer index must be below that. Received: layers=9"):
        features(model, chunked(), layers=9)
    with pytest.raises(ValueError, match="conv9"):
        features(model, chunked(), layers="conv9")


def test_a_model_that_cannot_be_loaded_on_a_worker_says_so(monkeypatch):
    import convolve.saving
    from convolve.dask import predict

    def refuse(*args, **kwargs):
        raise ValueError("safetensors is too old here")

    y = predict(cnn(seed=5), chunked())  # a digest no process has loaded yet
    monkeypatch.setattr(convolve.saving, "load_model", refuse)
    with pytest.raises(
        ValueError,
        match=r"convolve.dask.predict: the model \(sha256 [0-9a-f]{16}\.\.\., "
        r"[0-9,]+ bytes\) could not be loaded on the worker \(process \d+\): "
        r"safetensors is too old here. Received: ValueError",
    ):
        y.compute(scheduler="sync")


# ---- files -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(23):
        (root / f"c{i % 3}").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, size=(10, 9), dtype=np.uint8)).save(
            root / f"c{i % 3}" / f"{i:02d}.png"
        )
    return root


def test_predict_files_gives_the_rows_of_convolve_predict(folder, tmp_path, capsys):
    import csv

    from convolve.cli import main
    from convolve.dask import predict_files

    model = cnn(seed=6, softmax=False)
    model.class_names = ["cat", "dog", "owl"]
    model.save(tmp_path / "m.safetensors")
    table = predict_files(model, str(folder), top=2, batch_size=4, partition_size=6)
    assert table.npartitions == 3 and table.known_divisions and table.divisions == (0, 8, 16, 22)
    frame = table.compute(scheduler="threads")
    assert list(frame.columns) == ["path", "class_1", "prob_1", "class_2", "prob_2"]
    assert list(frame.index) == list(range(23))
    assert (
        main(["predict", str(tmp_path / "m.safetensors"), str(folder), "--top", "2", "--batch-size", "4"])
        == 0
    )
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))[1:]
    assert [r[0] for r in rows] == list(frame["path"])
    assert [[r[1], r[3]] for r in rows] == frame[["class_1", "class_2"]].values.tolist()
    np.testing.assert_allclose(
        [[float(r[2]), float(r[4])] for r in rows], frame[["prob_1", "prob_2"]], atol=1e-6
    )


def test_predict_files_names_an_image_it_cannot_read(folder, tmp_path):
    import shutil

    from convolve.dask import predict_files

    root = tmp_path / "some"
    shutil.copytree(folder / "c0", root)
    (root / "broken.png").write_bytes(b"not a png")
    table = predict_files(cnn(), str(root / "*.png"))
    with pytest.raises(
        ValueError,
        match=r"convolve.dask: cannot read the image '.*broken.png' on the worker "
        r"\(process \d+\): (load|read)_image: the file is not an image Pillow can read",
    ):
        table.compute(scheduler="sync")


def test_predict_files_checks_its_arguments(folder):
    from convolve.dask import predict_files

    with pytest.raises(
        ValueError, match=r"top asks for more classes than the model has \(3\). Received: top=4"
    ):
        predict_files(cnn(), str(folder), top=4)
    with pytest.raises(ValueError, match=r"class_names must be a list of 3 names.*Received: 2 names"):
        predict_files(cnn(), str(folder), class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"files names no image. Received: files=\[\]"):
        predict_files(cnn(), [])
    frame = predict_files(cnn(), str(folder / "c1"), class_names=["x", "y", "z"]).compute(scheduler="sync")
    assert set(frame["class_1"]) <= {"x", "y", "z"}


def test_read_images_and_to_npz_write_every_layers_maps(folder, tmp_path):
    from convolve.dask import features, read_images, to_npz
    from convolve.data.model_inputs import input_spec, read_batch

    model = cnn(seed=7)
    paths, x = read_images(model, str(folder), partition_size=5)
    assert x.shape == (23, 8, 8, 1) and x.chunks[0] == (5, 5, 5, 5, 3)
    to_npz(tmp_path / "maps.npz", features(model, x), extra={"paths": np.array(paths)})
    saved = np.load(tmp_path / "maps.npz")
    assert sorted(saved.files) == ["conv", "paths", "pool"]
    expected = feature_maps(model, read_batch(paths, input_spec(model)))
    for name in ("conv", "pool"):
        np.testing.assert_array_equal(saved[name], expected[name])
    assert list(saved["paths"]) == paths
    with pytest.raises(ValueError, match=r"must end with .npz. Received: path='maps.zip'"):
        to_npz("maps.zip", features(model, x))
    with pytest.raises(ValueError, match=r"a name may be used once.*Received: both have \['conv'\]"):
        to_npz(tmp_path / "m.npz", features(model, x), extra={"conv": np.zeros(1)})
