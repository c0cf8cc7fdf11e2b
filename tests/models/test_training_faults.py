"""Training faults: bad data and bad arguments fail loudly and early, never train nothing or
train on garbage in silence (convolve/models/training.py, Model.predict)."""
from __future__ import annotations

import numpy as np
import pytest

from convolve import layers as L
from convolve.callbacks import TerminateOnNaN
from convolve.models import Model, Sequential
from convolve.utils import set_random_seed


def classic():
    set_random_seed(0)
    model = Sequential([
        L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(3, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def data(n=64):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 1)).astype("float32"), np.arange(n) % 3


# ---- one NaN pixel ------------------------------------------------------------------------
def test_one_nan_pixel_reaches_the_loss_and_terminate_on_nan_stops_training(capsys):
    x, y = data()
    x[40, 3, 3, 0] = np.nan  # in the third batch of 16 when not shuffled
    model = classic()
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert model.optimizer.iterations == 3  # stopped at the batch holding the NaN
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_without_the_callback_the_reported_loss_shows_the_nan():
    x, y = data()
    x[0, 0, 0, 0] = np.nan
    model = classic()
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0)
    assert all(np.isnan(history.history["loss"]))


def test_relu_layers_propagate_nan_from_the_input():
    x = np.zeros((1, 5, 5, 1), np.float32)
    x[0, 2, 2, 0] = np.nan
    conv = L.Conv2D(1, 3, activation="relu", kernel_initializer="ones")
    out = conv(x)
    assert np.isnan(out).sum() == 9  # every window that sees the NaN
    assert np.isnan(L.ReLU()(x)).sum() == 1


# ---- empty data -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_empty_data_is_refused(method):
    model = classic()
    x, y = np.zeros((0, 8, 8, 1), np.float32), np.zeros((0,), int)
    with pytest.raises(ValueError, match=rf"\.{method}: there is no data: x and y hold 0 samples. "
                                         r"Received: x.shape=\(0, 8, 8, 1\)"):
        getattr(model, method)(x, y, verbose=0) if method in ("fit", "evaluate") else getattr(model, method)(
            x, y
        )


@pytest.mark.parametrize("split, message", [
    (0.99, r"validation_split=0.99 of 16 samples leaves 0 for training and 16 for validation"),
    (1e-17, r"validation_split=1e-17 of 16 samples leaves 16 for training and 0 for validation"),
])
def test_a_validation_split_that_leaves_a_side_empty_is_refused(split, message):
    x, y = data(16)
    with pytest.raises(ValueError, match=message + r"; both need at least one"):
        classic().fit(x, y, validation_split=split, verbose=0)


# ---- predict on nothing ---------------------------------------------------------------------
def test_predict_on_zero_samples_gives_empty_outputs_of_the_right_shape():
    model = classic()
    out = model.predict(np.zeros((0, 8, 8, 1), np.float32), verbose=0)
    assert out.shape == (0, 3) and out.dtype == np.float32

    unbuilt = Sequential([L.Conv2D(2, 3), L.Flatten()])
    assert unbuilt.predict(np.zeros((0, 6, 6, 1)), verbose=0).shape == (0, 32)

    x = L.Input((4,))
    two = Model(x, [L.Dense(2)(x), L.Dense(5, dtype="float64")(x)])
    first, second = two.predict(np.zeros((0, 4)), verbose=0)
    assert first.shape == (0, 2) and second.shape == (0, 5) and second.dtype == np.float64


def test_predict_and_evaluate_steps_limit_the_batches():
    model = classic()
    x, y = data(64)
    assert model.predict(x, batch_size=16, steps=2, verbose=0).shape == (32, 3)
    np.testing.assert_array_equal(
        model.predict(x, batch_size=16, steps=2, verbose=0), model.predict(x[:32], verbose=0)
    )
    assert model.evaluate(x, y, batch_size=16, steps=1, verbose=0) == model.evaluate(
        x[:16], y[:16], verbose=0
    )


