"""ONNX files (``.onnx``) as models: ``convolve.models.load_model("net.onnx")`` builds a functional
``Model`` from a graph of the operators CNNs use, with the weights the file holds.

    model = convolve.models.load_model("resnetish.onnx")   # e.g. written by torch.onnx.export
    model.summary(); model.predict(x_nchw); model.fit(...)  # every convolve tool works on it

Exporting is ``model.export(path, format="onnx")`` (``onnx_export.py``); this module only reads.
Needs the onnx package (``pip install "convolve[onnx]"``), imported on the first load.

The layout is kept
------------------
A graph keeps its layout: an NCHW graph (PyTorch's) becomes channels_first layers and the model
takes the same (batch, channels, height, width) input. A channels_last graph (NHWC input, a
Transpose to NCHW before its convolutions and one back, as convolve's own export of a
channels_last model writes it) becomes channels_last layers: a Transpose that keeps the batch
axis first is held back, and the layers after it read the untransposed tensor in their own
data format, so the Transposes cancel (``onnx_import_shapes.py``); only a Transpose no layer can
absorb becomes a ``Permute`` layer. The model's ``Input`` is the graph input's
shape without the batch axis; the batch size may be dynamic or static (the model then accepts any
batch). Other dynamic sizes are kept as None where convolve's layers build with them (a
convolution with explicit padding does); where a size is needed to match ONNX exactly (SAME_LOWER,
pooling pads, ceil_mode, a Dense after Flatten) the error names the node and the axis.

Operators and the layers they become (r = 1, 2, 3 spatial axes; everything ``channels_first``)
--------------------------------------------------------------------------------------------------
=====================  ========================================================================
ONNX                   convolve
=====================  ========================================================================
Conv                   ConvrD (``groups=group``), or DepthwiseConvrD when group = channels and
                       W has one input channel per group (r <= 2); kernel (M, C/g, *k) ->
                       (*k, C/g, M). pads -> explicit (before, after) pairs, auto_pad VALID ->
                       'valid', SAME_UPPER -> 'same' (convolve's split), SAME_LOWER -> pairs
                       (static sizes); strides, dilations, bias B. kernel_shape must match W.
ConvTranspose          ConvrDTranspose(padding='valid', output_padding) then CroppingrD(pads):
                       ONNX crops its pads from the full output. kernel (C, M, *k) ->
                       (*k, M, C). output_shape and auto_pad SAME_* give the pads per the spec
                       (static sizes). Refused: group > 1, output_padding >= strides.
BatchNormalization     BatchNormalization(axis=1, epsilon, momentum) with [scale, B, mean, var]
                       as [gamma, beta, moving_mean, moving_variance]. Refused: training_mode=1,
                       spatial=0 (before opset 9), a used mean/var output, a negative var.
Relu, Sigmoid, Tanh    ReLU, Activation('sigmoid'), Activation('tanh')
Elu, Selu, Softplus,   Activation('elu'), 'selu', 'softplus', 'hard_sigmoid', 'hard_silu' where the
HardSigmoid, HardSwish attributes are convolve's constants (Elu alpha 1; HardSigmoid 1/6, 0.5)
LeakyRelu              LeakyReLU(negative_slope=alpha); alpha < 0 refused
Softmax                Softmax(axis); before opset 13, the axes from ``axis`` to the last (ONNX's
                       2-D coercion). The batch axis is refused.
Clip                   ReLU(max_value=max): min must be 0 (ReLU6 is Clip(0, 6)); no max -> ReLU()
MaxPool, AveragePool   MaxPoolingrD / AveragePoolingrD(pool_size, strides). Pads, auto_pad and
                       ceil_mode (the end padding grown until floor gives ceil's size, ONNX's and
                       PyTorch's rule) must be exactly one of: none -> 'valid'; the 'same' split
                       (MaxPool, or count_include_pad=0: padded cells ignored) -> 'same'; for
                       MaxPool of non-negative input (after Relu, Clip, Sigmoid, Softmax, through
                       pooling, padding, concatenation) ZeroPaddingrD + 'valid'; for AveragePool
                       with count_include_pad=1 and no ceil growth, ZeroPaddingrD + 'valid'.
                       Anything else (e.g. PyTorch's MaxPool2d(3, 2, padding=1) right after a
                       convolution) is refused with the pads. Refused: dilations, the Indices output.
GlobalAveragePool,     GlobalAveragePoolingrD / GlobalMaxPoolingrD(keepdims=True); keepdims=False
GlobalMaxPool          when a Flatten alone reads it (the Flatten taken in)
ReduceMean, ReduceMax  the same global pooling, over exactly the spatial axes (keepdims kept)
Flatten (axis=1)       Flatten(data_format='channels_first') of a tensor channels_first layers made,
                       when every reader is a Dense, whose kernel rows are permuted from ONNX's
                       (C, H, W) order to convolve's (H, W, C) order; else
                       Flatten(data_format='channels_last'), which keeps ONNX's order.
Reshape                the batch axis must stay first (0, the folded batch size, the graph's
                       static batch size, or -1 when the rest covers a sample); (batch, -1) of a
                       rank > 2 tensor is a Flatten as above; else Reshape(target_shape)
Squeeze, Unsqueeze     Reshape (not on the batch axis)
Gemm                   Dense: kernel alpha * B (B^T with transB), bias beta * C (C broadcast to
                       (units,)). Refused: transA=1, A of rank > 2, a C that varies per sample.
MatMul (+ Add)         Dense on the last axis, kernel B; an Add of a constant (units,) that alone
                       reads the MatMul becomes its bias
Add, Sub, Mul          Add / Subtract / Multiply of two computed tensors of one rank;
                       with a constant: Rescaling(scale, offset), x + c, x - c, c - x, x * c (a
                       one-value constant, (1, 1, 1, 1) included, as a number); Mul then an Add
                       of a constant that alone reads it: one Rescaling(scale, offset)
Div                    by a non-zero constant: Rescaling(scale=1 / c)
Max, Min, Neg          Maximum / Minimum of computed tensors of one rank; Rescaling(scale=-1)
Transpose              held back (above); Permute(perm[1:]) where no layer absorbs it. perm[0]
                       must be 0: the batch axis stays first
Slice                  Cropping1D/2D/3D, steps 1, in the layout whose spatial axes it slices; an
                       axis of unknown size only from a start >= 0 to the end (or -k)
Resize                 nearest with coordinate_transformation_mode asymmetric + nearest_mode
                       floor, or half_pixel + round_prefer_floor/ceil, at whole-number scales:
                       UpSampling1D/2D/3D; linear with half_pixel, no antialias, rank 4, where
                       scales are exactly out / in: Resizing(bilinear). Opset 11 on.
Concat                 Concatenate(axis) of computed tensors (not the batch axis)
Pad                    constant zeros -> ZeroPaddingrD; all pads <= 0 -> CroppingrD (either
                       layout, as Slice); reflect,
                       edge and wrap -> the padding and padding_mode ('reflect', 'replicate',
                       'circular') of the Conv that reads it, which must have no pads of its own.
                       Refused: a non-zero constant, padding the batch or channel axis.
Dropout                Dropout(rate=ratio); training_mode=True and the mask output refused
Identity, Cast         nothing (Cast only to the model's float type)
=====================  ========================================================================

Folding (``onnx_import_fold.py``): every node whose inputs are all constants or static shapes is
evaluated once with NumPy: Constant, Identity, Shape, Size, Gather, Unsqueeze, Squeeze, Concat,
Cast, Slice, Transpose, Reshape, Flatten, Add, Sub, Mul, Div, Neg, Equal, Where,
ConstantOfShape, Range, Expand. The batch size folds as a symbol, so ``x.view(x.size(0), -1)``
becomes a Flatten. Operators outside both lists are listed, all of them, in one error.

Class names
-----------
A ``metadata_props`` entry ``convolve_class_names`` (what convolve's export writes from
``model.class_names``) is read as JSON, checked as ``native.py`` checks its own ``class_names``
(a list of at most 100,000 strings of at most 256 characters), and set as ``model.class_names``.

A file is untrusted input
-------------------------
* Only a regular file of at most ``MAX_FILE_BYTES`` (protobuf's 2 GiB limit) is read, whole, by
  convolve (``guards.open_regular_file``), then parsed with ``onnx.load_from_string``: nothing
  else is opened. Tensors with external data (which name other files) are refused.
* Every name must be UTF-8 text (protobuf returns bytes for one that is not); every 0/1
  attribute (ceil_mode, transB, keepdims, ...) must be 0 or 1, and every node's attributes must be
  ones its mapping knows: an attribute convolve does not know could change what a node computes.
* The IR version (``MIN_IR_VERSION``..``MAX_IR_VERSION``) and the standard domain's opset
  (``MIN_OPSET``..``MAX_OPSET``) must be ones this importer knows; nodes of other domains are
  refused, all of them named in one message.
* Every tensor's dims and data type are checked against the bytes (or values) it holds before
  an array is made (``onnx_import_tensors.tensor_array``); each folded constant may hold at most
  max(file size, 65,536) values, computed from the shapes before it is made, and all of them
  together four times that; a node may read only values defined before it, so nothing loops.
* The layers are built with declared weights only, and each layer's declared weight shapes are
  compared with the file's arrays before any is assigned (as ``native.py`` does).
Every message names the file (``Cannot load '<path>': ...``), the node or value, what was
expected and what was received.
"""
from __future__ import annotations

