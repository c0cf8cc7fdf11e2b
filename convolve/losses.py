"""Losses with Keras 3's names, arguments, defaults and arithmetic, each with its exact gradient.

A loss is computed in two steps, as in Keras:

1. **Per-sample values**, one axis reduced (the last by default): the mean over it for
   MeanSquaredError, MeanAbsoluteError and BinaryCrossentropy, the sum over classes for
   the categorical cross-entropies. For ``y_pred`` of shape (batch, ..., k) the values have
   shape (batch, ...).
2. **Reduction** with sample weights: ``values * sample_weight`` and then
   ``"sum_over_batch_size"`` (the default; the sum divided by the *number of values*, not
   by the sum of the weights), ``"sum"``, or ``"none"`` (the weighted values themselves).
   Keras 3's ``"mean"`` (same as the default) and ``"mean_with_sample_weight"`` (divided by
   the sum of the weights) are accepted too; ``None`` means ``"none"``.

``loss(y_true, y_pred, sample_weight)`` returns the value: a float, or the per-sample array
for ``"none"``. ``loss.value_and_grad(...)`` also returns dL/dy_pred with ``y_pred``'s shape
and dtype: the training loop starts backpropagation there. For ``"none"`` the gradient is
that of the *sum* of the returned values.

Probabilities (``from_logits=False``) are clipped to [1e-7, 1 - 1e-7] as Keras does, and the
gradient is the exact derivative of the clipped formula: zero where the clip is active.
Logits (``from_logits=True``) go through a log-sum-exp, finite for any finite logit.
"""
from __future__ import annotations

import warnings

import numpy as np

from .backend import as_float_array

#: Keras' ``backend.epsilon()``: the clip applied to probabilities
EPSILON = 1e-7

REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction, where: str = "") -> str:
    """One of ``REDUCTIONS`` (``None`` becomes ``"none"``), or a ValueError."""
    if reduction is None:
        return "none"
    if isinstance(reduction, str) and reduction in REDUCTIONS:
        return reduction
    listing = "{" + ", ".join(repr(r) for r in REDUCTIONS) + "}"
    raise ValueError(
        f"{where + ': ' if where else ''}the `reduction` argument must be one of {listing} or None. "
        f"Received: reduction={reduction!r}"
    )


# ---- shapes ---------------------------------------------------------------------------------


def _same_rank(y_true, y_pred):
    """Keras' ``squeeze_or_expand_to_same_rank(y_true, y_pred)``: when the ranks differ by one
    and the longer one ends in a size-1 axis, squeeze it (or expand the other if it is 1-D)."""
    t, p = y_true.ndim, y_pred.ndim
    if t == p + 1 and y_true.shape[-1] == 1:
        if p == 1:
            y_pred = y_pred[:, None]
        else:
            y_true = y_true[..., 0]
    elif p == t + 1 and y_pred.shape[-1] == 1:
        if t == 1:
            y_true = y_true[:, None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _as_pair(y_true, y_pred, where):
    """y_pred as a float array (at least 1-D), y_true cast to its dtype, ranks matched as Keras does."""
    y_pred = as_float_array(y_pred, where=where, name="y_pred")
    y_true = as_float_array(y_true, dtype=y_pred.dtype, where=where, name="y_true")
    if y_pred.ndim == 0:
        raise ValueError(
            f"{where}: expected y_pred with at least one axis, e.g. (batch, features). "
            "Received: y_pred.shape=()"
        )
    return _same_rank(y_true, y_pred)


def _broadcast_true(y_true, y_pred, where):
    """y_true broadcast to y_pred's shape (the gradient must keep y_pred's shape)."""
    if y_true.shape == y_pred.shape:
        return y_true
    try:
        return np.broadcast_to(y_true, y_pred.shape)
    except ValueError:
        raise ValueError(
            f"{where}: expected y_true with y_pred's shape {y_pred.shape} (or one that broadcasts to it). "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        ) from None


def _class_axis(axis, ndim, where):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(
            f"{where}: the `axis` argument must be an int in [{-ndim}, {ndim}) for y_pred of rank {ndim}. "
            f"Received: axis={axis!r}"
        )
    return int(axis) % ndim


def _broadcast_sample_weight(sample_weight, values, where):
    """Sample weights with ``values``' shape: one weight per sample (batch,) weights every value of
    that sample; a shape equal or broadcastable to the values' shape weights each value."""
    weight = as_float_array(sample_weight, dtype=values.dtype, where=where, name="sample_weight")
    original = weight.shape
    while weight.ndim > values.ndim and weight.shape[-1] == 1:  # (batch, 1) for values (batch,)
        weight = weight[..., 0]
    if 0 < weight.ndim < values.ndim:  # per sample: align the leading axes
        weight = weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim))
    try:
        return np.broadcast_to(weight, values.shape)
    except ValueError:
        batch = values.shape[0] if values.ndim else 1
        raise ValueError(
            f"{where}: expected sample_weight with one weight per sample, shape ({batch},), or a shape that "
            f"broadcasts to the per-sample loss values' shape {values.shape}. "
            f"Received: sample_weight.shape={original}"
        ) from None


