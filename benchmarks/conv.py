"""Time convolve.ops.conv (forward, and forward+backward) against PyTorch and the BLAS limit.

    python benchmarks/conv.py                      # all shapes, forward, convolve's default formulation
                                                   # vs torch
    python benchmarks/conv.py --backward           # forward and forward+backward, one table (~4 min)
    python benchmarks/conv.py --formulations       # also every applicable formulation, one column each
    python benchmarks/conv.py --backward --formulations   # ... and every backward formulation
    python benchmarks/conv.py --backward --quick --shapes 0,3   # a quick look at two shapes

What is measured, per shape (float32, channels_last input for convolve, with bias):

* convolve: ``conv(x, kernel, bias, strides, padding)`` with the formulation that
  ``choose_formulation`` picks (and, with --formulations, each applicable one forced).
* torch (when importable): ``torch.nn.functional.conv1d/2d/3d`` on the same numbers
  already laid out as N, C, *spatial (torch's native case: torch is not charged for our
  layout). Padding: 'same' and 'causal' become explicit (before, after) amounts by the
  TensorFlow rule; symmetric amounts are passed as ``padding=``, asymmetric ones are
  applied with ``F.pad`` inside torch's timed region.
* Both libraries run in this one process with the same thread count: NumPy's BLAS
  pool is limited with threadpoolctl when it is installed, and torch.set_num_threads
  is set to match. Both counts are printed.
* After warm-up the libraries are interleaved (convolve, torch, convolve, torch, ...;
  who goes first alternates) and the median of each contender is reported. At each
  switch of library the script sleeps --pause seconds and makes one untimed call, so
  that neither library's idle-spinning worker threads slow the other (see
  :func:`time_interleaved` and the README).
* Before anything is timed, every output is checked against torch's (or, without
  torch, a float64 NumPy reference written here): relative error
  max|a - b| / max(max|b|, 1) must be below 1e-4, so no wrong code is ever timed.
* GFLOP/s counts 2 * N * prod(out) * F * prod(kernel) * C / groups (bias not
  counted), and is also shown as a percentage of NumPy's own float32 matmul rate
  (median of 2048 x 2048 @ 2048 x 2048 products, measured before and after the shapes).
* With --backward, also forward+backward: what a training step runs for one conv layer
  with a bias. convolve: ``conv(...)`` then ``conv_backward(grad_y, x, kernel, ...,
  use_bias=True, need_input_grad=True)``, exactly the calls of ``convolve.autograd.conv``
  and its vector-Jacobian product (the backward formulation is
  ``choose_backward_formulation``'s). torch: ``conv2d`` with requires_grad on input,
  weight and bias, then ``y.backward(grad_y)`` (the .grad fields are cleared first so
  nothing accumulates). Its GFLOP/s counts three times the forward's work (the output,
  the input gradient and the kernel gradient). The three gradients are checked against
  torch's before timing, like the outputs.

This is a script, not a test: nothing here is asserted about speed.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from convolve.ops.conv import (  # noqa: E402
    applicable_backward_formulations,
    applicable_formulations,
    choose_backward_formulation,
    choose_formulation,
    conv,
    conv_backward,
)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the script still runs; the torch columns say n/a
    torch = None

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    threadpool_info = threadpool_limits = None

MAX_RELATIVE_ERROR = 1e-4
DEFAULT_REPEATS = 30  # about 2.5 minutes for all shapes on 2 cores; --formulations about twice that
BACKWARD_REPEATS = 15  # the default with --backward: about 4 minutes for all shapes
QUICK_REPEATS = 5  # --quick
DEFAULT_PAUSE = 0.15  # seconds of sleep between libraries; > OpenBLAS's 2**28-cycle spin
FORMULATION_ORDER = ("pointwise", "flat", "im2col", "direct")
BACKWARD_ORDER = ("im2col", "flipped", "direct")


@dataclass(frozen=True)
class Shape:
    """One benchmark case, channels_last: x is (batch, *spatial, in_channels)."""

    batch: int
    spatial: tuple
    in_channels: int
    kernel: int
    filters: int
    strides: tuple
    padding: str

    @property
    def rank(self) -> int:
        return len(self.spatial)

    @property
    def kernel_size(self) -> tuple:
        return (self.kernel,) * self.rank

    def describe(self) -> str:
        """'2D 64x28x28x1 k3→32 s1 valid': rank, input N x spatial x C, kernel → filters, stride, padding."""
        spatial = "x".join(map(str, self.spatial))
        stride = (
            self.strides[0] if len(set(self.strides)) == 1 else "(" + ",".join(map(str, self.strides)) + ")"
        )
        return (
            f"{self.rank}D {self.batch}x{spatial}x{self.in_channels} k{self.kernel}→{self.filters} "
            f"s{stride} {self.padding}"
        )


def _shape2d(n, h, w, c, k, f, s, padding):
    strides = s if isinstance(s, tuple) else (s, s)
    return Shape(n, (h, w), c, k, f, strides, padding)


SHAPES = [
    _shape2d(64, 28, 28, 1, 3, 32, 1, "valid"),
    _shape2d(64, 26, 26, 32, 3, 64, 1, "valid"),
    _shape2d(128, 32, 32, 3, 3, 32, 1, "same"),
    _shape2d(32, 32, 32, 64, 3, 64, 1, "same"),
    _shape2d(8, 56, 56, 64, 3, 64, 1, "same"),
    _shape2d(8, 56, 56, 64, 1, 256, 1, "valid"),
    _shape2d(16, 16, 16, 256, 3, 256, 1, "same"),
    _shape2d(8, 112, 112, 32, 3, 32, 2, "same"),
    _shape2d(1, 512, 512, 1, 3, 1, 1, "valid"),
    _shape2d(1, 512, 512, 1, 3, 1, (2, 1), "valid"),
    Shape(32, (1000,), 16, 5, 32, (1,), "causal"),
    Shape(4, (16, 32, 32), 8, 3, 16, (1, 1, 1), "same"),
]


# --- arithmetic, written out here so the benchmark does not trust the library's ----------------


def pads_and_outputs(shape: Shape):
    """((before, after) per axis, output sizes) by the TensorFlow/Keras rule."""
    pads, outs = [], []
    for n, s in zip(shape.spatial, shape.strides):
        k = shape.kernel
        if shape.padding == "valid":
            before = after = 0
        elif shape.padding == "same":
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            before, after = total // 2, total - total // 2
        elif shape.padding == "causal":
            before, after = k - 1, 0
        else:
            raise ValueError(f"unknown padding {shape.padding!r}")
        pads.append((before, after))
        outs.append((n + before + after - k) // s + 1)
    return tuple(pads), tuple(outs)


def flops(shape: Shape) -> int:
    """2 * N * prod(out) * F * prod(kernel) * C / groups (groups = 1 here)."""
    _, outs = pads_and_outputs(shape)
    return (
        2 * shape.batch * math.prod(outs) * shape.filters * math.prod(shape.kernel_size) * shape.in_channels
    )


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max(max |expected|, 1), as in tests/helpers.py."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1.0))


def reference_float64(x, kernel, bias, shape: Shape):
    """Plain float64 NumPy convolution (a sum over taps of tensordots), for runs without torch."""
    pads, outs = pads_and_outputs(shape)
    xp = np.pad(x.astype(np.float64), ((0, 0), *pads, (0, 0)))
    y = np.zeros((shape.batch, *outs, shape.filters))
    for tap in np.ndindex(*shape.kernel_size):
        window = xp[
            (slice(None), *(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, outs, shape.strides)))
        ]
        y += np.tensordot(window, kernel[tap].astype(np.float64), axes=([-1], [0]))
    return y + bias


def reference_gradients_float64(x, kernel, grad_y, shape: Shape):
    """(grad_x, grad_kernel, grad_bias) in float64 by the adjoint of :func:`reference_float64`."""
    pads, outs = pads_and_outputs(shape)
    xp = np.pad(x.astype(np.float64), ((0, 0), *pads, (0, 0)))
    g = grad_y.astype(np.float64)
    grad_xp = np.zeros_like(xp)
    grad_kernel = np.zeros(kernel.shape)
    axes = list(range(shape.rank + 1))
    for tap in np.ndindex(*shape.kernel_size):
        index = (
            slice(None),
            *(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, outs, shape.strides)),
        )
        grad_kernel[tap] = np.tensordot(xp[index], g, axes=(axes, axes))
        grad_xp[index] += g @ kernel[tap].astype(np.float64).T
    crop = (slice(None), *(slice(b, b + n) for (b, _), n in zip(pads, shape.spatial)))
    return grad_xp[crop], grad_kernel, g.sum(axis=tuple(axes))


# --- the contenders ------------------------------------------------------------------------------


def make_data(shape: Shape, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.batch, *shape.spatial, shape.in_channels), dtype=np.float32)
    fan_in = math.prod(shape.kernel_size) * shape.in_channels
    kernel = rng.standard_normal((*shape.kernel_size, shape.in_channels, shape.filters), dtype=np.float32)
    kernel /= np.float32(math.sqrt(fan_in))
    bias = rng.standard_normal(shape.filters, dtype=np.float32)
    return x, kernel, bias


def convolve_call(x, kernel, bias, shape: Shape, formulation=None):
    def run():
        return conv(x, kernel, bias, strides=shape.strides, padding=shape.padding, formulation=formulation)

    return run


def convolve_training_call(x, kernel, bias, grad_y, shape: Shape, backward_formulation=None):
    """Forward then backward as convolve.autograd.conv runs them in training; returns
    (y, (grad_x, grad_kernel, grad_bias))."""
    kw = dict(strides=shape.strides, padding=shape.padding)

    def run():
        y = conv(x, kernel, bias, **kw)
        return y, conv_backward(grad_y, x, kernel, use_bias=True, need_input_grad=True,
                                formulation=backward_formulation, **kw)

    return run


def torch_call(x, kernel, bias, shape: Shape):
    """torch's conv on N, C, *spatial data prepared here, outside the timed region."""
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))  # (N, C, *S)
    perm = (shape.rank + 1, shape.rank, *range(shape.rank))  # (*K, C, F) -> (F, C, *K)
    wt = torch.from_numpy(np.ascontiguousarray(kernel.transpose(perm)))
    bt = torch.from_numpy(bias)
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[shape.rank]
    pads, _ = pads_and_outputs(shape)
    stride = tuple(shape.strides)
    if all(b == a for b, a in pads):
        padding = tuple(b for b, _ in pads)

        def run():
            return fn(xt, wt, bt, stride=stride, padding=padding)

    else:
        # F.pad takes (last axis before, last axis after, previous axis before, ...)
        flat = tuple(v for pair in reversed(pads) for v in pair)

        def run():
            return fn(F.pad(xt, flat), wt, bt, stride=stride)

    def to_channels_last(y):
        return np.moveaxis(y.numpy(), 1, -1)

    return run, to_channels_last


