"""Argument normalisation, done once, with Keras-style messages.

Every error says what was expected and ends with ``Received: name=value``,
prefixed by who asked (a layer name such as ``"Conv2D 'conv2d'"`` or an op
name such as ``"conv"``).
"""
from __future__ import annotations

import numbers

from ..backend import as_float_array

PADDINGS = ("valid", "same", "causal", "full")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
DATA_FORMATS = ("channels_last", "channels_first")


def _prefix(where):
    return f"{where}: " if where else ""


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def standardize_tuple(value, n: int, name: str, where: str = "", allow_zero: bool = False) -> tuple:
    """Turn an int or an n-sequence of ints into an n-tuple of ints.

    ``standardize_tuple(2, 3, "strides") == (2, 2, 2)``. Every entry must be a
    positive integer (or zero when ``allow_zero``).
    """
    if _is_int(value):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise TypeError(
                f"{_prefix(where)}the `{name}` argument must be an int or a tuple of {n} ints. "
                f"Received: {name}={value!r}"
            ) from None
        if len(values) != n or not all(_is_int(v) for v in values):
            raise ValueError(
                f"{_prefix(where)}the `{name}` argument must be an int or a tuple of {n} ints. "
                f"Received: {name}={value!r}"
            )
        values = tuple(int(v) for v in values)
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{_prefix(where)}the `{name}` argument must contain only {kind} integers. "
            f"Received: {name}={value!r}"
        )
    return values


def check_int(value, name: str, where: str = "", minimum: int = 1, none_ok: bool = False):
    """``value`` as an int (Python or NumPy integer, not bool) that is at least ``minimum``;
    None passes through when ``none_ok``. Floats, strings and bools are refused, even 2.0."""
    if value is None and none_ok:
        return None
    if not _is_int(value) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(
            f"{_prefix(where)}`{name}` must be {kind}{' or None' if none_ok else ''}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_choice(value, choices, name: str, where: str = ""):
    """Lower-case ``value`` and check it is one of ``choices``."""
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    listing = "{" + ", ".join(repr(c) for c in choices) + "}"
    raise ValueError(
        f"{_prefix(where)}the `{name}` argument must be one of {listing}. Received: {name}={value!r}"
    )


def standardize_data_format(value, where: str = "") -> str:
    if value is None:
        return "channels_last"
    return check_choice(value, DATA_FORMATS, "data_format", where)


def standardize_padding(padding, n: int, where: str = ""):
    """Normalise a convolution's padding.

    Returns either one of the names in ``PADDINGS`` or an n-tuple of (before, after)
    pairs of non-negative ints. Accepted: a name; an int; a tuple of n ints; a tuple of
    n (before, after) pairs. 'causal' is for 1-D only.
    """
    if isinstance(padding, str):
        name = check_choice(padding, PADDINGS, "padding", where)
        if name == "causal" and n != 1:
            raise ValueError(
                f"{_prefix(where)}padding='causal' is only for 1-D convolutions (Conv1D); "
                f"this one has {n} spatial dimensions. Received: padding={padding!r}"
            )
        return name
    listing = "{" + ", ".join(repr(c) for c in PADDINGS) + "}"
    expected = (
        f"the `padding` argument must be one of {listing}, a non-negative int, a tuple of {n} ints, "
        f"or a tuple of {n} (before, after) pairs"
    )
    if _is_int(padding):
        if padding < 0:
            raise ValueError(f"{_prefix(where)}{expected}. Received: padding={padding!r}")
        return tuple((int(padding), int(padding)) for _ in range(n))
    try:
        items = tuple(padding)
    except TypeError:
        raise ValueError(f"{_prefix(where)}{expected}. Received: padding={padding!r}") from None
    if len(items) != n:
        raise ValueError(f"{_prefix(where)}{expected}. Received: padding={padding!r}")
    pairs = []
    for item in items:
        if _is_int(item):
            pair = (item, item)
        else:
            try:
                pair = tuple(item)
            except TypeError:
                raise ValueError(f"{_prefix(where)}{expected}. Received: padding={padding!r}") from None
        if len(pair) != 2 or not all(_is_int(v) and v >= 0 for v in pair):
            raise ValueError(f"{_prefix(where)}{expected}. Received: padding={padding!r}")
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


def standardize_padding_mode(value, where: str = "") -> str:
    return check_choice(value, PADDING_MODES, "padding_mode", where)


def bias_array(bias, size: int, where: str):
    """``bias`` as a float array of shape (size,), or None; the one check every op with a bias runs."""
    if bias is None:
        return None
    bias = as_float_array(bias, where=where, name="bias")
    if bias.shape != (size,):
        raise ValueError(f"{where}: expected bias of shape ({size},). Received: bias.shape={bias.shape}")
    return bias

