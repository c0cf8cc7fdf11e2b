"""Adam and AdamW, as Keras 3 computes them."""
from __future__ import annotations

import math

from ..backend import get_array_module
from ._checks import check_bool, check_float
from .base import Optimizer


class Adam(Optimizer):
    """Adam (Kingma and Ba), with Keras 3's arithmetic. At step ``t = iterations + 1``::

        m += (g - m) * (1 - beta_1)
        v += (g**2 - v) * (1 - beta_2)
        v_hat = max(v_hat, v)                     # amsgrad only; then v_hat replaces v below
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w -= m * alpha / (sqrt(v) + epsilon)

    ``epsilon`` is added after the square root of the *uncorrected* v ("epsilon hat" in
    the paper), so it differs from PyTorch's ``eps`` by a factor ``sqrt(1 - beta_2**t)``;
    the two agree exactly when both are 0.
    """

    _default_name = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, name=name,
        )
        where = type(self).__name__
        self.beta_1 = check_float(beta_1, "beta_1", where, low=0, high=1, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", where, low=0, high=1, high_open=True)
        self.epsilon = check_float(epsilon, "epsilon", where, low=0)
        self.amsgrad = check_bool(amsgrad, "amsgrad", where)

    def _slot_specs(self):
        specs = (("momentum", 0.0), ("velocity", 0.0))
        return specs + ((("velocity_hat", 0.0),) if self.amsgrad else ())

    def _update(self, grad, value, slots, lr, t0, t1):
        xp = get_array_module(value)
        t = self._iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        m, v = slots["momentum"], slots["velocity"]
        xp.subtract(grad, m, out=t0)
        xp.multiply(t0, 1.0 - self.beta_1, out=t0)
        xp.add(m, t0, out=m)
        xp.square(grad, out=t0)
        xp.subtract(t0, v, out=t0)
        xp.multiply(t0, 1.0 - self.beta_2, out=t0)
        xp.add(v, t0, out=v)
        if self.amsgrad:
            v_hat = slots["velocity_hat"]
            xp.maximum(v_hat, v, out=v_hat)
            v = v_hat
        xp.sqrt(v, out=t0)
        xp.add(t0, self.epsilon, out=t0)
        xp.multiply(m, alpha, out=t1)
        xp.divide(t1, t0, out=t1)
        xp.subtract(value, t1, out=value)

    def _kernel(self, compiled, slots, dt, lr):
        t = self._iterations + 1
        alpha = lr * math.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        return compiled.adam, (
            slots["momentum"], slots["velocity"], slots.get("velocity_hat", self._unused(dt)), self.amsgrad,
            dt(1.0 - self.beta_1), dt(1.0 - self.beta_2), dt(alpha), dt(self.epsilon),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}
        )
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): before each Adam step,
    ``w -= w * weight_decay * lr`` (the base class's weight decay, on by default here)."""

    _default_name = "adamw"

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        if weight_decay is None:  # Keras raises ValueError here too
            raise ValueError(
                "AdamW: the `weight_decay` argument must be a non-negative float. Received: weight_decay=None"
            )
        weight_decay = check_float(weight_decay, "weight_decay", "AdamW", low=0)
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
        )
