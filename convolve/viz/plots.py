"""Plots of what a network holds and does: its filters, its feature maps, its training curves
and its confusion matrix.

    from convolve import viz
    viz.plot_filters(model.layers[0], path="filters.png")         # one cell per filter
    maps = viz.feature_maps(model, x_test[0])                       # {layer name: output}
    viz.plot_feature_maps(model, x_test[0], layers=["conv2d", "max_pooling2d"])
    viz.plot_history(model.fit(...))                               # one panel per metric
    viz.plot_confusion_matrix(model, x_test, y_test, class_names=fashion_mnist.CLASS_NAMES)

Each ``plot_*`` function returns a ``matplotlib.figure.Figure`` made without pyplot (no
window opens, nothing global changes, it works headless) and, given ``path=``, also writes it
as a PNG (a temporary file renamed into place). matplotlib is imported on the first call;
``pip install "convolve[viz]"`` installs it.

Layouts: kernels are ``(kh, kw, in_channels, filters)`` (Conv2D) or ``(k, in_channels,
filters)`` (Conv1D); images and layer outputs are channels_last ``(N, H, W, C)`` (a layer
with ``data_format="channels_first"`` has its maps moved to channels_last for drawing).
"""
from __future__ import annotations

import math
import os

import numpy as np

from .. import autograd
from ..backend import as_float_array
from ..layers.base import InputLayer, Layer, format_shape
from ..layers.conv import BaseConv, ConvTranspose
from ..layers.pooling import BasePooling

#: most cells plot_filters draws in one figure (each cell is a matplotlib Axes)
MAX_FILTER_CELLS = 1024


# ---- shared helpers --------------------------------------------------------------------------


