"""Convolution layers: Conv1D/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D,
Conv1DTranspose/2DTranspose/3DTranspose.

Each stores its arguments (checked here, so mistakes surface where they were written),
creates its kernel on first use, and calls ``ops.conv.conv`` -- where the arithmetic is.

Weights and layouts are Keras': ``kernel`` (*kernel_size, in_channels // groups, filters)
and ``bias`` (filters,); depthwise ``depthwise_kernel`` (*kernel_size, in_channels,
depth_multiplier); separable adds ``pointwise_kernel`` (1, ..., in_channels *
depth_multiplier, filters); transposed ``kernel`` (*kernel_size, filters, in_channels).
Layers compute cross-correlation (no kernel flip).

Beyond Keras: ``padding`` also takes 'full', an int, per-axis ints or (before, after)
pairs; ``padding_mode`` is 'zeros', 'reflect', 'replicate' or 'circular'; strides > 1
with dilation_rate > 1 is allowed; 'same' works for every stride and dilation.
"""
from __future__ import annotations

import math
import numbers

from .. import autograd, initializers
from ..activations import get as get_activation
from ..ops import activations as act_ops
from ..ops.args import (
    check_choice,
    standardize_data_format,
    standardize_padding,
    standardize_padding_mode,
    standardize_tuple,
)
from ..ops.shapes import FieldStep, conv_output_shape, conv_transpose_output_shape
from .base import Layer


def _positive_int(value, name, where):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"{where}: the `{name}` argument must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


class BaseConv(Layer):
    """What every convolution layer shares: arguments, shapes, the channel check."""

    regularizable = True

    rank: int = 2

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        bias_initializer="zeros",
        padding_mode="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        n, where = self.rank, self.where
        self.kernel_size = standardize_tuple(kernel_size, n, "kernel_size", where)
        self.strides = standardize_tuple(strides, n, "strides", where)
        self.dilation_rate = standardize_tuple(dilation_rate, n, "dilation_rate", where)
        self.padding = standardize_padding(padding, n, where)
        self.data_format = standardize_data_format(data_format, where)
        self.padding_mode = standardize_padding_mode(padding_mode, where)
        self.activation = get_activation(activation, where=self.where)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer, where)
        self.input_ndim = n + 2

    # the channel axis of the input, batch included
    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _fixed_axes(self):
        return (self._channel_axis % self.input_ndim,)

    def _spatial(self, shape):
        shape = tuple(shape)
        return shape[1:-1] if self.data_format == "channels_last" else shape[2:]

    def _output_channels(self, input_channels) -> int:
        return self.filters

    def compute_output_shape(self, input_shape):
        self.check_input_shape(input_shape)
        spatial = self._spatial(input_shape)
        if any(s is None for s in spatial):
            out = tuple(None for _ in spatial)
        else:
            out, _ = conv_output_shape(
                spatial, self.kernel_size, self.strides, self.padding, self.dilation_rate, where=self.where
            )
        channels = self._output_channels(input_shape[self._channel_axis])
        if self.data_format == "channels_last":
            return (input_shape[0], *out, channels)
        return (input_shape[0], channels, *out)

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"{self.where}: the channel dimension of the inputs must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        # check the spatial sizes now, so a too-small input fails before weights exist
        if all(s is not None for s in self._spatial(input_shape)):
            conv_output_shape(
                self._spatial(input_shape), self.kernel_size, self.strides, self.padding, self.dilation_rate,
                where=self.where,
            )
        self._build_weights(int(channels))

    def _fused_activation(self):
        """The name the convolution fuses ``self.activation`` under ('relu', 'linear'; see
        ops/conv/epilogue.py), or None when the layer applies it after the convolution."""
        op = getattr(self.activation, "op", self.activation)
        return "relu" if op is act_ops.relu else "linear" if op is act_ops.linear else None

    def _conv(self, x, kernel, bias, groups, strides=None, padding=None, dilation=None, activation=None):
        return autograd.conv(
            x, kernel, bias, activation=activation,
            strides=self.strides if strides is None else strides,
            padding=self.padding if padding is None else padding,
            dilation_rate=self.dilation_rate if dilation is None else dilation,
            groups=groups, data_format=self.data_format,
            padding_mode=self.padding_mode, where=self.where,
        )

    def receptive_field(self):
        return FieldStep(kernel_size=self.kernel_size, strides=self.strides, dilation_rate=self.dilation_rate)

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=list(self.kernel_size), strides=list(self.strides),
            padding=self.padding if isinstance(self.padding, str) else [list(p) for p in self.padding],
            data_format=self.data_format, dilation_rate=list(self.dilation_rate),
            activation=self.activation.__name__, use_bias=self.use_bias,
            bias_initializer=initializers.serialize(self.bias_initializer),
            padding_mode=self.padding_mode,
        )
        return config


