"""Layers take convolve.activations' functions and every name that module knows, and train
with them (convolve/activations.py: ``fn.op`` and ``records_itself``; autograd.activation)."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import activations
from convolve import layers as L
from convolve.autograd import GradientTape
from convolve.models import Sequential
from convolve.utils import set_random_seed


def one_step(activation, loss="sparse_categorical_crossentropy"):
    set_random_seed(0)
    model = Sequential([L.Input((6, 6, 1)), L.Conv2D(3, 3, activation=activation), L.Flatten(),
                        L.Dense(3, activation="softmax")])
    model.compile("sgd", loss)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 6, 6, 1)).astype("float32"), np.arange(8) % 3
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


@pytest.mark.parametrize("name", ["relu", "elu", "gelu", "sigmoid", "tanh", "softplus", "selu", "leaky_relu"])
def test_a_public_function_trains_exactly_as_its_name(name):
    by_name, by_function = one_step(name), one_step(getattr(activations, name))
    for a, b in zip(by_name.weights, by_function.weights, strict=True):
        np.testing.assert_array_equal(a.value, b.value, err_msg=a.path)


def test_a_public_softmax_is_still_fused_with_cross_entropy():
    set_random_seed(0)
    model = Sequential([L.Input((4,)), L.Dense(3, activation=activations.softmax)])
    with GradientTape():
        out = model(np.ones((2, 4), np.float32), training=True)
    assert out.op == "softmax"  # what the training loop looks for to fuse


@pytest.mark.parametrize(
    "name", ["mish", "silu", "swish", "relu6", "hard_sigmoid", "hard_silu", "log_sigmoid"]
)
def test_compositions_work_in_layers_with_gradients_that_match_finite_differences(name):
    set_random_seed(1)
    layer = L.Dense(2, activation=name, dtype="float64")
    x = np.random.default_rng(2).normal(size=(3, 4))
    layer(x)  # build
    with GradientTape() as tape:
        y = layer(x)
    (grad,) = tape.gradient(y, [layer.kernel])
    kernel, eps = layer.kernel.value.copy(), 1e-6
    numeric = np.zeros_like(kernel)
    for index in np.ndindex(kernel.shape):
        for sign in (1, -1):
            shifted = kernel.copy()
            shifted[index] += sign * eps
            layer.kernel.assign(shifted)
            numeric[index] += sign * np.sum(layer(x)) / (2 * eps)
    layer.kernel.assign(kernel)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_a_composition_round_trips_through_the_layer_config():
    layer = L.Conv2D(2, 3, activation="mish")
    again = L.Conv2D.from_config(layer.get_config())
    assert again.activation is activations.mish


def test_unknown_names_list_every_known_one():
    with pytest.raises(
        ValueError,
        match=r"Conv2D 'c': unknown activation; expected one of \{.*'mish'.*\}, None or "
        r"a callable. Received: activation='mishy'",
    ):
        L.Conv2D(2, 3, activation="mishy", name="c")
