"""The functional API (convolve/models/functional.py, convolve/layers/symbolic.py) and the
merging layers (convolve/layers/merging.py): graphs, predictions against hand-composed
layer calls, training, finite-difference gradients, saving, and every error message."""
from __future__ import annotations

import json
import re
import weakref

import numpy as np
import pytest

import convolve
from convolve import autograd
from convolve.autograd import GradientTape, Tensor
from convolve.layers import (
    Add,
    Average,
    Concatenate,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    Input,
    InputLayer,
    Layer,
    Maximum,
    Minimum,
    Multiply,
    ReLU,
    Subtract,
    clear_session,
)
from convolve.layers.symbolic import KerasTensor
from convolve.models import Model, Sequential, load_model
from convolve.utils import set_random_seed


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def residual_model(dtype="float32", size=8, channels=2, classes=3):
    """x -> Conv2D -> ReLU -> Conv2D, added to x, GlobalAveragePooling2D, Dense softmax."""
    x = Input((size, size, channels), dtype=dtype)
    h = Conv2D(4, 3, padding="same", dtype=dtype)(x)
    h = ReLU(dtype=dtype)(h)
    h = Conv2D(channels, 3, padding="same", dtype=dtype)(h)
    y = Add(dtype=dtype)([x, h])
    y = GlobalAveragePooling2D(dtype=dtype)(y)
    y = Dense(classes, activation="softmax", dtype=dtype)(y)
    return Model(x, y, name="residual")


def finite_difference(f, array, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of ``array`` (in place)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + eps
        up = f()
        array[i] = old - eps
        down = f()
        array[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


# ---- symbolic calls --------------------------------------------------------------------------


class _Exploding(Layer):
    """A layer whose forward pass must never run."""

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], 5))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 5)

    def call(self, inputs, training=False):
        raise AssertionError("a symbolic call computed something")


def test_symbolic_call_builds_the_layer_and_computes_nothing():
    x = Input((7, 3))
    layer = _Exploding()
    y = layer(x)
    assert isinstance(y, KerasTensor) and y.shape == (None, 7, 5) and y.dtype == "float32"
    assert layer.built and layer.kernel.shape == (3, 5)
    assert y.layer is layer and y.inputs == (x,) and y.ndim == 3 and y.name == layer.name
    z = Conv2D(6, 3, strides=2)(Input((9, 9, 1)))
    assert z.shape == (None, 4, 4, 6) and "KerasTensor shape=(None, 4, 4, 6)" in repr(z)
    with pytest.raises(TypeError, match=r"A symbolic tensor has no values"):
        np.asarray(z)


def test_input_is_the_source_node_and_sequential_still_takes_it():
    inp = Input((6, 6, 1))
    assert isinstance(inp, KerasTensor) and isinstance(inp.layer, InputLayer) and inp.inputs == ()
    model = Sequential([inp, Conv2D(2, 3)])
    assert model.output_shape == (None, 4, 4, 2)
    out = model(Input((6, 6, 1)))  # a Sequential called on a symbolic tensor calls its layers symbolically
    assert isinstance(out, KerasTensor) and out.shape == (None, 4, 4, 2)


def test_symbolic_shape_errors_surface_at_definition():
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d'.*height: input 4, kernel 5"):
        Conv2D(1, 5)(Input((4, 4, 1)))
    with pytest.raises(
        TypeError, match=r"Layer Dense 'dense' takes one input tensor, not a list. Received: a list of 2"
    ):
        Dense(2)([Input((3,)), Input((3,))])
    with pytest.raises(
        TypeError,
        match=r"Add 'add'.*all symbolic tensors .* or all arrays, not a mix. Received: a list with ndarray",
    ):
        Add()([Input((3,)), np.zeros((1, 3))])


# ---- the residual block -----------------------------------------------------------------------


