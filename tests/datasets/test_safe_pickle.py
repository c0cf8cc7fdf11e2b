"""The restricted unpickler that reads CIFAR's python version: what it refuses, and what it accepts."""
import io
import os
import pickle
import struct

import numpy as np
import pytest

from convolve.datasets import _safe_pickle
from convolve.datasets._safe_pickle import ArrayRecord, array_from_record

from .cifar_support import PickledArray, py2_pickle


def _load(data: bytes, what="the file 'x'"):
    return _safe_pickle.load(io.BytesIO(data), len(data), what)


class _Calls:
    """An object whose pickle calls ``function(*args)`` when loaded."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def test_os_system_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps({"labels": _Calls(os.system, f"touch {marker}")}, protocol=2)
    with pytest.raises(ValueError, match=r"names something a CIFAR file never needs, so it was not "
                                         r"unpickled .*Received: a reference to (os|posix)\.system") as info:
        _load(data)
    assert "the file 'x'" in str(info.value)
    assert "numpy.core.multiarray._reconstruct" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_builtins_eval_is_refused_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "ran"
    data = pickle.dumps([1, _Calls(eval, f"open({str(marker)!r}, 'w')")], protocol=protocol)
    with pytest.raises(ValueError, match=r"Received: a reference to (builtins|__builtin__)\.eval"):
        _load(data)
    assert not marker.exists()


def test_python2_spellings_are_refused(tmp_path):
    marker = tmp_path / "ran"
    for module in (b"os", b"__builtin__", b"subprocess"):
        data = b"c" + module + b"\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
        with pytest.raises(ValueError, match=f"Received: a reference to {module.decode()}.system"):
            _load(data)
    assert not marker.exists()


def test_a_refused_name_inside_a_cifar_batch(tmp_path):
    marker = tmp_path / "ran"
    evil = pickle.dumps(_Calls(os.system, f"touch {marker}"), protocol=2)[2:-1]  # without PROTO and STOP
    good = py2_pickle({"data": np.zeros((1, 3072), np.uint8), "labels": [1]})
    with pytest.raises(ValueError, match="not unpickled"):
        _load(good[:-2] + b"U\x04evil" + evil + b"u.")  # one more SETITEMS pair
    assert not marker.exists()


def test_persistent_ids_are_refused():
    class WithIds(pickle.Pickler):
        def persistent_id(self, obj):
            return "an id" if obj == "x" else None

    out = io.BytesIO()
    WithIds(out, protocol=2).dump(["x"])
    with pytest.raises(ValueError, match="Received: a reference to persistent id b?'an id'"):
        _load(out.getvalue())


def test_the_stand_ins_cannot_be_called_into_anything():
    # numpy.ndarray resolves to a marker: a pickle calling it gets an error, not an array
    data = b"\x80\x02cnumpy\nndarray\nK\x03\x85R."
    with pytest.raises(ValueError, match=r"is not a readable pickle \(truncated or damaged\).*TypeError"):
        _load(data)


def test_truncated_pickle():
    data = py2_pickle({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]})
    with pytest.raises(ValueError, match=r"the file 'x' is not a readable pickle .*Received: "):
        _load(data[: len(data) // 2])


def test_a_huge_declared_length_is_never_asked_of_the_file():
    class Recording(io.BytesIO):
        largest = 0

        def read(self, n=-1):
            Recording.largest = max(Recording.largest, n)
            return super().read(n)

    data = b"\x80\x02T" + struct.pack("<I", 2**31 - 1) + b"only a few bytes"
    with pytest.raises(ValueError, match="is not a readable pickle"):
        _safe_pickle.load(Recording(data), len(data), "the file 'x'")
    assert 0 < Recording.largest <= len(data)


def test_only_the_bytes_given_are_read():
    first = py2_pickle([1, 2, 3])
    f = io.BytesIO(first[:-1] + b"more bytes that belong to someone else")
    with pytest.raises(ValueError, match="is not a readable pickle"):
        _safe_pickle.load(f, len(first) - 1, "the file 'x'")  # STOP lies beyond the bound
    assert f.tell() == len(first) - 1


def test_python2_pickle_as_cifar_writes_it():
    array = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    data = py2_pickle({"data": array, "labels": [3, 7], "batch_label": "testing batch 1 of 1"})
    assert data.startswith(b"\x80\x02}") and b"cnumpy.core.multiarray\n_reconstruct\n" in data
    loaded = _load(data)
    assert sorted(loaded) == [b"batch_label", b"data", b"labels"]  # Python 2 strings come back as bytes
    assert loaded[b"labels"] == [3, 7] and loaded[b"batch_label"] == b"testing batch 1 of 1"
    got = array_from_record(loaded[b"data"], (2, 3072), "w")
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numpy_pickles_of_python3(protocol):
    """NumPy 2's own pickles (numpy._core...) of a uint8 array are read the same way."""
    array = np.random.default_rng(0).integers(0, 256, (4, 3072), dtype=np.uint8)
    data = pickle.dumps({"data": array}, protocol=protocol)
    if protocol == 2:  # Python 3's protocol 2 writes bytes through _codecs.encode: not plain data
        with pytest.raises(ValueError, match=r"Received: a reference to _codecs\.encode"):
            _load(data)
        return
    np.testing.assert_array_equal(array_from_record(_load(data)["data"], (4, 3072), "w"), array)


def test_fortran_order_is_honoured():
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    record = _load(py2_pickle(PickledArray(shape=(2, 3), data=array.tobytes(order="F"), fortran=True)))
    np.testing.assert_array_equal(array_from_record(record, (2, 3), "w"), array)


def _record(**changes):
    fields = dict(shape=(2, 3), data=bytes(6))
    fields.update(changes)
    return _load(py2_pickle(PickledArray(**fields)))


@pytest.mark.parametrize(
    "record, message",
    [
        ([1, 2], "entry must be a NumPy array. Received: a list"),
        (_record(args=((1,), "b")), r"reconstruction must be _reconstruct\(numpy.ndarray, \(0,\), b'b'\). "
                                    r"Received: arguments \(numpy.ndarray, \(1,\), b'b'\)"),
        (_record(typestr="i8"), r"dtype must be uint8 \('u1', no fields\). Received: dtype\(b'i8', 0, 1\)"),
        (_record(dtype_state=(3, "|", None, ("a",), {}, -1, -1, 0)),
         r"dtype must be uint8 .*Received: dtype"),
        (_record(shape=(3, 2)), r"shape must be \(2, 3\). Received: shape \(3, 2\)"),
        (_record(data=bytes(5)), r"data must be 6 bytes \(shape \(2, 3\) of uint8\). Received: 5"),
        (_record(fortran=5), r"fortran_order flag must be True or False. Received: 5"),
    ],
    ids=["not-an-array", "reconstruct-args", "dtype", "dtype-fields", "shape", "data-size", "fortran"],
)
def test_array_record_checks(record, message):
    with pytest.raises(ValueError, match=r"the file 'y': the pickled array's " + message):
        array_from_record(record, (2, 3), "the file 'y'")


def test_array_record_state_shape():
    record = ArrayRecord(_safe_pickle._NDARRAY, (0,), b"b")
    record.__setstate__((2, 3))
    with pytest.raises(ValueError, match=r"state must be \(1, shape, dtype, fortran_order, bytes\). "
                                         r"Received: \(2, 3\)"):
        array_from_record(record, (2, 3), "the file 'y'")
