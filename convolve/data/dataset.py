"""``Dataset``: a re-iterable stream of NumPy elements with the tf.data methods Keras tutorials call.

    ds = Dataset.from_tensor_slices((x, y))                 # element i: (x[i], y[i])
    ds = ds.shuffle(1000, seed=0).batch(32).prefetch(AUTOTUNE)
    for xb, yb in ds:                                       # one pass (epoch); iterate again for the next
        ...
    len(ds)                                                 # batches per pass: ceil(len(x) / 32)

A Dataset is a function that starts a fresh pass (an iterator over the elements) plus its
cardinality, the number of elements in a pass where that is known. Every method returns a new
Dataset wrapping the old one's pass; nothing runs until a pass is iterated.

**Elements** are NumPy arrays (or NumPy scalars: the slices of a 1-D array), or tuples and dicts
of them, nested as the source was: ``from_tensor_slices((x, y))`` gives ``(x[i], y[i])``;
``batch`` stacks each part along a new first axis, ``unbatch`` splits it again. A list is one
array (as in tf.data), not a structure. ``image_dataset_from_directory`` gives ``(images,
labels)`` batches, or ``images`` alone without labels.

**Passes.** ``iter(ds)`` starts a pass; each pass yields the elements once, and a new ``iter``
starts again from the beginning (reshuffled by ``shuffle``, replayed by ``cache``). Several
passes may be open at once; they share nothing but the cache.

**Cardinality** (``ds.cardinality()``): the number of elements of a pass, ``INFINITE`` (-1) after
``repeat()``, or ``UNKNOWN`` (-2) after ``filter`` and ``unbatch``, as tf.data says.
``len(ds)`` is the cardinality where it is known and raises TypeError otherwise, as tf.data
does. ``bool(ds)`` is always True.

Differences from tf.data, by design: elements are NumPy arrays, not tensors; ``map`` runs
``fn`` on NumPy values in the iterating thread (``num_parallel_calls`` is accepted and ignored);
``cache`` keeps elements in memory only (no file), and marks its arrays read-only, since later
passes hand out the same arrays again (tf's tensors are immutable); ``prefetch(AUTOTUNE)`` holds
``PREFETCH_AUTOTUNE`` elements.
"""
from __future__ import annotations

import itertools
import math
import numbers
import queue
import threading

import numpy as np

from ..random import generator

__all__ = ["AUTOTUNE", "INFINITE", "UNKNOWN", "Dataset"]

#: ``prefetch(AUTOTUNE)`` (tf.data.AUTOTUNE): let the dataset choose the buffer
AUTOTUNE = -1
#: the cardinality of an endless dataset (tf.data.INFINITE_CARDINALITY)
INFINITE = -1
#: the cardinality of a dataset whose length cannot be known without a pass (tf.data.UNKNOWN_CARDINALITY)
UNKNOWN = -2
#: the number of elements ``prefetch(AUTOTUNE)`` holds ready
PREFETCH_AUTOTUNE = 2


