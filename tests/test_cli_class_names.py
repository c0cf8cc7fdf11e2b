"""The optional ``class_names`` entry of convolve's .safetensors files (convolve/saving/native.py),
which carries the names of a model's classes from ``convolve train`` to ``convolve predict``.

(These belong with tests/saving/test_native.py; they are here because that file has another owner.)
"""
import json
import struct

import numpy as np
import pytest

pytest.importorskip("safetensors")

from convolve import layers as L  # noqa: E402
from convolve.cli import main  # noqa: E402
from convolve.models import Sequential, load_model  # noqa: E402
from convolve.saving import native, save_weights  # noqa: E402
from tests.test_cli import read_csv, run  # noqa: E402


def tiny():
    model = Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(3, activation="softmax")])
    model.set_weights([np.linspace(-1, 1, 48).reshape(16, 3).astype("float32"), np.zeros(3, "float32")])
    return model


def header_of(path):
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + size]), raw[8 + size :]


def rewrite(path, edit):
    """Edit the metadata of a saved file and sign it again (metadata_sha256), as an attacker could."""
    header, body = header_of(path)
    edit(header["__metadata__"])
    header["__metadata__"]["metadata_sha256"] = native._metadata_digest(header["__metadata__"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


def test_class_names_travel_with_the_model(tmp_path):
    model = tiny()
    model.class_names = ("T-shirt/top", "Trouser", 'a "quoted", name')
    path = tmp_path / "m.safetensors"
    model.save(str(path))
    meta = header_of(path)[0]["__metadata__"]
    assert json.loads(meta["class_names"]) == ["T-shirt/top", "Trouser", 'a "quoted", name']
    assert json.loads(meta["format_version"]) == 1
    assert sorted(meta) == sorted((*native.REQUIRED_KEYS, "class_names"))
    loaded = load_model(str(path))
    assert loaded.class_names == ["T-shirt/top", "Trouser", 'a "quoted", name']


def test_no_class_names_no_entry_and_no_attribute(tmp_path):
    path = tmp_path / "m.safetensors"
    tiny().save(str(path))
    assert "class_names" not in header_of(path)[0]["__metadata__"]
    assert not hasattr(load_model(str(path)), "class_names")
    model = tiny()
    model.class_names = ["a", "b", "c"]
    save_weights(model, str(tmp_path / "w.safetensors"))  # weights files hold only weights
    assert "class_names" not in header_of(tmp_path / "w.safetensors")[0]["__metadata__"]


def test_the_entry_is_covered_by_the_metadata_checksum(tmp_path):
    model = tiny()
    model.class_names = ["a", "b", "c"]
    path = tmp_path / "m.safetensors"
    model.save(str(path))
    header, body = header_of(path)
    header["__metadata__"]["class_names"] = json.dumps(["x", "y", "z"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)
    with pytest.raises(ValueError, match=r"metadata does not match its checksum \(metadata_sha256\)"):
        load_model(str(path))


@pytest.mark.parametrize(
    "names, message",
    [
        ("abc", "it must be a list of strings. Received: a str"),
        (["a", 2], "every name must be a string. Received: item 1, a int"),
        (["a", "x" * 257], "every name may have at most 256 characters. Received: item 1, 257 characters"),
        (["n"] * 100_001, "it may hold at most 100,000 names. Received: 100,001 names"),
    ],
)
def test_invalid_class_names_are_refused(tmp_path, names, message):
    model = tiny()
    model.class_names = names
    path = tmp_path / "m.safetensors"
    with pytest.raises(
        ValueError,
        match=r"save_model: `model.class_names` \(saved with the model\) is invalid: " + _escaped(message),
    ):
        model.save(str(path))
    assert not path.exists()
    good = tiny()
    good.class_names = ["a", "b", "c"]
    good.save(str(path))
    rewrite(path, lambda meta: meta.update(class_names=json.dumps(names)))
    with pytest.raises(
        ValueError,
        match=rf"Cannot load '{_escaped(str(path))}': its 'class_names' entry is invalid: "
        + _escaped(message),
    ):
        load_model(str(path))


def test_class_names_that_are_not_json(tmp_path):
    model = tiny()
    model.class_names = ["a", "b", "c"]
    path = tmp_path / "m.safetensors"
    model.save(str(path))
    rewrite(path, lambda meta: meta.update(class_names="[not json"))
    with pytest.raises(ValueError, match=r"Cannot load .*metadata entry 'class_names'"):
        load_model(str(path))


def _escaped(text):
    import re

    return re.escape(text)


def test_predict_names_classes_from_the_file_and_falls_back_when_they_do_not_fit(capsys, tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").save(tmp_path / "x.png")
    for names, expected in ((["cat", "dog", "owl"], {"cat", "dog", "owl"}),
                            (["only", "two"], {"class 0", "class 1", "class 2"})):
        model = tiny()
        model.class_names = names
        model.save(str(tmp_path / "m.safetensors"))
        code, out, _ = run(capsys, "predict", tmp_path / "m.safetensors", tmp_path / "x.png", "--top", 3)
        assert code == 0
        row = read_csv(out)[1]
        assert set(row[1::2]) == expected


def test_convolve_train_saves_the_datasets_class_names(tmp_path):
    from convolve.datasets import fashion_mnist

    path = tmp_path / "m.safetensors"
    assert main(["train", "--epochs", "1", "--limit", "32", "-o", str(path)]) == 0
    assert load_model(str(path)).class_names == list(fashion_mnist.CLASS_NAMES)
