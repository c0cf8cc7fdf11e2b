"""Animated GIFs of a filter sliding over its input: the convolution arithmetic guide's
pictures (Dumoulin & Visin, 2016), generated for any sizes, strides, padding and dilation.

    from convolve import viz
    viz.animate_convolution(5, 3, strides=2, padding="same", path="conv.gif")
    viz.animate_convolution(2, 3, strides=2, transposed=True, path="transposed.gif")

Each frame shows, left, the input grid as the kernel sees it and, right, the output grid:

* input cells are blue; padding cells light grey with a dashed border; for a transposed
  convolution the zeros inserted between input pixels are white with a dashed border;
* the kernel's taps (only the dilated taps, not the cells between them) are dark blue on
  input pixels and a lighter blue on padding or inserted zeros;
  with ``kernel`` given, each tap shows its weight in its lower-right corner;
* the output cell being computed is dark teal, the ones already computed are light teal;
* with ``x`` given, the cells show the input values and the output values as they are
  computed -- :func:`convolve.ops.conv.conv` (or ``conv_transpose``) of ``x`` and ``kernel``.

A transposed convolution is drawn as the guide draws it: the equivalent direct convolution,
stride 1, over the input with ``strides - 1`` zeros inserted between its pixels and padded
by ``ke - 1 - before`` before and whatever reaches the output size after (``ke`` the effective
kernel, ``before`` the cropped padding from
:func:`convolve.ops.shapes.conv_transpose_output_shape`), with the kernel flipped. Its
output size is Keras' (TensorFlow's) transposed-convolution size.

Pillow is imported when the function is called (``pip install "convolve[viz]"``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .._files import atomic_open
from ..backend import as_float_array
from ..ops.args import _is_int, standardize_tuple
from ..ops.shapes import conv_output_shape, conv_transpose_output_shape

WHERE = "animate_convolution"

# layout, in pixels (the cell size is an argument)
MARGIN = 10
TEXT_H = 16  # one line of text
HEADER_LINES = 3  # title, frame caption, grid labels

# colours (RGB), after the convolution arithmetic guide
BACKGROUND = (255, 255, 255)
INPUT = (166, 203, 236)
PADDING = (224, 224, 224)
INSERTED = (255, 255, 255)  # the zeros a transposed convolution inserts between pixels
TAP = (38, 84, 150)  # a tap on an input pixel
TAP_ZERO = (112, 142, 190)  # a tap on a padding or inserted zero
OUTPUT_EMPTY = (255, 255, 255)
OUTPUT_DONE = (170, 224, 220)
OUTPUT_NOW = (16, 122, 116)
LINE = (90, 90, 90)
DASH = (150, 150, 150)
TEXT = (0, 0, 0)
TEXT_ON_DARK = (255, 255, 255)
WEIGHT = (255, 214, 120)  # kernel weights drawn in the taps
ZERO_TEXT = (120, 120, 120)  # the zeros in padding and inserted cells
BASE_COLOURS = [
    BACKGROUND, INPUT, PADDING, TAP, TAP_ZERO, OUTPUT_DONE, OUTPUT_NOW, LINE, DASH, TEXT, TEXT_ON_DARK,
    WEIGHT, ZERO_TEXT,
]
# (background, ink) pairs of the text: their blends keep anti-aliased text smooth in the GIF palette
TEXT_PAIRS = [
    (BACKGROUND, TEXT), (INPUT, TEXT), (PADDING, ZERO_TEXT), (INSERTED, ZERO_TEXT), (TAP, TEXT_ON_DARK),
    (TAP, WEIGHT), (TAP_ZERO, TEXT_ON_DARK), (TAP_ZERO, WEIGHT), (OUTPUT_DONE, TEXT),
    (OUTPUT_NOW, TEXT_ON_DARK),
]


def _palette() -> list:
    """The GIF's fixed palette: the base colours exactly, then 7 blends per text pair."""
    colours = list(dict.fromkeys(BASE_COLOURS))
    for bg, ink in TEXT_PAIRS:
        for t in range(1, 8):
            blend = tuple(round(b + (i - b) * t / 8) for b, i in zip(bg, ink, strict=True))
            if blend not in colours:
                colours.append(blend)
    return colours

# cell kinds of the input grid
KIND_PADDING, KIND_INPUT, KIND_INSERTED = 0, 1, 2