def test_residual_block_builds_and_summarises(capsys):
    model = residual_model()
    assert model.output_shape == (None, 3) and model.input_shape == (None, 8, 8, 2)
    assert [type(item).__name__ for item in model.layers] == [
        "InputLayer", "Conv2D", "ReLU", "Conv2D", "Add", "GlobalAveragePooling2D", "Dense"]
    assert model.get_layer("add") is model.layers[4] and model.get_layer(index=1).name == "conv2d"
    with pytest.raises(ValueError, match=r"no layer named 'nope'. Layers: \['input_layer', 'conv2d'"):
        model.get_layer("nope")
    assert model.count_params() == (3 * 3 * 2 * 4 + 4) + (3 * 3 * 4 * 2 + 2) + (2 * 3 + 3)
    rows = {r["name"]: r for r in model.summary_rows()}
    assert rows["add"]["connected_to"] == ["input_layer[0][0]", "conv2d_1[0][0]"]
    assert rows["input_layer"]["connected_to"] == []
    assert rows["conv2d_1"]["receptive_field"] == (5, 5) and rows["add"]["receptive_field"] == (5, 5)
    assert rows["dense"]["receptive_field"] is None
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "residual"' in out
    assert re.search(r"Layer \(type\)\s+Output Shape\s+Param #\s+Receptive field\s+Jump\s+Connected to", out)
    assert re.search(r"input_layer \(InputLayer\)\s+\(None, 8, 8, 2\)\s+0\s+1x1\s+1x1\s+-\n", out)
    assert re.search(r"conv2d_1 \(Conv2D\)\s+\(None, 8, 8, 2\)\s+74\s+5x5\s+1x1\s+re_lu\[0\]\[0\]", out)
    assert re.search(
        r"add \(Add\)\s+\(None, 8, 8, 2\)\s+0\s+5x5\s+1x1\s+input_layer\[0\]\[0\], conv2d_1\[0\]\[0\]", out
    )
    assert re.search(r"dense \(Dense\)\s+\(None, 3\)\s+9\s+-\s+-\s+global_average_pooling2d\[0\]\[0\]", out)
    assert "Total params: 159 (636.00 B)" in out


def test_receptive_fields_where_branches_merge():
    x = Input((8, 8, 1))
    a = Conv2D(2, 3, padding="same")(x)
    b = Conv2D(2, 5, padding="same")(x)
    wide = Add()([a, b])  # same jump: the widest branch's field
    d = Conv2D(2, 3, strides=2, padding="same")(wide)  # field 5 + 2 = 7, jump 2
    c = Conv2D(2, 3, strides=2, padding="same")(x)  # field 3, jump 2
    different = Add()(
        [Conv2D(1, 5)(x), Conv2D(1, 3, strides=2, padding="same")(x)]
    )  # both 4x4; jumps 1 and 2
    model = Model(x, [wide, Concatenate()([d, c]), Concatenate(axis=1)([d, c]), different])
    rows = {r["name"]: r for r in model.summary_rows()}
    assert rows["add"]["receptive_field"] == (5, 5) and rows["add"]["jump"] == (1, 1)
    assert rows["concatenate"]["receptive_field"] == (7, 7) and rows["concatenate"]["jump"] == (2, 2)
    assert rows["concatenate_1"]["receptive_field"] is None  # joined along a spatial axis
    assert rows["add_1"]["receptive_field"] is None and rows["add_1"]["jump"] is None
    assert rows["add_1"]["output_shape"] == (None, 4, 4, 1)


def test_predictions_equal_the_hand_composed_layer_calls():
    model = residual_model()
    _, conv1, relu, conv2, add, pool, dense = model.layers
    x = np.random.default_rng(0).normal(size=(37, 8, 8, 2))
    by_hand = dense(pool(add([x, conv2(relu(conv1(x)))])))
    np.testing.assert_array_equal(model(x), by_hand)
    np.testing.assert_array_equal(model.predict(x, batch_size=10, verbose=0), by_hand)
    assert model.predict(x, verbose=0).dtype == np.float32
    with GradientTape():  # predict records nothing, even inside a tape
        assert isinstance(model.predict(x[:2], verbose=0), np.ndarray)
        assert isinstance(model(x[:2], training=True), Tensor)


