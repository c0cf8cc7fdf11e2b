"""Data-parallel training on Dask workers: what a step costs in communication against compute,
measured here, and the speed-up that those figures project for 8 and 64 workers.

    python benchmarks/dask_fit.py                 # ~1 min on 2 cores
    python benchmarks/dask_fit.py --steps 40      # more steps per measurement

Model: the classic Keras MNIST CNN (Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D 2,
Dropout 0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax; 1,199,882 parameters,
4.8 MB in float32), Adam, global batch 128, random 28x28x1 float32 images in [0, 1] and random
labels (the arithmetic does not depend on the values). Measured:

1. **compute per step**, one process whose BLAS has one thread (what one worker of one thread
   does): ``model.fit`` over ``--steps`` batches of 128 after two untimed ones, wall time per
   step; and the same with two BLAS threads, for reference;
2. **the driver's update**: averaging k gradients (``convolve.dask.fit._weighted``, float64)
   for k = 1, 2, 4, 8 and Adam's update, so its cost per worker and its fixed part;
3. **a step on Dask**: ``convolve.dask.fit`` on a LocalCluster of ``--workers`` processes of one
   thread each, ``--steps`` steps after ``--steps`` untimed ones; from ``history.communication``:
   the whole step seen by the driver, the slowest worker's compute, the driver's update, and
   the rest (communication: serialisation, the messages, waiting), with the bytes sent and
   received per step; then the same at a global batch of 2 (one image per worker: nearly no
   compute, so the step is communication) and with a 10-parameter model (the fixed cost of a
   step: latency).

Then the projection for ``--workers-projected`` (8 and 64) over a ``--gbps`` (10 Gb/s) network,
written out with its arithmetic. Nothing is asserted; it prints numbers. Quote only runs made
on a quiet machine: the load average is printed at the start and the end.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 128


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import dask
    import distributed
    from threadpoolctl import threadpool_info

    from convolve import __version__

    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    blas = f"{pools[0].get('internal_api')} {pools[0].get('version')}" if pools else "BLAS unknown"
    return (
        f"{os.cpu_count()} cores, {cpu}; {blas}\npython {platform.python_version()}, numpy {np.__version__}, "
        f"dask {dask.__version__}, distributed {distributed.__version__}, convolve {__version__}"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def classic_cnn(seed=0):
    from convolve.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from convolve.models import Sequential
    from convolve.utils import set_random_seed

    set_random_seed(seed)
    model = Sequential([
        Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"),
        MaxPooling2D(2), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def tiny_model():
    from convolve.layers import Dense, Input
    from convolve.models import Sequential

    model = Sequential([Input((4,)), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, size=n)


# ---- 1 and 2: one process -------------------------------------------------------------------------
def compute_per_step(steps, threads) -> float:
    from threadpoolctl import threadpool_limits

    model = classic_cnn()
    x, y = images(BATCH * (steps + 2))
    with threadpool_limits(limits=threads, user_api="blas"):
        model.fit(x[: 2 * BATCH], y[: 2 * BATCH], batch_size=BATCH, shuffle=False, verbose=0)
        start = time.perf_counter()
        model.fit(x[2 * BATCH :], y[2 * BATCH :], batch_size=BATCH, shuffle=False, verbose=0)
        return (time.perf_counter() - start) / steps


def update_costs(repeats=5) -> tuple:
    """(seconds per worker averaged, fixed seconds: Adam's update) on the driver."""
    from convolve.dask.fit import _weighted

    model = classic_cnn()
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=w.value.shape).astype(np.float32) for w in model.trainable_weights]
    model.optimizer.apply(grads, model.trainable_weights)  # builds Adam's slots
    times = {}
    for k in (1, 2, 4, 8):
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            [_weighted([(1.0 / k, g)] * k) for g in grads]
            runs.append(time.perf_counter() - start)
        times[k] = min(runs)
    per_worker = (times[8] - times[1]) / 7
    adam = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.optimizer.apply(grads, model.trainable_weights)
        adam.append(time.perf_counter() - start)
    return per_worker, times[1] - per_worker + min(adam), times


# ---- 3: on Dask ----------------------------------------------------------------------------------------
def dask_steps(client, model, x, y, batch, steps) -> dict:
    """Medians over ``steps`` steps after ``steps`` untimed ones, from history.communication."""
    from convolve.dask.fit import fit

    history = fit(model, x, y, client=client, batch_size=batch, epochs=2, steps_per_epoch=steps,
                  shuffle=False, verbose=0)
    costs = {k: v[steps:] for k, v in history.communication.items()}
    rest = [s - w - u for s, w, u in zip(costs["seconds"], costs["worker_seconds"], costs["update_seconds"])]
    median = {k: statistics.median(v) for k, v in costs.items()}
    median["communication"] = statistics.median(rest)
    return median


def show(name, m):
    ms = {k: v * 1e3 for k, v in m.items() if not k.startswith("bytes")}
    print(f"  {name}: step {ms['seconds']:.1f} ms = slowest worker {ms['worker_seconds']:.1f} ms "
          f"+ driver update {ms['update_seconds']:.1f} ms + communication {ms['communication']:.1f} ms; "
          f"sent {m['bytes_sent'] / 1e6:.3f} MB, received {m['bytes_received'] / 1e6:.3f} MB per step")


