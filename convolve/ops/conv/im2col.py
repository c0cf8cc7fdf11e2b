"""The ``im2col`` formulation: columns of the kernel's taps, then one matrix product.

This module holds the column builders (im2col and its adjoint col2im, for one group, in
cache-sized blocks; the backward formulations in backward.py use them too) and the forward
``im2col`` formulation itself (:func:`forward`; several groups: :func:`forward_grouped`).

Layout (channels_last, as in the whole package): the padded input ``x_padded`` is (N, *P, C), the
output (N, *O, F) and the kernel (*K, C, F). The columns of a block of output positions
are one matrix

    cols (rows, T * C),   T = prod(K),   cols[m, t * C + c] = x_padded[n, o * stride + t * dilation, c]

for output position m = (n, o) of the block, in the row-major order of the kernel
reshaped to (T * C, F). So ``cols @ kernel.reshape(T * C, F)`` is the block's output.

Two things keep the copy cheap:

* **Runs along the last axis.** With no dilation on the last spatial axis, the K_last
  taps of that axis read K_last * C consecutive numbers of the input (the channels of
  K_last neighbouring pixels). So the copy is one strided view per tap of the *other*
  axes (3 views for a 3x3 kernel, not 9), each writing runs of K_last * C numbers.
* **Blocks that stay in cache.** Columns are built for a block of about
  ``BLOCK_ELEMENTS`` numbers (whole samples, or a band of the first output axis of one
  sample), multiplied straight away and overwritten by the next block, so the product
  reads them from cache instead of memory; a whole-batch cols matrix (tens of megabytes
  on the benchmark shapes) goes out to memory and back, and copying it cost more than
  the product itself.

:func:`blocks` plans the blocks, :func:`split` shares them among worker threads
(ops/blas.py: one single-threaded product per core), :func:`fill_columns` writes one
block's columns and :func:`add_columns` is the adjoint (col2im): it adds a block's column
gradients back onto the input gradient, tap by tap. They take the convolution's
:class:`~convolve.ops.conv.geometry.ConvGeometry` (kernel size, strides, dilations, output sizes).
"""
from __future__ import annotations

import math
import threading
from functools import partial
from itertools import product
from typing import Iterator, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import blas, kernels
from .epilogue import finish
from .geometry import ConvGeometry, window

#: about how many numbers a block's columns hold (4 MiB of float32: the L2 caches and a
#: slice of L3 of the machines measured; on the benchmark shapes, blocks of 1024 to 4096
#: rows ran at the product's own speed, whole-batch columns far below it)
BLOCK_ELEMENTS = 1 << 20
#: at most this many output positions per block, however narrow the columns: the kernel
#: gradient's product (F, rows) @ (rows, T * C) has the block's rows as its inner
#: dimension, and OpenBLAS slows down on long inner dimensions with small outputs
#: (ops/blas.py); with T * C = 9 an uncapped block would hold 116,000 rows
BLOCK_ROWS = 8192
#: up to this many input channels the columns are laid out tap-major (see fill_columns)
TAP_MAJOR_CHANNELS = 3


#: most bytes of scratch buffers :func:`workspace` keeps per thread between calls
WORKSPACE_BYTES = 64 << 20

_local = threading.local()


def workspace(name: str, size: int, dtype) -> np.ndarray:
    """A 1-D scratch buffer of ``size`` numbers of ``dtype``, kept per thread and ``name`` between calls.

    A fresh multi-megabyte ``np.empty`` is paid for in page faults on its first touch each
    call (malloc hands big blocks back to the OS); reusing the buffer avoids them. Only for
    scratch that never leaves the call (columns, a padded gradient): never for an array
    returned to the caller, who may modify it in place. The same ``name`` must not be used
    twice at once in one thread. Buffers beyond ``WORKSPACE_BYTES`` per thread are not kept.
    Its contents are whatever the last user left.
    """
    dtype = np.dtype(dtype)
    cache = getattr(_local, "buffers", None)
    if cache is None:
        cache = _local.buffers = {}
    key = (name, dtype)
    buf = cache.get(key)
    if buf is not None and buf.size >= size:
        return buf[:size]
    if buf is not None:
        del cache[key]
    held = sum(b.nbytes for b in cache.values())
    buf = np.empty(size, dtype=dtype)
    if held + buf.nbytes <= WORKSPACE_BYTES:
        cache[key] = buf
    return buf


