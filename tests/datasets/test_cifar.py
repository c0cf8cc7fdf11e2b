"""cifar10.load_data and cifar100.load_data on generated files in the published layouts.

The module constants (images per file) are lowered to a few images, except in the tests
of the published sizes; every file is written as the archives hold it (cifar_support).
"""
import io
import os
import re
import shutil
import tracemalloc

import numpy as np
import pytest

from convolve.datasets import DatasetNotFoundError, _cifar, cifar10, cifar100

from .cifar_support import Fake, PickledArray, binary_records, py2_pickle, tar_gz
from .support import closed_port_url

MODES = [(cifar10, None), (cifar100, "fine"), (cifar100, "coarse")]
MODE_IDS = ["cifar10", "cifar100-fine", "cifar100-coarse"]


@pytest.fixture(autouse=True)
def small(monkeypatch):
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 3)
    monkeypatch.setattr(cifar100, "TRAIN_IMAGES", 7)
    monkeypatch.setattr(cifar100, "TEST_IMAGES", 4)
    for module in (cifar10, cifar100):
        monkeypatch.setattr(module, "MIRRORS", [closed_port_url()])


def load(module, mode=None, **kwargs):
    return module.load_data(**kwargs) if mode is None else module.load_data(mode, **kwargs)


def assert_same(result, expected):
    (x, y), (xt, yt) = result
    (ex, ey), (ext, eyt) = expected
    for got, want, name in ((x, ex, "x_train"), (y, ey, "y_train"), (xt, ext, "x_test"), (yt, eyt, "y_test")):
        assert got.dtype == want.dtype, name
        assert got.shape == want.shape, name
        assert got.flags.c_contiguous, name
        np.testing.assert_array_equal(got, want, err_msg=name)


# ---- what load_data returns -------------------------------------------------------------------------


@pytest.mark.parametrize("module, mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "python"])
@pytest.mark.parametrize("form", ["folder", "parent", "archive"])
def test_each_version_in_each_form(tmp_path, module, mode, binary, form):
    fake = Fake(module, seed=1)
    if form == "archive":
        path = fake.write_archive(tmp_path / "renamed.tar.gz", binary)
    else:
        folder = fake.write_folder(tmp_path / fake.folder_name(binary), binary)
        path = folder if form == "folder" else tmp_path
    assert_same(load(module, mode, path=path), fake.expected(mode or "fine"))


def test_keras_shapes_and_dtypes(tmp_path):
    """Keras: x uint8 (N, 32, 32, 3); y (N, 1), uint8 for CIFAR-10 and int64 for CIFAR-100."""
    Fake(cifar10).write_folder(tmp_path / "cifar-10-batches-bin", binary=True)
    (x, y), (xt, yt) = cifar10.load_data(path=tmp_path)
    assert (x.shape, x.dtype, y.shape, y.dtype) == ((15, 32, 32, 3), np.uint8, (15, 1), np.uint8)
    assert (xt.shape, xt.dtype, yt.shape, yt.dtype) == ((3, 32, 32, 3), np.uint8, (3, 1), np.uint8)
    Fake(cifar100).write_folder(tmp_path / "cifar-100-binary", binary=True)
    for mode in ("fine", "coarse"):
        (x, y), (xt, yt) = cifar100.load_data(label_mode=mode, path=tmp_path)
        assert (x.shape, x.dtype, y.shape, y.dtype) == ((7, 32, 32, 3), np.uint8, (7, 1), np.int64)
        assert (xt.shape, xt.dtype, yt.shape, yt.dtype) == ((4, 32, 32, 3), np.uint8, (4, 1), np.int64)


def _plane_image():
    """The 3072 pixel bytes of a record, spelled out by the published definition, and their image."""
    red = np.arange(1024) % 251  # row r, column c of the red plane is byte r * 32 + c
    green = 255 - np.arange(1024) % 256
    blue = np.full(1024, 7)
    pixels = bytes(np.concatenate([red, green, blue]).astype(np.uint8))
    image = np.zeros((32, 32, 3), np.uint8)
    for r in range(32):
        for c in range(32):
            image[r, c] = (red[r * 32 + c], green[r * 32 + c], blue[r * 32 + c])
    return pixels, image


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "python"])
def test_pixel_order_is_the_published_one(tmp_path, monkeypatch, binary):
    """Channel-major records (1024 red, 1024 green, 1024 blue, each row by row) become (32, 32, 3)."""
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 1)
    pixels, image = _plane_image()
    folder = tmp_path / ("cifar-10-batches-bin" if binary else "cifar-10-batches-py")
    folder.mkdir()
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        if binary:
            (folder / (name + ".bin")).write_bytes(bytes([i]) + pixels)
        else:
            row = PickledArray(shape=(1, 3072), data=pixels)
            (folder / name).write_bytes(py2_pickle({"data": row, "labels": [i], "filenames": ["a.png"]}))
    (x, y), (xt, yt) = cifar10.load_data(path=folder)
    for picture in (*x, *xt):
        np.testing.assert_array_equal(picture, image)
    assert y.ravel().tolist() == [0, 1, 2, 3, 4] and yt.ravel().tolist() == [5]


