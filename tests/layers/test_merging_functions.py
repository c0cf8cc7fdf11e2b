"""Keras' lowercase functional forms of the merging layers (convolve/layers/merging.py):
``add(inputs, **kwargs)`` is ``Add(**kwargs)(inputs)`` and so on, on arrays (against
written-out definitions, float32 and float64) and on symbolic tensors (a model built with
them equals one built with the classes)."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import layers
from convolve.autograd import GradientTape, Tensor
from convolve.layers import (
    Add,
    Average,
    Concatenate,
    Dense,
    Input,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    clear_session,
)
from convolve.layers.symbolic import KerasTensor
from convolve.models import Model


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def _elementwise(xs, combine):
    """The merge written out: one loop over every position of the (common) shape."""
    out = np.empty_like(xs[0])
    for index in np.ndindex(out.shape):
        out[index] = combine([float(x[index]) for x in xs])
    return out


DEFINITIONS = {
    "add": (lambda values: sum(values), 3),
    "subtract": (lambda values: values[0] - values[1], 2),
    "multiply": (lambda values: float(np.prod(values)), 3),
    "average": (lambda values: sum(values) / len(values), 3),
    "maximum": (lambda values: max(values), 3),
    "minimum": (lambda values: min(values), 3),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_elementwise_helpers_on_arrays_match_the_definition(name, dtype):
    combine, n = DEFINITIONS[name]
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(3, 4, 2)).astype(dtype) for _ in range(n)]
    out = getattr(layers, name)(xs, dtype=dtype)
    assert isinstance(out, np.ndarray) and out.dtype == np.dtype(dtype) and out.shape == (3, 4, 2)
    rtol = 1e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(out, _elementwise(xs, combine), rtol=rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_concatenate_on_arrays_matches_the_definition(dtype):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 3, 4)).astype(dtype), rng.normal(size=(2, 3, 1)).astype(dtype)
    out = layers.concatenate([a, b], dtype=dtype)
    expected = np.empty((2, 3, 5), dtype=dtype)
    for i, j in np.ndindex(2, 3):
        expected[i, j] = list(a[i, j]) + list(b[i, j])
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, expected)
    c = rng.normal(size=(2, 2, 4)).astype(dtype)
    along_1 = layers.concatenate([a, c], axis=1, dtype=dtype)
    np.testing.assert_array_equal(along_1[:, :3], a)
    np.testing.assert_array_equal(along_1[:, 3:], c)


def test_helpers_pass_their_arguments_to_the_layer():
    x = Input((4,))
    y = layers.add([x, x], name="joined")
    assert isinstance(y, KerasTensor) and type(y.layer) is Add and y.layer.name == "joined"
    z = layers.concatenate([x, x], axis=1, name="wide", dtype="float64")
    assert z.shape == (None, 8) and z.layer.axis == 1 and z.layer.dtype == "float64"
    assert layers.concatenate([x, x], -1).layer.axis == -1  # axis is the second positional argument
    for name, cls in [("subtract", Subtract), ("multiply", Multiply), ("average", Average),
                      ("maximum", Maximum), ("minimum", Minimum), ("concatenate", Concatenate)]:
        assert type(getattr(layers, name)([x, x]).layer) is cls
    with pytest.raises(TypeError, match=r"Unrecognized keyword argument\(s\) passed to Add: \['axis'\]"):
        layers.add([x, x], axis=1)
    with pytest.raises(ValueError, match=r"Subtract 'subtract_1': a Subtract layer must be called on exactly "
                                         r"2 inputs. Received: 3 inputs"):
        layers.subtract([x, x, x])


MERGES = ("add", "subtract", "multiply", "average", "maximum", "minimum")


def _graph(merge, concat):
    """Two Dense branches merged six ways, then joined: the same graph from either API."""
    x = Input((4,), name="x")
    a, b = Dense(3, name="a")(x), Dense(3, name="b")(x)
    merged = [merge[name]([a, b]) for name in MERGES]
    return Model(x, Dense(2, name="head")(concat(merged)))


def test_a_model_built_with_the_helpers_equals_one_built_with_the_classes():
    classes = {"add": Add(), "subtract": Subtract(), "multiply": Multiply(), "average": Average(),
               "maximum": Maximum(), "minimum": Minimum()}
    by_class = _graph(classes, Concatenate(axis=-1))
    clear_session()
    helpers = {name: getattr(layers, name) for name in classes}
    by_helper = _graph(helpers, lambda xs: layers.concatenate(xs, axis=-1))
    assert [type(layer) for layer in by_helper.layers] == [type(layer) for layer in by_class.layers]
    assert [layer.name for layer in by_helper.layers] == [layer.name for layer in by_class.layers]
    assert by_helper.output_shape == by_class.output_shape == (None, 2)
    by_helper.set_weights(by_class.get_weights())
    x = np.random.default_rng(3).normal(size=(5, 4))
    np.testing.assert_array_equal(by_helper.predict(x, verbose=0), by_class.predict(x, verbose=0))
    expected = by_class.predict(x, verbose=0)
    assert expected.shape == (5, 2) and np.all(np.isfinite(expected)) and np.any(expected != 0)


def test_helpers_record_gradients_for_every_input():
    a, b = np.array([[1.0, -2.0]]), np.array([[3.0, 0.5]])
    dense = Dense(2, dtype="float64")
    dense.build((None, 2))
    with GradientTape() as tape:
        h = dense(a)
        y = layers.multiply([h, b], dtype="float64")
    assert isinstance(y, Tensor)
    (grad_kernel,) = tape.gradient(y, [dense.kernel])
    # d sum(h * b) / d kernel[i, j] = a[0, i] * b[0, j]
    np.testing.assert_allclose(grad_kernel, a.T @ b, rtol=1e-12)
