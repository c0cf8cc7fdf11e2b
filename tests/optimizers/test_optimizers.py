"""Tests for convolve/optimizers: each update rule against a plain-Python transcription of
Keras 3's formula and against torch.optim where the arithmetic is the same; clipping,
weight decay, None gradients, learning rates, configs, state()/set_state() and every
error message."""
from __future__ import annotations

import copy
import io
import json
import math
import re
import tracemalloc

import numpy as np
import pytest

from convolve import optimizers
from convolve.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from convolve.optimizers.schedules import ExponentialDecay, PiecewiseConstantDecay
from convolve.variables import Variable
from tests.helpers import requires_torch, torch

# ---- plain-Python references: Keras 3's update_step, one element at a time ---------------
#
# Each takes the variable's elements ``w``, the gradient's ``g`` (lists of floats), the
# slots ``s`` (dict of lists), the learning rate, the step t = iterations + 1 and the
# hyperparameters, and updates ``w`` and ``s`` in place.


def ref_sgd(w, g, s, lr, t, momentum, nesterov):
    for i in range(len(w)):
        if momentum == 0:
            w[i] = w[i] - g[i] * lr
            continue
        m = s.setdefault("momentum", [0.0] * len(w))
        m[i] = m[i] * momentum - g[i] * lr
        if nesterov:
            w[i] = w[i] + (m[i] * momentum - g[i] * lr)
        else:
            w[i] = w[i] + m[i]


def ref_adam(w, g, s, lr, t, beta_1, beta_2, epsilon, amsgrad):
    m = s.setdefault("momentum", [0.0] * len(w))
    v = s.setdefault("velocity", [0.0] * len(w))
    alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    for i in range(len(w)):
        m[i] = m[i] + (g[i] - m[i]) * (1 - beta_1)
        v[i] = v[i] + (g[i] * g[i] - v[i]) * (1 - beta_2)
        denominator_v = v[i]
        if amsgrad:
            v_hat = s.setdefault("velocity_hat", [0.0] * len(w))
            v_hat[i] = max(v_hat[i], v[i])
            denominator_v = v_hat[i]
        w[i] = w[i] - m[i] * alpha / (math.sqrt(denominator_v) + epsilon)


def ref_rmsprop(w, g, s, lr, t, rho, momentum, epsilon, centered):
    v = s.setdefault("velocity", [0.0] * len(w))
    for i in range(len(w)):
        v[i] = rho * v[i] + (1 - rho) * g[i] * g[i]
        if centered:
            a = s.setdefault("average_gradient", [0.0] * len(w))
            a[i] = rho * a[i] + (1 - rho) * g[i]
            denominator = v[i] - a[i] * a[i] + epsilon
        else:
            denominator = v[i] + epsilon
        increment = lr * g[i] / math.sqrt(denominator)
        if momentum > 0:
            mom = s.setdefault("momentum", [0.0] * len(w))
            mom[i] = momentum * mom[i] + increment
            w[i] = w[i] - mom[i]
        else:
            w[i] = w[i] - increment


def ref_adagrad(w, g, s, lr, t, initial_accumulator_value, epsilon):
    acc = s.setdefault("accumulator", [initial_accumulator_value] * len(w))
    for i in range(len(w)):
        acc[i] = acc[i] + g[i] * g[i]
        w[i] = w[i] - lr * g[i] / math.sqrt(acc[i] + epsilon)


def ref_weight_decay(w, lr, weight_decay):
    for i in range(len(w)):
        w[i] = w[i] - w[i] * weight_decay * lr


# Keras 3's defaults, written out here so that the library's defaults are checked too
KERAS_DEFAULTS = {
    SGD: dict(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None),
    Adam: dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None),
    AdamW: dict(
        learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=0.004
    ),
    RMSprop: dict(
        learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None
    ),
    Adagrad: dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None),
}
RULES = {SGD: ref_sgd, Adam: ref_adam, AdamW: ref_adam, RMSprop: ref_rmsprop, Adagrad: ref_adagrad}


class Reference:
    """Keras' apply() for one optimizer configuration, on lists of floats."""

    def __init__(self, cls, kwargs):
        self.hyper = {**KERAS_DEFAULTS[cls], **kwargs}
        self.rule = RULES[cls]
        self.iterations = 0
        self.slots = {}

    def learning_rate(self):
        lr = self.hyper["learning_rate"]
        return lr(self.iterations) if callable(lr) else lr

    def apply(self, grads, weights, paths):
        lr = self.learning_rate()
        hyper = {k: v for k, v in self.hyper.items() if k not in ("learning_rate", "weight_decay")}
        for g, w, path in zip(grads, weights, paths):
            if g is None:
                continue
            if self.hyper["weight_decay"] is not None:
                ref_weight_decay(w, lr, self.hyper["weight_decay"])
            self.rule(w, g, self.slots.setdefault(path, {}), lr, self.iterations + 1, **hyper)
        self.iterations += 1


