"""Layer base class and Input: naming, shape declarations, their error messages."""
import numpy as np
import pytest

from convolve.layers import Conv2D, Input, InputLayer, clear_session
from convolve.layers.base import format_shape
from convolve.models import Sequential


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def test_input_declares_shape_without_batch():
    inp = Input((28, 28, 1))
    assert inp.shape == (None, 28, 28, 1) and inp.dtype == "float32"
    assert "SymbolicInput shape=(None, 28, 28, 1)" in repr(inp)
    assert InputLayer((4,), batch_size=8).shape == (8, 4)


def test_input_errors():
    with pytest.raises(
        ValueError, match=r"InputLayer: the `shape` argument is required. Received: shape=None"
    ):
        InputLayer()
    with pytest.raises(
        TypeError,
        match=r"input_shape must be a tuple of ints \(without the batch axis\). Received: input_shape=5",
    ):
        Conv2D(1, 3, input_shape=5)


def test_format_shape():
    assert format_shape((None, 3)) == "(None, 3)"
    assert format_shape((5,)) == "(5,)"


def test_model_layer_lookup_and_pop():
    model = Sequential([Input((6, 6, 1)), Conv2D(1, 3, name="a"), Conv2D(1, 3, name="b")])
    assert model.get_layer("b") is model.layers[1] and model.get_layer(index=0).name == "a"
    with pytest.raises(ValueError, match=r"no layer named 'c'. Layers: \['a', 'b'\]"):
        model.get_layer("c")
    assert model.pop().name == "b" and model.pop().name == "a"
    with pytest.raises(ValueError, match=r"pop\(\) on a model with no layers"):
        model.pop()


def test_trainable_flags():
    layer = Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 1)))
    assert len(layer.trainable_weights) == 2 and layer.non_trainable_weights == []
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.count_params() == 3 * 3 * 2 + 2


def test_direct_build_marks_built_and_is_not_repeated():
    layer = Conv2D(2, 3)
    layer.build((None, 6, 6, 1))
    assert layer.built and len(layer.weights) == 2
    layer(np.zeros((1, 6, 6, 1)))
    assert len(layer.weights) == 2
    with pytest.raises(ValueError, match="expected axis 3 of input shape to have value 1"):
        layer(np.zeros((1, 6, 6, 2)))