def _figure_class(where):
    """matplotlib's Figure, imported now; a clear ImportError when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401  (imported first so a blocked package fails here)
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            f'{where} needs matplotlib, which is not installed: pip install "convolve[viz]". '
            f"Received: ImportError({e})"
        ) from None
    return Figure


def _check_path(path, where):
    """The target path as a string, checked before anything is computed."""
    if path is None:
        return None
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(
            f"{where}: path must be a file name (str or os.PathLike) or None. Received: path={path!r}"
        ) from None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{where}: the folder to save the PNG in does not exist. Received: path={path!r}"
        )
    return path


def _save(fig, path):
    """Write ``fig`` as a PNG to ``path`` atomically (temporary file beside it, then rename)."""
    if path is None:
        return
    from .._files import atomic_open

    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=fig.dpi)


def _normalize_maps(maps, mode):
    """convolve.images.normalize_maps: each (H, W) map of (H, W, C) scaled on its own
    ("minmax" -> [0, 1], a constant map -> 0.5; "symmetric" -> x / max|x| in [-1, 1])."""
    from ..images import normalize_maps

    return normalize_maps(maps, mode)


def _grid(n, columns, default_max=8, square=True):
    """(rows, columns) for ``n`` cells: ``columns`` if given, else one row up to ``default_max``
    cells, then a near-square grid (``square``) or rows of ``default_max``."""
    if columns is None:
        if n <= default_max:
            columns = n
        else:
            columns = math.ceil(math.sqrt(n)) if square else default_max
    columns = min(columns, n)
    return math.ceil(n / columns), columns


def _check_columns(columns, where):
    if columns is not None and (
        not isinstance(columns, (int, np.integer)) or isinstance(columns, bool) or columns < 1
    ):
        raise ValueError(
            f"{where}: columns must be a positive integer or None. Received: columns={columns!r}"
        )
    return None if columns is None else int(columns)


def _bare(ax):
    """No ticks, but keep the axis labels (rows of input channels are labelled on the y axis)."""
    ax.set_xticks([])
    ax.set_yticks([])


# ---- plot_filters ----------------------------------------------------------------------------


def _kernel_of(layer_or_kernel, where):
    """A (kh, kw, in_channels, filters) float array, a label, and whether it was a 1-D kernel."""
    if isinstance(layer_or_kernel, Layer):
        layer = layer_or_kernel
        if not isinstance(layer, BaseConv):
            raise TypeError(
                f"{where}: expected a Conv1D or Conv2D layer (or a kernel array). "
                f"Received: layer {layer.where} of type {type(layer).__name__}"
            )
        if not layer.built:
            raise ValueError(
                f"{where}: the layer has no weights yet; build it (call it or the model on data, or give an "
                f"input shape) first. Received: layer {layer.where}, built=False"
            )
        if not hasattr(layer, "kernel"):  # depthwise and separable layers keep other kernels
            raise TypeError(
                f"{where}: expected a layer with one convolution kernel (Conv1D, Conv2D); pass the kernel "
                f"array to draw others. Received: layer {layer.where} of type {type(layer).__name__}"
            )
        kernel = np.asarray(layer.kernel.value)
        if kernel.ndim not in (3, 4):
            raise ValueError(
                f"{where}: only 1-D and 2-D convolution kernels can be drawn. "
                f"Received: layer {layer.where} with a kernel of shape {kernel.shape}"
            )
        if isinstance(layer, ConvTranspose):  # (*k, filters, in) -> (*k, in, filters)
            kernel = np.swapaxes(kernel, -1, -2)
        label = layer.name
    else:
        kernel = as_float_array(layer_or_kernel, where=where, name="layer_or_kernel")
        label = None
    one_d = kernel.ndim == 3
    if kernel.ndim == 2:  # one (kh, kw) filter
        kernel = kernel[:, :, None, None]
    elif kernel.ndim == 3:  # Conv1D (k, in, filters): a 1-pixel-tall strip per filter
        kernel = kernel[None]
    elif kernel.ndim != 4:
        raise ValueError(
            f"{where}: expected a Conv2D or Conv1D layer, or a kernel array of shape (kh, kw), "
            "(k, in_channels, filters) or (kh, kw, in_channels, filters). "
            f"Received: an array of shape {kernel.shape}"
        )
    if 0 in kernel.shape:
        raise ValueError(f"{where}: the kernel is empty. Received: an array of shape {kernel.shape}")
    return kernel, label, one_d


def plot_filters(layer_or_kernel, channel=None, normalize="per_filter", columns=None, path=None):
    """A grid with one cell per filter of a convolution kernel.

    Args:
        layer_or_kernel: a built Conv2D or Conv1D layer (its ``kernel``; transposed layers'
            ``(*k, filters, in)`` kernels are read as ``(*k, in, filters)``), or an array of
            shape ``(kh, kw, in_channels, filters)``, ``(k, in_channels, filters)`` (a Conv1D
            kernel, drawn as 1-pixel-tall strips) or ``(kh, kw)`` (one filter).
        channel: ``None`` draws every input channel: in colour when there are 3 (RGB filters),
            one grey cell per filter when there is 1, and otherwise one row per input channel
            (a block of rows per row of filters). An int draws only that input channel.
        normalize: ``"per_filter"`` scales each filter on its own so its min is black and its
            max white (across all its drawn channels, so channels of one filter compare);
            ``"global"`` uses one min..max for everything drawn. A constant filter is mid-grey.
        columns: filters per row; default one row up to 8 filters, a near-square grid beyond.
        path: when given, the figure is also saved there as a PNG.

    Returns:
        a ``matplotlib.figure.Figure``; each cell is an Axes titled ``filter i`` whose
        ``images[0]`` holds the normalised values in [0, 1] (``(kh, kw)``, or ``(kh, kw, 3)``).
    """
    where = "plot_filters"
    if normalize not in ("per_filter", "global"):
        raise ValueError(
            f"{where}: normalize must be 'per_filter' or 'global'. Received: normalize={normalize!r}"
        )
    columns = _check_columns(columns, where)
    path = _check_path(path, where)
    kernel, label, one_d = _kernel_of(layer_or_kernel, where)
    kh, kw, cin, nf = kernel.shape
    if channel is not None:
        if (
            not isinstance(channel, (int, np.integer))
            or isinstance(channel, bool)
            or not -cin <= channel < cin
        ):
            raise ValueError(
                f"{where}: channel must be None or an input channel index in [0, {cin}). "
                f"Received: channel={channel!r}"
            )
        kernel = kernel[:, :, [int(channel) % cin], :]
    cin_drawn = kernel.shape[2]
    rgb = channel is None and cin == 3
    rows_per_filter = 1 if rgb or cin_drawn == 1 else cin_drawn
    if nf * rows_per_filter > MAX_FILTER_CELLS:
        raise ValueError(
            f"{where}: {nf} filters x {rows_per_filter} input channels is more than {MAX_FILTER_CELLS} "
            "cells; draw one input channel with channel=... "
            f"Received: a kernel of shape {tuple(kernel.shape)}"
        )
    Figure = _figure_class(where)

    # normalise: each filter's (kh, kw, in) values together, or everything at once
    if normalize == "per_filter":
        scaled = _normalize_maps(kernel.reshape(kh, kw * cin_drawn, nf), "minmax").reshape(kernel.shape)
    else:
        scaled = _normalize_maps(kernel.reshape(1, -1, 1), "minmax").reshape(kernel.shape)

    n_rows_f, n_cols = _grid(nf, columns)
    n_rows = n_rows_f * rows_per_filter
    cell = 1.1 if kh > 1 else 1.4  # 1-D strips are wider than tall
    cell_h = max(cell * kh / kw, 0.35) if kh > 1 else 0.45
    height = n_rows * cell_h + n_rows_f * 0.25 + 0.5  # titles above each row of filters only
    fig = Figure(figsize=(max(n_cols * cell, 2.5), height), dpi=100, layout="constrained")
    grid = fig.add_gridspec(n_rows, n_cols)
    for f in range(nf):
        block, col = divmod(f, n_cols)
        for c in range(rows_per_filter):
            ax = fig.add_subplot(grid[block * rows_per_filter + c, col])
            if rgb:
                ax.imshow(scaled[:, :, :, f], interpolation="nearest", aspect="auto" if kh == 1 else "equal")
            else:
                ax.imshow(scaled[:, :, c, f], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest",
                          aspect="auto" if kh == 1 else "equal")
            _bare(ax)
            if c == 0:
                ax.set_title(f"filter {f}", fontsize=8)
            if rows_per_filter > 1 and col == 0:
                ax.set_ylabel(f"in {c}", fontsize=8)
    what = f"{label}: " if label else ""
    size = f"{kw}-tap" if one_d else f"{kh}x{kw}"
    drawn = (
        "RGB"
        if rgb
        else (f"input channel {int(channel) % cin}" if channel is not None else f"{cin} input channel(s)")
    )
    fig.suptitle(f"{what}{nf} filters {size}, {drawn}, {normalize.replace('_', '-')} scaling", fontsize=9)
    _save(fig, path)
    return fig


# ---- feature_maps ----------------------------------------------------------------------------


def _model_where(model):
    return getattr(model, "where", type(model).__name__)


def _input_ndim(model):
    """The rank of the model's (first) input, batch included, or None if unknown."""
    if model.built:
        return len(model._inputs[0].shape)
    layers = model.layers
    return layers[0].input_ndim if layers else None