class Conv(BaseConv):
    """N-d convolution: y = activation(conv(x, kernel) + bias)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        padding_mode="zeros",
        **kwargs,
    ):
        super().__init__(
            kernel_size=kernel_size, strides=strides, padding=padding, data_format=data_format,
            dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
            bias_initializer=bias_initializer, padding_mode=padding_mode, **kwargs,
        )
        self.filters = _positive_int(filters, "filters", self.where)
        self.groups = _positive_int(groups, "groups", self.where)
        if self.filters % self.groups:
            raise ValueError(
                f"{self.where}: the number of filters must be divisible by the number of groups. "
                f"Received: filters={self.filters}, groups={self.groups}"
            )
        self.kernel_initializer = initializers.get(kernel_initializer, self.where)

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is not None and channels % self.groups:
            raise ValueError(
                f"{self.where}: the number of input channels must be divisible by the number of groups. "
                f"Received: input channels={channels}, groups={self.groups}, input_shape={tuple(input_shape)}"
            )
        super().build(input_shape)

    def _build_weights(self, channels):
        self.kernel = self.add_weight(
            "kernel", (*self.kernel_size, channels // self.groups, self.filters), self.kernel_initializer
        )
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, training=False):
        fused = self._fused_activation()
        if fused is not None:  # relu (or nothing) applied by the convolution to each block of y
            return self._conv(inputs, self.kernel, self.bias, self.groups, activation=fused)
        y = self._conv(inputs, self.kernel, self.bias, self.groups)
        return autograd.activation(
            y, self.activation, inplace=autograd.is_fresh(y, inputs, self.kernel, self.bias)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, groups=self.groups,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
        )
        return config


class Conv1D(Conv):
    """1-D convolution over (batch, length, channels). Kernel (k, in_channels // groups, filters)."""

    rank = 1


class Conv2D(Conv):
    """2-D convolution over (batch, height, width, channels). Kernel (kh, kw, in_channels // groups,
    filters)."""

    rank = 2


class Conv3D(Conv):
    """3-D convolution over (batch, depth, height, width, channels). Kernel (kd, kh, kw,
    in // groups, filters)."""

    rank = 3


class DepthwiseConv(BaseConv):
    """Each input channel convolved with its own ``depth_multiplier`` filters (groups = channels).

    Output channel c * depth_multiplier + j comes from input channel c and
    ``depthwise_kernel[..., c, j]``.
    """

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        padding_mode="zeros",
        **kwargs,
    ):
        super().__init__(
            kernel_size=kernel_size, strides=strides, padding=padding, data_format=data_format,
            dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
            bias_initializer=bias_initializer, padding_mode=padding_mode, **kwargs,
        )
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", self.where)
        self.depthwise_initializer = initializers.get(depthwise_initializer, self.where)

    def _output_channels(self, input_channels):
        return None if input_channels is None else input_channels * self.depth_multiplier

    def _build_weights(self, channels):
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
        )
        self.bias = (
            self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer)
            if self.use_bias else None
        )

    def _depthwise(self, x, bias, activation=None):
        channels = self.depthwise_kernel.shape[-2]  # (*K, C, m) -> grouped layout (*K, 1, C * m)
        grouped = autograd.view(
            self.depthwise_kernel, (*self.kernel_size, 1, channels * self.depth_multiplier)
        )
        return self._conv(x, grouped, bias, groups=channels, activation=activation)

    def call(self, inputs, training=False):
        fused = self._fused_activation()
        if fused is not None:  # relu (or nothing) applied by the convolution, as in Conv
            return self._depthwise(inputs, self.bias, activation=fused)
        y = self._depthwise(inputs, self.bias)
        return autograd.activation(
            y, self.activation, inplace=autograd.is_fresh(y, inputs, self.depthwise_kernel, self.bias)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            depth_multiplier=self.depth_multiplier,
            depthwise_initializer=initializers.serialize(self.depthwise_initializer),
        )
        return config


class DepthwiseConv1D(DepthwiseConv):
    rank = 1


class DepthwiseConv2D(DepthwiseConv):
    rank = 2


