"""convolve.utils.load_img, img_to_array, array_to_img and save_img (Keras' image file helpers),
against hand-written expectations of Keras' documented behaviour, and round trips through files."""
from __future__ import annotations

import io
import os
import re
import sys

import numpy as np
import pytest
from PIL import Image

from convolve.images import ImageTooLargeError, read_image
from convolve.utils import array_to_img, img_to_array, load_img, save_img
from tests.helpers import forged_png


def save(path, pixels, mode=None):
    img = Image.fromarray(np.asarray(pixels, np.uint8))
    (img.convert(mode) if mode else img).save(path)
    return str(path)


@pytest.fixture
def rgb_file(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return save(tmp_path / "rgb.png", pixels), pixels


# ---- load_img ---------------------------------------------------------------------------------------
def test_load_img_returns_a_loaded_pil_image_in_the_colour_mode(rgb_file, tmp_path):
    path, pixels = rgb_file
    img = load_img(path)
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (8, 6)
    np.testing.assert_array_equal(np.asarray(img), pixels)
    grey = load_img(path, color_mode="grayscale")
    assert grey.mode == "L"
    np.testing.assert_array_equal(np.asarray(grey), np.asarray(Image.fromarray(pixels).convert("L")))
    rgba = load_img(path, color_mode="rgba")
    assert rgba.mode == "RGBA" and np.all(np.asarray(rgba)[..., 3] == 255)
    wide = np.array([[0, 65535], [1000, 30000]], np.uint16)
    Image.fromarray(wide).save(tmp_path / "deep.png")
    deep = load_img(tmp_path / "deep.png", color_mode="grayscale")  # 16-bit grey kept, as Keras
    assert deep.mode in ("I;16", "I")
    np.testing.assert_array_equal(img_to_array(deep)[..., 0], wide)
    os.remove(path)  # the file is closed and the image loaded: it does not need the file
    assert np.asarray(img).shape == (6, 8, 3)


def test_load_img_target_size_and_keep_aspect_ratio(rgb_file):
    path, pixels = rgb_file
    img = load_img(path, target_size=(3, 4))  # nearest, half-pixel centres: source floor((i + 0.5) * 2)
    np.testing.assert_array_equal(np.asarray(img), pixels[1::2, 1::2])
    img = load_img(path, target_size=3, keep_aspect_ratio=True)
    # Keras: crop_h = min(6, 8 * 3 // 3) = 6, crop_w = min(8, 6 * 3 // 3) = 6, left = (8 - 6) // 2 = 1
    np.testing.assert_array_equal(np.asarray(img), pixels[:, 1:7][1::2, 1::2])
    same = load_img(path, target_size=(6, 8), interpolation="bicubic")
    np.testing.assert_array_equal(np.asarray(same), pixels)
    smooth = load_img(path, target_size=(3, 4), interpolation="box")
    np.testing.assert_allclose(np.asarray(smooth), pixels.reshape(3, 2, 4, 2, 3).mean(axis=(1, 3)), atol=1)


def test_load_img_errors(tmp_path, rgb_file):
    path, _ = rgb_file
    with pytest.raises(ValueError, match=re.escape(
        "load_img: the `color_mode` argument must be one of {'grayscale', 'rgb', 'rgba'}. "
        "Received: color_mode='cmyk'"
    )):
        load_img(path, color_mode="cmyk")
    with pytest.raises(ValueError, match=re.escape(
        "load_img: the `interpolation` argument must be one of {'nearest', 'bilinear', 'bicubic', 'hamming', "
        "'box', 'lanczos'}. Received: interpolation='area'"
    )):
        load_img(path, interpolation="area")
    with pytest.raises(TypeError, match=re.escape(
        "load_img: `keep_aspect_ratio` must be True or False. Received: keep_aspect_ratio='yes'"
    )):
        load_img(path, keep_aspect_ratio="yes")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"load_img: the file is not an image Pillow can read \(.*\)\. "
                                         rf"Received: path='{re.escape(str(text))}'"):
        load_img(text)
    forged_png(tmp_path / "huge.png", 10_000, 10_000)
    with pytest.raises(ImageTooLargeError, match=r"load_img: the image is 10000x10000 .* "
                                                 r"refused before decoding"):
        load_img(tmp_path / "huge.png")
    with pytest.raises(FileNotFoundError, match="load_img: no such file"):
        load_img(tmp_path / "missing.png")