def _as_batch(model, x, where):
    """``x`` as a batch (one image gets a batch axis of 1); a list for a multi-input model."""
    if model.built and len(model._inputs) > 1:
        return model._standardize(x, where, arrays_only=True)
    x = as_float_array(x, where=where, name="x")
    ndim = _input_ndim(model)
    if ndim is not None and x.ndim == ndim - 1:
        x = x[None]
    elif ndim is None and x.ndim == 3:  # an unbuilt model without an input rank: (H, W, C)
        x = x[None]
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"{where}: {_model_where(model)} takes inputs of rank {ndim} (batch included); pass one sample "
            f"of rank {ndim - 1} or a batch. Received: x with shape {x.shape}"
        )
    return x


def _default_layers(model):
    return [layer for layer in model.layers if isinstance(layer, (BaseConv, BasePooling))]


def _resolve_layers(model, layers, where):
    """The requested layers, as objects of ``model.layers``, in model order."""
    all_layers = model.layers
    names = [layer.name for layer in all_layers]
    if layers is None:
        chosen = _default_layers(model)
        if not chosen:
            raise ValueError(
                f"{where}: {_model_where(model)} has no convolution or pooling layer to show; name the "
                f"layers with layers=[...] (its layers: {names}). Received: layers=None"
            )
        return chosen
    items = list(layers) if isinstance(layers, (list, tuple)) else [layers]
    if not items:
        raise ValueError(
            f"{where}: layers must name at least one layer (its layers: {names}). Received: layers={layers!r}"
        )
    chosen = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise ValueError(
                    f"{where}: {_model_where(model)} has no layer named {item!r}; its layers are {names}. "
                    f"Received: layers={layers!r}"
                )
            layer = all_layers[names.index(item)]
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not -len(all_layers) <= item < len(all_layers):
                raise ValueError(
                    f"{where}: layer index {item} is out of range for {_model_where(model)}'s "
                    f"{len(all_layers)} layers ({names}). Received: layers={layers!r}"
                )
            layer = all_layers[int(item)]
        elif isinstance(item, Layer):
            if not any(item is other for other in all_layers):
                raise ValueError(
                    f"{where}: layer {item.where} is not in {_model_where(model)} (its layers: {names}). "
                    f"Received: layers={layers!r}"
                )
            layer = item
        else:
            raise TypeError(
                f"{where}: layers must be layer names, indices or layer objects (or a list of them). "
                f"Received: {item!r} of type {type(item).__name__}"
            )
        if not any(layer is c for c in chosen):
            chosen.append(layer)
    order = {id(layer): k for k, layer in enumerate(all_layers)}
    return sorted(chosen, key=lambda layer: order[id(layer)])


