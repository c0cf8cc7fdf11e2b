"""convolve.utils: to_categorical and normalize against written-out definitions (loops),
Keras 3's documented examples and shapes, edge cases, and every error message."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import convolve
from convolve.utils import normalize, to_categorical
from tests.helpers import requires_torch, torch

# ---- to_categorical ----------------------------------------------------------------------------


def one_hot_loop(labels, num_classes):
    """One row of num_classes zeros per label with a 1 at the label, labels' shape kept."""
    labels = np.asarray(labels)
    out = np.zeros(labels.shape + (num_classes,), dtype=np.float32)
    for index in np.ndindex(labels.shape):
        out[index + (int(labels[index]),)] = 1.0
    return out


def test_to_categorical_keras_example():
    np.testing.assert_array_equal(to_categorical([0, 1, 2, 3], num_classes=4), np.eye(4))
    out = to_categorical([0, 2, 5])  # num_classes inferred as max + 1
    assert out.shape == (3, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out, one_hot_loop([0, 2, 5], 6))


@pytest.mark.parametrize("shape, expected_shape", [
    ((), (5,)),
    ((1,), (1, 5)),
    ((3,), (3, 5)),
    ((4, 3), (4, 3, 5)),
    ((5, 4, 3), (5, 4, 3, 5)),
    ((3, 1), (3, 5)),            # a trailing axis of size 1 is dropped, as Keras does
    ((3, 2, 1), (3, 2, 5)),
    ((3, 1, 2), (3, 1, 2, 5)),   # only the trailing one
    ((3, 1, 1), (3, 1, 5)),      # and only one of them
])
def test_to_categorical_shapes_match_keras(shape, expected_shape):
    labels = np.random.default_rng(0).integers(0, 5, size=shape)
    out = to_categorical(labels, num_classes=5)
    assert out.shape == expected_shape and out.dtype == np.float32
    squeezed = labels.reshape(expected_shape[:-1])
    np.testing.assert_array_equal(out, one_hot_loop(squeezed, 5))


def test_to_categorical_n_by_1_column_of_labels():
    column = np.array([[2], [0], [1], [2]])
    out = to_categorical(column)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(to_categorical(column, num_classes=4), np.eye(4)[[2, 0, 1, 2]])


@pytest.mark.parametrize("labels", [
    np.array([1, 0, 3], dtype=np.uint8),
    np.array([1, 0, 3], dtype=np.int16),
    np.array([1.0, 0.0, 3.0], dtype=np.float32),   # whole-number floats (labels read from a CSV file)
    np.array([1.0, -0.0, 3.0]),                    # -0.0 is the class 0
    [1, 0, 3],
    (1, 0, 3),
])
def test_to_categorical_accepts_integer_valued_labels(labels):
    expected = np.eye(4, dtype=np.float32)[[1, 0, 3]]
    np.testing.assert_array_equal(to_categorical(labels, num_classes=4), expected)


def test_to_categorical_booleans_are_classes_0_and_1():
    np.testing.assert_array_equal(to_categorical(np.array([True, False])), [[0, 1], [1, 0]])


def test_to_categorical_empty_labels():
    assert to_categorical(np.zeros((0,), dtype=int), num_classes=3).shape == (0, 3)
    assert to_categorical(np.zeros((0, 1), dtype=int), num_classes=3).shape == (0, 3)
    assert to_categorical(np.zeros((2, 0), dtype=int), num_classes=3).shape == (2, 0, 3)
    with pytest.raises(ValueError, match=r"^to_categorical: cannot infer `num_classes` from empty labels; "
                                         r"pass num_classes. "
                                         r"Received: x with shape \(0,\) and num_classes=None$"):
        to_categorical([])


def test_to_categorical_returns_a_new_array_in_floatx_and_leaves_x_alone():
    labels = np.array([[1], [0]])
    out = to_categorical(labels, num_classes=2)
    out[:] = 7
    np.testing.assert_array_equal(labels, [[1], [0]])
    try:
        convolve.set_floatx("float64")
        assert to_categorical([0, 1]).dtype == np.float64
    finally:
        convolve.set_floatx("float32")


