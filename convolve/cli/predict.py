"""``convolve predict`` (the classes a saved model sees in images, as CSV) and ``convolve features``
(a picture of the feature maps it computes for one image).

**The CSV** (one schema, to standard output or to ``-o FILE``):

    path,class_1,prob_1,class_2,prob_2
    photos/cat/001.png,cat,0.912345,dog,0.087655

a header row, then one row per image in the order read: ``path`` as given on the command line
(a folder's files joined to the folder as written), then the K most probable classes, most
probable first (ties: the lower class index first), each with its name and its probability
written with 6 decimals; K is ``--top`` (default 1). Rows end in ``\\n``; fields are quoted by
Python's ``csv`` module where needed (a comma or quote in a path or a class name). Names come
from the model file (``class_names``, saved by ``convolve train``), else from the dataset the
model's name says it was trained on (or ``--dataset``), else ``class 0``, ``class 1``, ...

Images are read, prepared (``_folders.read_for_model``) and predicted ``--batch-size`` at a
time, and each batch's rows are written before the next is read, so a large folder is never
held in memory. A model whose output is not probabilities (a first batch with a negative score,
or rows not summing to 1) has its scores turned into probabilities with a softmax. With ``-o``
the file is written atomically: an error midway leaves no file (and an older one as it was).
"""
from __future__ import annotations

import contextlib
import io
import sys

from ._common import (
    CLIError,
    add_command,
    add_max_pixels_option,
    dataset_of,
    load_model_file,
    model_class_names,
    output_file,
    positive_int,
)


def register(sub, parents):
    p = add_command(
        sub,
        "predict",
        run_predict,
        parents=parents,
        help="the classes a saved model sees in images or folders of images, as CSV",
        description=(
            "Reads each IMAGE (any format Pillow reads, or a .npy array) and every image under each folder "
            "(recursively, files ending in .bmp .gif .jpeg .jpg .png, hidden ones skipped, in sorted order), "
            "prepares it as the model expects (grey or colour and the size from its input shape; pixels "
            "0-255 "
            "for a model that starts with Rescaling, as convolve train makes for class folders, else 0-1), "
            "and writes CSV: a header 'path,class_1,prob_1,...,class_K,prob_K' and one row per image with "
            "its K most probable classes, to standard output or to -o FILE. Fashion-MNIST and MNIST show "
            "light objects on a black background: use --invert for a dark object photographed on a light "
            "background."
        ),
        examples=[
            "convolve predict small.safetensors boot.png",
            "convolve predict small.safetensors shirt.jpg bag.jpg --top 3 --invert",
            "convolve predict photos.safetensors ./new_photos --top 2 -o predictions.csv",
        ],
    )
    p.add_argument("model", metavar="MODEL", help="a saved model file")
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files (or .npy arrays) and folders of images"
    )
    p.add_argument("--top", type=positive_int, default=1, metavar="K",
                   help="how many classes to write per image")
    p.add_argument("-o", "--output", metavar="FILE.csv",
                   help="write the CSV to this file (default: standard output)")
    p.add_argument("--invert", action="store_true",
                   help="use white - pixel (dark objects on light backgrounds)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="images read and predicted at a time")
    p.add_argument("--dataset",
                   help="whose class names to write when the model file has none (default: the dataset the "
                        "model was trained on)")
    add_max_pixels_option(p)

    f = add_command(
        sub, "features", run_features, parents=parents,
        help="picture of the feature maps a saved model computes for an image",
        description=(
            "Runs the image through the model and saves a PNG with the outputs (feature maps) of the chosen "
            "layers, by default every convolution and pooling layer."
        ),
        examples=[
            "convolve features small.safetensors boot.png -o maps.png",
            "convolve features small.safetensors boot.png --layers conv2d conv2d_1 -o maps.png",
        ],
    )
    f.add_argument("model", metavar="MODEL", help="a saved model file")
    f.add_argument("image", metavar="IMAGE", help="an image file (or a .npy array)")
    f.add_argument("--layers", nargs="+", metavar="NAME",
                   help="layer names (default: convolution and pooling layers)")
    f.add_argument(
        "--invert", action="store_true", help="use white - pixel (dark objects on light backgrounds)"
    )
    f.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the picture to write")
    add_max_pixels_option(f)


def csv_header(k: int) -> list:
    """``path,class_1,prob_1,...,class_K,prob_K``."""
    return ["path"] + [name for i in range(1, k + 1) for name in (f"class_{i}", f"prob_{i}")]


def csv_rows(paths, probabilities, names, k: int):
    """One row per image: its path, then its ``k`` most probable classes with their probabilities."""
    import numpy as np

    for path, probs in zip(paths, probabilities, strict=True):
        order = np.argsort(-probs, kind="stable")[:k]
        yield [path] + [value for i in order for value in (names[i], f"{probs[i]:.6f}")]


@contextlib.contextmanager
def _text_output(path):
    """Standard output, or a text file written atomically (``_files.atomic_open``)."""
    if path is None:
        yield sys.stdout
        return
    from .._files import atomic_open

    with atomic_open(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # atomic_open closes the file itself


def _class_count(model) -> int:
    shape = model.output_shape
    if isinstance(shape, list) or shape is None or len(shape) != 2 or shape[-1] is None:
        raise CLIError(
            f"the model must output one score per class, (batch, classes). Received: output shape {shape}"
        )
    return int(shape[-1])


def _probabilities(scores, softmax):
    """Scores as float64 probabilities; ``softmax``: None (decide from these scores), True or False."""
    import numpy as np

    out = np.asarray(scores, dtype=np.float64)
    if softmax is None:
        softmax = not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))
    if softmax:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out, softmax


