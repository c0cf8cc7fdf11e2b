"""The conv table's 12 shapes: their arithmetic, float64 references, the check and the timing loop.

``benchmarks/speed.py`` times these shapes in one process per library (``--parts conv``): each
side builds its calls (``_convolve_side.conv_calls``, ``_torch_side.conv_calls``) and
:func:`measure` checks and times them there. Run alone, this script times convolve's own
formulations against each other, in this one process (one library, so nothing else's threads
share it), the measurements behind ``choose_formulation`` and ``choose_backward_formulation``:

    python benchmarks/conv.py --formulations               # every applicable forward formulation
    python benchmarks/conv.py --formulations --backward    # ... and every backward formulation
    python benchmarks/conv.py --formulations --shapes 0,3 --repeats 5 --threads 1

Per shape (float32, channels_last, with bias; data seeded by the shape's index, so every
process gets the same numbers):

* before anything is timed, the output and, for forward+backward, the input, kernel and bias
  gradients are checked against float64 references written here (sums over taps of
  tensordots): relative error max|a - b| / max(max|b|, 1) below 1e-4, or the run stops;
* ``warmup`` untimed calls, then ``repeats`` timed calls back to back; the median (and min, max).
* forward: ``conv(x, kernel, bias, strides, padding)``; forward+backward: that, then the three
  gradients of a given ``grad_y`` (``y.backward(grad_y)`` in PyTorch). GFLOP counts
  2 * N * prod(out) * F * prod(kernel) * C (bias not counted); forward+backward does 3 times that.

This is a script, not a test: nothing here is asserted about speed.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
from _common import log, sample, summary

MAX_RELATIVE_ERROR = 1e-4


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


@dataclass(frozen=True)
class Calls:
    """One library's calls for one shape. ``forward()`` and ``training()`` are what is timed;
    ``forward_numpy(result)`` gives y, ``training_numpy(result)`` gives (y, (grad_x,
    grad_kernel, grad_bias)), as NumPy arrays in convolve's layouts, for the check only."""

    forward: Callable
    training: Callable
    forward_numpy: Callable
    training_numpy: Callable


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


def _window(tap, outs, strides):
    return (slice(None), *(slice(t, t + (o - 1) * s + 1, s) for t, o, s in zip(tap, outs, strides)))


def reference_float64(x, kernel, bias, shape: Shape):
    """Plain float64 NumPy convolution (a sum over taps of tensordots)."""
    pads, outs = pads_and_outputs(shape)
    xp = np.pad(x.astype(np.float64), ((0, 0), *pads, (0, 0)))
    y = np.zeros((shape.batch, *outs, shape.filters))
    for tap in np.ndindex(*shape.kernel_size):
        window = xp[_window(tap, outs, shape.strides)]
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
        index = _window(tap, outs, shape.strides)
        grad_kernel[tap] = np.tensordot(xp[index], g, axes=(axes, axes))
        grad_xp[index] += g @ kernel[tap].astype(np.float64).T
    crop = (slice(None), *(slice(b, b + n) for (b, _), n in zip(pads, shape.spatial)))
    return grad_xp[crop], grad_kernel, g.sum(axis=tuple(axes))


