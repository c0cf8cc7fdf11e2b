"""The receptive field of one unit of a model, exactly: which input positions can change it.

Used by :func:`convolve.viz.explain_unit.explain_unit`. The field is followed back from the
unit through every layer between the model's input and the unit, one spatial axis at a time,
as a set of positions per axis (a bool mask) and, beside it, the unclipped window arithmetic
(first tap - padding .. last tap, never clipped):

* a window (convolution, pooling): output p reads p * stride - before + t * dilation for every
  tap t; zero padding (and pooling's 'same' cells) reads nothing, 'reflect', 'replicate' and
  'circular' padding read the cell they copy (the index map NumPy's ``np.pad`` gives, as
  ``ops.conv`` pads);
* a transposed convolution: input i reaches outputs i * stride + t * dilation - before;
* ZeroPadding, Cropping, UpSampling: positions shift or divide;
* a layer that keeps every position (``receptive_field()`` is POINTWISE and the spatial size
  is kept: activations, normalisation, Dropout, Dense on feature maps, merges): unchanged;
* a layer that mixes every position (Flatten, Dense on vectors, global pooling, any layer
  whose ``receptive_field()`` is None, such as Resizing): the whole input.

Where branches meet, a tensor's field is the union over the layers that read it. Per-axis
sets are exact for the box: every step acts on each axis separately, and a box with one empty
axis is emptied on all (so a union cannot revive its other axes).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..layers.conv import BaseConv, ConvTranspose
from ..layers.core import Dense
from ..layers.normalization import BatchNormalization
from ..layers.pooling import BaseGlobalPooling, BasePooling
from ..layers.reshaping import BaseCropping, BaseUpSampling, BaseZeroPadding, Permute
from ..ops.conv import NUMPY_PAD_MODES
from ..ops.shapes import POINTWISE, axis_names, conv_output_shape, conv_transpose_output_shape

WHERE = "explain_unit"


def taps(p, n, k, s, d, before, after, mode):
    """One axis of the window of output ``p``: the positions its taps read (padding outside
    0..n-1), the input index each takes its value from (-1: a zero), and which are padding."""
    padded_at = p * s + np.arange(k) * d  # in the padded input
    fill = (np.pad(np.arange(n), (before, after), constant_values=-1) if mode == "zeros"
            else np.pad(np.arange(n), (before, after), mode=NUMPY_PAD_MODES[mode]))
    positions = padded_at - before
    return positions, fill[padded_at], (positions < 0) | (positions >= n)


def _own_format(layer):
    fmt = getattr(layer, "data_format", None)
    if fmt in ("channels_last", "channels_first"):
        return fmt
    ndim = getattr(layer, "input_ndim", None)
    if isinstance(layer, BatchNormalization) and ndim and ndim > 2:
        return {1: "channels_first", ndim - 1: "channels_last"}.get(layer.axis % ndim)
    if isinstance(layer, Dense) and (layer._input_rank or 0) > 2:
        return "channels_last"  # Dense acts on the last axis
    return None


def layouts(model):
    """{id(tensor): data format}: a layer with a data format fixes its input's and output's;
    the others (activations, merges, normalisation...) share their inputs' layout."""
    fmt = {}
    for node in model._nodes:
        own = _own_format(node.layer)
        if own:
            for t in node.inputs:
                fmt.setdefault(id(t), own)
            fmt.setdefault(id(node), own)
    changed = True
    while changed:
        changed = False
        for node in model._nodes:
            if _own_format(node.layer) or isinstance(node.layer, Permute):
                continue
            group = [*node.inputs, node]
            known = [fmt[id(t)] for t in group if id(t) in fmt]
            for t in group:
                if known and id(t) not in fmt:
                    fmt[id(t)], changed = known[0], True
    return fmt


def spatial(shape, layout):
    if len(shape) <= 2:
        return ()
    return tuple(shape[1:-1]) if (layout or "channels_last") == "channels_last" else tuple(shape[2:])


class _Field(NamedTuple):
    """What of one tensor a unit can see, per spatial axis: the positions (a bool mask), and the
    unclipped window arithmetic's first and last position."""

    masks: tuple
    lows: tuple
    highs: tuple


def _whole(sizes):
    return _Field(
        tuple(np.ones(n, dtype=bool) for n in sizes), (0,) * len(sizes), tuple(n - 1 for n in sizes)
    )


def _no_empty_axis(f):
    """A box with one empty axis is empty on every axis (so a union cannot revive its others)."""
    if any(not m.any() for m in f.masks):
        return f._replace(masks=tuple(np.zeros_like(m) for m in f.masks))
    return f


def _union(a, b):
    return _Field(tuple(x | y for x, y in zip(a.masks, b.masks)), tuple(map(min, a.lows, b.lows)),
                  tuple(map(max, a.highs, b.highs)))


def _window_back(mask, lo, hi, n, k, s, d, before, after, mode):
    """One axis through a window (convolution or pooling): what the reached outputs read."""
    reached = np.zeros(n, dtype=bool)
    outputs = np.flatnonzero(mask)
    if len(outputs):
        _, src, _ = taps(outputs[:, None], n, k, s, d, before, after, mode)
        reached[src[src >= 0]] = True
    return reached, lo * s - before, hi * s - before + d * (k - 1)


