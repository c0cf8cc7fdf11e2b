"""Models: Sequential (and, with training, the functional Model), saving and loading."""
from .sequential import Sequential

__all__ = ["Sequential"]
