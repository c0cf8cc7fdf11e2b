"""backward.py, the gradients of the convolution: every backward formulation against finite
differences in float64 on hypothesis-drawn configurations, float32 against float64, the taps
oracle's gradients, PyTorch's autograd when it is installed, and the error messages."""
import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.conv import (
    applicable_backward_formulations,
    choose_backward_formulation,
    choose_formulation,
    conv,
    conv_backward,
)
from tests.helpers import assert_close, relative_error, requires_torch, torch
from tests.ops.conv_reference import finite_difference
from tests.ops.conv_taps import taps_conv_backward

flat = importlib.import_module("convolve.ops.conv.flat")
im2col = importlib.import_module("convolve.ops.conv.im2col")

MODES = ["zeros", "reflect", "replicate", "circular"]


@st.composite
def configurations(draw):
    """A random convolution, stride 1 about half the time; 4 or 5 channels in one group one time
    in four, where the 'flipped' gradients take the kernel gradient from flat's columns (2-D and
    3-D, stride 1)."""
    n = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, fg = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    if groups == 1 and draw(st.integers(0, 1)):
        cg = draw(st.integers(4, 5))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    strides = draw(st.one_of(st.just((1,) * n), st.tuples(*[st.integers(1, 3)] * n)))  # 'flipped' needs 1
    dilations = tuple(draw(st.integers(1, 2)) for _ in range(n))
    size = tuple(draw(st.integers(d * (k - 1) + 1, 6)) for k, d in zip(kernel, dilations))
    padding = draw(st.sampled_from(["valid", "same", "full"] + (["causal"] if n == 1 else [])))
    return dict(
        n=n, groups=groups, channels=cg * groups, filters=fg * groups, kernel=kernel, size=size,
        kw=dict(strides=strides, padding=padding, dilation_rate=dilations, groups=groups,
                data_format=draw(st.sampled_from(["channels_last", "channels_first"])),
                padding_mode=draw(st.sampled_from(MODES))),
    )


def backward_formulations(cfg):
    """Every backward formulation that applies to ``cfg``, and None (the chosen one)."""
    applicable = applicable_backward_formulations(
        cfg["channels"], cfg["kernel"], cfg["kw"]["strides"], cfg["groups"], cfg["kw"]["dilation_rate"]
    )
    assert "im2col" in applicable
    chosen = choose_backward_formulation(
        cfg["channels"], cfg["kernel"], cfg["kw"]["strides"], cfg["groups"], cfg["filters"],
        cfg["kw"]["dilation_rate"],
    )
    assert chosen in applicable
    return (*applicable, None)


def make(cfg, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, *cfg["size"], cfg["channels"]))
    if cfg["kw"]["data_format"] == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    k = rng.standard_normal((*cfg["kernel"], cfg["channels"] // cfg["groups"], cfg["filters"]))
    b = rng.standard_normal(cfg["filters"])
    return x.astype(dtype), k.astype(dtype), b.astype(dtype)


@given(configurations())
def test_gradients_match_finite_differences(cfg):
    x, k, b = make(cfg)
    y = conv(x, k, b, **cfg["kw"])
    gy = np.random.default_rng(1).standard_normal(y.shape)
    before = [a.copy() for a in (gy, x, k)]
    f = lambda x_, k_, b_: float(np.sum(gy * conv(x_, k_, b_, **cfg["kw"])))  # noqa: E731
    numeric = [finite_difference(f, [x, k, b], which) for which in range(3)]
    for formulation in backward_formulations(cfg):
        gx, gk, gb = conv_backward(gy, x, k, formulation=formulation, **cfg["kw"])
        for a, a0 in zip((gy, x, k), before):
            np.testing.assert_array_equal(a, a0)  # nothing modified in place
        for analytic, expected in zip((gx, gk, gb), numeric):
            assert relative_error(analytic, expected) < 1e-6, formulation


@given(configurations())
def test_float32_gradients_match_float64(cfg):
    x, k, _ = make(cfg)
    gy = np.random.default_rng(2).standard_normal(conv(x, k, **cfg["kw"]).shape)
    for formulation in backward_formulations(cfg):
        g64 = conv_backward(gy, x, k, formulation=formulation, **cfg["kw"])
        g32 = conv_backward(
            gy.astype(np.float32),
            x.astype(np.float32),
            k.astype(np.float32),
            formulation=formulation,
            **cfg["kw"],
        )
        for a32, a64 in zip(g32, g64):
            assert a32.dtype == np.float32
            assert_close(a32, a64, np.float32)


def test_without_input_gradient_and_bias():
    x, k, _ = make(
        dict(size=(5, 5), channels=2, groups=1, filters=3, kernel=(3, 3), kw={"data_format": "channels_last"})
    )
    gx, gk, gb = conv_backward(np.ones((2, 3, 3, 3)), x, k, need_input_grad=False, use_bias=False)
    assert gx is None and gb is None and gk.shape == k.shape


def test_grad_y_of_the_wrong_shape():
    with pytest.raises(
        ValueError,
        match=r"grad_y must have the output's shape \(1, 3, 3, 1\). Received: grad_y.shape=\(1, 3, 3\)",
    ):
        conv_backward(np.ones((1, 3, 3)), np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)))


