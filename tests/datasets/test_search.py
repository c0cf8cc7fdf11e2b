"""Where mnist.load_data and fashion_mnist.load_data look, in which order, and what they accept."""
import os
import re
import shutil
import zipfile

import numpy as np
import pytest

from convolve.datasets import DatasetNotFoundError, fashion_mnist, mnist
from convolve.datasets.idx import write_idx

from .support import NAMES, assert_loaded, write_dataset, write_npz


def _places(module, tmp_path):
    """The folders load_data searches, in order, for the isolated HOME and working directory."""
    home, work, data = tmp_path / "home", tmp_path / "work", tmp_path / "data"
    name, tv = ("mnist", "MNIST") if module is mnist else ("fashion-mnist", "FashionMNIST")
    keras = home / ".keras" / "datasets"
    places = [data, data / name, keras if module is mnist else keras / name]
    places += [work / "data" / tv / "raw", work / tv / "raw"]
    if module is fashion_mnist:
        places.append(tmp_path / "debian")
    places.append(home / ".convolve" / "datasets" / name)
    return places


@pytest.mark.parametrize("module", [mnist, fashion_mnist], ids=["mnist", "fashion_mnist"])
def test_every_location_in_order(module, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", str(tmp_path / "debian"))
    places = _places(module, tmp_path)
    written = [write_dataset(folder, seed=i, gz=i % 2 == 0) for i, folder in enumerate(places)]
    for folder, arrays in zip(places, written, strict=True):
        assert_loaded(module.load_data(), arrays)
        for name in NAMES.values():  # not rmtree: $CONVOLVE_DATA/<name> is inside $CONVOLVE_DATA
            os.remove(folder / (name + ".gz") if (folder / (name + ".gz")).exists() else folder / name)
    with pytest.raises(DatasetNotFoundError) as info:
        module.load_data()
    message = str(info.value)
    positions = [message.index(str(folder) + "  [") for folder in places]
    assert positions == sorted(positions), "the error lists the places in search order"


def test_mnist_npz_in_keras_folder(tmp_path):
    arrays = write_npz(str(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"), seed=3)
    assert_loaded(mnist.load_data(), arrays)


def test_keras_home_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    arrays = write_npz(str(tmp_path / "kh" / "datasets" / "mnist.npz"), seed=4)
    write_npz(str(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"), seed=5)  # not read
    assert_loaded(mnist.load_data(), arrays)
    fashion = write_dataset(tmp_path / "kh" / "datasets" / "fashion-mnist", seed=6)
    assert_loaded(fashion_mnist.load_data(), fashion)


def test_idx_files_win_over_npz_in_one_folder(tmp_path):
    folder = tmp_path / "home" / ".keras" / "datasets"
    write_npz(str(folder / "mnist.npz"), seed=1)
    arrays = write_dataset(folder, seed=2)
    assert_loaded(mnist.load_data(), arrays)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_path_argument_comes_first(tmp_path, monkeypatch, gz):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    write_dataset(tmp_path / "data", seed=1)
    arrays = write_dataset(tmp_path / "mine", seed=2, gz=gz)
    assert_loaded(mnist.load_data(path=tmp_path / "mine"), arrays)
    assert_loaded(fashion_mnist.load_data(path=str(tmp_path / "mine")), arrays)


def test_plain_file_preferred_to_gz_and_mixed_folders_work(tmp_path):
    folder = tmp_path / "mixed"
    arrays = write_dataset(folder, seed=1, gz=True)
    plain = write_dataset(folder, seed=2, gz=False, keys=("x_train", "y_train"))
    expected = dict(arrays, x_train=plain["x_train"], y_train=plain["y_train"])
    assert_loaded(mnist.load_data(path=folder), expected)


def test_path_argument_to_npz_file(tmp_path):
    arrays = write_npz(str(tmp_path / "d" / "anything.npz"), seed=7)
    assert_loaded(mnist.load_data(path=tmp_path / "d" / "anything.npz"), arrays)
    assert_loaded(mnist.load_data(path=tmp_path / "d" / ".." / "d" / "anything.npz"), arrays)


def test_keras_style_npz_name(tmp_path):
    arrays = write_npz(str(tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"), seed=8)
    # as keras.datasets.mnist.load_data(path="mnist.npz")
    assert_loaded(mnist.load_data(path="mnist.npz"), arrays)
    keras = tmp_path / "home" / ".keras" / "datasets"
    message = (
        f"the `path` argument names a .npz file, but 'other.npz' nor {str(keras / 'other.npz')!r} exists. "
        f"Received: path='other.npz'"
    )
    with pytest.raises(DatasetNotFoundError, match=re.escape(message)):
        mnist.load_data(path="other.npz")
    message = f"but {str(tmp_path / 'x.npz')!r} does not exist"
    with pytest.raises(DatasetNotFoundError, match=re.escape(message)):
        mnist.load_data(path=tmp_path / "x.npz")


def test_path_argument_without_the_data_does_not_search_on(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    write_dataset(tmp_path / "data", seed=1)
    write_dataset(tmp_path / "half", seed=1, keys=("x_train", "y_train"))
    message = (
        "the folder given as `path` does not hold the dataset "
        "(only 2 of the 4 files (missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte))"
    )
    with pytest.raises(DatasetNotFoundError, match=re.escape(message)):
        mnist.load_data(path=tmp_path / "half")
    message = (
        "(no such folder). Expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
        "and t10k-labels-idx1-ubyte, each plain or gzipped (.gz) (or Keras' mnist.npz). Received: path="
    )
    with pytest.raises(DatasetNotFoundError, match=re.escape(message)):
        mnist.load_data(path=tmp_path / "nowhere")


def test_incomplete_folder_is_skipped_and_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    write_dataset(tmp_path / "data", seed=1, keys=("x_train", "y_train", "x_test"))
    arrays = write_dataset(tmp_path / "home" / ".convolve" / "datasets" / "fashion-mnist", seed=2)
    assert_loaded(fashion_mnist.load_data(), arrays)
    shutil.rmtree(tmp_path / "home" / ".convolve")
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    listed = f"{tmp_path / 'data'}  [$CONVOLVE_DATA: only 3 of the 4 files (missing t10k-labels-idx1-ubyte)]"
    assert listed in str(info.value)


def test_mnist_does_not_read_fashion_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    write_dataset(tmp_path / "data" / "fashion-mnist", seed=1)
    write_dataset(tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist", seed=1)
    with pytest.raises(DatasetNotFoundError):
        mnist.load_data()


def _corrupt(folder, key, how):
    path = folder / (NAMES[key] + ".gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "cut" else data)
    return path


def test_damaged_file_in_a_searched_folder_is_an_error_not_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    write_dataset(tmp_path / "data", seed=1)
    write_dataset(tmp_path / "home" / ".convolve" / "datasets" / "mnist", seed=2)
    path = _corrupt(tmp_path / "data", "x_train", "cut")
    with pytest.raises(ValueError, match="damaged gzip file") as info:
        mnist.load_data()
    assert str(path) in str(info.value)


def test_truncated_plain_file_in_a_dataset(tmp_path):
    write_dataset(tmp_path / "d", seed=1, gz=False)
    path = tmp_path / "d" / NAMES["x_test"]
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match=re.escape(f"The IDX file {str(path)!r} is truncated")):
        mnist.load_data(path=tmp_path / "d")


def test_counts_must_agree(tmp_path):
    folder = tmp_path / "d"
    write_dataset(folder, seed=1)
    write_idx(folder / (NAMES["y_train"] + ".gz"), np.zeros(5, np.uint8))
    images, labels = (repr(str(folder / (NAMES[key] + ".gz"))) for key in ("x_train", "y_train"))
    message = (
        f"MNIST: the images file {images} and the labels file {labels} must hold as many images as labels. "
        f"Received: 6 images and 5 labels"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=folder)


@pytest.mark.parametrize(
    "key, array, message",
    [
        ("y_test", np.zeros((4, 1), np.uint8), "must hold a 1-d array. Received: shape (4, 1)"),
        ("x_test", np.zeros((4, 784), np.uint8),
         "must hold a 3-d array (count, rows, columns). Received: shape (4, 784)"),
        ("x_train", np.zeros((6, 28, 28), np.float32), "must hold uint8 values. Received: dtype float32"),
        ("y_train", np.full(6, 10, np.uint8), "must lie in 0..9. Received: a label 10"),
    ],
)
def test_files_that_do_not_fit(tmp_path, key, array, message):
    folder = tmp_path / "d"
    write_dataset(folder, seed=1)
    write_idx(folder / (NAMES[key] + ".gz"), array)
    with pytest.raises(ValueError, match=re.escape(message)):
        fashion_mnist.load_data(path=folder)


def _path(folder, key):
    return repr(str(folder / (NAMES[key] + ".gz")))


def test_image_sizes_must_agree(tmp_path):
    folder = tmp_path / "d"
    write_dataset(folder, seed=1)
    write_idx(folder / (NAMES["x_train"] + ".gz"), np.zeros((6, 4, 4), np.uint8))
    message = (
        f"Fashion-MNIST: the images file {_path(folder, 'x_train')} has images of 4x4 but the images file "
        f"{_path(folder, 'x_test')} has 28x28; training and test images must be the same size. "
        f"Received: shapes (6, 4, 4) and (4, 28, 28)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        fashion_mnist.load_data(path=folder)


def test_npz_image_sizes_must_agree(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.zeros(3, np.uint8),
             x_test=np.zeros((2, 28, 27), np.uint8), y_test=np.zeros(2, np.uint8))
    message = (
        f"MNIST: the images file {str(path)!r} (x_train) has images of 28x28 but the images file "
        f"{str(path)!r} (x_test) has 28x27; training and test images must be the same size. "
        f"Received: shapes (3, 28, 28) and (2, 28, 27)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)


@pytest.mark.parametrize("split", ["train", "test"])
def test_zero_images_are_refused(tmp_path, split):
    folder = tmp_path / "d"
    write_dataset(folder, seed=1)
    write_idx(folder / (NAMES[f"x_{split}"] + ".gz"), np.zeros((0, 28, 28), np.uint8))
    write_idx(folder / (NAMES[f"y_{split}"] + ".gz"), np.zeros(0, np.uint8))
    message = (
        f"MNIST: the images file {_path(folder, f'x_{split}')} holds no images; expected at least one. "
        f"Received: shape (0, 28, 28)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=folder)


def test_zero_images_in_npz_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, x_train=np.zeros((0, 28, 28), np.uint8), y_train=np.zeros(0, np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.uint8))
    message = f"MNIST: the images file {str(path)!r} (x_train) holds no images; expected at least one."
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)


def test_images_of_no_pixels_are_refused(tmp_path):
    folder = tmp_path / "d"
    write_dataset(folder, seed=1)
    write_idx(folder / (NAMES["x_test"] + ".gz"), np.zeros((4, 28, 0), np.uint8))
    message = (
        f"MNIST: the images in {_path(folder, 'x_test')} must be at least 1x1 pixel. "
        f"Received: shape (4, 28, 0)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=folder)


def test_npz_problems(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.zeros(1, np.uint8))
    message = (
        "must hold the arrays x_train, y_train, x_test and y_test. "
        "Received: arrays ['x_train', 'y_train']"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)
    np.savez(
        path, x_train=np.array([object()] * 2), y_train=np.zeros(2, np.uint8),
        x_test=np.zeros(1), y_test=np.zeros(1),
    )
    message = f"the file {str(path)!r} could not be read as a .npz file"
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)
    path.write_bytes(b"not a zip file at all")
    message = (
        f"the file {str(path)!r} is not a .npz file (a .npz file is a zip archive, starting with the bytes "
        f"50 4b 03 04). Received: first bytes 6e 6f 74 20"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape("Received: first bytes none (empty file)")):
        mnist.load_data(path=path)
    write_npz(str(path), seed=1)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=re.escape(f"MNIST: the file {str(path)!r}")):
        mnist.load_data(path=path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", b"garbage")
    with pytest.raises(ValueError, match=re.escape(f"MNIST: the file {str(path)!r}")):
        mnist.load_data(path=path)


def test_damaged_compressed_npz(tmp_path):
    path = tmp_path / "m.npz"
    arrays = {k: np.asarray(v) for k, v in write_npz(str(tmp_path / "plain.npz"), seed=1).items()}
    np.savez_compressed(path, **arrays)
    data = bytearray(path.read_bytes())
    data[100:140] = bytes(40)
    path.write_bytes(bytes(data))
    message = f"MNIST: the file {str(path)!r} could not be read as a .npz file"
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)


def test_npz_counts_must_agree(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    message = (
        f"MNIST: the images file {str(path)!r} (x_train) and the labels file {str(path)!r} (y_train) "
        f"must hold as many images as labels. Received: 3 images and 2 labels"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mnist.load_data(path=path)


def test_returned_arrays_are_independent_and_writable(tmp_path):
    write_dataset(tmp_path / "d", seed=1)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=tmp_path / "d")
    for array in (x_train, y_train, x_test, y_test):
        assert array.flags.writeable and array.flags.c_contiguous
    assert not os.listdir(tmp_path / "home")  # loading writes nothing
