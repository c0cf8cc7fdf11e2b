"""Matrix products, fed to BLAS in the shapes it handles well.

OpenBLAS (NumPy's default) is slow on products with a small output and a long inner
dimension: (128, 9216) @ (9216, 128), a Dense layer after a flattened conv stack, runs at
about 1.3 GFLOP/s on the 2-core machines here, against 100+ GFLOP/s when the inner
dimension is cut into chunks of a few thousand and the partial products are summed
(measured: 228 ms vs 2.5 ms). :func:`matmul` does that cut when it pays, and is a plain
``numpy.matmul`` otherwise.
"""
from __future__ import annotations

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
