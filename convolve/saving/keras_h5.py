"""Keras' HDF5 layouts, read and written with h5py (imported here, lazily: ``import convolve``
never loads it; without it an ImportError names ``pip install "convolve[keras]"``).

Keras 3 (``model.weights.h5`` in a ``.keras`` archive, and ``.weights.h5`` files)::

    layers/<group>/vars            attrs {name: the layer's name}; datasets "0", "1", ... the
                                   layer's variables, trainable ones first (creation order)
    optimizer/vars                 attrs {name}; "0": iterations, "1": learning_rate (absent with
                                   a schedule), then the slots (``optimizer_slots``)
    vars                           attrs {name: the model's name}; no datasets

``<group>`` is the layer's class in snake case, numbered per class in the order of Keras'
``model.layers`` (``keras_config.weight_paths``), not the layer's name.

Legacy (``.h5``: Keras 2, tf.keras, and Keras 3's ``model.save("x.h5")``)::

    attrs keras_version, backend, model_config (JSON), training_config (JSON, when compiled)
    model_weights                  attrs layer_names, backend, keras_version
    model_weights/<layer name>     attrs weight_names ['<layer>/kernel', ...] (tf.keras: ':0' suffixes);
                                   the datasets at those paths inside the group, trainable first
    model_weights/top_level_model_weights   attrs weight_names [] (Keras 3)
    optimizer_weights              attrs weight_names; datasets (Keras 3: in optimizer/vars order)

A weights-only legacy file (Keras 2's ``save_weights("x.h5")``) has ``model_weights``' content
at its root.

A file is hostile: only hard links are followed (an external or soft link is refused, it could
reach another file), a dataset must not be external or virtual, and must hold numbers; every
dataset's shape is compared with the weight it fills before any dataset is read.
"""
from __future__ import annotations

import io

import numpy as np

from .._version import __version__
from .guards import fail
from .keras_config import KERAS_FORMAT_VERSION

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def h5py_module():
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            'Keras files (.keras, .weights.h5, .h5) need h5py: pip install "convolve[keras]" '
            "(or pip install h5py)."
        ) from error
    return h5py


# ---- reading, safely --------------------------------------------------------------------------
def open_h5(file, path, what="the file"):
    """h5py.File over the binary file object ``file`` (read-only), after checking HDF5's signature."""
    h5py = h5py_module()
    start = file.tell()
    head = file.read(len(HDF5_SIGNATURE))
    file.seek(start)
    if head != HDF5_SIGNATURE:
        raise fail(path, f"{what} is not an HDF5 file (it does not start with HDF5's signature). "
                         f"Received: first bytes {head!r}")
    try:
        return h5py.File(file, "r")
    except (OSError, ValueError) as error:
        raise fail(path, f"{what} is not a readable HDF5 file ({error})") from None


