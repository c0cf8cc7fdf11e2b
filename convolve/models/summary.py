"""The text of ``model.summary()``, shared by Sequential and Model."""
from __future__ import annotations

import sys

import numpy as np


def axes_text(values) -> str:
    """(3, 3) -> '3x3'; None -> '-'."""
    if values is None:
        return "-"
    return "x".join(f"{v:g}" for v in values)


def print_summary(model, table, print_fn=None, line_length=None) -> None:
    """Print ``table`` (a header row, then one row of strings per layer) with the parameter totals."""
    print_fn = print_fn or (lambda s: print(s, file=sys.stdout))
    widths = [max(len(row[i]) for row in table) + 2 for i in range(len(table[0]))]
    total_width = line_length or sum(widths)
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * total_width)
    print_fn("".join(cell.ljust(w) for cell, w in zip(table[0], widths)).rstrip())
    print_fn("=" * total_width)
    for row in table[1:]:
        print_fn("".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print_fn("=" * total_width)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()
    nbytes = sum(w.value.nbytes for w in model.weights)
    per = nbytes / total if total else 4

    def size(count):
        b = count * per
        for unit in ("B", "KB", "MB", "GB"):
            if b < 1024 or unit == "GB":
                return f"{b:.2f} {unit}"
            b /= 1024

    print_fn(f"Total params: {total:,} ({size(total)})")
    print_fn(f"Trainable params: {trainable:,} ({size(trainable)})")
    print_fn(f"Non-trainable params: {total - trainable:,} ({size(total - trainable)})")
