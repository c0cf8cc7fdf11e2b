"""Tests for convolve/losses.py: plain-Python references, finite-difference gradients on
hypothesis-drawn cases, PyTorch, extreme logits, clipping, get/serialize and every error."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve import losses
from convolve.losses import (
    REDUCTIONS,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    softmax_cross_entropy_with_logits,
)
from tests.helpers import assert_close, relative_error, requires_torch, torch

EPS = 1e-7


# --- the definitions, one sample at a time, in plain Python -----------------------------------


def _clip(v):
    return min(max(v, EPS), 1.0 - EPS)


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def ref_row(kind, t, p, from_logits=False, label_smoothing=0.0):
    """One sample's loss from its row of targets t and predictions p (Python lists)."""
    k = len(p)
    if kind == "mse":
        return sum((pi - ti) ** 2 for ti, pi in zip(t, p)) / k
    if kind == "mae":
        return sum(abs(pi - ti) for ti, pi in zip(t, p)) / k
    if kind == "bce":
        total = 0.0
        for ti, pi in zip(t, p):
            ti = ti * (1 - label_smoothing) + 0.5 * label_smoothing
            if from_logits:  # the definition: -t log s(x) - (1 - t) log(1 - s(x)), unclipped
                s = _sigmoid(pi)
                total += -(ti * math.log(s) + (1 - ti) * math.log(1 - s))
            else:
                q = _clip(pi)
                total += -(ti * math.log(q) + (1 - ti) * math.log(1 - q))
        return total / k
    if kind == "cce":
        t = [ti * (1 - label_smoothing) + label_smoothing / k for ti in t]
        if from_logits:
            m = max(p)
            lse = m + math.log(sum(math.exp(pi - m) for pi in p))
            return -sum(ti * (pi - lse) for ti, pi in zip(t, p))
        s = sum(p)
        return -sum(ti * math.log(_clip(pi / s)) for ti, pi in zip(t, p))
    raise AssertionError(kind)


def ref_values(kind, y_true, y_pred, **options):
    """Per-sample values over all leading positions (the class axis is the last)."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    out = np.zeros(y_pred.shape[:-1])
    for idx in np.ndindex(out.shape):
        out[idx] = ref_row(kind, list(y_true[idx]), list(y_pred[idx]), **options)
    return out


def ref_sparse_values(labels, y_pred, from_logits=False, ignore_class=None):
    y_pred = np.asarray(y_pred, np.float64)
    out, valid = np.zeros(y_pred.shape[:-1]), np.ones(y_pred.shape[:-1], bool)
    for idx in np.ndindex(out.shape):
        label = int(labels[idx])
        if ignore_class is not None and label == ignore_class:
            valid[idx] = False
            continue
        onehot = [1.0 if c == label else 0.0 for c in range(y_pred.shape[-1])]
        out[idx] = ref_row("cce", onehot, list(y_pred[idx]), from_logits=from_logits)
    return out, valid


def ref_reduce(values, weights, valid, reduction):
    """Keras 3's reduction written out: weights per value (or None), valid entries (or None)."""
    values = np.asarray(values, np.float64)
    w = (
        np.ones_like(values)
        if weights is None
        else np.broadcast_to(np.asarray(weights, np.float64), values.shape)
    )
    m = np.ones_like(values) if valid is None else np.asarray(valid, np.float64)
    weighted = [v * wi * mi for v, wi, mi in zip(values.ravel(), w.ravel(), m.ravel())]
    if reduction == "none":
        return np.array(weighted).reshape(values.shape)
    total = sum(weighted)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weights is not None:
        return total / sum(wi * mi for wi, mi in zip(w.ravel(), m.ravel()))
    count = sum(m.ravel()) if valid is not None else values.size
    return total / count


def per_sample(weights, values_shape):
    w = np.asarray(weights, np.float64)
    return w.reshape(w.shape + (1,) * (len(values_shape) - 1))


# --- values against the references ---------------------------------------------------------------


def _data(kind, rng, shape=(3, 2, 4)):
    if kind in ("mse", "mae"):
        return rng.normal(size=shape), rng.normal(size=shape)
    if kind == "bce":
        return (rng.random(shape) < 0.5).astype(float), rng.uniform(0.02, 0.98, shape)
    if kind == "bce_logits":
        return rng.random(shape), rng.uniform(-4, 4, shape)
    t = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if kind == "cce":
        return t, rng.uniform(0.05, 1.0, shape)  # unnormalised: Keras divides by the sum
    return t, rng.uniform(-4, 4, shape)


