"""ops.blas.matmul: the same product as numpy.matmul, chunked or not."""
import numpy as np
import pytest

from convolve.ops import blas
from tests.helpers import assert_close


@pytest.mark.parametrize(
    "shape", [(128, 9216, 128), (3, 20000, 5), (64, 100, 32), (1, 5000, 1), (7, 4097, 2)]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_equals_numpy(shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    y = blas.matmul(a, b)
    assert y.dtype == dtype
    assert_close(y, expected, dtype, rtol=1e-12 if dtype == np.float64 else 1e-5)
    out = np.empty((m, n), dtype)
    assert blas.matmul(a, b, out=out) is out


def test_long_inner_dimension_is_chunked(monkeypatch):
    calls = []
    real = np.matmul
    monkeypatch.setattr(
        blas.np, "matmul", lambda a, b, out=None: calls.append(a.shape) or real(a, b, out=out)
    )
    blas.matmul(np.ones((4, 3 * blas.K_CHUNK)), np.ones((3 * blas.K_CHUNK, 4)))
    assert calls == [(4, blas.K_CHUNK)] * 3
    calls.clear()
    blas.matmul(np.ones((64, 100)), np.ones((100, 64)))
    assert calls == [(64, 100)]
