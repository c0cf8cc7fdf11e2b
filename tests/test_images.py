"""convolve.images: loading, normalising, colouring, tiling, saving and filtering images."""
import os
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from convolve import filters, images
from convolve.ops.conv import conv
from tests.helpers import forged_png


def write(path, pixels, mode=None):
    Image.fromarray(pixels, mode=mode).save(path) if mode else Image.fromarray(pixels).save(path)
    return str(path)


def read(path):
    with Image.open(path) as img:
        img.load()
        return img.format, img.mode, np.asarray(img)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---- load_image ------------------------------------------------------------------------------
def test_round_trip_grey_png(tmp_path, rng):
    pixels = rng.integers(0, 256, (6, 9), dtype=np.uint8)
    path = tmp_path / "grey.png"
    assert images.save_image(path, pixels, normalize=None) == os.fspath(path)
    fmt, mode, back = read(path)
    assert (fmt, mode) == ("PNG", "L")
    np.testing.assert_array_equal(back, pixels)
    x = images.load_image(path)
    assert x.shape == (1, 6, 9, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :, 0], pixels / 255, atol=1e-7)
    np.testing.assert_array_equal(images.load_image(path, "auto"), x)


def test_round_trip_rgb_png(tmp_path, rng):
    pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "rgb.png"
    images.save_image(path, pixels, normalize=None)
    fmt, mode, back = read(path)
    assert (fmt, mode) == ("PNG", "RGB")
    np.testing.assert_array_equal(back, pixels)
    x = images.load_image(path, color_mode="rgb")
    assert x.shape == (1, 5, 7, 3)
    np.testing.assert_allclose(x[0], pixels / 255, atol=1e-7)
    np.testing.assert_array_equal(images.load_image(path, "auto"), x)
    # float [0, 1] arrays round-trip too
    images.save_image(tmp_path / "f.png", x, normalize=None)
    np.testing.assert_allclose(images.load_image(tmp_path / "f.png", "rgb"), x, atol=1e-7)


def test_load_grayscale_of_colour_file_is_pillows_luma(tmp_path, rng):
    pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    path = write(tmp_path / "c.png", pixels)
    luma = np.asarray(Image.fromarray(pixels).convert("L")) / 255
    np.testing.assert_allclose(images.load_image(path, "grayscale")[0, :, :, 0], luma, atol=1e-7)


def test_load_rgb_of_grey_file_repeats_channel(tmp_path, rng):
    pixels = rng.integers(0, 256, (4, 5), dtype=np.uint8)
    path = write(tmp_path / "g.png", pixels)
    x = images.load_image(path, "rgb")
    assert x.shape == (1, 4, 5, 3)
    for c in range(3):
        np.testing.assert_allclose(x[0, :, :, c], pixels / 255, atol=1e-7)


def test_load_drops_alpha(tmp_path, rng):
    rgba = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent: the colours must still come back, not a background
    path = write(tmp_path / "a.png", rgba)
    x = images.load_image(path, "auto")
    assert x.shape == (1, 4, 4, 3)
    np.testing.assert_allclose(x[0], rgba[..., :3] / 255, atol=1e-7)
    la = np.stack([rgba[..., 0], rgba[..., 3]], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    y = images.load_image(tmp_path / "la.png", "auto")
    assert y.shape == (1, 4, 4, 1)
    np.testing.assert_allclose(y[0, :, :, 0], rgba[..., 0] / 255, atol=1e-7)


def test_load_16_bit_grey_scaled_to_unit(tmp_path):
    pixels = (np.arange(12).reshape(3, 4) * 5000).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "h.png")
    x = images.load_image(tmp_path / "h.png", "auto")
    assert x.shape == (1, 3, 4, 1)
    np.testing.assert_allclose(x[0, :, :, 0], pixels / 65535, rtol=1e-6)


def test_load_other_formats_and_target_size(tmp_path, rng):
    pixels = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    for suffix in (".bmp", ".gif", ".tif", ".jpg"):
        path = tmp_path / f"x{suffix}"
        images.save_image(path, pixels, normalize=None)
        x = images.load_image(path, "auto")
        assert x.shape[:3] == (1, 6, 8) and 0 <= x.min() and x.max() <= 1
    x = images.load_image(tmp_path / "x.bmp", "rgb", target_size=(12, 4))
    assert x.shape == (1, 12, 4, 3)
    # nearest: rows doubled, odd columns
    np.testing.assert_allclose(x[0, ::2, :, :], pixels[:, 1::2] / 255, atol=1e-7)
    x = images.load_image(tmp_path / "x.bmp", target_size=5, interpolation="bilinear")
    assert x.shape == (1, 5, 5, 1)


