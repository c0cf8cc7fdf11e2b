"""The activation fused into the convolution (ops/conv/epilogue.py): ``conv(..., activation='relu')``
on every forward formulation against the loop reference and against relu of the unfused output
(equal bit for bit), NaN kept; ``conv_backward(..., activation='relu', output=y)`` against finite
differences, relu_backward then the plain gradients, float32 against float64 and PyTorch, on both
kernel paths; the Conv layers that fuse their relu against the unfused layers."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings

from convolve import layers as L
from convolve.autograd import GradientTape
from convolve.ops import activations as act_ops
from convolve.ops.conv import applicable_formulations, conv, conv_backward
from tests.helpers import assert_close, relative_error, requires_torch, torch, using_kernels
from tests.ops.conv_reference import (
    conv_configs,
    finite_difference,
    read_only,
    reference_conv,
    to_channels_first,
)
from tests.ops.test_conv_backward import backward_formulations, configurations, make

epilogue = importlib.import_module("convolve.ops.conv.epilogue")
KERNELS = ("numpy", "numba")


def relu(y):
    return np.maximum(y, y.dtype.type(0))


@given(cfg=conv_configs())
def test_fused_relu_matches_the_reference_and_the_unfused_relu(cfg):
    x, kernel, bias = cfg.arrays()
    expected = relu(reference_conv(
        x, kernel, bias, cfg.strides, cfg.padding, cfg.dilation_rate, cfg.groups, cfg.padding_mode
    ))
    if cfg.data_format == "channels_first":
        x = to_channels_first(x)
    formulations = applicable_formulations(
        cfg.channels, cfg.kernel_size, cfg.stride_tuple, cfg.groups, cfg.dilation_tuple
    )
    for dtype in (np.float64, np.float32):
        xd, kd = read_only(x.astype(dtype)), read_only(kernel.astype(dtype))
        bd = None if bias is None else read_only(bias.astype(dtype))
        for formulation in (*formulations, None):
            y = conv(xd, kd, bd, formulation=formulation, activation="relu", **cfg.kwargs())
            unfused = conv(xd, kd, bd, formulation=formulation, **cfg.kwargs())
            np.testing.assert_array_equal(y, relu(unfused))  # the same values, bit for bit
            assert y.dtype == dtype and not np.shares_memory(y, xd)
            if cfg.data_format == "channels_first":
                y = np.moveaxis(y, 1, -1)
            assert_close(y, expected, dtype)
            linear = conv(xd, kd, bd, formulation=formulation, activation="linear", **cfg.kwargs())
            np.testing.assert_array_equal(linear, unfused)


@pytest.mark.parametrize(
    "x_shape, kernel_shape, options",
    [
        ((2, 9, 8, 3), (3, 3, 3, 5), {"padding": "same"}),  # im2col (tap-major), flat
        ((2, 9, 8, 6), (3, 3, 6, 4), {"padding": "same"}),  # im2col, flat
        ((2, 9, 8, 6), (1, 1, 6, 4), {}),  # pointwise
        ((2, 9, 8, 1), (3, 3, 1, 1), {"strides": 2}),  # direct
        ((2, 9, 8, 4), (3, 3, 1, 4), {"groups": 4}),  # direct (depthwise), im2col grouped
        ((2, 7, 6, 5, 2), (3, 3, 3, 2, 4), {"padding": "same"}),
    ],
)
def test_fused_relu_keeps_nan(x_shape, kernel_shape, options):
    """relu propagates NaN (ops.activations.relu): a NaN in the input stays NaN wherever a window
    reads it, in every formulation, as the unfused relu of the convolution gives."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    x[(0,) + tuple(s // 2 for s in x_shape[1:])] = np.nan
    kernel, bias = rng.standard_normal(kernel_shape), rng.standard_normal(kernel_shape[-1])
    groups = options.get("groups", 1)
    strides = (options.get("strides", 1),) * (len(x_shape) - 2)
    dilations = (options.get("dilation_rate", 1),) * (len(x_shape) - 2)
    formulations = applicable_formulations(x_shape[-1], kernel_shape[:-2], strides, groups, dilations)
    for name in KERNELS:
        with using_kernels(name):
            for dtype in (np.float64, np.float32):
                xd, kd, bd = (a.astype(dtype) for a in (x, kernel, bias))
                for formulation in formulations:
                    y = conv(xd, kd, bd, formulation=formulation, activation="relu", **options)
                    assert np.isnan(y).any()
                    unfused = conv(xd, kd, bd, formulation=formulation, **options)
                    np.testing.assert_array_equal(y, relu(unfused))


