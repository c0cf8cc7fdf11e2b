"""The ``convolve`` command: ``convolve demo``, ``convolve shape``, ``convolve train`` ...

    convolve --help                 every subcommand, one line each
    convolve SUBCOMMAND --help      its arguments and examples

``main(argv)`` runs one command line in-process and returns its exit code (0 on success,
1 when the work failed, 2 for bad arguments, 130 on Ctrl-C). Errors print one line on
stderr, ``convolve <subcommand>: error: ...``, never a traceback; ``--traceback`` (or the
environment variable ``CONVOLVE_DEBUG=1``) re-raises them for debugging.

Each group of subcommands lives in its own module (``shape``, ``models``, ``predict``,
``pictures``, ``augment``, ``demo``, ``explore``), which imports NumPy-heavy or optional parts (matplotlib,
Pillow, safetensors) only inside the functions that run a subcommand, so ``convolve --help``
stays fast.
"""
from __future__ import annotations

import argparse
import os
import sys

from ._common import CLIError, UsageError

__all__ = ["main", "build_parser", "CLIError"]

DESCRIPTION = """\
convolve: convolutional neural networks on a readable NumPy core, from the shell.

Start with `convolve demo`: it filters a garment with edge detectors, trains a small CNN on
the Fashion-MNIST subset bundled with convolve, and saves pictures of what it learned."""

EPILOG = """\
examples:
  convolve demo --out convolve-demo
  convolve shape --input-size 9 9 --kernel-size 3 --stride 2
  convolve filter shirt.png --kernel sobel_x --kernel sobel_y -o edges.png
  convolve explain --input image.npy --kernel vertical_line --at 2 3
  convolve animate --input-size 5 --kernel-size 3 --stride 2 --padding same -o conv.gif
  convolve train --dataset bundled --model small --epochs 3 -o model.safetensors
  convolve predict model.safetensors boot.png --top 3
  convolve train --dataset ./photos --image-size 64 64 -o photos.safetensors
  convolve augment photo.jpg --layer random-flip:horizontal --layer random-rotation:0.1 -o grid.png
  convolve export model.safetensors -o model.onnx
  convolve explore model.safetensors

Errors print one line on stderr; add --traceback (or set CONVOLVE_DEBUG=1) to see where they came from."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument raises UsageError (one line on stderr) instead of
    printing the usage block and exiting."""

    def error(self, message):
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    """The parser for every subcommand (each one's ``run`` function is ``args.run``)."""
    from . import augment, demo, explore, export, models, pictures, predict, shape

    parser = _Parser(
        prog="convolve", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .._version import __version__

    parser.add_argument("--version", action="version", version=f"convolve {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of an error (for debugging)"
    )
    # the same flag after the subcommand's name; SUPPRESS keeps a subcommand from resetting it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in (demo, pictures, shape, models, predict, augment, export, explore):
        module.register(sub, [common])
    return parser


def _one_line(error: BaseException) -> str:
    """The error's message on one line (library messages may span several)."""
    text = str(error).strip()
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.strerror}: '{error.filename}'"
    text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return text or type(error).__name__


def _debugging(argv) -> bool:
    return os.environ.get("CONVOLVE_DEBUG", "").strip() not in ("", "0") or "--traceback" in argv


def main(argv=None) -> int:
    """Run ``convolve`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = "convolve"
    debug = _debugging(argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        prog = f"convolve {args.command}"
        code = args.run(args)
        return 0 if code is None else int(code)
    except SystemExit as stop:  # --help, --version
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except UsageError as error:
        if debug:
            raise
        print(f"{error.prog}: error: {error.message} (see '{error.prog} --help')", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `convolve filter --list | head -1`: the reader left; stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
            pass
        return 1
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, OSError, ImportError, KeyError) as error:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: still one line, with the way to see more
        if debug:
            raise
        print(
            f"{prog}: error: unexpected {type(error).__name__}: {_one_line(error)} "
            f"(run again with --traceback to see where it came from)",
            file=sys.stderr,
        )
        return 1
