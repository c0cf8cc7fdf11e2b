"""load_model from bytes and file objects: the format told from the first bytes, every check of
a file kept (the buffer's length standing for the file's size), messages naming the bytes."""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest

import convolve.saving as saving
from convolve import layers as L
from convolve.models import Sequential
from convolve.saving import load_model, sniff_format
from convolve.saving.native import model_bytes
from tests.helpers import requires


def small(seed=0):
    model = Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(3, activation="softmax")])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


X = np.random.default_rng(1).random((5, 6, 6, 1)).astype("float32")


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, io.BytesIO])
def test_a_model_loads_from_bytes_and_file_objects(wrap):
    model = small()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    loaded = load_model(wrap(model_bytes(model)))
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert type(loaded.optimizer).__name__ == "Adam"


def test_an_open_file_loads_and_its_bytes_equal_the_saved_file(tmp_path):
    model = small()
    model.class_names = ["a", "b", "c"]
    model.save(tmp_path / "m.safetensors")
    with open(tmp_path / "m.safetensors", "rb") as file:
        loaded = load_model(file)
    assert loaded.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_model_bytes_without_the_optimizer_loads_uncompiled():
    model = small()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    lean, full = model_bytes(model, include_optimizer=False), model_bytes(model)
    assert len(lean) < len(full)
    assert not getattr(load_model(lean), "compiled", False)


def test_the_format_is_sniffed_from_the_first_bytes():
    assert sniff_format(model_bytes(small())[:16]) == "safetensors"
    assert sniff_format(b"PK\x03\x04" + bytes(12)) == "keras"
    assert sniff_format(b"\x89HDF\r\n\x1a\n" + bytes(8)) == "h5"
    assert sniff_format(b"\x08\x07\x12\x04onnx") is None


@requires("h5py")
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_files_load_from_file_objects(tmp_path, suffix):
    model = small()
    model.save(tmp_path / f"m{suffix}")
    with open(tmp_path / f"m{suffix}", "rb") as file:
        loaded = load_model(file)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


@requires("onnx")
def test_onnx_bytes_load_with_a_format_hint(tmp_path):
    model = small()
    model.export(tmp_path / "m.onnx")
    data = (tmp_path / "m.onnx").read_bytes()
    with pytest.raises(ValueError, match="ONNX has no signature: pass format='onnx'"):
        load_model(data)
    loaded = load_model(data, format="onnx")
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_messages_name_the_bytes_not_a_temporary_file():
    data = b"PK\x03\x04" + bytes(196)
    with pytest.raises(ValueError) as caught:
        load_model(data)
    assert "Cannot load '<200 bytes>'" in str(caught.value) and "convolve-load-" not in str(caught.value)


def test_unknown_and_empty_bytes_ask_for_a_format():
    with pytest.raises(
        ValueError, match=r"Cannot load '<34 bytes>': its first bytes are not a safetensors header"
    ):
        load_model(b"this is not a model file, or is it")
    with pytest.raises(ValueError, match=r"Received: first bytes b''"):
        load_model(b"")


def test_bytes_keep_the_file_checks():
    data = model_bytes(small())
    with pytest.raises(ValueError, match=r"'<100 bytes>': the file is truncated or not a safetensors file"):
        load_model(data[:100])
    huge = struct.pack("<Q", 2**40) + b"{" + bytes(7)
    with pytest.raises(ValueError, match="declare a header of 1,099,511,627,776 bytes"):
        load_model(huge)
    corrupt = bytearray(data)
    corrupt[-1] ^= 0xFF  # the last byte of the last tensor
    with pytest.raises(ValueError, match="does not match its checksum"):
        load_model(bytes(corrupt))


def test_a_stream_is_read_in_bounded_pieces(monkeypatch):
    class Endless:
        reads = 0

        def read(self, n):
            Endless.reads += 1
            return b"x" * n

    with pytest.raises(ValueError, match="its first bytes are not a safetensors header"):
        load_model(Endless())
    assert Endless.reads == 1  # refused from its first piece, not read on

    class EndlessModel(Endless):
        def read(self, n):
            Endless.reads += 1
            return struct.pack("<Q", 2) + b"{}" + bytes(n - 10)

    monkeypatch.setattr(saving, "MAX_STREAM_BYTES", 3 * 2**20)
    with pytest.raises(ValueError, match=r"is read up to 3,145,728 bytes, and this one goes on. .*"
                                         r"Received: more than 3,145,728 bytes"):
        load_model(EndlessModel())


def test_wrong_arguments_say_what_was_expected(tmp_path):
    with pytest.raises(TypeError, match=r"opened in binary mode \('rb'\).*Received: <StringIO>"):
        load_model(io.StringIO("text"))
    with pytest.raises(ValueError, match=r"format must be one of 'safetensors', 'keras', 'h5', 'onnx'.*"
                                         r"Received: format='pickle'"):
        load_model(b"abc", format="pickle")
    with pytest.raises(ValueError, match=r"format= is for bytes and file objects.*Received: filepath="):
        load_model(tmp_path / "m.safetensors", format="keras")