@settings(max_examples=40)
@given(configurations())
def test_fused_relu_gradients_match_finite_differences(cfg):
    x, k, b = make(cfg)
    kw = cfg["kw"]
    y = conv(x, k, b, activation="relu", **kw)
    gy = np.random.default_rng(1).standard_normal(y.shape)
    before = [a.copy() for a in (gy, x, k, y)]
    f = lambda x_, k_, b_: float(np.sum(gy * conv(x_, k_, b_, activation="relu", **kw)))  # noqa: E731
    numeric = [finite_difference(f, [x, k, b], which) for which in range(3)]
    for name in KERNELS:
        with using_kernels(name):
            for formulation in backward_formulations(cfg):
                got = conv_backward(gy, x, k, formulation=formulation, activation="relu", output=y, **kw)
                for a, a0 in zip((gy, x, k, y), before):
                    np.testing.assert_array_equal(a, a0)  # nothing modified in place
                for analytic, expected in zip(got, numeric):
                    assert relative_error(analytic, expected) < 1e-6, (name, formulation)


@given(configurations())
def test_fused_relu_gradients_are_relu_backward_then_the_plain_gradients(cfg):
    """Float64 and float32 (against float64), both kernel paths, with and without the bias and
    the input gradient."""
    x, k, b = make(cfg)
    kw = cfg["kw"]
    y = conv(x, k, b, activation="relu", **kw)
    gy = np.random.default_rng(2).standard_normal(y.shape)
    for formulation in backward_formulations(cfg):
        expected = conv_backward(act_ops.relu_backward(gy, y), x, k, formulation=formulation, **kw)
        for name in KERNELS:
            with using_kernels(name):
                for dtype in (np.float64, np.float32):
                    y_d = conv(x.astype(dtype), k.astype(dtype), b.astype(dtype), activation="relu", **kw)
                    got = conv_backward(
                        gy.astype(dtype), x.astype(dtype), k.astype(dtype), formulation=formulation,
                        activation="relu", output=y_d, **kw,
                    )
                    for a, want in zip(got, expected):
                        assert a.dtype == dtype
                        assert_close(a, want, dtype)
                gx, gk, gb = conv_backward(
                    gy, x, k, formulation=formulation, activation="relu", output=y, use_bias=False,
                    need_input_grad=False, **kw,
                )
                assert gx is None and gb is None
                assert_close(gk, expected[1])


def test_fused_relu_gradient_of_nan_and_inf():
    """relu'(y) is 0 where the output is NaN (as relu_backward from the output), and an infinite
    grad_y stays where it is kept and is 0 where it is dropped, on both kernel paths."""
    y = np.array([[1.0, 0.0, np.nan, 2.0], [-0.0, 3.0, 0.5, 0.0]])
    g = np.array([[np.inf, np.inf, 5.0, np.nan], [1.0, 2.0, -np.inf, 4.0]])
    for name in KERNELS:
        with using_kernels(name):
            for dtype in (np.float64, np.float32):
                masked, grad_bias = epilogue.relu_gradient(g.astype(dtype), y.astype(dtype), True)
                np.testing.assert_array_equal(masked, act_ops.relu_backward(g.astype(dtype), y.astype(dtype)))
                if grad_bias is not None:
                    np.testing.assert_array_equal(grad_bias, masked.sum(axis=0))


