"""The seeds' four edge detectors ("CNNs explained"), and Sobel, on a drawn 7 and on a garment.

    python examples/edge_detectors.py [--out DIR] [--docs]

The four 3x3 filters (convolve.filters.top_edge, left_edge, bottom_edge, right_edge) are applied
with padding='same', so each map is 28x28 like its input and a map pixel (row, col) sits on the
input pixel (row, col). Layers compute cross-correlation, so each filter is positive on its edge
of a bright shape on a dark background: top_edge where dark is above bright, and so on.

Prints, for every filter, the largest value of its map, where it first occurs (row, col) and on
how many pixels it occurs; writes PNGs to --out (default ./edge_output):

    seven.png, seven_edges.png          the drawn 7 and its four edge maps (blue < 0 < red)
    garment.png, garment_edges.png      a T-shirt from the bundled Fashion-MNIST subset, same maps
    garment_sobel.png                   sobel_x, sobel_y (blue < 0 < red)
    garment_sobel_magnitude.png         sqrt(sobel_x**2 + sobel_y**2), black to white

With --docs it also copies the two panels (input | four maps) to docs/images/edge_seven.png and
docs/images/edge_garment.png for the README.
"""
import argparse
import os
import shutil

import numpy as np

from convolve import images
from convolve.datasets import fashion_mnist

EDGE_FILTERS = ("top_edge", "left_edge", "bottom_edge", "right_edge")
SCALE = 6  # 28x28 maps become 168x168 pictures


def draw_seven():
    """A 28x28 seven, 1 = ink on 0 = background: a bar (rows 5-7, columns 6-21) and a
    3-pixel-wide diagonal stroke from its right end down to row 23."""
    seven = np.zeros((28, 28), np.float32)
    seven[5:8, 6:22] = 1.0
    for row in range(8, 24):
        col = 20 - (row - 8) * 3 // 5  # the stroke drifts left by 3 columns every 5 rows
        seven[row, col - 1 : col + 2] = 1.0
    return seven


def first_tshirt():
    """The first T-shirt/top of the bundled test subset, as (index, 28x28 float32 in [0, 1])."""
    _, (x_test, y_test) = fashion_mnist.load_subset()  # x_test: (1000, 28, 28) uint8
    index = int(np.flatnonzero(y_test == 0)[0])
    return index, x_test[index].astype(np.float32) / 255.0


def report(title, maps, names):
    """Print each map's maximum, its first (row, col) and how many pixels reach it."""
    print(title)
    print(f"  {'filter':<12} {'max':>6}  first at (row, col)  pixels at max")
    for k, name in enumerate(names):
        m = maps[0, :, :, k]
        row, col = np.unravel_index(np.argmax(m), m.shape)
        print(f"  {name:<12} {m.max():6.2f}  ({row:2d}, {col:2d})             {int(np.sum(m == m.max()))}")


def panel(path, image, maps):
    """One picture: the input (black to white) | its maps side by side (blue < 0 < red)."""
    grey = images.tile_maps(image[:, :, None], "minmax", scale=SCALE)  # (H*s, W*s)
    coloured = images.tile_maps(maps, "symmetric", columns=maps.shape[-1], scale=SCALE, padding=SCALE)
    gap = np.full((grey.shape[0], SCALE, 3), 128, np.uint8)  # the same grey as between the maps
    picture = np.concatenate([np.repeat(grey[:, :, None], 3, axis=2), gap, coloured], axis=1)
    images.save_image(path, picture, normalize=None)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="edge_output", help="folder for the PNGs (default ./edge_output)")
    parser.add_argument(
        "--docs", action="store_true", help="also copy two panels to docs/images/ for the README"
    )
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)  # noqa: E731

    seven = draw_seven()
    seven_maps = images.filter_image(seven, list(EDGE_FILTERS))  # (1, 28, 28, 4)
    report("drawn 7 (28x28, ink = 1, background = 0), padding='same':", seven_maps, EDGE_FILTERS)
    images.save_image(out("seven.png"), seven, normalize=None, scale=SCALE)
    images.save_maps(out("seven_edges.png"), seven_maps, "symmetric", columns=4, scale=SCALE, padding=SCALE)

    index, garment = first_tshirt()
    garment_maps = images.filter_image(garment, list(EDGE_FILTERS))
    report(
        f"\nFashion-MNIST subset, test image {index} (T-shirt/top, values / 255):", garment_maps, EDGE_FILTERS
    )
    sobel = images.filter_image(garment, ["sobel_x", "sobel_y"])  # (1, 28, 28, 2)
    magnitude = np.sqrt(np.sum(sobel**2, axis=-1, keepdims=True))
    report("", np.concatenate([sobel, magnitude], axis=-1), ("sobel_x", "sobel_y", "magnitude"))
    images.save_image(out("garment.png"), garment, normalize=None, scale=SCALE)
    images.save_maps(
        out("garment_edges.png"), garment_maps, "symmetric", columns=4, scale=SCALE, padding=SCALE
    )
    images.save_maps(out("garment_sobel.png"), sobel, "symmetric", columns=2, scale=SCALE, padding=SCALE)
    images.save_image(out("garment_sobel_magnitude.png"), magnitude, "minmax", scale=SCALE)

    panels = [
        panel(out("seven_panel.png"), seven, seven_maps),
        panel(out("garment_panel.png"), garment, garment_maps),
    ]
    print(f"\nwrote {len(os.listdir(args.out))} pictures to {args.out}/")
    if args.docs:
        docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "images")
        os.makedirs(docs, exist_ok=True)
        for source, name in zip(panels, ("edge_seven.png", "edge_garment.png")):
            shutil.copyfile(source, os.path.join(docs, name))
            print(f"copied {source} to docs/images/{name}")


if __name__ == "__main__":
    main()
