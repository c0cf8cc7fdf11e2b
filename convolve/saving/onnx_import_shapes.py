"""ONNX import, part 6: operators that move values without arithmetic, on computed tensors:
Transpose (Permute), Slice (Cropping) and Resize (UpSampling, Resizing). On constants these
operators are folded (``onnx_import_fold.py``); here they read the model's tensors.

A channels_last graph (convolve's own export of a channels_last model, TensorFlow's) holds its
tensors (batch, *spatial, channels) and moves them to channels first with a Transpose before
each convolution, and back before a Flatten or an output. A Transpose that keeps the batch axis
first is a :class:`Permuted` value, not yet a layer, and ``source_config`` decides what the next
layer does with it (``GraphBuilder.make`` asks):

* a layer with ``data_format`` reads the untransposed tensor in the other data format when the
  Transpose only moved the channels (``Transpose([0, 3, 1, 2])`` then a channels_first Conv is
  the channels_last Conv); its output is again the same Transpose of what it computes, so a
  stack of convolutions, pooling, normalisation and activations stays channels_last and the
  Transpose back cancels: convolve's own channels_last export comes back as the channels_last
  layers it was made of;
* elementwise layers (activations, Dropout, Rescaling, the merging layers) and those with an
  axis (BatchNormalization, Softmax, Concatenate) read the untransposed tensor in any order,
  their constants and axes moved to match;
* two Transposes in a row are one, and none at all when they cancel;
* for anything else (Dense, Reshape, a Transpose that mixes the spatial axes...), and for a
  graph output, the Transpose becomes a ``Permute`` layer.

Slice and Resize act on the spatial
axes of whichever layout their input is in: the axes they change decide it (axes 2.. of
(batch, channels, *spatial): channels_first; axes 1..rank-2: channels_last; where both fit, the
layout the layers before gave the tensor, or for a graph input the one whose channel axis is the
shorter), and anything that changes the batch axis, or both axis 1 and the last axis, is refused.
"""
from __future__ import annotations

import math

import numpy as np

from .. import layers as L
from .onnx_import_fold import Dim
from .onnx_import_layers import CF, _layer, choose_layout
from .onnx_import_tensors import Attributes, OnnxFileError, Permuted, moved_first, moved_last

