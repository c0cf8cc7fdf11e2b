"""Tests for convolve/ops/image.py: plain-loop references (resampling, the fill modes,
projective transforms, flips), adjoints and finite differences for the backwards, PyTorch's
interpolate, Keras' documented conventions, errors."""
from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops import image
from convolve.ops.image import (
    adjust_brightness,
    adjust_brightness_backward,
    adjust_contrast,
    adjust_contrast_backward,
    aspect_ratio_box,
    aspect_ratio_padding,
    crop_images,
    crop_images_backward,
    flip,
    resize,
    resize_backward,
    resize_matrix,
    rotation_transforms,
    transform,
    translation_transforms,
    zoom_transforms,
)
from tests.helpers import assert_close, requires_torch, torch
from tests.ops.test_core import assert_gradient

FORMATS = ["channels_last", "channels_first"]
FILL_MODES = ["reflect", "wrap", "constant", "nearest", "mirror"]


def first(x):
    """channels_last -> channels_first, for a batch."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


# --- the definitions, with plain loops (channels_last, a batch) ---------------------------------------


def reference_resize(x, height, width, kernel, radius, antialias=False):
    """Half-pixel centres; the kernel at each input pixel's distance, normalised per output."""
    n, in_h, in_w, c = x.shape

    def weights(in_size, out_size, j):
        scale = max(in_size / out_size, 1.0) if antialias else 1.0
        centre = (j + 0.5) * in_size / out_size - 0.5
        w = {i: kernel(abs(centre - i) / scale) for i in range(in_size) if abs(centre - i) < radius * scale}
        total = sum(w.values())
        return {i: v / total for i, v in w.items()}

    y = np.zeros((n, height, width, c))
    for i in range(height):
        wy = weights(in_h, height, i)
        for j in range(width):
            wx = weights(in_w, width, j)
            for (r, a), (s, b) in itertools.product(wy.items(), wx.items()):
                y[:, i, j, :] += a * b * x[:, r, s, :]
    return y


def triangle(d):
    return max(0.0, 1.0 - d)


def reference_bilinear_clamped(x, height, width):
    """PyTorch's align_corners=False definition: the source coordinate clamped at 0, the upper
    neighbour at the last pixel."""
    n, in_h, in_w, c = x.shape
    y = np.zeros((n, height, width, c))
    for i, j in itertools.product(range(height), range(width)):
        sy = max((i + 0.5) * in_h / height - 0.5, 0.0)
        sx = max((j + 0.5) * in_w / width - 0.5, 0.0)
        y0, x0 = int(math.floor(sy)), int(math.floor(sx))
        y1, x1 = min(y0 + 1, in_h - 1), min(x0 + 1, in_w - 1)
        fy, fx = sy - y0, sx - x0
        y[:, i, j] = ((1 - fy) * ((1 - fx) * x[:, y0, x0] + fx * x[:, y0, x1])
                      + fy * ((1 - fx) * x[:, y1, x0] + fx * x[:, y1, x1]))
    return y


def reference_nearest(x, height, width):
    n, in_h, in_w, c = x.shape
    y = np.zeros((n, height, width, c))
    for i, j in itertools.product(range(height), range(width)):
        y[:, i, j] = x[:, math.floor((i + 0.5) * in_h / height), math.floor((j + 0.5) * in_w / width)]
    return y


def extend(index, size, mode):
    """Where index lands in 0..size-1 under a fill mode; None for 'constant' outside."""
    if 0 <= index < size:
        return index
    if mode == "constant":
        return None
    if mode == "nearest":
        return min(max(index, 0), size - 1)
    if mode == "wrap":
        return index % size
    if mode == "reflect":  # d c b a | a b c d | d c b a
        m = index % (2 * size)
        return m if m < size else 2 * size - 1 - m
    if size == 1:  # mirror: c d c b | a b c d | c b a b
        return 0
    m = index % (2 * size - 2)
    return m if m < size else 2 * size - 2 - m


