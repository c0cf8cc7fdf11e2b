"""Data-parallel training on Dask workers: ``convolve.dask.fit(model, x, y, client=client)``.

Synchronous data parallelism, as Horovod and PyTorch's DistributedDataParallel do it: every
step, each worker computes the gradient of the mean loss over its part of one global batch,
and the gradient of the global batch's mean loss (Keras' ``sum_over_batch_size``) is their
average weighted by the parts' sizes. The driver (this process) holds the model and its
optimizer: it applies that gradient and sends the new weights with the next step. So with no
dropout and no batch normalisation, training is ``model.fit`` on the same batches, to float32
rounding.

Where things live
-----------------
* **driver**: the model, the optimizer and its state, the callbacks, the batch plan
  (``_training.epoch_plan``) and the random generator that shuffles it;
* **each worker**: a :class:`~convolve.dask._training.Replica` (a Dask actor) holding a copy of the
  model, rebuilt once from the ``.safetensors`` bytes of the driver's model (never a pickled
  model), and the worker's shard of the data, for the whole fit.

What travels per step, to and from each worker taking part: out, the trainable weights
(4 bytes a parameter in float32), the non-trainable weights that training moves
(BatchNormalization's moving statistics) and the indices of its samples; back, one gradient
per trainable weight, the loss, the metrics' sums and counts, and the moved statistics. The
data never travels after the start. ``history.communication`` records each step's bytes and
times.

Data
----
* **NumPy arrays** ``x``, ``y`` (and ``sample_weight``): split into one contiguous shard per
  worker (sizes differ by at most one), each scattered once to its worker;
* **Dask arrays** (or Dask DataFrames, through ``to_dask_array``): persisted, and each worker
  trains on the chunks that lie on it (a chunk of ``y`` moves to its ``x`` chunk's worker if it
  lies elsewhere); a worker holding no chunk takes no part.

A ``Dataset``, ``PyDataset`` or generator yields its batches in one process, so every batch
would travel from the driver each step; they are refused (build a Dask array, e.g. with
``dask.array.from_delayed`` per file, or pass arrays). ``validation_data`` may be anything
``model.evaluate`` takes; validation runs on the driver.

The batch plan (``_training.epoch_plan``): each global batch of ``batch_size`` samples is split
among the workers in proportion to the samples each has left this epoch; with ``shuffle`` each
shard's order is drawn anew each epoch from the driver's global generator (``set_random_seed``
fixes it). The step's batch is worker 0's samples, then worker 1's, and so on. ``class_weight``
is applied to each worker's part of a batch, so a class missing from it is reported by the
first batch holding that class. Dropout and augmentation draw on the workers: each worker's
global generator is seeded from the driver's, and a layer's own generator (a seeded Dropout)
jumps ahead by the worker's rank, so the workers draw different masks and a seeded run repeats.

Failures
--------
A worker that leaves the cluster during a fit (its process killed, its machine gone) stops
training with :class:`WorkerLostError`, naming the worker and the step; the model keeps the
weights of its last finished step (a step's gradient is applied only once every worker
answered). The scheduler notices a dead process at once and a vanished machine after its
``distributed.scheduler.worker-ttl``. Resume from a checkpoint: ``ModelCheckpoint`` with a
``.safetensors`` path saves the model with its optimizer state, and ``load_model`` then
``fit(..., initial_epoch=...)`` continues as if nothing had happened (with ``shuffle=False``
exactly; with ``shuffle`` the epochs' orders are drawn anew).
"""
from __future__ import annotations

import asyncio
import sys
import time
import uuid

import numpy as np

from .. import callbacks as callbacks_module
from .. import metrics as metrics_module
from ..data.adapters import is_batch_source, source_name
from ..models.progress import Progbar
from ..models.training import _resolve_verbose, _unpack
from ..ops.args import check_int
from ..random import generator
from ._training import MEAN_REDUCTIONS, Replica, epoch_plan, model_to_bytes

WHERE = "convolve.dask.fit"
#: how often (seconds) a step that has not answered checks that its workers are still there
_POLL_SECONDS = 0.25
#: how long a worker that refused a connection is given to be declared gone by the scheduler
_CONFIRM_SECONDS = 5.0


