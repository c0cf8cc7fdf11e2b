"""Tests for convolve/ops/conv.py: the N-d convolution engine.

The yardstick is :func:`reference_conv`, the definition of a convolution written
as plain Python loops, with its own padding (an explicit index mapping per
padding mode) and its own padding amounts (the rules of DESIGN.md, written out
again here so that ops/shapes.py is checked too). Every formulation that can
compute a drawn configuration is compared with it, in float64 and float32;
PyTorch is a second, independent yardstick when it is installed.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from itertools import product

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops import PADDING_MODES, applicable_formulations, choose_formulation, conv, pad
from tests import helpers
from tests.helpers import assert_close, requires_torch

# `convolve.ops.conv` as an attribute is the function (the package re-exports it),
# so the module itself has to be fetched by name.
conv_module = importlib.import_module("convolve.ops.conv")


# --- the definition-level reference -------------------------------------------------


def as_tuple(value, rank):
    """An int or a per-axis sequence, as a per-axis tuple."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


def reference_pads(padding, sizes, kernel_size, strides, dilations):
    """(before, after) per axis, by the rules of DESIGN.md."""
    pads = []
    for axis, (n, k, s, d) in enumerate(zip(sizes, kernel_size, strides, dilations)):
        effective = d * (k - 1) + 1
        if padding == "valid":
            pair = (0, 0)
        elif padding == "same":
            out = (n + s - 1) // s  # ceil(n / s)
            total = max((out - 1) * s + effective - n, 0)
            pair = (total // 2, total - total // 2)  # the extra pixel goes after
        elif padding == "causal":
            pair = (effective - 1, 0)
        elif padding == "full":
            pair = (effective - 1, effective - 1)
        elif isinstance(padding, int):
            pair = (padding, padding)
        else:
            item = padding[axis]
            pair = (item, item) if isinstance(item, int) else tuple(item)
        pads.append(pair)
    return pads


def reference_output_sizes(sizes, kernel_size, strides, dilations, pads):
    """floor((n + before + after - effective kernel) / s) + 1 per axis."""
    return tuple(
        (n + before + after - (d * (k - 1) + 1)) // s + 1
        for n, k, s, d, (before, after) in zip(sizes, kernel_size, strides, dilations, pads)
    )


def reference_index(i, n, mode):
    """Which input element position ``i`` reads on an axis of size ``n``.

    ``i`` counts from the first real element, so -1 is the first padded position
    before it and ``n`` the first after. Returns None where the padded value is zero.
    """
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "replicate":  # repeat the edge element
        return 0 if i < 0 else n - 1
    if mode == "circular":  # wrap around
        return i % n
    if mode == "reflect":  # mirror about the edge element, which is not repeated
        if n == 1:
            return 0
        period = 2 * (n - 1)  # 0 1 2 ... n-1 n-2 ... 1 | 0 1 2 ...
        j = i % period
        return j if j < n else period - j
    raise AssertionError(f"unknown padding mode {mode!r}")


def reference_conv(x, kernel, bias, strides, padding, dilation_rate, groups, padding_mode):
    """y (N, *O, F) from channels_last x (N, *S, C) and kernel (*K, C/G, F), by the definition:

    y[b, o, f] = bias[f] + sum over taps t and channels c < C/G of
                 x_padded[b, o * stride + t * dilation, g * C/G + c] * kernel[t, c, f]

    with g = f // (F/G). Padded positions are mapped back onto the input by
    :func:`reference_index`; every product is a Python float product.
    """
    rank = kernel.ndim - 2
    batch, sizes = x.shape[0], x.shape[1:-1]
    kernel_size, per_group, filters = kernel.shape[:rank], kernel.shape[-2], kernel.shape[-1]
    strides, dilations = as_tuple(strides, rank), as_tuple(dilation_rate, rank)
    filters_per_group = filters // groups
    pads = reference_pads(padding, sizes, kernel_size, strides, dilations)
    out_sizes = reference_output_sizes(sizes, kernel_size, strides, dilations, pads)
    # source[a][o][t]: the input index on axis a read by output o through tap t
    source = [
        [[reference_index(o * s + t * d - before, n, padding_mode) for t in range(k)] for o in range(out)]
        for n, k, s, d, (before, _), out in zip(sizes, kernel_size, strides, dilations, pads, out_sizes)
    ]
    y = np.zeros((batch, *out_sizes, filters))
    for b in range(batch):
        for o in product(*(range(out) for out in out_sizes)):
            for f in range(filters):
                g = f // filters_per_group
                total = 0.0 if bias is None else bias.item(f)
                for t in product(*(range(k) for k in kernel_size)):
                    index = tuple(source[a][o[a]][t[a]] for a in range(rank))
                    if None in index:  # a zero from the padding
                        continue
                    for c in range(per_group):
                        total += x.item(b, *index, g * per_group + c) * kernel.item(*t, c, f)
                y[(b, *o, f)] = total
    return y


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


# --- random configurations -----------------------------------------------------------


@dataclass
class Config:
    rank: int
    batch: int
    sizes: tuple
    channels: int
    filters: int
    groups: int
    kernel_size: tuple
    strides: object  # as passed: int or per-axis tuple
    dilation_rate: object
    padding: object
    padding_mode: str
    data_format: str
    use_bias: bool
    seed: int

    @property
    def stride_tuple(self):
        return as_tuple(self.strides, self.rank)

    @property
    def dilation_tuple(self):
        return as_tuple(self.dilation_rate, self.rank)

    def arrays(self):
        """Random x (channels_last), kernel and bias, exactly representable in float32."""
        rng = np.random.default_rng(self.seed)

        def draw(*shape):
            return rng.standard_normal(shape).astype(np.float32).astype(np.float64)

        x = draw(self.batch, *self.sizes, self.channels)
        kernel = draw(*self.kernel_size, self.channels // self.groups, self.filters)
        bias = draw(self.filters) if self.use_bias else None
        return x, kernel, bias

    def kwargs(self):
        return dict(
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            groups=self.groups,
            data_format=self.data_format,
            padding_mode=self.padding_mode,
        )


# per rank: the largest kernel, dilation, stride, explicit pad, spatial size and batch.
# Small enough that the Python-loop reference takes milliseconds.
LIMITS = {
    1: dict(kernel=4, dilation=3, stride=3, pad=3, size=12, batch=3),
    2: dict(kernel=3, dilation=2, stride=3, pad=2, size=7, batch=2),
    3: dict(kernel=2, dilation=2, stride=2, pad=1, size=4, batch=2),
}


def per_axis_or_int(rank, values):
    """An int, or a per-axis tuple of ints: both forms the API accepts."""
    return st.one_of(values, st.tuples(*[values] * rank))


@st.composite
def paddings(draw, rank, max_pad):
    """Every form of padding the API accepts, 'same' twice as often as the other names."""
    names = ["valid", "same", "same", "full"] + (["causal"] if rank == 1 else [])
    kind = draw(st.sampled_from(names + ["int", "per-axis", "pairs", "mixed"]))
    amount = st.integers(0, max_pad)
    pair = st.tuples(amount, amount)
    if kind == "int":  # the same on every side
        return draw(amount)
    if kind == "per-axis":  # one int per axis
        return draw(st.tuples(*[amount] * rank))
    if kind == "pairs":  # (before, after) per axis
        return draw(st.tuples(*[pair] * rank))
    if kind == "mixed":  # ints and pairs
        return draw(st.tuples(*[st.one_of(amount, pair)] * rank))
    return kind


@st.composite
def conv_configs(draw, torch_compatible=False):
    """A random convolution; with ``torch_compatible`` every axis is longer than its padding
    (PyTorch's reflect and circular padding refuse to wrap more than once).

    Weighted so that every formulation gets its share: one group half the time (taps,
    pointwise), stride 1 often (taps), 1x1 kernels one time in six (pointwise), one
    channel per group often (direct, depthwise).
    """
    rank = draw(st.sampled_from([1, 2, 3]))
    lim = LIMITS[rank]
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    per_group = draw(st.sampled_from([1, 1, 2, 3]))  # 1: depthwise when groups > 1
    filters = groups * draw(st.integers(1, 2))
    if draw(st.integers(0, 5)) == 0:
        kernel_size = (1,) * rank
    else:
        kernel_size = tuple(draw(st.integers(1, lim["kernel"])) for _ in range(rank))
    strides = draw(st.one_of(st.just(1), per_axis_or_int(rank, st.integers(1, lim["stride"]))))
    dilation_rate = draw(per_axis_or_int(rank, st.integers(1, lim["dilation"])))
    padding = draw(paddings(rank, lim["pad"]))
    sizes = []
    for axis, (k, d) in enumerate(zip(kernel_size, as_tuple(dilation_rate, rank))):
        effective = d * (k - 1) + 1
        if padding in ("same", "full", "causal"):
            low, largest_pad = 1, effective - 1
        else:
            before, after = reference_pads(padding, [1] * rank, kernel_size, [1] * rank, [1] * rank)[axis]
            low, largest_pad = max(1, effective - before - after), max(before, after)
        if torch_compatible:
            low = max(low, largest_pad + 1)
        sizes.append(draw(st.integers(low, max(low, lim["size"]))))
    return Config(
        rank=rank,
        batch=draw(st.integers(1, lim["batch"])),
        sizes=tuple(sizes),
        channels=groups * per_group,
        filters=filters,
        groups=groups,
        kernel_size=kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
        padding=padding,
        padding_mode=draw(st.sampled_from(PADDING_MODES)),
        data_format=draw(st.sampled_from(["channels_last", "channels_first"])),
        use_bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def to_channels_first(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def read_only(a):
    if a is not None:
        a.flags.writeable = False
    return a


@given(cfg=conv_configs())
def test_every_formulation_matches_reference(cfg):
    x, kernel, bias = cfg.arrays()
    expected = reference_conv(
        x, kernel, bias, cfg.strides, cfg.padding, cfg.dilation_rate, cfg.groups, cfg.padding_mode
    )
    formulations = applicable_formulations(cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups)
    assert "im2col" in formulations
    assert choose_formulation(cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups) in formulations
    if cfg.data_format == "channels_first":
        x = to_channels_first(x)
    for dtype in (np.float64, np.float32):
        xd, kd = read_only(x.astype(dtype)), read_only(kernel.astype(dtype))
        bd = None if bias is None else read_only(bias.astype(dtype))
        originals = [a.copy() for a in (xd, kd, bd) if a is not None]
        for formulation in (*formulations, None):
            y = conv(xd, kd, bd, formulation=formulation, **cfg.kwargs())
            assert y.dtype == dtype
            assert not np.shares_memory(y, xd)
            if cfg.data_format == "channels_first":
                y = np.moveaxis(y, 1, -1)
            assert_close(y, expected, dtype)
        for before, after in zip(originals, [a for a in (xd, kd, bd) if a is not None]):
            np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize(
    "x_shape, kernel_shape, strides, padding, dilation, groups",
    [
        # larger than the drawn cases, so that every formulation meets many rows, taps and chunks of work
        ((2, 13, 4), (5, 4, 6), 1, "same", 2, 1),
        ((3, 17, 2), (4, 1, 4), 3, "causal", 1, 2),
        ((2, 11, 10, 3), (3, 3, 3, 5), 1, "same", (1, 2), 1),
        ((2, 11, 10, 4), (3, 2, 2, 4), (2, 3), ((2, 1), (0, 3)), 1, 2),
        ((1, 9, 12, 6), (3, 3, 1, 12), 2, "same", 2, 6),  # depthwise, multiplier 2
        ((2, 8, 9, 5), (1, 1, 5, 3), (2, 1), 1, 1, 1),  # pointwise with padding
        ((1, 6, 5, 7, 2), (3, 2, 3, 2, 3), 1, "full", 1, 1),
        ((2, 5, 6, 4, 4), (2, 3, 2, 2, 4), (1, 2, 1), "same", (2, 1, 1), 2),
    ],
)
def test_larger_cases_match_reference(
    x_shape, kernel_shape, strides, padding, dilation, groups, padding_mode
):
    rng = np.random.default_rng(sum(x_shape) + sum(kernel_shape))
    x, kernel = rng.standard_normal(x_shape), rng.standard_normal(kernel_shape)
    bias = rng.standard_normal(kernel_shape[-1])
    rank = len(kernel_shape) - 2
    expected = reference_conv(x, kernel, bias, strides, padding, dilation, groups, padding_mode)
    formulations = applicable_formulations(x_shape[-1], kernel_shape[:rank], as_tuple(strides, rank), groups)
    for formulation in formulations:
        for dtype in (np.float64, np.float32):
            y = conv(
                x.astype(dtype),
                kernel.astype(dtype),
                bias.astype(dtype),
                strides,
                padding,
                dilation,
                groups,
                padding_mode=padding_mode,
                formulation=formulation,
            )
            assert_close(y, expected, dtype)
        y = conv(
            to_channels_first(x),
            kernel,
            bias,
            strides,
            padding,
            dilation,
            groups,
            data_format="channels_first",
            padding_mode=padding_mode,
            formulation=formulation,
        )
        assert_close(np.moveaxis(y, 1, -1), expected)


@given(cfg=conv_configs())
def test_both_column_layouts_match_reference(cfg):
    """im2col's columns are tap-major for few channels and row-major otherwise
    (ops/im2col.py: TAP_MAJOR_CHANNELS); the drawn cases have few channels, so run each
    with the limit at 0 (all row-major) and at 1000 (all tap-major)."""
    from convolve.ops import im2col

    x, kernel, bias = cfg.arrays()
    expected = reference_conv(
        x, kernel, bias, cfg.strides, cfg.padding, cfg.dilation_rate, cfg.groups, cfg.padding_mode
    )
    if cfg.data_format == "channels_first":
        x = to_channels_first(x)
    y = conv(x, kernel, bias, **cfg.kwargs())
    gy = np.random.default_rng(cfg.seed % 1000).standard_normal(y.shape)
    for limit in (0, 1000):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(im2col, "TAP_MAJOR_CHANNELS", limit)
            y = conv(x, kernel, bias, formulation="im2col", **cfg.kwargs())
            grads = conv_module.conv_backward(gy, x, kernel, formulation="im2col", **cfg.kwargs())
        if cfg.data_format == "channels_first":
            y = np.moveaxis(y, 1, -1)
        assert_close(y, expected)
        if limit == 0:
            first = grads
        else:
            for a, b in zip(grads, first):
                assert_close(a, b)


@requires_torch
@given(cfg=conv_configs(torch_compatible=True))
def test_matches_pytorch(cfg):
    torch = helpers.torch()
    functional = torch.nn.functional
    x, kernel, bias = cfg.arrays()
    rank = cfg.rank
    pads = reference_pads(cfg.padding, cfg.sizes, cfg.kernel_size, cfg.stride_tuple, cfg.dilation_tuple)
    xt = torch.from_numpy(to_channels_first(x))  # (N, C, *S)
    if any(before or after for before, after in pads):
        flat = [amount for pair in reversed(pads) for amount in pair]  # torch pads the last axis first
        mode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}
        xt = functional.pad(xt, flat, mode=mode[cfg.padding_mode])
    weight = torch.from_numpy(
        np.ascontiguousarray(kernel.transpose(rank + 1, rank, *range(rank)))
    )  # (F, C/G, *K)
    torch_conv = (functional.conv1d, functional.conv2d, functional.conv3d)[rank - 1]
    expected = torch_conv(
        xt,
        weight,
        None if bias is None else torch.from_numpy(bias),
        stride=cfg.stride_tuple,
        dilation=cfg.dilation_tuple,
        groups=cfg.groups,
    ).numpy()  # (N, F, *O)
    if cfg.data_format == "channels_last":
        expected = np.moveaxis(expected, 1, -1)
    else:
        x = to_channels_first(x)
    for formulation in applicable_formulations(cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups):
        assert_close(conv(x, kernel, bias, formulation=formulation, **cfg.kwargs()), expected)


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("kernel_size, dilation", [(2, 1), (4, 1), (3, 2), (2, 3), ((2, 5), (3, 1))])
def test_same_matches_pytorch_same_at_stride_1(kernel_size, dilation):
    # PyTorch's padding='same' (stride 1 only) also puts the odd pixel after
    torch = helpers.torch()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 7, 3))
    ks = as_tuple(kernel_size, 2)
    kernel = rng.standard_normal((*ks, 3, 2))
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(to_channels_first(x)),
        torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))),
        padding="same",
        dilation=dilation,
    ).numpy()
    for formulation in ("im2col", "taps", "flat"):
        y = conv(x, kernel, padding="same", dilation_rate=dilation, formulation=formulation)
        assert_close(np.moveaxis(y, -1, 1), expected)


