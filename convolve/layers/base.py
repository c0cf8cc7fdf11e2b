"""Layer: owns weights, builds lazily from its first input, calls ops.

A layer subclass declares:

* ``__init__``: validate and store its arguments (errors surface where the user wrote them);
* ``build(input_shape)``: create weights with ``add_weight`` (shapes include the batch axis);
* ``compute_output_shape(input_shape)``: the output shape, batch axis may be None;
* ``call(inputs, training=False)``: the forward pass, one or two ops calls;
* ``input_ndim`` (exact rank) or ``min_ndim``; ``receptive_field()`` for window layers.

``__call__`` validates the input (numeric, rank, channel count of a built layer) before
any computation, casts it to the layer's dtype (float32 unless ``dtype='float64'``),
builds the layer on first use, then calls ``call``. The caller's array is never modified.
Called on a symbolic tensor (``Input(shape)`` or another layer's symbolic output), it only
builds the layer and returns a new symbolic tensor (``symbolic.py``, the functional API).
"""
from __future__ import annotations

import contextlib
import contextvars
import re
import threading
from collections import defaultdict

import numpy as np

from .. import autograd, initializers, regularizers
from ..autograd import Tensor
from ..backend import as_float_array, standardize_dtype
from ..ops.shapes import POINTWISE, format_shape
from ..variables import Variable
from .symbolic import KerasTensor, is_symbolic, symbolic_call

_name_counts: defaultdict = defaultdict(int)
_name_lock = threading.Lock()
#: True while layers only declare their weights (see ``declared_weights_only``)
_declaring = contextvars.ContextVar("convolve_declaring_weights", default=False)


def _snake(name: str) -> str:
    """Keras' rule: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """'conv2d', then 'conv2d_1', 'conv2d_2', ... as Keras names layers."""
    with _name_lock:  # two threads making layers never get the same name
        count = _name_counts[base]
        _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Reset the automatic layer names (Keras' ``keras.backend.clear_session``)."""
    with _name_lock:
        _name_counts.clear()


@contextlib.contextmanager
def declared_weights_only():
    """Inside, building a layer declares its weights without making them: ``add_weight``
    runs no initializer and allocates nothing (each value is a read-only zero broadcast to
    the weight's shape, a few bytes whatever the shape). Loaders build a file's architecture
    this way and compare every declared weight with the file's tensors before any real
    allocation; then they assign the stored arrays, which replace the placeholders."""
    token = _declaring.set(True)
    try:
        yield
    finally:
        _declaring.reset(token)


