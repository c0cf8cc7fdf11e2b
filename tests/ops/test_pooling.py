"""Tests for convolve/ops/pooling.py: a loop reference, hypothesis over shapes, finite differences
for the backwards, tie-breaking, PyTorch, errors."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.pooling import (
    average_pool,
    average_pool_backward,
    global_average_pool,
    global_average_pool_backward,
    global_max_pool,
    global_max_pool_backward,
    max_pool,
    max_pool_backward,
)
from tests.helpers import assert_close, requires_torch, torch
from tests.ops.test_core import assert_gradient

POOLS = {"max": max_pool, "average": average_pool}
GLOBAL_POOLS = {"max": global_max_pool, "average": global_average_pool}


# --- the definition, with plain loops ---------------------------------------------------


def reference_pool(x, pool_size, strides, padding, op):
    """channels_last x (N, *S, C); each window is the set of *input* cells it covers.

    Output sizes and the 'same' split are worked out here from TensorFlow's definition,
    independently of convolve.ops.shapes.
    """
    x = np.asarray(x, dtype=np.float64)
    batch, *sizes, channels = x.shape
    outs, befores = [], []
    for size, k, s in zip(sizes, pool_size, strides):
        if padding == "valid":
            out, before = (size - k) // s + 1, 0
        else:
            out = -(-size // s)
            before = max((out - 1) * s + k - size, 0) // 2
        outs.append(out)
        befores.append(before)
    y = np.empty((batch, *outs, channels))
    for b in range(batch):
        for o in itertools.product(*(range(v) for v in outs)):
            for c in range(channels):
                cells = []
                for t in itertools.product(*(range(k) for k in pool_size)):
                    i = tuple(oi * s + ti - bi for oi, s, ti, bi in zip(o, strides, t, befores))
                    if all(0 <= ii < size for ii, size in zip(i, sizes)):
                        cells.append(x[(b, *i, c)])
                y[(b, *o, c)] = max(cells) if op == "max" else sum(cells) / len(cells)
    return y


def reference_global(x, op):
    """channels_last x (N, *S, C) -> (N, C)."""
    x = np.asarray(x, dtype=np.float64)
    batch, *sizes, channels = x.shape
    y = np.empty((batch, channels))
    for b in range(batch):
        for c in range(channels):
            cells = [x[(b, *i, c)] for i in itertools.product(*(range(v) for v in sizes))]
            y[b, c] = max(cells) if op == "max" else sum(cells) / len(cells)
    return y


def to_first(x):
    return np.moveaxis(x, -1, 1)


# --- hypothesis cases -----------------------------------------------------------------------


@st.composite
def pool_cases(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    pool_size = tuple(draw(st.integers(1, 3)) for _ in range(n))
    strides = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * n)))
    padding = draw(st.sampled_from(["valid", "same"]))
    extra = 4 if n < 3 else 2
    sizes = tuple(draw(st.integers(k if padding == "valid" else 1, k + extra)) for k in pool_size)
    batch = draw(st.integers(1, 2))
    channels = draw(st.integers(1, 3))
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).standard_normal((batch, *sizes, channels))
    return x, pool_size, strides, padding, data_format


def run_pool(op, x_last, pool_size, strides, padding, data_format, dtype):
    """Call the op in ``data_format`` on channels_last data; return the result channels_last."""
    x = x_last.astype(dtype)
    if data_format == "channels_first":
        y = POOLS[op](to_first(x), pool_size, strides, padding, data_format)
        return np.moveaxis(y, 1, -1), y
    y = POOLS[op](x, pool_size, strides, padding, data_format)
    return y, y


@pytest.mark.parametrize("op", ["max", "average"])
@given(case=pool_cases())
def test_pool_matches_reference_float64(op, case):
    x, pool_size, strides, padding, data_format = case
    y_last, y = run_pool(op, x, pool_size, strides, padding, data_format, np.float64)
    assert y.dtype == np.float64
    assert y.flags.c_contiguous
    expected = reference_pool(x, pool_size, pool_size if strides is None else strides, padding, op)
    assert_close(y_last, expected, np.float64)


@pytest.mark.parametrize("op", ["max", "average"])
@given(case=pool_cases())
def test_pool_matches_reference_float32(op, case):
    x, pool_size, strides, padding, data_format = case
    y_last, y = run_pool(op, x, pool_size, strides, padding, data_format, np.float32)
    assert y.dtype == np.float32
    expected = reference_pool(
        x.astype(np.float32), pool_size, pool_size if strides is None else strides, padding, op
    )
    assert_close(y_last, expected, np.float32)


# --- hand-worked cases: what 'same' means for each pool ----------------------------------


def test_same_average_divides_by_real_cells():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    # out = ceil(5 / 2) = 3; total pad = (3 - 1) * 2 + 2 - 5 = 1, all after: windows [1 2] [3 4] [5]
    y = average_pool(x, 2, 2, "same")
    np.testing.assert_array_equal(y.ravel(), [1.5, 3.5, 5.0])
    # centred 3x3 windows on ones: the padding must not pull corners and edges below 1
    y = average_pool(np.ones((1, 4, 5, 2)), 3, 1, "same")
    np.testing.assert_array_equal(y, np.ones((1, 4, 5, 2)))


def test_same_max_ignores_padding():
    x = np.full((1, 3, 3, 1), -5.0)
    np.testing.assert_array_equal(max_pool(x, 2, 1, "same"), np.full((1, 3, 3, 1), -5.0))
    x = np.array([-1.0, -2.0, -3.0]).reshape(1, 3, 1)
    # out 3, total pad 2: one cell each side; windows [pad -1 -2] [-1 -2 -3] [-2 -3 pad]
    np.testing.assert_array_equal(max_pool(x, 3, 1, "same").ravel(), [-1.0, -1.0, -2.0])


def test_strides_default_to_pool_size():
    x = np.random.default_rng(0).standard_normal((2, 6, 7, 3))
    for pool in POOLS.values():
        np.testing.assert_array_equal(pool(x, (2, 3)), pool(x, (2, 3), (2, 3)))
        assert pool(x, (2, 3)).shape == (2, 3, 2, 3)


def test_same_output_sizes_are_ceil_of_input_over_stride():
    x = np.zeros((1, 7, 5, 4, 1))
    for pool in POOLS.values():
        assert pool(x, (3, 2, 5), (2, 3, 1), "same").shape == (1, 4, 2, 4, 1)


def test_empty_batch_and_channels():
    for pool in POOLS.values():
        assert pool(np.zeros((0, 4, 4, 2)), 2).shape == (0, 2, 2, 2)
        assert pool(np.zeros((2, 4, 4, 0)), 2, padding="same").shape == (2, 2, 2, 0)


def test_padding_name_is_case_insensitive():
    x = np.random.default_rng(1).standard_normal((1, 5, 2))
    np.testing.assert_array_equal(max_pool(x, 2, padding="SAME"), max_pool(x, 2, padding="same"))


# --- global pooling ---------------------------------------------------------------------------


@st.composite
def global_cases(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    sizes = tuple(draw(st.integers(1, 4)) for _ in range(n))
    batch = draw(st.integers(1, 3))
    channels = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).standard_normal((batch, *sizes, channels))
    return x, draw(st.sampled_from(["channels_last", "channels_first"])), draw(st.booleans())


@pytest.mark.parametrize("op", ["max", "average"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=global_cases())
def test_global_pool_matches_reference(op, dtype, case):
    x, data_format, keepdims = case
    x = x.astype(dtype)
    n = x.ndim - 2
    arg = to_first(x) if data_format == "channels_first" else x
    y = GLOBAL_POOLS[op](arg, data_format=data_format, keepdims=keepdims)
    assert y.dtype == dtype
    expected = reference_global(x, op)
    if keepdims:
        shape = (
            (x.shape[0], *([1] * n), x.shape[-1])
            if data_format == "channels_last"
            else (x.shape[0], x.shape[-1], *([1] * n))
        )
        assert y.shape == shape
        y = y.reshape(x.shape[0], x.shape[-1])
    assert_close(y, expected, dtype)


# --- PyTorch ------------------------------------------------------------------------------


def torch_pool(x_first, op, pool_size, strides, pads):
    """PyTorch's pooling on channels_first x after padding by ``pads`` ((before, after) per axis).

    The padded cells must not count: -inf for the maximum; for the average, the sum over the
    zero-padded input divided by the number of real cells (the same pooling of a ones array).
    """
    return torch_pool_tensor(torch().from_numpy(x_first), op, pool_size, strides, pads).numpy()


def torch_pool_tensor(xt, op, pool_size, strides, pads):
    """:func:`torch_pool` on a tensor, differentiable (autograd goes through the padding)."""
    t = torch()
    F = t.nn.functional
    n = len(pool_size)
    flat = [v for before, after in reversed(pads) for v in (before, after)]  # last axis first
    max_fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[n - 1]
    avg_fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[n - 1]
    if op == "max":
        return max_fn(F.pad(xt, flat, value=-float("inf")), pool_size, strides)
    sums = avg_fn(F.pad(xt, flat), pool_size, strides)
    counts = avg_fn(F.pad(t.ones_like(xt), flat), pool_size, strides)
    return sums / counts


def same_pads(sizes, pool_size, strides):
    """TensorFlow's 'same' split, written out again for the PyTorch comparison."""
    pads = []
    for size, k, s in zip(sizes, pool_size, strides):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


