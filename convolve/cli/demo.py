"""``convolve demo``: the seeds' story on the bundled data, in about a minute on two CPU cores.

1. Four hand-made edge filters (top, left, bottom, right) on one Fashion-MNIST garment.
2. A small CNN trained on the 3,000-image subset bundled with convolve, with a progress line
   per epoch and the test accuracy.
3. What it learned: its first-layer filters, the feature maps of the same garment, the
   training curves and the confusion matrix; then the model file.
"""
from __future__ import annotations

import argparse
import os
import time

from ._common import CLIError, add_command, positive_int

EDGE_FILTERS = ("top_edge", "left_edge", "bottom_edge", "right_edge")
GARMENT_CLASS = 9  # Ankle boot: straight edges on every side


def register(sub, parents):
    d = add_command(
        sub,
        "demo",
        run_demo,
        parents=parents,
        help="the tour: edge filters on a garment, a small CNN trained, pictures of what it learned",
        description=(
            "Applies the four edge filters to a garment from Fashion-MNIST and saves the maps; trains a "
            "small CNN (Conv2D 8 -> MaxPooling2D -> Conv2D 16 -> MaxPooling2D -> Dense 10) on the 3,000 + "
            "1,000 image subset bundled with convolve; saves its learned filters, the feature maps of the "
            "garment, the training curves, the confusion matrix and the model. About a minute on two CPU "
            'cores. Needs matplotlib, Pillow and safetensors: pip install "convolve[viz,io]".'
        ),
        examples=["convolve demo", "convolve demo --out /tmp/demo --epochs 5"],
    )
    d.add_argument(
        "--out", default="convolve-demo", metavar="DIR", help="folder for the pictures and the model"
    )
    d.add_argument("--epochs", type=positive_int, default=5, help="passes over the 3,000 training images")
    d.add_argument("--batch-size", type=positive_int, default=32, help="images per training step")
    d.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed gives the same pictures and model"
    )
    d.add_argument("--limit", type=positive_int, help=argparse.SUPPRESS)  # first N train/test images (tests)


def _check_optional_libraries():
    """Fail before any work when a library the pictures or the model file need is missing."""
    import importlib.util

    missing = [
        name
        for module, name in (("matplotlib", "matplotlib"), ("PIL", "Pillow"), ("safetensors", "safetensors"))
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise ImportError(
            f"convolve demo needs {', '.join(missing)} for its pictures and model file: "
            f'pip install "convolve[viz,io]". Received: {", ".join(missing)} not installed'
        )


def _kernel_text(kernel) -> str:
    return " ".join("[" + " ".join(f"{v:g}" for v in row) + "]" for row in kernel)


def run_demo(args) -> int:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError(f"--out must be a folder, but '{args.out}' is a file. Received: --out {args.out}")
    _check_optional_libraries()
    import numpy as np

    from .. import filters
    from .._files import atomic_open
    from ..datasets import fashion_mnist
    from ..images import filter_image, save_image, save_maps
    from ..utils import set_random_seed
    from ..viz.plots import plot_confusion_matrix, plot_feature_maps, plot_filters, plot_history
    from ._common import load_dataset
    from .models import build_model
    from .predict import _close

    start = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    path = lambda name: os.path.join(args.out, name)  # noqa: E731
    files = []
    names = fashion_mnist.CLASS_NAMES

    (x, y), (xt, yt), title = load_dataset("bundled", args.limit)
    index = int(np.flatnonzero(yt == GARMENT_CLASS)[0]) if np.any(yt == GARMENT_CLASS) else 0
    garment = xt[index : index + 1]  # (1, 28, 28, 1) in [0, 1]
    garment_name = names[int(yt[index])]

    # 1. hand-made filters ------------------------------------------------------------------------
    print(
        f"1. Hand-made edge filters on one garment: test image {index} ({garment_name}, "
        f"{garment.shape[1]}x{garment.shape[2]} grey)."
    )
    save_image(path("garment.png"), garment[0], normalize=None, scale=8)
    with atomic_open(path("garment.npy")) as file:
        np.save(file, garment[0, :, :, 0])
    files.append(
        (
            "garment.png",
            f"the {garment_name} the filters and the network look at (x8; garment.npy: its 28x28 values)",
        )
    )
    maps, strongest = [], {}
    for name in EDGE_FILTERS:
        kernel = filters.get(name)
        out = filter_image(garment, kernel, padding="same")
        maps.append(out)
        strongest[name] = tuple(int(v) for v in np.unravel_index(np.argmax(out[0, :, :, 0]), out.shape[1:3]))
        print(
            f"   {name:<12} {_kernel_text(kernel):<30} strongest response {out.max():.2f} at (row, col) "
            f"{strongest[name]}"
        )
    save_maps(
        path("edges.png"), np.concatenate(maps, axis=-1), normalize="symmetric", columns=len(maps), scale=8
    )
    files.append(("edges.png", "the four edge maps, left to right " + ", ".join(EDGE_FILTERS)
                  + " (red: the edge the filter looks for, blue: the opposite one)"))

    # 2. training ---------------------------------------------------------------------------------
    set_random_seed(args.seed)
    model = build_model("small", x.shape[1:], 10, name="fashion_mnist_subset_small")
    model.class_names = list(names)  # saved with the model: `convolve predict` names the classes
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"\n2. Training a small CNN on {title} ({len(x):,} training and {len(xt):,} test images, "
          f"{args.epochs} epochs, seed {args.seed}):")
    model.summary(print_fn=lambda line: print("   " + line))
    history = model.fit(
        x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=(xt, yt), verbose="auto"
    )
    loss, accuracy = model.evaluate(xt, yt, batch_size=256, verbose=0)
    probs = model.predict(garment, verbose=0)[0]
    print(f"   Test accuracy: {accuracy:.4f} on {len(xt):,} images (10 classes, chance 0.10). "
          f"The {garment_name} is predicted as {names[int(np.argmax(probs))]} ({probs.max():.2f}).")

    # 3. what it learned --------------------------------------------------------------------------
    print("\n3. What the network learned:")
    conv_names = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    for figure in (
        plot_filters(model.layers[0], path=path("filters.png")),
        plot_feature_maps(model, garment, layers=conv_names, path=path("feature_maps.png")),
        plot_history(history, path=path("history.png")),
        plot_confusion_matrix(model, xt, yt, class_names=list(names), path=path("confusion_matrix.png")),
    ):
        _close(figure)
    files += [
        (
            "filters.png",
            f"the {model.layers[0].filters} learned 3x3 filters of the first layer, {conv_names[0]}",
        ),
        ("feature_maps.png", f"what layers {', '.join(conv_names)} compute for the {garment_name}"),
        ("history.png", "loss and accuracy per epoch, training and test"),
        ("confusion_matrix.png", "which classes the network confuses, on the test images"),
    ]
    model.save(path("model.safetensors"))
    files.append(("model.safetensors", f"the trained model ({model.count_params():,} parameters)"))

    width = max(len(path(name)) for name, _ in files)
    for name, what in files:
        print(f"   {path(name).ljust(width)}  {what}")
    print(f"\nDone in {time.perf_counter() - start:.0f} s. Next:")
    row, col = strongest["top_edge"]
    print(
        f"   convolve explain --input {path('garment.npy')} --kernel top_edge --at {row} {col} --padding same"
    )
    print(f"   convolve predict {path('model.safetensors')} {path('garment.png')}")
    print(f"   convolve shape {path('model.safetensors')}")
    print(f"   convolve explore {path('model.safetensors')}")
    return 0
