"""``convolve train``, ``evaluate``, ``predict`` and ``features``: models from the shell.

A model that ``convolve train`` writes is named after its dataset and architecture
(``fashion_mnist_subset_small``, ``mnist_classic``), so ``evaluate`` and ``predict`` know,
without being told, which test set to use and what to call its classes.
"""
from __future__ import annotations

import argparse
import json
import os

from ._common import (
    DATASETS,
    CLIError,
    add_command,
    add_max_pixels_option,
    class_names,
    dataset_of,
    existing_file,
    load_dataset,
    load_model_file,
    load_picture,
    output_file,
    positive_int,
)

ARCHITECTURES = ("small", "classic")
_DATASET_HELP = (
    "bundled (the Fashion-MNIST subset shipped with convolve), fashion-mnist, mnist, or a folder/.npz of "
    "MNIST-style data"
)


def register(sub, parents):
    t = add_command(
        sub, "train", run_train, parents=parents,
        help="train a CNN on Fashion-MNIST, MNIST or your own MNIST-style data and save it",
        description=(
            "Trains a model with Adam on sparse categorical cross-entropy, printing a progress line per "
            "epoch with the test set's loss and accuracy, then saves it (one safetensors file). --model "
            "small is Conv2D(8, 3, relu), MaxPooling2D, Conv2D(16, 3, relu), MaxPooling2D, Flatten, "
            "Dense(10, softmax); classic is Keras' MNIST example CNN (Conv2D 32 and 64, MaxPooling2D, "
            "Dropout, Dense 128, Dense 10); "
            "FILE.json is an architecture as Sequential.get_config() writes it (optionally wrapped as "
            '{"class_name": "Sequential", "config": ...}).'
        ),
        examples=[
            "convolve train --dataset bundled --model small --epochs 3 -o small.safetensors",
            "convolve train --dataset fashion-mnist --model classic --epochs 12 --batch-size 128 "
            "-o classic.safetensors",
            "convolve train --dataset ./my_digits --model net.json --epochs 5 -o mine.safetensors",
        ],
    )
    t.add_argument("--dataset", default="bundled", help=_DATASET_HELP)
    t.add_argument("--model", default="small", help="small, classic, or an architecture FILE.json")
    t.add_argument("--epochs", type=positive_int, default=3, help="passes over the training images")
    t.add_argument("--batch-size", type=positive_int, default=64, help="images per training step")
    t.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    t.add_argument("--seed", type=int, default=0,
                   help="random seed (weights, shuffling): the same seed gives the same model")
    t.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="where to save the model (.safetensors)")
    t.add_argument("--limit", type=positive_int, help=argparse.SUPPRESS)  # first N train/test images (tests)

    e = add_command(
        sub, "evaluate", run_evaluate, parents=parents,
        help="a saved model's loss and accuracy on a test set",
        description=(
            "Evaluates a saved model on the test images of --dataset; by default the dataset the model was "
            "trained on (convolve train names models after their dataset)."
        ),
        examples=[
            "convolve evaluate small.safetensors",
            "convolve evaluate classic.safetensors --dataset fashion-mnist",
        ],
    )
    e.add_argument("model", metavar="MODEL", help="a saved model file")
    e.add_argument("--dataset", help=_DATASET_HELP + " (default: the one the model was trained on)")
    e.add_argument("--batch-size", type=positive_int, default=256, help="images per step")
    e.add_argument("--limit", type=positive_int, help=argparse.SUPPRESS)

    p = add_command(
        sub, "predict", run_predict, parents=parents,
        help="the classes a saved model sees in images",
        description=(
            "Reads each image (any format Pillow reads, or a .npy array), converts it to grey (or RGB for a "
            "3-channel model), resizes it to the model's input size and prints the top K classes with their "
            "probabilities. Fashion-MNIST and MNIST show light objects on a black background: use --invert "
            "for a dark object photographed on a light background."
        ),
        examples=[
            "convolve predict small.safetensors boot.png",
            "convolve predict small.safetensors shirt.jpg bag.jpg --top 3 --invert",
        ],
    )
    p.add_argument("model", metavar="MODEL", help="a saved model file")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (or .npy arrays)")
    p.add_argument("--top", type=positive_int, default=3, metavar="K",
                   help="how many classes to show per image")
    p.add_argument("--invert", action="store_true", help="use 1 - pixel (dark objects on light backgrounds)")
    p.add_argument("--dataset",
                   help="whose class names to show (default: the dataset the model was trained on)")
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
    f.add_argument("--invert", action="store_true", help="use 1 - pixel (dark objects on light backgrounds)")
    f.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the picture to write")
    add_max_pixels_option(f)


