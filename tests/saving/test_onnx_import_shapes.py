"""ONNX import of Transpose, Slice and Resize on computed tensors (convolve/saving/onnx_import_shapes.py),
the activations Elu, Selu, Softplus, HardSigmoid, HardSwish, and Max, Min, Neg; Mul then Add as
one Rescaling and global pooling then Flatten as one layer: hand-built graphs against ONNX Runtime
(relative error below 1e-5), the layers they become, and every message of these mappings.

A channels_last graph (Transpose to channels first around the convolutions) comes back as
channels_last layers: the Transposes are kept as pending orders (``Permuted``) that the layers
after them read in their own layout, and become Permute layers only where nothing can.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import requires
from tests.saving.test_onnx_import import imported, model, node, rand, single
from tests.saving.test_onnx_import_errors import refused

pytestmark = [requires("onnx"), requires("onnxruntime")]

INT64_MAX = np.iinfo(np.int64).max


def ints(*values):
    return np.array(values, dtype=np.int64)


def floats(*values):
    return np.array(values, dtype=np.float32)


def nhwc_cnn():
    """What a channels_last convolution stack looks like in ONNX: NHWC in, Transpose to NCHW, the
    convolutions, Transpose back to NHWC, then Flatten and Gemm."""
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        node("Conv", ["t", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        node("Relu", ["c"], ["r"]),
        node("BatchNormalization", ["r", "s", "bb", "m", "v"], ["n"]),
        node("MaxPool", ["n"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        node("Transpose", ["p"], ["back"], perm=[0, 2, 3, 1]),
        node("Flatten", ["back"], ["f"]),
        node("Gemm", ["f", "g"], ["y"]),
    ]
    inits = {"w": rand(4, 3, 3, 3), "b": rand(4), "s": rand(4), "bb": rand(4), "m": rand(4),
             "v": rand(4, positive=True), "g": rand(3 * 3 * 4, 5)}
    return model(nodes, [("x", (2, 6, 7, 3))], inits=inits)


CASES = {
    # Transpose: pending, read in the source's layout, or a Permute layer
    "transpose as the output": (lambda: single("Transpose", (2, 3, 4, 5), perm=[0, 2, 3, 1]), ["Permute"]),
    "transpose into dense": (
        lambda: model(
            [node("Transpose", ["x"], ["t"], perm=[0, 2, 1]), node("MatMul", ["t", "m"], ["y"])],
            [("x", (2, 3, 4))],
            inits={"m": rand(3, 5)},
        ),
        ["Permute", "Dense"],
    ),
    "two transposes cancel": (
        lambda: model(
            [
                node("Transpose", ["x"], ["a"], perm=[0, 2, 1, 3]),
                node("Transpose", ["a"], ["b"], perm=[0, 2, 1, 3]),
                node("Relu", ["b"], ["y"]),
            ],
            [("x", (2, 3, 4, 5))],
        ),
        ["ReLU"],
    ),
    "two transposes compose": (
        lambda: model(
            [
                node("Transpose", ["x"], ["a"], perm=[0, 2, 1, 3]),
                node("Transpose", ["a"], ["y"], perm=[0, 1, 3, 2]),
            ],
            [("x", (2, 3, 4, 5))],
        ),
        ["Permute"],
    ),
    "nhwc cnn": (nhwc_cnn, ["Conv2D", "ReLU", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense"]),
    "channels moved first, softmax and concat on the channels": (
        lambda: model(
            [
                node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
                node("Softmax", ["t"], ["s"], axis=1),
                node("Concat", ["s", "t"], ["c"], axis=1),
                node("Mul", ["c", "k"], ["y"]),
            ],
            [("x", (2, 4, 5, 3))],
            inits={"k": rand(1, 6, 1, 1)},
        ),
        ["Softmax", "Concatenate", "Rescaling", "Permute"],
    ),
    # Slice: Cropping, in the layout the sliced axes fit
    "slice channels first": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax"], ["y"])],
            [("x", (2, 3, 6, 7))],
            inits={"st": ints(1, 2), "en": ints(-1, INT64_MAX), "ax": ints(2, 3)},
        ),
        ["Cropping2D"],
    ),
    "slice channels last": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
            [("x", (2, 6, 7, 3))],
            inits={"st": ints(1, 2), "en": ints(5, 7), "ax": ints(1, -2), "sp": ints(1, 1)},
        ),
        ["Cropping2D"],
    ),
    "slice 3d": (
        lambda: model(
            [node("Slice", ["x", "st", "en"], ["y"])],
            [("x", (2, 2, 4, 5, 6))],
            inits={"st": ints(0, 0, 1, 0, 2), "en": ints(2, 2, 4, 4, 100)},
        ),
        ["Cropping3D"],
    ),
    "slice opset 9 attributes": (
        lambda: single("Slice", (2, 3, 6), opset=9, starts=[2], ends=[-1], axes=[2]),
        ["Cropping1D"],
    ),
    "slice of nothing": (
        lambda: model(
            [node("Slice", ["x", "st", "en"], ["s"]), node("Relu", ["s"], ["y"])],
            [("x", (2, 3, 4))],
            inits={"st": ints(0, 0), "en": ints(3, 9)},
        ),
        ["ReLU"],
    ),
    # Resize: UpSampling (nearest, whole-number scales), Resizing (linear, half-pixel)
    "resize nearest scales": (
        lambda: model(
            [
                node(
                    "Resize",
                    ["x", "", "sc"],
                    ["y"],
                    mode="nearest",
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            ],
            [("x", (2, 3, 4, 5))],
            inits={"sc": floats(1, 1, 2, 3)},
        ),
        ["UpSampling2D"],
    ),
    "resize nearest half_pixel sizes": (
        lambda: model(
            [node("Resize", ["x", "", "", "sz"], ["y"], mode="nearest")],
            [("x", (2, 3, 4, 5))],
            inits={"sz": ints(2, 3, 12, 10)},
        ),
        ["UpSampling2D"],
    ),
    "resize nearest channels last": (
        lambda: model(
            [
                node(
                    "Resize",
                    ["x", "", "sc"],
                    ["y"],
                    coordinate_transformation_mode="half_pixel",
                    nearest_mode="round_prefer_ceil",
                )
            ],
            [("x", (2, 4, 5, 3))],
            inits={"sc": floats(1, 2, 2, 1)},
        ),
        ["UpSampling2D"],
    ),
    "resize nearest 1d channels first": (
        lambda: model(
            [
                node(
                    "Resize",
                    ["x", "", "sc"],
                    ["y"],
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            ],
            [("x", (2, 3, 5))],
            inits={"sc": floats(1, 1, 3)},
        ),
        ["Permute", "UpSampling1D", "Permute"],
    ),
    "resize nearest 3d": (
        lambda: model(
            [
                node(
                    "Resize",
                    ["x", "", "sc"],
                    ["y"],
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            ],
            [("x", (1, 2, 2, 3, 2))],
            inits={"sc": floats(1, 1, 2, 1, 3)},
        ),
        ["UpSampling3D"],
    ),
    "resize nearest axes": (
        lambda: model(
            [
                node(
                    "Resize",
                    ["x", "", "sc"],
                    ["y"],
                    axes=[2, 3],
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
            ],
            [("x", (2, 3, 4, 5))],
            inits={"sc": floats(2, 2)},
            opset=18,
        ),
        ["UpSampling2D"],
    ),
    "resize linear sizes": (
        lambda: model(
            [node("Resize", ["x", "", "", "sz"], ["y"], mode="linear")],
            [("x", (2, 3, 5, 7))],
            inits={"sz": ints(2, 3, 8, 4)},
        ),
        ["Resizing"],
    ),
    "resize linear scales": (
        lambda: model(
            [node("Resize", ["x", "", "sc"], ["y"], mode="linear")],
            [("x", (2, 3, 5, 8))],
            inits={"sc": floats(1, 1, 2, 0.5)},
        ),
        ["Resizing"],
    ),
    "resize of nothing": (
        lambda: model(
            [node("Resize", ["x", "", "sc"], ["r"]), node("Relu", ["r"], ["y"])],
            [("x", (2, 3, 5))],
            inits={"sc": floats(1, 1, 1)},
        ),
        ["ReLU"],
    ),
    # activations, Max, Min, Neg
    "elu": (lambda: single("Elu", (2, 3, 4)), ["Activation"]),
    "selu": (lambda: single("Selu", (2, 3, 4)), ["Activation"]),
    "softplus": (lambda: single("Softplus", (2, 3, 4)), ["Activation"]),
    "hard sigmoid": (lambda: single("HardSigmoid", (2, 3, 4), alpha=1 / 6, beta=0.5), ["Activation"]),
    "hard swish": (lambda: single("HardSwish", (2, 3, 4)), ["Activation"]),
    "neg": (lambda: single("Neg", (2, 3, 4)), ["Rescaling"]),
    "max of three": (
        lambda: model(
            [node("Relu", ["x"], ["r"]), node("Neg", ["x"], ["n"]), node("Max", ["x", "r", "n"], ["y"])],
            [("x", (2, 3, 4))],
        ),
        ["ReLU", "Rescaling", "Maximum"],
    ),
    "min": (
        lambda: model([node("Sigmoid", ["x"], ["s"]), node("Min", ["x", "s"], ["y"])], [("x", (2, 3, 4))]),
        ["Activation", "Minimum"],
    ),
    "max of one": (
        lambda: model([node("Max", ["x"], ["m"]), node("Relu", ["m"], ["y"])], [("x", (2, 3))]),
        ["ReLU"],
    ),
    # fused pairs
    "mul then add": (
        lambda: model(
            [node("Mul", ["x", "s"], ["m"]), node("Add", ["o", "m"], ["y"])],
            [("x", (2, 3, 4, 4))],
            inits={"s": rand(1, 3, 1, 1), "o": np.full((1, 1, 1, 1), 0.5, np.float32)},
        ),
        ["Rescaling"],
    ),
    "mul then add read twice": (
        lambda: model(
            [node("Mul", ["x", "s"], ["m"]), node("Add", ["m", "o"], ["a"]), node("Sub", ["a", "m"], ["y"])],
            [("x", (2, 3, 4))],
            inits={"s": np.float32(2.0), "o": np.float32(0.5)},
        ),
        ["Rescaling", "Rescaling", "Subtract"],
    ),
    "global pool then flatten": (
        lambda: model(
            [node("GlobalAveragePool", ["x"], ["g"]), node("Flatten", ["g"], ["y"])], [("x", (2, 3, 4, 5))]
        ),
        ["GlobalAveragePooling2D"],
    ),
    # Pad of a channels_last tensor's spatial axes
    "pad channels last": (
        lambda: single("Pad", (2, 5, 6, 3), [("p", ints(0, 1, 2, 0, 0, 0, 1, 0))]),
        ["ZeroPadding2D"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_operator_matches_onnxruntime(tmp_path, case):
    make, layers = CASES[case]
    proto = make()
    x_shape = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    imported(tmp_path, proto, rand(*x_shape), layers=layers)


def test_a_channels_last_graph_comes_back_channels_last(tmp_path):
    proto = nhwc_cnn()
    loaded = imported(tmp_path, proto, rand(2, 6, 7, 3))
    assert loaded.input_shape == (None, 6, 7, 3)
    conv, _, norm, pool, flatten, dense = loaded.layers[1:]
    assert conv.data_format == pool.data_format == flatten.data_format == "channels_last"
    assert norm.axis == 3 and conv.padding == ((1, 1), (1, 1))
    from onnx import numpy_helper

    g = numpy_helper.to_array(next(t for t in proto.graph.initializer if t.name == "g"))
    np.testing.assert_array_equal(dense.kernel.value, g)  # Flatten in the same order: rows untouched


def test_a_transpose_that_mixes_spatial_axes_becomes_a_permute_layer(tmp_path):
    proto = model([node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]), node("Conv", ["t", "w"], ["y"])],
                  [("x", (2, 3, 6, 5))], inits={"w": rand(4, 3, 3, 3)})
    loaded = imported(tmp_path, proto, rand(2, 3, 6, 5), layers=["Permute", "Conv2D"])
    assert loaded.layers[1].dims == (1, 3, 2) and loaded.layers[2].data_format == "channels_first"


def test_one_transpose_read_twice_is_one_permute_layer(tmp_path):
    proto = model([node("Transpose", ["x"], ["t"], perm=[0, 2, 1]), node("MatMul", ["t", "m"], ["a"]),
                   node("MatMul", ["t", "m2"], ["b"]), node("Concat", ["a", "b"], ["y"], axis=-1)],
                  [("x", (2, 3, 4))], inits={"m": rand(3, 2), "m2": rand(3, 5)})
    imported(tmp_path, proto, rand(2, 3, 4), layers=["Permute", "Dense", "Dense", "Concatenate"])


def test_mul_then_add_is_one_rescaling_with_both_constants(tmp_path):
    loaded = imported(tmp_path, CASES["mul then add"][0](), rand(2, 3, 4, 4))
    layer = loaded.layers[1]
    assert np.shape(layer.scale) == (3, 1, 1) and layer.offset == 0.5


def test_a_one_value_constant_is_a_number(tmp_path):
    """convolve's own export writes Rescaling's numbers as (1, 1, 1, 1) constants."""
    proto = single("Mul", (2, 4, 4, 1), [("s", np.full((1, 1, 1, 1), 1 / 255, np.float32))])
    layer = imported(tmp_path, proto, rand(2, 4, 4, 1), layers=["Rescaling"]).layers[1]
    assert isinstance(layer.scale, float) and layer.scale == pytest.approx(1 / 255)


def test_the_layout_of_an_ambiguous_slice_of_a_graph_input(tmp_path):
    """Only axis 2 is cropped: both layouts fit; the last axis (3) is shorter than axis 1 (6), so
    the input reads as channels_last images."""
    proto = model([node("Slice", ["x", "st", "en", "ax"], ["y"])], [("x", (2, 6, 7, 3))],
                  inits={"st": ints(1), "en": ints(6), "ax": ints(2)})
    loaded = imported(tmp_path, proto, rand(2, 6, 7, 3), layers=["Cropping2D"])
    assert loaded.layers[1].data_format == "channels_last" and loaded.layers[1].cropping == ((0, 0), (1, 1))


def test_slicing_to_the_end_of_an_axis_of_unknown_size(tmp_path):
    proto = model([node("Slice", ["x", "st", "en", "ax"], ["y"])], [("x", ("N", 3, "H", 6))],
                  inits={"st": ints(1, 0), "en": ints(INT64_MAX, -2), "ax": ints(2, 3)})
    from convolve.models import load_model
    from tests.helpers import relative_error
    from tests.saving.test_onnx_import import run, save

    loaded = load_model(save(proto, tmp_path / "m.onnx"))
    assert loaded.layers[1].cropping == ((1, 0), (0, 2))
    for height in (4, 7):
        x = rand(2, 3, height, 6)
        assert relative_error(loaded.predict(x, verbose=0), run(proto, x)[0]) < 1e-5


# ---- what is refused ---------------------------------------------------------------------------------


def resize(x_shape, inits, opset=17, **attrs):
    """A Resize of x by the initializers ``sc`` (scales) and/or ``sz`` (sizes)."""
    inputs = ["x", "", "sc" if "sc" in inits else "", *(["sz"] if "sz" in inits else [])]
    return model([node("Resize", inputs, ["y"], **attrs)], [("x", x_shape)], inits=inits, opset=opset)


ERRORS = {
    "transpose moves the batch axis": (
        lambda: single("Transpose", (2, 3, 4), perm=[1, 0, 2]),
        [
            "Transpose node 'y': convolve imports Transpose of a computed tensor as Permute, which keeps the "
            "batch axis first: perm must order the axes 0..2 with 0 first. Received: perm=[1, 0, 2]"
        ],
    ),
    "transpose default perm": (
        lambda: single("Transpose", (2, 3, 4)),
        ["Received: perm=[2, 1, 0] for input of shape (None, 3, 4)"],
    ),
    "slice starts and ends": (
        lambda: model(
            [node("Slice", ["x", "st", "en"], ["y"])],
            [("x", (2, 3, 4))],
            inits={"st": ints(0, 1), "en": ints(2)},
        ),
        ["starts and ends must hold one value per axis. Received: starts=(0, 1), ends=(2,)"],
    ),
    "slice float starts": (
        lambda: model(
            [node("Slice", ["x", "st", "en"], ["y"])],
            [("x", (2, 3, 4))],
            inits={"st": floats(0), "en": ints(2)},
        ),
        ["starts must be a 1-D integer constant. Received: float32 of shape (1,)"],
    ),
    "slice axes repeat": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax"], ["y"])],
            [("x", (2, 3, 4))],
            inits={"st": ints(0, 1), "en": ints(2, 3), "ax": ints(2, -1)},
        ),
        ["axes must name 2 distinct axes of the rank-3 input. Received: axes=[2, -1]"],
    ),
    "slice steps": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])],
            [("x", (2, 3, 8))],
            inits={"st": ints(0), "en": ints(8), "ax": ints(2), "sp": ints(2)},
        ),
        ["as cropping, with steps of 1. Received: steps=[2]"],
    ),
    "slice the batch axis": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax"], ["y"])],
            [("x", (4, 3, 8))],
            inits={"st": ints(1), "en": ints(3), "ax": ints(0)},
        ),
        [
            "convolve's cropping layers change only the spatial axes",
            "Received: it changes axes [0] of a rank-3",
        ],
    ),
    "slice a matrix": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax"], ["y"])],
            [("x", (4, 8))],
            inits={"st": ints(1), "en": ints(3), "ax": ints(1)},
        ),
        ["convolve's cropping layers take (batch, channels, *spatial)", "Received: input of rank 2"],
    ),
    "slice an unknown size": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax"], ["y"])],
            [("x", ("N", 3, "H"))],
            inits={"st": ints(0), "en": ints(4), "ax": ints(2)},
        ),
        [
            "slicing axis 2 from 0 to 4 crops an amount that depends on its size",
            "Received: starts 0, ends 4 on an axis of unknown size",
        ],
    ),
    "slice to nothing": (
        lambda: model(
            [node("Slice", ["x", "st", "en", "ax"], ["y"])],
            [("x", (2, 3, 8))],
            inits={"st": ints(5), "en": ints(5), "ax": ints(2)},
        ),
        ["convolve's layers refused it", "the output would be empty"],
    ),
    "resize opset 10": (
        lambda: model(
            [node("Resize", ["x", "sc"], ["y"])], [("x", (2, 3, 4))], inits={"sc": floats(1, 1, 2)}, opset=10
        ),
        ["convolve imports Resize from opset 11 on", "Received: opset 10"],
    ),
    "resize keep aspect ratio": (
        lambda: resize(
            (2, 3, 4, 4), {"sz": ints(6, 6)}, opset=18, axes=[2, 3], keep_aspect_ratio_policy="not_larger"
        ),
        ["keep_aspect_ratio_policy='stretch'. Received: keep_aspect_ratio_policy='not_larger'"],
    ),
    "resize nearest round": (
        lambda: resize(
            (2, 3, 4, 4),
            {"sc": floats(1, 1, 3, 3)},
            coordinate_transformation_mode="asymmetric",
            nearest_mode="round_prefer_floor",
        ),
        [
            "imports nearest Resize as UpSampling",
            "Received: coordinate_transformation_mode='asymmetric', nearest_mode='round_prefer_floor'",
        ],
    ),
    "resize nearest downsampling": (
        lambda: resize(
            (2, 3, 4, 4),
            {"sc": floats(1, 1, 0.5, 0.5)},
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        ),
        ["repeats each cell a whole number of times. Received: axis 2 from 4 to 2"],
    ),
    "resize cubic": (
        lambda: resize((2, 3, 4, 4), {"sc": floats(1, 1, 2, 2)}, mode="cubic"),
        [
            "as Resizing (mode 'linear', coordinate_transformation_mode 'half_pixel', no antialias",
            "Received: mode='cubic', coordinate_transformation_mode='half_pixel', antialias=0, input of "
            "rank 4",
        ],
    ),
    "resize linear antialias": (
        lambda: resize((2, 3, 8, 8), {"sc": floats(1, 1, 0.5, 0.5)}, opset=18, mode="linear", antialias=1),
        ["Received: mode='linear', coordinate_transformation_mode='half_pixel', antialias=1"],
    ),
    "resize linear of an unknown width": (
        lambda: resize((2, 3, 4, "W"), {"sz": ints(2, 3, 8, 5)}, mode="linear"),
        [
            "convolve needs the input's size on every axis Resize sets. Received: axis 3 of input shape "
            "(None, 3, 4, None)"
        ],
    ),
    "resize linear keeps an unknown width": (
        lambda: resize((2, 3, 4, "W"), {"sc": floats(1, 1, 2, 1)}, mode="linear"),
        [
            "convolve's Resizing needs the image's height and width known. Received: input of shape "
            "(None, 3, 4, None)"
        ],
    ),
    "resize scales and sizes": (
        lambda: resize((2, 3, 4), {"sc": floats(1, 1, 2), "sz": ints(2, 3, 8)}),
        ["Resize needs exactly one of scales and sizes. Received: both"],
    ),
    "resize neither": (
        lambda: resize((2, 3, 4), {}),
        ["Resize needs exactly one of scales and sizes. Received: neither"],
    ),
    "resize integer scales": (
        lambda: resize((2, 3, 4), {"sc": ints(1, 1, 2)}),
        ["scales must be a 1-D float constant. Received: int64 of shape (3,)"],
    ),
    "resize axes repeat": (
        lambda: resize((2, 3, 4, 4), {"sc": floats(2, 2)}, opset=18, axes=[2, -2]),
        ["axes must name 2 distinct axes of the rank-4 input. Received: axes=[2, -2]"],
    ),
    "resize scales of the wrong length": (
        lambda: resize((2, 3, 4), {"sc": floats(1, 2)}),
        [
            "scales must hold one value per axis of the rank-3 input (or per axis of the axes attribute). "
            "Received: 2 values"
        ],
    ),
    "resize a fractional size": (
        lambda: resize((2, 3, 5), {"sc": floats(1, 1, 1.5)}),
        [
            "convolve imports a Resize scale only where the input size is known and size * scale is a whole "
            "number. Received: scale 1.5 on axis 2 of size 5"
        ],
    ),
    "resize the batch axis": (
        lambda: resize(("N", 3, 5), {"sc": floats(2, 1, 1)}),
        ["Received: scale 2.0 on axis 0 of size None"],
    ),
    "resize sizes with a dynamic size": (
        lambda: model(
            [node("Shape", ["x"], ["s"]), node("Resize", ["x", "", "", "s"], ["y"])], [("x", (2, 3, "L"))]
        ),
        ["sizes must be known numbers on every axis but the batch axis. Received: x[2] for axis 2"],
    ),
    "resize sizes of rank 2": (
        lambda: resize((2, 3, 4), {"sz": np.array([[2, 3, 8]])}),
        ["sizes must be a 1-D constant (or folded shape). Received: shape (1, 3)"],
    ),
    "resize float sizes": (
        lambda: resize((2, 3, 4), {"sz": floats(2, 3, 8)}),
        ["sizes must be integers. Received: 2.0 for axis 0"],
    ),
    "resize sizes of another batch": (
        lambda: resize((2, 3, 4), {"sz": ints(4, 3, 8)}),
        ["sizes[0] must be the batch size. Received: 4 for a graph whose batch size is 2"],
    ),
    "resize the channels": (
        lambda: resize(
            (2, 3, 4, 5),
            {"sc": floats(1, 2, 1, 2)},
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        ),
        ["convolve's upsampling layers change only the spatial axes", "Received: it changes axes [1, 3]"],
    ),
    "elu alpha": (
        lambda: single("Elu", (2, 3), alpha=0.5),
        ["convolve imports Elu as its activation alpha=1.0. Received: alpha=0.5"],
    ),
    "hard sigmoid keras 2 slope": (
        lambda: single("HardSigmoid", (2, 3)),
        [
            "convolve imports HardSigmoid as its activation alpha=0.1666666716337204, beta=0.5. "
            "Received: alpha="
        ],
    ),
    "selu gamma": (
        lambda: single("Selu", (2, 3), gamma=1.0),
        ["convolve imports Selu as its activation", "Received: gamma=1.0"],
    ),
    "max of a constant": (
        lambda: single("Max", (2, 3), [("c", np.zeros(3, np.float32))]),
        ["every input (convolve's Maximum and Minimum merge computed tensors) must be computed"],
    ),
    "min of two ranks": (
        lambda: model(
            [
                node("GlobalMaxPool", ["x"], ["g"]),
                node("Flatten", ["x"], ["f"]),
                node("Min", ["g", "f"], ["y"]),
            ],
            [("x", (2, 3, 4))],
        ),
        ["convolve merges tensors of one rank", "Received: shapes [(None, 3, 1), (None, 12)]"],
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_refusals(tmp_path, case):
    make, fragments = ERRORS[case]
    refused(tmp_path, make(), *fragments)
