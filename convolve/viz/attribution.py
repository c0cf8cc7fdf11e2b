"""Attribution: which pixels a classifier's decision depends on, computed on convolve's own tape.

    from convolve import viz
    g = viz.saliency(model, x)                                    # x's shape: d score / d x
    ig = viz.saliency(model, x, method="integrated_gradients", steps=50)
    cam = viz.grad_cam(model, x, upsample=True)                   # (H, W), ReLU'd
    drop = viz.occlusion(model, x, window=4, stride=2)            # (H, W): the probability lost
    viz.plot_grad_cam(model, x, path="cam.png")                   # the map over the image

``x`` is one sample (an image ``(H, W, C)``) or a batch; one sample gives maps without a batch
axis. The model has one input and one output of shape ``(N, classes)``. ``class_index=None``
explains each sample's predicted class (the argmax of the model's output); an int explains that
class for every sample, a list one class per sample.

**The score.** Gradients are taken of the class *logit*: when the model ends in a softmax, the
score is the softmax's input as the recorded graph holds it (the tensor the training loop starts
its fused cross-entropy gradient from), else the model's output. A probability's gradient
mixes in every other class (dp_c = p_c (dz_c - sum_k p_k dz_k)) and vanishes where the model is
confident, so Simonyan et al. and Grad-CAM use the score before the softmax (Keras' Grad-CAM
example removes the last softmax for this). ``score="output"`` takes the model's output as it is
(the probability): what Captum computes when it is handed a model that ends in a softmax (the
tests hand Captum the PyTorch twin's logits, and its softmax for ``score="output"``).
``occlusion`` measures the drop of the model's output (the probability), as its definition
asks.

**Methods** (``saliency(method=...)``), each returning an array of x's shape:

* ``"vanilla"``: d score / d x (Simonyan, Vedaldi and Zisserman, 2014).
* ``"gradient_x_input"``: x * d score / d x.
* ``"smoothgrad"``: the mean of the gradients at ``samples`` (default 50) copies of x with
  Gaussian noise of standard deviation ``noise_level`` (default 0.15) times x's range
  (max - min, per sample), as Smilkov et al. (2017). The noise is drawn from
  ``convolve.random.generator(seed)``: the global generator (``set_random_seed``) unless
  ``seed`` is given, one ``(samples, *sample_shape)`` draw per sample in order.
* ``"integrated_gradients"``: (x - baseline) * integral over a in [0, 1] of the gradient at
  baseline + a (x - baseline) (Sundararajan et al., 2017); ``baseline`` zeros by default (a
  number or an array of a sample's or of x's shape), ``steps=50``. ``integration`` chooses the
  quadrature, by Captum's names: ``"gausslegendre"`` (the default, as Captum's: ``steps``
  Gauss-Legendre nodes, exact for polynomials of degree 2 steps - 1); ``"riemann_left"``,
  ``"riemann_right"``, ``"riemann_middle"`` (weights 1/steps at Captum's nodes, so these are
  Captum's sums, except that Captum rounds its weights to float32); ``"riemann_trapezoid"``,
  the trapezoid rule on ``steps`` equally spaced nodes from 0 to 1 (weights 1/(steps - 1),
  halved at the ends). Captum's trapezoid weighs those nodes 1/steps, which sums to
  1 - 1/steps; ours is Captum's times steps / (steps - 1), and its sum over pixels approaches
  score(x) - score(baseline) (completeness).

Noisy copies and interpolation points are run in batches of ``batch_size`` (default 32).

**Grad-CAM** (Selvaraju et al., 2017) weighs a layer's channels A_k by the spatial mean of
d score / dA_k and keeps the positive part of the weighted sum; **Grad-CAM++** (Chattopadhay et
al., 2018) weighs each position by alpha = g^2 / (2 g^2 + sum_ab A_ab g^3) (g = d score / dA,
the paper's closed form for an exponential of the score; alpha = 0 where the denominator is 0)
and sums alpha * relu(g) per channel; the paper's common factor exp(score) is left out (it
scales a sample's map, not its shape). The default layer is the last one whose output has four
dimensions (batch and three: an image layer's output, a convolution's or a pooling's); the map
has that layer's resolution, or the input's with ``upsample=True`` (bilinear with half-pixel
centres, ``ops.image.resize``).

**Occlusion** (Zeiler and Fergus, 2014) slides a ``window`` (all channels) with ``stride`` over
each image, replaces it by ``baseline`` and records the drop in the class's output; each pixel
gets the mean drop of the windows that cover it, as Captum's ``Occlusion``: along an axis of n
pixels the windows start at 0, s, 2s, ... up to ceil((n - w) / s) * s, the last cut at the
edge, so every pixel is covered. The occluded copies are predicted in batches of
``batch_size`` (default 64), never one by one.

**Plots** (``plot_saliency``, ``plot_grad_cam``, ``plot_occlusion``) draw one panel per
sample: the image in grey (one channel, or the mean of other than three) or RGB, min-max
scaled, and the map over it with ``alpha``. A signed map (gradient x input, integrated
gradients, occlusion) uses a diverging colormap (``RdBu_r``) with limits +-max|map|, so zero is
white; an unsigned one (vanilla and SmoothGrad magnitudes, Grad-CAM) a heat colormap
(``inferno``) from 0 to its max. Saliency maps become one (H, W) map per image by
:func:`reduce_channels`: ``"max_abs"`` (max of |.| over channels, Simonyan et al.) for vanilla
and SmoothGrad, ``"sum"`` (the signed sum, which keeps integrated gradients' completeness) for
the others. Figures are built without pyplot; ``path=`` also saves a PNG atomically.

Everything runs on the calling thread's tape (``GradientTape(watch_accessed_variables=False)``:
the weights are constants, only the input, or Grad-CAM's layer output, is watched), so threads
can explain models at the same time; the model and ``x`` are never changed.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import random as convolve_random
from ..autograd import GradientTape, Tensor
from ..ops.image import resize
from .plots import _as_batch, _check_path, _figure_class, _grid, _model_where, _resolve_layers, _save

METHODS = {  # method -> the options it takes besides score and batch_size, with their defaults
    "vanilla": {},
    "gradient_x_input": {},
    "smoothgrad": {"samples": 50, "noise_level": 0.15, "seed": None},
    "integrated_gradients": {"steps": 50, "baseline": None, "integration": "gausslegendre"},
}
INTEGRATIONS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
REDUCTIONS = ("max_abs", "sum")
SCORES = ("logit", "output")


# ---- checks and shared steps ---------------------------------------------------------------


def _batch(model, x, where):
    """(x as a batch, whether x was one sample); the model built for it, with one input and one
    (N, classes) output, and every layer checked against x's shape."""
    if not hasattr(model, "_build_for") or not hasattr(model, "predict"):
        raise TypeError(
            f"{where}: expected a Sequential or a functional Model. Received: {type(model).__name__}"
        )
    xb = _as_batch(model, x, where)
    model._build_for(xb, where)
    if len(model._inputs) != 1 or len(model._outputs) != 1:
        raise ValueError(
            f"{where}: attribution explains models with one input and one output. "
            f"Received: {_model_where(model)} with {len(model._inputs)} inputs and "
            f"{len(model._outputs)} outputs"
        )
    shape = model._outputs[0].shape
    if len(shape) != 2:
        raise ValueError(
            f"{where}: expected a classifier whose output has shape (batch, classes). "
            f"Received: {_model_where(model)} with output shape {shape}"
        )
    model._propagate_shapes([(None, *xb.shape[1:])])
    return xb, xb.ndim == len(np.shape(x)) + 1


