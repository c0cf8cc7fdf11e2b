"""The activation fused into a convolution: applied to each block of y while it is in cache.

A formulation's ``forward(x_padded, kernel, bias, geometry, activation=None)`` writes a block
of output rows (the product, with its bias), then calls :func:`finish` on that block, so the
activation costs no second pass over the whole of y from memory (ops/activations' relu over a
conv output was such a pass: about 3.4 ms of a 99 ms classic-CNN training step).

    FUSED        the activations a convolution can fuse: 'linear' (nothing to do) and 'relu',
                 the plain max(y, 0) of ``ops.activations.relu`` with its defaults

relu here is the same NumPy expression as ``ops.activations.relu``'s (``maximum(y, 0)``), so the
values are equal bit for bit and NaN stays NaN (one NaN in the data must reach the loss). Its
gradient needs only the output: g where y > 0, else 0 (y is NaN: 0), exactly
``ops.activations.relu_backward(g, y)``, as the layers' in-place relu computes it; see
``conv_backward``'s ``activation``.
"""
from __future__ import annotations

import numpy as np

#: the activations a convolution fuses (None means 'linear')
FUSED = ("linear", "relu")


def check(activation, where: str):
    """``activation`` as one of ``FUSED`` (None is 'linear'), else a ValueError naming them."""
    if activation is None:
        return "linear"
    if activation not in FUSED:
        raise ValueError(
            f"{where}: a convolution fuses the activations {FUSED} (None is 'linear'); apply any other "
            f"after it. Received: activation={activation!r}"
        )
    return activation


def finish(block, activation) -> None:
    """Apply ``activation`` ('linear', 'relu' or None) to ``block``, an array of y written in place."""
    if activation == "relu":
        np.maximum(block, block.dtype.type(0), out=block)


def relu_gradient(g, y, with_bias: bool):
    """(dL/d(conv + bias), dL/dbias or None) of y = relu(conv + bias), from g = dL/dy and y, both
    (N, *O, F) C-contiguous of one dtype: g where y > 0, else 0.

    Compiled (ops/kernels/elementwise.relu_backward_bias): one pass that reads g and y, writes the
    masked g and sums dL/dbias (in float64, one partial sum per worker thread), instead of a relu
    backward pass and then a bias pass over the masked g. Without the kernels (or on other
    arrays): ``ops.activations.relu_backward(g, y)``, and None for the bias (the formulations sum it).
    """
    from .. import blas, kernels
    from ..activations import relu_backward

    if not kernels.enabled(g, y):
        return relu_backward(g, y), None
    from ..kernels import elementwise  # here: the first call imports Numba

    filters = g.shape[-1]
    g_rows, y_rows = g.reshape(-1, filters), y.reshape(-1, filters)
    out = np.empty_like(g_rows)
    parts = kernels.ranges(g_rows.shape[0], filters)
    sums = np.zeros((len(parts), filters), dtype=np.float64)
    blas.run_parallel([
        lambda k=k, start=start, stop=stop: elementwise.relu_backward_bias(
            g_rows, y_rows, out, sums[k], start, stop
        )
        for k, (start, stop) in enumerate(parts)
    ])
    grad_bias = sums.sum(axis=0).astype(g.dtype) if with_bias else None
    return out.reshape(g.shape), grad_bias
