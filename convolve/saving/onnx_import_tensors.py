"""ONNX import, part 1: tensors and attributes read from a parsed file, checked before use.

A file is untrusted input (docs/design.md, "Model files"): nothing here allocates what a tensor
*declares* before comparing it with what the tensor *holds*. ``onnx.numpy_helper.to_array``
allocates the declared size first, so it is not used; :func:`tensor_array` checks the dims, the
data type and the byte count (raw data) or value count (typed fields) and only then builds the
array from the bytes that are there. A tensor whose data lives in another file (external data)
is refused: a model file never makes convolve open a path it names.

The protobuf objects come from ``onnx.load_from_string`` in ``onnx_format.py``; this module
needs only their fields, so it imports nothing from onnx (the enum values are written out).
"""
from __future__ import annotations

import math
import re

import numpy as np

#: TensorProto.DataType -> (NumPy dtype, the typed field holding the values without raw_data)
DATA_TYPES = {
    1: (np.dtype("<f4"), "float_data"),
    2: (np.dtype("u1"), "int32_data"),
    3: (np.dtype("i1"), "int32_data"),
    4: (np.dtype("<u2"), "int32_data"),
    5: (np.dtype("<i2"), "int32_data"),
    6: (np.dtype("<i4"), "int32_data"),
    7: (np.dtype("<i8"), "int64_data"),
    9: (np.dtype("?"), "int32_data"),
    10: (np.dtype("<f2"), "int32_data"),  # float16 values stored as their 16-bit patterns
    11: (np.dtype("<f8"), "double_data"),
    12: (np.dtype("<u4"), "uint64_data"),
    13: (np.dtype("<u8"), "uint64_data"),
}
#: names of every TensorProto.DataType, for messages
TYPE_NAMES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
    8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
    15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
    20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
}
_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
#: TensorProto.DataLocation.EXTERNAL
_EXTERNAL = 1

#: AttributeProto.AttributeType values and their names
ATTRIBUTE_TYPES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "INT", 3: "STRING", 4: "TENSOR", 5: "GRAPH", 6: "FLOATS", 7: "INTS",
    8: "STRINGS", 9: "TENSORS", 10: "GRAPHS", 11: "SPARSE_TENSOR", 12: "SPARSE_TENSORS", 13: "TYPE_PROTO",
    14: "TYPE_PROTOS",
}
_ATTRIBUTE_CODES = {name: code for code, name in ATTRIBUTE_TYPES.items()}


class OnnxFileError(ValueError):
    """A problem with the file; ``onnx_format`` prefixes ``Cannot load '<path>': ``."""


def type_name(code: int) -> str:
    return TYPE_NAMES.get(code, f"type {code}")


# ---- the values a graph carries besides arrays ----------------------------------------


class Sym:
    """A tensor the layers compute: its KerasTensor, and what the mappings know about it."""

    __slots__ = ("tensor", "nonneg", "flat", "layout")

    def __init__(self, tensor, nonneg=False, flat=None, layout=None):
        self.tensor = tensor
        self.nonneg = nonneg  # every value >= 0 (after Relu, Sigmoid, Softmax, Clip(0, m))
        self.flat = flat  # (C, *spatial) for a channels_first Flatten's output, else None
        self.layout = layout  # 'channels_first'/'channels_last' when a layer made it so, else None

    @property
    def shape(self) -> tuple:
        return self.tensor.shape

    @property
    def ndim(self) -> int:
        return len(self.shape)


def moved_first(ndim) -> tuple:
    """Transpose's perm from (batch, *spatial, channels) to (batch, channels, *spatial)."""
    return (0, ndim - 1, *range(1, ndim - 1))


def moved_last(ndim) -> tuple:
    """Transpose's perm from (batch, channels, *spatial) to (batch, *spatial, channels)."""
    return (0, *range(2, ndim), 1)


