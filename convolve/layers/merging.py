"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate.

Each takes a list of inputs (Keras 3's semantics), symbolic or arrays:

    y = Add()([x, Conv2D(8, 3, padding="same")(x)])      # a residual connection
    z = Concatenate(axis=-1)([a, b])                      # channels side by side

The elementwise layers need inputs of the same shape, except that an axis of size 1
broadcasts against any size, and a lower-rank input is first given axes of size 1 just
after the batch axis (Keras' ``expand_dims(x, 1)``): (batch, 3) meets (batch, 4, 3) as
(batch, 1, 3). Batch sizes must agree. Concatenate needs the same rank and the same size
on every axis but ``axis``, which must not be the batch axis.

Every one calls the recorded ops in ``convolve.autograd`` (add, subtract, multiply,
maximum, minimum, concatenate), so gradients flow to every input. None has weights.

Keras' lowercase functional forms make the layer and call it in one step, on symbolic
tensors or on arrays: ``add(inputs, **kwargs)`` is ``Add(**kwargs)(inputs)``, and likewise
``subtract``, ``multiply``, ``average``, ``maximum``, ``minimum`` and
``concatenate(inputs, axis=-1, **kwargs)``; ``kwargs`` are the layer's (name, dtype...).

    y = add([x, Conv2D(8, 3, padding="same")(x)])
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import autograd
from ..autograd import Tensor
from ..backend import as_float_array
from ..ops.shapes import POINTWISE
from .base import Layer, format_shape
from .symbolic import is_symbolic, symbolic_call


def _shapes(shapes) -> str:
    return "[" + ", ".join(format_shape(s) for s in shapes) + "]"


class Merge(Layer):
    """Base of the merging layers: a list of at least ``min_inputs`` inputs (exactly
    ``exact_inputs`` when set), checked before anything is computed."""

    takes_list = True  # symbolic_call passes a list of shapes
    min_inputs = 2
    exact_inputs = None

    # ---- checks -----------------------------------------------------------------------
    def _check_count(self, shapes) -> None:
        if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
            got = format_shape(shapes) if isinstance(shapes, (list, tuple)) else repr(shapes)
            raise ValueError(
                f"{self.where}: a merge layer must be called on a list of inputs. "
                f"Received: a single input of shape {got}"
            )
        n = len(shapes)
        if self.exact_inputs is not None and n != self.exact_inputs:
            raise ValueError(
                f"{self.where}: a {type(self).__name__} layer must be called on exactly "
                f"{self.exact_inputs} inputs. "
                f"Received: {n} input{'s' if n != 1 else ''} with shapes {_shapes(shapes)}"
            )
        if n < self.min_inputs:
            raise ValueError(
                f"{self.where}: a merge layer must be called on a list of at least {self.min_inputs} inputs. "
                f"Received: {n} input{'s' if n != 1 else ''}{' with shapes ' + _shapes(shapes) if n else ''}"
            )
        if any(len(s) == 0 for s in shapes):
            raise ValueError(
                f"{self.where}: every input needs a batch axis (rank 1 or more). "
                f"Received: input shapes {_shapes(shapes)}"
            )

    def check_input_shape(self, shapes) -> None:
        self._check_count(shapes)
        self.compute_output_shape(shapes)

    def compute_output_shape(self, shapes) -> tuple:
        """Keras' elementwise rule: ranks aligned after the batch axis, size-1 axes broadcast."""
        self._check_count(shapes)
        shapes = [tuple(s) for s in shapes]
        batches = {s[0] for s in shapes if s and s[0] is not None}
        if len(batches) > 1:
            raise ValueError(
                f"{self.where}: cannot merge tensors with different batch sizes. "
                f"Received: input shapes {_shapes(shapes)}"
            )
        ndim = max(len(s) for s in shapes)
        aligned = [(1,) * (ndim - len(s)) + s[1:] for s in shapes]  # size-1 axes after the batch axis
        out = []
        for axis, sizes in enumerate(zip(*aligned, strict=True), start=1):
            big = {d for d in sizes if d is not None and d != 1}
            if len(big) > 1:
                raise ValueError(
                    f"{self.where}: inputs must have the same shape, except for axes of size 1 "
                    "(which broadcast); "
                    f"axis {axis} has sizes {sorted(big)}. Received: input shapes {_shapes(shapes)}"
                )
            out.append(big.pop() if big else (None if None in sizes else 1))
        return (next(iter(batches)) if batches else None, *out)

    # ---- calling ----------------------------------------------------------------------
    def __call__(self, inputs, training=False):
        if is_symbolic(inputs):
            return symbolic_call(self, inputs)
        if not isinstance(inputs, (list, tuple)):
            shape = getattr(inputs, "shape", None)
            got = f"of type {type(inputs).__name__}" if shape is None else f"of shape {format_shape(shape)}"
            raise ValueError(
                f"{self.where}: a merge layer must be called on a list of inputs. "
                f"Received: a single input {got}"
            )
        xs = []
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor):
                xs.append(x if x.dtype == self.dtype else autograd.cast(x, self.dtype))
            else:
                xs.append(
                    as_float_array(x, dtype=self.dtype, where=f"Layer {self.where}", name=f"inputs[{i}]")
                )
        shapes = [tuple(x.shape) for x in xs]
        self.check_input_shape(shapes)
        self._maybe_build(shapes)
        return self.call(xs, training=training)

    def _aligned(self, xs) -> list:
        """Give lower-rank inputs size-1 axes after the batch axis (a recorded reshape)."""
        ndim = max(x.ndim for x in xs)
        return [
            x if x.ndim == ndim else autograd.view(x, (x.shape[0], *(1,) * (ndim - x.ndim), *x.shape[1:]))
            for x in xs
        ]

    def _merge(self, a, b):
        raise NotImplementedError

    def call(self, inputs, training=False):
        xs = self._aligned(list(inputs))
        y = xs[0]
        for x in xs[1:]:
            y = self._merge(y, x)
        return y

    def receptive_field(self):
        return POINTWISE  # each output position combines the same position of every input


class Add(Merge):
    """The elementwise sum of a list of inputs (Keras' ``Add``)."""

    def _merge(self, a, b):
        return autograd.add(a, b)


class Subtract(Merge):
    """``inputs[0] - inputs[1]``: exactly two inputs (Keras' ``Subtract``)."""

    exact_inputs = 2

    def _merge(self, a, b):
        return autograd.subtract(a, b)


class Multiply(Merge):
    """The elementwise product of a list of inputs (Keras' ``Multiply``)."""

    def _merge(self, a, b):
        return autograd.multiply(a, b)


class Average(Merge):
    """The elementwise mean of a list of inputs (Keras' ``Average``)."""

    def call(self, inputs, training=False):
        xs = self._aligned(list(inputs))
        y = xs[0]
        for x in xs[1:]:
            y = autograd.add(y, x)
        return autograd.multiply(y, np.asarray(1.0 / len(xs), dtype=self.dtype))


class Maximum(Merge):
    """The elementwise maximum; at ties the gradient goes to the earliest input."""

    def _merge(self, a, b):
        return autograd.maximum(a, b)


class Minimum(Merge):
    """The elementwise minimum; at ties the gradient goes to the earliest input."""

    def _merge(self, a, b):
        return autograd.minimum(a, b)


class Concatenate(Merge):
    """Join a list of inputs along ``axis`` (default -1, the channels of channels_last data).

    The inputs need the same rank and the same size on every other axis; the output's
    size along ``axis`` is the sum of theirs.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
            raise TypeError(f"{self.where}: the `axis` argument must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def compute_output_shape(self, shapes) -> tuple:
        self._check_count(shapes)
        shapes = [tuple(s) for s in shapes]
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1:
            raise ValueError(
                f"{self.where}: a Concatenate layer requires inputs of the same rank. "
                f"Received: input shapes {_shapes(shapes)}"
            )
        ndim = ranks.pop()
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(
                f"{self.where}: axis={self.axis} is not a valid concatenation axis for inputs of "
                f"rank {ndim}: it must be between {1 - ndim} and {ndim - 1} and not the batch axis "
                f"(0 or {-ndim}). "
                f"Received: axis={self.axis} for input shapes {_shapes(shapes)}"
            )
        axis = self.axis % ndim
        out = []
        for a in range(ndim):
            sizes = [s[a] for s in shapes]
            if a == axis:
                out.append(None if None in sizes else sum(sizes))
                continue
            known = {d for d in sizes if d is not None}
            if len(known) > 1:
                what = "batch sizes" if a == 0 else f"sizes on axis {a}"
                raise ValueError(
                    f"{self.where}: a Concatenate layer requires inputs with matching shapes except for the "
                    f"concatenation axis {self.axis}; the {what} differ. "
                    f"Received: input shapes {_shapes(shapes)}"
                )
            out.append(known.pop() if known else None)
        return tuple(out)

    def call(self, inputs, training=False):
        return autograd.concatenate(list(inputs), axis=self.axis)

    def receptive_field(self):
        # joined along the last axis (channels_last channels) every position keeps its field;
        # along any other axis positions are not aligned any more: untracked
        shapes = self._built_input_shape
        last = self.axis == -1 or (bool(shapes) and self.axis == len(shapes[0]) - 1)
        return POINTWISE if last else None

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis)
        return config


# ---- Keras' functional forms: make the layer and call it ---------------------------------------


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the elementwise sum of a list of inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: ``inputs[0] - inputs[1]``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product of a list of inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean of a list of inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum of a list of inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum of a list of inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``: a list of inputs joined along ``axis``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
