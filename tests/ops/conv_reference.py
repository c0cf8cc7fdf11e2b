"""The convolution's definition written out as plain loops, and the random configurations the
conv tests draw: the yardstick of tests/ops/test_conv*.py.

:func:`reference_conv` is the definition of a convolution as plain Python loops, with its own
padding (an explicit index mapping per padding mode) and its own padding amounts (the rules of
DESIGN.md, written out again here so that ops/shapes.py is checked too). tests/ops/conv_taps.py
is a second, differently computed oracle (the per-tap products of the flat padded input).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
from hypothesis import strategies as st

from convolve.ops import PADDING_MODES

# --- the definition-level reference -------------------------------------------------


def as_tuple(value, rank):
    """An int or a per-axis sequence, as a per-axis tuple."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


def reference_pads(padding, sizes, kernel_size, strides, dilations):
    """(before, after) per axis, by the rules of DESIGN.md."""
    pads = []
    for axis, (n, k, s, d) in enumerate(zip(sizes, kernel_size, strides, dilations)):
        effective = d * (k - 1) + 1
        if padding == "valid":
            pair = (0, 0)
        elif padding == "same":
            out = (n + s - 1) // s  # ceil(n / s)
            total = max((out - 1) * s + effective - n, 0)
            pair = (total // 2, total - total // 2)  # the extra pixel goes after
        elif padding == "causal":
            pair = (effective - 1, 0)
        elif padding == "full":
            pair = (effective - 1, effective - 1)
        elif isinstance(padding, int):
            pair = (padding, padding)
        else:
            item = padding[axis]
            pair = (item, item) if isinstance(item, int) else tuple(item)
        pads.append(pair)
    return pads


def reference_output_sizes(sizes, kernel_size, strides, dilations, pads):
    """floor((n + before + after - effective kernel) / s) + 1 per axis."""
    return tuple(
        (n + before + after - (d * (k - 1) + 1)) // s + 1
        for n, k, s, d, (before, after) in zip(sizes, kernel_size, strides, dilations, pads)
    )


def reference_index(i, n, mode):
    """Which input element position ``i`` reads on an axis of size ``n``.

    ``i`` counts from the first real element, so -1 is the first padded position
    before it and ``n`` the first after. Returns None where the padded value is zero.
    """
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "replicate":  # repeat the edge element
        return 0 if i < 0 else n - 1
    if mode == "circular":  # wrap around
        return i % n
    if mode == "reflect":  # mirror about the edge element, which is not repeated
        if n == 1:
            return 0
        period = 2 * (n - 1)  # 0 1 2 ... n-1 n-2 ... 1 | 0 1 2 ...
        j = i % period
        return j if j < n else period - j
    raise AssertionError(f"unknown padding mode {mode!r}")


def reference_conv(x, kernel, bias, strides, padding, dilation_rate, groups, padding_mode):
    """y (N, *O, F) from channels_last x (N, *S, C) and kernel (*K, C/G, F), by the definition:

    y[b, o, f] = bias[f] + sum over taps t and channels c < C/G of
                 x_padded[b, o * stride + t * dilation, g * C/G + c] * kernel[t, c, f]

    with g = f // (F/G). Padded positions are mapped back onto the input by
    :func:`reference_index`; every product is a Python float product.
    """
    rank = kernel.ndim - 2
    batch, sizes = x.shape[0], x.shape[1:-1]
    kernel_size, per_group, filters = kernel.shape[:rank], kernel.shape[-2], kernel.shape[-1]
    strides, dilations = as_tuple(strides, rank), as_tuple(dilation_rate, rank)
    filters_per_group = filters // groups
    pads = reference_pads(padding, sizes, kernel_size, strides, dilations)
    out_sizes = reference_output_sizes(sizes, kernel_size, strides, dilations, pads)
    # source[a][o][t]: the input index on axis a read by output o through tap t
    source = [
        [[reference_index(o * s + t * d - before, n, padding_mode) for t in range(k)] for o in range(out)]
        for n, k, s, d, (before, _), out in zip(sizes, kernel_size, strides, dilations, pads, out_sizes)
    ]
    y = np.zeros((batch, *out_sizes, filters))
    for b in range(batch):
        for o in product(*(range(out) for out in out_sizes)):
            for f in range(filters):
                g = f // filters_per_group
                total = 0.0 if bias is None else bias.item(f)
                for t in product(*(range(k) for k in kernel_size)):
                    index = tuple(source[a][o[a]][t[a]] for a in range(rank))
                    if None in index:  # a zero from the padding
                        continue
                    for c in range(per_group):
                        total += x.item(b, *index, g * per_group + c) * kernel.item(*t, c, f)
                y[(b, *o, f)] = total
    return y

# --- random configurations -----------------------------------------------------------


@dataclass
class Config:
    rank: int
    batch: int
    sizes: tuple
    channels: int
    filters: int
    groups: int
    kernel_size: tuple
    strides: object  # as passed: int or per-axis tuple
    dilation_rate: object
    padding: object
    padding_mode: str
    data_format: str
    use_bias: bool
    seed: int

    @property
    def stride_tuple(self):
        return as_tuple(self.strides, self.rank)

    @property
    def dilation_tuple(self):
        return as_tuple(self.dilation_rate, self.rank)

    def arrays(self):
        """Random x (channels_last), kernel and bias, exactly representable in float32."""
        rng = np.random.default_rng(self.seed)

        def draw(*shape):
            return rng.standard_normal(shape).astype(np.float32).astype(np.float64)

        x = draw(self.batch, *self.sizes, self.channels)
        kernel = draw(*self.kernel_size, self.channels // self.groups, self.filters)
        bias = draw(self.filters) if self.use_bias else None
        return x, kernel, bias

    def kwargs(self):
        return dict(
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            groups=self.groups,
            data_format=self.data_format,
            padding_mode=self.padding_mode,
        )


# per rank: the largest kernel, dilation, stride, explicit pad, spatial size and batch.
# Small enough that the Python-loop reference takes milliseconds.
LIMITS = {
    1: dict(kernel=4, dilation=3, stride=3, pad=3, size=12, batch=3),
    2: dict(kernel=3, dilation=2, stride=3, pad=2, size=7, batch=2),
    3: dict(kernel=2, dilation=2, stride=2, pad=1, size=4, batch=2),
}


def per_axis_or_int(rank, values):
    """An int, or a per-axis tuple of ints: both forms the API accepts."""
    return st.one_of(values, st.tuples(*[values] * rank))


@st.composite
def paddings(draw, rank, max_pad):
    """Every form of padding the API accepts, 'same' twice as often as the other names."""
    names = ["valid", "same", "same", "full"] + (["causal"] if rank == 1 else [])
    kind = draw(st.sampled_from(names + ["int", "per-axis", "pairs", "mixed"]))
    amount = st.integers(0, max_pad)
    pair = st.tuples(amount, amount)
    if kind == "int":  # the same on every side
        return draw(amount)
    if kind == "per-axis":  # one int per axis
        return draw(st.tuples(*[amount] * rank))
    if kind == "pairs":  # (before, after) per axis
        return draw(st.tuples(*[pair] * rank))
    if kind == "mixed":  # ints and pairs
        return draw(st.tuples(*[st.one_of(amount, pair)] * rank))
    return kind


@st.composite
def conv_configs(draw, torch_compatible=False):
    """A random convolution; with ``torch_compatible`` every axis is longer than its padding
    (PyTorch's reflect and circular padding refuse to wrap more than once).

    Weighted so that every formulation gets its share: one group half the time (taps,
    pointwise), stride 1 often (taps), 1x1 kernels one time in six (pointwise), one
    channel per group often (direct, depthwise).
    """
    rank = draw(st.sampled_from([1, 2, 3]))
    lim = LIMITS[rank]
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    per_group = draw(st.sampled_from([1, 1, 2, 3]))  # 1: depthwise when groups > 1
    filters = groups * draw(st.integers(1, 2))
    if draw(st.integers(0, 5)) == 0:
        kernel_size = (1,) * rank
    else:
        kernel_size = tuple(draw(st.integers(1, lim["kernel"])) for _ in range(rank))
    strides = draw(st.one_of(st.just(1), per_axis_or_int(rank, st.integers(1, lim["stride"]))))
    dilation_rate = draw(per_axis_or_int(rank, st.integers(1, lim["dilation"])))
    padding = draw(paddings(rank, lim["pad"]))
    sizes = []
    for axis, (k, d) in enumerate(zip(kernel_size, as_tuple(dilation_rate, rank))):
        effective = d * (k - 1) + 1
        if padding in ("same", "full", "causal"):
            low, largest_pad = 1, effective - 1
        else:
            before, after = reference_pads(padding, [1] * rank, kernel_size, [1] * rank, [1] * rank)[axis]
            low, largest_pad = max(1, effective - before - after), max(before, after)
        if torch_compatible:
            low = max(low, largest_pad + 1)
        sizes.append(draw(st.integers(low, max(low, lim["size"]))))
    return Config(
        rank=rank,
        batch=draw(st.integers(1, lim["batch"])),
        sizes=tuple(sizes),
        channels=groups * per_group,
        filters=filters,
        groups=groups,
        kernel_size=kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
        padding=padding,
        padding_mode=draw(st.sampled_from(PADDING_MODES)),
        data_format=draw(st.sampled_from(["channels_last", "channels_first"])),
        use_bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def to_channels_first(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def read_only(a):
    if a is not None:
        a.flags.writeable = False
    return a


def finite_difference(f, arrays, which, eps=1e-6):
    """Central differences of the scalar ``f(*arrays)`` with respect to ``arrays[which]``."""
    arr = arrays[which]
    out = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[which][idx] += eps
        minus[which][idx] -= eps
        out[idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return out
