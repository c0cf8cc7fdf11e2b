import gzip
import os
import re
import tracemalloc

import numpy as np
import pytest

from convolve.datasets import idx
from convolve.datasets.idx import read_idx, write_idx


@pytest.fixture
def files(tmp_path):
    """An empty folder of its own (tmp_path also holds the isolated HOME and working directory)."""
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (2, 3, 4, 5), (0, 4)])
def test_round_trip(files, dtype, shape, gz):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    else:
        array = rng.standard_normal(shape).astype(dtype)
    path = files / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert [p.name for p in files.iterdir()] == [path.name]  # no temporary file left behind


def test_byte_layout_matches_the_format(files):
    # the first bytes of MNIST's label file, then three labels
    write_idx(files / "l", np.array([5, 0, 4], dtype=np.uint8))
    assert (files / "l").read_bytes() == bytes.fromhex("00000801 00000003 050004")
    write_idx(files / "i", np.array([[1, -2]], dtype=np.int32))
    assert (files / "i").read_bytes() == bytes.fromhex("00000c02 00000001 00000002 00000001 fffffffe")
    raw = bytes.fromhex("00000d01 00000002 3f800000 c0000000")  # float32 1.0, -2.0, big-endian
    (files / "f").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(files / "f"), np.array([1.0, -2.0], dtype=np.float32))


def test_gzip_output_is_reproducible(files):
    array = np.arange(100, dtype=np.uint8)
    write_idx(files / "a.gz", array)
    os.utime(files / "a.gz", (0, 0))
    write_idx(files / "b.gz", array)
    assert (files / "a.gz").read_bytes() == (files / "b.gz").read_bytes()


def test_big_endian_input_array_is_written_correctly(files):
    array = np.array([1, 256, -3], dtype=">i2")
    write_idx(files / "x", array)
    np.testing.assert_array_equal(read_idx(files / "x"), array)


def _write(files, data, name="bad-idx", gz=False):
    path = files / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


GOOD = bytes.fromhex("00000803 00000002 00000002 00000003") + bytes(12)
#: 255 dimensions of size 1 and one byte of data: before the limit, NumPy's reshape refused it unnamed
DIMS_255 = bytes.fromhex("000008ff") + (1).to_bytes(4, "big") * 255 + b"\x07"
DIMS_33 = bytes.fromhex("00000821") + (1).to_bytes(4, "big") * 33 + b"\x07"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "too short to be an IDX file: the header alone needs at least 4 bytes. Received: 0 bytes"),
        (b"\x00\x00", "the header alone needs at least 4 bytes. Received: 2 bytes"),
        (b"\x01\x00\x08\x01" + bytes(8), "bad magic number: an IDX file starts with two zero bytes"),
        (b"PK\x03\x04" + bytes(8), "bad magic number"),
        (bytes.fromhex("00000a01 00000001 00"), "unknown type code 0x0A; expected one of 0x08 (uint8)"),
        (bytes.fromhex("00000800"),
         "declares 0 dimensions; expected 1 to 32 (MNIST-style files have 1 to 3). "
         "Received: first 4 bytes 00 00 08 00"),
        (DIMS_255, "declares 255 dimensions; expected 1 to 32 (MNIST-style files have 1 to 3). "
         "Received: first 4 bytes 00 00 08 ff"),
        (DIMS_33, "declares 33 dimensions; expected 1 to 32"),
        (bytes.fromhex("00000803 00000002 0000"), "truncated inside its header: it declares 3 dimensions, "
         "which need 12 bytes of sizes after the first 4. Received: 6 bytes after the first 4"),
        (GOOD[:-1], "is truncated: its header declares shape (2, 2, 3) of uint8, which needs 28 bytes"),
        (GOOD[:16], "delete it and download it again. Received: 16 bytes"),
        (GOOD + b"\x00", "is longer than its header says: shape (2, 2, 3) of uint8, which needs 28 bytes"),
        (GOOD + b"\x00", "two files joined together. Received: 1 more byte"),
        (GOOD + GOOD, "Received: 28 more bytes"),
    ],
)
def test_bad_contents_give_a_clear_error(files, data, message, gz):
    path = _write(files, data, gz=gz)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    if gz and any(word in message for word in ("too short", "truncated", "longer", "more byte")):
        assert "after decompression" in str(info.value)


def test_largest_number_of_dimensions_is_read(files):
    data = bytes.fromhex("00000820") + (1).to_bytes(4, "big") * 32 + b"\x07"
    back = read_idx(_write(files, data))
    assert back.shape == (1,) * 32 and back.item() == 7


#: a valid IDX file of 12,800 bytes of data
PAYLOAD = bytes.fromhex("00000801") + (12800).to_bytes(4, "big") + bytes(range(256)) * 50


