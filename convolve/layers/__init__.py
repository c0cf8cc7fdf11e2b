"""Keras-style layers: each owns its weights, builds lazily, and calls one op."""
from .base import Input, InputLayer, Layer, clear_session
from .conv import (
    Conv1D,
    Conv2D,
    Conv3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