CASES = {
    "sgd": (SGD, dict(learning_rate=0.1)),
    "sgd-momentum": (SGD, dict(learning_rate=0.1, momentum=0.9)),
    "sgd-nesterov": (SGD, dict(learning_rate=0.1, momentum=0.8, nesterov=True)),
    "sgd-defaults": (SGD, dict()),
    "adam": (Adam, dict(learning_rate=0.1)),
    "adam-defaults": (Adam, dict()),
    "adam-amsgrad": (Adam, dict(learning_rate=0.1, beta_1=0.8, beta_2=0.9, epsilon=1e-3, amsgrad=True)),
    "adam-weight-decay": (Adam, dict(learning_rate=0.1, weight_decay=0.5)),
    "adamw": (AdamW, dict(learning_rate=0.1, weight_decay=0.3)),
    "adamw-defaults": (AdamW, dict()),
    "rmsprop": (RMSprop, dict(learning_rate=0.05)),
    "rmsprop-defaults": (RMSprop, dict()),
    "rmsprop-momentum": (RMSprop, dict(learning_rate=0.05, rho=0.8, momentum=0.5)),
    "rmsprop-centered": (RMSprop, dict(learning_rate=0.05, centered=True, epsilon=1e-2)),
    "rmsprop-centered-momentum": (
        RMSprop,
        dict(learning_rate=0.05, rho=0.7, momentum=0.9, centered=True, epsilon=1e-2),
    ),
    "adagrad": (Adagrad, dict(learning_rate=0.1, initial_accumulator_value=0.2, epsilon=1e-3)),
    "adagrad-defaults": (Adagrad, dict()),
    "sgd-schedule": (
        SGD,
        dict(learning_rate=ExponentialDecay(0.2, decay_steps=2, decay_rate=0.5), momentum=0.9),
    ),
    "adam-schedule": (
        Adam,
        dict(learning_rate=PiecewiseConstantDecay([1, 3], [0.1, 0.05, 0.01]), beta_2=0.6, amsgrad=True),
    ),
}

SHAPES = {"dense/kernel": (3, 4), "dense/bias": (4,)}
# gradient magnitudes per step: large, then small (so AMSGrad's maximum matters), then large again
SCALES = [2.0, 1.0, 0.1, 0.05, 0.5, 1.5]


def make_problem(dtype, seed=0):
    """Starting values (float64 copies of the variables' exact values), gradients per step, variables."""
    rng = np.random.default_rng(seed)
    variables = [Variable(rng.uniform(-1, 1, shape).astype(dtype), name=p.split("/")[1], path=p)
                 for p, shape in SHAPES.items()]
    grads = [{path: scale * rng.normal(size=shape) for path, shape in SHAPES.items()} for scale in SCALES]
    start = {v.path: v.value.astype(np.float64) for v in variables}
    return start, grads, variables


def assert_step_close(actual, expected, start, dtype, steps=1):
    """The change from ``start`` against the reference's change, relative to its size; in
    float32 each step may also round the variable by half an ulp (|w| < 2 here)."""
    change_actual = np.asarray(actual, np.float64) - start
    change_expected = np.asarray(expected, np.float64) - start
    scale = np.max(np.abs(change_expected))
    err = np.max(np.abs(change_actual - change_expected))
    if dtype == np.float64:
        bound = 1e-10 * scale
    else:
        bound = 2e-5 * scale + steps * np.finfo(np.float32).eps
    assert err <= bound, f"error of the update {err:.2e} > {bound:.2e} (largest change {scale:.2e})"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_update_against_keras_formula(case, dtype):
    cls, kwargs = CASES[case]
    start, grads, variables = make_problem(dtype)
    opt = cls(**kwargs)
    ref = Reference(cls, kwargs)
    ref_w = {p: start[p].ravel().tolist() for p in SHAPES}  # the float32 values, exactly, in float64
    arrays = [v.value for v in variables]
    for step, g in enumerate(grads):
        cast = [g[p].astype(dtype) for p in SHAPES]
        ref.apply(
            [c.astype(np.float64).ravel().tolist() for c in cast], [ref_w[p] for p in SHAPES], list(SHAPES)
        )
        opt.apply(cast, variables)
        assert opt.iterations == step + 1
        for v in variables:
            assert v.value.dtype == dtype
            assert_step_close(v.value, np.reshape(ref_w[v.path], v.shape), start[v.path], dtype, step + 1)
        state = opt.state()
        for path, slots in ref.slots.items():
            for name, values in slots.items():
                assert state[f"{path}/{name}"].dtype == dtype
                np.testing.assert_allclose(state[f"{path}/{name}"].ravel(), values,
                                           rtol=1e-10 if dtype == np.float64 else 2e-5, atol=1e-12)
        assert sorted(state) == sorted(
            ["iterations"] + (["learning_rate"] if not callable(kwargs.get("learning_rate")) else [])
            + [f"{p}/{n}" for p, s in ref.slots.items() for n in s]
        )
    # updated in place: the very arrays the variables held at the start
    assert all(v.value is a for v, a in zip(variables, arrays))
    if kwargs.get("amsgrad"):  # the case exercises the maximum
        kernel = ref.slots["dense/kernel"]
        assert any(h > v for h, v in zip(kernel["velocity_hat"], kernel["velocity"]))


def test_updates_move_against_the_gradient():
    """A sanity check independent of the references: every rule decreases a quadratic."""
    for cls in (SGD, Adam, AdamW, RMSprop, Adagrad):
        w = Variable(np.array([3.0, -2.0]), name="w")
        opt = cls(learning_rate=0.1)
        for _ in range(50):
            opt.apply([w.value.copy()], [w])  # gradient of 0.5 * |w|^2
        assert np.all(np.abs(w.value) < [3.0, 2.0]), cls.__name__


