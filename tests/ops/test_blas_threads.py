"""ops.blas.run_parallel / workers and ops.conv.im2col.split: the worker threads behind the
blocked convolution give the same numbers as one thread, and leave BLAS as they found it."""
import importlib
import threading

import numpy as np
import pytest

from convolve.ops import blas
from convolve.ops.conv import applicable_backward_formulations, conv, conv_backward
from convolve.ops.conv.im2col import Block
from tests.helpers import assert_close

im2col = importlib.import_module("convolve.ops.conv.im2col")


def blas_thread_counts():
    return [c.num_threads for c in blas._blas_controllers()]


def test_run_parallel_keeps_order_and_uses_threads():
    seen = []

    def task(i):
        seen.append(threading.get_ident())
        return i * i

    assert blas.run_parallel([lambda i=i: task(i) for i in range(4)]) == [0, 1, 4, 9]
    assert threading.get_ident() in seen  # the first task runs in the calling thread
    assert blas.run_parallel([]) == []
    assert blas.run_parallel([lambda: 7]) == [7]


def test_blas_is_single_threaded_inside_and_restored_after():
    pytest.importorskip("threadpoolctl")
    before = blas_thread_counts()
    if not before:
        pytest.skip("threadpoolctl finds no BLAS library")
    inside = blas.run_parallel([blas_thread_counts, blas_thread_counts])
    assert inside == [[1] * len(before)] * 2
    assert blas_thread_counts() == before


def test_blas_counts_are_restored_when_a_task_raises():
    before = blas_thread_counts()

    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        blas.run_parallel([lambda: 1, boom])
    assert blas_thread_counts() == before
    assert blas._active == 0


def test_without_threadpoolctl_everything_runs_in_one_thread(monkeypatch):
    monkeypatch.setattr(blas, "_controllers", [])
    assert blas.workers() == 1


def bands(batch, per_sample):
    return [Block(n, 1, h, 1) for n in range(batch) for h in range(per_sample)]


@pytest.mark.parametrize(
    "plan", [bands(3, 4), bands(1, 5), [Block(0, 2, 0, 5), Block(2, 2, 0, 5), Block(4, 1, 0, 5)]]
)
@pytest.mark.parametrize("parts", [1, 2, 3, 5])
@pytest.mark.parametrize("disjoint", [False, True])
def test_split_covers_every_block_once(plan, parts, disjoint):
    shares = im2col.split(plan, parts, disjoint)
    assert 1 <= len(shares) <= parts and all(shares)
    assert sorted(b for share in shares for b in share) == sorted(plan)
    if disjoint:  # no sample in two shares
        owners = {}
        for k, share in enumerate(shares):
            for b in share:
                for n in range(b.n0, b.n0 + b.nc):
                    assert owners.setdefault(n, k) == k
    else:  # interleaved: the shares' sizes differ by at most one block
        sizes = [len(share) for share in shares]
        assert max(sizes) - min(sizes) <= 1


def test_split_disjoint_balances_whole_samples():
    shares = im2col.split(bands(4, 3), 2, disjoint=True)
    assert [[b.n0 for b in share] for share in shares] == [[0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3]]


@pytest.mark.parametrize("strides, padding", [(1, "same"), (2, "same"), ((2, 1), "valid")])
@pytest.mark.parametrize("channels", [1, 3, 16])
def test_threaded_blocks_equal_one_thread(monkeypatch, strides, padding, channels):
    """Forward, every backward formulation and the pointwise product: the same numbers with
    four workers and with one, on blocks small enough that each worker gets several."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 11, 9, channels)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, channels, 5)).astype(np.float32)
    kernel1 = rng.standard_normal((1, 1, channels, 5)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    monkeypatch.setattr(im2col, "BLOCK_ELEMENTS", 2 * 9 * 9 * channels)  # two output rows a block
    kw = dict(strides=strides, padding=padding)
    gy = rng.standard_normal(conv(x, kernel, **kw).shape).astype(np.float32)

    def everything():
        out = [conv(x, kernel, bias, formulation="im2col", **kw),
               conv(x, kernel1, bias, formulation="pointwise", **kw)]
        for formulation in applicable_backward_formulations(
            channels, (3, 3), (strides,) * 2 if isinstance(strides, int) else strides, 1
        ):
            out += conv_backward(gy, x, kernel, formulation=formulation, **kw)
        return out

    monkeypatch.setattr(blas, "workers", lambda: 1)
    one = everything()
    calls = []
    original = blas.run_parallel
    monkeypatch.setattr(blas, "run_parallel", lambda tasks: calls.append(len(tasks)) or original(tasks))
    monkeypatch.setattr(blas, "workers", lambda: 4)
    many = everything()
    assert max(calls) > 1  # the work really was shared
    for a, b in zip(many, one):
        assert_close(a, b, np.float32)