@requires_torch
@pytest.mark.parametrize("op", ["max", "average"])
@given(case=pool_cases())
def test_pool_matches_pytorch(op, case):
    x, pool_size, strides, padding, _ = case
    strides = pool_size if strides is None else strides
    x_first = np.ascontiguousarray(to_first(x))
    pads = same_pads(x.shape[1:-1], pool_size, strides) if padding == "same" else [(0, 0)] * len(pool_size)
    expected = torch_pool(x_first, op, pool_size, strides, pads)
    y = POOLS[op](x_first, pool_size, strides, padding, "channels_first")
    assert_close(y, expected, np.float64)


@requires_torch
@pytest.mark.parametrize("op", ["max", "average"])
def test_global_pool_matches_pytorch(op):
    t = torch()
    x = np.random.default_rng(3).standard_normal((3, 4, 5, 6, 2))  # channels_first, 3-D
    xt = t.from_numpy(x)
    expected = (xt.amax(dim=(2, 3, 4)) if op == "max" else xt.mean(dim=(2, 3, 4))).numpy()
    assert_close(GLOBAL_POOLS[op](x, data_format="channels_first"), expected, np.float64)


# --- inputs: never modified, integers become float32 ---------------------------------------------


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_input_not_modified(padding, data_format):
    x = np.random.default_rng(2).standard_normal((2, 5, 6, 3))
    keep = x.copy()
    x.flags.writeable = False  # any write would raise
    for pool in POOLS.values():
        y = pool(x, 2, 1, padding, data_format)
        y[...] = 7.0  # the result is the op's own array, not a view of the input
    for pool in GLOBAL_POOLS.values():
        pool(x, data_format, keepdims=True)[...] = 7.0
    np.testing.assert_array_equal(x, keep)


