"""ZeroPadding, Cropping and UpSampling layers: Keras arguments and defaults, names, shapes,
errors, and values against Keras' documented examples and plain loops (ops in tests/ops)."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convolve.layers.base import clear_session
from convolve.layers.conv import Conv2D
from convolve.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from convolve.models.sequential import Sequential
from convolve.ops.shapes import POINTWISE, FieldStep
from tests.helpers import assert_close, requires_torch, torch

PAD = {1: ZeroPadding1D, 2: ZeroPadding2D, 3: ZeroPadding3D}
CROP = {1: Cropping1D, 2: Cropping2D, 3: Cropping3D}
UP = {1: UpSampling1D, 2: UpSampling2D, 3: UpSampling3D}
ALL = [*PAD.values(), *CROP.values(), *UP.values()]


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()


def to_first(x):
    return np.moveaxis(x, -1, 1)


def loop_pad(x, pairs):
    """channels_last: y[b, i + before] = x[b, i], zeros elsewhere, one cell at a time."""
    size = x.shape[1:-1]
    out = [s + b + a for s, (b, a) in zip(size, pairs)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for i in itertools.product(*(range(s) for s in size)):
        j = tuple(i[a] + pairs[a][0] for a in range(len(size)))
        y[(slice(None), *j, slice(None))] = x[(slice(None), *i, slice(None))]
    return y


def loop_crop(x, pairs):
    size = x.shape[1:-1]
    out = [s - b - a for s, (b, a) in zip(size, pairs)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for j in itertools.product(*(range(s) for s in out)):
        i = tuple(j[a] + pairs[a][0] for a in range(len(size)))
        y[(slice(None), *j, slice(None))] = x[(slice(None), *i, slice(None))]
    return y


def loop_upsample(x, size):
    out = [s * r for s, r in zip(x.shape[1:-1], size)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for j in itertools.product(*(range(s) for s in out)):
        i = tuple(j[a] // size[a] for a in range(len(size)))
        y[(slice(None), *j, slice(None))] = x[(slice(None), *i, slice(None))]
    return y


# ---- Keras defaults and names ---------------------------------------------------------


def test_keras_defaults():
    for rank in (1, 2, 3):
        assert PAD[rank]().padding == ((1, 1),) * rank
        assert UP[rank]().size == (2,) * rank
        assert (
            PAD[rank]().data_format == CROP[rank]().data_format == UP[rank]().data_format == "channels_last"
        )
    assert Cropping1D().cropping == ((1, 1),)
    assert Cropping2D().cropping == ((0, 0), (0, 0))
    assert Cropping3D().cropping == ((1, 1), (1, 1), (1, 1))
    assert UpSampling2D().interpolation == "nearest"


def test_automatic_names():
    assert ZeroPadding2D().name == "zero_padding2d"
    assert ZeroPadding2D().name == "zero_padding2d_1"
    assert ZeroPadding1D().name == "zero_padding1d"
    assert Cropping2D().name == "cropping2d"
    assert Cropping3D().name == "cropping3d"
    assert UpSampling2D().name == "up_sampling2d"
    assert UpSampling1D().name == "up_sampling1d"


def test_argument_forms():
    assert ZeroPadding1D(2).padding == ((2, 2),)
    assert ZeroPadding1D((1, 3)).padding == ((1, 3),)
    assert ZeroPadding2D((1, 2)).padding == ((1, 1), (2, 2))
    assert ZeroPadding2D(((1, 2), (3, 4))).padding == ((1, 2), (3, 4))
    assert ZeroPadding3D(2).padding == ((2, 2),) * 3
    assert Cropping2D(((0, 1), 2)).cropping == ((0, 1), (2, 2))
    assert UpSampling2D(3).size == (3, 3) and UpSampling3D((1, 2, 3)).size == (1, 2, 3)
    assert UpSampling2D(interpolation="NEAREST").interpolation == "nearest"


# ---- values ---------------------------------------------------------------------------


def test_keras_documented_examples():
    x = np.arange(12).reshape(2, 2, 3)
    y = ZeroPadding1D(padding=2)(x)
    expected = np.zeros((2, 6, 3))
    expected[:, 2:4] = x
    assert_close(y, expected, np.float32)
    x = np.arange(12).reshape(2, 3, 2)
    assert_close(Cropping1D(cropping=1)(x), [[[2, 3]], [[8, 9]]], np.float32)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_against_loops(rank, dtype):
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((2, *[5, 4, 6][:rank], 3)).astype(dtype)
    pairs = ((1, 2), (0, 3), (2, 0))[:rank]
    crops = ((1, 2), (0, 1), (2, 1))[:rank]
    size = (2, 3, 1)[:rank]
    for layer, expected in (
        (PAD[rank](pairs, dtype=dtype), loop_pad(x, pairs)),
        (CROP[rank](crops, dtype=dtype), loop_crop(x, crops)),
        (UP[rank](size, dtype=dtype), loop_upsample(x, size)),
    ):
        y = layer(x)
        assert y.dtype == dtype
        assert_close(y, expected, dtype)
        assert layer.compute_output_shape((None, *x.shape[1:])) == (None, *y.shape[1:])
    if rank > 1:  # UpSampling1D has no data_format (Keras 3)
        for cls, arg, ref in (
            (PAD[rank], pairs, loop_pad),
            (CROP[rank], crops, loop_crop),
            (UP[rank], size, loop_upsample),
        ):
            y = cls(arg, data_format="channels_first", dtype=dtype)(to_first(x))
            assert_close(y, to_first(ref(x, arg)), dtype)
    else:
        for cls, arg, ref in ((PAD[1], pairs, loop_pad), (CROP[1], crops, loop_crop)):
            y = cls(arg, data_format="channels_first", dtype=dtype)(to_first(x))
            assert_close(y, to_first(ref(x, arg)), dtype)


@settings(max_examples=40)
@given(
    rank=st.integers(1, 3),
    kind=st.sampled_from(["pad", "crop", "up"]),
    channels_first=st.booleans(),
    data=st.data(),
)
def test_output_shape_property(rank, kind, channels_first, data):
    size = data.draw(st.lists(st.integers(1, 6), min_size=rank, max_size=rank))
    pairs = tuple(tuple(data.draw(st.lists(st.integers(0, 3), min_size=2, max_size=2))) for _ in range(rank))
    fmt = "channels_first" if channels_first else "channels_last"
    if kind == "up":
        arg = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
        layer = (
            UP[rank](arg, dtype="float64") if rank == 1 else UP[rank](arg, data_format=fmt, dtype="float64")
        )
        fmt = "channels_last" if rank == 1 else fmt
    else:
        layer = (PAD if kind == "pad" else CROP)[rank](pairs, data_format=fmt, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, *size, 3))
    xin = to_first(x) if fmt == "channels_first" else x
    if kind == "crop" and any(s - b - a < 1 for s, (b, a) in zip(size, pairs)):
        with pytest.raises(ValueError, match="the output would be empty"):
            layer.compute_output_shape(xin.shape)
        with pytest.raises(ValueError, match="the output would be empty"):
            layer(xin)
        return
    y = layer(xin)
    assert layer.compute_output_shape(xin.shape) == y.shape
    assert layer.compute_output_shape((None, *xin.shape[1:])) == (None, *y.shape[1:])
    ref = {
        "pad": lambda: loop_pad(x, pairs),
        "crop": lambda: loop_crop(x, pairs),
        "up": lambda: loop_upsample(x, arg),
    }[kind]()
    assert_close(y, to_first(ref) if fmt == "channels_first" else ref)


def test_unknown_sizes_stay_unknown():
    assert ZeroPadding2D().compute_output_shape((None, None, 4, 3)) == (None, None, 6, 3)
    assert Cropping2D(1).compute_output_shape((None, None, 4, 3)) == (None, None, 2, 3)
    assert UpSampling2D(data_format="channels_first").compute_output_shape((1, 3, None, 4)) == (1, 3, None, 8)


# ---- inputs, dtypes, weights, receptive fields, config ---------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_inputs_not_modified_and_dtypes(cls):
    rank = int(cls.__name__[-2])
    x = np.random.default_rng(1).standard_normal((2, *(4,) * rank, 3)).astype(np.float32)
    copy = x.copy()
    y = cls()(x)
    y[...] = 7.0  # the output is a new array, not a view of the input
    np.testing.assert_array_equal(x, copy)
    assert y.dtype == np.float32
    assert cls(dtype="float64")(x).dtype == np.float64
    assert cls()(x.astype(np.int64)).dtype == np.float32
    assert cls().get_weights() == []


def test_receptive_fields_in_summary():
    assert ZeroPadding2D().receptive_field() == POINTWISE
    assert Cropping1D().receptive_field() == POINTWISE
    assert UpSampling2D((2, 3)).receptive_field() == FieldStep(upsample=(2, 3))
    model = Sequential([Conv2D(1, 3, strides=2), UpSampling2D(), ZeroPadding2D(), Cropping2D(1)])
    model.build((None, 9, 9, 1))
    rows = model.summary_rows()
    assert [r["jump"] for r in rows] == [(2, 2), (1, 1), (1, 1), (1, 1)]
    assert [r["receptive_field"] for r in rows] == [(3, 3)] * 4
    assert [r["output_shape"] for r in rows][1:] == [(None, 8, 8, 1), (None, 10, 10, 1), (None, 8, 8, 1)]


@pytest.mark.parametrize("cls", ALL)
def test_config_round_trip(cls):
    rank = int(cls.__name__[-2])
    kwargs = {} if cls is UpSampling1D else {"data_format": "channels_first"}
    if cls in PAD.values():
        kwargs["padding"] = 2
    elif cls in CROP.values():
        kwargs["cropping"] = ((1, 0),) * rank
    else:
        kwargs["size"] = 3
    layer = cls(name="r", **kwargs)
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config
    assert ("data_format" in config) == (cls is not UpSampling1D)


# ---- errors ---------------------------------------------------------------------------


def test_argument_errors():
    with pytest.raises(
        ValueError,
        match=r"ZeroPadding1D 'zero_padding1d': the `padding` argument must be a non-negative int, a tuple "
        r"of 2 non-negative ints \(before, after\), or a tuple of 1 such pair\. Received: padding=-1",
    ):
        ZeroPadding1D(-1)
    with pytest.raises(
        ValueError,
        match=r"ZeroPadding2D .*the `padding` argument must be .*a tuple of 2 \(before, after\) pairs of "
        r"non-negative ints\. Received: padding=\(1, 2, 3\)",
    ):
        ZeroPadding2D((1, 2, 3))
    with pytest.raises(
        ValueError, match=r"ZeroPadding3D .*Received: padding=\(\(1, 1\), \(1, -1\), \(0, 0\)\)"
    ):
        ZeroPadding3D(((1, 1), (1, -1), (0, 0)))
    with pytest.raises(TypeError, match=r"ZeroPadding2D .*`padding`.*Received: padding=1\.5"):
        ZeroPadding2D(1.5)
    with pytest.raises(
        ValueError,
        match=r"Cropping2D 'cropping2d': the `cropping` argument must be .*Received: "
        r"cropping=\(\(1, 2, 3\), 1\)",
    ):
        Cropping2D(((1, 2, 3), 1))
    with pytest.raises(
        ValueError, match=r"Cropping1D .*the `cropping` argument .*Received: cropping=\(1, 2, 3\)"
    ):
        Cropping1D((1, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"UpSampling2D 'up_sampling2d': the `size` argument must contain only positive integers\. "
        r"Received: size=0",
    ):
        UpSampling2D(0)
    with pytest.raises(
        ValueError,
        match=r"UpSampling3D .*the `size` argument must be an int or a tuple of 3 ints\. Received: "
        r"size=\(2, 2\)",
    ):
        UpSampling3D((2, 2))
    with pytest.raises(
        ValueError,
        match=r"UpSampling2D 'up_sampling2d_1': the `interpolation` argument must be one of \{'nearest'\} "
        r"\(Keras' 'bilinear', .*are not supported\)\. Received: interpolation='bilinear'",
    ):
        UpSampling2D(interpolation="bilinear")
    with pytest.raises(ValueError, match=r"UpSampling2D .*Received: interpolation=None"):
        UpSampling2D(interpolation=None)
    with pytest.raises(
        ValueError,
        match=r"Cropping3D .*the `data_format` argument must be one of .*Received: data_format='ncdhw'",
    ):
        Cropping3D(data_format="ncdhw")
    with pytest.raises(
        TypeError,
        match=r"Unrecognized keyword argument\(s\) passed to UpSampling1D: \['data_format'\] "
        r"\(UpSampling1D takes \(batch, steps, channels\) only",
    ):
        UpSampling1D(data_format="channels_last")


def test_input_errors():
    with pytest.raises(
        ValueError,
        match=r"Cropping2D 'cropping2d': the output would be empty: height: input 3, cropping \(2, 1\) → "
        r"output 0\. Every spatial axis must keep at least one cell\. Received: "
        r"cropping=\(\(2, 1\), \(0, 0\)\), input shape \(1, 3, 5, 1\)",
    ):
        Cropping2D(((2, 1), (0, 0)))(np.zeros((1, 3, 5, 1)))
    layer = Cropping1D((1, 1))
    layer(np.zeros((1, 5, 1)))
    with pytest.raises(
        ValueError,
        match=r"Cropping1D 'cropping1d': the output would be empty: length: input 2, cropping \(1, 1\) → "
        r"output 0",
    ):
        layer(np.zeros((1, 2, 1)))  # checked on every call, not only the first
    with pytest.raises(
        ValueError, match=r"Cropping3D .*the output would be empty: depth: input 2.*; width: input 1"
    ):
        Cropping3D().compute_output_shape((None, 2, 3, 1, 4))
    with pytest.raises(
        ValueError,
        match=r"Input of layer ZeroPadding2D 'zero_padding2d' is incompatible with the layer: expected "
        r"ndim=4, found ndim=3",
    ):
        ZeroPadding2D()(np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match=r"UpSampling1D .*expected ndim=3, found ndim=4"):
        UpSampling1D().compute_output_shape((None, 2, 2, 1))


# ---- PyTorch --------------------------------------------------------------------------


@requires_torch
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_against_torch(rank):
    t = torch()
    F = t.nn.functional
    x = np.random.default_rng(rank + 20).standard_normal((2, 3, *[5, 4, 3][:rank]))  # channels_first
    tx = t.tensor(x)
    pairs = ((1, 2), (0, 3), (2, 1))[:rank]
    torch_pad = tuple(v for pair in reversed(pairs) for v in pair)  # PyTorch: last axis first
    padded = PAD[rank](pairs, data_format="channels_first", dtype="float64")(x)
    assert_close(padded, F.pad(tx, torch_pad).numpy())
    size = (2, 3, 2)[:rank]
    if rank == 1:
        up = UpSampling1D(2, dtype="float64")(np.moveaxis(x, 1, -1))
        assert_close(np.moveaxis(up, -1, 1), F.interpolate(tx, scale_factor=2, mode="nearest").numpy())
    else:
        up = UP[rank](size, data_format="channels_first", dtype="float64")(x)
        assert_close(up, F.interpolate(tx, scale_factor=size, mode="nearest").numpy())
