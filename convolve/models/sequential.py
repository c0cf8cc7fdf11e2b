"""Sequential: a plain stack of layers, each feeding the next (``keras.Sequential``)."""
from __future__ import annotations

import math

import numpy as np

from ..backend import as_float_array
from ..layers.base import InputLayer, Layer, SymbolicInput, format_shape, unique_name
from ..ops.shapes import receptive_field_step
from .progress import Progbar
from .summary import axes_text, print_summary
from .saving import SavingMixin
from .training import TrainingMixin
from .weights import LayerWeightsMixin


class Sequential(LayerWeightsMixin, SavingMixin, TrainingMixin):
    """A linear stack of layers.

    ``Sequential([Conv2D(...), ...])`` or ``Sequential()`` then ``add(layer)``. The input
    shape comes from ``Input(shape)`` as the first element, the first layer's
    ``input_shape=``, ``build(input_shape)``, or the first call.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        self.name = name if name is not None else unique_name("sequential")
        self.trainable = trainable
        self._layers: list[Layer] = []
        self._input_shape = None  # batch axis included
        self.built = False
        self.compiled = False
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.stop_training = False
        for layer in layers or ():
            self.add(layer)

    # ---- construction --------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"Sequential '{self.name}'"

    def add(self, layer) -> None:
        """Append a layer (or an ``Input``/``InputLayer`` as the very first element)."""
        if isinstance(layer, SymbolicInput):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ValueError(f"{self.where}: an Input can only be the first element. Received: {layer!r}")
            self._input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{self.where}: add() expected a Layer (e.g. Conv2D(...)). Received: {layer!r} of type {type(layer).__name__}"
            )
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"{self.where}: all layers must have unique names. Received: a second layer named {layer.name!r}"
            )
        if not self._layers and self._input_shape is None and layer._input_shape_arg is not None:
            self._input_shape = (None, *layer._input_shape_arg)
        self._layers.append(layer)
        if self._input_shape is not None:
            self.build(self._input_shape)

    def pop(self) -> Layer:
        if not self._layers:
            raise ValueError(f"{self.where}: pop() on a model with no layers.")
        return self._layers.pop()

    @property
    def layers(self) -> list:
        return list(self._layers)

    def get_layer(self, name=None, index=None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.where}: no layer named {name!r}. Layers: {[l.name for l in self._layers]}")

    # ---- shapes and building ---------------------------------------------------------
    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included, may be None)."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(
                f"{self.where}: build() needs an input shape: pass it, start with Input(shape), "
                "or give the first layer input_shape=."
            )
        shape = tuple(input_shape)
        self._input_shape = shape
        for layer in self._layers:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = bool(self._layers)

    def _shapes(self) -> list:
        """Output shape of every layer, for the stored input shape."""
        shapes, shape = [], self._input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            shapes.append(shape)
        return shapes

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        if self._input_shape is None or not self._layers:
            raise ValueError(f"{self.where}: the model has no defined output shape yet (it is not built).")
        return self._shapes()[-1]

    # ---- inference -----------------------------------------------------------------
    def __call__(self, inputs, training=False):
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def predict(self, x, batch_size=32, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` in batches of ``batch_size``, as one NumPy array.

        ``verbose``: 'auto' or 1 shows a progress bar, 0 is silent.
        """
        if not self._layers:
            raise ValueError(f"{self.where}: predict() on a model with no layers.")
        x = as_float_array(x, where=f"{self.where}.predict", name="x")
        if x.ndim == 0:
            raise ValueError(f"{self.where}.predict: expected a batch of inputs. Received: a scalar")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"{self.where}.predict: batch_size must be a positive integer. Received: batch_size={batch_size!r}")
        if not self.built:
            self.build((None, *x.shape[1:]))
        # check shapes for the whole input before computing anything
        shape = (None, *x.shape[1:])
        for layer in self._layers:
            layer.check_input_shape(shape)
            shape = layer.compute_output_shape(shape)
        n = x.shape[0]
        steps_total = max(1, math.ceil(n / batch_size))
        bar = Progbar(steps_total) if verbose in ("auto", 1, True) else None
        outputs = []
        for step in range(steps_total):
            outputs.append(self(x[step * batch_size : (step + 1) * batch_size], training=False))
            if bar:
                bar.update(step + 1)
        return np.concatenate(outputs, axis=0) if len(outputs) > 1 else outputs[0]

    # ---- configuration -------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture as JSON-ready data: name, input shape and each layer's config."""
        from .. import layers as layers_module

        return {
            "name": self.name,
            "input_shape": None if self._input_shape is None else list(self._input_shape),
            "layers": [layers_module.serialize(layer) for layer in self._layers],
        }

    @classmethod
    def from_config(cls, config):
        from .. import layers as layers_module

        model = cls(name=config.get("name"))
        for data in config["layers"]:
            model._layers.append(layers_module.deserialize(data))
        if config.get("input_shape") is not None:
            model.build(tuple(config["input_shape"]))
        return model

    # ---- summary ---------------------------------------------------------------------
    def summary_rows(self) -> list:
        """One dict per layer: name, type, output shape, params, receptive field, jump."""
        rows = []
        shape = self._input_shape
        n_spatial = len(shape) - 2 if shape is not None and len(shape) >= 3 else 0
        field = (1,) * n_spatial
        jump = (1,) * n_spatial
        tracking = n_spatial > 0
        for layer in self._layers:
            out = layer.compute_output_shape(shape) if shape is not None else None
            rf = layer.receptive_field() if tracking else None
            if isinstance(rf, dict):
                field, jump = receptive_field_step(field, jump, rf["kernel_size"], rf["strides"], rf["dilation_rate"])
            elif rf == "pointwise":
                pass
            elif isinstance(rf, tuple) and rf and rf[0] == "upsample":
                # ("upsample", factors[, widen]): an output sees `widen` more positions of its
                # input (transposed convs), then outputs sit 1/factor input positions apart
                if len(rf) > 2:
                    field = tuple(r + w * j for r, w, j in zip(field, rf[2], jump))
                jump = tuple(j / s for j, s in zip(jump, rf[1]))
            else:
                tracking = False
            rows.append(
                {
                    "name": layer.name,
                    "type": type(layer).__name__,
                    "output_shape": out,
                    "params": layer.count_params(),
                    "receptive_field": field if tracking else None,
                    "jump": jump if tracking else None,
                }
            )
            shape = out
        return rows

    def summary(self, line_length=None, print_fn=None):
        """Print each layer's output shape, parameter count, receptive field and jump, and the totals.

        Receptive field: how many input pixels (per spatial axis) one output position sees;
        jump: how many input pixels apart two neighbouring outputs are. Shown for
        convolution/pooling stacks; '-' once a layer mixes all positions (Flatten, Dense).
        """
        rows = self.summary_rows()
        table = [("Layer (type)", "Output Shape", "Param #", "Receptive field", "Jump")]
        for r in rows:
            table.append(
                (
                    f"{r['name']} ({r['type']})",
                    format_shape(r["output_shape"]) if r["output_shape"] is not None else "?",
                    f"{r['params']:,}",
                    axes_text(r["receptive_field"]),
                    axes_text(r["jump"]),
                )
            )
        print_summary(self, table, print_fn, line_length)