def _reduce(values, weight, mask, reduction):
    """(loss, dloss/dvalues) for weighted ``values``, Keras' ``reduce_weighted_values`` arithmetic.

    A mask (ignored entries) becomes weights of 0; for the mean reductions the valid entries get
    total/valid, so that the sum over all entries divided by their number is a mean over the valid ones.
    """
    if mask is not None:
        m = mask.astype(values.dtype)
        if reduction in ("sum_over_batch_size", "mean"):
            valid = float(m.sum())
            m = m * (m.size / valid if valid else 0.0)
        weight = m if weight is None else weight * m
    local = np.ones_like(values) if weight is None else np.asarray(weight, dtype=values.dtype)
    weighted = values * local
    if reduction == "none":
        return weighted, local
    if reduction == "sum":
        scale = 1.0
    elif reduction == "mean_with_sample_weight" and weight is not None:
        total_weight = float(np.sum(weight))
        scale = 1.0 / total_weight if total_weight else 0.0
    else:
        scale = 1.0 / values.size if values.size else 0.0
    return float(np.sum(weighted)) * scale, local * values.dtype.type(scale)


# ---- the base class ----------------------------------------------------------------------------


def _snake(name: str) -> str:
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(c.lower())
    return "".join(out)


class Loss:
    """Base class of losses: ``Loss(name=None, reduction="sum_over_batch_size")``.

    A subclass implements ``forward(y_true, y_pred) -> (values, backward, mask)``: the per-sample
    values, a function from dL/dvalues to dL/dy_pred (or None), and a boolean mask of the values
    that count (or None). A subclass that only implements Keras' ``call(y_true, y_pred)`` (the
    per-sample values) can be evaluated but not trained with: it has no gradient.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        self.name = name if name is not None else _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction, type(self).__name__)

    @property
    def where(self) -> str:
        return type(self).__name__

    def call(self, y_true, y_pred):
        """The per-sample loss values (Keras' ``Loss.call``)."""
        if type(self).forward is Loss.forward:
            raise NotImplementedError(
                f"{self.where}: a Loss subclass must implement call(y_true, y_pred) or forward()."
            )
        return self.forward(y_true, y_pred)[0]

    def forward(self, y_true, y_pred):
        """(per-sample values, backward or None, mask or None); by default from ``call``."""
        return as_float_array(self.call(y_true, y_pred), where=self.where, name="call() output"), None, None

    def _run(self, y_true, y_pred, sample_weight, with_grad):
        y_pred = as_float_array(y_pred, where=self.where, name="y_pred")
        values, backward, mask = self.forward(y_true, y_pred)
        if with_grad and backward is None:
            raise NotImplementedError(
                f"{self.where}: this loss gives values but no gradient, so a model cannot be trained with "
                "it. Subclass convolve.losses.Loss and implement forward(y_true, y_pred) returning "
                "(values, backward, mask), or use a built-in loss. "
                f"Received: {getattr(self, 'fn', self)!r}"
            )
        weight = (
            None if sample_weight is None else _broadcast_sample_weight(sample_weight, values, self.where)
        )
        loss, dvalues = _reduce(values, weight, mask, self.reduction)
        if not with_grad:
            return loss
        grad = np.asarray(backward(dvalues), dtype=y_pred.dtype).reshape(y_pred.shape)
        return loss, grad

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss: a float, or the weighted per-sample values for reduction="none"."""
        return self._run(y_true, y_pred, sample_weight, with_grad=False)

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        """(loss, dloss/dy_pred), the gradient with y_pred's shape and dtype."""
        return self._run(y_true, y_pred, sample_weight, with_grad=True)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A plain function ``fn(y_true, y_pred, **kwargs) -> per-sample values`` as a Loss.

    It can be evaluated; training needs a gradient, which a plain function does not give.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        if not callable(fn):
            raise TypeError(
                f"LossFunctionWrapper: expected a callable fn(y_true, y_pred). Received: fn={fn!r}"
            )
        super().__init__(
            name=name if name is not None else getattr(fn, "__name__", None), reduction=reduction
        )
        self.fn, self._fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = _as_pair(y_true, y_pred, self.where)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self._fn_kwargs}


