"""ONNX export (convolve/saving/onnx_export*.py): every layer type, exported, checked by
onnx.checker inside the export, run by ONNX Runtime (CPUExecutionProvider) and compared with
convolve's own ``predict`` (relative error below 1e-5 in float32), in both layouts; Sequential
and functional models; the graph's names, dynamic batch axis and layouts.

Convolution and pooling configurations drawn by hypothesis are in test_onnx_export_conv.py;
refusals and other errors in test_onnx_export_errors.py.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import convolve
from convolve import layers as L
from convolve.models import Model, Sequential
from convolve.saving.onnx_export import to_onnx
from tests.helpers import relative_error

pytestmark = [pytest.mark.onnx, pytest.mark.onnxruntime]

RNG = np.random.default_rng(12)


def randomize(model, seed=0):
    """Every weight random: biases and betas non-zero, variances positive, so each one matters."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        arrays = []
        for w in layer.weights:
            value = rng.normal(size=w.shape).astype(w.dtype)
            if "variance" in w.name or w.name == "count":
                value = np.abs(value) + 0.5
            arrays.append(value)
        if arrays:
            layer.set_weights(arrays)
    return model


def run_onnx(proto, inputs):
    """The outputs ONNX Runtime computes for ``inputs`` (a list, in the graph's input order)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(None, {i.name: x for i, x in zip(session.get_inputs(), inputs)})


def assert_matches(model, *inputs, rtol=1e-5, opset=None):
    """Export, run with ONNX Runtime and compare every output with model.predict; the proto."""
    proto = to_onnx(model, opset=opset)
    got = run_onnx(proto, list(inputs))
    want = model.predict(list(inputs) if len(inputs) > 1 else inputs[0], verbose=0)
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        err = relative_error(g, w)
        assert err < rtol, f"relative error {err:.3e} >= {rtol:.0e}"
    return proto


def ops(proto) -> list:
    return [node.op_type for node in proto.graph.node]


def seq(shape, *layers, seed=0):
    return randomize(Sequential([L.Input(shape), *layers]), seed)


def images(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape).astype(np.float32)


# ---- the classic CNN, the file, names and the batch axis ---------------------------------------


def classic_cnn():
    """The Keras MNIST example's CNN."""
    return Sequential([
        L.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])


def test_the_classic_mnist_cnn_written_with_model_export_runs_from_the_file(tmp_path, capsys):
    import onnx
    import onnxruntime

    model = randomize(classic_cnn(), seed=3)
    path = tmp_path / "mnist.onnx"
    model.export(path)
    assert "Saved the model as ONNX" in capsys.readouterr().out
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == 17
    assert ops(proto) == [
        "Transpose", "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Transpose", "Flatten", "Gemm",
        "Softmax",
    ]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = images(7, 28, 28, 1, low=0.0, high=1.0)
    (got,) = session.run(None, {model.inputs[0].name: x})
    assert relative_error(got, model.predict(x, verbose=0)) < 1e-5
    assert not [p for p in tmp_path.iterdir() if p.name != "mnist.onnx"]  # no part file left


def test_names_dynamic_batch_and_layout_of_inputs_and_outputs():
    model = randomize(Sequential([L.Input((6, 5, 3), name="pixels"), L.Conv2D(4, 3, name="features"),
                                  L.GlobalAveragePooling2D(keepdims=True, name="scores")]))
    proto = assert_matches(model, images(3, 6, 5, 3))
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert graph_input.name == "pixels" and graph_output.name == "scores"
    dims = [(d.dim_param, d.dim_value) for d in graph_input.type.tensor_type.shape.dim]
    assert dims == [("batch", 0), ("", 6), ("", 5), ("", 3)]  # NHWC, as the model takes it
    dims = [(d.dim_param, d.dim_value) for d in graph_output.type.tensor_type.shape.dim]
    assert dims == [("batch", 0), ("", 1), ("", 1), ("", 4)]
    # one session, several batch sizes none of which the model was ever given
    for n in (1, 5, 11):
        x = images(n, 6, 5, 3)
        assert relative_error(run_onnx(proto, [x])[0], model.predict(x, verbose=0)) < 1e-5


