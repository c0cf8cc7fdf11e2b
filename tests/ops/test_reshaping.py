"""Tests for convolve/ops/reshaping.py: loop references, hypothesis, finite differences for the
backwards, PyTorch, errors."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.reshaping import (
    crop,
    crop_backward,
    flatten,
    flatten_backward,
    reshape,
    reshape_backward,
    upsample_nearest,
    upsample_nearest_backward,
    zero_pad,
    zero_pad_backward,
)
from tests.helpers import assert_close, requires_torch, torch
from tests.ops.test_core import assert_gradient

FORMATS = ["channels_last", "channels_first"]

# --- the definitions, with plain loops (channels_last in, channels_last out) ------------------------


def indices(shape):
    return itertools.product(*(range(d) for d in shape))


def reference_zero_pad(x, pairs):
    batch, *sizes, channels = x.shape
    y = np.zeros((batch, *(s + b + a for s, (b, a) in zip(sizes, pairs)), channels))
    for index in indices(x.shape):
        spatial = tuple(i + b for i, (b, _) in zip(index[1:-1], pairs))
        y[(index[0], *spatial, index[-1])] = x[index]
    return y


def reference_crop(x, pairs):
    batch, *sizes, channels = x.shape
    y = np.empty((batch, *(s - b - a for s, (b, a) in zip(sizes, pairs)), channels))
    for index in indices(y.shape):
        spatial = tuple(i + b for i, (b, _) in zip(index[1:-1], pairs))
        y[index] = x[(index[0], *spatial, index[-1])]
    return y


def reference_upsample(x, size):
    batch, *sizes, channels = x.shape
    y = np.empty((batch, *(s * r for s, r in zip(sizes, size)), channels))
    for index in indices(y.shape):
        spatial = tuple(i // r for i, r in zip(index[1:-1], size))
        y[index] = x[(index[0], *spatial, index[-1])]
    return y


def reference_flatten(x):
    """channels_last (N, ...) -> (N, prod(...)), values read in row-major order."""
    y = np.empty((x.shape[0], math.prod(x.shape[1:])))
    for b in range(x.shape[0]):
        for k, index in enumerate(indices(x.shape[1:])):
            y[b, k] = x[(b, *index)]
    return y


def reference_reshape(x, target):
    """Fill (N, *target) in row-major order with each sample's values in row-major order."""
    flat = reference_flatten(x)
    y = np.empty((x.shape[0], *target))
    for b in range(x.shape[0]):
        for k, index in enumerate(indices(target)):
            y[(b, *index)] = flat[b, k]
    return y


# --- helpers to call ops in either data format on channels_last data --------------------------------


def call(op, x_last, data_format, *args):
    if data_format == "channels_first":
        y = op(np.moveaxis(x_last, -1, 1), *args, data_format=data_format)
        return np.moveaxis(y, 1, -1)
    return op(x_last, *args, data_format=data_format)


@st.composite
def spatial_inputs(draw, min_size=1):
    n = draw(st.sampled_from([1, 2, 3]))
    sizes = tuple(draw(st.integers(min_size, min_size + 3)) for _ in range(n))
    shape = (draw(st.integers(1, 2)), *sizes, draw(st.integers(1, 3)))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    return x, draw(st.sampled_from(FORMATS)), draw(st.sampled_from([np.float64, np.float32]))


@st.composite
def pair_arguments(draw, n, bound):
    """One of Keras' four spellings, and the (before, after) pairs it means."""
    form = draw(st.sampled_from(["int", "ints", "pairs", "pair1d"] if n == 1 else ["int", "ints", "pairs"]))
    if form == "int":
        p = draw(st.integers(0, bound))
        return p, ((p, p),) * n
    if form == "ints":
        ps = tuple(draw(st.integers(0, bound)) for _ in range(n))
        return ps, tuple((p, p) for p in ps)
    pairs = tuple((draw(st.integers(0, bound)), draw(st.integers(0, bound))) for _ in range(n))
    return (pairs[0] if form == "pair1d" else pairs), pairs


@given(case=spatial_inputs(), data=st.data())
def test_zero_pad_matches_reference(case, data):
    x, data_format, dtype = case
    x = x.astype(dtype)
    padding, pairs = data.draw(pair_arguments(x.ndim - 2, 3))
    y = call(zero_pad, x, data_format, padding)
    assert y.dtype == dtype
    assert_close(y, reference_zero_pad(x, pairs), dtype)


