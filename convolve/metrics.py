"""Metrics with Keras 3's names, arguments and arithmetic.

A metric keeps a running, sample-weighted mean over every ``update_state`` call until
``reset_state``: a function gives one value per sample (accuracy: 1.0 or 0.0; MSE: the mean
over the last axis), values with more axes are first averaged per sample, and

    result = sum(value_i * weight_i) / sum(weight_i)     (weights default to 1; 0 when nothing was seen)

``get('accuracy', loss=...)`` chooses the accuracy that fits the loss, as compiling a Keras
model does, and names it as the string it was given.
"""
from __future__ import annotations

import numpy as np

from . import losses as losses_module
from .backend import as_float_array, floatx
from .losses import _same_rank, _snake


def _prefix(where):
    return f"{where}: " if where else ""


def _as_pair(y_true, y_pred, where):
    y_pred = as_float_array(y_pred, where=where, name="y_pred")
    y_true = as_float_array(y_true, dtype=y_pred.dtype, where=where, name="y_true")
    return y_true, y_pred


def _check_k(k, where):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{_prefix(where)}the `k` argument must be a positive int. Received: k={k!r}")
    return int(k)


def _labels(y_true, y_pred, where):
    """Integer labels of shape y_pred.shape[:-1] from y_true of that shape or with a trailing 1."""
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_pred.ndim == 0 or y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{where}: expected integer labels of shape y_pred.shape[:-1] = {y_pred.shape[:-1]} (or with a "
            f"trailing 1). Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    return y_true


def _one_hot_shapes(y_true, y_pred, where):
    if y_true.shape != y_pred.shape or y_pred.ndim == 0:
        raise ValueError(
            f"{where}: expected one-hot y_true with y_pred's shape (for integer labels use the sparse_ "
            f"metric). Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )


def _in_top_k(labels, y_pred, k, where):
    """1.0 where the label's score is >= the k-th largest score (ties count as in, as Keras' in_top_k)."""
    classes = y_pred.shape[-1]
    bad = (labels != np.floor(labels)) | (labels < 0) | (labels >= classes)
    if bad.any():
        raise ValueError(
            f"{where}: expected integer class labels in [0, {classes}). "
            f"Received: labels {np.unique(labels[bad])[:5].tolist()}"
        )
    target = np.take_along_axis(y_pred, labels.astype(np.int64)[..., None], axis=-1)[..., 0]
    if k >= classes:
        kth = np.min(y_pred, axis=-1)
    else:
        kth = -np.partition(-y_pred, k - 1, axis=-1)[..., k - 1]
    return (target >= kth).astype(floatx())


# ---- the per-sample functions (keras.metrics.<name>) ------------------------------------------------


def _check_same_shape(y_true, y_pred, where):
    try:
        ok = np.broadcast_shapes(y_true.shape, y_pred.shape) == y_pred.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same shape. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )


def accuracy(y_true, y_pred):
    """1.0 where y_pred equals y_true exactly, else 0.0 (elementwise)."""
    y_true, y_pred = _same_rank(*_as_pair(y_true, y_pred, "accuracy"))
    _check_same_shape(y_true, y_pred, "accuracy")
    return (y_true == y_pred).astype(floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true, else 0.0 (elementwise)."""
    y_true, y_pred = _same_rank(*_as_pair(y_true, y_pred, "binary_accuracy"))
    _check_same_shape(y_true, y_pred, "binary_accuracy")
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(floatx())


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) equals argmax(y_true) over the last axis, per sample."""
    y_true, y_pred = _as_pair(y_true, y_pred, "categorical_accuracy")
    _one_hot_shapes(y_true, y_pred, "categorical_accuracy")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(floatx())


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred) over the last axis equals the integer label, per sample."""
    y_true, y_pred = _as_pair(y_true, y_pred, "sparse_categorical_accuracy")
    labels = _labels(y_true, y_pred, "sparse_categorical_accuracy")
    return (labels == np.argmax(y_pred, axis=-1)).astype(floatx())


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the true class (argmax of the one-hot y_true) is among the k highest scores."""
    where = "top_k_categorical_accuracy"
    k = _check_k(k, where)
    y_true, y_pred = _as_pair(y_true, y_pred, where)
    _one_hot_shapes(y_true, y_pred, where)
    return _in_top_k(np.argmax(y_true, axis=-1), y_pred, k, where)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the k highest scores."""
    where = "sparse_top_k_categorical_accuracy"
    k = _check_k(k, where)
    y_true, y_pred = _as_pair(y_true, y_pred, where)
    return _in_top_k(_labels(y_true, y_pred, where), y_pred, k, where)


mean_squared_error = losses_module.mean_squared_error
mean_absolute_error = losses_module.mean_absolute_error
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ---- the classes ---------------------------------------------------------------------------------------


class Metric:
    """Base class: ``update_state(...)`` accumulates, ``result()`` gives a float, ``reset_state()`` clears.

    ``_direction`` is "up" for metrics to maximise, "down" for those to minimise (callbacks use it
    in mode="auto"), None when it has no meaning.
    """

    _direction = None

    def __init__(self, name=None, dtype=None):
        self.name = name if name is not None else _snake(type(self).__name__)
        self.dtype = dtype if dtype is not None else floatx()

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: a Metric subclass must implement update_state().")

    def result(self) -> float:
        raise NotImplementedError(f"{type(self).__name__}: a Metric subclass must implement result().")

    def reset_state(self) -> None:
        raise NotImplementedError(f"{type(self).__name__}: a Metric subclass must implement reset_state().")

    def __call__(self, *args, **kwargs) -> float:
        """update_state(...) then result(), as Keras."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} result={self.result()!r}>"


class Mean(Metric):
    """The sample-weighted mean of every value seen (Keras' ``Mean``).

    Values with more axes than the weights are first averaged over the extra axes (per sample);
    weights of shape (batch,) weight whole samples; a scalar weight weights every sample.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        where = f"{type(self).__name__} '{self.name}'"
        values = as_float_array(values, dtype="float64", where=where, name="values")
        if sample_weight is None:
            if values.ndim > 1:
                values = values.mean(axis=tuple(range(1, values.ndim)))
            self.total += float(np.sum(values))
            self.count += float(values.shape[0] if values.ndim else 1)
            return
        weight = as_float_array(sample_weight, dtype="float64", where=where, name="sample_weight")
        original = weight.shape
        if weight.ndim == 0 and values.ndim:
            weight = np.broadcast_to(weight, values.shape[:1])
        values, weight = _same_rank(values, weight)
        if values.ndim > weight.ndim:
            values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
        try:
            weight = np.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(
                f"{where}: expected sample_weight with one weight per sample, shape {values.shape[:1]}, or "
                f"the values' shape {values.shape}. Received: sample_weight.shape={original}"
            ) from None
        values = values * weight
        if values.ndim > 1:  # Keras: the mean over the extra axes, of the values and of the weights
            values = values.mean(axis=tuple(range(1, values.ndim)))
            weight = weight.mean(axis=tuple(range(1, weight.ndim)))
        self.total += float(np.sum(values))
        self.count += float(np.sum(weight))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total = 0.0
        self.count = 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)``, the per-sample values of a function."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: expected a callable fn(y_true, y_pred). Received: fn={fn!r}")
        super().__init__(name=name if name is not None else getattr(fn, "__name__", None), dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:
            config["fn"] = getattr(self._fn, "__name__", repr(self._fn))
        return config

    @classmethod
    def from_config(cls, config):
        if cls is MeanMetricWrapper:
            config = dict(config)
            fn = config.pop("fn", None)
            if fn not in _FUNCTIONS_BY_NAME:
                raise ValueError(
                    "MeanMetricWrapper.from_config: expected fn to name one of "
                    f"{sorted(_FUNCTIONS_BY_NAME)}. Received: fn={fn!r}"
                )
            return cls(_FUNCTIONS_BY_NAME[fn], **config)
        return cls(**config)


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 y_true."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals argmax of the one-hot y_true."""

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label."""

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the true class (one-hot y_true) is among the k highest scores."""

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(
            top_k_categorical_accuracy, name=name, dtype=dtype, k=_check_k(k, "TopKCategoricalAccuracy")
        )
        self.k = int(k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the k highest scores."""

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype,
                         k=_check_k(k, "SparseTopKCategoricalAccuracy"))
        self.k = int(k)


class MeanSquaredError(MeanMetricWrapper):
    """The running mean of the per-sample mean squared error."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The running mean of the per-sample mean absolute error."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class _ShapeInferredAccuracy(Metric):
    """'accuracy' with a loss that does not decide: Keras 3's rule, applied to the first batch.

    y_pred with a last axis of 1 -> binary accuracy; y_true of lower rank than y_pred, or ending
    in 1 while y_pred does not -> sparse categorical accuracy; otherwise categorical accuracy.
    """

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.chosen = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.chosen is None:
            y_true_shape, y_pred_shape = np.shape(y_true), np.shape(y_pred)
            last_pred = y_pred_shape[-1] if y_pred_shape else 1
            last_true = y_true_shape[-1] if y_true_shape else 1
            if last_pred == 1:
                self.chosen = BinaryAccuracy(name=self.name, dtype=self.dtype)
            elif len(y_true_shape) < len(y_pred_shape) or last_true == 1:
                self.chosen = SparseCategoricalAccuracy(name=self.name, dtype=self.dtype)
            else:
                self.chosen = CategoricalAccuracy(name=self.name, dtype=self.dtype)
        self.chosen.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self) -> float:
        return 0.0 if self.chosen is None else self.chosen.result()

    def reset_state(self) -> None:
        if self.chosen is not None:
            self.chosen.reset_state()


_CLASSES = (
    Mean,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
)
_FUNCTIONS = {
    accuracy: Accuracy,
    binary_accuracy: BinaryAccuracy,
    categorical_accuracy: CategoricalAccuracy,
    sparse_categorical_accuracy: SparseCategoricalAccuracy,
    top_k_categorical_accuracy: TopKCategoricalAccuracy,
    sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
}
_FUNCTIONS_BY_NAME = {fn.__name__: fn for fn in _FUNCTIONS}
_BY_NAME = {fn.__name__: cls for fn, cls in _FUNCTIONS.items() if fn is not accuracy}
_BY_NAME.update({cls.__name__: cls for cls in _CLASSES})
_BY_NAME.update(
    {"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError}
)
_ACCURACY_NAMES = ("accuracy", "acc")

#: whether each name a metric goes by should rise ("up") or fall ("down"); callbacks read it in mode="auto"
DIRECTIONS = {name: cls._direction for name, cls in _BY_NAME.items() if cls._direction}
DIRECTIONS.update({name: "up" for name in _ACCURACY_NAMES})


def _accuracy_for(loss, name):
    """Keras' choice of accuracy for a model compiled with ``loss``."""
    loss = losses_module.get(loss) if loss is not None else None
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy(name=name)
    if isinstance(loss, losses_module.CategoricalCrossentropy):
        return CategoricalAccuracy(name=name)
    if isinstance(loss, losses_module.BinaryCrossentropy):
        # logits: sigmoid(x) > 0.5 exactly where x > 0
        return BinaryAccuracy(name=name, threshold=0.0 if loss.from_logits else 0.5)
    return _ShapeInferredAccuracy(name=name)


def _known():
    return sorted({*(k for k in _BY_NAME if k.islower() or "_" in k), *_ACCURACY_NAMES})


def get(identifier, loss=None):
    """A Metric from a name, a Metric (instance or class), a config dict, or a callable
    ``fn(y_true, y_pred) -> per-sample values``. None gives None.

    'accuracy' / 'acc' (any case) follow the loss: sparse categorical cross-entropy ->
    SparseCategoricalAccuracy, categorical cross-entropy -> CategoricalAccuracy, binary
    cross-entropy -> BinaryAccuracy (threshold 0 on logits); any other loss -> chosen from the
    shapes of the first batch, as Keras 3 does. A metric given by a string is named by that
    string, as in Keras' logs ('acc' -> 'acc', 'mse' -> 'mse').
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict) and "class_name" in identifier:
        name = identifier["class_name"]
        known = {cls.__name__: cls for cls in (*_CLASSES, MeanMetricWrapper)}
        if not isinstance(name, str) or name not in known:
            raise ValueError(
                f"unknown metric class_name. Expected one of {sorted(known)}. Received: class_name={name!r}"
            )
        return known[name].from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier.lower() in _ACCURACY_NAMES:
            return _accuracy_for(loss, identifier)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier)
    elif callable(identifier) and not isinstance(identifier, type):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        return MeanMetricWrapper(identifier)
    raise ValueError(
        f"unknown metric. Expected one of {_known()}, a Metric or a callable fn(y_true, y_pred). "
        f"Received: {identifier!r}"
    )


def serialize(metric) -> dict | str:
    """A Metric as {'class_name': ..., 'config': ...} ('accuracy' chosen from shapes: its name); a
    function as its name."""
    if isinstance(metric, _ShapeInferredAccuracy):
        return metric.name
    if isinstance(metric, Metric):
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    return getattr(metric, "__name__", repr(metric))


__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "mean_squared_error",
    "mean_absolute_error",
    "mse",
    "mae",
    "get",
    "serialize",
    "DIRECTIONS",
]
