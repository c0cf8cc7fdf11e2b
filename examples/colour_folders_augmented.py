"""A small colour CNN with augmentation layers, trained from class folders of PNG files.

    python examples/colour_folders_augmented.py                    # CIFAR-10 if it is here, else shapes
    python examples/colour_folders_augmented.py --data shapes --per-class 200 --epochs 6 --out /tmp/shapes

The folders: with ``--data cifar10`` (or ``auto`` when CIFAR-10 is on this machine: looked for
with ``cifar10.load_data(path=...)`` in $CONVOLVE_DATA, Keras' ~/.keras/datasets, ./data, . and
~/.convolve/datasets/cifar-10, never downloaded), the first --per-class training images of each
class and a third as many test images; with ``--data shapes`` (``auto``'s fallback), generated
32x32 pictures of a circle, a square or a triangle, each in a random bright colour, size,
position and turn on a dark noisy background. Either way they are written as
OUT/train/<class>/<n>.png and OUT/test/<class>/<n>.png.

The model (Keras' idiom: augmentation inside the model, active in training only):

    Input(32, 32, 3) - RandomFlip("horizontal") - RandomRotation(0.1) - RandomZoom(0.1)
    - Rescaling(1/255) - Conv2D(16, 3) - MaxPooling2D - Conv2D(32, 3) - MaxPooling2D
    - Conv2D(32, 3) - Flatten - Dense(classes, softmax)

It trains on OUT/train (a fifth kept for validation), prints the test accuracy on OUT/test
against chance, saves OUT/augmentations.png (nine draws of the augmentation layers on one
training image) and OUT/model.safetensors (with the class names), then runs
``convolve predict`` on OUT/test into OUT/predictions.csv and checks its top classes against
the folders.
"""
import argparse
import csv
import os
import time

import numpy as np

from convolve import layers as L
from convolve import viz
from convolve.cli import main as convolve
from convolve.data import image_dataset_from_directory, save_img
from convolve.datasets import cifar10
from convolve.models import Sequential
from convolve.optimizers import Adam
from convolve.utils import set_random_seed

SHAPES = ("circle", "square", "triangle")


# ---- the data --------------------------------------------------------------------------------------
def find_cifar10():
    """CIFAR-10 ((x, y), (x_test, y_test)) from the usual folders, or None; never downloads."""
    places = [os.environ.get("CONVOLVE_DATA"), os.path.expanduser("~/.keras/datasets"), "data", ".",
              os.path.expanduser("~/.convolve/datasets/cifar-10")]
    for place in filter(None, places):
        try:
            return cifar10.load_data(path=place)  # with a path, only that place is read
        except FileNotFoundError:
            continue
    return None


def shape_picture(kind, rng, size=32):
    """One size x size RGB picture (uint8) of a circle, square or triangle."""
    from PIL import Image, ImageDraw

    background = tuple(int(v) for v in rng.integers(0, 60, 3))
    colour = rng.integers(60, 256, 3)
    colour[rng.integers(3)] = 255                                    # bright: one channel at its top
    picture = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(picture)
    radius = rng.uniform(6, 12)
    cx, cy = rng.uniform(radius + 1, size - radius - 1, 2)
    turn = rng.uniform(0, 2 * np.pi)
    if kind == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=tuple(int(v) for v in colour))
    else:
        corners = 4 if kind == "square" else 3
        points = [(cx + radius * np.cos(turn + 2 * np.pi * k / corners),
                   cy + radius * np.sin(turn + 2 * np.pi * k / corners)) for k in range(corners)]
        draw.polygon(points, fill=tuple(int(v) for v in colour))
    noise = rng.integers(-12, 13, (size, size, 3))
    return np.clip(np.asarray(picture, dtype=np.int64) + noise, 0, 255).astype(np.uint8)


def first_of_each_class(labels, n):
    """The indices of the first ``n`` images of each class, class by class."""
    return np.concatenate([np.flatnonzero(labels == k)[:n] for k in range(int(labels.max()) + 1)])


def write_folders(root, pictures, labels, names):
    for name in names:
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for n, (picture, label) in enumerate(zip(pictures, labels)):
        save_img(os.path.join(root, names[label], f"{n:05d}.png"), picture, scale=False)


