"""ops/kernels/_compile.py: where the compiled kernels are cached.

Checked by hand on a read-only bind mount of the package (root cannot be kept from writing
otherwise): with a writable HOME the cache went to ~/.cache/numba, with HOME read-only too to
the temporary directory's convolve-numba-cache-<uid>. Here the choice itself is tested.
"""
from __future__ import annotations

import numba

from convolve.ops.kernels import _compile


def test_the_cache_beside_the_package_or_numbas_own_is_used_when_it_works(monkeypatch):
    before = numba.config.CACHE_DIR
    monkeypatch.setattr(_compile, "_cache_works", lambda: True)
    assert _compile._choose_cache() is True
    assert numba.config.CACHE_DIR == before  # untouched


def test_a_temporary_folder_when_nothing_else_can_be_written(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(_compile.tempfile, "gettempdir", lambda: str(tmp_path))
    answers = iter([False, True])
    monkeypatch.setattr(_compile, "_cache_works", lambda: next(answers))
    assert _compile._choose_cache() is True
    assert numba.config.CACHE_DIR.startswith(str(tmp_path / "convolve-numba-cache-"))


def test_uncached_when_not_even_that_works(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(_compile.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(_compile, "_cache_works", lambda: False)
    assert _compile._choose_cache() is False


def test_the_probe_finds_a_cache_here():
    assert _compile._cache_works() and _compile.CACHE
