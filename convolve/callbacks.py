"""Callbacks with Keras 3's names, arguments, defaults and behaviour.

A callback's hooks are called by the training loop (``fit``, ``evaluate``, ``predict``) with the
epoch or batch index and a ``logs`` dict ({'loss': ..., 'accuracy': ..., 'val_loss': ...}).
Everything a callback may ask of the model is this:

    model.stop_training                      a bool attribute, set to end training after this epoch
    model.get_weights() / set_weights(list)  copies of the weights, and putting them back
    model.save(path) / save_weights(path)
    model.optimizer.learning_rate            a float, readable and assignable

Verbose messages go to stdout with Keras' wording ("Epoch 5: early stopping").
"""
from __future__ import annotations

import csv
import inspect
import math
import numbers
import os
import warnings

import numpy as np

from .metrics import DIRECTIONS


def _print(message: str) -> None:
    print(message, flush=True)


class Callback:
    """Base class: every hook does nothing. ``model`` and ``params`` are set by the training loop.

    ``on_batch_begin`` / ``on_batch_end`` are Keras' older names for the training-batch hooks:
    the default ``on_train_batch_begin/end`` call them.
    """

    def __init__(self):
        self.model = None
        self.params = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """Backwards-compatible alias of on_train_batch_begin."""

    def on_batch_end(self, batch, logs=None):
        """Backwards-compatible alias of on_train_batch_end."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


def _pythonify(logs):
    """The same dict, its 0-d NumPy values turned into Python floats (what callbacks store and write)."""
    if logs is None:
        return {}
    for key, value in logs.items():
        if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
            logs[key] = float(value)
    return logs


class CallbackList(Callback):
    """Calls each hook of every callback in order, with the same ``logs`` dict.

    ``CallbackList(callbacks, add_history=False, model=None, **params)``: ``params`` (epochs,
    steps, verbose) go to every callback's ``set_params``; with ``add_history`` a History is
    appended unless one is there already.
    """

    def __init__(self, callbacks=None, add_history=False, model=None, **params):
        super().__init__()
        flat = []
        for item in callbacks or []:
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        for item in flat:
            if not isinstance(item, Callback):
                kind = (
                    f"the class {item.__name__} (call it: {item.__name__}(...))"
                    if isinstance(item, type)
                    else type(item).__name__
                )
                raise TypeError(
                    "CallbackList: expected Callback instances, e.g. EarlyStopping(patience=3). "
                    f"Received: {item!r} of type {kind}"
                )
        self.callbacks = flat
        self.history = next((c for c in flat if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        if not isinstance(callback, Callback):
            raise TypeError(
                "CallbackList.append: expected a Callback instance. "
                f"Received: {callback!r} of type {type(callback).__name__}"
            )
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params is not None:
            callback.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_model(self, model):
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def _each(self, hook, *args):
        logs = _pythonify(args[-1])
        for callback in self.callbacks:
            getattr(callback, hook)(*args[:-1], logs)

    def on_batch_begin(self, batch, logs=None):
        self._each("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._each("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._each("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._each("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._each("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._each("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._each("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._each("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._each("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._each("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._each("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._each("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._each("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._each("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._each("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._each("on_predict_end", logs)


class History(Callback):
    """Records every epoch's logs: ``history`` ({'loss': [...], 'val_loss': [...]}), ``epoch`` (the
    epoch indices) and ``params`` (from the training loop). As in Keras, ``epoch`` restarts at each
    ``on_train_begin`` while ``history`` keeps growing if the same History is reused."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


# ---- monitoring a quantity --------------------------------------------------------------------------


def _check_mode(mode, who):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
        return "auto"
    return mode


def _direction(monitor, mode, who, strict=True):
    """'min' or 'max' for ``monitor``. In auto mode: the loss falls; a known metric name goes its
    way (accuracies rise, errors fall); a name containing 'acc' rises (Keras' older rule); any other
    name is an error when ``strict`` (Keras 3) and falls otherwise (ReduceLROnPlateau's rule)."""
    if mode in ("min", "max"):
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return "min"
    if name in DIRECTIONS:
        return "max" if DIRECTIONS[name] == "up" else "min"
    if "acc" in name or name.startswith("fmeasure"):
        return "max"
    if strict:
        raise ValueError(
            f"{who} callback received monitor={monitor}, but it cannot tell whether that metric should be "
            "maximized or minimized. Pass `mode='max'` to monitor based on the highest metric value, or "
            "`mode='min'` to use the lowest value."
        )
    return "min"


