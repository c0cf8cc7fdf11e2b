"""``predict`` and ``features`` on Dask arrays: lazily, one task per chunk of rows.

    import dask.array as da
    from convolve.dask import predict, features
    x = da.from_array(images, chunks=(2048, 28, 28, 1))
    probs = predict(model, x)                        # a Dask array (N, 10), nothing computed yet
    probs.compute()                                  # == model.predict(images)
    maps = features(model, x, layers=["conv2d"])     # {"conv2d": Dask array (N, 26, 26, 32)}

**Chunks.** ``x`` keeps its chunks along the batch axis (its first); its other axes are
rechunked whole, so each task holds whole images: one task per row block, computing
``model.predict(block, batch_size=batch_size)`` there. Row blocks are the unit of work and of
failure (a lost block is recomputed): thousands of small images a block keep the per-task cost
(a few milliseconds) small beside the work; ``x.rechunk({0: rows})`` changes them.

**The model** travels as its safetensors bytes, once per worker, and is loaded once per worker
process (``_transport.py``). The result is lazy; with a ``distributed.Client`` (``client``, else
the current one) the bytes are scattered to its workers at once and the result is bound to that
client; without one it computes on any of Dask's local schedulers (threaded, synchronous,
processes).

**features** runs ``convolve.viz.feature_maps`` once per row block and gives each chosen layer's
output as its own Dask array; the arrays share those tasks, so computing several of them
together (``dask.compute(*maps.values())``) runs the model once per block.
"""
from __future__ import annotations

import numpy as np

from . import _transport


def _dask_array(x, where: str):
    """``x`` as a Dask array with whole non-batch axes, or a TypeError."""
    import dask.array as da

    if not isinstance(x, da.Array):
        raise TypeError(
            f"{where}: x must be a Dask array (dask.array.from_array(images, chunks=(rows, ...)), or "
            "dask.array.from_zarr, from_delayed, ...): one task per chunk of rows. "
            f"Received: {type(x).__name__}"
        )
    if x.ndim < 2:
        raise ValueError(f"{where}: x must have a batch axis and an input's axes. Received: shape {x.shape}")
    if any(np.isnan(size) for size in x.shape[1:]):
        raise ValueError(
            f"{where}: every axis of x but the first must have a known size. Received: shape {x.shape}"
        )
    whole = {axis: -1 for axis in range(1, x.ndim) if len(x.chunks[axis]) > 1}
    return x.rechunk(whole) if whole else x


def _blocks(x, function, *args, out_shape, dtype, meta=None):
    """``function(block, *args)`` on each row block of ``x``; its result has ``out_shape`` per row."""
    return x.map_blocks(
        function, *args, dtype=dtype, chunks=(x.chunks[0], *((n,) for n in out_shape)),
        drop_axis=list(range(1, x.ndim)), new_axis=list(range(1, 1 + len(out_shape))),
        meta=np.empty((0, *out_shape), dtype) if meta is None else meta,
    )


def _item(block, key):
    """One entry of a block's dict (or list) of outputs."""
    return block[key]


def _split(base, shapes: dict):
    """{key: Dask array} of each entry of ``base``'s per-block dicts or lists, ``shapes`` giving
    each entry's (per-row shape, dtype)."""
    return {
        key: _blocks(base, _item, key, out_shape=shape, dtype=dtype)
        for key, (shape, dtype) in shapes.items()
    }


# ---- predict ---------------------------------------------------------------------------------------------
def _predict_block(block, data, digest, batch_size):
    model = _transport.worker_model(data, digest, "convolve.dask.predict")
    return model.predict(block, batch_size=batch_size, verbose=0)


def predict(model, x, batch_size=32, client=None):
    """``model.predict`` of a Dask array, lazily, one task per row block (module docstring).

    Args:
        model: a convolve model, a model file's name, or a model file's bytes.
        x: a Dask array (N, ...) of inputs; its row chunks are kept, its other axes made whole.
        batch_size: the batch size of ``model.predict`` inside each task.
        client: a ``distributed.Client`` whose workers get the model's bytes now; default: the
            current client, else none (then any of Dask's local schedulers computes it).

    Returns:
        a Dask array (N, ...) of the model's output, chunked as ``x`` by rows; a list of them for
        a model with several outputs.
    """
    where = "convolve.dask.predict"
    _transport.require_dask(where)
    from ..ops.args import check_int

    batch_size = check_int(batch_size, "batch_size", where)
    found = _transport.payload(model, where)
    x = _dask_array(x, where)
    empty = found.model.predict(np.zeros((0, *x.shape[1:]), x.dtype), verbose=0)  # shapes checked here
    ref = _transport.reference(found, _transport.current_client(client, where))
    if not isinstance(empty, list):
        return _blocks(
            x, _predict_block, ref, found.digest, batch_size, out_shape=empty.shape[1:], dtype=empty.dtype
        )
    base = _blocks(
        x, _predict_block, ref, found.digest, batch_size, out_shape=(), dtype=object,
        meta=np.empty((0,), object),
    )
    outputs = _split(base, {i: (out.shape[1:], out.dtype) for i, out in enumerate(empty)})
    return [outputs[i] for i in range(len(empty))]


# ---- features --------------------------------------------------------------------------------------------
def _features_block(block, data, digest, names):
    from ..viz.plots import feature_maps

    model = _transport.worker_model(data, digest, "convolve.dask.features")
    return feature_maps(model, block, names)


def _layer_names(model, layers, where) -> list | None:
    """``layers`` (a name, an index, a layer, or a list of them) as names of ``model``'s layers,
    which travel to the workers (the layer objects are the client's)."""
    if layers is None:
        return None
    items = layers if isinstance(layers, (list, tuple)) else [layers]
    names = []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not -len(model.layers) <= item < len(model.layers):
                raise ValueError(
                    f"{where}: the model has {len(model.layers)} layers; a layer index must be below that. "
                    f"Received: layers={layers!r}"
                )
            names.append(model.layers[item].name)
        elif isinstance(item, str):
            names.append(item)
        elif hasattr(item, "name"):
            names.append(item.name)
        else:
            raise TypeError(
                f"{where}: layers must be names, indices or layers of the model. Received: {item!r}"
            )
    return names


def features(model, x, layers=None, client=None):
    """The outputs of chosen layers (``convolve.viz.feature_maps``) for a Dask array, lazily.

    Args:
        model: a convolve model, a model file's name, or a model file's bytes.
        x: a Dask array (N, ...) of inputs; its row chunks are kept, its other axes made whole.
        layers: as for ``feature_maps``: a layer's name, index or the layer, or a list of them;
            default every convolution and pooling layer.
        client: as for ``predict``.

    Returns:
        ``{layer name: Dask array (N, ...)}`` in the order of ``model.layers`` (a layer called
        twice in a functional model adds ``name[1]``); each block comes from one forward pass.
    """
    where = "convolve.dask.features"
    _transport.require_dask(where)
    from ..viz.plots import feature_maps

    found = _transport.payload(model, where)
    x = _dask_array(x, where)
    names = _layer_names(found.model, layers, where)
    one = feature_maps(found.model, np.zeros((1, *x.shape[1:]), x.dtype), names)  # names checked here
    ref = _transport.reference(found, _transport.current_client(client, where))
    base = _blocks(
        x, _features_block, ref, found.digest, names, out_shape=(), dtype=object, meta=np.empty((0,), object)
    )
    return _split(base, {name: (out.shape[1:], out.dtype) for name, out in one.items()})
