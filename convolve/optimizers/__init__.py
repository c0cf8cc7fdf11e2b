"""Optimizers with Keras 3's names, arguments, defaults and update arithmetic.

    from convolve import optimizers
    opt = optimizers.get("adam")                 # or optimizers.Adam(learning_rate=1e-3)
    opt.apply(grads, variables)                  # updates each variable.value in place
    saved = opt.state()                          # name -> array, enough to resume exactly
    again = optimizers.get(optimizers.serialize(opt)); again.set_state(saved)

Modules: ``base`` (the shared Optimizer: clipping, weight decay, state), one module per
rule (``sgd``, ``adam``, ``rmsprop``, ``adagrad``) and ``schedules``.
"""
from __future__ import annotations

from . import schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .schedules import LearningRateSchedule
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
    "LearningRateSchedule", "schedules", "get", "serialize", "deserialize",
]

#: lower-case class name -> class, as Keras 3 looks them up
ALL_OBJECTS = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def _unknown(identifier, what):
    return ValueError(
        f"optimizers.get: unknown optimizer. Expected one of {sorted(ALL_OBJECTS)} (any case), an Optimizer "
        f"instance or a config dict {{'class_name': ..., 'config': {{...}}}}. Received: {what}={identifier!r}"
    )


def serialize(optimizer: Optimizer) -> dict:
    """``{'class_name': 'Adam', 'config': {...}}``: JSON-ready (the configuration, not the state)."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize: expected an Optimizer. Received: {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """The inverse of ``serialize``; the class name is matched in any case and Keras' extra
    keys ('module', 'registered_name') are ignored."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise _unknown(config, "identifier")
    cls = ALL_OBJECTS.get(config["class_name"].lower())
    if cls is None:
        raise _unknown(config["class_name"], "class_name")
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """An Optimizer from a name ('adam', 'SGD', ... any case), an instance (returned as
    is), or a config dict; None gives None (as in Keras)."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = ALL_OBJECTS.get(identifier.lower())
        if cls is None:
            raise _unknown(identifier, "identifier")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise _unknown(identifier, "identifier")
