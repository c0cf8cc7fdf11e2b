"""CIFAR-10: 60,000 colour pictures of 32x32 pixels in 10 classes (see ``CLASS_NAMES``).

    from convolve.datasets import cifar10
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()   # 50,000 + 10,000

``load_data`` looks in these places, in order, and uses the first that has the dataset:

1. ``$CONVOLVE_DATA`` and ``$CONVOLVE_DATA/cifar-10`` (when the variable is set);
2. Keras' download folder, ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``: Keras up to
   3.5 keeps ``cifar-10-batches-py/``, Keras 3.6 and later ``cifar-10-batches-py-target/
   cifar-10-batches-py/`` (and the archive it downloaded, ``cifar-10-batches-py-target_archive``);
3. torchvision's roots under the working directory, ``./data`` (``root="data"``, as in
   PyTorch's tutorials) and ``.``: ``cifar-10-batches-py/`` or ``cifar-10-python.tar.gz``;
4. convolve's download folder, ``~/.convolve/datasets/cifar-10``.

In each it takes, in this order: the extracted binary version ``cifar-10-batches-bin/``, the
extracted python version ``cifar-10-batches-py/`` (as Keras and torchvision keep it), the
folder's own files (in ``$CONVOLVE_DATA`` only: it may name an extracted folder), then the
archives themselves, read without extracting them: ``cifar-10-binary.tar.gz``,
``cifar-10-python.tar.gz``, and Keras' copies.

If none has them it downloads the binary archive ``cifar-10-binary.tar.gz`` (162 MB, no
pickle inside) into ``~/.convolve/datasets/cifar-10`` from ``MIRRORS`` (or from
``$CONVOLVE_DATASETS_MIRROR``, where ``{name}`` stands for ``cifar-10``), checks it against
``CHECKSUMS``, and reads it from the archive each time. The python version's files are
pickles; they are read without unpickling anything but plain data (``_safe_pickle``).

The dataset is described in Alex Krizhevsky's "Learning Multiple Layers of Features from Tiny
Images" (2009); https://www.cs.toronto.edu/~kriz/cifar.html asks that work using it cite
that report.
"""
from __future__ import annotations

import numpy as np

from . import _cifar

#: the label of each class index, as the archives' batches.meta names them
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

#: base URLs holding the archive: the dataset's home page (the one Keras and torchvision use)
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]

#: the archive downloaded: the binary version, fixed-size records and no pickle
ARCHIVE = "cifar-10-binary.tar.gz"

#: SHA-256 of the published binary archive (170,052,171 bytes). The home page publishes MD5
#: sums only: c32a1d4ab5d03f1284b67883e8d87530 for this file, c58f30108f718f92721af3b95e74349a
#: for cifar-10-python.tar.gz, whose SHA-256 (as Keras checks it) is
#: 6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce.
CHECKSUMS = {
    "cifar-10-binary.tar.gz": "sha256:c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
}

#: images in each of the six files (five training batches and the test batch), as published
BATCH_IMAGES = 10000


def _spec():
    files = [(f"data_batch_{i}", "train", BATCH_IMAGES) for i in range(1, 6)]
    return _cifar.Spec(
        name="cifar-10",
        title="CIFAR-10",
        binary_folder="cifar-10-batches-bin",
        python_folder="cifar-10-batches-py",
        python_archive="cifar-10-python.tar.gz",
        files=tuple(files + [("test_batch", "test", BATCH_IMAGES)]),
        labels=(("labels", len(CLASS_NAMES)),),
        label="labels",
        label_dtype=np.uint8,
        archive=ARCHIVE,
        mirrors=MIRRORS,
        checksums=CHECKSUMS,
    )


def load_data(path=None):
    """Load CIFAR-10 as ``((x_train, y_train), (x_test, y_test))``, as ``keras.datasets.cifar10`` does.

    ``x_train`` is uint8 of shape (50000, 32, 32, 3) (channels_last, RGB, 0-255), ``y_train``
    uint8 of shape (50000, 1) with labels 0-9 (``CLASS_NAMES[label]`` names them); ``x_test``
    is (10000, 32, 32, 3) and ``y_test`` (10000, 1). Images are in the published order (the
    five training batches one after another). Unlike Keras', the x arrays are C-contiguous.

    Args:
        path: a folder holding the dataset (either version, extracted or as its archive, as
            the module docstring lists), a folder of the extracted files, or an archive file
            (``cifar-10-binary.tar.gz``, ``cifar-10-python.tar.gz``, or the same under another
            name). When given, only this place is read. When ``None`` (Keras' only choice),
            the places in the module docstring are searched, and the binary archive is
            downloaded if none has the dataset.

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError``) the data is in none of the places
            and could not be downloaded; the message lists every place searched.
        ValueError: a file was found but is damaged or is not what the published dataset
            holds (a size or count that differs, a label out of range, an archive member
            outside its folder, a pickle that names anything but plain data).
    """
    return _cifar.load(_spec(), path)