def test_integer_input_gives_float32():
    x = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    for pool in POOLS.values():
        y = pool(x, 2, padding="same")
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, pool(x.astype(np.float32), 2, padding="same"))
    for pool in GLOBAL_POOLS.values():
        assert pool(x).dtype == np.float32
    assert max_pool(x.tolist(), 2).dtype == np.float32  # nested lists too


# --- every error message ---------------------------------------------------------------------


@pytest.mark.parametrize("pool", [max_pool, average_pool])
def test_errors(pool):
    x = np.zeros((1, 4, 4, 2))
    name = pool.__name__
    with pytest.raises(
        ValueError,
        match=rf"{name}: expected input of rank 3, 4 or 5 \(batch, \*spatial, channels\).*Received: "
        r"inputs.shape=\(4, 2\)",
    ):
        pool(np.zeros((4, 2)), 2)
    with pytest.raises(
        ValueError,
        match=r"expected input of rank 3, 4 or 5 \(batch, channels, \*spatial\).*Received: "
        r"inputs.shape=\(1, 2, 2, 2, 2, 2\)",
    ):
        pool(np.zeros((1, 2, 2, 2, 2, 2)), 2, data_format="channels_first")
    with pytest.raises(
        ValueError,
        match=r"the `pool_size` argument must be an int or a tuple of 2 ints. Received: "
        r"pool_size=\(2, 2, 2\)",
    ):
        pool(x, (2, 2, 2))
    with pytest.raises(
        TypeError,
        match=r"the `pool_size` argument must be an int or a tuple of 2 ints. Received: pool_size=2.5",
    ):
        pool(x, 2.5)
    with pytest.raises(
        ValueError,
        match=r"the `pool_size` argument must contain only positive integers. Received: pool_size=0",
    ):
        pool(x, 0)
    with pytest.raises(
        ValueError,
        match=r"the `strides` argument must contain only positive integers. Received: strides=\(1, 0\)",
    ):
        pool(x, 2, (1, 0))
    with pytest.raises(
        ValueError,
        match=r"the `padding` argument must be one of \{'valid', 'same'\}. Received: padding='causal'",
    ):
        pool(x, 2, padding="causal")
    with pytest.raises(
        ValueError, match=r"the `padding` argument must be one of \{'valid', 'same'\}. Received: padding=1"
    ):
        pool(x, 2, padding=1)
    with pytest.raises(
        ValueError, match=r"the `data_format` argument must be one of .*Received: data_format='NHWC'"
    ):
        pool(x, 2, data_format="NHWC")
    with pytest.raises(
        ValueError,
        match=rf"{name}: the output would be empty: width: input 4, kernel 5.*Received: "
        r"inputs.shape=\(1, 4, 4, 2\), "
        r"pool_size=\(2, 5\), strides=\(2, 5\), padding='valid'",
    ):
        pool(x, (2, 5))
    with pytest.raises(TypeError, match=rf"{name} expected a numeric array.*Received: inputs with dtype=<U1"):
        pool(np.array([[["a"]]]), 1)


