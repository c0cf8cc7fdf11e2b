"""im2col.py: the blocked column builders (blocks, both column layouts, col2im), the grouped
formulation's batch chunks, and the per-thread workspaces, each against the loop reference
or the unblocked results."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convolve.ops import conv
from convolve.ops.conv import ConvGeometry, conv_backward
from tests.helpers import assert_close, using_kernels
from tests.ops.conv_reference import conv_configs, read_only, reference_conv, to_channels_first

im2col = importlib.import_module("convolve.ops.conv.im2col")


@given(cfg=conv_configs())
def test_both_column_layouts_match_reference(cfg):
    """im2col's columns are tap-major for few channels and row-major otherwise
    (TAP_MAJOR_CHANNELS); the drawn cases have few channels, so run each with the limit at 0
    (all row-major) and at 1000 (all tap-major)."""
    x, kernel, bias = cfg.arrays()
    expected = reference_conv(
        x, kernel, bias, cfg.strides, cfg.padding, cfg.dilation_rate, cfg.groups, cfg.padding_mode
    )
    if cfg.data_format == "channels_first":
        x = to_channels_first(x)
    y = conv(x, kernel, bias, **cfg.kwargs())
    gy = np.random.default_rng(cfg.seed % 1000).standard_normal(y.shape)
    for limit in (0, 1000):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(im2col, "TAP_MAJOR_CHANNELS", limit)
            y = conv(x, kernel, bias, formulation="im2col", **cfg.kwargs())
            grads = conv_backward(gy, x, kernel, formulation="im2col", **cfg.kwargs())
        if cfg.data_format == "channels_first":
            y = np.moveaxis(y, 1, -1)
        assert_close(y, expected)
        if limit == 0:
            first = grads
        else:
            for a, b in zip(grads, first):
                assert_close(a, b)


# --- batch chunking --------------------------------------------------------------------


def spy_on_chunks(monkeypatch):
    """Record (per-sample workspace, samples per chunk) each time the grouped formulation sizes
    its chunks, without changing the decision."""
    calls = []
    original = im2col.batch_chunk

    def recording(per_sample):
        calls.append((per_sample, original(per_sample)))
        return calls[-1][1]

    monkeypatch.setattr(im2col, "batch_chunk", recording)
    return calls


@pytest.mark.parametrize(
    "batch, sizes, channels, filters, kernel_size, strides, dilation, groups, padding",
    [
        (5, (7, 6), 4, 6, (3, 2), (2, 1), 1, 2, "same"),
        (5, (7, 6), 6, 6, (3, 3), 1, (1, 2), 3, "valid"),
        (7, (9,), 4, 6, (3,), 1, 2, 2, "causal"),  # 1-D
        (3, (4, 3, 5), 4, 2, (2, 2, 2), (1, 2, 1), 1, 2, 1),  # 3-D
    ],
)
@pytest.mark.parametrize("samples_per_chunk", [1, 2])
def test_grouped_batch_chunks_match_reference(
    monkeypatch, batch, sizes, channels, filters, kernel_size, strides, dilation, groups, padding,
    samples_per_chunk,
):
    """Several groups take as many samples at a time as fit WORKSPACE_ELEMENTS: the forward
    pass and the gradients in chunks (a ragged last one) equal the reference and one chunk."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, *sizes, channels))
    kernel = rng.standard_normal((*kernel_size, channels // groups, filters))
    bias = rng.standard_normal(filters)
    expected = reference_conv(x, kernel, bias, strides, padding, dilation, groups, "zeros")
    gy = rng.standard_normal(expected.shape)
    kw = dict(strides=strides, padding=padding, dilation_rate=dilation, groups=groups, formulation="im2col")
    grads = conv_backward(gy, x, kernel, **kw)
    # the per-sample workspace the grouped formulation asks for; one chunk under the default limit
    calls = spy_on_chunks(monkeypatch)
    conv(x, kernel, bias, **kw)
    [(per_sample, default_chunk)] = calls
    assert default_chunk >= batch
    # a limit that fits `samples_per_chunk` samples and a half: several chunks, the last one ragged
    monkeypatch.setattr(im2col, "WORKSPACE_ELEMENTS", samples_per_chunk * per_sample + per_sample // 2)
    calls.clear()
    y = conv(x, kernel, bias, **kw)
    assert calls == [(per_sample, samples_per_chunk)]
    assert batch > samples_per_chunk and (samples_per_chunk == 1 or batch % samples_per_chunk)
    assert_close(y, expected)
    chunked = conv_backward(gy, x, kernel, **kw)
    assert calls == [(per_sample, samples_per_chunk)] * 2
    for a, b in zip(chunked, grads):
        assert_close(a, b)


@pytest.mark.parametrize(
    "batch, sizes, channels, filters, kernel_size, strides, dilation, padding",
    [
        (5, (7, 6), 3, 4, (3, 3), 1, 1, "same"),  # the last axis' taps fused into runs
        (5, (7, 6), 3, 4, (3, 3), (2, 1), (1, 2), "valid"),  # dilated last axis: one view per tap
        (7, (9,), 2, 3, (3,), 1, 2, "causal"),  # 1-D, dilated
        (4, (9,), 2, 3, (4,), 2, 1, "same"),  # 1-D, fused
        (3, (4, 3, 5), 2, 2, (2, 2, 2), (1, 2, 1), 1, 1),  # 3-D
    ],
)
@pytest.mark.parametrize("positions_per_block", [1, 2, 5, 37])
@pytest.mark.parametrize("tap_major_channels", [0, 1000])
def test_im2col_blocks_match_reference(
    monkeypatch, batch, sizes, channels, filters, kernel_size, strides, dilation, padding,
    positions_per_block, tap_major_channels,
):
    """Blocks of whole samples, of bands of one sample's first axis, ragged last blocks, in
    both column layouts: the forward and all three gradients equal the unblocked results."""
    monkeypatch.setattr(im2col, "TAP_MAJOR_CHANNELS", tap_major_channels)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, *sizes, channels))
    kernel = rng.standard_normal((*kernel_size, channels, filters))
    bias = rng.standard_normal(filters)
    expected = reference_conv(x, kernel, bias, strides, padding, dilation, 1, "zeros")
    gy = rng.standard_normal(expected.shape)
    grads = conv_backward(gy, x, kernel, strides, padding, dilation, formulation="im2col")
    width = int(np.prod(kernel_size)) * channels
    monkeypatch.setattr(im2col, "BLOCK_ELEMENTS", positions_per_block * width)
    plans = []
    original = im2col.blocks
    monkeypatch.setattr(im2col, "blocks", lambda *a, **k: plans.append(original(*a, **k)) or plans[-1])
    assert_close(conv(x, kernel, bias, strides, padding, dilation, formulation="im2col"), expected)
    blocked = conv_backward(gy, x, kernel, strides, padding, dilation, formulation="im2col")
    for a, b in zip(blocked, grads):
        assert_close(a, b)
    # every output position in exactly one block, each block within the limit (or one row)
    out_sizes = expected.shape[1:-1]
    for plan in plans:
        covered = np.zeros((batch, out_sizes[0]), int)
        for blk in plan:
            covered[blk.n0 : blk.n0 + blk.nc, blk.h0 : blk.h0 + blk.hc] += 1
            rows = blk.nc * blk.hc * int(np.prod(out_sizes[1:]))
            assert rows <= max(positions_per_block, int(np.prod(out_sizes[1:])))
        assert (covered == 1).all()
    if positions_per_block < batch * int(np.prod(out_sizes)):
        assert len(plans[0]) > 1


def test_workspace_smaller_than_one_sample_still_works(monkeypatch):
    monkeypatch.setattr(im2col, "WORKSPACE_ELEMENTS", 1)
    rng = np.random.default_rng(4)
    x, kernel = rng.standard_normal((3, 5, 5, 4)), rng.standard_normal((3, 3, 2, 2))
    expected = reference_conv(x, kernel, None, 1, "same", 1, 2, "zeros")
    assert_close(conv(x, kernel, padding="same", groups=2, formulation="im2col"), expected)


def test_workspace_is_reused_per_name_and_bounded(monkeypatch):
    a = im2col.workspace("test-a", 1000, np.float32)
    assert a.shape == (1000,) and a.dtype == np.float32
    assert np.shares_memory(im2col.workspace("test-a", 500, np.float32), a)  # big enough: reused
    assert not np.shares_memory(im2col.workspace("test-b", 1000, np.float32), a)  # another name
    assert not np.shares_memory(im2col.workspace("test-a", 1000, np.float64), a)  # another dtype
    monkeypatch.setattr(im2col, "WORKSPACE_BYTES", 0)
    big = im2col.workspace("test-c", 10, np.float32)  # over the bound: fresh each time
    assert not np.shares_memory(im2col.workspace("test-c", 10, np.float32), big)


@pytest.mark.parametrize("channels", [1, 8, 32])
def test_reused_workspaces_never_alias_results(channels):
    """Outputs and gradients stay fresh arrays: a second call (same or other shapes, which reuse the
    scratch buffers) leaves the first call's results unchanged, and writing into them harms nothing."""
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((4, 12, 11, channels)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, channels, 16)).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    g = rng.standard_normal((4, 10, 9, 16)).astype(np.float32)
    y = conv(x, kernel, bias)
    grads = conv_backward(g, x, kernel)
    kept = [y.copy(), *(a.copy() for a in grads)]
    y2 = conv(x * 2, kernel, bias)
    grads2 = conv_backward(g * 3, x * 2, kernel)
    for before, after in zip(kept, [y, *grads]):
        np.testing.assert_array_equal(before, after)
    for first, second in zip([y, *grads], [y2, *grads2]):
        assert not np.shares_memory(first, second)
    np.maximum(y, 0, out=y)  # a layer's in-place relu on the output
    for a in grads:
        a[...] = 0
    np.testing.assert_allclose(conv(x, kernel, bias), kept[0], rtol=1e-5, atol=1e-5)
    for before, after in zip(kept[1:], conv_backward(g, x, kernel)):
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_fill_columns_from_batch_views_matches_per_block_views(fused):
    rng = np.random.default_rng(3)
    x_padded = rng.standard_normal((3, 11, 10, 5)).astype(np.float32)
    geometry = ConvGeometry(
        kernel_size=(3, 2), strides=(2, 1), dilations=(1, 1), pads=((0, 0), (0, 0)), in_sizes=(11, 10),
        out_sizes=(5, 9),
    )
    views = im2col.batch_views(x_padded, geometry, fused)
    plan = im2col.blocks(3, geometry.out_sizes, 30, limit=30 * 20)  # bands of one sample
    plan += im2col.blocks(3, geometry.out_sizes, 30, limit=30 * 100)  # several samples per block
    for block in plan:
        a = im2col.fill_columns(np.empty(6000, np.float32), x_padded, block, geometry, fused, ones=True)
        b = im2col.fill_columns(
            np.empty(6000, np.float32), x_padded, block, geometry, fused, ones=True, views=views
        )
        np.testing.assert_array_equal(a, b)


