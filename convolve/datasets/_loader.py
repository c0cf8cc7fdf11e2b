"""Find the four MNIST-style IDX files on this machine, or download them, and load them.

Shared by ``mnist`` and ``fashion_mnist``; each passes a ``Spec`` built from its own
module attributes at call time, so ``MIRRORS`` and ``CHECKSUMS`` can be changed (or
monkeypatched in tests) after import.
"""
from __future__ import annotations

import dataclasses
import os
import zipfile
import zlib

import numpy as np

from . import _download
from .idx import read_idx

#: the four files of an MNIST-style dataset, by the array they hold
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MIRROR_ENV = "CONVOLVE_DATASETS_MIRROR"
DATA_ENV = "CONVOLVE_DATA"


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not on this machine and could not be downloaded."""


@dataclasses.dataclass
class Spec:
    name: str  # folder name: "mnist", "fashion-mnist"
    title: str  # for messages: "MNIST", "Fashion-MNIST"
    torchvision_name: str  # torchvision's class name, its folder under the root: "MNIST", "FashionMNIST"
    mirrors: list  # base URLs holding the four .gz files
    checksums: dict  # "<file>.gz" -> "sha256:<hex>" or "md5:<hex>"
    npz_name: str | None = None  # Keras' single-file copy, if it has one ("mnist.npz")
    system_folders: tuple = ()  # (folder, which package installs it), e.g. Debian's
    num_classes: int = 10


@dataclasses.dataclass
class Location:
    folder: str
    why: str  # where this place comes from, for messages
    found: str = "not searched"


def home() -> str:
    return os.path.expanduser("~")


def cache_folder(spec: Spec) -> str:
    """Where downloads go: ~/.convolve/datasets/<name>."""
    return os.path.join(home(), ".convolve", "datasets", spec.name)


def keras_folder() -> str:
    """Keras' download folder: $KERAS_HOME/datasets, else ~/.keras/datasets."""
    return os.path.join(os.environ.get("KERAS_HOME") or os.path.join(home(), ".keras"), "datasets")


def locations(spec: Spec) -> list:
    """Every folder searched when no ``path`` is given, in order."""
    places = []
    data = os.environ.get(DATA_ENV)
    if data:
        places.append(Location(data, f"${DATA_ENV}"))
        places.append(Location(os.path.join(data, spec.name), f"${DATA_ENV}/{spec.name}"))
    keras = keras_folder()
    if spec.npz_name:
        places.append(Location(keras, "Keras' download folder"))
    else:
        places.append(Location(os.path.join(keras, spec.name), "Keras' download folder"))
    cwd = os.getcwd()
    for root in (os.path.join(cwd, "data"), cwd):
        places.append(
            Location(os.path.join(root, spec.torchvision_name, "raw"), f"torchvision's layout, root={root!r}")
        )
    for folder, package in spec.system_folders:
        places.append(Location(folder, package))
    places.append(Location(cache_folder(spec), "convolve's download folder"))
    return places