#: operators mapped to layers here (each is folded instead when every input is a constant)
MAPPED = ("Transpose", "Slice", "Resize")
#: an end at or beyond this slices to the end of an axis whose size is known only at run time
#: (exporters write INT32_MAX or INT64_MAX for "to the end"; no axis holds 2**31 values)
TO_THE_END = 2**31 - 1
_RESIZE_ATTRS = (
    "mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
    "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy",
)
#: (coordinate_transformation_mode, nearest_mode) pairs whose nearest neighbour of output i is
#: input floor(i / r) for every whole-number scale r: asymmetric i / r floored, and half-pixel
#: (i + 0.5) / r - 0.5, which lies strictly inside (floor(i / r) - 0.5, floor(i / r) + 0.5)
_NEAREST_AS_REPEAT = {
    ("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
    ("pytorch_half_pixel", "round_prefer_floor"), ("pytorch_half_pixel", "round_prefer_ceil"),
}


def spatial_layout(axes, x, label, what) -> str:
    """The data_format whose spatial axes hold ``axes`` (the axes an operator changes) of ``x``
    (``onnx_import_layers.choose_layout``), or an error saying why there is none."""
    ndim = x.ndim
    if not 3 <= ndim <= 5:
        raise OnnxFileError(
            f"{label}: convolve's {what} layers take (batch, channels, *spatial) or (batch, *spatial, "
            f"channels) with 1 to 3 spatial axes. Received: input of rank {ndim}"
        )
    layout = choose_layout(axes, x)
    if layout is not None:
        return layout
    raise OnnxFileError(
        f"{label}: convolve's {what} layers change only the spatial axes of (batch, channels, *spatial) "
        f"or (batch, *spatial, channels): never the batch axis, and not axis 1 together with the last "
        f"axis. Received: it changes axes {sorted(axes)} of a rank-{ndim} input"
    )


def _spatial_axes(ndim, data_format) -> range:
    return range(2, ndim) if data_format == CF else range(1, ndim - 1)


#: layers that compute each value from the same position alone: any axis order works
_ELEMENTWISE = (L.ReLU, L.Activation, L.LeakyReLU, L.Dropout, L.Add, L.Subtract, L.Multiply, L.Average,
                L.Maximum, L.Minimum)
#: layers whose output is in their input's layout (their ``layout`` carries over)
KEEPS_LAYOUT = (*_ELEMENTWISE, L.Rescaling, L.BatchNormalization, L.Softmax, L.Concatenate)


def source_config(cls, inputs, config):
    """The config of a ``cls`` layer that, called on the sources of ``inputs`` (Permuted values
    with one perm), computes the same transposed by that perm; None when there is none (the
    inputs then become Permute layers)."""
    if not all(isinstance(v, Permuted) for v in inputs) or len({v.perm for v in inputs}) != 1:
        return None
    perm = inputs[0].perm
    ndim = len(perm)
    inverse = tuple(int(a) for a in np.argsort(perm))
    if cls in _ELEMENTWISE:
        return dict(config)
    if cls is L.Rescaling:  # constants broadcast against the transposed tensor: move their axes back
        def moved(value):
            value = np.asarray(value, dtype=np.float64)
            value = np.transpose(value.reshape((1,) * (ndim - value.ndim) + value.shape), inverse)
            return float(value.ravel()[0]) if value.size == 1 else value[(0,) * _leading_ones(value)]

        return {**config, "scale": moved(config["scale"]), "offset": moved(config.get("offset", 0.0))}
    if cls in (L.BatchNormalization, L.Concatenate):
        return {**config, "axis": perm[config["axis"] % ndim]}
    if cls is L.Softmax:
        axis = config.get("axis", -1)
        axes = tuple(perm[a % ndim] for a in (axis if isinstance(axis, tuple) else (axis,)))
        return {**config, "axis": axes if isinstance(axis, tuple) else axes[0]}
    data_format = config.get("data_format")
    if data_format == CF and perm == moved_first(ndim):
        return {**config, "data_format": "channels_last"}
    if data_format == "channels_last" and perm == moved_last(ndim):
        return {**config, "data_format": CF}
    return None


def _leading_ones(value) -> int:
    return next((i for i, d in enumerate(value.shape) if d != 1), value.ndim)


class ShapeMappings:
    """``_map_<Op>`` for the operators in MAPPED; mixed into ``onnx_import_graph.GraphBuilder``
    beside ``onnx_import_layers.LayerMappings`` (whose input checks they use)."""

    def _const_ints(self, value, label, what):
        """A 1-D integer constant as a tuple of ints (None for an absent input)."""
        if value is None:
            return None
        array = self.const(value, label, what)
        if array.dtype.kind not in "iu" or array.ndim != 1:
            raise OnnxFileError(
                f"{label}: {what} must be a 1-D integer constant. Received: {array.dtype} of shape "
                f"{array.shape}"
            )
        return tuple(int(v) for v in array)

    def _distinct_axes(self, axes, ndim, label, count, what="axes") -> tuple:
        """``axes`` (default 0..count-1) as ``count`` non-negative, distinct axes of a rank-``ndim``
        tensor."""
        axes = tuple(range(count)) if axes is None else axes
        if len(axes) != count or any(not -ndim <= a < ndim for a in axes) \
                or len({a % ndim for a in axes}) != len(axes):
            raise OnnxFileError(
                f"{label}: {what} must name {count} distinct axes of the rank-{ndim} input. "
                f"Received: {what}={list(axes)}"
            )
        return tuple(a % ndim for a in axes)

    # ---- Transpose -------------------------------------------------------------------------------
    def _map_Transpose(self, node, label, inputs):
        x = self.sym(inputs[0], label)
        perm = Attributes(node, label, ("perm",)).integers("perm", tuple(reversed(range(x.ndim))))
        if sorted(perm) != list(range(x.ndim)) or perm[0] != 0:
            raise OnnxFileError(
                f"{label}: convolve imports Transpose of a computed tensor as Permute, which keeps the "
                f"batch axis first: perm must order the axes 0..{x.ndim - 1} with 0 first. "
                f"Received: perm={list(perm)} for input of shape {x.shape}"
            )
        return [self.permuted(x, perm, node, label)]

    def permuted(self, x, perm, node, label):
        """``x`` with its axes in ``perm`` order: a Permuted value (of x's source when x is one
        already), or x's source itself when the orders cancel."""
        source = x.source if isinstance(x, Permuted) else x
        if isinstance(x, Permuted):
            perm = tuple(x.perm[p] for p in perm)
        if tuple(perm) == tuple(range(len(perm))):
            return source
        return Permuted(source, perm, node, label)

    # ---- Slice -----------------------------------------------------------------------------------
    def _map_Slice(self, node, label, inputs):
        x = self.sym(inputs[0], label)
        if self.opset < 10:
            attrs = Attributes(node, label, ("starts", "ends", "axes"))
            starts, ends, axes = (attrs.integers(n) for n in ("starts", "ends", "axes"))
            steps = None
        else:
            Attributes(node, label)
            starts, ends, axes, steps = (
                self._const_ints(inputs[i] if i < len(inputs) else None, label, what)
                for i, what in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps"))
            )
        if starts is None or ends is None or len(starts) != len(ends):
            raise OnnxFileError(
                f"{label}: starts and ends must hold one value per axis. Received: starts={starts}, "
                f"ends={ends}"
            )
        axes = self._distinct_axes(axes, x.ndim, label, len(starts))
        if steps is not None and any(s != 1 for s in steps):
            raise OnnxFileError(
                f"{label}: convolve imports Slice of a computed tensor as cropping, with steps of 1. "
                f"Received: steps={list(steps)}"
            )
        pairs = {}
        for axis, start, end in zip(axes, starts, ends):
            size = x.shape[axis] if axis else self.static_batch  # the graph's batch size, when it has one
            pair = self._crop_pair(size, start, end, axis, label)
            if pair != (0, 0):
                pairs[axis] = pair
        if not pairs:
            return [x]
        data_format = spatial_layout(pairs, x, label, "cropping")
        cropping = tuple(pairs.get(a, (0, 0)) for a in _spatial_axes(x.ndim, data_format))
        return [self.make(node, label, _layer("crop", x.ndim - 2), x, cropping=cropping,
                          data_format=data_format, nonneg=x.nonneg)]

    @staticmethod
    def _crop_pair(size, start, end, axis, label) -> tuple:
        """(cells cropped before, after) on an axis of ``size`` (None: known only at run time)."""
        if size is None:
            if start < 0 or 0 <= end < TO_THE_END:
                raise OnnxFileError(
                    f"{label}: slicing axis {axis} from {start} to {end} crops an amount that depends on its "
                    f"size, which is known only when the model runs. Received: starts {start}, ends {end} "
                    "on an axis of unknown size"
                )
            return start, 0 if end >= 0 else -end
        start = min(max(start + size if start < 0 else start, 0), size)
        end = min(max(end + size if end < 0 else end, 0), size)
        return start, size - max(end, start)

    # ---- Resize ----------------------------------------------------------------------------------
    def _map_Resize(self, node, label, inputs):
        attrs = Attributes(node, label, _RESIZE_ATTRS)
        x = self.sym(inputs[0], label)
        if self.opset < 11:
            raise OnnxFileError(
                f"{label}: convolve imports Resize from opset 11 on (with coordinate_transformation_mode). "
                f"Received: opset {self.opset}"
            )
        mode = attrs.text("mode", "nearest")
        transform = attrs.text("coordinate_transformation_mode", "half_pixel")
        policy = attrs.text("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            raise OnnxFileError(
                f"{label}: convolve imports Resize with keep_aspect_ratio_policy='stretch'. "
                f"Received: keep_aspect_ratio_policy={policy!r}"
            )
        targets = self._resize_targets(x, inputs, attrs, label)
        changed = {a for a, (_, out) in targets.items() if out != x.shape[a]}
        if not changed:
            return [x]
        if mode == "nearest":
            rounding = attrs.text("nearest_mode", "round_prefer_floor")
            if (transform, rounding) not in _NEAREST_AS_REPEAT:
                raise OnnxFileError(
                    f"{label}: convolve imports nearest Resize as UpSampling (output i reads input "
                    f"floor(i / scale)), which these settings do not compute for every scale: it needs "
                    f"coordinate_transformation_mode 'asymmetric' with nearest_mode 'floor', or 'half_pixel' "
                    f"with 'round_prefer_floor' or 'round_prefer_ceil'. Received: "
                    f"coordinate_transformation_mode={transform!r}, nearest_mode={rounding!r}"
                )
            return [self._upsampling(node, label, x, targets, changed)]
        antialias = attrs.integer("antialias", 0)
        if mode != "linear" or transform != "half_pixel" or antialias or x.ndim != 4:
            raise OnnxFileError(
                f"{label}: convolve imports Resize as UpSampling (mode 'nearest', whole-number scales) or "
                "as Resizing (mode 'linear', coordinate_transformation_mode 'half_pixel', no antialias, "
                f"images of rank 4). Received: mode={mode!r}, coordinate_transformation_mode={transform!r}, "
                f"antialias={antialias}, input of rank {x.ndim}"
            )
        data_format = spatial_layout(changed, x, label, "resizing")
        height, width = (targets.get(a, (None, x.shape[a]))[1] for a in _spatial_axes(4, data_format))
        if height is None or width is None:
            raise OnnxFileError(
                f"{label}: convolve's Resizing needs the image's height and width known. "
                f"Received: input of shape {x.shape}"
            )
        return [self.make(node, label, L.Resizing, x, height=height, width=width, interpolation="bilinear",
                          data_format=data_format)]

    def _resize_targets(self, x, inputs, attrs, label) -> dict:
        """{axis: (scale or None, output size or None)} for the axes Resize's scales or sizes name;
        every changed size must be known, and a given scale must be out / in exactly (ONNX maps
        coordinates with the scale it is given, convolve with out / in)."""
        scales = inputs[2] if len(inputs) > 2 else None
        sizes = inputs[3] if len(inputs) > 3 else None
        scales = None if scales is None or (isinstance(scales, np.ndarray) and scales.size == 0) else scales
        if (scales is None) == (sizes is None):
            raise OnnxFileError(
                f"{label}: Resize needs exactly one of scales and sizes. Received: "
                f"{'both' if scales is not None else 'neither'}"
            )
        axes = attrs.integers("axes")
        targets = {}
        if scales is not None:
            scales = self.const(scales, label, "scales")
            if scales.dtype.kind != "f" or scales.ndim != 1:
                raise OnnxFileError(
                    f"{label}: scales must be a 1-D float constant. Received: {scales.dtype} of shape "
                    f"{scales.shape}"
                )
            axes = self._resize_axes(axes, x.ndim, label, len(scales), "scales")
            for axis, scale in zip(axes, scales.tolist()):
                size = x.shape[axis]
                out = None if size is None else math.floor(size * scale)
                if scale == 1:
                    out = size
                elif size is None or not scale > 0 or out != size * scale:
                    raise OnnxFileError(
                        f"{label}: convolve imports a Resize scale only where the input size is known and "
                        f"size * scale is a whole number. Received: scale {scale} on axis {axis} of size "
                        f"{size}"
                    )
                targets[axis] = (scale, out)
            return targets
        if not isinstance(sizes, np.ndarray) or sizes.ndim != 1:
            got = f"shape {sizes.shape}" if isinstance(sizes, np.ndarray) else "a computed tensor"
            raise OnnxFileError(f"{label}: sizes must be a 1-D constant (or folded shape). Received: {got}")
        axes = self._resize_axes(axes, x.ndim, label, len(sizes), "sizes")
        for axis, out in zip(axes, sizes.tolist()):
            size = x.shape[axis]
            if isinstance(out, Dim):
                if axis != 0:
                    raise OnnxFileError(
                        f"{label}: sizes must be known numbers on every axis but the batch axis. "
                        f"Received: {out!r} for axis {axis}"
                    )
                continue  # the batch size as it comes
            if not isinstance(out, (int, np.integer)):
                raise OnnxFileError(f"{label}: sizes must be integers. Received: {out!r} for axis {axis}")
            if size is None and axis != 0:
                raise OnnxFileError(
                    f"{label}: convolve needs the input's size on every axis Resize sets. Received: axis "
                    f"{axis} of input shape {x.shape} is known only when the model runs"
                )
            if axis == 0:
                if self.static_batch is None or int(out) != self.static_batch:
                    raise OnnxFileError(
                        f"{label}: convolve keeps the batch axis as it comes, so sizes[0] must be the "
                        f"batch size. Received: {int(out)} for a graph whose batch size is "
                        f"{self.static_batch or 'known only when the model runs'}"
                    )
                continue
            if int(out) == size:
                continue
            targets[axis] = (None if size is None else int(out) / size, int(out))
        return targets

    def _resize_axes(self, axes, ndim, label, count, what) -> tuple:
        """The axes Resize's ``count`` scales or sizes are for: every axis, or the ``axes`` attribute's."""
        if axes is None:
            if count != ndim:
                raise OnnxFileError(
                    f"{label}: {what} must hold one value per axis of the rank-{ndim} input (or per axis of "
                    f"the axes attribute). Received: {count} values"
                )
            return tuple(range(ndim))
        return self._distinct_axes(axes, ndim, label, count)

    def _upsampling(self, node, label, x, targets, changed):
        """UpSampling for whole-number factors; a channels_first 1-D input is transposed to
        channels last and back around it (UpSampling1D is channels_last only, as in Keras)."""
        factors = {}
        for axis in changed:
            size, out = x.shape[axis], targets[axis][1]
            if size is None or out is None or out < size or out % size:
                raise OnnxFileError(
                    f"{label}: convolve imports nearest Resize as UpSampling, which repeats each cell a "
                    f"whole number of times. Received: axis {axis} from {size} to {out}"
                )
            factors[axis] = out // size
        data_format = spatial_layout(changed, x, label, "upsampling")
        n = x.ndim - 2
        size = tuple(factors.get(a, 1) for a in _spatial_axes(x.ndim, data_format))
        if n == 1:
            if data_format == CF:
                x = self.permuted(x, (0, 2, 1), node, label)
            y = self.make(node, label, L.UpSampling1D, x, size=size, nonneg=x.nonneg)
            return self.permuted(y, (0, 2, 1), node, label) if data_format == CF else y
        return self.make(node, label, _layer("upsample", n), x, size=size, data_format=data_format,
                         nonneg=x.nonneg)
