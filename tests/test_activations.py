"""convolve.activations, Keras 3's public activation module: every function against a
written-out definition (math per element) in float32 and float64, recording inside a
GradientTape (finite differences), get/serialize/deserialize and their error messages.
The numerics of the ops themselves are tested in tests/ops/test_activations.py."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from convolve import activations
from convolve.autograd import GradientTape, Tensor
from convolve.layers import Dense
from convolve.ops import activations as act_ops
from convolve.variables import Variable
from tests.helpers import requires_torch, torch

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _softplus(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


def _hard_sigmoid(v):
    return 0.0 if v <= -3 else 1.0 if v >= 3 else v / 6 + 0.5


#: name -> the definition of one element (math only), Keras' docstrings' formulas
SCALAR_DEFINITIONS = {
    "relu": lambda v: max(v, 0.0),
    "leaky_relu": lambda v: v if v > 0 else 0.2 * v,
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "elu": lambda v: v if v > 0 else math.exp(v) - 1,
    "selu": lambda v: SELU_SCALE * (v if v > 0 else SELU_ALPHA * (math.exp(v) - 1)),
    "gelu": lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))),
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    "hard_sigmoid": _hard_sigmoid,
    "tanh": math.tanh,
    "softplus": _softplus,
    "silu": lambda v: v / (1 + math.exp(-v)),
    "swish": lambda v: v / (1 + math.exp(-v)),
    "hard_silu": lambda v: v * _hard_sigmoid(v),
    "hard_swish": lambda v: v * _hard_sigmoid(v),
    "mish": lambda v: v * math.tanh(_softplus(v)),
    "log_sigmoid": lambda v: -_softplus(-v),
    "linear": lambda v: v,
}
TOLERANCE = {"float32": dict(rtol=2e-6, atol=1e-7), "float64": dict(rtol=1e-13, atol=1e-15)}
#: a grid over every kink (0, +-3, 6) and both tails
POINTS = np.array([-9.0, -6.0, -3.0, -2.5, -1.0, -0.3, 0.0, 0.2, 1.0, 2.9, 3.0, 4.5, 6.0, 7.5, 12.0])


def elementwise(fn, x):
    """``fn`` applied to every element of ``x`` in float64 (a loop)."""
    out = np.empty(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        out[index] = fn(float(x[index]))
    return out


def softmax_loop(x, axis):
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape[:-1]):
        exps = [math.exp(v) for v in x[index]]
        out[index] = [e / sum(exps) for e in exps]
    return np.moveaxis(out, -1, axis)


def test_every_keras_name_is_defined_here():
    assert set(activations.ACTIVATIONS) == set(SCALAR_DEFINITIONS) | {"softmax"}
    assert activations.swish is activations.silu and activations.hard_swish is activations.hard_silu


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SCALAR_DEFINITIONS))
def test_elementwise_activations_match_the_definition(name, dtype):
    x = np.concatenate([POINTS, np.random.default_rng(0).normal(scale=4.0, size=20)])
    x = x.astype(dtype).reshape(5, 7)
    before = x.copy()
    out = getattr(activations, name)(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.dtype(dtype) and out.shape == x.shape
    np.testing.assert_allclose(out, elementwise(SCALAR_DEFINITIONS[name], x), **TOLERANCE[dtype])
    np.testing.assert_array_equal(x, before)  # the caller's array is untouched
    ints = getattr(activations, name)([[-2, 0, 3]])
    assert ints.dtype == np.float32
    expected = elementwise(SCALAR_DEFINITIONS[name], np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_allclose(ints, expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_matches_the_definition(axis, dtype):
    x = np.random.default_rng(1).normal(scale=3.0, size=(3, 4, 5)).astype(dtype)
    out = activations.softmax(x, axis=axis)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, softmax_loop(x, axis), **TOLERANCE[dtype])
    last = softmax_loop(x, -1)
    np.testing.assert_allclose(activations.softmax(x), last, **TOLERANCE[dtype])  # the default axis


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_arguments_match_the_definition(dtype):
    x = POINTS.astype(dtype)
    cases = [
        (lambda v: activations.relu(v, negative_slope=0.5), lambda v: v if v > 0 else 0.5 * v),
        (lambda v: activations.relu(v, max_value=5.0), lambda v: min(max(v, 0.0), 5.0)),
        (lambda v: activations.relu(v, threshold=2.5), lambda v: v if v > 2.5 else 0.0),
        (lambda v: activations.relu(v, negative_slope=0.1, max_value=4.0, threshold=1.0),
         lambda v: min(v, 4.0) if v > 1.0 else 0.1 * (v - 1.0)),
        (lambda v: activations.leaky_relu(v, negative_slope=0.01), lambda v: v if v > 0 else 0.01 * v),
        (lambda v: activations.elu(v, alpha=0.5), lambda v: v if v > 0 else 0.5 * (math.exp(v) - 1)),
        (lambda v: activations.gelu(v, approximate=True),
         lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))),
    ]
    for fn, definition in cases:
        out = fn(x)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(out, elementwise(definition, x), **TOLERANCE[dtype])


def test_keras_relu_examples():
    x = [-10, -5, 0.0, 5, 10]
    np.testing.assert_array_equal(activations.relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(activations.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(activations.relu(x, threshold=5.0), [0, 0, 0, 0, 10])


def test_linear_returns_its_input_itself():
    x = np.ones(3, dtype=np.float64)
    assert activations.linear(x) is x
    v = Variable(np.ones(2), "v")
    assert activations.linear(v) is v
    assert activations.linear([1, 2]).dtype == np.float32


def test_argument_errors_name_the_public_function():
    with pytest.raises(ValueError, match=r"^activations.relu: the `negative_slope` argument must be a finite "
                                         r"number >= 0. Received: negative_slope=-1$"):
        activations.relu(np.ones(2), negative_slope=-1)
    with pytest.raises(TypeError, match=r"^activations.mish expected a numeric array \(integer or float\) "
                                        r"for x. Received: x with dtype=<U1$"):
        activations.mish(["a"])


# ---- inside a GradientTape -----------------------------------------------------------------------


def finite_difference(fn, x, weights, eps=1e-6):
    """d sum(weights * fn(x)) / dx by central differences."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (np.sum(weights * fn(up)) - np.sum(weights * fn(down))) / (2 * eps)
    return grad