def test_cifar100_label_bytes_are_coarse_then_fine(tmp_path):
    pixels, _ = _plane_image()
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    (folder / "train.bin").write_bytes(b"".join(bytes([i, 50 + i]) + pixels for i in range(7)))
    (folder / "test.bin").write_bytes(b"".join(bytes([19, 99]) + pixels for _ in range(4)))
    (_, y), (_, yt) = cifar100.load_data("coarse", path=folder)
    assert y.ravel().tolist() == list(range(7)) and yt.ravel().tolist() == [19] * 4
    (_, y), (_, yt) = cifar100.load_data("fine", path=folder)
    assert y.ravel().tolist() == list(range(50, 57)) and yt.ravel().tolist() == [99] * 4


def test_the_published_sizes(tmp_path, monkeypatch):
    """The real constants: 5 x 10,000 + 10,000 images (CIFAR-100: 50,000 + 10,000), as sparse files."""
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 10000)
    monkeypatch.setattr(cifar100, "TRAIN_IMAGES", 50000)
    monkeypatch.setattr(cifar100, "TEST_IMAGES", 10000)
    pixels, image = _plane_image()
    names = [(f"data_batch_{i}.bin", 10000) for i in range(1, 6)] + [("test_batch.bin", 10000)]
    for folder, files, label in (("c10/cifar-10-batches-bin", names, bytes([9])),
                                 ("c100/cifar-100-binary", [("train.bin", 50000), ("test.bin", 10000)],
                                  bytes([19, 99]))):
        (tmp_path / folder).mkdir(parents=True)
        record = len(label) + 3072
        for name, count in files:
            with open(tmp_path / folder / name, "wb") as f:
                f.truncate(count * record)  # zeros: label 0, black images
                f.seek((count - 1) * record)
                f.write(label + pixels)  # the last image of each file
    (x, y), (xt, yt) = cifar10.load_data(path=tmp_path / "c10")
    assert x.shape == (50000, 32, 32, 3) and xt.shape == (10000, 32, 32, 3)
    assert y.shape == (50000, 1) and yt.shape == (10000, 1) and y.dtype == np.uint8
    lasts = [9999, 19999, 29999, 39999, 49999]
    assert np.flatnonzero(y).tolist() == lasts and np.flatnonzero(yt).tolist() == [9999]
    np.testing.assert_array_equal(x[lasts], np.broadcast_to(image, (5, 32, 32, 3)))
    assert not x[:9999].any()
    (x, y), (xt, yt) = cifar100.load_data("fine", path=tmp_path / "c100")
    assert x.shape == (50000, 32, 32, 3) and y.shape == (50000, 1) and y.dtype == np.int64
    assert np.flatnonzero(y).tolist() == [49999] and yt[-1, 0] == 99
    np.testing.assert_array_equal(xt[-1], image)


