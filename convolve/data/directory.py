"""``image_dataset_from_directory``: a ``Dataset`` of image batches from class folders (Keras 3's).

    train, val = image_dataset_from_directory(
        "photos/", validation_split=0.2, subset="both", seed=1, image_size=(180, 180), batch_size=32)
    train.class_names                 # ['cats', 'dogs']: the sorted subfolder names
    for images, labels in train:      # float32 (32, 180, 180, 3) in 0..255, int32 (32,)
        ...

What Keras does, and so do we:

* **Files.** Class names are the subfolders of ``directory`` (sorted; hidden ones skipped), each
  searched recursively (``os.walk``, symlinked folders only with ``follow_links``); only files
  ending in .bmp, .gif, .jpeg, .jpg or .png (any case) are read, everything else is ignored.
  Files are ordered by folder, then by name within a folder (Keras' ``os.walk`` order).
  ``labels=None`` (or ``label_mode=None``) reads every image under ``directory`` without labels;
  a list of labels gives one label per file in that order.
* **Shuffling and splitting.** With ``shuffle`` the file list is shuffled once with ``seed``
  (NumPy's ``RandomState(seed)``, as Keras, so a seed splits the files as Keras does); then
  ``validation_split`` keeps the last ``int(validation_split * n)`` files for validation and the
  rest for training. Splitting while shuffling needs a ``seed`` (else two calls would overlap);
  ``seed=None`` draws one from convolve's global generator (``set_random_seed`` fixes it).
* **Each pass** (each ``iter(ds)``, an epoch) of a shuffled dataset visits its files in a new
  order, pass k from ``(seed, k)``; the validation dataset of ``subset="both"`` is not reshuffled.
* **Batches** are ``(images, labels)`` (``images`` alone without labels), NumPy arrays:
  images float32 ``(n, height, width, channels)`` (``(n, channels, height, width)`` with
  ``data_format="channels_first"``), pixel values 0..255 as in Keras (not scaled; an 8-bit
  image gives exactly its integer values); labels int32 ``(n,)`` for "int", float32 ``(n, 1)``
  of 0/1 for "binary", float32 one-hot ``(n, num_classes)`` for "categorical". With
  ``batch_size=None`` the elements are single images ``(image, label)``.
* The returned dataset is prefetched (``prefetch(AUTOTUNE)``, as Keras): a background thread
  decodes the next batch while the current one is used.

**Decoding** is lazy, one batch at a time, through ``convolve.images.read_image``, so the
hostile-image guards apply (Pillow's pixel limit checked from the header before decoding,
NaN/infinite or out-of-range float images refused). Colour: "grayscale" (1 channel, Pillow's
luma), "rgb" (3; grey files repeated), "rgba" (4; Pillow's RGBA conversion, opaque where a file
has no alpha); the first frame of an animated GIF. 16-bit grey files are scaled by 255/65535.
A batch's images are decoded in the calling thread, or split among threads where that is
faster: for images of at least ``THREADS_MIN_VALUES`` values (see ``decode_in_threads``).

**Resizing** to ``image_size`` uses Pillow on float32 values (no rounding to 8 bits), and clips
the result to 0..255 (bicubic and Lanczos overshoot; tf.image.resize does not clip). Keras'
interpolation names map to Pillow's filters (``INTERPOLATIONS``): "nearest", "bilinear",
"bicubic" and "area" (Pillow's box) are the same filters; "lanczos3" is Pillow's Lanczos;
approximations: "lanczos5" (Pillow's Lanczos has radius 3), "mitchellcubic" (Pillow's bicubic,
Keys a=-0.5, instead of Mitchell-Netravali B=C=1/3), "gaussian" (Pillow's bilinear: a triangle
instead of TensorFlow's Gaussian). When shrinking, Pillow's filters widen with the scale
factor (antialiasing, as ``tf.image.resize(antialias=True)``); Keras resizes with
``antialias=False``, so a shrunk image here is smoother than Keras', an enlarged one the same.
``crop_to_aspect_ratio``: the largest centred crop of the target aspect ratio (Keras'
``smart_resize`` arithmetic), then resize. ``pad_to_aspect_ratio``: the image centred on a zero
canvas of the target aspect ratio, then resize (the order of Keras' ``ops.image.resize``; the
canvas is exactly ``max(h, w * H // W)`` by ``max(w, h * W // H)``, the image at
``((ch - h) // 2, (cw - w) // 2)``; Keras' NumPy backend pads the same amount on both sides,
which drops an odd row).

convolve's additions: ``image_size=None`` keeps the images' own size when they all share one
(an error names two files that differ); ``on_bad_image="skip"`` leaves out a file that cannot be
read, with a warning naming it, and its label with it (that batch is smaller; a batch whose
files all fail is left out, so a pass can then yield fewer than ``len(ds)`` batches); the
default "raise" raises a ValueError naming the file when its batch is decoded.
"""
from __future__ import annotations

