"""Winograd F(m x m, 3 x 3) tile transforms, one compiled loop each, a tile at a time while it is in cache.

The formulation and the NumPy reference of these transforms are in ``ops/conv/winograd.py``;
its module docstring says what the matrices are. Layout (channels_last; alpha = m + 2):

    x     (N, P_h, P_w, C)         the padded input; tile (th, tw) reads rows th * m ... th * m + alpha - 1
                                   and as many columns (zeros past the edge)
    v     (alpha^2, count, C)      the input transform of ``count`` consecutive tiles
    mm    (alpha^2, count, F)      the products, one (count, F) matrix per Winograd point
    y, g  (N, O_h, O_w, F)         output (written, cropped at the edges) or its gradient (read)

Tiles are numbered over the whole batch, row-major: tile index i is sample i // (T_h * T_w),
tile row (i // T_w) % T_h, tile column i % T_w; each call transforms tiles ``first`` to
``first + count - 1`` (one block of the formulation). The matrices arrive in the data's dtype.

Every transform is two passes of a small matrix over one tile: the inner loop runs over the
channels (or filters), contiguous in every array, from 0 (see elementwise.py), and the zeros
of the matrices are skipped. The scratch ``tmp`` (alpha, alpha, C) is allocated once per call.
No ``fastmath``: the sums are in the order written.
"""
from __future__ import annotations

import numpy as np

from ._compile import kernel


@kernel
def input_transform(x, bt, m, tiles_h, tiles_w, first, v):
    """v[i * alpha + j, t, :] = (B^T d B)[i, j, :] for tile first + t, d its alpha x alpha window of x."""
    alpha = bt.shape[0]
    count, channels = v.shape[1], v.shape[2]
    height, width = x.shape[1], x.shape[2]
    per_sample = tiles_h * tiles_w
    zero = v.dtype.type(0)
    tmp = np.empty((alpha, alpha, channels), dtype=v.dtype)
    for t in range(count):
        index = first + t
        n = index // per_sample
        rest = index - n * per_sample
        row0 = (rest // tiles_w) * m
        col0 = (rest % tiles_w) * m
        for i in range(alpha):  # tmp[i, q, :] = sum over k of bt[i, k] * d[k, q, :]
            for q in range(alpha):
                out = tmp[i, q]
                for c in range(channels):
                    out[c] = zero
                col = col0 + q
                if col >= width:
                    continue
                for k in range(alpha):
                    b = bt[i, k]
                    row = row0 + k
                    if b == 0 or row >= height:
                        continue
                    src = x[n, row, col]
                    for c in range(channels):
                        out[c] += b * src[c]
        for i in range(alpha):  # v[i, j, :] = sum over q of tmp[i, q, :] * bt[j, q]
            for j in range(alpha):
                out = v[i * alpha + j, t]
                for c in range(channels):
                    out[c] = zero
                for q in range(alpha):
                    b = bt[j, q]
                    if b == 0:
                        continue
                    src = tmp[i, q]
                    for c in range(channels):
                        out[c] += b * src[c]


@kernel
def output_transform(mm, at, bias, has_bias, tiles_h, tiles_w, first, y):
    """y's m x m outputs of tile first + t = A^T M A (+ bias), M = mm[:, t] as alpha x alpha;
    outputs past y's edge are dropped. ``bias`` (F,) is read only when ``has_bias``."""
    m, alpha = at.shape
    count, filters = mm.shape[1], mm.shape[2]
    height, width = y.shape[1], y.shape[2]
    per_sample = tiles_h * tiles_w
    zero = y.dtype.type(0)
    tmp = np.empty((m, alpha, filters), dtype=y.dtype)
    for t in range(count):
        index = first + t
        n = index // per_sample
        rest = index - n * per_sample
        row0 = (rest // tiles_w) * m
        col0 = (rest % tiles_w) * m
        rows = min(m, height - row0)
        cols = min(m, width - col0)
        for i in range(rows):  # tmp[i, q, :] = sum over k of at[i, k] * M[k, q, :]
            for q in range(alpha):
                out = tmp[i, q]
                for f in range(filters):
                    out[f] = zero
                for k in range(alpha):
                    a = at[i, k]
                    if a == 0:
                        continue
                    src = mm[k * alpha + q, t]
                    for f in range(filters):
                        out[f] += a * src[f]
        for i in range(rows):  # y[i, j, :] = bias + sum over q of tmp[i, q, :] * at[j, q]
            for j in range(cols):
                out = y[n, row0 + i, col0 + j]
                if has_bias:
                    for f in range(filters):
                        out[f] = bias[f]
                else:
                    for f in range(filters):
                        out[f] = zero
                for q in range(alpha):
                    a = at[j, q]
                    if a == 0:
                        continue
                    src = tmp[i, q]
                    for f in range(filters):
                        out[f] += a * src[f]


@kernel
def output_adjoint(g, at, tiles_h, tiles_w, first, mm):
    """The adjoint of :func:`output_transform` (without the bias): mm[:, t] as alpha x alpha =
    A G A^T, G the m x m window of g that tile first + t writes (zeros past g's edge)."""
    m, alpha = at.shape
    count, filters = mm.shape[1], mm.shape[2]
    height, width = g.shape[1], g.shape[2]
    per_sample = tiles_h * tiles_w
    zero = mm.dtype.type(0)
    tmp = np.empty((alpha, m, filters), dtype=mm.dtype)
    for t in range(count):
        index = first + t
        n = index // per_sample
        rest = index - n * per_sample
        row0 = (rest // tiles_w) * m
        col0 = (rest % tiles_w) * m
        rows = min(m, height - row0)
        cols = min(m, width - col0)
        for k in range(alpha):  # tmp[k, j, :] = sum over i of at[i, k] * G[i, j, :]
            for j in range(m):
                out = tmp[k, j]
                for f in range(filters):
                    out[f] = zero
                if j >= cols:
                    continue
                for i in range(rows):
                    a = at[i, k]
                    if a == 0:
                        continue
                    src = g[n, row0 + i, col0 + j]
                    for f in range(filters):
                        out[f] += a * src[f]
        for k in range(alpha):  # M[k, q, :] = sum over j of tmp[k, j, :] * at[j, q]
            for q in range(alpha):
                out = mm[k * alpha + q, t]
                for f in range(filters):
                    out[f] = zero
                for j in range(cols):
                    a = at[j, q]
                    if a == 0:
                        continue
                    src = tmp[k, j]
                    for f in range(filters):
                        out[f] += a * src[f]
