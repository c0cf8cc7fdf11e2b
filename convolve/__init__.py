"""convolve: convolutional neural networks on a readable NumPy core, with a Keras-compatible API."""
__version__ = "0.1.0"

from . import ops  # noqa: E402
