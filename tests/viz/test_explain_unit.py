"""convolve.viz.explain_unit: one unit of a model traced from its layer's weights and the previous
layer's output, checked against the model's own predictions; its receptive field checked against
a brute-force reference (perturb each input pixel, see which change the unit)."""
import importlib
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from convolve import viz
from convolve.layers import (
    Activation,
    Add,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Cropping1D,
    Cropping2D,
    Dense,
    DepthwiseConv1D,
    DepthwiseConv2D,
    Flatten,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    Input,
    LeakyReLU,
    MaxPooling2D,
    Permute,
    ReLU,
    SeparableConv1D,
    SeparableConv2D,
    Softmax,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
    clear_session,
)
from convolve.models import Model, Sequential
from convolve.viz.explain_unit import UnitExplanation, explain_unit, plot_unit

# the module itself (`convolve.viz.explain_unit` is the function, as `convolve.viz.explain` is)
explain_unit_module = importlib.import_module("convolve.viz.explain_unit")

F64 = "float64"


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield
    clear_session()


def randomize(model, seed=0):
    """Every weight drawn at random (variances positive), so biases and statistics count too."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape = w.value.shape
            values.append(rng.uniform(0.5, 2.0, shape) if "variance" in w.name else rng.normal(0, 0.7, shape))
        if values:
            layer.set_weights(values)
    return model


def rel_error(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


# ---- a pinned trace -------------------------------------------------------------------------


def line_model():
    """A 6x6 grey image through one 3x3 vertical-line detector, 'same' padding, bias 0.5, relu."""
    model = Sequential([Input((6, 6, 1), dtype=F64),
                        Conv2D(1, 3, padding="same", activation="relu", dtype=F64, name="detector")])
    kernel = np.zeros((3, 3, 1, 1))
    kernel[:, 1, 0, 0] = 1.0
    model.layers[0].set_weights([kernel, np.array([0.5])])
    image = np.zeros((6, 6, 1))
    image[:, 2, 0] = 1.0
    return model, image


def test_pinned_trace_of_a_line_detector_at_the_top_edge():
    model, image = line_model()
    printed = []
    unit = explain_unit(model, image, "detector", (0, 2), print_fn=printed.append)
    assert isinstance(unit, UnitExplanation)
    assert printed == [unit.text] and str(unit) == unit.text
    assert unit.value == 2.5 and unit.model_value == 2.5 and unit.difference == 0.0
    assert unit.total == 2.0 and unit.bias == 0.5 and unit.pre_activation == 2.5 and unit.activation == "relu"
    np.testing.assert_array_equal(unit.inputs[..., 0], [[0, 0, 0], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_array_equal(unit.padded, [[True] * 3, [False] * 3, [False] * 3])
    assert unit.input_indices == ((-1, 0, 1), (1, 2, 3))
    assert unit.receptive_field == ((0, 2), (1, 4))
    assert unit.receptive_field_unclipped == ((-1, 2), (1, 4))
    assert unit.text.splitlines() == [
        "detector (Conv2D), output (0, 2), channel 0: convolution",
        "reads rows -1..1, cols 1..3 of the model's input (input_layer)",
        "",
        "filter 0: the 3x3 kernel over input channel 0, stride (1, 1), padding 'same'",
        "(values in parentheses lie in the padding: zeros)",
        "",
        "patch           kernel    products",
        "(0), (0), (0)   0, 1, 0   0, 0, 0",
        "  0,   1,   0 * 0, 1, 0 = 0, 1, 0",
        "  0,   1,   0   0, 1, 0   0, 1, 0",
        "",
        "sum = 0 + 0 + 0 + 0 + 1 + 0 + 0 + 1 + 0 = 2",
        "+ bias 0.5 = 2.5",
        "relu(2.5) = 2.5",
        "",
        "the model computes 2.5 (difference 0)",
        "receptive field on the input (6 x 6): rows 0..1, cols 1..3 (2 x 3); "
        "(start, stop) = ((0, 2), (1, 4))",
        "unclipped (the windows' arithmetic, padding included): rows -1..1, cols 1..3 (3 x 3)",
    ]


def test_print_fn_none_is_silent_and_print_is_the_default(capsys):
    model, image = line_model()
    explain_unit(model, image, "detector", (2, 2), print_fn=None)
    assert capsys.readouterr().out == ""
    unit = explain_unit(model, image, "detector", (2, 2))
    assert capsys.readouterr().out == unit.text + "\n"


def test_index_picks_the_sample_of_a_batch_and_layer_by_index_or_object():
    model, image = line_model()
    batch = np.stack([np.zeros_like(image), image])
    by_index = explain_unit(model, batch, 0, (3, 2), index=1, print_fn=None)
    by_object = explain_unit(model, batch, model.layers[0], (3, 2), index=-1, print_fn=None)
    assert by_index.value == by_object.value == 3.5
    assert explain_unit(model, batch, "detector", (3, 2), index=0, print_fn=None).value == 0.5


def test_an_unbuilt_sequential_builds_for_x():
    model = Sequential([Conv2D(2, 3, dtype=F64), ReLU(dtype=F64)])
    x = np.random.default_rng(1).normal(size=(7, 7, 3))
    for position in [(4, 4), (0, 2), (3, 1)]:
        unit = explain_unit(model, x, 1, position, channel=1, print_fn=None)
        assert unit.value == model.predict(x[None], verbose=0)[(0, *position, 1)]


def test_names_are_reachable_through_convolve_viz_even_after_importing_the_module():
    import convolve.viz.explain_unit  # noqa: F401  (the submodule must not shadow the function)

    assert viz.explain_unit is explain_unit and viz.plot_unit is plot_unit
    assert viz.UnitExplanation is UnitExplanation
    assert {"explain_unit", "plot_unit", "UnitExplanation"} <= set(viz.__all__)


# ---- convolutions against the model, hypothesis-drawn ----------------------------------------


@st.composite
def conv_cases(draw):
    rank = draw(st.sampled_from([1, 2, 2, 3]))
    kind = draw(st.sampled_from(["conv", "depthwise", "separable"])) if rank < 3 else "conv"
    sizes = tuple(draw(st.integers(1, 8 if rank < 3 else 5)) for _ in range(rank))
    kernel = tuple(draw(st.integers(1, 4 if rank < 3 else 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    padding = draw(st.one_of(
        st.sampled_from(["valid", "same", "full"] + (["causal"] if rank == 1 else [])),
        st.tuples(*[st.tuples(st.integers(0, 3), st.integers(0, 3)) for _ in range(rank)]),
    ))
    channels = draw(st.integers(1, 4))
    case = dict(
        rank=rank, kind=kind, sizes=sizes, channels=channels,
        data_format=draw(st.sampled_from(["channels_last", "channels_first"])),
        activation=draw(st.sampled_from(["linear", "relu", "tanh", "sigmoid", "softmax"])),
        args=dict(kernel_size=kernel, strides=strides, dilation_rate=dilation, padding=padding,
                  padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])),
                  use_bias=draw(st.booleans())),
    )
    if kind == "conv":
        groups = draw(st.sampled_from([g for g in (1, 2, 4) if channels % g == 0]))
        case["args"].update(filters=groups * draw(st.integers(1, 3)), groups=groups)
    elif kind == "depthwise":
        case["args"].update(depth_multiplier=draw(st.integers(1, 3)))
    else:
        case["args"].update(filters=draw(st.integers(1, 3)), depth_multiplier=draw(st.integers(1, 2)))
    return case


def conv_layer(case):
    classes = {
        "conv": {1: Conv1D, 2: Conv2D, 3: Conv3D},
        "depthwise": {1: DepthwiseConv1D, 2: DepthwiseConv2D},
        "separable": {1: SeparableConv1D, 2: SeparableConv2D},
    }
    cls = classes[case["kind"]][case["rank"]]
    return cls(**case["args"], data_format=case["data_format"], activation=case["activation"], dtype=F64,
               name="unit_layer")


@given(conv_cases(), st.data())
def test_convolution_trace_equals_the_model(case, data):
    clear_session()
    shape = (*case["sizes"], case["channels"])
    if case["data_format"] == "channels_first":
        shape = (case["channels"], *case["sizes"])
    try:
        model = Sequential([Input(shape, dtype=F64), conv_layer(case)])
    except ValueError:  # an empty output, or an option the layer refuses
        assume(False)
    randomize(model, seed=data.draw(st.integers(0, 2**16)))
    x = np.random.default_rng(0).normal(size=shape)
    out = model.predict(x[None], verbose=0)[0]
    full = tuple(data.draw(st.integers(0, n - 1)) for n in out.shape)
    channel_axis = 0 if case["data_format"] == "channels_first" else out.ndim - 1
    position = tuple(v for a, v in enumerate(full) if a != channel_axis)
    unit = explain_unit(model, x, "unit_layer", position, full[channel_axis], print_fn=None)

    assert rel_error(unit.value, out[full]) < 1e-10 or abs(unit.value - out[full]) < 1e-12
    assert unit.model_value == out[full]
    assert unit.position == position and unit.channel == full[channel_axis]
    # the arithmetic holds together: products = patch * kernel, their sum, + bias, activation
    if case["kind"] == "separable":
        np.testing.assert_allclose(unit.products, unit.inputs[..., None] * unit.weights)
        sums = unit.details["depthwise_sums"]
        assert unit.total == pytest.approx(float(np.dot(sums, unit.details["pointwise_weights"])), abs=1e-12)
    else:
        np.testing.assert_allclose(unit.products, unit.inputs * unit.weights)
        assert unit.total == pytest.approx(float(unit.products.sum()), abs=1e-12)
    assert unit.pre_activation == pytest.approx(unit.total + unit.bias, abs=1e-12)
    assert unit.inputs.shape[: case["rank"]] == case["args"]["kernel_size"] == unit.padded.shape
    # the patch's padded cells are the taps outside the input
    outside = [np.array([not 0 <= i < n for i in idx]) for idx, n in zip(unit.input_indices, case["sizes"])]
    expected = np.zeros(unit.padded.shape, dtype=bool)
    for axis, flags in enumerate(outside):
        expected |= flags.reshape([-1 if a == axis else 1 for a in range(case["rank"])])
    np.testing.assert_array_equal(unit.padded, expected)


def test_float32_model_agrees_within_float32_tolerance():
    model = randomize(Sequential([Input((9, 9, 32)), Conv2D(16, 3, padding="same"), Dense(5)]), seed=3)
    x = np.random.default_rng(3).normal(size=(9, 9, 32)).astype(np.float32)
    out = model.predict(x[None], verbose=0)[0]
    unit = explain_unit(model, x, "dense", (4, 4), 2, print_fn=None)
    assert rel_error(unit.value, float(out[4, 4, 2])) < 1e-5
    assert unit.model_value == float(out[4, 4, 2])


def test_a_disagreement_with_the_model_is_reported_as_a_bug(monkeypatch):
    model, image = line_model()
    forward = explain_unit_module._forward

    def wrong(model, sample, target):
        values = forward(model, sample, target)
        values[id(target)] = values[id(target)] + 1e-3
        return values

    monkeypatch.setattr(explain_unit_module, "_forward", wrong)
    with pytest.raises(RuntimeError, match=r"differs from the model's own value by 0\.001.*a bug in "
                                           r"explain_unit\. Received: the model's value 2\.501"):
        explain_unit(model, image, "detector", (0, 2), print_fn=None)


def test_reflect_padding_marks_copied_cells():
    model = Sequential([Input((4, 1), dtype=F64), Conv1D(1, 3, padding="same", padding_mode="reflect",
                                                           use_bias=False, dtype=F64)])
    model.layers[0].set_weights([np.array([1.0, 10.0, 100.0]).reshape(3, 1, 1)])
    x = np.array([1.0, 2.0, 3.0, 4.0])[:, None]
    unit = explain_unit(model, x, 0, (0,), print_fn=None)
    np.testing.assert_array_equal(unit.inputs[:, 0], [2.0, 1.0, 2.0])  # index -1 reflects to 1
    assert unit.padded.tolist() == [True, False, False] and unit.value == 2 + 10 + 200
    assert (
        "(values in parentheses lie in the padding: copies of input cells, padding_mode 'reflect')"
        in unit.text
    )
    assert "(2),   1,   2 *   1,  10, 100 =   2,  10, 200" in unit.text
    assert "filter 0: the length-3 kernel over input channel 0, stride (1,), padding 'same'" in unit.text
    assert unit.receptive_field == ((0, 2),)  # the copy is of position 1, which is inside the window anyway


def test_many_channels_draw_the_three_that_weigh_most():
    model = randomize(Sequential([Input((5, 5, 6), dtype=F64), Conv2D(2, 3, dtype=F64)]), seed=4)
    unit = explain_unit(model, np.ones((5, 5, 6)), 0, (1, 1), 1, print_fn=None)
    sums = np.abs(unit.details["channel_sums"])
    drawn = sorted(np.argsort(-sums)[:3])
    assert [line for line in unit.text.splitlines() if line.startswith("input channel")] == [
        f"input channel {c}:" for c in drawn
    ]
    assert "(3 more input channels are not drawn; the 3 drawn weigh the most)" in unit.text
    assert "sum over the 6 input channels = " in unit.text
    assert unit.source_channel == int(np.argmax(sums))


def test_separable_trace_shows_depthwise_values_then_the_pointwise_step():
    model = randomize(Sequential([Input((5, 5, 2), dtype=F64),
                                  SeparableConv2D(3, 3, depth_multiplier=2, dtype=F64)]), seed=5)
    x = np.random.default_rng(5).normal(size=(5, 5, 2))
    unit = explain_unit(model, x, 0, (1, 2), 2, print_fn=None)
    assert unit.kind == "separable convolution" and unit.weights.shape == (3, 3, 2, 2)
    assert len(unit.details["depthwise_sums"]) == 4
    for q in range(4):
        assert f"depthwise value {q} = " in unit.text
    assert "pointwise: the 4 depthwise values times column 2 of the pointwise kernel" in unit.text


def test_conv3d_trace_is_written_one_depth_slice_at_a_time():
    model = randomize(Sequential([Input((3, 4, 4, 1), dtype=F64), Conv3D(1, 2, dtype=F64)]), seed=6)
    unit = explain_unit(model, np.ones((3, 4, 4, 1)), 0, (1, 2, 0), print_fn=None)
    assert "depth 0:" in unit.text and "depth 1:" in unit.text and "depth 2:" not in unit.text
    assert unit.receptive_field == ((1, 3), (2, 4), (0, 2))


# ---- pooling, Dense, BatchNormalization, activations -------------------------------------------


def test_max_pooling_names_the_winner_and_ignores_same_padding():
    model = Sequential([Input((5, 5, 1), dtype=F64), MaxPooling2D(2, padding="same", dtype=F64)])
    x = -np.arange(25, dtype=float).reshape(5, 5, 1) - 1.0  # all negative: a counted zero would win
    unit = explain_unit(model, x, 0, (2, 2), print_fn=None)
    assert unit.kind == "max pooling"
    assert unit.details == {"winner": (4, 4), "winner_value": -25.0} and unit.value == -25.0
    assert unit.padded.tolist() == [[False, True], [True, True]]
    assert "max = -25, at (4, 4)" in unit.text
    assert (
        "(3 of the 4 cells, in parentheses, lie in the padding and are not part of the window)" in unit.text
    )
    inner = explain_unit(model, x, 0, (0, 1), print_fn=None)
    assert inner.details["winner"] == (0, 2) and inner.value == -3.0


def test_max_pooling_ties_name_the_first_cell():
    model = Sequential([Input((2, 2, 1), dtype=F64), MaxPooling2D(2, dtype=F64)])
    unit = explain_unit(model, np.ones((2, 2, 1)), 0, (0, 0), print_fn=None)
    assert unit.details["winner"] == (0, 0)
    assert "max = 1, at (0, 0) (the first of the 4 cells that hold it, in row-major order)" in unit.text


def test_average_pooling_same_counts_only_cells_inside_at_the_edges():
    model = Sequential(
        [Input((4, 4, 2), dtype=F64), AveragePooling2D(3, strides=1, padding="same", dtype=F64)]
    )
    x = np.arange(32, dtype=float).reshape(4, 4, 2)
    corner = explain_unit(model, x, 0, (0, 0), 1, print_fn=None)
    cells = x[0:2, 0:2, 1]
    assert corner.details == {"count": 4} and corner.total == cells.sum() and corner.value == cells.mean()
    assert "sum = 1 + 3 + 9 + 11 = 24" in corner.text
    assert "mean = 24 / 4 cells = 6 (padding cells are not counted)" in corner.text
    assert (
        "(5 of the 9 cells, in parentheses, lie in the padding and are not part of the window)" in corner.text
    )
    middle = explain_unit(model, x, 0, (1, 2), 0, print_fn=None)
    assert middle.details == {"count": 9} and middle.value == x[0:3, 1:4, 0].mean()


def test_global_pooling_reads_the_whole_map():
    x = np.random.default_rng(7).normal(size=(3, 4, 2))
    for cls, expected, kind in ((GlobalMaxPooling2D, x[..., 1].max(), "global max pooling"),
                                (GlobalAveragePooling2D, x[..., 1].mean(), "global average pooling")):
        model = Sequential([Input((3, 4, 2), dtype=F64), cls(dtype=F64)])
        unit = explain_unit(model, x, 0, None, 1, print_fn=None)
        assert unit.kind == kind and unit.value == pytest.approx(expected, rel=1e-14)
        assert unit.position == () and unit.receptive_field == ((0, 3), (0, 4))


def test_dense_lists_the_largest_terms_and_sums_the_rest():
    model = Sequential([Input((6,), dtype=F64), Dense(3, activation="softmax", dtype=F64)])
    kernel = np.arange(18, dtype=float).reshape(6, 3) / 10 - 0.8
    model.layers[0].set_weights([kernel, np.array([0.1, -0.2, 0.3])])
    x = np.array([1.0, -2.0, 0.5, 3.0, 0.0, -1.0])
    unit = explain_unit(model, x, "dense", None, 1, top_k=3, print_fn=None)
    products = x * kernel[:, 1]
    order = [int(i) for i in np.argsort(-np.abs(products), kind="stable")[:3]]
    assert [t[0] for t in unit.details["top_terms"]] == order == [1, 5, 0]  # |0.8|, |-0.8|, |-0.7|
    assert unit.details["rest"] == pytest.approx(products[[2, 3, 4]].sum())
    assert unit.total == pytest.approx(products.sum()) and unit.bias == -0.2
    z = x @ kernel + np.array([0.1, -0.2, 0.3])
    assert unit.value == pytest.approx(np.exp(z[1]) / np.exp(z).sum(), rel=1e-12)
    assert "the 3 largest of the 6 terms w*x (by |w*x|):" in unit.text
    assert "  input 1: x = -2, w = -0.4, w*x = 0.8" in unit.text
    assert (
        "the other 3 terms sum to " in unit.text
        and "softmax of the 3 values along the last axis" in unit.text
    )
    assert unit.input_size == () and unit.receptive_field == ()


def test_dense_after_flatten_sees_every_pixel_a_window_reads():
    # a 2x2 stride-2 'valid' convolution of 7 pixels never reads the last row and column
    model = randomize(Sequential([Input((7, 7, 1), dtype=F64), Conv2D(2, 2, strides=2, dtype=F64), Flatten(),
                                  Dense(4, dtype=F64)]), seed=8)
    unit = explain_unit(model, np.ones((7, 7, 1)), "dense", None, 2, print_fn=None)
    assert unit.receptive_field == ((0, 6), (0, 6)) and unit.receptive_field_unclipped == ((0, 6), (0, 6))
    assert_field_matches_brute_force(model, np.random.default_rng(8).normal(size=(7, 7, 1)), unit, (2,))


def test_batch_normalization_shows_its_statistics():
    model = Sequential([Input((3, 3, 2), dtype=F64), BatchNormalization(dtype=F64)])
    model.layers[0].set_weights([np.array([1.0, 2.0]), np.array([0.5, -0.5]), np.array([0.1, 0.2]),
                                 np.array([4.0, 0.999])])
    x = np.full((3, 3, 2), 3.2)
    unit = explain_unit(model, x, 0, (1, 1), 1, print_fn=None)
    assert unit.details["statistics"] == {"moving_mean": 0.2, "moving_variance": 0.999, "gamma": 2.0,
                                          "beta": -0.5, "epsilon": 0.001}
    assert unit.value == pytest.approx((3.2 - 0.2) / 1.0 * 2.0 - 0.5, rel=1e-12)
    assert "= (3.2 - 0.2) / sqrt(0.999 + 0.001) * 2 + -0.5" in unit.text


def test_activation_layers_show_input_and_output():
    x = np.array([[-2.0, 0.5, 3.0]])
    cases = [
        (ReLU(dtype=F64), 0, 0.0, "ReLU: x if x > 0, else 0"),
        (ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2, dtype=F64), 2, 1.0,
         "ReLU: min(x, 1) if x > 0.2, else 0.1 * (x - 0.2)"),
        (LeakyReLU(0.3, dtype=F64), 0, -0.6, "LeakyReLU: x if x > 0, else 0.3 * x"),
        (Activation("sigmoid", dtype=F64), 1, 1 / (1 + np.exp(-0.5)), "sigmoid(0.5) = 0.6225"),
        (Activation("softmax", dtype=F64), 2, np.exp(3) / np.exp(x).sum(),
         "softmax of the 3 values along the last axis (this one 3) = 0.9184"),
        (Softmax(dtype=F64), 1, np.exp(0.5) / np.exp(x).sum(), "softmax over the 3 values along axis (-1,):"),
    ]
    for layer, channel, expected, text in cases:
        model = Sequential([Input((1, 3), dtype=F64), layer])
        unit = explain_unit(model, x, 0, (0,), channel, print_fn=None)
        assert unit.kind == "activation" and unit.value == pytest.approx(expected, rel=1e-12)
        assert text in unit.text and float(unit.inputs) == x[0, channel]


def test_channels_first_pooling_and_activation_read_the_right_axis():
    model = Sequential([Input((2, 4, 4), dtype=F64), Conv2D(3, 1, data_format="channels_first", dtype=F64),
                        ReLU(dtype=F64), MaxPooling2D(2, data_format="channels_first", dtype=F64)])
    randomize(model, seed=9)
    x = np.random.default_rng(9).normal(size=(2, 4, 4))
    out = model.predict(x[None], verbose=0)[0]
    pool = explain_unit(model, x, "max_pooling2d", (1, 0), 2, print_fn=None)
    assert pool.value == out[2, 1, 0] and pool.receptive_field == ((2, 4), (0, 2))
    relu = explain_unit(model, x, "re_lu", (3, 1), 2, print_fn=None)
    assert relu.receptive_field == ((3, 4), (1, 2)) and relu.source_channel == 2


# ---- the receptive field against brute force ---------------------------------------------------


def assert_field_matches_brute_force(model, x, unit, full):
    """Perturb each input pixel (all its channels) and box the pixels that change the unit."""
    channels_first = unit.image.shape != x.shape  # the explanation keeps the input channels last
    spatial = x.shape[1:] if channels_first else x.shape[:-1]
    pixels = list(np.ndindex(*spatial))
    batch = np.repeat(x[None], len(pixels) + 1, axis=0)
    for k, pixel in enumerate(pixels):
        index = (k + 1, slice(None), *pixel) if channels_first else (k + 1, *pixel)
        batch[index] += 1.0
    y = model.predict(batch, verbose=0)[(slice(None), *full)]
    changed = np.abs(y[1:] - y[0]) > 1e-9 * (1 + abs(y[0]))
    hits = np.array(pixels)[changed]
    expected = (
        None if not len(hits) else tuple((int(a), int(b) + 1) for a, b in zip(hits.min(0), hits.max(0)))
    )
    assert unit.receptive_field == expected


def field_layer(draw, kind, rank, fmt):
    """One layer of kind ``kind`` with drawn sizes, float64, in data format ``fmt``."""
    ints = st.tuples(*[st.integers(1, 3) for _ in range(rank)])
    pad = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    pads = pad if rank == 1 else (pad, pad[::-1])
    common = dict(data_format=fmt, dtype=F64)
    if kind in ("conv", "depthwise", "separable"):
        cls = {"conv": (Conv1D, Conv2D), "depthwise": (DepthwiseConv1D, DepthwiseConv2D),
               "separable": (SeparableConv1D, SeparableConv2D)}[kind][rank - 1]
        args = (2,) if kind != "depthwise" else ()
        return cls(
            *args,
            kernel_size=draw(ints),
            strides=draw(ints),
            dilation_rate=draw(ints),
            padding=draw(st.sampled_from(["valid", "same", "full", 1, ((0, 2),) * rank])),
            padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])),
            **common,
        )
    if kind == "pool":
        return (AveragePooling1D, AveragePooling2D)[rank - 1](
            draw(ints), strides=draw(ints), padding=draw(st.sampled_from(["valid", "same"])), **common)
    if kind == "transpose":
        return (Conv1DTranspose, Conv2DTranspose)[rank - 1](
            1, draw(ints), strides=draw(ints), padding=draw(st.sampled_from(["valid", "same"])), **common)
    if kind == "pad":
        return (ZeroPadding1D, ZeroPadding2D)[rank - 1](pads, **common)
    if kind == "crop":
        return (Cropping1D, Cropping2D)[rank - 1](pads, **common)
    if kind == "upsample":  # UpSampling1D is channels_last only
        return UpSampling1D(2, dtype=F64) if rank == 1 else UpSampling2D((2, 1), **common)
    return BatchNormalization(axis=-1 if fmt == "channels_last" else 1, dtype=F64)


@st.composite
def field_models(draw):
    """A small linear float64 model (1-D or 2-D, either layout) of 1-3 drawn layers."""
    rank = draw(st.sampled_from([1, 2]))
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]))
    sizes = tuple(draw(st.integers(3, 10)) for _ in range(rank))
    channels = draw(st.integers(1, 2))
    shape = (*sizes, channels) if fmt == "channels_last" else (channels, *sizes)
    kinds = ["conv", "conv", "pool", "depthwise", "separable", "pad", "crop", "transpose", "norm"]
    if fmt == "channels_last" or rank == 2:
        kinds.append("upsample")
    layers = [
        field_layer(draw, draw(st.sampled_from(kinds)), rank, fmt) for _ in range(draw(st.integers(1, 3)))
    ]
    return shape, fmt, layers


@given(field_models(), st.data())
def test_receptive_field_equals_brute_force(made, data):
    clear_session()
    shape, fmt, layers = made
    try:  # the unit is traced on a ReLU of slope 1 (linear) after them, which follows any layer
        model = Sequential(
            [Input(shape, dtype=F64), *layers, ReLU(negative_slope=1.0, dtype=F64, name="unit")]
        )
    except ValueError:
        assume(False)
    randomize(model, seed=data.draw(st.integers(0, 2**16)))
    x = np.random.default_rng(1).normal(size=shape)
    out = model.predict(x[None], verbose=0)[0]
    full = tuple(data.draw(st.integers(0, n - 1)) for n in out.shape)
    channel_axis = 0 if fmt == "channels_first" else out.ndim - 1
    position = tuple(v for a, v in enumerate(full) if a != channel_axis)
    unit = explain_unit(model, x, "unit", position, full[channel_axis], print_fn=None)
    assert unit.value == out[full]
    assert_field_matches_brute_force(model, x, unit, full)
    # the unclipped box is the summary's receptive field for plain window stacks
    if all(type(layer).__name__.startswith(("Conv", "Average", "Depthwise", "Separable", "Batch"))
           and "Transpose" not in type(layer).__name__ for layer in layers):
        size = model.summary_rows()[-1]["receptive_field"]
        assert tuple(b - a for a, b in unit.receptive_field_unclipped) == size


def test_receptive_field_through_branches_is_the_union():
    inputs = Input((12, 12, 1), dtype=F64)
    wide = Conv2D(1, 5, padding="same", dtype=F64)(inputs)
    narrow = Conv2D(1, (1, 3), strides=1, padding="valid", dtype=F64)(
        ZeroPadding2D(((0, 0), (1, 1)), dtype=F64)(inputs))
    shifted = Conv2D(1, 3, padding="same", dtype=F64)(Cropping2D(((0, 0), (0, 0)), dtype=F64)(narrow))
    y = Conv2D(1, 1, dtype=F64, name="head")(Add(dtype=F64)([wide, shifted]))
    model = randomize(Model(inputs, y), seed=10)
    x = np.random.default_rng(10).normal(size=(12, 12, 1))
    for position in [(0, 0), (5, 7), (11, 3)]:
        unit = explain_unit(model, x, "head", position, print_fn=None)
        assert_field_matches_brute_force(model, x, unit, (*position, 0))
    assert explain_unit(model, x, "head", (5, 7), print_fn=None).receptive_field == ((3, 8), (5, 10))


def test_a_branch_that_reads_only_padding_adds_nothing_to_the_union():
    # at output (0, 0) branch a reads zero padding on the rows (its columns alone would add col 0);
    # branch b reads input pixel (0, 3)
    inputs = Input((6, 6, 1), dtype=F64)
    a = Cropping2D(((0, 3), (0, 0)), dtype=F64)(Conv2D(1, 1, padding=((3, 0), (0, 0)), dtype=F64)(inputs))
    b = Cropping2D(((0, 0), (3, 0)), dtype=F64)(ZeroPadding2D(((0, 0), (0, 3)), dtype=F64)(inputs))
    model = randomize(Model(inputs, ReLU(negative_slope=1.0, dtype=F64, name="unit")(Add(dtype=F64)([a, b]))))
    x = np.random.default_rng(14).normal(size=(6, 6, 1))
    unit = explain_unit(model, x, "unit", (0, 0), print_fn=None)
    assert unit.receptive_field == ((0, 1), (3, 4))
    assert_field_matches_brute_force(model, x, unit, (0, 0, 0))


def test_dilated_window_whose_only_taps_inside_skip_a_pixel():
    # output 0 of a 3-tap, dilation-2 window with 1 cell of padding reads positions -1, 1, 3: not 0
    model = Sequential(
        [Input((6, 1), dtype=F64), Conv1D(1, 3, dilation_rate=2, padding=((1, 0),), dtype=F64)]
    )
    randomize(model, seed=11)
    x = np.random.default_rng(11).normal(size=(6, 1))
    unit = explain_unit(model, x, 0, (0,), print_fn=None)
    assert unit.receptive_field == ((1, 4),) and unit.receptive_field_unclipped == ((-1, 4),)
    assert_field_matches_brute_force(model, x, unit, (0, 0))


def test_a_unit_that_reads_only_padding_has_an_empty_field():
    model = Sequential([Input((2, 1), dtype=F64), Conv1D(1, 2, padding=((3, 0),), dtype=F64)])
    unit = explain_unit(model, np.ones((2, 1)), 0, (0,), print_fn=None)
    assert unit.receptive_field is None and unit.receptive_field_unclipped == ((-3, -1),)
    assert "receptive field on the input (2): empty (the unit reads only padding)" in unit.text


# ---- errors ---------------------------------------------------------------------------------------


def test_unsupported_layers_list_the_supported_kinds():
    model = Sequential([Input((4, 4, 1), dtype=F64), Flatten()])
    with pytest.raises(ValueError, match=r"layer Flatten 'flatten' of type Flatten is not traced; the layers "
                                         r"traced are Conv1D, Conv2D, Conv3D, DepthwiseConv1D.*Softmax\. "
                                         r"Received: layer='flatten'"):
        explain_unit(model, np.ones((4, 4, 1)), "flatten", None)
    with pytest.raises(ValueError, match=r"is the model's input, which has no arithmetic; the layers traced"):
        explain_unit(Model(model.inputs[0], model.outputs[0]), np.ones((4, 4, 1)), 0, None)


def test_permute_stops_the_receptive_field_with_a_message():
    model = Sequential([Input((4, 5, 1), dtype=F64), Permute((2, 1, 3)), ReLU(dtype=F64)])
    with pytest.raises(
        ValueError,
        match=r"the receptive field cannot be followed through layer Permute "
        r"'permute' of type Permute .* Received: input spatial size \(4, 5\), "
        r"output spatial size \(5, 4\)",
    ):
        explain_unit(model, np.ones((4, 5, 1)), "re_lu", (1, 1), print_fn=None)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(model="model"), TypeError, r"expected a Sequential or a functional Model\. Received: str"),
        (dict(layer=1.5), TypeError, r"the `layer` argument must be one layer's name.*Received: layer=1\.5"),
        (dict(layer=["detector"]), TypeError, r"Received: layer=\['detector'\]"),
        (
            dict(layer="nope"),
            ValueError,
            r"the `layer` argument must name a layer of Sequential 'sequential' by "
            r"name, by index into its 1 layers, or as the layer object; its layers are "
            r"\['detector'\]\. Received: layer='nope'",
        ),
        (dict(layer=1), ValueError, r"its layers are \['detector'\]\. Received: layer=1"),
        (dict(layer=Dense(2)), ValueError, r"Received: layer=<Dense name=dense"),
        (
            dict(position=(1,)),
            ValueError,
            r"`position` argument must be 2 ints for the output of Conv2D "
            r"'detector', \(6, 6, 1\)\. Received: position=\(1,\)",
        ),
        (
            dict(position=(1, 6)),
            ValueError,
            r"must lie inside the output of Conv2D 'detector', whose positions "
            r"are 0\.\.5, 0\.\.5\. Received: position=\(1, 6\)",
        ),
        (dict(position=(1.0, 2)), ValueError, r"Received: position=\(1\.0, 2\)"),
        (
            dict(channel=1),
            ValueError,
            r"one of the 1 channels of Conv2D 'detector''s output \(0\.\.0\)\. "
            r"Received: channel=1",
        ),
        (dict(channel=True), ValueError, r"Received: channel=True"),
        (dict(index=1), ValueError, r"choose one of the 1 samples of x\. Received: index=1"),
        (dict(top_k=0), ValueError, r"`top_k` argument must be a positive integer\. Received: top_k=0"),
        (dict(x=np.ones((6, 6))), ValueError, r"takes inputs of rank 4.*Received: x with shape \(6, 6\)"),
        (
            dict(path="/no/such/folder/unit.png"),
            FileNotFoundError,
            r"the folder to save the PNG in does not exist",
        ),
    ],
)
def test_errors_name_what_was_expected(kwargs, error, text):
    model, image = line_model()
    args = dict(model=model, x=image, layer="detector", position=(0, 2), print_fn=None)
    args.update(kwargs)
    with pytest.raises(error, match=text):
        explain_unit(**args)


def test_a_model_with_two_inputs_is_refused():
    a, b = Input((4, 1), dtype=F64), Input((4, 1), dtype=F64)
    model = Model([a, b], ReLU(dtype=F64)(Add(dtype=F64)([a, b])))
    with pytest.raises(ValueError, match=r"the model must have one input.*Received: a model with 2 inputs"):
        explain_unit(model, [np.ones((4, 1))] * 2, "re_lu", (0,))


# ---- the picture --------------------------------------------------------------------------------


def small_cnn():
    model = Sequential(
        [
            Input((10, 10, 1), dtype=F64),
            Conv2D(3, 3, padding="same", activation="relu", dtype=F64),
            MaxPooling2D(2, dtype=F64),
            Conv2D(2, 3, dtype=F64),
            Flatten(),
            Dense(3, dtype=F64),
        ]
    )
    return randomize(model, seed=12)


def test_picture_shows_the_field_the_window_and_the_unit(tmp_path):
    pytest.importorskip("matplotlib")
    Image = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(12).normal(size=(10, 10, 1))
    path = tmp_path / "unit.png"
    unit = explain_unit(small_cnn(), x, "conv2d_1", (1, 2), 1, print_fn=None, path=path)
    fig = unit.figure
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == tuple(round(v) for v in fig.get_size_inches() * fig.dpi)
    assert unit.receptive_field == ((1, 9), (3, 10))
    assert fig.axes[0].get_title() == "input\nreceptive field: rows 1..8, cols 3..9"
    image_ax, source_ax, output_ax = fig.axes[:3]
    box = [p for p in image_ax.patches if p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)][0]
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (2.5, 0.5, 7, 8)
    np.testing.assert_array_equal(np.asarray(output_ax.images[0].get_array()), unit.feature_map)
    np.testing.assert_array_equal(np.asarray(source_ax.images[0].get_array()), unit.source_map)
    summary = fig.axes[3]
    assert (
        summary.get_title() == "the arithmetic"
        and f"the model: {unit.model_value:.4g}" in summary.texts[0].get_text()
    )
    k = unit.details["channels"].index(unit.source_channel)
    grids = {
        ax.get_title().split("\n")[0].split(" (")[0]: np.asarray(ax.images[0].get_array())
        for ax in fig.axes[4:]
    }
    np.testing.assert_array_equal(grids["patch"], unit.inputs[..., k])
    np.testing.assert_array_equal(grids["kernel"], unit.weights[..., k])
    np.testing.assert_array_equal(grids["products"], unit.products[..., k])
    np.testing.assert_allclose(grids["products summed over 3 channels"], unit.products.sum(axis=-1))
    assert len(fig.axes) == 8  # 3 maps, the arithmetic, patch, kernel, products, products over all channels


def test_plot_unit_draws_pooling_and_dense_and_refuses_other_things(tmp_path):
    pytest.importorskip("matplotlib")
    model, x = small_cnn(), np.random.default_rng(13).normal(size=(10, 10, 1))
    pool = explain_unit(model, x, "max_pooling2d", (2, 3), 0, print_fn=None)
    fig = plot_unit(pool, path=tmp_path / "pool.png")
    window = fig.axes[4]
    np.testing.assert_array_equal(np.asarray(window.images[0].get_array()), pool.inputs)
    dense = plot_unit(explain_unit(model, x, "dense", None, 1, print_fn=None))
    assert dense.axes[-1].get_title().startswith("largest terms w*x")
    with pytest.raises(TypeError, match=r"expected what explain_unit returns \(a UnitExplanation\)\. "
                                        r"Received: dict"):
        plot_unit({})
    cube = explain_unit(Sequential([Input((2, 2, 2, 1), dtype=F64), Conv3D(1, 1, dtype=F64)]),
                        np.ones((2, 2, 2, 1)), 0, (0, 0, 0), print_fn=None)
    with pytest.raises(
        ValueError,
        match=r"pictures are drawn for models with 1-D and 2-D inputs and layers\. "
        r"Received: input size \(2, 2, 2\)",
    ):
        plot_unit(cube)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    model, image = line_model()
    unit = explain_unit(model, image, "detector", (0, 2), print_fn=None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "convolve\[viz\]"'):
        plot_unit(unit)
