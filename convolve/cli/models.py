"""``convolve train`` and ``evaluate``: models from the shell (``predict`` and ``features`` are in
``predict.py``).

A model that ``convolve train`` writes is named after its dataset and architecture
(``fashion_mnist_subset_small``, ``mnist_classic``; ``folder_small`` for class folders), so
``evaluate`` knows, without being told, which test set to use; the names of its classes are
saved with it (``model.class_names``, in the file's metadata), so ``predict`` can name them.

``--dataset DIR`` reads MNIST-style IDX files, or class folders (``_folders.py`` says how the
image size and colour are decided). Class-folder images arrive as pixels 0..255, so the
``small`` and ``classic`` models built for them start with ``Rescaling(1/255)``; the arrays of
the named datasets and of IDX folders are scaled to [0, 1] beforehand, as always.
"""
from __future__ import annotations

import argparse
import json
import os

from ._common import (
    DATASET_CLASSES,
    DATASET_HELP,
    DATASETS,
    CLIError,
    add_command,
    class_names,
    dataset_of,
    existing_file,
    load_dataset,
    load_model_file,
    non_negative_int,
    output_file,
    positive_int,
)
from ._folders import COLOUR_SAMPLE

ARCHITECTURES = ("small", "classic")
COLOR_MODES = ("grayscale", "rgb")
#: the part of a class-folder dataset kept for validation when --validation-split is not given
VALIDATION_SPLIT = 0.2


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to below 1. Received: {text!r}")
    return value


_fraction.__name__ = "fraction"


def register(sub, parents):
    t = add_command(
        sub, "train", run_train, parents=parents,
        help="train a CNN on Fashion-MNIST, MNIST, CIFAR or your own images and save it",
        description=(
            "Trains a model with Adam on sparse categorical cross-entropy, printing a progress line per "
            "epoch with the test (or validation) loss and accuracy, then saves it in one safetensors file, "
            "with the names of its classes. --model small is Conv2D(8, 3, relu), MaxPooling2D, "
            "Conv2D(16, 3, relu), MaxPooling2D, Flatten, Dense(classes, softmax), with one block fewer for "
            "images under 10 pixels and Conv2D(32) + MaxPooling2D blocks added for large ones until the maps "
            "are at most 8 pixels across; classic is Keras' MNIST example CNN (Conv2D 32 and 64, "
            "MaxPooling2D, Dropout, Dense 128, Dense classes), with Conv2D(64) + MaxPooling2D blocks added "
            "until the maps are at most 16 pixels across. Both start with Rescaling(1/255) for class folders "
            "(pixels 0-255). FILE.json is an architecture as Sequential.get_config() writes it (optionally "
            'wrapped as {"class_name": "Sequential", "config": ...}); it gets the pixels as they are. '
            "--dataset DIR reads MNIST-style IDX files, or class subfolders of images (DIR/<class>/.../"
            "<image>.png; .bmp .gif .jpeg .jpg .png), at the images' own size when they all share one (else "
            "give --image-size), grey when every file is stored grey or holds grey pixels (of the files "
            f"stored in colour, up to {COLOUR_SAMPLE} are decoded to tell), else rgb, with "
            "--validation-split of the files (shuffled with --seed) kept for validation."
        ),
        examples=[
            "convolve train --dataset bundled --model small --epochs 3 -o small.safetensors",
            "convolve train --dataset fashion-mnist --model classic --epochs 12 --batch-size 128 "
            "-o classic.safetensors",
            "convolve train --dataset cifar10 --model small --epochs 5 -o cifar.safetensors",
            "convolve train --dataset ./my_digits --model net.json --epochs 5 -o mine.safetensors",
            "convolve train --dataset ./photos --image-size 64 64 --validation-split 0.25 "
            "-o photos.safetensors",
        ],
    )
    t.add_argument("--dataset", default="bundled", help=DATASET_HELP)
    t.add_argument("--model", default="small", help="small, classic, or an architecture FILE.json")
    t.add_argument("--epochs", type=positive_int, default=3, help="passes over the training images")
    t.add_argument("--batch-size", type=positive_int, default=64, help="images per training step")
    t.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    t.add_argument("--seed", type=non_negative_int, default=0,
                   help="random seed (weights, shuffling, the validation split): the same seed gives the "
                        "same model")
    t.add_argument("--image-size", nargs=2, type=positive_int, metavar=("HEIGHT", "WIDTH"),
                   help="class folders: resize every image to this size (default: the images' own size, "
                        "when they all share one)")
    t.add_argument("--color-mode", choices=COLOR_MODES,
                   help="class folders: read the images grey or in colour (default: inferred from the files)")
    t.add_argument("--validation-split", type=_fraction, metavar="FRACTION",
                   help=f"class folders: the part of the images kept for validation, 0 for none "
                        f"(default {VALIDATION_SPLIT})")
    t.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="where to save the model (.safetensors)")
    t.add_argument("--limit", type=positive_int, help=argparse.SUPPRESS)  # first N train/test images (tests)

    e = add_command(
        sub, "evaluate", run_evaluate, parents=parents,
        help="a saved model's loss and accuracy on a test set",
        description=(
            "Evaluates a saved model on the test images of --dataset; by default the dataset the model was "
            "trained on (convolve train names models after their dataset). A folder of class subfolders is "
            "evaluated whole (every image), read at the model's input size and colour; a model that saved "
            "its class names takes its labels from the subfolders of those names."
        ),
        examples=[
            "convolve evaluate small.safetensors",
            "convolve evaluate classic.safetensors --dataset fashion-mnist",
            "convolve evaluate photos.safetensors --dataset ./photos_test",
        ],
    )
    e.add_argument("model", metavar="MODEL", help="a saved model file")
    e.add_argument("--dataset", help=DATASET_HELP + " (default: the one the model was trained on)")
    e.add_argument("--batch-size", type=positive_int, default=256, help="images per step")
    e.add_argument("--limit", type=positive_int, help=argparse.SUPPRESS)