DENSE_CASES = {
    "mse": (MeanSquaredError, {}, "mse", {}),
    "mae": (MeanAbsoluteError, {}, "mae", {}),
    "bce": (BinaryCrossentropy, {}, "bce", {}),
    "bce_smooth": (BinaryCrossentropy, {"label_smoothing": 0.2}, "bce", {"label_smoothing": 0.2}),
    "bce_logits": (BinaryCrossentropy, {"from_logits": True}, "bce", {"from_logits": True}),
    "cce": (CategoricalCrossentropy, {}, "cce", {}),
    "cce_smooth": (CategoricalCrossentropy, {"label_smoothing": 0.1}, "cce", {"label_smoothing": 0.1}),
    "cce_logits": (CategoricalCrossentropy, {"from_logits": True}, "cce", {"from_logits": True}),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("case", list(DENSE_CASES))
def test_dense_losses_match_the_reference(case, weighted, reduction, dtype):
    cls, kwargs, kind, options = DENSE_CASES[case]
    rng = np.random.default_rng(len(case) * 7 + weighted)
    data_kind = "bce_logits" if case == "bce_logits" else ("cce_logits" if case == "cce_logits" else kind)
    y_true, y_pred = _data(data_kind, rng)
    weights = rng.uniform(0.1, 2.0, 3) if weighted else None
    expected_values = ref_values(kind, y_true, y_pred, **options)
    expected = ref_reduce(
        expected_values,
        None if weights is None else per_sample(weights, expected_values.shape),
        None,
        reduction,
    )
    loss = cls(reduction=reduction, **kwargs)
    value = loss(y_true.astype(dtype), y_pred.astype(dtype), weights)
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.dtype == dtype and value.shape == (3, 2)
    else:
        assert isinstance(value, float)
    assert_close(value, expected, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_with_ignore_class_matches_the_reference(
    from_logits, reduction, dtype
):
    rng = np.random.default_rng(3)
    y_pred = rng.uniform(-3, 3, (4, 3, 5)) if from_logits else rng.uniform(0.05, 1.0, (4, 3, 5))
    labels = rng.integers(0, 5, (4, 3))
    labels[0, 1] = labels[2, 0] = labels[3, 2] = -1
    weights = rng.uniform(0.5, 1.5, 4)
    values, valid = ref_sparse_values(labels, y_pred, from_logits, ignore_class=-1)
    expected = ref_reduce(values, per_sample(weights, values.shape), valid, reduction)
    loss = SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=-1, reduction=reduction)
    assert_close(loss(labels, y_pred.astype(dtype), weights), expected, dtype)
    # without ignore_class every entry counts
    values, _ = ref_sparse_values(np.abs(labels), y_pred, from_logits)
    plain = SparseCategoricalCrossentropy(from_logits=from_logits, reduction=reduction)
    assert_close(
        plain(np.abs(labels), y_pred.astype(dtype)), ref_reduce(values, None, None, reduction), dtype
    )


def test_sum_over_batch_size_divides_by_the_number_of_values_not_the_weights():
    y_true, y_pred = np.zeros((4, 1)), np.array([[1.0], [2.0], [3.0], [4.0]])
    weights = np.array([1.0, 0.0, 0.0, 1.0])
    assert MeanSquaredError()(y_true, y_pred, weights) == pytest.approx((1 + 16) / 4)
    assert MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, weights) == pytest.approx(
        (1 + 16) / 2
    )
    assert MeanSquaredError(reduction="sum")(y_true, y_pred, weights) == pytest.approx(17)
    assert MeanSquaredError(reduction=None).reduction == "none"