def test_predict_progress_and_input_errors(capsys):
    model = residual_model()
    x = np.zeros((70, 8, 8, 2))
    model.predict(x, batch_size=32)
    assert "3/3 [" in capsys.readouterr().out
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(
        ValueError,
        match=r"Model 'residual'.predict: input 'input_layer' expects shape \(None, 8, 8, 2\) "
        r"\(None: any size\). Received: x with shape \(4, 8, 8, 3\)",
    ):
        model.predict(np.zeros((4, 8, 8, 3)))
    with pytest.raises(
        ValueError, match=r"`batch_size` must be a positive integer or None. Received: batch_size=0"
    ):
        model.predict(x, batch_size=0)
    with pytest.raises(
        ValueError, match=r"Model 'residual': input 'input_layer' expects shape \(None, 8, 8, 2\)"
    ):
        model(np.zeros((8, 8, 2)))
    with pytest.raises(TypeError, match=r"numeric array"):
        model.predict(np.array([["a"]]))


def test_predict_checks_every_layer_before_computing():
    x = Input((None, None, 1))
    y = Conv2D(1, 7, name="late")(Conv2D(1, 3)(x))
    model = Model(x, y)
    with pytest.raises(ValueError, match=r"Conv2D 'late'.*height: input 6, kernel 7"):
        model.predict(np.zeros((2, 8, 8, 1)), verbose=0)
    assert model.predict(np.zeros((2, 9, 9, 1)), verbose=0).shape == (2, 1, 1, 1)


def test_residual_block_trains():
    set_random_seed(0)
    model = residual_model(classes=2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 8, 2)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > x[..., 1].mean(axis=(1, 2))).astype(int)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[0]
    losses = model.fit(x, y, batch_size=16, epochs=6, verbose=0).history["loss"]
    assert losses[-1] < 0.85 * losses[0] and all(b < a for a, b in zip(losses, losses[1:]))
    assert model.evaluate(x, y, verbose=0)[0] < before


def test_residual_block_gradients_match_finite_differences():
    set_random_seed(1)
    model = residual_model(dtype="float64", size=4, channels=2, classes=3)
    rng = np.random.default_rng(2)
    for var in model.weights:  # non-zero biases, so every path matters
        var.assign(rng.normal(scale=0.5, size=var.shape))
    x = rng.normal(size=(2, 4, 4, 2))
    upstream = rng.normal(size=(2, 3))
    weights = model.trainable_weights
    assert len(weights) == 6
    inputs = Tensor(x.copy())
    with GradientTape() as tape:
        out = model(inputs, training=True)
    *grads, grad_x = tape.gradient(out, weights + [inputs], output_gradient=upstream)

    def loss():
        return float(np.sum(model(x) * upstream))

    for var, grad in zip(weights, grads):
        np.testing.assert_allclose(
            grad, finite_difference(loss, var.value), rtol=1e-6, atol=1e-9, err_msg=var.path
        )
    np.testing.assert_allclose(grad_x, finite_difference(loss, x), rtol=1e-6, atol=1e-9)