@requires_torch
@given(configurations())
def test_gradients_match_torch(cfg):
    if cfg["kw"]["padding_mode"] == "reflect":
        pads_fit = True  # torch refuses reflect pads wider than the input; 'full' pads by ke - 1
        for k, d, s in zip(cfg["kernel"], cfg["kw"]["dilation_rate"], cfg["size"]):
            pads_fit &= d * (k - 1) < s
        if not pads_fit:
            return
    t = torch()
    F = t.nn.functional
    from convolve.ops.shapes import conv_output_shape

    x, k, b = make(cfg)
    kw = cfg["kw"]
    first = kw["data_format"] == "channels_first"
    x_last = np.moveaxis(x, 1, -1) if first else x
    _, pads = conv_output_shape(
        x_last.shape[1:-1], cfg["kernel"], kw["strides"], kw["padding"], kw["dilation_rate"]
    )
    y = conv(x, k, b, **kw)
    gy = np.random.default_rng(4).standard_normal(y.shape)

    tx = t.tensor(np.moveaxis(x_last, -1, 1).copy(), requires_grad=True)
    tk = t.tensor(np.moveaxis(k, (-1, -2), (0, 1)).copy(), requires_grad=True)
    tb = t.tensor(b, requires_grad=True)
    flat = [p for pair in reversed(pads) for p in pair]
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}[
        kw["padding_mode"]
    ]
    padded = F.pad(tx, flat, mode=mode) if any(flat) else tx
    conv_fn = [F.conv1d, F.conv2d, F.conv3d][cfg["n"] - 1]
    ty = conv_fn(padded, tk, tb, stride=kw["strides"], dilation=kw["dilation_rate"], groups=kw["groups"])
    gy_first = gy if first else np.moveaxis(gy, -1, 1)
    ty.backward(t.tensor(np.ascontiguousarray(gy_first)))
    tgx = tx.grad.numpy() if first else np.moveaxis(tx.grad.numpy(), 1, -1)
    for formulation in backward_formulations(cfg):
        gx, gk, gb = conv_backward(gy, x, k, formulation=formulation, **kw)
        assert_close(gx, tgx)
        assert_close(gk, np.moveaxis(tk.grad.numpy(), (0, 1), (-1, -2)))
        assert_close(gb, tb.grad.numpy())


@pytest.mark.parametrize(
    "padding, padding_mode",
    [
        ("same", "zeros"),
        ("full", "zeros"),
        (((4, 0), (0, 1)), "zeros"),
        ("same", "reflect"),
        ((3, 2), "circular"),
    ],
)
@pytest.mark.parametrize("dilation", [1, 2])
def test_flipped_input_gradient_crops(padding, padding_mode, dilation):
    """The flipped input gradient either folds the crop into its padding (zeros, pads within
    (K - 1) * d) or goes through pad_backward; both equal col2im's, and the taps oracle's."""
    rng = np.random.default_rng(6)
    x, k = rng.standard_normal((2, 9, 8, 3)), rng.standard_normal((3, 2, 3, 4))
    kw = dict(padding=padding, padding_mode=padding_mode, dilation_rate=dilation)
    gy = rng.standard_normal(conv(x, k, **kw).shape)
    expected = conv_backward(gy, x, k, formulation="im2col", **kw)
    for got, want in zip(conv_backward(gy, x, k, formulation="flipped", **kw), expected):
        assert_close(got, want)
    for got, want in zip(taps_conv_backward(gy, x, k, padding, dilation, padding_mode), expected):
        assert_close(got, want)