def reference_transform(x, transforms, order, mode, fill_value):
    n, h, w, c = x.shape
    y = np.zeros_like(x, dtype=np.float64)

    def pixel(b, r, s):
        rr, ss = extend(r, h, mode), extend(s, w, mode)
        return np.full(c, fill_value) if rr is None or ss is None else x[b, rr, ss]

    for b, r, s in itertools.product(range(n), range(h), range(w)):
        a0, a1, a2, b0, b1, b2, c0, c1 = transforms[b]
        k = c0 * s + c1 * r + 1
        col, row = (a0 * s + a1 * r + a2) / k, (b0 * s + b1 * r + b2) / k
        if order == 0:
            y[b, r, s] = pixel(b, math.floor(row + 0.5), math.floor(col + 0.5))
            continue
        r0, s0 = math.floor(row), math.floor(col)
        fr, fs = row - r0, col - s0
        y[b, r, s] = ((1 - fr) * ((1 - fs) * pixel(b, r0, s0) + fs * pixel(b, r0, s0 + 1))
                      + fr * ((1 - fs) * pixel(b, r0 + 1, s0) + fs * pixel(b, r0 + 1, s0 + 1)))
    return y


def random_affine(rng, n, h, w):
    """Rotations, zooms (some far out, so coordinates run several periods away) and shifts."""
    angles = rng.uniform(-np.pi, np.pi, n)
    zooms = rng.uniform(0.5, 3.0, (2, n))
    rotation = rotation_transforms(angles, h, w)
    t = zoom_transforms(zooms[0], zooms[1], h, w)
    out = np.empty_like(t)
    for i in range(n):  # zoom after rotation, plus a shift
        m_r = np.append(rotation[i], 1).reshape(3, 3)
        m_z = np.append(t[i], 1).reshape(3, 3)
        m = m_r @ m_z
        out[i] = m.reshape(-1)[:8]
    out[:, 2] += rng.uniform(-3, 3, n)
    out[:, 5] += rng.uniform(-3, 3, n)
    return out


# --- resize -------------------------------------------------------------------------------------------

SIZES = [(5, 7, 3, 4), (4, 3, 9, 8), (6, 6, 6, 6), (9, 2, 2, 5), (1, 4, 3, 1), (7, 5, 2, 2)]


@pytest.mark.parametrize("in_h, in_w, h, w", SIZES)
def test_bilinear_resize_matches_the_loop_references(in_h, in_w, h, w):
    x = np.random.default_rng(0).standard_normal((2, in_h, in_w, 3))
    y = resize(x, (h, w))
    assert_close(y, reference_bilinear_clamped(x, h, w))
    assert_close(y, reference_resize(x, h, w, triangle, 1))
    assert_close(resize(x, (h, w), antialias=True), reference_resize(x, h, w, triangle, 1, antialias=True))


@pytest.mark.parametrize("in_h, in_w, h, w", SIZES)
def test_nearest_resize_takes_the_pixel_under_each_half_pixel_centre(in_h, in_w, h, w):
    x = np.random.default_rng(1).standard_normal((2, in_h, in_w, 2))
    assert np.array_equal(resize(x, (h, w), interpolation="nearest"), reference_nearest(x, h, w))


def keys(d):
    if d < 1:
        return ((1.5 * d - 2.5) * d) * d + 1
    return ((-0.5 * d + 2.5) * d - 4) * d + 2 if d < 2 else 0.0


def lanczos(radius):
    return lambda d: 1.0 if d < 1e-3 else (
        0.0 if d > radius
        else radius * math.sin(math.pi * d) * math.sin(math.pi * d / radius) / (math.pi * d) ** 2
    )


@pytest.mark.parametrize(
    "interpolation, kernel, radius",
    [("bicubic", keys, 2), ("lanczos3", lanczos(3), 3), ("lanczos5", lanczos(5), 5)],
)
@pytest.mark.parametrize("antialias", [False, True])
def test_other_kernels_match_the_loop_reference(interpolation, kernel, radius, antialias):
    x = np.random.default_rng(2).standard_normal((1, 9, 6, 2))
    for h, w in [(4, 11), (13, 3)]:
        y = resize(x, (h, w), interpolation=interpolation, antialias=antialias)
        assert_close(y, reference_resize(x, h, w, kernel, radius, antialias))


@requires_torch
@pytest.mark.parametrize("in_h, in_w, h, w", SIZES)
def test_resize_matches_pytorch_interpolate(in_h, in_w, h, w):
    t = torch()
    functional = t.nn.functional
    x = np.random.default_rng(3).standard_normal((2, in_h, in_w, 3))
    xt = t.tensor(first(x))

    def torch_resize(**kw):
        return np.moveaxis(functional.interpolate(xt, size=(h, w), **kw).numpy(), 1, -1)

    assert_close(resize(x, (h, w)), torch_resize(mode="bilinear", align_corners=False))
    assert_close(
        resize(x, (h, w), antialias=True), torch_resize(mode="bilinear", align_corners=False, antialias=True)
    )
    assert np.array_equal(resize(x, (h, w), interpolation="nearest"), torch_resize(mode="nearest-exact"))
    # PyTorch's antialiased bicubic is Keys' a = -0.5 with normalised weights, as Keras' bicubic
    assert_close(
        resize(x, (h, w), interpolation="bicubic", antialias=True),
        torch_resize(mode="bicubic", align_corners=False, antialias=True),
    )


