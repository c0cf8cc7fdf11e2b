"""transposed.py, the transposed convolution: a plain-loop scatter reference, PyTorch,
finite-difference gradients, the adjoint identity with conv, Keras' output sizes, and every
error message."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.conv import conv, conv_backward, conv_transpose, conv_transpose_backward
from convolve.ops.shapes import TransposeAxisArithmetic, conv_transpose_output_shape
from tests.helpers import assert_close, relative_error, requires_torch, torch
from tests.ops.conv_reference import finite_difference

# ---- the definition, written out independently of convolve ----------------------------


def keras_output_length(n, k, s, d, padding, output_padding):
    """Keras 3's ``compute_conv_transpose_output_length``."""
    ke = d * (k - 1) + 1
    if output_padding is None:
        return n * s + max(ke - s, 0) if padding == "valid" else n * s
    return (n - 1) * s + ke - 2 * (ke // 2 if padding == "same" else 0) + output_padding


def crop_before(n, length, k, s, d, padding):
    """TensorFlow's padding of the convolution length -> n: 'same' puts the odd pixel after."""
    if padding == "valid":
        return 0
    return max((n - 1) * s + d * (k - 1) + 1 - length, 0) // 2


def loop_conv_transpose(x, kernel, strides, dilations, padding, output_padding=None):
    """Plain loops, channels_last, float64: every input pixel scatters x[b, i, c] * kernel[t, f, c]
    to output position i * s + t * d of a large enough grid; then the padding is cropped."""
    n = kernel.ndim - 2
    batch, *size, channels = x.shape
    filters = kernel.shape[-2]
    ops_ = [None] * n if output_padding is None else list(output_padding)
    lengths = [
        keras_output_length(size[a], kernel.shape[a], strides[a], dilations[a], padding, ops_[a])
        for a in range(n)
    ]
    befores = [
        crop_before(size[a], lengths[a], kernel.shape[a], strides[a], dilations[a], padding) for a in range(n)
    ]
    grid = [
        max((size[a] - 1) * strides[a] + dilations[a] * (kernel.shape[a] - 1) + 1, befores[a] + lengths[a])
        for a in range(n)
    ]
    full = np.zeros((batch, *grid, filters))
    for b in range(batch):
        for i in itertools.product(*(range(v) for v in size)):
            for t in itertools.product(*(range(k) for k in kernel.shape[:n])):
                pos = tuple(i[a] * strides[a] + t[a] * dilations[a] for a in range(n))
                for f in range(filters):
                    for c in range(channels):
                        full[(b, *pos, f)] += x[(b, *i, c)] * kernel[(*t, f, c)]
    return full[(slice(None), *(slice(bf, bf + ln) for bf, ln in zip(befores, lengths)), slice(None))]


def is_refused(cfg):
    """Same padding, an even effective kernel and output_padding 0: TensorFlow refuses it too."""
    kw = cfg["kw"]
    if kw["padding"] != "same" or kw["output_padding"] is None:
        return False
    return any(
        d * (k - 1) % 2 == 1 and p == 0
        for k, d, p in zip(cfg["kernel"], kw["dilation_rate"], kw["output_padding"])
    )


@st.composite
def configurations(draw, max_channels=3):
    n = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(n))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilations = tuple(draw(st.integers(1, 2)) for _ in range(n))
    size = tuple(draw(st.integers(1, 4 if n < 3 else 3)) for _ in range(n))
    output_padding = draw(st.none() | st.tuples(*(st.integers(0, s - 1) for s in strides)))
    return dict(
        n=n,
        kernel=kernel,
        size=size,
        channels=draw(st.integers(1, max_channels)),
        filters=draw(st.integers(1, max_channels)),
        kw=dict(
            strides=strides,
            padding=draw(st.sampled_from(["valid", "same"])),
            output_padding=output_padding,
            dilation_rate=dilations,
            data_format=draw(st.sampled_from(["channels_last", "channels_first"])),
        ),
    )


def make(cfg, seed=0, batch=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *cfg["size"], cfg["channels"]))
    k = rng.standard_normal((*cfg["kernel"], cfg["filters"], cfg["channels"]))
    b = rng.standard_normal(cfg["filters"])
    return x, k, b


