"""Tests for convolve/ops/shapes.py: output sizes, padding amounts, receptive fields."""
from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops import POINTWISE, AxisArithmetic, FieldStep, conv_output_shape, receptive_field_step
from convolve.ops.shapes import axis_names, padding_amounts


def own_rule(padding, n, k, s, d):
    """DESIGN.md's rules, written out again: ((before, after), out) for one axis."""
    ke = d * (k - 1) + 1
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + ke - n, 0)
        pads = (total // 2, total - total // 2)
    else:
        pads = {"valid": (0, 0), "causal": (ke - 1, 0), "full": (ke - 1, ke - 1)}.get(padding, padding)
    return pads, (n + pads[0] + pads[1] - ke) // s + 1


@pytest.mark.parametrize(
    "sizes, kernel, strides, padding, dilation, out, pads",
    [
        ((9, 9), 3, 1, "valid", 1, (7, 7), ((0, 0), (0, 0))),
        ((9, 9), 3, 2, "valid", 1, (4, 4), ((0, 0), (0, 0))),
        ((9, 9), 3, 3, "valid", 1, (3, 3), ((0, 0), (0, 0))),
        ((9, 9), 3, 1, "same", 1, (9, 9), ((1, 1), (1, 1))),
        ((9, 9), 3, 2, "same", 1, (5, 5), ((1, 1), (1, 1))),
        ((512, 512), 3, (2, 1), "valid", 1, (255, 510), ((0, 0), (0, 0))),
        ((512, 512), (3, 3), (2, 1), "same", 1, (256, 512), ((0, 1), (1, 1))),
        ((28, 28), 5, 1, "full", 1, (32, 32), ((4, 4), (4, 4))),
        ((10,), 3, 1, "causal", 2, (10,), ((4, 0),)),
        ((10,), 3, 2, "causal", 1, (5,), ((2, 0),)),
        ((7, 8), 3, 1, 1, 1, (7, 8), ((1, 1), (1, 1))),
        ((7, 8), 3, 1, (0, 2), 1, (5, 10), ((0, 0), (2, 2))),
        ((7, 8), 3, 1, ((1, 0), (0, 3)), 1, (6, 9), ((1, 0), (0, 3))),
        ((7, 8), 3, 1, (2, (0, 1)), 1, (9, 7), ((2, 2), (0, 1))),
        ((10, 10), 3, 1, "valid", (2, 3), (6, 4), ((0, 0), (0, 0))),
        ((4, 5, 6), (2, 3, 1), (1, 2, 3), "valid", 1, (3, 2, 2), ((0, 0),) * 3),
        ((4, 5, 6), 3, 2, "same", 1, (2, 3, 3), ((0, 1), (1, 1), (0, 1))),
        ((1, 1), 3, 1, "same", 1, (1, 1), ((1, 1), (1, 1))),
        ((3,), 5, 1, "full", 1, (7,), ((4, 4),)),
    ],
)
def test_output_shape_values(sizes, kernel, strides, padding, dilation, out, pads):
    assert conv_output_shape(sizes, kernel, strides, padding, dilation) == (out, pads)


@pytest.mark.parametrize(
    "n, k, s, d, pads, out",
    [
        # 'same', worked out by hand: out = ceil(n / s), total = (out - 1) s + (k - 1) d + 1 - n
        (10, 3, 2, 1, (0, 1), 5),  # total 1: the extra pixel after
        (7, 3, 2, 1, (1, 1), 4),
        (10, 4, 1, 1, (1, 2), 10),
        (10, 3, 1, 2, (2, 2), 10),
        (9, 3, 2, 2, (2, 2), 5),
        (8, 3, 3, 2, (1, 2), 3),
        (5, 3, 3, 2, (1, 2), 2),
        (4, 3, 2, 3, (2, 3), 2),  # effective kernel 7 on 4 pixels
        (6, 2, 2, 3, (1, 1), 3),
        (9, 2, 2, 3, (1, 2), 5),
        (11, 2, 4, 2, (0, 0), 3),  # total exactly 0
        (6, 1, 4, 1, (0, 0), 2),  # total would be -1: clipped to 0
        (5, 2, 2, 1, (0, 1), 3),
    ],
)
def test_same_split_tensorflow_rule(n, k, s, d, pads, out):
    assert conv_output_shape((n,), k, s, "same", d) == ((out,), (pads,))
    assert padding_amounts("same", n, k, s, d) == pads


@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    data=st.data(),
)
def test_output_shape_follows_the_rules(sizes, data):
    rank = len(sizes)
    kernel = data.draw(st.tuples(*[st.integers(1, 7)] * rank))
    strides = data.draw(st.tuples(*[st.integers(1, 5)] * rank))
    dilation = data.draw(st.tuples(*[st.integers(1, 4)] * rank))
    names = ["same", "full", "valid"] + (["causal"] if rank == 1 else [])
    pairs = st.tuples(*[st.tuples(st.integers(0, 5), st.integers(0, 5))] * rank)
    padding = data.draw(st.one_of(st.sampled_from(names), pairs))
    expected = [
        own_rule(
            padding if isinstance(padding, str) else padding[a], sizes[a], kernel[a], strides[a], dilation[a]
        )
        for a in range(rank)
    ]
    if any(out < 1 for _, out in expected):
        with pytest.raises(ValueError, match="the output would be empty"):
            conv_output_shape(sizes, kernel, strides, padding, dilation)
        return
    outs, pads, records = conv_output_shape(sizes, kernel, strides, padding, dilation, explain=True)
    assert outs == tuple(out for _, out in expected)
    assert pads == tuple(p for p, _ in expected)
    if padding == "same":
        assert outs == tuple(-(-n // s) for n, s in zip(sizes, strides))
        assert all(before <= after <= before + 1 for before, after in pads)
    assert [(r.input, r.kernel, r.stride, r.dilation, r.before, r.after, r.output) for r in records] == [
        (n, k, s, d, b, a, o) for n, k, s, d, (b, a), o in zip(sizes, kernel, strides, dilation, pads, outs)
    ]


def test_explain_records():
    outs, pads, records = conv_output_shape((9, 10), 3, (2, 1), "same", (1, 2), explain=True)
    assert (outs, pads) == ((5, 10), ((1, 1), (2, 2)))
    height, width = records
    assert height == AxisArithmetic("height", 9, 3, 2, 1, "same", 1, 1, 5)
    assert width == AxisArithmetic("width", 10, 3, 1, 2, "same", 2, 2, 10)
    assert (height.effective_kernel, width.effective_kernel) == (3, 5)
    assert height.formula() == "floor((9 + 1 + 1 - 3) / 2) + 1"
    assert str(height) == (
        "height: input 9, kernel 3, stride 2, padding same (1 before, 1 after) → output 5 = "
        "floor((9 + 1 + 1 - 3) / 2) + 1"
    )
    assert str(width) == (
        "width: input 10, kernel 3, dilation 2 (effective kernel 5), padding same (2 before, 2 after) "
        "→ output 10 = floor((10 + 2 + 2 - 5) / 1) + 1"
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        height.output = 6


@pytest.mark.parametrize(
    "args, text",
    [
        (
            ((5,), 3, 1, "valid"),
            "length: input 5, kernel 3, padding valid → output 3 = floor((5 + 0 + 0 - 3) / 1) + 1",
        ),
        (
            ((5,), 3, 1, ((2, 0),)),
            "length: input 5, kernel 3, padding explicit (2 before, 0 after) → output 5 = "
            "floor((5 + 2 + 0 - 3) / 1) + 1",
        ),
        (
            ((5,), 3, 1, 0),
            "length: input 5, kernel 3, padding explicit → output 3 = floor((5 + 0 + 0 - 3) / 1) + 1",
        ),
        (
            ((5,), 3, 1, "causal"),
            "length: input 5, kernel 3, padding causal (2 before, 0 after) → output 5 = "
            "floor((5 + 2 + 0 - 3) / 1) + 1",
        ),
        (
            ((3,), 1, 1, "same"),
            "length: input 3, kernel 1, padding same → output 3 = floor((3 + 0 + 0 - 1) / 1) + 1",
        ),
        (
            ((6,), 2, 3, "full", 2),
            "length: input 6, kernel 2, dilation 2 (effective kernel 3), stride 3, padding full "
            "(2 before, 2 after) "
            "→ output 3 = floor((6 + 2 + 2 - 3) / 3) + 1",
        ),
    ],
)
def test_axis_arithmetic_str(args, text):
    _, _, [record] = conv_output_shape(*args, explain=True)
    assert str(record) == text


def test_axis_names():
    assert axis_names(1) == ("length",)
    assert axis_names(2) == ("height", "width")
    assert axis_names(3) == ("depth", "height", "width")
    assert axis_names(4) == ("axis 0", "axis 1", "axis 2", "axis 3")
    _, _, records = conv_output_shape((4, 5, 6), 1, explain=True)
    assert [r.axis for r in records] == ["depth", "height", "width"]


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (((3, 10), 5), {}, "the output would be empty: height: input 3, kernel 5, padding valid → output -1"),
        (
            ((10, 3), 5),
            {},
            "width: input 3, kernel 5, padding valid → output -1 = floor((3 + 0 + 0 - 5) / 1) + 1. "
            "The input is too small for this kernel; use padding='same' or a smaller kernel, stride or "
            "dilation.",
        ),
        (
            ((4,), 3),
            {"dilation_rate": 2},
            "length: input 4, kernel 3, dilation 2 (effective kernel 5), padding valid → output 0",
        ),
        (((2, 9, 9), 3, 2), {}, "depth: input 2, kernel 3, stride 2, padding valid → output 0"),
        (
            ((2, 9), 5),
            {"padding": ((1, 0), 0)},
            "height: input 2, kernel 5, padding explicit (1 before, 0 after) → output -1",
        ),
        (
            ((3, 10), 5),
            {"where": "Conv2D 'conv2d'"},
            "Conv2D 'conv2d': the output would be empty: height: input 3, kernel 5",
        ),
    ],
)
def test_empty_output_error_shows_the_arithmetic(args, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        conv_output_shape(*args, **kwargs)


@pytest.mark.parametrize(
    "kwargs, exception, message",
    [
        (
            {"kernel_sizes": 0},
            ValueError,
            "the `kernel_size` argument must contain only positive integers. Received: kernel_size=0",
        ),
        ({"kernel_sizes": (3, -1)}, ValueError, "Received: kernel_size=(3, -1)"),
        (
            {"kernel_sizes": 2.5},
            TypeError,
            "the `kernel_size` argument must be an int or a tuple of 2 ints. Received: kernel_size=2.5",
        ),
        ({"kernel_sizes": True}, TypeError, "Received: kernel_size=True"),
        ({"kernel_sizes": (3, True)}, ValueError, "a tuple of 2 ints. Received: kernel_size=(3, True)"),
        ({"kernel_sizes": (3, 3, 3)}, ValueError, "a tuple of 2 ints. Received: kernel_size=(3, 3, 3)"),
        (
            {"strides": (1, 0)},
            ValueError,
            "`strides` argument must contain only positive integers. Received: strides=(1, 0)",
        ),
        (
            {"dilation_rate": 0.5},
            TypeError,
            "`dilation_rate` argument must be an int or a tuple of 2 ints. Received: dilation_rate=0.5",
        ),
        ({"padding": "causal"}, ValueError, "padding='causal' is only for 1-D convolutions"),
        ({"padding": "tight"}, ValueError, "Received: padding='tight'"),
        ({"strides": 0, "where": "MaxPool2D 'p'"}, ValueError, "MaxPool2D 'p': the `strides` argument"),
    ],
)
def test_argument_errors(kwargs, exception, message):
    kwargs = {"input_sizes": (8, 8), "kernel_sizes": 3, **kwargs}
    with pytest.raises(exception, match=re.escape(message)):
        conv_output_shape(**kwargs)


@pytest.mark.parametrize(
    "padding, n, k, s, d, expected",
    [
        ("valid", 9, 3, 1, 1, (0, 0)),
        ("same", 9, 3, 1, 1, (1, 1)),
        ("same", 9, 4, 1, 1, (1, 2)),
        ("causal", 9, 3, 1, 3, (6, 0)),
        ("full", 9, 3, 2, 2, (4, 4)),
        ((2, 5), 9, 3, 1, 1, (2, 5)),
    ],
)
def test_padding_amounts(padding, n, k, s, d, expected):
    assert padding_amounts(padding, n, k, s, d) == expected


@pytest.mark.parametrize(
    "layers, field, jump",
    [
        # (kernel, stride, dilation) per layer
        ([(3, 1, 1)], (3, 3), (1, 1)),
        ([(3, 1, 1), (3, 1, 1)], (5, 5), (1, 1)),
        ([(3, 1, 1), (2, 2, 1), (3, 1, 1)], (8, 8), (2, 2)),  # conv, pool, conv: 3 -> 4 -> 4 + 2 * 2
        ([(3, 1, 2)], (5, 5), (1, 1)),
        ([(3, 2, 1), (3, 2, 1), (3, 2, 1)], (15, 15), (8, 8)),  # 3, 3 + 2*2, 7 + 2*4
        ([((3, 5), (2, 1), 1), ((1, 3), 1, (1, 2))], (3, 9), (2, 1)),
    ],
)
def test_receptive_field_step(layers, field, jump):
    rank = 2
    r, j = (1,) * rank, (1,) * rank
    for kernel, stride, dilation in layers:
        r, j = receptive_field_step(r, j, kernel, stride, dilation)
    assert (r, j) == (field, jump)


def test_receptive_field_step_1d_and_errors():
    assert receptive_field_step((1,), (1,), 7, 2) == ((7,), (2,))
    assert receptive_field_step((7,), (2,), 3, 2, 2) == ((15,), (4,))
    with pytest.raises(ValueError, match=re.escape("Received: kernel_size=0")):
        receptive_field_step((1, 1), (1, 1), 0, 1)


def test_field_steps_of_upsampling_and_pointwise_layers():
    # upsampling: neighbouring outputs sit half an input jump apart, the field is unchanged
    assert receptive_field_step((3, 3), (2, 2), *FieldStep(upsample=2)) == ((3, 3), (1.0, 1.0))
    # a transposed convolution's kernel reaches `widen` more inputs: r + widen * j
    assert receptive_field_step((5,), (4,), *FieldStep(upsample=(2,), widen=(1,))) == ((9,), (2.0,))
    assert receptive_field_step((5, 5), (2, 2), *POINTWISE) == ((5, 5), (2, 2))
    # a window step given as a FieldStep equals the plain call
    step = FieldStep(kernel_size=(3, 5), strides=(2, 1), dilation_rate=(1, 2))
    assert receptive_field_step((1, 1), (1, 1), *step) == receptive_field_step(
        (1, 1), (1, 1), (3, 5), (2, 1), (1, 2)
    )
    with pytest.raises(ValueError, match=re.escape("Received: widen=-1")):
        receptive_field_step((1,), (1,), *FieldStep(widen=-1))