@dataclass
class Layout:
    """What the frames draw, independent of pixels.

    Attributes:
        grid_size: the input grid as drawn: the padded input (transposed: the input with
            zeros inserted, padded), (rows, cols); 1-D inputs are one row.
        kinds: (rows, cols) int array of KIND_PADDING / KIND_INPUT / KIND_INSERTED.
        source: (rows, cols, 2) int array, the input (row, col) each KIND_INPUT cell shows (-1 elsewhere).
        output_size: (rows, cols) of the output.
        kernel_size, dilation: per axis, of the direct convolution drawn.
        strides: per axis, of the direct convolution drawn (1 for a transposed one).
        flipped: whether the drawn kernel is the given one flipped (transposed convolutions).
    """

    grid_size: tuple
    kinds: np.ndarray
    source: np.ndarray
    output_size: tuple
    kernel_size: tuple
    dilation: tuple
    strides: tuple
    flipped: bool
    ndim: int

    def drawn_kernel(self, kernel):
        """The kernel as the taps show it, (kh, kw): flipped for a transposed convolution
        (whose equivalent direct convolution correlates with the flipped kernel)."""
        k2 = np.reshape(kernel, self.kernel_size)
        return k2[::-1, ::-1] if self.flipped else k2

    def taps(self, position) -> list:
        """The grid cells (row, col) the kernel's taps cover for output ``position``, in
        kernel order (row-major over the drawn, possibly flipped, kernel)."""
        r, c = position
        (kh, kw), (dh, dw), (sh, sw) = self.kernel_size, self.dilation, self.strides
        return [(r * sh + i * dh, c * sw + j * dw) for i in range(kh) for j in range(kw)]


def _as_2d(values, n):
    """Per-axis tuples for a 1-D drawing become one-row 2-D ones."""
    return (1, *values) if n == 1 else tuple(values)


