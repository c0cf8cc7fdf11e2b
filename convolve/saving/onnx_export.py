"""ONNX export: ``export_onnx(model, path, opset=None)``, what ``model.export(path, format="onnx")``
and ``convolve.saving.export_model`` call. ``to_onnx(model, opset=None)`` returns the
``onnx.ModelProto`` without writing it.

    model.export("model.onnx")                       # then, elsewhere:
    session = onnxruntime.InferenceSession("model.onnx")
    probabilities = session.run(None, {"input_layer": images})[0]

The graph is built with the ``onnx`` package (``onnx.helper``, ``onnx.numpy_helper``), imported
only here and only when exporting (``pip install "convolve[onnx]"``), checked with
``onnx.checker.check_model(full_check=True)`` (strict shape inference included) and written
atomically (``_files.atomic_open``).

**What the graph looks like.**

* Opset 17, or 19 when a convolution pads circularly (``padding_mode='circular'``: Pad's
  ``wrap`` mode is opset 19); ``opset=`` picks any of 17 to 21.
* Inputs and outputs are named after the model's input and output layers (a layer whose
  several calls are outputs gets ``name``, ``name_1``, ...), in the model's own layout:
  NHWC stays NHWC. Their batch axis is the symbolic dimension ``batch``; every other axis has
  the size of the model's shape (None stays unnamed and open). A float64 model exports as
  double, float16 as float16.
* Layouts: ONNX's convolutions and pooling take channels first. Every tensor of the graph is
  tracked as the model's tensor (its logical layout) plus the permutation its ONNX tensor
  holds it in; a channels_last convolution asks for its input channels first, so one
  Transpose enters a stack of convolutions, pooling, activations and normalisation, and one
  leaves it where a layer needs the model's own order (Flatten, Reshape, Dense, an output).
  Flatten after a channels_last stack thus flattens in channels_last order and Dense weights
  are used as they are. Elementwise layers, padding, cropping, upsampling, concatenation and
  per-channel constants work in whatever order their input is held.
* ``model.class_names`` (set by ``convolve train``, kept by convolve's model files), when the
  model has them, is the ``metadata_props`` entry ``convolve_class_names``: a JSON list of
  strings, checked as ``native.py`` checks its own; ``load_model`` of the ``.onnx`` file sets
  ``model.class_names`` from it.
* Padding is always explicit: 'same' (TensorFlow's split, the odd pixel after), 'full',
  'causal', ints and (before, after) pairs become the ``pads`` of Conv/MaxPool/AveragePool,
  never ``auto_pad``; a ``padding_mode`` other than zeros becomes a Pad node (reflect, edge,
  wrap) before a Conv without pads (a Gather of precomputed indices where the pad is wider
  than ONNX's Pad allows: NumPy's rule, which convolve follows, keeps reflecting).

The ops each layer becomes are listed in ``onnx_export_layers.py``,
``onnx_export_activations.py`` and ``onnx_export_image.py``; ``onnx_export_graph.py`` holds the
graph under construction and the layout bookkeeping.

A layer that cannot be expressed (a custom layer, a custom activation, a size-dependent padding
on an axis the model leaves open...) is refused: the ValueError names every such layer and the
option at once, before anything is written.
"""
from __future__ import annotations

import json

import numpy as np

from .._files import atomic_open
from .._version import __version__
from .native import _class_names_problem
from .onnx_export_graph import DEFAULT_OPSET, WRAP_OPSET, Graph, Refusal, Value, identity
from .onnx_export_layers import convert

#: the opsets ``opset=`` may name (those the exporter's op forms are tested at)
OPSETS = tuple(range(17, 22))
#: the symbolic batch dimension of every input and output
BATCH = "batch"
#: protobuf's limit on one serialized message
_MAX_BYTES = 2**31 - 1
#: the metadata_props key of ``model.class_names``, a JSON list of strings (onnx_format reads it back)
CLASS_NAMES_KEY = "convolve_class_names"


def _onnx():
    """The onnx module, or an ImportError that says how to install it."""
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as error:
        raise ImportError(
            'ONNX export needs the onnx package, which is not installed: pip install "convolve[onnx]". '
            f"Received: ImportError({error})"
        ) from None
    return onnx


def _value_info(helper, name, dtype, shape):
    dims = [BATCH if i == 0 else d for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), dims)


def _check_model(model) -> None:
    if not getattr(model, "built", False) or not hasattr(model, "_nodes"):
        where = getattr(model, "where", type(model).__name__)
        raise ValueError(
            f"export: {where} is not built, so its graph is not known yet; give it an input shape "
            "(an Input, the first layer's input_shape=, build(), or predict on data) first. "
            "Received: a model without an input shape"
        )


