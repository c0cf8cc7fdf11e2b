"""Weight regularizers with Keras 3's names, arguments and arithmetic.

A regularizer maps a weight array to a penalty added to the loss,
``regularizer(x) -> float``, and gives that penalty's gradient with respect to the
weight, ``regularizer.gradient(x) -> array`` (same shape and dtype as ``x``):

    L1(l1)      penalty l1 * sum(|x|)               gradient l1 * sign(x)  (0 where x == 0)
    L2(l2)      penalty l2 * sum(x**2)              gradient 2 * l2 * x
    L1L2(l1, l2)  the sum of the two

Keras computes the penalty in the weight's dtype; so does this module, returning it
as a Python float.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import as_float_array


def _check_factor(value, name: str, where: str) -> float:
    """Keras' rule: a finite, non-negative number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{where}: the `{name}` argument must be a non-negative float. Received: {name}={value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{where}: the `{name}` argument must be a non-negative float. Received: {name}={value!r}"
        )
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` gives the penalty (0.0 here), ``gradient(x)`` its gradient."""

    def __call__(self, x) -> float:
        return 0.0

    def gradient(self, x):
        return np.zeros_like(self._array(x))

    def _array(self, x):
        return as_float_array(x, where=type(self).__name__, name="x")

    def get_config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


def _l1(factor, x):
    return factor * np.sum(np.abs(x))


def _l2(factor, x):
    return factor * np.sum(np.square(x))


class L1(Regularizer):
    """``l1 * sum(|x|)``; the gradient is ``l1 * sign(x)``, 0 where ``x == 0`` (a subgradient)."""

    def __init__(self, l1=0.01):
        self.l1 = _check_factor(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, x) -> float:
        return float(_l1(self.l1, self._array(x)))

    def gradient(self, x):
        x = self._array(x)
        return np.multiply(np.sign(x), self.l1, dtype=x.dtype)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``; the gradient is ``2 * l2 * x``."""

    def __init__(self, l2=0.01):
        self.l2 = _check_factor(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x) -> float:
        return float(_l2(self.l2, self._array(x)))

    def gradient(self, x):
        x = self._array(x)
        return np.multiply(x, 2.0 * self.l2, dtype=x.dtype)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; Keras 3's defaults are 0 for both
    (the string 'l1_l2' gives 0.01 for both, see ``get``)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _check_factor(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x) -> float:
        x = self._array(x)
        penalty = x.dtype.type(0)
        if self.l1:
            penalty += _l1(self.l1, x)
        if self.l2:
            penalty += _l2(self.l2, x)
        return float(penalty)

    def gradient(self, x):
        x = self._array(x)
        grad = np.zeros_like(x)
        if self.l1:
            grad += np.multiply(np.sign(x), self.l1, dtype=x.dtype)
        if self.l2:
            grad += np.multiply(x, 2.0 * self.l2, dtype=x.dtype)
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def _l1_l2(l1=0.01, l2=0.01):
    """The 'l1_l2' shortcut: both factors 0.01 (Keras' documented default for the string)."""
    return L1L2(l1=l1, l2=l2)


_BY_NAME = {
    "l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": _l1_l2,
    "L1": L1, "L2": L2, "L1L2": L1L2,
}


def get(identifier, where: str = ""):
    """A regularizer from a name ('l1', 'l2', 'l1_l2', 'l1l2', or a class name), an
    instance or a callable ``f(x) -> float`` (returned as is), or a config dict
    {'class_name': ..., 'config': {...}}; None gives None."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in ("L1", "L2", "L1L2"):
        return _BY_NAME[identifier["class_name"]].from_config(identifier.get("config") or {})
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(
        f"{where + ': ' if where else ''}unknown regularizer. "
        f"Expected one of {['l1', 'l2', 'l1_l2', 'l1l2']}, "
        "a Regularizer, a callable or a config dict {'class_name': 'L1' | 'L2' | 'L1L2', 'config': {...}}. "
        f"Received: {identifier!r}"
    )


def serialize(regularizer):
    """``{'class_name': 'L2', 'config': {'l2': 0.01}}`` for a Regularizer; a function's name otherwise."""
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    return getattr(regularizer, "__name__", repr(regularizer))
