"""A Keras model config (``config.json`` of a ``.keras`` archive, ``model_config`` of a legacy
``.h5``) as the convolve model config it describes, after refusing whatever would need code.

* ``check_safe(config, path)`` looks at every object in the config (layers, initializers,
  activations, the optimizer...): a ``Lambda`` layer or a ``__lambda__`` object (Python
  bytecode) is refused, as Keras 3 refuses it with ``safe_mode=True``; so is a custom object,
  an object whose ``module`` is outside ``keras`` or whose ``registered_name`` is not its own
  class name (``'Custom>MyLayer'``): it names code convolve does not have and never imports.
* ``parse_model(config, path)`` gives a ``Parsed``: the convolve model class name
  ('Sequential' or 'Model'), the config its ``from_config`` takes, and the layer names in
  Keras' order with their weight group names. Layer classes resolve only through
  ``convolve.layers.get``; those convolve does not have are listed together in one error.

Keras 2 and tf.keras configs (legacy ``.h5`` files; Keras 3 writes the same layout for
``model.save("x.h5")``) differ from Keras 3's in ways handled here: ``batch_input_shape``
instead of ``batch_shape`` (on the InputLayer or on a Sequential's first layer), the model
class ``'Functional'`` or ``'Model'``, ``inbound_nodes`` as nested lists ``[[[layer, node,
tensor, kwargs], ...], ...]`` instead of ``{'args': [...], 'kwargs': {}}``, objects without
``module``, ``dtype`` as a plain string or a ``Policy`` dict, ``alpha`` for LeakyReLU's slope,
BatchNormalization's ``axis`` as a one-element list, ``__tuple__`` JSON values and
``VarianceScaling``'s old ``distribution='normal'``.
"""
from __future__ import annotations

import inspect

from .. import layers as layers_module
from ..layers.base import Layer
from .guards import fail
from .keras_config import _IGNORED_WHEN_OFF, _NEUTRAL, ConversionError, keras_layer_order, weight_paths

#: what a Keras model class may be called in a config
MODEL_CLASSES = {"Sequential": "Sequential", "Functional": "Model", "Model": "Model"}


class Parsed:
    """``model_class`` ('Sequential' or 'Model'), ``config`` (its from_config argument) and
    ``weight_layers``: [(weights group name, layer name)] in Keras' order of ``model.layers``."""

    def __init__(self, model_class, config, weight_layers):
        self.model_class, self.config, self.weight_layers = model_class, config, weight_layers


# ---- safety ---------------------------------------------------------------------------------
def _is_keras_module(module) -> bool:
    return module is None or module == "keras" or (isinstance(module, str) and module.startswith("keras."))


def check_safe(config, path) -> None:
    """Refuse Lambda layers, ``__lambda__`` objects and custom objects anywhere in ``config``."""
    lambdas, custom = [], []
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        stack.extend(item.values())
        class_name = item.get("class_name")
        if not isinstance(class_name, str):
            continue
        module, registered = item.get("module"), item.get("registered_name")
        if class_name in ("Lambda", "__lambda__"):
            inner = item.get("config")
            name = inner.get("name") if isinstance(inner, dict) else None
            lambdas.append(f"{class_name} {name!r}" if isinstance(name, str) else class_name)
        elif class_name == "function" and module == "builtins":
            continue  # how Keras names one of its own functions outside a layer: resolved by name
        elif not _is_keras_module(module) or registered not in (None, class_name, "function") and not (
            class_name == "function" and registered == item.get("config")
        ):
            custom.append(f"{class_name} (module {module!r}, registered_name {registered!r})")
    if lambdas:
        raise fail(
            path,
            f"it holds {', '.join(sorted(set(lambdas)))}: Python code stored in the file, which convolve "
            "never runs (Keras 3 refuses it too with safe_mode=True). "
            "Received: a Lambda layer or __lambda__ object",
        )
    if custom:
        raise fail(
            path,
            "it names custom objects, code defined outside Keras that convolve does not have and never "
            f"imports: {', '.join(sorted(set(custom)))}. Received: objects whose module is not keras.* or "
            "whose registered_name is not their class name",
        )


