"""Matrix products, fed to BLAS in the shapes it handles well.

OpenBLAS (NumPy's default) is slow on products with a small output and a long inner
dimension: (128, 9216) @ (9216, 128), a Dense layer after a flattened conv stack, runs
far below the machine's multiply-add rate, and close to it when the inner dimension is
cut into chunks of a few thousand and the partial products are summed.
:func:`matmul` does that cut when it pays, and is a plain ``numpy.matmul`` otherwise.

:func:`run_parallel` runs independent pieces of work (blocks of a convolution, row
blocks of a Dense product) on one thread per BLAS thread, with BLAS single-threaded
meanwhile; see the comment above it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

#: inner-dimension chunk for long products (measured: 1024 to 4608 all fast)
K_CHUNK = 2048


def matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays, chunking a long inner dimension K when the output is small.

    Chunking applies when K > 2 * K_CHUNK and K > 8 * max(M, N); the result equals
    ``np.matmul(a, b)`` up to float rounding (the sum is taken in a different order).
    """
    if a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b, out=out)
    (m, k), n = a.shape, b.shape[1]
    if k <= 2 * K_CHUNK or k <= 8 * max(m, n):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a.dtype, b.dtype))
    np.matmul(a[:, :K_CHUNK], b[:K_CHUNK], out=out)
    part = np.empty_like(out)
    for start in range(K_CHUNK, k, K_CHUNK):
        np.matmul(a[:, start : start + K_CHUNK], b[start : start + K_CHUNK], out=part)
        out += part
    return out


# --- BLAS threads: one single-threaded product per core ------------------------------------
#
# The blocked convolution (ops/im2col.py) alternates a copy (one thread) with a short
# product. Handing each product to OpenBLAS' own threads leaves the copy serial and makes
# every product wait for all its threads, and for the slowest of them when other processes
# share the cores: on the shared 2-core machines here that was slower, several times so
# under load, than giving each core its own share of the blocks, each copied and multiplied
# by one thread with BLAS single-threaded. numpy's copies and products release the GIL, so
# plain Python threads run them in parallel.
#
# The BLAS thread count is process-wide, so it is lowered only while such work runs (a
# counter keeps nested or concurrent callers from restoring it early) and set back after.
# It is read and set through threadpoolctl when that is installed; without it everything
# runs in the calling thread with BLAS' own threading, as before.

_state = threading.Lock()
_active = 0
_saved: list = []
_controllers = None
_pool = None


def _blas_controllers() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process ([] without
    threadpoolctl); looked up once."""
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _controllers = []
        else:
            _controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
    return _controllers


def workers() -> int:
    """How many single-threaded BLAS workers to run: the BLAS thread count now (1 when it
    cannot be read or changed, which keeps the work in the calling thread)."""
    if _active:  # inside parallel work already
        return 1
    controllers = _blas_controllers()
    return max((c.num_threads for c in controllers), default=1)


@contextmanager
def _single_threaded_blas():
    """BLAS runs single-threaded inside; the previous counts come back afterwards."""
    global _active
    with _state:
        if _active == 0:
            _saved[:] = [(c, c.num_threads) for c in _blas_controllers()]
            for c, _ in _saved:
                c.set_num_threads(1)
        _active += 1
    try:
        yield
    finally:
        with _state:
            _active -= 1
            if _active == 0:
                for c, n in _saved:
                    c.set_num_threads(n)


def run_parallel(tasks: list) -> list:
    """Call each of ``tasks`` (no-argument callables) on its own thread, BLAS single-threaded,
    and return their results in order; one task runs in the calling thread."""
    global _pool
    if len(tasks) <= 1:
        return [task() for task in tasks]
    from concurrent.futures import ThreadPoolExecutor  # here: `import convolve` stays light

    with _state:
        if _pool is None or _pool._max_workers < len(tasks) - 1:
            _pool = ThreadPoolExecutor(max_workers=len(tasks) - 1, thread_name_prefix="convolve-blas")
    with _single_threaded_blas():
        futures = [_pool.submit(task) for task in tasks[1:]]
        first = tasks[0]()
        return [first] + [f.result() for f in futures]
