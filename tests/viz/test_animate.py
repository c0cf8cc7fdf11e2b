"""convolve.viz.animate: GIFs of a kernel sliding over its input, checked pixel by pixel."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from convolve.ops.conv import conv, conv_transpose  # noqa: E402
from convolve.viz import animate  # noqa: E402
from convolve.viz.animate import animate_convolution, layout  # noqa: E402


def frames_rgb(path):
    """Every frame of a GIF as an (H, W, 3) uint8 array."""
    with Image.open(path) as im:
        assert im.format == "GIF"
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(np.asarray(im.convert("RGB")))
        return out


def centre(origin, r, c, cell):
    return origin[1] + r * cell + cell // 2, origin[0] + c * cell + cell // 2  # (y, x)


def corner(origin, r, c, cell):
    """A pixel inside a cell, clear of its border and of any centred number."""
    return origin[1] + r * cell + 4, origin[0] + c * cell + 4


def colour(frame, yx):
    return tuple(int(v) for v in frame[yx])


# (kwargs, padded grid (rows, cols) and output (rows, cols), worked out by hand)
CASES = [
    # 5x5, 3x3, stride 2, 'same': out = ceil(5/2) = 3, total pad = 2*2 + 3 - 5 = 2 -> 1 + 1
    (dict(input_size=5, kernel_size=3, strides=2, padding="same"), (7, 7), (3, 3)),
    # 7x7, 3x3, dilation 2 (effective 5), 'valid': out = 7 - 5 + 1 = 3
    (dict(input_size=7, kernel_size=3, dilation_rate=2), (7, 7), (3, 3)),
    # 4x6, 2x3, stride (1, 2), padding 1: out = (4+2-2)/1+1 = 5, (6+2-3)//2+1 = 3
    (dict(input_size=(4, 6), kernel_size=(2, 3), strides=(1, 2), padding=1), (6, 8), (5, 3)),
    # 'full': pad ke - 1 = 2 on each side; out = 3 + 4 - 3 + 1 = 5
    (dict(input_size=3, kernel_size=3, padding="full"), (7, 7), (5, 5)),
    # transposed 2x2, 3x3, stride 2, 'valid' (the guide's no-padding, strided picture):
    # out = 2*2 + max(3-2, 0) = 5; grid = 2 pad + (x 0 x) + 2 pad = 7
    (dict(input_size=2, kernel_size=3, strides=2, transposed=True), (7, 7), (5, 5)),
    # transposed 3x3, 3x3, stride 2, 'same': out = 6; the convolution on 6 pads 0 before, 1 after,
    # so the picture pads 3-1-0 = 2 before, (5 + 3 - 1) - 2 - 5 = 1 after
    (dict(input_size=3, kernel_size=3, strides=2, padding="same", transposed=True), (8, 8), (6, 6)),
    # 1-D: 9 long, kernel 3, stride 2, 'same' -> 5, one row
    (dict(input_size=(9,), kernel_size=(3,), strides=2, padding="same"), (1, 11), (1, 5)),
]


@pytest.mark.parametrize("kwargs, grid, out", CASES)
def test_gif_frames_sizes_and_highlighted_cells(tmp_path, kwargs, grid, out):
    path = tmp_path / "conv.gif"
    info = animate_convolution(path=path, duration=50, **kwargs)
    frames = frames_rgb(path)
    with Image.open(path) as im:
        assert im.is_animated
        assert im.n_frames == out[0] * out[1] == info["frames"]
        assert im.size == info["image_size"]
    assert info["grid_size"] == grid
    assert info["path"] == os.fspath(path)
    cell = info["cell"]
    (ix, iy), (ox, oy) = info["input_origin"], info["output_origin"]
    # grids side by side, one cell apart, the image one margin wider than the output grid
    assert iy == oy and ox - ix == grid[1] * cell + cell
    width, height = info["image_size"]
    assert width >= ox + out[1] * cell + animate.MARGIN
    assert height == iy + max(grid[0], out[0]) * cell + animate.MARGIN
    for k, frame in enumerate(frames):
        assert frame.shape == (height, width, 3)
        r, c = divmod(k, out[1])
        assert colour(frame, centre((ox, oy), r, c, cell)) == animate.OUTPUT_NOW
        if k > 0:
            pr, pc = divmod(k - 1, out[1])
            assert colour(frame, centre((ox, oy), pr, pc, cell)) == animate.OUTPUT_DONE
        if k + 1 < len(frames):
            nr, nc = divmod(k + 1, out[1])
            assert colour(frame, centre((ox, oy), nr, nc, cell)) == animate.OUTPUT_EMPTY


def test_guide_transposed_picture_inserts_one_zero_and_pads_two(tmp_path):
    """The guide's 2x2 -> 5x5 transposed picture: rows/cols are pad pad x 0 x pad pad."""
    info = animate_convolution(2, 3, strides=2, transposed=True, path=tmp_path / "t.gif")
    frame = frames_rgb(tmp_path / "t.gif")[-1]  # the last frame: the kernel at the bottom-right
    cell, origin = info["cell"], info["input_origin"]
    pattern = ["pad", "pad", "x", "zero", "x", "pad", "pad"]
    for r, kr in enumerate(pattern):
        for c, kc in enumerate(pattern):
            tap = r >= 4 and c >= 4  # the 3x3 footprint of output (4, 4)
            if "pad" in (kr, kc):
                expected = animate.TAP_ZERO if tap else animate.PADDING
            elif "zero" in (kr, kc):
                expected = animate.TAP_ZERO if tap else animate.INSERTED
            else:
                expected = animate.TAP if tap else animate.INPUT
            assert colour(frame, corner(origin, r, c, cell)) == expected, (r, c)
    assert len({animate.PADDING, animate.INPUT, animate.INSERTED, animate.TAP, animate.TAP_ZERO}) == 5


