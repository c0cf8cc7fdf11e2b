"""A second oracle for the convolution: the ``taps`` formulation, moved here from the library.

Stride 1, one group. The padded input (N, *P, C) read as one flat matrix X (N * prod(P), C):
output position o of sample n lives at flat row r = n * prod(P) + sum_a o_a * row_stride_a,
and tap t reads row r + offset_t with offset_t = sum_a t_a * d_a * row_stride_a. So

    Y[r] = sum over taps t of X[r + offset_t] @ kernel[t]        for r < rows - max(offset)

and the rows whose o_a >= O_a (they straddle an edge) are cropped afterwards. Its gradients,
with G = dL/dy laid out like the padded input (zeros where no output exists):

    dL/dkernel[t]        = X[offset_t : offset_t + rows]^T @ G[:rows]
    dL/dX[offset_t : ...] += G[:rows] @ kernel[t]^T

It shares nothing with the library's formulations but the arithmetic of the definition (its
padding amounts are tests/ops/conv_reference.py's and its padding is numpy.pad's), and it
computes in a different order from the loop reference, so it checks them and the library's
formulations on shapes too large for plain loops. The library never chose it: its T products
of inner size C were at best about 10% faster than im2col's one product of inner size T * C on a
few shapes, and collapsed under load (`git show 426766b:benchmarks/README.md`).
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np

from tests.ops.conv_reference import as_tuple, reference_index, reference_output_sizes, reference_pads

NUMPY_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _geometry(x, kernel, padding, dilation_rate):
    """(pads, output sizes, dilations, row strides of the padded grid, flat offset of each tap)."""
    rank = kernel.ndim - 2
    sizes, kernel_size = x.shape[1:-1], kernel.shape[:rank]
    dilations = as_tuple(dilation_rate, rank)
    pads = reference_pads(padding, sizes, kernel_size, (1,) * rank, dilations)
    out_sizes = reference_output_sizes(sizes, kernel_size, (1,) * rank, dilations, pads)
    padded = [n + before + after for n, (before, after) in zip(sizes, pads)]
    row_strides = [math.prod(padded[axis + 1 :]) for axis in range(rank)]
    offsets = [
        sum(t * d * r for t, d, r in zip(tap, dilations, row_strides))
        for tap in product(*(range(k) for k in kernel_size))
    ]
    return pads, out_sizes, padded, offsets


def taps_conv(x, kernel, bias=None, padding="valid", dilation_rate=1, padding_mode="zeros"):
    """y (N, *O, F) of a stride-1, one-group convolution of channels_last ``x`` (N, *S, C) with
    ``kernel`` (*K, C, F): one product per tap of the flat padded input at a row offset."""
    pads, out_sizes, padded, offsets = _geometry(x, kernel, padding, dilation_rate)
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    x_padded = np.pad(x, ((0, 0), *pads, (0, 0)), mode=NUMPY_MODES[padding_mode])
    flat_x = x_padded.reshape(-1, channels)  # (N * prod(P), C)
    rows = flat_x.shape[0] - offsets[-1]
    flat_y = np.zeros((flat_x.shape[0], filters), dtype=np.result_type(x, kernel))
    for offset, tap_kernel in zip(offsets, kernel.reshape(-1, channels, filters)):
        flat_y[:rows] += flat_x[offset : offset + rows] @ tap_kernel
    y = flat_y.reshape(x.shape[0], *padded, filters)[(slice(None), *(slice(0, o) for o in out_sizes))]
    return y if bias is None else y + bias


def fold_padding(grad_padded, pads, sizes, padding_mode):
    """The gradient on the padded grid (N, *P, C) added back onto the input cells each padded
    cell copies (reference_index per axis; zeros padding copies nothing): (N, *S, C)."""
    grad = grad_padded
    for axis, ((before, after), n) in enumerate(zip(pads, sizes), start=1):
        source = [reference_index(i - before, n, padding_mode) for i in range(before + n + after)]
        moved = np.moveaxis(grad, axis, 0)
        folded = np.zeros((n, *moved.shape[1:]), dtype=grad.dtype)
        for position, index in enumerate(source):
            if index is not None:
                folded[index] += moved[position]
        grad = np.moveaxis(folded, 0, axis)
    return grad


def taps_conv_backward(grad_y, x, kernel, padding="valid", dilation_rate=1, padding_mode="zeros"):
    """(dL/dx, dL/dkernel, dL/dbias) of :func:`taps_conv`, channels_last, per tap on the flat grid."""
    pads, out_sizes, padded, offsets = _geometry(x, kernel, padding, dilation_rate)
    channels, filters = kernel.shape[-2], kernel.shape[-1]
    x_padded = np.pad(x, ((0, 0), *pads, (0, 0)), mode=NUMPY_MODES[padding_mode])
    flat_x = x_padded.reshape(-1, channels)
    rows = flat_x.shape[0] - offsets[-1]
    grad_on_grid = np.zeros((x.shape[0], *padded, filters), dtype=grad_y.dtype)
    grad_on_grid[(slice(None), *(slice(0, o) for o in out_sizes))] = grad_y
    flat_g = grad_on_grid.reshape(-1, filters)[:rows]
    tap_kernels = kernel.reshape(-1, channels, filters)
    grad_taps = np.zeros_like(tap_kernels)
    flat_grad_x = np.zeros_like(flat_x)
    for i, (offset, tap_kernel) in enumerate(zip(offsets, tap_kernels)):
        grad_taps[i] = flat_x[offset : offset + rows].T @ flat_g
        flat_grad_x[offset : offset + rows] += flat_g @ tap_kernel.T
    grad_x = fold_padding(flat_grad_x.reshape(x_padded.shape), pads, x.shape[1:-1], padding_mode)
    grad_bias = grad_y.sum(axis=tuple(range(grad_y.ndim - 1)))
    return grad_x, grad_taps.reshape(kernel.shape), grad_bias