def _count(value, name, where, minimum=0, minus_one=None):
    """An int >= ``minimum`` (Python or NumPy, not bool); also -1 where ``minus_one`` says what it means."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (value >= minimum or (minus_one and value == -1)):
        return int(value)
    also = f", or -1 ({minus_one})" if minus_one else ""
    raise ValueError(f"{where}: `{name}` must be an integer >= {minimum}{also}. Received: {name}={value!r}")


# ---- element structure: an array, or tuples and dicts of arrays ---------------------------------
def _flatten(element):
    """The arrays of an element, in order (tuples by position, dicts by key order)."""
    if isinstance(element, tuple):
        return [leaf for part in element for leaf in _flatten(part)]
    if isinstance(element, dict):
        return [leaf for key in element for leaf in _flatten(element[key])]
    return [element]


def _pack(structure, leaves):
    """An element shaped like ``structure`` holding the next values of the iterator ``leaves``."""
    if isinstance(structure, tuple):
        return tuple(_pack(part, leaves) for part in structure)
    if isinstance(structure, dict):
        return {key: _pack(value, leaves) for key, value in structure.items()}
    return next(leaves)


def _stack(elements, where):
    """One batch from a list of elements of one structure: each array stacked along a new axis 0."""
    columns = zip(*(_flatten(element) for element in elements))
    stacked = []
    for k, column in enumerate(columns):
        arrays = [np.asarray(value) for value in column]
        shapes = sorted({a.shape for a in arrays})
        if len(shapes) > 1:
            raise ValueError(
                f"{where}: the elements of one batch must have the same shape to be stacked (part {k} of "
                f"the element). Resize them first (image_size=... for image folders, or a map that "
                f"resizes). Received: shapes {', '.join(str(s) for s in shapes)}"
            )
        stacked.append(np.stack(arrays))
    return _pack(elements[0], iter(stacked))


def _call(fn, element):
    """fn(*element) for a tuple element (as tf.data's map and filter do), else fn(element)."""
    return fn(*element) if isinstance(element, tuple) else fn(element)


def _read_only(leaf):
    if not isinstance(leaf, np.ndarray):
        return leaf
    view = leaf.view()  # the caller's own array (from_tensors(x)) stays writable
    view.flags.writeable = False
    return view


def _freeze(element):
    """The element with read-only views of its arrays (the cache hands the same arrays out again)."""
    return _pack(element, (_read_only(leaf) for leaf in _flatten(element)))


class Dataset:
    """A re-iterable stream of elements: ``iter(ds)`` starts one pass (see the module docstring).

    Args:
        start: a function of no arguments that returns an iterator over the elements of one
            fresh pass (a generator function is the usual choice).
        cardinality: the number of elements of a pass, ``INFINITE`` or ``UNKNOWN``.

    Elements are NumPy arrays (never tensors), or tuples/dicts of them; the image batches of
    ``image_dataset_from_directory`` are ``(images, labels)`` with images channels_last,
    ``(batch, height, width, channels)``, or ``(batch, channels, height, width)`` with its
    ``data_format="channels_first"``.

    Attributes ``class_names`` and ``file_paths`` are None except on the datasets that
    ``image_dataset_from_directory`` returns (a new Dataset from a method does not carry them:
    ``map`` may change the labels, ``shuffle`` and ``take`` the files).
    """

    def __init__(self, start, cardinality=UNKNOWN):
        if not callable(start):
            raise TypeError(
                f"Dataset: `start` must be a function that returns an iterator over one pass. "
                f"Received: start={start!r}"
            )
        self._start = start
        self._cardinality = _count(cardinality, "cardinality", "Dataset", minimum=-2)
        self.class_names = None
        self.file_paths = None

    # ---- iteration ---------------------------------------------------------------------------
    def __iter__(self):
        """A fresh pass over the elements."""
        return iter(self._start())

    def as_numpy_iterator(self):
        """A fresh pass (the elements are NumPy already; tf.data's name for the same thing)."""
        return iter(self)

    def cardinality(self) -> int:
        """The number of elements of a pass; ``INFINITE`` (-1) or ``UNKNOWN`` (-2) where not finite/known."""
        return self._cardinality

    def __len__(self):
        n = self._cardinality
        if n == INFINITE:
            raise TypeError(
                "Dataset: the dataset is infinite (repeat() without a count), so it has no length. "
                "Received: cardinality()=-1 (INFINITE)"
            )
        if n == UNKNOWN:
            raise TypeError(
                "Dataset: the dataset's length is unknown without a pass (after filter() or unbatch(), or "
                "made without a cardinality); count the elements of a pass, or use take(n). "
                "Received: cardinality()=-2 (UNKNOWN)"
            )
        return n

    def __bool__(self):
        return True  # not len(): an empty or unknown-length dataset is still a dataset

    def __repr__(self):
        n = {INFINITE: "INFINITE", UNKNOWN: "UNKNOWN"}.get(self._cardinality, self._cardinality)
        return f"<Dataset cardinality={n}>"

    # ---- sources -----------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors):
        """A dataset of the slices of ``tensors`` along their first axis.

        ``tensors`` is an array (or anything ``np.asarray`` takes, such as a list), or a tuple or
        dict of them, nested as you like; every array must have the same first dimension n, and
        element i holds each array's ``[i]`` in the same structure. The arrays are not copied:
        elements are views (NumPy scalars for 1-D arrays).
        """
        where = "Dataset.from_tensor_slices"
        leaves = [np.asarray(leaf) for leaf in _flatten(tensors)]
        scalars = [k for k, leaf in enumerate(leaves) if leaf.ndim == 0]
        if scalars:
            raise ValueError(
                f"{where}: every array must have a first axis to slice along. "
                f"Received: a scalar as part {scalars[0]} of the structure"
            )
        sizes = [leaf.shape[0] for leaf in leaves]
        if len(set(sizes)) > 1:
            raise ValueError(
                f"{where}: every array must have the same first dimension (the number of elements). "
                f"Received: first dimensions {sizes}"
            )
        n = sizes[0]

        def start():
            for i in range(n):
                yield _pack(tensors, (leaf[i] for leaf in leaves))

        return Dataset(start, n)

    @staticmethod
    def from_tensors(tensors):
        """A dataset of one element: ``tensors`` itself (arrays, or a tuple or dict of them)."""
        element = _pack(tensors, (np.asarray(leaf) for leaf in _flatten(tensors)))
        return Dataset(lambda: iter((element,)), 1)

    @staticmethod
    def range(*args):
        """Integers as ``range(*args)`` gives them, as int64 NumPy scalars (tf.data.Dataset.range)."""
        numbers_ = range(*args)
        return Dataset(lambda: (np.int64(i) for i in numbers_), len(numbers_))

    # ---- transformations ----------------------------------------------------------------------
    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        """``map_func`` applied to each element: ``map_func(*element)`` for a tuple element (so
        ``lambda x, y: ...`` for ``(x, y)`` batches), ``map_func(element)`` otherwise.
        ``num_parallel_calls`` and ``deterministic`` are accepted for tf.data's sake; the function
        runs in the iterating thread (decoding images is already parallel)."""
        _check_callable(map_func, "map_func", "Dataset.map")

        def start():
            for element in self:
                yield _call(map_func, element)

        return Dataset(start, self._cardinality)

    def filter(self, predicate):
        """The elements for which ``predicate`` (called as in ``map``) returns True (a bool, or a
        boolean scalar array). The cardinality becomes UNKNOWN."""
        where = "Dataset.filter"
        _check_callable(predicate, "predicate", where)

        def start():
            for element in self:
                keep = np.asarray(_call(predicate, element))
                if keep.shape != () or keep.dtype != np.bool_:
                    raise TypeError(
                        f"{where}: `predicate` must return a boolean scalar (True or False). "
                        f"Received: a value of dtype {keep.dtype} and shape {keep.shape}"
                    )
                if keep:
                    yield element

        return Dataset(start, INFINITE if self._cardinality == INFINITE else UNKNOWN)

    def take(self, count):
        """The first ``count`` elements of each pass (all of them for -1, or when there are fewer)."""
        count = _count(count, "count", "Dataset.take", minus_one="all elements")
        if count == -1:
            return Dataset(self._start, self._cardinality)
        n = self._cardinality
        cardinality = count if n == INFINITE else (UNKNOWN if n == UNKNOWN else min(n, count))

        def start():
            iterator = iter(self)
            try:
                yield from itertools.islice(iterator, count)
            finally:
                _close(iterator)  # now, not when the consumer drops this pass (a prefetch thread waits)

        return Dataset(start, cardinality)

    def skip(self, count):
        """Each pass without its first ``count`` elements (without any for -1)."""
        count = _count(count, "count", "Dataset.skip", minus_one="skip every element")
        n = self._cardinality
        if count == -1:
            return Dataset(lambda: iter(()), 0)
        cardinality = n if n < 0 else max(n - count, 0)

        def start():
            iterator = iter(self)
            try:
                yield from itertools.islice(iterator, count, None)
            finally:
                _close(iterator)

        return Dataset(start, cardinality)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None):
        """Consecutive elements stacked into batches of ``batch_size`` (each array gains a first
        axis); the last batch is smaller unless ``drop_remainder``. Elements of one batch must have
        the same structure and shapes."""
        where = "Dataset.batch"
        batch_size = _count(batch_size, "batch_size", where, minimum=1)
        if not isinstance(drop_remainder, (bool, np.bool_)):
            raise TypeError(f"{where}: `drop_remainder` must be True or False. Received: {drop_remainder!r}")

        def start():
            iterator = iter(self)
            while True:
                elements = list(itertools.islice(iterator, batch_size))
                if not elements or (drop_remainder and len(elements) < batch_size):
                    return
                yield _stack(elements, where)

        n = self._cardinality
        if n < 0:
            cardinality = n
        else:
            cardinality = n // batch_size if drop_remainder else math.ceil(n / batch_size)
        return Dataset(start, cardinality)

    def unbatch(self):
        """Each batch split into its elements along the first axis (the inverse of ``batch``).
        The cardinality becomes UNKNOWN (INFINITE stays INFINITE)."""
        where = "Dataset.unbatch"

        def start():
            for batch in self:
                leaves = [np.asarray(leaf) for leaf in _flatten(batch)]
                sizes = [leaf.shape[0] if leaf.ndim else None for leaf in leaves]
                if None in sizes or len(set(sizes)) > 1:
                    raise ValueError(
                        f"{where}: every array of a batch must have the same first dimension (the batch "
                        f"size). Received: first dimensions {sizes} (None: a scalar)"
                    )
                for i in range(sizes[0]):
                    yield _pack(batch, (leaf[i] for leaf in leaves))

        return Dataset(start, INFINITE if self._cardinality == INFINITE else UNKNOWN)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Elements in random order, drawn from a buffer of ``buffer_size`` (tf.data's algorithm).

        The buffer is filled with the first ``buffer_size`` elements; then each element yielded is
        a uniformly random one from the buffer, whose place the next element takes. A buffer at
        least as large as the dataset gives a uniform permutation; a smaller one moves each
        element at most about ``buffer_size`` places.

        ``seed`` (an int) makes the orders reproducible; None draws one from convolve's global
        generator now (``convolve.utils.set_random_seed`` fixes it). With
        ``reshuffle_each_iteration`` each pass has its own order (pass k of this dataset uses the
        seed and k); without, every pass has the first pass' order.
        """
        where = "Dataset.shuffle"
        buffer_size = _count(buffer_size, "buffer_size", where, minimum=1)
        if seed is not None:
            seed = _count(seed, "seed", where)
        base = seed if seed is not None else int(generator().integers(2**63))
        passes = itertools.count()
        lock = threading.Lock()

        def start():
            with lock:
                k = next(passes) if reshuffle_each_iteration else 0
            return _buffer_shuffle(iter(self), buffer_size, np.random.default_rng([base, k]))

        return Dataset(start, self._cardinality)

    def repeat(self, count=None):
        """The passes of this dataset one after another, ``count`` times (forever for None or -1).

        Each repetition is a new pass of this dataset (so ``shuffle`` before ``repeat`` reshuffles
        each time). An endless repeat of a dataset whose pass yields nothing ends, as in tf.data.
        """
        if count is None:
            count = -1
        count = _count(count, "count", "Dataset.repeat", minus_one="forever")

        def start():
            for _ in range(count) if count >= 0 else itertools.count():
                empty = True
                for element in self:
                    empty = False
                    yield element
                if empty and count < 0:
                    return

        n = self._cardinality
        if count < 0:
            cardinality = 0 if n == 0 else INFINITE
        elif n == INFINITE:
            cardinality = 0 if count == 0 else INFINITE
        else:
            cardinality = n * count if n >= 0 else UNKNOWN
        return Dataset(start, cardinality)

    def cache(self, filename=""):
        """Elements kept in memory by the first complete pass and replayed by every later one.

        The first pass computes the elements (decodes the images, runs the maps) and stores
        them; a pass stopped early stores nothing (the next pass computes again). Later passes
        hand out the same arrays, which are therefore made read-only. Put ``shuffle`` after
        ``cache`` to get a new order each pass. Only memory caching: ``filename`` must be "".
        """
        if filename != "":
            raise ValueError(
                f'Dataset.cache: only the in-memory cache is supported; pass filename="" (the default). '
                f"Received: filename={filename!r}"
            )
        stored = []  # [elements] once a pass completes
        lock = threading.Lock()

        def start():
            with lock:
                done = stored[0] if stored else None
            if done is not None:
                yield from done
                return
            recorded = []
            for element in self:
                element = _freeze(element)
                recorded.append(element)
                yield element
            with lock:
                if not stored:
                    stored.append(recorded)

        return Dataset(start, self._cardinality)

    def prefetch(self, buffer_size):
        """Elements made ahead by a background thread, up to ``buffer_size`` of them waiting.

        ``AUTOTUNE`` (-1) holds ``PREFETCH_AUTOTUNE``; 0 prefetches nothing (the same pass).
        Each pass starts its own thread; it ends with the pass, including a pass the consumer
        stops early (``break``, an exception, the iterator closed or dropped): the consumer tells
        it to stop, and waits for the element it is making. An error raised while making an
        element is raised again in the consumer, at that element, with its traceback.
        """
        where = "Dataset.prefetch"
        buffer_size = _count(buffer_size, "buffer_size", where, minus_one="AUTOTUNE")
        if buffer_size == 0:
            return Dataset(self._start, self._cardinality)
        size = PREFETCH_AUTOTUNE if buffer_size == AUTOTUNE else buffer_size
        return Dataset(lambda: _prefetched(self, size), self._cardinality)


def _close(iterator):
    """End a pass now: a generator's ``finally`` blocks run (a prefetch thread stops)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _check_callable(fn, name, where):
    if not callable(fn):
        raise TypeError(f"{where}: `{name}` must be a function. Received: {name}={fn!r}")


def _buffer_shuffle(iterator, buffer_size, rng):
    """tf.data's shuffle: a random element of a buffer of ``buffer_size``, refilled from ``iterator``."""
    buffer = list(itertools.islice(iterator, buffer_size))
    draws, used = rng.random(1024), 0
    for element in iterator:
        if used == len(draws):
            draws, used = rng.random(1024), 0
        k = int(draws[used] * len(buffer))
        used += 1
        yield buffer[k]
        buffer[k] = element
    for k in rng.permutation(len(buffer)):
        yield buffer[k]


_ELEMENT, _END, _ERROR = "element", "end", "error"


def _prefetched(dataset, size):
    """One pass of ``dataset``, made by a background thread into a queue of ``size`` (a generator).

    Stopping: the consumer sets ``stop`` and then empties the queue, so the producer, whether it
    is waiting to put or still making an element, puts at most one more element (there is room
    now), sees ``stop`` and returns; the consumer joins it. Nothing polls: both sides block on
    the queue.
    """
    items = queue.Queue(maxsize=size)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(dataset, items, stop), name="convolve-prefetch", daemon=True
    )
    thread.start()
    try:
        while True:
            kind, value = items.get()
            if kind == _END:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stop.set()
        while True:
            try:
                items.get_nowait()
            except queue.Empty:
                break
        thread.join()


def _produce(dataset, items, stop):
    """The prefetch thread: the elements of one pass into ``items``, then the end or the error."""
    iterator = None
    try:
        iterator = iter(dataset)
        for element in iterator:
            items.put((_ELEMENT, element))
            if stop.is_set():
                return
        items.put((_END, None))
    except BaseException as error:  # noqa: B036 (raised again in the consumer)
        items.put((_ERROR, error))
    finally:
        _close(iterator)  # a generator pass (a nested prefetch among them) ends here, in its own thread