def test_padding_cells_differ_from_input_cells_and_only_dilated_taps_are_lit(tmp_path):
    # 5x5, kernel 2 dilated 2 (effective 3), padding 1: grid 7x7, taps at rows/cols {r, r+2}
    info = animate_convolution(5, 2, dilation_rate=2, padding=1, path=tmp_path / "d.gif")
    frames = frames_rgb(tmp_path / "d.gif")
    cell, origin = info["cell"], info["input_origin"]
    out = info["output_size"]
    assert out == (5, 5) and len(frames) == 25
    for k in (0, 6, 24):
        r0, c0 = divmod(k, out[1])
        taps = {(r0 + 2 * i, c0 + 2 * j) for i in range(2) for j in range(2)}
        for r in range(7):
            for c in range(7):
                got = colour(frames[k], corner(origin, r, c, cell))
                padding = r in (0, 6) or c in (0, 6)
                if (r, c) in taps:
                    assert got == (animate.TAP_ZERO if padding else animate.TAP), (k, r, c)
                elif padding:
                    assert got == animate.PADDING, (k, r, c)
                else:
                    assert got == animate.INPUT, (k, r, c)
    assert animate.PADDING != animate.INPUT


def test_stride_two_same_footprints_step_by_two(tmp_path):
    info = animate_convolution(5, 3, strides=2, padding="same", path=tmp_path / "s.gif")
    frames = frames_rgb(tmp_path / "s.gif")
    cell, origin = info["cell"], info["input_origin"]
    for k, frame in enumerate(frames):
        r0, c0 = divmod(k, 3)
        lit = {
            (r, c) for r in range(7) for c in range(7)
            if colour(frame, corner(origin, r, c, cell)) in (animate.TAP, animate.TAP_ZERO)
        }
        assert lit == {(2 * r0 + i, 2 * c0 + j) for i in range(3) for j in range(3)}


# --- the picture's arithmetic equals the library's convolution ----------------------


@st.composite
def picture_configs(draw):
    transposed = draw(st.booleans())
    k = tuple(draw(st.integers(1, 4)) for _ in range(2))
    d = tuple(draw(st.integers(1, 2)) for _ in range(2))
    s = tuple(draw(st.integers(1, 3)) for _ in range(2))
    if transposed:
        padding = draw(st.sampled_from(["valid", "same"]))
        sizes = tuple(draw(st.integers(1, 4)) for _ in range(2))
        output_padding = draw(st.one_of(st.none(), st.tuples(*(st.integers(0, si - 1) for si in s))))
        even = any(di * (ki - 1) % 2 for ki, di in zip(k, d, strict=True))
        if output_padding is None and padding == "same" and even:
            padding = "valid"  # 'same' with an even effective kernel needs output_padding
        if output_padding is not None and padding == "same" and any(
            p == 0 and di * (ki - 1) % 2 for p, ki, di in zip(output_padding, k, d, strict=True)
        ):
            output_padding = None  # refused as TensorFlow refuses it
            padding = "valid"
    else:
        padding = draw(st.sampled_from(["valid", "same", "full", 1]))
        reach = [di * (ki - 1) for ki, di in zip(k, d, strict=True)]
        sizes = tuple(draw(st.integers(r + 1, r + 6)) for r in reach)
        output_padding = None
    return transposed, k, d, s, padding, output_padding, sizes, draw(st.integers(0, 2**16))