def test_to_categorical_numpy_integer_num_classes():
    out = to_categorical([1], num_classes=np.int64(3))
    assert out.shape == (1, 3) and out[0, 1] == 1


def test_to_categorical_error_messages():
    with pytest.raises(TypeError, match=r"^to_categorical: `x` must hold integer class labels. "
                                        r"Received: x with dtype=<U3$"):
        to_categorical(["cat", "dog"])
    with pytest.raises(ValueError, match=r"^to_categorical: every label must be a whole number \(an integer "
                                         r"class index\). Received: x\[1\]=1.5$"):
        to_categorical([1.0, 1.5, 2.0])
    with pytest.raises(ValueError, match=r"^to_categorical: every label must be a whole number .* "
                                         r"Received: x\[0, 1\]=nan \(2 such labels\)$"):
        to_categorical(np.array([[0.0, np.nan], [np.inf, 1.0]]))
    with pytest.raises(ValueError, match=r"^to_categorical: labels must be >= 0. Received: x\[1, 0\]=-1$"):
        to_categorical(np.array([[0], [-1], [2]]))
    with pytest.raises(ValueError, match=r"^to_categorical: labels must be >= 0. Received: x=-2$"):
        to_categorical(-2, num_classes=3)
    with pytest.raises(ValueError, match=r"^to_categorical: every label must be less than num_classes=3 "
                                         r"\(classes 0 to 2\). Received: x\[2\]=3 \(2 such labels\)$"):
        to_categorical([0, 2, 3, 7], num_classes=3)
    expected = r"^to_categorical: `num_classes` must be a positive integer or None. Received: num_classes="
    for bad in (2.0, True, "3"):
        with pytest.raises(TypeError, match=expected + re.escape(repr(bad)) + "$"):
            to_categorical([0, 1], num_classes=bad)
    for bad in (0, -2):
        with pytest.raises(ValueError, match=expected + f"{bad}$"):
            to_categorical([0, 1], num_classes=bad)


@requires_torch
def test_to_categorical_matches_torch_one_hot():
    t = torch()
    labels = np.random.default_rng(1).integers(0, 7, size=(4, 5))
    expected = t.nn.functional.one_hot(t.from_numpy(labels), num_classes=7).numpy()
    np.testing.assert_array_equal(to_categorical(labels, num_classes=7), expected)


# ---- normalize ---------------------------------------------------------------------------------


def normalize_loop(x, axis, order):
    """Each 1-D slice along ``axis`` divided by its L-order norm, zero slices left alone."""
    x = np.asarray(x, dtype=np.float64)
    moved = np.moveaxis(x, axis, -1)
    out = np.empty_like(moved)
    for index in np.ndindex(moved.shape[:-1]):
        values = [abs(float(v)) for v in moved[index]]
        if order == math.inf:
            norm = max(values)
        else:
            norm = sum(v ** order for v in values) ** (1.0 / order)
        out[index] = moved[index] / (norm if norm != 0 else 1.0)
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("order", [1, 2, 3, 2.5, math.inf])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_normalize_matches_the_definition(axis, order, dtype, rtol):
    x = np.random.default_rng(2).normal(size=(3, 4, 5)).astype(dtype)
    x[1, :, 2] = 0  # a zero slice along axis 1
    x[2, 3, :] = 0  # along axis -1
    x[:, 0, 0] = 0  # along axis 0
    before = x.copy()
    out = normalize(x, axis=axis, order=order)
    assert out.dtype == np.dtype(dtype) and out.shape == x.shape
    np.testing.assert_allclose(out, normalize_loop(x, axis, order), rtol=rtol, atol=0)
    np.testing.assert_array_equal(x, before)  # the caller's array is untouched


