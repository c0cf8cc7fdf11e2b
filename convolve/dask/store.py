"""``to_npz``: Dask arrays written into one ``.npz`` file as their row blocks compute, never all
in memory at once.

    maps = features(model, x)                              # {layer name: Dask array (N, ...)}
    to_npz("maps.npz", maps, extra={"paths": np.array(paths)})
    np.load("maps.npz")["conv2d"]                          # (N, H, W, C) float32

The arrays share their row blocks (``features``' arrays come from one forward pass a block), so
row block ``i`` of every array is asked for together and runs its shared tasks once. Each block
is written, as it arrives, into a ``.npy`` file per array (a NumPy memmap in a temporary folder
beside the target); at the end these are copied into an uncompressed zip, the ``.npz``, written
atomically (``_files.atomic_open``). So the client holds a few blocks at a time, and the disk
briefly holds the result twice. The file loads with ``np.load`` (no pickles: the arrays are
numbers, and the extra arrays must not be objects).

With a ``distributed.Client`` (``client``, else the current one) the blocks compute on its
workers and are written in the order they finish; without one they compute on Dask's local
scheduler, ``cores`` blocks at a time.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from . import _transport


def _row_blocks(arrays: dict, where: str) -> list:
    """[[Delayed block i of each array] for each row block i]; the arrays' row chunks must agree."""
    chunks = {name: array.chunks[0] for name, array in arrays.items()}
    first = next(iter(chunks.values()))
    if any(c != first for c in chunks.values()):
        raise ValueError(f"{where}: the arrays must have the same row chunks. Received: {chunks}")
    for name, array in arrays.items():
        if any(len(c) != 1 for c in array.chunks[1:]):
            arrays[name] = array.rechunk({axis: -1 for axis in range(1, array.ndim)})
    per_array = [array.to_delayed().reshape(-1) for array in arrays.values()]
    return [list(blocks) for blocks in zip(*per_array)]


def to_npz(path, arrays: dict, extra=None, client=None, progress=False):
    """Write ``arrays`` ({name: Dask array}, the same row chunks) and ``extra`` ({name: NumPy
    array}) into the ``.npz`` file ``path``, one row block at a time (module docstring).
    ``progress``: show Dask's progress bar on standard error."""
    where = "convolve.dask.to_npz"
    _transport.require_dask(where)
    import dask.array as da

    path = os.fspath(path)
    extra = dict(extra or {})
    if not path.lower().endswith(".npz"):
        raise ValueError(f"{where}: the file name must end with .npz. Received: path={path!r}")
    if not arrays or not all(isinstance(a, da.Array) for a in arrays.values()):
        raise TypeError(f"{where}: arrays must be a non-empty dict of Dask arrays. Received: {arrays!r}")
    both = sorted(set(arrays) & set(extra))
    if both:
        raise ValueError(f"{where}: a name may be used once, in arrays or extra. Received: both have {both}")
    arrays = dict(arrays)
    for name, array in arrays.items():
        if any(np.isnan(n) for n in array.shape):
            raise ValueError(f"{where}: the arrays' shapes must be known. Received: {name!r}, {array.shape}")
    rows = _row_blocks(arrays, where)
    starts = np.concatenate([[0], np.cumsum(next(iter(arrays.values())).chunks[0])]).astype(int)
    client = _transport.current_client(client, where)
    folder = tempfile.mkdtemp(prefix=".convolve-npz-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        maps = {
            name: np.lib.format.open_memmap(
                os.path.join(folder, f"{k}.npy"), mode="w+", dtype=array.dtype, shape=array.shape
            )
            for k, (name, array) in enumerate(arrays.items())
        }
        names = list(arrays)

        def write(i, blocks):
            for name, block in zip(names, blocks):
                maps[name][starts[i] : starts[i + 1]] = block

        if client is not None:
            _compute_on(client, rows, write, progress)
        else:
            _compute_here(rows, write, progress)
        for mm in maps.values():
            mm.flush()
        maps.clear()  # closes the memmaps
        _zip(path, folder, names, extra)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _compute_on(client, rows, write, progress) -> None:
    from distributed import as_completed

    futures = client.compute([row for row in rows])
    index = {future.key: i for i, future in enumerate(futures)}
    bar = None
    if progress:
        import threading

        from .cluster import show_progress

        bar = threading.Thread(target=show_progress, args=(futures,), daemon=True)
        bar.start()
    try:
        for future, blocks in as_completed(futures, with_results=True):
            write(index[future.key], blocks)
            future.release()
    finally:
        if bar is not None:
            bar.join(timeout=5)


def _compute_here(rows, write, progress) -> None:
    import contextlib
    import sys

    import dask

    from .cluster import cores

    step = cores()
    bar = contextlib.nullcontext()
    if progress:
        from dask.diagnostics import ProgressBar

        bar = ProgressBar(out=sys.stderr)
    with bar:
        for begin in range(0, len(rows), step):
            for i, blocks in enumerate(dask.compute(*rows[begin : begin + step]), start=begin):
                write(i, blocks)


def _zip(path, folder, names, extra) -> None:
    """The .npz: each array's .npy copied in, then the extra arrays; stored, not compressed."""
    import io
    import zipfile

    from .._files import atomic_open

    with atomic_open(path) as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for k, name in enumerate(names):
            with open(os.path.join(folder, f"{k}.npy"), "rb") as src:
                with archive.open(f"{name}.npy", "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        for name, value in extra.items():
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(value), allow_pickle=False)
            archive.writestr(f"{name}.npy", buffer.getvalue())
