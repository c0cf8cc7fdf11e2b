"""convolve's own model files (``.safetensors``): one safetensors file holding the weights,
the optimizer state and, in its metadata, the architecture and the compile settings as
JSON. Never pickle.

    model.save("model.safetensors")              # or convolve.saving.save_model(model, path)
    model = convolve.models.load_model("model.safetensors")
    model.save_weights("w.safetensors"); model.load_weights("w.safetensors")

What is in a file
-----------------
Tensors (safetensors stores them by name; the order below is kept by the index):

* ``weights/<i>/<variable path>``: every weight of ``model.weights``, in Keras' order, the
  index zero-padded to three digits (``weights/000/conv2d/kernel``,
  ``weights/001/conv2d/bias``, ...), BatchNormalization's moving statistics included;
* ``optimizer/<state key>``: ``model.optimizer.state()`` (``optimizer/iterations``,
  ``optimizer/learning_rate``, ``optimizer/conv2d/kernel/momentum``, ...); model files only.

Metadata (safetensors allows only string -> string). Plain strings: ``format`` (``convolve``),
``convolve_version`` (the version that wrote the file) and the two hex SHA-256 digests:

* ``tensors_sha256``: over every tensor's name, dtype, shape and bytes, in name order;
* ``metadata_sha256``: over every other metadata entry.

Every other value is JSON text:

* ``format_version``: ``1``; a file from a newer format is refused with a message;
* ``contents``: ``"model"`` (save_model) or ``"weights"`` (save_weights);
* ``model_class``: ``"Sequential"`` or ``"Model"``; ``model_config``: ``model.get_config()``;
* ``compile_config``: ``model.get_compile_config()`` or ``null``;
* ``optimizer_state_keys``: the optimizer's state keys, in order;
* ``rng_states``: ``{layer name: bit generator state}`` for layers with their own generator
  (a Dropout with a ``seed``), so their next masks are the ones they would have drawn.

Optional entries (absent means unknown; readers that do not know one ignore it, and
``metadata_sha256`` covers it like every other entry, so ``format_version`` stays 1):

* ``class_names``: a JSON list of strings, the name of each output class in order (what
  ``image_dataset_from_directory`` found as class folders, ``fashion_mnist.CLASS_NAMES``, ...).
  ``save_model`` writes it when the model has a ``class_names`` attribute that is not None (a
  list or tuple of at most ``MAX_CLASS_NAMES`` strings of at most ``MAX_CLASS_NAME_CHARS``
  characters each; anything else is refused before writing), and ``load_model`` sets
  ``model.class_names`` (a list) from it, after the same check; a model file without it gets no
  attribute. ``save_weights`` does not write it and ``load_weights`` does not read it.

The checksums detect corruption and edits made without recomputing them; they are not a
signature: anyone can write a valid file, so loading treats every file as hostile.

Loading never executes code: the header is parsed as JSON and the tensors by safetensors;
class names are looked up only in convolve's registries (``convolve.layers.get``, the
optimizer, loss and metric ``get`` functions, and the registered model classes). A file
cannot make loading allocate or compute beyond what it holds (``guards.py``):

1. only a regular file is read, and its header's declared size (at most 100 MB) is checked
   against the file's size before the header is read; JSON nests at most 64 levels;
2. the architecture is first built with declared weights only
   (``layers.base.declared_weights_only``: shapes, no arrays), and every weight it declares
   must match the stored tensor at its position, name and shape, and all of them together
   cannot take more bytes than the file holds; only then are the stored arrays assigned.

Bytes (``convolve.saving.load_model(data)``, and ``model_bytes(model)`` to make them) go
through the same checks, the buffer's length standing for the file's size.

No initializer runs while loading, so it draws nothing from the global random generator,
and training that resumes after ``load_model`` in the same process continues bit for bit.

Writing is atomic: the bytes go to a temporary file in the target's directory, which is
flushed, fsync'ed and then renamed over the target (``os.replace``). A crash leaves the
previous file as it was.
"""
from __future__ import annotations

import hashlib
import json
import re
import struct

import numpy as np

from .._files import atomic_open
from .._version import __version__
from ..layers.base import declared_weights_only
from . import guards
from .guards import fail as _fail
from .registry import FileFormat, model_class_name, model_classes, register_format

FORMAT = "convolve"
FORMAT_VERSION = 1
_WEIGHTS = "weights/"
_OPTIMIZER = "optimizer/"
_WEIGHT_NAME = re.compile(r"^weights/(\d+)/(.+)$")
_CHUNK = 1 << 20
#: metadata values stored as plain strings; all others are JSON text
_PLAIN_KEYS = ("format", "convolve_version", "tensors_sha256", "metadata_sha256")

