"""A convolution's geometry: its arguments checked, resolved once, and the padding.

Layout (channels_last, as everywhere in the package):

    x         (N, *S, C)     S the input's spatial sizes
    x_padded  (N, *P, C)     P = S + before + after on each axis
    kernel    (*K, C // G, F)
    y         (N, *O, F)     O from ops.shapes.conv_output_shape

:class:`ConvGeometry` holds everything but the arrays (K, strides, dilations, the padding,
S, O, groups, the padding mode); the formulation modules take it as their one description
of where the taps land. :func:`check_conv` validates a call's arguments before any
arithmetic and returns them as :class:`ConvArguments`. :func:`pad` and
:func:`pad_backward` pad the input once and fold a gradient back through that padding.
"""
from __future__ import annotations

import math
from itertools import product
from typing import NamedTuple

import numpy as np

from ...backend import as_float_array, get_array_module
from .. import kernels
from ..args import bias_array, standardize_data_format, standardize_padding_mode, standardize_tuple
from ..shapes import conv_output_shape

#: each padding mode as ``numpy.pad`` names it
NUMPY_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class ConvGeometry(NamedTuple):
    """Where a convolution's taps land, per spatial axis (no arrays).

    Output position o of axis a reads padded input position o * strides[a] + t * dilations[a]
    through tap t < kernel_size[a]; ``pads`` holds one (before, after) pair per axis.
    """

    kernel_size: tuple  # K
    strides: tuple
    dilations: tuple
    pads: tuple  # ((before, after), ...)
    in_sizes: tuple  # S, before padding
    out_sizes: tuple  # O
    groups: int = 1
    padding_mode: str = "zeros"

    @property
    def rank(self) -> int:
        """The number of spatial axes (1, 2 or 3)."""
        return len(self.kernel_size)

    @property
    def padded_sizes(self) -> tuple:
        """P = S + before + after on each axis."""
        return tuple(size + before + after for size, (before, after) in zip(self.in_sizes, self.pads))

    @property
    def taps(self) -> int:
        """T = prod(K), the number of taps."""
        return math.prod(self.kernel_size)

    def tap_positions(self) -> list:
        """Every tap as a tuple of per-axis indices, in the row-major order of the kernel."""
        return list(product(*(range(k) for k in self.kernel_size)))

    def flat_offsets(self, grid: tuple) -> tuple:
        """(row strides, tap offsets) on a row-major ``grid`` of spatial sizes read as one flat axis:
        position p sits at sum_a p_a * row_strides[a], and tap t reads offset_t = sum_a t_a *
        dilations[a] * row_strides[a] further on."""
        row_strides = [math.prod(grid[axis + 1 :]) for axis in range(len(grid))]
        offsets = [
            sum(t * d * r for t, d, r in zip(tap, self.dilations, row_strides))
            for tap in self.tap_positions()
        ]
        return row_strides, offsets


def window(x_padded, tap, geometry: ConvGeometry):
    """The strided view of ``x_padded`` (N, *P, C) that tap ``tap`` multiplies: (N, *O, C),
    a basic-slicing view (writes through it land in ``x_padded``)."""
    spatial = tuple(
        slice(t * d, t * d + (o - 1) * s + 1, s)
        for t, o, s, d in zip(tap, geometry.out_sizes, geometry.strides, geometry.dilations)
    )
    return x_padded[(slice(None), *spatial, slice(None))]


#: fewest padded numbers for which the compiled zero padding beats numpy.pad (2 threads: 0.30 against
#: 0.72 ms on 8x113x113x32, 0.71 against 1.79 ms on 128x28x28x64; below about 2^19 numbers the
#: hand-over to the worker threads costs more than it saves: 103 against 70 us on 32x1004x16)
COMPILED_PAD_MIN = 1 << 20


def pad(x, pads, mode="zeros"):
    """Pad the spatial axes of a channels_last array ``x`` (N, *S, C).

    ``pads`` holds one (before, after) pair per spatial axis; ``mode`` is one of
    'zeros', 'reflect' (mirror without repeating the edge), 'replicate' (repeat the
    edge) or 'circular' (wrap around). Returns ``x`` itself when nothing is padded.
    Zeros on a C-contiguous float array of at least ``COMPILED_PAD_MIN`` padded numbers go
    through :func:`zero_pad_into` (compiled).
    """
    if not any(b or a for b, a in pads):
        return x
    shape = (x.shape[0], *(s + b + a for s, (b, a) in zip(x.shape[1:-1], pads)), x.shape[-1])
    if mode == "zeros" and math.prod(shape) >= COMPILED_PAD_MIN and kernels.enabled(x):
        return zero_pad_into(x, pads, np.empty(shape, dtype=x.dtype))
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), *pads, (0, 0)), mode=NUMPY_PAD_MODES[mode])


def zero_pad_into(x, pads, out):
    """``out`` (N, *P, C), C-contiguous, written whole: ``x`` (N, *S, C), C-contiguous, at the
    ``pads``' before offsets and zeros around, by the compiled ``ops/kernels/padding.zero_pad``
    (one pass, the samples split over the worker threads). Returns ``out``."""
    from ..kernels import padding  # here: the first call imports Numba

    rank = x.ndim - 2
    lead = (1,) * (3 - rank)
    x4 = x.reshape(x.shape[0], *lead, *x.shape[1:-2], x.shape[-2] * x.shape[-1])
    out4 = out.reshape(out.shape[0], *lead, *out.shape[1:-2], out.shape[-2] * out.shape[-1])
    before = (*(0,) * (3 - rank), *(b for b, _ in pads[:-1]), pads[-1][0] * x.shape[-1])
    kernels.run(padding.zero_pad, x.shape[0], x4, before, out4, item_size=out[0].size)
    return out


