"""Preprocessing and augmentation layers (convolve/layers/preprocessing.py and augmentation.py).

Keras' arguments, defaults and conventions; values against the ops (which tests/ops/test_image.py
checks against plain loops) with the random draws written out; gradients by finite differences;
data formats, single images, seeds, saving; every error message."""
from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pytest

from convolve import autograd
from convolve import layers as L
from convolve.autograd import GradientTape
from convolve.data import Dataset, PyDataset
from convolve.models import Model, Sequential, load_model
from convolve.ops import image as image_ops
from convolve.ops.shapes import POINTWISE
from convolve.utils import set_random_seed
from convolve.variables import Variable
from tests.helpers import assert_close
from tests.ops.test_core import assert_gradient

FORMATS = ["channels_last", "channels_first"]
TAU = 2 * math.pi


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def images(n=4, h=8, w=9, c=2, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(0, 1, (n, h, w, c)).astype(dtype)


def first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def reseed(layer, seed):
    layer._rng = np.random.default_rng(seed)
    return layer


def input_gradient(layer, x, g, training=True, seed=None):
    """d sum(g * layer(x)) / dx with x recorded as the output of an op on a trainable weight (as
    after a trainable layer)."""
    v = Variable(np.array(x, dtype=np.float64), "x")
    if seed is not None:
        reseed(layer, seed)
    with GradientTape() as tape:
        y = layer(autograd.multiply(v, 1.0), training=training)
    assert isinstance(y, autograd.Tensor)
    return tape.gradient(y, [v], output_gradient=g)[0]


def check_gradient(layer, x, training=True, seed=None):
    """The recorded input gradient of a float64 layer equals central differences; a seeded layer's
    generator is reset before every call, so that every call draws the same augmentation."""

    def f(v):
        if seed is not None:
            reseed(layer, seed)
        return np.asarray(layer(v, training=training))

    g = np.random.default_rng(99).standard_normal(f(x).shape)
    assert_gradient(input_gradient(layer, x, g, training, seed), f, x, g)


# ---- every augmentation layer ------------------------------------------------------------------

AUGMENTERS = {
    "flip": lambda **kw: L.RandomFlip(**kw),
    "rotation": lambda **kw: L.RandomRotation(0.2, **kw),
    "zoom": lambda **kw: L.RandomZoom((-0.3, 0.4), **kw),
    "translation": lambda **kw: L.RandomTranslation(0.2, 0.3, **kw),
    "contrast": lambda **kw: L.RandomContrast(0.5, value_range=(0, 1), **kw),
    "brightness": lambda **kw: L.RandomBrightness(0.3, value_range=(0, 1), **kw),
    "crop": lambda **kw: L.RandomCrop(5, 6, **kw),
}


@pytest.mark.parametrize("make", AUGMENTERS.values(), ids=AUGMENTERS.keys())
def test_inference_is_the_identity_or_a_centre_crop(make):
    x = images()
    layer = make()
    expected = x if not isinstance(layer, L.RandomCrop) else L.CenterCrop(5, 6)(x)
    np.testing.assert_array_equal(layer(x), expected)
    np.testing.assert_array_equal(layer(x, training=False), expected)
    assert not np.array_equal(make(seed=1)(x, training=True), expected)


@pytest.mark.parametrize("make", AUGMENTERS.values(), ids=AUGMENTERS.keys())
def test_one_image_is_augmented_as_a_batch_of_one(make):
    x = images(n=1)
    np.testing.assert_array_equal(make(seed=3)(x[0], training=True), make(seed=3)(x, training=True)[0])


@pytest.mark.parametrize("make", AUGMENTERS.values(), ids=AUGMENTERS.keys())
def test_channels_first_is_channels_last_transposed(make):
    x = images()
    expected = make(seed=4)(x, training=True)
    got = make(seed=4, data_format="channels_first")(first(x), training=True)
    assert_close(got, first(expected), np.float32)


@pytest.mark.parametrize("make", AUGMENTERS.values(), ids=AUGMENTERS.keys())
def test_a_seed_fixes_the_sequence_and_the_global_seed_fixes_the_unseeded(make):
    x = images()
    a, b = make(seed=5), make(seed=5)
    first_a, first_b = a(x, training=True), b(x, training=True)
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(a(x, training=True), first_a)  # successive calls draw anew
    runs = []
    for _ in range(2):
        set_random_seed(11)
        layer = make()
        runs.append([layer(x, training=True), layer(x, training=True)])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_receptive_fields():
    pointwise = [
        L.Rescaling(2.0), L.Normalization(), L.RandomContrast(0.1), L.RandomBrightness(0.1), L.RandomFlip()
    ]
    assert all(layer.receptive_field() == POINTWISE for layer in pointwise)
    others = [L.RandomRotation(0.1), L.RandomZoom(0.1), L.RandomTranslation(0.1, 0.1), L.RandomCrop(2, 2),
              L.Resizing(2, 2), L.CenterCrop(2, 2)]
    assert all(layer.receptive_field() is None for layer in others)


#: Keras 3's constructor arguments, in order, with their defaults (keras/src/layers/preprocessing/)
KERAS_SIGNATURES = {
    "Rescaling": "scale, offset=0.0",
    "Normalization": "axis=-1, mean=None, variance=None, invert=False",
    "Resizing": "height, width, interpolation='bilinear', crop_to_aspect_ratio=False, "
                "pad_to_aspect_ratio=False, fill_mode='constant', fill_value=0.0, antialias=False, "
                "data_format=None",
    "CenterCrop": "height, width, data_format=None",
    "RandomFlip": "mode='horizontal_and_vertical', seed=None, data_format=None",
    "RandomRotation": "factor, fill_mode='reflect', interpolation='bilinear', seed=None, fill_value=0.0, "
                      "data_format=None",
    "RandomZoom": "height_factor, width_factor=None, fill_mode='reflect', interpolation='bilinear', "
                  "seed=None, fill_value=0.0, data_format=None",
    "RandomTranslation": "height_factor, width_factor, fill_mode='reflect', interpolation='bilinear', "
                         "seed=None, fill_value=0.0, data_format=None",
    "RandomCrop": "height, width, seed=None, data_format=None",
    "RandomContrast": "factor, value_range=(0, 255), seed=None",
    "RandomBrightness": "factor, value_range=(0, 255), seed=None",
}


@pytest.mark.parametrize("name", KERAS_SIGNATURES)
def test_arguments_and_defaults_are_keras(name):
    assert str(inspect.signature(getattr(L, name))) == f"({KERAS_SIGNATURES[name]}, **kwargs)"


# ---- Rescaling ------------------------------------------------------------------------------------


def test_rescaling_values_per_channel_and_gradient():
    x = images(dtype=np.float64)
    expected = x.astype(np.float32) / np.float32(127.5) - 1
    assert_close(L.Rescaling(1 / 127.5, offset=-1)(x), expected, np.float32)
    per_channel = L.Rescaling([2.0, 3.0], offset=[0.5, -0.5], dtype="float64")
    assert_close(per_channel(x), x * [2.0, 3.0] + [0.5, -0.5])
    check_gradient(per_channel, x[:2, :3, :3], training=False)
    assert L.Rescaling(np.uint8(3))(np.ones((1, 2))).tolist() == [[3.0, 3.0]]


# ---- Normalization --------------------------------------------------------------------------------


def test_normalization_adapts_to_an_array_in_float64():
    x = images(n=50, dtype=np.float64) * 100 + 7
    layer = L.Normalization()
    layer.adapt(x)
    assert [w.name for w in layer.weights] == ["mean", "variance", "count"]
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3
    assert_close(layer.mean.value, x.mean(axis=(0, 1, 2)), np.float32)
    assert_close(layer.variance.value, x.var(axis=(0, 1, 2)), np.float32)
    assert layer.count.value == 50 * 8 * 9
    expected = (x - x.mean(axis=(0, 1, 2))) / x.std(axis=(0, 1, 2))
    assert_close(layer(x), expected, np.float32, rtol=1e-5)


def test_normalization_streams_batches_stably():
    """Chan's pairwise update on 100 batches: the variance of values near 1e8 is exact to float64's
    precision, where summing squares would lose it all."""
    rng = np.random.default_rng(1)
    x = 1e8 + rng.standard_normal((1000, 3))
    layer = L.Normalization(dtype="float64")
    layer.adapt(iter([(x[i:i + 10], np.zeros(10)) for i in range(0, 1000, 10)]))
    assert math.isclose(layer.mean.value[0], x[:, 0].mean(), rel_tol=1e-15)
    assert_close(layer.variance.value, x.var(axis=0), rtol=1e-8)
    naive = (x**2).mean(axis=0) - x.mean(axis=0) ** 2
    assert np.abs(naive - x.var(axis=0)).max() > 1e-3  # the naive formula is far off here


def test_normalization_adapts_to_batch_sources():
    x = images(n=12, dtype=np.float64)
    expected = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))

    class Batches(PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return x[4 * index:4 * index + 4], np.zeros(4)

    def generator():
        for i in range(0, 12, 5):
            yield x[i:i + 5]

    dataset = Dataset.from_tensor_slices((x, np.zeros(12))).batch(5)
    for source in [Batches(), generator(), [x[:7], x[7:]], x, dataset]:
        layer = L.Normalization(dtype="float64")
        layer.adapt(source)
        assert_close(layer.mean.value, expected[0])
        assert_close(layer.variance.value, expected[1])
    layer = L.Normalization(dtype="float64")
    layer.adapt(x, batch_size=5, steps=1)  # the first 5 images only
    assert_close(layer.mean.value, x[:5].mean(axis=(0, 1, 2)))
    layer.adapt(generator(), steps=2)
    assert_close(layer.mean.value, x[:10].mean(axis=(0, 1, 2)))


def test_normalization_axes_invert_and_given_statistics():
    x = images(n=6, dtype=np.float64)
    layer = L.Normalization(axis=None, dtype="float64")
    layer.adapt(x)
    assert layer.mean.shape == () and math.isclose(layer.mean.value, x.mean())
    spatial = L.Normalization(axis=(1, 2), dtype="float64")
    spatial.adapt(x)
    assert spatial.mean.shape == (8, 9)
    assert_close(spatial(x), (x - x.mean(axis=(0, 3))[:, :, None]) / x.std(axis=(0, 3))[:, :, None])
    given = L.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], dtype="float64")
    assert given.weights == [] or given(x) is not None
    assert_close(given(x), (x - [1.0, 2.0]) / [2.0, 3.0])
    assert_close(L.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True, dtype="float64")(x),
                 x * [2.0, 3.0] + [1.0, 2.0])
    assert_close(L.Normalization(mean=3.0, variance=4.0, dtype="float64")(x), (x - 3) / 2)
    zero = L.Normalization(mean=0.0, variance=0.0, dtype="float64")
    assert_close(zero(np.ones((1, 2))), np.full((1, 2), 1e7))  # divisor max(sqrt(var), 1e-7)


