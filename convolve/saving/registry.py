"""Two small registries that let file formats and model classes find each other by name.

* **Model classes.** A file names its model class ("Sequential", "Model"); loading looks the
  name up here, never imports an arbitrary name. ``convolve.models`` registers its classes
  when it is imported (``@register_model_class``), so this package never imports
  ``convolve.models`` and the import arrow points one way: models -> saving -> layers.
* **File formats.** ``save_model``/``load_model`` pick the format from the file's suffix:
  each format registers the suffixes it handles and its four functions (save and load a
  model, save and load weights). The longest matching suffix wins, so ``.weights.h5`` can
  be told from ``.h5``. The modules listed in ``PROVIDERS`` register themselves when they are
  imported, which happens on the first save or load.
"""
from __future__ import annotations

import importlib
import os
from typing import Callable, NamedTuple

_MODEL_CLASSES: dict[str, type] = {}


def register_model_class(cls: type) -> type:
    """Class decorator: files may name ``cls`` by its ``__name__``."""
    _MODEL_CLASSES[cls.__name__] = cls
    return cls


def model_classes() -> dict:
    """{name: class} of every registered model class."""
    return dict(_MODEL_CLASSES)


def model_class_name(model, where: str) -> str:
    """The registered name of ``model``'s class (or of the nearest registered base class)."""
    for cls in type(model).__mro__:
        if _MODEL_CLASSES.get(cls.__name__) is cls:
            return cls.__name__
    raise TypeError(
        f"{where}: convolve can save {sorted(_MODEL_CLASSES)} models. Received: a {type(model).__name__}"
    )


class FileFormat(NamedTuple):
    """A model file format: its name, the suffixes it handles, and what it can do.

    ``save_model(model, path)``, ``load_model(path, compile)``, ``save_weights(model, path)``
    and ``load_weights(model, path)``; None where the format cannot do it.
    """

    name: str
    suffixes: tuple
    save_model: Callable | None = None
    load_model: Callable | None = None
    save_weights: Callable | None = None
    load_weights: Callable | None = None


_FORMATS: dict[str, FileFormat] = {}

#: the modules of convolve.saving that register formats when imported; imported on first use,
#: so that `import convolve` never loads them (nor h5py or onnx, which they import lazily too)
PROVIDERS = ("native", "keras_format", "onnx_format")
_loaded = False


def register_format(file_format: FileFormat) -> FileFormat:
    for suffix in file_format.suffixes:
        _FORMATS[suffix.lower()] = file_format
    return file_format


def _load_providers() -> None:
    global _loaded
    if _loaded:
        return
    for module in PROVIDERS:
        try:
            importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as error:  # a provider not written yet
            if error.name != f"{__package__}.{module}":
                raise
    _loaded = True


def known_suffixes(operation: str) -> list:
    """The suffixes whose format can do ``operation`` ('save_model', 'load_weights', ...)."""
    _load_providers()
    return sorted(s for s, f in _FORMATS.items() if getattr(f, operation) is not None)


def format_for(path, operation: str, where: str) -> Callable:
    """The function doing ``operation`` for ``path``'s format, chosen by the longest suffix."""
    _load_providers()
    name = os.path.basename(os.fspath(path)).lower()
    matches = [s for s in _FORMATS if name.endswith(s) and len(name) > len(s)]
    function = getattr(_FORMATS[max(matches, key=len)], operation) if matches else None
    if function is None:
        known = known_suffixes(operation)
        suffix = os.path.splitext(name)[1] or "no suffix"
        raise ValueError(
            f"{where}: the file name must end with one of {', '.join(known)} (the suffix chooses the "
            f"format). Received: filepath={os.fspath(path)!r} ({suffix})"
        )
    return function
