"""convolve: convolutional neural networks on a readable NumPy core, with a Keras-compatible API.

    from convolve.models import Sequential
    from convolve.layers import Conv2D

Only NumPy is imported here; optional parts (pictures, model files, PyTorch checks)
import their libraries when first used.
"""
from . import (  # noqa: E402,F401
    activations,
    callbacks,
    config,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    regularizers,
    saving,
    utils,
)
from ._version import __version__  # noqa: F401
from .backend import floatx, set_floatx  # noqa: E402,F401
from .layers import Input  # noqa: E402,F401
from .models import (
    Model,  # noqa: E402,F401
    Sequential,  # noqa: E402,F401
)

# Tools on top of the library (pictures, images, handcrafted filters), loaded on first use so that
# `import convolve` stays light: `convolve.viz.plot_filters(...)` works without importing them here.
_LAZY = ("filters", "images", "viz")


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

