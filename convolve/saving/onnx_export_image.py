"""Preprocessing and augmentation layers at inference, as ONNX ops, for ``onnx_export``:

    Rescaling        Mul, Add (scale and offset as constants in the input's layout)
    Normalization    Sub, Div by max(sqrt(variance), 1e-7); invert: Mul, Add
    Resizing         crop_to_aspect_ratio: Slice; pad_to_aspect_ratio: Pad (fill_value); then
                     bilinear: Resize (linear, half_pixel); nearest: Gather at convolve's indices;
                     bicubic, lanczos3/5 and antialias: MatMul by each axis' resampling matrix
    CenterCrop       Slice, or (an image smaller than the crop) Resizing's crop-to-aspect-ratio
                     and bilinear resize, as convolve does
    RandomCrop       CenterCrop's form: at inference convolve centre-crops
    RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast,
    RandomBrightness: nothing (the identity at inference)

Resizing is written as ``ops.image.resize`` computes it: half-pixel centres, each output pixel's
weights normalised over the input pixels (so the edges clamp). ONNX Resize's 'linear' mode
with ``half_pixel`` is that for bilinear without antialiasing. Its 'nearest' mode is not exact:
ONNX Runtime rounds (j + 0.5) / scale - 0.5 in float32 and picks the neighbouring pixel where
convolve's floor((j + 0.5) * in / out) is a whole number (140 -> 42 rows, for one), so nearest
is a Gather of convolve's own indices. Bicubic, Lanczos and antialiasing use convolve's own
weights too, as a (in, out) matrix per axis (``ops.image.resize_matrix``).

The images must be a batch (rank 4) of known height and width: the crop boxes and the
resampling weights are computed here, from the sizes.
"""
from __future__ import annotations

import numpy as np

from ..layers.preprocessing import EPSILON
from ..ops import image as image_ops
from ..ops.shapes import format_shape
from .onnx_export_graph import Refusal, Value


def rescaling(graph, layer, node, x: Value) -> Value:
    scale = graph.physical(layer.scale, x)
    offset = graph.physical(layer.offset, x)
    name = graph.node("Mul", [x.name, graph.const(scale, x.dtype, "scale")], "rescale")
    name = graph.node("Add", [name, graph.const(offset, x.dtype, "offset")], "rescale")
    return Value(name, x.perm, x.dtype, node.shape)


def normalization(graph, layer, node, x: Value) -> Value:
    """(x - mean) / max(sqrt(variance), 1e-7), or (invert) mean + x * that, as the layer computes it."""
    if 0 in layer._keep:
        raise Refusal(
            "statistics along the batch axis (one per sample index) fix the batch size, which the "
            f"exported graph leaves open. Received: axis={layer.axis}"
        )
    mean, variance = layer._stats()  # broadcastable against the input, the batch axis 1
    scale = graph.physical(np.maximum(np.sqrt(variance), EPSILON).astype(x.dtype), x)
    mean = graph.physical(mean.astype(x.dtype), x)
    scale_name, mean_name = graph.const(scale, x.dtype, "scale"), graph.const(mean, x.dtype, "mean")
    if layer.invert:
        name = graph.node(
            "Add", [mean_name, graph.node("Mul", [x.name, scale_name], "denormalize")], "denormalize"
        )
    else:
        name = graph.node(
            "Div", [graph.node("Sub", [x.name, mean_name], "normalize"), scale_name], "normalize"
        )
    return Value(name, x.perm, x.dtype, node.shape)


def _image_axes(layer, x: Value):
    """(height, width) of the images: the logical axes, and their sizes (known)."""
    if x.ndim != 4:
        raise Refusal(
            "the exported graph takes a batch of images, rank 4. "
            f"Received: input shape {format_shape(x.shape)}"
        )
    h_axis, w_axis = image_ops.image_axes(4, layer.data_format)
    if x.shape[h_axis] is None or x.shape[w_axis] is None:
        raise Refusal(
            "the crop and the resampling weights are computed from the image size, which the model "
            f"leaves open (None); give the model's Input a fixed height and width. "
            f"Received: input shape {format_shape(x.shape)}"
        )
    return (h_axis, w_axis), (x.shape[h_axis], x.shape[w_axis])