def _choice(value, choices, name, where):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{where}: {name} must be one of {list(choices)}. Received: {name}={value!r}")
    return value


def _positive_int(value, name, where, minimum=1):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def _classes(model, xb, class_index, where, batch_size=32, predicted=None):
    """One class index per sample: the predicted ones (argmax of the output), or ``class_index``
    checked."""
    n_classes = model._outputs[0].shape[-1]
    if class_index is None:
        if predicted is None:
            predicted = model.predict(xb, batch_size=batch_size, verbose=0)
        return np.argmax(predicted, axis=-1)
    items = np.asarray(class_index)
    if (
        items.dtype.kind not in "iu" or items.ndim > 1 or isinstance(class_index, bool)
        or (items.ndim == 1 and len(items) != len(xb)) or np.any(items < 0) or np.any(items >= n_classes)
    ):
        raise ValueError(
            f"{where}: class_index must be None (the predicted class), an int in [0, {n_classes}) or "
            f"one such int per sample ({len(xb)}). Received: class_index={class_index!r}"
        )
    return np.broadcast_to(items, (len(xb),)).astype(np.intp)


def _score(output, score, where):
    """The recorded tensor whose class entries are differentiated (module docstring)."""
    if not isinstance(output, Tensor):
        raise ValueError(
            f"{where}: the model's output does not depend on its input (nothing was recorded). "
            f"Received: an output of type {type(output).__name__}"
        )
    if score == "logit" and output.op == "softmax" and isinstance(output.parents[0], Tensor):
        return output.parents[0]
    return output


