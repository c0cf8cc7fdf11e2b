"""Element-wise kernels: activation gradients and dropout, one pass each.

Every array here is flat (1-D, C-contiguous: the callers pass ``a.reshape(-1)`` of
C-contiguous arrays) and of one float dtype; scalars arrive already in that dtype, so the
arithmetic is the dtype's, as NumPy's is for an array and a Python float (NEP 50).
Each kernel computes the items ``[start, stop)`` and writes its result into ``out``; the
reference formulas are in ``ops/activations.py`` and ``ops/dropout.py``.

Each first takes the slices ``[start:stop]`` and loops from 0 over them: an index that
starts at 0 is known not to be negative, so Numba adds no wraparound test to each access and
LLVM vectorizes the loop (indexing the whole arrays from ``start`` ran about 7x slower).
"""
from __future__ import annotations

import math

import numpy as np

from ._compile import kernel


@kernel
def relu_backward(grad_y, x, negative_slope, threshold, max_value, has_max_value, out, start, stop):
    """out = grad_y * relu'(x):

        grad_y                    where threshold < x (and x < max_value, when there is one)
        0                         where threshold < x and x >= max_value (the flat top)
        negative_slope * grad_y   where x <= threshold or x is NaN (0 for the plain relu)

    A select, not a product, so an infinite or NaN grad_y stays where it is kept and is 0
    where it is dropped, as ``numpy.where`` gives.
    """
    grad_y, x, out = grad_y[start:stop], x[start:stop], out[start:stop]
    zero = out.dtype.type(0)
    if negative_slope == 0 and not has_max_value:  # the plain relu: a select the loop vectorizes
        for i in range(out.shape[0]):
            out[i] = grad_y[i] if x[i] > threshold else zero
        return
    for i in range(out.shape[0]):
        value = x[i]
        if value > threshold:
            out[i] = grad_y[i] if (not has_max_value or value < max_value) else zero
        else:
            out[i] = negative_slope * grad_y[i] if negative_slope != 0 else zero


@kernel
def leaky_relu_backward(grad_y, x, negative_slope, out, start, stop):
    """out = grad_y where x > 0, else negative_slope * grad_y."""
    grad_y, x, out = grad_y[start:stop], x[start:stop], out[start:stop]
    for i in range(out.shape[0]):
        out[i] = grad_y[i] if x[i] > 0 else negative_slope * grad_y[i]


@kernel
def elu_backward(grad_y, x, alpha, scale, out, start, stop):
    """out = grad_y * (scale * (1 where x > 0, else alpha * exp(x))): elu with scale 1 (then
    the product by scale is skipped, as NumPy's elu formula has none), selu with its constants."""
    grad_y, x, out = grad_y[start:stop], x[start:stop], out[start:stop]
    one = out.dtype.type(1)
    for i in range(out.shape[0]):
        value = x[i]  # below, value <= 0 or NaN: NumPy's exp(minimum(x, 0)) is exp(x) there
        slope = one if value > 0 else alpha * math.exp(value)
        out[i] = grad_y[i] * (slope if scale == 1 else scale * slope)


@kernel
def sigmoid_backward(grad_y, y, out, start, stop):
    """out = grad_y * (y * (1 - y)), from the forward's output y."""
    grad_y, y, out = grad_y[start:stop], y[start:stop], out[start:stop]
    one = out.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = grad_y[i] * (y[i] * (one - y[i]))


@kernel
def tanh_backward(grad_y, y, out, start, stop):
    """out = grad_y * (1 - y * y), from the forward's output y."""
    grad_y, y, out = grad_y[start:stop], y[start:stop], out[start:stop]
    one = out.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = grad_y[i] * (one - y[i] * y[i])


@kernel
def dropout(x, noise, rate, scale, out, start, stop):
    """out = x * (scale where noise >= rate, else 0): the keep/drop test, the mask and the
    product in one pass. ``noise`` holds the uniform [0, 1) float32 draws, ``rate`` is a
    float32 (the test is NumPy's float32 comparison), ``scale`` = 1 / (1 - rate) in x's dtype.
    Also the backward: x = grad_y, the same noise."""
    x, noise, out = x[start:stop], noise[start:stop], out[start:stop]
    zero = out.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = x[i] * (scale if noise[i] >= rate else zero)


@kernel
def relu_backward_bias(grad_y, y, out, bias_sum, start, stop):
    """Rows [start, stop) of the (M, F) arrays: out = grad_y where y > 0, else 0 (y the relu's
    output; NaN: 0), and ``bias_sum`` (F,) += the rows of out (dL/dbias of a conv + bias + relu,
    in the same pass). A select, as ``relu_backward``. The sums run in a float64 array of the
    kernel's own (one that cannot alias ``out``, so the loop vectorizes; summing into
    ``bias_sum`` directly ran about 2x slower)."""
    grad_y, y, out = grad_y[start:stop], y[start:stop], out[start:stop]
    zero = out.dtype.type(0)
    sums = np.zeros(out.shape[1], dtype=np.float64)
    for i in range(out.shape[0]):
        for f in range(out.shape[1]):
            value = grad_y[i, f] if y[i, f] > 0 else zero
            out[i, f] = value
            sums[f] += value
    for f in range(out.shape[1]):
        bias_sum[f] += sums[f]
