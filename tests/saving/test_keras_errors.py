"""Every message of the Keras file modules (convolve/saving/keras_*.py) that
test_keras_files.py does not trigger: malformed configs, compile settings and optimizer states
that do not fit, HDF5 files whose structure is not Keras', and h5py missing."""
from __future__ import annotations

import io
import json
import struct
import sys
import zipfile

import numpy as np
import pytest

from convolve import layers as L
from convolve import losses, optimizers
from convolve.models import Sequential, load_model
from convolve.saving import keras_format
from tests.helpers import requires
from tests.saving.test_keras_files import archive, layer, sequential


def tensor(name, node=0, index=0):
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32",
                                                         "keras_history": [name, node, index]}}


def functional(*layers, inputs=("in", 0, 0), outputs=("d", 0, 0)):
    entry = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "in",
             "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "in"}, "inbound_nodes": []}
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "registered_name": "Functional",
        "config": {
            "name": "f",
            "layers": [entry, *layers],
            "input_layers": list(inputs) if inputs else "x",
            "output_layers": list(outputs),
        },
    }


def dense(name, *nodes):
    return {**layer("Dense", name, units=4), "name": name, "inbound_nodes": list(nodes)}


def node(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


# ---- configs ------------------------------------------------------------------------------------
REG = {"module": "keras.regularizers", "class_name": "L1", "config": {"l1": 0.1}, "registered_name": None}
REG2 = {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.1}, "registered_name": None}


@pytest.mark.parametrize(
    "config, message",
    [
        (
            sequential(
                layer(
                    "SeparableConv2D",
                    "s",
                    filters=2,
                    kernel_size=3,
                    depthwise_regularizer=REG,
                    pointwise_regularizer=REG2,
                )
            ),
            r"layer 's' \(SeparableConv2D\) regularizes its depthwise and pointwise kernels differently",
        ),
        (
            {**sequential(), "config": {"name": "s", "layers": [layer("InputLayer", "in", batch_shape="x")]}},
            r"InputLayer 'in' has an invalid batch_shape. Received: 'x'",
        ),
        (
            {
                **sequential(),
                "config": {
                    "name": "s",
                    "layers": [layer("InputLayer", "in", batch_shape=[None, 3], sparse=True)],
                },
            },
            r"InputLayer 'in' is sparse; convolve's inputs are dense arrays. Received: sparse=True",
        ),
        (
            {**sequential(), "config": {"name": "s", "layers": {}}},
            r"its model config's 'layers' must be a list",
        ),
        (
            {**sequential(), "config": {"name": "s", "layers": [5]}},
            r"layer 0 of its model config is not \{'class_name': \.\.\., 'config': \{\.\.\.\}\}. Received: 5",
        ),
        (
            sequential(layer("Dense", "d", units=2), layer("InputLayer", "late", batch_shape=[None, 2])),
            r"its Sequential model has an InputLayer after other layers. Received: layer 2",
        ),
        (
            functional(dense("d", node(tensor("in", index=1)))),
            r"layer 'd' reads output 1 of layer 'in'; convolve's layers have one output. "
            r"Received: \['in', 0, 1\]",
        ),
        (
            functional(
                dense("d", node({"class_name": "__keras_tensor__", "config": {"keras_history": ["in"]}}))
            ),
            r"layer 'd' has an invalid tensor reference. Received: \['in'\]",
        ),
        (
            functional(dense("d", node(tensor("in"), tensor("in")))),
            r"layer 'd' is called with 2 positional arguments; convolve's layers take one",
        ),
        (
            functional(dense("d", node(tensor("in"), training=True))),
            r"layer 'd' is called with keyword arguments convolve's layers do not take. "
            r"Received: \{'training': True\}",
        ),
        (functional(dense("d", 5)), r"layer 'd' has an invalid inbound node. Received: 5"),
        (
            functional(dense("d", node(tensor("in"))), inputs=None),
            r"its model config's input_layers must be a tensor reference or a list of them. Received: x",
        ),
        (
            functional({**layer("Dense", None, units=4), "inbound_nodes": [node(tensor("in"))]}),
            r"layer 1 of its model config has no name",
        ),
        (
            functional({**dense("d"), "inbound_nodes": {}}),
            r"layer 'd' has invalid inbound_nodes. Received: \{\}",
        ),
        (
            functional(dense("d", node(tensor("e"))), dense("e", node(tensor("d")))),
            r"the graph has a cycle through layer '[de]'",
        ),
        (
            [1, 2],
            r"its model config is not \{'class_name': \.\.\., 'config': \{\.\.\.\}\}. Received: \[1, 2\]",
        ),
        ({"class_name": "Sequential", "config": "x"}, r"its Sequential config is invalid. Received: x"),
        ({"class_name": "Functional", "config": []}, r"its Functional config is invalid. Received: \[\]"),
    ],
)
def test_malformed_configs(tmp_path, config, message):
    with pytest.raises(ValueError, match=r"Cannot load '.*m.keras': " + message):
        load_model(archive(tmp_path / "m.keras", config))


