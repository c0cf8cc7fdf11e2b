"""Downloads, against an HTTP server on 127.0.0.1 (an ephemeral port) serving small generated files.

The checksum tables are monkeypatched with the generated files' sums; no other host is contacted.
"""
import gzip
import io
import os
import re
import sys
import types

import numpy as np
import pytest

from convolve.datasets import DatasetNotFoundError, _download, fashion_mnist, mnist

from .support import NAMES, assert_loaded, closed_port_url, make_arrays, md5, sha256


def _gz_idx(array):
    """The bytes of ``array`` as a gzipped IDX file, as the mirrors serve them."""
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.tobytes(), mtime=0)


def _publish(server, monkeypatch, module, folder, seed=0, use_md5=False):
    """Serve a generated dataset under ``/<folder>/`` and put its checksums in the module's table."""
    arrays = make_arrays(seed)
    checksums = {}
    for key, name in NAMES.items():
        body = _gz_idx(arrays[key])
        server.files[f"/{folder}/{name}.gz"] = body
        checksums[name + ".gz"] = md5(body) if use_md5 and key == "y_train" else sha256(body)
    monkeypatch.setattr(module, "CHECKSUMS", checksums)
    return arrays


def _cache(tmp_path, name):
    return tmp_path / "home" / ".convolve" / "datasets" / name


@pytest.mark.parametrize(
    "module, name", [(mnist, "mnist"), (fashion_mnist, "fashion-mnist")], ids=["mnist", "fashion_mnist"]
)
def test_download_success(server, tmp_path, monkeypatch, module, name):
    arrays = _publish(server, monkeypatch, module, "files", use_md5=True)
    monkeypatch.delenv("CONVOLVE_DATASETS_MIRROR")
    monkeypatch.setattr(module, "MIRRORS", [server.url + "/files"])  # no trailing slash: one is added
    assert_loaded(module.load_data(), arrays)
    cache = _cache(tmp_path, name)
    assert sorted(os.listdir(cache)) == sorted(n + ".gz" for n in NAMES.values())  # no .part files
    assert sorted(server.requests) == sorted(f"/files/{n}.gz" for n in NAMES.values())
    assert_loaded(module.load_data(), arrays)  # the second time from the cache
    assert len(server.requests) == 4


def test_environment_variable_overrides_the_mirrors(server, tmp_path, monkeypatch):
    mnist_arrays = _publish(server, monkeypatch, mnist, "mnist", seed=1)
    fashion_arrays = _publish(server, monkeypatch, fashion_mnist, "fashion-mnist", seed=2)
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/{name}/")
    assert_loaded(mnist.load_data(), mnist_arrays)
    assert_loaded(fashion_mnist.load_data(), fashion_arrays)
    assert len(server.requests) == 8


def test_next_mirror_after_a_failure(server, tmp_path, monkeypatch):
    arrays = _publish(server, monkeypatch, mnist, "good")
    monkeypatch.delenv("CONVOLVE_DATASETS_MIRROR")
    mirrors = [closed_port_url(), server.url + "/missing/", server.url + "/good/"]
    monkeypatch.setattr(mnist, "MIRRORS", mirrors)
    assert_loaded(mnist.load_data(), arrays)
    assert server.requests.count("/missing/train-images-idx3-ubyte.gz") == 1


def test_only_missing_files_are_downloaded(server, tmp_path, monkeypatch):
    arrays = _publish(server, monkeypatch, mnist, "m")
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/m/")
    cache = _cache(tmp_path, "mnist")
    cache.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (cache / name).write_bytes(server.files["/m/" + name])
    assert_loaded(mnist.load_data(), arrays)
    assert sorted(server.requests) == ["/m/t10k-images-idx3-ubyte.gz", "/m/train-labels-idx1-ubyte.gz"]


def test_checksum_mismatch_keeps_nothing(server, tmp_path, monkeypatch):
    _publish(server, monkeypatch, fashion_mnist, "f")
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/f/")
    monkeypatch.setitem(fashion_mnist.CHECKSUMS, "train-labels-idx1-ubyte.gz", "sha256:" + "0" * 64)
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    assert "Fashion-MNIST is not on this machine and the download failed." in message
    assert re.search(
        rf"  - {re.escape(server.url)}/f/train-labels-idx1-ubyte.gz: SHA256 mismatch: "
        rf"expected 0{{64}}, got [0-9a-f]{{64}} \(\d+ bytes\); the file was not kept",
        message,
    ), message
    assert isinstance(info.value.__cause__, _download.DownloadError)
    cache = _cache(tmp_path, "fashion-mnist")
    assert sorted(os.listdir(cache)) == ["train-images-idx3-ubyte.gz"]  # the one before it; no .part file


def test_md5_mismatch(server, tmp_path, monkeypatch):
    _publish(server, monkeypatch, mnist, "m")
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/m/")
    monkeypatch.setitem(mnist.CHECKSUMS, "train-images-idx3-ubyte.gz", "md5:" + "f" * 32)
    with pytest.raises(DatasetNotFoundError, match=r"MD5 mismatch: expected f{32}, got [0-9a-f]{32}"):
        mnist.load_data()
    assert not _cache(tmp_path, "mnist").exists() or os.listdir(_cache(tmp_path, "mnist")) == []


