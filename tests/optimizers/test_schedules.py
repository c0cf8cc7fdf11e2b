"""Tests for convolve/optimizers/schedules.py: values worked out by hand, configs inside an
optimizer's config, and every error message."""
from __future__ import annotations

import json
import math
import re

import pytest

from convolve import optimizers
from convolve.optimizers import schedules
from convolve.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
)


@pytest.mark.parametrize(
    "schedule, step, expected",
    [
        (ExponentialDecay(0.1, 10, 0.5), 0, 0.1),
        (ExponentialDecay(0.1, 10, 0.5), 10, 0.05),
        (ExponentialDecay(0.1, 10, 0.5), 5, 0.1 / math.sqrt(2)),
        (ExponentialDecay(0.1, 10, 0.5), 30, 0.0125),
        (ExponentialDecay(0.1, 10, 0.5, staircase=True), 9, 0.1),
        (ExponentialDecay(0.1, 10, 0.5, staircase=True), 15, 0.05),
        (ExponentialDecay(0.1, 10, 0.5, staircase=True), 20, 0.025),
        (ExponentialDecay(2.0, 4, 1.5), 2, 2.0 * math.sqrt(1.5)),  # a rate above 1 grows
        (CosineDecay(1.0, 100), 0, 1.0),
        (CosineDecay(1.0, 100), 50, 0.5),
        (CosineDecay(1.0, 100), 100, 0.0),
        (CosineDecay(1.0, 100, alpha=0.1), 50, 0.55),  # 0.9 * 0.5 + 0.1
        (CosineDecay(1.0, 100, alpha=0.1), 100, 0.1),
        (CosineDecay(1.0, 100, alpha=0.1), 1000, 0.1),  # held at the end
        (CosineDecay(2.0, 90), 30, 2.0 * 0.75),  # 0.5 * (1 + cos(pi / 3))
        (CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10), 0, 0.0),
        (CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10), 5, 0.5),
        (CosineDecay(0.1, 100, warmup_target=1.1, warmup_steps=10), 4, 0.5),  # 0.1 + 1.0 * 4 / 10
        (CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10), 10, 1.0),
        (CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10), 60, 0.5),
        (CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10), 110, 0.0),
        (CosineDecay(0.0, 100, alpha=0.2, warmup_target=1.0, warmup_steps=10), 500, 0.2),
        (
            CosineDecay(0.3, 100, warmup_target=1.0, warmup_steps=0),
            0,
            1.0,
        ),  # no warmup steps: decay from the target
        (PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 0, 1.0),
        (PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 10, 1.0),
        (PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 11, 0.5),
        (PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 20, 0.5),
        (PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 21, 0.1),
        (PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]), 10**9, 0.1),
        (PiecewiseConstantDecay([10], [1, 2]), 10.5, 2.0),
        (PiecewiseConstantDecay([], [0.3]), 7, 0.3),
    ],
)
def test_values(schedule, step, expected):
    value = schedule(step)
    assert type(value) is float
    assert value == pytest.approx(expected, rel=1e-14, abs=1e-16)


def test_cosine_decay_is_continuous_at_the_end_of_warmup():
    schedule = CosineDecay(0.0, 50, warmup_target=0.4, warmup_steps=20)
    assert schedule(19.999) == pytest.approx(schedule(20), rel=1e-4)
    assert schedule(20) == 0.4


@pytest.mark.parametrize(
    "schedule",
    [
        ExponentialDecay(0.1, 1000, 0.96, staircase=True, name="decay"),
        CosineDecay(0.0, 100, alpha=0.05, warmup_target=0.01, warmup_steps=5),
        PiecewiseConstantDecay([100, 200], [0.1, 0.01, 0.001]),
    ],
)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    again = type(schedule).from_config(config)
    assert again.get_config() == config
    data = json.loads(json.dumps(schedules.serialize(schedule)))
    assert schedules.deserialize(data).get_config() == config
    assert schedules.get(data).get_config() == config
    assert schedules.get(schedule) is schedule
    for step in (0, 3, 150, 400):
        assert again(step) == schedule(step)


def test_keras_configs():
    assert ExponentialDecay(0.1, 10, 0.5).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": False,
        "name": "ExponentialDecay",
    }
    assert CosineDecay(0.1, 10).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.0, "name": "CosineDecay",
        "warmup_target": None, "warmup_steps": 0,
    }
    assert PiecewiseConstantDecay([5], [0.1, 0.2]).get_config() == {
        "boundaries": [5], "values": [0.1, 0.2], "name": "PiecewiseConstant",
    }
    keras = {
        "module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay",
        "registered_name": None,
        "config": {
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
            "staircase": True,
            "name": "ExponentialDecay",
        },
    }
    assert schedules.deserialize(keras)(25) == pytest.approx(0.025)


def test_schedule_inside_an_optimizer_config():
    opt = optimizers.Adam(learning_rate=CosineDecay(0.1, 20, alpha=0.1))
    data = json.loads(json.dumps(optimizers.serialize(opt)))
    assert data["config"]["learning_rate"] == {
        "class_name": "CosineDecay",
        "config": opt._learning_rate.get_config(),
    }
    again = optimizers.get(data)
    assert isinstance(again._learning_rate, CosineDecay)
    again.iterations = 10
    assert again.learning_rate == pytest.approx(0.1 * (0.9 * 0.5 + 0.1))


