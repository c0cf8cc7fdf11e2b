"""Speed II (issue #10): every figure of the speed issue in one command, each library in its own process.

    python benchmarks/speed.py                      # every part with the defaults (~8 min on 2 cores)
    python benchmarks/speed.py --quick              # a smoke run (~1.5 min): little data, 3 shapes
    python benchmarks/speed.py --parts fit --epochs 12       # test accuracy over 12 epochs
    python benchmarks/speed.py --parts conv,import --threads 1 --json speed.json

The contenders. Every measurement runs in a fresh Python process that holds one library, never
both (``_convolve_side.py`` never imports PyTorch, ``_torch_side.py`` never imports convolve):

    convolve (numba)      _convolve_side.py with CONVOLVE_KERNELS=numba (the compiled kernels)
    convolve (numpy)      _convolve_side.py with CONVOLVE_KERNELS=numpy (the NumPy formulations)
    torch NCHW            _torch_side.py --layout nchw
    torch channels_last   _torch_side.py --layout channels_last (Conv1D has no such layout: NCL only)

and, for inference only, ONNX Runtime (``_onnxruntime_side.py``) running the classic CNN that
convolve (numba) trained in the fit part and exported to ONNX (when onnxruntime is installed).

Every ratio is convolve's figure over PyTorch's faster layout's (its lower memory, for memory):
below 1, convolve is faster (smaller). Both layouts' own figures are in the tables.

Threads: ``--threads N`` (default 2) for every library: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS and NUMBA_NUM_THREADS are N in every worker's environment, and inside it
``convolve.config.set_num_threads(N)`` or ``torch.set_num_threads(N)`` and
``set_num_interop_threads(N)``. The data: Fashion-MNIST from ``convolve.datasets``, scaled once
here to float32 in [0, 1], (N, 28, 28, 1), and written as .npy files to a temporary folder
that every worker reads (the images it needs, copied into its memory). Numba's compiled kernels
go to a temporary NUMBA_CACHE_DIR for the whole run, so no other checkout's cache is used.

What is timed (wall clock, ``time.perf_counter``), part by part (``--parts``, default all):

fit
    The classic CNN (Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPool 2, Dropout 0.25, Flatten,
    Dense 128 relu, Dropout 0.5, Dense 10 softmax; Adam 1e-3, batch 128, sparse categorical
    crossentropy; glorot uniform kernels and zero biases in both libraries). First, untimed, a
    throwaway model takes two training steps and one predict, so first-call costs stay out
    (they are the import part's). Then each of ``--epochs`` full epochs over ``--images``
    training images: ``model.fit(x, y, batch_size=128, epochs=1, verbose=0)``, against a plain
    PyTorch loop (a ``torch.randperm`` order, the short last batch kept; ``zero_grad``, forward,
    ``cross_entropy``, ``backward``, ``step``, and the loss and accuracy sums that fit also
    keeps). After each epoch, untimed, the test accuracy from predict on ``--test-images``.
    After the last, ``--predict-repeats`` timed predicts of the test images (median):
    ``model.predict(x_test, batch_size=256)`` against ``eval()``, ``inference_mode``, softmax,
    batches of 256, concatenated into one NumPy array.
conv
    The 12 shapes of benchmarks/conv.py, float32, with bias. In each process, per shape:
    output and gradients checked against float64 references (relative error < 1e-4), then
    ``--conv-repeats`` timed calls after 2 untimed ones, back to back: the median. Forward:
    ``convolve.ops.conv(x, kernel, bias, strides, padding)`` / ``F.conv1d|2d|3d`` in the layout
    (asymmetric 'same'/'causal' padding by ``F.pad`` inside the timed call). Forward+backward:
    ``conv`` then ``conv_backward(..., use_bias=True, need_input_grad=True)`` as training calls
    them / ``requires_grad`` on input, weight and bias, then ``y.backward(grad_y)``.
memory
    Resident memory of a process that loads ``--images`` training images and the test images,
    builds the model, fits one epoch on the first ``--memory-steps`` x 128 images and predicts
    the test set: after importing the library, after data and model, and the peak (VmHWM).
import
    ``import numpy``, ``import convolve`` and ``import torch``, each in ``--import-repeats``
    fresh interpreters, ``perf_counter`` around the import statement (interpreter start-up
    excluded), bytecode cached in a temporary PYTHONPYCACHEPREFIX filled by one untimed import.
    Then the first calls: in a fresh process, after building the model, the first predict of a
    batch of 128 and the first training step, then 5 more of each; the one-time cost is the
    first calls minus the later calls' medians. convolve (numba) runs twice with a new, empty
    NUMBA_CACHE_DIR: first compiling every kernel it needs, then loading them from that cache
    (both include importing Numba, which ``import convolve`` leaves to the first kernel).
contention
    A second process (``_matmul_load.py``) multiplies 2048 x 2048 float32 matrices in a loop with
    2 BLAS threads. For each contender, ``--contention-steps`` training steps (after 3 untimed,
    on batches gathered beforehand) in a fresh process without it, then in another with it
    running (started before, stopped after): the slowdown is the ratio. The loop's own rate
    while it shared the cores is printed beside its rate alone (measured first).

Printed: a header (command, CPU model, NumPy's BLAS as threadpoolctl names it, versions, commit,
threads, load average), one Markdown table per part as it ends (with the load average at its
start and end and its wall time), and what each process said about itself (kernels, threads,
thread pools). Progress goes to stderr. Nothing is asserted about speed; figures taken while
other work loaded the machine are not figures (read the load averages).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTS = ("fit", "conv", "memory", "import", "contention")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
LOAD_THREADS = 2  # the contention part's matmul loop
BATCH = 128

#: the defaults of a full run, and of --quick (a smoke run); each has a command-line option
FULL = {"images": 60000, "test_images": 10000, "epochs": 1, "predict_repeats": 3, "shapes": None,
        "conv_repeats": 15, "memory_steps": 60, "import_repeats": 10, "first_call_repeats": 5,
        "contention_steps": 20, "load_alone_seconds": 5.0}
QUICK = {"images": 1024, "test_images": 512, "epochs": 1, "predict_repeats": 1, "shapes": "0,10,11",
         "conv_repeats": 2, "memory_steps": 4, "import_repeats": 2, "first_call_repeats": 2,
         "contention_steps": 3, "load_alone_seconds": 1.0}


@dataclass(frozen=True)
class Contender:
    name: str
    script: str
    options: tuple = ()
    env: tuple = ()  # (name, value) pairs for its environment

    @property
    def is_torch(self) -> bool:
        return self.script == "_torch_side.py"


CONTENDERS = (
    Contender("convolve (numba)", "_convolve_side.py", env=(("CONVOLVE_KERNELS", "numba"),)),
    Contender("convolve (numpy)", "_convolve_side.py", env=(("CONVOLVE_KERNELS", "numpy"),)),
    Contender("torch NCHW", "_torch_side.py", options=("--layout", "nchw")),
    Contender("torch channels_last", "_torch_side.py", options=("--layout", "channels_last")),
)
OURS = tuple(c for c in CONTENDERS if not c.is_torch)
#: inference only (the fit part): convolve's trained classic CNN, exported to ONNX by the
#: convolve (numba) process, run by ONNX Runtime in its own process (when onnxruntime is installed)
ONNX_RUNTIME = Contender("onnxruntime (convolve's model)", "_onnxruntime_side.py")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def revision() -> str:
    """The commit, and whether convolve/ or benchmarks/ differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = [d for d in ("convolve", "benchmarks") if git("status", "--porcelain", "--", d)]
    return f"commit {commit}" + "".join(f" + uncommitted changes under {d}/" for d in dirty)