# ---- regression ---------------------------------------------------------------------------------


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2) over the last axis, per sample."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(name=name, reduction=reduction)

    def forward(self, y_true, y_pred):
        y_true, y_pred = _as_pair(y_true, y_pred, self.where)
        diff = y_pred - _broadcast_true(y_true, y_pred, self.where)
        scale = y_pred.dtype.type(2.0 / max(y_pred.shape[-1], 1))

        def backward(dvalues):
            return dvalues[..., None] * (scale * diff)

        return np.mean(diff * diff, axis=-1), backward, None


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis, per sample (gradient sign(y_pred - y_true), 0 at ties)."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(name=name, reduction=reduction)

    def forward(self, y_true, y_pred):
        y_true, y_pred = _as_pair(y_true, y_pred, self.where)
        diff = y_pred - _broadcast_true(y_true, y_pred, self.where)
        scale = y_pred.dtype.type(1.0 / max(y_pred.shape[-1], 1))

        def backward(dvalues):
            return dvalues[..., None] * (scale * np.sign(diff))

        return np.mean(np.abs(diff), axis=-1), backward, None


# ---- cross-entropies ------------------------------------------------------------------------------


def _check_label_smoothing(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"{where}: the `label_smoothing` argument must be a float in [0, 1]. "
            f"Received: label_smoothing={value!r}"
        )
    return float(value)


def _clip_bounds(dtype):
    return dtype.type(EPSILON), dtype.type(1.0 - EPSILON)


def _sigmoid_cross_entropy(t, x):
    """Elementwise -t log s(x) - (1-t) log(1-s(x)) = max(x,0) - x t + log(1 + e^-|x|), and its
    derivative s(x) - t."""
    z = np.exp(-np.abs(x))
    loss = np.maximum(x, 0) - x * t + np.log1p(z)
    sig = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)
    return loss, sig - t


def _binary_cross_entropy(t, p):
    """Elementwise Keras BCE on probabilities clipped to [eps, 1-eps], and its derivative (0 where
    clipped)."""
    lo, hi = _clip_bounds(p.dtype)
    q = np.clip(p, lo, hi)
    loss = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    dloss = ((1 - t) / (1 - q) - t / q) * ((p >= lo) & (p <= hi))
    return loss, dloss


