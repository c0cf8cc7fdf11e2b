"""The one chooser (convolve/ops/conv/__init__.py): which formulation each shape gets, forward
and backward, and that every choice is applicable."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.conv import (
    FORMULATIONS,
    FORWARD,
    ConvGeometry,
    applicable_backward_formulations,
    applicable_formulations,
    backward_plan,
    choose_backward_formulation,
    choose_formulation,
    conv_backward,
)

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
        (64, (3, 3), (1, 1), 1, 64, "winograd4"),  # 2-D 3x3, stride 1, enough channels and filters
        (64, (3, 3), (1, 1), 1, 8, "im2col"),  # too few filters for Winograd
        (64, (3, 3), (1, 1), 1, None, "im2col"),  # filters unknown
        (64, (3, 3), (2, 2), 1, 64, "im2col"),  # strided
        (64, (3, 3, 3), (1, 1, 1), 1, 64, "im2col"),  # 3-D
        (64, (5, 5), (1, 1), 1, 64, "im2col"),
        (64, (3, 3), (1, 1), 2, 64, "im2col"),  # grouped
        (64, (3, 3), (1, 1), 1, 128, "winograd2"),  # more channels: F(4x4)'s float32 error
        (256, (3, 3), (1, 1), 1, 256, "winograd2"),
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
    """With the compiled kernels (the default); without them Winograd is never chosen."""
    assert choose_formulation(in_channels, kernel_size, strides, groups, filters, compiled=True) == expected
    without = choose_formulation(in_channels, kernel_size, strides, groups, filters, compiled=False)
    assert without == ("im2col" if expected.startswith("winograd") else expected)


def test_winograd_is_not_chosen_for_dilated_convolutions():
    assert choose_formulation(64, (3, 3), (1, 1), 1, 64, dilations=(1, 1), compiled=True) == "winograd4"
    assert choose_formulation(64, (3, 3), (1, 1), 1, 64, dilations=(2, 1), compiled=True) == "im2col"
    assert choose_backward_formulation(64, (3, 3), (1, 1), 1, 64, (1, 2), compiled=True) == "flipped"


@pytest.mark.parametrize(
    "in_channels, kernel_size, strides, groups, expected",
    [
        (3, (3, 3), (2, 2), 1, ("im2col",)),
        (3, (3, 3), (1, 1), 1, ("im2col", "flat", "winograd2", "winograd4")),
        (3, (1, 1), (2, 2), 1, ("im2col", "pointwise")),
        (3, (1, 1), (1, 1), 1, ("im2col", "pointwise", "flat")),
        (1, (1, 1), (1, 1), 1, ("im2col", "direct", "pointwise", "flat")),
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
    assert choice in FORMULATIONS


# --- choosing a backward formulation ----------------------------------------------------


@pytest.mark.parametrize(
    "in_channels, kernel_size, strides, groups, filters, expected",
    [
        (32, (3, 3), (1, 1), 1, 64, "winograd4"),  # 2-D 3x3, stride 1, enough channels and filters
        (32, (3, 3), (1, 1), 1, 8, "flipped"),  # stride 1: the input gradient as a forward conv
        (32, (3, 3, 3), (1, 1, 1), 1, 64, "flipped"),
        (256, (3, 3), (1, 1), 1, 256, "winograd2"),
        (1, (3, 3), (1, 1), 1, 32, "im2col"),  # few channels: the flipped conv would have 1 filter
        (3, (3, 3), (1, 1), 1, 32, "im2col"),
        (8, (3, 3, 3), (1, 1, 1), 1, 16, "flipped"),
        (16, (5,), (1,), 1, 32, "flipped"),
        (64, (1, 1), (1, 1), 1, 256, "im2col"),  # 1x1: the same product, without padding g
        (32, (3, 3), (2, 2), 1, 32, "im2col"),  # strided: col2im
        (1, (3, 3), (1, 1), 1, 1, "direct"),  # one channel, one filter: broadcast products
        (1, (3, 3), (2, 1), 1, 1, "direct"),
        (1, (3, 3), (1, 1), 1, None, "direct"),  # filters unknown: one per group, as forward
        (8, (3, 3), (1, 1), 2, 8, "im2col"),  # grouped
        (8, (3, 3), (1, 1), 8, 8, "direct"),  # depthwise
        (8, (3, 3), (2, 2), 8, 16, "direct"),  # depthwise, multiplier 2
    ],
)
def test_choose_backward_formulation(in_channels, kernel_size, strides, groups, filters, expected):
    """With the compiled kernels; without them Winograd's place goes to ``flipped``."""
    args = (in_channels, kernel_size, strides, groups, filters)
    assert choose_backward_formulation(*args, compiled=True) == expected
    without = choose_backward_formulation(*args, compiled=False)
    assert without == ("flipped" if expected.startswith("winograd") else expected)


@pytest.mark.parametrize(
    "in_channels, kernel_size, strides, groups, expected",
    [
        (3, (3, 3), (1, 1), 1, ("im2col", "flipped", "winograd2", "winograd4")),
        (3, (3, 3), (2, 1), 1, ("im2col",)),
        (4, (3,), (1,), 2, ("im2col",)),
        (1, (3, 3), (1, 1), 1, ("im2col", "direct", "flipped", "winograd2", "winograd4")),
        (4, (3,), (2,), 4, ("im2col", "direct")),
    ],
)
def test_applicable_backward_formulations(in_channels, kernel_size, strides, groups, expected):
    assert applicable_backward_formulations(in_channels, kernel_size, strides, groups) == expected


@given(
    st.integers(1, 3).flatmap(
        lambda n: st.tuples(
            st.integers(1, 4),
            st.tuples(*[st.integers(1, 5)] * n),
            st.tuples(*[st.integers(1, 3)] * n),
            st.integers(1, 4),
        )
    )
)
def test_backward_choice_is_always_applicable(shape):
    per_group, kernel_size, strides, groups = shape
    args = (per_group * groups, kernel_size, strides, groups)
    assert choose_backward_formulation(*args) in applicable_backward_formulations(*args)


def test_an_inapplicable_backward_formulation_is_refused():
    with pytest.raises(
        ValueError,
        match=r"conv: the backward formulation must be one of \('im2col',\) for this shape. Received: "
        r"formulation='flipped'",
    ):
        conv_backward(
            np.ones((1, 2, 2, 1)), np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 1)), strides=2,
            formulation="flipped",
        )


def test_backward_plan_takes_the_rest_of_flipped_from_the_forward_rule():
    """'flipped' leaves two choices to choose_formulation: the kernel gradient from flat's columns
    where the forward pass would be flat, and the formulation of the flipped forward convolution
    (F input channels, C filters)."""
    geometry = ConvGeometry(
        kernel_size=(3, 3), strides=(1, 1), dilations=(1, 1), pads=((1, 1), (1, 1)), in_sizes=(8, 8),
        out_sizes=(8, 8),
    )
    plan = backward_plan(geometry, per_group=8, filters=32)
    assert plan.formulation == "flipped" and plan.flat_kernel_gradient
    assert plan.flipped_forward is FORWARD["im2col"]  # 32 input channels
    plan = backward_plan(geometry, per_group=16, filters=4)
    assert plan.formulation == "flipped" and not plan.flat_kernel_gradient
    assert plan.flipped_forward is FORWARD["flat"]  # 4 input channels
    assert backward_plan(geometry, per_group=16, filters=4, formulation="im2col") == ("im2col", False, None)
    depthwise = geometry._replace(groups=4)
    assert backward_plan(depthwise, per_group=1, filters=8) == ("direct", False, None)