def first(a, cfg):
    """channels_last -> the configuration's layout."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if cfg["kw"]["data_format"] == "channels_first" else a


def last(a, cfg):
    return np.moveaxis(a, 1, -1) if cfg["kw"]["data_format"] == "channels_first" else a


# ---- values -----------------------------------------------------------------------------


@given(configurations())
def test_matches_loop_reference_in_float64_and_float32(cfg):
    x, k, b = make(cfg)
    kw = cfg["kw"]
    if is_refused(cfg):
        with pytest.raises(ValueError, match="not to"):
            conv_transpose(first(x, cfg), k, b, **kw)
        return
    expected = (
        loop_conv_transpose(x, k, kw["strides"], kw["dilation_rate"], kw["padding"], kw["output_padding"]) + b
    )
    x_before, k_before = x.copy(), k.copy()
    y = conv_transpose(first(x, cfg), k, b, **kw)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(k, k_before)
    assert y.dtype == np.float64 and y.flags.c_contiguous
    assert_close(last(y, cfg), expected, np.float64)
    y32 = conv_transpose(first(x, cfg).astype(np.float32), k.astype(np.float32), b.astype(np.float32), **kw)
    assert y32.dtype == np.float32
    assert_close(last(y32, cfg), expected, np.float32)


def test_a_single_pixel_stamps_the_kernel():
    kernel = np.arange(1.0, 10.0).reshape(3, 3, 1, 1)
    x = np.zeros((1, 3, 3, 1))
    x[0, 1, 2, 0] = 2.0
    y = conv_transpose(x, kernel, strides=2)  # 7x7; input (1, 2) lands at output (2, 4)
    expected = np.zeros((7, 7))
    expected[2:5, 4:7] = 2.0 * kernel[..., 0, 0]
    np.testing.assert_array_equal(y[0, ..., 0], expected)


def test_integer_input_and_no_bias():
    y = conv_transpose(np.ones((1, 2, 1), dtype=np.int64), np.ones((2, 1, 1), dtype=np.float32), strides=2)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[0, :, 0], [1, 1, 1, 1])


@given(configurations())
def test_is_the_adjoint_of_conv(cfg):
    """<conv(z), x> == <z, conv_transpose(x)> for z the size of conv_transpose's output."""
    if is_refused(cfg):
        return
    x, k, _ = make(cfg)
    kw = cfg["kw"]
    y = conv_transpose(first(x, cfg), k, **kw)
    z = np.random.default_rng(1).standard_normal(y.shape)
    conv_kw = {key: kw[key] for key in ("strides", "padding", "dilation_rate", "data_format")}
    cz = conv(z, k, **conv_kw)  # the kernel (*K, F, C) read as a convolution kernel from F to C channels
    assert cz.shape == first(x, cfg).shape
    assert abs(np.sum(cz * first(x, cfg)) - np.sum(z * y)) < 1e-10 * max(1.0, np.abs(z * y).sum())


# ---- gradients --------------------------------------------------------------------------


@given(configurations(max_channels=2))
def test_gradients_match_finite_differences(cfg):
    if is_refused(cfg):
        return
    x, k, b = make(cfg, batch=1)
    x = first(x, cfg)
    kw = cfg["kw"]
    gy = np.random.default_rng(2).standard_normal(conv_transpose(x, k, b, **kw).shape)
    before = [a.copy() for a in (gy, x, k)]
    grads = conv_transpose_backward(gy, x, k, **kw)
    for a, a0 in zip((gy, x, k), before):
        np.testing.assert_array_equal(a, a0)  # nothing modified in place
    f = lambda x_, k_, b_: float(np.sum(gy * conv_transpose(x_, k_, b_, **kw)))  # noqa: E731
    for which, analytic in enumerate(grads):
        assert relative_error(analytic, finite_difference(f, [x, k, b], which)) < 1e-6


@given(configurations())
def test_float32_gradients_match_float64(cfg):
    if is_refused(cfg):
        return
    x, k, _ = make(cfg)
    x = first(x, cfg)
    gy = np.random.default_rng(3).standard_normal(conv_transpose(x, k, **cfg["kw"]).shape)
    g64 = conv_transpose_backward(gy, x, k, **cfg["kw"])
    g32 = conv_transpose_backward(
        gy.astype(np.float32), x.astype(np.float32), k.astype(np.float32), **cfg["kw"]
    )
    for a32, a64 in zip(g32, g64):
        assert a32.dtype == np.float32
        assert_close(a32, a64, np.float32)


def test_without_input_gradient_and_bias():
    x, k = np.ones((2, 3, 3, 2)), np.ones((3, 3, 4, 2))
    gx, gk, gb = conv_transpose_backward(
        np.ones((2, 7, 7, 4)), x, k, strides=2, need_input_grad=False, use_bias=False
    )
    assert gx is None and gb is None and gk.shape == k.shape


