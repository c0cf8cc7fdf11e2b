"""im2col and col2im for one group, in cache-sized blocks: the copies behind ops/conv.py.

Layout (channels_last, as in ops/conv.py): the padded input ``xp`` is (N, *P, C), the
output (N, *O, F) and the kernel (*K, C, F). The columns of a block of output positions
are one matrix

    cols (rows, T * C),   T = prod(K),   cols[m, t * C + c] = xp[n, o * stride + t * dilation, c]

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
gradients back onto the input gradient, tap by tap.
"""
from __future__ import annotations

import math
import threading
from itertools import product
from typing import Iterator, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

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


def fuses_last_axis(xp: np.ndarray, dilations: tuple) -> bool:
    """Whether the last axis' taps can be read as one run of K_last * C numbers: no
    dilation there and the channels of neighbouring pixels adjacent in memory."""
    return dilations[-1] == 1 and xp.strides[-2] == xp.shape[-1] * xp.strides[-1]


def column_views(xp, block: Block, kernel_size, out_sizes, strides, dilations, fused: bool) -> Iterator:
    """(j, view) pairs: view j is (nc, hc, *O[1:], run) and fills cols[..., j, :].

    With ``fused`` the taps are those of every axis but the last and run = K_last * C
    (an as_strided view whose last axis walks K_last pixels' channels); otherwise every
    tap has its own view and run = C.
    """
    n = len(out_sizes)
    channels = xp.shape[-1]
    sub = xp[block.n0 : block.n0 + block.nc]
    first = block.h0 * strides[0]
    lead = kernel_size[:-1] if fused else kernel_size
    for j, tap in enumerate(product(*(range(k) for k in lead))):
        starts = [t * d for t, d in zip(tap, dilations)] + ([0] if fused else [])
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


def batch_views(xp, kernel_size, out_sizes, strides, dilations, fused: bool) -> list:
    """:func:`column_views` for the whole batch, made once per call: view j sliced to a block,
    ``views[j][n0 : n0 + nc, h0 : h0 + hc]``, is that block's view j (pass them to
    :func:`fill_columns` as ``views``). Basic slicing costs a fraction of a new ``as_strided``
    view per block and tap (each of which builds an array interface and a new array in
    Python), a cost that adds up over a training step's many small blocks."""
    whole = Block(0, xp.shape[0], 0, out_sizes[0])
    return [view for _, view in column_views(xp, whole, kernel_size, out_sizes, strides, dilations, fused)]


def tap_windows(src, block: Block, kernel_size, out_sizes, strides, dilations) -> Iterator:
    """(j, window) pairs for the channels-first ``src`` (N, C, *P): window j is the basic-slicing
    view (nc, C, hc, *O[1:]) of the block's samples that tap j reads (so writes land in ``src``)."""
    sub = src[block.n0 : block.n0 + block.nc]
    sizes = (block.hc, *out_sizes[1:])
    for j, tap in enumerate(product(*(range(k) for k in kernel_size))):
        starts = [t * d for t, d in zip(tap, dilations)]
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


def channels_first(xp: np.ndarray) -> np.ndarray:
    """A contiguous (N, C, *P) copy of the channels_last ``xp`` (N, *P, C): the source
    that :func:`fill_columns` reads tap-major columns from (pass it as ``source``)."""
    return np.ascontiguousarray(np.moveaxis(xp, -1, 1))


