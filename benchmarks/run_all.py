"""Every figure of the speed issue in one command, each part in its own process; Markdown tables.

    python benchmarks/run_all.py                          # everything (~12 min on 2 quiet cores)
    python benchmarks/run_all.py --sections train,memory  # some parts only
    python benchmarks/run_all.py --quick                  # fewer repeats, a smoke run (~4 min)

Sections (``--sections``, comma-separated; default all, in this order):

* ``conv``: ``python benchmarks/conv.py --backward`` (conv2d forward and forward+backward on the
  issue's shapes, convolve vs PyTorch interleaved in one process; see that script's docstring),
  its table printed as it comes. ``--conv-args "..."`` replaces the arguments.
* ``train``: ``python benchmarks/train_classic.py`` in time mode (one process, same threads,
  interleaved visits): the classic CNN's training step (median of ``--train-batches`` x
  ``--train-rounds`` steps per library) and the epoch it extrapolates to (x 469 steps),
  and inference throughput on the 10,000 test images (batches of 256).
* ``memory``: ``train_classic.py --memory convolve`` and ``--memory torch``, each in a fresh process
  training ``--memory-batches`` steps on the full data set: the process's peak resident memory
  (VmHWM). Separate processes, because peak memory belongs to a process.
* ``import``: ``import convolve`` timed inside ``--import-repeats`` fresh interpreters
  (``time.perf_counter()`` around the import statement, so interpreter start-up is excluded and
  NumPy's own import, which convolve needs, is included); NumPy alone is timed the same way.

The summary table at the end gives medians, ratios (convolve / PyTorch, times: below 1 is
faster) and the issue's targets. Threads: ``--threads`` is passed to every part (default: NumPy's
BLAS thread count). Nothing is asserted; a part that fails is reported and the rest still run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTIONS = ("conv", "train", "memory", "import")
IMPORT_TARGET_S = 0.3


def run(cmd, label, timeout):
    """Run ``cmd`` (a list) from the repository root, echoing its output as it comes; returns
    (returncode, stdout text). A part that fails or times out is reported, not raised."""
    print(f"\n<!-- {label}: {' '.join(cmd)} -->", flush=True)
    start = time.perf_counter()
    lines = []
    try:
        with subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            try:
                for line in proc.stdout:
                    lines.append(line)
                    if not line.startswith("#json "):
                        print(line, end="", flush=True)
                    if time.perf_counter() - start > timeout:
                        proc.kill()
                        print(f"\n{label}: stopped after {timeout:.0f} s (--timeout)", flush=True)
                        break
                code = proc.wait()
            except KeyboardInterrupt:
                proc.kill()
                raise
    except OSError as e:
        print(f"{label}: could not start: {e}", flush=True)
        return 1, ""
    if code:
        print(f"{label}: exited with status {code}", flush=True)
    print(f"<!-- {label}: {time.perf_counter() - start:.0f} s -->", flush=True)
    return code, "".join(lines)


def json_result(text):
    """The figures a train_classic.py run printed on its '#json ' line, or None."""
    for line in reversed(text.splitlines()):
        if line.startswith("#json "):
            return json.loads(line[len("#json "):])
    return None


def _import_env(cached: bool, cache_dir: str) -> dict:
    """The environment of an import timing: with a bytecode cache in ``cache_dir`` or with none."""
    env = dict(os.environ)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def import_times(module: str, repeats: int, cache_dir: str, cached: bool = True) -> list:
    """Seconds spent in ``import module`` in ``repeats`` fresh interpreters.

    ``cached``: with Python's bytecode cache, as an installed package runs (pip writes the .pyc
    files; here they go to the temporary PYTHONPYCACHEPREFIX ``cache_dir``, written by one
    untimed import, so the working tree stays clean). Otherwise with PYTHONDONTWRITEBYTECODE=1:
    every module compiled from source at each import, as in a read-only checkout.
    """
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = _import_env(cached, cache_dir)
    if cached:
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True)
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip()))
    return times


def heavy_imports(cache_dir: str, limit: int = 8) -> list:
    """The slowest convolve modules (cumulative µs, NumPy already imported, bytecode cached),
    from ``python -X importtime``: (µs, name), slowest first."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import numpy; import convolve"],
        cwd=ROOT,
        env=_import_env(True, cache_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if name.strip().startswith("convolve.") or name.strip() == "convolve":
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:limit]