def make_data(shape: Shape, seed: int):
    """(x, kernel, bias, grad_y), float32, channels_last; the same numbers in every process."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((shape.batch, *shape.spatial, shape.in_channels), dtype=np.float32)
    fan_in = math.prod(shape.kernel_size) * shape.in_channels
    kernel = rng.standard_normal((*shape.kernel_size, shape.in_channels, shape.filters), dtype=np.float32)
    kernel /= np.float32(math.sqrt(fan_in))
    bias = rng.standard_normal(shape.filters, dtype=np.float32)
    _, outs = pads_and_outputs(shape)
    grad_y = rng.standard_normal((shape.batch, *outs, shape.filters), dtype=np.float32)
    return x, kernel, bias, grad_y


def check(calls: Calls, expected, expected_grads, what: str) -> None:
    """Stop the run when an output or gradient of ``calls`` is off by MAX_RELATIVE_ERROR or more."""
    got = {"output": calls.forward_numpy(calls.forward())}
    y, grads = calls.training_numpy(calls.training())
    got["forward+backward output"] = y
    got.update(zip(("grad_x", "grad_kernel", "grad_bias"), grads))
    wanted = {"output": expected, "forward+backward output": expected}
    wanted.update(zip(("grad_x", "grad_kernel", "grad_bias"), expected_grads))
    for name, value in got.items():
        error = relative_error(value, wanted[name])
        if not error < MAX_RELATIVE_ERROR:
            raise SystemExit(f"{what}: the {name} differs from the float64 reference: relative error "
                             f"{error:.2e} >= {MAX_RELATIVE_ERROR:g}")


def measure(calls_for, indices: list, repeats: int, warmup: int) -> list:
    """Per shape: ``calls_for(shape, x, kernel, bias, grad_y)`` checked against the float64
    references, then timed; one dict a shape (forward and training: None where ``calls_for``
    gives None, a layout the library does not have)."""
    rows = []
    for index in indices:
        shape = SHAPES[index]
        x, kernel, bias, grad_y = make_data(shape, seed=index)
        row = {"index": index, "shape": shape.describe(), "gflop": flops(shape) / 1e9,
               "forward": None, "training": None}
        calls = calls_for(shape, x, kernel, bias, grad_y)
        if calls is not None:
            expected = reference_float64(x, kernel, bias, shape)
            check(calls, expected, reference_gradients_float64(x, kernel, grad_y, shape),
                  f"shape {index} ({shape.describe()})")
            row["forward"] = summary(sample(calls.forward, repeats, warmup))
            row["training"] = summary(sample(calls.training, repeats, warmup))
            log(f"  {index} {shape.describe()}: forward {row['forward']['median'] * 1e3:.3g} ms, "
                f"forward+backward {row['training']['median'] * 1e3:.3g} ms")
        rows.append(row)
    return rows


def parse_indices(text: str) -> list:
    """'0,3-5,9' -> [0, 3, 4, 5, 9]."""
    picked = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        for i in range(int(lo), int(hi or lo) + 1):
            if not 0 <= i < len(SHAPES):
                raise SystemExit(f"--shapes: index {i} is out of range 0..{len(SHAPES) - 1}")
            if i not in picked:
                picked.append(i)
    return picked


# --- run alone: convolve's formulations ----------------------------------------------------------


def ms(seconds) -> str:
    if seconds is None:
        return "–"
    value = seconds * 1e3
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def formulation_row(index: int, backward: bool, repeats: int, warmup: int) -> list:
    """Markdown cells for one shape: the chosen forward formulation and every applicable one's
    median ms (the fastest in bold); with ``backward``, the same for forward+backward."""
    import _convolve_side as side

    ops = importlib.import_module("convolve.ops.conv")  # the package (convolve.ops.conv is also a function)

    shape = SHAPES[index]
    x, kernel, bias, grad_y = make_data(shape, seed=index)
    expected = reference_float64(x, kernel, bias, shape)
    expected_grads = reference_gradients_float64(x, kernel, grad_y, shape)
    args = (shape.in_channels, shape.kernel_size, shape.strides, 1)
    cells = [str(index), shape.describe()]
    columns = [("forward", ops.FORMULATIONS, ops.applicable_formulations, ops.choose_formulation)]
    if backward:
        columns.append(("training", ops.BACKWARD_FORMULATIONS, ops.applicable_backward_formulations,
                        ops.choose_backward_formulation))
    for what, names, applicable, choose in columns:
        times = {}
        for name in names:
            if name not in applicable(*args):
                continue
            option = {"formulation": name} if what == "forward" else {"backward_formulation": name}
            calls = side.conv_calls(shape, x, kernel, bias, grad_y, **option)
            check(calls, expected, expected_grads, f"shape {index}, {what} formulation {name}")
            times[name] = summary(sample(getattr(calls, what), repeats, warmup))["median"]
        fastest = min(times, key=times.get)
        cells.append(choose(*args, shape.filters))
        cells += [f"**{ms(times[n])}**" if n == fastest else ms(times.get(n)) for n in names]
        log(f"  {index} {shape.describe()} {what}: " + ", ".join(f"{n} {ms(t)}" for n, t in times.items()))
    return cells


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formulations", action="store_true",
                        help="time every applicable formulation of convolve: what this script does alone "
                             "(convolve against PyTorch is benchmarks/speed.py --parts conv)")
    parser.add_argument("--backward", action="store_true",
                        help="also forward+backward per backward formulation")
    parser.add_argument("--shapes", default=None,
                        help=f"indices, e.g. '0,3-5' (default all 0..{len(SHAPES) - 1})")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per formulation (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="convolve's threads (default: BLAS' count)")
    args = parser.parse_args(argv)
    import _convolve_side as side

    ops = importlib.import_module("convolve.ops.conv")  # the package (convolve.ops.conv is also a function)

    engine = side.Side("channels_last")
    if args.threads:
        engine.set_threads(args.threads)
    process = engine.describe()
    print(f"# convolve's conv formulations alone in one process: {process['threads']} threads, kernels "
          f"{process['kernels']}; {args.repeats} calls after {args.warmup} untimed; median ms; "
          "outputs and gradients checked against float64 first")
    header = ["#", "shape", "chosen", *[f"{n} ms" for n in ops.FORMULATIONS]]
    if args.backward:
        header += ["backward chosen", *[f"f+b {n} ms" for n in ops.BACKWARD_FORMULATIONS]]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("--:" if h.endswith("ms") or h == "#" else "---" for h in header) + "|")
    indices = parse_indices(args.shapes) if args.shapes else list(range(len(SHAPES)))
    for index in indices:
        print("| " + " | ".join(formulation_row(index, args.backward, args.repeats, args.warmup)) + " |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