def _idx_files(folder: str) -> dict:
    """The dataset's files present in ``folder``: key -> path (plain preferred to .gz)."""
    found = {}
    for key, base in FILES.items():
        for candidate in (base, base + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                found[key] = path
                break
    return found


def _check_split(spec, images, labels, x_what, y_what):
    """One split's images and labels: shapes, dtype, at least one image, counts that agree, label range."""
    if images.ndim != 3:
        raise ValueError(
            f"{spec.title}: the images file {x_what} must hold a 3-d array (count, rows, columns). "
            f"Received: shape {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(
            f"{spec.title}: the labels file {y_what} must hold a 1-d array. Received: shape {labels.shape}"
        )
    for array, what in ((images, x_what), (labels, y_what)):
        if array.dtype != np.uint8:
            raise ValueError(f"{spec.title}: {what} must hold uint8 values. Received: dtype {array.dtype}")
    if len(images) == 0:
        raise ValueError(
            f"{spec.title}: the images file {x_what} holds no images; expected at least one. "
            f"Received: shape {images.shape}"
        )
    if 0 in images.shape[1:]:
        raise ValueError(
            f"{spec.title}: the images in {x_what} must be at least 1x1 pixel. Received: shape {images.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{spec.title}: the images file {x_what} and the labels file {y_what} must hold as many images "
            f"as labels. Received: {len(images)} images and {len(labels)} labels"
        )
    if int(labels.max()) >= spec.num_classes:
        raise ValueError(
            f"{spec.title}: the labels in {y_what} must lie in 0..{spec.num_classes - 1}. "
            f"Received: a label {int(labels.max())}"
        )


def check_arrays(spec: Spec, arrays: dict, names: dict):
    """Check the four arrays (keyed as ``FILES``) fit together; ``names`` says where each came from.

    Each split needs at least one image of at least 1x1 pixel and one label per image, and
    the training and test images must be the same size (a model trained on one size cannot
    be evaluated on the other). Returns ``((x_train, y_train), (x_test, y_test))``.
    """
    for split in ("train", "test"):
        x, y = f"x_{split}", f"y_{split}"
        _check_split(spec, arrays[x], arrays[y], names[x], names[y])
    train, test = arrays["x_train"].shape[1:], arrays["x_test"].shape[1:]
    if train != test:
        raise ValueError(
            f"{spec.title}: the images file {names['x_train']} has images of {train[0]}x{train[1]} but the "
            f"images file {names['x_test']} has {test[0]}x{test[1]}; training and test images must be the "
            f"same size. Received: shapes {arrays['x_train'].shape} and {arrays['x_test'].shape}"
        )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_idx_set(spec: Spec, files: dict):
    """Read the four IDX files and check that they fit together."""
    arrays = {key: read_idx(path) for key, path in files.items()}
    return check_arrays(spec, arrays, {key: repr(path) for key, path in files.items()})


def load_npz(spec: Spec, path: str):
    """Read Keras' single-file copy (mnist.npz: x_train, y_train, x_test, y_test)."""
    with open(path, "rb") as f:
        start = f.read(4)
    if start != b"PK\x03\x04":
        raise ValueError(
            f"{spec.title}: the file {path!r} is not a .npz file (a .npz file is a zip archive, "
            f"starting with the bytes 50 4b 03 04). "
            f"Received: first bytes {start.hex(' ') or 'none (empty file)'}"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            names = list(f.files)
            arrays = {key: f[key] for key in FILES if key in names}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{spec.title}: the file {path!r} could not be read as a .npz file: {err}") from None
    if len(arrays) < len(FILES):
        raise ValueError(
            f"{spec.title}: the file {path!r} must hold the arrays x_train, y_train, x_test and y_test. "
            f"Received: arrays {sorted(names)}"
        )
    return check_arrays(spec, arrays, {key: f"{path!r} ({key})" for key in FILES})


def _try(spec: Spec, place: Location):
    """Load from ``place`` if it holds the whole dataset; otherwise record what it has and return None."""
    if not os.path.isdir(place.folder):
        place.found = "no such folder"
        return None
    files = _idx_files(place.folder)
    if len(files) == len(FILES):
        place.found = "found"
        return load_idx_set(spec, files)
    if spec.npz_name:
        npz = os.path.join(place.folder, spec.npz_name)
        if os.path.isfile(npz):
            place.found = "found " + spec.npz_name
            return load_npz(spec, npz)
    if files:
        missing = [FILES[key] for key in FILES if key not in files]
        place.found = f"only {len(files)} of the 4 files (missing {', '.join(missing)})"
    else:
        place.found = "no dataset files"
    return None


def _listing(places) -> str:
    return "\n".join(f"  {i}. {p.folder}  [{p.why}: {p.found}]" for i, p in enumerate(places, 1))


def _file_list(spec) -> str:
    names = list(FILES.values())
    also = f" (or Keras' {spec.npz_name})" if spec.npz_name else ""
    return f"{', '.join(names[:-1])} and {names[-1]}, each plain or gzipped (.gz){also}"


def mirrors(spec: Spec) -> list:
    """The base URLs to download from: ``$CONVOLVE_DATASETS_MIRROR`` if set, else ``spec.mirrors``."""
    override = os.environ.get(MIRROR_ENV)
    if override:
        return [override.replace("{name}", spec.name)]
    return list(spec.mirrors)


def load(spec: Spec, path=None):
    """Search for the dataset (see ``locations``), downloading it as a last resort."""
    if path is not None:
        path = os.fspath(path)
        if path.endswith(".npz"):
            # as in Keras, a relative name such as "mnist.npz" may also live in Keras' folder
            keras_copy = os.path.join(keras_folder(), path)
            for candidate in (path, keras_copy) if not os.path.isabs(path) else (path,):
                if os.path.isfile(candidate):
                    return load_npz(spec, candidate)
            if os.path.isabs(path):
                where = f"{path!r} does not exist"
            else:
                where = f"{path!r} nor {keras_copy!r} exists"
            raise DatasetNotFoundError(
                f"{spec.title}: the `path` argument names a .npz file, but {where}. Received: path={path!r}"
            )
        place = Location(path, "the `path` argument")
        result = _try(spec, place)
        if result is not None:
            return result
        raise DatasetNotFoundError(
            f"{spec.title}: the folder given as `path` does not hold the dataset "
            f"({place.found}). Expected {_file_list(spec)}. Received: path={path!r}"
        )

    places = locations(spec)
    for place in places:
        result = _try(spec, place)
        if result is not None:
            return result

    cache = places[-1].folder
    present = _idx_files(cache) if os.path.isdir(cache) else {}
    bases = mirrors(spec)
    try:
        for key, base in FILES.items():
            if key not in present:
                name = base + ".gz"
                _download.download_file(bases, name, os.path.join(cache, name), spec.checksums[name])
    except _download.DownloadError as err:
        why = "this machine seems to be offline" if err.offline else "the download failed"
        raise DatasetNotFoundError(
            f"{spec.title} is not on this machine and {why}.\n"
            f"Looked for {_file_list(spec)} in:\n{_listing(places)}\n"
            f"{err}\n"
            f"To use {spec.title} offline, put the four files into {cache} (or into any folder above, "
            f"or into a folder named by the {DATA_ENV} environment variable), "
            f"or pass load_data(path=folder). "
            f"To download from another server, set {MIRROR_ENV} to its base URL."
            + _offline_hint(spec)
        ) from err
    return load_idx_set(spec, _idx_files(cache))


def _offline_hint(spec) -> str:
    if spec.name == "fashion-mnist":
        return (
            " On Debian or Ubuntu, `apt-get install dataset-fashion-mnist` installs the files; "
            "fashion_mnist.load_subset() loads the small subset bundled with convolve, with no download."
        )
    return ""