def test_a_declared_batch_size_still_exports_a_symbolic_batch_axis():
    model = Sequential([L.Conv2D(2, 3), L.Flatten(), L.Dense(3)])
    model.build((4, 6, 6, 1))
    proto = to_onnx(model)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = images(4, 6, 6, 1)
    want = model.predict(x, verbose=0)
    assert relative_error(run_onnx(proto, [x[:3]])[0], want[:3]) < 1e-5


def test_channels_last_conv_stack_transposes_once_in_and_once_out():
    model = seq(
        (9, 9, 3),
        L.Conv2D(4, 3, padding="same", activation="relu"), L.BatchNormalization(), L.MaxPooling2D(),
        L.Conv2D(6, 3, padding="same"), L.Activation("gelu"), L.Conv2D(5, 1),
    )
    proto = assert_matches(model, images(2, 9, 9, 3))
    assert ops(proto).count("Transpose") == 2
    assert ops(proto)[0] == "Transpose" and ops(proto)[-1] == "Transpose"


def test_channels_first_stack_needs_no_transpose_until_flatten_moves_channels_last():
    model = seq(
        (3, 8, 7),
        L.Conv2D(4, 3, data_format="channels_first", activation="relu"),
        L.BatchNormalization(axis=1),
        L.MaxPooling2D(data_format="channels_first"),
        L.Flatten(data_format="channels_first"),
        L.Dense(5),
    )
    proto = assert_matches(model, images(3, 3, 8, 7))
    assert ops(proto) == ["Conv", "Relu", "BatchNormalization", "MaxPool", "Transpose", "Flatten", "Gemm"]


def test_flatten_after_a_channels_last_stack_keeps_channels_last_order():
    # Dense weights trained on channels_last features must meet the same order in the graph
    model = seq((5, 4, 2), L.Conv2D(3, 2), L.Flatten(), L.Dense(4, use_bias=False))
    proto = assert_matches(model, images(2, 5, 4, 2))
    kernel = next(i for i in proto.graph.initializer if i.name.endswith("/kernel") and len(i.dims) == 2)
    assert list(kernel.dims) == [4 * 3 * 3, 4]  # Keras' (features, units), untouched


# ---- layers, one case each (both layouts where the layer has one) -------------------------------

CF = "channels_first"