def test_save_and_load_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    set_random_seed(3)
    model = residual_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(4).normal(size=(16, 8, 8, 2)).astype("float32")
    y = np.arange(16) % 3
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "residual.safetensors"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is Model and loaded.name == "residual"
    assert [item.name for item in loaded.layers] == [item.name for item in model.layers]
    assert [r["connected_to"] for r in loaded.summary_rows()] == [
        r["connected_to"] for r in model.summary_rows()
    ]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # the optimizer state came too: one more step is the same step
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    weights_path = tmp_path / "weights.safetensors"
    model.save_weights(weights_path)
    clear_session()
    fresh = residual_model()
    fresh.load_weights(weights_path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_config_is_json_with_inbound_connections():
    model = residual_model()
    config = json.loads(json.dumps(model.get_config()))
    by_name = {layer["name"]: layer for layer in config["layers"]}
    assert by_name["add"]["inbound_nodes"] == [[["input_layer", 0, 0], ["conv2d_1", 0, 0]]]
    assert (
        by_name["input_layer"]["inbound_nodes"] == [] and by_name["input_layer"]["class_name"] == "InputLayer"
    )
    assert config["input_layers"] == ["input_layer", 0, 0] and config["output_layers"] == ["dense", 0, 0]
    clone = Model.from_config(config)
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(5).normal(size=(3, 8, 8, 2))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    broken = json.loads(json.dumps(config))
    broken["layers"][4]["inbound_nodes"] = [[["nowhere", 0, 0]]]
    with pytest.raises(
        ValueError,
        match=r"graph cannot be rebuilt: these calls read tensors that no layer in the config makes. "
        r"Received: \[\('add', \['nowhere', 0, 0\]\)\]",
    ):
        Model.from_config(broken)
    cycle = json.loads(json.dumps(config))
    cycle["layers"][1]["inbound_nodes"] = [[["re_lu", 0, 0]]]  # conv2d reads re_lu, which reads conv2d
    with pytest.raises(
        ValueError,
        match=r"the remaining calls wait on each other \(a cycle\). Received: "
        r"\[\('conv2d', \[\['re_lu', 0, 0\]\]\)",
    ):
        Model.from_config(cycle)
    broken["layers"][4]["inbound_nodes"] = [["add"]]
    with pytest.raises(
        ValueError, match=r"a tensor reference must be \[layer name, node index, 0\]. Received: 'add'"
    ):
        Model.from_config(broken)


# ---- two inputs, shared layers, nesting ------------------------------------------------------


def two_input_model():
    a, b = Input((4,), name="a"), Input((3,), name="b")
    joined = Concatenate(name="joined")([a, Dense(2, name="project")(b)])
    return Model([a, b], Dense(1, name="head")(joined), name="two")


def test_two_inputs_and_concatenate():
    model = two_input_model()
    assert [item.name for item in model.layers] == ["a", "b", "project", "joined", "head"]
    assert model.input_shape == [(None, 4), (None, 3)] and model.output_shape == (None, 1)
    rng = np.random.default_rng(6)
    xa, xb = rng.normal(size=(9, 4)), rng.normal(size=(9, 3))
    head, project = model.get_layer("head"), model.get_layer("project")
    by_hand = head(np.concatenate([xa, project(xb)], axis=-1))
    np.testing.assert_allclose(model.predict([xa, xb], batch_size=4, verbose=0), by_hand, rtol=1e-6)
    np.testing.assert_allclose(model({"b": xb, "a": xa}), by_hand, rtol=1e-6)
    rows = {r["name"]: r for r in model.summary_rows()}
    assert rows["joined"]["connected_to"] == ["a[0][0]", "project[0][0]"]
    with pytest.raises(
        ValueError, match=r"the model has 2 inputs \(a, b\); pass a list of 2 arrays .*Received: one ndarray"
    ):
        model.predict(xa)
    with pytest.raises(
        ValueError, match=r"no value for the inputs \['b'\]. Received: a dict with keys \['a'\]"
    ):
        model({"a": xa})
    with pytest.raises(
        ValueError, match=r"all inputs must have the same number of samples. Received: lengths \[9, 8\]"
    ):
        model.predict([xa, xb[:8]])


def test_two_input_model_trains_and_round_trips_its_config():
    set_random_seed(7)
    model = two_input_model()
    rng = np.random.default_rng(8)
    xa, xb = rng.normal(size=(48, 4)), rng.normal(size=(48, 3))
    target = xa[:, :1] - xb[:, 1:2]
    model.compile(optimizer="adam", loss="mse")
    history = model.fit([xa, xb], target, epochs=5, batch_size=8, validation_split=0.25, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] and "val_loss" in history
    assert np.isfinite(model.evaluate([xa, xb], target, verbose=0))
    with pytest.raises(ValueError, match=r"Model 'two'.fit: all inputs must have the same number of samples. "
                                         r"Received: len\(x\[0\]\)=48, len\(x\[1\]\)=47"):
        model.fit([xa, xb[:47]], target)
    clone = Model.from_config(json.loads(json.dumps(model.get_config())))
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0))


