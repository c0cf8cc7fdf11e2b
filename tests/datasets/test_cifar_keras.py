"""The generated python-version files, read by Keras 3's own code: same images, labels and dtypes.

This checks two things at once: that the files cifar_support writes are what Keras (with
NumPy's real array reconstruction) reads as CIFAR, and that convolve returns what Keras
returns, dtypes included (uint8 labels for CIFAR-10, int64 for CIFAR-100).
"""
import os

import numpy as np
import pytest

from convolve.datasets import cifar10, cifar100
from tests.helpers import requires

from .cifar_support import Fake

pytestmark = requires("keras")


@pytest.fixture(autouse=True)
def small(monkeypatch):
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 3)
    monkeypatch.setattr(cifar100, "TRAIN_IMAGES", 7)
    monkeypatch.setattr(cifar100, "TEST_IMAGES", 4)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from keras.src.datasets import cifar
    from keras.src.datasets import cifar100 as keras_cifar100

    return cifar, keras_cifar100


def test_cifar10_batches_as_keras_reads_them(tmp_path):
    cifar, _ = _keras()
    fake = Fake(cifar10, seed=11)
    folder = fake.write_folder(tmp_path / "cifar-10-batches-py", binary=False)
    (x, y), (xt, yt) = cifar10.load_data(path=folder)
    assert y.dtype == np.uint8  # Keras' cifar10 fills a preallocated uint8 array
    names = [f"data_batch_{i}" for i in range(1, 6)]
    for i, name in enumerate(names):
        data, labels = cifar.load_batch(str(folder / name))
        np.testing.assert_array_equal(x[3 * i : 3 * i + 3], data.transpose(0, 2, 3, 1))
        assert y[3 * i : 3 * i + 3, 0].tolist() == labels
    data, labels = cifar.load_batch(str(folder / "test_batch"))
    np.testing.assert_array_equal(xt, data.transpose(0, 2, 3, 1))
    assert yt[:, 0].tolist() == labels


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_as_keras_loads_it(tmp_path, monkeypatch, label_mode):
    _, keras_cifar100 = _keras()
    fake = Fake(cifar100, seed=12)
    target = tmp_path / "cifar-100-python-target"  # where Keras 3.6 and later extract the archive
    fake.write_folder(target / "cifar-100-python", binary=False)
    monkeypatch.setattr(keras_cifar100, "get_file", lambda **kwargs: str(target))
    theirs = keras_cifar100.load_data(label_mode=label_mode)
    ours = cifar100.load_data(label_mode=label_mode, path=target)
    for (got_x, got_y), (want_x, want_y) in zip(ours, theirs):
        assert (got_x.dtype, got_x.shape) == (want_x.dtype, want_x.shape)
        assert (got_y.dtype, got_y.shape) == (want_y.dtype, want_y.shape)
        np.testing.assert_array_equal(got_x, want_x)
        np.testing.assert_array_equal(got_y, want_y)
    assert ours[0][1].dtype == np.int64
