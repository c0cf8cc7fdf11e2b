"""ONNX import (convolve/saving/onnx_format.py and onnx_import_*.py): each operator, in hand-built
graphs, loaded with ``load_model`` and compared with ONNX Runtime (relative error below 1e-5 in
float32), with the layers it must become; the folding of shape arithmetic; layer names.

PyTorch's exporters and convolve's tools on imported models are in test_onnx_import_torch.py;
bad files and refusals in test_onnx_import_errors.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from convolve import layers as L
from convolve.models import load_model
from tests.helpers import relative_error, requires

pytestmark = [requires("onnx"), requires("onnxruntime")]


# ---- small graphs written by hand (test_onnx_import_errors.py uses them too); each function that
# imports onnx or onnxruntime does so inside, so only marked tests may call it ---------------------

RNG = np.random.default_rng(7)


def rand(*shape, positive=False):
    """Random float32 values (positive ones for variances)."""
    value = RNG.standard_normal(shape).astype(np.float32)
    return np.abs(value) + 0.5 if positive else value


def node(op, inputs, outputs, name=None, **attrs):
    """An ONNX node; ``name`` defaults to the first output's name."""
    from onnx import helper

    return helper.make_node(
        op, list(inputs), list(outputs), name=outputs[0] if name is None else name, **attrs
    )


def value_info(name, shape, elem_type=1):
    from onnx import helper

    return helper.make_tensor_value_info(name, elem_type, shape)


def model(nodes, inputs, outputs=("y",), inits=None, opset=17, ir_version=8, name="g"):
    """A ModelProto: ``inputs`` is [(name, shape)] (shape entries None or a str are dynamic),
    ``outputs`` names the graph outputs, ``inits`` maps names to arrays (initializers)."""
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        list(nodes), name, [value_info(n, s) for n, s in inputs], [value_info(n, None) for n in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), name=k) for k, v in (inits or {}).items()],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = ir_version
    return proto


def single(op, x_shape, weights=(), opset=17, **attrs):
    """One node reading x then the named ``weights`` (initializers, in order) -> y."""
    inits = dict(weights)
    return model([node(op, ["x", *inits], ["y"], **attrs)], [("x", x_shape)], inits=inits, opset=opset)


def run(proto, *xs):
    """What ONNX Runtime computes: the list of outputs."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)})


def save(proto, path):
    path.write_bytes(proto.SerializeToString())
    return path


def imported(tmp_path, proto, *xs, layers=None):
    """Load ``proto`` from a file, compare its predictions with ONNX Runtime's; the model."""
    loaded = load_model(save(proto, tmp_path / "model.onnx"))
    want = run(proto, *xs)
    got = loaded.predict(xs[0] if len(xs) == 1 else list(xs), verbose=0)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        assert relative_error(g, w) < 1e-5
    if layers is not None:
        assert [type(layer).__name__ for layer in loaded.layers[1:]] == layers
    return loaded


def conv(x_shape, w_shape, bias=True, **attrs):
    weights = [("w", rand(*w_shape))] + ([("b", rand(w_shape[0]))] if bias else [])
    return single("Conv", x_shape, weights, **attrs)


def transpose(x_shape, w_shape, **attrs):
    return single("ConvTranspose", x_shape, [("w", rand(*w_shape)), ("b", rand(w_shape[1]))], **attrs)


def after_relu(op, x_shape, **attrs):
    """Relu then ``op``: a non-negative input."""
    return model([node("Relu", ["x"], ["r"]), node(op, ["r"], ["y"], **attrs)], [("x", x_shape)])