def test_shared_layer_is_one_layer_with_two_calls():
    a, b = Input((3,)), Input((3,))
    shared = Dense(2, name="shared")
    y = Subtract()([shared(a), shared(b)])
    model = Model([a, b], y)
    assert [item.name for item in model.layers].count("shared") == 1 and len(model.weights) == 2
    rows = {r["name"]: r for r in model.summary_rows()}
    assert rows["shared"]["connected_to"] == ["input_layer[0][0]", "input_layer_1[0][0]"]
    assert rows["subtract"]["connected_to"] == ["shared[0][0]", "shared[1][0]"]
    config = model.get_config()
    assert [item for item in config["layers"] if item["name"] == "shared"][0]["inbound_nodes"] == [
        [["input_layer", 0, 0]], [["input_layer_1", 0, 0]]]
    rng = np.random.default_rng(9)
    xa, xb = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    kernel, bias = shared.get_weights()
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), (xa - xb) @ kernel, rtol=1e-5, atol=1e-6)
    # the shared kernel gets the gradient of both uses: d/dK sum(g * (xa K - xb K)) = (xa - xb)^T g
    g = rng.normal(size=(5, 2))
    with GradientTape() as tape:
        out = model([xa, xb], training=True)
    grad_kernel, grad_bias = tape.gradient(
        out, [shared.kernel, shared.bias], output_gradient=g.astype("float32")
    )
    np.testing.assert_allclose(grad_kernel, (xa - xb).T @ g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_bias, np.zeros(2), atol=1e-6)
    clone = Model.from_config(json.loads(json.dumps(config)))
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0))


def test_shared_conv_on_two_sizes_shows_multiple_shapes(capsys):
    a, b = Input((8, 8, 1)), Input((6, 6, 1))
    conv = Conv2D(2, 3, name="conv")
    pa, pb = GlobalAveragePooling2D()(conv(a)), GlobalAveragePooling2D()(conv(b))
    model = Model([a, b], Add()([pa, pb]))
    row = [r for r in model.summary_rows() if r["name"] == "conv"][0]
    assert row["output_shape"] == [(None, 6, 6, 2), (None, 4, 4, 2)] and row["receptive_field"] == (3, 3)
    model.summary()
    assert re.search(
        r"conv \(Conv2D\)\s+multiple\s+20\s+3x3\s+1x1\s+input_layer\[0\]\[0\], input_layer_1\[0\]\[0\]",
        capsys.readouterr().out,
    )


def test_model_called_on_symbolic_tensors_reuses_its_layers():
    inner = residual_model()
    x = Input((8, 8, 2))
    outer = Model(x, Dense(1)(inner(x)))
    assert [item.name for item in outer.layers][1:7] == [item.name for item in inner.layers][1:]
    data = np.random.default_rng(10).normal(size=(4, 8, 8, 2))
    np.testing.assert_allclose(
        outer.predict(data, verbose=0), outer.layers[-1](inner.predict(data, verbose=0)), rtol=1e-6
    )


def test_model_construction_errors():
    x, other = Input((3,)), Input((3,))
    y = Dense(2)(Add()([x, other]))
    with pytest.raises(
        ValueError,
        match=r"the graph is disconnected: the outputs depend on <SymbolicInput shape=\(None, 3\).*"
        r"name=input_layer_1>, which is not among the model's inputs. "
        r"Received: inputs=\['input_layer'\]",
    ):
        Model(x, y)
    with pytest.raises(
        ValueError,
        match=r"every input must be a tensor returned by Input\(shape\). Received: inputs\[0\]=<KerasTensor",
    ):
        Model(y, y)
    with pytest.raises(
        TypeError,
        match=r"Model 'functional_\d+': the functional API needs inputs and outputs.*Received: inputs=given, "
        r"outputs=None",
    ):
        Model(x)
    with pytest.raises(TypeError, match=r"outputs must be a symbolic tensor .* Received: outputs=\[\]"):
        Model(x, [])
    with pytest.raises(TypeError, match=r"outputs must be a symbolic tensor .* Received: outputs=array"):
        Model(x, np.zeros(3))
    with pytest.raises(ValueError, match=r"the same Input appears twice in inputs. Received: inputs\[1\]"):
        Model([x, x], Dense(1)(x))
    with pytest.raises(
        ValueError, match=r"all layers must have unique names. Received: two layers named 'twin'"
    ):
        Model(x, Add()([Dense(3, name="twin")(x), Dense(3, name="twin")(x)]))
    model = Model([x, other], [y, Dense(1)(x)])
    assert isinstance(model.output, list) and model.output_shape == [(None, 2), (None, 1)]
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        ValueError,
        match=r"fit: training and evaluation support models with one output. Received: a model with 2 "
        r"outputs",
    ):
        model.fit([np.zeros((2, 3))] * 2, np.zeros((2, 2)))
    outs = model.predict([np.zeros((2, 3))] * 2, verbose=0)
    assert [o.shape for o in outs] == [(2, 2), (2, 1)]