def _functional_outputs(model, xs, wanted, where):
    """One pass through the nodes of the model's graph that the wanted layers' outputs need
    (a Sequential is such a graph too, one node per layer).

    A layer called more than once (a shared layer) gives one entry per call: its name for the
    first, ``name[1]``, ``name[2]``... for the next (Keras' node indices within this model).
    """
    values = model._standardize(xs, where, arrays_only=True)
    model._propagate_shapes([(None, *a.shape[1:]) for a in values])  # every layer checked first
    want = {id(layer) for layer in wanted}
    known = {id(t): v for t, v in zip(model._inputs, values)}
    outputs = {}
    for t, v in zip(model._inputs, values):
        if id(t.layer) in want:
            outputs[t.layer.name] = np.asarray(v)
    targets = [node for node in model._nodes if id(node.layer) in want]
    needed, stack = set(), list(targets)  # every node the targets read, directly or not
    while stack:
        node = stack.pop()
        if id(node) in needed or id(node) in known:
            continue
        needed.add(id(node))
        stack.extend(node.inputs)
    for node in model._nodes:
        if id(node) not in needed:
            continue
        args = [known[id(t)] for t in node.inputs]
        known[id(node)] = node.layer(args[0] if len(args) == 1 else args, training=False)
        if id(node.layer) in want:
            k = model._node_index[id(node)]
            outputs[node.layer.name if k == 0 else f"{node.layer.name}[{k}]"] = np.asarray(known[id(node)])
    # the dict in model order (inputs first, then by node order)
    return outputs


