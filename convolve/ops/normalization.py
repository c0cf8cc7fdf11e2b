"""Batch normalization: the inference form (statistics given) and the training form
(statistics of the batch), each with its backward pass right after it.

Layout: ``x`` of any rank >= 1, with its channels on ``axis`` (-1 for channels_last,
1 for channels_first); every parameter is a vector of one value per channel:

    x                      (..., C, ...)     C = x.shape[axis]
    mean, variance         (C,)
    gamma, beta            (C,) or None (gamma None: 1; beta None: 0)
    y                      the shape of x

    y = (x - mean) / sqrt(variance + epsilon) * gamma + beta      (per channel, broadcast along axis)

Inference (:func:`batch_norm`): mean and variance are given (the moving statistics).
Training (:func:`batch_norm_train`, as Keras' BatchNormalization with training=True): they
are the batch's own, over every axis but ``axis`` (M = x.size / C values per channel):

    batch_mean = sum(x) / M        batch_variance = sum((x - batch_mean)^2) / M   (biased, as Keras)

Backward passes, with x_hat = (x - mean) / sqrt(variance + epsilon), g = grad_y and every
sum and mean over the M values of a channel:

    grad_beta  = sum(g)                     grad_gamma = sum(g * x_hat)
    inference: grad_x = g * gamma / sqrt(variance + epsilon)                 (statistics are constants)
    training:  grad_x = (d - mean(d) - x_hat * mean(d * x_hat)) / sqrt(batch_variance + epsilon),
               d = g * gamma

The training form's extra terms are the gradient through the batch statistics. Neither
backward takes beta (y depends on it only through + beta), so grad_beta is always returned;
a caller without beta drops it. grad_gamma is None when gamma is None.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import as_float_array, get_array_module


def batch_norm(x, mean, variance, gamma=None, beta=None, epsilon=1e-3, axis=-1, where="batch_norm"):
    """Normalise ``x`` per channel with given statistics, then scale by gamma and shift by beta.

    Args:
        x: any rank >= 1; integer input is cast to float32; never modified.
        mean, variance: (C,) with C = x.shape[axis]; variance must be >= 0.
        gamma, beta: (C,) or None.
        epsilon: a finite number >= 0 added to the variance (Keras' default 1e-3).
        axis: the channel axis, an int in [-x.ndim, x.ndim).
        where: who is calling, for error messages.

    Returns:
        y: the shape of ``x``; the dtype is the common float dtype of ``x`` and the parameters.
    """
    x, axis = _check_input(x, axis, epsilon, where)
    params = _check_params(x, axis, where, mean=mean, variance=variance, gamma=gamma, beta=beta)
    xp = get_array_module(x)
    dtype = np.result_type(x, *(v for v in params.values() if v is not None))
    along_axis = _along_axis(x.ndim, axis, dtype)
    scale = 1.0 / xp.sqrt(along_axis(params["variance"]) + epsilon)  # (1, .., C, .., 1)
    if params["gamma"] is not None:
        scale = scale * along_axis(params["gamma"])
    y = (x.astype(dtype, copy=False) - along_axis(params["mean"])) * scale  # a new array
    if params["beta"] is not None:
        y += along_axis(params["beta"])
    return y


def batch_norm_backward(
    grad_y, x, mean, variance, gamma=None, epsilon=1e-3, axis=-1, where="batch_norm_backward"
):
    """Gradients of :func:`batch_norm` (the statistics are constants, as in inference or a
    frozen layer).

    Args:
        grad_y: the shape of ``x``.
        x, mean, variance, gamma, epsilon, axis: as in the forward.

    Returns:
        (grad_x, grad_gamma, grad_beta): grad_x the shape of ``x``; grad_gamma (C,), or None
        when gamma is None; grad_beta (C,), always (see the module docstring). New arrays in
        the common float dtype of the arguments.
    """
    x, axis = _check_input(x, axis, epsilon, where)
    params = _check_params(x, axis, where, grad_y=grad_y, mean=mean, variance=variance, gamma=gamma)
    xp = get_array_module(x)
    dtype = np.result_type(x, *(v for v in params.values() if v is not None))
    along_axis = _along_axis(x.ndim, axis, dtype)
    g = params["grad_y"].astype(dtype, copy=False)
    others = _other_axes(x.ndim, axis)
    inv_std = 1.0 / xp.sqrt(along_axis(params["variance"]) + epsilon)  # (1, .., C, .., 1)
    grad_beta = xp.sum(g, axis=others)
    grad_gamma = None
    scale = inv_std
    if params["gamma"] is not None:
        x_hat = (x.astype(dtype, copy=False) - along_axis(params["mean"])) * inv_std
        grad_gamma = xp.sum(g * x_hat, axis=others)
        scale = inv_std * along_axis(params["gamma"])
    return g * scale, grad_gamma, grad_beta


def batch_norm_train(x, gamma=None, beta=None, epsilon=1e-3, axis=-1, where="batch_norm_train"):
    """Normalise ``x`` per channel with the batch's own statistics (Keras' training mode).

    Args:
        x: any rank >= 1 with at least one value per channel; never modified.
        gamma, beta, epsilon, axis: as in :func:`batch_norm`.

    Returns:
        (y, batch_mean, batch_variance): y the shape of ``x``; batch_mean and batch_variance
        (C,), the mean and the biased variance over every axis but ``axis``, computed in two
        passes (no cancellation). A caller keeping moving statistics updates them from these.
    """
    x, axis = _check_input(x, axis, epsilon, where)
    params = _check_params(x, axis, where, gamma=gamma, beta=beta)
    _check_not_empty(x.shape, axis, where)
    xp = get_array_module(x)
    dtype = np.result_type(x, *(v for v in params.values() if v is not None))
    along_axis = _along_axis(x.ndim, axis, dtype)
    x = x.astype(dtype, copy=False)
    others = _other_axes(x.ndim, axis)
    mean = xp.mean(x, axis=others, keepdims=True)  # (1, .., C, .., 1)
    y = x - mean  # a new array: x - mean, then x_hat, then y
    variance = xp.mean(y * y, axis=others, keepdims=True)
    scale = 1.0 / xp.sqrt(variance + epsilon)
    if params["gamma"] is not None:
        scale = scale * along_axis(params["gamma"])
    y *= scale
    if params["beta"] is not None:
        y += along_axis(params["beta"])
    return y, mean.reshape(-1), variance.reshape(-1)


def batch_norm_train_backward(
    grad_y, x, gamma, batch_mean, batch_variance, epsilon=1e-3, axis=-1, where="batch_norm_train_backward"
):
    """Gradients of :func:`batch_norm_train`, through the batch statistics.

    Args:
        grad_y: the shape of ``x``.
        x, gamma, epsilon, axis: as in the forward (gamma may be None).
        batch_mean, batch_variance: what the forward returned.

    Returns:
        (grad_x, grad_gamma, grad_beta) as in :func:`batch_norm_backward`, with

            grad_x = (d - mean(d) - x_hat * mean(d * x_hat)) / sqrt(batch_variance + epsilon),
            d = grad_y * gamma

        (means per channel over the M values of the channel).
    """
    x, axis = _check_input(x, axis, epsilon, where)
    params = _check_params(
        x, axis, where, grad_y=grad_y, gamma=gamma, batch_mean=batch_mean, batch_variance=batch_variance
    )
    _check_not_empty(x.shape, axis, where)
    xp = get_array_module(x)
    dtype = np.result_type(x, *(v for v in params.values() if v is not None))
    along_axis = _along_axis(x.ndim, axis, dtype)
    g = params["grad_y"].astype(dtype, copy=False)
    others = _other_axes(x.ndim, axis)
    inv_std = 1.0 / xp.sqrt(along_axis(params["batch_variance"]) + epsilon)  # (1, .., C, .., 1)
    x_hat = (x.astype(dtype, copy=False) - along_axis(params["batch_mean"])) * inv_std
    grad_beta = xp.sum(g, axis=others)
    grad_gamma = None
    d = g
    if params["gamma"] is not None:
        grad_gamma = xp.sum(g * x_hat, axis=others)
        d = g * along_axis(params["gamma"])
    grad_x = d - xp.mean(d, axis=others, keepdims=True)  # a new array
    grad_x -= x_hat * xp.mean(d * x_hat, axis=others, keepdims=True)
    grad_x *= inv_std
    return grad_x, grad_gamma, grad_beta


# --- argument checks --------------------------------------------------------------------------

#: parameters that may not be None (the others, gamma and beta, are optional)
_REQUIRED = ("mean", "variance", "batch_mean", "batch_variance", "grad_y")


def _check_input(x, axis, epsilon, where):
    """x as a float array of rank >= 1, axis as a non-negative int; epsilon checked."""
    x = as_float_array(x, where=where, name="inputs")
    if x.ndim == 0:
        raise ValueError(
            f"{where}: expected input of rank >= 1 with a channel axis. Received: inputs.shape={x.shape}"
        )
    if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{where}: the `axis` argument must be an int. Received: axis={axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"{where}: the `axis` argument must be in [-{x.ndim}, {x.ndim}) for input of rank {x.ndim}. "
            f"Received: axis={axis!r}, inputs.shape={x.shape}"
        )
    if not isinstance(epsilon, numbers.Real) or isinstance(epsilon, (bool, np.bool_)):
        raise TypeError(f"{where}: the `epsilon` argument must be a number. Received: epsilon={epsilon!r}")
    if not (math.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(
            f"{where}: the `epsilon` argument must be a finite number >= 0. Received: epsilon={epsilon!r}"
        )
    return x, int(axis) % x.ndim


def _check_params(x, axis, where, **params):
    """Each parameter as a float array: grad_y of x's shape, the others (C,); the required
    ones not None; variances >= 0."""
    channels = x.shape[axis]
    for name, value in params.items():
        if value is None:
            if name in _REQUIRED:
                expected = (
                    f"an array of shape {x.shape}" if name == "grad_y" else f"an array of shape ({channels},)"
                )
                raise TypeError(
                    f"{where}: the `{name}` argument is required ({expected}). Received: {name}=None"
                )
            continue
        value = as_float_array(value, where=where, name=name)
        if name == "grad_y":
            if value.shape != x.shape:
                raise ValueError(
                    f"{where}: grad_y must have the shape of the inputs. "
                    f"Received: grad_y.shape={value.shape}, inputs.shape={x.shape}"
                )
        elif value.shape != (channels,):
            raise ValueError(
                f"{where}: expected {name} of shape ({channels},), one value per channel of axis {axis}. "
                f"Received: {name}.shape={value.shape}, inputs.shape={x.shape}"
            )
        params[name] = value
    xp = get_array_module(x)
    for name in ("variance", "batch_variance"):
        if params.get(name) is not None and bool(xp.any(params[name] < 0)):
            raise ValueError(
                f"{where}: the {name.replace('_', ' ')} must be >= 0 everywhere. "
                f"Received: {name} with minimum {float(xp.min(params[name]))!r}"
            )
    return params


def _check_not_empty(shape, axis, where):
    """Batch statistics need at least one value per channel."""
    if math.prod(shape) == 0 and shape[axis] != 0:
        raise ValueError(
            f"{where}: the batch statistics need at least one value per channel; the axes other than "
            f"axis {axis} hold none. Received: inputs.shape={shape}"
        )


def _along_axis(ndim, axis, dtype):
    """(C,) -> (1, ..., C, ..., 1) with C on ``axis``, in ``dtype``."""
    shape = [1] * ndim
    shape[axis] = -1
    return lambda v: v.astype(dtype, copy=False).reshape(shape)


def _other_axes(ndim, axis):
    return tuple(a for a in range(ndim) if a != axis)