@given(case=spatial_inputs(min_size=3), data=st.data())
def test_crop_matches_reference(case, data):
    x, data_format, dtype = case
    x = x.astype(dtype)
    n = x.ndim - 2
    cropping, pairs = data.draw(
        pair_arguments(n, 3).filter(lambda c: all(s - b - a >= 1 for s, (b, a) in zip(x.shape[1:-1], c[1])))
    )
    y = call(crop, x, data_format, cropping)
    assert y.dtype == dtype
    assert_close(y, reference_crop(x, pairs), dtype)


@given(case=spatial_inputs(), data=st.data())
def test_upsample_matches_reference(case, data):
    x, data_format, dtype = case
    x = x.astype(dtype)
    n = x.ndim - 2
    size = data.draw(st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 3)] * n)))
    y = call(upsample_nearest, x, data_format, size)
    assert y.dtype == dtype
    assert_close(y, reference_upsample(x, (size,) * n if isinstance(size, int) else size), dtype)


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_flatten_matches_reference(shape, seed, dtype):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    expected = reference_flatten(x) if x.ndim > 1 else x.reshape(-1, 1)
    assert_close(flatten(x), expected, dtype)
    assert flatten(x).dtype == dtype
    # channels_first data gives what its channels_last version gives (Keras' Flatten)
    first = np.moveaxis(x, -1, 1) if x.ndim > 2 else x
    assert_close(flatten(first, data_format="channels_first"), expected, dtype)


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1), data=st.data()
)
def test_reshape_matches_reference(shape, seed, data):
    x = np.random.default_rng(seed).standard_normal(shape)
    per_sample = math.prod(shape[1:])
    # a random factorisation of per_sample into 1 to 3 factors, maybe one of them given as -1
    factors = []
    rest = per_sample
    for _ in range(data.draw(st.integers(0, 2))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = data.draw(st.sampled_from(divisors))
        factors.append(d)
        rest //= d
    factors.append(rest)
    factors = data.draw(st.permutations(factors))
    target = list(factors)
    if data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    y = reshape(x, tuple(target))
    assert_close(y, reference_reshape(x, tuple(factors)))


# --- Keras' spellings, pinned -------------------------------------------------------------------------


def test_keras_padding_spellings():
    x1 = np.ones((1, 4, 1))
    assert zero_pad(x1, 2).shape == (1, 8, 1)
    assert zero_pad(x1, (1, 3)).shape == (1, 8, 1)  # 1-D: (before, after)
    np.testing.assert_array_equal(zero_pad(x1, (1, 3))[0, :, 0], [0, 1, 1, 1, 1, 0, 0, 0])
    assert zero_pad(x1, ((1, 3),)).shape == (1, 8, 1)
    assert zero_pad(x1, (2,)).shape == (1, 8, 1)
    x2 = np.ones((1, 4, 4, 1))
    assert zero_pad(x2, (1, 3)).shape == (1, 6, 10, 1)  # 2-D: one symmetric amount per axis
    assert zero_pad(x2, ((1, 0), (0, 2))).shape == (1, 5, 6, 1)
    assert zero_pad(np.ones((1, 2, 2, 2, 1)), (1, 0, 2)).shape == (1, 4, 2, 6, 1)
    assert crop(np.ones((1, 6, 1)), (1, 3)).shape == (1, 2, 1)
    assert crop(np.ones((1, 6, 6, 1)), (1, 2)).shape == (1, 4, 2, 1)
    assert crop(np.ones((1, 6, 6, 6, 1)), ((1, 2), (0, 0), (3, 2))).shape == (1, 3, 6, 1, 1)


def test_zero_pad_channels_first_pads_spatial_axes_only():
    y = zero_pad(np.ones((2, 3, 4, 5)), ((1, 2), (3, 4)), data_format="channels_first")
    assert y.shape == (2, 3, 7, 12)
    assert y.sum() == 2 * 3 * 4 * 5


def test_upsample_keras_example():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    y = upsample_nearest(x, (1, 2))[0, :, :, 0]
    np.testing.assert_array_equal(y, [[0, 0, 1, 1], [2, 2, 3, 3]])


def test_flatten_keras_shapes():
    assert flatten(np.zeros((5,))).shape == (5, 1)
    assert flatten(np.zeros((0, 3, 4))).shape == (0, 12)
    assert flatten(np.zeros((2, 3, 0))).shape == (2, 0)
    x = np.arange(24.0).reshape(1, 2, 3, 4)  # channels_first: 2 channels of 3 x 4
    np.testing.assert_array_equal(flatten(x, "channels_first")[0, :4], [0, 12, 1, 13])


def test_reshape_keeps_batch_and_may_be_empty():
    assert reshape(np.zeros((0, 6)), (2, -1)).shape == (0, 2, 3)
    assert reshape(np.zeros((3, 2, 2)), [4]).shape == (3, 4)
    assert reshape(np.zeros((3,)), (1, 1)).shape == (3, 1, 1)
    assert reshape(np.zeros((3, 4)), (np.int64(2), 2)).shape == (3, 2, 2)


# --- PyTorch -------------------------------------------------------------------------------------------


@requires_torch
@given(case=spatial_inputs(min_size=3), data=st.data())
def test_matches_pytorch(case, data):
    t = torch()
    F = t.nn.functional
    x, _, _ = case
    n = x.ndim - 2
    x_first = np.ascontiguousarray(np.moveaxis(x, -1, 1))  # PyTorch's layout
    xt = t.from_numpy(x_first)
    _, pad_pairs = data.draw(pair_arguments(n, 3))
    flat = [v for b, a in reversed(pad_pairs) for v in (b, a)]  # PyTorch lists the last axis first
    assert_close(zero_pad(x_first, pad_pairs, "channels_first"), F.pad(xt, flat).numpy())
    _, crop_pairs = data.draw(pair_arguments(n, 1))
    cropped = xt
    for axis, (b, a) in enumerate(crop_pairs, start=2):
        cropped = cropped.narrow(axis, b, cropped.shape[axis] - b - a)
    assert_close(crop(x_first, crop_pairs, "channels_first"), cropped.numpy())
    size = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    up = xt
    for axis, r in enumerate(size, start=2):
        up = up.repeat_interleave(r, dim=axis)
    assert_close(upsample_nearest(x_first, size, "channels_first"), up.numpy())
    if all(r == size[0] for r in size):  # interpolate's nearest mode on an integer scale factor
        expected = F.interpolate(
            xt, size=tuple(s * r for s, r in zip(x_first.shape[2:], size)), mode="nearest"
        )
        assert_close(upsample_nearest(x_first, size, "channels_first"), expected.numpy())
    assert_close(flatten(x_first, "channels_first"), t.flatten(xt.movedim(1, -1), 1).numpy())
    assert_close(reshape(x_first, (-1,)), t.reshape(xt, (x.shape[0], -1)).numpy())


# --- inputs: never modified, integers become float32, new arrays where promised -----------------------------


@pytest.mark.parametrize("data_format", FORMATS)
def test_input_not_modified(data_format):
    x = np.random.default_rng(5).standard_normal((2, 4, 5, 3))
    keep = x.copy()
    x.flags.writeable = False
    for y in (
        zero_pad(x, 1, data_format),
        crop(x, 1, data_format),
        upsample_nearest(x, 2, data_format),
        upsample_nearest(x, 1, data_format),
        crop(x, 0, data_format),
    ):
        assert not np.shares_memory(y, x)
        y[...] = 7.0  # new, writable arrays
    flatten(x, data_format)
    reshape(x, (-1,))
    np.testing.assert_array_equal(x, keep)


def test_integer_input_gives_float32():
    x = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    outputs = [
        zero_pad(x, 1),
        crop(x, 1),
        upsample_nearest(x, 2),
        flatten(x),
        reshape(x, (-1,)),
        zero_pad(x.tolist(), 1),
    ]
    for y in outputs:
        assert y.dtype == np.float32
    np.testing.assert_array_equal(upsample_nearest(x, 2), upsample_nearest(x.astype(np.float32), 2))


# --- every error message ------------------------------------------------------------------------------------


@pytest.mark.parametrize("op, arg", [(zero_pad, 1), (crop, 1), (upsample_nearest, 2)])
def test_spatial_op_common_errors(op, arg):
    name = op.__name__
    with pytest.raises(
        ValueError,
        match=rf"{name}: expected input of rank 3, 4 or 5 \(batch, \*spatial, channels\) with 1, 2 or 3 "
        r"spatial axes. Received: inputs.shape=\(2, 3\)",
    ):
        op(np.zeros((2, 3)), arg)
    with pytest.raises(
        ValueError, match=r"\(batch, channels, \*spatial\).*Received: inputs.shape=\(1, 1, 1, 1, 1, 1\)"
    ):
        op(np.zeros((1,) * 6), arg, data_format="channels_first")
    with pytest.raises(
        ValueError, match=r"the `data_format` argument must be one of.*Received: data_format='nchw'"
    ):
        op(np.zeros((1, 4, 4, 1)), arg, data_format="nchw")
    with pytest.raises(TypeError, match=rf"{name} expected a numeric array.*Received: inputs with dtype=<U1"):
        op(np.array([[["a"]]]), arg)


@pytest.mark.parametrize("op, name", [(zero_pad, "padding"), (crop, "cropping")])
def test_pair_argument_errors(op, name):
    x1, x2 = np.zeros((1, 9, 1)), np.zeros((1, 9, 9, 1))
    one_d = (
        rf"{op.__name__}: the `{name}` argument must be a non-negative int, a tuple of 2 non-negative ints "
        rf"\(before, after\), or a tuple of 1 such pair. Received: {name}="
    )
    two_d = (
        rf"the `{name}` argument must be a non-negative int, a tuple of 2 non-negative ints "
        r"\(one per spatial axis\), or a tuple of 2 \(before, after\) pairs of non-negative ints. Received: "
        rf"{name}="
    )
    with pytest.raises(ValueError, match=one_d + r"-1"):
        op(x1, -1)
    with pytest.raises(ValueError, match=one_d + r"\(1, 2, 3\)"):
        op(x1, (1, 2, 3))
    with pytest.raises(ValueError, match=one_d + r"\(1, -2\)"):
        op(x1, (1, -2))
    with pytest.raises(TypeError, match=one_d + r"1.5"):
        op(x1, 1.5)
    with pytest.raises(TypeError, match=one_d + r"None"):
        op(x1, None)
    with pytest.raises(ValueError, match=two_d + r"\(1, 2, 3\)"):
        op(x2, (1, 2, 3))
    with pytest.raises(ValueError, match=two_d + r"\(\(1, 2\), \(1, 2, 3\)\)"):
        op(x2, ((1, 2), (1, 2, 3)))
    with pytest.raises(ValueError, match=two_d + r"\(\(1, 2\), 1.5\)"):
        op(x2, ((1, 2), 1.5))
    with pytest.raises(ValueError, match=two_d + r"\(True, 1\)"):
        op(x2, (True, 1))
    with pytest.raises(
        ValueError,
        match=r"tuple of 3 \(before, after\) pairs of non-negative ints. Received: "
        + name
        + r"=\(\(0, 0\), \(0, -1\), \(0, 0\)\)",
    ):
        op(np.zeros((1, 9, 9, 9, 1)), ((0, 0), (0, -1), (0, 0)))


def test_crop_to_nothing_shows_the_arithmetic():
    with pytest.raises(
        ValueError,
        match=r"crop: the output would be empty: height: input 4, cropping \(3, 2\) → output -1. Every "
        r"spatial axis must keep "
        r"at least one cell. Received: cropping=\(\(3, 2\), \(0, 0\)\), inputs.shape=\(1, 4, 4, 1\)",
    ):
        crop(np.zeros((1, 4, 4, 1)), ((3, 2), (0, 0)))
    with pytest.raises(
        ValueError, match=r"length: input 4, cropping \(2, 2\) → output 0.*Received: cropping=2"
    ):
        crop(np.zeros((1, 4, 1)), 2)
    with pytest.raises(
        ValueError,
        match=r"depth: input 3, cropping \(2, 2\) → output -1; width: input 5, cropping \(3, 2\) → output 0",
    ):
        crop(np.zeros((1, 1, 3, 4, 5)), ((2, 2), (1, 1), (3, 2)), data_format="channels_first")


def test_upsample_size_errors():
    x = np.zeros((1, 4, 4, 1))
    with pytest.raises(
        ValueError,
        match=r"upsample_nearest: the `size` argument must contain only positive integers. Received: size=0",
    ):
        upsample_nearest(x, 0)
    with pytest.raises(
        ValueError,
        match=r"the `size` argument must be an int or a tuple of 2 ints. Received: size=\(2, 2, 2\)",
    ):
        upsample_nearest(x, (2, 2, 2))
    with pytest.raises(
        TypeError, match=r"the `size` argument must be an int or a tuple of 2 ints. Received: size=2.0"
    ):
        upsample_nearest(x, 2.0)


def test_flatten_errors():
    with pytest.raises(
        ValueError,
        match=r"flatten: expected input with a batch axis \(rank >= 1\). Received: inputs.shape=\(\)",
    ):
        flatten(np.float64(3.0))
    with pytest.raises(
        ValueError, match=r"flatten: the `data_format` argument must be one of.*Received: data_format='first'"
    ):
        flatten(np.zeros((2, 3)), "first")
    with pytest.raises(TypeError, match=r"flatten expected a numeric array.*Received: inputs with dtype=<U1"):
        flatten(np.array(["a"]))


def test_reshape_errors():
    x = np.zeros((2, 3, 4))
    with pytest.raises(
        ValueError,
        match=r"reshape: expected input with a batch axis \(rank >= 1\). Received: inputs.shape=\(\)",
    ):
        reshape(np.float64(3.0), (1,))
    expected = (
        r"the `target_shape` argument must be a tuple of positive ints \(the batch axis excluded\), with at "
        r"most one -1. Received: target_shape="
    )
    with pytest.raises(TypeError, match=r"reshape: " + expected + r"12"):
        reshape(x, 12)
    for bad, shown in [
        ((0, 12), r"\(0, 12\)"),
        ((-1, -1), r"\(-1, -1\)"),
        ((-2, 6), r"\(-2, 6\)"),
        ((3.0, 4), r"\(3.0, 4\)"),
        ((True, 12), r"\(True, 12\)"),
    ]:
        with pytest.raises(ValueError, match=expected + shown):
            reshape(x, bad)
    with pytest.raises(
        ValueError,
        match=r"reshape: cannot reshape 12 values per sample \(inputs.shape=\(2, 3, 4\)\) into target_shape "
        r"\(5, 2\), "
        r"which holds 10. Received: target_shape=\(5, 2\)",
    ):
        reshape(x, (5, 2))
    with pytest.raises(
        ValueError,
        match=r"Reshape 'r': cannot reshape 12 values per sample \(inputs.shape=\(2, 3, 4\)\) into "
        r"target_shape \(5, -1\): "
        r"12 is not divisible by 5, the product of the known sizes. Received: target_shape=\[5, -1\]",
    ):
        reshape(x, [5, -1], where="Reshape 'r'")
    with pytest.raises(
        TypeError, match=r"reshape expected a numeric array.*Received: inputs with dtype=object"
    ):
        reshape(np.array([None, None]), (1,))



# --- backward: finite differences, float32 ----------------------------------------------------------------


@st.composite
def small_spatial_inputs(draw, min_size=1):
    """Inputs of at most about 100 values in either layout, for the finite-difference checks."""
    n = draw(st.sampled_from([1, 2, 3]))
    sizes = tuple(draw(st.integers(min_size, min_size + (3, 2, 0)[n - 1])) for _ in range(n))
    data_format = draw(st.sampled_from(FORMATS))
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    shape = (batch, *sizes, channels) if data_format == "channels_last" else (batch, channels, *sizes)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.standard_normal(shape), data_format, rng


def check_backward(forward, backward, x, rng):
    """Finite differences in float64, then float32 against float64; returns grad_x."""
    grad_y = rng.standard_normal(np.shape(forward(x)))
    grad_x = np.asarray(backward(grad_y))
    assert_gradient(grad_x, forward, x, grad_y)
    grad32 = np.asarray(backward(grad_y.astype(np.float32)))
    assert grad32.dtype == np.float32
    assert_close(grad32, grad_x, np.float32)
    return grad_x


@given(case=small_spatial_inputs(), data=st.data())
def test_zero_pad_backward_matches_finite_differences(case, data):
    x, data_format, rng = case
    padding, _ = data.draw(pair_arguments(x.ndim - 2, 2))
    check_backward(
        lambda v: zero_pad(v, padding, data_format),
        lambda g: zero_pad_backward(g, padding, data_format),
        x,
        rng,
    )


@given(case=small_spatial_inputs(min_size=3), data=st.data())
def test_crop_backward_matches_finite_differences(case, data):
    x, data_format, rng = case
    cropping, _ = data.draw(pair_arguments(x.ndim - 2, 1))
    check_backward(
        lambda v: crop(v, cropping, data_format),
        lambda g: crop_backward(g, x.shape, cropping, data_format),
        x,
        rng,
    )


@given(case=small_spatial_inputs(), data=st.data())
def test_upsample_nearest_backward_matches_finite_differences(case, data):
    x, data_format, rng = case
    n = x.ndim - 2
    size = data.draw(st.one_of(st.integers(1, 3), st.tuples(*[st.integers(1, 3)] * n)))
    check_backward(
        lambda v: upsample_nearest(v, size, data_format),
        lambda g: upsample_nearest_backward(g, size, data_format),
        x,
        rng,
    )


@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1), data=st.data()
)
def test_flatten_and_reshape_backward_match_finite_differences(shape, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    data_format = data.draw(st.sampled_from(FORMATS))
    grad_x = check_backward(
        lambda v: flatten(v, data_format), lambda g: flatten_backward(g, x.shape, data_format), x, rng
    )
    assert grad_x.flags.c_contiguous
    target = data.draw(st.sampled_from([(-1,), (1, -1), (-1, 1)]))
    check_backward(lambda v: reshape(v, target), lambda g: reshape_backward(g, x.shape), x, rng)


def test_backward_by_hand():
    g = np.arange(1.0, 7.0).reshape(1, 6, 1)
    np.testing.assert_array_equal(zero_pad_backward(g, (1, 2)).ravel(), [2, 3, 4])
    np.testing.assert_array_equal(
        crop_backward(np.array([5.0, 6.0]).reshape(1, 2, 1), (1, 5, 1), (1, 2)).ravel(), [0, 5, 6, 0, 0]
    )
    np.testing.assert_array_equal(upsample_nearest_backward(g, 3).ravel(), [6, 15])  # 1+2+3, 4+5+6
    # channels_first flatten: the channels were moved last before flattening
    x_shape = (1, 2, 3)  # 2 channels of length 3
    grad = flatten_backward(np.arange(6.0).reshape(1, 6), x_shape, "channels_first")
    np.testing.assert_array_equal(grad[0], [[0, 2, 4], [1, 3, 5]])
    assert flatten_backward(np.ones((4, 1)), (4,)).shape == (4,)
    assert reshape_backward(np.zeros((0, 2, 3)), (0, 6)).shape == (0, 6)


@pytest.mark.parametrize("data_format", FORMATS)
def test_backward_input_not_modified(data_format):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 6, 3))
    grads = {
        "pad": rng.standard_normal(zero_pad(x, 1, data_format).shape),
        "crop": rng.standard_normal(crop(x, 1, data_format).shape),
        "up": rng.standard_normal(upsample_nearest(x, 2, data_format).shape),
        "flat": rng.standard_normal(flatten(x, data_format).shape),
    }
    keep = {k: v.copy() for k, v in grads.items()}
    for v in grads.values():
        v.flags.writeable = False
    for result in (
        zero_pad_backward(grads["pad"], 1, data_format),
        crop_backward(grads["crop"], x.shape, 1, data_format),
        upsample_nearest_backward(grads["up"], 2, data_format),
        upsample_nearest_backward(grads["pad"], 1, data_format),
        zero_pad_backward(grads["pad"], 0, data_format),
    ):
        assert not any(np.shares_memory(result, v) for v in grads.values())
        result[...] = 7.0  # new, writable arrays
    flatten_backward(grads["flat"], x.shape, data_format)
    reshape_backward(grads["flat"], x.shape)
    for k, v in grads.items():
        np.testing.assert_array_equal(v, keep[k])


