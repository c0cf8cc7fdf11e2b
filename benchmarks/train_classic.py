"""The classic Keras example CNN on Fashion-MNIST: training and inference speed and memory, \
convolve vs PyTorch.

    python benchmarks/train_classic.py                          # time: batches interleaved + inference
                                                                # (~2 min)
    python benchmarks/train_classic.py --batches 20 --rounds 5  # more batches per visit and more visits
    python benchmarks/train_classic.py --memory convolve        # one library alone: peak memory of a
                                                                # training run
    python benchmarks/train_classic.py --epochs 12 --torch-epochs 2   # full epochs with test accuracy

Model (Keras' mnist_cnn example): Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D 2,
Dropout 0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax; Adam 1e-3 (epsilon 1e-7
for both); batch 128; inputs scaled to [0, 1], float32. PyTorch's model is the same network
(N, C, H, W layout; for one channel the NHWC array is reshaped, not copied).

Three modes; which figure comes from which:

* **time** (the default): both libraries in this one process with the same threads (NumPy's
  BLAS limited with threadpoolctl, ``torch.set_num_threads`` to match). After ``--warmup``
  untimed batches each, ``--rounds`` visits per library, interleaved (who goes first
  alternates); a visit sleeps ``--pause`` s and runs one untimed settling batch, so that the
  other library's idle-spinning BLAS/OpenMP threads are quiet (see README), then times
  ``--batches`` training steps one by one. The epoch time is the median step time x 469
  (ceil(60000 / 128)). A convolve step is ``model.train_on_batch(x, y)`` (forward recorded,
  fused softmax-cross-entropy gradient, backward, Adam update, loss and accuracy), the same
  ``_step`` that ``fit`` runs; a PyTorch step is ``zero_grad``, forward, ``cross_entropy``,
  ``backward``, ``step``. With ``--inference`` (on by default here; ``--no-inference`` skips
  it) also the throughput of predicting the 10,000 test images in batches of 256 (convolve
  ``model.predict(..., batch_size=256)``, PyTorch ``eval()`` under ``no_grad`` with a softmax),
  ``--inference-repeats`` interleaved repeats, median: images per second.
* **memory** (``--memory convolve`` or ``--memory torch``): one library alone in this process
  (run it in a fresh process, as ``run_all.py`` does, since peak memory is per process):
  loads the full training set as float32, trains ``--batches`` steps (default 100), and
  reports the process's peak resident memory (VmHWM, which covers the interpreter, the
  library, the data set and the training's working memory) and the resident memory after
  loading the data and importing the library.
* **epochs** (``--epochs E``): full epochs of ``model.fit`` with test accuracy after each, then
  ``--torch-epochs`` PyTorch epochs (the README's accuracy table). Wall time per epoch.

``--json`` prints one final line ``#json {...}`` with the figures, for ``run_all.py``.
Nothing here is asserted; it prints numbers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

BATCH = 128
STEPS_PER_EPOCH = math.ceil(60000 / BATCH)  # 469
PREDICT_BATCH = 256


# ---- environment -------------------------------------------------------------------------


def proc_status_mb(key: str) -> float:
    """A memory line of /proc/self/status (VmRSS, VmHWM) in MB; getrusage's peak where absent."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def set_threads(threads):
    """Limit NumPy's BLAS (threadpoolctl) and torch to ``threads``; returns (threads, limiter, note)."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        return threads, None, "threadpoolctl not installed: NumPy's BLAS threads not set"
    if threads is None:
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        threads = pools[0]["num_threads"] if pools else os.cpu_count()
    return threads, threadpool_limits(limits=threads, user_api="blas"), ""


def load(which: str):
    """((x, y), (x_test, y_test)): float32 in [0, 1], (N, 28, 28, 1); int64 labels."""
    from convolve.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data() if which == "full" else fashion_mnist.load_subset()

    def scale(images):
        out = np.empty((*images.shape, 1), dtype=np.float32)
        np.divide(images[..., None], np.float32(255.0), out=out)  # one float32 copy, no float64 temporary
        return out

    return (scale(x), y.astype(np.int64)), (scale(xt), yt.astype(np.int64))


# ---- the two models ------------------------------------------------------------------------


def convolve_model(seed):
    import convolve
    from convolve.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from convolve.models import Sequential

    convolve.utils.set_random_seed(seed)
    model = Sequential([
        Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"),
        MaxPooling2D(2), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    model.compile(convolve.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_model(seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
    )
    return model, torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)


def nchw(x):
    """(N, H, W, C) -> a torch (N, C, H, W) tensor; no copy for one channel."""
    import torch

    if x.shape[-1] == 1:
        return torch.from_numpy(x.reshape(x.shape[0], 1, *x.shape[1:3]))
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))


def batch_indices(order, i):
    """The i-th full batch of ``order``, cycling (the short last batch of an epoch is skipped,
    so every timed step has BATCH images)."""
    full = len(order) // BATCH
    start = (i % full) * BATCH
    return order[start : start + BATCH]


class ConvolveRunner:
    name = "convolve"

    def __init__(self, data, seed):
        (self.x, self.y), (self.xt, self.yt) = data
        self.model = convolve_model(seed)
        self.order = np.random.default_rng(seed).permutation(len(self.x))
        self.i = 0

    def step(self):
        idx = batch_indices(self.order, self.i)
        self.i += 1
        self.model.train_on_batch(self.x[idx], self.y[idx])

    def predict(self):
        return self.model.predict(self.xt, batch_size=PREDICT_BATCH, verbose=0)


class TorchRunner:
    name = "torch"

    def __init__(self, data, seed):
        import torch

        self.torch = torch
        (x, y), (xt, yt) = data
        self.X, self.Y, self.XT = nchw(x), torch.from_numpy(y), nchw(xt)
        self.model, self.opt = torch_model(seed)
        self.order = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
        self.i = 0

    def step(self, idx=None):
        if idx is None:
            idx = batch_indices(self.order, self.i)
            self.i += 1
        self.model.train()
        self.opt.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.model(self.X[idx]), self.Y[idx])
        loss.backward()
        self.opt.step()

    def epoch(self):
        """One epoch in a fresh random order, the last batch short (as ``fit`` does)."""
        order = self.torch.randperm(len(self.X))
        for start in range(0, len(self.X), BATCH):
            self.step(order[start : start + BATCH])

    def predict(self):
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            out = [
                torch.softmax(self.model(self.XT[i : i + PREDICT_BATCH]), 1)
                for i in range(0, len(self.XT), PREDICT_BATCH)
            ]
        return torch.cat(out).numpy()


# ---- modes ---------------------------------------------------------------------------------


def time_mode(args, data):
    """Interleaved per-step times and inference throughput; returns the figures."""
    runners = [ConvolveRunner(data, args.seed)]
    try:
        runners.append(TorchRunner(data, args.seed))
    except ImportError:
        print("# PyTorch not installed: convolve only", flush=True)
    for r in runners:
        for _ in range(args.warmup):
            r.step()
    steps = {r.name: [] for r in runners}
    for rnd in range(args.rounds):
        for r in runners if rnd % 2 == 0 else runners[::-1]:
            time.sleep(args.pause)
            r.step()  # settling step, untimed
            for _ in range(args.batches):
                t = time.perf_counter()
                r.step()
                steps[r.name].append(time.perf_counter() - t)
        print(
            f"# round {rnd + 1}/{args.rounds}: "
            + ", ".join(
                f"{k} {statistics.median(v[-args.batches :]) * 1000:.0f} ms/step" for k, v in steps.items()
            ),
            flush=True,
        )
    result = {"threads": args.threads, "steps_timed": args.batches * args.rounds}
    for name, ts in steps.items():
        result[f"{name}_step_ms"] = statistics.median(ts) * 1000
        result[f"{name}_step_ms_min"] = min(ts) * 1000
        result[f"{name}_step_ms_max"] = max(ts) * 1000
        result[f"{name}_epoch_s"] = statistics.median(ts) * STEPS_PER_EPOCH
    if args.inference:
        outputs, times = {}, {r.name: [] for r in runners}
        for r in runners:
            outputs[r.name] = r.predict()  # warm-up
        for rep in range(args.inference_repeats):
            for r in runners if rep % 2 == 0 else runners[::-1]:
                time.sleep(args.pause)
                t = time.perf_counter()
                r.predict()
                times[r.name].append(time.perf_counter() - t)
        n = len(data[1][0])
        result["test_images"] = n
        for name, ts in times.items():
            result[f"{name}_predict_s"] = statistics.median(ts)
            result[f"{name}_images_per_s"] = n / statistics.median(ts)
        for name, out in outputs.items():
            assert out.shape == (n, 10) and np.allclose(out.sum(1), 1, atol=1e-4), (
                f"{name}: predictions are not probabilities"
            )
    return result


def memory_mode(args, data):
    """One library alone: train ``--batches`` steps; peak resident memory of this process."""
    runner = (ConvolveRunner if args.memory == "convolve" else TorchRunner)(data, args.seed)
    rss_loaded = proc_status_mb("VmRSS")  # interpreter + library + data set + model
    t = time.perf_counter()
    for _ in range(args.batches):
        runner.step()
    seconds = time.perf_counter() - t
    return {
        "library": args.memory, "steps": args.batches, "peak_rss_mb": proc_status_mb("VmHWM"),
        "rss_after_load_mb": rss_loaded, "step_ms_mean": seconds / args.batches * 1000,
    }


def epochs_mode(args, data):
    """Full epochs with ``fit`` and test accuracy; then PyTorch's epochs."""
    (x, y), (xt, yt) = data
    rows = {"convolve": [], "torch": []}
    model = convolve_model(args.seed)
    for epoch in range(args.epochs):
        t = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        seconds = time.perf_counter() - t
        _, acc = model.evaluate(xt, yt, batch_size=512, verbose=0)
        rows["convolve"].append((seconds, acc))
        print(f"convolve epoch {epoch + 1}: {seconds:.1f} s, test accuracy {acc:.4f}", flush=True)
    if args.torch_epochs:
        try:
            r = TorchRunner(data, args.seed)
        except ImportError:
            print("# PyTorch not installed: no comparison", flush=True)
            r = None
        for epoch in range(args.torch_epochs if r else 0):
            t = time.perf_counter()
            r.epoch()
            seconds = time.perf_counter() - t
            acc = float((r.torch.from_numpy(r.predict()).argmax(1) == r.torch.from_numpy(yt)).float().mean())
            rows["torch"].append((seconds, acc))
            print(f"torch epoch {epoch + 1}: {seconds:.1f} s, test accuracy {acc:.4f}", flush=True)
    print(
        "\n| epoch | convolve s | convolve test acc | PyTorch s | PyTorch test acc |\n|---|--:|--:|--:|--:|"
    )
    for i in range(max(len(rows["convolve"]), len(rows["torch"]))):
        c = rows["convolve"][i] if i < len(rows["convolve"]) else None
        t = rows["torch"][i] if i < len(rows["torch"]) else None
        cells = [f"{c[0]:.1f} | {c[1]:.4f}" if c else " | ", f"{t[0]:.1f} | {t[1]:.4f}" if t else " | "]
        print(f"| {i + 1} | {cells[0]} | {cells[1]} |")
    return {"convolve_epochs": rows["convolve"], "torch_epochs": rows["torch"]}