def numpy_blas() -> str:
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return "not found by threadpoolctl"
    p = pools[0]
    return (f"{p['internal_api']} {p.get('version')}, architecture {p.get('architecture')}, "
            f"{p.get('threading_layer')}")


def header(argv: list, threads: int) -> list:
    return [
        f"# command: python benchmarks/speed.py {' '.join(argv)}".rstrip(),
        f"# machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}",
        f"# NumPy's BLAS (threadpoolctl): {numpy_blas()}",
        f"# versions: python {platform.python_version()}, numpy {version('numpy')}, "
        f"numba {version('numba')}, torch {version('torch')}, convolve {version('convolve')} ({revision()})",
        f"# threads: {threads} for every library; each library in its own process",
        f"# load average at start: {load_average()}",
    ]


# --- workers -------------------------------------------------------------------------------------


class Run:
    """One benchmark session: settings, the data and cache folders, and the workers' reports."""

    def __init__(self, settings: dict, threads: int, folder: Path, timeout: float):
        self.settings, self.threads, self.folder, self.timeout = settings, threads, folder, timeout
        self.data = folder / "data"
        self.numba_cache = folder / "numba-cache"
        self.processes = {}  # contender name -> its first report on itself

    def environment(self, contender: Contender, extra: dict | None = None) -> dict:
        env = dict(os.environ)
        env.update({name: str(self.threads) for name in THREAD_VARIABLES})
        env["NUMBA_CACHE_DIR"] = str(self.numba_cache)
        env.update(dict(contender.env))
        env.update(extra or {})
        return env

    def worker(self, contender: Contender, task: str, *options, env: dict | None = None):
        """Run one task in a fresh process; its JSON result, or None (reported) when it fails."""
        command = [sys.executable, str(HERE / contender.script), task, "--threads", str(self.threads),
                   *contender.options, *map(str, options)]
        log(f"[{contender.name}] {task}")
        try:
            done = subprocess.run(command, cwd=ROOT, env=self.environment(contender, env),
                                  stdout=subprocess.PIPE, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            log(f"[{contender.name}] {task}: stopped after {self.timeout:.0f} s (--timeout)")
            return None
        if done.returncode != 0 or not done.stdout.strip():
            log(f"[{contender.name}] {task}: failed with exit status {done.returncode}")
            return None
        result = json.loads(done.stdout.strip().splitlines()[-1])
        self.processes.setdefault(contender.name, result["process"])
        return result

    def data_options(self, images: int | None = None) -> list:
        s = self.settings
        return ["--data", self.data, "--images", images or s["images"], "--test-images", s["test_images"]]


def prepare_data(folder: Path, images: int, test_images: int) -> None:
    """The first ``images`` training and ``test_images`` test images of Fashion-MNIST as .npy:
    float32 in [0, 1], (N, 28, 28, 1), and int64 labels."""
    sys.path.insert(0, str(ROOT))
    from convolve.datasets import fashion_mnist

    (x, y), (x_test, y_test) = fashion_mnist.load_data()
    if not 2 * BATCH <= images <= len(x) or not 0 < test_images <= len(x_test):
        raise SystemExit(f"--images must be {2 * BATCH}..{len(x)} and --test-images 1..{len(x_test)}. "
                         f"Received: --images {images} --test-images {test_images}")
    folder.mkdir(parents=True)
    for name, array, count in (("train", x, images), ("test", x_test, test_images)):
        np.save(folder / f"x_{name}.npy", array[:count, :, :, None] / np.float32(255))
    np.save(folder / "y_train.npy", y[:images].astype(np.int64))
    np.save(folder / "y_test.npy", y_test[:test_images].astype(np.int64))


# --- tables --------------------------------------------------------------------------------------


def table(head: list, rows: list, text_columns: int = 1) -> str:
    """A Markdown table; the first ``text_columns`` columns left-aligned, the rest right-aligned."""
    align = ["---" if i < text_columns else "--:" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def fmt(value, digits: int = 2) -> str:
    return "failed" if value is None else f"{value:.{digits}f}"


def ms(seconds) -> str:
    if seconds is None:
        return "–"
    value = seconds * 1e3
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def best(values) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def ratio(value, reference) -> str:
    return "n/a" if value is None or not reference else f"{value / reference:.2f}"


def torch_best(results: dict, figure) -> float | None:
    """The faster (smaller) PyTorch layout's value of ``figure(result)``."""
    return best(figure(results[c.name]) if results.get(c.name) else None for c in CONTENDERS if c.is_torch)


def get(result, *keys):
    """result[k0][k1]..., or None where anything is missing."""
    for key in keys:
        try:
            result = result[key]
        except (KeyError, IndexError, TypeError):
            return None
    return result


# --- the parts -----------------------------------------------------------------------------------


def part_fit(run: Run) -> dict:
    s = run.settings
    onnx_file = run.folder / "classic.onnx"
    results = {c.name: run.worker(c, "fit", *run.data_options(), "--epochs", s["epochs"],
                                  "--predict-repeats", s["predict_repeats"],
                                  *(["--export-onnx", onnx_file] if c is CONTENDERS[0] else []))
               for c in CONTENDERS}
    onnx = None
    if not importlib.util.find_spec("onnxruntime"):
        log("onnxruntime is not installed: no ONNX Runtime row (pip install onnxruntime)")
    elif get(results[CONTENDERS[0].name], "onnx"):
        onnx = run.worker(ONNX_RUNTIME, "predict", "--model", onnx_file, *run.data_options(),
                          "--predict-repeats", s["predict_repeats"])
    results[ONNX_RUNTIME.name] = onnx
    rows = []
    for epoch in range(s["epochs"]):
        fastest = torch_best(results, lambda r, e=epoch: get(r, "epochs", e, "seconds"))
        for c in CONTENDERS:
            e = get(results[c.name], "epochs", epoch)
            seconds = get(e, "seconds")
            rows.append([c.name, epoch + 1, fmt(seconds, 1), "" if c.is_torch else ratio(seconds, fastest),
                         fmt(get(e, "train_loss"), 4), fmt(get(e, "train_accuracy"), 4),
                         fmt(get(e, "test_accuracy"), 4)])
    print(f"Training: {s['images']:,} images, batch 128, one process per contender; test accuracy on "
          f"{s['test_images']:,} test images after each epoch.\n")
    print(table(["contender", "epoch", "fit s", "/ torch best", "train loss", "train accuracy",
                 "test accuracy"], rows))
    fastest = torch_best(results, lambda r: get(r, "predict", "median"))
    rows = []
    for c in CONTENDERS + ((ONNX_RUNTIME,) if onnx else ()):
        seconds = get(results[c.name], "predict", "median")
        rows.append([c.name, fmt(seconds, 3), fmt(s["test_images"] / seconds if seconds else None, 0),
                     "" if c.is_torch else ratio(seconds, fastest)])
    print(f"\nInference: predict on {s['test_images']:,} test images in batches of 256, median of "
          f"{s['predict_repeats']}.\n")
    print(table(["contender", "predict s", "images/s", "/ torch best"], rows))
    if onnx:
        print(f"\nONNX Runtime ran the model convolve trained above, exported with model.export(path, "
              f"format='onnx'); its test accuracy {fmt(onnx.get('test_accuracy'), 4)}.")
    return results


def part_conv(run: Run) -> dict:
    s = run.settings
    options = ["--repeats", s["conv_repeats"], "--warmup", 2]
    options += ["--shapes", s["shapes"]] if s["shapes"] else []
    results = {c.name: run.worker(c, "conv", *options) for c in CONTENDERS}
    shapes = next((r["shapes"] for r in results.values() if r), [])
    for what, title, work in (("forward", "Forward", 1), ("training", "Forward+backward", 3)):
        rows = []
        for i, shape in enumerate(shapes):
            times = {c.name: get(results[c.name], "shapes", i, what, "median") for c in CONTENDERS}
            fastest = torch_best(results, lambda r, i=i, what=what: get(r, "shapes", i, what, "median"))
            cells = [shape["index"], shape["shape"]]
            for c in CONTENDERS:
                cell = ms(times[c.name])
                cells.append(f"**{cell}**" if c.is_torch and times[c.name] == fastest else cell)
            cells += [ratio(times[c.name], fastest) for c in OURS]
            numba = times[OURS[0].name]
            cells.append(fmt(work * shape["gflop"] / numba if numba else None, 1))
            rows.append(cells)
        gap = "\n" if what == "training" else ""
        print(f"{gap}{title}: median ms of {s['conv_repeats']} calls after 2 untimed, each library in its "
              "own process; the faster PyTorch layout in bold; – where a layout has no such convolution.\n")
        print(table(["#", "shape", *[f"{c.name} ms" for c in CONTENDERS],
                     *[f"{c.name} / torch best" for c in OURS], f"{OURS[0].name} GFLOP/s"], rows,
                    text_columns=2))
    return results


def part_memory(run: Run) -> dict:
    s = run.settings
    fit_images = s["memory_steps"] * BATCH
    results = {c.name: run.worker(c, "memory", *run.data_options(), "--memory-images", fit_images)
               for c in CONTENDERS}
    fastest = torch_best(results, lambda r: r["peak_rss_mb"])
    rows = [[c.name, fmt(get(results[c.name], "rss_after_import_mb"), 0),
             fmt(get(results[c.name], "rss_after_load_mb"), 0), fmt(get(results[c.name], "peak_rss_mb"), 0),
             "" if c.is_torch else ratio(get(results[c.name], "peak_rss_mb"), fastest)] for c in CONTENDERS]
    print(f"Resident memory, MB: {s['images']:,} training and {s['test_images']:,} test images loaded, "
          f"one epoch of fit on the first {fit_images:,}, then predict on the test images.\n")
    print(table(["contender", "after import", "after data and model", "peak (VmHWM)", "peak / torch best"],
                rows))
    return results


def import_times(module: str, repeats: int, cache: str) -> list:
    """Seconds of ``import module`` in ``repeats`` fresh interpreters, bytecode cached in ``cache``
    (written by one untimed import first)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    runs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True) for _ in range(repeats + 1)]
    return [float(r.stdout.strip()) for r in runs[1:]]


def part_import(run: Run) -> dict:
    s = run.settings
    results = {"import": {}, "first_call": {}}
    cache = run.folder / "pycache"
    rows = []
    for module in ("numpy", "convolve", "torch"):
        times = import_times(module, s["import_repeats"], str(cache))
        results["import"][module] = times
        rows.append([f"import {module}", fmt(statistics.median(times), 3), fmt(min(times), 3),
                     fmt(max(times), 3)])
    print(f"Import, s: {s['import_repeats']} fresh interpreters each, bytecode cached (convolve's includes "
          "NumPy's).\n")
    print(table(["figure", "median", "min", "max"], rows))

    empty_cache = {"NUMBA_CACHE_DIR": str(run.folder / "numba-cache-first-call")}
    runs = [(OURS[0], "empty Numba cache: compiling", empty_cache),
            (OURS[0], "Numba cache warm: loading", empty_cache)]
    runs += [(c, "", None) for c in CONTENDERS[1:]]
    rows = []
    for contender, note, env in runs:
        label = f"{contender.name}, {note}" if note else contender.name
        r = run.worker(contender, "first-call", "--repeats", s["first_call_repeats"], env=env)
        results["first_call"][label] = r
        once = None if r is None else (r["first_predict"] - r["predict"]["median"] + r["first_step"]
                                       - r["step"]["median"])
        rows.append([label, ms(get(r, "first_predict")), ms(get(r, "predict", "median")),
                     ms(get(r, "first_step")), ms(get(r, "step", "median")), ms(once)])
    print(f"\nFirst calls in a fresh process, ms: the first predict of 128 images and the first training "
          f"step of a new model, then medians of {s['first_call_repeats']} more; one-time cost = the firsts "
          "minus those medians (with the compiled kernels it includes importing Numba, which import "
          "convolve leaves to the first kernel).\n")
    print(table(["process", "first predict", "later predicts", "first step", "later steps", "one-time cost"],
                rows))
    return results


class MatmulLoad:
    """``with MatmulLoad():`` the matmul loop runs (its first product done) inside the block;
    afterwards ``gflops`` is its rate meanwhile."""

    def __enter__(self):
        env = {**os.environ, **{name: str(LOAD_THREADS) for name in THREAD_VARIABLES}}
        self.process = subprocess.Popen([sys.executable, str(HERE / "_matmul_load.py"), str(LOAD_THREADS)],
                                        stdout=subprocess.PIPE, text=True, env=env)
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the matmul loop (_matmul_load.py) did not start")
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=120)
        r = json.loads(out.strip().splitlines()[-1])
        self.gflops = r["products"] * r["gflop_per_product"] / r["seconds"] if r["seconds"] else None
        return False


def part_contention(run: Run) -> dict:
    s = run.settings
    steps = s["contention_steps"]
    with MatmulLoad() as alone:
        time.sleep(s["load_alone_seconds"])
    results = {"load_alone_gflops": alone.gflops}
    images = min(s["images"], (steps + 3) * BATCH)
    options = ["--data", run.data, "--images", images, "--steps", steps, "--warmup", 3]
    for c in CONTENDERS:
        quiet = run.worker(c, "steps", *options)
        with MatmulLoad() as load:
            loaded = run.worker(c, "steps", *options)
        results[c.name] = {"quiet": quiet, "loaded": loaded, "load_gflops": load.gflops}
    fastest = torch_best(results, lambda r: get(r, "loaded", "seconds"))
    rows = []
    for c in CONTENDERS:
        r = results[c.name]
        quiet, loaded = get(r, "quiet", "seconds"), get(r, "loaded", "seconds")
        rows.append([c.name, fmt(quiet), fmt(loaded), ratio(loaded, quiet),
                     "" if c.is_torch else ratio(loaded, fastest), fmt(r["load_gflops"], 0)])
    print(f"{steps} training steps of batch 128 (after 3 untimed), s: alone, and while a second process runs "
          f"the 2048x2048 float32 matmul loop on {LOAD_THREADS} BLAS threads ({fmt(alone.gflops, 0)} GFLOP/s "
          "alone).\n")
    print(table(["contender", "alone", "with the loop", "slowdown", "with the loop / torch best",
                 "loop GFLOP/s meanwhile"], rows))
    return results


def describe_pools(pools: list) -> str:
    def one(p):
        name = " ".join(str(p[k]) for k in ("internal_api", "version", "architecture") if p[k])
        return f"{name} x{p['num_threads']} ({p['file']})"

    return "; ".join(map(one, pools))


def print_processes(run: Run) -> None:
    rows = []
    for name, p in run.processes.items():
        if p["library"] == "convolve":
            what = (f"kernels {p['kernels']} (CONVOLVE_KERNELS={p['CONVOLVE_KERNELS']}), "
                    f"numba {p['numba'] or 'not imported'}")
        else:
            what = f"layout {p['layout']}, interop threads {p['interop_threads']}; "
            what += "; ".join(p["backends"])
        rows.append([name, f"{p['library']} {p['version']}", p["threads"], what, describe_pools(p["pools"])])
    print("\n## The processes, as each reported itself (from its first run)\n")
    print(table(["contender", "library", "threads", "settings", "thread pools (threadpoolctl)"], rows,
                text_columns=5))


# --- the run -------------------------------------------------------------------------------------


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, from {','.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + ", ".join(
        f"{k.replace('_', '-')} {v}" for k, v in QUICK.items()))
    parser.add_argument("--threads", type=int, default=2, help="threads for every library (default 2)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds one worker may take (default 3600)")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    for key, value in FULL.items():
        kind = float if isinstance(value, float) else str if key == "shapes" else int
        parser.add_argument("--" + key.replace("_", "-"), type=kind, default=None,
                            help=f"default {value if value is not None else 'all'}")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts: choose from {','.join(PARTS)}. Received: {args.parts}")
    settings = dict(QUICK if args.quick else FULL)
    settings.update({k: getattr(args, k) for k in FULL if getattr(args, k) is not None})
    return args, [p for p in PARTS if p in parts], settings


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args, parts, settings = parse(argv)
    started = time.perf_counter()
    lines = header(argv, args.threads)
    print("\n".join(lines), flush=True)
    functions = {"fit": part_fit, "conv": part_conv, "memory": part_memory, "import": part_import,
                 "contention": part_contention}
    report = {"header": lines, "settings": settings, "parts": {}}
    with tempfile.TemporaryDirectory(prefix="convolve-speed-") as folder:
        run = Run(settings, args.threads, Path(folder), args.timeout)
        if {"fit", "memory", "contention"} & set(parts):
            prepare_data(run.data, settings["images"], settings["test_images"])
        for part in parts:
            start, load_before = time.perf_counter(), load_average()
            print(f"\n## {part}\n", flush=True)
            report["parts"][part] = functions[part](run)
            print(f"\n(load average {load_before} at the start, {load_average()} at the end; "
                  f"{time.perf_counter() - start:.0f} s)", flush=True)
        print_processes(run)
        report["processes"] = run.processes
    print(f"\n# load average at end: {load_average()}; wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
