import gzip
import os
import re

import numpy as np
import pytest

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


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "too short to be an IDX file: it has 0 bytes"),
        (b"\x00\x00", "too short to be an IDX file: it has 2 bytes"),
        (b"\x01\x00\x08\x01" + bytes(8), "bad magic number: an IDX file starts with two zero bytes"),
        (b"PK\x03\x04" + bytes(8), "bad magic number"),
        (bytes.fromhex("00000a01 00000001 00"), "unknown type code 0x0A; expected one of 0x08 (uint8)"),
        (bytes.fromhex("00000800"), "declares 0 dimensions; expected at least 1"),
        (bytes.fromhex("00000803 00000002 0000"), "truncated inside its header: it declares 3 dimensions"),
        (GOOD[:-1], "is truncated: its header declares shape (2, 2, 3) of uint8, which needs 28 bytes"),
        (GOOD[:16], "but it has only 16"),
        (GOOD + b"\x00", "is longer than its header says: shape (2, 2, 3) of uint8 needs 28 bytes"),
        (GOOD + b"\x00", "but 1 more byte follows"),
        (GOOD + GOOD, "but 28 more bytes follow"),
    ],
)
def test_bad_contents_give_a_clear_error(files, data, message, gz):
    path = _write(files, data, gz=gz)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    if gz and any(word in message for word in ("too short", "truncated", "longer", "more byte")):
        assert "after decompression" in str(info.value)


#: a valid IDX file of 12,800 bytes of data
PAYLOAD = bytes.fromhex("00000801") + (12800).to_bytes(4, "big") + bytes(range(256)) * 50


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_huge_declared_shape_is_reported_not_allocated(files, gz):
    data = bytes.fromhex("00000d03 ffffffff ffffffff 00000010") + bytes(64)
    path = _write(files, data, gz=gz)
    with pytest.raises(ValueError, match=re.escape("is truncated: its header declares shape (4294967295, 4294967295, 16) of float32")):
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
    with pytest.raises(ValueError, match=r"is named \.gz but is not gzip-compressed"):
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
        (np.zeros(3, dtype=np.int64), "an IDX file can hold only uint8, int8, int16, int32, float32, float64. Received: array.dtype=int64"),
        (np.zeros(3, dtype=bool), "Received: array.dtype=bool"),
        (np.float64(1.0), "between 1 and 255 dimensions. Received: array.shape=()"),
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
