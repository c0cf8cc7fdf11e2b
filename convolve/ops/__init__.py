"""Stateless array functions: plain arrays in, plain arrays out.

This package is the single home of the arithmetic. ``shapes`` knows every output size;
``conv`` computes convolutions; the other modules hold pooling, activations,
normalization and reshaping.
"""
from .args import DATA_FORMATS, PADDING_MODES, PADDINGS, standardize_tuple
from .conv import applicable_formulations, choose_formulation, conv, pad
from .shapes import AxisArithmetic, conv_output_shape, receptive_field_step
from .pooling import average_pool, global_average_pool, global_max_pool, max_pool
from .activations import ACTIVATIONS, elu, gelu, leaky_relu, linear, relu, selu, sigmoid, softmax, softplus, tanh
from .activations import get as get_activation
from .normalization import batch_norm
from .reshaping import crop, flatten, reshape, upsample_nearest, zero_pad
from .core import dense