def _peak_bytes(function):
    """Run ``function`` and return the peak of memory allocated meanwhile (Python objects and NumPy
    arrays both report to tracemalloc)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_huge_declared_shape_is_reported_not_allocated(files, gz):
    data = bytes.fromhex("00000d03 ffffffff ffffffff 00000010") + bytes(64)
    path = _write(files, data, gz=gz)
    if gz:
        data_bytes = (2**32 - 1) ** 2 * 16 * 4
        message = (
            "is truncated or its header is damaged: the header declares shape (4294967295, 4294967295, 16) "
            f"of float32, which needs {16 + data_bytes} bytes after decompression (16 of header and "
            f"{data_bytes} of data), but a gzip file of {path.stat().st_size} bytes decompresses "
            f"to at most {1032 * path.stat().st_size} (deflate expands at most 1032:1)."
        )
    else:
        message = "is truncated: its header declares shape (4294967295, 4294967295, 16) of float32"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_header_declaring_more_than_the_file_fails_before_allocating(files, gz):
    # 2**31 x 2**31 images of one byte: 4 EiB, from a file of a few dozen bytes
    data = bytes.fromhex("00000802 80000000 80000000") + bytes(100)
    path = _write(files, data, name="train-images-idx3-ubyte", gz=gz)
    errors = []

    def read():
        with pytest.raises(ValueError) as info:
            read_idx(path)
        errors.append(str(info.value))

    assert _peak_bytes(read) < 1 << 20
    assert f"The IDX file {str(path)!r} is truncated" in errors[0]
    assert "shape (2147483648, 2147483648) of uint8, which needs 4611686018427387916 bytes" in errors[0]


def test_shape_numpy_cannot_hold_even_with_a_zero(files):
    # no data at all (a 0 in the shape), but NumPy refuses sizes that multiply past its largest array
    path = _write(files, bytes.fromhex("00000803 00000000 ffffffff ffffffff"))
    message = (
        f"The IDX file {str(path)!r} declares a shape NumPy cannot hold: its sizes other than 0 multiply to "
        f"18446744065119617025 bytes, more than NumPy's largest array ({np.iinfo(np.intp).max} bytes). "
        f"Received: shape (0, 4294967295, 4294967295)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64], ids=["uint8", "float64"])
def test_reading_holds_about_one_copy_of_the_data(files, gz, dtype):
    """The array is the only large allocation: no bytes, bytearray or byte-swapped copy beside it."""
    count = 4096 // np.dtype(dtype).itemsize  # 4 MiB of data either way
    array = np.random.default_rng(0).integers(0, 256, (count, 32, 32), dtype=np.uint8).astype(dtype)
    path = files / ("a.gz" if gz else "a")
    write_idx(path, array)
    back = []
    peak = _peak_bytes(lambda: back.append(read_idx(path)))
    np.testing.assert_array_equal(back[0], array)
    assert peak < array.nbytes + (1 << 21), f"peak {peak} bytes for an array of {array.nbytes}"


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_data_read_in_pieces_that_split_elements(files, gz, monkeypatch):
    monkeypatch.setattr(idx, "_CHUNK", 7)  # pieces of 7 bytes cut float64 and int16 values apart
    for dtype in (np.float64, np.int16):
        array = np.random.default_rng(1).standard_normal((5, 9)).astype(dtype) * 1000
        path = files / (f"{np.dtype(dtype).name}.gz" if gz else np.dtype(dtype).name)
        write_idx(path, array)
        np.testing.assert_array_equal(read_idx(path), array)
    path = _write(files, GOOD[:-1], gz=gz)
    with pytest.raises(ValueError, match=re.escape("Received: 27 bytes")):
        read_idx(path)


def test_truncated_gzip(files):
    data = gzip.compress(PAYLOAD)
    path = files / "cut.gz"
    path.write_bytes(data)
    assert read_idx(path).shape == (12800,)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"is a damaged gzip file \(truncated or corrupt\)") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip(files):
    data = bytearray(gzip.compress(PAYLOAD))
    data[-8] ^= 0xFF  # the CRC
    path = files / "crc.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged gzip file") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    data = bytearray(gzip.compress(PAYLOAD))
    data[20:40] = bytes(20)  # the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged gzip file"):
        read_idx(path)


def test_dot_gz_name_without_gzip_contents(files):
    path = _write(files, GOOD, name="plain.gz")
    message = (
        f"The IDX file {str(path)!r} is named .gz but is not gzip-compressed "
        f"(a gzip file starts with the bytes 1f 8b). Received: first bytes 00 00 08 03"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        read_idx(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape("Received: first bytes none (empty file)")):
        read_idx(path)


def test_gzip_without_gz_name_is_recognised(files):
    path = files / "compressed"
    path.write_bytes(gzip.compress(GOOD))
    assert read_idx(path).shape == (2, 2, 3)


def test_missing_file(files):
    with pytest.raises(FileNotFoundError):
        read_idx(files / "nothing")


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros(3, dtype=np.int64),
         "write_idx: an IDX file can hold only uint8, int8, int16, int32, float32, float64. "
         "Received: array.dtype=int64"),
        (np.zeros(3, dtype=bool), "Received: array.dtype=bool"),
        (np.float64(1.0), "write_idx: the array must have 1 to 32 dimensions (read_idx reads no more). "
         "Received: array.shape=()"),
    ],
)
def test_write_idx_errors(files, array, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        write_idx(files / "x", array)
    assert list(files.iterdir()) == []


def test_write_idx_huge_dimension_error(files):
    array = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(2**32,), strides=(0,))
    with pytest.raises(ValueError, match=re.escape("every dimension must be below 2**32")):
        write_idx(files / "x", array)


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0", reason="NumPy 1.x has at most 32 axes")
def test_write_idx_refuses_more_dimensions_than_read_idx_reads(files):
    with pytest.raises(ValueError, match=re.escape(f"Received: array.shape={(1,) * 33}")):
        write_idx(files / "x", np.zeros((1,) * 33, np.uint8))
    assert list(files.iterdir()) == []
