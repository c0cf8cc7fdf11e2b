"""The ``winograd2`` and ``winograd4`` formulations: Winograd F(m x m, 3 x 3), m = 2 or 4
(Lavin & Gray, 2015).

They apply to 2-D convolutions with a 3x3 kernel, stride 1, dilation 1 and one group. The output
is cut into tiles of m x m positions; tile (th, tw) of sample n reads the alpha x alpha window d
(alpha = m + 2) of the padded input from (th * m, tw * m) on, and

    Y = A^T [ (G w G^T) (.) (B^T d B) ] A        (.) the product per Winograd point xi = (i, j)

with B^T (alpha, alpha), G (alpha, 3) and A^T (m, alpha) the matrices of F(m, 3) below. Summed
over the input channels, the products per point are one matrix product: with
U[xi] = (G w G^T)[xi] (C, F) and V[xi] (tiles, C) the transformed input tiles,
M[xi] = V[xi] @ U[xi] (tiles, F), and then Y = A^T M A per tile. That is alpha^2 products of
inner size C in place of 9 (im2col's one product of inner size 9 C) for every m^2 outputs:
2.25x fewer multiplications for m = 2, 4x for m = 4. Edge tiles read zeros past the padded
input, and their outputs past y's edge are dropped.

The transforms are what costs: written as whole-tensor NumPy passes they took 4x the
im2col formulation's time (the issue's measurement). Here the tiles go in blocks of a few
hundred (``BLOCK_ELEMENTS``), each block transformed, multiplied and transformed back while it
is in cache, and the transforms are compiled loops (``ops/kernels/winograd.py``) that transform
one tile at a time; the blocks are shared over ``ops.blas.run_parallel``'s workers as in
im2col.py. The NumPy transforms here (tensordots over a block of tiles) are the reference and
the fallback when the compiled kernels are off (``kernels.enabled``).

Gradients, by adjointness with the same transforms (backward.py runs them):

    kernel:  Mg[xi] = (A G_y A^T)[xi] per tile (G_y the tile's m x m output gradient, zeros past
             the edge); dU[xi] = sum over tiles of V[xi]^T @ Mg[xi] (C, F); dw = G^T dU G
    input:   a forward Winograd convolution of the padded output gradient with the flipped
             kernel, as the ``flipped`` formulation does with im2col (backward.flipped_input_gradient)

Error. The transforms are exact in float32 for m = 2 (entries 0, +-1, +-1/2). For m = 4 the
entries reach 8 and 1/24 and the points' products cancel, so the float32 error grows with the
channels summed. Measured on the benchmark data (benchmarks/conv.py, against float64,
tests/helpers.relative_error): F(2x2) at most 6e-7 on output, input and kernel gradients;
F(4x4) 4e-6 to 7e-6 with 32 and 64 channels, 1.1e-5 (output) and 1.5e-5 (input gradient) with
256. F(4x4)'s documented float32 bound is therefore 1e-4 (``ERROR_BOUND``), and the chooser
takes it only up to 64 channels. In float64 both stay below 3e-14.
"""
from __future__ import annotations

from functools import partial

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import blas, kernels
from . import im2col
from .geometry import ConvGeometry

#: (B^T, G, A^T) of F(m, 3) for m = 2 and 4 (Lavin & Gray, "Fast algorithms for convolutional
#: neural networks", 2015), in float64
MATRICES = {
    2: (
        np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64),
        np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64),
    ),
    4: (
        np.array(
            [
                [4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1],
            ],
            dtype=np.float64,
        ),
        np.array(
            [
                [1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1],
            ]
        ),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                 dtype=np.float64),
    ),
}
#: the formulation's name for each tile size
NAMES = {2: "winograd2", 4: "winograd4"}
#: documented float32 relative error bound (tests/helpers.relative_error) per tile size
ERROR_BOUND = {2: 1e-5, 4: 1e-4}
#: about how many numbers a block's transformed tiles and products hold together,
#: alpha^2 * tiles * (C + F): 2 MiB of float32, within the L2 and L3 slices of the machines measured
BLOCK_ELEMENTS = 1 << 19
#: but at least this many times C * F / (C + F) tiles per block: each block's products read all of
#: U (alpha^2 * C * F numbers), and with 256 -> 256 channels a 2 MiB block held 64 tiles, so U (4 to
#: 9 MiB) was read from memory once per 64 tiles, more traffic than the data's own (yet never so
#: many that a worker would get no block)
MIN_TILES_PER_WEIGHT = 2