import itertools
import math
import numbers
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..ops.args import check_choice, standardize_data_format
from ..random import generator
from .dataset import AUTOTUNE, Dataset

__all__ = ["image_dataset_from_directory", "ALLOWLIST_FORMATS", "INTERPOLATIONS", "decode_in_threads"]

WHERE = "image_dataset_from_directory"
#: the file name endings read (case-insensitive), as Keras
ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
LABEL_MODES = ("int", "categorical", "binary")
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
SUBSETS = ("training", "validation", "both")
ON_BAD_IMAGE = ("raise", "skip")
#: Keras' interpolation names -> Pillow's resampling filter (see the module docstring)
INTERPOLATIONS = {
    "bilinear": "BILINEAR", "nearest": "NEAREST", "bicubic": "BICUBIC", "area": "BOX",
    "lanczos3": "LANCZOS", "lanczos5": "LANCZOS", "gaussian": "BILINEAR", "mitchellcubic": "BICUBIC",
}
#: decode a batch in threads when its first image holds at least this many values (h * w * channels
#: of the file, before resizing): measured on 2 cores, smaller images decode faster in one thread
#: (the GIL-bound Python around Pillow's decoder dominates), larger ones faster in threads
THREADS_MIN_VALUES = 16384
#: images decoded together when batch_size is None (the elements are single images)
UNBATCHED_CHUNK = 32


def decode_in_threads(values: int, workers: int) -> bool:
    """Whether to split a batch's decoding among ``workers`` threads, for images of ``values`` values."""
    return workers > 1 and values >= THREADS_MIN_VALUES


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_POOL = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The module's decoding threads (one fewer than the cores: the calling thread decodes too)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(_cores() - 1, 1), thread_name_prefix="convolve-decode")
        return _POOL


@dataclass(frozen=True)
class _Decoding:
    """How each file becomes an image array."""

    color_mode: str
    image_size: tuple | None
    interpolation: str
    crop: bool
    pad: bool
    on_bad_image: str