# ---- models -------------------------------------------------------------------------------------------
def build_model(architecture: str, input_shape, num_classes: int, name: str):
    """A Sequential model: 'small', 'classic', or an architecture in a JSON file."""
    from ..layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from ..models import Model, Sequential

    if architecture == "small":
        return Sequential([
            Input(input_shape), Conv2D(8, 3, activation="relu"), MaxPooling2D(),
            Conv2D(16, 3, activation="relu"), MaxPooling2D(), Flatten(),
            Dense(num_classes, activation="softmax"),
        ], name=name)
    if architecture == "classic":
        return Sequential([
            Input(input_shape), Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"),
            MaxPooling2D(2), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
            Dense(num_classes, activation="softmax"),
        ], name=name)
    check_architecture(architecture)
    try:
        with open(architecture, encoding="utf-8") as file:
            data = json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CLIError(f"the architecture file '{architecture}' is not valid JSON ({error})") from None
    classes = {"Sequential": Sequential, "Model": Model}
    if isinstance(data, dict) and "class_name" in data and "config" in data:
        cls = classes.get(data["class_name"])
        config = data["config"]
        if cls is None:
            raise CLIError(
                f"the architecture file's class_name must be one of {sorted(classes)}. "
                f"Received: {data['class_name']!r}"
            )
    else:
        cls, config = Sequential, data
    if not isinstance(config, dict) or "layers" not in config:
        raise CLIError(
            f"the architecture file '{architecture}' must hold a model config with a 'layers' list "
            "(what Sequential.get_config() returns). Received: "
            + (f"keys {sorted(config)}" if isinstance(config, dict) else type(config).__name__)
        )
    config = dict(config, name=name)
    if cls is Sequential and config.get("input_shape") is None:
        config["input_shape"] = [None, *input_shape]
    return cls.from_config(config)


def check_architecture(architecture: str) -> None:
    """'small', 'classic' or an existing .json file, before any work."""
    if architecture in ARCHITECTURES:
        return
    if not architecture.lower().endswith(".json"):
        raise CLIError(
            f"--model must be small, classic or an architecture .json file. Received: --model {architecture}"
        )
    existing_file(architecture, "architecture file")


def run_train(args) -> int:
    output_file(args.output, ".safetensors")
    check_architecture(args.model)
    from ..optimizers import Adam
    from ..utils import set_random_seed

    (x, y), (xt, yt), title = load_dataset(args.dataset, args.limit)
    # the known datasets have 10 classes; for your own data, as many as its largest label says
    num_classes = 10 if args.dataset in DATASETS else int(max(y.max(), yt.max())) + 1
    tag = DATASETS.get(args.dataset, "custom")
    arch = args.model if args.model in ARCHITECTURES else os.path.splitext(os.path.basename(args.model))[0]
    set_random_seed(args.seed)
    model = build_model(args.model, x.shape[1:], num_classes, name=f"{tag}_{arch}")
    model.compile(Adam(args.learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"Training {arch!r} on {title}: {len(x):,} training images {x.shape[1:]}, {len(xt):,} test images, "
          f"{args.epochs} epoch(s), batch size {args.batch_size}, seed {args.seed}")
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=(xt, yt), verbose="auto")
    loss, accuracy = model.evaluate(xt, yt, batch_size=256, verbose=0)
    model.save(args.output)
    print(f"Test accuracy {accuracy:.4f} (loss {loss:.4f}) on {len(xt):,} test images.")
    print(f"Saved the model to {args.output} ({os.path.getsize(args.output):,} bytes, "
          f"{model.count_params():,} parameters).")
    return 0


def run_evaluate(args) -> int:
    model = load_model_file(args.model)
    dataset = args.dataset or dataset_of(model)
    if dataset is None:
        raise CLIError(
            f"the model '{model.name}' does not say which dataset it was trained on; give --dataset "
            f"(bundled, fashion-mnist, mnist or a folder). Received: no --dataset"
        )
    _, (xt, yt), title = load_dataset(dataset, args.limit)
    if not model.compiled:
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    logs = model.evaluate(xt, yt, batch_size=args.batch_size, verbose=0, return_dict=True)
    print(f"{model.name} on {len(xt):,} test images of {title}:")
    for key, value in logs.items():
        print(f"  {key}: {value:.4f}")
    return 0


def _input_spec(model):
    """(height, width, channels) of a model with one image input."""
    shape = model.input_shape
    if isinstance(shape, list) or shape is None or len(shape) != 4:
        raise CLIError(
            "the model must take one batch of images (batch, height, width, channels). "
            f"Received: input shape {shape}"
        )
    return tuple(int(v) for v in shape[1:])


def _model_images(model, paths, invert, max_pixels="default"):
    import numpy as np

    height, width, channels = _input_spec(model)
    for path in paths:
        existing_file(path, "image")  # every file is checked before any work
    pictures = [load_picture(p, channels, (height, width), max_pixels=max_pixels) for p in paths]
    batch = np.concatenate(pictures, axis=0)
    return 1.0 - batch if invert else batch


def run_predict(args) -> int:
    import numpy as np

    model = load_model_file(args.model)
    batch = _model_images(model, args.images, args.invert, args.max_pixels)
    out = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    if out.ndim != 2:
        raise CLIError(
            f"the model must output one score per class, (batch, classes). Received: output shape {out.shape}"
        )
    if not (np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)):  # logits: softmax them
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    names = class_names(args.dataset or dataset_of(model), out.shape[1])
    k = min(args.top, out.shape[1])
    width = max(len(p) for p in args.images)
    for path, probs in zip(args.images, out, strict=True):
        order = np.argsort(-probs, kind="stable")[:k]
        print(f"{path.ljust(width)}  " + "  ".join(f"{names[i]} {probs[i]:.3f}" for i in order))
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
    batch = _model_images(model, [args.image], args.invert, args.max_pixels)
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