def torch_training_call(x, kernel, bias, grad_y, shape: Shape):
    """torch's forward and backward (input, weight and bias gradients), N, C, *spatial;
    returns (call, to_numpy) where to_numpy turns the call's result into convolve's layouts."""
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1))).requires_grad_(True)
    perm = (shape.rank + 1, shape.rank, *range(shape.rank))  # (*K, C, F) -> (F, C, *K)
    wt = torch.from_numpy(np.ascontiguousarray(kernel.transpose(perm))).requires_grad_(True)
    bt = torch.from_numpy(bias.copy()).requires_grad_(True)
    gt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(grad_y, -1, 1)))
    fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[shape.rank]
    pads, _ = pads_and_outputs(shape)
    stride = tuple(shape.strides)
    symmetric = all(b == a for b, a in pads)
    flat = tuple(v for pair in reversed(pads) for v in pair)

    def run():
        xt.grad = wt.grad = bt.grad = None
        with torch.enable_grad():
            if symmetric:
                y = fn(xt, wt, bt, stride=stride, padding=tuple(b for b, _ in pads))
            else:
                y = fn(F.pad(xt, flat), wt, bt, stride=stride)
            y.backward(gt)
        return y

    inverse = tuple(np.argsort(perm))

    def to_numpy(y):
        grads = (np.moveaxis(xt.grad.numpy(), 1, -1), wt.grad.numpy().transpose(inverse), bt.grad.numpy())
        return np.moveaxis(y.detach().numpy(), 1, -1), grads

    return run, to_numpy


