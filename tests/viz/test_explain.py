"""convolve.viz.explain: one output value and its trace, checked against ops.conv.conv."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.conv import conv
from convolve.viz.explain import Explanation, _num, explain


def vertical_line_image():
    """The seeds' 8x8 image with a vertical line in columns 3 and 4."""
    image = np.zeros((8, 8))
    image[:, 3:5] = 1.0
    return image


DETECTOR = [[0, 1, 0], [0, 1, 0], [0, 1, 0]]


def reference(x, kernel, bias, strides, padding, dilation, at):
    """conv's value at ``at`` for one (*S, C) image and a (*K, C) kernel."""
    y = conv(
        x[None], kernel[..., None], np.array([bias]), strides=strides, padding=padding, dilation_rate=dilation
    )
    return y[(0, *at, 0)]


# --- the seed's example ---------------------------------------------------------------


def test_seed_vertical_line_at_0_2_is_3():
    lines = []
    e = explain(vertical_line_image(), DETECTOR, at=(0, 2), print_fn=lines.append)
    assert isinstance(e, Explanation)
    assert e.value == 3.0 and e.total == 3.0 and e.bias == 0.0
    np.testing.assert_array_equal(e.patch[..., 0], [[0, 1, 1]] * 3)
    np.testing.assert_array_equal(e.products[..., 0], [[0, 1, 0]] * 3)
    assert e.rows == (0, 1, 2) and e.cols == (2, 3, 4)
    assert e.output_shape == (6, 6)
    assert len(lines) == 1 and lines[0] == str(e)
    text = lines[0]
    assert "sum = 0 + 1 + 0 + 0 + 1 + 0 + 0 + 1 + 0 = 3" in text
    assert "+ bias 0 = 3" in text
    assert "out = floor((8 + 0 + 0 - 1*(3-1) - 1) / 1) + 1 = 6" in text
    assert "0, 1, 1 * 0, 1, 0 = 0, 1, 0" in text  # patch * filter = products, middle row


def test_seed_feature_map_row_matches_explain_everywhere():
    image = vertical_line_image()
    row = [explain(image, DETECTOR, at=(0, c), print_fn=None).value for c in range(6)]
    assert row == [0.0, 0.0, 3.0, 3.0, 0.0, 0.0]


def test_print_fn_none_is_silent(capsys):
    explain(vertical_line_image(), DETECTOR, at=(1, 1), print_fn=None)
    assert capsys.readouterr().out == ""
    explain(vertical_line_image(), DETECTOR, at=(1, 1))
    assert "sum =" in capsys.readouterr().out


# --- agreement with conv on random configurations -------------------------------------


@st.composite
def configs(draw):
    n = draw(st.sampled_from([1, 2]))
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    d = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    padding = draw(st.sampled_from(["valid", "same", "full", 1]))
    sizes = tuple(draw(st.integers(di * (ki - 1) + 1, di * (ki - 1) + 7)) for ki, di in zip(k, d))
    c = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    return n, k, d, s, padding, sizes, c, seed


@given(configs(), st.data())
def test_value_matches_conv(config, data):
    n, k, d, s, padding, sizes, c, seed = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*sizes, c))
    kernel = rng.standard_normal((*k, c))
    bias = float(rng.standard_normal())
    from convolve.ops.shapes import conv_output_shape

    out, _ = conv_output_shape(sizes, k, s, padding, d)
    at = tuple(data.draw(st.integers(0, o - 1)) for o in out)
    x_before, kernel_before = x.copy(), kernel.copy()
    lines = []
    e = explain(x, kernel, bias, strides=s, padding=padding, dilation_rate=d, at=at, print_fn=lines.append)
    expected = reference(x, kernel, bias, s, padding, d, at)
    assert abs(e.value - expected) <= 1e-10 * max(1.0, abs(expected))
    assert e.output_shape == out
    np.testing.assert_allclose(e.products, e.patch * e.kernel)
    assert e.patch.shape == kernel.shape == e.kernel.shape
    # the patch holds the input where the taps land inside it, zeros where they are padding
    for pos in np.ndindex(*k):
        src = tuple(e.input_indices[a][pos[a]] for a in range(n))
        inside = all(0 <= i < size for i, size in zip(src, sizes))
        np.testing.assert_array_equal(e.patch[pos], x[src] if inside else 0.0)
    # the printed trace carries the value, the bias and the output sizes
    assert f"+ bias {_num(bias)} = {_num(e.value)}" in lines[0]
    for o in out:
        assert f") + 1 = {o}" in lines[0]
    np.testing.assert_array_equal(x, x_before)  # the caller's arrays are untouched
    np.testing.assert_array_equal(kernel, kernel_before)


