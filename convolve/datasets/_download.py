"""Download one file from a list of mirrors, verify its checksum, and only then put it in place.

Standard library only (``urllib``, imported on first use); ``tqdm`` draws the progress bar when it
is installed, otherwise a plain progress line goes to stderr.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time

from .._files import atomic_open

#: seconds to wait for a server to answer (per connection attempt and per read)
TIMEOUT = 30
_CHUNK = 1 << 16


class ChecksumError(ValueError):
    """A downloaded file's checksum is not the published one."""


class _ShortTransfer(OSError):
    """The server closed the connection before sending the Content-Length it announced."""


class DownloadError(OSError):
    """Every mirror failed for one file. ``file`` is its name, ``failures`` holds (url, reason)
    pairs, and ``offline`` is true when no server could even be reached."""

    def __init__(self, filename, failures, offline):
        self.file = filename
        self.failures = list(failures)
        self.offline = offline
        lines = "\n".join(f"  - {url}: {reason}" for url, reason in self.failures)
        super().__init__(f"Downloading {filename} failed from every mirror:\n{lines}")


def parse_checksum(checksum: str):
    """``"sha256:<64 hex>"`` or ``"md5:<32 hex>"`` -> (algorithm, hex digest)."""
    algorithm, _, digest = str(checksum).partition(":")
    algorithm = algorithm.lower()
    sizes = {"sha256": 64, "md5": 32}
    digest = digest.strip().lower()
    hex_digits = all(c in "0123456789abcdef" for c in digest)
    if algorithm not in sizes or len(digest) != sizes[algorithm] or not hex_digits:
        raise ValueError(
            f"A checksum must be 'sha256:' followed by 64 hex digits or 'md5:' followed by 32. "
            f"Received: checksum={checksum!r}"
        )
    return algorithm, digest


def mirror_url(base: str, filename: str) -> str:
    return (base if base.endswith("/") else base + "/") + filename


def _size(n) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} bytes"


class _LineProgress:
    """A progress line on stderr for when tqdm is not installed."""

    def __init__(self, desc, total):
        self.desc, self.total, self.done = desc, total, 0
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.last = 0.0
        if not self.tty:
            size = f" ({_size(self.total)})" if self.total else ""
            sys.stderr.write(f"Downloading {self.desc}{size}\n")

    def _line(self):
        if self.total:
            percent = 100 * self.done // self.total
            return f"\rDownloading {self.desc}: {percent:3d}% ({_size(self.done)} of {_size(self.total)})"
        return f"\rDownloading {self.desc}: {_size(self.done)}"

    def update(self, n):
        self.done += n
        now = time.monotonic()
        if self.tty and now - self.last > 0.2:
            self.last = now
            sys.stderr.write(self._line())
            sys.stderr.flush()

    def close(self):
        if self.tty:
            sys.stderr.write(self._line() + "\n")
            sys.stderr.flush()


def _progress(desc, total):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _LineProgress(desc, total)
    return tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=True
    )


def _fetch(url, dest, algorithm, digest, connected):
    """Stream ``url`` into a temporary file beside ``dest``, hashing as it goes; rename on a match.

    Appends to ``connected`` once the server has answered.
    """
    import urllib.request

    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        connected.append(url)
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        hasher = hashlib.new(algorithm)
        received = 0
        bar = _progress(os.path.basename(dest), total)
        try:
            with atomic_open(dest) as out:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    hasher.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                if total is not None and received != total:
                    raise _ShortTransfer(f"the transfer stopped after {received} of {total} bytes")
                actual = hasher.hexdigest()
                if actual != digest:
                    raise ChecksumError(
                        f"{algorithm.upper()} mismatch: expected {digest}, got {actual} "
                        f"({received} bytes); the file was not kept"
                    )
        finally:
            bar.close()


def download_file(bases, filename, dest, checksum):
    """Fetch ``filename`` from the first of ``bases`` (mirror base URLs) that serves it intact.

    The file is written to a temporary name beside ``dest``, its checksum checked, and
    only then renamed to ``dest``; a failed or mismatched download leaves nothing behind.
    Raises ``DownloadError`` listing every URL tried and why it failed.
    """
    import http.client
    import urllib.error

    algorithm, digest = parse_checksum(checksum)
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"Cannot download {filename}: the folder {folder!r} is not writable.")
    failures = [] if bases else [("(no URL)", "no download mirror is configured")]
    connected = []
    for base in bases:
        url = mirror_url(base, filename)
        try:
            _fetch(url, dest, algorithm, digest, connected)
            return dest
        except urllib.error.HTTPError as err:  # the server answered, with an error
            connected.append(url)
            failures.append((url, f"HTTP error {err.code} ({err.reason})"))
        except urllib.error.URLError as err:
            failures.append((url, f"could not connect ({err.reason})"))
        except (ChecksumError, _ShortTransfer) as err:
            failures.append((url, str(err)))
        except (OSError, http.client.HTTPException) as err:  # timeouts, resets, protocol errors, a full disk
            failures.append((url, f"{type(err).__name__}: {err}"))
    raise DownloadError(filename, failures, offline=not connected)