def _improved(current, best, direction, min_delta):
    """current beats best by more than min_delta (>= 0)."""
    if direction == "min":
        return current + min_delta < best
    return current - min_delta > best


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Keras 3's rules: epochs before ``start_from_epoch`` are not looked at; with a ``baseline`` the
    wait only restarts once the value beats both the baseline and the best so far; with
    ``restore_best_weights`` the weights of the best epoch are put back at the end of training
    (also when training was not stopped early).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = _check_mode(mode, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.direction = _direction(monitor, self.mode, "EarlyStopping")
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.direction == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self._reset()  # the instance can be reused

    def _is_improvement(self, value, reference):
        return _improved(value, reference, self.direction, self.min_delta)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
        return value

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # the first epoch looked at: its weights are the best so far
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) every epoch, or every
    ``save_freq`` batches; with ``save_best_only`` only when ``monitor`` improved on the best so far
    (starting from ``initial_value_threshold`` when given).

    ``filepath`` may hold format fields filled from the epoch (1-based), the batch (1-based, when
    saving by batch) and the logs: ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.safetensors"``.
    The file format is the model's business, so no extension is imposed.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _check_mode(mode, "ModelCheckpoint")
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral) or save_freq < 1
        ):
            raise ValueError(
                "ModelCheckpoint: the `save_freq` argument must be 'epoch' or a positive int (a number of "
                f"batches). Received: save_freq={save_freq!r}"
            )
        self.save_freq = save_freq
        # the direction only matters when comparing
        self.direction = _direction(monitor, self.mode, "ModelCheckpoint") if save_best_only else (
            "max" if self.mode == "max" else "min")
        if initial_value_threshold is not None:
            self.best = initial_value_threshold
        else:
            self.best = math.inf if self.direction == "min" else -math.inf
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            available = ", ".join(["epoch", *([] if batch is None else ["batch"]), *logs])
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". '
                f'Reason: no value for {e.args[0]}. '
                f"Available keys: {available}"
            ) from None

    def _should_save(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                _print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        best = f"{self.best:.5f}"
        if _improved(current, self.best, self.direction, 0.0):
            if self.verbose > 0:
                _print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, saving "
                    f"model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "ModelCheckpoint: please specify a non-directory filepath. "
                f"Received: filepath={self.filepath!r}, which names the existing directory {filepath!r}"
            )
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
        if self.verbose > 0 and self.save_best_only:
            _print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


def _learning_rate(model):
    optimizer = getattr(model, "optimizer", None)
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    return float(np.asarray(optimizer.learning_rate))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs; then wait ``cooldown`` epochs before counting again;
    never go below ``min_lr``. Adds 'learning_rate' to each epoch's logs, as Keras does."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received: factor={factor}")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments. Received: {', '.join(sorted(kwargs))}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.mode = _check_mode(mode, "ReduceLROnPlateau")
        self.direction = _direction(monitor, self.mode, "ReduceLROnPlateau", strict=False)
        self._reset()

    def _reset(self):
        self.cooldown_counter = 0
        self.wait = 0
        self.best = math.inf if self.direction == "min" else -math.inf

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if _improved(current, self.best, self.direction, self.min_delta):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = _learning_rate(self.model)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        _print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (epoch from 0, lr
    the current rate); a ``schedule(epoch)`` of one argument is accepted too. Adds 'learning_rate'
    to each epoch's logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: expected a callable schedule(epoch, lr) -> new lr. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _accepts_two_args(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        lr = _learning_rate(self.model)
        new_lr = self.schedule(epoch, lr) if self._takes_lr else self.schedule(epoch)
        if isinstance(new_lr, np.ndarray) and new_lr.ndim == 0:
            new_lr = new_lr[()]
        if isinstance(new_lr, bool) or not isinstance(new_lr, numbers.Real):
            raise ValueError(
                f"LearningRateScheduler: the output of the `schedule` function should be a float. "
                f"Received: {new_lr!r} of type {type(new_lr).__name__} at epoch {epoch}"
            )
        new_lr = float(new_lr)
        self.model.optimizer.learning_rate = new_lr
        if self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)


def _accepts_two_args(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: try the two-argument form
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class TerminateOnNaN(Callback):
    """Stop training (``model.stop_training = True``) when a batch's loss is NaN or infinite; with
    ``raise_error=True`` raise a RuntimeError at once instead."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(np.asarray(loss))
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            _print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row: 'epoch' then the log keys in sorted order (the keys of
    the first epoch, plus their 'val_' twins when the first epoch has none; a missing value is
    written 'NA'). The file is opened, appended to and closed at every epoch, so a crash never loses
    the rows already written. ``append=False`` starts a new file at the beginning of training."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "CSVLogger: the `separator` argument must be a single character. "
                f"Received: separator={separator!r}"
            )
        self.sep = separator
        self.append = append
        self.keys = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not f.readline()
        else:
            self.append_header = True
            dirname = os.path.dirname(self.filename)
            if dirname:
                os.makedirs(dirname, exist_ok=True)
            with open(self.filename, "w", encoding="utf-8", newline=""):
                pass  # a new, empty file, as Keras opens it with mode "w"
        self.keys = None

    @staticmethod
    def _value(v):
        if isinstance(v, str):
            return v
        if isinstance(v, np.ndarray) and v.ndim == 0:
            return v[()]
        if isinstance(v, (list, tuple, np.ndarray)):
            return f"\"[{', '.join(map(str, v))}]\""
        return v

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend("val_" + k for k in list(self.keys))
        row = {"epoch": epoch}
        row.update((key, self._value(logs.get(key, "NA"))) for key in self.keys)
        dialect = type("_Dialect", (csv.excel,), {"delimiter": self.sep})
        with open(self.filename, "a", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.append_header:
                writer.writeheader()
                self.append_header = False
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def on_train_end(self, logs=None):
        self.keys = None


__all__ = [
    "Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
    "LearningRateScheduler", "TerminateOnNaN", "CSVLogger",
]