def _softmax_cross_entropy(t, x, axis):
    """Per-sample -sum(t * log_softmax(x)) over ``axis``, and a backward: dv * (softmax * sum(t) - t)."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    exp = np.exp(shifted)
    total = np.sum(exp, axis=axis, keepdims=True)
    log_prob = shifted - np.log(total)
    values = -np.sum(t * log_prob, axis=axis)
    softmax = exp / total
    t_sum = np.sum(t, axis=axis, keepdims=True)

    def backward(dvalues):
        return np.expand_dims(dvalues, axis) * (softmax * t_sum - t)

    return values, backward


def _probability_cross_entropy(t, p, axis):
    """Keras on probabilities: r = p / sum(p); q = clip(r, eps, 1-eps); -sum(t * log q) over ``axis``.

    Backward through both steps: g = -t/q where the clip is inactive (else 0);
    dL/dp = (g - sum(g r)) / sum(p).
    """
    lo, hi = _clip_bounds(p.dtype)
    s = np.sum(p, axis=axis, keepdims=True)
    r = p / s
    q = np.clip(r, lo, hi)
    values = -np.sum(t * np.log(q), axis=axis)

    def backward(dvalues):
        g = -(t / q) * ((r >= lo) & (r <= hi))
        return np.expand_dims(dvalues, axis) * (g - np.sum(g * r, axis=axis, keepdims=True)) / s

    return values, backward


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, the mean over ``axis`` per sample.

    ``label_smoothing`` moves the targets towards 0.5: y_true * (1 - ls) + 0.5 * ls.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_label_smoothing(label_smoothing, self.where)
        self.axis = axis

    def forward(self, y_true, y_pred):
        y_true, y_pred = _as_pair(y_true, y_pred, self.where)
        axis = _class_axis(self.axis, y_pred.ndim, self.where)
        t = _broadcast_true(y_true, y_pred, self.where)
        if self.label_smoothing:
            ls = self.label_smoothing
            t = t * y_pred.dtype.type(1.0 - ls) + y_pred.dtype.type(0.5 * ls)
        loss, dloss = (_sigmoid_cross_entropy if self.from_logits else _binary_cross_entropy)(t, y_pred)
        scale = y_pred.dtype.type(1.0 / max(y_pred.shape[axis], 1))

        def backward(dvalues):
            return np.expand_dims(dvalues, axis) * (scale * dloss)

        return np.mean(loss, axis=axis), backward, None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets, summed over the class ``axis``.

    Probabilities are first normalised to sum to 1 (Keras does), then clipped. ``label_smoothing``
    mixes the targets with the uniform distribution: y_true * (1 - ls) + ls / num_classes.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_label_smoothing(label_smoothing, self.where)
        self.axis = axis

    def forward(self, y_true, y_pred):
        y_true, y_pred = _as_pair(y_true, y_pred, self.where)
        axis = _class_axis(self.axis, y_pred.ndim, self.where)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{self.where}: expected one-hot y_true with y_pred's shape (for integer labels use "
                f"SparseCategoricalCrossentropy). Received: y_true.shape={y_true.shape}, "
                f"y_pred.shape={y_pred.shape}"
            )
        classes = y_pred.shape[axis]
        if classes == 1:
            warnings.warn(
                f"{self.where}: expected y_pred.shape to be (batch_size, num_classes) with num_classes > 1. "
                f"Received: y_pred.shape={y_pred.shape}. "
                "Consider using 'binary_crossentropy' if you only have 2 classes.",
                stacklevel=3,
            )
        t = y_true
        if self.label_smoothing:
            ls = self.label_smoothing
            t = t * y_pred.dtype.type(1.0 - ls) + y_pred.dtype.type(ls / classes)
        if self.from_logits:
            values, backward = _softmax_cross_entropy(t, y_pred, axis)
        else:
            values, backward = _probability_cross_entropy(t, y_pred, axis)
        return values, backward, None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


def _one_hot(labels, classes, axis, dtype):
    onehot = (labels[..., None] == np.arange(classes)).astype(dtype)
    return np.moveaxis(onehot, -1, axis)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy against integer class labels (shape y_pred.shape without the class axis, or
    with a trailing 1). Labels equal to ``ignore_class`` count as absent: their values are 0 and
    the default reduction averages over the other entries only, as Keras does."""

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer))
        ):
            raise ValueError(
                f"{self.where}: the `ignore_class` argument must be None or an int (a label to ignore, e.g. "
                f"-1 or 255). Received: ignore_class={ignore_class!r}"
            )
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.axis = axis

    def forward(self, y_true, y_pred):
        y_true, y_pred = _as_pair(y_true, y_pred, self.where)
        axis = _class_axis(self.axis, y_pred.ndim, self.where)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        expected = y_pred.shape[:axis] + y_pred.shape[axis + 1:]
        if y_true.shape != expected:
            raise ValueError(
                f"{self.where}: expected integer labels of shape {expected} (y_pred.shape without the class "
                f"axis) or {expected + (1,)}. Received: y_true.shape={y_true.shape}, "
                f"y_pred.shape={y_pred.shape}"
            )
        classes = y_pred.shape[axis]
        mask = None if self.ignore_class is None else (y_true != self.ignore_class)
        labels = y_true if mask is None else np.where(mask, y_true, 0)
        bad = (labels != np.floor(labels)) | (labels < 0) | (labels >= classes)
        if bad.any():
            shown = np.unique(y_true[bad])[:5].tolist()
            ignore = "" if self.ignore_class is None else f" (or ignore_class={self.ignore_class})"
            raise ValueError(
                f"{self.where}: expected integer class labels in [0, {classes}){ignore} for y_pred with "
                f"{classes} classes. Received: y_true containing {shown}"
            )
        t = _one_hot(labels.astype(np.int64), classes, axis, y_pred.dtype)
        if self.from_logits:
            values, backward = _softmax_cross_entropy(t, y_pred, axis)
        else:
            values, backward = _probability_cross_entropy(t, y_pred, axis)
        if mask is None:
            return values, backward, None
        values = np.where(mask, values, 0).astype(y_pred.dtype, copy=False)

        def masked_backward(dvalues):
            return backward(dvalues * mask)

        return values, masked_backward, mask

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}


