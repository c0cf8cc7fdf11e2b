"""One epoch of batches at a time, from whatever ``fit``/``evaluate``/``predict`` were given.

    batches = adapt(x, y, sample_weight, batch_size=32, shuffle=True, steps=None, where=...)
    for xb, yb, swb in batches.epoch():      # plain NumPy batches (yb, swb may be None)
        ...
    batches.end_epoch()

Sources, told apart the way Keras does:

* **arrays** (a NumPy array, or a list/tuple/dict of arrays for several inputs): sliced into
  batches of ``batch_size``, in a new random order each epoch with ``shuffle`` (drawn from the
  global generator that ``set_random_seed`` fixes), wrapping around when ``steps`` asks for
  more batches than the data holds;
* a **PyDataset**: ``len(ds)`` batches per epoch, ``ds[i]`` each (order shuffled with
  ``shuffle``), fetched ahead on its ``workers`` threads or processes;
* any other **iterable** (a ``convolve.data.Dataset``, a generator, an iterator, a list of
  batches wrapped in ``iter``): each element is one batch, ``x``, ``(x,)``, ``(x, y)`` or
  ``(x, y, sample_weight)``. Without ``steps`` an epoch is one pass (``iter(source)`` again for
  each epoch; a generator is spent after its first); with ``steps`` the same iterator goes on
  from epoch to epoch, as in Keras, and running out early raises :class:`OutOfData`.

Every batch from a source other than arrays is checked before it is used: the right tuple
structure, and the same shape as the first batch on every axis but the first.
"""
from __future__ import annotations

import math
import queue
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..ops.shapes import format_shape
from ..random import generator
from .pydataset import PyDataset


class OutOfData(Exception):
    """A source ran out before ``steps`` batches (fit stops training, as Keras does)."""


def is_batch_source(x) -> bool:
    """True for what yields batches itself: a PyDataset, or an iterable that is not array data
    (a Dataset, a generator or iterator, a DataLoader-like object)."""
    if isinstance(x, PyDataset):
        return True
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) or hasattr(x, "__array__"):
        return False
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def source_name(x) -> str:
    if isinstance(x, PyDataset):
        return f"a PyDataset ({type(x).__name__})"
    if hasattr(x, "__next__"):
        return f"a generator/iterator ({type(x).__name__})"
    return f"a {type(x).__name__}"


class ArrayBatches:
    """Batches of ``batch_size`` samples sliced from arrays (x may be any object with
    ``len`` and fancy indexing, such as the functional model's several inputs)."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle=False, steps=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size, self.shuffle = batch_size, shuffle
        self.n = len(x)
        self.steps = steps or math.ceil(self.n / batch_size)

    def epoch(self):
        n, size = self.n, self.batch_size
        order = generator().permutation(n) if self.shuffle else None
        for step in range(self.steps):
            start = (step * size) % n
            index = order[start : start + size] if order is not None else slice(start, start + size)
            yield (
                self.x[index],
                None if self.y is None else self.y[index],
                None if self.sample_weight is None else self.sample_weight[index],
            )

    def end_epoch(self):
        pass


class _Checked:
    """Turns a source's elements into (x, y, sample_weight) and checks that they keep one shape."""

    def __init__(self, where, name):
        self.where, self.name = where, name
        self.first = None
        self.count = 0

    def __call__(self, element):
        index = self.count
        self.count += 1
        if isinstance(element, (tuple, list)) and 1 <= len(element) <= 3:
            x, y, sw = (tuple(element) + (None, None))[:3]
        elif isinstance(element, (tuple, list)):
            raise ValueError(
                f"{self.where}: each batch from {self.name} must be x, (x,), (x, y) or "
                f"(x, y, sample_weight). "
                f"Received: batch {index}, a {type(element).__name__} of {len(element)} items"
            )
        else:
            x, y, sw = element, None, None
        shapes = tuple(_shapes(part) for part in (x, y, sw))
        if self.first is None:
            self.first = shapes
        elif shapes != self.first:
            raise ValueError(
                f"{self.where}: every batch from {self.name} must have the shapes of the first batch "
                f"on every axis but the first (the batch axis). Received: batch {index} with "
                f"{_describe(shapes)}; batch 0 had {_describe(self.first)}"
            )
        return x, y, sw


def _shapes(part):
    """The shapes of one part of a batch with the batch axis left out (nested for several inputs)."""
    if part is None:
        return None
    if isinstance(part, dict):
        return tuple((k, _shapes(v)) for k, v in sorted(part.items()))
    if isinstance(part, (list, tuple)) and part and hasattr(part[0], "shape"):
        return tuple(_shapes(p) for p in part)
    shape = np.shape(part)
    return ("ndim", 0) if len(shape) == 0 else tuple(shape[1:])