def fill_columns(cols, xp, block: Block, kernel_size, out_sizes, strides, dilations, fused: bool, source=None,
                 ones: bool = False, views=None):
    """Write the block's columns into ``cols``, a buffer of at least (rows, T * C) numbers
    (rows * (T * C + 1) with ``ones``); returns the (rows, T * C) matrix (a view of ``cols``).

    With at most ``TAP_MAJOR_CHANNELS`` channels the buffer holds the transpose,
    (T * C, rows), and the matrix returned is its transposed view: each tap's window is
    then copied in runs along the output's last axis instead of runs of only K_last * C
    numbers (9 for a 3x3 kernel on RGB). The windows are read from ``source``, the
    channels-first copy of ``xp`` (:func:`channels_first`, made once per call by the
    caller; a view of ``xp`` when None), so those runs are contiguous in the source too.
    BLAS reads either layout of the columns without a copy.

    ``ones``: the matrix gets one more column, all ones, so that a product with the
    kernel stacked on the bias adds the bias (with C = 1 the product is so small that a
    separate pass ``y += bias`` over the block's output would cost about as much).

    ``views``: :func:`batch_views` of ``xp`` (same ``fused``), sliced per block instead of
    building the block's views afresh (more than ``TAP_MAJOR_CHANNELS`` channels).
    """
    channels = xp.shape[-1]
    taps = math.prod(kernel_size)
    sizes = (block.nc, block.hc, *out_sizes[1:])
    rows = math.prod(sizes)
    width = taps * channels + ones
    if channels <= TAP_MAJOR_CHANNELS:
        src = np.moveaxis(xp, -1, 1) if source is None else source  # (N, C, *P)
        mat_t = cols[: rows * width].reshape(width, rows)
        by_tap = mat_t[: taps * channels].reshape(taps, channels, *sizes)
        for j, window in tap_windows(src, block, kernel_size, out_sizes, strides, dilations):
            if channels == 1:  # numpy copies the 3-D view faster than one with a unit axis
                by_tap[j, 0] = window[:, 0]
            else:
                by_tap[j] = window.swapaxes(0, 1)
        if ones:
            mat_t[-1] = 1
        return mat_t.T
    run = kernel_size[-1] * channels if fused else channels
    mat = cols[: rows * width].reshape(rows, width)
    # (nc, hc, *O[1:], views, run): mat's first T * C columns (all of them without ``ones``)
    itemsize = mat.strides[1]
    shape = (*sizes, taps * channels // run, run)
    steps = tuple(width * itemsize * math.prod(sizes[i + 1 :]) for i in range(len(sizes))) + (
        run * itemsize,
        itemsize,
    )
    grid = as_strided(mat, shape, steps)
    if views is None:
        for j, view in column_views(xp, block, kernel_size, out_sizes, strides, dilations, fused):
            grid[..., j, :] = view
    else:
        n_slice, h_slice = slice(block.n0, block.n0 + block.nc), slice(block.h0, block.h0 + block.hc)
        for j, view in enumerate(views):
            grid[..., j, :] = view[n_slice, h_slice]
    if ones:
        mat[:, -1] = 1
    return mat


def add_columns(grad_xp, dcols, block: Block, kernel_size, out_sizes, strides, dilations):
    """col2im, the adjoint of :func:`fill_columns`: add each tap's slice of the block's
    column gradients ``dcols`` (rows, T * C) into its window of ``grad_xp`` (N, *P, C).

    One view per tap (never the fused runs: those windows overlap, and an in-place add
    through overlapping views would lose updates).
    """
    channels = grad_xp.shape[-1]
    sizes = (block.nc, block.hc, *out_sizes[1:])
    grid = dcols.reshape(*sizes, math.prod(kernel_size), channels)
    for j, window in column_views(grad_xp, block, kernel_size, out_sizes, strides, dilations, False):
        window += grid[..., j, :]  # a basic-slicing view: the adds land in grad_xp


def add_columns_tap_major(grad_src, dcols_t, block: Block, kernel_size, out_sizes, strides, dilations):
    """col2im for the tap-major layout: add the block's column gradients ``dcols_t``
    (T * C, rows) into the channels-first input gradient ``grad_src`` (N, C, *P), tap by tap,
    in runs along the output's last axis (one of :func:`fill_columns`' tap-major copies in
    reverse: long runs, where channels_last :func:`add_columns` adds runs of only C <= 3
    numbers)."""
    channels = grad_src.shape[1]
    sizes = (block.nc, block.hc, *out_sizes[1:])
    by_tap = dcols_t.reshape(math.prod(kernel_size), channels, *sizes)
    for j, window in tap_windows(grad_src, block, kernel_size, out_sizes, strides, dilations):
        if channels == 1:
            window = window[:, 0]
            window += by_tap[j, 0]
        else:
            window = window.swapaxes(0, 1)  # (C, nc, hc, *O[1:]), still a view of grad_src
            window += by_tap[j]