def test_float64_gradient_for_float32_variable():
    v = Variable(np.ones(5, np.float32), name="w")
    SGD(learning_rate=0.5).apply([np.full(5, 0.25, np.float64)], [v])
    assert v.value.dtype == np.float32
    np.testing.assert_array_equal(v.value, np.full(5, 0.875, np.float32))
    Adam().apply([[1, 2, 3, 4, 5]], [v])  # integer lists are gradients too
    assert v.value.dtype == np.float32


def test_no_allocation_per_step():
    """After the first step (which builds slots and the workspace), a step allocates no array."""
    variables = [Variable(np.ones(50_000), name="w", path="w"), Variable(np.ones(20_000), name="b", path="b")]
    grads = [np.full(50_000, 0.1), np.full(20_000, 0.2)]
    for opt in (
        SGD(momentum=0.9, nesterov=True),
        Adam(amsgrad=True, clipnorm=1.0),
        AdamW(global_clipnorm=0.5),
        RMSprop(momentum=0.9, centered=True, clipvalue=0.05),
        Adagrad(),
    ):
        opt.apply(grads, variables)
        tracemalloc.start()
        opt.apply(grads, variables)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 20_000, f"{type(opt).__name__} allocated {peak} bytes in one step"


# ---- PyTorch, where the arithmetic is the same ---------------------------------------------

TORCH_CASES = {
    # Keras keeps lr inside the SGD velocity, PyTorch outside: equal for a constant lr
    "sgd": (dict(learning_rate=0.1), "SGD", dict(lr=0.1)),
    "sgd-momentum": (dict(learning_rate=0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    "sgd-nesterov": (
        dict(learning_rate=0.1, momentum=0.7, nesterov=True),
        "SGD",
        dict(lr=0.1, momentum=0.7, nesterov=True),
    ),
    # epsilon sits elsewhere in Keras (after sqrt(v) uncorrected / inside the sqrt): 0 in both
    "adam": (dict(learning_rate=0.1, epsilon=0.0), "Adam", dict(lr=0.1, eps=0.0)),
    "adam-amsgrad": (
        dict(learning_rate=0.1, beta_1=0.8, beta_2=0.9, epsilon=0.0, amsgrad=True),
        "Adam",
        dict(lr=0.1, betas=(0.8, 0.9), eps=0.0, amsgrad=True),
    ),
    "adamw": (
        dict(learning_rate=0.1, weight_decay=0.3, epsilon=0.0),
        "AdamW",
        dict(lr=0.1, weight_decay=0.3, eps=0.0),
    ),
    "rmsprop": (dict(learning_rate=0.05, rho=0.8, epsilon=0.0), "RMSprop", dict(lr=0.05, alpha=0.8, eps=0.0)),
    "rmsprop-centered-momentum": (
        dict(learning_rate=0.05, momentum=0.9, centered=True, epsilon=0.0),
        "RMSprop",
        dict(lr=0.05, alpha=0.9, momentum=0.9, centered=True, eps=0.0),
    ),
    "adagrad": (
        dict(learning_rate=0.1, initial_accumulator_value=0.2, epsilon=0.0),
        "Adagrad",
        dict(lr=0.1, initial_accumulator_value=0.2, eps=0.0),
    ),
}
CLASSES = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adagrad": Adagrad}


@requires_torch
@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_against_torch(case):
    t = torch()
    kwargs, torch_name, torch_kwargs = TORCH_CASES[case]
    start, grads, variables = make_problem(np.float64, seed=1)
    params = [t.tensor(start[p], requires_grad=True) for p in SHAPES]
    torch_opt = getattr(t.optim, torch_name)(params, **torch_kwargs)
    opt = CLASSES[torch_name](**kwargs)
    for g in grads:
        for param, p in zip(params, SHAPES):
            param.grad = t.tensor(g[p])
        torch_opt.step()
        opt.apply([g[p] for p in SHAPES], variables)
        for param, v in zip(params, variables):
            assert_step_close(v.value, param.detach().numpy(), start[v.path], np.float64)


# ---- clipping, weight decay, None gradients --------------------------------------------------


def sgd_step(grads, **kwargs):
    """The change one plain SGD step with lr=1 makes: minus the (clipped) gradients."""
    variables = [Variable(np.zeros(np.shape(g)), name=f"v{i}", path=f"v{i}") for i, g in enumerate(grads)]
    SGD(learning_rate=1.0, **kwargs).apply(grads, variables)
    return [-v.value for v in variables]


def test_clipnorm_clips_each_gradient_by_its_own_norm():
    big, small = np.array([3.0, 4.0]), np.array([0.3, 0.4])  # norms 5 and 0.5
    copies = big.copy(), small.copy()
    clipped = sgd_step([big, small], clipnorm=1.0)
    np.testing.assert_allclose(clipped[0], [0.6, 0.8], rtol=1e-15)
    np.testing.assert_array_equal(clipped[1], small)  # below the limit: unchanged
    np.testing.assert_array_equal(big, copies[0])  # the caller's gradients are untouched
    np.testing.assert_array_equal(small, copies[1])
    np.testing.assert_array_equal(sgd_step([np.zeros(3)], clipnorm=1.0)[0], np.zeros(3))  # no 0 / 0


def test_global_clipnorm_scales_all_gradients_together():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 4.0])  # global norm 5
    clipped = sgd_step([a, b], global_clipnorm=2.5)
    np.testing.assert_allclose(clipped[0], [1.5, 0.0], rtol=1e-15)
    np.testing.assert_allclose(clipped[1], [0.0, 2.0], rtol=1e-15)
    unclipped = sgd_step([a, b], global_clipnorm=10.0)
    np.testing.assert_allclose(unclipped[0], a, rtol=1e-15)
    np.testing.assert_allclose(unclipped[1], b, rtol=1e-15)
    np.testing.assert_array_equal(sgd_step([np.zeros(2)], global_clipnorm=1.0)[0], np.zeros(2))
    # Keras: a non-finite global norm makes every gradient NaN (the step is visibly broken)
    assert np.all(np.isnan(sgd_step([np.array([np.inf, 1.0]), b], global_clipnorm=1.0)[1]))


