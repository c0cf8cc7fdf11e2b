"""Sequential: a plain stack of layers, each feeding the next (``keras.Sequential``).

As in Keras 3, a Sequential is a functional ``Model``: once it knows its input shape it
makes an ``Input`` of that shape, calls its layers on it one after the other, and from then
on is exactly the graph ``Model(input, output)`` would be; calling, ``predict``, training,
``summary`` and saving are ``Model``'s. What it adds is the list-like way to build one:

    model = Sequential([Input((28, 28, 1)), Conv2D(8, 3), Flatten(), Dense(10)])
    model = Sequential(); model.add(Conv2D(8, 3, input_shape=(28, 28, 1)))   # the same

The input shape comes from an ``Input(shape)`` as the first element, the first layer's
``input_shape=``, ``build(input_shape)``, or the first data it is called, fitted or
predicted on. Until then the model has no graph (``built`` is False).
"""
from __future__ import annotations

from ..autograd import Tensor
from ..backend import as_float_array
from ..layers.base import InputLayer, Layer, SymbolicInput, unique_name
from ..layers.symbolic import KerasTensor
from ..saving import register_model_class
from .functional import Model


@register_model_class
class Sequential(Model):
    """A linear stack of layers: ``Sequential(layers=None, name=None, trainable=True)``."""

    _summary_connections = False

    def __init__(self, layers=None, name=None, trainable=True):
        self._init_model(name if name is not None else unique_name("sequential"), trainable)
        self._stack: list[Layer] = []  # the layers, the InputLayer not among them (Keras' `layers`)
        self._input_layer: InputLayer | None = None
        for layer in layers or ():
            self.add(layer)

    # ---- construction --------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"Sequential '{self.name}'"

    @property
    def layers(self) -> list:
        """The layers in order (without the InputLayer, as in Keras)."""
        return list(self._stack)

    def add(self, layer) -> None:
        """Append a layer (or an ``Input``/``InputLayer`` as the very first element)."""
        if isinstance(layer, SymbolicInput):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(f"{self.where}: an Input can only be the first element. Received: {layer!r}")
            self._input_layer = layer
            self._rebuild()
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{self.where}: add() expected a Layer (e.g. Conv2D(...)). "
                f"Received: {layer!r} of type {type(layer).__name__}"
            )
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(
                f"{self.where}: all layers must have unique names. "
                f"Received: a second layer named {layer.name!r}"
            )
        if not self._stack and self._input_layer is None and layer._input_shape_arg is not None:
            self._input_layer = InputLayer(shape=layer._input_shape_arg, dtype=layer.dtype)
        self._stack.append(layer)
        try:
            self._rebuild()
        except Exception:
            self._stack.pop()  # a layer that does not fit is not kept
            self._rebuild()
            raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise ValueError(f"{self.where}: pop() on a model with no layers.")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    def _rebuild(self) -> None:
        """The graph for the known input shape: the input, then one call of each layer."""
        if self._input_layer is None or not self._stack:
            self.built = False
            return
        x = SymbolicInput(self._input_layer)
        y = x
        for layer in self._stack:
            y = layer(y)
        self._init_graph(x, y)

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis included, may be None)."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(
                    f"{self.where}: build() needs an input shape: pass it, start with Input(shape), "
                    "or give the first layer input_shape=."
                )
            self._rebuild()
            return
        shape = tuple(None if s is None else int(s) for s in input_shape)
        if len(shape) < 2:
            raise ValueError(
                f"{self.where}: build() expects an input shape with a batch axis, e.g. (None, 28, 28, 1). "
                f"Received: input_shape={input_shape!r}"
            )
        if self._input_layer is None or self._input_layer.shape != shape:
            dtype = self._stack[0].dtype if self._stack else None
            self._input_layer = InputLayer(shape=shape[1:], batch_size=shape[0], dtype=dtype)
        self._rebuild()

    def _build_for(self, x, where) -> None:
        """Build for data ``x`` (an array, a Tensor or a symbolic tensor) if not built yet."""
        if self.built:
            return
        if not self._stack:
            raise ValueError(f"{where}: the model has no layers. Received: a Sequential with no layers")
        if not isinstance(x, (Tensor, KerasTensor)):
            x = as_float_array(x, where=where, name="x")
        if len(x.shape) == 0:
            raise ValueError(f"{where}: expected a batch of inputs. Received: a scalar")
        self.build((None, *x.shape[1:]))

    @property
    def input_shape(self):
        return None if self._input_layer is None else self._input_layer.shape

    @property
    def output_shape(self):
        if not self.built:
            raise ValueError(f"{self.where}: the model has no defined output shape yet (it is not built).")
        return super().output_shape

    # ---- configuration -------------------------------------------------------------------
    def get_config(self) -> dict:
        """The architecture as JSON-ready data: name, input shape (batch axis included) and
        each layer's config."""
        from .. import layers as layers_module

        shape = self.input_shape
        return {
            "name": self.name,
            "input_shape": None if shape is None else list(shape),
            "layers": [layers_module.serialize(layer) for layer in self._stack],
        }

    @classmethod
    def from_config(cls, config):
        from .. import layers as layers_module

        model = cls(name=config.get("name"))
        model._stack = [layers_module.deserialize(data) for data in config["layers"]]
        if config.get("input_shape") is not None:
            model.build(tuple(config["input_shape"]))
        return model

    # ---- summary ---------------------------------------------------------------------
    def summary_rows(self) -> list:
        """One dict per layer, as ``Model.summary_rows`` (shapes, field and jump None until the
        model is built)."""
        if self.built:
            return super().summary_rows()
        return [
            {"name": layer.name, "type": type(layer).__name__, "input_shape": None, "output_shape": None,
             "params": layer.count_params(), "receptive_field": None, "jump": None, "connected_to": []}
            for layer in self._stack
        ]
