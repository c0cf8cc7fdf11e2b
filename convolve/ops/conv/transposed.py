"""The transposed convolution: conv's input gradient as a layer of its own.

Layout (channels_last; Keras' kernel layout for transposed convolutions):

    x       (N, *S, C)      C input channels
    kernel  (*K, F, C)      F filters: read as a convolution kernel, F is its input side
    bias    (F,)
    y       (N, *L, F)      L from ops.shapes.conv_transpose_output_shape

Definition (TensorFlow's conv_transpose, which Keras 3 follows): y = A^T x, where A is
the convolution z (N, *L, F) -> (N, *S, C) with this kernel, strides and dilations and
its padding computed on L by the usual 'valid'/'same' rules. Concretely, every input
pixel scatters its channel vector times the kernel into the padded output grid,

    y_padded[n, i * stride + t * dilation, f] += sum_c x[n, i, c] * kernel[t, f, c]

and the padding is cropped. :func:`check_transpose` describes A as a
:class:`~convolve.ops.conv.geometry.ConvGeometry` (its input L, its output S);
:func:`forward` computes y by the input-gradient half of backward.py, and
:func:`kernel_gradient` its kernel gradient by the kernel-gradient half with the roles
swapped. The public ``conv_transpose`` and ``conv_transpose_backward`` (the package's
``__init__``) choose the formulation and call these.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..args import bias_array, standardize_tuple
from ..shapes import conv_transpose_output_shape
from . import backward
from .geometry import ConvGeometry, arrays_and_rank, common_dtype, pad, pad_backward


class TransposeArguments(NamedTuple):
    """A checked transposed convolution: arrays in channels_last and one dtype, and the
    geometry of the convolution A (N, *L, F) -> (N, *S, C) whose transpose it is."""

    x: np.ndarray  # (N, *S, C), channels_last view of the input
    kernel: np.ndarray  # (*K, F, C)
    bias: np.ndarray | None  # (F,)
    geometry: ConvGeometry  # in_sizes L, pads cropped from the padded output, out_sizes S
    data_format: str


def check_transpose(
    x, kernel, bias, strides, padding, output_padding, dilation_rate, data_format, where
) -> TransposeArguments:
    """Validate every argument of a transposed convolution; see ``ops.conv.conv_transpose``."""
    x, kernel, n, data_format = arrays_and_rank(
        x, kernel, data_format, where, "(*kernel_size, filters, in_channels)", "transposed convolution"
    )
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    input_shape = x.shape
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    channels, filters = x.shape[-1], kernel.shape[-2]
    if kernel.shape[-1] != channels:
        hint = ""
        if kernel.shape[-2] == channels:
            hint = (
                " (this looks like a convolution kernel (*kernel_size, in_channels, filters); "
                "swap its last two axes)"
            )
        raise ValueError(
            f"{where}: a transposed convolution's kernel is (*kernel_size, filters, in_channels), so its "
            f"last axis must equal the input channels, {channels}{hint}. "
            f"Received: kernel.shape={kernel.shape}, inputs.shape={input_shape}"
        )
    bias = bias_array(bias, filters, where)
    kernel_size = tuple(kernel.shape[:n])
    out_sizes, pads = conv_transpose_output_shape(
        x.shape[1:-1], kernel_size, strides, padding, output_padding, dilations, where=where
    )
    geometry = ConvGeometry(
        kernel_size=kernel_size, strides=strides, dilations=dilations, pads=tuple(pads),
        in_sizes=tuple(out_sizes), out_sizes=tuple(x.shape[1:-1]),
    )
    return TransposeArguments(*common_dtype(x, kernel, bias), geometry=geometry, data_format=data_format)


def forward(arguments: TransposeArguments, plan: backward.BackwardPlan):
    """y (N, *L, F) in the caller's layout, a new contiguous array: x scattered onto the padded
    grid P as A's input gradient (x plays A's output gradient, so C is A's filters), the
    padding cropped, the bias added."""
    geometry = arguments.geometry
    _, y, _ = backward.gradients(
        None, arguments.x, arguments.kernel, geometry, plan, need_input_grad=True, crop=False
    )  # (N, *P, F)
    y = pad_backward(y, geometry.pads, "zeros", geometry.in_sizes)  # cropped to (N, *L, F)
    if arguments.bias is not None:
        y = y + arguments.bias
    if arguments.data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return np.ascontiguousarray(y)


def kernel_gradient(arguments: TransposeArguments, g, plan: backward.BackwardPlan):
    """dL/dkernel (*K, F, C) from dL/dy ``g`` (N, *L, F) in channels_last: A's kernel gradient
    with the roles swapped (g, padded, is A's input and x its output gradient)."""
    g_padded = pad(g, arguments.geometry.pads)  # (N, *P, F)
    grad_kernel, _, _ = backward.gradients(
        g_padded, arguments.x, arguments.kernel, arguments.geometry, plan, need_input_grad=False
    )
    return grad_kernel