def test_global_clipnorm_skips_none_gradients():
    variables = [Variable(np.zeros(2), name=n, path=n) for n in "ab"]
    SGD(learning_rate=1.0, global_clipnorm=1.0).apply([np.array([0.0, 2.0]), None], variables)
    np.testing.assert_allclose(variables[0].value, [0.0, -1.0], rtol=1e-15)
    np.testing.assert_array_equal(variables[1].value, [0.0, 0.0])


def test_clipvalue_clips_elementwise():
    g = np.array([-2.0, -0.25, 0.0, 0.3, 7.0])
    np.testing.assert_array_equal(sgd_step([g], clipvalue=0.5)[0], [-0.5, -0.25, 0.0, 0.3, 0.5])


def test_clipping_comes_before_the_update_rule():
    start, grads, variables = make_problem(np.float64)
    other = [Variable(v.value.copy(), name=v.name, path=v.path) for v in variables]
    clipped_opt, plain_opt = Adam(learning_rate=0.1, clipnorm=0.7), Adam(learning_rate=0.1)
    for g in grads:
        raw = [g[p] for p in SHAPES]
        clipped_opt.apply(raw, variables)
        plain_opt.apply([x * 0.7 / max(np.linalg.norm(x), 0.7) for x in raw], other)
    for v, w in zip(variables, other):
        assert_step_close(v.value, w.value, start[v.path], np.float64)


def test_weight_decay_uses_the_current_learning_rate():
    """w -= w * weight_decay * lr before the rule, with the scheduled lr of this step."""
    w = Variable(np.array([2.0]), name="w")
    opt = SGD(learning_rate=PiecewiseConstantDecay([0], [0.5, 0.25]), weight_decay=0.1)
    opt.apply([np.array([0.0])], [w])
    assert w.value[0] == pytest.approx(2.0 - 2.0 * 0.1 * 0.5, rel=1e-15)
    opt.apply([np.array([1.0])], [w])
    assert w.value[0] == pytest.approx(1.9 - 1.9 * 0.1 * 0.25 - 0.25, rel=1e-15)


def test_weight_decay_with_the_variable_as_its_own_gradient():
    """A gradient that is the variable's own array is read before the decay changes it."""
    w = Variable(np.array([2.0]), name="w")
    SGD(learning_rate=0.5, weight_decay=0.1).apply([w.value], [w])
    assert w.value[0] == pytest.approx(1.9 - 2.0 * 0.5, rel=1e-15)


def test_none_gradients_are_skipped():
    a, b = Variable(np.ones(3), name="a", path="a"), Variable(np.ones(2), name="b", path="b")
    opt = Adam(learning_rate=0.1)
    opt.apply([np.ones(3), None], [a, b])
    np.testing.assert_array_equal(b.value, np.ones(2))
    assert np.all(a.value < 1)
    assert opt.iterations == 1
    assert sorted(opt.state()) == ["a/momentum", "a/velocity", "iterations", "learning_rate"]
    opt.apply([None, np.ones(2)], [a, b])  # b's slots are made on its first gradient
    assert "b/velocity" in opt.state() and opt.iterations == 2
    assert np.all(b.value < 1)


def test_apply_gradients_and_apply_without_variables():
    a = Variable(np.ones(2), name="a")
    opt = SGD(learning_rate=0.5)
    assert opt.apply_gradients([(np.ones(2), a)]) == 1
    assert opt.apply_gradients(zip([np.ones(2)], [a])) == 2
    opt.apply([np.ones(2)])  # the variables it was built with
    np.testing.assert_array_equal(a.value, [-0.5, -0.5])
    assert opt.built and opt.iterations == 3
    empty = SGD()
    empty.apply([], [])  # Keras: nothing to do
    assert empty.iterations == 0


def test_build_creates_slots_up_front():
    a = Variable(np.ones((2, 2), np.float32), name="a")
    opt = Adagrad(initial_accumulator_value=0.3)
    opt.build([a])
    state = opt.state()
    assert state["a/accumulator"].dtype == np.float32
    np.testing.assert_array_equal(state["a/accumulator"], np.full((2, 2), 0.3, np.float32))


# ---- learning rate and iterations -------------------------------------------------------------


def test_learning_rate_property_and_setter():
    opt = Adam(learning_rate=1)
    assert opt.learning_rate == 1.0 and isinstance(opt.learning_rate, float)
    opt.learning_rate = np.float32(0.25)  # what a callback such as ReduceLROnPlateau does
    assert opt.learning_rate == 0.25 and isinstance(opt.learning_rate, float)
    opt.learning_rate = np.array(0.5)
    assert opt.learning_rate == 0.5
    w = Variable(np.zeros(1), name="w")
    sgd = SGD(learning_rate=1.0)
    sgd.learning_rate = 0.125
    sgd.apply([np.ones(1)], [w])
    assert w.value[0] == -0.125