#: the optional ``class_names`` entry: at most this many names, each at most this many characters
MAX_CLASS_NAMES = 100_000
MAX_CLASS_NAME_CHARS = 256
_CLASS_NAMES = "class_names"

#: the keys every convolve file has (both contents)
REQUIRED_KEYS = (
    "format", "format_version", "convolve_version", "contents", "model_class", "model_config",
    "compile_config", "optimizer_state_keys", "rng_states", "tensors_sha256", "metadata_sha256",
)


def _safetensors_numpy():
    try:
        from safetensors import numpy as safetensors_numpy
    except ImportError as error:
        raise ImportError(
            'Saving and loading models needs the safetensors package: pip install "convolve[io]" '
            "(or pip install safetensors)."
        ) from error
    return safetensors_numpy


def _version() -> str:
    return __version__


# ---- checksums -----------------------------------------------------------------------------
def _tensors_digest(tensors: dict) -> str:
    """SHA-256 over each tensor's name, dtype, shape and little-endian bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        head = json.dumps([name, array.dtype.name, list(array.shape)]).encode()
        h.update(struct.pack("<Q", len(head)))
        h.update(head)
        h.update(np.ascontiguousarray(little).tobytes())
    return h.hexdigest()


def _metadata_digest(metadata: dict) -> str:
    entries = {k: v for k, v in metadata.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---- writing -------------------------------------------------------------------------------
def _write_bytes(file, data) -> None:
    """Write ``data`` to the open binary ``file`` in chunks (tests replace this to crash midway)."""
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        file.write(view[start : start + _CHUNK])


def _atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename."""
    with atomic_open(path) as file:
        _write_bytes(file, data)


def _rng_states(model) -> dict:
    return {
        layer.name: layer._rng.bit_generator.state
        for layer in model.layers
        if isinstance(getattr(layer, "_rng", None), np.random.Generator)
    }


def _weight_tensors(model) -> dict:
    return {
        f"{_WEIGHTS}{i:03d}/{var.path}": np.asarray(var.value, order="C")
        for i, var in enumerate(model.weights)
    }


def _class_names_problem(names) -> str | None:
    """Why ``names`` cannot be a model's class names, or None when it can."""
    if not isinstance(names, (list, tuple)):
        return f"it must be a list of strings. Received: a {type(names).__name__}"
    if len(names) > MAX_CLASS_NAMES:
        return f"it may hold at most {MAX_CLASS_NAMES:,} names. Received: {len(names):,} names"
    for i, name in enumerate(names):
        if not isinstance(name, str):
            return f"every name must be a string. Received: item {i}, a {type(name).__name__}"
        if len(name) > MAX_CLASS_NAME_CHARS:
            return (
                f"every name may have at most {MAX_CLASS_NAME_CHARS} characters. "
                f"Received: item {i}, {len(name):,} characters"
            )
    return None


def _class_names_entry(model) -> dict:
    """``{"class_names": JSON}`` for a model with a ``class_names`` attribute, else ``{}``."""
    names = getattr(model, _CLASS_NAMES, None)
    if names is None:
        return {}
    problem = _class_names_problem(names)
    if problem is not None:
        raise ValueError(f"save_model: `model.class_names` (saved with the model) is invalid: {problem}")
    return {_CLASS_NAMES: json.dumps([str(name) for name in names])}


def _serialize(model, tensors: dict, contents: str, compile_config, optimizer_keys) -> bytes:
    metadata = {
        "format": FORMAT,
        "format_version": json.dumps(FORMAT_VERSION),
        "convolve_version": _version(),
        "contents": json.dumps(contents),
        "model_class": json.dumps(model_class_name(model, "save_model")),
        "model_config": json.dumps(model.get_config()),
        "compile_config": json.dumps(compile_config),
        "optimizer_state_keys": json.dumps(list(optimizer_keys)),
        "rng_states": json.dumps(_rng_states(model)),
        **(_class_names_entry(model) if contents == "model" else {}),
        "tensors_sha256": _tensors_digest(tensors),
    }
    metadata["metadata_sha256"] = _metadata_digest(metadata)
    return _safetensors_numpy().save(tensors, metadata=metadata)