# --- the seeds' examples, at the op level --------------------------------------------


@pytest.mark.parametrize("formulation", ["im2col", "taps", "direct", None])
def test_1d_step_edge(formulation):
    x = np.array([0, 0, 0, 1, 1, 0, 0, 0], dtype=np.float64).reshape(1, 8, 1)
    kernel = np.array([0, 1, 0], dtype=np.float64).reshape(3, 1, 1)
    y = conv(x, kernel, formulation=formulation)
    assert y.shape == (1, 6, 1)
    np.testing.assert_array_equal(y.ravel(), [0, 0, 1, 1, 0, 0])


@pytest.mark.parametrize("formulation", ["im2col", "taps", "direct"])
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


@pytest.mark.parametrize("formulation", ["im2col", "taps", "direct"])
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


# --- padding ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("pads", [((1, 2),), ((0, 3), (2, 0)), ((4, 1), (1, 5)), ((1, 0), (0, 0), (2, 1))])
def test_pad_matches_reference_index(mode, pads):
    rank = len(pads)
    sizes = (3, 2, 2)[:rank]
    x = np.random.default_rng(1).standard_normal((2, *sizes, 3))
    got = pad(x, pads, mode)
    assert got.shape == (2, *(n + b + a for n, (b, a) in zip(sizes, pads)), 3)
    for position in product(*(range(m) for m in got.shape[1:-1])):
        index = [reference_index(p - b, n, mode) for p, (b, _), n in zip(position, pads, sizes)]
        expected = np.zeros((2, 3)) if None in index else x[(slice(None), *index)]
        np.testing.assert_array_equal(got[(slice(None), *position)], expected)


