"""Shared test utilities: tolerances, and the markers of tests that need an optional package.

A test that needs an optional package (a reference to compare with, a file format's library,
a browser) carries that package's pytest marker, registered in pyproject.toml:
``@requires_torch`` (which is ``pytest.mark.torch``), ``@requires("keras")``,
``@pytest.mark.onnx``, or a module's ``pytestmark``. tests/conftest.py skips a marked test
when the package is not there, naming it in the reason, so ``python -m pytest`` passes on a
machine with only ``pip install -e ".[test]"``; CI then installs the packages (.ci/run's
table) and runs ``python -m pytest -m "torch or ..."``. tests/test_optional_guards.py fails
when a test uses one of these packages without its marker.
"""
from __future__ import annotations

import contextlib
import importlib.util
import shutil
import struct
import zlib

import numpy as np
import pytest

#: relative error bounds the issue asks for, per dtype
RTOL = {np.float64: 1e-10, np.float32: 1e-5}

#: marker -> (what must be importable, or the programs that must be on PATH; how to install it).
#: Every marker here is registered in pyproject.toml's [tool.pytest.ini_options] (a test checks).
OPTIONAL = {
    "torch": (("torch",), "pip install torch==2.13.0"),
    "keras": (("keras",), "pip install keras, with KERAS_BACKEND=torch"),
    "h5py": (("h5py",), "pip install h5py"),
    "onnx": (("onnx",), "pip install onnx"),
    "onnxscript": (("onnxscript",), "pip install onnxscript"),
    "onnxruntime": (("onnxruntime",), "pip install onnxruntime"),
    "captum": (("captum",), "pip install captum"),
    "dask": (("dask",), "pip install dask"),
    "chromium": (
        ("chromium", "chromedriver", "selenium"),
        "apt-get install chromium chromium-driver; pip install selenium",
    ),
}
#: the names in OPTIONAL that are programs on PATH, not importable modules (the browser tests
#: need Debian's chromium and its driver, and the selenium package that drives them)
PROGRAMS = {"chromium", "chromedriver"}


def missing(marker: str) -> list[str]:
    """The modules and programs (on PATH) that ``marker``'s tests need and cannot find."""
    names, _ = OPTIONAL[marker]
    return [
        name for name in names
        if (shutil.which(name) is None if name in PROGRAMS else importlib.util.find_spec(name) is None)
    ]


def skip_reason(marker: str) -> str:
    """Why a test marked ``marker`` is skipped, e.g. 'needs torch (pip install torch==2.13.0)'."""
    return f"needs {' and '.join(OPTIONAL[marker][0])} ({OPTIONAL[marker][1]})"


def requires(*markers: str):
    """The marker(s) of tests that need these optional packages: ``@requires("onnx", "onnxruntime")``.

    One name gives the marker itself (so it also fits a module's ``pytestmark``); several give
    a decorator that applies each. An unknown name is an error, as --strict-markers makes a
    mistyped ``@pytest.mark.toch``.
    """
    unknown = [name for name in markers if name not in OPTIONAL]
    if unknown or not markers:
        raise ValueError(f"requires() takes markers among {sorted(OPTIONAL)}. Received: {markers!r}")
    marks = [getattr(pytest.mark, name) for name in markers]
    if len(marks) == 1:
        return marks[0]

    def apply(test):
        for mark in marks:
            test = mark(test)
        return test

    return apply


requires_torch = requires("torch")


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max(max |expected|, 1): one number per comparison."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    if actual.size == 0:
        return 0.0
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1.0))


def assert_close(actual, expected, dtype=np.float64, rtol=None):
    """Assert shapes match and the relative error is within the bound for ``dtype``."""
    bound = RTOL[np.dtype(dtype).type] if rtol is None else rtol
    err = relative_error(actual, expected)
    assert err < bound, f"relative error {err:.3e} >= {bound:.0e}"


def torch():
    """Import torch, with float64 as its default dtype (call only inside tests marked @requires_torch;
    tests/test_optional_guards.py checks that)."""
    import torch as _torch

    _torch.set_default_dtype(_torch.float64)
    return _torch


def forged_png(path, width, height):
    """A PNG of a few bytes whose header claims width x height RGB pixels (its data is empty): what a
    decompression bomb looks like until its pixels are decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header))
        f.write(chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return str(path)


@contextlib.contextmanager
def using_kernels(name: str):
    """Run the body with ``convolve.config.set_kernels(name)`` ('numba' or 'numpy'); the
    setting before is put back afterwards (it is process-wide)."""
    from convolve import config

    before = config._requested
    config.set_kernels(name)
    try:
        yield
    finally:
        config._requested = before


def both_kernels(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` under the NumPy kernels, then under Numba's: (numpy's, numba's)."""
    with using_kernels("numpy"):
        reference = fn(*args, **kwargs)
    with using_kernels("numba"):
        compiled = fn(*args, **kwargs)
    return reference, compiled
