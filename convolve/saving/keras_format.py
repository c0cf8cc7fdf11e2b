"""Keras' model files: ``.keras`` archives, ``.weights.h5`` weights, legacy ``.h5`` models.

    model.save("model.keras")            # Keras 3 loads it: keras.saving.load_model("model.keras")
    model = convolve.models.load_model("model.keras")    # also what Keras 3 wrote
    model.save_weights("w.weights.h5"); model.load_weights("w.weights.h5")   # Keras 3's layout
    model = convolve.models.load_model("old.h5")          # Keras 2 / tf.keras / Keras 3 legacy

What Keras 3 (3.15, checked against its saving_lib.py, serialization_lib.py and
legacy_h5_format.py, and against files it wrote) puts in a ``.keras`` file, a zip archive
whose members are stored uncompressed:

* ``metadata.json``: ``{"keras_version": ..., "date_saved": ...}`` (we add ``convolve_version``, and
  ``convolve_class_names``, the list of ``model.class_names`` when the model has them: Keras
  reads neither key, and loading in convolve checks the list as ``native.py`` checks its own
  ``class_names`` entry, then sets ``model.class_names``);
* ``config.json``: the model serialized as ``{"module", "class_name", "config",
  "registered_name", "build_config", "compile_config"}`` (``keras_config.py``);
* ``model.weights.h5``: the variables, grouped per layer and for the optimizer (``keras_h5.py``).

Keras' legacy ``.h5`` is one HDF5 file with the config as JSON attributes; convolve reads it
and writes it as Keras 3's ``model.save("x.h5")`` does. ``save_weights``/``load_weights`` with
``.weights.h5`` use Keras 3's layout (weights move between a Keras model and the same
architecture in convolve), with ``.h5`` the legacy layout.

Loading treats the file as hostile (``guards.py``): a regular file only; the archive holds
exactly the three members, each of a bounded declared size, no larger than the archive allows
and expanding no more than deflate can (zip bombs are refused before anything is
decompressed), read with bounded reads; JSON through ``guards.loads`` (nesting limit); HDF5
through h5py, read-only, on the file checked by guards or on the member in memory. The
architecture is built first with declared weights only (``native._declared_model``), and every
stored dataset's shape is compared with the weight it fills before any is read. No code from a
file runs: Lambda layers and custom objects are refused (``keras_parse.check_safe``).
"""
from __future__ import annotations

import datetime
import io
import json
import warnings
import zipfile

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .._files import atomic_open
from .._version import __version__
from . import guards
from .guards import fail
from .keras_config import KERAS_FORMAT_VERSION, ConversionError, describe, keras_model_config, keras_object
from .keras_h5 import (
    check_shapes,
    child,
    h5py_module,
    is_keras3,
    keras3_datasets,
    legacy_groups,
    legacy_weights,
    name_list,
    open_h5,
    optimizer_arrays,
    optimizer_layout,
    path_in,
    read_array,
    read_keras3_weights,
    restore_optimizer,
    text,
    write_keras3,
    write_legacy_weights,
)
from .keras_parse import check_safe, parse_model, plain
from .native import _CLASS_NAMES, _class_names_entry, _class_names_problem, _declared_model
from .registry import FileFormat, model_classes, register_format

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
MEMBERS = (METADATA, CONFIG, WEIGHTS)
#: the largest JSON member and the largest weights member an archive may declare, in bytes
MAX_JSON_BYTES = guards.MAX_HEADER_BYTES
MAX_WEIGHTS_BYTES = 1 << 31
#: deflate cannot expand data more than about 1032 times
MAX_DEFLATE_RATIO = 1032
_KERAS_LOSSES = ("MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy",
                 "SparseCategoricalCrossentropy")
_KERAS_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
#: the metadata.json key of ``model.class_names`` (a list of strings; Keras ignores the key)
CLASS_NAMES_KEY = "convolve_class_names"
_COMPILE_EXTRAS = {"loss_weights": None, "weighted_metrics": None, "run_eagerly": False,
                   "steps_per_execution": 1, "jit_compile": False}


