"""Permute (convolve/layers/reshaping.py) and its op (convolve/ops/reshaping.py permute and
permute_backward): Keras' example and arguments, every permutation of ranks 2 to 5 against a
plain loop in float32 and float64, the recorded gradient (the inverse permutation) and finite
differences, receptive fields, config, saving, and every error message."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from convolve.autograd import GradientTape, Tensor
from convolve.layers import Conv2D, Dense, Input, Permute, clear_session, deserialize, serialize
from convolve.models import Model, Sequential, load_model
from convolve.ops.reshaping import permute, permute_backward
from convolve.ops.shapes import POINTWISE
from tests.helpers import assert_close
from tests.ops.test_core import assert_gradient

RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def loop_permute(x, dims):
    """The definition, one cell at a time: output axis a (1-indexed) is input axis dims[a - 1]."""
    out_shape = (x.shape[0], *(x.shape[d] for d in dims))
    y = np.zeros(out_shape, dtype=x.dtype)
    for n in range(x.shape[0]):
        for i in itertools.product(*(range(s) for s in out_shape[1:])):
            j = [0] * len(dims)
            for a, d in enumerate(dims):
                j[d - 1] = i[a]
            y[(n, *i)] = x[(n, *j)]
    return y


#: every permutation of 1..k for k = 1 to 4 (inputs of rank 2 to 5)
PERMUTATIONS = [p for k in range(1, 5) for p in itertools.permutations(range(1, k + 1))]
SIZES = (2, 3, 4, 5)  # distinct sizes, so a wrong axis shows in the shape


# ---- Keras' example and values ------------------------------------------------------------------


def test_keras_docstring_example():
    x = Input(shape=(10, 64))
    y = Permute((2, 1))(x)
    assert y.shape == (None, 64, 10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("dims", PERMUTATIONS, ids=str)
def test_every_permutation_matches_the_loop(dims, dtype):
    x = RNG.standard_normal((2, *SIZES[: len(dims)])).astype(dtype)
    layer = Permute(dims, dtype=dtype)
    y = layer(x)
    assert y.dtype == np.dtype(dtype) and y.flags.c_contiguous
    np.testing.assert_array_equal(y, loop_permute(x, dims))
    assert layer.compute_output_shape((None, *x.shape[1:])) == (None, *y.shape[1:])
    np.testing.assert_array_equal(permute(x, dims), y)  # the op itself keeps the input's float dtype


def test_integer_input_becomes_float32_and_the_input_is_untouched():
    x = np.arange(24).reshape(2, 3, 4)
    before = x.copy()
    y = Permute((2, 1))(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.transpose(x, (0, 2, 1)))
    np.testing.assert_array_equal(x, before)


def test_unknown_sizes_stay_unknown_in_the_output_shape():
    assert Permute((3, 1, 2)).compute_output_shape((None, None, 7, 3)) == (None, 3, None, 7)


# ---- gradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(2, 1), (3, 1, 2), (2, 3, 1), (2, 1, 3), (4, 2, 1, 3)], ids=str)
def test_recorded_gradient_is_the_inverse_permutation(dims):
    x = RNG.standard_normal((2, *SIZES[: len(dims)]))
    layer = Permute(dims, dtype="float64")
    leaf = Tensor(x)
    grad_y = RNG.standard_normal(layer.compute_output_shape(x.shape))
    with GradientTape() as tape:
        y = layer(leaf)
    assert isinstance(y, Tensor) and y.op == "permute"
    (grad_x,) = tape.gradient(y, [leaf], output_gradient=grad_y)
    inverse = np.argsort((0, *dims))
    np.testing.assert_array_equal(grad_x, np.transpose(grad_y, inverse))
    assert_gradient(grad_x, lambda v: permute(v, dims), x, grad_y)  # central differences, float64


@pytest.mark.parametrize("dims", PERMUTATIONS, ids=str)
def test_backward_matches_finite_differences_and_float32(dims):
    x = RNG.standard_normal((2, *(2, 3, 4, 2)[: len(dims)]))  # at most 96 values
    grad_y = RNG.standard_normal(permute(x, dims).shape)
    grad_x = permute_backward(grad_y, dims)
    assert grad_x.shape == x.shape
    assert_gradient(grad_x, lambda v: permute(v, dims), x, grad_y)
    grad32 = permute_backward(grad_y.astype(np.float32), dims)
    assert grad32.dtype == np.float32
    assert_close(grad32, grad_x, np.float32)


def test_a_model_with_permute_trains():
    """A Dense reads the permuted axis, so the gradient must reach the input side of Permute."""
    inputs = Input((3, 5))
    dense = Dense(1, dtype="float64")
    hidden = Dense(2, dtype="float64")
    model = Model(inputs, dense(Permute((2, 1), dtype="float64")(hidden(inputs))))
    x = RNG.standard_normal((4, 3, 5))
    before = hidden.kernel.numpy()
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((4, 2, 1)), epochs=1, verbose=0)
    assert not np.array_equal(hidden.kernel.numpy(), before)


# ---- receptive fields, config, saving ---------------------------------------------------------------


def test_receptive_field_is_pointwise_only_for_layout_moves():
    assert Permute((3, 1, 2)).receptive_field() == POINTWISE  # channels last -> first
    assert Permute((2, 3, 1)).receptive_field() == POINTWISE  # channels first -> last
    assert Permute((1, 2, 3)).receptive_field() == POINTWISE
    assert Permute((2, 1)).receptive_field() == POINTWISE  # (steps, channels) <-> (channels, steps)
    assert Permute((2, 1, 3)).receptive_field() is None  # height and width swapped
    assert Permute((4, 1, 2, 3)).receptive_field() == POINTWISE
    assert Permute((1, 3, 2, 4)).receptive_field() is None


def test_summary_keeps_tracking_fields_through_a_layout_move(capsys):
    model = Sequential([
        Input((9, 9, 1)), Permute((3, 1, 2)), Conv2D(2, 3, data_format="channels_first"),
        Permute((2, 3, 1)), Conv2D(2, 3),
    ])
    rows = model.summary_rows()
    assert [r["receptive_field"] for r in rows] == [(1, 1), (3, 3), (3, 3), (5, 5)]
    assert rows[0]["output_shape"] == (None, 1, 9, 9) and rows[2]["output_shape"] == (None, 7, 7, 2)


def test_config_round_trip_and_name():
    layer = Permute((3, 1, 2), name="to_first", trainable=False)
    config = layer.get_config()
    assert config == {"name": "to_first", "trainable": False, "dtype": "float32", "dims": [3, 1, 2]}
    again = deserialize(serialize(layer))
    assert isinstance(again, Permute) and again.dims == (3, 1, 2) and again.name == "to_first"
    assert Permute([2, 1]).name == "permute" and Permute((1,)).name == "permute_1"
    assert Permute(np.array([2, 1])).dims == (2, 1)  # NumPy integers are ints


def test_saved_and_loaded_with_the_model(tmp_path):
    pytest.importorskip("safetensors")
    model = Sequential([Input((4, 3)), Permute((2, 1)), Dense(2)])
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.layers[0], Permute) and loaded.layers[0].dims == (2, 1)
    x = RNG.standard_normal((3, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ---- errors -----------------------------------------------------------------------------------------

DIMS_MESSAGE = (
    r"the `dims` argument must be a tuple holding each of 1..k once, the axes after the batch axis in "
    r"their new order \(1-indexed: \(2, 1\) swaps two axes\). Received: dims="
)


@pytest.mark.parametrize(
    "dims, error, shown",
    [
        ((0, 1), ValueError, r"\(0, 1\)"),  # 0-indexed: the batch axis cannot move
        ((1, 1), ValueError, r"\(1, 1\)"),
        ((1, 3), ValueError, r"\(1, 3\)"),
        ((2.0, 1), ValueError, r"\(2.0, 1\)"),
        ((True, 2), ValueError, r"\(True, 2\)"),
        (2, TypeError, r"2"),
        ("21", TypeError, r"'21'"),
    ],
)
def test_bad_dims_are_refused_where_written(dims, error, shown):
    with pytest.raises(error, match=r"^Permute 'p': " + DIMS_MESSAGE + shown + "$"):
        Permute(dims, name="p")
    with pytest.raises(error, match=r"^permute: " + DIMS_MESSAGE + shown + "$"):
        permute(np.zeros((1, 2, 2)), dims)


def test_input_of_another_rank_is_refused():
    with pytest.raises(
        ValueError,
        match=r"Input of layer Permute 'p' is incompatible with the layer: expected ndim=3, found ndim=4. "
        r"Full shape received: \(2, 3, 4, 5\)",
    ):
        Permute((2, 1), name="p")(np.zeros((2, 3, 4, 5)))
    with pytest.raises(
        ValueError,
        match=r"^permute: expected input of rank 3 \(the batch axis and the 2 axes `dims` orders\). "
        r"Received: inputs.shape=\(2, 3\), dims=\(2, 1\)$",
    ):
        permute(np.zeros((2, 3)), (2, 1))
    with pytest.raises(
        ValueError,
        match=r"^permute_backward: expected grad_y of rank 4, the rank of the forward's output. "
        r"Received: grad_y.shape=\(2, 3\), dims=\(3, 1, 2\)$",
    ):
        permute_backward(np.zeros((2, 3)), (3, 1, 2))
    with pytest.raises(TypeError, match=r"permute expected a numeric array.*Received: inputs with dtype=<U1"):
        permute(np.array([["a"]]), (1,))
