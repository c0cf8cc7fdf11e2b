"""ONNX import, part 3: walking the graph, from initializers and inputs to a functional Model.

The graph's nodes are visited once, in the file's order (ONNX requires a topological order; a
node that reads a value nothing earlier defined is refused, so a truncated or shuffled graph
cannot loop). Every value is one of

* a NumPy array: an initializer, a ``Constant``, or the result of folding
  (``onnx_import_fold.py``); object arrays hold sizes known only when the model runs;
* a :class:`Sym`: a tensor the layers compute (a ``KerasTensor``), with two facts the mappings
  use: whether it is known to be non-negative (after Relu, Sigmoid, ...: max pooling may then
  pad with zeros) and, after a channels_first Flatten, the shape it flattened (the next Dense
  permutes its kernel rows to match);
* a :class:`PendingPad`: a reflect/edge/wrap ``Pad`` that only a following ``Conv`` can
  absorb, as its ``padding_mode``.

A node whose inputs are all arrays is folded; any other is mapped to layers
(``onnx_import_layers.py``). Layers are built with declared weights only
(``layers.base.declared_weights_only``): each layer's declared weights are compared with the
arrays taken from the file, count and shapes, and only then assigned.
"""
from __future__ import annotations

import re

import numpy as np

from .. import layers as L
from ..layers.base import Input, declared_weights_only
from .onnx_import_dense import MAPPED as DENSE_MAPPED
from .onnx_import_dense import DenseMappings
from .onnx_import_fold import ATTRIBUTES, FOLD_ONLY, Folder, has_dims, settled, shape_vector
from .onnx_import_layers import MAPPED as LAYER_MAPPED
from .onnx_import_layers import LayerMappings
from .onnx_import_shapes import KEEPS_LAYOUT, ShapeMappings, source_config
from .onnx_import_shapes import MAPPED as SHAPE_MAPPED
from .onnx_import_tensors import (
    Attributes,
    OnnxFileError,
    PendingPad,
    Permuted,
    Sym,
    node_label,
    sanitize_name,
    tensor_array,
    type_name,
)
from .registry import model_classes

#: operators mapped to layers
MAPPED = LAYER_MAPPED + DENSE_MAPPED + SHAPE_MAPPED
#: every operator the importer knows, folded or mapped to layers
SUPPORTED = frozenset(MAPPED) | frozenset(ATTRIBUTES) | FOLD_ONLY
#: the ONNX domains of the standard operators
DEFAULT_DOMAINS = ("", "ai.onnx")
#: what building a layer may raise; each becomes an error naming the node
_BUILD_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError)
#: all folded constants together may hold this many times ``limit`` values
FOLD_BUDGET = 4
#: ONNX elem_type -> the dtype of the model's layers
INPUT_DTYPES = {1: "float32", 11: "float64"}


