"""Prediction on Dask workers against ``model.predict`` in one process, each in its own process.

    python benchmarks/dask_predict.py                    # both parts (~2 min on 2 cores)
    python benchmarks/dask_predict.py --rows 4096        # another chunk size
    python benchmarks/dask_predict.py --part dask        # one part: process, dask

The figures of issue #14 item 4 (targets in brackets; measured here, never asserted):

* **throughput** [dask >= 0.85x process]: predicting the 60,000 Fashion-MNIST training images
  (28x28x1 float32 in [0, 1]; the bundled subset repeated when the full set is not on the
  machine) with the classic CNN below, batch 128:
  - *process*: ``model.predict(x)`` in one process whose BLAS has ``--workers`` threads (convolve
    then splits each product among that many single-threaded BLAS threads, ``ops/blas.py``);
  - *dask*: ``convolve.dask.predict(model, x).compute()`` on ``local_cluster(--workers)``:
    that many worker processes of one thread each, BLAS single-threaded. The images are
    scattered to the workers first, ``--rows`` a chunk, as if each worker had read its own
    share (the process starts with them in memory too); the time runs from ``predict`` (the
    model's bytes scattered, each worker loading it on the first run) to the result on the
    client. The first run is reported apart (the workers load the model); then the best of
    ``--repeats``.
* **overhead per chunk** [< 50 ms]: ``--tiny`` chunks of 8 images on the same cluster (the
  model cached on the workers) against the same chunks predicted one after another by one
  single-threaded process: the workers' seconds (wall time x workers) minus that compute,
  per chunk. It counts everything a chunk costs beyond its arithmetic: the scheduler, the
  messages, the task's own calls, the result's transfer.

Classic CNN (Keras' mnist_cnn): Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D, Dropout
0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax; weights drawn with seed 0 (speed
does not depend on training). The CPU model, BLAS, versions and the load average are printed
with the table; quote only runs made on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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
    import numpy as np

    blas = "BLAS unknown (threadpoolctl missing)"
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            blas = f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})"
    except ImportError:
        pass
    from convolve import __version__

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"{os.cpu_count()} cores, {cpu}; {blas}\npython {platform.python_version()}, numpy {np.__version__}, "
        f"dask {dask.__version__}, distributed {distributed.__version__}, convolve {__version__}\n"
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start"
    )


def images(n=60_000):
    """float32 (n, 28, 28, 1) in [0, 1] and where they came from."""
    import numpy as np

    from convolve.datasets import fashion_mnist

    try:
        (x, _), _ = fashion_mnist.load_data()
        source = "Fashion-MNIST training set"
    except (OSError, ValueError, RuntimeError):
        (x, _), _ = fashion_mnist.load_subset()
        source = "the bundled subset, repeated"
    x = np.concatenate([x] * -(-n // len(x)))[:n]
    return (x.astype(np.float32) / 255.0)[..., None], source


def classic_cnn():
    import numpy as np

    from convolve import layers as L
    from convolve.models import Sequential

    model = Sequential([
        L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.Conv2D(64, 3, activation="relu"),
        L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.05, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


# ---- the parts, each run in its own process -------------------------------------------------------------
def part_process(args) -> dict:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=args.workers, user_api="blas")
    x, source = images(args.images)
    model = classic_cnn()
    model.predict(x[:1024], batch_size=args.batch_size, verbose=0)  # warm: workspaces, thread pool
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.predict(x, batch_size=args.batch_size, verbose=0)
        times.append(time.perf_counter() - start)
    return {"source": source, "n": len(x), "times": times}


def part_dask(args) -> dict:
    import dask.array as da
    import numpy as np
    from distributed import Client, wait
    from threadpoolctl import threadpool_limits

    from convolve.dask import local_cluster, predict

    x, source = images(args.images)
    model = classic_cnn()
    out = {"source": source, "n": len(x), "rows": args.rows, "workers": args.workers}
    with local_cluster(args.workers) as cluster, Client(cluster) as client:
        pieces = [x[i : i + args.rows] for i in range(0, len(x), args.rows)]
        futures = client.scatter(pieces)  # spread over the workers
        wait(futures)
        dx = da.concatenate([
            da.from_delayed(f, shape=p.shape, dtype=p.dtype) for f, p in zip(futures, pieces)
        ])
        times = []
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            y = predict(model, dx, batch_size=args.batch_size).compute()
            times.append(time.perf_counter() - start)
        with threadpool_limits(limits=1, user_api="blas"):
            expected = model.predict(x[: args.rows], batch_size=args.batch_size, verbose=0)
        out["max_difference"] = float(np.abs(y[: args.rows] - expected).max())
        out["first"], out["times"] = times[0], times[1:]

        # overhead per chunk: tiny chunks on the cluster, and the same work in one thread here
        tiny = x[: 8 * args.tiny]
        small = [tiny[i : i + 8] for i in range(0, len(tiny), 8)]
        tiny_futures = client.scatter(small)
        wait(tiny_futures)
        dt = da.concatenate(
            [da.from_delayed(f, shape=p.shape, dtype=p.dtype) for f, p in zip(tiny_futures, small)]
        )
        predict(model, dt).compute()  # warm: the model loaded on every worker
        walls = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            predict(model, dt).compute()
            walls.append(time.perf_counter() - start)
    with threadpool_limits(limits=1, user_api="blas"):
        for piece in small[:20]:
            model.predict(piece, verbose=0)  # warm
        computes = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for piece in small:
                model.predict(piece, verbose=0)
            computes.append(time.perf_counter() - start)
    out["tiny"] = {"chunks": len(small), "wall": min(walls), "compute": min(computes)}
    return out


def child(part: str, args) -> dict:
    command = [sys.executable, __file__, "--part", part, "--json"] + [
        f"--{name.replace('_', '-')}={value}" for name, value in
        (("workers", args.workers), ("rows", args.rows), ("repeats", args.repeats),
         ("batch_size", args.batch_size), ("tiny", args.tiny), ("images", args.images))
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"the {part} part failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["process", "dask"], help="run one part (default: both)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers, and BLAS threads for 'process'")
    parser.add_argument("--rows", type=int, default=2048, help="images a Dask chunk")
    parser.add_argument("--batch-size", type=int, default=128, help="model.predict's batch size")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (the best is reported)")
    parser.add_argument("--tiny", type=int, default=200, help="tiny chunks (8 images each) for the overhead")
    parser.add_argument("--images", type=int, default=60_000, help="how many images (fewer: a quick try)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        result = (part_process if args.part == "process" else part_dask)(args)
        print(json.dumps(result))
        return
    print(machine())
    parts = [args.part] if args.part else ["process", "dask"]
    results = {part: child(part, args) for part in parts}
    n = next(iter(results.values()))["n"]
    source = next(iter(results.values()))["source"]
    print(f"{n:,} images ({source}), the classic CNN, batch {args.batch_size}\n")
    if "process" in results:
        best = min(results["process"]["times"])
        print(
            f"process: model.predict, {args.workers} BLAS threads       {best:7.2f} s  "
            f"{n / best:8,.0f} images/s"
        )
    if "dask" in results:
        d = results["dask"]
        best = min(d["times"])
        print(f"dask:    {args.workers} workers x 1 thread, {args.rows} rows a chunk  {best:7.2f} s  "
              f"{n / best:8,.0f} images/s (first run, loading the model: {d['first']:.2f} s)")
        if "process" in results:
            ratio = min(results["process"]["times"]) / best
            print(f"         dask / process throughput: {ratio:.2f}x (target >= 0.85x)")
        t = d["tiny"]
        per = (t["wall"] * args.workers - t["compute"]) / t["chunks"]
        print(
            f"overhead per chunk: {t['chunks']} chunks of 8 images in {t['wall']:.3f} s on {args.workers} "
            f"workers, {t['compute']:.3f} s of compute in one thread: {per * 1000:.1f} ms a chunk "
            "(target < 50 ms)"
        )
        print(f"largest difference from model.predict on the first chunk: {d['max_difference']:.2e}")


if __name__ == "__main__":
    main()