def test_batch_filter_and_bias_vector_pick_the_layer_value():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 7, 6, 2))
    kernel = rng.standard_normal((3, 2, 2, 4))
    bias = rng.standard_normal(4)
    y = conv(x, kernel, bias, strides=(2, 1), padding="same")
    for index, f, at in [(0, 0, (0, 0)), (2, 3, (3, 5)), (1, 2, (2, 1))]:
        e = explain(
            x, kernel, bias, strides=(2, 1), padding="same", at=at, filter=f, index=index, print_fn=None
        )
        assert abs(e.value - y[(index, *at, f)]) < 1e-12
        assert e.bias == bias[f]


def test_channel_explains_one_input_channel_alone():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 6, 3))
    k2 = rng.standard_normal((3, 3))
    e = explain(x, k2, at=(1, 2), channel=1, print_fn=None)
    expected = conv(x[None, ..., 1:2], k2[..., None, None])[0, 1, 2, 0]
    assert abs(e.value - expected) < 1e-12
    # with a multi-channel kernel, its slice for that channel is used
    k3 = rng.standard_normal((3, 3, 3))
    e = explain(x, k3, at=(1, 2), channel=2, print_fn=None)
    expected = conv(x[None, ..., 2:3], k3[..., 2:3, None])[0, 1, 2, 0]
    assert abs(e.value - expected) < 1e-12
    assert "input channel 2 alone" in str(e)


def test_multichannel_trace_shows_each_channel_and_their_sum():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, (4, 4, 2)).astype(float)
    kernel = rng.integers(-2, 3, (2, 2, 2)).astype(float)
    e = explain(x, kernel, at=(1, 1), print_fn=None)
    text = str(e)
    assert "channel 0:" in text and "channel 1:" in text
    sums = [e.products[..., c].sum() for c in range(2)]
    assert "channel 1 sum = " in text
    assert f"sum = {_num(sums[0])} " in text and f"= {_num(e.total)}" in text
    assert e.total == pytest.approx(sum(sums))


def test_strided_same_arithmetic_text():
    # 7 wide, kernel 3, stride 2, 'same': out = ceil(7 / 2) = 4, total padding = (4-1)*2 + 3 - 7 = 2
    e = explain(np.ones((7, 7)), np.ones((3, 3)), strides=2, padding="same", at=(3, 3), print_fn=None)
    text = str(e)
    assert "out = floor((7 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = 4" in text
    assert "padding 'same': 1 before, 1 after" in text
    # the last window hangs one pixel over the bottom-right: rows 5..7, row 7 is padding
    assert e.rows == (5, 6, 7) and e.value == 4.0
    assert "padding zeros" in text
    # even input: 8 wide, stride 2 -> total padding 1, all of it after (TensorFlow's split)
    e = explain(np.ones((8, 8)), np.ones((3, 3)), strides=2, padding="same", at=(0, 0), print_fn=None)
    assert "out = floor((8 + 0 + 1 - 1*(3-1) - 1) / 2) + 1 = 4" in str(e)


def test_dilated_taps_are_listed():
    e = explain(np.arange(10.0), [1.0, -2.0, 3.0], at=4, dilation_rate=2, padding="same", print_fn=None)
    assert e.rows == (2, 4, 6)
    np.testing.assert_array_equal(e.patch[:, 0], [2, 4, 6])
    assert e.value == 2 - 8 + 18
    text = str(e)
    assert "input positions 2, 4, 6" in text and "sum = 2 - 8 + 18 = 12" in text


def test_one_dimensional_with_channels_matches_conv():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 2))
    kernel = rng.standard_normal((3, 2, 5))
    y = conv(x[None], kernel, strides=3, padding="causal")
    e = explain(x, kernel, padding="causal", strides=3, at=(2,), filter=4, print_fn=None)
    assert abs(e.value - y[0, 2, 4]) < 1e-12
    with pytest.raises(AttributeError):
        _ = e.cols


def test_long_sums_are_summarised():
    e = explain(np.ones((9, 9, 3)), np.ones((7, 7, 3)), at=(0, 0), print_fn=None)
    assert "sum of the 49 products = 49" in str(e)
    assert e.value == 147.0