@given(picture_configs())
def test_layout_taps_times_drawn_kernel_equal_conv(config):
    """Sum over the lit cells of (drawn cell value * drawn kernel weight) is the library's output."""
    transposed, k, d, s, padding, output_padding, sizes, seed = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(sizes)
    kernel = rng.standard_normal(k)
    lay = layout(sizes, k, s, padding, d, transposed, output_padding)
    if transposed:
        y = conv_transpose(
            x[None, ..., None], kernel[..., None, None], strides=s, padding=padding, dilation_rate=d,
            output_padding=output_padding,
        )
    else:
        y = conv(x[None, ..., None], kernel[..., None, None], strides=s, padding=padding, dilation_rate=d)
    drawn = lay.drawn_kernel(kernel)  # what the taps show: flipped for a transposed convolution
    y = y[0, ..., 0]
    assert lay.output_size == y.shape
    grid = np.zeros(lay.grid_size)
    inside = lay.kinds == animate.KIND_INPUT
    grid[inside] = x[lay.source[inside][:, 0], lay.source[inside][:, 1]]
    # every input pixel appears exactly once in the grid
    assert inside.sum() == x.size
    for pos in np.ndindex(*y.shape):
        taps = lay.taps(pos)
        assert all(0 <= r < lay.grid_size[0] and 0 <= c < lay.grid_size[1] for r, c in taps)
        value = sum(grid[t] * w for t, w in zip(taps, drawn.ravel(), strict=True))
        assert abs(value - y[pos]) <= 1e-10 * max(1.0, abs(y[pos]))


def test_values_are_drawn_and_output_matches_conv(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (4, 4))
    kernel = rng.integers(-1, 2, (3, 3))
    info = animate_convolution(x=x, kernel=kernel, strides=1, padding="valid", path=tmp_path / "v.gif")
    expected = conv(x[None, ..., None].astype(float), kernel[..., None, None].astype(float))[0, ..., 0]
    np.testing.assert_allclose(info["output"], expected)
    assert info["input_size"] == (4, 4) and info["output_size"] == (2, 2)
    frames = frames_rgb(tmp_path / "v.gif")
    cell, (ox, oy) = info["cell"], info["output_origin"]

    def has_text(frame, r, c):
        y0, x0 = oy + r * cell + 3, ox + c * cell + 3
        block = frame[y0 : y0 + cell - 6, x0 : x0 + cell - 6].reshape(-1, 3)
        return len({tuple(p) for p in block}) > 1  # a number's pixels on the cell's fill

    # frame 1: output (0, 0) done and (0, 1) current carry numbers; (1, 0) and (1, 1) do not yet
    assert has_text(frames[1], 0, 0) and has_text(frames[1], 0, 1)
    assert not has_text(frames[1], 1, 0) and not has_text(frames[1], 1, 1)
    assert all(has_text(frames[3], r, c) for r in range(2) for c in range(2))
    # without values the cells are plain
    plain = animate_convolution(4, 3, path=tmp_path / "p.gif")
    assert plain["output"] is None
    assert not has_text(frames_rgb(tmp_path / "p.gif")[3], 0, 0)


def test_transposed_values_match_conv_transpose(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2))
    kernel = rng.standard_normal((3, 3))
    info = animate_convolution(
        x=x, kernel=kernel, strides=2, padding="same", transposed=True, path=tmp_path / "t.gif"
    )
    expected = conv_transpose(x[None, ..., None], kernel[..., None, None], strides=2, padding="same")
    expected = expected[0, ..., 0]
    np.testing.assert_allclose(info["output"], expected)
    assert info["frames"] == expected.size == 6 * 4


def test_one_dimensional_values(tmp_path):
    info = animate_convolution(
        x=np.arange(9), kernel=[1, 0, -1], strides=2, padding="same", path=tmp_path / "o.gif"
    )
    kernel = np.array([1.0, 0, -1])[:, None, None]
    expected = conv(np.arange(9.0)[None, :, None], kernel, strides=2, padding="same")
    np.testing.assert_allclose(info["output"], expected[0, :, 0])
    assert info["frames"] == 5 and info["grid_size"] == (1, 11)


# --- files, limits and errors ------------------------------------------------------------


