"""GradientTape.watch: gradients with respect to input arrays, checked against central finite
differences in float64 on conv/pool/dense/activation chains (the ops directly, and models called
on the watched Tensor); the watched array is never written to; persistent and non-persistent
tapes behave as for Variables; watch_accessed_variables=False leaves the weights out."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import autograd
from convolve import layers as L
from convolve.autograd import GradientTape, Tensor
from convolve.models import Model, Sequential
from convolve.ops import activations
from convolve.variables import Variable
from tests.helpers import assert_close


def finite_difference(f, x, eps=1e-6):
    """d f / d x for a scalar function f of a float64 array, one central difference per entry."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def op_chain(x, kernel, bias, dense_kernel, weights):
    """conv (stride 2, 'same') -> relu -> max pool -> average pool -> flatten -> dense -> tanh,
    weighted by ``weights``: runs on arrays and on recorded Tensors alike."""
    h = autograd.conv(x, kernel, bias, strides=2, padding="same")
    h = autograd.activation(h, activations.relu)
    h = autograd.max_pool(h, 2, strides=1)
    h = autograd.average_pool(h, 2, strides=1, padding="same")
    h = autograd.dense(autograd.flatten(h), dense_kernel)
    return autograd.multiply(autograd.activation(h, activations.tanh), weights)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_watch_gives_the_input_gradient_of_an_op_chain(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 9, 9, 2))
    kernel, bias = rng.standard_normal((3, 3, 2, 4)), rng.standard_normal(4)
    dense_kernel, weights = rng.standard_normal((4 * 4 * 4, 3)) * 0.3, rng.standard_normal((2, 3))
    with GradientTape() as tape:
        xt = tape.watch(x)
        y = op_chain(xt, kernel, bias, dense_kernel, weights)
    (grad,) = tape.gradient(y, [xt])
    expected = finite_difference(lambda v: op_chain(v, kernel, bias, dense_kernel, weights).sum(), x)
    assert_close(grad, expected, rtol=1e-7)
    assert grad.dtype == np.float64


def small_model(data_format="channels_last", seed=0):
    """A float64 Sequential: conv, batch norm (inference), sigmoid, average and max pooling,
    dense with relu, dense softmax; random biases so that nothing is homogeneous."""
    kw = {"dtype": "float64", "data_format": data_format}
    shape = (7, 7, 2) if data_format == "channels_last" else (2, 7, 7)
    model = Sequential(
        [
            L.Input(shape, dtype="float64"),
            L.Conv2D(3, 3, padding="same", bias_initializer="random_normal", **kw),
            L.BatchNormalization(axis=-1 if data_format == "channels_last" else 1, dtype="float64"),
            L.Activation("sigmoid", dtype="float64"),
            L.AveragePooling2D(2, strides=1, **kw),
            L.MaxPooling2D(2, **kw),
            L.Flatten(**kw),
            L.Dense(5, activation="relu", bias_initializer="random_normal", dtype="float64"),
            L.Dense(3, activation="softmax", dtype="float64"),
        ]
    )
    rng = np.random.default_rng(seed)
    bn = model.layers[1]
    bn.moving_mean.assign(rng.standard_normal(3) * 0.1)
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, 3))
    return model


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_a_model_called_on_the_watched_tensor_records_all_the_way(data_format):
    model = small_model(data_format)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, *model.input_shape[1:]))
    g = rng.standard_normal((2, 3))
    with GradientTape() as tape:
        xt = tape.watch(x)
        y = model(xt)
    assert isinstance(y, Tensor) and y.op == "softmax"
    (grad,) = tape.gradient(y, [x], output_gradient=g)  # the array itself names its leaf
    expected = finite_difference(lambda v: float((model.predict(v, verbose=0) * g).sum()), x)
    assert_close(grad, expected, rtol=1e-7)


def test_a_functional_model_with_branches_records_from_the_watched_input():
    rng = np.random.default_rng(6)
    inp = L.Input((6, 6, 2), dtype="float64")
    conv = L.Conv2D(
        3, 3, padding="same", activation="tanh", dtype="float64", bias_initializer="random_normal"
    )
    a = conv(inp)
    b = L.Conv2D(3, 1, dtype="float64")(inp)
    h = L.Add(dtype="float64")([a, b])
    out = L.Dense(2, dtype="float64")(L.GlobalAveragePooling2D(dtype="float64")(h))
    model = Model(inp, out)
    x = rng.standard_normal((1, 6, 6, 2))
    with GradientTape() as tape:
        xt = tape.watch(x)
        y = model(xt)
    (grad,) = tape.gradient(y, [xt], output_gradient=np.array([[1.0, -2.0]]))
    expected = finite_difference(lambda v: float((model.predict(v, verbose=0) @ np.array([1.0, -2.0]))[0]), x)
    assert_close(grad, expected, rtol=1e-7)


