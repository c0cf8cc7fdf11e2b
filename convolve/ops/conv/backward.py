"""The gradients of a convolution, from the same primitives as the forward formulations.

With g = dL/dy (N, *O, F), the padded input x_padded (N, *P, C) and the kernel (*K, C/G, F):

    dL/dkernel[t] = sum over n, o of window_t(x_padded)[n, o, :]^T g[n, o, :]     (C/G, F) per tap
    dL/dx_padded  = sum over taps t of g @ kernel[t]^T, added into window_t      (the transposed conv)
    dL/dx         = dL/dx_padded folded back through the padding (geometry.pad_backward)
    dL/dbias      = g summed over every axis but the last

Five formulations; ``choose_backward_formulation`` (in the package's ``__init__``) picks one
and :func:`gradients` runs the plan it is given (:class:`BackwardPlan`):

* ``im2col``   blocks of columns as in the forward pass: dL/dkernel += cols^T @ g_block,
               and dcols = g_block @ kernel^T added back tap by tap (col2im,
               :func:`im2col_gradients`). Any shape; several groups: batched products per
               batch chunk (:func:`grouped_gradients`).
* ``flipped``  stride 1, one group: the kernel gradient as in ``im2col`` (or from ``flat``'s
               columns, :func:`flat_kernel_gradient`, where the forward rule picks ``flat``);
               the input gradient is itself a forward convolution (so it gets the blocked im2col):
                 dL/dx_padded[p] = sum_t g[p - t * d] @ kernel[t]^T
                                 = conv(g padded by (K - 1) * d on both sides, kernel flipped
                                        over its taps with C and F swapped, dilation d)  -> (N, *P, C)
               and with zero padding the crop to dL/dx is folded into that padding
               (:func:`flipped_input_gradient`).
* ``direct``   one input channel per group, as the forward ``direct``: broadcast products
               per tap, no matrix product (:func:`direct_gradients`).
* ``winograd2``, ``winograd4``  2-D 3x3, stride 1, dilation 1, one group: the kernel gradient by
               Winograd's adjoint transforms (winograd.kernel_gradient), the input gradient as
               ``flipped``'s forward convolution computed by the same Winograd tiles.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable, NamedTuple

import numpy as np

from .. import blas, kernels
from . import flat, im2col, winograd
from .geometry import COMPILED_PAD_MIN, ConvGeometry, pad_backward, window, zero_pad_into


class BackwardPlan(NamedTuple):
    """What ``choose_backward_formulation`` decided, as :func:`gradients` runs it."""

    formulation: str  # 'im2col', 'flipped', 'direct', 'winograd2' or 'winograd4'
    #: 'flipped' only: the kernel gradient from ``flat``'s columns (where the forward rule picks flat)
    flat_kernel_gradient: bool = False
    #: 'flipped' and Winograd: the forward formulation (a module's ``forward``) of the flipped convolution
    flipped_forward: Callable | None = None


def gradients(x_padded, g, kernel, geometry: ConvGeometry, plan: BackwardPlan, need_input_grad: bool,
              crop: bool = True, with_bias: bool = False):
    """(dL/dkernel, dL/dx, dL/dbias) of a convolution with padded input ``x_padded`` (N, *P, C),
    kernel (*K, C/G, F) and output gradient ``g`` (N, *O, F), both channels_last.

    ``x_padded`` may be None: then dL/dkernel is None and only the input gradient is computed
    (the transposed convolution of ``g`` onto the grid P). The input gradient is None unless
    ``need_input_grad``; with ``crop`` it is folded back onto the unpadded input, dL/dx
    (N, *S, C) (:func:`~convolve.ops.conv.geometry.pad_backward`), else it is dL/dx_padded
    (N, *P, C). dL/dbias (F,) only ``with_bias`` (else None): from the kernel gradient's product
    where that is :func:`im2col_gradients`' (the columns get a column of ones), else
    :func:`bias_gradient`.
    """
    grad_bias = None
    if plan.formulation == "direct":
        grad_kernel, grad_input = direct_gradients(x_padded, g, kernel, geometry, need_input_grad)
    elif geometry.groups > 1:
        grad_kernel, grad_input = grouped_gradients(x_padded, g, kernel, geometry, need_input_grad)
    else:
        tile = {name: m for m, name in winograd.NAMES.items()}.get(plan.formulation)
        flipped = plan.formulation == "flipped" or tile is not None
        if tile is not None and x_padded is not None:
            grad_kernel, grad_bias = winograd.kernel_gradient(x_padded, g, kernel, geometry, tile, with_bias)
            grad_input = None
        elif flipped and x_padded is not None and plan.flat_kernel_gradient:
            grad_kernel, grad_input = flat_kernel_gradient(x_padded, g, kernel, geometry), None
        else:
            grad_kernel, grad_input, grad_bias = im2col_gradients(
                x_padded, g, kernel, geometry, need_input_grad and not flipped, with_bias
            )
        if need_input_grad and flipped:
            grad_input = flipped_input_gradient(g, kernel, geometry, plan.flipped_forward, crop)
            crop = False  # flipped_input_gradient has folded it
    if grad_input is not None and crop:
        grad_input = pad_backward(grad_input, geometry.pads, geometry.padding_mode, geometry.in_sizes)
    if with_bias and grad_bias is None:
        grad_bias = bias_gradient(g)
    return grad_kernel, grad_input, grad_bias


def bias_gradient(g):
    """dL/dbias (F,): ``g`` (N, *O, F) summed over every axis but the last, as products with a
    vector of ones in chunks of ``im2col.BLOCK_ROWS`` rows: BLAS runs them faster than NumPy's
    ``sum(axis=0)``, which adds the rows one short vector at a time; the chunks keep the
    float32 sums short."""
    g_rows = g.reshape(-1, g.shape[-1])
    rows = im2col.BLOCK_ROWS
    ones = np.ones(min(rows, g_rows.shape[0]), dtype=g_rows.dtype)
    total = np.zeros(g_rows.shape[1], dtype=g_rows.dtype)
    for start in range(0, g_rows.shape[0], rows):
        chunk = g_rows[start : start + rows]
        total += ones[: chunk.shape[0]] @ chunk
    return total


# --- im2col: the forward pass' blocked columns, and col2im ------------------------------


def im2col_gradients(x_padded, g, kernel, geometry: ConvGeometry, need_input_grad, with_bias=False):
    """One group, in the forward pass' blocks (im2col.py); per block of output rows:

        cols (rows, T*C) from x_padded;  g_block = g's rows (rows, F)
        dL/dW^T (F, T*C)  += g_block^T @ cols                 (skipped when x_padded is None)
        dcols (rows, T*C)  = g_block @ W^T, each tap's slice added into its window of dL/dx_padded

    With at most ``im2col.TAP_MAJOR_CHANNELS`` channels the columns are tap-major
    (T*C, rows) and everything follows that layout: dL/dW (T*C, F) += cols^T @ g_block, and
    dcols^T (T*C, rows) = W @ g_block^T is added into a channels-first dL/dx_padded (N, C, *P)
    in runs along the output's last axis (im2col.add_columns_tap_major), moved to
    channels_last at the end: long runs, where channels_last col2im adds runs of only C <= 3
    numbers.

    ``with_bias`` (and x_padded given): the columns get a column of ones, so the kernel
    gradient's product also gives dL/dbias = g_block^T @ 1 (its last row, or column), which
    saves a separate pass over g (:func:`bias_gradient`). Returns (dL/dkernel, dL/dx_padded,
    dL/dbias), each None where not computed.
    """
    out_sizes, padded = geometry.out_sizes, geometry.padded_sizes
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    width = geometry.taps * channels
    weights = kernel.reshape(width, filters)
    batch, dtype = g.shape[0], g.dtype
    g_rows = np.ascontiguousarray(g).reshape(-1, filters)  # (N * prod(O), F)
    tap_major = channels <= im2col.TAP_MAJOR_CHANNELS
    ones = with_bias and x_padded is not None
    if x_padded is None:
        grad_weights = None
    else:  # dL/dW (T*C [+ 1], F) when tap-major, else transposed (F, T*C [+ 1]); the bias last
        shape = (width + ones, filters) if tap_major else (filters, width + ones)
        grad_weights = np.zeros(shape, dtype=dtype)
    if not need_input_grad:
        grad_x_padded = None
    elif tap_major:
        grad_x_padded = np.zeros((batch, channels, *padded), dtype=dtype)  # channels-first until the end
    else:
        grad_x_padded = np.zeros((batch, *padded, channels), dtype=dtype)
    if grad_weights is None and grad_x_padded is None:
        return None, None, None
    plan = im2col.blocks(batch, out_sizes, width)
    per_row = math.prod(out_sizes[1:])
    size = max(b.nc * b.hc for b in plan) * per_row * (width + ones)
    fused = x_padded is not None and im2col.fuses_last_axis(x_padded, geometry)
    source = im2col.channels_first(x_padded) if x_padded is not None and tap_major else None
    views = None
    if x_padded is not None and not tap_major:
        views = im2col.batch_views(x_padded, geometry, fused)

    def work(share):  # one worker thread's share; returns its part of dL/dW (or dL/dW^T)
        cols = im2col.workspace("cols", size, dtype)  # the block's columns, or their gradient
        acc = np.zeros_like(grad_weights) if grad_weights is not None else None
        part = np.empty_like(acc) if acc is not None else None
        for block in share:
            start = (block.n0 * out_sizes[0] + block.h0) * per_row
            g_block = g_rows[start : start + block.nc * block.hc * per_row]  # (rows, F)
            rows = g_block.shape[0]
            if acc is not None:
                mat = im2col.fill_columns(cols, x_padded, block, geometry, fused, source, ones, views)
                if tap_major:  # (T*C, rows) @ (rows, F), the contiguous columns on the left
                    np.matmul(mat.T, g_block, out=part)
                else:
                    # (F, rows) @ (rows, T*C): OpenBLAS runs cols^T @ g_block, the other orientation,
                    # much slower when the output is narrow (few filters)
                    np.matmul(g_block.T, mat, out=part)
                acc += part
            if grad_x_padded is None:
                continue
            if tap_major:
                dcols_t = cols[: rows * width].reshape(width, rows)
                np.matmul(weights, g_block.T, out=dcols_t)
                im2col.add_columns_tap_major(grad_x_padded, dcols_t, block, geometry)
            else:
                dcols = cols[: rows * width].reshape(rows, width)
                np.matmul(g_block, weights.T, out=dcols)
                im2col.add_columns(grad_x_padded, dcols, block, geometry)
        return acc

    # col2im adds overlapping windows: then no two workers may share a sample
    shares = im2col.split(plan, blas.workers(), disjoint=grad_x_padded is not None)
    for acc in blas.run_parallel([partial(work, share) for share in shares]):
        if acc is not None:
            grad_weights += acc
    grad_kernel = grad_bias = None
    if grad_weights is not None and tap_major:
        grad_kernel = np.ascontiguousarray(grad_weights[:width]).reshape(kernel.shape)
        grad_bias = grad_weights[width].copy() if ones else None
    elif grad_weights is not None:
        grad_kernel = np.ascontiguousarray(grad_weights[:, :width].T).reshape(kernel.shape)
        grad_bias = grad_weights[:, width].copy() if ones else None
    if grad_x_padded is not None and tap_major:
        grad_x_padded = np.moveaxis(grad_x_padded, 1, -1)  # (N, *P, C), a view
    return grad_kernel, grad_x_padded, grad_bias


def grouped_gradients(x_padded, g, kernel, geometry: ConvGeometry, need_input_grad):
    """Several groups G (im2col.forward_grouped's columns), per batch chunk:

        cols (G, M, T*Cg) as in the forward pass;  g_grouped (G, M, Fg)
        dL/dW   (G, T*Cg, Fg) += cols^T @ g_grouped              (skipped when x_padded is None)
        dcols   (G, M, T*Cg)   = g_grouped @ W^T, each tap's slice added into its window of dL/dx_padded

    Returns (dL/dkernel, dL/dx_padded), each None where not computed.
    """
    out_sizes, groups, taps = geometry.out_sizes, geometry.groups, geometry.taps
    per_group, filters = kernel.shape[-2], kernel.shape[-1]
    filters_per_group = filters // groups
    weights = kernel.reshape(taps * per_group, groups, filters_per_group).transpose(1, 0, 2)  # (G, T*Cg, Fg)
    per_sample = math.prod(out_sizes)
    batch, dtype = g.shape[0], g.dtype
    grad_weights = None
    if x_padded is not None:
        grad_weights = np.zeros((groups, taps * per_group, filters_per_group), dtype=dtype)
    grad_x_padded = None
    if need_input_grad:
        grad_x_padded = np.zeros((batch, *geometry.padded_sizes, groups * per_group), dtype=dtype)
    positions = geometry.tap_positions()
    chunk = im2col.batch_chunk(per_sample * taps * per_group * groups)
    for start in range(0, batch, chunk):
        rows = min(chunk, batch - start) * per_sample
        g_grouped = g[start : start + chunk].reshape(rows, groups, filters_per_group).transpose(1, 0, 2)
        if x_padded is not None:
            samples = x_padded[start : start + chunk]
            cols = np.empty((groups, rows, taps, per_group), dtype=dtype)
            for i, tap in enumerate(positions):
                tap_window = window(samples, tap, geometry)
                cols[:, :, i, :] = tap_window.reshape(rows, groups, per_group).transpose(1, 0, 2)
            cols_t = cols.reshape(groups, rows, taps * per_group).transpose(0, 2, 1)  # (G, T*Cg, M)
            grad_weights += np.matmul(cols_t, g_grouped)
        if need_input_grad:
            dcols = np.matmul(g_grouped, weights.transpose(0, 2, 1)).reshape(groups, rows, taps, per_group)
            target = grad_x_padded[start : start + chunk]
            for i, tap in enumerate(positions):
                tap_window = window(target, tap, geometry)  # a view: adds land in grad_x_padded
                tap_window += dcols[:, :, i, :].transpose(1, 0, 2).reshape(tap_window.shape)
    grad_kernel = None if grad_weights is None else grad_weights.transpose(1, 0, 2).reshape(kernel.shape)
    return grad_kernel, grad_x_padded


# --- flipped: the input gradient as a forward convolution --------------------------------


def flipped_input_gradient(g, kernel, geometry: ConvGeometry, forward: Callable, crop: bool):
    """Stride 1: dL/dx_padded (N, *P, C) as the forward convolution (``forward``, a formulation
    module's) of g padded by (K - 1) * d per side with the flipped kernel (*K, F, C); see the
    module docstring. With ``crop`` and zero padding whose amounts are at most (K - 1) * d, g is
    padded by (K - 1) * d - before (and after) instead, which gives dL/dx (N, *S, C) directly;
    other crops go through pad_backward.
    """
    rank = geometry.rank
    flipped = np.ascontiguousarray(kernel[(slice(None, None, -1),) * rank].swapaxes(-1, -2))  # (*K, F, C)
    reach = [(k - 1) * d for k, d in zip(geometry.kernel_size, geometry.dilations)]
    folded = (
        crop
        and geometry.padding_mode == "zeros"
        and all(b <= r and a <= r for (b, a), r in zip(geometry.pads, reach))
    )
    if folded:
        pads = tuple((r - b, r - a) for (b, a), r in zip(geometry.pads, reach))
        out_sizes = geometry.in_sizes
    else:
        pads, out_sizes = tuple((r, r) for r in reach), geometry.padded_sizes
    g_padded = padded_scratch(g, pads)  # (N, *O + 2 * reach, F) or as cropped
    flipped_geometry = ConvGeometry(
        kernel_size=geometry.kernel_size, strides=(1,) * rank, dilations=geometry.dilations, pads=pads,
        in_sizes=tuple(g.shape[1:-1]), out_sizes=tuple(out_sizes),
    )
    grad = forward(g_padded, flipped, None, flipped_geometry)
    if crop and not folded:
        grad = pad_backward(grad, geometry.pads, geometry.padding_mode, geometry.in_sizes)
    return grad


def padded_scratch(g, pads):
    """``pad(g, pads)`` with zeros, written into a reused :func:`im2col.workspace` buffer (scratch
    for this call only: the flipped input gradient's padded g, 25 MB on 128x24x24x64)."""
    if not any(b or a for b, a in pads):
        return g
    shape = (g.shape[0], *(s + b + a for s, (b, a) in zip(g.shape[1:-1], pads)), g.shape[-1])
    g_padded = im2col.workspace("padded", math.prod(shape), g.dtype).reshape(shape)
    if g_padded.size >= COMPILED_PAD_MIN and kernels.enabled(g, g_padded):
        return zero_pad_into(g, pads, g_padded)  # one compiled pass (0.69 against 1.64 ms, 128x24x24x64)
    for axis, (b, a) in enumerate(pads, start=1):  # zero the borders, then copy the interior
        if b:
            g_padded[(slice(None),) * axis + (slice(0, b),)] = 0
        if a:
            g_padded[(slice(None),) * axis + (slice(shape[axis] - a, None),)] = 0
    g_padded[(slice(None), *(slice(b, b + s) for s, (b, _) in zip(g.shape[1:-1], pads)), slice(None))] = g
    return g_padded


def flat_kernel_gradient(x_padded, g, kernel, geometry: ConvGeometry):
    """Stride 1, one group: dL/dkernel (*K, C, F) from ``flat``'s columns (flat.py),

        dL/dW (T*C, F) += cols^T (T*C, L) @ g_flat (L, F)   per band,

    where g_flat is the band of g laid on the padded grid's flat positions, zero at the
    positions that straddle an edge (the same ones in every band, so they stay zero).
    """
    out_sizes = geometry.out_sizes
    channels, filters = x_padded.shape[-1], kernel.shape[-1]
    taps = geometry.taps
    width = taps * channels
    layout = flat.bands(x_padded, geometry, width)

    def work(share):
        cols = im2col.workspace("cols", width * layout.longest, x_padded.dtype)
        g_flat = np.zeros((layout.longest, filters), dtype=g.dtype)
        acc = np.zeros((width, filters), dtype=g.dtype)
        part = np.empty_like(acc)
        for sample, h0, band_rows in share:
            length = layout.length(band_rows)
            by_tap = cols[: width * length].reshape(taps, channels, length)
            flat.fill_band(by_tap, layout, sample, h0, length)
            flat.band_grid(g_flat, layout, band_rows, out_sizes)[...] = g[sample, h0 : h0 + band_rows]
            np.matmul(by_tap.reshape(width, length), g_flat[:length], out=part)
            acc += part
        return acc

    grad_weights = np.zeros((width, filters), dtype=g.dtype)
    shares = im2col.split(layout.plan, blas.workers())
    for acc in blas.run_parallel([partial(work, share) for share in shares]):
        grad_weights += acc
    return grad_weights.reshape(kernel.shape)


# --- direct: broadcast products per tap ---------------------------------------------------


def direct_gradients(x_padded, g, kernel, geometry: ConvGeometry, need_input_grad):
    """One input channel per group, as direct.py; per tap t, with g_grouped = g viewed as
    (N, *O, G, F/G) and the window w_t (N, *O, G):

        dL/dkernel[t, 0, g*Fg + j]  = sum over n, o of w_t[n, o, g] * g_grouped[n, o, g, j]
        window_t of dL/dx_padded   += sum over j of g_grouped[..., g, j] * kernel[t, 0, g*Fg + j]

    Broadcast products and sums, no matrix product (1x512x512x1 -> 1: im2col's products
    would have one row or one column). Returns (dL/dkernel, dL/dx_padded), each None where
    not computed.
    """
    groups = geometry.groups
    filters = kernel.shape[-1]
    filters_per_group = filters // groups
    g_grouped = g.reshape(*g.shape[:-1], groups, filters_per_group)  # (N, *O, G, Fg)
    axes = tuple(range(geometry.rank + 1))
    grad_kernel = np.empty_like(kernel) if x_padded is not None else None
    grad_x_padded = None
    if need_input_grad:
        grad_x_padded = np.zeros((g.shape[0], *geometry.padded_sizes, groups), dtype=g.dtype)
    term = np.empty(g_grouped.shape, dtype=g.dtype) if x_padded is not None else None
    for tap in geometry.tap_positions():
        if x_padded is not None:
            tap_window = window(x_padded, tap, geometry)  # (N, *O, G)
            np.multiply(tap_window[..., None], g_grouped, out=term)
            grad_kernel[tap] = term.sum(axis=axes).reshape(1, filters)
        if need_input_grad:
            target = window(grad_x_padded, tap, geometry)  # a view: adds land in grad_x_padded
            weights = kernel[tap].reshape(groups, filters_per_group)
            if filters_per_group == 1:
                target += g_grouped[..., 0] * weights[:, 0]
            else:
                target += (g_grouped * weights).sum(axis=-1)
    return grad_kernel, grad_x_padded
