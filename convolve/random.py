"""The one source of randomness: a global NumPy Generator that one seed fixes.

``set_random_seed(seed)`` (also exported as ``convolve.utils.set_random_seed``, as in
Keras) seeds this generator, Python's ``random`` and NumPy's legacy global state, so a
run that draws all its randomness through convolve is reproducible bit for bit.
"""
from __future__ import annotations

import random as _pyrandom

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed every random source convolve uses (Keras' ``keras.utils.set_random_seed``)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_random_seed expected a non-negative integer seed. Received: seed={seed!r}")
    global _generator
    _generator = np.random.default_rng(int(seed))
    _pyrandom.seed(int(seed))
    np.random.seed(int(seed) % (2**32))


def generator(seed=None) -> np.random.Generator:
    """A Generator: a fresh one for an explicit ``seed``, else the global one."""
    if seed is None:
        return _generator
    return np.random.default_rng(seed)