# ==== compile settings ===========================================================================
def _refuse_compile(model, detail) -> ConversionError:
    return ConversionError(
        f"{model.where} cannot be saved as a Keras file: {detail}. Save it as .safetensors (convolve's own "
        "format), which keeps it, or compile with built-in losses and metrics"
    )


def keras_compile_config(model) -> dict:
    """``model.get_compile_config()`` as Keras 3 writes ``compile_config``."""
    name = type(model.optimizer).__name__
    if model.optimizer is not None and name not in _KERAS_OPTIMIZERS:
        raise _refuse_compile(model, f"its optimizer is a {name}, which Keras does not have. Received: "
                                     f"optimizer={model.optimizer!r}")
    config = model.get_compile_config()
    loss = config["loss"]
    if isinstance(loss, dict):
        if loss["class_name"] not in _KERAS_LOSSES:
            raise _refuse_compile(model, f"its loss is a custom function. Received: loss={loss!r}")
        loss = dict(loss, config=dict(loss["config"]))
        if loss["class_name"] == "SparseCategoricalCrossentropy":  # Keras' has no axis argument
            if loss["config"].pop("axis", -1) != -1:
                raise _refuse_compile(model, "Keras' SparseCategoricalCrossentropy has no axis argument. "
                                             f"Received: axis={config['loss']['config']['axis']!r}")
        loss = keras_object(loss, "keras.losses")
    metrics = []
    for metric in config["metrics"]:
        name = metric if isinstance(metric, str) else metric.get("class_name")
        try:
            known = metrics_module.get(metric) is not None and name != "MeanMetricWrapper"
        except (ValueError, TypeError, KeyError):
            known = False
        if not known:
            raise _refuse_compile(model, f"it has a custom metric. Received: metric={metric!r}")
        metrics.append(keras_object(metric, "keras.metrics"))
    return {"optimizer": keras_object(config["optimizer"], "keras.optimizers"), "loss": loss,
            "metrics": metrics, **_COMPILE_EXTRAS}