def model_bytes(model, include_optimizer=True) -> bytes:
    """The bytes ``save_model`` writes: a whole model file in memory, which ``load_model``
    reads back from bytes as from a file. ``include_optimizer=False`` leaves out the compile
    settings and the optimizer state (what inference needs: ``convolve.dask`` sends these
    bytes to its workers)."""
    tensors = _weight_tensors(model)
    compile_config, keys = None, []
    if include_optimizer and getattr(model, "compiled", False):
        compile_config = model.get_compile_config()
        if model.optimizer is not None:
            state = model.optimizer.state()
            keys = list(state)
            for key in keys:
                tensors[_OPTIMIZER + key] = np.asarray(state[key], order="C")
    return _serialize(model, tensors, "model", compile_config, keys)


def save_model(model, path: str) -> None:
    """Save the architecture, the weights, the compile settings and the optimizer state to one
    safetensors file, atomically. ``load_model`` gives back a model that predicts the same and
    resumes training exactly."""
    _atomic_write(path, model_bytes(model))


def save_weights(model, path: str) -> None:
    """Save only the weights (in Keras' order) to one safetensors file, atomically."""
    tensors = _weight_tensors(model)
    _atomic_write(path, _serialize(model, tensors, "weights", None, []))


# ---- reading -------------------------------------------------------------------------------
def _header_size(head: bytes, size: int, path) -> int:
    """The header length the first 8 bytes ``head`` declare, checked against the ``size`` in
    bytes of the whole file (or buffer) before anything else is read."""
    if size < 8:
        raise _fail(
            path, f"the file is {size} bytes long, too short for a safetensors file (empty or truncated?)"
        )
    (header_size,) = struct.unpack("<Q", head[:8])
    if header_size > guards.MAX_HEADER_BYTES:
        raise _fail(
            path,
            f"it is not a safetensors file (its first 8 bytes declare a header of {header_size:,} bytes; "
            f"convolve reads headers of at most {guards.MAX_HEADER_BYTES:,} bytes)",
        )
    if 8 + header_size > size:
        raise _fail(
            path,
            f"the file is truncated or not a safetensors file: its header should be {header_size} bytes, "
            f"but only {size - 8} bytes follow the header size",
        )
    return header_size


def _read(path):
    """(metadata with JSON decoded, tensors, file size in bytes) after every check on the file."""
    file, size = guards.open_regular_file(path)
    with file:
        head = guards.read_exactly(file, 8, path, "the header size") if size >= 8 else b""
        header_size = _header_size(head, size, path)
        file.seek(0)
        data = guards.read_exactly(file, size, path, "the file")  # a regular file's size: what it holds
    return _parse(data, header_size, path)


def _read_bytes(data: bytes, name: str):
    """``_read`` for a file's bytes already in memory; ``name`` stands for the file in messages."""
    return _parse(data, _header_size(data[:8], len(data), name), name)


def _parse(data: bytes, header_size: int, path):
    """``_read``'s result from a whole file's bytes whose header size is checked already."""
    size = len(data)
    try:
        text = data[8 : 8 + header_size].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(path, "it is not a safetensors file (its header is not UTF-8 text)") from None
    header = guards.loads(
        text, path, "header", invalid="it is not a safetensors file (its header is not JSON)"
    )
    if not isinstance(header, dict):
        raise _fail(path, "it is not a safetensors file (its header is not a JSON object)")
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise _fail(
            path,
            "it is a safetensors file but not a convolve model file (its metadata has no 'format': 'convolve'"
            + (f"; it has 'format': {found!r}" if found is not None else "")
            + "); convolve only loads files that save_model or save_weights wrote",
        )
    if not all(isinstance(v, str) for v in metadata.values()):
        raise _fail(path, "its metadata values must all be strings")
    try:
        version = int(metadata.get("format_version"))
    except (TypeError, ValueError):
        raise _fail(
            path, f"its format_version is not an integer. Received: {metadata.get('format_version')!r}"
        ) from None
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"it has format_version {version} (written by convolve {metadata.get('convolve_version', '?')}), "
            f"but this convolve ({_version()}) reads format versions up to {FORMAT_VERSION}; "
            "upgrade convolve",
        )
    if version < 1:
        raise _fail(path, f"its format_version must be at least 1. Received: {version}")
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise _fail(path, f"its metadata lacks the entries {missing}")
    if _metadata_digest(metadata) != metadata["metadata_sha256"]:
        raise _fail(
            path,
            "its metadata does not match its checksum (metadata_sha256): the file was edited or corrupted",
        )

    # tensor data: the header's offsets must fit the bytes that follow it
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict) and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2 and isinstance(entry["data_offsets"][1], int)
    ]
    available = size - 8 - header_size
    if ends and max(ends) > available:
        raise _fail(
            path,
            f"the file is truncated: its tensors need {max(ends)} bytes of data, "
            f"but only {available} bytes follow the header",
        )
    try:
        tensors = _safetensors_numpy().load(data)
    except Exception as error:  # safetensors' own SafetensorError for a malformed layout
        raise _fail(path, f"safetensors could not read the tensors ({error})") from None
    del data
    if _tensors_digest(tensors) != metadata["tensors_sha256"]:
        raise _fail(
            path,
            "its tensor data does not match its checksum (tensors_sha256): the file was modified or "
            "corrupted",
        )

    decoded = {
        key: (
            metadata[key]
            if key in _PLAIN_KEYS
            else guards.loads(metadata[key], path, f"metadata entry {key!r}")
        )
        for key in REQUIRED_KEYS
    }
    decoded["format_version"] = version
    if _CLASS_NAMES in metadata:
        names = guards.loads(metadata[_CLASS_NAMES], path, f"metadata entry {_CLASS_NAMES!r}")
        problem = _class_names_problem(names)
        if problem is not None:
            raise _fail(path, f"its 'class_names' entry is invalid: {problem}")
        decoded[_CLASS_NAMES] = list(names)
    if decoded["contents"] not in ("model", "weights"):
        raise _fail(path, f"its 'contents' must be 'model' or 'weights'. Received: {decoded['contents']!r}")
    return decoded, tensors, size


