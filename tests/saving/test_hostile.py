"""Hostile model files: a file cannot make loading allocate, compute or block without bound, and
a killed save leaves nothing behind for long (convolve/saving/guards.py, native.py, _files.py).

Checksums inside a file are not signatures: every test here rewrites a file and signs it again
(recomputes metadata_sha256), as an attacker would.
"""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest

pytest.importorskip("safetensors")

from convolve import _files  # noqa: E402
from convolve import layers as L  # noqa: E402
from convolve.models import Sequential, load_model  # noqa: E402
from convolve.saving import guards, load_weights, native, save_model  # noqa: E402


def small():
    return Sequential([L.Input((28, 28, 1)), L.Conv2D(4, 3), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(small(), path)
    return path


def rewrite_header(path, edit):
    """Apply ``edit`` to the header dict and sign the metadata again."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    edit(header)
    header["__metadata__"]["metadata_sha256"] = native._metadata_digest(header["__metadata__"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


def edit_config(path, change):
    def edit(header):
        config = json.loads(header["__metadata__"]["model_config"])
        change(config)
        header["__metadata__"]["model_config"] = json.dumps(config)

    rewrite_header(path, edit)


def peak_bytes_of(call):
    """(the exception ``call`` raised, the peak of Python-tracked allocations while it ran)."""
    tracemalloc.start()
    try:
        try:
            call()
        except Exception as error:  # noqa: BLE001 - returned for the test to inspect
            raised = error
        else:
            raised = None
        return raised, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---- the architecture against the tensors -------------------------------------------------------
def test_a_huge_declared_input_is_refused_before_anything_is_built(saved):
    edit_config(saved, lambda c: c.update(input_shape=[None, 8000, 8000, 1]))
    error, peak = peak_bytes_of(lambda: load_model(saved))
    assert isinstance(error, ValueError)
    assert "more than the whole file holds" in str(error) and "model.safetensors" in str(error)
    assert peak < 20 * 1024 * 1024  # it used to build 4.4 GB of layers first


def test_a_larger_dense_is_refused_before_anything_is_built(saved):
    edit_config(saved, lambda c: c["layers"][-1]["config"].update(units=4_000_000))
    error, peak = peak_bytes_of(lambda: load_model(saved))
    assert isinstance(error, ValueError)
    assert re.search(
        r"its architecture declares 4 weights taking [\d,]+ bytes, more than the whole file holds", str(error)
    )
    assert peak < 20 * 1024 * 1024


def test_an_architecture_that_does_not_match_the_tensors_is_refused(saved):
    edit_config(
        saved, lambda c: c["layers"][0]["config"].update(filters=3)
    )  # fewer bytes than the file holds
    with pytest.raises(
        ValueError,
        match=r"weight 0 does not match. The file has 'conv2d\w*/kernel' with shape "
        r"\(3, 3, 1, 4\); the model has 'conv2d\w*/kernel' with shape \(3, 3, 1, 3\)",
    ):
        load_model(saved)


def test_an_impossible_shape_is_refused_by_name(saved):
    edit_config(saved, lambda c: c.update(input_shape=[None, 2**62, 2**62, 1]))
    with pytest.raises(ValueError, match=r"Cannot load '.*model.safetensors': "):
        load_model(saved)


def test_load_weights_builds_an_unbuilt_model_only_after_the_check(saved):
    edit_config(saved, lambda c: c.update(input_shape=[None, 8000, 8000, 1]))
    unbuilt = Sequential([L.Conv2D(4, 3), L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    error, peak = peak_bytes_of(lambda: load_weights(unbuilt, saved))
    assert isinstance(error, ValueError) and "more than the whole file holds" in str(error)
    assert peak < 20 * 1024 * 1024
    assert not unbuilt.built and all(not layer.built for layer in unbuilt.layers)


# ---- bounded reading -----------------------------------------------------------------------------
def test_a_header_larger_than_100_mb_is_refused_before_reading_it(tmp_path):
    path = tmp_path / "big.safetensors"
    path.write_bytes(struct.pack("<Q", 200 * 1024 * 1024) + b"{}" * 10)
    with pytest.raises(
        ValueError,
        match=r"declare a header of 209,715,200 bytes; convolve reads headers of at most "
        r"104,857,600 bytes",
    ):
        load_model(path)


@pytest.mark.parametrize("where", ["model_config", "header"])
def test_deeply_nested_json_is_a_value_error_not_a_recursion_error(saved, where):
    deep = "[" * 100_000 + "]" * 100_000

    def edit(header):
        if where == "model_config":
            header["__metadata__"]["model_config"] = deep
        else:
            header["extra"] = "DEEP"

    rewrite_header(saved, edit)
    if where == "header":  # splice the nesting into the raw header (json.dumps would recurse)
        raw = saved.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        text = raw[8 : 8 + n].replace(b'"DEEP"', deep.encode())
        text += b" " * (-len(text) % 8)
        saved.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    with pytest.raises(ValueError, match=r"nests JSON more than 64 levels deep"):
        load_model(saved)


def test_json_just_over_the_depth_limit_is_refused(saved):
    rewrite_header(saved, lambda h: h["__metadata__"].update(rng_states="[" * 65 + "]" * 65))
    with pytest.raises(
        ValueError,
        match=r"its metadata entry 'rng_states' nests JSON more than 64 levels deep. "
        r"Received: 65 levels",
    ):
        load_model(saved)


def test_json_depth_counts_levels():
    assert guards.json_depth(1) == 0
    assert guards.json_depth([]) == 1
    assert guards.json_depth({"a": [1, {"b": []}]}) == 4
    assert guards.json_depth({"a": "[[[[", "b": [1, 2]}) == 2


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading():
    with pytest.raises(
        ValueError,
        match=r"Cannot load '/dev/zero': it is a character device; only regular files "
        r"are read",
    ):
        load_model("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    outcome = {}

    def load():
        try:
            load_model(fifo)
        except ValueError as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "load_model blocked on a FIFO"
    assert "it is a FIFO (named pipe); only regular files are read" in outcome["error"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_link_to_a_device_with_the_right_suffix_is_refused(tmp_path):
    link = tmp_path / "zero.safetensors"
    link.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"it is a character device; only regular files are read"):
        load_model(link)
    # the fstat of the opened file is checked too, not only the name looked at beforehand
    with pytest.raises(ValueError, match=r"it is a character device"):
        guards.open_regular_file(str(link))


def test_a_suffix_no_format_handles_lists_the_known_ones(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"save_model: the file name must end with one of \.h5, \.keras, \.safetensors, \.weights\.h5 "
        r"\(the suffix chooses the format\). Received: filepath='.*model.pt' \(\.pt\)",
    ):
        small().save(tmp_path / "model.pt")
    (tmp_path / "weights").write_bytes(b"x")
    with pytest.raises(
        ValueError, match=r"load_model: the file name must end with one of .*\.keras.*\.safetensors"
    ):
        load_model(tmp_path / "weights")


# ---- parts left by a killed save ------------------------------------------------------------------
def dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_save_removes_the_parts_that_killed_saves_left(tmp_path):
    target = tmp_path / "model.safetensors"
    host = _files._HOST
    dead = tmp_path / f".model.safetensors.{host}.{dead_pid()}.0123abcd.part"
    old_format = tmp_path / f".model.safetensors.{dead_pid()}.0123abce.part"
    alive = tmp_path / f".model.safetensors.{host}.{os.getpid()}.0123abcf.part"  # being written right now
    other_host = (
        tmp_path / f".model.safetensors.ffffffff.{dead_pid()}.0123abd0.part"
    )  # its pid means nothing here
    stale = tmp_path / ".model.safetensors.ffffffff.1.0123abd1.part"
    other_target = tmp_path / f".other.safetensors.{host}.{dead_pid()}.0123abd2.part"
    for part in (dead, old_format, alive, other_host, stale, other_target):
        part.write_bytes(b"half a model")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    save_model(small(), target)

    left = sorted(os.listdir(tmp_path))
    assert left == sorted(["model.safetensors", alive.name, other_host.name, other_target.name])


def test_a_save_killed_with_sigkill_leaves_a_part_that_the_next_save_removes(tmp_path):
    target = tmp_path / "model.safetensors"
    script = (
        "import os, signal, sys\n"
        "from convolve.models import Sequential\n"
        "from convolve import layers as L\n"
        "def write_then_die(file, data):\n"
        "    file.write(bytes(data[:100])); file.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "from convolve.saving import native\n"
        "native._write_bytes = write_then_die\n"
        "Sequential([L.Input((4,)), L.Dense(2)]).save(sys.argv[1])\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(target)], cwd=os.getcwd(), timeout=60)
    assert result.returncode == -9
    parts = [name for name in os.listdir(tmp_path) if name.endswith(".part")]
    assert len(parts) == 1 and not target.exists()
    save_model(small(), target)
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert load_model(target).count_params() == small().count_params()


# ---- every message a loader gives names the file and what was wrong --------------------------------
def test_an_impossible_weight_shape_names_the_layer_and_the_weight(saved):
    edit_config(saved, lambda c: c.update(input_shape=[None, 2**40, 2**40, 1]))
    expected = (r"Cannot load '.*model.safetensors': its architecture could not be rebuilt: "
                r"Dense '\w+': weight 'kernel' would have an impossible shape")
    with pytest.raises(ValueError, match=expected):
        load_model(saved)


def test_metadata_that_is_not_json_is_named(saved):
    rewrite_header(saved, lambda h: h["__metadata__"].update(rng_states="{not json"))
    with pytest.raises(ValueError, match=r"its metadata entry 'rng_states' is not valid JSON \(.*\)\. "
                                         r"Received: '\{not json'"):
        load_model(saved)


def test_a_path_that_is_not_a_path_is_a_type_error():
    must = r"the file path must be a str or os.PathLike. Received: "
    with pytest.raises(TypeError, match=r"load_model: " + must + "filepath=3"):
        load_model(3)
    with pytest.raises(TypeError, match=r"save_model: " + must):
        save_model(small(), 3.5)


def test_a_file_that_shrinks_while_it_is_read_is_named(tmp_path):
    path = tmp_path / "short.bin"
    path.write_bytes(b"12345")
    with open(path, "rb") as file:
        expected = r"Cannot load '.*short.bin': the file ended while reading the header: expected 8 bytes. "
        with pytest.raises(ValueError, match=expected + r"Received: 5 bytes"):
            guards.read_exactly(file, 8, str(path), "the header")


def test_saving_as_onnx_points_to_export(tmp_path):
    with pytest.raises(ValueError, match=r"save_model: ONNX is an export format: use model.export\(path, "
                                         r"format='onnx'\)"):
        small().save(tmp_path / "model.onnx")