# ---- img_to_array, array_to_img ---------------------------------------------------------------------
def test_img_to_array_gives_float32_0_255_with_a_channel_axis(rgb_file):
    path, pixels = rgb_file
    x = img_to_array(load_img(path))
    assert x.dtype == np.float32 and x.shape == (6, 8, 3)
    np.testing.assert_array_equal(x, pixels)
    grey = img_to_array(load_img(path, color_mode="grayscale"))
    assert grey.shape == (6, 8, 1)
    first = img_to_array(load_img(path), data_format="channels_first")
    assert first.shape == (3, 6, 8)
    np.testing.assert_array_equal(first, pixels.transpose(2, 0, 1))
    assert img_to_array(load_img(path), dtype="float64").dtype == np.float64
    with pytest.raises(ValueError, match=re.escape(
        "img_to_array: expected an image: (H, W) or (H, W, C). Received: an array of shape (2, 2, 2, 2)"
    )):
        img_to_array(np.zeros((2, 2, 2, 2)))


def test_array_to_img_round_trips_and_scales(rgb_file):
    _, pixels = rgb_file
    x = pixels.astype(np.float32)
    np.testing.assert_array_equal(img_to_array(array_to_img(x, scale=False)), x)
    grey = x[:, :, :1]
    img = array_to_img(grey, scale=False)
    assert img.mode == "L"
    np.testing.assert_array_equal(img_to_array(img), grey)
    rgba = np.concatenate([x, np.full((6, 8, 1), 128, np.float32)], axis=-1)
    assert array_to_img(rgba, scale=False).mode == "RGBA"
    unit = x / 255 * 0.5 + 0.25  # 0.25 .. 0.75: scale stretches min..max to 0..255
    stretched = img_to_array(array_to_img(unit))
    expected = np.rint((unit - unit.min()) / (unit.max() - unit.min()) * 255)
    np.testing.assert_array_equal(stretched, expected)
    np.testing.assert_array_equal(img_to_array(array_to_img(np.full((2, 2, 1), 7.0))), 0)  # constant: 0
    first = array_to_img(x.transpose(2, 0, 1), data_format="channels_first", scale=False)
    np.testing.assert_array_equal(np.asarray(first), pixels)
    np.testing.assert_array_equal(np.asarray(array_to_img([[[254.6], [300.0], [-4.0]]], scale=False)),
                                  [[255, 300, 0]])  # above 255 on one channel: mode "I", as Keras
    assert array_to_img([[[254.6], [255.0]]], scale=False).getpixel((0, 0)) == 255  # rounded, not truncated


def test_array_to_img_errors():
    with pytest.raises(ValueError, match=re.escape(
        "array_to_img: expected one image of rank 3, (H, W, C) or (C, H, W). "
        "Received: an array of shape (4, 4)"
    )):
        array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=re.escape(
        "array_to_img: expected 1 (grey), 3 (RGB) or 4 (RGBA) channels. "
        "Received: an array of shape (4, 4, 2) (data_format='channels_last')"
    )):
        array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match=re.escape(
        "array_to_img: the array contains NaN or infinite values. Received: shape (1, 2, 1)"
    )):
        array_to_img(np.array([[[0.0], [np.nan]]]))


# ---- save_img ---------------------------------------------------------------------------------------
def test_save_img_round_trips_through_a_png_written_atomically(tmp_path, rgb_file):
    _, pixels = rgb_file
    target = tmp_path / "out.png"
    save_img(target, pixels.astype(np.float32), scale=False)
    np.testing.assert_array_equal(img_to_array(load_img(target)), pixels)
    assert sorted(os.listdir(tmp_path)) == ["out.png", "rgb.png"]  # no .part file left
    save_img(str(tmp_path / "grey.PNG"), pixels[:, :, :1], scale=False)
    np.testing.assert_array_equal(np.asarray(load_img(tmp_path / "grey.PNG", "grayscale")), pixels[:, :, 0])
    save_img(tmp_path / "photo.jpg", pixels, quality=95)
    with Image.open(tmp_path / "photo.jpg") as img:
        assert img.format == "JPEG"
    buffer = io.BytesIO()
    save_img(buffer, pixels, file_format="bmp", scale=False)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(buffer.getvalue()))), pixels)