CASES = {
    # Conv: explicit asymmetric pads, strides, dilations, groups, depthwise, auto_pad, ranks
    "conv pads strides": (
        lambda: conv((2, 3, 9, 8), (4, 3, 3, 3), pads=[1, 0, 2, 1], strides=[2, 1]),
        ["Conv2D"],
    ),
    "conv dilation no bias": (
        lambda: conv((2, 3, 11, 10), (5, 3, 3, 2), bias=False, dilations=[2, 3]),
        ["Conv2D"],
    ),
    "conv groups": (lambda: conv((2, 4, 7, 7), (6, 2, 3, 3), group=2, pads=[1, 1, 1, 1]), ["Conv2D"]),
    "conv depthwise x2": (
        lambda: conv((2, 3, 8, 8), (6, 1, 3, 3), group=3, pads=[1, 1, 1, 1]),
        ["DepthwiseConv2D"],
    ),
    "conv same upper": (
        lambda: conv((2, 3, 8, 7), (4, 3, 4, 3), auto_pad="SAME_UPPER", strides=[2, 2]),
        ["Conv2D"],
    ),
    "conv same lower": (
        lambda: conv((2, 3, 9, 8), (4, 3, 4, 3), auto_pad="SAME_LOWER", strides=[2, 2]),
        ["Conv2D"],
    ),
    "conv valid": (lambda: conv((2, 3, 8, 7), (4, 3, 3, 3), auto_pad="VALID", strides=[2, 2]), ["Conv2D"]),
    "conv 1d": (lambda: conv((2, 3, 12), (4, 3, 5), pads=[2, 1], strides=[2]), ["Conv1D"]),
    "conv 1d depthwise": (lambda: conv((2, 3, 12), (3, 1, 3), group=3), ["DepthwiseConv1D"]),
    "conv 3d": (lambda: conv((2, 2, 5, 6, 4), (3, 2, 3, 3, 2), pads=[1, 0, 1, 1, 0, 0]), ["Conv3D"]),
    "conv 3d depthwise": (lambda: conv((2, 2, 5, 6, 4), (4, 1, 3, 3, 2), group=2), ["Conv3D"]),
    # ConvTranspose: ONNX crops its pads from the full output, output_padding at the end
    "transpose pads output_padding": (
        lambda: transpose(
            (2, 3, 5, 4), (3, 4, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]
        ),
        ["Conv2DTranspose", "Cropping2D"],
    ),
    "transpose k4 s2 p1": (
        lambda: transpose((2, 3, 5, 4), (3, 2, 4, 4), strides=[2, 2], pads=[1, 1, 1, 1]),
        ["Conv2DTranspose", "Cropping2D"],
    ),
    "transpose dilated": (
        lambda: transpose((2, 3, 4, 4), (3, 2, 3, 2), dilations=[2, 1]),
        ["Conv2DTranspose"],
    ),
    "transpose small kernel": (
        lambda: transpose((2, 3, 4, 4), (3, 2, 1, 1), strides=[3, 2], output_padding=[2, 1]),
        ["Conv2DTranspose"],
    ),
    "transpose output_shape": (
        lambda: transpose((2, 3, 4, 5), (3, 2, 3, 3), strides=[2, 2], output_shape=[8, 9]),
        ["Conv2DTranspose", "Cropping2D"],
    ),
    "transpose same upper": (
        lambda: transpose((2, 3, 4, 5), (3, 2, 4, 4), strides=[2, 2], auto_pad="SAME_UPPER"),
        ["Conv2DTranspose", "Cropping2D"],
    ),
    "transpose same upper odd": (
        lambda: transpose((2, 3, 4, 5), (3, 2, 3, 3), strides=[2, 2], auto_pad="SAME_UPPER"),
        ["Conv2DTranspose", "Cropping2D"],
    ),
    "transpose same lower odd": (
        lambda: transpose((2, 3, 4, 5), (3, 2, 3, 3), strides=[2, 2], auto_pad="SAME_LOWER"),
        ["Conv2DTranspose", "Cropping2D"],
    ),
    "transpose 1d": (
        lambda: transpose((2, 3, 6), (3, 2, 3), strides=[2], pads=[1, 0]),
        ["Conv1DTranspose", "Cropping1D"],
    ),
    # normalisation and activations
    "batchnorm": (
        lambda: single(
            "BatchNormalization",
            (2, 3, 4, 5),
            [("s", rand(3)), ("b", rand(3)), ("m", rand(3)), ("v", rand(3, positive=True))],
            epsilon=1e-3,
        ),
        ["BatchNormalization"],
    ),
    "batchnorm on vectors": (
        lambda: single(
            "BatchNormalization",
            (4, 6),
            [("s", rand(6)), ("b", rand(6)), ("m", rand(6)), ("v", rand(6, positive=True))],
        ),
        ["BatchNormalization"],
    ),
    "relu": (lambda: single("Relu", (2, 3, 4, 4)), ["ReLU"]),
    "leaky relu": (lambda: single("LeakyRelu", (2, 3, 4, 4), alpha=0.2), ["LeakyReLU"]),
    "leaky relu default": (lambda: single("LeakyRelu", (2, 3, 4, 4)), ["LeakyReLU"]),
    "sigmoid": (lambda: single("Sigmoid", (2, 3, 4, 4)), ["Activation"]),
    "tanh": (lambda: single("Tanh", (2, 3, 4, 4)), ["Activation"]),
    "softmax channels": (lambda: single("Softmax", (2, 5, 3, 4), axis=1), ["Softmax"]),
    "softmax last": (lambda: single("Softmax", (3, 10)), ["Softmax"]),
    "softmax opset 11 coerced": (lambda: single("Softmax", (2, 3, 4, 5), opset=11, axis=1), ["Softmax"]),
    "clip relu6": (
        lambda: single("Clip", (2, 3, 4, 4), [("lo", np.float32(0)), ("hi", np.float32(6))]),
        ["ReLU"],
    ),
    "clip min only": (lambda: single("Clip", (2, 3, 4, 4), [("lo", np.float32(0))]), ["ReLU"]),
    "clip opset 9 attributes": (lambda: single("Clip", (2, 3, 4, 4), opset=9, min=0.0, max=0.5), ["ReLU"]),
    # pooling: 'valid', 'same', zero padding where exact, ceil_mode
    "maxpool valid": (
        lambda: single("MaxPool", (2, 3, 9, 8), kernel_shape=[3, 2], strides=[2, 2]),
        ["MaxPooling2D"],
    ),
    "maxpool default strides": (
        lambda: single("MaxPool", (2, 3, 5, 5), kernel_shape=[2, 2]),
        ["MaxPooling2D"],
    ),
    "maxpool same upper": (
        lambda: single("MaxPool", (2, 3, 9, 8), kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
        ["MaxPooling2D"],
    ),
    "maxpool pads = same split": (
        lambda: single("MaxPool", (2, 3, 9, 8), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1]),
        ["MaxPooling2D"],
    ),
    "maxpool pads after relu": (
        lambda: after_relu("MaxPool", (2, 3, 8, 8), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        ["ReLU", "ZeroPadding2D", "MaxPooling2D"],
    ),
    "maxpool ceil same": (
        lambda: single("MaxPool", (2, 3, 9, 7), kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        ["MaxPooling2D"],
    ),
    "maxpool ceil = same": (
        lambda: after_relu("MaxPool", (2, 3, 8, 8), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        ["ReLU", "MaxPooling2D"],
    ),
    "maxpool ceil after relu": (
        lambda: after_relu(
            "MaxPool", (2, 3, 8, 8), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1
        ),
        ["ReLU", "ZeroPadding2D", "MaxPooling2D"],
    ),
    "maxpool same lower after relu": (lambda: after_relu("MaxPool", (2, 3, 9, 8), kernel_shape=[2, 2],
                                                         strides=[2, 2], auto_pad="SAME_LOWER"),
                                      ["ReLU", "ZeroPadding2D", "MaxPooling2D"]),
    "maxpool ceil last window": (lambda: after_relu("MaxPool", (2, 3, 3, 5), kernel_shape=[3, 3],
                                                    strides=[2, 2], pads=[1, 1, 2, 1], ceil_mode=1),
                                 ["ReLU", "ZeroPadding2D", "MaxPooling2D"]),
    "maxpool 1d": (lambda: single("MaxPool", (2, 3, 9), kernel_shape=[3], strides=[2]), ["MaxPooling1D"]),
    "maxpool 3d": (
        lambda: single("MaxPool", (2, 2, 4, 5, 6), kernel_shape=[2, 2, 3], strides=[2, 1, 3]),
        ["MaxPooling3D"],
    ),
    "avgpool valid": (
        lambda: single("AveragePool", (2, 3, 9, 8), kernel_shape=[3, 3], strides=[2, 2]),
        ["AveragePooling2D"],
    ),
    "avgpool include pad": (
        lambda: single(
            "AveragePool",
            (2, 3, 8, 8),
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            count_include_pad=1,
        ),
        ["ZeroPadding2D", "AveragePooling2D"],
    ),
    "avgpool exclude pad = same": (
        lambda: single("AveragePool", (2, 3, 9, 8), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1]),
        ["AveragePooling2D"],
    ),
    "avgpool ceil exclude pad": (
        lambda: single("AveragePool", (2, 3, 9, 7), kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        ["AveragePooling2D"],
    ),
    "global average": (lambda: single("GlobalAveragePool", (2, 3, 5, 4)), ["GlobalAveragePooling2D"]),
    "global max": (lambda: single("GlobalMaxPool", (2, 3, 5, 4)), ["GlobalMaxPooling2D"]),
    "global average 1d": (lambda: single("GlobalAveragePool", (2, 3, 5)), ["GlobalAveragePooling1D"]),
    "reduce mean": (
        lambda: single("ReduceMean", (2, 3, 5, 4), [("axes", np.array([2, 3]))], opset=18),
        ["GlobalAveragePooling2D"],
    ),
    "reduce max no keepdims": (
        lambda: single("ReduceMax", (2, 3, 5, 4), [("axes", np.array([-1, -2]))], opset=18, keepdims=0),
        ["GlobalMaxPooling2D"],
    ),
    "reduce mean opset 13": (
        lambda: single("ReduceMean", (2, 3, 5, 4), opset=13, axes=[2, 3]),
        ["GlobalAveragePooling2D"],
    ),
    # elementwise with constants: Rescaling
    "add per channel": (lambda: single("Add", (2, 3, 4, 4), [("c", rand(1, 3, 1, 1))]), ["Rescaling"]),
    "sub scalar": (lambda: single("Sub", (2, 3, 4, 4), [("c", np.float32(0.5))]), ["Rescaling"]),
    "mul last axis": (lambda: single("Mul", (2, 3, 4, 4), [("c", rand(4))]), ["Rescaling"]),
    "div per channel": (
        lambda: single("Div", (2, 3, 4, 4), [("c", rand(3, 1, 1, positive=True))]),
        ["Rescaling"],
    ),
    # padding
    "pad zeros": (
        lambda: single("Pad", (2, 3, 4, 5), [("p", np.array([0, 0, 1, 2, 0, 0, 2, 0]))]),
        ["ZeroPadding2D"],
    ),
    "pad opset 2 attributes": (
        lambda: single("Pad", (2, 3, 4, 5), opset=10, pads=[0, 0, 1, 0, 0, 0, 0, 3]),
        ["ZeroPadding2D"],
    ),
    "pad negative crops": (
        lambda: single("Pad", (2, 3, 6, 5), [("p", np.array([0, 0, -1, 0, 0, 0, -2, -1]))]),
        ["Cropping2D"],
    ),
    "pad axes": (
        lambda: single(
            "Pad",
            (2, 3, 6, 5),
            [("p", np.array([1, 2])), ("v", np.float32(0)), ("a", np.array([3]))],
            opset=18,
        ),
        ["ZeroPadding2D"],
    ),
    "dropout": (lambda: single("Dropout", (2, 3, 4, 4), [("r", np.float32(0.3))]), ["Dropout"]),
    "dropout opset 10": (lambda: single("Dropout", (2, 3, 4, 4), opset=10, ratio=0.2), ["Dropout"]),
    "squeeze": (
        lambda: model(
            [node("GlobalAveragePool", ["x"], ["g"]), node("Squeeze", ["g", "a"], ["y"])],
            [("x", (2, 3, 4, 4))],
            inits={"a": np.array([2, 3])},
        ),
        ["GlobalAveragePooling2D", "Reshape"],
    ),
    "unsqueeze opset 11": (lambda: single("Unsqueeze", (2, 3, 4), opset=11, axes=[-1, 1]), ["Reshape"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_operator_matches_onnxruntime(tmp_path, case):
    make, layers = CASES[case]
    proto = make()
    x_shape = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    imported(tmp_path, proto, rand(*x_shape), layers=layers)


def test_layers_are_channels_first_with_onnx_padding(tmp_path):
    loaded = imported(tmp_path, CASES["conv pads strides"][0](), rand(2, 3, 9, 8))
    layer = loaded.layers[1]
    assert layer.data_format == "channels_first"
    assert layer.padding == ((1, 2), (0, 1)) and layer.strides == (2, 1)
    assert loaded.input_shape == (None, 3, 9, 8)


def test_conv_kernel_layout_is_keras():
    """ONNX (M, C/g, kh, kw) becomes (kh, kw, C/g, M): each filter is the same array."""
    from convolve.saving.onnx_import_graph import GraphBuilder

    w = rand(4, 3, 3, 2)
    proto = single("Conv", (1, 3, 6, 6), [("w", w)])
    loaded = GraphBuilder(proto, 17, 1 << 16).build()
    kernel = loaded.layers[1].kernel.value
    assert kernel.shape == (3, 2, 3, 4)
    np.testing.assert_array_equal(kernel[..., 1, 2], w[2, 1])


def test_channel_last_weights_of_depthwise():
    """Output channel c * m + j reads channel c: depthwise_kernel[..., c, j] is W[c * m + j, 0]."""
    from convolve.saving.onnx_import_graph import GraphBuilder

    w = rand(6, 1, 3, 3)
    loaded = GraphBuilder(single("Conv", (1, 3, 6, 6), [("w", w)], group=3), 17, 1 << 16).build()
    kernel = loaded.layers[1].depthwise_kernel.value
    assert kernel.shape == (3, 3, 3, 2)
    np.testing.assert_array_equal(kernel[..., 2, 1], w[5, 0])


def test_reflect_and_edge_pads_become_the_conv_padding_mode(tmp_path):
    for mode, expected in (("reflect", "reflect"), ("edge", "replicate")):
        proto = model(
            [node("Pad", ["x", "p"], ["xp"], mode=mode), node("Conv", ["xp", "w"], ["y"])],
            [("x", (2, 3, 6, 7))],
            inits={"p": np.array([0, 0, 2, 1, 0, 0, 1, 2]), "w": rand(4, 3, 3, 3)},
        )
        loaded = imported(tmp_path, proto, rand(2, 3, 6, 7), layers=["Conv2D"])
        assert loaded.layers[1].padding_mode == expected
        assert loaded.layers[1].padding == ((2, 1), (1, 2))


def test_wrap_pad_becomes_circular(tmp_path):
    proto = model(
        [node("Pad", ["x", "p"], ["xp"], mode="wrap"), node("Conv", ["xp", "w"], ["y"])],
        [("x", (2, 3, 6, 7))],
        inits={"p": np.array([0, 0, 1, 1, 0, 0, 1, 1]), "w": rand(4, 3, 3, 3)},
        opset=19,
    )
    loaded = imported(tmp_path, proto, rand(2, 3, 6, 7), layers=["Conv2D"])
    assert loaded.layers[1].padding_mode == "circular"


def flatten_gemm(flatten):
    """conv -> Flatten (or a Reshape to (batch, -1)) -> Gemm(transB) -> y."""
    nodes = [node("Conv", ["x", "w"], ["c"]), *flatten, node("Gemm", ["f", "g", "gb"], ["y"], transB=1)]
    return model(
        nodes,
        [("x", ("N", 3, 6, 5))],
        inits={"w": rand(4, 3, 3, 3), "g": rand(7, 4 * 4 * 3), "gb": rand(7), "shape": np.array([0, -1])},
    )


@pytest.mark.parametrize("flatten", [
    lambda: [node("Flatten", ["c"], ["f"])],
    lambda: [node("Reshape", ["c", "shape"], ["f"])],
    lambda: [node("Flatten", ["c"], ["d"]), node("Dropout", ["d"], ["f"])],
], ids=["Flatten", "Reshape", "Flatten-Dropout"])
def test_flatten_then_dense_gets_its_rows_permuted(tmp_path, flatten):
    """ONNX flattens (C, H, W); convolve's channels_first Flatten gives (H, W, C): the Dense kernel's
    rows are permuted so the model computes the same."""
    proto = flatten_gemm(flatten())
    loaded = imported(tmp_path, proto, rand(3, 3, 6, 5))
    flat = next(layer for layer in loaded.layers if isinstance(layer, L.Flatten))
    assert flat.data_format == "channels_first"
    dense = loaded.layers[-1]
    g = next(t for t in proto.graph.initializer if t.name == "g")
    from onnx import numpy_helper

    onnx_rows = numpy_helper.to_array(g).T  # (C*H*W, 7) in (C, H, W) order
    assert not np.array_equal(dense.kernel.value, onnx_rows)
    np.testing.assert_array_equal(dense.kernel.value[1], onnx_rows[1 * 4 * 3])  # (h0, w0, c1) = row c1*H*W


def test_flatten_read_by_other_layers_keeps_onnx_order(tmp_path):
    proto = model([node("Conv", ["x", "w"], ["c"]), node("Flatten", ["c"], ["y"])], [("x", (2, 3, 6, 5))],
                  inits={"w": rand(4, 3, 3, 3)})
    loaded = imported(tmp_path, proto, rand(2, 3, 6, 5))
    assert loaded.layers[-1].data_format == "channels_last"


def test_reshape_to_rank_3_and_matmul_add_become_reshape_and_dense(tmp_path):
    nodes = [node("Reshape", ["x", "s"], ["r"]), node("MatMul", ["r", "m"], ["mm"]),
             node("Add", ["mm", "bias"], ["y"])]
    proto = model(
        nodes, [("x", ("N", 3, 4, 5))], inits={"s": np.array([0, 3, 20]), "m": rand(20, 6), "bias": rand(6)}
    )
    loaded = imported(tmp_path, proto, rand(2, 3, 4, 5), layers=["Reshape", "Dense"])
    assert loaded.layers[-1].use_bias


def test_matmul_without_add_has_no_bias(tmp_path):
    proto = model([node("MatMul", ["x", "m"], ["y"])], [("x", (2, 5))], inits={"m": rand(5, 3)})
    loaded = imported(tmp_path, proto, rand(2, 5), layers=["Dense"])
    assert not loaded.layers[-1].use_bias


@pytest.mark.parametrize("attrs, c", [
    ({"transB": 1, "alpha": 0.5, "beta": 2.0}, rand(1, 7)),
    ({}, rand(7)),
    ({"beta": 3.0}, np.float32(0.25)),
    ({}, None),
])
def test_gemm(tmp_path, attrs, c):
    b = rand(7, 5) if attrs.get("transB") else rand(5, 7)
    inits = {"b": b} if c is None else {"b": b, "c": c}
    proto = model([node("Gemm", ["x", *inits], ["y"], **attrs)], [("x", (3, 5))], inits=inits)
    imported(tmp_path, proto, rand(3, 5), layers=["Dense"])


def test_merges_of_computed_tensors(tmp_path):
    """A residual Add, a squeeze-and-excite Mul (broadcast over H, W), Sub, Concat."""
    nodes = [
        node("Conv", ["x", "w"], ["a"], pads=[1, 1, 1, 1]),
        node("Add", ["a", "x"], ["s"]),
        node("GlobalAveragePool", ["s"], ["g"]),
        node("Sigmoid", ["g"], ["e"]),
        node("Mul", ["s", "e"], ["m"]),
        node("Sub", ["m", "x"], ["d"]),
        node("Concat", ["d", "m"], ["y"], axis=1),
    ]
    proto = model(nodes, [("x", (2, 3, 5, 5))], inits={"w": rand(3, 3, 3, 3)})
    imported(tmp_path, proto, rand(2, 3, 5, 5), layers=[
        "Conv2D", "Add", "GlobalAveragePooling2D", "Activation", "Multiply", "Subtract", "Concatenate"])


def test_constant_first_operands(tmp_path):
    """c - x and c * x, with the constant first."""
    nodes = [node("Sub", ["c", "x"], ["s"]), node("Mul", ["c", "s"], ["y"])]
    proto = model(nodes, [("x", (2, 3, 4))], inits={"c": rand(3, 1)})
    imported(tmp_path, proto, rand(2, 3, 4), layers=["Rescaling", "Rescaling"])


def test_two_inputs_and_two_outputs(tmp_path):
    nodes = [node("Add", ["a", "b"], ["s"]), node("Relu", ["s"], ["y"]), node("Sigmoid", ["a"], ["z"])]
    proto = model(nodes, [("a", (2, 3, 4, 4)), ("b", (2, 3, 4, 4))], outputs=("y", "z"))
    loaded = imported(tmp_path, proto, rand(2, 3, 4, 4), rand(2, 3, 4, 4))
    assert [t.name for t in loaded.inputs] == ["a", "b"]


# ---- folding --------------------------------------------------------------------------------------


def test_view_with_dynamic_batch_folds_to_a_flatten(tmp_path):
    """x.view(x.size(0), -1) as the TorchScript exporter writes it, with a dynamic batch."""
    nodes = [
        node("Shape", ["x"], ["shape"]),
        node("Constant", [], ["zero"], value_int=0),
        node("Gather", ["shape", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Constant", [], ["minus1"], value_ints=[-1]),
        node("Concat", ["n1", "minus1"], ["target"], axis=0),
        node("Reshape", ["x", "target"], ["f"]),
        node("Gemm", ["f", "g"], ["y"], transB=1),
    ]
    proto = model(nodes, [("x", ("batch", 2, 3, 4))], inits={"axes": np.array([0]), "g": rand(5, 24)})
    loaded = imported(tmp_path, proto, rand(4, 2, 3, 4), layers=["Flatten", "Dense"])
    assert loaded.predict(rand(1, 2, 3, 4), verbose=0).shape == (1, 5)


def test_static_batch_in_a_folded_shape(tmp_path):
    """The dynamo exporter's static (2, 24) target: axis 0 is the graph's declared batch size."""
    proto = model(
        [node("Reshape", ["x", "s"], ["f"]), node("MatMul", ["f", "m"], ["y"])],
        [("x", (2, 2, 3, 4))],
        inits={"s": np.array([2, 24]), "m": rand(24, 5)},
    )
    loaded = imported(tmp_path, proto, rand(2, 2, 3, 4), layers=["Flatten", "Dense"])
    assert loaded.predict(rand(5, 2, 3, 4), verbose=0).shape == (5, 5)


def test_weights_computed_from_constants(tmp_path):
    """Transpose, Cast, Slice, Concat, Constant and arithmetic on initializers become weights."""
    nodes = [
        node("Transpose", ["wt"], ["w1"], perm=[1, 0, 2, 3]),  # stored (C, M, k, k)
        node("Cast", ["w1"], ["w"], to=1),  # float64 -> float32
        node("Slice", ["big_bias", "st", "en", "ax", "step"], ["b"]),  # every other value, reversed
        node("Conv", ["x", "w", "b"], ["c"]),
        node("Constant", [], ["two"], value_float=2.0), node("Mul", ["two", "half"], ["one"]),
        node("Shape", ["c"], ["cs"]), node("Slice", ["cs", "one_i", "end_i"], ["spatial"]),
        node("ConstantOfShape", ["spatial"], ["zeros"]),
        node("Range", ["r0", "r1", "r2"], ["r"]), node("Cast", ["r"], ["rf"], to=1),
        node("Div", ["rf", "ten"], ["offsets"]), node("Add", ["c", "offsets"], ["y0"]),
        node("Sub", ["y0", "zeros"], ["y"]),
    ]
    inits = {
        "wt": rand(3, 4, 3, 3).astype(np.float64),
        "big_bias": rand(8),
        "st": np.array([-1]),
        "en": np.array([-100]),
        "ax": np.array([0]),
        "step": np.array([-2]),
        "half": np.float32(0.5),
        "one_i": np.array([2]),
        "end_i": np.array([4]),
        "r0": np.array(0),
        "r1": np.array(4),
        "r2": np.array(1),
        "ten": np.float32(10),
    }
    proto = model(nodes, [("x", (2, 3, 6, 6))], inits=inits)
    imported(tmp_path, proto, rand(2, 3, 6, 6), layers=["Conv2D", "Rescaling", "Rescaling"])


def test_names_come_from_nodes_sanitised_and_unique(tmp_path):
    nodes = [
        node("Conv", ["input.1", "w"], ["a"], name="/features/features.0/Conv"),
        node("Relu", ["a"], ["b"], name="/features/features_0/Conv"),  # the same name, once sanitised
        node("Relu", ["b"], ["c"], name=""),
        node("Sigmoid", ["c"], ["y"], name="9 bad/../name!"),
    ]
    proto = model(nodes, [("input.1", (1, 3, 5, 5))], inits={"w": rand(2, 3, 3, 3)})
    loaded = imported(tmp_path, proto, rand(1, 3, 5, 5))
    assert [layer.name for layer in loaded.layers] == [
        "input_1", "features_0_Conv", "features_0_Conv_1", "relu", "sigmoid"]


def test_dynamic_spatial_sizes_stay_unknown(tmp_path):
    """A fully convolutional graph with dynamic H and W builds with None there."""
    nodes = [node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), node("Relu", ["c"], ["r"]),
             node("GlobalAveragePool", ["r"], ["y"])]
    proto = model(nodes, [("x", ("N", 3, "H", "W"))], inits={"w": rand(4, 3, 3, 3)})
    loaded = load_model(save(proto, tmp_path / "m.onnx"))
    assert loaded.input_shape == (None, 3, None, None)
    for size in (5, 9):
        x = rand(2, 3, size, size + 1)
        assert relative_error(loaded.predict(x, verbose=0), run(proto, x)[0]) < 1e-5


def test_float64_graph_gives_a_float64_model(tmp_path):
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(3)
    m, c = rng.standard_normal((5, 3)), rng.standard_normal(3)
    graph = helper.make_graph([node("MatMul", ["x", "m"], ["p"]), node("Add", ["p", "c"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", 11, (2, 5))],
                              [helper.make_tensor_value_info("y", 11, None)],
                              initializer=[numpy_helper.from_array(m, "m"), numpy_helper.from_array(c, "c")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    loaded = load_model(save(proto, tmp_path / "m.onnx"))
    x = rng.standard_normal((2, 5))
    got = loaded.predict(x, verbose=0)
    assert got.dtype == np.float64 and loaded.layers[1].kernel.value.dtype == np.float64
    assert relative_error(got, run(proto, x)[0]) < 1e-12


def test_the_onnx_suffix_is_registered_for_loading_only():
    from convolve.saving import known_suffixes

    assert ".onnx" in known_suffixes("load_model")
    assert ".onnx" not in known_suffixes("save_model")