def test_weights_api_and_set_weights_errors():
    model = two_input_model()
    assert [w.path for w in model.weights] == ["project/kernel", "project/bias", "head/kernel", "head/bias"]
    assert model.count_params() == 3 * 2 + 2 + 6 + 1
    new = [np.full(w.shape, 0.5) for w in model.get_weights()]
    model.set_weights(new)
    assert all(np.all(w == 0.5) for w in model.get_weights())
    with pytest.raises(
        ValueError,
        match=r"set_weights expected a list of 4 arrays \(project/kernel, .*Received: a list of 1 arrays",
    ):
        model.set_weights(new[:1])
    with pytest.raises(
        ValueError, match=r"weight 'head/kernel' has shape \(6, 1\). Received: an array of shape \(1, 6\)"
    ):
        model.set_weights(new[:2] + [np.zeros((1, 6)), new[3]])
    model.get_layer("project").trainable = False
    assert [w.path for w in model.trainable_weights] == ["head/kernel", "head/bias"]
    assert [w.path for w in model.non_trainable_weights] == ["project/kernel", "project/bias"]
    assert convolve.Model is Model


# ---- merging layers ----------------------------------------------------------------------------

ELEMENTWISE = [
    (Add, lambda xs: sum(xs)),
    (Subtract, lambda xs: xs[0] - xs[1]),
    (Multiply, lambda xs: np.prod(xs, axis=0)),
    (Average, lambda xs: np.mean(xs, axis=0)),
    (Maximum, lambda xs: np.max(xs, axis=0)),
    (Minimum, lambda xs: np.min(xs, axis=0)),
]


@pytest.mark.parametrize("cls, reference", ELEMENTWISE, ids=[c.__name__ for c, _ in ELEMENTWISE])
def test_elementwise_values_and_shapes(cls, reference):
    rng = np.random.default_rng(11)
    n = 2 if cls is Subtract else 3
    xs = [rng.normal(size=(4, 5, 2)) for _ in range(n)]
    layer = cls(dtype="float64")
    np.testing.assert_allclose(layer(xs), reference(xs), rtol=1e-12)
    assert cls()([Input((5, 2)) for _ in range(n)]).shape == (None, 5, 2)
    out = layer(xs)
    assert out.dtype == np.float64 and cls()(xs).dtype == np.float32


def test_elementwise_broadcasting_like_keras():
    rng = np.random.default_rng(12)
    low, high, ones = rng.normal(size=(2, 3)), rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 1))
    np.testing.assert_allclose(Add(dtype="float64")([low, high]), low[:, None, :] + high, rtol=1e-12)
    np.testing.assert_allclose(Multiply(dtype="float64")([high, ones]), high * ones, rtol=1e-12)
    assert Add()([Input((3,)), Input((4, 3))]).shape == (None, 4, 3)
    assert Add()([Input((4, 1)), Input((1, 3))]).shape == (None, 4, 3)
    assert Add()([Input((None, 3)), Input((4, 3))]).shape == (None, 4, 3)
    assert Add()([Input((None, 3)), Input((1, 3))]).shape == (None, None, 3)


def test_concatenate_values_and_shapes():
    rng = np.random.default_rng(13)
    a, b, c = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 1)), rng.normal(size=(2, 3, 2))
    np.testing.assert_array_equal(Concatenate(dtype="float64")([a, b, c]), np.concatenate([a, b, c], axis=-1))
    np.testing.assert_array_equal(
        Concatenate(axis=1, dtype="float64")([a, a]), np.concatenate([a, a], axis=1)
    )
    np.testing.assert_array_equal(
        Concatenate(axis=-2, dtype="float64")([a, a]), np.concatenate([a, a], axis=1)
    )
    assert Concatenate()([Input((3, 4)), Input((3, 1))]).shape == (None, 3, 5)
    assert Concatenate(axis=1)([Input((None, 4)), Input((3, 4))]).shape == (None, None, 4)
    assert Concatenate()([Input((None, 4)), Input((3, 1))]).shape == (None, 3, 5)
    assert Concatenate(axis=2).get_config()["axis"] == 2