@pytest.mark.parametrize("pool", [global_max_pool, global_average_pool])
def test_global_errors(pool):
    name = pool.__name__
    with pytest.raises(
        ValueError, match=rf"{name}: expected input of rank 3, 4 or 5.*Received: inputs.shape=\(2, 3\)"
    ):
        pool(np.zeros((2, 3)))
    with pytest.raises(
        TypeError, match=r"the `keepdims` argument must be True or False. Received: keepdims=1"
    ):
        pool(np.zeros((2, 3, 3)), keepdims=1)
    with pytest.raises(
        ValueError,
        match=r"every spatial axis must have at least one position.*Received: inputs.shape=\(2, 0, 3\)",
    ):
        pool(np.zeros((2, 0, 3)))
    with pytest.raises(
        ValueError, match=r"Received: inputs.shape=\(2, 3, 0\) with data_format='channels_first'"
    ):
        pool(np.zeros((2, 3, 0)), data_format="channels_first")
    with pytest.raises(ValueError, match=r"Received: data_format='last'"):
        pool(np.zeros((2, 3, 3)), data_format="last")
    with pytest.raises(
        TypeError, match=rf"{name} expected a numeric array.*Received: inputs with dtype=object"
    ):
        pool(np.array([[[None]]]))



# --- backward: finite differences, ties, float32, PyTorch --------------------------------------------------

BACKWARDS = {"max": max_pool_backward, "average": average_pool_backward}
GLOBAL_BACKWARDS = {"max": global_max_pool_backward, "average": global_average_pool_backward}


def distinct_values(shape, rng):
    """Values 0.1 apart in random order: no perturbation of 1e-5 (nor float32 rounding)
    changes which cell holds a window's maximum."""
    size = math.prod(shape)
    return (rng.permutation(size).reshape(shape) - size / 2) * 0.1


@st.composite
def backward_cases(draw):
    """Small pooling cases (at most about 100 input values) in either layout, with a grad_y."""
    n = draw(st.sampled_from([1, 2, 3]))
    pool_size = tuple(draw(st.integers(1, 3 if n < 3 else 2)) for _ in range(n))
    strides = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * n)))
    padding = draw(st.sampled_from(["valid", "same"]))
    extra = (3, 2, 1)[n - 1]
    sizes = tuple(draw(st.integers(k if padding == "valid" else 1, k + extra)) for k in pool_size)
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    shape = (draw(st.integers(1, 2)), *sizes, draw(st.integers(1, 2)))
    if data_format == "channels_first":
        shape = (shape[0], shape[-1], *shape[1:-1])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = distinct_values(shape, rng)
    grad_y = rng.standard_normal(max_pool(x, pool_size, strides, padding, data_format).shape)
    return x, grad_y, (pool_size, strides, padding, data_format)


def pool_backward(op, grad_y, x, args):
    return BACKWARDS[op](grad_y, x if op == "max" else x.shape, *args)


@pytest.mark.parametrize("op", ["max", "average"])
@given(case=backward_cases())
def test_pool_backward_matches_finite_differences(op, case):
    x, grad_y, args = case
    grad_x = pool_backward(op, grad_y, x, args)
    assert grad_x.flags.c_contiguous
    assert_gradient(grad_x, lambda v: POOLS[op](v, *args), x, grad_y)


