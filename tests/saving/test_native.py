"""convolve's own model files (convolve/saving/native.py, through convolve.saving): round trips,
exact resumption, atomic writes, and every error a bad file gives."""
from __future__ import annotations

import json
import os
import pickle
import struct
import sys

import numpy as np
import pytest

pytest.importorskip("safetensors")
from safetensors import numpy as safetensors_numpy  # noqa: E402

import convolve  # noqa: E402
from convolve import layers as L  # noqa: E402
from convolve import optimizers  # noqa: E402
from convolve.models import Sequential, load_model  # noqa: E402
from convolve.random import generator  # noqa: E402
from convolve.saving import load_weights, native, save_model, save_weights  # noqa: E402
from convolve.utils import set_random_seed  # noqa: E402

Model = Sequential


def every_kind(cls=Model, dense=6):
    """A small model with every layer kind: conv, depthwise, separable, pooling, BN, dense,
    dropout (seeded and not) and the reshaping layers."""
    return cls([
        L.Input((8, 8, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.DepthwiseConv2D(3, depth_multiplier=2),
        L.SeparableConv2D(5, 3, padding="same"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.ZeroPadding2D(1),
        L.Cropping2D(1),
        L.UpSampling2D(2),
        L.AveragePooling2D(2),
        L.Dropout(0.3, seed=3),
        L.Flatten(),
        L.Dense(dense),
        L.Dropout(0.2),
        L.Reshape((2, dense // 2)),
        L.GlobalAveragePooling1D(),
        L.Dense(3, activation="softmax"),
    ])


def data(n=24):
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 8, 8, 3)).astype("float32"), np.arange(n) % 3


def trained():
    """every_kind() compiled with Adam and trained for 3 steps."""
    model = every_kind()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


def header_of(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def rewrite(path, edit, resign=False):
    """Edit the header dict of a saved file; with resign, recompute metadata_sha256."""
    header, body = header_of(path)
    edit(header)
    if resign:
        header["__metadata__"]["metadata_sha256"] = native._metadata_digest(header["__metadata__"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def same_weights(a, b):
    assert [w.path for w in a.weights] == [w.path for w in b.weights]
    for wa, wb in zip(a.weights, b.weights):
        assert wa.value.dtype == wb.value.dtype
        np.testing.assert_array_equal(wa.value, wb.value, err_msg=wa.path)


# ---- round trips ------------------------------------------------------------------------------
def test_round_trip_keeps_architecture_weights_compile_and_optimizer_state(tmp_path):
    model = trained()
    bn = next(layer for layer in model.layers if isinstance(layer, L.BatchNormalization))
    moving = [np.linspace(-1, 1, 5), np.linspace(0.5, 2, 5)]
    bn.set_weights(bn.get_weights()[:2] + [m.astype("float32") for m in moving])
    path = tmp_path / "model.safetensors"
    model.save(path)

    loaded = load_model(path)
    assert type(loaded) is Sequential
    assert json.dumps(loaded.get_config()) == json.dumps(model.get_config())
    assert loaded.get_compile_config() == model.get_compile_config()
    same_weights(model, loaded)
    np.testing.assert_array_equal(
        next(item for item in loaded.layers if isinstance(item, L.BatchNormalization)).get_weights()[2],
        moving[0].astype("float32"),
    )
    assert isinstance(loaded.optimizer, optimizers.Adam)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    state, again = model.optimizer.state(), loaded.optimizer.state()
    assert list(state) == list(again)
    assert f"{model.weights[0].path}/momentum" in state
    for key in state:
        np.testing.assert_array_equal(state[key], again[key], err_msg=key)
    x, _ = data()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # the seeded Dropout's generator continues where it was
    seeded = lambda m: next(  # noqa: E731
        item for item in m.layers if isinstance(item, L.Dropout) and item.seed is not None
    )
    assert seeded(loaded)._rng.bit_generator.state == seeded(model)._rng.bit_generator.state


def test_file_layout_tensor_names_and_metadata(tmp_path):
    model = trained()
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    header, _ = header_of(path)
    meta = header.pop("__metadata__")
    names = sorted(header)
    weights = [n for n in names if n.startswith("weights/")]
    assert weights[:2] == ["weights/000/" + model.weights[0].path, "weights/001/" + model.weights[1].path]
    assert len(weights) == len(model.weights)
    assert "optimizer/iterations" in names and "optimizer/learning_rate" in names
    assert sorted(meta) == sorted(native.REQUIRED_KEYS)
    assert meta["format"] == "convolve" and meta["format_version"] == "1"
    assert meta["convolve_version"] == convolve.__version__
    assert json.loads(meta["model_class"]) == "Sequential" and json.loads(meta["contents"]) == "model"
    assert json.loads(meta["optimizer_state_keys"]) == list(model.optimizer.state())
    assert json.loads(meta["compile_config"])["optimizer"]["class_name"] == "Adam"
    # readable by safetensors alone
    tensors = safetensors_numpy.load_file(str(path))
    np.testing.assert_array_equal(tensors["weights/000/" + model.weights[0].path], model.weights[0].value)


def test_uncompiled_and_untrained_models(tmp_path):
    model = every_kind()
    save_model(model, tmp_path / "a.safetensors")
    loaded = load_model(tmp_path / "a.safetensors")
    assert not getattr(loaded, "compiled", False) and loaded.get_compile_config() is None
    same_weights(model, loaded)

    model.compile(optimizers.SGD(0.1, momentum=0.9), "mse")  # compiled, never stepped: no slots yet
    save_model(model, tmp_path / "b.safetensors")
    loaded = load_model(tmp_path / "b.safetensors")
    assert loaded.optimizer.iterations == 0 and loaded.optimizer.momentum == 0.9
    assert load_model(tmp_path / "b.safetensors", compile=False).optimizer is None


def test_float64_model_keeps_its_dtype(tmp_path):
    model = Model([L.Input((4,)), L.Dense(3, dtype="float64")])
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.weights[0].value.dtype == np.float64
    same_weights(model, loaded)


def test_loading_draws_nothing_from_the_global_generator(tmp_path):
    save_model(trained(), tmp_path / "m.safetensors")
    set_random_seed(5)
    before = generator().bit_generator.state
    load_model(tmp_path / "m.safetensors")
    assert generator().bit_generator.state == before


@pytest.mark.parametrize(
    "optimizer",
    [
        "adam",
        lambda: optimizers.SGD(
            optimizers.schedules.ExponentialDecay(0.05, 2, 0.5), momentum=0.9, nesterov=True
        ),
    ],
    ids=["adam", "sgd-schedule"],
)
def test_resuming_after_load_equals_training_straight_through(tmp_path, optimizer):
    def run(split):
        set_random_seed(0)
        model = every_kind()
        model.compile(optimizer() if callable(optimizer) else optimizer, "sparse_categorical_crossentropy")
        x, y = data()
        losses = []
        if split:
            losses += model.fit(x, y, batch_size=8, epochs=2, verbose=0).history["loss"]
            model.save(tmp_path / "ckpt.safetensors")
            model = load_model(tmp_path / "ckpt.safetensors")
            losses += model.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"]
        else:
            losses += model.fit(x, y, batch_size=8, epochs=3, verbose=0).history["loss"]
        return model, losses

    straight, losses_straight = run(split=False)
    resumed, losses_resumed = run(split=True)
    assert losses_resumed == losses_straight
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 9
    for a, b in zip(straight.weights, resumed.weights):  # layer names differ (conv2d vs conv2d_1)
        np.testing.assert_array_equal(a.value, b.value, err_msg=a.path)
    for (ka, a), (_, b) in zip(straight.optimizer.state().items(), resumed.optimizer.state().items()):
        np.testing.assert_array_equal(a, b, err_msg=ka)


# ---- weights only -------------------------------------------------------------------------------
def test_save_and_load_weights_by_position_into_a_new_model(tmp_path):
    model = trained()
    model.save_weights(tmp_path / "w.safetensors")
    header, _ = header_of(tmp_path / "w.safetensors")
    assert json.loads(header["__metadata__"]["contents"]) == "weights"
    assert not any(name.startswith("optimizer/") for name in header)

    other = every_kind()  # other layer names (conv2d_1, ...), other initial weights
    assert other.weights[0].path != model.weights[0].path
    other.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(a.value, b.value)
    x, _ = data()
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_weights_builds_an_unbuilt_model_and_reads_full_model_files(tmp_path):
    model = trained()
    model.save(tmp_path / "full.safetensors")
    unbuilt = Model([L.Dense(2), L.Dense(3)])
    small = Model([L.Input((5,)), L.Dense(2), L.Dense(3)])
    save_weights(small, tmp_path / "small.safetensors")
    load_weights(unbuilt, tmp_path / "small.safetensors")
    assert unbuilt.built
    for a, b in zip(small.weights, unbuilt.weights):
        np.testing.assert_array_equal(a.value, b.value)
    other = every_kind()
    load_weights(other, tmp_path / "full.safetensors")
    same = [np.array_equal(a.value, b.value) for a, b in zip(model.weights, other.weights)]
    assert all(same)


def test_weights_that_do_not_fit_name_both_shapes(tmp_path):
    save_weights(trained(), tmp_path / "w.safetensors")
    wider = every_kind(dense=8)
    before = [w.numpy() for w in wider.weights]
    with pytest.raises(
        ValueError,
        match=r"weight 11 does not match. The file has 'dense\S*/kernel' with shape "
        r"\(45, 6\); the model has 'dense\S*/kernel' with shape \(45, 8\)",
    ) as info:
        wider.load_weights(tmp_path / "w.safetensors")
    assert str(tmp_path / "w.safetensors") in str(info.value)
    for b, w in zip(before, wider.weights):  # nothing changed
        np.testing.assert_array_equal(b, w.value)

    fewer = Model([L.Input((8, 8, 3)), L.Conv2D(4, 3)])
    with pytest.raises(ValueError, match=r"the file has 15 weights \(conv2d\S*/kernel, .*the model has 2 "):
        fewer.load_weights(tmp_path / "w.safetensors")

    swapped = Model([L.Input((4,)), L.BatchNormalization()])  # gamma, beta, moving_mean, moving_variance
    save_weights(Model([L.Input((4,)), L.Dense(4), L.Dense(4)]), tmp_path / "d.safetensors")
    with pytest.raises(
        ValueError,
        match=r"weight 0 does not match. The file has 'dense\S*/kernel' with shape \(4, 4\); "
        r"the model has 'batch_normalization\S*/gamma' with shape \(4,\)",
    ):
        swapped.load_weights(tmp_path / "d.safetensors")


def test_load_model_refuses_a_weights_file(tmp_path):
    save_weights(trained(), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="holds only weights .*model.load_weights"):
        load_model(tmp_path / "w.safetensors")


# ---- atomic writes --------------------------------------------------------------------------------
def crash_midway(file, data):
    file.write(bytes(data[: len(data) // 2]))
    raise RuntimeError("disk on fire")


@pytest.mark.parametrize("save", [save_model, save_weights])
def test_a_crash_while_saving_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch, save):
    path = tmp_path / "model.safetensors"
    model = trained()
    save(model, path)
    previous = path.read_bytes()
    model.weights[0].assign(model.weights[0].value + 1)
    monkeypatch.setattr(native, "_write_bytes", crash_midway)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save(model, path)
    assert path.read_bytes() == previous
    assert os.listdir(tmp_path) == ["model.safetensors"]
    with pytest.raises(RuntimeError):
        save(model, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == ["model.safetensors"]
    monkeypatch.undo()
    save(model, path)  # and a save that completes replaces it
    assert path.read_bytes() != previous and os.listdir(tmp_path) == ["model.safetensors"]


def test_overwrite_false_and_directories(tmp_path):
    model = Model([L.Input((3,)), L.Dense(2)])
    model.save(tmp_path / "m.safetensors")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.safetensors", overwrite=False)
    with pytest.raises(IsADirectoryError, match="directory"):
        model.save(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_model(tmp_path)


# ---- bad files ----------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(trained(), path)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="load_model: no such file: '.*nothing.safetensors'") as info:
        load_model(tmp_path / "nothing.safetensors")
    assert isinstance(info.value, OSError)
    with pytest.raises(FileNotFoundError, match="load_weights: no such file"):
        load_weights(Model([L.Dense(2)]), tmp_path / "nothing.safetensors")


@pytest.mark.parametrize(
    "keep, message",
    [
        (0, r"the file is 0 bytes long, too short for a safetensors file"),
        (5, r"the file is 5 bytes long, too short"),
        (
            100,
            r"the file is truncated or not a safetensors file: its header should be \d+ bytes, but only 92 "
            r"bytes follow",
        ),
        (
            -1,
            r"the file is truncated: its tensors need \d+ bytes of data, but only \d+ bytes follow the "
            r"header",
        ),
    ],
)
def test_truncated_file(saved, keep, message):
    raw = saved.read_bytes()
    saved.write_bytes(raw[:keep] if keep >= 0 else raw[:-100])
    with pytest.raises(ValueError, match=f"Cannot load '.*model.safetensors': {message}"):
        load_model(saved)


def test_changed_tensor_bytes_fail_the_checksum(saved):
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0x40
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"tensor data does not match its checksum \(tensors_sha256\)"):
        load_model(saved)


def test_edited_metadata_fails_the_checksum(saved):
    def edit(header):
        config = json.loads(header["__metadata__"]["model_config"])
        config["layers"][-1]["config"]["activation"] = "linear"
        header["__metadata__"]["model_config"] = json.dumps(config)

    rewrite(saved, edit)
    with pytest.raises(ValueError, match=r"metadata does not match its checksum \(metadata_sha256\)"):
        load_model(saved)


def test_a_plain_safetensors_file_is_not_a_model(tmp_path):
    path = tmp_path / "plain.safetensors"
    safetensors_numpy.save_file({"w": np.ones(3, np.float32)}, str(path), metadata={"format": "pt"})
    with pytest.raises(
        ValueError, match="is a safetensors file but not a convolve model file .*'format': 'pt'"
    ):
        load_model(path)
    safetensors_numpy.save_file({"w": np.ones(3, np.float32)}, str(path))
    with pytest.raises(
        ValueError, match=r"not a convolve model file \(its metadata has no 'format': 'convolve'\)"
    ):
        load_weights(Model([L.Dense(2)]), path)


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"\xff" * 40],
)
def test_a_random_binary_is_not_a_safetensors_file(tmp_path, content):
    path = tmp_path / "picture.safetensors"
    path.write_bytes(content)
    with pytest.raises(
        ValueError, match=r"Cannot load '.*picture.safetensors': it is not a safetensors file"
    ):
        load_model(path)


def test_a_newer_format_version_is_refused(saved):
    rewrite(saved, lambda h: h["__metadata__"].update(format_version="2"), resign=True)
    with pytest.raises(
        ValueError,
        match=r"it has format_version 2 \(written by convolve .*\), but this convolve "
        r"\(.*\) reads format versions up to 1; upgrade convolve",
    ):
        load_model(saved)


def test_class_names_resolve_only_through_the_registries(saved, monkeypatch):
    def edit(header):
        config = json.loads(header["__metadata__"]["model_config"])
        config["layers"][0]["class_name"] = "os.system"
        header["__metadata__"]["model_config"] = json.dumps(config)

    rewrite(saved, edit, resign=True)
    with pytest.raises(
        ValueError, match=r"could not be rebuilt: Unknown layer class.*class_name='os.system'"
    ):
        load_model(saved)


def test_unknown_model_class(saved):
    rewrite(saved, lambda h: h["__metadata__"].update(model_class='"Pickle"'), resign=True)
    with pytest.raises(
        ValueError,
        match=r"unknown model class. Expected one of \['Model', 'Sequential'\]. Received: 'Pickle'",
    ):
        load_model(saved)


def test_loading_never_unpickles_or_evaluates(saved, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("loading must not unpickle or evaluate anything")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr("builtins.eval", forbidden)
    monkeypatch.setattr("builtins.exec", forbidden)
    loaded = load_model(saved)
    load_weights(every_kind(), saved)
    assert loaded.optimizer.iterations == 3


def test_missing_safetensors_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r'pip install "convolve\[io\]"'):
        save_model(Model([L.Input((2,)), L.Dense(1)]), tmp_path / "m.safetensors")
    assert not os.listdir(tmp_path)
