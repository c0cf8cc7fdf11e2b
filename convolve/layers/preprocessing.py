"""Preprocessing layers, with Keras 3's names, arguments and defaults, applied in training and
inference alike:

    Rescaling(scale, offset=0.0)                               x * scale + offset
    Normalization(axis=-1, mean=None, variance=None, invert=False), adapt(data)
    Resizing(height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
             fill_mode="constant", fill_value=0.0, antialias=False)
    CenterCrop(height, width)

The augmentation layers (RandomFlip, RandomRotation, ...) are in ``augmentation.py``.
Images are (N, H, W, C) or one image (H, W, C), channels_first with ``data_format``. All four
record their exact gradient, so they may sit after trainable layers.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import autograd
from ..autograd import Tensor
from ..ops import image as image_ops
from ..ops.args import check_choice as _choice
from ..ops.args import standardize_data_format
from ..ops.shapes import POINTWISE
from .base import Layer, format_shape
from .conv import _positive_int
from .core import _check_number, _is_int

#: Keras' epsilon: Normalization divides by max(sqrt(variance), EPSILON)
EPSILON = 1e-7


class _ImageLayer(Layer):
    """Shared by the image layers: ``data_format``, rank 3 (one image) or 4 (a batch)."""

    min_ndim = 3

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, self.where)

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        if len(tuple(shape)) not in (3, 4):
            layout = (
                "height, width, channels"
                if self.data_format == "channels_last"
                else "channels, height, width"
            )
            raise ValueError(
                f"Input of layer {self.where} is incompatible with the layer: expected a batch of images "
                f"(batch, {layout}) or one image ({layout}), rank 4 or 3. "
                f"Full shape received: {format_shape(shape)}"
            )

    def _size(self, shape):
        h_axis, w_axis = image_ops.image_axes(len(shape), self.data_format)
        return shape[h_axis], shape[w_axis]

    def _resized_shape(self, input_shape, height, width):
        self.check_input_shape(input_shape)
        shape = list(input_shape)
        h_axis, w_axis = image_ops.image_axes(len(shape), self.data_format)
        shape[h_axis], shape[w_axis] = height, width
        return tuple(shape)

    def _record(self, y, inputs, backward, op):
        """``y`` recorded as a function of ``inputs`` when they are being recorded."""
        return autograd.record(y, (inputs,), lambda g, needs: (backward(g),), op)

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format)
        return config


# ---- preprocessing -------------------------------------------------------------------------------


class Rescaling(Layer):
    """x * scale + offset, in training and inference (``scale=1/255`` maps [0, 255] to [0, 1];
    ``scale=1/127.5, offset=-1`` to [-1, 1]). ``scale`` and ``offset`` are numbers, or arrays
    that broadcast against the input (e.g. one value per channel, channels last)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._number_or_array(scale, "scale")
        self.offset = self._number_or_array(offset, "offset")

    def _number_or_array(self, value, name):
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            return _check_number(value, name, self.where)
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.ndim == 0 or array.size == 0 or not np.all(np.isfinite(array)):
            raise ValueError(
                f"{self.where}: the `{name}` argument must be a finite number or a non-empty array of finite "
                f"numbers. Received: {name}={value!r}"
            )
        return array

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        try:
            out = np.broadcast_shapes(
                *(np.shape(v) for v in (self.scale, self.offset)), tuple(1 if d is None else d for d in shape)
            )
        except ValueError:
            out = None
        if (
            out is None
            or len(out) != len(tuple(shape))
            or any(d is not None and o != d for o, d in zip(out, tuple(shape)))
        ):
            raise ValueError(
                f"{self.where}: `scale` (shape {np.shape(self.scale)}) and `offset` "
                f"(shape {np.shape(self.offset)}) "
                f"must broadcast against the input without changing its shape. "
                f"Received: input of shape {format_shape(shape)}"
            )

    def call(self, inputs, training=False):
        x = autograd.value(inputs)
        scale = np.asarray(self.scale, dtype=x.dtype)
        y = x * scale + np.asarray(self.offset, dtype=x.dtype)
        return autograd.record(y, (inputs,), lambda g, needs: (g * scale,), "rescaling")

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        for key in ("scale", "offset"):
            value = getattr(self, key)
            config[key] = value.tolist() if isinstance(value, np.ndarray) else value
        return config


