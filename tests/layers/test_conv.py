"""Conv layers: Keras arguments and defaults, shapes, weights, errors, and values
against a plain-loop reference (the op itself is checked in tests/ops/test_conv_*.py)."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.layers import (
    Conv1D,
    Conv2D,
    Conv3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
    clear_session,
)
from convolve.ops.shapes import FieldStep
from tests.helpers import assert_close, requires_torch, torch


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def loop_conv(x, kernel, strides, dilation, groups=1):
    """Plain-loop 'valid' cross-correlation, channels_last, any rank."""
    n = kernel.ndim - 2
    batch, *size, channels = x.shape
    filters = kernel.shape[-1]
    cg, fg = channels // groups, filters // groups
    out = [(size[a] - dilation[a] * (kernel.shape[a] - 1) - 1) // strides[a] + 1 for a in range(n)]
    y = np.zeros((batch, *out, filters))
    for b in range(batch):
        for o in itertools.product(*(range(v) for v in out)):
            for f in range(filters):
                g = f // fg
                total = 0.0
                for t in itertools.product(*(range(k) for k in kernel.shape[:n])):
                    pos = tuple(o[a] * strides[a] + t[a] * dilation[a] for a in range(n))
                    for c in range(cg):
                        total += x[(b, *pos, g * cg + c)] * kernel[(*t, c, f)]
                y[(b, *o, f)] = total
    return y


# ---- Keras defaults and names --------------------------------------------------------


def test_keras_defaults_and_names():
    layer = Conv2D(4, 3)
    assert layer.name == "conv2d"
    assert Conv2D(4, 3).name == "conv2d_1"
    assert layer.kernel_size == (3, 3) and layer.strides == (1, 1) and layer.dilation_rate == (1, 1)
    assert layer.padding == "valid" and layer.data_format == "channels_last" and layer.groups == 1
    assert layer.use_bias and layer.activation.__name__ == "linear"
    assert DepthwiseConv2D(3).name == "depthwise_conv2d"
    assert SeparableConv1D(2, 3).name == "separable_conv1d"


def test_builds_lazily_with_glorot_kernel_and_zero_bias():
    layer = Conv2D(8, (3, 5))
    assert not layer.built and layer.weights == []
    layer(np.zeros((1, 10, 10, 4)))
    assert layer.built
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 5, 4, 8) and kernel.dtype == np.float32
    limit = np.sqrt(6.0 / (3 * 5 * 4 + 3 * 5 * 8))  # glorot_uniform
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > limit / 2
    assert np.all(bias == 0)


def test_weight_layouts_match_keras():
    x = np.zeros((1, 9, 9, 6))
    conv = Conv2D(4, 3, groups=2)
    conv(x)
    assert [w.shape for w in conv.get_weights()] == [(3, 3, 3, 4), (4,)]
    dw = DepthwiseConv2D(3, depth_multiplier=2)
    dw(x)
    assert [w.shape for w in dw.get_weights()] == [(3, 3, 6, 2), (12,)]
    sep = SeparableConv2D(5, 3, depth_multiplier=2)
    sep(x)
    assert [w.name for w in sep.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert [w.shape for w in sep.get_weights()] == [(3, 3, 6, 2), (1, 1, 12, 5), (5,)]
    assert Conv3D(2, 3, use_bias=False)(np.zeros((1, 4, 4, 4, 1))).shape == (1, 2, 2, 2, 2)


# ---- values --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_layer_matches_loop_reference(dtype):
    rng = np.random.default_rng(1)
    layer = Conv2D(4, (3, 2), strides=(2, 1), dilation_rate=(1, 2), groups=2, dtype=dtype.__name__)
    x = rng.standard_normal((2, 7, 8, 6))
    y = layer(x)
    assert y.dtype == dtype
    kernel, bias = layer.get_weights()
    expected = (
        loop_conv(x.astype(dtype).astype(np.float64), kernel.astype(np.float64), (2, 1), (1, 2), 2) + bias
    )
    assert_close(y, expected, dtype)


@pytest.mark.parametrize("layer_cls,rank", [(DepthwiseConv1D, 1), (DepthwiseConv2D, 2)])
def test_depthwise_matches_loop_reference(layer_cls, rank):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, *(6,) * rank, 3))
    layer = layer_cls(3, depth_multiplier=2, dtype="float64", bias_initializer="random_normal")
    y = layer(x)
    dk, bias = layer.get_weights()
    # channel c, multiplier j -> output channel c * 2 + j
    expected = np.zeros_like(y)
    for c in range(3):
        for j in range(2):
            single = loop_conv(x[..., c : c + 1], dk[..., c : c + 1, j : j + 1], (1,) * rank, (1,) * rank)
            expected[..., c * 2 + j] = single[..., 0] + bias[c * 2 + j]
    assert_close(y, expected)


@pytest.mark.parametrize("layer_cls,rank", [(SeparableConv1D, 1), (SeparableConv2D, 2)])
def test_separable_is_depthwise_then_pointwise(layer_cls, rank):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, *(7,) * rank, 3))
    layer = layer_cls(4, 3, strides=2, depth_multiplier=2, dtype="float64", bias_initializer="ones")
    y = layer(x)
    dk, pk, bias = layer.get_weights()
    depth = np.zeros((2, *(3,) * rank, 6))
    for c in range(3):
        for j in range(2):
            depth[..., c * 2 + j] = loop_conv(
                x[..., c : c + 1], dk[..., c : c + 1, j : j + 1], (2,) * rank, (1,) * rank
            )[..., 0]
    expected = depth @ pk.reshape(6, 4) + bias
    assert_close(y, expected)


def test_activation_is_applied():
    layer = Conv1D(
        2,
        1,
        activation="relu",
        kernel_initializer="ones",
        bias_initializer=lambda s, dtype: np.array([-1.0, 1.0], dtype),
    )
    y = layer(np.array([[[0.5], [2.0]]]))
    np.testing.assert_allclose(y, [[[0.0, 1.5], [1.0, 3.0]]])


def test_channels_first_equals_channels_last():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 9, 9, 3))
    last = Conv2D(5, 3, strides=2, padding="same", dtype="float64")
    first = Conv2D(5, 3, strides=2, padding="same", data_format="channels_first", dtype="float64")
    y_last = last(x)
    first(np.moveaxis(x, -1, 1))
    first.set_weights(last.get_weights())
    assert_close(np.moveaxis(first(np.moveaxis(x, -1, 1)), 1, -1), y_last)


def test_padding_modes_and_strided_dilated_same():
    x = np.arange(25.0).reshape(1, 5, 5, 1)
    layer = Conv2D(1, 3, padding="same", padding_mode="replicate", kernel_initializer="ones", dtype="float64")
    y = layer(x)
    assert y.shape == (1, 5, 5, 1)
    # top-left: rows/cols clamped -> [[0,0,1],[0,0,1],[5,5,6]]
    assert y[0, 0, 0, 0] == 0 + 0 + 1 + 0 + 0 + 1 + 5 + 5 + 6
    both = Conv2D(1, 3, strides=2, dilation_rate=2, padding="same")  # Keras refuses this pair; we do not
    assert both(np.zeros((1, 9, 9, 1))).shape == (1, 5, 5, 1)


def test_integer_input_becomes_float32_and_input_is_not_modified():
    x = np.ones((1, 5, 5, 2), dtype=np.int64)
    before = x.copy()
    y = Conv2D(1, 3)(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(x, before)


@given(
    rank=st.integers(1, 3),
    size=st.integers(3, 9),
    k=st.integers(1, 3),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same", "full", 1]),
    channels_first=st.booleans(),
)
def test_compute_output_shape_matches_call(rank, size, k, s, d, padding, channels_first):
    cls = [Conv1D, Conv2D, Conv3D][rank - 1]
    fmt = "channels_first" if channels_first else "channels_last"
    layer = cls(2, k, strides=s, dilation_rate=d, padding=padding, data_format=fmt)
    shape = (2, 3, *(size,) * rank) if channels_first else (2, *(size,) * rank, 3)
    try:
        expected = layer.compute_output_shape(shape)
    except ValueError as e:
        assert "output would be empty" in str(e)
        return
    assert layer(np.zeros(shape)).shape == expected
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *expected[1:])


# ---- errors: every message -------------------------------------------------------------


def test_wrong_rank():
    with pytest.raises(
        ValueError, match=r"Conv2D 'conv2d' is incompatible with the layer: expected ndim=4, found ndim=3"
    ):
        Conv2D(1, 3)(np.zeros((8, 8, 1)))


def test_channel_count_differs_from_built_layer():
    layer = Conv2D(1, 3)
    layer(np.zeros((1, 8, 8, 1)))
    with pytest.raises(
        ValueError,
        match=r"expected axis 3 of input shape to have value 1, but received input with shape \(1, 8, 8, 3\)",
    ):
        layer(np.zeros((1, 8, 8, 3)))


def test_output_below_one_shows_arithmetic():
    with pytest.raises(ValueError, match="height: input 3, kernel 5, padding valid → output -1"):
        Conv2D(1, 5)(np.zeros((1, 3, 9, 1)))
    layer = Conv2D(1, 5)
    with pytest.raises(ValueError, match="width: input 2, kernel 5"):
        layer.compute_output_shape((None, 9, 2, 1))
    assert not layer.built


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"strides": 0}, r"`strides` argument must contain only positive integers. Received: strides=0"),
        ({"strides": 1.5}, r"`strides` argument must be an int or a tuple of 2 ints. Received: strides=1.5"),
        ({"strides": (1, 2, 3)}, r"tuple of 2 ints. Received: strides=\(1, 2, 3\)"),
        (
            {"dilation_rate": -1},
            r"`dilation_rate` argument must contain only positive integers. Received: dilation_rate=-1",
        ),
        (
            {"kernel_size": 0},
            r"`kernel_size` argument must contain only positive integers. Received: kernel_size=0",
        ),
        ({"kernel_size": (2.0, 2)}, r"Received: kernel_size=\(2.0, 2\)"),
        (
            {"padding": "sam"},
            r"`padding` argument must be one of \{'valid', 'same', 'causal', 'full'\}. Received: "
            r"padding='sam'",
        ),
        ({"padding": "causal"}, r"padding='causal' is only for 1-D convolutions"),
        (
            {"padding_mode": "mirror"},
            r"`padding_mode` argument must be one of \{'zeros', 'reflect', 'replicate', 'circular'\}. "
            r"Received: padding_mode='mirror'",
        ),
        ({"data_format": "NHWC"}, r"`data_format` argument must be one of"),
        ({"filters": 0}, r"`filters` argument must be a positive integer. Received: filters=0"),
        (
            {"groups": 3},
            r"number of filters must be divisible by the number of groups. Received: filters=4, groups=3",
        ),
        ({"activation": "swishy"}, r"swishy"),
        ({"kernel_initializer": "glorot"}, r"unknown initializer"),
        ({"foo": 1}, r"Unrecognized keyword argument\(s\) passed to Conv2D: \['foo'\]"),
    ],
)
def test_bad_arguments_raise_at_construction(kwargs, match):
    args = {"filters": 4, "kernel_size": 3, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        Conv2D(**args)


def test_input_channels_not_divisible_by_groups():
    with pytest.raises(
        ValueError,
        match=r"input channels must be divisible by the number of groups. Received: input channels=3, "
        r"groups=2",
    ):
        Conv2D(4, 3, groups=2)(np.zeros((1, 5, 5, 3)))


def test_non_numeric_input():
    with pytest.raises(
        TypeError, match=r"Layer Conv1D 'conv1d' expected a numeric array .* Received: inputs with dtype=<U1"
    ):
        Conv1D(1, 3)(np.array([[["a"]] * 5]))
    with pytest.raises(TypeError, match="numeric array"):
        Conv1D(1, 3)([[[None]] * 5])


def test_set_weights_errors_name_both_shapes():
    layer = Conv1D(1, 3, input_shape=(8, 1))
    layer(np.zeros((1, 8, 1)))
    with pytest.raises(
        ValueError, match=r"weight 'kernel' has shape \(3, 1, 1\). Received: an array of shape \(3, 1\)"
    ):
        layer.set_weights([np.zeros((3, 1)), np.zeros(1)])
    with pytest.raises(
        ValueError,
        match=r"set_weights expected a list of 2 arrays \(kernel, bias\). Received: a list of 1 arrays",
    ):
        layer.set_weights([np.zeros((3, 1, 1))])
    kernel_before = layer.get_weights()[0]
    with pytest.raises(ValueError):
        layer.set_weights([np.ones((3, 1, 1)), np.zeros(2)])  # second bad: first must not be applied
    np.testing.assert_array_equal(layer.get_weights()[0], kernel_before)


def test_get_weights_returns_copies():
    layer = Conv1D(1, 3)
    layer(np.zeros((1, 8, 1)))
    w = layer.get_weights()
    w[0][...] = 7
    assert not np.any(layer.get_weights()[0] == 7)


# ---- against PyTorch -------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("groups,multiplier", [(1, None), (3, None), (None, 2)])
def test_against_torch(groups, multiplier):
    t = torch()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 10, 11, 6))
    if multiplier:
        layer = DepthwiseConv2D(
            3, strides=2, depth_multiplier=multiplier, dtype="float64", bias_initializer="random_normal"
        )
    else:
        layer = Conv2D(
            6,
            3,
            strides=(1, 2),
            dilation_rate=(2, 1),
            groups=groups,
            dtype="float64",
            bias_initializer="random_normal",
        )
    y = layer(x)
    kernel, bias = layer.get_weights()
    if multiplier:
        weight = kernel.reshape(3, 3, 1, 12)
        g, stride, dil = 6, 2, 1
    else:
        weight, g, stride, dil = kernel, groups, (1, 2), (2, 1)
    ref = t.nn.functional.conv2d(
        t.tensor(x).permute(0, 3, 1, 2), t.tensor(weight).permute(3, 2, 0, 1), t.tensor(bias),
        stride=stride, dilation=dil, groups=g,
    ).permute(0, 2, 3, 1)
    assert_close(y, ref.numpy())


# ---- transposed convolutions -------------------------------------------------------------

from convolve.autograd import GradientTape  # noqa: E402
from convolve.layers import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose  # noqa: E402
from convolve.ops.conv import conv_transpose_backward  # noqa: E402
from tests.ops.test_conv_transposed import loop_conv_transpose  # noqa: E402

TRANSPOSED = [Conv1DTranspose, Conv2DTranspose, Conv3DTranspose]


def test_transpose_keras_defaults_names_and_weights():
    layer = Conv2DTranspose(4, 3)
    assert layer.name == "conv2d_transpose" and Conv1DTranspose(1, 2).name == "conv1d_transpose"
    assert layer.kernel_size == (3, 3) and layer.strides == (1, 1) and layer.dilation_rate == (1, 1)
    assert layer.padding == "valid" and layer.output_padding is None and layer.data_format == "channels_last"
    assert layer.use_bias and layer.activation.__name__ == "linear"
    assert not layer.built
    layer(np.zeros((1, 5, 5, 6)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 4, 6) and kernel.dtype == np.float32  # (*kernel_size, filters, in_channels)
    limit = np.sqrt(6.0 / (3 * 3 * 4 + 3 * 3 * 6))
    assert np.abs(kernel).max() <= limit and np.all(bias == 0)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert Conv3DTranspose(2, 2, use_bias=False)(np.zeros((1, 2, 2, 2, 3))).shape == (1, 3, 3, 3, 2)


@pytest.mark.parametrize(
    "layer,input_shape,expected",
    [
        (lambda: Conv2DTranspose(1, 3, strides=2), (1, 4, 4, 1), (1, 9, 9, 1)),
        (lambda: Conv2DTranspose(1, 3, strides=2, padding="same"), (1, 4, 4, 1), (1, 8, 8, 1)),
        (
            lambda: Conv2DTranspose(2, (3, 2), strides=(2, 3), output_padding=(1, 2)),
            (1, 4, 5, 1),
            (1, 10, 16, 2),
        ),
        (
            lambda: Conv2DTranspose(1, 4, strides=2, padding="same", output_padding=1),
            (1, 4, 4, 1),
            (1, 7, 7, 1),
        ),
        (lambda: Conv1DTranspose(3, 5, dilation_rate=2), (2, 6, 1), (2, 14, 3)),
        (lambda: Conv3DTranspose(1, 2, strides=2, padding="same"), (1, 2, 3, 4, 1), (1, 4, 6, 8, 1)),
        (lambda: Conv2DTranspose(5, 3, strides=2, data_format="channels_first"), (1, 2, 4, 4), (1, 5, 9, 9)),
    ],
)
def test_transpose_output_shapes_follow_keras(layer, input_shape, expected):
    layer = layer()
    assert layer.compute_output_shape(input_shape) == expected
    assert layer(np.zeros(input_shape)).shape == expected
    unknown = (None, *input_shape[1:])
    assert layer.compute_output_shape(unknown) == (None, *expected[1:])


@given(
    rank=st.integers(1, 3),
    size=st.integers(1, 5),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]),
    p=st.integers(-1, 2),
    channels_first=st.booleans(),
)
def test_transpose_compute_output_shape_matches_call(rank, size, k, s, d, padding, p, channels_first):
    cls = TRANSPOSED[rank - 1]
    fmt = "channels_first" if channels_first else "channels_last"
    output_padding = None if p < 0 else min(p, s - 1)
    layer = cls(
        2, k, strides=s, dilation_rate=d, padding=padding, output_padding=output_padding, data_format=fmt
    )
    shape = (2, 3, *(size,) * rank) if channels_first else (2, *(size,) * rank, 3)
    try:
        expected = layer.compute_output_shape(shape)
    except ValueError as e:
        assert "With padding='same' and an even effective kernel" in str(e)
        with pytest.raises(ValueError, match="even effective kernel"):
            layer(np.zeros(shape))
        assert not layer.built
        return
    assert layer(np.zeros(shape)).shape == expected


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv2d_transpose_matches_loop_reference(dtype):
    rng = np.random.default_rng(6)
    layer = Conv2DTranspose(
        3,
        (3, 2),
        strides=(2, 3),
        padding="same",
        output_padding=(1, 2),
        dilation_rate=(1, 1),
        bias_initializer="random_normal",
        dtype=dtype.__name__,
    )
    x = rng.standard_normal((2, 4, 3, 5))
    y = layer(x)
    assert y.dtype == dtype
    kernel, bias = layer.get_weights()
    expected = loop_conv_transpose(
        x.astype(dtype).astype(np.float64), kernel.astype(np.float64), (2, 3), (1, 1), "same", (1, 2)
    )
    assert_close(y, expected + bias, dtype)


def test_transpose_strides_with_dilation_are_allowed():
    rng = np.random.default_rng(7)
    layer = Conv1DTranspose(
        2, 3, strides=2, dilation_rate=2, dtype="float64"
    )  # Keras refuses this pair; we do not
    x = rng.standard_normal((1, 4, 3))
    y = layer(x)
    assert_close(y, loop_conv_transpose(x, layer.get_weights()[0], (2,), (2,), "valid"))


def test_transpose_channels_first_equals_channels_last_and_activation():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 5, 4, 3))
    last = Conv2DTranspose(
        4, 3, strides=2, padding="same", activation="relu", dtype="float64", bias_initializer="random_normal"
    )
    first = Conv2DTranspose(
        4, 3, strides=2, padding="same", activation="relu", dtype="float64", data_format="channels_first"
    )
    y_last = last(x)
    assert y_last.min() == 0.0
    first(np.moveaxis(x, -1, 1))
    first.set_weights(last.get_weights())
    assert_close(np.moveaxis(first(np.moveaxis(x, -1, 1)), 1, -1), y_last)


def test_transpose_gradients_through_the_tape():
    rng = np.random.default_rng(9)
    layer = Conv2DTranspose(
        2, 3, strides=2, padding="same", dtype="float64", bias_initializer="random_normal"
    )
    x = rng.standard_normal((2, 3, 4, 3))
    gy = rng.standard_normal(layer.compute_output_shape(x.shape))
    with GradientTape() as tape:
        y = layer(x)
    assert y.op == "conv_transpose"
    gk, gb = tape.gradient(y, [layer.kernel, layer.bias], output_gradient=gy)
    _, ek, eb = conv_transpose_backward(gy, x, layer.kernel.value, strides=2, padding="same")
    assert_close(gk, ek)
    assert_close(gb, eb)


def test_transpose_config_round_trip_and_receptive_field():
    layer = Conv2DTranspose(
        3,
        (3, 2),
        strides=(2, 1),
        padding="same",
        output_padding=(1, 0),
        dilation_rate=(1, 2),
        activation="relu",
        use_bias=False,
        kernel_initializer="he_normal",
    )
    config = layer.get_config()
    assert config["output_padding"] == [1, 0] and config["filters"] == 3 and "padding_mode" not in config
    clone = Conv2DTranspose.from_config(config)
    assert clone.get_config() == config
    assert Conv1DTranspose.from_config(Conv1DTranspose(2, 3).get_config()).output_padding is None
    # jump divided by the strides; a 3-tap kernel at stride 2 reaches 1 more input (2 at stride 1)
    assert layer.receptive_field() == FieldStep(upsample=(2, 1), widen=(1, 2))
    assert Conv1DTranspose(1, 5, strides=2, dilation_rate=2).receptive_field() == FieldStep(
        upsample=(2,), widen=(4,)
    )  # d = s
    assert Conv1DTranspose(1, 4, strides=2).receptive_field() == FieldStep(upsample=(2,), widen=(1,))


@requires_torch
def test_transpose_against_torch():
    t = torch()
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 5, 6, 3))
    layer = Conv2DTranspose(
        4, 3, strides=(2, 3), output_padding=(1, 2), dtype="float64", bias_initializer="random_normal"
    )
    y = layer(x)
    kernel, bias = layer.get_weights()
    ref = t.nn.functional.conv_transpose2d(
        t.tensor(x).permute(0, 3, 1, 2), t.tensor(kernel).permute(3, 2, 0, 1), t.tensor(bias),
        stride=(2, 3), output_padding=(1, 2),
    ).permute(0, 2, 3, 1)
    assert_close(y, ref.numpy())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"output_padding": 2, "strides": 2},
            r"Conv2DTranspose 'conv2d_transpose': the `output_padding` argument must be smaller than "
            r"`strides` on every axis. Received: output_padding=2, strides=\(2, 2\)",
        ),
        ({"output_padding": 1}, r"Received: output_padding=1, strides=\(1, 1\)"),
        (
            {"output_padding": (1, -1), "strides": 2},
            r"`output_padding` argument must contain only non-negative integers",
        ),
        (
            {"padding": "full"},
            r"`padding` argument must be one of \{'valid', 'same'\}. Received: padding='full'",
        ),
        ({"padding": 1}, r"Received: padding=1"),
        ({"filters": 0}, r"`filters` argument must be a positive integer. Received: filters=0"),
        ({"strides": 0}, r"Received: strides=0"),
        (
            {"padding_mode": "reflect"},
            r"Unrecognized keyword argument\(s\) passed to Conv2DTranspose: \['padding_mode'\]",
        ),
    ],
)
def test_transpose_bad_arguments_raise_at_construction(kwargs, match):
    args = {"filters": 4, "kernel_size": 3, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        Conv2DTranspose(**args)


def test_transpose_input_errors():
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3"):
        Conv2DTranspose(1, 3)(np.zeros((8, 8, 1)))
    layer = Conv2DTranspose(1, 3)
    layer(np.zeros((1, 4, 4, 2)))
    with pytest.raises(
        ValueError,
        match=r"expected axis 3 of input shape to have value 2, but received input with shape \(1, 4, 4, 3\)",
    ):
        layer(np.zeros((1, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"the channel dimension of the inputs must be known"):
        Conv2DTranspose(1, 3).build((None, 4, 4, None))