from . import guards
from .native import _class_names_problem
from .onnx_export import CLASS_NAMES_KEY
from .onnx_import_graph import GraphBuilder
from .onnx_import_tensors import OnnxFileError
from .registry import FileFormat, register_format

#: the newest IR version and standard opset this importer knows (onnx 1.23 writes these)
MAX_IR_VERSION = 14
MAX_OPSET = 28
#: the oldest: IR 3 has opset imports; opset 7 dropped Add's `broadcast` and BatchNormalization's `is_test`
MIN_IR_VERSION = 3
MIN_OPSET = 7
#: protobuf cannot parse a larger message; larger models keep their weights as external data
MAX_FILE_BYTES = 2**31 - 1
#: folded constants may hold at least this many values (else: the file's size in bytes)
MIN_FOLD_LIMIT = 1 << 16


def _onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError(
            'Loading .onnx files needs the onnx package: pip install "convolve[onnx]" (or pip install onnx).'
        ) from error
    return onnx


def read(path: str):
    """(ModelProto, size in bytes) of the regular file ``path``, parsed from the bytes read here."""
    file, size = guards.open_regular_file(path)
    with file:
        if size == 0:
            raise guards.fail(path, "the file is empty. Received: 0 bytes")
        if size > MAX_FILE_BYTES:
            raise guards.fail(
                path,
                f"an ONNX file holds at most {MAX_FILE_BYTES:,} bytes (larger models keep their weights as "
                f"external "
                f"data, which convolve does not read). Received: a file of {size:,} bytes",
            )
        data = guards.read_exactly(file, size, path, "the file")
    onnx = _onnx()
    try:
        model = onnx.load_from_string(data)
    except Exception as error:  # protobuf's DecodeError, or anything its parser raises on garbage
        raise guards.fail(
            path, f"it is not an ONNX model, or it is truncated or corrupt: expected an ONNX ModelProto. "
            f"Received: bytes protobuf could not parse ({error})"
        ) from None
    return model, size


