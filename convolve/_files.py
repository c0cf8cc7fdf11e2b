"""Atomic file writes, used by everything that writes a file (model files, pictures, downloads).

Write to a temporary file beside the target, flush it to disk, then rename it into place: a
reader (or a crash) never sees half a file, and an existing file is kept until the new one is
complete.
"""
from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary file beside ``path`` for binary writing; rename it to ``path`` on success.

    On any error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was.
    The data is flushed to disk (fsync) before the rename, and the rename itself is made durable
    where the OS allows it (POSIX). The temporary file is created with the usual permissions
    (the umask applies), unlike ``tempfile.mkstemp``'s owner-only ones.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    f = open(tmp, "xb")
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """fsync the folder so the rename survives a power cut (POSIX; a no-op where not possible)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
