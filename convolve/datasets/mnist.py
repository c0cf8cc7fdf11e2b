"""MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28 grey, labels 0-9.

    from convolve.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()

``load_data`` looks for the four IDX files (or Keras' ``mnist.npz``) in these places, in
order, and uses the first that has them all:

1. ``$CONVOLVE_DATA`` and ``$CONVOLVE_DATA/mnist`` (when the variable is set);
2. Keras' download folder, ``$KERAS_HOME/datasets`` or ``~/.keras/datasets`` (``mnist.npz``);
3. torchvision's layout under the working directory: ``./data/MNIST/raw`` (``root="data"``,
   as in PyTorch's tutorials) and ``./MNIST/raw`` (``root="."``);
4. convolve's download folder, ``~/.convolve/datasets/mnist``.

If none has them it downloads the four ``.gz`` files into ``~/.convolve/datasets/mnist``
from the first mirror in ``MIRRORS`` that answers (or from ``$CONVOLVE_DATASETS_MIRROR``,
where ``{name}`` stands for ``mnist``), checking each against ``CHECKSUMS``.

License: Yann LeCun and Corinna Cortes hold the copyright of MNIST, a derivative of NIST's
datasets; it is made available under the Creative Commons Attribution-Share Alike 3.0 license.
"""
from __future__ import annotations

from . import _loader

#: base URLs holding the four .gz files, tried in order: PyTorch's copy (torchvision's
#: first mirror), Google's copy (TensorFlow Datasets'), and the original site.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

#: SHA-256 of each published file. The same files' MD5 sums, as torchvision lists them:
#: f68b3c2dcbeaaa9fbdd348bbdeb94873, d53e105ee54ea40749a09fcbcd1e9432,
#: 9fb629c4189551a2d022fa330f9573f3, ec29112dd5afa0611ce80d1b7f02629c.
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

CLASS_NAMES = tuple(str(digit) for digit in range(10))


def _spec():
    return _loader.Spec(
        name="mnist",
        title="MNIST",
        torchvision_name="MNIST",
        mirrors=MIRRORS,
        checksums=CHECKSUMS,
        npz_name="mnist.npz",
    )


def load_data(path=None):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))``.

    ``x_train`` is uint8 of shape (60000, 28, 28), ``y_train`` uint8 of shape (60000,),
    ``x_test`` (10000, 28, 28) and ``y_test`` (10000,); pixels are 0-255, labels 0-9.

    Args:
        path: a folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each plain or
            ``.gz``), or Keras' ``mnist.npz`` file or a folder holding it. When given, only
            this place is read. When ``None``, the places in this module's docstring are
            searched, and the files are downloaded if none has them.

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError``) the data is in none of the places
            and could not be downloaded; the message lists every place searched.
        ValueError: a file was found but is damaged, truncated, or does not fit the others
            (a split with no images, or training and test images of different sizes).
    """
    return _loader.load(_spec(), path)
