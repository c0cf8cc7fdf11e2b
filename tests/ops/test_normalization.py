"""Tests for convolve/ops/normalization.py: a loop reference, hypothesis, finite differences for
the backwards and the training form, PyTorch, errors."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from convolve.ops.normalization import (
    batch_norm,
    batch_norm_backward,
    batch_norm_train,
    batch_norm_train_backward,
)
from tests.helpers import assert_close, requires_torch, torch
from tests.ops.test_core import assert_gradient


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
    np.testing.assert_array_equal(
        batch_norm(x, np.array([1.0, 1.0]), np.array([4.0, 16.0]), epsilon=0), [[0.5, 1.0]]
    )


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
    expected = t.nn.functional.batch_norm(
        t.from_numpy(x), *tensors[:2], tensors[2], tensors[3], training=False, eps=epsilon
    )
    assert_close(batch_norm(x, *args, epsilon=epsilon, axis=1), expected.numpy(), dtype)


def test_input_not_modified():
    rng = np.random.default_rng(2)
    arrays = [
        rng.standard_normal((3, 4)),
        rng.standard_normal(4),
        rng.uniform(1, 2, 4),
        rng.standard_normal(4),
        rng.standard_normal(4),
    ]
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
    np.testing.assert_array_equal(
        y, batch_norm(x.astype(np.float32), np.zeros(4, np.float32), np.ones(4, np.float32))
    )
    assert batch_norm(x, [0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]).dtype == np.float32


def test_errors():
    x = np.zeros((2, 3))
    m, v = np.zeros(3), np.ones(3)
    with pytest.raises(
        ValueError,
        match=r"batch_norm: expected input of rank >= 1 with a channel axis. Received: inputs.shape=\(\)",
    ):
        batch_norm(np.float64(1.0), m, v)
    with pytest.raises(
        TypeError, match=r"batch_norm: the `axis` argument must be an int. Received: axis=\(1,\)"
    ):
        batch_norm(x, m, v, axis=(1,))
    with pytest.raises(
        ValueError,
        match=r"the `axis` argument must be in \[-2, 2\) for input of rank 2. Received: axis=2, "
        r"inputs.shape=\(2, 3\)",
    ):
        batch_norm(x, m, v, axis=2)
    with pytest.raises(
        TypeError, match=r"the `epsilon` argument must be a number. Received: epsilon='0.001'"
    ):
        batch_norm(x, m, v, epsilon="0.001")
    with pytest.raises(
        ValueError, match=r"the `epsilon` argument must be a finite number >= 0. Received: epsilon=-1e-05"
    ):
        batch_norm(x, m, v, epsilon=-1e-5)
    with pytest.raises(
        ValueError, match=r"the `epsilon` argument must be a finite number >= 0. Received: epsilon=nan"
    ):
        batch_norm(x, m, v, epsilon=float("nan"))
    with pytest.raises(
        TypeError, match=r"the `mean` argument is required \(an array of shape \(3,\)\). Received: mean=None"
    ):
        batch_norm(x, None, v)
    with pytest.raises(TypeError, match=r"the `variance` argument is required.*Received: variance=None"):
        batch_norm(x, m, None)
    for name in ("mean", "variance", "gamma", "beta"):
        kwargs = dict(mean=m, variance=v, gamma=None, beta=None)
        kwargs[name] = np.ones(2)
        with pytest.raises(
            ValueError,
            match=rf"BatchNormalization 'bn': expected {name} of shape \(3,\), one value per channel of axis "
            r"1. "
            rf"Received: {name}.shape=\(2,\), inputs.shape=\(2, 3\)",
        ):
            batch_norm(x, **kwargs, where="BatchNormalization 'bn'")
    with pytest.raises(
        ValueError,
        match=r"expected mean of shape \(2,\), one value per channel of axis 0. Received: mean.shape=\(3,\)",
    ):
        batch_norm(x, m, v, axis=0)
    with pytest.raises(ValueError, match=r"expected gamma of shape \(3,\).*Received: gamma.shape=\(1, 3\)"):
        batch_norm(x, m, v, gamma=np.ones((1, 3)))
    with pytest.raises(
        ValueError,
        match=r"batch_norm: the variance must be >= 0 everywhere. Received: variance with minimum -0.5",
    ):
        batch_norm(x, m, np.array([1.0, -0.5, 2.0]))
    with pytest.raises(
        TypeError,
        match=r"batch_norm expected a numeric array \(integer or float\) for inputs. Received: inputs with "
        r"dtype=<U1",
    ):
        batch_norm(np.array(["a", "b", "c"]), m, v)
    with pytest.raises(
        TypeError,
        match=r"batch_norm expected a numeric array \(integer or float\) for beta. Received: beta with "
        r"dtype=object",
    ):
        batch_norm(x, m, v, beta=np.array([None, None, None]))



# --- the training form and the backwards ----------------------------------------------------------------


@st.composite
def backward_cases(draw):
    """Cases of at most 64 values (rank 1 to 4), gamma and beta drawn (None half the time), and a grad_y."""
    shape = tuple(
        draw(st.lists(st.integers(1, 4), min_size=1, max_size=4).filter(lambda s: math.prod(s) <= 64))
    )
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    channels = shape[axis]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape) * 3 + 1
    gamma = rng.standard_normal(channels) if draw(st.booleans()) else None
    beta = rng.standard_normal(channels) if draw(st.booleans()) else None
    mean, variance = rng.standard_normal(channels), rng.uniform(0.5, 4.0, channels)
    epsilon = draw(st.sampled_from([1e-3, 1e-5, 0.1]))
    return x, gamma, beta, mean, variance, epsilon, axis, rng.standard_normal(shape)


def reference_batch_statistics(x, axis):
    """Per channel, with a loop over the channels: the mean and the biased variance of its values."""
    moved = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    mean = np.array([channel.mean() for channel in moved])
    variance = np.array([((channel - channel.mean()) ** 2).mean() for channel in moved])
    return mean, variance


@given(case=backward_cases())
def test_batch_norm_train_is_batch_norm_with_the_batch_statistics(case):
    x, gamma, beta, _, _, epsilon, axis, _ = case
    y, mean, variance = batch_norm_train(x, gamma, beta, epsilon, axis)
    expected_mean, expected_variance = reference_batch_statistics(x, axis)
    assert_close(mean, expected_mean)
    assert_close(variance, expected_variance)
    assert_close(y, reference_batch_norm(x, expected_mean, expected_variance, gamma, beta, epsilon, axis))


@given(case=backward_cases())
def test_batch_norm_train_gradients_match_finite_differences(case):
    x, gamma, beta, _, _, epsilon, axis, grad_y = case
    _, mean, variance = batch_norm_train(x, gamma, beta, epsilon, axis)
    grad_x, grad_gamma, grad_beta = batch_norm_train_backward(grad_y, x, gamma, mean, variance, epsilon, axis)
    assert_gradient(grad_x, lambda v: batch_norm_train(v, gamma, beta, epsilon, axis)[0], x, grad_y)
    assert_gradient(
        grad_beta, lambda b: batch_norm_train(x, gamma, b, epsilon, axis)[0], np.zeros(x.shape[axis]), grad_y
    )
    if gamma is None:
        assert grad_gamma is None
    else:
        assert_gradient(grad_gamma, lambda gm: batch_norm_train(x, gm, beta, epsilon, axis)[0], gamma, grad_y)


@given(case=backward_cases())
def test_batch_norm_backward_matches_finite_differences(case):
    x, gamma, beta, mean, variance, epsilon, axis, grad_y = case
    grad_x, grad_gamma, grad_beta = batch_norm_backward(grad_y, x, mean, variance, gamma, epsilon, axis)
    assert_gradient(grad_x, lambda v: batch_norm(v, mean, variance, gamma, beta, epsilon, axis), x, grad_y)
    assert_gradient(
        grad_beta,
        lambda b: batch_norm(x, mean, variance, gamma, b, epsilon, axis),
        np.zeros(x.shape[axis]),
        grad_y,
    )
    if gamma is None:
        assert grad_gamma is None
    else:
        assert_gradient(
            grad_gamma, lambda gm: batch_norm(x, mean, variance, gm, beta, epsilon, axis), gamma, grad_y
        )


def well_conditioned(x, axis, epsilon, ratio=20.0):
    """Every channel of more than one value has sqrt(batch_variance + epsilon) >= max|x| / ratio.

    Where a channel's spread is much smaller than its values (4.80 and 4.85, say), the rounding
    of x and of its mean to float32 alone moves x - mean, hence the training form's outputs
    and gradients, by more than 1e-5 relative (by max|x| / sqrt(var + eps) times float32's
    precision): no float32 computation can match float64 there.
    """
    if x.size == x.shape[axis]:  # one value per channel: x - mean is exactly 0
        return True
    moved = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    return bool(np.all(np.sqrt(moved.var(axis=1) + epsilon) >= np.abs(x).max() / ratio))


@given(case=backward_cases())
def test_float32_matches_float64(case):
    x, gamma, beta, mean, variance, epsilon, axis, grad_y = case
    assume(well_conditioned(x, axis, epsilon))
    f32 = lambda v: None if v is None else v.astype(np.float32)  # noqa: E731
    train64 = batch_norm_train(x, gamma, beta, epsilon, axis)
    train32 = batch_norm_train(f32(x), f32(gamma), f32(beta), epsilon, axis)
    grads64 = batch_norm_train_backward(grad_y, x, gamma, *train64[1:], epsilon, axis)
    grads32 = batch_norm_train_backward(f32(grad_y), f32(x), f32(gamma), *train32[1:], epsilon, axis)
    grads64 += batch_norm_backward(grad_y, x, mean, variance, gamma, epsilon, axis)
    grads32 += batch_norm_backward(f32(grad_y), f32(x), f32(mean), f32(variance), f32(gamma), epsilon, axis)
    for ours, exact in zip((*train32, *grads32), (*train64, *grads64)):
        if exact is None:
            assert ours is None
            continue
        assert ours.dtype == np.float32
        assert_close(ours, exact, np.float32)


@requires_torch
@given(case=backward_cases())
def test_train_and_gradients_match_pytorch(case):
    t = torch()
    x, gamma, beta, mean, variance, epsilon, axis, grad_y = case
    if x.ndim < 2:
        x, grad_y, axis = x.reshape(1, -1), grad_y.reshape(1, -1), 1
    assume(x.size > x.shape[axis])  # PyTorch refuses one value per channel in training
    x, grad_y = (
        np.ascontiguousarray(np.moveaxis(v, axis, 1)) for v in (x, grad_y)
    )  # PyTorch's channels are axis 1
    others = tuple(a for a in range(x.ndim) if a != 1)
    tensors = [None if v is None else t.tensor(v, requires_grad=True) for v in (x, gamma, beta)]
    y_t = t.nn.functional.batch_norm(
        tensors[0], None, None, tensors[1], tensors[2], training=True, eps=epsilon
    )
    y_t.backward(t.from_numpy(grad_y))
    y, batch_mean, batch_variance = batch_norm_train(x, gamma, beta, epsilon, axis=1)
    assert_close(y, y_t.detach().numpy())
    assert_close(batch_mean, tensors[0].detach().mean(dim=others).numpy())
    assert_close(batch_variance, tensors[0].detach().var(dim=others, unbiased=False).numpy())
    grads = batch_norm_train_backward(grad_y, x, gamma, batch_mean, batch_variance, epsilon, axis=1)
    for ours, tensor in zip(grads, tensors):
        if tensor is not None:
            assert_close(ours, tensor.grad.numpy())
    # the inference form: statistics fixed
    tensors = [None if v is None else t.tensor(v, requires_grad=True) for v in (x, gamma, beta)]
    y_t = t.nn.functional.batch_norm(
        tensors[0], t.from_numpy(mean), t.from_numpy(variance), tensors[1], tensors[2], eps=epsilon
    )
    y_t.backward(t.from_numpy(grad_y))
    for ours, tensor in zip(batch_norm_backward(grad_y, x, mean, variance, gamma, epsilon, axis=1), tensors):
        if tensor is not None:
            assert_close(ours, tensor.grad.numpy())


def test_train_channels_first_and_constant_channels():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    last = batch_norm_train(x, gamma, beta)
    first = batch_norm_train(np.moveaxis(x, -1, 1), gamma, beta, axis=1)
    assert_close(np.moveaxis(first[0], 1, -1), last[0])
    assert_close(first[1], last[1])
    assert_close(first[2], last[2])
    # a constant channel normalises to beta; its variance is 0, so to first order only the
    # centring acts on a change of x: grad_x = (d - mean(d)) / sqrt(epsilon), d = grad_y * gamma
    x[..., 0] = 2.5
    y, mean, variance = batch_norm_train(x, gamma, beta)
    assert mean[0] == 2.5 and variance[0] == 0.0
    np.testing.assert_array_equal(y[..., 0], beta[0])
    grad_y = rng.standard_normal(x.shape)
    grad_x = batch_norm_train_backward(grad_y, x, gamma, mean, variance)[0]
    d = grad_y[..., 0] * gamma[0]
    assert_close(grad_x[..., 0], (d - d.mean()) / math.sqrt(1e-3))


def test_backward_inputs_not_modified():
    rng = np.random.default_rng(4)
    x, g, gamma, beta = (
        rng.standard_normal((3, 4)),
        rng.standard_normal((3, 4)),
        rng.standard_normal(4),
        rng.standard_normal(4),
    )
    mean, variance = rng.standard_normal(4), rng.uniform(1, 2, 4)
    arrays = (x, g, gamma, beta, mean, variance)
    keep = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    y, batch_mean, batch_variance = batch_norm_train(x, gamma, beta)
    outputs = [y, batch_mean, batch_variance]
    outputs += batch_norm_train_backward(g, x, gamma, batch_mean, batch_variance)
    outputs += batch_norm_backward(g, x, mean, variance, gamma)
    for out in outputs:
        out[...] = 0.0  # new, writable arrays
    for a, k in zip(arrays, keep):
        np.testing.assert_array_equal(a, k)


def test_train_integer_input_and_empty_channels():
    y, mean, variance = batch_norm_train(np.arange(12).reshape(3, 4))
    assert y.dtype == mean.dtype == np.float32
    assert_close(mean, [4, 5, 6, 7], np.float32)
    y, mean, variance = batch_norm_train(np.zeros((3, 0)))
    assert y.shape == (3, 0) and mean.shape == variance.shape == (0,)


def test_train_and_backward_errors():
    x, g = np.zeros((2, 3)), np.zeros((2, 3))
    m, v = np.zeros(3), np.ones(3)
    with pytest.raises(
        ValueError,
        match=r"batch_norm_train: the batch statistics need at least one value per channel; the axes other "
        r"than axis 1 hold none. "
        r"Received: inputs.shape=\(0, 3\)",
    ):
        batch_norm_train(np.zeros((0, 3)))
    with pytest.raises(
        ValueError,
        match=r"batch_norm_train: expected gamma of shape \(3,\), one value per channel of axis 1. Received: "
        r"gamma.shape=\(2,\)",
    ):
        batch_norm_train(x, np.ones(2))
    with pytest.raises(ValueError, match=r"batch_norm_train: the `axis` argument must be in \[-2, 2\)"):
        batch_norm_train(x, axis=-3)
    with pytest.raises(
        ValueError,
        match=r"batch_norm_train_backward: grad_y must have the shape of the inputs. Received: "
        r"grad_y.shape=\(3,\), inputs.shape=\(2, 3\)",
    ):
        batch_norm_train_backward(np.zeros(3), x, None, m, v)
    with pytest.raises(
        TypeError,
        match=r"batch_norm_train_backward: the `batch_mean` argument is required "
        r"\(an array of shape \(3,\)\). Received: batch_mean=None",
    ):
        batch_norm_train_backward(g, x, None, None, v)
    with pytest.raises(
        TypeError,
        match=r"batch_norm_backward: the `grad_y` argument is required \(an array of shape \(2, 3\)\). "
        r"Received: grad_y=None",
    ):
        batch_norm_backward(None, x, m, v)
    with pytest.raises(
        ValueError,
        match=r"batch_norm_train_backward: the batch variance must be >= 0 everywhere. Received: "
        r"batch_variance with minimum -1.0",
    ):
        batch_norm_train_backward(g, x, None, m, -v)
    with pytest.raises(
        ValueError,
        match=r"batch_norm_train_backward: the batch statistics need at least one value per channel",
    ):
        batch_norm_train_backward(np.zeros((0, 3)), np.zeros((0, 3)), None, m, v)
    with pytest.raises(
        ValueError,
        match=r"batch_norm_backward: expected variance of shape \(3,\).*Received: variance.shape=\(1, 3\)",
    ):
        batch_norm_backward(g, x, m, v.reshape(1, 3))
    with pytest.raises(
        ValueError,
        match=r"batch_norm_backward: the `epsilon` argument must be a finite number >= 0. Received: "
        r"epsilon=-1",
    ):
        batch_norm_backward(g, x, m, v, epsilon=-1)
    with pytest.raises(
        TypeError,
        match=r"batch_norm_train_backward expected a numeric array \(integer or float\) for grad_y. "
        r"Received: grad_y with dtype=<U1",
    ):
        batch_norm_train_backward(np.array([["a"] * 3] * 2), x, None, m, v)
