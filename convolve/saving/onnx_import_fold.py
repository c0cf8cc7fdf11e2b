"""ONNX import, part 2: folding the shape arithmetic exporters emit, before any layer is built.

PyTorch's exporters write ``x.view(x.size(0), -1)`` as ``Shape -> Gather -> Unsqueeze -> Concat ->
Reshape``, ``F.pad`` as a chain of ``ConstantOfShape``, ``Concat``, ``Reshape``, ``Slice``,
``Transpose`` and ``Cast`` on constants, and keep small ``Constant`` nodes for scalars. None of
these is a layer: every node whose inputs are all known (initializers, ``Constant`` outputs,
earlier folded values, and shapes of the layers' outputs) is evaluated here with NumPy, once,
while the graph is read.

A size that is known only when the model runs (the batch size, a dynamic axis) is a :class:`Dim`
inside an object array, so ``Shape(x)`` of a (batch, 16, 2, 2) tensor is ``[batch, 16, 2, 2]``:
Gather, Unsqueeze, Squeeze, Concat, Slice, Cast and the arithmetic carry it along, and a
``Reshape`` whose target starts with it keeps the batch axis. Operators that need numbers
(``ConstantOfShape``, ``Range``, ``Expand``, ``Equal``, ``Where``) refuse it with a message.

No fold allocates without bound: each result's element count is computed from the input shapes
first and must stay within ``limit`` (at least the file's size in elements; see
``onnx_format.load_model``), so a few bytes of ``ConstantOfShape`` cannot ask for gigabytes.
"""
from __future__ import annotations

import math

import numpy as np

from .onnx_import_tensors import DATA_TYPES, OnnxFileError, type_name

#: the longest name a Dim keeps (arithmetic on sizes names its expression)
MAX_DIM_NAME = 60