def _seed(target, classes):
    """d(sum_i target[i, classes[i]]) / d target: one 1 per row."""
    seed = np.zeros_like(target.value)
    seed[np.arange(len(classes)), classes] = 1
    return seed


def _input_gradients(model, xb, classes, score, batch_size, where):
    """d score[i, classes[i]] / d xb[i] for every row of ``xb``, ``batch_size`` rows per pass."""
    out = np.empty_like(xb)
    for start in range(0, len(xb), batch_size):
        part = slice(start, start + batch_size)
        with GradientTape(watch_accessed_variables=False) as tape:
            xt = tape.watch(xb[part])
            target = _score(model(xt, training=False), score, where)
        (out[part],) = tape.gradient(target, [xt], output_gradient=_seed(target, classes[part]))
    return out


# ---- saliency ------------------------------------------------------------------------------


def _options(method, options, where):
    """The method's options with their defaults, every one checked (before anything is computed)."""
    allowed = METHODS[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"{where}: method {method!r} takes the options {sorted(allowed) or 'none'} (and score, "
            f"batch_size). Received: {', '.join(f'{k}={options[k]!r}' for k in unknown)}"
        )
    opts = {**allowed, **options}
    if method == "smoothgrad":
        opts["samples"] = _positive_int(opts["samples"], "samples", where)
        level = opts["noise_level"]
        if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0 <= level < np.inf:
            raise ValueError(f"{where}: noise_level must be a number >= 0. Received: noise_level={level!r}")
    if method == "integrated_gradients":
        opts["rule"] = integration_rule(opts["integration"], opts["steps"])
    return opts


def integration_rule(integration, steps):
    """(nodes, weights) in [0, 1] of the quadrature ``integration`` with ``steps`` nodes."""
    where = "integration_rule"
    _choice(integration, INTEGRATIONS, "integration", where)
    steps = _positive_int(steps, "steps", where, minimum=2)
    if integration == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1), 0.5 * weights
    if integration == "riemann_trapezoid":
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, steps), weights
    start = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[integration] / steps
    return start + np.arange(steps) / steps, np.full(steps, 1.0 / steps)


def _baseline(baseline, xb, where):
    if baseline is None:
        return np.zeros_like(xb)
    b = np.asarray(baseline)
    if b.dtype.kind not in "iuf" or b.shape not in ((), xb.shape[1:], xb.shape) or not np.all(np.isfinite(b)):
        raise ValueError(
            f"{where}: baseline must be None (zeros), a number, or an array of one sample's shape "
            f"{xb.shape[1:]} or x's {xb.shape}, finite. Received: baseline of shape {np.shape(baseline)}"
        )
    return np.broadcast_to(b.astype(xb.dtype), xb.shape)


