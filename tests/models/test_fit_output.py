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
    assert re.match(r"2/2 - \d+s \d+ms/step - loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+ - val_accuracy: [\d.]+$", lines[1])
    assert len(history.history["val_loss"]) == 2


def test_progbar_on_a_terminal_redraws_in_place():
    stream = io.StringIO()
    bar = Progbar(3, stream=stream, interactive=True)
    bar.update(1, [("loss", 0.5)])
    bar.update(2, [("loss", 0.4)])
    bar.finish("3/3 - done")
    out = stream.getvalue()
    assert out.count("\r") == 3 and out.endswith("\n") and "loss: 0.4000" in out and "3/3 - done" in out
