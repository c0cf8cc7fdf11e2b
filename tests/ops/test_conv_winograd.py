"""winograd.py, Winograd F(2x2, 3x3) and F(4x4, 3x3): the matrices against the 1-D definition, the
forward pass and both gradients against the loop reference, finite differences and PyTorch, on
hypothesis-drawn shapes (sizes that are not multiples of the tile, odd sizes, every padding), in
float64 (below 1e-10) and float32 (below the tile's documented bound), on both kernel paths (the
compiled transforms and the NumPy ones), in one block and in many; and where it applies."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convolve import config
from convolve.ops import blas
from convolve.ops.conv import (
    applicable_backward_formulations,
    applicable_formulations,
    conv,
    conv_backward,
)
from tests.helpers import assert_close, relative_error, requires_torch, torch, using_kernels
from tests.ops.conv_reference import finite_difference, reference_conv

winograd = importlib.import_module("convolve.ops.conv.winograd")
im2col = importlib.import_module("convolve.ops.conv.im2col")

TILES = (2, 4)
KERNELS = ("numba", "numpy")
MODES = ["zeros", "reflect", "replicate", "circular"]


def bound(m, dtype):
    """The documented relative error bound: float64 1e-10; float32 ERROR_BOUND (1e-5, F(4x4) 1e-4)."""
    return 1e-10 if np.dtype(dtype) == np.float64 else winograd.ERROR_BOUND[m]


# --- the matrices -------------------------------------------------------------------------


@pytest.mark.parametrize("m", TILES)
def test_matrices_compute_the_1d_correlation(m):
    """A^T [(G w) (.) (B^T d)] = the correlation of d (m + 2 numbers) with w (3 taps): m outputs."""
    bt, g, at = winograd.MATRICES[m]
    assert bt.shape == (m + 2, m + 2) and g.shape == (m + 2, 3) and at.shape == (m, m + 2)
    rng = np.random.default_rng(m)
    for _ in range(5):
        d, w = rng.standard_normal(m + 2), rng.standard_normal(3)
        expected = [sum(d[i + t] * w[t] for t in range(3)) for i in range(m)]
        np.testing.assert_allclose(at @ ((g @ w) * (bt @ d)), expected, rtol=1e-13, atol=1e-13)


# --- where it applies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel_size, strides, groups, dilations, applies",
    [
        ((3, 3), (1, 1), 1, None, True),
        ((3, 3), (1, 1), 1, (1, 1), True),
        ((3, 3), (1, 1), 1, (2, 1), False),  # dilated
        ((3, 3), (2, 2), 1, None, False),  # strided
        ((3, 3), (1, 2), 1, None, False),
        ((3, 3), (1, 1), 2, None, False),  # grouped
        ((5, 5), (1, 1), 1, None, False),
        ((3, 2), (1, 1), 1, None, False),
        ((3,), (1,), 1, None, False),  # 1-D
        ((3, 3, 3), (1, 1, 1), 1, None, False),  # 3-D
    ],
)
def test_where_winograd_applies(kernel_size, strides, groups, dilations, applies):
    channels = 4 * groups
    forward = applicable_formulations(channels, kernel_size, strides, groups, dilations)
    backward = applicable_backward_formulations(channels, kernel_size, strides, groups, dilations)
    for name in ("winograd2", "winograd4"):
        assert (name in forward) == applies
        assert (name in backward) == applies


@pytest.mark.parametrize("name", ["winograd2", "winograd4"])
def test_forcing_winograd_where_it_does_not_apply_is_refused(name):
    x, k = np.ones((1, 7, 7, 2)), np.ones((3, 3, 2, 2))
    with pytest.raises(ValueError, match=rf"formulation must be one of \('im2col', 'flat'\) for this shape. "
                       rf"Received: formulation='{name}'"):
        conv(x, k, dilation_rate=2, formulation=name)
    with pytest.raises(ValueError, match=rf"Received: formulation='{name}'"):
        conv_backward(np.ones((1, 3, 3, 2)), x, k, strides=2, formulation=name)


# --- forward and gradients on drawn shapes -----------------------------------------------


@st.composite
def shapes(draw):
    """A stride-1 3x3 convolution: sizes 3 to 11 (odd, even, not multiples of the tile), a few
    channels and filters, any padding and padding mode, either layout, bias or not."""
    size = (draw(st.integers(3, 11)), draw(st.integers(3, 11)))
    padding = draw(st.one_of(
        st.sampled_from(["valid", "same", "full"]),
        st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2))] * 2),
    ))
    return dict(
        batch=draw(st.integers(1, 3)), size=size, channels=draw(st.integers(1, 5)),
        filters=draw(st.integers(1, 5)), bias=draw(st.booleans()),
        kw=dict(padding=padding, padding_mode=draw(st.sampled_from(MODES)),
                data_format=draw(st.sampled_from(["channels_last", "channels_first"]))),
        seed=draw(st.integers(0, 1000)),
    )


def arrays(shape):
    rng = np.random.default_rng(shape["seed"])
    x = rng.standard_normal((shape["batch"], *shape["size"], shape["channels"]))
    k = rng.standard_normal((3, 3, shape["channels"], shape["filters"]))
    b = rng.standard_normal(shape["filters"]) if shape["bias"] else None
    return x, k, b


def to_layout(a, data_format):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if data_format == "channels_first" else a


def from_layout(a, data_format):
    return np.moveaxis(a, 1, -1) if data_format == "channels_first" else a


@settings(deadline=None, max_examples=40)
@given(shapes())
def test_forward_matches_the_loop_reference(shape):
    x, k, b = arrays(shape)
    kw = shape["kw"]
    expected = reference_conv(x, k, b, 1, kw["padding"], 1, 1, kw["padding_mode"])
    xl = to_layout(x, kw["data_format"])
    for kernels in KERNELS:
        with using_kernels(kernels):
            for m in TILES:
                for dtype in (np.float64, np.float32):
                    y = conv(xl.astype(dtype), k.astype(dtype), None if b is None else b.astype(dtype),
                             formulation=f"winograd{m}", **kw)
                    assert y.dtype == dtype
                    err = relative_error(from_layout(y, kw["data_format"]), expected)
                    assert err < bound(m, dtype), (kernels, m, dtype, err)


@settings(deadline=None, max_examples=15)
@given(shapes())
def test_gradients_match_finite_differences(shape):
    shape["batch"] = min(shape["batch"], 2)
    x, k, b = arrays(shape)
    b = np.zeros(shape["filters"]) if b is None else b
    kw = shape["kw"]
    xl = to_layout(x, kw["data_format"])
    gy = np.random.default_rng(1).standard_normal(conv(xl, k, b, **kw).shape)
    f = lambda x_, k_, b_: float(np.sum(gy * conv(x_, k_, b_, **kw)))  # noqa: E731
    numeric = [finite_difference(f, [xl, k, b], which) for which in range(3)]
    for kernels in KERNELS:
        with using_kernels(kernels):
            for m in TILES:
                got = conv_backward(gy, xl, k, formulation=f"winograd{m}", **kw)
                for analytic, expected in zip(got, numeric):
                    assert relative_error(analytic, expected) < 1e-6, (kernels, m)
                got32 = conv_backward(
                    gy.astype(np.float32), xl.astype(np.float32), k.astype(np.float32),
                    formulation=f"winograd{m}", **kw,
                )
                exact = conv_backward(gy, xl, k, formulation="im2col", **kw)
                for a32, a64 in zip(got32, exact):
                    assert a32.dtype == np.float32
                    assert relative_error(a32, a64) < bound(m, np.float32), (kernels, m)
                for a64, e64 in zip(got, exact):
                    assert relative_error(a64, e64) < 1e-10, (kernels, m)


# --- larger shapes: many blocks, several workers, realistic float32 errors ---------------------


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("block_elements", [winograd.BLOCK_ELEMENTS, 3000])
@pytest.mark.parametrize("m", TILES)
def test_blocks_and_workers(monkeypatch, kernels, block_elements, m):
    """Small blocks (bands of tile rows of one sample, shared over two workers) give the same
    results as one block; float32 against the float64 im2col within the documented bound."""
    monkeypatch.setattr(winograd, "BLOCK_ELEMENTS", block_elements)
    rng = np.random.default_rng(m)
    x = rng.standard_normal((3, 15, 13, 6))
    k = rng.standard_normal((3, 3, 6, 7)) / 3
    b = rng.standard_normal(7)
    g = rng.standard_normal((3, 15, 13, 7))
    expected = conv(x, k, b, padding="same", formulation="im2col")
    grads = conv_backward(g, x, k, padding="same", formulation="im2col")
    before_setting, before_counts = config._num_threads, [c.num_threads for c in blas._blas_controllers()]
    try:
        config.set_num_threads(2)
        with using_kernels(kernels):
            for dtype in (np.float64, np.float32):
                xd, kd, bd, gd = (a.astype(dtype) for a in (x, k, b, g))
                y = conv(xd, kd, bd, padding="same", formulation=f"winograd{m}")
                assert relative_error(y, expected) < bound(m, dtype)
                got = conv_backward(gd, xd, kd, padding="same", formulation=f"winograd{m}")
                for a, e in zip(got, grads):
                    assert relative_error(a, e) < bound(m, dtype)
    finally:  # as tests/test_config.py puts the process-wide thread count back
        config._num_threads = before_setting
        for c, n in zip(blas._blas_controllers(), before_counts):
            c.set_num_threads(n)


@pytest.mark.parametrize("m", TILES)
def test_float32_error_on_a_training_shape(m):
    """The classic CNN's second convolution (26x26x32 -> 64, valid) on unit-variance data with a
    glorot-sized kernel: float32 output and gradients within the tile's documented bound."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 26, 26, 32))
    k = rng.standard_normal((3, 3, 32, 64)) / np.sqrt(9 * 32)
    g = rng.standard_normal((4, 24, 24, 64))
    expected = conv(x, k, formulation="im2col")
    grads = conv_backward(g, x, k, formulation="im2col")
    x32, k32, g32 = (a.astype(np.float32) for a in (x, k, g))
    assert_close(conv(x32, k32, formulation=f"winograd{m}"), expected, rtol=winograd.ERROR_BOUND[m])
    for a, e in zip(conv_backward(g32, x32, k32, formulation=f"winograd{m}"), grads):
        assert_close(a, e, rtol=winograd.ERROR_BOUND[m])


