"""``predict_files``: the classes a model sees in image files, as a Dask DataFrame, decoded and
predicted on the workers.

    from convolve.dask import predict_files
    table = predict_files(model, "photos/", top=2)          # or "photos/**/*.jpg", or a list
    table.compute()          # pandas: path, class_1, prob_1, class_2, prob_2
    table.to_parquet("predictions/")                          # or .to_csv(...), ...

The rows are ``convolve predict``'s CSV, one per image in the order read (the index: 0 to N - 1,
known divisions): ``path`` as given (a folder's files joined to the folder as written), then the
``top`` most probable classes, most probable first (ties: the lower class index first), each
with its name (``class_names``, else the model's ``class_names``, else ``class 0``, ...) and its
probability (float64).

Which files and how each is prepared is ``convolve.data.model_inputs`` (folders recursively and
sorted, quoted glob patterns, image suffixes only; grey or colour, size and value range from the
model), the same functions ``convolve predict`` uses, so both give the same rows. The file list
is made here, on the client, and the workers open the files by those names: on a cluster of
several machines they must see the same files under the same names (a shared file system).

**Partitions.** Each partition is ``partition_size`` files (a multiple of ``batch_size``, so its
batches are the batches ``convolve predict`` makes): one task reads them, ``batch_size`` at a
time, predicts each batch and returns its rows. Scores that are not probabilities are turned
into probabilities with a softmax, decided from each partition's first batch as ``convolve
predict`` decides from its first (a negative score, or rows not summing to 1). A file that cannot
be read stops the computation with an error naming it and the worker.
"""
from __future__ import annotations

import numpy as np

from . import _transport


def _columns(top: int) -> list:
    return ["path"] + [name for i in range(1, top + 1) for name in (f"class_{i}", f"prob_{i}")]


def _table(paths, probs, names, top: int, start: int):
    """The rows of one partition as a pandas DataFrame indexed from ``start``."""
    import pandas as pd

    from ..data.model_inputs import top_classes

    index = pd.RangeIndex(start, start + len(paths))
    order = np.array([top_classes(row, top) for row in probs], dtype=np.int64).reshape(len(paths), top)
    columns = {"path": pd.Series(list(paths), dtype="str", index=index)}
    for i in range(top):
        columns[f"class_{i + 1}"] = pd.Series([names[c] for c in order[:, i]], dtype="str", index=index)
        chosen = probs[np.arange(len(paths)), order[:, i]] if len(paths) else np.zeros(0)
        columns[f"prob_{i + 1}"] = pd.Series(chosen.astype(np.float64), index=index)
    return pd.DataFrame(columns, index=index)


def _read(path, spec, invert, max_pixels):
    from ..data.model_inputs import read_for_model

    try:
        return read_for_model(path, spec, invert, max_pixels)
    except (OSError, ValueError) as error:
        where = f"convolve.dask: cannot read the image '{path}' on {_transport.here()}"
        raise _transport.same_kind(error, f"{where}: {error}") from error


def _predict_partition(data, digest, paths, start, spec, options):
    """One partition's rows: its files read and predicted ``batch_size`` at a time."""
    from ..data.model_inputs import probabilities

    invert, max_pixels, batch_size, top, names = options
    model = _transport.worker_model(data, digest, "convolve.dask.predict_files")
    parts, softmax = [], None
    for begin in range(0, len(paths), batch_size):
        chunk = paths[begin : begin + batch_size]
        batch = np.concatenate([_read(path, spec, invert, max_pixels) for path in chunk], axis=0)
        probs, softmax = probabilities(model.predict(batch, batch_size=batch_size, verbose=0), softmax)
        parts.append(probs)
    probs = np.concatenate(parts, axis=0) if parts else np.zeros((0, len(names)))
    return _table(paths, probs, names, top, start)