def image_dataset_from_directory(
    directory,
    labels="inferred",
    label_mode="int",
    class_names=None,
    color_mode="rgb",
    batch_size=32,
    image_size=(256, 256),
    shuffle=True,
    seed=None,
    validation_split=None,
    subset=None,
    interpolation="bilinear",
    follow_links=False,
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
    data_format=None,
    verbose=True,
    on_bad_image="raise",
):
    """A ``Dataset`` of images (and labels) from the image files under ``directory``.

    Keras 3's ``keras.utils.image_dataset_from_directory``, with its arguments and defaults
    (see the module docstring for the rules), returning a ``convolve.data.Dataset`` of NumPy
    batches. ``labels``: "inferred" (from the class subfolders), None, or one integer per file.
    ``label_mode``: "int", "categorical", "binary" or None. ``class_names``: the subfolders to
    use, in this label order (a subset of them is allowed). ``color_mode``: "grayscale", "rgb",
    "rgba". ``batch_size``: an int, or None for single images. ``image_size``: (height, width)
    (an int: square), or None to keep the images' size. ``subset``: "training", "validation",
    or "both" (returns two datasets) with ``validation_split``. ``on_bad_image``: "raise" or
    "skip" (convolve's).

    Returns:
        a Dataset with ``class_names`` (None without labels) and ``file_paths`` (in the shuffled
        and split order), or (training, validation) for ``subset="both"``.
    """
    labels, label_mode, class_names = _check_labels(labels, label_mode, class_names)
    color_mode = check_choice(color_mode, tuple(CHANNELS), "color_mode", WHERE)
    if batch_size is not None:
        batch_size = _integer(batch_size, "batch_size", "a positive integer or None")
    image_size = _check_image_size(image_size)
    flags = {"shuffle": shuffle, "follow_links": follow_links, "verbose": verbose,
             "crop_to_aspect_ratio": crop_to_aspect_ratio, "pad_to_aspect_ratio": pad_to_aspect_ratio}
    _check_flags(flags, image_size)
    if seed is not None:
        seed = _integer(seed, "seed", "a non-negative integer or None", minimum=0)
    _check_split(validation_split, subset, shuffle, seed)
    subset = None if subset is None else check_choice(subset, SUBSETS, "subset", WHERE)
    interpolation = check_choice(interpolation, tuple(INTERPOLATIONS), "interpolation", WHERE)
    data_format = standardize_data_format(data_format, WHERE)
    on_bad_image = check_choice(on_bad_image, ON_BAD_IMAGE, "on_bad_image", WHERE)

    paths, indices, class_names = _index(directory, labels, class_names, follow_links)
    if verbose:
        kinds = "" if labels is None else f" belonging to {len(class_names)} classes"
        print(f"Found {len(paths)} files{kinds}.")
    if not paths:
        raise ValueError(
            f"{WHERE}: no images found in the folder (only files ending in {', '.join(ALLOWLIST_FORMATS)} "
            f"are read{', in the class subfolders ' + str(class_names) if isinstance(labels, str) else ''}). "
            f"Received: directory={os.fspath(directory)!r}"
        )
    targets = _encode(indices, label_mode, class_names, labels)
    if seed is None:
        seed = int(generator().integers(1_000_000))  # as Keras' np.random.randint(1e6)
    if shuffle:
        order = np.random.RandomState(seed).permutation(len(paths))  # Keras' order for the same seed
        paths = [paths[i] for i in order]
        targets = None if targets is None else targets[order]

    decoding = _Decoding(color_mode, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                         on_bad_image)

    def make(which, reshuffle):
        chosen, chosen_targets = _split(paths, targets, validation_split, which, verbose, directory)
        ds = _folder_dataset(chosen, chosen_targets, decoding, batch_size, data_format,
                             seed if reshuffle else None)
        ds = ds.prefetch(AUTOTUNE)
        ds.class_names = class_names
        ds.file_paths = chosen
        return ds

    if subset == "both":
        return make("training", shuffle), make("validation", False)
    return make(subset, shuffle)


# ---- arguments -------------------------------------------------------------------------------
def _integer(value, name, kind, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{WHERE}: `{name}` must be {kind}. Received: {name}={value!r}")
    return int(value)


def _check_flags(flags, image_size):
    """The True/False arguments, and the aspect-ratio options that exclude each other or need a size."""
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{WHERE}: `{name}` must be True or False. Received: {name}={value!r}")
    crop, pad = flags["crop_to_aspect_ratio"], flags["pad_to_aspect_ratio"]
    if crop and pad:
        raise ValueError(
            f"{WHERE}: only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
            f"Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True"
        )
    if image_size is None and (crop or pad):
        name = "crop_to_aspect_ratio" if crop else "pad_to_aspect_ratio"
        raise ValueError(
            f"{WHERE}: `{name}` needs a target aspect ratio: pass image_size=(height, width). "
            f"Received: image_size=None, {name}=True"
        )


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    ok = isinstance(image_size, (tuple, list)) and len(image_size) == 2
    if not ok or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                         for v in image_size):
        raise ValueError(
            f"{WHERE}: `image_size` must be (height, width), two positive integers (an int for a square), "
            f"or None to keep the images' own size. Received: image_size={image_size!r}"
        )
    return int(image_size[0]), int(image_size[1])