def test_backward_errors():
    with pytest.raises(
        ValueError,
        match=r"zero_pad_backward: expected input of rank 3, 4 or 5 \(batch, \*spatial, channels\) with 1, 2 "
        r"or 3 spatial axes. Received: grad_y.shape=\(2, 3\)",
    ):
        zero_pad_backward(np.zeros((2, 3)), 1)
    with pytest.raises(
        ValueError,
        match=r"zero_pad_backward: grad_y is smaller than the padding it should contain: width: grad_y 3, "
        r"padding \(2, 2\). "
        r"Received: padding=\(\(0, 0\), \(2, 2\)\), grad_y.shape=\(1, 4, 3, 1\)",
    ):
        zero_pad_backward(np.zeros((1, 4, 3, 1)), ((0, 0), (2, 2)))
    with pytest.raises(
        ValueError,
        match=r"zero_pad_backward: the `padding` argument must be a non-negative int.*Received: padding=-1",
    ):
        zero_pad_backward(np.zeros((1, 4, 1)), -1)
    with pytest.raises(
        ValueError,
        match=r"crop_backward: expected grad_y of shape \(1, 2, 1\), the shape of the forward's output "
        r"\(x_shape=\(1, 4, 1\) cropped by "
        r"\(\(1, 1\),\)\). Received: grad_y.shape=\(1, 3, 1\)",
    ):
        crop_backward(np.zeros((1, 3, 1)), (1, 4, 1), 1)
    with pytest.raises(
        ValueError,
        match=r"crop_backward: expected input of rank 3, 4 or 5 \(batch, channels, \*spatial\).*Received: "
        r"x_shape=\(1, 4\)",
    ):
        crop_backward(np.zeros((1, 2)), (1, 4), 1, "channels_first")
    with pytest.raises(
        ValueError,
        match=r"crop_backward: the `x_shape` argument must be a tuple of non-negative ints "
        r"\(an array's shape\). Received: x_shape=\(1, 4.0, 1\)",
    ):
        crop_backward(np.zeros((1, 2, 1)), (1, 4.0, 1), 1)
    with pytest.raises(
        ValueError,
        match=r"upsample_nearest_backward: each spatial size of grad_y must be a multiple of `size`: height: "
        r"5 is not a multiple of 2; "
        r"width: 3 is not a multiple of 2. Received: size=\(2, 2\), grad_y.shape=\(1, 5, 3, 1\)",
    ):
        upsample_nearest_backward(np.zeros((1, 5, 3, 1)), 2)
    with pytest.raises(
        ValueError,
        match=r"upsample_nearest_backward: the `size` argument must contain only positive integers. "
        r"Received: size=0",
    ):
        upsample_nearest_backward(np.zeros((1, 4, 1)), 0)
    with pytest.raises(
        ValueError,
        match=r"flatten_backward: expected grad_y of shape \(2, 12\), the shape of the forward's output. "
        r"Received: grad_y.shape=\(2, 6\), x_shape=\(2, 3, 4\)",
    ):
        flatten_backward(np.zeros((2, 6)), (2, 3, 4))
    with pytest.raises(
        ValueError,
        match=r"flatten_backward: expected x_shape with a batch axis \(rank >= 1\). Received: x_shape=\(\)",
    ):
        flatten_backward(np.zeros((1, 1)), ())
    with pytest.raises(
        ValueError,
        match=r"flatten_backward: the `data_format` argument must be one of.*Received: data_format='first'",
    ):
        flatten_backward(np.zeros((2, 12)), (2, 3, 4), "first")
    with pytest.raises(
        ValueError,
        match=r"reshape_backward: grad_y must have the batch size and the number of values of x_shape "
        r"\(the forward keeps the batch axis "
        r"and every value\). Received: grad_y.shape=\(3, 4\), x_shape=\(2, 6\)",
    ):
        reshape_backward(np.zeros((3, 4)), (2, 6))
    with pytest.raises(
        ValueError,
        match=r"reshape_backward: grad_y must have.*Received: grad_y.shape=\(2, 5\), x_shape=\(2, 6\)",
    ):
        reshape_backward(np.zeros((2, 5)), (2, 6))
    with pytest.raises(
        TypeError,
        match=r"reshape_backward: the `x_shape` argument must be a tuple of non-negative ints.*Received: "
        r"x_shape=None",
    ):
        reshape_backward(np.zeros((2, 6)), None)
    with pytest.raises(
        TypeError, match=r"reshape_backward expected a numeric array.*Received: grad_y with dtype=<U1"
    ):
        reshape_backward(np.array([["a"]]), (1, 1))
