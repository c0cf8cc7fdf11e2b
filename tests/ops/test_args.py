"""Tests for convolve/ops/args.py: argument normalisation and its messages."""
from __future__ import annotations

import re

import numpy as np
import pytest

from convolve.ops.args import (
    DATA_FORMATS,
    PADDING_MODES,
    PADDINGS,
    check_choice,
    standardize_data_format,
    standardize_padding,
    standardize_padding_mode,
    standardize_tuple,
)


def test_choices():
    assert PADDINGS == ("valid", "same", "causal", "full")
    assert PADDING_MODES == ("zeros", "reflect", "replicate", "circular")
    assert DATA_FORMATS == ("channels_last", "channels_first")


# --- standardize_tuple ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, n, expected",
    [
        (2, 3, (2, 2, 2)),
        (1, 1, (1,)),
        ((1, 2), 2, (1, 2)),
        ([3, 4, 5], 3, (3, 4, 5)),
        (np.int64(2), 2, (2, 2)),
        ((np.int32(3), 1), 2, (3, 1)),
        (np.array([2, 3]), 2, (2, 3)),
        (range(1, 3), 2, (1, 2)),
    ],
)
def test_standardize_tuple(value, n, expected):
    result = standardize_tuple(value, n, "strides")
    assert result == expected
    assert all(type(v) is int for v in result)


def test_standardize_tuple_allow_zero():
    assert standardize_tuple(0, 2, "padding", allow_zero=True) == (0, 0)
    assert standardize_tuple((0, 3), 2, "padding", allow_zero=True) == (0, 3)
    with pytest.raises(ValueError, match=re.escape(
        "the `padding` argument must contain only non-negative integers. Received: padding=(0, -1)"
    )):
        standardize_tuple((0, -1), 2, "padding", allow_zero=True)


@pytest.mark.parametrize(
    "value, exception, message",
    [
        (0, ValueError, "the `strides` argument must contain only positive integers. Received: strides=0"),
        (-2, ValueError, "only positive integers. Received: strides=-2"),
        ((1, 0), ValueError, "only positive integers. Received: strides=(1, 0)"),
        ([2, -1], ValueError, "only positive integers. Received: strides=[2, -1]"),
        (1.5, TypeError, "the `strides` argument must be an int or a tuple of 2 ints. Received: strides=1.5"),
        (2.0, TypeError, "Received: strides=2.0"),
        (True, TypeError, "Received: strides=True"),
        (None, TypeError, "Received: strides=None"),
        (
            (1, 2.0),
            ValueError,
            "the `strides` argument must be an int or a tuple of 2 ints. Received: strides=(1, 2.0)",
        ),
        ((1, True), ValueError, "Received: strides=(1, True)"),
        ((1,), ValueError, "a tuple of 2 ints. Received: strides=(1,)"),
        ((1, 1, 1), ValueError, "a tuple of 2 ints. Received: strides=(1, 1, 1)"),
        ("ab", ValueError, "a tuple of 2 ints. Received: strides='ab'"),
        ((1, None), ValueError, "Received: strides=(1, None)"),
    ],
)
def test_standardize_tuple_errors(value, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        standardize_tuple(value, 2, "strides")


def test_standardize_tuple_names_the_caller():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Conv2D 'conv2d': the `dilation_rate` argument must contain only positive integers. Received: "
            "dilation_rate=0"
        ),
    ):
        standardize_tuple(0, 2, "dilation_rate", "Conv2D 'conv2d'")
    with pytest.raises(
        TypeError,
        match=re.escape("Conv3D 'c': the `kernel_size` argument must be an int or a tuple of 3 ints."),
    ):
        standardize_tuple(1.0, 3, "kernel_size", "Conv3D 'c'")


# --- check_choice, data_format, padding_mode --------------------------------------------


def test_check_choice_lower_cases():
    assert check_choice("SaMe", PADDINGS, "padding") == "same"
    assert check_choice("valid", PADDINGS, "padding") == "valid"


