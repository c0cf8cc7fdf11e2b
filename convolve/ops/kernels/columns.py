"""im2col's column fill for 2-D convolutions with more than a few channels, in one compiled loop.

Layout: ``x`` is the padded input (N, PH, PW * C), C-contiguous, each row of pixels one run of
numbers; ``mat`` is a block's columns (rows, width), C-contiguous, width >= KH * KW * C (one more
with ``ones``). Output position (n, oh, ow) of the block is row r of ``mat``, in row-major order,
and its columns are the KH runs of KW * C numbers (the last axis' taps read side by side, no
dilation on that axis), the run of kernel row t starting at x[n, oh * sh + t * dh, ow * sw * C],
as ``ops/conv/im2col.fill_columns`` copies them through strided views; with ``ones`` the last
column is 1 (the bias' row of the weights).

Per run the slices are taken first and looped from 0 (see elementwise.py): the loop then
vectorizes, and ran 1.4 to 1.6x faster than NumPy's strided copy on 128x26x26x32 and 8x114x114x32
blocks (3x3); indexing x from the run's offset ran 3x slower than NumPy.
"""
from __future__ import annotations

from ._compile import kernel


@kernel
def fill_columns_2d(x, kernel_rows, run, strides, row_dilation, block, out_width, ones, mat):
    """``mat``'s rows for the block (n0, nc, h0, hc) of output positions; ``strides`` (sh, sw * C)
    in rows and numbers; ``run`` = KW * C."""
    n0, nc, h0, hc = block
    one = mat.dtype.type(1)
    taps_width = kernel_rows * run
    r = 0
    for n in range(n0, n0 + nc):
        for oh in range(h0, h0 + hc):
            for ow in range(out_width):
                row = mat[r]
                base = ow * strides[1]
                for t in range(kernel_rows):
                    source = x[n, oh * strides[0] + t * row_dilation, base : base + run]
                    target = row[t * run : (t + 1) * run]
                    for i in range(run):
                        target[i] = source[i]
                if ones:
                    row[taps_width] = one
                r += 1
