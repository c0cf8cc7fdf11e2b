"""convolve.autograd: tape lifetime (non-persistent tapes free what they saved), gradients for
intermediate sources, and the layers' in-place relu on their own fresh outputs."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from convolve import autograd
from convolve.autograd import GradientTape, Tensor
from convolve.layers import Activation, Conv2D, Conv2DTranspose, Dense, DepthwiseConv2D, SeparableConv2D
from convolve.ops import activations
from convolve.variables import Variable
from tests.helpers import assert_close


def small_graph(rng, tape):
    """Records v (a Variable) -> t1 = v * c -> relu(t1) -> t3 = relu(t1) * d on ``tape``;
    returns v, c, d, t1, t3."""
    v = Variable(rng.standard_normal((4, 5)), name="v")
    c, d = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    with tape:
        t1 = autograd.multiply(v, c)
        t3 = autograd.multiply(autograd.activation(t1, activations.relu), d)
    return v, c, d, t1, t3


def test_a_non_persistent_tape_computes_once_and_frees_the_saved_arrays():
    rng = np.random.default_rng(0)
    tape = GradientTape()
    v, c, d, t1, t3 = small_graph(rng, tape)
    saved = weakref.ref(t1.value)  # held by the relu's backward and by the graph's links
    del t1
    gc.collect()
    assert saved() is not None
    (grad,) = tape.gradient(t3, [v])
    gc.collect()
    assert saved() is None  # let go as soon as the relu's backward had run
    np.testing.assert_allclose(grad, d * (v.value * c > 0) * c)
    with pytest.raises(
        RuntimeError,
        match=r"GradientTape.gradient: a non-persistent GradientTape can compute gradients only once; use "
        r"GradientTape\(persistent=True\) to call gradient\(\) several times. Received: a second call",
    ):
        tape.gradient(t3, [v])


def test_a_persistent_tape_keeps_the_graph_for_several_calls():
    rng = np.random.default_rng(1)
    tape = GradientTape(persistent=True)
    v, c, d, t1, t3 = small_graph(rng, tape)
    first = tape.gradient(t3, [v])[0]
    second = tape.gradient(t3, [v], output_gradient=2 * np.ones((4, 5)))[0]
    np.testing.assert_allclose(first, d * (v.value * c > 0) * c)
    np.testing.assert_allclose(second, 2 * first)
    with pytest.raises(
        TypeError,
        match=r"GradientTape: the `persistent` argument must be True or False. Received: persistent='yes'",
    ):
        GradientTape(persistent="yes")


def test_an_intermediate_tensor_gets_its_gradient():
    rng = np.random.default_rng(2)
    tape = GradientTape()
    v, c, d, t1, t3 = small_graph(rng, tape)
    g_t1, g_v = tape.gradient(t3, [t1, v])
    np.testing.assert_allclose(g_t1, d * (t1.value > 0))
    np.testing.assert_allclose(g_v, g_t1 * c)


def test_inplace_relu_overwrites_only_a_fresh_array_and_keeps_gradients():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    leaf = Tensor(x.copy())
    with GradientTape() as tape:
        fresh = autograd.multiply(leaf, np.ones((3, 4)))  # a new array, as a conv's output is
        y = autograd.activation(fresh, activations.relu, inplace=True)
    assert y.value is fresh.value  # overwritten, not copied
    np.testing.assert_array_equal(y.value, np.maximum(x, 0))
    g = rng.standard_normal((3, 4))
    (gx,) = tape.gradient(y, [leaf], output_gradient=g)
    np.testing.assert_array_equal(gx, g * (x > 0))
    # other activations, and relu with arguments, never write in place
    z = x.copy()
    out = autograd.activation(z, activations.tanh, inplace=True)
    np.testing.assert_array_equal(z, x)
    np.testing.assert_allclose(out, np.tanh(x))
    out = autograd.activation(z, activations.relu, inplace=True, negative_slope=0.1)
    np.testing.assert_array_equal(z, x)
    np.testing.assert_allclose(out, np.where(x > 0, x, 0.1 * x))


def test_is_fresh_sees_shared_memory():
    a = np.zeros((4, 4))
    assert autograd.is_fresh(np.zeros(3), a, None)
    assert not autograd.is_fresh(a[1:], a)
    assert not autograd.is_fresh(a, Variable(a, name="w"))
    assert not autograd.is_fresh(a.reshape(16), Tensor(a))


@pytest.mark.parametrize(
    "make",
    [
        lambda act: Conv2D(3, 3, activation=act, dtype="float64", bias_initializer="random_normal"),
        lambda act: DepthwiseConv2D(
            3, depth_multiplier=2, activation=act, dtype="float64", bias_initializer="random_normal"
        ),
        lambda act: SeparableConv2D(3, 3, activation=act, dtype="float64", bias_initializer="random_normal"),
        lambda act: Conv2DTranspose(
            3, 3, strides=2, activation=act, dtype="float64", bias_initializer="random_normal"
        ),
        lambda act: Dense(5, activation=act, dtype="float64", bias_initializer="random_normal"),
    ],
)
def test_layers_with_relu_match_the_layer_then_a_separate_relu(make):
    """A layer's built-in relu runs in place on the layer's fresh output; outputs and every
    gradient equal those of the same layer without activation followed by Activation('relu')."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 6, 6, 2))
    fused, plain = make("relu"), make(None)
    relu = Activation("relu", dtype="float64")
    fused(x)
    plain(x)
    plain.set_weights(fused.get_weights())
    x_before = x.copy()
    y_fused = fused(x)
    np.testing.assert_array_equal(y_fused, relu(plain(x)))  # inference (no tape)
    np.testing.assert_array_equal(x, x_before)
    g = rng.standard_normal(y_fused.shape)
    results = []
    for layers in ([fused], [plain, relu]):
        xt = Tensor(x.copy())
        with GradientTape() as tape:
            y = xt
            for layer in layers:
                y = layer(y, training=True)
        results.append((y.value, tape.gradient(y, [xt, *layers[0].trainable_weights], output_gradient=g)))
    (y1, grads1), (y2, grads2) = results
    np.testing.assert_array_equal(y1, y2)
    for a, b in zip(grads1, grads2):
        assert_close(a, b)
