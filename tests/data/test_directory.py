"""convolve.utils.image_dataset_from_directory: Keras 3's files, labels, order, split and resizing,
checked on small class-folder trees written with Pillow, against hand-written expectations (Keras
itself is not installed here; each expectation says which Keras rule it follows)."""
from __future__ import annotations

import os
import re
import threading

import numpy as np
import pytest
from PIL import Image

import convolve.data.directory as directory
from convolve import utils
from convolve.data import Dataset, image_dataset_from_directory
from tests.helpers import forged_png

CATS, DOGS = 10, 200  # every pixel of a cat picture is 10, of a dog picture 200: labels checkable


def save(path, pixels, mode=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = Image.fromarray(np.asarray(pixels, np.uint8))
    (img.convert(mode) if mode else img).save(path, **kwargs)
    return str(path)


def grey(value, h=4, w=6):
    return np.full((h, w), value, np.uint8)


@pytest.fixture
def pets(tmp_path):
    """cats: a.png (grey), b.jpg (RGB), sub/c.bmp (RGB, nested); dogs: E.PNG (upper case), d.gif;
    ignored: cats/notes.txt, .hidden/x.png; top.png (only read without labels)."""
    root = tmp_path / "pets"
    save(root / "cats" / "a.png", grey(CATS))
    save(root / "cats" / "b.jpg", grey(CATS), mode="RGB", quality=100)
    save(root / "cats" / "sub" / "c.bmp", grey(CATS), mode="RGB")
    (root / "cats" / "notes.txt").write_text("not an image")
    save(root / "dogs" / "E.PNG", grey(DOGS))
    save(root / "dogs" / "d.gif", grey(DOGS))
    save(root / ".hidden" / "x.png", grey(99))
    save(root / "top.png", grey(50))
    return root


KERAS_ORDER = ["cats/a.png", "cats/b.jpg", "cats/sub/c.bmp", "dogs/E.PNG", "dogs/d.gif"]


def load(root, **kwargs):
    kwargs = {"image_size": (4, 6), "verbose": False, "shuffle": False, **kwargs}
    return image_dataset_from_directory(root, **kwargs)


def relative(ds, root):
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in ds.file_paths]


def everything(ds):
    """One pass, concatenated: (x, y), or x without labels."""
    batches = list(ds)
    if isinstance(batches[0], tuple):
        return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])
    return np.concatenate(batches)


def class_of(images):
    """Which class each image shows, from its mean value (JPEG may move a value by 1 or 2)."""
    means = images.reshape(len(images), -1).mean(axis=1)
    assert np.all(np.minimum(abs(means - CATS), abs(means - DOGS)) < 3)
    return (abs(means - DOGS) < 3).astype(int)


# ---- files, class names, labels ---------------------------------------------------------------------
def test_files_classes_and_order_follow_keras(pets):
    ds = load(pets, batch_size=2)
    assert ds.class_names == ["cats", "dogs"]
    assert relative(ds, pets) == KERAS_ORDER  # folders by path, files by name, .txt and .hidden left out
    assert isinstance(ds, Dataset) and len(ds) == 3 and ds.cardinality() == 3
    x, y = everything(ds)
    assert x.shape == (5, 4, 6, 3) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(class_of(x), y)


def test_label_modes(pets):
    _, y = everything(load(pets, label_mode="categorical"))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(2)[[0, 0, 0, 1, 1]])
    _, y = everything(load(pets, label_mode="binary"))
    assert y.dtype == np.float32 and y.shape == (5, 1)
    np.testing.assert_array_equal(y[:, 0], [0, 0, 0, 1, 1])
    for ds in (load(pets, label_mode=None), load(pets, labels=None)):
        x = everything(ds)  # images alone, from every folder (Keras indexes from the top)
        assert x.shape == (7, 4, 6, 3) and ds.class_names is None
        assert sorted(set(x[:, 0, 0, 0].round().tolist())) == [CATS, 50, 99, DOGS]