class Dim:
    """A size known only when the model runs (``batch``, ``input[2]``), or arithmetic on such sizes.

    It lives in object arrays next to ints; arithmetic with it gives another Dim whose name shows
    the expression, so messages can say what a shape was made of."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def _op(self, other, symbol, reverse=False):
        a, b = (other, self) if reverse else (self, other)
        name = f"({a!r} {symbol} {b!r})"  # bounded, so that repeated arithmetic cannot grow it
        return Dim(name if len(name) <= MAX_DIM_NAME else name[: MAX_DIM_NAME - 4] + "...)")

    def __add__(self, other):
        return self._op(other, "+")

    def __radd__(self, other):
        return self._op(other, "+", True)

    def __sub__(self, other):
        return self._op(other, "-")

    def __rsub__(self, other):
        return self._op(other, "-", True)

    def __mul__(self, other):
        return self._op(other, "*")

    def __rmul__(self, other):
        return self._op(other, "*", True)

    def __floordiv__(self, other):
        return self._op(other, "/")

    def __rfloordiv__(self, other):
        return self._op(other, "/", True)

    __truediv__, __rtruediv__ = __floordiv__, __rfloordiv__

    def __neg__(self):
        return self._op(-1, "*", True)


#: the batch size: axis 0 of every tensor the layers compute
BATCH = Dim("batch")


def has_dims(array) -> bool:
    """True when ``array`` holds a :class:`Dim` (a size known only when the model runs)."""
    return isinstance(array, np.ndarray) and array.dtype == object


def settled(array: np.ndarray) -> np.ndarray:
    """An object array whose sizes are all known again (a Slice of [batch, 4, 4]) as int64."""
    if has_dims(array) and not any(isinstance(v, Dim) for v in array.ravel()):
        return array.astype(np.int64)
    return array


def shape_vector(shape, name: str) -> np.ndarray:
    """``Shape`` of a tensor with ``shape`` (batch axis first, None for unknown sizes): an int64
    array, or an object array with :data:`BATCH` and ``Dim('name[axis]')`` entries."""
    entries = [BATCH if axis == 0 else Dim(f"{name}[{axis}]") if d is None else int(d)
               for axis, d in enumerate(shape)]
    if any(isinstance(e, Dim) for e in entries):
        return np.array(entries, dtype=object)
    return np.array(entries, dtype=np.int64)


#: attributes each folded operator may carry
ATTRIBUTES = {
    "Constant": ("value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value",
                 "value_string", "value_strings"),
    "Identity": (), "Gather": ("axis",), "Unsqueeze": ("axes",), "Squeeze": ("axes",), "Concat": ("axis",),
    "Cast": ("to", "saturate", "round_mode"), "Slice": ("starts", "ends", "axes"), "Transpose": ("perm",),
    "Reshape": ("allowzero",), "Flatten": ("axis",), "Add": (), "Sub": (), "Mul": (), "Div": (), "Neg": (),
    "Equal": (), "Where": (), "ConstantOfShape": ("value",), "Range": (), "Expand": (),
}
#: operators that are only folded (never a layer): they must read constants or static shapes
FOLD_ONLY = frozenset({"Constant", "Gather", "Equal", "Where", "ConstantOfShape", "Range", "Expand", "Shape",
                       "Size"})


class Folder:
    """Evaluates one node on known inputs: ``Folder(label, attrs, opset, limit).fold(op, inputs)``.

    ``inputs`` are arrays (object arrays where a size is a :class:`Dim`) or None for an absent
    optional input; ``limit`` bounds every result's element count."""

    def __init__(self, label: str, attrs, opset: int, limit: int):
        self.label, self.attrs, self.opset, self.limit = label, attrs, opset, limit

    def fail(self, problem: str) -> OnnxFileError:
        return OnnxFileError(f"{self.label}: {problem}")

    def fold(self, op: str, inputs: list) -> list:
        return [settled(np.asarray(out)) for out in getattr(self, f"_{op}")(*inputs)]

    # ---- checks ---------------------------------------------------------------------------------
    def _room(self, shape, what="its result") -> tuple:
        """``shape`` (ints), refused when it would hold more than ``limit`` elements."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise self.fail(f"{what} would have a negative dimension. Received: shape {list(shape)}")
        count = math.prod(shape)
        if count > self.limit:
            raise self.fail(
                f"{what} would hold {count:,} values; convolve folds constants of at most {self.limit:,} "
                f"values (the file's size). Received: shape {list(shape)}"
            )
        return shape

    def _numeric(self, array, what):
        if array is None:
            raise self.fail(f"its input {what} is required. Received: none")
        if has_dims(array):
            raise self.fail(
                "convolve folds this operator only on static sizes. "
                f"Received: its input {what} holds sizes known only when the model runs "
                f"({list(array.ravel())})"
            )
        return array

    def _ints(self, array, what) -> tuple:
        array = self._numeric(array, what)
        if array.dtype.kind not in "iu" or array.ndim > 1:
            raise self.fail(
                f"its input {what} must be a 1-D integer tensor. Received: {array.dtype} of shape "
                f"{array.shape}"
            )
        return tuple(int(v) for v in array.ravel())

    def _axis(self, axis, rank, what="axis") -> int:
        if not -rank <= axis < max(rank, 1):
            raise self.fail(
                f"{what} must be in [{-rank}, {rank - 1}] for rank {rank}. Received: {what}={axis}"
            )
        return axis % max(rank, 1)

    def _axes_input(self, array, name="axes"):
        """Axes from the attribute (before opset 13) or the input (13 and later)."""
        if self.opset < 13:
            return self.attrs.integers(name)
        return None if array is None else self._ints(array, name)

    # ---- the operators ----------------------------------------------------------------------------
    def _Constant(self):
        present = [name for name in ATTRIBUTES["Constant"] if name in self.attrs]
        if len(present) != 1:
            raise self.fail(f"a Constant needs exactly one value attribute. Received: {present or 'none'}")
        name = present[0]
        if name in ("sparse_value", "value_string", "value_strings"):
            raise self.fail(f"convolve reads numeric constants only. Received: a {name} attribute")
        if name == "value":
            return [self.attrs.tensor("value")]
        getter = {"value_float": self.attrs.number, "value_floats": self.attrs.numbers,
                  "value_int": self.attrs.integer, "value_ints": self.attrs.integers}[name]
        dtype = np.float32 if "float" in name else np.int64
        return [np.array(getter(name), dtype=dtype)]

    def _Identity(self, x):
        return [x]

    def _Gather(self, data, indices):
        axis = self._axis(self.attrs.integer("axis", 0), data.ndim)
        indices = self._numeric(indices, "indices")
        if indices.dtype.kind not in "iu":
            raise self.fail(f"indices must be integers. Received: {indices.dtype}")
        size = data.shape[axis]
        if indices.size and (indices.min() < -size or indices.max() >= size):
            raise self.fail(
                f"indices must be in [{-size}, {size - 1}] for axis {axis} of size {size}. "
                f"Received: {indices.ravel()[:8].tolist()}"
            )
        self._room((*data.shape[:axis], *indices.shape, *data.shape[axis + 1:]))
        return [np.take(data, indices.astype(np.int64), axis=axis)]

    def _Unsqueeze(self, data, axes=None):
        axes = self._axes_input(axes)
        if axes is None:
            raise self.fail("Unsqueeze needs axes. Received: none")
        rank = data.ndim + len(axes)
        axes = sorted(self._axis(a, rank, "axes") for a in axes)
        if len(set(axes)) != len(axes):
            raise self.fail(f"axes must not repeat. Received: axes={axes}")
        shape = list(data.shape)
        for a in axes:
            shape.insert(a, 1)
        return [data.reshape(shape)]

    def _Squeeze(self, data, axes=None):
        axes = self._axes_input(axes)
        if axes is None:
            axes = [a for a, d in enumerate(data.shape) if d == 1]
        axes = {self._axis(a, data.ndim, "axes") for a in axes}
        if any(data.shape[a] != 1 for a in axes):
            raise self.fail(
                f"every squeezed axis must have size 1. Received: axes={sorted(axes)}, shape {data.shape}"
            )
        return [data.reshape([d for a, d in enumerate(data.shape) if a not in axes])]

    def _Concat(self, *arrays):
        arrays = [a for a in arrays if a is not None]
        if not arrays or len({a.ndim for a in arrays}) != 1 or arrays[0].ndim == 0:
            raise self.fail(
                f"Concat needs inputs of one rank >= 1. Received: shapes {[a.shape for a in arrays]}"
            )
        axis = self._axis(self.attrs.integer("axis"), arrays[0].ndim)
        if any(a.shape[:axis] + a.shape[axis + 1:] != arrays[0].shape[:axis] + arrays[0].shape[axis + 1:]
               for a in arrays):
            raise self.fail(
                f"the inputs' shapes differ off axis {axis}. Received: {[a.shape for a in arrays]}"
            )
        self._room((sum(a.shape[axis] for a in arrays), *arrays[0].shape[:axis], *arrays[0].shape[axis + 1:]))
        if any(has_dims(a) for a in arrays):
            arrays = [a.astype(object) for a in arrays]
        return [np.concatenate(arrays, axis=axis)]

    def _Cast(self, x):
        to = self.attrs.integer("to")
        if to not in DATA_TYPES:
            raise self.fail(
                f"convolve folds casts to {sorted(type_name(t) for t in DATA_TYPES)}. Received: "
                f"to={type_name(to)}"
            )
        dtype = DATA_TYPES[to][0].newbyteorder("=")
        if has_dims(x):
            if dtype.kind not in "iu":
                raise self.fail(
                    f"a size known only when the model runs cannot become {type_name(to)}. Received: "
                    f"{list(x.ravel())}"
                )
            return [x]
        with np.errstate(invalid="ignore", over="ignore"):
            return [x.astype(dtype)]

    def _Slice(self, data, starts=None, ends=None, axes=None, steps=None):
        if self.opset < 10:
            starts, ends, axes = (self.attrs.integers(n) for n in ("starts", "ends", "axes"))
            steps = None
        else:
            starts, ends = self._ints(starts, "starts"), self._ints(ends, "ends")
            axes = None if axes is None else self._ints(axes, "axes")
            steps = None if steps is None else self._ints(steps, "steps")
        if starts is None or ends is None or len(starts) != len(ends):
            raise self.fail(
                f"starts and ends must have one value per axis. Received: starts={starts}, ends={ends}"
            )
        axes = tuple(range(len(starts))) if axes is None else axes
        steps = (1,) * len(starts) if steps is None else steps
        if len(axes) != len(starts) or len(steps) != len(starts):
            raise self.fail(f"axes and steps must match starts. Received: axes={axes}, steps={steps}")
        index = [slice(None)] * data.ndim
        for start, end, axis, step in zip(starts, ends, axes, steps):
            axis = self._axis(axis, data.ndim, "axes")
            size = data.shape[axis]
            if step == 0:
                raise self.fail("steps must not be 0. Received: step 0")
            start, end = start + size if start < 0 else start, end + size if end < 0 else end
            if step > 0:
                start, end = min(max(start, 0), size), min(max(end, 0), size)
            else:
                start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
            index[axis] = slice(start, None if end < 0 else end, step)
        return [data[tuple(index)]]

    def _Transpose(self, data):
        perm = self.attrs.integers("perm", tuple(reversed(range(data.ndim))))
        if sorted(perm) != list(range(data.ndim)):
            raise self.fail(f"perm must order the axes 0..{data.ndim - 1}. Received: perm={list(perm)}")
        return [np.transpose(data, perm)]

    def _Reshape(self, data, shape):
        target = list(self._ints(shape, "shape"))
        return [data.reshape(resolve_reshape(data.shape, target, bool(self.attrs.flag("allowzero", 0)),
                                             self.fail))]

    def _Flatten(self, data):
        axis = self._axis(self.attrs.integer("axis", 1), data.ndim + 1)
        return [data.reshape(math.prod(data.shape[:axis]), math.prod(data.shape[axis:]))]

    def _elementwise(self, function, *arrays):
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays))
        except ValueError:
            raise self.fail(
                f"its inputs do not broadcast. Received: shapes {[a.shape for a in arrays]}"
            ) from None
        self._room(shape)
        with np.errstate(all="ignore"):
            return [np.asarray(function(*arrays))]

    def _Add(self, a, b):
        return self._elementwise(np.add, a, b)

    def _Sub(self, a, b):
        return self._elementwise(np.subtract, a, b)

    def _Mul(self, a, b):
        return self._elementwise(np.multiply, a, b)

    def _Div(self, a, b):
        if has_dims(a) or has_dims(b) or a.dtype.kind == "f" or b.dtype.kind == "f":
            return self._elementwise(
                np.floor_divide if (has_dims(a) or has_dims(b)) else np.true_divide, a, b
            )
        if np.any(b == 0):
            raise self.fail("integer division by zero. Received: a divisor of 0")
        # ONNX integer division truncates toward zero
        return self._elementwise(lambda x, y: np.sign(x) * np.sign(y) * (np.abs(x) // np.abs(y)), a, b)

    def _Neg(self, x):
        return [-x]

    def _Equal(self, a, b):
        return self._elementwise(np.equal, self._numeric(a, "A"), self._numeric(b, "B"))

    def _Where(self, condition, x, y):
        condition = self._numeric(condition, "condition")
        return self._elementwise(
            np.where, condition.astype(bool), self._numeric(x, "X"), self._numeric(y, "Y")
        )

    def _ConstantOfShape(self, shape):
        shape = self._room(self._ints(shape, "shape"))
        value = self.attrs.tensor("value")
        if value is None:
            value = np.zeros(1, dtype=np.float32)
        if value.size != 1:
            raise self.fail(f"value must hold one element. Received: shape {value.shape}")
        return [np.full(shape, value.ravel()[0], dtype=value.dtype)]

    def _Range(self, start, limit, delta):
        start, limit, delta = (self._numeric(v, n) for v, n in ((start, "start"), (limit, "limit"),
                                                                 (delta, "delta")))
        if start.size != 1 or limit.size != 1 or delta.size != 1:
            raise self.fail(
                f"start, limit and delta must be scalars. Received: shapes {start.shape}, {limit.shape}, "
                f"{delta.shape}"
            )
        if delta.ravel()[0] == 0:
            raise self.fail("delta must not be 0. Received: delta=0")
        s, lim, d = (v.ravel()[0] for v in (start, limit, delta))
        count = max(math.ceil((float(lim) - float(s)) / float(d)), 0)
        self._room((count,))
        return [(s + d * np.arange(count)).astype(start.dtype)]

    def _Expand(self, data, shape):
        target = self._ints(shape, "shape")
        data = self._numeric(data, "input")
        try:
            out = np.broadcast_shapes(data.shape, tuple(target))
        except ValueError:
            raise self.fail(
                f"the input must broadcast to the shape. Received: {data.shape} and {list(target)}"
            ) from None
        self._room(out)
        return [np.array(np.broadcast_to(data, out))]


def resolve_reshape(shape, target, allowzero, fail) -> tuple:
    """ONNX Reshape's target for an input of ``shape`` (ints): 0 copies the input's size at that
    position (unless ``allowzero``), one -1 takes what is left."""
    target = list(target)
    if not allowzero:
        for i, d in enumerate(target):
            if d == 0:
                if i >= len(shape):
                    raise fail(
                        f"a 0 (copy) entry needs an input axis there. Received: shape entry {i} is 0, the "
                        f"input "
                        f"has rank {len(shape)}"
                    )
                target[i] = shape[i]
    if target.count(-1) > 1 or any(d < -1 for d in target):
        raise fail(f"shape may hold one -1 and no other negative size. Received: {target}")
    total = math.prod(shape)
    if -1 in target:
        rest = math.prod(d for d in target if d != -1)
        if rest == 0 or total % rest:
            raise fail(f"the target must hold as many values as the input. Received: {total} values (shape "
                       f"{tuple(shape)}) for {target}")
        target[target.index(-1)] = total // rest
    if math.prod(target) != total:
        raise fail(f"the target must hold as many values as the input. Received: {total} values (shape "
                   f"{tuple(shape)}) for {target}")
    return tuple(target)