def _check_opset(opset):
    if opset is None:
        return None
    if not isinstance(opset, int) or isinstance(opset, bool) or opset not in OPSETS:
        raise ValueError(
            f"export: `opset` must be None (17, or 19 where circular padding needs it) or an int from "
            f"{OPSETS[0]} to {OPSETS[-1]}. Received: opset={opset!r}"
        )
    return opset


def _class_names(model):
    """``model.class_names`` as a list, checked as native.py checks what it saves; None without."""
    names = getattr(model, "class_names", None)
    if names is None:
        return None
    problem = _class_names_problem(names)
    if problem is not None:
        raise ValueError(
            f"export: `model.class_names` (written to the ONNX file's metadata_props) is invalid: {problem}"
        )
    return [str(name) for name in names]


def to_onnx(model, opset=None):
    """``model`` as a checked ``onnx.ModelProto`` (see the module docstring)."""
    onnx = _onnx()
    _check_model(model)
    chosen = _check_opset(opset)
    names = _class_names(model)
    proto, graph = _build(onnx, model, chosen or DEFAULT_OPSET, auto=chosen is None)
    if chosen is None and graph.needs_wrap:
        proto, graph = _build(onnx, model, WRAP_OPSET)
    if names is not None:
        onnx.helper.set_model_props(proto, {CLASS_NAMES_KEY: json.dumps(names)})
    if proto.ByteSize() > _MAX_BYTES:
        raise ValueError(
            f"export: {model.where} is too large for one ONNX file (protobuf's limit is 2 GiB); "
            f"convolve does not write ONNX external data. Received: {proto.ByteSize():,} bytes"
        )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path, opset=None) -> None:
    """Write ``model`` to ``path`` as an ONNX file (``to_onnx``), atomically: a failed export
    leaves an existing file as it was."""
    data = to_onnx(model, opset=opset).SerializeToString()
    with atomic_open(path) as f:
        f.write(data)


def _build(onnx, model, opset, auto=False):
    """The ModelProto of ``model`` at ``opset``, and the Graph that made it."""
    helper = onnx.helper
    graph = Graph(onnx, opset, auto)
    values = {}
    inputs = []
    for t in model._inputs:
        name = graph.reserve(t.layer.name)
        values[id(t)] = Value(name, identity(len(t.shape)), t.dtype, t.shape)
        inputs.append(_value_info(helper, name, t.dtype, t.shape))
    output_names = [graph.reserve(t.layer.name) for t in model._outputs]

    problems = []
    for node in model._nodes:
        layer = node.layer
        graph.scope = layer.name
        args = [values[id(t)] for t in node.inputs]
        try:
            values[id(node)] = convert(graph, layer, node, args)
        except Refusal as refusal:
            problems.append(f"  - {layer.where}: {refusal}")
            values[id(node)] = Value(graph.reserve(f"{layer.name}/refused"), identity(len(node.shape)),
                                     node.dtype, node.shape)
    if problems:
        raise ValueError(
            f"export: {model.where} cannot be written as ONNX; {len(problems)} layer"
            f"{'s' if len(problems) > 1 else ''} cannot be expressed:\n" + "\n".join(problems)
        )

    outputs = []
    claimed = {graph_input.name for graph_input in inputs}
    for t, out_name in zip(model._outputs, output_names):
        graph.scope = out_name
        value = values[id(t)]
        source = graph.view(value, identity(value.ndim))
        producer = next((n for n in graph.nodes if source in n.output), None)
        if producer is not None and source not in claimed:
            _rename(graph.nodes, source, out_name)
            for view_value in values.values():  # a later output may read the same tensor
                for perm, name in view_value.names.items():
                    if name == source:
                        view_value.names[perm] = out_name
        else:
            graph.nodes.append(
                helper.make_node("Identity", [source], [out_name], name=f"{out_name}/identity")
            )
        claimed.add(out_name)
        outputs.append(_value_info(helper, out_name, value.dtype, t.shape))

    proto_graph = helper.make_graph(
        graph.nodes, model.name, inputs, outputs, initializer=graph.initializers,
        doc_string=f"{type(model).__name__} '{model.name}', exported by convolve {__version__}",
    )
    opset_ids = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        proto_graph, opset_imports=opset_ids, producer_name="convolve", producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opset_ids),
    )
    return proto, graph


def _rename(nodes, old, new) -> None:
    """Rename tensor ``old`` to ``new`` wherever a node writes or reads it."""
    for node in nodes:
        for field in (node.input, node.output):
            for i, name in enumerate(field):
                if name == old:
                    field[i] = new
        if node.name == old:
            node.name = new
