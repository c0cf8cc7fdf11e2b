"""N-dimensional convolution (cross-correlation): what is computed, and the one chooser.

Layout, everywhere in this package (channels_last; channels_first input is moved to this
layout on entry and back on exit):

    x       (N, *S, C)           batch, spatial sizes S (1, 2 or 3 of them), channels
    kernel  (*K, C // G, F)      kernel sizes K, input channels per group, filters
    bias    (F,)
    y       (N, *O, F)           O from ops.shapes.conv_output_shape

Output channel f belongs to group g = f // (F // G) and sees input channels
g * (C // G) ... (g + 1) * (C // G) - 1. What is computed, for every output position o:

    y[n, o, f] = bias[f] + sum over taps t in K and input channels c of
                 x_padded[n, o * stride + t * dilation, g * C/G + c] * kernel[t, c, f]

(no kernel flip: this is cross-correlation, as in every deep-learning framework).

How it is computed: the input is padded once (geometry.pad), then one formulation, picked
by :func:`choose_formulation` from the shapes alone, computes y from the padded input and
the convolution's :class:`~convolve.ops.conv.geometry.ConvGeometry`. This file is the only
place that chooses; the modules compute what they are given:

    geometry.py    ConvGeometry, the argument checks, pad and its gradient
    pointwise.py   ``pointwise``: 1x1 kernels, one group: one product (M, C) @ (C, F) on the
                   (strided) input, in row blocks that get their bias while in cache
    im2col.py      ``im2col``: for a cache-sized block of output positions, the T = prod(K)
                   taps copied side by side into a (rows, T * C) matrix, then one product
                   with the (T * C, F) kernel, written straight into y, the bias riding in the
                   product; several groups: a batched product per batch chunk. Also the
                   column builders (blocks, im2col, col2im) that the gradients share.
    flat.py        ``flat``: stride 1, one group: tap-major columns over the padded grid's
                   flat positions, one contiguous copy per tap and channel, the product
                   cropped into y
    direct.py      ``direct``: one input channel per group (grey images, depthwise):
                   taps accumulated with broadcasting, no product at all
    winograd.py    ``winograd2`` / ``winograd4``: Winograd F(2x2,3x3) / F(4x4,3x3) for 2-D 3x3
                   kernels, stride 1, dilation 1, one group: blocks of a few hundred tiles,
                   each transformed (compiled loops, ops/kernels/winograd.py), multiplied
                   (alpha^2 products of inner size C) and transformed back while in cache;
                   its kernel gradient by the adjoint transforms
    backward.py    the gradients: ``im2col`` (col2im), ``flipped`` (stride 1: the input
                   gradient as a forward convolution with the flipped kernel), ``direct``,
                   ``winograd2`` / ``winograd4`` (Winograd kernel gradient, flipped input
                   gradient by the same Winograd forward)
    transposed.py  the transposed convolution: the input-gradient half of backward.py
    epilogue.py    the activation fused into the formulations (``conv(activation='relu')``):
                   max(y, 0) on each block of y while in cache; its gradient, the relu mask and
                   the bias sum in one compiled pass (ops/kernels/elementwise.py)

The compiled conv loops live in ops/kernels/, used by these modules when the kernels are on
(``kernels.enabled``; the NumPy code beside each call is the reference and fallback): Winograd's
tile transforms (winograd.py), the fused
backward's relu mask and bias sum (elementwise.py), im2col's column fill for 2-D inputs of more
than ``im2col.TAP_MAJOR_CHANNELS`` channels (columns.py) and large zero paddings (padding.py,
geometry.pad and backward.padded_scratch). A direct compiled convolution for few input
channels (Numba, output positions outer, the F filters innermost) was measured and not kept: on
128x28x28x1 -> 32 and 128x32x32x3 -> 32 (3x3, relu, 2 threads) it ran 2.26 and 7.0 ms against
im2col's 1.65 and 4.3 ms; blocked over 4 positions and 8 filters, several times slower still.

A new formulation is a module with ``forward(x_padded, kernel, bias, geometry)`` (and its
gradients in backward.py; with ``activation=None`` too if it fuses it, named in
``FUSES_ACTIVATION``), a name in ``FORMULATIONS``, a rule in :func:`choose_formulation`
and its applicability in :func:`applicable_formulations`; ``formulation=`` forces it in tests.

The rules (forward, :func:`choose_formulation`), from ``benchmarks/conv.py --formulations``:
``direct`` when each group has one input channel and, for a plain convolution, one
filter (with several filters one product of inner size T beats T broadcast passes over
the output); ``pointwise`` for 1x1 kernels (one group); ``winograd4`` for 2-D 3x3 kernels,
stride 1, no dilation, one group, 32 to 64 input channels and filters (``winograd2`` above 64,
where F(4x4)'s float32 error would pass 1e-5), when the compiled kernels run (its tile
transforms are fast only compiled); ``flat`` for stride 1, one group,
2-D or 3-D and a few channels (more than ``im2col.TAP_MAJOR_CHANNELS``, at most
``FLAT_MAX_CHANNELS``); ``im2col`` for the rest: once its columns were built in cache-sized
blocks with one copy per run, its one product of inner size T * C ran about as fast as a
bare product of the same shape. (A ``taps`` formulation, T products of inner size C over
the flat padded input, was never chosen: it was at best about 10% faster on a few shapes and
collapsed under load (its figures: ``git show 426766b:benchmarks/README.md``); it lives on in
the tests as a second oracle, tests/ops/conv_taps.py.)

The gradients (:func:`conv_backward`), picked by :func:`choose_backward_formulation`:
``winograd4`` / ``winograd2`` where the forward rule picks them; ``flipped`` for stride 1, one
group, a kernel larger than 1x1 and at least ``FLIPPED_MIN_CHANNELS`` input channels per group;
``direct`` (broadcast products per tap) where the forward pass is direct; ``im2col`` otherwise.

:func:`conv_transpose` and :func:`conv_transpose_backward` are built from the same pieces: a
transposed convolution is the input-gradient half of :func:`conv_backward`.
"""
from __future__ import annotations