# ---- values ---------------------------------------------------------------------------------
def plain(value):
    """A config value as convolve's constructors take it: Keras' object dicts without ``module``
    and ``registered_name``, a DTypePolicy as its name, ``__numpy__``/``__tuple__`` as lists."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    class_name = value.get("class_name")
    if class_name in ("DTypePolicy", "Policy", "FloatDTypePolicy") and isinstance(value.get("config"), dict):
        return value["config"].get("name")
    if class_name == "__numpy__" and isinstance(value.get("config"), dict):
        return plain(value["config"].get("value"))
    if class_name in ("__tuple__", "TensorShape") and "items" in value:
        return plain(value["items"])
    if class_name is None:
        return {k: plain(v) for k, v in value.items()}
    config = value.get("config")
    if isinstance(config, dict):
        config = {k: plain(v) for k, v in config.items()
                  if not (k in ("input_axes", "output_axes") and v is None)}  # Keras 3.x initializers
        if class_name == "VarianceScaling" and config.get("distribution") == "normal":  # Keras 2.0
            config["distribution"] = "truncated_normal"
    else:
        config = plain(config)
    return {"class_name": class_name, "config": config}


def _accepted(cls) -> set:
    """The keyword arguments ``cls`` takes: its constructors' up the MRO to Layer's."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters) - {"self", "kwargs"}
        if klass is Layer:
            break
    if getattr(cls, "regularizable", False):
        names |= {"kernel_regularizer", "bias_regularizer"}
    return names


def _layer_kwargs(cls, class_name, config, path, name) -> dict:
    """The Keras layer config as ``cls``'s keyword arguments; Keras' keys that convolve lacks are
    dropped when they hold their neutral value, and refused otherwise."""
    config = {k: plain(v) for k, v in config.items()}
    if class_name == "LeakyReLU" and "alpha" in config:  # Keras 2's name for the slope
        config.setdefault("negative_slope", config.pop("alpha"))
    if (
        class_name == "BatchNormalization"
        and isinstance(config.get("axis"), list)
        and len(config["axis"]) == 1
    ):
        config["axis"] = config["axis"][0]  # tf.keras 2 wrote [3]
    if class_name.startswith(("DepthwiseConv", "SeparableConv")):
        depthwise = config.pop("depthwise_regularizer", None)
        pointwise = (
            config.pop("pointwise_regularizer", depthwise)
            if class_name.startswith("Separable")
            else depthwise
        )
        if depthwise != pointwise:
            raise fail(
                path,
                f"layer '{name}' ({class_name}) regularizes its depthwise and pointwise kernels differently; "
                "convolve has one kernel_regularizer for both. "
                f"Received: depthwise_regularizer={depthwise!r}, pointwise_regularizer={pointwise!r}",
            )
        config["kernel_regularizer"] = depthwise
    accepted, kwargs, problems = _accepted(cls), {}, []
    for key, value in config.items():
        if key in accepted:
            kwargs[key] = value
        elif value is None or (
            key in _NEUTRAL and value == _NEUTRAL[key] and type(value) is type(_NEUTRAL[key])
        ):
            continue
        elif key in _IGNORED_WHEN_OFF and not config.get(_IGNORED_WHEN_OFF[key]):
            continue
        else:
            problems.append(f"{key}={value!r}")
    if problems:
        raise fail(
            path,
            f"layer '{name}' ({class_name}) uses {', '.join(problems)}, which convolve's {class_name} does "
            "not have. Received: a Keras option convolve cannot reproduce",
        )
    return kwargs


def _input_kwargs(config, path, name) -> dict:
    config = {k: plain(v) for k, v in config.items()}
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is not None:
        if not isinstance(shape, list) or not shape:
            raise fail(path, f"InputLayer '{name}' has an invalid batch_shape. Received: {shape!r}")
        batch, shape = shape[0], shape[1:]
    else:
        shape, batch = config.get("shape"), config.get("batch_size")
    for key in ("sparse", "ragged", "optional"):
        if config.get(key):
            raise fail(path, f"InputLayer '{name}' is {key}; convolve's inputs are dense arrays. "
                             f"Received: {key}={config[key]!r}")
    return {
        "shape": shape,
        "batch_size": batch,
        "dtype": config.get("dtype"),
        "name": config.get("name", name),
    }


