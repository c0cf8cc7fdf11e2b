"""The compiled kernels called from several Python threads at once (the Dask threaded scheduler,
the web explorer), and from inside the engine's own worker threads: same results as one
thread, nothing aborts (no Numba threading layer is used; see ops/kernels/__init__.py)."""
from __future__ import annotations

import numpy as np

from convolve.ops import activations, blas, kernels
from convolve.ops.pooling import max_pool_backward, max_pool_with_winners
from convolve.optimizers import Adam
from convolve.variables import Variable
from tests.helpers import using_kernels
from tests.test_threads import run_threads

POOL = ((2, 2), None, "valid", "channels_last")


def workload(seed):
    """Large enough arrays that every kernel splits its work over the worker threads."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 24, 24, 16)).astype(np.float32)  # 294,912 values
    g = rng.standard_normal(x.shape).astype(np.float32)
    gy = rng.standard_normal((32, 12, 12, 16)).astype(np.float32)
    w0 = rng.standard_normal(300_000).astype(np.float32)
    gw = rng.standard_normal(w0.shape).astype(np.float32)
    return x, g, gy, w0, gw


def compute(x, g, gy, w0, gw, repeats=1):
    out = []
    for _ in range(repeats):
        relu = activations.relu_backward(g, x)
        y, winners = max_pool_with_winners(x, *POOL)
        gx = max_pool_backward(gy, x, *POOL, y=y, winners=winners)
        w = Variable(w0.copy(), name="w", path="w")
        Adam(learning_rate=0.01).apply([gw], [w])
        out = [relu, y, gx, w.value]
    return out


def test_the_work_is_large_enough_to_split():
    if blas.workers() < 2:
        return  # one BLAS thread here: everything runs in the calling thread anyway
    assert len(kernels.ranges(294_912)) > 1


def test_two_threads_at_once_equal_one_thread():
    data = [workload(seed) for seed in (0, 1)]
    with using_kernels("numba"):
        expected = [compute(*d) for d in data]
        results = {}

        def worker(k):
            def run():
                results[k] = compute(*data[k], repeats=5)
            return run

        run_threads(worker(0), worker(1), worker(0), worker(1))
    for k in (0, 1):
        for got, want in zip(results[k], expected[k]):
            np.testing.assert_array_equal(got, want)


def test_kernels_inside_the_engines_workers_run_there():
    """Called from one of ops.blas.run_parallel's tasks, a kernel computes in that thread."""
    data = workload(2)
    with using_kernels("numba"):
        expected = compute(*data)
        inside = blas.run_parallel([lambda: (kernels.ranges(10**7), compute(*data)) for _ in range(2)])
    for parts, got in inside:
        assert len(parts) == 1
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)


def test_concurrent_predicts_on_the_compiled_path():
    """Several threads calling predict on one model at once (a web server, Dask workers), with the
    compiled kernels and the fused conv + bias + relu: each gets what a lone call gives. The batch
    is large enough that the convolutions and kernels split their work over the worker threads."""
    from convolve import layers as L
    from convolve.models import Sequential

    model = Sequential([
        L.Input((20, 20, 3)), L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(16, 3, activation="relu"), L.Dropout(0.5), L.Flatten(), L.Dense(4, activation="relu"),
    ])
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((64, 20, 20, 3)).astype(np.float32) for _ in range(4)]
    with using_kernels("numba"):
        expected = [model.predict(x, batch_size=64, verbose=0) for x in inputs]
        got = {}

        def predict(k):
            def run():
                got[k] = [model.predict(inputs[k], batch_size=64, verbose=0) for _ in range(5)]
            return run

        run_threads(*(predict(k) for k in range(4)))
    for k in range(4):
        for out in got[k]:
            np.testing.assert_allclose(out, expected[k], rtol=1e-6, atol=1e-6)