def feature_maps(model, x, layers=None):
    """The outputs of chosen layers of a model for input ``x``, from one forward pass.

    Args:
        model: a ``Sequential`` or a functional ``Model``.
        x: one sample (e.g. an image ``(H, W, C)``) or a batch ``(N, H, W, C)``; a list of
            batches for a model with several inputs.
        layers: which layers: a name, an index into ``model.layers``, a layer object, or a
            list of them. Default: every convolution and pooling layer (not global pooling).

    Returns:
        ``{layer name: output array}`` in the order of ``model.layers``; each output keeps its
        batch axis (``(1, H', W', C')`` for one image) and the layer's own data format.
        A layer called more than once in a functional model adds ``name[1]``, ... entries.

    Nothing is recorded for gradients and the model is not changed (no sub-model is built).
    Raises ValueError naming the model's layers when a name, index or layer is not in it.
    """
    where = "feature_maps"
    if not hasattr(model, "layers") or not hasattr(model, "predict"):
        raise TypeError(
            f"{where}: expected a Sequential or a functional Model. Received: {type(model).__name__}"
        )
    wanted = _resolve_layers(model, layers, where)
    xs = _as_batch(model, x, where)
    model._build_for(xs, where)  # a Sequential not built yet builds for x; every model is a graph then
    with autograd.no_record():
        return _functional_outputs(model, xs, wanted, where)


# ---- plot_feature_maps -----------------------------------------------------------------------


def _maps_hwc(output, layer):
    """One sample's output as (H, W, C) maps: 1-D outputs as 1-pixel-tall strips, vectors as one strip."""
    if getattr(layer, "data_format", "channels_last") == "channels_first" and output.ndim >= 3:
        output = np.moveaxis(output, 1, -1)
    sample = output[0]
    if sample.ndim == 3:
        return sample
    if sample.ndim == 2:  # (L, C)
        return sample[None]
    if sample.ndim == 1:  # (units,): one strip
        return sample[None, :, None]
    raise ValueError(
        f"plot_feature_maps: outputs of rank 2, 3 or 4 (batch included) can be drawn. "
        f"Received: layer {layer.where} with an output of shape {output.shape}"
    )