@requires_torch
@pytest.mark.parametrize(
    "x_shape, kernel_shape, options",
    [
        ((3, 17, 2), (5, 2, 4), {"padding": "causal"}),
        ((2, 10, 9, 1), (3, 3, 1, 6), {}),
        ((2, 10, 9, 3), (3, 3, 3, 6), {"padding": "same", "strides": 2}),
        ((2, 10, 9, 5), (3, 3, 5, 4), {"padding": "same"}),
        ((2, 6, 5, 4, 2), (3, 3, 3, 2, 3), {"padding": "same"}),
    ],
)
def test_fused_relu_matches_torch(x_shape, kernel_shape, options):
    t = torch()
    F = t.nn.functional
    rng = np.random.default_rng(3)
    x, k = rng.standard_normal(x_shape), rng.standard_normal(kernel_shape)
    b = rng.standard_normal(kernel_shape[-1])
    rank = len(x_shape) - 2
    stride = options.get("strides", 1)
    pad = options.get("padding", "valid")
    tx = t.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    tk = t.tensor(np.moveaxis(k, (-1, -2), (0, 1)).copy(), requires_grad=True)
    tb = t.tensor(b, requires_grad=True)
    if pad == "causal":
        padded = F.pad(tx, (kernel_shape[0] - 1, 0))
    elif pad == "same":  # odd kernels: (k - 1) / 2 each side for stride 1; stride 2 on these sizes below
        from convolve.ops.shapes import conv_output_shape

        _, pads = conv_output_shape(x_shape[1:-1], kernel_shape[:rank], (stride,) * rank, "same", (1,) * rank)
        padded = F.pad(tx, [p for pair in reversed(pads) for p in pair])
    else:
        padded = tx
    ty = F.relu([F.conv1d, F.conv2d, F.conv3d][rank - 1](padded, tk, tb, stride=stride))
    y = conv(x, k, b, activation="relu", **options)
    assert_close(y, np.moveaxis(ty.detach().numpy(), 1, -1))
    gy = rng.standard_normal(y.shape)
    ty.backward(t.tensor(np.moveaxis(gy, -1, 1).copy()))
    for name in KERNELS:
        with using_kernels(name):
            gx, gk, gb = conv_backward(gy, x, k, activation="relu", output=y, **options)
            assert_close(gx, np.moveaxis(tx.grad.numpy(), 1, -1))
            assert_close(gk, np.moveaxis(tk.grad.numpy(), (0, 1), (-1, -2)))
            assert_close(gb, tb.grad.numpy())


def test_unfused_activations_and_a_missing_output_are_errors():
    x, k = np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 2))
    message = r"fuses the activations \('linear', 'relu'\).*Received: activation='tanh'"
    with pytest.raises(ValueError, match=message):
        conv(x, k, activation="tanh")
    with pytest.raises(ValueError, match=r"needs the output that conv returned. Received: output=None"):
        conv_backward(np.ones((1, 3, 3, 2)), x, k, activation="relu")
    with pytest.raises(ValueError, match=r"output must have the output's shape \(1, 3, 3, 2\)"):
        conv_backward(np.ones((1, 3, 3, 2)), x, k, activation="relu", output=np.ones((1, 3, 3)))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(
    "layer, shape",
    [
        (lambda act, df: L.Conv1D(4, 3, padding="causal", activation=act, data_format=df), (2, 9, 3)),
        (lambda act, df: L.Conv2D(5, 3, padding="same", activation=act, data_format=df), (2, 8, 7, 2)),
        (lambda act, df: L.Conv3D(3, 2, strides=2, activation=act, data_format=df), (2, 6, 5, 4, 2)),
        (lambda act, df: L.DepthwiseConv2D(3, depth_multiplier=2, activation=act, data_format=df),
         (2, 7, 6, 3)),
        (lambda act, df: L.SeparableConv1D(4, 3, padding="same", activation=act, data_format=df), (2, 9, 3)),
    ],
)
def test_layers_with_a_fused_relu_match_the_layer_then_relu(layer, shape, data_format):
    """A Conv layer's relu (a name or ``activations.relu``) runs inside its convolution (Depthwise:
    the grouped one; Separable: the pointwise one); values and gradients (input and every weight)
    equal the layer without activation followed by relu."""
    from convolve import activations

    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    for name in KERNELS:
        with using_kernels(name):
            results = []
            for act in ("relu", activations.relu, None):
                lay = layer(act, data_format)
                lay.build(x.shape)
                weights = lay.trainable_weights
                for seed, weight in enumerate(weights):
                    rng = np.random.default_rng(6 + seed)
                    weight.assign(rng.standard_normal(weight.shape).astype(np.float32))
                with GradientTape() as tape:
                    xt = tape.watch(x)
                    y = lay(xt)
                    if act is None:
                        y = activations.relu(y)
                gy = np.random.default_rng(8).standard_normal(np.shape(y.value)).astype(np.float32)
                grads = tape.gradient(y, [xt, *weights], output_gradient=gy)
                results.append([y.value, *grads])
                if act is not None:
                    np.testing.assert_array_equal(lay(x), y.value)  # predict: the same values
            for fused in results[:2]:
                for got, want in zip(fused, results[2]):
                    assert_close(got, want, np.float32)