def test_normalization_of_each_sample_index_adapts_in_one_batch():
    x = np.arange(12.0).reshape(4, 3)  # axis=(0, 1): one statistic per element
    layer = L.Normalization(axis=(0, 1), dtype="float64")
    layer.adapt(x)
    assert_close(layer.mean.value, x) and layer.count.value == 1


def test_normalization_gradient():
    x = images(n=2, h=3, w=3, dtype=np.float64)
    for invert in (False, True):
        layer = L.Normalization(invert=invert, dtype="float64")
        layer.adapt(x * 5 + 1)
        check_gradient(layer, x, training=False)


# ---- Resizing and CenterCrop -----------------------------------------------------------------------


@pytest.mark.parametrize("data_format", FORMATS)
def test_resizing_is_the_op_with_its_gradient(data_format):
    x = images(n=2, h=5, w=7, dtype=np.float64)
    x = x if data_format == "channels_last" else first(x)
    layer = L.Resizing(4, 3, interpolation="bicubic", crop_to_aspect_ratio=True, antialias=True,
                       data_format=data_format, dtype="float64")
    expected = image_ops.resize(x, (4, 3), interpolation="bicubic", crop_to_aspect_ratio=True, antialias=True,
                                data_format=data_format)
    assert_close(layer(x), expected)
    assert layer.compute_output_shape(x.shape) == expected.shape
    assert layer.compute_output_shape(x.shape[1:]) == expected.shape[1:]
    check_gradient(layer, x, training=False)