class Normalization(Layer):
    """(x - mean) / sqrt(variance) per index of ``axis`` (Keras' Normalization).

    ``axis``: the axis or axes that keep their own mean and variance (default -1, the
    features or channels); None: one mean and variance for everything. Give ``mean`` and
    ``variance`` together, or learn them with :meth:`adapt`; then they are the layer's
    non-trainable weights ``mean``, ``variance`` and ``count`` (values seen per statistic),
    saved with the model. ``invert=True`` maps normalised values back: x * sqrt(variance) + mean.
    The divisor is max(sqrt(variance), 1e-7), as in Keras.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axes = ()
        elif _is_int(axis):
            axes = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(_is_int(a) for a in axis):
            axes = tuple(int(a) for a in axis)
        else:
            raise ValueError(
                f"{self.where}: the `axis` argument must be an int, a tuple of ints or None. "
                f"Received: axis={axis!r}"
            )
        self.axis = axes
        if (mean is None) != (variance is None):
            raise ValueError(
                f"{self.where}: give both `mean` and `variance`, or neither (then call adapt()). "
                f"Received: mean={mean!r}, variance={variance!r}"
            )
        if mean is not None:
            arrays = []
            for name, value in (("mean", mean), ("variance", variance)):
                try:
                    arrays.append(np.asarray(value, dtype=np.float64))
                except (TypeError, ValueError):
                    arrays.append(np.array([np.nan]))
                if not np.all(np.isfinite(arrays[-1])):
                    raise ValueError(
                        f"{self.where}: `{name}` must be a number or an array of finite numbers. "
                        f"Received: {name}={value!r}"
                    )
            if arrays[0].shape != arrays[1].shape or arrays[0].ndim > len(axes):
                raise ValueError(
                    f"{self.where}: `mean` and `variance` must have the same shape, of rank at most "
                    "the number of "
                    f"axes ({len(axes)}). Received: mean shape {arrays[0].shape}, variance shape "
                    f"{arrays[1].shape}, axis={axis!r}"
                )
            mean, variance = arrays
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._keep = self._broadcast_shape = None

    # ---- shapes ----
    def _keep_axes(self, shape):
        ndim = len(shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(
                f"{self.where}: every `axis` must be in [-{ndim}, {ndim}) for input of rank {ndim}. "
                f"Received: axis={self.axis}, input shape {format_shape(shape)}"
            )
        keep = tuple(sorted({a % ndim for a in self.axis}))
        unknown = [a for a in keep if shape[a] is None]
        if unknown:
            raise ValueError(
                f"{self.where}: the kept axes must have a known size. "
                f"Received: axis={self.axis}, input shape "
                f"{format_shape(shape)} (axis {unknown[0]} unknown)"
            )
        return keep

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        shape = tuple(shape)
        if self._keep is None:
            self._keep_axes(shape)
            return
        if len(shape) != len(self._broadcast_shape) or any(
            shape[a] is not None and shape[a] != self._broadcast_shape[a] for a in self._keep
        ):
            raise ValueError(
                f"{self.where}: the layer was built for inputs of shape "
                f"{format_shape(self._built_input_shape)} "
                f"(statistics over axes {self._keep}). Received: input of shape {format_shape(shape)}"
            )

    def build(self, input_shape):
        shape = tuple(input_shape)
        self._keep = self._keep_axes(shape)
        self._broadcast_shape = tuple(shape[a] if a in self._keep else 1 for a in range(len(shape)))
        stat_shape = tuple(shape[a] for a in self._keep)
        if self.input_mean is None:
            self.mean = self.add_weight("mean", stat_shape, "zeros", trainable=False)
            self.variance = self.add_weight("variance", stat_shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)
            return
        stats = []
        for value in (self.input_mean, self.input_variance):  # right-aligned to the kept axes
            aligned = [1] * len(shape)
            for i in range(1, value.ndim + 1):
                aligned[self._keep[-i]] = value.shape[-i]
            try:
                stats.append(
                    np.broadcast_to(value.reshape(aligned), self._broadcast_shape).astype(self.dtype)
                )
            except ValueError:
                raise ValueError(
                    f"{self.where}: `mean` and `variance` of shape {value.shape} do not broadcast to "
                    "the kept axes "
                    f"{stat_shape}. Received: input shape {format_shape(shape)}, axis={self.axis}"
                ) from None
        self._fixed_mean, self._fixed_variance = stats

    def _stats(self):
        if self.input_mean is not None:
            return self._fixed_mean, self._fixed_variance
        return (
            self.mean.value.reshape(self._broadcast_shape),
            self.variance.value.reshape(self._broadcast_shape),
        )

    # ---- adapt ----
    def adapt(self, data, batch_size=None, steps=None):
        """Compute the mean and variance of ``data``: an array, or batches from a
        ``convolve.data`` dataset, a ``PyDataset``, a generator or any iterable yielding x or
        (x, y, ...) (the first element is taken). Arrays go through in batches of
        ``batch_size`` rows (default: a few million values at a time); ``steps`` stops after that
        many batches. Float64 throughout, batches combined with Chan et al.'s pairwise formula."""
        if batch_size is not None:
            batch_size = _positive_int(batch_size, "batch_size", self.where)
        if steps is not None:
            steps = _positive_int(steps, "steps", self.where)
        if self.input_mean is not None:
            raise ValueError(
                f"{self.where}: adapt() cannot change a mean and variance given to the constructor. "
                "Received: a layer made with mean= and variance="
            )
        total, mean, m2 = 0, None, None
        for x in self._batches(data, batch_size, steps):
            if not self.built:
                self.check_input_shape(x.shape)
                self.build(x.shape)
            self.check_input_shape(x.shape)
            reduce = tuple(a for a in range(x.ndim) if a not in self._keep)
            n = math.prod(x.shape[a] for a in reduce)
            if n == 0:
                continue
            b_mean = x.mean(axis=reduce)
            b_m2 = np.square(x - x.mean(axis=reduce, keepdims=True)).sum(axis=reduce)
            if mean is None:
                total, mean, m2 = n, b_mean, b_m2
                continue
            delta = b_mean - mean
            combined = total + n
            mean = mean + delta * (n / combined)
            m2 = m2 + b_m2 + np.square(delta) * (total * n / combined)
            total = combined
        if mean is None:
            raise ValueError(f"{self.where}: adapt() received no values. Received: {_describe(data)}")
        self.mean.assign(mean, where=self.where)
        self.variance.assign(m2 / total, where=self.where)
        self.count.assign(np.asarray(total, dtype=np.float64), where=self.where)

    def _batches(self, data, batch_size, steps):
        """float64 batches of ``data`` (module docstring of adapt)."""
        where = f"{self.where}.adapt"
        if isinstance(data, (np.ndarray, Tensor)) or (
            hasattr(data, "__array__") and not hasattr(data, "__iter__")
        ):
            x = self._array(autograd.value(data), where)
            rows = batch_size or (32 if steps else max(1, (1 << 22) // max(1, math.prod(x.shape[1:]))))
            if 0 in (self._keep if self.built else self._keep_axes(x.shape)):
                rows = max(len(x), 1)  # statistics per sample index: one batch of everything
            starts = range(0, max(len(x), 1), rows)
            for k, start in enumerate(starts):
                if steps is not None and k >= steps:
                    return
                yield x[start : start + rows].astype(np.float64)
            return
        if batch_size is not None:
            raise ValueError(
                f"{where}: `batch_size` is for arrays; {_describe(data)} comes in batches already. "
                f"Received: batch_size={batch_size}"
            )
        if hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            items = iter(data)  # a convolve.data.Dataset, a generator, a list of batches
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
            items = (data[i] for i in range(len(data)))  # a PyDataset
        else:
            raise TypeError(
                f"{where}: expected an array, a dataset, a PyDataset or an iterable of batches. "
                f"Received: {_describe(data)}"
            )
        for k, item in enumerate(items):
            if steps is not None and k >= steps:
                return
            yield self._array(item[0] if isinstance(item, (tuple, list)) else item, where)

    def _array(self, x, where):
        try:
            x = np.asarray(autograd.value(x))
        except (TypeError, ValueError):
            x = np.asarray(None)
        if x.dtype.kind not in "biuf" or x.ndim == 0:
            raise TypeError(
                f"{where}: each batch must be a numeric array with a batch axis. "
                f"Received: {'a scalar' if x.ndim == 0 else 'an array'} of dtype {x.dtype}"
            )
        return x.astype(np.float64, copy=False)

    # ---- call ----
    def call(self, inputs, training=False):
        x = autograd.value(inputs)
        mean, variance = self._stats()
        scale = np.maximum(np.sqrt(variance), EPSILON).astype(x.dtype)
        mean = mean.astype(x.dtype)
        if self.invert:
            y = mean + x * scale
            return autograd.record(y, (inputs,), lambda g, needs: (g * scale,), "normalization")
        y = (x - mean) / scale
        return autograd.record(y, (inputs,), lambda g, needs: (g / scale,), "normalization")

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=list(self.axis),
            invert=self.invert,
            mean=None if self.input_mean is None else self.input_mean.tolist(),
            variance=None if self.input_variance is None else self.input_variance.tolist(),
        )
        return config


def _describe(data):
    shape = f" of shape {np.shape(data)}" if isinstance(data, np.ndarray) else ""
    return f"data of type {type(data).__name__}{shape}"


class Resizing(_ImageLayer):
    """Resize images to (height, width), in training and inference (``ops.image.resize``:
    half-pixel centres; bilinear equals PyTorch's ``align_corners=False``). ``interpolation``:
    "bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"; ``crop_to_aspect_ratio`` crops the
    largest centred window of the target's aspect ratio first, ``pad_to_aspect_ratio`` pads
    the short side with ``fill_value`` instead (``fill_mode`` "constant" only). Its gradient is
    the exact adjoint."""

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        self.height = _positive_int(height, "height", self.where)
        self.width = _positive_int(width, "width", self.where)
        self.interpolation = _choice(
            interpolation, tuple(image_ops.RESIZE_INTERPOLATIONS), "interpolation", self.where
        )
        self.fill_mode = _choice(fill_mode, ("constant",), "fill_mode", self.where)
        self.fill_value = _check_number(fill_value, "fill_value", self.where)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.antialias = bool(antialias)
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError(
                f"{self.where}: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
                "Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True"
            )

    def compute_output_shape(self, input_shape):
        return self._resized_shape(input_shape, self.height, self.width)

    def call(self, inputs, training=False):
        x = autograd.value(inputs)
        options = dict(
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            data_format=self.data_format,
        )
        y = image_ops.resize(
            x, (self.height, self.width), fill_value=self.fill_value, where=self.where, **options
        )
        return self._record(
            y,
            inputs,
            lambda g: image_ops.resize_backward(g, x.shape, (self.height, self.width), **options),
            "resize",
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            height=self.height,
            width=self.width,
            interpolation=self.interpolation,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            antialias=self.antialias,
        )
        return config


def _center_crop(layer, inputs, height, width):
    """Keras' CenterCrop: the centred height x width window, or, when the images are smaller on
    an axis, the largest centred window of that aspect ratio resized (bilinear) to the size."""
    x = autograd.value(inputs)
    h, w = layer._size(x.shape)
    if h >= height and w >= width:
        top, left = (h - height) // 2, (w - width) // 2
        y = image_ops.crop_images(x, top, left, height, width, layer.data_format, where=layer.where)
        return layer._record(
            y,
            inputs,
            lambda g: image_ops.crop_images_backward(g, x.shape, top, left, layer.data_format),
            "crop",
        )
    options = dict(crop_to_aspect_ratio=True, data_format=layer.data_format)
    y = image_ops.resize(x, (height, width), where=layer.where, **options)
    return layer._record(
        y, inputs, lambda g: image_ops.resize_backward(g, x.shape, (height, width), **options), "resize"
    )


class CenterCrop(_ImageLayer):
    """The central height x width window of each image, in training and inference; images
    smaller than that on an axis are cropped to the target's aspect ratio and resized."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height = _positive_int(height, "height", self.where)
        self.width = _positive_int(width, "width", self.where)

    def compute_output_shape(self, input_shape):
        return self._resized_shape(input_shape, self.height, self.width)

    def call(self, inputs, training=False):
        return _center_crop(self, inputs, self.height, self.width)

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width)
        return config
