"""Each layer type as ONNX ops, for ``onnx_export``: ``convert(graph, layer, node, inputs)``.

    Conv1D/2D/3D            Conv (pads, strides, dilations, group); padding_mode: Pad + Conv
    DepthwiseConv1D/2D      Conv, group = channels, kernel (C * multiplier, 1, *k)
    SeparableConv1D/2D      depthwise Conv, then a 1x1 Conv with the bias
    Conv1D/2D/3DTranspose   ConvTranspose with explicit pads and output_padding (TensorFlow's
                            arithmetic: the 'same'/'valid' crop as pads, extra rows as output_padding)
    MaxPooling, AveragePooling   MaxPool, AveragePool (count_include_pad=0: Keras' 'same' average)
    GlobalMax/AveragePooling     GlobalMaxPool, GlobalAveragePool, then Flatten unless keepdims
    BatchNormalization      BatchNormalization where the channels are axis 1 of the ONNX tensor
                            (float32), else (x - mean) * (gamma / sqrt(var + eps)) + beta
    Dense                   Gemm on (batch, features), else MatMul + Add
    Flatten, Reshape        Flatten(axis=1) / Reshape([0, *target]) in the model's own order
    ZeroPadding, Cropping   Pad, Slice;  UpSampling: Resize (nearest, asymmetric, floor)
    Permute                 a Transpose where the next op needs the model's order (none of its own:
                            the tensor's held axis order changes, see onnx_export_graph.Value)
    Add, Subtract, Multiply, Maximum, Minimum   Add, Sub, Mul, Max, Min (one per extra input)
    Average                 Add..., then Mul by 1/n;  Concatenate: Concat
    Dropout                 nothing (inference)
    Activation, ReLU, LeakyReLU, Softmax   onnx_export_activations
    preprocessing and augmentation         onnx_export_image

A layer is matched by its exact class: a subclass may compute something else in ``call``, so
it is refused. Every layer casts its input to its dtype first, as ``Layer.__call__`` does.
"""
from __future__ import annotations

import numpy as np

from ..layers import augmentation, conv, core, merging, normalization, pooling, preprocessing, reshaping
from ..ops import activations as act_ops
from ..ops.shapes import conv_transpose_output_shape, format_shape, padding_amounts
from . import onnx_export_activations as activations
from . import onnx_export_image as image
from .onnx_export_graph import Refusal, Value, channels_first, identity

_INT64_MAX = np.iinfo(np.int64).max


def convert(graph, layer, node, inputs) -> Value:
    """The ONNX form of one call of ``layer`` on ``inputs`` (Values); its output Value."""
    converter = CONVERTERS.get(type(layer))
    if converter is None:
        base = next((c for c in type(layer).__mro__[1:] if c in CONVERTERS), None)
        what = (
            f"a subclass of {base.__name__}, whose call() convolve cannot see into"
            if base is not None
            else "a layer type that ONNX export does not cover (it covers convolve's built-in layers)"
        )
        raise Refusal(f"{what}. Received: a {type(layer).__name__} layer")
    if getattr(layer, "takes_list", False):
        args = [graph.cast(x, layer.dtype) for x in inputs]
    else:
        args = graph.cast(inputs[0], layer.dtype)
    return converter(graph, layer, node, args)


def _activation(graph, layer, y: Value) -> Value:
    return activations.apply(graph, layer.activation, y)


def _spatial(shape, data_format):
    shape = tuple(shape)
    return shape[1:-1] if data_format == "channels_last" else shape[2:]


def _window_pads(layer, shape, kernel_size, strides, dilation, padding) -> list:
    """(before, after) per spatial axis, from ``ops.shapes`` (TensorFlow's 'same' split). An axis
    whose size the model leaves open works where the pads do not depend on the size."""
    pads = []
    for i, (n, k, s, d) in enumerate(zip(_spatial(shape, layer.data_format), kernel_size, strides, dilation)):
        p = padding if isinstance(padding, str) else padding[i]
        if n is None:
            if p == "same" and s > 1:
                raise Refusal(
                    "padding='same' with strides > 1 pads by an amount that depends on the input size, "
                    "which the model leaves open (None); give the model's Input a fixed size. "
                    f"Received: strides={tuple(strides)}, input shape {format_shape(shape)}"
                )
            n = d * (k - 1) + 1  # any size with a non-empty output: these pads do not depend on it
        pads.append(padding_amounts(p, n, k, s, d))
    return pads


