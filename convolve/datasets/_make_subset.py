"""Rebuild the Fashion-MNIST subset bundled in ``data/fashion_mnist_subset/``.

    python -m convolve.datasets._make_subset [SOURCE_FOLDER]

SOURCE_FOLDER holds the full dataset's four IDX files (default: Debian's
/usr/share/datasets/fashion-mnist, from ``apt-get install dataset-fashion-mnist``).
From each class it draws ``TRAIN_PER_CLASS`` training and ``TEST_PER_CLASS`` test
pictures without replacement, with ``numpy.random.default_rng(SEED)``, keeps them in
their original order, and writes the four gzipped IDX files plus the chosen indices
(``train-indices-idx1-int.gz``, ``t10k-indices-idx1-int.gz``: int32 positions in the
full sets), so the subset can be checked against the full data with any NumPy version.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from . import fashion_mnist
from .idx import write_idx

SEED = 0
TRAIN_PER_CLASS = 300
TEST_PER_CLASS = 100


def choose(labels, per_class, rng, num_classes=10):
    """Sorted positions of ``per_class`` examples of each class, drawn without replacement."""
    picks = [
        rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in range(num_classes)
    ]
    return np.sort(np.concatenate(picks)).astype(np.int32)


def make_subset(source, dest, seed=SEED, train_per_class=TRAIN_PER_CLASS, test_per_class=TEST_PER_CLASS):
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=source)
    rng = np.random.default_rng(seed)
    train = choose(y_train, train_per_class, rng)
    test = choose(y_test, test_per_class, rng)
    os.makedirs(dest, exist_ok=True)
    outputs = {
        "train-images-idx3-ubyte.gz": x_train[train],
        "train-labels-idx1-ubyte.gz": y_train[train],
        "t10k-images-idx3-ubyte.gz": x_test[test],
        "t10k-labels-idx1-ubyte.gz": y_test[test],
        "train-indices-idx1-int.gz": train,
        "t10k-indices-idx1-int.gz": test,
    }
    for name, array in outputs.items():
        write_idx(os.path.join(dest, name), array)
    return train, test


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else fashion_mnist.DEBIAN_FOLDER
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fashion_mnist_subset")
    train, test = make_subset(source, dest)
    print(f"wrote {len(train)} training and {len(test)} test pictures to {dest}")
