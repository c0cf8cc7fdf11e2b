"""The bundled Fashion-MNIST subset, and the full dataset when Debian's package is installed."""
import os

import numpy as np
import pytest

import convolve.datasets
from convolve.datasets import fashion_mnist, mnist, read_idx

from .support import NAMES

SUBSET = os.path.join(os.path.dirname(convolve.datasets.__file__), "data", "fashion_mnist_subset")
DEBIAN = "/usr/share/datasets/fashion-mnist"
HAS_DEBIAN = all(os.path.isfile(os.path.join(DEBIAN, name + ".gz")) for name in NAMES.values())
requires_debian = pytest.mark.skipif(
    not HAS_DEBIAN,
    reason=f"the full Fashion-MNIST is not in {DEBIAN} (apt-get install dataset-fashion-mnist)",
)


def test_class_names():
    assert fashion_mnist.CLASS_NAMES == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )
    assert mnist.CLASS_NAMES == tuple("0123456789")


def test_subset_shapes_dtypes_and_balance():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset()
    assert x_train.shape == (3000, 28, 28) and y_train.shape == (3000,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [300] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [100] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
    assert 60 < x_train.mean() < 90  # Fashion-MNIST's mean pixel is about 73


def test_subset_needs_no_search(tmp_path):
    fashion_mnist.load_subset()
    assert not os.listdir(tmp_path / "home")


def test_subset_files_are_small_and_documented():
    names = sorted(os.listdir(SUBSET))
    assert names == sorted([
        "LICENSE", "README.md",
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz", "train-indices-idx1-int.gz", "t10k-indices-idx1-int.gz",
    ])
    assert sum(os.path.getsize(os.path.join(SUBSET, n)) for n in names) < 3_000_000
    with open(os.path.join(SUBSET, "LICENSE"), encoding="utf-8") as f:
        license_text = f.read()
    assert "MIT" in license_text and "Zalando SE" in license_text
    with open(os.path.join(SUBSET, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "default_rng(0)" in readme and "300" in readme and "100" in readme


def test_subset_indices_are_sorted_unique_and_in_range():
    train = read_idx(os.path.join(SUBSET, "train-indices-idx1-int.gz"))
    test = read_idx(os.path.join(SUBSET, "t10k-indices-idx1-int.gz"))
    assert train.shape == (3000,) and test.shape == (1000,)
    for indices, n in ((train, 60000), (test, 10000)):
        assert np.all(np.diff(indices) > 0) and indices[0] >= 0 and indices[-1] < n


@pytest.fixture(scope="module")
def full():
    return fashion_mnist.load_data(path=DEBIAN)


@requires_debian
def test_full_dataset_shapes(full):
    (x_train, y_train), (x_test, y_test) = full
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])


@requires_debian
def test_full_dataset_found_by_search(full, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", DEBIAN)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(y_test, full[1][1])


@requires_debian
def test_subset_is_the_documented_selection(full):
    """The bundled pictures are the full set's at the stored indices, and the stored indices
    are what the documented recipe draws (with this NumPy; the files hold the original choice)."""
    from convolve.datasets._make_subset import SEED, TEST_PER_CLASS, TRAIN_PER_CLASS, choose

    (x_train, y_train), (x_test, y_test) = full
    (sx_train, sy_train), (sx_test, sy_test) = fashion_mnist.load_subset()
    train = read_idx(os.path.join(SUBSET, "train-indices-idx1-int.gz"))
    test = read_idx(os.path.join(SUBSET, "t10k-indices-idx1-int.gz"))
    np.testing.assert_array_equal(sx_train, x_train[train])
    np.testing.assert_array_equal(sy_train, y_train[train])
    np.testing.assert_array_equal(sx_test, x_test[test])
    np.testing.assert_array_equal(sy_test, y_test[test])
    rng = np.random.default_rng(SEED)
    np.testing.assert_array_equal(choose(y_train, TRAIN_PER_CLASS, rng), train)
    np.testing.assert_array_equal(choose(y_test, TEST_PER_CLASS, rng), test)