def plot_feature_maps(
    model, x, layers=None, index=0, normalize="minmax", max_maps=64, columns=None, path=None, cmap=None
):
    """Every chosen layer's output for one sample, one block of maps per layer.

    Args:
        model, x, layers: as for ``feature_maps``; with a batch, sample ``index`` is shown
            (only that sample is computed).
        normalize: ``"minmax"`` scales each map (channel) to [0, 1] (grey: black is its min,
            white its max); ``"symmetric"`` scales each map by its largest |value| to [-1, 1]
            drawn with the diverging ``"RdBu_r"`` map, so 0 is white, positive red, negative blue.
        max_maps: at most this many maps (the first channels) per layer.
        columns: maps per row (default one row up to 8 maps, a near-square grid beyond).
        path: when given, the figure is also saved there as a PNG.
        cmap: a matplotlib colour map name to use instead of the default above.

    Returns:
        a ``matplotlib.figure.Figure`` with one sub-figure per layer titled with the layer's name
        and output shape, whose Axes (one per map, titled with the channel index) each hold the
        normalised ``(H, W)`` map in ``images[0]``. Layer outputs of shape (N, L, C) are drawn
        as 1-pixel-tall strips, (N, units) as one strip.
    """
    where = "plot_feature_maps"
    if normalize not in ("minmax", "symmetric"):
        raise ValueError(
            f"{where}: normalize must be 'minmax' or 'symmetric'. Received: normalize={normalize!r}"
        )
    if not isinstance(max_maps, (int, np.integer)) or isinstance(max_maps, bool) or max_maps < 1:
        raise ValueError(f"{where}: max_maps must be a positive integer. Received: max_maps={max_maps!r}")
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise TypeError(f"{where}: index must be an integer. Received: index={index!r}")
    columns = _check_columns(columns, where)
    path = _check_path(path, where)
    if not hasattr(model, "layers") or not hasattr(model, "predict"):
        raise TypeError(
            f"{where}: expected a Sequential or a functional Model. Received: {type(model).__name__}"
        )
    wanted = _resolve_layers(model, layers, where)
    xs = _as_batch(model, x, where)
    batch = xs if isinstance(xs, list) else [xs]
    n = len(batch[0])
    if not -n <= index < n:
        raise ValueError(f"{where}: index must pick one of the {n} samples of x. Received: index={index}")
    index = int(index) % n
    one = [a[index : index + 1] for a in batch]
    Figure = _figure_class(where)
    outputs = feature_maps(model, one if isinstance(xs, list) else one[0], wanted)

    by_name = {layer.name: layer for layer in model.layers}
    blocks = []
    for key, output in outputs.items():
        layer = by_name[key.split("[")[0]]
        maps = _maps_hwc(output, layer)
        shown = maps[:, :, :max_maps]
        scaled = _normalize_maps(shown, normalize)
        blocks.append((key, layer, output.shape, maps.shape[-1], scaled))

    cell = 1.1
    sizes = []
    for _, _, _, _, scaled in blocks:
        h, w, c = scaled.shape
        rows, cols = _grid(c, columns, square=False)
        cell_h = cell * h / w if h > 1 else 0.35
        sizes.append((rows, cols, min(max(cell_h, 0.35), 2.5)))
    width = max(max(cols for _, cols, _ in sizes) * cell, 3.0)
    heights = [rows * (cell_h + 0.25) + 0.45 for rows, _, cell_h in sizes]
    fig = Figure(figsize=(width, sum(heights)), dpi=100, layout="constrained")
    subfigs = fig.subfigures(len(blocks), 1, height_ratios=heights, squeeze=False)[:, 0]
    if cmap is None:
        cmap = "gray" if normalize == "minmax" else "RdBu_r"
    vmin = 0.0 if normalize == "minmax" else -1.0
    for sub, (key, layer, shape, total, scaled), (rows, cols, _) in zip(subfigs, blocks, sizes):
        c = scaled.shape[-1]
        note = f", first {c} of {total} maps" if c < total else ""
        what = "input" if isinstance(layer, InputLayer) else f"({type(layer).__name__}) output"
        sub.suptitle(f"{key} {what} {format_shape((None, *shape[1:]))}{note}", fontsize=9)
        grid = sub.add_gridspec(rows, cols)
        for k in range(c):
            ax = sub.add_subplot(grid[k // cols, k % cols])
            ax.imshow(scaled[:, :, k], cmap=cmap, vmin=vmin, vmax=1.0, interpolation="nearest",
                      aspect="equal" if scaled.shape[0] > 1 else "auto")
            _bare(ax)
            ax.set_title(str(k), fontsize=7)
    _save(fig, path)
    return fig


# ---- plot_history ----------------------------------------------------------------------------


def plot_history(history, metrics=None, path=None):
    """Training curves: one panel per metric, with its ``val_`` pair when recorded.

    Args:
        history: a ``convolve.callbacks.History`` (what ``fit`` returns; its ``.history``)
            or a dict ``{"loss": [...], "val_loss": [...], ...}`` with one value per epoch.
        metrics: names to draw (``"loss"``, ``"accuracy"``...; a ``"val_x"`` name draws panel
            ``x``). Default: every recorded name, ``loss`` first.
        path: when given, the figure is also saved there as a PNG.

    Returns:
        a ``matplotlib.figure.Figure`` with one Axes per metric (up to 3 per row); epochs
        on the x axis counted from 1.
    """
    where = "plot_history"
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            f"{where}: expected a History (from fit) or a dict of per-epoch values. "
            f"Received: {type(history).__name__}"
        )
    series = {}
    for key, values in logs.items():
        try:
            arr = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: every entry must be a list of numbers. Received: {key!r}={values!r}"
            ) from None
        if arr.ndim != 1:
            raise ValueError(
                f"{where}: every entry must be a list of per-epoch numbers. "
                f"Received: {key!r} with shape {arr.shape}"
            )
        series[str(key)] = arr
    if not series or all(len(v) == 0 for v in series.values()):
        raise ValueError(f"{where}: the history is empty (was fit run?). Received: {logs!r}")
    base_names = []
    for key in series:
        base = key[4:] if key.startswith("val_") else key
        if base not in base_names:
            base_names.append(base)
    base_names.sort(key=lambda name: name != "loss")  # loss first, the rest in recorded order
    if metrics is None:
        chosen = base_names
    else:
        items = [metrics] if isinstance(metrics, str) else list(metrics)
        chosen = []
        for item in items:
            base = item[4:] if isinstance(item, str) and item.startswith("val_") else item
            if base not in base_names:
                raise ValueError(
                    f"{where}: no metric {item!r} in the history; it has {list(series)}. "
                    f"Received: metrics={metrics!r}"
                )
            if base not in chosen:
                chosen.append(base)
        if not chosen:
            raise ValueError(
                f"{where}: metrics must name at least one metric ({list(series)}). "
                f"Received: metrics={metrics!r}"
            )
    path = _check_path(path, where)
    Figure = _figure_class(where)
    from matplotlib.ticker import MaxNLocator

    cols = min(len(chosen), 3)
    rows = math.ceil(len(chosen) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), dpi=100, layout="constrained")
    for k, name in enumerate(chosen):
        ax = fig.add_subplot(rows, cols, k + 1)
        for key, label, style in ((name, "training", "o-"), (f"val_{name}", "validation", "s--")):
            if key in series and len(series[key]):
                values = series[key]
                ax.plot(np.arange(1, len(values) + 1), values, style, label=label, markersize=4)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)
    return fig