LAYER_CASES = {
    # convolutions
    "conv1d_causal": lambda: seq((9, 3), L.Conv1D(4, 3, padding="causal", dilation_rate=2)),
    "conv1d_channels_first": lambda: seq((3, 9), L.Conv1D(4, 3, strides=2, padding="same", data_format=CF)),
    "conv2d_same_stride2": lambda: seq((7, 8, 3), L.Conv2D(4, 3, strides=2, padding="same")),
    "conv2d_same_stride2_cf": lambda: seq(
        (3, 7, 8), L.Conv2D(4, 4, strides=2, padding="same", data_format=CF)
    ),
    "conv2d_dilated_full": lambda: seq((8, 8, 2), L.Conv2D(3, 3, dilation_rate=2, padding="full")),
    "conv2d_pairs": lambda: seq((6, 7, 2), L.Conv2D(3, (2, 3), padding=((0, 2), (3, 1)))),
    "conv2d_groups": lambda: seq((6, 6, 4), L.Conv2D(6, 3, groups=2, padding="same")),
    "conv2d_groups_cf": lambda: seq((4, 6, 6), L.Conv2D(6, 3, groups=2, data_format=CF)),
    "conv2d_no_bias": lambda: seq((6, 6, 2), L.Conv2D(3, 3, use_bias=False)),
    "conv3d": lambda: seq((5, 6, 5, 2), L.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding="same")),
    "conv3d_cf": lambda: seq((2, 5, 6, 5), L.Conv3D(3, 2, data_format=CF)),
    "conv2d_reflect": lambda: seq((6, 7, 2), L.Conv2D(3, 3, padding="same", padding_mode="reflect")),
    "conv2d_replicate_cf": lambda: seq(
        (2, 6, 7), L.Conv2D(3, 3, padding=2, padding_mode="replicate", data_format=CF)
    ),
    "conv2d_reflect_wider_than_input": lambda: seq(
        (3, 4, 2), L.Conv2D(2, 3, padding=4, padding_mode="reflect")
    ),
    "conv1d_reflect_same_stride": lambda: seq(
        (10, 2), L.Conv1D(3, 4, strides=3, padding="same", padding_mode="reflect")
    ),
    "depthwise2d": lambda: seq(
        (7, 7, 3), L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same")
    ),
    "depthwise2d_cf": lambda: seq((3, 7, 7), L.DepthwiseConv2D(3, data_format=CF, activation="relu")),
    "depthwise1d": lambda: seq((9, 2), L.DepthwiseConv1D(3, depth_multiplier=3, dilation_rate=2)),
    "separable2d": lambda: seq((8, 8, 3), L.SeparableConv2D(5, 3, depth_multiplier=2, padding="same")),
    "separable2d_cf": lambda: seq((3, 8, 8), L.SeparableConv2D(4, 3, strides=2, data_format=CF)),
    "separable1d": lambda: seq((9, 3), L.SeparableConv1D(4, 3, use_bias=False)),
    "conv1d_transpose": lambda: seq((5, 3), L.Conv1DTranspose(4, 3, strides=2)),
    "conv2d_transpose_same": lambda: seq((4, 5, 3), L.Conv2DTranspose(4, 3, strides=2, padding="same")),
    "conv2d_transpose_output_padding": lambda: seq(
        (4, 5, 3), L.Conv2DTranspose(2, 4, strides=3, padding="same", output_padding=(2, 1))
    ),
    "conv2d_transpose_valid_output_padding": lambda: seq(
        (4, 4, 2), L.Conv2DTranspose(3, 2, strides=3, output_padding=2)
    ),
    "conv2d_transpose_dilated_cf": lambda: seq(
        (2, 4, 5), L.Conv2DTranspose(3, 3, dilation_rate=2, padding="same", data_format=CF)
    ),
    "conv3d_transpose": lambda: seq((3, 3, 2, 2), L.Conv3DTranspose(2, 2, strides=2)),
    # pooling
    "max_pool2d_same": lambda: seq((7, 6, 3), L.MaxPooling2D(3, strides=2, padding="same")),
    "avg_pool2d_same": lambda: seq((7, 6, 3), L.AveragePooling2D(3, strides=2, padding="same")),
    "avg_pool2d_same_cf": lambda: seq((3, 7, 5), L.AveragePooling2D((2, 3), padding="same", data_format=CF)),
    "max_pool1d": lambda: seq((9, 2), L.MaxPooling1D(3, strides=2)),
    "avg_pool1d_same": lambda: seq((9, 2), L.AveragePooling1D(4, strides=3, padding="same")),
    "max_pool3d_cf": lambda: seq((2, 5, 4, 5), L.MaxPooling3D(2, padding="same", data_format=CF)),
    "avg_pool3d": lambda: seq((5, 4, 5, 2), L.AveragePooling3D(2, strides=(1, 2, 2))),
    "global_avg2d": lambda: seq((5, 6, 3), L.GlobalAveragePooling2D()),
    "global_max2d_keepdims": lambda: seq((5, 6, 3), L.GlobalMaxPooling2D(keepdims=True)),
    "global_avg2d_keepdims_cf": lambda: seq(
        (3, 5, 6), L.GlobalAveragePooling2D(data_format=CF, keepdims=True)
    ),
    "global_max1d": lambda: seq((7, 3), L.GlobalMaxPooling1D()),
    "global_avg3d_cf": lambda: seq((2, 3, 4, 3), L.GlobalAveragePooling3D(data_format=CF)),
    "global_max3d": lambda: seq((3, 4, 3, 2), L.GlobalMaxPooling3D()),
    # normalization and dense
    "batch_norm_after_conv": lambda: seq((6, 6, 3), L.Conv2D(4, 3), L.BatchNormalization()),
    "batch_norm_channels_last_input": lambda: seq((5, 4, 3), L.BatchNormalization(epsilon=0.1)),
    "batch_norm_axis2_no_scale_center": lambda: seq(
        (5, 4, 3), L.BatchNormalization(axis=2, center=False, scale=False)
    ),
    "batch_norm_vectors": lambda: seq((6,), L.BatchNormalization()),
    "dense": lambda: seq((6,), L.Dense(4, activation="tanh")),
    "dense_no_bias": lambda: seq((6,), L.Dense(4, use_bias=False)),
    "dense_on_sequences": lambda: seq((5, 6), L.Dense(3, activation="sigmoid")),
    "dense_per_pixel_after_conv_cf": lambda: seq((3, 5, 5), L.Conv2D(4, 3, data_format=CF), L.Dense(2)),
    # reshaping
    "flatten_vectors": lambda: seq((5, 3), L.Flatten(), L.Dense(2)),
    "reshape": lambda: seq((4, 6), L.Reshape((3, -1)), L.Dense(2)),
    "reshape_after_conv": lambda: seq((6, 6, 2), L.Conv2D(4, 3), L.Reshape((-1, 4)), L.Dense(2)),
    "zero_padding2d": lambda: seq((4, 5, 2), L.ZeroPadding2D(((1, 2), (0, 3))), L.Conv2D(2, 2)),
    "zero_padding2d_cf": lambda: seq((2, 4, 5), L.ZeroPadding2D(2, data_format=CF)),
    "zero_padding1d": lambda: seq((5, 2), L.ZeroPadding1D((2, 1))),
    "zero_padding3d": lambda: seq((3, 3, 3, 1), L.ZeroPadding3D(((1, 0), (0, 1), (2, 2)))),
    "cropping2d_after_conv": lambda: seq((7, 8, 2), L.Conv2D(3, 2), L.Cropping2D(((1, 0), (2, 1)))),
    "cropping2d_cf": lambda: seq((2, 7, 8), L.Cropping2D(((0, 2), (1, 1)), data_format=CF)),
    "cropping1d": lambda: seq((7, 2), L.Cropping1D((2, 0))),
    "cropping3d": lambda: seq((5, 5, 5, 1), L.Cropping3D(1)),
    "upsampling2d": lambda: seq((3, 4, 2), L.Conv2D(2, 1), L.UpSampling2D((2, 3))),
    "upsampling2d_cf": lambda: seq((2, 3, 4), L.UpSampling2D(3, data_format=CF)),
    "upsampling1d": lambda: seq((4, 2), L.UpSampling1D(3)),
    "upsampling3d": lambda: seq((2, 3, 2, 1), L.UpSampling3D((1, 2, 3))),
    "permute": lambda: seq((4, 5, 3), L.Permute((2, 1, 3))),
    "permute_on_sequences": lambda: seq((4, 6), L.Permute((2, 1)), L.Dense(3)),
    "permute_after_conv_cf": lambda: seq((2, 6, 5), L.Conv2D(3, 2, data_format=CF), L.Permute((3, 1, 2))),
    # activation layers
    "relu_layer_max": lambda: seq((6,), L.ReLU(max_value=0.5)),
    "relu_layer_slope": lambda: seq((6,), L.ReLU(negative_slope=0.2)),
    "relu_layer_threshold": lambda: seq((6,), L.ReLU(threshold=0.4)),
    "relu_layer_all": lambda: seq((6,), L.ReLU(max_value=1.2, negative_slope=0.3, threshold=0.5)),
    "leaky_relu_layer": lambda: seq((6,), L.LeakyReLU()),
    "softmax_layer_axis1": lambda: seq((4, 5), L.Softmax(axis=1)),
    "softmax_layer_two_axes": lambda: seq((3, 4, 2), L.Softmax(axis=(1, 2))),
    "softmax_after_channels_last_conv": lambda: seq((5, 5, 2), L.Conv2D(3, 3, activation="softmax")),
    "dropout": lambda: seq((6,), L.Dropout(0.5), L.Dense(2)),
    # preprocessing and augmentation at inference
    "rescaling": lambda: seq((4, 4, 3), L.Rescaling(1 / 127.5, offset=-1.0)),
    "rescaling_per_channel_after_conv": lambda: seq(
        (5, 5, 2), L.Conv2D(3, 2), L.Rescaling([1.0, 2.0, -0.5], offset=[0.0, 0.1, 0.2])
    ),
    "normalization_given": lambda: seq(
        (4, 4, 3), L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 4.0, 0.25])
    ),
    "normalization_invert_no_axis": lambda: seq(
        (4, 4, 3), L.Normalization(axis=None, mean=2.0, variance=9.0, invert=True)
    ),
    "normalization_adapted_two_axes": lambda: seq((4, 5, 3), L.Normalization(axis=(1, -1))),
    "resizing_bilinear": lambda: seq((5, 7, 2), L.Resizing(8, 4)),
    "resizing_bilinear_cf": lambda: seq((2, 5, 7), L.Resizing(3, 9, data_format=CF)),
    "resizing_nearest": lambda: seq((140, 5, 1), L.Resizing(42, 7, interpolation="nearest")),
    "resizing_bicubic": lambda: seq((6, 5, 2), L.Resizing(9, 3, interpolation="bicubic")),
    "resizing_lanczos_antialias": lambda: seq(
        (12, 9, 1), L.Resizing(5, 4, interpolation="lanczos3", antialias=True)
    ),
    "resizing_crop_to_aspect": lambda: seq((6, 9, 2), L.Resizing(4, 4, crop_to_aspect_ratio=True)),
    "resizing_pad_to_aspect": lambda: seq(
        (6, 9, 2), L.Resizing(5, 5, pad_to_aspect_ratio=True, fill_value=0.5)
    ),
    "center_crop": lambda: seq((7, 8, 2), L.CenterCrop(4, 5)),
    "center_crop_smaller_image_cf": lambda: seq((2, 4, 8), L.CenterCrop(6, 5, data_format=CF)),
    "random_crop_at_inference": lambda: seq((7, 8, 2), L.RandomCrop(3, 6)),
    "augmentation_at_inference": lambda: seq(
        (6, 6, 3),
        L.RandomFlip(),
        L.RandomRotation(0.2),
        L.RandomZoom(0.2),
        L.RandomTranslation(0.1, 0.1),
        L.RandomContrast(0.3),
        L.RandomBrightness(0.2),
        L.Conv2D(2, 3),
    ),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_matches_predict(case):
    model = LAYER_CASES[case]()
    if any(isinstance(layer, L.Normalization) and layer.input_mean is None for layer in model.layers):
        norm = next(layer for layer in model.layers if isinstance(layer, L.Normalization))
        norm.adapt(images(20, *model.input_shape[1:]) * 3 + 1)
    shape = model.input_shape[1:]
    assert_matches(model, images(3, *shape))