def test_per_sample_values_are_means_over_the_last_axis_and_keras_examples():
    # Keras' documented examples
    assert losses.mean_squared_error([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]).tolist() == [
        0.5,
        0.5,
    ]
    got = losses.sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    assert_close(got, [0.0512933, 2.3025851], np.float32)
    assert BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]) == pytest.approx(
        0.81492424, rel=1e-6
    )
    assert CategoricalCrossentropy()(
        [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    ) == pytest.approx(1.1769392, rel=1e-6)
    assert losses.mean_absolute_error([[1.0, 3.0]], [[2.0, 1.0]]).tolist() == [1.5]
    assert losses.binary_crossentropy([[1.0]], [[0.5]]).tolist() == pytest.approx([math.log(2)])
    assert losses.categorical_crossentropy(
        [[1.0, 0.0]], [[0.0, 0.0]], from_logits=True
    ).tolist() == pytest.approx([math.log(2)])


def test_rank_matching_as_keras():
    # y_true (batch,) against y_pred (batch, 1): expanded, as Keras' squeeze_or_expand_to_same_rank
    assert MeanSquaredError(reduction="none")([1.0, 2.0], [[1.5], [2.0]]).tolist() == [0.25, 0.0]
    # y_true (batch, 2) against y_pred (batch, 2, 1): y_pred squeezed, so one value per sample
    values = MeanSquaredError(reduction="none")(np.zeros((3, 2)), np.ones((3, 2, 1)))
    assert values.shape == (3,)
    _, grad = MeanSquaredError().value_and_grad(np.zeros((3, 2)), np.ones((3, 2, 1)))
    assert grad.shape == (3, 2, 1)
    # y_true broadcast to y_pred
    assert MeanSquaredError(reduction="none")(np.zeros((2, 1)), np.ones((2, 3))).tolist() == [1.0, 1.0]
    # labels (batch, 1) for the sparse loss
    a = SparseCategoricalCrossentropy()([[1], [0]], [[0.2, 0.8], [0.6, 0.4]])
    b = SparseCategoricalCrossentropy()([1, 0], [[0.2, 0.8], [0.6, 0.4]])
    assert a == b == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_sample_weight_shapes():
    y_true, y_pred = np.zeros((2, 3, 4)), np.ones((2, 3, 4)) * np.array([1.0, 2.0])[:, None, None]
    # values per sample and position: (2, 3) = [[1,1,1],[4,4,4]]
    assert MeanSquaredError()(y_true, y_pred, [1.0, 0.0]) == pytest.approx(3 / 6)
    assert MeanSquaredError()(y_true, y_pred, [[1.0], [0.0]]) == pytest.approx(3 / 6)
    assert MeanSquaredError()(y_true, y_pred, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) == pytest.approx(5 / 6)
    assert MeanSquaredError()(y_true, y_pred, 2.0) == pytest.approx(2 * 15 / 6)


def test_dtypes():
    y_true = np.array([[0, 1]])
    value, grad = MeanSquaredError().value_and_grad(y_true, np.array([[1, 1]]))  # integers become float32
    assert grad.dtype == np.float32 and value == 0.5
    for dtype in (np.float32, np.float64):
        for loss in (
            BinaryCrossentropy(from_logits=True),
            CategoricalCrossentropy(),
            SparseCategoricalCrossentropy(),
        ):
            y = np.array([[0.3, 0.7]], dtype=dtype)
            labels = [1] if isinstance(loss, SparseCategoricalCrossentropy) else [[0.0, 1.0]]
            _, grad = loss.value_and_grad(labels, y)
            assert grad.dtype == dtype and grad.shape == y.shape
            assert loss(labels, y, None) == pytest.approx(loss(labels, y.astype(np.float64)), rel=1e-6)
    y_pred = np.array([[0.3, 0.7]])
    before = y_pred.copy()
    CategoricalCrossentropy().value_and_grad([[0.0, 1.0]], y_pred)
    assert np.array_equal(y_pred, before)  # the caller's array is left alone


def test_class_axis():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 3))
    t = np.eye(4)[rng.integers(0, 4, (2, 3))].transpose(0, 2, 1)  # classes on axis 1
    a = CategoricalCrossentropy(from_logits=True, axis=1)
    b = CategoricalCrossentropy(from_logits=True)
    assert a(t, x) == pytest.approx(b(t.transpose(0, 2, 1), x.transpose(0, 2, 1)), rel=1e-12)
    labels = t.argmax(axis=1)
    c = SparseCategoricalCrossentropy(from_logits=True, axis=1)
    assert c(labels, x) == pytest.approx(a(t, x), rel=1e-12)
    d = BinaryCrossentropy(axis=1, reduction="none")
    assert d(np.ones((2, 4, 3)), np.full((2, 4, 3), 0.5)).shape == (2, 3)


# --- gradients by finite differences, on drawn cases ---------------------------------------------


def numeric_grad(f, x, h=1e-6):
    x = x.copy()
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f(x)
        x[idx] = old - h
        down = f(x)
        x[idx] = old
        g[idx] = (up - down) / (2 * h)
    return g