# ---- models -------------------------------------------------------------------------------------------
def _block_sizes(height, width, convs, stop_above, least):
    """How many conv-and-pool blocks (``convs`` 3x3 'valid' convolutions, then a 2x2 pooling) a
    ``height`` x ``width`` input takes: at least ``least`` where they fit, then more while the
    maps are wider than ``stop_above`` and the next block fits."""
    blocks = 0
    while True:
        h, w = (height - 2 * convs) // 2, (width - 2 * convs) // 2
        if h < 1 or w < 1 or (blocks >= least and max(height, width) <= stop_above):
            return blocks
        blocks, height, width = blocks + 1, h, w


def _too_small(architecture, input_shape, smallest):
    height, width = input_shape[:2]
    raise CLIError(
        f"--model {architecture} needs images of at least {smallest}x{smallest} pixels (its 3x3 convolutions "
        "and 2x2 pooling would leave nothing); give a larger --image-size. "
        f"Received: images of {height}x{width}"
    )


def build_model(architecture: str, input_shape, num_classes: int, name: str, rescale: bool = False):
    """A Sequential model: 'small', 'classic' (both sized for ``input_shape``, see ``register``'s
    description), or an architecture in a JSON file. ``rescale`` puts Rescaling(1/255) first
    (for 0..255 pixels) in 'small' and 'classic'."""
    from ..layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D, Rescaling
    from ..models import Model, Sequential

    height, width = input_shape[:2]
    first = [Input(input_shape)] + ([Rescaling(1 / 255)] if rescale else [])
    if architecture == "small":
        blocks = _block_sizes(height, width, convs=1, stop_above=8, least=2)
        if blocks == 0:
            _too_small(architecture, input_shape, 4)
        layers = []
        for k in range(blocks):
            layers += [Conv2D((8, 16)[k] if k < 2 else 32, 3, activation="relu"), MaxPooling2D()]
        return Sequential(
            [*first, *layers, Flatten(), Dense(num_classes, activation="softmax")], name=name
        )
    if architecture == "classic":
        if _block_sizes(height, width, convs=2, stop_above=float("inf"), least=1) == 0:
            _too_small(architecture, input_shape, 6)
        h, w = (height - 4) // 2, (width - 4) // 2
        extra = [
            layer for _ in range(_block_sizes(h, w, convs=1, stop_above=16, least=0))
            for layer in (Conv2D(64, 3, activation="relu"), MaxPooling2D(2))
        ]
        return Sequential([
            *first, Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"),
            MaxPooling2D(2), *extra, Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
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
    if os.path.isdir(args.dataset):
        from ._folders import folder_kind

        if folder_kind(args.dataset) == "classes":
            return _train_on_class_folders(args)
    given = [
        option
        for option, value in (
            ("--image-size", args.image_size),
            ("--color-mode", args.color_mode),
            ("--validation-split", args.validation_split),
        )
        if value is not None
    ]
    if given:
        raise CLIError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for class folders (--dataset DIR with "
            "one subfolder of images per class); this dataset has its own test set. "
            f"Received: --dataset {args.dataset}"
        )
    from ..optimizers import Adam
    from ..utils import set_random_seed

    (x, y), (xt, yt), title = load_dataset(args.dataset, args.limit)
    # the named datasets have their known classes; your own data as many as its largest label says
    num_classes = DATASET_CLASSES.get(args.dataset) or int(max(y.max(), yt.max())) + 1
    tag = DATASETS.get(args.dataset, "custom")
    arch = _arch_name(args.model)
    set_random_seed(args.seed)
    model = build_model(args.model, x.shape[1:], num_classes, name=f"{tag}_{arch}")
    if args.dataset in DATASETS:
        model.class_names = class_names(args.dataset, num_classes)  # saved with the model, for predict
    model.compile(Adam(args.learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"Training {arch!r} on {title}: {len(x):,} training images {x.shape[1:]}, {len(xt):,} test images, "
          f"{args.epochs} epoch(s), batch size {args.batch_size}, seed {args.seed}")
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_data=(xt, yt), verbose="auto")
    loss, accuracy = model.evaluate(xt, yt, batch_size=256, verbose=0)
    model.save(args.output)
    print(f"Test accuracy {accuracy:.4f} (loss {loss:.4f}) on {len(xt):,} test images.")
    _saved(args.output, model)
    return 0


def _arch_name(model_option: str) -> str:
    if model_option in ARCHITECTURES:
        return model_option
    return os.path.splitext(os.path.basename(model_option))[0]


def _saved(path, model):
    print(
        f"Saved the model to {path} ({os.path.getsize(path):,} bytes, {model.count_params():,} parameters)."
    )


def _names_text(names, most=10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")


def _folder_choices(args, info):
    """(image size, colour mode, how each was decided, validation split, validation count), checked."""
    from ._folders import image_size_of

    path = args.dataset
    if len(info.classes) < 2:
        raise CLIError(
            "training a classifier needs at least 2 class subfolders. "
            f"Received: --dataset {path} with the one subfolder {info.classes[0]!r}"
        )
    size = tuple(args.image_size) if args.image_size else image_size_of(info, path)
    if args.color_mode:
        color, how = args.color_mode, "--color-mode"
    elif info.sampled == 0:
        color, how = info.color_mode, "every file is stored grey"
    else:
        color, how = info.color_mode, f"inferred from {info.sampled} decoded file(s)"
    sized = "--image-size" if args.image_size else "the images' own size"
    split = VALIDATION_SPLIT if args.validation_split is None else args.validation_split
    n = len(info.files)
    n_val = int(split * n)  # image_dataset_from_directory's split
    if split and (n_val == 0 or n_val == n):
        raise CLIError(
            f"--validation-split {split:g} of {n} images keeps {n_val} for validation and {n - n_val} for "
            f"training; each side needs at least one (or --validation-split 0 for no validation). "
            f"Received: --validation-split {split:g}"
        )
    return size, color, f"{size[0]}x{size[1]}: {sized}; {color}: {how}", split, n_val


def _train_on_class_folders(args) -> int:
    """``convolve train --dataset DIR`` for DIR/<class>/<image> (module docstring)."""
    from ..data import image_dataset_from_directory
    from ..optimizers import Adam
    from ..utils import set_random_seed
    from ._folders import inspect_class_folders

    path = args.dataset
    info = inspect_class_folders(path)
    size, color, decided, split, n_val = _folder_choices(args, info)
    n, classes = len(info.files), len(info.classes)
    print(f"Found {n:,} images in {classes} class folders of '{path}': {_names_text(info.classes)} "
          f"({decided}).")
    options = dict(
        color_mode=color, batch_size=args.batch_size, image_size=size, seed=args.seed, verbose=False
    )
    if split:
        train, validation = image_dataset_from_directory(
            path, validation_split=split, subset="both", **options
        )
    else:
        train, validation = image_dataset_from_directory(path, **options), None
    shape = (*size, {"grayscale": 1, "rgb": 3}[color])
    arch = _arch_name(args.model)
    set_random_seed(args.seed)
    model = build_model(args.model, shape, classes, name=f"folder_{arch}", rescale=True)
    model.class_names = list(train.class_names)  # saved with the model, for predict
    model.compile(Adam(args.learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    kept = (f"validating on {n_val:,} (--validation-split {split:g}, seed {args.seed})" if split
            else "no validation images (--validation-split 0)")
    print(f"Training {arch!r} on {n - n_val:,} images {shape}, {kept}, {args.epochs} epoch(s), "
          f"batch size {args.batch_size}, seed {args.seed}")
    history = model.fit(train, epochs=args.epochs, validation_data=validation, verbose="auto")
    model.save(args.output)
    if validation is not None:
        loss, accuracy = model.evaluate(validation, verbose=0)
        print(f"Validation accuracy {accuracy:.4f} (loss {loss:.4f}) on {n_val:,} validation images "
              f"({classes} classes, chance {1 / classes:.2f}).")
    else:
        print(f"Training accuracy {history.history['accuracy'][-1]:.4f} in the last epoch "
              "(no validation images).")
    _saved(args.output, model)
    return 0


def run_evaluate(args) -> int:
    model = load_model_file(args.model)
    dataset = args.dataset or dataset_of(model)
    if dataset is None:
        raise CLIError(
            f"the model '{model.name}' does not say which dataset it was trained on; give --dataset "
            f"(bundled, fashion-mnist, mnist, cifar10, cifar100, cifar100-coarse or a folder). "
            f"Received: no --dataset"
        )
    if not model.compiled:
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    from ._folders import expects_0_255, folder_kind

    if os.path.isdir(dataset) and folder_kind(dataset) == "classes":
        data, count, title = _class_folder_test_set(model, dataset, args.batch_size)
        logs = model.evaluate(data, verbose=0, return_dict=True)
    else:
        _, (xt, yt), title = load_dataset(dataset, args.limit)
        if expects_0_255(model):  # a model that starts with Rescaling takes pixels 0..255
            xt = xt * 255.0
        logs = model.evaluate(xt, yt, batch_size=args.batch_size, verbose=0, return_dict=True)
        count = len(xt)
    print(f"{model.name} on {count:,} test images of {title}:")
    for key, value in logs.items():
        print(f"  {key}: {value:.4f}")
    return 0


def _class_folder_test_set(model, path, batch_size):
    """(Dataset of every image in the class folders at ``path``, read for ``model``; count; title)."""
    from ..data import image_dataset_from_directory
    from ._folders import class_files, input_spec

    spec = input_spec(model)
    names = getattr(model, "class_names", None)
    classes, _ = class_files(path)
    outputs = model.output_shape[-1]
    if names is not None:
        missing = [name for name in names if name not in classes]
        if missing:
            raise CLIError(
                f"the model was trained on the classes {_names_text(list(names))}; the folder '{path}' must "
                f"have a subfolder for each. Received: no subfolder for {_names_text(missing)}"
            )
    elif len(classes) > outputs:
        raise CLIError(
            f"the model has {outputs} classes, and the folder '{path}' has more subfolders. "
            f"Received: {len(classes)} subfolders"
        )
    data = image_dataset_from_directory(
        path, class_names=None if names is None else list(names), batch_size=batch_size, image_size=spec.size,
        color_mode={1: "grayscale", 3: "rgb", 4: "rgba"}[spec.channels], shuffle=False, verbose=False,
    )
    count = len(data.file_paths)
    if spec.white == 1.0:  # a model without Rescaling takes [0, 1]
        data = data.map(lambda x, y: (x / 255.0, y))
    return data, count, f"the class folders in '{path}'"
