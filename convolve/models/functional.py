"""Model: Keras' functional API, a graph of layer calls from ``Input``s to outputs.

    x = Input((32, 32, 3))
    h = Conv2D(16, 3, padding="same", activation="relu")(x)
    h = Conv2D(3, 3, padding="same")(h)
    y = Dense(10, activation="softmax")(GlobalAveragePooling2D()(Add()([x, h])))
    model = Model(x, y)            # or Model([x1, x2], [y1, y2])

Calling layers on symbolic tensors (``convolve/layers/symbolic.py``) builds them and links
each output ``KerasTensor`` to its layer and its input tensors; nothing is computed. The
model walks those links back from its outputs once, at construction, and keeps the calls
("nodes") in topological order: each node after the nodes it reads. ``model(x)`` runs the
nodes in that order, keeping each intermediate value only until its last reader has run.

A layer called twice (a shared layer) is one layer with two nodes; its weights appear
once in ``weights`` and get the gradient of both uses. In messages and configs a node is
named as Keras does: ``conv2d[1][0]`` is the output of the second call of ``conv2d``
within this model.

``Sequential`` (``sequential.py``) is a subclass: once it knows its input shape it is this
same graph, a chain of one call per layer. Saving and loading go through
``convolve.saving``, which finds this class by name (``@register_model_class``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import autograd, saving
from ..autograd import Tensor
from ..backend import as_float_array
from ..data.adapters import OutOfData, adapt, is_batch_source, source_name
from ..layers.base import InputLayer, SymbolicInput, format_shape, unique_name
from ..layers.symbolic import KerasTensor
from ..ops.args import check_int
from ..ops.shapes import receptive_field_step
from ..saving import register_model_class
from .progress import Progbar
from .summary import axes_text, print_summary
from .training import TrainingMixin
from .weights import LayerWeightsMixin


class _Inputs:
    """Several input arrays that fit/evaluate slice together: ``x[idx]`` slices each array,
    ``len(x)`` is the number of samples (TrainingMixin treats x as one array)."""

    def __init__(self, arrays):
        self.arrays = list(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return _Inputs([a[index] for a in self.arrays])


@register_model_class
class Model(LayerWeightsMixin, TrainingMixin):
    """A model defined by its inputs and outputs: ``Model(inputs, outputs, name=None)``.

    ``inputs``: a tensor returned by ``Input(shape)`` or a list of them; ``outputs``: a
    symbolic tensor computed from them, or a list. Calling, ``predict`` and ``fit`` take
    (and return) one array for one input (output), a list for a list.
    """

    #: summary() shows which tensors each layer reads (Sequential's chain needs no such column)
    _summary_connections = True

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        self._init_model(name if name is not None else unique_name("functional"), trainable)
        if inputs is None or outputs is None:
            raise TypeError(
                f"{self.where}: the functional API needs inputs and outputs: Model(inputs, outputs), where "
                "inputs come from Input(shape). Received: "
                f"inputs={'None' if inputs is None else 'given'}, "
                f"outputs={'None' if outputs is None else 'given'}"
            )
        self._init_graph(inputs, outputs)

    def _init_model(self, name, trainable) -> None:
        """What every model has before it has a graph: a name and no training configuration."""
        self.name = name
        self.trainable = trainable
        self.built = False
        self.compiled = False
        self.optimizer = self.loss = None
        self.compiled_metrics = []
        self.stop_training = False

    def _init_graph(self, inputs, outputs) -> None:
        """Take the graph from ``inputs`` to ``outputs``: its nodes in order, its layers, and
        when each intermediate value can be let go."""
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self._inputs = self._tensors(inputs, "inputs")
        self._outputs = self._tensors(outputs, "outputs")
        for i, t in enumerate(self._inputs):
            if not isinstance(t, SymbolicInput):
                raise ValueError(
                    f"{self.where}: every input must be a tensor returned by Input(shape). "
                    f"Received: inputs[{i}]={t!r}"
                )
            if any(t is other for other in self._inputs[:i]):
                raise ValueError(
                    f"{self.where}: the same Input appears twice in inputs. Received: inputs[{i}]={t!r}"
                )
        self._nodes = self._topological_nodes()

        # layers: the inputs', then each other layer at its first call
        self._layers = [t.layer for t in self._inputs]
        for node in self._nodes:
            if not any(node.layer is layer for layer in self._layers):
                self._layers.append(node.layer)
        names = [layer.name for layer in self._layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(
                    f"{self.where}: all layers must have unique names. Received: two layers named {name!r}"
                )
        # Keras' node indices, counted within this model: conv2d[1][0] is conv2d's second call
        self._node_index = {id(t): 0 for t in self._inputs}
        calls = {}
        for node in self._nodes:
            self._node_index[id(node)] = calls.get(id(node.layer), 0)
            calls[id(node.layer)] = self._node_index[id(node)] + 1
        # free each intermediate value once its last reader has run
        last = {}
        for k, node in enumerate(self._nodes):
            for t in node.inputs:
                last[id(t)] = k
        kept = {id(t) for t in self._outputs}
        self._release = [[] for _ in self._nodes]
        for key, k in last.items():
            if key not in kept:
                self._release[k].append(key)
        self.built = True

    def _tensors(self, value, what) -> list:
        items = [value] if isinstance(value, KerasTensor) else value
        if (
            not isinstance(items, (list, tuple))
            or not items
            or not all(isinstance(t, KerasTensor) for t in items)
        ):
            raise TypeError(
                f"{self.where}: {what} must be a symbolic tensor (from Input(shape) or a layer called on "
                f"one) or a non-empty list of them. Received: {what}={value!r}"
            )
        return list(items)

    def _topological_nodes(self) -> list:
        """Every layer call between the inputs and the outputs, each after those it reads."""
        done = {id(t) for t in self._inputs}
        visiting = set()
        order = []
        for output in self._outputs:
            stack = [(output, False)]
            while stack:
                tensor, expanded = stack.pop()
                if expanded:
                    done.add(id(tensor))
                    order.append(tensor)
                    continue
                if id(tensor) in done or id(tensor) in visiting:
                    continue
                if not tensor.inputs:  # a graph source that is not among the inputs
                    raise ValueError(
                        f"{self.where}: the graph is disconnected: the outputs depend on {tensor!r}, which "
                        f"is not among the model's inputs. Received: inputs={[t.name for t in self._inputs]}"
                    )
                visiting.add(id(tensor))
                stack.append((tensor, True))
                for parent in reversed(tensor.inputs):
                    if id(parent) not in done:
                        stack.append((parent, False))
        return order

    # ---- structure -------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"Model '{self.name}'"

    @property
    def layers(self) -> list:
        """Every layer once, InputLayers first, then in the order of their first call."""
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by ``index`` into ``layers``."""
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self.where}: no layer named {name!r}. Layers: {[layer.name for layer in layers]}")

    @property
    def inputs(self) -> list:
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        return list(self._outputs)

    @property
    def input(self):
        return self._inputs[0] if self._single_input else list(self._inputs)

    @property
    def output(self):
        return self._outputs[0] if self._single_output else list(self._outputs)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if self._single_input else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes[0] if self._single_output else shapes

    def _ref(self, tensor) -> list:
        """Keras' name for a tensor of the graph: [layer name, node index, tensor index]."""
        return [tensor.layer.name, self._node_index[id(tensor)], 0]

    # ---- shapes ----------------------------------------------------------------------
    def build(self, input_shape=None) -> None:
        """A functional model is built when it is made; a given shape is only checked."""
        if input_shape is not None:
            shapes = [input_shape] if self._single_input else list(input_shape)
            self._propagate_shapes([tuple(s) for s in shapes])

    def _propagate_shapes(self, input_shapes) -> dict:
        """Check every layer against inputs of ``input_shapes``; {id(tensor): shape}."""
        shapes = {id(t): tuple(s) for t, s in zip(self._inputs, input_shapes)}
        for node in self._nodes:
            args = [shapes[id(t)] for t in node.inputs]
            arg = args[0] if len(args) == 1 else args
            node.layer.check_input_shape(arg)
            shapes[id(node)] = tuple(node.layer.compute_output_shape(arg))
        return shapes

    # ---- calling ---------------------------------------------------------------------
    def _standardize(self, inputs, where, arrays_only=False) -> list:
        """One value per model input (arrays cast to the Input's dtype), shapes checked."""
        n = len(self._inputs)
        if isinstance(inputs, _Inputs):
            inputs = inputs.arrays
        if n == 1:
            if (isinstance(inputs, (list, tuple)) and len(inputs) == 1
                    and isinstance(inputs[0], (np.ndarray, Tensor, KerasTensor))):
                inputs = inputs[0]
            items = [inputs]
        elif isinstance(inputs, dict):
            missing = [t.name for t in self._inputs if t.name not in inputs]
            if missing:
                raise ValueError(
                    f"{where}: no value for the inputs {missing}. Received: a dict with keys {sorted(inputs)}"
                )
            items = [inputs[t.name] for t in self._inputs]
        elif isinstance(inputs, (list, tuple)) and len(inputs) == n:
            items = list(inputs)
        else:
            got = (
                f"a list of {len(inputs)}"
                if isinstance(inputs, (list, tuple))
                else f"one {type(inputs).__name__}"
            )
            raise ValueError(
                f"{where}: the model has {n} inputs ({', '.join(t.name for t in self._inputs)}); pass a list "
                f"of {n} arrays (or a dict by input name). Received: {got}"
            )
        values = []
        for i, (tensor, x) in enumerate(zip(self._inputs, items)):
            name = "x" if n == 1 else f"x[{i}]"
            if arrays_only or not isinstance(x, (Tensor, KerasTensor)):
                x = as_float_array(x, dtype=tensor.dtype, where=where, name=name)
            want, got = tensor.shape, tuple(x.shape)
            if len(want) != len(got) or any(
                w is not None and g is not None and w != g for w, g in zip(want, got)
            ):
                raise ValueError(
                    f"{where}: input '{tensor.name}' expects shape {format_shape(want)} (None: any size). "
                    f"Received: {name} with shape {format_shape(got)}"
                )
            values.append(x)
        return values

    def _run(self, values, training):
        """Run every node in order; the outputs' values, as a list."""
        known = {id(t): v for t, v in zip(self._inputs, values)}
        for node, release in zip(self._nodes, self._release):
            args = [known[id(t)] for t in node.inputs]
            known[id(node)] = node.layer(args[0] if len(args) == 1 else args, training=training)
            for key in release:
                del known[key]
        return [known[id(t)] for t in self._outputs]

    def _build_for(self, x, where) -> None:
        """Build for data ``x`` if not built yet: a functional Model is built when made
        (Sequential overrides this to build from its first data)."""

    def __call__(self, inputs, training=False):
        """The outputs for ``inputs`` (arrays, recorded Tensors inside a GradientTape, or
        symbolic tensors, which call the same layers again: a model used inside another)."""
        self._build_for(inputs, self.where)
        outputs = self._run(self._standardize(inputs, self.where), training)
        return outputs[0] if self._single_output else outputs

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x`` in batches of ``batch_size`` (default 32), as NumPy arrays; nothing
        is recorded. ``steps``: at most this many batches (default: all of ``x``). Empty ``x``
        (0 samples) gives empty outputs of the right shape, ``(0, ...)``.

        ``x`` may also be a source of batches (a ``convolve.data.Dataset``, a ``PyDataset``, a
        generator): each batch's inputs (``x`` or the first item of ``(x, y)``) are predicted
        and the outputs concatenated; ``batch_size`` is then the source's own.

        ``verbose``: 'auto' or 1 shows a progress bar, 0 is silent.
        """
        where = f"{self.where}.predict"
        steps = check_int(steps, "steps", where, none_ok=True)
        if is_batch_source(x):
            if batch_size is not None:
                raise ValueError(
                    f"{where}: when x is {source_name(x)} its batches have their own size; pass no "
                    f"batch_size. Received: batch_size={batch_size!r}"
                )
            return self._predict_batches(adapt(x, steps=steps, where=where), where, verbose)
        batch_size = check_int(batch_size, "batch_size", where, none_ok=True) or 32
        self._build_for(x, where)
        xs = self._standardize(x, where, arrays_only=True)
        if any(a.ndim == 0 for a in xs):
            raise ValueError(f"{where}: expected a batch of inputs. Received: a scalar")
        lengths = [len(a) for a in xs]
        if len(set(lengths)) > 1:
            raise ValueError(
                f"{where}: all inputs must have the same number of samples. Received: lengths {lengths}"
            )
        shapes = self._propagate_shapes([(None, *a.shape[1:]) for a in xs])  # every layer checked first
        total = (
            math.ceil(lengths[0] / batch_size)
            if steps is None
            else min(steps, math.ceil(lengths[0] / batch_size))
        )
        if total == 0:  # no samples: nothing to compute, the outputs' shapes are known
            outputs = [np.empty((0, *shapes[id(t)][1:]), dtype=t.dtype) for t in self._outputs]
            return outputs[0] if self._single_output else outputs
        bar = Progbar(total) if verbose in ("auto", 1, True) else None
        batches = []
        with autograd.no_record():
            for step in range(total):
                sl = slice(step * batch_size, (step + 1) * batch_size)
                batches.append(self._run([a[sl] for a in xs], training=False))
                if bar:
                    bar.update(step + 1)
        outputs = [np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0] for parts in zip(*batches)]
        return outputs[0] if self._single_output else outputs

    def _predict_batches(self, source, where, verbose):
        """``predict`` over the batches of a Dataset, PyDataset or generator."""
        bar = Progbar(source.steps) if verbose in ("auto", 1, True) else None
        batches = []
        try:
            with autograd.no_record():
                for step, (xb, _, _) in enumerate(source.epoch()):
                    try:
                        self._build_for(xb, where)
                        xs = self._standardize(xb, where, arrays_only=True)
                        self._propagate_shapes([(None, *a.shape[1:]) for a in xs])
                    except (ValueError, TypeError) as error:
                        raise type(error)(f"{error} (in batch {step} of the data)") from None
                    batches.append(self._run(xs, training=False))
                    if bar:
                        bar.update(step + 1)
        except OutOfData as reason:
            raise ValueError(f"{where}: the data ran out: {reason}") from None
        source.end_epoch()
        if bar:
            bar.done()
        outputs = [np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0] for parts in zip(*batches)]
        return outputs[0] if self._single_output else outputs

    # ---- training (TrainingMixin's hooks) ----------------------------------------------
    def _check_data(self, x, y, sample_weight, what):
        if x is not None:
            self._build_for(x, f"{self.where}.{what}")
        if not self._single_output:
            raise ValueError(
                f"{self.where}.{what}: training and evaluation support models with one output. "
                f"Received: a model with {len(self._outputs)} outputs "
                f"({', '.join(t.name for t in self._outputs)})"
            )
        if x is None:
            return super()._check_data(x, y, sample_weight, what)
        xs = self._standardize(x, f"{self.where}.{what}", arrays_only=True)
        first, y, sample_weight = super()._check_data(xs[0], y, sample_weight, what)
        for i, a in enumerate(xs[1:], start=1):
            if len(a) != len(first):
                raise ValueError(
                    f"{self.where}.{what}: all inputs must have the same number of samples. "
                    f"Received: len(x[0])={len(first)}, len(x[{i}])={len(a)}"
                )
        return (first if len(xs) == 1 else _Inputs(xs)), y, sample_weight

    # ---- configuration -------------------------------------------------------------------
    def get_config(self) -> dict:
        """The graph as JSON-ready data (Keras 2's functional layout): each layer's config with
        ``inbound_nodes``, one list per call of [layer name, node index, tensor index] refs;
        ``input_layers``/``output_layers`` as refs (one ref, or a list for a list)."""
        from .. import layers as layers_module

        calls = {id(layer): [] for layer in self._layers}
        for node in self._nodes:
            calls[id(node.layer)].append(node)
        layers = []
        for layer in self._layers:
            data = layers_module.serialize(layer)
            data["name"] = layer.name
            data["inbound_nodes"] = [[self._ref(t) for t in node.inputs] for node in calls[id(layer)]]
            layers.append(data)
        refs_in = [self._ref(t) for t in self._inputs]
        refs_out = [self._ref(t) for t in self._outputs]
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layers,
            "input_layers": refs_in[0] if self._single_input else refs_in,
            "output_layers": refs_out[0] if self._single_output else refs_out,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild the graph: make every layer, then call each on its inbound tensors as soon
        as they exist (a layer's calls in their node order)."""
        from .. import layers as layers_module

        tensors = {}  # (layer name, node index) -> KerasTensor
        pending = []  # [layer, inbound nodes, calls made]
        for data in config["layers"]:
            layer = layers_module.deserialize({"class_name": data["class_name"], "config": data["config"]})
            if isinstance(layer, InputLayer):
                tensors[(layer.name, 0)] = SymbolicInput(layer)
            else:
                pending.append([layer, list(data.get("inbound_nodes", [])), 0])

        def lookup(ref):
            if not (
                isinstance(ref, (list, tuple))
                and len(ref) >= 2
                and isinstance(ref[0], str)
                and isinstance(ref[1], int)
            ):
                raise ValueError(
                    "Model.from_config: a tensor reference must be [layer name, node index, 0]. "
                    f"Received: {ref!r}"
                )
            return tensors.get((ref[0], ref[1]))

        while any(entry[2] < len(entry[1]) for entry in pending):
            progressed = False
            for entry in pending:
                layer, nodes, made = entry
                while made < len(nodes):
                    args = [lookup(ref) for ref in nodes[made]]
                    if any(a is None for a in args):
                        break
                    tensors[(layer.name, made)] = layer(args[0] if len(args) == 1 else args)
                    made += 1
                    progressed = True
                entry[2] = made
            if not progressed:
                made_somewhere = set(tensors) | {(e[0].name, i) for e in pending for i in range(len(e[1]))}
                stuck = [(e[0].name, ref) for e in pending if e[2] < len(e[1]) for ref in e[1][e[2]]
                         if (ref[0], ref[1]) not in made_somewhere]
                raise ValueError(
                    "Model.from_config: the graph cannot be rebuilt: "
                    + (
                        f"these calls read tensors that no layer in the config makes. Received: {stuck}"
                        if stuck
                        else "the remaining calls wait on each other (a cycle). Received: "
                        + str([(e[0].name, e[1][e[2]]) for e in pending if e[2] < len(e[1])])
                    )
                )

        def resolve(refs):
            if refs and isinstance(refs[0], str):  # one ref: a single input/output
                found = lookup(refs)
                if found is None:
                    raise ValueError(f"Model.from_config: no tensor {refs!r} in the graph")
                return found
            return [resolve(ref) for ref in refs]

        return cls(resolve(config["input_layers"]), resolve(config["output_layers"]),
                   name=config.get("name"), trainable=config.get("trainable", True))

    # ---- summary ---------------------------------------------------------------------
    def summary_rows(self) -> list:
        """One dict per layer: name, type, input shape (of its first call: one shape, a list
        for a merge, None for an InputLayer), output shape, params, receptive field, jump and
        connected_to (Keras' ``name[node][tensor]`` for each tensor its calls read).

        A shared layer whose calls differ gets a list of output shapes and no receptive field.
        Where branches merge, the field is the widest branch's when their jumps agree (exact
        when the branches' windows are nested, as with 'same' padding and odd kernels, and
        for an identity shortcut), and untracked ('-') when the jumps differ.
        """
        fields = {}
        for t in self._inputs:
            n = len(t.shape) - 2
            fields[id(t)] = ((1,) * n, (1,) * n) if n > 0 else None
        for node in self._nodes:
            fields[id(node)] = _field_after(node.layer, _merge_fields([fields[id(t)] for t in node.inputs]))
        made_by = {id(layer): [] for layer in self._layers}
        for t in self._inputs + self._nodes:
            made_by[id(t.layer)].append(t)
        rows = []
        for layer in self.layers:
            made = made_by[id(layer)]
            shapes = [t.shape for t in made]
            field_jumps = [fields[id(t)] for t in made]
            same_field = all(f == field_jumps[0] for f in field_jumps) and field_jumps[0] is not None
            reads = [t.shape for t in made[0].inputs]
            rows.append(
                {
                    "name": layer.name,
                    "type": type(layer).__name__,
                    "input_shape": (reads[0] if len(reads) == 1 else reads) if reads else None,
                    "output_shape": shapes[0] if all(s == shapes[0] for s in shapes) else shapes,
                    "params": layer.count_params(),
                    "receptive_field": field_jumps[0][0] if same_field else None,
                    "jump": field_jumps[0][1] if same_field else None,
                    "connected_to": [
                        "{}[{}][{}]".format(*self._ref(p)) for t in made for p in t.inputs
                    ],
                }
            )
        return rows

    def summary(self, line_length=None, print_fn=None):
        """Print each layer's output shape, parameter count, receptive field, jump and the
        tensors it reads ("Connected to"; not for a Sequential), then the totals.

        Receptive field: how many input pixels (per spatial axis) one output position sees;
        jump: how many input pixels apart two neighbouring outputs are; '-' once a layer mixes
        all positions, or where merged branches have different jumps (see ``summary_rows``).
        """
        def shape_text(shape):
            return "?" if shape is None else "multiple" if isinstance(shape, list) else format_shape(shape)

        header = ("Layer (type)", "Output Shape", "Param #", "Receptive field", "Jump")
        connections = self._summary_connections
        table = [header + ("Connected to",) if connections else header]
        for r in self.summary_rows():
            row = (
                f"{r['name']} ({r['type']})", shape_text(r["output_shape"]), f"{r['params']:,}",
                axes_text(r["receptive_field"]), axes_text(r["jump"]),
            )
            table.append(row + (", ".join(r["connected_to"]) or "-",) if connections else row)
        print_summary(self, table, print_fn, line_length)

    # ---- files (convolve.saving picks the format from the suffix) ------------------------
    def save(self, filepath, overwrite=True):
        """Save the architecture, weights, compile settings and optimizer state
        (``convolve.saving.save_model``; ``.safetensors``)."""
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save only the weights (``convolve.saving.save_weights``)."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by ``save_weights`` or ``save`` (``convolve.saving.load_weights``)."""
        saving.load_weights(self, filepath)

    def export(self, filepath, format="onnx", verbose=True, **kwargs):
        """Write the model for inference elsewhere, as Keras 3's ``export``: ``format="onnx"``
        (the one format convolve exports) gives an ONNX graph that ONNX Runtime runs
        (``convolve.saving.export_model``; needs ``pip install "convolve[onnx]"``)."""
        saving.export_model(self, filepath, format=format, **kwargs)
        if verbose:
            print(f"Saved the model as ONNX to '{filepath}'.")


def _merge_fields(fields):
    """(field, jump) where branches meet: the widest field if the jumps agree, else None."""
    if len(fields) == 1 or any(f is None for f in fields):
        return fields[0] if len(fields) == 1 else None
    jumps = {jump for _, jump in fields}
    if len(jumps) > 1 or len({len(field) for field, _ in fields}) > 1:
        return None
    return tuple(max(axis) for axis in zip(*(field for field, _ in fields))), jumps.pop()


def _field_after(layer, field_jump):
    """(field, jump) after ``layer`` (``ops.shapes.receptive_field_step`` with the layer's
    ``FieldStep``); None once untracked."""
    step = layer.receptive_field()
    if field_jump is None or step is None:
        return None
    return receptive_field_step(*field_jump, *step)