def _snake(op: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", op).lower()


class _LayerNames:
    """Layer names from ONNX names (sanitised), else from the operator; each unique in the model."""

    def __init__(self):
        self.used = set()

    def take(self, raw: str, op: str, suffix: str = "") -> str:
        base = (sanitize_name(raw) or _snake(op)) + suffix
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name


class GraphBuilder(LayerMappings, DenseMappings, ShapeMappings):
    """``GraphBuilder(model_proto, opset, limit).build()``: the functional Model of a parsed file.

    ``limit`` bounds the element count of every folded constant. Every problem raises
    ``OnnxFileError`` (a ValueError) saying which node or value and what was expected;
    ``onnx_format.load_model`` adds the file's path."""

    def __init__(self, model_proto, opset: int, limit: int):
        self.graph = model_proto.graph
        self.opset = opset
        self.limit = limit
        self.values = {}
        self.names = _LayerNames()
        self.assignments = []  # (layer, label, [arrays]) in the order the layers were made
        self.fused = {}  # index of a node absorbed by an earlier one -> {its output: value}
        self.dtype = "float32"
        self.static_batch = None  # the batch size the graph declares, when it declares one
        self.folded = 0  # values made by folding so far

    # ---- the pass ------------------------------------------------------------------------------
    def build(self):
        graph = self.graph
        self.outputs = [o.name for o in graph.output]
        if not self.outputs:
            raise OnnxFileError(
                "its graph has no outputs (an empty or truncated file?); a model needs at least one. "
                f"Received: a graph of {len(graph.node)} nodes and 0 outputs"
            )
        self._read_initializers()
        nodes = self._live_nodes()
        self._check_operators(nodes)
        self.nodes = dict(nodes)
        self.consumers = {}
        for index, node in nodes:
            for position, name in enumerate(node.input):
                if name:
                    self.consumers.setdefault(name, []).append((index, position))
        with declared_weights_only():
            inputs = self._read_inputs()
            for index, node in nodes:
                self._visit(index, node)
            model = self._model(inputs)
        self._assign_weights()
        return model

    def _read_initializers(self) -> None:
        if len(self.graph.sparse_initializer):
            raise OnnxFileError(
                "its graph has sparse initializers, which convolve does not read. "
                f"Received: {len(self.graph.sparse_initializer)} sparse initializers"
            )
        for tensor in self.graph.initializer:
            if not tensor.name:
                raise OnnxFileError(
                    f"every initializer needs a name. Received: an unnamed one of dims {list(tensor.dims)}"
                )
            if tensor.name in self.values:
                raise OnnxFileError(f"initializer names must be unique. Received: two named {tensor.name!r}")
            self.values[tensor.name] = tensor_array(tensor, f"initializer {tensor.name!r}")

    def _live_nodes(self) -> list:
        """[(index, node)] of the nodes the outputs depend on, in file order; each value they read
        must be defined earlier (a graph input, an initializer or an earlier node's output)."""
        nodes = list(self.graph.node)
        defined = set(self.values) | {i.name for i in self.graph.input}
        producer = {}
        for index, node in enumerate(nodes):
            for name in node.input:
                if name and name not in defined:
                    raise OnnxFileError(
                        f"{node_label(node, index)} reads {name!r}, which no graph input, initializer or "
                        "earlier node defines (a truncated file, or nodes not in topological order). "
                        f"Received: inputs {list(node.input)}"
                    )
            for name in node.output:
                if name in defined:
                    raise OnnxFileError(
                        f"{node_label(node, index)} writes {name!r}, which is already defined; every value "
                        f"is "
                        f"written once. Received: outputs {list(node.output)}"
                    )
                if name:
                    defined.add(name)
                    producer[name] = index
        for name in self.outputs:
            if name not in defined:
                raise OnnxFileError(
                    f"graph output {name!r} is not computed by any node (a truncated file?). "
                    f"Received: {len(nodes)} nodes, none writing it"
                )
        live, stack = set(), [producer[n] for n in self.outputs if n in producer]
        while stack:
            index = stack.pop()
            if index in live:
                continue
            live.add(index)
            stack.extend(producer[n] for n in nodes[index].input if n in producer)
        return [(index, nodes[index]) for index in sorted(live)]

    def _check_operators(self, nodes) -> None:
        """Refuse, in one message each, nodes of unknown domains and every unsupported operator."""
        foreign = [f"{node_label(node, i)} (domain {node.domain!r})"
                   for i, node in nodes if node.domain not in DEFAULT_DOMAINS]
        if foreign:
            raise OnnxFileError(
                f"it uses operators outside the standard ONNX domain ('' or 'ai.onnx'), which convolve "
                f"cannot "
                f"import. Received: {', '.join(foreign[:10])}{' ...' if len(foreign) > 10 else ''}"
            )
        unsupported = {}
        for i, node in nodes:
            if node.op_type not in SUPPORTED:
                unsupported.setdefault(node.op_type, []).append(node.name or f"#{i}")
        if unsupported:
            listing = "; ".join(
                f"{op} ({len(names)} node{'s' if len(names) > 1 else ''}: {', '.join(map(repr, names[:3]))}"
                f"{' ...' if len(names) > 3 else ''})"
                for op, names in sorted(unsupported.items())
            )
            raise OnnxFileError(
                f"convolve cannot import these operators: {', '.join(sorted(unsupported))}. "
                f"It maps {', '.join(sorted(MAPPED))} to layers and folds "
                f"{', '.join(sorted(set(ATTRIBUTES) | FOLD_ONLY - set(MAPPED)))} on constants. Received: "
                f"{listing}"
            )

    def _read_inputs(self) -> list:
        """One Input per graph input that is not an initializer: its shape without the batch axis."""
        inputs = []
        for value in self.graph.input:
            if value.name in self.values:
                continue  # an initializer listed as an input (IR < 4): a constant
            what = f"graph input {value.name!r}"
            if value.type.WhichOneof("value") != "tensor_type":
                raise OnnxFileError(f"{what} must be a tensor. Received: {value.type.WhichOneof('value')}")
            kind = value.type.tensor_type
            if kind.elem_type not in INPUT_DTYPES:
                raise OnnxFileError(
                    f"{what} must be FLOAT or DOUBLE (convolve models compute in float32 or float64). "
                    f"Received: {type_name(kind.elem_type)}"
                )
            if not kind.HasField("shape"):
                raise OnnxFileError(
                    f"{what} has no shape; convolve needs its rank and channel count. Received: a tensor of "
                    "unknown rank"
                )
            dims = []
            for axis, dim in enumerate(kind.shape.dim):
                if dim.HasField("dim_value"):
                    if dim.dim_value < 1:
                        raise OnnxFileError(
                            f"{what}: axis {axis} must have a positive size. Received: {dim.dim_value}"
                        )
                    dims.append(int(dim.dim_value))
                else:
                    dims.append(None)  # a dim_param or nothing: known only when the model runs
            if len(dims) < 2:
                raise OnnxFileError(
                    f"{what} must have a batch axis and at least one more. Received: shape {dims}"
                )
            if inputs and INPUT_DTYPES[kind.elem_type] != self.dtype:
                raise OnnxFileError(
                    f"{what}: every input must have the same float type ({self.dtype}). "
                    f"Received: {INPUT_DTYPES[kind.elem_type]}"
                )
            self.dtype = INPUT_DTYPES[kind.elem_type]
            self.static_batch = dims[0]
            tensor = Input(shape=tuple(dims[1:]), dtype=self.dtype, name=self.names.take(value.name, "input"))
            self.values[value.name] = Sym(tensor)
            inputs.append(tensor)
        if not inputs:
            raise OnnxFileError(
                "its graph has no inputs besides initializers; a model needs an input. "
                f"Received: inputs {[v.name for v in self.graph.input]}"
            )
        return inputs

    # ---- one node ------------------------------------------------------------------------------
    def _visit(self, index: int, node) -> None:
        label = node_label(node, index)
        if index in self.fused:  # an Add taken in by the MatMul before it (its Dense's bias)
            for name, source in self.fused[index].items():
                self.values[name] = self.values[source]
            return
        inputs = [self.values[name] if name else None for name in node.input]
        op = node.op_type
        if op in ("Shape", "Size") and inputs and isinstance(inputs[0], (Sym, np.ndarray)):
            outputs = self._shape(node, label, inputs[0])
        elif op in ATTRIBUTES and all(v is None or isinstance(v, np.ndarray) for v in inputs) \
                and (inputs or op == "Constant"):
            outputs = self._fold(node, label, inputs)
        elif op in FOLD_ONLY:
            computed = [
                node.input[i] for i, v in enumerate(inputs) if not isinstance(v, np.ndarray) and v is not None
            ]
            raise OnnxFileError(
                f"{label}: convolve folds {op} only over constants and static shapes, and has no layer for "
                f"it. "
                f"Received: {computed}, computed by layers from the model's input"
            )
        else:
            try:
                outputs = getattr(self, f"_map_{op}")(node, label, inputs)
            except OnnxFileError:
                raise
            except _BUILD_ERRORS as error:
                raise OnnxFileError(f"{label}: convolve's layers refused it. Received: {error}") from None
        self._store(node, label, outputs)

    def _fold(self, node, label, inputs) -> list:
        folder = Folder(label, Attributes(node, label, ATTRIBUTES[node.op_type]), self.opset, self.limit)
        try:
            outputs = folder.fold(node.op_type, inputs)
        except OnnxFileError:
            raise
        except _BUILD_ERRORS as error:  # NumPy's own complaint about the values
            raise OnnxFileError(
                f"{label}: its constant inputs could not be folded. Received: {error}"
            ) from None
        self.folded += sum(out.size for out in outputs)
        if self.folded > FOLD_BUDGET * self.limit:
            raise OnnxFileError(
                f"{label}: folding the graph's constants would make more than {FOLD_BUDGET * self.limit:,} "
                f"values "
                f"in all ({FOLD_BUDGET}x the file's size); convolve stops here. Received: {self.folded:,} "
                f"values"
            )
        return outputs

    def _store(self, node, label, outputs) -> None:
        for k, name in enumerate(node.output):
            if not name:
                continue
            if k < len(outputs):
                self.values[name] = outputs[k]
            elif name in self.consumers or name in self.outputs:
                raise OnnxFileError(
                    f"{label}: convolve computes only the first {len(outputs)} output(s) of {node.op_type}. "
                    f"Received: its output {k} ({name!r}) in use"
                )

    def _shape(self, node, label, x) -> list:
        attrs = Attributes(node, label, ("start", "end") if node.op_type == "Shape" else ())
        if isinstance(x, Sym):
            vector = shape_vector(x.shape, node.input[0])
        else:
            vector = np.array(x.shape, dtype=np.int64)
        if node.op_type == "Size":
            total = np.array(1, dtype=object if has_dims(vector) else np.int64)
            for d in vector:
                total = total * d
            return [np.asarray(total)]
        rank = len(vector)
        start, end = attrs.integer("start", 0), attrs.integer("end", rank)
        start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (start, end))
        return [settled(vector[start:end])]

    # ---- building layers --------------------------------------------------------------------------
    def make(self, node, label, cls, inputs, weights=(), suffix="", nonneg=False, flat=None, **config) -> Sym:
        """A layer of ``cls`` named after ``node`` (plus ``suffix``), called on ``inputs`` (a Sym or a
        list of them); ``weights`` are the arrays it must declare, assigned once the model is built.

        Permuted inputs (Transposes not yet layers): the layer reads their source where
        ``onnx_import_shapes.source_config`` says how, and its output is then Permuted the same
        way; otherwise each becomes a Permute layer first."""
        items = inputs if isinstance(inputs, list) else [inputs]
        view = None
        if any(isinstance(v, Permuted) for v in items):
            moved = source_config(cls, items, config)
            if moved is None:
                items = [self.materialize(v) for v in items]
            else:
                view, config, items = items[0], moved, [v.source for v in items]
        name = self.names.take(node.name, node.op_type, suffix)
        layer = cls(name=name, dtype=self.dtype, **config)
        output = layer([s.tensor for s in items] if isinstance(inputs, list) else items[0].tensor)
        self.assignments.append((layer, label, [np.asarray(w) for w in weights]))
        layout = config.get("data_format", items[0].layout if issubclass(cls, KEEPS_LAYOUT) else None)
        out = Sym(output, nonneg=nonneg, flat=flat, layout=layout if len(output.shape) > 2 else None)
        if view is not None and len(output.shape) == view.ndim:
            return Permuted(out, view.perm, view.node, view.label)
        return out

    def materialize(self, value):
        """``value`` as a tensor of the model: a Permuted value becomes its Permute layer (once)."""
        if not isinstance(value, Permuted):
            return value
        if value.made is None:
            value.made = self.make(value.node, value.label, L.Permute, value.source, dims=value.perm[1:],
                                   nonneg=value.nonneg)
            value.made.layout = value.layout
        return value.made

    def _model(self, inputs):
        outputs = []
        for name in self.outputs:
            value = self.values[name]
            if isinstance(value, PendingPad):
                self.sym(value, f"graph output {name!r}")
            if not isinstance(value, Sym):
                raise OnnxFileError(
                    f"graph output {name!r}: convolve models compute every output from their inputs. "
                    "Received: a constant"
                )
            outputs.append(self.materialize(value).tensor)
        cls = model_classes().get("Model")
        if cls is None:  # registered when convolve.models is imported, which `import convolve` does
            raise OnnxFileError(
                "convolve.models is not loaded; import convolve first. Received: no 'Model' class"
            )
        name = sanitize_name(self.graph.name) or "onnx_model"
        return cls(
            inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs, name=name
        )

    def _assign_weights(self) -> None:
        """Each layer's declared weights against the arrays from the file (count and shapes),
        all before any is assigned."""
        for layer, label, arrays in self.assignments:
            declared = [tuple(v.shape) for v in layer.weights]
            held = [tuple(a.shape) for a in arrays]
            if declared != held:
                raise OnnxFileError(
                    f"{label}: layer {layer.where} declares weights of shapes {declared}. "
                    f"Received: the file's tensors give {held}"
                )
        for layer, label, arrays in self.assignments:
            for var, array in zip(layer.weights, arrays):
                var.assign(array, where=label)