def test_permute_is_one_transpose_with_the_one_a_convolution_needs():
    """Permute((3, 1, 2)) moves a channels_last input's channels first, which the channels_first
    convolution needs: the graph holds one Transpose for both (and none of Permute's own)."""
    model = seq((6, 5, 3), L.Permute((3, 1, 2)), L.Conv2D(2, 3, data_format=CF))
    proto = assert_matches(model, images(2, 6, 5, 3))
    assert ops(proto) == ["Transpose", "Conv"]
    transpose = proto.graph.node[0]
    assert [list(a.ints) for a in transpose.attribute] == [[0, 3, 1, 2]]
    identity = seq((4, 3), L.Permute((1, 2)))  # the output is the input: an Identity names it
    assert ops(assert_matches(identity, images(2, 4, 3))) == ["Identity"]
    # a channels_last conv and a Permute to channels first read the same NCHW Transpose of x
    x = L.Input((5, 5, 2))
    a = L.Conv2D(2, 3, padding="same")(x)
    b = L.Conv2D(2, 3, padding="same", data_format=CF)(L.Permute((3, 1, 2))(x))
    proto = assert_matches(randomize(Model(x, [a, b])), images(2, 5, 5, 2))
    assert ops(proto).count("Transpose") == 2  # x to NCHW once, a back to NHWC


