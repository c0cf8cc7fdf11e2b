"""Small CIFAR-10 and CIFAR-100 datasets in the published layouts, written for the tests.

- ``py2_pickle`` writes a pickle as Python 2's cPickle wrote the python version's files:
  protocol 2, a ``str`` as BINSTRING (read back as bytes with ``encoding="bytes"``), a NumPy
  array as ``numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), 'b')`` with the state
  ``(1, shape, numpy.dtype('u1', 0, 1), False, raw bytes)`` and the dtype's state
  ``(3, '|', None, None, None, -1, -1, 0)``. ``PickledArray`` writes any such array, also a
  wrong one.
- ``Fake`` draws random images and labels for every file of a dataset (as many images as
  the module's constants say, which the tests lower) and writes them in either published
  version, as an extracted folder or a .tar.gz archive, with the meta files and readme.
"""
from __future__ import annotations

import dataclasses
import io
import os
import struct
import tarfile

import numpy as np

from convolve.datasets import cifar10, cifar100


@dataclasses.dataclass
class PickledArray:
    """A NumPy array as Python 2's numpy pickled it; every part can be set to a wrong value."""

    shape: tuple
    data: bytes
    typestr: str = "u1"
    dtype_state: tuple = (3, "|", None, None, None, -1, -1, 0)
    fortran: bool = False
    args: tuple = ((0,), "b")  # _reconstruct's arguments after numpy.ndarray

    @classmethod
    def of(cls, array):
        return cls(shape=array.shape, data=np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def py2_pickle(obj) -> bytes:
    """``obj`` (None, bools, ints, str/bytes, tuples, lists, dicts, arrays) pickled as cPickle did."""
    out = io.BytesIO()
    write = out.write

    def save(o):
        if o is None:
            write(b"N")
        elif isinstance(o, bool):
            write(b"\x88" if o else b"\x89")
        elif isinstance(o, int):
            if 0 <= o < 256:
                write(b"K" + bytes([o]))
            elif 0 <= o < 65536:
                write(b"M" + struct.pack("<H", o))
            else:
                write(b"J" + struct.pack("<i", o))
        elif isinstance(o, (bytes, str)):
            data = o.encode("latin-1") if isinstance(o, str) else o
            if len(data) < 256:
                write(b"U" + bytes([len(data)]) + data)
            else:
                write(b"T" + struct.pack("<I", len(data)) + data)
        elif isinstance(o, tuple):
            if 1 <= len(o) <= 3:
                for item in o:
                    save(item)
                write(b"\x85\x86\x87"[len(o) - 1 : len(o)])
            else:
                write(b"(")
                for item in o:
                    save(item)
                write(b"t")
        elif isinstance(o, list):
            write(b"]")
            if o:
                write(b"(")
                for item in o:
                    save(item)
                write(b"e")
        elif isinstance(o, dict):
            write(b"}")
            if o:
                write(b"(")
                for key, value in o.items():
                    save(key)
                    save(value)
                write(b"u")
        elif isinstance(o, np.ndarray):
            save(PickledArray.of(o))
        elif isinstance(o, PickledArray):
            write(b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n")
            for item in o.args:
                save(item)
            write(b"tR")
            write(b"(")
            save(1)
            save(tuple(o.shape))
            write(b"cnumpy\ndtype\n")
            save((o.typestr, 0, 1))
            write(b"R")
            save(o.dtype_state)
            write(b"b")
            save(o.fortran)
            save(o.data)
            write(b"tb")
        else:
            raise TypeError(f"py2_pickle cannot write a {type(o).__name__}")

    write(b"\x80\x02")
    save(obj)
    write(b".")
    return out.getvalue()


def binary_records(labels, images) -> bytes:
    """Records of a binary file: the label bytes (a list of arrays), then the 3072 channel-major pixels."""
    n = len(images)
    planes = np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(n, 3072)
    columns = [np.asarray(column, dtype=np.uint8).reshape(n, 1) for column in labels]
    return np.concatenate(columns + [planes], axis=1).tobytes()


class Fake:
    """A random CIFAR-10 or CIFAR-100 of the sizes the module's constants give now."""

    def __init__(self, module, seed=0):
        self.module = module
        rng = np.random.default_rng(seed)
        if module is cifar10:
            per = cifar10.BATCH_IMAGES
            layout = [(f"data_batch_{i}", "train", per) for i in range(1, 6)] + [("test_batch", "test", per)]
            self.keys = (("labels", 10),)
            self.binary_folder, self.python_folder = "cifar-10-batches-bin", "cifar-10-batches-py"
            self.python_archive = "cifar-10-python.tar.gz"
        else:
            layout = [("train", "train", cifar100.TRAIN_IMAGES), ("test", "test", cifar100.TEST_IMAGES)]
            self.keys = (("coarse_labels", 20), ("fine_labels", 100))
            self.binary_folder, self.python_folder = "cifar-100-binary", "cifar-100-python"
            self.python_archive = "cifar-100-python.tar.gz"
        self.files = {}
        for name, split, n in layout:
            images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
            labels = {key: rng.integers(0, classes, n, dtype=np.uint8) for key, classes in self.keys}
            self.files[name] = {"split": split, "x": images, "labels": labels}

    def expected(self, label_mode="fine"):
        key = "labels" if self.module is cifar10 else f"{label_mode}_labels"
        dtype = np.uint8 if self.module is cifar10 else np.int64
        out = []
        for split in ("train", "test"):
            files = [f for f in self.files.values() if f["split"] == split]
            x = np.concatenate([f["x"] for f in files])
            y = np.concatenate([f["labels"][key] for f in files]).astype(dtype).reshape(-1, 1)
            out.append((x, y))
        return tuple(out)

    def binary_file(self, name) -> bytes:
        f = self.files[name]
        return binary_records([f["labels"][key] for key, _ in self.keys], f["x"])

    def python_file(self, name) -> bytes:
        f = self.files[name]
        n = len(f["x"])
        batch = {"batch_label": f"{name} batch of the fake dataset"}
        batch.update({key: [int(v) for v in f["labels"][key]] for key, _ in self.keys})
        batch["data"] = np.ascontiguousarray(f["x"].transpose(0, 3, 1, 2)).reshape(n, 3072)
        batch["filenames"] = [f"picture_s_{i:06d}.png" for i in range(n)]
        return py2_pickle(batch)

    def members(self, binary: bool) -> dict:
        """Every file of one version, by its name inside the extracted folder."""
        names = self.module.CLASS_NAMES if self.module is cifar10 else None
        if binary:
            members = {name + ".bin": self.binary_file(name) for name in self.files}
            if self.module is cifar10:
                members["batches.meta.txt"] = ("\n".join(names) + "\n\n").encode()
            else:
                members["fine_label_names.txt"] = ("\n".join(cifar100.FINE_CLASS_NAMES) + "\n").encode()
                members["coarse_label_names.txt"] = ("\n".join(cifar100.COARSE_CLASS_NAMES) + "\n").encode()
            return members
        members = {name: self.python_file(name) for name in self.files}
        if self.module is cifar10:
            members["batches.meta"] = py2_pickle(
                {"num_cases_per_batch": cifar10.BATCH_IMAGES, "label_names": list(names), "num_vis": 3072}
            )
            members["readme.html"] = b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0; url=http://www.cs.toronto.edu\">"
        else:
            members["meta"] = py2_pickle(
                {"fine_label_names": list(cifar100.FINE_CLASS_NAMES),
                 "coarse_label_names": list(cifar100.COARSE_CLASS_NAMES)}
            )
        return members

    def folder_name(self, binary: bool) -> str:
        return self.binary_folder if binary else self.python_folder

    def write_folder(self, folder, binary: bool, skip=()):
        """Write one version's files into ``folder`` (the extracted folder itself), but those in ``skip``."""
        os.makedirs(folder, exist_ok=True)
        for name, data in self.members(binary).items():
            if name not in skip:
                with open(os.path.join(folder, name), "wb") as f:
                    f.write(data)
        return folder

    def archive_bytes(self, binary: bool, extra=(), prefix=None) -> bytes:
        """The .tar.gz of one version: the folder, then its files in a scrambled order (as published)."""
        folder = self.folder_name(binary) if prefix is None else prefix
        members = [(f"{folder}/{name}", data) for name, data in self.members(binary).items()]
        members = members[1::2] + members[::2]
        return tar_gz([(folder, None)] + members + list(extra))

    def write_archive(self, path, binary: bool, extra=()):
        os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.archive_bytes(binary, extra))
        return path


def tar_gz(members) -> bytes:
    """A .tar.gz of (name, bytes) members; bytes None makes a folder, a ("symlink", target) pair a link."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1234567890
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif isinstance(data, tuple):
                info.type = tarfile.SYMTYPE if data[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = data[1]
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