# --- PyTorch ------------------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("m", TILES)
def test_against_pytorch(m, padding):
    t = torch()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 13, 10, 5))
    k = rng.standard_normal((3, 3, 5, 6))
    b = rng.standard_normal(6)
    xt = t.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    kt = t.tensor(k.transpose(3, 2, 0, 1), requires_grad=True)
    bt = t.tensor(b, requires_grad=True)
    yt = t.nn.functional.conv2d(xt, kt, bt, padding=padding)
    gy = rng.standard_normal(yt.shape)
    yt.backward(t.tensor(gy))
    expected_y = np.moveaxis(yt.detach().numpy(), 1, -1)
    g = np.moveaxis(gy, 1, -1)
    expected = (np.moveaxis(xt.grad.numpy(), 1, -1), kt.grad.numpy().transpose(2, 3, 1, 0), bt.grad.numpy())
    for kernels in KERNELS:
        with using_kernels(kernels):
            for dtype in (np.float64, np.float32):
                xd, kd, bd, gd = (a.astype(dtype) for a in (x, k, b, g))
                assert relative_error(conv(xd, kd, bd, padding=padding, formulation=f"winograd{m}"),
                                      expected_y) < bound(m, dtype)
                got = conv_backward(gd, xd, kd, padding=padding, formulation=f"winograd{m}")
                for a, e in zip(got, expected):
                    assert relative_error(a, e) < bound(m, dtype)


