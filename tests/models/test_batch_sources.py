"""fit, evaluate and predict on batches from any source: generators, iterators, PyDataset
(convolve/data/adapters.py, convolve/data/pydataset.py, the training loop). Each source gives the
same training as the same batches taken from arrays."""
from __future__ import annotations

import math

import numpy as np
import pytest

from convolve import layers as L
from convolve.callbacks import Callback
from convolve.data.pydataset import PyDataset
from convolve.models import Sequential
from convolve.utils import set_random_seed


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 1)).astype("float32"), np.arange(n) % 3


def fresh():
    set_random_seed(0)
    model = Sequential([L.Input((6, 6, 1)), L.Conv2D(3, 3, activation="relu"), L.Flatten(), L.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def batches(x, y, size, weights=None):
    for start in range(0, len(x), size):
        sl = slice(start, start + size)
        yield (x[sl], y[sl]) if weights is None else (x[sl], y[sl], weights[sl])


class Batches(PyDataset):
    """A PyDataset over arrays that records which batch indices were asked for."""

    def __init__(self, x, y, size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.size = x, y, size
        self.asked, self.epochs_ended, self.epochs_begun = [], 0, 0

    def __len__(self):
        return math.ceil(len(self.x) / self.size)

    def __getitem__(self, index):
        self.asked.append(index)
        sl = slice(index * self.size, (index + 1) * self.size)
        return self.x[sl], self.y[sl]

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        self.epochs_ended += 1


def same_weights(a, b):
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(wa.value, wb.value, err_msg=wa.path)


def from_arrays(x, y, epochs=1, **kwargs):
    model = fresh()
    history = model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, **kwargs)
    return model, history.history


# ---- the same training from every source ----------------------------------------------------------
def test_a_generator_with_steps_per_epoch_goes_on_across_epochs():
    x, y = data()
    reference, logs = from_arrays(x, y, epochs=2)

    def endless():
        while True:
            yield from batches(x, y, 8)

    model = fresh()
    history = model.fit(endless(), steps_per_epoch=6, epochs=2, verbose=0)
    same_weights(model, reference)
    np.testing.assert_allclose(history.history["loss"], logs["loss"], rtol=1e-6)


@pytest.mark.parametrize("workers, processes", [(1, False), (2, False), (2, True)],
                         ids=["one_worker", "threads", "processes"])
def test_a_pydataset_trains_as_the_arrays_would(workers, processes):
    x, y = data()
    reference, _ = from_arrays(x, y, epochs=2)
    source = Batches(x, y, 8, workers=workers, use_multiprocessing=processes)
    model = fresh()
    model.fit(source, epochs=2, shuffle=False, verbose=0)
    same_weights(model, reference)
    assert source.epochs_begun == source.epochs_ended == 2
    if not processes:  # worker processes ask their own copies
        assert source.asked == list(range(6)) * 2


def test_shuffle_asks_a_pydataset_for_every_batch_in_a_new_order_each_epoch():
    x, y = data()
    source = Batches(x, y, 8)
    fresh().fit(source, epochs=3, shuffle=True, verbose=0)
    epochs = [source.asked[k * 6 : (k + 1) * 6] for k in range(3)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1


def test_sample_weights_and_class_weights_in_the_batches():
    x, y = data()
    weights = np.linspace(0.1, 2.0, len(x)).astype("float32")
    reference, _ = from_arrays(x, y, sample_weight=weights, class_weight={0: 1.0, 1: 0.5, 2: 2.0})
    model = fresh()
    model.fit(batches(x, y, 8, weights), class_weight={0: 1.0, 1: 0.5, 2: 2.0}, verbose=0)
    same_weights(model, reference)


def test_validation_data_from_a_source_equals_validation_on_arrays():
    x, y = data()
    vx, vy = data(20, seed=1)
    _, logs = from_arrays(x, y, epochs=2, validation_data=(vx, vy), validation_batch_size=8)
    model = fresh()
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                        validation_data=Batches(vx, vy, 8))
    np.testing.assert_allclose(history.history["val_loss"], logs["val_loss"], rtol=1e-6)
    np.testing.assert_allclose(history.history["val_accuracy"], logs["val_accuracy"])


def test_evaluate_and_predict_take_sources():
    x, y = data()
    model = fresh()
    expected_loss = model.evaluate(x, y, batch_size=8, verbose=0)
    assert model.evaluate(batches(x, y, 8), verbose=0) == pytest.approx(expected_loss, rel=1e-6)
    assert model.evaluate(Batches(x, y, 8), verbose=0) == pytest.approx(expected_loss, rel=1e-6)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(batches(x, y, 8), verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict((x[i : i + 5] for i in range(0, 48, 5)), verbose=0), expected,
                               rtol=1e-6)  # x alone per batch
    np.testing.assert_allclose(model.predict(Batches(x, y, 8), steps=2, verbose=0), expected[:16], rtol=1e-6)


def test_an_unbuilt_sequential_builds_from_the_first_batch():
    x, y = data()
    model = Sequential([L.Conv2D(2, 3), L.Flatten(), L.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(batches(x, y, 16), verbose=0)
    assert model.built and model.input_shape == (None, 6, 6, 1)


def test_callbacks_see_every_batch_of_a_source_of_unknown_length(capsys):
    x, y = data()
    seen = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    fresh().fit(batches(x, y, 8), callbacks=[Count()], verbose=2)
    assert seen == list(range(6))
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "6/6 - " in out


def test_predict_shows_unknown_progress(capsys):
    x, y = data()
    fresh().predict(batches(x, y, 8), verbose=1)
    assert "6/Unknown" in capsys.readouterr().out


# ---- running out --------------------------------------------------------------------------------
def test_a_generator_without_steps_is_spent_after_one_epoch_and_training_stops():
    x, y = data()
    model = fresh()
    with pytest.warns(
        UserWarning,
        match=r"\.fit: your input ran out of data \(a generator/iterator \(generator\) "
        r"yielded no batches",
    ):
        history = model.fit(batches(x, y, 8), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and model.optimizer.iterations == 6


def test_a_generator_that_runs_out_before_steps_per_epoch_stops_training():
    x, y = data()
    model = fresh()
    with pytest.warns(UserWarning, match=r"ran out after 2 of the 4 batches of this epoch"):
        history = model.fit(batches(x, y, 8), steps_per_epoch=4, epochs=3, verbose=0)
    assert model.optimizer.iterations == 6 and len(history.history["loss"]) == 2


def test_evaluate_on_a_spent_generator_is_an_error():
    x, y = data()
    spent = batches(x, y, 8)
    list(spent)
    with pytest.raises(ValueError, match=r"\.evaluate: the data ran out: .*yielded no batches"):
        fresh().evaluate(spent, verbose=0)


# ---- bad input ----------------------------------------------------------------------------------
def test_arguments_that_belong_to_arrays_are_refused_with_a_source():
    x, y = data()
    model = fresh()
    with pytest.raises(
        ValueError,
        match=r"\.fit: when x is a generator/iterator \(generator\), its batches hold the "
        r"targets and weights and their size is its own; pass no y, batch_size. "
        r"Received: y=ndarray, batch_size=int",
    ):
        model.fit(batches(x, y, 8), y, batch_size=8, verbose=0)
    with pytest.raises(
        ValueError,
        match=r"validation_split needs arrays to split; for a PyDataset \(Batches\) pass "
        r"validation_data. Received: validation_split=0.2",
    ):
        model.fit(Batches(x, y, 8), validation_split=0.2, verbose=0)
    with pytest.raises(
        ValueError,
        match=r"\.predict: when x is a PyDataset \(Batches\) its batches have their own "
        r"size; pass no batch_size. Received: batch_size=4",
    ):
        model.predict(Batches(x, y, 8), batch_size=4)
    assert model.optimizer.iterations == 0


def test_inconsistent_batches_are_refused_naming_the_batch():
    x, y = data()

    def changing():
        yield x[:8], y[:8]
        yield x[8:16], y[8:16]
        yield np.zeros((8, 7, 7, 1), np.float32), y[:8]

    model = fresh()
    with pytest.raises(
        ValueError,
        match=r"every batch from a generator/iterator \(generator\) must have the shapes "
        r"of the first batch on every axis but the first \(the batch axis\). "
        r"Received: batch 2 with x \(None, 7, 7, 1\), y \(None,\); batch 0 had "
        r"x \(None, 6, 6, 1\), y \(None,\)",
    ):
        model.fit(changing(), verbose=0)
    assert model.optimizer.iterations == 2  # the two good batches trained; nothing of the third


def test_a_batch_of_the_wrong_structure_is_named():
    x, y = data()
    with pytest.raises(
        ValueError,
        match=r"each batch from a generator/iterator \(generator\) must be x, \(x,\), "
        r"\(x, y\) or \(x, y, sample_weight\). Received: batch 0, a tuple of 4 items",
    ):
        fresh().fit(((x, y, y, y) for _ in range(2)), verbose=0)
    with pytest.raises(ValueError, match=r"\.fit: expected arrays x and y. Received: x=ndarray, y=NoneType "
                                         r"\(in batch 0 of the data\)"):
        fresh().fit((x for _ in range(2)), verbose=0)


def test_pydataset_arguments_are_checked():
    with pytest.raises(
        ValueError, match=r"Batches: `workers` must be a positive integer. Received: workers=0"
    ):
        Batches(*data(), 8, workers=0)
    with pytest.raises(ValueError, match=r"Batches: `use_multiprocessing` must be True or False. "
                                         r"Received: use_multiprocessing='yes'"):
        Batches(*data(), 8, use_multiprocessing="yes")
    with pytest.raises(ValueError, match=r"Batches: `max_queue_size` must be a positive integer. "
                                         r"Received: max_queue_size=0"):
        Batches(*data(), 8, max_queue_size=0)

    class Empty(PyDataset):
        def __len__(self):
            return 0

    with pytest.raises(
        ValueError, match=r"a PyDataset \(Empty\) must hold at least one batch. Received: len\(\)=0"
    ):
        fresh().fit(Empty(), verbose=0)