def _onnx_pads(pads) -> list:
    return [b for b, _ in pads] + [a for _, a in pads]


def _onnx_kernel(kernel):
    """Keras' (*k, in, out) kernel as ONNX's (out, in, *k) (a transposed kernel (*k, filters,
    in) as ConvTranspose's (in, filters, *k): the same move)."""
    n = kernel.ndim - 2
    return np.transpose(kernel, (n + 1, n, *range(n)))


def _weight(variable):
    return np.asarray(variable.numpy())


# ---- convolutions ------------------------------------------------------------------------


def _conv(graph, layer, node, x: Value) -> Value:
    n = layer.rank
    perm = channels_first(n + 2, layer.data_format)
    pads = _window_pads(layer, x.shape, layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding)
    name = graph.view(x, perm)
    if layer.padding_mode != "zeros":
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[layer.padding_mode]
        try:
            name = graph.pad(name, pads, axes=range(2, n + 2), ndim=n + 2, mode=mode,
                             sizes=_spatial(x.shape, layer.data_format))
        except Refusal as refusal:
            raise Refusal(f"padding_mode={layer.padding_mode!r}: {refusal}") from None
        pads = [(0, 0)] * n
    attrs = dict(kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                 dilations=list(layer.dilation_rate), pads=_onnx_pads(pads))
    bias = None if layer.bias is None else graph.initializer(_weight(layer.bias), "bias")
    if isinstance(layer, conv.DepthwiseConv):
        depthwise = _weight(layer.depthwise_kernel)  # (*k, C, m) -> (C * m, 1, *k)
        channels = depthwise.shape[-2]
        grouped = _onnx_kernel(depthwise.reshape(*layer.kernel_size, 1, -1))
        inputs = [name, graph.initializer(grouped, "depthwise_kernel")]
        separable = isinstance(layer, conv.SeparableConv)
        if bias is not None and not separable:
            inputs.append(bias)
        name = graph.node("Conv", inputs, "depthwise" if separable else "conv", group=channels, **attrs)
        if separable:
            pointwise = [
                name,
                graph.initializer(_onnx_kernel(_weight(layer.pointwise_kernel)), "pointwise_kernel"),
            ]
            name = graph.node("Conv", pointwise + ([bias] if bias is not None else []), "pointwise",
                              kernel_shape=[1] * n)
    else:
        inputs = [name, graph.initializer(_onnx_kernel(_weight(layer.kernel)), "kernel")]
        name = graph.node("Conv", inputs + ([bias] if bias is not None else []), "conv",
                          group=layer.groups, **attrs)
    return _activation(graph, layer, Value(name, perm, x.dtype, node.shape))


def _conv_transpose(graph, layer, node, x: Value) -> Value:
    """TensorFlow's transposed convolution is the full one (size (n - 1) * s + ke) with the
    'same'/'valid' padding of the matching convolution cropped, ``before`` rows at the start,
    and the output size ``out`` kept: the end is cropped (pads) or extended (output_padding,
    rows no input reaches, which get only the bias). Neither depends on n."""
    n = layer.rank
    perm = channels_first(n + 2, layer.data_format)
    output_padding = layer.output_padding or (None,) * n
    begins, ends, extra = [], [], []
    for size, k, s, d, p in zip(_spatial(x.shape, layer.data_format), layer.kernel_size, layer.strides,
                                layer.dilation_rate, output_padding):
        size = 1 if size is None else size  # an open size: any gives the same pads
        (out,), ((before, _),) = conv_transpose_output_shape(
            (size,), (k,), s, layer.padding, p, d, where=layer.where
        )
        full = (size - 1) * s + d * (k - 1) + 1
        more = out - (full - before)
        begins.append(before)
        ends.append(max(-more, 0))
        extra.append(max(more, 0))
    inputs = [graph.view(x, perm), graph.initializer(_onnx_kernel(_weight(layer.kernel)), "kernel")]
    if layer.bias is not None:
        inputs.append(graph.initializer(_weight(layer.bias), "bias"))
    name = graph.node(
        "ConvTranspose", inputs, "conv_transpose", kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides), dilations=list(layer.dilation_rate), pads=begins + ends,
        output_padding=extra,
    )
    return _activation(graph, layer, Value(name, perm, x.dtype, node.shape))