def test_sparse_categorical_crossentropy_on_another_axis_is_refused(tmp_path):
    model = Sequential([L.Input((3, 4)), L.Dense(2)])
    model.compile("sgd", losses.SparseCategoricalCrossentropy(axis=1))
    with pytest.raises(ValueError, match=r"Keras' SparseCategoricalCrossentropy has no axis argument. "
                                         r"Received: axis=1"):
        model.save(tmp_path / "m.keras")


class Momentum(optimizers.SGD):
    """An optimizer class of the user's own."""


def test_an_optimizer_keras_does_not_have_is_refused(tmp_path):
    from convolve.saving import keras_h5

    model = Sequential([L.Input((3,)), L.Dense(2)])
    model.compile(Momentum(0.1), "mse")
    with pytest.raises(
        ValueError,
        match=r"cannot be saved as a Keras file: its optimizer is a Momentum, which Keras "
        r"does not have",
    ):
        model.save(tmp_path / "m.keras")
    with pytest.raises(
        ValueError,
        match=r"convolve knows Keras' variable order for SGD, Adam, AdamW, RMSprop and "
        r"Adagrad. Received: a Momentum",
    ):
        keras_h5.optimizer_slots(Momentum())


# ---- archives -------------------------------------------------------------------------------------
def _patch_central(data: bytes, offset: int, fmt: str, value) -> bytes:
    data = bytearray(data)
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) != -1:
        struct.pack_into(fmt, data, start + offset, value)
        start += 4
    return bytes(data)


def test_encrypted_and_other_compression_members_are_refused(tmp_path):
    path = archive(tmp_path / "m.keras", sequential())
    (tmp_path / "e.keras").write_bytes(_patch_central(path.read_bytes(), 8, "<H", 1))  # the encrypted flag
    with pytest.raises(ValueError, match=r"its member 'metadata.json' is encrypted"):
        load_model(tmp_path / "e.keras")
    archive(tmp_path / "b.keras", sequential(), compression=zipfile.ZIP_BZIP2)
    with pytest.raises(
        ValueError,
        match=r"its member 'metadata.json' uses compression method 12; convolve reads "
        r"stored or deflated members",
    ):
        load_model(tmp_path / "b.keras")


def test_a_member_yielding_other_bytes_than_it_declares_is_refused(tmp_path, monkeypatch):
    path = archive(tmp_path / "m.keras", sequential())
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info, *a, **k: io.BytesIO(b"x" * 10_000))
    with pytest.raises(ValueError, match=r"its member 'metadata.json' holds more bytes than it declares"):
        load_model(path)


# ---- saved files, edited (h5py) ----------------------------------------------------------------------
def trained(optimizer=None):
    model = Sequential([L.Input((4,)), L.Dense(3, name="d"), L.Dense(2, name="e")])
    model.compile(optimizer or optimizers.Adam(0.01), "mse")
    model.train_on_batch(np.ones((2, 4), "float32"), np.ones((2, 2), "float32"))
    return model


