"""Variable: a named, shaped, typed array that a layer owns (Keras' ``keras.Variable``)."""
from __future__ import annotations

import numpy as np

from .backend import as_float_array


class Variable:
    """A layer weight. ``value`` is the array; ``assign`` replaces it after a shape check.

    ``np.asarray(variable)`` and ``variable.numpy()`` give its value (``numpy()`` a copy).
    """

    def __init__(self, value, name: str, trainable: bool = True, path: str | None = None):
        self.value = value
        self.name = name
        self.path = path or name
        self.trainable = trainable

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> str:
        return self.value.dtype.name

    def numpy(self):
        return self.value.copy()

    def assign(self, value, where: str = "") -> None:
        value = as_float_array(value, dtype=self.value.dtype, where=where or self.path, name=self.name)
        if value.shape != self.value.shape:
            raise ValueError(
                f"{where or self.path}: weight '{self.name}' expects shape {self.shape}. "
                f"Received: value with shape {value.shape}"
            )
        self.value = np.array(value, dtype=self.value.dtype, copy=True)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"
