"""Keras files without Keras (convolve/saving/keras_*.py): the committed fixtures that Keras 3,
tf.keras 2 and Keras 2.2 wrote (tests/saving/fixtures/make_keras_fixtures.py) read with h5py
alone, and every refusal: options Keras lacks, code in a file, hostile archives and HDF5 files."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest

from convolve import layers as L
from convolve import losses
from convolve.models import Model, Sequential, load_model
from convolve.saving import keras_format, save_model
from tests.helpers import relative_error, requires

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def expected(name, x_of=None):
    """The input and the expected output of a fixture (the input of ``x_of``'s, when given)."""
    data = np.load(FIXTURES / "expected.npz")
    return data[f"{x_of or name}__x"], data[f"{name}__y"]


def archive(path, config, weights=b"", metadata=None, extra=(), compression=zipfile.ZIP_STORED):
    """A .keras archive with this config.json (a dict, or text as it is)."""
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("metadata.json", json.dumps(metadata or {"keras_version": "3.15.1"}))
        zf.writestr("config.json", config if isinstance(config, str) else json.dumps(config))
        zf.writestr("model.weights.h5", weights)
        for name, data in extra:
            zf.writestr(name, data)
    return path


def layer(class_name, name, module="keras.layers", registered_name=None, **config):
    return {"module": module, "class_name": class_name, "config": {"name": name, **config},
            "registered_name": registered_name}


def sequential(*layers):
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "s", "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "in"}}, *layers]}}


# ---- the fixtures (h5py) ----------------------------------------------------------------------
@requires("h5py")
@pytest.mark.parametrize("name", [
    "keras3_sequential.h5", "keras3_functional.h5", "keras3_functional.keras", "tf_keras2_functional.h5",
    "keras2_sequential.h5",
])
def test_files_keras_wrote_load_and_predict_what_keras_predicted(name):
    x, y = expected(name)
    tf_keras = name.startswith("tf_")  # its Adam state is in tf.keras' order, not Keras 3's
    with pytest.warns(UserWarning, match="not in Keras 3's layout") if tf_keras else nullcontext():
        model = load_model(FIXTURES / name)
    inputs = list(x) if name == "keras3_functional.h5" else x
    assert relative_error(model.predict(inputs, verbose=0), y) < 1e-5


@requires("h5py")
def test_legacy_h5_compile_settings_and_optimizer_state():
    model = load_model(FIXTURES / "keras3_sequential.h5")
    assert type(model.optimizer).__name__ == "SGD" and model.optimizer.momentum == pytest.approx(0.9)
    assert model.optimizer.iterations == 2  # two fit epochs of one batch
    assert isinstance(model.loss, losses.SparseCategoricalCrossentropy)
    state = model.optimizer.state()
    momentum = state[f"{model.layers[0].kernel.path}/momentum"]
    assert momentum.shape == (3, 3, 2, 3) and np.abs(momentum).max() > 0
    functional = load_model(FIXTURES / "keras3_functional.h5")
    assert type(functional.optimizer).__name__ == "Adam" and functional.optimizer.iterations == 1
    assert load_model(FIXTURES / "keras3_sequential.h5", compile=False).optimizer is None


@requires("h5py")
def test_tf_keras2_file_compiles_with_a_fresh_optimizer():
    with pytest.warns(UserWarning, match="optimizer starts fresh"):
        model = load_model(FIXTURES / "tf_keras2_functional.h5")
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.iterations == 0
    assert isinstance(model.loss, losses.MeanSquaredError)
    assert model.get_layer("leaky_re_lu").negative_slope == pytest.approx(0.1)  # Keras 2's alpha
    assert model.get_layer("batch_normalization").axis == 1  # tf.keras 2 wrote [1]


@requires("h5py")
def test_keras_weights_file_loads_into_the_model_of_the_keras_archive():
    model = load_model(FIXTURES / "keras3_functional.keras")
    model.load_weights(FIXTURES / "keras3_functional.weights.h5")
    x, y = expected("keras3_functional.weights.h5", x_of="keras3_functional.keras")
    assert relative_error(model.predict(x, verbose=0), y) < 1e-5


@requires("h5py")
def test_legacy_weights_load_by_order_into_a_model_built_in_convolve():
    model = Sequential([
        L.Input((6, 6, 2)), L.Conv2D(3, 3, padding="same", activation="relu", use_bias=False, name="c"),
        L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(), L.Dense(4, activation="softmax"),
    ])
    model.load_weights(FIXTURES / "keras3_sequential.h5")  # layer names differ: by order, as Keras
    x, y = expected("keras3_sequential.h5")
    assert relative_error(model.predict(x, verbose=0), y) < 1e-5
    wrong = Sequential([L.Input((6, 6, 2)), L.Flatten(), L.Dense(4)])
    with pytest.raises(
        ValueError, match=r"Cannot load '.*keras3_sequential.h5': it holds weights for 3 layers"
    ):
        wrong.load_weights(FIXTURES / "keras3_sequential.h5")


@requires("h5py")
def test_a_weights_file_for_another_architecture_is_refused_before_anything_changes():
    config = load_model(FIXTURES / "keras3_functional.keras").get_config()
    for entry in config["layers"]:
        if entry["name"] == "shared":
            entry["config"]["units"] = 4
    other = Model.from_config(config)
    before = other.get_weights()
    with pytest.raises(
        ValueError,
        match=r"'layers/dense(_\d)?/vars/0' has shape \(2, 3\) in the file, but the "
        r"model's weight 'shared/kernel' has shape \(2, 4\)",
    ):
        other.load_weights(FIXTURES / "keras3_functional.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))


def test_import_convolve_and_the_format_modules_do_not_import_h5py():
    code = ("import sys, convolve; from convolve.saving import registry; registry._load_providers(); "
            "from convolve.saving import keras_format; assert 'h5py' not in sys.modules, 'h5py imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


# ---- options Keras lacks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, shape, message",
    [
        (
            lambda: L.Conv2D(2, 3, padding=1, padding_mode="reflect", name="c"),
            (6, 6, 3),
            r"Conv2D 'c' cannot be saved as a Keras file: padding_mode='reflect' pads with other values "
            r"than zeros",
        ),
        (
            lambda: L.Conv2D(2, 3, padding="same", padding_mode="circular", name="c"),
            (6, 6, 3),
            r"padding_mode='circular'",
        ),
        (
            lambda: L.Conv2D(2, 3, strides=2, dilation_rate=2, name="c"),
            (9, 9, 3),
            r"Conv2D 'c' .*strides > 1 together with dilation_rate > 1.*"
            r"Received: strides=\(2, 2\), dilation_rate=",
        ),
        (
            lambda: L.Conv2DTranspose(2, 3, strides=2, dilation_rate=2, name="c"),
            (6, 6, 3),
            r"Conv2DTranspose 'c' .*strides > 1",
        ),
        (
            lambda: L.Activation(lambda x: x, name="a"),
            (6,),
            r"Activation 'a' .*its activation is a custom function",
        ),
        (
            lambda: L.Cropping1D(1, data_format="channels_first", name="c"),
            (3, 6),
            r"Cropping1D 'c' .*Keras' Cropping1D is channels_last only",
        ),
    ],
)
def test_options_keras_lacks_are_refused_naming_the_layer_and_nothing_is_written(
    tmp_path, make, shape, message
):
    model = Sequential([L.Input(shape), make()])
    for suffix in (".keras", ".h5"):
        target = tmp_path / f"m{suffix}"
        with pytest.raises(ValueError, match=message) as info:
            model.save(target)
        assert "Save the model as .safetensors (convolve's own format), which keeps it" in str(info.value)
        assert not list(tmp_path.iterdir())


@requires("h5py")
def test_reflect_padding_that_pads_nothing_saves(tmp_path):
    model = Sequential([L.Input((6, 6, 3)), L.Conv2D(2, 3, padding_mode="reflect")])  # 'valid': no padding
    model.save(tmp_path / "m.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))
    assert "padding_mode" not in config["config"]["layers"][1]["config"]


def test_custom_loss_and_metric_are_refused(tmp_path):
    model = Sequential([L.Input((3,)), L.Dense(2)])
    model.compile("sgd", loss=lambda t, p: (t - p) ** 2)
    with pytest.raises(
        ValueError, match=r"Sequential '.*' cannot be saved as a Keras file: its loss is a custom"
    ):
        model.save(tmp_path / "m.keras")
    model.compile("sgd", "mse", metrics=[lambda t, p: (t - p) ** 2])
    with pytest.raises(ValueError, match="it has a custom metric"):
        model.save(tmp_path / "m.keras")


def test_unknown_suffix_lists_the_known_ones_and_weights_files_hold_no_model(tmp_path):
    model = Sequential([L.Input((3,)), L.Dense(2)])
    with pytest.raises(
        ValueError, match=r"must end with one of .*\.h5, \.keras, .*\.safetensors, \.weights\.h5"
    ):
        model.save(tmp_path / "m.pkl")
    with pytest.raises(ValueError, match=r"a \.weights\.h5 file holds weights only .*model\.save_weights"):
        model.save(tmp_path / "m.weights.h5")
    (tmp_path / "w.weights.h5").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"a \.weights\.h5 file holds weights only"):
        load_model(tmp_path / "w.weights.h5")


# ---- code in a file ----------------------------------------------------------------------------------
def test_lambda_layer_is_refused(tmp_path):
    lam = layer(
        "Lambda", "lam", function={"class_name": "__lambda__", "config": {"value": ["4wEAAA==", None]}}
    )
    path = archive(tmp_path / "m.keras", sequential(lam))
    with pytest.raises(
        ValueError,
        match=r"Cannot load '.*m.keras': it holds Lambda 'lam', __lambda__: Python "
        r"code stored in the file, which convolve never runs",
    ):
        load_model(path)


def test_lambda_activation_object_is_refused(tmp_path):
    dense = layer("Dense", "d", units=2, activation={"class_name": "__lambda__", "config": {"value": "AA=="}})
    with pytest.raises(ValueError, match="it holds __lambda__: Python code"):
        load_model(archive(tmp_path / "m.keras", sequential(dense)))


@pytest.mark.parametrize("module, registered", [("__main__", "Custom>MyLayer"), ("my_package.layers", None),
                                                ("keras.layers", "Custom>Dense")])
def test_custom_objects_are_refused(tmp_path, module, registered):
    custom = layer("MyLayer" if registered != "Custom>Dense" else "Dense", "x", module=module,
                   registered_name=registered)
    with pytest.raises(ValueError, match=r"it names custom objects, code defined outside Keras .*"
                                         rf"\(module '{module}', registered_name {registered!r}\)"):
        load_model(archive(tmp_path / "m.keras", sequential(custom)))


def test_custom_initializer_is_refused(tmp_path):
    init = {"module": "mylib", "class_name": "MyInit", "config": {}, "registered_name": "mylib>MyInit"}
    with pytest.raises(ValueError, match=r"custom objects.*MyInit \(module 'mylib'"):
        load_model(
            archive(tmp_path / "m.keras", sequential(layer("Dense", "d", units=2, kernel_initializer=init)))
        )


def test_unknown_layers_are_listed_together(tmp_path):
    config = sequential(
        layer("LSTM", "lstm", units=3),
        layer("Dense", "d", units=2),
        layer("GRU", "gru", units=3),
        layer("MultiHeadAttention", "mha"),
    )
    with pytest.raises(
        ValueError,
        match=r"convolve has no layer for 3 of its layers: LSTM \('lstm'\), GRU "
        r"\('gru'\), MultiHeadAttention \('mha'\)\. .*Received: those class names",
    ):
        load_model(archive(tmp_path / "m.keras", config))


def test_keras_options_convolve_lacks_are_refused_naming_the_layer(tmp_path):
    dense = layer(
        "Dense",
        "d",
        units=2,
        kernel_constraint={
            "module": "keras.constraints",
            "class_name": "MaxNorm",
            "config": {"max_value": 2},
            "registered_name": None,
        },
    )
    with pytest.raises(
        ValueError, match=r"layer 'd' \(Dense\) uses kernel_constraint=\{'class_name': 'MaxNorm'"
    ):
        load_model(archive(tmp_path / "m.keras", sequential(dense)))


def test_subclassed_model_is_refused(tmp_path):
    config = {"module": "keras.src.models.model", "class_name": "Model", "config": {"name": "m"},
              "registered_name": "Model"}
    config["class_name"] = "MyModel"
    config["registered_name"] = "MyModel"
    with pytest.raises(
        ValueError,
        match=r"convolve loads Sequential and Functional Keras models. Received: a "
        r"'MyModel' model",
    ):
        load_model(archive(tmp_path / "m.keras", config))


# ---- hostile archives --------------------------------------------------------------------------------
def test_declared_weights_beyond_the_file_are_refused_before_allocation(tmp_path):
    huge = sequential(layer("Dense", "d", units=1_000_000_000))
    with pytest.raises(
        ValueError,
        match=r"its architecture declares 2 weights taking 20,000,000,000 bytes, more "
        r"than the whole file holds \(0 bytes\)",
    ):
        load_model(archive(tmp_path / "m.keras", huge))


def test_nested_json_is_refused(tmp_path):
    deep = "[" * 100 + "]" * 100
    with pytest.raises(ValueError, match=r"Cannot load '.*': its config.json nests JSON more than 64 levels"):
        load_model(archive(tmp_path / "m.keras", deep))
    with pytest.raises(ValueError, match=r"its metadata.json must be a JSON object"):
        load_model(archive(tmp_path / "n.keras", sequential(), metadata=[1]))


def test_not_a_zip_truncated_and_corrupt_archives(tmp_path):
    good = archive(tmp_path / "good.keras", sequential()).read_bytes()
    (tmp_path / "text.keras").write_bytes(b"this is not a zip archive")
    (tmp_path / "cut.keras").write_bytes(good[: len(good) // 2])
    corrupt = bytearray(good)
    start = corrupt.index(b'"class_name"')  # inside config.json's stored bytes: the CRC no longer matches
    corrupt[start + 1] ^= 0x20
    (tmp_path / "crc.keras").write_bytes(bytes(corrupt))
    for name in ("text", "cut", "crc"):
        with pytest.raises(
            ValueError,
            match=rf"Cannot load '.*{name}.keras': it is not a readable \.keras archive "
            r"\(a \.keras file is a zip archive\)",
        ):
            load_model(tmp_path / f"{name}.keras")


def test_unexpected_and_missing_members_are_refused(tmp_path):
    path = archive(tmp_path / "m.keras", sequential(), extra=[("../evil.py", b"print('x')")])
    with pytest.raises(
        ValueError,
        match=r"a \.keras archive holds exactly metadata.json, config.json, "
        r"model.weights.h5. Received: unexpected or repeated members \['../evil.py'\]",
    ):
        load_model(path)
    with zipfile.ZipFile(tmp_path / "n.keras", "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"missing \['metadata.json', 'model.weights.h5'\]"):
        load_model(tmp_path / "n.keras")


def _patch_sizes(data: bytes, name: bytes, file_size: int) -> bytes:
    """Set the uncompressed size that the local and central headers of member ``name`` declare."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_length = struct.unpack_from("<H", data, start + (26 if signature == b"PK\x03\x04" else 28))[
                0
            ]
            header = 30 if signature == b"PK\x03\x04" else 46
            if data[start + header : start + header + name_length] == name:
                struct.pack_into("<I", data, start + offset, file_size)
            start += 4
    return bytes(data)


@pytest.mark.parametrize("declared, message", [
    (3 << 30, r"declares 3,221,225,472 bytes, more than convolve reads \(2,147,483,648\)"),
    (50_000_000, r"would expand .* stored bytes to 50,000,000 \(more than 1032x: a zip bomb"),
])
def test_zip_bombs_are_refused_before_decompressing(tmp_path, declared, message):
    path = archive(
        tmp_path / "m.keras", sequential(), weights=b"\0" * 10_000, compression=zipfile.ZIP_DEFLATED
    )
    (tmp_path / "bomb.keras").write_bytes(_patch_sizes(path.read_bytes(), b"model.weights.h5", declared))
    with pytest.raises(
        ValueError, match=r"Cannot load '.*bomb.keras': its member 'model.weights.h5' " + message
    ):
        load_model(tmp_path / "bomb.keras")


def test_a_stored_member_larger_than_it_is_stored_is_refused(tmp_path):
    path = archive(tmp_path / "m.keras", sequential(), weights=b"\0" * 100)
    (tmp_path / "lie.keras").write_bytes(_patch_sizes(path.read_bytes(), b"model.weights.h5", 101))
    with pytest.raises(ValueError, match=r"would expand 100 stored bytes to 101 \(more than 1x"):
        load_model(tmp_path / "lie.keras")


def test_members_larger_than_the_archive_are_refused(tmp_path, monkeypatch):
    path = archive(tmp_path / "m.keras", sequential(), weights=b"\0" * 1000)
    monkeypatch.setattr(keras_format.guards, "open_regular_file",
                        lambda p: (open(p, "rb"), 500))  # the archive as if it were 500 bytes long
    with pytest.raises(
        ValueError, match=r"its members declare .* compressed bytes, more than the archive's 500"
    ):
        load_model(path)


@requires("h5py")
def test_weights_member_that_is_not_hdf5(tmp_path):
    path = archive(tmp_path / "m.keras", sequential(layer("Dense", "d", units=2)), weights=b"\0" * 64)
    with pytest.raises(ValueError, match=r"its model.weights.h5 is not an HDF5 file \(it does not start with "
                                         r"HDF5's signature\)"):
        load_model(path)


@requires("h5py")
def test_hdf5_files_that_are_not_keras_files(tmp_path):
    import h5py

    with h5py.File(tmp_path / "data.h5", "w") as h5:
        h5["images"] = np.zeros((2, 2))
    model = Sequential([L.Input((3,)), L.Dense(2)])
    for action in (
        lambda: load_model(tmp_path / "data.h5"),
        lambda: model.load_weights(tmp_path / "data.h5"),
    ):
        with pytest.raises(
            ValueError,
            match=r"Cannot load '.*data.h5': it is an HDF5 file but not a Keras file: "
            r"it has neither Keras 3's 'layers' and 'vars' groups nor a legacy "
            r"'model_config'.*Received: top-level keys \['images'\]",
        ):
            action()
    os.rename(tmp_path / "data.h5", tmp_path / "data.weights.h5")
    with pytest.raises(ValueError, match="it is an HDF5 file but not a Keras file"):
        model.load_weights(tmp_path / "data.weights.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match=r"the file is not an HDF5 file"):
        load_model(tmp_path / "text.h5")


@requires("h5py")
def test_links_to_other_files_and_external_datasets_are_refused(tmp_path):
    import h5py

    model = Sequential([L.Input((3,)), L.Dense(2, name="d")])
    model.save_weights(tmp_path / "w.weights.h5")
    np.zeros(6, dtype="float32").tofile(tmp_path / "raw.bin")
    with h5py.File(tmp_path / "w.weights.h5", "a") as h5:
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars"]["0"] = h5py.ExternalLink("secret.h5", "/data")
    with pytest.raises(
        ValueError,
        match=r"'/layers/dense/vars/0' is a ExternalLink; convolve follows only links "
        r"inside the file",
    ):
        model.load_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as h5:
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars"].create_dataset(
            "0", shape=(3, 2), dtype="float32", external=[("raw.bin", 0, 24)]
        )
    with pytest.raises(ValueError, match=r"dataset '/layers/dense/vars/0' stores its data in other files"):
        model.load_weights(tmp_path / "w.weights.h5")


@requires("h5py")
def test_weights_file_with_groups_for_other_layers_is_refused(tmp_path):
    import h5py

    model = Sequential([L.Input((3,)), L.Dense(2)])
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as h5:
        h5.create_group("layers/conv2d/vars")
    with pytest.raises(ValueError, match=r"groups for layers the model does not have: \['conv2d'\]"):
        model.load_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as h5:
        del h5["layers/conv2d"]
        h5["layers/dense/vars/2"] = np.zeros(2, dtype="float32")
    with pytest.raises(
        ValueError,
        match=r"layer 'dense.*': 'layers/dense/vars' should hold 2 variables \(0, 1\)\. "
        r"Received: 0, 1, 2",
    ):
        model.load_weights(tmp_path / "w.weights.h5")


def test_unbuilt_model_has_no_weights_to_save_or_load(tmp_path):
    model = Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match=r"save_weights\('.*w.weights.h5'\): Sequential '.*' is not built"):
        model.save_weights(tmp_path / "w.weights.h5")


def test_keras_archive_is_written_atomically(tmp_path, monkeypatch):
    model = Sequential([L.Input((3,)), L.Dense(2)])
    target = tmp_path / "m.keras"
    target.write_bytes(b"previous")

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras_format, "keras_model_config", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, target)
    assert target.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


@requires("h5py")
def test_saved_archive_has_keras_members_stored_and_its_config_names_keras_classes(tmp_path):
    model = Sequential([L.Input((5, 3)), L.Conv1D(2, 3, padding=((1, 2),), name="c"), L.Flatten()])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert [i.filename for i in zf.infolist()] == ["metadata.json", "config.json", "model.weights.h5"]
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        config = json.loads(zf.read("config.json"))
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["keras_version"] == "3.15.1" and "date_saved" in metadata
    assert (config["module"], config["class_name"], config["registered_name"]) == (
        "keras",
        "Sequential",
        None,
    )
    assert config["build_config"] == {"input_shape": [None, 5, 3]}
    names = [(e["class_name"], e["config"]["name"]) for e in config["config"]["layers"]]
    assert [n[0] for n in names] == ["InputLayer", "ZeroPadding1D", "Conv1D", "Flatten"]
    assert names[1:3] == [("ZeroPadding1D", "c_padding"), ("Conv1D", "c")]
    pad, conv = config["config"]["layers"][1], config["config"]["layers"][2]
    assert pad["config"]["padding"] == [1, 2] and conv["config"]["padding"] == "valid"
    assert conv["config"]["dtype"] == {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    assert conv["config"]["kernel_initializer"] == {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": None},
        "registered_name": None,
    }
    assert conv["build_config"] == {"input_shape": [None, 8, 3]} and "padding_mode" not in conv["config"]