def test_learning_rate_schedule_is_evaluated_at_iterations():
    schedule = ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    opt = SGD(learning_rate=schedule)
    w = Variable(np.zeros(1), name="w")
    changes = []
    for _ in range(4):
        assert opt.learning_rate == schedule(opt.iterations)
        before = w.value[0]
        opt.apply([np.ones(1)], [w])
        changes.append(before - w.value[0])
    assert changes == [1.0, 0.5, 0.25, 0.125]
    opt.learning_rate = ExponentialDecay(2.0, decay_steps=1, decay_rate=0.5)  # a schedule may replace one
    assert opt.learning_rate == 2.0 * 0.5**4


def test_learning_rate_setter_errors():
    opt = SGD()
    with pytest.raises(ValueError, match=re.escape(
        "SGD 'SGD': the `learning_rate` argument must be a non-negative float. Received: learning_rate=-1.0"
    )):
        opt.learning_rate = -1.0
    with pytest.raises(
        TypeError,
        match=re.escape(
            "the `learning_rate` argument must be a non-negative float or a LearningRateSchedule. Received: "
            "learning_rate='x'"
        ),
    ):
        opt.learning_rate = "x"
    scheduled = SGD(learning_rate=ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "SGD 'SGD' was created with a LearningRateSchedule as its `learning_rate`, so its learning rate "
            "cannot be "
            "set to a number; create the optimizer with a float learning rate to set it. Received: "
            "learning_rate=0.01"
        ),
    ):
        scheduled.learning_rate = 0.01


def test_iterations_setter():
    opt = Adam()
    opt.iterations = np.int64(7)
    assert opt.iterations == 7 and type(opt.iterations) is int
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=re.escape(
            f"Adam 'adam': `iterations` must be a non-negative integer. Received: iterations={bad!r}"
        )):
            opt.iterations = bad


# ---- config, get, serialize -----------------------------------------------------------------


def test_defaults_and_names_are_keras():
    for cls, defaults in KERAS_DEFAULTS.items():
        config = cls().get_config()
        for key, value in defaults.items():
            assert config[key] == value, (cls.__name__, key)
        assert (
            config["clipnorm"] is None and config["clipvalue"] is None and config["global_clipnorm"] is None
        )
    assert [cls().name for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)] == [
        "SGD",
        "adam",
        "adamw",
        "rmsprop",
        "adagrad",
    ]
    assert Adam(name="mine").name == "mine"


@pytest.mark.parametrize("case", list(CASES))
def test_config_round_trip_through_json(case):
    cls, kwargs = CASES[case]
    opt = cls(clipnorm=2.0, **kwargs)
    data = json.loads(json.dumps(optimizers.serialize(opt)))
    assert data["class_name"] == cls.__name__
    again = optimizers.get(data)
    assert type(again) is cls
    assert again.get_config() == opt.get_config()
    assert again.learning_rate == opt.learning_rate
    assert type(cls.from_config(opt.get_config())) is cls


def test_get():
    for name, cls in [
        ("sgd", SGD),
        ("adam", Adam),
        ("adamw", AdamW),
        ("rmsprop", RMSprop),
        ("adagrad", Adagrad),
        ("Adam", Adam),
        ("RMSProp", RMSprop),
        ("SGD", SGD),
        ("ADAGRAD", Adagrad),
        ("AdamW", AdamW),
    ]:
        assert type(optimizers.get(name)) is cls
    opt = SGD()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    assert optimizers.get({"class_name": "sgd", "config": {"learning_rate": 0.5}}).learning_rate == 0.5


def test_get_accepts_keras_3_configs():
    keras_config = {
        "module": "keras.optimizers", "class_name": "Adam", "registered_name": None,
        "config": {
            "name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": None, "clipnorm": None,
            "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
            "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
            "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False,
        },
    }
    opt = optimizers.get(keras_config)
    assert type(opt) is Adam and opt.learning_rate == 0.0010000000474974513
    enabled = copy.deepcopy(keras_config)
    enabled["config"]["use_ema"] = True
    with pytest.raises(ValueError, match=re.escape(
        "Adam.from_config: convolve optimizers do not support `use_ema`; it must be off (False or None). "
        "Received: use_ema=True"
    )):
        optimizers.get(enabled)


@pytest.mark.parametrize(
    "identifier, message",
    [
        ("adamx", "Received: identifier='adamx'"),
        ("nadam", "Received: identifier='nadam'"),
        (3, "Received: identifier=3"),
        ({"class_name": "Lion", "config": {}}, "Received: class_name='Lion'"),
        ({"config": {}}, "Received: identifier={'config': {}}"),
    ],
)
def test_get_errors(identifier, message):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "optimizers.get: unknown optimizer. Expected one of ['adagrad', 'adam', 'adamw', 'rmsprop', "
            "'sgd'] (any case), "
            "an Optimizer instance or a config dict {'class_name': ..., 'config': {...}}. " + message
        ),
    ):
        optimizers.get(identifier)


def test_from_config_and_serialize_errors():
    with pytest.raises(ValueError, match=re.escape(
        "SGD.from_config: unknown config keys ['beta_1']. Expected keys among ['clipnorm', 'clipvalue', "
        "'global_clipnorm', 'learning_rate', 'momentum', 'name', 'nesterov', 'weight_decay']. "
        "Received: config={'beta_1': 0.9}"
    )):
        SGD.from_config({"beta_1": 0.9})
    with pytest.raises(
        TypeError, match=re.escape("optimizers.serialize: expected an Optimizer. Received: 'adam'")
    ):
        optimizers.serialize("adam")


