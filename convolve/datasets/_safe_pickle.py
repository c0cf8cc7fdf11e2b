"""Unpickle the CIFAR "python version" files without running anything a file names.

The python archives of CIFAR-10 and CIFAR-100 hold dictionaries pickled by Python 2's
cPickle (protocol 2): strings, integers, lists, and one NumPy array of pixels. ``pickle.load``
on such a file calls whatever functions the file names (``os.system``, ``builtins.eval``);
``load`` here cannot:

- **Four names, no others.** ``find_class`` resolves only what a NumPy array's pickle names:
  ``numpy.core.multiarray._reconstruct`` (``numpy._core.multiarray._reconstruct`` as NumPy 2
  writes it), ``numpy.ndarray`` and ``numpy.dtype``. Any other name is refused with a
  ``ValueError`` before anything is called; extension codes and persistent ids go through
  the same refusal.
- **Not even NumPy runs.** Those four resolve to inert stand-ins that only record the
  arguments and state the pickle hands them (a dtype string, a shape, the raw bytes).
  ``array_from_record`` then checks them against the shape the caller expects and builds
  the array itself, so no NumPy code ever sees state taken from the file.
- **Reads bounded by the file's size.** The file is read through ``_BoundedReader``, which
  never asks for more than the bytes left, so a length field claiming gigabytes ends in
  "truncated" rather than in a read of that size. (CPython allocates a ``BINBYTES`` object's
  declared size before reading it; that memory is reserved, never written, and freed when
  the read comes up short.)
"""
from __future__ import annotations

import pickle
import struct

import numpy as np

#: the globals a pickled NumPy array names (NumPy 1's and NumPy 2's spellings), and nothing else
ALLOWED_GLOBALS = (
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
)

_PIECE = 1 << 20


def as_text(value):
    """A pickled Python 2 ``str`` arrives as bytes (``encoding="bytes"``); names are ASCII."""
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


class _NdarrayName:
    """What ``numpy.ndarray`` resolves to: a marker passed to ``_reconstruct``, never called."""

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _NdarrayName()


class DtypeRecord:
    """What ``numpy.dtype(...)`` resolves to: the type string and the state, recorded, unchecked."""

    def __init__(self, *args):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state

    @property
    def typestr(self):
        return as_text(self.args[0]) if self.args else None


class ArrayRecord:
    """What ``_reconstruct(numpy.ndarray, (0,), b"b")`` resolves to; the pickle's BUILD fills it.

    NumPy's array state is ``(version, shape, dtype, fortran_order, raw_bytes)`` (version 1),
    or the same without the version.
    """

    def __init__(self, *args):
        self.args = args
        self.state = None

    def __setstate__(self, state):
        self.state = state


def _reconstruct(*args):
    return ArrayRecord(*args)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        if (module, name) == ("numpy", "dtype"):
            return DtypeRecord
        if (module, name) in ALLOWED_GLOBALS:
            return _reconstruct
        raise _Refused(f"{module}.{name}")

    def persistent_load(self, pid):
        raise _Refused(f"persistent id {pid!r}")


class _Refused(Exception):
    """A name outside ALLOWED_GLOBALS; turned into the ValueError that names the file."""


class _BoundedReader:
    """``f`` as the unpickler sees it: never more than ``size`` bytes, and never a read past them."""

    def __init__(self, f, size: int):
        self._f = f
        self.remaining = size

    def _take(self, data):
        self.remaining -= len(data)
        return data

    def read(self, n=-1):
        """At most ``n`` bytes; a large read is gathered in 1 MiB pieces (tarfile's stream copies less)."""
        n = self.remaining if n is None or n < 0 else min(n, self.remaining)
        if n <= _PIECE:
            return self._take(self._f.read(n))
        pieces = []
        while n > 0:
            piece = self._f.read(min(n, _PIECE))
            if not piece:
                break
            pieces.append(piece)
            n -= len(piece)
        return self._take(b"".join(pieces))

    def readline(self, limit=-1):
        n = self.remaining if limit is None or limit < 0 else min(limit, self.remaining)
        return self._take(self._f.readline(n))