def test_load_errors(tmp_path):
    missing = tmp_path / "none.png"
    with pytest.raises(FileNotFoundError, match=rf"load_image: no such file. Received: path='{missing}'$"):
        images.load_image(missing)
    with pytest.raises(IsADirectoryError, match=r"load_image: expected an image file, found a folder. "
                                                r"Received: path="):
        images.load_image(tmp_path)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ValueError, match=rf"load_image: the file is not an image Pillow can read \(.*\)\. "
                                         rf"Received: path='{text}'$"):
        images.load_image(text)
    with pytest.raises(ValueError, match=r"load_image: the `color_mode` argument must be one of "
                                         r"\{'grayscale', 'rgb', 'auto'\}. Received: color_mode='rgba'$"):
        images.load_image(text, color_mode="rgba")
    with pytest.raises(ValueError, match=r"load_image: the `target_size` argument must be an int or a tuple "
                                         r"of 2 ints. Received: target_size=\(1, 2, 3\)$"):
        images.load_image(text, target_size=(1, 2, 3))
    with pytest.raises(ValueError, match=r"load_image: the `interpolation` argument must be one of .*"
                                         r"Received: interpolation='cubic'$"):
        images.load_image(text, interpolation="cubic")
    with pytest.raises(TypeError, match=r"load_image: `path` must be a file name \(str or os.PathLike\). "
                                        r"Received: path=3$"):
        images.load_image(3)


# ---- load_image: hostile and odd files -----------------------------------------------------------
@pytest.fixture(params=[None, 7], ids=["one_strip", "strips_of_7_pixels"])
def strips(request, monkeypatch):
    """Run a test with the conversion in one strip and in many (7 pixels: rows of a narrow image,
    a partial last strip)."""
    if request.param is not None:
        monkeypatch.setattr(images, "_STRIP_PIXELS", request.param)


def test_max_pixels_refuses_before_decoding(tmp_path, no_warnings):
    path = write(tmp_path / "g.png", np.zeros((4, 6), np.uint8))
    assert images.load_image(path, max_pixels=24).shape == (1, 4, 6, 1)  # exactly the limit is allowed
    with pytest.raises(images.ImageTooLargeError, match=(
        r"^load_image: the image is 6x4 \(width x height\) = 24 pixels, more than max_pixels=23 \(by "
        r"default Pillow's PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs\), so it is "
        r"refused before decoding. For a file you trust, pass a larger `max_pixels`, or max_pixels=None "
        rf"for no limit. Received: path='{path}', size=\(6, 4\)$"
    )) as info:
        images.load_image(path, max_pixels=23)
    assert isinstance(info.value, ValueError)  # the documented type
    assert (info.value.path, info.value.size, info.value.max_pixels) == (path, (6, 4), 23)


def test_max_pixels_by_default_is_pillows_limit_read_at_call_time(tmp_path, monkeypatch, no_warnings):
    from PIL import Image as PILImage

    path = write(tmp_path / "g.png", np.zeros((5, 5), np.uint8))  # 25 pixels
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 20)  # Pillow would only warn up to 40
    with pytest.raises(ValueError, match=r"25 pixels, more than max_pixels=20 .*Received: path="):
        images.load_image(path)
    x = images.load_image(path, max_pixels=None)  # ours lifted; Pillow's warning silenced
    assert x.shape == (1, 5, 5, 1)
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", None)  # Pillow's "no limit"
    assert images.load_image(path).shape == (1, 5, 5, 1)


def test_forged_header_above_pillows_limit_is_refused_without_a_warning(tmp_path, no_warnings):
    path = forged_png(tmp_path / "bomb.png", 12000, 12000)  # 144 M pixels: Pillow only warns
    expected = r"the image is 12000x12000 \(width x height\) = 144,000,000 pixels, more than max_pixels=89,4"
    with pytest.raises(images.ImageTooLargeError, match=expected):
        images.load_image(path, color_mode="rgb")