def _check_labels(labels, label_mode, class_names):
    """(labels, label_mode, class_names) checked: labels "inferred", None, or an int array."""
    if not (labels is None or (isinstance(labels, str) and labels == "inferred")):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(
                f'{WHERE}: `labels` must be "inferred" (from the subfolder names), None (no labels), or a '
                f"list/tuple of integer labels, one per image file. Received: labels={labels!r}"
            )
        array = np.asarray(labels)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu") or (array < 0).any():
            raise ValueError(
                f"{WHERE}: `labels` given as a list must hold non-negative integers, one per image file. "
                f"Received: labels={_short(labels)}"
            )
        if class_names is not None:
            raise ValueError(
                f'{WHERE}: `class_names` can only be given with labels="inferred" (with a list of labels, '
                f"the class names are the sorted distinct labels). "
                f"Received: labels={_short(labels)}, class_names={class_names!r}"
            )
        labels = array.astype(np.int64)
    if label_mode is not None:
        label_mode = check_choice(label_mode, LABEL_MODES, "label_mode", WHERE)
    if labels is None or label_mode is None:
        if class_names is not None:
            raise ValueError(
                f"{WHERE}: `class_names` cannot be given without labels (labels=None or label_mode=None). "
                f"Received: labels={_short(labels)}, label_mode={label_mode!r}, class_names={class_names!r}"
            )
        return None, None, None
    if class_names is not None:
        if not isinstance(class_names, (list, tuple)) or not all(isinstance(c, str) for c in class_names):
            raise ValueError(
                f"{WHERE}: `class_names` must be a list of subfolder names (strings). "
                f"Received: class_names={class_names!r}"
            )
        if len(set(class_names)) != len(class_names) or not class_names:
            raise ValueError(
                f"{WHERE}: `class_names` must name each class once, and at least one. "
                f"Received: class_names={class_names!r}"
            )
    return labels, label_mode, class_names


def _short(labels):
    """A label list for a message: the whole list, or its start and length."""
    if labels is None or isinstance(labels, str) or len(labels) <= 10:
        return repr(labels if not isinstance(labels, np.ndarray) else labels.tolist())
    return f"[{', '.join(repr(v) for v in list(labels)[:10])}, ...] ({len(labels)} labels)"


def _check_split(validation_split, subset, shuffle, seed):
    """Keras' rules for validation_split, subset and seed, with messages naming what is missing."""
    if validation_split is not None and (
        isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real)
        or not 0 <= validation_split < 1
    ):
        raise ValueError(
            f"{WHERE}: `validation_split` must be a number between 0 and 1 (the fraction of the files kept "
            f"for validation). Received: validation_split={validation_split!r}"
        )
    if validation_split and subset is None:
        raise ValueError(
            f'{WHERE}: with `validation_split`, pass subset="training", "validation" or "both" to say which '
            f"part to return. Received: validation_split={validation_split!r}, subset=None"
        )
    if subset is not None and not validation_split:
        raise ValueError(
            f"{WHERE}: `subset` needs `validation_split` (the fraction of the files kept for validation). "
            f"Received: subset={subset!r}, validation_split={validation_split!r}"
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            f"{WHERE}: splitting shuffled files needs a `seed`, so that the training and validation "
            f"calls shuffle alike and their files do not overlap; pass the same seed=... to both (or "
            f"shuffle=False). Received: validation_split={validation_split!r}, shuffle=True, seed=None"
        )


# ---- the files -------------------------------------------------------------------------------
def _image_files(folder, follow_links):
    """The image files under ``folder``, Keras' order: folders sorted by path, files by name."""
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(ALLOWLIST_FORMATS):
                yield os.path.join(root, name)