@pytest.mark.parametrize("op", ["max", "average"])
@given(case=backward_cases())
def test_pool_backward_float32_matches_float64(op, case):
    x, grad_y, args = case
    grad32 = pool_backward(op, grad_y.astype(np.float32), x.astype(np.float32), args)
    assert grad32.dtype == np.float32
    assert_close(grad32, pool_backward(op, grad_y, x, args), np.float32)


@requires_torch
@pytest.mark.parametrize("op", ["max", "average"])
@given(case=backward_cases(), ties=st.booleans())
def test_pool_backward_matches_pytorch(op, case, ties):
    """PyTorch's autograd through its pooling (ties included: both pick the first maximum)."""
    t = torch()
    x, grad_y, (pool_size, strides, padding, data_format) = case
    if ties:
        x = np.floor(x / x.size * 3)  # three values: most windows hold a tie
    strides = pool_size if strides is None else strides
    to_torch = (
        (lambda a: np.ascontiguousarray(to_first(a))) if data_format == "channels_last" else (lambda a: a)
    )
    sizes = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    pads = same_pads(sizes, pool_size, strides) if padding == "same" else [(0, 0)] * len(pool_size)
    xt = t.tensor(to_torch(x), requires_grad=True)
    torch_pool_tensor(xt, op, pool_size, strides, pads).backward(t.from_numpy(to_torch(grad_y)))
    ours = pool_backward(op, grad_y, x, (pool_size, strides, padding, data_format))
    assert_close(to_torch(ours), xt.grad.numpy())


def test_max_pool_backward_ties_go_to_the_first_maximum():
    # 1-D: a window [1, 3, 3, 2] sends everything to its first 3
    x = np.array([1.0, 3.0, 3.0, 2.0]).reshape(1, 4, 1)
    np.testing.assert_array_equal(max_pool_backward(np.full((1, 1, 1), 5.0), x, 4).ravel(), [0, 5, 0, 0])
    # 2-D: window order is row-major; a constant window picks its top-left cell
    x = np.array([[1.0, 7.0], [7.0, 7.0]]).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(
        max_pool_backward(np.ones((1, 1, 1, 1)), x, 2)[0, :, :, 0], [[0, 1], [0, 0]]
    )
    np.testing.assert_array_equal(
        max_pool_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 2, 2, 1)), 2)[0, :, :, 0], [[1, 0], [0, 0]]
    )
    # overlapping windows (stride 1) each route their own gradient; they add up
    x = np.array([2.0, 2.0, 2.0, 1.0]).reshape(1, 4, 1)
    grad_y = np.array([1.0, 10.0, 100.0]).reshape(1, 3, 1)  # windows [2 2] [2 2] [2 1]
    np.testing.assert_array_equal(max_pool_backward(grad_y, x, 2, 1).ravel(), [1, 10, 100, 0])
    # 'same': the padded cells never win, even over a real -1e300
    x = np.full((1, 3, 1), -1e300)
    np.testing.assert_array_equal(max_pool_backward(np.ones((1, 3, 1)), x, 3, 1, "same").ravel(), [2, 1, 0])
    # channels_first, 3-D, a tie across the depth axis
    x = np.zeros((1, 1, 2, 1, 1))
    np.testing.assert_array_equal(
        max_pool_backward(np.ones((1, 1, 1, 1, 1)), x, (2, 1, 1), data_format="channels_first").ravel(),
        [1, 0],
    )
    # a NaN is the maximum: the first NaN of the window gets the gradient
    x = np.array([1.0, np.nan, 3.0, np.nan]).reshape(1, 4, 1)
    np.testing.assert_array_equal(max_pool_backward(np.ones((1, 1, 1)), x, 4).ravel(), [0, 1, 0, 0])


def test_average_pool_backward_same_divides_by_real_cells():
    # windows [1 2] [3 4] [5] of test_same_average_divides_by_real_cells
    grad = average_pool_backward(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1), (1, 5, 1), 2, 2, "same")
    np.testing.assert_array_equal(grad.ravel(), [0.5, 0.5, 1.0, 1.0, 3.0])
    # overlapping 'same' windows on a 1 x 3 x 1 input: the cells' shares add up
    grad = average_pool_backward(np.ones((1, 3, 1)), (1, 3, 1), 3, 1, "same")  # windows of 2, 3 and 2 cells
    assert_close(grad.ravel(), [1 / 2 + 1 / 3, 1 / 2 + 1 / 3 + 1 / 2, 1 / 3 + 1 / 2])
    # 'valid' with cells no window reaches: their gradient is 0
    np.testing.assert_array_equal(
        average_pool_backward(np.ones((1, 2, 1)), (1, 5, 1), 2).ravel(), [0.5, 0.5, 0.5, 0.5, 0]
    )


