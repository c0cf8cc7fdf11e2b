"""Sequential: construction, predict, summary, weights; and the seeds' examples end to end."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convolve.layers import Conv1D, Conv2D, Input, clear_session
from convolve.models import Sequential

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def numbers(text):
    """The decimal numbers a script printed, skipping progress-bar lines."""
    lines = [item for item in text.splitlines() if "/step" not in item and "ETA" not in item]
    return [float(v) for v in re.findall(r"(?<![\w.])-?\d+\.\d*(?:e[+-]?\d+)?", "\n".join(lines))]


def run_example(name):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---- the seeds' examples, with only their import lines changed -----------------------------


def test_seed_1d_bump_prints_the_seeds_numbers():
    out = run_example("seed_1d_bump.py")
    # the seed prints the weights [[0],[1],[0]], bias [0], then the feature map
    assert numbers(out) == [0.0, 1.0, 0.0, 0.0] + [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert "dtype=float32" in out


def test_seed_2d_vertical_line_prints_the_seeds_numbers():
    out = run_example("seed_2d_vertical_line.py")
    weights = [0.0, 1.0, 0.0] * 3 + [0.0]
    assert numbers(out) == weights + [0.0, 0.0, 3.0, 3.0, 0.0, 0.0] * 6


def test_seed_strides_and_padding_shapes():
    out = run_example("seed_strides_and_padding.py")
    assert "strides=(1, 1), padding='valid': output (7, 7)" in out
    assert "strides=(2, 2), padding='valid': output (4, 4)" in out
    assert "strides=(3, 3), padding='valid': output (3, 3)" in out
    assert "strides=(1, 1), padding='same': output (9, 9)" in out
    assert "strides=(2, 1): (1, 255, 510, 1)" in out
    assert "kernel shape: (3, 3, 1, 1)" in out
    assert "padding='same': (1, 512, 512, 1)" in out
    assert "centre of the disc (a 3x3 sum of ones): 9.0" in out


def test_seed_1d_in_process():
    model = Sequential()
    model.add(Conv1D(1, 3, input_shape=(8, 1)))
    model.set_weights([np.asarray([[[0]], [[1]], [[0]]]), np.asarray([0.0])])
    w = model.get_weights()
    assert [a.dtype for a in w] == [np.float32, np.float32]
    assert repr(w[1]) == "array([0.], dtype=float32)"
    yhat = model.predict(np.asarray([0, 0, 0, 1, 1, 0, 0, 0]).reshape(1, 8, 1), verbose=0)
    assert yhat.shape == (1, 6, 1) and yhat.dtype == np.float32
    np.testing.assert_array_equal(yhat[0, :, 0], [0, 0, 1, 1, 0, 0])


def test_512_all_ones_same_is_the_neighbourhood_sum():
    rng = np.random.default_rng(0)
    image = rng.random((1, 512, 512, 1))
    model = Sequential([Conv2D(1, (3, 3), strides=(2, 1), input_shape=(512, 512, 1))])
    assert model.predict(image, verbose=0).shape == (1, 255, 510, 1)
    model = Sequential([Conv2D(1, (3, 3), padding="same", input_shape=(512, 512, 1), dtype="float64")])
    model.set_weights([np.ones((3, 3, 1, 1)), np.zeros(1)])
    y = model.predict(image, verbose=0)
    padded = np.pad(image[0, :, :, 0], 1)
    expected = sum(padded[i : i + 512, j : j + 512] for i in range(3) for j in range(3))
    np.testing.assert_allclose(y[0, :, :, 0], expected, rtol=1e-12)


def test_seed_mnist_layer_summary(capsys):
    model = Sequential([Input(shape=(28, 28, 1)), Conv2D(2, (3, 3))])
    model.build((60000, 28, 28, 1))
    assert model.layers[0].get_weights()[0].shape == (3, 3, 1, 2)
    model = Sequential([Conv2D(2, (3, 3), input_shape=(28, 28, 1))])
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 26, 26, 2)" in out
    assert re.search(r"conv2d_\d+ \(Conv2D\)\s+\(None, 26, 26, 2\)\s+20\s+3x3\s+1x1", out)
    assert "Total params: 20 (80.00 B)" in out


# ---- construction ---------------------------------------------------------------------------


def test_add_and_list_construction_agree():
    a = Sequential([Input((8, 8, 1)), Conv2D(2, 3), Conv2D(3, 3)])
    b = Sequential()
    b.add(Input((8, 8, 1)))
    b.add(Conv2D(2, 3))
    b.add(Conv2D(3, 3))
    assert a.output_shape == b.output_shape == (None, 4, 4, 3)
    assert len(a.layers) == 2 and a.built


def test_builds_on_first_predict_without_input_shape():
    model = Sequential([Conv2D(2, 3), Conv2D(1, 3)])
    assert not model.built
    y = model.predict(np.zeros((3, 7, 7, 1)), verbose=0)
    assert y.shape == (3, 3, 3, 1) and model.built


def test_predict_in_batches_equals_one_call(capsys):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((70, 6, 6, 2))
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(6, 6, 2)), Conv2D(1, 2)])
    whole = model(x)
    batched = model.predict(x, batch_size=32)
    np.testing.assert_allclose(batched, whole, rtol=1e-6)
    out = capsys.readouterr().out
    assert "3/3 [" in out and "/step" in out
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_summary_receptive_field_and_jump(capsys):
    model = Sequential([
        Input((32, 32, 3)),
        Conv2D(4, 3),  # rf 3, jump 1
        Conv2D(4, 3, strides=2),  # rf 5, jump 2
        Conv2D(4, 3, dilation_rate=2),  # rf 5 + 2*2*2 = 13, jump 2
    ])
    rows = model.summary_rows()
    assert [r["receptive_field"] for r in rows] == [(3, 3), (5, 5), (13, 13)]
    assert [r["jump"] for r in rows] == [(1, 1), (2, 2), (2, 2)]
    model.summary()
    out = capsys.readouterr().out
    assert "13x13" in out and "Trainable params: " in out and "Non-trainable params: 0" in out


def test_compile_resolves_names_like_keras():
    from convolve import losses, optimizers

    model = Sequential([Conv2D(1, 3, input_shape=(5, 5, 1))])
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    assert model.compiled and isinstance(model.optimizer, optimizers.Adam)
    assert isinstance(model.loss, losses.MeanSquaredError)
    assert [m.name for m in model.compiled_metrics] == ["accuracy"]
    with pytest.raises(TypeError, match=r"unrecognized keyword argument\(s\) \['foo'\]"):
        model.compile("adam", "mse", foo=1)


# ---- errors ---------------------------------------------------------------------------------


def test_set_weights_wrong_count_and_shape():
    model = Sequential([Conv2D(1, 3, input_shape=(8, 8, 1))])
    with pytest.raises(
        ValueError, match=r"set_weights expected a list of 2 arrays .*Received: a list of 1 arrays"
    ):
        model.set_weights([np.zeros((3, 3, 1, 1))])
    with pytest.raises(
        ValueError,
        match=r"weight 'conv2d/kernel' has shape \(3, 3, 1, 1\). Received: an array of shape \(3, 3\)",
    ):
        model.set_weights([np.zeros((3, 3)), np.zeros(1)])


def test_set_weights_before_build_says_so():
    model = Sequential([Conv2D(1, 3)])
    with pytest.raises(ValueError, match="the model has no weights; is it built"):
        model.set_weights([np.zeros((3, 3, 1, 1)), np.zeros(1)])


def test_add_rejects_non_layers_and_duplicates():
    model = Sequential()
    with pytest.raises(TypeError, match=r"add\(\) expected a Layer .* Received: 3 of type int"):
        model.add(3)
    model.add(Conv2D(1, 3, name="c"))
    with pytest.raises(ValueError, match="unique names. Received: a second layer named 'c'"):
        model.add(Conv2D(1, 3, name="c"))
    with pytest.raises(ValueError, match="an Input can only be the first element"):
        model.add(Input((4, 4, 1)))


def test_predict_checks_every_layer_before_computing():
    with pytest.raises(ValueError, match="Conv2D 'conv2d_1'.*height: input 6, kernel 7"):
        Sequential([Conv2D(1, 3, input_shape=(8, 8, 1)), Conv2D(1, 7)])  # known shape: fails when built
    model = Sequential([Conv2D(1, 3), Conv2D(1, 7, name="late")])
    with pytest.raises(ValueError, match="Conv2D 'late'.*height: input 6, kernel 7"):
        model.predict(np.zeros((2, 8, 8, 1)), verbose=0)
    with pytest.raises(
        ValueError, match="`batch_size` must be a positive integer or None. Received: batch_size=0"
    ):
        model.predict(np.zeros((2, 8, 8, 1)), batch_size=0)
    with pytest.raises(TypeError, match="numeric array"):
        model.predict(np.array(["x"] * 4))


def test_build_without_shape_and_empty_model_errors():
    with pytest.raises(ValueError, match="build\\(\\) needs an input shape"):
        Sequential([Conv2D(1, 3)]).build()
    with pytest.raises(
        ValueError, match=r"\.predict: the model has no layers. Received: a Sequential with no layers"
    ):
        Sequential().predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="no defined output shape"):
        _ = Sequential([Conv2D(1, 3)]).output_shape


def test_config_round_trip_through_json_for_every_layer_kind():
    import json

    from convolve import layers as L

    model = Sequential([
        Input((16, 16, 2)), L.Conv2D(4, 3, activation="relu", padding="same", padding_mode="reflect"),
        L.MaxPooling2D(), L.BatchNormalization(), L.Dropout(0.2), L.Conv2D(2, 3, groups=2, strides=2),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), L.SeparableConv2D(3, 3, padding="same"),
        L.ZeroPadding2D(), L.Cropping2D(((1, 0), (0, 1))), L.UpSampling2D(), L.AveragePooling2D(),
        L.Activation("tanh"), L.LeakyReLU(), L.Flatten(), L.Dense(8), L.ReLU(), L.Reshape((2, 4)),
        L.Softmax(), L.GlobalMaxPooling1D(),
    ])
    clone = Sequential.from_config(json.loads(json.dumps(model.get_config())))
    assert [type(item) for item in clone.layers] == [type(item) for item in model.layers]
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((2, 16, 16, 2))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unknown_layer_class_in_config():
    from convolve import layers as L

    with pytest.raises(
        ValueError,
        match=r"Unknown layer class. Expected one of \[.*'Conv2D'.*\]. Received: class_name='Conv9D'",
    ):
        L.deserialize({"class_name": "Conv9D", "config": {}})


def test_receptive_field_through_a_transposed_convolution():
    from convolve.layers import Conv2DTranspose

    model = Sequential([Input((16, 16, 1)), Conv2D(2, 3, strides=2), Conv2DTranspose(1, 3, strides=2)])
    # each output of the transposed conv sees 2 neighbouring conv outputs (2 apart): 3 + 2 = 5 pixels
    assert [(r["receptive_field"], r["jump"]) for r in model.summary_rows()] == [
        ((3, 3), (2, 2)),
        ((5, 5), (1, 1)),
    ]