def rotated(items: list, r: int) -> list:
    """``items`` rotated left by ``r``: round r starts with a different one."""
    k = r % len(items) if items else 0
    return items[k:] + items[:k]


def time_interleaved(libraries: list, repeats: int, warmup: int, pause: float) -> dict:
    """{name: [seconds, ...]} for ``libraries``, a list of {name: call} dicts, one per library.

    After ``warmup`` untimed rounds, each of ``repeats`` rounds visits the libraries in turn
    (convolve, torch, convolve, torch, ...; who goes first rotates every round). A visit is:

    1. sleep ``pause`` seconds, so the other library's worker threads stop spinning: after a
       product OpenBLAS's workers busy-wait about 2**28 cycles (~0.1 s), and on 2 cores a torch
       call that starts inside that window ran 2-3x slower (README, "Method");
    2. one untimed settling call of the library, which wakes its own threads again (a call
       straight after the sleep paid several ms of wake-up on this shared machine);
    3. one timed call of each of the library's contenders, back to back, in an order shuffled
       afresh every round (a fixed rotation would give each contender the same predecessor
       every time; for the ~1 ms shapes, following a call of the same code with warm caches
       was worth ~15%).
    """
    shuffle = random.Random(0).shuffle
    for _ in range(warmup):
        for calls in libraries:
            for call in calls.values():
                call()
    times = {name: [] for calls in libraries for name in calls}
    for r in range(repeats):
        for calls in rotated(libraries, r):
            names = list(calls)
            shuffle(names)
            if pause:
                time.sleep(pause)
                calls[names[0]]()
            for name in names:
                start = time.perf_counter()
                calls[name]()
                times[name].append(time.perf_counter() - start)
    return times


