"""convolve.viz.plots: filter grids, feature maps, history curves and confusion matrices.

Figures are checked through what can fail: the PNG on disk (Pillow opens it, its size is
figsize * dpi), the number of Axes, and the values drawn in each Axes (``ax.images[0]``).
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

from convolve.autograd import GradientTape  # noqa: E402
from convolve.callbacks import History  # noqa: E402
from convolve.layers import (  # noqa: E402
    Add,
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
    clear_session,
)
from convolve.models import Model, Sequential  # noqa: E402
from convolve.viz import plots  # noqa: E402
from convolve.viz.plots import (  # noqa: E402
    confusion_matrix,
    feature_maps,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_history,
)


@pytest.fixture(autouse=True)
def _fresh_names():
    clear_session()
    yield
    clear_session()


def drawn(ax):
    """The array drawn in an Axes (after normalisation), as a plain ndarray."""
    return np.asarray(ax.images[0].get_array())


def assert_png(path, fig):
    with Image.open(path) as im:
        assert im.format == "PNG"
        width, height = fig.get_size_inches() * fig.dpi
        assert im.size == (round(width), round(height))
        im.load()  # the whole file decodes


def small_cnn(seed=0):
    rng = np.random.default_rng(seed)
    model = Sequential([
        Input((12, 12, 1)), Conv2D(3, 3, activation="relu", name="c1"), MaxPooling2D(name="p1"),
        Conv2D(4, 3, name="c2"), Flatten(name="flat"), Dense(5, name="d"),
    ])
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


# ---- imports ------------------------------------------------------------------------------------


def test_import_convolve_viz_does_not_import_matplotlib_or_pil():
    code = (
        "import sys, convolve, convolve.viz, convolve.viz.plots\n"
        "bad = [m for m in ('matplotlib', 'PIL') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("call", [
    lambda: plot_filters(np.ones((3, 3, 1, 2))),
    lambda: plot_feature_maps(small_cnn(), np.ones((12, 12, 1))),
    lambda: plot_history({"loss": [1.0, 0.5]}),
    lambda: plot_confusion_matrix(small_cnn(), np.ones((2, 12, 12, 1)), [0, 1]),
])
def test_missing_matplotlib_names_the_extra(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "convolve\[viz\]"'):
        call()


def test_names_are_reachable_through_convolve_viz():
    import convolve.viz as viz

    for name in (
        "plot_filters",
        "plot_feature_maps",
        "plot_history",
        "plot_confusion_matrix",
        "feature_maps",
    ):
        assert getattr(viz, name) is getattr(plots, name)


# ---- plot_filters -----------------------------------------------------------------------------------


def hot_kernel(kh, kw, cin, nf, seed=0):
    """Weak noise plus one hot pixel per filter, at a different place and scale for each filter."""
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(0, 0.1, size=(kh, kw, cin, nf))
    spots = []
    for f in range(nf):
        spot = (f % kh, (2 * f + 1) % kw, f % cin)
        kernel[spot + (f,)] = 10.0 ** (f % 3)  # 1, 10, 100: only per-filter scaling shows them all
        spots.append(spot)
    return kernel, spots


def test_plot_filters_saves_a_png_of_figsize_times_dpi(tmp_path):
    kernel, _ = hot_kernel(3, 3, 1, 6)
    target = tmp_path / "filters.png"
    fig = plot_filters(kernel, path=target)
    assert_png(target, fig)
    assert os.listdir(tmp_path) == ["filters.png"]  # no temporary file left behind


def test_plot_filters_replaces_an_existing_file(tmp_path):
    target = tmp_path / "f.png"
    target.write_bytes(b"old")
    fig = plot_filters(np.eye(3), path=str(target))
    assert_png(target, fig)


def test_plot_filters_one_cell_per_filter_and_each_hot_pixel_is_the_brightest():
    kernel, spots = hot_kernel(3, 5, 1, 7)
    fig = plot_filters(kernel)
    assert len(fig.axes) == 7
    for f, (ax, (r, c, _)) in enumerate(zip(fig.axes, spots)):
        image = drawn(ax)
        assert image.shape == (3, 5)
        assert ax.get_title() == f"filter {f}"
        assert np.unravel_index(np.argmax(image), image.shape) == (r, c)
        assert image.max() == pytest.approx(1.0) and image.min() == pytest.approx(0.0)
        ref = (kernel[:, :, 0, f] - kernel[..., f].min()) / np.ptp(kernel[..., f])
        np.testing.assert_allclose(image, ref, atol=1e-6)


def test_plot_filters_global_scaling_uses_one_range():
    kernel, _ = hot_kernel(3, 3, 1, 3)  # hot values 1, 10, 100
    fig = plot_filters(kernel, normalize="global")
    peaks = [drawn(ax).max() for ax in fig.axes]
    assert peaks[2] == pytest.approx(1.0)
    assert peaks[0] < 0.02 and peaks[1] < 0.11  # the weak filters stay dark on the shared scale


def test_plot_filters_multichannel_draws_one_row_per_input_channel():
    kernel, spots = hot_kernel(3, 3, 2, 4)
    fig = plot_filters(kernel)
    assert len(fig.axes) == 2 * 4
    # per filter, both channels share one scale: the hot pixel's channel holds the 1.0
    for f, (r, c, ch) in enumerate(spots):
        cells = [ax for ax in fig.axes if ax.get_subplotspec().colspan.start == f]
        assert len(cells) == 2
        cells.sort(key=lambda ax: ax.get_subplotspec().rowspan.start)
        assert drawn(cells[ch])[r, c] == pytest.approx(1.0)
        assert drawn(cells[1 - ch]).max() < 0.2
        assert cells[0].get_ylabel() == "in 0" or f > 0


def test_plot_filters_channel_picks_one_input_channel():
    kernel, _ = hot_kernel(3, 3, 4, 5)
    fig = plot_filters(kernel, channel=2)
    assert len(fig.axes) == 5
    for f, ax in enumerate(fig.axes):
        ref = kernel[:, :, 2, f]
        assert np.argmax(drawn(ax)) == np.argmax(ref)


def test_plot_filters_rgb_filters_are_drawn_in_colour():
    kernel = np.zeros((3, 3, 3, 3))
    for f in range(3):
        kernel[1, 1, f, f] = 1.0  # filter f: a pure red, green or blue centre
    fig = plot_filters(kernel)
    assert len(fig.axes) == 3
    for f, ax in enumerate(fig.axes):
        image = drawn(ax)
        assert image.shape == (3, 3, 3)
        np.testing.assert_allclose(image[1, 1], np.eye(3)[f])
        assert image.sum() == pytest.approx(1.0)


def test_plot_filters_conv1d_kernels_are_strips():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(5, 1, 4))
    fig = plot_filters(kernel, columns=2)
    assert len(fig.axes) == 4
    for f, ax in enumerate(fig.axes):
        assert drawn(ax).shape == (1, 5)
        assert np.argmax(drawn(ax)) == np.argmax(kernel[:, 0, f])


def test_plot_filters_reads_a_conv2d_layer_kernel():
    layer = Conv2D(6, 3)
    layer.build((None, 8, 8, 1))
    kernel = layer.kernel.value
    fig = plot_filters(layer, columns=3)
    assert len(fig.axes) == 6
    for f, ax in enumerate(fig.axes):
        ref = (kernel[:, :, 0, f] - kernel[..., f].min()) / np.ptp(kernel[..., f])
        np.testing.assert_allclose(drawn(ax), ref, atol=1e-6)
    assert len({ax.get_subplotspec().rowspan.start for ax in fig.axes}) == 2  # 3 per row


def test_plot_filters_does_not_modify_the_kernel():
    kernel, _ = hot_kernel(3, 3, 2, 2)
    before = kernel.copy()
    plot_filters(kernel)
    np.testing.assert_array_equal(kernel, before)


def test_plot_filters_constant_filter_is_mid_grey():
    fig = plot_filters(np.ones((3, 3, 1, 1)))
    np.testing.assert_allclose(drawn(fig.axes[0]), 0.5)


@pytest.mark.parametrize("arg, kwargs, error, text", [
    (np.ones((2, 2, 2, 2, 2)), {}, ValueError, "(kh, kw, in_channels, filters)"),
    (np.ones(3), {}, ValueError, "Received: an array of shape (3,)"),
    (np.ones((3, 3, 1, 2)), {"normalize": "max"}, ValueError, "normalize='max'"),
    (np.ones((3, 3, 2, 2)), {"channel": 2}, ValueError, "channel=2"),
    (np.ones((3, 3, 1, 2)), {"columns": 0}, ValueError, "columns=0"),
    (np.ones((1, 1, 64, 64)), {}, ValueError, "channel="),
    (Dense(3), {}, TypeError, "Dense"),
    (Conv2D(3, 3), {}, ValueError, "built=False"),
])
def test_plot_filters_errors(arg, kwargs, error, text):
    with pytest.raises(error, match="plot_filters") as info:
        plot_filters(arg, **kwargs)
    assert text in str(info.value) and "Received:" in str(info.value)


def test_plot_filters_missing_folder_fails_before_drawing(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: path="):
        plot_filters(np.eye(3), path=tmp_path / "nowhere" / "f.png")


# ---- feature_maps -----------------------------------------------------------------------------------


def test_feature_maps_equal_predict_of_each_prefix_sequential():
    model = small_cnn()
    x = np.random.default_rng(2).normal(size=(3, 12, 12, 1)).astype(np.float32)
    maps = feature_maps(model, x)
    assert list(maps) == ["c1", "p1", "c2"]  # default: convolution and pooling layers, in order
    for k, layer in enumerate(model.layers):
        if layer.name in maps:
            prefix = Sequential(model.layers[: k + 1])
            np.testing.assert_allclose(maps[layer.name], prefix.predict(x, verbose=0), rtol=1e-6)


def test_feature_maps_by_name_index_and_object_and_one_image():
    model = small_cnn()
    x = np.random.default_rng(3).normal(size=(2, 12, 12, 1)).astype(np.float32)
    full = model.predict(x, verbose=0)
    maps = feature_maps(model, x[0], layers=["d", 0, model.layers[3]])
    assert list(maps) == ["c1", "flat", "d"]  # model order, whatever the order asked
    assert maps["c1"].shape == (1, 10, 10, 3)
    np.testing.assert_allclose(maps["d"], full[:1], rtol=1e-5, atol=1e-6)
    assert set(feature_maps(model, x, layers="p1")) == {"p1"}


def test_feature_maps_records_nothing_inside_a_tape():
    model = small_cnn()
    x = np.ones((1, 12, 12, 1), np.float32)
    with GradientTape():
        maps = feature_maps(model, x)
    assert all(type(v) is np.ndarray for v in maps.values())


def functional_model():
    inp = Input((10, 10, 2), name="image")
    a = Conv2D(4, 3, padding="same", name="conv_a")(inp)
    b = Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(a)
    s = Add(name="add")([a, b])
    p = MaxPooling2D(name="pool")(s)
    out = Dense(3, name="head")(Flatten(name="flat")(p))
    return Model(inp, out), (inp, a, b, s, p)


def test_feature_maps_functional_equal_the_layer_outputs():
    model, (inp, a, b, s, p) = functional_model()
    x = np.random.default_rng(4).normal(size=(2, 10, 10, 2)).astype(np.float32)
    maps = feature_maps(model, x, layers=["pool", "conv_a", "add", "conv_b"])
    assert list(maps) == ["conv_a", "conv_b", "add", "pool"]
    reference = Model(inp, [a, b, s, p]).predict(x, verbose=0)
    for key, ref in zip(["conv_a", "conv_b", "add", "pool"], reference):
        np.testing.assert_allclose(maps[key], ref, rtol=1e-6)
    assert list(feature_maps(model, x)) == ["conv_a", "conv_b", "pool"]


def test_feature_maps_shared_layer_gives_one_entry_per_call():
    inp = Input((8, 8, 2))
    conv = Conv2D(2, 3, padding="same", name="shared")
    h = conv(conv(inp))
    model = Model(inp, h)
    x = np.random.default_rng(5).normal(size=(1, 8, 8, 2)).astype(np.float32)
    maps = feature_maps(model, x)
    first = conv(x)
    np.testing.assert_allclose(maps["shared"], first, rtol=1e-6)
    np.testing.assert_allclose(maps["shared[1]"], conv(first), rtol=1e-6)


def test_feature_maps_unknown_layer_lists_the_names():
    model = small_cnn()
    with pytest.raises(ValueError, match="feature_maps") as info:
        feature_maps(model, np.ones((12, 12, 1)), layers=["c1", "conv9"])
    message = str(info.value)
    for name in ("c1", "p1", "c2", "flat", "d"):
        assert repr(name) in message
    assert "'conv9'" in message and "Received:" in message


@pytest.mark.parametrize("layers, error, text", [
    (7, ValueError, "out of range"),
    (Conv2D(1, 1), ValueError, "is not in"),
    ([], ValueError, "at least one"),
    ([1.5], TypeError, "names, indices or layer objects"),
])
def test_feature_maps_bad_layers(layers, error, text):
    with pytest.raises(error, match="feature_maps") as info:
        feature_maps(small_cnn(), np.ones((12, 12, 1)), layers=layers)
    assert text in str(info.value) and "Received:" in str(info.value)


def test_feature_maps_wrong_input_rank_fails_before_computing():
    with pytest.raises(ValueError, match=r"feature_maps.*Received: x with shape \(12, 12\)"):
        feature_maps(small_cnn(), np.ones((12, 12)))


# ---- plot_feature_maps ------------------------------------------------------------------------------


def line_detector_model():
    model = Sequential([Input((8, 8, 1)), Conv2D(2, 3, name="lines")])
    vertical = np.zeros((3, 3, 1, 2), np.float32)
    vertical[:, 1, 0, 0] = 1.0   # map 0: vertical line detector
    vertical[1, :, 0, 1] = 1.0   # map 1: horizontal line detector
    model.set_weights([vertical, np.zeros(2, np.float32)])
    return model


def test_plot_feature_maps_bright_pixels_follow_the_line(tmp_path):
    image = np.zeros((8, 8, 1), np.float32)
    image[:, 3:5] = 1.0  # the seeds' two-pixel-wide vertical line
    target = tmp_path / "maps.png"
    fig = plot_feature_maps(line_detector_model(), image, path=target)
    assert_png(target, fig)
    assert len(fig.axes) == 2
    vertical = drawn(fig.axes[0])
    assert vertical.shape == (6, 6)
    bright_columns = np.unique(np.nonzero(vertical == vertical.max())[1])
    np.testing.assert_array_equal(bright_columns, [2, 3])  # valid padding shifts by one
    assert vertical.min() == 0.0 and vertical.max() == 1.0


def test_plot_feature_maps_one_block_per_layer_with_name_and_shape():
    model = small_cnn()
    x = np.random.default_rng(6).normal(size=(12, 12, 1)).astype(np.float32)
    fig = plot_feature_maps(model, x, max_maps=2)
    assert len(fig.subfigs) == 3
    assert len(fig.axes) == 2 + 2 + 2  # c1 and p1 have 3 maps, c2 has 4: at most 2 each
    titles = [sub._suptitle.get_text() for sub in fig.subfigs]
    assert "c1" in titles[0] and "(None, 10, 10, 3)" in titles[0] and "first 2 of 3" in titles[0]
    assert "p1" in titles[1] and "(None, 5, 5, 3)" in titles[1]
    assert "c2" in titles[2] and "(None, 3, 3, 4)" in titles[2]
    for ax in fig.axes:  # each map on its own [0, 1] scale
        image = drawn(ax)
        assert image.min() == pytest.approx(0.0) and image.max() == pytest.approx(1.0)


def test_plot_feature_maps_symmetric_is_centred_on_zero():
    model = small_cnn()
    x = np.random.default_rng(7).normal(size=(12, 12, 1)).astype(np.float32)
    fig = plot_feature_maps(model, x, layers="c2", normalize="symmetric")
    ref = feature_maps(model, x, layers="c2")["c2"][0]
    assert len(fig.axes) == 4
    for k, ax in enumerate(fig.axes):
        image = ax.images[0]
        assert image.get_cmap().name == "RdBu_r"
        assert image.norm.vmin == -1.0 and image.norm.vmax == 1.0
        np.testing.assert_allclose(drawn(ax), ref[..., k] / np.abs(ref[..., k]).max(), atol=1e-6)


def test_plot_feature_maps_index_picks_the_sample():
    model = line_detector_model()
    x = np.zeros((2, 8, 8, 1), np.float32)
    x[0, :, 1] = 1.0  # sample 0: a vertical line; sample 1: a horizontal one
    x[1, 5, :] = 1.0
    fig = plot_feature_maps(model, x, index=1)
    horizontal = drawn(fig.axes[1])
    bright_rows = np.unique(np.nonzero(horizontal == horizontal.max())[0])
    np.testing.assert_array_equal(bright_rows, [4])
    with pytest.raises(ValueError, match=r"plot_feature_maps.*Received: index=2"):
        plot_feature_maps(model, x, index=2)


def test_plot_feature_maps_conv1d_maps_are_strips():
    model = Sequential([Input((20, 2)), Conv1D(3, 5, name="c")])
    fig = plot_feature_maps(model, np.random.default_rng(8).normal(size=(20, 2)), columns=1)
    assert len(fig.axes) == 3
    assert all(drawn(ax).shape == (1, 16) for ax in fig.axes)


@pytest.mark.parametrize("kwargs, text", [
    ({"normalize": "abs"}, "normalize='abs'"),
    ({"max_maps": 0}, "max_maps=0"),
    ({"layers": "nope"}, "'nope'"),
])
def test_plot_feature_maps_errors(kwargs, text):
    with pytest.raises(ValueError, match="plot_feature_maps") as info:
        plot_feature_maps(small_cnn(), np.ones((12, 12, 1)), **kwargs)
    assert text in str(info.value) and "Received:" in str(info.value)


# ---- plot_history -----------------------------------------------------------------------------------


def test_plot_history_one_panel_per_metric_with_its_val_pair(tmp_path):
    logs = {"loss": [1.0, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.8], "val_loss": [1.1, 0.8, 0.7],
            "val_accuracy": [0.45, 0.6, 0.7]}
    target = tmp_path / "history.png"
    fig = plot_history(logs, path=target)
    assert_png(target, fig)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    for ax, name in zip(fig.axes, ["loss", "accuracy"]):
        training, validation = ax.lines
        np.testing.assert_array_equal(training.get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(training.get_ydata(), logs[name])
        np.testing.assert_array_equal(validation.get_ydata(), logs["val_" + name])


def test_plot_history_takes_a_history_callback_and_a_metric_list():
    history = History()
    history.on_train_begin()
    for epoch, loss in enumerate([0.9, 0.5]):
        history.on_epoch_end(epoch, {"loss": loss, "accuracy": 1 - loss, "learning_rate": 0.001})
    assert len(plot_history(history).axes) == 3
    fig = plot_history(history, metrics=["val_accuracy"])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1  # no validation recorded


@pytest.mark.parametrize("history, kwargs, error, text", [
    ({"loss": [1.0]}, {"metrics": ["accuracy"]}, ValueError, "'accuracy'"),
    ({}, {}, ValueError, "empty"),
    ([1, 2], {}, TypeError, "list"),
])
def test_plot_history_errors(history, kwargs, error, text):
    with pytest.raises(error, match="plot_history") as info:
        plot_history(history, **kwargs)
    assert text in str(info.value) and "Received:" in str(info.value)


# ---- confusion matrix -------------------------------------------------------------------------------


def loop_confusion(y_true, y_pred, k):
    m = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        m[t, p] += 1
    return m


@given(st.integers(1, 12), st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_confusion_matrix_matches_a_loop(k, n, seed):
    rng = np.random.default_rng(seed)
    t, p = rng.integers(0, k, n), rng.integers(0, k, n)
    np.testing.assert_array_equal(confusion_matrix(t, p, k), loop_confusion(t, p, k))


def test_confusion_matrix_one_hot_and_default_size():
    t = np.array([0, 2, 1, 2])
    p = np.array([0, 1, 1, 2])
    onehot = np.eye(3)[t]
    np.testing.assert_array_equal(confusion_matrix(onehot, p), loop_confusion(t, p, 3))
    assert confusion_matrix(t, p).shape == (3, 3)


@pytest.mark.parametrize("args, text", [
    (([0, 1], [0]), "2 true labels and 1 predictions"),
    (([0, 3], [0, 1], 3), "[0, 3)"),
    (([0, 1], [0, 1], 0), "num_classes=0"),
    (([0.5, 1], [0, 1]), "whole numbers"),
])
def test_confusion_matrix_errors(args, text):
    with pytest.raises(ValueError, match="confusion_matrix") as info:
        confusion_matrix(*args)
    assert text in str(info.value) and "Received:" in str(info.value)


def argmax_model(k):
    """A model whose prediction is the argmax of its input: Dense with an identity kernel."""
    model = Sequential([Input((k,)), Dense(k, use_bias=False)])
    model.set_weights([np.eye(k, dtype=np.float32)])
    return model


def test_plot_confusion_matrix_counts_in_cells_and_names_on_axes(tmp_path):
    rng = np.random.default_rng(9)
    k, n = 4, 60
    x = rng.normal(size=(n, k)).astype(np.float32)
    y = rng.integers(0, k, n)
    reference = loop_confusion(y, x.argmax(1), k)
    names = ["cat", "dog", "emu", "gnu"]
    target = tmp_path / "cm.png"
    fig = plot_confusion_matrix(argmax_model(k), x, y, class_names=names, path=target, batch_size=16)
    assert_png(target, fig)
    ax = fig.axes[0]
    np.testing.assert_array_equal(drawn(ax), reference)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert len(cells) == k * k
    for (i, j), text in cells.items():
        assert int(text) == reference[i, j]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert f"{np.trace(reference)}/{n}" in ax.get_title()


@pytest.mark.parametrize("normalize, axis", [("true", 1), ("pred", 0), ("all", None)])
def test_plot_confusion_matrix_normalize(normalize, axis):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = np.eye(3)[rng.integers(0, 3, 50)]  # one-hot labels
    fig = plot_confusion_matrix(argmax_model(3), x, y, normalize=normalize)
    values = drawn(fig.axes[0])
    counts = loop_confusion(y.argmax(1), x.argmax(1), 3)
    np.testing.assert_allclose(values, counts / counts.sum(axis=axis, keepdims=axis is not None))


@pytest.mark.parametrize("kwargs, text", [
    ({"normalize": "rows"}, "normalize='rows'"),
    ({"class_names": ["a", "b"]}, "2 names"),
    ({"y": [0, 1]}, "3 inputs and 2 labels"),
])
def test_plot_confusion_matrix_errors(kwargs, text):
    with pytest.raises(ValueError, match="plot_confusion_matrix") as info:
        kwargs = {"y": [0, 1, 2], **kwargs}
        plot_confusion_matrix(argmax_model(3), np.eye(3, dtype=np.float32), **kwargs)
    assert text in str(info.value) and "Received:" in str(info.value)


def test_plot_feature_maps_shows_a_functional_models_input():
    model, _ = functional_model()
    x = np.random.default_rng(11).normal(size=(10, 10, 2)).astype(np.float32)
    fig = plot_feature_maps(model, x, layers=["image", "conv_a"])
    assert len(fig.subfigs) == 2 and len(fig.axes) == 2 + 4
    assert fig.subfigs[0]._suptitle.get_text() == "image input (None, 10, 10, 2)"
    np.testing.assert_allclose(
        drawn(fig.axes[1]), (x[..., 1] - x[..., 1].min()) / np.ptp(x[..., 1]), atol=1e-6
    )