# ---- the projection ----------------------------------------------------------------------------------
ALPHA = 0.05e-3  # seconds a hop of a ring all-reduce (an assumed LAN latency, not measured here)


def project(compute, per_worker, fixed, latency, parameter_bytes, gbps, counts):
    bandwidth = gbps * 1e9 / 8  # bytes/s
    one = compute + fixed
    C, u, a, L = compute * 1e3, per_worker * 1e3, fixed * 1e3, latency * 1e3  # noqa: N806 (ms, as written)
    print(f"\nProjection over a {gbps:g} Gb/s network ({bandwidth / 1e9:.3f} GB/s each way), "
          f"global batch {BATCH}:")
    print(f"  C = compute of one step on one worker = {C:.1f} ms (measured, 1 thread); "
          f"one worker alone: C + a = {one * 1e3:.1f} ms")
    print(f"  P = {parameter_bytes:,} bytes of float32 parameters; u = {u:.2f} ms averaging per worker, "
          f"a = {a:.2f} ms fixed update (Adam), L = {L:.2f} ms a step (measured: the communication of a "
          "step of a 10-parameter model)")
    print("  through the driver (what convolve.dask.fit does): T(k) = C/k + 2*k*P/BW + k*u + a + L")
    print("  ring all-reduce (not implemented; for comparison): "
          f"T(k) = C/k + 2*(k-1)/k*P/BW + a + 2*(k-1)*alpha, alpha = {ALPHA * 1e3:.2f} ms a hop")
    for k in counts:
        star_comm = 2 * k * parameter_bytes / bandwidth
        star = compute / k + star_comm + k * per_worker + fixed + latency
        ring_comm = 2 * (k - 1) / k * parameter_bytes / bandwidth
        ring = compute / k + ring_comm + fixed + 2 * (k - 1) * ALPHA
        print(f"  k={k}: driver: {C:.1f}/{k} + {star_comm * 1e3:.1f} + {k}*{u:.2f} + {a:.2f} + {L:.2f} "
              f"= {star * 1e3:.1f} ms -> speed-up {one / star:.2f}x; ring: {C:.1f}/{k} "
              f"+ {ring_comm * 1e3:.1f} + {a:.2f} + {2 * (k - 1) * ALPHA * 1e3:.2f} = {ring * 1e3:.1f} ms "
              f"-> {one / ring:.2f}x")
        weak = k * one / (one + star_comm + k * per_worker + latency)
        print(f"        with {BATCH} images per worker (global batch {k * BATCH}) instead: throughput "
              f"{weak:.1f}x through the driver")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gbps", type=float, default=10.0)
    parser.add_argument("--workers-projected", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args()
    print(f"# dask fit: {machine()}\n# {load()} at the start")

    compute = compute_per_step(args.steps, threads=1)
    compute2 = compute_per_step(args.steps, threads=2)
    print(f"compute per step, batch {BATCH}, one process: {compute * 1e3:.1f} ms with 1 BLAS thread, "
          f"{compute2 * 1e3:.1f} ms with 2")
    per_worker, fixed, times = update_costs()
    print("driver averaging of k gradients: " + ", ".join(f"k={k} {t * 1e3:.2f} ms" for k, t in times.items())
          + f"; per worker {per_worker * 1e3:.2f} ms; fixed part with Adam's update {fixed * 1e3:.2f} ms")

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    with cluster, Client(cluster) as client:
        x, y = images(BATCH * args.steps)
        model = classic_cnn()
        parameter_bytes = sum(w.value.nbytes for w in model.trainable_weights)
        print(f"\nconvolve.dask.fit on {args.workers} worker processes of 1 thread (medians of {args.steps} "
              f"steps after {args.steps} untimed), {parameter_bytes:,} bytes of parameters:")
        full = dask_steps(client, model, x, y, BATCH, args.steps)
        show(f"batch {BATCH}", full)
        payload = dask_steps(client, classic_cnn(), x, y, args.workers, args.steps)
        show(f"batch {args.workers} (one image a worker)", payload)
        zeros = np.zeros((64, 4), np.float32)
        tiny = dask_steps(client, tiny_model(), zeros, np.zeros(64, int), args.workers, args.steps)
        show("10-parameter model", tiny)
    moved = payload["bytes_sent"] + payload["bytes_received"]
    rate = moved / max(payload["communication"] - tiny["communication"], 1e-9)
    print(f"  loopback throughput for weights and gradients: {moved / 1e6:.2f} MB in "
          f"{(payload['communication'] - tiny['communication']) * 1e3:.1f} ms beyond the latency = "
          f"{rate / 1e9:.2f} GB/s; communication / compute at batch {BATCH}: "
          f"{full['communication'] / full['worker_seconds']:.2f}")
    project(compute, per_worker, fixed, tiny["communication"],
            parameter_bytes, args.gbps, args.workers_projected)
    print(f"# {load()} at the end")


if __name__ == "__main__":
    main()
