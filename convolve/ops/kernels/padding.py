"""Zero padding in one compiled pass: every cell of the padded array written once (the border's
zeros and the input's rows), where NumPy's ``pad`` (or a zeroed border and a strided copy) makes
several passes in one thread.

Layout: both arrays 4-D and C-contiguous, (B, D, H, R): a 1-, 2- or 3-D channels_last array
(N, *S, C) viewed with its missing leading spatial axes as 1 and each row's last spatial axis
and channels flattened into R = W * C numbers (so a row's copy is one contiguous run).
"""
from __future__ import annotations

from ._compile import kernel


@kernel
def zero_pad(x, before, out, start, stop):
    """out[b] for the samples b in [start, stop): ``x`` (B, XD, XH, XR) placed at ``before`` (depth,
    height, row offset in numbers: w_before * C), zeros everywhere else."""
    x, out = x[start:stop], out[start:stop]  # loops from 0 (see elementwise.py)
    zero = out.dtype.type(0)
    samples, depth, height, row = out.shape
    _, x_depth, x_height, x_row = x.shape
    left, right = before[2], before[2] + x_row
    for b in range(samples):
        for d in range(depth):
            sd = d - before[0]
            for h in range(height):
                sh = h - before[1]
                target = out[b, d, h]
                if sd < 0 or sd >= x_depth or sh < 0 or sh >= x_height:
                    for i in range(row):
                        target[i] = zero
                    continue
                source, middle, tail = x[b, sd, sh], target[left:right], target[right:]
                for i in range(left):
                    target[i] = zero
                for i in range(x_row):  # slices looped from 0: the copy vectorizes
                    middle[i] = source[i]
                for i in range(tail.shape[0]):
                    tail[i] = zero