MERGES = [Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate]


@pytest.mark.parametrize("cls", MERGES, ids=[c.__name__ for c in MERGES])
def test_merge_gradients_match_finite_differences(cls):
    rng = np.random.default_rng(14)
    shapes = [(2, 3, 4), (2, 3, 4)] if cls is Subtract else [(2, 3, 4), (2, 1, 4), (2, 4)]
    if cls is Concatenate:
        shapes = [(2, 3, 4), (2, 3, 1), (2, 3, 2)]
    xs = [rng.normal(size=s) for s in shapes]
    layer = cls(dtype="float64")
    g = rng.normal(size=layer(xs).shape)
    tensors = [Tensor(x) for x in xs]
    with GradientTape() as tape:
        out = layer(tensors)
    grads = tape.gradient(out, tensors, output_gradient=g)
    for x, grad in zip(xs, grads):
        expected = finite_difference(lambda: float(np.sum(layer(xs) * g)), x)
        np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-9)


def test_maximum_and_minimum_give_ties_to_the_first_input():
    a = Tensor(np.array([[1.0, 2.0, 3.0]]))
    b = Tensor(np.array([[1.0, 5.0, 0.0]]))
    for cls, first in ((Maximum, [1, 0, 1]), (Minimum, [1, 1, 0])):
        with GradientTape() as tape:
            out = cls(dtype="float64")([a, b])
        ga, gb = tape.gradient(out, [a, b])
        np.testing.assert_array_equal(ga, [first])
        np.testing.assert_array_equal(gb, [[0, 1 - first[1], 1 - first[2]]])


def test_autograd_merge_ops_with_a_constant():
    x = Tensor(np.array([1.0, 4.0]))
    with GradientTape() as tape:
        y = autograd.subtract(np.array([10.0, 10.0]), x)
    np.testing.assert_array_equal(y.value, [9.0, 6.0])
    np.testing.assert_array_equal(tape.gradient(y, [x])[0], [-1.0, -1.0])
    assert isinstance(autograd.concatenate([np.ones(2), np.zeros(1)], axis=0), np.ndarray)  # nothing recorded