def test_class_names():
    assert cifar10.CLASS_NAMES == ("airplane", "automobile", "bird", "cat", "deer",
                                   "dog", "frog", "horse", "ship", "truck")
    assert len(cifar100.FINE_CLASS_NAMES) == 100 and len(set(cifar100.FINE_CLASS_NAMES)) == 100
    assert len(cifar100.COARSE_CLASS_NAMES) == 20 and len(set(cifar100.COARSE_CLASS_NAMES)) == 20
    assert list(cifar100.FINE_CLASS_NAMES) == sorted(cifar100.FINE_CLASS_NAMES)  # the meta file's order
    assert list(cifar100.COARSE_CLASS_NAMES) == sorted(cifar100.COARSE_CLASS_NAMES)
    assert cifar100.FINE_CLASS_NAMES[:3] == ("apple", "aquarium_fish", "baby")
    assert cifar100.COARSE_CLASS_NAMES[-2:] == ("vehicles_1", "vehicles_2")
    assert cifar100.class_names() is cifar100.CLASS_NAMES is cifar100.FINE_CLASS_NAMES
    assert cifar100.class_names("coarse") is cifar100.COARSE_CLASS_NAMES


@pytest.mark.parametrize("label_mode", ["medium", "Fine", None, 1])
def test_label_mode_must_be_fine_or_coarse(label_mode):
    message = f'cifar100: `label_mode` must be one of "fine", "coarse". Received: label_mode={label_mode!r}'
    with pytest.raises(ValueError, match=re.escape(message)):
        cifar100.load_data(label_mode=label_mode)
    with pytest.raises(ValueError, match=re.escape(message)):
        cifar100.class_names(label_mode)


# ---- where load_data looks ---------------------------------------------------------------------------


def _places(module, tmp_path):
    """The folders load_data searches, in order, for the isolated HOME and working directory."""
    name = "cifar-10" if module is cifar10 else "cifar-100"
    home, work, data = tmp_path / "home", tmp_path / "work", tmp_path / "data"
    return [data, data / name, home / ".keras" / "datasets", work / "data", work,
            home / ".convolve" / "datasets" / name]