@pytest.mark.parametrize("value", ["sam", "", 3, None, ("same",)])
def test_check_choice_error_lists_the_choices(value):
    message = (
        "the `padding` argument must be one of {'valid', 'same', 'causal', 'full'}. Received: "
        f"padding={value!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_choice(value, PADDINGS, "padding")
    with pytest.raises(ValueError, match=re.escape("Dense 'd': the `padding` argument")):
        check_choice(value, PADDINGS, "padding", where="Dense 'd'")


def test_standardize_data_format():
    assert standardize_data_format(None) == "channels_last"
    assert standardize_data_format("channels_last") == "channels_last"
    assert standardize_data_format("Channels_First") == "channels_first"
    for bad in ("NCHW", "channels-last", 0):
        with pytest.raises(
            ValueError,
            match=re.escape(
                "the `data_format` argument must be one of {'channels_last', 'channels_first'}. Received: "
                f"data_format={bad!r}"
            ),
        ):
            standardize_data_format(bad)
    with pytest.raises(ValueError, match=re.escape("Conv1D 'x': the `data_format`")):
        standardize_data_format("NWC", where="Conv1D 'x'")


@pytest.mark.parametrize("mode", PADDING_MODES)
def test_standardize_padding_mode(mode):
    assert standardize_padding_mode(mode) == mode
    assert standardize_padding_mode(mode.upper()) == mode


@pytest.mark.parametrize("bad", ["zero", "mirror", "constant", "edge", "wrap", None])
def test_standardize_padding_mode_errors(bad):
    message = (
        "the `padding_mode` argument must be one of {'zeros', 'reflect', 'replicate', 'circular'}. "
        f"Received: padding_mode={bad!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        standardize_padding_mode(bad)


# --- standardize_padding ----------------------------------------------------------------


@pytest.mark.parametrize(
    "padding, n, expected",
    [
        ("valid", 2, "valid"),
        ("SAME", 3, "same"),
        ("full", 1, "full"),
        ("causal", 1, "causal"),
        ("Causal", 1, "causal"),
        (0, 2, ((0, 0), (0, 0))),
        (2, 3, ((2, 2), (2, 2), (2, 2))),
        (np.int64(1), 1, ((1, 1),)),
        ((1, 2), 2, ((1, 1), (2, 2))),
        ([0, 3], 2, ((0, 0), (3, 3))),
        (((1, 2), (3, 4)), 2, ((1, 2), (3, 4))),
        ([[1, 0], [0, 2], [3, 3]], 3, ((1, 0), (0, 2), (3, 3))),
        ((1, (0, 2)), 2, ((1, 1), (0, 2))),
        ((4,), 1, ((4, 4),)),
        (((0, 4),), 1, ((0, 4),)),
        (np.array([[1, 2], [3, 4]]), 2, ((1, 2), (3, 4))),
    ],
)
def test_standardize_padding(padding, n, expected):
    result = standardize_padding(padding, n)
    assert result == expected
    if not isinstance(result, str):
        assert all(type(v) is int for pair in result for v in pair)


@pytest.mark.parametrize("n", [2, 3])
def test_causal_is_only_for_1d(n):
    message = (
        f"padding='causal' is only for 1-D convolutions (Conv1D); this one has {n} spatial dimensions. "
        "Received: padding='causal'"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        standardize_padding("causal", n)
    with pytest.raises(ValueError, match=re.escape(f"Conv{n}D 'c': padding='causal'")):
        standardize_padding("causal", n, where=f"Conv{n}D 'c'")


def test_unknown_padding_name():
    with pytest.raises(ValueError, match=re.escape(
        "the `padding` argument must be one of {'valid', 'same', 'causal', 'full'}. Received: padding='sme'"
    )):
        standardize_padding("sme", 2)


EXPECTED_2D = (
    "the `padding` argument must be one of {'valid', 'same', 'causal', 'full'}, a non-negative int, "
    "a tuple of 2 ints, or a tuple of 2 (before, after) pairs."
)


@pytest.mark.parametrize(
    "padding",
    [
        -1,  # a negative int
        1.5,  # not iterable
        None,
        True,  # a bool is not an int here
        (1, 2, 3),  # wrong length
        (1,),
        (1, -1),  # negative per axis
        ((1, 2), (3, -4)),  # negative in a pair
        ((1, 2, 3), (1, 1)),  # a triple
        ((1,), (1, 1)),  # a single
        (1.0, 1),  # a float per axis
        ((1, 2.0), (1, 1)),  # a float in a pair
        ((True, 1), (1, 1)),  # a bool in a pair
        (None, 1),
    ],
)
def test_bad_padding(padding):
    with pytest.raises(ValueError, match=re.escape(f"{EXPECTED_2D} Received: padding={padding!r}")):
        standardize_padding(padding, 2)


def test_bad_padding_names_the_caller_and_rank():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Conv3D 'c': the `padding` argument must be one of {'valid', 'same', 'causal', 'full'}, a "
            "non-negative int, "
            "a tuple of 3 ints, or a tuple of 3 (before, after) pairs. Received: padding=(1, 1)"
        ),
    ):
        standardize_padding((1, 1), 3, where="Conv3D 'c'")
