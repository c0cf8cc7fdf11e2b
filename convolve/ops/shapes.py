"""Output sizes, padding amounts and receptive fields: the single source of truth.

Every layer, op and picture that needs to know how big a convolution's or a pooling
window's output is calls :func:`conv_output_shape` (a transposed convolution's:
:func:`conv_transpose_output_shape`). It can return the arithmetic it did, one
:class:`AxisArithmetic` per spatial axis, so the same numbers can be shown to users.
:func:`receptive_field_step` is the one rule for receptive fields and jumps.

The rules, per spatial axis with input n, kernel k, stride s, dilation d:

* effective kernel  ke = d * (k - 1) + 1
* 'valid'           no padding
* 'same'            out = ceil(n / s); total = max((out - 1) * s + ke - n, 0);
                    before = total // 2, after = total - before (TensorFlow/Keras:
                    the extra pixel goes after). Any stride and dilation.
* 'causal' (1-D)    before = ke - 1, after = 0
* 'full'            before = after = ke - 1
* explicit          (before, after) as given
* output            out = floor((n + before + after - ke) / s) + 1, which must be >= 1

Transposed convolutions (:func:`conv_transpose_output_shape`, Keras 3's arithmetic), with
output_padding p (None, or 0 <= p < s):

* p is None, 'valid'  out = n * s + max(ke - s, 0)
* p is None, 'same'   out = n * s
* p given             out = (n - 1) * s + ke - 2 * pad + p, pad = ke // 2 for 'same', 0 for 'valid'

A transposed convolution is the input gradient of the convolution that maps ``out`` back
to ``n`` with the usual padding rules above (TensorFlow's definition); ``before`` and
``after`` are that convolution's padding, which the transposed one crops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .args import check_choice, standardize_padding, standardize_tuple

SPATIAL_AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def format_shape(shape) -> str:
    """A shape as messages and summaries write it: ``(None, 28, 28, 1)``, ``(5,)``."""
    return (
        "("
        + ", ".join("None" if s is None else str(s) for s in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def axis_names(n: int) -> tuple:
    """Human names of the spatial axes: ('height', 'width') for 2-D."""
    return SPATIAL_AXES.get(n, tuple(f"axis {i}" for i in range(n)))


@dataclass(frozen=True)
class AxisArithmetic:
    """How one spatial axis's output size was computed."""

    axis: str
    input: int
    kernel: int
    stride: int
    dilation: int
    padding: str  # as requested: 'valid', 'same', 'causal', 'full' or 'explicit'
    before: int
    after: int
    output: int

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    def formula(self) -> str:
        ke = self.effective_kernel
        return (
            f"floor(({self.input} + {self.before} + {self.after} - {ke}) / {self.stride}) + 1"
        )

    def __str__(self) -> str:
        parts = [f"input {self.input}", f"kernel {self.kernel}"]
        if self.dilation != 1:
            parts.append(f"dilation {self.dilation} (effective kernel {self.effective_kernel})")
        if self.stride != 1:
            parts.append(f"stride {self.stride}")
        pad = f"padding {self.padding}"
        if self.before or self.after:
            pad += f" ({self.before} before, {self.after} after)"
        parts.append(pad)
        return f"{self.axis}: " + ", ".join(parts) + f" → output {self.output} = {self.formula()}"


