"""Symbolic tensors: what a layer returns when it is called on ``Input(shape)`` or on
another layer's symbolic output (Keras' functional API).

    x = Input((32, 32, 3))                 # a SymbolicInput: shape (None, 32, 32, 3)
    y = Conv2D(8, 3)(x)                    # a KerasTensor: shape (None, 30, 30, 8), nothing computed
    z = Add()([y, Conv2D(8, 1)(y)])        # merging layers take a list

Calling a layer symbolically computes nothing: the layer checks the shape, builds its
weights from it (the batch axis stays None) and returns a :class:`KerasTensor` holding

* ``shape`` and ``dtype`` (the layer's dtype: layers cast their inputs to it);
* ``layer``: the layer that made it;
* ``inputs``: the symbolic tensors it was computed from (one, or several for a merge).

Each KerasTensor is one call ("node") of its layer; a layer called twice (a shared layer)
makes two KerasTensors with the same ``layer``. Following ``inputs`` back from a model's
outputs gives the whole graph, which ``convolve.models.Model`` orders and runs.

This module imports nothing from ``convolve.models``: layers never import models.
"""
from __future__ import annotations

from ..ops.shapes import format_shape


class KerasTensor:
    """A symbolic tensor: a shape (batch axis None), a dtype, and the layer call that made it."""

    def __init__(self, shape, dtype, layer=None, inputs=()):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.layer = layer
        self.inputs = tuple(inputs)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str:
        """The name of the layer that produced it."""
        return self.layer.name if self.layer is not None else "keras_tensor"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"A symbolic tensor has no values: it only describes the shape {format_shape(self.shape)} of "
            f"layer '{self.name}''s output. Build a model with convolve.Model(inputs, outputs) and call "
            "it (or its predict) on arrays."
        )

    def __repr__(self) -> str:
        return f"<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}, layer={self.name}>"


def is_symbolic(inputs) -> bool:
    """True for a KerasTensor, or a list/tuple holding one."""
    if isinstance(inputs, KerasTensor):
        return True
    return isinstance(inputs, (list, tuple)) and any(isinstance(x, KerasTensor) for x in inputs)


def symbolic_call(layer, inputs) -> KerasTensor:
    """Call ``layer`` on symbolic ``inputs``: check the shapes, build the layer, compute the
    output shape, and return the output's KerasTensor. No array is touched.

    A layer that takes a list of inputs (a merging layer) declares ``takes_list = True``;
    any other layer takes exactly one symbolic tensor.
    """
    if isinstance(inputs, KerasTensor):
        tensors, shape = (inputs,), inputs.shape
    else:
        others = [type(x).__name__ for x in inputs if not isinstance(x, KerasTensor)]
        if others:
            raise TypeError(
                f"Layer {layer.where}: a list of inputs must be all symbolic tensors (from Input(shape) or "
                f"from other layers) or all arrays, not a mix. Received: a list with {', '.join(others)}"
            )
        if not getattr(layer, "takes_list", False):
            raise TypeError(
                f"Layer {layer.where} takes one input tensor, not a list. "
                f"Received: a list of {len(inputs)} symbolic tensors"
            )
        tensors = tuple(inputs)
        shape = [t.shape for t in tensors]
    layer.check_input_shape(shape)
    layer._maybe_build(shape)
    output_shape = layer.compute_output_shape(shape)
    return KerasTensor(output_shape, layer.dtype, layer=layer, inputs=tensors)