# ---- confusion matrix ------------------------------------------------------------------------


def _labels(y, name, where):
    """Integer class labels from integer labels (N,) / (N, 1) or one-hot / probability rows (N, K)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"{where}: {name} must be integer labels (N,) or one-hot rows (N, K). "
            f"Received: {name} with shape {y.shape}"
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(
                f"{where}: {name} must hold whole numbers (class indices). "
                f"Received: {name} with non-integer values"
            )
    elif y.dtype.kind not in "iub":
        raise TypeError(
            f"{where}: {name} must be numeric class labels. Received: {name} with dtype={y.dtype}"
        )
    return y.astype(np.int64)


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``m[i, j]`` of samples whose true class is ``i`` and predicted class is ``j``.

    Args:
        y_true, y_pred: integer class labels of shape (N,) (or one-hot / score rows (N, K),
            read by argmax).
        num_classes: K; default ``max(label) + 1`` over both.

    Returns:
        an int64 array (K, K): rows are true classes, columns predicted ones (scikit-learn's
        layout); the diagonal holds the correct predictions. One ``np.bincount`` of
        ``K * true + pred``, no loop over samples.
    """
    where = "confusion_matrix"
    t = _labels(y_true, "y_true", where)
    p = _labels(y_pred, "y_pred", where)
    if t.shape != p.shape:
        raise ValueError(
            f"{where}: y_true and y_pred must hold one label per sample each. "
            f"Received: {len(t)} true labels and {len(p)} predictions"
        )
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
        num_classes = max(num_classes, 1)
    elif not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(
            f"{where}: num_classes must be a positive integer or None. Received: num_classes={num_classes!r}"
        )
    for name, labels in (("y_true", t), ("y_pred", p)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"{where}: labels must lie in [0, {num_classes}). "
                f"Received: {name} with values from {labels.min()} to {labels.max()}"
            )
    k = int(num_classes)
    return np.bincount(k * t + p, minlength=k * k).reshape(k, k).astype(np.int64)


