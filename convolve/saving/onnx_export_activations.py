"""Activations as ONNX ops, for ``onnx_export``: each written as convolve computes it
(``convolve/ops/activations.py``, ``convolve/activations.py``), elementwise, so in whatever
layout the input is held (softmax maps its axis).

    relu            Relu; max_value: Clip(0, max); threshold: Where(x <= t, 0, x) (then Min);
                    negative_slope: LeakyRelu, or Where(x <= t, slope * (x - t), x) with a threshold
    leaky_relu      LeakyRelu
    elu, selu       Elu, Selu
    gelu            0.5 * x * (1 + Erf(x / sqrt(2)))
                    approximate: 0.5 * x * (1 + Tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
    sigmoid, tanh   Sigmoid, Tanh;  softplus: Softplus
    softmax         Softmax(axis); several axes: Exp(x - ReduceMax) / ReduceSum
    linear          nothing
    relu6           Clip(0, 6)
    silu (swish)    x * Sigmoid(x);  mish: x * Tanh(Softplus(x));  log_sigmoid: -Softplus(-x)
    hard_sigmoid    HardSigmoid(1/6, 1/2);  hard_silu (hard_swish): HardSwish

ONNX gives the constants of LeakyRelu, Elu, Selu, HardSigmoid and HardSwish as float32
attributes, which is what convolve computes with in float32 (NumPy turns the Python number
into the array's dtype). For float64 and float16 models the same formulas are written out
with constants of the model's dtype (Where, Exp, Mul, Clip...), so a double model stays
double to the last digit.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .. import activations as public
from ..ops import activations as ops
from .onnx_export_graph import Refusal, Value

#: the name of every built-in activation function, public or op, by identity
_NAMES = {id(fn): name for table in (ops.ACTIVATIONS, public.ACTIVATIONS) for name, fn in table.items()}
_NAMES[id(public.swish)] = "silu"
_NAMES[id(public.hard_swish)] = "hard_silu"


#: the keyword arguments each activation takes (through functools.partial, or a layer's own)
_PARAMS = {
    "relu": {"negative_slope", "max_value", "threshold"}, "leaky_relu": {"negative_slope"}, "elu": {"alpha"},
    "gelu": {"approximate"}, "softmax": {"axis"},
}


def activation_name(fn):
    """The name of a built-in activation function (``swish`` is ``silu``), or None."""
    return _NAMES.get(id(fn))


def apply(graph, fn, x: Value, **params) -> Value:
    """``fn(x, **params)`` for one of convolve's activation functions, or a
    ``functools.partial`` of one with keyword arguments (``partial(gelu, approximate=True)``);
    a Refusal for any other function."""
    if isinstance(fn, functools.partial) and not fn.args:
        params = {
            k: v for k, v in {**fn.keywords, **params}.items() if k != "where"
        }  # `where`: messages only
        name = activation_name(fn.func)
    else:
        name = activation_name(fn)
    if name is None:
        raise Refusal(
            "the activation is a custom function, which ONNX export cannot look inside; use one of "
            f"{sorted(set(_NAMES.values()))} (or a functools.partial of one with keyword arguments). "
            f"Received: activation={fn!r}"
        )
    unknown = sorted(set(params) - _PARAMS.get(name, set()))
    if unknown:
        raise Refusal(
            f"the activation {name!r} takes only the keyword arguments {sorted(_PARAMS.get(name, ()))}. "
            f"Received: activation={fn!r}"
        )
    if name == "linear":
        return x
    if name == "softmax":
        return softmax(graph, x, params.get("axis", -1))
    y = _unary(graph, name, x, params)
    return Value(y, x.perm, x.dtype, x.shape)


def _unary(graph, name, x: Value, params) -> str:
    n, dtype = x.name, x.dtype
    native = dtype == "float32"  # ONNX's float attributes are what convolve computes with

    def c(value):
        return graph.const(value, dtype)

    def node(op, *inputs, **attrs):
        return graph.node(op, list(inputs), name, **attrs)

    if name == "relu":
        return relu(graph, x, **params)
    if name == "relu6":
        return node("Clip", n, c(0.0), c(6.0))
    if name == "leaky_relu":
        slope = float(params.get("negative_slope", 0.2))
        if native:
            return node("LeakyRelu", n, alpha=slope)
        return node("Where", node("Greater", n, c(0.0)), n, node("Mul", c(slope), n))
    if name in ("elu", "selu"):
        alpha = float(params.get("alpha", 1.0)) if name == "elu" else ops.SELU_ALPHA
        if native:
            if name == "elu":
                return node("Elu", n, alpha=alpha)
            return node("Selu", n, alpha=ops.SELU_ALPHA, gamma=ops.SELU_SCALE)
        expm1 = node("Sub", node("Exp", node("Min", n, c(0.0))), c(1.0))
        y = node("Where", node("Greater", n, c(0.0)), n, node("Mul", c(alpha), expm1))
        return y if name == "elu" else node("Mul", c(ops.SELU_SCALE), y)
    if name == "gelu":
        half_x = node("Mul", c(0.5), n)
        if params.get("approximate", False):
            cube = node("Mul", node("Mul", n, n), n)
            inner = node("Mul", c(math.sqrt(2.0 / math.pi)), node("Add", n, node("Mul", c(0.044715), cube)))
            return node("Mul", half_x, node("Add", c(1.0), node("Tanh", inner)))
        erf = node("Erf", node("Div", n, c(math.sqrt(2.0))))
        return node("Mul", half_x, node("Add", c(1.0), erf))
    if name in ("sigmoid", "tanh", "softplus"):
        return node({"sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus"}[name], n)
    if name == "silu":
        return node("Mul", n, node("Sigmoid", n))
    if name == "mish":
        return node("Mul", n, node("Tanh", node("Softplus", n)))
    if name == "log_sigmoid":
        return node("Neg", node("Softplus", node("Neg", n)))
    if name in ("hard_sigmoid", "hard_silu"):
        if native:
            if name == "hard_silu":
                return node("HardSwish", n)
            return node("HardSigmoid", n, alpha=1.0 / 6.0, beta=0.5)
        shifted = node("Add", node("Mul", n, c(1.0 / 6.0)), c(0.5))
        hard = node("Clip", shifted, c(0.0), c(1.0))
        return hard if name == "hard_sigmoid" else node("Mul", n, hard)
    raise AssertionError(f"activation {name!r} has no ONNX form")  # every built-in one is above


def relu(graph, x: Value, negative_slope=0.0, max_value=None, threshold=0.0, **_) -> str:
    """Keras' relu: min(x, max_value) where x > threshold, else negative_slope * (x - threshold)."""
    n, dtype = x.name, x.dtype
    slope, top, t = float(negative_slope), max_value, float(threshold)

    def c(value):
        return graph.const(value, dtype)

    if slope == 0.0 and t == 0.0:
        if top is None:
            return graph.node("Relu", [n], "relu")
        return graph.node("Clip", [n, c(0.0), c(float(top))], "relu")
    if t == 0.0 and dtype == "float32":
        y = graph.node("LeakyRelu", [n], "relu", alpha=slope)
    else:
        below = graph.node("LessOrEqual", [n, c(t)], "relu")
        low = (
            c(0.0)
            if slope == 0.0
            else graph.node("Mul", [c(slope), graph.node("Sub", [n, c(t)], "relu")], "relu")
        )
        y = graph.node("Where", [below, low, n], "relu")
    return y if top is None else graph.node("Min", [y, c(float(top))], "relu")


def softmax(graph, x: Value, axis) -> Value:
    """exp(x - max) / sum along ``axis`` (an int or a tuple of ints) of the logical tensor."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    physical = sorted({x.axis(int(a)) for a in axes})
    if len(physical) == 1:
        y = graph.node("Softmax", [x.name], "softmax", axis=physical[0])
    else:
        shifted = graph.node(
            "Sub", [x.name, graph.reduce("ReduceMax", x.name, physical, hint="softmax")], "softmax"
        )
        e = graph.node("Exp", [shifted], "softmax")
        y = graph.node("Div", [e, graph.reduce("ReduceSum", e, physical, hint="softmax")], "softmax")
    return Value(y, x.perm, x.dtype, x.shape)
