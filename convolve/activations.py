"""Keras 3's activation functions (``keras.activations``): the public, Keras-named surface.

    from convolve import activations
    y = activations.relu(x, max_value=6.0)
    fn = activations.get("gelu")            # a name, a callable, or None ('linear')

The arithmetic lives in ``convolve.ops.activations`` (forward and backward side by side);
each function here calls it through ``convolve.autograd.activation``, so

* on arrays (anything array-like) it returns a new array of x's shape, float dtype kept
  (integer input becomes float32); the caller's array is never modified;
* inside a ``GradientTape``, on a recorded Tensor or a Variable, it returns a recorded
  Tensor, and gradients flow back through it.

Functions with an op of their own: relu, leaky_relu, elu, selu, gelu, sigmoid, tanh,
softmax, softplus, linear. Keras' other activations that are short compositions of those
ops are composed here from the recorded ops (so they have gradients too):

    relu6         relu(x, max_value=6)
    silu, swish   x * sigmoid(x)
    hard_sigmoid  relu(x / 6 + 1/2, max_value=1): 0 for x <= -3, 1 for x >= 3
    hard_silu     x * hard_sigmoid(x)        (also named hard_swish)
    mish          x * tanh(softplus(x))
    log_sigmoid   -softplus(-x)

``linear`` returns its input itself (a float array, Tensor or Variable), as Keras does.
``get``, ``serialize`` and ``deserialize`` map between names and functions; ``get``
accepts every name that the layers' ``activation=`` argument accepts (the names of
``ops.activations.ACTIVATIONS``) and the compositions above.
"""
from __future__ import annotations

import numpy as np

from . import autograd
from .autograd import Tensor
from .backend import as_float_array
from .ops import activations as ops
from .variables import Variable


def _input(x, name):
    """A Tensor or Variable as is (so the tape sees it); anything else as a float array."""
    if isinstance(x, (Tensor, Variable)):
        return x
    return as_float_array(x, where=f"activations.{name}", name="x")


def _constant(x, c):
    """The number ``c`` as a 0-d array of x's dtype (so a float32 x stays float32)."""
    return np.asarray(c, dtype=autograd.value(x).dtype)


# ---- activations with an op of their own -----------------------------------------------------


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: ``min(x, max_value)`` where ``x > threshold``, else
    ``negative_slope * (x - threshold)``; the defaults give ``max(x, 0)``."""
    return autograd.activation(
        _input(x, "relu"), ops.relu, negative_slope=negative_slope, max_value=max_value, threshold=threshold,
        where="activations.relu",
    )


def leaky_relu(x, negative_slope=0.2):
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    return autograd.activation(
        _input(x, "leaky_relu"), ops.leaky_relu, negative_slope=negative_slope, where="activations.leaky_relu"
    )


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return autograd.activation(_input(x, "elu"), ops.elu, alpha=alpha, where="activations.elu")


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with Klambauer et al.'s alpha ~1.6733 and scale ~1.0507."""
    return autograd.activation(_input(x, "selu"), ops.selu, where="activations.selu")


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate=True`` uses the tanh form."""
    return autograd.activation(_input(x, "gelu"), ops.gelu, approximate=approximate, where="activations.gelu")


def sigmoid(x):
    """``1 / (1 + exp(-x))``, without overflow for any x."""
    return autograd.activation(_input(x, "sigmoid"), ops.sigmoid, where="activations.sigmoid")


def tanh(x):
    """The hyperbolic tangent."""
    return autograd.activation(_input(x, "tanh"), ops.tanh, where="activations.tanh")


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``: each slice becomes a probability distribution."""
    return autograd.activation(_input(x, "softmax"), ops.softmax, axis=axis, where="activations.softmax")


def softplus(x):
    """``log(exp(x) + 1)``, without overflow."""
    return autograd.activation(_input(x, "softplus"), ops.softplus, where="activations.softplus")


def linear(x):
    """The identity: returns ``x`` itself (array-likes as a float array; integers become float32)."""
    if isinstance(x, (Tensor, Variable)):
        return x
    return ops.linear(x, where="activations.linear")


# ---- compositions of the recorded ops ----------------------------------------------------------


def relu6(x):
    """``min(max(x, 0), 6)``."""
    return autograd.activation(_input(x, "relu6"), ops.relu, max_value=6.0, where="activations.relu6")


def silu(x):
    """Swish / SiLU: ``x * sigmoid(x)``."""
    x = _input(x, "silu")
    return autograd.multiply(x, autograd.activation(x, ops.sigmoid, where="activations.silu"))


swish = silu  # Keras exports the same function under both names


def hard_sigmoid(x):
    """A piecewise-linear sigmoid: 0 for ``x <= -3``, 1 for ``x >= 3``, ``x / 6 + 0.5`` between."""
    x = _input(x, "hard_sigmoid")
    shifted = autograd.add(autograd.multiply(x, _constant(x, 1.0 / 6.0)), _constant(x, 0.5))
    return autograd.activation(shifted, ops.relu, max_value=1.0, where="activations.hard_sigmoid")