def fmt(value, digits=1):
    return "n/a" if value is None else f"{value:.{digits}f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated, from {','.join(SECTIONS)} (default all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats everywhere (a smoke run; noisier figures)"
    )
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries in every part")
    parser.add_argument(
        "--conv-args", default=None, help="arguments for conv.py instead of the default '--backward'"
    )
    parser.add_argument(
        "--train-batches", type=int, default=None, help="timed steps per visit (default 10; quick 5)"
    )
    parser.add_argument(
        "--train-rounds", type=int, default=None, help="visits per library (default 6; quick 2)"
    )
    parser.add_argument(
        "--memory-batches",
        type=int,
        default=None,
        help="training steps of each memory run (default 60; quick 20)",
    )
    parser.add_argument(
        "--import-repeats",
        type=int,
        default=None,
        help="fresh interpreters per import timing (default 15; quick 5)",
    )
    parser.add_argument(
        "--data",
        choices=("full", "bundled"),
        default="full",
        help="train/memory data: full Fashion-MNIST (default) or the bundled subset (a smoke run)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds after which one part is stopped (default 600)"
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {list(SECTIONS)}")
    quick = args.quick
    batches = args.train_batches or (5 if quick else 10)
    rounds = args.train_rounds or (2 if quick else 6)
    memory_batches = args.memory_batches or (20 if quick else 60)
    import_repeats = args.import_repeats or (5 if quick else 15)
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    data = ["--data", args.data]
    py = sys.executable
    start = time.perf_counter()
    print(
        f"# convolve benchmarks: {platform.machine()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    print(f"# command: python {' '.join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])}", flush=True)
    summary = []  # (figure, convolve, torch, ratio, target)

    if "conv" in sections:
        conv_args = (
            args.conv_args.split()
            if args.conv_args is not None
            else ["--backward"] + (["--quick"] if quick else [])
        )
        run([py, str(HERE / "conv.py"), *conv_args, *threads], "conv", args.timeout)
        summary.append(
            ("conv2d forward, forward+backward", "see the conv table above", "", "", "ratio <= 1.0 per shape")
        )

    if "train" in sections:
        _, text = run(
            [
                py,
                str(HERE / "train_classic.py"),
                "--batches",
                str(batches),
                "--rounds",
                str(rounds),
                "--inference-repeats",
                "2" if quick else "3",
                "--json",
                *data,
                *threads,
            ],
            "train",
            args.timeout,
        )
        r = json_result(text) or {}
        c, t = r.get("convolve_epoch_s"), r.get("torch_epoch_s")
        summary.append(("classic CNN epoch, s (469 steps of 128, from the median step)", fmt(c), fmt(t),
                        fmt(c / t, 2) if c and t else "n/a", "<= 1.0"))
        c, t = r.get("convolve_images_per_s"), r.get("torch_images_per_s")
        summary.append(
            (
                f"inference, images/s ({r.get('test_images', 'n/a')} test images, batches of 256)",
                fmt(c, 0),
                fmt(t, 0),
                fmt(t / c, 2) if c and t else "n/a",
                "(time ratio)",
            )
        )

    if "memory" in sections:
        peaks = {}
        for library in ("convolve", "torch"):
            _, text = run(
                [
                    py,
                    str(HERE / "train_classic.py"),
                    "--memory",
                    library,
                    "--batches",
                    str(memory_batches),
                    "--json",
                    *data,
                    *threads,
                ],
                f"memory {library}",
                args.timeout,
            )
            peaks[library] = json_result(text) or {}
        c, t = peaks["convolve"].get("peak_rss_mb"), peaks["torch"].get("peak_rss_mb")
        summary.append(
            (
                f"peak resident memory of a training run, MB ({memory_batches} steps, {args.data} data set)",
                fmt(c, 0),
                fmt(t, 0),
                fmt(c / t, 2) if c and t else "n/a",
                "<= 1.0",
            )
        )
        c, t = peaks["convolve"].get("rss_after_load_mb"), peaks["torch"].get("rss_after_load_mb")
        summary.append(
            (
                "  of which before training (interpreter, library, data, model), MB",
                fmt(c, 0),
                fmt(t, 0),
                fmt(c / t, 2) if c and t else "n/a",
                "",
            )
        )

    if "import" in sections:
        print("\n<!-- import -->", flush=True)
        import tempfile

        with tempfile.TemporaryDirectory(prefix="convolve-pycache-") as cache:
            ours = import_times("convolve", import_repeats, cache)
            numpy_alone = import_times("numpy", import_repeats, cache)
            uncached = import_times("convolve", max(3, import_repeats // 3), cache, cached=False)
            heavy = heavy_imports(cache)
        print(
            f"import convolve: median {statistics.median(ours):.3f} s [min {min(ours):.3f}, max "
            f"{max(ours):.3f}] over {import_repeats} fresh interpreters, bytecode cached; numpy alone: "
            f"median {statistics.median(numpy_alone):.3f} s; without a bytecode cache (compiling every "
            f"module): median {statistics.median(uncached):.3f} s"
        )
        print("slowest convolve modules after numpy (cumulative ms, -X importtime, cached): " + ", ".join(
            f"{name} {us / 1000:.0f}" for us, name in heavy))
        summary.append((f"import convolve, s (median of {import_repeats}, bytecode cached; numpy alone "
                        f"{statistics.median(numpy_alone):.3f}; uncached {statistics.median(uncached):.3f})",
                        f"{statistics.median(ours):.3f}", "", "", f"< {IMPORT_TARGET_S}"))

    print(f"\n## Summary\n\n# load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"wall time {time.perf_counter() - start:.0f} s\n")
    print("| figure | convolve | PyTorch | convolve / PyTorch | target |\n|---|--:|--:|--:|---|")
    for row in summary:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