class Layer:
    #: accepts kernel_regularizer and bias_regularizer (Conv*, Dense)
    regularizable: bool = False
    #: exact rank of the input (batch included), or None
    input_ndim: int | None = None
    #: minimum rank when the exact one is not fixed
    min_ndim: int | None = None

    def __init_subclass__(cls, **kwargs):
        """Wrap each subclass's ``build`` so a direct ``layer.build(shape)`` call marks the
        layer built and records the shape, exactly as a first call does (Keras does the same)."""
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is None or getattr(build, "_wraps_build", False):
            return

        def wrapped(self, input_shape):
            outermost = not getattr(self, "_in_build", False)
            self._in_build = True
            try:
                build(self, input_shape)
            finally:
                if outermost:
                    self._in_build = False
            if outermost:
                self.built = True
                self._built_input_shape = tuple(input_shape)

        wrapped._wraps_build = True
        wrapped.__doc__ = build.__doc__
        wrapped.__name__ = "build"
        cls.build = wrapped

    def __init__(self, *, name=None, dtype=None, trainable=True, input_shape=None, **kwargs):
        self.kernel_regularizer = self.bias_regularizer = None
        if self.regularizable:  # Keras' kernel_regularizer / bias_regularizer arguments
            where = f"{type(self).__name__} '{name}'" if name else type(self).__name__
            self.kernel_regularizer = regularizers.get(kwargs.pop("kernel_regularizer", None), where)
            self.bias_regularizer = regularizers.get(kwargs.pop("bias_regularizer", None), where)
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword argument(s) passed to {type(self).__name__}: {sorted(kwargs)}"
            )
        self.name = name if name is not None else unique_name(_snake(type(self).__name__))
        self.dtype = standardize_dtype(dtype)
        self.trainable = trainable
        self.built = False
        self._weights: list[Variable] = []
        self._input_shape_arg = None
        if input_shape is not None:
            try:
                shape = tuple(None if s is None else int(s) for s in input_shape)
            except TypeError:
                raise TypeError(
                    f"{self.where}: input_shape must be a tuple of ints (without the batch axis). "
                    f"Received: input_shape={input_shape!r}"
                ) from None
            self._input_shape_arg = shape
        self._built_input_shape = None

    # ---- naming and messages ------------------------------------------------------
    @property
    def where(self) -> str:
        """How messages name this layer: ``Conv2D 'conv2d'``."""
        return f"{type(self).__name__} '{self.name}'"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # ---- weights ------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="zeros", trainable=True) -> Variable:
        init = initializers.get(initializer, where=self.where)
        if _declaring.get():
            try:
                value = np.broadcast_to(np.zeros((), dtype=self.dtype), tuple(shape))
            except (ValueError, TypeError) as error:  # a shape NumPy cannot even describe
                raise ValueError(
                    f"{self.where}: weight '{name}' would have an impossible shape ({error}). "
                    f"Received: shape={shape!r}"
                ) from None
        else:
            value = np.asarray(init(tuple(shape), dtype=self.dtype), dtype=self.dtype)
        var = Variable(value, name=name, trainable=trainable and self.trainable, path=f"{self.name}/{name}")
        self._weights.append(var)
        return var

    @property
    def weights(self) -> list:
        return list(self._weights)

    @property
    def trainable_weights(self) -> list:
        return [w for w in self._weights if w.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return list(self._weights)
        return [w for w in self._weights if not w.trainable]

    def get_weights(self) -> list:
        """Copies of the weight arrays, in Keras' order and layouts."""
        return [w.numpy() for w in self._weights]

    def set_weights(self, weights) -> None:
        """Replace every weight; the count and each shape must match."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(
                f"{self.where}: set_weights expected a list of {len(self._weights)} arrays "
                f"({', '.join(w.name for w in self._weights) or 'the layer has no weights'}"
                f"{'' if self.built or self._weights else '; the layer is not built yet'}). "
                f"Received: a list of {len(weights)} arrays"
            )
        arrays = []
        for var, value in zip(self._weights, weights):
            value = as_float_array(value, dtype=var.value.dtype, where=self.where, name=var.name)
            if value.shape != var.shape:
                raise ValueError(
                    f"{self.where}: weight '{var.name}' has shape {var.shape}. "
                    f"Received: an array of shape {value.shape}"
                )
            arrays.append(value)
        for var, value in zip(self._weights, arrays):  # all checked: now assign
            var.assign(value, where=self.where)

    def regularized_weights(self) -> list:
        """(weight, regularizer) pairs: kernels with ``kernel_regularizer``, the bias with
        ``bias_regularizer``. The training loop adds their penalties to the loss."""
        pairs = []
        for var in self._weights:
            reg = self.bias_regularizer if var.name == "bias" else (
                self.kernel_regularizer if var.name.endswith("kernel") else None)
            if reg is not None:
                pairs.append((var, reg))
        return pairs

    def count_params(self) -> int:
        return int(sum(np.prod(w.shape) for w in self._weights))

    # ---- shapes, building and calling ---------------------------------------------
    def check_input_shape(self, shape) -> None:
        """Raise ValueError if an input of ``shape`` (batch axis included) cannot go in."""
        shape = tuple(shape)
        if self.input_ndim is not None and len(shape) != self.input_ndim:
            raise ValueError(
                f"Input of layer {self.where} is incompatible with the layer: expected "
                f"ndim={self.input_ndim}, found ndim={len(shape)}. Full shape received: {format_shape(shape)}"
            )
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(
                f"Input of layer {self.where} is incompatible with the layer: expected "
                f"min_ndim={self.min_ndim}, found ndim={len(shape)}. "
                f"Full shape received: {format_shape(shape)}"
            )
        if self.built and self._built_input_shape is not None:
            for axis in self._fixed_axes():
                want, got = self._built_input_shape[axis], shape[axis]
                if want is not None and got is not None and want != got:
                    raise ValueError(
                        f"Input of layer {self.where} is incompatible with the layer: expected axis {axis} "
                        f"of input shape to have value {want}, but received input with shape "
                        f"{format_shape(shape)}"
                    )

    def _fixed_axes(self) -> tuple:
        """Axes of the input whose size the weights fix (the channel axis for most layers)."""
        return ()

    def build(self, input_shape) -> None:
        self.built = True

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            self.check_input_shape(input_shape)
            self.build(tuple(input_shape))

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    def call(self, inputs, training=False):
        raise NotImplementedError

    def __call__(self, inputs, training=False):
        if is_symbolic(inputs):  # functional API: shapes only, nothing computed (layers/symbolic.py)
            return symbolic_call(self, inputs)
        if isinstance(inputs, Tensor):  # recorded by a GradientTape: keep the graph
            x = inputs if inputs.dtype == self.dtype else autograd.cast(inputs, self.dtype)
        else:
            x = as_float_array(inputs, dtype=self.dtype, where=f"Layer {self.where}", name="inputs")
        self.check_input_shape(x.shape)
        self._maybe_build(x.shape)
        return self.call(x, training=training)

    # ---- receptive fields and config ----------------------------------------------
    def receptive_field(self):
        """How the layer changes receptive fields: an ``ops.shapes.FieldStep`` (``POINTWISE`` for
        layers that keep every position's field: activations, padding, normalization; the
        window for convolutions and pooling; ``upsample``/``widen`` for upsampling), or None
        when every output sees the whole input (Flatten, Dense on vectors, global pooling).
        Models read it with ``ops.shapes.receptive_field_step(field, jump, *step)``."""
        return None

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        for key in ("kernel_regularizer", "bias_regularizer"):
            if getattr(self, key, None) is not None:
                config[key] = regularizers.serialize(getattr(self, key))
        if self._input_shape_arg is not None:
            config["input_shape"] = list(self._input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class InputLayer(Layer):
    """The input of a model: it only declares the shape (batch axis excluded)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None:
            raise ValueError("InputLayer: the `shape` argument is required. Received: shape=None")
        super().__init__(name=name, dtype=dtype, input_shape=shape, **kwargs)
        self.batch_size = batch_size
        self.built = True

    @property
    def shape(self) -> tuple:
        return (self.batch_size, *self._input_shape_arg)

    def call(self, inputs, training=False):
        return inputs

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        return {
            "shape": list(self._input_shape_arg),
            "batch_size": self.batch_size,
            "dtype": self.dtype,
            "name": self.name,
        }


class SymbolicInput(KerasTensor):
    """What ``Input(shape)`` returns: the KerasTensor a model's graph starts from (batch axis None)."""

    def __init__(self, layer: InputLayer):
        super().__init__(layer.shape, layer.dtype, layer=layer)

    def __repr__(self) -> str:
        return f"<SymbolicInput shape={format_shape(self.shape)}, dtype={self.dtype}, name={self.layer.name}>"


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """A model input of ``shape`` (without the batch axis), as ``keras.Input``."""
    return SymbolicInput(InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name))
