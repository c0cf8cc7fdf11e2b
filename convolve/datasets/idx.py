"""Read and write IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a small header followed by the array's bytes, big-endian, in C order::

    bytes 0-1   two zero bytes
    byte  2     the element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     the number of dimensions, n
    4 * n       each dimension's size as a big-endian uint32
    the rest    prod(sizes) elements, big-endian

So ``train-images-idx3-ubyte`` starts ``00 00 08 03``, then 60000, 28, 28.

``read_idx`` checks every part of that and refuses a file whose length does not match
its header exactly, naming the file and the problem: a download cut short gives a
clear ``ValueError`` rather than a crash or a silently short array. Files compressed
with gzip (as the datasets are distributed) are recognised by their first bytes.

Rules, and why:

- **At most ``MAX_NDIM`` (32) dimensions**, read and written. MNIST-style files have 1 to 3;
  32 is NumPy 1.x's limit (NumPy 2 allows 64), so every file ``write_idx`` writes can be
  read with any NumPy, and a damaged fourth byte (255 dimensions) is reported with the
  file's name instead of NumPy's "maximum supported dimension" error.
- **The declared size is checked against the file before anything is allocated.** A
  plain file's size must equal header plus data exactly. A gzip file's uncompressed size
  is only known by decompressing it, but deflate never expands more than 1032:1, so a
  header declaring more than 1032 times the compressed file's size is refused at once;
  below that bound a short stream is found while reading it, and the empty array's memory
  is only touched (made resident) as the data arrive.
- **About 1x memory.** The array is allocated once, empty, at its final shape, and the
  data are read (or decompressed) straight into it in 1 MiB pieces; multi-byte types are
  then byte-swapped in place. Loading the full Fashion-MNIST (52 MiB of arrays) raises the
  process' peak memory by 1.02x the arrays' size (it was 1.71x with a bytes copy beside them).
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import zlib

import numpy as np

from .._files import atomic_open

#: IDX type code -> NumPy dtype (big-endian, as stored)
DTYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_FOR_DTYPE = {dtype.newbyteorder("="): code for code, dtype in DTYPE_CODES.items()}

#: the most dimensions read_idx accepts and write_idx writes (NumPy 1.x's limit; see above)
MAX_NDIM = 32

#: deflate's largest expansion (zlib's documented maximum compression ratio, 1032:1)
MAX_GZIP_RATIO = 1032

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def _type_listing() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.newbyteorder('=').name})" for code, dtype in DTYPE_CODES.items())


def _read_exactly(f, n: int) -> bytes:
    """Read ``n`` bytes (a header's few), or fewer only at the end of the file."""
    data = b""
    while len(data) < n:
        chunk = f.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def read_idx(path) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a NumPy array.

    Returns an array of the file's shape in native byte order (uint8 for the image and
    label files of MNIST and Fashion-MNIST). Raises ``FileNotFoundError`` when the file
    does not exist and ``ValueError`` naming the file for anything wrong inside it: a bad
    magic number, an unknown type code, no dimensions or more than ``MAX_NDIM``, a shape
    NumPy cannot hold, a file shorter or longer than its header says, or a damaged gzip
    stream. A header that declares more data than the file can hold is refused before
    anything is allocated (see the module docstring).
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        start = raw.read(4)
        raw.seek(0)
        compressed = start[:2] == _GZIP_MAGIC
        if path.endswith(".gz") and not compressed:
            raise ValueError(
                f"The IDX file {path!r} is named .gz but is not gzip-compressed (a gzip file starts "
                f"with the bytes 1f 8b). Received: first bytes {start.hex(' ') or 'none (empty file)'}"
            )
        try:
            if not compressed:
                return _read_idx_stream(raw, path=path, size=size, compressed=False)
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _read_idx_stream(f, path=path, size=size, compressed=True)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise ValueError(
                f"The IDX file {path!r} is a damaged gzip file (truncated or corrupt); delete it and "
                f"download it again. Received: {type(err).__name__}: {err}"
            ) from None