def test_pad_returns_input_when_nothing_is_padded():
    x = np.ones((1, 3, 3, 2))
    assert pad(x, ((0, 0), (0, 0)), "reflect") is x
    assert pad(x, ((0, 0), (0, 1)), "reflect") is not x


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


# --- batch chunking --------------------------------------------------------------------


def spy_on_chunks(monkeypatch):
    """Record (per-sample workspace, samples per chunk) each time ops.conv sizes its chunks,
    without changing the decision."""
    calls = []
    original = conv_module._batch_chunk

    def recording(per_sample):
        calls.append((per_sample, original(per_sample)))
        return calls[-1][1]

    monkeypatch.setattr(conv_module, "_batch_chunk", recording)
    return calls


@pytest.mark.parametrize(
    "batch, sizes, channels, filters, kernel_size, strides, dilation, groups, padding",
    [
        (5, (7, 6), 4, 6, (3, 2), (2, 1), 1, 2, "same"),  # im2col grouped, taps not applicable
        (5, (7, 6), 3, 4, (3, 3), 1, (1, 2), 1, "valid"),  # im2col and taps
        (7, (9,), 2, 3, (3,), 1, 2, 1, "causal"),  # 1-D
        (3, (4, 3, 5), 2, 2, (2, 2, 2), (1, 2, 1), 1, 1, 1),  # 3-D
    ],
)
@pytest.mark.parametrize("samples_per_chunk", [1, 2])
def test_batch_chunks_match_reference(
    monkeypatch,
    batch,
    sizes,
    channels,
    filters,
    kernel_size,
    strides,
    dilation,
    groups,
    padding,
    samples_per_chunk,
):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, *sizes, channels))
    kernel = rng.standard_normal((*kernel_size, channels // groups, filters))
    bias = rng.standard_normal(filters)
    rank = len(sizes)
    expected = reference_conv(x, kernel, bias, strides, padding, dilation, groups, "zeros")
    formulations = [
        f
        for f in applicable_formulations(channels, kernel_size, as_tuple(strides, rank), groups)
        if f in ("im2col", "taps")
    ]
    assert "im2col" in formulations
    for formulation in formulations:
        if formulation == "im2col" and groups == 1:
            continue  # blocked columns: test_im2col_blocks_match_reference
        # the per-sample workspace this formulation asks for; one chunk under the default limit
        calls = spy_on_chunks(monkeypatch)
        conv(x, kernel, bias, strides, padding, dilation, groups, formulation=formulation)
        [(per_sample, default_chunk)] = calls
        assert default_chunk >= batch
        # a limit that fits `samples_per_chunk` samples and a half: several chunks, the last one ragged
        monkeypatch.setattr(
            conv_module, "WORKSPACE_ELEMENTS", samples_per_chunk * per_sample + per_sample // 2
        )
        calls.clear()
        y = conv(x, kernel, bias, strides, padding, dilation, groups, formulation=formulation)
        assert calls == [(per_sample, samples_per_chunk)]
        assert batch > samples_per_chunk and (samples_per_chunk == 1 or batch % samples_per_chunk)
        assert_close(y, expected)
        monkeypatch.undo()


@pytest.mark.parametrize(
    "batch, sizes, channels, filters, kernel_size, strides, dilation, padding",
    [
        (5, (7, 6), 3, 4, (3, 3), 1, 1, "same"),  # the last axis' taps fused into runs
        (5, (7, 6), 3, 4, (3, 3), (2, 1), (1, 2), "valid"),  # dilated last axis: one view per tap
        (7, (9,), 2, 3, (3,), 1, 2, "causal"),  # 1-D, dilated
        (4, (9,), 2, 3, (4,), 2, 1, "same"),  # 1-D, fused
        (3, (4, 3, 5), 2, 2, (2, 2, 2), (1, 2, 1), 1, 1),  # 3-D
    ],
)
@pytest.mark.parametrize("positions_per_block", [1, 2, 5, 37])
@pytest.mark.parametrize("tap_major_channels", [0, 1000])
def test_im2col_blocks_match_reference(
    monkeypatch,
    batch,
    sizes,
    channels,
    filters,
    kernel_size,
    strides,
    dilation,
    padding,
    positions_per_block,
    tap_major_channels,
):
    """Blocks of whole samples, of bands of one sample's first axis, ragged last blocks, in
    both column layouts: the forward and all three gradients equal the unblocked results."""
    from convolve.ops import im2col

    monkeypatch.setattr(im2col, "TAP_MAJOR_CHANNELS", tap_major_channels)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, *sizes, channels))
    kernel = rng.standard_normal((*kernel_size, channels, filters))
    bias = rng.standard_normal(filters)
    expected = reference_conv(x, kernel, bias, strides, padding, dilation, 1, "zeros")
    gy = rng.standard_normal(expected.shape)
    grads = conv_module.conv_backward(gy, x, kernel, strides, padding, dilation, formulation="im2col")
    width = int(np.prod(kernel_size)) * channels
    monkeypatch.setattr(im2col, "BLOCK_ELEMENTS", positions_per_block * width)
    plans = []
    original = im2col.blocks
    monkeypatch.setattr(im2col, "blocks", lambda *a, **k: plans.append(original(*a, **k)) or plans[-1])
    assert_close(conv(x, kernel, bias, strides, padding, dilation, formulation="im2col"), expected)
    blocked = conv_module.conv_backward(gy, x, kernel, strides, padding, dilation, formulation="im2col")
    for a, b in zip(blocked, grads):
        assert_close(a, b)
    # every output position in exactly one block, each block within the limit (or one row)
    out_sizes = expected.shape[1:-1]
    for plan in plans:
        covered = np.zeros((batch, out_sizes[0]), int)
        for blk in plan:
            covered[blk.n0 : blk.n0 + blk.nc, blk.h0 : blk.h0 + blk.hc] += 1
            rows = blk.nc * blk.hc * int(np.prod(out_sizes[1:]))
            assert rows <= max(positions_per_block, int(np.prod(out_sizes[1:])))
        assert (covered == 1).all()
    if positions_per_block < batch * int(np.prod(out_sizes)):
        assert len(plans[0]) > 1