class WorkerLostError(RuntimeError):
    """A Dask worker that held a shard left the cluster during ``convolve.dask.fit``."""


def fit(
    model, x=None, y=None, *, client=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
    validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
    initial_epoch=0, steps_per_epoch=None, validation_batch_size=None, validation_freq=1, workers=None,
):
    """Train ``model`` on the Dask workers of ``client`` (the default client when None), as
    ``model.fit`` would on one process; returns a History.

    ``batch_size`` (32 by default) is the global batch: each step's samples are split among
    the workers. ``workers``: the addresses of the workers to use (all of them by default).
    The other arguments are ``model.fit``'s. ``history.communication`` holds each step's
    ``seconds`` (the whole step, seen by the driver), ``worker_seconds`` (the slowest worker's
    compute), ``update_seconds`` (the driver's averaging and optimizer update), ``bytes_sent``
    and ``bytes_received`` (array bytes, all workers together); ``history.params`` names the
    ``workers`` and their ``shard_sizes``. See the module docstring for what runs where.
    """
    model._require_compiled("convolve.dask.fit")
    epochs, initial_epoch, batch_size, steps_per_epoch, validation_freq = _check_counts(
        epochs, initial_epoch, batch_size, steps_per_epoch, validation_freq
    )
    _check_loss_and_metrics(model)
    x, y, sample_weight, validation_data = _split_validation(x, y, sample_weight, validation_data,
                                                            validation_split)
    verbose = _resolve_verbose(verbose)
    with _Workers(client, workers) as group:
        group.start(model, x, y, sample_weight, class_weight)
        return _Loop(model, group, batch_size=batch_size, steps=steps_per_epoch, shuffle=shuffle,
                     verbose=verbose, validation=(validation_data, validation_batch_size or batch_size,
                                                  validation_freq),
                     ).run(callbacks, initial_epoch, epochs)


# ---- arguments ----------------------------------------------------------------------------------------
def _check_counts(epochs, initial_epoch, batch_size, steps_per_epoch, validation_freq):
    epochs = check_int(epochs, "epochs", WHERE)
    initial_epoch = check_int(initial_epoch, "initial_epoch", WHERE, minimum=0)
    if initial_epoch >= epochs:
        raise ValueError(
            f"{WHERE}: initial_epoch must be smaller than epochs, or nothing is trained. "
            f"Received: initial_epoch={initial_epoch}, epochs={epochs}"
        )
    batch_size = check_int(32 if batch_size is None else batch_size, "batch_size", WHERE)
    steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch", WHERE, none_ok=True)
    return epochs, initial_epoch, batch_size, steps_per_epoch, check_int(validation_freq, "validation_freq",
                                                                          WHERE)


def _check_loss_and_metrics(model):
    """The shard-size weighted mean of the workers' gradients is the global batch's gradient only
    for a mean over samples; metrics must be sums and counts that add up across workers."""
    loss = model.loss
    reduction = getattr(loss, "reduction", "sum_over_batch_size")
    if reduction not in MEAN_REDUCTIONS:
        raise ValueError(
            f"{WHERE}: the loss must average over the batch (reduction 'sum_over_batch_size', Keras' "
            "default), so that the workers' gradients, weighted by their share of the batch, average to the "
            "batch's. "
            f"Received: {type(loss).__name__} with reduction={reduction!r}"
        )
    if getattr(loss, "ignore_class", None) is not None:
        raise ValueError(
            f"{WHERE}: a loss with ignore_class averages over a number of entries each worker alone knows, "
            "so the workers' gradients cannot be weighted exactly. "
            f"Received: ignore_class={loss.ignore_class!r}"
        )
    odd = [m.name for m in model.compiled_metrics
           if not (isinstance(m, metrics_module.Mean) or hasattr(m, "chosen"))]
    if odd:
        raise ValueError(
            f"{WHERE}: every metric must be a Mean (a sum and a count the workers' parts add up to), as "
            f"Keras' accuracy and error metrics are. Received: metrics {odd}"
        )


def _is_dask(x) -> bool:
    return hasattr(x, "__dask_graph__")