def hard_silu(x):
    """Hard swish / hard SiLU: ``x * hard_sigmoid(x)``."""
    x = _input(x, "hard_silu")
    return autograd.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu  # Keras exports the same function under both names


def mish(x):
    """``x * tanh(softplus(x))`` (Misra, 2019)."""
    x = _input(x, "mish")
    smooth = autograd.activation(x, ops.softplus, where="activations.mish")
    return autograd.multiply(x, autograd.activation(smooth, ops.tanh, where="activations.mish"))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, accurate for every x (no log of a rounded 0 or 1)."""
    x = _input(x, "log_sigmoid")
    minus_one = _constant(x, -1.0)
    softplus_of_minus_x = autograd.activation(
        autograd.multiply(x, minus_one), ops.softplus, where="activations.log_sigmoid"
    )
    return autograd.multiply(softplus_of_minus_x, minus_one)


# ---- how layers and the tape use them -------------------------------------------------------------
# A function that is exactly one op with that op's defaults names it (``relu.op is ops.relu``): a
# layer given ``activations.relu`` then runs the op itself, keeping the training fast paths (the
# in-place relu, softmax fused with cross-entropy). The compositions record themselves: the tape
# calls them on the recorded tensor (``records_itself``).
for _fn in (relu, leaky_relu, elu, selu, gelu, sigmoid, tanh, softmax, softplus, linear):
    _fn.op = getattr(ops, _fn.__name__)
for _fn in (relu6, silu, hard_sigmoid, hard_silu, mish, log_sigmoid):
    _fn.records_itself = True
del _fn

# ---- names ---------------------------------------------------------------------------------------

#: name -> function: every name ``get`` and ``deserialize`` accept (Keras' ALL_OBJECTS_DICT).
ACTIVATIONS = {
    fn.__name__: fn
    for fn in (
        relu, leaky_relu, relu6, elu, selu, gelu, sigmoid, hard_sigmoid, tanh, softmax, softplus,
        silu, hard_silu, mish, log_sigmoid, linear,
    )
}
ACTIVATIONS["swish"] = silu
ACTIVATIONS["hard_swish"] = hard_silu


def _known() -> str:
    return "{" + ", ".join(repr(name) for name in sorted(ACTIVATIONS)) + "}"


def get(identifier, where=None):
    """The activation function for ``identifier``: a name (``'relu'``, ``'swish'``...), a
    ``{'class_name': 'function', 'config': name}`` dict (Keras' serialized form), a callable
    (returned as is), or None (``linear``). ``where`` (a layer) is named in the error."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in ACTIVATIONS:
            return ACTIVATIONS[identifier]
    elif callable(identifier):
        return identifier
    if where is not None:
        raise ValueError(
            f"{where}: unknown activation; expected one of {_known()}, None or a callable. "
            f"Received: activation={identifier!r}"
        )
    raise ValueError(
        f"activations.get: could not interpret the activation identifier; expected one of {_known()}, "
        f"a callable or None. Received: identifier={identifier!r}"
    )


def serialize(activation) -> str:
    """The name of a built-in activation (``swish`` gives ``'silu'``, its function's name).
    The layers' own activation functions (``convolve.ops.activations``) give their names too."""
    name = getattr(activation, "__name__", None)
    builtin = (ACTIVATIONS.get(name), ops.ACTIVATIONS.get(name)) if isinstance(name, str) else ()
    if any(activation is fn for fn in builtin):
        return name
    raise ValueError(
        f"activations.serialize: only the built-in activations {_known()} can be serialized by name; "
        f"pass a custom function to layers as the function itself. Received: activation={activation!r}"
    )


def deserialize(config, custom_objects=None):
    """The function named by ``config``: a name, or Keras' ``{'class_name': 'function',
    'config': name}`` dict. ``custom_objects`` (name -> function) is searched first."""
    name = config
    if isinstance(config, dict):
        name = config.get("config")
        if config.get("class_name") != "function" or not isinstance(name, str):
            raise ValueError(
                "activations.deserialize: a serialized activation dict must be "
                "{'class_name': 'function', 'config': <name>, ...}. "
                f"Received: config={config!r}"
            )
    if not isinstance(name, str):
        raise TypeError(
            "activations.deserialize: `config` must be an activation name or a serialized activation dict. "
            f"Received: config={config!r}"
        )
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    custom = f" or custom_objects {sorted(custom_objects)}" if custom_objects else ""
    raise ValueError(
        f"activations.deserialize: unknown activation {name!r}; expected one of {_known()}{custom}. "
        f"Received: config={config!r}"
    )


__all__ = sorted(ACTIVATIONS) + ["deserialize", "get", "serialize"]