def pad_backward(grad, pads, mode, sizes):
    """Gradient of :func:`pad`: fold the padded gradient (N, *P, C) back onto the unpadded
    input (N, *S, C), S = ``sizes``.

    For 'zeros' this is a crop. For the other modes every padded cell is a copy of some
    input cell; its gradient is added to that cell. The source index of each padded cell,
    per axis, comes from padding ``arange(size)`` with the same mode.
    """
    if not any(b or a for b, a in pads):
        return grad
    if mode == "zeros":
        return grad[(slice(None), *(slice(b, b + n) for (b, _), n in zip(pads, sizes)), slice(None))]
    xp = get_array_module(grad)
    for axis, ((before, after), n) in enumerate(zip(pads, sizes), start=1):
        if not (before or after):
            continue
        source = np.pad(np.arange(n), (before, after), mode=NUMPY_PAD_MODES[mode])
        folded = xp.moveaxis(grad, axis, 0)
        out = folded[before : before + n].copy()
        border = [*range(before), *range(before + n, before + n + after)]  # only the padded cells
        xp.add.at(out, source[border], folded[border])
        grad = xp.moveaxis(out, 0, axis)
    return grad


# --- checking a call's arguments ---------------------------------------------------------


class ConvArguments(NamedTuple):
    """A checked convolution: arrays in channels_last and one dtype, its geometry resolved."""

    x: np.ndarray  # (N, *S, C), channels_last view of the input
    kernel: np.ndarray  # (*K, C // G, F)
    bias: np.ndarray | None  # (F,)
    geometry: ConvGeometry
    data_format: str  # of the caller's arrays

    @property
    def channels(self) -> int:
        return self.x.shape[-1]

    @property
    def filters(self) -> int:
        return self.kernel.shape[-1]


def arrays_and_rank(x, kernel, data_format, where, kernel_layout, what):
    """Float arrays, the number of spatial axes n, and the data format; the kernel must have
    rank 3, 4 or 5 and the input rank n + 2 (``what`` and ``kernel_layout`` name them in messages)."""
    x = as_float_array(x, where=where, name="inputs")
    kernel = as_float_array(kernel, where=where, name="kernel")
    n = kernel.ndim - 2
    if n not in (1, 2, 3):
        raise ValueError(
            f"{where}: expected a kernel of rank 3, 4 or 5 {kernel_layout}. "
            f"Received: kernel.shape={kernel.shape}"
        )
    data_format = standardize_data_format(data_format, where)
    if x.ndim != n + 2:
        layout = (
            "(batch, *spatial, channels)" if data_format == "channels_last" else "(batch, channels, *spatial)"
        )
        raise ValueError(
            f"{where}: expected input of rank {n + 2} {layout} for a {n}-D {what}. "
            f"Received: inputs.shape={x.shape}"
        )
    return x, kernel, n, data_format


def check_conv(
    x, kernel, bias, strides, padding, dilation_rate, groups, data_format, padding_mode, where
) -> ConvArguments:
    """Validate every argument of a convolution before any arithmetic; see ``ops.conv.conv``."""
    x, kernel, n, data_format = arrays_and_rank(
        x, kernel, data_format, where, "(*kernel_size, in_channels // groups, filters)", "convolution"
    )
    padding_mode = standardize_padding_mode(padding_mode, where)
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(
            f"{where}: the `groups` argument must be a positive integer. Received: groups={groups!r}"
        )
    input_shape = x.shape  # as given, for messages
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    channels, filters = x.shape[-1], kernel.shape[-1]
    if channels % groups or filters % groups:
        raise ValueError(
            f"{where}: input channels and filters must both be divisible by groups. "
            f"Received: input channels={channels}, filters={filters}, groups={groups}"
        )
    if kernel.shape[-2] != channels // groups:
        raise ValueError(
            f"{where}: the kernel's in-channel axis must equal input channels // groups = "
            f"{channels} // {groups} = {channels // groups}. Received: kernel.shape={kernel.shape}, "
            f"inputs.shape={input_shape}"
        )
    bias = bias_array(bias, filters, where)
    kernel_size = kernel.shape[:n]
    out_sizes, pads = conv_output_shape(x.shape[1:-1], kernel_size, strides, padding, dilations, where=where)
    geometry = ConvGeometry(
        kernel_size=tuple(kernel_size), strides=strides, dilations=dilations, pads=tuple(pads),
        in_sizes=tuple(x.shape[1:-1]), out_sizes=tuple(out_sizes), groups=int(groups),
        padding_mode=padding_mode,
    )
    return ConvArguments(*common_dtype(x, kernel, bias), geometry=geometry, data_format=data_format)


def common_dtype(x, kernel, bias):
    """(x, kernel, bias) in the common float dtype of ``x`` and ``kernel`` (no copy where they
    have it already); the bias follows them and may be None."""
    dtype = np.result_type(x.dtype, kernel.dtype)
    cast = [a.astype(dtype, copy=False) for a in (x, kernel)]
    return (*cast, None if bias is None else bias.astype(dtype, copy=False))


def check_grad_y(grad_y, expected_shape, dtype, data_format, where, name="grad_y"):
    """dL/dy (or another array of the output's shape, ``name`` in messages) as a channels_last
    float array of ``dtype``, which must have ``expected_shape`` (N, *O, F) once in channels_last."""
    g = as_float_array(grad_y, where=where, name=name).astype(dtype, copy=False)
    if data_format == "channels_first":
        g = np.moveaxis(g, 1, -1)
    if g.shape != tuple(expected_shape):
        raise ValueError(
            f"{where}: {name} must have the output's shape {tuple(expected_shape)}. "
            f"Received: {name}.shape={g.shape}"
        )
    return g