def _as_arrays(x, name):
    """A NumPy or Dask array for ``x``; sources of batches and other collections refused."""
    if x is None:
        return None
    if is_batch_source(x):
        raise ValueError(
            f"{WHERE}: trains on arrays: NumPy arrays (split into one shard per worker) or Dask arrays "
            f"(each worker trains on the chunks it holds). {source_name(x).capitalize()} yields its batches "
            "in this process, so every batch would travel to the workers each step; build a Dask array (e.g. "
            "dask.array.from_delayed per file) or pass arrays. Received: "
            f"{name}={type(x).__name__}"
        )
    if _is_dask(x):
        if hasattr(x, "to_dask_array"):  # a Dask DataFrame or Series
            x = x.to_dask_array(lengths=True)
        if not hasattr(x, "chunks"):
            raise TypeError(
                f"{WHERE}: a Dask collection must be a Dask array or DataFrame. "
                f"Received: {name}={type(x).__name__}"
            )
        if any(np.isnan(n) for n in x.chunks[0]):
            x = x.compute_chunk_sizes()
        return x
    return np.asarray(x)


def _split_validation(x, y, sample_weight, validation_data, validation_split):
    """(x, y, sample_weight, validation_data), the last ``validation_split`` of the samples set
    apart for validation, as Keras does (before any shuffling)."""
    x, y, sample_weight = (_as_arrays(a, name) for a, name in ((x, "x"), (y, "y"),
                                                                (sample_weight, "sample_weight")))
    if x is None or y is None:
        raise ValueError(
            f"{WHERE}: expected arrays x and y. Received: x={type(x).__name__}, y={type(y).__name__}"
        )
    if len(x) == 0:
        raise ValueError(f"{WHERE}: there is no data: x holds 0 samples. Received: x.shape={x.shape}")
    if len(x) != len(y):
        raise ValueError(
            f"{WHERE}: x and y must have the same number of samples. "
            f"Received: len(x)={len(x)}, len(y)={len(y)}"
        )
    if (isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.number))
            or not 0.0 <= validation_split < 1.0):
        raise ValueError(
            f"{WHERE}: validation_split must be a number in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    if validation_data is not None or not validation_split:
        return x, y, sample_weight, validation_data
    cut = int(len(x) * (1.0 - validation_split))
    if cut == 0 or cut == len(x):
        raise ValueError(
            f"{WHERE}: validation_split={validation_split} of {len(x)} samples leaves {cut} for training "
            f"and {len(x) - cut} for validation; both need at least one. "
            f"Received: validation_split={validation_split!r}"
        )
    held = [a[cut:] for a in (x, y) + (() if sample_weight is None else (sample_weight,))]
    held = tuple(np.asarray(a.compute()) if _is_dask(a) else a for a in held)
    return x[:cut], y[:cut], None if sample_weight is None else sample_weight[:cut], held


# ---- the workers --------------------------------------------------------------------------------------
class _Workers:
    """The workers of one fit, each with its replica, reached through a client of our own.

    The fit's client connects straight to the workers (``direct_to_workers``), so weights and
    gradients go from the driver to each worker and back, not through the scheduler; closing it
    at the end releases the replicas and the scattered shards.
    """

    def __init__(self, client, addresses):
        from distributed import Client, get_client

        if client is None:
            try:
                client = get_client()
            except ValueError:
                raise ValueError(
                    f"{WHERE}: no Dask client: pass client=, or create one first "
                    "(distributed.Client(...) or Client(LocalCluster())). Received: client=None"
                ) from None
        if client.asynchronous:
            raise ValueError(f"{WHERE}: needs a synchronous Dask client. Received: an asynchronous client")
        self.client = Client(client.scheduler.address, security=client.security, direct_to_workers=True,
                             set_as_default=False)
        self.requested = addresses
        self.addresses, self.replicas, self.ids, self.sizes = [], [], {}, []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.replicas = []
        self.client.close()
        return False

    def _choose(self):
        known = self._workers_now()
        if self.requested is None:
            chosen = sorted(known)
        else:
            chosen = list(dict.fromkeys(self.requested))
            missing = [a for a in chosen if a not in known]
            if missing or not chosen:
                raise ValueError(
                    f"{WHERE}: workers must name workers of the cluster: {sorted(known)}. Received: "
                    f"workers={self.requested!r}" + (f", unknown {missing}" if missing else "")
                )
        if not chosen:
            raise ValueError(f"{WHERE}: the Dask cluster has no workers. Received: a cluster of 0 workers")
        return chosen, known

    def start(self, model, x, y, sample_weight, class_weight):
        """Place the shards, build the model if needed, and start one replica per worker with data."""
        from distributed import Actor

        chosen, known = self._choose()
        if not model.built:
            model.build((None, *x.shape[1:]))
        parts = _dask_parts(self.client, chosen, x, y, sample_weight) if _is_dask(x) else (
            _numpy_parts(self.client, chosen, x, y, sample_weight)
        )
        data = self.client.scatter(model_to_bytes(model), workers=[a for a, _ in parts], broadcast=True,
                                   direct=True, hash=False)
        seed = int(generator().integers(2**31))
        token = uuid.uuid4().hex[:8]
        futures = [
            self.client.submit(
                Replica, data, xs, ys, ws, rank=rank, seed=seed + rank, class_weight=class_weight, actor=True,
                workers=[address], allow_other_workers=False, pure=False,
                key=f"convolve-dask-fit-replica-{token}-{rank}",
            )
            for rank, (address, (xs, ys, ws)) in enumerate(parts)
        ]
        for future in futures:
            future.result()  # the replica's construction, or its error
        self.addresses = [address for address, _ in parts]
        with self.client.as_current():  # each proxy holds its actor and calls it through our client
            self.replicas = [Actor(Replica, a, f.key) for a, f in zip(self.addresses, futures)]
        self.ids = {a: known[a].get("id") for a in self.addresses}
        self.sizes = [r.info().result()["samples"] for r in self.replicas]
        del data, futures, parts  # the replicas hold the shards now

    def step(self, indices, values, which, context):
        """Each replica's answer to one step (None for a worker with no samples in it)."""
        calls = [
            replica.step(index, values, which) if len(index) else None
            for replica, index in zip(self.replicas, indices)
        ]
        return [None if call is None else self._answer(rank, call, context)
                for rank, call in enumerate(calls)]

    def _answer(self, rank, call, context):
        while True:
            try:
                return call.result(timeout=_POLL_SECONDS)
            except (TimeoutError, asyncio.TimeoutError):
                self._check_alive(context)
            except OSError as error:  # the worker refused the connection: wait for the scheduler to see why
                deadline = time.monotonic() + _CONFIRM_SECONDS
                while time.monotonic() < deadline:
                    self._check_alive(context)
                    time.sleep(_POLL_SECONDS)
                raise WorkerLostError(
                    f"{WHERE}: Dask worker {self._describe(self.addresses[rank])} cannot be reached during "
                    f"{context}; training stops, and the model keeps its weights after the last finished "
                    "step. "
                    f"Received: {error}"
                ) from error

    def _describe(self, address) -> str:
        rank = self.addresses.index(address)
        return f"{address} (rank {rank}, {self.sizes[rank]} samples)"

    def _workers_now(self) -> dict:
        """The scheduler's workers, {address: info}, asked now (the client's cached copy lists none)."""
        return self.client.sync(self.client.scheduler.identity, n_workers=-1)["workers"]

    def _check_alive(self, context):
        now = self._workers_now()
        lost = [a for a in self.addresses if a not in now or now[a].get("id") != self.ids[a]]
        if lost:
            names = ", ".join(map(self._describe, lost))
            raise WorkerLostError(
                f"{WHERE}: Dask worker {names} left the cluster during {context}; training stops, and the "
                "model keeps its weights after the last finished step. Its shard went with it: start the fit "
                "again (from a checkpoint: load_model, then fit with initial_epoch). "
                f"Received: workers now {sorted(now)}"
            )


def _numpy_parts(client, chosen, x, y, sample_weight):
    """[(address, ([x shard], [y shard], [weights or None]))]: contiguous shards, one a worker
    (empty ones left out), each scattered to its worker once."""
    bounds = np.linspace(0, len(x), len(chosen) + 1).round().astype(int)
    parts = []
    for address, start, stop in zip(chosen, bounds[:-1], bounds[1:]):
        if stop == start:
            continue
        arrays = [a[start:stop] for a in (x, y, sample_weight) if a is not None]
        futures = client.scatter(arrays, workers=[address], direct=True, hash=False)
        parts.append((address, ([futures[0]], [futures[1]], futures[2:] or None)))
    return parts


def _dask_parts(client, chosen, x, y, sample_weight):
    """[(address, (x chunks, y chunks, weight chunks or None))]: the chunks that lie on each worker
    once persisted (y and the weights chunked as x, and moved to x's chunk where they lie elsewhere)."""
    import dask.array as da
    from dask.core import flatten
    from distributed import futures_of, wait

    x = x.rechunk({axis: -1 for axis in range(1, x.ndim)})
    rows = x.chunks[0]

    def like_x(a):
        a = a if _is_dask(a) else da.from_array(np.asarray(a), chunks=-1)
        return a.rechunk((rows,) + tuple((n,) for n in a.shape[1:]))

    arrays = [x, like_x(y)] + ([] if sample_weight is None else [like_x(sample_weight)])
    persisted = client.persist(arrays, workers=chosen)
    keyed = [{f.key: f for f in futures_of(a)} for a in persisted]
    chunks = [[futures[key] for key in flatten(a.__dask_keys__())] for a, futures in zip(persisted, keyed)]
    with client.as_current():
        wait(chunks[0])
    where = client.who_has(chunks[0])
    owner = [next((a for a in where[f.key] if a in chosen), chosen[0]) for f in chunks[0]]
    parts = []
    for address in chosen:
        mine = [j for j, o in enumerate(owner) if o == address and rows[j]]
        if mine:
            xs, ys, *ws = ([c[j] for j in mine] for c in chunks)
            parts.append((address, (xs, ys, ws[0] if ws else None)))
    return parts


# ---- the loop ------------------------------------------------------------------------------------------
class _Loop:
    """The training loop on the driver: ``model.fit``'s, with each step done by the workers."""

    def __init__(self, model, group, *, batch_size, steps, shuffle, verbose, validation):
        self.model, self.group = model, group
        self.batch_size, self.steps, self.shuffle, self.verbose = batch_size, steps, shuffle, verbose
        self.validation = validation
        weights = model.weights
        trainable = {id(v) for v in model.trainable_weights}
        self.trainable_index = [i for i, v in enumerate(weights) if id(v) in trainable]
        self.moved = set()  # non-trainable weights that training changes, sent with the weights
        self.costs = {k: [] for k in ("seconds", "worker_seconds", "update_seconds", "bytes_sent",
                                      "bytes_received")}
        self.global_step = 0

    def _orders(self):
        sizes = self.group.sizes
        if self.shuffle:
            return [generator().permutation(n) for n in sizes]
        return [np.arange(n) for n in sizes]

    def run(self, callbacks, initial_epoch, epochs):
        model, verbose = self.model, self.verbose
        steps = len(epoch_plan([np.arange(n) for n in self.group.sizes], self.batch_size, self.steps))
        history = callbacks_module.History()
        cb = callbacks_module.CallbackList(
            list(callbacks or []) + [history], model=model, verbose=verbose, epochs=epochs, steps=steps,
            workers=list(self.group.addresses), shard_sizes=list(self.group.sizes),
        )
        history.communication = self.costs
        model.stop_training = False
        model.history = history
        cb.on_train_begin({})
        epoch = initial_epoch
        try:
            for epoch in range(initial_epoch, epochs):
                logs = self._epoch(cb, epoch, epochs, steps)
                cb.on_epoch_end(epoch, logs)
                if model.stop_training:
                    break
        except KeyboardInterrupt:
            print(f"\nTraining interrupted during epoch {epoch + 1}; the model keeps its weights so far.",
                  file=sys.stdout)
        cb.on_train_end({})
        return history

    def _epoch(self, cb, epoch, epochs, steps):
        model = self.model
        cb.on_epoch_begin(epoch, {})
        if self.verbose:
            print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout, flush=True)
        bar = Progbar(steps, interactive=None if self.verbose == 1 else False) if self.verbose else None
        tracker = metrics_module.Mean(name="loss")
        tallies = np.zeros((len(model.compiled_metrics), 2))
        logs, done, start = {}, 0, time.perf_counter()
        for step, indices in enumerate(epoch_plan(self._orders(), self.batch_size, self.steps)):
            cb.on_train_batch_begin(step, {})
            loss, n, parts = self._step(indices, f"step {step + 1} of epoch {epoch + 1}")
            tracker.update_state(loss, sample_weight=n)
            tallies += parts
            logs = {"loss": tracker.result()}
            logs.update({m.name: (t / c if c else 0.0) for m, (t, c) in zip(model.compiled_metrics, tallies)})
            done = step + 1
            cb.on_train_batch_end(step, logs)
            if bar and done < steps:
                bar.update(done, list(logs.items()))
            if model.stop_training:
                break
        logs = dict(logs)
        data, batch, freq = self.validation
        if data is not None and (epoch + 1) % freq == 0:
            logs.update({f"val_{k}": v for k, v in self._validate(data, batch).items()})
        if bar:
            elapsed = time.perf_counter() - start
            line = f"{done}/{done} - {elapsed:.0f}s {elapsed / max(done, 1) * 1000:.0f}ms/step - "
            bar.finish(line + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def _validate(self, data, batch_size):
        if is_batch_source(data):
            return self.model.evaluate(data, verbose=0, return_dict=True)
        vx, vy, vw = _unpack(data)
        vx, vy, vw = (np.asarray(a.compute()) if _is_dask(a) else a for a in (vx, vy, vw))
        return self.model.evaluate(vx, vy, batch_size=batch_size, sample_weight=vw, verbose=0,
                                   return_dict=True)

    def _step(self, indices, where):
        """One global step: the workers' gradients averaged by their share of the batch and applied.
        Returns (loss, samples, metric sums and counts)."""
        model, weights = self.model, self.model.weights
        self.global_step += 1
        which = self.trainable_index + sorted(self.moved)
        values = [weights[i].value for i in which]
        start = time.perf_counter()
        answers = self.group.step(indices, values, which, f"{where} (step {self.global_step} of this fit)")
        received = time.perf_counter()
        counts = np.array([len(index) for index in indices])
        n = int(counts.sum())
        share = {r: counts[r] / n for r, a in enumerate(answers) if a is not None}
        grads = [_weighted([(share[r], a["grads"][j]) for r, a in enumerate(answers) if a is not None])
                 for j in range(len(self.trainable_index))]
        for i in sorted({i for a in answers if a is not None for i in a["moved"]}):
            current = weights[i].value
            weights[i].assign(_weighted([(share[r], a["moved"].get(i, current))
                                         for r, a in enumerate(answers) if a is not None]))
            self.moved.add(i)
        model.optimizer.apply(grads, model.trainable_weights)
        loss = sum(share[r] * a["loss"] for r, a in enumerate(answers) if a is not None)
        tallies = np.zeros((len(model.compiled_metrics), 2))
        for a in answers:
            if a is not None and a["tallies"]:
                tallies += np.array(a["tallies"], dtype=np.float64)
        self._record(start, received, values, indices, answers)
        return loss, n, tallies

    def _record(self, start, received, values, indices, answers):
        taking = [a for a in answers if a is not None]
        sent = sum(v.nbytes for v in values) * len(taking) + sum(np.asarray(i).nbytes for i in indices)
        back = sum(g.nbytes for a in taking for g in a["grads"] if g is not None)
        back += sum(v.nbytes for a in taking for v in a["moved"].values())
        now = time.perf_counter()
        self.costs["seconds"].append(now - start)
        self.costs["worker_seconds"].append(max(a["seconds"] for a in taking))
        self.costs["update_seconds"].append(now - received)
        self.costs["bytes_sent"].append(sent)
        self.costs["bytes_received"].append(back)


def _weighted(pairs):
    """sum(share * array) in float64, returned in the arrays' dtype (None when every array is None)."""
    pairs = [(s, a) for s, a in pairs if a is not None]
    if not pairs:
        return None
    total = np.zeros(np.shape(pairs[0][1]), dtype=np.float64)
    for s, a in pairs:
        total += s * np.asarray(a, dtype=np.float64)
    return total.astype(np.asarray(pairs[0][1]).dtype)


__all__ = ["fit", "WorkerLostError"]
