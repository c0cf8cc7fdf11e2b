"""The array layer under everything: which array module to use, default dtypes,
and turning user input into a floating-point array without touching the caller's data.

Imports nothing from convolve. Every other module may import this one.
"""
from __future__ import annotations

import numpy as np

_FLOATX = "float32"
FLOAT_DTYPES = ("float16", "float32", "float64")


def floatx() -> str:
    """The default float dtype for new weights and cast inputs (``"float32"``)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype: one of 'float16', 'float32', 'float64'."""
    global _FLOATX
    value = standardize_dtype(value)
    _FLOATX = value


def standardize_dtype(dtype) -> str:
    """Return a float dtype's name ('float32'...) or raise ValueError for anything else."""
    if dtype is None:
        return _FLOATX
    try:
        name = np.dtype(dtype).name
    except TypeError:
        raise TypeError(
            f"dtype must be a float dtype name such as 'float32'. Received: dtype={dtype!r}"
        ) from None
    if name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {FLOAT_DTYPES}. Received: dtype={dtype!r}")
    return name


def get_array_module(*arrays):
    """NumPy, or CuPy when any of ``arrays`` lives on a GPU (Chainer's idiom)."""
    for a in arrays:
        module = type(a).__module__
        if module.startswith("cupy"):
            import cupy

            return cupy
    return np


def as_float_array(x, dtype=None, *, where: str = "input", name: str = "x"):
    """Return ``x`` as a floating-point array, never modifying ``x`` itself.

    * float arrays keep their dtype unless ``dtype`` is given;
    * integer and boolean input become ``dtype`` (default float32, Keras' floatx);
    * anything non-numeric (strings, objects, None) raises TypeError naming ``where``.
    """
    xp = get_array_module(x)
    if not isinstance(x, xp.ndarray):
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as e:  # ragged lists and the like
            raise TypeError(
                f"{where} expected a numeric array for {name}. "
                f"Received: {name} that cannot become an array ({e})"
            ) from None
    kind = x.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"{where} expected a numeric array (integer or float) for {name}. "
            f"Received: {name} with dtype={x.dtype}"
        )
    if dtype is None:
        dtype = x.dtype if kind == "f" else _FLOATX
    return x.astype(dtype, copy=False)
