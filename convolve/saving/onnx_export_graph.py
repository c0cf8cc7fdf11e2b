"""The pieces of ONNX export that every converter uses (``onnx_export`` is the entry point):

* ``Graph``: the graph under construction: nodes, initializers, unique names, shared small
  constants, the Transposes between layouts (``view``), and the op forms that differ between
  opsets (``reduce``, ``pad``);
* ``Value``: a tensor of the model as the graph holds it: its ONNX name, and the permutation
  of the model's axes that the ONNX tensor holds (``perm``), so that layouts change only where
  an op needs another one;
* ``Refusal``: what a converter raises for what ONNX cannot express; the export collects them
  and names every refused layer at once.
"""
from __future__ import annotations

import numpy as np

#: the opset used unless a layer needs a newer one, and the one circular padding needs
DEFAULT_OPSET = 17
WRAP_OPSET = 19


class Refusal(Exception):
    """A layer, or one of its options, that the export cannot express; the message names both."""


class Value:
    """A tensor of the model (``shape``: logical, batch None) as the ONNX graph holds it.

    ``perm``: axis i of the ONNX tensor is axis ``perm[i]`` of the model's tensor; ``names``
    caches the ONNX tensor for each permutation asked for so far (``Graph.view``).
    """

    __slots__ = ("names", "perm", "dtype", "shape")

    def __init__(self, name, perm, dtype, shape):
        self.perm = tuple(perm)
        self.names = {self.perm: name}
        self.dtype = np.dtype(dtype).name
        self.shape = tuple(shape)

    @property
    def name(self) -> str:
        return self.names[self.perm]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def axis(self, logical: int) -> int:
        """Where logical axis ``logical`` sits in the ONNX tensor."""
        return self.perm.index(logical % self.ndim)


def identity(ndim) -> tuple:
    return tuple(range(ndim))


def channels_first(ndim, data_format) -> tuple:
    """The permutation that holds a ``data_format`` tensor of rank ``ndim`` as (N, C, *spatial)."""
    if data_format == "channels_first":
        return identity(ndim)
    return (0, ndim - 1, *range(1, ndim - 1))


