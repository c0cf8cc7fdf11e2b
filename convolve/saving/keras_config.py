"""Keras' model configs, both ways: a convolve model as the JSON Keras 3 writes (``config.json``
of a ``.keras`` archive, ``model_config`` of a legacy ``.h5``), and a Keras config as the
convolve model it describes. Only data moves here: no file is opened, no class is imported by
name (layers resolve through ``convolve.layers.get``), no code from a file runs.

Saving (``describe`` then ``keras_model_config``)
-------------------------------------------------
Every convolve layer is a Keras layer of the same class name. A layer config keeps its keys
where Keras has them and gets Keras' others with their neutral values (``kernel_constraint:
None``...); objects become Keras' serialized dicts (``module``, ``class_name``, ``config``,
``registered_name``); ``dtype`` becomes a ``DTypePolicy``. Options only convolve has:

* a convolution's integer, per-axis, (before, after), ``'full'`` padding, and ``'causal'`` on a
  depthwise or separable Conv1D (Keras' have no 'causal'), becomes a ``ZeroPadding{1,2,3}D``
  layer (named ``<conv>_padding``) before the same convolution with ``padding='valid'``;
* refused, naming the layer and the option: ``padding_mode`` other than 'zeros' on a
  convolution that pads, strides > 1 together with dilation_rate > 1, a custom activation
  function, Cropping1D with ``channels_first`` (Keras' is channels_last only).

Functional models list their layers in the order Keras' own ``Functional`` computes
(``keras_layer_order``: by decreasing depth from the outputs, ties by first visit), because
a ``.keras`` file's weight groups are named from that order (``layers/dense``,
``layers/dense_1``...) and Keras reads them back by it.

The other way, a Keras config as a convolve model, is ``keras_parse.py``; both share the
tables of Keras-only keys and their neutral values (``_NEUTRAL``) and ``keras_layer_order``.
"""
from __future__ import annotations

import re

from .. import activations as activations_module
from .. import layers as layers_module
from ..layers.base import InputLayer
from ..layers.conv import BaseConv, ConvTranspose, DepthwiseConv, SeparableConv
from .registry import model_class_name

#: the Keras version whose formats these modules were checked against (written as keras_version)
KERAS_FORMAT_VERSION = "3.15.1"

_SEQUENTIAL = {"module": "keras", "class_name": "Sequential", "registered_name": None}
_FUNCTIONAL = {"module": "keras.src.models.functional", "class_name": "Functional",
               "registered_name": "Functional"}

