"""The PyTorch side of ``benchmarks/speed.py``: one process, PyTorch only (convolve is never imported).

    python benchmarks/_torch_side.py TASK --layout nchw|channels_last --threads N [options]   # see _common.py

``--layout nchw``: tensors and weights contiguous in N, C, *spatial (PyTorch's default).
``--layout channels_last``: the model's weights and every input in ``torch.channels_last``
(``channels_last_3d`` for Conv3D); PyTorch has no channels_last format for Conv1D's 3-D
tensors, so that layout leaves the Conv1D shape out (the NCL run stands for it).
Inputs arrive as NumPy arrays in channels_last (N, *spatial, C); turning them into tensors is
a view where the layout allows (always for the classic CNN's one-channel images) and is done
outside the timed calls of the conv table.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F
from _common import BATCH, PREDICT_BATCH, thread_pools, worker_main
from conv import Calls, pads_and_outputs
from torch import nn

LAYOUTS = ("nchw", "channels_last")


def memory_format(layout: str, rank: int):
    """torch's memory format for a ``rank``-D convolution in ``layout``; None where there is none."""
    if layout == "nchw":
        return torch.contiguous_format
    return {2: torch.channels_last, 3: torch.channels_last_3d}.get(rank)


def as_tensor(array, layout: str):
    """(N, *spatial, C) NumPy -> (N, C, *spatial) tensor in ``layout`` (a view when no copy is needed)."""
    rank = array.ndim - 2
    return torch.from_numpy(np.moveaxis(array, -1, 1)).contiguous(memory_format=memory_format(layout, rank))


class Classic:
    """The classic CNN as PyTorch code: the same layers and sizes, Keras' initialisation (glorot
    uniform weights, zero biases), Adam 1e-3 with epsilon 1e-7 (Keras' default), cross-entropy on
    the logits (the softmax is applied in predict), trained by a plain loop."""

    def __init__(self, seed: int, layout: str):
        torch.manual_seed(seed)
        self.layout = layout
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.25), nn.Flatten(), nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, 10),
        )
        for module in self.model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        self.model.to(memory_format=memory_format(layout, 2))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)

    def _step(self, xb, yb):
        """zero_grad, forward, cross_entropy, backward, step; returns (loss, logits)."""
        self.optimizer.zero_grad()
        logits = self.model(xb.contiguous(memory_format=memory_format(self.layout, 2)))
        loss = F.cross_entropy(logits, yb)
        loss.backward()
        self.optimizer.step()
        return loss, logits

    def train_step(self, x, y):
        self.model.train()
        self._step(as_tensor(x, self.layout), torch.from_numpy(y))

    def fit_epoch(self, x, y) -> dict:
        """One epoch in a fresh random order, the last batch short (as fit does), summing the
        loss and correct predictions as fit's metrics do."""
        self.model.train()
        images, labels = as_tensor(x, self.layout), torch.from_numpy(y)
        order = torch.randperm(len(images))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(images), BATCH):
            index = order[start:start + BATCH]
            yb = labels[index]
            loss, logits = self._step(images[index], yb)
            loss_sum += loss.item() * len(index)
            correct += int((logits.argmax(1) == yb).sum())
        return {"loss": loss_sum / len(images), "accuracy": correct / len(images)}

    def predict(self, x):
        """eval(), inference mode, softmax, batches of PREDICT_BATCH, one NumPy array."""
        self.model.eval()
        images = as_tensor(x, self.layout)
        with torch.inference_mode():
            out = [torch.softmax(self.model(images[i:i + PREDICT_BATCH]), 1)
                   for i in range(0, len(images), PREDICT_BATCH)]
        return torch.cat(out).numpy()


def conv_calls(shape, x, kernel, bias, grad_y, layout: str):
    """F.conv1d/2d/3d in ``layout`` (None for Conv1D in channels_last). 'same' and 'causal' become
    explicit amounts by the TensorFlow rule: symmetric ones passed as ``padding=``, asymmetric
    ones applied with F.pad inside the timed call. Training: requires_grad on input, weight
    and bias, then ``y.backward(grad_y)``, the .grad fields cleared first."""
    rank = shape.rank
    fmt = memory_format(layout, rank)
    if fmt is None:
        return None
    perm = (rank + 1, rank, *range(rank))  # (*K, C, F) -> (F, C, *K)
    xt, gt = as_tensor(x, layout), as_tensor(grad_y, layout)
    wt = torch.from_numpy(kernel.transpose(perm)).contiguous(memory_format=fmt)
    bt = torch.from_numpy(bias)
    function = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    pads, _ = pads_and_outputs(shape)
    stride = tuple(shape.strides)
    symmetric = all(before == after for before, after in pads)
    flat_pads = tuple(v for pair in reversed(pads) for v in pair)  # F.pad: last axis first

    def apply(xa, wa, ba):
        if symmetric:
            return function(xa, wa, ba, stride=stride, padding=tuple(before for before, _ in pads))
        return function(F.pad(xa, flat_pads), wa, ba, stride=stride)

    def forward():
        with torch.no_grad():
            return apply(xt, wt, bt)

    leaves = [t.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
              for t in (xt, wt, bt)]

    def training():
        for leaf in leaves:
            leaf.grad = None
        with torch.enable_grad():
            y = apply(*leaves)
            y.backward(gt)
        return y

    def channels_last(t):
        return np.moveaxis(t.detach().numpy(), 1, -1)

    def training_numpy(y):
        grad_x, grad_w, grad_b = (leaf.grad for leaf in leaves)
        return channels_last(y), (channels_last(grad_x), grad_w.numpy().transpose(np.argsort(perm)),
                                  grad_b.numpy())

    return Calls(forward, training, forward_numpy=channels_last, training_numpy=training_numpy)


class Side:
    library = "torch"

    def __init__(self, layout: str):
        self.layout = layout

    def set_threads(self, n: int) -> None:
        """torch.set_num_threads (intra-op) and set_num_interop_threads; NumPy's BLAS too."""
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # only before the first parallel work; speed.py's environment sets it
            pass
        from threadpoolctl import threadpool_limits

        self._limiter = threadpool_limits(limits=n, user_api="blas")

    def describe(self) -> dict:
        built = [line.strip(" -") for line in torch.__config__.show().splitlines()]
        wanted = ("Math Kernel", "MKL-DNN", "OpenMP", "CPU capability")
        return {
            "library": "torch", "version": torch.__version__, "layout": self.layout,
            "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
            "backends": [line.split(" (Git")[0].split("-Product")[0] for line in built
                         if any(w in line for w in wanted)],
            "pools": thread_pools(),
        }

    def classic(self, seed: int) -> Classic:
        return Classic(seed, self.layout)

    def conv_calls(self, shape, x, kernel, bias, grad_y):
        return conv_calls(shape, x, kernel, bias, grad_y, self.layout)


if __name__ == "__main__":
    sys.exit(worker_main(Side, layouts=LAYOUTS))