def _legacy_optimizer(config):
    """A Keras 2 / tf.keras optimizer config in Keras 3's keys: 'lr' is 'learning_rate', and the
    options that are off ('decay': 0, 'is_legacy_optimizer', 'jit_compile') go."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        return config
    inner = dict(config["config"])
    if "lr" in inner:
        inner.setdefault("learning_rate", inner.pop("lr"))
    for key in ("is_legacy_optimizer", "jit_compile"):
        inner.pop(key, None)
    if inner.get("decay") in (0, 0.0):
        inner.pop("decay")
    return dict(config, config=inner)


def compile_from_keras(model, config, path) -> bool:
    """Compile ``model`` from Keras' ``compile_config`` (or a legacy ``training_config``);
    False when there is none."""
    if not config:
        return False
    if not isinstance(config, dict):
        raise fail(path, f"its compile config must be a JSON object. Received: {str(config)[:120]}")
    optimizer = config.get("optimizer", _legacy_optimizer(config.get("optimizer_config")))
    for key in ("loss_weights", "weighted_metrics"):
        if config.get(key):
            raise fail(
                path,
                f"it was compiled with {key}, which convolve's compile does not take. "
                f"Received: {key}={config[key]!r}; load_model(..., compile=False) loads the model "
                "without its compile settings",
            )
    metrics = plain(config.get("metrics")) or []
    if not isinstance(metrics, list) or not all(isinstance(m, (str, dict)) for m in metrics):
        raise fail(path, "convolve compiles one list of metrics for one output. "
                         f"Received: metrics={str(config.get('metrics'))[:120]}")
    try:
        model.compile(
            optimizer=optimizers_module.get(plain(optimizer)),
            loss=None if config.get("loss") is None else losses_module.get(plain(config["loss"])),
            metrics=[metrics_module.get(m) if isinstance(m, dict) else m for m in metrics],
        )
    except (ValueError, TypeError, KeyError) as error:
        raise fail(
            path,
            f"its compile settings could not be restored: {error}; load_model(..., compile=False) "
            "loads the model without them",
        ) from error
    return True


# ==== the .keras archive ==========================================================================
def _archive_bytes(model) -> bytes:
    described = describe(model)
    config = keras_model_config(described)
    compiled = getattr(model, "compiled", False)
    if compiled:
        config["compile_config"] = keras_compile_config(model)
    weights = write_keras3(described, model, with_optimizer=compiled and model.optimizer is not None)
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "convolve_version": __version__}
    entry = _class_names_entry(model)  # checked as native.py checks them; {} without class names
    if entry:
        metadata[CLASS_NAMES_KEY] = json.loads(entry[_CLASS_NAMES])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # stored, as Keras writes
        archive.writestr(METADATA, json.dumps(metadata))
        archive.writestr(CONFIG, json.dumps(config))
        archive.writestr(WEIGHTS, weights)
    return buffer.getvalue()


def _write(path, data: bytes) -> None:
    with atomic_open(path) as file:
        file.write(data)


def save_keras(model, path) -> None:
    """Save ``model`` as a Keras 3 ``.keras`` archive, atomically: architecture, weights, compile
    settings and optimizer state. Options Keras lacks are translated or refused
    (``keras_config``)."""
    _write(path, _archive_bytes(model))


def _members(archive, path, size) -> dict:
    """{name: ZipInfo} for the archive's three members, after every check on their headers."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    unexpected = sorted({n for n in names if n not in MEMBERS} | {n for n in names if names.count(n) > 1})
    missing = [n for n in MEMBERS if n not in names]
    if unexpected or missing:
        found = [f"unexpected or repeated members {unexpected}"] if unexpected else []
        found += [f"missing {missing}"] if missing else []
        raise fail(path, f"a .keras archive holds exactly {', '.join(MEMBERS)}. Received: {'; '.join(found)}")
    if sum(info.compress_size for info in infos) > size:
        raise fail(
            path,
            f"its members declare {sum(i.compress_size for i in infos):,} compressed bytes, more "
            f"than the archive's {size:,} bytes (truncated or corrupt)",
        )
    for info in infos:
        limit = MAX_WEIGHTS_BYTES if info.filename == WEIGHTS else MAX_JSON_BYTES
        where = f"its member '{info.filename}'"
        if info.flag_bits & 0x1:
            raise fail(path, f"{where} is encrypted. Received: an encrypted zip member")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(
                path,
                f"{where} uses compression method {info.compress_type}; convolve reads stored or "
                "deflated members. Received: another method",
            )
        if info.file_size > limit:
            raise fail(
                path,
                f"{where} declares {info.file_size:,} bytes, more than convolve reads ({limit:,}). "
                f"Received: file_size={info.file_size:,}",
            )
        ratio_limit = 1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
        if info.file_size > ratio_limit * max(info.compress_size, 1):
            raise fail(
                path,
                f"{where} would expand {info.compress_size:,} stored bytes to {info.file_size:,} "
                f"(more than {ratio_limit}x: a zip bomb, or a corrupt header). "
                f"Received: compress_size={info.compress_size:,}, file_size={info.file_size:,}",
            )
    return {info.filename: info for info in infos}


def _read_member(archive, info, path) -> bytes:
    """The member's bytes, reading at most one byte more than it declares."""
    with archive.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise fail(
            path,
            f"its member '{info.filename}' holds {'more' if len(data) > info.file_size else 'fewer'} "
            f"bytes than it declares ({info.file_size:,}). Received: a corrupt archive",
        )
    return data


def _read_archive(path):
    """(metadata, config, weights bytes) of a .keras archive, after every check."""
    file, size = guards.open_regular_file(path)
    with file:
        try:
            with zipfile.ZipFile(file) as archive:
                infos = _members(archive, path, size)
                raw = {name: _read_member(archive, infos[name], path) for name in MEMBERS}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as error:
            raise fail(
                path,
                f"it is not a readable .keras archive (a .keras file is a zip archive): {error}. "
                "Received: a truncated, corrupt or non-zip file",
            ) from None
    metadata = guards.loads(raw[METADATA].decode("utf-8", "replace"), path, METADATA)
    if not isinstance(metadata, dict):
        raise fail(path, f"its {METADATA} must be a JSON object. Received: {type(metadata).__name__}")
    config = guards.loads(raw[CONFIG].decode("utf-8", "replace"), path, CONFIG)
    return metadata, config, raw[WEIGHTS]