def rewrite(path, config=None, weights=None):
    """The archive at ``path`` with its config changed by ``config(c)`` and its HDF5 by ``weights(h5)``."""
    import h5py

    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    document = json.loads(members["config.json"])
    if config is not None:
        config(document)
    if weights is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "a") as h5:
            weights(h5)
        members["model.weights.h5"] = buffer.getvalue()
    members["config.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def set_compile(key, value):
    def change(document):
        if value is None:
            document["compile_config"] = key
        else:
            document["compile_config"][key] = value

    return change


SGD = {"module": "keras.optimizers", "class_name": "SGD", "config": {}, "registered_name": None}
RMS = {
    "module": "keras.optimizers",
    "class_name": "RMSprop",
    "config": {"momentum": 0.5},
    "registered_name": None,
}


@requires("h5py")
@pytest.mark.parametrize(
    "change, message",
    [
        (set_compile(5, None), r"its compile config must be a JSON object. Received: 5"),
        (
            set_compile("loss_weights", [2.0]),
            r"it was compiled with loss_weights, which convolve's compile does not "
            r"take. Received: loss_weights=\[2.0\]; load_model\(\.\.\., compile=False\)",
        ),
        (
            set_compile("metrics", [["mae"]]),
            r"convolve compiles one list of metrics for one output. Received: "
            r"metrics=\[\['mae'\]\]",
        ),
        (set_compile("loss", "no_such_loss"), r"its compile settings could not be restored: unknown loss"),
        (
            set_compile("optimizer", SGD),
            r"its model.weights.h5: the SGD optimizer of this model has 2 variables in Keras "
            r"\(2 before it has run\), the file holds 10",
        ),
        (
            set_compile("optimizer", RMS),
            r"its model.weights.h5: optimizer variable 'd/bias/velocity' should have shape \(3,\). "
            r"Received: shape \(4, 3\)",
        ),
    ],
)
def test_compile_settings_and_optimizer_states_that_do_not_fit(tmp_path, change, message):
    trained().save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"Cannot load '.*m.keras': " + message):
        load_model(rewrite(tmp_path / "m.keras", config=change))
    load_model(tmp_path / "m.keras", compile=False)  # the model itself loads


@requires("h5py")
def test_an_optimizer_state_the_optimizer_refuses(tmp_path):
    trained().save(tmp_path / "m.keras")

    def negative(h5):
        del h5["optimizer/vars/0"]
        h5["optimizer/vars/0"] = np.asarray(-1, dtype=np.int64)

    with pytest.raises(
        ValueError,
        match=r"the optimizer state does not fit the optimizer: .*'iterations' must be a "
        r"non-negative integer",
    ):
        load_model(rewrite(tmp_path / "m.keras", weights=negative))


@requires("h5py")
@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda h5: h5.__delitem__("layers/dense/vars"),
            r"layer 'd': the weights file has no group 'layers/dense/vars'",
        ),
        (
            lambda h5: (h5.__delitem__("layers/dense/vars/0"), h5["layers/dense/vars"].create_group("0")),
            r"'/layers/dense/vars/0' should be a dataset. Received: a Group",
        ),
        (
            lambda h5: (
                h5.__delitem__("layers/dense/vars/1"),
                h5["layers/dense/vars"].create_dataset("1", data=np.array([b"a", b"b", b"c"])),
            ),
            r"dataset '/layers/dense/vars/1' must hold numbers. Received: "
            r"dtype \|S1",
        ),
    ],
)
def test_weights_groups_and_datasets_that_are_not_keras(tmp_path, edit, message):
    trained().save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"Cannot load '.*m.keras': " + message):
        load_model(rewrite(tmp_path / "m.keras", weights=edit))