def test_workspace_smaller_than_one_sample_still_works(monkeypatch):
    monkeypatch.setattr(conv_module, "WORKSPACE_ELEMENTS", 1)
    rng = np.random.default_rng(4)
    x, kernel = rng.standard_normal((3, 5, 5, 2)), rng.standard_normal((3, 3, 2, 2))
    expected = reference_conv(x, kernel, None, 1, "same", 1, 1, "zeros")
    for formulation in ("im2col", "taps"):
        assert_close(conv(x, kernel, padding="same", formulation=formulation), expected)


# --- choosing a formulation ------------------------------------------------------------


@pytest.mark.parametrize(
    "in_channels, kernel_size, strides, groups, filters, expected",
    [
        (3, (1, 1), (1, 1), 1, 8, "pointwise"),
        (64, (1,), (2,), 1, 64, "pointwise"),  # strided 1x1 is still one product
        (1, (3, 3), (1, 1), 1, 1, "direct"),  # a grey image, one filter
        (1, (3, 3), (1, 1), 1, None, "direct"),  # filters unknown: one per group
        (1, (3, 3), (1, 1), 1, 32, "im2col"),  # a grey image, 32 filters: one product of inner size 9
        (1, (1, 1), (1, 1), 1, 1, "direct"),  # grey and 1x1: no product beats one multiply
        (1, (1, 1), (1, 1), 1, 4, "pointwise"),
        (32, (3, 3), (2, 2), 32, 32, "direct"),  # depthwise
        (32, (3, 3), (1, 1), 32, 64, "direct"),  # depthwise, depth multiplier 2
        (3, (3, 3), (1, 1), 1, 32, "im2col"),
        (64, (3, 3), (1, 1), 1, 64, "im2col"),
        (16, (3, 3, 3), (1, 1, 1), 1, 16, "flat"),  # few channels, stride 1: one copy per tap and channel
        (8, (3, 3, 3), (1, 1, 1), 1, 16, "flat"),
        (32, (3, 3, 3), (1, 1, 1), 1, 16, "im2col"),
        (8, (3, 3), (1, 1), 1, 32, "flat"),
        (16, (3, 3), (1, 1), 1, 32, "im2col"),
        (8, (5,), (1,), 1, 32, "im2col"),  # 1-D: im2col's runs of K * C numbers are long already
        (8, (3, 3), (2, 2), 1, 32, "im2col"),  # flat needs stride 1
        (3, (3, 3), (2, 2), 1, 32, "im2col"),
        (3, (3, 3), (1, 2), 1, 32, "im2col"),
        (8, (3, 3), (1, 1), 2, 8, "im2col"),  # grouped, not depthwise
    ],
)
def test_choose_formulation(in_channels, kernel_size, strides, groups, filters, expected):
    assert choose_formulation(in_channels, kernel_size, strides, groups, filters) == expected


