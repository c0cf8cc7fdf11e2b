"""Every dataset test runs in an empty world: HOME, the working directory and the
variables convolve reads point at fresh temporary folders, Debian's folder at a missing
one, and downloads at a closed local port, so no test can read a real copy by accident
or reach any host but 127.0.0.1."""
import os

import pytest

from convolve.datasets import fashion_mnist, mnist

from .support import LocalServer, closed_port_url


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.delenv("CONVOLVE_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    closed = closed_port_url()
    monkeypatch.setenv("CONVOLVE_DATASETS_MIRROR", closed)
    monkeypatch.setattr(mnist, "MIRRORS", [closed])
    monkeypatch.setattr(fashion_mnist, "MIRRORS", [closed])
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", str(tmp_path / "no-debian"))
    assert os.path.expanduser("~") == str(home)
    return tmp_path


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()