RECORDED = sorted(set(activations.ACTIVATIONS) - {"linear"})


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_in_a_tape_with_the_right_gradient(name):
    fn = activations.get(name)
    rng = np.random.default_rng(2)
    x = np.array([[-7.3, -3.4, -2.1, -0.7, -0.2], [0.3, 1.4, 2.6, 3.7, 6.6]])  # 1e-3 or more from any kink
    weights = rng.normal(size=x.shape)
    variable = Variable(x.copy(), "x")
    with GradientTape() as tape:
        y = fn(variable)
        assert isinstance(y, Tensor) and y.dtype == np.float64
    (grad,) = tape.gradient(y, [variable], output_gradient=weights)
    np.testing.assert_allclose(grad, finite_difference(fn, x, weights), rtol=1e-7, atol=1e-9)
    with GradientTape():  # arrays are constants: nothing to record
        assert isinstance(fn(x), np.ndarray)


def test_linear_in_a_tape_passes_the_tensor_through():
    variable = Variable(np.array([1.0, -2.0]), "x")
    with GradientTape() as tape:
        h = activations.relu(variable)
        y = activations.linear(h)
    assert y is h
    (grad,) = tape.gradient(y, [variable])
    np.testing.assert_array_equal(grad, [1.0, 0.0])


# ---- get, serialize, deserialize -----------------------------------------------------------------


def test_get_names_callables_and_none():
    for name, fn in activations.ACTIVATIONS.items():
        assert activations.get(name) is fn
    assert activations.get("swish") is activations.silu
    assert activations.get(None) is activations.linear
    custom = lambda v: 2 * v  # noqa: E731
    assert activations.get(custom) is custom
    assert activations.get(act_ops.relu) is act_ops.relu
    assert activations.get({"class_name": "function", "config": "gelu", "module": "keras.activations"}) is \
        activations.gelu


