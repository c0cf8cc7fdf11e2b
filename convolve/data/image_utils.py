"""Keras' image file helpers (``keras.utils.load_img``, ``img_to_array``, ``array_to_img``, ``save_img``).

    img = load_img("cat.jpg", target_size=(180, 180))    # a PIL Image, RGB
    x = img_to_array(img)                                # float32 (180, 180, 3), values 0..255
    save_img("copy.png", x, scale=False)                 # written atomically

Pixel values are Keras' 0..255 (``convolve.images.load_image`` gives [0, 1] instead). Pillow is
imported on first use. Where these differ from Keras:

* ``load_img`` opens files through ``convolve.images.open_image``: the pixel limit
  (``max_pixels``, Pillow's ``MAX_IMAGE_PIXELS`` by default) is checked from the header before
  anything is decoded, and a file Pillow cannot read is a ValueError naming it.
* ``array_to_img`` rounds to the nearest integer and clips to 0..255 (Keras truncates with
  ``astype("uint8")``, so 254.9999 becomes 254 and 256 wraps around to 0), and refuses NaN and
  infinite values.
* ``save_img`` writes through ``convolve._files.atomic_open`` (a temporary file renamed into
  place), so an interrupted save never leaves half a picture.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from ..backend import floatx
from ..ops.args import check_choice, standardize_data_format, standardize_tuple

__all__ = ["load_img", "img_to_array", "array_to_img", "save_img"]

#: ``load_img``'s interpolation names (Keras' PIL_INTERPOLATION_METHODS)
PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
COLOR_MODES = ("grayscale", "rgb", "rgba")


def _pil(where):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            f'{where} needs Pillow, which is not installed. Install it with: pip install "convolve[viz]"'
        ) from None
    return Image


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False,
             max_pixels="default"):
    """Load an image file as a PIL Image (Keras' ``load_img``).

    Args:
        path: the file (str or os.PathLike).
        color_mode: "grayscale" (mode "L"; 16-bit and 32-bit grey files keep their mode "I;16" /
            "I", as Keras), "rgb" or "rgba".
        target_size: None (the file's size), or (height, width) (an int: square).
        interpolation: for ``target_size``: "nearest" (default), "bilinear", "bicubic",
            "hamming", "box", "lanczos".
        keep_aspect_ratio: resize the largest centred crop of the target's aspect ratio instead
            of the whole image (no distortion).
        max_pixels: convolve's guard (as ``convolve.images.load_image``): the most pixels a file
            may have, checked before decoding; "default" is Pillow's ``MAX_IMAGE_PIXELS``, None no
            limit.

    Returns:
        a loaded PIL Image (the file is closed).
    """
    from ..images import _check_max_pixels, open_image

    where = "load_img"
    color_mode = check_choice(color_mode, COLOR_MODES, "color_mode", where)
    interpolation = check_choice(interpolation, PIL_INTERPOLATIONS, "interpolation", where)
    if target_size is not None:
        target_size = standardize_tuple(target_size, 2, "target_size", where)
    if not isinstance(keep_aspect_ratio, (bool, np.bool_)):
        raise TypeError(
            f"{where}: `keep_aspect_ratio` must be True or False. "
            f"Received: keep_aspect_ratio={keep_aspect_ratio!r}"
        )
    max_pixels = _check_max_pixels(max_pixels, where)

    def convert(img, what):
        # a new image, independent of the file (convert() to the same mode copies)
        if color_mode == "grayscale":
            img = img.copy() if img.mode in ("L", "I;16", "I") else img.convert("L")
        else:
            img = img.convert(color_mode.upper())
        if target_size is None or img.size == (target_size[1], target_size[0]):
            return img
        height, width = target_size
        box = None
        if keep_aspect_ratio:  # Keras' arithmetic: the largest centred crop of the target's ratio
            w, h = img.size
            crop_h, crop_w = min(h, w * height // width), min(w, h * width // height)
            top, left = (h - crop_h) // 2, (w - crop_w) // 2
            box = (left, top, left + crop_w, top + crop_h)
        resample = getattr(_pil(where).Resampling, interpolation.upper())
        return img.resize((width, height), resample, box=box)

    return open_image(path, convert, max_pixels, where)


def img_to_array(img, data_format=None, dtype=None):
    """A PIL Image (or an array) as a NumPy array (Keras' ``img_to_array``).

    Values as they are in the image (0..255 for 8-bit images), ``dtype`` (default
    ``convolve.floatx()``, float32). Shape (H, W, C) (a grey image gets C = 1), or (C, H, W) with
    ``data_format="channels_first"``.
    """
    where = "img_to_array"
    data_format = standardize_data_format(data_format, where)
    x = np.asarray(img, dtype=dtype or floatx())
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(
            f"{where}: expected an image: (H, W) or (H, W, C). Received: an array of shape {x.shape}"
        )
    return np.ascontiguousarray(x.transpose(2, 0, 1)) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array as a PIL Image (Keras' ``array_to_img``).

    Args:
        x: (H, W, C) (or (C, H, W) with ``data_format="channels_first"``), C = 1 (grey, mode
            "L"), 3 (RGB) or 4 (RGBA).
        scale: stretch min..max to 0..255 first (a constant image becomes 0). Without it the
            values are used as they are: 0..255, rounded and clipped; a 1-channel array with
            values above 255 becomes a 32-bit integer image (mode "I"), as Keras (negative values
            become 0).
        dtype: the float type computed in (default ``convolve.floatx()``).
    """
    where = "array_to_img"
    data_format = standardize_data_format(data_format, where)
    Image = _pil(where)
    a = np.array(x, dtype=dtype or floatx())
    if a.ndim != 3:
        raise ValueError(
            f"{where}: expected one image of rank 3, (H, W, C) or (C, H, W). Received: an array of shape "
            f"{a.shape}"
        )
    if data_format == "channels_first":
        a = a.transpose(1, 2, 0)
    if a.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{where}: expected 1 (grey), 3 (RGB) or 4 (RGBA) channels. Received: an array of shape "
            f"{np.shape(x)} (data_format={data_format!r})"
        )
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError(f"{where}: the array contains NaN or infinite values. Received: shape {a.shape}")
    if scale and a.size:
        a = a - a.min()
        top = a.max()
        if top != 0:
            a /= top
        a *= 255
    a = np.maximum(np.rint(a), 0)
    if a.shape[2] == 1 and a.size and a.max() > 255:
        return Image.fromarray(np.minimum(a[:, :, 0], 2**31 - 1).astype(np.int32), "I")
    pixels = np.clip(a, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        return Image.fromarray(pixels[:, :, 0], "L")
    return Image.fromarray(pixels, "RGB" if a.shape[2] == 3 else "RGBA")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save a 3-D array as a picture file (Keras' ``save_img``), written atomically.

    ``file_format`` defaults to the file name's suffix ("jpg" means JPEG); ``path`` may also be a
    binary file object, with ``file_format`` given. An RGBA array saved as JPEG loses its alpha,
    with a warning (as Keras). ``kwargs`` go to Pillow's ``Image.save`` (quality=..., ...).
    """
    from .._files import atomic_open

    where = "save_img"
    writable = hasattr(path, "write")
    if not writable and not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{where}: `path` must be a file name (str or os.PathLike) or a binary file object. "
            f"Received: path={path!r}"
        )
    if file_format is None and not writable:
        file_format = os.path.splitext(os.fspath(path))[1][1:]
    if not file_format:
        raise ValueError(
            f"{where}: cannot tell the image format: give a file name with a suffix (.png, .jpg, ...) or "
            f"file_format=... Received: path={path!r}, file_format={file_format!r}"
        )
    file_format = "jpeg" if file_format.lower() == "jpg" else file_format.lower()
    Image = _pil(where)
    Image.init()
    if file_format.upper() not in Image.SAVE:
        raise ValueError(
            f"{where}: Pillow cannot write the format {file_format!r} (it writes "
            f"{', '.join(sorted(f.lower() for f in Image.SAVE))}). Received: file_format={file_format!r}"
        )
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn(
            f"{where}: the JPEG format does not support RGBA images, converting to RGB.", stacklevel=2
        )
        img = img.convert("RGB")
    if writable:
        img.save(path, format=file_format, **kwargs)
        return
    with atomic_open(path) as f:
        img.save(f, format=file_format, **kwargs)