def test_resizing_pads_with_the_fill_value():
    y = L.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=-1.0)(np.ones((1, 2, 4, 1)))
    assert y[0, :, :, 0].tolist() == [[-1] * 4, [1] * 4, [1] * 4, [-1] * 4]


def test_center_crop_crops_or_resizes_as_keras():
    x = images(n=2, h=7, w=8, dtype=np.float64)
    layer = L.CenterCrop(4, 5, dtype="float64")
    np.testing.assert_array_equal(layer(x), x[:, 1:5, 1:6])  # start (7 - 4) // 2, (8 - 5) // 2
    check_gradient(layer, x[:, :6, :7], training=False)
    small = L.CenterCrop(10, 4, dtype="float64")  # taller than the input: crop to 10:4, then resize
    assert_close(small(x), image_ops.resize(x, (10, 4), crop_to_aspect_ratio=True))
    check_gradient(small, x[:1, :3], training=False)


# ---- RandomFlip -------------------------------------------------------------------------------------


def test_random_flip_flips_each_image_with_its_own_coins():
    x = images(n=64, h=3, w=4, c=1)
    y = L.RandomFlip("horizontal_and_vertical", seed=0)(x, training=True)
    outcomes = []
    for xi, yi in zip(x, y):
        candidates = [xi, xi[:, ::-1], xi[::-1], xi[::-1, ::-1]]
        matches = [k for k, c in enumerate(candidates) if np.array_equal(yi, c)]
        assert len(matches) == 1
        outcomes.append(matches[0])
    assert set(outcomes) == {0, 1, 2, 3}  # the two directions have independent coins
    rng = np.random.default_rng(0)
    h, v = rng.random(64) < 0.5, rng.random(64) < 0.5  # the draws, in order
    np.testing.assert_array_equal(y, image_ops.flip(x, h, v))
    horizontal = L.RandomFlip("horizontal", seed=1)(x, training=True)
    assert all(np.array_equal(a, b) or np.array_equal(a, b[:, ::-1]) for a, b in zip(horizontal, x))
    vertical = L.RandomFlip("vertical", seed=1)(x, training=True)
    assert all(np.array_equal(a, b) or np.array_equal(a, b[::-1]) for a, b in zip(vertical, x))


