"""Argument checks shared by the optimizers and the schedules.

Every message names who asked, says what was expected, and ends with
``Received: name=value`` (the style of ``convolve/ops/args.py``).
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def _real(value):
    """``value`` as a Python int or float when it is a real number (bools excluded), else None."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _describe(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"a float in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low == 0:
        return "a positive float" if low_open else "a non-negative float"
    if low is not None:
        return f"a float {'>' if low_open else '>='} {low:g}"
    return "a finite float"


def check_float(value, name: str, where: str, *, low=None, high=None, low_open=False, high_open=False,
                allow_none=False, keep_int=False):
    """A finite real number within the bounds, returned as a float (an int stays an int
    when ``keep_int``); None passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    expected = _describe(low, high, low_open, high_open) + (" or None" if allow_none else "")
    number = _real(value)
    if number is None:
        raise TypeError(f"{where}: the `{name}` argument must be {expected}. Received: {name}={value!r}")
    bad = (
        not math.isfinite(number)
        or (low is not None and (number <= low if low_open else number < low))
        or (high is not None and (number >= high if high_open else number > high))
    )
    if bad:
        raise ValueError(f"{where}: the `{name}` argument must be {expected}. Received: {name}={value!r}")
    return number if keep_int and isinstance(number, int) else float(number)


def check_bool(value, name: str, where: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: the `{name}` argument must be True or False. Received: {name}={value!r}")
    return bool(value)


def check_name(value, default: str, where: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not value:
        raise TypeError(
            f"{where}: the `name` argument must be a non-empty string or None. Received: name={value!r}"
        )
    return value
