"""What ``fit``, ``evaluate`` and ``predict`` iterate: arrays, datasets of batches (image
folders), ``PyDataset`` subclasses and Python generators.

Everything here yields plain NumPy batches ``(x, y)`` or ``(x, y, sample_weight)``; the
training loop (``convolve.models.training``) asks ``adapters.py`` for one epoch at a time.

* ``dataset.py``: ``Dataset``, a re-iterable stream of NumPy elements with tf.data's methods
  (``map``, ``batch``, ``shuffle``, ``cache``, ``prefetch``, ...), and ``AUTOTUNE``;
* ``directory.py``: ``image_dataset_from_directory``, a Dataset of image batches from class
  folders, decoded lazily;
* ``image_utils.py``: Keras' ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``;
* ``pydataset.py``: ``PyDataset``, batches from your own class; ``adapters.py``: one epoch of
  batches from any of these.
"""
from .dataset import AUTOTUNE, INFINITE, UNKNOWN, Dataset
from .directory import image_dataset_from_directory
from .image_utils import array_to_img, img_to_array, load_img, save_img
from .pydataset import PyDataset

__all__ = [
    "AUTOTUNE", "INFINITE", "UNKNOWN", "Dataset", "image_dataset_from_directory",
    "PyDataset", "array_to_img", "img_to_array", "load_img", "save_img",
]