def make_folders(args):
    """Write OUT/train and OUT/test; returns (class names, a description of the data)."""
    data = find_cifar10() if args.data in ("auto", "cifar10") else None
    if args.data == "cifar10" and data is None:
        raise SystemExit("CIFAR-10 is not on this machine (see --help for where it is looked for)")
    n_test = max(args.per_class // 3, 1)
    if data is not None:
        (x, y), (xt, yt) = data                                         # y: (N, 1), as Keras returns it
        names = list(cifar10.CLASS_NAMES)
        train, test = first_of_each_class(y[:, 0], args.per_class), first_of_each_class(yt[:, 0], n_test)
        sets = (x[train], y[train, 0]), (xt[test], yt[test, 0])
        what = "CIFAR-10"
    else:
        rng = np.random.default_rng(args.seed)
        names = list(SHAPES)
        sets = []
        for n in (args.per_class, n_test):
            labels = np.repeat(np.arange(len(names)), n)
            sets.append((np.stack([shape_picture(names[k], rng) for k in labels]), labels))
        what = "generated shapes" + (" (CIFAR-10 is not on this machine)" if args.data == "auto" else "")
    for part, (pictures, labels) in zip(("train", "test"), sets):
        write_folders(os.path.join(args.out, part), pictures, labels, names)
    return names, what, len(sets[0][1]), len(sets[1][1])


# ---- the model -------------------------------------------------------------------------------------
def augmentation_layers():
    return [L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1)]


def build_model(classes):
    return Sequential([
        L.Input((32, 32, 3)), *augmentation_layers(),                      # active in training only
        L.Rescaling(1 / 255),
        L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(32, 3, activation="relu"),
        L.Flatten(), L.Dense(classes, activation="softmax"),
    ], name="colour_cnn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("auto", "cifar10", "shapes"), default="auto",
                        help="auto: CIFAR-10 when it is on this machine, else shapes (default auto)")
    parser.add_argument("--per-class", type=int, default=600,
                        help="training images per class; a third as many test images (default 600)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument(
        "--learning-rate", type=float, default=3e-3, help="Adam's learning rate (default 0.003)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--out", default="colour_folders", help="folder to write into (default ./colour_folders)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or not 5 <= args.per_class <= 5000:
        parser.error(f"--epochs must be >= 1 and --per-class in 5..5000. "
                     f"Received: --epochs {args.epochs} --per-class {args.per_class}")
    for part in ("train", "test"):
        if os.path.isdir(os.path.join(args.out, part)) and os.listdir(os.path.join(args.out, part)):
            parser.error(
                f"{os.path.join(args.out, part)} already holds files; pick another --out or remove it. "
                f"Received: --out {args.out}"
            )

    start = time.perf_counter()
    names, what, n_train, n_test = make_folders(args)
    print(f"data: {what}; classes: {', '.join(names)}")
    print(f"wrote {n_train:,} training and {n_test:,} test PNG files (32x32 RGB) into {args.out} "
          f"in {time.perf_counter() - start:.1f} s")

    train_dir, test_dir = os.path.join(args.out, "train"), os.path.join(args.out, "test")
    train, validation = image_dataset_from_directory(
        train_dir, image_size=(32, 32), batch_size=32, seed=args.seed, validation_split=0.2, subset="both",
        verbose=False,
    )
    test = image_dataset_from_directory(test_dir, image_size=(32, 32), batch_size=128, shuffle=False,
                                        verbose=False)
    set_random_seed(args.seed)
    model = build_model(len(names))
    model.compile(Adam(args.learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train, epochs=args.epochs, validation_data=validation, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(test, verbose=0)
    print(f"trained {args.epochs} epoch(s) on {len(train.file_paths):,} images "
          f"({len(validation.file_paths):,} kept for validation) in {seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f} (loss {loss:.4f}) on {n_test:,} test images "
          f"({len(names)} classes, chance {1 / len(names):.2f})")

    augment = Sequential([L.Input((32, 32, 3)), *augmentation_layers()], name="augmentation")
    first_image = next(iter(train))[0][0]
    pictures = os.path.join(args.out, "augmentations.png")
    figure = viz.plot_augmentations(augment, first_image, n=9, seed=args.seed, path=pictures)
    import matplotlib.pyplot as plt

    plt.close(figure)
    print(f"saved {pictures}: nine draws of RandomFlip, RandomRotation and RandomZoom on one training image")

    model.class_names = list(train.class_names)
    model_path = os.path.join(args.out, "model.safetensors")
    model.save(model_path)
    print(f"saved {model_path} with its class names")
    csv_path = os.path.join(args.out, "predictions.csv")
    print(f"$ convolve predict {model_path} {test_dir} --top 2 -o {csv_path}")
    convolve(["predict", model_path, test_dir, "--top", "2", "-o", csv_path])
    with open(csv_path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    right = sum(row["class_1"] == os.path.basename(os.path.dirname(row["path"])) for row in rows)
    print(f"its top class is the image's folder for {right} of {len(rows)} images ({right / len(rows):.4f}); "
          f"first rows:")
    with open(csv_path, encoding="utf-8") as file:
        for line in file.read().splitlines()[:3]:
            print(f"  {line}")


if __name__ == "__main__":
    main()
