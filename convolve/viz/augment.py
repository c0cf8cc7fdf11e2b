"""What augmentation does to one image: a grid of the augmented versions a layer (or a model of
augmentation layers) makes of it in training.

    from convolve import layers, models, viz
    augment = models.Sequential([layers.Input((28, 28, 1)), layers.RandomFlip("horizontal"),
                                 layers.RandomRotation(0.1), layers.RandomZoom(0.1)])
    viz.plot_augmentations(augment, x_train[0], n=9, seed=0, path="augmentations.png")

The layer or model is called ``n`` times on the image alone (a batch of one) with
``training=True``, so each panel is one independent draw (RandomCrop draws one window per
batch, which a batch of n copies would share). With ``seed`` the draws come from generators made
for this picture, and every layer's own generator and the global one are left as they were
(the same seed draws the same picture); without it the draws advance them, as training would.
"""
from __future__ import annotations

import contextlib
import numbers

import numpy as np

from .. import autograd
from ..backend import as_float_array
from ..layers.base import Layer
from .plots import _bare, _check_path, _figure_class, _grid, _save


def _layers_of(layer_or_model):
    layers = getattr(layer_or_model, "layers", None)
    return list(layers) if layers is not None else [layer_or_model]


def _data_format(layer_or_model):
    for layer in _layers_of(layer_or_model):
        if getattr(layer, "data_format", None) in ("channels_last", "channels_first"):
            return layer.data_format
    return "channels_last"


@contextlib.contextmanager
def _seeded(layer_or_model, seed):
    """Inside, every layer that draws (it has a ``_rng`` attribute) draws from its own generator
    made from ``seed``; the generators are put back after (nothing changes when seed is None)."""
    if seed is None:
        yield
        return
    saved = [(layer, layer._rng) for layer in _layers_of(layer_or_model) if hasattr(layer, "_rng")]
    try:
        for k, (layer, _) in enumerate(saved):
            layer._rng = np.random.default_rng([seed, k])
        yield
    finally:
        for layer, rng in saved:
            layer._rng = rng


def _image(image, data_format, where):
    x = as_float_array(image, where=where, name="image")
    if x.ndim == 2:  # (H, W): one channel
        x = x[..., None] if data_format == "channels_last" else x[None]
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        layout = "(H, W, C)" if data_format == "channels_last" else "(C, H, W)"
        raise ValueError(
            f"{where}: expected one image, {layout}, (H, W) or a batch of one. "
            f"Received: image.shape={x.shape}"
        )
    return x


def plot_augmentations(layer_or_model, image, n=9, seed=None, path=None):
    """A grid of ``n`` augmented versions of ``image`` (module docstring).

    Args:
        layer_or_model: an augmentation layer, or a model whose output is an image (e.g. a
            Sequential of augmentation layers).
        image: one image, (H, W, C) ((C, H, W) for a channels_first layer), (H, W), or a batch
            of one.
        n: the number of panels.
        seed: None, or an int for a reproducible picture that leaves every generator untouched.
        path: when given, the figure is also saved there as a PNG.

    Returns:
        a ``matplotlib.figure.Figure`` with one Axes per panel, titled 1..n, each showing the
        output in the input's value range (grey for one channel, colour for three or four);
        ``ax.images[0]`` holds the drawn values.
    """
    where = "plot_augmentations"
    if not isinstance(layer_or_model, Layer) and not hasattr(layer_or_model, "layers"):
        raise TypeError(
            f"{where}: expected a layer or a model. Received: {type(layer_or_model).__name__}"
        )
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{where}: n must be a positive integer. Received: n={n!r}")
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"{where}: seed must be None or a non-negative integer. Received: seed={seed!r}")
    path = _check_path(path, where)
    data_format = _data_format(layer_or_model)
    x = _image(image, data_format, where)
    Figure = _figure_class(where)
    with _seeded(layer_or_model, seed), autograd.no_record():
        outputs = [np.asarray(autograd.value(layer_or_model(x[None], training=True))) for _ in range(int(n))]
    panels = []
    for out in outputs:
        if out.ndim != 4 or out.shape[0] != 1:
            raise ValueError(
                f"{where}: the layer or model must return images. Received: an output of shape {out.shape}"
            )
        panels.append(out[0] if data_format == "channels_last" else np.moveaxis(out[0], 0, -1))
    channels = panels[0].shape[-1]
    if channels not in (1, 3, 4):
        raise ValueError(
            f"{where}: can draw images with 1 (grey), 3 or 4 (colour) channels. "
            f"Received: outputs of shape {outputs[0].shape}"
        )
    low, high = float(np.min(x)), float(np.max(x))
    high = high if high > low else low + 1.0
    rows, columns = _grid(int(n), None)
    fig = Figure(figsize=(1.8 * columns, 1.8 * rows + 0.4))
    name = getattr(layer_or_model, "name", type(layer_or_model).__name__)
    fig.suptitle(f"{name}: {n} augmentations (training=True)", fontsize=9)
    for k, panel in enumerate(panels):
        ax = fig.add_subplot(rows, columns, k + 1)
        if channels == 1:
            ax.imshow(panel[..., 0], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        else:
            ax.imshow(np.clip((panel - low) / (high - low), 0.0, 1.0), interpolation="nearest")
        ax.set_title(str(k + 1), fontsize=8)
        _bare(ax)
    _save(fig, path)
    return fig