def test_conv_backward_input_gradient_is_conv_transpose():
    """conv's input gradient and conv_transpose are the same map (no padding to fold back)."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((2, 10, 8, 3))
    k = rng.standard_normal((3, 2, 3, 5))
    y = conv(z, k, strides=2, padding="same")
    gy = rng.standard_normal(y.shape)
    gz, _, _ = conv_backward(gy, z, k, strides=2, padding="same")
    assert_close(conv_transpose(gy, k, strides=2, padding="same"), gz)


# ---- against PyTorch --------------------------------------------------------------------


def torch_conv_transpose(cfg, x, k, b, requires_grad=False):
    """torch's conv_transpose with padding p and output_padding q gives (n-1)s + ke - 2p + q.
    When our crop is symmetric and q fits torch's rule (q < stride or dilation) map onto those
    arguments; otherwise (asymmetric 'same') take torch's full output and crop it here."""
    t = torch()
    F = t.nn.functional
    kw = cfg["kw"]
    tx = t.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=requires_grad)
    tk = t.tensor(np.moveaxis(k, (-1, -2), (0, 1)).copy(), requires_grad=requires_grad)  # (C, F, *K)
    tb = t.tensor(b, requires_grad=requires_grad)
    lengths, pads = conv_transpose_output_shape(
        cfg["size"], cfg["kernel"], kw["strides"], kw["padding"], kw["output_padding"], kw["dilation_rate"]
    )
    fn = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][cfg["n"] - 1]
    direct, padding, output_padding = True, [], []
    for n, kk, s, d, length, (before, _) in zip(
        cfg["size"], cfg["kernel"], kw["strides"], kw["dilation_rate"], lengths, pads
    ):
        q = length - ((n - 1) * s + d * (kk - 1) + 1 - 2 * before)
        direct &= 0 <= q < max(s, d)
        padding.append(before)
        output_padding.append(q)
    if direct:
        ty = fn(
            tx,
            tk,
            None,
            stride=kw["strides"],
            padding=padding,
            output_padding=output_padding,
            dilation=kw["dilation_rate"],
        )
    else:
        ty = fn(tx, tk, None, stride=kw["strides"], dilation=kw["dilation_rate"])
        grow = [
            max(0, before + length - size) for (before, _), length, size in zip(pads, lengths, ty.shape[2:])
        ]
        if any(grow):  # the output reaches past torch's full scatter: zeros there
            ty = F.pad(ty, [v for g in reversed(grow) for v in (0, g)])
        for axis, ((before, _), length) in enumerate(zip(pads, lengths), start=2):
            ty = ty.narrow(axis, before, length)
    ty = ty + tb.reshape(-1, *(1,) * cfg["n"])
    return direct, tx, tk, tb, ty


@requires_torch
@given(configurations())
def test_matches_torch_values_and_gradients(cfg):
    if is_refused(cfg):
        return
    t = torch()
    x, k, b = make(cfg)
    kw = cfg["kw"]
    direct, tx, tk, tb, ty = torch_conv_transpose(cfg, x, k, b, requires_grad=True)
    y = conv_transpose(first(x, cfg), k, b, **kw)
    assert_close(last(y, cfg), np.moveaxis(ty.detach().numpy(), 1, -1))
    gy = np.random.default_rng(5).standard_normal(y.shape)
    ty.backward(t.tensor(np.ascontiguousarray(np.moveaxis(last(gy, cfg), -1, 1))))
    gx, gk, gb = conv_transpose_backward(gy, first(x, cfg), k, **kw)
    assert_close(last(gx, cfg), np.moveaxis(tx.grad.numpy(), 1, -1))
    assert_close(gk, np.moveaxis(tk.grad.numpy(), (0, 1), (-1, -2)))
    assert_close(gb, tb.grad.numpy())


