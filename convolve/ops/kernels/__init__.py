"""Compiled kernels: the passes that NumPy runs as several whole-array operations, each
written once more as one Numba loop that reads and writes every array once.

    elementwise.py   activation gradients (relu, leaky_relu, elu, selu, sigmoid, tanh); dropout;
                     a conv + bias + relu's relu mask and bias gradient in one pass
    columns.py       im2col's column fill for 2-D convolutions with more than 3 channels
    padding.py       zero padding in one pass (a convolution's input, the flipped gradient's g)
    pooling.py       max pooling: the forward keeping each window's winner; the backward's scatter
    optimizers.py    one update pass per variable: SGD (momentum, Nesterov), Adam, RMSprop, Adagrad
    winograd.py      Winograd F(m x m, 3 x 3) tile transforms (input, output, the output's adjoint),
                     one tile at a time, for ``ops/conv/winograd.py``'s blocks of tiles

The NumPy formulations beside each caller (``ops/pooling.py``, ``ops/activations.py``,
``ops/dropout.py``, ``optimizers/*.py``, ``ops/conv/*.py``) are the reference and the fallback;
the caller asks :func:`enabled` and runs one path or the other. This module imports nothing
heavy: Numba is imported by the kernel modules, which the callers import inside the functions
that use them, the first time; ``convolve.config`` says which kernels run.

Kernels are ``@numba.njit(cache=True, nogil=True, error_model="numpy")`` (``_compile.kernel``,
which says why): compiled for each
dtype (float32, float64) on first use and cached on disk (Numba's ``__pycache__`` beside this
file, or its user-wide cache directory when the package is read-only). They follow NumPy's arithmetic
step for step (no ``fastmath``, so no reordering or fused multiply-adds): where NumPy's
formula is a sequence of IEEE operations the results are identical; transcendental
functions (exp) may differ in the last bit.

Threads. No kernel uses Numba's own parallel loops (``parallel=True``): its default
'workqueue' layer aborts when two Python threads launch parallel loops at once (the Dask
threaded scheduler and the web explorer call from several threads), and OpenMP's
threads spin-wait between loops, taking a shared core from whoever else runs on it.
Instead each kernel computes a range ``[start, stop)`` of its outer axis, releases the
GIL (``nogil``), and :func:`run` splits large arrays into one range per worker of
``ops.blas.run_parallel``, the single-threaded workers the convolutions use (as many as
BLAS' thread count, ``convolve.config.set_num_threads``). Waiting threads block; a
thread that is already one of those workers computes its whole array itself, as does
every call on arrays too small to share.
"""
from __future__ import annotations

import numpy as np

from ... import config
from .. import blas

#: the dtypes the kernels are compiled for
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: the fewest items (elements, or samples times their size) worth handing to another thread:
#: below this the hand-over costs about as much as the work
MIN_ITEMS_PER_TASK = 1 << 16


def enabled(*arrays) -> bool:
    """Whether the compiled kernels run on ``arrays``: the active kernels are Numba's and
    every array is a C-contiguous NumPy array of float32 or float64 (CuPy arrays, float16,
    integer and strided arrays take the NumPy path)."""
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype not in DTYPES or not a.flags.c_contiguous:
            return False
    return config.kernels() == "numba"


def ranges(count: int, item_size: int = 1) -> list:
    """``[start, stop)`` ranges covering ``range(count)``, one per worker thread, each at least
    MIN_ITEMS_PER_TASK items of ``item_size`` (one range when there is too little work)."""
    parts = max(1, min(blas.workers(), (count * item_size) // MIN_ITEMS_PER_TASK, count))
    bounds = [count * k // parts for k in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run(kernel, count: int, *args, item_size: int = 1) -> None:
    """``kernel(*args, start, stop)`` over ``range(count)``, split by :func:`ranges` over the
    worker threads (in the calling thread alone when there is one range)."""
    parts = ranges(count, item_size)
    if len(parts) == 1:
        kernel(*args, 0, count)
        return
    blas.run_parallel([lambda start=start, stop=stop: kernel(*args, start, stop) for start, stop in parts])
