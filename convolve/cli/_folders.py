"""Image files from the command line: class folders for ``convolve train``/``evaluate``, and the
images ``convolve predict`` reads, prepared as the model expects them.

**A ``--dataset`` folder** is read as MNIST-style IDX files (or Keras' ``mnist.npz``) when it
holds any of them, else as class folders (``DIR/<class>/.../image.png``) when it has
subfolders. Class folders follow ``image_dataset_from_directory``'s rules (non-hidden
subfolders in sorted order, searched recursively, files ending in .bmp, .gif, .jpeg, .jpg or
.png), and ``inspect_class_folders`` decides, before any training:

* the image size: every file's header is read (its size and Pillow mode, no pixels decoded;
  about 20 microseconds a file), and when they do not all share one size the command asks for
  ``--image-size``, naming two files that differ;
* the colour mode: "grayscale" when every file is stored grey (a grey Pillow mode: L, 1, I;16,
  ...), or when the files stored in colour hold grey pixels (R = G = B everywhere) in each of
  up to ``COLOUR_SAMPLE`` = 32 of them, decoded, spread evenly over the file list; else "rgb".

**Images for a model** (``predict``, ``features``) are read and prepared by
``convolve.data.model_inputs`` (which ``convolve.dask`` shares): grey or colour and the size
come from the model's input shape (batch, height, width, channels); the value range from its
layers (``expects_0_255``): a model whose first layer that changes values is ``Rescaling``
(input, augmentation, Resizing and CenterCrop layers skipped) takes pixels 0..255, resized with
bilinear filtering as ``image_dataset_from_directory`` resizes them in training; any other
model takes [0, 1], resized as ``convolve.images.load_image`` does (nearest), as MNIST-style
models always have.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from ..data import model_inputs
from ..data.model_inputs import (  # noqa: F401 - the command line's names for them
    IMAGE_SUFFIXES,
    InputSpec,
    check_readable,
    expects_0_255,
    input_spec,
)
from ._common import CLIError

#: files decoded to tell grey from colour when some files are stored in colour
COLOUR_SAMPLE = 32
#: Pillow modes that hold one grey channel
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


# ---- what a --dataset folder holds -------------------------------------------------------------------
def folder_kind(path: str) -> str:
    """'idx' (MNIST-style IDX files or mnist.npz) or 'classes' (class subfolders); an error otherwise."""
    from ..datasets._loader import FILES

    names = set(os.listdir(path))
    idx_names = {base for name in FILES.values() for base in (name, name + ".gz")}
    if names & idx_names or "mnist.npz" in names:
        return "idx"
    if any(not name.startswith(".") and os.path.isdir(os.path.join(path, name)) for name in names):
        return "classes"
    raise CLIError(
        f"the folder '{path}' holds neither MNIST-style IDX files (train-images-idx3-ubyte, ...) nor class "
        f"subfolders of images (DIR/<class>/<image>.png). Received: --dataset {path}"
    )


def _image_files(folder: str):
    """Image files under ``folder``, image_dataset_from_directory's order (folders by path, files by name)."""
    for root, _, files in sorted(os.walk(folder), key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES):
                yield os.path.join(root, name)


def class_files(path: str):
    """(class names, image paths in class order): the files image_dataset_from_directory reads."""
    classes = sorted(
        name
        for name in os.listdir(path)
        if not name.startswith(".") and os.path.isdir(os.path.join(path, name))
    )
    files = [file for name in classes for file in _image_files(os.path.join(path, name))]
    if not files:
        raise CLIError(
            f"no images in the class folders of '{path}' (only files ending in {', '.join(IMAGE_SUFFIXES)} "
            f"are read). Received: --dataset {path} with subfolders {', '.join(classes)}"
        )
    return classes, files


@dataclass(frozen=True)
class FolderInfo:
    classes: list
    files: list
    sizes: dict  # (height, width) -> the first file of that size
    color_mode: str
    sampled: int  # files decoded to decide the colour mode (0: every file is stored grey)


def _header(path: str):
    """(width, height, Pillow mode) from the file's header, no pixels decoded."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                return img.size[0], img.size[1], img.mode
        except Exception as error:  # UnidentifiedImageError, DecompressionBombError, OSError, ...
            raise CLIError(
                f"cannot read the image's header ({type(error).__name__}: {error}). Received: '{path}'"
            ) from None


def _is_grey(path: str) -> bool:
    import numpy as np

    from ..images import read_image

    pixels = read_image(path, "auto", unit=255.0, where="convolve")
    return pixels.shape[-1] == 1 or bool(
        np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(pixels[..., 0], pixels[..., 2])
    )


def inspect_class_folders(path: str) -> FolderInfo:
    """The classes, files, sizes and colour mode of a class-folder dataset (module docstring)."""
    classes, files = class_files(path)
    sizes, coloured = {}, []
    for file in files:
        width, height, mode = _header(file)
        sizes.setdefault((height, width), file)
        if mode not in _GREY_MODES:
            coloured.append(file)
    count = min(len(coloured), COLOUR_SAMPLE)
    sample = [coloured[i * len(coloured) // count] for i in range(count)]
    grey = all(_is_grey(file) for file in sample)
    return FolderInfo(classes, files, sizes, "grayscale" if grey else "rgb", len(sample))


def image_size_of(info: FolderInfo, path: str):
    """The one (height, width) of every image, or an error asking for --image-size."""
    if len(info.sizes) == 1:
        return next(iter(info.sizes))
    (size_a, file_a), (size_b, file_b) = list(info.sizes.items())[:2]
    return _differ(path, len(info.sizes), (file_a, size_a), (file_b, size_b))


def _differ(path, count, first, second):
    (file_a, (ha, wa)), (file_b, (hb, wb)) = first, second
    raise CLIError(
        f"the images in '{path}' have {count} different sizes, so they cannot be stacked into batches as "
        f"they are: pass --image-size HEIGHT WIDTH to resize them all. Received: '{file_a}' is {ha}x{wa} and "
        f"'{file_b}' is {hb}x{wb} (height x width)"
    )


# ---- images for a model --------------------------------------------------------------------------------
# The preparation itself lives in convolve/data/model_inputs.py, below the command line, so that
# convolve.dask decodes files on its workers exactly as `convolve predict` does; here it gets the
# command line's limits: Pillow's own limit follows --max-pixels, and an image refused for its
# size says how to pass a larger --max-pixels.
def read_for_model(path: str, spec: InputSpec, invert: bool, max_pixels="default"):
    """One image file (or .npy array, used as it is) as a (1, H, W, C) float32 batch for the model,
    (1, C, H, W) for a channels_first model."""
    from ..images import ImageTooLargeError
    from ._common import _pillow_limit, _too_large

    try:
        with _pillow_limit(max_pixels):
            return model_inputs.read_for_model(path, spec, invert, max_pixels)
    except ImageTooLargeError as error:
        raise CLIError(_too_large(error, "image", path, max_pixels)) from None


def prediction_paths(items):
    """The files to predict: each IMAGE as given, each folder's image files (recursively, hidden
    files and folders skipped, image suffixes only) in sorted order, each quoted glob pattern's
    image files (sorted). Checked before any work."""
    return model_inputs.image_paths(items)