def test_write_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "sub" / "a.gif"  # the missing folder is created
    animate_convolution(3, 2, path=path)
    first = path.read_bytes()
    with open(path, "rb") as reader:  # a reader of the old file while the new one is written
        animate_convolution(4, 2, path=path)
        assert reader.read() == first  # renamed over, not rewritten in place
    assert path.read_bytes() != first
    assert len(frames_rgb(path)) == 3 * 3  # the new GIF: a 4x4 input, a 2x2 kernel
    assert sorted(os.listdir(path.parent)) == ["a.gif"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as an ordinary open() would create it


class DiskFull(OSError):
    pass


def failing_save(seen):
    """A stand-in for Pillow's Image.save: half a GIF's header, a look at the folder, then an error."""

    def save(image, fp, *args, **kwargs):
        fp.write(b"GIF89a\x00\x01")  # a partial file on disk (flushed: atomic_open's file is buffered)
        fp.flush()
        seen.append(sorted(os.listdir(os.path.dirname(fp.name))))
        raise DiskFull(28, "No space left on device")

    return save


@pytest.mark.parametrize("error", [DiskFull, KeyboardInterrupt])
def test_failure_while_writing_keeps_the_old_file_and_leaves_no_part(tmp_path, monkeypatch, error):
    path = tmp_path / "a.gif"
    animate_convolution(3, 2, path=path)
    first = path.read_bytes()
    seen = []
    save = failing_save(seen)
    if error is KeyboardInterrupt:
        def save(image, fp, *args, _save=save, **kwargs):  # Ctrl-C in the middle of the write
            try:
                _save(image, fp)
            except DiskFull:
                raise KeyboardInterrupt from None
    monkeypatch.setattr(Image.Image, "save", save)
    with pytest.raises(error):
        animate_convolution(4, 2, path=path)
    # during the write: the old file, and the new one as a hidden part beside it
    assert len(seen) == 1 and "a.gif" in seen[0]
    (part,) = [name for name in seen[0] if name != "a.gif"]
    assert part.startswith(".a.gif.") and part.endswith(".part")
    assert path.read_bytes() == first  # untouched
    assert os.listdir(tmp_path) == ["a.gif"]  # the part is gone


def test_failure_on_a_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(Image.Image, "save", failing_save([]))
    with pytest.raises(DiskFull):
        animate_convolution(3, 2, path=tmp_path / "a.gif")
    assert os.listdir(tmp_path) == []


def test_caller_arrays_untouched(tmp_path):
    x = np.arange(16.0).reshape(4, 4)
    kernel = np.ones((2, 2))
    xc, kc = x.copy(), kernel.copy()
    animate_convolution(x=x, kernel=kernel, transposed=True, strides=2, path=tmp_path / "a.gif")
    np.testing.assert_array_equal(x, xc)
    np.testing.assert_array_equal(kernel, kc)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(input_size=30, kernel_size=3), ValueError,
         r"animate_convolution: .*784 frames .*max_frames=400"),
        (dict(input_size=5, kernel_size=3, transposed=True, padding="full"), ValueError,
         r"animate_convolution: the `padding` argument must be one of \{'valid', 'same'\}\. "
         r"Received: padding='full'"),
        (dict(input_size=2, kernel_size=3), ValueError, r"animate_convolution: the output would be empty"),
        (dict(input_size=5, kernel_size=3, cell=4), ValueError, r"`cell` argument.*Received: cell=4"),
        (dict(input_size=5, kernel_size=3, duration=0), ValueError, r"`duration`.*Received: duration=0"),
        (dict(input_size=(2, 3, 4), kernel_size=3), ValueError,
         r"`input_size` argument must be an int, \(H, W\) or \(L,\)"),
        (dict(input_size=5, kernel_size=(3, 3, 3)), ValueError,
         r"`kernel_size`.*Received: kernel_size=\(3, 3, 3\)"),
        (dict(kernel_size=3), TypeError, r"give input_size .*Received: input_size=None"),
        (dict(input_size=5), TypeError, r"give kernel_size .*Received: kernel_size=None"),
        (dict(x=np.zeros((2, 4, 4))), ValueError,
         r"expected x of shape \(H, W\).*Received: x.shape=\(2, 4, 4\)"),
        (dict(x=np.zeros((4, 4)), input_size=5, kernel_size=3), ValueError,
         r"input_size must match x's shape"),
        (dict(input_size=5, kernel=np.ones(3)), ValueError,
         r"expected a kernel with 2 axes.*Received: kernel.shape=\(3,\)"),
        (dict(input_size=5, kernel=np.ones((3, 3)), kernel_size=2), ValueError,
         r"kernel_size must match kernel's shape"),
        (dict(input_size=5, kernel_size=3, output_padding=1), ValueError, r"only for transposed=True"),
    ],
)
def test_errors_before_anything_is_written(tmp_path, kwargs, exc, match):
    path = tmp_path / "e.gif"
    with pytest.raises(exc, match=match):
        animate_convolution(path=path, **kwargs)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_max_frames_can_be_raised(tmp_path):
    info = animate_convolution(6, 1, path=tmp_path / "m.gif", max_frames=36, cell=12, duration=20)
    assert info["frames"] == 36
    with pytest.raises(ValueError, match=r"36 frames"):
        animate_convolution(6, 1, path=tmp_path / "m.gif", max_frames=35)


def test_missing_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'pip install "convolve\[viz\]"'):
        animate_convolution(3, 2, path=tmp_path / "a.gif")


def test_importing_convolve_and_these_modules_does_not_import_pillow_or_matplotlib():
    code = (
        "import sys, convolve, convolve.viz.animate, convolve.viz.explain; "
        "bad = [m for m in ('PIL', 'matplotlib') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
