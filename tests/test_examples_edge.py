"""examples/edge_detectors.py: run it in a subprocess, check its numbers and its pictures."""
import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "edge_detectors.py")
SCALE = 6


def load_example():
    spec = importlib.util.spec_from_file_location("edge_detectors_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("edges")
    done = subprocess.run(
        [sys.executable, SCRIPT, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return out, done.stdout


def parse(stdout):
    """{section index: {filter: (max, row, col, count)}} from the printed tables."""
    sections, current = [], None
    for line in stdout.splitlines():
        if line.strip().startswith("filter"):
            current = {}
            sections.append(current)
            continue
        m = re.match(r"\s+(\w+)\s+(-?\d+\.\d+)\s+\(\s*(\d+),\s*(\d+)\)\s+(\d+)$", line)
        if m and current is not None:
            current[m[1]] = (float(m[2]), int(m[3]), int(m[4]), int(m[5]))
    return sections


def test_prints_numbers_a_reader_can_check(run):
    _, stdout = run
    seven, garment, sobel = parse(stdout)
    example = load_example()
    img = example.draw_seven()
    ink_rows = np.flatnonzero(img.any(axis=1))
    ink_cols = np.flatnonzero(img.any(axis=0))
    assert set(seven) == {"top_edge", "left_edge", "bottom_edge", "right_edge"}
    for name, (value, row, col, count) in seven.items():
        assert value == 3.0 and count >= 1, name  # three ink pixels against three background ones
        assert img[row, col] == 1, name  # on the shape
    # each maximum sits on the matching edge: background on that side of it
    _, r, c, _ = seven["top_edge"]
    assert img[r - 1, c] == 0 and r == ink_rows[0]  # the top stroke of the 7
    _, r, c, _ = seven["bottom_edge"]
    assert img[r + 1, c] == 0 and r == 7  # the bottom of the bar (first in row-major order)
    _, r, c, _ = seven["left_edge"]
    assert img[r, c - 1] == 0 and c == ink_cols[0]  # the left end of the bar
    _, r, c, _ = seven["right_edge"]
    assert img[r, c + 1] == 0 and c == ink_cols[-1]  # the right end of the bar
    assert set(garment) == set(seven)
    assert set(sobel) == {"sobel_x", "sobel_y", "magnitude"}
    assert sobel["magnitude"][0] >= max(sobel["sobel_x"][0], sobel["sobel_y"][0])


def test_garment_numbers_match_the_library(run):
    _, stdout = run
    _, garment, sobel = parse(stdout)
    from convolve import filters
    from convolve.ops.conv import conv

    index, image = load_example().first_tshirt()
    assert f"test image {index} (T-shirt/top" in stdout
    for name, (value, row, col, _) in {**garment, **{k: sobel[k] for k in ("sobel_x", "sobel_y")}}.items():
        m = conv(image[None, :, :, None], filters.get(name)[:, :, None, None], padding="same")[0, :, :, 0]
        assert value == pytest.approx(round(float(m.max()), 2), abs=0.006)
        assert (row, col) == np.unravel_index(np.argmax(m), m.shape)


def test_pictures(run):
    out, _ = run
    expected = {
        "seven.png": (28 * SCALE, 28 * SCALE),
        "garment.png": (28 * SCALE, 28 * SCALE),
        "seven_edges.png": (28 * SCALE, 4 * 28 * SCALE + 3 * SCALE),
        "garment_edges.png": (28 * SCALE, 4 * 28 * SCALE + 3 * SCALE),
        "garment_sobel.png": (28 * SCALE, 2 * 28 * SCALE + SCALE),
        "garment_sobel_magnitude.png": (28 * SCALE, 28 * SCALE),
        "seven_panel.png": (28 * SCALE, 5 * 28 * SCALE + 4 * SCALE),
        "garment_panel.png": (28 * SCALE, 5 * 28 * SCALE + 4 * SCALE),
    }
    assert sorted(os.listdir(out)) == sorted(expected)
    for name, (h, w) in expected.items():
        with Image.open(out / name) as img:
            assert img.format == "PNG" and (img.height, img.width) == (h, w), name


def reddest(tile):
    """Pixel coordinates (in map pixels) of the most strongly red pixels of one RGB map tile."""
    redness = tile[..., 0].astype(int) - tile[..., 2].astype(int)
    return np.argwhere(redness == redness.max()) // SCALE


def test_seven_edge_maps_are_red_on_their_edges(run):
    out, _ = run
    img = load_example().draw_seven()
    with Image.open(out / "seven_edges.png") as picture:
        px = np.asarray(picture.convert("RGB"))
    tile = 28 * SCALE
    offsets = {"top_edge": (-1, 0), "left_edge": (0, -1), "bottom_edge": (1, 0), "right_edge": (0, 1)}
    for k, (name, (dr, dc)) in enumerate(offsets.items()):
        left = k * (tile + SCALE)
        spots = reddest(px[:, left : left + tile])
        assert len(spots) > 0
        for r, c in spots:
            assert img[r, c] == 1 and img[r + dr, c + dc] == 0, (name, r, c)
    # the top_edge tile's reddest row is the 7's top stroke, the bottom_edge tile's includes the bar's bottom
    assert set(reddest(px[:, :tile])[:, 0]) == {5}
    assert 7 in set(reddest(px[:, 2 * (tile + SCALE) : 2 * (tile + SCALE) + tile])[:, 0])


def test_seven_picture_is_the_drawing(run):
    out, _ = run
    img = load_example().draw_seven()
    with Image.open(out / "seven.png") as picture:
        px = np.asarray(picture)
    np.testing.assert_array_equal(px[::SCALE, ::SCALE], (img * 255).astype(np.uint8))