@requires_torch
@pytest.mark.parametrize(
    "size,kernel,strides,padding,output_padding,direct",
    [
        ((4, 5), (3, 3), 2, "same", None, False),  # 3x3 stride 2 'same': crop 0 before, 1 after
        ((4, 5), (4, 4), 2, "same", None, True),  # crop 1 and 1
        ((4, 5), (3, 3), 2, "same", 1, False),  # crop 0 and 1
        ((4, 4), (2, 4), (2, 1), "same", None, False),
        ((3, 3), (3, 3), 1, "same", None, True),
        ((4, 3), (3, 2), (3, 2), "valid", (1, 0), True),
    ],
)
def test_torch_mapping_covers_symmetric_and_asymmetric_crops(
    size, kernel, strides, padding, output_padding, direct
):
    cfg = dict(n=2, kernel=kernel, size=size, channels=2, filters=3,
               kw=dict(strides=strides, padding=padding, output_padding=output_padding, dilation_rate=1,
                       data_format="channels_last"))
    cfg["kw"]["strides"] = (strides,) * 2 if isinstance(strides, int) else strides
    cfg["kw"]["dilation_rate"] = (1, 1)
    x, k, b = make(cfg)
    used_direct, _, _, _, ty = torch_conv_transpose(cfg, x, k, b)
    assert used_direct == direct
    assert_close(conv_transpose(x, k, b, **cfg["kw"]), np.moveaxis(ty.numpy(), 1, -1))


# ---- output sizes (Keras 3) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "size,kernel,strides,padding,output_padding,dilation,expected",
    [
        (4, 3, 2, "valid", None, 1, 9),  # Conv2DTranspose(1, 3, strides=2) on 4x4 -> 9x9
        (4, 3, 2, "same", None, 1, 8),  # padding='same' -> n * s
        (4, 3, 1, "valid", None, 1, 6),
        (4, 1, 3, "valid", None, 1, 12),  # kernel smaller than the stride: n * s
        (4, 3, 2, "valid", 1, 1, 10),  # (n - 1) * s + ke + p
        (4, 3, 2, "same", 1, 1, 8),  # (n - 1) * s + ke - 2 * (ke // 2) + p
        (4, 4, 2, "same", 1, 1, 7),
        (5, 3, 1, "valid", None, 2, 9),  # dilation: ke = 5
        (5, 3, 1, "same", 0, 2, 5),
    ],
)
def test_output_sizes_follow_keras(size, kernel, strides, padding, output_padding, dilation, expected):
    assert keras_output_length(size, kernel, strides, dilation, padding, output_padding) == expected
    out, _ = conv_transpose_output_shape((size,), kernel, strides, padding, output_padding, dilation)
    assert out == (expected,)
    y = conv_transpose(np.ones((1, size, 1)), np.ones((kernel, 1, 1)), strides=strides, padding=padding,
                       output_padding=output_padding, dilation_rate=dilation)
    assert y.shape == (1, expected, 1)


def test_explain_returns_the_arithmetic_per_axis():
    out, pads, arithmetic = conv_transpose_output_shape((4, 5), (3, 4), 2, "same", explain=True)
    assert out == (8, 10) and pads == ((0, 1), (1, 1))
    assert all(isinstance(a, TransposeAxisArithmetic) for a in arithmetic)
    assert (
        str(arithmetic[0])
        == "height: input 4, kernel 3, stride 2, padding same (crops 0 before, 1 after) → output 8 = 4 * 2"
    )
    assert arithmetic[1].formula() == "5 * 2"
    _, _, (a,) = conv_transpose_output_shape(
        (4,), 3, 2, "valid", output_padding=1, dilation_rate=2, explain=True
    )
    assert (
        str(a)
        == "length: input 4, kernel 3, dilation 2 (effective kernel 5), stride 2, padding valid, "
        "output_padding 1 → output 12 = (4 - 1) * 2 + 5 - 2 * 0 + 1"
    )
    _, _, (a,) = conv_transpose_output_shape((4,), 3, 2, explain=True)
    assert a.formula() == "4 * 2 + max(3 - 2, 0)" and a.output == 9


# ---- errors: every message --------------------------------------------------------------------


def test_output_padding_must_be_below_the_stride():
    with pytest.raises(
        ValueError,
        match=r"conv_transpose: the `output_padding` argument must be smaller than `strides` on every axis. "
        r"Received: output_padding=2, strides=\(2, 2\)",
    ):
        conv_transpose(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 1)), strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"Received: output_padding=\(0, 1\), strides=\(2, 1\)"):
        conv_transpose_output_shape((4, 4), 3, (2, 1), output_padding=(0, 1))
    with pytest.raises(
        ValueError,
        match=r"`output_padding` argument must contain only non-negative integers. Received: "
        r"output_padding=-1",
    ):
        conv_transpose_output_shape((4,), 3, 2, output_padding=-1)