def test_named_kernel_from_filters():
    filters = pytest.importorskip("convolve.filters")
    if not hasattr(filters, "get"):
        pytest.skip("convolve.filters.get is not there yet")
    kernel = filters.get("vertical_line")
    e = explain(vertical_line_image(), "vertical_line", at=(0, 2), print_fn=None)
    np.testing.assert_array_equal(e.kernel[..., 0], kernel)
    expected = conv(vertical_line_image()[None, ..., None], np.asarray(kernel, float)[..., None, None])[
        0, 0, 2, 0
    ]
    assert e.value == pytest.approx(expected)


# --- errors, raised before any arithmetic ---------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (
            dict(at=(6, 0)),
            ValueError,
            r"explain: .*inside the output, which is 6 x 6 .*Received: at=\(6, 0\)",
        ),
        (dict(at=(0, -1)), ValueError, r"which is 6 x 6.*Received: at=\(0, -1\)"),
        (dict(at=None), TypeError, r"explain: the `at` argument is required.*Received: at=None"),
        (dict(at=(0, 0, 0)), ValueError, r"explain: the `at` argument must be .*Received: at=\(0, 0, 0\)"),
        (dict(at=(0.5, 1)), ValueError, r"Received: at=\(0.5, 1\)"),
        (dict(at=(0, 0), filter=1), ValueError, r"explain: .*single filter.*Received: filter=1"),
        (dict(at=(0, 0), strides=0), ValueError, r"explain: .*`strides`.*Received: strides=0"),
        (dict(at=(0, 0), padding="sam"), ValueError, r"explain: .*`padding`.*Received: padding='sam'"),
        (dict(at=(0, 0), bias="one"), TypeError, r"explain: the `bias` argument.*Received: bias='one'"),
        (dict(at=(0, 0), bias=[1.0, 2.0], filter=0), None, None),
    ],
)
def test_argument_errors(kwargs, exc, match):
    image = vertical_line_image()
    if exc is None:
        assert explain(image, np.ones((3, 3, 1, 2)), print_fn=None, **kwargs).bias == 1.0
        return
    with pytest.raises(exc, match=match):
        explain(image, DETECTOR, print_fn=None, **kwargs)


def test_shape_errors():
    with pytest.raises(
        ValueError,
        match=r"explain: the kernel's channel axis must equal the input's channels, 3\. "
        r"Pass channel=0\.\.2 .*Received: kernel channels=1, input channels=3",
    ):
        explain(np.zeros((5, 5, 3)), np.ones((3, 3)), at=(0, 0), print_fn=None)
    with pytest.raises(ValueError, match=r"Received: kernel channels=2, input channels=3"):
        explain(np.zeros((5, 5, 3)), np.ones((3, 3, 2)), at=(0, 0), print_fn=None)
    with pytest.raises(
        ValueError, match=r"`channel` argument must be None or an input channel 0\.\.2\. Received: channel=3"
    ):
        explain(np.zeros((5, 5, 3)), np.ones((3, 3)), at=(0, 0), channel=3, print_fn=None)
    with pytest.raises(ValueError, match=r"the input must be \(H, W\).*Received: x.shape=\(1, 1, 5, 5, 1\)"):
        explain(np.zeros((1, 1, 5, 5, 1)), np.ones((3, 3)), at=(0, 0), print_fn=None)
    with pytest.raises(ValueError, match=r"the kernel must be \(kh, kw\).*Received: kernel.shape=\(3,\)"):
        explain(np.zeros((5, 5)), np.ones(3), at=(0, 0), print_fn=None)
    with pytest.raises(ValueError, match=r"one of the kernel's 2 filters \(0\.\.1\)\. Received: filter=2"):
        explain(np.zeros((5, 5)), np.ones((3, 3, 1, 2)), at=(0, 0), filter=2, print_fn=None)
    with pytest.raises(ValueError, match=r"one of the 2 samples.*Received: index=5"):
        explain(np.zeros((2, 5, 5, 1)), np.ones((3, 3)), at=(0, 0), index=5, print_fn=None)
    with pytest.raises(ValueError, match=r"explain: the output would be empty"):
        explain(np.zeros((2, 2)), np.ones((3, 3)), at=(0, 0), print_fn=None)
    with pytest.raises(TypeError, match=r"explain expected a numeric array"):
        explain([["a"]], np.ones((1, 1)), at=(0, 0), print_fn=None)


def test_viz_explain_stays_the_function_after_the_submodule_is_imported():
    code = (
        "import numpy as np, convolve.viz.explain\n"
        "from convolve import viz\n"
        "assert callable(viz.explain), viz.explain\n"
        "assert viz.explain(np.ones((3, 3)), np.ones((2, 2)), at=(0, 0), print_fn=None).value == 4.0\n"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