import numpy as np

from . import direct, epilogue, flat, im2col, pointwise, winograd
from .backward import BackwardPlan, gradients
from .geometry import NUMPY_PAD_MODES, ConvGeometry, check_conv, check_grad_y, pad, pad_backward
from .transposed import check_transpose
from .transposed import forward as transposed_forward
from .transposed import kernel_gradient as transposed_kernel_gradient

__all__ = [
    "applicable_backward_formulations", "applicable_formulations", "BACKWARD_FORMULATIONS", "backward_plan",
    "BackwardPlan", "choose_backward_formulation", "choose_formulation", "conv", "conv_backward",
    "conv_transpose", "conv_transpose_backward", "ConvGeometry", "FLAT_MAX_CHANNELS", "FLIPPED_MIN_CHANNELS",
    "FORMULATIONS", "FORWARD", "FUSES_ACTIVATION", "NUMPY_PAD_MODES", "pad", "pad_backward",
]

#: each forward formulation's ``forward(x_padded, kernel, bias, geometry)``
FORWARD = {
    "pointwise": pointwise.forward, "im2col": im2col.forward, "direct": direct.forward, "flat": flat.forward,
    "winograd2": winograd.forward2, "winograd4": winograd.forward4,
}
FORMULATIONS = tuple(FORWARD)
#: the formulations whose ``forward`` takes ``activation=`` and applies it per block (epilogue.py);
#: any other gets it as one pass over y afterwards
FUSES_ACTIVATION = frozenset(("pointwise", "im2col", "direct", "flat"))
BACKWARD_FORMULATIONS = ("im2col", "flipped", "direct", "winograd2", "winograd4")
#: most input channels for which ``flat`` beats im2col, by rank (2-D, 3-D), one group, stride 1
#: (3x3 and 3x3x3 kernels in ``benchmarks/conv.py --formulations``, one thread: with more
#: channels im2col's runs of K_last * C numbers are long enough to copy as fast)
FLAT_MAX_CHANNELS = {2: 8, 3: 16}
#: fewest input channels per group for which the ``flipped`` input gradient beats col2im
FLIPPED_MIN_CHANNELS = 8
#: fewest input channels and filters for which ``winograd4`` is chosen (forward and backward):
#: measured faster than im2col from 32 channels on (benchmarks/conv.py shapes 1, 3, 4, 6), slower
#: with 1 and 3 (shapes 0, 2: the transforms cost more than the small products they save), about
#: even with 16 -> 32 and 8 -> 16 (32x32x32, within the noise of a shared machine)
WINOGRAD_MIN_CHANNELS = 32
#: most input channels and filters for which ``winograd4`` is chosen; above, ``winograd2``. F(4x4)'s
#: float32 error grows with the channels summed: measured (benchmarks/conv.py data, against float64)
#: at most 7e-6 with 32 and 64 channels, 1.1e-5 (output) and 1.5e-5 (input gradient) with 256;
#: F(2x2) at most 6e-7. So the default stays below float32's 1e-5 on the measured shapes, and
#: F(4x4)'s documented 1e-4 (winograd.ERROR_BOUND) is met only where it is forced
WINOGRAD4_MAX_CHANNELS = 64


