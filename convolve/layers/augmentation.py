"""Augmentation layers, with Keras 3's names, arguments and defaults: the identity at inference
(``training=False``, the default call) except RandomCrop, which then centre-crops as CenterCrop
does; with ``training=True`` (``fit`` passes it) each image gets its own random parameters:

    RandomFlip(mode="horizontal_and_vertical")          left-right and/or up-down, a coin each
    RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", fill_value=0.0)
    RandomZoom(height_factor, width_factor=None, fill_mode="reflect", ...)
    RandomTranslation(height_factor, width_factor, fill_mode="reflect", ...)
    RandomCrop(height, width)                            one random window per batch, as Keras
    RandomContrast(factor, value_range=(0, 255))
    RandomBrightness(factor, value_range=(0, 255))

Images are (N, H, W, C) or one image (H, W, C), channels_first with ``data_format``. Every
layer takes ``seed``: with one it draws from its own generator (saved with the model file, so
training resumes the same sequence), without one from the global generator that
``convolve.utils.set_random_seed`` fixes, as Dropout does.

**Gradients.** RandomFlip, RandomCrop, RandomContrast and RandomBrightness record their exact
gradient. RandomRotation, RandomZoom and RandomTranslation resample through SciPy's ndimage and
have none: in training they refuse an input that needs a gradient. Put augmentation first, on
the input images, where it belongs.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import autograd
from ..autograd import Tensor
from ..ops import image as image_ops
from ..ops.args import check_choice as _choice
from ..ops.shapes import POINTWISE
from ..random import generator
from .base import format_shape
from .conv import _positive_int
from .core import _check_number, _is_int
from .preprocessing import _center_crop, _ImageLayer


def _seed(seed, where):
    if seed is not None and not (_is_int(seed) and seed >= 0):
        raise ValueError(
            f"{where}: the `seed` argument must be None or a non-negative int. Received: seed={seed!r}"
        )
    return None if seed is None else int(seed)


def _factor(factor, name, where, low=-1.0, high=1.0, open_low=False, symmetric=True):
    """A number f -> (-|f|, |f|) (``symmetric``) or (f, f); a pair -> (lower, upper), sorted.
    Every number must lie in [low, high] (``open_low``: (low, high])."""
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
    message = (
        f"{where}: the `{name}` argument must be a number or a pair (lower, upper) of numbers in {interval}. "
        f"Received: {name}={factor!r}"
    )
    pair = isinstance(factor, (tuple, list))
    numbers_ = factor if pair else (factor,)
    if pair and len(factor) != 2:
        raise ValueError(message)
    for v in numbers_:
        if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)) or not math.isfinite(v):
            raise ValueError(message)
        if v > high or v < low or (open_low and v == low):
            raise ValueError(message)
    if pair:
        return tuple(sorted(float(v) for v in numbers_))
    f = float(factor)
    return (-abs(f), abs(f)) if symmetric else (f, f)


def _value_range(value_range, where):
    message = (
        f"{where}: `value_range` must be a pair (low, high) of finite numbers. "
        f"Received: value_range={value_range!r}"
    )
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(message)
    if not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value_range
    ):
        raise ValueError(message)
    return tuple(sorted(float(v) for v in value_range))


class _RandomLayer(_ImageLayer):
    """Shared by the augmentation layers: ``seed``, the generator, identity at inference."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _seed(seed, self.where)
        self._rng = None if self.seed is None else generator(self.seed)

    def _generator(self):
        return self._rng if self._rng is not None else generator()

    def call(self, inputs, training=False):
        return self._augment(inputs) if training else inputs

    def _count(self, x):
        """The number of images, and the shape of one draw per image ((N,), or () for one image)."""
        return (x.shape[0], (x.shape[0],)) if x.ndim == 4 else (1, ())

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config


# ---- augmentation --------------------------------------------------------------------------------