@pytest.mark.parametrize("budget", [1, 1 << 19])
@pytest.mark.parametrize(
    "x_shape, kernel_size, dilation, padding, padding_mode",
    [
        ((2, 5, 6, 4), (3, 3), 1, "same", "zeros"),
        ((2, 7, 6, 5), (3, 2), (2, 1), "valid", "zeros"),
        ((1, 4, 5, 4, 6), (3, 3, 2), 1, "same", "reflect"),
        ((2, 4, 4, 5, 8), (2, 3, 3), (1, 1, 2), "same", "zeros"),
    ],
)
def test_flat_kernel_gradient_matches_finite_differences(
    monkeypatch, budget, x_shape, kernel_size, dilation, padding, padding_mode
):
    """The 'flipped' backward takes its kernel gradient from ``flat``'s columns where the
    forward rule picks 'flat' (4-8 channels in 2-D, 4-16 in 3-D): bands of one index of
    the first axis (budget 1) or several, dilation, a padded grid whose edge positions
    must contribute nothing."""
    monkeypatch.setattr(flat, "FLAT_BLOCK_ELEMENTS", budget)
    rank = len(kernel_size)
    assert choose_formulation(x_shape[-1], kernel_size, (1,) * rank, 1, 3) == "flat"
    rng = np.random.default_rng(5)
    x = rng.standard_normal(x_shape)
    k = rng.standard_normal((*kernel_size, x_shape[-1], 3))
    kw = dict(padding=padding, dilation_rate=dilation, padding_mode=padding_mode)
    gy = rng.standard_normal(conv(x, k, **kw).shape)
    f = lambda x_, k_: float(np.sum(gy * conv(x_, k_, **kw)))  # noqa: E731
    numeric = finite_difference(f, [x, k], 1)
    _, gk, _ = conv_backward(gy, x, k, formulation="flipped", **kw)
    assert relative_error(gk, numeric) < 1e-6
    _, gk32, _ = conv_backward(
        gy.astype(np.float32), x.astype(np.float32), k.astype(np.float32), formulation="flipped", **kw
    )
    assert gk32.dtype == np.float32
    assert_close(gk32, numeric, np.float32)


@pytest.mark.parametrize("channels", [1, 3, 5, 16])
@pytest.mark.parametrize("block_elements", [1 << 20, 64])
def test_bias_gradient_from_the_kernel_gradient_product(monkeypatch, channels, block_elements):
    """dL/dbias comes out of the kernel gradient's product (a column of ones in the columns, tap-major
    or not, one block or many) or from chunked products with ones: always g summed over N, *O."""
    monkeypatch.setattr(im2col, "BLOCK_ELEMENTS", block_elements)
    monkeypatch.setattr(im2col, "BLOCK_ROWS", 37)
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((3, 9, 8, channels))
    kernel = rng.standard_normal((3, 2, channels, 4))
    g = rng.standard_normal((3, 7, 7, 4))
    for formulation in applicable_backward_formulations(channels, (3, 2), (1, 1), 1):
        for need_input_grad in (True, False):
            grad_x, grad_kernel, grad_bias = conv_backward(
                g, x, kernel, need_input_grad=need_input_grad, formulation=formulation
            )
            np.testing.assert_allclose(grad_bias, g.sum(axis=(0, 1, 2)), rtol=1e-12, atol=1e-12)
            _, reference_kernel, none = conv_backward(g, x, kernel, use_bias=False, formulation=formulation)
            assert none is None
            np.testing.assert_allclose(grad_kernel, reference_kernel, rtol=1e-12, atol=1e-12)