def matmul_rate(repeats: int = 10, size: int = 2048):
    """Median GFLOP/s of NumPy's float32 (size x size) @ (size x size), and of torch's if present."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    work = 2 * size**3

    def rate(fn):
        fn()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(work / (time.perf_counter() - start) / 1e9)
        return samples

    numpy_rates = rate(lambda: np.matmul(a, b, out=out))
    torch_rates = None
    if torch is not None:
        time.sleep(DEFAULT_PAUSE)  # let OpenBLAS's workers stop spinning first
        at, bt, ot = torch.from_numpy(a), torch.from_numpy(b), torch.empty(size, size)
        torch_rates = rate(lambda: torch.matmul(at, bt, out=ot))
    return numpy_rates, torch_rates


# --- the run -------------------------------------------------------------------------------------


def parse_indices(text: str, count: int) -> list:
    """'0,3-5,9' -> [0, 3, 4, 5, 9]."""
    picked = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        lo = int(lo)
        hi = int(hi) if hi else lo
        for i in range(lo, hi + 1):
            if not 0 <= i < count:
                raise SystemExit(f"--shapes: index {i} is out of range 0..{count - 1}")
            if i not in picked:
                picked.append(i)
    return picked


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def convolve_revision() -> str:
    """The git commit of the convolve being timed, flagged when convolve/ has uncommitted edits."""
    def git(*args):
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=10
        ).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--", "convolve").strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    if not commit:
        return "unknown revision"
    return f"commit {commit}" + (" + uncommitted changes under convolve/" if dirty else "")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other processes competing for the cores)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def blas_description() -> str:
    """NumPy's BLAS and its thread count, as threadpoolctl sees them."""
    if threadpool_info is None:
        return "numpy BLAS threads unknown (threadpoolctl not installed)"
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    pools.sort(key=lambda p: "numpy" not in p.get("filepath", ""))  # NumPy's own first
    if not pools:
        return "numpy BLAS not found by threadpoolctl"
    pool = pools[0]
    return f"numpy BLAS ({pool['internal_api']} {pool.get('version')}) = {pool['num_threads']}"


def blas_threads():
    """NumPy's BLAS thread count, or None when threadpoolctl cannot tell."""
    if threadpool_info is None:
        return None
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    pools.sort(key=lambda p: "numpy" not in p.get("filepath", ""))
    return pools[0]["num_threads"] if pools else None


