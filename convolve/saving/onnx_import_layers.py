"""ONNX import, part 4: operators to convolve layers (the table is in ``onnx_format.py``):
convolutions, normalisation, activations, pooling and padding, and what every mapping checks of
its inputs. Shapes, dense layers and elementwise operators are in ``onnx_import_dense.py``.

The graph's layout is kept: an NCHW graph becomes channels_first layers, so the imported model
takes the same (batch, channels, *spatial) input. ONNX kernels are (out, in / group, *k);
convolve's are Keras' (*k, in / groups, filters), so kernels are transposed here, once. What
convolve cannot compute exactly is refused with the reason, never approximated.
"""
from __future__ import annotations

import math

import numpy as np

from .. import layers as L
from ..ops.activations import SELU_ALPHA, SELU_SCALE
from .onnx_import_fold import has_dims
from .onnx_import_tensors import Attributes, OnnxFileError, PendingPad, Sym

CF = "channels_first"
#: operators mapped to layers here (onnx_import_dense.py maps the others)
MAPPED = (
    "Conv", "ConvTranspose", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
    "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "Pad",
    "Elu", "Selu", "Softplus", "HardSigmoid", "HardSwish",
)
_LAYERS = {
    "conv": (L.Conv1D, L.Conv2D, L.Conv3D), "depthwise": (L.DepthwiseConv1D, L.DepthwiseConv2D, None),
    "transpose": (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose),
    "max": (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D),
    "average": (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D),
    "global_max": (L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D),
    "global_average": (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D),
    "zero_pad": (L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D),
    "crop": (L.Cropping1D, L.Cropping2D, L.Cropping3D),
    "upsample": (L.UpSampling1D, L.UpSampling2D, L.UpSampling3D),
}
_AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
#: ONNX Pad modes -> convolve's padding_mode of the Conv that reads the padded tensor
_PAD_MODES = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}
_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


def _layer(kind, n):
    return _LAYERS[kind][n - 1]


def choose_layout(axes, x):
    """The data_format whose spatial axes hold ``axes`` (those an operator changes) of ``x``, or
    None (also when only the layout fits that is not the one layers gave ``x``). Where both fit,
    the layout layers gave ``x`` decides; without one (a graph input), channels_last when its
    last axis is the shorter of axis 1 and the last (images have fewer channels than rows), else
    channels_first."""
    ndim = x.ndim
    fits = [
        f for f, first in ((CF, 2), ("channels_last", 1)) if set(axes) <= set(range(first, first + ndim - 2))
    ]
    if len(fits) < 2:  # one layout fits: refused where layers made x in the other (axes not spatial)
        return fits[0] if fits and x.layout in (None, fits[0]) else None
    if x.layout in fits:
        return x.layout
    one, last = x.shape[1], x.shape[-1]
    return "channels_last" if one is not None and last is not None and last < one else CF


