"""Keras-style utilities (``keras.utils``): label and array preparation, seeds, your own images.

    y = to_categorical([0, 2, 1])            # (3, 3) float32 one-hot rows, the class axis last
    unit = normalize(x, axis=-1, order=2)    # each row divided by its L2 norm
    train = image_dataset_from_directory("photos/", image_size=(180, 180))   # class folders
    x = img_to_array(load_img("cat.jpg"))    # float32 (H, W, 3), values 0..255

``to_categorical`` and ``normalize`` are data-preparation functions on arrays: they take
array-likes and return new NumPy arrays, never modifying the caller's array, and record nothing
on a GradientTape. The image functions and ``PyDataset`` live in ``convolve.data`` and are
gathered here under Keras' names.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .backend import as_float_array, floatx, get_array_module
from .data.directory import image_dataset_from_directory
from .data.image_utils import array_to_img, img_to_array, load_img, save_img
from .data.pydataset import PyDataset
from .random import set_random_seed

__all__ = [
    "PyDataset", "array_to_img", "image_dataset_from_directory", "img_to_array", "load_img",
    "normalize", "save_img", "set_random_seed", "to_categorical",
]


def to_categorical(x, num_classes=None):
    """One-hot encode integer class labels: a label ``k`` becomes a row of ``num_classes``
    zeros with a 1 at position ``k``, the class axis placed last.

    * ``x``: class labels of any shape (integers 0 to ``num_classes - 1``; floats are accepted
      when they are whole numbers, as labels read from a CSV file often are). A trailing axis
      of size 1 is dropped first, as Keras does: labels of shape (n, 1) give (n, num_classes),
      (n,) gives (n, num_classes), (a, b) gives (a, b, num_classes), a scalar (num_classes,).
    * ``num_classes``: the number of classes; None (default) takes ``max(x) + 1``.

    Returns a new float array (``convolve.floatx()``, float32 by default) of shape
    ``x.shape + (num_classes,)`` (after the squeeze). Negative labels, labels that are not
    whole numbers, and labels >= ``num_classes`` are refused (Keras would wrap a negative
    label around to the last class and fail with an IndexError on too large a label).
    """
    where = "to_categorical"
    labels = np.asarray(x)
    if labels.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: `x` must hold integer class labels. Received: x with dtype={labels.dtype}"
        )
    if labels.dtype.kind == "f":
        whole = np.isfinite(labels) & (labels == np.floor(labels))
        _refuse_first(~whole, labels, rule="every label must be a whole number (an integer class index)")
    _refuse_first(labels < 0, labels, rule="labels must be >= 0")
    if num_classes is not None:
        if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, (bool, np.bool_)):
            raise TypeError(
                f"{where}: `num_classes` must be a positive integer or None. "
                f"Received: num_classes={num_classes!r}"
            )
        if num_classes < 1:
            raise ValueError(
                f"{where}: `num_classes` must be a positive integer or None. "
                f"Received: num_classes={num_classes}"
            )
        num_classes = int(num_classes)
        _refuse_first(
            labels >= num_classes, labels,
            rule=f"every label must be less than num_classes={num_classes} (classes 0 to {num_classes - 1})",
        )
    elif labels.size == 0:
        raise ValueError(
            f"{where}: cannot infer `num_classes` from empty labels; pass num_classes. "
            f"Received: x with shape {labels.shape} and num_classes=None"
        )
    else:
        num_classes = int(labels.max()) + 1
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1).astype(np.intp)
    out = np.zeros((flat.size, num_classes), dtype=floatx())
    out[np.arange(flat.size), flat] = 1
    return out.reshape(*shape, num_classes)


def _refuse_first(bad, labels, *, rule, where="to_categorical"):
    """Raise ValueError naming the first label where ``bad`` is True (and how many there are)."""
    if not bad.any():
        return
    first = np.unravel_index(int(np.argmax(bad)), labels.shape)
    at = f"x[{', '.join(str(int(i)) for i in first)}]" if first else "x"
    count = int(bad.sum())
    more = f" ({count} such labels)" if count > 1 else ""
    raise ValueError(f"{where}: {rule}. Received: {at}={labels[first].item()!r}{more}")


def normalize(x, axis=-1, order=2):
    """Divide ``x`` by its L-``order`` norm along ``axis`` (Keras' ``keras.utils.normalize``):

        normalize(x)[..., i] = x[..., i] / (sum_j |x[..., j]|^order)^(1/order)      (axis=-1)

    ``order`` is a number >= 1 (2: Euclidean, 1: sum of absolute values) or ``math.inf``
    (the largest absolute value). A slice that is all zeros stays all zeros (its norm is
    taken as 1, as Keras does), so nothing is divided by zero.

    Returns a new float array of x's shape: float input keeps its dtype, integer input
    becomes float32 (``convolve.floatx()``). The norm is computed from ``x / max|x|`` along
    ``axis``, so it neither overflows nor underflows where the plain sum of powers would
    (float32 values of 1e30 normalise correctly).
    """
    where = "normalize"
    x = as_float_array(x, where=where, name="x")
    if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{where}: `axis` must be an integer. Received: axis={axis!r}")
    if x.ndim == 0:
        raise ValueError(f"{where}: x must have an axis to normalize along. Received: a scalar x of shape ()")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"{where}: `axis` must be in [-{x.ndim}, {x.ndim}) for x of rank {x.ndim}. "
            f"Received: axis={axis} with x.shape={x.shape}"
        )
    if not isinstance(order, numbers.Real) or isinstance(order, (bool, np.bool_)):
        raise TypeError(f"{where}: `order` must be a number >= 1 or math.inf. Received: order={order!r}")
    if math.isnan(order) or order < 1:
        raise ValueError(f"{where}: `order` must be a number >= 1 or math.inf. Received: order={order!r}")
    xp = get_array_module(x)
    if x.size == 0:
        return x.copy()
    peak = xp.max(xp.abs(x), axis=axis, keepdims=True)
    scaled = x / xp.where(peak == 0, xp.ones((), dtype=x.dtype), peak)  # |scaled| <= 1, its max 1
    if order == math.inf:
        return scaled  # the largest |x| is the norm; zero slices stay zero
    if order == 2:
        norm = xp.sqrt(xp.sum(scaled * scaled, axis=axis, keepdims=True))
    elif order == 1:
        norm = xp.sum(xp.abs(scaled), axis=axis, keepdims=True)
    else:
        p = float(order)  # a Python float keeps float32 arrays float32
        norm = xp.sum(xp.abs(scaled) ** p, axis=axis, keepdims=True) ** (1.0 / p)
    scaled /= xp.where(norm == 0, xp.ones((), dtype=x.dtype), norm)
    return scaled
