"""How every kernel is compiled: ``@kernel`` is
``numba.njit(cache=True, nogil=True, error_model="numpy")``.

``error_model="numpy"``: a division by zero gives inf or NaN, as in NumPy, instead of raising
ZeroDivisionError as Python does; the test Numba would put before every division otherwise
also keeps LLVM from vectorizing the loop (the optimizer updates ran about 8x slower with it).

Importing this module imports Numba. The compiled code is cached on disk: Numba writes it to
``__pycache__`` beside this package, or, when the package is read-only (a system install),
to its user-wide cache directory (``~/.cache/numba``); ``NUMBA_CACHE_DIR`` overrides both.
Where none of these can be written, the cache goes to a folder of this user's in the
temporary directory, and failing that the kernels are compiled in every process, uncached.
"""
from __future__ import annotations

import os
import tempfile

import numba


def _probe():  # pragma: no cover - never called; a function of this folder to locate the cache for
    return 0


def _cache_works() -> bool:
    """Whether Numba finds a writable cache for a function of this folder."""
    try:
        numba.njit(cache=True)(_probe)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return False
    return True


def _choose_cache() -> bool:
    """True when compiled kernels can be cached; sets Numba's cache folder if it must."""
    if _cache_works():
        return True
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    folder = os.path.join(tempfile.gettempdir(), f"convolve-numba-cache-{user}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return False
    numba.config.CACHE_DIR = folder
    return _cache_works()


CACHE = _choose_cache()


def kernel(function=None, **options):
    """``numba.njit(cache=True, nogil=True, error_model="numpy", **options)``: as ``@kernel`` or
    ``@kernel(inline="always")``."""
    compile_ = numba.njit(cache=CACHE, nogil=True, error_model="numpy", **options)
    return compile_ if function is None else compile_(function)
