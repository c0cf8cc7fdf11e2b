"""convolve on Dask: many images, many machines (``pip install "convolve[dask]"``).

    import dask.array as da
    from distributed import Client
    from convolve.dask import features, local_cluster, predict, predict_files

    with local_cluster() as cluster, Client(cluster):              # or Client("tcp://host:8786")
        probs = predict(model, da.from_array(x, chunks=(2048, 28, 28, 1))).compute()
        table = predict_files(model, "photos/", top=2).compute()   # path, class_1, prob_1, ...

* ``predict(model, x)``: a Dask array in, a Dask array out, one task per chunk of rows
  (``arrays.py``); ``features(model, x, layers)``: ``{layer name: Dask array}``;
* ``predict_files(model, files)``: image files decoded and predicted on the workers, as a Dask
  DataFrame in ``convolve predict``'s CSV schema; ``read_images(model, files)``: the files as a
  Dask array prepared for the model, decoded on the workers (``files.py``);
* ``to_npz(path, arrays)``: Dask arrays written into one ``.npz`` block by block (``store.py``);
* ``fit(model, x, y, client=...)``: data-parallel training (``fit.py``);
* ``local_cluster()``: one single-threaded worker process per core (``cluster.py``).

They work with any ``distributed.Client`` (the current one when none is given) and, except fit,
with Dask's local schedulers (threaded, synchronous, processes). A model travels to the workers
as its ``.safetensors`` bytes, once per worker, and is loaded once per worker process
(``_transport.py``); it is never pickled.

Importing this package does not import Dask (its modules import it inside their functions), so
``import convolve`` and ``import convolve.dask`` stay light, and a missing Dask is an
ImportError naming the extra when a function is called. The functions are imported eagerly
from their modules: a function imported on first call under the name of its module (``fit``
from ``fit.py``) would be replaced by the module the first time anything imports that module
(``from convolve.dask.fit import ...``), as Python binds a submodule on its package.
"""
from __future__ import annotations

from .arrays import features, predict
from .cluster import local_cluster
from .files import predict_files, read_images
from .store import to_npz

try:
    from .fit import fit
except ModuleNotFoundError as error:  # data-parallel training not written yet
    if error.name != f"{__name__}.fit":
        raise

    def fit(*args, **kwargs):
        raise NotImplementedError("convolve.dask.fit is not available in this version of convolve")


__all__ = ["predict", "features", "predict_files", "read_images", "to_npz", "fit", "local_cluster"]
