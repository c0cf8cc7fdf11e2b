"""Image functions: resizing, geometric transforms with fill modes, crops, flips, and contrast and
brightness, each forward with its backward (vector-Jacobian product) beside it where one exists.

Layout: one image (H, W, C) or a batch (N, H, W, C) for channels_last; (C, H, W) or
(N, C, H, W) for channels_first. Integer input is cast to float32, float input keeps its
dtype; every function returns a new array and never writes to its input.

    resize            (.., H, W, ..) -> (.., h, w, ..)   separable resampling, half-pixel centres
    transform         same shape                          Keras' 8-number projective transforms,
                                                          resampled by SciPy's ndimage
    crop_images       (.., H, W, ..) -> (.., h, w, ..)   one window for the whole batch
    flip              same shape                          per-image left-right / up-down flips
    adjust_contrast   same shape                          (x - mean) * factor + mean, per image
    adjust_brightness same shape                          x + delta, per image

**resize** follows Keras 3 (its NumPy and JAX backends, which TensorFlow's default resize
matches): output pixel j samples the input at (j + 0.5) * in / out - 0.5 ("half-pixel
centres") and weighs the input pixels with the kernel of ``interpolation`` (bilinear: the
triangle; bicubic: Keys' cubic with a = -0.5; lanczos3/5), the weights of each output pixel
normalised to sum to one (so the edges clamp); with ``antialias`` the kernel is stretched by the
downsampling factor. Bilinear without antialiasing equals PyTorch's
``interpolate(mode="bilinear", align_corners=False)``; "nearest" takes input pixel
floor((j + 0.5) * in / out), PyTorch's "nearest-exact". The backward is the exact adjoint: the
same weights, transposed.

**transform** takes Keras' (and TensorFlow's ``ImageProjectiveTransform``) convention: a row
[a0, a1, a2, b0, b1, b2, c0, c1] maps an output point (x, y) (x the column, y the row) to the
input point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1. It is
computed by ``scipy.ndimage.affine_transform`` (``map_coordinates`` when some c0, c1 is not
zero), one call per image and channel, interpolation order 0 ("nearest") or 1 ("bilinear"),
``prefilter=False``. Keras' fill modes map onto ndimage's modes with the same meaning, the
extended input being a grid of pixels that is interpolated like the inside:

    Keras "reflect"  (d c b a | a b c d | d c b a)   ndimage "reflect"
    Keras "wrap"     (a b c d | a b c d | a b c d)   ndimage "grid-wrap"
    Keras "constant" (k k k k | a b c d | k k k k)   ndimage "grid-constant", cval = fill_value
    Keras "nearest"  (a a a a | a b c d | d d d d)   ndimage "nearest"
    Keras "mirror"   (c d c b | a b c d | c b a b)   ndimage "mirror" (Keras' ops accept it)

(ndimage's own "wrap" and "constant" treat the edge differently, which is why the grid- modes.)
It has no backward: the layers that use it refuse a recorded input that needs a gradient.

SciPy is imported inside ``transform`` only: ``pip install "convolve[viz]"`` installs it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import as_float_array
from .args import standardize_data_format

#: resize's interpolations -> the kernel's radius in input pixels (nearest has no kernel)
RESIZE_INTERPOLATIONS = {"bilinear": 1, "nearest": 0, "bicubic": 2, "lanczos3": 3, "lanczos5": 5}
#: transform's interpolations -> ndimage's spline order
TRANSFORM_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}
#: Keras' fill modes -> ndimage's modes with the same meaning (see the module docstring)
FILL_MODES = {
    "reflect": "reflect",
    "wrap": "grid-wrap",
    "constant": "grid-constant",
    "nearest": "nearest",
    "mirror": "mirror",
}


# ---- shared checks ---------------------------------------------------------------------------


def _choice(value, choices, name, where):
    if isinstance(value, str) and value in choices:
        return value
    listing = "{" + ", ".join(repr(c) for c in choices) + "}"
    raise ValueError(f"{where}: the `{name}` argument must be one of {listing}. Received: {name}={value!r}")


def _images(images, where, name="images"):
    x = as_float_array(images, where=where, name=name)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{where}: expected {name} of rank 3 (one image) or 4 (a batch of images). "
            f"Received: {name}.shape={x.shape}"
        )
    return x


def image_axes(ndim, data_format):
    """(height axis, width axis) of an image array of rank ``ndim`` (3 or 4)."""
    return (ndim - 3, ndim - 2) if data_format == "channels_last" else (ndim - 2, ndim - 1)


def _size(size, where):
    message = (
        f"{where}: the `size` argument must be (height, width), two positive ints. Received: size={size!r}"
    )
    try:
        items = tuple(size)
    except TypeError:
        raise TypeError(message) from None
    if len(items) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in items
    ):
        raise ValueError(message)
    return int(items[0]), int(items[1])


def _per_image(values, n, name, where):
    """A number, or one number per image ((N,) or (N, 1)), as float64 broadcastable over (N,)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim > 1 or (v.ndim == 1 and n is not None and v.shape[0] != n) or (v.ndim == 1 and n is None):
        wanted = "a number" if n is None else f"a number or one number per image ({n},)"
        raise ValueError(f"{where}: `{name}` must be {wanted}. Received: {name} of shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{where}: `{name}` must be finite. Received: {name}={values!r}")
    return v