# ---- layers ---------------------------------------------------------------------------------
def _layer_dicts(entries, path) -> list:
    """[(class name, config, layer dict)] after checking every entry names a layer convolve has;
    the unknown ones are refused together."""
    if not isinstance(entries, list):
        raise fail(path, f"its model config's 'layers' must be a list. Received: {type(entries).__name__}")
    unknown, parsed = [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) or not isinstance(
                entry.get("config", {}), dict):
            raise fail(
                path,
                f"layer {i} of its model config is not {{'class_name': ..., 'config': {{...}}}}. "
                f"Received: {str(entry)[:120]}",
            )
        class_name = entry["class_name"]
        try:
            layers_module.get(class_name)
        except ValueError:
            name = entry.get("config", {}).get("name", entry.get("name"))
            unknown.append(f"{class_name} ({name!r})" if isinstance(name, str) else class_name)
            continue
        parsed.append((class_name, entry.get("config", {}), entry))
    if unknown:
        raise fail(
            path,
            f"convolve has no layer for {len(unknown)} of its layers: {', '.join(unknown)}. convolve loads "
            "Keras models made of the layers in convolve.layers. Received: those class names",
        )
    return parsed


def _convolve_layer(class_name, config, path, fallback_name) -> dict:
    name = config.get("name", fallback_name)
    if class_name == "InputLayer":
        return {"class_name": "InputLayer", "config": _input_kwargs(config, path, name)}
    cls = layers_module.get(class_name)
    return {"class_name": class_name, "config": _layer_kwargs(cls, class_name, config, path, name)}