def _build(parsed, path, size):
    cls = model_classes()[parsed.model_class]
    return _declared_model(lambda: cls.from_config(parsed.config), path, size, "its architecture")


def _assign(pairs, path, where) -> None:
    """Check every (dataset, variable) shape, then read the datasets and assign them."""
    check_shapes(pairs, path, where)
    try:
        arrays = [(read_array(dataset), var) for dataset, var, _ in pairs]
    except OSError as error:  # HDF5 could not read a dataset's bytes
        raise fail(path, f"{where}: a dataset could not be read ({error}). Received: a corrupt HDF5 file") \
            from None
    for array, var in arrays:
        var.assign(array, where=f"load('{path}')")


def _class_names(metadata, path):
    """The list under ``CLASS_NAMES_KEY`` in metadata.json, checked as native.py checks its own
    ``class_names``; None when the key is absent."""
    if CLASS_NAMES_KEY not in metadata:
        return None
    names = metadata[CLASS_NAMES_KEY]
    problem = _class_names_problem(names)
    if problem is not None:
        raise fail(path, f"its {METADATA} entry '{CLASS_NAMES_KEY}' is invalid: {problem}")
    return list(names)


def load_keras(path, compile=True):
    """The model in a ``.keras`` archive (written by Keras 3 or by convolve); ``model.class_names``
    from metadata.json's ``convolve_class_names`` when the archive has it."""
    metadata, config, weights = _read_archive(path)
    names = _class_names(metadata, path)
    check_safe(config, path)
    parsed = parse_model(config, path)
    model = _build(parsed, path, len(weights))
    with open_h5(io.BytesIO(weights), path, f"its {WEIGHTS}") as h5:
        layers = {layer.name: layer for layer in model.layers}
        groups = [(group, name, layers[name].weights) for group, name in parsed.weight_layers]
        _assign(read_keras3_weights(h5, groups, path), path, f"its {WEIGHTS}")
        if compile and compile_from_keras(model, config.get("compile_config"), path) and model.optimizer:
            group = child(h5, "optimizer", "group", path)
            if group is not None:
                count = len(list(child(group, "vars", "group", path) or {}))
                datasets = keras3_datasets(h5, "optimizer", count, path, "its optimizer")
                restore_optimizer(model, datasets, path, f"its {WEIGHTS}")
    if names is not None:
        model.class_names = names
    return model


# ==== .weights.h5 ================================================================================
def save_keras_weights(model, path) -> None:
    """The weights (and the optimizer's state, as Keras does, when compiled) in Keras 3's
    ``.weights.h5`` layout."""
    _require_built(model, "save_weights", path)
    described = describe(model, strict=False)
    compiled = getattr(model, "compiled", False) and model.optimizer is not None
    _write(path, write_keras3(described, model, with_optimizer=compiled))


def _require_built(model, what, path) -> None:
    if not getattr(model, "built", True):
        raise ValueError(f"{what}('{path}'): {model.where} is not built, so it has no weights yet; build it "
                         "(Input as first layer, build(input_shape) or a first call) before. "
                         "Received: an unbuilt model")


def load_keras_weights(model, path) -> None:
    """Load a Keras 3 ``.weights.h5`` (or a legacy weights layout) into ``model``: every shape is
    checked before any weight changes. The optimizer state in the file is not read."""
    _require_built(model, "load_weights", path)
    file, _ = guards.open_regular_file(path)
    with file, open_h5(file, path) as h5:
        if is_keras3(h5):
            _assign(read_keras3_weights(h5, _groups(model), path), path, "its weights")
        elif "layer_names" in h5.attrs or "model_weights" in h5:
            _assign(_legacy_by_order(model, h5, path), path, "its weights")
        else:
            raise _not_keras(h5, path)


def _groups(model) -> list:
    """[(weights group, layer name, variables)] of a built model, in the order Keras names them."""
    return [
        (group, entry.name, entry.weights) for group, entry in describe(model, strict=False).weight_layers()
    ]


