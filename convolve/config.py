"""Process-wide settings of the engine: which kernels run, and how many threads they use.

Kernels. The fused passes (max pooling, activation gradients, dropout, optimizer updates)
exist twice: as NumPy formulations, the readable reference, and as compiled Numba loops
(``convolve/ops/kernels/``), which read and write each array once. Which ones run:

    CONVOLVE_KERNELS=numba|numpy      read once, when convolve is imported (default: numba)
    convolve.config.set_kernels(...)  at run time (tests run every path this way)
    convolve.config.kernels()         the kernels that run now: 'numba' or 'numpy'

``import convolve`` never imports Numba: it is imported the first time a kernel is needed
(or ``kernels()`` is asked). When it cannot be imported, the NumPy kernels run instead,
with one warning saying why; an explicit ``set_kernels('numba')`` raises ImportError then.
Arrays that are not NumPy's (CuPy), and dtypes the kernels are not compiled for (float16,
integers), always take the NumPy path.

The setting is **process-wide**, as ``set_floatx`` and the BLAS thread count are: every
thread sees it, the worker threads of the engine and of Dask's threaded scheduler
included, which a context-local setting (a ContextVar, as the recording tape is) would not
reach (a new thread starts with an empty context). The two kernel paths compute the same
values (within float32 rounding), so which one a concurrent op runs changes no result;
each op reads the setting once and runs one path start to end.

Threads. ``set_num_threads(n)`` sets how many threads the engine computes with: BLAS' thread
count (through threadpoolctl), which is also the number of single-threaded workers that
``ops.blas.run_parallel`` and the compiled kernels split large arrays over. The kernels
never use Numba's own thread pool (``parallel=True``), so no Numba threading layer is
loaded and nothing spin-waits; see ``convolve/ops/kernels/__init__.py``.
"""
from __future__ import annotations

import numbers
import os
import threading
import warnings

#: the kernel sets: compiled Numba loops, or the NumPy formulations
KERNELS = ("numba", "numpy")
#: the environment variable read when convolve is imported
ENVIRONMENT_VARIABLE = "CONVOLVE_KERNELS"
DEFAULT_KERNELS = "numba"


class KernelsWarning(RuntimeWarning):
    """Numba could not be imported, so the NumPy kernels run instead."""


def _from_environment() -> str:
    raw = os.environ.get(ENVIRONMENT_VARIABLE)
    if raw is None or raw.strip() == "":
        return DEFAULT_KERNELS
    value = raw.strip().lower()
    if value not in KERNELS:
        raise ValueError(
            f"The environment variable {ENVIRONMENT_VARIABLE} must be one of {', '.join(map(repr, KERNELS))} "
            f"(or unset, for {DEFAULT_KERNELS!r}). Received: {ENVIRONMENT_VARIABLE}={raw!r}"
        )
    return value


_lock = threading.RLock()
_requested = _from_environment()  # what the user asked for
_numba_error: str | None = None  # why Numba could not be imported, once tried
_numba_checked = False
_num_threads: int | None = None  # set_num_threads' value; None: the libraries' defaults


def _check_numba() -> str | None:
    """Import Numba once (under the lock); return None, or why it could not be imported."""
    global _numba_checked, _numba_error
    with _lock:
        if not _numba_checked:
            try:
                import numba  # noqa: F401  (the kernels' compiler; here only to see that it loads)
            except Exception as error:  # ImportError, or a broken llvmlite raising something else
                _numba_error = f"{type(error).__name__}: {error}"
            _numba_checked = True
        return _numba_error


def kernels() -> str:
    """The kernels that run now: 'numba', or 'numpy' (asked for, or Numba unavailable).

    With 'numba' asked for (the default), the first call imports Numba; when that fails it
    warns once (:class:`KernelsWarning`) and returns 'numpy' from then on.
    """
    requested = _requested
    if requested == "numpy":
        return "numpy"
    if _numba_checked and _numba_error is None:  # the fast path, no lock
        return "numba"
    error = _check_numba()
    if error is None:
        return "numba"
    _warn_once(error)
    return "numpy"


_warned = False


def _warn_once(error: str) -> None:
    global _warned
    with _lock:
        if _warned:
            return
        _warned = True
    warnings.warn(
        f"convolve: Numba could not be imported ({error}), so the NumPy kernels run instead "
        f"(slower, same results). Install numba, or set {ENVIRONMENT_VARIABLE}=numpy to choose them "
        "and silence this warning.",
        KernelsWarning,
        stacklevel=3,
    )


def set_kernels(name: str) -> None:
    """Choose the kernels for the whole process: 'numba' (compiled, the default) or 'numpy'.

    'numba' imports Numba now and raises ImportError (naming why) when it cannot be imported.
    """
    global _requested
    if not isinstance(name, str) or name not in KERNELS:
        raise ValueError(
            f"set_kernels: the kernels must be one of {', '.join(map(repr, KERNELS))}. Received: {name!r}"
        )
    with _lock:
        if name == "numba":
            error = _check_numba()
            if error is not None:
                raise ImportError(
                    "set_kernels('numba'): Numba could not be imported, so the compiled kernels cannot run "
                    f"(pip install numba; 'numpy' runs without it). Received: {error}"
                )
        _requested = name


def set_num_threads(n: int) -> None:
    """Compute with ``n`` threads: BLAS' thread count (threadpoolctl), which ``ops.blas``'s
    workers and the compiled kernels follow. Process-wide; ``num_threads()`` reads it back.

    Without threadpoolctl the BLAS count cannot be set; the engine then computes in the
    calling thread (``n`` is still recorded).
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"set_num_threads: the thread count must be a positive int. Received: n={n!r}")
    if n < 1:
        raise ValueError(f"set_num_threads: the thread count must be a positive int. Received: n={n!r}")
    with _lock:
        _set_blas_threads(int(n))
        _num_threads = int(n)


def num_threads() -> int:
    """The threads the engine computes with: ``set_num_threads``' value, else BLAS' own
    thread count (1 when it cannot be read)."""
    if _num_threads is not None:
        return _num_threads
    from .ops import blas  # here: reading BLAS' state loads threadpoolctl

    return max((c.num_threads for c in blas._blas_controllers()), default=1)


def _set_blas_threads(n: int) -> None:
    """BLAS' thread count to ``n``. While ``ops.blas.run_parallel`` holds BLAS at one thread,
    the count it will restore afterwards becomes ``n`` instead."""
    from .ops import blas

    with blas._state:
        if blas._active:
            blas._saved[:] = [(c, n) for c, _ in blas._saved]
        else:
            for c in blas._blas_controllers():
                c.set_num_threads(n)
