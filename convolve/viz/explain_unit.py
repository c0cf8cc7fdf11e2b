"""Model-aware explain: one value of one layer of a model, traced from that layer's own weights
and the actual output of the layer it reads, with the unit's receptive field on the input image.

    from convolve import viz
    unit = viz.explain_unit(model, x_test[0], "conv2d_1", position=(5, 7), channel=3)
    unit.value, unit.receptive_field         # 0.8123, ((4, 18), (8, 22)): rows 4..17, cols 8..21
    viz.plot_unit(unit, path="unit.png")     # or explain_unit(..., path="unit.png")

What the trace shows, per kind of layer:

* convolution (Conv1D/2D/3D with any groups, padding and padding_mode; DepthwiseConv1D/2D;
  SeparableConv1D/2D): the patch of the previous layer's output under the kernel (cells in
  the padding in parentheses: zeros, or the cells 'reflect'/'replicate'/'circular' copy), the
  kernel slice, the products, their sum per input channel and in all, the bias and the
  activation; a separable convolution shows its depthwise sums and then the pointwise product.
* max pooling: the window and which cell won (its position in the previous output, its value);
  average pooling: the window's sum divided by the number of cells inside the input ('same'
  padding at the edges counts only those); global pooling: the same over the whole map.
* Dense: the ``top_k`` largest terms w*x by |w*x|, the rest summed, the bias and the activation.
* BatchNormalization: (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta.
* ReLU, LeakyReLU, Activation, Softmax: the input and the output (softmax with its normaliser).

Other layers (transposed convolutions, merges, reshaping...) are refused with the list above;
the receptive field still follows them on its way back to the input.

Every number comes from the layer's own weights and the output of the layer it reads, from one
pass through the model's graph (no sub-model). The traced value must equal the model's own value
for that unit within float tolerance; a difference raises RuntimeError (that would be a bug here).

The receptive field is exact: the input positions that can change the unit, followed back
through every layer between the input and the unit (``explain_unit_field.py`` says how).
``receptive_field`` is their box, (start, stop) per axis with stop exclusive;
``receptive_field_unclipped`` is the windows' arithmetic without clipping (first tap minus the
padding .. last tap), which may reach outside the image; for a stack of windows its size is the
summary's receptive-field column.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .. import autograd
from ..layers.base import InputLayer, Layer
from ..layers.conv import Conv, DepthwiseConv, SeparableConv
from ..layers.core import Activation, Dense, LeakyReLU, ReLU, Softmax
from ..layers.normalization import BatchNormalization
from ..layers.pooling import BaseGlobalPooling, BasePooling
from ..ops.shapes import conv_output_shape
from . import explain_unit_field as rf
from .explain import _num, _side_by_side, _span, _sum_text
from .plots import _as_batch, _check_path

WHERE = "explain_unit"
SUPPORTED = (
    "Conv1D, Conv2D, Conv3D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, "
    "MaxPooling1D/2D/3D, AveragePooling1D/2D/3D, GlobalMaxPooling1D/2D/3D, GlobalAveragePooling1D/2D/3D, "
    "Dense, BatchNormalization, ReLU, LeakyReLU, Activation, Softmax"
)
#: activations applied value by value; any other acts along the last axis (softmax)
ELEMENTWISE = {
    "linear", "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh", "softplus", "relu6", "silu",
    "swish", "hard_sigmoid", "hard_silu", "hard_swish", "mish", "log_sigmoid",
}
GRID_CHANNELS = 3  # a convolution's text draws patch/kernel/products for at most this many channels


@dataclass
class UnitExplanation:
    """One value of one layer of a model, how it was computed, and what it sees of the input.

    Attributes:
        layer, layer_type: the layer's name and class name; ``kind`` says which trace:
            'convolution', 'depthwise convolution', 'separable convolution', 'max pooling',
            'average pooling', 'global max pooling', 'global average pooling', 'dense',
            'batch normalization' or 'activation'.
        position: the unit's position in the layer's output, one index per spatial axis (the
            layout's spatial axes; for Dense every axis but the last); () for a vector output.
        channel: its channel (filter, unit) at that position.
        value: the traced value; ``model_value`` what the model computes there (float tolerance
            apart; ``difference`` is the absolute difference).
        source: the name of the layer whose output this layer reads (an Input's name first).
        inputs: what the unit reads: the patch (*kernel_size, C) of a convolution (C: the input
            channels it uses), the window (*pool_size) of a pooling, the vector of a Dense, the
            single value of BatchNormalization or an activation.
        weights, products: the kernel slice (the patch's shape; a separable convolution's
            depthwise kernel (*k, C, depth_multiplier)) or the Dense column, and inputs * weights.
        padded: True where a cell of ``inputs`` lies in the padding (None without a window).
        input_indices: per spatial axis, the positions of the source's output each tap reads;
            those below 0 or past the end are padding.
        total, bias, pre_activation, activation: the sum of the products (a pooling window's
            sum), the bias, the value before the activation and the activation's name.
        details: what a kind adds: 'channels' (the input channels used), 'channel_sums',
            'winner' and 'winner_value' (max pooling), 'count' (average pooling), 'top_terms'
            [(input index, x, w, w*x)] and 'rest' (Dense), 'statistics' (BatchNormalization),
            'depthwise_sums', 'pointwise_weights' (separable convolution).
        receptive_field: ((start, stop), ...) per spatial axis of the input image, stop
            exclusive: the box of the input positions that can change the unit (None when none
            can: a unit that reads only padding). ``receptive_field_unclipped``: the windows'
            arithmetic without clipping, which may reach outside the image.
        input_size: the spatial size of the model's input.
        text: the trace as printed.
    """

    layer: str
    layer_type: str
    kind: str
    position: tuple
    channel: int
    value: float
    model_value: float
    difference: float
    source: str
    inputs: np.ndarray | None = None
    weights: np.ndarray | None = None
    products: np.ndarray | None = None
    padded: np.ndarray | None = None
    input_indices: tuple = ()
    total: float | None = None
    bias: float | None = None
    pre_activation: float | None = None
    activation: str | None = None
    details: dict = field(default_factory=dict)
    receptive_field: tuple | None = None
    receptive_field_unclipped: tuple = ()
    input_size: tuple = ()
    text: str = ""
    # for pictures: the input sample (*S, C), the source's map and the layer's map for the channel
    image: np.ndarray | None = field(default=None, repr=False)
    source_map: np.ndarray | None = field(default=None, repr=False)
    source_channel: int | None = field(default=None, repr=False)
    feature_map: np.ndarray | None = field(default=None, repr=False)
    figure: object = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.text


def explain_unit(
    model, x, layer, position=None, channel=0, index=0, top_k=8, print_fn=print, path=None
):
    """Trace one value of ``layer`` for input ``x`` and find its receptive field on the input.

    Args:
        model: a Sequential or functional Model with one input.
        x: one sample (e.g. an image (H, W, C)) or a batch, with ``index`` choosing the sample.
        layer: the layer, by name, index into ``model.layers`` or object (a layer called more
            than once is traced at its first call).
        position: the unit's position in the layer's output: one int per spatial axis (an int
            for 1-D); None or () for a vector output (a Dense on vectors).
        channel: the channel (filter, Dense unit) at that position.
        top_k: how many of a Dense's terms are listed (the largest |w*x|; the rest are summed).
        print_fn: called with the trace (a str); None prints nothing.
        path: also draw the picture (:func:`plot_unit`) and save it there as a PNG; the Figure is
            then ``result.figure``.

    Returns:
        a :class:`UnitExplanation`; its ``text`` is what was printed.

    Raises:
        TypeError, ValueError, before anything is computed, for a model, layer, position, channel
        or index that does not fit (naming the supported layers for another kind); RuntimeError
        if the trace disagrees with the model beyond float tolerance (a bug here).
    """
    top_k = _check_count(top_k, "top_k")
    path = _check_path(path, WHERE)
    sample, layer, kind, node = _locate(model, x, layer, index)
    formats = rf.layouts(model)
    out_shape = model._propagate_shapes([sample.shape])[id(node)]
    full = _unit_index(layer, kind, out_shape, formats.get(id(node)), position, channel)

    values = _forward(model, sample, node)
    source = node.inputs[0]
    trace = _TRACERS[kind](layer, values[id(source)][0], full, top_k)
    model_value = float(values[id(node)][(0, *full)])
    difference = _check_agreement(trace, model_value, layer, full)

    channel_axis = _channel_axis(layer, kind, len(out_shape) - 1, formats.get(id(node)))
    position = tuple(v for a, v in enumerate(full) if a != channel_axis)
    box, unclipped = rf.boxes(rf.receptive_field(model, node, values, formats, position, channel_axis))
    image, fields = model._inputs[0], dict(trace.fields)
    source_sample = values[id(source)][0]
    if "source_channel" not in fields:  # pooling, normalisation, activations: the same channel
        fields["source_channel"] = full[channel_axis] if source_sample.ndim > 1 else None
    if fields["source_channel"] is not None and source_sample.ndim > 1:
        source_axis = _channel_axis(None, "activation", source_sample.ndim, formats.get(id(source)))
        fields["source_map"] = _channel_map(source_sample, source_axis, fields["source_channel"])
    unit = UnitExplanation(
        layer=layer.name, layer_type=type(layer).__name__, kind=kind, position=position,
        channel=int(full[channel_axis]), value=float(trace.value), model_value=model_value,
        difference=difference, source=source.layer.name, receptive_field=box,
        receptive_field_unclipped=unclipped,
        input_size=rf.spatial(values[id(image)].shape, formats.get(id(image))),
        image=_channels_last(values[id(image)][0], formats.get(id(image))),
        feature_map=_channel_map(values[id(node)][0], channel_axis, full[channel_axis]), **fields,
    )
    unit.text = _text(unit, trace.lines, isinstance(source.layer, InputLayer))
    if print_fn is not None:
        print_fn(unit.text)
    if path is not None:
        unit.figure = plot_unit(unit, path=path)
    return unit


def _locate(model, x, layer, index):
    """(the sample as a batch of one, the layer, its kind, its first call in the graph), checked."""
    if not hasattr(model, "layers") or not hasattr(model, "_build_for"):
        raise TypeError(
            f"{WHERE}: expected a Sequential or a functional Model. Received: {type(model).__name__}"
        )
    if model.built and len(model._inputs) > 1:
        raise ValueError(
            f"{WHERE}: the model must have one input (the receptive field is drawn on one image). "
            f"Received: a model with {len(model._inputs)} inputs"
        )
    if not isinstance(layer, (str, int, np.integer, Layer)) or isinstance(layer, bool):
        raise TypeError(
            f"{WHERE}: the `layer` argument must be one layer's name, index or object. "
            f"Received: layer={layer!r}"
        )
    xs = _as_batch(model, x, WHERE)
    if not _is_int(index) or not -len(xs) <= index < len(xs):
        raise ValueError(
            f"{WHERE}: the `index` argument must choose one of the {len(xs)} samples of x. "
            f"Received: index={index!r}"
        )
    sample = xs[int(index) % len(xs)][None]
    model._build_for(sample, WHERE)
    layer = _find_layer(model, layer)
    kind = _kind(layer)  # an InputLayer, which has no call in the graph, is refused here
    return sample, layer, kind, next(n for n in model._nodes if n.layer is layer)


# ---- arguments -----------------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(value, name):
    if not _is_int(value) or value < 1:
        raise ValueError(
            f"{WHERE}: the `{name}` argument must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def _find_layer(model, layer):
    """The layer of ``model.layers`` named, indexed or given by ``layer``."""
    layers = model.layers
    names = [item.name for item in layers]
    if isinstance(layer, str) and layer in names:
        return layers[names.index(layer)]
    if _is_int(layer) and -len(layers) <= layer < len(layers):
        return layers[int(layer)]
    if isinstance(layer, Layer) and any(layer is item for item in layers):
        return layer
    raise ValueError(
        f"{WHERE}: the `layer` argument must name a layer of {model.where} by name, by index into its "
        f"{len(layers)} layers, or as the layer object; its layers are {names}. Received: layer={layer!r}"
    )


def _kind(layer):
    kinds = (
        (SeparableConv, "separable convolution"), (DepthwiseConv, "depthwise convolution"),
        (Conv, "convolution"), (BaseGlobalPooling, "global pooling"), (BasePooling, "pooling"),
        (Dense, "dense"), (BatchNormalization, "batch normalization"),
        ((ReLU, LeakyReLU, Activation, Softmax), "activation"),
    )
    for cls, kind in kinds:
        if isinstance(layer, cls):
            if kind.endswith("pooling"):
                average = "Average" in type(layer).__name__
                return kind.replace("pooling", "average pooling" if average else "max pooling")
            return kind
    what = "the model's input, which has no arithmetic" if isinstance(layer, InputLayer) else "not traced"
    raise ValueError(
        f"{WHERE}: layer {layer.where} of type {type(layer).__name__} is {what}; the layers traced are "
        f"{SUPPORTED}. Received: layer={layer.name!r}"
    )


def _channel_axis(layer, kind, ndim, layout):
    """The channel axis of one sample of the layer's output (its batch axis removed)."""
    if ndim <= 1:
        return 0
    if kind == "dense":
        return ndim - 1
    if kind == "batch normalization":
        return layer.axis % (ndim + 1) - 1
    fmt = getattr(layer, "data_format", None) or layout or "channels_last"
    return ndim - 1 if fmt == "channels_last" else 0


def _unit_index(layer, kind, out_shape, layout, position, channel):
    """The unit's index into one sample of the layer's output, after checking position and channel."""
    sample_shape = tuple(out_shape[1:])
    axis = _channel_axis(layer, kind, len(sample_shape), layout)
    spatial = tuple(s for a, s in enumerate(sample_shape) if a != axis)
    if _is_int(position):
        position = (int(position),)
    position = () if position is None else position
    ok = isinstance(position, (tuple, list)) and len(position) == len(spatial)
    if not ok or not all(_is_int(p) for p in position):
        want = "None or () (the output is a vector)" if not spatial else f"{len(spatial)} ints"
        raise ValueError(
            f"{WHERE}: the `position` argument must be {want} for the output of {layer.where}, "
            f"{_shape_text(sample_shape)}. Received: position={position!r}"
        )
    if any(not 0 <= p < s for p, s in zip(position, spatial)):
        valid = ", ".join(f"0..{s - 1}" for s in spatial)
        raise ValueError(
            f"{WHERE}: the `position` argument must lie inside the output of {layer.where}, whose positions "
            f"are {valid}. Received: position={tuple(position)}"
        )
    count = sample_shape[axis]
    if not _is_int(channel) or not 0 <= channel < count:
        raise ValueError(
            f"{WHERE}: the `channel` argument must choose one of the {count} channels of {layer.where}'s "
            f"output (0..{count - 1}). Received: channel={channel!r}"
        )
    full = [int(p) for p in position]
    full.insert(axis, int(channel))
    return tuple(full)


def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# ---- the graph: one forward pass, layouts ----------------------------------------------------


def _ancestors(node):
    """The ids of ``node`` and every node it reads, directly or not."""
    seen, stack = set(), [node]
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen.add(id(t))
            stack.extend(t.inputs)
    return seen


def _forward(model, sample, target):
    """{id(tensor): value} for the model's input and every node ``target`` reads, ``target``
    included: one pass through the graph, recording nothing."""
    (x,) = model._standardize(sample, WHERE, arrays_only=True)
    known = {id(model._inputs[0]): np.asarray(x)}
    needed = _ancestors(target)
    with autograd.no_record():
        for node in model._nodes:
            if id(node) in needed:
                args = [known[id(t)] for t in node.inputs]
                known[id(node)] = np.asarray(node.layer(args[0] if len(args) == 1 else args, training=False))
    return known


def _channels_last(sample, layout):
    return np.moveaxis(sample, 0, -1) if sample.ndim >= 2 and layout == "channels_first" else sample


def _channel_map(sample, axis, channel):
    return np.take(sample, channel, axis=axis) if sample.ndim > 1 else sample


# ---- windows -------------------------------------------------------------------------------


def _outer_or(flags):
    out = np.zeros(tuple(len(f) for f in flags), dtype=bool)
    for axis, f in enumerate(flags):
        out |= f.reshape([-1 if a == axis else 1 for a in range(len(flags))])
    return out


def _window(x, position, kernel_size, strides, dilations, padding, mode):
    """The cells of ``x`` (*S, C) under the window of output ``position``: values (*K, C) (zero
    where zero padding is), which cells are padding (*K,), and the positions read per axis."""
    _, pads = conv_output_shape(x.shape[:-1], kernel_size, strides, padding, dilations, where=WHERE)
    taps = [
        rf.taps(p, n, k, s, d, b, a, mode)
        for p, n, k, s, d, (b, a) in zip(position, x.shape[:-1], kernel_size, strides, dilations, pads)
    ]
    values = x[np.ix_(*[np.maximum(src, 0) for _, src, _ in taps])]
    values = np.where(_outer_or([src < 0 for _, src, _ in taps])[..., None], 0.0, values)
    positions = tuple(tuple(int(v) for v in pos) for pos, _, _ in taps)
    return values, _outer_or([pad for _, _, pad in taps]), positions


# ---- the traces, one per kind ----------------------------------------------------------------


class _Trace(NamedTuple):
    value: float
    fields: dict  # UnitExplanation's fields
    lines: list  # the kind's part of the text
    terms: int  # how many numbers were summed (for the tolerance)
    scale: float  # sum of their magnitudes (for the tolerance)


def _as64(array, layer):
    """An array as the layer computes with it (its dtype), then in float64 for the trace."""
    return np.asarray(array).astype(layer.dtype).astype(np.float64)


def _layer_view(layer, sample):
    """One sample of the layer's input, channels last."""
    return _as64(_channels_last(sample, getattr(layer, "data_format", "channels_last")), layer)


def _split(layer, full):
    """(spatial position, channel) of the unit, in the layer's own data format."""
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        return full[1:], full[0]
    return full[:-1], full[-1]


def _conv_terms(layer, x, position, f):
    """What one unit of a convolution reads and multiplies: (patch, kernel, padded, positions,
    channels, bias), the patch and kernel (*K, c) over the input channels ``channels``."""
    values, padded, positions = _window(
        x, position, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding, layer.padding_mode
    )
    if isinstance(layer, SeparableConv):
        kernel, channels = _as64(layer.depthwise_kernel.value, layer), list(range(x.shape[-1]))
    elif isinstance(layer, DepthwiseConv):
        c, j = divmod(f, layer.depth_multiplier)
        kernel, channels = _as64(layer.depthwise_kernel.value, layer)[..., c, j][..., None], [c]
    else:
        per_group, filters_per_group = x.shape[-1] // layer.groups, layer.filters // layer.groups
        g = f // filters_per_group
        channels = list(range(g * per_group, (g + 1) * per_group))
        kernel = _as64(layer.kernel.value, layer)[..., f]
    bias = float(_as64(layer.bias.value, layer)[f]) if layer.bias is not None else 0.0
    return values[..., channels], kernel, padded, positions, channels, bias


def _conv_z(layer, x, position, f):
    """(pre-activation, terms, scale) of one unit of a convolution; also its trace's pieces."""
    patch, kernel, padded, positions, channels, bias = _conv_terms(layer, x, position, f)
    if isinstance(layer, SeparableConv):
        products = patch[..., None] * kernel  # (*K, C, m)
        sums = products.reshape(-1, products.shape[-2] * products.shape[-1]).sum(axis=0)  # q = c * m + j
        pointwise = _as64(layer.pointwise_kernel.value, layer).reshape(-1, layer.filters)[:, f]
        total = float(np.dot(sums, pointwise))
        scale = float(np.abs(products).sum() * np.abs(pointwise).max() + np.abs(sums * pointwise).sum())
        extra = {"depthwise_sums": sums, "pointwise_weights": pointwise}
    else:
        products = patch * kernel
        total = float(products.sum())
        scale = float(np.abs(products).sum())
        extra = {"channel_sums": products.reshape(-1, products.shape[-1]).sum(axis=0)}
    pieces = dict(inputs=patch, weights=kernel, products=products, padded=padded, input_indices=positions,
                  total=total, bias=bias, details={"channels": channels, **extra})
    return total + bias, products.size + 1, scale + abs(bias), pieces


def _trace_conv(layer, sample, full, top_k):
    x = _layer_view(layer, sample)
    position, f = _split(layer, full)
    z, terms, scale, pieces = _conv_z(layer, x, position, f)

    def along_last():  # every pre-activation along the output's last axis: (z, scale) each
        if layer.data_format == "channels_last":
            count = getattr(layer, "filters", x.shape[-1] * getattr(layer, "depth_multiplier", 1))
            units = [_conv_z(layer, x, position, c) for c in range(count)]
            return [(u[0], u[2]) for u in units], f
        count = _out_sizes(layer, x)[-1]
        units = [_conv_z(layer, x, (*position[:-1], i), f) for i in range(count)]
        return [(u[0], u[2]) for u in units], position[-1]

    value, act_line, act_scale = _activate(layer.activation, z, scale, along_last)
    details = pieces["details"]
    if "depthwise_sums" in details:  # the input channel whose depthwise values weigh most
        weight = np.abs(details["depthwise_sums"] * details["pointwise_weights"])
        weight = weight.reshape(len(details["channels"]), -1).sum(axis=1)
    else:
        weight = np.abs(details["channel_sums"])
    lines = _conv_lines(layer, pieces, f, weight)
    lines += [f"+ bias {_num(pieces['bias'])} = {_num(z)}"] + ([act_line] if act_line else [])
    pieces.update(pre_activation=z, activation=_name(layer.activation),
                  source_channel=details["channels"][int(np.argmax(weight))])
    return _Trace(value, pieces, lines, terms, max(scale, act_scale))


def _out_sizes(layer, x):
    out, _ = conv_output_shape(x.shape[:-1], layer.kernel_size, layer.strides, layer.padding,
                               layer.dilation_rate, where=WHERE)
    return out


def _name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


def _activate(fn, z, scale, along_last):
    """``fn`` applied to the pre-activation ``z``: (value, text line or None, scale). An
    elementwise activation takes z alone; any other (softmax) takes every pre-activation along
    the output's last axis, from ``along_last()`` -> ([(z, scale), ...], this unit's index)."""
    name = _name(fn)
    if name == "linear":
        return z, None, scale
    if name in ELEMENTWISE:
        value = float(np.asarray(fn(np.array([z], dtype=np.float64)))[0])
        return value, f"{name}({_num(z)}) = {_num(value)}", scale
    units, at = along_last()
    zs = np.array([u[0] for u in units], dtype=np.float64)
    value = float(np.asarray(fn(zs))[at])
    line = f"{name} of the {len(zs)} values along the last axis (this one {_num(z)}) = {_num(value)}"
    return value, line, max(u[1] for u in units)


def _trace_pool(layer, sample, full, top_k):
    x = _layer_view(layer, sample)
    position, c = _split(layer, full)
    if isinstance(layer, BaseGlobalPooling):
        window, padded = x[..., c], np.zeros(x.shape[:-1], dtype=bool)
        positions = tuple(tuple(range(n)) for n in x.shape[:-1])
        what = "over the whole map"
    else:
        values, padded, positions = _window(
            x[..., c : c + 1], position, layer.pool_size, layer.strides, (1,) * len(position), layer.padding,
            "zeros",
        )
        window = values[..., 0]
        what = (f"over a {_size_text(layer.pool_size)} window, stride {layer.strides}, "
                f"padding {layer.padding!r}")
    inside = ~padded
    fields = dict(inputs=window, padded=padded, input_indices=positions, source_channel=c)
    big = window.size > 64
    grid = [] if big else _grid_lines([window], [padded], [], ["window"])
    if padded.any():
        grid.append(f"({int(padded.sum())} of the {window.size} cells, in parentheses, lie in the padding "
                    "and are not part of the window)")
    if "max" in _kind(layer):
        candidates = np.where(inside, window, -np.inf)
        tap = np.unravel_index(int(np.argmax(candidates)), window.shape)  # the first maximum, as ops.pooling
        winner = tuple(positions[a][t] for a, t in enumerate(tap))
        value = float(window[tap])
        fields["details"] = {"winner": winner, "winner_value": value}
        lines = [f"the maximum {what}:"] + grid + [f"max = {_num(value)}, at {rf.position_text(winner)}"]
        ties = int((candidates == value).sum())
        if ties > 1:
            lines[-1] += f" (the first of the {ties} cells that hold it, in row-major order)"
        return _Trace(value, fields, lines, 1, abs(value))
    count = int(inside.sum())
    total = float(window[inside].sum())
    value = total / count
    fields.update(total=total, details={"count": count})
    terms = window[inside].ravel()
    lines = [f"the mean {what}:"] + grid + [
        f"sum = {_sum_text(terms, total) if not big else _num(total)}",
        f"mean = {_num(total)} / {count} cells = {_num(value)}"
        + (" (padding cells are not counted)" if padded.any() else ""),
    ]
    return _Trace(value, fields, lines, count + 1, float(np.abs(terms).sum()) / count)


def _trace_dense(layer, sample, full, top_k):
    position, unit = full[:-1], full[-1]
    x = _as64(sample, layer)[position]
    kernel = _as64(layer.kernel.value, layer)
    bias_all = _as64(layer.bias.value, layer) if layer.bias is not None else np.zeros(layer.units)
    w, bias = kernel[:, unit], float(bias_all[unit])
    products = x * w
    total = float(products.sum())
    z = total + bias
    order = np.argsort(-np.abs(products), kind="stable")
    top, others = order[:top_k], order[top_k:]
    rest = float(products[others].sum())
    top_terms = [(int(i), float(x[i]), float(w[i]), float(products[i])) for i in top]
    lines = [f"the dot product of the {len(x)} inputs x with column {unit} of the kernel, w;",
             f"the {len(top)} largest of the {len(x)} terms w*x (by |w*x|):"]
    lines += [f"  input {i}: x = {_num(a)}, w = {_num(b)}, w*x = {_num(p)}" for i, a, b, p in top_terms]
    parts = [p for *_, p in top_terms]
    if len(others):
        lines.append(f"the other {len(others)} terms sum to {_num(rest)}")
        parts.append(rest)
    lines += [f"sum = {_sum_text(parts, total)}", f"+ bias {_num(bias)} = {_num(z)}"]
    scale = float(np.abs(products).sum()) + abs(bias)

    def along_last():
        zs = x @ kernel + bias_all
        scales = np.abs(x) @ np.abs(kernel) + np.abs(bias_all)
        return list(zip(zs, scales)), unit

    value, act_line, act_scale = _activate(layer.activation, z, scale, along_last)
    lines += [act_line] if act_line else []
    fields = dict(inputs=x, weights=w, products=products, total=total, bias=bias, pre_activation=z,
                  activation=_name(layer.activation), details={"top_terms": top_terms, "rest": rest},
                  source_channel=int(order[0]) if len(position) else None)
    return _Trace(value, fields, lines, len(x) + 1, max(scale, act_scale))


def _trace_batch_norm(layer, sample, full, top_k):
    x = float(_as64(sample, layer)[full])
    c = full[layer.axis % (sample.ndim + 1) - 1]

    def weight(var, default):
        return default if var is None else float(_as64(var.value, layer)[c])

    mean, variance = weight(layer.moving_mean, 0.0), weight(layer.moving_variance, 1.0)
    gamma, beta, eps = weight(layer.gamma, 1.0), weight(layer.beta, 0.0), float(layer.epsilon)
    root = float(np.sqrt(variance + eps))
    value = (x - mean) / root * gamma + beta
    lines = [
        f"channel {c}, inference form: moving_mean {_num(mean)}, moving_variance {_num(variance)}, "
        f"gamma {_num(gamma)}, beta {_num(beta)}, epsilon {_num(eps)}",
        "(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta",
        f"= ({_num(x)} - {_num(mean)}) / sqrt({_num(variance)} + {_num(eps)}) * {_num(gamma)} "
        f"+ {_num(beta)}",
        f"= {_num(x - mean)} / {_num(root)} * {_num(gamma)} + {_num(beta)} = {_num(value)}",
    ]
    stats = {"moving_mean": mean, "moving_variance": variance, "gamma": gamma, "beta": beta, "epsilon": eps}
    fields = dict(inputs=np.asarray(x), bias=beta, details={"statistics": stats}, source_channel=c)
    return _Trace(value, fields, lines, 4, abs(x - mean) / root * abs(gamma) + abs(beta) + abs(value))


def _trace_activation(layer, sample, full, top_k):
    data = _as64(sample, layer)
    x = float(data[full])
    fields = dict(inputs=np.asarray(x))
    if isinstance(layer, ReLU):
        low = layer.negative_slope * (x - layer.threshold) if x <= layer.threshold else x
        value = low if layer.max_value is None else min(low, layer.max_value)
        top = "x" if layer.max_value is None else f"min(x, {_num(layer.max_value)})"
        t, slope = _num(layer.threshold), _num(layer.negative_slope)
        low = "0" if layer.negative_slope == 0 else (f"{slope} * x" if layer.threshold == 0 else
                                                     f"{slope} * (x - {t})")
        rule = f"{top} if x > {t}, else {low}"
        lines = [f"ReLU: {rule}", f"x = {_num(x)} -> {_num(value)}"]
    elif isinstance(layer, LeakyReLU):
        value = x if x > 0 else layer.negative_slope * x
        lines = [
            f"LeakyReLU: x if x > 0, else {_num(layer.negative_slope)} * x",
            f"x = {_num(x)} -> {_num(value)}",
        ]
    else:
        fn = layer.activation if isinstance(layer, Activation) else None
        if fn is not None and _name(fn) in ELEMENTWISE:
            value = float(np.asarray(fn(np.array([x])))[0])
            lines = [f"{_name(fn)}({_num(x)}) = {_num(value)}"]
        else:  # softmax (the Softmax layer's axes, or an Activation's function along the last axis)
            axes = [a % (data.ndim + 1) - 1 for a in layer._axes] if fn is None else [data.ndim - 1]
            index = [slice(None) if a in axes else v for a, v in enumerate(full)]
            group = data[tuple(index)]
            at = tuple(full[a] for a in axes)
            if fn is None:
                top = float(group.max())
                normaliser = float(np.exp(group - top).sum())
                value = float(np.exp(x - top)) / normaliser
                lines = [f"softmax over the {group.size} values along axis {tuple(layer._axes)}:",
                         f"exp({_num(x)} - {_num(top)}) / {_num(normaliser)} = {_num(value)}"]
            else:
                value = float(np.asarray(fn(group))[at])
                lines = [f"{_name(fn)} of the {group.size} values along the last axis (this one {_num(x)}) "
                         f"= {_num(value)}"]
    return _Trace(value, fields, lines, 2, abs(x) + abs(value))


_TRACERS = {
    "convolution": _trace_conv, "depthwise convolution": _trace_conv, "separable convolution": _trace_conv,
    "max pooling": _trace_pool, "average pooling": _trace_pool, "global max pooling": _trace_pool,
    "global average pooling": _trace_pool, "dense": _trace_dense, "batch normalization": _trace_batch_norm,
    "activation": _trace_activation,
}


def _check_agreement(trace, model_value, layer, full):
    """|traced - model| within float tolerance, or RuntimeError (a bug in this module)."""
    eps = float(np.finfo(np.dtype(layer.dtype)).eps)
    allowed = 16 * eps * ((trace.terms + 8) * trace.scale + abs(model_value))
    if np.isnan(trace.value) and np.isnan(model_value):
        return 0.0
    difference = abs(trace.value - model_value)
    if not difference <= allowed:
        raise RuntimeError(
            f"{WHERE}: the traced value {trace.value!r} of {layer.where} at {full} differs from the model's "
            f"own value by {difference:.3g}, more than float tolerance ({allowed:.3g}): this is a bug in "
            f"explain_unit. Received: the model's value {model_value!r}"
        )
    return float(difference)


# ---- text ------------------------------------------------------------------------------------


def _size_text(sizes):
    """3x3 for a 2-D window, length-3 for a 1-D one."""
    return f"length-{sizes[0]}" if len(sizes) == 1 else "x".join(str(k) for k in sizes)


def _where_text(indices):
    return ", ".join(f"{word} {_span(idx)}" for word, idx in zip(rf.axis_words(len(indices)), indices))


def _cells(m, mark=None):
    m = np.atleast_2d(m)
    mark = np.zeros(m.shape, dtype=bool) if mark is None else np.atleast_2d(mark)
    cells = [[f"({_num(v)})" if k else _num(v) for v, k in zip(row, keep)] for row, keep in zip(m, mark)]
    width = max(len(c) for row in cells for c in row)
    return [", ".join(c.rjust(width) for c in row) for row in cells]


def _grid_lines(blocks, marks, ops, titles):
    """Blocks side by side (patch * kernel = products); a 3-D window one depth slice at a time."""
    marks = list(marks) + [None] * (len(blocks) - len(marks))
    if blocks[0].ndim == 3:
        lines = []
        for t in range(blocks[0].shape[0]):
            lines.append(f"depth {t}:")
            lines += _side_by_side([_cells(b[t], None if m is None else m[t]) for b, m in zip(blocks, marks)],
                                   ops, titles)
        return lines
    return _side_by_side([_cells(b, m) for b, m in zip(blocks, marks)], ops, titles)


def _conv_lines(layer, pieces, f, weight):
    patch, kernel, products, padded = (pieces[k] for k in ("inputs", "weights", "products", "padded"))
    details, total = pieces["details"], pieces["total"]
    channels = details["channels"]
    ks = _size_text(layer.kernel_size)
    kind = _kind(layer)
    if kind == "convolution":
        over = f"input channel {channels[0]}" if len(channels) == 1 else f"input channels {_span(channels)}"
        head = f"filter {f}: the {ks} kernel over {over}"
    elif kind == "depthwise convolution":
        j = f % layer.depth_multiplier
        head = f"output channel {f}: the {ks} depthwise kernel {j} of input channel {channels[0]}"
    else:
        head = f"filter {f}: {ks} depthwise kernels over each input channel, then a pointwise (1x1) step"
    head += f", stride {layer.strides}, padding {layer.padding!r}"
    if any(d != 1 for d in layer.dilation_rate):
        head += f", dilation {layer.dilation_rate}"
    lines = [head]
    if padded.any():
        mode = layer.padding_mode
        lines.append("(values in parentheses lie in the padding: " + (
            "zeros)" if mode == "zeros" else f"copies of input cells, padding_mode {mode!r})"))
    count = len(channels)
    shown = (
        sorted(np.argsort(-weight, kind="stable")[:GRID_CHANNELS])
        if count > GRID_CHANNELS + 1
        else range(count)
    )
    titles, ops = ["patch", "kernel", "products"], ["*", "="]
    for k in shown:
        c = channels[k]
        if "depthwise_sums" in details:
            m = kernel.shape[-1]
            for j in range(m):
                q = k * m + j
                lines += ["", f"input channel {c}, depthwise kernel {j}:"]
                lines += _grid_lines(
                    [patch[..., k], kernel[..., k, j], products[..., k, j]], [padded], ops, titles
                )
                lines.append(f"depthwise value {q} = " + _sum_text(products[..., k, j].ravel(),
                                                                   details["depthwise_sums"][q]))
            continue
        lines += [""] + ([f"input channel {c}:"] if count > 1 else [])
        lines += _grid_lines([patch[..., k], kernel[..., k], products[..., k]], [padded], ops, titles)
        if count > 1:
            lines.append(
                f"channel {c} sum = " + _sum_text(products[..., k].ravel(), details["channel_sums"][k])
            )
    lines.append("")
    if count > len(shown):
        lines.append(f"({count - len(shown)} more input channels are not drawn; the {len(shown)} drawn "
                     "weigh the most)")
    if "depthwise_sums" in details:
        terms = details["depthwise_sums"] * details["pointwise_weights"]
        lines.append(f"pointwise: the {len(terms)} depthwise values times column {f} of the pointwise kernel")
        lines.append("sum = " + _sum_text(terms, total))
    elif count > 1:
        lines.append(f"sum over the {count} input channels = " + _sum_text(details["channel_sums"], total))
    else:
        lines.append("sum = " + _sum_text(products.ravel(), total))
    return lines


def _field_text(unit):
    if not unit.input_size:
        return ["the model's input has no spatial axes, so the unit has no receptive field"]
    words = rf.axis_words(len(unit.input_size))
    size = " x ".join(str(n) for n in unit.input_size)
    if unit.receptive_field is None:
        lines = [f"receptive field on the input ({size}): empty (the unit reads only padding)"]
    else:
        spans = ", ".join(f"{w} {a}..{b - 1}" for w, (a, b) in zip(words, unit.receptive_field))
        widths = " x ".join(str(b - a) for a, b in unit.receptive_field)
        lines = [f"receptive field on the input ({size}): {spans} ({widths}); (start, stop) = "
                 f"{unit.receptive_field}"]
    spans = ", ".join(f"{w} {a}..{b - 1}" for w, (a, b) in zip(words, unit.receptive_field_unclipped))
    widths = " x ".join(str(b - a) for a, b in unit.receptive_field_unclipped)
    lines.append(f"unclipped (the windows' arithmetic, padding included): {spans} ({widths})")
    return lines


def _text(unit, lines, reads_input):
    where = f"output {rf.position_text(unit.position)}, channel {unit.channel}" if unit.position else (
        f"unit {unit.channel}")
    head = [f"{unit.layer} ({unit.layer_type}), {where}: {unit.kind}"]
    source = f"the model's input ({unit.source})" if reads_input else f"{unit.source}'s output"
    head.append(
        f"reads {_where_text(unit.input_indices)} of {source}" if unit.input_indices else f"reads {source}"
    )
    tail = ["", f"the model computes {_num(unit.model_value)} (difference {unit.difference:.2g})"]
    return "\n".join(head + [""] + lines + tail + _field_text(unit))


def plot_unit(unit, path=None):
    """The picture of one traced unit (models with 1-D and 2-D inputs).

    Top row: the input image with the receptive field outlined (solid red: the exact box; dashed
    orange: the unclipped one, which may reach outside the image); the map of the source layer's
    output that the unit reads, with its window outlined (cells outside the map are padding) and
    a max pooling's winner crossed; the layer's output map with the unit outlined. Bottom row,
    for a convolution: patch, kernel and products for the input channel that adds the most (and
    the products summed over all input channels when there are several), padding cells hatched;
    for a pooling: its window, a max's winner outlined; for a Dense: its largest terms w*x.

    Args:
        unit: a :class:`UnitExplanation` (what :func:`explain_unit` returns).
        path: when given, the figure is also saved there as a PNG (a temporary file renamed).

    Returns:
        a ``matplotlib.figure.Figure`` made without pyplot; each Axes is titled with what it
        shows, and its ``images[0]`` holds the drawn array as given (not rescaled).
    """
    where = "plot_unit"
    if not isinstance(unit, UnitExplanation):
        raise TypeError(
            f"{where}: expected what explain_unit returns (a UnitExplanation). "
            f"Received: {type(unit).__name__}"
        )
    path = _check_path(path, where)
    if len(unit.input_size) > 2 or len(unit.position) > 2:
        raise ValueError(
            f"{where}: pictures are drawn for models with 1-D and 2-D inputs and layers. "
            f"Received: input size {unit.input_size}, position {unit.position}"
        )
    from .explain_unit_plot import draw  # lazily: matplotlib is imported only for pictures

    return draw(unit, path)