# ---- arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": -1}, r"`epochs` must be a positive integer. Received: epochs=-1"),
        ({"epochs": 0}, r"`epochs` must be a positive integer. Received: epochs=0"),
        ({"epochs": 1.5}, r"`epochs` must be a positive integer. Received: epochs=1.5"),
        ({"epochs": "2"}, r"`epochs` must be a positive integer. Received: epochs='2'"),
        ({"epochs": True}, r"`epochs` must be a positive integer. Received: epochs=True"),
        (
            {"steps_per_epoch": -1},
            r"`steps_per_epoch` must be a positive integer or None. Received: steps_per_epoch=-1",
        ),
        (
            {"steps_per_epoch": 0},
            r"`steps_per_epoch` must be a positive integer or None. Received: steps_per_epoch=0",
        ),
        ({"batch_size": 0}, r"`batch_size` must be a positive integer or None. Received: batch_size=0"),
        ({"batch_size": 2.0}, r"`batch_size` must be a positive integer or None. Received: batch_size=2.0"),
        ({"initial_epoch": -1}, r"`initial_epoch` must be an integer >= 0. Received: initial_epoch=-1"),
        (
            {"epochs": 2, "initial_epoch": 2},
            r"initial_epoch must be smaller than epochs, or nothing is trained. "
            r"Received: initial_epoch=2, epochs=2",
        ),
        (
            {"validation_freq": 0},
            r"`validation_freq` must be a positive integer. Received: validation_freq=0",
        ),
        ({"validation_batch_size": -4}, r"`validation_batch_size` must be a positive integer or None"),
        ({"validation_steps": 0}, r"`validation_steps` must be a positive integer or None"),
        (
            {"validation_split": 1.0},
            r"validation_split must be a number in \[0, 1\). Received: validation_split=1.0",
        ),
        (
            {"validation_split": "0.2"},
            r"validation_split must be a number in \[0, 1\). Received: validation_split='0.2'",
        ),
    ],
)
def test_fit_arguments_are_checked_strictly(kwargs, message):
    x, y = data(16)
    model = classic()
    with pytest.raises(ValueError, match=r"Sequential '\w+'.fit: " + message):
        model.fit(x, y, verbose=0, **kwargs)
    assert model.optimizer.iterations == 0  # nothing was trained


def test_numpy_integers_are_accepted():
    x, y = data(16)
    model = classic()
    history = model.fit(
        x, y, batch_size=np.int64(4), epochs=np.int32(2), steps_per_epoch=np.int64(3), verbose=0
    )
    assert len(history.history["loss"]) == 2 and model.optimizer.iterations == 6
    assert model.predict(x, batch_size=np.int64(5), verbose=0).shape == (16, 3)
    assert np.isfinite(model.evaluate(x, y, batch_size=np.uint8(4), verbose=0)[0])


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_predict_and_evaluate_check_batch_size_and_steps(method):
    x, y = data(16)
    model = classic()
    call = (lambda **kw: model.predict(x, verbose=0, **kw)) if method == "predict" else (
        lambda **kw: model.evaluate(x, y, verbose=0, **kw))
    with pytest.raises(
        ValueError,
        match=rf"\.{method}: `batch_size` must be a positive integer or None. Received: batch_size=-2",
    ):
        call(batch_size=-2)
    with pytest.raises(
        ValueError, match=rf"\.{method}: `steps` must be a positive integer or None. Received: steps=0"
    ):
        call(steps=0)


@pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (-1.0, "-1.0"), (np.inf, "inf")])
def test_nan_negative_or_infinite_sample_weights_are_refused(bad, shown):
    x, y = data(16)
    weights = np.ones(16, np.float32)
    weights[[3, 9]] = bad
    model = classic()
    with pytest.raises(ValueError, match=rf"\.fit: every sample_weight must be a finite number >= 0. "
                                         rf"Received: 2 that are not, the first .*{shown}.* at index 3"):
        model.fit(x, y, sample_weight=weights, verbose=0)
    with pytest.raises(ValueError, match=r"\.evaluate: every sample_weight must be a finite number >= 0"):
        model.evaluate(x, y, sample_weight=weights, verbose=0)
    assert model.optimizer.iterations == 0


def test_negative_class_weights_are_refused():
    x, y = data(16)
    model = classic()
    with pytest.raises(ValueError, match=r"\.fit: every class_weight must be a finite number >= 0. "
                                         r"Received: 1 that are not, the first .*-2.0.* at index 1"):
        model.fit(x, y, class_weight={0: 1.0, 1: -2.0, 2: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"\.fit: class_weight must give a weight for every class in y. "
                                         r"Received: no weight for classes \[2\]"):
        model.fit(x, y, class_weight={0: 1.0, 1: 1.0}, verbose=0)
    zero = classic()
    zero.fit(x, y, class_weight={0: 0.0, 1: 1.0, 2: 1.0}, epochs=1, verbose=0)  # zero is a valid weight
    assert zero.optimizer.iterations == 1


def test_scalars_are_not_batches():
    model = classic()
    x, _ = data(4)
    with pytest.raises(ValueError, match=r"\.fit: x and y must be batches of samples. "
                                         r"Received: x.shape=\(4, 8, 8, 1\), y.shape=\(\)"):
        model.fit(x, np.int64(0), verbose=0)
    with pytest.raises(ValueError, match=r"\.predict: expected a batch of inputs. Received: a scalar"):
        Sequential([L.Dense(2)]).predict(np.float32(3.0), verbose=0)


def test_build_needs_a_batch_axis():
    expected = (r"Sequential '\w+': build\(\) expects an input shape with a batch axis, "
                r"e.g. \(None, 28, 28, 1\). Received: input_shape=\(28,\)")
    with pytest.raises(ValueError, match=expected):
        Sequential([L.Dense(2)]).build((28,))