def test_custom_schedule_subclass():
    class Halving(LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2**step

    opt = optimizers.SGD(learning_rate=Halving())
    opt.iterations = 3
    assert opt.learning_rate == 0.125
    with pytest.raises(NotImplementedError, match=re.escape(
        "Learning rate schedule 'Halving' must override `get_config()` in order to be serializable."
    )):
        optimizers.serialize(opt)
    with pytest.raises(NotImplementedError, match=re.escape(
        "Learning rate schedule 'LearningRateSchedule' must override `__call__(self, step)`."
    )):
        LearningRateSchedule()(0)


@pytest.mark.parametrize(
    "make, exception, message",
    [
        (
            lambda: ExponentialDecay(-0.1, 10, 0.5),
            ValueError,
            "ExponentialDecay: the `initial_learning_rate` argument must be a non-negative float. Received: "
            "initial_learning_rate=-0.1",
        ),
        (
            lambda: ExponentialDecay(0.1, 0, 0.5),
            ValueError,
            "ExponentialDecay: the `decay_steps` argument must be a positive float. Received: decay_steps=0",
        ),
        (lambda: ExponentialDecay(0.1, "10", 0.5), TypeError, "Received: decay_steps='10'"),
        (
            lambda: ExponentialDecay(0.1, 10, 0.0),
            ValueError,
            "ExponentialDecay: the `decay_rate` argument must be a positive float. Received: decay_rate=0.0",
        ),
        (
            lambda: ExponentialDecay(0.1, 10, 0.5, staircase="no"),
            TypeError,
            "ExponentialDecay: the `staircase` argument must be True or False. Received: staircase='no'",
        ),
        (
            lambda: ExponentialDecay(0.1, 10, 0.5, name=""),
            TypeError,
            "ExponentialDecay: the `name` argument must be a non-empty string or None. Received: name=''",
        ),
        (
            lambda: CosineDecay(0.1, -5),
            ValueError,
            "CosineDecay: the `decay_steps` argument must be a positive float. Received: decay_steps=-5",
        ),
        (
            lambda: CosineDecay(0.1, 10, alpha=1.5),
            ValueError,
            "CosineDecay: the `alpha` argument must be a float in [0, 1]. Received: alpha=1.5",
        ),
        (
            lambda: CosineDecay(0.1, 10, warmup_target=-1.0),
            ValueError,
            "CosineDecay: the `warmup_target` argument must be a non-negative float or None. Received: "
            "warmup_target=-1.0",
        ),
        (
            lambda: CosineDecay(0.1, 10, warmup_steps=-1),
            ValueError,
            "CosineDecay: the `warmup_steps` argument must be a non-negative float. Received: "
            "warmup_steps=-1",
        ),
        (lambda: CosineDecay(float("nan"), 10), ValueError, "Received: initial_learning_rate=nan"),
        (
            lambda: PiecewiseConstantDecay([10, 20], [1.0, 0.5]),
            ValueError,
            "PiecewiseConstantDecay: the length of `boundaries` should be 1 less than the length of "
            "`values`. "
            "Received: boundaries=[10, 20] of length 2, and values=[1.0, 0.5] of length 2",
        ),
        (
            lambda: PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]),
            ValueError,
            "PiecewiseConstantDecay: `boundaries` must be strictly increasing. Received: boundaries=[20, 10]",
        ),
        (
            lambda: PiecewiseConstantDecay([10, 10], [1.0, 0.5, 0.1]),
            ValueError,
            "Received: boundaries=[10, 10]",
        ),
        (
            lambda: PiecewiseConstantDecay([10], [1.0, -0.5]),
            ValueError,
            "PiecewiseConstantDecay: the `values[1]` argument must be a non-negative float. Received: "
            "values[1]=-0.5",
        ),
        (
            lambda: PiecewiseConstantDecay(["a"], [1.0, 0.5]),
            TypeError,
            "PiecewiseConstantDecay: the `boundaries[0]` argument must be a finite float. Received: "
            "boundaries[0]='a'",
        ),
        (
            lambda: PiecewiseConstantDecay(10, [1.0]),
            TypeError,
            "PiecewiseConstantDecay: `boundaries` and `values` must be lists of numbers. Received: "
            "boundaries=10, values=[1.0]",
        ),
        (
            lambda: ExponentialDecay(0.1, 10, 0.5)(-1),
            ValueError,
            "ExponentialDecay: the step must be a non-negative number. Received: step=-1",
        ),
        (
            lambda: CosineDecay(0.1, 10, name="cos")("3"),
            ValueError,
            "cos: the step must be a non-negative number. Received: step='3'",
        ),
        (
            lambda: schedules.deserialize({"class_name": "Polynomial", "config": {}}),
            ValueError,
            "schedules.deserialize: unknown schedule. Expected one of ['CosineDecay', 'ExponentialDecay', "
            "'PiecewiseConstantDecay']. Received: class_name='Polynomial'",
        ),
        (
            lambda: schedules.deserialize(0.1),
            ValueError,
            "schedules.deserialize: expected a dict {'class_name': one of "
            "['CosineDecay', 'ExponentialDecay', "
            "'PiecewiseConstantDecay'], 'config': {...}}. Received: 0.1",
        ),
        (
            lambda: schedules.serialize(0.1),
            TypeError,
            "schedules.serialize: expected a LearningRateSchedule. Received: 0.1",
        ),
    ],
)
def test_errors(make, exception, message):
    with pytest.raises(exception, match=re.escape(message)):
        make()