def test_random_flip_gradient():
    check_gradient(L.RandomFlip(seed=2, dtype="float64"), images(n=6, h=3, w=2, dtype=np.float64), seed=2)


# ---- rotation, zoom and translation ---------------------------------------------------------------


def test_random_rotation_draws_angles_in_turns():
    x = images(n=5)
    y = L.RandomRotation((-0.1, 0.25), fill_mode="constant", seed=0)(x, training=True)
    angles = np.random.default_rng(0).uniform(-0.1, 0.25, 5) * TAU
    expected = image_ops.transform(x, image_ops.rotation_transforms(angles, 8, 9), fill_mode="constant")
    np.testing.assert_array_equal(y, expected)
    assert L.RandomRotation(0.3).factor == (-0.3, 0.3) and L.RandomRotation((0.2, -0.1)).factor == (-0.1, 0.2)


def test_random_zoom_keeps_the_aspect_ratio_unless_given_a_width_factor():
    x = images(n=5)
    rng = np.random.default_rng(1)
    zy = 1 + rng.uniform(-0.2, 0.2, 5)
    zx = 1 + rng.uniform(0.1, 0.5, 5)
    y = L.RandomZoom(0.2, (0.1, 0.5), interpolation="nearest", seed=1)(x, training=True)
    np.testing.assert_array_equal(
        y,
        image_ops.transform(
            x, image_ops.zoom_transforms(zy, zx, 8, 9), interpolation="nearest", fill_mode="reflect"
        ),
    )
    zy = 1 + np.random.default_rng(2).uniform(-0.2, 0.2, 5)
    np.testing.assert_array_equal(
        L.RandomZoom(0.2, seed=2)(x, training=True),
        image_ops.transform(x, image_ops.zoom_transforms(zy, zy, 8, 9), fill_mode="reflect"),
    )


def test_random_zoom_positive_factors_zoom_out():
    x = np.ones((1, 9, 9, 1), dtype=np.float32)
    y = L.RandomZoom((0.5, 0.5), fill_mode="constant", fill_value=7.0)(x, training=True)
    assert y[0, 0, 0, 0] == 7.0 and y[0, 4, 4, 0] == 1.0  # the image shrank into a filled border
    y = L.RandomZoom((-0.5, -0.5), fill_mode="constant", fill_value=7.0)(x, training=True)
    assert np.all(y == 1.0)  # zoomed in: nothing from outside shows


def test_random_translation_draws_fractions_of_the_size():
    x = images(n=5)
    rng = np.random.default_rng(3)
    dy, dx = rng.uniform(-0.2, 0.2, 5) * 8, rng.uniform(0.1, 0.3, 5) * 9
    y = L.RandomTranslation(0.2, (0.1, 0.3), fill_mode="wrap", seed=3)(x, training=True)
    expected = image_ops.transform(x, image_ops.translation_transforms(dy, dx), fill_mode="wrap")
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("make", [AUGMENTERS["rotation"], AUGMENTERS["zoom"], AUGMENTERS["translation"]])
def test_resampling_layers_refuse_an_input_that_needs_a_gradient(make):
    layer = make()
    v = Variable(images(n=2), "x")
    with GradientTape():
        t = autograd.multiply(v, 1.0)
        assert layer(t) is t  # inference: the identity, the graph kept
        with pytest.raises(ValueError, match=(
            rf"{type(layer).__name__} '{layer.name}' has no gradient \(it resamples through "
            r"scipy.ndimage\), so in training it cannot follow a layer that is being trained. Put "
            r"augmentation layers first, on the input images. "
            r"Received: a recorded input of shape \(2, 8, 9, 2\) \(from op 'multiply'\)"
        )):
            layer(t, training=True)


