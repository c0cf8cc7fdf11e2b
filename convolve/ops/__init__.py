"""Stateless array functions: plain arrays in, plain arrays out.

This package is the single home of the arithmetic. ``shapes`` knows every output size;
``args`` normalises arguments; the package ``conv`` computes convolutions (its
``__init__`` says what is computed and chooses a formulation; one module per formulation
family, the gradients and the transposed convolution beside them), with products shared
among threads by ``blas``; ``core`` holds the Dense product; ``pooling``, ``activations``,
``normalization`` and ``reshaping`` the rest. Each forward has its backward beside it.
"""
from .activations import (
    ACTIVATIONS,
    elu,
    elu_backward,
    gelu,
    gelu_backward,
    leaky_relu,
    leaky_relu_backward,
    linear,
    linear_backward,
    relu,
    relu_backward,
    selu,
    selu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    softplus,
    softplus_backward,
    tanh,
    tanh_backward,
)
from .activations import BACKWARD as ACTIVATION_BACKWARD
from .activations import get as get_activation
from .args import DATA_FORMATS, PADDING_MODES, PADDINGS, standardize_tuple
from .conv import applicable_formulations, choose_formulation, conv, pad
from .core import dense, dense_backward
from .normalization import batch_norm, batch_norm_backward, batch_norm_train, batch_norm_train_backward
from .pooling import (
    average_pool,
    average_pool_backward,
    global_average_pool,
    global_average_pool_backward,
    global_max_pool,
    global_max_pool_backward,
    max_pool,
    max_pool_backward,
)
from .reshaping import (
    crop,
    crop_backward,
    flatten,
    flatten_backward,
    reshape,
    reshape_backward,
    upsample_nearest,
    upsample_nearest_backward,
    zero_pad,
    zero_pad_backward,
)
from .shapes import POINTWISE, AxisArithmetic, FieldStep, conv_output_shape, receptive_field_step

__all__ = [
    "ACTIVATION_BACKWARD", "ACTIVATIONS", "applicable_formulations", "average_pool",
    "average_pool_backward", "AxisArithmetic", "batch_norm", "batch_norm_backward", "batch_norm_train",
    "batch_norm_train_backward", "choose_formulation", "conv", "conv_output_shape", "crop", "crop_backward",
    "DATA_FORMATS", "dense", "dense_backward", "elu", "elu_backward", "FieldStep", "flatten",
    "flatten_backward", "gelu", "gelu_backward", "get_activation", "global_average_pool",
    "global_average_pool_backward", "global_max_pool", "global_max_pool_backward", "leaky_relu",
    "leaky_relu_backward", "linear", "linear_backward", "max_pool", "max_pool_backward", "pad",
    "PADDING_MODES", "PADDINGS", "POINTWISE", "receptive_field_step", "relu", "relu_backward", "reshape",
    "reshape_backward", "selu", "selu_backward", "sigmoid", "sigmoid_backward", "softmax",
    "softmax_backward", "softplus", "softplus_backward", "standardize_tuple", "tanh", "tanh_backward",
    "upsample_nearest", "upsample_nearest_backward", "zero_pad", "zero_pad_backward",
]
