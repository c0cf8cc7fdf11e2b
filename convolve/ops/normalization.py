"""Batch normalization, inference form (the statistics are given, not computed).

Layout: ``x`` of any rank >= 1, with its channels on ``axis`` (-1 for channels_last,
1 for channels_first); every parameter is a vector of one value per channel:

    x                      (..., C, ...)     C = x.shape[axis]
    mean, variance         (C,)
    gamma, beta            (C,) or None (gamma None: 1; beta None: 0)
    y                      the shape of x

    y = (x - mean) / sqrt(variance + epsilon) * gamma + beta      (per channel, broadcast along axis)
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
    x = as_float_array(x, where=where, name="inputs")
    if x.ndim == 0:
        raise ValueError(f"{where}: expected input of rank >= 1 with a channel axis. Received: inputs.shape={x.shape}")
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
        raise ValueError(f"{where}: the `epsilon` argument must be a finite number >= 0. Received: epsilon={epsilon!r}")
    axis = int(axis) % x.ndim
    channels = x.shape[axis]
    params = {"mean": mean, "variance": variance, "gamma": gamma, "beta": beta}
    for name, value in params.items():
        if value is None:
            if name in ("mean", "variance"):
                raise TypeError(f"{where}: the `{name}` argument is required (an array of shape ({channels},)). Received: {name}=None")
            continue
        value = as_float_array(value, where=where, name=name)
        if value.shape != (channels,):
            raise ValueError(
                f"{where}: expected {name} of shape ({channels},), one value per channel of axis {axis}. "
                f"Received: {name}.shape={value.shape}, inputs.shape={x.shape}"
            )
        params[name] = value
    xp = get_array_module(x)
    if bool(xp.any(params["variance"] < 0)):
        raise ValueError(
            f"{where}: the variance must be >= 0 everywhere. "
            f"Received: variance with minimum {float(xp.min(params['variance']))!r}"
        )

    dtype = np.result_type(x, *(v for v in params.values() if v is not None))
    shape = [1] * x.ndim
    shape[axis] = channels

    def along_axis(v):  # (C,) -> (1, ..., C, ..., 1) in the common dtype
        return v.astype(dtype, copy=False).reshape(shape)

    scale = 1.0 / xp.sqrt(along_axis(params["variance"]) + epsilon)  # (1, .., C, .., 1)
    if params["gamma"] is not None:
        scale = scale * along_axis(params["gamma"])
    y = (x.astype(dtype, copy=False) - along_axis(params["mean"])) * scale  # a new array
    if params["beta"] is not None:
        y += along_axis(params["beta"])
    return y