def compiled_kernels(compiled: bool | None = None) -> bool:
    """Whether the compiled kernels run (``compiled``, else ``convolve.config.kernels()``): Winograd's
    tile transforms are fast only as compiled loops, so the choosers pick it only then."""
    if compiled is not None:
        return compiled
    from ... import config  # here: asking loads Numba once, which the kernels need anyway

    return config.kernels() == "numba"


def winograd_choice(channels: int, filters: int | None, kernel_size, strides, groups: int, dilations,
                    compiled: bool | None) -> str | None:
    """Which Winograd formulation the choosers pick, or None: it applies, at least
    ``WINOGRAD_MIN_CHANNELS`` input channels and filters (``filters`` None: unknown, no), and the
    compiled kernels run; ``winograd4`` up to ``WINOGRAD4_MAX_CHANNELS`` channels and filters,
    ``winograd2`` above (F(4x4)'s float32 error)."""
    if not (
        winograd.applies(kernel_size, strides, groups, dilations)
        and channels >= WINOGRAD_MIN_CHANNELS
        and filters is not None
        and filters >= WINOGRAD_MIN_CHANNELS
        and compiled_kernels(compiled)
    ):
        return None
    return "winograd4" if max(channels, filters) <= WINOGRAD4_MAX_CHANNELS else "winograd2"


# --- the chooser ------------------------------------------------------------------------


