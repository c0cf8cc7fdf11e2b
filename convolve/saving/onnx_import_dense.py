"""ONNX import, part 5: operators to convolve layers, continued: shapes (Flatten, Reshape,
Squeeze, Unsqueeze), dense layers (Gemm, MatMul and the Add of its bias), elementwise operators
(Add, Sub, Mul, Div, Concat), Dropout, Identity and Cast.

A constant operand makes a Rescaling layer: Add, Sub, Mul and Div by a constant of one value
(a scalar, or a (1, 1, 1, 1) tensor as convolve's own export writes) or of one value per index
of some axes (a per-channel (1, C, 1, 1) constant) that broadcasts against every sample; a Mul
whose only reader is an Add of such a constant becomes one Rescaling(scale, offset).

ONNX flattens (C, H, W) channel-major; convolve's channels_first Flatten moves the channels last
first (as Keras' does), so a Flatten whose readers are all Dense layers is channels_first and the
Dense kernels' rows are permuted to match; any other Flatten is channels_last, ONNX's own order.
"""
from __future__ import annotations

import math

import numpy as np

from .. import layers as L
from .onnx_import_fold import BATCH, has_dims
from .onnx_import_layers import CF
from .onnx_import_tensors import Attributes, OnnxFileError, Sym

#: operators mapped to layers here (several are also folded when every input is a constant)
MAPPED = (
    "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Concat",
    "Dropout", "Identity", "Cast", "Max", "Min", "Neg",
)


def _per_sample(c, x) -> bool:
    """True when constant ``c`` broadcasts against every sample of ``x`` without changing its shape."""
    return not (c.ndim > x.ndim or (c.ndim == x.ndim and c.shape[0] != 1) or any(
        cd != 1 and cd != xd for cd, xd in zip(c.shape[::-1], x.shape[::-1])))


def _compact(value):
    """A Rescaling argument: a float for one value (a scalar or a (1, 1, 1, 1) constant), else the
    array without its leading size-1 axes (it broadcasts the same)."""
    value = np.asarray(value, dtype=np.float64)
    if value.size == 1:
        return float(value.ravel()[0])
    first = next(i for i, d in enumerate(value.shape) if d != 1)
    return value.reshape(value.shape[first:])