def test_padding_modes_use_pad_nodes_and_circular_needs_opset_19():
    reflect = seq((6, 7, 2), L.Conv2D(3, 3, padding="same", padding_mode="reflect"))
    proto = assert_matches(reflect, images(2, 6, 7, 2))
    assert proto.opset_import[0].version == 17
    pad = next(n for n in proto.graph.node if n.op_type == "Pad")
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    assert pad.attribute[0].s == b"reflect"
    assert [list(a.ints) for a in conv.attribute if a.name == "pads"] == [[0, 0, 0, 0]]

    circular = seq((5, 6, 2), L.Conv2D(3, 3, strides=2, padding="same", padding_mode="circular"))
    proto = assert_matches(circular, images(2, 5, 6, 2))
    assert proto.opset_import[0].version == 19
    assert b"wrap" in [a.s for n in proto.graph.node if n.op_type == "Pad" for a in n.attribute]
    # at opset 17 (asked for) the wrap becomes a Gather of the wrapped indices: the same numbers
    proto = assert_matches(circular, images(2, 5, 6, 2), opset=17)
    assert "Pad" not in ops(proto) and ops(proto).count("Gather") == 2


def test_same_padding_with_strides_is_explicit_and_asymmetric():
    model = seq((7, 7, 1), L.Conv2D(1, 4, strides=3, padding="same"), L.MaxPooling2D(2, padding="same"))
    proto = assert_matches(model, images(2, 7, 7, 1))
    conv, pool = (n for n in proto.graph.node if n.op_type in ("Conv", "MaxPool"))
    attrs = {a.name: list(a.ints) for a in conv.attribute if a.ints}
    assert attrs["pads"] == [1, 1, 2, 2]  # out 3, total (3 - 1) * 3 + 4 - 7 = 3: the odd pixel after
    assert not any(a.name == "auto_pad" for n in (conv, pool) for a in n.attribute)
    assert {a.name: list(a.ints) for a in pool.attribute if a.ints}["pads"] == [0, 0, 1, 1]