class SeparableConv(DepthwiseConv):
    """A depthwise convolution (no bias) followed by a 1x1 convolution to ``filters`` (with bias)."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        padding_mode="zeros",
        **kwargs,
    ):
        super().__init__(
            kernel_size=kernel_size, strides=strides, padding=padding, depth_multiplier=depth_multiplier,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
            depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
            padding_mode=padding_mode, **kwargs,
        )
        self.filters = _positive_int(filters, "filters", self.where)
        self.pointwise_initializer = initializers.get(pointwise_initializer, self.where)

    def _output_channels(self, input_channels):
        return self.filters

    def _build_weights(self, channels):
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            self.depthwise_initializer,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (*(1,) * self.rank, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer,
        )
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, training=False):
        depthwise = self._depthwise(inputs, None)
        ones = (1,) * self.rank
        fused = self._fused_activation()
        y = self._conv(
            depthwise,
            self.pointwise_kernel,
            self.bias,
            groups=1,
            strides=ones,
            padding="valid",
            dilation=ones,
            activation=fused,
        )
        if fused is not None:  # relu (or nothing) applied by the pointwise convolution
            return y
        return autograd.activation(
            y, self.activation, inplace=autograd.is_fresh(y, inputs, depthwise, self.pointwise_kernel)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, pointwise_initializer=initializers.serialize(self.pointwise_initializer)
        )
        return config


class SeparableConv1D(SeparableConv):
    rank = 1


class SeparableConv2D(SeparableConv):
    rank = 2


class ConvTranspose(BaseConv):
    """N-d transposed convolution: y = activation(conv_transpose(x, kernel) + bias).

    The gradient of a convolution with respect to its input, used to upsample: each input
    pixel scatters its channel vector times the kernel into an output grid ``strides``
    times larger (TensorFlow's and Keras 3's definition; see ``ops.conv.conv_transpose``).
    Output sizes follow Keras 3: with effective kernel ke = dilation * (k - 1) + 1,
    'valid' gives n * s + max(ke - s, 0), 'same' gives n * s, and an explicit
    ``output_padding`` p gives (n - 1) * s + ke - 2 * pad + p (pad = ke // 2 for 'same').

    Kernel (*kernel_size, filters, in_channels) as in Keras. ``padding`` is 'valid' or
    'same'; ``output_padding`` must be below the stride on every axis. Unlike Keras,
    strides > 1 together with dilation_rate > 1 is allowed.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        if "padding_mode" in kwargs:  # Keras has none; the padding is cropped from the output, never filled
            raise TypeError(
                f"Unrecognized keyword argument(s) passed to {type(self).__name__}: ['padding_mode']"
            )
        super().__init__(
            kernel_size=kernel_size, strides=strides, padding="valid", data_format=data_format,
            dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
            bias_initializer=bias_initializer, padding_mode="zeros", **kwargs,
        )
        self.padding = check_choice(padding, ("valid", "same"), "padding", self.where)
        self.filters = _positive_int(filters, "filters", self.where)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(
                output_padding, self.rank, "output_padding", self.where, allow_zero=True
            )
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"{self.where}: the `output_padding` argument must be smaller than `strides` on every "
                    f"axis. Received: output_padding={output_padding!r}, strides={self.strides}"
                )
        self.kernel_initializer = initializers.get(kernel_initializer, self.where)

    def _output_sizes(self, spatial):
        out, _ = conv_transpose_output_shape(
            spatial, self.kernel_size, self.strides, self.padding, self.output_padding, self.dilation_rate,
            where=self.where,
        )
        return out

    def compute_output_shape(self, input_shape):
        self.check_input_shape(input_shape)
        spatial = self._spatial(input_shape)
        out = tuple(None for _ in spatial) if any(s is None for s in spatial) else self._output_sizes(spatial)
        if self.data_format == "channels_last":
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"{self.where}: the channel dimension of the inputs must be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if all(s is not None for s in self._spatial(input_shape)):
            self._output_sizes(self._spatial(input_shape))  # fail before weights exist
        self.kernel = self.add_weight(
            "kernel", (*self.kernel_size, self.filters, int(channels)), self.kernel_initializer
        )
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, training=False):
        y = autograd.conv_transpose(
            inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
            output_padding=self.output_padding, dilation_rate=self.dilation_rate,
            data_format=self.data_format, where=self.where,
        )
        return autograd.activation(
            y, self.activation, inplace=autograd.is_fresh(y, inputs, self.kernel, self.bias)
        )

    def receptive_field(self):
        """``FieldStep(upsample=strides, widen=widen)``: the jump between neighbouring outputs is
        the input's divided by ``strides`` (as for UpSampling), and one output sees up to
        ``widen + 1`` neighbouring input positions per axis, widen = floor((k - 1) / s') *
        (d / g) with g = gcd(d, s), s' = s / g (floor((k - 1) / s) when d = 1), so its field
        grows by ``widen`` input jumps."""
        widen = tuple(
            (k - 1) // (s // math.gcd(d, s)) * (d // math.gcd(d, s))
            for k, s, d in zip(self.kernel_size, self.strides, self.dilation_rate)
        )
        return FieldStep(upsample=self.strides, widen=widen)

    def get_config(self):
        config = super().get_config()
        del config["padding_mode"]
        config.update(
            filters=self.filters,
            output_padding=None if self.output_padding is None else list(self.output_padding),
            kernel_initializer=initializers.serialize(self.kernel_initializer),
        )
        return config


class Conv1DTranspose(ConvTranspose):
    """1-D transposed convolution over (batch, length, channels). Kernel (k, filters, in_channels)."""

    rank = 1


class Conv2DTranspose(ConvTranspose):
    """2-D transposed convolution over (batch, height, width, channels). Kernel (kh, kw, filters,
    in_channels)."""

    rank = 2


class Conv3DTranspose(ConvTranspose):
    """3-D transposed convolution over (batch, depth, height, width, channels). Kernel (kd, kh, kw,
    filters, in)."""

    rank = 3