GRAD_CASES = {
    "mse": lambda r: MeanSquaredError(reduction=r),
    "mae": lambda r: MeanAbsoluteError(reduction=r),
    "bce": lambda r: BinaryCrossentropy(reduction=r),
    "bce_smooth": lambda r: BinaryCrossentropy(label_smoothing=0.3, reduction=r),
    "bce_logits": lambda r: BinaryCrossentropy(from_logits=True, reduction=r),
    "bce_logits_smooth_axis1": lambda r: BinaryCrossentropy(
        from_logits=True, label_smoothing=0.1, axis=1, reduction=r
    ),
    "cce": lambda r: CategoricalCrossentropy(reduction=r),
    "cce_smooth": lambda r: CategoricalCrossentropy(label_smoothing=0.2, reduction=r),
    "cce_logits": lambda r: CategoricalCrossentropy(from_logits=True, reduction=r),
    "cce_logits_smooth_axis1": lambda r: CategoricalCrossentropy(
        from_logits=True, label_smoothing=0.1, axis=1, reduction=r
    ),
    "sce": lambda r: SparseCategoricalCrossentropy(reduction=r),
    "sce_logits": lambda r: SparseCategoricalCrossentropy(from_logits=True, reduction=r),
    "sce_ignore": lambda r: SparseCategoricalCrossentropy(ignore_class=-1, reduction=r),
    "sce_logits_ignore": lambda r: SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=-1, reduction=r
    ),
    "fused_sparse": "fused_sparse",
    "fused_onehot": "fused_onehot",
}


@st.composite
def grad_cases(draw, name):
    classes = draw(st.integers(2 if ("ce" in name or "fused" in name) else 1, 4))
    if name.endswith("axis1"):  # classes on axis 1, one more axis after them
        shape = (draw(st.integers(1, 3)), classes, draw(st.integers(1, 3)))
    else:
        shape = (draw(st.integers(1, 3)), *draw(st.lists(st.integers(1, 3), max_size=1)), classes)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    reduction = draw(st.sampled_from(REDUCTIONS))
    weight_kind = draw(st.sampled_from(["none", "per_sample", "per_value", "scalar"]))
    axis = 1 if name.endswith("axis1") else len(shape) - 1
    values_shape = shape[:axis] + shape[axis + 1:]
    if name in ("mse", "mae"):
        y_true = rng.normal(size=shape)
        y_pred = y_true + rng.choice([-1, 1], size=shape) * rng.uniform(
            0.01, 1.0, shape
        )  # away from |.|'s kink
    elif name.startswith("bce"):
        y_true = rng.random(shape)
        y_pred = rng.uniform(-4, 4, shape) if "logits" in name else rng.uniform(0.02, 0.98, shape)
    elif name.startswith("cce") or name == "fused_onehot":
        # soft targets; their sums are not 1, which the formula -sum(t log q) allows
        soft = rng.dirichlet(np.ones(shape[axis]), size=values_shape) * rng.uniform(
            0.5, 1.5, values_shape + (1,)
        )
        y_true = np.moveaxis(soft, -1, axis)
        y_pred = (
            rng.uniform(0.05, 1.0, shape)
            if ("logits" not in name and "fused" not in name)
            else rng.uniform(-4, 4, shape)
        )
    else:
        y_true = rng.integers(-1 if "ignore" in name else 0, shape[-1], size=values_shape)
        if draw(st.booleans()):
            y_true = y_true[..., None]
        y_pred = (
            rng.uniform(-4, 4, shape)
            if ("logits" in name or "fused" in name)
            else rng.uniform(0.05, 1.0, shape)
        )
    weight = {
        "none": None,
        "per_sample": rng.uniform(0.1, 2.0, shape[0]),
        "per_value": rng.uniform(0.1, 2.0, values_shape),
        "scalar": 1.7,
    }[weight_kind]
    return y_true, y_pred, weight, reduction


def _total(result):
    return float(np.sum(result))


@pytest.mark.parametrize("name", list(GRAD_CASES))
@given(data=st.data())
def test_gradient_matches_finite_differences(name, data):
    y_true, y_pred, weight, reduction = data.draw(grad_cases(name))
    if name.startswith("fused"):
        sparse = name == "fused_sparse"
        reduction = "sum_over_batch_size"

        def run(p):
            return softmax_cross_entropy_with_logits(y_true, p, sparse, weight)
    else:
        loss = GRAD_CASES[name](reduction)

        def run(p):
            return loss.value_and_grad(y_true, p, weight)

    value, grad = run(y_pred)
    assert grad.shape == y_pred.shape and grad.dtype == y_pred.dtype
    evaluate = (lambda p: run(p)[0]) if name.startswith("fused") else (lambda p: loss(y_true, p, weight))
    expected = numeric_grad(lambda p: _total(evaluate(p)), y_pred)
    err = relative_error(grad, expected)
    assert err < 1e-6, f"{name} {reduction}: relative error {err:.2e}"
    if not name.startswith("fused"):
        assert np.allclose(_total(loss(y_true, y_pred, weight)), _total(value), rtol=1e-12)


