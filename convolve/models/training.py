"""The training loop: compile, fit, evaluate, train_on_batch, test_on_batch (Keras' signatures).

One training step, in full:

    with GradientTape() as tape:                       # record the forward pass
        y_pred = model(x, training=True)
    loss, dloss = loss.value_and_grad(y, y_pred)        # dL/dy_pred, from convolve.losses
    grads = tape.gradient(y_pred, weights, dloss)       # each op's hand-written backward
    optimizer.apply(grads, weights)                     # in place

A final softmax followed by a cross-entropy loss is fused: the gradient with respect to the
logits is simply (softmax - onehot) / N, which is exact and never divides by a tiny
probability. Everything else follows Keras 3: 'sum_over_batch_size' losses, metrics
averaged over the epoch weighted by batch size, validation on the last fraction of the data.
"""
from __future__ import annotations

import math
import sys
import time
import warnings

import numpy as np

from .. import autograd
from .. import callbacks as callbacks_module
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..backend import as_float_array
from ..data.adapters import ArrayBatches, OutOfData, adapt, is_batch_source, source_name
from ..ops.args import check_int
from .progress import Progbar

_FUSABLE = ("CategoricalCrossentropy", "SparseCategoricalCrossentropy")


class TrainingMixin:
    """compile/fit/evaluate for any model with ``__call__``, ``trainable_weights`` and ``layers``."""

    # ---- configuration ---------------------------------------------------------------
    def compile(
        self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None, **kwargs
    ):
        """Choose the optimizer, the loss and the metrics (names or objects, as in Keras)."""
        unknown = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"}
        if unknown:
            raise TypeError(f"{self.where}.compile: unrecognized keyword argument(s) {sorted(unknown)}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = None if loss is None else losses_module.get(loss)
        self._metric_identifiers = list(metrics or [])
        self.compiled_metrics = [metrics_module.get(m, loss=self.loss) for m in self._metric_identifiers]
        self.compiled = True
        self.stop_training = False

    def get_compile_config(self) -> dict | None:
        if not getattr(self, "compiled", False):
            return None
        return {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": None if self.loss is None else losses_module.serialize(self.loss),
            "metrics": [
                m if isinstance(m, str) else metrics_module.serialize(m) for m in self._metric_identifiers
            ],
        }

    def compile_from_config(self, config) -> None:
        self.compile(
            optimizer=optimizers_module.get(config["optimizer"]),
            loss=None if config["loss"] is None else losses_module.get(config["loss"]),
            metrics=[m if isinstance(m, str) else metrics_module.get(m) for m in config["metrics"]],
        )

    def _require_compiled(self, what):
        if not getattr(self, "compiled", False) or self.loss is None:
            raise RuntimeError(
                f"{self.where}: call compile(optimizer, loss, metrics) before {what}(). "
                "Received: a model that is "
                f"{'compiled without a loss' if getattr(self, 'compiled', False) else 'not compiled'}"
            )

    # ---- one step ----------------------------------------------------------------------
    def _losses_and_grads(self, x, y, sample_weight, training):
        """Forward (recorded when training), loss value, and dL/dweights when training."""
        if not training:
            y_pred = self(x, training=False)
            return float(self.loss(y, y_pred, sample_weight)), y_pred, None
        with autograd.GradientTape() as tape:
            out = self(x, training=True)
        target = out
        if (
            isinstance(out, autograd.Tensor) and out.op == "softmax" and type(self.loss).__name__ in _FUSABLE
            and not getattr(self.loss, "from_logits", False) and out.parents[0] is not None
        ):
            target = out.parents[0]  # the logits
            sparse = type(self.loss).__name__ == "SparseCategoricalCrossentropy"
            value, grad = losses_module.softmax_cross_entropy_with_logits(
                y, target.value, sparse, sample_weight,
                label_smoothing=getattr(self.loss, "label_smoothing", 0.0),
                ignore_class=getattr(self.loss, "ignore_class", None), reduction=self.loss.reduction,
            )
        else:
            value, grad = self.loss.value_and_grad(y, autograd.value(out), sample_weight)
        weights = self.trainable_weights
        if isinstance(target, autograd.Tensor):
            grads = tape.gradient(target, weights, output_gradient=np.asarray(grad, dtype=target.dtype))
        else:
            grads = [None] * len(weights)
        penalty = 0.0
        for layer in self.layers:
            for var, reg in getattr(layer, "regularized_weights", lambda: [])():
                penalty += float(reg(var.value))
                if var.trainable:
                    i = next(i for i, w in enumerate(weights) if w is var)
                    extra = reg.gradient(var.value).astype(var.value.dtype, copy=False)
                    grads[i] = extra if grads[i] is None else grads[i] + extra
        return float(value) + penalty, autograd.value(out), grads

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns the loss (and metrics) on that batch."""
        self._require_compiled("train_on_batch")
        x, y, sample_weight = self._check_data(x, y, sample_weight, "train_on_batch")
        sample_weight = _apply_class_weight(y, sample_weight, class_weight, f"{self.where}.train_on_batch")
        self._reset_metrics()
        logs = self._step(x, y, sample_weight, training=True)
        return logs if return_dict else _as_list(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sample_weight = self._check_data(x, y, sample_weight, "test_on_batch")
        self._reset_metrics()
        logs = self._step(x, y, sample_weight, training=False)
        return logs if return_dict else _as_list(logs)

    def _step(self, x, y, sample_weight, training, tracker=None):
        if not self.built:
            self.build((None, *x.shape[1:]))
        loss, y_pred, grads = self._losses_and_grads(x, y, sample_weight, training)
        if training:
            self.optimizer.apply(grads, self.trainable_weights)
        tracker = tracker or metrics_module.Mean(name="loss")
        tracker.update_state(loss, sample_weight=len(x))
        for metric in self.compiled_metrics:
            metric.update_state(y, y_pred, sample_weight)
        logs = {"loss": tracker.result()}
        logs.update({m.name: m.result() for m in self.compiled_metrics})
        return logs

    def _reset_metrics(self):
        for metric in self.compiled_metrics:
            metric.reset_state()

    # ---- data ----------------------------------------------------------------------------
    def _check_data(self, x, y, sample_weight, what):
        where = f"{self.where}.{what}"
        if x is None or y is None:
            raise ValueError(
                f"{where}: expected arrays x and y. Received: x={type(x).__name__}, y={type(y).__name__}"
            )
        x = as_float_array(x, where=where, name="x")
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{where}: expected numeric targets y. Received: y with dtype={y.dtype}")
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(
                f"{where}: x and y must be batches of samples. Received: x.shape={x.shape}, y.shape={y.shape}"
            )
        if len(x) != len(y):
            raise ValueError(
                f"{where}: x and y must have the same number of samples. "
                f"Received: len(x)={len(x)}, len(y)={len(y)}"
            )
        if len(x) == 0:
            raise ValueError(
                f"{where}: there is no data: x and y hold 0 samples. Received: x.shape={x.shape}"
            )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=x.dtype)
            if sample_weight.shape != (len(x),):
                raise ValueError(
                    f"{where}: sample_weight must have one weight per sample, shape ({len(x)},). "
                    f"Received: sample_weight.shape={sample_weight.shape}"
                )
            _check_weights(sample_weight, "sample_weight", where)
        return x, y, sample_weight

    # ---- batches from any source -------------------------------------------------------------
    def _batches(
        self, x, y, sample_weight, *, batch_size, steps, shuffle, class_weight, what, default_batch=32
    ):
        """(batches, source) for ``x``: arrays checked whole and sliced (class weights applied
        once), or a Dataset/generator/PyDataset whose batches are checked one by one."""
        where = f"{self.where}.{what}"
        if not is_batch_source(x):
            batch_size = check_int(default_batch if batch_size is None else batch_size, "batch_size", where)
            x, y, sample_weight = self._check_data(x, y, sample_weight, what)
            sample_weight = _apply_class_weight(y, sample_weight, class_weight, where)
            return ArrayBatches(x, y, sample_weight, batch_size, shuffle=shuffle, steps=steps), False
        given = [(name, value) for name, value in (("y", y), ("sample_weight", sample_weight),
                                                   ("batch_size", batch_size)) if value is not None]
        if given:
            raise ValueError(
                f"{where}: when x is {source_name(x)}, its batches hold the targets and weights and their "
                f"size is its own; pass no {', '.join(name for name, _ in given)}. "
                f"Received: {', '.join(f'{name}={type(value).__name__}' for name, value in given)}"
            )
        return adapt(x, shuffle=shuffle, steps=steps, where=where), True

    def _prepared(self, batch, index, what, class_weight):
        """One batch from a Dataset/generator/PyDataset, checked as arrays are, class weights applied."""
        xb, yb, swb = batch
        where = f"{self.where}.{what}"
        try:
            xb, yb, swb = self._check_data(xb, yb, swb, what)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{error} (in batch {index} of the data)") from None
        return xb, yb, _apply_class_weight(yb, swb, class_weight, where)

    def _evaluate_batches(self, batches, source, what, bar=None):
        """Loss and metrics over one epoch of ``batches``, recording nothing."""
        self._reset_metrics()
        tracker = metrics_module.Mean(name="loss")
        logs = {}
        for step, batch in enumerate(batches.epoch()):
            xb, yb, swb = self._prepared(batch, step, what, None) if source else batch
            logs = self._step(xb, yb, swb, training=False, tracker=tracker)
            if bar:
                bar.update(step + 1, list(logs.items()))
        batches.end_epoch()
        if bar:
            bar.done(list(logs.items()))
        return logs

    # ---- fit / evaluate --------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` epochs; returns a History. Ctrl-C stops cleanly, keeping the model.

        ``x``: arrays (with ``y``), or a source of batches: a ``convolve.data.Dataset`` (such
        as ``image_dataset_from_directory`` returns), a ``PyDataset``, or a Python generator or
        iterable of ``(x, y)`` / ``(x, y, sample_weight)`` batches (then ``y``,
        ``sample_weight``, ``batch_size`` and ``validation_split`` are not given). With
        ``steps_per_epoch`` a generator goes on from epoch to epoch; if it runs out, training
        stops with a warning, as in Keras. ``validation_data`` takes any of these too.

        Progress: a bar per epoch on a terminal, one line per epoch otherwise (verbose 'auto'
        or 1); 2 prints one line per epoch always; 0 is silent.
        """
        where = f"{self.where}.fit"
        self._require_compiled("fit")
        # every argument checked before any data is touched (Keras 3 is lax here)
        batch_size = check_int(batch_size, "batch_size", where, none_ok=True)
        epochs = check_int(epochs, "epochs", where)
        initial_epoch = check_int(initial_epoch, "initial_epoch", where, minimum=0)
        if initial_epoch >= epochs:
            raise ValueError(
                f"{where}: initial_epoch must be smaller than epochs, or nothing is trained. "
                f"Received: initial_epoch={initial_epoch}, epochs={epochs}"
            )
        steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch", where, none_ok=True)
        validation_steps = check_int(validation_steps, "validation_steps", where, none_ok=True)
        validation_batch_size = check_int(validation_batch_size, "validation_batch_size", where, none_ok=True)
        validation_freq = check_int(validation_freq, "validation_freq", where)
        if (
            isinstance(validation_split, bool)
            or not isinstance(validation_split, (int, float, np.floating, np.integer))
            or not 0.0 <= validation_split < 1.0
        ):
            raise ValueError(
                f"{where}: validation_split must be a number in [0, 1). "
                f"Received: validation_split={validation_split!r}"
            )
        if validation_split and is_batch_source(x):
            raise ValueError(
                f"{where}: validation_split needs arrays to split; for {source_name(x)} pass "
                f"validation_data. Received: validation_split={validation_split!r}"
            )
        if validation_data is None and validation_split:
            x, y, sample_weight = self._check_data(x, y, sample_weight, "fit")
            cut = int(len(x) * (1.0 - validation_split))  # Keras: the last fraction, before shuffling
            if cut == 0 or cut == len(x):
                raise ValueError(
                    f"{where}: validation_split={validation_split} of {len(x)} samples leaves "
                    f"{cut} for training and {len(x) - cut} for validation; both need at least one. "
                    f"Received: validation_split={validation_split!r} with {len(x)} samples"
                )
            validation_data = (x[cut:], y[cut:]) + (() if sample_weight is None else (sample_weight[cut:],))
            x, y = x[:cut], y[:cut]
            sample_weight = None if sample_weight is None else sample_weight[:cut]
        batches, source = self._batches(
            x, y, sample_weight, batch_size=batch_size, steps=steps_per_epoch, shuffle=shuffle,
            class_weight=class_weight, what="fit",
        )
        validation = None
        if validation_data is not None:
            if is_batch_source(validation_data):
                vx, vy, vw = validation_data, None, None
            else:
                vx, vy, vw = _unpack(validation_data)
            validation = self._batches(
                vx, vy, vw, batch_size=validation_batch_size, steps=validation_steps, shuffle=False,
                class_weight=None, what="fit (validation_data)", default_batch=batch_size or 32,
            )

        steps = batches.steps
        verbose = _resolve_verbose(verbose)
        history = callbacks_module.History()
        cb = callbacks_module.CallbackList(
            list(callbacks or []) + [history], model=self,
            verbose=verbose, epochs=epochs, steps=steps,
        )
        self.stop_training = False
        self.history = history
        cb.on_train_begin({})
        epoch = initial_epoch
        try:
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                cb.on_epoch_begin(epoch, {})
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout, flush=True)
                bar = Progbar(steps, interactive=None if verbose == 1 else False) if verbose else None
                tracker = metrics_module.Mean(name="loss")
                logs, done = {}, 0
                start = time.perf_counter()
                try:
                    for step, batch in enumerate(batches.epoch()):
                        xb, yb, swb = self._prepared(batch, step, "fit", class_weight) if source else batch
                        cb.on_train_batch_begin(step, {})
                        logs = self._step(xb, yb, swb, training=True, tracker=tracker)
                        done = step + 1
                        cb.on_train_batch_end(step, logs)
                        if bar and (steps is None or done < steps):
                            bar.update(done, list(logs.items()))
                        if self.stop_training:
                            break
                except OutOfData as reason:
                    warnings.warn(
                        f"{where}: your input ran out of data ({reason}); training stops. Make sure it can "
                        f"give steps_per_epoch * epochs batches.",
                        UserWarning, stacklevel=2,
                    )
                    self.stop_training = True
                    if not done:
                        break
                batches.end_epoch()
                logs = dict(logs)
                if validation is not None and (epoch + 1) % validation_freq == 0:
                    try:
                        val = self._evaluate_batches(*validation, "fit (validation_data)")
                    except OutOfData as reason:
                        warnings.warn(f"{where}: the validation data ran out ({reason}); no validation "
                                      "this epoch", UserWarning, stacklevel=2)
                    else:
                        logs.update({f"val_{k}": v for k, v in val.items()})
                if bar:
                    elapsed = time.perf_counter() - start
                    line = f"{done}/{done} - {elapsed:.0f}s {elapsed / max(done, 1) * 1000:.0f}ms/step - "
                    bar.finish(line + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            print(
                f"\nTraining interrupted during epoch {epoch + 1}; the model keeps its weights so far.",
                file=sys.stdout,
            )
        cb.on_train_end({})
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on (x, y), or on the batches of a Dataset, PyDataset or generator,
        computed without recording anything."""
        where = f"{self.where}.evaluate"
        self._require_compiled("evaluate")
        check_int(batch_size, "batch_size", where, none_ok=True)
        steps = check_int(steps, "steps", where, none_ok=True)
        batches, source = self._batches(
            x, y, sample_weight, batch_size=batch_size, steps=steps, shuffle=False, class_weight=None,
            what="evaluate",
        )
        if not source and steps is not None:
            batches.steps = min(steps, math.ceil(batches.n / batches.batch_size))
        verbose = _resolve_verbose(verbose)
        bar = Progbar(batches.steps) if verbose else None
        try:
            logs = self._evaluate_batches(batches, source, "evaluate", bar)
        except OutOfData as reason:
            raise ValueError(f"{where}: the data ran out: {reason}. Received: steps={steps}") from None
        return logs if return_dict else _as_list(logs)


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return int(verbose)


def _unpack(data):
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError(
            "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight). "
            f"Received: {type(data).__name__}"
            + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else "")
        )
    return data[0], data[1], (data[2] if len(data) == 3 else None)


def _check_weights(weights, name, where):
    """Weights must be finite and >= 0: a NaN or a negative weight silently corrupts training."""
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where}: every {name} must be a finite number >= 0. "
            f"Received: {int(bad.sum())} that are not, the first {weights[first]!r} at index {first}"
        )


def _apply_class_weight(y, sample_weight, class_weight, where):
    """Multiply each sample's weight by its class's weight (labels sparse or one-hot)."""
    if not class_weight:
        return sample_weight
    labels = (
        np.argmax(y, axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else np.asarray(y).reshape(len(y)).astype(int)
    )
    missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
    if missing:
        raise ValueError(
            f"{where}: class_weight must give a weight for every class in y. "
            f"Received: no weight for classes {missing}"
        )
    table = {int(c): class_weight[int(c)] for c in np.unique(labels)}
    _check_weights(np.array(list(table.values()), dtype=np.float64), "class_weight", where)
    weights = np.array([table[int(c)] for c in labels], dtype=np.float32)
    return weights if sample_weight is None else sample_weight * weights


def _as_list(logs):
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
