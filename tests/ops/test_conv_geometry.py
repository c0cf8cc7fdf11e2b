"""geometry.py: the padding against the loop reference's index mapping, its gradient as the
adjoint, and ConvGeometry's derived sizes."""
from __future__ import annotations

import importlib
from itertools import product

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops import PADDING_MODES
from convolve.ops.conv import ConvGeometry, pad, pad_backward
from convolve.ops.conv.geometry import check_conv, window
from tests.helpers import using_kernels
from tests.ops.conv_reference import read_only, reference_index

backward = importlib.import_module("convolve.ops.conv.backward")
geometry = importlib.import_module("convolve.ops.conv.geometry")

# --- padding ---------------------------------------------------------------------------


@given(
    rank=st.integers(1, 3), batch=st.integers(1, 3), channels=st.integers(1, 5), data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_compiled_zero_padding_equals_numpys(rank, batch, channels, data, dtype):
    """Zero padding by the compiled kernel (geometry.pad, and backward.padded_scratch into its
    workspace) equals numpy.pad, on both kernel paths; the input is never written. Large inputs
    (COMPILED_PAD_MIN) go through it in the conv tests' larger cases too."""
    sizes = data.draw(st.tuples(*[st.integers(1, 6)] * rank))
    pads = data.draw(st.tuples(*[st.tuples(st.integers(0, 3), st.integers(0, 3))] * rank))
    x = read_only(np.random.default_rng(0).standard_normal((batch, *sizes, channels)).astype(dtype))
    expected = np.pad(x, ((0, 0), *pads, (0, 0)))
    for name in ("numpy", "numba"):
        with using_kernels(name), pytest.MonkeyPatch.context() as patch:
            for module in (geometry, backward):  # the compiled pass for any size, not only large ones
                patch.setattr(module, "COMPILED_PAD_MIN", 0)
            for padded in (pad(x, pads), backward.padded_scratch(x, pads)):
                assert padded.dtype == dtype
                np.testing.assert_array_equal(padded, expected)


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


@pytest.mark.parametrize("mode", PADDING_MODES)
def test_pad_backward_is_the_adjoint_of_pad(mode):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 3))
    pads = ((2, 1), (0, 3))
    g = rng.standard_normal(pad(x, pads, mode).shape)
    # <pad(x), g> == <x, pad_backward(g)> for a linear map and its adjoint
    assert abs(np.sum(pad(x, pads, mode) * g) - np.sum(x * pad_backward(g, pads, mode, (4, 5)))) < 1e-10


# --- ConvGeometry ---------------------------------------------------------------------------


def test_geometry_sizes_offsets_and_windows():
    geometry = ConvGeometry(
        kernel_size=(3, 2), strides=(2, 1), dilations=(1, 2), pads=((1, 2), (0, 1)), in_sizes=(7, 5),
        out_sizes=(4, 4),
    )
    assert geometry.rank == 2 and geometry.taps == 6 and geometry.padded_sizes == (10, 6)
    assert geometry.tap_positions() == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    row_strides, offsets = geometry.flat_offsets(geometry.padded_sizes)
    assert row_strides == [6, 1] and offsets == [0, 2, 6, 8, 12, 14]
    x_padded = np.arange(60.0).reshape(1, 10, 6, 1)
    for tap in geometry.tap_positions():
        tap_window = window(x_padded, tap, geometry)
        assert tap_window.shape == (1, 4, 4, 1) and np.shares_memory(tap_window, x_padded)
        for row, col in np.ndindex(4, 4):
            assert tap_window[0, row, col, 0] == x_padded[0, row * 2 + tap[0], col + tap[1] * 2, 0]


def test_check_conv_resolves_the_geometry_once():
    args = check_conv(
        np.ones((2, 3, 7, 5), np.float32), np.ones((3, 2, 1, 6)), np.zeros(6), (2, 1), "same", (1, 2), 3,
        "channels_first", "reflect", "conv",
    )
    assert args.geometry == ConvGeometry(
        kernel_size=(3, 2), strides=(2, 1), dilations=(1, 2), pads=((1, 1), (1, 1)), in_sizes=(7, 5),
        out_sizes=(4, 5), groups=3, padding_mode="reflect",
    )
    assert args.x.shape == (2, 7, 5, 3) and args.data_format == "channels_first"
    assert args.x.dtype == args.kernel.dtype == args.bias.dtype == np.float64
    assert (args.channels, args.filters) == (3, 6)
