"""``model.class_names`` through the files of other frameworks: the ``convolve_class_names`` entry
of a .keras archive's metadata.json (convolve/saving/keras_format.py) and of an ONNX file's
metadata_props (onnx_export.py writes it, onnx_format.py reads it), each checked on load as
convolve's .safetensors checks its own ``class_names`` (tests/test_cli_class_names.py); Keras 3
still loads such an archive; ``convolve predict`` names the classes from either file."""
from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest

from convolve import layers as L
from convolve.models import Sequential, load_model
from tests.helpers import requires

NAMES = ["T-shirt/top", "Trouser", 'a "quoted", name', "ünïcode"]

#: (bad class_names, the message native.py's check gives)
INVALID = [
    ("abc", "it must be a list of strings. Received: a str"),
    ({"a": 1}, "it must be a list of strings. Received: a dict"),
    (["a", 2], "every name must be a string. Received: item 1, a int"),
    (["a", "x" * 257], "every name may have at most 256 characters. Received: item 1, 257 characters"),
]


def tiny(names=None):
    model = Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(4, activation="softmax")])
    model.set_weights([np.linspace(-1, 1, 64).reshape(16, 4).astype("float32"), np.zeros(4, "float32")])
    if names is not None:
        model.class_names = names
    return model


def rewrite_archive(path, edit):
    """The same .keras archive with its metadata.json edited by ``edit(dict)``."""
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    metadata = json.loads(members["metadata.json"])
    edit(metadata)
    members["metadata.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


# ---- .keras ----------------------------------------------------------------------------------------


@requires("h5py")
def test_keras_archive_keeps_class_names_in_its_metadata(tmp_path):
    path = tmp_path / "m.keras"
    tiny(NAMES).save(path)
    with zipfile.ZipFile(path) as zf:
        metadata = json.loads(zf.read("metadata.json"))
    assert metadata["convolve_class_names"] == NAMES
    assert load_model(path).class_names == NAMES


@requires("h5py")
def test_keras_archive_without_class_names(tmp_path):
    path = tmp_path / "m.keras"
    tiny().save(path)
    with zipfile.ZipFile(path) as zf:
        assert "convolve_class_names" not in json.loads(zf.read("metadata.json"))
    assert not hasattr(load_model(path), "class_names")


@requires("h5py")
@pytest.mark.parametrize("names, message", INVALID, ids=[m.split(".")[0] for _, m in INVALID])
def test_invalid_class_names_are_refused_on_keras_save_and_load(tmp_path, names, message):
    path = tmp_path / "m.keras"
    with pytest.raises(
        ValueError,
        match=r"^save_model: `model.class_names` \(saved with the model\) is invalid: " + re.escape(message),
    ):
        tiny(names).save(path)
    assert not path.exists()
    tiny(["a", "b", "c", "d"]).save(path)
    rewrite_archive(path, lambda metadata: metadata.update(convolve_class_names=names))
    with pytest.raises(
        ValueError,
        match=rf"^Cannot load '{re.escape(str(path))}': its metadata.json entry 'convolve_class_names' is "
        rf"invalid: {re.escape(message)}$",
    ):
        load_model(path)


@requires("keras", "h5py", "torch")
def test_keras_loads_an_archive_with_class_names_and_predicts_the_same(tmp_path):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    model = tiny(NAMES)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).uniform(size=(3, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    loaded.save(tmp_path / "k.keras")  # what Keras writes has no class names: none come back
    assert not hasattr(load_model(tmp_path / "k.keras"), "class_names")


# ---- ONNX ---------------------------------------------------------------------------------------------


@requires("onnx")
def test_onnx_file_keeps_class_names_in_metadata_props(tmp_path):
    import onnx

    path = tmp_path / "m.onnx"
    tiny(NAMES).export(path, verbose=False)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["convolve_class_names"]) == NAMES
    assert load_model(path).class_names == NAMES
    tiny().export(tmp_path / "plain.onnx", verbose=False)
    assert not onnx.load(str(tmp_path / "plain.onnx")).metadata_props
    assert not hasattr(load_model(tmp_path / "plain.onnx"), "class_names")


@requires("onnx")
@pytest.mark.parametrize("names, message", INVALID, ids=[m.split(".")[0] for _, m in INVALID])
def test_invalid_class_names_are_refused_on_onnx_export_and_load(tmp_path, names, message):
    import onnx
    from onnx import helper

    path = tmp_path / "m.onnx"
    with pytest.raises(
        ValueError,
        match=r"^export: `model.class_names` \(written to the ONNX file's metadata_props\) is invalid: "
        + re.escape(message),
    ):
        tiny(names).export(path, verbose=False)
    assert not path.exists()
    proto = onnx.load_from_string(_exported(tiny(), tmp_path))
    helper.set_model_props(proto, {"convolve_class_names": json.dumps(names)})
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(
        ValueError,
        match=rf"^Cannot load '{re.escape(str(path))}': its metadata_props entry 'convolve_class_names' is "
        rf"invalid: {re.escape(message)}$",
    ):
        load_model(path)


def _exported(model, tmp_path) -> bytes:
    model.export(tmp_path / "source.onnx", verbose=False)
    return (tmp_path / "source.onnx").read_bytes()


@requires("onnx")
def test_onnx_class_names_that_are_not_json_or_appear_twice(tmp_path):
    import onnx

    proto = onnx.load_from_string(_exported(tiny(), tmp_path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "convolve_class_names", "[not json"
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(
        ValueError,
        match=r"its metadata_props entry 'convolve_class_names' is not valid JSON .*Received: '\[not",
    ):
        load_model(path)
    entry.value = "[]"
    again = proto.metadata_props.add()
    again.key, again.value = "convolve_class_names", "[]"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(
        ValueError,
        match=r"its metadata_props entry 'convolve_class_names' must appear once. Received: 2 entries$",
    ):
        load_model(path)


# ---- convolve predict --------------------------------------------------------------------------------


def predicted_names(capsys, tmp_path, suffix):
    """The class names ``convolve predict`` gives for a model exported by ``convolve export``."""
    pytest.importorskip("safetensors")
    from PIL import Image

    from convolve.cli import main
    from tests.test_cli import read_csv

    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").save(tmp_path / "x.png")
    tiny(["cat", "dog", "owl", "ant"]).save(tmp_path / "m.safetensors")
    assert main(["export", str(tmp_path / "m.safetensors"), "-o", str(tmp_path / f"m{suffix}")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / f"m{suffix}"), str(tmp_path / "x.png"), "--top", "4"]) == 0
    return set(read_csv(capsys.readouterr().out)[1][1::2])


@requires("h5py")
def test_predict_names_the_classes_of_an_exported_keras_file(capsys, tmp_path):
    assert predicted_names(capsys, tmp_path, ".keras") == {"cat", "dog", "owl", "ant"}


@requires("onnx")
def test_predict_names_the_classes_of_an_exported_onnx_file(capsys, tmp_path):
    assert predicted_names(capsys, tmp_path, ".onnx") == {"cat", "dog", "owl", "ant"}


@requires("onnx")
def test_onnx_class_names_that_are_not_utf8(tmp_path):
    import onnx
    from onnx import helper

    proto = onnx.load_from_string(_exported(tiny(), tmp_path))
    helper.set_model_props(proto, {"convolve_class_names": '["zz"]'})
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString().replace(b'["zz"]', b'["\xff\xfe"]'))
    with pytest.raises(
        ValueError,
        match=r"its metadata_props entry 'convolve_class_names' must be UTF-8 text. "
        r"Received: b'\[\"\\xff\\xfe\"\]'$",
    ):
        load_model(path)