class _PeekingReader(_BoundedReader):
    """A ``_BoundedReader`` over a buffered file: the unpickler prefetches through ``peek``."""

    def peek(self, n=0):
        """Bytes ahead without consuming them, within the bound."""
        if not self.remaining:
            return b""
        return self._f.peek(min(max(n, 1), self.remaining))[: self.remaining]


def load(f, size: int, what: str):
    """Unpickle ``f`` (``size`` bytes are its own) with only the array stand-ins above allowed.

    ``what`` names the file in messages. Raises ``ValueError`` when the file names any other
    global (nothing it names is called) or is not a readable pickle.
    """
    reader = (_PeekingReader if hasattr(f, "peek") else _BoundedReader)(f, size)
    try:
        return _Unpickler(reader, encoding="bytes").load()
    except _Refused as refused:
        allowed = ", ".join(f"{module}.{name}" for module, name in ALLOWED_GLOBALS)
        raise ValueError(
            f"{what} names something a CIFAR file never needs, so it was not unpickled (nothing it "
            f"names was called; the file is damaged or was made to run code). A CIFAR file names only "
            f"{allowed}. Received: a reference to {refused}"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, MemoryError, RecursionError, UnicodeDecodeError, struct.error) as err:
        raise ValueError(
            f"{what} is not a readable pickle (truncated or damaged); delete it and get it again. "
            f"Received: {type(err).__name__}: {err}"
        ) from None


def _state_error(what, expected, received):
    return ValueError(f"{what}: the pickled array's {expected}. Received: {received}")


def array_from_record(record, shape: tuple, what: str) -> np.ndarray:
    """The uint8 array of ``shape`` that ``record`` (an ``ArrayRecord``) describes, built by NumPy here.

    Checks every part of the recorded state: the ``_reconstruct`` arguments NumPy writes
    (``numpy.ndarray, (0,), b"b"``), the state's length and version, a dtype of ``u1`` with no
    fields or subarray, the shape, and exactly ``prod(shape)`` bytes of data. The result
    views the pickle's bytes (read-only, C or Fortran order as recorded).
    """
    if not isinstance(record, ArrayRecord):
        raise _state_error(what, "entry must be a NumPy array", f"a {type(record).__name__}")
    args = record.args
    if len(args) != 3 or args[0] is not _NDARRAY or args[1] != (0,) or as_text(args[2]) != "b":
        raise _state_error(what, "reconstruction must be _reconstruct(numpy.ndarray, (0,), b'b')",
                           f"arguments {args!r}")
    state = record.state
    if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
        state = state[1:]
    if not isinstance(state, tuple) or len(state) != 4:
        raise _state_error(what, "state must be (1, shape, dtype, fortran_order, bytes)",
                           f"{_short(record.state)}")
    declared, dtype, fortran, data = state
    _check_dtype(dtype, what)
    if declared != shape:
        raise _state_error(what, f"shape must be {shape}", f"shape {declared!r}")
    if not isinstance(data, (bytes, bytearray)) or len(data) != int(np.prod(shape)):
        size = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
        raise _state_error(what, f"data must be {int(np.prod(shape))} bytes (shape {shape} of uint8)",
                           f"{size}")
    if fortran not in (True, False, 0, 1):
        raise _state_error(what, "fortran_order flag must be True or False", f"{fortran!r}")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape, order="F" if fortran else "C")


def _check_dtype(dtype, what):
    """A ``u1`` dtype: NumPy's ``dtype("u1", 0, 1)`` with state (3, "|", None, None, None, -1, -1, 0)."""
    ok = isinstance(dtype, DtypeRecord) and dtype.typestr == "u1" and len(dtype.args) == 3
    state = dtype.state if isinstance(dtype, DtypeRecord) else None
    ok = ok and isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4)
    ok = ok and as_text(state[1]) in ("|", "<", ">", "=") and state[2:5] == (None, None, None)
    if not ok:
        received = f"dtype{dtype.args!r} with state {_short(state)}" if isinstance(dtype, DtypeRecord) else (
            f"a {type(dtype).__name__}")
        raise _state_error(what, "dtype must be uint8 ('u1', no fields)", received)


def _short(value, limit=120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
