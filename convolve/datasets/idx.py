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
"""
from __future__ import annotations

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

_GZIP_MAGIC = b"\x1f\x8b"


def _type_listing() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.newbyteorder('=').name})" for code, dtype in DTYPE_CODES.items())


def _is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_exactly(f, n: int) -> bytearray:
    """Read ``n`` bytes, or fewer only at the end of the file, into a writable buffer.

    Read in chunks, so a damaged header that declares a huge shape costs no more memory
    than the file really holds.
    """
    chunks, got = [], 0
    while got < n:
        chunk = f.read(min(n - got, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return bytearray().join(chunks)


def read_idx(path) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a NumPy array.

    Returns an array of the file's shape in native byte order (uint8 for the image and
    label files of MNIST and Fashion-MNIST). Raises ``FileNotFoundError`` when the file
    does not exist and ``ValueError`` naming the file for anything wrong inside it: a bad
    magic number, an unknown type code, no dimensions, a file shorter or longer than its
    header says, or a damaged gzip stream.
    """
    path = os.fspath(path)
    compressed = _is_gzip(path)
    if path.endswith(".gz") and not compressed:
        raise ValueError(
            f"The IDX file {path!r} is named .gz but is not gzip-compressed "
            f"(a gzip file starts with the bytes 1f 8b)."
        )
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            return _read_idx_stream(f, path, compressed)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(
            f"The IDX file {path!r} is a damaged gzip file (truncated or corrupt): {err}. "
            f"Delete it and download it again."
        ) from None


def _read_idx_stream(f, path: str, compressed: bool) -> np.ndarray:
    what = " after decompression" if compressed else ""
    header = _read_exactly(f, 4)
    if len(header) < 4:
        raise ValueError(
            f"The IDX file {path!r} is too short to be an IDX file: it has {len(header)} bytes{what} "
            f"and the header alone needs at least 4."
        )
    if header[0] != 0 or header[1] != 0:
        raise ValueError(
            f"The IDX file {path!r} has a bad magic number: an IDX file starts with two zero bytes, "
            f"then a type code and the number of dimensions. Received: first 4 bytes {bytes(header).hex(' ')}"
        )
    code, ndim = header[2], header[3]
    if code not in DTYPE_CODES:
        raise ValueError(
            f"The IDX file {path!r} has an unknown type code 0x{code:02X}; expected one of "
            f"{_type_listing()}. Received: first 4 bytes {bytes(header).hex(' ')}"
        )
    if ndim == 0:
        raise ValueError(
            f"The IDX file {path!r} declares 0 dimensions; expected at least 1. "
            f"Received: first 4 bytes {bytes(header).hex(' ')}"
        )
    dims_bytes = _read_exactly(f, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(
            f"The IDX file {path!r} is truncated inside its header: it declares {ndim} dimensions, "
            f"which need {4 * ndim} bytes of sizes after the first 4, but only {len(dims_bytes)} follow{what}."
        )
    shape = tuple(int(d) for d in np.frombuffer(bytes(dims_bytes), dtype=">u4"))
    dtype = DTYPE_CODES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    header_size = 4 + 4 * ndim
    data = _read_exactly(f, expected)
    if len(data) < expected:
        raise ValueError(
            f"The IDX file {path!r} is truncated: its header declares shape {shape} of "
            f"{dtype.newbyteorder('=').name}, which needs {header_size + expected} bytes{what} "
            f"({header_size} of header and {expected} of data), but it has only "
            f"{header_size + len(data)}. Delete it and download it again."
        )
    extra = f.read(1)
    if extra:
        rest = 1 + sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))
        raise ValueError(
            f"The IDX file {path!r} is longer than its header says: shape {shape} of "
            f"{dtype.newbyteorder('=').name} needs {header_size + expected} bytes{what} "
            f"({header_size} of header and {expected} of data), but {rest} more "
            f"{'byte follows' if rest == 1 else 'bytes follow'}. "
            f"It may be a different file or two files joined together."
        )
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    native = dtype.newbyteorder("=")
    return array if dtype.itemsize == 1 else array.astype(native)


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    The array must have at least one dimension, each below 2**32, and a dtype IDX can
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
    if array.ndim < 1 or array.ndim > 255:
        raise ValueError(
            f"write_idx: the array must have between 1 and 255 dimensions. Received: array.shape={array.shape}"
        )
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(
            f"write_idx: every dimension must be below 2**32. Received: array.shape={array.shape}"
        )
    header = bytes([0, 0, _CODE_FOR_DTYPE[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    with atomic_open(path) as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
                f.write(header)
                f.write(body)
        else:
            raw.write(header)
            raw.write(body)