def test_augmentation_before_trainable_layers_trains_and_after_them_only_where_differentiable():
    x, y = images(n=8), np.arange(8) % 3

    def model(augment):
        return Sequential(
            [L.Input((8, 9, 2)), L.Conv2D(2, 3), augment, L.Flatten(), L.Dense(3, activation="softmax")]
        )

    for augment in [L.RandomFlip(), L.RandomContrast(0.3), L.RandomBrightness(0.2), L.RandomCrop(4, 4)]:
        m = model(augment)
        m.compile("adam", "sparse_categorical_crossentropy")
        m.fit(x, y, epochs=1, verbose=0)
    m = model(L.RandomRotation(0.1))
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="has no gradient"):
        m.fit(x, y, epochs=1, verbose=0)


# ---- RandomCrop ---------------------------------------------------------------------------------------


def test_random_crop_draws_one_window_per_batch():
    x = images(n=3, h=8, w=9)
    y = L.RandomCrop(5, 6, seed=0)(x, training=True)
    rng = np.random.default_rng(0)
    top, left = rng.integers(0, 4), rng.integers(0, 4)
    np.testing.assert_array_equal(y, x[:, top:top + 5, left:left + 6])
    assert L.RandomCrop(8, 9, seed=0)(x, training=True) is not x
    np.testing.assert_array_equal(L.RandomCrop(8, 9)(x, training=True), x)


def test_random_crop_of_small_images_resizes_as_center_crop():
    x = images(n=2, h=4, w=9)
    for training in (False, True):
        np.testing.assert_array_equal(L.RandomCrop(6, 6, seed=1)(x, training=training), L.CenterCrop(6, 6)(x))
    assert L.RandomCrop(6, 6).compute_output_shape((None, 4, 9, 2)) == (None, 6, 6, 2)


def test_random_crop_gradient():
    x = images(n=2, h=5, w=4, dtype=np.float64)
    check_gradient(L.RandomCrop(3, 2, seed=4, dtype="float64"), x, seed=4)
    check_gradient(L.RandomCrop(6, 2, seed=4, dtype="float64"), x, seed=4)


# ---- RandomContrast and RandomBrightness ----------------------------------------------------------------


def test_random_contrast_scales_each_image_about_its_channel_means():
    x = images(n=6, dtype=np.float64) * 100 + 50
    layer = L.RandomContrast((0.2, 0.5), value_range=(0, 255), seed=0, dtype="float64")
    y = layer(x, training=True)
    factors = np.random.default_rng(0).uniform(1 - 0.2, 1 + 0.5, 6)
    assert_close(y, image_ops.adjust_contrast(x, factors, (0, 255)))
    mean = x.mean(axis=(1, 2), keepdims=True)
    recovered = ((y - mean) / (x - mean)).reshape(6, -1)
    assert np.allclose(recovered, recovered[:, :1]) and np.all((recovered >= 0.8) & (recovered <= 1.5))
    assert L.RandomContrast(0.3).factor == (0.3, 0.3)  # [1 - 0.3, 1 + 0.3]
    clipped = L.RandomContrast((1.0, 1.0), value_range=(0, 1), seed=1)(images(n=20), training=True)
    assert clipped.min() >= 0 and clipped.max() <= 1 and (clipped == 1).any()


def test_random_brightness_adds_a_fraction_of_the_value_range():
    x = images(n=6, dtype=np.float64) * 100 + 50
    y = L.RandomBrightness((-0.1, 0.3), seed=0, dtype="float64")(x, training=True)
    deltas = np.random.default_rng(0).uniform(-0.1, 0.3, 6) * 255
    assert_close(y, np.clip(x + deltas[:, None, None, None], 0, 255))
    assert np.all(L.RandomBrightness((-1.0, -1.0), value_range=(0, 1))(images(), training=True) == 0)
    assert L.RandomBrightness(0.2, value_range=(255, 0)).value_range == (0.0, 255.0)


def test_contrast_and_brightness_gradients():
    x = images(n=3, h=3, w=3, dtype=np.float64)
    check_gradient(L.RandomContrast(0.5, value_range=(0.05, 0.9), seed=1, dtype="float64"), x, seed=1)
    check_gradient(L.RandomBrightness(0.2, value_range=(0.1, 0.95), seed=1, dtype="float64"), x, seed=1)