def saliency(model, x, class_index=None, method="vanilla", score="logit", batch_size=32, **options):
    """An attribution map of x's shape for the class ``class_index`` (None: the predicted one).

    ``method``: ``"vanilla"``, ``"gradient_x_input"``, ``"smoothgrad"`` (options ``samples=50``,
    ``noise_level=0.15``, ``seed=None``) or ``"integrated_gradients"`` (``steps=50``,
    ``baseline=None`` meaning zeros, ``integration="gausslegendre"``); ``score``: ``"logit"``
    (the softmax's input) or ``"output"``. The module docstring gives each definition.
    Returns a float array of x's shape (x's dtype when it is floating, else float32).
    """
    where = "saliency"
    _choice(method, METHODS, "method", where)
    _choice(score, SCORES, "score", where)
    batch_size = _positive_int(batch_size, "batch_size", where)
    opts = _options(method, options, where)
    xb, single = _batch(model, x, where)
    classes = _classes(model, xb, class_index, where, batch_size)
    if method == "vanilla":
        result = _input_gradients(model, xb, classes, score, batch_size, where)
    elif method == "gradient_x_input":
        result = _input_gradients(model, xb, classes, score, batch_size, where) * xb
    elif method == "smoothgrad":
        result = np.empty_like(xb)
        rng, samples = convolve_random.generator(opts["seed"]), opts["samples"]
        for i, sample in enumerate(xb):  # one sample's noisy copies at a time: memory stays bounded
            std = opts["noise_level"] * (sample.max() - sample.min())
            noisy = sample + rng.normal(0.0, std, size=(samples, *sample.shape)).astype(xb.dtype)
            grads = _input_gradients(model, noisy, np.full(samples, classes[i]), score, batch_size, where)
            result[i] = grads.mean(axis=0, dtype=np.float64)
    else:
        result = np.empty_like(xb)
        nodes, weights = opts["rule"]
        alphas = nodes.astype(xb.dtype).reshape(-1, *[1] * (xb.ndim - 1))  # (steps, 1, 1, ...)
        for i, (sample, start) in enumerate(zip(xb, _baseline(opts["baseline"], xb, where))):
            points = start + alphas * (sample - start)  # (steps, *sample_shape)
            grads = _input_gradients(model, points, np.full(len(nodes), classes[i]), score, batch_size, where)
            result[i] = np.tensordot(weights, grads, axes=1) * (sample - start)
    return result[0] if single else result


def reduce_channels(maps, reduction="max_abs", data_format="channels_last"):
    """One (H, W) map per image from maps of an image's shape: ``"max_abs"`` is the max of |.|
    over the channel axis, ``"sum"`` the signed sum. (H, W, C) -> (H, W); (N, H, W, C) -> (N, H, W);
    ``data_format="channels_first"`` reads the channels from axis -3."""
    where = "reduce_channels"
    _choice(reduction, REDUCTIONS, "reduction", where)
    _choice(data_format, ("channels_last", "channels_first"), "data_format", where)
    maps = np.asarray(maps)
    if maps.ndim not in (3, 4):
        raise ValueError(
            f"{where}: expected maps of an image's shape, (H, W, C) or (N, H, W, C) (channels first: "
            f"(C, H, W) or (N, C, H, W)). Received: shape {maps.shape}"
        )
    axis = -1 if data_format == "channels_last" else -3
    return np.abs(maps).max(axis=axis) if reduction == "max_abs" else maps.sum(axis=axis)


# ---- Grad-CAM ------------------------------------------------------------------------------


def _cam_node(model, layer, where):
    """The graph node (layer call) whose output Grad-CAM weighs, and its output shape."""
    shapes = model._propagate_shapes([model._inputs[0].shape])
    if layer is None:
        nodes = [node for node in model._nodes if len(shapes[id(node)]) == 4]
        if not nodes:
            raise ValueError(
                f"{where}: {_model_where(model)} has no layer with a 4-D output (batch, height, width, "
                f"channels) to weigh; name one with layer=... Received: layer=None"
            )
        return nodes[-1], shapes[id(nodes[-1])]
    (chosen,) = _resolve_layers(model, [layer], where)
    nodes = [node for node in model._nodes if node.layer is chosen]
    if len(nodes) != 1 or len(shapes[id(nodes[0])]) != 4:
        what = f"{len(nodes)} calls" if len(nodes) != 1 else f"output shape {shapes[id(nodes[0])]}"
        raise ValueError(
            f"{where}: the layer must be called once in the model and have a 4-D output (batch, height, "
            f"width, channels). Received: layer {chosen.name!r} with {what}"
        )
    return nodes[0], shapes[id(nodes[0])]


def _input_channels_first(model):
    """Whether the model reads its images channels first: the data format of the first layer
    (in graph order) that has one."""
    for node in model._nodes:
        fmt = getattr(node.layer, "data_format", None)
        if fmt is not None:
            return fmt == "channels_first"
    return False


