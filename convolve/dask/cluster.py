"""Clusters for convolve's work: a local one sized for it, or an existing scheduler.

    from convolve.dask import local_cluster
    from distributed import Client
    with local_cluster() as cluster, Client(cluster) as client:    # one worker per core
        ...
    client = Client("tcp://scheduler-host:8786")                    # or a cluster that exists

**local_cluster** starts one worker process per core (the cores this process may use), each
with one thread, and BLAS set to one thread in each: convolve's arithmetic is NumPy's BLAS
products, and N single-threaded processes on N cores neither oversubscribe the cores nor wait on
each other's locks (the GIL, BLAS' thread pool). The thread counts are set in the workers'
environment before they start (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
``MKL_NUM_THREADS``, and ``NUMBA_NUM_THREADS``, for any Numba parallel code in the worker),
and again with threadpoolctl in each worker as it starts (a restarted worker too), which wins
over whatever the environment said. convolve's compiled kernels follow the BLAS count (they
split large arrays over ``ops.blas``'s workers, never Numba's thread pool), so in a worker they
run in the task's own thread.

``client_for(scheduler)`` is what ``convolve predict --scheduler`` uses: "local" starts such a
cluster for the duration; an address ("tcp://host:8786", "host:8786") connects to a running
scheduler (``dask scheduler``, with ``dask worker tcp://host:8786`` on each machine).
``show_progress`` draws Dask's progress bar on standard error while futures compute.
"""
from __future__ import annotations

import contextlib
import os
import sys

#: the environment of local_cluster's workers: one thread for every library that starts threads
WORKER_ENV = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
}


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _require_distributed(where: str):
    try:
        import distributed
    except ImportError:
        raise ImportError(
            f'{where} needs Dask\'s distributed scheduler, which is not installed. Install it with: '
            'pip install "convolve[dask]"'
        ) from None
    return distributed


def local_cluster(n_workers=None, **kwargs):
    """A ``distributed.LocalCluster`` of ``n_workers`` (default: one per core) single-threaded
    worker processes with single-threaded BLAS (module docstring). Other keyword arguments go to
    ``LocalCluster`` (``dashboard_address``, ``memory_limit``, ...); the dashboard listens on a
    free port (``client.dashboard_link``) unless ``dashboard_address`` says which."""
    where = "convolve.dask.local_cluster"
    _require_distributed(where)
    import dask
    from distributed import LocalCluster

    from ..ops.args import check_int
    from ._plugins import SingleThreadedBLAS

    n_workers = cores() if n_workers is None else check_int(n_workers, "n_workers", where)
    kwargs.setdefault("dashboard_address", ":0")  # a free port: two clusters never fight over 8787
    pre_spawn = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_ENV}
    saved = {name: os.environ.get(name) for name in pre_spawn}
    try:
        # set before each worker process starts (and restarts), so before it imports NumPy
        with dask.config.set({"distributed.nanny.pre-spawn-environ": pre_spawn}):
            cluster = LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                **{"env": dict(WORKER_ENV), **kwargs},
            )
    finally:  # distributed writes them into this process's environment too: put it back
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        from distributed import Client

        with Client(cluster) as client:
            client.register_plugin(SingleThreadedBLAS())
    except BaseException:
        cluster.close()
        raise
    return cluster


@contextlib.contextmanager
def client_for(scheduler: str, where: str = "--scheduler"):
    """A ``distributed.Client`` for ``scheduler``: "local" (a ``local_cluster`` for the duration)
    or a scheduler's address; closed afterwards (and the local cluster with it)."""
    _require_distributed(where)
    from distributed import Client

    if scheduler == "local":
        with local_cluster() as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler)
    except (OSError, TimeoutError, ValueError) as error:
        raise OSError(
            f"cannot reach a Dask scheduler at '{scheduler}' ({type(error).__name__}: {error}). Start one "
            "with `dask scheduler` and workers with `dask worker ADDRESS`, or use 'local' for a cluster on "
            f"this machine. Received: {where} {scheduler}"
        ) from None
    with client:
        yield client


def show_progress(futures) -> None:
    """Dask's progress bar for ``futures`` (or collections being computed), on standard error,
    until they finish (``distributed.progress``, which draws on standard output)."""
    from distributed import progress

    with contextlib.redirect_stdout(sys.stderr):
        progress(futures)
    print(file=sys.stderr)
