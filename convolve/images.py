"""Images in and out: load a picture as an array, save arrays and feature maps as pictures, filter an image.

    from convolve import images
    x = images.load_image("cat.jpg", color_mode="rgb")        # (1, H, W, 3) float32 in [0, 1]
    maps = images.filter_image(x, ["top_edge", "sobel_x"], mode="across")   # (1, H, W, 2)
    images.save_maps("maps.png", maps, normalize="symmetric", scale=4)

Layouts: images and feature maps are channels_last, (H, W), (H, W, C) or (N, H, W, C);
written pictures are uint8 (H, W) grey or (H, W, 3) RGB.

Normalisations (``normalize_maps``; one *map* is one (H, W) slice, one channel of one image):

* ``"minmax"``: each map's min..max stretched to 0..1. A constant map has no contrast to
  show and becomes 0.5 (mid grey), so it does not read as "all minimum" or "all maximum".
* ``"symmetric"``: each map divided by m = max |x|, giving -1..1 with 0 kept at 0 (an all-zero
  map stays 0). As a picture, -1..1 goes through a diverging blue-white-red colour map
  (``diverging_colormap``): negative blue, zero white (255, 255, 255), positive red. This is
  the honest picture of a signed response such as an edge filter's.
* ``"clip"``: values clipped to 0..1, nothing stretched (for images already in [0, 1]).
* ``None`` (pictures only): the values are used as they are: floats must lie in [0, 1],
  integers in 0..255.

Pillow is imported when a function first needs it; without it these functions raise
ImportError saying ``pip install "convolve[viz]"``. ``filter_image`` and the normalisations
need only NumPy.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np

from . import filters as _filters
from .backend import as_float_array
from .ops.args import check_choice, standardize_tuple
from .ops.conv import conv

__all__ = [
    "load_image", "to_image_array", "normalize_maps", "diverging_colormap", "tile_maps",
    "save_image", "save_maps", "filter_image", "ImageTooLargeError", "read_image", "open_image",
]

COLOR_MODES = ("grayscale", "rgb", "auto")
NORMALIZATIONS = ("minmax", "symmetric", "clip")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")
FILTER_MODES = _filters.BANK_MODES


#: The diverging colour map: value -> RGB, linear between these stops (ColorBrewer's RdBu,
#: reversed so that positive is red, with pure white at zero).
DIVERGING_STOPS = (
    (-1.0, (33, 102, 172)),
    (-0.5, (146, 197, 222)),
    (0.0, (255, 255, 255)),
    (0.5, (244, 165, 130)),
    (1.0, (178, 24, 43)),
)


def _pil(where):
    """Pillow's Image module, or ImportError naming the extra that installs it."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f'{where} needs Pillow, which is not installed. Install it with: pip install "convolve[viz]"'
        ) from None
    return Image


def _positive_int(value, name, where, minimum=1, also=""):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        kind += f", {also}" if also else ""
        raise ValueError(f"{where}: `{name}` must be {kind}. Received: {name}={value!r}")
    return int(value)


# ---- loading ---------------------------------------------------------------------------------
class ImageTooLargeError(ValueError):
    """``load_image`` refused an image for its pixel count, before decoding its pixels.

    Attributes: ``path``; ``size``, (width, height) as the file's header gives it, or None when
    Pillow refused the file before we could read its size; ``max_pixels``, the limit that applied
    (None for none).
    """

    def __init__(self, message, path, size, max_pixels):
        super().__init__(message)
        self.path = path
        self.size = size
        self.max_pixels = max_pixels


class _PixelValueError(ValueError):
    """Pixel values that ``load_image`` cannot map onto [0, 1] (NaN, a float image outside [0, 1])."""