class Permuted(Sym):
    """A Transpose of a computed tensor that is not a layer yet: ``source`` (a Sym, never another
    Permuted) read with its axes in ``perm`` order (ONNX's: axis i is source axis perm[i], and 0
    stays first). ``shape`` is the transposed shape, so the mappings check it as any input.
    ``GraphBuilder.make`` builds a layer on ``source`` itself where the layer can read it in its
    own order (a channels_first layer on channels_last data moved channels first is the
    channels_last layer; an elementwise layer any order), and otherwise makes the Permute layer
    first (``made``, once), from the Transpose node ``node``."""

    __slots__ = ("source", "perm", "node", "label", "made")

    def __init__(self, source: Sym, perm, node, label: str):
        super().__init__(None, nonneg=source.nonneg)
        self.source, self.perm, self.node, self.label, self.made = source, tuple(perm), node, label, None
        ndim = len(self.perm)
        first, last = self.perm == moved_first(ndim), self.perm == moved_last(ndim)
        if first and last:  # rank 3: (0, 2, 1) swaps the layouts
            self.layout = "channels_last" if source.layout == "channels_first" else "channels_first"
        else:
            self.layout = "channels_first" if first else "channels_last" if last else None

    @property
    def shape(self) -> tuple:
        shape = self.source.shape
        return tuple(shape[a] for a in self.perm)


class PendingPad:
    """A reflect/edge/wrap Pad, waiting for the Conv that reads it to take it as padding_mode."""

    __slots__ = ("source", "pads", "mode", "label")

    def __init__(self, source: Sym, pads, mode: str, label: str):
        self.source, self.pads, self.mode, self.label = source, pads, mode, label


# ---- nodes: how messages name them ----------------------------------------------------------------


def node_label(node, index: int) -> str:
    """How messages name a node: ``Conv node '/c1/Conv'``, or ``Conv node #3`` when it has no name."""
    return f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node #{index}"


_INVALID = re.compile(r"[^A-Za-z0-9_]+")
MAX_NAME_CHARS = 96


def sanitize_name(raw: str) -> str:
    """A layer name from an ONNX name: path parts joined by '_' ('/layer1/layer1.0/conv1/Conv' ->
    'layer1_0_conv1_Conv': a part that the next one starts with is dropped), characters other than
    letters, digits and '_' replaced by '_'; '' when nothing usable is left."""
    parts = [p for p in raw.split("/") if p]
    kept = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and parts[i + 1].startswith(p))]
    name = _INVALID.sub("_", "_".join(kept)).strip("_")[:MAX_NAME_CHARS].strip("_")
    return name if name[:1].isalpha() else ""


# ---- tensors ---------------------------------------------------------------------------------------


def _dims(tensor, what: str) -> tuple:
    dims = tuple(int(d) for d in tensor.dims)
    if any(d < 0 for d in dims):
        raise OnnxFileError(f"{what} has a negative dimension. Received: dims={list(dims)}")
    return dims


def tensor_array(tensor, what: str) -> np.ndarray:
    """The NumPy array a TensorProto holds, after every check: known data type, no external data,
    and the data present (bytes or values) exactly what the dims declare. ``what`` names the
    tensor in messages ("initializer 'conv.weight'")."""
    if tensor.data_location == _EXTERNAL or len(tensor.external_data):
        location = next((e.value for e in tensor.external_data if e.key == "location"), "?")
        raise OnnxFileError(
            f"{what} keeps its data in another file (external data, location {location!r}); convolve never "
            "opens a path named inside a model file. Export with the weights inside the file "
            "(e.g. onnx.save_model(model, path, save_as_external_data=False)). "
            f"Received: data_location=EXTERNAL"
        )
    if tensor.HasField("segment"):
        raise OnnxFileError(
            f"{what} is one segment of a split tensor, which convolve does not read. "
            f"Received: segment {tensor.segment.begin}..{tensor.segment.end}"
        )
    if tensor.data_type not in DATA_TYPES:
        raise OnnxFileError(
            f"{what} has data type {type_name(tensor.data_type)}; convolve reads "
            f"{', '.join(type_name(t) for t in DATA_TYPES)}. Received: data_type={tensor.data_type}"
        )
    dtype, field = DATA_TYPES[tensor.data_type]
    dims = _dims(tensor, what)
    count = math.prod(dims)  # a Python int: no overflow, nothing allocated
    typed = [name for name in _TYPED_FIELDS if len(getattr(tensor, name))]
    if tensor.HasField("raw_data"):
        if typed:
            raise OnnxFileError(
                f"{what} holds both raw_data and {typed[0]}; a tensor keeps its values in one of them. "
                f"Received: {len(tensor.raw_data):,} bytes and {len(getattr(tensor, typed[0])):,} values"
            )
        raw = tensor.raw_data
        expected = count * dtype.itemsize
        if len(raw) != expected:
            raise OnnxFileError(
                f"{what} declares dims {list(dims)} of {type_name(tensor.data_type)} ({count:,} values, "
                f"{expected:,} bytes). Received: {len(raw):,} bytes of raw data"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))
    values = getattr(tensor, field)
    if [name for name in typed if name != field]:
        raise OnnxFileError(
            f"{what} is {type_name(tensor.data_type)}, so its values belong in raw_data or {field}. "
            f"Received: values in {[name for name in typed if name != field][0]}"
        )
    if len(values) != count:
        raise OnnxFileError(
            f"{what} declares dims {list(dims)} ({count:,} values). Received: {len(values):,} values in "
            f"{field}"
        )
    if tensor.data_type == 10:  # float16 bit patterns in int32_data
        return np.array(values, dtype=np.uint16).view(np.float16).reshape(dims)
    return np.array(values, dtype=dtype.newbyteorder("=")).reshape(dims)