def test_class_names_choose_and_order_the_classes(pets):
    ds = load(pets, class_names=["dogs", "cats"])
    assert ds.class_names == ["dogs", "cats"]
    assert relative(ds, pets) == KERAS_ORDER[3:] + KERAS_ORDER[:3]
    x, y = everything(ds)
    np.testing.assert_array_equal(y, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(class_of(x), 1 - y)
    only = load(pets, class_names=["dogs"])  # a subset, as Keras allows
    assert relative(only, pets) == KERAS_ORDER[3:]


def test_explicit_labels_follow_the_sorted_files(pets):
    labels = [3, 0, 3, 1, 0, 3, 1]  # one per image under pets/, in Keras' os.walk order
    ds = load(pets, labels=labels, batch_size=None)
    assert ds.class_names == ["0", "1", "3"]
    # os.walk's folders sorted by path: pets/ itself, then pets/.hidden, pets/cats, ...
    assert relative(ds, pets) == ["top.png", ".hidden/x.png"] + KERAS_ORDER
    got = [int(y) for _, y in ds]
    assert got == labels
    _, onehot = everything(load(pets, labels=labels, label_mode="categorical"))
    np.testing.assert_array_equal(onehot, np.eye(4)[labels])  # one column per value 0..max


def test_batch_size_none_yields_single_images_and_channels_first(pets):
    ds = load(pets, batch_size=None)
    single = list(ds)
    assert len(ds) == 5 == len(single)
    assert single[0][0].shape == (4, 6, 3) and single[0][1].shape == ()
    first = load(pets, data_format="channels_first")
    x_first, _ = everything(first)
    x_last, _ = everything(load(pets))
    assert x_first.shape == (5, 3, 4, 6) and x_first.flags.c_contiguous
    np.testing.assert_array_equal(x_first, x_last.transpose(0, 3, 1, 2))


def test_symlinked_folders_are_followed_only_with_follow_links(pets, tmp_path):
    save(tmp_path / "elsewhere" / "f.png", grey(DOGS))
    os.symlink(tmp_path / "elsewhere", pets / "dogs" / "linked")
    assert len(load(pets).file_paths) == 5
    ds = load(pets, follow_links=True)
    assert relative(ds, pets)[-1] == "dogs/linked/f.png"
    _, y = everything(ds)
    assert y[-1] == 1


def test_verbose_prints_what_keras_prints(pets, capsys):
    load(pets, verbose=True, shuffle=True, seed=1, validation_split=0.4, subset="both")
    assert capsys.readouterr().out.splitlines() == [
        "Found 5 files belonging to 2 classes.", "Using 3 files for training.",
        "Using 2 files for validation.",
    ]
    load(pets, verbose=True, labels=None)
    assert capsys.readouterr().out == "Found 7 files.\n"
    load(pets, verbose=False, seed=1, validation_split=0.4, subset="training")
    assert capsys.readouterr().out == ""


# ---- pixel values, colour modes, resizing ----------------------------------------------------------
@pytest.fixture
def known(tmp_path):
    """One class holding one 3x4 grey image of values 0, 20, ..., 220, and one RGB image."""
    root = tmp_path / "known"
    values = (np.arange(12) * 20).reshape(3, 4).astype(np.uint8)
    save(root / "a" / "grey.png", values)
    rgb = np.stack([values, 255 - values, np.full_like(values, 7)], axis=-1)
    save(root / "b" / "rgb.png", rgb)
    return root, values.astype(np.float32), rgb.astype(np.float32)


def test_pixel_values_are_the_files_integers_as_float32(known):
    root, values, rgb = known
    x, _ = everything(load(root, image_size=(3, 4), color_mode="grayscale"))
    np.testing.assert_array_equal(x[0, :, :, 0], values)  # exactly, not scaled to [0, 1]
    np.testing.assert_array_equal(x[1, :, :, 0], np.round(rgb @ [0.299, 0.587, 0.114]))  # Pillow's luma
    x, _ = everything(load(root, image_size=(3, 4)))
    np.testing.assert_array_equal(x[0], np.repeat(values[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(x[1], rgb)
    x, _ = everything(load(root, image_size=(3, 4), color_mode="rgba"))
    assert x.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(x[1, :, :, :3], rgb)
    np.testing.assert_array_equal(x[:, :, :, 3], 255)  # no alpha in the file: opaque


def test_every_allowed_format_gives_the_pixels(tmp_path):
    values = (np.arange(24) * 10).reshape(4, 6).astype(np.uint8)
    for ext in ("png", "bmp", "gif"):  # lossless for a grey image
        save(tmp_path / "c" / f"{ext}_image.{ext}", values)
    save(tmp_path / "c" / "jpeg_image.jpeg", values, quality=100)
    x, _ = everything(load(tmp_path, color_mode="grayscale"))
    assert x.shape == (4, 4, 6, 1)
    for k in (0, 1, 3):  # bmp, gif, png (files sorted by name)
        np.testing.assert_array_equal(x[k, :, :, 0], values)
    np.testing.assert_allclose(x[2, :, :, 0], values, atol=3)  # JPEG


def test_image_size_resizes_as_hand_computed(tmp_path):
    save(tmp_path / "c" / "a.png", [[0, 100]])  # 1x2
    x, _ = everything(load(tmp_path, image_size=(2, 4), color_mode="grayscale", interpolation="nearest"))
    np.testing.assert_array_equal(x[0, :, :, 0], [[0, 0, 100, 100]] * 2)
    x, _ = everything(load(tmp_path, image_size=(1, 4), color_mode="grayscale", interpolation="bilinear"))
    # half-pixel centres (TensorFlow's and Pillow's): sources -0.25, 0.25, 0.75, 1.25, clamped at the edges
    np.testing.assert_allclose(x[0, 0, :, 0], [0, 25, 75, 100], atol=1e-4)
    block = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    save(tmp_path / "d" / "b.png", block)
    x, _ = everything(load(tmp_path / "d" / "..", image_size=(2, 2), color_mode="grayscale",
                           interpolation="area", class_names=["d"]))
    expected = block.reshape(2, 2, 2, 2).mean(axis=(1, 3))  # area: each output the mean of its 2x2 block
    np.testing.assert_allclose(x[0, :, :, 0], expected, atol=1e-4)
    assert x.dtype == np.float32 and x.max() <= 255


@pytest.mark.parametrize("interpolation", sorted(directory.INTERPOLATIONS))
def test_every_keras_interpolation_name_resizes_within_0_255(tmp_path, interpolation):
    rng = np.random.default_rng(0)
    save(tmp_path / "c" / "a.png", rng.integers(0, 256, (9, 7), dtype=np.uint8))
    save(tmp_path / "c" / "b.png", np.where(np.arange(35).reshape(5, 7) % 2, 255, 0))
    for size in ((4, 3), (20, 11)):
        x, _ = everything(load(tmp_path, image_size=size, interpolation=interpolation))
        assert x.shape == (2, *size, 3) and x.min() >= 0 and x.max() <= 255  # bicubic/lanczos clipped


def test_crop_to_aspect_ratio_takes_the_largest_centred_window(tmp_path):
    wide = np.arange(12, dtype=np.uint8).reshape(2, 6) * 20  # h=2, w=6
    save(tmp_path / "c" / "a.png", wide)
    x, _ = everything(load(tmp_path, image_size=(2, 2), color_mode="grayscale", crop_to_aspect_ratio=True))
    # Keras' smart_resize: crop_h = min(2, 6 * 2 // 2) = 2, crop_w = min(6, 2 * 2 // 2) = 2,
    # left = (6 - 2) // 2
    np.testing.assert_array_equal(x[0, :, :, 0], wide[:, 2:4])
    x, _ = everything(load(tmp_path, image_size=(1, 1), color_mode="grayscale", crop_to_aspect_ratio=True,
                           interpolation="area"))
    np.testing.assert_allclose(x[0, 0, 0, 0], wide[:, 2:4].mean(), atol=1e-4)
    x, _ = everything(load(tmp_path, image_size=(2, 3), color_mode="grayscale", crop_to_aspect_ratio=True))
    np.testing.assert_array_equal(x[0, :, :, 0], wide[:, 1:4])  # crop_w = 2 * 3 // 2 = 3, left = 1
    tall = wide.T  # h=6, w=2: crop rows 2..3
    save(tmp_path / "c" / "a.png", tall)
    x, _ = everything(load(tmp_path, image_size=(2, 2), color_mode="grayscale", crop_to_aspect_ratio=True))
    np.testing.assert_array_equal(x[0, :, :, 0], tall[2:4])


def test_pad_to_aspect_ratio_centres_the_image_on_zeros_then_resizes(tmp_path):
    image = np.arange(1, 9, dtype=np.uint8).reshape(2, 4) * 30  # h=2, w=4
    save(tmp_path / "c" / "a.png", image)
    x, _ = everything(load(tmp_path, image_size=(4, 4), color_mode="grayscale", pad_to_aspect_ratio=True))
    expected = np.zeros((4, 4))
    expected[1:3] = image  # canvas max(2, 4 * 4 // 4) = 4 rows, the image at row (4 - 2) // 2
    np.testing.assert_array_equal(x[0, :, :, 0], expected)
    x, _ = everything(load(tmp_path, image_size=(2, 2), color_mode="grayscale", pad_to_aspect_ratio=True,
                           interpolation="area"))
    np.testing.assert_allclose(x[0, :, :, 0], expected.reshape(2, 2, 2, 2).mean(axis=(1, 3)), atol=1e-4)
    odd = image[:, :3].copy()  # h=2, w=3 onto 1:1: canvas 3x3, the image at row (3 - 2) // 2 = 0
    save(tmp_path / "c" / "a.png", odd)
    x, _ = everything(load(tmp_path, image_size=(3, 3), color_mode="grayscale", pad_to_aspect_ratio=True))
    np.testing.assert_array_equal(x[0, :, :, 0], np.vstack([odd, np.zeros((1, 3))]))


def test_image_size_none_keeps_a_shared_size_and_names_two_files_that_differ(tmp_path):
    save(tmp_path / "a" / "one.png", grey(1, 5, 7))
    save(tmp_path / "b" / "two.png", grey(2, 5, 7))
    x, y = everything(load(tmp_path, image_size=None, batch_size=1))
    assert x.shape == (2, 5, 7, 3)
    square = load(tmp_path, image_size=3)
    assert everything(square)[0].shape == (2, 3, 3, 3)
    save(tmp_path / "b" / "three.png", grey(3, 6, 7))
    ds = load(tmp_path, image_size=None, batch_size=1)
    one, three = str(tmp_path / "a" / "one.png"), str(tmp_path / "b" / "three.png")
    with pytest.raises(ValueError, match=re.escape(
        f"image_dataset_from_directory: with image_size=None every image must have the same size, to be "
        f"stacked into batches; pass image_size=(height, width) to resize them. Received: {one!r} is 5x7 "
        f"and {three!r} is 6x7 (height x width)"
    )):
        everything(ds)


# ---- shuffling and splitting ----------------------------------------------------------------------
@pytest.fixture
def many(tmp_path):
    """23 files 00.png .. 22.png: [[v, v], [v, 5 k]], v = DOGS for k % 3 == 0 (in dogs/), else CATS."""
    for k in range(23):
        v = DOGS if k % 3 == 0 else CATS
        save(tmp_path / ("dogs" if k % 3 == 0 else "cats") / f"{k:02d}.png", [[v, v], [v, 5 * k]])
    return tmp_path


def identify(x):
    """(file number k, class) of each image of ``many``: from its bottom-right and top-left pixels."""
    return (x[:, 1, 1, 0] / 5).astype(int).tolist(), (x[:, 0, 0, 0] == DOGS).astype(int)


def test_shuffle_is_keras_file_order_then_a_new_order_each_pass(many):
    plain = load(many, image_size=(2, 2))
    assert identify(everything(plain)[0])[0] == [k for k in range(23) if k % 3] + list(range(0, 23, 3))
    ds = load(many, image_size=(2, 2), shuffle=True, seed=5, batch_size=4)
    expected = [plain.file_paths[i] for i in np.random.RandomState(5).permutation(23)]  # Keras' shuffle
    assert ds.file_paths == expected
    passes = []
    for _ in range(3):
        x, y = everything(ds)
        files, classes = identify(x)
        np.testing.assert_array_equal(classes, y)  # labels travel with their images
        assert sorted(files) == list(range(23))
        passes.append(files)
    assert passes[0] != passes[1] != passes[2]  # a new order each pass
    again = load(many, image_size=(2, 2), shuffle=True, seed=5, batch_size=4)
    assert [identify(everything(again)[0])[0] for _ in range(3)] == passes  # same seed, same orders


def test_shuffle_without_a_seed_follows_set_random_seed(many):
    utils.set_random_seed(3)
    a = load(many, image_size=(2, 2), shuffle=True).file_paths
    utils.set_random_seed(3)
    assert load(many, image_size=(2, 2), shuffle=True).file_paths == a


def test_validation_split_is_disjoint_covers_everything_and_repeats_with_the_seed(many):
    kwargs = {"image_size": (2, 2), "shuffle": True, "seed": 11, "validation_split": 0.25}
    train = load(many, subset="training", **kwargs)
    val = load(many, subset="validation", **kwargs)
    assert len(val.file_paths) == int(0.25 * 23) == 5 and len(train.file_paths) == 18
    assert set(train.file_paths).isdisjoint(val.file_paths)
    assert sorted(train.file_paths + val.file_paths) == sorted(load(many, image_size=(2, 2)).file_paths)
    both = load(many, subset="both", **kwargs)
    assert isinstance(both, tuple) and both[0].file_paths == train.file_paths
    assert both[1].file_paths == val.file_paths and both[1].class_names == ["cats", "dogs"]
    x, y = everything(both[1])
    files, classes = identify(x)
    np.testing.assert_array_equal(classes, y)
    assert sorted(files) == sorted(int(os.path.basename(p)[:2]) for p in val.file_paths)
    assert identify(everything(both[1])[0])[0] == files  # the validation set of "both" is not reshuffled
    assert identify(everything(both[0])[0])[0] != identify(everything(both[0])[0])[0]  # training is
    other = load(many, subset="training", **{**kwargs, "seed": 12})
    assert other.file_paths != train.file_paths
    unshuffled = load(many, subset="validation", image_size=(2, 2), validation_split=0.25)
    assert unshuffled.file_paths == load(many, image_size=(2, 2)).file_paths[-5:]


# ---- bad images -------------------------------------------------------------------------------------
@pytest.fixture
def with_bad(many):
    bad = many / "cats" / "05.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    return many, str(bad)


def test_a_bad_image_raises_naming_the_file_at_its_batch(with_bad):
    root, bad = with_bad
    ds = load(root, image_size=(2, 2), batch_size=1)
    position = ds.file_paths.index(bad)
    got = []
    with pytest.raises(ValueError, match=re.escape(
        "image_dataset_from_directory: cannot read an image of the dataset "
        "(image_dataset_from_directory: the file is not an image Pillow can read"
    )) as caught:
        for x, _ in ds:
            got.append(x)
    assert str(caught.value).endswith(
        f"To leave unreadable files out (with their labels), pass on_bad_image='skip'. Received: path={bad!r}"
    )
    assert len(got) == position  # the batches before the bad file arrived
    assert isinstance(caught.value.__cause__, ValueError)


def test_on_bad_image_skip_warns_and_drops_the_label_with_the_image(with_bad):
    root, bad = with_bad
    ds = load(root, image_size=(2, 2), batch_size=4, shuffle=True, seed=0, on_bad_image="skip")
    with pytest.warns(RuntimeWarning, match=re.escape(
        f"image_dataset_from_directory: skipped the file {bad!r}, which cannot be read as an image; "
        f"its label is left out with it (on_bad_image='skip')"
    )):
        batches = list(ds)
    sizes = sorted(len(y) for _, y in batches)
    assert sum(sizes) == 22 and sizes[0] == 3 and len(batches) == len(ds)
    for x, y in batches:
        files, classes = identify(x)
        np.testing.assert_array_equal(classes, y)
        assert 5 not in files


def test_hostile_images_are_refused_naming_the_file(tmp_path):
    (tmp_path / "c").mkdir()
    forged_png(tmp_path / "c" / "huge.png", 10_000, 10_000)  # 10**8 pixels, above Pillow's default limit
    ds = load(tmp_path, image_size=(2, 2))
    with pytest.raises(ValueError, match=r"cannot read an image of the dataset "
                                         r"\(image_dataset_from_directory: the image is 10000x10000 .* "
                                         r"Received: path='.*huge.png'"):
        everything(ds)
    nan = np.full((3, 3), np.nan, np.float32)
    Image.fromarray(nan).save(tmp_path / "c" / "nan.png", format="TIFF")  # a float TIFF named .png
    (tmp_path / "c" / "huge.png").unlink()
    with pytest.raises(ValueError, match=r"holds NaN or infinite values .* Received: path='.*nan.png'"):
        everything(load(tmp_path, image_size=(2, 2)))


# ---- threads ----------------------------------------------------------------------------------------
def test_decoding_in_threads_gives_the_same_batches(many, monkeypatch):
    serial = [everything(load(many, image_size=(3, 3), shuffle=True, seed=2)) for _ in range(2)]
    monkeypatch.setattr(directory, "THREADS_MIN_VALUES", 0)
    monkeypatch.setattr(directory, "_cores", lambda: 3)
    threaded = [everything(load(many, image_size=(3, 3), shuffle=True, seed=2)) for _ in range(2)]
    for (a, b), (c, d) in zip(serial, threaded):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert directory.decode_in_threads(0, 3) and not directory.decode_in_threads(10**6, 1)


def test_decode_in_threads_rule():
    limit = directory.THREADS_MIN_VALUES
    assert not directory.decode_in_threads(28 * 28, 2)  # MNIST-sized: one thread is faster
    assert directory.decode_in_threads(limit, 2) and not directory.decode_in_threads(limit - 1, 2)
    assert directory.decode_in_threads(256 * 256 * 3, 2) and not directory.decode_in_threads(256 * 256 * 3, 1)


def test_the_prefetch_thread_ends_when_the_consumer_stops(many):
    before = {t for t in threading.enumerate() if t.name == "convolve-prefetch"}
    for _ in load(many, image_size=(2, 2), batch_size=2):
        break
    assert {t for t in threading.enumerate() if t.name == "convolve-prefetch" and t.is_alive()} <= before


# ---- the dataset with the training loop -------------------------------------------------------------
def test_fit_trains_on_the_dataset_and_its_cache(many):
    from convolve import layers
    from convolve.models import Sequential

    utils.set_random_seed(0)
    model = Sequential([layers.Input((2, 2, 1)), layers.Flatten(), layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    ds = load(many, image_size=(2, 2), color_mode="grayscale", batch_size=8, shuffle=True, seed=0)
    history = model.fit(ds.map(lambda x, y: (x / 255, y)).cache(), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


# ---- argument errors --------------------------------------------------------------------------------
W = "image_dataset_from_directory: "


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"validation_split": 0.2, "subset": "training", "shuffle": True}, ValueError,
         W + "splitting shuffled files needs a `seed`, so that the training and validation calls shuffle "
         "alike and their files do not overlap; pass the same seed=... to both (or shuffle=False). "
         "Received: validation_split=0.2, shuffle=True, seed=None"),
        ({"validation_split": 0.2}, ValueError,
         W + 'with `validation_split`, pass subset="training", "validation" or "both" to say which part to '
         "return. Received: validation_split=0.2, subset=None"),
        ({"subset": "training"}, ValueError,
         W + "`subset` needs `validation_split` (the fraction of the files kept for validation). "
         "Received: subset='training', validation_split=None"),
        ({"validation_split": 1.5, "subset": "training"}, ValueError,
         W + "`validation_split` must be a number between 0 and 1 (the fraction of the files kept for "
         "validation). Received: validation_split=1.5"),
        ({"validation_split": 0.2, "subset": "train", "seed": 1}, ValueError,
         W + "the `subset` argument must be one of {'training', 'validation', 'both'}. "
         "Received: subset='train'"),
        ({"validation_split": 0.1, "subset": "validation", "seed": 1}, ValueError,
         W + "no validation images: validation_split=0.1 of 5 files leaves 5 for training and 0 for "
         "validation."),
        ({"labels": [0, 1]}, ValueError,
         W + "`labels` must hold one label per image file, in the files' sorted order. Expected 7 labels"),
        ({"labels": [0, -1]}, ValueError,
         W + "`labels` given as a list must hold non-negative integers, one per image file. "
         "Received: labels=[0, -1]"),
        ({"labels": "folders"}, ValueError,
         W + '`labels` must be "inferred" (from the subfolder names), None (no labels), or a list/tuple of '
         "integer labels, one per image file. Received: labels='folders'"),
        ({"class_names": ["cats", "birds"]}, ValueError,
         W + "`class_names` must name subfolders of the directory. Expected names among ['cats', 'dogs'] "
         "(or a subset, in any order). Received: class_names=['cats', 'birds'], of which ['birds'] are "
         "not subfolders"),
        ({"class_names": ["cats", "cats"]}, ValueError,
         W + "`class_names` must name each class once, and at least one. "
         "Received: class_names=['cats', 'cats']"),
        ({"class_names": "cats"}, ValueError,
         W + "`class_names` must be a list of subfolder names (strings). Received: class_names='cats'"),
        ({"labels": [0] * 7, "class_names": ["a"]}, ValueError,
         W + '`class_names` can only be given with labels="inferred"'),
        ({"labels": None, "class_names": ["cats"]}, ValueError,
         W + "`class_names` cannot be given without labels (labels=None or label_mode=None). "
         "Received: labels=None, label_mode='int', class_names=['cats']"),
        ({"label_mode": "sparse"}, ValueError,
         W + "the `label_mode` argument must be one of {'int', 'categorical', 'binary'}. "
         "Received: label_mode='sparse'"),
        ({"labels": [0, 1, 2, 0, 1, 0, 0], "label_mode": "binary"}, ValueError,
         W + 'label_mode="binary" needs labels 0 and 1. Received: labels [\'0\', \'1\', \'2\']'),
        ({"color_mode": "cmyk"}, ValueError,
         W + "the `color_mode` argument must be one of {'grayscale', 'rgb', 'rgba'}. "
         "Received: color_mode='cmyk'"),
        ({"batch_size": 0}, ValueError,
         W + "`batch_size` must be a positive integer or None. Received: batch_size=0"),
        ({"image_size": (4, 0)}, ValueError,
         W + "`image_size` must be (height, width), two positive integers (an int for a square), or None "
         "to keep the images' own size. Received: image_size=(4, 0)"),
        ({"seed": -1}, ValueError, W + "`seed` must be a non-negative integer or None. Received: seed=-1"),
        ({"shuffle": "yes"}, TypeError, W + "`shuffle` must be True or False. Received: shuffle='yes'"),
        ({"interpolation": "cubic"}, ValueError,
         W + "the `interpolation` argument must be one of {'bilinear', 'nearest', 'bicubic', 'area', "
         "'lanczos3', 'lanczos5', 'gaussian', 'mitchellcubic'}. Received: interpolation='cubic'"),
        ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, ValueError,
         W + "only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be True. "
         "Received: crop_to_aspect_ratio=True, pad_to_aspect_ratio=True"),
        ({"image_size": None, "pad_to_aspect_ratio": True}, ValueError,
         W + "`pad_to_aspect_ratio` needs a target aspect ratio: pass image_size=(height, width). "
         "Received: image_size=None, pad_to_aspect_ratio=True"),
        ({"data_format": "nhwc"}, ValueError, W + "the `data_format` argument must be one of"),
        ({"on_bad_image": "ignore"}, ValueError,
         W + "the `on_bad_image` argument must be one of {'raise', 'skip'}. Received: on_bad_image='ignore'"),
    ],
)
def test_argument_errors(pets, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        load(pets, **kwargs)


def test_folder_errors(tmp_path):
    missing = str(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match=re.escape(f"{W}no such folder. "
                                                          f"Received: directory={missing!r}")):
        load(missing)
    path = save(tmp_path / "flat" / "a.png", grey(1))
    with pytest.raises(NotADirectoryError, match=re.escape(
        f"{W}`directory` must be a folder (of class subfolders). Received: directory={path!r}"
    )):
        load(path)
    flat = str(tmp_path / "flat")
    with pytest.raises(ValueError, match=re.escape(
        f'{W}labels="inferred" takes the labels from class subfolders (directory/class_name/image.png), '
        f"and the folder has none; pass labels=None to read its images without labels. "
        f"Received: directory={flat!r} with 1 image file and no subfolders"
    )):
        load(flat)
    assert everything(load(flat, labels=None)).shape == (1, 4, 6, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"and the folder has none; .* with no subfolders$"):
        load(tmp_path / "empty")
    (tmp_path / "empty" / "cats").mkdir()
    (tmp_path / "empty" / "cats" / "readme.txt").write_text("no pictures")
    with pytest.raises(ValueError, match=re.escape(
        f"{W}no images found in the folder (only files ending in .bmp, .gif, .jpeg, .jpg, .png are read, "
        f"in the class subfolders ['cats']). Received: directory={str(tmp_path / 'empty')!r}"
    )):
        load(tmp_path / "empty")
    with pytest.raises(TypeError, match=re.escape(f"{W}`directory` must be a folder name. "
                                                  f"Received: directory=3")):
        load(3)
    save(tmp_path / "three" / "a" / "x.png", grey(1))
    save(tmp_path / "three" / "b" / "x.png", grey(1))
    save(tmp_path / "three" / "c" / "x.png", grey(1))
    with pytest.raises(ValueError, match=re.escape(
        f"{W}label_mode=\"binary\" needs exactly 2 classes (subfolders). Received: 3 classes ['a', 'b', 'c']"
    )):
        load(tmp_path / "three", label_mode="binary")


def test_exported_from_utils_and_data():
    from convolve import data

    assert utils.image_dataset_from_directory is data.image_dataset_from_directory
    assert data.image_dataset_from_directory is image_dataset_from_directory
    assert utils.PyDataset is data.PyDataset