def _describe(shapes) -> str:
    """``x (None, 28, 28, 1), y (None,)`` for the shapes ``_shapes`` gives."""
    parts = []
    for name, shape in zip(("x", "y", "sample_weight"), shapes):
        if shape is not None:
            plain = all(isinstance(s, int) for s in shape)
            parts.append(f"{name} {format_shape((None, *shape)) if plain else repr(shape)}")
    return ", ".join(parts)


class IterableBatches:
    """Batches that an iterable yields, one element each."""

    def __init__(self, source, steps, where):
        self.source, self.where, self.name = source, where, source_name(source)
        self.fixed_steps = steps
        self.steps = steps if steps is not None else _length(source)
        self._iterator = None

    def epoch(self):
        check = _Checked(self.where, self.name)
        if self.fixed_steps is None:  # one whole pass
            for element in iter(self.source):
                yield check(element)
            if check.count == 0:
                raise OutOfData(
                    f"{self.name} yielded no batches (a generator is used up after one pass: give "
                    "steps_per_epoch, or use a Dataset or a PyDataset, to train for several epochs)"
                )
            return
        if self._iterator is None:
            self._iterator = iter(self.source)
        for step in range(self.fixed_steps):
            try:
                element = next(self._iterator)
            except StopIteration:
                raise OutOfData(
                    f"{self.name} ran out after {step} of the {self.fixed_steps} batches of this epoch"
                ) from None
            yield check(element)

    def end_epoch(self):
        pass


def _length(source):
    try:
        n = len(source)
    except TypeError:
        return None
    return int(n) if n is not None and n >= 0 else None


class PyDatasetBatches:
    """``ds[i]`` for each batch index of an epoch, fetched ahead on the dataset's workers."""

    def __init__(self, dataset, shuffle, steps, where):
        self.dataset, self.shuffle, self.where = dataset, shuffle, where
        self.name = source_name(dataset)
        try:
            n = len(dataset)
        except TypeError as error:
            raise TypeError(
                f"{where}: {self.name} must define __len__ (batches per epoch). Received: {error}"
            ) from None
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{where}: {self.name} must hold at least one batch. Received: len()={n!r}")
        self.n = int(n)
        self.steps = min(steps, self.n) if steps is not None else self.n

    def epoch(self):
        self.dataset.on_epoch_begin()
        order = generator().permutation(self.n)[: self.steps] if self.shuffle else range(self.steps)
        check = _Checked(self.where, self.name)
        for element in _fetch(self.dataset, [int(i) for i in order]):
            yield check(element)

    def end_epoch(self):
        self.dataset.on_epoch_end()


def _get_item(index):  # runs in a worker process (see _fetch)
    return _WORKER_DATASET[index]


_WORKER_DATASET = None


def _init_worker(dataset):
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _fetch(dataset, order):
    """``dataset[i]`` for i in ``order``, in order; with ``workers > 1`` up to ``max_queue_size``
    of them are fetched ahead on threads (or spawned processes with ``use_multiprocessing``)."""
    workers = dataset.workers
    if workers <= 1:
        for i in order:
            yield dataset[i]
        return
    if dataset.use_multiprocessing:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(dataset,),
        )
        submit = lambda i: pool.submit(_get_item, i)  # noqa: E731
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convolve-pydataset")
        submit = lambda i: pool.submit(dataset.__getitem__, i)  # noqa: E731
    ahead = queue.Queue()
    try:
        pending = iter(order)
        for i in pending:  # fill the queue
            ahead.put(submit(i))
            if ahead.qsize() >= max(dataset.max_queue_size, 1):
                break
        while not ahead.empty():
            batch = ahead.get().result()
            following = next(pending, None)
            if following is not None:
                ahead.put(submit(following))
            yield batch
    finally:
        while not ahead.empty():
            ahead.get().cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def adapt(x, y=None, sample_weight=None, *, batch_size=None, shuffle=False, steps=None, where="fit"):
    """The batches of one data source (see the module docstring). ``x``, ``y`` and
    ``sample_weight`` as ``fit`` takes them; arrays must already be checked and of equal length."""
    if isinstance(x, PyDataset):
        return PyDatasetBatches(x, shuffle, steps, where)
    if is_batch_source(x):
        return IterableBatches(x, steps, where)
    return ArrayBatches(x, y, sample_weight, batch_size, shuffle=shuffle, steps=steps)


__all__ = ["OutOfData", "adapt", "is_batch_source", "ArrayBatches", "IterableBatches", "PyDatasetBatches"]
