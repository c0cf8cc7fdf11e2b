"""SGD, with optional (Nesterov) momentum, as Keras 3 computes it."""
from __future__ import annotations

from ..backend import get_array_module
from ._checks import check_bool, check_float
from .base import Optimizer


class SGD(Optimizer):
    """Gradient descent with optional momentum (Keras 3's update rule).

    Without momentum: ``w -= lr * g``. With momentum:
    ``velocity = momentum * velocity - lr * g``, then ``w += velocity``, or with
    ``nesterov=True``, ``w += momentum * velocity - lr * g``.

    Keras keeps the learning rate inside the velocity; PyTorch keeps it outside
    (``b = momentum * b + g; w -= lr * b``). The two agree while the learning rate is constant.
    """

    _default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, name=None):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
            global_clipnorm=global_clipnorm, name=name,
        )
        self.momentum = check_float(momentum, "momentum", "SGD", low=0, high=1)
        self.nesterov = check_bool(nesterov, "nesterov", "SGD")

    def _slot_specs(self):
        return (("momentum", 0.0),) if self.momentum != 0 else ()

    def _update(self, grad, value, slots, lr, t0, t1):
        xp = get_array_module(value)
        xp.multiply(grad, lr, out=t0)  # lr * g
        if self.momentum == 0:
            xp.subtract(value, t0, out=value)
            return
        m = slots["momentum"]
        xp.multiply(m, self.momentum, out=m)
        xp.subtract(m, t0, out=m)  # m = momentum * m - lr * g
        if self.nesterov:
            xp.multiply(m, self.momentum, out=t1)
            xp.subtract(t1, t0, out=t1)  # momentum * m - lr * g
            xp.add(value, t1, out=value)
        else:
            xp.add(value, m, out=value)

    def _kernel(self, compiled, slots, dt, lr):
        return compiled.sgd, (slots.get("momentum", self._unused(dt)), dt(self.momentum), self.nesterov)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