class RandomFlip(_RandomLayer):
    """Flips each image left-right ("horizontal"), up-down ("vertical") or both
    ("horizontal_and_vertical": a coin for each direction), each with probability 1/2."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _choice(mode, self.MODES, "mode", self.where)

    def _augment(self, inputs):
        x = autograd.value(inputs)
        rng, (_, shape) = self._generator(), self._count(x)
        horizontal = rng.random(shape) < 0.5 if self.mode != "vertical" else False
        vertical = rng.random(shape) < 0.5 if self.mode != "horizontal" else False
        y = image_ops.flip(x, horizontal, vertical, self.data_format, where=self.where)
        return self._record(
            y, inputs, lambda g: image_ops.flip(g, horizontal, vertical, self.data_format), "flip"
        )

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


class _Geometric(_RandomLayer):
    """Shared by rotation, zoom and translation: one projective transform per image, resampled
    by ``ops.image.transform`` (SciPy's ndimage); no gradient."""

    FILL_MODES = ("reflect", "wrap", "constant", "nearest")

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.fill_mode = _choice(fill_mode, self.FILL_MODES, "fill_mode", self.where)
        self.interpolation = _choice(
            interpolation, tuple(image_ops.TRANSFORM_INTERPOLATIONS), "interpolation", self.where
        )
        self.fill_value = _check_number(fill_value, "fill_value", self.where)

    def _augment(self, inputs):
        if isinstance(inputs, Tensor):
            raise ValueError(
                f"{self.where} has no gradient (it resamples through scipy.ndimage), so in training "
                "it cannot follow a layer that is being trained. Put augmentation layers first, "
                "on the input images. "
                f"Received: a recorded input of shape {format_shape(inputs.shape)} (from op '{inputs.op}')"
            )
        n, _ = self._count(inputs)
        height, width = self._size(inputs.shape)
        transforms = self._transforms(self._generator(), n, height, width)
        return image_ops.transform(
            inputs,
            transforms,
            interpolation=self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format=self.data_format,
            where=self.where,
        )

    def get_config(self):
        config = super().get_config()
        config.update(fill_mode=self.fill_mode, interpolation=self.interpolation, fill_value=self.fill_value)
        return config


class RandomRotation(_Geometric):
    """Rotates each image about its centre by a random angle: ``factor`` in fractions of a full
    turn (2 pi), a number f for [-f, f] or a pair (lower, upper), each in [-1, 1]; positive
    angles turn counter-clockwise. ``fill_mode``: "reflect", "wrap", "constant" (with
    ``fill_value``) or "nearest"; ``interpolation``: "bilinear" or "nearest"."""

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format=data_format, **kwargs)
        self.factor = _factor(factor, "factor", self.where)

    def _transforms(self, rng, n, height, width):
        angles = rng.uniform(self.factor[0], self.factor[1], n) * (2 * math.pi)
        return image_ops.rotation_transforms(angles, height, width)

    def get_config(self):
        config = super().get_config()
        config.update(factor=list(self.factor))
        return config


class RandomZoom(_Geometric):
    """Zooms each image about its centre: ``height_factor`` f draws a vertical zoom 1 + U(-f, f)
    (a pair: 1 + U(lower, upper)), each in (-1, 1]; positive values zoom out (the image
    shrinks and ``fill_mode`` fills the border), negative values zoom in, as in Keras 3.
    ``width_factor`` likewise, or None to keep the aspect ratio (the same zoom both ways)."""

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._height = _factor(height_factor, "height_factor", self.where, open_low=True)
        self._width = (
            None if width_factor is None else _factor(width_factor, "width_factor", self.where, open_low=True)
        )

    def _transforms(self, rng, n, height, width):
        zy = 1.0 + rng.uniform(*self._height, n)
        zx = zy if self._width is None else 1.0 + rng.uniform(*self._width, n)
        return image_ops.zoom_transforms(zy, zx, height, width)

    def get_config(self):
        config = super().get_config()
        config.update(
            height_factor=list(self.height_factor)
            if isinstance(self.height_factor, tuple)
            else self.height_factor,
            width_factor=list(self.width_factor)
            if isinstance(self.width_factor, tuple)
            else self.width_factor,
        )
        return config


