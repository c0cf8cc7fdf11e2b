"""Threads: what one thread records, trains or predicts never leaks into another.

Recording state (the active GradientTape) is per thread (a ContextVar in convolve/autograd.py).
Before that, a functional predict in another thread during fit made fit fail ("no gradients
provided"), a Sequential.predict during fit returned a recorded Tensor, and two threads fitting
two models failed with "tapes do not nest".
"""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from convolve import autograd
from convolve import layers as L
from convolve.models import Model, Sequential
from convolve.utils import set_random_seed


def small_sequential():
    return Sequential([L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.Flatten(), L.Dense(3)])


def small_functional():
    x = L.Input((8, 8, 1))
    h = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    h = L.Add()([h, L.Conv2D(4, 1)(x)])
    return Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h)))


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, size=n)


def run_threads(*targets):
    """Run each target in its own thread; re-raise the first error any of them raised."""
    errors = []

    def guarded(target):
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]


def test_a_tape_records_only_in_its_own_thread():
    seen = {}

    def other():
        seen["recording"] = autograd.is_recording()

    with autograd.GradientTape():
        assert autograd.is_recording()
        run_threads(other)
    assert seen["recording"] is False
    assert not autograd.is_recording()


def test_a_tape_in_another_thread_does_not_block_this_one():
    inside = threading.Event()
    release = threading.Event()

    def hold_a_tape():
        with autograd.GradientTape():
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=hold_a_tape)
    holder.start()
    try:
        assert inside.wait(30)
        with autograd.GradientTape():  # "tapes do not nest" only within one thread
            assert autograd.is_recording()
    finally:
        release.set()
        holder.join(30)


def test_asyncio_tasks_each_have_their_own_tape():
    async def task(delay):
        with autograd.GradientTape() as tape:
            await asyncio.sleep(delay)
            assert autograd.is_recording()
            return tape

    async def both():
        return await asyncio.gather(task(0.02), task(0.01))

    first, second = asyncio.run(both())
    assert first is not second


@pytest.mark.parametrize("make", [small_sequential, small_functional], ids=["sequential", "functional"])
def test_concurrent_predicts_give_the_single_threaded_answers(make):
    model = make()
    inputs = [data(n=16, seed=s)[0] for s in range(4)]
    expected = [model.predict(x, verbose=0) for x in inputs]
    got = {}

    def predict(k):
        def run():
            for _ in range(10):
                got.setdefault(k, []).append(model.predict(inputs[k], verbose=0))
        return run

    run_threads(*(predict(k) for k in range(4)))
    for k in range(4):
        for out in got[k]:
            assert type(out) is np.ndarray
            np.testing.assert_allclose(out, expected[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [small_sequential, small_functional], ids=["sequential", "functional"])
def test_predict_during_fit_returns_arrays_and_fit_still_trains(make):
    set_random_seed(0)
    model = make()
    model.compile("adam", "sparse_categorical_crossentropy" if make is small_functional else "mse")
    x, labels = data(n=256)
    y = labels if make is small_functional else np.eye(3, dtype="float32")[labels]
    done = threading.Event()
    outputs = []

    def train():
        try:
            history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
            assert len(history.history["loss"]) == 3
            assert all(np.isfinite(history.history["loss"]))
        finally:
            done.set()

    def predict():
        while not done.is_set():
            outputs.append(model.predict(x[:8], verbose=0))
            outputs.append(model(x[:4]))  # a direct call too: never recorded by fit's tape

    run_threads(train, predict)
    assert outputs, "the predicting thread never ran during fit"
    assert all(type(out) is np.ndarray for out in outputs), {type(out).__name__ for out in outputs}


def test_two_threads_fit_two_models_as_one_thread_would():
    x, labels = data(n=128)

    def fresh():
        set_random_seed(3)
        model = small_functional()
        model.compile("sgd", "sparse_categorical_crossentropy")
        return model

    expected = []
    for _ in range(2):
        model = fresh()
        losses = model.fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
        expected.append((losses, [w.numpy() for w in model.weights]))

    models = [fresh(), fresh()]
    histories = [None, None]

    def fit(k):
        def run():
            history = models[k].fit(x, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
            histories[k] = history.history["loss"]
        return run

    run_threads(fit(0), fit(1))
    for k in range(2):
        np.testing.assert_allclose(histories[k], expected[k][0], rtol=1e-5)
        for w, e in zip(models[k].weights, expected[k][1], strict=True):
            np.testing.assert_allclose(w.value, e, rtol=1e-4, atol=1e-6, err_msg=w.path)


def test_layer_names_made_in_many_threads_are_unique():
    made = []

    def make_layers():
        made.extend(L.Dense(1).name for _ in range(200))

    run_threads(*(make_layers for _ in range(4)))
    assert len(made) == len(set(made)) == 800
