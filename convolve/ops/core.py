"""Dense (fully connected) layers' arithmetic: one matrix product on the last axis.

Layout:

    x       (..., I)        any leading axes (usually just the batch), I input features
    kernel  (I, U)          U units
    bias    (U,)
    y       (..., U)        y[..., u] = bias[u] + sum over i of x[..., i] * kernel[i, u]

Backward (:func:`dense_backward`), with the leading axes flattened into M rows
(x -> X (M, I), grad_y -> G (M, U)), one matrix product each:

    grad_x      = G @ kernel^T      (M, I) -> (..., I)
    grad_kernel = X^T @ G           (I, U): the sum over every leading axis in one product
    grad_bias   = sum of G's rows   (U,)
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from ..backend import as_float_array, get_array_module
from . import blas
from .args import bias_array


def _check_dense(x, kernel, where: str) -> tuple:
    """(input_dim, units) after checking that ``kernel`` is (I, U) and ``x`` is (..., I)."""
    if kernel.ndim != 2:
        raise ValueError(
            f"{where}: expected a kernel of rank 2 (input_dim, units). Received: kernel.shape={kernel.shape}"
        )
    if x.ndim == 0:
        raise ValueError(
            f"{where}: expected input of rank >= 1 (..., input_dim). Received: inputs.shape={x.shape}"
        )
    in_features, units = kernel.shape
    if x.shape[-1] != in_features:
        raise ValueError(
            f"{where}: the input's last axis must have the kernel's input size {in_features} "
            f"(kernel.shape={kernel.shape}). Received: inputs.shape={x.shape}"
        )
    return in_features, units


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
    in_features, units = _check_dense(x, kernel, where)
    bias = bias_array(bias, units, where)
    arrays = [x, kernel] if bias is None else [x, kernel, bias]
    dtype = np.result_type(*arrays)
    xp = get_array_module(x)
    rows = x.astype(dtype, copy=False).reshape(
        math.prod(x.shape[:-1]), in_features
    )  # (M, I), M = prod(leading axes)
    mm = _product if xp is np else xp.matmul
    y = mm(rows, kernel.astype(dtype, copy=False))  # (M, U), a new array
    if bias is not None:
        y += bias.astype(dtype, copy=False)
    return y.reshape(*x.shape[:-1], units)


def dense_backward(grad_y, x, kernel, need_x=True, where="dense_backward"):
    """Gradients of :func:`dense` with respect to its input, kernel and bias.

    Args:
        grad_y: (..., U), the shape of ``dense(x, kernel, bias)``.
        x: (..., I), the forward's input, rank >= 1 (usually (batch, I); any leading axes).
        kernel: (I, U).
        need_x: False skips grad_x (one matrix product), for a layer whose input needs no
            gradient, such as a network's first.

    Returns:
        (grad_x, grad_kernel, grad_bias): (..., I) or None when not ``need_x``; (I, U); (U,).
        grad_bias is the gradient of the bias whether or not the forward had one (it does not
        depend on the bias); a caller without a bias drops it. New arrays in the common float
        dtype of the arguments.
    """
    x = as_float_array(x, where=where, name="inputs")
    kernel = as_float_array(kernel, where=where, name="kernel")
    g = as_float_array(grad_y, where=where, name="grad_y")
    if not isinstance(need_x, (bool, np.bool_)):
        raise TypeError(f"{where}: the `need_x` argument must be True or False. Received: need_x={need_x!r}")
    in_features, units = _check_dense(x, kernel, where)
    if g.shape != (*x.shape[:-1], units):
        raise ValueError(
            f"{where}: expected grad_y of shape {(*x.shape[:-1], units)}, the shape of the forward's output. "
            f"Received: grad_y.shape={g.shape}"
        )
    dtype = np.result_type(x, kernel, g)
    xp = get_array_module(x)
    rows = math.prod(x.shape[:-1])
    x_rows = x.astype(dtype, copy=False).reshape(rows, in_features)  # X (M, I)
    g_rows = g.astype(dtype, copy=False).reshape(rows, units)  # G (M, U)
    kernel = kernel.astype(dtype, copy=False)
    mm = _product if xp is np else xp.matmul
    grad_kernel = mm(x_rows.T, g_rows)  # (I, U); inner dimension M = batch * positions
    grad_bias = xp.sum(g_rows, axis=0)  # (U,)
    grad_x = mm(g_rows, kernel.T).reshape(x.shape) if need_x else None  # (..., I)
    return grad_x, grad_kernel, grad_bias


#: products below this many multiply-adds run as one call (threads would cost more than they save)
PARALLEL_MIN_WORK = 1 << 22


def _product(a, b):
    """``a @ b`` for 2-D NumPy arrays, as ``ops.blas.matmul`` computes it (long inner dimensions
    chunked), with the rows of the output shared among ``blas.workers()`` threads that each run
    single-threaded BLAS (``blas.run_parallel``), as the convolutions do.

    Why: a Dense product is small (the classic CNN's (128, 9216) @ (9216, 128) is 0.15 G
    multiply-adds) and OpenBLAS' own threads wait for each other at every call; when other
    processes share the cores, a BLAS thread that is not running holds up the others, and
    a product that one core finishes quickly takes many times as long.
    """
    m, n = a.shape[0], b.shape[1]
    parts = min(blas.workers(), m)
    if parts <= 1 or m * n * a.shape[1] < PARALLEL_MIN_WORK:
        return blas.matmul(a, b)
    out = np.empty((m, n), dtype=np.result_type(a.dtype, b.dtype))
    bounds = [m * i // parts for i in range(parts + 1)]
    blas.run_parallel([
        partial(blas.matmul, a[start:stop], b, out=out[start:stop]) for start, stop in zip(bounds, bounds[1:])
    ])
    return out