def test_resize_keeps_float32_and_casts_integers():
    x = np.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
    assert resize(x, (2, 2)).dtype == np.float32
    assert resize(x.astype(np.float32), (3, 5)).dtype == np.float32
    assert resize(x.astype(np.float64), (3, 5)).dtype == np.float64


def test_resize_to_the_same_size_is_an_independent_copy():
    x = np.random.default_rng(4).random((1, 4, 5, 2))
    y = resize(x, (4, 5))
    assert np.array_equal(y, x) and not np.shares_memory(y, x)


def test_a_nan_pixel_stays_where_the_kernel_reaches():
    x = np.zeros((1, 8, 8, 1))
    x[0, 0, 0, 0] = np.nan
    y = resize(x, (4, 4))
    assert np.isnan(y[0, 0, 0, 0]) and np.isnan(y).sum() == 1


@pytest.mark.parametrize("data_format", FORMATS)
def test_resize_of_one_image_and_channels_first(data_format):
    x = np.random.default_rng(5).random((3, 5, 7, 2))
    expected = resize(x, (4, 3))
    if data_format == "channels_first":
        assert_close(resize(first(x), (4, 3), data_format=data_format), first(expected))
        assert_close(resize(first(x)[1], (4, 3), data_format=data_format), first(expected)[1])
    else:
        assert_close(resize(x[1], (4, 3)), expected[1])


def test_aspect_ratio_arithmetic_is_keras():
    # 10x20 to a square: the centred 10x10 window; to 2:1 (h:w) the 10x5 window
    assert aspect_ratio_box(10, 20, 5, 5) == (0, 5, 10, 10)
    assert aspect_ratio_box(10, 20, 8, 4) == (0, 7, 10, 5)
    assert aspect_ratio_box(7, 7, 3, 3) == (0, 0, 7, 7)
    assert aspect_ratio_padding(10, 20, 5, 5) == ((5, 5), (0, 0))
    assert aspect_ratio_padding(10, 7, 10, 10) == ((0, 0), (1, 2))


def test_crop_and_pad_to_aspect_ratio():
    x = np.random.default_rng(6).random((2, 10, 20, 3))
    assert_close(resize(x, (5, 5), crop_to_aspect_ratio=True), resize(x[:, :, 5:15], (5, 5)))
    padded = np.concatenate([np.full((2, 5, 20, 3), 0.5), x, np.full((2, 5, 20, 3), 0.5)], axis=1)
    assert_close(resize(x, (4, 4), pad_to_aspect_ratio=True, fill_value=0.5), resize(padded, (4, 4)))


OPTIONS = st.fixed_dictionaries({
    "interpolation": st.sampled_from(["bilinear", "nearest", "bicubic", "lanczos3"]),
    "antialias": st.booleans(),
    "aspect": st.sampled_from(["stretch", "crop", "pad"]),
    "data_format": st.sampled_from(FORMATS),
})


@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(1, 3)),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    options=OPTIONS,
    batched=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_resize_backward_is_the_adjoint(shape, size, options, batched, seed):
    rng = np.random.default_rng(seed)
    options = dict(options)
    aspect = options.pop("aspect")
    options.update(crop_to_aspect_ratio=aspect == "crop", pad_to_aspect_ratio=aspect == "pad")
    x = rng.standard_normal(shape if batched else shape[1:])
    if options["data_format"] == "channels_first":
        x = np.moveaxis(x, -1, -3).copy()
    y = resize(x, size, **options)
    g = rng.standard_normal(y.shape)
    gx = resize_backward(g, x.shape, size, **options)
    assert gx.shape == x.shape
    # <resize(x), g> = <x, resize^T(g)> for the linear part (padding adds a constant: fill 0 here)
    assert math.isclose(np.vdot(y, g), np.vdot(x, gx), rel_tol=1e-9, abs_tol=1e-9)


def test_resize_backward_matches_finite_differences():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 4, 2))
    g = rng.standard_normal((2, 3, 7, 2))
    options = dict(antialias=True, crop_to_aspect_ratio=True)
    analytic = resize_backward(g, x.shape, (3, 7), **options)
    assert_gradient(analytic, lambda v: resize(v, (3, 7), **options), x, g)


