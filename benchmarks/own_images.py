"""Your own images: reading class folders, training from them, and augmentation, each part in
its own process.

    python benchmarks/own_images.py                 # all three parts (~3 min on 2 cores)
    python benchmarks/own_images.py --parts decode  # one part: decode, folders, augment

The three figures of issue #11 (targets in brackets; measured here, never asserted):

* **decode** [>= 5,000 images/s on 2 cores]: 10,000 28x28 grey PNG files in 10 class folders
  (Fashion-MNIST images: the full training set when it is on the machine, else the bundled
  subset repeated), read with ``image_dataset_from_directory(..., color_mode="grayscale",
  image_size=(28, 28), batch_size=128, shuffle=False)``: images per second over one whole pass,
  the best of ``--passes``.
* **folders** [<= 1.2x]: one ``fit`` epoch of the classic CNN (below, with ``Rescaling(1/255)``
  in front) on those 10,000 images from the folders with ``.cache()`` (the epoch after the one
  that filled the cache), against the same epoch from the same images as arrays. Each in its
  own process; median of ``--epochs`` timed epochs after one untimed.
* **augment** [<= +20%]: a training step of the classic CNN at batch 128 on 28x28x1 images with
  and without ``RandomFlip("horizontal")``, ``RandomRotation(0.1)`` and ``RandomZoom(0.1)`` in
  front; each in its own process, median of ``--steps`` ``train_on_batch`` calls after 5 untimed.

Classic CNN (Keras' mnist_cnn): Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D, Dropout
0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax; Adam; batch 128. The machine's CPU
model, BLAS kernel and thread count, versions and the load average at the start are printed
with the table; quote only runs made on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N_IMAGES = 10_000


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy as np

    blas = "BLAS unknown (threadpoolctl missing)"
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            blas = (f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}), "
                    f"{p.get('num_threads')} threads")
    except ImportError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores, {cpu}; python {platform.python_version()}, numpy {np.__version__}; "
            f"{blas}; load average {load:.2f} at the start")


def fashion_images():
    """(uint8 images (N, 28, 28), labels): the full training set if found, else the bundled subset."""
    from convolve.datasets import fashion_mnist

    try:
        (x, y), _ = fashion_mnist.load_data()
    except (OSError, ValueError, RuntimeError):
        (x, y), _ = fashion_mnist.load_subset()
    reps = -(-N_IMAGES // len(x))
    import numpy as np

    return np.tile(x, (reps, 1, 1))[:N_IMAGES], np.tile(y, reps)[:N_IMAGES]


def write_folders(folder: Path) -> None:
    from PIL import Image

    x, y = fashion_images()
    for k in range(10):
        (folder / f"class_{k}").mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x, y)):
        Image.fromarray(image, mode="L").save(folder / f"class_{int(label)}" / f"{i:05d}.png")


def classic(augment: bool):
    from convolve import layers as L
    from convolve.models import Sequential

    front = [L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1)] if augment else []
    model = Sequential([
        L.Input((28, 28, 1)), *front, L.Rescaling(1 / 255), L.Conv2D(32, 3, activation="relu"),
        L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(),
        L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


# ---- the parts, each run in a child process --------------------------------------------------------
def child_decode(folder, passes):
    from convolve.utils import image_dataset_from_directory

    ds = image_dataset_from_directory(folder, color_mode="grayscale", image_size=(28, 28), batch_size=128,
                                      shuffle=False, verbose=False)
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        n = sum(len(x) for x, _ in ds)
        rates.append(n / (time.perf_counter() - start))
    return {"images": n, "images_per_s": max(rates), "all": rates}


def child_folders(folder, source, epochs):
    import numpy as np

    from convolve.utils import image_dataset_from_directory, set_random_seed

    set_random_seed(0)
    ds = image_dataset_from_directory(folder, color_mode="grayscale", image_size=(28, 28), batch_size=128,
                                      shuffle=True, seed=0, verbose=False).cache()
    model = classic(augment=False)
    if source == "arrays":
        xs, ys = zip(*ds)
        x, y = np.concatenate(xs), np.concatenate(ys)
        fit = lambda: model.fit(x, y, batch_size=128, epochs=1, verbose=0)  # noqa: E731
    else:
        fit = lambda: model.fit(ds, epochs=1, verbose=0)  # noqa: E731
    fit()  # untimed: fills the cache (folders) and warms everything up
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return {"epoch_s": statistics.median(times), "all": times}


def child_augment(augment, steps):
    from convolve.utils import set_random_seed

    set_random_seed(0)
    x, y = fashion_images()
    x = x[:128, :, :, None].astype("float32")
    y = y[:128]
    model = classic(augment=augment)
    for _ in range(5):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return {"step_ms": 1000 * statistics.median(times), "all_ms": [1000 * t for t in times]}


def run_child(*args) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="decode,folders,augment")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the compared processes")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        part, *rest = args.child
        result = {"decode": lambda: child_decode(rest[0], int(rest[1])),
                  "folders": lambda: child_folders(rest[0], rest[1], int(rest[2])),
                  "augment": lambda: child_augment(rest[0] == "1", int(rest[1]))}[part]()
        print(json.dumps(result))
        return

    sys.path.insert(0, str(ROOT))
    print(f"# own images: {machine()}")
    parts = args.parts.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "fashion"
        if {"decode", "folders"} & set(parts):
            write_folders(folder)
        print("| figure | convolve | compared with | ratio | target |")
        print("|---|--:|--:|--:|---|")
        if "decode" in parts:
            r = run_child("decode", folder, args.passes)
            print(f"| decode 10,000 28x28 grey PNG, images/s | {r['images_per_s']:,.0f} | - | - | >= 5,000 |")
        if "folders" in parts:
            got = {"folders": [], "arrays": []}
            for k in range(args.rounds):
                for source in (("folders", "arrays") if k % 2 == 0 else ("arrays", "folders")):
                    got[source].append(run_child("folders", folder, source, args.epochs)["epoch_s"])
            f, a = statistics.median(got["folders"]), statistics.median(got["arrays"])
            print(f"| fit epoch, 10,000 images: folders + cache() vs arrays, s | {f:.2f} | {a:.2f} | "
                  f"{f / a:.2f} | <= 1.2 |")
        if "augment" in parts:
            got = {True: [], False: []}
            for k in range(args.rounds):
                for augment in ((True, False) if k % 2 == 0 else (False, True)):
                    got[augment].append(run_child("augment", int(augment), args.steps)["step_ms"])
            with_, without = statistics.median(got[True]), statistics.median(got[False])
            print(f"| classic CNN step at batch 128, with flip+rotation+zoom vs without, ms | {with_:.1f} | "
                  f"{without:.1f} | {with_ / without:.2f} | <= 1.2 |")


if __name__ == "__main__":
    main()
