"""convolve.filters: values, sign conventions under cross-correlation, lookup, banks, errors."""
import numpy as np
import pytest

from convolve import filters
from convolve.ops.conv import conv


def correlate(image, kernel):
    """Definition-level 'valid' cross-correlation of a 2-D image with a 2-D kernel (loops)."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(image[r : r + kh, c : c + kw] * kernel)
    return out


def apply(image2d, kernel2d, padding="valid"):
    """A 2-D kernel on a 2-D image through the library's conv."""
    return conv(image2d[None, :, :, None], kernel2d[:, :, None, None], padding=padding)[0, :, :, 0]


# ---- values ---------------------------------------------------------------------------------
SEED_VALUES = {
    # /work/shared/seeds/4-cnns-explained.txt, "Input and output channels"
    "top_edge": [[-1, -1, -1], [1, 1, 1], [0, 0, 0]],
    "left_edge": [[-1, 1, 0], [-1, 1, 0], [-1, 1, 0]],
    "bottom_edge": [[0, 0, 0], [1, 1, 1], [-1, -1, -1]],
    "right_edge": [[0, 1, -1], [0, 1, -1], [0, 1, -1]],
    # /work/shared/seeds/3-convolutional-layers-worked-examples.txt
    "vertical_line": [[0, 1, 0], [0, 1, 0], [0, 1, 0]],
    "horizontal_line": [[0, 0, 0], [1, 1, 1], [0, 0, 0]],
}


@pytest.mark.parametrize("name", sorted(SEED_VALUES))
def test_seed_filters_exact_values(name):
    k = getattr(filters, name)()
    assert k.dtype == np.float32 and k.shape == (3, 3)
    np.testing.assert_array_equal(k, np.array(SEED_VALUES[name], np.float32))


