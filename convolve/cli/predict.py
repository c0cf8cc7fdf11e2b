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

**On a Dask cluster** (``--scheduler local`` or ``--scheduler tcp://host:8786``; needs
``convolve[dask]``): the same files are listed here and read, prepared and predicted on the
workers by ``convolve.dask.predict_files`` (the same preparation, ``convolve.data.model_inputs``),
1,024 a task; the rows come back in the same order and are written as above, or with
``-o FILE.parquet`` as a Parquet table of the same columns (probabilities as float64). The
softmax is decided from each task's first batch. ``features --scheduler`` reads any number of
images and writes ``-o FILE.npz``: the chosen layers' outputs for every image, one array per
layer (N, ...) in the layer's own data format, plus ``paths`` (the files, in row order), written
block by block as the workers finish them (``convolve.dask.to_npz``); a picture of many images'
maps would not be readable, and one image needs no cluster, so the PNG stays the output without
``--scheduler``. Dask's progress bar goes to standard error.
"""
from __future__ import annotations

import contextlib
import io
import sys

from ._common import (
    CLIError,
    add_command,
    add_max_pixels_option,
    add_scheduler_option,
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
            "background. A quoted glob pattern ('photos/**/*.png') reads the image files it matches, sorted. "
            "With --scheduler the images are read and predicted on a Dask cluster, and -o may also name a "
            ".parquet file."
        ),
        examples=[
            "convolve predict small.safetensors boot.png",
            "convolve predict small.safetensors shirt.jpg bag.jpg --top 3 --invert",
            "convolve predict photos.safetensors ./new_photos --top 2 -o predictions.csv",
            "convolve predict photos.safetensors 'new/**/*.jpg' --scheduler local -o predictions.parquet",
            "convolve predict photos.safetensors /data/photos --scheduler tcp://10.0.0.5:8786 -o out.csv",
        ],
    )
    p.add_argument("model", metavar="MODEL", help="a saved model file")
    p.add_argument(
        "images", nargs="+", metavar="IMAGE",
        help="image files (or .npy arrays), folders of images, and quoted glob patterns ('photos/**/*.png')",
    )
    p.add_argument("--top", type=positive_int, default=1, metavar="K",
                   help="how many classes to write per image")
    p.add_argument("-o", "--output", metavar="FILE.csv",
                   help="write the CSV to this file (default: standard output); with --scheduler also "
                        "FILE.parquet")
    p.add_argument("--invert", action="store_true",
                   help="use white - pixel (dark objects on light backgrounds)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="images read and predicted at a time")
    p.add_argument("--dataset",
                   help="whose class names to write when the model file has none (default: the dataset the "
                        "model was trained on)")
    add_max_pixels_option(p)
    add_scheduler_option(p, "read and predict the images")

    f = add_command(
        sub, "features", run_features, parents=parents,
        help="picture of the feature maps a saved model computes for an image",
        description=(
            "Runs the image through the model and saves a PNG with the outputs (feature maps) of the chosen "
            "layers, by default every convolution and pooling layer. With --scheduler, runs any number of "
            "images (files, folders, quoted glob patterns) on a Dask cluster and saves an .npz: one array "
            "of maps per layer (N, ...), and 'paths', the files in row order."
        ),
        examples=[
            "convolve features small.safetensors boot.png -o maps.png",
            "convolve features small.safetensors boot.png --layers conv2d conv2d_1 -o maps.png",
            "convolve features small.safetensors ./photos --scheduler local -o maps.npz",
        ],
    )
    f.add_argument("model", metavar="MODEL", help="a saved model file")
    f.add_argument(
        "images", nargs="+", metavar="IMAGE",
        help="an image file (or a .npy array); with --scheduler, any number of them, folders and quoted "
             "glob patterns",
    )
    f.add_argument("--layers", nargs="+", metavar="NAME",
                   help="layer names (default: convolution and pooling layers)")
    f.add_argument(
        "--invert", action="store_true", help="use white - pixel (dark objects on light backgrounds)"
    )
    f.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="the picture to write; with --scheduler, the .npz of maps")
    add_max_pixels_option(f)
    add_scheduler_option(f, "compute the maps")


def csv_header(k: int) -> list:
    """``path,class_1,prob_1,...,class_K,prob_K``."""
    return ["path"] + [name for i in range(1, k + 1) for name in (f"class_{i}", f"prob_{i}")]


def csv_rows(paths, probabilities, names, k: int):
    """One row per image: its path, then its ``k`` most probable classes with their probabilities."""
    from ..data.model_inputs import top_classes

    for path, probs in zip(paths, probabilities, strict=True):
        order = top_classes(probs, k)
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
    from ..data.model_inputs import class_count

    return class_count(model)


def _probabilities(scores, softmax):
    """Scores as float64 probabilities; ``softmax``: None (decide from these scores), True or False."""
    from ..data.model_inputs import probabilities

    return probabilities(scores, softmax)


def run_predict(args) -> int:
    import csv

    import numpy as np

    from ._folders import check_readable, input_spec, prediction_paths, read_for_model

    if args.output is not None:
        if not args.scheduler and args.output.lower().endswith(".parquet"):
            raise CLIError(
                "-o FILE.parquet needs --scheduler (Dask writes the table; 'local' for this machine); "
                f"without it, predict writes CSV. Received: -o {args.output}"
            )
        output_file(args.output, (".csv", ".parquet") if args.scheduler else ".csv")
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
    if args.scheduler:
        return _predict_on_cluster(args, model, paths, names)
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


def _predict_on_cluster(args, model, paths, names) -> int:
    """``convolve predict --scheduler``: the rows from ``convolve.dask.predict_files``, written
    once all are back (CSV as without --scheduler, or Parquet)."""
    import csv

    from ..dask import predict_files
    from ..dask.cluster import client_for, show_progress

    with client_for(args.scheduler) as client:
        table = predict_files(
            model, paths, top=args.top, batch_size=args.batch_size, client=client, class_names=names,
            invert=args.invert, max_pixels=args.max_pixels,
        )
        future = client.compute(table)
        show_progress(future)
        frame = future.result()
    if args.output is not None and args.output.lower().endswith(".parquet"):
        from .._files import atomic_open

        with atomic_open(args.output) as raw:
            frame.to_parquet(raw, index=False)
    else:
        columns = csv_header(args.top)
        with _text_output(args.output) as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            for row in frame[columns].itertuples(index=False):
                writer.writerow([f"{v:.6f}" if k % 2 == 0 and k else v for k, v in enumerate(row)])
    if args.output is not None:
        print(f"Wrote the top {args.top} class(es) of {len(paths):,} image(s) to {args.output}.")
    return 0


def _checked_layers(model, layers):
    known = [layer.name for layer in model.layers]
    unknown = [name for name in layers or [] if name not in known]
    if unknown:
        raise CLIError(
            f"unknown layer name(s). Expected some of: {', '.join(known)}. "
            f"Received: --layers {' '.join(unknown)}"
        )


def run_features(args) -> int:
    if args.scheduler:
        return _features_on_cluster(args)
    output_file(args.output, ".png")
    if len(args.images) != 1:
        raise CLIError(
            "features draws the maps of one image; for several, use --scheduler (local, or a scheduler's "
            f"address) and -o FILE.npz. Received: {len(args.images)} images"
        )
    model = load_model_file(args.model)
    _checked_layers(model, args.layers)
    from ._common import existing_file
    from ._folders import input_spec, read_for_model

    spec = input_spec(model)
    (image,) = args.images
    batch = read_for_model(existing_file(image, "image"), spec, args.invert, args.max_pixels)
    from ..viz.plots import plot_feature_maps

    figure = plot_feature_maps(model, batch, layers=args.layers, path=args.output)
    _close(figure)
    print(f"Saved the feature maps of {image} to {args.output}.")
    return 0


def _features_on_cluster(args) -> int:
    """``convolve features --scheduler``: every image's maps of the chosen layers into an .npz."""
    import numpy as np

    from ._folders import check_readable, input_spec, prediction_paths

    if not args.output.lower().endswith(".npz"):
        raise CLIError(
            "with --scheduler, features writes the maps of every image as arrays: -o must name a .npz file. "
            f"Received: -o {args.output}"
        )
    output_file(args.output, ".npz")
    model = load_model_file(args.model)
    _checked_layers(model, args.layers)
    spec = input_spec(model)
    paths = prediction_paths(args.images)
    check_readable(paths, spec)
    from ..dask import features, read_images, to_npz
    from ..dask.cluster import client_for

    with client_for(args.scheduler) as client:
        paths, x = read_images(model, paths, invert=args.invert, max_pixels=args.max_pixels)
        maps = features(model, x, layers=args.layers, client=client)
        if "paths" in maps:
            raise CLIError(
                "the .npz keeps the file names under 'paths', and a layer has that name; leave it out of "
                "--layers. Received: a layer named 'paths'"
            )
        to_npz(args.output, maps, extra={"paths": np.array(paths)}, client=client, progress=True)
    shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in maps.items())
    print(f"Saved the feature maps of {len(paths):,} image(s) to {args.output}: {shapes}.")
    return 0


def _close(figure):
    """Free a matplotlib figure (the CLI makes many in one process in tests)."""
    try:
        import matplotlib.pyplot as plt

        plt.close(figure)
    except ImportError:  # pragma: no cover - plot functions need matplotlib anyway
        pass