def plot_confusion_matrix(
    model, x, y, class_names=None, normalize=None, path=None, batch_size=32, cmap="Blues"
):
    """The confusion matrix of ``model``'s predictions on ``x`` against labels ``y``.

    Args:
        model: a model with ``predict``; a prediction's class is the argmax of its scores
            (a single sigmoid output (N, 1) counts as class 1 above 0.5).
        x: inputs, as for ``model.predict``.
        y: integer labels (N,) or one-hot rows (N, K).
        class_names: K names for the axes (e.g. ``fashion_mnist.CLASS_NAMES``); default 0..K-1.
        normalize: ``None`` (counts), ``"true"`` (each row sums to 1: recall per class),
            ``"pred"`` (each column sums to 1: precision), ``"all"`` (the whole matrix sums to 1).
        batch_size: for ``predict``.
        path: when given, the figure is also saved there as a PNG.

    Returns:
        a ``matplotlib.figure.Figure``: the matrix (rows true, columns predicted) with each
        cell's count (or fraction, 2 decimals) written in it, a colour bar, and the accuracy
        in the title. ``fig.axes[0].images[0].get_array()`` holds the drawn values.
    """
    where = "plot_confusion_matrix"
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(
            f"{where}: normalize must be None, 'true', 'pred' or 'all'. Received: normalize={normalize!r}"
        )
    path = _check_path(path, where)
    if not hasattr(model, "predict"):
        raise TypeError(f"{where}: expected a model with predict(). Received: {type(model).__name__}")
    y_true = _labels(y, "y", where)
    n = len(x[0]) if isinstance(x, (list, tuple)) else len(x)  # a list: one array per model input
    if len(y_true) != n:
        raise ValueError(
            f"{where}: x and y must have the same number of samples. "
            f"Received: {n} inputs and {len(y_true)} labels"
        )
    Figure = _figure_class(where)
    scores = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    if scores.ndim == 2 and scores.shape[1] == 1:
        y_pred, k = (scores[:, 0] > 0.5).astype(np.int64), 2
    elif scores.ndim == 2:
        y_pred, k = np.argmax(scores, axis=1), scores.shape[1]
    else:
        raise ValueError(
            f"{where}: the model must output class scores (N, K). "
            f"Received: predictions of shape {scores.shape}"
        )
    if y_true.size and y_true.max() >= k:
        raise ValueError(
            f"{where}: y holds class {y_true.max()} but the model scores {k} classes. "
            f"Received: y with values up to {y_true.max()}"
        )
    if class_names is None:
        class_names = [str(i) for i in range(k)]
    else:
        class_names = [str(name) for name in class_names]
        if len(class_names) != k:
            raise ValueError(
                f"{where}: class_names must name the model's {k} classes. Received: {len(class_names)} names"
            )
    counts = confusion_matrix(y_true, y_pred, k)
    if normalize is None:
        values = counts
    else:
        axis = {"true": 1, "pred": 0, "all": None}[normalize]
        totals = counts.sum(axis=axis, keepdims=axis is not None)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=np.asarray(totals) > 0)
    accuracy = np.trace(counts) / max(counts.sum(), 1)

    size = max(4.5, 0.55 * k + 2.5)
    fig = Figure(figsize=(size + 1.0, size), dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(values, cmap=cmap, vmin=0, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8)
    top = values.max() if values.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{values[i, j]:d}" if normalize is None else f"{values[i, j]:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if k <= 10 else 6,
                    color="white" if values[i, j] > top / 2 else "black")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    shown = "counts" if normalize is None else f"normalised over {normalize}"
    ax.set_title(f"accuracy {accuracy:.3f} ({np.trace(counts)}/{counts.sum()}), {shown}", fontsize=9)
    _save(fig, path)
    return fig
