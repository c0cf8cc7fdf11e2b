"""The arithmetic of one output value of a convolution, written out step by step: the patch
under the filter, the products, their sum, the bias, and the output-size arithmetic.

    >>> import numpy as np
    >>> from convolve import viz
    >>> image = np.zeros((8, 8)); image[:, 3:5] = 1          # a vertical line, 2 pixels wide
    >>> detector = [[0, 1, 0], [0, 1, 0], [0, 1, 0]]         # the vertical-line detector
    >>> e = viz.explain(image, detector, at=(0, 2))
    output (0, 2) of a 3x3 convolution, stride (1, 1), padding 'valid': input rows 0..2, cols 2..4
    <BLANKLINE>
    patch     filter    products
    0, 1, 1   0, 1, 0   0, 1, 0
    0, 1, 1 * 0, 1, 0 = 0, 1, 0
    0, 1, 1   0, 1, 0   0, 1, 0
    <BLANKLINE>
    sum = 0 + 1 + 0 + 0 + 1 + 0 + 0 + 1 + 0 = 3
    + bias 0 = 3
    <BLANKLINE>
    output size: 6 x 6
      height: out = floor((8 + 0 + 0 - 1*(3-1) - 1) / 1) + 1 = 6
      width:  out = floor((8 + 0 + 0 - 1*(3-1) - 1) / 1) + 1 = 6
    >>> e.value
    3.0

The layers compute cross-correlation (as every framework does): the filter is laid on the
patch as it is, not flipped, and the value is ``sum(patch * filter) + bias``.

The value always equals :func:`convolve.ops.conv.conv` at that position; the output-size
arithmetic comes from :func:`convolve.ops.shapes.conv_output_shape` (``explain=True``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backend import as_float_array
from ..ops.args import standardize_tuple
from ..ops.shapes import AxisArithmetic, conv_output_shape

WHERE = "explain"
MAX_SUM_TERMS = 36  # longer sums are written as "sum of the N products = total"


@dataclass
class Explanation:
    """One output value of a convolution and how it was computed.

    Attributes:
        patch: the input values under the kernel, padding zeros included:
            (kh, kw, C) for 2-D, (k, C) for 1-D; C is 1 when one channel is explained.
        kernel: the filter, the same shape as ``patch`` (not flipped: cross-correlation).
        products: ``patch * kernel``, element-wise, the same shape.
        total: ``products.sum()``.
        bias: the bias added (the filter's entry of a per-filter bias).
        value: ``total + bias``, the output value at ``position``.
        position: the output position, (row, col) for 2-D, (i,) for 1-D.
        input_indices: per spatial axis, the input indices the kernel taps cover (with
            dilation); indices below 0 or past the end are padding.
        arithmetic: per spatial axis, the :class:`~convolve.ops.shapes.AxisArithmetic`
            of the output size.
        output_shape: the spatial output size.
        channel: the input channel explained alone, or None for all channels.
        filter: which filter (last kernel axis) was used.
    """

    patch: np.ndarray
    kernel: np.ndarray
    products: np.ndarray
    total: float
    bias: float
    value: float
    position: tuple
    input_indices: tuple
    arithmetic: list = field(repr=False)
    output_shape: tuple = ()
    channel: int | None = None
    filter: int = 0

    @property
    def rows(self) -> tuple:
        """The input rows the kernel covers (2-D; the only axis for 1-D)."""
        return self.input_indices[0]

    @property
    def cols(self) -> tuple:
        """The input columns the kernel covers (2-D only)."""
        if len(self.input_indices) < 2:
            raise AttributeError("explain: a 1-D explanation has no columns; use `rows` or `input_indices`.")
        return self.input_indices[1]

    def __str__(self) -> str:
        return _trace(self)


def explain(
    x,
    kernel,
    bias=0.0,
    strides=1,
    padding="valid",
    dilation_rate=1,
    at=None,
    channel=None,
    filter=0,
    print_fn=print,
    index=0,
):
    """Compute one output value of a convolution and print how it was computed.

    Args:
        x: the input, one image: (H, W) or (H, W, C); or a batch (N, H, W, C) with ``index``
            choosing the sample. 1-D: (L,), (L, C) or (N, L, C). channels_last.
        kernel: (kh, kw), (kh, kw, C) or (kh, kw, C, F) with ``filter`` choosing the filter
            (Keras' layout); (k,), (k, C), (k, C, F) for 1-D; or the name of a kernel in
            :mod:`convolve.filters` (2-D).
        bias: a number, or a (F,) array whose ``filter`` entry is added.
        strides, dilation_rate: int or one per spatial axis.
        padding: 'valid', 'same', 'full', an int, one int per axis, or (before, after) pairs
            (zeros are padded, as in :func:`convolve.ops.conv.conv`).
        at: the output position, (row, col) for 2-D or (i,) / i for 1-D. Its length says
            how many spatial axes there are. Required.
        channel: None explains the sum over every input channel (the layer's value); an int
            explains that input channel alone (with a (kh, kw) kernel applied to it, or the
            kernel's slice for that channel).
        filter: which filter of a (kh, kw, C, F) kernel.
        print_fn: called with the trace (a str); None prints nothing.
        index: which sample of a batched ``x``.

    Returns:
        An :class:`Explanation`; ``str()`` of it is the printed trace.

    Raises:
        ValueError, TypeError, before any arithmetic, for a missing or out-of-range ``at``,
        mismatched channels, or shapes that are not one of the above.
    """
    if at is None:
        raise TypeError(
            f"{WHERE}: the `at` argument is required: the output position, (row, col) for 2-D. "
            "Received: at=None"
        )
    if isinstance(at, (int, np.integer)) and not isinstance(at, bool):
        at = (int(at),)
    try:
        at = tuple(at)
    except TypeError:
        raise TypeError(
            f"{WHERE}: the `at` argument must be (row, col) for 2-D or (i,) for 1-D. Received: at={at!r}"
        ) from None
    n = len(at)
    if n not in (1, 2) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in at):
        raise ValueError(
            f"{WHERE}: the `at` argument must be (row, col) for 2-D or (i,) for 1-D, of ints. "
            f"Received: at={at!r}"
        )
    at = tuple(int(v) for v in at)

    if isinstance(kernel, str):
        from .. import filters  # lazily: a tool module, loaded only when a name is given

        kernel = filters.get(kernel)
    x = as_float_array(x, where=WHERE, name="x")
    kernel = as_float_array(kernel, where=WHERE, name="kernel")
    x = _one_image(x, n, index)  # (*S, C), a view
    kernel = _one_filter(kernel, n, filter)  # (*K, Ck)
    x, kernel = _pick_channel(x, kernel, channel)
    bias = _pick_bias(bias, filter)

    strides = standardize_tuple(strides, n, "strides", WHERE)
    dilations = standardize_tuple(dilation_rate, n, "dilation_rate", WHERE)
    out_sizes, pads, arithmetic = conv_output_shape(
        x.shape[:n], kernel.shape[:n], strides, padding, dilations, where=WHERE, explain=True
    )
    if any(not 0 <= a < o for a, o in zip(at, out_sizes)):
        names = " x ".join(str(o) for o in out_sizes)
        valid = ", ".join(f"0..{o - 1}" for o in out_sizes)
        raise ValueError(
            f"{WHERE}: the `at` position must lie inside the output, which is {names} (indices {valid}). "
            f"Received: at={at}"
        )

    # the input indices each tap reads: start = at * stride - before, step = dilation
    indices = tuple(
        tuple(a * s - before + t * d for t in range(k))
        for a, s, (before, _), d, k in zip(at, strides, pads, dilations, kernel.shape[:n])
    )
    dtype = np.result_type(x.dtype, kernel.dtype)
    patch = np.zeros(kernel.shape, dtype=dtype)  # padding zeros stay zero
    inside = [np.array([0 <= i < size for i in idx]) for idx, size in zip(indices, x.shape[:n])]
    src = [np.array(idx)[ok] for idx, ok in zip(indices, inside)]
    patch[np.ix_(*inside)] = x[np.ix_(*src)]
    kernel = kernel.astype(dtype)  # a copy: the caller's array is never shared
    products = patch * kernel
    total = float(products.sum())
    value = total + bias
    return _finish(
        Explanation(
            patch=patch, kernel=kernel, products=products, total=total, bias=bias, value=value,
            position=at, input_indices=indices, arithmetic=list(arithmetic), output_shape=tuple(out_sizes),
            channel=channel, filter=int(filter),
        ),
        print_fn,
    )


def _finish(explanation, print_fn):
    if print_fn is not None:
        print_fn(str(explanation))
    return explanation


# --- choosing one image, one filter, one channel -------------------------------------


def _one_image(x, n, index):
    """(*S, C) from (*S), (*S, C) or (N, *S, C)."""
    if x.ndim == n:
        return x[..., None]
    if x.ndim == n + 1:
        return x
    if x.ndim == n + 2:
        if not isinstance(index, (int, np.integer)) or not -x.shape[0] <= index < x.shape[0]:
            raise ValueError(
                f"{WHERE}: the `index` argument must choose one of the {x.shape[0]} samples of the batch. "
                f"Received: index={index!r}"
            )
        return x[index]
    layouts = {1: "(L,), (L, C) or (N, L, C)", 2: "(H, W), (H, W, C) or (N, H, W, C)"}[n]
    raise ValueError(
        f"{WHERE}: for a {n}-D position `at`, the input must be {layouts}. Received: x.shape={x.shape}"
    )


def _one_filter(kernel, n, filter):
    """(*K, C) from (*K), (*K, C) or (*K, C, F)."""
    if kernel.ndim in (n, n + 1):
        if filter != 0:
            raise ValueError(
                f"{WHERE}: the kernel has a single filter, so `filter` must be 0. "
                f"Received: filter={filter!r}, kernel.shape={kernel.shape}"
            )
        return kernel[..., None] if kernel.ndim == n else kernel
    if kernel.ndim == n + 2:
        count = kernel.shape[-1]
        if not isinstance(filter, (int, np.integer)) or not 0 <= filter < count:
            raise ValueError(
                f"{WHERE}: the `filter` argument must choose one of the kernel's {count} filters "
                f"(0..{count - 1}). Received: filter={filter!r}"
            )
        return kernel[..., filter]
    layouts = {1: "(k,), (k, C) or (k, C, F)", 2: "(kh, kw), (kh, kw, C) or (kh, kw, C, F)"}[n]
    raise ValueError(
        f"{WHERE}: for a {n}-D position `at`, the kernel must be {layouts}. "
        f"Received: kernel.shape={kernel.shape}"
    )


def _pick_channel(x, kernel, channel):
    """Match input channels (x: (*S, C)) and kernel channels (kernel: (*K, Ck))."""
    c, ck = x.shape[-1], kernel.shape[-1]
    if channel is None:
        if c != ck:
            hint = f" Pass channel=0..{c - 1} to explain one input channel." if ck == 1 else ""
            raise ValueError(
                f"{WHERE}: the kernel's channel axis must equal the input's channels, {c}.{hint} "
                f"Received: kernel channels={ck}, input channels={c}"
            )
        return x, kernel
    if not isinstance(channel, (int, np.integer)) or isinstance(channel, bool) or not 0 <= channel < c:
        raise ValueError(
            f"{WHERE}: the `channel` argument must be None or an input channel 0..{c - 1}. "
            f"Received: channel={channel!r}"
        )
    if ck not in (1, c):
        raise ValueError(
            f"{WHERE}: the kernel's channel axis must be 1 or the input's channels, {c}. "
            f"Received: kernel channels={ck}, input channels={c}"
        )
    return x[..., channel : channel + 1], kernel[
        ..., (channel if ck == c else 0) : (channel if ck == c else 0) + 1
    ]


def _pick_bias(bias, filter):
    b = np.asarray(bias)
    if b.dtype.kind not in "biuf":
        raise TypeError(
            f"{WHERE}: the `bias` argument must be a number or a (filters,) array. Received: bias={bias!r}"
        )
    if b.ndim == 0:
        return float(b)
    if b.ndim == 1 and 0 <= filter < b.shape[0]:
        return float(b[filter])
    raise ValueError(
        f"{WHERE}: the `bias` argument must be a number or a (filters,) array with an entry for filter "
        f"{filter}. Received: bias.shape={b.shape}"
    )


# --- the trace -------------------------------------------------------------------------


def _num(v) -> str:
    """A short, exact-looking number: 3 for 3.0, 0.25, -1.5, 0.1235 (4 significant digits)."""
    v = float(v) + 0.0  # no '-0'
    text = f"{v:.4g}"
    return "0" if text == "-0" else text


def _matrix_lines(m) -> list:
    """Rows of a 2-D array (a 1-D one is one row), comma-separated, columns right-aligned."""
    m = np.atleast_2d(m)
    cells = [[_num(v) for v in row] for row in m]
    width = max(len(c) for row in cells for c in row)
    return [", ".join(c.rjust(width) for c in row) for row in cells]


def _side_by_side(blocks, ops, titles) -> list:
    """Blocks of lines next to each other, an operator between them on the middle row."""
    height = max(len(b) for b in blocks)
    widths = [max(len(s) for s in b + [t]) for b, t in zip(blocks, titles)]
    middle = (height - 1) // 2
    lines = ["   ".join(t.ljust(w) for t, w in zip(titles, widths)).rstrip()]
    for r in range(height):
        parts = []
        for i, (b, w) in enumerate(zip(blocks, widths)):
            parts.append((b[r] if r < len(b) else "").ljust(w))
            if i < len(ops):
                parts.append(f" {ops[i]} " if r == middle else "   ")
        lines.append("".join(parts).rstrip())
    return lines


def _span(idx) -> str:
    """0..2 for consecutive indices, 0, 2, 4 for dilated ones."""
    if len(idx) == 1:
        return f"{idx[0]}"
    if idx[1] - idx[0] == 1:
        return f"{idx[0]}..{idx[-1]}"
    return ", ".join(str(i) for i in idx)


def _sum_text(terms, total) -> str:
    """0.9 - 0.4 + 1 = 1.5, or a count when there are too many terms."""
    if len(terms) > MAX_SUM_TERMS:
        return f"sum of the {len(terms)} products = {_num(total)}"
    text = _num(terms[0])
    for t in terms[1:]:
        s = _num(t)
        text += f" - {s[1:]}" if s.startswith("-") else f" + {s}"
    return f"{text} = {_num(total)}"


def _axis_formula(a: AxisArithmetic) -> str:
    """out = floor((n + before + after - d*(k-1) - 1) / s) + 1 = out."""
    return (
        f"out = floor(({a.input} + {a.before} + {a.after} - {a.dilation}*({a.kernel}-1) - 1) / {a.stride}) "
        f"+ 1 = {a.output}"
    )


def _trace(e: Explanation) -> str:
    n = len(e.position)
    ks = "x".join(str(k) for k in e.kernel.shape[:n]) if n == 2 else f"length-{e.kernel.shape[0]}"
    stride = tuple(a.stride for a in e.arithmetic)
    dilation = tuple(a.dilation for a in e.arithmetic)
    pad = e.arithmetic[0].padding
    where = (
        f"input rows {_span(e.rows)}, cols {_span(e.cols)}" if n == 2 else f"input positions {_span(e.rows)}"
    )
    head = f"output {e.position} of a {ks} convolution, stride {stride}, padding {pad!r}"
    if any(d != 1 for d in dilation):
        head += f", dilation {dilation}"
    lines = [f"{head}: {where}"]
    if any(not 0 <= i < a.input for idx, a in zip(e.input_indices, e.arithmetic) for i in idx):
        lines.append("(positions outside the input are padding zeros)")
    channels = e.patch.shape[-1]
    for c in range(channels):
        lines.append("")
        if e.channel is not None:
            lines.append(f"input channel {e.channel} alone:")
        elif channels > 1:
            lines.append(f"channel {c}:")
        blocks = [
            _matrix_lines(e.patch[..., c]),
            _matrix_lines(e.kernel[..., c]),
            _matrix_lines(e.products[..., c]),
        ]
        lines += _side_by_side(blocks, ["*", "="], ["patch", "filter", "products"])
    lines.append("")
    if channels == 1:
        lines.append("sum = " + _sum_text(e.products.ravel(), e.total))
    else:
        sums = [float(e.products[..., c].sum()) for c in range(channels)]
        for c in range(channels):
            lines.append(f"channel {c} sum = " + _sum_text(e.products[..., c].ravel(), sums[c]))
        lines.append("sum = " + _sum_text(sums, e.total))
    lines.append(f"+ bias {_num(e.bias)} = {_num(e.value)}")
    lines.append("")
    lines.append("output size: " + " x ".join(str(o) for o in e.output_shape))
    width = max(len(a.axis) for a in e.arithmetic) + 1
    for a in e.arithmetic:
        extra = (
            f"  (padding {a.padding!r}: {a.before} before, {a.after} after)" if a.padding != "valid" else ""
        )
        lines.append(f"  {(a.axis + ':').ljust(width)} {_axis_formula(a)}{extra}")
    return "\n".join(lines)
