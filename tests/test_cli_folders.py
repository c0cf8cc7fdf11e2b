"""``convolve train``/``evaluate``/``predict`` on class folders of images and on CIFAR, and the CSV
that ``predict`` writes: checked against the library computing the same thing."""
import os
import re

import numpy as np
import pytest

from convolve.cli import main
from tests.test_cli import assert_one_line_error, read_csv, run

PIL = pytest.importorskip("PIL")
pytest.importorskip("safetensors")
from PIL import Image  # noqa: E402

from convolve.cli import _folders  # noqa: E402
from convolve.data import image_dataset_from_directory  # noqa: E402
from convolve.models import load_model  # noqa: E402

COLOURS = {"blue": (20, 40, 220), "green": (30, 200, 40), "red": (220, 30, 30)}


def colour_folders(root, n=8, size=(12, 10), grey=False, rng_seed=0):
    """root/<colour>/<i>.png: noisy images of one dominant colour per class (a grey level for grey)."""
    rng = np.random.default_rng(rng_seed)
    for k, (name, rgb) in enumerate(COLOURS.items()):
        os.makedirs(root / name, exist_ok=True)
        for i in range(n):
            noise = rng.integers(0, 30, (*size, 1))
            if grey:
                pixels = np.clip(40 + 80 * k + noise[..., 0], 0, 255).astype(np.uint8)
                Image.fromarray(pixels, mode="L").save(root / name / f"{i:02d}.png")
            else:
                pixels = np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels, mode="RGB").save(root / name / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def folder_model(tmp_path_factory):
    """(class folders of colour images 12x10, the model `convolve train` made from them)."""
    root = colour_folders(tmp_path_factory.mktemp("colours") / "data")
    path = tmp_path_factory.mktemp("model") / "colours.safetensors"
    assert main(["train", "--dataset", str(root), "--epochs", "2", "--batch-size", "8", "-o", str(path)]) == 0
    return root, str(path)


# ---- train on class folders ---------------------------------------------------------------------------
def test_train_on_colour_class_folders(capsys, tmp_path):
    root = colour_folders(tmp_path / "data")
    path = tmp_path / "m.safetensors"
    code, out, _ = run(capsys, "train", "--dataset", root, "--epochs", 1, "--batch-size", 8, "-o", path)
    assert code == 0
    assert (f"Found 24 images in 3 class folders of '{root}': blue, green, red "
            f"(12x10: the images' own size; rgb: inferred from 24 decoded file(s)).") in out
    assert (
        "Training 'small' on 20 images (12, 10, 3), validating on 4 (--validation-split 0.2, seed 0)" in out
    )
    assert "Epoch 1/1" in out
    assert re.search(r"Validation accuracy \d\.\d{4} \(loss \d+\.\d{4}\) on 4 validation images "
                     r"\(3 classes, chance 0\.33\)\.", out)
    model = load_model(str(path))
    assert model.name == "folder_small" and model.class_names == ["blue", "green", "red"]
    assert model.input_shape == (None, 12, 10, 3) and model.output_shape == (None, 3)
    assert type(model.layers[0]).__name__ == "Rescaling" and model.layers[0].scale == pytest.approx(1 / 255)


def test_grey_folders_are_read_grey_and_the_split_follows_the_seed(capsys, tmp_path):
    root = colour_folders(tmp_path / "data", n=10, size=(8, 8), grey=True)
    paths = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for path, seed in zip(paths, (3, 3, 4)):
        code, out, _ = run(capsys, "train", "--dataset", root, "--epochs", 1, "--seed", seed,
                           "--validation-split", 0.3, "-o", path)
        assert code == 0
        assert "(8x8: the images' own size; grayscale: every file is stored grey)" in out
        assert "on 21 images (8, 8, 1), validating on 9 (--validation-split 0.3" in out
    models = [load_model(str(p)) for p in paths]
    assert models[0].input_shape == (None, 8, 8, 1)
    assert [type(layer).__name__ for layer in models[0].layers] == [
        "Rescaling", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]  # 8x8: one block fits
    same = [np.array_equal(a, b) for a, b in zip(models[0].get_weights(), models[1].get_weights())]
    assert all(same)
    assert not all(np.array_equal(a, b) for a, b in zip(models[0].get_weights(), models[2].get_weights()))


def test_colour_mode_is_inferred_from_the_stored_modes_and_a_sample(tmp_path):
    root = colour_folders(tmp_path / "grey", n=3, grey=True)
    info = _folders.inspect_class_folders(str(root))
    assert (info.color_mode, info.sampled) == ("grayscale", 0)
    # grey pixels stored as RGB: decoded, still grey
    for path in sorted(root.rglob("*.png")):
        Image.open(path).convert("RGB").save(path)
    info = _folders.inspect_class_folders(str(root))
    assert (info.color_mode, info.sampled) == ("grayscale", 9)
    # one colour file among them
    Image.new("RGB", (10, 12), (200, 10, 10)).save(root / "red" / "zz.png")
    assert _folders.inspect_class_folders(str(root)).color_mode == "rgb"
    # at most COLOUR_SAMPLE files are decoded, spread evenly: a colour file between two samples is not seen
    many = tmp_path / "many"
    for k in range(2):
        os.makedirs(many / f"c{k}")
        for i in range(20):
            Image.new("RGB", (4, 4), (90, 90, 90)).save(many / f"c{k}" / f"{i:02d}.png")
    Image.new("RGB", (4, 4), (250, 0, 0)).save(many / "c0" / "04.png")  # file 4 of 40: not sampled
    info = _folders.inspect_class_folders(str(many))
    assert (info.color_mode, info.sampled) == ("grayscale", _folders.COLOUR_SAMPLE)
    Image.new("RGB", (4, 4), (250, 0, 0)).save(many / "c0" / "05.png")  # file 5: sampled
    assert _folders.inspect_class_folders(str(many)).color_mode == "rgb"


def test_the_listing_is_the_one_image_dataset_from_directory_reads(tmp_path):
    root = colour_folders(tmp_path / "data", n=3)
    os.makedirs(root / "red" / "deeper")
    Image.new("RGB", (10, 12)).save(root / "red" / "deeper" / "a.PNG")
    (root / "red" / "notes.txt").write_text("not an image")
    os.makedirs(root / ".hidden")
    Image.new("RGB", (10, 12)).save(root / ".hidden" / "x.png")
    classes, files = _folders.class_files(str(root))
    ds = image_dataset_from_directory(str(root), shuffle=False, image_size=None, verbose=False)
    assert classes == ds.class_names == ["blue", "green", "red"]
    assert files == ds.file_paths and len(files) == 10


def test_images_of_several_sizes_need_image_size(capsys, tmp_path):
    root = colour_folders(tmp_path / "data", n=4)
    Image.new("RGB", (7, 9)).save(root / "green" / "odd.png")
    out_path = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", "--dataset", root, "--epochs", 1, "-o", out_path)
    line = assert_one_line_error(code, err, "train")
    assert line == (
        f"convolve train: error: the images in '{root}' have 2 different sizes, so they cannot be stacked "
        "into "
        f"batches as they are: pass --image-size HEIGHT WIDTH to resize them all. Received: "
        f"'{root / 'blue' / '00.png'}' is 12x10 and '{root / 'green' / 'odd.png'}' is 9x7 (height x width)"
    )
    assert not out_path.exists()
    code, out, _ = run(capsys, "train", "--dataset", root, "--epochs", 1, "--image-size", 16, 14,
                       "--color-mode", "grayscale", "-o", out_path)
    assert code == 0 and "(16x14: --image-size; grayscale: --color-mode)" in out
    assert load_model(str(out_path)).input_shape == (None, 16, 14, 1)


def test_validation_split_zero_trains_on_every_image(capsys, tmp_path):
    root = colour_folders(tmp_path / "data", n=3, size=(6, 6))
    code, out, _ = run(capsys, "train", "--dataset", root, "--epochs", 1, "--validation-split", 0,
                       "-o", tmp_path / "m.safetensors")
    assert code == 0
    assert "on 9 images (6, 6, 3), no validation images (--validation-split 0)" in out
    assert re.search(r"Training accuracy \d\.\d{4} in the last epoch \(no validation images\)\.", out)


@pytest.mark.parametrize(
    "setup, argv, needle, exit_code",
    [
        (
            "tiny",
            ["--validation-split", "0.1"],
            "--validation-split 0.1 of 6 images keeps 0 for validation",
            1,
        ),
        (
            "tiny",
            ["--validation-split", "1"],
            "argument --validation-split: expected a number from 0 to below 1. Received: '1'",
            2,
        ),
        ("tiny", ["--image-size", "3", "3"], "--model small needs images of at least 4x4 pixels", 1),
        (
            "tiny",
            ["--model", "classic", "--image-size", "5", "9"],
            "--model classic needs images of at least 6x6",
            1,
        ),
        ("one_class", [], "training a classifier needs at least 2 class subfolders", 1),
        (
            "loose",
            [],
            "holds neither MNIST-style IDX files (train-images-idx3-ubyte, ...) nor class subfolders",
            1,
        ),
        ("empty_classes", [], "no images in the class folders of", 1),
        ("broken", [], "cannot read the image's header (UnidentifiedImageError", 1),
        ("bundled", ["--image-size", "8", "8"], "--image-size is for class folders", 1),
        (
            "bundled",
            ["--color-mode", "rgb", "--validation-split", "0.1"],
            "--color-mode, --validation-split are for class folders",
            1,
        ),
        ("tiny", ["--seed", "-1"], "argument --seed: expected a non-negative integer", 2),
    ],
)
def test_class_folder_errors_are_one_line(capsys, tmp_path, setup, argv, needle, exit_code):
    root = tmp_path / "data"
    if setup == "tiny":
        colour_folders(root, n=2, size=(6, 6))
    elif setup == "one_class":
        os.makedirs(root / "only")
        Image.new("L", (5, 5)).save(root / "only" / "a.png")
    elif setup == "loose":
        os.makedirs(root)
        Image.new("L", (5, 5)).save(root / "a.png")
    elif setup == "empty_classes":
        os.makedirs(root / "a")
        os.makedirs(root / "b")
        (root / "b" / "notes.txt").write_text("x")
    elif setup == "broken":
        colour_folders(root, n=2, size=(6, 6))
        (root / "red" / "zz.png").write_text("not a picture")
    dataset = "bundled" if setup == "bundled" else root
    out_path = tmp_path / "m.safetensors"
    code, _, err = run(
        capsys, "train", "--dataset", dataset, "--epochs", 1, "--limit", 10, *argv, "-o", out_path
    )
    assert needle in assert_one_line_error(code, err, "train", expected_code=exit_code)
    assert not out_path.exists()


def test_small_and_classic_adapt_to_the_input():
    from convolve.cli.models import build_model

    def kinds(model):
        return [type(layer).__name__ for layer in model.layers]

    def shapes(model):
        shape, out = model.input_shape, []
        for layer in model.layers:
            shape = layer.compute_output_shape(shape)
            out.append(tuple(shape))
        return out

    mnist = build_model("small", (28, 28, 1), 10, "m")
    assert kinds(mnist) == ["Conv2D", "MaxPooling2D"] * 2 + ["Flatten", "Dense"]  # as it always was
    assert shapes(mnist)[3] == (None, 5, 5, 16)
    big = build_model("small", (64, 80, 3), 4, "m", rescale=True)
    assert kinds(big) == ["Rescaling"] + ["Conv2D", "MaxPooling2D"] * 3 + ["Flatten", "Dense"]
    assert shapes(big)[-3] == (None, 6, 8, 32) and big.output_shape == (None, 4)
    assert [layer.filters for layer in big.layers if hasattr(layer, "filters")] == [8, 16, 32]
    classic = build_model("classic", (28, 28, 1), 10, "m")
    assert kinds(classic) == ["Conv2D", "Conv2D", "MaxPooling2D", "Dropout", "Flatten", "Dense", "Dropout",
                              "Dense"]
    large = build_model("classic", (64, 64, 3), 5, "m", rescale=True)
    assert kinds(large)[:6] == ["Rescaling", "Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D"]
    assert shapes(large)[5] == (None, 14, 14, 64)  # at most 16 across
    assert shapes(build_model("classic", (6, 6, 1), 2, "m"))[2] == (None, 1, 1, 64)


# ---- evaluate on class folders ---------------------------------------------------------------------
def test_evaluate_on_class_folders(capsys, tmp_path, folder_model):
    root, model_path = folder_model
    code, out, _ = run(capsys, "evaluate", model_path, "--dataset", root)
    assert code == 0
    model = load_model(model_path)
    ds = image_dataset_from_directory(str(root), shuffle=False, image_size=(12, 10), verbose=False)
    loss, accuracy = model.evaluate(ds, verbose=0)
    assert f"folder_small on 24 test images of the class folders in '{root}':" in out
    assert f"accuracy: {accuracy:.4f}" in out and f"loss: {loss:.4f}" in out
    code, _, err = run(capsys, "evaluate", model_path)
    assert "does not say which dataset" in assert_one_line_error(code, err, "evaluate")
    other = colour_folders(tmp_path / "other", n=1)
    os.rename(other / "red", other / "crimson")
    code, _, err = run(capsys, "evaluate", model_path, "--dataset", other)
    line = assert_one_line_error(code, err, "evaluate")
    assert "the model was trained on the classes blue, green, red" in line
    assert line.endswith("Received: no subfolder for red")


# ---- predict: CSV --------------------------------------------------------------------------------------
def test_predict_a_folder_writes_one_sorted_row_per_image(capsys, tmp_path, folder_model):
    root, model_path = folder_model
    (root / "notes.txt").write_text("skipped: not an image suffix")
    code, out, _ = run(capsys, "predict", model_path, root, "--top", 3)
    assert code == 0
    rows = read_csv(out)
    assert rows[0] == ["path", "class_1", "prob_1", "class_2", "prob_2", "class_3", "prob_3"]
    ds = image_dataset_from_directory(
        str(root), shuffle=False, image_size=None, batch_size=None, verbose=False
    )
    paths = sorted(ds.file_paths)
    assert [row[0] for row in rows[1:]] == paths
    images = {path: image for path, (image, _) in zip(ds.file_paths, ds)}
    probs = load_model(model_path).predict(np.stack([images[p] for p in paths]), verbose=0)
    names = ["blue", "green", "red"]
    for row, p in zip(rows[1:], probs):
        order = np.argsort(-p, kind="stable")
        assert row[1:] == [value for i in order for value in (names[i], f"{p[i]:.6f}")]


def test_predict_recurses_skips_hidden_files_and_resizes_bilinearly(capsys, tmp_path, folder_model):
    from convolve.data.directory import resize

    _, model_path = folder_model
    folder = tmp_path / "new"
    os.makedirs(folder / "b" / "c")
    os.makedirs(folder / ".git")
    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    for name in ("b/c/2.jpg.png", "a.PNG", "b/1.png", ".hidden.png", ".git/x.png"):
        Image.fromarray(big).save(folder / name, format="PNG")
    code, out, _ = run(capsys, "predict", model_path, folder)
    assert code == 0
    expected = [str(folder / name) for name in ("a.PNG", "b/1.png", "b/c/2.jpg.png")]
    rows = read_csv(out)
    assert [row[0] for row in rows[1:]] == expected
    p = load_model(model_path).predict(resize(big.astype(np.float32), (12, 10), "bilinear")[None], verbose=0)[
        0
    ]
    assert rows[1][2] == f"{p.max():.6f}"


def test_predict_works_in_batches_and_writes_a_file(capsys, tmp_path, folder_model, monkeypatch):
    from convolve.models import Sequential

    root, model_path = folder_model
    code, whole, _ = run(capsys, "predict", model_path, root, "--top", 2)
    seen = []
    original = Sequential.predict

    def spy(self, x, *args, **kwargs):
        seen.append(len(x))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(Sequential, "predict", spy)
    target = tmp_path / "predictions.csv"
    code, out, _ = run(capsys, "predict", model_path, root, "--top", 2, "--batch-size", 5, "-o", target)
    assert code == 0
    assert out == f"Wrote the top 2 class(es) of 24 image(s) to {target}.\n"
    assert seen == [5, 5, 5, 5, 4]  # never every image at once
    assert target.read_text(encoding="utf-8") == whole
    assert sorted(os.listdir(tmp_path)) == ["predictions.csv"]  # no temporary file left


def test_predict_error_midway_leaves_no_file(capsys, tmp_path, folder_model):
    root, model_path = folder_model
    folder = tmp_path / "images"
    os.makedirs(folder)
    for name in ("a.png", "b.png"):
        Image.new("RGB", (10, 12)).save(folder / name)
    (folder / "c.png").write_text("not a picture")
    target = tmp_path / "out.csv"
    code, _, err = run(capsys, "predict", model_path, folder, "--batch-size", 1, "-o", target)
    line = assert_one_line_error(code, err, "predict")
    assert "not an image Pillow can read" in line and str(folder / "c.png") in line
    assert sorted(os.listdir(tmp_path)) == ["images"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["{root}", "--top", "4"], "--top asks for more classes than the model has (3). Received: --top 4"),
        (["{root}", "-o", "{tmp}/out.txt"], "-o must name a .csv file. Received: -o {tmp}/out.txt"),
        (["{tmp}/empty"], "no images in the folder '{tmp}/empty'"),
        (["{tmp}/missing.png"], "no such image: '{tmp}/missing.png'"),
    ],
)
def test_predict_errors_are_one_line(capsys, tmp_path, folder_model, argv, needle):
    root, model_path = folder_model
    os.makedirs(tmp_path / "empty")
    argv = [a.format(root=root, tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, "predict", model_path, *argv)
    assert needle.format(tmp=tmp_path) in assert_one_line_error(code, err, "predict")
    assert out == ""


def _saved(tmp_path, *layers, name="m"):
    from convolve.layers import Input
    from convolve.models import Sequential

    path = tmp_path / f"{name}.safetensors"
    Sequential([Input(layers[0]), *layers[1:]]).save(str(path))
    return path


def test_models_that_cannot_take_images_are_refused_in_one_line(capsys, tmp_path):
    from convolve import layers as L

    Image.new("L", (4, 4)).save(tmp_path / "x.png")
    image = tmp_path / "x.png"
    cases = [
        (_saved(tmp_path, (4, 4), L.Flatten(), L.Dense(2), name="rows"),
         "the model must take one batch of images (batch, height, width, channels) of a fixed size. "
         "Received: input shape (None, 4, 4)"),
        (_saved(tmp_path, (4, 4, 2), L.Flatten(), L.Dense(2), name="two"),
         "images can be given to models with 1 (grey), 3 (RGB) or 4 (RGBA) channels. "
         "Received: a model with input shape (None, 4, 4, 2)"),
        (_saved(tmp_path, (4, 4, 4), L.Flatten(), L.Dense(2), name="rgba"),
         f"a model with 4 input channels (RGBA) that does not start with Rescaling cannot read image files; "
         f"give .npy arrays. Received: '{image}'"),
        (_saved(tmp_path, (4, 4, 1), L.Conv2D(2, 3), name="maps"),
         "the model must output one score per class, (batch, classes). "
         "Received: output shape (None, 2, 2, 2)"),
    ]
    for model_path, message in cases:
        code, out, err = run(capsys, "predict", model_path, image)
        assert assert_one_line_error(code, err, "predict") == f"convolve predict: error: {message}"
        assert out == ""


def test_rgba_models_with_rescaling_read_image_files(capsys, tmp_path):
    from convolve import layers as L

    Image.new("RGBA", (4, 4), (10, 20, 30, 128)).save(tmp_path / "x.png")
    path = _saved(tmp_path, (4, 4, 4), L.Rescaling(1 / 255), L.Flatten(), L.Dense(2, activation="softmax"))
    code, out, _ = run(capsys, "predict", path, tmp_path / "x.png")
    assert code == 0 and read_csv(out)[1][0] == str(tmp_path / "x.png")


def test_predict_refuses_an_image_over_max_pixels_for_a_folder_model(capsys, tmp_path, folder_model):
    _, model_path = folder_model
    Image.new("RGB", (10, 12)).save(tmp_path / "x.png")
    code, _, err = run(capsys, "predict", model_path, tmp_path / "x.png", "--max-pixels", 119)
    assert "is 10x12 = 120 pixels, more than --max-pixels 119;" in assert_one_line_error(code, err, "predict")
    code, _, _ = run(capsys, "predict", model_path, tmp_path / "x.png", "--max-pixels", 120)
    assert code == 0


def test_evaluate_a_model_without_class_names_on_too_many_folders(capsys, tmp_path):
    from convolve import layers as L

    root = colour_folders(tmp_path / "data", n=1, size=(4, 4))
    path = _saved(tmp_path, (4, 4, 3), L.Rescaling(1 / 255), L.Flatten(), L.Dense(2, activation="softmax"))
    code, _, err = run(capsys, "evaluate", path, "--dataset", root)
    line = assert_one_line_error(code, err, "evaluate")
    assert line.endswith(f"the model has 2 classes, and the folder '{root}' has more subfolders. "
                         "Received: 3 subfolders")


def test_predict_softmaxes_logits_and_names_unknown_classes(capsys, tmp_path):
    from convolve.layers import Dense, Flatten, Input
    from convolve.models import Sequential

    model = Sequential([Input((4, 4, 1)), Flatten(), Dense(3)])  # logits, no class names
    model.set_weights([np.linspace(-1, 1, 48).reshape(16, 3).astype("float32"), np.zeros(3, "float32")])
    model.save(str(tmp_path / "logits.safetensors"))
    pixels = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    Image.fromarray(pixels, mode="L").save(tmp_path / "x.png")
    code, out, _ = run(capsys, "predict", tmp_path / "logits.safetensors", tmp_path / "x.png", "--top", 3)
    assert code == 0
    row = read_csv(out)[1]
    scores = model.predict(pixels[None, :, :, None] / 255.0, verbose=0)[0].astype(np.float64)
    p = np.exp(scores - scores.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    assert row[1:] == [value for i in order for value in (f"class {i}", f"{p[i]:.6f}")]


def test_expects_0_255_looks_past_augmentation_layers():
    from convolve import layers as L
    from convolve.models import Sequential

    augmented = Sequential([L.Input((8, 8, 3)), L.RandomFlip(), L.RandomZoom(0.1), L.Rescaling(1 / 255),
                            L.Conv2D(2, 3)])
    assert _folders.expects_0_255(augmented)
    assert _folders.input_spec(augmented) == _folders.InputSpec(8, 8, 3, 255.0)
    assert not _folders.expects_0_255(Sequential([L.Input((8, 8, 3)), L.Conv2D(2, 3), L.Rescaling(2.0)]))


# ---- CIFAR ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dataset, module, classes, first",
    [("cifar10", "cifar10", 10, "airplane"), ("cifar100", "cifar100", 100, "apple"),
     ("cifar100-coarse", "cifar100", 20, "aquatic_mammals")],
)
def test_train_on_cifar(capsys, tmp_path, monkeypatch, dataset, module, classes, first):
    from convolve import datasets

    rng = np.random.default_rng(0)
    calls = []

    def fake_load_data(**kwargs):  # CIFAR's shapes: x (N, 32, 32, 3) uint8, y (N, 1)
        calls.append(kwargs)
        return ((rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20)[:, None] % classes),
                (rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8), np.arange(8)[:, None] % classes))

    monkeypatch.setattr(getattr(datasets, module), "load_data", fake_load_data)
    path = tmp_path / "cifar.safetensors"
    code, out, _ = run(capsys, "train", "--dataset", dataset, "--epochs", 1, "-o", path)
    assert code == 0
    assert "20 training images (32, 32, 3), 8 test images" in out
    if module == "cifar100":
        assert calls == [{"label_mode": "coarse" if dataset.endswith("coarse") else "fine"}]
    model = load_model(str(path))
    assert model.name == f"{dataset.replace('-', '_')}_small" and model.output_shape == (None, classes)
    assert len(model.class_names) == classes and model.class_names[0] == first
    assert type(model.layers[0]).__name__ == "Conv2D"  # arrays scaled to [0, 1] beforehand, as MNIST's
    code, out, _ = run(capsys, "evaluate", path)
    assert code == 0 and "on 8 test images of CIFAR" in out