@st.composite
def global_backward_cases(draw):
    x, data_format, keepdims = draw(global_cases())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = distinct_values(x.shape, rng)
    if data_format == "channels_first":
        x = np.ascontiguousarray(to_first(x))
    grad_y = rng.standard_normal(global_max_pool(x, data_format, keepdims).shape)
    return x, grad_y, data_format, keepdims


@pytest.mark.parametrize("op", ["max", "average"])
@given(case=global_backward_cases())
def test_global_pool_backward_matches_finite_differences(op, case):
    x, grad_y, data_format, keepdims = case
    grad_x = GLOBAL_BACKWARDS[op](grad_y, x if op == "max" else x.shape, data_format, keepdims)
    assert_gradient(grad_x, lambda v: GLOBAL_POOLS[op](v, data_format, keepdims), x, grad_y)
    grad32 = GLOBAL_BACKWARDS[op](
        grad_y.astype(np.float32), x.astype(np.float32) if op == "max" else x.shape, data_format, keepdims
    )
    assert grad32.dtype == np.float32
    assert_close(grad32, grad_x, np.float32)


def test_global_max_pool_backward_ties_go_to_the_first_maximum():
    x = np.array([[[1.0, 5.0], [5.0, 5.0]], [[2.0, 0.0], [0.0, 2.0]]]).reshape(1, 2, 2, 2)  # channels_first
    grad = global_max_pool_backward(np.array([[3.0, 4.0]]), x, "channels_first")
    np.testing.assert_array_equal(grad[0], [[[0, 3], [0, 0]], [[4, 0], [0, 0]]])
    grad = global_max_pool_backward(np.ones((1, 1, 1, 2)), np.moveaxis(x, 1, -1), keepdims=True)
    np.testing.assert_array_equal(np.moveaxis(grad, -1, 1)[0], [[[0, 1], [0, 0]], [[1, 0], [0, 0]]])


@requires_torch
@pytest.mark.parametrize("op", ["max", "average"])
def test_global_pool_backward_matches_pytorch(op):
    t = torch()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 4, 5, 3))  # channels_first, 3-D
    grad_y = rng.standard_normal((3, 2))
    xt = t.tensor(x, requires_grad=True)
    (xt.amax(dim=(2, 3, 4)) if op == "max" else xt.mean(dim=(2, 3, 4))).backward(t.from_numpy(grad_y))
    ours = GLOBAL_BACKWARDS[op](grad_y, x if op == "max" else x.shape, "channels_first")
    assert_close(ours, xt.grad.numpy())


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_backward_input_not_modified(padding, data_format):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 5, 6, 3))
    grad_y = rng.standard_normal(max_pool(x, 2, 1, padding, data_format).shape)
    grad_global = rng.standard_normal(global_max_pool(x, data_format).shape)
    keep = [a.copy() for a in (x, grad_y, grad_global)]
    for a in (x, grad_y, grad_global):
        a.flags.writeable = False
    results = [
        max_pool_backward(grad_y, x, 2, 1, padding, data_format),
        average_pool_backward(grad_y, x.shape, 2, 1, padding, data_format),
        global_max_pool_backward(grad_global, x, data_format),
        global_average_pool_backward(grad_global, x.shape, data_format),
    ]
    for result in results:
        assert result.shape == x.shape
        result[...] = 7.0  # new, writable arrays
    for a, k in zip((x, grad_y, grad_global), keep):
        np.testing.assert_array_equal(a, k)


def test_backward_dtypes():
    x32 = np.zeros((1, 4, 4, 2), np.float32)
    assert max_pool_backward(np.zeros((1, 2, 2, 2)), x32, 2).dtype == np.float64  # the common dtype
    assert (
        max_pool_backward(np.zeros((1, 2, 2, 2), int), np.arange(32).reshape(1, 4, 4, 2), 2).dtype
        == np.float32
    )
    assert average_pool_backward(np.zeros((1, 2, 2, 2), np.float32), (1, 4, 4, 2), 2).dtype == np.float32
    assert global_average_pool_backward(np.zeros((1, 2), int), (1, 4, 4, 2)).dtype == np.float32
    assert max_pool_backward(np.zeros((0, 2, 2, 2)), np.zeros((0, 4, 4, 2)), 2).shape == (0, 4, 4, 2)