def print_time_table(result):
    c = result

    def row(label, ours, theirs, fmt, ratio):
        cells = [
            format(ours, fmt),
            "n/a" if theirs is None else format(theirs, fmt),
            "n/a" if theirs is None else f"{ratio:.2f}",
        ]
        print(f"| {label} | " + " | ".join(cells) + " |")

    print("\n| figure | convolve | PyTorch | convolve / PyTorch (time) |\n|---|--:|--:|--:|")
    t = c.get("torch_step_ms")
    row(
        f"training step, batch {BATCH}, median ms",
        c["convolve_step_ms"],
        t,
        ".1f",
        t and c["convolve_step_ms"] / t,
    )
    t = c.get("torch_epoch_s")
    row(
        f"epoch of {STEPS_PER_EPOCH} steps (median step x {STEPS_PER_EPOCH}), s",
        c["convolve_epoch_s"],
        t,
        ".1f",
        t and c["convolve_epoch_s"] / t,
    )
    if "convolve_images_per_s" in c:
        t = c.get("torch_images_per_s")
        row(
            f"inference, {c['test_images']} images in batches of {PREDICT_BATCH}, images/s",
            c["convolve_images_per_s"],
            t,
            ".0f",
            t and t / c["convolve_images_per_s"],
        )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=None,
        help="time mode: timed steps per visit (default 10); memory mode: steps (default 100)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="time mode: visits per library (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="time mode: untimed steps per library first (default 3)"
    )
    parser.add_argument(
        "--pause", type=float, default=0.2, help="seconds of sleep before each visit (default 0.2)"
    )
    parser.add_argument(
        "--no-inference", dest="inference", action="store_false", help="time mode: skip inference"
    )
    parser.add_argument(
        "--inference-repeats", type=int, default=3, help="interleaved predict repeats (default 3)"
    )
    parser.add_argument(
        "--memory",
        choices=("convolve", "torch"),
        help="memory mode for one library (run it in its own process)",
    )
    parser.add_argument(
        "--epochs", type=int, default=0, help="epochs mode: convolve epochs with test accuracy"
    )
    parser.add_argument("--torch-epochs", type=int, default=0, help="epochs mode: PyTorch epochs (0: none)")
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for both libraries (default: NumPy's BLAS count)"
    )
    parser.add_argument(
        "--data",
        choices=("full", "bundled"),
        default="full",
        help="full Fashion-MNIST (default) or the bundled 3000+1000 subset (a quick smoke run)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json", action="store_true", help="print a final '#json {...}' line with the figures"
    )
    args = parser.parse_args(argv)
    mode = "memory" if args.memory else "epochs" if args.epochs else "time"
    if args.batches is None:
        args.batches = 100 if mode == "memory" else 10
    args.threads, _limiter, note = set_threads(args.threads)
    torch_note = "torch not imported"
    if args.memory != "convolve":  # convolve's memory run never imports torch
        try:
            import torch

            torch.set_num_threads(args.threads)
            torch_note = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
        except ImportError:
            torch_note = "torch not installed"
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}, "
        f"numpy {np.__version__} ({args.threads} BLAS threads), {torch_note}; {note}".rstrip("; ")
    )
    print(
        f"# command: python {' '.join(sys.argv)}; mode {mode}; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    data = load(args.data)
    if mode == "time":
        result = time_mode(args, data)
        print_time_table(result)
    elif mode == "memory":
        result = memory_mode(args, data)
        print(
            f"\n{args.memory}: peak RSS {result['peak_rss_mb']:.0f} MB over {args.batches} training steps "
            f"(RSS after loading data and model: {result['rss_after_load_mb']:.0f} MB; "
            f"{result['step_ms_mean']:.0f} ms/step)"
        )
    else:
        result = epochs_mode(args, data)
    result.update(mode=mode, load_average_end=os.getloadavg()[0])
    if args.json:
        print("#json " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
