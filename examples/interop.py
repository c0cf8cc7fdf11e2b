"""Models from and to other frameworks: Keras 3 files both ways, ONNX out to ONNX Runtime, and a
PyTorch CNN in through ONNX.

    pip install "convolve[keras,onnx]" keras onnxruntime torch onnxscript
    KERAS_BACKEND=torch python examples/interop.py

Each step prints the largest difference between the two frameworks' predictions on the same
images (float32, so differences of about 1e-7 are rounding).
"""
from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

from convolve import layers as L  # noqa: E402
from convolve.models import Sequential, load_model  # noqa: E402
from convolve.utils import set_random_seed  # noqa: E402


def largest_difference(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def main(folder):
    set_random_seed(0)
    images = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    model = Sequential([
        L.Input((28, 28, 1)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
        L.Conv2D(16, 3, padding="same", strides=2, activation="relu"), L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax"),
    ], name="small_cnn")
    ours = model.predict(images, verbose=0)

    # 1. convolve -> Keras: a real .keras archive that Keras 3 loads
    import keras

    path = os.path.join(folder, "small_cnn.keras")
    model.save(path)
    theirs = keras.saving.load_model(path).predict(images, verbose=0)
    difference = largest_difference(ours, theirs)
    print(f"1. convolve -> .keras -> Keras {keras.__version__}: largest difference {difference:.1e}")

    # 2. Keras -> convolve: a model Keras trained and saved, opened and looked into
    k = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 5, activation="relu"),
                          keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(3)])
    k.compile("adam", "mse")
    k.fit(images, np.zeros((8, 3), "float32"), epochs=1, verbose=0)
    path = os.path.join(folder, "from_keras.keras")
    k.save(path)
    back = load_model(path)
    print(f"2. Keras -> .keras -> convolve: largest difference "
          f"{largest_difference(k.predict(images, verbose=0), back.predict(images, verbose=0)):.1e}; "
          f"optimizer {type(back.optimizer).__name__} after {back.optimizer.iterations} step(s)")
    back.summary()

    # 3. convolve -> ONNX -> ONNX Runtime
    import onnxruntime

    path = os.path.join(folder, "small_cnn.onnx")
    model.export(path, format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {session.get_inputs()[0].name: images})
    print(f"3. convolve -> .onnx -> ONNX Runtime {onnxruntime.__version__}: "
          f"largest difference {largest_difference(ours, theirs):.1e}")

    # 4. PyTorch -> ONNX -> convolve: the network in PyTorch's NCHW layout, every tool available
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.BatchNorm2d(6), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 12, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(12, 10),
    ).eval()
    nchw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    path = os.path.join(folder, "from_torch.onnx")
    torch.onnx.export(net, (torch.from_numpy(nchw),), path, input_names=["image"], dynamo=False,
                      dynamic_axes={"image": {0: "batch"}})
    imported = load_model(path)
    with torch.no_grad():
        theirs = net(torch.from_numpy(nchw)).numpy()
    print(f"4. PyTorch {torch.__version__.split('+')[0]} -> .onnx -> convolve: largest difference "
          f"{largest_difference(imported.predict(nchw, verbose=0), theirs):.1e}")
    imported.summary()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(sys.argv[1] if len(sys.argv) > 1 else tmp)
