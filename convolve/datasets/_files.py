"""Atomic file writes: write to a temporary file beside the target, then rename it into place."""
from __future__ import annotations

import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary file beside ``path`` for binary writing; rename it to ``path`` on success.

    On any error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was,
    so a reader never sees half a file. The temporary file is created with the usual
    permissions (the umask applies), unlike ``tempfile.mkstemp``'s owner-only ones.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    f = open(tmp, "xb")
    try:
        with f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
