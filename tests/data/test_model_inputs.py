"""convolve/data/model_inputs.py: which files are read (folders, globs), how each is prepared for
a model, and what comes out (probabilities, top classes): shared by `convolve predict` and
convolve.dask."""
from __future__ import annotations

import os

import numpy as np
import pytest

from convolve import layers as L
from convolve.data import model_inputs
from convolve.data.model_inputs import image_paths, input_spec, probabilities, read_batch, top_classes
from convolve.models import Sequential

PIL = pytest.importorskip("PIL.Image")


def png(path, size=(6, 5), value=None, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = (
        rng.integers(0, 256, size=size, dtype=np.uint8) if value is None else np.full(size, value, np.uint8)
    )
    PIL.fromarray(pixels).save(path)
    return str(path)


@pytest.fixture
def tree(tmp_path):
    for name in ("b/2.png", "b/1.JPG", "a/3.png", ".hidden/4.png", "a/.5.png"):
        target = tmp_path / name
        if name.endswith("JPG"):
            target.parent.mkdir(parents=True, exist_ok=True)
            PIL.fromarray(np.zeros((4, 4), np.uint8)).save(target, format="JPEG")
        else:
            png(target)
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    np.save(tmp_path / "a" / "x.npy", np.zeros((6, 5)))
    return tmp_path


def test_folders_are_read_recursively_sorted_without_hidden_files(tree):
    assert image_paths(str(tree)) == [str(tree / p) for p in ("a/3.png", "b/1.JPG", "b/2.png")]


def test_glob_patterns_are_expanded_sorted_with_image_suffixes_only(tree):
    assert image_paths(str(tree / "*" / "*")) == [str(tree / p) for p in ("a/3.png", "b/1.JPG", "b/2.png")]
    assert image_paths([str(tree / "**" / "2.png"), str(tree / "a" / "x.npy")]) == [
        str(tree / "b" / "2.png"), str(tree / "a" / "x.npy"),
    ]


def test_missing_files_empty_folders_and_patterns_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such image: '.*nope.png'"):
        image_paths(str(tmp_path / "nope.png"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no images in the folder '.*empty'.*Received: .*empty"):
        image_paths(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match=r"no image files match the pattern '.*\*.png'.*Received: "):
        image_paths(str(tmp_path / "*.png"))


def grey_model(rescaling=False, channels_first=False):
    shape = (1, 6, 5) if channels_first else (6, 5, 1)
    head = [L.Rescaling(1 / 255)] if rescaling else []
    fmt = "channels_first" if channels_first else "channels_last"
    return Sequential([L.Input(shape), *head, L.Conv2D(2, 3, data_format=fmt), L.Flatten(), L.Dense(3)])


def test_images_are_prepared_as_the_model_takes_them(tmp_path):
    path = png(tmp_path / "g.png", value=51)
    spec = input_spec(grey_model())
    assert read_batch([path], spec).shape == (1, 6, 5, 1)
    np.testing.assert_allclose(read_batch([path], spec), 0.2, rtol=1e-6)
    np.testing.assert_allclose(read_batch([path], spec, invert=True), 0.8, rtol=1e-6)
    np.testing.assert_array_equal(read_batch([path], input_spec(grey_model(rescaling=True))), 51.0)
    assert read_batch([path, path], input_spec(grey_model(channels_first=True))).shape == (2, 1, 6, 5)
    assert read_batch([], spec).shape == (0, 6, 5, 1)


def test_npy_arrays_must_have_the_models_size_and_channels(tmp_path):
    spec = input_spec(grey_model())
    np.save(tmp_path / "ok.npy", np.ones((6, 5)))
    np.testing.assert_array_equal(model_inputs.read_for_model(str(tmp_path / "ok.npy"), spec), 1.0)
    np.save(tmp_path / "small.npy", np.ones((4, 4)))
    with pytest.raises(
        ValueError, match=r"must be 6x5 \(the model's input size.*Received: shape \(1, 4, 4, 1\)"
    ):
        model_inputs.read_for_model(str(tmp_path / "small.npy"), spec)
    np.save(tmp_path / "rgb.npy", np.ones((6, 5, 3)))
    with pytest.raises(ValueError, match=r"must have 1 channel\(s\). Received: shape \(1, 6, 5, 3\)"):
        model_inputs.read_for_model(str(tmp_path / "rgb.npy"), spec)
    np.save(tmp_path / "text.npy", np.array([["a"] * 5] * 6))
    with pytest.raises(ValueError, match=r"must hold real numbers. Received: dtype <U1"):
        model_inputs.read_for_model(str(tmp_path / "text.npy"), spec)


def test_a_model_that_is_not_an_image_model_is_refused():
    with pytest.raises(ValueError, match=r"one batch of images .*Received: input shape \(None, 4\)"):
        input_spec(Sequential([L.Input((4,)), L.Dense(2)]))
    with pytest.raises(ValueError, match=r"1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels.*\(None, 6, 5, 2\)"):
        input_spec(Sequential([L.Input((6, 5, 2)), L.Conv2D(1, 3)]))
    with pytest.raises(ValueError, match=r"one score per class.*Received: output shape \(None, 4, 3, 2\)"):
        model_inputs.class_count(Sequential([L.Input((6, 5, 1)), L.Conv2D(2, 3)]))


def test_probabilities_and_the_top_classes():
    probs, softmax = probabilities(np.array([[0.2, 0.5, 0.3]]), None)
    assert softmax is False
    np.testing.assert_array_equal(probs, [[0.2, 0.5, 0.3]])
    probs, softmax = probabilities(np.array([[-1.0, 1.0, 1.0]]), None)
    assert softmax is True and np.isclose(probs.sum(), 1.0)
    assert list(top_classes(probs[0], 3)) == [1, 2, 0]  # a tie: the lower class index first
    assert os.fspath(model_inputs.existing_file(__file__)) == __file__
