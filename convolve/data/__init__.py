"""What ``fit``, ``evaluate`` and ``predict`` iterate: arrays, datasets of batches (image
folders), ``PyDataset`` subclasses and Python generators.

Everything here yields plain NumPy batches ``(x, y)`` or ``(x, y, sample_weight)``; the
training loop (``convolve.models.training``) asks ``adapters.py`` for one epoch at a time.
"""
