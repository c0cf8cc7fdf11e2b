"""Learning-rate schedules with Keras 3's names, arguments and arithmetic.

A schedule maps the optimizer's step (its ``iterations``: the number of updates
already applied) to a learning rate. Pass one as any optimizer's ``learning_rate``:

    from convolve.optimizers import SGD
    from convolve.optimizers.schedules import ExponentialDecay
    SGD(learning_rate=ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.9))

The arithmetic is done in Python floats (float64); Keras does it in the dtype of
``initial_learning_rate``, which is float32 for a Python float, so values agree to
float32 precision.
"""
from __future__ import annotations

import bisect
import math

from ._checks import _real, check_bool, check_float, check_name


def _check_step(step, where: str) -> float:
    number = _real(step)
    if number is None or not math.isfinite(number) or number < 0:
        raise ValueError(f"{where}: the step must be a non-negative number. Received: step={step!r}")
    return float(number)


class LearningRateSchedule:
    """Base class: ``schedule(step)`` returns the learning rate (a Python float) for a step.

    A subclass implements ``__call__(step)`` and ``get_config()``; ``from_config(config)``
    calls the constructor with the config's entries.
    """

    def __call__(self, step) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in order to be "
            "serializable."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase``
    the exponent is ``floor(step / decay_steps)``."""

    def __init__(
        self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"
    ):
        where = "ExponentialDecay"
        self.initial_learning_rate = check_float(initial_learning_rate, "initial_learning_rate", where, low=0)
        self.decay_steps = check_float(decay_steps, "decay_steps", where, low=0, low_open=True, keep_int=True)
        self.decay_rate = check_float(decay_rate, "decay_rate", where, low=0, low_open=True)
        self.staircase = check_bool(staircase, "staircase", where)
        self.name = check_name(name, "ExponentialDecay", where)

    def __call__(self, step) -> float:
        p = _check_step(step, self.name) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup first (Keras' arithmetic).

    Without ``warmup_target``: with ``s = min(step, decay_steps)``,
    ``lr = initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)``.

    With ``warmup_target``: for ``step < warmup_steps`` the rate rises linearly,
    ``initial_learning_rate + (warmup_target - initial_learning_rate) * step / warmup_steps``;
    afterwards the cosine decay above runs from ``warmup_target`` over ``decay_steps``
    more steps (``s = min(step, warmup_steps + decay_steps) - warmup_steps``).

    The argument order is Keras 3's, ``name`` before ``warmup_target``.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        where = "CosineDecay"
        self.initial_learning_rate = check_float(initial_learning_rate, "initial_learning_rate", where, low=0)
        self.decay_steps = check_float(decay_steps, "decay_steps", where, low=0, low_open=True, keep_int=True)
        self.alpha = check_float(alpha, "alpha", where, low=0, high=1)
        self.name = check_name(name, "CosineDecay", where)
        self.warmup_target = check_float(warmup_target, "warmup_target", where, low=0, allow_none=True)
        self.warmup_steps = check_float(warmup_steps, "warmup_steps", where, low=0, keep_int=True)

    def _decay(self, step: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * (step / self.decay_steps)))
        return decay_from * ((1.0 - self.alpha) * cosine + self.alpha)

    def __call__(self, step) -> float:
        step = _check_step(step, self.name)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after ``boundaries[-1]``."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        where = "PiecewiseConstantDecay"
        try:
            boundaries, values = list(boundaries), list(values)
        except TypeError:
            raise TypeError(
                f"{where}: `boundaries` and `values` must be lists of numbers. "
                f"Received: boundaries={boundaries!r}, values={values!r}"
            ) from None
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"{where}: the length of `boundaries` should be 1 less than the length of `values`. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and values={values} of "
                f"length {len(values)}"
            )
        self.boundaries = [
            check_float(b, f"boundaries[{i}]", where, keep_int=True) for i, b in enumerate(boundaries)
        ]
        if any(b >= c for b, c in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(
                f"{where}: `boundaries` must be strictly increasing. Received: boundaries={boundaries}"
            )
        self.values = [check_float(v, f"values[{i}]", where, low=0) for i, v in enumerate(values)]
        self.name = check_name(name, "PiecewiseConstant", where)

    def __call__(self, step) -> float:
        step = _check_step(step, self.name)
        # bisect_left counts the boundaries strictly below ``step``
        return self.values[bisect.bisect_left(self.boundaries, step)]

    def get_config(self) -> dict:
        return {"boundaries": list(self.boundaries), "values": list(self.values), "name": self.name}


_BY_NAME = {cls.__name__: cls for cls in (ExponentialDecay, CosineDecay, PiecewiseConstantDecay)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{'class_name': 'ExponentialDecay', 'config': {...}}``: JSON-ready."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedules.serialize: expected a LearningRateSchedule. Received: {schedule!r}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    """The inverse of ``serialize``; Keras' extra keys ('module', 'registered_name') are ignored."""
    known = sorted(_BY_NAME)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"schedules.deserialize: expected a dict {{'class_name': one of {known}, 'config': {{...}}}}. "
            f"Received: {config!r}"
        )
    cls = _BY_NAME.get(config["class_name"])
    if cls is None:
        raise ValueError(f"schedules.deserialize: unknown schedule. Expected one of {known}. "
                         f"Received: class_name={config['class_name']!r}")
    return cls.from_config(dict(config.get("config", {})))


def get(identifier) -> LearningRateSchedule:
    """A schedule from an instance or a config dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    return deserialize(identifier)