@pytest.mark.parametrize("module", [cifar10, cifar100], ids=["cifar10", "cifar100"])
def test_every_location_in_order(module, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    places = _places(module, tmp_path)
    fakes = [Fake(module, seed=i) for i in range(len(places))]
    written = []
    for i, (folder, fake) in enumerate(zip(places, fakes)):
        binary = i % 2 == 0
        if i % 3 == 2:
            name = module.ARCHIVE if binary else fake.python_archive
            written.append(fake.write_archive(folder / name, binary))
        else:
            written.append(fake.write_folder(folder / fake.folder_name(binary), binary))
    for path, fake in zip(written, fakes):
        assert_same(load(module), fake.expected())
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    with pytest.raises(DatasetNotFoundError) as info:
        load(module)
    message = str(info.value)
    positions = [message.index(f"{folder}  [") for folder in places]
    assert positions == sorted(positions), "the error lists the places in search order"


@pytest.mark.parametrize("module", [cifar10, cifar100], ids=["cifar10", "cifar100"])
@pytest.mark.parametrize("layout", ["keras-3.5", "keras-3.5-archive", "keras-3.6", "keras-3.6-archive"])
def test_keras_download_folders(module, layout, tmp_path, monkeypatch):
    """Keras up to 3.5 extracts <folder> beside <folder>.tar.gz; 3.6 and later <folder>-target/<folder>
    beside <folder>-target_archive (a .tar.gz without the suffix). $KERAS_HOME moves them."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    keras = tmp_path / "kh" / "datasets"
    fake = Fake(module, seed=5)
    folder = fake.python_folder
    if layout == "keras-3.5":
        fake.write_folder(keras / folder, binary=False)
    elif layout == "keras-3.5-archive":
        fake.write_archive(keras / f"{folder}.tar.gz", binary=False)
    elif layout == "keras-3.6":
        fake.write_folder(keras / f"{folder}-target" / folder, binary=False)
    else:
        fake.write_archive(keras / f"{folder}-target_archive", binary=False)
    Fake(module, seed=6).write_folder(tmp_path / "home" / ".keras" / "datasets" / folder, binary=False)
    assert_same(load(module), fake.expected())


@pytest.mark.parametrize("module", [cifar10, cifar100], ids=["cifar10", "cifar100"])
@pytest.mark.parametrize("root", ["data", "."])
@pytest.mark.parametrize("archive", [False, True], ids=["extracted", "archive"])
def test_torchvision_roots(module, root, archive, tmp_path):
    """torchvision's CIFAR10(root) keeps root/cifar-10-batches-py and root/cifar-10-python.tar.gz."""
    fake = Fake(module, seed=7)
    base = tmp_path / "work" / root
    if archive:
        fake.write_archive(base / fake.python_archive, binary=False)
    else:
        fake.write_folder(base / fake.python_folder, binary=False)
    assert_same(load(module), fake.expected())


def test_convolve_data_may_name_the_extracted_folder(tmp_path, monkeypatch):
    fake = Fake(cifar10, seed=8)
    folder = fake.write_folder(tmp_path / "anywhere", binary=True)
    monkeypatch.setenv("CONVOLVE_DATA", str(folder))
    assert_same(cifar10.load_data(), fake.expected())


def test_files_called_train_and_test_in_the_working_directory_are_not_cifar(tmp_path):
    """Only $CONVOLVE_DATA and `path` may be the extracted folder; elsewhere only the named folders count."""
    (tmp_path / "work" / "train").write_bytes(b"my training script")
    (tmp_path / "work" / "data").mkdir()
    (tmp_path / "work" / "data" / "test").write_bytes(b"notes")
    (tmp_path / "work" / "data" / "train").write_bytes(b"notes")
    fake = Fake(cifar100, seed=8)
    fake.write_folder(tmp_path / "home" / ".convolve" / "datasets" / "cifar-100" / "cifar-100-binary", True)
    assert_same(cifar100.load_data(), fake.expected())


@pytest.mark.parametrize("module", [cifar10, cifar100], ids=["cifar10", "cifar100"])
def test_order_inside_one_folder(module, tmp_path):
    """Extracted before archived, binary before python, named folders before the folder's own files."""
    fakes = [Fake(module, seed=s) for s in range(7)]
    keras_archive = fakes[0].python_folder + "-target_archive"
    root = tmp_path / "mine"
    made = [
        fakes[0].write_folder(root / fakes[0].binary_folder, binary=True),
        fakes[1].write_folder(root / fakes[1].python_folder, binary=False),
        fakes[2].write_folder(root / (fakes[2].python_folder + "-target") / fakes[2].python_folder, False),
        fakes[3].write_folder(root, binary=True),
        fakes[4].write_archive(root / module.ARCHIVE, binary=True),
        fakes[5].write_archive(root / fakes[5].python_archive, binary=False),
        fakes[6].write_archive(root / keras_archive, binary=False),
    ]
    for i, path in enumerate(made):
        assert_same(load(module, path=root), fakes[i].expected())
        if path == root:
            for name in fakes[3].members(binary=True):
                os.remove(root / name)
        else:
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def test_partial_folders_are_passed_over_and_reported(tmp_path):
    root = tmp_path / "mine"
    fake = Fake(cifar10, seed=2)
    fake.write_folder(root / "cifar-10-batches-bin", binary=True, skip=("data_batch_3.bin",))
    fake.write_folder(root / "cifar-10-batches-py", binary=False)
    assert_same(cifar10.load_data(path=root), fake.expected())  # the complete python version
    shutil.rmtree(root / "cifar-10-batches-py")
    with pytest.raises(DatasetNotFoundError, match=re.escape(
        "does not hold the dataset (cifar-10-batches-bin: only 5 of 6 files (missing data_batch_3.bin))"
    )):
        cifar10.load_data(path=root)


def test_path_argument_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    Fake(cifar10, seed=1).write_folder(tmp_path / "data" / "cifar-10-batches-bin", binary=True)
    mine = Fake(cifar10, seed=2)
    mine.write_folder(tmp_path / "mine" / "cifar-10-batches-py", binary=False)
    assert_same(cifar10.load_data(path=str(tmp_path / "mine")), mine.expected())


def test_path_that_does_not_exist(tmp_path):
    path = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError, match=re.escape(
        f"CIFAR-10: the folder given as `path` does not exist. Expected a folder holding the binary archive "
        f"cifar-10-binary.tar.gz or the folder cifar-10-batches-bin it unpacks to, or the python archive "
        f"cifar-10-python.tar.gz or its folder cifar-10-batches-py (Keras' and torchvision's), or one of "
        f"those archives. Received: path={str(path)!r}"
    )):
        cifar10.load_data(path=path)