def test_backward_errors():
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(
        ValueError,
        match=r"max_pool_backward: expected grad_y of shape \(1, 2, 2, 2\), the shape of the forward's "
        r"output. Received: grad_y.shape=\(1, 4, 4, 2\)",
    ):
        max_pool_backward(x, x, 2)
    with pytest.raises(
        ValueError,
        match=r"average_pool_backward: expected grad_y of shape \(1, 4, 2, 1\).*Received: "
        r"grad_y.shape=\(1, 2, 2\)",
    ):
        average_pool_backward(
            np.zeros((1, 2, 2)), x.shape, 2, data_format="channels_first"
        )  # 4 channels of 4 x 2
    with pytest.raises(
        ValueError,
        match=r"average_pool_backward: expected input of rank 3, 4 or 5 "
        r"\(batch, \*spatial, channels\).*Received: x_shape=\(4, 2\)",
    ):
        average_pool_backward(np.zeros((2, 1)), (4, 2), 2)
    with pytest.raises(
        ValueError,
        match=r"average_pool_backward: the output would be empty: .*Received: x_shape=\(1, 4, 4, 2\), "
        r"pool_size=\(2, 5\)",
    ):
        average_pool_backward(np.zeros((1, 2, 1, 2)), (1, 4, 4, 2), (2, 5))
    with pytest.raises(
        ValueError,
        match=r"average_pool_backward: the `x_shape` argument must be a tuple of non-negative ints "
        r"\(an array's shape\). Received: x_shape=\(1, -4, 2\)",
    ):
        average_pool_backward(np.zeros((1, 2, 2)), (1, -4, 2), 2)
    with pytest.raises(
        TypeError,
        match=r"global_average_pool_backward: the `x_shape` argument must be a tuple of non-negative "
        r"ints.*Received: x_shape=4",
    ):
        global_average_pool_backward(np.zeros((1, 2)), 4)
    with pytest.raises(
        ValueError,
        match=r"the `padding` argument must be one of \{'valid', 'same'\}. Received: padding='full'",
    ):
        max_pool_backward(np.zeros((1, 2, 2, 2)), x, 2, padding="full")
    with pytest.raises(
        TypeError, match=r"max_pool_backward expected a numeric array.*Received: grad_y with dtype=<U1"
    ):
        max_pool_backward(np.array([[["a"]]]), x, 2)
    with pytest.raises(
        ValueError,
        match=r"global_max_pool_backward: expected grad_y of shape \(1, 2\), the shape of the forward's "
        r"output \(keepdims=False\). Received: grad_y.shape=\(1, 1, 1, 2\)",
    ):
        global_max_pool_backward(np.zeros((1, 1, 1, 2)), x)
    with pytest.raises(
        ValueError,
        match=r"expected grad_y of shape \(1, 2, 1, 1\).*\(keepdims=True\). Received: grad_y.shape=\(1, 2\)",
    ):
        global_average_pool_backward(np.zeros((1, 2)), (1, 2, 4, 4), "channels_first", keepdims=True)
    with pytest.raises(
        ValueError,
        match=r"global_average_pool_backward: every spatial axis must have at least one position.*Received: "
        r"x_shape=\(1, 0, 2\)",
    ):
        global_average_pool_backward(np.zeros((1, 2)), (1, 0, 2))
    with pytest.raises(
        TypeError,
        match=r"global_max_pool_backward: the `keepdims` argument must be True or False. Received: "
        r"keepdims=None",
    ):
        global_max_pool_backward(np.zeros((1, 2)), x, keepdims=None)


# --- the non-overlapping fast path of max_pool_backward (strides >= pool_size) ---------------


