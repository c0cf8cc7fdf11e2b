"""The ``pointwise`` formulation: a 1x1 kernel (one group) as one matrix product.

    y (N * prod(O), F) = x[:, ::s] (N * prod(O), C) @ kernel (C, F) + bias

on the (strided) padded input ``x_padded`` (N, *P, C), in row blocks that get their bias while
in cache, shared among the BLAS workers (ops/blas.py).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .. import blas
from . import im2col
from .epilogue import finish
from .geometry import ConvGeometry, window


def forward(x_padded, kernel, bias, geometry: ConvGeometry, activation=None):
    """y (N, *O, F), a new array: (M, C) @ (C, F) in blocks of rows, M = N * prod(O).

    Each block of rows is multiplied into y and gets its bias and ``activation`` while still in
    cache, instead of a second pass over the whole of y afterwards.
    """
    out_sizes = geometry.out_sizes
    rows = window(x_padded, (0,) * len(out_sizes), geometry)  # (N, *O, C)
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    x_rows = rows.reshape(-1, channels)  # a view when the input is contiguous (stride 1), else one copy
    weights = kernel.reshape(channels, filters)
    y = np.empty((x_padded.shape[0], *out_sizes, filters), dtype=x_padded.dtype)
    y_rows = y.reshape(-1, filters)
    step = max(1, im2col.BLOCK_ELEMENTS // max(channels, filters))

    def work(starts):
        for start in starts:
            out = y_rows[start : start + step]
            np.matmul(x_rows[start : start + step], weights, out=out)
            if bias is not None:
                out += bias
            finish(out, activation)

    starts = range(0, x_rows.shape[0], step)
    blas.run_parallel([partial(work, share) for share in im2col.split(list(starts), blas.workers())])
    return y