def fmt_ms(seconds) -> str:
    if seconds is None:
        return "n/a"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def check(name, got, expected, against, index, shape):
    """Stop the run when ``got`` differs from ``expected`` by MAX_RELATIVE_ERROR or more."""
    err = relative_error(got, expected)
    if not err < MAX_RELATIVE_ERROR:
        raise SystemExit(f"shape {index} ({shape.describe()}): {name} differs from {against}: "
                         f"relative error {err:.2e} >= {MAX_RELATIVE_ERROR:g}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed rounds per shape after warm-up (default {DEFAULT_REPEATS}, "
                             f"{BACKWARD_REPEATS} with --backward, {QUICK_REPEATS} with --quick)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed rounds per shape (default 2, 1 with --quick)"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_REPEATS} rounds after 1 warm-up: a rough look"
    )
    parser.add_argument("--pause", type=float, default=DEFAULT_PAUSE,
                        help=f"seconds to sleep (then one untimed call) whenever the benchmark switches "
                             f"library, so neither library's spinning worker threads slow the other "
                             f"(default {DEFAULT_PAUSE}; 0 switches both off)")
    parser.add_argument("--shapes", default=None,
                        help=f"indices to run, e.g. '0,3-5' (default all 0..{len(SHAPES) - 1})")
    parser.add_argument(
        "--backward",
        action="store_true",
        help="also time forward+backward (input, kernel and bias gradients), as training runs it",
    )
    parser.add_argument("--formulations", action="store_true",
                        help="also time every applicable formulation of convolve, one column each "
                             "(with --backward: every backward formulation, after the chosen forward)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both libraries (default: NumPy's BLAS count, else os.cpu_count())")
    parser.add_argument("--no-torch", action="store_true", help="leave torch out even when it is installed")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else BACKWARD_REPEATS if args.backward else DEFAULT_REPEATS
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2

    global torch
    if args.no_torch:
        torch = None
    indices = parse_indices(args.shapes, len(SHAPES)) if args.shapes else list(range(len(SHAPES)))

    threads = args.threads or blas_threads() or os.cpu_count()
    limiter = None
    if threadpool_limits is not None:
        limiter = threadpool_limits(limits=threads, user_api="blas")
    elif args.threads:
        print("warning: threadpoolctl is not installed; NumPy's BLAS thread count is not set "
              "(pip install threadpoolctl, or set OPENBLAS_NUM_THREADS)", file=sys.stderr)
    if torch is not None:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(False)

    command = "python " + " ".join(
        [os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv))
    )
    versions = f"python {platform.python_version()}, numpy {np.__version__}, " + (
        f"torch {torch.__version__}" if torch is not None else "torch n/a")
    torch_threads = torch.get_num_threads() if torch is not None else "n/a"
    what = "forward and forward+backward" if args.backward else "forward"
    print(f"# convolve conv {what}: {os.cpu_count()} cores, {cpu_model()}; {versions}")
    print(f"# convolve {convolve_revision()}; threads: {blas_description()}, torch = {torch_threads}")
    print(f"# command: {command}")
    print(
        f"# float32, channels_last for convolve, N,C,*S for torch; {args.repeats} interleaved rounds "
        f"after {args.warmup} warm-up; {args.pause:g} s pause + 1 untimed call at each switch of library; "
        f"medians; outputs{' and gradients' if args.backward else ''} checked to "
        f"rel. err. < {MAX_RELATIVE_ERROR:g}"
    )
    load_at_start = load_average()
    print(f"# load average at start: {load_at_start}")
    sys.stdout.flush()

    wall = time.perf_counter()
    numpy_rates, torch_rates = matmul_rate()

    rows = []
    for index in indices:
        shape = SHAPES[index]
        x, kernel, bias = make_data(shape, seed=index)
        shape_args = (shape.in_channels, shape.kernel_size, shape.strides, 1)
        chosen = choose_formulation(*shape_args, shape.filters)
        applicable = [f for f in FORMULATION_ORDER if f in applicable_formulations(*shape_args)]
        chosen_backward = choose_backward_formulation(*shape_args, shape.filters)
        applicable_backward = [
            f for f in BACKWARD_ORDER if f in applicable_backward_formulations(*shape_args)
        ]

        ours = {"convolve": convolve_call(x, kernel, bias, shape)}
        if args.formulations:
            for name in applicable:
                ours[name] = convolve_call(x, kernel, bias, shape, formulation=name)
        grad_y = None
        if args.backward:
            _, outs = pads_and_outputs(shape)
            grad_y = np.random.default_rng(100 + index).standard_normal((shape.batch, *outs, shape.filters),
                                                                         dtype=np.float32)
            ours["convolve f+b"] = convolve_training_call(x, kernel, bias, grad_y, shape)
            if args.formulations:
                for name in applicable_backward:
                    ours[f"f+b {name}"] = convolve_training_call(x, kernel, bias, grad_y, shape, name)
        libraries = [ours]

        # correctness first: nothing wrong gets timed
        if torch is not None:
            theirs, torch_to_numpy = torch_call(x, kernel, bias, shape)
            libraries.append({"torch": theirs})
            expected, against = torch_to_numpy(theirs()), "torch"
            if args.backward:
                training, training_to_numpy = torch_training_call(x, kernel, bias, grad_y, shape)
                libraries[-1]["torch f+b"] = training
                expected_grads = training_to_numpy(training())[1]
        else:
            expected, against = reference_float64(x, kernel, bias, shape), "float64 reference"
            if args.backward:
                expected_grads = reference_gradients_float64(x, kernel, grad_y, shape)
        for name, call in ours.items():
            result = call()
            if name.startswith("convolve f+b") or name.startswith("f+b "):
                y, grads = result
                check(name, y, expected, against, index, shape)
                for label, got, want in zip(("grad_x", "grad_kernel", "grad_bias"), grads, expected_grads):
                    check(f"{name} {label}", got, want, against, index, shape)
            else:
                check(name, result, expected, against, index, shape)

        times = time_interleaved(libraries, args.repeats, args.warmup, args.pause)
        medians = {name: statistics.median(t) for name, t in times.items()}
        rows.append((index, shape, chosen, applicable, chosen_backward, applicable_backward, medians))
        print(
            f"# {index} {shape.describe()}: median [min-max] ms: "
            + ", ".join(
                f"{n} {fmt_ms(medians[n])} [{fmt_ms(min(t))}-{fmt_ms(max(t))}]" for n, t in times.items()
            ),
            file=sys.stderr,
            flush=True,
        )

    numpy_rates_after, torch_rates_after = matmul_rate()
    numpy_rate = statistics.median(numpy_rates + numpy_rates_after)
    wall = time.perf_counter() - wall
    if limiter is not None:
        limiter.restore_original_limits()

    line = (
        f"# numpy float32 matmul 2048^3: {statistics.median(numpy_rates):.0f} GFLOP/s before, "
        f"{statistics.median(numpy_rates_after):.0f} after (median of both, {numpy_rate:.0f}, is the % base)"
    )
    if torch_rates is not None:
        line += (f"; torch matmul: {statistics.median(torch_rates):.0f} before, "
                 f"{statistics.median(torch_rates_after):.0f} after")
    print(line)
    print(f"# load average at end: {load_average()}; wall time: {wall:.0f} s")
    busiest = max(
        (float(v) for v in (load_at_start + " " + load_average()).split()[::3] if v != "n/a"), default=0.0
    )
    if busiest > 0.5:
        print(
            f"# warning: 1-minute load average up to {busiest:.2f} on {os.cpu_count()} cores: other "
            "processes competed for the CPUs, so times are inflated and noisy (2-thread calls the most)"
        )
    print()

    def ratio(a, b):
        return f"{a / b:.2f}" if b else "n/a"

    header = ["#", "shape", "convolve ms", "torch ms", "convolve/torch", "GFLOP/s", "% of matmul"]
    if args.backward:
        header += ["f+b convolve ms", "f+b torch ms", "f+b convolve/torch", "f+b GFLOP/s", "f+b % of matmul"]
    if args.formulations:
        header += [f"{f} ms" for f in FORMULATION_ORDER] + ["chosen", "fastest", "chosen/fastest"]
        if args.backward:
            header += [f"f+b {f} ms" for f in BACKWARD_ORDER] + [
                "bwd chosen",
                "bwd fastest",
                "chosen/fastest",
            ]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 1 else "--:" for i in range(len(header))) + "|")

    def formulation_cells(order, names, medians, key, chosen):
        fastest = min(names, key=lambda f: medians[key(f)])
        cells = []
        for f in order:
            if f not in names:
                cells.append("–")
            elif f == fastest:
                cells.append(f"**{fmt_ms(medians[key(f)])}**")
            else:
                cells.append(fmt_ms(medians[key(f)]))
        return cells + [chosen, fastest, f"{medians[key(chosen)] / medians[key(fastest)]:.2f}"]

    for index, shape, chosen, applicable, chosen_backward, applicable_backward, medians in rows:
        ours, theirs = medians["convolve"], medians.get("torch")
        gflops = flops(shape) / ours / 1e9
        cells = [str(index), shape.describe(), fmt_ms(ours), fmt_ms(theirs), ratio(ours, theirs),
                 f"{gflops:.1f}", f"{100 * gflops / numpy_rate:.0f}%"]
        if args.backward:
            ours_fb, theirs_fb = medians["convolve f+b"], medians.get("torch f+b")
            gflops_fb = 3 * flops(shape) / ours_fb / 1e9
            cells += [fmt_ms(ours_fb), fmt_ms(theirs_fb), ratio(ours_fb, theirs_fb),
                      f"{gflops_fb:.1f}", f"{100 * gflops_fb / numpy_rate:.0f}%"]
        if args.formulations:
            cells += formulation_cells(FORMULATION_ORDER, applicable, medians, lambda f: f, chosen)
            if args.backward:
                cells += formulation_cells(BACKWARD_ORDER, applicable_backward, medians, lambda f: f"f+b {f}",
                                           chosen_backward)
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