def test_same_with_an_even_kernel_and_no_output_padding_is_refused():
    with pytest.raises(
        ValueError,
        match=r"length: input 4, kernel 2, stride 2, padding same.*output_padding 0 → output 6 = \(4 - 1\) "
        r"\* 2 \+ 2 - 2 \* 1 \+ 0, "
        r"and a 'same' convolution maps 6 to 3, not to 4. With padding='same' and an even effective kernel, "
        r"use output_padding >= 1 or None. Received: output_padding=0",
    ):
        conv_transpose(np.ones((1, 4, 1)), np.ones((2, 1, 1)), strides=2, padding="same", output_padding=0)
    with pytest.raises(ValueError, match="maps 0 to 0, not to 1"):
        conv_transpose_output_shape((1,), 2, 1, "same", output_padding=0)


def test_padding_must_be_valid_or_same():
    with pytest.raises(
        ValueError,
        match=r"conv_transpose: the `padding` argument must be one of \{'valid', 'same'\}. Received: "
        r"padding='full'",
    ):
        conv_transpose(np.ones((1, 4, 1)), np.ones((2, 1, 1)), padding="full")
    with pytest.raises(ValueError, match=r"Received: padding=1"):
        conv_transpose_output_shape((4,), 2, padding=1)


def test_empty_input_is_refused():
    with pytest.raises(
        ValueError,
        match=r"every spatial size of the input must be at least 1. Received: input sizes=\(0, 3\)",
    ):
        conv_transpose(np.ones((1, 0, 3, 1)), np.ones((2, 2, 1, 1)))


def test_kernel_layout_errors():
    with pytest.raises(
        ValueError,
        match=r"conv_transpose: expected a kernel of rank 3, 4 or 5 \(\*kernel_size, filters, in_channels\). "
        r"Received: kernel.shape=\(3, 3\)",
    ):
        conv_transpose(np.ones((1, 4, 4, 1)), np.ones((3, 3)))
    with pytest.raises(
        ValueError,
        match=r"expected input of rank 4 \(batch, \*spatial, channels\) for a 2-D transposed convolution. "
        r"Received: inputs.shape=\(4, 4, 1\)",
    ):
        conv_transpose(np.ones((4, 4, 1)), np.ones((3, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"\(batch, channels, \*spatial\)"):
        conv_transpose(np.ones((4, 4, 1)), np.ones((3, 3, 1, 1)), data_format="channels_first")


def test_channel_mismatch_names_the_layout_and_spots_a_conv_kernel():
    with pytest.raises(
        ValueError,
        match=r"kernel is \(\*kernel_size, filters, in_channels\), so its last axis must equal the input "
        r"channels, 3. Received: kernel.shape=\(3, 3, 2, 4\), inputs.shape=\(1, 5, 5, 3\)",
    ):
        conv_transpose(np.ones((1, 5, 5, 3)), np.ones((3, 3, 2, 4)))
    with pytest.raises(
        ValueError,
        match=r"this looks like a convolution kernel \(\*kernel_size, in_channels, filters\); swap its last "
        r"two axes",
    ):
        conv_transpose(np.ones((1, 5, 5, 3)), np.ones((3, 3, 3, 8)))
    with pytest.raises(ValueError, match=r"must equal the input channels, 2.*inputs.shape=\(1, 2, 5\)"):
        conv_transpose(np.ones((1, 2, 5)), np.ones((3, 4, 5)), data_format="channels_first")


def test_bias_and_grad_y_shapes():
    with pytest.raises(
        ValueError, match=r"conv_transpose: expected bias of shape \(4,\). Received: bias.shape=\(2,\)"
    ):
        conv_transpose(np.ones((1, 5, 2)), np.ones((3, 4, 2)), np.ones(2))
    with pytest.raises(
        ValueError,
        match=r"grad_y must have the output's shape \(1, 7, 4\). Received: grad_y.shape=\(1, 5, 4\)",
    ):
        conv_transpose_backward(np.ones((1, 5, 4)), np.ones((1, 5, 2)), np.ones((3, 4, 2)))


def test_arguments_are_checked():
    with pytest.raises(
        ValueError, match=r"`strides` argument must contain only positive integers. Received: strides=0"
    ):
        conv_transpose(np.ones((1, 5, 2)), np.ones((3, 4, 2)), strides=0)
    with pytest.raises(ValueError, match=r"`data_format` argument must be one of"):
        conv_transpose(np.ones((1, 5, 2)), np.ones((3, 4, 2)), data_format="NWC")
    with pytest.raises(
        TypeError, match=r"conv_transpose expected a numeric array .* Received: inputs with dtype=<U1"
    ):
        conv_transpose(np.array([[["a"]]]), np.ones((1, 1, 1)))