def test_textbook_values():
    np.testing.assert_array_equal(filters.sobel_x(), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(filters.sobel_y(), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(filters.scharr_x(), [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])
    np.testing.assert_array_equal(filters.scharr_y(), np.array(filters.scharr_x()).T)
    np.testing.assert_array_equal(filters.prewitt_x(), [[-1, 0, 1]] * 3)
    np.testing.assert_array_equal(filters.prewitt_y(), [[-1, -1, -1], [0, 0, 0], [1, 1, 1]])
    np.testing.assert_array_equal(filters.laplacian(), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(filters.laplacian(8), [[1, 1, 1], [1, -8, 1], [1, 1, 1]])
    np.testing.assert_array_equal(filters.sharpen(), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(filters.emboss(), [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
    np.testing.assert_array_equal(filters.identity(5)[2, 2], 1)
    assert filters.identity(5).sum() == 1 and filters.identity(5).shape == (5, 5)


@pytest.mark.parametrize("name", filters.names())
def test_every_filter_is_float32_2d(name):
    k = filters.get(name)
    assert k.dtype == np.float32 and k.ndim == 2
    assert np.all(np.isfinite(k))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
def test_box_sums_to_one(size):
    k = filters.box(size)
    assert k.shape == (size, size)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.all(k == k[0, 0])


@pytest.mark.parametrize("size,sigma", [(3, 1.0), (5, 1.0), (7, 2.5), (4, 0.8), (1, 3.0)])
def test_gaussian_sums_to_one_and_is_symmetric(size, sigma):
    k = filters.gaussian(size, sigma)
    assert k.shape == (size, size)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(k, k.T, atol=0)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-7)
    centre = (size - 1) // 2
    assert k[centre, centre] == k.max()


def test_gaussian_matches_formula():
    offsets = np.arange(5) - 2
    g = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 1.3**2))
    np.testing.assert_allclose(filters.gaussian(5, 1.3), g / g.sum(), rtol=1e-6)


def test_zero_sum_kernels():
    for name in ("sobel_x", "sobel_y", "scharr_x", "scharr_y", "prewitt_x", "prewitt_y", "laplacian",
                 "top_edge", "left_edge", "bottom_edge", "right_edge"):
        assert filters.get(name).sum() == 0, name
    for name in ("sharpen", "emboss", "identity"):
        assert filters.get(name).sum() == 1, name


# ---- sign conventions (cross-correlation) ---------------------------------------------------
def step_right():
    """Dark on the left, bright on the right: intensity increases to the right."""
    image = np.zeros((9, 9))
    image[:, 5:] = 1.0
    return image


@pytest.mark.parametrize("name", ["sobel_x", "scharr_x", "prewitt_x"])
def test_x_derivatives_positive_where_intensity_increases_rightwards(name):
    k = filters.get(name)
    out = apply(step_right(), k)
    np.testing.assert_allclose(out, correlate(step_right(), k), atol=1e-6)
    assert out.max() > 0 and out.min() == 0  # no negative response on a rising step
    assert set(np.argwhere(out > 0)[:, 1] + 1) == {4, 5}  # window centres on the step's two sides
    falling = apply(step_right()[:, ::-1], k)
    assert falling.max() == 0 and falling.min() < 0


@pytest.mark.parametrize("name", ["sobel_y", "scharr_y", "prewitt_y"])
def test_y_derivatives_positive_where_intensity_increases_downwards(name):
    image = step_right().T.copy()  # dark on top, bright below
    out = apply(image, filters.get(name))
    assert out.max() > 0 and out.min() == 0
    assert set(np.argwhere(out > 0)[:, 0] + 1) == {4, 5}


def test_laplacian_negative_on_bright_spot():
    image = np.zeros((5, 5))
    image[2, 2] = 1
    for n in (4, 8):
        out = apply(image, filters.laplacian(n), padding="same")
        assert out[2, 2] == -n and out.min() == -n


def bright_square():
    image = np.zeros((12, 12))
    image[3:9, 4:10] = 1.0  # rows 3..8, columns 4..9
    return image


@pytest.mark.parametrize(
    "name,axis,expected",
    [("top_edge", 0, 3), ("bottom_edge", 0, 8), ("left_edge", 1, 4), ("right_edge", 1, 9)],
)
def test_seed_edge_filters_fire_on_matching_edge_of_bright_shape(name, axis, expected):
    out = apply(bright_square(), filters.get(name), padding="same")
    where = np.argwhere(out == out.max())
    assert out.max() == 3
    assert set(where[:, axis]) == {expected}


def test_vertical_line_map_brightest_in_the_line_columns():
    image = np.zeros((8, 8))
    image[:, 3:5] = 1  # the seeds' 2-pixel-wide line
    out = apply(image, filters.vertical_line())
    np.testing.assert_array_equal(np.unique(np.argwhere(out == out.max())[:, 1]), [2, 3])  # valid offsets
    assert out.max() == 3
    same = apply(image, filters.vertical_line(), padding="same")
    np.testing.assert_array_equal(np.unique(np.argwhere(same == same.max())[:, 1]), [3, 4])
    horizontal = apply(image.T.copy(), filters.horizontal_line(), padding="same")
    np.testing.assert_array_equal(np.unique(np.argwhere(horizontal == horizontal.max())[:, 0]), [3, 4])


# ---- names and get --------------------------------------------------------------------------
def test_names_sorted_and_complete():
    expected = {
        "identity", "box", "gaussian", "sharpen", "emboss", "laplacian", "sobel_x", "sobel_y", "scharr_x",
        "scharr_y", "prewitt_x", "prewitt_y", "vertical_line", "horizontal_line", "top_edge", "left_edge",
        "bottom_edge", "right_edge",
    }
    assert filters.names() == sorted(expected)


def test_get_by_name_with_params_and_case():
    np.testing.assert_array_equal(filters.get("Sobel_X"), filters.sobel_x())
    np.testing.assert_array_equal(filters.get("gaussian", size=7, sigma=2.0), filters.gaussian(7, 2.0))
    np.testing.assert_array_equal(filters.get("laplacian", neighbours=8), filters.laplacian(8))


def test_get_array_returns_float32_copy():
    a = np.array([[1, 2], [3, 4]], dtype=np.int64)
    k = filters.get(a)
    assert k.dtype == np.float32 and k.shape == (2, 2)
    k[0, 0] = 99
    assert a[0, 0] == 1
    f = np.ones((3, 3), np.float32)
    assert filters.get(f) is not f
    np.testing.assert_array_equal(filters.get([[0, 1, 0]]), [[0, 1, 0]])


def test_get_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as e:
        filters.get("sobl_x")
    msg = str(e.value)
    assert msg.startswith("filters.get: unknown filter name.")
    assert all(repr(n) in msg for n in filters.names())
    assert msg.endswith("Received: name='sobl_x'")


def test_get_rejects_parameters_the_filter_does_not_take():
    with pytest.raises(
        ValueError, match=r"filters.get: the filter 'sobel_x' takes no parameters. Received: size=5$"
    ):
        filters.get("sobel_x", size=5)
    with pytest.raises(ValueError, match=r"takes only \['size', 'sigma'\]. Received: sigm=2$"):
        filters.get("gaussian", sigm=2)
    with pytest.raises(
        ValueError, match=r"parameters apply only to a filter given by name.*Received: size=3$"
    ):
        filters.get(np.ones((3, 3)), size=3)


@pytest.mark.parametrize(
    "value,pattern",
    [
        (np.ones(3), r"expected a non-empty 2-D array.*Received: an array of shape \(3,\)$"),
        (np.ones((3, 3, 1)), r"Received: an array of shape \(3, 3, 1\)$"),
        (np.ones((0, 3)), r"Received: an array of shape \(0, 3\)$"),
        (
            np.array([["a", "b"]]),
            r"expected a filter name or a 2-D numeric array.*Received: an array of shape",
        ),
        ([[1, 2], [3]], r"expected a filter name or a 2-D numeric array.*Received: \[\[1, 2\], \[3\]\]$"),
        (np.array([[1.0, np.nan]]), r"contains NaN or infinite values. Received: \[\[1.0, nan\]\]$"),
        (None, r"Received: None$"),
    ],
)
def test_get_rejects_bad_arrays(value, pattern):
    with pytest.raises(ValueError, match=pattern):
        filters.get(value)


@pytest.mark.parametrize(
    "call,pattern",
    [
        (
            lambda: filters.identity(4),
            r"filters.identity: `size` must be a positive odd integer. Received: size=4$",
        ),
        (lambda: filters.box(0), r"filters.box: `size` must be a positive integer. Received: size=0$"),
        (lambda: filters.box(2.5), r"Received: size=2.5$"),
        (lambda: filters.gaussian(True), r"Received: size=True$"),
        (
            lambda: filters.gaussian(5, 0),
            r"filters.gaussian: `sigma` must be a positive number. Received: sigma=0$",
        ),
        (lambda: filters.gaussian(5, float("nan")), r"Received: sigma=nan$"),
        (
            lambda: filters.laplacian(6),
            r"filters.laplacian: `neighbours` must be 4 or 8. Received: neighbours=6$",
        ),
    ],
)
def test_parameter_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---- banks ----------------------------------------------------------------------------------
def test_bank_single_channel_stacks_filters_in_order():
    b = filters.bank(["top_edge", "left_edge", filters.sobel_x()])
    assert b.shape == (3, 3, 1, 3) and b.dtype == np.float32
    np.testing.assert_array_equal(b[:, :, 0, 0], filters.top_edge())
    np.testing.assert_array_equal(b[:, :, 0, 1], filters.left_edge())
    np.testing.assert_array_equal(b[:, :, 0, 2], filters.sobel_x())
    np.testing.assert_array_equal(filters.bank(["top_edge"], mode="across"), filters.bank(["top_edge"]))


def test_bank_accepts_one_name_one_array_or_one_nested_list():
    assert filters.bank("sobel_x").shape == (3, 3, 1, 1)
    assert filters.bank(filters.box(5)).shape == (5, 5, 1, 1)
    np.testing.assert_array_equal(filters.bank([[0, 1, 0]] * 3)[:, :, 0, 0], filters.vertical_line())
    assert filters.bank([filters.box(3), filters.sobel_x()]).shape == (3, 3, 1, 2)


def rgb_image(seed=0):
    return np.random.default_rng(seed).random((2, 9, 10, 3))


def test_bank_per_channel_equals_each_filter_on_each_channel():
    names = ["sobel_x", "top_edge"]
    b = filters.bank(names, in_channels=3, mode="per_channel")
    assert b.shape == (3, 3, 3, 6)
    x = rgb_image()
    y = conv(x, b, padding="same")
    for f, name in enumerate(names):
        for c in range(3):
            expected = conv(x[..., c : c + 1], filters.get(name)[:, :, None, None], padding="same")[..., 0]
            np.testing.assert_allclose(y[..., f * 3 + c], expected, atol=1e-12)  # filter-major order
    # zeros everywhere but the channel each output reads
    for o in range(6):
        for c in range(3):
            assert np.any(b[:, :, c, o]) == (c == o % 3)


def test_bank_across_sums_channels_divided_by_count():
    names = ["sobel_x", "box", "emboss"]
    b = filters.bank(names, in_channels=3, mode="across")
    assert b.shape == (3, 3, 3, 3)
    x = rgb_image(1)
    y = conv(x, b, padding="same")
    for f, name in enumerate(names):
        k = filters.get(name)[:, :, None, None]
        expected = sum(conv(x[..., c : c + 1], k, padding="same")[..., 0] for c in range(3)) / 3
        np.testing.assert_allclose(y[..., f], expected, atol=1e-6)


def test_bank_across_grey_replicated_to_rgb_gives_grey_map():
    grey = np.random.default_rng(2).random((1, 8, 8, 1))
    rgb = np.repeat(grey, 3, axis=-1)
    names = ["sobel_y", "right_edge"]
    y_grey = conv(grey, filters.bank(names, 1), padding="same")
    y_rgb = conv(rgb, filters.bank(names, 3, mode="across"), padding="same")
    np.testing.assert_allclose(y_rgb, y_grey, atol=1e-6)


def test_bank_errors():
    with pytest.raises(ValueError, match=r"filters.bank: every filter in a bank must have the same size.*"
                                         r"Received: sizes \[\(3, 3\), \(5, 5\)\]$"):
        filters.bank(["sobel_x", filters.box(5)])
    with pytest.raises(ValueError, match=r"filters.bank: unknown filter name\..*Received: name='nope'$"):
        filters.bank(["sobel_x", "nope"])
    with pytest.raises(ValueError, match=r"filters.bank: the `mode` argument must be one of "
                                         r"\{'per_channel', 'across'\}. Received: mode='sum'$"):
        filters.bank("sobel_x", 3, mode="sum")
    with pytest.raises(ValueError, match=r"filters.bank: `in_channels` must be a positive integer. "
                                         r"Received: in_channels=0$"):
        filters.bank("sobel_x", in_channels=0)
    with pytest.raises(
        ValueError, match=r"filters.bank: expected at least one filter. Received: kernels=\[\]$"
    ):
        filters.bank([])
    with pytest.raises(
        ValueError,
        match=r"filters.bank: expected a filter name, a 2-D array, or a list of them. "
        r"Received: 3$",
    ):
        filters.bank(3)
    with pytest.raises(ValueError, match=r"filters.bank: expected a non-empty 2-D array"):
        filters.bank([np.ones((3, 3, 1))])


def test_bank_does_not_modify_input():
    k = np.arange(9.0).reshape(3, 3)
    before = k.copy()
    b = filters.bank([k], in_channels=2, mode="across")
    b[...] = 0
    np.testing.assert_array_equal(k, before)


def test_import_convolve_does_not_import_pictures_libraries():
    import subprocess
    import sys

    code = (
        "import sys, convolve, convolve.filters, convolve.images; "
        "print(any(m == 'PIL' or m.startswith(('PIL.', 'matplotlib')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