def test_path_without_the_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=re.escape(
        "CIFAR-100: the folder given as `path` does not hold the dataset (no CIFAR-100 files). Expected"
    )):
        cifar100.load_data(path=tmp_path / "empty")


# ---- damaged and foreign files -------------------------------------------------------------------------


def _binary_folder(tmp_path, module=cifar10):
    fake = Fake(module, seed=3)
    return fake, fake.write_folder(tmp_path / fake.binary_folder, binary=True)


def test_binary_file_not_a_whole_number_of_records(tmp_path):
    _, folder = _binary_folder(tmp_path)
    with open(folder / "data_batch_2.bin", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the file {str(folder / 'data_batch_2.bin')!r} is not a whole number of records: each "
        f"image takes 3073 bytes (1 label byte and 3072 pixel bytes), so the size must be a multiple of "
        f"3073. Received: 9220 bytes"
    )):
        cifar10.load_data(path=folder)


def test_binary_file_with_another_count(tmp_path):
    fake, folder = _binary_folder(tmp_path, cifar100)
    (folder / "test.bin").write_bytes(fake.binary_file("test")[: 2 * 3074])
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-100: the file {str(folder / 'test.bin')!r} must hold 4 images (12296 bytes). "
        f"Received: 2 images (6148 bytes)"
    )):
        cifar100.load_data(path=folder)


@pytest.mark.parametrize(
    "module, labels, message",
    [
        (cifar10, [10], "the labels in {} must lie in 0..9. Received: a label 10"),
        (cifar100, [20, 5], "the coarse labels in {} must lie in 0..19. Received: a label 20"),
        (cifar100, [3, 100], "the fine labels in {} must lie in 0..99. Received: a label 100"),
    ],
    ids=["cifar10", "coarse", "fine"],
)
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "python"])
def test_labels_out_of_range(tmp_path, module, labels, message, binary):
    fake = Fake(module, seed=4)
    name = "test_batch" if module is cifar10 else "test"
    keys = [key for key, _ in fake.keys]
    for key, value in zip(keys, labels):
        fake.files[name]["labels"][key][1] = value
    folder = fake.write_folder(tmp_path / fake.folder_name(binary), binary)
    path = str(folder / (name + (".bin" if binary else "")))
    with pytest.raises(ValueError, match=re.escape(message.format(f"the file {path!r}"))):
        load(module, "fine" if module is cifar100 else None, path=folder)


def test_negative_label_in_a_pickle(tmp_path):
    fake = Fake(cifar10, seed=4)
    folder = fake.write_folder(tmp_path / "cifar-10-batches-py", binary=False)
    batch = {"data": np.zeros((3, 3072), np.uint8), "labels": [1, -1, 2]}
    (folder / "data_batch_4").write_bytes(py2_pickle(batch))
    with pytest.raises(ValueError, match="must lie in 0..9. Received: a label -1"):
        cifar10.load_data(path=folder)


def test_binary_stream_ending_early():
    spec = cifar10._spec()
    x, y = np.empty((3, 32, 32, 3), np.uint8), np.empty((3, 1), np.uint8)
    stream = io.BytesIO(bytes(2 * 3073 + 100))
    with pytest.raises(ValueError, match=re.escape(
        "CIFAR-10: the stream is truncated: its size says 9219 bytes; delete it and get it again. "
        "Received: 6246 bytes"
    )):
        _cifar.read_binary(spec, stream, 3 * 3073, "the stream", x, y)


def _python_folder(tmp_path):
    fake = Fake(cifar10, seed=5)
    return fake.write_folder(tmp_path / "cifar-10-batches-py", binary=False)


def test_pickle_too_large_for_its_images(tmp_path):
    folder = _python_folder(tmp_path)
    with open(folder / "test_batch", "ab") as f:
        f.write(bytes(3000))
    size = os.path.getsize(folder / "test_batch")
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the file {str(folder / 'test_batch')!r} is too large for a pickled batch of 3 images: "
        f"those are 9216 bytes of pixels and at most 512 more bytes per image, 10752 in all. "
        f"Received: {size} bytes"
    )):
        cifar10.load_data(path=folder)


