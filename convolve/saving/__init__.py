"""Model files: save and load models and weights, the format chosen by the file's suffix.

    model.save("model.safetensors")                    # convolve's own format (native.py)
    model = convolve.saving.load_model("model.safetensors")   # also convolve.models.load_model
    model.save_weights("w.safetensors"); model.load_weights("w.safetensors")

Formats register their suffixes and functions in ``registry.py``:

* ``.safetensors`` (``native.py``): convolve's own, everything convolve can express;
* ``.keras`` (Keras 3's archive), ``.weights.h5`` (Keras 3's weights) and legacy ``.h5``
  (``keras_format.py``; needs h5py, ``convolve[keras]``): read and written, so models move to
  and from Keras;
* ``.onnx`` (``onnx_format.py``; needs onnx, ``convolve[onnx]``): read; written by
  ``model.export(path, format="onnx")`` (``onnx_export.py``).

Every loader treats a file as untrusted: ``guards.py`` holds the checks they share (regular files
only, declared sizes against real ones, bounded JSON). No loader runs code from a file.

Where this package sits: ``convolve.models`` imports it (a model's ``save`` method calls
``save_model``); it imports layers but never models, and finds model classes by the name a
file gives through the registry the models fill in.
"""
from __future__ import annotations

import os

from .guards import checked_path
from .registry import FileFormat, format_for, known_suffixes, register_format, register_model_class

__all__ = [
    "save_model", "load_model", "save_weights", "load_weights", "export_model",
    "FileFormat", "register_format", "register_model_class", "known_suffixes",
]


def _checked_target(filepath, overwrite: bool, where: str) -> str:
    try:
        path = os.fspath(filepath)
    except TypeError:
        raise TypeError(
            f"{where}: the file path must be a str or os.PathLike. Received: filepath={filepath!r}"
        ) from None
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{where}: the path names a directory; give a file name. Received: filepath={path!r}"
        )
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{where}: the file exists and overwrite=False. Received: filepath={path!r}")
    return path


def save_model(model, filepath, overwrite=True) -> None:
    """Save the architecture, the weights, the compile settings and the optimizer state in the
    format ``filepath``'s suffix names (``.safetensors``, ``.keras``, ``.h5``), atomically: a
    crash leaves the previous file as it was."""
    path = _checked_target(filepath, overwrite, "save_model")
    if path.lower().endswith(".onnx"):
        raise ValueError(
            "save_model: ONNX is an export format: use model.export(path, format='onnx') (or `convolve "
            f"export`); save() writes .safetensors, .keras or .h5. Received: filepath={path!r}"
        )
    format_for(path, "save_model", "save_model")(model, path)


def save_weights(model, filepath, overwrite=True) -> None:
    """Save only the weights, in Keras' order, in the format ``filepath``'s suffix names."""
    path = _checked_target(filepath, overwrite, "save_weights")
    format_for(path, "save_weights", "save_weights")(model, path)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model a file holds: architecture, weights, and (``compile=True``) the compile
    settings and optimizer state.

    ``safe_mode`` is accepted for Keras' signature: loading is always safe (no code from a
    file runs; class names resolve only through convolve's registries), so
    ``custom_objects`` is not supported.
    """
    if custom_objects:
        raise ValueError(
            "load_model: custom_objects is not supported; convolve resolves class names only through its own "
            f"registries and never runs code from a file. Received: custom_objects={custom_objects!r}"
        )
    path = checked_path(filepath, "load_model")
    return format_for(path, "load_model", "load_model")(path, compile=compile)


def export_model(model, filepath, format="onnx", **options) -> None:
    """Write ``model`` for inference elsewhere (Keras 3's ``model.export``): ``format="onnx"``,
    the one format convolve exports (``onnx_export.export_onnx``; needs ``convolve[onnx]``)."""
    if format != "onnx":
        raise ValueError(
            f"export: convolve exports one format, 'onnx'; to save a model use save() with .safetensors, "
            f".keras or .h5. Received: format={format!r}"
        )
    path = _checked_target(filepath, True, "export")
    from .onnx_export import export_onnx

    export_onnx(model, path, **options)


def load_weights(model, filepath) -> None:
    """Load weights into ``model`` by position, in Keras' order; every weight's name and shape
    are checked before any is changed."""
    path = checked_path(filepath, "load_weights")
    format_for(path, "load_weights", "load_weights")(model, path)
