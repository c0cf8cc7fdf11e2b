"""The background load of ``benchmarks/speed.py``'s contention part: NumPy float32 2048 x 2048
products in a loop on 2 BLAS threads (``python _matmul_load.py [threads]``) until SIGTERM.

Prints ``ready`` once the first product is done, and at the end one JSON line:
``{"products": n, "seconds": s, "gflop_per_product": g}``, the products finished since ``ready``.
"""
from __future__ import annotations

import json
import signal
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

SIZE = 2048


def main() -> int:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    threadpool_limits(limits=threads, user_api="blas")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((SIZE, SIZE), dtype=np.float32)
    b = rng.standard_normal((SIZE, SIZE), dtype=np.float32)
    out = np.empty_like(a)
    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    np.matmul(a, b, out=out)
    print("ready", flush=True)
    products, start = 0, time.perf_counter()
    while not stopping:
        np.matmul(a, b, out=out)
        products += 1
    seconds = time.perf_counter() - start
    print(json.dumps({"products": products, "seconds": seconds, "gflop_per_product": 2 * SIZE**3 / 1e9}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