@pytest.mark.parametrize(
    "batch, received",
    [
        ([1, 2, 3], "Received: a list"),
        ({"data": np.zeros((3, 3072), np.uint8), "batch_label": "x"},
         "Received: a dict with keys ['batch_label', 'data']"),
    ],
    ids=["not-a-dict", "no-labels"],
)
def test_pickle_that_is_not_a_batch(tmp_path, batch, received):
    folder = _python_folder(tmp_path)
    (folder / "data_batch_1").write_bytes(py2_pickle(batch))
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the file {str(folder / 'data_batch_1')!r} must hold a pickled dict with "
        f"['data', 'labels']. {received}"
    )):
        cifar10.load_data(path=folder)


def test_pickle_with_another_count_of_images(tmp_path):
    folder = _python_folder(tmp_path)
    batch = {"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]}
    (folder / "data_batch_5").write_bytes(py2_pickle(batch))
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the file {str(folder / 'data_batch_5')!r}, 'data': the pickled array's shape must be "
        f"(3, 3072). Received: shape (2, 3072)"
    )):
        cifar10.load_data(path=folder)


@pytest.mark.parametrize(
    "labels, received",
    [([1, 2], "a list of 2 items"), ([1, "2", 3], "a list of 3 items, one of them a bytes"),
     ((1, 2, 3), "a list of 3 items"), ([1, True, 3], "a list of 3 items, one of them a bool")],
    ids=["short", "a-string", "tuple", "a-bool"],
)
def test_pickle_labels_not_one_int_per_image(tmp_path, labels, received):
    folder = _python_folder(tmp_path)
    (folder / "test_batch").write_bytes(py2_pickle({"data": np.zeros((3, 3072), np.uint8), "labels": labels}))
    if isinstance(labels, tuple):
        received = "a tuple"
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the file {str(folder / 'test_batch')!r} must hold 'labels', a list of 3 integers "
        f"(one per image). Received: {received}"
    )):
        cifar10.load_data(path=folder)


def test_cifar100_pickle_needs_both_label_lists(tmp_path):
    fake = Fake(cifar100, seed=6)
    folder = fake.write_folder(tmp_path / "cifar-100-python", binary=False)
    (folder / "test").write_bytes(py2_pickle({"data": np.zeros((4, 3072), np.uint8), "fine_labels": [1] * 4}))
    with pytest.raises(ValueError, match=re.escape(
        "must hold a pickled dict with ['data', 'coarse_labels', 'fine_labels']. "
        "Received: a dict with keys ['data', 'fine_labels']"
    )):
        cifar100.load_data("fine", path=folder)


def test_archive_that_is_not_gzip(tmp_path):
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(b"ustar and more")
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the file {str(path)!r} is not a gzip-compressed tar archive (a .tar.gz file starts with "
        f"the bytes 1f 8b). Received: first bytes 75 73"
    )):
        cifar10.load_data(path=path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape("Received: first bytes none (empty file)")):
        cifar10.load_data(path=tmp_path)  # found in the folder by its name


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_archive(tmp_path, cut):
    data = Fake(cifar10, seed=1).archive_bytes(binary=True)
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the archive {str(path)!r} is damaged (truncated or corrupt); delete it and get it again. "
        f"Received: "
    )):
        cifar10.load_data(path=path)


@pytest.mark.parametrize(
    "name", ["/tmp/evil", "cifar-10-batches-bin/../../evil", "../evil", "C:/evil", "\\evil"]
)
def test_archive_members_outside_their_folder(tmp_path, name):
    fake = Fake(cifar10, seed=1)
    path = fake.write_archive(tmp_path / "cifar-10-binary.tar.gz", binary=True, extra=[(name, b"boo")])
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the archive {str(path)!r} has a member that would unpack outside its folder (an absolute "
        f"name or one holding '..'); the published archives have none, so nothing of it was read. "
        f"Received: a member named {name!r}"
    )):
        cifar10.load_data(path=path)
    assert sorted(os.listdir(tmp_path)) == ["cifar-10-binary.tar.gz", "home", "work"]  # nothing written


@pytest.mark.parametrize("kind, received", [("symlink", "a symbolic link"), ("hardlink", "a hard link")])
def test_archive_member_that_is_a_link(tmp_path, kind, received):
    fake = Fake(cifar10, seed=1)
    members = [(f"cifar-10-batches-bin/{name}", data) for name, data in fake.members(binary=True).items()]
    members[0] = (members[0][0], (kind, "/etc/passwd"))
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_gz(members))
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the member {members[0][0]} of {str(path)!r} must be a plain file. Received: {received}"
    )):
        cifar10.load_data(path=path)