# ---- activations: every built-in name, as Dense's activation and as an Activation layer -----------

ACTIVATIONS = sorted(convolve.activations.ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_matches(name):
    x = images(4, 3, 6, low=-6.0, high=6.0)  # both sides of every bend, and the saturated ends
    model = seq((3, 6), L.Dense(5, activation=name), L.Activation(name))
    assert_matches(model, x)


@pytest.mark.parametrize(
    "keywords",
    [{"approximate": True}, {"approximate": False}],
    ids=["tanh", "erf"],
)
def test_gelu_forms_through_partial(keywords):
    x = images(3, 8, low=-8.0, high=8.0)
    model = seq((8,), L.Activation(functools.partial(convolve.activations.gelu, **keywords)))
    proto = assert_matches(model, x)
    assert ("Tanh" in ops(proto)) == keywords["approximate"] and ("Erf" in ops(proto)) != keywords[
        "approximate"
    ]


@pytest.mark.parametrize(
    "function, keywords",
    [
        ("relu", {"max_value": 3.0, "threshold": 0.5, "negative_slope": 0.25}),
        ("leaky_relu", {"negative_slope": 0.05}),
        ("elu", {"alpha": 2.5}),
        ("softmax", {"axis": 1}),
    ],
)
def test_activation_keywords_through_partial(function, keywords):
    fn = functools.partial(getattr(convolve.activations, function), **keywords)
    model = seq((4, 5), L.Dense(5, activation=fn))
    assert_matches(model, images(3, 4, 5, low=-4.0, high=4.0))


# ---- merging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"])
def test_merging_layers_across_layouts(merge):
    """One branch held channels first (after a conv), the other as the model's input."""
    x = L.Input((5, 5, 2))
    conv = L.Conv2D(2, 3, padding="same")(x)
    inputs = [conv, x] if merge == "Subtract" else [conv, x, L.ReLU()(x)]
    model = randomize(Model(x, getattr(L, merge)()(inputs)))
    assert_matches(model, images(3, 5, 5, 2))


def test_merging_lower_rank_inputs_broadcast_after_the_batch_axis():
    a, b = L.Input((4, 3)), L.Input((3,))
    model = Model([a, b], [L.Add()([a, b]), L.Maximum()([b, a])])
    assert_matches(model, images(2, 4, 3), images(2, 3))


@pytest.mark.parametrize("axis", [-1, 1, 2, 3])
def test_concatenate_on_every_axis(axis):
    x = L.Input((4, 4, 2))
    conv = L.Conv2D(2, 1)(x)
    model = randomize(Model(x, L.Concatenate(axis=axis)([conv, x, conv])))
    assert_matches(model, images(2, 4, 4, 2))


# ---- functional models ------------------------------------------------------------------------


def test_residual_block():
    x = L.Input((8, 8, 3), name="image")
    h = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    h = L.BatchNormalization()(h)
    shortcut = L.Conv2D(8, 1)(x)
    h = L.Conv2D(8, 3, padding="same")(h)
    h = L.ReLU()(L.Add()([h, shortcut]))
    y = L.Dense(4, activation="softmax", name="probabilities")(L.GlobalAveragePooling2D()(h))
    model = randomize(Model(x, y))
    proto = assert_matches(model, images(5, 8, 8, 3))
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    assert ops(proto).count("Transpose") == 1  # in; global pooling leaves (batch, channels)


def test_multi_input_multi_output_channels_first():
    image = L.Input((3, 8, 8), name="image")
    extra = L.Input((5,), name="extra")
    h = L.Conv2D(4, 3, data_format=CF, activation="relu")(image)
    h = L.MaxPooling2D(data_format=CF)(h)
    features = L.Flatten(data_format=CF)(h)
    joined = L.Concatenate()([features, L.Dense(6)(extra)])
    label = L.Dense(3, activation="softmax", name="label")(joined)
    box = L.Dense(4, name="box")(joined)
    model = randomize(Model([image, extra], [label, box]))
    proto = assert_matches(model, images(4, 3, 8, 8), images(4, 5))
    assert [i.name for i in proto.graph.input] == ["image", "extra"]
    assert [o.name for o in proto.graph.output] == ["label", "box"]


def test_a_shared_layer_an_input_as_output_and_one_tensor_twice():
    x = L.Input((6,), name="x")
    dense = L.Dense(6, name="shared")
    once = dense(x)
    twice = dense(once)
    model = randomize(Model(x, [once, twice, x, twice]))
    proto = assert_matches(model, images(3, 6))
    assert [o.name for o in proto.graph.output] == ["shared", "shared_1", "x_1", "shared_2"]


def test_functional_and_sequential_give_the_same_graph():
    layers = [L.Conv2D(3, 3, name="c"), L.Flatten(name="f"), L.Dense(2, name="d")]
    sequential = randomize(Sequential([L.Input((5, 5, 1), name="in"), *layers]))
    x = L.Input((5, 5, 1), name="in")
    functional = Model(x, layers[2](layers[1](layers[0](x))))
    assert ops(to_onnx(sequential)) == ops(to_onnx(functional))
    data = images(2, 5, 5, 1)
    assert np.array_equal(run_onnx(to_onnx(sequential), [data])[0], run_onnx(to_onnx(functional), [data])[0])


def test_open_spatial_sizes_export_where_the_pads_do_not_depend_on_them():
    model = seq(
        (None, None, 3),
        L.Conv2D(4, 3, padding="same", padding_mode="reflect"), L.MaxPooling2D(3, strides=1, padding="same"),
        L.Conv2D(4, 3, strides=2), L.Conv2DTranspose(2, 3, strides=2, padding="same"),
        L.ZeroPadding2D(1), L.Cropping2D(((1, 0), (0, 2))), L.UpSampling2D(2), L.GlobalAveragePooling2D(),
    )
    proto = to_onnx(model)
    for size in ((9, 11), (16, 7)):
        x = images(2, *size, 3)
        assert relative_error(run_onnx(proto, [x])[0], model.predict(x, verbose=0)) < 1e-5


# ---- dtypes and opsets --------------------------------------------------------------------------


def test_float64_model_exports_as_double():
    """ONNX Runtime's CPU provider has no double Conv, so onnx's reference evaluator runs it
    (not gelu: the evaluator's Erf rounds to float32)."""
    from onnx import TensorProto
    from onnx.reference import ReferenceEvaluator

    model = randomize(Sequential([
        L.Input((6, 6, 2), dtype="float64"),
        L.Conv2D(3, 3, padding="same", activation="selu", dtype="float64"),
        L.BatchNormalization(dtype="float64"),
        L.AveragePooling2D(2, padding="same", dtype="float64"),
        L.Flatten(dtype="float64"),
        L.Dense(4, activation="mish", dtype="float64"),
        L.LeakyReLU(0.1, dtype="float64"),
        L.Activation("elu", dtype="float64"),
        L.Dense(3, activation="hard_silu", dtype="float64"),
    ]))
    proto = to_onnx(model)
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    assert proto.graph.output[0].type.tensor_type.elem_type == TensorProto.DOUBLE
    assert all(
        i.data_type == TensorProto.DOUBLE for i in proto.graph.initializer if i.data_type != TensorProto.INT64
    )
    x = RNG.normal(size=(3, 6, 6, 2))
    (got,) = ReferenceEvaluator(proto).run(None, {proto.graph.input[0].name: x})
    assert got.dtype == np.float64
    assert relative_error(got, model.predict(x, verbose=0)) < 1e-12


def test_float16_model_exports_as_float16():
    from onnx import TensorProto

    model = randomize(Sequential([
        L.Input((6, 6, 2), dtype="float16"),
        L.Conv2D(3, 3, activation="elu", dtype="float16"),
        L.Flatten(dtype="float16"),
        L.Dense(2, activation="softmax", dtype="float16"),
    ]))
    proto = assert_matches(model, images(3, 6, 6, 2).astype(np.float16), rtol=1e-3)
    assert proto.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT16


def test_a_float64_layer_inside_a_float32_model_casts():
    model = seq((4,), L.Dense(3, dtype="float64"), L.Dense(2))
    proto = assert_matches(model, images(2, 4))
    assert ops(proto).count("Cast") == 2


@pytest.mark.parametrize("opset", [17, 18, 19, 20, 21])
def test_every_opset_that_can_be_asked_for(opset):
    model = seq(
        (6, 6, 2), L.Conv2D(3, 3, padding="same", padding_mode="circular"), L.Softmax(axis=(1, 2)),
        L.Resizing(4, 5), L.GlobalMaxPooling2D(),
    )
    proto = assert_matches(model, images(2, 6, 6, 2), opset=opset)
    assert proto.opset_import[0].version == opset
