"""``convolve augment``: the --layer syntax, the grid it draws through viz.plot_augmentations, and its
errors (one line each)."""
import numpy as np
import pytest

from tests.test_cli import assert_one_line_error, png, run

pytest.importorskip("matplotlib")
pytest.importorskip("scipy")
from PIL import Image  # noqa: E402

from convolve import layers as L  # noqa: E402
from convolve.cli.augment import parse_layer  # noqa: E402


@pytest.fixture
def picture(tmp_path):
    """A 12x16 colour image, asymmetric: a red block on the left, a blue one top right."""
    pixels = np.full((12, 16, 3), 230, np.uint8)
    pixels[2:10, 1:5] = (200, 20, 20)
    pixels[1:4, 11:15] = (20, 20, 200)
    path = tmp_path / "picture.png"
    Image.fromarray(pixels).save(path)
    return str(path), pixels


@pytest.mark.parametrize(
    "spec, cls, args, kwargs",
    [
        ("random-flip:horizontal", L.RandomFlip, ["horizontal"], {}),
        ("RandomFlip", L.RandomFlip, [], {}),
        ("random_rotation:0.1", L.RandomRotation, [0.1], {}),
        ("random-zoom:-0.2..0.1,fill_mode=constant", L.RandomZoom, [(-0.2, 0.1)], {"fill_mode": "constant"}),
        ("Random-Translation:0.1,0.2,fill_value=3", L.RandomTranslation, [0.1, 0.2], {"fill_value": 3}),
        ("random-crop:8,10", L.RandomCrop, [8, 10], {}),
        ("random-contrast:0.5,value_range=0..1", L.RandomContrast, [0.5], {"value_range": (0, 1)}),
        ("random-zoom:0.1,width_factor=none", L.RandomZoom, [0.1], {"width_factor": None}),
    ],
)
def test_layer_syntax(spec, cls, args, kwargs):
    assert parse_layer(spec) == (cls, args, kwargs)


def test_augment_draws_the_layers_on_the_image(capsys, tmp_path, picture, monkeypatch):
    from convolve.viz import augment as viz_augment

    path, pixels = picture
    calls = []
    original = viz_augment.plot_augmentations

    def spy(model, image, n, seed, path):
        calls.append((model, image))
        figure = original(model, image, n=n, seed=seed, path=path)
        calls.append(figure)
        return figure

    monkeypatch.setattr(viz_augment, "plot_augmentations", spy)
    out_path = tmp_path / "grid.png"
    code, out, _ = run(capsys, "augment", path, "--layer", "random-flip:horizontal", "--n", 6, "-o", out_path)
    assert code == 0
    assert out.splitlines() == [
        f"{path}: 12x16 RGB image, pixels 0-255; layers in order: RandomFlip('horizontal')",
        f"Saved 6 augmentations (seed 0) to {out_path}.",
    ]
    (model, image), figure = calls
    assert [type(layer).__name__ for layer in model.layers] == ["RandomFlip"]
    np.testing.assert_array_equal(image, pixels.astype(np.float32))  # 0..255, as read
    panels = [np.asarray(ax.images[0].get_array()) for ax in figure.axes]
    shown = (pixels - 20.0) / (230.0 - 20.0)  # each panel in the input's value range, 20..230
    same = [np.allclose(p, shown) for p in panels]
    flipped = [np.allclose(p, shown[:, ::-1]) for p in panels]
    assert all(a or b for a, b in zip(same, flipped)) and any(same) and any(flipped)
    grid = png(out_path)
    assert grid.shape[0] > 100 and grid.shape[1] > 100


def test_the_seed_repeats_the_grid_and_grey_images_stay_grey(capsys, tmp_path):
    pixels = np.zeros((10, 10), np.uint8)
    pixels[2:5, 1:8] = 255
    Image.fromarray(pixels, mode="L").save(tmp_path / "g.png")
    grids = []
    for seed, name in ((1, "a.png"), (1, "b.png"), (2, "c.png")):
        code, out, _ = run(capsys, "augment", tmp_path / "g.png", "--layer", "random-rotation:0.25",
                           "--layer", "random-zoom:0.2", "--seed", seed, "-o", tmp_path / name)
        assert code == 0 and "10x10 grey image" in out
        grids.append(png(tmp_path / name))
    assert np.array_equal(grids[0], grids[1]) and not np.array_equal(grids[0], grids[2])


@pytest.mark.parametrize(
    "layer, needle, exit_code",
    [
        (
            "random-blur:1",
            "unknown augmentation layer. Expected one of: random-flip, random-rotation, "
            "random-zoom, random-translation, random-crop, random-contrast, random-brightness "
            "(hyphens or underscores), followed by :ARGS. Received: --layer random-blur:1",
            1,
        ),
        ("random-zoom:abc..1", "a LOW..HIGH pair takes two numbers. Received: --layer random-zoom:abc..1", 1),
        (
            "random-zoom:0.1,foo=2",
            "RandomZoom takes height_factor, width_factor, fill_mode, interpolation, seed, "
            "fill_value, data_format; it has no parameter foo. "
            "Received: --layer random-zoom:0.1,foo=2",
            1,
        ),
        ("random-zoom:0.1,,0.2", "with no empty items. Received: --layer random-zoom:0.1,,0.2", 1),
        ("random-zoom:fill_mode=constant,0.1", "positional values must come before key=value ones", 1),
        (
            "random-crop:8",
            "RandomCrop takes height, width, seed, data_format; width must be given. "
            "Received: --layer random-crop:8",
            1,
        ),
        ("random-flip:horizontal,mode=vertical", "mode given twice", 1),
        ("random-flip:a,b,c,d,e", "RandomFlip takes mode, seed, data_format; it takes at most 3 values", 1),
        (
            "random-zoom:2",
            (
                "error: --layer random-zoom:2: RandomZoom 'random_zoom",  # a counter may follow
                "': the `height_factor` argument must be a number or a pair (lower, upper) of numbers in "
                "(-1, 1]. Received: height_factor=2",
            ),
            1,
        ),
    ],
)
def test_augment_errors_are_one_line(capsys, tmp_path, picture, layer, needle, exit_code):
    out_path = tmp_path / "grid.png"
    code, out, err = run(capsys, "augment", picture[0], "--layer", layer, "-o", out_path)
    line = assert_one_line_error(code, err, "augment", expected_code=exit_code)
    for part in (needle,) if isinstance(needle, str) else needle:
        assert part in line
    assert out == "" and not out_path.exists()


@pytest.mark.parametrize(
    "argv, needle, exit_code",
    [
        ([], "the following arguments are required: --layer", 2),
        (
            ["--layer", "random-flip", "--n", "0"],
            "argument --n: expected a positive integer. Received: '0'",
            2,
        ),
        (["--layer", "random-flip", "--seed", "-3"], "argument --seed: expected a non-negative integer", 2),
    ],
)
def test_augment_argument_errors(capsys, tmp_path, picture, argv, needle, exit_code):
    code, _, err = run(capsys, "augment", picture[0], *argv, "-o", tmp_path / "grid.png")
    assert needle in assert_one_line_error(code, err, "augment", expected_code=exit_code)


def test_augment_file_errors(capsys, tmp_path, picture):
    code, _, err = run(capsys, "augment", tmp_path / "missing.png", "--layer", "random-flip", "-o",
                       tmp_path / "g.png")
    assert "no such image: " in assert_one_line_error(code, err, "augment")
    code, _, err = run(capsys, "augment", picture[0], "--layer", "random-flip", "-o", tmp_path / "g.jpg")
    assert "-o must name a .png file" in assert_one_line_error(code, err, "augment")