def applies(kernel_size, strides, groups: int, dilations=None) -> bool:
    """Whether Winograd F(m x m, 3 x 3) computes a convolution of this shape: 2-D, 3x3, stride 1,
    dilation 1 (None: not dilated), one group."""
    return (
        tuple(kernel_size) == (3, 3)
        and all(s == 1 for s in strides)
        and groups == 1
        and (dilations is None or all(d == 1 for d in dilations))
    )


def tile_counts(out_sizes, m: int) -> tuple:
    """(T_h, T_w) = (ceil(O_h / m), ceil(O_w / m))."""
    return tuple(-(-o // m) for o in out_sizes)


def kernel_transform(kernel, m: int):
    """U (alpha^2, C, F) = G w G^T per (c, f), in w's dtype: two products over the 3 x 3 taps
    with (C * F)-long rows (an einsum in float64 took 7 ms on 256 -> 256 channels; this 0.5 ms).

    BLAS single-threaded (ops/blas.py), as all of this formulation's products: a product on
    OpenBLAS' own threads leaves them spinning for a while afterwards, and the blocks that
    follow on ``run_parallel``'s workers then shared the two cores with them (the forward ran
    no faster on 2 threads than on 1 until this was done)."""
    g = MATRICES[m][1].astype(kernel.dtype)
    alpha = m + 2
    with blas._single_threaded_blas():
        half = (g @ kernel.reshape(3, -1)).reshape(alpha, 3, -1)  # (i, b, C * F) = sum_a G[i, a] w[a, b]
        return np.matmul(g, half).reshape(alpha * alpha, *kernel.shape[2:])  # (i, j, C * F)


def kernel_transform_adjoint(du, m: int):
    """dw (3, 3, C, F) = G^T dU G, the adjoint of :func:`kernel_transform`, in dU's dtype."""
    g = MATRICES[m][1].astype(du.dtype)
    alpha = m + 2
    with blas._single_threaded_blas():
        half = np.matmul(g.T, du.reshape(alpha, alpha, -1))  # (i, b, C * F) = sum_j dU[i, j] G[j, b]
        return (g.T @ half.reshape(alpha, -1)).reshape(3, 3, *du.shape[1:])


class Layout:
    """One call's tiles, blocks and transforms: compiled (``ops/kernels/winograd.py``) or NumPy."""

    def __init__(self, batch: int, out_sizes, m: int, channels: int, filters: int, dtype, compiled: bool):
        self.m, self.alpha = m, m + 2
        self.out_sizes = tuple(out_sizes)
        self.tiles_h, self.tiles_w = tile_counts(out_sizes, m)
        self.dtype = np.dtype(dtype)
        self.compiled = compiled
        bt, _, at = MATRICES[m]
        self.bt, self.at = bt.astype(self.dtype), at.astype(self.dtype)
        # blocks of tiles: whole samples, or bands of tile rows of one sample (im2col's planner)
        grid, per_tile = (self.tiles_h, self.tiles_w), self.alpha ** 2 * (channels + filters)
        fewest = MIN_TILES_PER_WEIGHT * channels * filters // (channels + filters)
        share = -(-batch * self.tiles_h * self.tiles_w // blas.workers())  # but a block for each worker
        self.plan = im2col.blocks(batch, grid, per_tile, max(BLOCK_ELEMENTS, min(fewest, share) * per_tile))
        self.longest = max(b.nc * b.hc for b in self.plan) * self.tiles_w

    def span(self, block) -> tuple:
        """(first tile, tile count) of an im2col.Block in tile coordinates."""
        first = (block.n0 * self.tiles_h + block.h0) * self.tiles_w
        return first, block.nc * block.hc * self.tiles_w

    def buffer(self, name: str, channels: int, count: int):
        """A per-thread (alpha^2, count, channels) scratch matrix stack (im2col.workspace)."""
        size = self.alpha ** 2 * self.longest * channels
        return im2col.workspace(name, size, self.dtype)[: self.alpha ** 2 * count * channels].reshape(
            self.alpha ** 2, count, channels
        )

    # --- the three transforms, each for one block of tiles ---

    def input_transform(self, source, block, v) -> None:
        """v (alpha^2, count, C) = B^T d B of the block's tiles. ``source``: with the compiled kernels
        the padded input (N, P_h, P_w, C), C-contiguous; else :meth:`numpy_tiles` of it."""
        first, _ = self.span(block)
        if self.compiled:
            from ..kernels import winograd as compiled

            compiled.input_transform(source, self.bt, self.m, self.tiles_h, self.tiles_w, first, v)
            return
        d = source[block.n0 : block.n0 + block.nc, block.h0 : block.h0 + block.hc]  # (nc, hc, T_w, a, a, C)
        half = np.tensordot(self.bt, d, axes=(1, 3))  # (i, nc, hc, T_w, l, C)
        full = np.tensordot(half, self.bt, axes=(4, 1))  # (i, nc, hc, T_w, C, j)
        v.reshape(self.alpha, self.alpha, *d.shape[:3], d.shape[-1])[...] = np.moveaxis(full, -1, 1)

    def numpy_tiles(self, x_padded):
        """The (N, T_h, T_w, alpha, alpha, C) view of overlapping tiles of x_padded, padded with zeros
        at the end up to (T_h * m + 2, T_w * m + 2) (the NumPy transforms' source)."""
        m, alpha = self.m, self.alpha
        extra = [(0, t * m + 2 - p) for t, p in zip((self.tiles_h, self.tiles_w), x_padded.shape[1:3])]
        grid = np.pad(x_padded, ((0, 0), *extra, (0, 0)))
        n, h, w, c = grid.strides
        shape = (grid.shape[0], self.tiles_h, self.tiles_w, alpha, alpha, grid.shape[3])
        return as_strided(grid, shape, (n, h * m, w * m, h, w, c), writeable=False)

    def output_transform(self, mm, bias, block, y) -> None:
        """y's outputs of the block's tiles = A^T M A (+ bias), cropped at y's edges."""
        first, count = self.span(block)
        if self.compiled:
            from ..kernels import winograd as compiled

            has_bias = bias is not None
            bias_ = bias if has_bias else mm[0, 0]
            compiled.output_transform(mm, self.at, bias_, has_bias, self.tiles_h, self.tiles_w, first, y)
            return
        m, alpha = self.m, self.alpha
        grid = mm.reshape(alpha, alpha, block.nc, block.hc, self.tiles_w, mm.shape[-1])
        half = np.tensordot(self.at, grid, axes=(1, 0))  # (i, l, nc, hc, T_w, F)
        full = np.tensordot(half, self.at, axes=(1, 1))  # (i, nc, hc, T_w, F, j)
        out = full.transpose(1, 2, 0, 3, 5, 4).reshape(block.nc, block.hc * m, self.tiles_w * m, -1)
        rows = min(block.hc * m, self.out_sizes[0] - block.h0 * m)
        target = y[block.n0 : block.n0 + block.nc, block.h0 * m : block.h0 * m + rows]
        target[...] = out[:, :rows, : self.out_sizes[1]]
        if bias is not None:
            target += bias

    def output_adjoint(self, g, block, mm) -> None:
        """mm (alpha^2, count, F) = A G_y A^T of the block's tiles of g (N, O_h, O_w, F)."""
        first, _ = self.span(block)
        if self.compiled:
            from ..kernels import winograd as compiled

            compiled.output_adjoint(g, self.at, self.tiles_h, self.tiles_w, first, mm)
            return
        m = self.m
        window = np.zeros((block.nc, block.hc * m, self.tiles_w * m, g.shape[-1]), dtype=g.dtype)
        rows = min(block.hc * m, self.out_sizes[0] - block.h0 * m)
        start = block.h0 * m
        window[:, :rows, : self.out_sizes[1]] = g[block.n0 : block.n0 + block.nc, start : start + rows]
        gt = window.reshape(block.nc, block.hc, m, self.tiles_w, m, -1)
        half = np.tensordot(self.at, gt, axes=(0, 2))  # (k, nc, hc, T_w, j, F)
        full = np.tensordot(half, self.at, axes=(4, 0))  # (k, nc, hc, T_w, F, l)
        grid = mm.reshape(self.alpha, self.alpha, block.nc, block.hc, self.tiles_w, -1)
        grid[...] = np.moveaxis(full, -1, 1)


def layout_for(x_padded, out_sizes, m: int, channels: int, filters: int, *arrays):
    """(Layout, source): the compiled kernels when ``kernels.enabled`` for the data (then
    ``source`` is the C-contiguous padded input), else the NumPy transforms (the tiles view)."""
    compiled = kernels.enabled(*arrays) and type(x_padded) is np.ndarray
    layout = Layout(x_padded.shape[0], out_sizes, m, channels, filters, x_padded.dtype, compiled)
    source = np.ascontiguousarray(x_padded) if compiled else layout.numpy_tiles(x_padded)
    return layout, source


def forward(x_padded, kernel, bias, geometry: ConvGeometry, m: int = 2):
    """y (N, O_h, O_w, F), a new array. Per block of tiles (one worker's share of the blocks):
    V = B^T d B (alpha^2, tiles, C); M = V @ U (alpha^2 products (tiles, C) @ (C, F)); y's tiles
    = A^T M A + bias."""
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    dtype = x_padded.dtype
    u = kernel_transform(kernel.astype(dtype, copy=False), m)  # (alpha^2, C, F)
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=dtype)
    y = np.empty((x_padded.shape[0], *geometry.out_sizes, filters), dtype=dtype)
    layout, source = layout_for(x_padded, geometry.out_sizes, m, channels, filters, y, u)

    def work(share):
        for block in share:
            _, count = layout.span(block)
            v = layout.buffer("winograd-v", channels, count)
            mm = layout.buffer("winograd-m", filters, count)
            layout.input_transform(source, block, v)
            np.matmul(v, u, out=mm)
            layout.output_transform(mm, bias, block, y)

    blas.run_parallel([partial(work, share) for share in im2col.split(layout.plan, blas.workers())])
    return y


def forward2(x_padded, kernel, bias, geometry: ConvGeometry):
    """``winograd2``: :func:`forward` with F(2x2, 3x3)."""
    return forward(x_padded, kernel, bias, geometry, m=2)


def forward4(x_padded, kernel, bias, geometry: ConvGeometry):
    """``winograd4``: :func:`forward` with F(4x4, 3x3)."""
    return forward(x_padded, kernel, bias, geometry, m=4)


def kernel_gradient(x_padded, g, kernel, geometry: ConvGeometry, m: int = 2, with_bias: bool = False):
    """(dL/dkernel (3, 3, C, F), dL/dbias (F,) or None) from the padded input (N, P_h, P_w, C) and
    dL/dy ``g`` (N, O_h, O_w, F): per block, V = B^T d B and Mg = A G_y A^T, dU[xi] += V[xi]^T @
    Mg[xi] (C, F); then dw = G^T dU G. ``with_bias``: dL/dbias too, as products of the block's rows
    of g with ones on the same workers (a separate backward.bias_gradient would run on BLAS' own
    threads, whose spinning afterwards slowed the next call's blocks, see kernel_transform)."""
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    dtype = x_padded.dtype
    g = np.ascontiguousarray(g, dtype=dtype)
    layout, source = layout_for(x_padded, geometry.out_sizes, m, channels, filters, g)
    alpha2 = layout.alpha ** 2

    g_rows = g.reshape(-1, filters)
    per_band = geometry.out_sizes[1] * m  # rows of g per tile row (whole tile rows but the last)
    per_sample = g_rows.shape[0] // max(g.shape[0], 1)
    ones = np.ones(min(g_rows.shape[0], im2col.BLOCK_ROWS), dtype=dtype) if with_bias else None

    def work(share):
        acc = np.zeros((alpha2, channels, filters), dtype=dtype)
        part = np.empty_like(acc)
        bias_acc = np.zeros(filters, dtype=dtype) if with_bias else None
        for block in share:
            _, count = layout.span(block)
            v = layout.buffer("winograd-v", channels, count)
            mm = layout.buffer("winograd-m", filters, count)
            layout.input_transform(source, block, v)
            layout.output_adjoint(g, block, mm)
            np.matmul(v.transpose(0, 2, 1), mm, out=part)
            acc += part
            if with_bias:  # the block's rows of g: samples n0.., tile rows h0.. (cropped at the edge)
                start = block.n0 * per_sample + block.h0 * per_band
                stop = min(start + block.nc * block.hc * per_band, (block.n0 + block.nc) * per_sample)
                for first in range(start, stop, ones.shape[0]):
                    chunk = g_rows[first : min(first + ones.shape[0], stop)]
                    bias_acc += ones[: chunk.shape[0]] @ chunk
        return acc, bias_acc

    shares = im2col.split(layout.plan, blas.workers())
    results = blas.run_parallel([partial(work, share) for share in shares])
    du = sum(r[0] for r in results)
    grad_bias = sum(r[1] for r in results) if with_bias else None
    return kernel_transform_adjoint(du, m), grad_bias

