"""Tests for convolve/regularizers.py: penalties by hand, gradients by finite differences,
get/serialize, and every error message."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from convolve import regularizers
from convolve.regularizers import L1, L1L2, L2, Regularizer
from convolve.variables import Variable

X = np.array([[1.5, -2.0, 0.25], [-0.5, 3.0, -1.0]])


def test_penalties_by_hand():
    assert L1(0.1)(X) == pytest.approx(0.1 * 8.25, rel=1e-15)
    assert L2(0.1)(X) == pytest.approx(0.1 * (2.25 + 4 + 0.0625 + 0.25 + 9 + 1), rel=1e-15)
    assert L1L2(l1=0.1, l2=0.2)(X) == pytest.approx(0.1 * 8.25 + 0.2 * 16.5625, rel=1e-15)
    assert L1L2()(X) == 0.0 and L1(0.0)(X) == 0.0
    assert L2(2.0)(np.ones((5, 5))) == 50.0  # Keras' docstring example
    assert type(L1()(X)) is float and type(L1L2(l1=0.1)(X)) is float
    assert Regularizer()(X) == 0.0
    np.testing.assert_array_equal(Regularizer().gradient(X), np.zeros_like(X))


def test_keras_defaults():
    assert L1().l1 == 0.01 and L2().l2 == 0.01
    assert (L1L2().l1, L1L2().l2) == (0.0, 0.0)
    assert L1(None).l1 == 0.01 and L1L2(l1=None, l2=0.5).get_config() == {"l1": 0.0, "l2": 0.5}


def test_variables_and_float32():
    x32 = X.astype(np.float32)
    v = Variable(x32, name="kernel")
    assert L2(0.1)(v) == pytest.approx(0.1 * 16.5625, rel=1e-6)
    for reg in (L1(0.1), L2(0.1), L1L2(0.1, 0.2)):
        grad = reg.gradient(v)
        assert grad.dtype == np.float32 and grad.shape == X.shape
    np.testing.assert_allclose(L1L2(0.1, 0.2).gradient(v), 0.1 * np.sign(X) + 0.4 * X, rtol=1e-6)
    assert L1(1.0).gradient([[1, -2, 0]]).dtype == np.float32  # integer input becomes float32


def numeric_gradient(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("reg", [L1(0.3), L2(0.7), L1L2(l1=0.2, l2=0.05), L1L2(l1=0.4), L1L2(l2=1.5)],
                         ids=repr)
def test_gradient_by_finite_differences(reg):
    x = np.random.default_rng(0).uniform(-2, 2, size=(4, 3))
    x[np.abs(x) < 0.01] = 0.5  # keep away from L1's kink at 0
    np.testing.assert_allclose(reg.gradient(x), numeric_gradient(reg, x), rtol=1e-7, atol=1e-9)


def test_l1_gradient_is_zero_at_zero():
    np.testing.assert_array_equal(L1(0.5).gradient(np.array([0.0, 2.0, -3.0])), [0.0, 0.5, -0.5])


def test_get_and_serialize():
    assert type(regularizers.get("l1")) is L1 and regularizers.get("l1").l1 == 0.01
    assert type(regularizers.get("l2")) is L2 and regularizers.get("L2").l2 == 0.01
    both = regularizers.get("l1_l2")  # Keras' documented default for the string: 0.01 each
    assert type(both) is L1L2 and (both.l1, both.l2) == (0.01, 0.01)
    assert regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}  # Keras 3's class-name lookup
    assert regularizers.get(None) is None
    reg = L2(0.3)
    assert regularizers.get(reg) is reg

    def custom(x):
        return 0.0

    assert regularizers.get(custom) is custom
    for reg in (L1(0.2), L2(0.3), L1L2(0.1, 0.4)):
        data = json.loads(json.dumps(regularizers.serialize(reg)))
        again = regularizers.get(data)
        assert type(again) is type(reg) and again.get_config() == reg.get_config()
        assert type(reg).from_config(reg.get_config()).get_config() == reg.get_config()
    assert regularizers.serialize(L2(0.5)) == {"class_name": "L2", "config": {"l2": 0.5}}
    assert regularizers.serialize(custom) == "custom"
    assert regularizers.serialize(None) is None


@pytest.mark.parametrize(
    "make, exception, message",
    [
        (
            lambda: L1(-0.1),
            ValueError,
            "L1: the `l1` argument must be a non-negative float. Received: l1=-0.1",
        ),
        (
            lambda: L2(float("inf")),
            ValueError,
            "L2: the `l2` argument must be a non-negative float. Received: l2=inf",
        ),
        (
            lambda: L2("0.1"),
            TypeError,
            "L2: the `l2` argument must be a non-negative float. Received: l2='0.1'",
        ),
        (
            lambda: L1L2(l1=True),
            TypeError,
            "L1L2: the `l1` argument must be a non-negative float. Received: l1=True",
        ),
        (
            lambda: L1L2(l2=float("nan")),
            ValueError,
            "L1L2: the `l2` argument must be a non-negative float. Received: l2=nan",
        ),
        (lambda: L1L2(l1=[0.1]), TypeError, "Received: l1=[0.1]"),
        (
            lambda: L1()("abc"),
            TypeError,
            "L1 expected a numeric array (integer or float) for x. Received: x with dtype=<U3",
        ),
        (lambda: L2().gradient(None), TypeError, "L2 expected a numeric array (integer or float) for x."),
        (
            lambda: Regularizer().get_config(),
            NotImplementedError,
            "Regularizer does not implement get_config()",
        ),
    ],
)
def test_errors(make, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        make()


@pytest.mark.parametrize("identifier", ["l3", "L1_L2", 3, {"class_name": "Orthogonal", "config": {}}])
def test_get_errors(identifier):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "layer: unknown regularizer. Expected one of ['l1', 'l2', 'l1_l2', 'l1l2'], a Regularizer, a "
            "callable or a "
            f"config dict {{'class_name': 'L1' | 'L2' | 'L1L2', 'config': {{...}}}}. Received: {identifier!r}"
        ),
    ):
        regularizers.get(identifier, where="layer")
