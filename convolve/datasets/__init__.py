"""Datasets, as ``keras.datasets`` has them.

``load_data()`` returns ``((x_train, y_train), (x_test, y_test))``:

    from convolve.datasets import mnist, fashion_mnist, cifar10, cifar100
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset()  # bundled, no download
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()          # (50000, 32, 32, 3) uint8
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode="coarse")

- ``mnist``, ``fashion_mnist``: the data found on this machine (Keras', torchvision's or
  Debian's copies, or ``$CONVOLVE_DATA``), else downloaded once, checksummed, into
  ``~/.convolve/datasets/``. Each module's docstring lists where it looks, in order.
- ``cifar10``, ``cifar100``: likewise (Keras' and torchvision's copies, either published
  version, extracted or still in its .tar.gz archive, or ``$CONVOLVE_DATA``), else the binary
  archive is downloaded once, checksummed. Pickled files are read without unpickling
  anything but plain data.
- ``idx``: ``read_idx`` and ``write_idx`` for the IDX format these datasets use.

Only NumPy and the standard library are needed; ``tqdm``, when installed, draws the
download progress bar.
"""
from . import cifar10, cifar100, fashion_mnist, idx, mnist  # noqa: F401
from ._download import ChecksumError, DownloadError  # noqa: F401
from ._loader import DatasetNotFoundError  # noqa: F401
from .idx import read_idx, write_idx  # noqa: F401
