"""Dropout's arithmetic, given the random draws: the layer (``convolve.layers.Dropout``) draws
``noise``, uniform on [0, 1) in float32 from ``convolve.random``, and these functions do the rest.

    keep[i]  = noise[i] >= rate                         (P(keep) = 1 - rate; a float32 comparison)
    scale    = 1 / (1 - rate), in x's dtype             (0 when rate == 1: everything is dropped)
    y        = x * (scale where keep, else 0)           dropout(x, noise, rate)
    grad_x   = grad_y * (scale where keep, else 0)      dropout_backward(grad_y, noise, rate)

``noise`` has x's shape, or a shape that broadcasts against it (a layer's ``noise_shape``: one
draw shared along the axes of size 1). The mask is never kept: the backward reads the same
noise again.

With the compiled kernels (``convolve.config``) and noise of x's own shape, the test, the mask
and the product are one pass (``ops/kernels/elementwise.dropout``); otherwise NumPy builds the
mask (NumPy's reference, as above) and multiplies. Both give exactly the same numbers: the
mask holds ``scale`` or 0, and each output is one product.
"""
from __future__ import annotations

import numpy as np

from ..backend import as_float_array, get_array_module
from . import kernels


def dropout(x, noise, rate, *, where="dropout"):
    """``x * mask`` with ``mask = (noise >= rate) * (1 / (1 - rate))``: a new array of x's shape
    and float dtype (integer x becomes float32). ``rate`` in [0, 1]; ``noise`` float32, of x's
    shape or broadcasting against it."""
    x = as_float_array(x, where=where, name="x")
    return _apply(x, noise, rate, where, name="x")


def dropout_backward(grad_y, noise, rate, *, where="dropout_backward"):
    """The gradient of :func:`dropout` with respect to x: ``grad_y`` times the same mask (dropout is
    linear in x), a new array of grad_y's shape and dtype."""
    g = as_float_array(grad_y, where=where, name="grad_y")
    return _apply(g, noise, rate, where, name="grad_y")


def _apply(a, noise, rate, where, name):
    """``a * mask(noise, rate)``, by the compiled kernel where it applies."""
    rate = _check_rate(rate, where)
    xp = get_array_module(a)
    noise = xp.asarray(noise)
    if noise.dtype != np.float32:
        raise TypeError(
            f"{where}: expected float32 noise (uniform draws on [0, 1)). Received: noise.dtype={noise.dtype}"
        )
    try:
        np.broadcast_shapes(noise.shape, a.shape)
        broadcasts = len(noise.shape) <= len(a.shape)
    except ValueError:
        broadcasts = False
    if not broadcasts or np.broadcast_shapes(noise.shape, a.shape) != a.shape:
        raise ValueError(
            f"{where}: noise must have the shape of {name} or broadcast to it. "
            f"Received: noise.shape={noise.shape}, {name}.shape={a.shape}"
        )
    scale = a.dtype.type(0.0 if rate == 1.0 else 1.0 / (1.0 - rate))
    if noise.shape == a.shape and kernels.enabled(a, noise.astype(np.float32, copy=False)):
        from .kernels import elementwise  # here: the first call imports Numba

        out = np.empty_like(a)
        kernels.run(
            elementwise.dropout, a.size, a.reshape(-1), noise.reshape(-1), np.float32(rate), scale,
            out.reshape(-1),
        )
        return out
    mask = xp.multiply(noise >= np.float32(rate), scale, dtype=a.dtype)  # scale or 0, of noise's shape
    return xp.multiply(a, mask)


def _check_rate(rate, where) -> float:
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: the `rate` argument must be a number in [0, 1]. Received: rate={rate!r}")
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"{where}: the `rate` argument must be a number in [0, 1]. Received: rate={rate!r}")
    return float(rate)