class Graph:
    """The ONNX graph under construction: nodes, initializers, unique names, layouts."""

    def __init__(self, onnx, opset, auto=False):
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.used = set()
        self.scope = "graph"  # the layer being converted, for names
        self.auto = auto  # the opset was not asked for: a wrap asks for WRAP_OPSET
        self.needs_wrap = False  # a Pad in wrap mode was wanted
        self._constants = {}

    # ---- names -----------------------------------------------------------------------
    def reserve(self, name) -> str:
        """``name``, or ``name_1``, ``name_2``... if taken; marked as taken."""
        unique, k = name, 0
        while unique in self.used:
            k += 1
            unique = f"{name}_{k}"
        self.used.add(unique)
        return unique

    # ---- nodes and constants -----------------------------------------------------------
    def node(self, op, inputs, hint=None, **attrs) -> str:
        """Add an ``op`` node reading ``inputs`` (names; '' for an omitted optional input);
        the name of its one output."""
        out = self.reserve(f"{self.scope}/{hint or op}")
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def initializer(self, array, hint) -> str:
        name = self.reserve(f"{self.scope}/{hint}")
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def const(self, value, dtype, hint="const") -> str:
        """A constant (a number or an array) in ``dtype``; small ones are shared."""
        array = np.asarray(value, dtype=dtype)
        if array.size > 16:
            return self.initializer(array, hint)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            saved, self.scope = self.scope, "const"
            self._constants[key] = self.initializer(array, hint)
            self.scope = saved
        return self._constants[key]

    def ints(self, values, hint="ints") -> str:
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), np.int64, hint)

    # ---- layouts and dtypes -------------------------------------------------------------
    def view(self, value: Value, perm) -> str:
        """``value``'s ONNX tensor with axis i holding logical axis ``perm[i]`` (one Transpose,
        made once per value and permutation)."""
        perm = tuple(perm)
        if perm not in value.names:
            source = value.perm
            value.names[perm] = self.node(
                "Transpose", [value.name], "transpose", perm=[source.index(a) for a in perm]
            )
        return value.names[perm]

    def physical(self, array, value: Value, dtype=None):
        """An array that broadcasts against ``value``'s logical shape (NumPy's rules),
        rearranged to broadcast against its ONNX tensor."""
        array = np.asarray(array, dtype=dtype or value.dtype)
        array = array.reshape((1,) * (value.ndim - array.ndim) + array.shape)
        return np.transpose(array, value.perm)

    def along(self, vector, value: Value, axis, dtype=None):
        """A (C,) vector shaped to broadcast along logical ``axis`` of ``value``'s ONNX tensor."""
        shape = [1] * value.ndim
        shape[value.axis(axis)] = -1
        return np.asarray(vector, dtype=dtype or value.dtype).reshape(shape)

    def cast(self, value: Value, dtype) -> Value:
        dtype = np.dtype(dtype).name
        if value.dtype == dtype:
            return value
        name = self.node(
            "Cast", [value.name], "cast", to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        )
        return Value(name, value.perm, dtype, value.shape)

    # ---- opset-dependent forms --------------------------------------------------------
    def reduce(self, op, name, axes, keepdims=True, hint=None) -> str:
        """ReduceMax/ReduceMean/ReduceMin (axes an attribute before opset 18, an input from 18)
        and ReduceSum (an input since 13)."""
        axes = [int(a) for a in axes]
        if op == "ReduceSum" or self.opset >= 18:
            return self.node(op, [name, self.ints(axes, "axes")], hint, keepdims=int(keepdims))
        return self.node(op, [name], hint, axes=axes, keepdims=int(keepdims))

    def pad(self, name, pads, axes, ndim, mode="constant", sizes=None, value=None, dtype=None) -> str:
        """Pad axes ``axes`` of a rank-``ndim`` tensor by ``pads`` ((before, after) per axis).

        ``mode``: constant (``value``, default 0), reflect, edge or wrap. Where ONNX's Pad
        cannot do what NumPy's pad does (reflect by as much as the size or more, wrap by more
        than the size, wrap before opset 19), and the size is known (``sizes``), the axis is
        gathered at NumPy's indices instead; with an unknown size such a pad is refused.
        """
        if mode == "wrap" and self.auto and any(b or a for b, a in pads):
            self.needs_wrap = True
        if mode in ("reflect", "edge", "wrap"):
            gathered = []
            for k, ((before, after), size) in enumerate(zip(pads, sizes)):
                if not (before or after) or mode == "edge":
                    continue
                old_wrap = mode == "wrap" and self.opset < WRAP_OPSET
                if size is None:
                    if old_wrap and not self.auto:  # (auto: the graph is made again at WRAP_OPSET)
                        raise Refusal(
                            "padding in 'wrap' mode on an axis whose size the model leaves open (None) "
                            f"needs ONNX's Pad in wrap mode, opset {WRAP_OPSET} or later. "
                            f"Received: opset={self.opset}"
                        )
                    continue  # a Pad node; too wide a reflection fails when run, as in PyTorch
                limit = size - 1 if mode == "reflect" else size
                if old_wrap or max(before, after) > limit:
                    index = np.pad(np.arange(size), (before, after), mode=mode)
                    name = self.node("Gather", [name, self.ints(index, "index")], "pad", axis=axes[k])
                    gathered.append(k)
            pads = [(0, 0) if k in gathered else p for k, p in enumerate(pads)]
        if not any(b or a for b, a in pads):
            return name
        full = [[0, 0] for _ in range(ndim)]
        for axis, (before, after) in zip(axes, pads):
            full[axis] = [before, after]
        inputs = [name, self.ints([p[0] for p in full] + [p[1] for p in full], "pads")]
        if mode == "constant" and value:
            inputs.append(self.const(value, dtype, "fill"))
        return self.node("Pad", inputs, "pad", mode=mode)