def _stored_weights(path, tensors) -> list:
    """[(stored path, array)] in index order; every index from 0 to n - 1 exactly once."""
    indexed = {}
    for name, array in tensors.items():
        if name.startswith(_OPTIMIZER):
            continue
        match = _WEIGHT_NAME.match(name)
        if match is None:
            raise _fail(
                path, f"unexpected tensor {name!r} (expected 'weights/<index>/<path>' or 'optimizer/<key>')"
            )
        index = int(match.group(1))
        if index in indexed:
            raise _fail(path, f"two tensors have the weight index {index}")
        indexed[index] = (match.group(2), array)
    if sorted(indexed) != list(range(len(indexed))):
        raise _fail(path, f"the weight indices are not 0 to {len(indexed) - 1}. Received: {sorted(indexed)}")
    return [indexed[i] for i in range(len(indexed))]


def _check_weights(model, path, stored) -> None:
    """Every weight of ``model`` against the stored one at its position: count, name and shape."""
    variables = model.weights
    if len(stored) != len(variables):
        raise ValueError(
            f"Cannot load '{path}' into {model.where}: the file has {len(stored)} weights "
            f"({', '.join(p for p, _ in stored) or 'none'}), the model has {len(variables)} "
            f"({', '.join(v.path for v in variables) or 'none; is it built?'})"
        )
    for i, ((stored_path, array), var) in enumerate(zip(stored, variables)):
        stored_name = stored_path.rsplit("/", 1)[-1]
        if stored_name != var.name or tuple(array.shape) != var.shape:
            raise ValueError(
                f"Cannot load '{path}' into {model.where}: weight {i} does not match. The file has "
                f"'{stored_path}' with shape {tuple(array.shape)}; "
                f"the model has '{var.path}' with shape {var.shape}"
            )


def _assign_weights(model, path, stored) -> None:
    """Check every stored weight against the model's, by position, then assign them all."""
    _check_weights(model, path, stored)
    for (_, array), var in zip(stored, model.weights):
        var.assign(array, where=f"load_weights('{path}')")


def _declared_bytes(model) -> int:
    """What the model's weights would take, from their shapes (Python ints: no overflow)."""
    total = 0
    for var in model.weights:
        count = 1
        for dim in var.shape:
            count *= int(dim)
        total += count * var.value.dtype.itemsize
    return total


#: what building an architecture from a file may raise; each becomes a ValueError naming the file
_BUILD_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError)


def _declared_model(make, path, size, what):
    """``make()`` with declared weights only (no arrays), refused if its weights would take
    more bytes than the whole file holds; ``what`` names it in messages."""
    with declared_weights_only():
        try:
            model = make()
        except _BUILD_ERRORS as error:
            raise _fail(path, f"{what} could not be rebuilt: {error}") from error
    declared = _declared_bytes(model)
    if declared > size:
        raise _fail(
            path,
            f"{what} declares {len(model.weights)} weights taking {declared:,} bytes, "
            f"more than the whole file holds ({size:,} bytes)",
        )
    return model


def _rebuild(cls, config, path, stored, size):
    """The model a file's architecture describes, its weights taken from ``stored``.

    Built first with declared weights only: what the architecture asks for is compared with
    what the file holds before anything is allocated for it.
    """
    model = _declared_model(lambda: cls.from_config(config), path, size, "its architecture")
    _assign_weights(model, path, stored)  # the stored arrays replace the placeholders
    return model


