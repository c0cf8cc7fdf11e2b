"""convolve.dask on a distributed cluster (local_cluster: 2 single-threaded worker processes,
started once for this module): the model scattered once and loaded once per worker, a worker
killed mid-predict, errors that name the file or say where the model could not be loaded."""
from __future__ import annotations

import os

import numpy as np
import pytest

from convolve import layers as L
from convolve.models import Sequential

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    from convolve.dask import local_cluster

    names = ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    before = {name: os.environ.get(name) for name in names}
    with local_cluster(n_workers=2) as cluster, Client(cluster) as connected:
        assert {name: os.environ.get(name) for name in before} == before  # this process's is untouched
        yield connected
    for name, value in before.items():  # a worker restarted by its nanny set them here again
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def cnn(seed):
    model = Sequential([
        L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="conv"), L.MaxPooling2D(name="pool"),
        L.Flatten(), L.Dense(3, activation="softmax", name="dense"),
    ])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


X = np.random.default_rng(1).random((96, 8, 8, 1)).astype("float32")


def chunked(rows=8):
    import dask.array as da

    return da.from_array(X, chunks=(rows, 8, 8, 1))


def _loads():
    from convolve.dask import _transport

    return dict(_transport.loads)


def _threads():
    import threadpoolctl

    limits = {info["user_api"]: info["num_threads"] for info in threadpoolctl.threadpool_info()}
    return limits.get("blas"), os.environ.get("NUMBA_NUM_THREADS")


def test_workers_are_single_threaded_with_single_threaded_blas(client):
    info = client.scheduler_info()["workers"]
    assert len(info) == 2 and all(worker["nthreads"] == 1 for worker in info.values())
    assert set(client.run(_threads).values()) == {(1, "1")}


def test_the_model_is_scattered_once_and_loaded_once_per_worker(client):
    from convolve.dask import _transport, predict

    model = cnn(seed=10)
    y = predict(model, chunked(), batch_size=8)  # the current client: its workers get the bytes now
    scattered = [k for k in client.has_what().values() for k in k if str(k).startswith("bytes-")]
    assert len(scattered) >= 2  # on both workers
    np.testing.assert_array_equal(y.compute(), model.predict(X, batch_size=8, verbose=0))
    digest = _transport.payload(model, "test").digest
    counts = [loads.get(digest, 0) for loads in client.run(_loads).values()]
    assert sum(counts) >= 1 and max(counts) == 1  # 12 tasks, at most one load per worker


def _die_once(block, marker, block_id=None):
    """The first time block 5 is made, the worker making it dies (os._exit: no cleanup)."""
    if block_id[0] == 5 and not os.path.exists(marker):
        with open(marker, "w") as file:
            file.write(str(os.getpid()))
        os._exit(1)
    return block


def test_a_worker_killed_mid_predict_has_its_chunks_recomputed(client, tmp_path):
    from convolve.dask import predict

    model = cnn(seed=11)
    marker = str(tmp_path / "died")
    pids = set(client.run(os.getpid).values())
    x = chunked().map_blocks(_die_once, marker, dtype=X.dtype)
    got = predict(model, x, batch_size=8).compute()
    assert os.path.exists(marker) and int(open(marker).read()) in pids  # a worker did die
    np.testing.assert_array_equal(got, model.predict(X, batch_size=8, verbose=0))
    client.wait_for_workers(2, timeout=60)


def test_predict_files_on_the_cluster_names_the_file_and_the_worker(client, tmp_path):
    from PIL import Image

    from convolve.dask import predict_files

    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    frame = predict_files(cnn(seed=12), str(tmp_path), partition_size=2, batch_size=2).compute()
    assert list(frame["path"]) == [str(tmp_path / f"{i}.png") for i in range(5)]
    (tmp_path / "3.png").write_bytes(b"broken")
    with pytest.raises(
        ValueError, match=r"cannot read the image '.*3.png' on the worker tcp://127.0.0.1:\d+: "
    ):
        predict_files(cnn(seed=12), str(tmp_path), partition_size=2, batch_size=2).compute()


def _refuse(*args, **kwargs):
    raise ImportError("no safetensors on this worker")


def _break_loading():
    import convolve.saving

    convolve.saving._kept_load_model = convolve.saving.load_model
    convolve.saving.load_model = _refuse


def _mend_loading():
    import convolve.saving

    convolve.saving.load_model = convolve.saving._kept_load_model


def test_a_model_that_cannot_be_loaded_on_a_worker_says_which(client):
    from convolve.dask import features

    maps = features(cnn(seed=13), chunked(), layers="conv")
    client.run(_break_loading)
    try:
        with pytest.raises(ImportError, match=r"convolve.dask.features: the model \(sha256 [0-9a-f]+\.\.\., "
                                              r"[0-9,]+ bytes\) could not be loaded on the worker "
                                              r"tcp://127.0.0.1:\d+: no safetensors on this worker"):
            maps["conv"].compute()
    finally:
        client.run(_mend_loading)
