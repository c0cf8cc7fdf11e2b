"""Image files prepared as a model takes them: the one preparation that ``convolve predict``,
``convolve features`` and ``convolve.dask.predict_files`` share (they read the same file into
the same array).

* **Which files** (``image_paths``): each file named as it is (any suffix: an image Pillow reads,
  or a ``.npy`` array); each folder's image files, recursively, hidden files and folders
  skipped, in sorted order; each glob pattern (``"photos/*.png"``, ``"photos/**/*.jpg"``, quoted
  so that the shell leaves it alone) expanded with ``glob.glob(recursive=True)``, sorted, files
  with an image suffix only. Image suffixes: .bmp .gif .jpeg .jpg .png (any case), as
  ``image_dataset_from_directory`` reads.
* **How a model takes them** (``input_spec``): grey or colour and the size from the model's input
  shape (batch, height, width, channels), or (batch, channels, height, width) when its first
  layer with a data format reads channels first (a model imported from PyTorch); the value
  range from its layers (``expects_0_255``): a model whose first layer that changes values is
  ``Rescaling`` (input, augmentation, Resizing and CenterCrop layers skipped) takes pixels
  0..255, resized with bilinear filtering as ``image_dataset_from_directory`` resizes them in
  training; any other model takes [0, 1], resized as ``convolve.images.load_image`` does
  (nearest), as MNIST-style models always have.
* **One file** (``read_for_model``): decoded with the hostile-image guards of
  ``convolve.images`` (the pixel limit ``max_pixels`` checked from the header before decoding,
  as ``ImageTooLargeError``); a ``.npy`` array is used as it is (not rescaled, not resized), so
  it must have the model's size and channels already; ``invert`` gives white - pixel (dark
  objects photographed on light backgrounds, for MNIST-style models).

Errors name the file, say what was expected and end with ``Received: ...``; they are
ValueErrors (FileNotFoundError, IsADirectoryError, PermissionError for files that are not
there to read). This module never changes Pillow's global limit (``PIL.Image.MAX_IMAGE_PIXELS``):
the command line, one process doing one command, may.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import numpy as np

#: what is read from a folder or a glob pattern, as image_dataset_from_directory (any case)
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
#: layers that leave the pixel values' scale as it is (skipped when looking for Rescaling)
_SCALE_KEEPING = (
    "InputLayer", "Resizing", "CenterCrop", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
    "RandomCrop", "RandomContrast", "RandomBrightness",
)


@dataclass(frozen=True)
class InputSpec:
    """How a model takes images: (height, width, channels), the value of white (1 or 255), and
    whether the channel axis comes first (an NCHW model, such as one imported from PyTorch)."""

    height: int
    width: int
    channels: int
    white: float
    channels_first: bool = False

    @property
    def size(self):
        return self.height, self.width

    @property
    def shape(self):
        """One image's shape as the model takes it: (H, W, C), or (C, H, W) channels first."""
        if self.channels_first:
            return self.channels, self.height, self.width
        return self.height, self.width, self.channels


def expects_0_255(model) -> bool:
    """True when the first layer of ``model`` that changes values is Rescaling (module docstring)."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Rescaling":
            return True
        if kind not in _SCALE_KEEPING:
            return False
    return False


def _channels_first(model) -> bool:
    """Whether the model's first layer that has a data format reads channels first."""
    for layer in model.layers:
        data_format = getattr(layer, "data_format", None)
        if data_format is not None:
            return data_format == "channels_first"
    return False


def input_spec(model) -> InputSpec:
    """The InputSpec of a model with one image input, channels last, or channels first when
    its layers read them so."""
    shape = model.input_shape
    if isinstance(shape, list) or shape is None or len(shape) != 4 or None in tuple(shape)[1:]:
        raise ValueError(
            "the model must take one batch of images (batch, height, width, channels) of a fixed size. "
            f"Received: input shape {shape}"
        )
    first = _channels_first(model)
    if first:
        channels, height, width = (int(v) for v in shape[1:])
    else:
        height, width, channels = (int(v) for v in shape[1:])
    if channels not in (1, 3, 4):
        raise ValueError(
            "images can be given to models with 1 (grey), 3 (RGB) or 4 (RGBA) channels. "
            f"Received: a model with input shape {shape}"
        )
    return InputSpec(height, width, channels, 255.0 if expects_0_255(model) else 1.0, first)


def check_readable(paths, spec: InputSpec) -> None:
    """Refuse, before any work, the image files that a model of ``spec`` cannot be given."""
    if spec.channels == 4 and spec.white == 1.0:
        for path in paths:
            if not path.lower().endswith(".npy"):
                raise ValueError(
                    "a model with 4 input channels (RGBA) that does not start with Rescaling cannot read "
                    f"image files; give .npy arrays. Received: '{path}'"
                )


