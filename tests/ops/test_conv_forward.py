"""Every forward formulation (pointwise.py, im2col.py, flat.py, direct.py) against the
plain-loop definition, in float64 and float32, on hypothesis-drawn configurations and on
larger fixed ones; the taps oracle against the same definition; PyTorch when installed."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import assume, given

from convolve.ops import PADDING_MODES, applicable_formulations, choose_formulation, conv
from tests import helpers
from tests.helpers import assert_close, requires_torch
from tests.ops.conv_reference import (
    as_tuple,
    conv_configs,
    read_only,
    reference_conv,
    reference_pads,
    to_channels_first,
)
from tests.ops.conv_taps import taps_conv

flat = importlib.import_module("convolve.ops.conv.flat")


@given(cfg=conv_configs())
def test_every_formulation_matches_reference(cfg):
    x, kernel, bias = cfg.arrays()
    expected = reference_conv(
        x, kernel, bias, cfg.strides, cfg.padding, cfg.dilation_rate, cfg.groups, cfg.padding_mode
    )
    formulations = applicable_formulations(
        cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups, cfg.dilation_tuple
    )
    assert "im2col" in formulations
    assert choose_formulation(
        cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups, dilations=cfg.dilation_tuple
    ) in formulations
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


@given(cfg=conv_configs())
def test_taps_oracle_matches_reference(cfg):
    """The second oracle (tests/ops/conv_taps.py) agrees with the loop definition wherever it
    applies (stride 1, one group), so tests may use it on shapes too large for plain loops."""
    assume(cfg.groups == 1 and all(s == 1 for s in cfg.stride_tuple))
    x, kernel, bias = cfg.arrays()
    expected = reference_conv(x, kernel, bias, 1, cfg.padding, cfg.dilation_rate, 1, cfg.padding_mode)
    got = taps_conv(x, kernel, bias, cfg.padding, cfg.dilation_rate, cfg.padding_mode)
    assert_close(got, expected)


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
    formulations = applicable_formulations(
        x_shape[-1], kernel_shape[:rank], as_tuple(strides, rank), groups, as_tuple(dilation, rank)
    )
    if groups == 1 and all(s == 1 for s in as_tuple(strides, rank)):
        assert_close(taps_conv(x, kernel, bias, padding, dilation, padding_mode), expected)
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
    applicable = applicable_formulations(
        cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups, cfg.dilation_tuple
    )
    for formulation in applicable:
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
    for formulation in ("im2col", "flat"):
        y = conv(x, kernel, padding="same", dilation_rate=dilation, formulation=formulation)
        assert_close(np.moveaxis(y, -1, 1), expected)
    assert_close(np.moveaxis(taps_conv(x, kernel, padding="same", dilation_rate=dilation), -1, 1), expected)


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
    monkeypatch.setattr(flat, "FLAT_BLOCK_ELEMENTS", budget)
    rng = np.random.default_rng(11)
    channels, filters = x_shape[-1], 6
    x = rng.standard_normal(x_shape).astype(np.float32)
    kernel = rng.standard_normal((*kernel_size, channels, filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32) if use_bias else None
    expected = reference_conv(x, kernel, bias, 1, padding, dilation, 1, "zeros")
    y = conv(x, kernel, bias, padding=padding, dilation_rate=dilation, formulation="flat")
    assert y.dtype == np.float32
    assert_close(y, expected, np.float32)