def _same_pairs(sizes, kernel, strides, dilations, lower=False) -> tuple:
    """The 'same' split per axis: SAME_UPPER puts the odd cell after (convolve's 'same'), SAME_LOWER
    before."""
    pairs = []
    for n, k, s, d in zip(sizes, kernel, strides, dilations):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pairs.append((total - total // 2, total // 2) if lower else (total // 2, total - total // 2))
    return tuple(pairs)


class LayerMappings:
    """``_map_<Op>(node, label, inputs)`` for each operator in MAPPED: a list of output values;
    ``sym``, ``const``, ``weight``, ``scalar``, ``static`` check what inputs must be. Mixed into
    ``onnx_import_graph.GraphBuilder``, which provides ``make``, ``values``, ``consumers``,
    ``nodes``, ``outputs``, ``fused``, ``opset`` and ``static_batch``."""

    # ---- what inputs must be ------------------------------------------------------------------------
    def sym(self, value, label, what="its input"):
        if isinstance(value, PendingPad):
            raise OnnxFileError(
                f"{value.label} pads with mode {value.mode!r} (convolve's name), which convolve can import "
                f"only "
                f"as the padding_mode of a Conv that reads it (with no padding of its own). Received: "
                f"{label} reads it"
            )
        if not isinstance(value, Sym):
            raise OnnxFileError(
                f"{label}: {what} must be computed from the model's input; convolve builds layers only on "
                f"tensors that flow from the inputs. Received: {'nothing' if value is None else 'a constant'}"
            )
        return value

    def const(self, value, label, what, required=True):
        if value is None and not required:
            return None
        if not isinstance(value, np.ndarray) or has_dims(value):
            got = "nothing" if value is None else "sizes known only when the model runs" if has_dims(value) \
                else "a tensor computed from the model's input"
            raise OnnxFileError(
                f"{label}: {what} must be a constant (an initializer or a folded value); convolve layers own "
                f"their weights and settings. Received: {got}"
            )
        return value

    def weight(self, value, label, what, shape=None):
        array = self.const(value, label, what).astype(self.dtype)
        if shape is not None and array.shape != tuple(shape):
            raise OnnxFileError(
                f"{label}: {what} must have shape {tuple(shape)}. Received: shape {array.shape}"
            )
        return array

    def scalar(self, value, label, what, default=None):
        if value is None:
            return default
        array = self.const(value, label, what)
        if array.size != 1:
            raise OnnxFileError(f"{label}: {what} must be one number. Received: shape {array.shape}")
        return array.ravel()[0].item()

    def spatial_rank(self, x, label, op) -> int:
        n = x.ndim - 2
        if not 1 <= n <= 3:
            raise OnnxFileError(
                f"{label}: convolve's {op} layers take (batch, channels, *spatial) with 1 to 3 spatial axes. "
                f"Received: input of shape {x.shape}"
            )
        return n

    def static(self, x, label, why) -> tuple:
        """The spatial sizes of ``x``, which ``why`` needs known."""
        sizes = x.shape[2:]
        if any(s is None for s in sizes):
            raise OnnxFileError(
                f"{label}: {why} needs the input's spatial sizes, but they are known only when the model "
                f"runs. "
                f"Received: input of shape {x.shape}; give the graph input static sizes"
            )
        return sizes

    def window(self, attrs, label, n, name="kernel_shape"):
        strides = attrs.integers("strides", (1,) * n, n)
        dilations = attrs.integers("dilations", (1,) * n, n)
        if any(v < 1 for v in strides + dilations):
            raise OnnxFileError(
                f"{label}: strides and dilations must be positive. Received: {strides}, {dilations}"
            )
        auto = attrs.text("auto_pad", "NOTSET")
        if auto not in _AUTO_PADS:
            raise OnnxFileError(f"{label}: auto_pad must be one of {_AUTO_PADS}. Received: auto_pad={auto!r}")
        pads = attrs.integers("pads", None, 2 * n)
        if pads is not None and auto != "NOTSET" and any(pads):
            raise OnnxFileError(
                f"{label}: pads and auto_pad={auto} cannot be used together. Received: {list(pads)}"
            )
        if pads is not None and any(p < 0 for p in pads):
            raise OnnxFileError(f"{label}: pads must not be negative. Received: pads={list(pads)}")
        pairs = tuple(zip(pads[:n], pads[n:])) if pads else ((0, 0),) * n
        return strides, dilations, auto, pairs

    # ---- convolutions ------------------------------------------------------------------------------
    def _map_Conv(self, node, label, inputs):
        x, w, b = (list(inputs) + [None, None])[:3]
        pre = x if isinstance(x, PendingPad) else None
        x = self.sym(pre.source if pre else x, label)
        n = self.spatial_rank(x, label, "convolution")
        attrs = Attributes(node, label, _CONV_ATTRS)
        w = self.weight(w, label, "the kernel W")
        if w.ndim != n + 2:
            raise OnnxFileError(
                f"{label}: W must have rank {n + 2} for this input. Received: shape {w.shape}"
            )
        kernel = w.shape[2:]
        if attrs.integers("kernel_shape", kernel, n) != kernel:
            raise OnnxFileError(f"{label}: kernel_shape must match W's shape {w.shape}. Received: "
                                f"{list(attrs.integers('kernel_shape'))}")
        strides, dilations, auto, pairs = self.window(attrs, label, n)
        if auto == "SAME_UPPER":
            padding = "same"
        else:
            if auto == "SAME_LOWER":
                pairs = _same_pairs(
                    self.static(x, label, "auto_pad=SAME_LOWER"), kernel, strides, dilations, True
                )
            padding = "valid" if not any(map(any, pairs)) else pairs
        mode = "zeros"
        if pre is not None:
            if padding != "valid":
                raise OnnxFileError(
                    f"{label} reads the {pre.mode!r} padding of {pre.label} and pads again with zeros; "
                    f"convolve's "
                    f"Conv has one padding. Received: pads {pairs if padding != 'same' else 'SAME_UPPER'}"
                )
            padding, mode = pre.pads, pre.mode
        channels, filters, group = x.shape[1], w.shape[0], attrs.integer("group", 1)
        if (
            channels is None
            or group < 1
            or channels % group
            or filters % group
            or w.shape[1] * group != channels
        ):
            raise OnnxFileError(
                f"{label}: W must have shape (filters, channels / group, *kernel) = ({filters}, "
                f"{channels} / {group}, ...) for input of shape {x.shape}. Received: W of shape {w.shape}, "
                f"group={group}"
            )
        bias = None if b is None else self.weight(b, label, "the bias B", (filters,))
        config = dict(strides=strides, padding=padding, dilation_rate=dilations, data_format=CF,
                      use_bias=bias is not None, padding_mode=mode)
        tail = [bias] if bias is not None else []
        keras = np.moveaxis(w, (0, 1), (-1, -2))  # (M, C/g, *k) -> (*k, C/g, M)
        if group == channels and group > 1 and w.shape[1] == 1 and n <= 2:
            multiplier = filters // channels  # output c * m + j reads channel c: (C * m, 1, *k) -> (*k, C, m)
            depthwise = np.moveaxis(w.reshape(channels, multiplier, *kernel), (0, 1), (-2, -1))
            out = self.make(node, label, _layer("depthwise", n), x, [depthwise, *tail], kernel_size=kernel,
                            depth_multiplier=multiplier, **config)
        else:
            out = self.make(node, label, _layer("conv", n), x, [keras, *tail], filters=filters,
                            kernel_size=kernel, groups=group, **config)
        return [out]

    def _map_ConvTranspose(self, node, label, inputs):
        x, w, b = (list(inputs) + [None, None])[:3]
        x = self.sym(x, label)
        n = self.spatial_rank(x, label, "transposed convolution")
        attrs = Attributes(node, label, (*_CONV_ATTRS, "output_padding", "output_shape"))
        w = self.weight(w, label, "the kernel W")
        channels = x.shape[1]
        if w.ndim != n + 2 or w.shape[0] != channels:
            raise OnnxFileError(
                f"{label}: W must have shape ({channels}, filters, *kernel) for input of shape "
                f"{x.shape}. Received: W of shape {w.shape}"
            )
        if attrs.integer("group", 1) != 1:
            raise OnnxFileError(f"{label}: convolve's transposed convolutions have one group. "
                                f"Received: group={attrs.integer('group')}")
        filters, kernel = w.shape[1], w.shape[2:]
        if attrs.integers("kernel_shape", kernel, n) != kernel:
            raise OnnxFileError(f"{label}: kernel_shape must match W's shape {w.shape}. "
                                f"Received: {list(attrs.integers('kernel_shape'))}")
        strides, dilations, auto, pairs = self.window(attrs, label, n)
        extra = attrs.integers("output_padding", (0,) * n, n)
        if any(not 0 <= p < s for p, s in zip(extra, strides)):
            raise OnnxFileError(f"{label}: convolve needs 0 <= output_padding < strides. "
                                f"Received: output_padding={list(extra)}, strides={list(strides)}")
        shape = attrs.integers("output_shape")
        if shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
            sizes = self.static(x, label, "output_shape or auto_pad=SAME")
            if shape is not None:
                shape = shape[-n:]
            else:
                shape = tuple(size * s for size, s in zip(sizes, strides))
            totals = [s * (size - 1) + p + d * (k - 1) + 1 - out
                      for size, s, p, d, k, out in zip(sizes, strides, extra, dilations, kernel, shape)]
            if any(t < 0 for t in totals):
                raise OnnxFileError(f"{label}: output_shape {list(shape)} is larger than the transposed "
                                    f"convolution's full output. Received: output_shape={list(shape)}")
            upper = auto == "SAME_UPPER"
            pairs = tuple((t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals)
        bias = None if b is None else self.weight(b, label, "the bias B", (filters,))
        keras = np.moveaxis(w, (0, 1), (-1, -2))  # (C, M, *k) -> (*k, M, C)
        out = self.make(
            node,
            label,
            _layer("transpose", n),
            x,
            [keras] + ([bias] if bias is not None else []),
            filters=filters,
            kernel_size=kernel,
            strides=strides,
            padding="valid",
            output_padding=extra,
            dilation_rate=dilations,
            data_format=CF,
            use_bias=bias is not None,
        )
        if any(map(any, pairs)):  # ONNX crops its pads from the full output
            out = self.make(
                node, label, _layer("crop", n), out, suffix="_crop", cropping=pairs, data_format=CF
            )
        return [out]

    # ---- normalisation and activations ---------------------------------------------------------------
    def _map_BatchNormalization(self, node, label, inputs):
        attrs = Attributes(node, label, ("epsilon", "momentum", "spatial", "training_mode"))
        if attrs.flag("training_mode", 0) or attrs.integer("spatial", 1) != 1:
            raise OnnxFileError(
                f"{label}: convolve imports inference BatchNormalization with spatial=1. "
                f"Received: {attrs.kinds()} training_mode={attrs.integer('training_mode', 0)}, "
                f"spatial={attrs.integer('spatial', 1)}"
            )
        x = self.sym(inputs[0], label)
        if len(inputs) != 5 or x.shape[1] is None:
            raise OnnxFileError(f"{label}: expected X, scale, B, mean and var with a known channel count. "
                                f"Received: {len(inputs)} inputs, X of shape {x.shape}")
        names = ("scale", "B", "mean", "var")
        weights = [self.weight(v, label, f"its {w}", (x.shape[1],)) for v, w in zip(inputs[1:], names)]
        if not np.all(weights[3] >= 0):  # convolve's batch norm refuses it when called; say so now
            raise OnnxFileError(f"{label}: its var must be >= 0 everywhere. "
                                f"Received: minimum {np.nanmin(weights[3]) if weights[3].size else 0}")
        return [self.make(node, label, L.BatchNormalization, x, weights, axis=1,
                          epsilon=attrs.number("epsilon", 1e-5), momentum=attrs.number("momentum", 0.9))]

    def _activation(self, node, label, inputs, cls, nonneg=False, known=(), **config):
        Attributes(node, label, known)
        x = self.sym(inputs[0], label)
        return [self.make(node, label, cls, x, nonneg=nonneg, **config)]

    def _map_Relu(self, node, label, inputs):
        return self._activation(node, label, inputs, L.ReLU, nonneg=True)

    def _map_Sigmoid(self, node, label, inputs):
        return self._activation(node, label, inputs, L.Activation, nonneg=True, activation="sigmoid")

    def _map_Tanh(self, node, label, inputs):
        return self._activation(node, label, inputs, L.Activation, activation="tanh")

    def _map_Softplus(self, node, label, inputs):
        return self._activation(node, label, inputs, L.Activation, nonneg=True, activation="softplus")

    def _map_HardSwish(self, node, label, inputs):
        return self._activation(node, label, inputs, L.Activation, activation="hard_silu")

    def _constants(self, node, label, op, **expected):
        """Check that the node's float attributes hold convolve's constants (as float32, which ONNX
        stores), so the activation of that name computes what the node computes."""
        attrs = Attributes(node, label, tuple(expected))
        for name, (value, default) in expected.items():
            got = attrs.number(name, default)
            if np.float32(got) != np.float32(value):
                wanted = ", ".join(f"{k}={np.float32(v[0])}" for k, v in expected.items())
                raise OnnxFileError(
                    f"{label}: convolve imports {op} as its activation {wanted}. Received: {name}={got}"
                )

    def _map_Elu(self, node, label, inputs):
        self._constants(node, label, "Elu", alpha=(1.0, 1.0))
        return self._activation(node, label, inputs, L.Activation, known=("alpha",), activation="elu")

    def _map_Selu(self, node, label, inputs):
        self._constants(node, label, "Selu", alpha=(SELU_ALPHA, 1.67326319217681884765625),
                        gamma=(SELU_SCALE, 1.05070102214813232421875))
        return self._activation(node, label, inputs, L.Activation, known=("alpha", "gamma"),
                                activation="selu")

    def _map_HardSigmoid(self, node, label, inputs):
        self._constants(node, label, "HardSigmoid", alpha=(1 / 6, 0.2), beta=(0.5, 0.5))
        return self._activation(node, label, inputs, L.Activation, nonneg=True, known=("alpha", "beta"),
                                activation="hard_sigmoid")

    def _map_LeakyRelu(self, node, label, inputs):
        alpha = Attributes(node, label, ("alpha",)).number("alpha", 0.01)
        if alpha < 0:
            raise OnnxFileError(f"{label}: convolve's LeakyReLU needs alpha >= 0. Received: alpha={alpha}")
        return self._activation(node, label, inputs, L.LeakyReLU, known=("alpha",), negative_slope=alpha)

    def _map_Softmax(self, node, label, inputs):
        x = self.sym(inputs[0], label)
        axis = Attributes(node, label, ("axis",)).integer("axis", -1 if self.opset >= 13 else 1)
        if not -x.ndim <= axis < x.ndim or axis % x.ndim == 0:
            raise OnnxFileError(f"{label}: axis must name a non-batch axis of the rank-{x.ndim} input. "
                                f"Received: axis={axis}")
        axis %= x.ndim
        if self.opset < 13 and axis != x.ndim - 1:  # before opset 13: over every axis from `axis` on
            axis = tuple(range(axis, x.ndim))
        return self._activation(node, label, inputs, L.Softmax, nonneg=True, known=("axis",), axis=axis)

    def _map_Clip(self, node, label, inputs):
        attrs = Attributes(node, label, ("min", "max"))
        if self.opset < 11:
            low, high = attrs.number("min", -math.inf), attrs.number("max", math.inf)
        else:
            low = self.scalar(inputs[1] if len(inputs) > 1 else None, label, "min", -math.inf)
            high = self.scalar(inputs[2] if len(inputs) > 2 else None, label, "max", math.inf)
        if low != 0 or not high > 0:
            raise OnnxFileError(
                f"{label}: convolve imports Clip as ReLU with max_value, so min must be 0 and max "
                f"above 0 (ReLU6: min 0, max 6). Received: min={low}, max={high}"
            )
        x = self.sym(inputs[0], label)
        return [self.make(node, label, L.ReLU, x, nonneg=True, max_value=None if math.isinf(high) else high)]

    # ---- pooling -----------------------------------------------------------------------------------
    def _map_MaxPool(self, node, label, inputs):
        return self._pool(node, label, inputs, "max")

    def _map_AveragePool(self, node, label, inputs):
        return self._pool(node, label, inputs, "average")

    def _pool(self, node, label, inputs, kind):
        known = ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides",
                 "storage_order" if kind == "max" else "count_include_pad")
        attrs = Attributes(node, label, known)
        x = self.sym(inputs[0], label)
        n = self.spatial_rank(x, label, "pooling")
        kernel = attrs.integers("kernel_shape", None, n)
        if kernel is None or min(kernel) < 1:
            raise OnnxFileError(f"{label}: kernel_shape must hold {n} positive sizes. Received: {kernel}")
        strides, dilations, auto, pairs = self.window(attrs, label, n)
        if any(d != 1 for d in dilations):
            raise OnnxFileError(
                f"{label}: convolve's pooling has no dilation. Received: dilations={list(dilations)}"
            )
        include = attrs.flag("count_include_pad", 0)
        padding, pre = "same", None
        if auto != "SAME_UPPER":
            if auto == "SAME_LOWER":
                pairs = _same_pairs(
                    self.static(x, label, "auto_pad=SAME_LOWER"), kernel, strides, dilations, True
                )
            grown = pairs
            if attrs.flag("ceil_mode", 0):
                grown = self._ceil_pads(self.static(x, label, "ceil_mode=1"), kernel, strides, pairs)
            if any(b >= k or a >= k for (b, a), k in zip(grown, kernel)):
                raise OnnxFileError(
                    f"{label}: every pad must be smaller than the window. Received: pads {grown}, "
                    f"kernel_shape {list(kernel)}"
                )
            if not any(map(any, grown)):
                padding = "valid"
            elif (kind == "max" or not include) and all(s is not None for s in x.shape[2:]) \
                    and grown == _same_pairs(x.shape[2:], kernel, strides, dilations):
                padding = "same"  # padded cells are ignored, as ONNX's MaxPool and count_include_pad=0 do
            elif (kind == "max" and x.nonneg) or (kind == "average" and include and grown == pairs):
                padding, pre = (
                    "valid",
                    grown,
                )  # zeros change no maximum of non-negative values; included zeros
            else:
                raise OnnxFileError(
                    f"{label}: convolve's {kind} pooling pads only as 'same' (padded cells ignored) and "
                    f"cannot "
                    f"match these pads exactly: {grown} (after ceil_mode) for input of shape {x.shape}, "
                    f"kernel_shape {list(kernel)}, strides {list(strides)}"
                    + (
                        ""
                        if kind == "average"
                        else "; max pooling may pad with zeros only after an operator whose output is >= 0 "
                            "(Relu, ...)"
                    )
                    + (
                        ". Received: count_include_pad=1 with ceil_mode=1"
                        if include and grown != pairs
                        else f". Received: pads={pairs}"
                    )
                )
        if pre is not None:
            x = self.make(node, label, _layer("zero_pad", n), x, suffix="_pad", nonneg=x.nonneg, padding=pre,
                          data_format=CF)
        return [self.make(node, label, _layer(kind, n), x, nonneg=x.nonneg, pool_size=kernel, strides=strides,
                          padding=padding, data_format=CF)]

    @staticmethod
    def _ceil_pads(sizes, kernel, strides, pairs) -> tuple:
        """Pads grown at the end so that floor division gives ceil_mode's output size (ONNX and
        PyTorch: the last window must start inside the input or its leading padding)."""
        grown = []
        for n, k, s, (b, a) in zip(sizes, kernel, strides, pairs):
            out = -(-(n + b + a - k) // s) + 1
            if (out - 1) * s >= n + b:
                out -= 1
            grown.append((b, a + max((out - 1) * s + k - (n + b + a), 0)))
        return tuple(grown)

    def _global(self, node, label, x, kind, keepdims=True):
        n = self.spatial_rank(x, label, "global pooling")
        if keepdims and self._flattened(node):
            keepdims = False  # (batch, channels): the Flatten that alone reads it is taken in
        return [
            self.make(node, label, _layer(kind, n), x, nonneg=x.nonneg, data_format=CF, keepdims=keepdims)
        ]

    def _flattened(self, node) -> bool:
        """True, with the Flatten marked fused, when a Flatten(axis=1) alone reads the node's output
        (global pooling then Flatten: one global pooling layer without keepdims)."""
        name = node.output[0]
        readers = self.consumers.get(name, [])
        if len(readers) != 1 or name in self.outputs:
            return False
        index, _ = readers[0]
        flatten = self.nodes[index]
        if flatten.op_type != "Flatten" or any(a.name != "axis" or a.i != 1 for a in flatten.attribute):
            return False
        self.fused[index] = {flatten.output[0]: name}
        return True

    def _map_GlobalAveragePool(self, node, label, inputs):
        Attributes(node, label)
        return self._global(node, label, self.sym(inputs[0], label), "global_average")

    def _map_GlobalMaxPool(self, node, label, inputs):
        Attributes(node, label)
        return self._global(node, label, self.sym(inputs[0], label), "global_max")

    def _reduce(self, node, label, inputs, kind):
        attrs = Attributes(node, label, ("axes", "keepdims", "noop_with_empty_axes"))
        x = self.sym(inputs[0], label)
        if self.opset < 18:
            axes = attrs.integers("axes")
        else:
            axes = None if len(inputs) < 2 or inputs[1] is None else \
                tuple(int(a) for a in self.const(inputs[1], label, "axes").ravel())
        spatial = set(range(2, x.ndim))
        if axes is None or not spatial or {a % x.ndim for a in axes if -x.ndim <= a < x.ndim} != spatial \
                or len(set(axes)) != len(axes):
            raise OnnxFileError(f"{label}: convolve imports {node.op_type} over every spatial axis "
                                f"{sorted(spatial)} (global pooling) only. Received: axes={axes}")
        return self._global(node, label, x, kind, keepdims=bool(attrs.flag("keepdims", 1)))

    def _map_ReduceMean(self, node, label, inputs):
        return self._reduce(node, label, inputs, "global_average")

    def _map_ReduceMax(self, node, label, inputs):
        return self._reduce(node, label, inputs, "global_max")

    # ---- padding -----------------------------------------------------------------------------------
    def _map_Pad(self, node, label, inputs):
        attrs = Attributes(node, label, ("mode", "pads", "value"))
        x = self.sym(inputs[0], label)
        mode = attrs.text("mode", "constant")
        if self.opset < 11:
            pads, value = attrs.integers("pads"), attrs.number("value", 0.0)
            axes = None
        else:
            pads = tuple(
                int(p) for p in self.const(inputs[1] if len(inputs) > 1 else None, label, "pads").ravel()
            )
            value = self.scalar(inputs[2] if len(inputs) > 2 else None, label, "constant_value", 0.0)
            axes = None if len(inputs) < 4 or inputs[3] is None else \
                [int(a) % x.ndim for a in self.const(inputs[3], label, "axes").ravel()]
        axes = list(range(x.ndim)) if axes is None else axes
        if pads is None or len(pads) != 2 * len(axes):
            raise OnnxFileError(
                f"{label}: pads must hold a (begin, end) value per axis. Received: pads={pads}"
            )
        pairs = {a: (pads[i], pads[i + len(axes)]) for i, a in enumerate(axes)}
        n = self.spatial_rank(x, label, "padding")
        touched = {a for a, pair in pairs.items() if pair != (0, 0)}
        # a Conv's padding_mode is channels_first here; zeros and crops in either layout
        layout = CF if mode != "constant" else choose_layout(touched, x) or CF
        first = 2 if layout == CF else 1
        if not touched <= set(range(first, first + n)):
            raise OnnxFileError(
                f"{label}: convolve pads the spatial axes only, not the batch or channel axis. "
                f"Received: pads={list(pads)} for input of shape {x.shape}"
            )
        spatial = tuple(pairs.get(a, (0, 0)) for a in range(first, first + n))
        if mode == "constant":
            if value != 0:
                raise OnnxFileError(
                    f"{label}: convolve pads with zeros only. Received: constant_value={value}"
                )
            if all(p >= 0 for pair in spatial for p in pair):
                return [self.make(node, label, _layer("zero_pad", n), x, padding=spatial, data_format=layout,
                                  nonneg=x.nonneg)]
            if all(p <= 0 for pair in spatial for p in pair):
                return [self.make(node, label, _layer("crop", n), x, data_format=layout, nonneg=x.nonneg,
                                  cropping=tuple((-b, -a) for b, a in spatial))]
        elif mode in _PAD_MODES and all(p >= 0 for pair in spatial for p in pair):
            return [PendingPad(x, spatial, _PAD_MODES[mode], label)]
        raise OnnxFileError(
            f"{label}: convolve imports Pad as zeros (constant), cropping (negative pads) or a "
            f"following Conv's padding_mode (reflect, edge, wrap). Received: mode={mode!r}, "
            f"pads={list(pads)}"
        )
