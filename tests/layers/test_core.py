"""Core layers: Dense, Flatten, Reshape, Dropout, Activation, ReLU, LeakyReLU, Softmax.

Keras arguments, defaults and names; shapes; weights; every error message; values against
hand-computed numbers and plain loops (the ops are checked in tests/ops)."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convolve.layers.base import Input, clear_session
from convolve.layers.core import Activation, Dense, Dropout, Flatten, LeakyReLU, ReLU, Reshape, Softmax
from convolve.models.sequential import Sequential
from convolve.ops.shapes import POINTWISE
from convolve.random import set_random_seed
from tests.helpers import assert_close, requires_torch, torch

ELEMENTWISE = [
    lambda **kw: Activation("relu", **kw),
    lambda **kw: ReLU(**kw),
    lambda **kw: LeakyReLU(**kw),
    lambda **kw: Softmax(**kw),
    lambda **kw: Dropout(0.5, **kw),
]


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def loop_dense(x, kernel, bias):
    """y[..., u] = bias[u] + sum_i x[..., i] * kernel[i, u], one output at a time."""
    y = np.zeros((*x.shape[:-1], kernel.shape[1]))
    for lead in itertools.product(*(range(s) for s in x.shape[:-1])):
        for u in range(kernel.shape[1]):
            total = 0.0 if bias is None else float(bias[u])
            for i in range(kernel.shape[0]):
                total += float(x[(*lead, i)]) * float(kernel[i, u])
            y[(*lead, u)] = total
    return y


# ---- names and defaults ---------------------------------------------------------------


def test_automatic_names():
    assert Dense(2).name == "dense"
    assert Dense(2).name == "dense_1"
    assert Flatten().name == "flatten"
    assert Reshape((2,)).name == "reshape"
    assert Dropout(0.1).name == "dropout"
    assert Activation("relu").name == "activation"
    assert ReLU().name == "re_lu"
    assert LeakyReLU().name == "leaky_re_lu"
    assert Softmax().name == "softmax"


def test_keras_defaults():
    d = Dense(3)
    assert d.activation.__name__ == "linear" and d.use_bias is True
    assert d.get_config()["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert d.get_config()["bias_initializer"]["class_name"] == "Zeros"
    assert Flatten().data_format == "channels_last"
    drop = Dropout(0.2)
    assert drop.noise_shape is None and drop.seed is None
    relu = ReLU()
    assert (relu.max_value, relu.negative_slope, relu.threshold) == (None, 0.0, 0.0)
    assert LeakyReLU().negative_slope == 0.3  # Keras 3's layer default (the function's is 0.2)
    assert Softmax().axis == -1


# ---- Dense ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (2, 2, 3, 4)])
def test_dense_matches_loops(dtype, shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtype)
    layer = Dense(5, dtype=dtype)
    y = layer(x)
    kernel, bias = rng.standard_normal((4, 5)), rng.standard_normal(5)
    layer.set_weights([kernel, bias])
    y = layer(x)
    assert y.dtype == dtype and y.shape == (*shape[:-1], 5)
    assert_close(y, loop_dense(x, kernel, bias), dtype)
    relu = Dense(5, activation="relu", use_bias=False, dtype=dtype)
    relu(x)
    relu.set_weights([kernel])
    assert_close(relu(x), np.maximum(loop_dense(x, kernel, None), 0), dtype)


def test_dense_hand_computed():
    layer = Dense(2)
    layer.build((None, 3))
    layer.set_weights([[[1, 0], [0, 1], [1, 1]], [10, 20]])
    assert_close(layer(np.array([[1.0, 2.0, 3.0]])), [[14.0, 25.0]], np.float32)
    assert len(layer.weights) == 2  # building directly, then calling, builds once


def test_dense_weights_order_shapes_and_errors():
    layer = Dense(4)
    assert layer.get_weights() == []
    layer(np.zeros((2, 3)))
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == [(3, 4), (4,)]
    assert layer.count_params() == 16
    limit = math.sqrt(6 / (3 + 4))  # glorot_uniform
    kernel, bias = layer.get_weights()
    assert np.all(np.abs(kernel) <= limit) and np.any(kernel != 0) and np.all(bias == 0)
    no_bias = Dense(4, use_bias=False)
    no_bias.build((None, 3))
    assert [w.name for w in no_bias.weights] == ["kernel"]
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense': set_weights expected a list of 2 arrays \(kernel, bias\)\. Received: a list "
        r"of 1 arrays",
    ):
        layer.set_weights([np.zeros((3, 4))])
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense': weight 'kernel' has shape \(3, 4\)\. Received: an array of shape \(4, 3\)",
    ):
        layer.set_weights([np.zeros((4, 3)), np.zeros(4)])
    np.testing.assert_array_equal(layer.get_weights()[0], kernel)  # nothing assigned on error


def test_dense_input_checks():
    layer = Dense(2)
    layer(np.zeros((1, 3)))
    with pytest.raises(
        ValueError,
        match=r"Input of layer Dense 'dense' is incompatible with the layer: expected axis -1 of input shape "
        r"to have value 3, but received input with shape \(1, 4\)",
    ):
        layer(np.zeros((1, 4)))
    assert layer(np.zeros((2, 5, 3))).shape == (2, 5, 2)  # any rank >= 2, as Keras
    with pytest.raises(
        ValueError, match=r"Dense 'dense_1' is incompatible with the layer: expected min_ndim=2, found ndim=1"
    ):
        Dense(2)(np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense_2': the last axis of the inputs \(the features\) must have a known size\. "
        r"Received: input_shape=\(None, None\)",
    ):
        Sequential([Input((None,)), Dense(2)])


def test_dense_argument_errors():
    with pytest.raises(
        ValueError,
        match=r"Dense 'dense': the `units` argument must be a positive integer\. Received: units=0",
    ):
        Dense(0)
    with pytest.raises(
        ValueError, match=r"Dense .*the `units` argument must be a positive integer\. Received: units=2\.5"
    ):
        Dense(2.5)
    with pytest.raises(ValueError, match=r"Dense .*unknown activation.*Received: activation='nope'"):
        Dense(2, activation="nope")
    with pytest.raises(ValueError, match=r"Dense .*unknown initializer.*Received: 'nope'"):
        Dense(2, kernel_initializer="nope")


def test_dense_receptive_field_and_shapes():
    flat, image = Dense(3), Dense(3)
    assert flat.receptive_field() is None
    flat(np.zeros((2, 4)))
    image(np.zeros((1, 5, 5, 4)))
    assert flat.receptive_field() is None and image.receptive_field() == POINTWISE
    assert image.compute_output_shape((None, None, 7, 4)) == (None, None, 7, 3)


@settings(max_examples=30)
@given(
    lead=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    features=st.integers(1, 4),
    units=st.integers(1, 4),
)
def test_dense_output_shape_property(lead, features, units):
    layer = Dense(units, dtype="float64")
    x = np.ones((*lead, features))
    y = layer(x)
    assert layer.compute_output_shape(x.shape) == y.shape == (*lead, units)
    assert layer.compute_output_shape((None, *x.shape[1:])) == (None, *y.shape[1:])


@requires_torch
def test_dense_against_torch():
    t = torch()
    layer = Dense(6, activation="tanh", dtype="float64")
    x = np.random.default_rng(3).standard_normal((4, 2, 5))
    y = layer(x)
    kernel, bias = layer.get_weights()
    ref = t.tanh(t.nn.functional.linear(t.tensor(x), t.tensor(kernel.T), t.tensor(bias))).numpy()
    assert_close(y, ref)


# ---- Flatten --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten_orders_like_channels_last(dtype):
    x = np.arange(2 * 3 * 2 * 2, dtype=dtype).reshape(2, 3, 2, 2)  # (N, C, H, W)
    y_last = Flatten(dtype=dtype)(x)
    y_first = Flatten(data_format="channels_first", dtype=dtype)(x)
    expected_last = np.array(
        [[x[n, c, h, w] for c in range(3) for h in range(2) for w in range(2)] for n in range(2)]
    )
    expected_first = np.array(
        [[x[n, c, h, w] for h in range(2) for w in range(2) for c in range(3)] for n in range(2)]
    )
    assert y_last.dtype == dtype
    assert_close(y_last, expected_last, dtype)
    assert_close(y_first, expected_first, dtype)


def test_flatten_shapes():
    assert Flatten()(np.zeros(3)).shape == (3, 1)
    assert Flatten().compute_output_shape((None,)) == (None, 1)
    assert Flatten().compute_output_shape((None, 4, 5, 3)) == (None, 60)
    assert Flatten().compute_output_shape((None, None, 5, 3)) == (None, None)
    assert Flatten().receptive_field() is None
    with pytest.raises(
        ValueError,
        match=r"Flatten '\w+': the `data_format` argument must be one of .*Received: data_format='nope'",
    ):
        Flatten(data_format="nope")


@settings(max_examples=30)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5), first=st.booleans())
def test_flatten_output_shape_property(shape, first):
    layer = Flatten(data_format="channels_first" if first else "channels_last")
    y = layer(np.ones(shape))
    assert layer.compute_output_shape(tuple(shape)) == y.shape


# ---- Reshape --------------------------------------------------------------------------


def test_reshape_values_and_minus_one():
    x = np.arange(24.0).reshape(2, 12)
    y = Reshape((3, 4))(x)
    assert y.shape == (2, 3, 4) and y[1, 2, 3] == 23.0 and y[0, 1, 0] == 4.0
    assert Reshape((-1, 2, 2))(x).shape == (2, 3, 2, 2)
    layer = Reshape((-1, 2, 2))
    assert layer.compute_output_shape((None, 12)) == (None, 3, 2, 2)
    assert layer.compute_output_shape((None, None)) == (None, None, 2, 2)
    assert Reshape((3, 4)).compute_output_shape((7, None)) == (7, 3, 4)
    assert Reshape((2,)).target_shape == (2,)


@settings(max_examples=30)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=4), split=st.integers(0, 3), hole=st.booleans())
def test_reshape_output_shape_property(dims, split, hole):
    total = math.prod(dims)
    divisors = [d for d in range(1, total + 1) if total % d == 0]
    a = divisors[split % len(divisors)]
    target = (a, -1) if hole else (a, total // a)
    layer = Reshape(target, dtype="float64")
    x = np.arange(2.0 * total).reshape(2, *dims)
    y = layer(x)
    assert layer.compute_output_shape(x.shape) == y.shape == (2, a, total // a)
    np.testing.assert_array_equal(y.ravel(), x.ravel())


def test_reshape_errors():
    with pytest.raises(
        ValueError,
        match=r"Reshape 'reshape': the `target_shape` argument must be a tuple of positive ints "
        r"\(the batch axis excluded\), with at most one -1\. Received: target_shape=\(-1, -1\)",
    ):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match=r"Reshape .*Received: target_shape=\(0, 3\)"):
        Reshape((0, 3))
    with pytest.raises(
        TypeError, match=r"Reshape .*the `target_shape` argument must be .*Received: target_shape=6"
    ):
        Reshape(6)
    with pytest.raises(
        ValueError,
        match=r"Reshape 'reshape_3': cannot reshape 12 values per sample into target_shape \(5, 2\), which "
        r"holds 10\. Received: input_shape=\(2, 12\)",
    ):
        Reshape((5, 2))(np.zeros((2, 12)))
    with pytest.raises(
        ValueError,
        match=r"Reshape 'reshape_4': cannot reshape 12 values per sample into target_shape \(5, -1\): 12 is "
        r"not divisible by 5",
    ):
        Reshape((5, -1)).compute_output_shape((None, 3, 4))
    layer = Reshape((3, 4))
    layer(np.zeros((1, 12)))
    with pytest.raises(ValueError, match=r"cannot reshape 10 values per sample"):
        layer(np.zeros((1, 10)))  # checked on every call, with the layer's message


# ---- Dropout --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_inference_is_identity(dtype):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(dtype)
    layer = Dropout(0.5, dtype=dtype)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(Dropout(0.0, dtype=dtype)(x, training=True), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_training_drops_and_scales(dtype):
    x = np.random.default_rng(0).uniform(1, 2, (200, 500)).astype(dtype)
    copy = x.copy()
    y = Dropout(0.3, seed=7, dtype=dtype)(x, training=True)
    np.testing.assert_array_equal(x, copy)
    assert y.dtype == dtype
    kept = y != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01  # 100,000 draws: the standard error is 0.0015
    assert_close(y[kept], x[kept] / 0.7, dtype)
    assert abs(y.mean() / x.mean() - 1) < 0.01  # the expected sum is unchanged
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True), np.zeros_like(x))


def test_dropout_seeds():
    x = np.ones((4, 50))
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    first = a(x, training=True)
    np.testing.assert_array_equal(first, b(x, training=True))  # same seed, same masks
    assert not np.array_equal(first, a(x, training=True))  # a new mask each call
    set_random_seed(11)
    unseeded = Dropout(0.5)(x, training=True)
    set_random_seed(11)
    np.testing.assert_array_equal(unseeded, Dropout(0.5)(x, training=True))  # the global generator


def test_dropout_noise_shape():
    x = np.ones((3, 4, 5))
    y = Dropout(0.5, noise_shape=(None, 1, None), seed=0)(x, training=True)
    assert np.all(y == y[:, :1, :])  # one mask for every step
    assert np.any(y == 0) and np.any(y == 2)
    with pytest.raises(
        ValueError,
        match=r"Dropout 'dropout_1': `noise_shape` must have one entry per input axis \(3\)\. Received: "
        r"noise_shape=\(None, 1\) for input of shape \(3, 4, 5\)",
    ):
        Dropout(0.5, noise_shape=(None, 1))(x, training=True)
    with pytest.raises(
        ValueError,
        match=r"Dropout 'dropout_2': every entry of `noise_shape` must be 1, None or the input's size on "
        r"that axis\. Received: noise_shape=\(3, 2, 5\)",
    ):
        Dropout(0.5, noise_shape=(3, 2, 5))(x)
    assert Dropout(0.5, noise_shape=[None, 1, 5]).get_config()["noise_shape"] == [None, 1, 5]


def test_dropout_argument_errors():
    with pytest.raises(
        ValueError,
        match=r"Dropout 'dropout': the `rate` argument must be a finite number between 0 and 1\. Received: "
        r"rate=1\.5",
    ):
        Dropout(1.5)
    with pytest.raises(ValueError, match=r"Dropout .*Received: rate=-0\.1"):
        Dropout(-0.1)
    with pytest.raises(
        TypeError, match=r"Dropout .*the `rate` argument must be a number\. Received: rate='0\.5'"
    ):
        Dropout("0.5")
    with pytest.raises(
        ValueError,
        match=r"Dropout .*the `noise_shape` argument must be None or a tuple of positive ints or None "
        r".*Received: noise_shape=\(0, 1\)",
    ):
        Dropout(0.5, noise_shape=(0, 1))
    with pytest.raises(ValueError, match=r"Dropout .*`noise_shape`.*Received: noise_shape='ab'"):
        Dropout(0.5, noise_shape="ab")
    with pytest.raises(TypeError, match=r"Dropout .*`noise_shape`.*Received: noise_shape=3"):
        Dropout(0.5, noise_shape=3)
    with pytest.raises(
        ValueError,
        match=r"Dropout .*the `seed` argument must be None or a non-negative int\. Received: seed=-1",
    ):
        Dropout(0.5, seed=-1)


# ---- activations ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_layers_hand_computed(dtype):
    x = np.array([[-10.0, -5.0, 0.0, 0.5, 5.0, 10.0]], dtype=dtype)
    assert_close(Activation("relu", dtype=dtype)(x), [[0, 0, 0, 0.5, 5, 10]], dtype)
    assert_close(Activation(None, dtype=dtype)(x), x, dtype)
    assert_close(Activation(lambda v: 2 * v, dtype=dtype)(x), 2 * x, dtype)
    # Keras' ReLU example
    assert_close(ReLU(max_value=10, negative_slope=0.5, dtype=dtype)(x), [[-5, -2.5, 0, 0.5, 5, 10]], dtype)
    assert_close(ReLU(max_value=6, dtype=dtype)(x * 2), [[0, 0, 0, 1, 6, 6]], dtype)
    assert_close(ReLU(threshold=1.0, dtype=dtype)(x), [[0, 0, 0, 0, 5, 10]], dtype)
    assert_close(LeakyReLU(dtype=dtype)(x), [[-3, -1.5, 0, 0.5, 5, 10]], dtype)
    assert_close(LeakyReLU(0.1, dtype=dtype)(x), [[-1, -0.5, 0, 0.5, 5, 10]], dtype)
    for layer in (
        Activation("tanh", dtype=dtype),
        ReLU(dtype=dtype),
        LeakyReLU(dtype=dtype),
        Softmax(dtype=dtype),
    ):
        assert layer(x).dtype == dtype


def test_leaky_relu_alpha_is_deprecated():
    with pytest.warns(UserWarning, match="`alpha` argument is deprecated"):
        layer = LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 1, (1, 2)])
def test_softmax_against_loops(dtype, axis):
    x = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(dtype) * 5
    y = Softmax(axis=axis, dtype=dtype)(x)
    axes = tuple(a % 3 for a in ((axis,) if isinstance(axis, int) else axis))
    keep = [a for a in range(3) if a not in axes]
    expected = np.zeros(x.shape)
    for k in itertools.product(*(range(x.shape[a]) for a in keep)):
        index = [slice(None)] * 3
        for a, i in zip(keep, k):
            index[a] = i
        group = x[tuple(index)].astype(np.float64)
        e = np.exp(group - group.max())
        expected[tuple(index)] = e / e.sum()
    assert y.dtype == dtype
    assert_close(y, expected, dtype)


def test_softmax_receptive_field_and_shape():
    last, middle = Softmax(), Softmax(axis=1)
    last(np.zeros((1, 3, 3, 2)))
    middle(np.zeros((1, 3, 3, 2)))
    assert last.receptive_field() == POINTWISE and middle.receptive_field() is None
    assert Softmax(axis=3).receptive_field() is None  # not built: unknown
    assert last.compute_output_shape((None, 3, 3, 2)) == (None, 3, 3, 2)
    assert Softmax(axis=(1, 2)).get_config()["axis"] == [1, 2]


def test_activation_argument_errors():
    with pytest.raises(
        ValueError,
        match=r"Activation 'activation': unknown activation; expected one of .*Received: activation='swishy'",
    ):
        Activation("swishy")
    with pytest.raises(
        ValueError,
        match=r"ReLU 're_lu': the `max_value` argument must be a finite number >= 0\. Received: max_value=-1",
    ):
        ReLU(max_value=-1)
    with pytest.raises(
        ValueError,
        match=r"ReLU .*the `negative_slope` argument must be a finite number >= 0\. Received: "
        r"negative_slope=-0\.5",
    ):
        ReLU(negative_slope=-0.5)
    with pytest.raises(
        TypeError,
        match=r"ReLU .*the `negative_slope` argument must be a number\. Received: negative_slope=None",
    ):
        ReLU(negative_slope=None)
    with pytest.raises(
        ValueError,
        match=r"ReLU .*the `threshold` argument must be a finite number >= 0\. Received: threshold=-1",
    ):
        ReLU(threshold=-1)
    with pytest.raises(
        TypeError, match=r"ReLU .*the `max_value` argument must be a number or None\. Received: max_value='6'"
    ):
        ReLU(max_value="6")
    with pytest.raises(
        ValueError,
        match=r"LeakyReLU 'leaky_re_lu': the `negative_slope` argument must be a finite number >= 0\. "
        r"Received: negative_slope=-0\.3",
    ):
        LeakyReLU(-0.3)
    with pytest.raises(ValueError, match=r"LeakyReLU .*Received: negative_slope=inf"):
        LeakyReLU(float("inf"))
    with pytest.raises(
        TypeError,
        match=r"Softmax 'softmax': the `axis` argument must be an int or a tuple of ints\. Received: "
        r"axis='last'",
    ):
        Softmax(axis="last")
    with pytest.raises(TypeError, match=r"Softmax .*Received: axis=\(\)"):
        Softmax(axis=())
    with pytest.raises(TypeError, match=r"Softmax .*Received: axis=1\.0"):
        Softmax(axis=1.0)
    with pytest.raises(
        ValueError,
        match=r"Softmax 'softmax_3': the `axis` argument must be in \[-2, 2\) for input of rank 2\. "
        r"Received: axis=2, input shape \(1, 3\)",
    ):
        Softmax(axis=2)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"Softmax .*Received: axis=\(1, -4\)"):
        Softmax(axis=(1, -4)).compute_output_shape((None, 2, 2))


# ---- shared properties ----------------------------------------------------------------


@pytest.mark.parametrize("make", ELEMENTWISE)
def test_elementwise_layers_keep_shape_inputs_and_dtype(make):
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)
    copy = x.copy()
    layer = make()
    for training in (False, True):
        y = layer(x, training=training)
        assert y.shape == x.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_array_equal(x, copy)
    assert make(dtype="float64")(x, training=True).dtype == np.float64
    assert layer(x.astype(np.int32)).dtype == np.float32
    assert layer.receptive_field() == POINTWISE
    assert layer.get_weights() == []


@pytest.mark.parametrize(
    "layer",
    [
        lambda: Dense(3, activation="relu", use_bias=False, kernel_initializer="he_normal", name="d"),
        lambda: Flatten(data_format="channels_first"),
        lambda: Reshape((-1, 2)),
        lambda: Dropout(0.25, noise_shape=(None, 1), seed=4),
        lambda: Activation("sigmoid"),
        lambda: ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
        lambda: LeakyReLU(0.05),
        lambda: Softmax(axis=(1, 2)),
    ],
)
def test_config_round_trip(layer):
    original = layer()
    config = original.get_config()
    clone = type(original).from_config(config)
    assert clone.get_config() == config


def test_inputs_not_modified_by_dense_flatten_reshape():
    x = np.random.default_rng(6).standard_normal((2, 3, 4)).astype(np.float32)
    copy = x.copy()
    for layer in (Dense(2), Flatten(), Flatten(data_format="channels_first"), Reshape((4, 3))):
        layer(x)
    np.testing.assert_array_equal(x, copy)


@requires_torch
def test_activations_against_torch():
    t = torch()
    F = t.nn.functional
    x = np.random.default_rng(8).standard_normal((3, 4, 5)) * 4
    tx = t.tensor(x)
    assert_close(ReLU(dtype="float64")(x), F.relu(tx).numpy())
    assert_close(ReLU(max_value=6, dtype="float64")(x), F.relu6(tx).numpy())
    assert_close(LeakyReLU(dtype="float64")(x), F.leaky_relu(tx, 0.3).numpy())
    assert_close(Softmax(axis=1, dtype="float64")(x), F.softmax(tx, dim=1).numpy())
    assert_close(Activation("gelu", dtype="float64")(x), F.gelu(tx).numpy())
    assert_close(
        Flatten(data_format="channels_first", dtype="float64")(x), t.flatten(tx.transpose(1, 2), 1).numpy()
    )
