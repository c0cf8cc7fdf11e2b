"""ops/kernels/optimizers.py: one compiled pass per variable against the optimizers' NumPy steps.

The kernels do NumPy's operations in NumPy's order, so after several steps the weights and
every slot are equal bit for bit, in float32 and float64, for every configuration of
tests/optimizers/test_optimizers.py (momentum, Nesterov, AMSGrad, centered, weight decay,
schedules) and with clipping. The arrays a caller passes are never written.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.optimizers import SGD, Adam, RMSprop
from convolve.variables import Variable
from tests.helpers import using_kernels
from tests.optimizers.test_optimizers import CASES

CLIPPING = {"none": {}, "clipnorm": {"clipnorm": 0.5}, "clipvalue": {"clipvalue": 0.3},
            "global": {"global_clipnorm": 1.0}}


def train(kernels, cls, kwargs, shapes, dtype, seed, steps=4):
    """``steps`` updates of fresh variables of ``shapes`` under ``kernels``; (weights, state)."""
    rng = np.random.default_rng(seed)
    variables = [Variable(rng.uniform(-1, 1, s).astype(dtype), name=f"v{i}", path=f"v{i}")
                 for i, s in enumerate(shapes)]
    grads = [[(scale * rng.standard_normal(s)).astype(dtype) for s in shapes]
             for scale in (2.0, 0.1, 1.0, 0.5)]
    opt = cls(**kwargs)
    with using_kernels(kernels):
        for g in grads[:steps]:
            before = [a.copy() for a in g]
            opt.apply(g, variables)
            for a, b in zip(g, before):  # the caller's gradients are never written
                np.testing.assert_array_equal(a, b)
    return [v.value for v in variables], opt.state()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clipping", list(CLIPPING))
@pytest.mark.parametrize("case", list(CASES))
def test_every_configuration_equals_numpy_bit_for_bit(case, clipping, dtype):
    cls, kwargs = CASES[case]
    kwargs = {**kwargs, **CLIPPING[clipping]}
    shapes = [(3, 4), (4,), (2, 3, 5)]
    reference = train("numpy", cls, kwargs, shapes, dtype, seed=len(case))
    compiled = train("numba", cls, kwargs, shapes, dtype, seed=len(case))
    for a, b in zip(compiled[0], reference[0]):
        np.testing.assert_array_equal(a, b)
    assert sorted(compiled[1]) == sorted(reference[1])
    for key in reference[1]:
        np.testing.assert_array_equal(compiled[1][key], reference[1][key], err_msg=key)


@given(
    size=st.integers(1, 200_000),
    dtype=st.sampled_from([np.float32, np.float64]),
    which=st.sampled_from([(Adam, {"amsgrad": True}), (SGD, {"momentum": 0.9, "nesterov": True}),
                           (RMSprop, {"momentum": 0.5, "centered": True})]),
)
def test_sizes_split_over_threads_equal_numpy(size, dtype, which):
    """Large variables are split over the worker threads: every element updated once, as NumPy does."""
    cls, kwargs = which
    reference = train("numpy", cls, kwargs, [(size,)], dtype, seed=size, steps=2)
    compiled = train("numba", cls, kwargs, [(size,)], dtype, seed=size, steps=2)
    np.testing.assert_array_equal(compiled[0][0], reference[0][0])
    for key in reference[1]:
        np.testing.assert_array_equal(compiled[1][key], reference[1][key])


def test_slots_restored_from_a_state_are_the_optimizers_own_copies():
    """set_state copies: the arrays a caller restored from are not updated by later steps."""
    w = Variable(np.ones(6, np.float32), name="w", path="w")
    opt = Adam()
    state = {"iterations": np.asarray(3), "learning_rate": np.asarray(0.001),
             "w/momentum": np.full(6, 0.5, np.float32), "w/velocity": np.full(6, 0.25, np.float32)}
    kept = {k: np.array(v, copy=True) for k, v in state.items()}
    opt.set_state(state)
    with using_kernels("numba"):
        opt.apply([np.full(6, 0.1, np.float32)], [w])
    for key, value in state.items():
        np.testing.assert_array_equal(value, kept[key])
    assert not np.array_equal(opt.state()["w/momentum"], kept["w/momentum"])


def test_a_strided_variable_or_a_gradient_sharing_its_memory_takes_the_numpy_steps():
    for kernels in ("numpy", "numba"):
        base = np.arange(12, dtype=np.float64).reshape(3, 4)
        strided = Variable(base[:, ::2], name="s", path="s")  # a view: updated through it
        with using_kernels(kernels):
            Adam(learning_rate=0.1).apply([np.ones((3, 2))], [strided])
            own = Variable(np.ones(4), name="o", path="o")
            SGD(learning_rate=0.5, weight_decay=0.1).apply([own.value], [own])  # its own gradient
        if kernels == "numpy":
            expected = (base.copy(), own.value.copy())
        else:
            np.testing.assert_array_equal(base, expected[0])
            np.testing.assert_array_equal(own.value, expected[1])
