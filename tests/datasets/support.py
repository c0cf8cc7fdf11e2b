"""Small generated MNIST-style datasets and a local HTTP server for the dataset tests."""
from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading

import numpy as np

from convolve.datasets.idx import write_idx

NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def make_arrays(seed, n_train=6, n_test=4):
    """A tiny dataset of the right kind: uint8 28x28 pictures and labels 0-9."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_dataset(folder, seed, gz=True, keys=tuple(NAMES), n_train=6, n_test=4):
    """Write the four IDX files (or only ``keys``) into ``folder``; return all four arrays."""
    arrays = make_arrays(seed, n_train, n_test)
    os.makedirs(folder, exist_ok=True)
    for key in keys:
        write_idx(os.path.join(folder, NAMES[key] + (".gz" if gz else "")), arrays[key])
    return arrays


def write_npz(path, seed):
    arrays = make_arrays(seed)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        assert got.dtype == np.uint8, key
        np.testing.assert_array_equal(got, arrays[key], err_msg=key)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class LocalServer:
    """An HTTP server on 127.0.0.1 and an ephemeral port serving ``files`` (URL path -> bytes).

    ``requests`` records every path asked for. A path in ``short`` is answered with a
    Content-Length 100 bytes longer than the body, as a dropped connection would be.
    """

    def __init__(self):
        self.files = {}
        self.short = set()
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                extra = 100 if self.path in server.short else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
