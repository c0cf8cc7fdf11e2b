"""convolve/dask/fit.py: data-parallel training on Dask workers.

The batch plan is checked without Dask; everything else runs on one LocalCluster of two worker
processes shared by the class below (started once, about two seconds). The reference for
training is ``model.fit`` in this process on the same global batches, in the order that the
plan's definition (written out here, independently of the library) gives.
"""
from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve import callbacks as C
from convolve import layers as L
from convolve import losses
from convolve.dask._training import epoch_plan, split_batch
from convolve.dask.fit import WorkerLostError, fit
from convolve.data import Dataset, PyDataset
from convolve.models import Sequential, load_model
from convolve.utils import set_random_seed
from tests.helpers import RTOL, relative_error, requires


# ---- the plan, written out -------------------------------------------------------------------------------
def reference_order(sizes, batch_size):
    """The global order of one epoch without shuffling, as positions in the concatenated shards:
    each step takes B samples (or what is left), each worker its share B * left_r / left rounded
    down, and the samples still missing one each to the largest remainders (lower rank first)."""
    starts = [sum(sizes[:r]) for r in range(len(sizes))]
    left, given = list(sizes), [0] * len(sizes)
    order, batches = [], []
    while sum(left):
        b = min(batch_size, sum(left))
        exact = [b * n / sum(left) for n in left]
        take = [math.floor(e) for e in exact]
        for r in sorted(range(len(sizes)), key=lambda r: (take[r] - exact[r], r))[: b - sum(take)]:
            take[r] += 1
        for r in range(len(sizes)):
            order.extend(range(starts[r] + given[r], starts[r] + given[r] + take[r]))
            given[r] += take[r]
            left[r] -= take[r]
        batches.append(b)
    return np.array(order), batches


def test_split_batch_by_hand():
    assert split_batch([60, 40], 32).tolist() == [19, 13]  # 19.2, 12.8: the one left goes to .8
    assert split_batch([22, 14], 32).tolist() == [20, 12]  # 19.56, 12.44
    assert split_batch([2, 2], 32).tolist() == [2, 2]  # the end of the epoch: what is left
    assert split_batch([0, 5], 3).tolist() == [0, 3]
    assert split_batch([1, 1], 1).tolist() == [1, 0]  # a tie goes to the lower rank
    assert split_batch([3, 3, 3], 2).tolist() == [1, 1, 0]


@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5).filter(any), batch=st.integers(1, 50))
def test_epoch_plan_is_the_written_out_order(sizes, batch):
    plan = epoch_plan([np.arange(n) for n in sizes], batch)
    starts = np.cumsum([0] + sizes[:-1])
    got = [np.concatenate([s + index for s, index in zip(starts, step)]) for step in plan]
    order, batches = reference_order(sizes, batch)
    assert [len(g) for g in got] == batches == [batch] * (len(batches) - 1) + [batches[-1]]
    assert len(plan) == math.ceil(sum(sizes) / batch)
    np.testing.assert_array_equal(np.concatenate(got), order)
    np.testing.assert_array_equal(np.sort(order), np.arange(sum(sizes)))  # every sample once


def test_epoch_plan_follows_each_shards_order_and_wraps_around():
    orders = [np.array([2, 0, 1]), np.array([4, 3, 2, 1, 0])]
    plan = epoch_plan(orders, 4)
    # 4 * 3/8 = 1.5 and 4 * 5/8 = 2.5: the tie goes to rank 0; then 1 and 3 are left
    assert [[i.tolist() for i in step] for step in plan] == [[[2, 0], [4, 3]], [[1], [2, 1, 0]]]
    assert len(epoch_plan(orders, 4, steps=1)) == 1
    longer = epoch_plan(orders, 4, steps=3)  # a new pass in the same orders
    assert [i.tolist() for i in longer[2]] == [[2, 0], [4, 3]]


# ---- models and data -------------------------------------------------------------------------------------
def small_cnn(optimizer="adam", batch_norm=False, seed=1):
    """Conv, (BN,) pooling, Dense: no dropout, so one process and two workers must agree."""
    set_random_seed(seed)
    middle = [L.BatchNormalization()] if batch_norm else []
    model = Sequential([L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), *middle, L.MaxPooling2D(2),
                        L.Flatten(), L.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 1)).astype("float32"), rng.integers(0, 3, size=n)