def run_predict(args) -> int:
    import csv

    import numpy as np

    from ._folders import check_readable, input_spec, prediction_paths, read_for_model

    if args.output is not None:
        output_file(args.output, ".csv")
    model = load_model_file(args.model)
    spec = input_spec(model)
    count = _class_count(model)
    if args.top > count:
        raise CLIError(
            f"--top asks for more classes than the model has ({count}). Received: --top {args.top}"
        )
    paths = prediction_paths(args.images)  # every file checked, every folder listed, before any work
    check_readable(paths, spec)
    names = model_class_names(model, args.dataset or dataset_of(model), count)
    softmax = None
    with _text_output(args.output) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(csv_header(args.top))
        for start in range(0, len(paths), args.batch_size):
            chunk = paths[start : start + args.batch_size]
            batch = np.concatenate(
                [read_for_model(path, spec, args.invert, args.max_pixels) for path in chunk], axis=0
            )
            probs, softmax = _probabilities(model.predict(batch, verbose=0), softmax)
            writer.writerows(csv_rows(chunk, probs, names, args.top))
            out.flush()
    if args.output is not None:
        print(f"Wrote the top {args.top} class(es) of {len(paths):,} image(s) to {args.output}.")
    return 0


def run_features(args) -> int:
    output_file(args.output, ".png")
    model = load_model_file(args.model)
    if args.layers:
        known = [layer.name for layer in model.layers]
        unknown = [name for name in args.layers if name not in known]
        if unknown:
            raise CLIError(
                f"unknown layer name(s). Expected some of: {', '.join(known)}. "
                f"Received: --layers {' '.join(unknown)}"
            )
    from ._common import existing_file
    from ._folders import input_spec, read_for_model

    spec = input_spec(model)
    batch = read_for_model(existing_file(args.image, "image"), spec, args.invert, args.max_pixels)
    from ..viz.plots import plot_feature_maps

    figure = plot_feature_maps(model, batch, layers=args.layers, path=args.output)
    _close(figure)
    print(f"Saved the feature maps of {args.image} to {args.output}.")
    return 0


def _close(figure):
    """Free a matplotlib figure (the CLI makes many in one process in tests)."""
    try:
        import matplotlib.pyplot as plt

        plt.close(figure)
    except ImportError:  # pragma: no cover - plot functions need matplotlib anyway
        pass