def test_save_img_rgba_as_jpeg_warns_and_drops_alpha(tmp_path):
    x = np.full((4, 4, 4), 200.0)
    with pytest.warns(UserWarning, match="save_img: the JPEG format does not support RGBA images, "
                                         "converting to RGB"):
        save_img(tmp_path / "a.jpeg", x, scale=False)
    with Image.open(tmp_path / "a.jpeg") as img:
        assert img.mode == "RGB"


def test_save_img_errors_leave_the_target_alone(tmp_path):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match=re.escape("array_to_img: expected one image of rank 3")):
        save_img(target, np.zeros(3))
    assert target.read_bytes() == b"old"
    with pytest.raises(ValueError, match=re.escape(
        "save_img: cannot tell the image format: give a file name with a suffix (.png, .jpg, ...) or "
        f"file_format=... Received: path={str(tmp_path / 'noext')!r}, file_format=''"
    )):
        save_img(str(tmp_path / "noext"), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match=r"save_img: Pillow cannot write the format 'xyz' "
                                         r"\(it writes .*png.*\)\. Received: file_format='xyz'"):
        save_img(tmp_path / "a.xyz", np.zeros((2, 2, 3)))
    with pytest.raises(TypeError, match=re.escape(
        "save_img: `path` must be a file name (str or os.PathLike) or a binary file object. Received: path=3"
    )):
        save_img(3, np.zeros((2, 2, 3)))
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]


def test_argument_errors_of_the_image_helpers(rgb_file, monkeypatch):
    path, _ = rgb_file
    with pytest.raises(ValueError, match=re.escape(
        "load_img: the `target_size` argument must be an int or a tuple of 2 ints. "
        "Received: target_size=(1, 2, 3)"
    )):
        load_img(path, target_size=(1, 2, 3))
    with pytest.raises(ValueError, match=re.escape(
        "load_img: `max_pixels` must be a positive integer, None (no limit) or 'default' (Pillow's limit). "
        "Received: max_pixels=0"
    )):
        load_img(path, max_pixels=0)
    with pytest.raises(ValueError, match=re.escape(
        "img_to_array: the `data_format` argument must be one of {'channels_last', 'channels_first'}. "
        "Received: data_format='nchw'"
    )):
        img_to_array(np.zeros((2, 2, 3)), data_format="nchw")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=re.escape(
        'array_to_img needs Pillow, which is not installed. Install it with: pip install "convolve[viz]"'
    )):
        array_to_img(np.zeros((2, 2, 3)))


# ---- the shared decoding helper (convolve.images.read_image) ----------------------------------------
def test_read_image_keeps_8_bit_values_exact_and_scales_16_bit_grey(tmp_path):
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    save(tmp_path / "all.png", values)
    x = read_image(tmp_path / "all.png", "grayscale")
    assert x.dtype == np.float32 and x.shape == (16, 16, 1)
    np.testing.assert_array_equal(x[:, :, 0], values)  # every 8-bit value exactly, not k / 255 * 255
    deep = np.array([[0, 65535], [257, 32768]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    y = read_image(tmp_path / "deep.png", "rgba")
    np.testing.assert_allclose(y[:, :, 0], deep / 257, rtol=1e-6)  # 65535 -> 255
    np.testing.assert_array_equal(y[:, :, 1], y[:, :, 0])
    np.testing.assert_array_equal(y[:, :, 3], 255)  # a grey file is opaque
    assert read_image(tmp_path / "all.png", "rgb").shape == (16, 16, 3)
    with pytest.raises(ValueError, match=re.escape(
        "read_image: the `color_mode` argument must be one of {'grayscale', 'rgb', 'auto', 'rgba'}. "
        "Received: color_mode='cmyk'"
    )):
        read_image(tmp_path / "all.png", "cmyk")