@pytest.mark.parametrize(
    "in_channels, kernel_size, strides, groups, expected",
    [
        (3, (3, 3), (2, 2), 1, ("im2col",)),
        (3, (3, 3), (1, 1), 1, ("im2col", "taps", "flat")),
        (3, (1, 1), (2, 2), 1, ("im2col", "pointwise")),
        (3, (1, 1), (1, 1), 1, ("im2col", "pointwise", "taps", "flat")),
        (1, (1, 1), (1, 1), 1, ("im2col", "direct", "pointwise", "taps", "flat")),
        (4, (1, 1), (1, 1), 4, ("im2col", "direct")),
        (8, (3,), (1,), 2, ("im2col",)),
    ],
)
def test_applicable_formulations(in_channels, kernel_size, strides, groups, expected):
    assert applicable_formulations(in_channels, kernel_size, strides, groups) == expected


@st.composite
def conv_shapes(draw):
    """(in_channels, kernel_size, strides, groups) of any rank."""
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 8))
    in_channels = groups * draw(st.integers(1, 4))
    kernel_size = draw(st.tuples(*[st.integers(1, 5)] * rank))
    strides = draw(st.tuples(*[st.integers(1, 3)] * rank))
    return in_channels, kernel_size, strides, groups


@given(shape=conv_shapes())
def test_choice_is_always_applicable(shape):
    choice = choose_formulation(*shape)
    assert choice in applicable_formulations(*shape)
    assert choice in conv_module.FORMULATIONS


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
            {"strides": 2, "formulation": "taps"},
            "conv: formulation must be one of ('im2col',) for this shape. Received: formulation='taps'",
        ),
        (
            (1, 5, 5, 3),
            (3, 3, 3, 4),
            {"formulation": "pointwise"},
            "formulation must be one of ('im2col', 'taps', 'flat') for this "
            "shape. Received: formulation='pointwise'",
        ),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"formulation": "direct"}, "Received: formulation='direct'"),
        ((1, 5, 5, 3), (3, 3, 3, 4), {"formulation": "fft"}, "Received: formulation='fft'"),
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


