"""Shared test utilities: tolerances, the optional PyTorch reference, hypothesis profile."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

#: relative error bounds the issue asks for, per dtype
RTOL = {np.float64: 1e-10, np.float32: 1e-5}

HAS_TORCH = importlib.util.find_spec("torch") is not None
requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install torch)")


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
    """Import torch (call only inside tests marked @requires_torch)."""
    import torch as _torch

    _torch.set_default_dtype(_torch.float64)
    return _torch
