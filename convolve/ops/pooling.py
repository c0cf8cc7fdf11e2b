"""Pooling: the maximum or the mean over sliding windows, and over whole feature maps.

Layout, everywhere in this file (channels_last; channels_first input is moved
to this layout on entry and back on exit):

    x   (N, *S, C)      batch, spatial sizes S (1, 2 or 3 of them), channels
    y   (N, *O, C)      O from ops.shapes.conv_output_shape(S, pool_size, strides, padding)

Each channel is pooled on its own. For output position o, the window is

    W(o) = { o * stride + t - before  for every tap t in pool_size }  ∩  the input

where ``before`` is the padding in front of each axis (0 for 'valid'; the 'same' split
of ops.shapes otherwise). Cells that fall in the padding are *not* part of the window,
as in Keras and TensorFlow:

    max_pool:       y[n, o, c] = max over i in W(o) of x[n, i, c]
    average_pool:   y[n, o, c] = (sum over i in W(o) of x[n, i, c]) / |W(o)|

How: the input is padded once (with -inf for the maximum, with zeros for the sum),
then the taps are visited one by one, each a strided view of the padded input
(no loop over pixels, samples or channels); the average divides by |W(o)|, which
is prod(pool_size) for 'valid' and is counted per axis for 'same'.

    global_max_pool / global_average_pool:   y[n, c] = max / mean over all of S
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np

from ..backend import as_float_array, get_array_module
from .args import check_choice, standardize_data_format, standardize_tuple
from .shapes import conv_output_shape

#: The paddings pooling accepts (Keras pooling layers know only these two).
POOL_PADDINGS = ("valid", "same")


def max_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last", where="max_pool"):
    """Maximum over each window of 1, 2 or 3 spatial axes (the input's rank decides).

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first. Integer input is
            cast to float32; the caller's array is never modified.
        pool_size: int or one int per spatial axis.
        strides: int, one int per spatial axis, or None (the default) for ``pool_size``.
        padding: 'valid' (windows inside the input only) or 'same' (out = ceil(S / strides);
            padded cells are ignored, as if they held -inf).
        where: who is calling, for error messages.

    Returns:
        y: (N, *O, C) for channels_last, (N, C, *O) for channels_first; the dtype of ``x``.
    """
    x, pool_size, strides, out_sizes, pads, data_format = _prepare(
        x, pool_size, strides, padding, data_format, where
    )
    xp = get_array_module(x)
    padded = _pad_constant(x, pads, -np.inf)  # (N, *P, C)
    y = None
    for tap in product(*(range(k) for k in pool_size)):
        window = _window(padded, tap, out_sizes, strides)  # (N, *O, C)
        if y is None:
            y = window.copy()
        else:
            xp.maximum(y, window, out=y)
    return _restore_layout(y, data_format)


def average_pool(x, pool_size, strides=None, padding="valid", data_format="channels_last", where="average_pool"):
    """Mean over each window of 1, 2 or 3 spatial axes (the input's rank decides).

    Arguments as :func:`max_pool`. With padding='same', each window's sum is divided by
    the number of input cells it covers, not by prod(pool_size) (padding is not counted,
    as in Keras/TensorFlow; PyTorch's ``count_include_pad=False``).

    Returns:
        y: (N, *O, C) for channels_last, (N, C, *O) for channels_first; the dtype of ``x``.
    """
    x, pool_size, strides, out_sizes, pads, data_format = _prepare(
        x, pool_size, strides, padding, data_format, where
    )
    padded = _pad_constant(x, pads, 0)  # (N, *P, C)
    y = None
    for tap in product(*(range(k) for k in pool_size)):
        window = _window(padded, tap, out_sizes, strides)  # (N, *O, C)
        if y is None:
            y = window.copy()
        else:
            y += window
    y /= _window_counts(x.shape[1:-1], pool_size, strides, pads, out_sizes, x.dtype, get_array_module(x))
    return _restore_layout(y, data_format)


def global_max_pool(x, data_format="channels_last", keepdims=False, where="global_max_pool"):
    """Maximum over all spatial positions of each channel.

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first; 1, 2 or 3 spatial axes.
        keepdims: keep the spatial axes with size 1.

    Returns:
        y: (N, C); with keepdims, (N, 1, ..., 1, C) or (N, C, 1, ..., 1).
    """
    x, axes = _prepare_global(x, data_format, keepdims, where)
    return get_array_module(x).max(x, axis=axes, keepdims=keepdims)


def global_average_pool(x, data_format="channels_last", keepdims=False, where="global_average_pool"):
    """Mean over all spatial positions of each channel. Arguments and shapes as :func:`global_max_pool`."""
    x, axes = _prepare_global(x, data_format, keepdims, where)
    return get_array_module(x).mean(x, axis=axes, keepdims=keepdims)


# --- helpers -----------------------------------------------------------------------


def _prepare(x, pool_size, strides, padding, data_format, where):
    """Validate everything, move channels last; return what the pooling loops need."""
    x = as_float_array(x, where=where, name="inputs")
    shape = x.shape  # as the caller gave it, for messages
    data_format = standardize_data_format(data_format, where)
    n = _spatial_rank(x, data_format, where)
    pool_size = standardize_tuple(pool_size, n, "pool_size", where)
    strides = pool_size if strides is None else standardize_tuple(strides, n, "strides", where)
    padding = check_choice(padding, POOL_PADDINGS, "padding", where)
    if data_format == "channels_first":
        x = get_array_module(x).moveaxis(x, 1, -1)  # a view: (N, *S, C)
    try:
        out_sizes, pads = conv_output_shape(x.shape[1:-1], pool_size, strides, padding, 1, where=where)
    except ValueError as error:  # the only one left: an empty output; add what was received
        raise ValueError(
            f"{error} Received: inputs.shape={shape}, pool_size={pool_size}, strides={strides}, padding={padding!r}"
        ) from None
    return x, pool_size, strides, out_sizes, pads, data_format


def _prepare_global(x, data_format, keepdims, where):
    x = as_float_array(x, where=where, name="inputs")
    data_format = standardize_data_format(data_format, where)
    n = _spatial_rank(x, data_format, where)
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{where}: the `keepdims` argument must be True or False. Received: keepdims={keepdims!r}")
    axes = tuple(range(1, n + 1)) if data_format == "channels_last" else tuple(range(2, n + 2))
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(
            f"{where}: every spatial axis must have at least one position to pool over. "
            f"Received: inputs.shape={x.shape} with data_format={data_format!r}"
        )
    return x, axes


def _spatial_rank(x, data_format, where) -> int:
    n = x.ndim - 2
    if n not in (1, 2, 3):
        layout = "(batch, *spatial, channels)" if data_format == "channels_last" else "(batch, channels, *spatial)"
        raise ValueError(
            f"{where}: expected input of rank 3, 4 or 5 {layout} for 1-, 2- or 3-D pooling. "
            f"Received: inputs.shape={x.shape}"
        )
    return n


def _pad_constant(x, pads, value):
    """Pad the spatial axes of channels_last ``x`` with ``value``; ``x`` itself if no padding."""
    if not any(b or a for b, a in pads):
        return x
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), *pads, (0, 0)), mode="constant", constant_values=value)


def _window(padded, tap, out_sizes, strides):
    """The strided view of ``padded`` (N, *P, C) that tap ``tap`` sees: shape (N, *O, C)."""
    spatial = tuple(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, out_sizes, strides))
    return padded[(slice(None), *spatial, slice(None))]


def _window_counts(sizes, pool_size, strides, pads, out_sizes, dtype, xp):
    """|W(o)|, the number of input cells in each window, shaped (1, *O, 1) to divide (N, *O, C).

    A window is a box, so its count is the product over axes of the count along each axis:
    window o on an axis of size S covers [o * s - before, o * s - before + k) ∩ [0, S).
    """
    if not any(b or a for b, a in pads):
        return math.prod(pool_size)
    n = len(sizes)
    counts = xp.ones((1, *out_sizes, 1), dtype=dtype)
    for axis, (size, k, s, (before, _), o) in enumerate(zip(sizes, pool_size, strides, pads, out_sizes)):
        start = xp.arange(o) * s - before
        along = xp.minimum(start + k, size) - xp.maximum(start, 0)  # (O_axis,)
        shape = [1] * (n + 2)
        shape[axis + 1] = o
        counts = counts * along.reshape(shape).astype(dtype)
    return counts


def _restore_layout(y, data_format):
    """(N, *O, C) back to the caller's layout."""
    if data_format == "channels_first":
        xp = get_array_module(y)
        return xp.ascontiguousarray(xp.moveaxis(y, -1, 1))
    return y
