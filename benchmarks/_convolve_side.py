"""The convolve side of ``benchmarks/speed.py``: one process, convolve only (PyTorch is never imported).

    python benchmarks/_convolve_side.py TASK --threads N [options]    # see _common.py

The kernels are the environment's: CONVOLVE_KERNELS=numba|numpy, read when convolve is
imported (speed.py sets it for each run); NUMBA_CACHE_DIR says where compiled kernels are cached.
The convolve timed is this checkout's (its root goes first on sys.path).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's convolve

from _common import BATCH, PREDICT_BATCH, thread_pools, worker_main  # noqa: E402
from conv import Calls  # noqa: E402

import convolve  # noqa: E402
from convolve.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D  # noqa: E402
from convolve.models import Sequential  # noqa: E402
from convolve.ops.conv import conv, conv_backward  # noqa: E402


class Classic:
    """The classic CNN (Keras' mnist_cnn example), compiled as the README shows it: Adam 1e-3
    (epsilon 1e-7), sparse categorical crossentropy, accuracy; Keras' initializers (glorot
    uniform kernels, zero biases)."""

    def __init__(self, seed: int):
        convolve.utils.set_random_seed(seed)
        self.model = Sequential([
            Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"),
            MaxPooling2D(2), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
            Dense(10, activation="softmax"),
        ])
        self.model.compile(convolve.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                           metrics=["accuracy"])

    def train_step(self, x, y):
        self.model.train_on_batch(x, y)

    def fit_epoch(self, x, y) -> dict:
        history = self.model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        last = {name: float(values[-1]) for name, values in history.history.items()}
        return {"loss": last["loss"], "accuracy": last["accuracy"]}

    def predict(self, x):
        return self.model.predict(x, batch_size=PREDICT_BATCH, verbose=0)

    def export_onnx(self, path):
        """The trained model as ONNX (its own layout, NHWC input, the softmax included)."""
        self.model.export(path, format="onnx")


def conv_calls(shape, x, kernel, bias, grad_y, formulation=None, backward_formulation=None) -> Calls:
    """convolve.ops.conv, and conv then conv_backward as ``convolve.autograd.conv`` and its
    vector-Jacobian product call them in training (the chooser's formulations unless forced)."""
    options = {"strides": shape.strides, "padding": shape.padding}

    def forward():
        return conv(x, kernel, bias, formulation=formulation, **options)

    def training():
        y = conv(x, kernel, bias, formulation=formulation, **options)
        grads = conv_backward(grad_y, x, kernel, use_bias=True, need_input_grad=True,
                              formulation=backward_formulation, **options)
        return y, grads

    return Calls(forward, training, forward_numpy=np.asarray, training_numpy=lambda result: result)


class Side:
    library = "convolve"

    def __init__(self, layout: str):
        self.layout = layout
        self._limiter = None

    def set_threads(self, n: int) -> None:
        """convolve.config.set_num_threads where the checkout has it, else BLAS' pool (threadpoolctl)."""
        config = getattr(convolve, "config", None)
        if config is not None and hasattr(config, "set_num_threads"):
            config.set_num_threads(n)
        else:
            from threadpoolctl import threadpool_limits

            self._limiter = threadpool_limits(limits=n, user_api="blas")

    def describe(self) -> dict:
        config = getattr(convolve, "config", None)
        kernels = config.kernels() if config is not None and hasattr(config, "kernels") else "n/a"
        threads = config.num_threads() if config is not None and hasattr(config, "num_threads") else None
        numba = sys.modules.get("numba")
        return {
            "library": "convolve", "version": convolve.__version__, "layout": self.layout,
            "kernels": kernels, "CONVOLVE_KERNELS": os.environ.get("CONVOLVE_KERNELS"),
            "threads": threads, "pools": thread_pools(),
            "numba": getattr(numba, "__version__", None),
            "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR"),
        }

    classic = staticmethod(Classic)

    @staticmethod
    def export_onnx(model, path):
        model.export_onnx(path)
    conv_calls = staticmethod(conv_calls)


if __name__ == "__main__":
    sys.exit(worker_main(Side, layouts=("channels_last",)))
