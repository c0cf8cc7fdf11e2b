"""Handcrafted convolution filters with names: blurs, sharpening, derivatives and the seeds' detectors.

    from convolve import filters
    filters.sobel_x()                      # (3, 3) float32
    filters.get("gaussian", size=7, sigma=1.5)
    filters.bank(["top_edge", "left_edge"], in_channels=1)   # (3, 3, 1, 2): a Conv2D kernel

Every function returns a 2-D float32 array (kernel_h, kernel_w) laid out as a Conv2D layer
uses it: row 0 is the top of the window, column 0 its left. ``bank`` stacks them into the
Conv2D kernel layout (kernel_h, kernel_w, in_channels, filters).

**Layers compute cross-correlation, not convolution.** The kernel is not flipped: an output
value is ``sum(kernel[i, j] * x[row + i, col + j])``, so the kernel's top-left entry multiplies
the window's top-left pixel (see ``convolve/ops/conv/__init__.py``). What that means for the signs
(rows grow downwards, columns to the right):

* ``sobel_x``, ``scharr_x``, ``prewitt_x`` (negative column on the left, positive on the right)
  respond **positively where intensity increases to the right** (a dark-to-bright step from
  left to right) and negatively where it decreases. A textbook that convolves (flips the
  kernel) gets the opposite sign with the same numbers.
* ``sobel_y``, ``scharr_y``, ``prewitt_y`` (negative row on top, positive below) respond
  positively where intensity **increases downwards** (dark above, bright below).
* ``laplacian`` is symmetric, so flipping changes nothing: negative on a bright spot or ridge,
  positive on a dark one. ``box``, ``gaussian``, ``identity``, ``sharpen``, ``vertical_line``
  and ``horizontal_line`` are symmetric too. ``emboss`` is not: as returned it is above the
  flat value where the image gets brighter towards the bottom right.
* The seeds' four edge filters ``top_edge``, ``left_edge``, ``bottom_edge``, ``right_edge``
  (from "CNNs explained") respond positively on the top, left, bottom and right edge of a
  **bright shape on a dark background**: ``top_edge`` has -1 in the row above the centre and
  +1 in the centre row, so it fires where dark is above bright, i.e. on a shape's top edge.
  On a dark shape on a bright background each fires on the opposite edge.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from .ops.args import check_choice

__all__ = [
    "identity", "box", "gaussian", "sharpen", "emboss", "laplacian",
    "sobel_x", "sobel_y", "scharr_x", "scharr_y", "prewitt_x", "prewitt_y",
    "vertical_line", "horizontal_line", "top_edge", "left_edge", "bottom_edge", "right_edge",
    "names", "get", "bank",
]

BANK_MODES = ("per_channel", "across")


def _k(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def _check_size(size, where: str, odd: bool) -> int:
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or size < 1
        or (odd and size % 2 == 0)
    ):
        what = "a positive odd integer" if odd else "a positive integer"
        raise ValueError(f"filters.{where}: `size` must be {what}. Received: size={size!r}")
    return int(size)


# ---- blurs and the identity -----------------------------------------------------------------
def identity(size=3) -> np.ndarray:
    """The identity: 1 in the centre, 0 elsewhere (``size`` odd). ``identity(3)``::

        [[0, 0, 0],
         [0, 1, 0],
         [0, 0, 0]]
    """
    size = _check_size(size, "identity", odd=True)
    k = np.zeros((size, size), np.float32)
    k[size // 2, size // 2] = 1.0
    return k


def box(size=3) -> np.ndarray:
    """Box blur: the mean of a size x size window; every entry 1 / size**2, so it sums to 1.
    ``box(3)``::

        [[1/9, 1/9, 1/9],
         [1/9, 1/9, 1/9],
         [1/9, 1/9, 1/9]]
    """
    size = _check_size(size, "box", odd=False)
    return np.full((size, size), 1.0 / (size * size), np.float32)


def gaussian(size=5, sigma=1.0) -> np.ndarray:
    """Gaussian blur: ``exp(-(i**2 + j**2) / (2 * sigma**2))`` for offsets i, j from the
    centre ((size - 1) / 2, so even sizes are centred between pixels), divided by its sum
    so it sums to 1. ``gaussian(3, sigma=1.0)`` is about::

        [[0.0751, 0.1238, 0.0751],
         [0.1238, 0.2042, 0.1238],
         [0.0751, 0.1238, 0.0751]]
    """
    size = _check_size(size, "gaussian", odd=False)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)) or not (
        math.isfinite(sigma) and sigma > 0
    ):
        raise ValueError(f"filters.gaussian: `sigma` must be a positive number. Received: sigma={sigma!r}")
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(offsets**2) / (2.0 * float(sigma) ** 2))  # separable: outer product of 1-D profiles
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


# ---- sharpening, embossing, second derivatives ----------------------------------------------
def sharpen() -> np.ndarray:
    """Sharpen: the image plus its negative 4-neighbour Laplacian (sums to 1)::

        [[ 0, -1,  0],
         [-1,  5, -1],
         [ 0, -1,  0]]
    """
    return _k([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def emboss() -> np.ndarray:
    """Emboss (sums to 1): positive where the image gets brighter towards the bottom right::

        [[-2, -1,  0],
         [-1,  1,  1],
         [ 0,  1,  2]]
    """
    return _k([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def laplacian(neighbours=4) -> np.ndarray:
    """Discrete Laplacian (sums to 0; negative on a bright spot). ``neighbours=4``::

        [[0,  1, 0],
         [1, -4, 1],
         [0,  1, 0]]

    ``neighbours=8``::

        [[1,  1, 1],
         [1, -8, 1],
         [1,  1, 1]]
    """
    if isinstance(neighbours, bool) or neighbours not in (4, 8):
        raise ValueError(
            f"filters.laplacian: `neighbours` must be 4 or 8. Received: neighbours={neighbours!r}"
        )
    if neighbours == 4:
        return _k([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    return _k([[1, 1, 1], [1, -8, 1], [1, 1, 1]])


# ---- first derivatives (signs: see the module docstring) ------------------------------------
def sobel_x() -> np.ndarray:
    """Sobel, horizontal derivative; positive where intensity increases to the right::

        [[-1, 0, 1],
         [-2, 0, 2],
         [-1, 0, 1]]
    """
    return _k([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def sobel_y() -> np.ndarray:
    """Sobel, vertical derivative; positive where intensity increases downwards::

        [[-1, -2, -1],
         [ 0,  0,  0],
         [ 1,  2,  1]]
    """
    return sobel_x().T.copy()


def scharr_x() -> np.ndarray:
    """Scharr, horizontal derivative (more rotation-invariant than Sobel); positive where
    intensity increases to the right::

        [[ -3, 0,  3],
         [-10, 0, 10],
         [ -3, 0,  3]]
    """
    return _k([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])


def scharr_y() -> np.ndarray:
    """Scharr, vertical derivative; positive where intensity increases downwards::

        [[-3, -10, -3],
         [ 0,   0,  0],
         [ 3,  10,  3]]
    """
    return scharr_x().T.copy()


def prewitt_x() -> np.ndarray:
    """Prewitt, horizontal derivative; positive where intensity increases to the right::

        [[-1, 0, 1],
         [-1, 0, 1],
         [-1, 0, 1]]
    """
    return _k([[-1, 0, 1]] * 3)


def prewitt_y() -> np.ndarray:
    """Prewitt, vertical derivative; positive where intensity increases downwards::

        [[-1, -1, -1],
         [ 0,  0,  0],
         [ 1,  1,  1]]
    """
    return prewitt_x().T.copy()


# ---- the seeds' detectors -------------------------------------------------------------------
def vertical_line() -> np.ndarray:
    """The seeds' vertical line detector (worked examples, "Example of 2D Convolutional Layer");
    on a 1-pixel line it is brightest in the line's column::

        [[0, 1, 0],
         [0, 1, 0],
         [0, 1, 0]]
    """
    return _k([[0, 1, 0]] * 3)


def horizontal_line() -> np.ndarray:
    """The seeds' horizontal line detector, ``vertical_line`` transposed::

        [[0, 0, 0],
         [1, 1, 1],
         [0, 0, 0]]
    """
    return vertical_line().T.copy()


def top_edge() -> np.ndarray:
    """The seeds' top-edge filter ("CNNs explained"); positive on the top edge of a bright shape::

        [[-1, -1, -1],
         [ 1,  1,  1],
         [ 0,  0,  0]]
    """
    return _k([[-1, -1, -1], [1, 1, 1], [0, 0, 0]])


def left_edge() -> np.ndarray:
    """The seeds' left-edge filter; positive on the left edge of a bright shape::

        [[-1, 1, 0],
         [-1, 1, 0],
         [-1, 1, 0]]
    """
    return _k([[-1, 1, 0]] * 3)


def bottom_edge() -> np.ndarray:
    """The seeds' bottom-edge filter; positive on the bottom edge of a bright shape::

        [[ 0,  0,  0],
         [ 1,  1,  1],
         [-1, -1, -1]]
    """
    return _k([[0, 0, 0], [1, 1, 1], [-1, -1, -1]])


def right_edge() -> np.ndarray:
    """The seeds' right-edge filter; positive on the right edge of a bright shape::

        [[0, 1, -1],
         [0, 1, -1],
         [0, 1, -1]]
    """
    return _k([[0, 1, -1]] * 3)


# ---- lookup and banks -----------------------------------------------------------------------
_REGISTRY = {
    f.__name__: f
    for f in (
        identity, box, gaussian, sharpen, emboss, laplacian, sobel_x, sobel_y, scharr_x, scharr_y,
        prewitt_x, prewitt_y, vertical_line, horizontal_line, top_edge, left_edge, bottom_edge, right_edge,
    )
}


def names() -> list:
    """The known filter names, sorted."""
    return sorted(_REGISTRY)


def _unknown(name, where):
    listing = "{" + ", ".join(repr(n) for n in names()) + "}"
    return ValueError(f"{where}: unknown filter name. Expected one of {listing}. Received: name={name!r}")


def get(name, **params) -> np.ndarray:
    """A filter by name, with its parameters, or a 2-D array checked and returned as float32.

    ``get("gaussian", size=7, sigma=2.0)``; ``get("sobel_x")``; ``get([[0, 1], [1, 0]])``.
    Names are case-insensitive. A 2-D array (or nested list) comes back as a new float32
    (kernel_h, kernel_w) array; it must be non-empty, numeric and finite.

    Raises:
        ValueError: unknown name (the message lists the known ones), a parameter the filter
            does not take, or an array that is not a finite 2-D numeric array.
    """
    if isinstance(name, str):
        key = name.lower()
        if key not in _REGISTRY:
            raise _unknown(name, "filters.get")
        function = _REGISTRY[key]
        accepted = list(inspect.signature(function).parameters)
        extra = sorted(set(params) - set(accepted))
        if extra:
            takes = f"takes only {accepted}" if accepted else "takes no parameters"
            received = ", ".join(f"{p}={params[p]!r}" for p in extra)
            raise ValueError(f"filters.get: the filter {key!r} {takes}. Received: {received}")
        return function(**params)
    if params:
        raise ValueError(
            "filters.get: parameters apply only to a filter given by name, not to an array. "
            f"Received: {', '.join(f'{p}={v!r}' for p, v in params.items())}"
        )
    return _as_kernel(name, "filters.get")


def _as_kernel(value, where) -> np.ndarray:
    """A float32 2-D copy of ``value`` after checking it is a finite, non-empty 2-D numeric array."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise ValueError(
            f"{where}: expected a filter name or a 2-D numeric array (kernel_h, kernel_w). "
            f"Received: {_describe(value)}"
        )
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"{where}: expected a non-empty 2-D array (kernel_h, kernel_w). "
            f"Received: an array of shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: the filter contains NaN or infinite values. Received: {array.tolist()}")
    return array.astype(np.float32)  # always a new array: the caller's is never shared


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kernel_list(kernels, where) -> list:
    """Names and/or 2-D arrays -> a list of float32 2-D arrays. A single name or 2-D array, or a
    nested list of numbers forming one 2-D array, counts as a list of one."""
    if isinstance(kernels, (str, np.ndarray)):
        kernels = [kernels]
    elif isinstance(kernels, (list, tuple)):
        try:
            as_array = np.asarray(kernels)
        except (ValueError, TypeError):
            as_array = None
        if as_array is not None and as_array.dtype.kind in "biuf" and as_array.ndim == 2:
            kernels = [kernels]  # [[0, 1, 0], [0, 1, 0], [0, 1, 0]] is one filter
    else:
        raise ValueError(
            f"{where}: expected a filter name, a 2-D array, or a list of them. Received: {_describe(kernels)}"
        )
    if len(kernels) == 0:
        raise ValueError(f"{where}: expected at least one filter. Received: kernels=[]")
    out = []
    for k in kernels:
        if isinstance(k, str):
            if k.lower() not in _REGISTRY:
                raise _unknown(k, where)
            out.append(_REGISTRY[k.lower()]())
        else:
            out.append(_as_kernel(k, where))
    sizes = [k.shape for k in out]
    if len(set(sizes)) > 1:
        raise ValueError(
            f"{where}: every filter in a bank must have the same size (kernel_h, kernel_w). "
            f"Received: sizes {sizes}"
        )
    return out