def test_merge_error_messages():
    x3, x4, x1 = Input((3,)), Input((4,)), Input((1,))
    with pytest.raises(
        ValueError,
        match=r"Add 'add': inputs must have the same shape, except for axes of size 1 "
        r"\(which broadcast\); axis 1 has sizes \[3, 4\]. "
        r"Received: input shapes \[\(None, 3\), \(None, 4\)\]",
    ):
        Add()([x3, x4])
    with pytest.raises(
        ValueError, match=r"Maximum 'maximum': inputs must have the same shape.*axis 2 has sizes \[2, 5\]"
    ):
        Maximum()([np.zeros((2, 3, 2)), np.zeros((2, 3, 5))])
    with pytest.raises(
        ValueError,
        match=r"Multiply 'multiply': cannot merge tensors with different batch sizes. "
        r"Received: input shapes \[\(2, 3\), \(5, 3\)\]",
    ):
        Multiply()([np.zeros((2, 3)), np.zeros((5, 3))])
    with pytest.raises(
        ValueError,
        match=r"Average 'average': a merge layer must be called on a list of at least 2 inputs. "
        r"Received: 1 input with shapes \[\(None, 3\)\]",
    ):
        Average()([x3])
    with pytest.raises(
        ValueError,
        match=r"Minimum 'minimum': a merge layer must be called on a list of at least 2 inputs. "
        r"Received: 0 inputs",
    ):
        Minimum()([])
    with pytest.raises(ValueError, match=r"Add 'add_1': a merge layer must be called on a list of inputs. "
                                         r"Received: a single input of shape \(None, 3\)"):
        Add()(x3)
    with pytest.raises(ValueError, match=r"Add 'add_2': a merge layer must be called on a list of inputs. "
                                         r"Received: a single input of shape \(2, 3\)"):
        Add()(np.zeros((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"Subtract 'subtract': a Subtract layer must be called on exactly 2 inputs. "
        r"Received: 3 inputs with shapes \[\(None, 3\), \(None, 3\), \(None, 1\)\]",
    ):
        Subtract()([x3, x3, x1])
    with pytest.raises(ValueError, match=r"Add 'add_3': every input needs a batch axis \(rank 1 or more\). "
                                         r"Received: input shapes \[\(\), \(\)\]"):
        Add()([np.float64(1.0), np.float64(2.0)])
    with pytest.raises(
        TypeError,
        match=r"Layer Add 'add_4' expected a numeric array .* for inputs\[1\]. Received: inputs\[1\] with "
        r"dtype=<U1",
    ):
        Add()([np.zeros((1, 1)), np.array([["a"]])])


def test_concatenate_error_messages():
    a, b = Input((4, 3)), Input((5, 3))
    with pytest.raises(
        ValueError,
        match=r"Concatenate 'concatenate': a Concatenate layer requires inputs with matching "
        r"shapes except for the concatenation axis -1; the sizes on axis 1 differ. "
        r"Received: input shapes \[\(None, 4, 3\), \(None, 5, 3\)\]",
    ):
        Concatenate()([a, b])
    with pytest.raises(
        ValueError, match=r"the batch sizes differ. Received: input shapes \[\(2, 3\), \(4, 3\)\]"
    ):
        Concatenate()([np.zeros((2, 3)), np.zeros((4, 3))])
    with pytest.raises(
        ValueError,
        match=r"Concatenate 'concatenate_2': a Concatenate layer requires inputs of the same rank. "
        r"Received: input shapes \[\(None, 4, 3\), \(None, 3\)\]",
    ):
        Concatenate()([a, Input((3,))])
    for axis in (0, -3, 3, -4):
        with pytest.raises(
            ValueError,
            match=rf"axis={axis} is not a valid concatenation axis for inputs of rank 3: it must "
            rf"be between -2 and 2 and not the batch axis \(0 or -3\). "
            rf"Received: axis={axis} for input shapes \[\(None, 4, 3\), \(None, 4, 3\)\]",
        ):
            Concatenate(axis=axis)([a, a])
    with pytest.raises(
        TypeError,
        match=r"Concatenate 'concatenate_\d+': the `axis` argument must be an integer. Received: axis='1'",
    ):
        Concatenate(axis="1")
    with pytest.raises(
        ValueError, match=r"a merge layer must be called on a list of at least 2 inputs. Received: 1 input"
    ):
        Concatenate()([a])


def test_merge_layers_in_configs():
    from convolve import layers as L

    for cls in MERGES:
        layer = cls(name=f"m_{cls.__name__.lower()}")
        clone = L.deserialize(json.loads(json.dumps(L.serialize(layer))))
        assert type(clone) is cls and clone.name == layer.name
    assert L.deserialize(L.serialize(Concatenate(axis=1))).axis == 1
    assert L.get("Concatenate") is Concatenate


class _Remember(Layer):
    """Identity (a new array) that keeps a weak reference to its output."""

    def call(self, inputs, training=False):
        out = inputs * 1.0
        self.ref = weakref.ref(out)
        return out


class _Probe(Layer):
    """Identity that notes whether the _Remember layer's output is still alive."""

    def __init__(self, remember, **kwargs):
        super().__init__(**kwargs)
        self.remember = remember

    def call(self, inputs, training=False):
        self.alive = self.remember.ref() is not None
        return inputs


def test_intermediate_values_are_freed_after_their_last_reader():
    x = Input((3,))
    remember = _Remember()
    probe = _Probe(remember)
    model = Model(x, probe(ReLU()(remember(x))))
    model.predict(np.ones((2, 3)), verbose=0)
    assert probe.alive is False
    h = remember(x)
    kept = Model(x, [probe(ReLU()(h)), h])  # an output is kept to the end
    kept.predict(np.ones((2, 3)), verbose=0)
    assert probe.alive is True