def _ref(value, path, where):
    """[layer name, node index] from a Keras tensor reference (a '__keras_tensor__' dict or a
    [layer, node, tensor(, kwargs)] list)."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        value = (value.get("config") or {}).get("keras_history")
    if (isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str)
            and isinstance(value[1], int) and isinstance(value[2], int)):
        if value[2] != 0:
            raise fail(
                path,
                f"{where} reads output {value[2]} of layer '{value[0]}'; convolve's layers have one "
                f"output. Received: {value[:3]!r}",
            )
        return [value[0], value[1], 0]
    raise fail(path, f"{where} has an invalid tensor reference. Received: {str(value)[:120]}")


def _node_refs(node, path, name) -> list:
    """The refs one call reads (Keras 3's {'args', 'kwargs'} or Keras 2's nested list)."""
    where = f"layer '{name}'"
    if isinstance(node, dict):
        args, kwargs = node.get("args"), node.get("kwargs") or {}
        if not isinstance(args, list) or len(args) != 1:
            raise fail(path, f"{where} is called with {len(args) if isinstance(args, list) else 'invalid'} "
                             f"positional arguments; convolve's layers take one (a tensor or a list). "
                             f"Received: {str(args)[:120]}")
        extra = {k: v for k, v in kwargs.items() if v is not None} if isinstance(kwargs, dict) else kwargs
        if extra:
            raise fail(path, f"{where} is called with keyword arguments convolve's layers do not take. "
                             f"Received: {str(extra)[:120]}")
        first = args[0]
        refs = [_ref(t, path, where) for t in first] if isinstance(first, list) and first and not isinstance(
            first[0], str) else [_ref(first, path, where)]
        return refs
    if isinstance(node, list):  # Keras 2: [[layer, node, tensor, kwargs], ...]
        return [_ref(t, path, where) for t in node]
    raise fail(path, f"{where} has an invalid inbound node. Received: {str(node)[:120]}")


def _model_refs(value, path, what, legacy_unwrap):
    if isinstance(value, list) and value and isinstance(value[0], str):
        return _ref(value, path, f"its {what}")
    if isinstance(value, list) and value:
        refs = [_ref(v, path, f"its {what}") for v in value]
        return refs[0] if legacy_unwrap and len(refs) == 1 else refs
    raise fail(path, f"its model config's {what} must be a tensor reference or a list of them. "
                     f"Received: {str(value)[:120]}")


def _sequential(config, path) -> Parsed:
    entries = config if isinstance(config, list) else config.get("layers")  # Keras <= 2.2: a bare list
    items = _layer_dicts(entries, path)
    shape = None if isinstance(config, list) else config.get("build_input_shape")
    layers = []
    for i, (class_name, layer_config, _) in enumerate(items):
        if class_name == "InputLayer":
            if layers:
                raise fail(path, "its Sequential model has an InputLayer after other layers. "
                                 f"Received: layer {i}")
            kwargs = _input_kwargs(layer_config, path, layer_config.get("name", "input"))
            shape = [kwargs["batch_size"], *kwargs["shape"]] if kwargs["shape"] is not None else shape
            continue
        if not layers:  # Keras 2: the first layer's batch_input_shape made the input
            layer_config = dict(layer_config)
            given = layer_config.pop("batch_input_shape", layer_config.pop("batch_shape", None))
            shape = given if given is not None else shape
        layers.append(_convolve_layer(class_name, layer_config, path, f"layer_{i}"))
    name = config.get("name", "sequential") if isinstance(config, dict) else "sequential"
    paths = weight_paths(layer["class_name"] for layer in layers)
    weight_layers = [(p, layer["config"].get("name")) for p, layer in zip(paths, layers)]
    return Parsed("Sequential", {"name": name, "input_shape": shape, "layers": layers}, weight_layers)


def _functional(config, path, legacy) -> Parsed:
    items = _layer_dicts(config.get("layers"), path)
    layers, parents, names = [], {}, []
    for i, (class_name, layer_config, entry) in enumerate(items):
        converted = _convolve_layer(class_name, layer_config, path, f"layer_{i}")
        name = entry.get("name", converted["config"].get("name"))
        if not isinstance(name, str):
            raise fail(path, f"layer {i} of its model config has no name. Received: {str(entry)[:120]}")
        converted["config"]["name"] = name
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise fail(path, f"layer '{name}' has invalid inbound_nodes. Received: {str(nodes)[:120]}")
        converted["name"] = name
        converted["inbound_nodes"] = [_node_refs(node, path, name) for node in nodes]
        for k, refs in enumerate(converted["inbound_nodes"]):
            parents[(name, k)] = [(r[0], r[1]) for r in refs]
        layers.append(converted)
        names.append(name)
    inputs = _model_refs(config.get("input_layers"), path, "input_layers", legacy)
    outputs = _model_refs(config.get("output_layers"), path, "output_layers", legacy)

    def keys(refs):
        return [(refs[0], refs[1])] if isinstance(refs[0], str) else [(r[0], r[1]) for r in refs]

    try:
        order = keras_layer_order(names, parents, keys(outputs), keys(inputs))
    except ConversionError as error:
        raise fail(path, str(error)) from None
    classes = {layer["name"]: layer["class_name"] for layer in layers}
    weight_layers = list(zip(weight_paths(classes[n] for n in order), order))
    converted = {"name": config.get("name", "functional"), "trainable": config.get("trainable", True),
                 "layers": layers, "input_layers": inputs, "output_layers": outputs}
    return Parsed("Model", converted, weight_layers)


def parse_model(model_config, path, legacy=False) -> Parsed:
    """The convolve model a Keras model config describes (after ``check_safe``)."""
    check_safe(model_config, path)
    if not isinstance(model_config, dict) or not isinstance(model_config.get("class_name"), str):
        raise fail(path, "its model config is not {'class_name': ..., 'config': {...}}. "
                         f"Received: {str(model_config)[:120]}")
    class_name, config = model_config["class_name"], model_config.get("config")
    if class_name not in MODEL_CLASSES:
        raise fail(path, f"convolve loads Sequential and Functional Keras models. Received: a {class_name!r} "
                         "model (a subclassed model's Python code is not in the file)")
    if MODEL_CLASSES[class_name] == "Sequential":
        if not isinstance(config, (dict, list)):
            raise fail(path, f"its Sequential config is invalid. Received: {str(config)[:120]}")
        return _sequential(config, path)
    if not isinstance(config, dict):
        raise fail(path, f"its Functional config is invalid. Received: {str(config)[:120]}")
    return _functional(config, path, legacy)