# ---- configs and model files ---------------------------------------------------------------------


ALL = [
    L.Rescaling(1 / 255, offset=[0.0, 0.5]), L.Normalization(axis=-1, mean=[1.0, 2.0], variance=[1.0, 4.0]),
    L.Resizing(6, 7, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=0.5), L.CenterCrop(5, 5),
    L.RandomFlip("vertical", seed=1), L.RandomRotation((-0.1, 0.2), fill_mode="constant", fill_value=0.5),
    L.RandomZoom(0.1, (0.2, 0.3), interpolation="nearest", seed=2),
    L.RandomTranslation(0.1, 0.2, fill_mode="wrap"),
    L.RandomCrop(4, 4, seed=3), L.RandomContrast((0.1, 0.2), value_range=(0, 1)),
    L.RandomBrightness(0.1, value_range=(0, 1), seed=4),
]
KERAS_KEYS = {
    "Rescaling": {"scale", "offset"}, "Normalization": {"axis", "invert", "mean", "variance"},
    "Resizing": {"height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                 "fill_mode", "fill_value", "antialias", "data_format"},
    "CenterCrop": {"height", "width", "data_format"}, "RandomFlip": {"mode", "seed", "data_format"},
    "RandomRotation": {"factor", "fill_mode", "fill_value", "interpolation", "seed", "data_format"},
    "RandomZoom": {"height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value",
                   "data_format"},
    "RandomTranslation": {"height_factor", "width_factor", "fill_mode", "interpolation", "seed", "fill_value",
                          "data_format"},
    "RandomCrop": {"height", "width", "seed", "data_format"},
    "RandomContrast": {"factor", "value_range", "seed"},
    "RandomBrightness": {"factor", "value_range", "seed"},
}


@pytest.mark.parametrize("layer", ALL, ids=lambda layer: type(layer).__name__)
def test_configs_have_keras_keys_and_round_trip(layer):
    config = layer.get_config()
    assert KERAS_KEYS[type(layer).__name__] <= set(config)
    again = L.deserialize(json.loads(json.dumps(L.serialize(layer))))
    assert type(again) is type(layer) and again.get_config() == config


def augmenting_model(functional=False):
    layers = [L.RandomFlip("horizontal", seed=7), L.RandomRotation(0.1, seed=8), L.RandomZoom(0.1),
              L.RandomCrop(8, 8, seed=9), L.Resizing(6, 6), L.Normalization(), L.Rescaling(2.0),
              L.Conv2D(2, 3), L.Flatten(), L.Dense(3, activation="softmax")]
    if not functional:
        return Sequential([L.Input((10, 10, 1)), *layers])
    x = inputs = L.Input((10, 10, 1))
    for layer in layers:
        x = layer(x)
    return Model(inputs, x)


@pytest.mark.parametrize("functional", [False, True])
def test_models_with_these_layers_save_and_load(tmp_path, functional):
    pytest.importorskip("safetensors")
    x, y = images(n=8, h=10, w=10, c=1), np.arange(8) % 3
    model = augmenting_model(functional)
    model.layers[5 if not functional else 6].adapt(x)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    norm = next(layer for layer in loaded.layers if isinstance(layer, L.Normalization))
    assert_close(norm.mean.value, x.mean(axis=(0, 1, 2)), np.float32)
    # the seeded layers' generators continue where they were: the next augmentation is the same
    for name in ("random_flip", "random_rotation", "random_crop"):
        original = next(layer for layer in model.layers if layer.name == name)
        again = next(layer for layer in loaded.layers if layer.name == name)
        np.testing.assert_array_equal(again(x, training=True), original(x, training=True))


def test_set_random_seed_reproduces_training_with_augmentation_bit_for_bit():
    x, y = images(n=16, h=10, w=10, c=1), np.arange(16) % 3
    weights = []
    for _ in range(2):
        set_random_seed(3)
        model = Sequential([L.Input((10, 10, 1)), L.RandomFlip(), L.RandomRotation(0.2), L.RandomZoom(0.2),
                            L.RandomTranslation(0.1, 0.1), L.RandomContrast(0.2, value_range=(0, 1)),
                            L.Conv2D(2, 3), L.Flatten(), L.Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


# ---- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L.RandomFlip(mode="diagonal"), ValueError,
         r"RandomFlip 'random_flip': the `mode` argument must be one of \{'horizontal', 'vertical', "
         r"'horizontal_and_vertical'\}. Received: mode='diagonal'"),
        (lambda: L.RandomFlip(seed=-1), ValueError,
         r"RandomFlip 'random_flip': the `seed` argument must be None or a non-negative int. Received: "
         r"seed=-1"),
        (lambda: L.RandomFlip(data_format="nhwc"), ValueError,
         r"RandomFlip 'random_flip': the `data_format` argument must be one of \{'channels_last', "
         r"'channels_first'\}. Received: data_format='nhwc'"),
        (lambda: L.RandomRotation(1.5), ValueError,
         r"RandomRotation 'random_rotation': the `factor` argument must be a number or a pair \(lower, "
         r"upper\) "
         r"of numbers in \[-1, 1\]. Received: factor=1.5"),
        (lambda: L.RandomRotation((0.1, 0.2, 0.3)), ValueError, r"Received: factor=\(0.1, 0.2, 0.3\)"),
        (lambda: L.RandomRotation("0.1"), ValueError, r"Received: factor='0.1'"),
        (lambda: L.RandomRotation(0.1, fill_mode="mirror"), ValueError,
         r"RandomRotation 'random_rotation': the `fill_mode` argument must be one of \{'reflect', 'wrap', "
         r"'constant', 'nearest'\}. Received: fill_mode='mirror'"),
        (lambda: L.RandomRotation(0.1, interpolation="bicubic"), ValueError,
         r"the `interpolation` argument must be one of \{'nearest', 'bilinear'\}. Received: "
         r"interpolation='bicubic'"),
        (lambda: L.RandomRotation(0.1, fill_value=float("nan")), ValueError,
         r"RandomRotation 'random_rotation': the `fill_value` argument must be a finite number. "
         r"Received: fill_value=nan"),
        (lambda: L.RandomZoom(-1.0), ValueError,
         r"RandomZoom 'random_zoom': the `height_factor` argument must be a number or a pair \(lower, "
         r"upper\) of "
         r"numbers in \(-1, 1\]. Received: height_factor=-1.0"),
        (lambda: L.RandomZoom(0.1, width_factor=(0.1, 2)), ValueError, r"Received: width_factor=\(0.1, 2\)"),
        (lambda: L.RandomTranslation(0.1, -1.5), ValueError,
         r"RandomTranslation 'random_translation': the `width_factor` argument must be a number or a pair "
         r"\(lower, upper\) of numbers in \[-1, 1\]. Received: width_factor=-1.5"),
        (lambda: L.RandomContrast(-0.1), ValueError,
         r"RandomContrast 'random_contrast': the `factor` argument must be a number or a pair \(lower, "
         r"upper\) "
         r"of numbers in \[0, 1\]. Received: factor=-0.1"),
        (lambda: L.RandomContrast(0.1, value_range=(0,)), ValueError,
         r"RandomContrast 'random_contrast': `value_range` must be a pair \(low, high\) of finite numbers. "
         r"Received: value_range=\(0,\)"),
        (lambda: L.RandomBrightness(0.1, value_range=(0, float("inf"))), ValueError,
         r"RandomBrightness 'random_brightness': `value_range` .* Received: value_range=\(0, inf\)"),
        (lambda: L.RandomCrop(0, 3), ValueError,
         r"RandomCrop 'random_crop': the `height` argument must be a positive integer. Received: height=0"),
        (lambda: L.CenterCrop(3, 2.5), ValueError,
         r"CenterCrop 'center_crop': the `width` argument must be a positive integer. Received: width=2.5"),
        (lambda: L.Resizing(3, 3, interpolation="area"), ValueError,
         r"Resizing 'resizing': the `interpolation` argument must be one of \{'bilinear', 'nearest', "
         r"'bicubic', "
         r"'lanczos3', 'lanczos5'\}. Received: interpolation='area'"),
        (lambda: L.Resizing(3, 3, fill_mode="reflect"), ValueError,
         r"Resizing 'resizing': the `fill_mode` argument must be one of \{'constant'\}. Received: "
         r"fill_mode='reflect'"),
        (lambda: L.Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError,
         r"Resizing 'resizing': only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
         r"Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True"),
        (lambda: L.Rescaling("2"), ValueError,
         r"Rescaling 'rescaling': the `scale` argument must be a finite number or a non-empty array of "
         r"finite "
         r"numbers. Received: scale='2'"),
        (lambda: L.Rescaling(1.0, offset=[np.inf]), ValueError, r"Received: offset=\[inf\]"),
        (lambda: L.Rescaling(float("nan")), ValueError,
         r"Rescaling 'rescaling': the `scale` argument must be a finite number. Received: scale=nan"),
        (lambda: L.Normalization(axis="last"), ValueError,
         r"Normalization 'normalization': the `axis` argument must be an int, a tuple of ints or None. "
         r"Received: axis='last'"),
        (lambda: L.Normalization(mean=1.0), ValueError,
         r"Normalization 'normalization': give both `mean` and `variance`, or neither \(then call "
         r"adapt\(\)\). "
         r"Received: mean=1.0, variance=None"),
        (lambda: L.Normalization(mean=[1.0], variance=[1.0, 2.0]), ValueError,
         r"Normalization 'normalization': `mean` and `variance` must have the same shape, of rank at most "
         r"the "
         r"number of axes \(1\). Received: mean shape \(1,\), variance shape \(2,\), axis=-1"),
        (lambda: L.Normalization(mean=[1.0, np.nan], variance=[1.0, 2.0]), ValueError,
         r"Normalization 'normalization': `mean` must be a number or an array of finite numbers. "
         r"Received: mean=\[1.0, nan\]"),
    ],
)
def test_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: L.RandomFlip()(np.zeros((2, 3))), ValueError,
         r"Input of layer RandomFlip 'random_flip' is incompatible with the layer: expected min_ndim=3, "
         r"found "
         r"ndim=2"),
        (lambda: L.RandomZoom(0.1)(np.zeros((1, 2, 3, 4, 5))), ValueError,
         r"Input of layer RandomZoom 'random_zoom' is incompatible with the layer: expected a batch of "
         r"images "
         r"\(batch, height, width, channels\) or one image \(height, width, channels\), rank 4 or 3. "
         r"Full shape received: \(1, 2, 3, 4, 5\)"),
        (lambda: L.Rescaling([1.0, 2.0, 3.0])(np.zeros((1, 2))), ValueError,
         r"Rescaling 'rescaling': `scale` \(shape \(3,\)\) and `offset` \(shape \(\)\) must broadcast "
         r"against the "
         r"input without changing its shape. Received: input of shape \(1, 2\)"),
        (lambda: L.Normalization(axis=3)(np.zeros((2, 3))), ValueError,
         r"Normalization 'normalization': every `axis` must be in \[-2, 2\) for input of rank 2. "
         r"Received: axis=\(3,\), input shape \(2, 3\)"),
        (lambda: L.Normalization(axis=0)(L.Input((3,))), ValueError,
         r"Normalization 'normalization': the kept axes must have a known size. Received: axis=\(0,\), input "
         r"shape \(None, 3\) \(axis 0 unknown\)"),
        (lambda: L.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(np.zeros((2, 3))), ValueError,
         r"Normalization 'normalization': `mean` and `variance` of shape \(2,\) do not broadcast to the kept "
         r"axes \(3,\). Received: input shape \(2, 3\), axis=\(-1,\)"),
    ],
)
def test_call_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_normalization_built_shape_and_adapt_errors():
    layer = L.Normalization()
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=(
        r"Normalization 'normalization': the layer was built for inputs of shape \(2, 3\) \(statistics over "
        r"axes \(1,\)\). Received: input of shape \(2, 4\)"
    )):
        layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"was built for inputs of shape \(2, 3\)"):
        layer.adapt(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=(
        r"Normalization 'normalization_1': adapt\(\) cannot change a mean and variance given to the "
        r"constructor. Received: a layer made with mean= and variance="
    )):
        L.Normalization(mean=0.0, variance=1.0).adapt(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=(
        r"Normalization 'normalization_2': adapt\(\) received no values. Received: data of type list"
    )):
        L.Normalization().adapt([])
    with pytest.raises(ValueError, match=(
        r"Normalization 'normalization_3'.adapt: `batch_size` is for arrays; data of type generator comes in "
        r"batches already. "
        r"Received: batch_size=4"
    )):
        L.Normalization().adapt((b for b in [np.zeros((2, 3))]), batch_size=4)
    with pytest.raises(TypeError, match=(
        r"Normalization 'normalization_4'.adapt: expected an array, a dataset, a PyDataset or an iterable of "
        r"batches. Received: data of type int"
    )):
        L.Normalization().adapt(3)
    with pytest.raises(TypeError, match=(
        r"Normalization 'normalization_5'.adapt: each batch must be a numeric array with a batch axis. "
        r"Received: a scalar of dtype float64"
    )):
        L.Normalization().adapt([1.0, 2.0])
    with pytest.raises(ValueError, match=(
        r"Normalization 'normalization_6': the `steps` argument must be a positive integer. Received: steps=0"
    )):
        L.Normalization().adapt(np.zeros((2, 3)), steps=0)