@pytest.mark.parametrize("forged", [True, False])
def test_decompression_bomb_error_becomes_value_error(tmp_path, monkeypatch, no_warnings, forged):
    from PIL import Image as PILImage

    if forged:
        path = forged_png(tmp_path / "bomb.png", 20000, 20000)  # 400 M: over twice Pillow's limit
    else:
        path = write(tmp_path / "g.png", np.zeros((8, 8), np.uint8))
        monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10)  # 64 pixels > 2 * 10
    for max_pixels in ("default", None, 10**12):
        with pytest.raises(images.ImageTooLargeError, match=(
            r"^load_image: Pillow refused the image as a possible decompression bomb, before decoding it "
            r"\(Image size \(\d+ pixels\) exceeds limit of \d+ pixels, could be decompression bomb DOS "
            r"attack.\). Pillow refuses anything above twice PIL.Image.MAX_IMAGE_PIXELS whatever "
            r"`max_pixels` says; to read a file you trust, raise PIL.Image.MAX_IMAGE_PIXELS \(None: no "
            r"limit\) and `max_pixels`. "
            rf"Received: path='{path}', max_pixels={max_pixels!r}$"
        )) as info:
            images.load_image(path, max_pixels=max_pixels)
        assert isinstance(info.value, ValueError) and info.value.size is None