# ---- the fused softmax + cross-entropy the training loop uses -------------------------------------


def softmax_cross_entropy_with_logits(
    labels_or_onehot,
    logits,
    sparse: bool,
    sample_weight=None,
    *,
    label_smoothing=0.0,
    ignore_class=None,
    reduction="sum_over_batch_size",
):
    """Cross-entropy of ``softmax(logits)`` over the last axis and its gradient with respect to the logits.

    Returns ``(value, (softmax - onehot) * weight / N)`` with N the number of per-sample values (the
    default reduction). ``sparse`` says whether the targets are integer labels or one-hot rows. A model
    ending in a softmax with a cross-entropy loss uses this instead of back-propagating through both:
    it is exact, and finite however confident the softmax is. ``label_smoothing`` (one-hot targets),
    ``ignore_class`` (labels) and ``reduction`` have the meaning they have in the loss classes.
    """
    if sparse:
        if label_smoothing:
            raise ValueError(
                "softmax_cross_entropy_with_logits: label_smoothing applies to one-hot targets "
                f"(sparse=False). Received: sparse=True, label_smoothing={label_smoothing!r}"
            )
        loss = SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore_class, reduction=reduction)
    else:
        if ignore_class is not None:
            raise ValueError(
                "softmax_cross_entropy_with_logits: ignore_class applies to integer labels (sparse=True). "
                f"Received: sparse=False, ignore_class={ignore_class!r}"
            )
        loss = CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing, reduction=reduction)
    return loss.value_and_grad(labels_or_onehot, logits, sample_weight)


# ---- the function forms (per-sample values, as keras.losses.<name>) -------------------------------


def mean_squared_error(y_true, y_pred):
    """Per-sample mean((y_pred - y_true)**2) over the last axis."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean(|y_pred - y_true|) over the last axis."""
    return MeanAbsoluteError().call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy, the mean over ``axis``."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical cross-entropy over the class ``axis``."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample cross-entropy against integer labels (0 where the label is ``ignore_class``)."""
    return SparseCategoricalCrossentropy(from_logits, ignore_class, axis=axis).call(y_true, y_pred)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_CLASSES = (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_FUNCTIONS = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
_BY_NAME = {fn.__name__: cls for fn, cls in _FUNCTIONS.items()}
_BY_NAME.update({cls.__name__: cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
                 "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})


def _known():
    return sorted(k for k in _BY_NAME if k.islower() or "_" in k)


def get(identifier):
    """A Loss from a name ('mse', 'categorical_crossentropy', 'CategoricalCrossentropy'), a Loss
    instance or class, a config dict {'class_name': ..., 'config': {...}}, or a callable (the
    function forms above give their class; any other function is wrapped, without a gradient).
    ``None`` gives None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict) and "class_name" in identifier:
        name = identifier["class_name"]
        cls = _BY_NAME.get(name) if isinstance(name, str) else None
        if cls is None or name != cls.__name__:
            raise ValueError(
                f"unknown loss class_name. Expected one of {sorted(c.__name__ for c in _CLASSES)}. "
                f"Received: class_name={identifier['class_name']!r}"
            )
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if callable(identifier) and not isinstance(identifier, (str, type)):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        return LossFunctionWrapper(identifier)
    raise ValueError(
        f"unknown loss. Expected one of {_known()}, a Loss or a callable fn(y_true, y_pred). "
        f"Received: {identifier!r}"
    )


def serialize(loss) -> dict | str:
    """A Loss as {'class_name': ..., 'config': ...}; a function as its name."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", repr(loss))


__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "softmax_cross_entropy_with_logits",
    "mean_squared_error",
    "mse",
    "MSE",
    "mean_absolute_error",
    "mae",
    "MAE",
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "get",
    "serialize",
    "REDUCTIONS",
    "EPSILON",
]