# ---- pooling ------------------------------------------------------------------------------


def _pool(graph, layer, node, x: Value) -> Value:
    n = layer.rank
    perm = channels_first(n + 2, layer.data_format)
    ones = (1,) * n
    pads = _window_pads(layer, x.shape, layer.pool_size, layer.strides, ones, layer.padding)
    attrs = dict(kernel_shape=list(layer.pool_size), strides=list(layer.strides), pads=_onnx_pads(pads))
    if isinstance(layer, (pooling.AveragePooling1D, pooling.AveragePooling2D, pooling.AveragePooling3D)):
        name = graph.node("AveragePool", [graph.view(x, perm)], "average_pool", count_include_pad=0, **attrs)
    else:
        name = graph.node("MaxPool", [graph.view(x, perm)], "max_pool", **attrs)
    return Value(name, perm, x.dtype, node.shape)


def _global_pool(graph, layer, node, x: Value) -> Value:
    perm = channels_first(x.ndim, layer.data_format)
    average = isinstance(
        layer,
        (pooling.GlobalAveragePooling1D, pooling.GlobalAveragePooling2D, pooling.GlobalAveragePooling3D),
    )
    op = "GlobalAveragePool" if average else "GlobalMaxPool"
    name = graph.node(op, [graph.view(x, perm)], "global_pool")  # (N, C, 1, ..., 1)
    if layer.keepdims:
        return Value(name, perm, x.dtype, node.shape)
    return Value(graph.node("Flatten", [name], "flatten", axis=1), (0, 1), x.dtype, node.shape)


# ---- normalization and Dense ----------------------------------------------------------------


def _batch_norm(graph, layer, node, x: Value) -> Value:
    """The inference form, y = (x - moving_mean) * (gamma / sqrt(moving_variance + epsilon)) + beta,
    with the scale computed as ``ops.normalization.batch_norm`` computes it."""
    mean, variance = _weight(layer.moving_mean), _weight(layer.moving_variance)
    gamma = None if layer.gamma is None else _weight(layer.gamma)
    beta = None if layer.beta is None else _weight(layer.beta)
    axis = layer.axis % x.ndim
    if x.axis(axis) == 1 and x.dtype == "float32":
        params = [
            np.ones_like(mean) if gamma is None else gamma, np.zeros_like(mean) if beta is None else beta,
            mean, variance,
        ]
        names = [
            graph.initializer(p, hint)
            for p, hint in zip(params, ("gamma", "beta", "moving_mean", "moving_variance"))
        ]
        name = graph.node("BatchNormalization", [x.name, *names], "batch_norm", epsilon=layer.epsilon)
        return Value(name, x.perm, x.dtype, node.shape)
    dtype = np.result_type(x.dtype, mean.dtype)
    scale = 1.0 / np.sqrt(variance.astype(dtype) + layer.epsilon)
    if gamma is not None:
        scale = scale * gamma.astype(dtype)
    centred = graph.node(
        "Sub", [x.name, graph.initializer(graph.along(mean, x, axis, dtype), "moving_mean")], "batch_norm"
    )
    name = graph.node(
        "Mul", [centred, graph.initializer(graph.along(scale, x, axis, dtype), "scale")], "batch_norm"
    )
    if beta is not None:
        name = graph.node(
            "Add", [name, graph.initializer(graph.along(beta, x, axis, dtype), "beta")], "batch_norm"
        )
    return Value(name, x.perm, np.dtype(dtype).name, node.shape)


def _dense(graph, layer, node, x: Value) -> Value:
    kernel = graph.initializer(_weight(layer.kernel), "kernel")
    bias = None if layer.bias is None else graph.initializer(_weight(layer.bias), "bias")
    if x.ndim == 2:
        name = graph.node("Gemm", [graph.view(x, (0, 1)), kernel] + ([bias] if bias else []), "dense")
        return _activation(graph, layer, Value(name, (0, 1), x.dtype, node.shape))
    perm = x.perm if x.perm[-1] == x.ndim - 1 else identity(x.ndim)  # the features last, the rest any order
    name = graph.node("MatMul", [graph.view(x, perm), kernel], "dense")
    if bias:
        name = graph.node("Add", [name, bias], "dense")
    return _activation(graph, layer, Value(name, perm, x.dtype, node.shape))


