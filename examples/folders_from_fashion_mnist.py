"""Fashion-MNIST as class folders of PNG files, and a CNN trained from those folders.

    python examples/folders_from_fashion_mnist.py                          # the 3,000 + 1,000 bundled images
    python examples/folders_from_fashion_mnist.py --samples 300 --epochs 1 --out /tmp/fm    # a quick run

1. Writes the Fashion-MNIST subset bundled with convolve as OUT/train/<class>/<index>.png and
   OUT/test/<class>/<index>.png (8-bit grey PNGs, <index> the image's position in the subset).
   A class name becomes a folder name with each "/" or "\\" replaced by "_": "T-shirt/top" ->
   "T-shirt_top"; the other nine names are kept as they are ("Ankle boot", with its space).
2. Reads the folders back with image_dataset_from_directory, passing the folder names in
   Fashion-MNIST's label order as ``class_names``, so the labels are Fashion-MNIST's (0 =
   T-shirt/top, ...) rather than the folders' alphabetical order, and checks every label and
   pixel against the arrays it wrote.
3. Trains Rescaling(1/255) - Conv2D(8, 3) - MaxPooling2D - Conv2D(16, 3) - MaxPooling2D -
   Flatten - Dense(10) on OUT/train, prints the accuracy on OUT/test, and saves
   OUT/model.safetensors with the original class names (``model.class_names``, "T-shirt/top"
   with its slash), which ``convolve predict`` writes into its CSV.

The same training from the shell: ``convolve train --dataset OUT/train -o model.safetensors``
(class names there are the folder names, in alphabetical order).
"""
import argparse
import os
import time

import numpy as np

from convolve.data import image_dataset_from_directory, save_img
from convolve.datasets import fashion_mnist
from convolve.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D, Rescaling
from convolve.models import Sequential
from convolve.utils import set_random_seed


def folder_name(class_name: str) -> str:
    """A class name as a folder name: path separators become "_" ("T-shirt/top" -> "T-shirt_top")."""
    return class_name.replace("/", "_").replace("\\", "_")


def write_folders(root, images, labels, folders):
    """root/<folder of the label>/<index>.png for every image; returns the number written."""
    for folder in folders:
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        path = os.path.join(root, folders[label], f"{index:05d}.png")
        save_img(path, image[:, :, None], scale=False)  # 8-bit grey, exact
    return len(images)


def check_read_back(dataset, images, labels):
    """(labels that match, pixels exact) for a folder dataset read without shuffling."""
    matches, exact = 0, True
    start = 0
    for batch, batch_labels in dataset:
        paths = dataset.file_paths[start : start + len(batch)]
        start += len(batch)
        for path, image, label in zip(paths, batch, batch_labels):
            index = int(os.path.splitext(os.path.basename(path))[0])
            matches += int(label == labels[index])
            exact &= bool(np.array_equal(image[:, :, 0], images[index]))
    return matches, exact


def build_model():
    return Sequential([
        Input((28, 28, 1)), Rescaling(1 / 255),                  # PNG pixels 0..255 -> [0, 1]
        Conv2D(8, 3, activation="relu"), MaxPooling2D(),
        Conv2D(16, 3, activation="relu"), MaxPooling2D(),
        Flatten(), Dense(10, activation="softmax"),
    ], name="fashion_folders")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--samples",
        type=int,
        default=3000,
        help="training images to write, at most 3000; a third as many test images (default all)",
    )
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--out", default="fashion_folders", help="folder to write into (default ./fashion_folders)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or not 3 <= args.samples <= 3000:
        parser.error(f"--epochs must be >= 1 and --samples in 3..3000. "
                     f"Received: --epochs {args.epochs} --samples {args.samples}")
    for part in ("train", "test"):
        if os.path.isdir(os.path.join(args.out, part)) and os.listdir(os.path.join(args.out, part)):
            parser.error(
                f"{os.path.join(args.out, part)} already holds files; pick another --out or remove it. "
                f"Received: --out {args.out}"
            )

    (x, y), (x_test, y_test) = fashion_mnist.load_subset()              # uint8 (N, 28, 28), labels (N,)
    x, y = x[: args.samples], y[: args.samples]
    x_test, y_test = x_test[: max(args.samples // 3, 1)], y_test[: max(args.samples // 3, 1)]
    folders = [folder_name(name) for name in fashion_mnist.CLASS_NAMES]  # in label order
    renamed = [
        f"{name!r} -> {folder!r}"
        for name, folder in zip(fashion_mnist.CLASS_NAMES, folders)
        if name != folder
    ]
    print(f"class folders: {', '.join(folders)} (renamed: {', '.join(renamed)})")
    start = time.perf_counter()
    train_dir, test_dir = os.path.join(args.out, "train"), os.path.join(args.out, "test")
    written = write_folders(train_dir, x, y, folders) + write_folders(test_dir, x_test, y_test, folders)
    print(f"wrote {written:,} PNG files ({len(x):,} training, {len(x_test):,} test) into {args.out} "
          f"in {time.perf_counter() - start:.1f} s")

    options = dict(class_names=folders, color_mode="grayscale", image_size=(28, 28), verbose=False)
    test = image_dataset_from_directory(test_dir, shuffle=False, batch_size=256, **options)
    matches, exact = check_read_back(test, x_test, y_test)
    print(f"read back from {test_dir}: {matches} of {len(x_test)} labels are Fashion-MNIST's, "
          f"pixels exact: {exact}")

    set_random_seed(args.seed)
    train = image_dataset_from_directory(train_dir, batch_size=args.batch_size, seed=args.seed, **options)
    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(train, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(test, verbose=0)
    print(f"trained {args.epochs} epoch(s) on {len(x):,} images from the folders in {seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f} (loss {loss:.4f}) on {len(x_test):,} test images "
          f"(10 classes, chance 0.10)")

    model.class_names = list(fashion_mnist.CLASS_NAMES)  # the original names, saved with the model
    path = os.path.join(args.out, "model.safetensors")
    model.save(path)
    print(f"saved {path} with its class names: {', '.join(model.class_names)}")
    print(f"next: convolve predict {path} {test_dir} --top 2 -o predictions.csv")


if __name__ == "__main__":
    main()
