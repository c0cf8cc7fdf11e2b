"""ONNX import: what is refused, and how. Every message starts ``Cannot load '<path>': ``, names the
node or value, says what was expected and ends with what was received. Files are untrusted
input: truncated or corrupt bytes, declared sizes that the data does not back, external data,
unknown domains, opsets and IR versions, and constants folded without bound are refused
before anything large is allocated.
"""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

from convolve.models import load_model
from convolve.saving import onnx_format
from tests.helpers import requires
from tests.saving.test_onnx_import import model, node, rand, save, single, value_info

pytestmark = [requires("onnx"), requires("onnxruntime")]


def refused(tmp_path, proto_or_bytes, *fragments):
    """Load and return the message, which must name the file, hold each fragment and 'Received: '."""
    path = tmp_path / "model.onnx"
    data = proto_or_bytes if isinstance(proto_or_bytes, bytes) else proto_or_bytes.SerializeToString()
    path.write_bytes(data)
    with pytest.raises(ValueError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(f"Cannot load '{path}': "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "Received: " in message, message
    return message


def conv_model(**attrs):
    return single("Conv", (1, 3, 8, 8), [("w", rand(4, 3, 3, 3))], **attrs)


def tensor(name, dims, data_type=1, raw=None, **fields):
    from onnx import TensorProto

    t = TensorProto(name=name, dims=list(dims), data_type=data_type)
    if raw is not None:
        t.raw_data = raw
    for field, values in fields.items():
        getattr(t, field).extend(values)
    return t


def with_initializer(t, *, op="Add"):
    """x + t (an initializer written by hand)."""
    proto = model([node(op, ["x", t.name], ["y"])], [("x", (1, 4))])
    proto.graph.initializer.append(t)
    return proto


# ---- the file ---------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="the file is empty"):
        load_model(tmp_path / "model.onnx")


def test_garbage_is_not_an_onnx_model(tmp_path):
    refused(
        tmp_path,
        b"\xff\xfe not a protobuf \x00" * 10,
        "it is not an ONNX model, or it is truncated or corrupt",
    )


def test_a_larger_file_than_protobuf_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_format, "MAX_FILE_BYTES", 100)
    message = refused(tmp_path, conv_model(), "an ONNX file holds at most 100 bytes", "Received: a file of")
    assert "external data" in message


def test_every_truncation_is_refused_with_the_file_named(tmp_path):
    """Cut anywhere, a model file gives a clean ValueError (parsing, or a graph left incomplete)."""
    data = conv_model().SerializeToString()
    path = tmp_path / "model.onnx"
    for end in range(1, len(data)):
        path.write_bytes(data[:end])
        with pytest.raises(ValueError) as info:
            load_model(path)
        assert str(info.value).startswith(f"Cannot load '{path}': ")


def test_corrupted_bytes_never_crash(tmp_path):
    """Bytes changed at random: a model, or a ValueError naming the file; nothing else escapes."""
    data = bytearray(
        model(
            [
                node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                node("Relu", ["c"], ["r"]),
                node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                node("Flatten", ["p"], ["f"]),
                node("Gemm", ["f", "g"], ["y"], transB=1),
            ],
            [("x", ("N", 3, 4, 4))],
            inits={"w": rand(2, 3, 3, 3), "b": rand(2), "g": rand(3, 8)},
        ).SerializeToString()
    )
    rng = np.random.default_rng(5)
    path = tmp_path / "model.onnx"
    outcomes = set()
    for _ in range(300):
        copy = bytearray(data)
        for position in rng.integers(0, len(copy), size=rng.integers(1, 4)):
            copy[position] = int(rng.integers(0, 256))
        path.write_bytes(bytes(copy))
        try:
            load_model(path)
            outcomes.add("loaded")
        except ValueError as error:
            assert str(error).startswith(f"Cannot load '{path}': ")
            outcomes.add("refused")
    assert outcomes == {"loaded", "refused"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "pipe.onnx")
    with pytest.raises(ValueError, match="FIFO"):
        load_model(tmp_path / "pipe.onnx")


def test_onnx_missing_is_an_import_error_naming_the_extra(tmp_path, monkeypatch):
    import sys

    save(conv_model(), tmp_path / "model.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "convolve\[onnx\]"'):
        load_model(tmp_path / "model.onnx")


def test_names_that_are_not_utf8(tmp_path):
    data = single("Relu", (1, 3)).SerializeToString().replace(b"Relu", b"R\xffl\xfe")
    refused(tmp_path, data, "node #0 holds a name that is not UTF-8 text", "b'R\\xffl\\xfe'")


def test_models_not_registered(tmp_path, monkeypatch):
    from convolve.saving import registry

    monkeypatch.setattr(registry, "_MODEL_CLASSES", {})
    refused(tmp_path, single("Relu", (1, 3)), "convolve.models is not loaded")


def test_no_graph(tmp_path):
    from onnx import ModelProto

    refused(tmp_path, ModelProto(ir_version=8), "it holds no graph", "1 top-level fields")


@pytest.mark.parametrize(
    "ir_version, fragment", [(15, "a newer exporter wrote it"), (2, "IR versions 3 to 14")]
)
def test_ir_version_out_of_range(tmp_path, ir_version, fragment):
    proto = conv_model()
    proto.ir_version = ir_version
    refused(tmp_path, proto, f"its IR version is {ir_version}", fragment)


@pytest.mark.parametrize("opset, fragment", [(29, "newer operator definitions"), (6, "opsets 7 to 28")])
def test_opset_out_of_range(tmp_path, opset, fragment):
    refused(
        tmp_path,
        single("Relu", (1, 3), opset=opset),
        f"it uses opset {opset} of the standard domain",
        fragment,
    )


def test_no_standard_opset(tmp_path):
    from onnx import helper

    proto = single("Relu", (1, 3))
    del proto.opset_import[:]
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    refused(tmp_path, proto, "it imports no opset of the standard ONNX domain", "'com.example': 1")


def test_a_domain_imported_twice(tmp_path):
    from onnx import helper

    proto = single("Relu", (1, 3))
    proto.opset_import.append(helper.make_opsetid("ai.onnx", 17))
    refused(tmp_path, proto, "it imports the domain 'ai.onnx' twice", "versions 17 and 17")


def test_unknown_domains_are_listed(tmp_path):
    from onnx import helper

    proto = model(
        [
            helper.make_node("FusedConv", ["x"], ["a"], name="f1", domain="com.microsoft"),
            helper.make_node("Gelu", ["a"], ["y"], name="g1", domain="com.example"),
        ],
        [("x", (1, 3, 4, 4))],
    )
    proto.opset_import.extend(
        [helper.make_opsetid("com.microsoft", 1), helper.make_opsetid("com.example", 1)]
    )
    refused(
        tmp_path,
        proto,
        "outside the standard ONNX domain",
        "FusedConv node 'f1' (domain 'com.microsoft')",
        "Gelu node 'g1' (domain 'com.example')",
    )


def test_every_unsupported_operator_is_listed_in_one_message(tmp_path):
    nodes = [node("InstanceNormalization", ["x", "sc", "b"], ["a"], name="in1"), node("Relu", ["a"], ["b2"]),
             node("InstanceNormalization", ["b2", "sc", "b"], ["c"], name="in2"),
             node("LRN", ["c"], ["d"], size=3), node("Erf", ["d"], ["y"])]
    inits = {"sc": np.ones(3, np.float32), "b": np.zeros(3, np.float32)}
    message = refused(tmp_path, model(nodes, [("x", (1, 3, 4, 4))], inits=inits),
                      "convolve cannot import these operators: Erf, InstanceNormalization, LRN.",
                      "InstanceNormalization (2 nodes: 'in1', 'in2')", "LRN (1 node: 'd')")
    assert "Conv" in message and "ConstantOfShape" in message  # what it can do, listed


def test_dead_nodes_are_not_imported(tmp_path):
    """A node no output depends on may be anything (here an unsupported operator)."""
    proto = model([node("Relu", ["x"], ["y"]), node("LSTM", ["x"], ["unused"])], [("x", (1, 3))])
    save(proto, tmp_path / "model.onnx")
    assert [type(layer).__name__ for layer in load_model(tmp_path / "model.onnx").layers] == [
        "InputLayer",
        "ReLU",
    ]


# ---- tensors: declared against held ------------------------------------------------------------------


def test_external_data_is_refused_and_never_opened(tmp_path):
    (tmp_path / "weights.bin").write_bytes(np.ones(4, np.float32).tobytes())
    t = tensor("c", [4])
    t.data_location = 1
    entry = t.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    refused(tmp_path, with_initializer(t), "initializer 'c' keeps its data in another file",
            "location 'weights.bin'", "convolve never opens a path", "external_data=False")


def test_declared_dims_without_the_data_allocate_nothing(tmp_path):
    """A few bytes declaring a 100000 x 100000 float tensor: refused before any array is made."""
    proto = with_initializer(tensor("c", [100_000, 100_000], raw=b"\x00" * 16))
    tracemalloc.start()
    try:
        refused(tmp_path, proto, "initializer 'c' declares dims [100000, 100000] of FLOAT",
                "40,000,000,000 bytes", "Received: 16 bytes of raw data")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000


@pytest.mark.parametrize(
    "t, fragments",
    [
        (
            lambda: tensor("c", [4], float_data=[1.0, 2.0]),
            ["declares dims [4] (4 values)", "Received: 2 values in float_data"],
        ),
        (lambda: tensor("c", [4], data_type=8), ["has data type STRING", "Received: data_type=8"]),
        (lambda: tensor("c", [4], data_type=16, raw=b"\x00" * 8), ["has data type BFLOAT16"]),
        (
            lambda: tensor("c", [2], raw=b"\x00" * 8, float_data=[1.0, 2.0]),
            ["holds both raw_data and float_data"],
        ),
        (
            lambda: tensor("c", [2], int64_data=[1, 2]),
            ["values belong in raw_data or float_data", "int64_data"],
        ),
        (lambda: tensor("c", [-4], float_data=[]), ["has a negative dimension", "Received: dims=[-4]"]),
    ],
    ids=["count", "string", "bfloat16", "raw and typed", "wrong field", "negative"],
)
def test_tensor_checks(tmp_path, t, fragments):
    refused(tmp_path, with_initializer(t()), "initializer 'c'", *fragments)


def test_segments_are_refused(tmp_path):
    t = tensor("c", [4], float_data=[1, 2, 3, 4])
    t.segment.begin, t.segment.end = 0, 2
    refused(tmp_path, with_initializer(t), "one segment of a split tensor")


def test_typed_fields_and_float16_are_read(tmp_path):
    """float_data, int32_data holding float16 bit patterns, and raw float16 all load."""
    values = np.array([0.5, -1.0, 2.0, 0.25], np.float16)
    for t in (tensor("c", [4], float_data=values.astype(np.float32)),
              tensor("c", [4], data_type=10, int32_data=values.view(np.uint16).astype(np.int32)),
              tensor("c", [4], data_type=10, raw=values.tobytes())):
        path = save(with_initializer(t), tmp_path / "model.onnx")
        np.testing.assert_array_equal(load_model(path).layers[1].offset, values.astype(np.float64))


def test_sparse_initializers(tmp_path):
    from onnx import helper

    proto = conv_model()
    proto.graph.sparse_initializer.append(helper.make_sparse_tensor(
        tensor("v", [1], float_data=[1.0]), tensor("i", [1], data_type=7, int64_data=[0]), [4]))
    refused(tmp_path, proto, "sparse initializers")


def test_initializer_names(tmp_path):
    proto = conv_model()
    proto.graph.initializer.append(tensor("w", [1], float_data=[1.0]))
    refused(tmp_path, proto, "initializer names must be unique. Received: two named 'w'")
    proto = conv_model()
    proto.graph.initializer.append(tensor("", [1], float_data=[1.0]))
    refused(tmp_path, proto, "every initializer needs a name")


# ---- the graph ----------------------------------------------------------------------------------


def test_graph_structure_errors(tmp_path):
    proto = model([node("Relu", ["x"], ["a"]), node("Relu", ["a"], ["y"])], [("x", (1, 3))])
    proto.graph.node[0].CopyFrom(node("Relu", ["a"], ["y0"], name="first"))
    refused(tmp_path, proto, "Relu node 'first' reads 'a', which no graph input, initializer or earlier node",
            "topological order")
    refused(tmp_path, model([node("Relu", ["x"], ["x"])], [("x", (1, 3))], outputs=("x",)),
            "Relu node 'x' writes 'x', which is already defined")
    refused(
        tmp_path, model([node("Relu", ["x"], ["a"])], [("x", (1, 3))]), "graph output 'y' is not computed"
    )
    refused(
        tmp_path, model([node("Relu", ["x"], ["a"])], [("x", (1, 3))], outputs=()), "its graph has no outputs"
    )
    refused(tmp_path, model([node("Constant", [], ["y"], value_float=1.0)], [("x", (1, 3))]),
            "graph output 'y': convolve models compute every output", "Received: a constant")
    refused(tmp_path, model([node("Relu", ["c"], ["y"])], [], inits={"c": rand(1, 3)}),
            "its graph has no inputs besides initializers")


def test_graph_inputs(tmp_path):
    from onnx import helper

    proto = single("Relu", (1, 3))
    proto.graph.input[0].CopyFrom(value_info("x", (1, 3), elem_type=7))
    refused(tmp_path, proto, "graph input 'x' must be FLOAT or DOUBLE", "Received: INT64")
    proto.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", 1, None))
    refused(tmp_path, proto, "graph input 'x' has no shape")
    proto.graph.input[0].CopyFrom(helper.make_tensor_sequence_value_info("x", 1, None))
    refused(tmp_path, proto, "graph input 'x' must be a tensor", "Received: sequence_type")
    refused(tmp_path, single("Relu", (1, 0)), "graph input 'x': axis 1 must have a positive size")
    refused(tmp_path, single("Relu", ("N",)), "graph input 'x' must have a batch axis and at least one more")
    two = model([node("Add", ["a", "b"], ["y"])], [("a", (1, 3)), ("b", (1, 3))])
    two.graph.input[1].CopyFrom(value_info("b", (1, 3), elem_type=11))
    refused(
        tmp_path,
        two,
        "graph input 'b': every input must have the same float type (float32)",
        "Received: float64",
    )


def test_folding_only_operators_on_computed_tensors(tmp_path):
    refused(
        tmp_path,
        single("Gather", (1, 3, 4), [("i", np.array([0, 2]))], axis=2),
        "Gather node 'y': convolve folds Gather only over constants",
        "Received: ['x'], computed by layers",
    )


def test_an_extra_output_in_use(tmp_path):
    proto = model([node("Dropout", ["x"], ["d", "mask"]), node("Cast", ["mask"], ["m"], to=1),
                   node("Add", ["d", "m"], ["y"])], [("x", (1, 3))])
    refused(tmp_path, proto, "Dropout node 'd': convolve computes only the first 1 output(s) of Dropout",
            "Received: its output 1 ('mask') in use")


def test_the_layers_own_checks_name_the_node(tmp_path):
    refused(tmp_path, single("Conv", (1, 3, 2, 2), [("w", rand(4, 3, 3, 3))]),
            "Conv node 'y': convolve's layers refused it. Received:", "the output would be empty")


def test_declared_weights_against_the_file(tmp_path):
    """Gemm's B has rows for 6 features, the input has 5: the Dense declares (5, 2)."""
    refused(
        tmp_path,
        single("Gemm", (1, 5), [("b", rand(6, 2))]),
        "Gemm node 'y': layer Dense 'y' declares weights of shapes [(5, 2)]",
        "the file's tensors give [(6, 2)]",
    )


# ---- folding ------------------------------------------------------------------------------------


def fold_then_relu(nodes, inits=None, x_shape=(1, 3), opset=17, add="out"):
    """``nodes`` compute 'out' from constants; y = x + out (its value is what is checked)."""
    return model([*nodes, node("Add", ["x", add], ["y"])], [("x", x_shape)], inits=inits, opset=opset)


FOLD_ERRORS = {
    "constant of shape too large": (
        lambda: fold_then_relu(
            [node("ConstantOfShape", ["s"], ["out"])], {"s": np.array([100_000, 100_000])}
        ),
        ["ConstantOfShape node 'out': its result would hold 10,000,000,000 values", "at most 65,536 values"],
    ),
    "negative dimension": (
        lambda: fold_then_relu([node("ConstantOfShape", ["s"], ["out"])], {"s": np.array([-2])}),
        ["its result would have a negative dimension"],
    ),
    "dynamic size needed": (
        lambda: fold_then_relu(
            [node("Shape", ["x"], ["s"]), node("ConstantOfShape", ["s"], ["out"])], x_shape=("N", 3)
        ),
        ["its input shape holds sizes known only when the model runs ([batch, 3])"],
    ),
    "missing input": (
        lambda: fold_then_relu([node("Range", ["a", "", "a"], ["out"])], {"a": np.array(1.0)}),
        ["its input limit is required"],
    ),
    "float shape": (
        lambda: fold_then_relu([node("Reshape", ["c", "s"], ["out"])], {"c": rand(3), "s": np.array([3.0])}),
        ["its input shape must be a 1-D integer tensor", "float64"],
    ),
    "axis": (
        lambda: fold_then_relu(
            [node("Gather", ["c", "i"], ["out"], axis=3)], {"c": rand(3), "i": np.array([0])}
        ),
        ["axis must be in [-1, 0] for rank 1"],
    ),
    "two constant values": (
        lambda: fold_then_relu([node("Constant", [], ["out"], value_float=1.0, value_int=2)]),
        ["a Constant needs exactly one value attribute", "['value_float', 'value_int']"],
    ),
    "string constant": (
        lambda: fold_then_relu([node("Constant", [], ["out"], value_string="a")]),
        ["numeric constants only", "a value_string attribute"],
    ),
    "gather float indices": (
        lambda: fold_then_relu([node("Gather", ["c", "i"], ["out"])], {"c": rand(3), "i": np.array([0.0])}),
        ["indices must be integers", "float64"],
    ),
    "gather range": (
        lambda: fold_then_relu([node("Gather", ["c", "i"], ["out"])], {"c": rand(3), "i": np.array([3])}),
        ["indices must be in [-3, 2]", "Received: [3]"],
    ),
    "unsqueeze without axes": (
        lambda: fold_then_relu([node("Unsqueeze", ["c"], ["out"])], {"c": rand(3)}, opset=11),
        ["Unsqueeze needs axes"],
    ),
    "unsqueeze repeated": (
        lambda: fold_then_relu(
            [node("Unsqueeze", ["c", "a"], ["out"])], {"c": rand(3), "a": np.array([0, -3])}
        ),
        ["axes must not repeat"],
    ),
    "squeeze size": (
        lambda: fold_then_relu([node("Squeeze", ["c", "a"], ["out"])], {"c": rand(3), "a": np.array([0])}),
        ["every squeezed axis must have size 1"],
    ),
    "concat ranks": (
        lambda: fold_then_relu(
            [node("Concat", ["c", "d"], ["out"], axis=0)], {"c": rand(3), "d": rand(1, 3)}
        ),
        ["Concat needs inputs of one rank"],
    ),
    "concat shapes": (
        lambda: fold_then_relu(
            [node("Concat", ["c", "d"], ["out"], axis=0)], {"c": rand(1, 3), "d": rand(1, 2)}
        ),
        ["the inputs' shapes differ off axis 0"],
    ),
    "cast to string": (
        lambda: fold_then_relu([node("Cast", ["c"], ["out"], to=8)], {"c": rand(3)}),
        ["convolve folds casts to", "to=STRING"],
    ),
    "cast a dynamic size": (
        lambda: fold_then_relu(
            [node("Shape", ["x"], ["s"]), node("Cast", ["s"], ["out"], to=1)], x_shape=("N", 3)
        ),
        ["a size known only when the model runs cannot become FLOAT", "[batch, 3]"],
    ),
    "slice lengths": (
        lambda: fold_then_relu(
            [node("Slice", ["c", "s", "e"], ["out"])],
            {"c": rand(3), "s": np.array([0, 1]), "e": np.array([2])},
        ),
        ["starts and ends must have one value per axis"],
    ),
    "slice steps": (
        lambda: fold_then_relu(
            [node("Slice", ["c", "s", "e", "a", "t"], ["out"])],
            {"c": rand(3), "s": np.array([0]), "e": np.array([2]), "a": np.array([0]), "t": np.array([1, 1])},
        ),
        ["axes and steps must match starts"],
    ),
    "slice step 0": (
        lambda: fold_then_relu(
            [node("Slice", ["c", "s", "e", "a", "t"], ["out"])],
            {"c": rand(3), "s": np.array([0]), "e": np.array([2]), "a": np.array([0]), "t": np.array([0])},
        ),
        ["steps must not be 0"],
    ),
    "perm": (
        lambda: fold_then_relu([node("Transpose", ["c"], ["out"], perm=[0, 0])], {"c": rand(3, 3)}),
        ["perm must order the axes 0..1", "perm=[0, 0]"],
    ),
    "broadcast": (
        lambda: fold_then_relu([node("Add", ["c", "d"], ["out"])], {"c": rand(2), "d": rand(3)}),
        ["its inputs do not broadcast", "[(2,), (3,)]"],
    ),
    "integer division by zero": (
        lambda: fold_then_relu(
            [node("Div", ["a", "b"], ["q"]), node("Cast", ["q"], ["out"], to=1)],
            {"a": np.array([4]), "b": np.array([0])},
        ),
        ["integer division by zero"],
    ),
    "constant of shape value": (
        lambda: fold_then_relu(
            [node("ConstantOfShape", ["s"], ["out"], value=tensor("v", [2], float_data=[1, 2]))],
            {"s": np.array([3])},
        ),
        ["value must hold one element"],
    ),
    "range scalars": (
        lambda: fold_then_relu(
            [node("Range", ["a", "b", "a"], ["out"])], {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
        ),
        ["start, limit and delta must be scalars"],
    ),
    "range delta": (
        lambda: fold_then_relu(
            [node("Range", ["a", "b", "d"], ["out"])],
            {"a": np.array(1.0), "b": np.array(3.0), "d": np.array(0.0)},
        ),
        ["delta must not be 0"],
    ),
    "expand": (
        lambda: fold_then_relu([node("Expand", ["c", "s"], ["out"])], {"c": rand(2), "s": np.array([3])}),
        ["the input must broadcast to the shape", "(2,) and [3]"],
    ),
    "reshape copy beyond rank": (
        lambda: fold_then_relu([node("Reshape", ["c", "s"], ["out"])], {"c": rand(3), "s": np.array([3, 0])}),
        ["shape entry 1 is 0, the input has rank 1"],
    ),
    "reshape two -1": (
        lambda: fold_then_relu(
            [node("Reshape", ["c", "s"], ["out"])], {"c": rand(4), "s": np.array([-1, -1])}
        ),
        ["shape may hold one -1 and no other negative size"],
    ),
    "reshape sizes": (
        lambda: fold_then_relu(
            [node("Reshape", ["c", "s"], ["out"])], {"c": rand(4), "s": np.array([3, -1])}
        ),
        ["Received: 4 values (shape (4,)) for [3, -1]"],
    ),
    "reshape product": (
        lambda: fold_then_relu([node("Reshape", ["c", "s"], ["out"])], {"c": rand(4), "s": np.array([3])}),
        ["the target must hold as many values as the input", "for [3]"],
    ),
    "numpy refuses": (
        lambda: fold_then_relu(
            [node("Neg", ["c"], ["n"]), node("Cast", ["n"], ["out"], to=1)], {"c": np.array([True])}
        ),
        ["its constant inputs could not be folded"],
    ),
}


@pytest.mark.parametrize("case", list(FOLD_ERRORS))
def test_fold_errors(tmp_path, case):
    make, fragments = FOLD_ERRORS[case]
    refused(tmp_path, make(), *fragments)


def test_folding_has_a_budget_for_the_whole_graph(tmp_path):
    """Each Expand stays within the per-value limit, together they would not."""
    nodes = [node("Expand", ["one", "s"], [f"e{i}"]) for i in range(6)]
    nodes += [node("Add", ["e0", "e1"], ["t1"])] + [
        node("Add", [f"t{i - 1}", f"e{i}"], [f"t{i}"]) for i in range(2, 6)
    ]
    proto = fold_then_relu(nodes + [node("Slice", ["t5", "z", "three"], ["out"])],
                           {"one": np.ones(1, np.float32), "s": np.array([60_000]), "z": np.array([0]),
                            "three": np.array([3])})
    refused(tmp_path, proto, "folding the graph's constants would make more than 262,144 values",
            "(4x the file's size)")


def test_repeated_size_arithmetic_keeps_its_names_short(tmp_path):
    """batch * batch, squared 60 times: the name of the size stays bounded (no 2**60 characters)."""
    nodes = [node("Shape", ["x"], ["s"]), node("Slice", ["s", "z", "one"], ["d0"])]
    nodes += [node("Mul", [f"d{i}", f"d{i}"], [f"d{i + 1}"]) for i in range(60)]
    nodes += [node("ConstantOfShape", ["d60"], ["out"])]
    message = refused(
        tmp_path,
        fold_then_relu(nodes, {"z": np.array([0]), "one": np.array([1])}, x_shape=("N", 3)),
        "holds sizes known only when the model runs",
    )
    assert len(message) < 1000


# ---- attributes -------------------------------------------------------------------------------


def test_attribute_errors(tmp_path):
    from onnx import helper

    proto = conv_model(strides=[1, 1])
    proto.graph.node[0].attribute.append(helper.make_attribute("strides", [2, 2]))
    refused(tmp_path, proto, "Conv node 'y' has the attribute 'strides' twice")
    refused(
        tmp_path,
        conv_model(flavour=1),
        "Conv node 'y' has attributes convolve does not know for this operator",
        "['flavour']",
    )
    refused(tmp_path, conv_model(strides=2), "Conv node 'y': attribute 'strides' must be of type INTS",
            "Received: type INT")
    refused(
        tmp_path, conv_model(strides=[1, 1, 1]), "attribute 'strides' must have 2 values", "strides=[1, 1, 1]"
    )
    refused(tmp_path, conv_model(auto_pad=b"\xff\xfe"), "attribute 'auto_pad' is not UTF-8 text")
    proto = conv_model()
    attribute = proto.graph.node[0].attribute.add()
    attribute.name, attribute.ref_attr_name, attribute.type = "group", "g", 2
    refused(tmp_path, proto, "attribute 'group' refers to a function attribute", "ref_attr_name='g'")


# ---- operators: what cannot be matched exactly ---------------------------------------------------------


def reflect_then(op, **attrs):
    return model(
        [
            node("Pad", ["x", "p"], ["xp"], mode="reflect"),
            node(op, ["xp", *(["w"] if op == "Conv" else [])], ["y"], **attrs),
        ],
        [("x", (1, 3, 6, 6))],
        inits={"p": np.array([0, 0, 1, 1, 0, 0, 1, 1]), "w": rand(2, 3, 3, 3)},
    )


OPERATOR_ERRORS = {
    "pending pad read by relu": (
        lambda: reflect_then("Relu"),
        ["Pad node 'xp' pads with mode 'reflect'", "Relu node 'y' reads it"],
    ),
    "pending pad and conv pads": (
        lambda: reflect_then("Conv", pads=[1, 1, 1, 1]),
        ["reads the 'reflect' padding of Pad node 'xp' and pads again with zeros"],
    ),
    "relu of a constant": (
        lambda: model(
            [node("Relu", ["c"], ["r"]), node("Add", ["x", "r"], ["y"])],
            [("x", (1, 3))],
            inits={"c": rand(3)},
        ),
        ["Relu node 'r': its input must be computed from the model's input", "a constant"],
    ),
    "computed kernel": (
        lambda: model([node("Conv", ["x", "x"], ["y"])], [("x", (1, 3, 3, 3))]),
        ["Conv node 'y': the kernel W must be a constant", "a tensor computed from the model's input"],
    ),
    "bias shape": (
        lambda: single("Conv", (1, 3, 5, 5), [("w", rand(4, 3, 3, 3)), ("b", rand(5))]),
        ["the bias B must have shape (4,)", "shape (5,)"],
    ),
    "conv on vectors": (
        lambda: single("Conv", (1, 3), [("w", rand(4, 3))]),
        ["convolve's convolution layers take (batch, channels, *spatial) with 1 to 3 spatial axes"],
    ),
    "same lower dynamic": (
        lambda: single("Conv", (1, 3, "H", 8), [("w", rand(4, 3, 3, 3))], auto_pad="SAME_LOWER"),
        ["auto_pad=SAME_LOWER needs the input's spatial sizes", "(None, 3, None, 8)"],
    ),
    "stride 0": (lambda: conv_model(strides=[0, 1]), ["strides and dilations must be positive"]),
    "auto_pad": (lambda: conv_model(auto_pad="SAME"), ["auto_pad must be one of", "auto_pad='SAME'"]),
    "auto_pad and pads": (
        lambda: conv_model(auto_pad="VALID", pads=[1, 1, 1, 1]),
        ["pads and auto_pad=VALID cannot be used together"],
    ),
    "negative pads": (lambda: conv_model(pads=[-1, 0, 0, 0]), ["pads must not be negative"]),
    "kernel rank": (lambda: single("Conv", (1, 3, 5, 5), [("w", rand(4, 3, 3))]), ["W must have rank 4"]),
    "kernel_shape": (
        lambda: conv_model(kernel_shape=[2, 2]),
        ["kernel_shape must match W's shape (4, 3, 3, 3)", "Received: [2, 2]"],
    ),
    "channels": (
        lambda: single("Conv", (1, 4, 5, 5), [("w", rand(4, 3, 3, 3))]),
        [
            "W must have shape (filters, channels / group, *kernel) = (4, 4 / 1, ...)",
            "W of shape (4, 3, 3, 3), group=1",
        ],
    ),
    "dynamic channels": (
        lambda: single("Conv", (1, "C", 5, 5), [("w", rand(4, 3, 3, 3))]),
        ["(4, None / 1, ...)"],
    ),
    "transpose weight": (
        lambda: single("ConvTranspose", (1, 3, 4, 4), [("w", rand(2, 3, 3, 3))]),
        ["W must have shape (3, filters, *kernel)", "W of shape (2, 3, 3, 3)"],
    ),
    "transpose group": (
        lambda: single("ConvTranspose", (1, 4, 4, 4), [("w", rand(4, 1, 3, 3))], group=2),
        ["one group", "group=2"],
    ),
    "transpose kernel_shape": (
        lambda: single("ConvTranspose", (1, 3, 4, 4), [("w", rand(3, 2, 3, 3))], kernel_shape=[2, 2]),
        ["kernel_shape must match W's shape"],
    ),
    "transpose output_padding": (
        lambda: single(
            "ConvTranspose", (1, 3, 4, 4), [("w", rand(3, 2, 3, 3))], strides=[2, 2], output_padding=[2, 0]
        ),
        ["0 <= output_padding < strides", "output_padding=[2, 0], strides=[2, 2]"],
    ),
    "transpose output_shape": (
        lambda: single("ConvTranspose", (1, 3, 4, 4), [("w", rand(3, 2, 3, 3))], output_shape=[20, 20]),
        ["output_shape [20, 20] is larger than the transposed convolution's full output"],
    ),
    "batchnorm training": (
        lambda: single(
            "BatchNormalization",
            (1, 2, 3, 3),
            [("s", rand(2)), ("b", rand(2)), ("m", rand(2)), ("v", rand(2, positive=True))],
            training_mode=1,
        ),
        ["inference BatchNormalization with spatial=1", "training_mode=1"],
    ),
    "batchnorm inputs": (
        lambda: single("BatchNormalization", (1, 2, 3, 3), [("s", rand(2)), ("b", rand(2))]),
        ["expected X, scale, B, mean and var", "3 inputs"],
    ),
    "batchnorm shapes": (
        lambda: single(
            "BatchNormalization",
            (1, 2, 3, 3),
            [("s", rand(2)), ("b", rand(2)), ("m", rand(3)), ("v", rand(2, positive=True))],
        ),
        ["its mean must have shape (2,)", "shape (3,)"],
    ),
    "batchnorm variance": (lambda: single("BatchNormalization", (1, 2, 3, 3), [
        ("s", rand(2)), ("b", rand(2)), ("m", rand(2)), ("v", np.array([1.0, -0.5], np.float32))]),
        ["its var must be >= 0 everywhere", "minimum -0.5"]),
    "leaky alpha": (lambda: single("LeakyRelu", (1, 3), alpha=-0.1), ["alpha >= 0", "alpha=-0.1"]),
    "softmax batch": (
        lambda: single("Softmax", (2, 3), axis=0),
        ["axis must name a non-batch axis", "axis=0"],
    ),
    "clip min": (
        lambda: single("Clip", (1, 3), [("lo", np.float32(-1)), ("hi", np.float32(1))]),
        ["min must be 0", "min=-1.0, max=1.0"],
    ),
    "clip shape": (
        lambda: single("Clip", (1, 3), [("lo", np.zeros(2, np.float32))]),
        ["min must be one number", "shape (2,)"],
    ),
    "pool kernel": (lambda: single("MaxPool", (1, 3, 4, 4)), ["kernel_shape must hold 2 positive sizes"]),
    "pool dilation": (
        lambda: single("MaxPool", (1, 3, 4, 4), kernel_shape=[2, 2], dilations=[2, 2]),
        ["pooling has no dilation", "dilations=[2, 2]"],
    ),
    "pool pads too big": (
        lambda: single("MaxPool", (1, 3, 8, 8), kernel_shape=[2, 2], pads=[2, 0, 0, 0]),
        ["every pad must be smaller than the window"],
    ),
    "maxpool pads after conv": (
        lambda: model(
            [
                node("Conv", ["x", "w"], ["c"]),
                node("MaxPool", ["c"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            ],
            [("x", (1, 3, 10, 10))],
            inits={"w": rand(2, 3, 3, 3)},
        ),
        [
            "convolve's max pooling pads only as 'same'",
            "((1, 1), (1, 1))",
            "max pooling may pad with zeros only after an operator whose output is >= 0",
        ],
    ),
    "avgpool include and ceil": (
        lambda: single(
            "AveragePool",
            (1, 3, 8, 8),
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            count_include_pad=1,
            ceil_mode=1,
        ),
        ["count_include_pad=1 with ceil_mode=1"],
    ),
    "avgpool exclude not same": (
        lambda: single("AveragePool", (1, 3, 8, 8), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        ["average pooling pads only as 'same'"],
    ),
    "pool ceil dynamic": (
        lambda: single("MaxPool", (1, 3, "H", "W"), kernel_shape=[2, 2], ceil_mode=1),
        ["ceil_mode=1 needs the input's spatial sizes"],
    ),
    "reduce axes": (
        lambda: single("ReduceMean", (1, 3, 4, 4), [("a", np.array([1, 2]))], opset=18),
        ["over every spatial axis [2, 3] (global pooling) only", "axes=(1, 2)"],
    ),
    "flatten axis": (lambda: single("Flatten", (1, 3, 4, 4), axis=2), ["(axis=1)", "axis=2"]),
    "reshape batch": (
        lambda: single("Reshape", ("N", 3, 4), [("s", np.array([3, -1]))]),
        ["keeps axis 0 as the batch axis", "shape [3, -1]"],
    ),
    "reshape computed target": (
        lambda: model([node("Reshape", ["x", "x"], ["y"])], [("x", (1, 3))]),
        ["the target shape must be a 1-D integer constant or a folded shape", "Sym"],
    ),
    "reshape dynamic rest": (
        lambda: model(
            [node("Shape", ["x"], ["s"]), node("Reshape", ["x", "s"], ["y"])], [("x", ("N", 3, "L"))]
        ),
        ["a target shape of static positive sizes after the batch axis", "x[2]"],
    ),
    "squeeze batch": (
        lambda: single("Squeeze", (1, 3, 1), [("a", np.array([0]))]),
        ["the batch axis (0) must stay"],
    ),
    "squeeze range": (
        lambda: single("Squeeze", (1, 3, 1), [("a", np.array([5]))]),
        ["explicit axes in [-3, 2]"],
    ),
    "squeeze size": (
        lambda: single("Squeeze", (1, 3, 1), [("a", np.array([1]))]),
        ["every squeezed axis must have size 1"],
    ),
    "unsqueeze dynamic": (
        lambda: single("Unsqueeze", (1, "A", "B"), [("a", np.array([1]))]),
        ["at most one size known only at run time"],
    ),
    "dense rows": (
        lambda: model(  # a channels_first Flatten (the Conv's output), whose Dense permutes its rows
            [node("Conv", ["x", "w"], ["c"]), node("Flatten", ["c"], ["f"]), node("Gemm", ["f", "g"], ["y"])],
            [("x", (1, 2, 3, 3))],
            inits={"w": rand(2, 2, 1, 1), "g": rand(17, 4)},
        ),
        ["its weight has 17 rows for 18 features (flattened (2, 3, 3))"],
    ),
    "gemm transA": (lambda: single("Gemm", (3, 5), [("b", rand(3, 2))], transA=1), ["transA=1"]),
    "gemm alpha": (lambda: single("Gemm", (3, 5), [("b", rand(5, 2))], alpha=float("inf")),
                   ["alpha and beta must be finite", "alpha=inf"]),
    "gemm B": (lambda: single("Gemm", (3, 5), [("b", rand(5))]), ["B must be a matrix"]),
    "gemm C": (
        lambda: single("Gemm", (3, 5), [("b", rand(5, 2)), ("c", rand(3, 2))]),
        ["C must broadcast to (2,) for every sample", "shape (3, 2)"],
    ),
    "matmul B": (lambda: single("MatMul", (3, 5), [("b", rand(4, 2))]), ["B must be a (5, units) matrix"]),
    "merge ranks": (
        lambda: model(
            [
                node("GlobalAveragePool", ["x"], ["g"]),
                node("Flatten", ["g"], ["f"]),
                node("Add", ["x", "f"], ["y"]),
            ],
            [("x", (1, 3, 4, 4))],
        ),
        ["convolve merges tensors of one rank", "(None, 3, 4, 4) and (None, 3)"],
    ),
    "constant per sample": (
        lambda: single("Add", (2, 3), [("c", rand(2, 3))]),
        ["the constant must broadcast to every sample"],
    ),
    "divide tensors": (
        lambda: model([node("Div", ["x", "x"], ["y"])], [("x", (1, 3))]),
        ["no layer dividing two computed tensors", "Div of two computed tensors"],
    ),
    "divide by zero": (
        lambda: single("Div", (1, 3), [("c", np.array([1, 0, 1], np.float32))]),
        ["non-zero constant only", "a zero divisor"],
    ),
    "constant over tensor": (
        lambda: model([node("Div", ["c", "x"], ["y"])], [("x", (1, 3))], inits={"c": rand(3)}),
        ["a constant divided by a tensor"],
    ),
    "concat batch": (
        lambda: model([node("Concat", ["x", "x"], ["y"], axis=0)], [("x", (1, 3))]),
        ["along a non-batch axis", "axis=0"],
    ),
    "pad length": (
        lambda: single("Pad", (1, 3, 4, 4), [("p", np.array([1, 1]))]),
        ["pads must hold a (begin, end) value per axis"],
    ),
    "pad channels": (  # the Conv's output is channels_first: axis 1 holds its channels
        lambda: model(
            [node("Conv", ["x", "w"], ["c"]), node("Pad", ["c", "p"], ["y"])], [("x", (1, 3, 4, 4))],
            inits={"w": rand(3, 3, 1, 1), "p": np.array([0, 1, 0, 0, 0, 0, 0, 0])},
        ),
        ["pads the spatial axes only"],
    ),
    "pad value": (
        lambda: single(
            "Pad", (1, 3, 4, 4), [("p", np.array([0, 0, 1, 1, 0, 0, 1, 1])), ("v", np.float32(1))]
        ),
        ["zeros only", "constant_value=1.0"],
    ),
    "pad mixed signs": (
        lambda: single("Pad", (1, 3, 4, 4), [("p", np.array([0, 0, 1, -1, 0, 0, 1, 1]))]),
        ["convolve imports Pad as zeros", "mode='constant'"],
    ),
    "dropout training": (
        lambda: single("Dropout", (1, 3), [("r", np.float32(0.5)), ("t", np.array(True))]),
        ["inference Dropout", "training_mode=True"],
    ),
    "cast tensor": (lambda: single("Cast", (1, 3), to=7), ["compute in float32 throughout", "to=7"]),
}


@pytest.mark.parametrize("case", list(OPERATOR_ERRORS))
def test_operator_errors(tmp_path, case):
    make, fragments = OPERATOR_ERRORS[case]
    refused(tmp_path, make(), *fragments)


def test_flags_must_be_0_or_1(tmp_path):
    refused(tmp_path, single("MaxPool", (1, 3, 8, 8), kernel_shape=[2, 2], ceil_mode=5),
            "MaxPool node 'y': attribute 'ceil_mode' must be 0 or 1", "ceil_mode=5")


def test_mutated_graphs_load_exactly_or_are_refused(tmp_path):
    """Hand-built graphs with attributes, inputs and sizes changed at random: each loads or raises a
    ValueError naming the file; where it loads and ONNX Runtime runs it too, both compute the same."""
    from tests.saving.test_onnx_import import CASES, run

    rng = np.random.default_rng(21)
    makes = [make for make, _ in CASES.values()]
    path = tmp_path / "model.onnx"
    compared = 0
    for _ in range(150):
        proto = makes[rng.integers(len(makes))]()
        graph = proto.graph
        names = [v.name for v in graph.input] + [t.name for t in graph.initializer]
        names += [o for n in graph.node for o in n.output]
        target = graph.node[rng.integers(len(graph.node))]
        choice = rng.integers(3)
        if choice == 0 and len(target.input):
            target.input[rng.integers(len(target.input))] = names[rng.integers(len(names))]
        elif choice == 1 and len(target.attribute):
            attribute = target.attribute[rng.integers(len(target.attribute))]
            if attribute.type == 2:
                attribute.i = int(rng.integers(-2, 5))
            elif attribute.type == 7 and len(attribute.ints):
                attribute.ints[rng.integers(len(attribute.ints))] = int(rng.integers(-2, 5))
        else:
            dims = graph.input[0].type.tensor_type.shape.dim
            dims[rng.integers(len(dims))].dim_value = int(rng.integers(1, 9))
        save(proto, path)
        try:
            loaded = load_model(path)
        except ValueError as error:
            assert str(error).startswith(f"Cannot load '{path}': ")
            continue
        shape = [d.dim_value or 2 for d in graph.input[0].type.tensor_type.shape.dim]
        x = rand(*shape)
        try:
            want = run(proto, x)
        except Exception:  # ONNX Runtime refuses it too (its errors have many types)
            continue
        got = loaded.predict(x, verbose=0)
        assert got.shape == want[0].shape
        assert np.allclose(got, want[0], rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want[0]).max())))
        compared += 1
    assert compared > 30