def test_the_watched_array_is_never_written_to():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    with GradientTape() as tape:
        xt = tape.watch(x)
        # the caller's promise of a fresh array would let relu overwrite its input: the leaf's
        # read-only view keeps x safe
        y = autograd.activation(xt, activations.relu, inplace=True)
    (grad,) = tape.gradient(y, [xt])
    np.testing.assert_array_equal(x, before)
    assert x.flags.writeable and not xt.value.flags.writeable
    assert np.shares_memory(xt.value, x)  # a view, not a copy
    np.testing.assert_array_equal(grad, (before > 0).astype(float))
    model = small_model()
    images = rng.standard_normal((2, 7, 7, 2))
    kept = images.copy()
    with GradientTape() as tape:
        model(tape.watch(images))
    np.testing.assert_array_equal(images, kept)


def test_watching_twice_returns_the_same_leaf_and_gradients_add_up():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3))
    with GradientTape() as tape:
        first, second = tape.watch(x), tape.watch(x)
        assert first is second
        assert tape.watch(first) is first  # a recorded Tensor is returned as it is
        y = autograd.multiply(first, second)  # x * x
    (grad,) = tape.gradient(y, [x])
    np.testing.assert_allclose(grad, 2 * x)


def test_persistent_and_non_persistent_tapes_with_a_watched_input():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 7, 7, 2))
    model = small_model()
    with GradientTape(persistent=True) as tape:
        xt = tape.watch(x)
        y = model(xt)
    first = tape.gradient(y, [xt])[0]
    second = tape.gradient(y, [xt], output_gradient=2 * np.ones_like(y.value))[0]
    np.testing.assert_allclose(second, 2 * first)
    with GradientTape() as tape:
        xt = tape.watch(x)
        y = model(xt)
    np.testing.assert_array_equal(tape.gradient(y, [xt])[0], first)
    with pytest.raises(RuntimeError, match="a non-persistent GradientTape can compute gradients only once"):
        tape.gradient(y, [xt])


def test_watch_accessed_variables_false_leaves_the_weights_out():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 7, 7, 2))
    model = small_model()
    kernel = model.layers[0].kernel
    with GradientTape() as tape:
        y = model(tape.watch(x))
    gx_all, gk_all = tape.gradient(y, [x, kernel])
    with GradientTape(watch_accessed_variables=False) as tape:
        y = model(tape.watch(x))
    gx, gk = tape.gradient(y, [x, kernel])
    assert gk is None and gk_all is not None
    np.testing.assert_allclose(gx, gx_all, rtol=1e-12, atol=1e-15)
    # a watched Variable is a leaf again, even a non-trainable one
    frozen = Variable(rng.standard_normal((2, 3)), name="frozen", trainable=False)
    with GradientTape(watch_accessed_variables=False) as tape:
        assert tape.watch(frozen) is tape.watch(frozen)
        y = autograd.multiply(frozen, x[0, 0, :3, :2].T)
    (g,) = tape.gradient(y, [frozen])
    np.testing.assert_array_equal(g, x[0, 0, :3, :2].T)


def test_the_gradient_comes_back_in_the_watched_arrays_dtype():
    rng = np.random.default_rng(11)
    model = Sequential([L.Input((4, 4, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(2)])  # float32
    x = rng.standard_normal((1, 4, 4, 1))  # float64: cast to float32 by the first layer
    with GradientTape() as tape:
        y = model(tape.watch(x))
    (grad,) = tape.gradient(y, [x])
    assert grad.dtype == np.float64 and y.dtype == np.float32
    x32 = x.astype(np.float32)
    with GradientTape() as tape:
        y = model(tape.watch(x32))
    (grad32,) = tape.gradient(y, [x32])
    assert grad32.dtype == np.float32
    np.testing.assert_allclose(grad32, grad, rtol=1e-4, atol=1e-6)


def test_watch_messages():
    tape = GradientTape()
    with pytest.raises(
        RuntimeError,
        match=r"GradientTape.watch: call it inside `with tape:` \(ops record only while their tape is "
        r"recording in this thread\). Received: a tape that is not recording here",
    ):
        tape.watch(np.zeros(3))
    with tape:
        with pytest.raises(
            TypeError,
            match=r"GradientTape.watch: expected a floating-point array \(or a Variable\); cast integer data "
            r"to float first. Received: dtype int64",
        ):
            tape.watch(np.arange(3))
        with pytest.raises(TypeError, match=r"float first. Received: a list"):
            tape.watch([1.0, 2.0])
        xt = tape.watch(np.ones(3))
        y = autograd.multiply(xt, np.ones(3))
    with pytest.raises(
        TypeError,
        match=r"GradientTape.gradient: each source must be a Variable, a Tensor or an array this tape "
        r"watches \(tape.watch\(x\)\); a plain array is a constant. Received: ndarray\(3,\)",
    ):
        tape.gradient(y, [np.ones(3)])
    (g,) = tape.gradient(y, [xt])  # the refused call did not use up the non-persistent tape
    np.testing.assert_array_equal(g, np.ones(3))
    with pytest.raises(
        TypeError,
        match=r"GradientTape: the `watch_accessed_variables` argument must be True or False. "
        r"Received: watch_accessed_variables=0",
    ):
        GradientTape(watch_accessed_variables=0)
