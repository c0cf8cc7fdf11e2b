"""The worker plugin of ``cluster.local_cluster`` (this module imports distributed; nothing
imports it until a local cluster starts)."""
from __future__ import annotations

from distributed import WorkerPlugin


class SingleThreadedBLAS(WorkerPlugin):
    """BLAS (and OpenMP) limited to one thread in each worker, through threadpoolctl, when the
    worker starts (also a worker that the nanny restarts)."""

    name = "convolve-single-threaded-blas"

    def setup(self, worker):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # the environment (OPENBLAS_NUM_THREADS=1, ...) did it before start
            return
        self._limits = threadpool_limits(limits=1)
