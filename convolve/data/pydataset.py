"""``PyDataset``: batches from your own Python class (Keras 3's ``keras.utils.PyDataset``).

    class Photos(convolve.utils.PyDataset):
        def __init__(self, paths, labels, batch_size, **kwargs):
            super().__init__(**kwargs)          # workers, use_multiprocessing, max_queue_size
            self.paths, self.labels, self.batch_size = paths, labels, batch_size

        def __len__(self):                      # the number of batches in an epoch
            return math.ceil(len(self.paths) / self.batch_size)

        def __getitem__(self, index):           # batch `index`: (x, y) or (x, y, sample_weight)
            sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
            return load(self.paths[sl]), self.labels[sl]

    model.fit(Photos(paths, labels, 32, workers=4), epochs=5)

``fit`` asks for the batches in order (shuffled when ``shuffle=True``), calls
``on_epoch_begin``/``on_epoch_end`` around each epoch, and with ``workers > 1`` fetches up to
``max_queue_size`` batches ahead on that many threads, or on that many processes with
``use_multiprocessing=True`` (started with "spawn": the class must be importable and
picklable; nothing is forked). Batches still arrive in order.
"""
from __future__ import annotations

import numbers


class PyDataset:
    """Base class of a dataset that makes its own batches: define ``__len__`` (batches per
    epoch) and ``__getitem__(index)`` (one batch), and call ``super().__init__(**kwargs)``."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        where = type(self).__name__
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{where}: `{name}` must be a positive integer. Received: {name}={value!r}")
        if not isinstance(use_multiprocessing, bool):
            raise ValueError(
                f"{where}: `use_multiprocessing` must be True or False. "
                f"Received: use_multiprocessing={use_multiprocessing!r}"
            )
        self._workers = int(workers)
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = int(max_queue_size)

    @property
    def workers(self) -> int:
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self) -> bool:
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self) -> int:
        return getattr(self, "_max_queue_size", 10)

    @property
    def num_batches(self):
        """The number of batches in an epoch: ``len(self)``."""
        return len(self)

    def __len__(self):
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__: the number of batches in an epoch"
        )

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index): one batch")

    def on_epoch_begin(self):
        """Called before each epoch (override to reshuffle, reopen files, ...)."""

    def on_epoch_end(self):
        """Called after each epoch."""
