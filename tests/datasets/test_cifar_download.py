"""CIFAR downloads, against an HTTP server on 127.0.0.1 (an ephemeral port) serving generated archives.

The checksum tables are monkeypatched with the generated archives' sums; no other host is contacted.
"""
import os

import pytest

from convolve.datasets import DatasetNotFoundError, _download, cifar10, cifar100

from .cifar_support import Fake
from .support import closed_port_url, md5, sha256
from .test_cifar import assert_same

MODULES = [(cifar10, "cifar-10"), (cifar100, "cifar-100")]
PUBLISHED_MIRRORS = {module: list(module.MIRRORS) for module, _ in MODULES}  # before any test patches them
IDS = ["cifar10", "cifar100"]


@pytest.fixture(autouse=True)
def small(monkeypatch):
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 3)
    monkeypatch.setattr(cifar100, "TRAIN_IMAGES", 7)
    monkeypatch.setattr(cifar100, "TEST_IMAGES", 4)
    for module in (cifar10, cifar100):
        monkeypatch.setattr(module, "MIRRORS", [closed_port_url()])


def _publish(server, monkeypatch, module, folder, seed=0, checksum=sha256):
    """Serve a generated binary archive under ``/<folder>/`` and put its checksum in the module's table."""
    fake = Fake(module, seed=seed)
    body = fake.archive_bytes(binary=True)
    server.files[f"/{folder}/{module.ARCHIVE}"] = body
    monkeypatch.setattr(module, "CHECKSUMS", {module.ARCHIVE: checksum(body)})
    return fake


def _cache(tmp_path, name):
    return tmp_path / "home" / ".convolve" / "datasets" / name


@pytest.mark.parametrize("module, name", MODULES, ids=IDS)
@pytest.mark.parametrize("checksum", [sha256, md5], ids=["sha256", "md5"])
def test_download_once_then_read_from_the_archive(server, tmp_path, monkeypatch, module, name, checksum):
    fake = _publish(server, monkeypatch, module, "files", checksum=checksum)
    monkeypatch.delenv("CONVOLVE_DATASETS_MIRROR")
    monkeypatch.setattr(module, "MIRRORS", [closed_port_url(), server.url + "/files"])  # one slash added
    assert_same(module.load_data(), fake.expected())
    assert os.listdir(_cache(tmp_path, name)) == [module.ARCHIVE]  # kept as downloaded, not extracted
    assert server.requests == [f"/files/{module.ARCHIVE}"]
    assert_same(module.load_data(), fake.expected())  # the second time from the cache
    assert len(server.requests) == 1
    if module is cifar100:
        assert_same(module.load_data("coarse"), fake.expected("coarse"))


def test_environment_variable_overrides_the_mirrors(server, monkeypatch):
    fakes = {module: _publish(server, monkeypatch, module, name, seed=i)
             for i, (module, name) in enumerate(MODULES)}
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/{name}/")
    for module, fake in fakes.items():
        assert_same(module.load_data(), fake.expected())
    assert sorted(server.requests) == [
        "/cifar-10/cifar-10-binary.tar.gz", "/cifar-100/cifar-100-binary.tar.gz"
    ]


def test_checksum_mismatch_keeps_nothing(server, tmp_path, monkeypatch):
    _publish(server, monkeypatch, cifar10, "files")
    monkeypatch.setattr(cifar10, "CHECKSUMS", {cifar10.ARCHIVE: "sha256:" + "0" * 64})
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", server.url + "/files/")
    with pytest.raises(DatasetNotFoundError, match=r"CIFAR-10 is not on this machine and the download failed"
                                                   r"(.|\n)*SHA256 mismatch: expected 0{64}, got ") as info:
        cifar10.load_data()
    assert not info.value.__cause__.offline
    assert os.listdir(_cache(tmp_path, "cifar-10")) == []


def test_offline_message_lists_every_place(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        cifar100.load_data()
    message = str(info.value)
    assert message.startswith("CIFAR-100 is not on this machine and this machine seems to be offline.\n")
    assert "could not connect" in message
    cache = _cache(tmp_path, "cifar-100")
    keras = tmp_path / "home" / ".keras" / "datasets"
    assert f"\n  1. {keras}  [Keras' download folder: no such folder]\n" in message
    work = tmp_path / "work"
    assert f"\n  3. {work}  [torchvision's root={str(work)!r}: no CIFAR-100 files]\n" in message
    assert f"\n  4. {cache}  [convolve's download folder: no such folder]\n" in message
    assert f"To use CIFAR-100 offline, put one of those into {cache}" in message
    assert "set CONVOLVE_DATASETS_MIRROR to its base URL" in message


def test_published_tables():
    for module, size in ((cifar10, 64), (cifar100, 64)):
        assert list(module.CHECKSUMS) == [module.ARCHIVE]
        assert "binary" in module.ARCHIVE
        algorithm, digest = _download.parse_checksum(module.CHECKSUMS[module.ARCHIVE])
        assert algorithm == "sha256" and len(digest) == size
        assert PUBLISHED_MIRRORS[module] == ["https://www.cs.toronto.edu/~kriz/"]
