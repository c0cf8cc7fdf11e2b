"""Moving values around without arithmetic: padding, cropping, upsampling, flattening, reshaping,
permuting axes.

Layout: ``x`` is (N, *S, C) for channels_last, (N, C, *S) for channels_first, with 1, 2
or 3 spatial axes S (the input's rank decides), except for :func:`flatten`,
:func:`reshape` and :func:`permute`, which take any rank with a leading batch axis.

    zero_pad          (N, *S, C) -> (N, *(S + before + after), C)    zeros around each spatial axis
    crop              (N, *S, C) -> (N, *(S - before - after), C)    cells removed at each end
    upsample_nearest  (N, *S, C) -> (N, *(S * size), C)              each cell repeated size times per axis
    flatten           (N, ...)   -> (N, prod(...))                   channels_first: channels moved last first
    reshape           (N, ...)   -> (N, *target_shape)
    permute           (N, d_1, ..., d_k) -> (N, d_dims[0], ..., d_dims[k-1])   dims 1-indexed (Keras' Permute)

Padding and cropping amounts follow Keras' ZeroPadding1D/2D/3D and Cropping1D/2D/3D: an int
(the same at both ends of every axis); for 1-D a tuple (before, after); for 2-D and 3-D a
tuple of one int per axis (the same at both ends); or a tuple of one (before, after) pair
per axis.

zero_pad, crop, upsample_nearest and permute always return a new (C-contiguous) array; flatten
and reshape return a view of ``x`` when NumPy can (as numpy.reshape does). None of them writes
to ``x``.

Each forward has its backward pass (vector-Jacobian product) right after it: given grad_y
(the shape of y), it returns grad_x (the shape of x), the forward's adjoint:

    zero_pad_backward          crop the padding off grad_y                 (a new array)
    crop_backward              put grad_y back in place, zeros around it   (a new array)
    upsample_nearest_backward  sum each size_1 x ... x size_d block        (a new array)
    flatten_backward           unflatten (channels moved back first)       (a view of grad_y when NumPy can)
    reshape_backward           grad_y reshaped to x's shape                (a view of grad_y when NumPy can)
    permute_backward           grad_y permuted back (the inverse order)    (a new array)

As with the forwards, flatten_backward and reshape_backward may return views: copy before
writing into their results. The backwards take only x's shape (where they need it), never x.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import as_float_array, get_array_module
from .args import standardize_data_format, standardize_tuple
from .shapes import axis_names


def zero_pad(x, padding, data_format="channels_last", where="zero_pad"):
    """Add zeros before and after each spatial axis.

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first; integer input is cast
            to float32.
        padding: an int, (before, after) for 1-D, one int per axis, or one (before, after)
            pair per axis; all >= 0 (see the module docstring).

    Returns:
        (N, *(S + before + after), C) (or channels first), a new array.
    """
    x, data_format, n = _prepare_spatial(x, data_format, where)
    pairs = _standardize_pairs(padding, n, "padding", where)
    xp = get_array_module(x)
    return xp.pad(x, _full_pairs(pairs, data_format), mode="constant", constant_values=0)


def zero_pad_backward(grad_y, padding, data_format="channels_last", where="zero_pad_backward"):
    """Gradient of :func:`zero_pad`: grad_y without the padded cells (their values were constants).

    Args:
        grad_y: the shape of ``zero_pad(x, padding, data_format)``.
        padding, data_format: as in the forward.

    Returns:
        grad_x: the shape of ``x``, a new array.
    """
    g, data_format, n = _prepare_spatial(grad_y, data_format, where, name="grad_y")
    pairs = _standardize_pairs(padding, n, "padding", where)
    sizes = g.shape[1:-1] if data_format == "channels_last" else g.shape[2:]
    problems = [
        f"{name}: grad_y {size}, padding ({before}, {after})"
        for name, size, (before, after) in zip(axis_names(n), sizes, pairs)
        if size < before + after
    ]
    if problems:
        raise ValueError(
            f"{where}: grad_y is smaller than the padding it should contain: {'; '.join(problems)}. "
            f"Received: padding={padding!r}, grad_y.shape={g.shape}"
        )
    return g[_spatial_index(sizes, pairs, data_format)].copy()


def crop(x, cropping, data_format="channels_last", where="crop"):
    """Remove cells at the start and end of each spatial axis.

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first.
        cropping: as ``padding`` in :func:`zero_pad`; every axis must keep at least one cell.

    Returns:
        (N, *(S - before - after), C) (or channels first), a new array.
    """
    x, data_format, n = _prepare_spatial(x, data_format, where)
    pairs = _standardize_pairs(cropping, n, "cropping", where)
    sizes = x.shape[1:-1] if data_format == "channels_last" else x.shape[2:]
    problems = [
        f"{name}: input {size}, cropping ({before}, {after}) → output {size - before - after}"
        for name, size, (before, after) in zip(axis_names(n), sizes, pairs)
        if size - before - after < 1
    ]
    if problems:
        raise ValueError(
            f"{where}: the output would be empty: {'; '.join(problems)}. Every spatial axis must keep "
            f"at least one cell. Received: cropping={cropping!r}, inputs.shape={x.shape}"
        )
    return x[_spatial_index(sizes, pairs, data_format)].copy()


def crop_backward(grad_y, x_shape, cropping, data_format="channels_last", where="crop_backward"):
    """Gradient of :func:`crop`: grad_y put back where its cells came from, zeros for the
    cropped cells.

    Args:
        grad_y: the shape of ``crop(x, cropping, data_format)``.
        x_shape: the shape of the forward's input.
        cropping, data_format: as in the forward.

    Returns:
        grad_x: of shape ``x_shape``, a new array with the float dtype of grad_y.
    """
    x_shape = standardize_shape(x_shape, "x_shape", where)
    g = as_float_array(grad_y, where=where, name="grad_y")
    data_format = standardize_data_format(data_format, where)
    n = _spatial_rank(x_shape, data_format, where, "x_shape")
    pairs = _standardize_pairs(cropping, n, "cropping", where)
    first = 1 if data_format == "channels_last" else 2
    sizes = x_shape[first:first + n]
    expected = list(x_shape)
    expected[first:first + n] = [size - before - after for size, (before, after) in zip(sizes, pairs)]
    if g.shape != tuple(expected):
        raise ValueError(
            f"{where}: expected grad_y of shape {tuple(expected)}, the shape of the forward's output "
            f"(x_shape={x_shape} cropped by {pairs}). Received: grad_y.shape={g.shape}"
        )
    grad = get_array_module(g).zeros(x_shape, dtype=g.dtype)
    grad[_spatial_index(sizes, pairs, data_format)] = g
    return grad


def upsample_nearest(x, size, data_format="channels_last", where="upsample_nearest"):
    """Repeat each cell ``size`` times along each spatial axis (Keras UpSampling1D/2D/3D).

    y[n, i_1, ..., i_d, c] = x[n, i_1 // size_1, ..., i_d // size_d, c]

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first.
        size: a positive int or one per spatial axis.

    Returns:
        (N, *(S * size), C) (or channels first), a new array.
    """
    x, data_format, n = _prepare_spatial(x, data_format, where)
    size = standardize_tuple(size, n, "size", where)
    first = 1 if data_format == "channels_last" else 2
    # x viewed as (N, S_1, 1, S_2, 1, ..., C) is broadcast into (N, S_1, r_1, S_2, r_2, ..., C)
    viewed, repeated, final = [], [], []
    for axis, dim in enumerate(x.shape):
        if first <= axis < first + n:
            r = size[axis - first]
            viewed += [dim, 1]
            repeated += [dim, r]
            final.append(dim * r)
        else:
            viewed.append(dim)
            repeated.append(dim)
            final.append(dim)
    xp = get_array_module(x)
    y = xp.empty(repeated, dtype=x.dtype)
    y[...] = x.reshape(viewed)
    return y.reshape(final)


def upsample_nearest_backward(grad_y, size, data_format="channels_last", where="upsample_nearest_backward"):
    """Gradient of :func:`upsample_nearest`: each input cell was copied to a block of
    size_1 x ... x size_d output cells, so its gradient is the sum of grad_y over that block.

    grad_y (N, S_1 r_1, ..., S_d r_d, C) is viewed as (N, S_1, r_1, ..., S_d, r_d, C) and summed
    over the r axes.

    Args:
        grad_y: the shape of ``upsample_nearest(x, size, data_format)``; every spatial size a
            multiple of ``size``.
        size, data_format: as in the forward.

    Returns:
        grad_x: the shape of ``x``, a new array.
    """
    g, data_format, n = _prepare_spatial(grad_y, data_format, where, name="grad_y")
    size = standardize_tuple(size, n, "size", where)
    first = 1 if data_format == "channels_last" else 2
    sizes = g.shape[first:first + n]
    problems = [
        f"{name}: {s} is not a multiple of {r}" for name, s, r in zip(axis_names(n), sizes, size) if s % r
    ]
    if problems:
        raise ValueError(
            f"{where}: each spatial size of grad_y must be a multiple of `size`: {'; '.join(problems)}. "
            f"Received: size={size}, grad_y.shape={g.shape}"
        )
    blocks = []
    for s, r in zip(sizes, size):
        blocks += [s // r, r]
    viewed = (*g.shape[:first], *blocks, *g.shape[first + n:])
    summed = tuple(first + 2 * k + 1 for k in range(n))  # the r axes
    return get_array_module(g).sum(g.reshape(viewed), axis=summed)


def flatten(x, data_format="channels_last", where="flatten"):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k), as Keras' Flatten.

    channels_first input of rank > 2 has its channels moved last first, so that the result
    is the same as for the channels_last version of the same data; rank-1 input becomes (N, 1).
    """
    x = as_float_array(x, where=where, name="inputs")
    data_format = standardize_data_format(data_format, where)
    if x.ndim == 0:
        raise ValueError(
            f"{where}: expected input with a batch axis (rank >= 1). Received: inputs.shape={x.shape}"
        )
    if x.ndim == 1:
        return x.reshape(x.shape[0], 1)
    if data_format == "channels_first" and x.ndim > 2:
        x = get_array_module(x).moveaxis(x, 1, -1)
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def flatten_backward(grad_y, x_shape, data_format="channels_last", where="flatten_backward"):
    """Gradient of :func:`flatten`: grad_y (N, prod(...)) back to ``x_shape``, undoing the
    channels move for channels_first input of rank > 2.

    Returns:
        grad_x: of shape ``x_shape``; a view of grad_y when NumPy can (channels_last), a new
        C-contiguous array for channels_first input of rank > 2.
    """
    x_shape = standardize_shape(x_shape, "x_shape", where)
    g = as_float_array(grad_y, where=where, name="grad_y")
    data_format = standardize_data_format(data_format, where)
    if not x_shape:
        raise ValueError(
            f"{where}: expected x_shape with a batch axis (rank >= 1). Received: x_shape={x_shape}"
        )
    expected = (x_shape[0], math.prod(x_shape[1:]))
    if g.shape != expected:
        raise ValueError(
            f"{where}: expected grad_y of shape {expected}, the shape of the forward's output. "
            f"Received: grad_y.shape={g.shape}, x_shape={x_shape}"
        )
    if data_format == "channels_first" and len(x_shape) > 2:
        xp = get_array_module(g)
        last = g.reshape(x_shape[0], *x_shape[2:], x_shape[1])  # (N, *S, C), as flattened
        return xp.ascontiguousarray(xp.moveaxis(last, -1, 1))
    return g.reshape(x_shape)


def reshape(x, target_shape, where="reshape"):
    """(N, ...) -> (N, *target_shape), as Keras' Reshape.

    Args:
        x: any rank >= 1; the first axis is the batch and is kept.
        target_shape: a tuple of positive ints, the batch axis excluded; one entry may be -1,
            worked out from the others.
    """
    x = as_float_array(x, where=where, name="inputs")
    if x.ndim == 0:
        raise ValueError(
            f"{where}: expected input with a batch axis (rank >= 1). Received: inputs.shape={x.shape}"
        )
    expected = "a tuple of positive ints (the batch axis excluded), with at most one -1"
    try:
        target = tuple(target_shape)
    except TypeError:
        raise TypeError(
            f"{where}: the `target_shape` argument must be {expected}. "
            f"Received: target_shape={target_shape!r}"
        ) from None
    if not all(_is_int(d) and (d >= 1 or d == -1) for d in target) or sum(d == -1 for d in target) > 1:
        raise ValueError(
            f"{where}: the `target_shape` argument must be {expected}. "
            f"Received: target_shape={target_shape!r}"
        )
    target = tuple(int(d) for d in target)
    target = resolve_target_shape(
        math.prod(x.shape[1:]), target, where, f" (inputs.shape={x.shape})", f"target_shape={target_shape!r}"
    )
    return x.reshape((x.shape[0], *target))


def resolve_target_shape(
    per_sample: int, target: tuple, where: str, described: str = "", received: str = ""
) -> tuple:
    """``target`` with its -1 (if any) worked out from ``per_sample`` values per sample.

    Raises ValueError when the sizes cannot agree; ``described`` follows the count in the
    message (e.g. the input's shape) and ``received`` is the 'Received:' part.
    """
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if per_sample % known:
            raise ValueError(
                f"{where}: cannot reshape {per_sample} values per sample{described} into "
                f"target_shape {target}: {per_sample} is not divisible by {known}, the product of the known "
                f"sizes. Received: {received}"
            )
        return tuple(per_sample // known if d == -1 else d for d in target)
    if known != per_sample:
        raise ValueError(
            f"{where}: cannot reshape {per_sample} values per sample{described} into "
            f"target_shape {target}, which holds {known}. Received: {received}"
        )
    return target


def reshape_backward(grad_y, x_shape, where="reshape_backward"):
    """Gradient of :func:`reshape`: grad_y reshaped back to ``x_shape`` (a view when NumPy can)."""
    x_shape = standardize_shape(x_shape, "x_shape", where)
    g = as_float_array(grad_y, where=where, name="grad_y")
    if not x_shape or g.ndim == 0 or g.shape[0] != x_shape[0] or g.size != math.prod(x_shape):
        raise ValueError(
            f"{where}: grad_y must have the batch size and the number of values of x_shape "
            "(the forward keeps the batch axis and every value). "
            f"Received: grad_y.shape={g.shape}, x_shape={x_shape}"
        )
    return g.reshape(x_shape)


def permute(x, dims, where="permute"):
    """Reorder the axes after the batch axis, as Keras' Permute:

        y.shape == (N, x.shape[dims[0]], ..., x.shape[dims[k - 1]])
        y[n, i_1, ..., i_k] = x[n, j_1, ..., j_k]  with  j_{dims[a]} = i_a

    Args:
        x: (N, d_1, ..., d_k); integer input is cast to float32.
        dims: a permutation of 1..k (axes are 1-indexed: the batch axis, 0, stays first),
            e.g. (2, 1) swaps the two axes of (N, steps, features).

    Returns:
        the permuted array, a new C-contiguous one (the layers after it read it row by row).
    """
    x = as_float_array(x, where=where, name="inputs")
    dims = standardize_dims(dims, where)
    if x.ndim != len(dims) + 1:
        raise ValueError(
            f"{where}: expected input of rank {len(dims) + 1} (the batch axis and the {len(dims)} axes "
            f"`dims` orders). Received: inputs.shape={x.shape}, dims={dims}"
        )
    xp = get_array_module(x)
    return xp.ascontiguousarray(xp.transpose(x, (0, *dims)))


def permute_backward(grad_y, dims, where="permute_backward"):
    """Gradient of :func:`permute`: axis a of y came from axis dims[a - 1] of x, so grad_y is
    permuted by the inverse order (a permutation's Jacobian is a permutation matrix, whose
    transpose is its inverse).

    Args:
        grad_y: the shape of ``permute(x, dims)``.
        dims: as in the forward.

    Returns:
        grad_x: the shape of ``x``, a new C-contiguous array.
    """
    g = as_float_array(grad_y, where=where, name="grad_y")
    dims = standardize_dims(dims, where)
    if g.ndim != len(dims) + 1:
        raise ValueError(
            f"{where}: expected grad_y of rank {len(dims) + 1}, the rank of the forward's output. "
            f"Received: grad_y.shape={g.shape}, dims={dims}"
        )
    xp = get_array_module(g)
    inverse = tuple(int(a) for a in np.argsort((0, *dims)))
    return xp.ascontiguousarray(xp.transpose(g, inverse))


# --- helpers ---------------------------------------------------------------------------


def standardize_dims(dims, where) -> tuple:
    """Keras' Permute ``dims``: a permutation of 1..k, the batch axis excluded -> a tuple of ints."""
    message = (
        f"{where}: the `dims` argument must be a tuple holding each of 1..k once, the axes after the batch "
        f"axis in their new order (1-indexed: (2, 1) swaps two axes). Received: dims={dims!r}"
    )
    if isinstance(dims, str):
        raise TypeError(message)
    try:
        items = tuple(dims)
    except TypeError:
        raise TypeError(message) from None
    if not all(_is_int(d) for d in items) or sorted(int(d) for d in items) != list(range(1, len(items) + 1)):
        raise ValueError(message)
    return tuple(int(d) for d in items)



def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def standardize_shape(shape, name, where):
    """An array's shape (a sequence of non-negative ints) -> a tuple of ints; for the
    backward passes that take the forward input's shape instead of the input."""
    message = (
        f"{where}: the `{name}` argument must be a tuple of non-negative ints (an array's shape). "
        f"Received: {name}={shape!r}"
    )
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(message) from None
    if not all(_is_int(d) and d >= 0 for d in items):
        raise ValueError(message)
    return tuple(int(d) for d in items)


def _prepare_spatial(x, data_format, where, name="inputs"):
    x = as_float_array(x, where=where, name=name)
    data_format = standardize_data_format(data_format, where)
    return x, data_format, _spatial_rank(x.shape, data_format, where, f"{name}.shape")


def _spatial_rank(shape, data_format, where, name):
    n = len(shape) - 2
    if n not in (1, 2, 3):
        layout = (
            "(batch, *spatial, channels)" if data_format == "channels_last" else "(batch, channels, *spatial)"
        )
        raise ValueError(
            f"{where}: expected input of rank 3, 4 or 5 {layout} with 1, 2 or 3 spatial axes. "
            f"Received: {name}={tuple(shape)}"
        )
    return n


def _spatial_index(sizes, pairs, data_format):
    """The index that keeps [before, size - after) of each spatial axis, all of the others."""
    spatial = tuple(slice(before, size - after) for size, (before, after) in zip(sizes, pairs))
    return (
        (slice(None), *spatial, slice(None))
        if data_format == "channels_last"
        else (slice(None), slice(None), *spatial)
    )


def _standardize_pairs(value, n, name, where):
    """Keras' ZeroPadding/Cropping argument -> n (before, after) pairs of non-negative ints.

    int p                  ((p, p),) * n
    (before, after), 1-D   ((before, after),)             (Keras ZeroPadding1D, Cropping1D)
    n ints, 2-D and 3-D    ((p_1, p_1), ..., (p_n, p_n))
    n pairs                as given
    """
    if n == 1:
        expected = (
            "a non-negative int, a tuple of 2 non-negative ints (before, after), or a tuple of 1 such pair"
        )
    else:
        expected = (
            f"a non-negative int, a tuple of {n} non-negative ints (one per spatial axis), "
            f"or a tuple of {n} (before, after) pairs of non-negative ints"
        )
    message = f"{where}: the `{name}` argument must be {expected}. Received: {name}={value!r}"
    if _is_int(value):
        if value < 0:
            raise ValueError(message)
        return ((int(value), int(value)),) * n
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(message) from None
    if n == 1 and len(items) == 2 and all(_is_int(v) for v in items):
        items = (items,)  # Keras' 1-D form: (before, after)
    if len(items) != n:
        raise ValueError(message)
    pairs = []
    for item in items:
        if _is_int(item):
            pair = (item, item)
        else:
            try:
                pair = tuple(item)
            except TypeError:
                raise ValueError(message) from None
        if len(pair) != 2 or not all(_is_int(v) and v >= 0 for v in pair):
            raise ValueError(message)
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


def _full_pairs(pairs, data_format):
    """Spatial (before, after) pairs -> one pair per axis of the whole array."""
    if data_format == "channels_last":
        return ((0, 0), *pairs, (0, 0))
    return ((0, 0), (0, 0), *pairs)