#: Keras config keys convolve's layers lack, with the value that means "not used"; written on
#: save, and accepted (dropped) on load when they hold that value. ``None`` keys not listed
#: here are dropped too: in Keras configs None means an option is off.
_NEUTRAL = {
    "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
    "depthwise_constraint": None, "pointwise_constraint": None,
    "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
    "synchronized": False, "renorm": False, "renorm_clipping": None, "quantization_config": None,
    "sparse": False, "ragged": False, "optional": False, "lora_rank": None,
}
#: Keras keys whose value does not matter once the option that uses it is off
_IGNORED_WHEN_OFF = {"renorm_momentum": "renorm", "lora_alpha": "lora_rank"}
#: per convolve base class, the Keras keys written with their neutral value
_KERAS_EXTRA_KEYS = (
    (SeparableConv, ("activity_regularizer", "depthwise_constraint", "pointwise_constraint",
                     "bias_constraint")),
    (DepthwiseConv, ("activity_regularizer", "depthwise_constraint", "bias_constraint")),
    (BaseConv, ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                "bias_constraint")),
    (layers_module.Dense, ("kernel_regularizer", "bias_regularizer", "kernel_constraint", "bias_constraint",
                           "quantization_config")),
    (layers_module.BatchNormalization, ("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                        "gamma_constraint", "synchronized", "renorm", "renorm_clipping")),
)


class ConversionError(ValueError):
    """A model or a file that has no counterpart on the other side; the message says why."""


def keras_snake(name: str) -> str:
    """Keras' ``naming.to_snake_case``: Conv2D -> conv2d, ReLU -> re_lu, InputLayer -> input_layer."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def weight_paths(class_names) -> list:
    """The group name of each layer in a ``.keras`` weights file: its class in snake case, with
    ``_1``, ``_2``... for the second, third... layer of that class (Keras' ``_get_unique_name``)."""
    used, paths = {}, []
    for class_name in class_names:
        name = keras_snake(class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        paths.append(name)
    return paths


def keras_layer_order(names, parents, outputs, inputs) -> list:
    """The order of a Functional model's layers in Keras 3 (``ops/function.py``'s ``map_graph``).

    ``names``: every layer name; ``parents``: {(layer, node index): [(layer, node index), ...]}
    for every call, its inputs in call order; ``outputs``/``inputs``: the model's (layer, node)
    pairs. Nodes are visited depth-first from each output (parents in order, a layer's index
    fixed at its first visit); a node's depth is the longest path from it to an output; layers
    go by decreasing depth (a shared layer at its deepest call), ties by first visit. Inputs
    that reach no output come at depth 0, first among their depth.
    """
    finished, in_progress, ordered, first_visit = set(), set(), [], {}
    for output in outputs:
        stack = [(output, False)]
        while stack:
            key, expanded = stack.pop()
            if expanded:
                in_progress.discard(key)
                finished.add(key)
                ordered.append(key)
                continue
            if key in finished:
                continue
            if key in in_progress:
                raise ConversionError(f"the graph has a cycle through layer '{key[0]}'")
            first_visit.setdefault(key[0], len(first_visit))
            in_progress.add(key)
            stack.append((key, True))
            stack.extend((parent, False) for parent in reversed(parents.get(key, ())))
    node_depth, layer_depth = {}, {}
    in_graph = set(ordered)
    for key in reversed(ordered):
        depth = max(node_depth.setdefault(key, 0), layer_depth.get(key[0], 0))
        layer_depth[key[0]] = node_depth[key] = depth
        for parent in parents.get(key, ()):
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for key in inputs:
        if key[0] not in layer_depth:
            layer_depth[key[0]], first_visit[key[0]] = 0, -1
    known = set(names)
    return sorted((n for n in layer_depth if n in known), key=lambda n: (-layer_depth[n], first_visit[n]))


# ==== saving: a convolve model as Keras layers ================================================
class KerasLayer:
    """One layer of the Keras model a convolve model is saved as.

    ``calls``: one entry per call, the list of (layer name, node index, shape, dtype) it reads;
    ``takes_list``: the call passes a list (merging layers); ``layer``: the convolve layer whose
    weights it holds (None for a ZeroPadding inserted by the translation)."""

    def __init__(self, name, class_name, config, layer=None, takes_list=False):
        self.name, self.class_name, self.config = name, class_name, config
        self.layer, self.takes_list = layer, takes_list
        self.calls: list = []
        self.input_shape = None

    @property
    def weights(self) -> list:
        return [] if self.layer is None else self.layer.weights


class KerasModel(list):
    """A list of KerasLayer in Keras' order, with ``kind`` ('Sequential' or 'Functional'),
    ``name``, ``trainable``, ``inputs``/``outputs`` ((layer name, node index) refs; a bare ref
    for one, a list for several) and ``input_shape`` (Sequential, None when unbuilt)."""

    kind = "Sequential"
    name = "model"
    trainable = True
    inputs = outputs = None
    input_shape = None

    def weight_layers(self) -> list:
        """(group name, KerasLayer) in the order of ``model.layers`` in Keras: a Sequential's
        without its InputLayer."""
        listed = [k for k in self if not (self.kind == "Sequential" and k.class_name == "InputLayer")]
        return list(zip(weight_paths(k.class_name for k in listed), listed))


def _policy(dtype) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def keras_object(value, module):
    """convolve's {'class_name', 'config'} as Keras' serialized dict in ``module`` (initializers,
    regularizers, losses, metrics, optimizers); a name or None as it is."""
    if not isinstance(value, dict):
        return value
    config = {  # an optimizer's learning rate may be a schedule
        k: keras_object(v, module + ".schedules") if isinstance(v, dict) and "class_name" in v else v
        for k, v in value.get("config", {}).items()
    }
    return {"module": module, "class_name": value["class_name"], "config": config, "registered_name": None}


def _refuse(layer, option, detail) -> ConversionError:
    return ConversionError(
        f"{layer.where} cannot be saved as a Keras file: {detail}; Keras has no equivalent. "
        f"Received: {option}. Save the model as .safetensors (convolve's own format), which keeps it."
    )


def _conv_padding(layer):
    """(Keras' ``padding`` argument, the (before, after) pairs a ZeroPadding layer must add before
    the convolution or None); refuses what Keras cannot do."""
    if any(s > 1 for s in layer.strides) and any(d > 1 for d in layer.dilation_rate):
        raise _refuse(layer, f"strides={layer.strides}, dilation_rate={layer.dilation_rate}",
                      "strides > 1 together with dilation_rate > 1")
    padding = layer.padding
    if isinstance(layer, ConvTranspose) or padding in ("valid", "same") or (
        padding == "causal" and not isinstance(layer, DepthwiseConv)  # Keras' Conv1D has 'causal'
    ):
        keras_padding, pairs = padding, None
    else:
        effective = [d * (k - 1) for k, d in zip(layer.kernel_size, layer.dilation_rate)]
        if padding == "full":
            pairs = tuple((e, e) for e in effective)
        elif padding == "causal":  # a depthwise or separable Conv1D: Keras' have no 'causal'
            pairs = ((effective[0], 0),)
        else:
            pairs = tuple(tuple(p) for p in padding)
        keras_padding, pairs = "valid", (pairs if any(map(any, pairs)) else None)
    mode = getattr(layer, "padding_mode", "zeros")
    if mode != "zeros" and (keras_padding != "valid" or pairs is not None):
        raise _refuse(layer, f"padding_mode={mode!r}, padding={padding!r}",
                      f"padding_mode={mode!r} pads with other values than zeros")
    return keras_padding, pairs


def _activation_name(layer, function) -> str:
    name = getattr(function, "__name__", None)
    try:
        if activations_module.serialize(function) == name:
            return name
    except ValueError:
        pass
    raise _refuse(layer, f"activation={function!r}", "its activation is a custom function, which a Keras "
                  "file cannot name")


def _keras_layer_config(layer, keras_padding=None) -> dict:
    """``layer.get_config()`` with Keras' keys and Keras' serialized values."""
    config = layer.get_config()
    config.pop("input_shape", None)
    config["dtype"] = _policy(config.get("dtype", layer.dtype))
    for key, value in list(config.items()):
        if key.endswith("_initializer"):
            config[key] = keras_object(value, "keras.initializers")
        elif key.endswith("_regularizer"):
            config[key] = keras_object(value, "keras.regularizers")
    if "activation" in config:
        config["activation"] = _activation_name(layer, layer.activation)
    for base, keys in _KERAS_EXTRA_KEYS:
        if isinstance(layer, base):
            for key in keys:
                config.setdefault(key, _NEUTRAL.get(key))
            break
    if isinstance(layer, BaseConv):
        config.pop("padding_mode", None)
        config["padding"] = keras_padding
    if isinstance(layer, DepthwiseConv):  # convolve's kernel_regularizer is Keras' depthwise (and pointwise)
        regularizer = config.pop("kernel_regularizer", None)
        config["depthwise_regularizer"] = regularizer
        if isinstance(layer, SeparableConv):
            config["pointwise_regularizer"] = regularizer
    name = type(layer).__name__
    if name in ("ZeroPadding1D", "Cropping1D"):
        key = "padding" if name == "ZeroPadding1D" else "cropping"
        config[key] = list(config[key][0])
    if name == "Cropping1D":
        if config.pop("data_format") != "channels_last":
            raise _refuse(layer, "data_format='channels_first'", "Keras' Cropping1D is channels_last only")
    if name == "UpSampling1D":
        config["size"] = config["size"][0]
    return config


def _input_layer(layer: InputLayer, batch_shape) -> KerasLayer:
    config = {"batch_shape": list(batch_shape), "dtype": layer.dtype, "sparse": False, "ragged": False,
              "name": layer.name, "optional": False}
    return KerasLayer(layer.name, "InputLayer", config, layer=layer)


def _unique(name, taken) -> str:
    candidate, k = name, 0
    while candidate in taken:
        k += 1
        candidate = f"{name}_{k}"
    taken.add(candidate)
    return candidate


def _translate(layer, taken, strict=True) -> list:
    """[KerasLayer] for one convolve layer: [ZeroPadding, the layer] or [the layer]. Not
    ``strict`` (weights only, where the order matters but no config is written): a layer Keras
    cannot reproduce stands as itself, without a config."""
    if not strict:
        try:
            return _translate(layer, taken)
        except ConversionError:
            return [KerasLayer(layer.name, type(layer).__name__, None, layer=layer,
                               takes_list=getattr(layer, "takes_list", False))]
    keras_padding, pairs = _conv_padding(layer) if isinstance(layer, BaseConv) else (None, None)
    config = _keras_layer_config(layer, keras_padding)
    main = KerasLayer(layer.name, type(layer).__name__, config, layer=layer,
                      takes_list=getattr(layer, "takes_list", False))
    if pairs is None:
        return [main]
    pad_class = layers_module.get(f"ZeroPadding{layer.rank}D")
    name = _unique(f"{layer.name}_padding", taken)
    pad = pad_class(padding=pairs, data_format=layer.data_format, name=name)
    entry = KerasLayer(pad.name, type(pad).__name__, _keras_layer_config(pad))
    entry.convolve_pad = pad
    return [entry, main]


def describe(model, strict=True) -> KerasModel:
    """The Keras model ``model`` is saved as: its layers (ZeroPadding inserted where convolve's
    padding needs one) in Keras' order, each call's inputs, shapes for ``build_config``.
    ``strict=False``: see ``_translate``."""
    kind = "Sequential" if model_class_name(model, "save") == "Sequential" else "Functional"
    result = KerasModel()
    result.kind, result.name, result.trainable = kind, model.name, getattr(model, "trainable", True)
    taken = {layer.name for layer in model.layers}
    if kind == "Sequential" and not model.built:  # no input shape yet: the layers alone
        for layer in model.layers:
            result.extend(_translate(layer, taken, strict))
        return result
    translated = {}
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        translated[id(layer)] = _translate(layer, taken, strict)

    def ref(tensor):
        return (tensor.layer.name, model._node_index[id(tensor)], tuple(tensor.shape), tensor.dtype)

    inputs = {}
    for tensor in model._inputs:
        inputs[tensor.layer.name] = _input_layer(tensor.layer, tensor.shape)
    for node in model._nodes:
        entries = translated[id(node.layer)]
        reads = [ref(t) for t in node.inputs]
        if len(entries) == 2:  # the inserted padding reads the input; the convolution reads the padding
            pad = entries[0]
            shape = tuple(pad.convolve_pad.compute_output_shape(reads[0][2]))
            pad.calls.append(reads)
            pad.input_shape = pad.input_shape or reads[0][2]
            reads = [(pad.name, len(pad.calls) - 1, shape, node.dtype)]
        main = entries[-1]
        main.calls.append(reads)
        if main.input_shape is None:
            main.input_shape = [r[2] for r in reads] if main.takes_list else reads[0][2]
    every = list(inputs.values()) + [k for entries in translated.values() for k in entries]
    by_name = {k.name: k for k in every}
    out_refs = [(t.layer.name, model._node_index[id(t)]) for t in model._outputs]
    in_refs = [(t.layer.name, 0) for t in model._inputs]
    if kind == "Sequential":
        result.extend(every)
        result.input_shape = tuple(model._inputs[0].shape)
    else:
        parents = {(k.name, i): [(r[0], r[1]) for r in call] for k in every for i, call in enumerate(k.calls)}
        result.extend(by_name[name] for name in keras_layer_order(list(by_name), parents, out_refs, in_refs))
    result.inputs = in_refs[0] if model._single_input else in_refs
    result.outputs = out_refs[0] if model._single_output else out_refs
    return result


def _keras_tensor(read) -> dict:
    name, node, shape, dtype = read
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(shape), "dtype": dtype, "keras_history": [name, node, 0]}}


def _layer_entry(k: KerasLayer, kind: str, legacy: bool) -> dict:
    entry = {"module": "keras.layers", "class_name": k.class_name, "config": k.config,
             "registered_name": None}
    if k.class_name != "InputLayer" and k.input_shape is not None:
        shape = k.input_shape
        entry["build_config"] = {"input_shape": [list(s) for s in shape] if k.takes_list else list(shape)}
    if legacy:  # Keras' legacy model_config: layer dicts without module and build_config
        entry = {"class_name": entry["class_name"], "config": entry["config"]}
    if kind == "Functional":
        entry["name"] = k.name
        entry["inbound_nodes"] = [
            {"args": [[_keras_tensor(r) for r in call]] if k.takes_list else [_keras_tensor(call[0])],
             "kwargs": {}}
            for call in k.calls
        ]
    return entry


def keras_model_config(described: KerasModel, legacy=False) -> dict:
    """The model's serialized config as Keras 3 writes it: ``config.json`` (with ``module``,
    ``registered_name``, ``build_config``), or the legacy ``.h5`` ``model_config``."""
    kind = described.kind
    layers = [_layer_entry(k, kind, legacy) for k in described]
    if kind == "Sequential":
        config = {"name": described.name, "trainable": described.trainable, "dtype": _policy("float32"),
                  "layers": layers}
        shape = None if described.input_shape is None else list(described.input_shape)
        if shape is not None:
            config["build_input_shape"] = shape
        top, build = dict(_SEQUENTIAL), {"input_shape": shape}
    else:
        def refs(r):
            return [r[0], r[1], 0] if isinstance(r, tuple) else [refs(x) for x in r]

        config = {"name": described.name, "trainable": described.trainable, "layers": layers,
                  "input_layers": refs(described.inputs), "output_layers": refs(described.outputs)}
        top, build = dict(_FUNCTIONAL), {"input_shape": None}
    if legacy:
        return {"class_name": top["class_name"], "config": config}
    top["config"] = config
    top["build_config"] = build
    return {key: top[key] for key in ("module", "class_name", "config", "registered_name", "build_config")}
