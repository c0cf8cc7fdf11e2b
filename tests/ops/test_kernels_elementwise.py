"""ops/kernels/elementwise.py against the NumPy reference: activation gradients and dropout.

Each case runs the public op twice, under config.set_kernels('numpy') and 'numba', on
hypothesis-drawn shapes in float32 and float64. Where the reference is a sequence of IEEE
operations the kernel does the same operations, so the results are equal bit for bit; elu
and selu take exp, whose last bit may differ between NumPy's and the C library's.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve import autograd
from convolve.layers import Dropout
from convolve.ops import activations as act
from convolve.ops import dropout as drop
from convolve.random import set_random_seed
from tests.helpers import both_kernels, using_kernels

DTYPES = (np.float32, np.float64)
shapes = st.lists(st.integers(1, 9), min_size=1, max_size=4).map(tuple)


def draw(seed, shape, dtype, specials=False):
    """grad_y and v of ``shape``: normal values, with some exact zeros (relu's kink) and,
    with ``specials``, infinities and NaNs in both."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(shape).astype(dtype)
    v = rng.standard_normal(shape).astype(dtype)
    v.reshape(-1)[:: 5] = 0
    if specials:
        for a in (g, v):
            flat = a.reshape(-1)
            flat[rng.integers(0, flat.size, 3)] = rng.choice([np.inf, -np.inf, np.nan], 3)
    return g, v


EXACT = {  # name -> keyword arguments (the backward's dispatch on them)
    "relu": [{}, {"threshold": 0.5}, {"negative_slope": 0.1}, {"max_value": 1.0},
             {"negative_slope": 0.3, "threshold": 0.2, "max_value": 0.7}],
    "leaky_relu": [{}, {"negative_slope": 0.01}],
    "sigmoid": [{}],
    "tanh": [{}],
}


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0 in NumPy's products
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("specials", [False, True])
@pytest.mark.parametrize(
    "name,kwargs", [(name, kw) for name, cases in EXACT.items() for kw in cases], ids=str
)
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_exact_gradients_equal_numpy(name, kwargs, specials, dtype, shape, seed):
    backward, _ = act.BACKWARD[name]
    g, v = draw(seed, shape, dtype, specials)
    reference, compiled = both_kernels(backward, g, v, **kwargs)
    assert compiled.dtype == reference.dtype and compiled.shape == reference.shape
    np.testing.assert_array_equal(compiled, reference)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kwargs", [("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {})])
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_exp_gradients_close_to_numpy(name, kwargs, dtype, shape, seed):
    backward, _ = act.BACKWARD[name]
    g, v = draw(seed, shape, dtype, specials=True)
    reference, compiled = both_kernels(backward, g, v, **kwargs)
    np.testing.assert_allclose(compiled, reference, rtol=4 * np.finfo(dtype).eps, atol=0)
    np.testing.assert_array_equal(np.isnan(compiled), np.isnan(reference))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh"])
def test_gradients_by_finite_differences(name):
    """The compiled gradients of the forward, by central differences in float64 (away from kinks)."""
    forward = act.ACTIVATIONS[name]
    backward, needs = act.BACKWARD[name]
    rng = np.random.default_rng(3)
    x = rng.uniform(0.05, 2.0, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    g = rng.standard_normal(x.shape)
    with using_kernels("numba"):
        grad = backward(g, x if needs == "x" else forward(x))
    h = 1e-6
    numeric = g * (forward(x + h) - forward(x - h)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9)


def test_strided_and_mixed_dtypes_take_the_reference_and_inputs_stay_untouched():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((6, 8))
    x = rng.standard_normal((6, 8)).astype(np.float32)
    g_before, x_before = g.copy(), x.copy()
    for args in ((g[:, ::2], x[:, ::2]), (g, x), (g.astype(np.float16), x.astype(np.float16))):
        reference, compiled = both_kernels(act.relu_backward, *args)
        np.testing.assert_array_equal(compiled, reference)
        assert compiled.dtype == reference.dtype
    np.testing.assert_array_equal(g, g_before)
    np.testing.assert_array_equal(x, x_before)


def test_the_taped_inplace_relu_uses_the_kernel_and_agrees():
    """A layer's in-place relu: the backward reads the output; both kernels give one gradient."""
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 7)).astype(np.float32)
    grads = []
    for name in ("numpy", "numba"):
        with using_kernels(name):
            with autograd.GradientTape() as tape:
                x = tape.watch(base)
                y = autograd.activation(autograd.multiply(x, 1.0), act.relu, inplace=True)
            grads.append(tape.gradient(y, [x])[0])
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[0], (base > 0).astype(np.float32))


