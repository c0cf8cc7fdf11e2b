"""The worker half of ``benchmarks/speed.py``, shared by ``_convolve_side.py`` and ``_torch_side.py``.

A worker is one process, one library, one task; it prints one JSON object on stdout (its
progress goes to stderr). speed.py starts them; by hand:

    python benchmarks/_convolve_side.py fit --data DIR --threads 2 --epochs 1
    python benchmarks/_torch_side.py conv --layout channels_last --threads 2 --shapes 0,10 --repeats 5

Each side defines its library's ``Side``: ``set_threads(n)``, ``describe()``, ``classic(seed)``
(the classic CNN, an object with ``train_step(x, y)``, ``fit_epoch(x, y)`` and ``predict(x)``,
all taking NumPy arrays, channels_last) and ``conv_calls(shape, x, kernel, bias, grad_y)``
(a ``conv.Calls``, or None where the side's layout has no such convolution). The tasks here
time both sides with the same code, so nothing in how a figure is taken differs between the
libraries. Only NumPy and threadpoolctl are imported here.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

BATCH = 128  # training batch of the classic CNN
PREDICT_BATCH = 256  # predict's batch, both libraries
WARMUP_SEED = 1  # the throwaway model of the fit task's warm-up
TASKS = ("fit", "steps", "memory", "first-call", "conv")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def status_mb(key: str) -> float:
    """A line of /proc/self/status in MB: VmRSS (resident now) or VmHWM (peak resident);
    getrusage's peak where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def thread_pools() -> list:
    """The native thread pools of this process as threadpoolctl sees them (BLAS, OpenMP)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{**{k: pool.get(k) for k in keys}, "file": Path(pool["filepath"]).name}
            for pool in threadpool_info()]


# --- timing ----------------------------------------------------------------------------------


def timed(call) -> float:
    """Seconds one ``call()`` takes (wall clock)."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def sample(call, repeats: int, warmup: int) -> list:
    """``warmup`` untimed calls, then the seconds of each of ``repeats`` calls, back to back."""
    for _ in range(warmup):
        call()
    return [timed(call) for _ in range(repeats)]


def summary(seconds: list) -> dict:
    return {
        "median": statistics.median(seconds), "min": min(seconds), "max": max(seconds), "n": len(seconds)
    }


# --- data ------------------------------------------------------------------------------------


def load_data(folder: str, images: int, test_images: int):
    """((x, y), (x_test, y_test)): the first ``images`` training and ``test_images`` test images,
    float32 in [0, 1], (N, 28, 28, 1), int64 labels, from the .npy files speed.py wrote (only
    the images asked for are read into memory)."""
    folder = Path(folder)

    def read(name, count):  # a copy in memory, writable, of the first ``count`` rows
        return np.array(np.load(folder / f"{name}.npy", mmap_mode="r")[:count])

    return (read("x_train", images), read("y_train", images)), (read("x_test", test_images),
                                                                 read("y_test", test_images))


def check_probabilities(probabilities, count: int) -> None:
    p = np.asarray(probabilities)
    if p.shape != (count, 10) or not np.allclose(p.sum(axis=1), 1, atol=1e-4):
        raise SystemExit(f"predict did not return probabilities of 10 classes for {count} images: "
                         f"shape {p.shape}")


# --- the tasks -------------------------------------------------------------------------------


def task_fit(side, args) -> dict:
    """Full epochs of training with test accuracy after each, then predict's time on the test set.

    Before anything is timed, a throwaway model (another seed) takes two training steps and one
    predict, so the first-call costs (the import part's figures) stay out of the epochs."""
    (x, y), (x_test, y_test) = load_data(args.data, args.images, args.test_images)
    warm = side.classic(WARMUP_SEED)
    warm.train_step(x[:BATCH], y[:BATCH])
    warm.train_step(x[:BATCH], y[:BATCH])
    warm.predict(x_test[:PREDICT_BATCH])
    del warm
    model = side.classic(args.seed)
    epochs = []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        stats = model.fit_epoch(x, y)
        seconds = time.perf_counter() - start
        probabilities = model.predict(x_test)  # not timed: the accuracy
        check_probabilities(probabilities, len(x_test))
        accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_test))
        epochs.append({"seconds": seconds, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"],
                       "test_accuracy": accuracy})
        log(f"  epoch {epoch + 1}: {seconds:.1f} s, loss {stats['loss']:.4f}, test accuracy {accuracy:.4f}")
    predict = [timed(lambda: model.predict(x_test)) for _ in range(args.predict_repeats)]
    result = {"images": len(x), "test_images": len(x_test), "epochs": epochs, "predict": summary(predict)}
    if args.export_onnx:  # untimed: the trained model for the ONNX Runtime process (speed.py)
        try:
            side.export_onnx(model, args.export_onnx)
        except Exception as error:  # noqa: BLE001 - reported, the fit figures stand
            log(f"  ONNX export failed: {type(error).__name__}: {error}")
        else:
            result["onnx"] = str(args.export_onnx)
    return result