def test_fused_gradient_is_softmax_minus_onehot_times_weight_over_n():
    rng = np.random.default_rng(1)
    logits, labels, weight = rng.normal(size=(5, 4)), rng.integers(0, 4, 5), rng.uniform(0.5, 2.0, 5)
    value, grad = softmax_cross_entropy_with_logits(labels, logits, True, weight)
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    onehot = np.eye(4)[labels]
    assert_close(grad, (softmax - onehot) * weight[:, None] / 5)
    assert value == pytest.approx(
        float(np.sum(-np.log(softmax[np.arange(5), labels]) * weight) / 5), rel=1e-12
    )
    value2, grad2 = softmax_cross_entropy_with_logits(onehot, logits, False, weight)
    assert value2 == pytest.approx(value, rel=1e-12) and np.allclose(grad2, grad, rtol=1e-12)
    # equal to the probability loss on softmax(logits), away from the clip
    assert CategoricalCrossentropy()(onehot, softmax, weight) == pytest.approx(value, rel=1e-9)
    # the loss-class options pass through
    v3, _ = softmax_cross_entropy_with_logits(
        np.where(np.arange(5) == 2, -1, labels), logits, True, ignore_class=-1
    )
    assert v3 == pytest.approx(SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)(
        np.where(np.arange(5) == 2, -1, labels), logits))
    v4, _ = softmax_cross_entropy_with_logits(onehot, logits, False, label_smoothing=0.1, reduction="sum")
    assert v4 == pytest.approx(
        CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum")(onehot, logits)
    )


def test_reduction_none_gradient_is_that_of_the_sum():
    y_true, y_pred = np.zeros((2, 3)), np.arange(6.0).reshape(2, 3)
    values, grad = MeanSquaredError(reduction="none").value_and_grad(y_true, y_pred, [1.0, 2.0])
    assert values.tolist() == pytest.approx([5 / 3, 2 * 50 / 3])
    assert_close(grad, 2 * y_pred / 3 * np.array([[1.0], [2.0]]))


# --- clipping and extreme values ---------------------------------------------------------------------


def test_probabilities_are_clipped_and_the_gradient_is_zero_where_clipped():
    p = np.array([[0.0, 1.0, 1e-9, 0.5, 1.5, -0.2]])
    t = np.array([[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]])
    value, grad = BinaryCrossentropy(reduction="none").value_and_grad(t, p)
    big = -math.log(EPS)
    expected = [big, -math.log(1 - (1 - EPS)), big, math.log(2), -math.log(1 - (1 - EPS)), big]
    assert_close(value, [sum(expected) / 6], rtol=1e-9)
    assert grad[0, [0, 1, 2, 4, 5]].tolist() == [0.0] * 5 and grad[0, 3] == pytest.approx(-2 / 6)
    numeric = numeric_grad(lambda q: float(np.sum(BinaryCrossentropy(reduction="none")(t, q))), p, h=1e-10)
    assert_close(grad, numeric, rtol=1e-5)
    # categorical: the true class has probability 0 -> -log(eps), and nothing moves it
    value, grad = CategoricalCrossentropy().value_and_grad([[1.0, 0.0, 0.0]], [[0.0, 0.3, 0.7]])
    assert value == pytest.approx(-math.log(EPS), rel=1e-12)
    assert np.all(grad == 0.0)
    value, grad = SparseCategoricalCrossentropy().value_and_grad([1], [[0.0, 1.0]])  # r = 1 is clipped too
    assert value == pytest.approx(-math.log(1 - EPS), rel=1e-9) and np.all(grad == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite_without_warnings(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 30.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        v, g = BinaryCrossentropy(from_logits=True, reduction="none").value_and_grad(
            np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]]), x)
        assert_close(v, [(1e4 + 1e4 + math.log(2)) / 3, (0 + 0 + 30 + math.log1p(math.exp(-30))) / 3], dtype)
        assert_close(g, np.array([[1.0, -1.0, -0.5], [0.0, 0.0, 1.0]]) / 3, dtype)
        v, g = CategoricalCrossentropy(from_logits=True, reduction="none").value_and_grad(
            np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), x)
        assert_close(v, [2e4, 2e4], dtype)
        assert_close(g, np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]]), dtype)
        v, g = SparseCategoricalCrossentropy(from_logits=True).value_and_grad([0, 1], x)
        assert v == pytest.approx(0.0, abs=1e-6) and np.all(np.isfinite(g))
        v, g = softmax_cross_entropy_with_logits([1, 0], x, True)
        assert v == pytest.approx(2e4, rel=1e-6) and np.all(np.isfinite(g))