def _lazy_ndimage(where):
    try:
        from scipy import ndimage
    except ImportError as e:
        raise ImportError(
            f'{where} needs SciPy (scipy.ndimage), which is not installed: pip install "convolve[viz]". '
            f"Received: ImportError({e})"
        ) from None
    return ndimage


# ---- resize --------------------------------------------------------------------------------


def _kernel(interpolation, x):
    """The resampling kernel at distances ``x >= 0`` (in input pixels, after antialias stretching)."""
    if interpolation == "bilinear":
        return np.maximum(0.0, 1.0 - x)
    if interpolation == "bicubic":  # Keys' cubic convolution, a = -0.5
        inner = ((1.5 * x - 2.5) * x) * x + 1.0
        outer = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
        return np.where(x >= 2.0, 0.0, np.where(x >= 1.0, outer, inner))
    radius = RESIZE_INTERPOLATIONS[interpolation]  # lanczos3, lanczos5
    safe = np.where(x > 1e-3, x, 1.0)
    value = radius * np.sin(np.pi * safe) * np.sin(np.pi * safe / radius) / (np.pi**2 * safe**2)
    return np.where(x > radius, 0.0, np.where(x > 1e-3, value, 1.0))


def resize_taps(in_size, out_size, interpolation="bilinear", antialias=False):
    """What one axis' resampling reads: ``(index, weight)``, both (K, out_size): output j is
    ``sum_k weight[k, j] * x[index[k, j]]`` (K taps per output, zero weights padding the short ones).

    Half-pixel centres: output j sits at input coordinate (j + 0.5) * in / out - 0.5. The
    weights are the kernel at each input pixel's distance (divided by the downsampling factor
    when ``antialias``), input pixels only, normalised to sum to one.
    """
    j = np.arange(out_size, dtype=np.float64)
    if interpolation == "nearest":
        index = ((2 * np.arange(out_size) + 1) * in_size) // (2 * out_size)
        return index[None, :], np.ones((1, out_size))
    inv_scale = in_size / out_size
    stretch = max(inv_scale, 1.0) if antialias else 1.0
    sample = (j + 0.5) * inv_scale - 0.5
    support = RESIZE_INTERPOLATIONS[interpolation] * stretch
    taps = int(math.ceil(2 * support)) + 1
    first = np.ceil(sample - support).astype(np.int64)
    index = first[None, :] + np.arange(taps)[:, None]
    weight = _kernel(interpolation, np.abs(sample[None, :] - index) / stretch)
    weight[(index < 0) | (index >= in_size)] = 0.0
    total = weight.sum(axis=0, keepdims=True)
    weight = np.where(
        np.abs(total) > 1000 * np.finfo(np.float32).eps, weight / np.where(total != 0, total, 1), 0
    )
    # zero-weight taps read the output's heaviest input pixel: a NaN elsewhere does not leak in
    heaviest = np.take_along_axis(index, np.argmax(np.abs(weight), axis=0)[None, :], axis=0)
    index = np.where(weight != 0, index, heaviest)
    return np.clip(index, 0, in_size - 1), weight