def test_base_optimizer_has_no_rule():
    with pytest.raises(NotImplementedError, match=re.escape("Optimizer must implement `_update`.")):
        Optimizer(learning_rate=0.1).apply([np.ones(1)], [Variable(np.ones(1), name="w")])


# ---- state() and set_state() ----------------------------------------------------------------


def run(opt, variables, grads):
    for g in grads:
        opt.apply([g[p] for p in SHAPES], variables)


@pytest.mark.parametrize("case", list(CASES))
def test_state_resumes_bit_for_bit(case):
    cls, kwargs = CASES[case]
    start, grads, straight = make_problem(np.float32)
    run(opt := cls(**kwargs), straight, grads)  # six steps without a break

    _, _, first = make_problem(np.float32)
    interrupted = cls(**kwargs)
    run(interrupted, first, grads[:3])
    saved_state, saved_values = interrupted.state(), {v.path: v.numpy() for v in first}
    buffer = io.BytesIO()  # the state is plain arrays: it survives a file
    np.savez(buffer, **saved_state)
    buffer.seek(0)
    loaded = dict(np.load(buffer))
    run(interrupted, first, grads[3:])  # changes the optimizer, not the saved copies

    resumed = optimizers.get(optimizers.serialize(cls(**kwargs)))
    resumed.set_state(loaded)
    assert resumed.iterations == 3
    second = [Variable(saved_values[p], name=p, path=p) for p in SHAPES]
    run(resumed, second, grads[3:])
    for a, b in zip(straight, second):
        np.testing.assert_array_equal(a.value, b.value)
        assert b.value.dtype == np.float32
    assert opt.iterations == resumed.iterations == 6


def test_set_state_on_a_built_optimizer_copies_into_its_slots():
    _, grads, variables = make_problem(np.float64)
    a, b = RMSprop(momentum=0.5), RMSprop(momentum=0.5)
    run(a, variables, grads[:2])
    run(b, variables, grads[:1])
    slot = b._slots["dense/kernel"]["velocity"]
    b.set_state(a.state())
    assert b._slots["dense/kernel"]["velocity"] is slot  # same array, new values
    for key, value in a.state().items():
        np.testing.assert_array_equal(b.state()[key], value)


def test_state_restores_a_learning_rate_set_by_a_callback():
    w = Variable(np.zeros(2), name="w")
    opt = Adam(learning_rate=0.01)
    opt.apply([np.ones(2)], [w])
    opt.learning_rate = 0.001
    again = Adam(learning_rate=0.01)
    again.set_state(opt.state())
    assert again.learning_rate == 0.001


def test_state_returns_copies():
    w = Variable(np.zeros(2), name="w")
    opt = SGD(momentum=0.9)
    opt.apply([np.ones(2)], [w])
    state = opt.state()
    opt.apply([np.ones(2)], [w])
    np.testing.assert_array_equal(state["w/momentum"], [-0.01, -0.01])
    assert int(state["iterations"]) == 1


def built_adam():
    opt = Adam(amsgrad=True)
    opt.apply([np.ones((2, 3))], [Variable(np.zeros((2, 3)), name="kernel", path="dense/kernel")])
    return opt


def test_set_state_errors():
    opt = built_adam()
    good = opt.state()

    def fails(state, exception, message):
        before = opt.state()
        with pytest.raises(exception, match=re.escape(message)):
            opt.set_state(state)
        after = opt.state()  # nothing changed
        assert sorted(after) == sorted(before) and all(np.array_equal(after[k], before[k]) for k in before)

    prefix = "Adam 'adam'.set_state: "
    fails([1, 2], TypeError, prefix + "expected a dict of name -> array, as state() returns. Received: list")
    fails(
        {k: v for k, v in good.items() if k != "iterations"},
        ValueError,
        prefix + "missing entries ['iterations']",
    )
    fails({k: v for k, v in good.items() if k != "dense/kernel/velocity_hat"}, ValueError,
          prefix + "missing entries ['dense/kernel/velocity_hat']")
    fails({**good, "dense/kernel/accumulator": np.zeros((2, 3))}, ValueError,
          prefix + "unexpected entries ['dense/kernel/accumulator']; this optimizer's entries are "
          "['iterations', 'learning_rate'] and '<variable path>/<slot>' with slots ['momentum', 'velocity', "
          "'velocity_hat']. Received: entries")
    fails({**good, "scale": np.ones(1)}, ValueError, prefix + "unexpected entries ['scale']")
    fails(
        {
            **good,
            "dense/bias/momentum": np.zeros(3),
            "dense/bias/velocity": np.zeros(3),
            "dense/bias/velocity_hat": np.zeros(3),
        },
        ValueError,
        prefix
        + "unexpected entries ['dense/bias/momentum', 'dense/bias/velocity', 'dense/bias/velocity_hat']: "
        "the optimizer has no such variables.",
    )
    fails({**good, "dense/kernel/momentum": np.zeros((3, 2))}, ValueError,
          prefix + "entry 'dense/kernel/momentum' must have shape (2, 3). Received: an array of shape (3, 2)")
    fails({**good, "dense/kernel/momentum": np.full((2, 3), "a")}, TypeError,
          prefix + "entry 'dense/kernel/momentum' must be a numeric array. Received: dtype=<U1")
    fails({**good, "iterations": np.array(-1)}, ValueError,
          prefix + "'iterations' must be a non-negative integer scalar. Received: iterations=array(-1)")
    fails({**good, "iterations": np.array(2.0)}, ValueError, "Received: iterations=array(2.)")
    fails({**good, "learning_rate": np.array(-0.1)}, ValueError,
          prefix + "'learning_rate' must be a non-negative float scalar. Received: learning_rate=array(-0.1)")
    fails(
        {**good, "learning_rate": np.array([0.1, 0.2])},
        ValueError,
        "Received: learning_rate=array([0.1, 0.2])",
    )