def existing_file(path: str, what: str = "image") -> str:
    """``path`` if it is a readable file; FileNotFoundError, IsADirectoryError or PermissionError."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such {what}: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"the {what} '{path}' is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise PermissionError(f"cannot read the {what} '{path}' (permission denied)")
    return path


# ---- which files ---------------------------------------------------------------------------------------
def _folder_images(folder: str) -> list:
    found = []
    for root, folders, files in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [
            os.path.join(root, name) for name in files
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)
        ]
    if not found:
        raise ValueError(
            f"no images in the folder '{folder}' (files ending in {', '.join(IMAGE_SUFFIXES)} are "
            f"read, in it and its subfolders). Received: {folder}"
        )
    return sorted(found)


def _pattern_images(pattern: str) -> list:
    found = sorted(
        path for path in glob.glob(pattern, recursive=True)
        if path.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(path)
    )
    if not found:
        raise ValueError(
            f"no image files match the pattern '{pattern}' (glob.glob with recursive '**'; files ending in "
            f"{', '.join(IMAGE_SUFFIXES)}). Received: {pattern}"
        )
    return found


def image_paths(items) -> list:
    """The files to read, in order (module docstring): ``items`` is one path or pattern, or a
    list of them; each file as given, each folder's image files, each pattern's matches."""
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    paths = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item):
            paths += _folder_images(item)
        elif not os.path.exists(item) and glob.has_magic(item):
            paths += _pattern_images(item)
        else:
            paths.append(existing_file(item, "image"))
    return paths


# ---- one file -------------------------------------------------------------------------------------------
def read_for_model(path: str, spec: InputSpec, invert: bool = False, max_pixels="default"):
    """One image file (or .npy array, used as it is) as a (1, H, W, C) float32 batch for the model,
    (1, C, H, W) for a channels_first model."""
    check_readable([path], spec)
    existing_file(path, "image")
    if path.lower().endswith(".npy"):
        batch = _read_npy(path, spec)
    elif spec.white == 1.0:
        from ..images import load_image

        mode = {1: "grayscale", 3: "rgb"}[spec.channels]
        batch = load_image(path, color_mode=mode, target_size=spec.size, max_pixels=max_pixels)
    else:
        from ..images import read_image
        from .directory import resize

        mode = {1: "grayscale", 3: "rgb", 4: "rgba"}[spec.channels]
        image = read_image(path, mode, unit=255.0, max_pixels=max_pixels, where="read_image")
        batch = resize(image, spec.size, "bilinear")[None]
    batch = spec.white - batch if invert else batch
    return batch.transpose(0, 3, 1, 2).copy() if spec.channels_first else batch


def read_batch(paths, spec: InputSpec, invert: bool = False, max_pixels="default"):
    """``read_for_model`` of each path, stacked: (N, H, W, C) float32 (or (N, C, H, W))."""
    if not paths:
        return np.zeros((0, *spec.shape), np.float32)
    return np.concatenate([read_for_model(path, spec, invert, max_pixels) for path in paths], axis=0)


def _read_npy(path: str, spec: InputSpec):
    """A .npy array (H, W), (H, W, C) or (1, H, W, C) of the model's size and channels, as float32."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f"cannot read '{path}' as a .npy array ({error})") from None
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"the image file '{path}' must hold real numbers. Received: dtype {array.dtype}")
    if array.ndim == 2:
        array = array[None, :, :, None]
    elif array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] != 1:
        raise ValueError(
            f"the image '{path}' must be an array of shape (H, W), (H, W, C) or (1, H, W, C). "
            f"Received: shape {array.shape}"
        )
    if tuple(array.shape[1:3]) != tuple(spec.size):
        raise ValueError(
            f"the image '{path}' must be {spec.height}x{spec.width} (the model's input size; .npy arrays are "
            f"not resized). Received: shape {array.shape}"
        )
    if array.shape[-1] != spec.channels:
        raise ValueError(
            f"the image '{path}' must have {spec.channels} channel(s). Received: shape {array.shape}"
        )
    return array.astype(np.float32)


# ---- what comes out: one probability per class ---------------------------------------------------------
def class_count(model) -> int:
    """How many classes a model scores: its output must be (batch, classes)."""
    shape = model.output_shape
    if isinstance(shape, list) or shape is None or len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"the model must output one score per class, (batch, classes). Received: output shape {shape}"
        )
    return int(shape[-1])


def probabilities(scores, softmax):
    """Scores as float64 probabilities; ``softmax``: None (decide from these scores: a negative
    score, or rows not summing to 1, mean they are not probabilities yet), True or False.
    Returns (probabilities, the softmax decision), to pass on to the next batch."""
    out = np.asarray(scores, dtype=np.float64)
    if softmax is None:
        softmax = not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))
    if softmax:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out, softmax


def top_classes(probs, k: int):
    """The indices of the ``k`` most probable classes of one row, most probable first (ties: the
    lower class index first)."""
    return np.argsort(-probs, kind="stable")[:k]
