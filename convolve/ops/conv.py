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

How it is computed: the input is padded once, then one of five formulations,
picked by :func:`choose_formulation` from the shapes alone:

* ``pointwise``  1x1 kernels, one group: one matrix product (M, C) @ (C, F) on the
                 (strided) input, in row blocks that get their bias while in cache.
* ``taps``       stride 1, one group: the padded input read as one flat (rows, C) matrix;
                 tap t is that matrix shifted by a row offset, so each tap is one product
                 (rows, C) @ (C, F) with no copy; rows that straddle an edge are
                 cropped at the end.
* ``im2col``     everything else: for a cache-sized block of output positions, the
                 T = prod(K) taps copied side by side into a (rows, T * C) matrix, then
                 one product with the (T * C, F) kernel, written straight into y, bias
                 added (ops/im2col.py: blocks, and the last axis' taps copied as one run
                 of K_last * C numbers). Groups: a batched product per batch chunk
                 (``WORKSPACE_ELEMENTS``).
* ``direct``     one input channel per group (grey images, depthwise convolutions):
                 accumulate the taps with broadcasting; no product at all.
* ``flat``       stride 1, one group: tap-major columns over the padded grid's flat
                 positions, one contiguous copy per tap and channel, the product cropped
                 into y (few channels, 2-D and 3-D: see :func:`choose_formulation`).

The rules (forward, :func:`choose_formulation`), from ``benchmarks/conv.py --formulations``:
``direct`` when each group has one input channel and, for a plain convolution, one
filter (with several filters one product of inner size T beats T broadcast passes over
the output); ``pointwise`` for 1x1 kernels (one group); ``flat`` for stride 1, one group,
2-D or 3-D and a few channels (more than ``im2col.TAP_MAJOR_CHANNELS``, at most
``FLAT_MAX_CHANNELS``); ``im2col`` for the rest. ``taps`` is never chosen: once im2col's
columns were built in cache-sized blocks with one copy per run, its one product of inner
size T * C ran about as fast as a bare product of the same shape, where ``taps`` makes T
products of inner size C, T - 1 extra passes over the output and computes the padded rows
it crops; it stays for tests and comparison.

The gradients (:func:`conv_backward`) have four formulations, picked by
:func:`choose_backward_formulation`: ``im2col`` (the kernel gradient from the same blocked
columns, cols^T @ g; the input gradient g @ W^T added back tap by tap, col2im; several
groups: batched products per batch chunk), ``flipped`` (stride 1: the input gradient as a
forward convolution of the padded gradient with the flipped kernel, so it gets the blocked
im2col too), ``taps`` (never chosen, as in the forward pass) and ``direct``. ``flipped``
for stride 1, one group, a kernel larger than 1x1 and at least ``FLIPPED_MIN_CHANNELS``
input channels per group; ``direct`` (broadcast products per tap) where the forward pass
is direct; ``im2col`` otherwise.

:func:`conv_transpose` and :func:`conv_transpose_backward`, at the end of this file, are
built from the same pieces: a transposed convolution is the input-gradient half of
:func:`conv_backward`.
"""
from __future__ import annotations

import math
from functools import partial
from itertools import product
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..backend import as_float_array, get_array_module
from . import blas, im2col
from .args import bias_array, standardize_data_format, standardize_padding_mode, standardize_tuple
from .shapes import conv_output_shape, conv_transpose_output_shape

#: Workspace of the grouped im2col and the taps formulations, in array elements (64 MiB of
#: float32): they take as many samples at a time as fit in it (at least one). One group's im2col
#: builds its columns in smaller blocks (``im2col.BLOCK_ELEMENTS``).
WORKSPACE_ELEMENTS = 1 << 24

_NP_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
FORMULATIONS = ("pointwise", "taps", "im2col", "direct", "flat")
BACKWARD_FORMULATIONS = ("im2col", "flipped", "taps", "direct")
#: most input channels for which ``flat`` beats im2col, by rank (2-D, 3-D), one group, stride 1
#: (3x3 and 3x3x3 kernels in ``benchmarks/conv.py --formulations``, one thread: with more
#: channels im2col's runs of K_last * C numbers are long enough to copy as fast)
FLAT_MAX_CHANNELS = {2: 8, 3: 16}
#: fewest input channels per group for which the ``flipped`` input gradient beats col2im
FLIPPED_MIN_CHANNELS = 8


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
        names += ["taps", "flat"]
    return tuple(names)


def choose_formulation(
    in_channels: int, kernel_size, strides, groups: int, filters: int | None = None
) -> str:
    """Which formulation computes a convolution of this shape fastest (forward pass).

    The one place where the choice is made; every formulation gives the same
    numbers (the tests check each one on every configuration they draw). The rules,
    from ``benchmarks/conv.py --formulations`` (see the module docstring):

    * ``direct`` when each group has one input channel and, for a plain convolution (one
      group), one filter (a grey image filtered by one kernel; a depthwise convolution,
      whatever its depth multiplier); ``filters`` None counts as one per group. With
      several filters of a plain convolution one product of inner size T beats T broadcast
      passes over the output.
    * ``pointwise`` for 1x1 kernels;
    * ``flat`` for stride 1, one group, 2-D or 3-D, and a few channels per group (more than
      ``im2col.TAP_MAJOR_CHANNELS``, at most ``FLAT_MAX_CHANNELS`` for the rank): im2col's
      rows would be runs of only K_last * C numbers (see :func:`_flat`);
    * ``im2col`` otherwise: its blocked columns run at the product's own speed.
    """
    per_group = in_channels // groups
    filters_per_group = 1 if filters is None else filters // groups
    if per_group == 1 and (groups > 1 or filters_per_group == 1):
        return "direct"
    if groups == 1 and all(k == 1 for k in kernel_size):
        return "pointwise"
    if (
        groups == 1
        and all(s == 1 for s in strides)
        and len(kernel_size) >= 2
        and im2col.TAP_MAJOR_CHANNELS < per_group <= FLAT_MAX_CHANNELS[len(kernel_size)]
    ):
        return "flat"
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
        formulation: force one of :func:`applicable_formulations` for this shape (for tests
            and benchmarks); default is :func:`choose_formulation`.
        where: who is calling, for error messages.

    Returns:
        y: (N, *O, F) for channels_last, (N, F, *O) for channels_first; the dtype is
        the common float dtype of ``x`` and ``kernel``.
    """
    spec = _check(x, kernel, bias, strides, padding, dilation_rate, groups, data_format, padding_mode, where)
    if formulation is None:
        formulation = choose_formulation(
            spec.channels, spec.kernel_size, spec.strides, groups, spec.kernel.shape[-1]
        )
    elif formulation not in applicable_formulations(spec.channels, spec.kernel_size, spec.strides, groups):
        raise ValueError(
            f"{where}: formulation must be one of "
            f"{applicable_formulations(spec.channels, spec.kernel_size, spec.strides, groups)} for this "
            f"shape. Received: formulation={formulation!r}"
        )
    xp = pad(spec.x, spec.pads, spec.padding_mode)  # (N, *P, C)
    y = _forward(
        xp, spec.kernel, spec.bias, spec.out_sizes, spec.strides, spec.dilations, groups, formulation
    )
    if spec.data_format == "channels_first":
        y = np.ascontiguousarray(np.moveaxis(y, -1, 1))
    return y


