"""Adagrad, as Keras 3 computes it."""
from __future__ import annotations

from ..backend import get_array_module
from ._checks import check_float
from .base import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), with Keras 3's arithmetic::

        accumulator += g**2                  # starts at initial_accumulator_value
        w -= lr * g / sqrt(accumulator + epsilon)

    ``epsilon`` is inside the square root (PyTorch adds its ``eps`` outside); the two agree
    exactly when both are 0.
    """

    _default_name = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, name=name,
        )
        self.initial_accumulator_value = check_float(initial_accumulator_value, "initial_accumulator_value",
                                                     "Adagrad", low=0)
        self.epsilon = check_float(epsilon, "epsilon", "Adagrad", low=0)

    def _slot_specs(self):
        return (("accumulator", self.initial_accumulator_value),)

    def _update(self, grad, value, slots, lr, t0, t1):
        xp = get_array_module(value)
        acc = slots["accumulator"]
        xp.square(grad, out=t0)
        xp.add(acc, t0, out=acc)
        xp.add(acc, self.epsilon, out=t0)
        xp.sqrt(t0, out=t0)
        xp.multiply(grad, lr, out=t1)
        xp.divide(t1, t0, out=t1)
        xp.subtract(value, t1, out=value)

    def _kernel(self, compiled, slots, dt, lr):
        return compiled.adagrad, (slots["accumulator"], dt(self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config
