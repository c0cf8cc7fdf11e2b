"""Dense (fully connected) layers' arithmetic: one matrix product on the last axis.

Layout:

    x       (..., I)        any leading axes (usually just the batch), I input features
    kernel  (I, U)          U units
    bias    (U,)
    y       (..., U)        y[..., u] = bias[u] + sum over i of x[..., i] * kernel[i, u]
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import as_float_array, get_array_module


def dense(x, kernel, bias=None, where="dense"):
    """x @ kernel + bias over the last axis of ``x``.

    Args:
        x: (..., I), rank >= 1; integer input is cast to float32; never modified.
        kernel: (I, U).
        bias: (U,) or None.
        where: who is calling, for error messages.

    Returns:
        y: (..., U), a new array; the dtype is the common float dtype of ``x``, ``kernel``
        and ``bias``.
    """
    x = as_float_array(x, where=where, name="inputs")
    kernel = as_float_array(kernel, where=where, name="kernel")
    if kernel.ndim != 2:
        raise ValueError(f"{where}: expected a kernel of rank 2 (input_dim, units). Received: kernel.shape={kernel.shape}")
    if x.ndim == 0:
        raise ValueError(f"{where}: expected input of rank >= 1 (..., input_dim). Received: inputs.shape={x.shape}")
    in_features, units = kernel.shape
    if x.shape[-1] != in_features:
        raise ValueError(
            f"{where}: the input's last axis must have the kernel's input size {in_features} "
            f"(kernel.shape={kernel.shape}). Received: inputs.shape={x.shape}"
        )
    arrays = [x, kernel]
    if bias is not None:
        bias = as_float_array(bias, where=where, name="bias")
        if bias.shape != (units,):
            raise ValueError(f"{where}: expected bias of shape ({units},). Received: bias.shape={bias.shape}")
        arrays.append(bias)
    dtype = np.result_type(*arrays)
    xp = get_array_module(x)
    rows = x.astype(dtype, copy=False).reshape(math.prod(x.shape[:-1]), in_features)  # (M, I), M = prod(leading axes)
    y = xp.matmul(rows, kernel.astype(dtype, copy=False))  # (M, U), a new array
    if bias is not None:
        y += bias.astype(dtype, copy=False)
    return y.reshape(*x.shape[:-1], units)
