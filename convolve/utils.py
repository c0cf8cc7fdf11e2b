"""Keras-style utilities (``keras.utils``)."""
from .random import set_random_seed

__all__ = ["set_random_seed"]