def _transpose_back(mask, lo, hi, n, k, s, d, before):
    """One axis through a transposed convolution: input i reaches output i * s + t * d - before."""
    reached = np.zeros(n, dtype=bool)
    for o in np.flatnonzero(mask):
        u = o + before - np.arange(k) * d
        i = u[(u % s == 0) & (u >= 0)] // s
        reached[i[i < n]] = True
    return reached, -(-(lo + before - d * (k - 1)) // s), (hi + before) // s


def _back(layer, f, n_in, n_out, same_layout=True):
    """The field of a layer's input from the field of its output (spatial sizes n_in, n_out;
    ``same_layout``: whether both have the same data format)."""
    if not n_in:
        return _Field((), (), ())
    if isinstance(layer, Permute):
        _cannot_follow(layer, n_in, n_out)
    if not n_out or isinstance(layer, BaseGlobalPooling) or layer.receptive_field() is None:
        return _whole(n_in)
    axes = list(zip(f.masks, f.lows, f.highs, n_in))
    if isinstance(layer, ConvTranspose):
        _, pads = conv_transpose_output_shape(n_in, layer.kernel_size, layer.strides, layer.padding,
                                              layer.output_padding, layer.dilation_rate, where=WHERE)
        rows = [_transpose_back(m, lo, hi, n, k, s, d, b) for (m, lo, hi, n), k, s, d, (b, _) in
                zip(axes, layer.kernel_size, layer.strides, layer.dilation_rate, pads)]
    elif isinstance(layer, (BaseConv, BasePooling)):
        pooling = isinstance(layer, BasePooling)
        k = layer.pool_size if pooling else layer.kernel_size
        d = (1,) * len(k) if pooling else layer.dilation_rate
        mode = "zeros" if pooling else layer.padding_mode
        _, pads = conv_output_shape(n_in, k, layer.strides, layer.padding, d, where=WHERE)
        rows = [_window_back(m, lo, hi, n, ki, s, di, b, a, mode) for (m, lo, hi, n), ki, s, di, (b, a) in
                zip(axes, k, layer.strides, d, pads)]
    elif isinstance(layer, BaseZeroPadding):
        rows = [(m[b : b + n], lo - b, hi - b) for (m, lo, hi, n), (b, _) in zip(axes, layer.padding)]
    elif isinstance(layer, BaseCropping):
        rows = [(np.pad(m, (b, n - b - len(m))), lo + b, hi + b) for (m, lo, hi, n), (b, _) in
                zip(axes, layer.cropping)]
    elif isinstance(layer, BaseUpSampling):
        rows = []
        for (m, lo, hi, n), u in zip(axes, layer.size):
            reached = np.zeros(n, dtype=bool)
            reached[np.flatnonzero(m) // u] = True
            rows.append((reached, lo // u, hi // u))
    elif layer.receptive_field() == POINTWISE and tuple(n_in) == tuple(n_out) and same_layout:
        return f
    else:
        _cannot_follow(layer, n_in, n_out)
    return _no_empty_axis(_Field(*(tuple(r[i] for r in rows) for i in range(3))))


def _cannot_follow(layer, n_in, n_out):
    raise ValueError(
        f"{WHERE}: the receptive field cannot be followed through layer {layer.where} of type "
        f"{type(layer).__name__} (it follows windows, padding, cropping, upsampling, layers that keep "
        f"each position, and layers that mix every position). Received: input spatial size "
        f"{tuple(n_in)}, output spatial size {tuple(n_out)}"
    )


def receptive_field(model, node, values, formats, position, channel_axis):
    """The field of ``node``'s unit on the model's input: ``position`` is its place in the output
    without the channel axis ``channel_axis`` (of one sample), which must be the layout's."""
    sample_ndim = values[id(node)].ndim - 1
    layout_axis = 0 if formats.get(id(node)) == "channels_first" else sample_ndim - 1
    if sample_ndim > 1 and channel_axis != layout_axis:
        raise ValueError(
            f"{WHERE}: the channel axis of {node.layer.where} is not the channel axis of its data format "
            f"({formats.get(id(node), 'channels_last')}), so its receptive field cannot be followed. "
            f"Received: channel axis {channel_axis + 1} of an output of rank {sample_ndim + 1}"
        )
    sizes = spatial(values[id(node)].shape, formats.get(id(node)))
    fields = {id(node): _Field(tuple(np.arange(n) == p for n, p in zip(sizes, position)), position, position)}
    for n in reversed(model._nodes):
        f = fields.get(id(n))
        if f is None:
            continue
        n_out = spatial(values[id(n)].shape, formats.get(id(n)))
        for t in n.inputs:
            same_layout = formats.get(id(t), "channels_last") == formats.get(id(n), "channels_last")
            back = _back(n.layer, f, spatial(values[id(t)].shape, formats.get(id(t))), n_out, same_layout)
            fields[id(t)] = _union(fields[id(t)], back) if id(t) in fields else back
    return fields[id(model._inputs[0])]


def boxes(f):
    """((start, stop), ...) of the positions reached (None if none), and of the unclipped window."""
    unclipped = tuple((int(lo), int(hi) + 1) for lo, hi in zip(f.lows, f.highs))
    if any(not m.any() for m in f.masks):
        return None, unclipped
    return tuple((int(np.flatnonzero(m)[0]), int(np.flatnonzero(m)[-1]) + 1) for m in f.masks), unclipped


def axis_words(n):
    """How the text names positions along n spatial axes."""
    return {1: ("positions",), 2: ("rows", "cols"), 3: ("depths", "rows", "cols")}.get(n, axis_names(n))


def position_text(position):
    return "(" + ", ".join(str(int(p)) for p in position) + ("," if len(position) == 1 else "") + ")"