def layout(
    input_size, kernel_size, strides=1, padding="valid", dilation_rate=1, transposed=False,
    output_padding=None,
):
    """The :class:`Layout` of an animation (see :func:`animate_convolution` for the arguments)."""
    n = len(input_size)
    if transposed:
        out, pads, arithmetic = conv_transpose_output_shape(
            input_size, kernel_size, strides, padding, output_padding, dilation_rate, where=WHERE,
            explain=True,
        )
    else:
        out, pads, arithmetic = conv_output_shape(
            input_size, kernel_size, strides, padding, dilation_rate, where=WHERE, explain=True
        )
    axes = []  # per axis: (grid length, kinds, source index)
    for a, (before, after) in zip(arithmetic, pads, strict=True):
        if not transposed:
            length = before + a.input + after
            idx = np.arange(length) - before
            kinds = np.where((idx >= 0) & (idx < a.input), KIND_INPUT, KIND_PADDING)
            source = np.where(kinds == KIND_INPUT, idx, -1)
        else:
            ke, s = a.effective_kernel, a.stride
            lead = ke - 1 - before  # padding before the zero-inserted input
            length = a.output + ke - 1  # stride 1: out = length - ke + 1
            j = np.arange(length) - lead  # position in the zero-inserted input
            spread = (a.input - 1) * s + 1
            inside = (j >= 0) & (j < spread)
            on_pixel = inside & (j % s == 0)
            kinds = np.where(on_pixel, KIND_INPUT, np.where(inside, KIND_INSERTED, KIND_PADDING))
            source = np.where(on_pixel, j // s, -1)
        axes.append((length, kinds, source))
    if n == 1:
        axes.insert(0, (1, np.array([KIND_INPUT]), np.array([0])))
    (hl, hk, hs), (wl, wk, ws) = axes
    # a cell is padding if either axis says padding, else inserted if either says inserted
    pad = (hk[:, None] == KIND_PADDING) | (wk[None, :] == KIND_PADDING)
    ins = (hk[:, None] == KIND_INSERTED) | (wk[None, :] == KIND_INSERTED)
    kinds = np.where(pad, KIND_PADDING, np.where(ins, KIND_INSERTED, KIND_INPUT))
    source = np.stack(np.broadcast_arrays(hs[:, None], ws[None, :]), axis=-1)
    source = np.where((kinds == KIND_INPUT)[..., None], source, -1)
    return Layout(
        grid_size=(hl, wl),
        kinds=kinds,
        source=source,
        output_size=_as_2d(out, n),
        kernel_size=_as_2d(tuple(a.kernel for a in arithmetic), n),
        dilation=_as_2d(tuple(a.dilation for a in arithmetic), n),
        strides=_as_2d((1,) * n if transposed else tuple(a.stride for a in arithmetic), n),
        flipped=bool(transposed),
        ndim=n,
    )


def _num(v) -> str:
    v = float(v) + 0.0
    text = f"{v:.3g}"
    return "0" if text == "-0" else text


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font
    except TypeError:  # older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def _size_text(sizes) -> str:
    return "x".join(str(s) for s in sizes)


def animate_convolution(
    input_size=None,
    kernel_size=None,
    strides=1,
    padding="valid",
    dilation_rate=1,
    transposed=False,
    x=None,
    kernel=None,
    path="convolution.gif",
    cell=36,
    duration=400,
    max_frames=400,
    output_padding=None,
):
    """Write an animated GIF of a convolution, one frame per output position (row-major).

    Args:
        input_size: (H, W), or an int for a square input; a 1-tuple (L,) draws a 1-D
            convolution as one row. May be None when ``x`` is given.
        kernel_size: (kh, kw), an int, or (k,) for 1-D. May be None when ``kernel`` is given.
        strides, dilation_rate: int or one per axis.
        padding: 'valid', 'same', 'full', an int, one int per axis or (before, after) pairs;
            for ``transposed=True`` only 'valid' or 'same' (Keras' transposed convolution).
        transposed: draw a transposed convolution as the equivalent direct convolution over
            the input with ``strides - 1`` zeros between pixels (see the module docstring).
        x: optional input values, (H, W) or (L,): drawn in the input cells, and with
            ``kernel`` the output values are drawn as they are computed.
        kernel: optional kernel values, (kh, kw) or (k,): drawn in the taps. For a transposed
            convolution this is the layer's kernel; the picture shows it flipped.
        path: where to write the GIF, atomically (:func:`convolve._files.atomic_open`: a
            temporary file beside it, renamed over it once complete); a missing folder is
            created.
        cell: the side of a cell in pixels (at least 12); widened if a number needs it.
        duration: milliseconds per frame (the last frame stays three times as long).
        max_frames: more output positions than this raise ValueError (a 28x28 output
            would be 784 frames; use a smaller input or raise the cap).
        output_padding: for ``transposed=True``, as in Conv2DTranspose.

    Returns:
        dict with ``path``, ``frames`` (the frame count: one per output position),
        ``input_size``, ``output_size`` and ``grid_size`` (rows, cols; 1-D is one row),
        ``image_size`` (width, height in pixels), ``cell``, ``input_origin`` and
        ``output_origin`` (the top-left pixel of each grid), and ``output`` (the output
        values, when ``x`` and ``kernel`` are given, else None).

    Raises:
        ImportError without Pillow; ValueError or TypeError for bad arguments, before
        anything is drawn or written.
    """
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            f'{WHERE} needs Pillow to write GIFs. Install it with: pip install "convolve[viz]"'
        ) from None

    if x is not None:
        x = as_float_array(x, where=WHERE, name="x")
        if x.ndim not in (1, 2):
            raise ValueError(
                f"{WHERE}: expected x of shape (H, W) or (L,), one channel. Received: x.shape={x.shape}"
            )
        if input_size is not None and tuple(_sizes(input_size, x.ndim, "input_size")) != x.shape:
            raise ValueError(
                f"{WHERE}: input_size must match x's shape, or be None. "
                f"Received: input_size={input_size!r}, x.shape={x.shape}"
            )
        input_size = x.shape
    if input_size is None:
        raise TypeError(
            f"{WHERE}: give input_size (an int or (H, W)) or x. Received: input_size=None, x=None"
        )
    n = 2 if _is_int(input_size) else len(tuple(input_size)) if _iterable(input_size) else 0
    input_size = _sizes(input_size, n, "input_size")
    if kernel is not None:
        kernel = as_float_array(kernel, where=WHERE, name="kernel")
        if kernel.ndim != n:
            raise ValueError(
                f"{WHERE}: expected a kernel with {n} axes, one channel, one filter, for a {n}-D input of "
                f"size {input_size}. Received: kernel.shape={kernel.shape}"
            )
        given = None if kernel_size is None else standardize_tuple(kernel_size, n, "kernel_size", WHERE)
        if given is not None and given != kernel.shape:
            raise ValueError(
                f"{WHERE}: kernel_size must match kernel's shape, or be None. "
                f"Received: kernel_size={kernel_size!r}, kernel.shape={kernel.shape}"
            )
        kernel_size = kernel.shape
    if kernel_size is None:
        raise TypeError(
            f"{WHERE}: give kernel_size (an int or (kh, kw)) or kernel. "
            f"Received: kernel_size=None, kernel=None"
        )
    kernel_size = standardize_tuple(kernel_size, n, "kernel_size", WHERE)
    if not _is_int(cell) or cell < 12:
        raise ValueError(
            f"{WHERE}: the `cell` argument must be an int of at least 12 (pixels). Received: cell={cell!r}"
        )
    if not isinstance(duration, (int, float)) or duration <= 0:
        raise ValueError(
            f"{WHERE}: the `duration` argument must be a positive number of milliseconds. "
            f"Received: duration={duration!r}"
        )
    if output_padding is not None and not transposed:
        raise ValueError(
            f"{WHERE}: output_padding is only for transposed=True. "
            f"Received: output_padding={output_padding!r}"
        )

    lay = layout(input_size, kernel_size, strides, padding, dilation_rate, transposed, output_padding)
    out_h, out_w = lay.output_size
    frames_needed = out_h * out_w
    if not _is_int(max_frames) or frames_needed > max_frames:
        raise ValueError(
            f"{WHERE}: one frame per output position would be {frames_needed} frames "
            f"({_size_text(lay.output_size[2 - n:])} output), more than max_frames={max_frames!r}. "
            f"Use a smaller input or raise max_frames. Received: input_size={input_size}"
        )

    # the values: the output from the library's own convolution
    output = None
    x2 = None if x is None else (x[None, :] if n == 1 else x)
    drawn_kernel = None if kernel is None else lay.drawn_kernel(kernel)
    if x is not None and kernel is not None:
        from ..ops.conv import conv, conv_transpose

        args = dict(strides=strides, padding=padding, dilation_rate=dilation_rate, where=WHERE)
        if transposed:
            y = conv_transpose(
                x[None, ..., None], kernel[..., None, None], output_padding=output_padding, **args
            )
        else:
            y = conv(x[None, ..., None], kernel[..., None, None], **args)
        output = y[0, ..., 0]
    out2 = None if output is None else (output[None, :] if n == 1 else output)

    # pixels
    font = _font(max(9, cell * 12 // 36))
    small = _font(max(8, cell * 10 // 36))
    labels = [_num(v) for v in (x2.ravel() if x2 is not None else [])] + [
        _num(v) for v in (out2.ravel() if out2 is not None else [])
    ]
    needed = max((font.getlength(t) for t in labels), default=0) + 6
    cell = int(max(cell, needed))
    gh, gw = lay.grid_size
    title = _title(input_size, kernel_size, strides, padding, dilation_rate, transposed, lay, n)
    top = MARGIN + HEADER_LINES * TEXT_H
    input_origin = (MARGIN, top)
    output_origin = (MARGIN + gw * cell + cell, top)
    width = max(output_origin[0] + out_w * cell + MARGIN, int(font.getlength(title)) + 2 * MARGIN)
    height = top + max(gh, out_h) * cell + MARGIN

    colours = _palette()
    palette_image = Image.new("P", (1, 1))
    palette_image.putpalette([v for rgb in colours for v in rgb] + [0] * (768 - 3 * len(colours)))
    no_dither = getattr(Image, "Dither", Image).NONE  # Image.Dither from Pillow 9.1, Image.NONE before
    index = {rgb: rgb for rgb in colours}  # drawn in RGB, mapped onto the palette per frame
    frames = []
    for k in range(frames_needed):
        position = (k // out_w, k % out_w)
        image = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        draw.text((MARGIN, MARGIN), title, fill=index[TEXT], font=font)
        caption = f"output {_position_text(position, n)}"
        if out2 is not None:
            caption += f" = {_num(out2[position])}"
        draw.text((MARGIN, MARGIN + TEXT_H), caption, fill=index[TEXT], font=font)
        label = _input_label(lay, transposed)
        draw.text((input_origin[0], MARGIN + 2 * TEXT_H), label, fill=index[TEXT], font=font)
        draw.text((output_origin[0], MARGIN + 2 * TEXT_H), "output", fill=index[TEXT], font=font)
        taps = lay.taps(position)
        tap_set = {t: i for i, t in enumerate(taps)}
        for r in range(gh):
            for c in range(gw):
                box = _box(input_origin, r, c, cell)
                kind = lay.kinds[r, c]
                tap = tap_set.get((r, c))
                if tap is not None:
                    fill = TAP if kind == KIND_INPUT else TAP_ZERO
                else:
                    fill = {KIND_INPUT: INPUT, KIND_PADDING: PADDING, KIND_INSERTED: INSERTED}[kind]
                if kind == KIND_INPUT:
                    draw.rectangle(box, fill=index[fill], outline=index[LINE])
                else:
                    draw.rectangle(box, fill=index[fill])
                    _dashed_box(draw, box, index[DASH])
                if tap is not None:
                    ink = index[TEXT_ON_DARK]
                else:
                    ink = index[TEXT] if kind == KIND_INPUT else index[ZERO_TEXT]
                if x2 is not None:
                    value = x2[tuple(lay.source[r, c])] if kind == KIND_INPUT else 0.0
                    _centred(draw, box, _num(value), font, ink)
                if tap is not None and drawn_kernel is not None:
                    kr, kc = divmod(tap, lay.kernel_size[1])
                    text = _num(drawn_kernel[kr, kc])
                    w = small.getlength(text)
                    draw.text((box[2] - w - 2, box[3] - small.size - 1), text, fill=index[WEIGHT], font=small)
        for r in range(out_h):
            for c in range(out_w):
                box = _box(output_origin, r, c, cell)
                done = r * out_w + c
                fill = OUTPUT_NOW if done == k else OUTPUT_DONE if done < k else OUTPUT_EMPTY
                draw.rectangle(box, fill=index[fill], outline=index[LINE])
                if out2 is not None and done <= k:
                    ink = index[TEXT_ON_DARK] if done == k else index[TEXT]
                    _centred(draw, box, _num(out2[r, c]), font, ink)
        frames.append(image.quantize(palette=palette_image, dither=no_dither))

    durations = [int(duration)] * len(frames)
    durations[-1] = int(duration) * 3
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_open(path) as f:  # on an error or Ctrl-C the earlier file stays and the part goes
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return {
        "path": path,
        "frames": len(frames),
        "input_size": tuple(input_size),
        "output_size": lay.output_size[2 - n:],
        "grid_size": lay.grid_size,
        "image_size": (width, height),
        "cell": cell,
        "input_origin": input_origin,
        "output_origin": output_origin,
        "output": output,
    }


# --- helpers ---------------------------------------------------------------------------


def _iterable(v) -> bool:
    try:
        iter(v)
    except TypeError:
        return False
    return True


def _sizes(value, n, name):
    if n not in (1, 2):
        raise ValueError(
            f"{WHERE}: the `{name}` argument must be an int, (H, W) or (L,). Received: {name}={value!r}"
        )
    return standardize_tuple(value, n, name, WHERE)


def _box(origin, r, c, cell):
    x0, y0 = origin[0] + c * cell, origin[1] + r * cell
    return (x0, y0, x0 + cell, y0 + cell)


def _dashed_box(draw, box, fill, dash=3):
    x0, y0, x1, y1 = box
    for a in range(x0, x1, 2 * dash):
        draw.line([(a, y0), (min(a + dash - 1, x1), y0)], fill=fill)
        draw.line([(a, y1), (min(a + dash - 1, x1), y1)], fill=fill)
    for b in range(y0, y1, 2 * dash):
        draw.line([(x0, b), (x0, min(b + dash - 1, y1))], fill=fill)
        draw.line([(x1, b), (x1, min(b + dash - 1, y1))], fill=fill)


def _centred(draw, box, text, font, fill):
    w = font.getlength(text)
    x0, y0, x1, y1 = box
    top = (y0 + y1) / 2 - font.size / 2 - 1
    draw.text(((x0 + x1) / 2 - w / 2, top), text, fill=fill, font=font)


def _position_text(position, n):
    return f"({position[1]},)" if n == 1 else f"({position[0]}, {position[1]})"


def _title(input_size, kernel_size, strides, padding, dilation_rate, transposed, lay, n):
    s = standardize_tuple(strides, n, "strides", WHERE)
    d = standardize_tuple(dilation_rate, n, "dilation_rate", WHERE)
    parts = [f"{_size_text(input_size)} input", f"{_size_text(kernel_size)} kernel"]
    if any(v != 1 for v in s):
        parts.append(f"stride {_size_text(s) if len(set(s)) > 1 else s[0]}")
    if any(v != 1 for v in d):
        parts.append(f"dilation {_size_text(d) if len(set(d)) > 1 else d[0]}")
    parts.append(f"padding {padding!r}")
    head = "transposed: " if transposed else ""
    return head + ", ".join(parts) + f" -> {_size_text(lay.output_size[2 - n:])} output"


def _input_label(lay, transposed):
    if not transposed:
        return "input (padded)" if (lay.kinds == KIND_PADDING).any() else "input"
    inserted = (lay.kinds == KIND_INSERTED).any()
    return "input, zeros inserted, padded; kernel flipped" if inserted else "input, padded; kernel flipped"