def load_image(path, color_mode="grayscale", target_size=None, interpolation="nearest", max_pixels="default"):
    """Load an image file that Pillow reads (PNG, JPEG, GIF, BMP, TIFF, WebP, ...).

    Args:
        path: the file.
        color_mode: "grayscale" (1 channel, Pillow's ITU-R 601 luma for colour files),
            "rgb" (3 channels; grey files are repeated into three), or "auto" (grey files
            keep 1 channel, everything else becomes RGB). An alpha channel is dropped,
            not composited. Of an animation, the first frame is read.
        target_size: None, or (height, width) (an int means square) to resize to, as Keras'
            ``load_img`` does. The resizing works on the [0, 1] floats, one channel at a time,
            and its result is clipped to [0, 1] (bicubic and Lanczos overshoot).
        interpolation: resampling for ``target_size``: one of "nearest" (Keras' default),
            "bilinear", "bicubic", "lanczos", "box", "hamming".
        max_pixels: the most pixels (width x height) a file may have; a larger one is refused
            from its header, before any pixel is decoded (a small file can claim a huge image:
            a "decompression bomb"). "default" is Pillow's ``PIL.Image.MAX_IMAGE_PIXELS`` read at
            call time (89,478,485 unless changed; None there means no limit); None means no limit
            of ours. Pillow itself still refuses, inside ``Image.open``, any image above twice
            ``PIL.Image.MAX_IMAGE_PIXELS``: to read one of those, raise that too.

    How pixel values become [0, 1], by Pillow's mode of the file:

    * 8-bit modes ("1", "L", "P", "LA", "RGB", "RGBA", "CMYK", ...): divided by 255.
    * 16-bit grey ("I;16", "I;16B", ...; 16-bit PNG and TIFF): divided by 65535.
    * 32-bit integer grey ("I", e.g. a 32-bit TIFF): divided by 2**31 - 1, the largest int32;
      negative values are refused.
    * 32-bit float grey ("F", a float TIFF): used as they are; they must be finite and lie in
      [0, 1], else the file is refused (the message gives the range found).

    High-bit grey files keep their precision in "grayscale" and "auto" modes; "grayscale" of a
    colour file and every colour file go through Pillow's 8-bit conversion.

    Returns:
        float32 array (1, H, W, C), values in [0, 1], C = 1 or 3.

    Memory: the (1, H, W, C) output is the one full-size float array made (with
    ``target_size``, one full-size float image is made before resizing, and the output is the
    resized size); Pillow's decoded image sits beside it, and the conversion works through it
    in strips of about a million pixels.

    Raises:
        FileNotFoundError / IsADirectoryError: no file at ``path``.
        ImageTooLargeError (a ValueError): more pixels than ``max_pixels``, or than Pillow opens.
        ValueError: the file is not an image Pillow can read, its values do not fit [0, 1] as
            described above (NaN or infinite, a float outside [0, 1], a negative integer), or a
            bad argument.
        ImportError: Pillow is missing.
    """
    where = "load_image"
    color_mode = check_choice(color_mode, COLOR_MODES, "color_mode", where)
    interpolation = check_choice(interpolation, INTERPOLATIONS, "interpolation", where)
    if target_size is not None:
        target_size = standardize_tuple(target_size, 2, "target_size", where)
    max_pixels = _check_max_pixels(max_pixels, where)
    convert = lambda img, what: _to_array(img, color_mode, target_size, interpolation, what)  # noqa: E731
    return open_image(path, convert, max_pixels, where)


def read_image(path, color_mode="rgb", unit=255.0, max_pixels="default", where="read_image"):
    """float32 (H, W, C) pixels of an image file, with ``load_image``'s guards, not resized.

    For the data pipeline (``convolve.data``): the same checks and value rules as
    ``load_image`` (pixel limit from the header before decoding, NaN and out-of-range float
    images refused, 16-bit files divided by 65535, ...), except that white is ``unit`` instead
    of 1. With ``unit=255`` an 8-bit image keeps its integer values 0..255 exactly (each is
    divided by 255 / 255 = 1). ``color_mode`` is "grayscale", "rgb", "auto" or "rgba" (4
    channels: Pillow's RGBA conversion, which keeps a file's transparency; a 16-bit or 32-bit
    grey file is repeated into R, G, B with A = ``unit``). Errors as ``load_image``'s, prefixed by
    ``where``.
    """
    color_mode = check_choice(color_mode, COLOR_MODES + ("rgba",), "color_mode", where)
    max_pixels = _check_max_pixels(max_pixels, where)
    return open_image(
        path, lambda img, what: _to_array(img, color_mode, None, None, what, unit)[0], max_pixels, where
    )