def _texts(model):
    """(where, value) of every name the importer reads: protobuf hands back bytes, not str, for a
    string field that is not valid UTF-8."""
    yield from (("an opset_import domain", entry.domain) for entry in model.opset_import)
    graph = model.graph
    yield "the graph's name", graph.name
    for kind, values in (("graph input", graph.input), ("graph output", graph.output),
                         ("initializer", graph.initializer)):
        yield from ((f"a {kind} name", value.name) for value in values)
    for index, node in enumerate(graph.node):
        where = f"node #{index}"
        yield from (
            (where, text) for text in (node.name, node.op_type, node.domain, *node.input, *node.output)
        )
        yield from ((where, text) for a in node.attribute for text in (a.name, a.ref_attr_name))
    for tensor in graph.initializer:
        yield from (
            (f"initializer {tensor.name!r}", text) for e in tensor.external_data for text in (e.key, e.value)
        )


def check_versions(model, path) -> int:
    """The standard domain's opset, after the IR version and opsets are checked."""
    if not model.HasField("graph"):
        raise guards.fail(
            path,
            f"it holds no graph: not an ONNX model, or a truncated one. Received: {len(model.ListFields())} "
            "top-level fields and no graph",
        )
    if not MIN_IR_VERSION <= model.ir_version <= MAX_IR_VERSION:
        newer = model.ir_version > MAX_IR_VERSION
        raise guards.fail(
            path,
            f"its IR version is {model.ir_version}; convolve reads IR versions {MIN_IR_VERSION} to "
            f"{MAX_IR_VERSION}{' (a newer exporter wrote it)' if newer else ''}. "
            f"Received: ir_version={model.ir_version}",
        )
    for where, text in _texts(model):
        if not isinstance(text, str):
            raise guards.fail(
                path,
                f"{where} holds a name that is not UTF-8 text (a corrupt file?). Received: "
                f"{bytes(text)[:40]!r}",
            )
    opsets = {}
    for entry in model.opset_import:
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        if domain in opsets:
            raise guards.fail(
                path,
                f"it imports the domain {entry.domain!r} twice. Received: versions {opsets[domain]} and "
                f"{entry.version}",
            )
        opsets[domain] = int(entry.version)
    if "" not in opsets:
        raise guards.fail(
            path,
            f"it imports no opset of the standard ONNX domain. Received: opset_import={opsets or 'none'}",
        )
    opset = opsets[""]
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise guards.fail(
            path,
            f"it uses opset {opset} of the standard domain; convolve imports opsets {MIN_OPSET} to "
            f"{MAX_OPSET}"
            + (" (newer operator definitions could compute differently)" if opset > MAX_OPSET else "")
            + f". Received: opset {opset}",
        )
    return opset