class RandomTranslation(_Geometric):
    """Shifts each image by a random fraction of its height and width: ``height_factor`` f draws
    U(-f, f) * height (a pair: U(lower, upper) * height), each in [-1, 1], positive moving the
    image down; ``width_factor`` likewise, positive moving it right."""

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format=data_format, **kwargs)
        self.height_factor = height_factor
        self.width_factor = width_factor
        self._height = _factor(height_factor, "height_factor", self.where)
        self._width = _factor(width_factor, "width_factor", self.where)

    def _transforms(self, rng, n, height, width):
        dy = rng.uniform(*self._height, n) * height
        dx = rng.uniform(*self._width, n) * width
        return image_ops.translation_transforms(dy, dx)

    def get_config(self):
        config = super().get_config()
        config.update(
            height_factor=list(self.height_factor)
            if isinstance(self.height_factor, tuple)
            else self.height_factor,
            width_factor=list(self.width_factor)
            if isinstance(self.width_factor, tuple)
            else self.width_factor,
        )
        return config


class RandomCrop(_RandomLayer):
    """In training, a random height x width window, the same for every image of a batch (as
    Keras); images smaller than that on an axis, and every image at inference, are centre-cropped
    as CenterCrop does (resized first to the target's aspect ratio when smaller)."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = _positive_int(height, "height", self.where)
        self.width = _positive_int(width, "width", self.where)

    def compute_output_shape(self, input_shape):
        return self._resized_shape(input_shape, self.height, self.width)

    def call(self, inputs, training=False):
        h, w = self._size(inputs.shape)
        if not training or h < self.height or w < self.width:
            return _center_crop(self, inputs, self.height, self.width)
        rng = self._generator()
        top, left = int(rng.integers(0, h - self.height + 1)), int(rng.integers(0, w - self.width + 1))
        x = autograd.value(inputs)
        y = image_ops.crop_images(x, top, left, self.height, self.width, self.data_format, where=self.where)
        return self._record(
            y,
            inputs,
            lambda g: image_ops.crop_images_backward(g, x.shape, top, left, self.data_format),
            "crop",
        )

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width)
        return config


class RandomContrast(_RandomLayer):
    """Scales each image's deviations from its per-channel mean by a random factor:
    ``factor`` f draws from [1 - f, 1 + f], a pair (lower, upper) from [1 - lower, 1 + upper],
    each in [0, 1]; the output is clipped to ``value_range``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor(factor, "factor", self.where, low=0.0, symmetric=False)
        self.value_range = _value_range(value_range, self.where)

    def _augment(self, inputs):
        x = autograd.value(inputs)
        _, shape = self._count(x)
        factors = self._generator().uniform(1.0 - self.factor[0], 1.0 + self.factor[1], shape)
        options = dict(value_range=self.value_range, data_format=self.data_format)
        y = image_ops.adjust_contrast(x, factors, where=self.where, **options)
        return self._record(
            y, inputs, lambda g: image_ops.adjust_contrast_backward(g, x, factors, **options), "contrast"
        )

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(factor=list(self.factor), value_range=list(self.value_range))
        return config


class RandomBrightness(_RandomLayer):
    """Adds a random delta to each image: ``factor`` f draws U(-f, f) (a pair: U(lower, upper)),
    each in [-1, 1], times the width of ``value_range``; the output is clipped to it (-1 makes
    the image black, 1 white)."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor(factor, "factor", self.where)
        self.value_range = _value_range(value_range, self.where)

    def _augment(self, inputs):
        x = autograd.value(inputs)
        _, shape = self._count(x)
        low, high = self.value_range
        deltas = self._generator().uniform(self.factor[0], self.factor[1], shape) * (high - low)
        y = image_ops.adjust_brightness(x, deltas, self.value_range, where=self.where)
        return self._record(
            y,
            inputs,
            lambda g: image_ops.adjust_brightness_backward(g, x, deltas, self.value_range),
            "brightness",
        )

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(factor=list(self.factor), value_range=list(self.value_range))
        return config