class _Spec(NamedTuple):
    """A checked convolution: arrays in channels_last and one dtype, sizes resolved."""

    x: np.ndarray  # (N, *S, C), channels_last view of the input
    kernel: np.ndarray  # (*K, C // G, F)
    bias: np.ndarray | None
    strides: tuple
    dilations: tuple
    pads: tuple  # one (before, after) per spatial axis
    out_sizes: tuple
    data_format: str
    padding_mode: str

    @property
    def channels(self):
        return self.x.shape[-1]

    @property
    def kernel_size(self):
        return self.kernel.shape[:-2]


def _arrays_and_rank(x, kernel, data_format, where, kernel_layout, what):
    """Float arrays, the number of spatial axes n, and the data format; the kernel must have
    rank 3, 4 or 5 and the input rank n + 2."""
    x = as_float_array(x, where=where, name="inputs")
    kernel = as_float_array(kernel, where=where, name="kernel")
    n = kernel.ndim - 2
    if n not in (1, 2, 3):
        raise ValueError(
            f"{where}: expected a kernel of rank 3, 4 or 5 {kernel_layout}. "
            f"Received: kernel.shape={kernel.shape}"
        )
    data_format = standardize_data_format(data_format, where)
    if x.ndim != n + 2:
        layout = (
            "(batch, *spatial, channels)" if data_format == "channels_last" else "(batch, channels, *spatial)"
        )
        raise ValueError(
            f"{where}: expected input of rank {n + 2} {layout} for a {n}-D {what}. "
            f"Received: inputs.shape={x.shape}"
        )
    return x, kernel, n, data_format


def _check(
    x, kernel, bias, strides, padding, dilation_rate, groups, data_format, padding_mode, where
) -> _Spec:
    """Validate every argument of a convolution before any arithmetic; see :func:`conv`."""
    x, kernel, n, data_format = _arrays_and_rank(
        x, kernel, data_format, where, "(*kernel_size, in_channels // groups, filters)", "convolution"
    )
    padding_mode = standardize_padding_mode(padding_mode, where)
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(
            f"{where}: the `groups` argument must be a positive integer. Received: groups={groups!r}"
        )
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
    bias = bias_array(bias, filters, where)
    out_sizes, pads = conv_output_shape(
        x.shape[1:-1], kernel.shape[:n], strides, padding, dilations, where=where
    )
    dtype = np.result_type(x.dtype, kernel.dtype)
    return _Spec(
        x.astype(dtype, copy=False), kernel.astype(dtype, copy=False),
        None if bias is None else bias.astype(dtype, copy=False),
        strides, dilations, pads, out_sizes, data_format, padding_mode,
    )


# --- the formulations: each takes the padded channels_last input -----------------


def _forward(xp, kernel, bias, out_sizes, strides, dilations, groups, formulation):
    """y (N, *O, F), a new array, bias added, by the named formulation on padded ``xp``."""
    compute = {"pointwise": _pointwise, "taps": _taps, "im2col": _im2col, "direct": _direct, "flat": _flat}[
        formulation
    ]
    return compute(xp, kernel, bias, out_sizes, strides, dilations, groups)


def _window(xp, tap, out_sizes, strides, dilations):
    """The strided view of ``xp`` that tap ``tap`` multiplies: shape (N, *O, C)."""
    spatial = tuple(
        slice(t * d, t * d + (o - 1) * s + 1, s) for t, o, s, d in zip(tap, out_sizes, strides, dilations)
    )
    return xp[(slice(None), *spatial, slice(None))]