def applicable_formulations(in_channels: int, kernel_size, strides, groups: int, dilations=None) -> tuple:
    """The formulations that can compute a convolution of this shape (im2col always can);
    ``dilations`` None means no dilation."""
    one_group = groups == 1
    table = (
        ("im2col", True),
        ("direct", in_channels // groups == 1),
        ("pointwise", one_group and all(k == 1 for k in kernel_size)),
        ("flat", one_group and all(s == 1 for s in strides)),
        ("winograd2", winograd.applies(kernel_size, strides, groups, dilations)),
        ("winograd4", winograd.applies(kernel_size, strides, groups, dilations)),
    )
    return tuple(name for name, applies in table if applies)


def choose_formulation(
    in_channels: int, kernel_size, strides, groups: int, filters: int | None = None, dilations=None,
    compiled: bool | None = None,
) -> str:
    """Which formulation computes a convolution of this shape fastest (forward pass).

    The one place where the choice is made; every formulation gives the same numbers (the
    tests check each one on every configuration they draw). The rules, from
    ``benchmarks/conv.py --formulations`` (see the module docstring):

    * ``direct`` when each group has one input channel and, for a plain convolution (one
      group), one filter (a grey image filtered by one kernel; a depthwise convolution,
      whatever its depth multiplier); ``filters`` None counts as one per group. With
      several filters of a plain convolution one product of inner size T beats T broadcast
      passes over the output.
    * ``pointwise`` for 1x1 kernels;
    * ``winograd4`` (F(4x4, 3x3)) for 2-D 3x3 kernels, stride 1, no dilation, one group,
      ``WINOGRAD_MIN_CHANNELS`` to ``WINOGRAD4_MAX_CHANNELS`` input channels and filters, when the
      compiled kernels run (``compiled``; None: ``convolve.config.kernels()``): 4x fewer
      multiplications, the tile transforms compiled; ``winograd2`` (F(2x2, 3x3), 2.25x fewer) with
      more channels, where F(4x4)'s float32 error would pass 1e-5. Measured, 2 threads (shared
      2-core EPYC), float32, median ms, winograd4 / winograd2 / im2col: 64x26x26x32->64 valid
      5.3 / 6.8 / 8.9; 32x32x32x64->64 same 8.4 / 11.7 / 16; 8x56x56x64->64 same 6.7 / 10.4 / 13.4;
      16x16x16x256->256 same 11.9 / 15.7 / 25.9; with 1 and 3 channels (64x28x28x1->32,
      128x32x32x3->32) 6.1 and 11.3 against im2col's 0.8 and 3.7;
    * ``flat`` for stride 1, one group, 2-D or 3-D, and a few channels per group (more than
      ``im2col.TAP_MAJOR_CHANNELS``, at most ``FLAT_MAX_CHANNELS`` for the rank): im2col's
      rows would be runs of only K_last * C numbers (see flat.py);
    * ``im2col`` otherwise: its blocked columns run at the product's own speed.
    """
    per_group = in_channels // groups
    filters_per_group = 1 if filters is None else filters // groups
    if per_group == 1 and (groups > 1 or filters_per_group == 1):
        return "direct"
    if groups == 1 and all(k == 1 for k in kernel_size):
        return "pointwise"
    tiles = winograd_choice(per_group, filters, kernel_size, strides, groups, dilations, compiled)
    if tiles is not None:
        return tiles
    if (
        groups == 1
        and all(s == 1 for s in strides)
        and len(kernel_size) >= 2
        and im2col.TAP_MAJOR_CHANNELS < per_group <= FLAT_MAX_CHANNELS[len(kernel_size)]
    ):
        return "flat"
    return "im2col"


def applicable_backward_formulations(
    in_channels: int, kernel_size, strides, groups: int, dilations=None
) -> tuple:
    """The formulations that can compute conv's gradients for this shape (im2col always can);
    ``dilations`` None means no dilation."""
    table = (
        ("im2col", True),
        ("direct", in_channels // groups == 1),
        ("flipped", groups == 1 and all(s == 1 for s in strides)),
        ("winograd2", winograd.applies(kernel_size, strides, groups, dilations)),
        ("winograd4", winograd.applies(kernel_size, strides, groups, dilations)),
    )
    return tuple(name for name, applies in table if applies)


def choose_backward_formulation(
    in_channels: int, kernel_size, strides, groups: int, filters: int | None = None, dilations=None,
    compiled: bool | None = None,
) -> str:
    """Which formulation computes conv's gradients fastest; see the module docstring.

    ``flipped`` for stride 1, one group, a kernel larger than 1x1 and at least
    ``FLIPPED_MIN_CHANNELS`` input channels per group: its input gradient is a forward conv
    (blocked im2col, each input-gradient cell written once) where col2im adds T windows into
    it. With fewer channels that forward conv has only C filters, a product with a C-wide
    output, which BLAS runs far below its rate, and col2im is faster. 1x1 kernels: the two
    are the same product, and ``im2col`` skips padding g. ``direct`` where the forward pass
    is direct (one input channel and, for one group, one filter; or several groups with one
    input channel each, as depthwise): broadcast products, as the products of the others
    would have a single row or column. ``winograd4`` where the forward rule picks it (its
    kernel gradient by the adjoint transforms, its input gradient the flipped convolution by
    the same tiles), ``winograd2`` with more channels, as forward: measured, forward+backward
    median ms, 2 threads, winograd4 / winograd2 / flipped (its input gradient then also by Winograd)
    / the previous choice (im2col forward, flipped by im2col): 64x26x26x32->64 valid 21.5 / 23.7 /
    25.4 / 32.2; 32x32x32x64->64 same 27.4 / 34.3 / 34.7 / 47.4; 8x56x56x64->64 same 20.9 / 29.1 /
    28.1 / 39.9; 16x16x16x256->256 same 37.8 / 45.5 / 50.1 / 80.2. ``im2col`` otherwise.
    """
    if in_channels // groups == 1 and (groups > 1 or filters is None or filters == 1):
        return "direct"
    tiles = winograd_choice(in_channels, filters, kernel_size, strides, groups, dilations, compiled)
    if tiles is not None:
        return tiles
    if (
        groups == 1
        and all(s == 1 for s in strides)
        and not all(k == 1 for k in kernel_size)
        and in_channels // groups >= FLIPPED_MIN_CHANNELS
    ):
        return "flipped"
    return "im2col"


def backward_plan(geometry: ConvGeometry, per_group: int, filters: int, formulation=None) -> BackwardPlan:
    """The backward formulation (``formulation``, else :func:`choose_backward_formulation`) of a
    convolution with ``per_group`` input channels per group and ``filters`` filters, with the
    choices ``flipped`` leaves to the forward rule: whether its kernel gradient comes from
    ``flat``'s columns (where :func:`choose_formulation` picks flat), and which formulation
    computes its input gradient, a forward convolution with F input channels and C filters."""
    channels, kernel_size, strides = per_group * geometry.groups, geometry.kernel_size, geometry.strides
    dilations = geometry.dilations
    if formulation is None:
        formulation = choose_backward_formulation(
            channels, kernel_size, strides, geometry.groups, filters, dilations
        )
    if formulation in winograd.NAMES.values():  # its input gradient: the flipped conv, by the same tiles
        return BackwardPlan(formulation, False, FORWARD[formulation])
    if formulation != "flipped":
        return BackwardPlan(formulation)
    # the forward rule for this input, whatever the filters (2: not one, which could mean direct)
    from_flat = choose_formulation(channels, kernel_size, strides, 1, 2, dilations) == "flat"
    flipped_forward = FORWARD[
        choose_formulation(filters, kernel_size, (1,) * geometry.rank, 1, channels, dilations)
    ]
    return BackwardPlan(formulation, from_flat, flipped_forward)


# --- the convolution and its gradients ----------------------------------------------------


def conv(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    dilation_rate=1,
    groups=1,
    data_format="channels_last",
    padding_mode="zeros",
    formulation=None,
    where="conv",
    activation=None,
):
    """Convolve ``x`` with ``kernel`` over 1, 2 or 3 spatial axes, then ``activation``.

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first. Integer input
            is cast to float32; the caller's array is never modified.
        kernel: (*K, C // groups, F).
        bias: (F,) or None.
        strides, dilation_rate: int or one per spatial axis.
        padding: 'valid', 'same' (any stride and dilation), 'causal' (1-D), 'full',
            an int, one int per axis, or one (before, after) pair per axis.
        groups: C and F must both be divisible by it; groups == C is depthwise.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.
        formulation: force one of :func:`applicable_formulations` for this shape (for tests
            and benchmarks); default is :func:`choose_formulation`.
        where: who is calling, for error messages.
        activation: None or 'linear' (nothing), or 'relu' (``max(y, 0)``, NaN kept), applied to
            each block of y while it is in cache (epilogue.py).

    Returns:
        y: (N, *O, F) for channels_last, (N, F, *O) for channels_first; the dtype is
        the common float dtype of ``x`` and ``kernel``.
    """
    activation = epilogue.check(activation, where)
    args = check_conv(
        x, kernel, bias, strides, padding, dilation_rate, groups, data_format, padding_mode, where
    )
    geometry = args.geometry
    applicable = applicable_formulations(
        args.channels, geometry.kernel_size, geometry.strides, groups, geometry.dilations
    )
    if formulation is None:
        formulation = choose_formulation(
            args.channels, geometry.kernel_size, geometry.strides, groups, args.filters, geometry.dilations
        )
    elif formulation not in applicable:
        raise ValueError(
            f"{where}: formulation must be one of {applicable} for this shape. "
            f"Received: formulation={formulation!r}"
        )
    x_padded = pad(args.x, geometry.pads, geometry.padding_mode)  # (N, *P, C)
    if activation == "linear":
        y = FORWARD[formulation](x_padded, args.kernel, args.bias, geometry)  # (N, *O, F), a new array
    elif formulation in FUSES_ACTIVATION:
        y = FORWARD[formulation](x_padded, args.kernel, args.bias, geometry, activation=activation)
    else:
        y = FORWARD[formulation](x_padded, args.kernel, args.bias, geometry)
        epilogue.finish(y, activation)
    if args.data_format == "channels_first":
        y = np.ascontiguousarray(np.moveaxis(y, -1, 1))
    return y


def conv_backward(
    grad_y,
    x,
    kernel,
    strides=1,
    padding="valid",
    dilation_rate=1,
    groups=1,
    data_format="channels_last",
    padding_mode="zeros",
    use_bias=True,
    need_input_grad=True,
    formulation=None,
    where="conv",
    activation=None,
    output=None,
):
    """Gradients of :func:`conv` with respect to its input, kernel and bias.

    Args:
        grad_y: dL/dy, the shape of conv's output.
        x, kernel and the rest: exactly as given to :func:`conv`.
        activation, output: the ``activation`` given to :func:`conv` and, for 'relu', the
            ``output`` it returned: grad_y is first multiplied by relu'(output) (1 where
            output > 0, else 0; NaN: 0), in one compiled pass that also sums dL/dbias
            (epilogue.relu_gradient).
        use_bias: also return dL/dbias.
        need_input_grad: compute dL/dx (skip it for a model's first layer).
        formulation: force one of :func:`applicable_backward_formulations` (tests and
            benchmarks); default :func:`choose_backward_formulation`.

    Returns:
        (grad_x or None, grad_kernel, grad_bias or None), each in its argument's layout.
    """
    args = check_conv(
        x, kernel, None, strides, padding, dilation_rate, groups, data_format, padding_mode, where
    )
    geometry = args.geometry
    g = check_grad_y(
        grad_y, (args.x.shape[0], *geometry.out_sizes, args.filters), args.x.dtype, args.data_format, where
    )
    applicable = applicable_backward_formulations(
        args.channels, geometry.kernel_size, geometry.strides, groups, geometry.dilations
    )
    if formulation is not None and formulation not in applicable:
        raise ValueError(
            f"{where}: the backward formulation must be one of {applicable} for this shape. "
            f"Received: formulation={formulation!r}"
        )
    plan = backward_plan(geometry, args.kernel.shape[-2], args.filters, formulation)
    g = np.ascontiguousarray(g)  # (N, *O, F)
    grad_bias = None
    if epilogue.check(activation, where) == "relu":
        if output is None:
            raise ValueError(
                f"{where}: the gradient through activation='relu' needs the output that conv returned. "
                "Received: output=None"
            )
        y = check_grad_y(output, g.shape, g.dtype, args.data_format, where, name="output")
        g, grad_bias = epilogue.relu_gradient(g, np.ascontiguousarray(y), use_bias)
    x_padded = pad(args.x, geometry.pads, geometry.padding_mode)
    grad_kernel, grad_x, bias_sum = gradients(
        x_padded, g, args.kernel, geometry, plan, need_input_grad, crop=True,
        with_bias=use_bias and grad_bias is None,
    )
    grad_bias = bias_sum if grad_bias is None else grad_bias
    if need_input_grad:
        if args.data_format == "channels_first":
            grad_x = np.moveaxis(grad_x, -1, 1)
        grad_x = np.ascontiguousarray(grad_x)
    return grad_x, grad_kernel, grad_bias


# --- the transposed convolution (transposed.py) ---------------------------------------------


def conv_transpose(
    x,
    kernel,
    bias=None,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    data_format="channels_last",
    where="conv_transpose",
):
    """Transposed convolution of ``x`` with ``kernel`` over 1, 2 or 3 spatial axes.

    The gradient, with respect to its input, of the convolution that maps the output
    back to ``x`` (TensorFlow's and Keras 3's definition; see transposed.py).

    Args:
        x: (N, *S, C) for channels_last, (N, C, *S) for channels_first.
        kernel: (*K, F, C) -- Keras' layout: filters before input channels.
        bias: (F,) or None.
        strides, dilation_rate: int or one per spatial axis.
        padding: 'valid' or 'same'.
        output_padding: None, or an int or one per axis, each below its stride; see
            :func:`convolve.ops.shapes.conv_transpose_output_shape`.
        where: who is calling, for error messages.

    Returns:
        y: (N, *L, F) for channels_last, (N, F, *L) for channels_first, in the common
        float dtype of ``x`` and ``kernel``.
    """
    args = check_transpose(
        x, kernel, bias, strides, padding, output_padding, dilation_rate, data_format, where
    )
    # x plays the output gradient of the convolution (*K, F, C): C is that convolution's filters
    plan = backward_plan(args.geometry, args.kernel.shape[-2], args.kernel.shape[-1])
    return transposed_forward(args, plan)


def conv_transpose_backward(
    grad_y,
    x,
    kernel,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    data_format="channels_last",
    use_bias=True,
    need_input_grad=True,
    where="conv_transpose",
):
    """Gradients of :func:`conv_transpose` with respect to its input, kernel and bias.

    With y = A^T x (A the convolution on the output grid, padding ``pads``):

        dL/dx      = A grad_y: a forward :func:`conv` of grad_y with the kernel
        dL/dkernel = conv's kernel gradient with the roles swapped: grad_y is the
                     convolution's input and x its output gradient
        dL/dbias   = grad_y summed over every axis but the channels

    Returns:
        (grad_x or None, grad_kernel, grad_bias or None), each in its argument's layout.
    """
    args = check_transpose(
        x, kernel, None, strides, padding, output_padding, dilation_rate, data_format, where
    )
    geometry = args.geometry
    expected = (args.x.shape[0], *geometry.in_sizes, args.kernel.shape[-2])
    g = check_grad_y(grad_y, expected, args.x.dtype, args.data_format, where)
    plan = backward_plan(geometry, args.kernel.shape[-2], args.kernel.shape[-1])
    grad_kernel = transposed_kernel_gradient(args, g, plan)
    grad_bias = g.sum(axis=tuple(range(g.ndim - 1))) if use_bias else None
    grad_x = None
    if need_input_grad:
        grad_x = conv(
            g, args.kernel, strides=geometry.strides, padding=geometry.pads, dilation_rate=geometry.dilations,
            where=where,
        )
        if args.data_format == "channels_first":
            grad_x = np.ascontiguousarray(np.moveaxis(grad_x, -1, 1))
    return grad_x, grad_kernel, grad_bias
