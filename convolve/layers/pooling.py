"""Pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and their global forms.

Each stores its arguments (checked here, so mistakes surface where they were written)
and calls one function of ``ops.pooling`` -- where the arithmetic is. Output sizes come
from ``ops.shapes.conv_output_shape``, as for convolutions: a pooling window is a
convolution window with dilation 1.

Keras 3's arguments and defaults: ``pool_size`` (2, (2, 2) or (2, 2, 2)), ``strides=None``
(meaning ``pool_size``), ``padding`` 'valid' or 'same', ``data_format`` (None is
'channels_last'). With 'same', padded cells are not part of any window: the maximum
ignores them and the average divides by the number of input cells the window covers.

Global pooling reduces every spatial axis: (batch, *spatial, channels) -> (batch, channels),
or (batch, 1, ..., 1, channels) with ``keepdims=True``.
"""
from __future__ import annotations

import numpy as np

from ..autograd import average_pool, global_average_pool, global_max_pool, max_pool
from ..ops.args import check_choice, standardize_data_format, standardize_tuple
from ..ops.pooling import POOL_PADDINGS
from ..ops.shapes import FieldStep, conv_output_shape
from .base import Layer


class BasePooling(Layer):
    """What the windowed pooling layers share: arguments, output shapes, receptive fields."""

    rank: int = 2
    #: the ops.pooling function, set by each subclass
    _pool = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        n, where = self.rank, self.where
        self.pool_size = standardize_tuple(pool_size, n, "pool_size", where)
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, n, "strides", where)
        self.padding = check_choice(padding, POOL_PADDINGS, "padding", where)
        self.data_format = standardize_data_format(data_format, where)
        self.input_ndim = n + 2

    def _spatial(self, shape):
        shape = tuple(shape)
        return shape[1:-1] if self.data_format == "channels_last" else shape[2:]

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        spatial = self._spatial(input_shape)
        if any(s is None for s in spatial):
            out = tuple(None for _ in spatial)
        else:
            out, _ = conv_output_shape(
                spatial, self.pool_size, self.strides, self.padding, 1, where=self.where
            )
        if self.data_format == "channels_last":
            return (input_shape[0], *out, input_shape[-1])
        return (input_shape[0], input_shape[1], *out)

    def build(self, input_shape):
        # a too-small input fails here, with the arithmetic, before anything is computed
        self.compute_output_shape(input_shape)
        super().build(input_shape)

    def call(self, inputs, training=False):
        pool = type(self)._pool
        return pool(inputs, self.pool_size, self.strides, self.padding, self.data_format, where=self.where)

    def receptive_field(self):
        return FieldStep(kernel_size=self.pool_size, strides=self.strides)

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=list(self.pool_size), strides=list(self.strides),
            padding=self.padding, data_format=self.data_format,
        )
        return config


class MaxPooling1D(BasePooling):
    """Maximum over windows of ``pool_size`` steps of (batch, steps, channels)."""

    rank = 1
    _pool = staticmethod(max_pool)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(
            pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs
        )


class MaxPooling2D(BasePooling):
    """Maximum over (ph, pw) windows of (batch, height, width, channels)."""

    rank = 2
    _pool = staticmethod(max_pool)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(
            pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs
        )


class MaxPooling3D(BasePooling):
    """Maximum over (pd, ph, pw) windows of (batch, depth, height, width, channels)."""

    rank = 3
    _pool = staticmethod(max_pool)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(
            pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs
        )


class AveragePooling1D(BasePooling):
    """Mean over windows of ``pool_size`` steps of (batch, steps, channels)."""

    rank = 1
    _pool = staticmethod(average_pool)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(
            pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs
        )


class AveragePooling2D(BasePooling):
    """Mean over (ph, pw) windows of (batch, height, width, channels)."""

    rank = 2
    _pool = staticmethod(average_pool)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(
            pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs
        )


class AveragePooling3D(BasePooling):
    """Mean over (pd, ph, pw) windows of (batch, depth, height, width, channels)."""

    rank = 3
    _pool = staticmethod(average_pool)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(
            pool_size=pool_size, strides=strides, padding=padding, data_format=data_format, **kwargs
        )


class BaseGlobalPooling(Layer):
    """Reduce every spatial axis: (batch, *spatial, channels) -> (batch, channels)."""

    rank: int = 2
    _pool = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, self.where)
        if not isinstance(keepdims, (bool, np.bool_)):
            raise TypeError(
                f"{self.where}: the `keepdims` argument must be True or False. "
                f"Received: keepdims={keepdims!r}"
            )
        self.keepdims = bool(keepdims)
        self.input_ndim = self.rank + 2

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        if self.data_format == "channels_last":
            channels = input_shape[-1]
            return (
                (input_shape[0], *(1,) * self.rank, channels) if self.keepdims else (input_shape[0], channels)
            )
        channels = input_shape[1]
        return (input_shape[0], channels, *(1,) * self.rank) if self.keepdims else (input_shape[0], channels)

    def call(self, inputs, training=False):
        pool = type(self)._pool
        return pool(inputs, data_format=self.data_format, keepdims=self.keepdims, where=self.where)

    def receptive_field(self):
        return None  # every output sees the whole input

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


class GlobalMaxPooling1D(BaseGlobalPooling):
    """Maximum over all steps of (batch, steps, channels) -> (batch, channels)."""

    rank = 1
    _pool = staticmethod(global_max_pool)


class GlobalMaxPooling2D(BaseGlobalPooling):
    """Maximum over height and width of (batch, height, width, channels) -> (batch, channels)."""

    rank = 2
    _pool = staticmethod(global_max_pool)


class GlobalMaxPooling3D(BaseGlobalPooling):
    """Maximum over depth, height and width -> (batch, channels)."""

    rank = 3
    _pool = staticmethod(global_max_pool)


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over all steps of (batch, steps, channels) -> (batch, channels)."""

    rank = 1
    _pool = staticmethod(global_average_pool)


class GlobalAveragePooling2D(BaseGlobalPooling):
    """Mean over height and width of (batch, height, width, channels) -> (batch, channels)."""

    rank = 2
    _pool = staticmethod(global_average_pool)


class GlobalAveragePooling3D(BaseGlobalPooling):
    """Mean over depth, height and width -> (batch, channels)."""

    rank = 3
    _pool = staticmethod(global_average_pool)