def _not_keras(h5, path) -> ValueError:
    return fail(
        path,
        "it is an HDF5 file but not a Keras file: it has neither Keras 3's 'layers' and 'vars' "
        "groups nor a legacy 'model_config' attribute or 'model_weights' group. "
        f"Received: top-level keys {sorted(h5.keys())[:10]}, attributes {sorted(h5.attrs)[:10]}",
    )


def _legacy_by_order(model, h5, path) -> list:
    """Keras' legacy weight loading: the layers with weights, in order, against the file's."""
    group = h5["model_weights"] if "layer_names" not in h5.attrs and "model_weights" in h5 else h5
    stored = legacy_groups(group, path)
    ordered = [entry.layer for _, entry in describe(model, strict=False).weight_layers()]
    layers = [layer for layer in ordered if layer is not None and legacy_weights(layer)]
    if len(stored) != len(layers):
        raise fail(
            path,
            f"it holds weights for {len(stored)} layers ({', '.join(n for n, _ in stored) or 'none'}), "
            f"{model.where} has {len(layers)} layers with weights "
            f"({', '.join(layer.name for layer in layers) or 'none'})",
        )
    return _legacy_pairs(zip(stored, layers), path)


def _legacy_pairs(matches, path) -> list:
    pairs = []
    for (name, datasets), layer in matches:
        weights = legacy_weights(layer)
        if len(datasets) != len(weights):
            raise fail(path, f"layer '{name}' holds {len(datasets)} weights in the file; {layer.where} has "
                             f"{len(weights)} ({', '.join(w.name for w in weights)})")
        pairs.extend((d, v, f"'{d.name}'") for d, v in zip(datasets, weights))
    return pairs


# ==== legacy .h5 =================================================================================
def _legacy_bytes(model, weights_only=False) -> bytes:
    """Keras' legacy HDF5: the whole model (as Keras 3's ``model.save("x.h5")``), or only the
    weights at the file's root (Keras 2's ``save_weights("x.h5")``)."""
    described = describe(model, strict=not weights_only)
    compiled = getattr(model, "compiled", False) and not weights_only
    training = keras_compile_config(model) if compiled else None
    h5py = h5py_module()
    layers = [entry.layer or entry.convolve_pad for _, entry in described.weight_layers()]
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        if weights_only:
            write_legacy_weights(h5, layers, model.name)
        else:
            h5.attrs["keras_version"] = KERAS_FORMAT_VERSION
            h5.attrs["backend"] = "convolve"
            h5.attrs["model_config"] = json.dumps(keras_model_config(described, legacy=True)).encode("utf8")
            write_legacy_weights(h5.create_group("model_weights"), layers, model.name)
        if training is not None:  # Keras' training_config: the compile_config, the optimizer's apart
            optimizer = training.pop("optimizer")
            training["optimizer_config"] = {
                "class_name": optimizer["class_name"],
                "config": optimizer["config"],
            }
            h5.attrs["training_config"] = json.dumps(training).encode("utf8")
            if model.optimizer is not None:
                _write_legacy_optimizer(h5, model)
    return buffer.getvalue()


def _write_legacy_optimizer(h5, model) -> None:
    name = model.optimizer.name
    names = []
    for key, _ in optimizer_layout(model):
        var, _, slot = key.rpartition("/")
        names.append(f"{name}/iteration" if key == "iterations" else f"{name}/{key}" if not slot or not var
                     else f"{name}/{var.replace('/', '_')}_{slot}")
    group = h5.create_group("optimizer_weights")
    group.attrs["weight_names"] = [n.encode("utf8") for n in names]
    for n, array in zip(names, optimizer_arrays(model)):
        group.create_dataset(n, data=array)


def save_h5(model, path) -> None:
    """Save ``model`` as Keras' legacy ``.h5`` (what Keras 3's ``model.save("x.h5")`` writes)."""
    _write(path, _legacy_bytes(model))


def save_h5_weights(model, path) -> None:
    """Save the weights in Keras' legacy weights layout (Keras 2's ``save_weights("x.h5")``)."""
    _require_built(model, "save_weights", path)
    _write(path, _legacy_bytes(model, weights_only=True))


