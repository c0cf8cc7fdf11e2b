"""ONNX export of convolutions, transposed convolutions and pooling over hypothesis-drawn
configurations (strides 1-3, dilation 1-2, padding valid/same/int/full/pairs, kernels 1-4, both
layouts, groups, padding modes), each run by ONNX Runtime against convolve's predict.

The models are one layer on a few pixels, so a session costs little; the example counts
are modest to keep the suite fast.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convolve import layers as L
from convolve.models import Sequential
from convolve.ops.shapes import conv_output_shape, conv_transpose_output_shape
from tests.saving.test_onnx_export import assert_matches, randomize

pytestmark = [pytest.mark.onnx, pytest.mark.onnxruntime]

EXAMPLES = 40


@st.composite
def conv_configs(draw):
    rank = draw(st.sampled_from([1, 2, 2, 3]))
    kernel = tuple(draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    strides = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    padding = draw(
        st.sampled_from(["valid", "same", "full", 1, 2, "pairs"] + (["causal"] if rank == 1 else []))
    )
    if padding == "pairs":
        padding = tuple(tuple(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2))) for _ in range(rank))
    groups = draw(st.sampled_from([1, 1, 2]))
    channels = groups * draw(st.integers(1, 2))
    filters = groups * draw(st.integers(1, 2))
    # sizes around the effective kernel: some too small for 'valid' (convolve refuses those too)
    spatial = tuple(
        max(1, dilation * (k - 1) - 1 + draw(st.integers(0, 4 if rank < 3 else 2))) for k in kernel
    )
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    return dict(rank=rank, kernel=kernel, strides=strides, dilation=dilation, padding=padding, groups=groups,
                channels=channels, filters=filters, spatial=spatial, data_format=data_format, mode=mode)


def _input_shape(spatial, channels, data_format):
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


@settings(max_examples=EXAMPLES)
@given(cfg=conv_configs(), seed=st.integers(0, 1000))
def test_conv_configurations(cfg, seed):
    try:
        conv_output_shape(cfg["spatial"], cfg["kernel"], cfg["strides"], cfg["padding"], cfg["dilation"])
    except ValueError:
        assume(False)  # an empty output: convolve refuses it too
    layer = getattr(L, f"Conv{cfg['rank']}D")(
        cfg["filters"], cfg["kernel"], strides=cfg["strides"], padding=cfg["padding"],
        dilation_rate=cfg["dilation"], groups=cfg["groups"], data_format=cfg["data_format"],
        padding_mode=cfg["mode"],
    )
    shape = _input_shape(cfg["spatial"], cfg["channels"], cfg["data_format"])
    model = randomize(Sequential([L.Input(shape), layer]), seed)
    x = np.random.default_rng(seed).normal(size=(2, *shape)).astype(np.float32)
    assert_matches(model, x)


@settings(max_examples=EXAMPLES)
@given(cfg=conv_configs(), multiplier=st.integers(1, 2), separable=st.booleans(), seed=st.integers(0, 1000))
def test_depthwise_and_separable_configurations(cfg, multiplier, separable, seed):
    rank = min(cfg["rank"], 2)
    kernel, spatial = cfg["kernel"][:rank], cfg["spatial"][:rank]
    padding = cfg["padding"] if not isinstance(cfg["padding"], tuple) else cfg["padding"][:rank]
    assume(not (padding == "causal" and rank != 1))
    try:
        conv_output_shape(spatial, kernel, cfg["strides"], padding, cfg["dilation"])
    except ValueError:
        assume(False)
    options = dict(strides=cfg["strides"], padding=padding, dilation_rate=cfg["dilation"],
                   depth_multiplier=multiplier, data_format=cfg["data_format"], padding_mode=cfg["mode"])
    if separable:
        layer = getattr(L, f"SeparableConv{rank}D")(cfg["filters"], kernel, **options)
    else:
        layer = getattr(L, f"DepthwiseConv{rank}D")(kernel, **options)
    shape = _input_shape(spatial, cfg["channels"], cfg["data_format"])
    model = randomize(Sequential([L.Input(shape), layer]), seed)
    x = np.random.default_rng(seed).normal(size=(3, *shape)).astype(np.float32)
    assert_matches(model, x)


@settings(max_examples=EXAMPLES)
@given(
    rank=st.sampled_from([1, 2, 2, 3]), kernel=st.integers(1, 4), strides=st.integers(1, 3),
    dilation=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]), output_padding=st.integers(-1, 2),
    size=st.integers(1, 4), data_format=st.sampled_from(["channels_last", "channels_first"]),
    seed=st.integers(0, 1000),
)
def test_conv_transpose_configurations(rank, kernel, strides, dilation, padding, output_padding, size,
                                       data_format, seed):
    out_pad = None if output_padding < 0 else output_padding
    assume(out_pad is None or out_pad < strides)
    spatial = (size,) * rank
    try:
        conv_transpose_output_shape(spatial, kernel, strides, padding, out_pad, dilation)
    except ValueError:
        assume(False)  # 'same' with an even effective kernel and output_padding 0, as TensorFlow refuses
    layer = getattr(L, f"Conv{rank}DTranspose")(
        2, kernel, strides=strides, padding=padding, output_padding=out_pad, dilation_rate=dilation,
        data_format=data_format,
    )
    shape = _input_shape(spatial, 3, data_format)
    model = randomize(Sequential([L.Input(shape), layer]), seed)
    x = np.random.default_rng(seed).normal(size=(2, *shape)).astype(np.float32)
    assert_matches(model, x)


@settings(max_examples=EXAMPLES)
@given(
    rank=st.sampled_from([1, 2, 3]), pool=st.integers(1, 3), strides=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]), average=st.booleans(), size=st.integers(1, 6),
    data_format=st.sampled_from(["channels_last", "channels_first"]), seed=st.integers(0, 1000),
)
def test_pooling_configurations(rank, pool, strides, padding, average, size, data_format, seed):
    spatial = (size,) * rank
    try:
        conv_output_shape(spatial, pool, strides, padding)
    except ValueError:
        assume(False)
    kind = "AveragePooling" if average else "MaxPooling"
    layer = getattr(L, f"{kind}{rank}D")(pool, strides=strides, padding=padding, data_format=data_format)
    shape = _input_shape(spatial, 2, data_format)
    model = Sequential([L.Input(shape), layer])
    x = np.random.default_rng(seed).normal(size=(2, *shape)).astype(np.float32)
    assert_matches(model, x)
