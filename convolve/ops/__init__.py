"""Stateless array functions: plain arrays in, plain arrays out.

This package is the single home of the arithmetic. ``shapes`` knows every output size;
``args`` normalises arguments; ``conv`` computes convolutions (forward, backward and
transposed), with its column builders in ``im2col`` and its threaded products in
``blas``; ``core`` holds the Dense product; ``pooling``, ``activations``,
``normalization`` and ``reshaping`` the rest. Each forward has its backward beside it.
"""
from .args import DATA_FORMATS, PADDING_MODES, PADDINGS, standardize_tuple
from .conv import applicable_formulations, choose_formulation, conv, pad
from .shapes import POINTWISE, AxisArithmetic, FieldStep, conv_output_shape, receptive_field_step
from .pooling import average_pool, global_average_pool, global_max_pool, max_pool
from .activations import ACTIVATIONS, elu, gelu, leaky_relu, linear, relu, selu, sigmoid, softmax, softplus, tanh
from .activations import get as get_activation
from .normalization import batch_norm
from .reshaping import crop, flatten, reshape, upsample_nearest, zero_pad
from .core import dense
from .pooling import average_pool_backward, global_average_pool_backward, global_max_pool_backward, max_pool_backward
from .activations import BACKWARD as ACTIVATION_BACKWARD
from .activations import (
    elu_backward,
    gelu_backward,
    leaky_relu_backward,
    linear_backward,
    relu_backward,
    selu_backward,
    sigmoid_backward,
    softmax_backward,
    softplus_backward,
    tanh_backward,
)
from .normalization import batch_norm_backward, batch_norm_train, batch_norm_train_backward
from .reshaping import crop_backward, flatten_backward, reshape_backward, upsample_nearest_backward, zero_pad_backward
from .core import dense_backward