def padding_amounts(padding, input_size: int, kernel: int, stride: int, dilation: int) -> tuple:
    """(before, after) for one axis, given a *standardized* padding name or pair."""
    ke = dilation * (kernel - 1) + 1
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        out = -(-input_size // stride)  # ceil
        total = max((out - 1) * stride + ke - input_size, 0)
        return (total // 2, total - total // 2)
    if padding == "causal":
        return (ke - 1, 0)
    if padding == "full":
        return (ke - 1, ke - 1)
    return tuple(padding)


def conv_output_shape(
    input_sizes,
    kernel_sizes,
    strides=1,
    padding="valid",
    dilation_rate=1,
    where: str = "",
    explain: bool = False,
):
    """Spatial output sizes of a convolution or pooling window.

    Args:
        input_sizes: the spatial sizes, e.g. (height, width).
        kernel_sizes: window sizes, same length.
        strides, dilation_rate: int or per-axis tuple.
        padding: a name, an int, a per-axis tuple of ints, or per-axis (before, after) pairs.
        where: who is asking, for error messages ("Conv2D 'conv2d'").
        explain: also return a list of :class:`AxisArithmetic`, one per axis.

    Returns:
        ``(out_sizes, pads)`` with ``pads`` a tuple of (before, after) pairs, or
        ``(out_sizes, pads, arithmetic)`` when ``explain`` is true.

    Raises:
        ValueError when an output size would be below 1, showing the arithmetic.
    """
    input_sizes = tuple(int(v) for v in input_sizes)
    n = len(input_sizes)
    kernel_sizes = standardize_tuple(kernel_sizes, n, "kernel_size", where)
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    std = standardize_padding(padding, n, where)
    label = std if isinstance(std, str) else "explicit"
    outs, pads, arithmetic = [], [], []
    for name, size, k, s, d, i in zip(axis_names(n), input_sizes, kernel_sizes, strides, dilations, range(n)):
        before, after = padding_amounts(std if isinstance(std, str) else std[i], size, k, s, d)
        ke = d * (k - 1) + 1
        out = (size + before + after - ke) // s + 1
        record = AxisArithmetic(name, size, k, s, d, label, before, after, out)
        if out < 1:
            raise ValueError(
                f"{where + ': ' if where else ''}the output would be empty: {record}. "
                "The input is too small for this kernel; "
                "use padding='same' or a smaller kernel, stride or dilation."
            )
        outs.append(out)
        pads.append((before, after))
        arithmetic.append(record)
    if explain:
        return tuple(outs), tuple(pads), arithmetic
    return tuple(outs), tuple(pads)


@dataclass(frozen=True)
class TransposeAxisArithmetic:
    """How one spatial axis's output size of a transposed convolution was computed.

    ``before`` and ``after`` are the padding of the equivalent convolution on the output
    (the rows and columns the transposed convolution crops).
    """

    axis: str
    input: int
    kernel: int
    stride: int
    dilation: int
    padding: str  # 'valid' or 'same'
    output_padding: int | None
    before: int
    after: int
    output: int

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    def formula(self) -> str:
        n, s, ke, p = self.input, self.stride, self.effective_kernel, self.output_padding
        if p is None:
            return f"{n} * {s}" if self.padding == "same" else f"{n} * {s} + max({ke} - {s}, 0)"
        pad = ke // 2 if self.padding == "same" else 0
        return f"({n} - 1) * {s} + {ke} - 2 * {pad} + {p}"

    def __str__(self) -> str:
        parts = [f"input {self.input}", f"kernel {self.kernel}"]
        if self.dilation != 1:
            parts.append(f"dilation {self.dilation} (effective kernel {self.effective_kernel})")
        if self.stride != 1:
            parts.append(f"stride {self.stride}")
        pad = f"padding {self.padding}"
        if self.before or self.after:
            pad += f" (crops {self.before} before, {self.after} after)"
        parts.append(pad)
        if self.output_padding is not None:
            parts.append(f"output_padding {self.output_padding}")
        return f"{self.axis}: " + ", ".join(parts) + f" → output {self.output} = {self.formula()}"


def conv_transpose_output_shape(
    input_sizes,
    kernel_sizes,
    strides=1,
    padding="valid",
    output_padding=None,
    dilation_rate=1,
    where: str = "",
    explain: bool = False,
):
    """Spatial output sizes of a transposed convolution (Keras 3's arithmetic).

    Args:
        input_sizes: the spatial sizes of the transposed convolution's input.
        kernel_sizes: window sizes, same length.
        strides, dilation_rate: int or per-axis tuple.
        padding: 'valid' or 'same'.
        output_padding: None (the size is inferred), or an int or per-axis tuple of
            ints with 0 <= output_padding < stride.
        where: who is asking, for error messages.
        explain: also return a list of :class:`TransposeAxisArithmetic`, one per axis.

    Returns:
        ``(out_sizes, pads)`` -- ``pads`` holds, per axis, the (before, after) padding
        of the convolution that maps ``out_sizes`` back to ``input_sizes``, i.e. what the
        transposed convolution crops -- or ``(out_sizes, pads, arithmetic)`` with ``explain``.

    Raises:
        ValueError when output_padding >= stride (Keras' rule), or when the convolution
        with this padding would not map the output back to the input size (an even
        effective kernel with padding='same' and output_padding=0), showing the arithmetic.
    """
    prefix = f"{where}: " if where else ""
    input_sizes = tuple(int(v) for v in input_sizes)
    n = len(input_sizes)
    kernel_sizes = standardize_tuple(kernel_sizes, n, "kernel_size", where)
    strides = standardize_tuple(strides, n, "strides", where)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", where)
    padding = check_choice(padding, ("valid", "same"), "padding", where)
    if output_padding is None:
        out_pads = (None,) * n
    else:
        out_pads = standardize_tuple(output_padding, n, "output_padding", where, allow_zero=True)
        if any(p >= s for p, s in zip(out_pads, strides)):
            raise ValueError(
                f"{prefix}the `output_padding` argument must be smaller than `strides` on every axis. "
                f"Received: output_padding={output_padding!r}, strides={strides}"
            )
    if any(size < 1 for size in input_sizes):
        raise ValueError(
            f"{prefix}every spatial size of the input must be at least 1. Received: input sizes={input_sizes}"
        )
    outs, pads, arithmetic = [], [], []
    for name, size, k, s, d, p in zip(axis_names(n), input_sizes, kernel_sizes, strides, dilations, out_pads):
        ke = d * (k - 1) + 1
        if p is None:
            out = size * s + max(ke - s, 0) if padding == "valid" else size * s
        else:
            out = (size - 1) * s + ke - 2 * (ke // 2 if padding == "same" else 0) + p
        before, after = padding_amounts(padding, max(out, 0), k, s, d)
        record = TransposeAxisArithmetic(name, size, k, s, d, padding, p, before, after, out)
        back = (out + before + after - ke) // s + 1  # the convolution of `out` with this padding
        if out < 1 or back != size:
            raise ValueError(
                f"{prefix}a transposed convolution is the gradient of a convolution from its output back to "
                f"its input, but here {record}, and a {padding!r} convolution maps {out} to {back}, not to "
                f"{size}. With padding='same' and an even effective kernel, use output_padding >= 1 or None. "
                f"Received: output_padding={output_padding!r}"
            )
        outs.append(out)
        pads.append((before, after))
        arithmetic.append(record)
    if explain:
        return tuple(outs), tuple(pads), arithmetic
    return tuple(outs), tuple(pads)


class FieldStep(NamedTuple):
    """How one layer changes receptive fields: what ``Layer.receptive_field()`` returns (or None,
    for a layer whose every output sees the whole input: Flatten, global pooling, Dense on
    vectors). Each entry is an int for every spatial axis or a tuple of one per axis.

    * ``kernel_size``, ``strides``, ``dilation_rate``: a window layer's (convolution, pooling);
      1, 1, 1 for a layer that keeps each position's field (activations, padding, cropping,
      normalisation): :data:`POINTWISE`.
    * ``upsample``: output positions per input position (UpSampling, transposed convolutions):
      neighbouring outputs sit ``1 / upsample`` input jumps apart.
    * ``widen``: how many more input positions one output sees (a transposed convolution's
      kernel reaching over several inputs), in input jumps.
    """

    kernel_size: int | tuple = 1
    strides: int | tuple = 1
    dilation_rate: int | tuple = 1
    upsample: int | tuple = 1
    widen: int | tuple = 0


#: the step of a layer that keeps every position's receptive field
POINTWISE = FieldStep()


def receptive_field_step(field, jump, kernel_size=1, strides=1, dilation_rate=1, upsample=1, widen=0):
    """Receptive field and jump after one layer; ``receptive_field_step(field, jump, *step)``
    for a layer's :class:`FieldStep`.

    ``field`` and ``jump`` are per-axis tuples for the layer's input (1 and 1 for the image
    itself). The effective kernel ke = d * (k - 1) + 1, plus ``widen``, widens the field by
    that many input jumps; the stride multiplies the jump and ``upsample`` divides it:

        r' = r + (ke - 1 + widen) * j,    j' = j * s / upsample
    """
    n = len(field)
    kernel_size = standardize_tuple(kernel_size, n, "kernel_size")
    strides = standardize_tuple(strides, n, "strides")
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate")
    upsample = standardize_tuple(upsample, n, "upsample")
    widen = standardize_tuple(widen, n, "widen", allow_zero=True)
    new_field = tuple(
        r + (d * (k - 1) + w) * j for r, j, k, d, w in zip(field, jump, kernel_size, dilations, widen)
    )
    new_jump = tuple(j * s if u == 1 else j * s / u for j, s, u in zip(jump, strides, upsample))
    return new_field, new_jump
