"""What every loader checks before it trusts a file: a model file is untrusted input.

* Only a regular file is read: a device (``/dev/zero``), a FIFO or a socket is refused before
  anything is read from it (it is opened non-blocking and checked with ``fstat``, so a FIFO
  cannot block and the file checked is the file read).
* Sizes come from the file system, and declared sizes (a header's length, the bytes a
  model's weights would take) are compared with them before anything is allocated.
* JSON is bounded: at most ``MAX_JSON_DEPTH`` levels of nesting. Python's parser gives up
  with ``RecursionError`` somewhere near a thousand levels; both become a ``ValueError``
  that names the file.
"""
from __future__ import annotations

import json
import os
import stat

#: the most nested levels of lists and objects a file's JSON may have
MAX_JSON_DEPTH = 64
#: the largest header (JSON) a file may declare, in bytes
MAX_HEADER_BYTES = 100 * 1024 * 1024


def fail(path, problem) -> ValueError:
    return ValueError(f"Cannot load '{path}': {problem}")


def checked_path(filepath, where: str) -> str:
    """``filepath`` as a str naming a regular file: TypeError, FileNotFoundError or
    IsADirectoryError as Python names them, ValueError for a device, FIFO or socket (checked
    with ``stat``, which neither reads nor blocks)."""
    try:
        path = os.fspath(filepath)
    except TypeError:
        raise TypeError(
            f"{where}: the file path must be a str or os.PathLike. Received: filepath={filepath!r}"
        ) from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"{where}: no such file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{where}: '{path}' is a directory, not a model file")
    _require_regular(path, os.stat(path).st_mode)
    return path


def _require_regular(path, mode) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
        else "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise fail(path, f"it is {kind}; only regular files are read. Received: a file of mode {oct(mode)}")


def open_regular_file(path: str):
    """Open ``path`` for reading if it is a regular file; (binary file object, size in bytes).

    Opened non-blocking and checked with ``fstat``: the file checked is the file read, even if
    the name was swapped for a FIFO since ``checked_path`` looked at it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        _require_regular(path, info.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


def read_exactly(file, n: int, path, what: str) -> bytes:
    """``n`` bytes from ``file``; a ValueError naming ``what`` if the file ends first."""
    data = file.read(n)
    if len(data) != n:
        raise fail(
            path, f"the file ended while reading {what}: expected {n} bytes. Received: {len(data)} bytes"
        )
    return data


def json_depth(value) -> int:
    """How many levels of lists and objects ``value`` nests (0 for a number or a string)."""
    depth, level = 0, [(value, 1)]
    while level:
        item, d = level.pop()
        if isinstance(item, (dict, list)):
            depth = max(depth, d)
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, d + 1) for child in children if isinstance(child, (dict, list)))
    return depth


def loads(text, path, what: str, invalid: str | None = None):
    """``json.loads(text)`` with nesting at most ``MAX_JSON_DEPTH``; ValueError naming ``what``
    (or saying ``invalid``, when given, for text that is not JSON)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise fail(path, f"its {what} nests JSON more than {MAX_JSON_DEPTH} levels deep") from None
    except (UnicodeDecodeError, ValueError) as error:
        message = invalid or f"its {what} is not valid JSON ({error}). Received: {str(text)[:80]!r}"
        raise fail(path, message) from None
    depth = json_depth(value)
    if depth > MAX_JSON_DEPTH:
        raise fail(
            path, f"its {what} nests JSON more than {MAX_JSON_DEPTH} levels deep. Received: {depth} levels"
        )
    return value