# --- PyTorch -----------------------------------------------------------------------------------------


def _torch_grad(fn, y_pred):
    t = torch()
    x = t.tensor(y_pred, requires_grad=True)
    value = fn(x)
    value.backward()
    return float(value.detach()), x.grad.numpy()


@requires_torch
@pytest.mark.parametrize("weighted", [False, True])
def test_against_torch(weighted):
    t = torch()
    F = t.nn.functional
    rng = np.random.default_rng(5)
    n, h, c = 4, 3, 5
    w = rng.uniform(0.2, 2.0, n) if weighted else np.ones(n)
    tw = t.tensor(w)

    def mean_over(per_value, values_shape):
        # Keras' sum_over_batch_size with per-sample weights
        return (per_value * tw.reshape((n,) + (1,) * (len(values_shape) - 1))).sum() / math.prod(values_shape)

    cases = []
    y, p = rng.normal(size=(n, h, c)), rng.normal(size=(n, h, c))
    cases.append(
        (
            MeanSquaredError(),
            y,
            p,
            lambda x, y=y: mean_over(F.mse_loss(x, t.tensor(y), reduction="none").mean(-1), (n, h)),
        )
    )
    cases.append(
        (
            MeanAbsoluteError(),
            y,
            p,
            lambda x, y=y: mean_over(F.l1_loss(x, t.tensor(y), reduction="none").mean(-1), (n, h)),
        )
    )
    y, p = rng.random((n, c)), rng.uniform(0.05, 0.95, (n, c))
    cases.append(
        (
            BinaryCrossentropy(),
            y,
            p,
            lambda x, y=y: mean_over(F.binary_cross_entropy(x, t.tensor(y), reduction="none").mean(-1), (n,)),
        )
    )
    smoothed = y * 0.8 + 0.1
    cases.append(
        (
            BinaryCrossentropy(label_smoothing=0.2),
            y,
            p,
            lambda x: mean_over(
                F.binary_cross_entropy(x, t.tensor(smoothed), reduction="none").mean(-1), (n,)
            ),
        )
    )
    logits = rng.uniform(-5, 5, (n, c)) * np.array([1, 1, 1, 1, 2000.0])  # one column of huge logits
    cases.append(
        (
            BinaryCrossentropy(from_logits=True),
            y,
            logits,
            lambda x, y=y: mean_over(
                F.binary_cross_entropy_with_logits(x, t.tensor(y), reduction="none").mean(-1), (n,)
            ),
        )
    )
    labels = rng.integers(0, c, (n, h))
    onehot = np.eye(c)[labels]
    logits = rng.normal(size=(n, h, c)) * 3
    logits[0, 0] = [1e4, -1e4, 0, 0, 0]
    cases.append((CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), onehot, logits,
                  lambda x: mean_over(F.cross_entropy(x.permute(0, 2, 1), t.tensor(onehot).permute(0, 2, 1),
                                                      label_smoothing=0.1, reduction="none"), (n, h))))
    probs = rng.uniform(0.05, 1.0, (n, h, c))
    cases.append(
        (
            CategoricalCrossentropy(),
            onehot,
            probs,
            lambda x: mean_over(
                F.nll_loss(
                    t.log(x / x.sum(-1, keepdim=True)).permute(0, 2, 1), t.tensor(labels), reduction="none"
                ),
                (n, h),
            ),
        )
    )
    cases.append(
        (
            SparseCategoricalCrossentropy(from_logits=True),
            labels,
            logits,
            lambda x: mean_over(
                F.cross_entropy(x.permute(0, 2, 1), t.tensor(labels), reduction="none"), (n, h)
            ),
        )
    )
    for loss, y_true, y_pred, reference in cases:
        value, grad = loss.value_and_grad(y_true, y_pred, w if weighted else None)
        expected_value, expected_grad = _torch_grad(reference, y_pred)
        assert value == pytest.approx(expected_value, rel=1e-10), loss
        assert_close(grad, expected_grad)
    # ignore_class is torch's ignore_index, and the mean is over the entries that count
    ignored = labels.copy()
    ignored[1, :2] = ignored[3, 0] = -1
    loss = SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    value, grad = loss.value_and_grad(ignored, logits)
    expected_value, expected_grad = _torch_grad(
        lambda x: F.cross_entropy(x.permute(0, 2, 1), t.tensor(ignored), ignore_index=-1), logits)
    assert value == pytest.approx(expected_value, rel=1e-10)
    assert_close(grad, expected_grad)