def test_server_404(server, tmp_path, monkeypatch):
    _publish(server, monkeypatch, mnist, "m")
    del server.files["/m/t10k-images-idx3-ubyte.gz"]
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/m/")
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "MNIST is not on this machine and the download failed." in message
    assert (
        f"Downloading t10k-images-idx3-ubyte.gz failed from every mirror:\n"
        f"  - {server.url}/m/t10k-images-idx3-ubyte.gz: HTTP error 404 (Not Found)"
    ) in message
    cached = sorted(os.listdir(_cache(tmp_path, "mnist")))
    assert cached == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_transfer_cut_short(server, tmp_path, monkeypatch):
    _publish(server, monkeypatch, mnist, "m")
    server.short.add("/m/train-images-idx3-ubyte.gz")
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/m/")
    size = len(server.files["/m/train-images-idx3-ubyte.gz"])
    message = f"the transfer stopped after {size} of {size + 100} bytes"
    with pytest.raises(DatasetNotFoundError, match=re.escape(message)):
        mnist.load_data()
    assert os.listdir(_cache(tmp_path, "mnist")) == []


@pytest.mark.parametrize("module", [mnist, fashion_mnist], ids=["mnist", "fashion_mnist"])
def test_offline_message(tmp_path, monkeypatch, module):
    url = closed_port_url()
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", url)
    monkeypatch.setenv("CONVOLVE_DATA", str(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError) as info:
        module.load_data()
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    title, name = ("MNIST", "mnist") if module is mnist else ("Fashion-MNIST", "fashion-mnist")
    cache = _cache(tmp_path, name)
    assert message.startswith(f"{title} is not on this machine and this machine seems to be offline.\n")
    assert (
        "Looked for train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte, each plain or gzipped (.gz)"
    ) in message
    assert f"  1. {tmp_path / 'data'}  [$CONVOLVE_DATA: no such folder]" in message
    assert f"{cache}  [convolve's download folder: no such folder]" in message
    assert f"{url}train-images-idx3-ubyte.gz: could not connect (" in message
    assert f"To use {title} offline, put the four files into {cache}" in message
    assert "CONVOLVE_DATA environment variable" in message and "load_data(path=folder)" in message
    assert "set CONVOLVE_DATASETS_MIRROR to its base URL" in message
    assert ("apt-get install dataset-fashion-mnist" in message) == (module is fashion_mnist)
    assert ("fashion_mnist.load_subset()" in message) == (module is fashion_mnist)
    assert not cache.exists() or os.listdir(cache) == []


def test_unwritable_download_folder(tmp_path, monkeypatch):
    cache = _cache(tmp_path, "mnist")
    cache.mkdir(parents=True)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    message = f"Cannot download train-images-idx3-ubyte.gz: the folder {str(cache)!r} is not writable."
    with pytest.raises(PermissionError, match=re.escape(message)):
        mnist.load_data()


def test_line_progress_without_tqdm(server, tmp_path, monkeypatch, capsys):
    arrays = _publish(server, monkeypatch, mnist, "m")
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/m/")
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails as if not installed
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert_loaded(mnist.load_data(), arrays)
    err = capsys.readouterr().err
    size = len(server.files["/m/train-images-idx3-ubyte.gz"])
    assert f"Downloading train-images-idx3-ubyte.gz ({size / 1e3:.1f} kB)\n" in err
    assert err.count("Downloading ") == 4


def test_line_progress_on_a_terminal(monkeypatch):
    stream = io.StringIO()
    stream.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", stream)
    bar = _download._LineProgress("f.gz", 2_000_000)
    bar.update(1_000_000)
    bar.close()
    assert stream.getvalue().endswith("\rDownloading f.gz:  50% (1.0 MB of 2.0 MB)\n")
    assert "\n" not in stream.getvalue()[:-1]  # one line, redrawn in place


def test_tqdm_is_used_when_installed(server, tmp_path, monkeypatch):
    arrays = _publish(server, monkeypatch, mnist, "m")
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/m/")
    bars = []

    class FakeTqdm:
        def __init__(self, total=None, desc=None, **kwargs):
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def update(self, n):
            self.n += n

        def close(self):
            self.closed = True

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    assert_loaded(mnist.load_data(), arrays)
    assert [b.desc for b in bars] == [n + ".gz" for n in NAMES.values()]
    assert all(b.closed and b.n == b.total == len(server.files["/m/" + b.desc]) for b in bars)


@pytest.mark.parametrize("checksum", ["sha256:abc", "sha1:" + "0" * 40, "md5:" + "g" * 32, "0" * 64])
def test_bad_checksum_strings(checksum):
    message = (
        f"A checksum must be 'sha256:' followed by 64 hex digits or 'md5:' followed by 32. "
        f"Received: checksum={checksum!r}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _download.parse_checksum(checksum)


def test_published_checksum_tables_are_well_formed():
    for module in (mnist, fashion_mnist):
        assert sorted(module.CHECKSUMS) == sorted(n + ".gz" for n in NAMES.values())
        for checksum in module.CHECKSUMS.values():
            assert _download.parse_checksum(checksum)[0] == "sha256"
        assert all(url.startswith(("https://", "http://")) and url.endswith("/") for url in module.MIRRORS)
