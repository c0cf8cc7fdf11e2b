"""Models: Sequential and the functional Model, with training; loading and saving through
``convolve.saving`` (``load_model`` and ``save_model`` are also here, as in ``keras.models``)."""
from ..saving import load_model, save_model
from .functional import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "save_model"]
