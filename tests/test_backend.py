"""backend, random, variables, initializers: the small modules under the layers."""
import numpy as np
import pytest

import convolve
from convolve import initializers
from convolve.backend import as_float_array, get_array_module, standardize_dtype
from convolve.random import generator, set_random_seed
from convolve.variables import Variable


def test_as_float_array_casts_ints_and_keeps_floats_without_copying():
    x = np.arange(4)
    y = as_float_array(x)
    assert y.dtype == np.float32 and x.dtype == np.int64
    f = np.ones(3)
    assert as_float_array(f) is f
    assert as_float_array([True, False]).dtype == np.float32
    assert get_array_module(f) is np


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.array(["a"]), r"dtype=<U1"),
        (np.array([object()]), r"dtype=object"),
        ([[1, 2], [3]], r"cannot become an array"),
    ],
)
def test_as_float_array_rejects_non_numeric(bad, match):
    with pytest.raises(TypeError, match=match):
        as_float_array(bad, where="here")


def test_standardize_dtype():
    assert standardize_dtype(None) == "float32"
    assert standardize_dtype(np.float64) == "float64"
    with pytest.raises(ValueError, match=r"dtype must be one of .* Received: dtype='int32'"):
        standardize_dtype("int32")
    with pytest.raises(TypeError, match=r"Received: dtype='floaty'"):
        standardize_dtype("floaty")


def test_set_floatx_round_trip():
    convolve.set_floatx("float64")
    try:
        assert convolve.floatx() == "float64"
        assert as_float_array(np.arange(2)).dtype == np.float64
    finally:
        convolve.set_floatx("float32")


def test_seed_makes_initializers_reproducible():
    set_random_seed(7)
    a = initializers.get("glorot_uniform")((3, 3, 2, 4))
    set_random_seed(7)
    b = initializers.get("glorot_uniform")((3, 3, 2, 4))
    np.testing.assert_array_equal(a, b)
    assert generator(3).integers(1000) == generator(3).integers(1000)
    with pytest.raises(ValueError, match=r"non-negative integer seed. Received: seed=-1"):
        set_random_seed(-1)


@pytest.mark.parametrize(
    "name,scale,fan",
    [("glorot_uniform", 1.0, "avg"), ("he_uniform", 2.0, "in"), ("lecun_uniform", 1.0, "in")],
)
def test_uniform_variance_scaling_limits(name, scale, fan):
    shape = (3, 3, 16, 32)
    fan_in, fan_out = 3 * 3 * 16, 3 * 3 * 32
    n = {"avg": (fan_in + fan_out) / 2, "in": fan_in}[fan]
    w = initializers.get(name)(shape)
    limit = np.sqrt(3 * scale / n)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert abs(w.var() - scale / n) < 0.1 * scale / n  # uniform(-l, l) has variance l^2 / 3


@pytest.mark.parametrize("name,scale", [("glorot_normal", 1.0), ("he_normal", 2.0), ("lecun_normal", 1.0)])
def test_truncated_normal_variance_scaling(name, scale):
    shape = (64, 256)
    w = initializers.get(name, "t")(shape)
    n = {"glorot_normal": (64 + 256) / 2}.get(name, 64)
    assert abs(w.var() - scale / n) < 0.1 * scale / n
    assert np.abs(w).max() <= 2 * np.sqrt(scale / n) / 0.87962566103423978 + 1e-6


def test_other_initializers():
    assert np.all(initializers.get("zeros")((2, 2)) == 0)
    assert np.all(initializers.get("ones")((2,)) == 1)
    assert np.all(initializers.Constant(3.0)((2,)) == 3)
    q = initializers.get("orthogonal")((6, 4)).astype(np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    r = initializers.RandomNormal(stddev=1.0, seed=1)((1000,))
    np.testing.assert_array_equal(r, initializers.RandomNormal(stddev=1.0, seed=1)((1000,)))
    u = initializers.RandomUniform(-1, 1)((1000,))
    assert u.min() >= -1 and u.max() <= 1
    assert np.abs(initializers.TruncatedNormal(stddev=1.0)((1000,))).max() <= 2
    cfg = initializers.serialize(initializers.get("he_normal"))
    assert cfg == {"class_name": "HeNormal", "config": {"seed": None}}
    assert isinstance(initializers.get(cfg), initializers.HeNormal)


def test_initializer_errors():
    with pytest.raises(
        ValueError, match=r"unknown initializer. Expected one of .*'glorot_uniform'.* Received: 'glorot'"
    ):
        initializers.get("glorot")
    with pytest.raises(ValueError, match=r"mode must be one of .* Received: mode='fan'"):
        initializers.VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match=r"distribution must be one of .* Received: distribution='normal'"):
        initializers.VarianceScaling(distribution="normal")
    with pytest.raises(ValueError, match=r"at least 2 dimensions. Received: shape=\(3,\)"):
        initializers.Orthogonal()((3,))


def test_variable_assign_checks_shape_and_copies():
    v = Variable(np.zeros((2, 3), np.float32), "kernel", path="conv/kernel")
    new = np.ones((2, 3))
    v.assign(new)
    new[...] = 5
    assert v.dtype == "float32" and np.all(v.numpy() == 1)
    with pytest.raises(
        ValueError, match=r"weight 'kernel' expects shape \(2, 3\). Received: value with shape \(3, 2\)"
    ):
        v.assign(np.ones((3, 2)))
    assert np.asarray(v).shape == (2, 3) and "conv/kernel" in repr(v)
