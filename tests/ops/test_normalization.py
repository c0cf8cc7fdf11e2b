"""Tests for convolve/ops/normalization.py: a loop reference, hypothesis, PyTorch, errors."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.normalization import batch_norm
from tests.helpers import assert_close, requires_torch, torch


def reference_batch_norm(x, mean, variance, gamma, beta, epsilon, axis):
    """Element by element: (x - mean[c]) / sqrt(variance[c] + epsilon) * gamma[c] + beta[c]."""
    x = np.asarray(x, dtype=np.float64)
    axis %= x.ndim
    y = np.empty_like(x)
    for index in itertools.product(*(range(d) for d in x.shape)):
        c = index[axis]
        g = 1.0 if gamma is None else float(gamma[c])
        b = 0.0 if beta is None else float(beta[c])
        y[index] = (x[index] - float(mean[c])) / math.sqrt(float(variance[c]) + epsilon) * g + b
    return y


@st.composite
def cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=5)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    channels = shape[axis]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * 3 + 1
    mean = rng.standard_normal(channels)
    variance = rng.uniform(0.0, 4.0, channels)
    gamma = rng.standard_normal(channels) if draw(st.booleans()) else None
    beta = rng.standard_normal(channels) if draw(st.booleans()) else None
    epsilon = draw(st.sampled_from([1e-3, 1e-5, 0.1]))
    return x, mean, variance, gamma, beta, epsilon, axis


def cast(v, dtype):
    return None if v is None else v.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=cases())
def test_matches_reference(dtype, case):
    x, mean, variance, gamma, beta, epsilon, axis = case
    args = [cast(v, dtype) for v in (x, mean, variance, gamma, beta)]
    y = batch_norm(*args, epsilon=epsilon, axis=axis)
    assert y.dtype == dtype and y.shape == x.shape
    assert_close(y, reference_batch_norm(*args, epsilon, axis), dtype)


def test_defaults_axis_last_epsilon_1e3():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    mean, variance = np.arange(4.0), np.arange(1.0, 5.0)
    assert_close(batch_norm(x, mean, variance), reference_batch_norm(x, mean, variance, None, None, 1e-3, -1))


def test_channels_first_is_axis_1():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 4, 3))  # channels_last, 3 channels
    params = [rng.standard_normal(3), rng.uniform(0.5, 2, 3), rng.standard_normal(3), rng.standard_normal(3)]
    last = batch_norm(x, *params)
    first = batch_norm(np.moveaxis(x, -1, 1), *params, axis=1)
    assert_close(np.moveaxis(first, 1, -1), last)


def test_dtypes_combine_like_numpy():
    x = np.ones((2, 3), dtype=np.float32)
    assert batch_norm(x, np.zeros(3, np.float32), np.ones(3, np.float32)).dtype == np.float32
    assert batch_norm(x, np.zeros(3), np.ones(3, np.float32)).dtype == np.float64


def test_epsilon_zero_is_allowed():
    x = np.array([[2.0, 5.0]])
    np.testing.assert_array_equal(batch_norm(x, np.array([1.0, 1.0]), np.array([4.0, 16.0]), epsilon=0), [[0.5, 1.0]])


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=cases())
def test_matches_pytorch(dtype, case):
    t = torch()
    x, mean, variance, gamma, beta, epsilon, axis = case
    if x.ndim < 2:
        x = x.reshape(1, -1)
        axis = 1
    x = np.ascontiguousarray(np.moveaxis(x, axis, 1)).astype(dtype)  # PyTorch's channels are axis 1
    args = [cast(v, dtype) for v in (mean, variance, gamma, beta)]
    tensors = [None if v is None else t.from_numpy(v) for v in args]
    expected = t.nn.functional.batch_norm(t.from_numpy(x), *tensors[:2], tensors[2], tensors[3], training=False, eps=epsilon)
    assert_close(batch_norm(x, *args, epsilon=epsilon, axis=1), expected.numpy(), dtype)


def test_input_not_modified():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(1, 2, 4), rng.standard_normal(4), rng.standard_normal(4)]
    keep = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    y = batch_norm(*arrays)
    y[...] = 0.0
    for a, k in zip(arrays, keep):
        np.testing.assert_array_equal(a, k)


def test_integer_input_gives_float32():
    x = np.arange(12).reshape(3, 4)
    y = batch_norm(x, np.zeros(4, np.float32), np.ones(4, np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, batch_norm(x.astype(np.float32), np.zeros(4, np.float32), np.ones(4, np.float32)))
    assert batch_norm(x, [0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]).dtype == np.float32


def test_errors():
    x = np.zeros((2, 3))
    m, v = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: expected input of rank >= 1 with a channel axis. Received: inputs.shape=\(\)"):
        batch_norm(np.float64(1.0), m, v)
    with pytest.raises(TypeError, match=r"batch_norm: the `axis` argument must be an int. Received: axis=\(1,\)"):
        batch_norm(x, m, v, axis=(1,))
    with pytest.raises(ValueError, match=r"the `axis` argument must be in \[-2, 2\) for input of rank 2. Received: axis=2, inputs.shape=\(2, 3\)"):
        batch_norm(x, m, v, axis=2)
    with pytest.raises(TypeError, match=r"the `epsilon` argument must be a number. Received: epsilon='0.001'"):
        batch_norm(x, m, v, epsilon="0.001")
    with pytest.raises(ValueError, match=r"the `epsilon` argument must be a finite number >= 0. Received: epsilon=-1e-05"):
        batch_norm(x, m, v, epsilon=-1e-5)
    with pytest.raises(ValueError, match=r"the `epsilon` argument must be a finite number >= 0. Received: epsilon=nan"):
        batch_norm(x, m, v, epsilon=float("nan"))
    with pytest.raises(TypeError, match=r"the `mean` argument is required \(an array of shape \(3,\)\). Received: mean=None"):
        batch_norm(x, None, v)
    with pytest.raises(TypeError, match=r"the `variance` argument is required.*Received: variance=None"):
        batch_norm(x, m, None)
    for name in ("mean", "variance", "gamma", "beta"):
        kwargs = dict(mean=m, variance=v, gamma=None, beta=None)
        kwargs[name] = np.ones(2)
        with pytest.raises(
            ValueError,
            match=rf"BatchNormalization 'bn': expected {name} of shape \(3,\), one value per channel of axis 1. "
            rf"Received: {name}.shape=\(2,\), inputs.shape=\(2, 3\)",
        ):
            batch_norm(x, **kwargs, where="BatchNormalization 'bn'")
    with pytest.raises(ValueError, match=r"expected mean of shape \(2,\), one value per channel of axis 0. Received: mean.shape=\(3,\)"):
        batch_norm(x, m, v, axis=0)
    with pytest.raises(ValueError, match=r"expected gamma of shape \(3,\).*Received: gamma.shape=\(1, 3\)"):
        batch_norm(x, m, v, gamma=np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"batch_norm: the variance must be >= 0 everywhere. Received: variance with minimum -0.5"):
        batch_norm(x, m, np.array([1.0, -0.5, 2.0]))
    with pytest.raises(TypeError, match=r"batch_norm expected a numeric array \(integer or float\) for inputs. Received: inputs with dtype=<U1"):
        batch_norm(np.array(["a", "b", "c"]), m, v)
    with pytest.raises(TypeError, match=r"batch_norm expected a numeric array \(integer or float\) for beta. Received: beta with dtype=object"):
        batch_norm(x, m, v, beta=np.array([None, None, None]))