@requires("h5py")
def test_a_dataset_hdf5_cannot_read(tmp_path, monkeypatch):
    trained().save(tmp_path / "m.keras")

    def broken(dataset):
        raise OSError("Can't read data (inflate() failed)")

    monkeypatch.setattr(keras_format, "read_array", broken)
    with pytest.raises(
        ValueError, match=r"its model.weights.h5: a dataset could not be read \(Can't read data"
    ):
        load_model(tmp_path / "m.keras")


@requires("h5py")
def test_hdf5_signature_with_garbage_after_it(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ValueError, match=r"Cannot load '.*m.h5': the file is not a readable HDF5 file"):
        load_model(tmp_path / "m.h5")


# ---- legacy .h5, edited ------------------------------------------------------------------------------
def legacy(tmp_path, edit, weights_only=False):
    import h5py

    model = trained(optimizers.SGD(0.1, momentum=0.5))
    path = tmp_path / "m.h5"
    (model.save_weights if weights_only else model.save)(path)
    if edit is not None:
        with h5py.File(path, "a") as h5:
            edit(h5)
    return model, path


@requires("h5py")
@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda h5: h5["model_weights/d"].attrs.__setitem__("weight_names", [b"d/kernel"]),
            r"layer 'd' holds 1 weights in the file; Dense 'd' has 2 \(kernel, bias\)",
        ),
        (lambda h5: h5.__delitem__("model_weights"), r"it has a model_config but no 'model_weights' group"),
        (
            lambda h5: (
                h5["model_weights"].attrs.__setitem__("layer_names", [b"d"]),
                h5.__delitem__("model_weights/e"),
            ),
            r"its weights are for the layers \['d'\], its architecture has weights in \['d', 'e'\]",
        ),
        (
            lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", [b"d", b"e", b"x"]),
            r"'/model_weights' lists layer 'x' in layer_names but has no group for it",
        ),
        (
            lambda h5: h5["model_weights/d"].attrs.__setitem__("weight_names", [b"d/kernel", b"d/nothing"]),
            r"'/model_weights/d' lists weight 'd/nothing' but has no dataset for it",
        ),
        (
            lambda h5: h5["model_weights/d"].attrs.__setitem__("weight_names", [b"d/kernel", b"/"]),
            r"an empty name inside '/model_weights/d'. Received: '/'",
        ),
        (
            lambda h5: h5["model_weights/d"].attrs.__setitem__("weight_names", [1, 2]),
            r"'/model_weights/d' attribute 'weight_names' must list names. Received: array\(\[1, 2\]\)",
        ),
    ],
)
def test_legacy_files_whose_structure_does_not_fit(tmp_path, edit, message):
    _, path = legacy(tmp_path, edit)
    with pytest.raises(ValueError, match=r"Cannot load '.*m.h5': " + message):
        load_model(path)


@requires("h5py")
def test_a_legacy_weights_file_is_not_a_model_and_loads_as_weights(tmp_path):
    model, path = legacy(tmp_path, None, weights_only=True)
    with pytest.raises(ValueError, match=r"Cannot load '.*m.h5': it holds only weights \(no 'model_config' "
                                         r"attribute\); build the model and call model.load_weights"):
        load_model(path)
    other = Sequential([L.Input((4,)), L.Dense(3), L.Dense(2)])
    other.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(other.get_weights(), model.get_weights()))
    unbuilt = Sequential([L.Dense(3), L.Dense(2)])
    with pytest.raises(ValueError, match=r"load_weights\('.*m.h5'\): Sequential '.*' is not built"):
        unbuilt.load_weights(path)


def test_without_h5py_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    model = Sequential([L.Input((4,)), L.Dense(2)])
    with pytest.raises(
        ImportError,
        match=r"Keras files \(\.keras, \.weights\.h5, \.h5\) need h5py: pip install "
        r'"convolve\[keras\]"',
    ):
        model.save(tmp_path / "m.keras")
    assert not list(tmp_path.iterdir())