def test_archive_member_twice(tmp_path):
    fake = Fake(cifar10, seed=1)
    member = "cifar-10-batches-bin/data_batch_2.bin"
    path = fake.write_archive(tmp_path / "x.tar.gz", binary=True, extra=[("./" + member, bytes(3 * 3073))])
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-10: the archive {str(path)!r} holds {member} twice; the published archives hold each file "
        f"once. Received: a second member {member}"
    )):
        cifar10.load_data(path=path)


def test_archive_missing_files(tmp_path):
    fake = Fake(cifar100, seed=1)
    members = [(f"cifar-100-binary/{name}", data) for name, data in fake.members(binary=True).items()
               if name != "test.bin"]
    path = tmp_path / "x.tar.gz"
    path.write_bytes(tar_gz(members))
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-100: the archive {str(path)!r} holds only 1 of the 2 files of the dataset. Expected "
        f"cifar-100-binary/train.bin and cifar-100-binary/test.bin. "
        f"Received: no member cifar-100-binary/test.bin"
    )):
        cifar100.load_data(path=path)
    path.write_bytes(tar_gz([("cifar-100-binary/readme.txt", b"hello"), ("other/train.bin", bytes(3074))]))
    with pytest.raises(ValueError, match=re.escape(
        f"CIFAR-100: the archive {str(path)!r} holds none of the files of the dataset. Expected "
        f"cifar-100-binary/train.bin, cifar-100-binary/test.bin, cifar-100-python/train and "
        f"cifar-100-python/test. Received: no member "
    )):
        cifar100.load_data(path=path)


def test_archive_with_both_versions_reads_the_first_met(tmp_path):
    binary, python = Fake(cifar10, seed=1), Fake(cifar10, seed=2)
    members = [(f"cifar-10-batches-py/{n}", d) for n, d in python.members(binary=False).items()]
    members += [(f"cifar-10-batches-bin/{n}", d) for n, d in binary.members(binary=True).items()]
    path = tmp_path / "both.tar.gz"
    path.write_bytes(tar_gz(members))
    assert_same(cifar10.load_data(path=path), python.expected())


def test_records_are_read_in_bounded_pieces(tmp_path, monkeypatch):
    """A file larger than one piece is read in several, each to its own place."""
    monkeypatch.setattr(_cifar, "_CHUNK_RECORDS", 2)
    fake = Fake(cifar100, seed=9)
    fake.write_folder(tmp_path / "cifar-100-binary", binary=True)
    assert_same(cifar100.load_data("coarse", path=tmp_path), fake.expected("coarse"))


def test_binary_records_helper_matches_the_definition():
    """The test helper that writes records agrees with the written-out pixel order."""
    pixels, image = _plane_image()
    assert binary_records([[4]], image[None]) == bytes([4]) + pixels


def _peak_bytes(function):
    """Run ``function``; the peak of memory allocated meanwhile (NumPy arrays report to tracemalloc too)."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "python"])
@pytest.mark.parametrize("form", ["folder", "archive"])
def test_memory_is_the_arrays_and_one_file_at_most(tmp_path, monkeypatch, binary, form):
    """One allocation per array, no concatenated copies: a binary file passes through a 3 MB buffer
    (and an archive's reader through 1 MB pieces); a python file's pixels exist twice while it is
    unpickled (the unpickler's read, and its copy). Six files of 3 MB each: a copy of all of them,
    as a concatenation makes, would need 18 MB more."""
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 1000)
    fake = Fake(cifar10, seed=1)
    if form == "archive":
        path = fake.write_archive(tmp_path / "a.tar.gz", binary)
    else:
        path = fake.write_folder(tmp_path / fake.folder_name(binary), binary)
    result = []
    peak = _peak_bytes(lambda: result.append(cifar10.load_data(path=path)))
    arrays = sum(a.nbytes for split in result[0] for a in split)
    allowance = (6 << 20) if binary else 2 * 1000 * 3072 + (1 << 21)
    assert peak < arrays + allowance, f"peak {peak} bytes for {arrays} bytes of arrays"
