"""The ``convolve`` command, run in-process through ``main([...])`` (and twice as a real process).

Every subcommand: its exit code, what it prints (checked against the library computing the
same thing), and the files it writes (valid PNG/GIF/model files, sizes, frame counts, where the
bright pixels are). Every error: one line on stderr, a non-zero exit, no traceback.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from convolve.cli import main
from convolve.datasets import fashion_mnist
from convolve.ops.conv import conv
from convolve.ops.shapes import conv_output_shape, conv_transpose_output_shape
from tests.helpers import forged_png

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

SUBCOMMANDS = [
    "demo",
    "filter",
    "explain",
    "animate",
    "shape",
    "summary",
    "train",
    "evaluate",
    "predict",
    "features",
    "augment",
    "explore",
]
LIMIT = "200"  # images of the bundled subset used by the training tests


def run(capsys, *argv):
    """(exit code, stdout, stderr) of ``convolve argv``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, sub, expected_code=1):
    assert code == expected_code
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"convolve {sub}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def png(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return np.asarray(image)


def save_grey(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(path)
    return str(path)


@pytest.fixture(scope="module")
def data():
    return fashion_mnist.load_subset()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained by `convolve train` for one epoch on a slice of the bundled subset."""
    path = tmp_path_factory.mktemp("model") / "small.safetensors"
    assert (
        main(
            [
                "train",
                "--dataset",
                "bundled",
                "--model",
                "small",
                "--epochs",
                "1",
                "--limit",
                LIMIT,
                "-o",
                str(path),
            ]
        )
        == 0
    )
    return str(path)


# ---- help -------------------------------------------------------------------------------------------
def test_help_lists_every_subcommand(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for sub in SUBCOMMANDS:
        assert re.search(rf"^\s+{sub}\s", out, re.M), sub


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help_with_examples(capsys, sub):
    code, out, _ = run(capsys, sub, "--help")
    assert code == 0
    assert out.startswith(f"usage: convolve {sub}")
    assert f"\n  convolve {sub}" in out.split("examples:")[1]


def test_no_subcommand_prints_help_and_fails(capsys):
    code, out, _ = run(capsys)
    assert code == 2
    assert "usage: convolve" in out


def test_help_does_not_import_optional_libraries():
    code = (
        "import sys; from convolve.cli import main; main(['--help']); "
        "print(sorted(m for m in ('matplotlib', 'PIL', 'safetensors') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


# ---- shape -------------------------------------------------------------------------------------------
def test_shape_shows_output_size_and_arithmetic(capsys):
    code, out, _ = run(capsys, "shape", "--input-size", 9, "--kernel-size", 3, "--stride", 2)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Conv1D: input 9 -> output 4"
    assert "output 4 = floor((9 + 0 + 0 - 3) / 2) + 1" in lines[1]


@pytest.mark.parametrize(
    "sizes, kernel, strides, padding, dilation",
    [
        ((512, 512), (3,), (2, 1), "valid", (1,)),
        ((9, 9), (3,), (2,), "same", (1,)),
        ((28, 20), (5, 3), (1,), "same", (2,)),
        ((10, 10, 10), (3,), (3,), "full", (1,)),
        ((7, 7), (3,), (1,), 2, (1,)),
    ],
)
def test_shape_agrees_with_conv_output_shape(capsys, sizes, kernel, strides, padding, dilation):
    code, out, _ = run(
        capsys,
        "shape",
        "--input-size",
        *sizes,
        "--kernel-size",
        *kernel,
        "--stride",
        *strides,
        "--padding",
        padding,
        "--dilation",
        *dilation,
    )
    assert code == 0
    n = len(sizes)
    pad = padding if isinstance(padding, str) else (padding,) * n
    k = kernel * n if len(kernel) == 1 else kernel
    s = strides * n if len(strides) == 1 else strides
    expected, _, steps = conv_output_shape(sizes, k, s, pad, dilation * n, explain=True)
    lines = out.splitlines()
    assert lines[0].endswith("output " + "x".join(map(str, expected)))
    assert [line.strip() for line in lines[1:]] == [str(step) for step in steps]


def test_shape_transposed(capsys):
    code, out, _ = run(
        capsys, "shape", "--input-size", 4, 4, "--kernel-size", 3, "--stride", 2, "--transposed"
    )
    assert code == 0
    expected, _ = conv_transpose_output_shape((4, 4), (3, 3), 2, "valid")
    assert out.splitlines()[0] == f"Conv2DTranspose: input 4x4 -> output {expected[0]}x{expected[1]}"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--input-size", 3, "--kernel-size", 5], "the output would be empty"),
        (["--input-size", 9, 9, 9, "--kernel-size", 3, 3], "--kernel-size takes 1 value or 3"),
        (["--input-size", 9], "needs --input-size and --kernel-size"),
        (["--input-size", 9, "--kernel-size", 3, "--padding", "middle"], "argument --padding"),
        (["--input-size", 0, "--kernel-size", 3], "expected a positive integer"),
        (
            ["--input-size", 9, "--kernel-size", 3, "--output-padding", 1],
            "--output-padding needs --transposed",
        ),
        (
            ["--input-size", 4, "--kernel-size", 3, "--stride", 2, "--transposed", "--padding", "full"],
            "valid or same",
        ),
    ],
)
def test_shape_errors_are_one_line(capsys, argv, needle):
    code, _, err = run(capsys, "shape", *argv)
    line = assert_one_line_error(
        code, err, "shape", expected_code=2 if "argument" in needle or "positive" in needle else 1
    )
    assert needle in line


# ---- train / evaluate / summary / shape MODEL ------------------------------------------------------
def test_train_writes_a_loadable_model_named_after_its_data(trained):
    from convolve.models import load_model

    model = load_model(trained)
    assert model.name == "fashion_mnist_subset_small"
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    assert model.compiled


def test_train_prints_progress_and_accuracy(capsys, tmp_path):
    path = tmp_path / "m.safetensors"
    code, out, _ = run(capsys, "train", "--epochs", 2, "--limit", 100, "--batch-size", 50, "-o", path)
    assert code == 0
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert re.search(r"Test accuracy \d\.\d{4}", out)
    assert str(path) in out and path.is_file()


def test_train_is_reproducible_with_a_seed(tmp_path):
    from convolve.models import load_model

    paths = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for path, seed in zip(paths, (1, 1, 2)):
        assert main(["train", "--epochs", "1", "--limit", "64", "--seed", str(seed), "-o", str(path)]) == 0
    weights = [load_model(p).get_weights() for p in paths]
    assert all(np.array_equal(a, b) for a, b in zip(weights[0], weights[1]))
    assert not all(np.array_equal(a, b) for a, b in zip(weights[0], weights[2]))


def test_train_from_a_json_architecture(capsys, tmp_path):
    import json

    from convolve.layers import Conv2D, Dense, Flatten, Input
    from convolve.models import Sequential, load_model

    config = Sequential(
        [Input((28, 28, 1)), Conv2D(2, 5, strides=3), Flatten(), Dense(10, activation="softmax")]
    ).get_config()
    arch = tmp_path / "net.json"
    arch.write_text(json.dumps({"class_name": "Sequential", "config": config}))
    out_path = tmp_path / "net.safetensors"
    code, _, _ = run(capsys, "train", "--model", arch, "--epochs", 1, "--limit", 64, "-o", out_path)
    assert code == 0
    model = load_model(str(out_path))
    assert model.name == "fashion_mnist_subset_net"
    assert [type(layer).__name__ for layer in model.layers] == ["Conv2D", "Flatten", "Dense"]


def test_train_and_evaluate_on_a_folder_of_idx_files(capsys, tmp_path):
    from convolve.datasets import write_idx
    from convolve.models import load_model

    rng = np.random.default_rng(0)
    folder = tmp_path / "three_classes"
    folder.mkdir()
    for prefix, n in (("train", 30), ("t10k", 12)):
        write_idx(
            str(folder / f"{prefix}-images-idx3-ubyte"), rng.integers(0, 256, (n, 12, 12), dtype=np.uint8)
        )
        write_idx(str(folder / f"{prefix}-labels-idx1-ubyte"), (np.arange(n) % 3).astype(np.uint8))
    model_path = tmp_path / "m.safetensors"
    code, out, _ = run(capsys, "train", "--dataset", folder, "--epochs", 1, "-o", model_path)
    assert code == 0 and "30 training images (12, 12, 1)" in out
    model = load_model(str(model_path))
    assert model.name == "custom_small" and model.output_shape == (None, 3)  # classes from the labels
    code, _, err = run(capsys, "evaluate", model_path)
    assert "does not say which dataset" in assert_one_line_error(code, err, "evaluate")
    code, out, _ = run(capsys, "evaluate", model_path, "--dataset", folder)
    assert code == 0 and "12 test images" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--dataset", "nowhere", "-o", "m.safetensors"], "unknown dataset"),
        (
            ["--model", "huge", "-o", "m.safetensors"],
            "--model must be small, classic or an architecture .json file",
        ),
        (["--model", "missing.json", "-o", "m.safetensors"], "no such architecture file"),
        (["-o", "model.h5"], "-o must name a .safetensors file"),
        (["-o", "no/such/folder/m.safetensors"], "does not exist"),
    ],
)
def test_train_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", "--epochs", 1, "--limit", 10, *argv)
    assert needle in assert_one_line_error(code, err, "train")
    assert not os.listdir(tmp_path)  # nothing written


def test_train_needs_an_output(capsys):
    code, _, err = run(capsys, "train", "--epochs", 1)
    assert "-o/--output" in assert_one_line_error(code, err, "train", expected_code=2)


def test_evaluate_reports_what_model_evaluate_computes(capsys, trained, data):
    from convolve.models import load_model

    code, out, _ = run(capsys, "evaluate", trained, "--limit", LIMIT)
    assert code == 0
    (_, _), (xt, yt) = data
    n = int(LIMIT)
    loss, accuracy = load_model(trained).evaluate(xt[:n, ..., None] / 255.0, yt[:n], verbose=0)
    assert f"{n} test images" in out
    assert f"accuracy: {accuracy:.4f}" in out
    assert f"loss: {loss:.4f}" in out


def test_summary_prints_the_model_summary(capsys, trained):
    from convolve.models import load_model

    code, out, _ = run(capsys, "summary", trained)
    assert code == 0
    lines = []
    load_model(trained).summary(print_fn=lines.append)
    assert out == "\n".join(lines) + "\n"


def test_shape_of_a_model_shows_layers_fields_and_arithmetic(capsys, trained):
    code, out, _ = run(capsys, "shape", trained)
    assert code == 0
    # layer names carry the process's counters (conv2d, conv2d_1, ...): match any suffix
    assert re.search(r"^conv2d\w* \(Conv2D\)\s+\(None, 26, 26, 8\)\s+3x3\s+1x1$", out, re.M)
    assert re.search(r"^max_pooling2d\w* \(MaxPooling2D\)\s+\(None, 5, 5, 16\)\s+10x10\s+4x4$", out, re.M)
    assert "height: input 28, kernel 3, padding valid → output 26" in out
    assert "height: input 26, kernel 2, stride 2, padding valid → output 13" in out


@pytest.mark.parametrize("sub", ["summary", "evaluate", "shape"])
def test_model_file_errors_are_one_line(capsys, tmp_path, sub):
    code, _, err = run(capsys, sub, tmp_path / "missing.safetensors")
    assert "no such model file" in assert_one_line_error(code, err, sub)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model at all, just some bytes")
    code, _, err = run(capsys, sub, bad)
    assert "Cannot load" in assert_one_line_error(code, err, sub)


# ---- predict / features -----------------------------------------------------------------------------
def read_csv(text):
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


def test_predict_writes_the_models_top_classes_as_csv(capsys, tmp_path, trained, data):
    from convolve.models import load_model

    (_, _), (xt, yt) = data
    paths = [save_grey(tmp_path / f"img{i}.png", xt[i]) for i in range(3)]
    np.save(tmp_path / "img3.npy", xt[3] / 255.0)
    paths.append(str(tmp_path / "img3.npy"))
    code, out, _ = run(capsys, "predict", trained, *paths, "--top", 2)
    assert code == 0
    rows = read_csv(out)
    assert rows[0] == ["path", "class_1", "prob_1", "class_2", "prob_2"]
    assert len(rows) == 5 and out.endswith("\n") and "\r" not in out
    probs = load_model(trained).predict(np.stack([xt[i] for i in range(4)])[..., None] / 255.0, verbose=0)
    names = fashion_mnist.CLASS_NAMES
    for row, path, p in zip(rows[1:], paths, probs):
        first, second = np.argsort(-p, kind="stable")[:2]
        assert row == [path, names[first], f"{p[first]:.6f}", names[second], f"{p[second]:.6f}"]
    code, out, _ = run(capsys, "predict", trained, paths[0])  # --top 1 by default
    assert read_csv(out)[0] == ["path", "class_1", "prob_1"] and len(read_csv(out)) == 2


def test_predict_resizes_and_inverts(capsys, tmp_path, trained, data):
    from convolve.models import load_model

    (_, _), (xt, _) = data
    big = Image.fromarray(255 - xt[0]).resize(
        (56, 56), Image.NEAREST
    )  # dark garment on white, twice the size
    big.save(tmp_path / "big.png")
    code, out, _ = run(capsys, "predict", trained, tmp_path / "big.png", "--invert", "--top", 1)
    assert code == 0
    p = load_model(trained).predict(xt[:1, ..., None] / 255.0, verbose=0)[0]
    name = fashion_mnist.CLASS_NAMES[int(np.argmax(p))]
    assert read_csv(out)[1] == [str(tmp_path / "big.png"), name, f"{p.max():.6f}"]


def test_predict_errors_are_one_line(capsys, tmp_path, trained):
    code, _, err = run(capsys, "predict", trained, tmp_path / "missing.png")
    assert "no such image" in assert_one_line_error(code, err, "predict")
    (tmp_path / "notes.png").write_text("not a picture")
    code, _, err = run(capsys, "predict", trained, tmp_path / "notes.png")
    assert "not an image" in assert_one_line_error(code, err, "predict")
    np.save(tmp_path / "wrong.npy", np.zeros((10, 10)))
    code, _, err = run(capsys, "predict", trained, tmp_path / "wrong.npy")
    assert "must be 28x28" in assert_one_line_error(code, err, "predict")


def test_features_writes_a_png_of_the_chosen_layers(capsys, tmp_path, trained, data):
    (_, _), (xt, _) = data
    image = save_grey(tmp_path / "boot.png", xt[0])
    out_path = tmp_path / "maps.png"
    from convolve.models import load_model

    first = load_model(trained).layers[0].name
    code, out, _ = run(capsys, "features", trained, image, "--layers", first, "-o", out_path)
    assert code == 0 and str(out_path) in out
    one = png(out_path)
    code, _, _ = run(capsys, "features", trained, image, "-o", tmp_path / "all.png")
    assert code == 0
    assert png(tmp_path / "all.png").shape[0] > one.shape[0]  # more layers, a taller picture


def test_features_unknown_layer_lists_the_known_ones(capsys, tmp_path, trained, data):
    (_, _), (xt, _) = data
    image = save_grey(tmp_path / "boot.png", xt[0])
    code, _, err = run(capsys, "features", trained, image, "--layers", "conv9", "-o", tmp_path / "maps.png")
    line = assert_one_line_error(code, err, "features")
    from convolve.models import load_model

    names = [layer.name for layer in load_model(trained).layers]
    assert ", ".join(names) in line and line.endswith("Received: --layers conv9")
    assert not (tmp_path / "maps.png").exists()


# ---- filter / explain / animate -----------------------------------------------------------------------
@pytest.fixture
def line_image(tmp_path):
    """A 12x16 black image with a white vertical line in columns 6 and 7."""
    pixels = np.zeros((12, 16), np.uint8)
    pixels[:, 6:8] = 255
    return save_grey(tmp_path / "line.png", pixels)


def test_filter_vertical_line_is_brightest_on_the_line(capsys, tmp_path, line_image):
    out_path = tmp_path / "out.png"
    code, out, _ = run(
        capsys,
        "filter",
        line_image,
        "--kernel",
        "vertical_line",
        "--padding",
        "valid",
        "--scale",
        1,
        "-o",
        out_path,
    )
    assert code == 0
    pixels = png(out_path)
    assert pixels.shape == (10, 14)  # a 3x3 'valid' map of a 12x16 image
    brightest = np.flatnonzero(pixels.mean(axis=0) == pixels.mean(axis=0).max())
    assert list(brightest) == [5, 6]  # input columns 6, 7 are output columns 5, 6 (kernel centre at +1)
    assert "vertical_line" in out and "10x14 map" in out


def test_filter_several_kernels_side_by_side(capsys, tmp_path, line_image):
    out_path = tmp_path / "edges.png"
    kernels = ["top_edge", "left_edge", "bottom_edge", "right_edge"]
    argv = [a for k in kernels for a in ("--kernel", k)]
    code, out, _ = run(
        capsys,
        "filter",
        line_image,
        *argv,
        "--stride",
        2,
        1,
        "--mode",
        "reflect",
        "--scale",
        2,
        "-o",
        out_path,
    )
    assert code == 0
    expected, _ = conv_output_shape((12, 16), (3, 3), (2, 1), "same")
    pixels = png(out_path)
    padding = 2  # save_maps' gap between tiles
    assert pixels.shape[:2] == (expected[0] * 2, 4 * expected[1] * 2 + 3 * padding)
    for k in kernels:
        assert k in out


def test_filter_kernel_parameters_and_npy_kernels(capsys, tmp_path, line_image):
    np.save(tmp_path / "k.npy", np.ones((2, 2)))
    code, out, _ = run(
        capsys,
        "filter",
        line_image,
        "--kernel",
        "gaussian:size=7,sigma=2",
        "--kernel",
        tmp_path / "k.npy",
        "--scale",
        1,
        "-o",
        tmp_path / "o.png",
    )
    assert code == 0
    assert "7x7 kernel" in out and "2x2 kernel" in out
    assert png(tmp_path / "o.png").shape == (12, 2 * 16 + 2)


def test_filter_list_prints_the_names(capsys):
    from convolve import filters

    code, out, _ = run(capsys, "filter", "--list")
    assert code == 0
    assert out.split() == list(filters.names())


@pytest.mark.parametrize(
    "argv, needle, exit_code",
    [
        (["IMG", "--kernel", "sobel_q", "-o", "o.png"], "unknown kernel name. Expected one of: ", 1),
        (["missing.png", "--kernel", "sobel_x", "-o", "o.png"], "no such image: 'missing.png'", 1),
        (["IMG", "--kernel", "sobel_x", "-o", "o.jpg"], "-o must name a .png file", 1),
        (["IMG", "--kernel", "gaussian:size=big", "-o", "o.png"], "must be a number", 1),
        (["IMG", "--kernel", "gaussian:radius=2", "-o", "o.png"], "takes only", 1),
        (
            ["IMG", "--kernel", "sobel_x", "--kernel", "gaussian", "--padding", "valid", "-o", "o.png"],
            "different sizes",
            1,
        ),
        (
            ["IMG", "--kernel", "sobel_x", "--mode", "mirror", "-o", "o.png"],
            "argument --mode: invalid choice",
            2,
        ),
        (
            ["IMG", "--kernel", "sobel_x", "--stride", 1, 2, 3, "-o", "o.png"],
            "--stride takes 1 value or 2",
            1,
        ),
        (["IMG", "--kernel", "sobel_x"], "needs IMAGE, --kernel NAME and -o OUT.png", 1),
    ],
)
def test_filter_errors_are_one_line(capsys, tmp_path, monkeypatch, line_image, argv, needle, exit_code):
    monkeypatch.chdir(tmp_path)
    argv = [line_image if a == "IMG" else a for a in argv]
    code, _, err = run(capsys, "filter", *argv)
    line = assert_one_line_error(code, err, "filter", exit_code)
    assert needle in line
    if "unknown kernel" in needle:
        from convolve import filters

        assert all(name in line for name in filters.names())
    assert not (tmp_path / "o.png").exists()


@pytest.fixture
def line_npy(tmp_path):
    x = np.zeros((8, 8))
    x[:, 3:5] = 1.0
    np.save(tmp_path / "line.npy", x)
    return tmp_path / "line.npy", x


@pytest.mark.parametrize("extra, options", [
    ([], {}),
    (["--stride", 2, "--padding", "same", "--bias", 0.5], dict(strides=2, padding="same", bias=0.5)),
    (["--dilation", 2], dict(dilation_rate=2)),
])
def test_explain_prints_the_trace_of_the_value_conv_computes(capsys, line_npy, extra, options):
    from convolve import filters
    from convolve.viz.explain import explain

    path, x = line_npy
    code, out, _ = run(capsys, "explain", "--input", path, "--kernel", "vertical_line", "--at", 2, 3, *extra)
    assert code == 0
    kernel = filters.get("vertical_line")
    expected = explain(x, kernel, at=(2, 3), print_fn=None, **options)
    assert out == str(expected) + "\n"
    bias = options.pop("bias", 0.0)
    y = conv(x[None, :, :, None], kernel[:, :, None, None], np.array([bias]), **options)
    assert expected.value == pytest.approx(float(y[0, 2, 3, 0]))


def test_explain_one_dimensional_arrays(capsys, tmp_path):
    from convolve.viz.explain import explain

    x = np.array([0, 0, 0, 1, 1, 0, 0, 0], float)  # the seeds' bump
    kernel = np.array([0, 1, 0], float)
    np.save(tmp_path / "bump.npy", x)
    np.save(tmp_path / "k.npy", kernel)
    code, out, _ = run(
        capsys, "explain", "--input", tmp_path / "bump.npy", "--kernel", tmp_path / "k.npy", "--at", 2
    )
    assert code == 0
    assert out == str(explain(x, kernel, at=(2,), print_fn=None)) + "\n"
    code, _, err = run(
        capsys, "explain", "--input", tmp_path / "bump.npy", "--kernel", "vertical_line", "--at", 2
    )
    assert "a 1-D input needs a 1-D kernel" in assert_one_line_error(code, err, "explain")
    code, _, err = run(
        capsys, "explain", "--input", tmp_path / "bump.npy", "--kernel", tmp_path / "k.npy", "--at", 2, 2
    )
    assert "--at takes 1 value(s)" in assert_one_line_error(code, err, "explain")


def test_explain_reads_images(capsys, line_image):
    code, out, _ = run(capsys, "explain", "--input", line_image, "--kernel", "vertical_line", "--at", 0, 5)
    assert code == 0
    assert "= 3" in out  # the three taps of the line's column, each a white pixel (1.0)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--at", 9, 9], "must lie inside the output"),
        (["--at", 1, 1, "--kernel", "nope"], "unknown kernel name"),
        (["--at", 1, 1, "--input", "missing.npy"], "no such input file"),
    ],
)
def test_explain_errors_are_one_line(capsys, line_npy, argv, needle):
    path, _ = line_npy
    base = {"--input": str(path), "--kernel": "vertical_line"}
    argv = [str(a) for a in argv]
    for option in list(base):
        if option in argv:
            del base[option]
    full = [a for kv in base.items() for a in kv] + argv
    code, _, err = run(capsys, "explain", *full)
    assert needle in assert_one_line_error(code, err, "explain")


@pytest.mark.parametrize(
    "argv, size, kernel, strides, padding, dilation, transposed",
    [
        (
            ["--input-size", 5, "--kernel-size", 3, "--stride", 2, "--padding", "same"],
            (5, 5),
            (3, 3),
            2,
            "same",
            1,
            False,
        ),
        (
            ["--input-size", 7, 6, "--kernel-size", 3, 2, "--dilation", 2],
            (7, 6),
            (3, 2),
            1,
            "valid",
            2,
            False,
        ),
        (
            ["--input-size", 3, "--kernel-size", 3, "--stride", 2, "--transposed"],
            (3, 3),
            (3, 3),
            2,
            "valid",
            1,
            True,
        ),
    ],
)
def test_animate_writes_one_frame_per_output_value(
    capsys, tmp_path, argv, size, kernel, strides, padding, dilation, transposed
):
    out_path = tmp_path / "a.gif"
    code, out, _ = run(capsys, "animate", *argv, "-o", out_path)
    assert code == 0
    if transposed:
        expected, _ = conv_transpose_output_shape(size, kernel, strides, padding, None, dilation)
    else:
        expected, _ = conv_output_shape(size, kernel, strides, padding, dilation)
    with Image.open(out_path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == expected[0] * expected[1]
    assert f"{expected[0] * expected[1]} frames" in out
    assert f"output {expected[0]}x{expected[1]}" in out


def test_animate_with_numbers(capsys, tmp_path, line_npy):
    path, _ = line_npy
    code, out, _ = run(
        capsys, "animate", "--input", path, "--kernel", "vertical_line", "-o", tmp_path / "n.gif"
    )
    assert code == 0
    with Image.open(tmp_path / "n.gif") as gif:
        assert gif.n_frames == 36  # 8x8 input, 3x3 kernel: a 6x6 output


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--input-size", 5, "-o", "a.png"], "-o must name a .gif file"),
        (["--kernel-size", 3, "-o", "a.gif"], "needs --input-size"),
        (["--input-size", 5, 5, 5, "-o", "a.gif"], "takes 1 value (a square) or 2"),
        (["--input-size", 2, "--kernel-size", 3, "-o", "a.gif"], "the output would be empty"),
    ],
)
def test_animate_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "animate", *argv)
    assert needle in assert_one_line_error(code, err, "animate")


# ---- kernel names with hyphens -------------------------------------------------------------------------
@pytest.mark.parametrize("spelling", ["sobel-x", "Sobel-X", "SOBEL_X"])
def test_kernel_names_take_hyphens_as_well_as_underscores(capsys, tmp_path, line_image, spelling):
    code, _, _ = run(
        capsys, "filter", line_image, "--kernel", "sobel_x", "--scale", 1, "-o", tmp_path / "a.png"
    )
    assert code == 0
    code, out, _ = run(
        capsys, "filter", line_image, "--kernel", spelling, "--scale", 1, "-o", tmp_path / "b.png"
    )
    assert code == 0 and spelling in out
    np.testing.assert_array_equal(png(tmp_path / "b.png"), png(tmp_path / "a.png"))


def test_hyphenated_kernel_names_with_parameters_and_unknown_ones(capsys, tmp_path, line_image):
    from convolve import filters

    code, _, err = run(
        capsys, "filter", line_image, "--kernel", "horizontal-line:size=3", "-o", tmp_path / "o.png"
    )
    assert "the filter 'horizontal_line' takes no parameters" in assert_one_line_error(code, err, "filter")
    code, out, _ = run(capsys, "explain", "--input", line_image, "--kernel", "vertical-line", "--at", 0, 5)
    assert code == 0 and "= 3" in out
    code, _, err = run(capsys, "filter", line_image, "--kernel", "sobel-q", "-o", tmp_path / "o.png")
    line = assert_one_line_error(code, err, "filter")
    assert line.endswith("(hyphens or underscores), or a .npy file. Received: --kernel sobel-q")
    assert all(name in line for name in filters.names())


# ---- --padding: one word, one integer, or one integer per axis -------------------------------------------
@pytest.mark.parametrize("padding, expected", [
    (["1"], ((1, 1), (1, 1))),
    (["2", "0"], ((2, 2), (0, 0))),
    (["0", "3"], ((0, 0), (3, 3))),
])
def test_filter_integer_and_per_axis_padding(capsys, tmp_path, line_image, padding, expected):
    from convolve import filters

    out_path = tmp_path / "o.png"
    code, out, _ = run(
        capsys,
        "filter",
        line_image,
        "--kernel",
        "sobel_x",
        "--padding",
        *padding,
        "--scale",
        1,
        "-o",
        out_path,
    )
    assert code == 0
    grey = png(line_image).astype(np.float32) / 255
    maps = conv(grey[None, :, :, None], filters.sobel_x()[:, :, None, None], padding=expected)[0, :, :, 0]
    (top, _), (left, _) = expected
    assert maps.shape == (12 + 2 * top - 2, 16 + 2 * left - 2)
    assert png(out_path).shape == maps.shape
    assert f"-> {maps.shape[0]}x{maps.shape[1]} map, values {maps.min():.3f} to {maps.max():.3f}" in out
    assert f"padding {' '.join(padding)} (zeros)" in out


@pytest.mark.parametrize("extra, padding", [
    (["--padding", 1], (1, 1)),
    (["--padding", 2, 0, "--stride", 2], (2, 0)),
])
def test_explain_integer_and_per_axis_padding(capsys, line_npy, extra, padding):
    from convolve import filters
    from convolve.viz.explain import explain

    path, x = line_npy
    code, out, _ = run(capsys, "explain", "--input", path, "--kernel", "vertical_line", "--at", 0, 0, *extra)
    assert code == 0
    strides = 2 if "--stride" in extra else 1
    kernel = filters.get("vertical_line")
    expected = explain(x, kernel, at=(0, 0), padding=padding, strides=strides, print_fn=None)
    assert out == str(expected) + "\n"
    y = conv(x[None, :, :, None], kernel[:, :, None, None], padding=padding, strides=strides)
    assert expected.value == pytest.approx(float(y[0, 0, 0, 0]))


def test_explain_one_dimensional_integer_padding(capsys, tmp_path):
    x = np.array([1, 0, 0, 0, 0, 0, 0, 2], float)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", np.array([1.0, 10.0, 100.0]))
    code, out, _ = run(capsys, "explain", "--input", tmp_path / "x.npy", "--kernel", tmp_path / "k.npy",
                       "--at", 0, "--padding", 2)
    assert code == 0
    assert re.search(r"= 100$", out, re.M)  # output 0 sees two padding zeros, then x[0] = 1 under the 100
    code, _, err = run(capsys, "explain", "--input", tmp_path / "x.npy", "--kernel", tmp_path / "k.npy",
                       "--at", 0, "--padding", 1, 2)
    line = assert_one_line_error(code, err, "explain")
    assert line.endswith("error: --padding takes 1 value. Received: --padding 1 2")


@pytest.mark.parametrize("padding, output", [([1], (5, 5)), ([1, 0], (5, 3)), ([0, 2], (3, 7))])
def test_animate_integer_and_per_axis_padding(capsys, tmp_path, padding, output):
    out_path = tmp_path / "a.gif"
    code, out, _ = run(capsys, "animate", "--input-size", 5, "--kernel-size", 3, "--padding", *padding,
                       "-o", out_path)
    assert code == 0
    expected, _ = conv_output_shape((5, 5), (3, 3), 1, tuple(padding * 2 if len(padding) == 1 else padding))
    assert expected == output
    with Image.open(out_path) as gif:
        assert gif.n_frames == output[0] * output[1]
    assert f"output {output[0]}x{output[1]}" in out


@pytest.mark.parametrize("argv, expected", [
    (["--input-size", 9, 9, "--kernel-size", 3, "--padding", 1, 2], (9, 11)),
    (["--input-size", 9, "--kernel-size", 3, "--padding", 1, 2], (9, 11)),  # two values: two axes
    (["--input-size", 9, "--kernel-size", 3, "--padding", 2], (11,)),
])
def test_shape_per_axis_padding(capsys, argv, expected):
    code, out, _ = run(capsys, "shape", *argv)
    assert code == 0
    assert out.splitlines()[0].endswith("output " + "x".join(map(str, expected)))


@pytest.mark.parametrize("sub, argv", [
    ("filter", ["IMG", "--kernel", "sobel_x", "-o", "o.png"]),
    ("explain", ["--input", "IMG", "--kernel", "sobel_x", "--at", 0, 0]),
    ("animate", ["--input-size", 5, "-o", "a.gif"]),
    ("shape", ["--input-size", 9, 9, "--kernel-size", 3]),
])
def test_padding_errors_are_the_same_for_every_command(capsys, tmp_path, monkeypatch, line_image, sub, argv):
    monkeypatch.chdir(tmp_path)
    argv = [line_image if a == "IMG" else a for a in argv]
    code, _, err = run(capsys, sub, *argv, "--padding", 1, 2, 3)
    line = assert_one_line_error(code, err, sub)
    assert line.endswith("error: --padding takes 1 value or 2 (one per spatial axis). "
                         "Received: --padding 1 2 3")
    code, _, err = run(capsys, sub, *argv, "--padding", "same", 1)
    line = assert_one_line_error(code, err, sub)
    assert line.endswith("error: --padding takes one word or integers (one, or one per spatial axis), not "
                         "several words or both. Received: --padding same 1")
    code, _, err = run(capsys, sub, *argv, "--padding", -1)
    line = assert_one_line_error(code, err, sub, expected_code=2)
    assert "argument --padding: expected 'valid', 'same', 'full'" in line and "Received: '-1'" in line
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "a.gif").exists()


def test_causal_padding_is_only_for_shape(capsys, tmp_path, line_image):
    code, out, _ = run(capsys, "shape", "--input-size", 9, "--kernel-size", 3, "--padding", "causal")
    assert code == 0 and out.splitlines()[0] == "Conv1D: input 9 -> output 9"
    code, _, err = run(capsys, "filter", line_image, "--kernel", "sobel_x", "--padding", "causal",
                       "-o", tmp_path / "o.png")
    line = assert_one_line_error(code, err, "filter", expected_code=2)
    assert line.endswith("argument --padding: expected 'valid', 'same', 'full' or a non-negative integer. "
                         "Received: 'causal' (see 'convolve filter --help')")


# ---- images too large to decode ---------------------------------------------------------------------------

@pytest.mark.parametrize("size, found", [
    (12000, "is 12000x12000 = 144,000,000 pixels, more than --max-pixels 89,478,485 "
            "(the default: Pillow's limit)"),
    (20000, "has more than twice --max-pixels 89,478,485 (the default: Pillow's limit) pixels"),
])
def test_filter_refuses_a_decompression_bomb_in_one_line(capsys, tmp_path, no_warnings, size, found):
    bomb = forged_png(tmp_path / "bomb.png", size, size)
    code, out, err = run(capsys, "filter", bomb, "--kernel", "sobel_x", "-o", tmp_path / "o.png")
    line = assert_one_line_error(code, err, "filter")
    assert line == (
        f"convolve filter: error: the image '{bomb}' {found}; it is refused before decoding, a guard against "
        f"decompression bombs. For a file you trust, pass a larger --max-pixels, or --max-pixels none. "
        f"Received: {bomb}"
    )
    assert out == "" and "Warning" not in err and not (tmp_path / "o.png").exists()


def test_max_pixels_option_of_every_command_that_reads_images(capsys, tmp_path, trained, line_image,
                                                              no_warnings):
    refused = f"the image '{line_image}' is 16x12 = 192 pixels, more than --max-pixels 191;"
    commands = {
        "filter": ["filter", line_image, "--kernel", "sobel_x", "-o", tmp_path / "o.png"],
        "explain": ["explain", "--input", line_image, "--kernel", "sobel_x", "--at", 0, 0],
        "predict": ["predict", trained, line_image],
        "features": ["features", trained, line_image, "-o", tmp_path / "f.png"],
        "augment": ["augment", line_image, "--layer", "random-flip", "-o", tmp_path / "a.png"],
    }
    for sub, argv in commands.items():
        code, _, err = run(capsys, *argv, "--max-pixels", 191)
        assert refused in assert_one_line_error(code, err, sub)
        code, _, _ = run(capsys, *argv, "--max-pixels", 192)
        assert code == 0, sub
    for value in ("0", "lots", "-5"):
        code, _, err = run(capsys, *commands["filter"], "--max-pixels", value)
        assert "argument --max-pixels: " in assert_one_line_error(code, err, "filter", expected_code=2)


def test_max_pixels_none_lifts_pillows_own_limit_for_the_command_only(capsys, tmp_path, monkeypatch,
                                                                      line_image, no_warnings):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 50)  # 192 pixels: over twice Pillow's limit
    argv = ["filter", line_image, "--kernel", "vertical_line", "--scale", 1, "-o", tmp_path / "o.png"]
    code, _, err = run(capsys, *argv)
    assert "has more than twice --max-pixels 50 (the default: Pillow's limit) pixels" in (
        assert_one_line_error(code, err, "filter"))
    code, out, _ = run(capsys, *argv, "--max-pixels", "none")
    assert code == 0 and "12x16 grey image" in out
    assert PILImage.MAX_IMAGE_PIXELS == 50  # restored after the command
    code, _, err = run(capsys, *argv, "--max-pixels", 100)  # Pillow's limit is 100 too: it only warns
    assert "is 16x12 = 192 pixels, more than --max-pixels 100;" in assert_one_line_error(code, err, "filter")
    code, _, err = run(capsys, *argv, "--max-pixels", 90)  # over twice 90: Pillow refuses it first
    assert "has more than twice --max-pixels 90 pixels;" in assert_one_line_error(code, err, "filter")
    monkeypatch.undo()
    assert png(tmp_path / "o.png").shape == (12, 16)


def test_python_dash_m_convolve_prints_one_line_for_a_bomb(tmp_path):
    """A real process: no Pillow warning, no traceback, one line on stderr."""
    import convolve

    forged_png(tmp_path / "bomb.png", 12000, 12000)
    root = os.path.dirname(os.path.dirname(os.path.abspath(convolve.__file__)))
    env = dict(os.environ, CONVOLVE_DEBUG="0", PYTHONPATH=root, PYTHONWARNINGS="default")
    argv = [sys.executable, "-m", "convolve", "filter", "bomb.png", "--kernel", "sobel_x", "-o", "o.png"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "convolve filter: error: the image 'bomb.png' is 12000x12000 = 144,000,000 pixels, more than "
        "--max-pixels 89,478,485 (the default: Pillow's limit); it is refused before decoding, a guard "
        "against decompression bombs. For a file you trust, pass a larger --max-pixels, or --max-pixels "
        "none. Received: bomb.png"
    ]


# ---- demo --------------------------------------------------------------------------------------------
def test_demo_makes_every_picture_and_the_model(capsys, tmp_path):
    from convolve.models import load_model

    out_dir = tmp_path / "demo"
    code, out, _ = run(capsys, "demo", "--out", out_dir, "--epochs", 1, "--limit", 300)
    assert code == 0
    pictures = [
        "garment.png",
        "edges.png",
        "filters.png",
        "feature_maps.png",
        "history.png",
        "confusion_matrix.png",
    ]
    for name in pictures + ["model.safetensors"]:
        assert str(out_dir / name) in out
    for name in pictures:
        png(out_dir / name)
    assert png(out_dir / "garment.png").shape == (28 * 8, 28 * 8)
    edges = png(out_dir / "edges.png")
    assert edges.shape[:2] == (28 * 8, 4 * 28 * 8 + 3 * 2)  # four maps in a row
    model = load_model(str(out_dir / "model.safetensors"))
    assert model.output_shape == (None, 10)
    accuracy = float(re.search(r"Test accuracy: (\d\.\d+)", out).group(1))
    assert 0.0 <= accuracy <= 1.0
    for name in ("top_edge", "left_edge", "bottom_edge", "right_edge", "Epoch 1/1"):
        assert name in out
    garment = np.load(out_dir / "garment.npy")
    assert garment.shape == (28, 28) and 0.0 <= garment.min() and garment.max() <= 1.0
    # the next step it suggests runs, and explains the strongest top_edge response it printed
    strongest = float(re.search(r"top_edge .* strongest response (\S+) at", out).group(1))
    suggested = re.search(r"convolve (explain .*)$", out, re.M).group(1).split()
    code, trace, _ = run(capsys, *suggested)
    assert code == 0
    value = float(re.search(r"^\+ bias \S+ = (\S+)$", trace, re.M).group(1))
    assert value == pytest.approx(strongest, abs=0.005)


def test_demo_refuses_a_file_as_its_folder(capsys, tmp_path):
    (tmp_path / "f").write_text("x")
    code, _, err = run(capsys, "demo", "--out", tmp_path / "f")
    assert "must be a folder" in assert_one_line_error(code, err, "demo")


# ---- the error machinery ----------------------------------------------------------------------------
def test_ctrl_c_exits_130_with_one_line(capsys, monkeypatch):
    from convolve.cli import shape

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(shape, "run_shape", interrupted)
    code, _, err = run(capsys, "shape", "--input-size", 9, "--kernel-size", 3)
    assert code == 130
    assert err.strip() == "convolve shape: interrupted"


def test_unexpected_errors_are_one_line_and_traceback_reraises(capsys, monkeypatch):
    from convolve.cli import shape

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(shape, "run_shape", broken)
    code, _, err = run(capsys, "shape", "--input-size", 9, "--kernel-size", 3)
    line = assert_one_line_error(code, err, "shape")
    assert "RuntimeError: a bug" in line and "--traceback" in line
    with pytest.raises(RuntimeError):
        main(["shape", "--input-size", "9", "--kernel-size", "3", "--traceback"])
    monkeypatch.setenv("CONVOLVE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["shape", "--input-size", "9", "--kernel-size", "3"])


def test_python_dash_m_convolve(tmp_path):
    env = dict(os.environ, CONVOLVE_DEBUG="0")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "convolve",
            "shape",
            "--input-size",
            "9",
            "--kernel-size",
            "3",
            "--stride",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "Conv1D: input 9 -> output 4"
    done = subprocess.run(
        [sys.executable, "-m", "convolve", "filter", "missing.png", "--kernel", "sobel_x", "-o", "x.png"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["convolve filter: error: no such image: 'missing.png'"]
