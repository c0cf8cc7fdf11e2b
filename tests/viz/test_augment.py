"""convolve.viz.augment: plot_augmentations draws n augmented versions of one image.

Checked through what can fail: the number of panels, the values drawn in each (they differ from
each other and are the layer's outputs), the generators left as they were with a seed, the PNG
on disk, and the errors."""
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from convolve import layers as L  # noqa: E402
from convolve import viz  # noqa: E402
from convolve.models import Sequential  # noqa: E402
from convolve.random import generator, set_random_seed  # noqa: E402
from convolve.viz.augment import plot_augmentations  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_names():
    L.clear_session()


def drawn(ax):
    return np.asarray(ax.images[0].get_array())


def picture(h=12, w=10):
    """An asymmetric grey image: a bright block in the top-left corner on a gradient."""
    x = np.linspace(0, 0.5, h * w).reshape(h, w, 1)
    x[1:5, 1:4] = 1.0
    return x


def augmenter():
    return Sequential(
        [L.Input((12, 10, 1)), L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1)]
    )


def test_one_panel_per_augmentation_and_they_differ():
    fig = plot_augmentations(augmenter(), picture(), n=9, seed=0)
    assert len(fig.axes) == 9 and [ax.get_title() for ax in fig.axes] == [str(k) for k in range(1, 10)]
    panels = [drawn(ax) for ax in fig.axes]
    assert all(p.shape == (12, 10) for p in panels)
    assert len({p.tobytes() for p in panels}) == 9
    assert viz.plot_augmentations is plot_augmentations  # exported by convolve.viz


def test_a_seed_draws_the_same_picture_and_leaves_the_generators_alone():
    model = augmenter()
    seeded = L.RandomRotation(0.3, seed=5)
    set_random_seed(1)
    state = generator().bit_generator.state
    own = seeded._rng.bit_generator.state
    a = [drawn(ax) for ax in plot_augmentations(model, picture(), n=4, seed=3).axes]
    b = [drawn(ax) for ax in plot_augmentations(model, picture(), n=4, seed=3).axes]
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    plot_augmentations(seeded, picture(), n=2, seed=3)
    assert generator().bit_generator.state == state and seeded._rng.bit_generator.state == own
    plot_augmentations(model, picture(), n=2)  # without a seed the draws advance the global generator
    assert generator().bit_generator.state != state


def test_panels_are_the_layer_outputs_in_colour_and_grey(tmp_path):
    rgb = np.random.default_rng(0).uniform(0, 255, (6, 7, 3))
    layer = L.RandomFlip(seed=0)
    path = tmp_path / "flips.png"
    fig = plot_augmentations(layer, rgb, n=8, seed=2, path=path)
    for ax in fig.axes:  # each panel is the image flipped some way, scaled from the input's range to [0, 1]
        scaled = (rgb - rgb.min()) / (rgb.max() - rgb.min())
        flips = (scaled, scaled[::-1], scaled[:, ::-1], scaled[::-1, ::-1])
        assert any(np.allclose(drawn(ax), v) for v in flips)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == tuple(round(v) for v in fig.get_size_inches() * fig.dpi)
    grey = plot_augmentations(L.RandomBrightness(0.5, value_range=(0, 1)), picture()[..., 0], n=3, seed=1)
    assert all(drawn(ax).shape == (12, 10) for ax in grey.axes)
    first = plot_augmentations(L.RandomFlip("vertical", data_format="channels_first"),
                               np.moveaxis(rgb, -1, 0)[None], n=2, seed=0)
    assert drawn(first.axes[0]).shape == (6, 7, 3)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: plot_augmentations(lambda x: x, picture()), TypeError,
         r"plot_augmentations: expected a layer or a model. Received: function"),
        (lambda: plot_augmentations(L.RandomFlip(), picture(), n=0), ValueError,
         r"plot_augmentations: n must be a positive integer. Received: n=0"),
        (lambda: plot_augmentations(L.RandomFlip(), picture(), seed=-2), ValueError,
         r"plot_augmentations: seed must be None or a non-negative integer. Received: seed=-2"),
        (lambda: plot_augmentations(L.RandomFlip(), np.zeros((2, 4, 4, 1))), ValueError,
         r"plot_augmentations: expected one image, \(H, W, C\), \(H, W\) or a batch of one. "
         r"Received: image.shape=\(2, 4, 4, 1\)"),
        (lambda: plot_augmentations(Sequential([L.Input((4, 4, 1)), L.Flatten()]), np.zeros((4, 4, 1))),
         ValueError,
         r"plot_augmentations: the layer or model must return images. "
         r"Received: an output of shape \(1, 16\)"),
        (lambda: plot_augmentations(L.RandomFlip(), np.zeros((4, 4, 2))), ValueError,
         r"plot_augmentations: can draw images with 1 \(grey\), 3 or 4 \(colour\) channels. "
         r"Received: outputs of shape \(1, 4, 4, 2\)"),
        (lambda: plot_augmentations(L.RandomFlip(), picture(), path="/no/such/folder/a.png"),
         FileNotFoundError,
         r"plot_augmentations: the folder to save the PNG in does not exist"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    expected = r'plot_augmentations needs matplotlib.*pip install "convolve\[viz\]"'
    with pytest.raises(ImportError, match=expected):
        plot_augmentations(L.RandomFlip(), picture())
