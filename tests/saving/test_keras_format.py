"""Keras' files against Keras 3 itself (PyTorch backend): a convolve model saved as .keras, .h5 or
.weights.h5 loads in Keras and predicts the same, and a Keras model saved by Keras loads in
convolve and predicts the same, for every layer type both have; compile settings and optimizer
state carry over, so training continues alike on either side."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from convolve import activations, optimizers
from convolve import layers as L
from convolve.models import Model, Sequential, load_model
from tests.helpers import relative_error, requires

pytestmark = [requires("keras"), requires("h5py"), requires("torch")]


def keras():
    """Keras 3 on its PyTorch backend (only for the tests of this module, all marked)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as keras_module

    return keras_module


def data(shape, n=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def close(a, b, bound=1e-5):
    return relative_error(a, b) < bound


#: (id, input shape, layer maker given convolve.layers or keras.layers): every layer type both have
LAYERS = [
    ("Conv1D-causal-dilated", (7, 3), lambda m: m.Conv1D(4, 3, padding="causal", dilation_rate=2)),
    ("Conv1D-same-strided", (7, 3), lambda m: m.Conv1D(4, 2, strides=2, padding="same", activation="relu")),
    ("Conv2D-same-strided-even", (8, 8, 3), lambda m: m.Conv2D(4, 4, strides=2, padding="same")),
    ("Conv2D-groups-dilated", (8, 8, 4), lambda m: m.Conv2D(4, 3, groups=2, dilation_rate=2, use_bias=False)),
    ("Conv2D-channels_first", (3, 6, 6), lambda m: m.Conv2D(2, 3, data_format="channels_first")),
    ("Conv3D", (5, 5, 5, 2), lambda m: m.Conv3D(3, 2, padding="same", activation="sigmoid")),
    ("Conv1DTranspose", (5, 3), lambda m: m.Conv1DTranspose(2, 3, strides=2, padding="same")),
    ("Conv2DTranspose", (5, 5, 3), lambda m: m.Conv2DTranspose(2, 3, strides=2, output_padding=1)),
    ("Conv3DTranspose", (3, 3, 3, 2), lambda m: m.Conv3DTranspose(2, 2, strides=2)),
    ("DepthwiseConv1D", (7, 3), lambda m: m.DepthwiseConv1D(3, depth_multiplier=2, padding="same")),
    ("DepthwiseConv2D", (7, 7, 3), lambda m: m.DepthwiseConv2D(3, strides=2, padding="same")),
    ("SeparableConv1D", (7, 3), lambda m: m.SeparableConv1D(4, 3, depth_multiplier=2)),
    ("SeparableConv2D", (7, 7, 3), lambda m: m.SeparableConv2D(4, 3, padding="same")),
    ("MaxPooling1D", (8, 3), lambda m: m.MaxPooling1D(3, strides=2, padding="same")),
    ("MaxPooling2D", (7, 7, 3), lambda m: m.MaxPooling2D()),
    ("MaxPooling3D", (4, 4, 4, 2), lambda m: m.MaxPooling3D(2)),
    ("AveragePooling1D", (8, 3), lambda m: m.AveragePooling1D(2)),
    ("AveragePooling2D-same", (7, 7, 3), lambda m: m.AveragePooling2D(3, strides=2, padding="same")),
    ("AveragePooling3D", (4, 4, 4, 2), lambda m: m.AveragePooling3D(2)),
    ("GlobalAveragePooling1D", (4, 3), lambda m: m.GlobalAveragePooling1D()),
    ("GlobalMaxPooling1D", (4, 3), lambda m: m.GlobalMaxPooling1D()),
    ("GlobalAveragePooling2D", (4, 4, 3), lambda m: m.GlobalAveragePooling2D()),
    ("GlobalMaxPooling2D-keepdims", (4, 4, 3), lambda m: m.GlobalMaxPooling2D(keepdims=True)),
    ("GlobalAveragePooling3D", (3, 3, 3, 2), lambda m: m.GlobalAveragePooling3D()),
    ("GlobalMaxPooling3D", (3, 3, 3, 2), lambda m: m.GlobalMaxPooling3D()),
    ("Dense", (4, 3), lambda m: m.Dense(5, activation="tanh")),
    ("Flatten", (4, 3), lambda m: m.Flatten()),
    ("Reshape", (4, 3), lambda m: m.Reshape((2, 6))),
    ("Dropout", (4, 3), lambda m: m.Dropout(0.5, noise_shape=(None, 1, 3), seed=1)),
    ("Activation", (4, 3), lambda m: m.Activation("gelu")),
    ("ReLU", (4, 3), lambda m: m.ReLU(max_value=0.5, negative_slope=0.1, threshold=0.2)),
    ("LeakyReLU", (4, 3), lambda m: m.LeakyReLU(0.2)),
    ("Softmax", (4, 3), lambda m: m.Softmax(axis=1)),
    ("ZeroPadding1D", (4, 3), lambda m: m.ZeroPadding1D((1, 2))),
    ("ZeroPadding2D", (4, 4, 3), lambda m: m.ZeroPadding2D(((1, 2), (0, 1)))),
    ("ZeroPadding3D", (3, 3, 3, 1), lambda m: m.ZeroPadding3D(1)),
    ("Cropping1D", (6, 3), lambda m: m.Cropping1D((1, 2))),
    ("Cropping2D", (6, 6, 3), lambda m: m.Cropping2D(((1, 2), (0, 1)))),
    ("Cropping3D", (4, 4, 4, 1), lambda m: m.Cropping3D(1)),
    ("UpSampling1D", (4, 3), lambda m: m.UpSampling1D(3)),
    ("UpSampling2D", (4, 4, 3), lambda m: m.UpSampling2D((2, 3))),
    ("UpSampling3D", (2, 2, 2, 1), lambda m: m.UpSampling3D(2)),
    ("Permute", (4, 3, 2), lambda m: m.Permute((3, 1, 2))),
    ("Permute-swap", (4, 3), lambda m: m.Permute((2, 1))),
    ("BatchNormalization", (4, 4, 3), lambda m: m.BatchNormalization(momentum=0.9, epsilon=0.01)),
    ("Rescaling", (4, 4, 3), lambda m: m.Rescaling(1 / 255.0, offset=-1)),
    ("Normalization", (4, 4, 3), lambda m: m.Normalization(mean=[1, 2, 3], variance=[1, 4, 9])),
    ("Resizing", (6, 6, 3), lambda m: m.Resizing(4, 3)),
    ("Resizing-nearest", (6, 6, 3), lambda m: m.Resizing(3, 9, interpolation="nearest")),
    ("CenterCrop", (6, 6, 3), lambda m: m.CenterCrop(4, 3)),
    ("RandomFlip", (6, 6, 3), lambda m: m.RandomFlip("horizontal", seed=1)),
    ("RandomRotation", (6, 6, 3), lambda m: m.RandomRotation(0.1, fill_mode="nearest", seed=1)),
    ("RandomZoom", (6, 6, 3), lambda m: m.RandomZoom(0.1, seed=1)),
    ("RandomTranslation", (6, 6, 3), lambda m: m.RandomTranslation(0.1, 0.2, seed=1)),
    ("RandomContrast", (6, 6, 3), lambda m: m.RandomContrast(0.2, seed=1)),
    ("RandomBrightness", (6, 6, 3), lambda m: m.RandomBrightness((-0.1, 0.3), seed=1)),
]


def randomized(model):
    """Weights away from their initial values (BatchNormalization's statistics included)."""
    rng = np.random.default_rng(7)
    model.set_weights([rng.uniform(0.5, 1.5, np.shape(w)).astype("float32") for w in model.get_weights()])


@pytest.mark.parametrize("shape, make", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_every_layer_saved_by_convolve_loads_in_keras_and_predicts_the_same(tmp_path, shape, make):
    model = Sequential([L.Input(shape), make(L)])
    randomized(model)
    model.save(tmp_path / "m.keras")
    loaded = keras().saving.load_model(tmp_path / "m.keras")
    x = data(shape)
    assert close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    ours = json.loads(zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))["config"]["layers"][-1]
    theirs = loaded.layers[-1]
    assert type(theirs).__name__ == ours["class_name"] == type(model.layers[-1]).__name__
    assert set(ours["config"]) <= set(theirs.get_config()), "a key Keras' layer does not write"


@pytest.mark.parametrize("shape, make", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_every_layer_saved_by_keras_loads_in_convolve_and_predicts_the_same(tmp_path, shape, make):
    k = keras()
    model = k.Sequential([k.Input(shape), make(k.layers)])
    randomized(model)
    model.save(tmp_path / "k.keras")
    loaded = load_model(tmp_path / "k.keras")
    x = data(shape)
    assert type(loaded.layers[-1]).__name__ == type(model.layers[-1]).__name__
    assert close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_every_activation_name_means_the_same_in_keras(tmp_path, name):
    model = Sequential([L.Input((5,)), L.Dense(4, activation=name)])
    model.save(tmp_path / "m.keras")
    x = data((5,)) * 3
    assert close(
        keras().saving.load_model(tmp_path / "m.keras").predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_random_crop_round_trips_its_config_both_ways(tmp_path):
    """Keras 3.15's RandomCrop returns its input unchanged at inference (its docs and its
    compute_output_shape say centre crop, as convolve does), so only configs and training
    shapes can be compared."""
    k = keras()
    model = Sequential([L.Input((6, 6, 3)), L.RandomCrop(4, 3, seed=5, name="crop")])
    model.save(tmp_path / "m.keras")
    theirs = k.saving.load_model(tmp_path / "m.keras").layers[-1]
    assert (theirs.height, theirs.width, theirs.seed) == (4, 3, 5)
    assert (
        tuple(theirs(data((6, 6, 3)), training=True).shape) == model.predict(data((6, 6, 3)), verbose=0).shape
    )
    k.Sequential([k.Input((6, 6, 3)), k.layers.RandomCrop(2, 5, seed=9, name="crop")]).save(
        tmp_path / "k.keras"
    )
    ours = load_model(tmp_path / "k.keras").layers[-1]
    assert (type(ours).__name__, ours.height, ours.width, ours.seed) == ("RandomCrop", 2, 5, 9)


@pytest.mark.parametrize("make, shape, pads", [
    (lambda: L.Conv2D(3, 3, padding=1), (6, 6, 2), [[1, 1], [1, 1]]),
    (lambda: L.Conv2D(3, (3, 2), padding=(2, 0)), (6, 6, 2), [[2, 2], [0, 0]]),
    (lambda: L.Conv2D(3, 3, padding=((0, 2), (1, 0)), strides=2), (7, 7, 2), [[0, 2], [1, 0]]),
    (lambda: L.Conv2D(3, 3, padding="full", dilation_rate=2), (6, 6, 2), [[4, 4], [4, 4]]),
    (lambda: L.Conv1D(3, 3, padding=2), (6, 2), [2, 2]),
    (lambda: L.Conv3D(2, 2, padding=1), (3, 3, 3, 2), [[1, 1], [1, 1], [1, 1]]),
    (lambda: L.DepthwiseConv1D(3, padding="causal", dilation_rate=2), (7, 2), [4, 0]),
    (lambda: L.SeparableConv1D(3, 2, padding="causal"), (7, 2), [1, 0]),
    (lambda: L.DepthwiseConv2D(3, padding=1, data_format="channels_first"), (2, 5, 5), [[1, 1], [1, 1]]),
    (lambda: L.Conv2D(3, 3, padding=((0, 0), (0, 0))), (6, 6, 2), None),
])
def test_convolve_only_padding_becomes_zero_padding_before_a_valid_convolution(tmp_path, make, shape, pads):
    model = Sequential([L.Input(shape), make()])
    randomized(model)
    model.save(tmp_path / "m.keras")
    loaded = keras().saving.load_model(tmp_path / "m.keras")
    if pads is None:
        assert [type(layer).__name__ for layer in loaded.layers] == ["Conv2D"]
    else:
        padding, conv = loaded.layers
        assert (
            type(padding).__name__.startswith("ZeroPadding")
            and padding.name == f"{model.layers[0].name}_padding"
        )
        assert json.loads(json.dumps(padding.get_config()["padding"])) == pads
        assert conv.get_config()["padding"] == "valid"
    x = data(shape)
    assert close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def branchy_model():
    """Two inputs, branches of different depth, a shared layer called twice, a padded
    convolution (a ZeroPadding inserted) and two outputs."""
    image, extra = L.Input((6, 6, 3), name="image"), L.Input((2,), name="extra")
    a = L.Conv2D(3, 3, padding=1, name="a")(image)
    b = L.Dense(3, name="b3")(L.Dense(3, name="b2")(L.Dense(3, name="b1")(image)))
    merged = L.Concatenate(name="cat")([L.Add(name="add")([a, b]), image])
    shared = L.Dense(2, name="shared")
    first = shared(L.GlobalAveragePooling2D(name="gap")(merged))
    second = shared(L.GlobalMaxPooling2D(name="gmp")(merged))
    out = L.Multiply(name="mul")([L.Subtract(name="sub")([first, second]), L.Dense(2, name="e")(extra)])
    return Model([image, extra], [out, first], name="branchy")


def test_functional_model_both_ways_and_through_every_file(tmp_path):
    k = keras()
    model = branchy_model()
    randomized(model)
    x = [data((6, 6, 3)), data((2,), seed=1)]
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.h5")
    for name in ("m.keras", "m.h5"):
        theirs = k.saving.load_model(tmp_path / name)
        assert all(close(a, b) for a, b in zip(theirs.predict(x, verbose=0), expected))
    theirs.save(tmp_path / "k.keras")
    theirs.save(tmp_path / "k.h5")
    for name in ("k.keras", "k.h5"):
        ours = load_model(tmp_path / name)
        assert [t.name for t in ours.inputs] == ["image", "extra"]
        assert all(close(a, b) for a, b in zip(ours.predict(x, verbose=0), expected))


def test_weights_files_move_weights_between_keras_and_convolve(tmp_path):
    k = keras()
    model = branchy_model()
    model.save(tmp_path / "m.keras")
    theirs = k.saving.load_model(tmp_path / "m.keras")  # the same architecture in Keras
    x = [data((6, 6, 3)), data((2,), seed=1)]
    randomized(model)
    model.save_weights(tmp_path / "w.weights.h5")
    theirs.load_weights(tmp_path / "w.weights.h5")
    assert all(close(a, b) for a, b in zip(theirs.predict(x, verbose=0), model.predict(x, verbose=0)))
    theirs.set_weights([w * 0.5 for w in theirs.get_weights()])
    theirs.save_weights(tmp_path / "k.weights.h5")
    model.load_weights(tmp_path / "k.weights.h5")
    assert all(close(a, b) for a, b in zip(model.predict(x, verbose=0), theirs.predict(x, verbose=0)))
    model.save_weights(tmp_path / "legacy.h5")  # Keras 2's weights-only layout, which Keras 3 still reads
    theirs.set_weights([w * 0 for w in theirs.get_weights()])
    theirs.load_weights(tmp_path / "legacy.h5")
    assert all(close(a, b) for a, b in zip(theirs.predict(x, verbose=0), model.predict(x, verbose=0)))
    theirs.set_weights([w * 2 for w in theirs.get_weights()])
    theirs.save(tmp_path / "k.keras")
    model.load_weights(tmp_path / "k.keras")  # the weights of an archive, as Keras' load_weights
    assert all(close(a, b) for a, b in zip(model.predict(x, verbose=0), theirs.predict(x, verbose=0)))


def sequential_for_training():
    """No bias before BatchNormalization: its gradient is zero up to rounding, which Adam
    would turn into steps of noise that differ between any two implementations."""
    return Sequential([
        L.Input((6, 6, 2)), L.Conv2D(3, 3, padding=1, use_bias=False, name="conv"), L.BatchNormalization(),
        L.ReLU(), L.Flatten(), L.Dense(3, activation="softmax"),
    ])


@pytest.mark.parametrize("optimizer", [
    lambda: optimizers.Adam(0.01), lambda: optimizers.Adam(0.01, amsgrad=True),
    lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True), lambda: optimizers.SGD(0.1),
    lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True), lambda: optimizers.Adagrad(0.1),
    lambda: optimizers.AdamW(0.01, weight_decay=0.1),
], ids=["adam", "amsgrad", "sgd-nesterov", "sgd", "rmsprop-centered", "adagrad", "adamw"])
def test_keras_continues_training_from_the_saved_optimizer_state(tmp_path, optimizer):
    x, y = data((6, 6, 2), n=8), np.arange(8) % 3
    model = sequential_for_training()
    model.compile(optimizer(), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    theirs = keras().saving.load_model(tmp_path / "m.keras")
    assert (
        int(theirs.optimizer.iterations) == 2
        and type(theirs.optimizer).__name__ == type(model.optimizer).__name__
    )
    assert theirs.optimizer.learning_rate.numpy() == pytest.approx(model.optimizer.learning_rate)
    theirs.train_on_batch(x, y)
    model.train_on_batch(x, y)
    for ours, keras_weight in zip(model.get_weights(), theirs.get_weights()):
        assert close(keras_weight, ours), "one more step in Keras differs from one more step in convolve"
    untrained = sequential_for_training()  # state saved before the first step: Keras' initial slots
    untrained.compile(optimizer(), "mse")
    untrained.save(tmp_path / "u.keras")
    assert int(keras().saving.load_model(tmp_path / "u.keras").optimizer.iterations) == 0


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_convolve_continues_training_from_a_keras_optimizer_state(tmp_path, name):
    k = keras()
    theirs = k.Sequential(
        [
            k.Input((6, 6, 2)),
            k.layers.Conv2D(3, 3, padding="same", use_bias=False),
            k.layers.BatchNormalization(),
            k.layers.ReLU(),
            k.layers.Flatten(),
            k.layers.Dense(3, activation="softmax"),
        ]
    )
    opt = k.optimizers.Adam(0.01) if name == "adam" else k.optimizers.SGD(0.1, momentum=0.8)
    theirs.compile(opt, "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data((6, 6, 2), n=8), np.arange(8) % 3
    theirs.train_on_batch(x, y)
    theirs.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    assert model.optimizer.iterations == 1 and model.compiled_metrics and model.loss is not None
    model.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    assert all(close(a, b) for a, b in zip(model.get_weights(), theirs.get_weights()))


def test_legacy_h5_carries_compile_settings_and_optimizer_state_to_keras(tmp_path):
    """Keras 3.15 on PyTorch reads a legacy .h5's compile settings but cannot restore its optimizer
    variables (not even from its own files), so the state is compared with the file Keras
    writes for the same model and optimizer: same variables, in the same order."""
    import h5py

    k = keras()
    x, y = data((6, 6, 2), n=8), np.arange(8) % 3
    model = sequential_for_training()
    model.compile(optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.h5")
    model.save(tmp_path / "m.keras")
    theirs = k.saving.load_model(tmp_path / "m.h5")
    assert close(theirs.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(theirs.optimizer).__name__ == "SGD" and theirs.optimizer.momentum == pytest.approx(0.9)
    reference = k.saving.load_model(tmp_path / "m.keras")  # Keras' own legacy file for this model
    reference.save(tmp_path / "k.h5")
    with h5py.File(tmp_path / "m.h5") as ours, h5py.File(tmp_path / "k.h5") as keras_file:
        def variables(h5):
            group = h5["optimizer_weights"]
            return [group[name][()] for name in group.attrs["weight_names"]]

        mine, keras_own = variables(ours), variables(keras_file)
        assert [v.shape for v in mine] == [v.shape for v in keras_own] and len(mine) == 7
        assert all(close(a, b) for a, b in zip(mine, keras_own))
        assert set(ours["model_weights"].attrs) - {"convolve_version"} == set(
            keras_file["model_weights"].attrs
        )
    again = load_model(tmp_path / "m.h5")
    assert again.optimizer.iterations == 1 and again.optimizer.momentum == pytest.approx(0.9)
    assert all(close(v, model.optimizer.state()[key]) for key, v in again.optimizer.state().items())


def test_layer_options_regularizers_frozen_layers_and_dtypes_survive_both_ways(tmp_path):
    k = keras()
    model = Sequential([
        L.Input((6, 6, 2)),
        L.Conv2D(2, 3, kernel_regularizer={"class_name": "L2", "config": {"l2": 0.02}}, name="conv"),
        L.SeparableConv2D(2, 2, kernel_regularizer="l1", name="sep"),
        L.BatchNormalization(trainable=False, name="bn"),
        L.Flatten(),
        L.Dense(2, bias_regularizer={"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}, name="d"),
    ])
    randomized(model)
    model.save(tmp_path / "m.keras")
    theirs = k.saving.load_model(tmp_path / "m.keras")
    assert theirs.get_layer("conv").kernel_regularizer.get_config()["l2"] == pytest.approx(0.02)
    assert theirs.get_layer("sep").depthwise_regularizer.get_config()["l1"] == pytest.approx(0.01)
    assert theirs.get_layer("sep").pointwise_regularizer.get_config()["l1"] == pytest.approx(0.01)
    assert not theirs.get_layer("bn").trainable
    x = data((6, 6, 2))
    assert close(theirs.predict(x, verbose=0), model.predict(x, verbose=0))
    theirs.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert ours.get_layer("conv").kernel_regularizer.l2 == pytest.approx(0.02)
    assert ours.get_layer("sep").kernel_regularizer.l1 == pytest.approx(0.01)
    assert not ours.get_layer("bn").trainable and ours.get_layer("d").bias_regularizer.l1 == pytest.approx(
        0.1
    )
    double = Sequential([L.Input((3,), dtype="float64"), L.Dense(2, dtype="float64")])
    double.save(tmp_path / "f64.keras")
    assert k.saving.load_model(tmp_path / "f64.keras").layers[-1].dtype == "float64"
    assert load_model(tmp_path / "f64.keras").layers[-1].dtype == "float64"


def test_adapted_normalization_weights_both_ways(tmp_path):
    k = keras()
    sample = data((4, 4, 3), n=16) * 3 + 1
    model = Sequential([L.Input((4, 4, 3)), L.Normalization()])
    model.layers[0].adapt(sample)
    model.save(tmp_path / "m.keras")
    theirs = k.saving.load_model(tmp_path / "m.keras")
    assert close(theirs.predict(sample, verbose=0), model.predict(sample, verbose=0))
    layer = k.layers.Normalization()
    layer.adapt(sample * 2)
    k.Sequential([k.Input((4, 4, 3)), layer]).save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert close(ours.predict(sample, verbose=0), layer(sample).cpu().numpy())


def test_unbuilt_sequential_saves_its_layers(tmp_path):
    model = Sequential([L.Dense(3, name="d"), L.ReLU(name="r")])
    model.save(tmp_path / "m.keras")
    theirs = keras().saving.load_model(tmp_path / "m.keras")
    assert [layer.name for layer in theirs.layers] == ["d", "r"]
    assert [layer.name for layer in load_model(tmp_path / "m.keras").layers] == ["d", "r"]