# ---- attributes -------------------------------------------------------------------------------------


class Attributes:
    """A node's attributes, read with their types checked: ``attrs.integers("pads", default)``.

    ``known`` lists what the mapping of the node reads; any other attribute on the node is an
    error (an attribute convolve does not know could change what the node computes)."""

    def __init__(self, node, label: str, known=()):
        self.label = label
        self._attrs = {}
        for attr in node.attribute:
            if attr.name in self._attrs:
                raise OnnxFileError(
                    f"{label} has the attribute {attr.name!r} twice; each attribute may appear once. "
                    f"Received: {[a.name for a in node.attribute]}"
                )
            if attr.ref_attr_name:
                raise OnnxFileError(
                    f"{label}: attribute {attr.name!r} refers to a function attribute; convolve reads only "
                    f"main graphs. Received: ref_attr_name={attr.ref_attr_name!r}"
                )
            self._attrs[attr.name] = attr
        unknown = sorted(set(self._attrs) - set(known))
        if unknown:
            raise OnnxFileError(
                f"{label} has attributes convolve does not know for this operator: {unknown}; "
                f"it knows {sorted(known) or 'none'}. Received: {sorted(self._attrs)}"
            )

    def __contains__(self, name) -> bool:
        return name in self._attrs

    def _get(self, name, kind):
        attr = self._attrs.get(name)
        if attr is None:
            return None
        if attr.type != _ATTRIBUTE_CODES[kind]:
            raise OnnxFileError(
                f"{self.label}: attribute {name!r} must be of type {kind}. "
                f"Received: type {ATTRIBUTE_TYPES.get(attr.type, attr.type)}"
            )
        return attr

    def integer(self, name, default=None):
        attr = self._get(name, "INT")
        return default if attr is None else int(attr.i)

    def flag(self, name, default=0) -> int:
        """An INT attribute that must be 0 or 1 (ceil_mode, transB, keepdims, ...)."""
        value = self.integer(name, default)
        if value not in (0, 1):
            raise OnnxFileError(f"{self.label}: attribute {name!r} must be 0 or 1. Received: {name}={value}")
        return value

    def number(self, name, default=None):
        attr = self._get(name, "FLOAT")
        return default if attr is None else float(attr.f)

    def text(self, name, default=None):
        attr = self._get(name, "STRING")
        if attr is None:
            return default
        try:
            return attr.s.decode("utf-8")
        except UnicodeDecodeError:
            raise OnnxFileError(
                f"{self.label}: attribute {name!r} is not UTF-8 text. Received: {attr.s[:40]!r}"
            ) from None

    def integers(self, name, default=None, length=None):
        attr = self._get(name, "INTS")
        if attr is None:
            return default
        values = tuple(int(v) for v in attr.ints)
        if length is not None and len(values) != length:
            raise OnnxFileError(
                f"{self.label}: attribute {name!r} must have {length} values. Received: {name}={list(values)}"
            )
        return values

    def numbers(self, name, default=None):
        attr = self._get(name, "FLOATS")
        return default if attr is None else tuple(float(v) for v in attr.floats)

    def tensor(self, name):
        attr = self._get(name, "TENSOR")
        return None if attr is None else tensor_array(attr.t, f"{self.label}: attribute {name!r}")

    def kinds(self) -> dict:
        """{name: type name} of every attribute present."""
        return {name: ATTRIBUTE_TYPES.get(a.type, str(a.type)) for name, a in self._attrs.items()}