def test_resize_matrix_rows_hold_the_weights():
    m = resize_matrix(4, 2)  # halving: each output averages two inputs
    assert_close(m, np.array([[0.5, 0], [0.5, 0], [0, 0.5], [0, 0.5]]))
    assert_close(resize_matrix(3, 6).sum(axis=0), np.ones(6))


# --- transform and its fill modes -------------------------------------------------------------------


@pytest.mark.parametrize("mode", FILL_MODES)
@pytest.mark.parametrize("interpolation, order", [("bilinear", 1), ("nearest", 0)])
@pytest.mark.parametrize("kind", ["general", "diagonal"])
def test_transform_matches_the_loop_reference(mode, interpolation, order, kind):
    """Rotations with zooms and shifts, and zooms with shifts alone (ndimage's diagonal path)."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 6, 2))
    if kind == "general":
        t = random_affine(rng, 3, 5, 6)
    else:
        t = zoom_transforms(rng.uniform(0.4, 3.0, 3), rng.uniform(0.4, 3.0, 3), 5, 6)
        t[:, [2, 5]] += rng.uniform(-4, 4, (3, 2))
    y = transform(x, t, interpolation=interpolation, fill_mode=mode, fill_value=0.75)
    assert_close(y, reference_transform(x, t, order, mode, 0.75))


@pytest.mark.parametrize("mode", FILL_MODES)
def test_projective_transform_matches_the_loop_reference(mode):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 6, 5, 1))
    t = random_affine(rng, 2, 6, 5)
    t[:, 6:] = [[0.05, -0.03], [-0.02, 0.04]]
    assert_close(transform(x, t, fill_mode=mode, fill_value=-1.0), reference_transform(x, t, 1, mode, -1.0))


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("reflect", "dcba"),  # (d c b a | a b c d | d c b a)
        ("wrap", "abcd"),  # (a b c d | a b c d | a b c d)
        ("constant", "kkkk"),  # (k k k k | a b c d | k k k k)
        ("nearest", "aaaa"),  # (a a a a | a b c d | d d d d)
    ],
)
def test_fill_modes_are_keras_documented_extensions(mode, expected):
    """A row a b c d moved right by its own width shows what lies left of it."""
    values = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "k": 9.0}
    row = np.array([[[values[v]] for v in "abcd"]])  # (1, 4, 1): one image, 1x4
    moved = transform(row, translation_transforms(0.0, 4.0)[0], fill_mode=mode, fill_value=9.0)
    assert moved[0, :, 0].tolist() == [values[v] for v in expected]


def test_rotation_is_counter_clockwise_for_positive_angles():
    x = np.zeros((5, 5, 1))
    x[4, 2] = 1.0  # bottom middle
    y = transform(x, rotation_transforms(np.pi / 2, 5, 5)[0], fill_mode="constant")
    assert np.unravel_index(np.argmax(y), y.shape)[:2] == (2, 4)  # -> right middle


def test_zoom_above_one_zooms_out_and_translation_moves_down_right():
    x = np.zeros((1, 9, 9, 1))
    x[0, 2:7, 2:7] = 1.0  # a 5x5 square in the middle
    out = transform(x, zoom_transforms(2.0, 2.0, 9, 9), fill_mode="constant")
    assert out.sum() < x.sum() / 2  # the square shrank
    down = transform(x, translation_transforms(1.0, 2.0), fill_mode="constant")
    assert np.array_equal(down[0, 3:8, 4:9], x[0, 2:7, 2:7])


@pytest.mark.parametrize("data_format", FORMATS)
def test_transform_one_image_channels_first_and_dtypes(data_format):
    rng = np.random.default_rng(10)
    x = rng.random((2, 6, 5, 3)).astype(np.float32)
    t = random_affine(rng, 2, 6, 5)
    y = transform(x, t)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert_close(transform(x[1], t[1]), y[1], np.float32)
    assert_close(transform(first(x), t, data_format="channels_first"), first(y), np.float32)
    assert transform(np.ones((1, 4, 4, 1), dtype=np.uint8), t[0]).dtype == np.float32


def test_transform_with_one_row_for_the_batch_and_the_identity():
    x = np.random.default_rng(11).random((3, 4, 4, 2))
    identity = np.array([1.0, 0, 0, 0, 1, 0, 0, 0])
    assert_close(transform(x, identity), x)
    assert_close(transform(x, translation_transforms(1.0, 0.0)[0], fill_mode="wrap"), np.roll(x, 1, axis=1))


def test_transform_without_scipy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.ndimage", None)
    with pytest.raises(ImportError, match=r'transform needs SciPy .*pip install "convolve\[viz\]"'):
        transform(np.zeros((1, 3, 3, 1)), np.array([1.0, 0, 0, 0, 1, 0, 0, 0]))


# --- crops, flips, contrast, brightness ---------------------------------------------------------------


@pytest.mark.parametrize("data_format", FORMATS)
def test_crop_images_and_its_backward(data_format):
    x = np.random.default_rng(12).standard_normal((2, 6, 7, 3))
    y = crop_images(x if data_format == "channels_last" else first(x), 1, 2, 4, 3, data_format)
    expected = x[:, 1:5, 2:5]
    assert np.array_equal(y, expected if data_format == "channels_last" else first(expected))
    g = np.ones(y.shape)
    shape = (2, 6, 7, 3) if data_format == "channels_last" else (2, 3, 6, 7)
    gx = crop_images_backward(g, shape, 1, 2, data_format)
    assert gx.sum() == g.sum() and np.array_equal(crop_images(gx, 1, 2, 4, 3, data_format), g)


def test_flip_each_image_as_flagged():
    x = np.random.default_rng(13).standard_normal((4, 3, 5, 2))
    h, v = np.array([True, False, True, False]), np.array([True, True, False, False])
    y = flip(x, h, v)
    for i in range(4):
        expected = x[i][:, ::-1] if h[i] else x[i]
        expected = expected[::-1] if v[i] else expected
        assert np.array_equal(y[i], expected)
    assert np.array_equal(flip(y, h, v), x)  # its own inverse (and adjoint)
    assert np.array_equal(flip(first(x), h, v, "channels_first"), first(y))
    assert np.array_equal(flip(x[0], True, True), x[0][::-1, ::-1])


@pytest.mark.parametrize("data_format", FORMATS)
def test_contrast_and_brightness_match_their_formulas(data_format):
    x = np.random.default_rng(14).uniform(0, 255, (3, 4, 5, 2))
    factors, deltas = np.array([0.5, 1.0, 1.7]), np.array([-30.0, 0.0, 40.0])
    mean = x.mean(axis=(1, 2), keepdims=True)
    expected = np.clip((x - mean) * factors[:, None, None, None] + mean, 0, 255)
    xf = x if data_format == "channels_last" else first(x)
    y = adjust_contrast(xf, factors, (0, 255), data_format)
    assert_close(y, expected if data_format == "channels_last" else first(expected))
    assert_close(adjust_brightness(x, deltas, (0, 255)), np.clip(x + deltas[:, None, None, None], 0, 255))
    assert_close(adjust_contrast(x[2], 1.7, None), (x[2] - mean[2]) * 1.7 + mean[2])


@pytest.mark.parametrize("data_format", FORMATS)
def test_contrast_and_brightness_gradients_match_finite_differences(data_format):
    rng = np.random.default_rng(15)
    x = rng.uniform(0, 1, (2, 3, 4, 2))
    x = x if data_format == "channels_last" else first(x)
    g = rng.standard_normal(x.shape)
    factors, deltas = np.array([0.6, 1.4]), np.array([0.1, -0.05])
    for value_range in [None, (0.2, 0.9)]:  # with clipping: away from the kinks for this x
        assert_gradient(
            adjust_contrast_backward(g, x, factors, value_range, data_format),
            lambda v, r=value_range: adjust_contrast(v, factors, r, data_format), x, g,
        )
        assert_gradient(
            adjust_brightness_backward(g, x, deltas, value_range),
            lambda v, r=value_range: adjust_brightness(v, deltas, r), x, g,
        )


def test_clipped_values_pass_no_gradient():
    x = np.array([[[[0.0], [1.0]], [[2.0], [3.0]]]])
    g = np.ones_like(x)
    assert adjust_brightness_backward(g, x, 1.0, (0, 3)).ravel().tolist() == [1, 1, 1, 0]
    # contrast 3 about the mean 1.5: outputs -3, 0, 3, 6; the first and last are clipped, so only the
    # middle two pass g, and every input also moves the mean: 3 * [0, 1, 1, 0] - 2 * mean([0, 1, 1, 0])
    assert adjust_contrast_backward(g, x, 3.0, (0.0, 3.0)).ravel().tolist() == [-1, 2, 2, -1]


# --- errors -------------------------------------------------------------------------------------------

ONE = np.zeros((1, 4, 4, 1))
IDENTITY = np.array([1.0, 0, 0, 0, 1, 0, 0, 0])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: resize(np.zeros((4, 4)), (2, 2)), ValueError,
         r"resize: expected images of rank 3 \(one image\) or 4 \(a batch of images\). "
         r"Received: images.shape=\(4, 4\)"),
        (lambda: resize(ONE, (2, 0)), ValueError,
         r"resize: the `size` argument must be \(height, width\), two positive ints. "
         r"Received: size=\(2, 0\)"),
        (lambda: resize(ONE, 3), TypeError, r"resize: the `size` argument .* Received: size=3"),
        (lambda: resize(ONE, (2, 2), interpolation="area"), ValueError,
         r"resize: the `interpolation` argument must be one of \{'bilinear', 'nearest', 'bicubic', "
         r"'lanczos3', 'lanczos5'\}. Received: interpolation='area'"),
        (lambda: resize(ONE, (2, 2), fill_mode="reflect"), ValueError,
         r"the `fill_mode` argument must be one of \{'constant'\}. Received: fill_mode='reflect'"),
        (lambda: resize(ONE, (2, 2), crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), ValueError,
         r"only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
         r"Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True"),
        (lambda: resize(np.zeros((1, 0, 4, 1)), (2, 2)), ValueError,
         r"resize: the images are empty. Received: images.shape=\(1, 0, 4, 1\)"),
        (lambda: resize_backward(np.zeros((1, 3, 3, 1)), (1, 4, 4, 1), (2, 2)), ValueError,
         r"resize_backward: expected grad of shape \(1, 2, 2, 1\), the forward's output for input_shape="
         r"\(1, 4, 4, 1\). Received: grad.shape=\(1, 3, 3, 1\)"),
        (lambda: crop_images(ONE, 1, 1, 4, 2), ValueError,
         r"crop_images: the window must lie inside the 4x4 images \(top, left >= 0; height, width >= 1\). "
         r"Received: top=1, left=1, height=4, width=2"),
        (lambda: flip(np.zeros((2, 3, 3, 1)), np.array([True, False, True])), ValueError,
         r"flip: `horizontal` must be a bool or one bool per image \(2,\). Received: horizontal=array"),
        (lambda: flip(np.zeros((3, 3, 1)), 1), ValueError,
         r"flip: `horizontal` must be a bool. Received: horizontal=1"),
        (lambda: adjust_contrast(np.zeros((2, 3, 3, 1)), [1.0, 2.0, 3.0]), ValueError,
         r"adjust_contrast: `factors` must be a number or one number per image \(2,\). "
         r"Received: factors of shape \(3,\)"),
        (lambda: adjust_contrast(np.zeros((3, 3, 1)), [1.0]), ValueError,
         r"adjust_contrast: `factors` must be a number. Received: factors of shape \(1,\)"),
        (lambda: adjust_brightness(ONE, np.inf), ValueError,
         r"adjust_brightness: `deltas` must be finite. Received: deltas=inf"),
        (lambda: adjust_brightness(ONE, 0.1, value_range=(0, "x")), ValueError,
         r"adjust_brightness: `value_range` must be None or \(low, high\), two numbers. "
         r"Received: value_range=\(0, 'x'\)"),
        (lambda: transform(ONE, IDENTITY, fill_mode="mirrored"), ValueError,
         r"transform: the `fill_mode` argument must be one of \{'reflect', 'wrap', 'constant', 'nearest', "
         r"'mirror'\}. Received: fill_mode='mirrored'"),
        (lambda: transform(ONE, IDENTITY, interpolation="bicubic"), ValueError,
         r"transform: the `interpolation` argument must be one of \{'nearest', 'bilinear'\}. "
         r"Received: interpolation='bicubic'"),
        (lambda: transform(ONE, IDENTITY, fill_value=np.nan), ValueError,
         r"transform: `fill_value` must be a finite number. Received: fill_value=nan"),
        (lambda: transform(ONE, np.zeros((2, 8))), ValueError,
         r"transform: `transforms` must be 8 finite numbers \[a0, a1, a2, b0, b1, b2, c0, c1\], "
         r"or one such row per image \(1, 8\). Received: transforms of shape \(2, 8\)"),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_module_lists_its_modes():
    assert image.FILL_MODES["wrap"] == "grid-wrap" and image.FILL_MODES["constant"] == "grid-constant"