# --- get, serialize, configs ------------------------------------------------------------------------


def test_get_and_serialize():
    assert isinstance(losses.get("mse"), MeanSquaredError)
    assert isinstance(losses.get("MAE"), MeanAbsoluteError)
    assert isinstance(losses.get("bce"), BinaryCrossentropy)
    assert isinstance(losses.get("categorical_crossentropy"), CategoricalCrossentropy)
    assert isinstance(losses.get("SparseCategoricalCrossentropy"), SparseCategoricalCrossentropy)
    assert isinstance(losses.get(losses.sparse_categorical_crossentropy), SparseCategoricalCrossentropy)
    assert isinstance(losses.get(losses.mse), MeanSquaredError)
    assert isinstance(losses.get(BinaryCrossentropy), BinaryCrossentropy)
    assert losses.get(None) is None
    instance = CategoricalCrossentropy(from_logits=True)
    assert losses.get(instance) is instance
    config = losses.serialize(
        CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum", name="ce")
    )
    assert config == {"class_name": "CategoricalCrossentropy", "config": {
        "name": "ce", "reduction": "sum", "from_logits": True, "label_smoothing": 0.1, "axis": -1}}
    again = losses.get(config)
    assert isinstance(again, CategoricalCrossentropy) and again.get_config() == config["config"]
    for loss in (MeanSquaredError(), MeanAbsoluteError(), BinaryCrossentropy(axis=1),
                 SparseCategoricalCrossentropy(ignore_class=255)):
        assert losses.get(losses.serialize(loss)).get_config() == loss.get_config()
    assert losses.serialize(losses.mean_squared_error) == "mean_squared_error"
    assert (
        MeanSquaredError().name == "mean_squared_error" and BinaryCrossentropy().name == "binary_crossentropy"
    )
    assert "from_logits=True" in repr(instance)


