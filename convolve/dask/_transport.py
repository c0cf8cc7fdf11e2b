"""How a model gets to the workers: as the bytes of its ``.safetensors`` file, never pickled.

* **On the client** (``payload``): a model object is written to bytes in memory
  (``saving.native.model_bytes``, without its optimizer state: inference does not need it),
  and named by the digest of its contents (``content_digest``). A file name or bytes are read
  and loaded once here too, to check them and to learn the model's shapes before anything is
  sent.
* **Travelling** (``reference``): with a ``distributed.Client`` (the one given, else the current
  one), the bytes are scattered to every worker once (``broadcast=True``; ``hash=True``, so the
  same model scattered twice is one piece of data) and the tasks refer to that future. Without
  one (Dask's threaded, synchronous or multiprocessing schedulers), the bytes are one key of
  the graph, which every task depends on. Either way the bytes sit in each worker's memory
  once, however many tasks use them; each task carries only the digest besides.
* **On a worker** (``worker_model``): the model is loaded from the bytes once per process and
  cached under the digest, so the tasks of every thread of that process share it (loading
  holds a lock: two threads never both load it). Inference records nothing and keeps no state
  between calls (the recording tape is per thread), so threads may share one model. The cache
  keeps the ``MAX_CACHED`` models used last, so a long-lived worker does not fill up with them.
"""
from __future__ import annotations

import json
import os
import struct
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

#: models each worker process keeps loaded (the ones used last)
MAX_CACHED = 4

_lock = threading.Lock()
_models: OrderedDict = OrderedDict()
#: how many times each digest was loaded in this process (the tests count them)
loads: Counter = Counter()


def require_dask(where: str):
    """``dask`` itself, or ImportError naming the extra that installs it."""
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError:
        raise ImportError(
            f'{where} needs Dask, which is not installed. Install it with: pip install "convolve[dask]"'
        ) from None
    return dask


@dataclass(frozen=True)
class Payload:
    """A model as it travels: its bytes, the digest of its contents (hex), and the model object on
    the client."""

    data: bytes
    digest: str
    model: object


def payload(model, where: str) -> Payload:
    """The Payload of a model object, a model file's name or a model file's bytes (loaded here
    once: checked, and what the workers get is written from it, without optimizer state)."""
    from ..saving import load_model
    from ..saving.native import model_bytes

    if isinstance(model, (str, os.PathLike)):
        from ..saving.guards import checked_path

        model = load_model(checked_path(model, where), compile=False)
    elif isinstance(model, (bytes, bytearray, memoryview)):
        model = load_model(model, compile=False)
    elif not (hasattr(model, "layers") and hasattr(model, "predict") and hasattr(model, "get_config")):
        raise TypeError(
            f"{where}: expected a convolve model (Sequential or Model), a model file's name or its bytes. "
            f"Received: {type(model).__name__}"
        )
    data = model_bytes(model, include_optimizer=False)
    return Payload(data, content_digest(data), model)


def content_digest(data: bytes) -> str:
    """The digest of what a model file holds: its ``metadata_sha256``, a SHA-256 over its
    architecture, settings, class names and ``tensors_sha256`` (each tensor's name, dtype, shape
    and bytes). Unlike a hash of the bytes it is the same for every serialisation of one model
    (safetensors writes its header's keys in no fixed order), so the workers' cache finds it."""
    (size,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + size])["__metadata__"]["metadata_sha256"]


def current_client(client, where: str):
    """The ``distributed.Client`` to scatter with: ``client`` when given, else the current one,
    else None (Dask's local schedulers)."""
    if client is not None:
        try:
            from distributed import Client
        except ImportError:
            Client = None
        if Client is None or not isinstance(client, Client):
            raise TypeError(
                f"{where}: client must be a distributed.Client or None (the current client, else Dask's "
                f"local scheduler). Received: client={client!r}"
            )
        return client
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client in this process
        return None


def reference(found: Payload, client):
    """What the tasks name to get the bytes: a scattered future, or one key of the graph."""
    if client is not None:
        return client.scatter(found.data, broadcast=True, hash=True)
    from dask.delayed import delayed

    return delayed(found.data, name=f"convolve-model-{found.digest}", pure=True)


def here() -> str:
    """Where this task runs, for messages: the worker's address, or this process."""
    try:
        from distributed import get_worker

        return f"the worker {get_worker().address}"
    except (ImportError, ValueError):
        return f"the worker (process {os.getpid()})"


def worker_model(data: bytes, digest: str, where: str):
    """The model ``data`` holds, loaded once per process and cached under ``digest``."""
    with _lock:
        model = _models.get(digest)
        if model is not None:
            _models.move_to_end(digest)
            return model
        try:
            from ..saving import load_model

            model = load_model(data, compile=False)  # checks the bytes against their checksums
        except Exception as error:
            raise same_kind(
                error,
                f"{where}: the model (sha256 {digest[:16]}..., {len(data):,} bytes) could not be loaded on "
                f"{here()}: {error}. Received: {type(error).__name__}",
            ) from error
        _models[digest] = model
        loads[digest] += 1
        while len(_models) > MAX_CACHED:
            _models.popitem(last=False)
        return model


def same_kind(error: BaseException, message: str) -> Exception:
    """An exception of ``error``'s broad kind (ImportError, OSError, ValueError, TypeError, else
    RuntimeError) with ``message``: what a worker raises travels back to the client as it is."""
    for kind in (ImportError, OSError, ValueError, TypeError):
        if isinstance(error, kind):
            return kind(message)
    return RuntimeError(message)
