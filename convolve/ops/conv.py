"""N-dimensional convolution (cross-correlation) as BLAS matrix products.

Layout, everywhere in this file (channels_last; channels_first input is moved
to this layout on entry and back on exit):

    x       (N, *S, C)           batch, spatial sizes S (1, 2 or 3 of them), channels
    kernel  (*K, C // G, F)      kernel sizes K, input channels per group, filters
    bias    (F,)
    y       (N, *O, F)           O from ops.shapes.conv_output_shape

Output channel f belongs to group g = f // (F // G) and sees input channels
g * (C // G) ... (g + 1) * (C // G) - 1. What is computed, for every output position o:

    y[n, o, f] = bias[f] + sum over taps t in K and input channels c of
                 x_padded[n, o * stride + t * dilation, g * C/G + c] * kernel[t, c, f]

(no kernel flip: this is cross-correlation, as in every deep-learning framework).

How it is computed: the input is padded once, then one of four formulations,
picked by :func:`choose_formulation` from the shapes alone:

* ``pointwise``  1x1 kernels: one matrix product (M, C) @ (C, F) on the (strided) input.
* ``taps``       stride 1: the padded input read as one flat (rows, C) matrix; tap t
                 is that matrix shifted by a row offset, so each tap is one product
                 (rows, C) @ (C, F) with no copy; rows that straddle an edge are
                 cropped at the end.
* ``im2col``     everything else: the T = prod(K) taps copied side by side into a
                 (M, T * C) matrix (a loop over taps only, with strided slices),
                 then one product with the (T * C, F) kernel. Groups become a
                 batched product. The batch is processed in chunks so this
                 workspace stays under ``WORKSPACE_ELEMENTS``.
* ``direct``     one input channel per group (grey images, depthwise convolutions):
                 accumulate the taps with broadcasting; no product at all.
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np

from ..backend import as_float_array, get_array_module
from .args import standardize_data_format, standardize_padding_mode, standardize_tuple
from .shapes import conv_output_shape

#: Upper bound on the im2col / taps workspace, in array elements (64 MiB of float32).
WORKSPACE_ELEMENTS = 1 << 24

_NP_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
FORMULATIONS = ("pointwise", "taps", "im2col", "direct")


def pad(x, pads, mode="zeros"):
    """Pad the spatial axes of a channels_last array ``x`` (N, *S, C).

    ``pads`` holds one (before, after) pair per spatial axis; ``mode`` is one of
    'zeros', 'reflect' (mirror without repeating the edge), 'replicate' (repeat the
    edge) or 'circular' (wrap around). Returns ``x`` itself when nothing is padded.
    """
    if not any(b or a for b, a in pads):
        return x
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), *pads, (0, 0)), mode=_NP_PAD_MODES[mode])


def applicable_formulations(in_channels: int, kernel_size, strides, groups: int) -> tuple:
    """The formulations that can compute a convolution of this shape (im2col always can)."""
    names = ["im2col"]
    if in_channels // groups == 1:
        names.append("direct")
    if groups == 1 and all(k == 1 for k in kernel_size):
        names.append("pointwise")
    if groups == 1 and all(s == 1 for s in strides):
        names.append("taps")
    return tuple(names)


def choose_formulation(in_channels: int, kernel_size, strides, groups: int) -> str:
    """Which formulation computes a convolution of this shape fastest.

    The one place where the choice is made; every formulation gives the same
    numbers (the tests check each one on every configuration they draw).
    """
    if in_channels // groups == 1:
        return "direct"
    if groups == 1 and all(k == 1 for k in kernel_size):
        return "pointwise"
    if groups == 1 and all(s == 1 for s in strides):
        return "taps"
    return "im2col"


def conv(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    dilation_rate=1,
    groups=1,
    data_format="channels_last",
    padding_mode="zeros",
    formulation=None,
    where="conv",
):
    """Convolve ``x`` with ``kernel`` over 1, 2 or 3 spatial axes.

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first. Integer input
            is cast to float32; the caller's array is never modified.
        kernel: (*K, C // groups, F).
        bias: (F,) or None.
        strides, dilation_rate: int or one per spatial axis.
        padding: 'valid', 'same' (any stride and dilation), 'causal' (1-D), 'full',
            an int, one int per axis, or one (before, after) pair per axis.
        groups: C and F must both be divisible by it; groups == C is depthwise.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.
        formulation: force one of FORMULATIONS (for tests and benchmarks); default
            is :func:`choose_formulation`.
        where: who is calling, for error messages.

    Returns:
        y: (N, *O, F) for channels_last, (N, F, *O) for channels_first; the dtype is
        the common float dtype of ``x`` and ``kernel``.
    """
    x = as_float_array(x, where=where, name="inputs")
    kernel = as_float_array(kernel, where=where, name="kernel")
    n = kernel.ndim - 2
    if n not in (1, 2, 3):
        raise ValueError(
            f"{where}: expected a kernel of rank 3, 4 or 5 (*kernel_size, in_channels // groups, filters). "
            f"Received: kernel.shape={kernel.shape}"
        )
    data_format = standardize_data_format(data_format, where)
    if x.ndim != n + 2:
        layout = "(batch, *spatial, channels)" if data_format == "channels_last" else "(batch, channels, *spatial)"
        raise ValueError(
            f"{where}: expected input of rank {n + 2} {layout} for a {n}-D convolution. "
            f"Received: inputs.shape={x.shape}"
        )
    padding_mode = standardize_padding_mode(padding_mode, where)
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{where}: the `groups` argument must be a positive integer. Received: groups={groups!r}")
    input_shape = x.shape  # as given, for messages
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    channels, filters = x.shape[-1], kernel.shape[-1]
    if channels % groups or filters % groups:
        raise ValueError(
            f"{where}: input channels and filters must both be divisible by groups. "
            f"Received: input channels={channels}, filters={filters}, groups={groups}"
        )
    if kernel.shape[-2] != channels // groups:
        raise ValueError(
            f"{where}: the kernel's in-channel axis must equal input channels // groups = "
            f"{channels} // {groups} = {channels // groups}. Received: kernel.shape={kernel.shape}, "
            f"inputs.shape={input_shape}"
        )
    if bias is not None:
        bias = as_float_array(bias, where=where, name="bias")
        if bias.shape != (filters,):
            raise ValueError(f"{where}: expected bias of shape ({filters},). Received: bias.shape={bias.shape}")
    out_sizes, pads = conv_output_shape(x.shape[1:-1], kernel.shape[:n], strides, padding, dilations, where=where)
    if formulation is None:
        formulation = choose_formulation(channels, kernel.shape[:n], strides, groups)
    elif formulation not in applicable_formulations(channels, kernel.shape[:n], strides, groups):
        raise ValueError(
            f"{where}: formulation must be one of "
            f"{applicable_formulations(channels, kernel.shape[:n], strides, groups)} for this shape. "
            f"Received: formulation={formulation!r}"
        )

    dtype = np.result_type(x.dtype, kernel.dtype)
    x = x.astype(dtype, copy=False)
    kernel = kernel.astype(dtype, copy=False)

    xp = pad(x, pads, padding_mode)  # (N, *P, C)
    compute = {"pointwise": _pointwise, "taps": _taps, "im2col": _im2col, "direct": _direct}[formulation]
    y = compute(xp, kernel, out_sizes, strides, dilations, groups)  # (N, *O, F), a new array
    if bias is not None:
        y += bias.astype(dtype, copy=False)
    if data_format == "channels_first":
        y = np.ascontiguousarray(np.moveaxis(y, -1, 1))
    return y


# --- the formulations: each takes the padded channels_last input -----------------


def _window(xp, tap, out_sizes, strides, dilations):
    """The strided view of ``xp`` that tap ``tap`` multiplies: shape (N, *O, C)."""
    spatial = tuple(
        slice(t * d, t * d + (o - 1) * s + 1, s) for t, o, s, d in zip(tap, out_sizes, strides, dilations)
    )
    return xp[(slice(None), *spatial, slice(None))]


def _batch_chunk(per_sample: int) -> int:
    """How many samples fit a workspace of WORKSPACE_ELEMENTS."""
    return max(1, WORKSPACE_ELEMENTS // max(per_sample, 1))


def _pointwise(xp, kernel, out_sizes, strides, dilations, groups):
    """1x1 kernel, one group: y = x[:, ::s] @ W, a single (M, C) @ (C, F) product."""
    rows = _window(xp, (0,) * len(out_sizes), out_sizes, strides, dilations)  # (N, *O, C)
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    y = np.matmul(rows.reshape(-1, channels), kernel.reshape(channels, filters))  # (M, F)
    return y.reshape(xp.shape[0], *out_sizes, filters)


def _taps(xp, kernel, out_sizes, strides, dilations, groups):
    """Stride 1, one group: each tap is a product of the flat input at a row offset.

    Flatten the padded input (Nc, *P, C) to X (Nc * prod(P), C). Output position o of
    sample n lives at flat row r = n * prod(P) + sum_a o_a * rowstride_a; tap t reads
    input row r + offset_t with offset_t = sum_a t_a * d_a * rowstride_a. So

        Y[r] = sum_t X[r + offset_t] @ kernel[t]        for r < rows - max(offset)

    and the rows whose o_a >= O_a (they straddle an edge) are cropped afterwards.
    """
    n_spatial = len(out_sizes)
    padded = xp.shape[1:-1]
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    taps = kernel.reshape(-1, channels, filters)  # (T, C, F)
    rowstride = [math.prod(padded[a + 1 :]) for a in range(n_spatial)]
    offsets = [
        sum(t * d * r for t, d, r in zip(tap, dilations, rowstride))
        for tap in product(*(range(k) for k in kernel.shape[:n_spatial]))
    ]
    per_sample = math.prod(padded)
    xp = np.ascontiguousarray(xp)
    y = np.empty((xp.shape[0], *out_sizes, filters), dtype=xp.dtype)
    chunk = _batch_chunk(per_sample * (channels + 2 * filters))
    for start in range(0, xp.shape[0], chunk):
        block = xp[start : start + chunk]
        X = block.reshape(-1, channels)  # a view: (Nc * prod(P), C)
        rows = X.shape[0] - offsets[-1]
        acc = np.empty((X.shape[0], filters), dtype=xp.dtype)
        tmp = np.empty((rows, filters), dtype=xp.dtype)
        np.matmul(X[offsets[0] : offsets[0] + rows], taps[0], out=acc[:rows])
        for off, w in zip(offsets[1:], taps[1:]):
            np.matmul(X[off : off + rows], w, out=tmp)
            acc[:rows] += tmp
        full = acc.reshape(block.shape[0], *padded, filters)
        y[start : start + chunk] = full[(slice(None), *(slice(0, o) for o in out_sizes), slice(None))]
    return y


def _im2col(xp, kernel, out_sizes, strides, dilations, groups):
    """General case: columns (M, T * C/G) per group, then one (batched) product.

    cols[g, m, t, c] = window_t[m, g * C/G + c], built with one strided copy per tap.
    Kernel (*K, C/G, F) is regrouped to (G, T * C/G, F/G); the product is
    (G, M, T*C/G) @ (G, T*C/G, F/G) -> (G, M, F/G), laid back as (M, F).
    """
    n_spatial = len(out_sizes)
    ksize = kernel.shape[:n_spatial]
    T = math.prod(ksize)
    cg, filters = kernel.shape[-2], kernel.shape[-1]
    fg = filters // groups
    w = kernel.reshape(T * cg, groups, fg).transpose(1, 0, 2)  # (G, T*Cg, Fg)
    if groups == 1:
        w = w[0]
    batch = xp.shape[0]
    per_sample = math.prod(out_sizes)
    y = np.empty((batch, *out_sizes, filters), dtype=xp.dtype)
    chunk = _batch_chunk(per_sample * T * cg * groups)
    taps = list(product(*(range(k) for k in ksize)))
    for start in range(0, batch, chunk):
        block = xp[start : start + chunk]
        m = block.shape[0] * per_sample
        cols = np.empty((groups, m, T, cg), dtype=xp.dtype)
        for i, tap in enumerate(taps):
            win = _window(block, tap, out_sizes, strides, dilations)  # (Nc, *O, C)
            cols[:, :, i, :] = win.reshape(m, groups, cg).transpose(1, 0, 2)
        out = y[start : start + chunk].reshape(m, filters)  # a view into y
        if groups == 1:
            np.matmul(cols.reshape(m, T * cg), w, out=out)
        else:
            prod_ = np.matmul(cols.reshape(groups, m, T * cg), w)  # (G, M, Fg)
            out.reshape(m, groups, fg)[...] = prod_.transpose(1, 0, 2)
    return y


def _direct(xp, kernel, out_sizes, strides, dilations, groups):
    """One input channel per group: y[..., g, j] += window_t[..., g] * kernel[t, 0, g*Fg + j].

    Broadcasting over all groups at once: no product, no loop but over taps.
    """
    n_spatial = len(out_sizes)
    filters = kernel.shape[-1]
    fg = filters // groups
    batch = xp.shape[0]
    y = np.zeros((batch, *out_sizes, groups, fg), dtype=xp.dtype)
    tmp = np.empty_like(y)
    for tap in product(*(range(k) for k in kernel.shape[:n_spatial])):
        win = _window(xp, tap, out_sizes, strides, dilations)  # (N, *O, G)
        np.multiply(win[..., None], kernel[tap].reshape(groups, fg), out=tmp)
        y += tmp
    return y.reshape(batch, *out_sizes, filters)