def test_set_state_errors_for_schedules_and_fresh_optimizers():
    scheduled = SGD(learning_rate=ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(ValueError, match=re.escape(
        "SGD 'SGD'.set_state: this optimizer's learning rate is a schedule, so the state must not hold one. "
        "Received: an entry 'learning_rate'"
    )):
        scheduled.set_state({"iterations": np.array(3), "learning_rate": np.array(0.1)})
    scheduled.set_state({"iterations": np.array(3)})
    assert scheduled.iterations == 3

    fresh = Adam()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam 'adam'.set_state: missing entries ['w/velocity']. Received: entries "
            "['iterations', 'learning_rate', "
            "'w/momentum']"
        ),
    ):
        fresh.set_state(
            {"iterations": np.array(1), "learning_rate": np.array(0.1), "w/momentum": np.zeros(3)}
        )
    fresh.set_state({"iterations": np.array(1), "learning_rate": np.array(0.1), "w/momentum": np.zeros(3),
                     "w/velocity": np.zeros(3)})
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Adam 'adam': the 'momentum' slot kept for 'w' has shape (3,), but the variable has another "
            "shape (is the "
            "state from another model, or do two variables share a path?). Received: variable 'w' with shape "
            "(4,)"
        ),
    ):
        fresh.apply([np.ones(4)], [Variable(np.zeros(4), name="w")])


def test_restored_slots_take_the_variable_dtype():
    fresh = Adagrad()
    fresh.set_state({"iterations": np.array(1), "learning_rate": np.array(0.1), "w/accumulator": np.ones(3)})
    w = Variable(np.zeros(3, np.float32), name="w")
    fresh.apply([np.ones(3, np.float32)], [w])
    assert fresh.state()["w/accumulator"].dtype == np.float32
    np.testing.assert_allclose(fresh.state()["w/accumulator"], np.full(3, 2.0))