def resize_matrix(in_size, out_size, interpolation="bilinear", antialias=False):
    """The (in_size, out_size) matrix of one axis' resampling: y = x @ matrix along that axis."""
    index, weight = resize_taps(in_size, out_size, interpolation, antialias)
    matrix = np.zeros((in_size, out_size))
    np.add.at(matrix, (index, np.broadcast_to(np.arange(out_size), index.shape)), weight)
    return matrix


def _resample(x, axis, out_size, interpolation, antialias):
    index, weight = resize_taps(x.shape[axis], out_size, interpolation, antialias)
    if interpolation == "nearest":
        return np.take(x, index[0], axis=axis)
    shape = [1] * x.ndim
    shape[axis] = out_size
    out = None
    for k in range(index.shape[0]):
        term = np.take(x, index[k], axis=axis)
        term *= weight[k].astype(x.dtype).reshape(shape)
        out = term if out is None else np.add(out, term, out=out)
    return out


def aspect_ratio_box(height, width, target_height, target_width):
    """(top, left, crop_height, crop_width): the largest centred window of ``height x width``
    with the target's aspect ratio (Keras' ``crop_to_aspect_ratio`` and ``smart_resize``)."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int((height - crop_height) / 2), int((width - crop_width) / 2), crop_height, crop_width


def aspect_ratio_padding(height, width, target_height, target_width):
    """((top, bottom), (left, right)): the padding that gives ``height x width`` the target's
    aspect ratio, split evenly (the odd pixel at the end)."""
    padded_height = max(height, int(float(width * target_height) / target_width))
    padded_width = max(width, int(float(height * target_width) / target_height))
    dh, dw = padded_height - height, padded_width - width
    return (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)


def _resize_args(interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, fill_mode, where):
    _choice(interpolation, tuple(RESIZE_INTERPOLATIONS), "interpolation", where)
    _choice(fill_mode, ("constant",), "fill_mode", where)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            f"{where}: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
            f"Received: crop_to_aspect_ratio={crop_to_aspect_ratio!r}, "
            f"pad_to_aspect_ratio={pad_to_aspect_ratio!r}"
        )


def _index(ndim, data_format, rows, cols):
    index = [slice(None)] * ndim
    h_axis, w_axis = image_axes(ndim, data_format)
    index[h_axis], index[w_axis] = rows, cols
    return tuple(index)


def resize(
    images,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    fill_mode="constant",
    fill_value=0.0,
    data_format="channels_last",
    where="resize",
):
    """Resize images to ``size`` = (height, width) (Keras' ``ops.image.resize``).

    ``crop_to_aspect_ratio`` first crops the largest centred window with the target's aspect
    ratio; ``pad_to_aspect_ratio`` first pads the short side with ``fill_value`` (only
    ``fill_mode="constant"``) to that ratio. Then each spatial axis whose size changes is
    resampled (module docstring). Returns a new array.
    """
    x = _images(images, where)
    data_format = standardize_data_format(data_format, where)
    height, width = _size(size, where)
    _resize_args(interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, fill_mode, where)
    h_axis, w_axis = image_axes(x.ndim, data_format)
    if x.shape[h_axis] == 0 or x.shape[w_axis] == 0:
        raise ValueError(f"{where}: the images are empty. Received: images.shape={x.shape}")
    if crop_to_aspect_ratio:
        top, left, ch, cw = aspect_ratio_box(x.shape[h_axis], x.shape[w_axis], height, width)
        x = x[_index(x.ndim, data_format, slice(top, top + ch), slice(left, left + cw))]
    elif pad_to_aspect_ratio:
        pads = [(0, 0)] * x.ndim
        pads[h_axis], pads[w_axis] = aspect_ratio_padding(x.shape[h_axis], x.shape[w_axis], height, width)
        x = np.pad(x, pads, mode="constant", constant_values=fill_value)
    for axis, n in ((h_axis, height), (w_axis, width)):
        if x.shape[axis] != n:
            x = _resample(x, axis, n, interpolation, antialias)
    return x.copy() if np.may_share_memory(x, images) else x


def resize_backward(
    grad,
    input_shape,
    size,
    interpolation="bilinear",
    antialias=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format="channels_last",
    where="resize_backward",
):
    """Gradient of :func:`resize` with respect to the images: the transposed resampling, then
    the padding cut off or the crop put back among zeros. Returns (``input_shape``)."""
    g = _images(grad, where, name="grad")
    data_format = standardize_data_format(data_format, where)
    height, width = _size(size, where)
    _resize_args(interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, "constant", where)
    shape = tuple(int(d) for d in input_shape)
    h_axis, w_axis = image_axes(len(shape), data_format)
    expected = list(shape)
    expected[h_axis], expected[w_axis] = height, width
    if g.shape != tuple(expected):
        raise ValueError(
            f"{where}: expected grad of shape {tuple(expected)}, the forward's output for "
            f"input_shape={shape}. "
            f"Received: grad.shape={g.shape}"
        )
    sizes = [shape[h_axis], shape[w_axis]]  # what the resampling started from
    if crop_to_aspect_ratio:
        top, left, sizes[0], sizes[1] = aspect_ratio_box(shape[h_axis], shape[w_axis], height, width)
    elif pad_to_aspect_ratio:
        (pt, pb), (pl, pr) = aspect_ratio_padding(shape[h_axis], shape[w_axis], height, width)
        sizes = [shape[h_axis] + pt + pb, shape[w_axis] + pl + pr]
    for axis, n in ((w_axis, sizes[1]), (h_axis, sizes[0])):
        if g.shape[axis] != n:
            matrix = resize_matrix(n, g.shape[axis], interpolation, antialias).astype(g.dtype)
            g = np.moveaxis(np.tensordot(g, matrix, axes=([axis], [1])), -1, axis)
    if crop_to_aspect_ratio:
        out = np.zeros(shape, dtype=g.dtype)
        out[_index(len(shape), data_format, slice(top, top + sizes[0]), slice(left, left + sizes[1]))] = g
        return out
    if pad_to_aspect_ratio:
        g = g[_index(len(shape), data_format, slice(pt, pt + shape[h_axis]), slice(pl, pl + shape[w_axis]))]
    return g.copy() if np.may_share_memory(g, grad) else np.ascontiguousarray(g)


# ---- crops and flips -----------------------------------------------------------------------


def _box(shape, data_format, top, left, height, width, where):
    h_axis, w_axis = image_axes(len(shape), data_format)
    ints = all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (top, left, height, width)
    )
    if (
        not ints
        or top < 0
        or left < 0
        or height < 1
        or width < 1
        or (top + height > shape[h_axis] or left + width > shape[w_axis])
    ):
        raise ValueError(
            f"{where}: the window must lie inside the {shape[h_axis]}x{shape[w_axis]} images "
            "(top, left >= 0; "
            f"height, width >= 1). Received: top={top!r}, left={left!r}, height={height!r}, width={width!r}"
        )
    return _index(len(shape), data_format, slice(top, top + height), slice(left, left + width))


def crop_images(images, top, left, height, width, data_format="channels_last", where="crop_images"):
    """The window [top, top + height) x [left, left + width) of every image (a new array)."""
    x = _images(images, where)
    data_format = standardize_data_format(data_format, where)
    return x[_box(x.shape, data_format, top, left, height, width, where)].copy()


def crop_images_backward(
    grad, input_shape, top, left, data_format="channels_last", where="crop_images_backward"
):
    """Gradient of :func:`crop_images`: grad back in its window, zeros around it."""
    g = _images(grad, where, name="grad")
    data_format = standardize_data_format(data_format, where)
    shape = tuple(int(d) for d in input_shape)
    h_axis, w_axis = image_axes(len(shape), data_format)
    out = np.zeros(shape, dtype=g.dtype)
    out[_box(shape, data_format, top, left, g.shape[h_axis], g.shape[w_axis], where)] = g
    return out


def _flags(value, n, name, where):
    flags = np.asarray(value)
    if flags.dtype != np.bool_ or flags.ndim > 1 or (flags.ndim == 1 and flags.shape != (n,)):
        wanted = "a bool" if n is None else f"a bool or one bool per image ({n},)"
        raise ValueError(f"{where}: `{name}` must be {wanted}. Received: {name}={value!r}")
    return np.broadcast_to(flags, () if n is None else (n,))


def flip(images, horizontal=False, vertical=False, data_format="channels_last", where="flip"):
    """Images flipped left-right where ``horizontal`` and up-down where ``vertical`` (each a
    bool, or for a batch one bool per image). Returns a new array.

    A flip is its own inverse and its own adjoint: the gradient is ``flip`` of the gradient
    with the same flags.
    """
    x = _images(images, where)
    data_format = standardize_data_format(data_format, where)
    n = x.shape[0] if x.ndim == 4 else None
    h_axis, w_axis = image_axes(x.ndim, data_format)
    out = x.copy()
    for flags, axis in (
        (_flags(horizontal, n, "horizontal", where), w_axis),
        (_flags(vertical, n, "vertical", where), h_axis),
    ):
        if n is None:
            if flags:
                out = np.flip(out, axis=axis).copy()
        elif flags.all():
            out = np.flip(out, axis=axis).copy()
        elif flags.any():
            out[flags] = np.flip(out[flags], axis=axis)
    return out


# ---- contrast and brightness ---------------------------------------------------------------


def _value_range(value_range, where):
    if value_range is None:
        return None
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: `value_range` must be None or (low, high), two numbers. "
            f"Received: value_range={value_range!r}"
        ) from None
    return low, high


def _factors(values, x, name, where):
    f = _per_image(values, x.shape[0] if x.ndim == 4 else None, name, where)
    return f.reshape((-1, 1, 1, 1) if f.ndim == 1 else ()).astype(x.dtype)


def _contrast(x, factors, data_format):
    h_axis, w_axis = image_axes(x.ndim, data_format)
    mean = np.mean(x, axis=(h_axis, w_axis), keepdims=True, dtype=np.float64).astype(x.dtype)
    return (x - mean) * factors + mean


def adjust_contrast(images, factors, value_range=None, data_format="channels_last", where="adjust_contrast"):
    """(x - mean) * factor + mean, the mean taken over each image's height and width for each
    channel; ``factors`` a number or one per image; clipped to ``value_range`` when given
    (Keras' RandomContrast)."""
    x = _images(images, where)
    data_format = standardize_data_format(data_format, where)
    y = _contrast(x, _factors(factors, x, "factors", where), data_format)
    limits = _value_range(value_range, where)
    return y if limits is None else np.clip(y, *limits, out=y)


def adjust_contrast_backward(
    grad, images, factors, value_range=None, data_format="channels_last", where="adjust_contrast_backward"
):
    """Gradient of :func:`adjust_contrast`: zero where the output was clipped, then
    factor * g + (1 - factor) * mean(g) over each image's height and width."""
    x = _images(images, where)
    g = as_float_array(grad, dtype=x.dtype, where=where, name="grad")
    data_format = standardize_data_format(data_format, where)
    f = _factors(factors, x, "factors", where)
    limits = _value_range(value_range, where)
    if limits is not None:
        y = _contrast(x, f, data_format)
        g = np.where((y >= limits[0]) & (y <= limits[1]), g, g.dtype.type(0))
    h_axis, w_axis = image_axes(x.ndim, data_format)
    return g * f + (1 - f) * np.mean(g, axis=(h_axis, w_axis), keepdims=True)


def adjust_brightness(images, deltas, value_range=None, where="adjust_brightness"):
    """x + delta (a number or one per image), clipped to ``value_range`` when given (Keras'
    RandomBrightness)."""
    x = _images(images, where)
    y = x + _factors(deltas, x, "deltas", where)
    limits = _value_range(value_range, where)
    return y if limits is None else np.clip(y, *limits, out=y)


def adjust_brightness_backward(grad, images, deltas, value_range=None, where="adjust_brightness_backward"):
    """Gradient of :func:`adjust_brightness`: grad, zero where the output was clipped."""
    x = _images(images, where)
    g = as_float_array(grad, dtype=x.dtype, where=where, name="grad")
    limits = _value_range(value_range, where)
    if limits is None:
        return g.copy()
    y = x + _factors(deltas, x, "deltas", where)
    return np.where((y >= limits[0]) & (y <= limits[1]), g, g.dtype.type(0))


# ---- projective transforms -----------------------------------------------------------------


def rotation_transforms(angles, height, width):
    """(N, 8) transforms rotating each image by ``angles`` (radians; positive: counter-clockwise
    on screen) about its centre ((width - 1) / 2, (height - 1) / 2), as Keras' RandomRotation."""
    a = np.asarray(angles, dtype=np.float64).reshape(-1)
    cos, sin = np.cos(a), np.sin(a)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    zero = np.zeros_like(a)
    return np.stack([cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos, zero, zero], 1)


def zoom_transforms(height_zooms, width_zooms, height, width):
    """(N, 8) transforms scaling the input coordinates about the centre: a zoom above 1 shows
    more of the input (zooms out), below 1 less (zooms in), as Keras' RandomZoom."""
    zy = np.asarray(height_zooms, dtype=np.float64).reshape(-1)
    zx = np.asarray(width_zooms, dtype=np.float64).reshape(-1)
    zero = np.zeros_like(zx)
    return np.stack(
        [zx, zero, (width - 1) / 2.0 * (1 - zx), zero, zy, (height - 1) / 2.0 * (1 - zy), zero, zero], 1
    )


def translation_transforms(dy, dx):
    """(N, 8) transforms moving each image down by ``dy`` and right by ``dx`` pixels."""
    dy = np.asarray(dy, dtype=np.float64).reshape(-1)
    dx = np.asarray(dx, dtype=np.float64).reshape(-1)
    one, zero = np.ones_like(dx), np.zeros_like(dx)
    return np.stack([one, zero, -dx, zero, one, -dy, zero, zero], 1)


def transform(
    images,
    transforms,
    interpolation="bilinear",
    fill_mode="constant",
    fill_value=0.0,
    data_format="channels_last",
    where="transform",
):
    """Resample each image through its projective transform (module docstring): ``transforms``
    is (8,) for all images or (N, 8), one per image. Returns a new array of the input's shape."""
    x = _images(images, where)
    data_format = standardize_data_format(data_format, where)
    order = TRANSFORM_INTERPOLATIONS[
        _choice(interpolation, tuple(TRANSFORM_INTERPOLATIONS), "interpolation", where)
    ]
    mode = FILL_MODES[_choice(fill_mode, tuple(FILL_MODES), "fill_mode", where)]
    if not isinstance(fill_value, numbers.Real) or not math.isfinite(fill_value):
        raise ValueError(
            f"{where}: `fill_value` must be a finite number. Received: fill_value={fill_value!r}"
        )
    batch = x if x.ndim == 4 else x[None]
    t = np.asarray(transforms, dtype=np.float64)
    if t.shape == (8,):
        t = np.broadcast_to(t, (batch.shape[0], 8))
    if t.shape != (batch.shape[0], 8) or not np.all(np.isfinite(t)):
        raise ValueError(
            f"{where}: `transforms` must be 8 finite numbers [a0, a1, a2, b0, b1, b2, c0, c1], "
            "or one such row "
            f"per image ({batch.shape[0]}, 8). Received: transforms of shape {np.shape(transforms)}"
        )
    ndimage = _lazy_ndimage(where)
    planes = np.ascontiguousarray(batch if data_format == "channels_first" else np.moveaxis(batch, -1, 1))
    out = np.empty_like(planes)
    height, width = planes.shape[2:]
    for i, (a0, a1, a2, b0, b1, b2, c0, c1) in enumerate(t):
        common = dict(order=order, mode=mode, cval=float(fill_value), prefilter=False)
        if c0 == 0 and c1 == 0:  # affine: (row, col) -> (b1 row + b0 col + b2, a1 row + a0 col + a2)
            # no rotation or shear (zoom, translation): ndimage's diagonal path, about 3x faster
            matrix = np.array([b1, a0]) if b0 == 0 and a1 == 0 else np.array([[b1, b0], [a1, a0]])
            offset = (b2, a2)
            for c in range(planes.shape[1]):
                ndimage.affine_transform(planes[i, c], matrix, offset=offset, output=out[i, c], **common)
            continue
        rows, cols = np.meshgrid(
            np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij"
        )
        k = c0 * cols + c1 * rows + 1.0
        coords = np.stack([(b0 * cols + b1 * rows + b2) / k, (a0 * cols + a1 * rows + a2) / k])
        for c in range(planes.shape[1]):
            ndimage.map_coordinates(planes[i, c], coords, output=out[i, c], **common)
    out = out if data_format == "channels_first" else np.ascontiguousarray(np.moveaxis(out, 1, -1))
    return out if x.ndim == 4 else out[0]
