"""Max pooling in one pass each way: the forward keeps, for every output, which input cell won
its window, and the backward scatters grad_y to those cells.

Layout: every array is 5-D, C-contiguous, channels last, whatever the pooling's rank:

    x        (B, D, H, W, C)      1-D pooling is D = H = 1 with pool (1, 1, k); 2-D is D = 1;
                                  channels_first (N, C, *S) is viewed as (N * C, *S, 1)
    y        (B, OD, OH, OW, C)   the maxima
    winners  (B, OD, OH, OW, C)   int32: the winning cell's flat index in its sample's x[b],
                                  ((d * H + h) * W + w) * C + c

Window of output (od, oh, ow), per axis: input positions o * stride + t - before for the taps
t in range(pool), those inside the input only (padded cells are not part of a window). Its
maximum is the first maximum in window order (taps row-major, the last axis fastest: a later
tap wins only when strictly larger), and a NaN wins over any number (the first NaN), as in
the NumPy reference (``ops/pooling.py``).
"""
from __future__ import annotations

import numpy as np

from ._compile import kernel


@kernel
def max_pool_forward(x, pool, strides, before, y, winners, keep_winners, start, stop):
    """y[b] (and winners[b] when ``keep_winners``) for the samples b in [start, stop).

    pool, strides, before: 3-tuples of ints (depth, height, width); winners is ignored (it
    may be a 1-element array) unless keep_winners.
    """
    x, y = x[start:stop], y[start:stop]  # loops from 0 (see elementwise.py)
    winners = winners[start:stop] if keep_winners else winners
    samples, depth, height, width, channels = x.shape
    _, out_depth, out_height, out_width, _ = y.shape
    for b in range(samples):
        for od in range(out_depth):
            for oh in range(out_height):
                for ow in range(out_width):
                    first = True  # the window's first cell inside the input starts the maxima
                    for td in range(pool[0]):
                        d = od * strides[0] + td - before[0]
                        if d < 0 or d >= depth:
                            continue
                        for th in range(pool[1]):
                            h = oh * strides[1] + th - before[1]
                            if h < 0 or h >= height:
                                continue
                            for tw in range(pool[2]):
                                w = ow * strides[2] + tw - before[2]
                                if w < 0 or w >= width:
                                    continue
                                cell = ((d * height + h) * width + w) * channels  # channel 0's index
                                for c in range(channels):
                                    value = x[b, d, h, w, c]
                                    best = y[b, od, oh, ow, c]
                                    # strictly larger, or the first NaN (value != value) over a number
                                    if first or value > best or (value != value and best == best):
                                        y[b, od, oh, ow, c] = value
                                        if keep_winners:
                                            winners[b, od, oh, ow, c] = cell + c
                                first = False


@kernel
def max_pool_backward(grad_y, winners, grad_x, start, stop):
    """grad_x[b] for the samples b in [start, stop): zeros, then grad_y[b, j] added at each
    output j's winner (a cell that wins several overlapping windows gets their sum, added in
    output order).

    grad_y, winners: (B, P), P = OD * OH * OW * C, flat per sample; grad_x: (B, D * H * W * C),
    written whole (its rows need not be zeroed first).
    """
    grad_y, winners, grad_x = grad_y[start:stop], winners[start:stop], grad_x[start:stop]
    zero = grad_x.dtype.type(0)
    for b in range(grad_x.shape[0]):
        for i in range(grad_x.shape[1]):
            grad_x[b, i] = zero
        for j in range(grad_y.shape[1]):
            grad_x[b, winners[b, j]] += grad_y[b, j]


#: a stand-in for the winners array when the forward does not keep them
NO_WINNERS = np.zeros((1, 1, 1, 1, 1), dtype=np.int32)