def child(group, name, kind, path):
    """``group[name]`` if it is a hard link to a ``kind`` ('group' or 'dataset'); None if absent."""
    h5py = h5py_module()
    link = group.get(name, default=None, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise fail(path, f"'{group.name}/{name}' is a {type(link).__name__}; convolve follows only links "
                         "inside the file. Received: a link to another place or file")
    item = group[name]
    wanted = h5py.Group if kind == "group" else h5py.Dataset
    if not isinstance(item, wanted):
        raise fail(path, f"'{item.name}' should be a {kind}. Received: a {type(item).__name__}")
    if kind == "dataset":
        if item.external or item.is_virtual:
            raise fail(path, f"dataset '{item.name}' stores its data in other files; convolve reads only the "
                             "file itself. Received: an external or virtual dataset")
        if item.dtype.kind not in "fiu":
            raise fail(path, f"dataset '{item.name}' must hold numbers. Received: dtype {item.dtype}")
    return item


def path_in(group, dotted, kind, path):
    """``group['a/b/c']`` following hard links only; None if a part is absent."""
    item = group
    parts = [p for p in str(dotted).split("/") if p]
    if not parts:
        raise fail(path, f"an empty name inside '{group.name}'. Received: {dotted!r}")
    for i, part in enumerate(parts):
        item = child(item, part, "group" if i < len(parts) - 1 else kind, path)
        if item is None:
            return None
    return item


def text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def name_list(group, attribute, path) -> list:
    """A list-of-names attribute (``layer_names``, ``weight_names``), also chunked as Keras writes
    long ones (``weight_names0``, ``weight_names1``...)."""
    if attribute in group.attrs:
        chunks = [group.attrs[attribute]]
    else:
        chunks, k = [], 0
        while f"{attribute}{k}" in group.attrs:
            chunks.append(group.attrs[f"{attribute}{k}"])
            k += 1
    names = []
    for chunk in chunks:
        values = np.asarray(chunk)
        if values.size == 0:
            continue
        if values.dtype.kind not in "SUO":
            raise fail(path, f"'{group.name}' attribute {attribute!r} must list names. Received: {values!r}")
        names.extend(text(v) for v in values.reshape(-1))
    return names


def check_shapes(pairs, path, where) -> None:
    """Every (dataset, variable) pair: same shape, before anything is read."""
    for dataset, variable, label in pairs:
        if tuple(dataset.shape) != tuple(variable.shape):
            raise fail(
                path,
                f"{where}: {label} has shape {tuple(dataset.shape)} in the file, but the model's "
                f"weight '{variable.path}' has shape {tuple(variable.shape)}",
            )


def read_array(dataset):
    return np.asarray(dataset[()])


# ---- the optimizer's variables in Keras' order --------------------------------------------------
def optimizer_slots(optimizer) -> list:
    """The slot groups in the order Keras builds them: each group's slots interleaved per
    variable (``add_optimizer_variables`` with several names), groups one after the other."""
    name = type(optimizer).__name__
    if name in ("Adam", "AdamW"):
        return [("momentum", "velocity")] + ([("velocity_hat",)] if optimizer.amsgrad else [])
    if name == "SGD":
        return [("momentum",)] if optimizer.momentum != 0 else []
    if name == "RMSprop":
        return ([("velocity",)] + ([("momentum",)] if optimizer.momentum > 0 else [])
                + ([("average_gradient",)] if optimizer.centered else []))
    if name == "Adagrad":
        return [("accumulator",)]
    raise ValueError(
        f"convolve knows Keras' variable order for SGD, Adam, AdamW, RMSprop and Adagrad. Received: a {name}"
    )


def optimizer_layout(model) -> list:
    """[(state key, shape)] of the Keras optimizer's variables, in order."""
    optimizer = model.optimizer
    keys = [("iterations", ())]
    if "learning_rate" in optimizer.state():
        keys.append(("learning_rate", ()))
    for group in optimizer_slots(optimizer):
        for var in model.trainable_weights:
            keys.extend((f"{var.path}/{slot}", var.shape) for slot in group)
    return keys


def optimizer_arrays(model) -> list:
    """The optimizer's state as Keras' variable list (slots not created yet: their initial value)."""
    optimizer = model.optimizer
    state, initial = optimizer.state(), dict(optimizer._slot_specs())
    dtypes = {var.path: var.value.dtype for var in model.trainable_weights}
    arrays = []
    for key, shape in optimizer_layout(model):
        if key == "iterations":
            arrays.append(np.asarray(optimizer.iterations, dtype=np.int64))
        elif key == "learning_rate":
            arrays.append(np.asarray(state["learning_rate"], dtype=np.float32))
        elif key in state:
            arrays.append(np.asarray(state[key]))
        else:
            var_path, _, slot = key.rpartition("/")
            arrays.append(np.full(shape, initial[slot], dtype=dtypes[var_path]))
    return arrays


def restore_optimizer(model, datasets, path, where) -> None:
    """Set ``model.optimizer``'s state from Keras' variable list ``datasets`` (every variable, or
    only iterations and learning rate when Keras saved an optimizer that had not run)."""
    layout = optimizer_layout(model)
    fixed = [k for k in layout if "/" not in k[0]]
    if len(datasets) not in (len(layout), len(fixed)):
        raise fail(path, f"{where}: the {type(model.optimizer).__name__} optimizer of this model has "
                         f"{len(layout)} variables in Keras ({len(fixed)} before it has run), the file holds "
                         f"{len(datasets)}. Received: an optimizer state for another optimizer or model")
    for (key, shape), dataset in zip(layout, datasets):
        if tuple(dataset.shape) != tuple(shape):
            raise fail(path, f"{where}: optimizer variable '{key}' should have shape {tuple(shape)}. "
                             f"Received: shape {tuple(dataset.shape)}")
    state = {key: read_array(dataset) for (key, _), dataset in zip(layout, datasets)}
    state["iterations"] = np.asarray(state["iterations"], dtype=np.int64)
    if "learning_rate" in state:
        state["learning_rate"] = np.asarray(state["learning_rate"], dtype=np.float64)
    try:
        model.optimizer.set_state(state)
    except (ValueError, TypeError) as error:
        raise fail(path, f"{where}: the optimizer state does not fit the optimizer: {error}") from error


# ---- Keras 3 layout -----------------------------------------------------------------------------
def write_keras3(described, model, with_optimizer) -> bytes:
    """The ``model.weights.h5`` Keras 3 writes for ``described`` (keras_config.describe)."""
    h5py = h5py_module()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        layers = h5.create_group("layers")
        for group_name, entry in described.weight_layers():
            group = layers.create_group(group_name).create_group("vars")
            group.attrs["name"] = entry.name
            for i, var in enumerate(entry.weights):
                group.create_dataset(str(i), data=np.asarray(var.value))
        if with_optimizer:
            group = h5.create_group("optimizer").create_group("vars")
            group.attrs["name"] = model.optimizer.name
            for i, array in enumerate(optimizer_arrays(model)):
                group.create_dataset(str(i), data=array)
        h5.create_group("vars").attrs["name"] = model.name
    return buffer.getvalue()


def keras3_datasets(h5, group_name, count, path, what):
    """The datasets "0".."count-1" of ``<group_name>/vars``; the group must hold exactly those."""
    group = path_in(h5, f"{group_name}/vars", "group", path)
    if group is None:
        raise fail(path, f"{what}: the weights file has no group '{group_name}/vars'")
    names = sorted(group.keys())
    expected = sorted(str(i) for i in range(count))
    if names != expected:
        raise fail(
            path,
            f"{what}: '{group_name}/vars' should hold {count} variables ({', '.join(expected) or 'none'}). "
            f"Received: {', '.join(names) or 'none'}",
        )
    return [child(group, str(i), "dataset", path) for i in range(count)]


def is_keras3(h5) -> bool:
    return "layers" in h5 or "vars" in h5


def read_keras3_weights(h5, groups, path) -> list:
    """(dataset, variable, label) for every variable of ``groups`` ([(group name, layer name,
    variables)] in Keras' order), from ``layers/<group>/vars``; no other layer group may exist."""
    extra = set(h5["layers"].keys()) - {g for g, _, _ in groups} if "layers" in h5 else set()
    if extra:
        raise fail(path, f"its weights file has groups for layers the model does not have: {sorted(extra)}")
    pairs = []
    for group_name, layer_name, variables in groups:
        datasets = keras3_datasets(h5, f"layers/{group_name}", len(variables), path, f"layer '{layer_name}'")
        pairs.extend(
            (d, v, f"'layers/{group_name}/vars/{i}'") for i, (d, v) in enumerate(zip(datasets, variables))
        )
    return pairs


# ---- legacy layout ------------------------------------------------------------------------------
def legacy_weights(layer) -> list:
    """A layer's weights in the legacy order: trainable ones, then the others (Keras' _legacy_weights)."""
    return layer.trainable_weights + layer.non_trainable_weights


def write_legacy_weights(group, layers, model_name) -> None:
    """``model_weights`` (or a weights-only file's root) as Keras 3 writes it."""
    group.attrs["layer_names"] = [layer.name.encode("utf8") for layer in layers]
    group.attrs["backend"] = "convolve".encode("utf8")
    group.attrs["keras_version"] = KERAS_FORMAT_VERSION.encode("utf8")
    group.attrs["convolve_version"] = __version__.encode("utf8")
    for layer in sorted(layers, key=lambda layer: layer.name):
        sub = group.create_group(layer.name)
        weights = legacy_weights(layer)
        names = [f"{layer.name}/{var.name}".encode("utf8") for var in weights]
        sub.attrs["weight_names"] = names
        for name, var in zip(names, weights):
            sub.create_dataset(name.decode("utf8"), data=np.asarray(var.value))
    group.create_group("top_level_model_weights").attrs["weight_names"] = []


def legacy_groups(group, path) -> list:
    """[(layer name, [datasets])] for the layers of a legacy weights group that have weights, in
    the file's order (``layer_names``)."""
    names = name_list(group, "layer_names", path)
    found = []
    for name in names:
        sub = child(group, name, "group", path)
        if sub is None:
            raise fail(path, f"'{group.name}' lists layer {name!r} in layer_names but has no group for it")
        weight_names = name_list(sub, "weight_names", path)
        datasets = []
        for weight_name in weight_names:
            dataset = path_in(sub, weight_name, "dataset", path)
            if dataset is None:
                raise fail(path, f"'{sub.name}' lists weight {weight_name!r} but has no dataset for it")
            datasets.append(dataset)
        if datasets:
            found.append((name, datasets))
    return found