@dataclasses.dataclass
class _Header:
    """What an IDX header declares, with the file's name for messages."""

    path: str
    dtype: np.dtype  # as stored: big-endian
    shape: tuple
    what: str  # " after decompression" for a gzip file, else ""

    @property
    def header_bytes(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def data_bytes(self) -> int:
        return int(np.prod(self.shape, dtype=object)) * self.dtype.itemsize

    def needs(self) -> str:
        name = self.dtype.newbyteorder("=").name
        return (
            f"shape {self.shape} of {name}, which needs {self.header_bytes + self.data_bytes} "
            f"bytes{self.what} ({self.header_bytes} of header and {self.data_bytes} of data)"
        )

    def truncated(self, total: int) -> ValueError:
        return ValueError(
            f"The IDX file {self.path!r} is truncated: its header declares {self.needs()}; delete it "
            f"and download it again. Received: {total} bytes{self.what}"
        )

    def too_long(self, rest: int) -> ValueError:
        return ValueError(
            f"The IDX file {self.path!r} is longer than its header says: {self.needs()}; it may be a "
            f"different file or two files joined together. "
            f"Received: {rest} more {'byte' if rest == 1 else 'bytes'}"
        )


def _read_header(f, path: str, what: str) -> _Header:
    """Read and check the header; every problem is named with the file."""
    header = _read_exactly(f, 4)
    if len(header) < 4:
        raise ValueError(
            f"The IDX file {path!r} is too short to be an IDX file: the header alone needs at least "
            f"4 bytes. Received: {len(header)} bytes{what}"
        )
    start = f"first 4 bytes {header.hex(' ')}"
    if header[0] != 0 or header[1] != 0:
        raise ValueError(
            f"The IDX file {path!r} has a bad magic number: an IDX file starts with two zero bytes, "
            f"then a type code and the number of dimensions. Received: {start}"
        )
    code, ndim = header[2], header[3]
    if code not in DTYPE_CODES:
        raise ValueError(
            f"The IDX file {path!r} has an unknown type code 0x{code:02X}; expected one of "
            f"{_type_listing()}. Received: {start}"
        )
    if not 1 <= ndim <= MAX_NDIM:
        raise ValueError(
            f"The IDX file {path!r} declares {ndim} dimensions; expected 1 to {MAX_NDIM} "
            f"(MNIST-style files have 1 to 3). Received: {start}"
        )
    sizes = _read_exactly(f, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(
            f"The IDX file {path!r} is truncated inside its header: it declares {ndim} dimensions, "
            f"which need {4 * ndim} bytes of sizes after the first 4. "
            f"Received: {len(sizes)} bytes after the first 4{what}"
        )
    shape = tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, 4 * ndim, 4))
    return _Header(path=path, dtype=DTYPE_CODES[code], shape=shape, what=what)


def _check_declared_size(header: _Header, size: int, compressed: bool) -> None:
    """Refuse a shape that a file of ``size`` bytes cannot hold, or NumPy cannot, before allocating it."""
    needed = header.header_bytes + header.data_bytes
    if not compressed and needed > size:
        raise header.truncated(size)
    if not compressed and needed < size:
        raise header.too_long(size - needed)
    if compressed and needed > MAX_GZIP_RATIO * size:
        raise ValueError(
            f"The IDX file {header.path!r} is truncated or its header is damaged: the header declares "
            f"{header.needs()}, but a gzip file of {size} bytes decompresses to at most "
            f"{MAX_GZIP_RATIO * size} (deflate expands at most {MAX_GZIP_RATIO}:1). "
            f"Received: shape {header.shape} in a gzip file of {size} bytes"
        )
    # NumPy refuses a shape whose sizes other than 0 multiply past its largest array, even with a 0
    span = int(np.prod([d for d in header.shape if d], dtype=object)) * header.dtype.itemsize
    if span > np.iinfo(np.intp).max:
        raise ValueError(
            f"The IDX file {header.path!r} declares a shape NumPy cannot hold: its sizes other than 0 "
            f"multiply to {span} bytes, more than NumPy's largest array ({np.iinfo(np.intp).max} bytes). "
            f"Received: shape {header.shape}"
        )


def _read_idx_stream(f, path: str, size: int, compressed: bool) -> np.ndarray:
    """Check the header against ``size`` (the file's bytes), then read the data straight into the array."""
    header = _read_header(f, path, " after decompression" if compressed else "")
    _check_declared_size(header, size, compressed)
    array = np.empty(header.shape, dtype=header.dtype)  # big-endian, as stored; swapped in place below
    flat = memoryview(array.reshape(-1).view(np.uint8))
    got = 0
    while got < len(flat):
        n = f.readinto(flat[got : got + _CHUNK])
        if not n:
            break
        got += n
    if got < len(flat):
        raise header.truncated(header.header_bytes + got)
    if f.read(1):
        raise header.too_long(1 + sum(len(chunk) for chunk in iter(lambda: f.read(_CHUNK), b"")))
    if header.dtype.isnative:
        return array
    return array.byteswap(inplace=True).view(header.dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    The array must have 1 to ``MAX_NDIM`` dimensions, each below 2**32, and a dtype IDX can
    hold: uint8, int8, int16, int32, float32 or float64. The file is written to a
    temporary name beside ``path`` and renamed into place, so a reader never sees half
    of it. Compressed output is reproducible (no timestamp or name in the gzip header).
    """
    path = os.fspath(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_FOR_DTYPE:
        names = ", ".join(d.name for d in _CODE_FOR_DTYPE)
        raise ValueError(
            f"write_idx: an IDX file can hold only {names}. Received: array.dtype={array.dtype}"
        )
    if not 1 <= array.ndim <= MAX_NDIM:
        raise ValueError(
            f"write_idx: the array must have 1 to {MAX_NDIM} dimensions (read_idx reads no more). "
            f"Received: array.shape={array.shape}"
        )
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(
            f"write_idx: every dimension must be below 2**32. Received: array.shape={array.shape}"
        )
    sizes = np.asarray(array.shape, dtype=">u4").tobytes()
    header = bytes([0, 0, _CODE_FOR_DTYPE[native], array.ndim]) + sizes
    # the big-endian bytes, written from the array itself (a copy only when it must be swapped or gathered)
    body = memoryview(np.ascontiguousarray(array, dtype=native.newbyteorder(">")).reshape(-1).view(np.uint8))
    with atomic_open(path) as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
                f.write(header)
                f.write(body)
        else:
            raw.write(header)
            raw.write(body)
