"""Keras-style layers: each owns its weights, builds lazily, and calls one op."""
from .augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .base import Input, InputLayer, Layer, clear_session
from .conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from .core import Activation, Dense, Dropout, Flatten, LeakyReLU, ReLU, Reshape, Softmax
from .merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from .preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from .reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Permute,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)

__all__ = [
    "Input", "InputLayer", "Layer", "clear_session", "get", "serialize", "deserialize",
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "Activation", "Dense", "Dropout", "Flatten", "LeakyReLU", "ReLU", "Reshape", "Softmax",
    "BatchNormalization",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Permute",
    "CenterCrop", "Normalization", "Rescaling", "Resizing",
    "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
    "RandomZoom",
    "Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract",
    # Keras' functional forms of the merging layers: add(inputs) is Add()(inputs)
    "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract",
]


def get(class_name: str):
    """The layer class called ``class_name`` (for configs and saved models)."""
    cls = globals().get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        known = sorted(k for k, v in globals().items() if isinstance(v, type) and issubclass(v, Layer))
        raise ValueError(f"Unknown layer class. Expected one of {known}. Received: class_name={class_name!r}")
    return cls


def serialize(layer) -> dict:
    """{'class_name': ..., 'config': ...}: a layer as JSON-ready data."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(data: dict):
    """The inverse of :func:`serialize`."""
    return get(data["class_name"]).from_config(dict(data["config"]))
