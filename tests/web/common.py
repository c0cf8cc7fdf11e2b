"""What the explorer's tests share: a model built as ``convolve demo`` builds it (untrained, seeded),
PNG files of test images, and decoding the page's byte-coded maps."""

from __future__ import annotations

import base64

import numpy as np

from convolve.cli.models import build_model
from convolve.datasets import fashion_mnist
from convolve.layers import clear_session
from convolve.utils import set_random_seed


def demo_model(name="fashion_mnist_subset_small", shape=(28, 28, 1), seed=0):
    """The demo's small CNN (Conv2D 8, MaxPooling2D, Conv2D 16, MaxPooling2D, Flatten, Dense 10
    softmax), its weights drawn with ``seed``, its class names saved as the demo saves them."""
    clear_session()
    set_random_seed(seed)
    model = build_model("small", shape, 10, name=name)
    model.class_names = list(fashion_mnist.CLASS_NAMES)
    return model


def bundled_test_images():
    """The bundled Fashion-MNIST test images as the explorer offers them: (N, 28, 28, 1) in [0, 1]."""
    (_, _), (x, y) = fashion_mnist.load_subset()
    return x.astype(np.float32)[..., None] / 255.0, y


def write_png(path, pixels):
    """An 8-bit grey PNG of (H, W) values in [0, 1]."""
    from PIL import Image

    Image.fromarray(np.rint(np.asarray(pixels) * 255).astype(np.uint8), mode="L").save(path)
    return path


def codes(b64):
    """The uint8 values of a base64 string the server sent."""
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


def expected_codes(maps):
    """What the server sends for float maps (session.encode_maps), written out again here: 255 * v / max
    for maps >= 0, 128 + 127 * v / max|v| for signed ones."""
    maps = np.asarray(maps, dtype=np.float64)
    scale = np.abs(maps).max()
    if scale == 0:
        return np.zeros(maps.shape, np.uint8)
    if maps.min() < 0:
        return np.rint(128 + 127 * maps / scale).astype(np.uint8)
    return np.rint(255 * maps / scale).astype(np.uint8)
