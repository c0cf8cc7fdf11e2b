"""Tests for convolve/ops/core.py (dense): a loop reference, hypothesis, PyTorch, errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.core import dense
from tests.helpers import assert_close, requires_torch, torch


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
    np.testing.assert_array_equal(dense(np.ones((2, 0)), np.ones((0, 3)), np.arange(3.0)), [[0, 1, 2], [0, 1, 2]])
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
        t.from_numpy(x), t.from_numpy(np.ascontiguousarray(kernel.T)), None if bias is None else t.from_numpy(bias)
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
    with pytest.raises(ValueError, match=r"dense: expected a kernel of rank 2 \(input_dim, units\). Received: kernel.shape=\(3,\)"):
        dense(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"dense: expected input of rank >= 1 \(..., input_dim\). Received: inputs.shape=\(\)"):
        dense(np.float64(1.0), kernel)
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense_1': the input's last axis must have the kernel's input size 3 \(kernel.shape=\(3, 4\)\). "
        r"Received: inputs.shape=\(2, 5\)",
    ):
        dense(np.zeros((2, 5)), kernel, where="Dense 'dense_1'")
    with pytest.raises(ValueError, match=r"dense: expected bias of shape \(4,\). Received: bias.shape=\(3,\)"):
        dense(x, kernel, np.zeros(3))
    with pytest.raises(ValueError, match=r"expected bias of shape \(4,\). Received: bias.shape=\(1, 4\)"):
        dense(x, kernel, np.zeros((1, 4)))
    with pytest.raises(TypeError, match=r"dense expected a numeric array \(integer or float\) for kernel. Received: kernel with dtype=<U1"):
        dense(x, np.array([["a"]]))
    with pytest.raises(TypeError, match=r"dense expected a numeric array \(integer or float\) for inputs. Received: inputs with dtype=object"):
        dense(np.array([[None]]), kernel)
    with pytest.raises(TypeError, match=r"dense expected a numeric array \(integer or float\) for bias. Received: bias with dtype=<U1"):
        dense(x, kernel, np.array(["a", "b", "c", "d"]))