def reference_max_pool_backward(grad_y, x, pool_size, strides, padding):
    """channels_last; plain loops: each window's grad_y goes to its first maximum in window
    order (a NaN counts as the maximum, the first NaN wins), cells in the padding excluded."""
    x = np.asarray(x, dtype=np.float64)
    batch, *sizes, channels = x.shape
    befores = []
    for size, k, s in zip(sizes, pool_size, strides):
        out = -(-size // s)
        befores.append(0 if padding == "valid" else max((out - 1) * s + k - size, 0) // 2)
    grad = np.zeros_like(x)
    for b in range(batch):
        for o in itertools.product(*(range(v) for v in grad_y.shape[1:-1])):
            for c in range(channels):
                best, where = None, None
                for t in itertools.product(*(range(k) for k in pool_size)):
                    i = tuple(oi * s + ti - bi for oi, s, ti, bi in zip(o, strides, t, befores))
                    if not all(0 <= ii < size for ii, size in zip(i, sizes)):
                        continue
                    v = x[(b, *i, c)]
                    if best is None or (not np.isnan(best) and (v > best or np.isnan(v))):
                        best, where = v, i
                grad[(b, *where, c)] += grad_y[(b, *o, c)]
    return grad


@pytest.mark.parametrize(
    "shape, pool_size, strides, padding",
    [
        ((2, 6, 8, 3), (2, 2), None, "valid"),  # the classic 2x2 pool: every cell in one window
        ((2, 7, 9, 2), (2, 2), None, "valid"),  # a last row and column in no window
        ((2, 7, 9, 2), (2, 3), (3, 4), "valid"),  # strides > pool size: gaps between windows
        ((1, 7, 5, 2), (2, 2), None, "same"),  # padded windows at the end
        ((2, 9, 3), (3,), None, "valid"),  # 1-D
        ((1, 4, 4, 6, 2), (2, 2, 3), None, "same"),  # 3-D
    ],
)
@pytest.mark.parametrize("values", ["distinct", "ties", "nan"])
def test_max_pool_backward_disjoint_windows_match_the_loop_reference(
    shape, pool_size, strides, padding, values
):
    rng = np.random.default_rng(sum(shape))
    x = distinct_values(shape, rng)
    if values == "ties":
        x = np.maximum(np.floor(x / x.size * 4), 0)  # relu-like: many windows all zero
    if values == "nan":
        x.flat[rng.choice(x.size, size=max(1, x.size // 7), replace=False)] = np.nan
    strides_ = pool_size if strides is None else strides
    y = max_pool(x, pool_size, strides, padding)
    grad_y = rng.standard_normal(y.shape)
    expected = reference_max_pool_backward(grad_y, x, pool_size, strides_, padding)
    for given_y in (None, y):
        got = max_pool_backward(grad_y, x, pool_size, strides, padding, y=given_y)
        np.testing.assert_array_equal(got, expected)
        assert got.flags.c_contiguous and got.dtype == np.float64
    x32, g32 = x.astype(np.float32), grad_y.astype(np.float32)
    got32 = max_pool_backward(
        g32, x32, pool_size, strides, padding, y=max_pool(x32, pool_size, strides, padding)
    )
    assert got32.dtype == np.float32
    np.testing.assert_array_equal(
        got32, reference_max_pool_backward(g32, x32, pool_size, strides_, padding).astype(np.float32)
    )
    # channels_first gives the same numbers, moved
    first = max_pool_backward(
        to_first(grad_y), to_first(x), pool_size, strides, padding, "channels_first", y=to_first(y)
    )
    np.testing.assert_array_equal(first, to_first(expected))


def test_max_pool_backward_disjoint_windows_keep_infinite_gradients_out_of_unchosen_cells():
    x = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]])  # one 2x2 window, maximum at the end
    grad = max_pool_backward(np.full((1, 1, 1, 1), np.inf), x, 2)
    np.testing.assert_array_equal(grad[0, :, :, 0], [[0.0, 0.0], [0.0, np.inf]])  # 0, not 0 * inf = NaN


def test_max_pool_backward_checks_the_given_output_shape():
    x = np.zeros((1, 4, 4, 2))
    with pytest.raises(
        ValueError,
        match=r"max_pool_backward: expected grad_y of shape \(1, 2, 2, 2\), the shape of the forward's "
        r"output. Received: grad_y.shape=\(1, 4, 4, 2\)",
    ):
        max_pool_backward(np.zeros((1, 2, 2, 2)), x, 2, y=x)


def test_max_pool_backward_leaves_its_arguments_alone():
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal((2, 4, 4, 3)), 0)
    y = max_pool(x, 2)
    g = rng.standard_normal(y.shape)
    copies = [a.copy() for a in (x, y, g)]
    max_pool_backward(g, x, 2, y=y)
    for a, c in zip((x, y, g), copies):
        np.testing.assert_array_equal(a, c)