@pytest.mark.parametrize("value", [0, -5, True, 2.5, "none", np.array([10])])
def test_max_pixels_must_be_a_positive_integer_none_or_default(tmp_path, value):
    path = write(tmp_path / "g.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match=(
        r"^load_image: `max_pixels` must be a positive integer, None \(no limit\) or 'default' \(Pillow's "
        r"limit\). Received: max_pixels="
    )):
        images.load_image(path, max_pixels=value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_nan_or_infinity_is_refused(tmp_path, strips, bad):
    pixels = np.full((4, 5), 0.5, np.float32)
    pixels[2, 3] = bad
    path = tmp_path / "f.tif"
    Image.fromarray(pixels).save(path)
    with pytest.raises(ValueError, match=(
        rf"^load_image: the image '{path}' holds NaN or infinite values \(the first in row 2\); load_image "
        r"returns values in \[0, 1\]. Received: a float image \(Pillow mode 'F'\) of size 5x4$"
    )):
        images.load_image(path, "rgb")


def test_float_tiff_outside_unit_range_is_refused_naming_the_range(tmp_path, strips):
    pixels = np.linspace(0, 2, 12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "f.tif"
    Image.fromarray(pixels).save(path)
    with pytest.raises(ValueError, match=(
        rf"^load_image: the image '{path}' is a float image whose values must lie in \[0, 1\] \(they are "
        r"used as they are\). Received: values from 0 to 2$"
    )):
        images.load_image(path)
    Image.fromarray(pixels / 2).save(path)  # in range: used as it is
    np.testing.assert_array_equal(images.load_image(path, "auto")[0, :, :, 0], pixels / 2)


def test_int32_tiff_is_divided_by_the_largest_int32(tmp_path, strips):
    pixels = np.array([[0, 2**30, 2**31 - 1], [1, 12345, 2**16]], np.int32)
    path = tmp_path / "i.tif"
    Image.fromarray(pixels).save(path)
    with Image.open(path) as img:
        assert img.mode == "I"
    x = images.load_image(path)
    assert x.shape == (1, 2, 3, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, :, 0], (pixels / (2**31 - 1)).astype(np.float32))
    assert x[0, 0, 1, 0] == pytest.approx(0.5, abs=1e-9)  # 2**30 was clipped to 1.0 before
    assert x[0, 0, 2, 0] == 1.0


def test_negative_int32_tiff_is_refused(tmp_path):
    path = tmp_path / "i.tif"
    Image.fromarray(np.array([[-3, 0], [5, 7]], np.int32)).save(path)
    with pytest.raises(ValueError, match=(
        rf"^load_image: the image '{path}' is a 32-bit integer image, divided by 2\*\*31 - 1 to give "
        r"\[0, 1\], so its values must lie in 0..2147483647. Received: values from -3 to 7$"
    )):
        images.load_image(path)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grey_is_divided_by_65535(tmp_path, strips, suffix):
    pixels = np.array([[0, 1, 257], [32768, 65534, 65535]], np.uint16)
    path = tmp_path / f"h{suffix}"
    Image.fromarray(pixels).save(path)
    with Image.open(path) as img:
        assert img.mode.startswith("I;16")
    expected = pixels.astype(np.float32) / np.float32(65535)
    np.testing.assert_array_equal(images.load_image(path)[0, :, :, 0], expected)
    rgb = images.load_image(path, "rgb")
    np.testing.assert_array_equal(rgb[0], np.repeat(expected[:, :, None], 3, axis=-1))


def _files_of_every_mode(tmp_path, rng):
    """{Pillow mode: path} for the modes load_image reads, 5x7 pixels each."""
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    grey = rgb[..., 0]
    made = {
        "1": Image.fromarray(grey).convert("1"),
        "L": Image.fromarray(grey),
        "LA": Image.fromarray(np.dstack([grey, rgb[..., 1]]), mode="LA"),
        "P": Image.fromarray(rgb).convert("P"),
        "RGB": Image.fromarray(rgb),
        "RGBA": Image.fromarray(rgb).convert("RGBA"),
        "I;16": Image.fromarray(grey.astype(np.uint16) * 257),
        "I": Image.fromarray(grey.astype(np.int32) << 23),
        "F": Image.fromarray(grey.astype(np.float32) / 255),
    }
    paths = {}
    for mode, picture in made.items():
        paths[mode] = str(tmp_path / f"{mode.replace(';', '_')}.{'tif' if mode in ('I', 'F') else 'png'}")
        picture.save(paths[mode])
    return paths


def test_every_mode_gives_float32_batches_in_unit_range(tmp_path, rng, strips):
    for mode, path in _files_of_every_mode(tmp_path, rng).items():
        grey = mode in ("1", "L", "LA", "I;16", "I", "F")
        for color_mode, channels in (("grayscale", 1), ("rgb", 3), ("auto", 1 if grey else 3)):
            x = images.load_image(path, color_mode)
            assert x.shape == (1, 5, 7, channels) and x.dtype == np.float32, (mode, color_mode)
            assert x.flags.c_contiguous and 0 <= x.min() and x.max() <= 1, (mode, color_mode)
            if channels == 3 and grey:  # rgb from grey is the grey channel repeated, exactly
                np.testing.assert_array_equal(x, np.repeat(images.load_image(path, "grayscale"), 3, axis=-1))


def test_strips_give_the_same_array_as_one_pass(tmp_path, rng, monkeypatch):
    paths = _files_of_every_mode(tmp_path, rng)
    whole = {(m, c): images.load_image(p, c) for m, p in paths.items() for c in ("grayscale", "rgb")}
    monkeypatch.setattr(images, "_STRIP_PIXELS", 8)  # one row of 7 at a time
    for (mode, color_mode), expected in whole.items():
        np.testing.assert_array_equal(images.load_image(paths[mode], color_mode), expected)


def test_conversion_allocates_the_output_once(tmp_path, rng, monkeypatch):
    """Beside the output, only strip-sized temporaries: traced NumPy/Python memory stays within 10%
    of the (1, H, W, C) float32 output (the old code made several full-size float copies)."""
    monkeypatch.setattr(images, "_STRIP_PIXELS", 4096)
    pixels = rng.integers(0, 256, (600, 800, 3), dtype=np.uint8)  # large beside Pillow's 64 KB file reads
    cases = {
        "rgb.png": (Image.fromarray(pixels), "rgb"),
        "grey_as_rgb.png": (Image.fromarray(pixels[..., 0]), "rgb"),
        "h.png": (Image.fromarray(pixels[..., 0].astype(np.uint16) * 257), "grayscale"),
        "f.tif": (Image.fromarray(pixels[..., 0].astype(np.float32) / 255), "grayscale"),
        "i.tif": (Image.fromarray(pixels[..., 0].astype(np.int32)), "grayscale"),
    }
    for name, (picture, color_mode) in cases.items():
        picture.save(tmp_path / name)
        images.load_image(tmp_path / name, color_mode)  # imports and caches warmed up
        tracemalloc.start()
        try:
            x = images.load_image(tmp_path / name, color_mode)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1.1 * x.nbytes, (name, peak / x.nbytes)


# ---- normalize_maps ------------------------------------------------------------------------------
def test_minmax_per_channel(rng):
    maps = rng.normal(size=(2, 5, 6, 3)) * np.array([1, 10, 100])
    before = maps.copy()
    out = images.normalize_maps(maps, "minmax")
    np.testing.assert_array_equal(maps, before)
    assert out.shape == maps.shape
    for n in range(2):
        for c in range(3):
            m, o = maps[n, :, :, c], out[n, :, :, c]
            assert o.min() == 0 and o.max() == pytest.approx(1)
            assert o[np.unravel_index(m.argmin(), m.shape)] == 0
            assert o[np.unravel_index(m.argmax(), m.shape)] == pytest.approx(1)
            np.testing.assert_allclose(o, (m - m.min()) / (m.max() - m.min()))


def test_minmax_constant_map_is_mid_grey():
    maps = np.zeros((4, 4, 2))
    maps[..., 1] = 7.0
    maps[0, 0, 0] = 1.0
    out = images.normalize_maps(maps, "minmax")
    assert np.all(out[..., 1] == 0.5)
    assert out[0, 0, 0] == 1 and out[1, 1, 0] == 0
    np.testing.assert_array_equal(images.to_image_array(np.full((3, 3), 2.0)), np.full((3, 3), 128))


def test_symmetric_per_channel_keeps_zero(rng):
    maps = rng.normal(size=(5, 5, 2)) * np.array([1, 50])
    maps[2, 2] = 0
    out = images.normalize_maps(maps, "symmetric")
    for c in range(2):
        m = np.abs(maps[..., c]).max()
        np.testing.assert_allclose(out[..., c], maps[..., c] / m)
        assert np.abs(out[..., c]).max() == pytest.approx(1)
    assert np.all(out[2, 2] == 0)
    np.testing.assert_array_equal(images.normalize_maps(np.zeros((3, 3)), "symmetric"), np.zeros((3, 3)))


def test_clip_and_float_dtypes():
    x = np.array([[-1.0, 0.25], [0.5, 2.0]])
    np.testing.assert_array_equal(images.normalize_maps(x, "clip"), [[0, 0.25], [0.5, 1]])
    assert images.normalize_maps(x.astype(np.float32), "minmax").dtype == np.float32
    assert images.normalize_maps(x, "minmax").dtype == np.float64
    assert images.normalize_maps(np.arange(4).reshape(2, 2), "minmax").dtype == np.float32


def test_two_dimensional_input_is_one_map():
    x = np.array([[0.0, 1.0], [2.0, 4.0]])
    np.testing.assert_allclose(images.normalize_maps(x, "minmax"), x / 4)


def test_normalize_maps_errors():
    with pytest.raises(ValueError, match=r"normalize_maps: the `mode` argument must be one of "
                                         r"\{'minmax', 'symmetric', 'clip'\}. Received: mode='max'$"):
        images.normalize_maps(np.ones((2, 2)), "max")
    with pytest.raises(ValueError, match=r"normalize_maps: expected maps of shape \(H, W\) or "
                                         r"\(\.\.\., H, W, C\). Received: maps.shape=\(3,\)$"):
        images.normalize_maps(np.ones(3))
    with pytest.raises(ValueError, match=r"normalize_maps: the maps contain NaN or infinite values. "
                                         r"Received: maps.shape=\(2, 2\)$"):
        images.normalize_maps(np.array([[1.0, np.inf], [0, 0]]))


# ---- colours and to_image_array --------------------------------------------------------------
def test_diverging_colours():
    cols = images.diverging_colormap(np.array([-1.0, -0.3, 0.0, 0.3, 1.0, 5.0]))
    assert cols.dtype == np.uint8 and cols.shape == (6, 3)
    np.testing.assert_array_equal(cols[2], [255, 255, 255])
    for neg in cols[:2]:
        assert neg[2] > neg[0]  # blue-ish
    for pos in cols[3:]:
        assert pos[0] > pos[2]  # red-ish
    np.testing.assert_array_equal(cols[4], cols[5])  # clipped
    np.testing.assert_array_equal(cols[0], images.DIVERGING_STOPS[0][1])


def test_symmetric_picture_zero_white_negative_blue_positive_red():
    m = np.array([[-2.0, 0.0, 1.0], [0.5, -1.0, 2.0]])
    px = images.to_image_array(m, "symmetric")
    assert px.shape == (2, 3, 3) and px.dtype == np.uint8
    np.testing.assert_array_equal(px[0, 1], [255, 255, 255])
    assert px[0, 0, 2] > px[0, 0, 0] and px[1, 1, 2] > px[1, 1, 0]
    assert px[0, 2, 0] > px[0, 2, 2] and px[1, 2, 0] > px[1, 2, 2]
    np.testing.assert_array_equal(px[0, 0], images.DIVERGING_STOPS[0][1])
    np.testing.assert_array_equal(px[1, 2], images.DIVERGING_STOPS[-1][1])


def test_minmax_picture_and_accepted_shapes(rng):
    m = rng.normal(size=(4, 5))
    px = images.to_image_array(m)
    assert px.dtype == np.uint8 and px.shape == (4, 5)
    assert px.min() == 0 and px.max() == 255
    assert px[np.unravel_index(m.argmax(), m.shape)] == 255
    np.testing.assert_array_equal(images.to_image_array(m[:, :, None]), px)
    np.testing.assert_array_equal(images.to_image_array(m[None, :, :, None]), px)


def test_rgb_minmax_keeps_colours():
    rgb = np.zeros((2, 2, 3))
    rgb[0, 0] = [0.2, 0.4, 0.6]
    px = images.to_image_array(rgb, "minmax")
    assert px.shape == (2, 2, 3)
    np.testing.assert_array_equal(px[0, 0], [85, 170, 255])  # stretched together, not per channel
    assert np.all(px[1, 1] == 0)
    np.testing.assert_array_equal(images.to_image_array(rgb * 0 - 1, "symmetric")[0, 0], [0, 0, 0])


def test_to_image_array_none_and_clip():
    np.testing.assert_array_equal(images.to_image_array(np.array([[0.0, 1.0]]), None), [[0, 255]])
    np.testing.assert_array_equal(images.to_image_array(np.array([[0, 200]], np.uint8), None), [[0, 200]])
    clipped = images.to_image_array(np.array([[-1.0, 0.5, 3.0]]), "clip")
    np.testing.assert_array_equal(clipped, [[0, 128, 255]])
    np.testing.assert_array_equal(images.to_image_array(np.array([[False, True]]), None), [[0, 255]])


def test_to_image_array_errors():
    with pytest.raises(ValueError, match=r"to_image_array: with normalize=None, float values must lie in "
                                         r"\[0, 1\].*Received: values from 0.0 to 2.0$"):
        images.to_image_array(np.array([[0.0, 2.0]]), None)
    with pytest.raises(ValueError, match=r"Received: values from -3 to 0$"):
        images.to_image_array(np.array([[-3, 0]]), None)
    with pytest.raises(ValueError, match=r"to_image_array: the array contains NaN or infinite values. "
                                         r"Received: normalize=None$"):
        images.to_image_array(np.array([[np.nan, 0.0]]), None)
    with pytest.raises(ValueError, match=r"to_image_array: expected an image \(H, W\).*use save_maps\). "
                                         r"Received: array.shape=\(4, 4, 5\)$"):
        images.to_image_array(np.zeros((4, 4, 5)))
    with pytest.raises(ValueError, match=r"to_image_array: a 4-D array must hold one image.*"
                                         r"Received: array.shape=\(2, 4, 4, 1\)$"):
        images.to_image_array(np.zeros((2, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"to_image_array: the `normalize` argument must be one of "
                                         r"\{'minmax', 'symmetric', 'clip'\}. Received: normalize='min'$"):
        images.to_image_array(np.zeros((4, 4)), "min")
    with pytest.raises(TypeError, match=r"to_image_array: expected a numeric array. "
                                        r"Received: an array of dtype <U1$"):
        images.to_image_array(np.array([["a"]]))


# ---- tiling and saving ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "channels,columns,scale,padding,rows_cols",
    [(1, None, 1, 0, (1, 1)), (4, None, 2, 1, (2, 2)), (5, None, 3, 2, (2, 3)), (6, 4, 1, 3, (2, 4)),
     (3, 10, 2, 1, (1, 3)), (8, 1, 1, 1, (8, 1))],
)
def test_tile_grid_size_arithmetic(channels, columns, scale, padding, rows_cols):
    h, w = 5, 7
    grid = images.tile_maps(np.random.default_rng(1).random((h, w, channels)), columns=columns, scale=scale,
                            padding=padding)
    rows, cols = rows_cols
    assert grid.shape == (rows * h * scale + (rows - 1) * padding, cols * w * scale + (cols - 1) * padding)
    assert grid.dtype == np.uint8


def test_tile_places_each_channel_and_pads():
    maps = np.zeros((1, 3, 4, 5))
    for k in range(5):
        maps[0, k % 3, k % 4, k] = 1.0  # one bright pixel per map, at a different place
    grid = images.tile_maps(maps, columns=3, scale=2, padding=1, pad_value=77)
    th, tw = 6, 8
    assert grid.shape == (2 * th + 1, 3 * tw + 2)
    for k in range(5):
        top, left = (k // 3) * (th + 1), (k % 3) * (tw + 1)
        tile = grid[top : top + th, left : left + tw]
        bright = np.argwhere(tile == 255)
        assert set(map(tuple, bright)) == {(2 * (k % 3) + i, 2 * (k % 4) + j) for i in (0, 1) for j in (0, 1)}
        assert np.all(tile[tile != 255] == 0)
    assert np.all(grid[th, :] == 77) and np.all(grid[:, tw] == 77)  # gaps
    assert np.all(grid[th + 1 :, 2 * (tw + 1) :] == 77)  # the empty sixth cell


def test_tile_symmetric_is_rgb():
    grid = images.tile_maps(np.random.default_rng(2).normal(size=(4, 4, 3)), "symmetric", padding=1)
    assert grid.shape == (4 * 2 + 1, 4 * 2 + 1, 3)


def test_save_maps_writes_grid_png(tmp_path):
    maps = np.random.default_rng(3).normal(size=(1, 28, 28, 6))
    path = tmp_path / "maps.png"
    images.save_maps(path, maps, normalize="symmetric", columns=3, scale=2, padding=4)
    fmt, mode, px = read(path)
    assert (fmt, mode) == ("PNG", "RGB")
    assert px.shape == (2 * 56 + 4, 3 * 56 + 2 * 4, 3)
    np.testing.assert_array_equal(px, images.tile_maps(maps, "symmetric", 3, 2, 4))


def test_save_image_scale_and_format(tmp_path):
    m = np.zeros((28, 28))
    m[3, 20] = 1
    path = tmp_path / "map.png"
    images.save_image(path, m, scale=4)
    fmt, mode, px = read(path)
    assert (fmt, mode, px.shape) == ("PNG", "L", (112, 112))
    assert set(map(tuple, np.argwhere(px == 255))) == {(12 + i, 80 + j) for i in range(4) for j in range(4)}
    images.save_image(tmp_path / "map.jpg", m, scale=2)
    assert read(tmp_path / "map.jpg")[0] == "JPEG"
    images.save_image(tmp_path / "map.gif", m)
    assert read(tmp_path / "map.gif")[0] == "GIF"


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    images.save_image(path, np.eye(4))
    before = path.read_bytes()

    def broken_save(self, fp, format=None, **params):
        fp.write(b"half a picture")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        images.save_image(path, np.ones((4, 4)))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.png"]


def test_save_errors(tmp_path):
    with pytest.raises(ValueError, match=r"save_image: cannot tell an image format Pillow writes from the "
                                         r"file name's suffix.*Received: path='.*x\.npy'$"):
        images.save_image(tmp_path / "x.npy", np.eye(3))
    with pytest.raises(FileNotFoundError, match=r"save_maps: the folder '.*nowhere' does not exist. "
                                                r"Received: path='.*m\.png'$"):
        images.save_maps(tmp_path / "nowhere" / "m.png", np.ones((3, 3, 2)))
    with pytest.raises(ValueError, match=r"save_image: `scale` must be a positive integer. "
                                         r"Received: scale=0$"):
        images.save_image(tmp_path / "x.png", np.eye(3), scale=0)
    with pytest.raises(ValueError, match=r"tile_maps: `padding` must be a non-negative integer. "
                                         r"Received: padding=-1$"):
        images.save_maps(tmp_path / "x.png", np.ones((3, 3, 2)), padding=-1)
    with pytest.raises(ValueError, match=r"tile_maps: `columns` must be a positive integer. "
                                         r"Received: columns=0$"):
        images.tile_maps(np.ones((3, 3, 2)), columns=0)
    with pytest.raises(ValueError, match=r"tile_maps: `pad_value` must be in 0..255. "
                                         r"Received: pad_value=300$"):
        images.tile_maps(np.ones((3, 3, 2)), pad_value=300)
    with pytest.raises(ValueError, match=r"tile_maps: expected maps \(H, W, C\) or \(1, H, W, C\). "
                                         r"Received: maps.shape=\(2, 3, 3, 2\)$"):
        images.tile_maps(np.ones((2, 3, 3, 2)))
    with pytest.raises(TypeError, match=r"save_image: `path` must be a file name.*Received: path=None$"):
        images.save_image(None, np.eye(3))
    assert os.listdir(tmp_path) == []


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    path = write(tmp_path / "g.png", np.zeros((2, 2), np.uint8))
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    extra = r'needs Pillow, which is not installed. Install it with: pip install "convolve\[viz\]"$'
    with pytest.raises(ImportError, match="load_image " + extra):
        images.load_image(path)
    with pytest.raises(ImportError, match="save_image " + extra):
        images.save_image(tmp_path / "x.png", np.eye(3))
    with pytest.raises(ImportError, match="save_maps " + extra):
        images.save_maps(tmp_path / "x.png", np.ones((3, 3, 2)))
    # pure NumPy parts still work
    assert images.to_image_array(np.eye(3)).shape == (3, 3)
    assert images.filter_image(np.eye(3), "box").shape == (1, 3, 3, 1)


# ---- filter_image -------------------------------------------------------------------------------
def test_filter_image_equals_conv_for_every_kernel_form(rng):
    img = rng.random((2, 10, 12, 3)).astype(np.float32)
    names = ["sobel_x", "top_edge"]
    for mode in ("per_channel", "across"):
        kernel = filters.bank(names, in_channels=3, mode=mode)
        expected = conv(img, kernel, np.zeros(kernel.shape[-1], np.float32), padding="same")
        np.testing.assert_allclose(images.filter_image(img, names, mode=mode), expected, atol=1e-6)
    k4 = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    bias = np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(
        images.filter_image(img, k4, strides=(2, 1), padding="valid", bias=bias),
        conv(img, k4, bias, strides=(2, 1), padding="valid"), atol=1e-6,
    )
    np.testing.assert_allclose(
        images.filter_image(img, k4.tolist(), padding_mode="reflect"),
        conv(img, k4, padding="same", padding_mode="reflect"), atol=1e-6,
    )
    assert images.filter_image(img, k4.tolist()).dtype == np.float32


def test_filter_image_shapes_and_names(rng):
    grey = rng.random((8, 9))
    out = images.filter_image(grey, "sobel_y")
    assert out.shape == (1, 8, 9, 1)
    expected = conv(grey[None, :, :, None], filters.sobel_y()[:, :, None, None], padding="same")
    np.testing.assert_allclose(out[0, :, :, 0], expected[0, :, :, 0])
    assert images.filter_image(grey[:, :, None], filters.box(5), padding="valid").shape == (1, 4, 5, 1)
    assert images.filter_image(rng.random((8, 9, 3)), ["box", "emboss"]).shape == (1, 8, 9, 6)
    assert images.filter_image(rng.random((8, 9, 3)), ["box", "emboss"], mode="across").shape == (1, 8, 9, 2)
    assert images.filter_image(grey, "box", strides=2).shape == (1, 4, 5, 1)
    biased = images.filter_image(np.zeros((4, 4)), "box", bias=1.5)
    np.testing.assert_allclose(biased, np.full((1, 4, 4, 1), 1.5))
    assert images.filter_image(np.zeros((4, 4), np.uint8), "box").dtype == np.float32


def test_filter_image_does_not_modify_input(rng):
    img = rng.random((6, 6, 3))
    k = filters.sobel_x()
    before_img, before_k = img.copy(), k.copy()
    images.filter_image(img, k, bias=2.0)
    np.testing.assert_array_equal(img, before_img)
    np.testing.assert_array_equal(k, before_k)


def test_filter_image_errors():
    img = np.zeros((6, 6, 3))
    with pytest.raises(ValueError, match=r"filter_image: expected an image \(H, W\), \(H, W, C\) or a batch "
                                         r"\(N, H, W, C\). Received: image.shape=\(6,\)$"):
        images.filter_image(np.zeros(6), "box")
    with pytest.raises(ValueError, match=r"filter_image: a 4-D kernel \(kh, kw, in_channels, filters\) must "
                                         r"have in_channels = the image's 3 channels. "
                                         r"Received: kernel.shape=\(3, 3, 1, 2\)"):
        images.filter_image(img, np.zeros((3, 3, 1, 2)))
    with pytest.raises(ValueError, match=r"filter_image: expected a filter name, a 2-D array, a list of "
                                         r"them, or a 4-D Conv2D kernel \(kh, kw, C, F\). "
                                         r"Received: kernel.shape=\(3, 3, 1\)$"):
        images.filter_image(img, np.zeros((3, 3, 1)))
    with pytest.raises(ValueError, match=r"filters.bank: unknown filter name\..*Received: name='sobel'$"):
        images.filter_image(img, "sobel")
    with pytest.raises(ValueError, match=r"filter_image: the `mode` argument must be one of "
                                         r"\{'per_channel', 'across'\}. Received: mode='zeros'$"):
        images.filter_image(img, "box", mode="zeros")
    with pytest.raises(ValueError, match=r"filter_image: `bias` must be a number or one number per output "
                                         r"map \(3,\). Received: bias=\[1, 2\]$"):
        images.filter_image(img, "box", bias=[1, 2])
    with pytest.raises(ValueError, match=r"filter_image: .*padding_mode.*Received: padding_mode='mirror'$"):
        images.filter_image(img, "box", padding_mode="mirror")
    with pytest.raises(ValueError, match=r"filter_image: .*strides.*Received: strides=0$"):
        images.filter_image(img, "box", strides=0)
    with pytest.raises(TypeError, match=r"filter_image expected a numeric array"):
        images.filter_image(np.array([["a"]]), "box")
