"""RMSprop, as Keras 3 computes it."""
from __future__ import annotations

from ..backend import get_array_module
from ._checks import check_bool, check_float
from .base import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton), with Keras 3's arithmetic::

        v = rho * v + (1 - rho) * g**2
        a = rho * a + (1 - rho) * g                        # centered only
        denominator = v - a**2 + epsilon  if centered else  v + epsilon
        increment = lr * g / sqrt(denominator)
        mom = momentum * mom + increment; w -= mom         # momentum > 0
        w -= increment                                     # otherwise

    ``epsilon`` is inside the square root (PyTorch adds its ``eps`` outside); the two agree
    exactly when both are 0.
    """

    _default_name = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, name=name,
        )
        self.rho = check_float(rho, "rho", "RMSprop", low=0, high=1)
        self.momentum = check_float(momentum, "momentum", "RMSprop", low=0, high=1)
        self.epsilon = check_float(epsilon, "epsilon", "RMSprop", low=0)
        self.centered = check_bool(centered, "centered", "RMSprop")

    def _slot_specs(self):
        specs = (("velocity", 0.0),)
        if self.momentum > 0:
            specs += (("momentum", 0.0),)
        if self.centered:
            specs += (("average_gradient", 0.0),)
        return specs

    def _update(self, grad, value, slots, lr, t0, t1):
        xp = get_array_module(value)
        rho = self.rho
        v = slots["velocity"]
        xp.multiply(v, rho, out=v)
        xp.square(grad, out=t0)
        xp.multiply(t0, 1.0 - rho, out=t0)
        xp.add(v, t0, out=v)
        if self.centered:
            a = slots["average_gradient"]
            xp.multiply(a, rho, out=a)
            xp.multiply(grad, 1.0 - rho, out=t0)
            xp.add(a, t0, out=a)
            xp.square(a, out=t0)
            xp.subtract(v, t0, out=t0)
            xp.add(t0, self.epsilon, out=t0)
        else:
            xp.add(v, self.epsilon, out=t0)
        xp.sqrt(t0, out=t0)
        xp.multiply(grad, lr, out=t1)
        xp.divide(t1, t0, out=t1)  # the increment
        if self.momentum > 0:
            mom = slots["momentum"]
            xp.multiply(mom, self.momentum, out=mom)
            xp.add(mom, t1, out=mom)
            xp.subtract(value, mom, out=value)
        else:
            xp.subtract(value, t1, out=value)

    def _kernel(self, compiled, slots, dt, lr):
        unused = self._unused(dt)
        return compiled.rmsprop, (
            slots["velocity"], slots.get("momentum", unused), slots.get("average_gradient", unused),
            dt(self.rho), dt(1.0 - self.rho), dt(self.momentum), self.centered, dt(self.epsilon),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}
        )
        return config