class DenseMappings:
    """``_map_<Op>`` for the operators in MAPPED; mixed into ``onnx_import_graph.GraphBuilder``
    beside ``onnx_import_layers.LayerMappings`` (whose input checks they use)."""

    # ---- shapes ------------------------------------------------------------------------------------
    def _map_Flatten(self, node, label, inputs):
        x = self.sym(inputs[0], label)
        axis = Attributes(node, label, ("axis",)).integer("axis", 1)
        if (axis + x.ndim if axis < 0 else axis) != 1:
            raise OnnxFileError(f"{label}: convolve flattens every axis after the batch axis (axis=1). "
                                f"Received: axis={axis} for input of shape {x.shape}")
        return [self._flatten(node, label, x)]

    def _flatten(self, node, label, x):
        """ONNX flattens channel-major. convolve's channels_first Flatten moves the channels last
        first (Keras), so it is used only for a tensor that channels_first layers made and when every
        reader is a Dense, whose kernel rows are then permuted to match; otherwise a channels_last
        Flatten keeps ONNX's (row-major) order."""
        if x.ndim > 2 and x.layout == CF and all(d is not None for d in x.shape[1:]) \
                and self._feeds_dense(node.output[0]):
            return self.make(node, label, L.Flatten, x, data_format=CF, flat=x.shape[1:])
        return self.make(node, label, L.Flatten, x, data_format="channels_last")

    def _feeds_dense(self, name) -> bool:
        """True when every node that reads ``name`` (through Identity and Dropout) becomes a Dense."""
        stack, found = [name], False
        while stack:
            name = stack.pop()
            if name in self.outputs:
                return False
            for index, position in self.consumers.get(name, []):
                node = self.nodes[index]
                b = self.values.get(node.input[1]) if len(node.input) > 1 else None
                if node.op_type in ("Identity", "Dropout") and position == 0:
                    stack.append(node.output[0])
                elif node.op_type in ("Gemm", "MatMul") and position == 0 and isinstance(b, np.ndarray) \
                        and b.ndim == 2 and not any(a.name == "transA" and a.i for a in node.attribute):
                    found = True
                else:
                    return False
        return found

    def _batch_first(self, target, x, label) -> list:
        """``target`` without its first entry, which must stand for the batch axis."""
        first = target[0]
        rest = list(target[1:])
        if first is BATCH or (isinstance(first, int) and (first == 0 or first == self.static_batch)):
            return rest
        rest_known = all(isinstance(d, int) and d > 0 for d in rest)
        if (
            first == -1
            and rest_known
            and None not in x.shape[1:]
            and math.prod(rest) == math.prod(x.shape[1:])
        ):
            return rest
        raise OnnxFileError(
            f"{label}: convolve keeps axis 0 as the batch axis, so the target shape must start "
            f"with the batch size (or 0). Received: shape {list(target)} for input {x.shape}"
        )

    def _map_Reshape(self, node, label, inputs):
        allowzero = Attributes(node, label, ("allowzero",)).flag("allowzero", 0)
        x = self.sym(inputs[0], label)
        target = inputs[1] if len(inputs) > 1 else None
        if not isinstance(target, np.ndarray) or target.ndim != 1 or not len(target) \
                or not (has_dims(target) or target.dtype.kind in "iu"):
            raise OnnxFileError(
                f"{label}: the target shape must be a 1-D integer constant or a folded shape. "
                f"Received: {type(target).__name__}"
            )
        entries = [d if has_dims(target) and not isinstance(d, (int, np.integer)) else int(d) for d in target]
        rest = self._batch_first(entries, x, label)
        for i, d in enumerate(rest):
            if isinstance(d, int) and d == 0 and not allowzero and i + 1 < x.ndim:
                rest[i] = x.shape[i + 1] if x.shape[i + 1] is not None else -1
        if not all(isinstance(d, int) and (d > 0 or d == -1) for d in rest) or rest.count(-1) > 1:
            raise OnnxFileError(
                f"{label}: convolve needs a target shape of static positive sizes after the batch "
                f"axis, with at most one -1. Received: shape {entries} for input {x.shape}"
            )
        known = None not in x.shape[1:]
        if x.ndim > 2 and len(rest) == 1 and (rest[0] == -1 or (known and rest[0] == math.prod(x.shape[1:]))):
            return [self._flatten(node, label, x)]
        return [self.make(node, label, L.Reshape, x, target_shape=tuple(rest), nonneg=x.nonneg)]

    def _axes(self, label, inputs, attrs):
        """Squeeze's and Unsqueeze's axes: the attribute before opset 13, the input from 13 on."""
        if self.opset < 13:
            return attrs.integers("axes")
        if len(inputs) < 2 or inputs[1] is None:
            return None
        return tuple(int(a) for a in self.const(inputs[1], label, "axes").ravel())

    def _squeeze_axes(self, label, axes, rank):
        if axes is None or any(not -rank <= a < rank for a in axes):
            raise OnnxFileError(
                f"{label}: convolve needs explicit axes in [{-rank}, {rank - 1}]. Received: {axes}"
            )
        axes = sorted({a % rank for a in axes})
        if 0 in axes:
            raise OnnxFileError(f"{label}: the batch axis (0) must stay. Received: axes={axes}")
        return axes

    def _reshaped(self, node, label, x, shape):
        if sum(d is None for d in shape[1:]) > 1:
            raise OnnxFileError(f"{label}: convolve reshapes with at most one size known only at run time. "
                                f"Received: result shape {shape}")
        return [self.make(node, label, L.Reshape, x, nonneg=x.nonneg,
                          target_shape=tuple(-1 if d is None else d for d in shape[1:]))]

    def _map_Squeeze(self, node, label, inputs):
        attrs = Attributes(node, label, ("axes",))
        x = self.sym(inputs[0], label)
        axes = self._squeeze_axes(label, self._axes(label, inputs, attrs), x.ndim)
        if any(x.shape[a] != 1 for a in axes):
            raise OnnxFileError(
                f"{label}: every squeezed axis must have size 1. Received: axes={axes}, {x.shape}"
            )
        return self._reshaped(node, label, x, [d for a, d in enumerate(x.shape) if a not in axes])

    def _map_Unsqueeze(self, node, label, inputs):
        attrs = Attributes(node, label, ("axes",))
        x = self.sym(inputs[0], label)
        axes = self._axes(label, inputs, attrs)
        axes = self._squeeze_axes(label, axes, x.ndim + len(axes or ()))
        shape = list(x.shape)
        for a in axes:
            shape.insert(a, 1)
        return self._reshaped(node, label, x, shape)

    # ---- dense -------------------------------------------------------------------------------------
    def _dense(self, node, label, x, kernel, bias):
        if x.flat is not None:  # after a channels_first Flatten: rows in (*spatial, C) order
            if kernel.shape[0] != math.prod(x.flat):
                raise OnnxFileError(f"{label}: its weight has {kernel.shape[0]} rows for {math.prod(x.flat)} "
                                    f"features (flattened {x.flat}). Received: shape {kernel.shape}")
            kernel = kernel[np.moveaxis(np.arange(kernel.shape[0]).reshape(x.flat), 0, -1).ravel()]
        weights = [kernel] + ([bias] if bias is not None else [])
        return self.make(node, label, L.Dense, x, weights, units=kernel.shape[1], use_bias=bias is not None)

    def _map_Gemm(self, node, label, inputs):
        attrs = Attributes(node, label, ("alpha", "beta", "transA", "transB"))
        x = self.sym(inputs[0], label, "A")
        if attrs.flag("transA", 0) or x.ndim != 2:
            raise OnnxFileError(
                f"{label}: convolve imports Gemm as Dense on (batch, features) with transA=0. "
                f"Received: transA={attrs.flag('transA', 0)}, A of shape {x.shape}"
            )
        b = self.weight(inputs[1] if len(inputs) > 1 else None, label, "B")
        if b.ndim != 2:
            raise OnnxFileError(f"{label}: B must be a matrix. Received: shape {b.shape}")
        alpha, beta = attrs.number("alpha", 1.0), attrs.number("beta", 1.0)
        if not (math.isfinite(alpha) and math.isfinite(beta)):
            raise OnnxFileError(
                f"{label}: alpha and beta must be finite. Received: alpha={alpha}, beta={beta}"
            )
        kernel = (b.T if attrs.flag("transB", 0) else b) * np.asarray(alpha, b.dtype)
        c = self.const(inputs[2] if len(inputs) > 2 else None, label, "C", required=False)
        bias = None
        if c is not None:
            units = kernel.shape[1]
            if c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1) or c.shape[-1:] not in ((), (1,), (units,)):
                raise OnnxFileError(f"{label}: C must broadcast to ({units},) for every sample. "
                                    f"Received: shape {c.shape}")
            bias = np.broadcast_to(c.astype(self.dtype).reshape(-1), (units,)) * np.asarray(beta, self.dtype)
        return [self._dense(node, label, x, kernel, bias)]

    def _map_MatMul(self, node, label, inputs):
        Attributes(node, label)
        x = self.sym(inputs[0], label, "A (convolve imports MatMul of a computed A by a constant B)")
        b = self.weight(inputs[1], label, "B")
        if b.ndim != 2 or x.shape[-1] != b.shape[0]:
            raise OnnxFileError(
                f"{label}: B must be a ({x.shape[-1]}, units) matrix. Received: shape {b.shape}"
            )
        bias = self._fused_bias(node, b.shape[1])
        return [self._dense(node, label, x, b, bias)]

    def _fused_bias(self, node, units):
        """The bias of an Add that alone reads a MatMul's output (marked fused), or None."""
        name = node.output[0]
        readers = self.consumers.get(name, [])
        if len(readers) != 1 or name in self.outputs:
            return None
        index, position = readers[0]
        add = self.nodes[index]
        other = (
            self.values.get(add.input[1 - position]) if add.op_type == "Add" and len(add.input) == 2 else None
        )
        if not isinstance(other, np.ndarray) or has_dims(other) or other.dtype.kind != "f" \
                or other.shape[-1:] not in ((), (1,), (units,)) or any(d != 1 for d in other.shape[:-1]):
            return None
        self.fused[index] = {add.output[0]: name}  # resolved below, once this node's value exists
        return np.broadcast_to(other.astype(self.dtype).reshape(-1), (units,))

    # ---- elementwise -------------------------------------------------------------------------------
    def _merge(self, node, label, a, b, cls):
        if a.ndim != b.ndim:
            raise OnnxFileError(
                f"{label}: convolve merges tensors of one rank (ONNX aligns ranks at the end, "
                f"convolve after the batch axis). Received: shapes {a.shape} and {b.shape}"
            )
        return [self.make(node, label, cls, [a, b], nonneg=a.nonneg and b.nonneg and cls is not L.Subtract)]

    def _with_constant(self, node, label, x, c, scale, offset):
        """x * scale + offset (one of them the constant ``c``) as a Rescaling layer."""
        if not _per_sample(c, x):
            raise OnnxFileError(f"{label}: the constant must broadcast to every sample without changing its "
                                f"shape. Received: constant of shape {c.shape}, input of shape {x.shape}")
        return [self.make(node, label, L.Rescaling, x, scale=_compact(scale), offset=_compact(offset))]

    def _fused_offset(self, node, x):
        """The constant of an Add that alone reads this Mul's output (then marked fused), or None:
        Mul then Add is one Rescaling(scale, offset), which computes x * scale, then + offset, in
        the model's float type, as ONNX does."""
        name = node.output[0]
        readers = self.consumers.get(name, [])
        if len(readers) != 1 or name in self.outputs:
            return None
        index, position = readers[0]
        add = self.nodes[index]
        if add.op_type != "Add" or len(add.input) != 2 or len(add.attribute):
            return None
        other = self.values.get(add.input[1 - position])
        if not isinstance(other, np.ndarray) or has_dims(other) or other.dtype.kind != "f" \
                or not _per_sample(other, x):
            return None
        self.fused[index] = {add.output[0]: name}  # resolved when the Add is visited
        return other.astype(np.float64)

    def _elementwise(self, node, label, inputs, op):
        Attributes(node, label)
        a, b = inputs[:2] if len(inputs) == 2 else (None, None)
        if isinstance(a, Sym) and isinstance(b, Sym):
            if op == "Div":
                raise OnnxFileError(f"{label}: convolve has no layer dividing two computed tensors. "
                                    "Received: Div of two computed tensors")
            return self._merge(node, label, a, b, {"Add": L.Add, "Sub": L.Subtract, "Mul": L.Multiply}[op])
        x, c, swapped = (a, b, False) if isinstance(a, Sym) else (b, a, True)
        x = self.sym(x, label)
        c = self.const(c, label, "the other input").astype(np.float64)
        if op == "Add":
            return self._with_constant(node, label, x, c, 1.0, c)
        if op == "Sub":
            return self._with_constant(node, label, x, c, -1.0 if swapped else 1.0, c if swapped else -c)
        if op == "Mul":
            offset = self._fused_offset(node, x)
            return self._with_constant(node, label, x, c, c, 0.0 if offset is None else offset)
        if swapped or np.any(c == 0):
            raise OnnxFileError(
                f"{label}: convolve divides a computed tensor by a non-zero constant only. "
                f"Received: {'a constant divided by a tensor' if swapped else 'a zero divisor'}"
            )
        return self._with_constant(node, label, x, c, 1.0 / c, 0.0)

    def _map_Add(self, node, label, inputs):
        return self._elementwise(node, label, inputs, "Add")

    def _map_Sub(self, node, label, inputs):
        return self._elementwise(node, label, inputs, "Sub")

    def _map_Mul(self, node, label, inputs):
        return self._elementwise(node, label, inputs, "Mul")

    def _map_Div(self, node, label, inputs):
        return self._elementwise(node, label, inputs, "Div")

    def _map_Max(self, node, label, inputs):
        return self._extreme(node, label, inputs, L.Maximum)

    def _map_Min(self, node, label, inputs):
        return self._extreme(node, label, inputs, L.Minimum)

    def _extreme(self, node, label, inputs, cls):
        """Max or Min of computed tensors of one rank: Maximum or Minimum (one input: itself)."""
        Attributes(node, label)
        xs = [self.sym(v, label, "every input (convolve's Maximum and Minimum merge computed tensors)")
              for v in inputs if v is not None]
        if len(xs) == 1:
            return [xs[0]]
        if len({x.ndim for x in xs}) != 1:
            raise OnnxFileError(
                f"{label}: convolve merges tensors of one rank (ONNX aligns ranks at the end, convolve after "
                f"the batch axis). Received: shapes {[x.shape for x in xs]}"
            )
        nonneg = any(x.nonneg for x in xs) if cls is L.Maximum else all(x.nonneg for x in xs)
        return [self.make(node, label, cls, xs, nonneg=nonneg)]

    def _map_Neg(self, node, label, inputs):
        Attributes(node, label)
        x = self.sym(inputs[0], label)
        return [self.make(node, label, L.Rescaling, x, scale=-1.0)]

    def _map_Concat(self, node, label, inputs):
        axis = Attributes(node, label, ("axis",)).integer("axis")
        xs = [self.sym(v, label, "every input") for v in inputs if v is not None]
        rank = xs[0].ndim
        if axis is None or not -rank <= axis < rank or axis % rank == 0 or any(x.ndim != rank for x in xs):
            raise OnnxFileError(f"{label}: convolve concatenates inputs of one rank along a non-batch axis. "
                                f"Received: axis={axis}, shapes {[x.shape for x in xs]}")
        return [self.make(node, label, L.Concatenate, xs, axis=axis % rank, nonneg=all(x.nonneg for x in xs))]

    # ---- dropout, identity, cast -------------------------------------------------------------------
    def _map_Dropout(self, node, label, inputs):
        attrs = Attributes(node, label, ("ratio", "seed", "is_test"))
        x = self.sym(inputs[0], label)
        if self.opset < 12:
            ratio, training = attrs.number("ratio", 0.5), False
        else:
            ratio = self.scalar(inputs[1] if len(inputs) > 1 else None, label, "ratio", 0.5)
            training = self.scalar(inputs[2] if len(inputs) > 2 else None, label, "training_mode", False)
        if training or not 0 <= ratio < 1:
            raise OnnxFileError(f"{label}: convolve imports inference Dropout with 0 <= ratio < 1. "
                                f"Received: ratio={ratio}, training_mode={training}")
        return [self.make(node, label, L.Dropout, x, rate=float(ratio), nonneg=x.nonneg, flat=x.flat)]

    def _map_Identity(self, node, label, inputs):
        Attributes(node, label)
        return [inputs[0]]

    def _map_Cast(self, node, label, inputs):
        to = Attributes(node, label, ("to", "saturate", "round_mode")).integer("to")
        x = self.sym(inputs[0], label)
        if {1: "float32", 11: "float64"}.get(to) != self.dtype:
            raise OnnxFileError(f"{label}: convolve's layers compute in {self.dtype} throughout; a cast of a "
                                f"computed tensor to another type cannot be imported. Received: to={to}")
        return [x]