def _batch_chunk(per_sample: int) -> int:
    """How many samples fit a workspace of WORKSPACE_ELEMENTS (taps and grouped im2col)."""
    return max(1, WORKSPACE_ELEMENTS // max(per_sample, 1))


def _pointwise(xp, kernel, bias, out_sizes, strides, dilations, groups):
    """1x1 kernel, one group: y = x[:, ::s] @ W + bias, (M, C) @ (C, F), in row blocks.

    Each block of rows is multiplied into y and gets its bias while still in cache, instead
    of a second pass over the whole of y afterwards.
    """
    rows = _window(xp, (0,) * len(out_sizes), out_sizes, strides, dilations)  # (N, *O, C)
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    x2 = rows.reshape(-1, channels)  # a view when the input is contiguous (stride 1), else one copy
    w = kernel.reshape(channels, filters)
    y = np.empty((xp.shape[0], *out_sizes, filters), dtype=xp.dtype)
    y2 = y.reshape(-1, filters)
    step = max(1, im2col.BLOCK_ELEMENTS // max(channels, filters))

    def work(starts):
        for start in starts:
            out = y2[start : start + step]
            np.matmul(x2[start : start + step], w, out=out)
            if bias is not None:
                out += bias

    starts = range(0, x2.shape[0], step)
    blas.run_parallel([partial(work, share) for share in im2col.split(list(starts), blas.workers())])
    return y


def _taps(xp, kernel, bias, out_sizes, strides, dilations, groups):
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
    if bias is not None:
        y += bias
    return y


def _im2col(xp, kernel, bias, out_sizes, strides, dilations, groups):
    """General case: columns (rows, T * C) per block of output positions, then one product.

    One group (see ops/im2col.py for the layout and why blocks): for each block
    cols (rows, T*C) @ kernel (T*C, F) -> y's rows (rows, F), written in place. The bias
    rides in the product: cols get a column of ones and the kernel the bias as one more
    row, which saves a separate ``y += bias`` pass over each block's output (with one input
    channel the product is so small that such a pass would cost about as much). Several
    groups go to :func:`_im2col_grouped`.
    """
    if groups > 1:
        return _im2col_grouped(xp, kernel, bias, out_sizes, strides, dilations, groups)
    ksize = kernel.shape[: len(out_sizes)]
    width, filters = math.prod(ksize) * kernel.shape[-2], kernel.shape[-1]  # T * C, F
    w = kernel.reshape(width, filters)
    ones = bias is not None  # the bias as one more row of w, times a column of ones in cols
    if ones:
        w = np.concatenate([w, bias.reshape(1, filters).astype(w.dtype, copy=False)])
    y = np.empty((xp.shape[0], *out_sizes, filters), dtype=xp.dtype)
    y2 = y.reshape(-1, filters)  # (N * prod(O), F), a view
    fused = im2col.fuses_last_axis(xp, dilations)
    source = im2col.channels_first(xp) if kernel.shape[-2] <= im2col.TAP_MAJOR_CHANNELS else None
    views = (
        None if source is not None else im2col.batch_views(xp, ksize, out_sizes, strides, dilations, fused)
    )
    plan = im2col.blocks(xp.shape[0], out_sizes, width)
    per_row = math.prod(out_sizes[1:])
    size = max(b.nc * b.hc for b in plan) * per_row * (width + ones)

    def work(blocks):  # one worker thread's share of the blocks
        cols = im2col.workspace("cols", size, xp.dtype)  # reused by each of its blocks, and by later calls
        for b in blocks:
            mat = im2col.fill_columns(
                cols, xp, b, ksize, out_sizes, strides, dilations, fused, source, ones, views
            )
            start = (b.n0 * out_sizes[0] + b.h0) * per_row
            np.matmul(mat, w, out=y2[start : start + mat.shape[0]])  # the block's rows of y, bias included

    blas.run_parallel([partial(work, share) for share in im2col.split(plan, blas.workers())])
    return y


#: ``flat`` columns hold about this many numbers per block (half of im2col's
#: ``BLOCK_ELEMENTS``: on the 3-D benchmark shape, one thread, blocks of 2^18 and 2^19 numbers
#: ran alike and 2^20 slower)
FLAT_BLOCK_ELEMENTS = 1 << 19


def _flat(xp, kernel, bias, out_sizes, strides, dilations, groups):
    """Stride 1, one group: tap-major columns over the padded grid's flat positions.

    Per sample, the channels-first padded input is (C, R) with R = prod(P) flat positions;
    output position o sits at flat position r(o) = sum_a o_a * rowstride_a and tap t reads
    r + offset_t (as in :func:`_taps`). For a band of the first output axis, the columns

        cols^T (T * C [+ 1], L)    cols^T[t * C + c, r] = x_cf[n, c, base + r + offset_t]

    take one contiguous copy of L numbers per tap and channel, instead of im2col's runs of
    K_last * C numbers per output position. That wins with a few channels in 2-D and 3-D;
    with more channels, in 1-D, or with C <= 3 (where im2col's runs are long, or tap-major
    already) im2col is faster: hence the bounds in :func:`choose_formulation`. The L rows
    include the positions that straddle an edge (padded minus output sizes on the inner
    axes), computed and then dropped: the product (L, F) is cropped into y. A row of ones
    carries the bias, as in :func:`_im2col`.
    """
    n_spatial = len(out_sizes)
    batch, padded, channels = xp.shape[0], xp.shape[1:-1], xp.shape[-1]
    ksize = kernel.shape[:n_spatial]
    taps, filters = math.prod(ksize), kernel.shape[-1]
    rowstride = [math.prod(padded[a + 1 :]) for a in range(n_spatial)]
    offsets = [
        sum(t * d * r for t, d, r in zip(tap, dilations, rowstride))
        for tap in product(*(range(k) for k in ksize))
    ]
    ones = bias is not None
    width = taps * channels + ones
    w = kernel.reshape(taps * channels, filters)
    if ones:
        w = np.concatenate([w, bias.reshape(1, filters).astype(w.dtype, copy=False)])
    source = im2col.channels_first(xp).reshape(batch, channels, -1)  # (N, C, R)
    y = np.empty((batch, *out_sizes, filters), dtype=xp.dtype)
    plane = rowstride[0]  # flat positions per index of the first axis
    tail = sum((o - 1) * r for o, r in zip(out_sizes[1:], rowstride[1:])) + 1  # the last band row's reach
    band = max(1, min(out_sizes[0], FLAT_BLOCK_ELEMENTS // (width * plane)))
    plan = [
        (n, h0, min(band, out_sizes[0] - h0)) for n in range(batch) for h0 in range(0, out_sizes[0], band)
    ]
    longest = (band - 1) * plane + tail

    def work(blocks):
        cols = im2col.workspace("cols", width * longest, xp.dtype)
        out = im2col.workspace("flat-out", longest * filters, xp.dtype)
        for n, h0, hc in blocks:
            length = (hc - 1) * plane + tail
            cols_t = cols[: width * length].reshape(width, length)
            by_tap = cols_t[: taps * channels].reshape(taps, channels, length)
            src, base = source[n], h0 * plane
            for j, off in enumerate(offsets):
                by_tap[j] = src[:, base + off : base + off + length]
            if ones:
                cols_t[-1] = 1
            prod_ = out[: length * filters].reshape(length, filters)
            np.matmul(cols_t.T, w, out=prod_)
            step = prod_.strides[0]
            y[n, h0 : h0 + hc] = as_strided(
                prod_,
                (hc, *out_sizes[1:], filters),
                (plane * step, *(r * step for r in rowstride[1:]), prod_.strides[1]),
            )

    blas.run_parallel([partial(work, share) for share in im2col.split(plan, blas.workers())])
    return y


def _im2col_grouped(xp, kernel, bias, out_sizes, strides, dilations, groups):
    """Several groups: columns (M, G, T, C/G) per batch chunk, then one batched product.

    cols[m, g, t, c] = window_t[m, g * C/G + c], one strided copy per tap (the window is
    written straight into cols viewed as (Nc, *O, G, T, C/G)). Kernel (*K, C/G, F) is
    regrouped to (G, T * C/G, F/G); the product (G, M, T*C/G) @ (G, T*C/G, F/G) -> (G, M, F/G)
    is laid back as (M, F).
    """
    n_spatial = len(out_sizes)
    ksize = kernel.shape[:n_spatial]
    T = math.prod(ksize)
    cg, filters = kernel.shape[-2], kernel.shape[-1]
    fg = filters // groups
    w = kernel.reshape(T * cg, groups, fg).transpose(1, 0, 2)  # (G, T*Cg, Fg)
    batch = xp.shape[0]
    per_sample = math.prod(out_sizes)
    y = np.empty((batch, *out_sizes, filters), dtype=xp.dtype)
    chunk = _batch_chunk(per_sample * T * cg * groups)
    taps = list(product(*(range(k) for k in ksize)))
    for start in range(0, batch, chunk):
        block = xp[start : start + chunk]
        nc = block.shape[0]
        m = nc * per_sample
        cols = np.empty((nc, *out_sizes, groups, T, cg), dtype=xp.dtype)
        for i, tap in enumerate(taps):
            win = _window(block, tap, out_sizes, strides, dilations)  # (Nc, *O, C)
            cols[..., i, :] = win.reshape(*win.shape[:-1], groups, cg)  # splitting the last axis is a view
        prod_ = np.matmul(cols.reshape(m, groups, T * cg).transpose(1, 0, 2), w)  # (G, M, Fg)
        y[start : start + chunk].reshape(m, groups, fg)[...] = prod_.transpose(1, 0, 2)
    if bias is not None:
        y += bias
    return y


def _direct(xp, kernel, bias, out_sizes, strides, dilations, groups):
    """One input channel per group: y[..., g, j] = bias + sum_t window_t[..., g] * kernel[t, 0, g*Fg + j].

    Broadcasting over all groups at once: no product, no loop but over taps.
    """
    n_spatial = len(out_sizes)
    filters = kernel.shape[-1]
    fg = filters // groups
    batch = xp.shape[0]
    y = np.empty((batch, *out_sizes, groups, fg), dtype=xp.dtype)
    y[...] = 0 if bias is None else bias.reshape(groups, fg)  # the bias starts the sum
    tmp = np.empty_like(y)
    for tap in product(*(range(k) for k in kernel.shape[:n_spatial])):
        win = _window(xp, tap, out_sizes, strides, dilations)  # (N, *O, G)
        np.multiply(win[..., None], kernel[tap].reshape(groups, fg), out=tmp)
        y += tmp
    return y.reshape(batch, *out_sizes, filters)


# --- backward: the gradients of conv(), from the same primitives -----------------------
#
# With g = dL/dy (N, *O, F) and the padded input xp (N, *P, C):
#
#   dL/dkernel[t] = sum over n, o of window_t(xp)[n, o, :]^T  g[n, o, :]     (C/G, F) per tap
#   dL/dxp        = sum over taps t of g @ kernel[t]^T, added into window_t  (the transposed conv)
#   dL/dx         = dL/dxp folded back through the padding (pad_backward)
#   dL/dbias      = g summed over every axis but the last
#
# Four formulations (``choose_backward_formulation`` picks; every one is tested):
#
# * ``im2col``   blocks of columns as in the forward pass: dL/dkernel += cols^T @ g_block,
#                and dcols = g_block @ kernel^T added back tap by tap (col2im). Any shape;
#                several groups: batched products per batch chunk (_im2col_grouped_backward).
# * ``flipped``  stride 1, one group: the kernel gradient as in ``im2col`` (or from ``flat``'s
#                columns, :func:`_flat_kernel_grad`, where the forward rule picks ``flat``);
#                the input gradient is itself a forward convolution (so it gets the blocked im2col):
#                  dL/dxp[p] = sum_t g[p - t * d] @ kernel[t]^T
#                            = conv(g padded by (K - 1) * d on both sides, kernel flipped over
#                                   its taps with C and F swapped, dilation d)   -> (N, *P, C)
#                and with zero padding the crop to dL/dx is folded into that padding.
# * ``taps``     stride 1, one group: the flat row-offset view of ``_taps``, per tap (never
#                chosen; kept for tests and comparison).
# * ``direct``   one input channel per group, as the forward ``direct``: broadcast products
#                per tap, no matrix product (_direct_backward).


def applicable_backward_formulations(in_channels: int, kernel_size, strides, groups: int) -> tuple:
    """The formulations that can compute conv's gradients for this shape (im2col always can)."""
    names = ["im2col"]
    if in_channels // groups == 1:
        names.append("direct")
    if groups == 1 and all(s == 1 for s in strides):
        names += ["flipped", "taps"]
    return tuple(names)


def choose_backward_formulation(
    in_channels: int, kernel_size, strides, groups: int, filters: int | None = None
) -> str:
    """Which formulation computes conv's gradients fastest; see the module docstring.

    ``flipped`` for stride 1, one group, a kernel larger than 1x1 and at least
    ``FLIPPED_MIN_CHANNELS`` input channels per group: its input gradient is a forward conv
    (blocked im2col, each input-gradient cell written once) where col2im adds T windows into
    it. With fewer channels that forward conv has only C filters, a product with a C-wide
    output, which BLAS runs far below its rate, and col2im is faster. 1x1 kernels: the two
    are the same product, and ``im2col`` skips padding g. ``direct`` where the forward pass
    is direct (one input channel and, for one group, one filter; or several groups with one
    input channel each, as depthwise): broadcast products, as the products of the others
    would have a single row or column. ``im2col`` otherwise; ``taps`` is never chosen.
    """
    if in_channels // groups == 1 and (groups > 1 or filters is None or filters == 1):
        return "direct"
    if (
        groups == 1
        and all(s == 1 for s in strides)
        and not all(k == 1 for k in kernel_size)
        and in_channels // groups >= FLIPPED_MIN_CHANNELS
    ):
        return "flipped"
    return "im2col"


def pad_backward(grad, pads, mode, sizes):
    """Gradient of :func:`pad`: fold the padded gradient back onto the unpadded input.

    For 'zeros' this is a crop. For the other modes every padded cell is a copy of some
    input cell; its gradient is added to that cell. The source index of each padded cell,
    per axis, comes from padding ``arange(size)`` with the same mode.
    """
    if not any(b or a for b, a in pads):
        return grad
    if mode == "zeros":
        return grad[(slice(None), *(slice(b, b + n) for (b, _), n in zip(pads, sizes)), slice(None))]
    for axis, ((before, after), n) in enumerate(zip(pads, sizes), start=1):
        if not (before or after):
            continue
        source = np.pad(np.arange(n), (before, after), mode=_NP_PAD_MODES[mode])
        folded = np.moveaxis(grad, axis, 0)
        out = folded[before : before + n].copy()
        border = [*range(before), *range(before + n, before + n + after)]  # only the padded cells
        np.add.at(out, source[border], folded[border])
        grad = np.moveaxis(out, 0, axis)
    return grad


def conv_backward(
    grad_y,
    x,
    kernel,
    strides=1,
    padding="valid",
    dilation_rate=1,
    groups=1,
    data_format="channels_last",
    padding_mode="zeros",
    use_bias=True,
    need_input_grad=True,
    formulation=None,
    where="conv",
):
    """Gradients of :func:`conv` with respect to its input, kernel and bias.

    Args:
        grad_y: dL/dy, the shape of conv's output.
        x, kernel and the rest: exactly as given to :func:`conv`.
        use_bias: also return dL/dbias.
        need_input_grad: compute dL/dx (skip it for a model's first layer).
        formulation: force one of :func:`applicable_backward_formulations` (tests and
            benchmarks); default :func:`choose_backward_formulation`.

    Returns:
        (grad_x or None, grad_kernel, grad_bias or None), each in its argument's layout.
    """
    spec = _check(x, kernel, None, strides, padding, dilation_rate, groups, data_format, padding_mode, where)
    g = as_float_array(grad_y, where=where, name="grad_y").astype(spec.x.dtype, copy=False)
    if spec.data_format == "channels_first":
        g = np.moveaxis(g, 1, -1)
    expected = (spec.x.shape[0], *spec.out_sizes, spec.kernel.shape[-1])
    if g.shape != expected:
        raise ValueError(
            f"{where}: grad_y must have the output's shape {expected}. Received: grad_y.shape={g.shape}"
        )
    applicable = applicable_backward_formulations(spec.channels, spec.kernel_size, spec.strides, groups)
    if formulation is None:
        formulation = choose_backward_formulation(
            spec.channels, spec.kernel_size, spec.strides, groups, expected[-1]
        )
    elif formulation not in applicable:
        raise ValueError(
            f"{where}: the backward formulation must be one of {applicable} for this shape. "
            f"Received: formulation={formulation!r}"
        )
    g = np.ascontiguousarray(g)  # (N, *O, F)
    xp = pad(spec.x, spec.pads, spec.padding_mode)
    grad_kernel, grad_x, grad_bias = _backward(
        xp,
        g,
        spec.kernel,
        xp.shape[1:-1],
        spec.strides,
        spec.dilations,
        groups,
        need_input_grad,
        formulation,
        crop=(spec.pads, spec.padding_mode, spec.x.shape[1:-1]),
        bias=use_bias,
    )
    if need_input_grad:
        if spec.data_format == "channels_first":
            grad_x = np.moveaxis(grad_x, -1, 1)
        grad_x = np.ascontiguousarray(grad_x)
    return grad_x, grad_kernel, grad_bias


def _bias_grad(g):
    """dL/dbias (F,): ``g`` (N, *O, F) summed over every axis but the last, as products with a
    vector of ones in chunks of ``im2col.BLOCK_ROWS`` rows: BLAS runs them faster than NumPy's
    ``sum(axis=0)``, which adds the rows one short vector at a time; the chunks keep the
    float32 sums short."""
    g2 = g.reshape(-1, g.shape[-1])
    rows = im2col.BLOCK_ROWS
    ones = np.ones(min(rows, g2.shape[0]), dtype=g2.dtype)
    total = np.zeros(g2.shape[1], dtype=g2.dtype)
    for start in range(0, g2.shape[0], rows):
        chunk = g2[start : start + rows]
        total += ones[: chunk.shape[0]] @ chunk
    return total


def _backward(xp, g, kernel, padded, strides, dilations, groups, need_input_grad, formulation=None, crop=None,
              bias=None):
    """(dL/dkernel, dL/dxp) of a convolution with padded input ``xp`` (N, *P, C), kernel
    (*K, C/G, F) and output gradient ``g`` (N, *O, F), both channels_last.

    ``xp`` may be None: then only dL/dxp is computed (the transposed convolution of ``g``
    onto the grid ``padded`` = P) and dL/dkernel is None. dL/dxp is None unless
    ``need_input_grad``. ``crop`` = (pads, padding_mode, input sizes) folds dL/dxp back
    onto the unpadded input (:func:`pad_backward`), so the second result is dL/dx.
    With ``bias`` not None a third result, dL/dbias (F,) when ``bias`` (else None): from the
    kernel gradient's product where that is ``_im2col_backward``'s (the columns get a column
    of ones), else :func:`_bias_grad`. With ``bias`` None (conv_transpose's callers) two results.
    """
    grad_bias = None
    if formulation is None:
        channels, ksize = groups * kernel.shape[-2], kernel.shape[: g.ndim - 2]
        formulation = choose_backward_formulation(channels, ksize, strides, groups, kernel.shape[-1])
    if formulation == "taps":
        grad_kernel, grad_xp = _taps_backward(xp, g, kernel, padded, dilations, need_input_grad)
    elif formulation == "direct":
        grad_kernel, grad_xp = _direct_backward(
            xp, g, kernel, padded, strides, dilations, groups, need_input_grad
        )
    elif groups > 1:
        grad_kernel, grad_xp = _im2col_grouped_backward(
            xp, g, kernel, padded, strides, dilations, groups, need_input_grad
        )
    else:
        flipped = formulation == "flipped"
        if (
            flipped
            and xp is not None
            and choose_formulation(xp.shape[-1], kernel.shape[: g.ndim - 2], strides, 1, 2) == "flat"
        ):
            grad_kernel, grad_xp = _flat_kernel_grad(xp, g, kernel, dilations), None
        else:
            grad_kernel, grad_xp, grad_bias = _im2col_backward(
                xp, g, kernel, padded, strides, dilations, need_input_grad and not flipped, bool(bias)
            )
        if need_input_grad and flipped:
            grad_xp = _flipped_input_grad(g, kernel, padded, dilations, crop)
            crop = None  # _flipped_input_grad has folded it
    if grad_xp is not None and crop is not None:
        grad_xp = pad_backward(grad_xp, *crop)
    if bias is None:  # conv_transpose's callers: two results
        return grad_kernel, grad_xp
    if bias and grad_bias is None:
        grad_bias = _bias_grad(g)
    return grad_kernel, grad_xp, grad_bias


def _flipped_input_grad(g, kernel, padded, dilations, crop=None):
    """Stride 1: dL/dxp (N, *P, C) as the forward convolution of g padded by (K - 1) * d per
    side with the flipped kernel (*K, F, C); see the comment above. With ``crop`` and zero
    padding whose amounts are at most (K - 1) * d, g is padded by (K - 1) * d - before (and
    after) instead, which gives dL/dx (N, *S, C) directly; other crops go through pad_backward.
    """
    n = g.ndim - 2
    ksize = kernel.shape[:n]
    flipped = np.ascontiguousarray(kernel[(slice(None, None, -1),) * n].swapaxes(-1, -2))  # (*K, F, C)
    reach = [(k - 1) * d for k, d in zip(ksize, dilations)]
    direct = (
        crop is not None
        and crop[1] == "zeros"
        and all(b <= r and a <= r for (b, a), r in zip(crop[0], reach))
    )
    if direct:
        pads = tuple((r - b, r - a) for (b, a), r in zip(crop[0], reach))
        out_sizes = crop[2]
    else:
        pads, out_sizes = tuple((r, r) for r in reach), padded
    gp = _padded_scratch(g, pads)  # (N, *O + 2 * reach, F) or as cropped
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    formulation = choose_formulation(filters, ksize, (1,) * n, 1, channels)
    grad = _forward(gp, flipped, None, tuple(out_sizes), (1,) * n, dilations, 1, formulation)
    if crop is not None and not direct:
        grad = pad_backward(grad, *crop)
    return grad


def _padded_scratch(g, pads):
    """``pad(g, pads)`` with zeros, written into a reused :func:`im2col.workspace` buffer (scratch
    for this call only: the flipped input gradient's padded g, 25 MB on 128x24x24x64)."""
    if not any(b or a for b, a in pads):
        return g
    shape = (g.shape[0], *(s + b + a for s, (b, a) in zip(g.shape[1:-1], pads)), g.shape[-1])
    gp = im2col.workspace("padded", math.prod(shape), g.dtype).reshape(shape)
    for axis, (b, a) in enumerate(pads, start=1):  # zero the borders, then copy the interior
        if b:
            gp[(slice(None),) * axis + (slice(0, b),)] = 0
        if a:
            gp[(slice(None),) * axis + (slice(shape[axis] - a, None),)] = 0
    gp[(slice(None), *(slice(b, b + s) for s, (b, _) in zip(g.shape[1:-1], pads)), slice(None))] = g
    return gp


def _flat_kernel_grad(xp, g, kernel, dilations):
    """Stride 1, one group: dL/dkernel (*K, C, F) from ``flat``'s columns (see :func:`_flat`),

        dL/dW (T*C, F) += cols^T (T*C, L) @ g_flat (L, F)   per band,

    where g_flat is the band of g laid on the padded grid's flat positions, zero at the
    positions that straddle an edge (the same ones in every band, so they stay zero).
    """
    out_sizes = g.shape[1:-1]
    n_spatial = len(out_sizes)
    batch, padded, channels = xp.shape[0], xp.shape[1:-1], xp.shape[-1]
    ksize = kernel.shape[:n_spatial]
    taps, filters = math.prod(ksize), kernel.shape[-1]
    width = taps * channels
    rowstride = [math.prod(padded[a + 1 :]) for a in range(n_spatial)]
    offsets = [
        sum(t * d * r for t, d, r in zip(tap, dilations, rowstride))
        for tap in product(*(range(k) for k in ksize))
    ]
    source = im2col.channels_first(xp).reshape(batch, channels, -1)  # (N, C, R)
    plane = rowstride[0]
    tail = sum((o - 1) * r for o, r in zip(out_sizes[1:], rowstride[1:])) + 1
    band = max(1, min(out_sizes[0], FLAT_BLOCK_ELEMENTS // (width * plane)))
    plan = [
        (n, h0, min(band, out_sizes[0] - h0)) for n in range(batch) for h0 in range(0, out_sizes[0], band)
    ]
    longest = (band - 1) * plane + tail

    def work(blocks):
        cols = im2col.workspace("cols", width * longest, xp.dtype)
        gflat = np.zeros((longest, filters), dtype=g.dtype)
        acc = np.zeros((width, filters), dtype=g.dtype)
        part = np.empty_like(acc)
        step = gflat.strides[0]
        for n, h0, hc in blocks:
            length = (hc - 1) * plane + tail
            by_tap = cols[: width * length].reshape(taps, channels, length)
            src, base = source[n], h0 * plane
            for j, off in enumerate(offsets):
                by_tap[j] = src[:, base + off : base + off + length]
            grid = as_strided(
                gflat,
                (hc, *out_sizes[1:], filters),
                (plane * step, *(r * step for r in rowstride[1:]), gflat.strides[1]),
            )
            grid[...] = g[n, h0 : h0 + hc]
            np.matmul(by_tap.reshape(width, length), gflat[:length], out=part)
            acc += part
        return acc

    grad_w = np.zeros((width, filters), dtype=g.dtype)
    for acc in blas.run_parallel([partial(work, share) for share in im2col.split(plan, blas.workers())]):
        grad_w += acc
    return grad_w.reshape(kernel.shape)


def _im2col_backward(xp, g, kernel, padded, strides, dilations, need_input_grad, bias=False):
    """One group, in the forward pass' blocks (ops/im2col.py); per block of output rows:

        cols (rows, T*C) from xp;  gy = g's rows (rows, F)
        dL/dW^T (F, T*C) += gy^T @ cols                       (skipped when xp is None)
        dcols (rows, T*C) = gy @ W^T, each tap's slice added into its window of dL/dxp

    With at most ``im2col.TAP_MAJOR_CHANNELS`` channels the columns are tap-major
    (T*C, rows) and everything follows that layout: dL/dW (T*C, F) += cols^T @ gy, and
    dcols^T (T*C, rows) = W @ gy^T is added into a channels-first dL/dxp (N, C, *P) in
    runs along the output's last axis (im2col.add_columns_tap_major), moved to
    channels_last at the end: long runs, where channels_last col2im adds runs of only C <= 3
    numbers.

    With ``bias`` (and xp given) the columns get a column of ones, so the kernel gradient's
    product also gives dL/dbias = gy^T @ 1 (its last row, or column), which saves a separate
    pass over g (:func:`_bias_grad`). Returns (dL/dkernel, dL/dxp, dL/dbias).
    """
    out_sizes = g.shape[1:-1]
    ksize = kernel.shape[: len(out_sizes)]
    channels = kernel.shape[-2]
    width, filters = math.prod(ksize) * channels, kernel.shape[-1]
    w = kernel.reshape(width, filters)
    batch, dtype = g.shape[0], g.dtype
    g2 = np.ascontiguousarray(g).reshape(-1, filters)  # (N * prod(O), F)
    tap_major = channels <= im2col.TAP_MAJOR_CHANNELS
    ones = bias and xp is not None
    if xp is None:
        grad_w = None
    else:  # dL/dW (T*C [+ 1], F) when tap-major, else transposed (F, T*C [+ 1]); the bias last
        grad_w = np.zeros((width + ones, filters) if tap_major else (filters, width + ones), dtype=dtype)
    if not need_input_grad:
        grad_xp = None
    elif tap_major:
        grad_xp = np.zeros((batch, channels, *padded), dtype=dtype)  # channels-first until the end
    else:
        grad_xp = np.zeros((batch, *padded, channels), dtype=dtype)
    if grad_w is None and grad_xp is None:
        return None, None, None
    plan = im2col.blocks(batch, out_sizes, width)
    per_row = math.prod(out_sizes[1:])
    size = max(b.nc * b.hc for b in plan) * per_row * (width + ones)
    fused = xp is not None and im2col.fuses_last_axis(xp, dilations)
    source = im2col.channels_first(xp) if xp is not None and tap_major else None
    views = None
    if xp is not None and not tap_major:
        views = im2col.batch_views(xp, ksize, out_sizes, strides, dilations, fused)

    def work(blocks):  # one worker thread's share; returns its part of dL/dW (or dL/dW^T)
        cols = im2col.workspace("cols", size, dtype)  # the block's columns, or their gradient
        acc = np.zeros_like(grad_w) if grad_w is not None else None
        part = np.empty_like(acc) if acc is not None else None
        for b in blocks:
            start = (b.n0 * out_sizes[0] + b.h0) * per_row
            gy = g2[start : start + b.nc * b.hc * per_row]  # (rows, F)
            if acc is not None:
                mat = im2col.fill_columns(
                    cols, xp, b, ksize, out_sizes, strides, dilations, fused, source, ones, views
                )
                if tap_major:  # (T*C, rows) @ (rows, F), the contiguous columns on the left
                    np.matmul(mat.T, gy, out=part)
                else:
                    # (F, rows) @ (rows, T*C): OpenBLAS runs cols^T @ gy, the other orientation,
                    # much slower when the output is narrow (few filters), as in _taps_backward
                    np.matmul(gy.T, mat, out=part)
                acc += part
            if grad_xp is None:
                continue
            if tap_major:
                dcols_t = cols[: gy.shape[0] * width].reshape(width, gy.shape[0])
                np.matmul(w, gy.T, out=dcols_t)
                im2col.add_columns_tap_major(grad_xp, dcols_t, b, ksize, out_sizes, strides, dilations)
            else:
                dcols = cols[: gy.shape[0] * width].reshape(gy.shape[0], width)
                np.matmul(gy, w.T, out=dcols)
                im2col.add_columns(grad_xp, dcols, b, ksize, out_sizes, strides, dilations)
        return acc

    # col2im adds overlapping windows: then no two workers may share a sample
    shares = im2col.split(plan, blas.workers(), disjoint=grad_xp is not None)
    for acc in blas.run_parallel([partial(work, share) for share in shares]):
        if acc is not None:
            grad_w += acc
    grad_kernel = grad_bias = None
    if grad_w is not None and tap_major:
        grad_kernel = np.ascontiguousarray(grad_w[:width]).reshape(kernel.shape)
        grad_bias = grad_w[width].copy() if ones else None
    elif grad_w is not None:
        grad_kernel = np.ascontiguousarray(grad_w[:, :width].T).reshape(kernel.shape)
        grad_bias = grad_w[:, width].copy() if ones else None
    if grad_xp is not None and tap_major:
        grad_xp = np.moveaxis(grad_xp, 1, -1)  # (N, *P, C), a view
    return grad_kernel, grad_xp, grad_bias


def _direct_backward(xp, g, kernel, padded, strides, dilations, groups, need_input_grad):
    """One input channel per group, as :func:`_direct`; per tap t, with gg = g viewed as
    (N, *O, G, F/G) and the window w_t (N, *O, G):

        dL/dkernel[t, 0, g*Fg + j] = sum over n, o of w_t[n, o, g] * gg[n, o, g, j]
        window_t of dL/dxp        += sum over j of gg[..., g, j] * kernel[t, 0, g*Fg + j]

    Broadcast products and sums, no matrix product (1x512x512x1 -> 1: the products of
    im2col and taps have one row or one column).
    """
    out_sizes = g.shape[1:-1]
    n_spatial = len(out_sizes)
    filters = kernel.shape[-1]
    fg = filters // groups
    gg = g.reshape(*g.shape[:-1], groups, fg)  # (N, *O, G, Fg)
    axes = tuple(range(n_spatial + 1))
    grad_kernel = np.empty_like(kernel) if xp is not None else None
    grad_xp = np.zeros((g.shape[0], *padded, groups), dtype=g.dtype) if need_input_grad else None
    tmp = np.empty(gg.shape, dtype=g.dtype) if xp is not None else None
    for tap in product(*(range(k) for k in kernel.shape[:n_spatial])):
        if xp is not None:
            win = _window(xp, tap, out_sizes, strides, dilations)  # (N, *O, G)
            np.multiply(win[..., None], gg, out=tmp)
            grad_kernel[tap] = tmp.sum(axis=axes).reshape(1, filters)
        if need_input_grad:
            target = _window(grad_xp, tap, out_sizes, strides, dilations)  # a view: adds land in grad_xp
            k = kernel[tap].reshape(groups, fg)
            target += gg[..., 0] * k[:, 0] if fg == 1 else (gg * k).sum(axis=-1)
    return grad_kernel, grad_xp


def _taps_backward(xp, g, kernel, padded, dilations, need_input_grad):
    """Stride 1, one group. G is dL/dy laid out like the padded input (zeros where no
    output exists), flat (rows, F); then per tap t with row offset off_t:

        dL/dkernel[t]        = X[off_t : off_t + rows]^T @ G[:rows]     (skipped when xp is None)
        dL/dX[off_t : ...]  += G[:rows] @ kernel[t]^T
    """
    out_sizes = g.shape[1:-1]
    n_spatial = len(out_sizes)
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    taps = kernel.reshape(-1, channels, filters)
    rowstride = [math.prod(padded[a + 1 :]) for a in range(n_spatial)]
    offsets = [
        sum(t * d * r for t, d, r in zip(tap, dilations, rowstride))
        for tap in product(*(range(k) for k in kernel.shape[:n_spatial]))
    ]
    batch, dtype = g.shape[0], g.dtype
    if xp is not None:
        xp = np.ascontiguousarray(xp)
    grad_taps = np.zeros_like(taps) if xp is not None else None
    grad_xp = np.zeros((batch, *padded, channels), dtype=dtype) if need_input_grad else None
    chunk = _batch_chunk(math.prod(padded) * (channels + 2 * filters))
    valid = (slice(None), *(slice(0, o) for o in out_sizes), slice(None))
    for start in range(0, batch, chunk):
        nc = min(chunk, batch - start)
        rows = nc * math.prod(padded) - offsets[-1]
        G = np.zeros((nc, *padded, filters), dtype=dtype)
        G[valid] = g[start : start + chunk]
        G = G.reshape(-1, filters)[:rows]
        if xp is not None:
            X = xp[start : start + chunk].reshape(-1, channels)
            for i, off in enumerate(offsets):
                # (F, rows) @ (rows, C): OpenBLAS runs this orientation much faster than X.T @ G
                grad_taps[i] += (G.T @ X[off : off + rows]).T
        if need_input_grad:
            GX = grad_xp[start : start + chunk].reshape(-1, channels)
            tmp = np.empty((rows, channels), dtype=dtype)
            for off, w in zip(offsets, taps):
                np.matmul(G, w.T, out=tmp)
                GX[off : off + rows] += tmp
    return (None if grad_taps is None else grad_taps.reshape(kernel.shape)), grad_xp


def _im2col_grouped_backward(xp, g, kernel, padded, strides, dilations, groups, need_input_grad):
    """Several groups, per batch chunk:

        cols (G, M, T*Cg) as in ``_im2col``;  gy (G, M, Fg)
        dL/dW   (G, T*Cg, Fg) += cols^T @ gy                    (skipped when xp is None)
        dcols   (G, M, T*Cg)   = gy @ W^T, then each tap's slice added into its window of dL/dxp
    """
    out_sizes = g.shape[1:-1]
    ksize = kernel.shape[: len(out_sizes)]
    T = math.prod(ksize)
    cg, filters = kernel.shape[-2], kernel.shape[-1]
    fg = filters // groups
    w = kernel.reshape(T * cg, groups, fg).transpose(1, 0, 2)  # (G, T*Cg, Fg)
    per_sample = math.prod(out_sizes)
    batch, dtype = g.shape[0], g.dtype
    grad_w = np.zeros((groups, T * cg, fg), dtype=dtype) if xp is not None else None
    grad_xp = np.zeros((batch, *padded, groups * cg), dtype=dtype) if need_input_grad else None
    taps = list(product(*(range(k) for k in ksize)))
    chunk = _batch_chunk(per_sample * T * cg * groups)
    for start in range(0, batch, chunk):
        m = min(chunk, batch - start) * per_sample
        gy = g[start : start + chunk].reshape(m, groups, fg).transpose(1, 0, 2)  # (G, M, Fg)
        if xp is not None:
            block = xp[start : start + chunk]
            cols = np.empty((groups, m, T, cg), dtype=dtype)
            for i, tap in enumerate(taps):
                win = _window(block, tap, out_sizes, strides, dilations)
                cols[:, :, i, :] = win.reshape(m, groups, cg).transpose(1, 0, 2)
            grad_w += np.matmul(cols.reshape(groups, m, T * cg).transpose(0, 2, 1), gy)
        if need_input_grad:
            dcols = np.matmul(gy, w.transpose(0, 2, 1)).reshape(groups, m, T, cg)
            target = grad_xp[start : start + chunk]
            for i, tap in enumerate(taps):
                win = _window(target, tap, out_sizes, strides, dilations)  # a view: adds land in grad_xp
                win += dcols[:, :, i, :].transpose(1, 0, 2).reshape(win.shape)
    grad_kernel = None if grad_w is None else grad_w.transpose(1, 0, 2).reshape(kernel.shape)
    return grad_kernel, grad_xp


# --- the transposed convolution: conv's input gradient as a layer of its own -------------
#
# Layout (channels_last; Keras' kernel layout for transposed convolutions):
#
#     x       (N, *S, C)      C input channels
#     kernel  (*K, F, C)      F filters: read as a convolution kernel, F is its input side
#     bias    (F,)
#     y       (N, *L, F)      L from ops.shapes.conv_transpose_output_shape
#
# Definition (TensorFlow's conv_transpose, which Keras 3 follows): y = A^T x, where A is
# the convolution z (N, *L, F) -> (N, *S, C) with this kernel, strides and dilations and
# its padding computed on L by the usual 'valid'/'same' rules. Concretely, every input
# pixel scatters its channel vector times the kernel into the padded output grid,
#
#     y_padded[n, i * stride + t * dilation, f] += sum_c x[n, i, c] * kernel[t, f, c]
#
# and the padding is cropped. Computed by the input-gradient half of conv's backward.


class _TransposeSpec(NamedTuple):
    x: np.ndarray  # (N, *S, C), channels_last view of the input
    kernel: np.ndarray  # (*K, F, C)
    bias: np.ndarray | None
    strides: tuple
    dilations: tuple
    out_sizes: tuple  # L
    pads: tuple  # the padding of the convolution on L, cropped from the padded output
    data_format: str


def _check_transpose(x, kernel, bias, strides, padding, output_padding, dilation_rate, data_format, where):
    """Validate every argument of a transposed convolution; see :func:`conv_transpose`."""
    x, kernel, n, data_format = _arrays_and_rank(
        x, kernel, data_format, where, "(*kernel_size, filters, in_channels)", "transposed convolution"
    )
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    input_shape = x.shape
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    channels, filters = x.shape[-1], kernel.shape[-2]
    if kernel.shape[-1] != channels:
        hint = ""
        if kernel.shape[-2] == channels:
            hint = (
                " (this looks like a convolution kernel (*kernel_size, in_channels, filters); "
                "swap its last two axes)"
            )
        raise ValueError(
            f"{where}: a transposed convolution's kernel is (*kernel_size, filters, in_channels), so its "
            f"last axis must equal the input channels, {channels}{hint}. "
            f"Received: kernel.shape={kernel.shape}, inputs.shape={input_shape}"
        )
    bias = bias_array(bias, filters, where)
    out_sizes, pads = conv_transpose_output_shape(
        x.shape[1:-1], kernel.shape[:n], strides, padding, output_padding, dilations, where=where
    )
    dtype = np.result_type(x.dtype, kernel.dtype)
    return _TransposeSpec(
        x.astype(dtype, copy=False), kernel.astype(dtype, copy=False),
        None if bias is None else bias.astype(dtype, copy=False),
        strides, dilations, out_sizes, pads, data_format,
    )


def conv_transpose(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    data_format="channels_last",
    where="conv_transpose",
):
    """Transposed convolution of ``x`` with ``kernel`` over 1, 2 or 3 spatial axes.

    The gradient, with respect to its input, of the convolution that maps the output
    back to ``x`` (TensorFlow's and Keras 3's definition; see the comment above).

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first.
        kernel: (*K, F, C) -- Keras' layout: filters before input channels.
        bias: (F,) or None.
        strides, dilation_rate: int or one per spatial axis.
        padding: 'valid' or 'same'.
        output_padding: None, or an int or one per axis, each below its stride; see
            :func:`convolve.ops.shapes.conv_transpose_output_shape`.
        where: who is calling, for error messages.

    Returns:
        y: (N, *L, F) for channels_last, (N, F, *L) for channels_first, in the common
        float dtype of ``x`` and ``kernel``.
    """
    spec = _check_transpose(
        x, kernel, bias, strides, padding, output_padding, dilation_rate, data_format, where
    )
    padded = tuple(size + b + a for size, (b, a) in zip(spec.out_sizes, spec.pads))
    # x plays the output gradient of the convolution (*K, F, C): C is that convolution's filters
    _, y = _backward(None, spec.x, spec.kernel, padded, spec.strides, spec.dilations, 1, True)  # (N, *P, F)
    y = pad_backward(y, spec.pads, "zeros", spec.out_sizes)  # crop to (N, *L, F)
    if spec.bias is not None:
        y = y + spec.bias
    if spec.data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return np.ascontiguousarray(y)


def conv_transpose_backward(
    grad_y,
    x,
    kernel,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    data_format="channels_last",
    use_bias=True,
    need_input_grad=True,
    where="conv_transpose",
):
    """Gradients of :func:`conv_transpose` with respect to its input, kernel and bias.

    With y = A^T x (A the convolution on the output grid, padding ``pads``):

        dL/dx      = A grad_y: a forward :func:`conv` of grad_y with the kernel
        dL/dkernel = conv's kernel gradient with the roles swapped: grad_y is the
                     convolution's input and x its output gradient
        dL/dbias   = grad_y summed over every axis but the channels

    Returns:
        (grad_x or None, grad_kernel, grad_bias or None), each in its argument's layout.
    """
    spec = _check_transpose(
        x, kernel, None, strides, padding, output_padding, dilation_rate, data_format, where
    )
    g = as_float_array(grad_y, where=where, name="grad_y").astype(spec.x.dtype, copy=False)
    if spec.data_format == "channels_first":
        g = np.moveaxis(g, 1, -1)
    expected = (spec.x.shape[0], *spec.out_sizes, spec.kernel.shape[-2])
    if g.shape != expected:
        raise ValueError(
            f"{where}: grad_y must have the output's shape {expected}. Received: grad_y.shape={g.shape}"
        )
    gp = pad(g, spec.pads)  # (N, *P, F)
    grad_kernel, _ = _backward(
        gp, spec.x, spec.kernel, gp.shape[1:-1], spec.strides, spec.dilations, 1, False
    )
    grad_bias = g.sum(axis=tuple(range(g.ndim - 1))) if use_bias else None
    grad_x = None
    if need_input_grad:
        grad_x = conv(
            g, spec.kernel, strides=spec.strides, padding=spec.pads, dilation_rate=spec.dilations, where=where
        )
        if spec.data_format == "channels_first":
            grad_x = np.ascontiguousarray(np.moveaxis(grad_x, -1, 1))
    return grad_x, grad_kernel, grad_bias