def _index(directory, labels, class_names, follow_links):
    """(file paths, label index per file or None, class names or None)."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{WHERE}: `directory` must be a folder name. Received: directory={directory!r}")
    directory = os.fspath(directory)
    if not os.path.exists(directory):
        raise FileNotFoundError(f"{WHERE}: no such folder. Received: directory={directory!r}")
    if not os.path.isdir(directory):
        raise NotADirectoryError(
            f"{WHERE}: `directory` must be a folder (of class subfolders). Received: directory={directory!r}"
        )
    if labels is None or not isinstance(labels, str):  # no labels, or one label per file: every image
        paths = list(_image_files(directory, follow_links))
        if labels is None:
            return paths, None, None
        if len(labels) != len(paths):
            raise ValueError(
                f"{WHERE}: `labels` must hold one label per image file, in the files' sorted order. "
                f"Expected {len(paths)} labels (the image files under {directory!r}). "
                f"Received: {len(labels)} labels"
            )
        return paths, labels, [str(v) for v in sorted(set(labels.tolist()))]
    folders = sorted(
        name for name in os.listdir(directory)
        if not name.startswith(".") and os.path.isdir(os.path.join(directory, name))
    )
    if class_names is not None:
        unknown = [name for name in class_names if name not in folders]
        if unknown:
            raise ValueError(
                f"{WHERE}: `class_names` must name subfolders of the directory. Expected names among "
                f"{folders} (or a subset, in any order). Received: class_names={list(class_names)!r}, of "
                f"which {unknown} are not subfolders"
            )
        folders = list(class_names)
    if not folders:
        loose = sum(1 for name in os.listdir(directory) if name.lower().endswith(ALLOWLIST_FORMATS))
        found = f"{loose} image file{'s' * (loose != 1)} and no subfolders" if loose else "no subfolders"
        raise ValueError(
            f'{WHERE}: labels="inferred" takes the labels from class subfolders (directory/class_name/'
            f"image.png), and the folder has none; pass labels=None to read its images without labels. "
            f"Received: directory={directory!r} with {found}"
        )
    paths, indices = [], []
    for k, name in enumerate(folders):
        found = list(_image_files(os.path.join(directory, name), follow_links))
        paths += found
        indices += [k] * len(found)
    return paths, np.asarray(indices, np.int64), folders


def _encode(indices, label_mode, class_names, labels):
    """The label arrays of every file: int32 (n,), float32 (n, 1) or float32 one-hot (n, K)."""
    if indices is None:
        return None
    if label_mode == "int":
        return indices.astype(np.int32)
    if label_mode == "binary":
        if isinstance(labels, str) and len(class_names) != 2:
            raise ValueError(
                f'{WHERE}: label_mode="binary" needs exactly 2 classes (subfolders). '
                f"Received: {len(class_names)} classes {class_names}"
            )
        if not isinstance(labels, str) and not set(indices.tolist()) <= {0, 1}:
            raise ValueError(
                f'{WHERE}: label_mode="binary" needs labels 0 and 1. Received: labels {class_names}'
            )
        return indices.astype(np.float32)[:, None]
    # one column per label value 0..max (for "inferred", one per class folder)
    num_classes = len(class_names) if isinstance(labels, str) else int(indices.max()) + 1
    return np.eye(num_classes, dtype=np.float32)[indices]


def _split(paths, targets, validation_split, subset, verbose, directory):
    """Keras' split: the last int(validation_split * n) files for validation, the rest for training."""
    if not validation_split:
        return paths, targets
    n_val = int(validation_split * len(paths))
    n_train = len(paths) - n_val
    part, count = (slice(0, n_train), n_train) if subset == "training" else (slice(n_train, None), n_val)
    if verbose:
        print(f"Using {count} files for {subset}.")
    if count == 0:
        raise ValueError(
            f"{WHERE}: no {subset} images: validation_split={validation_split!r} of {len(paths)} files "
            f"leaves {n_train} for training and {n_val} for validation. "
            f"Received: directory={os.fspath(directory)!r}"
        )
    return paths[part], None if targets is None else targets[part]


# ---- decoding --------------------------------------------------------------------------------
def _folder_dataset(paths, targets, decoding, batch_size, data_format, seed):
    """The Dataset of one subset: each pass decodes its (reshuffled when ``seed``) files lazily."""
    n = len(paths)
    passes = itertools.count()
    lock = threading.Lock()
    size = batch_size or UNBATCHED_CHUNK

    def start():
        with lock:
            k = next(passes)
        order = np.random.default_rng([seed, k]).permutation(n) if seed is not None else np.arange(n)
        state = {}  # this pass' first image: the size that image_size=None holds all to, threads or not
        for begin in range(0, n, size):
            chosen = order[begin : begin + size]
            images, kept = _decode_batch([paths[i] for i in chosen], decoding, state)
            if not kept:
                continue
            if data_format == "channels_first":
                images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
            y = None if targets is None else targets[chosen[kept]]
            if batch_size is not None:
                yield images if y is None else (images, y)
            else:
                for i in range(len(kept)):
                    yield images[i] if y is None else (images[i], y[i])

    return Dataset(start, math.ceil(n / batch_size) if batch_size is not None else n)