def test_get_accepts_every_name_the_layers_accept():
    x = np.random.default_rng(3).normal(size=(4, 3))
    for name in act_ops.ACTIVATIONS:
        np.testing.assert_array_equal(activations.get(name)(x), act_ops.get(name)(x))


def test_get_errors():
    known = re.escape("{" + ", ".join(repr(n) for n in sorted(activations.ACTIVATIONS)) + "}")
    with pytest.raises(ValueError, match=r"^activations.get: could not interpret the activation identifier; "
                                         rf"expected one of {known}, a callable or None. "
                                         r"Received: identifier='relu7'$"):
        activations.get("relu7")
    with pytest.raises(ValueError, match=r"Received: identifier=3$"):
        activations.get(3)


def test_serialize_and_deserialize_round_trip():
    for name, fn in activations.ACTIVATIONS.items():
        assert activations.serialize(fn) == fn.__name__
        assert activations.deserialize(activations.serialize(fn)) is fn
        assert activations.deserialize(name) is fn
    assert activations.serialize(activations.swish) == "silu"  # Keras: swish is silu
    assert activations.serialize(act_ops.softmax) == "softmax"  # what layers hold
    custom = lambda v: v  # noqa: E731
    assert activations.deserialize("mine", custom_objects={"mine": custom}) is custom
    assert activations.deserialize("relu", custom_objects={"relu": custom}) is custom  # searched first
    assert activations.deserialize({"class_name": "function", "config": "tanh"}) is activations.tanh


def test_serialize_and_deserialize_errors():
    known = re.escape("{" + ", ".join(repr(n) for n in sorted(activations.ACTIVATIONS)) + "}")
    with pytest.raises(ValueError, match=rf"^activations.serialize: only the built-in activations {known} "
                                         r"can be serialized by name; pass a custom function to layers as "
                                         r"the function itself. Received: activation=<function .*<lambda>"):
        activations.serialize(lambda v: v)
    with pytest.raises(ValueError, match=r"Received: activation='relu'$"):
        activations.serialize("relu")
    unknown = r"^activations.deserialize: unknown activation 'relu7'; expected one of "
    with pytest.raises(ValueError, match=rf"{unknown}{known}. Received: config='relu7'$"):
        activations.deserialize("relu7")
    with pytest.raises(ValueError, match=rf"{unknown}{known} or custom_objects \['mine'\]. "
                                         r"Received: config='relu7'$"):
        activations.deserialize("relu7", custom_objects={"mine": abs})
    with pytest.raises(ValueError, match=r"^activations.deserialize: a serialized activation dict must be "
                                         r"\{'class_name': 'function', 'config': <name>, ...\}. "
                                         r"Received: config=\{'class_name': 'ReLU', 'config': \{\}\}$"):
        activations.deserialize({"class_name": "ReLU", "config": {}})
    with pytest.raises(TypeError, match=r"^activations.deserialize: `config` must be an activation name or a "
                                        r"serialized activation dict. Received: config=3$"):
        activations.deserialize(3)


def test_a_public_activation_passed_to_a_layer_computes_the_same_outside_a_tape():
    x = np.random.default_rng(4).normal(size=(5, 3))
    by_name = Dense(4, activation="relu")
    by_function = Dense(4, activation=activations.relu)
    by_name.build((None, 3))
    by_function.build((None, 3))
    by_function.set_weights(by_name.get_weights())
    expected = by_name(x)
    assert np.any(expected > 0) and np.any(expected == 0)
    np.testing.assert_array_equal(by_function(x), expected)


@requires_torch
def test_compositions_match_torch():
    t = torch()
    x = np.random.default_rng(5).normal(scale=4.0, size=(6, 7))
    tx = t.from_numpy(x)
    functional = t.nn.functional
    pairs = {
        "relu6": functional.relu6, "silu": functional.silu, "hard_sigmoid": functional.hardsigmoid,
        "hard_silu": functional.hardswish, "mish": functional.mish, "log_sigmoid": functional.logsigmoid,
        "gelu": functional.gelu, "selu": functional.selu, "elu": functional.elu,
        "softplus": functional.softplus,
    }
    for name, reference in pairs.items():
        np.testing.assert_allclose(activations.get(name)(x), reference(tx).numpy(), rtol=1e-12, atol=1e-14)
