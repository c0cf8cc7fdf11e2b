"""ONNX export's errors: what it refuses (every such layer named at once, with the option and
what was received), the arguments it checks, the missing onnx package, and export_model's
other formats. Nothing is written when an export fails."""
from __future__ import annotations

import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import convolve
from convolve import layers as L
from convolve.models import Model, Sequential
from convolve.saving import export_model, onnx_export
from convolve.saving.onnx_export import to_onnx
from tests.helpers import requires


def tiny():
    return Sequential([L.Input((4,)), L.Dense(2)])


# ---- without onnx -------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["method", "function"])
def test_other_formats_get_export_models_message(tmp_path, call):
    target = tmp_path / "model"
    with pytest.raises(
        ValueError, match=r"convolve exports one format, 'onnx'.*Received: format='tf_saved_model'"
    ):
        if call == "method":
            tiny().export(target, format="tf_saved_model")
        else:
            export_model(tiny(), target, format="tf_saved_model")
    assert not target.exists()


def test_importing_convolve_and_the_exporter_does_not_import_onnx():
    code = (
        "import sys, convolve, convolve.saving.onnx_export, convolve.saving.onnx_export_layers\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(convolve.__file__))
    )


def test_a_missing_onnx_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    target = tmp_path / "m.onnx"
    with pytest.raises(ImportError, match=r'pip install "convolve\[onnx\]"\. Received: ImportError'):
        tiny().export(target)
    assert not target.exists()


# ---- arguments ---------------------------------------------------------------------------------


@requires("onnx")
@pytest.mark.parametrize("opset", [16, 22, "17", 17.0, True])
def test_opset_must_be_one_of_the_tested_ones(opset):
    with pytest.raises(ValueError, match=r"`opset` must be None .* from 17 to 21\. Received: opset="):
        to_onnx(tiny(), opset=opset)


@requires("onnx")
def test_an_unbuilt_sequential_is_refused():
    with pytest.raises(
        ValueError, match=r"Sequential 'unbuilt' is not built.*Received: a model without an input"
    ):
        to_onnx(Sequential([L.Dense(2)], name="unbuilt"))


@requires("onnx")
def test_a_model_over_protobufs_limit_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "_MAX_BYTES", 100)
    target = tmp_path / "big.onnx"
    with pytest.raises(ValueError, match=r"too large for one ONNX file .* Received: [\d,]+ bytes"):
        onnx_export.export_onnx(tiny(), target)
    assert not target.exists()


# ---- refused layers -----------------------------------------------------------------------------


class Doubling(L.Layer):
    def call(self, inputs, training=False):
        return inputs * 2


class MyConv(L.Conv2D):
    pass


def refusal(model, opset=None) -> str:
    with pytest.raises(ValueError) as info:
        to_onnx(model, opset=opset)
    return str(info.value)


@requires("onnx")
@pytest.mark.parametrize(
    "layer, expected",
    [
        (
            Doubling(name="doubling"),
            r"Doubling 'doubling': a layer type that ONNX export does not cover \(it covers convolve's "
            r"built-in layers\)\. "
            r"Received: a Doubling layer",
        ),
        (
            MyConv(2, 3, name="mine"),
            r"MyConv 'mine': a subclass of Conv2D, whose call\(\) convolve cannot see "
            r"into\. Received: a MyConv layer",
        ),
        (
            L.Conv2D(2, 3, activation=lambda x: x, name="c"),
            r"Conv2D 'c': the activation is a custom function, .* Received: activation=<function",
        ),
        (
            L.Activation(functools.partial(convolve.activations.silu, beta=2.0), name="a"),
            r"Activation 'a': the activation 'silu' takes only the keyword arguments \[\]\. "
            r"Received: activation=functools.partial",
        ),
    ],
    ids=["custom_layer", "subclass", "custom_activation", "partial_with_unknown_keyword"],
)
def test_layers_onnx_cannot_express(layer, expected):
    model = Sequential([L.Input((6, 6, 2)), layer], name="m")
    message = refusal(model)
    assert message.startswith(
        "export: Sequential 'm' cannot be written as ONNX; 1 layer cannot be expressed:"
    )
    assert len(__import__("re").findall(expected, message)) == 1, message


@requires("onnx")
def test_size_dependent_padding_on_an_open_axis():
    model = Sequential([L.Input((None, 8, 3)), L.Conv2D(2, 3, strides=2, padding="same", name="c")])
    assert (
        "Conv2D 'c': padding='same' with strides > 1 pads by an amount that depends on the input size, which "
        "the model leaves open (None); give the model's Input a fixed size. Received: strides=(2, 2), input "
        "shape (None, None, 8, 3)"
    ) in refusal(model)
    pool = Sequential([L.Input((8, None, 3)), L.MaxPooling2D(2, padding="same", name="p")])
    assert "MaxPooling2D 'p': padding='same' with strides > 1" in refusal(pool)


@requires("onnx")
def test_circular_padding_on_an_open_axis_before_opset_19():
    model = Sequential(
        [L.Input((None, 5, 2)), L.Conv2D(2, 3, padding="same", padding_mode="circular", name="c")]
    )
    assert (
        "Conv2D 'c': padding_mode='circular': padding in 'wrap' mode on an axis whose size the model leaves "
        "open (None) needs ONNX's Pad in wrap mode, opset 19 or later. Received: opset=17"
    ) in refusal(model, opset=17)
    assert to_onnx(model).opset_import[0].version == 19  # left to choose, the export takes 19


@requires("onnx")
def test_image_layers_need_a_batch_of_images_of_known_size():
    open_size = Sequential([L.Input((None, None, 3)), L.Resizing(4, 4, name="r")])
    assert (
        "Resizing 'r': the crop and the resampling weights are computed from the image size, which the model "
        "leaves open (None); give the model's Input a fixed height and width. Received: input shape "
        "(None, None, None, 3)"
    ) in refusal(open_size)
    not_images = Sequential([L.Input((5, 6)), L.CenterCrop(2, 2, name="crop")])
    assert (
        "CenterCrop 'crop': the exported graph takes a batch of images, rank 4. "
        "Received: input shape (None, 5, 6)"
    ) in refusal(not_images)


@requires("onnx")
def test_normalization_along_the_batch_axis_fixes_the_batch_size():
    model = Sequential(
        [L.Normalization(axis=(0, -1), mean=np.zeros((4, 3)), variance=np.ones((4, 3)), name="n")]
    )
    model.build((4, 3))
    assert (
        "Normalization 'n': statistics along the batch axis (one per sample index) fix the batch size, which "
        "the exported graph leaves open. Received: axis=(0, -1)"
    ) in refusal(model)


@requires("onnx")
def test_every_refused_layer_is_listed_at_once_and_nothing_is_written(tmp_path):
    x = L.Input((6, 6, 2))
    a = Doubling(name="first")(x)
    b = L.Conv2D(2, 3, activation=np.tanh, name="second")(a)
    c = L.Add()([L.Conv2D(2, 3, name="fine")(x), b])
    model = Model(x, MyConv(1, 1, name="third")(c), name="several")
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the previous file")
    with pytest.raises(ValueError) as info:
        model.export(target)
    lines = str(info.value).splitlines()
    assert lines[0] == "export: Model 'several' cannot be written as ONNX; 3 layers cannot be expressed:"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "  - Doubling 'first'", "  - Conv2D 'second'", "  - MyConv 'third'"
    ]
    assert all("Received: " in line for line in lines[1:])
    assert target.read_bytes() == b"the previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
