"""Tests for convolve/ops/activations.py: per-element references, finite differences for the
backwards, hypothesis, PyTorch, errors."""
from __future__ import annotations

import itertools
import math
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops.activations import (
    ACTIVATIONS,
    BACKWARD,
    elu,
    elu_backward,
    erf_cody,
    erfc_cody,
    gelu,
    gelu_backward,
    get,
    leaky_relu,
    leaky_relu_backward,
    linear,
    linear_backward,
    relu,
    relu_backward,
    selu,
    selu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    softplus,
    softplus_backward,
    tanh,
    tanh_backward,
)
from tests.helpers import assert_close, requires_torch, torch
from tests.ops.test_core import assert_gradient

# --- the definitions, one element at a time -------------------------------------------------


def ref_relu(v, negative_slope=0.0, max_value=None, threshold=0.0):
    if math.isnan(v):  # NaN propagates, as in PyTorch and TensorFlow
        return v
    if v > threshold:
        return v if max_value is None else min(v, max_value)
    return negative_slope * (v - threshold)


def ref_leaky_relu(v, negative_slope=0.2):
    return v if v > 0 else negative_slope * v


def ref_elu(v, alpha=1.0):
    return v if v > 0 else alpha * (math.exp(v) - 1.0)


def ref_selu(v):
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return scale * (v if v > 0 else alpha * (math.exp(v) - 1.0))


def ref_gelu(v, approximate=False):
    if approximate:
        return 0.5 * v * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3)))
    return 0.5 * v * math.erfc(-v / math.sqrt(2.0))


