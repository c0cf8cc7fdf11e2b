"""The ``direct`` formulation: one input channel per group (a grey image filtered by one
kernel; depthwise convolutions), taps accumulated with broadcasting, no matrix product.

With G groups, F / G filters each and the tap's window w_t (N, *O, G) of the padded input:

    y[..., g, j] = bias[g * F/G + j] + sum over taps t of w_t[..., g] * kernel[t, 0, g * F/G + j]

Its gradients are ``backward.direct_gradients``.
"""
from __future__ import annotations

import numpy as np

from .epilogue import finish
from .geometry import ConvGeometry, window


def forward(x_padded, kernel, bias, geometry: ConvGeometry, activation=None):
    """y (N, *O, F), a new array, from ``x_padded`` (N, *P, G) and ``kernel`` (*K, 1, F):
    broadcasting over all groups at once, no loop but over taps; then ``activation``."""
    groups, out_sizes = geometry.groups, geometry.out_sizes
    filters = kernel.shape[-1]
    filters_per_group = filters // groups
    batch = x_padded.shape[0]
    y = np.empty((batch, *out_sizes, groups, filters_per_group), dtype=x_padded.dtype)
    y[...] = 0 if bias is None else bias.reshape(groups, filters_per_group)  # the bias starts the sum
    term = np.empty_like(y)
    for tap in geometry.tap_positions():
        tap_window = window(x_padded, tap, geometry)  # (N, *O, G)
        np.multiply(tap_window[..., None], kernel[tap].reshape(groups, filters_per_group), out=term)
        y += term
    finish(y, activation)
    return y.reshape(batch, *out_sizes, filters)
