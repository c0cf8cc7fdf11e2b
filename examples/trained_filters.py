"""What a small CNN learns on Fashion-MNIST: its first-layer filters and the feature maps of one
test image, with the training curves and the confusion matrix.

    python examples/trained_filters.py                    # 5 epochs on the bundled subset
    python examples/trained_filters.py --epochs 1 --samples 300 --out /tmp/trained

Trains Conv2D(8, 3, relu) - MaxPooling2D - Conv2D(16, 3, relu) - MaxPooling2D - Flatten -
Dense(10, softmax) on the 3,000 training images bundled with convolve (under a minute on two
CPU cores), prints the test accuracy on the 1,000 bundled test images, and writes to --out:

    filters.png           the 8 learned 3x3 filters of the first layer (each on its own grey scale)
    feature_maps.png      one test image and what every convolution and pooling layer makes of it
    history.png           loss and accuracy per epoch, training and validation
    confusion_matrix.png  true class against predicted class on the test images

The model is written with the functional API so that its Input can be shown beside the maps
(``layers=["image", ...]``); a Sequential model works the same way with the other layers.
"""
import argparse
import os
import time

import numpy as np

from convolve import viz
from convolve.datasets import fashion_mnist
from convolve.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from convolve.models import Model
from convolve.utils import set_random_seed


def build_model():
    image = Input((28, 28, 1), name="image")
    x = Conv2D(8, 3, activation="relu", name="conv1")(image)      # (26, 26, 8)
    x = MaxPooling2D(name="pool1")(x)                              # (13, 13, 8)
    x = Conv2D(16, 3, activation="relu", name="conv2")(x)          # (11, 11, 16)
    x = MaxPooling2D(name="pool2")(x)                              # (5, 5, 16)
    scores = Dense(10, activation="softmax", name="classes")(Flatten(name="flatten")(x))
    return Model(image, scores, name="small_cnn")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument(
        "--samples", type=int, default=3000, help="training images to use, at most 3000 (default all)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument(
        "--image", type=int, default=0, help="index of the test image whose feature maps are drawn"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--out", default="trained_output", help="folder for the pictures (default ./trained_output)"
    )
    args = parser.parse_args(argv)
    if args.epochs < 1 or not 1 <= args.samples <= 3000:
        parser.error(
            "--epochs must be >= 1 and --samples in 1..3000. "
            f"Received: --epochs {args.epochs} --samples {args.samples}"
        )

    set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_subset()  # uint8 (N, 28, 28), labels (N,)
    x_train = x_train[: args.samples, :, :, None] / 255.0                # (N, 28, 28, 1) in [0, 1]
    y_train = y_train[: args.samples]
    x_test = x_test[:, :, :, None] / 255.0

    model = build_model()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test), verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"trained {args.epochs} epoch(s) on {len(x_train)} images in {seconds:.1f} s")
    print(f"test accuracy: {accuracy:.4f} (loss {loss:.4f}) on {len(x_test)} test images")

    os.makedirs(args.out, exist_ok=True)
    index = args.image
    label = fashion_mnist.CLASS_NAMES[y_test[index]]
    guess = fashion_mnist.CLASS_NAMES[int(np.argmax(model.predict(x_test[index : index + 1], verbose=0)))]
    files = {
        "filters.png": lambda path: viz.plot_filters(model.get_layer("conv1"), path=path),
        "feature_maps.png": lambda path: viz.plot_feature_maps(
            model, x_test, index=index, layers=["image", "conv1", "pool1", "conv2", "pool2"], path=path),
        "history.png": lambda path: viz.plot_history(history, path=path),
        "confusion_matrix.png": lambda path: viz.plot_confusion_matrix(
            model, x_test, y_test, class_names=fashion_mnist.CLASS_NAMES, path=path),
    }
    for name, draw in files.items():
        draw(os.path.join(args.out, name))
    print(f"test image {index}: a {label}, predicted {guess}")
    print("pictures:")
    for name in files:
        print(f"  {os.path.join(args.out, name)}")


if __name__ == "__main__":
    main()