def test_custom_losses():
    def my_loss(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    wrapped = losses.get(my_loss)
    assert isinstance(wrapped, LossFunctionWrapper) and wrapped.name == "my_loss"
    assert wrapped([[0.0, 2.0]], [[1.0, 1.0]]) == 1.0
    assert wrapped.get_config()["fn"] == "my_loss"
    with pytest.raises(
        NotImplementedError, match=r"LossFunctionWrapper: this loss gives values but no gradient.*my_loss"
    ):
        wrapped.value_and_grad([[0.0]], [[1.0]])

    class OnlyCall(Loss):
        def call(self, y_true, y_pred):
            return np.sum(np.asarray(y_pred) ** 2, axis=-1)

    assert OnlyCall()([[0.0]], [[3.0]], [2.0]) == 18.0
    assert OnlyCall().name == "only_call"
    with pytest.raises(NotImplementedError, match="OnlyCall: this loss gives values but no gradient"):
        OnlyCall().value_and_grad([[0.0]], [[3.0]])

    class WithForward(Loss):
        def forward(self, y_true, y_pred):
            y_pred = np.asarray(y_pred, float)
            return np.sum(y_pred**2, axis=-1), lambda dv: 2 * dv[..., None] * y_pred, None

    value, grad = WithForward(reduction="sum").value_and_grad([[0.0]], [[3.0]])
    assert value == 9.0 and grad.tolist() == [[6.0]]
    assert WithForward().call([[0.0]], [[3.0]]).tolist() == [9.0]


# --- every error ----------------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"MeanSquaredError: the `reduction` argument must be one of \{'sum_over_batch_size'.*"
        r"Received: reduction='avg'",
    ):
        MeanSquaredError(reduction="avg")
    with pytest.raises(
        ValueError,
        match=r"MeanSquaredError: expected y_pred with at least one axis.*Received: y_pred.shape=\(\)",
    ):
        MeanSquaredError()(1.0, 2.0)
    with pytest.raises(TypeError, match=r"BinaryCrossentropy expected a numeric array.*y_pred"):
        BinaryCrossentropy()([[1.0]], [["a"]])
    with pytest.raises(ValueError, match=r"MeanAbsoluteError: expected y_true with y_pred's shape \(2, 3\).*"
                                         r"Received: y_true.shape=\(2, 2\), y_pred.shape=\(2, 3\)"):
        MeanAbsoluteError()(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"BinaryCrossentropy: the `axis` argument must be an int in \[-2, 2\).*Received: axis=2",
    ):
        BinaryCrossentropy(axis=2)(np.zeros((2, 3)), np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"Received: axis=True"):
        CategoricalCrossentropy(axis=True)(np.zeros((2, 3)), np.full((2, 3), 0.5))
    with pytest.raises(
        ValueError,
        match=r"MeanSquaredError: expected sample_weight with one weight per sample, shape \(4,\).*"
        r"Received: sample_weight.shape=\(3,\)",
    ):
        MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 2)), np.ones(3))
    with pytest.raises(NotImplementedError, match="Loss: a Loss subclass must implement call"):
        Loss()([[0.0]], [[0.0]])
    with pytest.raises(
        TypeError, match=r"LossFunctionWrapper: expected a callable fn\(y_true, y_pred\). Received: fn=3"
    ):
        LossFunctionWrapper(3)
    for bad in (-0.1, 1.5, "0.1", True):
        with pytest.raises(
            ValueError,
            match=r"the `label_smoothing` argument must be a float in \[0, 1\]. Received: label_smoothing=",
        ):
            CategoricalCrossentropy(label_smoothing=bad)
    with pytest.raises(ValueError, match=r"BinaryCrossentropy: the `label_smoothing`"):
        BinaryCrossentropy(label_smoothing=2)
    with pytest.raises(
        ValueError,
        match=r"CategoricalCrossentropy: expected one-hot y_true with y_pred's shape \(for integer "
        r"labels use SparseCategoricalCrossentropy\). Received: y_true.shape=\(2,\), y_pred.shape=\(2, 3\)",
    ):
        CategoricalCrossentropy()([0, 1], np.full((2, 3), 0.3))
    with pytest.warns(
        UserWarning,
        match=r"expected y_pred.shape to be \(batch_size, num_classes\) with num_classes > 1. "
        r"Received: y_pred.shape=\(2, 1\)",
    ):
        CategoricalCrossentropy()(np.ones((2, 1)), np.ones((2, 1)))
    with pytest.raises(
        ValueError,
        match=r"SparseCategoricalCrossentropy: the `ignore_class` argument must be None or an int.*"
        r"Received: ignore_class=0.5",
    ):
        SparseCategoricalCrossentropy(ignore_class=0.5)
    with pytest.raises(
        ValueError,
        match=r"SparseCategoricalCrossentropy: expected integer labels of shape \(2,\).*"
        r"Received: y_true.shape=\(2, 3\), y_pred.shape=\(2, 3\)",
    ):
        SparseCategoricalCrossentropy()(np.zeros((2, 3)), np.full((2, 3), 0.3))
    with pytest.raises(
        ValueError,
        match=r"expected integer class labels in \[0, 3\) for y_pred with 3 classes. "
        r"Received: y_true containing \[3.0\]",
    ):
        SparseCategoricalCrossentropy()([0, 3], np.full((2, 3), 0.3))
    with pytest.raises(
        ValueError, match=r"in \[0, 3\) \(or ignore_class=-1\).*Received: y_true containing \[0.5, 7.0\]"
    ):
        SparseCategoricalCrossentropy(ignore_class=-1)([0.5, 7, -1], np.full((3, 3), 0.3))
    with pytest.raises(ValueError, match=r"Received: y_true containing \[-1.0\]"):
        SparseCategoricalCrossentropy()([-1, 0], np.full((2, 3), 0.3))
    with pytest.raises(
        ValueError,
        match=r"softmax_cross_entropy_with_logits: label_smoothing applies to one-hot targets "
        r"\(sparse=False\). Received: sparse=True, label_smoothing=0.1",
    ):
        softmax_cross_entropy_with_logits([0], [[1.0, 2.0]], True, label_smoothing=0.1)
    with pytest.raises(
        ValueError,
        match=r"ignore_class applies to integer labels \(sparse=True\). Received: sparse=False, "
        r"ignore_class=-1",
    ):
        softmax_cross_entropy_with_logits([[1.0, 0.0]], [[1.0, 2.0]], False, ignore_class=-1)
    with pytest.raises(
        ValueError,
        match=r"unknown loss class_name. Expected one of \['BinaryCrossentropy', .*\]. "
        r"Received: class_name='Huber'",
    ):
        losses.get({"class_name": "Huber", "config": {}})
    with pytest.raises(
        ValueError,
        match=r"unknown loss. Expected one of \['bce', 'binary_crossentropy', "
        r"'categorical_crossentropy', 'mae', 'mean_absolute_error', 'mean_squared_error', "
        r"'mse', 'sparse_categorical_crossentropy'\], a Loss or a callable.*Received: 'huber'",
    ):
        losses.get("huber")
    with pytest.raises(ValueError, match=r"unknown loss.*Received: 3"):
        losses.get(3)