def predict_files(
    model, files, top=1, batch_size=64, partition_size=1024, client=None, class_names=None, invert=False,
    max_pixels="default",
):
    """The ``top`` most probable classes of each image file, as a lazy Dask DataFrame
    (module docstring).

    Args:
        model: a convolve model, a model file's name, or a model file's bytes.
        files: a folder, an image file, a glob pattern (``"photos/**/*.png"``), or a list of them.
        top: how many classes per image.
        batch_size: images read and predicted at a time on a worker.
        partition_size: images per partition (one task); rounded up to a multiple of batch_size.
        client: a ``distributed.Client`` whose workers get the model's bytes now; default: the
            current client, else none (then any of Dask's local schedulers computes it).
        class_names: the name of each class; default the model's ``class_names``, else
            ``class 0``, ``class 1``, ...
        invert: white - pixel (dark objects photographed on light backgrounds).
        max_pixels: the most pixels an image file may have, checked from its header before
            decoding ("default": Pillow's limit on the worker; None: no limit of ours).

    Returns:
        a Dask DataFrame with columns ``path, class_1, prob_1, ..., class_K, prob_K``.
    """
    where = "convolve.dask.predict_files"
    _transport.require_dask(where)
    import dask.dataframe as dd
    from dask.delayed import delayed

    from ..data.model_inputs import check_readable, class_count, image_paths, input_spec
    from ..ops.args import check_int

    top = check_int(top, "top", where)
    batch_size = check_int(batch_size, "batch_size", where)
    partition_size = check_int(partition_size, "partition_size", where)
    partition_size = -(-partition_size // batch_size) * batch_size
    found = _transport.payload(model, where)
    spec = input_spec(found.model)
    count = class_count(found.model)
    if top > count:
        raise ValueError(
            f"{where}: top asks for more classes than the model has ({count}). Received: top={top}"
        )
    names = _names(class_names, getattr(found.model, "class_names", None), count, where)
    if isinstance(files, (list, tuple)) and not files:
        raise ValueError(f"{where}: files names no image. Received: files={files!r}")
    paths = image_paths(files)
    check_readable(paths, spec)
    ref = _transport.reference(found, _transport.current_client(client, where))
    options = (bool(invert), max_pixels, batch_size, top, names)
    starts = range(0, len(paths), partition_size)
    parts = [
        delayed(_predict_partition, pure=True)(
            ref, found.digest, paths[s : s + partition_size], s, spec, options,
            dask_key_name=f"convolve-predict-files-{found.digest[:12]}-{_token(paths, options)}-{k}",
        )
        for k, s in enumerate(starts)
    ]
    meta = _table([], np.zeros((0, count)), names, top, 0)
    divisions = (*starts, len(paths) - 1)
    return dd.from_delayed(parts, meta=meta, divisions=divisions, verify_meta=False)


def _token(paths, options) -> str:
    from dask.base import tokenize

    return tokenize(paths, options)[:12]


def _names(given, model_names, count: int, where: str) -> list:
    """The ``count`` class names: ``given`` (which must have ``count``), else the model's when it
    has ``count``, else ``class 0``, ``class 1``, ..."""
    if given is not None:
        if not isinstance(given, (list, tuple)) or len(given) != count:
            found = f"{len(given)} names" if isinstance(given, (list, tuple)) else f"a {type(given).__name__}"
            raise ValueError(
                f"{where}: class_names must be a list of {count} names, one per class the model scores. "
                f"Received: {found}"
            )
        return [str(name) for name in given]
    if isinstance(model_names, (list, tuple)) and len(model_names) == count:
        return [str(name) for name in model_names]
    return [f"class {i}" for i in range(count)]


def _read_partition(paths, spec, invert, max_pixels):
    if not paths:
        return np.zeros((0, *spec.shape), np.float32)
    return np.concatenate([_read(path, spec, invert, max_pixels) for path in paths], axis=0)


def read_images(model, files, partition_size=1024, invert=False, max_pixels="default"):
    """(paths, a Dask array of the images prepared for ``model``): (N, H, W, C) float32, or
    (N, C, H, W) for a channels_first model, decoded on the workers ``partition_size`` files a
    chunk; the files and their preparation as ``predict_files`` (module docstring). Give the
    array to ``predict`` or ``features``."""
    where = "convolve.dask.read_images"
    _transport.require_dask(where)
    import dask.array as da
    from dask.delayed import delayed

    from ..data.model_inputs import check_readable, image_paths, input_spec
    from ..ops.args import check_int

    partition_size = check_int(partition_size, "partition_size", where)
    if not hasattr(model, "layers"):
        model = _transport.payload(model, where).model
    spec = input_spec(model)
    if isinstance(files, (list, tuple)) and not files:
        raise ValueError(f"{where}: files names no image. Received: files={files!r}")
    paths = image_paths(files)
    check_readable(paths, spec)
    token = _token(paths, (spec, bool(invert), max_pixels))
    chunks = [
        da.from_delayed(
            delayed(_read_partition, pure=True)(
                paths[s : s + partition_size], spec, bool(invert), max_pixels,
                dask_key_name=f"convolve-read-images-{token}-{k}",
            ),
            shape=(len(paths[s : s + partition_size]), *spec.shape), dtype=np.float32,
        )
        for k, s in enumerate(range(0, len(paths), partition_size))
    ]
    return paths, da.concatenate(chunks, axis=0)
