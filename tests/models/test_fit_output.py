"""fit's progress output: one line per epoch when stdout is not a terminal, as Keras."""
import io
import re

import numpy as np

from convolve.layers import Dense, Input, clear_session
from convolve.models import Sequential
from convolve.models.progress import Progbar
from convolve.utils import set_random_seed


def test_one_line_per_epoch_when_not_a_terminal(capsys):
    clear_session()
    set_random_seed(0)
    x, y = np.random.default_rng(0).random((40, 4)), np.random.default_rng(1).integers(0, 2, 40)
    model = Sequential([Input((4,)), Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert re.match(
        r"2/2 - \d+s \d+ms/step - loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+ - val_accuracy: [\d.]+$",
        lines[1],
    )
    assert len(history.history["val_loss"]) == 2


def test_progbar_on_a_terminal_redraws_in_place():
    stream = io.StringIO()
    bar = Progbar(3, stream=stream, interactive=True)
    bar.update(1, [("loss", 0.5)])
    bar.update(2, [("loss", 0.4)])
    bar.finish("3/3 - done")
    out = stream.getvalue()
    assert out.count("\r") == 3 and out.endswith("\n") and "loss: 0.4000" in out and "3/3 - done" in out


def _small_model():
    from convolve.layers import Conv2D, Dropout, Flatten

    clear_session()
    model = Sequential(
        [
            Input((6, 6, 1)),
            Conv2D(3, 3, activation="relu"),
            Dropout(0.3),
            Flatten(),
            Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data():
    rng = np.random.default_rng(5)
    return rng.random((48, 6, 6, 1)), rng.integers(0, 2, 48)


def test_ctrl_c_stops_training_cleanly_and_keeps_the_model(capsys):
    from convolve.callbacks import Callback

    class Interrupt(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.weights_then = self.model.get_weights()
                raise KeyboardInterrupt

    set_random_seed(0)
    model, (x, y) = _small_model(), _data()
    stopper = Interrupt()
    history = model.fit(x, y, batch_size=8, epochs=3, callbacks=[stopper], verbose=0)
    assert "Training interrupted during epoch 1" in capsys.readouterr().out
    assert history.history == {}  # no epoch completed
    for kept, then in zip(model.get_weights(), stopper.weights_then):
        np.testing.assert_array_equal(kept, then)  # two steps of training kept, nothing rolled back
    assert model.predict(x, verbose=0).shape == (48, 2)


def test_one_seed_makes_training_bit_for_bit_reproducible():
    x, y = _data()
    runs = []
    for _ in range(2):
        set_random_seed(42)
        model = _small_model()
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    set_random_seed(43)
    other = _small_model()
    other.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert not np.array_equal(other.get_weights()[0], runs[0][1][0])