def assert_same_weights(model, reference, tolerance=RTOL[np.float32]):
    errors = [relative_error(a, b) for a, b in zip(model.get_weights(), reference.get_weights())]
    assert max(errors) < tolerance, errors


@requires("dask")
class TestOnTwoWorkers:
    @pytest.fixture(scope="class")
    @classmethod
    def client(cls):
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        yield client
        client.close()
        cluster.close()

    def test_equals_fit_in_one_process(self, client):
        x, y = data(67)  # shards of 34 and 33
        model = small_cnn()
        history = fit(model, x, y, client=client, batch_size=16, epochs=4, shuffle=False, verbose=0)
        sizes = history.params["shard_sizes"]
        assert sizes == [34, 33] and len(history.params["workers"]) == 2
        order, batches = reference_order(sizes, 16)
        assert batches == [16, 16, 16, 16, 3]  # 4 epochs of 5 steps: 20 steps
        reference = small_cnn()
        expected = reference.fit(x[order], y[order], batch_size=16, epochs=4, shuffle=False, verbose=0)
        assert_same_weights(model, reference)
        losses = zip(history.history["loss"], expected.history["loss"])
        assert max(relative_error(a, b) for a, b in losses) < RTOL[np.float32]
        assert history.history["accuracy"] == pytest.approx(expected.history["accuracy"], rel=1e-12)
        # what travelled: the weights to both workers, their gradients back, and 8-byte sample indices
        costs = history.communication
        parameters = sum(w.value.nbytes for w in model.trainable_weights)
        assert len(costs["seconds"]) == 20
        assert costs["bytes_sent"][0] == 2 * parameters + 16 * 8
        assert costs["bytes_received"] == [2 * parameters] * 20
        assert all(s >= w >= 0 for s, w in zip(costs["seconds"], costs["worker_seconds"]))

    def test_uneven_dask_chunks_stay_where_they_are(self, client):
        import dask.array as da

        x, y = data(64, seed=3)
        weights = np.random.default_rng(4).uniform(0.5, 2.0, size=64).astype("float32")
        first, second = sorted(client.scheduler_info()["workers"])
        chunks = [(x[:30], first), (x[30:40], first), (x[40:], second)]  # 40 samples on one, 24 on the other
        x_dask = da.concatenate([
            da.from_delayed(client.scatter(part, workers=[where], hash=False), shape=part.shape,
                            dtype=part.dtype)
            for part, where in chunks
        ])
        classes = {0: 1.0, 1: 2.0, 2: 0.5}
        model = small_cnn(optimizer="sgd")
        history = fit(model, x_dask, y, client=client, sample_weight=weights, class_weight=classes,
                      batch_size=10, epochs=3, shuffle=False, verbose=0)
        assert history.params["workers"] == [first, second] and history.params["shard_sizes"] == [40, 24]
        order, _ = reference_order([40, 24], 10)  # 7 steps an epoch, 21 in all
        reference = small_cnn(optimizer="sgd")
        reference.fit(x[order], y[order], sample_weight=weights[order], class_weight=classes, batch_size=10,
                      epochs=3, shuffle=False, verbose=0)
        assert_same_weights(model, reference)

    def test_batch_norm_moving_mean_is_the_global_batchs(self, client):
        # one step: the moving mean moves toward the mean over the whole batch, which is the
        # workers' means weighted by their shares (the moving variance is not: each worker's
        # variance is around its own mean)
        x, y = data(48, seed=5)
        model, reference = small_cnn(batch_norm=True), small_cnn(batch_norm=True)
        fit(model, x, y, client=client, batch_size=48, epochs=1, shuffle=False, verbose=0)
        reference.fit(x, y, batch_size=48, epochs=1, shuffle=False, verbose=0)
        moving, expected = (next(v.value for v in m.weights if v.name == "moving_mean")
                            for m in (model, reference))
        assert np.abs(moving).max() > 0 and relative_error(moving, expected) < RTOL[np.float32]

    def test_shuffled_runs_repeat_with_a_seed_and_cover_each_sample(self, client):
        x, y = data(40, seed=6)
        runs = []
        for _ in range(2):
            model = small_cnn()
            set_random_seed(7)
            fit(model, x, y, client=client, batch_size=8, epochs=2, verbose=0)
            runs.append(model.get_weights())
        assert all(np.array_equal(a, b) for a, b in zip(*runs))
        plain = small_cnn()
        fit(plain, x, y, client=client, batch_size=8, epochs=2, shuffle=False, verbose=0)
        assert not all(np.array_equal(a, b) for a, b in zip(runs[0], plain.get_weights()))

    def test_checkpoint_failure_and_resume_equal_one_uninterrupted_fit(self, client, tmp_path):
        x, y = data(50, seed=8)
        validation = data(12, seed=9)
        whole = small_cnn()
        fit(whole, x, y, client=client, batch_size=16, epochs=3, shuffle=False, verbose=0,
            validation_data=validation)

        class Failure(C.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    raise RuntimeError("the driver's machine went down")

        model = small_cnn()
        path = str(tmp_path / "checkpoint-{epoch}.safetensors")
        with pytest.raises(RuntimeError, match="went down"):
            fit(model, x, y, client=client, batch_size=16, epochs=3, shuffle=False, verbose=0,
                validation_data=validation, callbacks=[C.ModelCheckpoint(path), Failure()])
        resumed = load_model(str(tmp_path / "checkpoint-2.safetensors"))
        history = fit(resumed, x, y, client=client, batch_size=16, epochs=3, initial_epoch=2,
                      shuffle=False, verbose=0, validation_data=validation)
        assert history.epoch == [2]
        assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert all(np.array_equal(a, b) for a, b in zip(resumed.get_weights(), whole.get_weights()))

    def test_early_stopping_validation_split_and_the_current_client(self, client, capsys):
        x, y = data(40, seed=10)
        model = small_cnn()
        with client.as_current():  # client=None: the current client
            history = fit(model, x, y, batch_size=8, epochs=6, verbose=2, validation_split=0.25,
                          callbacks=[C.EarlyStopping(monitor="val_loss", min_delta=10.0)])
        assert history.epoch == [0, 1] and len(history.history["val_loss"]) == 2
        printed = capsys.readouterr().out
        assert "Epoch 2/6" in printed and "Epoch 3/6" not in printed and "val_loss: " in printed
        assert sum(history.params["shard_sizes"]) == 30  # the last quarter held out

    def test_refusals(self, client):
        model = small_cnn()
        x, y = data(8)

        class Batches(PyDataset):
            def __len__(self):
                return 1

            def __getitem__(self, index):
                return x, y

        for source in (Batches(), Dataset.from_tensor_slices((x, y)).batch(4), ((x, y) for _ in range(2))):
            with pytest.raises(ValueError, match="trains on arrays: NumPy arrays .* or Dask arrays"):
                fit(model, source, client=client)
        unknown = r"workers must name workers of the cluster.*unknown \['tcp://nowhere:1'\]"
        with pytest.raises(ValueError, match=unknown):
            fit(model, x, y, client=client, workers=["tcp://nowhere:1"])
        summed = small_cnn()
        summed.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(reduction="sum"))
        with pytest.raises(ValueError, match="reduction='sum'"):
            fit(summed, x, y, client=client)
        with pytest.raises(RuntimeError, match="call compile"):
            fit(Sequential([L.Input((8, 8, 1)), L.Flatten(), L.Dense(3)]), x, y, client=client)
        with pytest.raises(ValueError, match="initial_epoch must be smaller than epochs"):
            fit(model, x, y, client=client, initial_epoch=1, epochs=1)

    def test_a_worker_killed_mid_fit_stops_training_naming_it(self, client):
        # last in the class: the cluster's nanny restarts the worker, at a new address
        x, y = data(64, seed=11)
        pids = client.run(os.getpid)
        victim = sorted(pids)[1]
        seen = {}

        class Kill(C.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch == 2:  # after the third step
                    seen["weights"] = self.model.get_weights()
                    os.kill(pids[victim], signal.SIGKILL)

        model = small_cnn()
        with pytest.raises(WorkerLostError) as caught:
            fit(model, x, y, client=client, batch_size=8, epochs=1, shuffle=False, verbose=0,
                callbacks=[Kill()])
        message = str(caught.value)
        assert f"Dask worker {victim} (rank 1, 32 samples) left the cluster" in message
        assert "during step 4 of epoch 1 (step 4 of this fit)" in message
        assert "keeps its weights after the last finished step" in message
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), seen["weights"]))
        client.wait_for_workers(2, timeout=60)