def _channels_first(model, node):
    """Whether ``node``'s output has its channels on axis 1: the data format of the nearest
    layer that has one, from ``node`` back towards the input."""
    stack = [node]
    while stack:
        tensor = stack.pop(0)
        fmt = getattr(tensor.layer, "data_format", None)
        if fmt is not None:
            return fmt == "channels_first"
        stack.extend(tensor.inputs)
    return False


def _layer_and_gradient(model, xb, node, classes, score, where):
    """(A, d score / dA) for ``node``'s output A: the graph run with A watched."""
    with GradientTape(watch_accessed_variables=False) as tape:
        known = {id(model._inputs[0]): xb}
        for n, release in zip(model._nodes, model._release):
            args = [known[id(t)] for t in n.inputs]
            known[id(n)] = n.layer(args[0] if len(args) == 1 else args, training=False)
            if n is node:
                known[id(n)] = watched = tape.watch(np.asarray(known[id(n)]))
            for key in release:
                del known[key]
        target = _score(known[id(model._outputs[0])], score, where)
    (grad,) = tape.gradient(target, [watched], output_gradient=_seed(target, classes))
    return watched.value, grad


def _cam(activations, grads, plus_plus):
    """relu(sum_k w_k A_k) for (N, H, W, K) arrays (module docstring)."""
    if plus_plus:
        g2 = grads**2
        denominator = 2 * g2 + activations.sum(axis=(1, 2), keepdims=True) * g2 * grads
        safe = np.where(denominator != 0, denominator, 1)
        alpha = np.where(denominator != 0, g2 / safe, 0)
        weights = (alpha * np.maximum(grads, 0)).sum(axis=(1, 2))
    else:
        weights = grads.mean(axis=(1, 2))
    return np.maximum(np.einsum("nhwk,nk->nhw", activations, weights), 0)


def grad_cam(model, x, layer=None, class_index=None, plus_plus=False, upsample=False, score="logit"):
    """Grad-CAM (or Grad-CAM++ with ``plus_plus=True``) of ``layer`` for class ``class_index``.

    ``layer``: a name, an index into ``model.layers`` or a layer (default: the last layer with
    a 4-D output). Returns (H', W') at the layer's resolution for one image, (N, H', W') for a
    batch; ``upsample=True`` resizes the maps to the input's (H, W) bilinearly. The maps are
    ReLU'd (>= 0), in the layer's dtype.
    """
    where = "grad_cam"
    _choice(score, SCORES, "score", where)
    xb, single = _batch(model, x, where)
    if xb.ndim != 4:
        raise ValueError(
            f"{where}: expected images, (H, W, C) or a batch (N, H, W, C). Received: x.shape={xb.shape}"
        )
    node, _ = _cam_node(model, layer, where)
    classes = _classes(model, xb, class_index, where)
    activations, grads = _layer_and_gradient(model, xb, node, classes, score, where)
    if _channels_first(model, node):
        activations, grads = np.moveaxis(activations, 1, -1), np.moveaxis(grads, 1, -1)
    cams = _cam(activations, grads, plus_plus)
    if upsample:
        h_axis = 2 if _input_channels_first(model) else 1
        size = xb.shape[h_axis: h_axis + 2]
        cams = np.maximum(resize(cams[..., None], size, interpolation="bilinear")[..., 0], 0)
    return cams[0] if single else cams


# ---- occlusion -----------------------------------------------------------------------------


def _pair(value, name, where):
    items = (value, value) if isinstance(value, numbers.Integral) else value
    if (
        not isinstance(items, (tuple, list)) or len(items) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in items)
    ):
        raise ValueError(
            f"{where}: {name} must be a positive int or a pair of them (height, width). "
            f"Received: {name}={value!r}"
        )
    return int(items[0]), int(items[1])