# --- dropout ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=st.integers(0, 2**16), rate=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 1.0]))
def test_dropout_equals_numpy(dtype, shape, seed, rate):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    noise = rng.random(shape, dtype=np.float32)
    reference, compiled = both_kernels(drop.dropout, x, noise, rate)
    np.testing.assert_array_equal(compiled, reference)
    assert compiled.dtype == np.dtype(dtype)
    # the reference written out: keep where noise >= rate, scale by 1 / (1 - rate)
    scale = dtype(0.0 if rate == 1.0 else 1.0 / (1.0 - rate))
    np.testing.assert_array_equal(reference, x * np.where(noise >= np.float32(rate), scale, dtype(0)))
    g = rng.standard_normal(shape).astype(dtype)
    reference, compiled = both_kernels(drop.dropout_backward, g, noise, rate)
    np.testing.assert_array_equal(compiled, reference)


def test_dropout_broadcast_noise_and_gradient_by_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5))
    noise = rng.random((4, 1, 5), dtype=np.float32)
    reference, compiled = both_kernels(drop.dropout, x, noise, 0.4)
    np.testing.assert_array_equal(compiled, reference)
    assert np.all((compiled == 0) == (noise < np.float32(0.4)))  # one draw for the whole middle axis
    g = rng.standard_normal(x.shape)
    with using_kernels("numba"):
        full = rng.random(x.shape, dtype=np.float32)
        grad = drop.dropout_backward(g, full, 0.4)
        h = 1e-6
        numeric = g * (drop.dropout(x + h, full, 0.4) - drop.dropout(x - h, full, 0.4)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9)


def test_dropout_layer_is_seeded_alike_under_both_kernels():
    """The draws come from convolve.random as before: one seed, one mask, whatever the kernels."""
    x = np.random.default_rng(0).uniform(1, 2, (16, 40)).astype(np.float32)
    outputs = []
    for name in ("numpy", "numba"):
        with using_kernels(name):
            set_random_seed(5)
            first = Dropout(0.3)(x, training=True)
            seeded = Dropout(0.3, seed=9)(x, training=True)
            outputs.append((first, seeded))
    for reference, compiled in zip(*outputs):
        np.testing.assert_array_equal(compiled, reference)
    kept = outputs[1][0] != 0
    np.testing.assert_allclose(outputs[1][0][kept], (x / np.float32(0.7))[kept], rtol=1e-6)


def test_dropout_on_the_tape_passes_the_same_mask_back():
    x = np.random.default_rng(4).standard_normal((8, 6)).astype(np.float32)
    layer = Dropout(0.5, seed=1)
    with using_kernels("numba"), autograd.GradientTape() as tape:
        xt = tape.watch(x)
        y = layer(xt, training=True)
    (gx,) = tape.gradient(y, [xt])
    np.testing.assert_array_equal(gx != 0, y.value != 0)
    np.testing.assert_array_equal(gx[gx != 0], np.float32(2.0))


@pytest.mark.parametrize(
    "call,error,message",
    [
        (lambda: drop.dropout(np.ones(3), np.ones(3, np.float64), 0.5), TypeError,
         r"dropout: expected float32 noise \(uniform draws on \[0, 1\)\)\. Received: noise.dtype=float64"),
        (lambda: drop.dropout(np.ones(3), np.ones(4, np.float32), 0.5), ValueError,
         r"dropout: noise must have the shape of x or broadcast to it\. "
         r"Received: noise.shape=\(4,\), x.shape=\(3,\)"),
        (lambda: drop.dropout_backward(np.ones(3), np.ones((2, 3), np.float32), 0.5), ValueError,
         r"dropout_backward: noise must have the shape of grad_y or broadcast to it\. "
         r"Received: noise.shape=\(2, 3\), grad_y.shape=\(3,\)"),
        (lambda: drop.dropout(np.ones(3), np.ones(3, np.float32), 1.5), ValueError,
         r"dropout: the `rate` argument must be a number in \[0, 1\]\. Received: rate=1.5"),
        (lambda: drop.dropout(np.ones(3), np.ones(3, np.float32), "half"), TypeError,
         r"dropout: the `rate` argument must be a number in \[0, 1\]\. Received: rate='half'"),
    ],
)
def test_dropout_messages(call, error, message):
    with pytest.raises(error, match=message):
        call()