@pytest.mark.parametrize("budget", [1, 200, 1 << 19])
@pytest.mark.parametrize(
    "x_shape, kernel_size, dilation, padding, use_bias",
    [
        ((3, 7, 6, 5), (3, 3), 1, "same", True),
        ((2, 9, 8, 4), (3, 2), (2, 1), "valid", False),
        ((2, 5, 6, 7, 8), (3, 3, 3), 1, "same", True),
        ((2, 6, 5, 4, 4), (2, 3, 1), (1, 2, 1), "valid", True),
        ((3, 11, 6), (4,), 2, "same", True),
    ],
)
def test_flat_bands_match_reference(monkeypatch, budget, x_shape, kernel_size, dilation, padding, use_bias):
    """``flat`` in bands of one index of the first axis (budget 1), several, or whole samples;
    a last band shorter than the others; dilation; with and without the bias row."""
    monkeypatch.setattr(conv_module, "FLAT_BLOCK_ELEMENTS", budget)
    rng = np.random.default_rng(11)
    channels, filters = x_shape[-1], 6
    x = rng.standard_normal(x_shape).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, channels, filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32) if use_bias else None
    expected = reference_conv(x, kernel, bias, 1, padding, dilation, 1, "zeros")
    y = conv(x, kernel, bias, padding=padding, dilation_rate=dilation, formulation="flat")
    assert y.dtype == np.float32
    assert_close(y, expected, np.float32)