def _slice(graph, x: Value, axes, starts, sizes, shape) -> Value:
    ends = [s + n for s, n in zip(starts, sizes)]
    name = graph.node("Slice", [x.name, graph.ints(starts, "starts"), graph.ints(ends, "ends"),
                                graph.ints([x.axis(a) for a in axes], "axes")], "crop")
    return Value(name, x.perm, x.dtype, shape)


def _with(shape, axes, sizes):
    shape = list(shape)
    for a, n in zip(axes, sizes):
        shape[a] = n
    return tuple(shape)


def _resize(graph, x: Value, axes, sizes, target, interpolation, antialias) -> Value:
    """Resample the image axes ``axes`` from ``sizes`` to ``target`` (both known)."""
    changed = [k for k in range(2) if sizes[k] != target[k]]
    if not changed:
        return x
    out_shape = _with(x.shape, axes, target)
    if interpolation == "bilinear" and not antialias:
        if x.perm[0] != 0:
            raise AssertionError("the batch axis is always held first")
        # sizes: the batch size as it comes, every other axis known
        static = [out_shape[a] for a in x.perm[1:]]
        batch = graph.node("Shape", [x.name], "size", end=1)
        size = graph.node("Concat", [batch, graph.ints(static, "size")], "size", axis=0)
        name = graph.node("Resize", [x.name, "", "", size], "resize", mode="linear",
                          coordinate_transformation_mode="half_pixel")
        return Value(name, x.perm, x.dtype, out_shape)
    shape = x.shape
    for k in changed:
        axis, n_in, n_out = axes[k], sizes[k], target[k]
        shape = _with(shape, (axis,), (n_out,))
        if interpolation == "nearest":
            index, _ = image_ops.resize_taps(n_in, n_out, "nearest")
            name = graph.node("Gather", [x.name, graph.ints(index[0], "index")], "resize", axis=x.axis(axis))
            x = Value(name, x.perm, x.dtype, shape)
            continue
        perm = tuple(a for a in x.perm if a != axis) + (axis,)  # the resampled axis last: y = x @ matrix
        matrix = image_ops.resize_matrix(n_in, n_out, interpolation, antialias).astype(x.dtype)
        name = graph.node(
            "MatMul", [graph.view(x, perm), graph.initializer(matrix, "resize_matrix")], "resize"
        )
        x = Value(name, perm, x.dtype, shape)
    return x


def resizing(graph, layer, node, x: Value) -> Value:
    axes, sizes = _image_axes(layer, x)
    target = (layer.height, layer.width)
    if layer.crop_to_aspect_ratio:
        top, left, h, w = image_ops.aspect_ratio_box(*sizes, *target)
        x = _slice(graph, x, axes, (top, left), (h, w), _with(x.shape, axes, (h, w)))
        sizes = (h, w)
    elif layer.pad_to_aspect_ratio:
        pads = image_ops.aspect_ratio_padding(*sizes, *target)
        name = graph.pad(
            x.name, pads, [x.axis(a) for a in axes], x.ndim, value=layer.fill_value, dtype=x.dtype
        )
        sizes = tuple(n + b + a for n, (b, a) in zip(sizes, pads))
        x = Value(name, x.perm, x.dtype, _with(x.shape, axes, sizes))
    return _resize(graph, x, axes, sizes, target, layer.interpolation, layer.antialias)


def center_crop(graph, layer, node, x: Value) -> Value:
    """CenterCrop, and RandomCrop at inference: the centred window, or, where the images are
    smaller, the largest centred window of the target's aspect ratio resized (bilinear)."""
    axes, (h, w) = _image_axes(layer, x)
    height, width = layer.height, layer.width
    if h >= height and w >= width:
        return _slice(graph, x, axes, ((h - height) // 2, (w - width) // 2), (height, width), node.shape)
    top, left, ch, cw = image_ops.aspect_ratio_box(h, w, height, width)
    x = _slice(graph, x, axes, (top, left), (ch, cw), _with(x.shape, axes, (ch, cw)))
    return _resize(graph, x, axes, (ch, cw), (height, width), "bilinear", False)
