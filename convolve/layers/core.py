"""Core layers: Dense, Flatten, Reshape, Dropout, and the activation layers
(Activation, ReLU, LeakyReLU, Softmax).

Each stores its arguments (checked here, so mistakes surface where they were written)
and calls one function of ``ops`` -- ``ops.core.dense``, ``ops.reshaping.flatten`` and
``reshape``, ``ops.activations``. Names, arguments and defaults are Keras 3's.

Dense's weights are Keras': ``kernel`` (input_dim, units) and ``bias`` (units,). Dense acts
on the last axis, so on a (batch, height, width, channels) input it is a 1x1 convolution.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import autograd, initializers
from ..activations import get as get_activation
from ..autograd import dense, flatten, reshape
from ..backend import get_array_module
from ..ops import activations
from ..ops.args import standardize_data_format
from ..ops.reshaping import resolve_target_shape
from ..ops.shapes import POINTWISE
from ..random import generator
from .base import Layer, format_shape
from .conv import _positive_int


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_number(value, name, where, minimum=None, maximum=None, none_ok=False):
    """A finite real number (not a bool) in [minimum, maximum]; returned as a float (None if allowed)."""
    if value is None and none_ok:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        expected = "a number or None" if none_ok else "a number"
        raise TypeError(f"{where}: the `{name}` argument must be {expected}. Received: {name}={value!r}")
    if (
        not math.isfinite(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        if minimum is not None and maximum is not None:
            bound = f" between {minimum:g} and {maximum:g}"
        elif minimum is not None:
            bound = f" >= {minimum:g}"
        else:
            bound = ""
        raise ValueError(
            f"{where}: the `{name}` argument must be a finite number{bound}. Received: {name}={value!r}"
        )
    return float(value)


class Dense(Layer):
    """Fully connected layer: y = activation(x @ kernel + bias) over the last axis of x.

    Input (batch, ..., input_dim), rank >= 2; output (batch, ..., units).
    Weights: ``kernel`` (input_dim, units), ``bias`` (units,) when ``use_bias``.
    """

    regularizable = True

    min_ndim = 2

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units", self.where)
        self.activation = get_activation(activation, where=self.where)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, self.where)
        self.bias_initializer = initializers.get(bias_initializer, self.where)
        self._input_rank = None  # the rank of the input it was built for

    def _fixed_axes(self):
        return (-1,)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{self.where}: the last axis of the inputs (the features) must have a known size. "
                f"Received: input_shape={format_shape(input_shape)}"
            )
        self.kernel = self.add_weight("kernel", (int(input_dim), self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None
        self._input_rank = len(input_shape)
        super().build(input_shape)  # built = True, also when build() is called directly

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        return (*input_shape[:-1], self.units)

    def call(self, inputs, training=False):
        y = dense(inputs, self.kernel, self.bias if self.use_bias else None, where=self.where)
        return autograd.activation(
            y, self.activation, inplace=autograd.is_fresh(y, inputs, self.kernel, self.bias)
        )

    def receptive_field(self):
        # on (batch, *spatial, features) Dense is a 1x1 convolution; on (batch, features) it mixes everything
        return POINTWISE if self._input_rank is not None and self._input_rank > 2 else None

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, activation=self.activation.__name__, use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
        )
        return config


class Flatten(Layer):
    """(batch, d1, ..., dk) -> (batch, d1 * ... * dk); (batch,) -> (batch, 1).

    With ``data_format='channels_first'`` the channels are moved last before flattening,
    so the order of the features is the same as for the channels_last version of the data.
    """

    min_ndim = 1

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, self.where)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        dims = input_shape[1:]
        if any(d is None for d in dims):
            return (input_shape[0], None)
        return (input_shape[0], math.prod(dims))  # prod(()) = 1 for (batch,) input

    def call(self, inputs, training=False):
        return flatten(inputs, self.data_format, where=self.where)

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format)
        return config


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape). One entry of ``target_shape`` may be -1,
    worked out from the number of values per sample."""

    min_ndim = 1

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        expected = "a tuple of positive ints (the batch axis excluded), with at most one -1"
        try:
            target = tuple(target_shape)
        except TypeError:
            raise TypeError(
                f"{self.where}: the `target_shape` argument must be {expected}. "
                f"Received: target_shape={target_shape!r}"
            ) from None
        if not all(_is_int(d) and (d >= 1 or d == -1) for d in target) or target.count(-1) > 1:
            raise ValueError(
                f"{self.where}: the `target_shape` argument must be {expected}. "
                f"Received: target_shape={target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in target)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        dims = input_shape[1:]
        target = self.target_shape
        if any(d is None for d in dims):  # cannot check; -1 stays unknown
            return (input_shape[0], *(None if d == -1 else d for d in target))
        target = resolve_target_shape(
            math.prod(dims), target, self.where, received=f"input_shape={format_shape(input_shape)}"
        )
        return (input_shape[0], *target)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # a size mismatch fails before anything is computed
        super().build(input_shape)

    def call(self, inputs, training=False):
        self.compute_output_shape(inputs.shape)  # the layer's message, for every call
        return reshape(inputs, self.target_shape, where=self.where)

    def get_config(self):
        config = super().get_config()
        config.update(target_shape=list(self.target_shape))
        return config


class Dropout(Layer):
    """Sets a fraction ``rate`` of the inputs to zero during training and scales the rest by 1 / (1 - rate).

    With ``training=False`` (inference, the default) it returns its input unchanged.
    ``noise_shape``: the shape of the random keep/drop mask, broadcast against the input;
    None entries take the input's size (e.g. ``(None, 1, 1, None)`` drops whole feature maps
    of a (batch, height, width, channels) input). ``seed``: with a seed, the layer draws
    from its own generator, so a run is reproducible and successive calls still draw new
    masks; without one it draws from the global generator that ``set_random_seed`` fixes.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_number(rate, "rate", self.where, minimum=0.0, maximum=1.0)
        if noise_shape is not None:
            expected = (
                "None or a tuple of positive ints or None (one per input axis, the batch axis included)"
            )
            try:
                items = tuple(noise_shape)
            except TypeError:
                raise TypeError(
                    f"{self.where}: the `noise_shape` argument must be {expected}. "
                    f"Received: noise_shape={noise_shape!r}"
                ) from None
            if isinstance(noise_shape, str) or not all(d is None or (_is_int(d) and d >= 1) for d in items):
                raise ValueError(
                    f"{self.where}: the `noise_shape` argument must be {expected}. "
                    f"Received: noise_shape={noise_shape!r}"
                )
            noise_shape = tuple(None if d is None else int(d) for d in items)
        self.noise_shape = noise_shape
        if seed is not None and not (_is_int(seed) and seed >= 0):
            raise ValueError(
                f"{self.where}: the `seed` argument must be None or a non-negative int. "
                f"Received: seed={seed!r}"
            )
        self.seed = None if seed is None else int(seed)
        self._rng = None if seed is None else generator(self.seed)

    def _mask_shape(self, shape) -> tuple:
        """The noise shape resolved against an input shape (None entries: the input's size)."""
        shape = tuple(shape)
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"{self.where}: `noise_shape` must have one entry per input axis ({len(shape)}). "
                f"Received: noise_shape={self.noise_shape} for input of shape {format_shape(shape)}"
            )
        resolved = tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))
        for n, s in zip(resolved, shape):
            if n is not None and s is not None and n != 1 and n != s:
                raise ValueError(
                    f"{self.where}: every entry of `noise_shape` must be 1, None or the input's size on that "
                    f"axis. Received: noise_shape={self.noise_shape} for input of shape {format_shape(shape)}"
                )
        return resolved

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        self._mask_shape(shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        rng = self._rng if self._rng is not None else generator()
        # float32 draws: half the random bits and time of float64 ones, ample for a keep/drop coin;
        # ops.dropout keeps where noise >= rate (P = 1 - rate) and scales by 1 / (1 - rate)
        noise = rng.random(self._mask_shape(inputs.shape), dtype=np.float32)
        return autograd.dropout(inputs, get_array_module(autograd.value(inputs)).asarray(noise), self.rate)

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(
            rate=self.rate,
            noise_shape=None if self.noise_shape is None else list(self.noise_shape),
            seed=self.seed,
        )
        return config


class Activation(Layer):
    """Applies an activation function element-wise: ``Activation('relu')``, ``Activation(callable)``."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = get_activation(activation, where=self.where)

    def call(self, inputs, training=False):
        return autograd.activation(inputs, self.activation)

    def receptive_field(self):
        return POINTWISE  # softmax acts on the last (channel) axis, also per position

    def get_config(self):
        config = super().get_config()
        config.update(activation=self.activation.__name__)
        return config


class ReLU(Layer):
    """Rectified linear unit, Keras' form:

        f(x) = min(x, max_value)                  if x > threshold
        f(x) = negative_slope * (x - threshold)   otherwise

    ``max_value`` (None: no limit), ``negative_slope`` and ``threshold`` must be >= 0.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _check_number(max_value, "max_value", self.where, minimum=0.0, none_ok=True)
        self.negative_slope = _check_number(negative_slope, "negative_slope", self.where, minimum=0.0)
        self.threshold = _check_number(threshold, "threshold", self.where, minimum=0.0)

    def call(self, inputs, training=False):
        return autograd.activation(
            inputs, activations.relu, negative_slope=self.negative_slope, max_value=self.max_value,
            threshold=self.threshold, where=self.where,
        )

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return config


class LeakyReLU(Layer):
    """x if x > 0, else negative_slope * x. Keras 3's default slope is 0.3 (the function
    ``leaky_relu``'s is 0.2). The deprecated Keras 2 name ``alpha`` is accepted with a warning."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn(
                "LeakyReLU: the `alpha` argument is deprecated; use `negative_slope` instead.", stacklevel=2
            )
        super().__init__(**kwargs)
        self.negative_slope = _check_number(negative_slope, "negative_slope", self.where, minimum=0.0)

    def call(self, inputs, training=False):
        return autograd.activation(
            inputs, activations.leaky_relu, negative_slope=self.negative_slope, where=self.where
        )

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(negative_slope=self.negative_slope)
        return config


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along ``axis`` (an int or a tuple of ints; -1: the last axis)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        items = (axis,) if _is_int(axis) else axis
        expected = "an int or a tuple of ints"
        try:
            items = tuple(items)
        except TypeError:
            raise TypeError(
                f"{self.where}: the `axis` argument must be {expected}. Received: axis={axis!r}"
            ) from None
        if not items or not all(_is_int(a) for a in items):
            raise TypeError(f"{self.where}: the `axis` argument must be {expected}. Received: axis={axis!r}")
        self.axis = int(axis) if _is_int(axis) else tuple(int(a) for a in items)
        self._axes = tuple(int(a) for a in items)
        self._input_rank = None

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        ndim = len(tuple(shape))
        if not all(-ndim <= a < ndim for a in self._axes):
            raise ValueError(
                f"{self.where}: the `axis` argument must be in [-{ndim}, {ndim}) for input of rank {ndim}. "
                f"Received: axis={self.axis!r}, input shape {format_shape(shape)}"
            )

    def build(self, input_shape):
        self._input_rank = len(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        return input_shape

    def call(self, inputs, training=False):
        return autograd.activation(inputs, activations.softmax, axis=self.axis, where=self.where)

    def receptive_field(self):
        # per position when it normalises over the last (channel) axis only; otherwise it mixes positions
        if self._input_rank is not None and all(
            a % self._input_rank == self._input_rank - 1 for a in self._axes
        ):
            return POINTWISE
        return None

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis if _is_int(self.axis) else list(self.axis))
        return config