def test_normalize_keras_examples():
    x = np.array([[3.0, 0.0, 12.0], [4.0, 5.0, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0), [[0.6, 0.0, 1.0], [0.8, 1.0, 0.0]], rtol=1e-15)
    out = normalize([[1, 2, 3], [4, 5, 6]])  # keras.ops.normalize's docstring example
    assert out.dtype == np.float32  # integer input becomes floatx, as every convolve function does
    np.testing.assert_allclose(out, [[0.26726124, 0.5345225, 0.8017837], [0.45584232, 0.5698029, 0.68376344]],
                               rtol=1e-6)


def test_normalize_zero_rows_stay_zero_and_nothing_divides_by_zero():
    x = np.zeros((3, 4), dtype=np.float32)
    x[1] = [0.0, -3.0, 4.0, 0.0]
    with np.errstate(all="raise"):  # a division by zero or an invalid value would raise here
        out = normalize(x)
        out1 = normalize(x, order=1)
        out_inf = normalize(x, order=math.inf)
    np.testing.assert_array_equal(out[[0, 2]], 0)
    np.testing.assert_allclose(out[1], [0.0, -0.6, 0.8, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out1[1], [0.0, -3 / 7, 4 / 7, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out_inf[1], [0.0, -0.75, 1.0, 0.0], rtol=1e-6)


def test_normalize_neither_overflows_nor_underflows_in_float32():
    big = np.array([[3e30, 4e30]], dtype=np.float32)      # the sum of squares overflows float32
    tiny = np.array([[3e-30, 4e-30]], dtype=np.float32)   # and here it underflows to 0
    np.testing.assert_allclose(normalize(big), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(normalize(tiny), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(normalize(big, order=3), normalize_loop(big, -1, 3), rtol=1e-6)


def test_normalize_empty_and_one_dimensional_input():
    empty = np.zeros((0, 3), dtype=np.float64)
    out = normalize(empty)
    assert out.shape == (0, 3) and out.dtype == np.float64 and out is not empty
    assert normalize(np.zeros((2, 0), dtype=np.float32)).shape == (2, 0)
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0]), axis=0), [0.6, 0.8], rtol=1e-15)


def test_normalize_error_messages():
    x = np.ones((2, 3))
    for bad in (None, 1.0, True, (0, 1)):
        with pytest.raises(TypeError, match=r"^normalize: `axis` must be an integer. Received: axis="
                                            + re.escape(repr(bad)) + "$"):
            normalize(x, axis=bad)
    with pytest.raises(ValueError, match=r"^normalize: `axis` must be in \[-2, 2\) for x of rank 2. "
                                         r"Received: axis=2 with x.shape=\(2, 3\)$"):
        normalize(x, axis=2)
    with pytest.raises(ValueError, match=r"^normalize: x must have an axis to normalize along. "
                                         r"Received: a scalar x of shape \(\)$"):
        normalize(5.0)
    for bad in ("2", True, None):
        with pytest.raises(TypeError, match=rf"^normalize: `order` must be a number >= 1 or math.inf. "
                                            rf"Received: order={bad!r}$"):
            normalize(x, order=bad)
    for bad, shown in ((0, "0"), (0.5, "0.5"), (-math.inf, "-inf"), (math.nan, "nan")):
        with pytest.raises(ValueError, match=rf"^normalize: `order` must be a number >= 1 or math.inf. "
                                             rf"Received: order={shown}$"):
            normalize(x, order=bad)
    with pytest.raises(TypeError, match=r"^normalize expected a numeric array \(integer or float\) for x. "
                                        r"Received: x with dtype=<U1$"):
        normalize(["a", "b"])


@requires_torch
def test_normalize_matches_torch():
    t = torch()
    x = np.random.default_rng(3).normal(size=(4, 6))
    for order, dim in ((2, 1), (1, 0), (3, -1)):
        expected = t.nn.functional.normalize(t.from_numpy(x), p=order, dim=dim).numpy()
        np.testing.assert_allclose(normalize(x, axis=dim, order=order), expected, rtol=1e-12)