def fixed_batches(x, y, count: int, seed: int) -> list:
    """``count`` batches of BATCH images in a seeded random order (cycling), gathered now."""
    order = np.random.default_rng(seed).permutation(len(x))
    full = len(x) // BATCH
    batches = []
    for i in range(count):
        index = order[(i % full) * BATCH:(i % full + 1) * BATCH]
        batches.append((x[index], y[index]))
    return batches


def task_steps(side, args) -> dict:
    """A fixed piece of work: ``--steps`` training steps (after ``--warmup`` untimed ones) on
    batches gathered beforehand; the total seconds."""
    (x, y), _ = load_data(args.data, args.images, 0)
    model = side.classic(args.seed)
    batches = fixed_batches(x, y, args.warmup + args.steps, args.seed)
    for xb, yb in batches[: args.warmup]:
        model.train_step(xb, yb)
    steps = []
    start = time.perf_counter()
    for xb, yb in batches[args.warmup:]:
        steps.append(timed(lambda xb=xb, yb=yb: model.train_step(xb, yb)))
    return {"steps": args.steps, "seconds": time.perf_counter() - start, "step": summary(steps)}


def task_memory(side, args) -> dict:
    """Resident memory: after importing the library, after loading the data and building the
    model, and the peak (VmHWM) after one epoch of fit on the first ``--memory-images`` images
    and a predict of the test set."""
    after_import = status_mb("VmRSS")
    (x, y), (x_test, _) = load_data(args.data, args.images, args.test_images)
    model = side.classic(args.seed)
    after_load = status_mb("VmRSS")
    count = min(args.memory_images, len(x))
    model.fit_epoch(x[:count], y[:count])
    model.predict(x_test)
    return {"rss_after_import_mb": after_import, "rss_after_load_mb": after_load,
            "peak_rss_mb": status_mb("VmHWM"), "images": len(x), "fit_images": count,
            "test_images": len(x_test)}


def task_first_call(side, args) -> dict:
    """The first predict of a batch and the first training step of a new model in this fresh
    process, then ``--repeats`` more of each: first minus the median is the one-time cost
    (compiling or loading kernels, allocating, choosing algorithms)."""
    rng = np.random.default_rng(args.seed)
    x = rng.random((BATCH, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, BATCH)
    model = side.classic(args.seed)
    first_predict = timed(lambda: model.predict(x))
    first_step = timed(lambda: model.train_step(x, y))
    predict = [timed(lambda: model.predict(x)) for _ in range(args.repeats)]
    steps = [timed(lambda: model.train_step(x, y)) for _ in range(args.repeats)]
    return {"first_predict": first_predict, "predict": summary(predict),
            "first_step": first_step, "step": summary(steps)}


def task_conv(side, args) -> dict:
    """The conv table's shapes for this side: checked, then timed (``conv.measure``)."""
    import conv

    indices = conv.parse_indices(args.shapes) if args.shapes else list(range(len(conv.SHAPES)))
    return {"shapes": conv.measure(side.conv_calls, indices, repeats=args.repeats, warmup=args.warmup)}


def worker_main(side_class, layouts: tuple, argv=None) -> int:
    """Parse the task, set the threads, run the task; print its figures and the process's
    description as one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("--layout", choices=layouts, default=layouts[0])
    parser.add_argument("--threads", type=int, required=True, help="threads for the library")
    parser.add_argument("--data", help="folder of x_train.npy, y_train.npy, x_test.npy, y_test.npy")
    parser.add_argument("--images", type=int, default=60000, help="training images to load")
    parser.add_argument("--test-images", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--predict-repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20, help="steps task: timed training steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps or calls first")
    parser.add_argument("--repeats", type=int, default=15, help="conv: timed calls; first-call: later calls")
    parser.add_argument("--memory-images", type=int, default=60 * BATCH)
    parser.add_argument("--shapes", default=None, help="conv: shape indices, e.g. '0,3-5' (default all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export-onnx", default=None,
                        help="fit: afterwards, untimed, export the trained model to this ONNX file")
    args = parser.parse_args(argv)
    side = side_class(args.layout)
    side.set_threads(args.threads)
    tasks = {"fit": task_fit, "steps": task_steps, "memory": task_memory, "first-call": task_first_call,
             "conv": task_conv}
    result = tasks[args.task](side, args)
    result["process"] = side.describe()
    print(json.dumps(result), flush=True)
    return 0
