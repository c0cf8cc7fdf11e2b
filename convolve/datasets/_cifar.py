"""CIFAR-10 and CIFAR-100: find the files on this machine, or download the binary archive, and read them.

Shared by ``cifar10`` and ``cifar100``; each passes a ``Spec`` built from its module's
attributes at call time, so ``MIRRORS``, ``CHECKSUMS`` and the image counts can be changed
(or monkeypatched in tests) after import.

The two published versions, and how each is read:

- **binary** (``cifar-10-binary.tar.gz``: ``cifar-10-batches-bin/data_batch_1.bin`` to
  ``data_batch_5.bin`` and ``test_batch.bin``; ``cifar-100-binary.tar.gz``:
  ``cifar-100-binary/train.bin`` and ``test.bin``). One fixed-size record per image: the
  label byte(s) (CIFAR-10: the class; CIFAR-100: the coarse class, then the fine class), then
  3072 pixel bytes: the 32x32 red values row by row, then the green, then the blue. A file
  must be exactly (label bytes + 3072) x its images long. Read with NumPy, ``_CHUNK_RECORDS``
  records at a time, straight into the result.
- **python** (``cifar-10-python.tar.gz``: ``cifar-10-batches-py/data_batch_1`` to
  ``data_batch_5`` and ``test_batch``; ``cifar-100-python.tar.gz``: ``cifar-100-python/train``
  and ``test``). Each file is a pickled dict: ``data``, a uint8 array of (images, 3072) in
  the same pixel order, and ``labels`` (CIFAR-10) or ``coarse_labels`` and ``fine_labels``
  (CIFAR-100), lists of ints. Read only through ``_safe_pickle``: nothing a file names is
  ever called. A file larger than its images plus ``PICKLE_OVERHEAD`` bytes each is refused
  before it is read.

Every file must hold exactly the published number of images (the module's constants), and
every label must lie in range (0-9; CIFAR-100: 0-19 coarse, 0-99 fine), both label kinds
being checked whichever is returned. The batch-description files (``batches.meta``, ``meta``,
``*.txt``) are not read: the class names are constants in each module.

Archives are read in one pass, member by member, never extracted: only regular files with
the expected names are read (each member's size, as its header declares it, is checked
before it is read), an archive with any member whose name is absolute or holds ``..`` is
refused outright, and the gzip stream is read to its end, where its checksum is checked (a
tar cut short between two members looks complete to tarfile).

Memory: each of x_train, y_train, x_test and y_test is allocated once at its final shape
(N, 32, 32, 3) and every file is copied straight into its slice, the channel-major records
transposed on the way; no batch is concatenated. A binary file passes through a 3 MB
buffer, so loading all of CIFAR-10 raises the process' peak memory by 1.02x the arrays'
size (1.03x from the archive). A python file's pixel bytes exist twice while that one file
is unpickled (CPython's unpickler copies what it reads): 1.34x for CIFAR-10, whose files
hold 10,000 images each, and 1.7x for CIFAR-100, whose training file holds 50,000
(1.9x from the archive). Measured on generated files of the published sizes.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import posixpath
import tarfile
import zlib

import numpy as np

from . import _download, _safe_pickle
from ._loader import DATA_ENV, MIRROR_ENV, DatasetNotFoundError, Location, cache_folder, keras_folder, mirrors

#: pixel bytes per image: 3 channels of 32 x 32, channel-major
PIXELS = 3072
#: the shape of one image as returned (channels_last)
IMAGE_SHAPE = (32, 32, 3)
#: the most bytes a python file may hold per image besides its pixels. The real files need
#: about 50 (the image's file name, its labels, the pickle's opcodes); this bound is checked
#: before a file is unpickled.
PICKLE_OVERHEAD = 512
#: records read per step from a binary file (3 MB)
_CHUNK_RECORDS = 1024
_PIECE = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass
class Spec:
    name: str  # the folder under $CONVOLVE_DATA and ~/.convolve/datasets: "cifar-10"
    title: str  # for messages: "CIFAR-10"
    binary_folder: str  # the binary archive's folder: "cifar-10-batches-bin"
    python_folder: str  # the python archive's folder: "cifar-10-batches-py"
    python_archive: str  # "cifar-10-python.tar.gz" (Keras' and torchvision's download)
    files: tuple  # (python version's file name, split, images) in order; the binary name adds ".bin"
    labels: tuple  # (pickle key, number of classes) for each label byte of a binary record, in order
    label: str  # the key of the labels returned
    label_dtype: type  # y's dtype, as Keras returns it
    archive: str  # the archive downloaded: "cifar-10-binary.tar.gz"
    mirrors: list  # base URLs holding ``archive``
    checksums: dict  # archive -> "sha256:<hex>" or "md5:<hex>"


@dataclasses.dataclass(frozen=True)
class _Part:
    """One file of the dataset and where its images go."""

    name: str  # the python version's name; the binary version's is name + ".bin"
    split: str  # "train" or "test"
    start: int
    count: int

    def file(self, binary: bool) -> str:
        return self.name + ".bin" if binary else self.name


def _parts(spec: Spec):
    """Every file as a ``_Part``, and the images of each split in all."""
    parts, totals = [], {"train": 0, "test": 0}
    for name, split, count in spec.files:
        parts.append(_Part(name, split, totals[split], count))
        totals[split] += count
    return parts, totals


class _Output:
    """The four arrays, allocated once at their final shapes; each file fills its own slice."""

    def __init__(self, spec: Spec):
        self.parts, totals = _parts(spec)
        self.x = {split: np.empty((n, *IMAGE_SHAPE), dtype=np.uint8) for split, n in totals.items()}
        self.y = {split: np.empty((n, 1), dtype=spec.label_dtype) for split, n in totals.items()}

    def slices(self, part: _Part):
        end = part.start + part.count
        return self.x[part.split][part.start : end], self.y[part.split][part.start : end]

    def result(self):
        return (self.x["train"], self.y["train"]), (self.x["test"], self.y["test"])


def _label_error(spec, key, classes, what, value):
    return ValueError(
        f"{spec.title}: the {key.replace('_', ' ')} in {what} must lie in 0..{classes - 1}. "
        f"Received: a label {value}"
    )


def _read_into(f, view) -> int:
    """Fill ``view`` from ``f``, 1 MiB at a time (a tar member's reader copies each read a few times)."""
    got = 0
    while got < len(view):
        n = f.readinto(view[got : got + _PIECE])
        if not n:
            break
        got += n
    return got


def read_binary(spec: Spec, f, size: int, what: str, x, y):
    """Read a binary file of ``size`` bytes (``len(x)`` records) from ``f`` into ``x`` and ``y``."""
    nlabels = len(spec.labels)
    record, count = nlabels + PIXELS, len(x)
    if size % record:
        raise ValueError(
            f"{spec.title}: {what} is not a whole number of records: each image takes {record} bytes "
            f"({nlabels} label {'byte' if nlabels == 1 else 'bytes'} and {PIXELS} pixel bytes), so the "
            f"size must be a multiple of {record}. Received: {size} bytes"
        )
    if size // record != count:
        raise ValueError(
            f"{spec.title}: {what} must hold {count} images ({count * record} bytes). "
            f"Received: {size // record} images ({size} bytes)"
        )
    keep = [key for key, _ in spec.labels].index(spec.label)
    buffer = np.empty((min(count, _CHUNK_RECORDS), record), dtype=np.uint8)
    done = 0
    while done < count:
        chunk = buffer[: min(len(buffer), count - done)]
        got = _read_into(f, memoryview(chunk.reshape(-1)))
        if got < chunk.nbytes:
            raise ValueError(
                f"{spec.title}: {what} is truncated: its size says {size} bytes; delete it and get it "
                f"again. Received: {done * record + got} bytes"
            )
        for column, (key, classes) in enumerate(spec.labels):
            if chunk[:, column].max() >= classes:
                raise _label_error(spec, key, classes, what, int(chunk[:, column].max()))
        k = len(chunk)
        x[done : done + k] = chunk[:, nlabels:].reshape(k, 3, 32, 32).transpose(0, 2, 3, 1)
        y[done : done + k, 0] = chunk[:, keep]
        done += k


def _describe(value) -> str:
    if isinstance(value, list):
        odd = next((v for v in value if type(v) is not int), None)
        kind = f", one of them a {type(odd).__name__}" if odd is not None else ""
        return f"a list of {len(value)} items{kind}"
    return f"a {type(value).__name__}"


def read_python(spec: Spec, f, size: int, what: str, x, y):
    """Read a pickled batch of ``size`` bytes (``len(x)`` images) from ``f`` into ``x`` and ``y``."""
    count = len(x)
    limit = count * (PIXELS + PICKLE_OVERHEAD)
    if size > limit:
        raise ValueError(
            f"{spec.title}: {what} is too large for a pickled batch of {count} images: those are "
            f"{count * PIXELS} bytes of pixels and at most {PICKLE_OVERHEAD} more bytes per image, "
            f"{limit} in all. Received: {size} bytes"
        )
    batch = _safe_pickle.load(f, size, f"{spec.title}: {what}")
    keys = ["data"] + [key for key, _ in spec.labels]
    if isinstance(batch, dict):
        batch = {_safe_pickle.as_text(key): value for key, value in batch.items()}
    if not isinstance(batch, dict) or any(key not in batch for key in keys):
        received = f"a dict with keys {sorted(map(str, batch))}" if isinstance(batch, dict) else (
            f"a {type(batch).__name__}")
        raise ValueError(f"{spec.title}: {what} must hold a pickled dict with {keys}. Received: {received}")
    data = _safe_pickle.array_from_record(batch["data"], (count, PIXELS), f"{spec.title}: {what}, 'data'")
    for key, classes in spec.labels:
        labels = batch[key]
        if not (isinstance(labels, list) and len(labels) == count and all(type(v) is int for v in labels)):
            raise ValueError(
                f"{spec.title}: {what} must hold '{key}', a list of {count} integers (one per image). "
                f"Received: {_describe(labels)}"
            )
        bad = next((v for v in labels if not 0 <= v < classes), None)
        if bad is not None:
            raise _label_error(spec, key, classes, what, bad)
    x[:] = data.reshape(count, 3, 32, 32).transpose(0, 2, 3, 1)
    y[:, 0] = batch[spec.label]


def _read(spec, f, size, what, binary, x, y):
    (read_binary if binary else read_python)(spec, f, size, what, x, y)


def load_folder(spec: Spec, folder: str, binary: bool):
    """Read an extracted folder of either version (its files named as the archives name them)."""
    out = _Output(spec)
    for part in out.parts:
        path = os.path.join(folder, part.file(binary))
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            _read(spec, f, size, f"the file {path!r}", binary, *out.slices(part))
    return out.result()


def _member_name(spec, name: str, path: str) -> str:
    """``name`` normalised (no leading ``./``); an absolute name, or one with ``..``, refuses the archive."""
    pieces = name.replace("\\", "/").split("/")
    drive = len(name) > 1 and name[1] == ":" and name[0].isalpha()
    if name.startswith(("/", "\\")) or drive or ".." in pieces:
        raise ValueError(
            f"{spec.title}: the archive {path!r} has a member that would unpack outside its folder "
            f"(an absolute name or one holding '..'); the published archives have none, so nothing "
            f"of it was read. Received: a member named {name!r}"
        )
    return posixpath.normpath(name.replace("\\", "/"))


def _kind(info) -> str:
    kinds = [("a symbolic link", info.issym()), ("a hard link", info.islnk()), ("a folder", info.isdir()),
             ("a sparse file", info.issparse())]
    return next((kind for kind, yes in kinds if yes), "special file")


def load_archive(spec: Spec, path: str):
    """Read either version straight from its .tar.gz archive (whatever the file is called)."""
    out = _Output(spec)
    wanted = {}
    for binary, folder in ((True, spec.binary_folder), (False, spec.python_folder)):
        for part in out.parts:
            wanted[f"{folder}/{part.file(binary)}"] = (binary, part)
    done, layout = set(), None
    with open(path, "rb") as raw:
        start = raw.read(2)
        raw.seek(0)
        if start != _GZIP_MAGIC:
            raise ValueError(
                f"{spec.title}: the file {path!r} is not a gzip-compressed tar archive (a .tar.gz file "
                f"starts with the bytes 1f 8b). Received: first bytes {start.hex(' ') or 'none (empty file)'}"
            )
        try:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
            with stream, tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    name = _member_name(spec, info.name, path)
                    if name not in wanted:
                        continue
                    binary, part = wanted[name]
                    layout = binary if layout is None else layout
                    if binary != layout:  # the archive holds both versions: the first one met is read
                        continue
                    what = f"the member {name} of {path!r}"
                    if name in done:
                        raise ValueError(
                            f"{spec.title}: the archive {path!r} holds {name} twice; the published "
                            f"archives hold each file once. Received: a second member {name}"
                        )
                    if not info.isreg() or info.issparse():
                        raise ValueError(
                            f"{spec.title}: {what} must be a plain file. Received: {_kind(info)}"
                        )
                    _read(spec, tar.extractfile(info), info.size, what, binary, *out.slices(part))
                    done.add(name)
                # on to gzip's end, where its checksum is checked: a tar cut short at a member's
                # boundary looks complete to tarfile, but not to gzip
                while stream.read(_CHUNK_RECORDS * PIXELS):
                    pass
        except (tarfile.TarError, EOFError, zlib.error, OSError) as err:  # gzip's errors are OSErrors
            raise ValueError(
                f"{spec.title}: the archive {path!r} is damaged (truncated or corrupt); delete it and get "
                f"it again. Received: {type(err).__name__}: {err}"
            ) from None
    expected = [name for name, (binary, _) in wanted.items() if layout is None or binary == layout]
    missing = [name for name in expected if name not in done]
    if missing:
        holds = f"only {len(done)} of the {len(expected)} files" if done else "none of the files"
        raise ValueError(
            f"{spec.title}: the archive {path!r} holds {holds} of the dataset. Expected "
            f"{_listing(expected)}. Received: no member {', '.join(missing)}"
        )
    return out.result()


def _listing(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _candidates(spec: Spec, itself: bool):
    """What is looked for in a place, in order: (path relative to it, what it is).

    The place's own files (``"."``) count only where a person chose the place (``itself``:
    ``$CONVOLVE_DATA`` or the ``path`` argument), so that files that happen to be called
    ``train`` and ``test`` in a working directory are never taken for CIFAR-100.
    """
    keras_new = spec.python_folder + "-target"  # Keras 3.6 and later extract into <this>/<python_folder>
    found = [
        (spec.binary_folder, "binary"),
        (spec.python_folder, "python"),  # torchvision's, and Keras' up to 3.5
        (f"{keras_new}/{spec.python_folder}", "python"),
        *([(".", "binary"), (".", "python")] if itself else []),  # the place is an extracted folder
        (spec.archive, "archive"),
        (spec.python_archive, "archive"),
        (spec.python_folder + ".tar.gz", "archive"),  # Keras' download, up to 3.5
        (keras_new + "_archive", "archive"),  # Keras' download, 3.6 and later
    ]
    return list(dict.fromkeys(found))


def _try(spec: Spec, place: Location, itself: bool):
    """Load from ``place`` if it holds the whole dataset; otherwise record what it has and return None."""
    if not os.path.isdir(place.folder):
        place.found = "no such folder"
        return None
    partial = []
    parts, _ = _parts(spec)
    for relative, kind in _candidates(spec, itself):
        path = os.path.normpath(os.path.join(place.folder, relative))
        shown = "the files" if relative == "." else relative
        if kind == "archive":
            if os.path.isfile(path):
                place.found = f"found {relative}"
                return load_archive(spec, path)
            continue
        if not os.path.isdir(path):
            continue
        names = [part.file(kind == "binary") for part in parts]
        missing = [name for name in names if not os.path.isfile(os.path.join(path, name))]
        if not missing:
            place.found = f"found {shown}"
            return load_folder(spec, path, binary=kind == "binary")
        if len(missing) < len(names):
            partial.append(f"{shown}: only {len(names) - len(missing)} of {len(names)} files "
                           f"(missing {', '.join(missing)})")
    place.found = "; ".join(partial) or f"no {spec.title} files"
    return None


def locations(spec: Spec) -> list:
    """Every folder searched when no ``path`` is given, in order."""
    places = []
    data = os.environ.get(DATA_ENV)
    if data:
        places.append(Location(data, f"${DATA_ENV}"))
        places.append(Location(os.path.join(data, spec.name), f"${DATA_ENV}/{spec.name}"))
    places.append(Location(keras_folder(), "Keras' download folder"))
    cwd = os.getcwd()
    for root in (os.path.join(cwd, "data"), cwd):
        places.append(Location(root, f"torchvision's root={root!r}"))
    places.append(Location(cache_folder(spec), "convolve's download folder"))
    return places


def _expected(spec: Spec) -> str:
    return (
        f"the binary archive {spec.archive} or the folder {spec.binary_folder} it unpacks to, or the "
        f"python archive {spec.python_archive} or its folder {spec.python_folder} (Keras' and torchvision's)"
    )


def load(spec: Spec, path=None):
    """Read the dataset from ``path``, or search for it (``locations``), downloading it as a last resort."""
    if path is not None:
        path = os.fspath(path)
        if os.path.isfile(path):
            return load_archive(spec, path)
        place = Location(path, "the `path` argument")
        result = _try(spec, place, itself=True)
        if result is not None:
            return result
        why = f"does not hold the dataset ({place.found})"
        if place.found == "no such folder":
            why = "does not exist"
        raise DatasetNotFoundError(
            f"{spec.title}: the folder given as `path` {why}. Expected a folder holding {_expected(spec)}, "
            f"or one of those archives. Received: path={path!r}"
        )

    places = locations(spec)
    for place in places:
        result = _try(spec, place, itself=place.why.startswith(f"${DATA_ENV}"))
        if result is not None:
            return result
    cache = places[-1].folder
    destination = os.path.join(cache, spec.archive)
    try:
        _download.download_file(mirrors(spec), spec.archive, destination, spec.checksums[spec.archive])
    except _download.DownloadError as err:
        why = "this machine seems to be offline" if err.offline else "the download failed"
        listing = "\n".join(f"  {i}. {p.folder}  [{p.why}: {p.found}]" for i, p in enumerate(places, 1))
        raise DatasetNotFoundError(
            f"{spec.title} is not on this machine and {why}.\n"
            f"Looked for {_expected(spec)} in:\n{listing}\n"
            f"{err}\n"
            f"To use {spec.title} offline, put one of those into {cache} (or into any folder above, or "
            f"into a folder named by the {DATA_ENV} environment variable), or pass load_data(path=...). "
            f"To download from another server, set {MIRROR_ENV} to its base URL."
        ) from err
    return load_archive(spec, destination)