# ---- argument and input errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, exception, message",
    [
        (
            SGD,
            dict(learning_rate=-0.1),
            ValueError,
            "SGD: the `learning_rate` argument must be a non-negative float. Received: learning_rate=-0.1",
        ),
        (SGD, dict(learning_rate=float("inf")), ValueError, "Received: learning_rate=inf"),
        (
            SGD,
            dict(learning_rate="fast"),
            TypeError,
            "SGD: the `learning_rate` argument must be a non-negative float or a LearningRateSchedule. "
            "Received: learning_rate='fast'",
        ),
        (
            Adam,
            dict(learning_rate=True),
            TypeError,
            "Adam: the `learning_rate` argument must be a non-negative "
            "float or a LearningRateSchedule. Received: learning_rate=True",
        ),
        (
            SGD,
            dict(momentum=1.5),
            ValueError,
            "SGD: the `momentum` argument must be a float in [0, 1]. Received: momentum=1.5",
        ),
        (
            SGD,
            dict(momentum=-0.1),
            ValueError,
            "SGD: the `momentum` argument must be a float in [0, 1]. Received: momentum=-0.1",
        ),
        (
            SGD,
            dict(momentum=None),
            TypeError,
            "SGD: the `momentum` argument must be a float in [0, 1]. Received: momentum=None",
        ),
        (
            SGD,
            dict(nesterov="yes"),
            TypeError,
            "SGD: the `nesterov` argument must be True or False. Received: nesterov='yes'",
        ),
        (
            SGD,
            dict(weight_decay=-1),
            ValueError,
            "SGD: the `weight_decay` argument must be a non-negative float or None. Received: "
            "weight_decay=-1",
        ),
        (
            SGD,
            dict(clipnorm=0),
            ValueError,
            "SGD: the `clipnorm` argument must be a positive float or None. Received: clipnorm=0",
        ),
        (
            SGD,
            dict(clipvalue=-1.0),
            ValueError,
            "SGD: the `clipvalue` argument must be a positive float or None. Received: clipvalue=-1.0",
        ),
        (
            SGD,
            dict(global_clipnorm="1"),
            TypeError,
            "SGD: the `global_clipnorm` argument must be a positive float or None. Received: "
            "global_clipnorm='1'",
        ),
        (
            Adam,
            dict(clipnorm=1.0, global_clipnorm=1.0),
            ValueError,
            "Adam: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
            "Received: clipnorm=1.0, clipvalue=None, global_clipnorm=1.0",
        ),
        (
            SGD,
            dict(name=3),
            TypeError,
            "SGD: the `name` argument must be a non-empty string or None. Received: name=3",
        ),
        (
            Adam,
            dict(beta_1=1.0),
            ValueError,
            "Adam: the `beta_1` argument must be a float in [0, 1). Received: beta_1=1.0",
        ),
        (
            Adam,
            dict(beta_2=-0.5),
            ValueError,
            "Adam: the `beta_2` argument must be a float in [0, 1). Received: beta_2=-0.5",
        ),
        (
            Adam,
            dict(epsilon=-1e-7),
            ValueError,
            "Adam: the `epsilon` argument must be a non-negative float. Received: epsilon=-1e-07",
        ),
        (
            Adam,
            dict(amsgrad=1),
            TypeError,
            "Adam: the `amsgrad` argument must be True or False. Received: amsgrad=1",
        ),
        (
            AdamW,
            dict(weight_decay=None),
            ValueError,
            "AdamW: the `weight_decay` argument must be a non-negative float. Received: weight_decay=None",
        ),
        (
            AdamW,
            dict(weight_decay=-0.1),
            ValueError,
            "AdamW: the `weight_decay` argument must be a non-negative float. Received: weight_decay=-0.1",
        ),
        (
            AdamW,
            dict(beta_1=2),
            ValueError,
            "AdamW: the `beta_1` argument must be a float in [0, 1). Received: beta_1=2",
        ),
        (
            RMSprop,
            dict(rho=1.5),
            ValueError,
            "RMSprop: the `rho` argument must be a float in [0, 1]. Received: rho=1.5",
        ),
        (
            RMSprop,
            dict(momentum=2),
            ValueError,
            "RMSprop: the `momentum` argument must be a float in [0, 1]. Received: momentum=2",
        ),
        (
            RMSprop,
            dict(epsilon="tiny"),
            TypeError,
            "RMSprop: the `epsilon` argument must be a non-negative float. Received: epsilon='tiny'",
        ),
        (
            RMSprop,
            dict(centered=None),
            TypeError,
            "RMSprop: the `centered` argument must be True or False. Received: centered=None",
        ),
        (
            Adagrad,
            dict(initial_accumulator_value=-1),
            ValueError,
            "Adagrad: the `initial_accumulator_value` argument must be a non-negative float. Received: "
            "initial_accumulator_value=-1",
        ),
        (
            Adagrad,
            dict(epsilon=float("nan")),
            ValueError,
            "Adagrad: the `epsilon` argument must be a non-negative float. Received: epsilon=nan",
        ),
    ],
)
def test_argument_errors(cls, kwargs, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        cls(**kwargs)


def test_apply_errors():
    w = Variable(np.zeros((2, 3)), name="kernel", path="dense/kernel")
    b = Variable(np.zeros(3), name="bias", path="dense/bias")
    opt = SGD()
    prefix = "SGD 'SGD': "
    cases = [
        (
            ([np.ones((2, 3))], [w, b]),
            ValueError,
            prefix + "expected one gradient per variable (2). Received: 1 gradients for 2 variables",
        ),
        (
            ([np.ones((3, 2))], [w]),
            ValueError,
            prefix
            + "the gradient for 'dense/kernel' must have the variable's shape (2, 3). Received: grads[0] "
            "with shape (3, 2)",
        ),
        (
            ([np.full((2, 3), "x")], [w]),
            TypeError,
            prefix
            + "the gradient for 'dense/kernel' must be a numeric array. Received: grads[0] of type ndarray "
            "with dtype=<U1",
        ),
        (
            ([[[1], [1, 2]]], [w]),
            TypeError,
            prefix
            + "the gradient for 'dense/kernel' must be a numeric array. Received: grads[0] of type list",
        ),
        (
            ([np.ones(3)], [np.zeros(3)]),
            TypeError,
            prefix
            + "expected convolve Variables (with an array `.value` and a `.path`). Received: "
            "trainable_variables[0]=array([0., 0., 0.])",
        ),
        (
            ([np.ones(3)], [Variable(np.zeros(3, dtype=np.int64), name="n")]),
            TypeError,
            prefix + "can only update floating-point variables. Received: variable 'n' with dtype=int64",
        ),
        (
            ([np.ones(3)], [Variable(np.broadcast_to(np.zeros(1), (3,)), name="r")]),
            ValueError,
            prefix + "the optimizer updates variables in place, so their arrays must be writeable. "
            "Received: variable 'r' with a read-only array",
        ),
        (
            ([np.ones(3), np.ones(3)], [b, Variable(np.zeros(3), name="bias", path="dense/bias")]),
            ValueError,
            prefix + "each variable must have its own path; the optimizer keeps its state by path. "
            "Received: two variables with path 'dense/bias'",
        ),
        (
            ([None, None], [w, b]),
            ValueError,
            prefix
            + "no gradients provided for any variable. Received: grads=None for every variable "
            "['dense/kernel', 'dense/bias']",
        ),
        (
            ([np.ones(3)], None),
            ValueError,
            prefix
            + "pass the variables with the gradients the first time, or call `optimizer.build(variables)` "
            "first. "
            "Received: trainable_variables=None",
        ),
    ]
    for args, exception, message in cases:
        with pytest.raises(exception, match=re.escape(message)):
            opt.apply(*args)
    assert opt.iterations == 0 and not opt.built
    np.testing.assert_array_equal(w.value, np.zeros((2, 3)))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "SGD 'SGD': apply_gradients expects a list of (gradient, variable) pairs. Received: "
            "grads_and_vars=[(1, 2, 3)]"
        ),
    ):
        opt.apply_gradients([(1, 2, 3)])
    with pytest.raises(TypeError, match=re.escape("Received: grads_and_vars=5")):
        opt.apply_gradients(5)


def test_same_path_with_another_shape_later():
    opt = Adam()
    opt.apply([np.ones(3)], [Variable(np.zeros(3), name="w")])
    with pytest.raises(ValueError, match=re.escape("the 'momentum' slot kept for 'w' has shape (3,)")):
        opt.apply([np.ones(2)], [Variable(np.zeros(2), name="w")])