def _restore_rng_states(model, path, states) -> None:
    if not isinstance(states, dict):
        raise _fail(path, "its 'rng_states' must be a JSON object")
    layers = {layer.name: layer for layer in model.layers}
    for name, state in states.items():
        rng = getattr(layers.get(name), "_rng", None)
        if not isinstance(rng, np.random.Generator):
            raise _fail(
                path,
                f"it holds a random generator state for layer {name!r}, which has no generator of its own",
            )
        try:
            rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise _fail(path, f"the random generator state of layer {name!r} is invalid ({error})") from None


def load_model(path: str, compile=True):
    """The model ``save_model`` wrote: architecture, weights, and (with ``compile=True``) the
    compile settings and optimizer state."""
    return _model_from(*_read(path), path, compile)


def load_model_bytes(data: bytes, name: str, compile=True):
    """``load_model`` for a whole file's bytes (``model_bytes``, or a file read into memory),
    with the same checks, the buffer's length standing for the file's size; ``name`` stands
    for the file in messages."""
    return _model_from(*_read_bytes(data, name), name, compile)


def _model_from(meta, tensors, size, path, compile):
    """The model a checked file's metadata and tensors describe."""
    if meta["contents"] != "model":
        raise _fail(
            path,
            "it holds only weights (written by save_weights); build the model and call model.load_weights",
        )
    classes = model_classes()
    cls = classes.get(meta["model_class"]) if isinstance(meta["model_class"], str) else None
    if cls is None:
        raise _fail(
            path, f"unknown model class. Expected one of {sorted(classes)}. Received: {meta['model_class']!r}"
        )
    model = _rebuild(cls, meta["model_config"], path, _stored_weights(path, tensors), size)
    _restore_rng_states(model, path, meta["rng_states"])
    if _CLASS_NAMES in meta:
        model.class_names = meta[_CLASS_NAMES]

    keys = meta["optimizer_state_keys"]
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise _fail(path, "its 'optimizer_state_keys' must be a JSON list of strings")
    found = {name[len(_OPTIMIZER):] for name in tensors if name.startswith(_OPTIMIZER)}
    if found != set(keys):
        raise _fail(
            path,
            f"its optimizer tensors do not match optimizer_state_keys: missing {sorted(set(keys) - found)}, "
            f"unexpected {sorted(found - set(keys))}",
        )
    if compile and meta["compile_config"] is not None:
        try:
            model.compile_from_config(meta["compile_config"])
        except (ValueError, TypeError, KeyError) as error:
            raise _fail(path, f"its compile_config could not be restored: {error}") from error
        if keys and model.optimizer is not None:
            try:
                model.optimizer.set_state({key: tensors[_OPTIMIZER + key] for key in keys})
            except (ValueError, TypeError) as error:
                raise _fail(path, f"its optimizer state does not fit the optimizer: {error}") from error
    return model


def load_weights(model, path: str) -> None:
    """Load weights that ``save_weights`` (or ``save_model``) wrote into ``model``, by position,
    in Keras' order. Every weight's name and shape are checked before any is changed; layer
    names may differ (``conv2d`` vs ``conv2d_1``). An unbuilt model is first built for the
    input shape stored in the file, with its weights declared only until they match."""
    meta, tensors, size = _read(path)
    stored = _stored_weights(path, tensors)
    if not getattr(model, "built", True):
        config = meta["model_config"]
        shape = config.get("input_shape") if isinstance(config, dict) else None
        if shape is not None:
            _build_for(model, path, tuple(shape), stored, size)
    _assign_weights(model, path, stored)


def _build_for(model, path, input_shape, stored, size) -> None:
    """Build ``model`` for the file's ``input_shape`` once a copy built with declared weights
    only shows that its weights match the file's (a file's shape cannot make us allocate)."""

    def probe():
        copy = type(model).from_config(model.get_config())
        copy.build(input_shape)
        return copy

    _check_weights(
        _declared_model(probe, path, size, f"the model, for the file's input shape {input_shape},"),
        path,
        stored,
    )
    with _GlobalRandomStateKept():  # the initial weights drawn now are replaced at once
        model.build(input_shape)


class _GlobalRandomStateKept:
    """Put the global generator's state back on exit: building layers draws initial weights."""

    def __enter__(self):
        from ..random import generator

        self._generator = generator()
        self._state = self._generator.bit_generator.state
        return self

    def __exit__(self, *exc):
        self._generator.bit_generator.state = self._state
        return False


register_format(FileFormat(
    "convolve (safetensors)", (".safetensors",),
    save_model=save_model, load_model=load_model, save_weights=save_weights, load_weights=load_weights,
))
