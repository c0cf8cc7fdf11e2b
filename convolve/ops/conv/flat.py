"""The ``flat`` formulation: stride 1, one group, tap-major columns over the padded grid's
flat positions, one contiguous copy per tap and channel, the product cropped into y.

Per sample, the channels-first padded input is (C, R) with R = prod(P) flat positions;
output position o sits at flat position r(o) = sum_a o_a * row_stride_a and tap t reads
r + offset_t (``ConvGeometry.flat_offsets``). For a band of the first output axis, the columns

    cols^T (T * C [+ 1], L)    cols^T[t * C + c, r] = x_cf[n, c, base + r + offset_t]

take one contiguous copy of L numbers per tap and channel, instead of im2col's runs of
K_last * C numbers per output position. That wins with a few channels in 2-D and 3-D;
with more channels, in 1-D, or with C <= 3 (where im2col's runs are long, or tap-major
already) im2col is faster: hence the bounds in ``choose_formulation``. The L rows include
the positions that straddle an edge (padded minus output sizes on the inner axes),
computed and then dropped: the product (L, F) is cropped into y.

:func:`bands` plans the bands and :func:`fill_band` copies one band's columns; the kernel
gradient from the same columns is ``backward.flat_kernel_gradient``.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import blas
from . import im2col
from .epilogue import finish
from .geometry import ConvGeometry

#: ``flat`` columns hold about this many numbers per band (half of im2col's
#: ``BLOCK_ELEMENTS``: on the 3-D benchmark shape, one thread, bands of 2^18 and 2^19 numbers
#: ran alike and 2^20 slower)
FLAT_BLOCK_ELEMENTS = 1 << 19


class Bands(NamedTuple):
    """The bands of a ``flat`` computation and what each band's copy reads."""

    source: np.ndarray  # (N, C, R): the channels-first padded input, its grid flattened
    offsets: list  # flat offset of each tap
    row_strides: list  # flat positions per index of each spatial axis of the padded grid
    tail: int  # flat positions from a band row's first output to its last, plus one
    plan: list  # (sample, first index of the first output axis, indices in the band)
    longest: int  # flat positions L of the longest band

    @property
    def plane(self) -> int:
        """Flat positions per index of the first axis."""
        return self.row_strides[0]

    def length(self, band_rows: int) -> int:
        """L, the flat positions a band of ``band_rows`` indices of the first output axis spans."""
        return (band_rows - 1) * self.plane + self.tail


def bands(x_padded, geometry: ConvGeometry, width: int) -> Bands:
    """Plan bands of the first output axis whose columns, ``width`` numbers per flat position
    (T * C, plus one for a bias row), hold about ``FLAT_BLOCK_ELEMENTS`` numbers."""
    batch, padded, channels = x_padded.shape[0], x_padded.shape[1:-1], x_padded.shape[-1]
    out_sizes = geometry.out_sizes
    row_strides, offsets = geometry.flat_offsets(padded)
    plane = row_strides[0]
    tail = sum((o - 1) * r for o, r in zip(out_sizes[1:], row_strides[1:])) + 1  # the last band row's reach
    band = max(1, min(out_sizes[0], FLAT_BLOCK_ELEMENTS // (width * plane)))
    plan = [
        (n, h0, min(band, out_sizes[0] - h0)) for n in range(batch) for h0 in range(0, out_sizes[0], band)
    ]
    source = im2col.channels_first(x_padded).reshape(batch, channels, -1)  # (N, C, R)
    return Bands(source, offsets, row_strides, tail, plan, (band - 1) * plane + tail)


def fill_band(by_tap, layout: Bands, sample: int, h0: int, length: int) -> None:
    """Copy one band's columns into ``by_tap`` (T, C, L): tap j's rows are the sample's
    channels-first input from flat position h0 * plane + offset_j on, ``length`` numbers each."""
    source, base = layout.source[sample], h0 * layout.plane
    for j, offset in enumerate(layout.offsets):
        by_tap[j] = source[:, base + offset : base + offset + length]


def band_grid(flat_rows, layout: Bands, band_rows: int, out_sizes):
    """The (band_rows, *O[1:], F) view of a band's flat rows (L, F) that holds real output
    positions (skipping those that straddle an edge); writes land in ``flat_rows``."""
    step = flat_rows.strides[0]
    return as_strided(
        flat_rows,
        (band_rows, *out_sizes[1:], flat_rows.shape[1]),
        (layout.plane * step, *(r * step for r in layout.row_strides[1:]), flat_rows.strides[1]),
    )


def forward(x_padded, kernel, bias, geometry: ConvGeometry, activation=None):
    """y (N, *O, F), a new array: per band cols^T (T*C [+ 1], L), then cols (L, T*C [+ 1]) @
    kernel (T*C [+ 1], F) cropped into y; a row of ones carries the bias, as in im2col, and
    ``activation`` is applied to the band of y while in cache."""
    out_sizes = geometry.out_sizes
    channels, filters = x_padded.shape[-1], kernel.shape[-1]
    taps = geometry.taps
    ones = bias is not None
    width = taps * channels + ones
    weights = kernel.reshape(taps * channels, filters)
    if ones:
        weights = np.concatenate([weights, bias.reshape(1, filters).astype(weights.dtype, copy=False)])
    layout = bands(x_padded, geometry, width)
    y = np.empty((x_padded.shape[0], *out_sizes, filters), dtype=x_padded.dtype)

    def work(share):
        cols = im2col.workspace("cols", width * layout.longest, x_padded.dtype)
        out = im2col.workspace("flat-out", layout.longest * filters, x_padded.dtype)
        for sample, h0, band_rows in share:
            length = layout.length(band_rows)
            cols_t = cols[: width * length].reshape(width, length)
            fill_band(cols_t[: taps * channels].reshape(taps, channels, length), layout, sample, h0, length)
            if ones:
                cols_t[-1] = 1
            flat_rows = out[: length * filters].reshape(length, filters)
            np.matmul(cols_t.T, weights, out=flat_rows)
            y[sample, h0 : h0 + band_rows] = band_grid(flat_rows, layout, band_rows, out_sizes)
            finish(y[sample, h0 : h0 + band_rows], activation)

    blas.run_parallel([partial(work, share) for share in im2col.split(layout.plan, blas.workers())])
    return y

