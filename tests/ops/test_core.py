"""Tests for convolve/ops/core.py (dense and its backward): a loop reference, finite differences,
hypothesis, PyTorch, errors. ``numerical_vjp`` here is the finite-difference helper of every
ops test module."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.core import dense, dense_backward
from tests.helpers import assert_close, relative_error, requires_torch, torch


def reference_dense(x, kernel, bias):
    """y[..., u] = bias[u] + sum over i of x[..., i] * kernel[i, u], one output at a time."""
    x = np.asarray(x, dtype=np.float64)
    in_features, units = kernel.shape
    y = np.empty((*x.shape[:-1], units))
    for lead in itertools.product(*(range(d) for d in x.shape[:-1])):
        for u in range(units):
            total = 0.0 if bias is None else float(bias[u])
            for i in range(in_features):
                total += float(x[(*lead, i)]) * float(kernel[i, u])
            y[(*lead, u)] = total
    return y


@st.composite
def cases(draw):
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    in_features, units = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((*lead, in_features))
    kernel = rng.standard_normal((in_features, units))
    bias = rng.standard_normal(units) if draw(st.booleans()) else None
    return x, kernel, bias


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=cases())
def test_matches_reference(dtype, case):
    x, kernel, bias = (None if v is None else v.astype(dtype) for v in case)
    y = dense(x, kernel, bias)
    assert y.dtype == dtype and y.shape == (*x.shape[:-1], kernel.shape[1])
    assert_close(y, reference_dense(x, kernel, bias), dtype)


def test_non_contiguous_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5))[:, ::2, :].transpose(1, 0, 2)  # (3, 4, 5), strided
    kernel, bias = rng.standard_normal((5, 2)), rng.standard_normal(2)
    assert_close(dense(x, kernel, bias), reference_dense(x, kernel, bias))


def test_empty_shapes():
    np.testing.assert_array_equal(
        dense(np.ones((2, 0)), np.ones((0, 3)), np.arange(3.0)), [[0, 1, 2], [0, 1, 2]]
    )
    assert dense(np.ones((0, 4)), np.ones((4, 3))).shape == (0, 3)


def test_dtypes_combine_like_numpy():
    x32 = np.ones((2, 3), np.float32)
    assert dense(x32, np.ones((3, 2), np.float32), np.zeros(2, np.float32)).dtype == np.float32
    assert dense(x32, np.ones((3, 2)), None).dtype == np.float64
    assert dense(x32, np.ones((3, 2), np.float32), np.zeros(2)).dtype == np.float64


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=cases())
def test_matches_pytorch(dtype, case):
    t = torch()
    x, kernel, bias = (None if v is None else v.astype(dtype) for v in case)
    expected = t.nn.functional.linear(
        t.from_numpy(x),
        t.from_numpy(np.ascontiguousarray(kernel.T)),
        None if bias is None else t.from_numpy(bias),
    )
    assert_close(dense(x, kernel, bias), expected.numpy(), dtype)


def test_input_not_modified():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)]
    keep = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    dense(*arrays)[...] = 0.0
    for a, k in zip(arrays, keep):
        np.testing.assert_array_equal(a, k)


def test_integer_input_gives_float32():
    x = np.arange(6).reshape(2, 3)
    y = dense(x, np.ones((3, 2), np.float32))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[3, 3], [12, 12]])
    assert dense([[1, 2]], [[1], [1]], [1]).dtype == np.float32


def test_errors():
    x, kernel = np.zeros((2, 3)), np.zeros((3, 4))
    with pytest.raises(
        ValueError,
        match=r"dense: expected a kernel of rank 2 \(input_dim, units\). Received: kernel.shape=\(3,\)",
    ):
        dense(x, np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"dense: expected input of rank >= 1 \(..., input_dim\). Received: inputs.shape=\(\)",
    ):
        dense(np.float64(1.0), kernel)
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense_1': the input's last axis must have the kernel's input size 3 "
        r"\(kernel.shape=\(3, 4\)\). "
        r"Received: inputs.shape=\(2, 5\)",
    ):
        dense(np.zeros((2, 5)), kernel, where="Dense 'dense_1'")
    with pytest.raises(
        ValueError, match=r"dense: expected bias of shape \(4,\). Received: bias.shape=\(3,\)"
    ):
        dense(x, kernel, np.zeros(3))
    with pytest.raises(ValueError, match=r"expected bias of shape \(4,\). Received: bias.shape=\(1, 4\)"):
        dense(x, kernel, np.zeros((1, 4)))
    with pytest.raises(
        TypeError,
        match=r"dense expected a numeric array \(integer or float\) for kernel. Received: kernel with "
        r"dtype=<U1",
    ):
        dense(x, np.array([["a"]]))
    with pytest.raises(
        TypeError,
        match=r"dense expected a numeric array \(integer or float\) for inputs. Received: inputs with "
        r"dtype=object",
    ):
        dense(np.array([[None]]), kernel)
    with pytest.raises(
        TypeError,
        match=r"dense expected a numeric array \(integer or float\) for bias. Received: bias with dtype=<U1",
    ):
        dense(x, kernel, np.array(["a", "b", "c", "d"]))


# --- backward: finite differences, PyTorch, float32 ------------------------------------------------------

#: the bound on the relative error of an analytic gradient against central differences (float64)
FD_RTOL = 1e-6


def numerical_vjp(f, x, grad_y, h=1e-5):
    """The gradient of sum(grad_y * f(x)) with respect to x, by central differences, one
    element of x at a time, in float64: (f(x + h e_i) - f(x - h e_i)) / 2h dotted with grad_y.

    (Shared by the tests of every op module; a test helper, never used by the library.)
    """
    x = np.array(x, dtype=np.float64)  # a copy to perturb
    grad = np.empty_like(x)
    flat = x.reshape(-1)  # a view of the copy
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + h
        plus = np.array(f(x), dtype=np.float64)  # a copy: f may return a view of x
        flat[i] = v - h
        minus = np.array(f(x), dtype=np.float64)
        flat[i] = v
        grad.flat[i] = np.sum(grad_y * (plus - minus)) / (2 * h)
    return grad


def assert_gradient(analytic, f, x, grad_y):
    """``analytic`` is the float64 gradient of sum(grad_y * f(x)) within FD_RTOL."""
    assert analytic.dtype == np.float64 and analytic.shape == np.shape(x)
    err = relative_error(analytic, numerical_vjp(f, x, grad_y))
    assert err < FD_RTOL, f"relative error {err:.3e} against central differences"


@st.composite
def backward_cases(draw):
    """Small dense cases (x of rank 2 or 3, or 1) with a random grad_y."""
    x, kernel, bias = draw(cases())
    if bias is None:
        bias = np.zeros(kernel.shape[1])
    grad_y = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(
        (*x.shape[:-1], kernel.shape[1])
    )
    return x, kernel, bias, grad_y


@given(case=backward_cases())
def test_dense_gradients_match_finite_differences(case):
    x, kernel, bias, grad_y = case
    grad_x, grad_kernel, grad_bias = dense_backward(grad_y, x, kernel)
    assert_gradient(grad_x, lambda v: dense(v, kernel, bias), x, grad_y)
    assert_gradient(grad_kernel, lambda k: dense(x, k, bias), kernel, grad_y)
    assert_gradient(grad_bias, lambda b: dense(x, kernel, b), bias, grad_y)


@given(case=backward_cases())
def test_dense_gradients_float32_match_float64(case):
    x, kernel, _, grad_y = case
    grads64 = dense_backward(grad_y, x, kernel)
    grads32 = dense_backward(*(v.astype(np.float32) for v in (grad_y, x, kernel)))
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        assert_close(g32, g64, np.float32)


def test_dense_backward_need_x_false_and_leading_axes():
    rng = np.random.default_rng(2)
    x, kernel, grad_y = (
        rng.standard_normal((2, 3, 4, 5)),
        rng.standard_normal((5, 6)),
        rng.standard_normal((2, 3, 4, 6)),
    )
    grad_x, grad_kernel, grad_bias = dense_backward(grad_y, x, kernel, need_x=False)
    assert grad_x is None
    # the kernel's gradient sums the per-position outer products over every leading axis
    assert_close(grad_kernel, np.einsum("abci,abcu->iu", x, grad_y))
    assert_close(grad_bias, grad_y.sum(axis=(0, 1, 2)))
    assert_close(dense_backward(grad_y, x, kernel)[0], np.einsum("abcu,iu->abci", grad_y, kernel))
    # strided input, empty batch, mixed dtypes
    strided = x[:, ::2].transpose(1, 0, 2, 3)
    g = rng.standard_normal((*strided.shape[:-1], 6))
    assert_close(dense_backward(g, strided, kernel)[1], np.einsum("abci,abcu->iu", strided, g))
    empty = dense_backward(np.zeros((0, 6)), np.zeros((0, 5)), kernel)
    assert empty[0].shape == (0, 5) and not empty[1].any() and not empty[2].any()
    assert dense_backward(grad_y.astype(np.float32), x.astype(np.float32), kernel)[1].dtype == np.float64


@requires_torch
@given(case=backward_cases())
def test_dense_gradients_match_pytorch(case):
    t = torch()
    x, kernel, bias, grad_y = case
    xt, kt, bt = (t.tensor(v, requires_grad=True) for v in (x, kernel, bias))
    t.nn.functional.linear(xt, kt.T, bt).backward(t.from_numpy(grad_y))
    for ours, theirs in zip(dense_backward(grad_y, x, kernel), (xt, kt, bt)):
        assert_close(ours, theirs.grad.numpy())


def test_dense_backward_input_not_modified():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 4)), rng.standard_normal((2, 3)), rng.standard_normal((3, 4))]
    keep = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    for result in dense_backward(*arrays):
        result[...] = 0.0  # new, writable arrays
    for a, k in zip(arrays, keep):
        np.testing.assert_array_equal(a, k)


def test_dense_backward_errors():
    x, kernel, g = np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((2, 4))
    with pytest.raises(
        ValueError,
        match=r"dense_backward: expected grad_y of shape \(2, 4\), the shape of the forward's output. "
        r"Received: grad_y.shape=\(2, 3\)",
    ):
        dense_backward(np.zeros((2, 3)), x, kernel)
    with pytest.raises(
        ValueError,
        match=r"dense_backward: expected a kernel of rank 2 \(input_dim, units\). Received: "
        r"kernel.shape=\(3,\)",
    ):
        dense_backward(g, x, np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"dense_backward: expected input of rank >= 1 \(..., input_dim\). Received: inputs.shape=\(\)",
    ):
        dense_backward(g, np.float64(1.0), kernel)
    with pytest.raises(
        ValueError,
        match=r"the input's last axis must have the kernel's input size 3 \(kernel.shape=\(3, 4\)\). "
        r"Received: inputs.shape=\(2, 5\)",
    ):
        dense_backward(g, np.zeros((2, 5)), kernel)
    with pytest.raises(
        TypeError, match=r"dense_backward: the `need_x` argument must be True or False. Received: need_x=1"
    ):
        dense_backward(g, x, kernel, need_x=1)
    with pytest.raises(
        TypeError,
        match=r"dense_backward expected a numeric array \(integer or float\) for grad_y. Received: grad_y "
        r"with dtype=<U1",
    ):
        dense_backward(np.array([["a"]]), x, kernel)


# --- products shared among threads (ops.core._product) ---------------------------------------


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("rows, features, units", [(128, 9216, 128), (7, 3000, 600), (2, 5000, 2000)])
def test_dense_with_threads_matches_one_thread(monkeypatch, workers, rows, features, units):
    """The classic CNN's Dense shapes and odd splits: the rows of each product shared among
    ``workers`` single-threaded BLAS threads give the one-thread result (same chunked sums)."""
    from convolve.ops import blas, core

    rng = np.random.default_rng(rows + features)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    kernel = (rng.standard_normal((features, units)) / np.sqrt(features)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    g = rng.standard_normal((rows, units)).astype(np.float32)
    calls = []
    original = blas.run_parallel
    monkeypatch.setattr(blas, "workers", lambda: 1)
    serial = dense(x, kernel, bias), *dense_backward(g, x, kernel)
    monkeypatch.setattr(blas, "workers", lambda: workers)
    monkeypatch.setattr(blas, "run_parallel", lambda tasks: calls.append(len(tasks)) or original(tasks))
    threaded = dense(x, kernel, bias), *dense_backward(g, x, kernel)
    assert calls and all(n == min(workers, m) for n, m in zip(calls, [rows, features, rows]))
    for a, b in zip(threaded, serial):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(threaded[0], x.astype(np.float64) @ kernel + bias, rtol=1e-4, atol=1e-4)
    assert core.PARALLEL_MIN_WORK > 128 * 128 * 10  # the classic CNN's last Dense stays in one call