def class_names(model, path):
    """The list in the ``convolve_class_names`` entry of ``metadata_props`` (convolve's export
    writes it from ``model.class_names``), checked as native.py checks its own; None without."""
    entries = [p for p in model.metadata_props if p.key == CLASS_NAMES_KEY]
    if not entries:
        return None
    where = f"metadata_props entry '{CLASS_NAMES_KEY}'"
    if len(entries) > 1:
        raise guards.fail(path, f"its {where} must appear once. Received: {len(entries)} entries")
    text = entries[0].value
    if not isinstance(text, str):  # protobuf gives bytes for a string field that is not UTF-8
        raise guards.fail(path, f"its {where} must be UTF-8 text. Received: {bytes(text)[:40]!r}")
    names = guards.loads(text, path, where)
    problem = _class_names_problem(names)
    if problem is not None:
        raise guards.fail(path, f"its {where} is invalid: {problem}")
    return list(names)


def load_model(path: str, compile=True):
    """The functional Model an ONNX file describes (``compile`` is accepted and unused: an ONNX
    file holds no training configuration), with ``model.class_names`` when its metadata_props
    name them."""
    model, size = read(path)
    opset = check_versions(model, path)
    names = class_names(model, path)
    try:
        built = GraphBuilder(model, opset, limit=max(size, MIN_FOLD_LIMIT)).build()
    except OnnxFileError as error:
        raise guards.fail(path, str(error)) from None
    if names is not None:
        built.class_names = names
    return built


register_format(FileFormat("ONNX", (".onnx",), load_model=load_model))
