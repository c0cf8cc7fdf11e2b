"""BatchNormalization, Keras 3's arguments, defaults and weights.

Weights, in Keras' order, one value per channel of ``axis``: ``gamma`` (when ``scale``),
``beta`` (when ``center``), then the non-trainable ``moving_mean`` and ``moving_variance``.
The layer calls ``autograd.batch_norm_train`` (training) or ``autograd.batch_norm`` (inference):

    y = (x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta
"""
from __future__ import annotations

from .. import autograd, initializers
from ..ops.shapes import POINTWISE
from .base import Layer, format_shape
from .core import _check_number, _is_int


class BatchNormalization(Layer):
    """Normalise each channel of ``axis``, then scale by gamma and shift by beta.

    Input of any rank >= 2 with the channels on ``axis`` (-1: channels_last; 1: channels_first).
    Once built, the rank and the number of channels are fixed.

    ``training=True`` (and a trainable layer) normalises with the batch's own mean and biased
    variance and updates the moving statistics with ``momentum``
    (moving = moving * momentum + batch * (1 - momentum)); otherwise the moving statistics
    are used (the inference form), as in Keras.
    """

    min_ndim = 2

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=0.001,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = self.where
        if not _is_int(axis):
            raise TypeError(
                f"{where}: the `axis` argument must be an int (the channel axis). Received: axis={axis!r}"
            )
        self.axis = int(axis)
        self.momentum = _check_number(momentum, "momentum", where, minimum=0.0, maximum=1.0)
        self.epsilon = _check_number(epsilon, "epsilon", where, minimum=0.0)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer, where)
        self.gamma_initializer = initializers.get(gamma_initializer, where)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer, where)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer, where)

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        ndim = len(tuple(shape))
        if not (-ndim <= self.axis < ndim) or self.axis % ndim == 0:
            raise ValueError(
                f"{self.where}: the `axis` argument must name a non-batch axis, in [-{ndim}, -1] or "
                f"[1, {ndim - 1}] for input of rank {ndim}. "
                f"Received: axis={self.axis}, input shape {format_shape(shape)}"
            )

    def _fixed_axes(self):
        return (self.axis,)

    def build(self, input_shape):
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(
                f"{self.where}: the size of axis {self.axis} (the normalised axis) must be known. "
                f"Received: input_shape={format_shape(input_shape)}"
            )
        shape = (int(channels),)
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer) if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer) if self.center else None
        self.moving_mean = self.add_weight(
            "moving_mean", shape, self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", shape, self.moving_variance_initializer, trainable=False
        )
        self.input_ndim = len(input_shape)  # Keras' InputSpec(ndim=...): the rank is fixed from now on
        super().build(input_shape)  # built = True, also when build() is called directly

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        return input_shape

    def call(self, inputs, training=False):
        """Training (and a trainable layer, as in Keras): normalise with the batch's mean and
        (biased) variance over every axis but ``axis``, and move the moving statistics toward
        them: moving = moving * momentum + batch * (1 - momentum). Otherwise use the moving ones."""
        if training and self.trainable:
            y, mean, var = autograd.batch_norm_train(inputs, self.gamma, self.beta, self.epsilon, self.axis)
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
                moving.value *= self.momentum
                moving.value += (1.0 - self.momentum) * batch.astype(moving.value.dtype, copy=False)
            return y
        return autograd.batch_norm(
            inputs, self.moving_mean, self.moving_variance, self.gamma, self.beta, self.epsilon, self.axis
        )

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=initializers.serialize(self.beta_initializer),
            gamma_initializer=initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=initializers.serialize(self.moving_variance_initializer),
        )
        return config