@given(
    channels=st.integers(4, 7), kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    strides=st.tuples(st.integers(1, 3), st.integers(1, 3)), row_dilation=st.integers(1, 2),
    ones=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
    limit=st.sampled_from([50, 400, 4000]),
)
def test_compiled_column_fill_equals_the_strided_copies(
    channels, kernel, strides, row_dilation, ones, dtype, limit
):
    """2-D, more than TAP_MAJOR_CHANNELS channels, runs fused along the last axis: the compiled fill
    (ops/kernels/columns.py) writes the same columns as NumPy's strided views, for bands of one
    sample and blocks of several, with and without the column of ones; the input is never written."""
    x_padded = read_only(np.random.default_rng(4).standard_normal((3, 9, 8, channels)).astype(dtype))
    out_sizes = tuple(
        (p - (k - 1) * d - 1) // s + 1 for p, k, s, d in zip((9, 8), kernel, strides, (row_dilation, 1))
    )
    geometry = ConvGeometry(
        kernel_size=kernel, strides=strides, dilations=(row_dilation, 1), pads=((0, 0), (0, 0)),
        in_sizes=(9, 8), out_sizes=out_sizes,
    )
    width = geometry.taps * channels
    size = 3 * 9 * 8 * (width + 1)
    for block in im2col.blocks(3, out_sizes, width, limit=limit * width):
        fill = lambda: im2col.fill_columns(  # noqa: E731
            np.full(size, np.nan, dtype), x_padded, block, geometry, True, ones  # noqa: B023
        )
        with using_kernels("numpy"):
            expected = fill()
        with using_kernels("numba"):
            got = fill()
        np.testing.assert_array_equal(got, expected)
