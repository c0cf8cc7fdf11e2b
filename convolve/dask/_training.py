"""The parts of ``convolve.dask.fit`` that need no Dask: the batch plan and the worker's replica.

**The batch plan.** Worker ``r`` holds a shard of ``n_r`` samples. A step takes a global
batch of ``B`` samples (fewer only at the end of an epoch, exactly as ``model.fit`` slices
arrays), split among the workers in proportion to the samples each has *left* this epoch,
rounded by largest remainder (ties to the lower rank); each worker takes the next samples of
its shard, in shard order or, with ``shuffle``, in an order drawn for it each epoch. So every
sample is seen once an epoch, every batch but the last holds ``B`` samples, and the shares stay
balanced to within one sample of the proportional split. The global batch of a step is worker
0's samples, then worker 1's, ...; ``model.fit(x_in_that_order, shuffle=False)`` sees the
same batches.

**The replica** (:class:`Replica`, a Dask actor on one worker) holds one model, rebuilt from the
safetensors bytes of the driver's model, and the worker's shard, for the whole fit. A step
sends it the current weights and its samples' indices in the shard; it returns the gradient of
its part's mean loss, the loss, the metrics' sums and counts, and the non-trainable weights its
forward pass changed (BatchNormalization's moving statistics). Nothing else travels.
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

#: loss reductions for which the shard-size weighted mean of the workers' gradients is the
#: gradient of the global batch's loss
MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")


# ---- the model as bytes ------------------------------------------------------------------------------
def model_to_bytes(model) -> bytes:
    """The model file ``model.save`` writes (.safetensors: architecture, weights, compile settings,
    optimizer state), as bytes. Never a pickle."""
    with tempfile.TemporaryDirectory(prefix="convolve-dask-") as folder:
        path = os.path.join(folder, "model.safetensors")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def model_from_bytes(data: bytes):
    """The model that :func:`model_to_bytes` wrote, loaded with every check ``load_model`` makes."""
    from ..saving import load_model

    with tempfile.TemporaryDirectory(prefix="convolve-dask-") as folder:
        path = os.path.join(folder, "model.safetensors")
        with open(path, "wb") as file:
            file.write(data)
        return load_model(path, compile=True)


# ---- the batch plan --------------------------------------------------------------------------------
def split_batch(remaining, size: int) -> np.ndarray:
    """How many of ``size`` samples each worker gives: proportional to ``remaining`` (what each has
    left), rounded down, the rest one each to the largest fractional parts (ties: lower rank).
    Never more than a worker has left, as each exact share is at most its ``remaining``."""
    remaining = np.asarray(remaining, dtype=np.int64)
    total = int(remaining.sum())
    size = min(int(size), total)
    if size == 0:
        return np.zeros_like(remaining)
    exact = remaining * size / total
    counts = np.floor(exact).astype(np.int64)
    short = size - int(counts.sum())
    order = sorted(range(len(remaining)), key=lambda r: (-(exact[r] - counts[r]), r))
    for r in order[:short]:
        counts[r] += 1
    return counts


def epoch_plan(orders, batch_size: int, steps: int | None = None) -> list:
    """The steps of one epoch: for each step, one index array per worker (positions in its shard).

    ``orders[r]`` is worker r's samples in the order it gives them (``arange(n_r)`` unshuffled).
    ``steps`` beyond one pass over the data starts a new pass in the same orders (fewer: the
    first ``steps``)."""
    sizes = np.array([len(order) for order in orders], dtype=np.int64)
    natural = -(-int(sizes.sum()) // batch_size)
    steps = natural if steps is None else steps
    plan, taken = [], np.zeros_like(sizes)
    while len(plan) < steps:
        if not (sizes - taken).any():
            taken[:] = 0
        counts = split_batch(sizes - taken, batch_size)
        plan.append([order[t : t + c] for order, t, c in zip(orders, taken, counts)])
        taken += counts
    return plan


# ---- the worker's side -------------------------------------------------------------------------------
def _concatenate(parts):
    if parts is None or any(part is None for part in parts):
        return None
    arrays = [np.asarray(part) for part in parts]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def metric_tally(metric) -> tuple:
    """(sum, count) of a Mean-based metric, whose result is sum / count (``accuracy`` chooses its
    Mean at its first update and keeps it in ``chosen``)."""
    inner = getattr(metric, "chosen", None) or metric
    return float(inner.total), float(inner.count)


class Replica:
    """One worker's model and shard, kept between the steps of a fit (a Dask actor).

    Built on the worker from the model's safetensors bytes and the shard's parts (the chunks of
    a Dask array that lie there, or the part of NumPy arrays scattered to it once). Its global
    random generator is seeded with ``seed`` and layers with their own generator (a seeded
    Dropout) jump ahead by ``rank`` streams, so the workers draw different masks and a seeded
    run draws the same ones again.
    """

    def __init__(self, model_bytes, x_parts, y_parts, w_parts, *, rank, seed, class_weight):
        from ..random import set_random_seed

        set_random_seed(seed)
        self.model = model_from_bytes(model_bytes)
        for layer in self.model.layers:
            rng = getattr(layer, "_rng", None)
            if isinstance(rng, np.random.Generator) and rank:
                layer._rng = np.random.Generator(rng.bit_generator.jumped(rank))
        self.rank, self.class_weight = rank, class_weight
        self.x, self.y, self.sample_weight = self.model._check_data(
            _concatenate(x_parts), _concatenate(y_parts), _concatenate(w_parts), "fit"
        )
        self.weights = self.model.weights
        self.trainable = self.model.trainable_weights
        self.moving = [i for i, var in enumerate(self.weights) if not var.trainable]

    def info(self) -> dict:
        return {"pid": os.getpid(), "samples": len(self.x)}

    def step(self, indices, values, which) -> dict:
        """Set the weights ``which`` (positions in ``model.weights``) to ``values``, then the loss
        and gradients on the samples at ``indices`` of the shard (training mode)."""
        from ..models.training import _apply_class_weight

        start = time.perf_counter()
        for i, value in zip(which, values):
            self.weights[i].assign(value)
        xb, yb = self.x[indices], self.y[indices]
        swb = None if self.sample_weight is None else self.sample_weight[indices]
        swb = _apply_class_weight(yb, swb, self.class_weight, f"{self.model.where}.fit")
        before = {i: self.weights[i].value.copy() for i in self.moving}
        loss, y_pred, grads = self.model._losses_and_grads(xb, yb, swb, training=True)
        tallies = []
        for metric in self.model.compiled_metrics:
            metric.reset_state()
            metric.update_state(yb, y_pred, swb)
            tallies.append(metric_tally(metric))
        moved = {i: self.weights[i].value for i in self.moving
                 if not np.array_equal(self.weights[i].value, before[i])}
        return {
            "loss": loss, "grads": grads, "tallies": tallies, "moved": moved,
            "seconds": time.perf_counter() - start,
        }
