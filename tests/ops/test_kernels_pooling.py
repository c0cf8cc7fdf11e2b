"""ops/kernels/pooling.py: max pooling's compiled forward (with the winners) and backward (their
scatter), against the NumPy taps and tests/ops/test_pooling.py's plain-loop references, on
hypothesis-drawn 1-, 2- and 3-D cases in both layouts, float32 and float64.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve import autograd
from convolve.layers import MaxPooling2D
from convolve.ops.pooling import max_pool, max_pool_backward, max_pool_with_winners
from tests.helpers import both_kernels, using_kernels
from tests.ops.test_pooling import (
    backward_cases,
    distinct_values,
    pool_cases,
    reference_max_pool_backward,
    reference_pool,
    to_first,
)


def with_winners(x, *args):
    return max_pool_with_winners(x, *args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=pool_cases(), ties=st.booleans())
def test_forward_equals_the_taps_and_the_loops(dtype, case, ties):
    x_last, pool_size, strides, padding, data_format = case
    x_last = x_last.astype(dtype)
    if ties:
        x_last = np.round(x_last)
    x = np.ascontiguousarray(to_first(x_last)) if data_format == "channels_first" else x_last
    args = (pool_size, strides, padding, data_format)
    reference, compiled = both_kernels(max_pool, x, *args)
    np.testing.assert_array_equal(compiled, reference)
    assert compiled.dtype == np.dtype(dtype) and compiled.flags.c_contiguous
    with using_kernels("numba"):
        y, winners = with_winners(x, *args)
    np.testing.assert_array_equal(y, reference)
    assert winners is not None and winners.dtype == np.int32 and winners.size == y.size
    loops = reference_pool(x_last, pool_size, strides or pool_size, padding, "max")
    last = np.moveaxis(y, 1, -1) if data_format == "channels_first" else y
    np.testing.assert_array_equal(last, loops.astype(dtype))


@given(case=backward_cases(), ties=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_backward_equals_the_reference(case, ties, dtype):
    """The scatter to the forward's winners gives the NumPy backward's gradient (each cell's sum
    in another order where windows overlap: float rounding) and the loops' (ties: first maximum)."""
    x, grad_y, args = case
    x, grad_y = x.astype(dtype), grad_y.astype(dtype)
    if ties:
        x = np.round(x)  # many equal maxima
    with using_kernels("numpy"):
        reference = max_pool_backward(grad_y, x, *args)
    with using_kernels("numba"):
        y, winners = with_winners(x, *args)
        compiled = max_pool_backward(grad_y, x, *args, y=y, winners=winners)
    assert compiled.dtype == reference.dtype and compiled.flags.c_contiguous
    tolerance = {"rtol": 4 * np.finfo(dtype).eps, "atol": 8 * np.finfo(dtype).eps}
    np.testing.assert_allclose(compiled, reference, **tolerance)
    pool_size, strides, padding, data_format = args
    last = (lambda a: np.moveaxis(a, 1, -1)) if data_format == "channels_first" else (lambda a: a)
    loops = reference_max_pool_backward(last(grad_y), last(x), pool_size, strides or pool_size, padding)
    np.testing.assert_allclose(last(compiled), loops, **tolerance)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_nan_wins_its_window_first_nan_first(data_format):
    x = distinct_values((2, 6, 6, 3), np.random.default_rng(0))
    x.flat[::7] = np.nan
    if data_format == "channels_first":
        x = to_first(x).copy()
    args = ((2, 2), None, "valid", data_format)
    y_ref, y = both_kernels(max_pool, x, *args)
    np.testing.assert_array_equal(y, y_ref)  # NaN where the window has one
    grad_y = np.random.default_rng(1).standard_normal(y.shape)
    with using_kernels("numpy"):
        reference = max_pool_backward(grad_y, x, *args)
    with using_kernels("numba"):
        y, winners = with_winners(x, *args)
        np.testing.assert_array_equal(max_pool_backward(grad_y, x, *args, winners=winners), reference)


def test_gradient_by_finite_differences():
    """Overlapping 3x3 windows with stride 2 and 'same' padding, float64, distinct values."""
    rng = np.random.default_rng(2)
    x = distinct_values((2, 7, 6, 3), rng)
    args = ((3, 3), (2, 2), "same", "channels_last")
    with using_kernels("numba"):
        y, winners = with_winners(x, *args)
        g = rng.standard_normal(y.shape)
        grad = max_pool_backward(g, x, *args, winners=winners)
        numeric = np.zeros_like(x)
        h = 1e-6
        for i in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[i] = h
            numeric[i] = np.sum(g * (max_pool(x + step, *args) - max_pool(x - step, *args))) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-8)


def test_the_tape_keeps_the_winners_and_the_gradient_agrees():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8, 8, 5)).astype(np.float32)
    layer = MaxPooling2D(2)
    grads = []
    for name in ("numpy", "numba"):
        with using_kernels(name), autograd.GradientTape() as tape:
            xt = tape.watch(x)
            y = layer(xt)
            grads.append(tape.gradient(y, [xt], output_gradient=np.ones(y.shape, np.float32))[0])
    np.testing.assert_array_equal(grads[1], grads[0])


def test_backward_switches_to_numpy_when_the_kernels_change_between_passes():
    """Winners from the kernel are ignored by a NumPy backward; a NumPy forward keeps none."""
    x = distinct_values((1, 4, 4, 2), np.random.default_rng(4))
    args = ((2, 2), None, "valid", "channels_last")
    with using_kernels("numba"):
        y, winners = with_winners(x, *args)
    g = np.ones_like(y)
    with using_kernels("numpy"):
        reference = max_pool_backward(g, x, *args)
        np.testing.assert_array_equal(max_pool_backward(g, x, *args, winners=winners), reference)
        assert with_winners(x, *args)[1] is None


def test_inputs_are_untouched_and_strided_input_takes_the_taps():
    x = distinct_values((2, 6, 6, 4), np.random.default_rng(5))
    before = x.copy()
    strided = x[:, :, :, ::2]
    args = ((2, 2), None, "same", "channels_last")
    reference, compiled = both_kernels(with_winners, strided, *args)
    np.testing.assert_array_equal(compiled[0], reference[0])
    assert compiled[1] is None  # not C-contiguous: the NumPy path
    with using_kernels("numba"):
        y, winners = with_winners(x, *args)
        max_pool_backward(np.ones_like(y), x, *args, winners=winners)
    np.testing.assert_array_equal(x, before)


def test_wrong_winners_are_refused():
    x = distinct_values((1, 4, 4, 2), np.random.default_rng(6))
    args = ((2, 2), None, "valid", "channels_last")
    g = np.ones((1, 2, 2, 2))
    with using_kernels("numba"), pytest.raises(
        ValueError,
        match=r"max_pool_backward: `winners` must be the int32 array max_pool_with_winners returned with "
        r"the forward's output, one entry per output \(8\)\. Received: an array of 4 int64",
    ):
        max_pool_backward(g, x, *args, winners=np.zeros(4, dtype=np.int64))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_empty_batch(data_format):
    x = np.zeros((0, 4, 4, 2) if data_format == "channels_last" else (0, 2, 4, 4), np.float32)
    with using_kernels("numba"):
        y, winners = with_winners(x, 2, None, "valid", data_format)
        grad = max_pool_backward(np.zeros_like(y), x, 2, None, "valid", data_format, winners=winners)
    assert y.shape == ((0, 2, 2, 2) if data_format == "channels_last" else (0, 2, 2, 2))
    assert grad.shape == x.shape
