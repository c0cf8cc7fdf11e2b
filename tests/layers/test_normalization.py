"""BatchNormalization: Keras arguments, defaults, weights and their order, shapes, every error
message, and values against a per-channel loop (the op is checked in tests/ops)."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convolve.layers.base import clear_session
from convolve.layers.conv import Conv2D
from convolve.layers.normalization import BatchNormalization
from convolve.models.sequential import Sequential
from convolve.ops.shapes import POINTWISE
from tests.helpers import assert_close, requires_torch, torch


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def loop_batch_norm(x, axis, mean, variance, gamma, beta, epsilon):
    """One cell at a time: (x - mean[c]) / sqrt(variance[c] + epsilon) * gamma[c] + beta[c]."""
    axis = axis % x.ndim
    y = np.zeros(x.shape)
    for index in itertools.product(*(range(s) for s in x.shape)):
        c = index[axis]
        value = (float(x[index]) - mean[c]) / math.sqrt(variance[c] + epsilon)
        y[index] = value * (1.0 if gamma is None else gamma[c]) + (0.0 if beta is None else beta[c])
    return y


def random_statistics(rng, channels):
    return (
        rng.standard_normal(channels),          # gamma
        rng.standard_normal(channels),          # beta
        rng.standard_normal(channels),          # moving_mean
        rng.uniform(0.1, 3.0, channels),        # moving_variance
    )


# ---- Keras defaults, names, weights ---------------------------------------------------


def test_keras_defaults_and_names():
    layer = BatchNormalization()
    assert layer.name == "batch_normalization"
    assert BatchNormalization().name == "batch_normalization_1"
    assert (layer.axis, layer.momentum, layer.epsilon, layer.center, layer.scale) == (
        -1,
        0.99,
        0.001,
        True,
        True,
    )
    config = layer.get_config()
    assert config["gamma_initializer"]["class_name"] == "Ones"
    assert config["beta_initializer"]["class_name"] == "Zeros"
    assert config["moving_mean_initializer"]["class_name"] == "Zeros"
    assert config["moving_variance_initializer"]["class_name"] == "Ones"


def test_weights_in_keras_order():
    layer = BatchNormalization()
    layer(np.zeros((2, 4, 4, 3)))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    gamma, beta, mean, var = layer.get_weights()
    assert all(w.shape == (3,) for w in (gamma, beta, mean, var))
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_array_equal(beta, 0)
    np.testing.assert_array_equal(mean, 0)
    np.testing.assert_array_equal(var, 1)
    assert layer.count_params() == 12
    only_center = BatchNormalization(scale=False)
    only_center.build((None, 5))
    assert [w.name for w in only_center.weights] == ["beta", "moving_mean", "moving_variance"]
    neither = BatchNormalization(center=False, scale=False, axis=1)
    neither.build((None, 2, 7))
    assert [w.shape for w in neither.weights] == [(2,), (2,)]


def test_set_weights_order_and_errors():
    layer = BatchNormalization()
    layer(np.zeros((1, 2)))
    layer.set_weights([[1, 2], [3, 4], [5, 6], [7, 8]])
    assert [w.tolist() for w in layer.get_weights()] == [[1, 2], [3, 4], [5, 6], [7, 8]]
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization 'batch_normalization': set_weights expected a list of 4 arrays "
        r"\(gamma, beta, moving_mean, moving_variance\)\. Received: a list of 2 arrays",
    ):
        layer.set_weights([[1, 2], [3, 4]])
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization 'batch_normalization': weight 'moving_variance' has shape \(2,\)\. "
        r"Received: an array of shape \(3,\)",
    ):
        layer.set_weights([[1, 2], [3, 4], [5, 6], [7, 8, 9]])


# ---- values ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initial_state_divides_by_sqrt_one_plus_epsilon(dtype):
    x = np.array([[1.0, -2.0], [3.0, 4.0]], dtype=dtype)
    y = BatchNormalization(dtype=dtype)(x)
    assert y.dtype == dtype
    assert_close(y, x / math.sqrt(1.001), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,axis", [((4, 3), -1), ((2, 3, 4, 5), -1), ((2, 3, 4, 5), 1), ((2, 3, 4), 2), ((2, 3, 4), -2)]
)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False), (False, False)])
def test_matches_loop_reference(dtype, shape, axis, center, scale):
    rng = np.random.default_rng(len(shape) + axis)
    x = rng.standard_normal(shape).astype(dtype)
    layer = BatchNormalization(axis=axis, center=center, scale=scale, epsilon=0.01, dtype=dtype)
    layer.build((None, *shape[1:]))
    gamma, beta, mean, var = random_statistics(rng, shape[axis])
    layer.set_weights([w for w, keep in ((gamma, scale), (beta, center), (mean, True), (var, True)) if keep])
    y = layer(x)
    assert y.dtype == dtype and y.shape == x.shape
    expected = loop_batch_norm(x, axis, mean, var, gamma if scale else None, beta if center else None, 0.01)
    assert_close(y, expected, dtype)


def test_training_uses_batch_statistics_and_moves_the_moving_ones():
    """Keras: training=True normalises with the batch's mean and biased variance and sets
    moving = moving * momentum + batch * (1 - momentum); inference uses the moving ones."""
    rng = np.random.default_rng(0)
    layer = BatchNormalization(momentum=0.9, dtype="float64")
    x = rng.standard_normal((8, 4, 3)) * 5 + 2
    layer(x)
    gamma, beta, mean0, var0 = random_statistics(rng, 3)
    layer.set_weights([gamma, beta, mean0, var0])
    y = layer(x, training=True)
    m, v = x.mean(axis=(0, 1)), x.var(axis=(0, 1))
    np.testing.assert_allclose(y, (x - m) / np.sqrt(v + 1e-3) * gamma + beta, rtol=1e-12)
    _, _, mean1, var1 = layer.get_weights()
    np.testing.assert_allclose(mean1, 0.9 * mean0 + 0.1 * m, rtol=1e-12)
    np.testing.assert_allclose(var1, 0.9 * var0 + 0.1 * v, rtol=1e-12)
    np.testing.assert_allclose(
        layer(x, training=False), (x - mean1) / np.sqrt(var1 + 1e-3) * gamma + beta, rtol=1e-12
    )


def test_frozen_layer_uses_moving_statistics_even_in_training():
    rng = np.random.default_rng(1)
    layer = BatchNormalization(dtype="float64")
    x = rng.standard_normal((8, 3))
    layer(x)
    layer.trainable = False
    before = layer.get_weights()
    np.testing.assert_array_equal(layer(x, training=True), layer(x, training=False))
    for w, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(w, b)


@settings(max_examples=30)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_output_shape_property(shape, data):
    rank = len(shape) + 1
    axis = data.draw(st.sampled_from([a for a in range(-rank + 1, rank) if a % rank != 0]))
    layer = BatchNormalization(axis=axis, dtype="float64")
    x = np.ones((2, *shape))
    y = layer(x)
    assert layer.compute_output_shape(x.shape) == y.shape == x.shape
    assert layer.compute_output_shape((None, *shape)) == (None, *shape)
    assert layer.get_weights()[0].shape == (x.shape[axis],)


def test_inputs_not_modified_dtypes_and_receptive_field():
    x = np.random.default_rng(1).standard_normal((2, 3, 3, 4)).astype(np.float32)
    copy = x.copy()
    layer = BatchNormalization()
    assert layer(x).dtype == np.float32
    np.testing.assert_array_equal(x, copy)
    assert BatchNormalization(dtype="float64")(x).dtype == np.float64
    assert BatchNormalization()(x.astype(np.int32)).dtype == np.float32
    assert layer.receptive_field() == POINTWISE
    model = Sequential([Conv2D(2, 3), BatchNormalization(), Conv2D(2, 3)])
    model.build((None, 9, 9, 1))
    assert [r["receptive_field"] for r in model.summary_rows()] == [(3, 3), (3, 3), (5, 5)]


def test_config_round_trip():
    layer = BatchNormalization(
        axis=1, momentum=0.9, epsilon=1e-5, center=False, gamma_initializer="zeros", name="bn"
    )
    config = layer.get_config()
    clone = BatchNormalization.from_config(config)
    assert clone.get_config() == config
    assert (clone.axis, clone.momentum, clone.epsilon, clone.center) == (1, 0.9, 1e-5, False)


# ---- errors ---------------------------------------------------------------------------


def test_argument_errors():
    with pytest.raises(
        TypeError,
        match=r"BatchNormalization 'batch_normalization': the `axis` argument must be an int "
        r"\(the channel axis\)\. Received: axis=\[1, 2\]",
    ):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization .*the `momentum` argument must be a finite number between 0 and 1\. "
        r"Received: momentum=1\.5",
    ):
        BatchNormalization(momentum=1.5)
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization .*the `epsilon` argument must be a finite number >= 0\. Received: "
        r"epsilon=-0\.001",
    ):
        BatchNormalization(epsilon=-0.001)
    with pytest.raises(
        TypeError,
        match=r"BatchNormalization .*the `epsilon` argument must be a number\. Received: epsilon='small'",
    ):
        BatchNormalization(epsilon="small")
    with pytest.raises(ValueError, match=r"BatchNormalization .*unknown initializer.*Received: 'nope'"):
        BatchNormalization(moving_variance_initializer="nope")


def test_input_errors():
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization 'batch_normalization': the `axis` argument must name a non-batch axis, in "
        r"\[-4, -1\] or \[1, 3\] for input of rank 4\. Received: axis=4, input shape \(1, 2, 2, 3\)",
    ):
        BatchNormalization(axis=4)(np.zeros((1, 2, 2, 3)))
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization 'batch_normalization_1': the `axis` argument must name a non-batch "
        r"axis.*Received: axis=0",
    ):
        BatchNormalization(axis=0)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"BatchNormalization .*Received: axis=-3, input shape \(None, 3\)"):
        BatchNormalization(axis=-3).compute_output_shape((None, 3))
    with pytest.raises(
        ValueError,
        match=r"Input of layer BatchNormalization 'batch_normalization_3' is incompatible with the layer: "
        r"expected min_ndim=2, found ndim=1",
    ):
        BatchNormalization()(np.zeros(3))
    layer = BatchNormalization(axis=1)
    layer(np.zeros((2, 3, 5)))
    with pytest.raises(
        ValueError,
        match=r"Input of layer BatchNormalization 'batch_normalization_4' is incompatible with the layer: "
        r"expected axis 1 of input shape to have value 3, but received input with shape \(2, 4, 5\)",
    ):
        layer(np.zeros((2, 4, 5)))
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization 'batch_normalization_4' is incompatible with the layer: expected ndim=3, "
        r"found ndim=4",
    ):
        layer(np.zeros((2, 3, 5, 1)))
    assert layer(np.zeros((7, 3, 9))).shape == (7, 3, 9)  # other sizes on the other axes are fine
    with pytest.raises(
        ValueError,
        match=r"BatchNormalization 'batch_normalization_5': the size of axis -1 \(the normalised axis\) must "
        r"be known\. Received: input_shape=\(None, 4, None\)",
    ):
        BatchNormalization().build((None, 4, None))


# ---- PyTorch --------------------------------------------------------------------------


@requires_torch
def test_against_torch_eval_mode():
    t = torch()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5, 6))  # (N, C, H, W)
    gamma, beta, mean, var = random_statistics(rng, 4)
    layer = BatchNormalization(axis=1, epsilon=1e-5, dtype="float64")
    layer.build(x.shape)
    layer.set_weights([gamma, beta, mean, var])
    ref = t.nn.functional.batch_norm(
        t.tensor(x), t.tensor(mean), t.tensor(var), t.tensor(gamma), t.tensor(beta), training=False, eps=1e-5
    )
    assert_close(layer(x), ref.numpy())