# ---- core layers ----------------------------------------------------------------------------


def _flatten(graph, layer, node, x: Value) -> Value:
    if x.ndim == 1:
        return Value(
            graph.node("Unsqueeze", [x.name, graph.ints([1])], "flatten"), (0, 1), x.dtype, node.shape
        )
    order = identity(x.ndim)
    if layer.data_format == "channels_first" and x.ndim > 2:  # the channels moved last first
        order = (0, *range(2, x.ndim), 1)
    name = graph.node("Flatten", [graph.view(x, order)], "flatten", axis=1)
    return Value(name, (0, 1), x.dtype, node.shape)


def _reshape(graph, layer, node, x: Value) -> Value:
    shape = graph.ints([0, *layer.target_shape], "shape")  # 0: the batch size as it comes
    name = graph.node("Reshape", [graph.view(x, identity(x.ndim)), shape], "reshape")
    return Value(name, identity(len(node.shape)), x.dtype, node.shape)


def _permute(graph, layer, node, x: Value) -> Value:
    """Permute is no node of its own: the ONNX tensor stays as it is and holds the output's axes
    in another order (a Transpose is made where a later op needs one, and one Transpose serves
    both, as where a channels_last model moves its channels first). Output axis i is input axis
    ``(0, *dims)[i]``, so the input's axis a is the output's axis ``inverse[a]``."""
    inverse = np.argsort((0, *layer.dims))
    y = Value(x.name, tuple(int(inverse[a]) for a in x.perm), x.dtype, node.shape)
    y.names = {tuple(int(inverse[a]) for a in perm): name for perm, name in x.names.items()}  # its views too
    return y


def _passthrough(graph, layer, node, x: Value) -> Value:
    """Dropout and the augmentation layers at inference: the input itself (cast already)."""
    return x


def _activation_layer(graph, layer, node, x: Value) -> Value:
    return activations.apply(graph, layer.activation, x)


def _relu_layer(graph, layer, node, x: Value) -> Value:
    name = activations.relu(graph, x, negative_slope=layer.negative_slope, max_value=layer.max_value,
                            threshold=layer.threshold)
    return Value(name, x.perm, x.dtype, x.shape)


def _leaky_relu_layer(graph, layer, node, x: Value) -> Value:
    return activations.apply(graph, act_ops.leaky_relu, x, negative_slope=layer.negative_slope)


def _softmax_layer(graph, layer, node, x: Value) -> Value:
    return activations.softmax(graph, x, layer.axis)


# ---- reshaping --------------------------------------------------------------------------------


def _spatial_axes(x: Value, data_format) -> list:
    """The ONNX tensor's axes that hold the logical spatial axes, in order."""
    logical = range(1, x.ndim - 1) if data_format == "channels_last" else range(2, x.ndim)
    return [x.axis(a) for a in logical]


def _zero_padding(graph, layer, node, x: Value) -> Value:
    name = graph.pad(x.name, layer.padding, _spatial_axes(x, layer.data_format), x.ndim)
    return Value(name, x.perm, x.dtype, node.shape)


def _cropping(graph, layer, node, x: Value) -> Value:
    starts = [b for b, _ in layer.cropping]
    ends = [-a if a else _INT64_MAX for _, a in layer.cropping]
    axes = _spatial_axes(x, layer.data_format)
    name = graph.node("Slice", [x.name, graph.ints(starts, "starts"), graph.ints(ends, "ends"),
                                graph.ints(axes, "axes")], "crop")
    return Value(name, x.perm, x.dtype, node.shape)


def _upsampling(graph, layer, node, x: Value) -> Value:
    """Output i reads input floor(i / size): Resize nearest with the asymmetric transform and
    floor, exact for whole-number scales."""
    scales = [1.0] * x.ndim
    for axis, size in zip(_spatial_axes(x, layer.data_format), layer.size):
        scales[axis] = float(size)
    name = graph.node(
        "Resize", [x.name, "", graph.const(scales, np.float32, "scales")], "upsample", mode="nearest",
        coordinate_transformation_mode="asymmetric", nearest_mode="floor",
    )
    return Value(name, x.perm, x.dtype, node.shape)


# ---- merging ----------------------------------------------------------------------------------


