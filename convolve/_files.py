"""Atomic file writes, used by everything that writes a file (model files, pictures, downloads).

Write to a temporary file beside the target, flush it to disk, then rename it into place: a
reader (or a crash) never sees half a file, and an existing file is kept until the new one is
complete.

The temporary file is ``.<name>.<host>.<pid>.<random>.part`` (host: 8 hex digits of a hash of
the host name). A process killed outright (SIGKILL, a power cut) cannot remove its part, so
the next write to the same target does: it removes the target's parts whose process is no
longer alive on this host, and any older than ``STALE_AFTER`` seconds, whoever wrote them.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import time

#: a part file this old (seconds since its last write) is abandoned, whatever wrote it
STALE_AFTER = 3600.0
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


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
    remove_stale_parts(folder, name)
    tmp = os.path.join(folder, f".{name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.part")
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


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (True when that cannot be told)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists but belongs to someone else, or cannot be asked: keep its part
    return True


def remove_stale_parts(folder: str, name: str) -> list:
    """Remove the abandoned ``.part`` files of target ``name`` in ``folder``; their paths.

    A part is abandoned when it was written on this host by a process that is gone, or when
    it has not been written to for ``STALE_AFTER`` seconds. Parts of other targets, and parts
    still being written, are left alone. Parts named without a host (convolve 0.1's) count
    as this host's.
    """
    pattern = re.compile(r"^\." + re.escape(name) + r"\.(?:([0-9a-f]{8})\.)?(\d+)\.[0-9a-f]{8}\.part$")
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.match(entry)
        if match is None:
            continue
        host, pid = match.group(1), int(match.group(2))
        part = os.path.join(folder, entry)
        try:
            age = now - os.lstat(part).st_mtime
        except OSError:
            continue
        if age > STALE_AFTER or (host in (None, _HOST) and not _alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(part)
                removed.append(part)
    return removed


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