def bank(kernels, in_channels=1, mode="per_channel") -> np.ndarray:
    """Stack filters into a Conv2D kernel (kernel_h, kernel_w, in_channels, filters), float32.

    Args:
        kernels: a filter name, a 2-D array, or a list of names and/or 2-D arrays, all of the
            same size. Names use their default parameters (call ``get`` for others).
        in_channels: the number of channels of the images the bank will be applied to.
        mode: how F filters meet C = ``in_channels`` channels:

            * ``"across"``: F output channels. Output f is filter f applied to every input
              channel and summed, **divided by C**:
              ``kernel[:, :, c, f] = k_f / C``. So an RGB image whose three channels are the
              same grey image gives exactly the map of the grey image alone (the filter
              sees the channels' mean).
            * ``"per_channel"``: F * C output channels, each filter applied to each channel
              on its own, **filter-major**: output ``f * C + c`` is filter f on channel c
              (for RGB: f0 on R, f0 on G, f0 on B, f1 on R, ...).
              ``kernel[:, :, c, f * C + c] = k_f`` and zeros elsewhere.

            With ``in_channels=1`` both modes give (kh, kw, 1, F) holding the filters as they are.

    Raises:
        ValueError: unknown names, arrays that are not 2-D, filters of different sizes,
            ``in_channels`` not a positive integer, or an unknown ``mode``.
    """
    mode = check_choice(mode, BANK_MODES, "mode", "filters.bank")
    if isinstance(in_channels, bool) or not isinstance(in_channels, (int, np.integer)) or in_channels < 1:
        raise ValueError(
            f"filters.bank: `in_channels` must be a positive integer. Received: in_channels={in_channels!r}"
        )
    ks = np.stack(_kernel_list(kernels, "filters.bank"), axis=-1)  # (kh, kw, F)
    kh, kw, f = ks.shape
    c = int(in_channels)
    if mode == "across":
        return np.repeat(ks[:, :, None, :] / np.float32(c), c, axis=2).astype(np.float32)  # (kh, kw, C, F)
    out = np.zeros((kh, kw, c, f, c), np.float32)  # (kh, kw, in channel, filter, copy of the in channel)
    for channel in range(c):
        out[:, :, channel, :, channel] = ks
    return out.reshape(kh, kw, c, f * c)  # output index f * C + c: filter-major