def _json_attribute(h5, key, path):
    value = h5.attrs.get(key)
    return None if value is None else guards.loads(text(value), path, f"'{key}' attribute")


def load_h5(path, compile=True):
    """The model in a legacy ``.h5`` file (Keras 2, tf.keras, or Keras 3's ``model.save("x.h5")``)."""
    file, size = guards.open_regular_file(path)
    with file, open_h5(file, path) as h5:
        config = _json_attribute(h5, "model_config", path)
        if config is None:
            if is_keras3(h5) or "layer_names" in h5.attrs:
                raise fail(
                    path,
                    "it holds only weights (no 'model_config' attribute); build the model and call "
                    "model.load_weights",
                )
            raise _not_keras(h5, path)
        parsed = parse_model(config, path, legacy=True)
        model = _build(parsed, path, size)
        weights = child(h5, "model_weights", "group", path)
        if weights is None:
            raise fail(path, "it has a model_config but no 'model_weights' group")
        stored = dict(legacy_groups(weights, path))
        layers = {layer.name: layer for layer in model.layers if legacy_weights(layer)}
        if set(stored) != set(layers):
            raise fail(
                path,
                f"its weights are for the layers {sorted(stored)}, its architecture has weights in "
                f"{sorted(layers)}",
            )
        matches = [((name, datasets), layers[name]) for name, datasets in stored.items()]
        _assign(_legacy_pairs(matches, path), path, "its weights")
        training = _json_attribute(h5, "training_config", path) if compile else None
        if training is not None:
            check_safe(training, path)
        if compile_from_keras(model, training, path) and model.optimizer is not None:
            _legacy_optimizer_state(model, h5, path)
    return model


def _legacy_optimizer_state(model, h5, path) -> None:
    group = child(h5, "optimizer_weights", "group", path)
    if group is None:
        return
    datasets = [path_in(group, n, "dataset", path) for n in name_list(group, "weight_names", path)]
    layout = optimizer_layout(model)
    fixed = [k for k in layout if "/" not in k[0]]  # what Keras holds before its optimizer has run
    if any(d is None for d in datasets) or len(datasets) not in (len(layout), len(fixed)) or any(
            tuple(d.shape) != tuple(s) for d, (_, s) in zip(datasets, layout)):
        warnings.warn(f"'{path}': its optimizer state is not in Keras 3's layout (a tf.keras file?); the "
                      "optimizer starts fresh, as Keras 3 does", stacklevel=4)
        return
    restore_optimizer(model, datasets, path, "its optimizer_weights")


def load_keras_archive_weights(model, path) -> None:
    """Load the weights of a ``.keras`` archive into ``model`` (Keras 3's ``load_weights`` of a
    ``.keras`` file); the architecture in the archive is not used, shapes are checked."""
    _require_built(model, "load_weights", path)
    _, _, weights = _read_archive(path)
    with open_h5(io.BytesIO(weights), path, f"its {WEIGHTS}") as h5:
        _assign(read_keras3_weights(h5, _groups(model), path), path, f"its {WEIGHTS}")


def _weights_file_not_a_model(*args, **kwargs):
    """save_model(model, path) and load_model(path, compile) of a .weights.h5 file: refused."""
    path = args[-1]
    raise ValueError(
        f"'{path}': a .weights.h5 file holds weights only (Keras 3's save_weights layout): use "
        "model.save_weights / model.load_weights with it, and save or load a whole model as .keras, .h5 or "
        f".safetensors. Received: filepath={path!r}"
    )


register_format(FileFormat("Keras 3 (.keras)", (".keras",), save_model=save_keras, load_model=load_keras,
                           load_weights=load_keras_archive_weights))
register_format(
    FileFormat(
        "Keras 3 weights (.weights.h5)",
        (".weights.h5",),
        save_model=_weights_file_not_a_model,
        load_model=_weights_file_not_a_model,
        save_weights=save_keras_weights,
        load_weights=load_keras_weights,
    )
)
register_format(FileFormat("Keras legacy HDF5 (.h5)", (".h5",), save_model=save_h5, load_model=load_h5,
                           save_weights=save_h5_weights, load_weights=load_keras_weights))
