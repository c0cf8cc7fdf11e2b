"""Fashion-MNIST: Zalando's 28x28 grey pictures of clothes, in 10 classes (see ``CLASS_NAMES``).

    from convolve.datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()   # 60,000 + 10,000
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset() # 3,000 + 1,000, bundled

``load_data`` looks for the four IDX files in these places, in order, and uses the first
that has them all:

1. ``$CONVOLVE_DATA`` and ``$CONVOLVE_DATA/fashion-mnist`` (when the variable is set);
2. Keras' download folder, ``$KERAS_HOME/datasets/fashion-mnist`` or ``~/.keras/datasets/fashion-mnist``;
3. torchvision's layout under the working directory: ``./data/FashionMNIST/raw`` and ``./FashionMNIST/raw``;
4. the Debian/Ubuntu package ``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist``;
5. convolve's download folder, ``~/.convolve/datasets/fashion-mnist``.

If none has them it downloads the four ``.gz`` files into ``~/.convolve/datasets/fashion-mnist``
from the first mirror in ``MIRRORS`` that answers (or from ``$CONVOLVE_DATASETS_MIRROR``,
where ``{name}`` stands for ``fashion-mnist``), checking each against ``CHECKSUMS``.

``load_subset`` needs no download: a class-balanced subset (300 training and 100 test
pictures of each class) ships inside convolve, in ``data/fashion_mnist_subset/``.

License: Fashion-MNIST is © 2017 Zalando SE, under the MIT license
(https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE).
"""
from __future__ import annotations

from . import _loader
from .idx import read_idx

#: the label of each class index, as Zalando names them
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: base URLs holding the four .gz files, tried in order: Keras' copy, then Zalando's own
#: (the one torchvision uses; plain HTTP, so the checksums matter).
MIRRORS = [
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
]

#: SHA-256 of each file Zalando publishes. Their MD5 sums, as Zalando's README and
#: torchvision list them: 8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
#: bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310. (Debian's package
#: recompressed the files, so its .gz files have other sums; they are read, never downloaded.)
CHECKSUMS = {
    "train-images-idx3-ubyte.gz": "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

#: where Debian's dataset-fashion-mnist package puts the files
DEBIAN_FOLDER = "/usr/share/datasets/fashion-mnist"

SUBSET_FOLDER = "data/fashion_mnist_subset"


def _spec():
    return _loader.Spec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        torchvision_name="FashionMNIST",
        mirrors=MIRRORS,
        checksums=CHECKSUMS,
        system_folders=((DEBIAN_FOLDER, "Debian's dataset-fashion-mnist package"),),
    )


def load_data(path=None):
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``.

    ``x_train`` is uint8 of shape (60000, 28, 28), ``y_train`` uint8 of shape (60000,),
    ``x_test`` (10000, 28, 28) and ``y_test`` (10000,); pixels are 0-255, labels 0-9
    (``CLASS_NAMES[label]`` names them).

    Args:
        path: a folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each plain or
            ``.gz``), or a ``.npz`` file with x_train, y_train, x_test and y_test. When
            given, only this place is read. When ``None``, the places in this module's
            docstring are searched, and the files are downloaded if none has them.

    Raises:
        DatasetNotFoundError: (a ``FileNotFoundError``) the data is in none of the places
            and could not be downloaded; the message lists every place searched.
        ValueError: a file was found but is damaged, truncated, or does not fit the others
            (a split with no images, or training and test images of different sizes).
    """
    return _loader.load(_spec(), path)


def load_subset():
    """Load the subset of Fashion-MNIST bundled with convolve: no search, no download.

    Returns ``((x_train, y_train), (x_test, y_test))`` as ``load_data`` does, with 3,000
    training pictures (300 of each class) and 1,000 test pictures (100 of each class),
    drawn with a fixed seed from the official training and test sets and kept in their
    original order. ``data/fashion_mnist_subset/README.md`` says exactly how.
    """
    import importlib.resources

    spec = _spec()
    folder = importlib.resources.files(__package__).joinpath(SUBSET_FOLDER)
    arrays = {}
    for key, base in _loader.FILES.items():
        with importlib.resources.as_file(folder.joinpath(base + ".gz")) as path:
            arrays[key] = read_idx(path)
    return _loader.check_arrays(spec, arrays, {key: f"the bundled {key}" for key in arrays})
