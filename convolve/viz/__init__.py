"""Pictures and explanations: filter grids, feature maps, training curves, the arithmetic of one
output value, animations of a filter sliding over its input, and attribution (which pixels a
prediction depends on: saliency maps, Grad-CAM, occlusion).

    from convolve import viz
    viz.plot_filters(model.layers[0]).savefig("filters.png")
    viz.explain(x, kernel, at=(2, 3))
    viz.animate_convolution(input_size=5, kernel_size=3, strides=2, padding="same", path="conv.gif")
    viz.plot_grad_cam(model, x_test[0], path="cam.png")      # attribution: saliency, grad_cam, occlusion

matplotlib (plots) and Pillow (animations) are imported when a function is first called, so
``import convolve.viz`` stays light. Install them with ``pip install "convolve[viz]"``.
"""
import importlib

# `explain` is both a submodule and the function it defines: import the function eagerly so that
# `convolve.viz.explain` stays the function even after `import convolve.viz.explain` (NumPy and
# convolve.ops only, no plotting library).
from .explain import Explanation, explain  # noqa: E402,F401

# public name -> the submodule that defines it; loaded on first use
_WHERE = {
    "plot_filters": "plots",
    "plot_feature_maps": "plots",
    "plot_history": "plots",
    "plot_confusion_matrix": "plots",
    "confusion_matrix": "plots",
    "feature_maps": "plots",
    "animate_convolution": "animate",
    "plot_augmentations": "augment",
    "saliency": "attribution",
    "grad_cam": "attribution",
    "occlusion": "attribution",
    "reduce_channels": "attribution",
    "plot_saliency": "attribution",
    "plot_grad_cam": "attribution",
    "plot_occlusion": "attribution",
}

# eagerly too, for the same reason as explain (no plotting library until a picture is drawn)
from .explain_unit import UnitExplanation, explain_unit, plot_unit  # noqa: E402,F401

__all__ = sorted([*_WHERE, "explain", "Explanation", "explain_unit", "plot_unit", "UnitExplanation"])


def __getattr__(name):
    if name in _WHERE:
        module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