def _starts(n, w, s, axis, where):
    """Captum's window starts along an axis of n pixels: 0, s, ... up to ceil((n - w) / s) * s."""
    if w > n or (s > w and w < n):
        raise ValueError(
            f"{where}: along the {axis} the window ({w}) must fit the image ({n}) and the stride ({s}) "
            f"must not exceed the window, or pixels between windows are never occluded. "
            f"Received: window {w}, stride {s}"
        )
    return np.arange(-(-(n - w) // s) + 1) * s


def occlusion(model, x, window, stride, baseline=0.0, class_index=None, batch_size=64):
    """The mean drop of the class's output when windows covering each pixel are replaced by
    ``baseline`` (module docstring). ``window``, ``stride``: ints or (height, width) pairs;
    ``baseline``: a number or an array of one image's shape. Returns (H, W) for one image,
    (N, H, W) for a batch."""
    where = "occlusion"
    xb, single = _batch(model, x, where)
    if xb.ndim != 4:
        raise ValueError(
            f"{where}: expected images, (H, W, C) or a batch (N, H, W, C). Received: x.shape={xb.shape}"
        )
    window, stride = _pair(window, "window", where), _pair(stride, "stride", where)
    batch_size = _positive_int(batch_size, "batch_size", where)
    first = _input_channels_first(model)
    images = np.moveaxis(xb, 1, -1) if first else xb  # (N, H, W, C) from here on
    base = np.asarray(baseline, dtype=xb.dtype)
    base = np.moveaxis(base, 0, -1) if first and base.ndim == 3 else base
    if base.shape not in ((), images.shape[1:]) or not np.all(np.isfinite(base)):
        raise ValueError(
            f"{where}: baseline must be a finite number or an array of one image's shape {xb.shape[1:]}. "
            f"Received: baseline of shape {np.shape(baseline)}"
        )
    base = np.broadcast_to(base, images.shape[1:])
    h, w = images.shape[1:3]
    tops = _starts(h, window[0], stride[0], "height", where)
    lefts = _starts(w, window[1], stride[1], "width", where)
    boxes = [(slice(t, t + window[0]), slice(le, le + window[1])) for t in tops for le in lefts]
    predicted = model.predict(xb, batch_size=batch_size, verbose=0)
    classes = _classes(model, xb, class_index, where, predicted=predicted)
    maps = np.zeros((len(xb), h, w), dtype=np.float64)
    for i in range(len(xb)):
        drops = np.empty(len(boxes))
        for start in range(0, len(boxes), batch_size):
            chunk = np.repeat(images[i][None], len(boxes[start: start + batch_size]), axis=0)
            for copy, (rows, cols) in zip(chunk, boxes[start: start + batch_size]):
                copy[rows, cols] = base[rows, cols]
            out = model.predict(
                np.moveaxis(chunk, -1, 1) if first else chunk, batch_size=batch_size, verbose=0
            )
            drops[start: start + len(chunk)] = predicted[i, classes[i]] - out[:, classes[i]]
        total, count = np.zeros((h, w)), np.zeros((h, w))
        for drop, (rows, cols) in zip(drops, boxes):
            total[rows, cols] += drop
            count[rows, cols] += 1
        maps[i] = total / count
    maps = maps.astype(xb.dtype)
    return maps[0] if single else maps


# ---- pictures ------------------------------------------------------------------------------

#: most panels (samples) one attribution figure draws
MAX_PANELS = 64


def _display_image(sample, channels_first):
    """One sample as (H, W) grey or (H, W, 3) RGB, min-max scaled to [0, 1] (a constant: 0.5)."""
    image = np.moveaxis(sample, 0, -1) if channels_first else sample
    image = image.astype(np.float64)
    image = image if image.shape[-1] == 3 else image.mean(axis=-1)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.full_like(image, 0.5)


def _plot_maps(xb, maps, classes, names, signed, alpha, cmap, title, where, model, path):
    """One panel per sample: the image, and ``maps[i]`` over it (module docstring)."""
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not 0 <= alpha <= 1:
        raise ValueError(f"{where}: alpha must be a number in [0, 1]. Received: alpha={alpha!r}")
    alpha = float(alpha)
    Figure = _figure_class(where)
    rows, columns = _grid(len(maps), None)
    fig = Figure(figsize=(2.6 * columns, 2.6 * rows + 0.4), dpi=100, layout="constrained")
    first = _input_channels_first(model)
    for i, (sample, heat) in enumerate(zip(xb, maps)):
        ax = fig.add_subplot(rows, columns, i + 1)
        image = _display_image(sample, first)
        ax.imshow(
            image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest"
        )
        heat = np.asarray(heat, dtype=np.float64)
        if signed:
            limit = float(np.abs(heat).max()) or 1.0
            shown = ax.imshow(heat, cmap=cmap or "RdBu_r", vmin=-limit, vmax=limit, alpha=alpha)
        else:
            shown = ax.imshow(
                heat, cmap=cmap or "inferno", vmin=0.0, vmax=float(heat.max()) or 1.0, alpha=alpha
            )
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
        ax.set_xticks([])
        ax.set_yticks([])
        c = int(classes[i])
        ax.set_title(f"{c}: {names[c]}" if names is not None and c < len(names) else f"class {c}", fontsize=9)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
    return fig


def _plot_inputs(model, x, class_index, class_names, where):
    """(batch, class per sample, class names) for a plot, checked before anything is computed."""
    xb, _ = _batch(model, x, where)
    if len(xb) > MAX_PANELS:
        raise ValueError(f"{where}: at most {MAX_PANELS} samples fit one figure. Received: {len(xb)} samples")
    names = getattr(model, "class_names", None) if class_names is None else list(class_names)
    return xb, _classes(model, xb, class_index, where), names


def plot_saliency(model, x, class_index=None, method="vanilla", reduction=None, alpha=0.6, cmap=None,
                  class_names=None, path=None, **options):
    """:func:`saliency` drawn over each image, reduced by :func:`reduce_channels` (default
    ``"max_abs"`` for vanilla and SmoothGrad on a heat colormap, ``"sum"`` on a diverging one
    for gradient x input and integrated gradients). ``options`` go to :func:`saliency`;
    ``class_names`` (default: the model's ``class_names``) title the panels. Returns a Figure;
    each panel's ``images[1]`` holds its (H, W) map."""
    where = "plot_saliency"
    path = _check_path(path, where)
    _choice(method, METHODS, "method", where)
    reduction = reduction or ("max_abs" if method in ("vanilla", "smoothgrad") else "sum")
    _choice(reduction, REDUCTIONS, "reduction", where)
    xb, classes, names = _plot_inputs(model, x, class_index, class_names, where)
    maps = saliency(model, xb, class_index=classes, method=method, **options)
    fmt = "channels_first" if _input_channels_first(model) else "channels_last"
    heat = reduce_channels(maps, reduction, data_format=fmt)
    title = f"{method.replace('_', ' ')} ({reduction.replace('_', ' ')} over channels)"
    return _plot_maps(xb, heat, classes, names, reduction == "sum", alpha, cmap, title, where, model, path)


def plot_grad_cam(model, x, layer=None, class_index=None, plus_plus=False, alpha=0.5, cmap=None,
                  class_names=None, path=None):
    """:func:`grad_cam` upsampled to the input and drawn over each image on a heat colormap.
    Returns a Figure; each panel's ``images[1]`` holds its (H, W) map."""
    where = "plot_grad_cam"
    path = _check_path(path, where)
    xb, classes, names = _plot_inputs(model, x, class_index, class_names, where)
    maps = grad_cam(model, xb, layer=layer, class_index=classes, plus_plus=plus_plus, upsample=True)
    node, shape = _cam_node(model, layer, where)
    title = f"Grad-CAM{'++' if plus_plus else ''} of {node.layer.name} {tuple(shape[1:])}"
    return _plot_maps(xb, maps, classes, names, False, alpha, cmap, title, where, model, path)


def plot_occlusion(model, x, window, stride, baseline=0.0, class_index=None, alpha=0.6, cmap=None,
                   class_names=None, path=None):
    """:func:`occlusion` drawn over each image on a diverging colormap (red: occluding there
    lowers the class's output). Returns a Figure; each panel's ``images[1]`` holds its map."""
    where = "plot_occlusion"
    path = _check_path(path, where)
    xb, classes, names = _plot_inputs(model, x, class_index, class_names, where)
    maps = occlusion(model, xb, window, stride, baseline=baseline, class_index=classes)
    title = f"occlusion: drop in the output, window {_pair(window, 'window', where)}"
    return _plot_maps(xb, maps, classes, names, True, alpha, cmap, title, where, model, path)
