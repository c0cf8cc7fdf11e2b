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

``load_model`` also reads a model from memory: bytes (``load_model(data)``) or a binary file
object (``load_model(io.BytesIO(data))``, an open socket's file, ...). The format is then told
from the first bytes (``sniff_format``): a safetensors header (an 8-byte little-endian length,
then ``{``), a zip archive (``PK``: a ``.keras`` file) or HDF5's signature (a legacy ``.h5``
file); ONNX has no signature of its own, so ONNX bytes need ``format="onnx"``. A file object is
read in pieces of 1 MiB until it ends, and refused past ``MAX_STREAM_BYTES``. Bytes in
convolve's own format are checked and parsed in memory (``native.load_model_bytes``), with the
buffer's length standing for the file's size; the other formats' loaders read files, so their
bytes are written to a private temporary file first, and messages name the bytes, not it.

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
    "FileFormat", "register_format", "register_model_class", "known_suffixes", "sniff_format",
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


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True, format=None):
    """The model a file holds: architecture, weights, and (``compile=True``) the compile
    settings and optimizer state.

    ``filepath`` is a file name, whose suffix chooses the format, or the file's contents: bytes
    or a binary file object, whose first bytes tell the format (``sniff_format``), or
    ``format`` ("safetensors", "keras", "h5" or "onnx") when given.

    ``safe_mode`` is accepted for Keras' signature: loading is always safe (no code from a
    file runs; class names resolve only through convolve's registries), so
    ``custom_objects`` is not supported.
    """
    if custom_objects:
        raise ValueError(
            "load_model: custom_objects is not supported; convolve resolves class names only through its own "
            f"registries and never runs code from a file. Received: custom_objects={custom_objects!r}"
        )
    if isinstance(filepath, (bytes, bytearray, memoryview)) or hasattr(filepath, "read"):
        data, name = _contents(filepath, format)
        return _load_contents(data, name, _format_of(data, name, format), compile)
    if format is not None:
        raise ValueError(
            "load_model: format= is for bytes and file objects; a file's suffix chooses its format. "
            f"Received: filepath={filepath!r}, format={format!r}"
        )
    path = checked_path(filepath, "load_model")
    return format_for(path, "load_model", "load_model")(path, compile=compile)


# ---- models from bytes and file objects ----------------------------------------------------
#: the most bytes read from a file object (a stream has no size to check beforehand)
MAX_STREAM_BYTES = 8 * 1024**3
_PIECE = 1 << 20
#: format= names (a leading dot is allowed too) -> the suffix whose loader reads them
FORMAT_SUFFIXES = {"safetensors": ".safetensors", "keras": ".keras", "h5": ".h5", "onnx": ".onnx"}
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5 = b"\x89HDF\r\n\x1a\n"


def sniff_format(head: bytes):
    """The format name ("safetensors", "keras", "h5") that a file's first bytes show, or None:
    a safetensors header (8 bytes of little-endian length, then the JSON header's ``{``), a
    zip archive (``PK``; a ``.keras`` file is one) or HDF5's 8-byte signature at the start."""
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    if head[:4] in _ZIP:
        return "keras"
    if head[:8] == _HDF5:
        return "h5"
    return None


def _contents(source, format):
    """(bytes, name for messages) of bytes or a binary file object, read in bounded pieces."""
    if format is not None and str(format).lower().lstrip(".") not in FORMAT_SUFFIXES:
        raise ValueError(
            f"load_model: format must be one of {', '.join(map(repr, FORMAT_SUFFIXES))} (or None to tell it "
            f"from the first bytes). Received: format={format!r}"
        )
    if not hasattr(source, "read"):
        data = bytes(source)
        return data, f"<{len(data):,} bytes>"
    name = getattr(source, "name", None)
    name = f"<file object {name}>" if isinstance(name, str) else f"<{type(source).__name__}>"
    pieces, total, sniffed = [], 0, format is not None
    while True:
        piece = source.read(_PIECE)
        if isinstance(piece, str):
            raise TypeError(
                "load_model: the file object must be opened in binary mode ('rb'); it gave text. "
                f"Received: {name}"
            )
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
        if not sniffed and total >= 16:
            sniffed = True
            if sniff_format(b"".join(pieces)[:16]) is None:
                break  # not a model file: refused from its first bytes without reading on
        if total > MAX_STREAM_BYTES:
            raise ValueError(
                f"Cannot load '{name}': a file object is read up to {MAX_STREAM_BYTES:,} bytes, and this "
                "one goes on. Save it to a file and load that. "
                f"Received: more than {MAX_STREAM_BYTES:,} bytes"
            )
    return b"".join(pieces), name


def _format_of(data: bytes, name: str, format) -> str:
    if format is not None:
        return str(format).lower().lstrip(".")
    found = sniff_format(data[:16])
    if found is None:
        raise ValueError(
            f"Cannot load '{name}': its first bytes are not a safetensors header (8-byte length, then "
            "'{'), a zip archive ('PK', a .keras file) or an HDF5 signature (a .h5 file), so its format is "
            "unknown; ONNX has no signature: pass format='onnx' (or load the file by a name with its "
            "suffix). "
            f"Received: first bytes {data[:16]!r}"
        )
    return found


def _load_contents(data: bytes, name: str, format: str, compile):
    """The model ``data`` holds in ``format``: convolve's own parsed in memory, the others'
    through their file loaders on a private temporary copy (messages name ``name``)."""
    if format == "safetensors":
        from .native import load_model_bytes

        return load_model_bytes(data, name, compile=compile)
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="convolve-load-")
    path = os.path.join(folder, "model" + FORMAT_SUFFIXES[format])
    try:
        with open(path, "wb") as file:
            file.write(data)
        try:
            return format_for(path, "load_model", "load_model")(path, compile=compile)
        except ValueError as error:
            raise ValueError(str(error).replace(path, name)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
