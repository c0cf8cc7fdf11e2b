"""The classic Keras example CNN on the full Fashion-MNIST: convolve, and PyTorch for comparison.

    python benchmarks/train_classic.py --epochs 12 --torch-epochs 2

Model (Keras' mnist_cnn example): Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D 2,
Dropout 0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax; Adam 1e-3; batch 128;
inputs scaled to [0, 1]. Prints test accuracy and wall time per epoch for each library, and
the peak resident memory of the process after each part. Same threads for both.
"""
from __future__ import annotations

import argparse
import platform
import resource
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load():
    from convolve.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data()
    return (x[..., None].astype("float32") / 255.0, y.astype("int64")), (xt[..., None].astype("float32") / 255.0, yt.astype("int64"))


def run_convolve(data, epochs, seed):
    import convolve
    from convolve.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from convolve.models import Sequential

    (x, y), (xt, yt) = data
    convolve.utils.set_random_seed(seed)
    model = Sequential([
        Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), Conv2D(64, 3, activation="relu"),
        MaxPooling2D(2), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    model.compile(convolve.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    rows = []
    for epoch in range(epochs):
        t = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        seconds = time.perf_counter() - t
        loss, acc = model.evaluate(xt, yt, batch_size=512, verbose=0)
        rows.append((epoch + 1, seconds, acc))
        print(f"convolve epoch {epoch + 1}: {seconds:.1f} s, test accuracy {acc:.4f}", flush=True)
    return rows


def run_torch(data, epochs, seed):
    import torch
    from torch import nn

    (x, y), (xt, yt) = data
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    X, Y = torch.from_numpy(np.moveaxis(x, -1, 1).copy()), torch.from_numpy(y)
    XT, YT = torch.from_numpy(np.moveaxis(xt, -1, 1).copy()), torch.from_numpy(yt)
    rows = []
    for epoch in range(epochs):
        t = time.perf_counter()
        model.train()
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 128):
            idx = perm[i : i + 128]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t
        model.eval()
        with torch.no_grad():
            acc = float((model(XT).argmax(1) == YT).float().mean())
        rows.append((epoch + 1, seconds, acc))
        print(f"torch epoch {epoch + 1}: {seconds:.1f} s, test accuracy {acc:.4f}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12, help="convolve epochs (default 12)")
    parser.add_argument("--torch-epochs", type=int, default=2, help="PyTorch epochs for the time comparison (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = load()
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, numpy {np.__version__}")
    print(f"# command: python {' '.join(sys.argv)}", flush=True)
    torch_rows = []
    if args.torch_epochs:
        try:
            import torch

            torch_threads = torch.get_num_threads()
            print(f"# torch {torch.__version__}, {torch_threads} threads", flush=True)
            torch_rows = run_torch(data, args.torch_epochs, args.seed)
            print(f"# peak RSS after PyTorch: {peak_rss_mb():.0f} MB", flush=True)
        except ImportError:
            print("# PyTorch not installed: no comparison", flush=True)
    rows = run_convolve(data, args.epochs, args.seed)
    print(f"# peak RSS after convolve: {peak_rss_mb():.0f} MB")
    print("\n| epoch | convolve s | convolve test acc | PyTorch s | PyTorch test acc |\n|---|---|---|---|---|")
    for i, (epoch, s, acc) in enumerate(rows):
        t = torch_rows[i] if i < len(torch_rows) else None
        print(f"| {epoch} | {s:.1f} | {acc:.4f} | {t[1]:.1f} | {t[2]:.4f} |" if t else f"| {epoch} | {s:.1f} | {acc:.4f} | | |")


if __name__ == "__main__":
    main()