def test_workspace_is_reused_per_name_and_bounded(monkeypatch):
    im2col = importlib.import_module("convolve.ops.im2col")
    a = im2col.workspace("test-a", 1000, np.float32)
    assert a.shape == (1000,) and a.dtype == np.float32
    assert np.shares_memory(im2col.workspace("test-a", 500, np.float32), a)  # big enough: reused
    assert not np.shares_memory(im2col.workspace("test-b", 1000, np.float32), a)  # another name
    assert not np.shares_memory(im2col.workspace("test-a", 1000, np.float64), a)  # another dtype
    monkeypatch.setattr(im2col, "WORKSPACE_BYTES", 0)
    big = im2col.workspace("test-c", 10, np.float32)  # over the bound: fresh each time
    assert not np.shares_memory(im2col.workspace("test-c", 10, np.float32), big)


@pytest.mark.parametrize("channels", [1, 8, 32])
def test_reused_workspaces_never_alias_results(channels):
    """Outputs and gradients stay fresh arrays: a second call (same or other shapes, which reuse the
    scratch buffers) leaves the first call's results unchanged, and writing into them harms nothing."""
    from convolve.ops.conv import conv_backward

    rng = np.random.default_rng(channels)
    x = rng.standard_normal((4, 12, 11, channels)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, channels, 16)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    g = rng.standard_normal((4, 10, 9, 16)).astype(np.float32)
    y = conv(x, kernel, bias)
    grads = conv_backward(g, x, kernel)
    kept = [y.copy(), *(a.copy() for a in grads)]
    y2 = conv(x * 2, kernel, bias)
    grads2 = conv_backward(g * 3, x * 2, kernel)
    for before, after in zip(kept, [y, *grads]):
        np.testing.assert_array_equal(before, after)
    for first, second in zip([y, *grads], [y2, *grads2]):
        assert not np.shares_memory(first, second)
    np.maximum(y, 0, out=y)  # a layer's in-place relu on the output
    for a in grads:
        a[...] = 0
    np.testing.assert_allclose(conv(x, kernel, bias), kept[0], rtol=1e-5, atol=1e-5)
    for before, after in zip(kept[1:], conv_backward(g, x, kernel)):
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_fill_columns_from_batch_views_matches_per_block_views(fused):
    im2col = importlib.import_module("convolve.ops.im2col")
    rng = np.random.default_rng(3)
    xp = rng.standard_normal((3, 11, 10, 5)).astype(np.float32)
    ksize, out_sizes, strides, dilations = (3, 2), (5, 9), (2, 1), (1, 1)
    views = im2col.batch_views(xp, ksize, out_sizes, strides, dilations, fused)
    plan = im2col.blocks(3, out_sizes, 30, limit=30 * 20)  # bands of one sample
    plan += im2col.blocks(3, out_sizes, 30, limit=30 * 100)  # several samples per block
    for block in plan:
        a = im2col.fill_columns(
            np.empty(6000, np.float32), xp, block, ksize, out_sizes, strides, dilations, fused, ones=True
        )
        b = im2col.fill_columns(
            np.empty(6000, np.float32),
            xp,
            block,
            ksize,
            out_sizes,
            strides,
            dilations,
            fused,
            ones=True,
            views=views,
        )
        np.testing.assert_array_equal(a, b)
