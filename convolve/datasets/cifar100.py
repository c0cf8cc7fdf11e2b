"""CIFAR-100: 60,000 colour pictures of 32x32 pixels in 100 classes, grouped into 20 superclasses.

    from convolve.datasets import cifar100
    (x_train, y_train), (x_test, y_test) = cifar100.load_data()                     # 0-99
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode="coarse")  # 0-19

``FINE_CLASS_NAMES`` and ``COARSE_CLASS_NAMES`` name the labels (``class_names(label_mode)``
picks one); ``CLASS_NAMES`` is the fine one, for the default ``label_mode``.

``load_data`` looks in these places, in order, and uses the first that has the dataset:

1. ``$CONVOLVE_DATA`` and ``$CONVOLVE_DATA/cifar-100`` (when the variable is set);
2. Keras' download folder, ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``: Keras up to
   3.5 keeps ``cifar-100-python/``, Keras 3.6 and later ``cifar-100-python-target/
   cifar-100-python/`` (and the archive it downloaded, ``cifar-100-python-target_archive``);
3. torchvision's roots under the working directory, ``./data`` and ``.``:
   ``cifar-100-python/`` or ``cifar-100-python.tar.gz``;
4. convolve's download folder, ``~/.convolve/datasets/cifar-100``.

In each it takes, in this order: the extracted binary version ``cifar-100-binary/``, the
extracted python version ``cifar-100-python/``, the folder's own files (in ``$CONVOLVE_DATA``
only: it may name an extracted folder), then the archives themselves, read without
extracting them: ``cifar-100-binary.tar.gz``, ``cifar-100-python.tar.gz``, and Keras' copy.

If none has them it downloads the binary archive ``cifar-100-binary.tar.gz`` (161 MB, no
pickle inside) into ``~/.convolve/datasets/cifar-100`` from ``MIRRORS`` (or from
``$CONVOLVE_DATASETS_MIRROR``, where ``{name}`` stands for ``cifar-100``), checks it against
``CHECKSUMS``, and reads it from the archive each time. The python version's files are read
without unpickling anything but plain data (``_safe_pickle``).

The dataset is described in Alex Krizhevsky's "Learning Multiple Layers of Features from Tiny
Images" (2009); https://www.cs.toronto.edu/~kriz/cifar.html asks that work using it cite
that report.
"""
from __future__ import annotations

import numpy as np

from . import _cifar

#: the 100 fine labels, as the archive's meta file (and fine_label_names.txt) names them
FINE_CLASS_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle",
    "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon",
    "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail",
    "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe",
    "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

#: the 20 coarse labels (superclasses), as the meta file (and coarse_label_names.txt) names them
COARSE_CLASS_NAMES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)  # fmt: skip

#: the names of load_data()'s default labels (label_mode="fine")
CLASS_NAMES = FINE_CLASS_NAMES

LABEL_MODES = ("fine", "coarse")

#: base URLs holding the archive: the dataset's home page (the one Keras and torchvision use)
MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]

#: the archive downloaded: the binary version, fixed-size records and no pickle
ARCHIVE = "cifar-100-binary.tar.gz"

#: SHA-256 of the published binary archive (168,513,733 bytes). The home page publishes MD5
#: sums only: 03b5dce01913d631647c71ecec9e9cb8 for this file, eb9058c3a382ffc7106e4002c42a8d85
#: for cifar-100-python.tar.gz, whose SHA-256 (as Keras checks it) is
#: 85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7.
CHECKSUMS = {
    "cifar-100-binary.tar.gz": "sha256:58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
}

#: images in the training file and in the test file, as published
TRAIN_IMAGES = 50000
TEST_IMAGES = 10000


def class_names(label_mode="fine"):
    """The names of the labels ``load_data(label_mode=...)`` returns: 100 fine or 20 coarse."""
    return COARSE_CLASS_NAMES if _check_label_mode(label_mode) == "coarse" else FINE_CLASS_NAMES


def _check_label_mode(label_mode):
    if not isinstance(label_mode, str) or label_mode not in LABEL_MODES:
        raise ValueError(
            f'cifar100: `label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode!r}'
        )
    return label_mode


def _spec(label_mode):
    return _cifar.Spec(
        name="cifar-100",
        title="CIFAR-100",
        binary_folder="cifar-100-binary",
        python_folder="cifar-100-python",
        python_archive="cifar-100-python.tar.gz",
        files=(("train", "train", TRAIN_IMAGES), ("test", "test", TEST_IMAGES)),
        # a binary record's label bytes, in order: the coarse label, then the fine one
        labels=(("coarse_labels", len(COARSE_CLASS_NAMES)), ("fine_labels", len(FINE_CLASS_NAMES))),
        label=f"{label_mode}_labels",
        label_dtype=np.int64,
        archive=ARCHIVE,
        mirrors=MIRRORS,
        checksums=CHECKSUMS,
    )


def load_data(label_mode="fine", path=None):
    """Load CIFAR-100 as ``((x_train, y_train), (x_test, y_test))``, as ``keras.datasets.cifar100`` does.

    ``x_train`` is uint8 of shape (50000, 32, 32, 3) (channels_last, RGB, 0-255) and
    ``y_train`` int64 of shape (50000, 1); ``x_test`` is (10000, 32, 32, 3) and ``y_test``
    (10000, 1). The labels are int64 because Keras returns int64 here (it builds them from
    the pickle's lists of Python ints; its docstring says uint8, its code gives int64), while
    its ``cifar10`` returns uint8. Unlike Keras', the x arrays are C-contiguous.

    Args:
        label_mode: ``"fine"`` (0-99, ``FINE_CLASS_NAMES``) or ``"coarse"`` (0-19, the
            superclasses, ``COARSE_CLASS_NAMES``).
        path: a folder holding the dataset (either version, extracted or as its archive, as
            the module docstring lists), a folder of the extracted files, or an archive file
            (``cifar-100-binary.tar.gz``, ``cifar-100-python.tar.gz``, or the same under
            another name). When given, only this place is read. When ``None`` (Keras' only
            choice), the places in the module docstring are searched, and the binary archive
            is downloaded if none has the dataset.

    Raises:
        ValueError: ``label_mode`` is neither "fine" nor "coarse"; or a file was found but is
            damaged or is not what the published dataset holds (a size or count that differs,
            a label out of range, an archive member outside its folder, a pickle that names
            anything but plain data).
        DatasetNotFoundError: (a ``FileNotFoundError``) the data is in none of the places
            and could not be downloaded; the message lists every place searched.
    """
    return _cifar.load(_spec(_check_label_mode(label_mode)), path)
