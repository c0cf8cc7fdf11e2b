"""Weight accessors shared by Sequential and Model: every layer's weights, in ``layers`` order."""
from __future__ import annotations

import numpy as np


class LayerWeightsMixin:
    """Needs ``self.layers``, ``self.trainable`` and ``self.where``."""

    @property
    def weights(self) -> list:
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        return [w for layer in self.layers for w in layer.trainable_weights] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list:
        """Copies of every layer's weights, layer by layer, in Keras' order and layouts."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Set all weights from a flat list, as returned by get_weights(); checks everything first."""
        weights = list(weights)
        expected = [w for layer in self.layers for w in layer.weights]
        if len(weights) != len(expected):
            raise ValueError(
                f"{self.where}: set_weights expected a list of {len(expected)} arrays "
                f"({', '.join(w.path for w in expected) or 'the model has no weights; is it built?'}). "
                f"Received: a list of {len(weights)} arrays"
            )
        for var, value in zip(expected, weights):
            shape = np.shape(value)
            if tuple(shape) != var.shape:
                raise ValueError(
                    f"{self.where}: weight '{var.path}' has shape {var.shape}. "
                    f"Received: an array of shape {tuple(shape)}"
                )
        i = 0
        for layer in self.layers:
            k = len(layer.weights)
            layer.set_weights(weights[i : i + k])
            i += k

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)
