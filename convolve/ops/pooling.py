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

Compiled (``convolve.config``: Numba's kernels, C-contiguous float32/float64 NumPy input): the
maximum is one pass over x that also records each window's winning cell
(``ops/kernels/pooling.py``; :func:`max_pool_with_winners`, which the tape calls), and the
backward one scatter of grad_y to those cells. Same values and winners as the taps above,
except that a window whose real cells are all -inf routes its gradient to its first real
cell (the taps' -inf padding may claim it).

    global_max_pool / global_average_pool:   y[n, c] = max / mean over all of S

Each forward has its backward pass (vector-Jacobian product) right after it: given grad_y,
the gradient of some scalar with respect to y (the shape of y), it returns grad_x, the
gradient with respect to x, in the caller's layout, as a new C-contiguous array:

    max_pool_backward       grad_x[n, i, c] = sum of grad_y[n, o, c] over the o whose chosen maximum is i
    average_pool_backward   grad_x[n, i, c] = sum of grad_y[n, o, c] / |W(o)| over the o with i in W(o)

Ties. Where two cells of a window share its maximum, the maximum is not differentiable;
the whole gradient of that window then goes to ONE cell, the first maximum in window order
(taps in row-major order, the last spatial axis fastest), as PyTorch does. A NaN counts as
the maximum (the forward's maximum is NaN there): the first NaN of the window gets it (PyTorch's
CPU kernel picks the last; one rule here, the same as numpy.argmax's). The global maximum
routes likewise to the first maximum in row-major order over all of S.
The dtype of grad_x is the common float dtype of grad_y and x (of grad_y alone for the
average, which needs only x's shape).
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np

from ..backend import as_float_array, get_array_module
from . import kernels
from .args import check_choice, standardize_data_format, standardize_tuple
from .reshaping import standardize_shape
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
    return _max_pool(x, pool_size, strides, padding, data_format, where, keep_winners=False)[0]


def max_pool_with_winners(
    x, pool_size, strides=None, padding="valid", data_format="channels_last", where="max_pool"
):
    """:func:`max_pool`, and which cell won each window, for :func:`max_pool_backward`.

    Returns:
        (y, winners): y as :func:`max_pool` returns it; winners an int32 array, from the
        compiled kernel, holding each output's winning cell as a flat index within its sample
        (the layout of ``ops/kernels/pooling.py``), or None where the NumPy path ran (then the
        backward finds the winners itself).
    """
    return _max_pool(x, pool_size, strides, padding, data_format, where, keep_winners=True)


def _max_pool(x, pool_size, strides, padding, data_format, where, keep_winners):
    """(y, winners or None): the compiled kernel where it applies, else the taps' maximum."""
    x, pool_size, strides, out_sizes, pads, data_format = _prepare(
        x, pool_size, strides, padding, data_format, where
    )
    caller = _caller_layout(x, data_format)
    if kernels.enabled(caller) and _fits_int32(x):
        from .kernels import pooling as compiled  # here: the first call imports Numba

        x5, pool, steps, before, out5 = _kernel_geometry(
            caller, pool_size, strides, out_sizes, pads, data_format
        )
        y5 = np.empty(out5, dtype=x.dtype)
        winners = np.empty(out5, dtype=np.int32) if keep_winners else compiled.NO_WINNERS
        kernels.run(
            compiled.max_pool_forward, x5.shape[0], x5, pool, steps, before, y5, winners, keep_winners,
            item_size=math.prod(x5.shape[1:]),
        )
        y_shape = (
            (x.shape[0], *out_sizes, x.shape[-1]) if data_format == "channels_last"
            else (x.shape[0], x.shape[-1], *out_sizes)
        )
        return y5.reshape(y_shape), (winners if keep_winners else None)
    padded = _pad_constant(x, pads, -np.inf)  # (N, *P, C)
    return _restore_layout(_tap_maximum(padded, pool_size, strides, out_sizes), data_format), None


def _tap_maximum(padded, pool_size, strides, out_sizes):
    """The maximum over the taps' strided views of ``padded`` (N, *P, C): (N, *O, C), a new
    array. The first two taps' maximum is the first write (no copy of the first view)."""
    xp = get_array_module(padded)
    windows = (_window(padded, tap, out_sizes, strides) for tap in product(*(range(k) for k in pool_size)))
    y = next(windows)
    second = next(windows, None)
    if second is None:
        return y.copy()
    y = xp.maximum(y, second)
    for window in windows:
        xp.maximum(y, window, out=y)
    return y


def max_pool_backward(
    grad_y,
    x,
    pool_size,
    strides=None,
    padding="valid",
    data_format="channels_last",
    where="max_pool_backward",
    y=None,
    winners=None,
):
    """Gradient of :func:`max_pool` with respect to ``x``: each window's grad_y goes to the
    cell that holds the window's maximum (ties: the first maximum in window order, as
    PyTorch does; see the module docstring).

    Args:
        grad_y: the shape of ``max_pool(x, ...)``: (N, *O, C) or (N, C, *O).
        x: the forward's input; the other arguments as in :func:`max_pool`.
        y: optionally the forward's output ``max_pool(x, ...)`` (the shape of grad_y), which
            saves recomputing it when the windows do not overlap.
        winners: optionally the winners :func:`max_pool_with_winners` returned with y; with
            them (and the compiled kernels active) the backward is one scatter of grad_y.

    Returns:
        grad_x: the shape of ``x``, a new array.

    How: the forward's taps are visited again, keeping the running maximum and the index of
    the tap it came from (replaced only by a strictly larger value, so the first maximum
    stays); then each tap adds grad_y, where it was the chosen one, into its strided view of
    a zero (padded) gradient. Within one tap the view's cells are distinct, so ``+=`` is safe.

    When the windows do not overlap (strides >= pool_size on every axis, as for the usual
    2x2 pool with stride 2) each input cell belongs to at most one window, so no index array
    is needed: the cells equal to their window's maximum, less those a tap earlier in window
    order already claimed, receive grad_y, written through a view of the gradient that gives
    each window its own axes (:func:`_max_pool_backward_disjoint`).
    """
    x, pool_size, strides, out_sizes, pads, data_format = _prepare(
        x, pool_size, strides, padding, data_format, where
    )
    g = _prepare_grad(grad_y, x.shape, out_sizes, data_format, where)  # (N, *O, C)
    xp = get_array_module(x)
    dtype = np.result_type(x, g)
    if winners is not None:
        g_caller = xp.ascontiguousarray(_caller_layout(g, data_format), dtype=dtype)  # grad_y's own layout
        if kernels.enabled(g_caller):
            return _scatter_to_winners(g_caller, winners, x, data_format, where)
    padded = _pad_constant(x, pads, -np.inf)  # (N, *P, C)
    taps = list(product(*(range(k) for k in pool_size)))
    if all(s >= k for s, k in zip(strides, pool_size)):
        if y is not None:
            y = _prepare_grad(y, x.shape, out_sizes, data_format, where).astype(x.dtype, copy=False)
        return _max_pool_backward_disjoint(
            g.astype(dtype, copy=False), padded, y, pool_size, strides, out_sizes, pads, data_format
        )
    has_nan = bool(xp.isnan(x).any())
    best = None  # (N, *O, C): the running maximum
    chosen = xp.zeros(g.shape, dtype=np.min_scalar_type(len(taps) - 1))  # (N, *O, C): index of its tap
    for index, tap in enumerate(taps):
        window = _window(padded, tap, out_sizes, strides)  # (N, *O, C)
        if best is None:
            best = window.copy()
            continue
        better = window > best
        if has_nan:
            better |= xp.isnan(window) & ~xp.isnan(best)
        xp.copyto(best, window, where=better)
        xp.copyto(chosen, index, where=better)
    g = g.astype(dtype, copy=False)
    grad_padded = xp.zeros(padded.shape, dtype=dtype)  # (N, *P, C)
    for index, tap in enumerate(taps):
        target = _window(grad_padded, tap, out_sizes, strides)  # a writable view, (N, *O, C)
        target += xp.where(chosen == index, g, 0)
    return _unpad_and_restore(grad_padded, pads, data_format)


def _scatter_to_winners(g, winners, x, data_format, where):
    """max_pool_backward by the compiled scatter: g the gradient in the caller's layout
    (C-contiguous, the result's dtype), winners from the forward's kernel, x the channels_last
    view of the forward's input (for its shape)."""
    from .kernels import pooling as compiled  # here: the first call imports Numba

    if not isinstance(winners, np.ndarray) or winners.dtype != np.int32 or winners.size != g.size:
        raise ValueError(
            f"{where}: `winners` must be the int32 array max_pool_with_winners returned with the "
            f"forward's output, one entry per output ({g.size}). Received: "
            + (f"an array of {winners.size} {winners.dtype}" if isinstance(winners, np.ndarray)
               else type(winners).__name__)
        )
    if data_format == "channels_last":  # the kernels' samples: (B, S * C) or, channels first, (N * C, S)
        batch, per_sample = x.shape[0], math.prod(x.shape[1:])
    else:
        batch, per_sample = x.shape[0] * x.shape[-1], math.prod(x.shape[1:-1])
    g2 = g.reshape(batch, g.size // batch if batch else 0)  # (B, P)
    grad = np.empty((batch, per_sample), dtype=g.dtype)  # written whole by the kernel
    kernels.run(
        compiled.max_pool_backward, batch, g2, winners.reshape(g2.shape), grad, item_size=per_sample
    )
    shape = x.shape if data_format == "channels_last" else (x.shape[0], x.shape[-1], *x.shape[1:-1])
    return grad.reshape(shape)


def _max_pool_backward_disjoint(g, padded, y, pool_size, strides, out_sizes, pads, data_format):
    """max_pool_backward for windows that do not overlap (strides >= pool_size).

    g (N, *O, C) in the result dtype; padded (N, *P, C) the (-inf padded) input; y (N, *O, C)
    the forward's maximum or None. The windows are viewed as their own axes, without a copy:

        blocks   (N, O1, k1, O2, k2, ..., C),
                 blocks[n, o1, t1, o2, t2, ..., c] = padded[n, o1*s1 + t1, o2*s2 + t2, ..., c]
        hit      = blocks == y[:, :, None, :, None, ..., :]     (every cell equal to its window's maximum)

    then, tap by tap in window order, a hit already claimed by an earlier tap is dropped (the
    first maximum wins), and ``grad_blocks = g[:, :, None, :, None, ..., :] * hit`` is written
    into the same view of a zero gradient (cells in no window keep 0). A NaN window's maximum
    is NaN; there the first NaN cell is the hit, as in the general path. Windows do not
    overlap, so no cell is written twice.
    """
    xp = get_array_module(padded)
    if y is None:
        y = _tap_maximum(padded, pool_size, strides, out_sizes)

    def blocks(a):
        """(N, *P, C) -> the (N, O1, k1, ..., C) view of its windows."""
        shape, steps = [a.shape[0]], [a.strides[0]]
        for axis, (o, k, s) in enumerate(zip(out_sizes, pool_size, strides)):
            shape += [o, k]
            steps += [a.strides[axis + 1] * s, a.strides[axis + 1]]
        return xp.lib.stride_tricks.as_strided(
            a, (*shape, a.shape[-1]), (*steps, a.strides[-1]), writeable=a is not padded
        )

    def per_window(a):
        """(N, *O, C) -> (N, O1, 1, O2, 1, ..., C), to broadcast against the blocks."""
        return a.reshape(a.shape[0], *(d for o in a.shape[1:-1] for d in (o, 1)), a.shape[-1])

    y_b = per_window(y)
    hit = blocks(padded) == y_b  # (N, O1, k1, ..., C)
    if bool(xp.isnan(y).any()):
        hit |= xp.isnan(blocks(padded)) & xp.isnan(y_b)
    claimed = None
    for tap in product(*(range(k) for k in pool_size)):
        index = (slice(None), *(i for t in tap for i in (slice(None), t)), slice(None))
        tap_hit = hit[index]  # a view: (N, *O, C)
        if claimed is None:
            claimed = tap_hit.copy()
        else:
            tap_hit &= ~claimed
            claimed |= tap_hit
    covered = all(
        s == k and p == o * k for p, o, s, k in zip(padded.shape[1:-1], out_sizes, strides, pool_size)
    )
    grad_padded = (xp.empty if covered else xp.zeros)(padded.shape, dtype=g.dtype)  # (N, *P, C)
    g_b = per_window(g)
    if bool(xp.isfinite(g).all()):
        xp.multiply(g_b, hit, out=blocks(grad_padded))
    else:  # g * False would be NaN where g is inf or NaN
        xp.copyto(blocks(grad_padded), xp.where(hit, g_b, xp.zeros((), dtype=g.dtype)))
    return _unpad_and_restore(grad_padded, pads, data_format)


def average_pool(
    x, pool_size, strides=None, padding="valid", data_format="channels_last", where="average_pool"
):
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


def average_pool_backward(
    grad_y,
    x_shape,
    pool_size,
    strides=None,
    padding="valid",
    data_format="channels_last",
    where="average_pool_backward",
):
    """Gradient of :func:`average_pool` with respect to its input: each window's grad_y,
    divided by the window's count |W(o)| (the real cells only, with 'same' padding, as in
    the forward), is spread evenly over the window's cells.

    Args:
        grad_y: the shape of ``average_pool(x, ...)``: (N, *O, C) or (N, C, *O).
        x_shape: the shape of the forward's input ``x`` (only its shape is needed).
        pool_size, strides, padding, data_format: as in :func:`average_pool`.

    Returns:
        grad_x: of shape ``x_shape``, a new array with the float dtype of ``grad_y``.
    """
    x_shape = standardize_shape(x_shape, "x_shape", where)
    pool_size, strides, out_sizes, pads, data_format, last_shape = _geometry(
        x_shape, pool_size, strides, padding, data_format, where, name="x_shape"
    )
    g = _prepare_grad(grad_y, last_shape, out_sizes, data_format, where)  # (N, *O, C)
    xp = get_array_module(g)
    share = g / _window_counts(
        last_shape[1:-1], pool_size, strides, pads, out_sizes, g.dtype, xp
    )  # a new array
    padded_shape = (last_shape[0], *(s + b + a for s, (b, a) in zip(last_shape[1:-1], pads)), last_shape[-1])
    grad_padded = xp.zeros(padded_shape, dtype=g.dtype)  # (N, *P, C)
    for tap in product(*(range(k) for k in pool_size)):
        target = _window(grad_padded, tap, out_sizes, strides)  # a writable view, (N, *O, C)
        target += share
    return _unpad_and_restore(grad_padded, pads, data_format)


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


def global_max_pool_backward(
    grad_y, x, data_format="channels_last", keepdims=False, where="global_max_pool_backward"
):
    """Gradient of :func:`global_max_pool` with respect to ``x``: grad_y[n, c] goes to the cell
    holding the maximum of channel c of sample n (ties: the first maximum in row-major order
    over the spatial axes; a NaN counts as the maximum).

    Args:
        grad_y: the shape of ``global_max_pool(x, data_format, keepdims)``.
        x: the forward's input; data_format and keepdims as in the forward.

    Returns:
        grad_x: the shape of ``x``, a new array.
    """
    x, axes = _prepare_global(x, data_format, keepdims, where)
    g = _prepare_global_grad(grad_y, x.shape, axes, keepdims, where)  # (N, C)
    xp = get_array_module(x)
    dtype = np.result_type(x, g)
    g = g.astype(dtype, copy=False)
    batch, positions = x.shape[0], math.prod(x.shape[a] for a in axes)
    if axes[0] == 1:  # channels_last: (N, P, C), P = prod(S)
        first = xp.argmax(x.reshape(batch, positions, x.shape[-1]), axis=1)  # (N, C); argmax keeps the first
        grad = xp.where(xp.arange(positions).reshape(1, positions, 1) == first[:, None, :], g[:, None, :], 0)
    else:  # channels_first: (N, C, P)
        first = xp.argmax(x.reshape(batch, x.shape[1], positions), axis=2)  # (N, C)
        grad = xp.where(xp.arange(positions).reshape(1, 1, positions) == first[:, :, None], g[:, :, None], 0)
    return grad.reshape(x.shape)


def global_average_pool(x, data_format="channels_last", keepdims=False, where="global_average_pool"):
    """Mean over all spatial positions of each channel. Arguments and shapes as :func:`global_max_pool`."""
    x, axes = _prepare_global(x, data_format, keepdims, where)
    return get_array_module(x).mean(x, axis=axes, keepdims=keepdims)


def global_average_pool_backward(
    grad_y, x_shape, data_format="channels_last", keepdims=False, where="global_average_pool_backward"
):
    """Gradient of :func:`global_average_pool`: grad_y[n, c] / prod(S) at every spatial cell.

    Args:
        grad_y: the shape of ``global_average_pool(x, data_format, keepdims)``.
        x_shape: the shape of the forward's input (only its shape is needed).

    Returns:
        grad_x: of shape ``x_shape``, a new array with the float dtype of ``grad_y``.
    """
    x_shape = standardize_shape(x_shape, "x_shape", where)
    axes = _global_axes(x_shape, data_format, keepdims, where, name="x_shape")
    g = _prepare_global_grad(grad_y, x_shape, axes, keepdims, where)  # (N, C)
    xp = get_array_module(g)
    kept = [1] * len(x_shape)  # (N, 1, ..., 1, C) or (N, C, 1, ..., 1)
    kept[0], kept[-1 if axes[0] == 1 else 1] = g.shape
    grad = xp.empty(x_shape, dtype=g.dtype)
    grad[...] = g.reshape(kept) / math.prod(x_shape[a] for a in axes)
    return grad


# --- helpers -----------------------------------------------------------------------


def _prepare(x, pool_size, strides, padding, data_format, where):
    """Validate everything, move channels last; return what the pooling loops need."""
    x = as_float_array(x, where=where, name="inputs")
    pool_size, strides, out_sizes, pads, data_format, _ = _geometry(
        x.shape, pool_size, strides, padding, data_format, where
    )
    if data_format == "channels_first":
        x = get_array_module(x).moveaxis(x, 1, -1)  # a view: (N, *S, C)
    return x, pool_size, strides, out_sizes, pads, data_format


def _geometry(shape, pool_size, strides, padding, data_format, where, name="inputs.shape"):
    """Validate the arguments against an input shape (as the caller gave it, ``name`` in
    messages); return pool_size, strides, out_sizes, pads, data_format and the channels_last
    shape (N, *S, C)."""
    data_format = standardize_data_format(data_format, where)
    n = _spatial_rank(shape, data_format, where, name)
    pool_size = standardize_tuple(pool_size, n, "pool_size", where)
    strides = pool_size if strides is None else standardize_tuple(strides, n, "strides", where)
    padding = check_choice(padding, POOL_PADDINGS, "padding", where)
    last_shape = tuple(shape) if data_format == "channels_last" else (shape[0], *shape[2:], shape[1])
    try:
        out_sizes, pads = conv_output_shape(last_shape[1:-1], pool_size, strides, padding, 1, where=where)
    except ValueError as error:  # the only one left: an empty output; add what was received
        raise ValueError(
            f"{error} Received: {name}={tuple(shape)}, pool_size={pool_size}, strides={strides}, "
            f"padding={padding!r}"
        ) from None
    return pool_size, strides, out_sizes, pads, data_format, last_shape


def _prepare_grad(grad_y, last_shape, out_sizes, data_format, where):
    """grad_y as a float array of the forward's output shape, moved to channels_last (N, *O, C)."""
    g = as_float_array(grad_y, where=where, name="grad_y")
    batch, channels = last_shape[0], last_shape[-1]
    expected = (
        (batch, *out_sizes, channels) if data_format == "channels_last" else (batch, channels, *out_sizes)
    )
    if g.shape != expected:
        raise ValueError(
            f"{where}: expected grad_y of shape {expected}, the shape of the forward's output. "
            f"Received: grad_y.shape={g.shape}"
        )
    return get_array_module(g).moveaxis(g, 1, -1) if data_format == "channels_first" else g


def _unpad_and_restore(grad_padded, pads, data_format):
    """(N, *P, C) gradient of the padded input -> the input's gradient in the caller's layout,
    C-contiguous: the padding's share is dropped (it is no part of the input)."""
    spatial = tuple(slice(b, p - a) for p, (b, a) in zip(grad_padded.shape[1:-1], pads))
    grad = grad_padded[(slice(None), *spatial, slice(None))]
    xp = get_array_module(grad)
    if data_format == "channels_first":
        grad = xp.moveaxis(grad, -1, 1)
    return xp.ascontiguousarray(grad)


def _prepare_global(x, data_format, keepdims, where):
    x = as_float_array(x, where=where, name="inputs")
    return x, _global_axes(x.shape, data_format, keepdims, where)


def _global_axes(shape, data_format, keepdims, where, name="inputs.shape"):
    """Validate; return the spatial axes of an input of ``shape``."""
    data_format = standardize_data_format(data_format, where)
    n = _spatial_rank(shape, data_format, where, name)
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(
            f"{where}: the `keepdims` argument must be True or False. Received: keepdims={keepdims!r}"
        )
    axes = tuple(range(1, n + 1)) if data_format == "channels_last" else tuple(range(2, n + 2))
    if any(shape[a] == 0 for a in axes):
        raise ValueError(
            f"{where}: every spatial axis must have at least one position to pool over. "
            f"Received: {name}={tuple(shape)} with data_format={data_format!r}"
        )
    return axes


def _prepare_global_grad(grad_y, shape, axes, keepdims, where):
    """grad_y of a global pooling as a float (N, C) array, after checking its shape."""
    g = as_float_array(grad_y, where=where, name="grad_y")
    channels = shape[-1] if axes[0] == 1 else shape[1]
    if keepdims:
        expected = tuple(1 if a in axes else d for a, d in enumerate(shape))
    else:
        expected = (shape[0], channels)
    if g.shape != expected:
        raise ValueError(
            f"{where}: expected grad_y of shape {expected}, the shape of the forward's output "
            f"(keepdims={keepdims}). Received: grad_y.shape={g.shape}"
        )
    return g.reshape(shape[0], channels)


def _spatial_rank(shape, data_format, where, name="inputs.shape") -> int:
    n = len(shape) - 2
    if n not in (1, 2, 3):
        layout = (
            "(batch, *spatial, channels)" if data_format == "channels_last" else "(batch, channels, *spatial)"
        )
        raise ValueError(
            f"{where}: expected input of rank 3, 4 or 5 {layout} for 1-, 2- or 3-D pooling. "
            f"Received: {name}={tuple(shape)}"
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


def _caller_layout(a, data_format):
    """The caller's layout of channels_last ``a`` (N, *S, C): ``a`` itself, or for channels_first
    the view (N, C, *S) it was moved from (C-contiguous when the caller's array was)."""
    return a if data_format == "channels_last" else get_array_module(a).moveaxis(a, -1, 1)


def _fits_int32(x) -> bool:
    """Whether one sample's cells can be indexed by the kernels' int32 winners."""
    return math.prod(x.shape[1:]) < 2**31


def _kernel_geometry(caller, pool_size, strides, out_sizes, pads, data_format):
    """The 5-D views and 3-tuples ``ops/kernels/pooling.py`` takes: x5 (B, D, H, W, C), the
    pool, strides and padding before each axis (leading axes of size 1 added), and y's 5-D
    shape. channels_first (N, C, *S) becomes (N * C, *S, 1): each channel a sample of its own."""
    n = len(pool_size)
    lead = 3 - n
    if data_format == "channels_last":
        batch, sizes, channels = caller.shape[0], caller.shape[1:-1], caller.shape[-1]
    else:
        batch, sizes, channels = caller.shape[0] * caller.shape[1], caller.shape[2:], 1
    x5 = caller.reshape(batch, *(1,) * lead, *sizes, channels)
    pool = (1,) * lead + tuple(int(k) for k in pool_size)
    steps = (1,) * lead + tuple(int(s) for s in strides)
    before = (0,) * lead + tuple(int(b) for b, _ in pads)
    out5 = (batch, *(1,) * lead, *out_sizes, channels)
    return x5, pool, steps, before, out5


def _restore_layout(y, data_format):
    """(N, *O, C) back to the caller's layout."""
    if data_format == "channels_first":
        xp = get_array_module(y)
        return xp.ascontiguousarray(xp.moveaxis(y, -1, 1))
    return y