def ref_sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def ref_softplus(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


ELEMENTWISE = {
    "relu": (relu, ref_relu),
    "leaky_relu": (leaky_relu, ref_leaky_relu),
    "elu": (elu, ref_elu),
    "selu": (selu, ref_selu),
    "gelu": (gelu, ref_gelu),
    "sigmoid": (sigmoid, ref_sigmoid),
    "tanh": (tanh, math.tanh),
    "softplus": (softplus, ref_softplus),
    "linear": (linear, lambda v: v),
}


def apply_elementwise(ref, x, **kwargs):
    x = np.asarray(x, dtype=np.float64)
    return np.array([ref(float(v), **kwargs) for v in x.ravel()]).reshape(x.shape)


def ref_softmax(x, axes):
    """Loops over every slice: softmax of the values that share all the other indices."""
    x = np.asarray(x, dtype=np.float64)
    y = np.empty_like(x)
    others = [a for a in range(x.ndim) if a not in axes]
    for outer in itertools.product(*(range(x.shape[a]) for a in others)):
        cells = []
        for inner in itertools.product(*(range(x.shape[a]) for a in axes)):
            index = [0] * x.ndim
            for a, i in zip(others, outer):
                index[a] = i
            for a, i in zip(axes, inner):
                index[a] = i
            cells.append(tuple(index))
        top = max(x[c] for c in cells)
        total = sum(math.exp(x[c] - top) for c in cells)
        for c in cells:
            y[c] = math.exp(x[c] - top) / total
    return y


# --- hypothesis: arrays of any small shape ---------------------------------------------------


@st.composite
def arrays(draw, scale=6.0):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.asarray(
        np.random.default_rng(seed).standard_normal(shape) * draw(st.sampled_from([0.5, scale, 30.0]))
    )
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(x=arrays())
def test_elementwise_matches_reference(name, dtype, x):
    fn, ref = ELEMENTWISE[name]
    x = x.astype(dtype)
    y = fn(x)
    assert y.dtype == dtype and y.shape == x.shape
    assert_close(y, apply_elementwise(ref, x), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(
    x=arrays(),
    negative_slope=st.sampled_from([0.0, 0.1, 1.0, 2.5]),
    max_value=st.sampled_from([None, 0.0, 0.5, 6.0]),
    threshold=st.sampled_from([0.0, 0.3, 1.5, 8.0]),
)
def test_relu_arguments_match_reference(dtype, x, negative_slope, max_value, threshold):
    x = x.astype(dtype)
    kwargs = dict(negative_slope=negative_slope, max_value=max_value, threshold=threshold)
    y = relu(x, **kwargs)
    assert y.dtype == dtype
    assert_close(y, apply_elementwise(ref_relu, x, **kwargs), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(x=arrays(), negative_slope=st.floats(0, 3), alpha=st.floats(-2, 3))
def test_leaky_relu_elu_arguments(dtype, x, negative_slope, alpha):
    x = x.astype(dtype)
    assert_close(
        leaky_relu(x, negative_slope),
        apply_elementwise(ref_leaky_relu, x, negative_slope=negative_slope),
        dtype,
    )
    assert_close(elu(x, alpha), apply_elementwise(ref_elu, x, alpha=alpha), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(x=arrays())
def test_gelu_approximate_matches_reference(dtype, x):
    x = x.astype(dtype)
    assert_close(gelu(x, approximate=True), apply_elementwise(ref_gelu, x, approximate=True), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(x=arrays(), data=st.data())
def test_softmax_matches_reference(dtype, x, data):
    x = x.astype(dtype)
    if x.ndim == 0:
        x = x.reshape(1)
    axes = data.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim, unique=True))
    as_given = axes[0] - x.ndim if len(axes) == 1 else tuple(axes)  # an int (negative) or a tuple
    y = softmax(x, axis=as_given)
    assert y.dtype == dtype
    assert_close(y, ref_softmax(x, sorted(axes)), dtype)
    np.testing.assert_allclose(y.sum(axis=tuple(axes)), 1.0, rtol=1e-5)


def test_softmax_default_axis_is_last():
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    assert_close(softmax(x), ref_softmax(x, [2]))


# --- Keras' documented examples, pinned --------------------------------------------------------


def test_relu_keras_examples():
    x = [-10, -5, 0.0, 5, 10]
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 0.0, 5.0, 10.0])
    np.testing.assert_array_equal(relu(x, negative_slope=0.5), [-5.0, -2.5, 0.0, 5.0, 10.0])
    np.testing.assert_array_equal(relu(x, max_value=5.0), [0.0, 0.0, 0.0, 5.0, 5.0])
    np.testing.assert_array_equal(relu(x, threshold=5.0), [0.0, 0.0, 0.0, 0.0, 10.0])
    np.testing.assert_array_equal(relu([-3.0, -1.0, 1.0, 2.0], threshold=1.5), [0.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu(x, max_value=10, negative_slope=0.5), [-5.0, -2.5, 0.0, 5.0, 10.0])


def test_gelu_known_values():
    # Phi(1) = 0.841344746068542948585232545632..., Phi(-1) = 1 - Phi(1)
    phi1 = 0.8413447460685429
    assert_close(gelu(np.array([-1.0, 0.0, 1.0])), [-(1 - phi1), 0.0, phi1])


# --- no overflow, no warnings, at the extremes --------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extremes_without_warnings(dtype):
    big = float(np.finfo(dtype).max)
    x = np.array([-big, -1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4, big], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(x)
        p = softplus(x)
        e = elu(x)
        g = gelu(x)
        ga = gelu(x, approximate=True)
        sm = softmax(np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype=dtype))
        for fn in (relu, leaky_relu, selu, tanh, linear):
            fn(x[1:-1])  # selu(max) > max: that overflow is the true answer, not a flaw
    assert s.dtype == dtype and np.all(np.isfinite(s))
    np.testing.assert_array_equal(s[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])
    assert s[4] == 0.5
    np.testing.assert_array_equal(p[[0, 1]], [0.0, 0.0])
    np.testing.assert_array_equal(p[[-2, -1]], x[[-2, -1]])
    np.testing.assert_array_equal(e[[0, 1]], [-1.0, -1.0])
    np.testing.assert_array_equal(g[[-2, -1]], x[[-2, -1]])
    np.testing.assert_array_equal(g[[0, 1]], [0.0, 0.0])
    np.testing.assert_array_equal(ga[[-2, -1]], x[[-2, -1]])
    np.testing.assert_array_equal(sm, [[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])


def test_gelu_keeps_relative_accuracy_far_left():
    # x Phi(x) ~ 1e-20 here: 1 + erf(x / sqrt 2) would cancel to 0; erfc does not
    x = np.array([-9.0, -12.0, -20.0])
    y = gelu(x)
    expected = apply_elementwise(ref_gelu, x)
    np.testing.assert_allclose(y, expected, rtol=1e-13)
    assert np.all(y < 0)


# --- the error function: SciPy's path and Cody's fallback, against math.erf / math.erfc ----------------

GRID = np.concatenate(
    [
        np.linspace(-30.0, 30.0, 6001),  # all three of Cody's intervals, both signs, past the underflow
        np.array(
            [0.46875, -0.46875, 0.46875 + 1e-12, 4.0, -4.0, 4.0 + 1e-12, 26.5, -26.5, 1e-300, -1e-300, 5e-8]
        ),
        np.geomspace(1e-12, 0.5, 200),
    ]
)


def assert_erf_close(actual, expected_fn, bound=2e-15):
    expected = np.array([expected_fn(float(v)) for v in GRID])
    normal = np.abs(expected) > np.finfo(np.float64).tiny  # below that, erfc is subnormal: compare absolutely
    rel = np.abs(actual[normal] - expected[normal]) / np.abs(expected[normal])
    assert rel.max() < bound, f"relative error {rel.max():.3e} at x={GRID[normal][np.argmax(rel)]}"
    assert np.max(np.abs(actual[~normal] - expected[~normal]), initial=0.0) < 1e-300


def test_cody_erfc_matches_math_erfc():
    assert_erf_close(erfc_cody(GRID), math.erfc)


def test_cody_erf_matches_math_erf():
    assert_erf_close(erf_cody(GRID), math.erf)


def test_cody_special_values():
    np.testing.assert_array_equal(erfc_cody(np.array([np.inf, -np.inf, 0.0])), [0.0, 2.0, 1.0])
    np.testing.assert_array_equal(erf_cody(np.array([np.inf, -np.inf, 0.0])), [1.0, -1.0, 0.0])
    assert np.isnan(erfc_cody(np.array([np.nan]))[0]) and np.isnan(erf_cody(np.array([np.nan]))[0])
    assert erfc_cody(np.array(0.25)).shape == () and erf_cody(np.array(0.25)).shape == ()
    assert erfc_cody(np.float32(0.5)).dtype == np.float64


def test_gelu_uses_cody_erfc_accurately_in_both_dtypes():
    x = np.linspace(-12.0, 12.0, 97)
    assert_close(gelu(x), apply_elementwise(ref_gelu, x), np.float64)
    y32 = gelu(x.astype(np.float32))
    assert y32.dtype == np.float32
    assert_close(y32, apply_elementwise(ref_gelu, x.astype(np.float32)), np.float32)


def test_importing_convolve_does_not_import_scipy():
    import subprocess

    code = "import sys, convolve; print('scipy' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )


# --- get() and the table -----------------------------------------------------------------------


def test_get():
    for name, fn in ACTIVATIONS.items():
        assert get(name) is fn
        assert fn.__name__ == name
    assert get(None) is linear
    custom = lambda x: x * 2  # noqa: E731
    assert get(custom) is custom
    assert get(np.abs) is np.abs
    assert set(ACTIVATIONS) == {
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "sigmoid",
        "tanh",
        "softmax",
        "softplus",
        "linear",
    }


def test_get_errors():
    with pytest.raises(
        ValueError,
        match=r"activation: unknown activation; expected one of \{'relu', .*'linear'\}, None or a callable. "
        r"Received: activation='swish'",
    ):
        get("swish")
    with pytest.raises(ValueError, match=r"Dense 'dense': unknown activation.*Received: activation=3"):
        get(3, where="Dense 'dense'")


# --- inputs: never modified, integers become float32, linear passes floats through ------------------------


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_input_not_modified(name):
    x = np.random.default_rng(4).standard_normal((3, 4)) * 5
    keep = x.copy()
    x.flags.writeable = False
    y = ACTIVATIONS[name](x)
    np.testing.assert_array_equal(x, keep)
    if name != "linear":
        y[...] = 0.0  # a new array, writable, not the input
        np.testing.assert_array_equal(x, keep)


def test_linear_returns_float_input_itself():
    x = np.ones(3, dtype=np.float32)
    assert linear(x) is x


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_integer_input_gives_float32(name):
    x = np.arange(-6, 6).reshape(3, 4)
    y = ACTIVATIONS[name](x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ACTIVATIONS[name](x.astype(np.float32)))
    assert ACTIVATIONS[name]([[1, 2], [3, 4]]).dtype == np.float32  # nested lists too


# --- PyTorch --------------------------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(x=arrays())
def test_matches_pytorch(dtype, x):
    t = torch()
    F = t.nn.functional
    x = x.astype(dtype)
    xt = t.from_numpy(x)
    cases = [
        (relu(x), F.relu(xt)),
        (relu(x, max_value=6.0), F.relu6(xt)),
        (relu(x, threshold=1.5), F.threshold(xt, 1.5, 0.0)),
        (leaky_relu(x), F.leaky_relu(xt, 0.2)),
        (leaky_relu(x, 0.01), F.leaky_relu(xt, 0.01)),
        (elu(x, 0.7), F.elu(xt, 0.7)),
        (selu(x), F.selu(xt)),
        (gelu(x), F.gelu(xt)),
        (gelu(x, approximate=True), F.gelu(xt, approximate="tanh")),
        (sigmoid(x), t.sigmoid(xt)),
        (tanh(x), t.tanh(xt)),
        # PyTorch's softplus is log1p(exp(x)) below `threshold` (it overflows float32 past 88) and x above;
        # float64 with a high threshold is exact; float32 at its default 20 is within 2e-9 relative
        (softplus(x), F.softplus(xt, threshold=20.0 if dtype == np.float32 else 500.0)),
    ]
    if x.ndim:
        cases.append((softmax(x), t.softmax(xt, dim=-1)))
        cases.append((softmax(x, axis=0), t.softmax(xt, dim=0)))
    for ours, theirs in cases:
        assert ours.dtype == dtype
        assert_close(ours, theirs.numpy(), dtype)


# --- every error message ---------------------------------------------------------------------------------


def test_argument_errors():
    x = np.zeros(3)
    with pytest.raises(
        ValueError,
        match=r"relu: the `negative_slope` argument must be a finite number >= 0. Received: "
        r"negative_slope=-0.1",
    ):
        relu(x, negative_slope=-0.1)
    with pytest.raises(
        ValueError,
        match=r"relu: the `threshold` argument must be a finite number >= 0. Received: threshold=-1",
    ):
        relu(x, threshold=-1)
    with pytest.raises(
        ValueError,
        match=r"relu: the `max_value` argument must be a finite number >= 0. Received: max_value=-6.0",
    ):
        relu(x, max_value=-6.0)
    with pytest.raises(
        ValueError,
        match=r"relu: the `max_value` argument must be a finite number >= 0. Received: max_value=nan",
    ):
        relu(x, max_value=float("nan"))
    with pytest.raises(
        TypeError, match=r"relu: the `max_value` argument must be a number or None. Received: max_value='6'"
    ):
        relu(x, max_value="6")
    with pytest.raises(
        TypeError,
        match=r"relu: the `negative_slope` argument must be a number. Received: negative_slope=None",
    ):
        relu(x, negative_slope=None)
    with pytest.raises(
        TypeError, match=r"ReLU 're_lu': the `threshold` argument must be a number. Received: threshold=True"
    ):
        relu(x, threshold=True, where="ReLU 're_lu'")
    with pytest.raises(
        ValueError,
        match=r"leaky_relu: the `negative_slope` argument must be a finite number >= 0. Received: "
        r"negative_slope=-0.2",
    ):
        leaky_relu(x, -0.2)
    with pytest.raises(
        ValueError, match=r"elu: the `alpha` argument must be a finite number. Received: alpha=inf"
    ):
        elu(x, float("inf"))
    with pytest.raises(
        TypeError, match=r"elu: the `alpha` argument must be a number. Received: alpha=\[1.0\]"
    ):
        elu(x, [1.0])
    with pytest.raises(
        TypeError,
        match=r"gelu: the `approximate` argument must be True or False. Received: approximate='tanh'",
    ):
        gelu(x, approximate="tanh")


def test_softmax_errors():
    x = np.zeros((2, 3))
    with pytest.raises(
        ValueError,
        match=r"softmax: the `axis` argument must be in \[-2, 2\) for input of rank 2. Received: axis=2",
    ):
        softmax(x, axis=2)
    with pytest.raises(
        ValueError, match=r"the `axis` argument must be in \[-2, 2\).*Received: axis=\(0, -3\)"
    ):
        softmax(x, axis=(0, -3))
    with pytest.raises(ValueError, match=r"must be in \[-0, 0\) for input of rank 0. Received: axis=-1"):
        softmax(np.float64(1.0))
    with pytest.raises(
        TypeError, match=r"softmax: the `axis` argument must be an int or a tuple of ints. Received: axis=1.0"
    ):
        softmax(x, axis=1.0)
    with pytest.raises(
        TypeError, match=r"the `axis` argument must be an int or a tuple of ints. Received: axis=\(\)"
    ):
        softmax(x, axis=())
    with pytest.raises(
        TypeError, match=r"the `axis` argument must be an int or a tuple of ints. Received: axis=\(0, 'a'\)"
    ):
        softmax(x, axis=(0, "a"))
    with pytest.raises(
        ValueError, match=r"softmax: the `axis` argument repeats an axis. Received: axis=\(1, -1\)"
    ):
        softmax(x, axis=(1, -1))
    with pytest.raises(
        ValueError,
        match=r"softmax: the softmax axis must not be empty. Received: axis=-1 with x.shape=\(2, 0\)",
    ):
        softmax(np.zeros((2, 0)))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_non_numeric_input(name):
    with pytest.raises(
        TypeError,
        match=rf"{name} expected a numeric array \(integer or float\) for x. Received: x with dtype=<U",
    ):
        ACTIVATIONS[name](np.array(["a", "b"]))
    with pytest.raises(
        TypeError, match=rf"{name} expected a numeric array for x. Received: x that cannot become an array"
    ):
        ACTIVATIONS[name]([[1.0], [1.0, 2.0]])



# --- backward: finite differences, the table, float32, PyTorch ------------------------------------------


@st.composite
def small_arrays(draw):
    """Arrays of rank 0 to 3 (at most 64 values) for the finite-difference checks, and a grad_y."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = np.asarray(rng.standard_normal(shape) * draw(st.sampled_from([0.5, 3.0, 30.0])))
    return x, np.asarray(rng.standard_normal(shape))


def away_from(x, kinks):
    """Move values within 1e-3 of a kink (where the derivative jumps) 1e-2 past it, so that
    central differences with h = 1e-5 never straddle one."""
    for kink in kinks:
        if kink is not None:
            x = np.where(np.abs(x - kink) < 1e-3, kink + 1e-2, x)
    return x


def backward_of(name, grad_y, x, **kwargs):
    """grad_x through the BACKWARD table, given what the entry says it needs."""
    fn, needs = BACKWARD[name]
    if needs is None:
        return fn(grad_y)
    return fn(grad_y, x if needs == "x" else ACTIVATIONS[name](x, **kwargs), **kwargs)


def test_backward_table():
    assert set(BACKWARD) == set(ACTIVATIONS)
    for name, (fn, needs) in BACKWARD.items():
        assert fn.__name__ == name + "_backward"
        assert needs == {"sigmoid": "y", "tanh": "y", "softmax": "y", "linear": None}.get(name, "x")


@pytest.mark.parametrize("name", sorted(BACKWARD))
@given(case=small_arrays())
def test_backward_matches_finite_differences(name, case):
    x, grad_y = case
    if name == "softmax" and x.ndim == 0:
        x, grad_y = x.reshape(1), grad_y.reshape(1)
    x = away_from(x, [0.0])
    assert_gradient(np.asarray(backward_of(name, grad_y, x)), ACTIVATIONS[name], x, grad_y)


@given(
    case=small_arrays(),
    negative_slope=st.sampled_from([0.0, 0.1, 1.0, 2.5]),
    max_value=st.sampled_from([None, 0.0, 0.5, 6.0]),
    threshold=st.sampled_from([0.0, 0.3, 1.5, 8.0]),
)
def test_relu_backward_arguments_match_finite_differences(case, negative_slope, max_value, threshold):
    x, grad_y = case
    kwargs = dict(negative_slope=negative_slope, max_value=max_value, threshold=threshold)
    x = away_from(x, [threshold, max_value])
    assert_gradient(relu_backward(grad_y, x, **kwargs), lambda v: relu(v, **kwargs), x, grad_y)


@given(case=small_arrays(), negative_slope=st.floats(0, 3), alpha=st.floats(-2, 3), approximate=st.booleans())
def test_leaky_relu_elu_gelu_arguments_match_finite_differences(case, negative_slope, alpha, approximate):
    x, grad_y = case
    x = away_from(x, [0.0])
    assert_gradient(
        leaky_relu_backward(grad_y, x, negative_slope), lambda v: leaky_relu(v, negative_slope), x, grad_y
    )
    assert_gradient(elu_backward(grad_y, x, alpha), lambda v: elu(v, alpha), x, grad_y)
    assert_gradient(gelu_backward(grad_y, x, approximate), lambda v: gelu(v, approximate), x, grad_y)


@given(case=small_arrays(), data=st.data())
def test_softmax_backward_axes_match_finite_differences(case, data):
    x, grad_y = case
    if x.ndim == 0:
        x, grad_y = x.reshape(1), grad_y.reshape(1)
    axes = data.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim, unique=True))
    axis = axes[0] - x.ndim if len(axes) == 1 else tuple(axes)
    y = softmax(x, axis=axis)
    assert_gradient(softmax_backward(grad_y, y, axis=axis), lambda v: softmax(v, axis=axis), x, grad_y)


#: keyword arguments tried in the float32 and PyTorch comparisons besides the defaults
VARIANTS = [
    ("relu", {}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"threshold": 1.5}),
    ("relu", {"negative_slope": 0.3, "max_value": 2.0}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.01}),
    ("elu", {}),
    ("elu", {"alpha": 0.7}),
    ("selu", {}),
    ("gelu", {}),
    ("gelu", {"approximate": True}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softmax", {}),
    ("softmax", {"axis": 0}),
    ("softplus", {}),
    ("linear", {}),
]


@pytest.mark.parametrize("name", sorted(BACKWARD))
@given(case=small_arrays())
def test_backward_float32_matches_float64(name, case):
    x, grad_y = case
    if name == "softmax" and x.ndim == 0:
        x, grad_y = x.reshape(1), grad_y.reshape(1)
    x = away_from(x, [0.0, 1.5, 2.0, 6.0])  # float32 rounding must not move x across a kink
    for variant, kwargs in VARIANTS:
        if variant != name or (x.ndim == 0 and "axis" in kwargs):
            continue
        g64 = np.asarray(backward_of(name, grad_y, x, **kwargs))
        g32 = np.asarray(backward_of(name, grad_y.astype(np.float32), x.astype(np.float32), **kwargs))
        assert g32.dtype == np.float32
        assert_close(g32, g64, np.float32)


@requires_torch
@given(case=small_arrays())
def test_backward_matches_pytorch(case):
    t = torch()
    F = t.nn.functional
    x, grad_y = case
    x = away_from(x.reshape(-1) if x.ndim == 0 else x, [0.0, 1.5, 2.0, 6.0])
    grad_y = grad_y.reshape(x.shape)
    theirs = {
        ("relu", ()): F.relu,
        ("relu", (("max_value", 6.0),)): F.relu6,
        ("relu", (("threshold", 1.5),)): lambda v: F.threshold(v, 1.5, 0.0),
        ("relu", (("negative_slope", 0.3), ("max_value", 2.0))): lambda v: t.clamp(
            F.leaky_relu(v, 0.3), max=2.0
        ),
        ("leaky_relu", ()): lambda v: F.leaky_relu(v, 0.2),
        ("leaky_relu", (("negative_slope", 0.01),)): F.leaky_relu,
        ("elu", ()): F.elu,
        ("elu", (("alpha", 0.7),)): lambda v: F.elu(v, 0.7),
        ("selu", ()): F.selu,
        ("gelu", ()): F.gelu,
        ("gelu", (("approximate", True),)): lambda v: F.gelu(v, approximate="tanh"),
        ("sigmoid", ()): t.sigmoid,
        ("tanh", ()): t.tanh,
        ("softmax", ()): lambda v: t.softmax(v, -1),
        ("softmax", (("axis", 0),)): lambda v: t.softmax(v, 0),
        ("softplus", ()): lambda v: F.softplus(v, threshold=500.0),
        ("linear", ()): lambda v: v * 1.0,
    }
    for name, kwargs in VARIANTS:
        xt = t.tensor(x, requires_grad=True)
        theirs[(name, tuple(kwargs.items()))](xt).backward(t.from_numpy(grad_y))
        assert_close(np.asarray(backward_of(name, grad_y, x, **kwargs)), xt.grad.numpy())


def test_backward_at_the_kinks():
    g = np.ones(3)
    at = np.array([0.0, 1.5, 6.0])
    # relu: the lower branch at the threshold, 0 at max_value (PyTorch's threshold/relu6/hardtanh)
    np.testing.assert_array_equal(relu_backward(g, at), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(relu_backward(g, at, negative_slope=0.5, threshold=1.5), [0.5, 0.5, 1.0])
    np.testing.assert_array_equal(relu_backward(g, at, max_value=6.0), [0.0, 1.0, 0.0])
    # the flat top wins over the negative slope where x > threshold >= max_value
    np.testing.assert_array_equal(
        relu_backward(g, np.array([5.0, 7.0, 9.0]), 0.5, max_value=6.0, threshold=8.0), [0.5, 0.5, 0.0]
    )
    np.testing.assert_array_equal(leaky_relu_backward(g, at), [0.2, 1.0, 1.0])
    np.testing.assert_array_equal(elu_backward(g, at, alpha=0.7), [0.7, 1.0, 1.0])
    assert_close(gelu_backward(np.ones(1), np.zeros(1)), [0.5])
    assert_close(gelu_backward(np.ones(1), np.zeros(1), approximate=True), [0.5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_extremes_without_warnings(dtype):
    big = float(np.finfo(dtype).max)
    x = np.array([-big, -1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4, big], dtype=dtype)
    g = np.ones_like(x)
    with np.errstate(over="raise", divide="raise", invalid="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        results = {
            "elu": elu_backward(g, x), "selu": selu_backward(g, x), "gelu": gelu_backward(g, x),
            "gelu_tanh": gelu_backward(g, x, approximate=True), "softplus": softplus_backward(g, x),
            "sigmoid": sigmoid_backward(g, sigmoid(x)), "tanh": tanh_backward(g, tanh(x)),
            "relu": relu_backward(g, x, max_value=6.0), "leaky_relu": leaky_relu_backward(g, x),
        }
    for name, r in results.items():
        assert r.dtype == dtype and np.all(np.isfinite(r)), name
    for name in ("gelu", "gelu_tanh", "softplus"):  # 0 far left, 1 far right
        np.testing.assert_array_equal(results[name][[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(results["sigmoid"][[0, -1]], [0.0, 0.0])


@pytest.mark.parametrize("name", sorted(BACKWARD))
def test_backward_input_not_modified(name):
    rng = np.random.default_rng(6)
    x, g = rng.standard_normal((3, 4)) * 5, rng.standard_normal((3, 4))
    v = x if BACKWARD[name][1] != "y" else ACTIVATIONS[name](x)
    keep_v, keep_g = v.copy(), g.copy()
    v.flags.writeable = False
    g.flags.writeable = False
    result = backward_of(name, g, x) if BACKWARD[name][1] != "y" else BACKWARD[name][0](g, v)
    np.testing.assert_array_equal(v, keep_v)
    np.testing.assert_array_equal(g, keep_g)
    if name == "linear":
        assert result is g  # grad_y itself, as linear returns x itself
    else:
        result[...] = 0.0  # a new, writable array


def test_backward_integer_grad_gives_float32():
    assert relu_backward([1, 2], [1, -1]).dtype == np.float32
    assert sigmoid_backward(np.ones(2, np.float32), np.full(2, 0.5)).dtype == np.float64  # common dtype
    assert linear_backward([1, 2]).dtype == np.float32


def test_backward_errors():
    x = np.zeros((2, 3))
    with pytest.raises(
        ValueError,
        match=r"relu_backward: grad_y must have the shape of x. Received: grad_y.shape=\(3,\), "
        r"x.shape=\(2, 3\)",
    ):
        relu_backward(np.zeros(3), x)
    with pytest.raises(
        ValueError,
        match=r"sigmoid_backward: grad_y must have the shape of y. Received: grad_y.shape=\(2, 1\), "
        r"y.shape=\(2, 3\)",
    ):
        sigmoid_backward(np.zeros((2, 1)), x)
    with pytest.raises(
        ValueError,
        match=r"relu_backward: the `threshold` argument must be a finite number >= 0. Received: threshold=-1",
    ):
        relu_backward(x, x, threshold=-1)
    with pytest.raises(
        TypeError,
        match=r"relu_backward: the `max_value` argument must be a number or None. Received: max_value='6'",
    ):
        relu_backward(x, x, max_value="6")
    with pytest.raises(
        ValueError,
        match=r"relu_backward: the `negative_slope` argument must be a finite number >= 0. Received: "
        r"negative_slope=-0.1",
    ):
        relu_backward(x, x, negative_slope=-0.1)
    with pytest.raises(
        ValueError,
        match=r"leaky_relu_backward: the `negative_slope` argument must be a finite number >= 0. Received: "
        r"negative_slope=-0.2",
    ):
        leaky_relu_backward(x, x, -0.2)
    with pytest.raises(
        ValueError, match=r"elu_backward: the `alpha` argument must be a finite number. Received: alpha=nan"
    ):
        elu_backward(x, x, float("nan"))
    with pytest.raises(
        TypeError,
        match=r"gelu_backward: the `approximate` argument must be True or False. Received: "
        r"approximate='tanh'",
    ):
        gelu_backward(x, x, approximate="tanh")
    with pytest.raises(
        ValueError,
        match=r"softmax_backward: the `axis` argument must be in \[-2, 2\) for input of rank 2. Received: "
        r"axis=2",
    ):
        softmax_backward(x, x, axis=2)
    with pytest.raises(
        TypeError,
        match=r"tanh_backward expected a numeric array \(integer or float\) for grad_y. Received: grad_y "
        r"with dtype=<U1",
    ):
        tanh_backward(np.array(["a"]), np.zeros(1))
    with pytest.raises(
        TypeError,
        match=r"selu_backward expected a numeric array \(integer or float\) for x. Received: x with "
        r"dtype=object",
    ):
        selu_backward(np.zeros(1), np.array([None]))
    with pytest.raises(
        TypeError,
        match=r"linear_backward expected a numeric array for grad_y. Received: grad_y that cannot become an "
        r"array",
    ):
        linear_backward([[1.0], [1.0, 2.0]])
    for fn in (softplus_backward, elu_backward, gelu_backward, tanh_backward):
        with pytest.raises(ValueError, match=rf"{fn.__name__}: grad_y must have the shape of"):
            fn(np.zeros(2), np.zeros(3))


# --- the fast plain-relu paths (relu into `out`, relu_backward as a mask product) -------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_into_out_overwrites_only_out_and_matches_the_reference(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4)).astype(dtype)
    x[0, 0, :2] = [np.nan, -0.0]
    expected = apply_elementwise(ref_relu, x)  # NaN stays NaN
    assert np.isnan(expected[0, 0, 0])
    original = x.copy()
    out = np.empty_like(x)
    assert relu(x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(x, original)  # x untouched
    same = x.copy()
    assert relu(same, out=same) is same  # in place, as the layers do with their fresh outputs
    np.testing.assert_array_equal(same, expected)
    np.testing.assert_array_equal(relu(x, max_value=0.5, out=np.empty_like(x)), np.minimum(expected, 0.5))


@pytest.mark.parametrize("kwargs", [{}, {"threshold": 0.5}, {"negative_slope": 0.1}, {"max_value": 2.0},
                                    {"negative_slope": 0.1, "threshold": 0.2, "max_value": 1.0}])
def test_relu_propagates_nan(kwargs):
    x = np.array([np.nan, -1.0, 0.3, 3.0], np.float32)
    y = relu(x, **kwargs)
    assert np.isnan(y[0])
    np.testing.assert_allclose(y[1:], apply_elementwise(lambda v: ref_relu(v, **kwargs), x[1:]), rtol=1e-6)


def test_relu_out_is_only_for_the_plain_relu():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(
        ValueError,
        match=r"relu: `out` is for the plain relu \(negative_slope=0, threshold=0\) into an array of x's "
        r"shape \(2, 3\) and dtype float32. Received: negative_slope=0.5, threshold=0.0, out with shape "
        r"\(2, 3\) and dtype float32",
    ):
        relu(x, negative_slope=0.5, out=np.empty_like(x))
    with pytest.raises(
        ValueError,
        match=r"relu: `out` is for the plain relu .*Received: .*out with shape \(3,\) and dtype float64",
    ):
        relu(x, out=np.empty(3))


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_relu_backward_mask_product_matches_the_definition(threshold):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    x[0, :3] = [0.0, threshold, np.nan]  # the kink goes to the lower branch; NaN input gets 0
    g = rng.standard_normal(x.shape).astype(np.float32)
    expected = np.array(
        [gi if xi > threshold else 0.0 for gi, xi in zip(g.ravel(), x.ravel())], np.float32
    ).reshape(x.shape)
    got = relu_backward(g, x, threshold=threshold)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # the plain relu's gradient from its output equals the one from its input (how the layers use it)
    if threshold == 0.0:
        np.testing.assert_array_equal(relu_backward(g, relu(x)), expected)


def test_relu_backward_sends_no_infinite_gradient_to_inactive_units():
    x = np.array([-1.0, 0.0, 2.0, 3.0], np.float32)
    g = np.array([np.inf, np.nan, np.inf, np.nan], np.float32)
    got = relu_backward(g, x)
    np.testing.assert_array_equal(got[:3], [0.0, 0.0, np.inf])  # 0, not 0 * inf = NaN
    assert np.isnan(got[3])