# --- where the chooser picks it -------------------------------------------------------------------


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_chosen_paths_and_the_transposed_convolution(kernels, padding):
    """With 32 channels and filters the choosers pick winograd4 (compiled kernels), also inside
    the transposed convolution (its forward is the Winograd input gradient); every result equals
    im2col's within float64 rounding."""
    from convolve.ops.conv import choose_backward_formulation, choose_formulation, conv_transpose

    assert choose_formulation(32, (3, 3), (1, 1), 1, 32, compiled=True) == "winograd4"
    assert choose_backward_formulation(32, (3, 3), (1, 1), 1, 32, compiled=True) == "winograd4"
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 9, 11, 32))
    k = rng.standard_normal((3, 3, 32, 32)) / 10
    b = rng.standard_normal(32)
    with using_kernels(kernels):
        y = conv(x, k, b, padding=padding)
        g = rng.standard_normal(y.shape)
        assert relative_error(y, conv(x, k, b, padding=padding, formulation="im2col")) < 1e-10
        for got, expected in zip(conv_backward(g, x, k, padding=padding),
                                 conv_backward(g, x, k, padding=padding, formulation="im2col")):
            assert relative_error(got, expected) < 1e-10
        # conv_transpose(g, kernel (3, 3, C, F)) is conv's input gradient of g: A^T g
        expected, _, _ = conv_backward(g, x, k, padding=padding, formulation="im2col", use_bias=False)
        assert relative_error(conv_transpose(g, k, padding=padding), expected) < 1e-10