class Block(NamedTuple):
    """Samples n0 : n0 + nc and, on the first output axis, h0 : h0 + hc."""

    n0: int
    nc: int
    h0: int
    hc: int


def blocks(batch: int, out_sizes: tuple, row_elements: int, limit: int | None = None) -> list:
    """Blocks of output positions whose columns hold about ``limit`` numbers (and at most
    ``BLOCK_ROWS`` positions).

    ``row_elements`` is the numbers per output position (T * C for the columns).
    Whole samples when one fits (several per block), else bands of the first output
    axis of one sample (at least one index of that axis per block).
    """
    limit = BLOCK_ELEMENTS if limit is None else limit
    rows = max(1, min(limit // max(row_elements, 1), BLOCK_ROWS))  # output positions per block
    per_sample = math.prod(out_sizes)
    if rows >= per_sample:
        nb = min(batch, rows // max(per_sample, 1))
        return [Block(n0, min(nb, batch - n0), 0, out_sizes[0]) for n0 in range(0, batch, nb)]
    band = max(1, rows // max(math.prod(out_sizes[1:]), 1))
    return [
        Block(n0, 1, h0, min(band, out_sizes[0] - h0))
        for n0 in range(batch)
        for h0 in range(0, out_sizes[0], band)
    ]


def split(plan: list, parts: int, disjoint: bool = False) -> list:
    """Share ``plan``'s blocks among ``parts`` workers, as a list of non-empty block lists.

    Interleaved (block i to worker i % parts), which balances the work, unless
    ``disjoint``: then each worker gets a contiguous run of whole samples, so no two
    workers ever write the same sample (col2im adds overlapping windows into it). A
    single sample cut into bands then stays with one worker.
    """
    if parts <= 1 or len(plan) <= 1:
        return [plan]
    if not disjoint:
        return [plan[i::parts] for i in range(min(parts, len(plan)))]
    groups = []  # blocks that share a sample: the bands of one sample, or one multi-sample block
    for block in plan:
        if groups and groups[-1][-1].n0 == block.n0:
            groups[-1].append(block)
        else:
            groups.append([block])
    shares, done = [[] for _ in range(min(parts, len(groups)))], 0
    for group in groups:  # fill worker k up to (k + 1) / parts of the blocks
        k = min(len(shares) - 1, done * len(shares) // len(plan))
        shares[k].extend(group)
        done += len(group)
    return [share for share in shares if share]


def fuses_last_axis(x_padded: np.ndarray, geometry: ConvGeometry) -> bool:
    """Whether the last axis' taps can be read as one run of K_last * C numbers: no
    dilation there and the channels of neighbouring pixels adjacent in memory."""
    return geometry.dilations[-1] == 1 and x_padded.strides[-2] == x_padded.shape[-1] * x_padded.strides[-1]


def column_views(x_padded, block: Block, geometry: ConvGeometry, fused: bool) -> Iterator:
    """(j, view) pairs: view j is (nc, hc, *O[1:], run) and fills cols[..., j, :].

    With ``fused`` the taps are those of every axis but the last and run = K_last * C
    (an as_strided view whose last axis walks K_last pixels' channels); otherwise every
    tap has its own view and run = C.
    """
    kernel_size, out_sizes, strides = geometry.kernel_size, geometry.out_sizes, geometry.strides
    n = len(out_sizes)
    channels = x_padded.shape[-1]
    sub = x_padded[block.n0 : block.n0 + block.nc]
    first = block.h0 * strides[0]
    lead = kernel_size[:-1] if fused else kernel_size
    for j, tap in enumerate(product(*(range(k) for k in lead))):
        starts = [t * d for t, d in zip(tap, geometry.dilations)] + ([0] if fused else [])
        starts[0] += first
        sizes = (block.hc, *out_sizes[1:])
        if not fused:
            yield (
                j,
                sub[
                    (
                        slice(None),
                        *(slice(b, b + (o - 1) * s + 1, s) for b, o, s in zip(starts, sizes, strides)),
                    )
                ],
            )
            continue
        corner = sub[(slice(None), *(slice(b, None) for b in starts))]
        shape = (block.nc, *sizes, kernel_size[-1] * channels)
        steps = (
            corner.strides[0],
            *(s * st for s, st in zip(strides, corner.strides[1 : n + 1])),
            corner.strides[-1],
        )
        yield j, as_strided(corner, shape, steps, writeable=False)


def batch_views(x_padded, geometry: ConvGeometry, fused: bool) -> list:
    """:func:`column_views` for the whole batch, made once per call: view j sliced to a block,
    ``views[j][n0 : n0 + nc, h0 : h0 + hc]``, is that block's view j (pass them to
    :func:`fill_columns` as ``views``). Basic slicing costs a fraction of a new ``as_strided``
    view per block and tap (each of which builds an array interface and a new array in
    Python), a cost that adds up over a training step's many small blocks."""
    whole = Block(0, x_padded.shape[0], 0, geometry.out_sizes[0])
    return [view for _, view in column_views(x_padded, whole, geometry, fused)]


def tap_windows(src, block: Block, geometry: ConvGeometry) -> Iterator:
    """(j, window) pairs for the channels-first ``src`` (N, C, *P): window j is the basic-slicing
    view (nc, C, hc, *O[1:]) of the block's samples that tap j reads (so writes land in ``src``)."""
    strides = geometry.strides
    sub = src[block.n0 : block.n0 + block.nc]
    sizes = (block.hc, *geometry.out_sizes[1:])
    for j, tap in enumerate(geometry.tap_positions()):
        starts = [t * d for t, d in zip(tap, geometry.dilations)]
        starts[0] += block.h0 * strides[0]
        yield (
            j,
            sub[
                (
                    slice(None),
                    slice(None),
                    *(slice(b, b + (o - 1) * s + 1, s) for b, o, s in zip(starts, sizes, strides)),
                )
            ],
        )


def channels_first(x_padded: np.ndarray) -> np.ndarray:
    """A contiguous (N, C, *P) copy of the channels_last ``x_padded`` (N, *P, C): the source
    that :func:`fill_columns` reads tap-major columns from (pass it as ``source``)."""
    return np.ascontiguousarray(np.moveaxis(x_padded, -1, 1))


def fill_columns(
    cols, x_padded, block: Block, geometry: ConvGeometry, fused: bool, source=None, ones=False, views=None
):
    """Write the block's columns into ``cols``, a buffer of at least (rows, T * C) numbers
    (rows * (T * C + 1) with ``ones``); returns the (rows, T * C) matrix (a view of ``cols``).

    With at most ``TAP_MAJOR_CHANNELS`` channels the buffer holds the transpose,
    (T * C, rows), and the matrix returned is its transposed view: each tap's window is
    then copied in runs along the output's last axis instead of runs of only K_last * C
    numbers (9 for a 3x3 kernel on RGB). The windows are read from ``source``, the
    channels-first copy of ``x_padded`` (:func:`channels_first`, made once per call by the
    caller; a view of ``x_padded`` when None), so those runs are contiguous in the source too.
    BLAS reads either layout of the columns without a copy.

    ``ones``: the matrix gets one more column, all ones, so that a product with the
    kernel stacked on the bias adds the bias (with C = 1 the product is so small that a
    separate pass ``y += bias`` over the block's output would cost about as much).

    ``views``: :func:`batch_views` of ``x_padded`` (same ``fused``), sliced per block instead of
    building the block's views afresh (more than ``TAP_MAJOR_CHANNELS`` channels).
    """
    channels, kernel_size = x_padded.shape[-1], geometry.kernel_size
    taps = geometry.taps
    sizes = (block.nc, block.hc, *geometry.out_sizes[1:])
    rows = math.prod(sizes)
    width = taps * channels + ones
    if channels <= TAP_MAJOR_CHANNELS:
        src = np.moveaxis(x_padded, -1, 1) if source is None else source  # (N, C, *P)
        mat_t = cols[: rows * width].reshape(width, rows)
        by_tap = mat_t[: taps * channels].reshape(taps, channels, *sizes)
        for j, tap_window in tap_windows(src, block, geometry):
            if channels == 1:  # numpy copies the 3-D view faster than one with a unit axis
                by_tap[j, 0] = tap_window[:, 0]
            else:
                by_tap[j] = tap_window.swapaxes(0, 1)
        if ones:
            mat_t[-1] = 1
        return mat_t.T
    run = kernel_size[-1] * channels if fused else channels
    mat = cols[: rows * width].reshape(rows, width)
    if fused and len(kernel_size) == 2 and kernels.enabled(x_padded, mat):
        return fill_compiled(mat, x_padded, block, geometry, ones)
    # (nc, hc, *O[1:], views, run): mat's first T * C columns (all of them without ``ones``)
    itemsize = mat.strides[1]
    shape = (*sizes, taps * channels // run, run)
    steps = tuple(width * itemsize * math.prod(sizes[i + 1 :]) for i in range(len(sizes))) + (
        run * itemsize,
        itemsize,
    )
    grid = as_strided(mat, shape, steps)
    if views is None:
        for j, view in column_views(x_padded, block, geometry, fused):
            grid[..., j, :] = view
    else:
        n_slice, h_slice = slice(block.n0, block.n0 + block.nc), slice(block.h0, block.h0 + block.hc)
        for j, view in enumerate(views):
            grid[..., j, :] = view[n_slice, h_slice]
    if ones:
        mat[:, -1] = 1
    return mat


def fill_compiled(mat, x_padded, block: Block, geometry: ConvGeometry, ones: bool):
    """:func:`fill_columns`' 2-D, fused-runs case by the compiled ``ops/kernels/columns.py``
    (1.4-1.6x faster than the strided copies); ``mat`` (rows, width) and ``x_padded`` C-contiguous."""
    from ..kernels import columns  # here: the first call imports Numba

    batch, _, padded_width, channels = x_padded.shape
    rows_view = x_padded.reshape(batch, x_padded.shape[1], padded_width * channels)  # (N, PH, PW * C)
    columns.fill_columns_2d(
        rows_view, geometry.kernel_size[0], geometry.kernel_size[1] * channels,
        (geometry.strides[0], geometry.strides[1] * channels), geometry.dilations[0],
        (block.n0, block.nc, block.h0, block.hc), geometry.out_sizes[1], ones, mat,
    )
    return mat


def add_columns(grad_x_padded, dcols, block: Block, geometry: ConvGeometry):
    """col2im, the adjoint of :func:`fill_columns`: add each tap's slice of the block's
    column gradients ``dcols`` (rows, T * C) into its window of ``grad_x_padded`` (N, *P, C).

    One view per tap (never the fused runs: those windows overlap, and an in-place add
    through overlapping views would lose updates).
    """
    channels = grad_x_padded.shape[-1]
    sizes = (block.nc, block.hc, *geometry.out_sizes[1:])
    grid = dcols.reshape(*sizes, geometry.taps, channels)
    for j, tap_window in column_views(grad_x_padded, block, geometry, False):
        tap_window += grid[..., j, :]  # a basic-slicing view: the adds land in grad_x_padded


def add_columns_tap_major(grad_source, dcols_t, block: Block, geometry: ConvGeometry):
    """col2im for the tap-major layout: add the block's column gradients ``dcols_t``
    (T * C, rows) into the channels-first input gradient ``grad_source`` (N, C, *P), tap by tap,
    in runs along the output's last axis (one of :func:`fill_columns`' tap-major copies in
    reverse: long runs, where channels_last :func:`add_columns` adds runs of only C <= 3
    numbers)."""
    channels = grad_source.shape[1]
    sizes = (block.nc, block.hc, *geometry.out_sizes[1:])
    by_tap = dcols_t.reshape(geometry.taps, channels, *sizes)
    for j, tap_window in tap_windows(grad_source, block, geometry):
        if channels == 1:
            tap_window = tap_window[:, 0]
            tap_window += by_tap[j, 0]
        else:
            tap_window = tap_window.swapaxes(0, 1)  # (C, nc, hc, *O[1:]), still a view of grad_source
            tap_window += by_tap[j]


# --- the forward formulation -------------------------------------------------------------


def forward(x_padded, kernel, bias, geometry: ConvGeometry, activation=None):
    """y (N, *O, F), a new array: columns (rows, T * C) per block of output positions, then one
    product, then ``activation`` on the block's rows while in cache (epilogue.py).

    One group: for each block cols (rows, T*C) @ kernel (T*C, F) -> y's rows (rows, F), written
    in place. The bias rides in the product: cols get a column of ones and the kernel the bias
    as one more row, which saves a separate ``y += bias`` pass over each block's output (with
    one input channel the product is so small that such a pass would cost about as much).
    Several groups go to :func:`forward_grouped`.
    """
    if geometry.groups > 1:
        return forward_grouped(x_padded, kernel, bias, geometry, activation)
    out_sizes = geometry.out_sizes
    width, filters = geometry.taps * kernel.shape[-2], kernel.shape[-1]  # T * C, F
    weights = kernel.reshape(width, filters)
    ones = bias is not None  # the bias as one more row of weights, times a column of ones in cols
    if ones:
        weights = np.concatenate([weights, bias.reshape(1, filters).astype(weights.dtype, copy=False)])
    y = np.empty((x_padded.shape[0], *out_sizes, filters), dtype=x_padded.dtype)
    y_rows = y.reshape(-1, filters)  # (N * prod(O), F), a view
    fused = fuses_last_axis(x_padded, geometry)
    source = channels_first(x_padded) if kernel.shape[-2] <= TAP_MAJOR_CHANNELS else None
    views = None if source is not None else batch_views(x_padded, geometry, fused)
    plan = blocks(x_padded.shape[0], out_sizes, width)
    per_row = math.prod(out_sizes[1:])
    size = max(b.nc * b.hc for b in plan) * per_row * (width + ones)

    def work(share):  # one worker thread's share of the blocks
        cols = workspace("cols", size, x_padded.dtype)  # reused by each of its blocks, and by later calls
        for block in share:
            mat = fill_columns(cols, x_padded, block, geometry, fused, source, ones, views)
            start = (block.n0 * out_sizes[0] + block.h0) * per_row
            out = y_rows[start : start + mat.shape[0]]
            np.matmul(mat, weights, out=out)  # its rows of y, with bias
            finish(out, activation)

    blas.run_parallel([partial(work, share) for share in split(plan, blas.workers())])
    return y


#: Workspace of the grouped formulation (forward and backward), in array elements (64 MiB of
#: float32): it takes as many samples at a time as fit in it (at least one). One group's
#: columns come in smaller blocks (``BLOCK_ELEMENTS``).
WORKSPACE_ELEMENTS = 1 << 24


def batch_chunk(per_sample: int) -> int:
    """How many samples fit a workspace of ``WORKSPACE_ELEMENTS`` at ``per_sample`` numbers each."""
    return max(1, WORKSPACE_ELEMENTS // max(per_sample, 1))


def forward_grouped(x_padded, kernel, bias, geometry: ConvGeometry, activation=None):
    """Several groups G: columns (M, G, T, C/G) per batch chunk, then one batched product.

    cols[m, g, t, c] = window_t[m, g * C/G + c], one strided copy per tap (the window is
    written straight into cols viewed as (Nc, *O, G, T, C/G)). Kernel (*K, C/G, F) is
    regrouped to (G, T * C/G, F/G); the product (G, M, T*C/G) @ (G, T*C/G, F/G) -> (G, M, F/G)
    is laid back as (M, F).
    """
    out_sizes, groups, taps = geometry.out_sizes, geometry.groups, geometry.taps
    per_group, filters = kernel.shape[-2], kernel.shape[-1]
    filters_per_group = filters // groups
    weights = kernel.reshape(taps * per_group, groups, filters_per_group).transpose(1, 0, 2)  # (G, T*Cg, Fg)
    batch = x_padded.shape[0]
    per_sample = math.prod(out_sizes)
    y = np.empty((batch, *out_sizes, filters), dtype=x_padded.dtype)
    chunk = batch_chunk(per_sample * taps * per_group * groups)
    for start in range(0, batch, chunk):
        samples = x_padded[start : start + chunk]
        rows = samples.shape[0] * per_sample
        cols = np.empty((samples.shape[0], *out_sizes, groups, taps, per_group), dtype=x_padded.dtype)
        for i, tap in enumerate(geometry.tap_positions()):
            tap_window = window(samples, tap, geometry)  # (Nc, *O, C)
            # splitting the last axis is a view
            cols[..., i, :] = tap_window.reshape(*tap_window.shape[:-1], groups, per_group)
        grouped = np.matmul(cols.reshape(rows, groups, taps * per_group).transpose(1, 0, 2), weights)
        out = y[start : start + chunk]
        out.reshape(rows, groups, filters_per_group)[...] = grouped.transpose(1, 0, 2)
        if bias is not None:
            out += bias
        finish(out, activation)
    return y
