"""Tests for convolve/ops/conv/__init__.py's entry point ``conv``: the seeds' examples, 'same'
with strides and dilations, dtypes and the caller's arrays, and every error it raises.

The formulations themselves are checked against the loop reference in test_conv_forward.py,
their gradients in test_conv_backward.py, the chooser in test_conv_choose.py.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from convolve.ops import PADDING_MODES, applicable_formulations, conv
from tests.helpers import assert_close
from tests.ops.conv_reference import as_tuple, reference_conv, reference_index


def test_reference_index_matches_numpy_pad_modes():
    # the reference's padding (not the library's) against numpy.pad, even for pads longer than the axis
    numpy_modes = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    for n in (1, 2, 3, 5):
        row = np.arange(1.0, n + 1)
        for mode, np_mode in numpy_modes.items():
            expected = np.pad(row, 7, mode=np_mode)
            mapped = [reference_index(i, n, mode) for i in range(-7, n + 7)]
            got = np.array([0.0 if j is None else row[j] for j in mapped])
            np.testing.assert_array_equal(got, expected, err_msg=f"n={n}, mode={mode}")


def test_reference_conv_by_hand():
    # the loop reference on a case small enough to do in one's head: reflect of
    # [1, 2, 3] by 1 is [2, 1, 2, 3, 2]; kernel [1, 10] with stride 2 -> [2+10, 2+30]
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    kernel = np.array([1.0, 10.0]).reshape(2, 1, 1)
    y = reference_conv(x, kernel, np.array([0.5]), 2, 1, 1, 1, "reflect")
    np.testing.assert_array_equal(y.ravel(), [12.5, 32.5])

# --- the seeds' examples, at the op level --------------------------------------------


@pytest.mark.parametrize("formulation", ["im2col", "flat", "direct", None])
def test_1d_step_edge(formulation):
    x = np.array([0, 0, 0, 1, 1, 0, 0, 0], dtype=np.float64).reshape(1, 8, 1)
    kernel = np.array([0, 1, 0], dtype=np.float64).reshape(3, 1, 1)
    y = conv(x, kernel, formulation=formulation)
    assert y.shape == (1, 6, 1)
    np.testing.assert_array_equal(y.ravel(), [0, 0, 1, 1, 0, 0])


@pytest.mark.parametrize("formulation", ["im2col", "flat", "direct"])
def test_vertical_line_detector(formulation):
    image = np.zeros((1, 8, 8, 1))
    image[0, :, 3:5, 0] = 1.0  # columns 3 and 4
    kernel = np.array([[0, 1, 0]] * 3, dtype=np.float64).reshape(3, 3, 1, 1)
    y = conv(image, kernel, formulation=formulation)
    assert y.shape == (1, 6, 6, 1)
    expected = np.zeros((6, 6))
    expected[:, 2:4] = 3.0
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


@pytest.mark.parametrize(
    "strides, padding, out",
    [(1, "valid", 7), (2, "valid", 4), (3, "valid", 3), (1, "same", 9), (2, "same", 5)],
)
def test_9x9_input_3x3_kernel_sizes(strides, padding, out):
    y = conv(np.ones((1, 9, 9, 1)), np.ones((3, 3, 1, 1)), strides=strides, padding=padding)
    assert y.shape == (1, out, out, 1)


def test_512_image_strides_2_1():
    x = np.ones((1, 512, 512, 1), dtype=np.float32)
    y = conv(x, np.ones((3, 3, 1, 1), dtype=np.float32), strides=(2, 1))
    assert y.shape == (1, 255, 510, 1)
    np.testing.assert_array_equal(y, 9.0)


@pytest.mark.parametrize("formulation", ["im2col", "flat", "direct"])
def test_512_image_all_ones_same_is_neighbourhood_sum(formulation):
    rng = np.random.default_rng(512)
    image = rng.random((512, 512))
    padded = np.pad(image, 1)
    neighbourhood = sum(padded[i : i + 512, j : j + 512] for i in range(3) for j in range(3))
    y = conv(image.reshape(1, 512, 512, 1), np.ones((3, 3, 1, 1)), padding="same", formulation=formulation)
    assert y.shape == (1, 512, 512, 1)
    assert_close(y[0, :, :, 0], neighbourhood)


# --- 'same' with strides and dilations: the TensorFlow split, extra pixel after ---------


@pytest.mark.parametrize(
    "n, k, s, d, expected",
    [
        # 1..n padded (before, after) and read at taps; worked out by hand
        (10, 4, 1, 1, [3, 4, 5, 6, 7, 8, 9, 10, 0, 0]),  # pads (1, 2); last tap of 4
        (8, 3, 3, 2, [4, 7, 0]),  # ke 5, out 3, total 3 -> (1, 2); last tap reads padded[3i + 4]
        (7, 2, 2, 1, [2, 4, 6, 0]),  # out 4, total 1 -> (0, 1); padded[2i + 1]
        (9, 2, 2, 3, [3, 5, 7, 9, 0]),  # ke 4, out 5, total 3 -> (1, 2); padded[2i + 3]
    ],
)
def test_same_strided_dilated_last_tap(n, k, s, d, expected):
    x = np.arange(1.0, n + 1).reshape(1, n, 1)
    kernel = np.zeros((k, 1, 1))
    kernel[-1] = 1.0  # pick the last tap
    for formulation in applicable_formulations(1, (k,), (s,), 1):
        y = conv(x, kernel, strides=s, dilation_rate=d, padding="same", formulation=formulation)
        np.testing.assert_array_equal(y.ravel(), expected, err_msg=formulation)


def test_same_strided_dilated_ones_kernel_1d():
    # n 8, k 3, d 2, s 3: pads (1, 2), padded = [0, 1..8, 0, 0]; y[i] = p[3i] + p[3i+2] + p[3i+4]
    y = conv(
        np.arange(1.0, 9).reshape(1, 8, 1), np.ones((3, 1, 1)), strides=3, dilation_rate=2, padding="same"
    )
    np.testing.assert_array_equal(y.ravel(), [0 + 2 + 4, 3 + 5 + 7, 6 + 8 + 0])


def test_same_strided_2d_counts_real_pixels():
    # 7x10 ones, 3x3 ones, stride 2: height out 4, pads (1, 1); width out 5, pads (0, 1).
    # Each output counts the real pixels under its window: rows [2, 3, 3, 2] x cols [3, 3, 3, 3, 2].
    for formulation in ("im2col", "direct"):
        y = conv(
            np.ones((1, 7, 10, 1)), np.ones((3, 3, 1, 1)), strides=2, padding="same", formulation=formulation
        )
        np.testing.assert_array_equal(y[0, :, :, 0], np.outer([2, 3, 3, 2], [3, 3, 3, 3, 2]))


# --- dtypes and the caller's arrays --------------------------------------------------


@pytest.mark.parametrize(
    "x_dtype, k_dtype, out_dtype",
    [
        (np.int64, np.int64, np.float32),
        (np.int32, np.float32, np.float32),
        (np.uint8, np.float64, np.float64),
        (np.bool_, np.int8, np.float32),
        (np.float32, np.float32, np.float32),
        (np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
    ],
)
def test_result_dtype(x_dtype, k_dtype, out_dtype):
    x = (np.arange(2 * 5 * 5 * 2) % 3).reshape(2, 5, 5, 2).astype(x_dtype)
    kernel = (np.arange(3 * 3 * 2 * 4) % 2).reshape(3, 3, 2, 4).astype(k_dtype)
    y = conv(x, kernel)
    assert y.dtype == out_dtype
    expected = reference_conv(
        x.astype(np.float64), kernel.astype(np.float64), None, 1, "valid", 1, 1, "zeros"
    )
    assert_close(y, expected, out_dtype)


def test_bias_does_not_change_the_result_dtype():
    y = conv(np.ones((1, 4, 2), np.float32), np.ones((3, 2, 1), np.float32), bias=np.array([0.5]))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.ravel(), [6.5, 6.5])


def test_nested_lists_are_accepted():
    y = conv([[[0], [0], [0], [1], [1], [0], [0], [0]]], [[[0]], [[1]], [[0]]])
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.ravel(), [0, 0, 1, 1, 0, 0])


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_inputs_are_not_modified(data_format, padding_mode, dtype):
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((2, 4, 6, 5)) * 10).astype(dtype)
    channels = 5 if data_format == "channels_last" else 4  # (N, H, W, C) or (N, C, H, W)
    kernel = (rng.standard_normal((3, 3, channels, 3)) * 10).astype(dtype)
    bias = (rng.standard_normal(3) * 10).astype(dtype)
    originals = (x.copy(), kernel.copy(), bias.copy())
    for strides, padding in ((1, "same"), (2, 1), (1, "valid")):
        for formulation in applicable_formulations(channels, (3, 3), as_tuple(strides, 2), 1):
            y = conv(
                x, kernel, bias, strides=strides, padding=padding, data_format=data_format,
                padding_mode=padding_mode, formulation=formulation,
            )
            y[...] = 12345  # writing to the result must not reach the inputs
            for before, after in zip(originals, (x, kernel, bias)):
                np.testing.assert_array_equal(before, after)


def test_pointwise_result_does_not_alias_input():
    x = np.ones((2, 3, 3, 4))
    y = conv(x, np.eye(4).reshape(1, 1, 4, 4), formulation="pointwise")
    np.testing.assert_array_equal(y, x)
    y += 1
    np.testing.assert_array_equal(x, 1.0)


# --- every error conv() raises -----------------------------------------------------------


def call(x_shape=(1, 5, 5, 3), k_shape=(3, 3, 3, 4), **kwargs):
    return conv(np.ones(x_shape), np.ones(k_shape), **kwargs)


@pytest.mark.parametrize(
    "x_shape, k_shape, kwargs, message",
    [
        (
            (1, 5, 5, 3),
            (3, 3),
            {},
            "conv: expected a kernel of rank 3, 4 or 5 (*kernel_size, in_channels // groups, filters). "
            "Received: kernel.shape=(3, 3)",
        ),
        ((1, 5, 5, 3), (1, 3, 3, 3, 3, 4), {}, "Received: kernel.shape=(1, 3, 3, 3, 3, 4)"),
        (
            (5, 5, 3),
            (3, 3, 3, 4),
            {},
            "conv: expected input of rank 4 (batch, *spatial, channels) for a 2-D convolution. "
            "Received: inputs.shape=(5, 5, 3)",
        ),
        (
            (5, 3, 5, 5, 1),
            (3, 3, 3, 4),
            {"data_format": "channels_first"},
            "expected input of rank 4 (batch, channels, *spatial) for a 2-D convolution. Received: "
            "inputs.shape=(5, 3, 5, 5, 1)",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 2, 4),
            {},
            "conv: the kernel's in-channel axis must equal input channels // groups = 3 // 1 = 3. "
            "Received: kernel.shape=(3, 3, 2, 4), inputs.shape=(1, 5, 5, 3)",
        ),
        (
            (1, 3, 5, 5),
            (3, 3, 2, 4),
            {"data_format": "channels_first"},
            "= 3 // 1 = 3. Received: kernel.shape=(3, 3, 2, 4), inputs.shape=(1, 3, 5, 5)",
        ),
        ((1, 5, 5, 6), (3, 3, 2, 4), {"groups": 2}, "= 6 // 2 = 3. Received: kernel.shape=(3, 3, 2, 4)"),
        (
            (1, 5, 5, 3),
            (3, 3, 1, 4),
            {"groups": 2},
            "conv: input channels and filters must both be divisible by groups. "
            "Received: input channels=3, filters=4, groups=2",
        ),
        ((1, 5, 5, 4), (3, 3, 2, 3), {"groups": 2}, "Received: input channels=4, filters=3, groups=2"),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"bias": np.ones(3)},
            "conv: expected bias of shape (4,). Received: bias.shape=(3,)",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"bias": np.ones((1, 4))}, "Received: bias.shape=(1, 4)"),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"bias": np.ones(())}, "Received: bias.shape=()"),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"strides": 0},
            "conv: the `strides` argument must contain only positive integers. Received: strides=0",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"strides": (1, -2)},
            "only positive integers. Received: strides=(1, -2)",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"strides": (1, 1.5)},
            "conv: the `strides` argument must be an int or a tuple of 2 ints. Received: strides=(1, 1.5)",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"strides": (1, True)},
            "a tuple of 2 ints. Received: strides=(1, True)",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"strides": (1, 1, 1)},
            "a tuple of 2 ints. Received: strides=(1, 1, 1)",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"dilation_rate": 0},
            "conv: the `dilation_rate` argument must contain only positive "
            "integers. Received: dilation_rate=0",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"dilation_rate": (2, 0)}, "Received: dilation_rate=(2, 0)"),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"dilation_rate": (2.0, 1)},
            "`dilation_rate` argument must be an int or a tuple of 2 ints. Received: dilation_rate=(2.0, 1)",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"dilation_rate": (False, 1)}, "Received: dilation_rate=(False, 1)"),
        (
            (1, 5, 5, 3),
            (0, 3, 3, 4),
            {},
            "conv: the `kernel_size` argument must contain only positive integers. "
            "Received: kernel_size=(0, 3)",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"groups": 0},
            "conv: the `groups` argument must be a positive integer. Received: groups=0",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"groups": -3}, "Received: groups=-3"),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"groups": 1.0}, "Received: groups=1.0"),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"groups": True}, "Received: groups=True"),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"padding": "sam"},
            "conv: the `padding` argument must be one of "
            "{'valid', 'same', 'causal', 'full'}. Received: padding='sam'",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"padding": -1},
            "conv: the `padding` argument must be one of {'valid', 'same', "
            "'causal', 'full'}, a non-negative int, a tuple of 2 ints, or a tuple of 2 (before, after) "
            "pairs. "
            "Received: padding=-1",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"padding": ((1, 2), (3,))},
            "(before, after) pairs. Received: padding=((1, 2), (3,))",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"padding": "causal"},
            "conv: padding='causal' is only for 1-D convolutions (Conv1D); "
            "this one has 2 spatial dimensions. Received: padding='causal'",
        ),
        (
            (1, 5, 5, 5, 3),
            (3, 3, 3, 3, 4),
            {"padding": "Causal"},
            "this one has 3 spatial dimensions. Received: padding='Causal'",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"padding_mode": "mirror"},
            "conv: the `padding_mode` argument must be one of "
            "{'zeros', 'reflect', 'replicate', 'circular'}. Received: padding_mode='mirror'",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"padding_mode": None}, "Received: padding_mode=None"),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"data_format": "NHWC"},
            "conv: the `data_format` argument must be one of "
            "{'channels_last', 'channels_first'}. Received: data_format='NHWC'",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"strides": 2, "formulation": "flat"},
            "conv: formulation must be one of ('im2col',) for this shape. Received: formulation='flat'",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"formulation": "pointwise"},
            "formulation must be one of ('im2col', 'flat', 'winograd2', 'winograd4') for this "
            "shape. Received: formulation='pointwise'",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"formulation": "direct"}, "Received: formulation='direct'"),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"formulation": "fft"}, "Received: formulation='fft'"),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"formulation": "taps"}, "Received: formulation='taps'"),  # tests only
        (
            (1, 3, 9, 3),
            (5, 3, 3, 4),
            {},
            "conv: the output would be empty: height: input 3, kernel 5, padding valid "
            "→ output -1 = floor((3 + 0 + 0 - 5) / 1) + 1. The input is too small",
        ),
        (
            (1, 3, 9, 3),
            (3, 3, 3, 4),
            {"dilation_rate": (1, 5)},
            "width: input 9, kernel 3, dilation 5 (effective kernel 11), padding valid → output -1",
        ),
    ],
)
def test_errors(x_shape, k_shape, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(x_shape, k_shape, **kwargs)


@pytest.mark.parametrize(
    "kwargs, exception, message",
    [
        (
            {"strides": 1.5},
            TypeError,
            "conv: the `strides` argument must be an int or a tuple of 2 ints. Received: strides=1.5",
        ),
        ({"strides": True}, TypeError, "Received: strides=True"),
        ({"strides": None}, TypeError, "Received: strides=None"),
        (
            {"dilation_rate": 2.0},
            TypeError,
            "`dilation_rate` argument must be an int or a tuple of 2 ints. Received: dilation_rate=2.0",
        ),
        ({"dilation_rate": False}, TypeError, "Received: dilation_rate=False"),
    ],
)
def test_scalar_argument_type_errors(kwargs, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        call(**kwargs)


@pytest.mark.parametrize(
    "x, kernel, bias, message",
    [
        (
            np.array([["a"] * 3] * 3),
            np.ones((3, 1, 1)),
            None,
            "conv expected a numeric array (integer or float) for inputs. Received: inputs with dtype=<U1",
        ),
        (
            np.ones((1, 3, 1), dtype=object),
            np.ones((3, 1, 1)),
            None,
            "for inputs. Received: inputs with dtype=object",
        ),
        ("abc", np.ones((3, 1, 1)), None, "for inputs. Received: inputs with dtype=<U3"),
        (None, np.ones((3, 1, 1)), None, "for inputs. Received: inputs with dtype=object"),
        (
            np.ones((1, 3, 1), dtype=np.complex128),
            np.ones((3, 1, 1)),
            None,
            "Received: inputs with dtype=complex128",
        ),
        (
            [[[1], [2]], [[1]]],
            np.ones((3, 1, 1)),
            None,
            "conv expected a numeric array for inputs. Received: inputs that cannot become an array",
        ),
        (np.ones((1, 3, 1)), np.array([["x"]] * 3), None, "for kernel. Received: kernel with dtype=<U1"),
        (
            np.ones((1, 3, 1)),
            np.ones((3, 1, 1), dtype=object),
            None,
            "for kernel. Received: kernel with dtype=object",
        ),
        (np.ones((1, 3, 1)), np.ones((3, 1, 1)), np.array(["b"]), "for bias. Received: bias with dtype=<U1"),
    ],
)
def test_non_numeric_input_is_a_type_error(x, kernel, bias, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        conv(x, kernel, bias)


def test_where_names_the_caller():
    with pytest.raises(
        ValueError, match=re.escape("Conv2D 'c1': the `strides` argument must contain only positive")
    ):
        call(strides=0, where="Conv2D 'c1'")
    with pytest.raises(
        ValueError, match=re.escape("Conv2D 'c1': the output would be empty: height: input 5, kernel 7")
    ):
        call(k_shape=(7, 3, 3, 4), where="Conv2D 'c1'")