def _aligned(graph, xs) -> list:
    """Names of the inputs in one layout: the first input's when all have its rank, else the
    model's own with size-1 axes after the batch axis for a lower rank (Keras' rule)."""
    ndim = max(x.ndim for x in xs)
    if all(x.ndim == ndim for x in xs):
        return [graph.view(x, xs[0].perm) for x in xs], xs[0].perm
    names = []
    for x in xs:
        name = graph.view(x, identity(x.ndim))
        if x.ndim < ndim:
            name = graph.node("Unsqueeze", [name, graph.ints(range(1, 1 + ndim - x.ndim), "axes")], "expand")
        names.append(name)
    return names, identity(ndim)


def _merge(graph, layer, node, xs) -> Value:
    names, perm = _aligned(graph, xs)
    op = {
        merging.Add: "Add", merging.Subtract: "Sub", merging.Multiply: "Mul", merging.Average: "Add",
        merging.Maximum: "Max", merging.Minimum: "Min",
    }[type(layer)]
    y = names[0]
    for other in names[1:]:
        y = graph.node(op, [y, other], op.lower())
    if isinstance(layer, merging.Average):
        y = graph.node("Mul", [y, graph.const(1.0 / len(names), layer.dtype)], "average")
    return Value(y, perm, layer.dtype, node.shape)


def _concatenate(graph, layer, node, xs) -> Value:
    names, perm = _aligned(graph, xs)
    axis = perm.index(layer.axis % len(perm))
    return Value(graph.node("Concat", names, "concat", axis=axis), perm, layer.dtype, node.shape)


CONVERTERS = {
    **{
        cls: _conv
        for cls in (
            conv.Conv1D,
            conv.Conv2D,
            conv.Conv3D,
            conv.DepthwiseConv1D,
            conv.DepthwiseConv2D,
            conv.SeparableConv1D,
            conv.SeparableConv2D,
        )
    },
    **{cls: _conv_transpose for cls in (conv.Conv1DTranspose, conv.Conv2DTranspose, conv.Conv3DTranspose)},
    **{
        cls: _pool
        for cls in (
            pooling.MaxPooling1D,
            pooling.MaxPooling2D,
            pooling.MaxPooling3D,
            pooling.AveragePooling1D,
            pooling.AveragePooling2D,
            pooling.AveragePooling3D,
        )
    },
    **{
        cls: _global_pool
        for cls in (
            pooling.GlobalMaxPooling1D,
            pooling.GlobalMaxPooling2D,
            pooling.GlobalMaxPooling3D,
            pooling.GlobalAveragePooling1D,
            pooling.GlobalAveragePooling2D,
            pooling.GlobalAveragePooling3D,
        )
    },
    normalization.BatchNormalization: _batch_norm,
    core.Dense: _dense,
    core.Flatten: _flatten,
    core.Reshape: _reshape,
    core.Dropout: _passthrough,
    core.Activation: _activation_layer,
    core.ReLU: _relu_layer,
    core.LeakyReLU: _leaky_relu_layer,
    core.Softmax: _softmax_layer,
    **{
        cls: _zero_padding
        for cls in (reshaping.ZeroPadding1D, reshaping.ZeroPadding2D, reshaping.ZeroPadding3D)
    },
    **{cls: _cropping for cls in (reshaping.Cropping1D, reshaping.Cropping2D, reshaping.Cropping3D)},
    **{cls: _upsampling for cls in (reshaping.UpSampling1D, reshaping.UpSampling2D, reshaping.UpSampling3D)},
    reshaping.Permute: _permute,
    **{
        cls: _merge
        for cls in (
            merging.Add,
            merging.Subtract,
            merging.Multiply,
            merging.Average,
            merging.Maximum,
            merging.Minimum,
        )
    },
    merging.Concatenate: _concatenate,
    preprocessing.Rescaling: image.rescaling,
    preprocessing.Normalization: image.normalization,
    preprocessing.Resizing: image.resizing,
    preprocessing.CenterCrop: image.center_crop,
    augmentation.RandomCrop: image.center_crop,
    **{
        cls: _passthrough
        for cls in (
            augmentation.RandomFlip,
            augmentation.RandomRotation,
            augmentation.RandomZoom,
            augmentation.RandomTranslation,
            augmentation.RandomContrast,
            augmentation.RandomBrightness,
        )
    },
}