def _check_max_pixels(max_pixels, where):
    """``max_pixels`` checked: "default", None (no limit) or a positive int."""
    if max_pixels is None or (isinstance(max_pixels, str) and max_pixels == "default"):
        return max_pixels
    also = "None (no limit) or 'default' (Pillow's limit)"
    return _positive_int(max_pixels, "max_pixels", where, also=also)


def open_image(path, convert, max_pixels, where):
    """``convert(img, what)`` of the decoded Pillow image at ``path``, refused above ``max_pixels``.

    The one guarded way in for image files (``load_image``, ``read_image``, the data pipeline's
    ``load_img``): the size is checked from the header before any pixel is decoded
    (``max_pixels``, checked by ``_check_max_pixels``: "default" for Pillow's
    ``MAX_IMAGE_PIXELS`` read now, None for no limit, or a number), Pillow's own bomb warning
    never reaches the user, the file is closed afterwards, and every way Pillow fails becomes a
    ValueError naming the file. ``what`` is how messages about pixel values name the file.
    ``convert`` must return something that does not need the file (an array, or a loaded Pillow
    image such as ``img.copy()``).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: `path` must be a file name (str or os.PathLike). Received: path={path!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such file. Received: path={os.fspath(path)!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{where}: expected an image file, found a folder. Received: path={os.fspath(path)!r}"
        )
    Image = _pil(where)
    limit = Image.MAX_IMAGE_PIXELS if isinstance(max_pixels, str) else max_pixels
    # Pillow warns between MAX_IMAGE_PIXELS and twice that: we check the size ourselves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                _check_pixels(img.size, limit, path, where)  # from the header, before decoding
                img.load()
                what = f"{where}: the image {os.fspath(path)!r}"  # how value errors name the file
                return convert(img, what)
        except (PermissionError, ImageTooLargeError, _PixelValueError):
            raise
        except Image.DecompressionBombError as e:
            raise ImageTooLargeError(
                f"{where}: Pillow refused the image as a possible decompression bomb, before decoding "
                f"it ({e}). Pillow refuses anything above twice PIL.Image.MAX_IMAGE_PIXELS whatever "
                f"`max_pixels` says; to read a file you trust, raise PIL.Image.MAX_IMAGE_PIXELS (None: no "
                f"limit) and `max_pixels`. "
                f"Received: path={os.fspath(path)!r}, max_pixels={max_pixels!r}",
                path=os.fspath(path), size=None, max_pixels=limit,
            ) from None
        except (Image.UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise ValueError(
                f"{where}: the file is not an image Pillow can read ({type(e).__name__}: {e}). "
                f"Received: path={os.fspath(path)!r}"
            ) from None


def _check_pixels(size, limit, path, where):
    """ImageTooLargeError when width * height exceeds ``limit`` (None: no limit)."""
    width, height = size
    if limit is not None and width * height > limit:
        raise ImageTooLargeError(
            f"{where}: the image is {width}x{height} (width x height) = {width * height:,} pixels, more than "
            f"max_pixels={limit:,} (by default Pillow's PIL.Image.MAX_IMAGE_PIXELS, a guard against "
            f"decompression bombs), so it is refused before decoding. For a file you trust, pass a larger "
            f"`max_pixels`, or max_pixels=None for no limit. Received: path={os.fspath(path)!r}, "
            f"size=({width}, {height})",
            path=os.fspath(path), size=(width, height), max_pixels=limit,
        )


# Pillow modes that hold one grey channel; the high-bit ones are read as they are, divided by the
# value that means white: the largest value of their integer type (1 for float images).
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_HIGH_BIT_WHITE = {"I": 2**31 - 1, "I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "F": 1}
_STRIP_PIXELS = 1 << 20  # pixels converted at a time: bounds the temporaries beside the output


def _to_array(img, color_mode, target_size, interpolation, what, unit=1.0):
    """float32 (1, H, W, C) in [0, unit] from a loaded Pillow image: the one full-size float array.

    ``color_mode`` "rgba" (only ``read_image`` passes it) converts 8-bit files with Pillow's RGBA
    conversion; a high-bit grey file is read as grey, repeated into R, G, B, with A = ``unit``.
    """
    grey_file = img.mode in _GREY_MODES
    if color_mode == "rgba" and img.mode not in _HIGH_BIT_WHITE:
        mode, read = "RGBA", 4
    elif color_mode == "grayscale" or grey_file:  # "rgb" of a grey file repeats its one channel
        mode = img.mode if grey_file and img.mode in _HIGH_BIT_WHITE else "L"  # "L": luma, alpha dropped
        read = 1
    else:
        mode, read = "RGB", 3  # alpha dropped
    channels = {"rgb": 3, "rgba": 4}.get(color_mode, read)
    width, height = img.size
    if target_size is None:
        out = np.empty((1, height, width, channels), np.float32)
        _fill(img, mode, out[0], what, unit)
        if channels == 4 and read == 1:
            out[..., 3] = unit  # a high-bit grey file is opaque
        return out
    full = np.empty((height, width, read), np.float32)
    _fill(img, mode, full, what)
    h, w = target_size
    out = np.empty((1, h, w, channels), np.float32)
    Image = _pil("load_image")
    resample = getattr(Image.Resampling, interpolation.upper())
    for c in range(read):
        small = Image.fromarray(np.ascontiguousarray(full[:, :, c])).resize((w, h), resample)
        np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0, out=out[0, :, :, c])
    if channels > read:
        out[..., 1:] = out[..., :1]
    return out


def _fill(img, mode, dest, what, unit=1.0):
    """Write ``img`` converted to Pillow ``mode`` and scaled to [0, unit] into ``dest`` (H, W, C), in strips.

    A grey ``mode`` fills channel 0 and is repeated into the others. Raises _PixelValueError for
    values that do not map onto [0, 1].
    """
    height, width, channels = dest.shape
    white = _HIGH_BIT_WHITE.get(mode, 255) / unit  # 8-bit with unit 255: divided by 1, so exact
    white = np.float64(white) if mode == "I" else np.float32(white)  # int32 / float32 would be float64 anyway
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    low, high = np.inf, -np.inf
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        piece = img if bottom - top == height else img.crop((0, top, width, bottom))  # one strip: no copy
        if piece.mode != mode:
            piece = piece.convert(mode)
        a = np.asarray(piece)
        a = a[:, :, None] if a.ndim == 2 else a
        if mode in ("F", "I"):  # the only modes whose values can fall outside 0..white
            if mode == "F" and not np.all(np.isfinite(a)):
                row = top + int(np.argwhere(~np.isfinite(a))[0, 0])
                raise _PixelValueError(
                    f"{what} holds NaN or infinite values (the first in row {row}); load_image returns "
                    f"values in [0, 1]. Received: a float image (Pillow mode 'F') of size {width}x{height}"
                )
            low, high = min(low, a.min()), max(high, a.max())
        np.divide(a, white, out=dest[top:bottom, :, : a.shape[2]])
        if channels > a.shape[2]:
            dest[top:bottom, :, 1:] = dest[top:bottom, :, :1]
    if mode == "F" and (low < 0 or high > 1):
        raise _PixelValueError(
            f"{what} is a float image whose values must lie in [0, 1] (they are used as they are). "
            f"Received: values from {float(low):g} to {float(high):g}"
        )
    if mode == "I" and low < 0:
        raise _PixelValueError(
            f"{what} is a 32-bit integer image, divided by 2**31 - 1 to give [0, 1], so its values must lie "
            f"in 0..2147483647. Received: values from {int(low)} to {int(high)}"
        )


# ---- normalisation and colour ------------------------------------------------------------------
def normalize_maps(maps, mode="minmax"):
    """Normalise feature maps, each (H, W) map on its own.

    Args:
        maps: (H, W) for one map, or (..., H, W, C): every index of the leading axes and of
            the channel axis C is a separate map, normalised independently over its H x W
            values. Not modified.
        mode: "minmax" -> [0, 1] (a constant map -> 0.5); "symmetric" -> [-1, 1], x / max|x|
            (an all-zero map stays 0); "clip" -> values clipped to [0, 1].

    Returns:
        a new float array of the same shape (float32, or float64 for float64 input).

    Raises:
        ValueError: unknown mode, fewer than 2 axes, NaN or infinite values.
    """
    where = "normalize_maps"
    mode = check_choice(mode, NORMALIZATIONS, "mode", where)
    x = as_float_array(maps, where=where, name="maps")
    if x.ndim < 2:
        raise ValueError(
            f"{where}: expected maps of shape (H, W) or (..., H, W, C). Received: maps.shape={x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: the maps contain NaN or infinite values. Received: maps.shape={x.shape}")
    if mode == "clip":
        return np.clip(x, 0, 1)
    axes = (0, 1) if x.ndim == 2 else (-3, -2)
    if mode == "minmax":
        low = x.min(axis=axes, keepdims=True)
        span = x.max(axis=axes, keepdims=True) - low
        flat = span == 0
        return np.where(flat, x.dtype.type(0.5), (x - low) / np.where(flat, 1, span))
    m = np.abs(x).max(axis=axes, keepdims=True)
    return x / np.where(m == 0, 1, m)


def diverging_colormap(values):
    """Map values in [-1, 1] (clipped) to uint8 RGB (..., 3): blue -> white (at 0) -> red.

    Linear interpolation between ``DIVERGING_STOPS``: -1 (33, 102, 172), 0 (255, 255, 255),
    1 (178, 24, 43).
    """
    v = np.clip(np.asarray(values, dtype=np.float64), -1.0, 1.0)
    positions = [p for p, _ in DIVERGING_STOPS]
    rgb = [np.interp(v, positions, [c[i] for _, c in DIVERGING_STOPS]) for i in range(3)]
    return np.rint(np.stack(rgb, axis=-1)).astype(np.uint8)


def _as_picture(array, where):
    """A float or integer array (H, W, C) with C in (1, 3), from (H, W), (H, W, C) or (1, H, W, C)."""
    a = np.asarray(array)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: expected a numeric array. Received: an array of dtype {a.dtype}")
    if a.dtype.kind == "b":
        a = a.astype(np.float32)  # False -> black, True -> white
    if a.ndim == 4:
        if a.shape[0] != 1:
            raise ValueError(
                f"{where}: a 4-D array must hold one image (1, H, W, C); pick one with array[i:i+1]. "
                f"Received: array.shape={a.shape}"
            )
        a = a[0]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"{where}: expected an image (H, W), (H, W, 1), (H, W, 3) or (1, H, W, C) with C = 1 or 3 "
            f"(for other channel counts use save_maps). Received: array.shape={np.shape(array)}"
        )
    return a


def to_image_array(array, normalize="minmax"):
    """An array as picture pixels: uint8 (H, W) grey or (H, W, 3) RGB.

    Args:
        array: (H, W), (H, W, C) or (1, H, W, C) with C = 1 (a map, or a grey image) or 3 (an RGB
            image). Not modified.
        normalize: "minmax", "symmetric", "clip" or None (see the module docstring). A 1-channel
            array with "symmetric" becomes RGB through ``diverging_colormap``. A 3-channel
            array is one picture: "minmax" stretches its three channels together (keeping the
            colours), "symmetric" maps [-m, m] of all three to [0, 1] (zero is mid grey).

    Raises:
        ValueError: a bad shape or normalisation; with ``normalize=None``, floats outside [0, 1]
            or integers outside 0..255.
    """
    where = "to_image_array"
    if normalize is not None:
        normalize = check_choice(normalize, NORMALIZATIONS, "normalize", where)
    a = _as_picture(array, where)
    h, w, c = a.shape
    if normalize is None:
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: the array contains NaN or infinite values. Received: normalize=None")
        low, high = (0, 1) if a.dtype.kind == "f" else (0, 255)
        if a.size and (a.min() < low or a.max() > high):
            raise ValueError(
                f"{where}: with normalize=None, float values must lie in [0, 1] and integer values in "
                f"0..255; use normalize='minmax' or 'clip'. Received: values from {a.min()} to {a.max()}"
            )
        unit = a.astype(np.float64) / (1 if a.dtype.kind == "f" else 255)
    elif c == 3:
        unit = normalize_maps(a.reshape(h, w * 3), normalize).reshape(h, w, 3)  # one map: colours kept
        if normalize == "symmetric":
            unit = (unit + 1) / 2
    else:
        unit = normalize_maps(a, normalize)
        if normalize == "symmetric":
            return diverging_colormap(unit[..., 0])  # (H, W, 3)
    pixels = np.rint(np.clip(unit, 0, 1) * 255).astype(np.uint8)
    return pixels[..., 0] if c == 1 else pixels


def _upscale(pixels, scale):
    """Nearest-neighbour upscaling of (H, W) or (H, W, 3) by an integer factor."""
    return pixels if scale == 1 else np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


def tile_maps(maps, normalize="minmax", columns=None, scale=1, padding=1, pad_value=128):
    """The C channels of (H, W, C) or (1, H, W, C) maps tiled into one picture (uint8).

    Each channel is one tile, normalised on its own (``to_image_array``), upscaled ``scale``
    times (nearest neighbour), in row-major order: channel k is at row k // columns,
    column k % columns. ``columns`` defaults to ceil(sqrt(C)) and is at most C;
    rows = ceil(C / columns). Tiles are ``padding`` pixels apart (no border around the grid),
    gaps and empty cells filled with ``pad_value``. So the picture is

        height = rows * H * scale + (rows - 1) * padding
        width  = columns * W * scale + (columns - 1) * padding

    and (height, width) grey, or (height, width, 3) RGB with "symmetric".
    """
    where = "tile_maps"
    if normalize is not None:
        normalize = check_choice(normalize, NORMALIZATIONS, "normalize", where)
    a = np.asarray(maps)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(
            f"{where}: expected maps (H, W, C) or (1, H, W, C). Received: maps.shape={np.shape(maps)}"
        )
    h, w, c = a.shape
    scale = _positive_int(scale, "scale", where)
    padding = _positive_int(padding, "padding", where, minimum=0)
    pad_value = _positive_int(pad_value, "pad_value", where, minimum=0)
    if pad_value > 255:
        raise ValueError(f"{where}: `pad_value` must be in 0..255. Received: pad_value={pad_value!r}")
    columns = math.ceil(math.sqrt(c)) if columns is None else min(_positive_int(columns, "columns", where), c)
    rows = math.ceil(c / columns)
    tiles = [_upscale(to_image_array(a[:, :, k], normalize), scale) for k in range(c)]
    th, tw = h * scale, w * scale
    grid_height, grid_width = rows * th + (rows - 1) * padding, columns * tw + (columns - 1) * padding
    grid = np.full((grid_height, grid_width) + tiles[0].shape[2:], pad_value, np.uint8)
    for k, tile in enumerate(tiles):
        top, left = (k // columns) * (th + padding), (k % columns) * (tw + padding)
        grid[top : top + th, left : left + tw] = tile
    return grid


# ---- saving ------------------------------------------------------------------------------------
def _write_picture(path, pixels, where):
    """Write uint8 (H, W) or (H, W, 3) pixels to ``path`` atomically, the format from its suffix."""
    from ._files import atomic_open

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: `path` must be a file name (str or os.PathLike). Received: path={path!r}")
    Image = _pil(where)
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    formats = Image.registered_extensions()  # {".png": "PNG", ...}
    if suffix not in formats or formats[suffix] not in Image.SAVE:
        raise ValueError(
            f"{where}: cannot tell an image format Pillow writes from the file name's suffix "
            f"(for example .png, .jpg, .gif, .bmp, .tif, .webp). Received: path={os.fspath(path)!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{where}: the folder {folder!r} does not exist. Received: path={os.fspath(path)!r}"
        )
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    with atomic_open(path) as f:
        picture.save(f, format=formats[suffix])
    return os.fspath(path)


def save_image(path, array, normalize="minmax", scale=1):
    """Save an image or one map as a picture file (format from the suffix; written atomically).

    Args:
        path: the file; its suffix picks the format (.png, .jpg, .gif, ...).
        array: (H, W), (H, W, C) or (1, H, W, C) with C = 1 or 3 (see ``to_image_array``).
        normalize: "minmax", "symmetric", "clip" or None.
        scale: integer nearest-neighbour upscaling, so a 28x28 map can be seen (scale=8 -> 224x224).

    Returns:
        ``path``.
    """
    scale = _positive_int(scale, "scale", "save_image")
    pixels = _upscale(to_image_array(array, normalize), scale)
    return _write_picture(path, pixels, "save_image")


def save_maps(path, maps, normalize="minmax", columns=None, scale=4, padding=2, pad_value=128):
    """Save the C channels of (H, W, C) or (1, H, W, C) maps as one grid picture.

    The grid is ``tile_maps(maps, normalize, columns, scale, padding, pad_value)``: each map
    normalised on its own, ``scale`` times larger, ``padding`` pixels apart. Written
    atomically; format from the suffix. Returns ``path``.
    """
    pixels = tile_maps(maps, normalize, columns, scale, padding, pad_value)
    return _write_picture(path, pixels, "save_maps")


# ---- filtering -----------------------------------------------------------------------------------
def filter_image(
    image, kernel, strides=1, padding="same", padding_mode="zeros", mode="per_channel", bias=0.0
):
    """Apply handcrafted filters to an image: a Conv2D without a layer, through ``ops.conv.conv``.

    Args:
        image: (H, W) one grey image, (H, W, C) one image, or (N, H, W, C) a batch. Integer
            images are cast to float32 with their values unchanged (``load_image`` gives [0, 1]).
            Not modified.
        kernel: a filter name (``convolve.filters.names()``), a 2-D array (kh, kw), a list of
            names and/or 2-D arrays (a bank, see ``convolve.filters.bank``), or a 4-D Conv2D
            kernel (kh, kw, C, F) used as it is.
        strides, padding, padding_mode: as for Conv2D ('same' by default, so the maps keep the
            image's size; also 'valid', 'full', ints; modes 'zeros', 'reflect', 'replicate',
            'circular').
        mode: for names and 2-D arrays on a C-channel image: "per_channel" (each filter on each
            channel, F * C maps, filter-major) or "across" (each filter summed over the channels
            and divided by C, F maps).
        bias: a number, or one per output map (F,).

    Returns:
        (N, H', W', F) maps; float32 (float64 for a float64 image or kernel).

    Raises:
        ValueError: a bad image shape, kernel, mode, bias or convolution argument, before any
            arithmetic.
    """
    where = "filter_image"
    x = as_float_array(image, where=where, name="image")
    if x.ndim == 2:
        x = x[None, :, :, None]
    elif x.ndim == 3:
        x = x[None]
    elif x.ndim != 4:
        raise ValueError(
            f"{where}: expected an image (H, W), (H, W, C) or a batch (N, H, W, C). "
            f"Received: image.shape={x.shape}"
        )
    channels = x.shape[-1]
    if not isinstance(kernel, (str, np.ndarray)) and _numeric_rank(kernel) == 4:
        kernel = np.asarray(kernel, dtype=np.float32)  # a nested list holding a Conv2D kernel
    if isinstance(kernel, np.ndarray) and kernel.ndim == 4:
        k = as_float_array(kernel, where=where, name="kernel")
        if k.shape[2] != channels:
            raise ValueError(
                f"{where}: a 4-D kernel (kh, kw, in_channels, filters) must have in_channels = the image's "
                f"{channels} channels. Received: kernel.shape={k.shape}, image.shape={np.shape(image)}"
            )
    else:
        if isinstance(kernel, np.ndarray) and kernel.ndim != 2:
            raise ValueError(
                f"{where}: expected a filter name, a 2-D array, a list of them, or a 4-D Conv2D kernel "
                f"(kh, kw, C, F). Received: kernel.shape={kernel.shape}"
            )
        mode = check_choice(mode, FILTER_MODES, "mode", where)
        k = _filters.bank(kernel, in_channels=channels, mode=mode)
    filters = k.shape[-1]
    b = np.asarray(bias)
    if b.dtype.kind not in "biuf" or b.ndim > 1 or (b.ndim == 1 and b.shape[0] != filters):
        raise ValueError(
            f"{where}: `bias` must be a number or one number per output map ({filters},). "
            f"Received: bias={bias!r}"
        )
    b = np.broadcast_to(b.astype(k.dtype), (filters,)).copy()
    return conv(x, k, b, strides=strides, padding=padding, padding_mode=padding_mode, where=where)


def _numeric_rank(value):
    """The rank of ``value`` as a numeric array, or None when it is not one."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError):
        return None
    return a.ndim if a.dtype.kind in "biuf" else None
