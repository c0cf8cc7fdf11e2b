"""Pooling layers: Keras arguments and defaults, names, shapes, errors, and values against
hand-computed numbers and a plain-loop reference (the ops are checked in tests/ops)."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convolve.layers.base import clear_session
from convolve.layers.conv import Conv2D
from convolve.layers.pooling import (
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
from convolve.models.sequential import Sequential
from convolve.ops.shapes import FieldStep
from tests.helpers import assert_close, requires_torch, torch

MAX = {1: MaxPooling1D, 2: MaxPooling2D, 3: MaxPooling3D}
AVG = {1: AveragePooling1D, 2: AveragePooling2D, 3: AveragePooling3D}
GMAX = {1: GlobalMaxPooling1D, 2: GlobalMaxPooling2D, 3: GlobalMaxPooling3D}
GAVG = {1: GlobalAveragePooling1D, 2: GlobalAveragePooling2D, 3: GlobalAveragePooling3D}
WINDOWED = [*MAX.values(), *AVG.values()]
GLOBAL = [*GMAX.values(), *GAVG.values()]


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def loop_pool(x, pool, strides, padding, kind):
    """Plain-loop pooling of channels_last ``x``; padded cells belong to no window.

    'same' split written out from its definition: out = ceil(n / s),
    total = max((out - 1) * s + k - n, 0), before = total // 2.
    """
    n = len(pool)
    size = x.shape[1:-1]
    if padding == "same":
        out = [-(-size[a] // strides[a]) for a in range(n)]
        before = [max((out[a] - 1) * strides[a] + pool[a] - size[a], 0) // 2 for a in range(n)]
    else:
        out = [(size[a] - pool[a]) // strides[a] + 1 for a in range(n)]
        before = [0] * n
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in itertools.product(*(range(v) for v in out)):
        cells = []
        for t in itertools.product(*(range(k) for k in pool)):
            pos = tuple(o[a] * strides[a] + t[a] - before[a] for a in range(n))
            if all(0 <= pos[a] < size[a] for a in range(n)):
                cells.append(x[(slice(None), *pos, slice(None))])
        stacked = np.stack(cells)  # (cells, batch, channels)
        y[(slice(None), *o, slice(None))] = (
            stacked.max(axis=0) if kind == "max" else stacked.sum(axis=0) / len(cells)
        )
    return y


def to_first(x):
    return np.moveaxis(x, -1, 1)


# ---- Keras defaults and names ---------------------------------------------------------


@pytest.mark.parametrize("table", [MAX, AVG])
def test_keras_defaults(table):
    for rank, cls in table.items():
        layer = cls()
        assert layer.pool_size == (2,) * rank and layer.strides == (2,) * rank
        assert layer.padding == "valid" and layer.data_format == "channels_last"


def test_strides_default_to_pool_size_and_global_defaults():
    assert MaxPooling2D(3).strides == (3, 3)
    assert MaxPooling2D((3, 2)).strides == (3, 2)
    assert MaxPooling2D(3, strides=1).strides == (1, 1)
    for cls in GLOBAL:
        layer = cls()
        assert layer.keepdims is False and layer.data_format == "channels_last"


def test_automatic_names():
    assert MaxPooling2D().name == "max_pooling2d"
    assert MaxPooling2D().name == "max_pooling2d_1"
    assert MaxPooling1D().name == "max_pooling1d"
    assert AveragePooling3D().name == "average_pooling3d"
    assert GlobalAveragePooling2D().name == "global_average_pooling2d"
    assert GlobalMaxPooling1D().name == "global_max_pooling1d"
    assert MaxPooling2D(name="pool").name == "pool"


# ---- values ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hand_computed_2d(dtype):
    x = np.arange(16, dtype=dtype).reshape(1, 4, 4, 1)
    mx = MaxPooling2D(dtype=dtype)(x)[0, :, :, 0]
    av = AveragePooling2D(dtype=dtype)(x)[0, :, :, 0]
    assert_close(mx, [[5, 7], [13, 15]], dtype)
    assert_close(av, [[2.5, 4.5], [10.5, 12.5]], dtype)
    assert mx.dtype == dtype and av.dtype == dtype


def test_same_padding_cells_are_not_counted():
    # windows of 3 with stride 3 over 5 steps, 'same': pads (0, 1); the second window is {3, 4}
    x = np.array([0.0, 1, 2, 3, 4]).reshape(1, 5, 1)
    assert_close(AveragePooling1D(3, padding="same")(x)[0, :, 0], [1.0, 3.5])
    # all negative: a padded zero must not win the maximum
    assert_close(MaxPooling1D(3, padding="same")(-x - 1)[0, :, 0], [-1.0, -4.0])


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_loop_reference(rank, kind, padding, dtype):
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((2, *[5, 6, 4][:rank], 3)).astype(dtype)
    pool, strides = (3, 2, 2)[:rank], (2, 1, 3)[:rank]
    cls = (MAX if kind == "max" else AVG)[rank]
    y = cls(pool, strides, padding, dtype=dtype)(x)
    assert y.dtype == dtype
    assert_close(y, loop_pool(x.astype(np.float64), pool, strides, padding, kind), dtype)
    # channels_first: the same numbers, channels moved
    y_first = cls(pool, strides, padding, data_format="channels_first", dtype=dtype)(to_first(x))
    assert_close(y_first, to_first(y), dtype)


@settings(max_examples=40)
@given(
    rank=st.integers(1, 3),
    data=st.data(),
    padding=st.sampled_from(["valid", "same"]),
    kind=st.sampled_from(["max", "avg"]),
    channels_first=st.booleans(),
)
def test_random_configurations(rank, data, padding, kind, channels_first):
    """compute_output_shape equals the output's shape, and the values the loop reference's."""
    size = data.draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank))
    pool = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    strides = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    fmt = "channels_first" if channels_first else "channels_last"
    layer = (MAX if kind == "max" else AVG)[rank](pool, strides, padding, fmt, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, *size, 3))
    xin = to_first(x) if channels_first else x
    shape = (None, *xin.shape[1:])
    if padding == "valid" and any(s < k for s, k in zip(size, pool)):
        with pytest.raises(ValueError, match="the output would be empty"):
            layer.compute_output_shape(shape)
        with pytest.raises(ValueError, match="the output would be empty"):
            layer(xin)
        return
    y = layer(xin)
    assert layer.compute_output_shape(shape) == (None, *y.shape[1:])
    assert layer.compute_output_shape(xin.shape) == y.shape
    expected = loop_pool(x, pool, strides, padding, kind)
    assert_close(y, to_first(expected) if channels_first else expected)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_global_pooling_against_loops(rank, keepdims, dtype):
    x = np.random.default_rng(rank).standard_normal((2, *[3, 4, 2][:rank], 5)).astype(dtype)
    positions = list(itertools.product(*(range(s) for s in x.shape[1:-1])))
    cells = [x[(slice(None), *p, slice(None))].astype(np.float64) for p in positions]
    ref_max, ref_mean = cells[0].copy(), sum(cells) / len(cells)
    for c in cells[1:]:
        ref_max = np.maximum(ref_max, c)
    for cls, ref in ((GMAX[rank], ref_max), (GAVG[rank], ref_mean)):
        layer = cls(keepdims=keepdims, dtype=dtype)
        y = layer(x)
        expected = ref.reshape(2, *(1,) * rank, 5) if keepdims else ref
        assert y.dtype == dtype
        assert_close(y, expected, dtype)
        assert layer.compute_output_shape((None, *x.shape[1:])) == (None, *expected.shape[1:])
        first = cls(data_format="channels_first", keepdims=keepdims, dtype=dtype)
        y_first = first(to_first(x))
        assert_close(y_first, to_first(expected) if keepdims else expected, dtype)
        assert first.compute_output_shape(to_first(x).shape) == y_first.shape


def test_unknown_spatial_sizes_give_none():
    assert MaxPooling2D().compute_output_shape((None, None, None, 3)) == (None, None, None, 3)
    assert GlobalMaxPooling2D().compute_output_shape((None, None, None, 3)) == (None, 3)
    assert AveragePooling1D(data_format="channels_first").compute_output_shape((4, 3, None)) == (4, 3, None)


# ---- dtypes and inputs ----------------------------------------------------------------


@pytest.mark.parametrize("cls", WINDOWED + GLOBAL)
def test_inputs_not_modified_and_dtypes(cls):
    rank = int(cls.__name__[-2])
    x = np.random.default_rng(1).standard_normal((2, *(4,) * rank, 3)).astype(np.float32)
    copy = x.copy()
    kwargs = {} if cls in GLOBAL else {"padding": "same"}
    assert cls(**kwargs)(x).dtype == np.float32
    assert cls(dtype="float64", **kwargs)(x).dtype == np.float64
    assert cls(**kwargs)(x.astype(np.int64)).dtype == np.float32  # integers become float32
    np.testing.assert_array_equal(x, copy)


def test_no_weights():
    layer = MaxPooling2D()
    layer(np.zeros((1, 4, 4, 1)))
    assert layer.get_weights() == [] and layer.count_params() == 0
    layer.set_weights([])
    with pytest.raises(ValueError, match=r"set_weights expected a list of 0 arrays"):
        layer.set_weights([np.zeros(1)])


# ---- receptive fields and config ------------------------------------------------------


def test_receptive_field_and_summary():
    assert MaxPooling2D(3, 2).receptive_field() == FieldStep(kernel_size=(3, 3), strides=(2, 2))
    assert AveragePooling1D().receptive_field() == FieldStep(kernel_size=(2,), strides=(2,))
    assert GlobalAveragePooling2D().receptive_field() is None
    model = Sequential([Conv2D(2, 3), MaxPooling2D(), Conv2D(2, 3), GlobalMaxPooling2D()])
    model.build((None, 16, 16, 1))
    rows = model.summary_rows()
    # 3x3 conv: field 3; 2x2 pool: field 3 + 1 = 4, jump 2; 3x3 conv: 4 + 2 * 2 = 8
    assert [r["receptive_field"] for r in rows] == [(3, 3), (4, 4), (8, 8), None]
    assert rows[1]["jump"] == (2, 2) and rows[1]["output_shape"] == (None, 7, 7, 2)


@pytest.mark.parametrize("cls", WINDOWED + GLOBAL)
def test_config_round_trip(cls):
    if cls in GLOBAL:
        layer = cls(data_format="channels_first", keepdims=True, name="p")
    else:
        layer = cls(pool_size=3, strides=1, padding="same", data_format="channels_first", name="p")
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    if cls not in GLOBAL:
        assert config["pool_size"] == [3] * clone.rank and config["padding"] == "same"
    assert config["data_format"] == "channels_first"


# ---- errors ---------------------------------------------------------------------------


def test_argument_errors():
    with pytest.raises(
        ValueError,
        match=r"MaxPooling2D 'max_pooling2d': the `pool_size` argument must contain only positive integers\. "
        r"Received: pool_size=0",
    ):
        MaxPooling2D(0)
    with pytest.raises(
        ValueError,
        match=r"AveragePooling2D .*the `pool_size` argument must be an int or a tuple of 2 ints\. Received: "
        r"pool_size=\(2,\)",
    ):
        AveragePooling2D((2,))
    with pytest.raises(TypeError, match=r"MaxPooling1D .*`pool_size`.*Received: pool_size=2\.5"):
        MaxPooling1D(2.5)
    with pytest.raises(
        ValueError,
        match=r"MaxPooling3D .*the `strides` argument must contain only positive integers\. Received: "
        r"strides=\(1, 0, 1\)",
    ):
        MaxPooling3D(strides=(1, 0, 1))
    with pytest.raises(
        ValueError,
        match=r"AveragePooling1D .*the `padding` argument must be one of \{'valid', 'same'\}\. Received: "
        r"padding='causal'",
    ):
        AveragePooling1D(padding="causal")
    with pytest.raises(ValueError, match=r"MaxPooling2D .*`padding`.*Received: padding='full'"):
        MaxPooling2D(padding="full")
    with pytest.raises(
        ValueError,
        match=r"MaxPooling2D .*the `data_format` argument must be one of .*Received: data_format='nhwc'",
    ):
        MaxPooling2D(data_format="nhwc")
    with pytest.raises(ValueError, match=r"GlobalMaxPooling2D .*`data_format`.*Received: data_format='nchw'"):
        GlobalMaxPooling2D(data_format="nchw")
    with pytest.raises(
        TypeError,
        match=r"GlobalAveragePooling1D 'global_average_pooling1d': the `keepdims` argument must be True or "
        r"False\. Received: keepdims='yes'",
    ):
        GlobalAveragePooling1D(keepdims="yes")
    with pytest.raises(
        TypeError, match=r"Unrecognized keyword argument\(s\) passed to MaxPooling2D: \['pool'\]"
    ):
        MaxPooling2D(pool=2)


def test_input_errors():
    with pytest.raises(
        ValueError,
        match=r"Input of layer MaxPooling2D 'max_pooling2d' is incompatible with the layer: expected ndim=4, "
        r"found ndim=3",
    ):
        MaxPooling2D()(np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling3D .*expected ndim=5, found ndim=4"):
        GlobalAveragePooling3D()(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"MaxPooling1D .*expected ndim=3, found ndim=4"):
        MaxPooling1D().compute_output_shape((None, 4, 4, 1))
    with pytest.raises(
        ValueError,
        match=r"MaxPooling2D 'max_pooling2d_1': the output would be empty: width: input 2, kernel 3",
    ):
        MaxPooling2D(3)(np.zeros((1, 5, 2, 1)))
    with pytest.raises(TypeError, match=r"Layer MaxPooling2D .* expected a numeric array"):
        MaxPooling2D()(np.array([["a"]]))


# ---- PyTorch --------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_against_torch(rank):
    t = torch()
    F = t.nn.functional
    rng = np.random.default_rng(rank + 10)
    x = rng.standard_normal((2, 3, *[7, 6, 5][:rank]))  # channels_first, as PyTorch
    pool, strides = (3, 2, 2)[:rank], (2, 1, 2)[:rank]
    fn_max = getattr(F, f"max_pool{rank}d")
    fn_avg = getattr(F, f"avg_pool{rank}d")
    tx = t.tensor(x)
    mx = MAX[rank](pool, strides, data_format="channels_first", dtype="float64")(x)
    av = AVG[rank](pool, strides, data_format="channels_first", dtype="float64")(x)
    assert_close(mx, fn_max(tx, pool, strides).numpy())
    assert_close(av, fn_avg(tx, pool, strides).numpy())
    # 'same' with odd windows and stride 1 pads symmetrically: PyTorch's padding=k//2, pads not counted
    k = (3,) * rank
    mx_same = MAX[rank](k, 1, "same", "channels_first", dtype="float64")(x)
    av_same = AVG[rank](k, 1, "same", "channels_first", dtype="float64")(x)
    assert_close(mx_same, fn_max(tx, k, 1, padding=1).numpy())
    assert_close(av_same, fn_avg(tx, k, 1, padding=1, count_include_pad=False).numpy())
    assert_close(
        GAVG[rank](data_format="channels_first", dtype="float64")(x),
        tx.mean(dim=tuple(range(2, rank + 2))).numpy(),
    )
    assert math.isclose(float(GMAX[rank](dtype="float64")(np.moveaxis(x, 1, -1)).max()), float(tx.max()))