def _decode_batch(paths, decoding, state):
    """(float32 (m, H, W, C) images, the positions in ``paths`` they come from): m < len(paths) when
    files were skipped. Raises ValueError naming the first bad file (in batch order) with "raise"."""
    images, values, errors = [None] * len(paths), [0] * len(paths), [None] * len(paths)

    def work(lo, hi):
        for i in range(lo, hi):
            try:
                images[i], values[i] = _load(paths[i], decoding)
            except (ValueError, OSError) as error:
                errors[i] = error

    first = 0
    while "threads" not in state and first < len(paths):  # a pass' first readable image decides, alone
        work(first, first + 1)
        if images[first] is not None:
            state["threads"] = decode_in_threads(values[first], _cores())
        first += 1
    rest = len(paths) - first
    if rest > 0 and state.get("threads"):
        parts = min(_cores(), rest)
        bounds = [first + rest * p // parts for p in range(parts + 1)]
        futures = [_pool().submit(work, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
        work(bounds[0], bounds[1])
        for future in futures:
            future.result()
    else:
        work(first, len(paths))
    kept = []
    for i, (path, error) in enumerate(zip(paths, errors)):
        if error is not None:
            if decoding.on_bad_image == "raise":
                raise ValueError(
                    f"{WHERE}: cannot read an image of the dataset ({error}). To leave unreadable files out "
                    f"(with their labels), pass on_bad_image='skip'. Received: path={path!r}"
                ) from error
            warnings.warn(
                f"{WHERE}: skipped the file {path!r}, which cannot be read as an image; its label is left "
                f"out with it (on_bad_image='skip'). The error: {error}",
                RuntimeWarning, stacklevel=2,
            )
            continue
        _check_same_size(path, images[i], state)
        kept.append(i)
    if not kept:
        return None, kept
    return np.stack([images[i] for i in kept]), kept


def _check_same_size(path, image, state):
    """With image_size=None every image of a pass must have the first one's size."""
    reference = state.setdefault("reference", (path, image.shape))
    if image.shape[:2] != reference[1][:2]:
        (h0, w0), (h, w) = reference[1][:2], image.shape[:2]
        raise ValueError(
            f"{WHERE}: with image_size=None every image must have the same size, to be stacked into "
            f"batches; pass image_size=(height, width) to resize them. Received: {reference[0]!r} is "
            f"{h0}x{w0} and {path!r} is {h}x{w} (height x width)"
        )


def _load(path, decoding):
    """One file as float32 (H, W, C) in 0..255, cropped or padded and resized as asked; and the
    number of values decoded (the file's h * w * C)."""
    from ..images import read_image

    image = read_image(path, decoding.color_mode, unit=255.0, where=WHERE)
    if decoding.image_size is None:
        return image, image.size
    values = image.size
    height, width = decoding.image_size
    if decoding.crop:
        image = image[_crop_box(image.shape[0], image.shape[1], height, width)]
    elif decoding.pad:
        image = _pad(image, height, width)
    return resize(image, (height, width), decoding.interpolation), values


def _crop_box(h, w, height, width):
    """The largest centred window of aspect ratio height:width (Keras' smart_resize arithmetic)."""
    crop_h = max(min(h, w * height // width), 1)
    crop_w = max(min(w, h * width // height), 1)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    return slice(top, top + crop_h), slice(left, left + crop_w)


def _pad(image, height, width):
    """``image`` centred on a zero canvas of aspect ratio height:width, as small as holds it."""
    h, w, c = image.shape
    canvas_h, canvas_w = max(h, w * height // width), max(w, h * width // height)
    if (canvas_h, canvas_w) == (h, w):
        return image
    canvas = np.zeros((canvas_h, canvas_w, c), np.float32)
    top, left = (canvas_h - h) // 2, (canvas_w - w) // 2
    canvas[top : top + h, left : left + w] = image
    return canvas


def resize(image, size, interpolation="bilinear"):
    """float32 (H, W, C) resized to ``size`` = (height, width) with Pillow, each channel in float32,
    clipped to 0..255; the image itself when it has that size already. ``interpolation``: a key
    of ``INTERPOLATIONS``."""
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    from PIL import Image

    resample = getattr(Image.Resampling, INTERPOLATIONS[interpolation])
    out = np.empty((height, width, image.shape[2]), np.float32)
    for c in range(image.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(image[:, :, c]))  # mode "F"
        np.clip(np.asarray(plane.resize((width, height), resample)), 0.0, 255.0, out=out[:, :, c])
    return out
